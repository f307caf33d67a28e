//! The log file: `tracing` through a non-blocking appender under the XDG state dir, level from
//! `OPSCONSOLE_LOG`. Never the terminal the UI draws on, and never a password inside a URL. The
//! file rotates by size ([`MAX_BYTES`]): `opsconsole.log` → `opsconsole.log.1` → … → `.KEEP`, the
//! oldest dropped, so a console left running for weeks never fills the disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;

/// Size at which the log file is rotated.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Rotated files kept besides the current one.
pub const KEEP: usize = 3;

/// Starts logging to [`crate::paths::log_file`]; keep the guard until exit (it flushes on drop).
/// `None` when the file cannot be opened: the console then runs without a log.
pub fn init() -> Option<WorkerGuard> {
    let path = crate::paths::log_file();
    std::fs::create_dir_all(path.parent()?).ok()?;
    let appender = Rotating::open(path, MAX_BYTES, KEEP).ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSCONSOLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        // Defence in depth: no URL credentials in the file, whoever formatted the line.
        .with_writer(move || crate::redact::Writer(writer.clone()))
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    Some(guard)
}

/// A file that is renamed to `NAME.1` (and the older ones moved up, the oldest dropped) once it
/// holds `max_bytes`; checked before each write, so one record is never split across files.
///
/// A full disk costs records, never the console: each record lands whole or not at all
/// ([`crate::file_append::append_whole`]), the ones refused are counted, and the first record that
/// fits again is preceded by a line saying how many were lost and why.
pub struct Rotating {
    path: PathBuf,
    file: File,
    written: u64,
    max_bytes: u64,
    keep: usize,
    /// Records not written since the last one that was, and the last error.
    lost: u64,
    lost_why: String,
}

impl Rotating {
    pub fn open(path: PathBuf, max_bytes: u64, keep: usize) -> io::Result<Rotating> {
        let file = append(&path)?;
        let written = file.metadata()?.len();
        Ok(Rotating {
            path,
            file,
            written,
            max_bytes,
            keep,
            lost: 0,
            lost_why: String::new(),
        })
    }

    /// Records refused so far and not yet reported in the file.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    fn write_record(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        if self.lost > 0 {
            let note = format!(
                "{} WARN opsconsole::logging: {} log records lost: {}\n",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ"),
                self.lost,
                self.lost_why
            );
            crate::file_append::append_whole(&mut self.file, note.as_bytes())?;
            self.written += note.len() as u64;
            self.lost = 0;
        }
        crate::file_append::append_whole(&mut self.file, buf)?;
        self.written += buf.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let numbered = |n: usize| -> PathBuf {
            let mut name = self.path.as_os_str().to_owned();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        let _ = std::fs::remove_file(numbered(self.keep));
        for n in (1..self.keep).rev() {
            let _ = std::fs::rename(numbered(n), numbered(n + 1));
        }
        if self.keep > 0 {
            std::fs::rename(&self.path, numbered(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.file = append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Write for Rotating {
    /// One call is one record (the non-blocking worker hands each formatted event over whole).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.write_record(buf) {
            Ok(()) => Ok(buf.len()),
            Err(e) => {
                self.lost += 1;
                self.lost_why = e.to_string();
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_a_few_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("opsconsole.log");
        let mut log = Rotating::open(path.clone(), 100, 2).unwrap();
        for i in 0..10 {
            log.write_all(format!("{i:0>39}\n").as_bytes()).unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["opsconsole.log", "opsconsole.log.1", "opsconsole.log.2"]
        );
        for name in &names {
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert!(len <= 100, "{name}: {len}");
        }
        // The newest lines are in the current file, the previous ones in .1.
        let current = std::fs::read_to_string(&path).unwrap();
        assert!(current.ends_with(&format!("{:0>39}\n", 9)), "{current}");
        let previous = std::fs::read_to_string(dir.path().join("opsconsole.log.1")).unwrap();
        assert!(previous.contains(&format!("{:0>39}\n", 7)), "{previous}");
        // Reopened, it counts what the file already holds.
        drop(log);
        let log = Rotating::open(path, 100, 2).unwrap();
        assert!(log.written > 0);
    }
}

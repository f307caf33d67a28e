//! A server process a test starts: in its own process group, output in a log file, killed with
//! its whole group on `kill` or drop.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log: {e})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A child process in its own process group, stdout+stderr in a log file; the whole group is
/// SIGKILLed on `kill`/Drop (gunicorn workers included).
pub struct Daemon {
    name: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    pub fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Daemon {
        let out = std::fs::File::create(&log).expect("creating log file");
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({cmd:?}): {e}"));
        Daemon {
            name: name.into(),
            child: Some(child),
            log,
        }
    }

    /// Panics with the log tail if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!(
                    "{} exited during start-up ({status}); last log lines of {}:\n{}",
                    self.name,
                    self.log.display(),
                    tail(&self.log, 40)
                );
            }
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // The group id is the child's pid (process_group(0)); only what we started is in it.
            let _ = Command::new(super::require_binary("kill"))
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .stderr(Stdio::null())
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

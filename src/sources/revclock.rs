//! The revision clock's file: one per etcd cluster (named by its cluster id) in the state dir, one
//! `unix_ms revision` line per pair, appended as pairs are recorded, so times map to revisions
//! across runs. Best effort: a clock that cannot be written still works for this run (and says
//! so in the log file), since it only ever feeds the time cursor.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use tracing::warn;

use crate::model::revclock::{Observed, Pair, RevisionClock};

#[derive(Debug)]
pub struct ClockFile {
    /// `None`: kept in memory only (no state dir given).
    path: Option<PathBuf>,
    pub cluster_id: u64,
    pub clock: RevisionClock,
}

/// Where cluster `cluster_id`'s clock is kept under `dir`.
pub fn path_for(dir: &Path, cluster_id: u64) -> PathBuf {
    dir.join(format!("{cluster_id:016x}.revclock"))
}

impl ClockFile {
    /// The clock of cluster `cluster_id`, read from `dir` (a missing or unreadable file is an
    /// empty clock; lines that do not parse — a torn last line — are skipped).
    pub fn open(dir: Option<&Path>, cluster_id: u64, now: DateTime<Utc>) -> ClockFile {
        let path = dir.map(|d| path_for(d, cluster_id));
        let text = path
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        let pairs: Vec<Pair> = text.lines().filter_map(Pair::parse).collect();
        let read = pairs.len();
        let clock = RevisionClock::from_pairs(pairs, now);
        let file = ClockFile {
            path,
            cluster_id,
            clock,
        };
        if file.clock.len() != read {
            // Pruned or cleaned on the way in: the file gets what is kept.
            file.rewrite();
        }
        file
    }

    /// A response header said the store was at `revision` (now): recorded, at most once a second.
    pub fn observe(&mut self, now: DateTime<Utc>, revision: i64) {
        match self.clock.observe(now, revision) {
            Observed::Skipped => {}
            Observed::Added(pair) => {
                if self.clock.prune(now) {
                    self.rewrite();
                } else {
                    self.append(pair);
                }
            }
            Observed::Restarted(_) => {
                // Another history (etcd rebuilt or restored): the old file is kept aside, a new
                // one starts.
                self.set_aside(now);
                self.rewrite();
            }
        }
    }

    /// The cluster behind these ids is another one (the continuity check failed: same ids,
    /// other data): the pairs so far describe its predecessor, so they are set aside.
    pub fn restart(&mut self, now: DateTime<Utc>) {
        if self.clock.is_empty() {
            return;
        }
        self.set_aside(now);
        self.clock = RevisionClock::default();
    }

    fn set_aside(&self, now: DateTime<Utc>) {
        if let Some(path) = &self.path {
            let aside = path.with_extension(format!("revclock.{}", now.timestamp()));
            if let Err(e) = std::fs::rename(path, &aside) {
                warn!(%e, path = %path.display(), "revision clock not set aside");
            }
        }
    }

    fn append(&self, pair: Pair) {
        let Some(path) = &self.path else { return };
        let result = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| crate::file_append::append_whole(&mut f, pair.line().as_bytes()));
        if let Err(e) = result {
            // A missing directory is made once, then the write tried again.
            if let Some(dir) = path.parent().filter(|d| !d.exists()) {
                if std::fs::create_dir_all(dir).is_ok() {
                    return self.append(pair);
                }
            }
            warn!(%e, path = %path.display(), "revision clock not written");
        }
    }

    /// The whole clock written again (a temporary file renamed over the old one).
    fn rewrite(&self) {
        let Some(path) = &self.path else { return };
        let text: String = self.clock.pairs().iter().map(Pair::line).collect();
        let tmp = path.with_extension("revclock.tmp");
        let result = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = result {
            warn!(%e, path = %path.display(), "revision clock not written");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn survives_a_restart_and_starts_a_new_file_when_the_revision_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = ClockFile::open(Some(dir.path()), 0xabc, t(0));
        f.observe(t(0), 10);
        f.observe(t(2), 12);
        f.observe(t(2), 13); // within the second: not recorded
        let again = ClockFile::open(Some(dir.path()), 0xabc, t(5));
        assert_eq!(again.clock, f.clock);
        assert_eq!(again.clock.revision_at(t(3)).unwrap().revision, 12);
        // Another cluster has its own file.
        assert!(ClockFile::open(Some(dir.path()), 0xdef, t(5))
            .clock
            .is_empty());
        // A torn last line is skipped.
        let path = path_for(dir.path(), 0xabc);
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap() + "1800000").unwrap();
        assert_eq!(
            ClockFile::open(Some(dir.path()), 0xabc, t(5)).clock.len(),
            2
        );
        let mut f = ClockFile::open(Some(dir.path()), 0xabc, t(5));
        f.observe(t(10), 3);
        let reread = ClockFile::open(Some(dir.path()), 0xabc, t(11));
        assert_eq!(reread.clock.len(), 1);
        assert_eq!(reread.clock.pairs()[0].revision, 3);
        let aside = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains(".revclock.")
            })
            .count();
        assert_eq!(aside, 1, "the old history is kept aside");
        // Same ids, other data (the continuity check failed): a new history too.
        let mut f = ClockFile::open(Some(dir.path()), 0xabc, t(20));
        f.restart(t(20));
        assert!(f.clock.is_empty());
        f.observe(t(21), 40);
        let reread = ClockFile::open(Some(dir.path()), 0xabc, t(22));
        assert_eq!(reread.clock.pairs().len(), 1);
        assert_eq!(reread.clock.revision_at(t(15)).ok(), None);
    }
}

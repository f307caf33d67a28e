//! The audit log is the gate for every change to a backend. Each action leaves two JSON lines with
//! one id: `"phase":"attempt"`, written and fsync'd before the request may be sent, then
//! `"phase":"outcome"` with the result when the answer arrives. A refusal (read-only) is one
//! `"phase":"refused"` line.
//!
//! The ordering is enforced by types: a mutating [`crate::model::Command`] carries a [`Recorded`],
//! and the only way to get one is [`AuditLog::record`], which returns it after the attempt line is
//! on disk.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::model::{AuditEntry, Command, Gated, Mutation, NotRecorded, Recorded};

/// The run part of [`AuditId`]s for a session starting now, e.g. `20261203T143342.531598Z-4242`.
pub fn run_id() -> String {
    format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
        std::process::id()
    )
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
}

impl AuditLog {
    pub fn new(path: PathBuf) -> AuditLog {
        AuditLog { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the log can be written: its directory created, the file opened for appending.
    pub fn check(&self) -> std::io::Result<()> {
        self.open().map(drop)
    }

    /// Writes an attempt line durably (fsync) and only then hands out the proof a mutating
    /// command needs.
    pub fn record(&self, attempt: &AuditEntry) -> std::io::Result<Recorded> {
        self.append(attempt)?;
        Ok(Recorded::new(attempt.id.clone()))
    }

    /// The only way from a confirmed change to the command a source executes: records the
    /// attempt (durably), then returns the command to send; on a write error, the
    /// attempt back with the error, and nothing may be sent.
    pub fn release(&self, gated: Gated) -> Result<Command, Box<NotRecorded>> {
        let audit = match self.record(&gated.attempt) {
            Ok(proof) => proof,
            Err(error) => {
                return Err(Box::new(NotRecorded {
                    attempt: gated.attempt,
                    error,
                }))
            }
        };
        Ok(match gated.mutation {
            Mutation::Deregister {
                key,
                mod_revision,
                revoke_lease,
            } => Command::Deregister {
                key,
                mod_revision,
                revoke_lease,
                audit,
            },
            Mutation::Silence(request) => Command::Silence { request, audit },
            Mutation::Unsilence { id } => Command::Unsilence { id, audit },
            Mutation::ExtendSilence { silence, until } => Command::ExtendSilence {
                silence,
                until,
                audit,
            },
            Mutation::Restore {
                key,
                value,
                lease,
                ttl,
            } => Command::Restore {
                key,
                value,
                lease,
                ttl,
                audit,
            },
            Mutation::Run(spec) => Command::Run { spec, audit },
        })
    }

    /// Appends one line and waits until it is on disk.
    pub fn append(&self, entry: &AuditEntry) -> std::io::Result<()> {
        let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        line.push('\n');
        let created = !self.path.exists();
        let mut f = self.open()?;
        // One write per line so concurrent consoles never interleave inside a line; on a full
        // disk the part written is cut back, so no torn line is left for the next one to join.
        crate::file_append::append_whole(&mut f, line.as_bytes())?;
        f.sync_data()?;
        if created {
            // A new file's directory entry must reach the disk too, or a crash can lose the file.
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
        }
        Ok(())
    }

    fn open(&self) -> std::io::Result<File> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
    }
}

/// The local user recorded as the actor: config `user`, else $USER/$LOGNAME.
pub fn local_user(configured: Option<&str>) -> String {
    configured
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .or_else(user_from_passwd)
        .unwrap_or_else(|| "unknown".to_string())
}

/// The login name of our uid from /etc/passwd, for sessions without $USER (tmux, cron, sudo -E).
fn user_from_passwd() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        (f.next()? == uid).then(|| name.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AuditId, Phase};

    fn attempt(n: u64) -> AuditEntry {
        let mut e = AuditEntry::new(
            AuditId::new("run", n),
            Phase::Attempt,
            "2026-11-25T04:10:00+00:00".into(),
            "alice",
            "prod",
            "deregister",
            "/services/web/web-1".into(),
        );
        e.key_b64 = Some("L3NlcnZpY2VzL3dlYi93ZWItMQ==".into());
        e.mod_revision = Some(11);
        e
    }

    #[test]
    fn the_proof_comes_only_after_the_line_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("state/audit.log"));
        let proof = log.record(&attempt(1)).expect("writable");
        assert_eq!(proof.id().as_str(), "run-1");
        let text = std::fs::read_to_string(log.path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(v["id"], "run-1");
        assert_eq!(v["phase"], "attempt");
        assert_eq!(v["key_b64"], "L3NlcnZpY2VzL3dlYi93ZWItMQ==");
        assert_eq!(v["mod_revision"], 11);
        assert!(v.get("result").is_none(), "an attempt has no result: {v}");
        assert!(
            v.get("silence_id").is_none(),
            "unset fields are left out: {v}"
        );
    }

    #[test]
    fn an_unwritable_log_gives_no_proof() {
        // Tests may run as root, where permissions do not stop a write: use paths that cannot be
        // files at all.
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "a regular file").unwrap();
        let as_dir = dir.path().join("dir.log");
        std::fs::create_dir(&as_dir).unwrap();
        for path in [blocker.join("audit.log"), as_dir] {
            let log = AuditLog::new(path.clone());
            assert!(log.check().is_err(), "{}", path.display());
            assert!(log.record(&attempt(1)).is_err(), "{}", path.display());
        }
        assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "a regular file");
    }

    #[test]
    fn lines_are_appended_one_per_entry() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("audit.log"));
        log.check().unwrap();
        for n in 1..=3 {
            log.append(&attempt(n)).unwrap();
        }
        let text = std::fs::read_to_string(log.path()).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids, ["\"run-1\"", "\"run-2\"", "\"run-3\""]);
    }
}

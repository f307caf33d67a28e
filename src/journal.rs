//! The incident journal's file: while an incident is open (`:incident start NAME` …
//! `:incident end`) every action, filter and scope change and note is appended, with time and
//! user, to `<state dir>/journal/NAME.jsonl`; `opsconsole journal NAME` (and `:journal`) turns
//! it into the hand-off ([`crate::model::journal`]). Best effort: a journal that cannot be written
//! is said on screen, and the audit log — not this — stays the gate for changes.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::model::journal::{check_name, Entry};

/// Where incident `name`'s journal lives under `dir`.
pub fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.jsonl"))
}

/// Appends `entry` to its journal file (creating the directory).
pub fn append(dir: &Path, name: &str, entry: &Entry) -> Result<(), String> {
    let path = file(dir, name);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
        line.push('\n');
        f.write_all(line.as_bytes())
    };
    write().map_err(|e| {
        format!(
            "the incident journal {} cannot be written: {e}",
            path.display()
        )
    })
}

/// Every readable line of incident `name`'s journal, and how many lines could not be read.
pub fn read(dir: &Path, name: &str) -> Result<(Vec<Entry>, usize), String> {
    check_name(name)?;
    let path = file(dir, name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "no journal for incident {name} ({} does not exist; :incident start {name} opens one)",
                path.display()
            )
        } else {
            format!("cannot read {}: {e}", path.display())
        }
    })?;
    let mut bad = 0;
    let entries = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(e) => Some(e),
            Err(_) => {
                bad += 1;
                None
            }
        })
        .collect();
    Ok((entries, bad))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::journal::Kind;
    use chrono::Utc;

    #[test]
    fn lines_that_cannot_be_read_are_counted_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let e = Entry {
            time: Utc::now(),
            user: "alice".into(),
            cluster: "prod".into(),
            kind: Kind::Note,
            text: "looking at db-1".into(),
            items: vec![],
        };
        append(dir.path(), "x", &e).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(file(dir.path(), "x"))
            .unwrap()
            .write_all(b"{half a line\n")
            .unwrap();
        append(dir.path(), "x", &e).unwrap();
        let (entries, bad) = read(dir.path(), "x").unwrap();
        assert_eq!((entries.len(), bad), (2, 1));
    }

    #[test]
    fn an_unwritable_journal_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("journal");
        std::fs::write(&blocker, "a file, not a directory").unwrap();
        let e = Entry {
            time: Utc::now(),
            user: "alice".into(),
            cluster: "prod".into(),
            kind: Kind::Note,
            text: "x".into(),
            items: vec![],
        };
        let err = append(&blocker, "x", &e).unwrap_err();
        assert!(err.contains("cannot be written"), "{err}");
    }
}

//! Appending whole records to files that a full disk may cut short.
//!
//! On a full file system `write` can take part of a buffer and then fail (tmpfs and ext4 fill the
//! page or block already allocated to the file first). A record cut there would stay in the file
//! and the next record, written once space returns, would be glued onto it: one line that parses
//! as neither. So a record either lands whole or the file is cut back to where it was.

use std::fs::File;
use std::io::{self, Write};

/// Writes all of `bytes` at the end of `file` (opened for appending), or, on an error, cuts the
/// file back to its length before the call and returns the error.
///
/// Another process appending to the same file between the length read and the cut would lose
/// its record; the cut only happens when this write failed, i.e. when the disk is full, where
/// that other write fails too.
pub fn append_whole(file: &mut File, bytes: &[u8]) -> io::Result<()> {
    let before = file.metadata()?.len();
    match file.write_all(bytes) {
        Ok(()) => Ok(()),
        Err(e) => {
            // Best effort: when even the cut fails, the write's error is the one worth reporting.
            let _ = file.set_len(before);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_record_is_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "a\n").unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        append_whole(&mut f, b"b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
    }

    #[test]
    fn a_failed_write_leaves_the_file_as_it_was() {
        // A file opened read-only refuses the write: the length must not change. (The partial
        // write itself needs a full file system: tests/it/disk_full.rs fills a tmpfs.)
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "a\n").unwrap();
        let mut f = File::open(&path).unwrap();
        assert!(append_whole(&mut f, b"b\n").is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n");
    }
}

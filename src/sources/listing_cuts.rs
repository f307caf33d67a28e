//! Where the last listing of a prefix would best be cut into key ranges, kept across runs.
//!
//! etcd 3.4 walks every key of a ranged `get`'s range in its index before it applies the limit, so
//! the first rows of a listing arrive only once the first non-empty key range has been walked. Cut
//! at the name's first character alone, a fleet whose names share it (`api-…`, `auth-…`) is one
//! range of 100,000 keys: ~0.5–1.5 s before the first row (BENCHMARKS.md). The names are not known
//! before the first read, but they are after it: the listing learns keys at graded ranks (1k, 2k,
//! 4k, … 64k, then every 64k) and the next start cuts there too, so its first range holds ~1,000
//! keys whatever the fleet's size.
//!
//! Cuts are hints only: the ranges still cover the whole prefix, so a stale or foreign file can
//! make a listing slower, never wrong. Best effort: a file that cannot be read or written leaves
//! the listing as it would be without it (and says so in the log file).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

/// Rank of the first learned cut: the keys in the first range of the next listing.
const FIRST_CUT: usize = 1 << 10;
/// Ranks double up to here, then step by it.
const STEP: usize = 1 << 16;
/// Keys sampled to place the cuts: ranks are approximate (± a sample stride), which is all a hint
/// needs, and sorting 4,096 keys costs nothing beside the listing.
const SAMPLE: usize = 4_096;
/// Limits on what is read back: a damaged or hostile file costs at most this.
const MAX_CUTS: usize = 1_024;
const MAX_KEY: usize = 4_096;
const MAX_FILE: u64 = 4 << 20;

/// The file of cluster `cluster_id`'s cuts for `prefix` under `dir`.
pub fn path_for(dir: &Path, cluster_id: u64, prefix: &str) -> PathBuf {
    dir.join(format!(
        "{cluster_id:016x}-{:016x}.cuts",
        fnv1a(prefix.as_bytes())
    ))
}

/// Keys to cut the next listing at, learned from this one's `keys` (in any order): approximately
/// those at ranks 1k, 2k, 4k, … 64k, 128k, 192k, … in byte order. Fewer keys than two first ranges
/// need no cuts.
pub fn learn<'a>(keys: impl ExactSizeIterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    learn_from(keys.len(), keys)
}

/// [`learn`] of `n` keys.
pub fn learn_from<'a>(n: usize, keys: impl Iterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    if n < 2 * FIRST_CUT {
        return Vec::new();
    }
    let stride = n.div_ceil(SAMPLE);
    let mut sample: Vec<&[u8]> = keys.step_by(stride).collect();
    sample.sort_unstable();
    let mut cuts: Vec<Vec<u8>> = ranks(n)
        .filter_map(|rank| sample.get(rank / stride).map(|k| k.to_vec()))
        .collect();
    cuts.dedup();
    cuts
}

/// 1k, 2k, 4k, … 64k, then every 64k, below `n`.
fn ranks(n: usize) -> impl Iterator<Item = usize> {
    let doubling =
        std::iter::successors(Some(FIRST_CUT), |r| Some(r * 2)).take_while(|&r| r < STEP);
    let stepping = (1..).map(|i| i * STEP);
    doubling.chain(stepping).take_while(move |&r| r < n)
}

/// The cuts kept at `path`; none when there is no file or it does not read (each line a key in
/// hex; lines that do not parse are skipped).
pub fn load(path: &Path) -> Vec<Vec<u8>> {
    let read = std::fs::metadata(path).and_then(|m| {
        if m.len() > MAX_FILE {
            Err(std::io::Error::other("larger than any cuts file written"))
        } else {
            std::fs::read_to_string(path)
        }
    });
    match read {
        Ok(text) => text.lines().filter_map(unhex).take(MAX_CUTS).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            debug!(path = %path.display(), error = %e, "listing cuts not read");
            Vec::new()
        }
    }
}

/// Keeps `cuts` at `path` for the next start (written aside, then renamed over the old file).
pub fn save(path: &Path, cuts: &[Vec<u8>]) {
    let mut text = String::with_capacity(cuts.iter().map(|c| c.len() * 2 + 1).sum());
    for cut in cuts {
        for b in cut {
            let _ = write!(text, "{b:02x}");
        }
        text.push('\n');
    }
    // Two sources on the same cluster and prefix (`--cluster a,b` naming one etcd twice) may
    // save at once: each writes its own file aside, and the last rename wins whole.
    static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("cuts.{}.{n}.tmp", std::process::id()));
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&tmp, text))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        warn!(path = %path.display(), error = %e, "listing cuts not kept; the next start cuts by first character only");
        let _ = std::fs::remove_file(&tmp);
    }
}

fn unhex(line: &str) -> Option<Vec<u8>> {
    let line = line.trim();
    if line.is_empty() || !line.len().is_multiple_of(2) || line.len() > MAX_KEY * 2 {
        return None;
    }
    (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(line.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A stable name for the prefix in a file name (the prefix itself may hold any bytes).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<Vec<u8>> {
        // Not in key order, as the listing hands them (sorted by role, then instance).
        (0..n)
            .rev()
            .map(|i| format!("/services/api/i-{i:07}").into_bytes())
            .collect()
    }

    fn rank_of(all: &[Vec<u8>], cut: &[u8]) -> usize {
        all.iter().filter(|k| k.as_slice() < cut).count()
    }

    #[test]
    fn a_small_fleet_needs_no_cuts() {
        let all = keys(2_000);
        assert!(learn(all.iter().map(|k| k.as_slice())).is_empty());
    }

    #[test]
    fn the_first_range_holds_about_a_thousand_keys_whatever_the_fleet() {
        for n in [5_000, 100_000, 1_000_000] {
            let all = keys(n);
            let cuts = learn(all.iter().map(|k| k.as_slice()));
            let first = rank_of(&all, &cuts[0]);
            let stride = n.div_ceil(SAMPLE);
            assert!(
                first.abs_diff(FIRST_CUT) <= stride,
                "{n} keys: first range {first} keys"
            );
            assert!(cuts.windows(2).all(|w| w[0] < w[1]), "in key order");
            let last_gap = n - rank_of(&all, cuts.last().unwrap());
            assert!(last_gap <= STEP + stride, "{n} keys: last range {last_gap}");
        }
        let all = keys(1_000_000);
        // 1k … 32k doubling (6), then 64k … 960k (15).
        assert_eq!(learn(all.iter().map(|k| k.as_slice())).len(), 21);
    }

    #[test]
    fn cuts_survive_a_restart_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(dir.path(), 0xabc, "/services/");
        let cuts = vec![
            b"/services/a\xff\x00\x1b[31m".to_vec(),
            b"/services/b".to_vec(),
        ];
        save(&path, &cuts);
        assert_eq!(load(&path), cuts);
        assert_ne!(path, path_for(dir.path(), 0xabc, "/services"), "per prefix");
        assert_ne!(
            path,
            path_for(dir.path(), 0xabd, "/services/"),
            "per cluster"
        );
    }

    #[test]
    fn a_missing_damaged_or_unwritable_file_is_no_cuts_and_no_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(dir.path(), 1, "/p/");
        assert!(load(&path).is_empty());
        std::fs::write(&path, "zz\n2f70\nabc\n\n2f7071\n").unwrap();
        assert_eq!(load(&path), vec![b"/p".to_vec(), b"/pq".to_vec()]);
        // A directory where the file should be: neither read nor written, and no panic.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert!(load(&path).is_empty());
        save(&path, &[b"/p/x".to_vec()]);
        assert!(path.is_dir());
    }
}

//! The revision clock: etcd stores no times, so the console remembers when it saw which revision
//! (every response header it reads: listings, watch events, progress notifications) and maps a
//! time back to the newest revision seen at or before it. Pure data; the file it is kept in
//! across runs is `sources::revclock`.

use chrono::{DateTime, Duration, TimeZone, Utc};

/// Where the revision clock's recorder takes the time of a pair from: the system clock, or one
/// a test sets (so pairs are at known times, not at whenever the test happened to run).
#[derive(Clone)]
pub struct Now(std::sync::Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Now {
    pub fn system() -> Now {
        Now(std::sync::Arc::new(Utc::now))
    }

    pub fn from_fn(f: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Now {
        Now(std::sync::Arc::new(f))
    }

    pub fn get(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl Default for Now {
    fn default() -> Now {
        Now::system()
    }
}

impl std::fmt::Debug for Now {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Now({})", self.get())
    }
}

/// At most one pair a second.
pub const MIN_GAP_MS: i64 = 1_000;
/// Pairs older than this are dropped.
pub const KEEP: Duration = Duration::days(7);
/// The file's cap; one pair is one short line (`1733300000000 12345\n`, ~25 bytes).
pub const MAX_BYTES: usize = 1 << 20;
/// Pairs kept under [`MAX_BYTES`] (a pessimistic line length of 32 bytes).
pub const MAX_PAIRS: usize = MAX_BYTES / 32;

/// One observation: at `at_ms` (Unix milliseconds) the store's revision was `revision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub at_ms: i64,
    pub revision: i64,
}

impl Pair {
    pub fn time(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.at_ms)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// One line of the clock file.
    pub fn line(&self) -> String {
        format!("{} {}\n", self.at_ms, self.revision)
    }

    /// A line of the clock file back (`None` for anything else: a torn last line, a comment).
    pub fn parse(line: &str) -> Option<Pair> {
        let (t, r) = line.trim().split_once(' ')?;
        Some(Pair {
            at_ms: t.parse().ok()?,
            revision: r.parse().ok()?,
        })
    }
}

/// What an observation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// Recorded: append it to the file.
    Added(Pair),
    /// Within a second of the last pair, or telling nothing new: not recorded.
    Skipped,
    /// The revision went backwards (etcd rebuilt or restored): the old pairs describe another
    /// history, so the clock starts again with this pair (and a new file).
    Restarted(Pair),
}

/// Why a time maps to no revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unknown {
    /// Nothing recorded yet.
    Empty,
    /// Earlier than the first pair.
    Before(DateTime<Utc>),
}

impl Unknown {
    pub fn describe(&self, shown: impl Fn(DateTime<Utc>) -> String) -> String {
        match self {
            Unknown::Empty => "no revision known yet (the console records them as it runs)".into(),
            Unknown::Before(t) => format!("no revision known before {}", shown(*t)),
        }
    }
}

/// Time → revision pairs, oldest first; times and revisions both never decrease.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevisionClock {
    pairs: Vec<Pair>,
}

impl RevisionClock {
    /// Pairs as read back from a file, in any state: out-of-order or backwards pairs are dropped
    /// (the newest history wins), then the clock is pruned as of `now`.
    pub fn from_pairs(pairs: impl IntoIterator<Item = Pair>, now: DateTime<Utc>) -> RevisionClock {
        let mut clock = RevisionClock::default();
        for p in pairs {
            match clock.pairs.last() {
                Some(last) if p.revision < last.revision => clock.pairs.clear(),
                Some(last) if p.at_ms < last.at_ms => continue,
                _ => {}
            }
            clock.pairs.push(p);
        }
        clock.prune(now);
        clock
    }

    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// A response header said the store was at `revision` at `at`. Recorded at most once a
    /// second, and — on a quiet store — once a minute only (a pair per progress notification
    /// would fill the cap with the same revision), so the clock still shows the console was
    /// watching.
    pub fn observe(&mut self, at: DateTime<Utc>, revision: i64) -> Observed {
        let pair = Pair {
            at_ms: at.timestamp_millis(),
            revision,
        };
        match self.pairs.last() {
            Some(last) if revision < last.revision => {
                self.pairs.clear();
                self.pairs.push(pair);
                return Observed::Restarted(pair);
            }
            Some(last) if pair.at_ms - last.at_ms < MIN_GAP_MS => return Observed::Skipped,
            Some(last) if revision == last.revision && pair.at_ms - last.at_ms < 60_000 => {
                return Observed::Skipped
            }
            _ => {}
        }
        self.pairs.push(pair);
        Observed::Added(pair)
    }

    /// Drops pairs older than [`KEEP`] and the oldest beyond [`MAX_PAIRS`]. Whether it dropped any
    /// (the file is then written again whole).
    pub fn prune(&mut self, now: DateTime<Utc>) -> bool {
        let before = self.pairs.len();
        let oldest = (now - KEEP).timestamp_millis();
        let stale = self.pairs.partition_point(|p| p.at_ms < oldest);
        let excess = (self.pairs.len() - stale).saturating_sub(MAX_PAIRS);
        self.pairs.drain(..stale + excess);
        self.pairs.len() != before
    }

    /// The newest pair at or before `at`: the revision the store had then (as far as the console
    /// saw; a revision made between the pair and `at` without the console hearing of it can only
    /// be missed while the console was not running).
    pub fn revision_at(&self, at: DateTime<Utc>) -> Result<Pair, Unknown> {
        let ms = at.timestamp_millis();
        let first = self.pairs.first().ok_or(Unknown::Empty)?;
        if ms < first.at_ms {
            return Err(Unknown::Before(first.time()));
        }
        let i = self.pairs.partition_point(|p| p.at_ms <= ms);
        Ok(self.pairs[i - 1])
    }

    /// About when the store reached `revision`: the first pair at or past it (`None` when the
    /// clock never saw it). An estimate: shown with `≈`.
    pub fn time_of(&self, revision: i64) -> Option<DateTime<Utc>> {
        let i = self.pairs.partition_point(|p| p.revision < revision);
        self.pairs.get(i).map(Pair::time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_time_earlier_than_the_last_pair_is_never_recorded() {
        // What a system clock stepped back by an hour would feed it (the console's own clock,
        // `crate::clock`, never does): nothing out of order reaches the pairs or the file, at the
        // price of recording nothing until the wall time passes the last pair again.
        let mut c = RevisionClock::default();
        assert_eq!(
            c.observe(t(3_600), 10),
            Observed::Added(Pair {
                at_ms: t(3_600).timestamp_millis(),
                revision: 10
            })
        );
        for s in [0, 1, 2, 3_599] {
            assert_eq!(c.observe(t(s), 11 + s), Observed::Skipped);
        }
        assert_eq!(c.pairs().len(), 1);
        // Stepped forward an hour: recorded, still in order; the hour between maps to the older
        // revision, which was the newest the console saw.
        assert!(matches!(c.observe(t(7_200), 20), Observed::Added(_)));
        assert_eq!(c.revision_at(t(5_000)).map(|p| p.revision), Ok(10));
        assert!(c
            .pairs()
            .windows(2)
            .all(|w| w[0].at_ms <= w[1].at_ms && w[0].revision <= w[1].revision));
    }

    #[test]
    fn maps_a_time_to_the_newest_revision_at_or_before_it() {
        let mut c = RevisionClock::default();
        assert_eq!(c.revision_at(t(0)), Err(Unknown::Empty));
        assert!(matches!(c.observe(t(10), 100), Observed::Added(_)));
        assert!(matches!(c.observe(t(20), 105), Observed::Added(_)));
        assert!(matches!(c.observe(t(30), 107), Observed::Added(_)));
        assert_eq!(c.revision_at(t(9)), Err(Unknown::Before(t(10))));
        assert_eq!(c.revision_at(t(10)).unwrap().revision, 100);
        assert_eq!(c.revision_at(t(19)).unwrap().revision, 100);
        assert_eq!(c.revision_at(t(25)).unwrap().revision, 105);
        assert_eq!(c.revision_at(t(3000)).unwrap().revision, 107);
        assert_eq!(c.time_of(101), Some(t(20)));
        assert_eq!(c.time_of(107), Some(t(30)));
        assert_eq!(c.time_of(108), None);
    }

    #[test]
    fn records_at_most_once_a_second_and_a_quiet_store_once_a_minute() {
        let mut c = RevisionClock::default();
        c.observe(t(0), 1);
        assert_eq!(
            c.observe(t(0) + Duration::milliseconds(400), 2),
            Observed::Skipped
        );
        assert!(matches!(c.observe(t(1), 2), Observed::Added(_)));
        assert_eq!(c.observe(t(30), 2), Observed::Skipped);
        assert!(matches!(c.observe(t(61), 2), Observed::Added(_)));
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn a_revision_going_backwards_starts_a_new_history() {
        let mut c = RevisionClock::default();
        c.observe(t(0), 500);
        c.observe(t(5), 510);
        assert_eq!(
            c.observe(t(10), 3),
            Observed::Restarted(Pair {
                at_ms: t(10).timestamp_millis(),
                revision: 3
            })
        );
        assert_eq!(c.revision_at(t(6)), Err(Unknown::Before(t(10))));
        // Read back from a file the same way: the newest history wins.
        let pairs = [(0, 500), (5, 510), (10, 3), (12, 4)].map(|(s, r)| Pair {
            at_ms: t(s).timestamp_millis(),
            revision: r,
        });
        let c = RevisionClock::from_pairs(pairs, t(20));
        assert_eq!(c.len(), 2);
        assert_eq!(c.revision_at(t(11)).unwrap().revision, 3);
    }

    #[test]
    fn keeps_seven_days_and_the_byte_cap() {
        let now = t(7 * 86_400 + 100);
        let pairs = (0..(MAX_PAIRS as i64 + 100))
            .map(|i| Pair {
                at_ms: t(i * 2).timestamp_millis(),
                revision: i,
            })
            .chain(std::iter::once(Pair {
                at_ms: now.timestamp_millis(),
                revision: i64::MAX,
            }));
        let c = RevisionClock::from_pairs(pairs, now);
        assert_eq!(c.len(), MAX_PAIRS, "the oldest beyond the cap are dropped");
        assert!(c.pairs()[0].time() >= now - KEEP);
        let bytes: usize = c.pairs().iter().map(|p| p.line().len()).sum();
        assert!(bytes <= MAX_BYTES, "{bytes}");
        assert_eq!(Pair::parse(&c.pairs()[0].line()), Some(c.pairs()[0]));
        assert_eq!(Pair::parse("12 "), None);
    }
}

//! The log histogram's plain data: windows, bucket sizes and boundaries, severity classes, the
//! top-N ranking, and what is asked of (and answered by) a server that aggregates (Elasticsearch,
//! Loki). Shared by the state (which counts the Redis ring itself) and the sources.

use chrono::{DateTime, Duration, Offset, TimeZone, Utc};

/// The windows `+`/`-` step through: 15m, 1h, 6h, 24h.
pub const WINDOWS: [i64; 4] = [15 * 60, 3600, 6 * 3600, 86_400];
/// 1h.
pub const DEFAULT_WINDOW: usize = 1;
/// Bucket sizes (seconds) a histogram picks from: the smallest that fits the columns.
const STEPS: [i64; 23] = [
    1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200, 10_800,
    21_600, 43_200, 86_400,
];
/// Hosts and programs listed beside the histogram.
pub const TOP_N: usize = 5;

/// The severity classes a bucket is split into, worst first.
pub const CLASSES: [&str; 4] = ["crit", "err", "warning", "other"];
pub const CRIT: usize = 0;
pub const ERR: usize = 1;
pub const WARNING: usize = 2;
pub const OTHER: usize = 3;

/// Counts of one bucket, by class ([`CLASSES`]).
pub type ClassCounts = [u64; 4];

/// The class of a syslog severity: emerg, alert and crit are `crit`; a line without one is `other`.
pub fn class_of(severity: Option<u8>) -> usize {
    match severity {
        Some(0..=2) => CRIT,
        Some(3) => ERR,
        Some(4) => WARNING,
        _ => OTHER,
    }
}

/// Whether a class counts as an error for `!` (errors only): crit and err.
pub fn is_error_class(class: usize) -> bool {
    class <= ERR
}

/// The class of a level name as backends spell it (`error`, `ERR`, `critical`, `warn`, …).
pub fn class_of_name(level: &str) -> usize {
    class_of(super::severity_from_name(level))
}

/// `15m`, `1h`, `90s`: a bucket size or a window as the pane and the queries write it.
pub fn span_label(secs: i64) -> String {
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The bucket size for `window` seconds over `columns` bars: the smallest of the usual sizes
/// that needs no more buckets than columns.
pub fn step_for(window: i64, columns: usize) -> i64 {
    let columns = columns.max(1) as i64;
    STEPS
        .iter()
        .copied()
        .find(|s| (window + s - 1) / s <= columns)
        .unwrap_or(STEPS[STEPS.len() - 1])
}

/// Where the buckets of a histogram are: `n` buckets of `step` seconds from `start`, each
/// `[start + i·step, start + (i+1)·step)`. Buckets are whole seconds of real time, so a DST change
/// inside the window neither stretches nor folds one; they are aligned on the step in the
/// zone's local time at the window's end (a 1h bucket in Asia/Kolkata starts at :30 UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    pub start: DateTime<Utc>,
    pub step: i64,
    pub n: usize,
}

impl Buckets {
    /// The buckets of `window` seconds ending at `end` (rounded up to a bucket boundary: the bucket
    /// holding `end` is the last one), `step` seconds each, aligned in `zone`.
    pub fn ending_at(end: DateTime<Utc>, window: i64, step: i64, zone: chrono_tz::Tz) -> Buckets {
        let step = step.max(1);
        let offset = i64::from(
            zone.offset_from_utc_datetime(&end.naive_utc())
                .fix()
                .local_minus_utc(),
        );
        let local = end.timestamp() + offset;
        // The end of the bucket `end` falls in (an `end` on a boundary starts a bucket).
        let last_end = (local.div_euclid(step) + 1) * step - offset;
        let n = ((window + step - 1) / step).max(1) as usize;
        let start = last_end - n as i64 * step;
        Buckets {
            start: DateTime::from_timestamp(start, 0).unwrap_or(end),
            step,
            n,
        }
    }

    /// The end of the last bucket (exclusive).
    pub fn end(&self) -> DateTime<Utc> {
        self.start + Duration::seconds(self.step * self.n as i64)
    }

    /// Which bucket `t` falls in, if any.
    pub fn index(&self, t: DateTime<Utc>) -> Option<usize> {
        let ms = t.timestamp_millis() - self.start.timestamp_millis();
        if ms < 0 {
            return None;
        }
        let i = (ms / (self.step * 1000)) as usize;
        (i < self.n).then_some(i)
    }

    /// Where bucket `i` starts.
    pub fn bucket_start(&self, i: usize) -> DateTime<Utc> {
        self.start + Duration::seconds(self.step * i as i64)
    }
}

/// A host or program with how many lines it has in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub name: String,
    pub count: u64,
}

/// The `n` largest counts, most first; ties by name, so the order is the same every time.
pub fn top_n<'a>(counts: impl IntoIterator<Item = (&'a str, u64)>, n: usize) -> Vec<Term> {
    let mut all: Vec<(&str, u64)> = counts.into_iter().filter(|(_, c)| *c > 0).collect();
    all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    all.truncate(n);
    all.into_iter()
        .map(|(name, count)| Term {
            name: name.to_string(),
            count,
        })
        .collect()
}

/// What the histogram asks of a server that aggregates (Elasticsearch, Loki).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistQuery {
    pub buckets: Buckets,
    /// The window (seconds) the top hosts and programs count over.
    pub window: i64,
    /// The zone buckets are aligned in (Elasticsearch `time_zone`), an IANA name.
    pub zone: String,
    /// The top hosts and programs count errors (crit and err) only.
    pub errors_only: bool,
    /// The scope: only lines from these hosts (empty: all).
    pub hosts: Vec<String>,
}

impl HistQuery {
    /// The window the aggregations cover: from the first bucket's start to the last one's end.
    pub fn range(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.buckets.start, self.buckets.end())
    }
}

/// A server's aggregations, in the histogram's buckets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistAnswer {
    /// One per bucket of the query, by class.
    pub counts: Vec<ClassCounts>,
    pub hosts: Vec<Term>,
    pub programs: Vec<Term>,
    /// The top counts are estimates (Elasticsearch `terms` across shards): shown with `≈`.
    pub approximate: bool,
    /// What the pane must say about the answer (shards that failed).
    pub notice: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn steps_fit_the_columns() {
        assert_eq!(step_for(3600, 60), 60);
        assert_eq!(step_for(3600, 59), 90);
        assert_eq!(step_for(3600, 39), 120);
        assert_eq!(step_for(900, 38), 30);
        assert_eq!(step_for(86_400, 100), 900);
        assert_eq!(step_for(86_400, 0), 86_400);
        assert_eq!(span_label(900), "15m");
        assert_eq!(span_label(86_400), "1d");
        assert_eq!(span_label(45), "45s");
    }

    #[test]
    fn buckets_align_in_the_zone() {
        let b = Buckets::ending_at(t("2026-12-03T14:02:10Z"), 3600, 600, chrono_tz::UTC);
        assert_eq!(b.end(), t("2026-12-03T14:10:00Z"));
        assert_eq!(b.start, t("2026-12-03T13:10:00Z"));
        assert_eq!(b.n, 6);
        // Half-hour zone: hours start at :30 UTC.
        let b = Buckets::ending_at(
            t("2026-12-03T14:02:10Z"),
            6 * 3600,
            3600,
            chrono_tz::Asia::Kolkata,
        );
        assert_eq!(b.end(), t("2026-12-03T14:30:00Z"));
    }

    #[test]
    fn ties_are_ordered_by_name() {
        let top = top_n(
            [
                ("web-2", 3),
                ("web-1", 3),
                ("db-1", 5),
                ("a", 0),
                ("cache", 3),
            ],
            3,
        );
        let names: Vec<&str> = top.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["db-1", "cache", "web-1"]);
    }
}

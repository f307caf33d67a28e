//! Log records, not lines: a stack trace sent as twenty syslog messages is one record — its first
//! line and `(+19)` — in the logs pane. A line continues the record of the last line from the same
//! host and program when it arrives within a second of it and reads like a continuation (the
//! source's `continuation` regexes; by default leading whitespace or rsyslog's escaped tab `#011`,
//! `at `, `Caused by:`, `Traceback`, `File "`, `...`), or when it has no timestamp of its own after
//! one that had. Pure bookkeeping beside the ring in [`super::logs::Logs`], one entry per line.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, Utc};
use regex::RegexSet;

use crate::model::{ClusterId, LogLine};

/// The longest a record grows; the next continuation starts a record of its own.
pub const MAX_RECORD_LINES: u32 = 1000;
/// Streams (host + program + pid) remembered: sets of two, the one used longest ago replaced.
const STREAM_SETS: usize = 2048;
/// How far apart in time a continuation may come.
const WINDOW: chrono::Duration = chrono::Duration::seconds(1);

/// What makes a line a continuation.
#[derive(Debug, Clone, Default)]
pub enum Rules {
    /// Leading whitespace, `#011`, `at `, `Caused by:`, `Traceback`, `File "`, `...`.
    #[default]
    Default,
    /// The source's `continuation = [...]` (an empty list: no grouping).
    Custom(RegexSet),
}

impl Rules {
    /// `continuation = []`: no grouping at all.
    pub fn off(&self) -> bool {
        matches!(self, Rules::Custom(set) if set.is_empty())
    }

    pub fn continues(&self, message: &str) -> bool {
        match self {
            Rules::Default => {
                message.starts_with([' ', '\t'])
                    || ["#011", "at ", "Caused by:", "Traceback", "File \"", "..."]
                        .iter()
                        .any(|p| message.starts_with(p))
            }
            Rules::Custom(set) => set.is_match(message),
        }
    }
}

/// The last line of one stream: its record's head and its time.
#[derive(Debug, Clone, Copy)]
struct Last {
    head: u64,
    time: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
pub struct Records {
    /// Grouping on (`r` turns it off: every line its own row, as sent).
    pub enabled: bool,
    /// What makes a line a continuation, by the cluster whose logs source sent it (a merged
    /// view's clusters each have their own `continuation`); a cluster without is `Default`.
    rules: Vec<Rules>,
    /// Beside the ring: how far back each line's head is (0: it is a head).
    back: VecDeque<u32>,
    /// Beside the ring: a head's continuation lines so far.
    tails: VecDeque<u32>,
    streams: Streams,
    /// Heads shown expanded (Enter).
    pub expanded: BTreeSet<u64>,
}

impl Records {
    pub fn new() -> Records {
        Records {
            enabled: true,
            ..Default::default()
        }
    }

    /// Cluster `c`'s logs source's `continuation` rules.
    pub fn set_rules(&mut self, c: ClusterId, rules: Rules) {
        let i = c.0 as usize;
        if self.rules.len() <= i {
            self.rules.resize(i + 1, Rules::Default);
        }
        self.rules[i] = rules;
    }

    /// A line arrives as `seq` from cluster `c` (`first_seq` is the ring's oldest): returns its
    /// head's sequence number when it continues a record. `stream` already tells clusters apart.
    pub fn push(
        &mut self,
        seq: u64,
        first_seq: u64,
        stream: u64,
        c: ClusterId,
        line: &LogLine,
    ) -> Option<u64> {
        const DEFAULT: Rules = Rules::Default;
        let rules = self.rules.get(c.0 as usize).unwrap_or(&DEFAULT);
        if rules.off() {
            self.back.push_back(0);
            self.tails.push_back(0);
            return None;
        }
        // One lookup for the stream's last line, read and then replaced.
        let Records {
            rules: by_cluster,
            back,
            tails,
            streams,
            ..
        } = self;
        let rules = by_cluster.get(c.0 as usize).unwrap_or(&DEFAULT);
        let last = streams.entry(
            stream,
            Last {
                head: seq,
                time: None,
            },
        );
        let prev = (last.head != seq).then_some(*last);
        let tail_of = |head: u64| {
            head.checked_sub(first_seq)
                .and_then(|i| tails.get(i as usize))
                .copied()
                .unwrap_or(0)
        };
        let head = prev.and_then(|p| {
            // A line without a stamp after one with: the stamp-less rest of a record.
            let stampless = p.time.is_some() && line.time.is_none();
            let near = match (p.time, line.time) {
                (Some(a), Some(b)) => (b - a).abs() <= WINDOW,
                _ => true,
            };
            let in_ring = p.head >= first_seq;
            let room = tail_of(p.head) < MAX_RECORD_LINES;
            (near && in_ring && room && (stampless || rules.continues(&line.message)))
                .then_some(p.head)
        });
        let head = head.filter(|h| *h >= first_seq);
        *last = Last {
            head: head.unwrap_or(seq),
            time: line.time.or(prev.and_then(|p| p.time)),
        };
        let gap = head.map_or(0, |h| (seq - h).min(u64::from(u32::MAX)) as u32);
        back.push_back(gap);
        tails.push_back(0);
        if let Some(h) = head {
            if let Some(t) = tails.get_mut((h - first_seq) as usize) {
                *t += 1;
            }
        }
        head
    }

    /// The ring's oldest line left (it was `seq`).
    pub fn evict(&mut self, seq: u64) {
        self.back.pop_front();
        self.tails.pop_front();
        self.expanded.remove(&seq);
    }

    /// The head of `seq`'s record when `seq` continues one still in the ring.
    pub fn head_of(&self, seq: u64, first_seq: u64) -> Option<u64> {
        let i = seq.checked_sub(first_seq)? as usize;
        let back = u64::from(*self.back.get(i)?);
        (back > 0).then(|| seq - back).filter(|h| *h >= first_seq)
    }

    /// Whether `seq` belongs to a record whose head has left the ring (shown as a line of its
    /// own, so nothing in the ring goes unseen).
    pub fn orphan(&self, seq: u64, first_seq: u64) -> bool {
        let Some(i) = seq.checked_sub(first_seq) else {
            return false;
        };
        let back = self.back.get(i as usize).copied().unwrap_or(0);
        back > 0 && u64::from(back) > i
    }

    /// A head's continuation lines.
    pub fn tail_of(&self, head: u64, first_seq: u64) -> u32 {
        head.checked_sub(first_seq)
            .and_then(|i| self.tails.get(i as usize))
            .copied()
            .unwrap_or(0)
    }

    /// The sequence numbers of `head`'s continuation lines, oldest first (scanning at most the
    /// record's span of the ring).
    pub fn tail_seqs(&self, head: u64, first_seq: u64) -> Vec<u64> {
        let want = self.tail_of(head, first_seq) as usize;
        let mut out = Vec::with_capacity(want);
        let Some(start) = head.checked_sub(first_seq) else {
            return out;
        };
        let mut i = start as usize + 1;
        while out.len() < want && i < self.back.len() {
            let seq = first_seq + i as u64;
            if u64::from(self.back[i]) == seq - head {
                out.push(seq);
            }
            i += 1;
        }
        out
    }

    pub fn clear(&mut self) {
        self.back.clear();
        self.tails.clear();
        self.streams = Streams::default();
        self.expanded.clear();
    }
}

/// The last line of each stream, for the next line of the same stream to find: a table of
/// [`STREAM_SETS`] sets of two slots, a stream's set chosen by its hash. A line finds its stream's
/// slot in one or two reads of one cache line, where a hash map's probe and growth were most of
/// the cost of grouping (with every line a new stream, grouping took push from 6.3 M to 3.0 M
/// lines/s; `cargo bench --bench logs`). A stream unseen while two others of its set arrived is
/// forgotten, and its next line starts a record of its own: nothing is hidden, a trace is only
/// split (the map this replaces forgot every stream at once past 8,192).
#[derive(Debug)]
struct Streams {
    /// `(stream, last line)`; the set's most recently used slot first. `Last::head` of
    /// `u64::MAX` marks a slot never used.
    slots: Box<[[(u64, Last); 2]]>,
}

impl Default for Streams {
    fn default() -> Self {
        const EMPTY: (u64, Last) = (
            0,
            Last {
                head: u64::MAX,
                time: None,
            },
        );
        Streams {
            slots: vec![[EMPTY; 2]; STREAM_SETS].into_boxed_slice(),
        }
    }
}

impl Streams {
    /// The last line of `stream`, `new` put in its place when the stream is not remembered.
    fn entry(&mut self, stream: u64, new: Last) -> &mut Last {
        const _: () = assert!(STREAM_SETS.is_power_of_two());
        // Fibonacci hashing: the top bits of the product mix every bit of the stream's hash.
        let set = (stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            >> (64 - STREAM_SETS.trailing_zeros())) as usize;
        let ways = &mut self.slots[set];
        let known = |w: &(u64, Last)| w.0 == stream && w.1.head != u64::MAX;
        if !known(&ways[0]) {
            if !known(&ways[1]) {
                ways[1] = (stream, new);
            }
            ways.swap(0, 1);
        }
        &mut ways[0].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const C0: ClusterId = ClusterId(0);

    #[test]
    fn each_clusters_own_continuation_rules_apply_to_its_lines() {
        let mut r = Records::new();
        let eu = ClusterId(1);
        // prod-eu says `| ` continues; prod keeps the default rules.
        r.set_rules(eu, Rules::Custom(RegexSet::new(["^\\| "]).unwrap()));
        r.push(0, 0, 1, C0, &line("table", Some(0)));
        assert_eq!(r.push(1, 0, 1, C0, &line("| row", Some(0))), None);
        r.push(2, 0, 2, eu, &line("table", Some(0)));
        assert_eq!(r.push(3, 0, 2, eu, &line("| row", Some(0))), Some(2));
        assert_eq!(r.push(4, 0, 2, eu, &line("  indented", Some(0))), None);
        assert_eq!(r.push(5, 0, 1, C0, &line("  indented", Some(0))), Some(1));
    }

    fn line(msg: &str, secs: Option<i64>) -> LogLine {
        LogLine {
            time: secs.map(|s| Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()),
            message: msg.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_stack_trace_is_one_record_per_stream() {
        let mut r = Records::new();
        let a = 1;
        let b = 2;
        assert_eq!(
            r.push(
                0,
                0,
                a,
                C0,
                &line("java.lang.NullPointerException: x", Some(0))
            ),
            None
        );
        assert_eq!(
            r.push(
                1,
                0,
                a,
                C0,
                &line("#011at com.acme.Foo.bar(Foo.java:10)", Some(0))
            ),
            Some(0)
        );
        // Another stream in between: its own record, and it does not break stream a's.
        assert_eq!(r.push(2, 0, b, C0, &line("GET / 200", Some(0))), None);
        assert_eq!(
            r.push(
                3,
                0,
                a,
                C0,
                &line("Caused by: java.io.IOException", Some(1))
            ),
            Some(0)
        );
        assert_eq!(r.push(4, 0, a, C0, &line("... 12 more", Some(1))), Some(0));
        assert_eq!(r.tail_of(0, 0), 3);
        assert_eq!(r.tail_seqs(0, 0), [1, 3, 4]);
        assert_eq!(r.head_of(3, 0), Some(0));
        assert_eq!(r.head_of(2, 0), None);
        // Too late, or not a continuation: a new record.
        assert_eq!(r.push(5, 0, a, C0, &line("  at late", Some(9))), None);
        assert_eq!(r.push(6, 0, a, C0, &line("next event", Some(9))), None);
        // A stamp-less line after a stamped one continues it.
        assert_eq!(
            r.push(7, 0, a, C0, &line("raw continuation", None)),
            Some(6)
        );
    }

    #[test]
    fn python_tracebacks_and_custom_rules() {
        let mut r = Records::new();
        r.push(0, 0, 1, C0, &line("job failed", Some(0)));
        assert_eq!(
            r.push(
                1,
                0,
                1,
                C0,
                &line("Traceback (most recent call last):", Some(0))
            ),
            Some(0)
        );
        assert_eq!(
            r.push(2, 0, 1, C0, &line("  File \"a.py\", line 1", Some(0))),
            Some(0)
        );
        let mut r = Records {
            rules: vec![Rules::Custom(RegexSet::new(["^\\| "]).unwrap())],
            ..Records::new()
        };
        r.push(0, 0, 1, C0, &line("table", Some(0)));
        assert_eq!(r.push(1, 0, 1, C0, &line("| row", Some(0))), Some(0));
        assert_eq!(r.push(2, 0, 1, C0, &line("  indented", Some(0))), None);
        let mut off = Records {
            rules: vec![Rules::Custom(RegexSet::empty())],
            ..Records::new()
        };
        off.push(0, 0, 1, C0, &line("x", Some(0)));
        assert_eq!(off.push(1, 0, 1, C0, &line("  at y", Some(0))), None);
    }

    #[test]
    fn a_head_leaving_the_ring_orphans_its_tail() {
        let mut r = Records::new();
        r.push(0, 0, 1, C0, &line("head", Some(0)));
        r.push(1, 0, 1, C0, &line("  tail", Some(0)));
        r.evict(0);
        assert_eq!(r.head_of(1, 1), None);
        assert!(r.orphan(1, 1));
        // A continuation of a head that left starts a record of its own.
        assert_eq!(r.push(2, 1, 1, C0, &line("  more", Some(0))), None);
    }

    #[test]
    fn a_stream_is_forgotten_only_after_two_others_of_its_set() {
        let last = |head| Last { head, time: None };
        let set_of = |s: u64| {
            (s.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - STREAM_SETS.trailing_zeros())) as usize
        };
        let same_set: Vec<u64> = (1..).filter(|s| set_of(*s) == set_of(1)).take(3).collect();
        let (a, b, c) = (same_set[0], same_set[1], same_set[2]);
        let mut t = Streams::default();
        t.entry(a, last(1));
        t.entry(b, last(2));
        // Other sets do not disturb it.
        for s in (1..1000).filter(|s| set_of(*s) != set_of(a)) {
            t.entry(s, last(s));
        }
        assert_eq!(
            t.entry(a, last(99)).head,
            1,
            "a and b share the set's two slots"
        );
        assert_eq!(t.entry(b, last(99)).head, 2);
        // b was used last: c takes a's slot.
        assert_eq!(t.entry(c, last(3)).head, 3);
        assert_eq!(t.entry(b, last(99)).head, 2, "b stays");
        assert_eq!(t.entry(a, last(4)).head, 4, "a was forgotten: a new record");
        assert_eq!(t.entry(c, last(99)).head, 99, "and a took c's slot");
    }
}

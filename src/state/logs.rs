//! Logs: a bounded ring buffer with an incrementally maintained list of the lines the pane shows
//! (and, apart, of the lines the filter matches), so a firehose costs O(1) per line and a frame
//! only touches the rows on screen. Navigation as lnav and less users expect it: a free cursor
//! (`g`/`G`), the filter hiding or highlighting (`F`) with `n`/`N` between matches, `e`/`E` and
//! `w`/`W` between errors and warnings, marks (`m`, `u`/`U`), context lines around matches (`C`),
//! a severity threshold both ways (`v`/`V`), horizontal scroll (`h`/`l`), a time jump (`t`), copy
//! (`y`) and `:w` to a file.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::checks::EntityScope;
use super::cursor::ListCursor;
use super::log_names::{fnv, host_key, Names};
use super::log_records::Records;
use super::members::Filter;
use super::pane::{PaneCtx, PaneState, Reaction};
use super::popup::Popup;
use crate::action::Action;
use crate::model::prefetch::prefetch;
use crate::model::typed_time::Lean;
use crate::model::zone::Resolved;
use crate::model::{ClusterId, Command, DisplayZone, LogLine, SEVERITY_NAMES};

pub const DEFAULT_CAPACITY: usize = 100_000;

/// Context lines around each filter match, as `C` cycles them.
pub const CONTEXT_STEPS: [usize; 3] = [0, 3, 10];
/// Columns `h`/`l` scroll the message by.
pub const HSCROLL_STEP: usize = 10;
/// How far around a time jump Elasticsearch and Loki are read again.
pub use crate::model::REREAD_AROUND as AROUND;
/// `sevs` entry of a line without a severity.
const NO_SEVERITY: u8 = u8::MAX;

/// How many pushes ahead the heap blocks of a line to be evicted are prefetched.
const EVICT_PREFETCH: usize = 8;

/// Asks for the cache lines of a heap block (and its allocator header just before it) that a
/// later `free` touches: an evicted line's message and fields were written long ago, and freeing
/// them otherwise waits for memory on every push of a full ring.
#[inline]
fn prefetch_heap(p: *const u8) {
    prefetch(p.wrapping_sub(8));
    prefetch(p.wrapping_add(8));
}

/// What the `/` filter does to the lines it does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterMode {
    /// Hide them (with `C` context lines around each match).
    #[default]
    Filter,
    /// Show every line, the matches highlighted.
    Highlight,
}

#[derive(Debug)]
pub struct Logs {
    lines: VecDeque<LogLine>,
    /// `host_key` of each buffered line's host, beside `lines`: changing the member scope scans
    /// these numbers instead of every line's strings.
    host_keys: VecDeque<u64>,
    /// Severity of each buffered line ([`NO_SEVERITY`] when unknown), beside `lines`: `e`/`w`
    /// scan bytes, not lines.
    sevs: VecDeque<u8>,
    /// The cluster whose logs source sent each buffered line, beside `lines` (a merged view
    /// tags each cluster's lines; a single cluster's are all the first's).
    clusters: VecDeque<ClusterId>,
    /// The session's cluster names by `ClusterId` (for a `cluster:NAME` filter).
    pub cluster_names: Vec<String>,
    /// `:cluster NAME` in a merged view: only that cluster's lines are shown.
    pub only: Option<ClusterId>,
    /// The selected member's cluster in a merged view: its host names mean that cluster's hosts.
    pub scope_cluster: Option<ClusterId>,
    /// `host_key`s that can match the scope (see `scope_keys`).
    scope_keys: Vec<u64>,
    /// Sequence number of `lines[0]`; every line ever received has one.
    first_seq: u64,
    capacity: usize,
    /// Lines evicted because the buffer was full.
    pub dropped: u64,
    /// Sequence numbers of the buffered lines the pane shows, ascending: those passing the scope
    /// and the severity threshold, and — in filter mode — the filter or the context around it.
    matches: VecDeque<u64>,
    /// Sequence numbers of the shown lines the filter matches, ascending (empty without a
    /// filter): what `n`/`N` move between and the title counts.
    hits: VecDeque<u64>,
    /// Lines still to be shown after the last match, as context.
    context_left: usize,
    pub filter: Option<Filter>,
    pub mode: FilterMode,
    /// Lines shown before and after each match in filter mode (one of [`CONTEXT_STEPS`]).
    pub context: usize,
    /// Show lines at this syslog severity or worse (lower number); `None` shows everything.
    /// Lines without a severity are always shown.
    pub min_severity: Option<u8>,
    pub scope: Option<EntityScope>,
    pub follow: bool,
    pub wrap: bool,
    /// `p`: JSON messages (and lines with fields) pretty-printed below their first row.
    pub pretty: bool,
    /// Lines grouped into records (a stack trace is one row and `(+N)`); `r` toggles.
    pub records: Records,
    /// Each cluster's logs source's `fields` and `hide_fields`, by cluster (a merged view's
    /// clusters each have their own).
    fields: Vec<FieldChoice>,
    /// Columns of the message scrolled off to the left (wrap off).
    pub hscroll: usize,
    /// Marked lines (sequence numbers).
    marks: BTreeSet<u64>,
    /// Marks on lines that left the ring.
    pub marks_dropped: u64,
    /// Positions in `matches`: the selected line and the first line on screen, and how many
    /// lines the pane shows (from the layout). Derived from `cursor_seq`/`top_seq` after every
    /// change ([`Logs::fit`]), since positions shift as old lines leave the ring.
    pub view: ListCursor,
    /// Selected line (a sequence number) while follow is paused: the identity the cursor keeps.
    cursor_seq: Option<u64>,
    /// The first line on screen (a sequence number) while follow is paused.
    top_seq: Option<u64>,
    /// Matching lines that arrived while paused.
    pub unseen: u64,
    pub received: u64,
    /// A time jump waiting for the backend to read the lines around it again.
    pub pending_jump: Option<DateTime<Utc>>,
    /// Host and program names of buffered lines, shared: a fleet logs from a few hundred hosts and
    /// a few dozen programs, so 100k lines need not carry 200k copies of them, nor hash them
    /// 200k times, nor run the filter over them 200k times.
    names: Names,
    /// The histogram view (`H`) and, with Redis, its counts of the ring, kept up to date here as
    /// lines come and go.
    pub hist: super::histogram::Histogram,
}

impl Default for Logs {
    fn default() -> Self {
        Logs::with_capacity(DEFAULT_CAPACITY)
    }
}

/// Which way a search goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Forward,
    Backward,
}

impl Logs {
    pub fn with_capacity(capacity: usize) -> Logs {
        Logs {
            lines: VecDeque::with_capacity(capacity.min(1 << 16)),
            host_keys: VecDeque::with_capacity(capacity.min(1 << 16)),
            sevs: VecDeque::with_capacity(capacity.min(1 << 16)),
            clusters: VecDeque::with_capacity(capacity.min(1 << 16)),
            cluster_names: Vec::new(),
            only: None,
            scope_cluster: None,
            scope_keys: Vec::new(),
            first_seq: 0,
            capacity: capacity.max(1),
            dropped: 0,
            matches: VecDeque::new(),
            hits: VecDeque::new(),
            context_left: 0,
            filter: None,
            mode: FilterMode::Filter,
            context: 0,
            min_severity: None,
            scope: None,
            follow: true,
            wrap: false,
            pretty: false,
            records: Records::new(),
            fields: Vec::new(),
            hscroll: 0,
            marks: BTreeSet::new(),
            marks_dropped: 0,
            view: ListCursor::default(),
            cursor_seq: None,
            top_seq: None,
            unseen: 0,
            received: 0,
            pending_jump: None,
            names: Names::default(),
            hist: Default::default(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines the pane shows.
    pub fn match_count(&self) -> usize {
        self.matches.len()
    }

    /// Lines the filter matches (0 without a filter).
    pub fn hit_count(&self) -> usize {
        self.hits.len()
    }

    pub fn mark_count(&self) -> usize {
        self.marks.len()
    }

    /// The marked lines still in the buffer, oldest first.
    pub fn marked_lines(&self) -> Vec<&LogLine> {
        self.marks.iter().filter_map(|s| self.get(*s)).collect()
    }

    fn get(&self, seq: u64) -> Option<&LogLine> {
        seq.checked_sub(self.first_seq)
            .and_then(|i| self.lines.get(i as usize))
    }

    fn sev_of(&self, seq: u64) -> Option<u8> {
        let i = seq.checked_sub(self.first_seq)? as usize;
        self.sevs.get(i).copied().filter(|s| *s != NO_SEVERITY)
    }

    /// Scope and severity threshold: whether a line may be shown at all. A line without a
    /// severity (RFC 3164 file formats, plain text) is never hidden by the threshold.
    fn base(&self, c: ClusterId, host_key: u64, l: &LogLine) -> bool {
        if self.scope.is_some() && !self.scope_keys.contains(&host_key) {
            return false;
        }
        if let (Some(min), Some(sev)) = (self.min_severity, l.severity) {
            if sev > min {
                return false;
            }
        }
        if let Some(scope) = &self.scope {
            if !scope.matches(c, &l.host) {
                return false;
            }
        }
        true
    }

    fn base_at(&self, i: usize) -> bool {
        let c = self.clusters[i];
        self.cluster_shown(c) && self.base(c, self.host_keys[i], &self.lines[i])
    }

    /// Whether lines of cluster `c` may be shown: the view narrowed to one cluster, a member of
    /// one cluster in scope, a `cluster:NAME` filter each keep only that cluster's.
    fn cluster_shown(&self, c: ClusterId) -> bool {
        if self.only.is_some_and(|o| o != c) {
            return false;
        }
        if self.scope.is_some() && self.scope_cluster.is_some_and(|o| o != c) {
            return false;
        }
        match self.filter.as_ref().and_then(|f| f.cluster.as_deref()) {
            Some(name) => self.cluster_names.get(c.0 as usize).map(String::as_str) == Some(name),
            None => true,
        }
    }

    /// The cluster whose source sent the buffered line `seq`.
    pub fn cluster_of(&self, seq: u64) -> ClusterId {
        seq.checked_sub(self.first_seq)
            .and_then(|i| self.clusters.get(i as usize))
            .copied()
            .unwrap_or_default()
    }

    /// `:cluster NAME` / `:cluster *` in a merged view.
    pub fn narrow(&mut self, only: Option<ClusterId>) {
        if self.only != only {
            self.only = only;
            self.rescan();
        }
    }

    /// The scope's cluster (set before [`Logs::set_scope`], which rescans when the scope moves).
    pub fn set_scope_cluster(&mut self, c: Option<ClusterId>) {
        if self.scope_cluster != c {
            self.scope_cluster = c;
            if self.scope.is_some() {
                self.rescan();
            }
        }
    }

    /// Whether the filter matches line `i` (its message, host or program; inverted by `!`).
    /// The names' answers are remembered per name, so a line costs one regex search.
    fn filter_hits(filter: &Filter, names: &mut Names, l: &LogLine) -> bool {
        names.hits_any(filter, &l.host, &l.program, &l.message) != filter.inverted
    }

    pub fn push(&mut self, line: LogLine) {
        self.push_in(ClusterId::default(), line)
    }

    /// A line from cluster `c`'s logs source.
    pub fn push_in(&mut self, c: ClusterId, mut line: LogLine) {
        self.received += 1;
        let host = self.names.intern(&line.host);
        let key = host.host_key;
        if !Arc::ptr_eq(&host.shared, &line.host) {
            line.host = host.shared.clone();
        }
        let program = self.names.intern(&line.program);
        let program_fnv = program.fnv;
        if !Arc::ptr_eq(&program.shared, &line.program) {
            line.program = program.shared.clone();
        }
        if self.lines.len() == self.capacity {
            if let Some(l) = self.lines.get(EVICT_PREFETCH) {
                prefetch_heap(l.message.as_ptr());
                prefetch_heap(l.fields.heap_ptr());
            }
            // A record whose head leaves: its lines still here are shown as lines of their own.
            let orphans = if self.records.enabled
                && self.records.tail_of(self.first_seq, self.first_seq) > 0
            {
                self.records.tail_seqs(self.first_seq, self.first_seq)
            } else {
                Vec::new()
            };
            self.records.evict(self.first_seq);
            let counted = self.counted_seqs().front() == Some(&self.first_seq);
            if let Some(gone) = self.lines.pop_front() {
                if counted {
                    self.hist.line_out(&gone);
                }
            }
            self.host_keys.pop_front();
            self.sevs.pop_front();
            self.clusters.pop_front();
            if self.matches.front() == Some(&self.first_seq) {
                self.matches.pop_front();
            }
            if self.hits.front() == Some(&self.first_seq) {
                self.hits.pop_front();
            }
            if self.marks.remove(&self.first_seq) {
                self.marks_dropped += 1;
            }
            self.first_seq += 1;
            self.dropped += 1;
            for seq in orphans {
                self.show_orphan(seq);
            }
        }
        if self.lines.len() == self.lines.capacity() {
            // Grow by doubling, but never past the configured size (a VecDeque would round
            // 100 000 up to 131 072 slots).
            let room = self.capacity - self.lines.len();
            self.lines.reserve_exact(self.lines.len().max(16).min(room));
        }
        if self.host_keys.len() == self.host_keys.capacity() {
            let room = self.capacity - self.host_keys.len();
            self.host_keys
                .reserve_exact(self.host_keys.len().max(16).min(room));
        }
        if self.sevs.len() == self.sevs.capacity() {
            let room = self.capacity - self.sevs.len();
            self.sevs.reserve_exact(self.sevs.len().max(16).min(room));
        }
        if self.clusters.len() == self.clusters.capacity() {
            let room = self.capacity - self.clusters.len();
            self.clusters
                .reserve_exact(self.clusters.len().max(16).min(room));
        }
        let seq = self.first_seq + self.lines.len() as u64;
        // A stream is one process: host, program and — when the line says it — its pid, so
        // two workers' traces interleaved on one host stay two records.
        let pid = line
            .fields
            .iter()
            .find(|(k, _)| *k == "pid" || *k == "procid")
            .map_or(0, |(_, v)| fnv(v));
        // The same host and program in two clusters are two processes (0 for a single view).
        let cluster = u64::from(c.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let stream = key ^ program_fnv.rotate_left(17) ^ pid.rotate_left(34) ^ cluster;
        self.records.push(seq, self.first_seq, stream, c, &line);
        self.sevs.push_back(line.severity.unwrap_or(NO_SEVERITY));
        self.clusters.push_back(c);
        self.lines.push_back(line);
        self.host_keys.push_back(key);
        let shown = self.admit(self.lines.len() - 1);
        let seq = self.first_seq + self.lines.len() as u64 - 1;
        if self.counted_seqs().back() == Some(&seq) {
            if let Some(l) = self.lines.back() {
                self.hist.line_in(l);
            }
        }
        if shown > 0 && !self.follow {
            self.unseen += shown as u64;
        }
    }

    /// Decides whether the line at ring index `i` (the newest so far) is shown, and whether it
    /// is a match; in filter mode with context, a match also shows the lines before it that were
    /// hidden. Returns how many lines became visible.
    fn admit(&mut self, i: usize) -> usize {
        let seq = self.first_seq + i as u64;
        if self.records.enabled {
            if let Some(head) = self.records.head_of(seq, self.first_seq) {
                return self.admit_continuation(i, head);
            }
        }
        if !self.base_at(i) {
            return 0;
        }
        let hit = match &self.filter {
            None => {
                self.matches.push_back(seq);
                return 1;
            }
            Some(f) => Self::filter_hits(f, &mut self.names, &self.lines[i]),
        };
        if hit {
            self.hits.push_back(seq);
        }
        match self.mode {
            FilterMode::Highlight => {
                self.matches.push_back(seq);
                1
            }
            FilterMode::Filter if hit => {
                let mut before = Vec::new();
                if self.context > 0 {
                    let shown_until = self.matches.back().copied();
                    let mut j = i;
                    while j > 0 && before.len() < self.context {
                        j -= 1;
                        let s = self.first_seq + j as u64;
                        if shown_until.is_some_and(|u| s <= u) {
                            break;
                        }
                        if self.base_at(j) {
                            before.push(s);
                        }
                    }
                }
                let n = before.len() + 1;
                self.matches.extend(before.into_iter().rev());
                self.matches.push_back(seq);
                self.context_left = self.context;
                n
            }
            FilterMode::Filter if self.context_left > 0 => {
                self.context_left -= 1;
                self.matches.push_back(seq);
                1
            }
            FilterMode::Filter => 0,
        }
    }

    /// A continuation line (ring index `i`) of the record headed by `head`: the record is one
    /// row, so the line shows nothing of its own — but a filter match in it makes the whole record
    /// a match. Returns how many rows became visible.
    fn admit_continuation(&mut self, i: usize, head: u64) -> usize {
        let Some(f) = &self.filter else {
            return 0;
        };
        let Some(h) = head.checked_sub(self.first_seq).map(|h| h as usize) else {
            return 0;
        };
        if !self.base_at(h) {
            return 0;
        }
        if !Self::filter_hits(f, &mut self.names, &self.lines[i]) {
            return 0;
        }
        if let Err(at) = self.hits.binary_search(&head) {
            self.hits.insert(at, head);
            // With a filter the histogram counts the matches: the record is one now.
            self.hist.line_in(&self.lines[h]);
        }
        match self.matches.binary_search(&head) {
            Ok(_) => 0,
            Err(at) => {
                self.matches.insert(at, head);
                1
            }
        }
    }

    /// A line whose record's head left the ring: shown (if it passes) as a line of its own.
    fn show_orphan(&mut self, seq: u64) {
        let Some(i) = seq.checked_sub(self.first_seq).map(|i| i as usize) else {
            return;
        };
        if i >= self.lines.len() || !self.base_at(i) {
            return;
        }
        let hit = match &self.filter {
            None => false,
            Some(f) => Self::filter_hits(f, &mut self.names, &self.lines[i]),
        };
        if hit {
            if let Err(at) = self.hits.binary_search(&seq) {
                self.hits.insert(at, seq);
                self.hist.line_in(&self.lines[i]);
            }
        }
        if self.filter.is_none() || hit || self.mode == FilterMode::Highlight {
            if let Err(at) = self.matches.binary_search(&seq) {
                self.matches.insert(at, seq);
                if self.filter.is_none() {
                    // Without a filter the histogram counts what is shown: one line more.
                    self.hist.line_in(&self.lines[i]);
                }
            }
        }
    }

    /// `r`: records on (a stack trace is one row) or off (every line as sent).
    pub fn toggle_records(&mut self) {
        self.records.enabled = !self.records.enabled;
        self.records.expanded.clear();
        self.rescan();
    }

    /// The continuation lines of the record headed by `head` (none when grouping is off).
    pub fn record_tail(&self, head: u64) -> Vec<&LogLine> {
        if !self.records.enabled {
            return Vec::new();
        }
        self.records
            .tail_seqs(head, self.first_seq)
            .into_iter()
            .filter_map(|s| self.get(s))
            .collect()
    }

    /// A head's continuation count (0 when grouping is off).
    fn tail_count(&self, head: u64) -> u32 {
        if self.records.enabled {
            self.records.tail_of(head, self.first_seq)
        } else {
            0
        }
    }

    /// The record at `seq` as text, one line each, as copied and saved.
    fn record_text(&self, seq: u64, zone: DisplayZone) -> String {
        let mut out = String::new();
        if let Some(l) = self.get(seq) {
            out.push_str(&line_text(l, zone));
        }
        for l in self.record_tail(seq) {
            out.push('\n');
            out.push_str(&line_text(l, zone));
        }
        out
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = LogLine>) {
        self.extend_in(ClusterId::default(), lines)
    }

    /// Lines from cluster `c`'s logs source.
    pub fn extend_in(&mut self, c: ClusterId, lines: impl IntoIterator<Item = LogLine>) {
        for l in lines {
            self.push_in(c, l);
        }
    }

    /// Re-evaluates what is shown over the whole buffer: only when the filter, its mode, the
    /// context, the scope or the threshold changes.
    fn rescan(&mut self) {
        self.hist.invalidate();
        self.matches.clear();
        self.hits.clear();
        self.context_left = 0;
        for i in 0..self.lines.len() {
            self.admit(i);
        }
    }

    pub fn set_filter(&mut self, f: Option<Filter>) {
        self.filter = f;
        self.rescan();
    }

    pub fn set_scope(&mut self, scope: Option<EntityScope>) {
        if self.scope != scope {
            self.scope_keys = scope.as_ref().map(scope_keys).unwrap_or_default();
            self.scope = scope;
            self.rescan();
        }
    }

    /// The threshold one step stricter (`v`: all → ≥ info → … → ≥ emerg → all) or looser (`V`).
    pub fn step_severity(&mut self, stricter: bool) {
        // Thresholds from loosest to strictest; `None` is "all".
        const LADDER: [Option<u8>; 8] = [
            None,
            Some(6),
            Some(5),
            Some(4),
            Some(3),
            Some(2),
            Some(1),
            Some(0),
        ];
        let at = LADDER
            .iter()
            .position(|t| *t == self.min_severity)
            .unwrap_or(0);
        let next = if stricter {
            (at + 1) % LADDER.len()
        } else {
            (at + LADDER.len() - 1) % LADDER.len()
        };
        self.min_severity = LADDER[next];
        self.rescan();
    }

    /// `v`: one step stricter.
    pub fn cycle_severity(&mut self) {
        self.step_severity(true);
    }

    /// The threshold as the title and the status line say it: `≥ warning`.
    pub fn threshold_label(&self) -> Option<String> {
        self.min_severity
            .map(|s| format!("≥ {}", SEVERITY_NAMES[s as usize]))
    }

    pub fn toggle_mode(&mut self) {
        self.mode = match self.mode {
            FilterMode::Filter => FilterMode::Highlight,
            FilterMode::Highlight => FilterMode::Filter,
        };
        self.rescan();
    }

    pub fn cycle_context(&mut self) {
        let at = CONTEXT_STEPS
            .iter()
            .position(|c| *c == self.context)
            .unwrap_or(0);
        self.context = CONTEXT_STEPS[(at + 1) % CONTEXT_STEPS.len()];
        self.rescan();
    }

    /// Whether the shown line `seq` is only context around a match (drawn muted).
    pub fn is_context(&self, seq: u64) -> bool {
        self.filter.is_some()
            && self.mode == FilterMode::Filter
            && self.hits.binary_search(&seq).is_err()
    }

    pub fn is_marked(&self, seq: u64) -> bool {
        self.marks.contains(&seq)
    }

    pub fn toggle_follow(&mut self) {
        if self.follow {
            self.pause_at(self.matches.len().checked_sub(1));
        } else {
            self.bottom();
        }
    }

    /// Stops following with the cursor on the `i`-th matching line (the screen stays put).
    fn pause_at(&mut self, i: Option<usize>) {
        self.follow = false;
        self.unseen = 0;
        self.cursor_seq = i.and_then(|i| self.matches.get(i).copied());
        self.top_seq = self.matches.get(self.view.offset()).copied();
    }

    /// Index in `matches` of the selected line: the newest while following.
    pub fn selected_index(&self) -> Option<usize> {
        if self.matches.is_empty() {
            return None;
        }
        if self.follow {
            return Some(self.matches.len() - 1);
        }
        let c = self.cursor_seq?;
        Some(match self.matches.binary_search(&c) {
            Ok(i) => i,
            Err(i) => i.min(self.matches.len() - 1),
        })
    }

    /// Sequence number of the selected line.
    fn selected_seq(&self) -> Option<u64> {
        self.matches.get(self.selected_index()?).copied()
    }

    pub fn selected(&self) -> Option<&LogLine> {
        let i = self.selected_index()?;
        self.get(*self.matches.get(i)?)
    }

    /// Moving up pauses follow (and says so); reaching the bottom again resumes it.
    pub fn move_selection(&mut self, delta: isize) {
        let Some(i) = self.selected_index() else {
            return;
        };
        let last = self.matches.len() - 1;
        let j = (i as isize + delta).clamp(0, last as isize) as usize;
        if j == last && delta > 0 {
            self.bottom();
            return;
        }
        if self.follow {
            if delta >= 0 {
                return;
            }
            self.pause_at(Some(i));
        }
        self.cursor_seq = self.matches.get(j).copied();
    }

    /// Puts the cursor on the shown line `seq`, pausing follow; the screen scrolls to it.
    fn select_seq(&mut self, seq: u64) {
        if self.follow {
            let i = self.selected_index();
            self.pause_at(i);
        }
        self.cursor_seq = Some(seq);
    }

    /// The oldest lines fill the pane, the cursor on the first.
    pub fn top(&mut self) {
        self.pause_at(Some(0));
        self.top_seq = self.matches.front().copied();
    }

    /// Pauses with the cursor on the `row`-th line on screen (a click).
    pub fn select_on_screen(&mut self, row: usize) {
        let i = self.view.offset() + row;
        if i >= self.matches.len() {
            return;
        }
        let top = self.view.offset();
        self.pause_at(Some(i));
        self.top_seq = self.matches.get(top).copied();
    }

    /// Back to the newest line, following.
    pub fn bottom(&mut self) {
        self.follow = true;
        self.cursor_seq = None;
        self.top_seq = None;
        self.unseen = 0;
    }

    /// Where searches start: the selected line, or — while following, when no cursor is on
    /// screen — just past the newest line, so that `N`, `E`, `W` and `U` find the newest one.
    fn search_from(&self) -> Option<u64> {
        if self.follow {
            return self.matches.back().map(|s| s + 1);
        }
        self.selected_seq()
    }

    /// The next (or previous) shown line after the cursor that `wanted` accepts.
    fn seek(&self, dir: Dir, wanted: impl Fn(u64) -> bool) -> Option<u64> {
        let cur = self.search_from()?;
        let i = self.matches.partition_point(|s| *s < cur);
        match dir {
            Dir::Forward => self
                .matches
                .range((i + 1).min(self.matches.len())..)
                .copied()
                .find(|s| wanted(*s)),
            Dir::Backward => self.matches.range(..i).rev().copied().find(|s| wanted(*s)),
        }
    }

    /// `n`/`N`: the next or previous line the filter matches (in either mode): a binary search.
    fn seek_hit(&self, dir: Dir) -> Option<u64> {
        let cur = self.search_from()?;
        match dir {
            Dir::Forward => {
                let at = self.hits.partition_point(|s| *s <= cur);
                self.hits.get(at).copied()
            }
            Dir::Backward => {
                let at = self.hits.partition_point(|s| *s < cur);
                at.checked_sub(1).and_then(|k| self.hits.get(k).copied())
            }
        }
    }

    /// `e`/`E` (`worst` 3: err or worse) and `w`/`W` (4: warning or worse).
    fn seek_severity(&self, dir: Dir, worst: u8) -> Option<u64> {
        self.seek(dir, |s| self.sev_of(s).is_some_and(|v| v <= worst))
    }

    /// `u`/`U`: the next or previous mark on a shown line.
    fn seek_mark(&self, dir: Dir) -> Option<u64> {
        let cur = self.search_from()?;
        let shown = |s: &&u64| self.matches.binary_search(s).is_ok();
        match dir {
            Dir::Forward => self.marks.range(cur + 1..).find(shown).copied(),
            Dir::Backward => self.marks.range(..cur).rev().find(shown).copied(),
        }
    }

    /// `m`: marks the selected line, or unmarks it. Returns whether it is marked now.
    pub fn toggle_mark(&mut self) -> Option<bool> {
        let seq = self.selected_seq()?;
        if !self.marks.remove(&seq) {
            self.marks.insert(seq);
            return Some(true);
        }
        Some(false)
    }

    /// The lines the histogram counts (sequence numbers): those the filter matches, or without
    /// a filter every line the pane shows (context lines are not counted).
    fn counted_seqs(&self) -> &VecDeque<u64> {
        if self.filter.is_some() {
            &self.hits
        } else {
            &self.matches
        }
    }

    /// The lines the histogram counts, oldest first.
    pub fn counted(&self) -> impl Iterator<Item = &LogLine> {
        self.counted_seqs().iter().filter_map(|s| self.get(*s))
    }

    /// How much time the buffered lines span (newest minus oldest time): what a ring of
    /// `capacity` lines holds of a busy stream.
    pub fn span_held(&self) -> Option<chrono::Duration> {
        let oldest = self.oldest_time()?;
        let newest = self.lines.iter().rev().find_map(|l| l.time)?;
        Some((newest - oldest).max(chrono::Duration::zero()))
    }

    /// The time of the oldest buffered line that has one: how far back the buffer reaches.
    pub fn oldest_time(&self) -> Option<DateTime<Utc>> {
        self.lines.iter().find_map(|l| l.time)
    }

    /// `t`: the cursor on the earliest shown line at or after `at` (the first of those in the
    /// buffer on a tie). `None` when no line is. The earliest by time, not the first in the
    /// buffer: lines read again around a moment are appended after the live tail, so the first
    /// line at or after `at` in buffer order can be a live one hours later.
    pub fn jump_to_time(&mut self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let found = self
            .matches
            .iter()
            .copied()
            .filter_map(|s| Some((s, self.get(s)?.time?)))
            .filter(|(_, t)| *t >= at)
            .min_by_key(|(_, t)| *t)
            .map(|(s, _)| s)?;
        let time = self.get(found).and_then(|l| l.time);
        self.select_seq(found);
        time
    }

    /// Lines a backend read again around a time jump: those not already buffered are added (in
    /// time order), then the cursor goes to `at`. Returns the time of the line it landed on.
    pub fn insert_around(
        &mut self,
        at: DateTime<Utc>,
        lines: Vec<LogLine>,
    ) -> Option<DateTime<Utc>> {
        self.insert_around_in(ClusterId::default(), at, lines)
    }

    /// As [`insert_around`](Self::insert_around), the lines read back from cluster `c`'s logs
    /// backend (a merged view): tagged with that cluster, and only that cluster's buffered
    /// lines count as already there (the same line text may come from two clusters).
    pub fn insert_around_in(
        &mut self,
        c: ClusterId,
        at: DateTime<Utc>,
        lines: Vec<LogLine>,
    ) -> Option<DateTime<Utc>> {
        let (from, to) = (at - AROUND, at + AROUND);
        let known: HashSet<(Option<DateTime<Utc>>, &str, &str)> = self
            .lines
            .iter()
            .zip(self.clusters.iter())
            .filter(|(_, lc)| **lc == c)
            .map(|(l, _)| l)
            .filter(|l| l.time.is_some_and(|t| t >= from && t < to))
            .map(|l| (l.time, &*l.host, l.message.as_str()))
            .collect();
        let mut new: Vec<LogLine> = lines
            .into_iter()
            .filter(|l| !known.contains(&(l.time, &*l.host, l.message.as_str())))
            .collect();
        new.sort_by_key(|l| l.time);
        let waiting = self.pending_jump == Some(at);
        self.pending_jump = None;
        let first_new = self.first_seq + self.lines.len() as u64;
        let follow = self.follow;
        self.extend_in(c, new);
        if !waiting {
            return None;
        }
        // Prefer the re-read lines: they hold the moment asked for.
        let landed = self
            .matches
            .iter()
            .copied()
            .filter(|s| *s >= first_new)
            .find(|s| self.get(*s).and_then(|l| l.time).is_some_and(|t| t >= at));
        match landed {
            Some(seq) => {
                self.follow = follow;
                self.select_seq(seq);
                self.get(seq).and_then(|l| l.time)
            }
            None => self.jump_to_time(at),
        }
    }

    /// Brings the positions up to date with the lines: while following, the newest lines fill
    /// the pane; while paused, the screen stays on the same lines and keeps the cursor in view.
    pub fn fit(&mut self) {
        let len = self.matches.len();
        if self.follow {
            self.view.select(len.checked_sub(1));
            self.view.fit(len);
            return;
        }
        if self.cursor_seq.is_none() {
            // Paused before any line was shown: the cursor takes the first line that is.
            self.cursor_seq = self.matches.get(self.view.offset()).copied();
        }
        self.view.select(self.selected_index());
        let top = self
            .top_seq
            .map(|t| self.matches.partition_point(|s| *s < t))
            .unwrap_or(0);
        self.view.scroll_to(top);
        self.view.fit(len);
        self.top_seq = self.matches.get(self.view.offset()).copied();
    }

    /// The shown lines on screen, oldest first, each with whether it is the selected one.
    pub fn visible(&self) -> impl Iterator<Item = (&LogLine, bool)> {
        self.visible_rows().map(|r| (r.line, r.selected))
    }

    /// The shown lines on screen with what the view needs to draw each.
    pub fn visible_rows(&self) -> impl Iterator<Item = Row<'_>> {
        let selected = (!self.follow).then(|| self.selected_index()).flatten();
        let offset = self.view.offset();
        self.matches
            .iter()
            .enumerate()
            .skip(offset)
            .take(self.view.rows())
            .filter_map(move |(i, s)| {
                self.get(*s).map(|line| {
                    let expanded = self.records.expanded.contains(s);
                    Row {
                        line,
                        cluster: self.cluster_of(*s),
                        selected: Some(i) == selected,
                        context: self.is_context(*s),
                        marked: self.is_marked(*s),
                        tail: self.tail_count(*s),
                        tail_lines: if expanded {
                            self.record_tail(*s)
                        } else {
                            Vec::new()
                        },
                    }
                })
            })
    }

    /// Every shown line, oldest first.
    pub fn matching(&self) -> impl Iterator<Item = &LogLine> {
        self.matches.iter().filter_map(|s| self.get(*s))
    }

    /// What `:w` writes: the shown lines as text (one per line, as copied), or as JSON lines
    /// when `jsonl`.
    pub fn export(&self, jsonl: bool, zone: DisplayZone) -> (String, usize) {
        let mut out = String::new();
        let mut n = 0;
        for seq in &self.matches {
            let Some(l) = self.get(*seq) else {
                continue;
            };
            // A record is saved whole: its first line, then its continuation lines.
            for l in std::iter::once(l).chain(self.record_tail(*seq)) {
                if jsonl {
                    out.push_str(&line_json(l).to_string());
                } else {
                    out.push_str(&line_text(l, zone));
                }
                out.push('\n');
                n += 1;
            }
        }
        (out, n)
    }
}

/// What a JSON message's one-line summary shows: the logs source's `fields = [...]` (empty: the
/// first few scalar fields) and never its `hide_fields = [...]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldChoice {
    pub shown: Vec<String>,
    pub hidden: Vec<String>,
}

impl Logs {
    /// Cluster `c`'s logs source's profile settings for its lines: the fields a summary shows
    /// and hides, and what continues a record.
    pub fn set_line_rules(
        &mut self,
        c: ClusterId,
        fields: FieldChoice,
        continuation: Option<regex::RegexSet>,
    ) {
        let i = c.0 as usize;
        if self.fields.len() <= i {
            self.fields.resize(i + 1, FieldChoice::default());
        }
        self.fields[i] = fields;
        if let Some(set) = continuation {
            self.records
                .set_rules(c, super::log_records::Rules::Custom(set));
        }
    }

    /// The fields a summary of cluster `c`'s lines shows and hides.
    pub fn fields_in(&self, c: ClusterId) -> &FieldChoice {
        static NONE: FieldChoice = FieldChoice {
            shown: Vec::new(),
            hidden: Vec::new(),
        };
        self.fields.get(c.0 as usize).unwrap_or(&NONE)
    }
}

/// One shown line as the view draws it.
pub struct Row<'a> {
    pub line: &'a LogLine,
    /// The cluster whose logs source sent it (a merged view's CLUSTER column).
    pub cluster: ClusterId,
    pub selected: bool,
    /// Context around a match, not a match itself (drawn muted).
    pub context: bool,
    pub marked: bool,
    /// The record's continuation lines (0: a line of its own), shown as `(+N)`…
    pub tail: u32,
    /// …or, expanded (Enter), these below it.
    pub tail_lines: Vec<&'a LogLine>,
}

/// A line's display text: time (in the display zone, with its offset), host, program, severity
/// (`-` when unknown) and message — already sanitised, so no control character can reach a
/// clipboard or a file.
pub fn line_text(l: &LogLine, zone: DisplayZone) -> String {
    let time = match l.time {
        Some(t) if zone == DisplayZone::Utc => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Some(t) => zone.at(t).format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
        None => "-".into(),
    };
    let sev = l
        .severity
        .map(|s| SEVERITY_NAMES[s as usize])
        .unwrap_or("-");
    let dash = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{time} {} {} {sev} {}",
        dash(&l.host),
        dash(&l.program),
        l.message
    )
}

fn line_json(l: &LogLine) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert(
        "time".into(),
        l.time
            .map(|t| serde_json::Value::String(t.to_rfc3339()))
            .unwrap_or(serde_json::Value::Null),
    );
    m.insert("host".into(), l.host.to_string().into());
    m.insert("program".into(), l.program.to_string().into());
    m.insert(
        "severity".into(),
        l.severity
            .map(|s| serde_json::Value::String(SEVERITY_NAMES[s as usize].into()))
            .unwrap_or(serde_json::Value::Null),
    );
    m.insert("message".into(), l.message.clone().into());
    for (k, v) in &l.fields {
        if !m.contains_key(k) {
            m.insert(k.to_owned(), v.into());
        }
    }
    serde_json::Value::Object(m)
}

/// `t`'s text (`14:02`, `14:02:30`, `-15m`, `yesterday 14:00`, a date and time, RFC 3339) in the
/// display zone, looking back.
pub fn parse_time_target(
    text: &str,
    now: DateTime<Utc>,
    zone: DisplayZone,
) -> Result<Resolved, String> {
    crate::model::typed_time::parse(text, now, zone, Lean::Past).map_err(|e| {
        if e.starts_with("cannot read") {
            format!("{e} — try t 14:02, t 14:02:30, t -15m, t yesterday 14:00 or t 2026-12-03T14:02:00Z")
        } else {
            e
        }
    })
}

impl PaneState for Logs {
    fn name(&self) -> &'static str {
        "logs"
    }

    fn filterable(&self) -> bool {
        true
    }

    fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    fn set_filter(&mut self, filter: Option<Filter>) -> Result<(), String> {
        Logs::set_filter(self, filter);
        Ok(())
    }

    fn filter_counts(&self) -> (usize, usize, &'static str) {
        (self.hit_count(), self.len(), "buffered lines")
    }

    fn on_action(&mut self, action: Action, ctx: &PaneCtx) -> Reaction {
        let page = self.view.page();
        let go = |l: &mut Logs, found: Option<u64>, what: &str| -> Reaction {
            match found {
                Some(seq) => {
                    l.select_seq(seq);
                    Reaction::default()
                }
                None => Reaction::info(what.to_string()),
            }
        };
        match action {
            Action::Down => self.move_selection(1),
            Action::Up => self.move_selection(-1),
            Action::PageDown => self.move_selection(page),
            Action::PageUp => self.move_selection(-page),
            Action::Top => self.top(),
            Action::Bottom => self.bottom(),
            Action::ToggleFollow => {
                self.toggle_follow();
                return Reaction::info(if self.follow {
                    "following new lines"
                } else {
                    "follow paused"
                });
            }
            Action::CycleSeverity | Action::CycleSeverityBack => {
                self.step_severity(action == Action::CycleSeverity);
                let t = match self.threshold_label() {
                    None => "all severities".to_string(),
                    Some(l) => format!("severity {l} (and lines without one)"),
                };
                return Reaction::info(format!("logs: {t}"));
            }
            Action::ToggleWrap => {
                self.wrap = !self.wrap;
                return Reaction::info(if self.wrap {
                    "logs: wrap on — long lines continue below, indented under the message"
                } else {
                    "logs: wrap off — h/l scroll long lines sideways"
                });
            }
            Action::TogglePretty => {
                self.pretty = !self.pretty;
                return Reaction::info(if self.pretty {
                    "logs: pretty on — JSON messages indented below their line, newlines in strings expanded; fields listed"
                } else {
                    "logs: pretty off — JSON messages summarised as level, message and fields"
                });
            }
            Action::ToggleFilterMode => {
                self.toggle_mode();
                let what = match self.mode {
                    FilterMode::Filter => "filter: only matching lines are shown",
                    FilterMode::Highlight => "highlight: every line is shown, matches highlighted",
                };
                let hint = if self.filter.is_none() {
                    " (/ sets the regex)"
                } else {
                    ""
                };
                return Reaction::info(format!("logs: {what}{hint}"));
            }
            Action::NextMatch | Action::PrevMatch => {
                if self.filter.is_none() {
                    return Reaction::info(
                        "logs: no filter — / sets one, then n/N move between its matches",
                    );
                }
                let dir = if action == Action::NextMatch {
                    Dir::Forward
                } else {
                    Dir::Backward
                };
                let found = self.seek_hit(dir);
                return go(
                    self,
                    found,
                    if dir == Dir::Forward {
                        "no later match"
                    } else {
                        "no earlier match"
                    },
                );
            }
            Action::NextError | Action::PrevError => {
                let dir = if action == Action::NextError {
                    Dir::Forward
                } else {
                    Dir::Backward
                };
                let found = self.seek_severity(dir, 3);
                return go(
                    self,
                    found,
                    if dir == Dir::Forward {
                        "no later error"
                    } else {
                        "no earlier error"
                    },
                );
            }
            Action::NextWarning | Action::PrevWarning => {
                let dir = if action == Action::NextWarning {
                    Dir::Forward
                } else {
                    Dir::Backward
                };
                let found = self.seek_severity(dir, 4);
                return go(
                    self,
                    found,
                    if dir == Dir::Forward {
                        "no later warning or error"
                    } else {
                        "no earlier warning or error"
                    },
                );
            }
            Action::ToggleMark => {
                return match self.toggle_mark() {
                    Some(true) => Reaction::info(format!(
                        "marked ({} marks; u/U move between them)",
                        self.mark_count()
                    )),
                    Some(false) => {
                        Reaction::info(format!("mark removed ({} left)", self.mark_count()))
                    }
                    None => Reaction::info("no line to mark"),
                };
            }
            Action::NextMark | Action::PrevMark => {
                if self.marks.is_empty() {
                    return Reaction::info("no marks — m marks the selected line");
                }
                let dir = if action == Action::NextMark {
                    Dir::Forward
                } else {
                    Dir::Backward
                };
                let found = self.seek_mark(dir);
                return go(
                    self,
                    found,
                    if dir == Dir::Forward {
                        "no later mark"
                    } else {
                        "no earlier mark"
                    },
                );
            }
            Action::CycleContext => {
                self.cycle_context();
                let hint = if self.filter.is_none() || self.mode == FilterMode::Highlight {
                    " (shown around matches while / filters)"
                } else {
                    ""
                };
                return Reaction::info(format!(
                    "logs: {} context lines around each match{hint}",
                    self.context
                ));
            }
            Action::ScrollLeft | Action::ScrollRight => {
                if self.wrap {
                    return Reaction::info(
                        "wrap is on: long lines are wrapped, not scrolled (ctrl-w turns wrap off)",
                    );
                }
                self.hscroll = if action == Action::ScrollRight {
                    self.hscroll
                        .saturating_add(HSCROLL_STEP)
                        .min(crate::model::text::MAX_LINE_CHARS)
                } else {
                    self.hscroll.saturating_sub(HSCROLL_STEP)
                };
            }
            Action::TimeJump => {
                return Reaction::input(super::InputKind::TimeJump);
            }
            Action::Copy => {
                return match self.selected_seq() {
                    Some(seq) => Reaction::copy_lines(self.record_text(seq, ctx.zone).lines()),
                    None => Reaction::info("no line to copy"),
                };
            }
            Action::ToggleRecords => {
                self.toggle_records();
                self.fit();
                return Reaction::info(if self.records.enabled {
                    "logs: records — a stack trace is one row, (+N) more lines; Enter expands it"
                } else {
                    "logs: every line as sent, continuation lines too"
                });
            }
            Action::Detail if self.selected_seq().is_some_and(|s| self.tail_count(s) > 0) => {
                // A record: Enter shows its continuation lines below it, again hides them.
                let Some(seq) = self.selected_seq() else {
                    return Reaction::default();
                };
                let n = self.tail_count(seq);
                return Reaction::info(if self.records.expanded.remove(&seq) {
                    format!("logs: record folded (+{n})")
                } else {
                    self.records.expanded.insert(seq);
                    format!("logs: record expanded, {n} more lines — Enter folds it")
                });
            }
            Action::Detail => {
                if let Some(line) = self.selected() {
                    return Reaction::open(Popup::LogDetail {
                        line: Box::new(line.clone()),
                        scroll: 0,
                    });
                }
            }
            _ => {}
        }
        Reaction::default()
    }
}

/// `t` submitted: the cursor goes to that time in the buffer; Elasticsearch and Loki are asked
/// for the lines ±5 minutes around it, and the cursor moves again when they arrive.
pub fn time_jump(
    logs: &mut Logs,
    text: &str,
    now: DateTime<Utc>,
    zone: DisplayZone,
    rereads: bool,
) -> (String, Vec<Command>) {
    match parse_time_target(text, now, zone) {
        Ok(r) => {
            let (mut say, cmds) = jump_at(logs, r.at, zone, rereads);
            if let Some(note) = r.note {
                say.push_str(" — ");
                say.push_str(&note);
            }
            (say, cmds)
        }
        Err(e) => (e, Vec::new()),
    }
}

/// The cursor to the first line at or after `at` (`t`, or Enter on a histogram bucket); with
/// `rereads`, Elasticsearch and Loki are asked for the lines ±5 minutes around it.
pub fn jump_at(
    logs: &mut Logs,
    at: DateTime<Utc>,
    zone: DisplayZone,
    rereads: bool,
) -> (String, Vec<Command>) {
    let shown = zone.clock_with_offset(at);
    let landed = logs.jump_to_time(at);
    let mut say = match landed {
        Some(t) if t - at < chrono::Duration::seconds(60) => format!("logs at {shown}"),
        Some(_) => format!("logs: the first line at or after {shown} is later"),
        None => format!("logs: no buffered line at or after {shown}"),
    };
    let mut cmds = Vec::new();
    if rereads {
        logs.pending_jump = Some(at);
        say.push_str(" — reading ±5 min around it again");
        cmds.push(Command::LogsAround(at));
    }
    (say, cmds)
}

/// Keys a matching line's host can have: a name equal to the entity shares its host part, a
/// name equal to the host part is it.
fn scope_keys(scope: &EntityScope) -> Vec<u64> {
    let mut keys: Vec<u64> = scope
        .names
        .iter()
        .flat_map(|n| [host_key(n), fnv(n)])
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn line(msg: &str, sev: u8) -> LogLine {
        LogLine {
            host: "web-1".into(),
            program: "app".into(),
            severity: Some(sev),
            message: msg.into(),
            ..Default::default()
        }
    }

    #[test]
    fn lines_share_host_and_program_names() {
        let mut l = Logs::with_capacity(10);
        for i in 0..3 {
            l.push(line(&format!("m{i}"), 6));
        }
        let w: Vec<&LogLine> = l.matching().collect();
        assert!(Arc::ptr_eq(&w[0].host, &w[2].host));
        assert!(Arc::ptr_eq(&w[0].program, &w[1].program));
        assert_eq!((&*w[2].host, &*w[2].program), ("web-1", "app"));
        // Ever-new names: the table starts afresh instead of growing; lines keep their names.
        for i in 0..20_000 {
            let mut x = line("n", 6);
            x.host = format!("h-{i}").into();
            l.push(x);
        }
        assert_eq!(&*l.matching().last().unwrap().host, "h-19999");
    }

    #[test]
    fn ring_evicts_and_counts_drops() {
        let mut l = Logs::with_capacity(3);
        for i in 0..5 {
            l.push(line(&format!("m{i}"), 6));
        }
        assert_eq!(l.len(), 3);
        assert_eq!(l.dropped, 2);
        let w: Vec<_> = l.matching().map(|x| x.message.clone()).collect();
        assert_eq!(w, ["m2", "m3", "m4"]);
    }

    #[test]
    fn filter_is_incremental_and_survives_eviction() {
        let mut l = Logs::with_capacity(4);
        l.set_filter(Filter::parse("err").unwrap());
        for m in ["ok", "err 1", "ok", "err 2", "err 3", "ok"] {
            l.push(line(m, 6));
        }
        let w: Vec<_> = l.matching().map(|x| x.message.clone()).collect();
        assert_eq!(w, ["err 2", "err 3"]);
        assert_eq!(l.match_count(), 2);
    }

    #[test]
    fn severity_threshold() {
        let mut l = Logs::with_capacity(10);
        l.push(line("debug", 7));
        l.push(line("error", 3));
        l.cycle_severity(); // err and worse
        assert_eq!(l.match_count(), 1);
        assert_eq!(l.selected().unwrap().message, "error");
    }

    #[test]
    fn scrolling_up_pauses_follow_and_counts_unseen() {
        let mut l = Logs::with_capacity(100);
        for i in 0..10 {
            l.push(line(&format!("m{i}"), 6));
        }
        l.move_selection(-3);
        assert!(!l.follow);
        assert_eq!(l.selected().unwrap().message, "m6");
        l.push(line("new", 6));
        assert_eq!(l.unseen, 1);
        assert_eq!(
            l.selected().unwrap().message,
            "m6",
            "a paused view does not move"
        );
        l.move_selection(100);
        assert!(l.follow);
        assert_eq!(l.selected().unwrap().message, "new");
    }

    #[test]
    fn scope_keeps_the_member_s_lines_by_name_address_or_host() {
        let mut l = Logs::with_capacity(100);
        for host in [
            "web-1",
            "web-2",
            "10.0.0.1",
            "10.0.0.1:9100",
            "10.0.0.2:9100",
            "web-10",
        ] {
            l.push(LogLine {
                host: host.into(),
                message: host.into(),
                ..Default::default()
            });
        }
        let shown = |l: &Logs| -> Vec<String> { l.matching().map(|x| x.message.clone()).collect() };
        l.set_scope(Some(EntityScope {
            label: "web-1".into(),
            names: vec!["web-1".into(), "10.0.0.1:9100".into(), "10.0.0.1".into()],
            ..Default::default()
        }));
        assert_eq!(shown(&l), ["web-1", "10.0.0.1", "10.0.0.1:9100"]);
        l.push(line("new", 6)); // host web-1
        assert_eq!(l.match_count(), 4);
        l.set_scope(Some(EntityScope {
            label: "x".into(),
            names: vec!["10.0.0.2:9100".into()],
            ..Default::default()
        }));
        assert_eq!(shown(&l), ["10.0.0.2:9100"]);
        l.set_scope(None);
        assert_eq!(l.match_count(), 7);
    }

    #[test]
    fn paused_cursor_evicted_moves_to_oldest() {
        let mut l = Logs::with_capacity(3);
        for i in 0..3 {
            l.push(line(&format!("m{i}"), 6));
        }
        l.top();
        l.push(line("m3", 6));
        assert_eq!(l.selected().unwrap().message, "m1");
    }

    fn screen(l: &Logs) -> Vec<String> {
        l.visible()
            .map(|(x, sel)| format!("{}{}", if sel { ">" } else { "" }, x.message))
            .collect()
    }

    #[test]
    fn top_fills_the_pane_with_the_oldest_lines_and_the_cursor_moves_freely() {
        let mut l = Logs::with_capacity(100);
        l.view.set_rows(4);
        for i in 0..10 {
            l.push(line(&format!("m{i}"), 6));
        }
        l.fit();
        assert_eq!(
            screen(&l),
            ["m6", "m7", "m8", "m9"],
            "following: the newest"
        );
        l.top();
        l.fit();
        assert_eq!(
            screen(&l),
            [">m0", "m1", "m2", "m3"],
            "g: the oldest fill the pane"
        );
        l.move_selection(2);
        l.fit();
        assert_eq!(
            screen(&l),
            ["m0", "m1", ">m2", "m3"],
            "the cursor moves on screen"
        );
        l.move_selection(3);
        l.fit();
        assert_eq!(
            screen(&l),
            ["m2", "m3", "m4", ">m5"],
            "and scrolls at the edge"
        );
        // New lines while paused: the screen stays where it is.
        l.push(line("new", 6));
        l.fit();
        assert_eq!(screen(&l), ["m2", "m3", "m4", ">m5"]);
        assert_eq!(l.unseen, 1);
        l.bottom();
        l.fit();
        assert_eq!(screen(&l), ["m7", "m8", "m9", "new"], "G: following again");
    }

    fn sel(l: &Logs) -> String {
        l.selected().map(|x| x.message.clone()).unwrap_or_default()
    }

    fn logs_of(msgs: &[(&str, Option<u8>)]) -> Logs {
        let mut l = Logs::with_capacity(1000);
        l.view.set_rows(5);
        for (m, sev) in msgs {
            l.push(LogLine {
                host: "web-1".into(),
                program: "app".into(),
                severity: *sev,
                message: (*m).into(),
                ..Default::default()
            });
        }
        l.fit();
        l
    }

    fn act(l: &mut Logs, a: Action) -> Reaction {
        let r = l.on_action(
            a,
            &PaneCtx {
                checks_kind: "",
                zone: DisplayZone::Utc,
            },
        );
        l.fit();
        r
    }

    #[test]
    fn highlight_mode_shows_every_line_and_n_moves_between_matches() {
        let msgs: Vec<(String, Option<u8>)> = (0..11)
            .map(|i| {
                (
                    if i % 3 == 0 {
                        format!("boom {i}")
                    } else {
                        format!("ok {i}")
                    },
                    Some(6),
                )
            })
            .collect();
        let refs: Vec<(&str, Option<u8>)> = msgs.iter().map(|(m, s)| (m.as_str(), *s)).collect();
        let mut l = logs_of(&refs);
        // Without a filter, n says how to get one.
        let r = act(&mut l, Action::NextMatch);
        assert!(r.say.unwrap().1.contains("no filter"));
        l.set_filter(Filter::parse("boom").unwrap());
        assert_eq!(
            (l.match_count(), l.hit_count()),
            (4, 4),
            "filter: only matches shown"
        );
        act(&mut l, Action::ToggleFilterMode);
        assert_eq!(l.mode, FilterMode::Highlight);
        assert_eq!(
            (l.match_count(), l.hit_count()),
            (11, 4),
            "highlight: every line shown"
        );
        // Following: N goes back to the newest match, then further back; n forward again.
        act(&mut l, Action::PrevMatch);
        assert_eq!(sel(&l), "boom 9");
        assert!(!l.follow, "a jump pauses follow");
        act(&mut l, Action::PrevMatch);
        assert_eq!(sel(&l), "boom 6");
        act(&mut l, Action::Up);
        assert_eq!(sel(&l), "ok 5");
        act(&mut l, Action::NextMatch);
        assert_eq!(sel(&l), "boom 6");
        l.top();
        act(&mut l, Action::NextMatch);
        assert_eq!(
            sel(&l),
            "boom 3",
            "the first line is a match: n moves past it"
        );
        let r = act(&mut l, Action::PrevMatch);
        assert_eq!(sel(&l), "boom 0");
        assert!(r.say.is_none());
        let r = act(&mut l, Action::PrevMatch);
        assert_eq!(r.say.unwrap().1, "no earlier match");
        // New matches arriving in highlight mode are found too.
        l.push(line("boom new", 6));
        l.push(line("ok last", 6));
        l.bottom();
        act(&mut l, Action::PrevMatch);
        assert_eq!(sel(&l), "boom new");
        // Back to filter mode: n/N work the same on the hidden-others list.
        act(&mut l, Action::ToggleFilterMode);
        assert_eq!(l.match_count(), 5);
        act(&mut l, Action::PrevMatch);
        assert_eq!(sel(&l), "boom 9");
    }

    #[test]
    fn errors_and_warnings_both_ways() {
        let mut l = logs_of(&[
            ("e0", Some(3)),
            ("i1", Some(6)),
            ("w2", Some(4)),
            ("c3", Some(2)),
            ("n4", None),
            ("i5", Some(6)),
        ]);
        act(&mut l, Action::PrevError);
        assert_eq!(sel(&l), "c3", "crit counts as an error");
        act(&mut l, Action::PrevError);
        assert_eq!(sel(&l), "e0");
        act(&mut l, Action::NextWarning);
        assert_eq!(sel(&l), "w2", "warning or worse");
        act(&mut l, Action::NextWarning);
        assert_eq!(sel(&l), "c3");
        let r = act(&mut l, Action::NextError);
        assert_eq!(r.say.unwrap().1, "no later error");
        assert_eq!(sel(&l), "c3", "the cursor stays");
        act(&mut l, Action::PrevWarning);
        assert_eq!(sel(&l), "w2");
    }

    #[test]
    fn severity_threshold_both_ways_keeps_lines_without_a_severity() {
        let mut l = logs_of(&[
            ("emerg", Some(0)),
            ("crit", Some(2)),
            ("warning", Some(4)),
            ("info", Some(6)),
            ("file format", None),
        ]);
        let label = |l: &Logs| l.threshold_label().unwrap_or_else(|| "all".into());
        let mut seen = Vec::new();
        for _ in 0..8 {
            act(&mut l, Action::CycleSeverity);
            seen.push(format!("{} {}", label(&l), l.match_count()));
        }
        assert_eq!(
            seen,
            [
                "≥ info 5",
                "≥ notice 4",
                "≥ warning 4",
                "≥ err 3",
                "≥ crit 3",
                "≥ alert 2",
                "≥ emerg 2",
                "all 5"
            ]
        );
        let r = act(&mut l, Action::CycleSeverityBack);
        assert_eq!(label(&l), "≥ emerg", "V goes the other way round");
        assert!(r.say.unwrap().1.contains("≥ emerg"));
        assert!(
            l.matching().any(|x| x.message == "file format"),
            "never hidden by the threshold"
        );
        act(&mut l, Action::CycleSeverityBack);
        assert_eq!(label(&l), "≥ alert");
    }

    #[test]
    fn marks_move_both_ways_and_count_drops() {
        let mut l = Logs::with_capacity(6);
        l.view.set_rows(3);
        for i in 0..6 {
            l.push(line(&format!("m{i}"), 6));
        }
        l.fit();
        let r = act(&mut l, Action::NextMark);
        assert!(r.say.unwrap().1.contains("no marks"));
        l.top(); // m0
        act(&mut l, Action::ToggleMark);
        act(&mut l, Action::Down);
        act(&mut l, Action::Down); // m2
        act(&mut l, Action::ToggleMark);
        act(&mut l, Action::Down);
        act(&mut l, Action::Down); // m4
        act(&mut l, Action::ToggleMark);
        assert_eq!(l.mark_count(), 3);
        act(&mut l, Action::PrevMark);
        assert_eq!(sel(&l), "m2");
        act(&mut l, Action::PrevMark);
        assert_eq!(sel(&l), "m0");
        act(&mut l, Action::NextMark);
        act(&mut l, Action::NextMark);
        assert_eq!(sel(&l), "m4");
        // m toggles: off again.
        act(&mut l, Action::ToggleMark);
        assert_eq!(l.mark_count(), 2);
        assert!(l.visible_rows().any(|r| r.marked && r.line.message == "m2"));
        // Two lines leave the ring: the mark on m0 goes, and is counted.
        l.push(line("n0", 6));
        l.push(line("n1", 6));
        assert_eq!((l.mark_count(), l.marks_dropped), (1, 1));
        // Marks on lines the filter hides are skipped.
        l.set_filter(Filter::parse("n").unwrap());
        l.bottom();
        let r = act(&mut l, Action::PrevMark);
        assert_eq!(r.say.unwrap().1, "no earlier mark");
    }

    #[test]
    fn context_lines_around_matches_are_shown_and_known_as_context() {
        let msgs: Vec<String> = (0..30)
            .map(|i| {
                if i == 10 || i == 14 || i == 29 {
                    format!("hit {i}")
                } else {
                    format!("x{i}")
                }
            })
            .collect();
        let refs: Vec<(&str, Option<u8>)> = msgs.iter().map(|m| (m.as_str(), Some(6))).collect();
        let mut l = logs_of(&refs);
        l.set_filter(Filter::parse("hit").unwrap());
        assert_eq!(l.match_count(), 3);
        act(&mut l, Action::CycleContext);
        assert_eq!(l.context, 3);
        let shown: Vec<String> = l.matching().map(|x| x.message.clone()).collect();
        assert_eq!(
            shown,
            [
                "x7", "x8", "x9", "hit 10", "x11", "x12", "x13", "hit 14", "x15", "x16", "x17",
                "x26", "x27", "x28", "hit 29"
            ],
            "overlapping context is shown once"
        );
        assert_eq!(l.hit_count(), 3, "the title counts matches, not context");
        let seq_of = |l: &Logs, m: &str| {
            l.matches
                .iter()
                .copied()
                .find(|s| l.get(*s).unwrap().message == m)
                .unwrap()
        };
        assert!(l.is_context(seq_of(&l, "x8")));
        assert!(!l.is_context(seq_of(&l, "hit 10")));
        // Lines arriving after a match are its context, up to 3; a new match pulls its 3 before.
        for i in 30..40 {
            l.push(line(&format!("y{i}"), 6));
        }
        l.push(line("hit 40", 6));
        let tail: Vec<String> = l.matching().skip(15).map(|x| x.message.clone()).collect();
        assert_eq!(tail, ["y30", "y31", "y32", "y37", "y38", "y39", "hit 40"]);
        // n moves between matches only.
        l.bottom();
        act(&mut l, Action::PrevMatch);
        assert_eq!(sel(&l), "hit 40", "following: N finds the newest match");
        act(&mut l, Action::PrevMatch);
        assert_eq!(sel(&l), "hit 29");
        act(&mut l, Action::CycleContext);
        assert_eq!(l.context, 10);
        assert_eq!(
            l.match_count(),
            41,
            "ten around each match: every line here"
        );
        act(&mut l, Action::CycleContext);
        assert_eq!((l.context, l.match_count()), (0, 4));
    }

    #[test]
    fn time_jump_moves_the_cursor_and_asks_for_a_reread() {
        let t0 = DateTime::parse_from_rfc3339("2026-12-03T14:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut l = Logs::with_capacity(100);
        for i in 0..10 {
            let mut x = line(&format!("m{i}"), 6);
            x.time = Some(t0 + chrono::Duration::minutes(i));
            l.push(x);
        }
        let now = t0 + chrono::Duration::minutes(20);
        let (say, cmds) = time_jump(&mut l, "14:03", now, DisplayZone::Utc, false);
        assert_eq!(sel(&l), "m3");
        assert_eq!((say.as_str(), cmds), ("logs at 14:03:00 UTC", vec![]));
        let (_, cmds) = time_jump(&mut l, "-15m", now, DisplayZone::Utc, true);
        assert_eq!(sel(&l), "m5");
        let at = t0 + chrono::Duration::minutes(5);
        assert_eq!(cmds, vec![Command::LogsAround(at)]);
        assert_eq!(l.pending_jump, Some(at));
        // The backend's lines around it: already buffered ones are not added twice.
        let mut again = line("m5", 6);
        again.time = Some(at);
        let mut older = line("reread 4:30", 6);
        older.time = Some(at - chrono::Duration::seconds(30));
        let mut exact = line("reread 5:00", 6);
        exact.time = Some(at);
        assert_eq!(l.insert_around(at, vec![exact, again, older]), Some(at));
        assert_eq!(l.len(), 12);
        assert_eq!(
            sel(&l),
            "reread 5:00",
            "the re-read lines hold the moment asked for"
        );
        assert_eq!(l.pending_jump, None);
        // Buffered out of time order (a re-read appended after a later line): the earliest
        // line at or after the moment, not the first in the buffer.
        let mut late = line("appended earlier", 6);
        late.time = Some(t0 + chrono::Duration::minutes(2) + chrono::Duration::seconds(30));
        l.push(late);
        time_jump(&mut l, "14:02:10", now, DisplayZone::Utc, false);
        assert_eq!(sel(&l), "appended earlier");
        // Nothing at or after the time: the cursor stays, and it is said.
        let (say, _) = time_jump(&mut l, "2027-01-01T00:00:00Z", now, DisplayZone::Utc, false);
        assert!(say.contains("no buffered line"), "{say}");
        // Times the prompt reads.
        assert!(parse_time_target("14:02:30", now, DisplayZone::Utc).is_ok());
        assert_eq!(
            parse_time_target("-2h", now, DisplayZone::Utc),
            Ok(Resolved {
                at: now - chrono::Duration::hours(2),
                note: None
            })
        );
        assert_eq!(
            parse_time_target("14:30", now, DisplayZone::Utc),
            Ok(Resolved {
                at: t0 + chrono::Duration::minutes(30) - chrono::Duration::days(1),
                note: None
            }),
            "a time later than now today is yesterday's"
        );
        assert!(parse_time_target("soon", now, DisplayZone::Utc)
            .unwrap_err()
            .contains("t 14:02"));
    }

    #[test]
    fn export_and_copy_are_display_text() {
        let mut l = logs_of(&[("hello", Some(3)), ("world", None)]);
        l.lines[1].host = "".into();
        l.lines[0].time = Some(
            DateTime::parse_from_rfc3339("2026-12-03T14:00:00.5Z")
                .unwrap()
                .with_timezone(&Utc),
        );
        let (text, n) = l.export(false, DisplayZone::Utc);
        assert_eq!(n, 2);
        assert_eq!(
            text,
            "2026-12-03T14:00:00.500Z web-1 app err hello\n- - app - world\n"
        );
        let (json, _) = l.export(true, DisplayZone::Utc);
        let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        assert_eq!(first["severity"], "err");
        assert_eq!(first["time"], "2026-12-03T14:00:00.500+00:00");
        let r = act(&mut l, Action::Copy);
        assert_eq!(r.commands, vec![Command::Copy("- - app - world".into())]);
        assert!(r.say.unwrap().1.starts_with("sent to clipboard (OSC 52)"));
    }

    #[test]
    fn paused_before_any_line_the_cursor_takes_the_first_that_comes() {
        let mut l = Logs::with_capacity(10);
        l.toggle_follow();
        l.fit();
        assert!(!l.follow && l.selected().is_none());
        l.push(line("first", 6));
        l.push(line("second", 6));
        l.fit();
        assert_eq!(sel(&l), "first");
        let r = act(&mut l, Action::Copy);
        assert_eq!(r.commands.len(), 1, "y copies it");
    }

    #[test]
    fn wrap_and_horizontal_scroll_say_what_they_do() {
        let mut l = logs_of(&[("a long line", Some(6))]);
        let r = act(&mut l, Action::ScrollRight);
        assert!(r.say.is_none());
        assert_eq!(l.hscroll, HSCROLL_STEP);
        act(&mut l, Action::ScrollLeft);
        act(&mut l, Action::ScrollLeft);
        assert_eq!(l.hscroll, 0);
        let r = act(&mut l, Action::ToggleWrap);
        assert!(r.say.unwrap().1.contains("wrap on"));
        let r = act(&mut l, Action::ScrollRight);
        assert!(r.say.unwrap().1.contains("ctrl-w"));
        let r = act(&mut l, Action::ToggleWrap);
        assert!(r.say.unwrap().1.contains("wrap off"));
    }

    fn from(host: &str, msg: &str) -> LogLine {
        LogLine {
            host: host.into(),
            program: "java".into(),
            severity: Some(3),
            message: msg.into(),
            ..Default::default()
        }
    }

    fn trace_logs() -> Logs {
        let mut l = Logs::with_capacity(100);
        l.view.set_rows(10);
        for (host, msg) in [
            ("web-1", "NullPointerException: order is null"),
            ("web-1", "#011at com.acme.Orders.get(Orders.java:42)"),
            ("web-2", "GET /health 200"),
            ("web-1", "#011at com.acme.Api.handle(Api.java:7)"),
            ("web-1", "Caused by: java.sql.SQLException: timeout"),
            ("web-1", "request done"),
        ] {
            l.push(from(host, msg));
        }
        l.fit();
        l
    }

    #[test]
    fn a_stack_trace_is_one_row_that_expands_copies_and_saves_whole() {
        let mut l = trace_logs();
        let rows: Vec<(String, u32)> = l
            .visible_rows()
            .map(|r| (r.line.message.clone(), r.tail))
            .collect();
        assert_eq!(
            rows,
            [
                ("NullPointerException: order is null".to_string(), 3),
                ("GET /health 200".into(), 0),
                ("request done".into(), 0),
            ]
        );
        act(&mut l, Action::Top);
        let r = act(&mut l, Action::Detail);
        assert!(r.say.unwrap().1.contains("3 more lines"));
        let tail: Vec<&str> = l
            .visible_rows()
            .next()
            .unwrap()
            .tail_lines
            .iter()
            .map(|t| t.message.as_str())
            .collect();
        assert_eq!(
            tail,
            [
                "#011at com.acme.Orders.get(Orders.java:42)",
                "#011at com.acme.Api.handle(Api.java:7)",
                "Caused by: java.sql.SQLException: timeout"
            ]
        );
        // Copy and :w take the whole record.
        let r = act(&mut l, Action::Copy);
        match &r.commands[..] {
            [Command::Copy(text)] => assert_eq!(text.lines().count(), 4, "{text}"),
            other => panic!("{other:?}"),
        }
        let (text, n) = l.export(false, DisplayZone::Utc);
        assert_eq!(n, 6, "{text}");
        // Enter again folds it; r shows every line as sent.
        act(&mut l, Action::Detail);
        assert!(l.visible_rows().next().unwrap().tail_lines.is_empty());
        act(&mut l, Action::ToggleRecords);
        assert_eq!(l.visible_rows().count(), 6);
        assert!(l.visible_rows().all(|r| r.tail == 0));
        act(&mut l, Action::ToggleRecords);
        assert_eq!(l.visible_rows().count(), 3);
    }

    #[test]
    fn a_filter_matching_a_continuation_shows_its_whole_record() {
        let mut l = trace_logs();
        l.set_filter(Filter::parse("SQLException").unwrap());
        l.fit();
        let rows: Vec<String> = l.visible_rows().map(|r| r.line.message.clone()).collect();
        assert_eq!(rows, ["NullPointerException: order is null"]);
        assert_eq!(l.hit_count(), 1);
        // Arriving later, live: the record's head joins the matches in its place.
        l.push(from("web-3", "IllegalStateException"));
        l.push(from("web-3", "#011at com.acme.SQLException.wrap(X.java:1)"));
        l.fit();
        let rows: Vec<String> = l.visible_rows().map(|r| r.line.message.clone()).collect();
        assert_eq!(
            rows,
            [
                "NullPointerException: order is null",
                "IllegalStateException"
            ]
        );
        assert_eq!(l.hit_count(), 2);
    }

    #[test]
    fn a_record_whose_head_leaves_the_ring_leaves_its_lines_shown() {
        let mut l = Logs::with_capacity(3);
        l.view.set_rows(10);
        l.push(from("web-1", "Exception"));
        l.push(from("web-1", "  at a"));
        l.push(from("web-1", "  at b"));
        l.fit();
        assert_eq!(l.visible_rows().count(), 1);
        l.push(from("web-2", "next"));
        l.fit();
        let rows: Vec<String> = l.visible_rows().map(|r| r.line.message.clone()).collect();
        assert_eq!(rows, ["  at a", "  at b", "next"]);
    }

    #[test]
    fn two_processes_interleaved_are_two_records() {
        let mut l = Logs::with_capacity(100);
        l.view.set_rows(10);
        let from_pid = |pid: &str, msg: &str| {
            let mut x = from("web-1", msg);
            x.fields = crate::model::Fields::from_pairs([("pid", pid)]);
            x
        };
        l.push(from_pid("1", "worker 1 failed"));
        l.push(from_pid("2", "worker 2 failed"));
        l.push(from_pid("1", "  at one"));
        l.push(from_pid("2", "  at two"));
        l.push(from_pid("2", "  at two again"));
        l.fit();
        let rows: Vec<(String, u32)> = l
            .visible_rows()
            .map(|r| (r.line.message.clone(), r.tail))
            .collect();
        assert_eq!(
            rows,
            [
                ("worker 1 failed".to_string(), 1),
                ("worker 2 failed".to_string(), 2)
            ]
        );
    }
}

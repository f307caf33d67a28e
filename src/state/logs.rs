//! Logs: a bounded ring buffer with an incrementally maintained list of the lines that pass the
//! filter, so a firehose costs O(1) per line and a frame only touches the rows on screen.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use super::checks::EntityScope;
use super::cursor::ListCursor;
use super::members::Filter;
use super::pane::{PaneCtx, PaneState, Reaction};
use super::popup::Popup;
use crate::action::Action;
use crate::model::{LogLine, SEVERITY_NAMES};

pub const DEFAULT_CAPACITY: usize = 100_000;

#[derive(Debug)]
pub struct Logs {
    lines: VecDeque<LogLine>,
    /// `host_key` of each buffered line's host, beside `lines`: changing the member scope scans
    /// these numbers instead of every line's strings.
    host_keys: VecDeque<u64>,
    /// `host_key`s that can match the scope (see `scope_keys`).
    scope_keys: Vec<u64>,
    /// Sequence number of `lines[0]`; every line ever received has one.
    first_seq: u64,
    capacity: usize,
    /// Lines evicted because the buffer was full.
    pub dropped: u64,
    /// Sequence numbers of buffered lines passing the filter, ascending.
    matches: VecDeque<u64>,
    pub filter: Option<Filter>,
    /// Show lines at this syslog severity or worse (lower number); `None` shows everything.
    pub min_severity: Option<u8>,
    pub scope: Option<EntityScope>,
    pub follow: bool,
    pub wrap: bool,
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
    /// Host and program names of buffered lines, shared: a fleet logs from a few hundred hosts and
    /// a few dozen programs, so 100k lines need not carry 200k copies of them.
    names: HashSet<Arc<str>>,
}

/// Distinct names remembered for sharing; past this the table starts afresh (lines keep theirs),
/// so a stream of ever-new names costs O(1) per line and bounded memory.
const MAX_NAMES: usize = 8192;

impl Default for Logs {
    fn default() -> Self {
        Logs::with_capacity(DEFAULT_CAPACITY)
    }
}

impl Logs {
    pub fn with_capacity(capacity: usize) -> Logs {
        Logs {
            lines: VecDeque::with_capacity(capacity.min(1 << 16)),
            host_keys: VecDeque::with_capacity(capacity.min(1 << 16)),
            scope_keys: Vec::new(),
            first_seq: 0,
            capacity: capacity.max(1),
            dropped: 0,
            matches: VecDeque::new(),
            filter: None,
            min_severity: None,
            scope: None,
            follow: true,
            wrap: false,
            view: ListCursor::default(),
            cursor_seq: None,
            top_seq: None,
            unseen: 0,
            received: 0,
            names: HashSet::new(),
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

    pub fn match_count(&self) -> usize {
        self.matches.len()
    }

    fn get(&self, seq: u64) -> Option<&LogLine> {
        seq.checked_sub(self.first_seq)
            .and_then(|i| self.lines.get(i as usize))
    }

    fn passes(&self, host_key: u64, l: &LogLine) -> bool {
        if self.scope.is_some() && !self.scope_keys.contains(&host_key) {
            return false;
        }
        if let (Some(min), Some(sev)) = (self.min_severity, l.severity) {
            if sev > min {
                return false;
            }
        }
        if let Some(scope) = &self.scope {
            if !scope.matches(&l.host) {
                return false;
            }
        }
        match &self.filter {
            None => true,
            Some(f) => f.matches_any(&[&l.message, &l.host, &l.program]),
        }
    }

    /// The shared copy of `name`.
    fn intern(&mut self, name: &Arc<str>) -> Arc<str> {
        if let Some(shared) = self.names.get(&**name) {
            return shared.clone();
        }
        if self.names.len() >= MAX_NAMES {
            self.names.clear();
        }
        self.names.insert(name.clone());
        name.clone()
    }

    pub fn push(&mut self, mut line: LogLine) {
        self.received += 1;
        line.host = self.intern(&line.host);
        line.program = self.intern(&line.program);
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.host_keys.pop_front();
            if self.matches.front() == Some(&self.first_seq) {
                self.matches.pop_front();
            }
            self.first_seq += 1;
            self.dropped += 1;
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
        let seq = self.first_seq + self.lines.len() as u64;
        let key = host_key(&line.host);
        if self.passes(key, &line) {
            self.matches.push_back(seq);
            if !self.follow {
                self.unseen += 1;
            }
        }
        self.lines.push_back(line);
        self.host_keys.push_back(key);
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = LogLine>) {
        for l in lines {
            self.push(l);
        }
    }

    /// Re-evaluates the filter over the buffer: only when the filter itself changes.
    fn rescan(&mut self) {
        let first = self.first_seq;
        let matches: VecDeque<u64> = self
            .host_keys
            .iter()
            .zip(&self.lines)
            .enumerate()
            .filter(|(_, (k, l))| self.passes(**k, l))
            .map(|(i, _)| first + i as u64)
            .collect();
        self.matches = matches;
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

    /// all → emerg..err → … → debug → all.
    pub fn cycle_severity(&mut self) {
        self.min_severity = match self.min_severity {
            None => Some(3),
            Some(3) => Some(4),
            Some(4) => Some(5),
            Some(5) => Some(6),
            _ => None,
        };
        self.rescan();
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

    /// Brings the positions up to date with the lines: while following, the newest lines fill
    /// the pane; while paused, the screen stays on the same lines and keeps the cursor in view.
    pub fn fit(&mut self) {
        let len = self.matches.len();
        if self.follow {
            self.view.select(len.checked_sub(1));
            self.view.fit(len);
            return;
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

    /// The matching lines on screen, oldest first, each with whether it is the selected one.
    pub fn visible(&self) -> impl Iterator<Item = (&LogLine, bool)> {
        let selected = (!self.follow).then(|| self.selected_index()).flatten();
        let offset = self.view.offset();
        self.matches
            .iter()
            .enumerate()
            .skip(offset)
            .take(self.view.rows())
            .filter_map(move |(i, s)| self.get(*s).map(|l| (l, Some(i) == selected)))
    }

    /// Every matching line, oldest first.
    pub fn matching(&self) -> impl Iterator<Item = &LogLine> {
        self.matches.iter().filter_map(|s| self.get(*s))
    }
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
        (self.match_count(), self.len(), "buffered lines")
    }

    fn on_action(&mut self, action: Action, _ctx: &PaneCtx) -> Reaction {
        let page = self.view.page();
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
            Action::CycleSeverity => {
                self.cycle_severity();
                let t = match self.min_severity {
                    None => "all severities".to_string(),
                    Some(s) => format!("{} and worse", SEVERITY_NAMES[s as usize]),
                };
                return Reaction::info(format!("logs: {t}"));
            }
            Action::ToggleWrap => self.wrap = !self.wrap,
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

/// FNV-1a: short strings, no allocation.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A hash of an entity's host part (before the last `:`), the part `EntityScope::matches`
/// compares: a line can match the scope only if its key is one of `scope_keys`.
fn host_key(entity: &str) -> u64 {
    fnv(entity.rsplit_once(':').map(|(h, _)| h).unwrap_or(entity))
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
        for i in 0..MAX_NAMES + 10 {
            let mut x = line("n", 6);
            x.host = format!("h-{i}").into();
            l.push(x);
        }
        assert!(l.names.len() <= MAX_NAMES);
        assert_eq!(
            &*l.matching().last().unwrap().host,
            format!("h-{}", MAX_NAMES + 9)
        );
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
        }));
        assert_eq!(shown(&l), ["web-1", "10.0.0.1", "10.0.0.1:9100"]);
        l.push(line("new", 6)); // host web-1
        assert_eq!(l.match_count(), 4);
        l.set_scope(Some(EntityScope {
            label: "x".into(),
            names: vec!["10.0.0.2:9100".into()],
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
}

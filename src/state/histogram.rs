//! The logs pane's histogram (`H`, `:hist`): log volume per time bucket split by severity class,
//! with the top hosts and programs of the window beside it, as Kibana 3 shows it.
//!
//! With Redis the console counts its own ring, and keeps the counts up to date as lines come in
//! and leave (`Logs::push` calls [`Histogram::line_in`] / [`Histogram::line_out`]): a frame never
//! recounts the ring. The counts are made again from the ring only when the buckets move (the
//! window's end crossing a bucket boundary, `+`/`-`, a resize) or when what the pane shows changes
//! (filter, scope, threshold). With Elasticsearch and Loki the server aggregates: the reducer asks
//! with [`crate::model::Command::LogsHistogram`] whenever the query changes (and every
//! [`REASK_SECS`] while live), and shows the last answer.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::logs::Logs;
use super::members::Filter;
use super::{Level, Pane, State};
use crate::action::Action;
use crate::model::histogram::{
    class_of, is_error_class, step_for, top_n, Buckets, ClassCounts, HistAnswer, HistQuery, Term,
    DEFAULT_WINDOW, TOP_N, WINDOWS,
};
use crate::model::{Command, LogLine};

/// A server histogram is asked again this often while live (new lines land in the last bucket).
pub const REASK_SECS: i64 = 15;
/// A pane at least this wide (inside its border) puts the top lists beside the histogram; a
/// narrower one puts them below.
pub const WIDE: usize = 70;
/// Columns of the top lists beside the histogram.
pub const TERMS_WIDTH: usize = 30;
/// Columns of the count axis left of the bars.
pub const AXIS_WIDTH: usize = 6;

/// Bars a pane `width` columns wide (inside its border) has room for.
pub fn plot_columns(width: usize) -> usize {
    let plot = if width >= WIDE {
        width.saturating_sub(TERMS_WIDTH + 1)
    } else {
        width
    };
    plot.saturating_sub(AXIS_WIDTH).max(1)
}

/// What the keys move in the histogram view (`space` cycles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HistFocus {
    #[default]
    Buckets,
    Hosts,
    Programs,
}

/// Counts per host or program, by the interned name's address (names are shared by the ring, see
/// `Logs::intern`), each `[all, errors]`.
type NameCounts = HashMap<usize, (Arc<str>, [u64; 2]), foldhash::fast::RandomState>;

/// The ring's counts in the current buckets.
#[derive(Debug)]
struct LocalCounts {
    buckets: Buckets,
    counts: Vec<ClassCounts>,
    total: u64,
    hosts: NameCounts,
    programs: NameCounts,
    top_hosts: Vec<Term>,
    top_programs: Vec<Term>,
    /// The top lists are older than the counts.
    tops_stale: bool,
    /// Whether the top lists count errors only.
    tops_errors_only: bool,
}

impl LocalCounts {
    fn new(buckets: Buckets) -> LocalCounts {
        LocalCounts {
            buckets,
            counts: vec![[0; 4]; buckets.n],
            total: 0,
            hosts: NameCounts::default(),
            programs: NameCounts::default(),
            top_hosts: Vec::new(),
            top_programs: Vec::new(),
            tops_stale: true,
            tops_errors_only: false,
        }
    }

    /// Counts `l` in (`add`) or out of its bucket, if it has one.
    fn count(&mut self, l: &LogLine, add: bool) {
        let Some(i) = l.time.and_then(|t| self.buckets.index(t)) else {
            return;
        };
        let class = class_of(l.severity);
        let error = is_error_class(class);
        let bump = |n: &mut u64| {
            *n = if add { *n + 1 } else { n.saturating_sub(1) };
        };
        bump(&mut self.counts[i][class]);
        bump(&mut self.total);
        for (map, name) in [(&mut self.hosts, &l.host), (&mut self.programs, &l.program)] {
            let e = map
                .entry(Arc::as_ptr(name) as *const u8 as usize)
                .or_insert_with(|| (name.clone(), [0, 0]));
            bump(&mut e.1[0]);
            if error {
                bump(&mut e.1[1]);
            }
        }
        self.tops_stale = true;
    }

    fn tops(&mut self, errors_only: bool) {
        if !self.tops_stale && self.tops_errors_only == errors_only {
            return;
        }
        let which = usize::from(errors_only);
        self.top_hosts = top_of(&self.hosts, which);
        self.top_programs = top_of(&self.programs, which);
        self.tops_stale = false;
        self.tops_errors_only = errors_only;
    }
}

/// The top [`TOP_N`] of `map` (column `which`), the same name under two addresses added up.
fn top_of(map: &NameCounts, which: usize) -> Vec<Term> {
    let mut named: Vec<(&str, u64)> = map
        .values()
        .map(|(name, c)| (&**name, c[which]))
        .filter(|(name, c)| *c > 0 && !name.is_empty())
        .collect();
    named.sort_unstable_by(|a, b| a.0.cmp(b.0));
    named.dedup_by(|later, kept| {
        if later.0 == kept.0 {
            kept.1 += later.1;
            true
        } else {
            false
        }
    });
    top_n(named, TOP_N)
}

/// A server's answers to the histogram's queries.
#[derive(Debug, Default)]
pub struct Remote {
    /// The last query sent, and when.
    pub asked: Option<HistQuery>,
    asked_at: Option<DateTime<Utc>>,
    /// The last answer, with the query it answers.
    pub shown: Option<(HistQuery, HistAnswer)>,
    /// Why the last query got no answer.
    pub error: Option<String>,
}

#[derive(Debug)]
pub struct Histogram {
    /// The logs pane shows the histogram instead of the lines.
    pub open: bool,
    /// Index into [`WINDOWS`].
    pub window: usize,
    /// `!`: the top lists count errors (crit, err) only.
    pub errors_only: bool,
    pub focus: HistFocus,
    /// The bucket under the cursor (`None`: the newest).
    pub cursor: Option<usize>,
    /// The row under the cursor in the focused top list.
    pub term: usize,
    /// The zone buckets are aligned in (the display zone).
    pub zone: chrono_tz::Tz,
    /// Bars the pane has room for (from the layout).
    pub columns: usize,
    /// A server aggregates (Elasticsearch, Loki); else the ring is counted.
    pub server: bool,
    local: Option<LocalCounts>,
    /// The ring's counts must be made again (what the pane shows changed).
    stale: bool,
    pub remote: Remote,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            open: false,
            window: DEFAULT_WINDOW,
            errors_only: false,
            focus: HistFocus::Buckets,
            cursor: None,
            term: 0,
            zone: chrono_tz::UTC,
            columns: 60,
            server: false,
            local: None,
            stale: true,
            remote: Remote::default(),
        }
    }
}

/// What the view draws.
#[derive(Debug)]
pub struct HistView<'a> {
    /// The window the counts are of (seconds): for a server, the one its answer was asked for.
    pub window: i64,
    pub buckets: Buckets,
    pub counts: &'a [ClassCounts],
    pub total: u64,
    pub hosts: &'a [Term],
    pub programs: &'a [Term],
    pub approximate: bool,
    pub notice: Option<&'a str>,
}

impl Histogram {
    /// The window in seconds.
    pub fn window_secs(&self) -> i64 {
        WINDOWS[self.window.min(WINDOWS.len() - 1)]
    }

    /// The buckets of the window ending at `end`.
    pub fn buckets_at(&self, end: DateTime<Utc>) -> Buckets {
        let window = self.window_secs();
        Buckets::ending_at(end, window, step_for(window, self.columns), self.zone)
    }

    /// A line entered the ring and the pane shows it.
    pub fn line_in(&mut self, l: &LogLine) {
        if let Some(local) = &mut self.local {
            local.count(l, true);
        }
    }

    /// A line the pane showed left the ring.
    pub fn line_out(&mut self, l: &LogLine) {
        if let Some(local) = &mut self.local {
            local.count(l, false);
        }
    }

    /// What the pane shows changed (filter, scope, threshold): count the ring again.
    pub fn invalidate(&mut self) {
        self.stale = true;
    }

    /// The bucket under the cursor, of `n`.
    pub fn selected_bucket(&self, n: usize) -> usize {
        let last = n.saturating_sub(1);
        self.cursor.unwrap_or(last).min(last)
    }

    /// What there is to draw: the ring's counts, or the server's last answer (`None` before it).
    pub fn view(&self) -> Option<HistView<'_>> {
        if self.server {
            let (q, a) = self.remote.shown.as_ref()?;
            return Some(HistView {
                window: q.window,
                buckets: q.buckets,
                counts: &a.counts,
                total: a.counts.iter().flatten().sum(),
                hosts: &a.hosts,
                programs: &a.programs,
                approximate: a.approximate,
                notice: a.notice.as_deref(),
            });
        }
        let l = self.local.as_ref()?;
        Some(HistView {
            window: self.window_secs(),
            buckets: l.buckets,
            counts: &l.counts,
            total: l.total,
            hosts: &l.top_hosts,
            programs: &l.top_programs,
            approximate: false,
            notice: None,
        })
    }

    /// The focused top list.
    fn focused_terms(&self) -> &[Term] {
        match (self.focus, self.view()) {
            (HistFocus::Hosts, Some(v)) => v.hosts,
            (HistFocus::Programs, Some(v)) => v.programs,
            _ => &[],
        }
    }
}

/// Brings the ring's counts up to date for the window ending at `end`: made again when the
/// buckets moved or what the pane shows changed; the top lists when the counts moved.
pub fn refresh_local(logs: &mut Logs, end: DateTime<Utc>) {
    if !logs.hist.open || logs.hist.server {
        logs.hist.local = None;
        return;
    }
    let buckets = logs.hist.buckets_at(end);
    let fresh = logs
        .hist
        .local
        .as_ref()
        .is_some_and(|l| l.buckets == buckets && !logs.hist.stale);
    if !fresh {
        let mut local = LocalCounts::new(buckets);
        for l in logs.counted() {
            local.count(l, true);
        }
        logs.hist.local = Some(local);
        logs.hist.stale = false;
    }
    let errors_only = logs.hist.errors_only;
    if let Some(local) = &mut logs.hist.local {
        local.tops(errors_only);
    }
}

/// Whether the logs backend aggregates for the histogram.
fn server_backend(state: &State) -> bool {
    // A merged view: every cluster's backend must count, or the ring counts them all alike.
    super::merged_logs::hist_by_servers(state)
}

/// Where the window ends: the time cursor's moment, or now.
fn window_end(state: &State) -> DateTime<Utc> {
    state.time.at.unwrap_or(state.now)
}

/// After every change: the ring's counts, or the query for the server when it changed (and every
/// [`REASK_SECS`] while live).
pub fn interest(state: &mut State) -> Vec<Command> {
    state.logs.hist.server = server_backend(state);
    state.logs.hist.columns = plot_columns(state.viewports.logs_width);
    let end = window_end(state);
    if !state.logs.hist.server {
        refresh_local(&mut state.logs, end);
        return Vec::new();
    }
    if !state.logs.hist.open {
        return Vec::new();
    }
    let h = &state.logs.hist;
    let query = HistQuery {
        buckets: h.buckets_at(end),
        window: h.window_secs(),
        zone: h.zone.name().to_string(),
        errors_only: h.errors_only,
        hosts: state
            .logs
            .scope
            .as_ref()
            .map(|s| s.names.clone())
            .unwrap_or_default(),
    };
    let live = state.time.is_live();
    let due = h.remote.asked.as_ref() != Some(&query)
        || (live
            && h.remote
                .asked_at
                .is_none_or(|t| (state.now - t).num_seconds() >= REASK_SECS));
    if !due {
        return Vec::new();
    }
    let now = state.now;
    let h = &mut state.logs.hist;
    h.remote.asked = Some(query.clone());
    h.remote.asked_at = Some(now);
    super::merged_logs::hist_ask(state, query)
}

/// The server's answer (`Msg::LogsHistogram`).
pub fn answered(state: &mut State, query: HistQuery, result: Result<HistAnswer, String>) {
    let h = &mut state.logs.hist;
    match result {
        Ok(mut answer) => {
            // A malformed answer never indexes past the buckets.
            answer.counts.resize(query.buckets.n, [0; 4]);
            h.remote.shown = Some((query, answer));
            h.remote.error = None;
        }
        Err(e) => h.remote.error = Some(e),
    }
}

/// `H` / `:hist`: the histogram in the logs pane, or back to the lines.
pub fn toggle(state: &mut State) -> Vec<Command> {
    state.focus = Pane::Logs;
    let h = &mut state.logs.hist;
    h.open = !h.open;
    if h.open {
        h.cursor = None;
        h.focus = HistFocus::Buckets;
        h.term = 0;
        h.stale = true;
        let hist = state.key(crate::keymap::Context::Histogram, Action::Histogram, "H");
        let focus = state.key(
            crate::keymap::Context::Histogram,
            Action::HistFocus,
            "space",
        );
        state.say(
            Level::Info,
            format!(
                "histogram: +/- window, h/l buckets, {focus} hosts/programs, ! errors only, Enter drills in, {hist} back to the lines"
            ),
        );
    } else {
        state.logs.hist.local = None;
    }
    Vec::new()
}

/// A key in the histogram view; `None` when it is not the histogram's (global keys).
pub fn act(state: &mut State, action: Action) -> Option<Vec<Command>> {
    let h = &mut state.logs.hist;
    let n = h.view().map(|v| v.buckets.n).unwrap_or(0);
    match action {
        Action::Histogram | Action::Back => {
            h.open = false;
            h.local = None;
        }
        Action::HistWider | Action::HistNarrower => {
            let wider = action == Action::HistWider;
            h.window = if wider {
                (h.window + 1).min(WINDOWS.len() - 1)
            } else {
                h.window.saturating_sub(1)
            };
            h.cursor = None;
            let label = crate::model::histogram::span_label(h.window_secs());
            state.say(Level::Info, format!("histogram: last {label}"));
        }
        Action::HistErrorsOnly => {
            h.errors_only = !h.errors_only;
            h.term = 0;
            let what = if h.errors_only {
                "top hosts and programs: errors only (crit, err)"
            } else {
                "top hosts and programs: every line"
            };
            state.say(Level::Info, format!("histogram: {what}"));
        }
        Action::HistPrevBucket | Action::HistNextBucket => {
            h.focus = HistFocus::Buckets;
            let at = h.selected_bucket(n);
            let next = if action == Action::HistNextBucket {
                (at + 1).min(n.saturating_sub(1))
            } else {
                at.saturating_sub(1)
            };
            h.cursor = (next + 1 < n).then_some(next);
        }
        Action::Top if h.focus == HistFocus::Buckets => h.cursor = Some(0),
        Action::Bottom if h.focus == HistFocus::Buckets => h.cursor = None,
        Action::HistFocus => {
            h.focus = match h.focus {
                HistFocus::Buckets => HistFocus::Hosts,
                HistFocus::Hosts => HistFocus::Programs,
                HistFocus::Programs => HistFocus::Buckets,
            };
            h.term = 0;
        }
        Action::Up | Action::Down | Action::Top | Action::Bottom => {
            let len = h.focused_terms().len();
            h.term = match action {
                Action::Up => h.term.saturating_sub(1),
                Action::Down => (h.term + 1).min(len.saturating_sub(1)),
                Action::Top => 0,
                _ => len.saturating_sub(1),
            };
        }
        Action::Detail => return Some(drill(state)),
        _ => return None,
    }
    Some(Vec::new())
}

/// Enter: on a bucket, the log list at its start; on a host or program, the logs filtered to it
/// (and every pane scoped to the members with that host).
fn drill(state: &mut State) -> Vec<Command> {
    let h = &state.logs.hist;
    let Some(view) = h.view() else {
        state.say(Level::Info, "histogram: nothing counted yet");
        return Vec::new();
    };
    if h.focus == HistFocus::Buckets {
        let at = view.buckets.bucket_start(h.selected_bucket(view.buckets.n));
        let rereads = h.server;
        state.logs.hist.open = false;
        state.logs.hist.local = None;
        let (say, cmds) = super::logs::jump_at(&mut state.logs, at, state.zone, rereads);
        state.say(Level::Info, say);
        return cmds;
    }
    let Some(term) = h.focused_terms().get(h.term).map(|t| t.name.clone()) else {
        state.say(Level::Info, "histogram: no host or program to drill into");
        return Vec::new();
    };
    let host = h.focus == HistFocus::Hosts;
    let filter = Filter::parse(&format!("^{}$", regex::escape(&term)))
        .ok()
        .flatten();
    state.logs.set_filter(filter);
    state.logs.hist.open = false;
    state.logs.hist.local = None;
    let members: Vec<super::members::Ident> = if host {
        state
            .members
            .all()
            .filter(|m| super::member_names(m).contains(&term))
            .map(|m| (m.cluster, Arc::<[u8]>::from(m.key())))
            .collect()
    } else {
        Vec::new()
    };
    let shown = crate::model::text::fit(&term, 40);
    if members.is_empty() {
        state.say(Level::Info, format!("logs: only {shown} (Esc clears)"));
    } else {
        let n = members.len();
        state.members.clear_selection();
        state.group_scope = Some(members);
        state.say(
            Level::Info,
            format!(
                "logs: only {shown}; every pane scoped to {n} member{} with that host (Esc clears)",
                if n == 1 { "" } else { "s" }
            ),
        );
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::histogram::{CRIT, ERR, OTHER, WARNING};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn line(at: &str, host: &str, program: &str, sev: Option<u8>) -> LogLine {
        LogLine {
            time: Some(t(at)),
            host: host.into(),
            program: program.into(),
            severity: sev,
            message: "m".into(),
            ..Default::default()
        }
    }

    fn opened(columns: usize, window: usize) -> Logs {
        let mut l = Logs::with_capacity(1000);
        l.hist.open = true;
        l.hist.columns = columns;
        l.hist.window = window;
        l
    }

    #[test]
    fn a_line_exactly_on_a_boundary_starts_the_next_bucket() {
        // 15m over 15 columns: 1m buckets ending with the one holding 14:10:30.
        let mut l = opened(15, 0);
        l.push(line("2026-12-03T14:09:59.999Z", "a", "p", Some(6)));
        l.push(line("2026-12-03T14:10:00Z", "a", "p", Some(3)));
        l.push(line("2026-12-03T13:56:00Z", "a", "p", Some(6)));
        l.push(line("2026-12-03T13:55:59Z", "a", "p", Some(6)));
        refresh_local(&mut l, t("2026-12-03T14:10:30Z"));
        let v = l.hist.view().unwrap();
        assert_eq!(v.buckets.step, 60);
        assert_eq!(v.buckets.start, t("2026-12-03T13:56:00Z"));
        assert_eq!(v.buckets.n, 15);
        assert_eq!(v.counts[14], [0, 1, 0, 0], "14:10:00 is the last bucket's");
        assert_eq!(v.counts[13], [0, 0, 0, 1], "14:09:59.999 the one before");
        assert_eq!(
            v.counts[0],
            [0, 0, 0, 1],
            "the window's first instant is in"
        );
        assert_eq!(v.total, 3, "13:55:59 is before the window");
        // The window's end on a boundary: that instant starts the last bucket.
        let b = l.hist.buckets_at(t("2026-12-03T14:10:00Z"));
        assert_eq!(b.index(t("2026-12-03T14:10:00Z")), Some(b.n - 1));
    }

    #[test]
    fn an_empty_window_has_empty_buckets_and_no_tops() {
        let mut l = opened(60, 1);
        l.push(line("2026-12-03T10:00:00Z", "a", "p", Some(3)));
        refresh_local(&mut l, t("2026-12-03T14:00:00Z"));
        let v = l.hist.view().unwrap();
        assert_eq!(v.buckets.n, 60);
        assert_eq!(v.total, 0);
        assert!(v.counts.iter().all(|c| *c == [0; 4]));
        assert!(v.hosts.is_empty() && v.programs.is_empty());
        // Nothing buffered at all.
        let mut l = opened(60, 1);
        refresh_local(&mut l, t("2026-12-03T14:00:00Z"));
        assert_eq!(l.hist.view().unwrap().total, 0);
    }

    #[test]
    fn a_dst_change_neither_folds_nor_stretches_buckets() {
        // Europe/Berlin leaves summer time on 2026-10-25: 03:00 CEST (01:00Z) is 02:00 CET, so
        // the local hour 02:00–03:00 happens twice. 6h over 24 columns: 15m buckets.
        let mut l = opened(24, 2);
        l.hist.zone = chrono_tz::Europe::Berlin;
        // 02:30 local, twice: first in CEST (00:30Z), then in CET (01:30Z).
        l.push(line("2026-10-25T00:30:00Z", "a", "p", Some(3)));
        l.push(line("2026-10-25T01:30:00Z", "a", "p", Some(2)));
        refresh_local(&mut l, t("2026-10-25T04:59:00Z"));
        let v = l.hist.view().unwrap();
        assert_eq!(v.buckets.step, 900);
        assert_eq!(v.buckets.n, 24);
        assert_eq!(v.buckets.end(), t("2026-10-25T05:00:00Z"));
        let a = v.buckets.index(t("2026-10-25T00:30:00Z")).unwrap();
        let b = v.buckets.index(t("2026-10-25T01:30:00Z")).unwrap();
        assert_eq!(
            b - a,
            4,
            "one real hour apart: four 15m buckets, not the same local one"
        );
        assert_eq!(v.counts[a][ERR], 1);
        assert_eq!(v.counts[b][CRIT], 1);
        // Every bucket is 15 real minutes across the change.
        for i in 1..v.buckets.n {
            assert_eq!(
                (v.buckets.bucket_start(i) - v.buckets.bucket_start(i - 1)).num_seconds(),
                900
            );
        }
        // 3h buckets (24h over 8 columns) align on local time: 23:10 CET falls in 21:00–24:00
        // CET, which ends at 23:00Z (aligned on UTC it would end at 00:00Z).
        let mut l = opened(8, 3);
        l.hist.zone = chrono_tz::Europe::Berlin;
        refresh_local(&mut l, t("2026-10-25T22:10:00Z"));
        let v = l.hist.view().unwrap();
        assert_eq!(v.buckets.step, 10_800);
        assert_eq!(v.buckets.end(), t("2026-10-25T23:00:00Z"), "midnight CET");
    }

    #[test]
    fn counts_follow_lines_in_and_out_without_a_recount() {
        let mut l = Logs::with_capacity(3);
        l.hist.open = true;
        l.hist.columns = 60;
        refresh_local(&mut l, t("2026-12-03T14:00:30Z"));
        l.push(line("2026-12-03T14:00:01Z", "web-1", "nginx", Some(3)));
        l.push(line("2026-12-03T14:00:02Z", "web-2", "nginx", Some(4)));
        l.push(line("2026-12-03T14:00:03Z", "web-2", "app", None));
        refresh_local(&mut l, t("2026-12-03T14:00:30Z"));
        let v = l.hist.view().unwrap();
        assert_eq!(v.counts[59], [0, 1, 1, 1]);
        assert_eq!(v.hosts[0].name, "web-2");
        // The first line leaves the ring: its error leaves the counts.
        l.push(line("2026-12-03T14:00:04Z", "web-3", "app", Some(6)));
        refresh_local(&mut l, t("2026-12-03T14:00:30Z"));
        let v = l.hist.view().unwrap();
        assert_eq!(v.counts[59][ERR], 0);
        assert_eq!(v.counts[59][OTHER], 2);
        assert_eq!(v.counts[59][WARNING], 1);
        assert_eq!(v.total, 3);
        let hosts: Vec<(&str, u64)> = v.hosts.iter().map(|t| (&*t.name, t.count)).collect();
        assert_eq!(hosts, [("web-2", 2), ("web-3", 1)]);
        // A filter: only what it matches is counted.
        l.set_filter(Filter::parse("web-3").unwrap());
        refresh_local(&mut l, t("2026-12-03T14:00:30Z"));
        assert_eq!(l.hist.view().unwrap().total, 1);
    }

    #[test]
    fn records_keep_the_counts_equal_to_a_recount() {
        // A stack trace is one record: the histogram counts what the pane shows, and keeps
        // counting right as continuation lines match a filter and as heads leave the ring.
        let counts = |l: &mut Logs| {
            refresh_local(l, t("2026-12-03T14:00:30Z"));
            let live = l.hist.view().unwrap().total;
            l.hist.invalidate();
            refresh_local(l, t("2026-12-03T14:00:30Z"));
            (live, l.hist.view().unwrap().total)
        };
        let mut l = Logs::with_capacity(4);
        l.hist.open = true;
        l.hist.columns = 60;
        refresh_local(&mut l, t("2026-12-03T14:00:30Z"));
        let trace = |msg: &str| {
            let mut x = line("2026-12-03T14:00:01Z", "web-1", "java", Some(3));
            x.message = msg.into();
            x
        };
        l.push(trace("Exception: boom"));
        l.push(trace("  at a"));
        l.push(trace("  at b"));
        let (live, recount) = counts(&mut l);
        assert_eq!((live, recount), (1, 1));
        // The head leaves: its two lines are shown, and counted, on their own.
        l.push(line("2026-12-03T14:00:02Z", "web-2", "app", Some(6)));
        l.push(line("2026-12-03T14:00:03Z", "web-2", "app", Some(6)));
        let (live, recount) = counts(&mut l);
        assert_eq!(live, recount);
        // A filter matching only a continuation line counts its record once.
        let mut l = Logs::with_capacity(10);
        l.hist.open = true;
        l.hist.columns = 60;
        l.set_filter(Filter::parse("at b").unwrap());
        refresh_local(&mut l, t("2026-12-03T14:00:30Z"));
        l.push(trace("Exception: boom"));
        l.push(trace("  at a"));
        l.push(trace("  at b"));
        let (live, recount) = counts(&mut l);
        assert_eq!((live, recount), (1, 1));
    }

    #[test]
    fn top_ties_are_stable_and_errors_only_counts_errors() {
        let mut l = opened(60, 1);
        for (host, program, sev) in [
            ("web-2", "nginx", Some(3)),
            ("web-1", "nginx", Some(3)),
            ("web-3", "app", Some(6)),
            ("web-3", "app", Some(6)),
            ("db-1", "postgres", Some(2)),
            ("web-1", "app", Some(6)),
            ("web-2", "app", Some(6)),
        ] {
            l.push(line("2026-12-03T13:30:00Z", host, program, sev));
        }
        for _ in 0..3 {
            l.hist.invalidate();
            refresh_local(&mut l, t("2026-12-03T14:00:00Z"));
            let v = l.hist.view().unwrap();
            let hosts: Vec<&str> = v.hosts.iter().map(|t| t.name.as_str()).collect();
            assert_eq!(hosts, ["web-1", "web-2", "web-3", "db-1"], "ties by name");
        }
        l.hist.errors_only = true;
        refresh_local(&mut l, t("2026-12-03T14:00:00Z"));
        let v = l.hist.view().unwrap();
        let hosts: Vec<(&str, u64)> = v.hosts.iter().map(|t| (&*t.name, t.count)).collect();
        assert_eq!(hosts, [("db-1", 1), ("web-1", 1), ("web-2", 1)]);
        let programs: Vec<(&str, u64)> = v.programs.iter().map(|t| (&*t.name, t.count)).collect();
        assert_eq!(programs, [("nginx", 2), ("postgres", 1)]);
    }
}

//! Check results: worst-first by default, filterable, scoped to the selected member, with the
//! silences that cover them. A poll replaces the results; the view (indices) is rebuilt, which is
//! cheap at 10k rows, and the cursor stays on the same (entity, check).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::cursor::ListCursor;
use super::members::Filter;
use super::pane::{PaneCtx, PaneState, Reaction};
use super::popup::{Confirm, Popup};
use super::silence_form::SilenceForm;
use crate::action::Action;
use crate::model::text::visible;

use crate::model::mute::{mute_of, Mute, MuteCounts};
use crate::model::{
    natural_cmp, CheckResult, ChecksSnapshot, ClusterId, Severity, Silence, SilenceScope,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksSort {
    Worst,
    Entity,
    Check,
    Duration,
    LastRun,
}

impl ChecksSort {
    pub const ALL: [ChecksSort; 5] = [
        ChecksSort::Worst,
        ChecksSort::Entity,
        ChecksSort::Check,
        ChecksSort::Duration,
        ChecksSort::LastRun,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ChecksSort::Worst => "worst",
            ChecksSort::Entity => "entity",
            ChecksSort::Check => "check",
            ChecksSort::Duration => "duration",
            ChecksSort::LastRun => "last run",
        }
    }
}

/// Names a member answers to, so check entities (Sensu entity names, Alertmanager `instance`
/// labels such as `10.0.0.1:9100`) can be matched to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntityScope {
    pub label: String,
    /// Every scoped member's names.
    pub names: Vec<String>,
    /// A group in a merged view: each cluster's own members' names (an entity of one cluster
    /// is not scoped in because another cluster has a member of that name). Empty: `names`
    /// hold in every cluster.
    pub by_cluster: Vec<(ClusterId, Vec<String>)>,
}

impl EntityScope {
    /// Whether cluster `c`'s check entity or log host `entity` is one of the scoped members.
    pub fn matches(&self, c: ClusterId, entity: &str) -> bool {
        let host = entity.rsplit_once(':').map(|(h, _)| h).unwrap_or(entity);
        let names = if self.by_cluster.is_empty() {
            &self.names
        } else {
            match self.by_cluster.iter().find(|(k, _)| *k == c) {
                Some((_, names)) => names,
                None => return false,
            }
        };
        names.iter().any(|n| n == entity || n == host)
    }
}

/// The worst status among a member's failing checks, and how many fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Badge {
    pub worst: Severity,
    pub failing: usize,
}

impl Badge {
    fn add(self, other: Badge) -> Badge {
        Badge {
            worst: if rank(other.worst) < rank(self.worst) {
                other.worst
            } else {
                self.worst
            },
            failing: self.failing + other.failing,
        }
    }
}

/// The part of an entity (or a member's name or address) that identifies the host: before the
/// last `:`.
fn host_part(name: &str) -> &str {
    name.rsplit_once(':').map(|(h, _)| h).unwrap_or(name)
}

/// A check row's identity for marks: its cluster, entity and check, as the backend sent them.
pub type CheckId = (crate::model::ClusterId, String, String);

/// `r`'s [`CheckId`].
pub fn check_id(r: &CheckResult) -> CheckId {
    (r.cluster, r.entity.clone(), r.check.clone())
}

#[derive(Debug, Default)]
pub struct Checks {
    /// The session's cluster names by `ClusterId` (for `cluster:NAME` filters).
    pub cluster_names: Vec<String>,
    /// `:cluster NAME` in a merged view: only that cluster's checks are shown.
    pub only: Option<crate::model::ClusterId>,
    /// The scoped member's cluster in a merged view (see [`Checks::set_scope_cluster`]).
    scope_cluster: Option<crate::model::ClusterId>,
    pub results: Vec<CheckResult>,
    pub silences: Vec<Silence>,
    view: Vec<usize>,
    pub sort: Option<ChecksSort>,
    pub descending: bool,
    pub filter: Option<Filter>,
    pub hide_ok: bool,
    pub hide_silenced: bool,
    /// Hide rows Alertmanager reports inhibited (a silenced and inhibited row counts as silenced).
    pub hide_inhibited: bool,
    /// Hide acked rows: what nobody has claimed yet.
    pub unacked_only: bool,
    /// Each result's state (same index as `results`), kept with the results and silences.
    mutes: Vec<Mute>,
    /// What stopped failing in the last hour, from the polls.
    pub resolved: super::resolved::ResolvedLog,
    /// Hide the recently resolved rows (`R`, `:resolved`).
    pub hide_resolved: bool,
    /// The recently resolved rows in view (scope, filter, toggle): indexes into `resolved`,
    /// newest first. They follow the live rows; the cursor moves through both.
    resolved_view: Vec<usize>,
    /// The selected resolved row's (entity, check) when the cursor is on one.
    selected_resolved: Option<(String, String)>,
    /// The backend changed: its first answer replaces the old one's rows without resolving them.
    new_backend: bool,
    /// Alertmanager's inhibit rules, to say which one muted an alert.
    pub inhibit_rules: Vec<crate::model::inhibit::InhibitRule>,
    pub scope: Option<EntityScope>,
    /// The selected row's (entity, check): the identity the cursor follows across polls.
    selected: Option<(String, String)>,
    /// Checks marked for a bulk silence, by (cluster, entity, check): the same check on the same
    /// entity in two clusters of a merged view is two rows.
    marked: std::collections::BTreeSet<CheckId>,
    /// Failing, unsilenced checks by the host part of their entity: what each member's badge
    /// shows, looked up in O(1) per row drawn.
    failing: std::collections::HashMap<(crate::model::ClusterId, String), Badge>,
    /// Where that row is in the view (a row is always selected while there are rows), and the
    /// scroll position.
    pub cursor: ListCursor,
    pub last_update: Option<DateTime<Utc>>,
    pub skipped: usize,
}

pub(crate) fn rank(s: Severity) -> u8 {
    match s {
        Severity::Critical => 0,
        Severity::Unknown => 1,
        Severity::Warning => 2,
        Severity::Ok => 3,
    }
}

impl Checks {
    pub fn received(&self) -> bool {
        self.last_update.is_some()
    }

    /// Keeps the selection on screen after the rows or the pane's height changed.
    pub fn fit(&mut self) {
        let len = self.cursor_len();
        if self.cursor.raw().is_none() && len > 0 {
            self.cursor.select(Some(0));
        }
        self.cursor.fit(len);
    }

    /// The live rows in view (the resolved rows after them are not counted).
    pub fn visible_len(&self) -> usize {
        self.view.len()
    }

    /// Every row the cursor moves through: the live rows, then the recently resolved ones.
    pub fn cursor_len(&self) -> usize {
        self.view.len() + self.resolved_view.len()
    }

    /// The recently resolved rows in view, newest first.
    pub fn resolved_rows(&self) -> impl Iterator<Item = &super::resolved::Resolved> {
        self.resolved_view
            .iter()
            .filter_map(|&i| self.resolved.get(i))
    }

    /// What to say when an action needs a live row and there is none under the cursor.
    pub fn no_row(&self) -> &'static str {
        if self.selected_resolved().is_some() {
            "a recently resolved row: nothing to act on (it is gone from the backend)"
        } else {
            "no check selected"
        }
    }

    /// The recently resolved row under the cursor, if the cursor is on one.
    pub fn selected_resolved(&self) -> Option<&super::resolved::Resolved> {
        let i = self.selected_index()?.checked_sub(self.view.len())?;
        self.resolved_view
            .get(i)
            .and_then(|&j| self.resolved.get(j))
    }

    pub fn toggle_hide_resolved(&mut self) {
        self.hide_resolved = !self.hide_resolved;
        self.rebuild();
    }

    pub fn row(&self, i: usize) -> Option<&CheckResult> {
        self.view.get(i).and_then(|&j| self.results.get(j))
    }

    pub fn visible_rows(&self, from: usize, n: usize) -> impl Iterator<Item = &CheckResult> {
        self.view
            .iter()
            .skip(from)
            .take(n)
            .filter_map(|&j| self.results.get(j))
    }

    /// The cursor's row among [`Self::cursor_len`] (live rows first): `row(i)` is `None` past
    /// the live rows.
    pub fn selected_index(&self) -> Option<usize> {
        let len = self.cursor_len();
        self.cursor.index(len).or((len > 0).then_some(0))
    }

    pub fn selected(&self) -> Option<&CheckResult> {
        self.selected_index().and_then(|i| self.row(i))
    }

    pub fn find(&self, entity: &str, check: &str) -> Option<&CheckResult> {
        self.results
            .iter()
            .find(|r| r.entity == entity && r.check == check)
    }

    /// Counts per severity over everything received (not just the view).
    pub fn counts(&self) -> [usize; 4] {
        let mut c = [0; 4];
        for r in &self.results {
            c[rank(r.severity()) as usize] += 1;
        }
        c
    }

    pub fn silences_for(&self, r: &CheckResult) -> Vec<&Silence> {
        self.silences.iter().filter(|s| s.matches(r)).collect()
    }

    pub fn apply_snapshot(&mut self, snapshot: ChecksSnapshot, at: DateTime<Utc>) {
        // The first answer (of this backend) has nothing before it to have resolved.
        if self.last_update.is_some() && !self.new_backend {
            self.resolved.observe(&self.results, &snapshot.results, at);
        }
        self.new_backend = false;
        self.results = snapshot.results;
        self.silences = snapshot.silences;
        self.skipped = snapshot.skipped;
        self.inhibit_rules = snapshot.inhibit_rules;
        self.last_update = Some(at);
        self.index_failing();
        self.index_mutes();
        self.rebuild();
    }

    /// Marks rows covered by a silence the backend just confirmed, before the next poll shows it.
    pub fn add_silence(&mut self, silence: Silence) {
        for r in self.results.iter_mut() {
            if silence.matches(r) && !r.silenced_by.contains(&silence.id) {
                r.silenced = true;
                r.silenced_by.push(silence.id.clone());
            }
        }
        self.silences.retain(|s| s.id != silence.id);
        self.silences.push(silence);
        self.index_failing();
        self.index_mutes();
        self.rebuild();
    }

    pub fn remove_silence(&mut self, id: &str) {
        self.silences.retain(|s| s.id != id);
        for r in self.results.iter_mut() {
            let before = r.silenced_by.len();
            r.silenced_by.retain(|s| s != id);
            if before != r.silenced_by.len() && r.silenced_by.is_empty() {
                r.silenced = false;
            }
        }
        self.index_failing();
        self.index_mutes();
        self.rebuild();
    }

    pub fn set_filter(&mut self, f: Option<Filter>) {
        self.filter = f;
        self.rebuild();
    }

    pub fn set_scope(&mut self, scope: Option<EntityScope>) {
        if self.scope != scope {
            self.scope = scope;
            self.rebuild();
        }
    }

    /// A merged view scoped to one member: its own cluster's checks only (the same entity name
    /// in another cluster is another host). `None`: every cluster's.
    pub fn set_scope_cluster(&mut self, c: Option<crate::model::ClusterId>) {
        if self.scope_cluster != c {
            self.scope_cluster = c;
            self.rebuild();
        }
    }

    pub fn toggle_hide_ok(&mut self) {
        self.hide_ok = !self.hide_ok;
        self.rebuild();
    }

    pub fn toggle_hide_silenced(&mut self) {
        self.hide_silenced = !self.hide_silenced;
        self.rebuild();
    }

    pub fn cycle_sort(&mut self) {
        let cur = self.sort.unwrap_or(ChecksSort::Worst);
        let i = ChecksSort::ALL.iter().position(|s| *s == cur).unwrap_or(0);
        self.sort = Some(ChecksSort::ALL[(i + 1) % ChecksSort::ALL.len()]);
        self.rebuild();
    }

    pub fn reverse_sort(&mut self) {
        self.descending = !self.descending;
        self.rebuild();
    }

    pub fn move_selection(&mut self, delta: isize) {
        // A row is always selected while there are rows: moves count from it.
        let Some(cur) = self.selected_index() else {
            return;
        };
        let max = self.cursor_len() as isize - 1;
        self.select_index((cur as isize + delta).clamp(0, max) as usize);
    }

    pub fn select_index(&mut self, i: usize) {
        let len = self.cursor_len();
        if len == 0 {
            self.selected = None;
            self.selected_resolved = None;
            self.cursor.select(None);
            return;
        }
        let i = i.min(len - 1);
        self.cursor.select(Some(i));
        self.selected = self.row(i).map(|r| (r.entity.clone(), r.check.clone()));
        self.selected_resolved = i
            .checked_sub(self.view.len())
            .and_then(|j| self.resolved_view.get(j))
            .and_then(|&k| self.resolved.get(k))
            .map(|x| (x.last.entity.clone(), x.last.check.clone()));
    }

    /// Whether a recently resolved row is in view: the scope and the filter apply as to live rows.
    fn passes_resolved(&self, x: &super::resolved::Resolved) -> bool {
        let r = &x.last;
        if let Some(scope) = &self.scope {
            if !scope.matches(r.cluster, &r.entity) {
                return false;
            }
        }
        match &self.filter {
            None => true,
            Some(f) => f.matches_any(&[&r.entity, &r.check, &r.output]),
        }
    }

    fn passes(&self, r: &CheckResult) -> bool {
        if self.hide_ok && r.status == 0 {
            return false;
        }
        if self.only.is_some_and(|c| c != r.cluster) {
            return false;
        }
        if self.scope.is_some() && self.scope_cluster.is_some_and(|c| c != r.cluster) {
            return false;
        }
        if let Some(f) = self.filter.as_ref().filter(|f| f.cluster.is_some()) {
            let name = self
                .cluster_names
                .get(r.cluster.0 as usize)
                .map_or("", String::as_str);
            if !f.matches_cluster(name) {
                return false;
            }
        }
        if self.hide_silenced && r.silenced {
            return false;
        }
        if let Some(scope) = &self.scope {
            if !scope.matches(r.cluster, &r.entity) {
                return false;
            }
        }
        match &self.filter {
            None => true,
            Some(f) => f.matches_any(&[&r.entity, &r.check, &r.output]),
        }
    }

    fn compare(&self, a: &CheckResult, b: &CheckResult) -> Ordering {
        let names =
            || natural_cmp(&a.entity, &b.entity).then_with(|| natural_cmp(&a.check, &b.check));
        let ord = match self.sort.unwrap_or(ChecksSort::Worst) {
            ChecksSort::Worst => rank(a.severity())
                .cmp(&rank(b.severity()))
                // Active, then inhibited, then silenced.
                .then_with(|| {
                    (a.silenced, !a.inhibited_by.is_empty())
                        .cmp(&(b.silenced, !b.inhibited_by.is_empty()))
                })
                .then_with(|| b.occurrences.cmp(&a.occurrences))
                .then_with(names),
            ChecksSort::Entity => names(),
            ChecksSort::Check => natural_cmp(&a.check, &b.check).then_with(names),
            // Longest in state first.
            ChecksSort::Duration => a.since.cmp(&b.since).then_with(names),
            ChecksSort::LastRun => b.executed.cmp(&a.executed).then_with(names),
        };
        if self.descending {
            ord.reverse()
        } else {
            ord
        }
    }

    pub fn is_marked(&self, r: &CheckResult) -> bool {
        self.marked.contains(&check_id(r))
    }

    pub fn marked_count(&self) -> usize {
        self.marked.len()
    }

    /// Marks (or unmarks) the check under the cursor.
    pub fn toggle_mark(&mut self) {
        if let Some(r) = self.selected() {
            let id = check_id(r);
            if !self.marked.remove(&id) {
                self.marked.insert(id);
            }
        }
    }

    /// Marks exactly these checks (cluster, entity, check) — a group's — dropping other marks.
    pub fn mark_only(&mut self, ids: &[CheckId]) {
        self.marked = ids.iter().cloned().collect();
    }

    /// Marks every check the pane shows.
    pub fn mark_all_visible(&mut self) {
        let ids: Vec<CheckId> = self.visible_rows(0, usize::MAX).map(check_id).collect();
        self.marked.extend(ids);
    }

    pub fn clear_marks(&mut self) {
        self.marked.clear();
    }

    /// The marked checks still reported, in the order the pane shows them.
    pub fn marked_rows(&self) -> Vec<&CheckResult> {
        self.visible_rows(0, usize::MAX)
            .filter(|r| self.is_marked(r))
            .collect()
    }

    /// The badge of a member known by these names (instance, address): its failing checks.
    pub fn badge(&self, names: &[&str]) -> Option<Badge> {
        self.badge_in(crate::model::ClusterId::default(), names)
    }

    /// The failing checks of cluster `c` on a member of that cluster known by `names`.
    pub fn badge_in(&self, c: crate::model::ClusterId, names: &[&str]) -> Option<Badge> {
        let mut keys: Vec<&str> = names.iter().map(|n| host_part(n)).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.iter()
            .filter_map(|k| self.failing.get(&(c, k.to_string())).copied())
            .reduce(Badge::add)
    }

    /// Per severity, the rows in view (scope, filter and toggles applied) and all received:
    /// what the header says, `2 crit of 20`.
    pub fn view_counts(&self) -> [usize; 4] {
        let mut c = [0; 4];
        for r in self.visible_rows(0, usize::MAX) {
            c[rank(r.severity()) as usize] += 1;
        }
        c
    }

    fn index_failing(&mut self) {
        self.failing.clear();
        for r in &self.results {
            if r.status == 0 || r.silenced {
                continue;
            }
            let b = Badge {
                worst: r.severity(),
                failing: 1,
            };
            self.failing
                .entry((r.cluster, host_part(&r.entity).to_string()))
                .and_modify(|x| *x = x.add(b))
                .or_insert(b);
        }
    }

    /// `:cluster NAME` / `:cluster *` in a merged view.
    pub fn narrow(&mut self, only: Option<crate::model::ClusterId>) {
        self.only = only;
        self.rebuild();
    }

    fn rebuild(&mut self) {
        let mut view: Vec<usize> = (0..self.results.len())
            .filter(|&i| self.passes(&self.results[i]) && self.passes_mute(i))
            .collect();
        view.sort_by(|&a, &b| self.compare(&self.results[a], &self.results[b]));
        self.view = view;
        let now = self.last_update.unwrap_or_default();
        self.resolved_view = if self.hide_resolved {
            Vec::new()
        } else {
            self.resolved
                .iter()
                .filter(|(_, x)| now - x.at < super::resolved::KEEP && self.passes_resolved(x))
                .map(|(i, _)| i)
                .collect()
        };
        if self.cursor_len() == 0 {
            self.cursor.select(None);
            return;
        }
        // The cursor follows what it was on: a resolved row, else a live row.
        if let Some((e, c)) = &self.selected_resolved {
            if let Some(pos) = self.resolved_view.iter().position(|&j| {
                self.resolved
                    .get(j)
                    .is_some_and(|x| x.last.entity == *e && x.last.check == *c)
            }) {
                self.cursor.select(Some(self.view.len() + pos));
                return;
            }
        }
        if let Some((e, c)) = &self.selected {
            if let Some(pos) = self
                .view
                .iter()
                .position(|&j| self.results[j].entity == *e && self.results[j].check == *c)
            {
                self.cursor.select(Some(pos));
                return;
            }
        }
        let i = self.selected_index().unwrap_or(0);
        self.select_index(i);
    }
}

/// Row states: what the state column, the header counts and the mute toggles read.
impl Checks {
    fn index_mutes(&mut self) {
        self.mutes = self
            .results
            .iter()
            .map(|r| mute_of(r, &self.silences))
            .collect();
    }

    fn mute_at(&self, result: usize) -> &Mute {
        self.mutes.get(result).unwrap_or(&Mute::Active)
    }

    fn passes_mute(&self, result: usize) -> bool {
        match self.mute_at(result) {
            Mute::Inhibited => !self.hide_inhibited,
            Mute::Acked(_) => !self.unacked_only,
            _ => true,
        }
    }

    /// The state of `results[i]`.
    pub fn mute_of_result(&self, i: usize) -> &Mute {
        self.mute_at(i)
    }

    /// The state of the row at view position `i`.
    pub fn mute_of_row(&self, i: usize) -> Option<&Mute> {
        self.view.get(i).map(|&j| self.mute_at(j))
    }

    /// The state of a result by its (entity, check), for the detail.
    pub fn mute_of_check(&self, entity: &str, check: &str) -> Mute {
        self.results
            .iter()
            .position(|r| r.entity == entity && r.check == check)
            .map(|i| self.mute_at(i).clone())
            .unwrap_or(Mute::Active)
    }

    /// Firing rows in view and how they are muted: the header's counts.
    pub fn mute_counts(&self) -> MuteCounts {
        let mut c = MuteCounts::default();
        for &j in &self.view {
            if let Some(r) = self.results.get(j) {
                c.add(r, self.mute_at(j));
            }
        }
        c
    }

    /// The alerts inhibiting `r`, found by the fingerprints Alertmanager names (an inhibitor
    /// that is no longer listed is left out).
    pub fn inhibitors(&self, r: &CheckResult) -> Vec<&CheckResult> {
        r.inhibited_by
            .iter()
            .filter_map(|fp| {
                self.results
                    .iter()
                    .find(|x| !x.fingerprint.is_empty() && x.fingerprint == *fp)
            })
            .collect()
    }

    /// Another backend answers from now on (discovery moved it): what the old one reported
    /// neither resolves nor is news.
    pub fn backend_changed(&mut self) {
        self.resolved = Default::default();
        self.new_backend = true;
        self.rebuild();
    }

    pub fn toggle_hide_inhibited(&mut self) {
        self.hide_inhibited = !self.hide_inhibited;
        self.rebuild();
    }

    pub fn toggle_unacked_only(&mut self) {
        self.unacked_only = !self.unacked_only;
        self.rebuild();
    }

    fn on_mute_toggle(&mut self, action: Action) -> Reaction {
        if action == Action::ToggleHideInhibited {
            self.toggle_hide_inhibited();
            Reaction::info(if self.hide_inhibited {
                "hiding inhibited alerts"
            } else {
                "showing inhibited alerts"
            })
        } else {
            self.toggle_unacked_only();
            Reaction::info(if self.unacked_only {
                "hiding acked checks (unacked only)"
            } else {
                "showing acked checks"
            })
        }
    }
}

impl Checks {
    /// The selected row's label and the silences covering it: ours first, then the ones the
    /// backend names.
    pub fn silences_of_selected(&self) -> Option<(String, Vec<String>)> {
        let r = self.selected()?;
        let mut ids: Vec<String> = self.silences_for(r).iter().map(|s| s.id.clone()).collect();
        for id in &r.silenced_by {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        Some((
            visible(&format!("{}/{}", r.entity, r.check)).into_owned(),
            ids,
        ))
    }
}

/// One line about a silence for dialogs: id, who, why, until when.
pub fn describe_silence(checks: &Checks, id: &str) -> String {
    match checks.silences.iter().find(|s| s.id == id) {
        None => id.to_string(),
        Some(s) => {
            let until = s
                .expire_at
                .map(|t| format!(", until {}", t.format("%Y-%m-%d %H:%M UTC")))
                .unwrap_or_default();
            let who = if s.creator.is_empty() {
                "?"
            } else {
                s.creator.as_str()
            };
            format!("{} — by {who}: \"{}\"{until}", s.describe(), s.reason)
        }
    }
}

impl PaneState for Checks {
    fn name(&self) -> &'static str {
        "checks"
    }

    fn filterable(&self) -> bool {
        true
    }

    fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    fn set_filter(&mut self, filter: Option<Filter>) -> Result<(), String> {
        Checks::set_filter(self, filter);
        Ok(())
    }

    fn filter_counts(&self) -> (usize, usize, &'static str) {
        (self.visible_len(), self.results.len(), "checks")
    }

    fn sort_columns(&self) -> &'static [&'static str] {
        &["worst", "entity", "check", "duration", "last"]
    }

    fn sort_by(&mut self, column: &str) -> Result<(), String> {
        let i = self
            .sort_columns()
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column) || (column == "status" && *c == "worst"))
            .ok_or_else(|| {
                format!(
                    "no column \"{column}\" in checks — sort by {}",
                    self.sort_columns().join(", ")
                )
            })?;
        self.sort = Some(ChecksSort::ALL[i]);
        self.descending = false;
        self.rebuild();
        Ok(())
    }

    fn on_action(&mut self, action: Action, ctx: &PaneCtx) -> Reaction {
        let page = self.cursor.page();
        match action {
            Action::Down => self.move_selection(1),
            Action::Up => self.move_selection(-1),
            Action::PageDown => self.move_selection(page),
            Action::PageUp => self.move_selection(-page),
            Action::Top => self.select_index(0),
            Action::Bottom => self.select_index(usize::MAX),
            Action::SortNext => {
                self.cycle_sort();
                let name = self.sort.map(|s| s.name()).unwrap_or("worst");
                return Reaction::info(format!("checks sorted by {name}"));
            }
            Action::SortReverse => self.reverse_sort(),
            Action::Copy => {
                return match (self.selected(), self.selected_resolved()) {
                    (Some(r), _) => Reaction::copy(&r.output),
                    (None, Some(x)) => Reaction::copy(&x.last.output),
                    (None, None) => Reaction::info(self.no_row()),
                }
            }
            Action::ToggleHideOk => {
                self.toggle_hide_ok();
                return Reaction::info(if self.hide_ok {
                    "hiding OK checks"
                } else {
                    "showing OK checks"
                });
            }
            Action::ToggleHideSilenced => {
                self.toggle_hide_silenced();
                return Reaction::info(if self.hide_silenced {
                    "hiding silenced checks"
                } else {
                    "showing silenced checks"
                });
            }
            Action::ToggleHideInhibited | Action::ToggleUnackedOnly => {
                return self.on_mute_toggle(action);
            }
            Action::Detail => {
                if let Some(r) = self.selected() {
                    return Reaction::open(Popup::CheckDetail {
                        entity: r.entity.clone(),
                        check: r.check.clone(),
                        scroll: 0,
                        inhibitor: 0,
                    });
                }
                if let Some(x) = self.selected_resolved() {
                    return Reaction::open(Popup::ResolvedDetail {
                        item: Box::new(x.clone()),
                        scroll: 0,
                    });
                }
            }
            Action::ToggleResolved => {
                self.toggle_hide_resolved();
                return Reaction::info(if self.hide_resolved {
                    "hiding recently resolved checks"
                } else {
                    "showing recently resolved checks (the last hour, from this console's polls)"
                });
            }
            Action::Silence => {
                // Alertmanager silences end only at their time.
                let supports_resolve = ctx.checks_kind != "alertmanager";
                return match self.selected() {
                    Some(r) => {
                        Reaction::open(Popup::SilenceForm(SilenceForm::new(r, supports_resolve)))
                    }
                    None => Reaction::info(self.no_row()),
                };
            }
            Action::Unsilence => {
                return match self.silences_of_selected() {
                    None => Reaction::info(self.no_row()),
                    Some((label, mut ids)) => match ids.len() {
                        0 => Reaction::info(format!("{label} is not silenced")),
                        1 => {
                            let id = ids.remove(0);
                            let description = describe_silence(self, &id);
                            Reaction::open(Popup::Confirm(Confirm::unsilence(id, description)))
                        }
                        _ => Reaction::open(Popup::PickSilence {
                            ids,
                            index: 0,
                            extend: false,
                        }),
                    },
                }
            }
            _ => {}
        }
        Reaction::default()
    }
}

/// Scopes offered in the silence form for the selected row, most specific first.
pub fn scopes_for(r: &CheckResult) -> Vec<SilenceScope> {
    let mut v = vec![
        SilenceScope::CheckOnEntity {
            entity: r.entity.clone(),
            check: r.check.clone(),
        },
        SilenceScope::CheckEverywhere {
            check: r.check.clone(),
        },
        SilenceScope::Entity {
            entity: r.entity.clone(),
        },
    ];
    for s in &r.subscriptions {
        if !s.starts_with("entity:") && !s.starts_with("client:") {
            v.push(SilenceScope::Subscription {
                subscription: s.clone(),
            });
        }
    }
    v
}

/// The longest silence the form sets: a year. Longer is a typo or a way to overflow the clock
/// (`999999999999999w`); a silence that should never end is `none`.
pub const MAX_SILENCE: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// `30m`, `2h`, `1d`, `90s`, `1h30m`; `none` or empty = no expiry. At most [`MAX_SILENCE`].
pub fn parse_duration(s: &str) -> Result<Option<std::time::Duration>, String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let too_long = || {
        format!(
            "\"{s}\" is longer than {}d, the longest silence this form sets — use none for one without an end",
            MAX_SILENCE.as_secs() / 86_400
        )
    };
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        if num.is_empty() {
            return Err(format!(
                "\"{s}\" is not a duration — use e.g. 30m, 2h, 1d or none"
            ));
        }
        // All digits: a parse failure can only be a number too large for u64.
        let n: u64 = num.parse().map_err(|_| too_long())?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(format!("\"{s}\": unknown unit '{c}' — use s, m, h, d or w")),
        };
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .filter(|&t| t <= MAX_SILENCE.as_secs())
            .ok_or_else(too_long)?;
    }
    if !num.is_empty() {
        return Err(format!("\"{s}\" needs a unit — e.g. {num}m or {num}h"));
    }
    if total == 0 {
        return Err("a duration of zero silences nothing — use e.g. 30m, or none".into());
    }
    Ok(Some(std::time::Duration::from_secs(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(entity: &str, check: &str, status: i64) -> CheckResult {
        CheckResult {
            entity: entity.into(),
            check: check.into(),
            status,
            subscriptions: vec!["linux".into()],
            ..Default::default()
        }
    }

    fn snap(results: Vec<CheckResult>) -> ChecksSnapshot {
        ChecksSnapshot {
            results,
            ..Default::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    #[test]
    fn worst_first_and_toggles() {
        let mut c = Checks::default();
        c.apply_snapshot(
            snap(vec![
                r("a", "ok", 0),
                r("b", "warn", 1),
                r("c", "crit", 2),
                r("d", "odd", 7),
            ]),
            now(),
        );
        let order: Vec<_> = (0..4).map(|i| c.row(i).unwrap().check.clone()).collect();
        assert_eq!(order, ["crit", "odd", "warn", "ok"]);
        c.toggle_hide_ok();
        assert_eq!(c.visible_len(), 3);
        assert_eq!(c.counts(), [1, 1, 1, 1]);
    }

    #[test]
    fn selection_survives_a_poll() {
        let mut c = Checks::default();
        c.apply_snapshot(snap(vec![r("a", "x", 0), r("b", "y", 0)]), now());
        c.select_index(1);
        assert_eq!(c.selected().unwrap().entity, "b");
        c.apply_snapshot(snap(vec![r("a", "x", 0), r("b", "y", 2)]), now());
        assert_eq!(c.selected().unwrap().entity, "b");
        assert_eq!(c.selected_index(), Some(0));
    }

    #[test]
    fn scope_matches_names_and_host() {
        let mut c = Checks::default();
        c.apply_snapshot(
            snap(vec![
                r("web-1", "x", 0),
                r("10.0.0.2:9100", "y", 2),
                r("db", "z", 1),
            ]),
            now(),
        );
        c.set_scope(Some(EntityScope {
            label: "web-2".into(),
            names: vec!["web-2".into(), "10.0.0.2".into()],
            ..Default::default()
        }));
        assert_eq!(c.visible_len(), 1);
        assert_eq!(c.row(0).unwrap().check, "y");
    }

    #[test]
    fn local_silence_marks_and_unmarks() {
        let mut c = Checks::default();
        c.apply_snapshot(
            snap(vec![r("web-1", "http", 2), r("web-2", "http", 2)]),
            now(),
        );
        c.add_silence(Silence {
            id: "entity:web-1:http".into(),
            subscription: Some("entity:web-1".into()),
            check: Some("http".into()),
            ..Default::default()
        });
        assert!(c.find("web-1", "http").unwrap().silenced);
        assert!(!c.find("web-2", "http").unwrap().silenced);
        c.remove_silence("entity:web-1:http");
        assert!(!c.find("web-1", "http").unwrap().silenced);
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("30m").unwrap(),
            Some(std::time::Duration::from_secs(1800))
        );
        assert_eq!(
            parse_duration("1h30m").unwrap(),
            Some(std::time::Duration::from_secs(5400))
        );
        assert_eq!(parse_duration("none").unwrap(), None);
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("3x").is_err());
        assert!(parse_duration("0m").is_err());
        assert!(parse_duration("m").is_err());
    }

    /// Durations are bounded: the longest allowed loads, anything longer (including numbers that
    /// overflow u64 seconds, which used to panic the main loop) is refused naming the bound.
    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_duration("365d").unwrap(), Some(MAX_SILENCE));
        assert_eq!(parse_duration("52w1d").unwrap(), Some(MAX_SILENCE));
        for too_long in [
            "366d",
            "365d1s",
            "53w",
            "999999999999999w",
            "30500000000000d",
            "18446744073709551615s",
            "99999999999999999999999h",
            "1d18446744073709551615s",
        ] {
            let e = parse_duration(too_long).expect_err(too_long);
            assert!(
                e.contains("longer than 365d") && e.contains("none"),
                "{too_long}: {e}"
            );
        }
    }

    #[test]
    fn scopes_offered() {
        let s = scopes_for(&r("web-1", "http", 2));
        assert_eq!(s.len(), 4);
        assert_eq!(
            s[3],
            SilenceScope::Subscription {
                subscription: "linux".into()
            }
        );
    }
}

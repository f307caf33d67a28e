//! All console state, changed only by [`update`] (facts from sources) and [`handle_action`] /
//! [`handle_text`] (the user). Pure and synchronous: no I/O, no clocks — time arrives as `Msg::Tick`.

pub mod checks;
pub mod logs;
pub mod member_value;
pub mod members;
pub mod metrics;
pub mod silence_form;

use std::cell::Cell;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::action::{Action, Command};
use crate::audit::AuditEntry;
use crate::sources::checks::{Leftover, Silence, SilenceOutcome, SilenceRequest};
use crate::sources::{DeregisterOutcome, Health, KvEntry, Msg, SourceId};
use crate::text::visible;
use checks::{Checks, EntityScope};
use members::{Filter, Members};
pub use silence_form::{FormKey, SilenceForm};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Members,
    Checks,
    Metrics,
    Logs,
}

impl Pane {
    pub const ORDER: [Pane; 4] = [Pane::Members, Pane::Checks, Pane::Metrics, Pane::Logs];

    fn step(self, delta: isize) -> Pane {
        let i = Self::ORDER.iter().position(|p| *p == self).unwrap_or(0) as isize;
        Self::ORDER[(i + delta).rem_euclid(4) as usize]
    }

    pub fn context(self) -> crate::keymap::Context {
        use crate::keymap::Context;
        match self {
            Pane::Members => Context::Members,
            Pane::Checks => Context::Checks,
            Pane::Metrics => Context::Metrics,
            Pane::Logs => Context::Logs,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help {
        scroll: usize,
    },
    MemberDetail {
        key: String,
        scroll: usize,
        history: Option<Result<Vec<KvEntry>, String>>,
    },
    ConfirmDeregister {
        key: String,
        mod_revision: i64,
        lease: i64,
        revoke_lease: bool,
    },
    CheckDetail {
        entity: String,
        check: String,
        scroll: usize,
    },
    LogDetail {
        line: Box<crate::sources::syslog::LogLine>,
        scroll: usize,
    },
    SilenceForm(SilenceForm),
    ConfirmSilence(SilenceRequest),
    /// Several silences cover the row: pick the one to remove.
    PickSilence {
        ids: Vec<String>,
        index: usize,
    },
    ConfirmUnsilence {
        id: String,
        description: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub kind: InputKind,
    pub buffer: String,
}

/// Keys while a text input is open bypass the keymap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKey {
    Char(char),
    Backspace,
    Enter,
    Esc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusLine {
    pub text: String,
    pub level: Level,
    pub at: DateTime<Utc>,
}

/// What the panes without a source yet were configured with, so they can say so honestly.
#[derive(Debug, Clone, Default)]
pub struct PaneBackends {
    pub checks: Option<String>,
    pub metrics: Option<String>,
    pub logs: Option<String>,
}

#[derive(Debug)]
pub struct State {
    pub cluster: String,
    pub readonly: bool,
    pub demo: bool,
    pub user: String,
    pub utc: bool,
    pub now: DateTime<Utc>,
    pub focus: Pane,
    pub popup: Option<Popup>,
    pub input: Option<Input>,
    pub status: Option<StatusLine>,
    pub health: BTreeMap<SourceId, Health>,
    pub members: Members,
    pub checks: Checks,
    pub metrics: metrics::MetricsPane,
    pub logs: logs::Logs,
    /// The member the other panes are scoped to (set by moving in the members pane, Esc clears).
    pub scope_key: Option<String>,
    pub backends: PaneBackends,
    pub should_quit: bool,
    /// `:cluster NAME` asks the app to restart on another profile.
    pub switch_to: Option<String>,
    /// Presentation state written by the view (scroll offset and rows on screen) so the list keeps
    /// its scroll position between frames, and `update` knows which leases are visible.
    pub members_offset: Cell<usize>,
    pub members_viewport: Cell<usize>,
    pub checks_offset: Cell<usize>,
    pub checks_viewport: Cell<usize>,
    pub logs_viewport: Cell<usize>,
    watched_leases: Vec<i64>,
}

impl State {
    pub fn new(cluster: &str, prefix: &str, user: &str, now: DateTime<Utc>) -> State {
        let mut health = BTreeMap::new();
        health.insert(SourceId::Etcd, Health::Connecting);
        State {
            cluster: cluster.to_string(),
            readonly: false,
            demo: false,
            user: user.to_string(),
            utc: false,
            now,
            focus: Pane::Members,
            popup: None,
            input: None,
            status: None,
            health,
            members: Members::new(prefix),
            checks: Checks::default(),
            metrics: metrics::MetricsPane::default(),
            logs: logs::Logs::default(),
            scope_key: None,
            backends: PaneBackends::default(),
            should_quit: false,
            switch_to: None,
            members_offset: Cell::new(0),
            members_viewport: Cell::new(20),
            checks_offset: Cell::new(0),
            checks_viewport: Cell::new(20),
            logs_viewport: Cell::new(20),
            watched_leases: Vec::new(),
        }
    }

    fn say(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            level,
            at: self.now,
        });
    }

    fn audit(&self, action: &str, target: &str, result: &str, detail: Option<String>) -> Command {
        Command::Audit(AuditEntry {
            time: self.now.to_rfc3339(),
            user: self.user.clone(),
            cluster: self.cluster.clone(),
            action: action.to_string(),
            target: target.to_string(),
            result: result.to_string(),
            detail,
        })
    }

    /// Page size for page up/down: the rows the focused table showed last frame.
    fn page(&self) -> isize {
        match self.focus {
            Pane::Checks => self.checks_viewport.get().max(1) as isize,
            _ => self.members_viewport.get().max(1) as isize,
        }
    }

    /// Whether the checks backend supports expire-on-resolve (Alertmanager does not).
    pub fn checks_kind(&self) -> &str {
        self.backends.checks.as_deref().unwrap_or("")
    }

    /// Scopes the other panes to the member under the cursor.
    fn scope_to_selected_member(&mut self) -> Option<Command> {
        let scope = self.members.selected().map(|m| {
            let mut names = vec![m.instance().to_string()];
            if !m.addr().is_empty() {
                names.push(m.addr().to_string());
                if let Some((host, _)) = m.addr().rsplit_once(':') {
                    names.push(host.to_string());
                }
            }
            EntityScope {
                label: m.instance().to_string(),
                names,
            }
        });
        self.logs.set_scope(scope.clone());
        self.checks.set_scope(scope);
        let key = self.members.selected().map(|m| m.key.to_string());
        if key == self.scope_key {
            return None;
        }
        self.scope_key = key;
        Some(Command::LogsScope(
            self.logs.scope.as_ref().map(|s| s.names.clone()),
        ))
    }
}

/// Information from the app side (e.g. a discovered backend).
pub fn note(state: &mut State, text: String) {
    state.say(Level::Info, text);
}

/// An I/O failure on the app side (e.g. the audit log) the user must see.
pub fn note_error(state: &mut State, text: String) {
    state.say(Level::Error, text);
}

/// Facts from sources and the clock.
pub fn update(state: &mut State, msg: Msg) -> Vec<Command> {
    let mut out = Vec::new();
    match msg {
        Msg::Health(source, health) => {
            state.health.insert(source, health);
        }
        Msg::MembersSnapshot {
            revision,
            entries,
            at,
        } => {
            state.members.apply_snapshot(revision, entries, at);
            out.extend(lease_interest(state));
        }
        Msg::MembersListed {
            revision,
            members,
            at,
        } => {
            state.members.apply_listing(revision, members, at);
            out.extend(lease_interest(state));
        }
        Msg::MembersEvents { events, at } => {
            state.members.apply_events(events, at);
            out.extend(lease_interest(state));
        }
        Msg::LeaseTtls { ttls, at } => state.members.apply_lease_ttls(&ttls, at),
        Msg::History { key, revisions } => {
            if let Some(Popup::MemberDetail {
                key: shown,
                history,
                ..
            }) = &mut state.popup
            {
                if *shown == key {
                    *history = Some(revisions);
                }
            }
        }
        Msg::DeregisterDone { key, outcome } => {
            let (level, text, result, detail) = match &outcome {
                DeregisterOutcome::Deleted { lease_revoked } => {
                    let lease_note = match lease_revoked {
                        None => String::new(),
                        Some(Ok(id)) => format!(" and revoked lease {id:x}"),
                        Some(Err(e)) => format!(", but revoking its lease failed: {e}"),
                    };
                    (
                        Level::Info,
                        format!("deregistered {key}{lease_note}"),
                        "deleted",
                        (!lease_note.is_empty()).then(|| lease_note.trim().to_string()),
                    )
                }
                DeregisterOutcome::Changed {
                    current_mod_revision,
                } => (
                    Level::Warn,
                    format!("not deregistered: {key} changed since you looked (re-registered?) — check it and try again"),
                    "refused: changed",
                    current_mod_revision.map(|r| format!("mod_revision now {r}")),
                ),
                DeregisterOutcome::Missing => (
                    Level::Warn,
                    format!("{key} was already gone"),
                    "missing",
                    None,
                ),
                DeregisterOutcome::Failed(e) => (
                    Level::Error,
                    format!("deregister {key} failed: {e}"),
                    "error",
                    Some(e.clone()),
                ),
            };
            state.say(level, text);
            out.push(state.audit("deregister", &key, result, detail));
        }
        Msg::Audit(entry) => out.push(Command::Audit(entry)),
        Msg::ChecksSnapshot { snapshot, at } => state.checks.apply_snapshot(snapshot, at),
        Msg::SilenceDone(outcome) => out.extend(silence_done(state, outcome)),
        Msg::Metrics { result, at } => state.metrics.apply(result, at),
        Msg::LogLines(lines) => state.logs.extend(lines),
        // Handled by the app (it owns the source tasks); see `app::discover`.
        Msg::Discovered { .. } => {}
        Msg::Notice(source, text) => state.say(Level::Warn, format!("{}: {text}", source.label())),
    }
    out
}

fn silence_done(state: &mut State, outcome: SilenceOutcome) -> Vec<Command> {
    match outcome {
        SilenceOutcome::Created { silence, request } => {
            let id = silence.id.clone();
            let sent = sent_as(&silence);
            state.checks.add_silence(*silence);
            state.say(
                Level::Info,
                format!("silenced {} ({})", request.scope.describe(), visible(&id)),
            );
            vec![state.audit(
                "silence",
                &request.scope.describe(),
                "created",
                Some(format!("id {id}; {sent}; reason: {}", request.reason)),
            )]
        }
        SilenceOutcome::MatchedNothing {
            silence,
            request,
            leftover,
        } => {
            let id = silence.id.as_str();
            let shown_id = visible(id);
            let (said, recorded) = match &leftover {
                Leftover::Expired => (
                    format!("nothing shows silence {shown_id}, so it was expired again"),
                    "expired again".to_string(),
                ),
                Leftover::Absent => (
                    format!("the backend does not hold silence {shown_id}"),
                    "not held by the backend".to_string(),
                ),
                Leftover::Kept(e) => (
                    format!(
                        "silence {shown_id} still exists (expiring it failed: {e}) — remove it in the backend"
                    ),
                    format!("still there, expiring it failed: {e}"),
                ),
            };
            state.say(
                Level::Warn,
                format!(
                    "the silence matched nothing: {} — {said}",
                    request.scope.describe()
                ),
            );
            vec![state.audit(
                "silence",
                &request.scope.describe(),
                "matched nothing",
                Some(format!(
                    "id {id}; {}; {recorded}; reason: {}",
                    sent_as(&silence),
                    request.reason
                )),
            )]
        }
        SilenceOutcome::Unconfirmed {
            silence,
            request,
            error,
        } => {
            state.say(
                Level::Warn,
                format!(
                    "silence {} for {} was created but could not be confirmed ({error}) — check it in the backend",
                    visible(&silence.id),
                    request.scope.describe()
                ),
            );
            vec![state.audit(
                "silence",
                &request.scope.describe(),
                "unconfirmed",
                Some(format!(
                    "id {}; {}; {error}; reason: {}",
                    silence.id,
                    sent_as(&silence),
                    request.reason
                )),
            )]
        }
        SilenceOutcome::Removed { id } => {
            state.checks.remove_silence(&id);
            state.say(Level::Info, format!("silence {} removed", visible(&id)));
            vec![state.audit("unsilence", &id, "removed", None)]
        }
        SilenceOutcome::AlreadyGone { id, detail } => {
            state.checks.remove_silence(&id);
            state.say(
                Level::Warn,
                format!(
                    "silence {} was already expired or removed elsewhere",
                    visible(&id)
                ),
            );
            vec![state.audit("unsilence", &id, "already gone", Some(detail))]
        }
        SilenceOutcome::Failed { what, error } => {
            state.say(Level::Error, format!("{what} failed: {error}"));
            let action = if what.starts_with("unsilence") {
                "unsilence"
            } else {
                "silence"
            };
            vec![state.audit(action, &what, "error", Some(error))]
        }
    }
}

/// What a silence was sent as, for the audit: the matchers or the Sensu entry, with the names
/// exactly as sent.
fn sent_as(s: &Silence) -> String {
    if s.matchers.is_empty() {
        format!("entry {}", s.describe())
    } else {
        format!("matchers {}", s.describe())
    }
}

/// The clock, once a second and before drawing: ages and TTLs are relative to it.
pub fn tick(state: &mut State, now: DateTime<Utc>) -> Vec<Command> {
    state.now = now;
    let mut out: Vec<Command> = lease_interest(state).into_iter().collect();
    out.extend(metrics::interest(state));
    out
}

/// Leases of the rows on screen, sent to the etcd source when that set changes.
fn lease_interest(state: &mut State) -> Option<Command> {
    let offset = state.members_offset.get();
    let rows = state.members_viewport.get();
    let mut leases: Vec<i64> = state
        .members
        .visible_rows(offset, rows)
        .map(|m| m.lease)
        .filter(|l| *l != 0)
        .collect();
    leases.sort_unstable();
    leases.dedup();
    if leases == state.watched_leases {
        return None;
    }
    state.watched_leases = leases.clone();
    Some(Command::WatchLeases(leases))
}

/// A key the keymap turned into an action.
pub fn handle_action(state: &mut State, action: Action) -> Vec<Command> {
    if action.is_mutating() && state.readonly {
        state.say(
            Level::Warn,
            format!(
                "read-only session: {} refused (started with --readonly or readonly = true)",
                action.describe()
            ),
        );
        let target = match action {
            Action::Deregister => state
                .members
                .selected()
                .map(|m| m.key.to_string())
                .unwrap_or_default(),
            _ => state
                .checks
                .selected()
                .map(|r| format!("{}/{}", r.entity, r.check))
                .unwrap_or_default(),
        };
        let name = serde_json::to_value(action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        return vec![state.audit(&name, &target, "refused: readonly", None)];
    }
    if let Some(popup) = state.popup.clone() {
        return popup_action(state, popup, action);
    }
    let mut out = Vec::new();
    match action {
        Action::Quit => {
            state.should_quit = true;
            out.push(Command::Quit);
        }
        Action::NextPane => state.focus = state.focus.step(1),
        Action::PrevPane => state.focus = state.focus.step(-1),
        Action::Help => state.popup = Some(Popup::Help { scroll: 0 }),
        Action::CommandLine => {
            state.input = Some(Input {
                kind: InputKind::Command,
                buffer: String::new(),
            })
        }
        Action::Filter => {
            let current = match state.focus {
                Pane::Members => state.members.filter.as_ref().map(|f| f.text.clone()),
                Pane::Checks => state.checks.filter.as_ref().map(|f| f.text.clone()),
                Pane::Logs => state.logs.filter.as_ref().map(|f| f.text.clone()),
                _ => None,
            };
            state.input = Some(Input {
                kind: InputKind::Filter,
                buffer: current.unwrap_or_default(),
            });
        }
        Action::Back => {
            if state.focus == Pane::Members && state.members.filter.is_some() {
                state.members.set_filter(None);
                state.say(Level::Info, "filter cleared");
            } else if state.focus == Pane::Checks && state.checks.filter.is_some() {
                state.checks.set_filter(None);
                state.say(Level::Info, "filter cleared");
            } else if state.focus == Pane::Logs && state.logs.filter.is_some() {
                state.logs.set_filter(None);
                state.say(Level::Info, "filter cleared");
            } else if state.checks.scope.is_some() || state.scope_key.is_some() {
                state.checks.set_scope(None);
                state.logs.set_scope(None);
                state.scope_key = None;
                out.push(Command::LogsScope(None));
                state.say(Level::Info, "scope cleared: showing every entity");
            } else if state.status.is_some() {
                state.status = None;
            }
        }
        _ if state.focus == Pane::Members => out.extend(members_action(state, action)),
        _ if state.focus == Pane::Checks => out.extend(checks_action(state, action)),
        _ if state.focus == Pane::Metrics => metrics::action(state, action),
        _ if state.focus == Pane::Logs => logs_action(state, action),
        _ => {
            let pane = match state.focus {
                Pane::Checks => "checks",
                Pane::Metrics => "metrics",
                Pane::Logs => "logs",
                Pane::Members => "members",
            };
            state.say(
                Level::Info,
                format!("{} does nothing in the {pane} pane yet", action.describe()),
            );
        }
    }
    out.extend(lease_interest(state));
    out
}

fn members_action(state: &mut State, action: Action) -> Vec<Command> {
    let moves = matches!(
        action,
        Action::Down
            | Action::Up
            | Action::PageDown
            | Action::PageUp
            | Action::Top
            | Action::Bottom
    );
    let mut out = members_action_inner(state, action);
    if moves {
        out.extend(state.scope_to_selected_member());
    }
    out
}

fn checks_action(state: &mut State, action: Action) -> Vec<Command> {
    let page = state.page();
    let supports_resolve = state.checks_kind() != "alertmanager";
    let c = &mut state.checks;
    match action {
        Action::Down => c.move_selection(1),
        Action::Up => c.move_selection(-1),
        Action::PageDown => c.move_selection(page),
        Action::PageUp => c.move_selection(-page),
        Action::Top => c.select_index(0),
        Action::Bottom => c.select_index(usize::MAX),
        Action::SortNext => {
            c.cycle_sort();
            let name = c.sort.map(|s| s.name()).unwrap_or("worst");
            state.say(Level::Info, format!("checks sorted by {name}"));
        }
        Action::SortReverse => c.reverse_sort(),
        Action::ToggleHideOk => {
            c.toggle_hide_ok();
            let on = c.hide_ok;
            state.say(
                Level::Info,
                if on {
                    "hiding OK checks"
                } else {
                    "showing OK checks"
                },
            );
        }
        Action::ToggleHideSilenced => {
            c.toggle_hide_silenced();
            let on = c.hide_silenced;
            state.say(
                Level::Info,
                if on {
                    "hiding silenced checks"
                } else {
                    "showing silenced checks"
                },
            );
        }
        Action::Detail => {
            if let Some(r) = c.selected() {
                state.popup = Some(Popup::CheckDetail {
                    entity: r.entity.clone(),
                    check: r.check.clone(),
                    scroll: 0,
                });
            }
        }
        Action::Silence => match c.selected() {
            Some(r) => {
                state.popup = Some(Popup::SilenceForm(SilenceForm::new(r, supports_resolve)));
            }
            None => state.say(Level::Info, "no check selected"),
        },
        Action::Unsilence => match c.selected() {
            None => state.say(Level::Info, "no check selected"),
            Some(r) => {
                let mut ids: Vec<String> = c.silences_for(r).iter().map(|s| s.id.clone()).collect();
                for id in &r.silenced_by {
                    if !ids.contains(id) {
                        ids.push(id.clone());
                    }
                }
                let label = visible(&format!("{}/{}", r.entity, r.check)).into_owned();
                match ids.len() {
                    0 => state.say(Level::Info, format!("{label} is not silenced")),
                    1 => {
                        let id = ids.remove(0);
                        state.popup = Some(Popup::ConfirmUnsilence {
                            description: describe_silence(&state.checks, &id),
                            id,
                        });
                    }
                    _ => state.popup = Some(Popup::PickSilence { ids, index: 0 }),
                }
            }
        },
        _ => {}
    }
    Vec::new()
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

fn logs_action(state: &mut State, action: Action) {
    let page = state.logs_viewport.get().max(1) as isize;
    let l = &mut state.logs;
    match action {
        Action::Down => l.move_selection(1),
        Action::Up => l.move_selection(-1),
        Action::PageDown => l.move_selection(page),
        Action::PageUp => l.move_selection(-page),
        Action::Top => l.top(),
        Action::Bottom => l.bottom(),
        Action::ToggleFollow => {
            l.toggle_follow();
            let on = l.follow;
            state.say(
                Level::Info,
                if on {
                    "following new lines"
                } else {
                    "follow paused"
                },
            );
        }
        Action::CycleSeverity => {
            l.cycle_severity();
            let t = match l.min_severity {
                None => "all severities".to_string(),
                Some(s) => format!(
                    "{} and worse",
                    crate::sources::syslog::SEVERITY_NAMES[s as usize]
                ),
            };
            state.say(Level::Info, format!("logs: {t}"));
        }
        Action::ToggleWrap => l.wrap = !l.wrap,
        Action::Detail => {
            if let Some(line) = l.selected() {
                state.popup = Some(Popup::LogDetail {
                    line: Box::new(line.clone()),
                    scroll: 0,
                });
            }
        }
        _ => {}
    }
}

fn members_action_inner(state: &mut State, action: Action) -> Vec<Command> {
    let m = &mut state.members;
    match action {
        Action::Down => m.move_selection(1),
        Action::Up => m.move_selection(-1),
        Action::PageDown => {
            let p = state.page();
            state.members.move_selection(p)
        }
        Action::PageUp => {
            let p = state.page();
            state.members.move_selection(-p)
        }
        Action::Top => m.select_index(0),
        Action::Bottom => m.select_index(usize::MAX),
        Action::SortNext => m.cycle_sort(),
        Action::SortReverse => m.reverse_sort(),
        Action::Detail => {
            if let Some(sel) = m.selected() {
                let key = sel.key.to_string();
                let mod_revision = sel.mod_revision;
                state.popup = Some(Popup::MemberDetail {
                    key: key.clone(),
                    scroll: 0,
                    history: None,
                });
                return vec![Command::FetchHistory { key, mod_revision }];
            }
        }
        Action::Deregister => match m.selected() {
            Some(sel) => {
                state.popup = Some(Popup::ConfirmDeregister {
                    key: sel.key.to_string(),
                    mod_revision: sel.mod_revision,
                    lease: sel.lease,
                    revoke_lease: false,
                })
            }
            None => state.say(Level::Info, "no member selected"),
        },
        _ => {}
    }
    Vec::new()
}

fn popup_action(state: &mut State, popup: Popup, action: Action) -> Vec<Command> {
    match popup {
        Popup::ConfirmDeregister {
            key,
            mod_revision,
            lease,
            revoke_lease,
        } => match action {
            Action::Confirm => {
                state.popup = None;
                state.say(Level::Info, format!("deregistering {key} …"));
                vec![Command::Deregister {
                    key,
                    mod_revision,
                    revoke_lease: (revoke_lease && lease != 0).then_some(lease),
                }]
            }
            Action::Cancel | Action::Back | Action::Quit => {
                state.popup = None;
                state.say(Level::Info, "deregister cancelled");
                Vec::new()
            }
            Action::ToggleRevokeLease if lease != 0 => {
                state.popup = Some(Popup::ConfirmDeregister {
                    key,
                    mod_revision,
                    lease,
                    revoke_lease: !revoke_lease,
                });
                Vec::new()
            }
            _ => Vec::new(),
        },
        Popup::ConfirmSilence(request) => match action {
            Action::Confirm => {
                state.popup = None;
                state.say(
                    Level::Info,
                    format!("silencing {} …", request.scope.describe()),
                );
                vec![Command::Silence(request)]
            }
            Action::Cancel | Action::Back | Action::Quit => {
                state.popup = None;
                state.say(Level::Info, "silence cancelled");
                Vec::new()
            }
            _ => Vec::new(),
        },
        Popup::ConfirmUnsilence { id, .. } => match action {
            Action::Confirm => {
                state.popup = None;
                state.say(Level::Info, format!("removing silence {} …", visible(&id)));
                vec![Command::Unsilence { id }]
            }
            Action::Cancel | Action::Back | Action::Quit => {
                state.popup = None;
                Vec::new()
            }
            _ => Vec::new(),
        },
        Popup::PickSilence { ids, index } => {
            match action {
                Action::Down => {
                    state.popup = Some(Popup::PickSilence {
                        index: (index + 1).min(ids.len().saturating_sub(1)),
                        ids,
                    })
                }
                Action::Up => {
                    state.popup = Some(Popup::PickSilence {
                        index: index.saturating_sub(1),
                        ids,
                    })
                }
                Action::Detail | Action::Confirm => {
                    if let Some(id) = ids.get(index) {
                        state.popup = Some(Popup::ConfirmUnsilence {
                            description: describe_silence(&state.checks, id),
                            id: id.clone(),
                        });
                    }
                }
                Action::Back | Action::Cancel | Action::Quit => state.popup = None,
                _ => {}
            }
            Vec::new()
        }
        // The form reads keys itself (see `handle_form`); keymap actions only cancel it.
        Popup::SilenceForm(_) => {
            if matches!(action, Action::Back | Action::Cancel) {
                state.popup = None;
            }
            Vec::new()
        }
        Popup::Help { scroll }
        | Popup::MemberDetail { scroll, .. }
        | Popup::CheckDetail { scroll, .. }
        | Popup::LogDetail { scroll, .. } => {
            let new_scroll = match action {
                Action::Down => Some(scroll + 1),
                Action::Up => Some(scroll.saturating_sub(1)),
                Action::PageDown => Some(scroll + 10),
                Action::PageUp => Some(scroll.saturating_sub(10)),
                Action::Top => Some(0),
                Action::Bottom => Some(usize::MAX / 2),
                Action::Back | Action::Cancel | Action::Help | Action::Detail | Action::Quit => {
                    state.popup = None;
                    None
                }
                _ => None,
            };
            if let (
                Some(s),
                Some(
                    Popup::Help { scroll }
                    | Popup::MemberDetail { scroll, .. }
                    | Popup::CheckDetail { scroll, .. }
                    | Popup::LogDetail { scroll, .. },
                ),
            ) = (new_scroll, state.popup.as_mut())
            {
                *scroll = s;
            }
            Vec::new()
        }
    }
}

/// Typing into the filter or command line.
pub fn handle_text(state: &mut State, key: TextKey) -> Vec<Command> {
    let Some(input) = state.input.as_mut() else {
        return Vec::new();
    };
    match key {
        TextKey::Char(c) => {
            if input.buffer.len() < 512 {
                input.buffer.push(c);
            }
        }
        TextKey::Backspace => {
            input.buffer.pop();
        }
        TextKey::Esc => {
            let kind = input.kind.clone();
            state.input = None;
            if kind == InputKind::Filter {
                match state.focus {
                    Pane::Members => state.members.set_filter(None),
                    Pane::Checks => state.checks.set_filter(None),
                    Pane::Logs => state.logs.set_filter(None),
                    _ => {}
                }
            }
        }
        TextKey::Enter => {
            let Input { kind, buffer } = state.input.take().unwrap_or(Input {
                kind: InputKind::Command,
                buffer: String::new(),
            });
            return match kind {
                InputKind::Filter => {
                    apply_filter(state, &buffer);
                    lease_interest(state).into_iter().collect()
                }
                InputKind::Command => run_command_line(state, buffer.trim()),
            };
        }
    }
    // Live filtering while typing, like k9s: an incomplete regex just keeps the previous filter.
    if let Some(Input {
        kind: InputKind::Filter,
        buffer,
    }) = &state.input
    {
        if let Ok(f) = Filter::parse(buffer) {
            match state.focus {
                Pane::Members => state.members.set_filter(f),
                Pane::Checks => state.checks.set_filter(f),
                Pane::Logs => state.logs.set_filter(f),
                _ => {}
            }
        }
    }
    Vec::new()
}

fn apply_filter(state: &mut State, text: &str) {
    if state.focus == Pane::Metrics {
        state.say(Level::Info, "filtering this pane is not available yet");
        return;
    }
    match Filter::parse(text) {
        Ok(f) => {
            let active = f.is_some();
            let (n, total, what) = match state.focus {
                Pane::Members => {
                    state.members.set_filter(f);
                    (state.members.visible_len(), state.members.len(), "members")
                }
                Pane::Checks => {
                    state.checks.set_filter(f);
                    (
                        state.checks.visible_len(),
                        state.checks.results.len(),
                        "checks",
                    )
                }
                _ => {
                    state.logs.set_filter(f);
                    (state.logs.match_count(), state.logs.len(), "buffered lines")
                }
            };
            if active {
                state.say(
                    Level::Info,
                    format!("filter /{text}/: {n} of {total} {what}"),
                );
            } else {
                state.status = None;
            }
        }
        Err(e) => state.say(Level::Error, e),
    }
}

/// Keys while the silence form is open: it owns text fields, so it bypasses the keymap.
pub fn handle_form(state: &mut State, key: FormKey) -> Vec<Command> {
    let Some(Popup::SilenceForm(form)) = state.popup.as_mut() else {
        return Vec::new();
    };
    match form.key(key) {
        silence_form::FormResult::Editing => {}
        silence_form::FormResult::Cancel => {
            state.popup = None;
            state.say(Level::Info, "silence cancelled");
        }
        silence_form::FormResult::Submit(mut request) => {
            if let Some(why) = refused_scope(state.checks_kind(), &request.scope) {
                if let Some(Popup::SilenceForm(form)) = state.popup.as_mut() {
                    form.refuse(why);
                }
                return Vec::new();
            }
            request.creator = state.user.clone();
            state.popup = Some(Popup::ConfirmSilence(request));
        }
    }
    Vec::new()
}

/// Why the backend must not be sent a silence of `scope`, if it must not: an Alertmanager
/// silence whose matchers all match the empty string would mute every alert lacking the label.
fn refused_scope(kind: &str, scope: &crate::sources::checks::SilenceScope) -> Option<String> {
    match kind {
        "alertmanager" => crate::sources::alertmanager::matchers_for(scope).err(),
        _ => None,
    }
}

fn run_command_line(state: &mut State, line: &str) -> Vec<Command> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("q" | "quit" | "q!"), _) => {
            state.should_quit = true;
            vec![Command::Quit]
        }
        (Some("cluster" | "ctx"), Some(name)) => {
            state.switch_to = Some(name.to_string());
            state.should_quit = true;
            vec![Command::Quit]
        }
        (Some("help"), _) => {
            state.popup = Some(Popup::Help { scroll: 0 });
            Vec::new()
        }
        (None, _) => Vec::new(),
        _ => {
            state.say(
                Level::Error,
                format!("unknown command \":{line}\" — try :q, :cluster NAME, :help"),
            );
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;

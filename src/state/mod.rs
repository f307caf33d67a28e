//! All console state, changed only by [`update`] (facts from sources) and [`handle_action`] /
//! [`handle_text`] (the user). Pure and synchronous: no I/O, no clocks — time arrives as `Msg::Tick`.

pub mod member_value;
pub mod members;

use std::cell::Cell;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::action::{Action, Command};
use crate::audit::AuditEntry;
use crate::sources::{DeregisterOutcome, Health, KvEntry, Msg, SourceId};
use members::{Filter, Members};

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
    pub backends: PaneBackends,
    pub should_quit: bool,
    /// `:cluster NAME` asks the app to restart on another profile.
    pub switch_to: Option<String>,
    /// Presentation state written by the view (scroll offset and rows on screen) so the list keeps
    /// its scroll position between frames, and `update` knows which leases are visible.
    pub members_offset: Cell<usize>,
    pub members_viewport: Cell<usize>,
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
            backends: PaneBackends::default(),
            should_quit: false,
            switch_to: None,
            members_offset: Cell::new(0),
            members_viewport: Cell::new(20),
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

    /// Page size for page up/down: the rows the members table showed last frame.
    fn page(&self) -> isize {
        self.members_viewport.get().max(1) as isize
    }
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
        Msg::ChecksSnapshot { .. } | Msg::SilenceDone(_) => {}
    }
    out
}

/// The clock, once a second and before drawing: ages and TTLs are relative to it.
pub fn tick(state: &mut State, now: DateTime<Utc>) -> Vec<Command> {
    state.now = now;
    lease_interest(state).into_iter().collect()
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
            format!("read-only session: {} refused (started with --readonly or readonly = true)", action.describe()),
        );
        let target = match action {
            Action::Deregister => state
                .members
                .selected()
                .map(|m| m.key.to_string())
                .unwrap_or_default(),
            _ => String::new(),
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
            } else if state.status.is_some() {
                state.status = None;
            }
        }
        _ if state.focus == Pane::Members => out.extend(members_action(state, action)),
        _ => {
            let pane = match state.focus {
                Pane::Checks => "checks",
                Pane::Metrics => "metrics",
                Pane::Logs => "logs",
                Pane::Members => "members",
            };
            state.say(Level::Info, format!("{} does nothing in the {pane} pane yet", action.describe()));
        }
    }
    out.extend(lease_interest(state));
    out
}

fn members_action(state: &mut State, action: Action) -> Vec<Command> {
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
        Popup::Help { scroll } | Popup::MemberDetail { scroll, .. } => {
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
            if let (Some(s), Some(p)) = (new_scroll, state.popup.as_mut()) {
                match p {
                    Popup::Help { scroll } | Popup::MemberDetail { scroll, .. } => *scroll = s,
                    _ => {}
                }
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
            if kind == InputKind::Filter && state.focus == Pane::Members {
                state.members.set_filter(None);
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
        if state.focus == Pane::Members {
            if let Ok(f) = Filter::parse(buffer) {
                state.members.set_filter(f);
            }
        }
    }
    Vec::new()
}

fn apply_filter(state: &mut State, text: &str) {
    if state.focus != Pane::Members {
        state.say(Level::Info, "filtering this pane is not available yet");
        return;
    }
    match Filter::parse(text) {
        Ok(f) => {
            let active = f.is_some();
            state.members.set_filter(f);
            if active {
                let n = state.members.visible_len();
                state.say(Level::Info, format!("filter /{text}/: {n} of {} members", state.members.len()));
            } else {
                state.status = None;
            }
        }
        Err(e) => state.say(Level::Error, e),
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
            state.say(Level::Error, format!("unknown command \":{line}\" — try :q, :cluster NAME, :help"));
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;

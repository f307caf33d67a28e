//! All console state, changed only by [`update`] (facts from sources) and [`handle_action`] /
//! [`handle_text`] (the user). Pure and synchronous: no I/O, no clocks — time arrives as `Msg::Tick`.

pub mod audit_trail;
pub mod checks;
pub mod confirm_guard;
pub mod logs;

pub mod members;
pub mod metrics;
pub mod paste;
pub mod silence_form;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::action::Action;

use crate::model::{
    text::visible, AuditEntry, AuditId, ClusterId, Command, DeregisterOutcome, Health, KvEntry,
    Leftover, Msg, Mutation, Phase, Silence, SilenceOutcome, SilenceRequest, SourceId, SourceKind,
};
use audit_trail::{deregister_target, key_b64, silence_target, unsilence_target, AuditTrail};
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
        key: Vec<u8>,
        scroll: usize,
        history: Option<Result<Vec<KvEntry>, String>>,
    },
    ConfirmDeregister {
        key: Vec<u8>,
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
        line: Box<crate::model::LogLine>,
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

impl Popup {
    /// Dialogs that confirm a change to a backend; their keys wait for [`confirm_guard`].
    pub fn is_confirmation(&self) -> bool {
        matches!(
            self,
            Popup::ConfirmDeregister { .. }
                | Popup::ConfirmSilence(_)
                | Popup::ConfirmUnsilence { .. }
        )
    }
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
    /// Which of the console's clusters this state shows.
    pub cluster_id: ClusterId,
    pub health: BTreeMap<SourceId, Health>,
    /// When each source last answered (data, a confirmation, or the source's own account when
    /// its session is lost): the age a pane shows when its source is not live.
    pub last_answer: BTreeMap<SourceId, DateTime<Utc>>,
    pub members: Members,
    pub checks: Checks,
    pub metrics: metrics::MetricsPane,
    pub logs: logs::Logs,
    /// What every pane is scoped to: always the member under the members cursor (see
    /// [`sync_scope`]), the whole cluster while nothing is selected.
    pub scope: Scope,
    pub backends: PaneBackends,
    pub should_quit: bool,
    /// The cluster this session was switched from; `:cluster -` goes back to it.
    pub previous_cluster: Option<String>,
    /// Presentation state written by the view (scroll offset and rows on screen) so the list keeps
    /// its scroll position between frames, and `update` knows which leases are visible.
    pub members_offset: Cell<usize>,
    pub members_viewport: Cell<usize>,
    pub checks_offset: Cell<usize>,
    pub checks_viewport: Cell<usize>,
    pub logs_viewport: Cell<usize>,
    watched_leases: Vec<i64>,
    /// When the confirmation dialog on screen was first drawn, on the console's clock.
    confirm_guard: confirm_guard::ConfirmGuard,
    /// Why the audit log cannot be written, while it cannot: every change is refused meanwhile.
    pub audit_problem: Option<String>,
    audit: AuditTrail,
}

impl State {
    pub fn new(cluster: &str, prefix: &str, user: &str, now: DateTime<Utc>) -> State {
        let mut health = BTreeMap::new();
        health.insert(
            SourceKind::Etcd.of(ClusterId::default()),
            Health::Connecting,
        );
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
            cluster_id: ClusterId::default(),
            health,
            last_answer: BTreeMap::new(),
            members: Members::new(prefix),
            checks: Checks::default(),
            metrics: metrics::MetricsPane::default(),
            logs: logs::Logs::default(),
            scope: Scope::Cluster,
            backends: PaneBackends::default(),
            should_quit: false,
            previous_cluster: None,
            members_offset: Cell::new(0),
            members_viewport: Cell::new(20),
            checks_offset: Cell::new(0),
            checks_viewport: Cell::new(20),
            logs_viewport: Cell::new(20),
            watched_leases: Vec::new(),
            confirm_guard: Default::default(),
            audit_problem: None,
            audit: AuditTrail::new("local".into()),
        }
    }

    /// Sets this session's part of the audit ids (see [`crate::audit::run_id`]).
    pub fn set_audit_run(&mut self, run: String) {
        self.audit = AuditTrail::new(run);
    }

    fn say(&mut self, level: Level, text: impl Into<String>) {
        self.status = Some(StatusLine {
            text: text.into(),
            level,
            at: self.now,
        });
    }

    /// A new audit line (with a new id) for `action` on `target`, as of now.
    fn audit_line(&mut self, phase: Phase, action: &str, target: String) -> AuditEntry {
        let id = self.audit.next_id();
        self.audit_line_for(id, phase, action, target)
    }

    fn audit_line_for(
        &self,
        id: AuditId,
        phase: Phase,
        action: &str,
        target: String,
    ) -> AuditEntry {
        AuditEntry::new(
            id,
            phase,
            self.now.to_rfc3339(),
            &self.user,
            &self.cluster,
            action,
            target,
        )
    }

    /// The outcome line for attempt `id` with `result`: the attempt's fields, or — when the
    /// attempt is not known (a source driven without this reducer) — the (action, target) that
    /// `fallback` names.
    fn audit_outcome(
        &mut self,
        id: &AuditId,
        result: &str,
        detail: Option<String>,
        fallback: impl FnOnce() -> (&'static str, String),
    ) -> AuditEntry {
        let mut line = match self.audit.take(id) {
            Some(attempt) => attempt,
            None => {
                let (action, target) = fallback();
                self.audit_line_for(id.clone(), Phase::Outcome, action, target)
            }
        };
        line.phase = Phase::Outcome;
        line.time = self.now.to_rfc3339();
        line.result = Some(result.to_string());
        line.detail = detail;
        line
    }

    /// How old `source`'s data is when the source is not live (`None` while live, not configured,
    /// or before it ever answered): what each pane's title shows as `STALE 12s`.
    pub fn stale_for(&self, kind: SourceKind) -> Option<chrono::Duration> {
        let source = self.source(kind);
        match self.health.get(&source) {
            None | Some(Health::Live) | Some(Health::NotConfigured) => None,
            Some(_) => self
                .last_answer
                .get(&source)
                .map(|t| (self.now - *t).max(chrono::Duration::zero())),
        }
    }

    /// The time member TTLs count down to: now while etcd is live; frozen at its last answer
    /// otherwise (a countdown past what etcd last said would be a guess shown as fact).
    pub fn members_clock(&self) -> DateTime<Utc> {
        match (
            self.health_of(SourceKind::Etcd),
            self.last_answer.get(&self.source(SourceKind::Etcd)),
        ) {
            (Some(Health::Live), _) | (_, None) => self.now,
            (_, Some(t)) => (*t).min(self.now),
        }
    }

    /// This cluster's source of `kind`.
    pub fn source(&self, kind: SourceKind) -> SourceId {
        kind.of(self.cluster_id)
    }

    /// How this cluster's source of `kind` is doing (`None`: never reported).
    pub fn health_of(&self, kind: SourceKind) -> Option<&Health> {
        self.health.get(&self.source(kind))
    }

    fn answered(&mut self, kind: SourceKind, at: DateTime<Utc>) {
        let source = self.source(kind);
        let e = self.last_answer.entry(source).or_insert(at);
        *e = (*e).max(at);
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

    /// The names a log line's host or a check's entity may carry for the scoped member(s).
    fn entity_scope(&self) -> Option<EntityScope> {
        let keys: Vec<&std::sync::Arc<[u8]>> = match &self.scope {
            Scope::Cluster => return None,
            Scope::Member { key, .. } => vec![key],
            Scope::Members { keys, .. } => keys.iter().collect(),
        };
        let mut names = Vec::new();
        let mut labels = Vec::new();
        for m in keys.into_iter().filter_map(|k| self.members.get(k)) {
            labels.push(m.instance().to_string());
            names.push(m.instance().to_string());
            if !m.addr().is_empty() {
                names.push(m.addr().to_string());
                if let Some((host, _)) = m.addr().rsplit_once(':') {
                    names.push(host.to_string());
                }
            }
        }
        Some(EntityScope {
            label: match labels.len() {
                1 => labels.remove(0),
                n => format!("{n} members"),
            },
            names,
        })
    }

    /// The scope as every pane's title names it (`None`: the whole cluster).
    pub fn scope_label(&self) -> Option<String> {
        match &self.scope {
            Scope::Cluster => None,
            Scope::Member { key, .. } => Some(
                self.members
                    .get(key)
                    .map(|m| m.instance().to_string())
                    .unwrap_or_else(|| crate::model::text::escape_bytes(key).into_owned()),
            ),
            Scope::Members { keys, .. } => Some(format!("{} members", keys.len())),
        }
    }
}

/// What the panes are scoped to. A member is held by its key bytes and its cluster, never by the
/// text drawn for it; `Members` is a set (a group of members).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    Cluster,
    Member {
        cluster: String,
        key: std::sync::Arc<[u8]>,
    },
    Members {
        cluster: String,
        keys: Vec<std::sync::Arc<[u8]>>,
    },
}

/// The one rule for the scope, applied after every change to the state: the member under the
/// members cursor whenever the list has a selection, else the whole cluster. When the selected
/// member leaves the list (deleted, expired, filtered out) the scope clears, and the user is told.
pub fn sync_scope(state: &mut State) -> Vec<Command> {
    let lost = state.members.take_lost_selection();
    let wanted = match state.members.selected() {
        Some(m) => Scope::Member {
            cluster: state.cluster.clone(),
            key: m.key.clone(),
        },
        None => Scope::Cluster,
    };
    if wanted == state.scope {
        return Vec::new();
    }
    if let (Some(key), Scope::Cluster) = (lost, &wanted) {
        state.say(
            Level::Warn,
            format!("scope cleared: {key} is no longer in the list — showing the whole cluster"),
        );
    }
    state.scope = wanted;
    let scope = state.entity_scope();
    state.logs.set_scope(scope.clone());
    state.checks.set_scope(scope);
    vec![Command::LogsScope(
        state.logs.scope.as_ref().map(|s| s.names.clone()),
    )]
}

/// The audit log cannot be written (found at start, or by a failed write): say so on the status
/// line until it can, and refuse every change meanwhile (each attempt tries the log again).
pub fn audit_unwritable(state: &mut State, why: String) {
    let text = unwritable(&why);
    state.say(Level::Error, text.clone());
    state.audit_problem = Some(text);
}

fn unwritable(why: &str) -> String {
    format!(
        "the audit log cannot be written ({why}): deregister, silence and unsilence are refused until it can"
    )
}

/// A line reached the audit log: it can be written again.
pub fn audit_writable(state: &mut State) {
    state.audit_problem = None;
}

/// The app could not write `attempt` to the audit log (`why`), so nothing was sent.
pub fn mutation_refused(state: &mut State, attempt: AuditEntry, why: String) {
    state.audit.take(&attempt.id);
    state.audit_problem = Some(unwritable(&why));
    state.say(
        Level::Error,
        format!(
            "{} {}: refused: audit log unwritable ({why}) — nothing was sent",
            attempt.action, attempt.target
        ),
    );
}

/// An outcome or refusal line could not be written (`why`): the user learns what it said.
pub fn audit_line_lost(state: &mut State, line: &AuditEntry, why: String) {
    state.audit_problem = Some(unwritable(&why));
    state.say(
        Level::Error,
        format!(
            "{} {}: {} — but its audit line could not be written ({why})",
            line.action,
            line.target,
            line.result.as_deref().unwrap_or("?")
        ),
    );
}

/// A change whose attempt is recorded could not be handed to its source (`why`): its outcome
/// line, so the attempt does not stay open.
pub fn mutation_not_sent(state: &mut State, id: &AuditId, why: &str) -> Command {
    state.say(Level::Error, format!("not sent: {why}"));
    let detail = Some(format!("not sent: {why}"));
    let line = state.audit_outcome(id, "error", detail, || ("?", String::new()));
    Command::Audit(line)
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
fn update_inner(state: &mut State, msg: Msg) -> Vec<Command> {
    let mut out = Vec::new();
    match msg {
        Msg::Health(source, health) => {
            if health == Health::Live {
                let e = state.last_answer.entry(source).or_insert(state.now);
                *e = (*e).max(state.now);
            }
            state.health.insert(source, health);
        }
        Msg::LastAnswer { source, at } => {
            state.last_answer.insert(source, at);
        }
        Msg::MembersSnapshot {
            revision,
            entries,
            at,
        } => {
            state.answered(SourceKind::Etcd, at);
            state.members.apply_snapshot(revision, entries, at);
            out.extend(lease_interest(state));
        }
        Msg::MembersListed {
            revision,
            members,
            at,
        } => {
            state.answered(SourceKind::Etcd, at);
            state.members.apply_listing(revision, members, at);
            out.extend(lease_interest(state));
        }
        Msg::MembersEvents { events, at } => {
            state.answered(SourceKind::Etcd, at);
            state.members.apply_events(events, at);
            out.extend(lease_interest(state));
        }
        Msg::LeaseTtls { ttls, at } => {
            state.answered(SourceKind::Etcd, at);
            state.members.apply_lease_ttls(&ttls, at)
        }
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
        Msg::DeregisterDone {
            key: raw_key,
            outcome,
            audit_id,
        } => {
            let key = deregister_target(&raw_key);
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
            let mut line =
                state.audit_outcome(&audit_id, result, detail, || ("deregister", key.clone()));
            line.key_b64 = Some(key_b64(&raw_key));
            out.push(Command::Audit(line));
        }
        Msg::Audit(entry) => out.push(Command::Audit(*entry)),
        Msg::ChecksSnapshot { snapshot, at } => {
            state.answered(SourceKind::Checks, at);
            state.checks.apply_snapshot(snapshot, at)
        }
        Msg::SilenceDone { outcome, audit_id } => out.push(silence_done(state, outcome, &audit_id)),
        Msg::Metrics { result, at } => {
            state.answered(SourceKind::Metrics, at);
            state.metrics.apply(result, at)
        }
        Msg::LogLines(lines) => {
            let now = state.now;
            state.answered(SourceKind::Logs, now);
            state.logs.extend(lines)
        }
        // Handled by the app (it owns the source tasks); see `app::discover`.
        Msg::Discovered { .. } => {}
        Msg::Notice(source, text) => state.say(Level::Warn, format!("{}: {text}", source.label())),
    }
    out
}

fn silence_done(state: &mut State, outcome: SilenceOutcome, audit_id: &AuditId) -> Command {
    match outcome {
        SilenceOutcome::Created { silence, request } => {
            let id = silence.id.clone();
            let sent = sent_as(&silence);
            state.checks.add_silence(*silence);
            state.say(
                Level::Info,
                format!("silenced {} ({})", request.scope.describe(), visible(&id)),
            );
            let mut line = state.audit_outcome(
                audit_id,
                "created",
                Some(format!("{sent}; reason: {}", request.reason)),
                || ("silence", silence_target(&request.scope)),
            );
            line.silence_id = Some(id);
            line.reason = Some(request.reason);
            Command::Audit(line)
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
            let mut line = state.audit_outcome(
                audit_id,
                "matched nothing",
                Some(format!("{}; {recorded}", sent_as(&silence))),
                || ("silence", silence_target(&request.scope)),
            );
            line.silence_id = Some(id.to_string());
            line.reason = Some(request.reason);
            Command::Audit(line)
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
            let mut line = state.audit_outcome(
                audit_id,
                "unconfirmed",
                Some(format!("{}; {error}", sent_as(&silence))),
                || ("silence", silence_target(&request.scope)),
            );
            line.silence_id = Some(silence.id.clone());
            line.reason = Some(request.reason);
            Command::Audit(line)
        }
        SilenceOutcome::Removed { id } => {
            state.checks.remove_silence(&id);
            state.say(Level::Info, format!("silence {} removed", visible(&id)));
            let mut line =
                state.audit_outcome(audit_id, "removed", None, || ("unsilence", id.clone()));
            line.silence_id = Some(id);
            Command::Audit(line)
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
            let mut line = state.audit_outcome(audit_id, "already gone", Some(detail), || {
                ("unsilence", id.clone())
            });
            line.silence_id = Some(id);
            Command::Audit(line)
        }
        SilenceOutcome::Failed { what, error } => {
            state.say(Level::Error, format!("{what} failed: {error}"));
            let action = if what.starts_with("unsilence") {
                "unsilence"
            } else {
                "silence"
            };
            Command::Audit(
                state.audit_outcome(audit_id, "error", Some(error), || (action, what.clone())),
            )
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

/// A frame reached the terminal at `at` (the console's monotonic clock); `popups_visible` is false
/// when the screen was too small to draw them. A confirmation dialog's keys count from then.
pub fn frame_drawn(state: &mut State, at: Instant, popups_visible: bool) {
    state
        .confirm_guard
        .frame_drawn(state.popup.as_ref(), at, popups_visible);
}

/// A key pressed at `at` that the keymap turned into `action`; `key` is its name, for the hint
/// when a confirmation dialog ignores it.
pub fn handle_key(state: &mut State, action: Action, key: &str, at: Instant) -> Vec<Command> {
    state.confirm_guard.clock(at);
    act(state, action, Some(key))
}

/// An action, at the time last reported (see [`handle_key`]).
pub fn handle_action(state: &mut State, action: Action) -> Vec<Command> {
    act(state, action, None)
}

fn act(state: &mut State, action: Action, key: Option<&str>) -> Vec<Command> {
    let mut out = act_inner(state, action, key);
    out.extend(sync_scope(state));
    out
}

fn act_inner(state: &mut State, action: Action, key: Option<&str>) -> Vec<Command> {
    if action.is_mutating() && state.readonly {
        state.say(
            Level::Warn,
            format!(
                "read-only session: {} refused (started with --readonly or readonly = true)",
                action.describe()
            ),
        );
        return vec![Command::Audit(readonly_refusal(state, action))];
    }
    if let Some(popup) = state.popup.clone() {
        return popup_action(state, popup, action, key);
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
            } else if state.scope != Scope::Cluster {
                state.members.clear_selection();
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

/// The one `refused` line for a mutating key in a read-only session, naming the target its dialog
/// would have shown (empty when nothing is selected).
fn readonly_refusal(state: &mut State, action: Action) -> AuditEntry {
    let name = serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut line = match action {
        Action::Deregister => {
            let member = state
                .members
                .selected()
                .map(|m| (m.key.to_vec(), m.mod_revision));
            let target = member
                .as_ref()
                .map(|(k, _)| deregister_target(k))
                .unwrap_or_default();
            let mut line = state.audit_line(Phase::Refused, &name, target);
            if let Some((key, mod_revision)) = member {
                line.key_b64 = Some(key_b64(&key));
                line.mod_revision = Some(mod_revision);
            }
            line
        }
        Action::Silence => {
            // The scope the silence form would have opened with.
            let target = state
                .checks
                .selected()
                .and_then(|r| checks::scopes_for(r).into_iter().next())
                .map(|scope| silence_target(&scope))
                .unwrap_or_default();
            state.audit_line(Phase::Refused, &name, target)
        }
        _ => {
            let ids = silences_of_selected(state)
                .map(|(_, ids)| ids)
                .unwrap_or_default();
            let target = ids
                .iter()
                .map(|id| unsilence_target(&describe_silence(&state.checks, id)))
                .collect::<Vec<_>>()
                .join("; ");
            let mut line = state.audit_line(Phase::Refused, &name, target);
            if let [id] = ids.as_slice() {
                line.silence_id = Some(id.clone());
            }
            line
        }
    };
    line.result = Some("refused: readonly".into());
    line
}

/// The selected check row's label and the silences covering it: ours first, then the ones the
/// backend names.
fn silences_of_selected(state: &State) -> Option<(String, Vec<String>)> {
    let c = &state.checks;
    let r = c.selected()?;
    let mut ids: Vec<String> = c.silences_for(r).iter().map(|s| s.id.clone()).collect();
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

fn members_action(state: &mut State, action: Action) -> Vec<Command> {
    // The scope follows the cursor: `sync_scope`, after every change.
    members_action_inner(state, action)
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
        Action::Unsilence => match silences_of_selected(state) {
            None => state.say(Level::Info, "no check selected"),
            Some((label, mut ids)) => match ids.len() {
                0 => state.say(Level::Info, format!("{label} is not silenced")),
                1 => {
                    let id = ids.remove(0);
                    state.popup = Some(Popup::ConfirmUnsilence {
                        description: describe_silence(&state.checks, &id),
                        id,
                    });
                }
                _ => state.popup = Some(Popup::PickSilence { ids, index: 0 }),
            },
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
                Some(s) => format!("{} and worse", crate::model::SEVERITY_NAMES[s as usize]),
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
                let key = sel.key.to_vec();
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
                    key: sel.key.to_vec(),
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

/// Whether `action` does something in this confirmation dialog (closing it aside).
fn acts_in_dialog(popup: &Popup, action: Action) -> bool {
    match (popup, action) {
        (Popup::ConfirmDeregister { lease, .. }, Action::ToggleRevokeLease) => *lease != 0,
        (p, Action::Confirm) => p.is_confirmation(),
        _ => false,
    }
}

fn popup_action(
    state: &mut State,
    popup: Popup,
    action: Action,
    key: Option<&str>,
) -> Vec<Command> {
    // Keys typed ahead or pasted as keys must not confirm a dialog nobody has seen; closing it
    // stays immediate.
    if acts_in_dialog(&popup, action) && !state.confirm_guard.ready(&popup) {
        let key = key.unwrap_or(action.describe());
        state.say(
            Level::Warn,
            format!(
                "press {key} again — the dialog had only just appeared, so that key was ignored"
            ),
        );
        return Vec::new();
    }
    match popup {
        Popup::ConfirmDeregister {
            key,
            mod_revision,
            lease,
            revoke_lease,
        } => match action {
            Action::Confirm => {
                state.popup = None;
                state.say(
                    Level::Info,
                    format!("deregistering {} …", deregister_target(&key)),
                );
                let revoke_lease = (revoke_lease && lease != 0).then_some(lease);
                let mut attempt =
                    state.audit_line(Phase::Attempt, "deregister", deregister_target(&key));
                attempt.key_b64 = Some(key_b64(&key));
                attempt.mod_revision = Some(mod_revision);
                attempt.revoke_lease = revoke_lease;
                vec![state.audit.gate(
                    attempt,
                    Mutation::Deregister {
                        key,
                        mod_revision,
                        revoke_lease,
                    },
                )]
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
                let mut attempt =
                    state.audit_line(Phase::Attempt, "silence", silence_target(&request.scope));
                attempt.reason = Some(request.reason.clone());
                if state.checks_kind() == "alertmanager" {
                    attempt.matchers = Some(audit_trail::alertmanager_matchers(&request));
                }
                vec![state.audit.gate(attempt, Mutation::Silence(request))]
            }
            Action::Cancel | Action::Back | Action::Quit => {
                state.popup = None;
                state.say(Level::Info, "silence cancelled");
                Vec::new()
            }
            _ => Vec::new(),
        },
        Popup::ConfirmUnsilence { id, description } => match action {
            Action::Confirm => {
                state.popup = None;
                state.say(Level::Info, format!("removing silence {} …", visible(&id)));
                let mut attempt =
                    state.audit_line(Phase::Attempt, "unsilence", unsilence_target(&description));
                attempt.silence_id = Some(id.clone());
                vec![state.audit.gate(attempt, Mutation::Unsilence { id })]
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
fn handle_text_inner(state: &mut State, key: TextKey) -> Vec<Command> {
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
    filter_live(state);
    Vec::new()
}

/// Live filtering while typing, like k9s: an incomplete regex just keeps the previous filter.
fn filter_live(state: &mut State) {
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
}

/// A bracketed paste: text, never keys. It goes into the open text field (filter, command line,
/// the silence form's reason or duration) as one line — so an Enter inside it never submits —
/// and is otherwise dropped with a word on the status line.
fn handle_paste_inner(state: &mut State, text: &str) -> Vec<Command> {
    let line = paste::one_line(text);
    if let Some(input) = state.input.as_mut() {
        paste::push_capped(&mut input.buffer, &line, 512);
        filter_live(state);
        return Vec::new();
    }
    if let Some(Popup::SilenceForm(form)) = state.popup.as_mut() {
        if form.paste(&line) {
            return Vec::new();
        }
    }
    let hint = match &state.popup {
        Some(Popup::SilenceForm(_)) => "move to the reason or duration field first",
        Some(p) if p.is_confirmation() => "a confirmation dialog takes keys, not pastes",
        _ => "open the filter (/) or the command line (:) first",
    };
    state.say(Level::Warn, format!("paste ignored: {hint}"));
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
fn handle_form_inner(state: &mut State, key: FormKey) -> Vec<Command> {
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
fn refused_scope(kind: &str, scope: &crate::model::SilenceScope) -> Option<String> {
    match kind {
        "alertmanager" => crate::sources::checks::alertmanager::matchers_for(scope).err(),
        _ => None,
    }
}

fn run_command_line(state: &mut State, line: &str) -> Vec<Command> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("q" | "quit" | "q!"), _, _) => {
            state.should_quit = true;
            vec![Command::Quit]
        }
        (Some("cluster" | "ctx"), arg, None) => cluster_command(state, arg),
        (Some("cluster" | "ctx"), Some(_), Some(_)) => {
            state.say(
                Level::Error,
                "one cluster at a time: :cluster NAME, :cluster - (the previous one), or :cluster to list them",
            );
            Vec::new()
        }
        (Some("help"), _, _) => {
            state.popup = Some(Popup::Help { scroll: 0 });
            Vec::new()
        }
        (None, _, _) => Vec::new(),
        _ => {
            state.say(
                Level::Error,
                format!("unknown command \":{line}\" — try :q, :cluster NAME, :help"),
            );
            Vec::new()
        }
    }
}

/// `:cluster` lists the clusters, `:cluster NAME` switches, `:cluster -` goes back to the previous
/// one. The app loads the target before leaving this one, so a bad name only costs a message.
fn cluster_command(state: &mut State, arg: Option<&str>) -> Vec<Command> {
    let name = match arg {
        None => return vec![Command::ListClusters],
        Some("-") => match state.previous_cluster.clone() {
            Some(previous) => previous,
            None => {
                state.say(
                    Level::Error,
                    "no previous cluster: :cluster - goes back after a switch",
                );
                return Vec::new();
            }
        },
        Some(name) => name.to_string(),
    };
    if name == state.cluster {
        state.say(Level::Info, format!("already on cluster {name}"));
        return Vec::new();
    }
    vec![Command::SwitchCluster(name)]
}

/// Facts from sources and the clock.
pub fn update(state: &mut State, msg: Msg) -> Vec<Command> {
    let mut out = update_inner(state, msg);
    out.extend(sync_scope(state));
    out
}

/// Typing into the filter or command line.
pub fn handle_text(state: &mut State, key: TextKey) -> Vec<Command> {
    let mut out = handle_text_inner(state, key);
    out.extend(sync_scope(state));
    out
}

/// A bracketed paste (see `handle_paste_inner`).
pub fn handle_paste(state: &mut State, text: &str) -> Vec<Command> {
    let mut out = handle_paste_inner(state, text);
    out.extend(sync_scope(state));
    out
}

/// Keys while the silence form is open.
pub fn handle_form(state: &mut State, key: FormKey) -> Vec<Command> {
    let mut out = handle_form_inner(state, key);
    out.extend(sync_scope(state));
    out
}

#[cfg(test)]
mod tests;

//! All console state, changed only by the reducer: [`update`] (facts from sources),
//! [`handle_key`] / [`handle_action`] (the user's actions, text fields and forms included),
//! [`handle_paste`], [`set_viewports`] (the layout) and [`tick`] (the clock). Pure and synchronous:
//! no I/O, no terminal. This module routes; the panes ([`pane::PaneState`]), the popups
//! ([`popup`]), the text fields ([`input`]) and the facts ([`facts`]) do the work.

pub mod ack;
mod ascii_fold;
pub mod audit_trail;
pub mod checks;
pub mod checks_at;
mod chunked;
pub mod churn;
mod command_line;
pub mod confirm_guard;
pub mod cursor;
mod facts;
pub mod field;
pub mod grouping;
mod guarded;
pub mod histogram;
pub mod incident;
pub mod input;
pub mod label_groups;
pub mod links;
pub mod log_names;
pub mod log_records;
pub mod logs;
mod member_store;
pub mod members;
pub mod merged;
pub mod merged_at;
pub mod merged_logs;
pub mod metrics;
pub mod notify;
pub mod pane;
mod parted;
pub mod paste;
pub mod pointer;
pub mod popup;
pub mod resolved;
pub mod run;
mod runs;
pub mod silence_form;
pub mod time_cursor;
pub mod undo;
mod why_muted;
pub mod zone;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::action::Action;
use crate::keymap::Context;

use crate::model::{
    AuditEntry, AuditId, ClusterId, Command, Health, Msg, Phase, SourceId, SourceKind,
};
use audit_trail::{deregister_target, key_b64, silence_target, unsilence_target, AuditTrail};
use checks::{Checks, EntityScope};
pub use command_line::Completions;
pub use facts::{backend_in, backend_started};
pub use guarded::EXTEND_DEFAULT;
pub use input::{Input, InputKind};
use members::Members;
use pane::{PaneCtx, PaneState};
pub use pointer::{Pointer, PointerKind};
pub use popup::{Change, ClusterChoice, Confirm, Popup, Preview, Target, Typed};
pub use silence_form::SilenceForm;

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

    /// The pane's section of the keymap.
    pub fn context(self) -> Context {
        match self {
            Pane::Members => Context::Members,
            Pane::Checks => Context::Checks,
            Pane::Metrics => Context::Metrics,
            Pane::Logs => Context::Logs,
        }
    }
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
    /// Stays until dismissed (`Esc`) rather than for [`MESSAGE_SECS`]: what the user must not
    /// miss (the etcd cluster changed, a broken config).
    pub sticky: bool,
}

/// How long a status message stays, on the console's clock.
pub const MESSAGE_SECS: i64 = 5;

/// What the panes without a source yet were configured with, so they can say so honestly.
#[derive(Debug, Clone, Default)]
pub struct PaneBackends {
    pub checks: Option<String>,
    pub metrics: Option<String>,
    pub logs: Option<String>,
    /// Each cluster's own backend of each pane (a merged view mixes kinds: one cluster's logs
    /// in Loki, another's in Redis); the fields above are the last one started.
    pub by_source: std::collections::BTreeMap<crate::model::SourceId, String>,
}

#[derive(Debug)]
pub struct State {
    pub cluster: String,
    pub readonly: bool,
    pub demo: bool,
    pub user: String,
    /// The zone every time on screen is in (`Z` cycles it), and the configured one it offers.
    pub zone: crate::model::DisplayZone,
    pub zone_configured: Option<chrono_tz::Tz>,
    pub now: DateTime<Utc>,
    pub focus: Pane,
    /// The focused pane fills the screen.
    pub zoomed: bool,
    /// The last click (a second one on the same row soon after is a double-click).
    last_click: Option<pointer::LastClick>,
    pub popup: Option<Popup>,
    pub input: Option<Input>,
    pub status: Option<StatusLine>,
    /// Which of the console's clusters this state shows.
    pub cluster_id: ClusterId,
    /// Every cluster of the session by [`ClusterId`] (one for a single cluster; several for a
    /// merged view, `--cluster a,b`).
    pub clusters: Vec<merged::ClusterInfo>,
    /// Each cluster's check results in a merged view.
    pub merged_checks: merged::MergedChecks,
    /// A merged view's time jumps and histogram, asked of every cluster's logs backend.
    pub merged_logs: merged_logs::MergedLogs,
    pub health: BTreeMap<SourceId, Health>,
    /// When each source last answered (data, a confirmation, or the source's own account when
    /// its session is lost): the age a pane shows when its source is not live.
    pub last_answer: BTreeMap<SourceId, DateTime<Utc>>,
    /// Sources whose backend is being replaced (discovery moved or removed it): the old task may
    /// still have facts in the channel, which are dropped until `Msg::SourceSwitched` says the
    /// last of them has passed. Set by the core, which sends that mark.
    /// The count is of replacements whose mark is still to come (A → B → C owes two).
    pub switching: BTreeMap<SourceId, usize>,
    /// Why each source's last attempt failed, until it is live again: a source trying again
    /// (`Connecting`) still says why the one before did not get through.
    pub last_failure: BTreeMap<SourceId, String>,
    pub members: Members,
    pub checks: Checks,
    pub metrics: metrics::MetricsPane,
    pub logs: logs::Logs,
    /// What every pane is scoped to: always the member under the members cursor (see
    /// [`sync_scope`]), the whole cluster while nothing is selected.
    pub scope: Scope,
    pub backends: PaneBackends,
    /// The cluster this session was switched from; `:cluster -` goes back to it.
    pub previous_cluster: Option<String>,
    /// Where this session's profile came from (`--cluster`, `ETCDCTL_ENDPOINTS`, …), for the
    /// status bar; `None` where nobody chose (tests, a switch).
    pub profile_origin: Option<String>,
    /// Command lines entered, oldest first (loaded from the history file at start).
    pub history: Vec<String>,
    /// What the command line completes to: the config's clusters, the themes there are.
    pub completions: command_line::Completions,
    /// What the screen's layout gives each pane (see [`set_viewports`]).
    pub viewports: Viewports,
    watched_leases: Vec<(ClusterId, i64)>,
    /// When the confirmation dialog on screen was first drawn, on the console's clock.
    confirm_guard: confirm_guard::ConfirmGuard,
    /// Why the audit log cannot be written, while it cannot: every change is refused meanwhile.
    pub audit_problem: Option<String>,
    audit: AuditTrail,
    /// How careful changes on this cluster must be (typed confirmation, the bulk cap).
    pub guard: crate::config::Guardrails,
    /// Which criticals were news already (`notify`).
    pub notifier: notify::Notifier,
    /// Deregisters that can be undone.
    pub undo: undo::Undo,
    /// Joins and leaves since the console started, and who flaps.
    pub churn: churn::Churn,
    /// The open member detail's lease, read every second: a late keepalive shows as a dip.
    pub lease_watch: Option<LeaseWatch>,
    /// The members of the group Enter was pressed on (`b` in checks): the scope while no member
    /// is selected.
    pub group_scope: Option<Vec<members::Ident>>,
    /// What `b` groups by (`:group FIELD` changes it).
    pub group_by: grouping::GroupBy,
    /// The incident open now (`:incident start NAME`), whose journal gets this session's story.
    pub incident: Option<incident::Incident>,
    pub last_incident: Option<String>,
    /// Why the journal could not be written (said once; the journal is best effort).
    pub journal_problem: Option<String>,
    /// The keymap in use, so that messages name the keys the user really has (`U`, or `ctrl-_`).
    pub keymap: crate::keymap::Keymap,
    /// A bulk change in flight.
    pub batch: undo::Batch,
    /// Acks taking over someone else's, between the confirmation and the old one's expiry.
    pub acks: ack::Takeovers,
    /// The custom commands (`[[commands]]`), by the index their keys carry.
    pub commands: Vec<crate::model::run::CustomCommand>,
    /// Custom commands running in the background.
    pub tasks: Vec<crate::model::run::TaskInfo>,
    /// The profile's link templates (member and check details).
    pub link_templates: Vec<crate::model::run::LinkTemplate>,
    /// The moment every pane shows (`:at`), or live.
    pub time: time_cursor::TimeCursor,
}

impl State {
    pub fn new(cluster: &str, prefix: &str, user: &str, now: DateTime<Utc>) -> State {
        let mut health = BTreeMap::new();
        health.insert(
            SourceKind::Etcd.of(ClusterId::default()),
            Health::Connecting,
        );
        let mut state = State {
            cluster: cluster.to_string(),
            readonly: false,
            demo: false,
            user: user.to_string(),
            zone: crate::model::DisplayZone::Local,
            zone_configured: None,
            now,
            focus: Pane::Members,
            zoomed: false,
            last_click: None,
            popup: None,
            input: None,
            status: None,
            cluster_id: ClusterId::default(),
            clusters: vec![merged::ClusterInfo::named(cluster)],
            merged_checks: Default::default(),
            merged_logs: Default::default(),
            health,
            last_answer: BTreeMap::new(),
            switching: Default::default(),
            last_failure: BTreeMap::new(),
            members: Members::new(prefix),
            checks: Checks::default(),
            metrics: metrics::MetricsPane::default(),
            logs: logs::Logs::default(),
            scope: Scope::Cluster,
            backends: PaneBackends::default(),
            previous_cluster: None,
            profile_origin: None,
            history: Vec::new(),
            completions: Default::default(),
            viewports: Viewports::default(),
            watched_leases: Vec::new(),
            confirm_guard: Default::default(),
            audit_problem: None,
            audit: AuditTrail::new("local".into()),
            guard: Default::default(),
            notifier: Default::default(),
            undo: Default::default(),
            churn: Default::default(),
            lease_watch: None,
            incident: None,
            group_scope: None,
            group_by: grouping::GroupBy::Check,
            last_incident: None,
            journal_problem: None,
            keymap: Default::default(),
            batch: Default::default(),
            acks: Default::default(),
            commands: Vec::new(),
            tasks: Vec::new(),
            link_templates: Vec::new(),
            time: Default::default(),
        };
        state.set_clusters(vec![merged::ClusterInfo::named(cluster)]);
        state
    }

    /// The keymap context a key is read in, from what is open: a text field, the form, a
    /// confirmation dialog, another popup, or the focused pane.
    pub fn key_context(&self) -> Context {
        if self.input.is_some() {
            return Context::Input;
        }
        match &self.popup {
            Some(Popup::SilenceForm(_)) => Context::Form,
            Some(Popup::Chart { .. }) => Context::Chart,
            // A name to type out: its letters are text, not the dialog's keys.
            Some(Popup::Confirm(c)) if c.typed.is_some() => Context::Input,
            Some(p) if p.is_confirmation() => Context::Confirm,
            Some(_) => Context::Popup,
            None if self.focus == Pane::Logs && self.logs.hist.open => Context::Histogram,
            None => self.focus.context(),
        }
    }

    /// The key for `action` in `ctx` as the user's keymap binds it (`default` when it does not:
    /// the tests' bare state).
    pub fn key(&self, ctx: Context, action: Action, default: &str) -> String {
        self.keymap
            .key_for(ctx, action)
            .unwrap_or_else(|| default.to_string())
    }

    /// The focused pane, whichever it is.
    pub fn pane_mut(&mut self) -> &mut dyn PaneState {
        self.pane(self.focus)
    }

    /// A pane as a [`PaneState`]: the one place a `Pane` picks its state.
    pub fn pane(&mut self, pane: Pane) -> &mut dyn PaneState {
        match pane {
            Pane::Members => &mut self.members,
            Pane::Checks => &mut self.checks,
            Pane::Metrics => &mut self.metrics,
            Pane::Logs => &mut self.logs,
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
            sticky: false,
        });
    }

    /// A message that stays until dismissed.
    fn alert(&mut self, level: Level, text: impl Into<String>) {
        self.say(level, text);
        if let Some(s) = &mut self.status {
            s.sticky = true;
        }
    }

    /// A `refused` line for `action` on `target` (read-only, not live): nothing was attempted.
    fn refusal(&mut self, action: &str, target: String, result: &str) -> AuditEntry {
        let mut line = self.audit_line(Phase::Refused, action, target);
        line.result = Some(result.to_string());
        line
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
    /// idle, or before it ever answered): what each pane's title shows as `STALE 12s`.
    pub fn stale_for(&self, kind: SourceKind) -> Option<chrono::Duration> {
        let source = self.source(kind);
        match self.health.get(&source) {
            None | Some(Health::Live) | Some(Health::NotConfigured) | Some(Health::Idle) => None,
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

    /// The checks backend's kind (`alertmanager`, `sensu-go`, …): what it supports
    /// (expire-on-resolve, open-ended silences, label matchers). In a merged view, the last one
    /// started: what a row's silence may be is [`State::checks_kind_in`] its cluster.
    pub fn checks_kind(&self) -> &str {
        self.backends.checks.as_deref().unwrap_or("")
    }

    /// The kind of cluster `c`'s checks backend (a merged view mixes them: prod's Alertmanager,
    /// prod-eu's Sensu).
    pub fn checks_kind_in(&self, c: ClusterId) -> &str {
        match self.backends.by_source.get(&SourceKind::Checks.of(c)) {
            Some(kind) => kind,
            None if self.merged() => "",
            None => self.checks_kind(),
        }
    }

    /// How a pane's title names its backend: the kind, or in a merged view every cluster's
    /// distinct kind (`alertmanager + sensu-go`); empty without one.
    pub fn backend_names(&self, kind: SourceKind) -> String {
        let mut names: Vec<&str> = Vec::new();
        if self.merged() {
            for (s, name) in &self.backends.by_source {
                if s.kind == kind && !names.contains(&name.as_str()) {
                    names.push(name);
                }
            }
        }
        if names.is_empty() {
            let single = match kind {
                SourceKind::Checks => &self.backends.checks,
                SourceKind::Metrics => &self.backends.metrics,
                SourceKind::Logs => &self.backends.logs,
                SourceKind::Etcd => &None,
            };
            names.extend(single.as_deref());
        }
        names.join(" + ")
    }

    /// Whether any cluster's checks come from a backend of `kind`.
    pub fn any_checks_kind(&self, kind: &str) -> bool {
        self.checks_kind() == kind
            || self
                .backends
                .by_source
                .iter()
                .any(|(s, k)| s.kind == SourceKind::Checks && k == kind)
    }

    /// The names a log line's host or a check's entity may carry for the scoped member(s).
    fn entity_scope(&self) -> Option<EntityScope> {
        let ids: Vec<(ClusterId, &std::sync::Arc<[u8]>)> = match &self.scope {
            Scope::Cluster => return None,
            Scope::Member { key, cluster } => {
                vec![(self.cluster_by_name(cluster).unwrap_or_default(), key)]
            }
            Scope::Members { keys, .. } => keys.iter().map(|(c, k)| (*c, k)).collect(),
        };
        let group = matches!(self.scope, Scope::Members { .. }) && self.merged();
        let mut names = Vec::new();
        let mut labels = Vec::new();
        let mut by_cluster: Vec<(ClusterId, Vec<String>)> = Vec::new();
        for m in ids
            .into_iter()
            .filter_map(|(c, k)| self.members.get_in(c, k))
        {
            labels.push(m.instance().to_string());
            let its = member_names(m);
            if group {
                match by_cluster.iter_mut().find(|(c, _)| *c == m.cluster) {
                    Some((_, n)) => n.extend(its.iter().cloned()),
                    None => by_cluster.push((m.cluster, its.clone())),
                }
            }
            names.extend(its);
        }
        Some(EntityScope {
            label: match labels.len() {
                1 => labels.remove(0),
                n => format!("{n} members"),
            },
            names,
            by_cluster,
        })
    }

    /// The scope as every pane's title names it (`None`: the whole cluster).
    pub fn scope_label(&self) -> Option<String> {
        match &self.scope {
            Scope::Cluster => None,
            Scope::Member { key, cluster } => Some(
                self.members
                    .get_in(self.cluster_by_name(cluster).unwrap_or_default(), key)
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
        /// Each member with its cluster (a group may span the clusters of a merged view).
        keys: Vec<members::Ident>,
    },
}

/// The one rule for the scope, applied after every change to the state: the member under the
/// members cursor whenever the list has a selection, else the whole cluster. When the selected
/// member leaves the list (deleted, expired, filtered out) the scope clears, and the user is told.
pub fn sync_scope(state: &mut State) -> Vec<Command> {
    let lost = state.members.take_lost();
    let wanted = match (state.members.selected(), &state.group_scope) {
        (Some(m), _) => Scope::Member {
            cluster: state.cluster_name(m.cluster).to_string(),
            key: std::sync::Arc::<[u8]>::from(m.key()),
        },
        (None, Some(keys)) if !keys.is_empty() => Scope::Members {
            cluster: state.cluster.clone(),
            keys: keys.clone(),
        },
        (None, _) => Scope::Cluster,
    };
    // Choosing a member replaces a group's scope.
    if matches!(wanted, Scope::Member { .. }) {
        state.group_scope = None;
    }
    if wanted == state.scope {
        return Vec::new();
    }
    // A member this console deregistered: its own message (with the undo key) says it already.
    let ours = lost
        .as_ref()
        .is_some_and(|(c, k)| state.undo.involves(*c, k));
    if let (Some((_, key)), Scope::Cluster, false) = (lost, &wanted, ours) {
        state.say(
            Level::Warn,
            format!(
                "scope cleared: {} is no longer in the list — showing the whole cluster",
                crate::model::text::escape_bytes(&key)
            ),
        );
    }
    state.scope = wanted;
    let scope = state.entity_scope();
    let scope_cluster = match &state.scope {
        Scope::Member { cluster, .. } if state.merged() => state.cluster_by_name(cluster),
        _ => None,
    };
    let was = state.logs.scope_cluster;
    state.logs.set_scope_cluster(scope_cluster);
    state.logs.set_scope(scope.clone());
    state.checks.set_scope_cluster(scope_cluster);
    state.checks.set_scope(scope);
    let names = state.logs.scope.as_ref().map(|s| s.names.clone());
    if !state.merged() {
        return vec![Command::LogsScope(names)];
    }
    // A merged view: the member's own cluster's logs source is told the scope (Elasticsearch
    // and Loki filter server-side); the cluster scoped before, if another, is told it is over.
    let mut out = Vec::new();
    if let (Some(w), Some(_)) = (was, scope_cluster.filter(|c| Some(*c) != was)) {
        out.push(members::in_cluster(w, Command::LogsScope(None)));
    }
    match scope_cluster {
        Some(c) => out.push(members::in_cluster(c, Command::LogsScope(names))),
        // No member's cluster (the whole view, or a group): every cluster's source, told only
        // the names of its own members. A cluster with none of them is told no names (its source
        // then reads unscoped) and its lines are hidden here.
        None => {
            let by_cluster = state.logs.scope.as_ref().map(|s| s.by_cluster.clone());
            for c in state.cluster_ids().collect::<Vec<_>>() {
                let names = match &by_cluster {
                    Some(groups) if !groups.is_empty() => Some(
                        groups
                            .iter()
                            .find(|(k, _)| *k == c)
                            .map(|(_, n)| n.clone())
                            .unwrap_or_default(),
                    ),
                    _ => names.clone(),
                };
                out.push(members::in_cluster(c, Command::LogsScope(names)));
            }
        }
    }
    out
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

/// `:cluster` without a name: the config's clusters to pick from, the current one under the
/// cursor.
pub fn open_cluster_picker(state: &mut State, clusters: Vec<ClusterChoice>) {
    if clusters.is_empty() {
        state.say(Level::Info, "the config names no clusters");
        return;
    }
    let index = clusters
        .iter()
        .position(|c| c.name == state.cluster)
        .unwrap_or(0);
    state.popup = Some(Popup::PickCluster { clusters, index });
}

/// Information from the app side (e.g. a discovered backend).
pub fn note(state: &mut State, text: String) {
    state.say(Level::Info, text);
}

/// An I/O failure on the app side (e.g. the audit log) the user must see.
pub fn note_error(state: &mut State, text: String) {
    state.say(Level::Error, text);
}

/// The clock, once a second and before drawing: ages and TTLs are relative to it.
/// The lease of the member whose detail is open, as read every second while it is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseWatch {
    pub lease: i64,
    pub asked: DateTime<Utc>,
    /// The TTL etcd gave at the last read, and the lowest since the detail opened.
    pub last: Option<i64>,
    pub lowest: Option<i64>,
}

/// Reads the open member detail's lease once a second (and forgets it when the detail closes).
fn watch_detail_lease(state: &mut State) -> Option<Command> {
    let (lease, cluster) = match &state.popup {
        Some(Popup::MemberDetail { key, cluster, .. }) => (
            state.members.get_in(*cluster, key).map(|m| m.lease),
            *cluster,
        ),
        _ => (None, ClusterId::default()),
    };
    let Some(lease) = lease.filter(|l| *l != 0) else {
        state.lease_watch = None;
        return None;
    };
    let now = state.now;
    match &mut state.lease_watch {
        Some(w) if w.lease == lease => {
            if (now - w.asked).num_milliseconds() < 1000 {
                return None;
            }
            w.asked = now;
        }
        _ => {
            state.lease_watch = Some(LeaseWatch {
                lease,
                asked: now,
                last: None,
                lowest: None,
            })
        }
    }
    Some(members::in_cluster(cluster, Command::LeaseInfo { lease }))
}

pub fn tick(state: &mut State, now: DateTime<Utc>) -> Vec<Command> {
    state.now = now;
    let mut out: Vec<Command> = watch_detail_lease(state).into_iter().collect();
    out.extend(incident::flush_scope(state, false));
    // Messages go after a few seconds (the layout keeps their row, so nothing jumps).
    if state
        .status
        .as_ref()
        .is_some_and(|s| !s.sticky && (now - s.at).num_seconds() >= MESSAGE_SECS)
    {
        state.status = None;
    }
    out.extend(settle(state));
    incident::observe(state, &mut out);
    out
}

/// What the screen's layout gives each pane: rows of the lists, columns of the sparklines.
/// Computed from the terminal's size by the view (`ui::layout`), delivered here before each frame
/// that needs it; the reducer keeps each list's selection on screen from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewports {
    pub members_rows: usize,
    pub checks_rows: usize,
    pub logs_rows: usize,
    pub sparkline_width: usize,
    /// Points the open chart draws across (0 while no chart is open).
    pub chart_points: usize,
    /// Columns inside the logs pane (the histogram's bars come from it).
    pub logs_width: usize,
}

impl Default for Viewports {
    /// Before the first layout: some rows, no sparkline width (so no metrics query is sent for a
    /// width nobody has seen).
    fn default() -> Self {
        Viewports {
            members_rows: 20,
            checks_rows: 20,
            logs_rows: 20,
            sparkline_width: 0,
            chart_points: 0,
            logs_width: 0,
        }
    }
}

/// The layout changed (a resize, a status line appearing, a pane's problem line): each pane
/// learns its size, and what depends on it (visible leases, the metrics query) follows.
pub fn set_viewports(state: &mut State, v: Viewports) -> Vec<Command> {
    state.viewports = v;
    state.members.cursor.set_rows(v.members_rows);
    state.checks.cursor.set_rows(v.checks_rows);
    state.logs.view.set_rows(v.logs_rows);
    state.metrics.width = v.sparkline_width;
    state.metrics.chart_points = v.chart_points;
    settle(state)
}

/// What is derived from the rest of the state, brought up to date after every change: the scope
/// follows the members cursor, each list keeps its selection on screen, and the sources are told
/// which leases are on screen and which metrics the pane wants.
fn settle(state: &mut State) -> Vec<Command> {
    state.members.fit();
    state.checks.fit();
    state.logs.fit();
    let mut out: Vec<Command> = lease_interest(state);
    out.extend(sync_scope(state));
    out.extend(metrics::interest(state));
    out.extend(histogram::interest(state));
    out
}

/// Leases of the rows on screen, sent to the etcd source when that set changes (in a merged
/// view, to each cluster's etcd its own leases: lease ids mean something only in their cluster).
fn lease_interest(state: &mut State) -> Vec<Command> {
    let offset = state.members.cursor.offset();
    let rows = state.members.cursor.rows();
    let mut leases: Vec<(ClusterId, i64)> = state
        .members
        .visible_rows(offset, rows)
        .map(|m| (m.cluster, m.lease))
        .filter(|(_, l)| *l != 0)
        .collect();
    leases.sort_unstable();
    leases.dedup();
    if leases == state.watched_leases {
        return Vec::new();
    }
    state.watched_leases = leases.clone();
    if !state.merged() {
        return vec![Command::WatchLeases(
            leases.into_iter().map(|(_, l)| l).collect(),
        )];
    }
    state
        .cluster_ids()
        .map(|c| {
            let mine = leases
                .iter()
                .filter(|(lc, _)| *lc == c)
                .map(|(_, l)| *l)
                .collect();
            Command::InCluster(c, Box::new(Command::WatchLeases(mine)))
        })
        .collect()
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

/// Facts from sources.
/// The member stores listings replaced (large ones), for the caller to drop off the UI thread.
pub fn take_discarded(state: &mut State) -> Vec<crate::model::member_store::Store> {
    let mut old = state.members.take_discarded();
    if let Some(live) = state.time.live_members_mut() {
        old.extend(live.take_discarded());
    }
    old
}

pub fn update(state: &mut State, msg: Msg) -> Vec<Command> {
    if let Some(source) = from_replaced_source(state, &msg) {
        if let Msg::SourceSwitched(_) = msg {
            if let Some(owed) = state.switching.get_mut(&source) {
                *owed -= 1;
                if *owed == 0 {
                    state.switching.remove(&source);
                }
            }
        }
        // Data from a backend the pane no longer shows: applied, its rows would be ghosts
        // (and the new backend's first answer would call them resolved).
        return Vec::new();
    }
    // While the members pane shows the past, facts about the live membership go to it.
    let live = time_cursor::routes_to_live(state, &msg);
    let checks = matches!(msg, Msg::ChecksSnapshot { .. });
    if live {
        time_cursor::swap_live(state);
    }
    let mut out = facts::apply(state, msg);
    if live {
        time_cursor::swap_live(state);
    }
    if checks {
        // The past follows the live histories as they move on.
        time_cursor::refresh_checks(state);
    }
    out.extend(settle(state));
    incident::observe(state, &mut out);
    out
}

/// The source `msg` came from when it is one being replaced (`State::switching`): its data,
/// its health, or the mark that it has stopped. Outcomes of actions are never dropped: each
/// answers an audited attempt.
fn from_replaced_source(state: &State, msg: &Msg) -> Option<SourceId> {
    if state.switching.is_empty() {
        return None;
    }
    let (c, msg) = match msg {
        Msg::InCluster(c, inner) => (*c, inner.as_ref()),
        other => (ClusterId::default(), other),
    };
    let source = match msg {
        Msg::SourceSwitched(s) => *s,
        Msg::Health(s, _) => *s,
        Msg::ChecksSnapshot { .. } => SourceKind::Checks.of(c),
        Msg::Metrics { .. } => SourceKind::Metrics.of(c),
        Msg::LogLines(_) => SourceKind::Logs.of(c),
        _ => return None,
    };
    state.switching.contains_key(&source).then_some(source)
}

/// The mouse on a pane (see [`pointer::handle`]).
pub fn handle_pointer(state: &mut State, p: Pointer) -> Vec<Command> {
    let mut out = pointer::handle(state, p);
    out.extend(settle(state));
    incident::observe(state, &mut out);
    out
}

/// A bracketed paste (see [`input::paste`]).
pub fn handle_paste(state: &mut State, text: &str) -> Vec<Command> {
    let mut out = input::paste(state, text);
    out.extend(settle(state));
    incident::observe(state, &mut out);
    out
}

fn act(state: &mut State, action: Action, key: Option<&str>) -> Vec<Command> {
    let mut out = route(state, action, key);
    out.extend(settle(state));
    incident::observe(state, &mut out);
    out
}

/// Why a change that goes to `kind`'s source cannot be made now (it does not answer), if so:
/// nothing is sent to a backend the console cannot see.
pub fn not_live(state: &State, kind: SourceKind) -> Option<String> {
    not_live_in(state, state.cluster_id, kind)
}

/// [`not_live`] for cluster `c`'s source (a merged view names the cluster).
pub fn not_live_in(state: &State, c: ClusterId, kind: SourceKind) -> Option<String> {
    if state.demo {
        return None;
    }
    match state.health_in(c, kind) {
        Some(Health::Live) => None,
        _ if state.merged() => Some(format!(
            "{} {} is not live — changes there are disabled until it answers again",
            state.cluster_name(c),
            kind.label()
        )),
        _ => Some(format!(
            "{} is not live — changes are disabled until it answers again",
            kind.label()
        )),
    }
}

/// The source a mutating action goes to.
fn source_of(action: Action) -> SourceKind {
    match action {
        Action::Deregister | Action::Undo => SourceKind::Etcd,
        _ => SourceKind::Checks,
    }
}

/// Where an action goes: refused when it would change a backend in a read-only session; else to
/// the open text field, the open popup, the console itself, or the focused pane.
fn route(state: &mut State, action: Action, key: Option<&str>) -> Vec<Command> {
    if action.is_mutating() && state.readonly {
        state.say(
            Level::Warn,
            format!(
                "read-only session: {} refused (started with --readonly or readonly = true)",
                action.describe()
            ),
        );
        return vec![Command::Audit(refusal_line(
            state,
            action,
            "refused: readonly",
        ))];
    }
    if action.is_mutating() {
        if let Some(why) = time_cursor::refusal(state, &action_name(action)) {
            let line = refusal_line(state, action, "refused: not live (time cursor)");
            state.say(Level::Warn, why);
            return vec![Command::Audit(line)];
        }
    }
    if state.input.is_some() {
        return input::act(state, action);
    }
    if let Some(popup) = state.popup.clone() {
        return popup::act(state, popup, action, key);
    }
    // A merged view: a change to a check of a read-only cluster is refused before any form.
    if state.merged()
        && action.is_mutating()
        && state.focus == Pane::Checks
        && state.popup.is_none()
        && state.input.is_none()
    {
        if let Some(c) = state
            .checks
            .selected()
            .map(|r| r.cluster)
            .filter(|&c| state.readonly_in(c))
        {
            let name = state.cluster_name(c).to_string();
            let mut line = refusal_line(state, action, "refused: readonly");
            line.cluster = name.clone();
            state.say(
                Level::Warn,
                format!(
                    "cluster {name} is read-only: {} refused (readonly = true in its profile)",
                    action.describe()
                ),
            );
            return vec![Command::Audit(line)];
        }
    }
    // A merged view's deregister is checked against its member's own cluster (in the dialog).
    let per_member = state.merged()
        && ((matches!(action, Action::Deregister | Action::Undo) && state.focus == Pane::Members)
            || state.focus == Pane::Checks);
    if action.is_mutating() && !per_member {
        if let Some(why) = not_live(state, source_of(action)) {
            let line = refusal_line(state, action, "refused: not live");
            state.say(Level::Warn, why);
            return vec![Command::Audit(line)];
        }
    }
    if state.focus == Pane::Logs && state.logs.hist.open {
        if let Some(out) = histogram::act(state, action) {
            return out;
        }
    }
    match action {
        Action::Histogram => histogram::toggle(state),
        Action::Deregister if state.focus == Pane::Members => guarded::deregister_dialog(state),
        Action::Silence if state.focus == Pane::Checks && state.checks.marked_count() > 0 => {
            guarded::bulk_silence_form(state)
        }
        Action::Undo if state.focus == Pane::Members => guarded::undo_dialog(state),
        // Alertmanager's alerts are grouped by their labels: `b` asks which.
        Action::GroupChecks if state.focus == Pane::Checks => {
            if !state.any_checks_kind("alertmanager") || !label_groups::open_picker(state) {
                grouping::open(state);
            }
            Vec::new()
        }
        Action::AtDiff if state.focus == Pane::Members => {
            time_cursor::open_diff(state);
            Vec::new()
        }
        Action::Churn if state.focus == Pane::Members => {
            state.popup = Some(Popup::Churn { scroll: 0 });
            Vec::new()
        }
        Action::ExtendSilence if state.focus == Pane::Checks => guarded::extend_silence(state),
        Action::Ack if state.focus == Pane::Checks => ack::ack(state),
        Action::Unack if state.focus == Pane::Checks => ack::unack(state),
        Action::ToggleMark | Action::MarkAll
            if matches!(state.focus, Pane::Members | Pane::Checks) =>
        {
            guarded::mark(state, action)
        }
        Action::Quit => vec![Command::Quit],
        Action::Suspend => vec![Command::Suspend],
        Action::RunCommand(i) => run::start(state, i, false),
        Action::Tasks => {
            state.popup = Some(Popup::Tasks { index: 0 });
            Vec::new()
        }
        Action::TimeCursor => time_cursor::toggle(state),
        Action::CycleZone => {
            zone::cycle(state);
            Vec::new()
        }
        Action::StepBack | Action::StepForward | Action::StepBackTen | Action::StepForwardTen => {
            time_cursor::step(state, time_cursor::step_of(action).unwrap_or(0))
        }
        Action::NextPane => {
            state.focus = state.focus.step(1);
            Vec::new()
        }
        Action::PrevPane => {
            state.focus = state.focus.step(-1);
            Vec::new()
        }
        Action::Help => {
            state.popup = Some(Popup::Help { scroll: 0 });
            Vec::new()
        }
        Action::Zoom => {
            state.zoomed = !state.zoomed;
            Vec::new()
        }
        Action::CommandLine => {
            state.input = Some(Input::new(InputKind::Command, ""));
            Vec::new()
        }
        Action::Filter => {
            let pane = state.pane_mut();
            if !pane.filterable() {
                let name = pane.name();
                state.say(Level::Info, format!("the {name} pane has no filter"));
                return Vec::new();
            }
            let current = pane.filter().map(|f| f.text.clone());
            state.input = Some(Input::filter(current.as_deref()));
            Vec::new()
        }
        Action::Back => {
            // The innermost first: marks, this pane's filter, the scope, the status line.
            let marks = state.members.marked_count() + state.checks.marked_count();
            if marks > 0 {
                state.members.clear_marks();
                state.checks.clear_marks();
                state.say(Level::Info, format!("{marks} marks cleared"));
            } else if state.pane_mut().filter().is_some() {
                let _ = state.pane_mut().set_filter(None);
                state.say(Level::Info, "filter cleared");
            } else if state.scope != Scope::Cluster {
                state.members.clear_selection();
                state.group_scope = None;
                state.say(Level::Info, "scope cleared: showing every entity");
            } else if !state.time.is_live() {
                return time_cursor::live(state);
            } else if state.status.is_some() {
                state.status = None;
            }
            Vec::new()
        }
        _ => {
            // What the selected check's silence may be is up to its own cluster's backend.
            let row_cluster = state
                .checks
                .selected()
                .map(|r| r.cluster)
                .unwrap_or_default();
            let checks_kind = state.checks_kind_in(row_cluster).to_string();
            let ctx = PaneCtx {
                checks_kind: &checks_kind,
                zone: state.zone,
            };
            let reaction = state.pane_mut().on_action(action, &ctx);
            if let Some((level, text)) = reaction.say {
                state.say(level, text);
            }
            if let Some(popup) = reaction.popup {
                state.popup = Some(popup);
            }
            if let Some(kind) = reaction.input {
                state.input = Some(Input::new(kind, ""));
            }
            reaction.commands
        }
    }
}

/// The action's keymap name (`deregister`), as audit lines call it.
fn action_name(action: Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The one `refused` line for a mutating key that is refused before any dialog (a read-only
/// session, a source that is not live), naming the target its dialog would have shown (empty when
/// nothing is selected).
fn refusal_line(state: &mut State, action: Action, result: &str) -> AuditEntry {
    let name = action_name(action);
    let mut line = match action {
        Action::Undo => {
            let key = state.undo.latest(state.now).map(|u| u.key.clone());
            let target = key.as_deref().map(deregister_target).unwrap_or_default();
            let mut line = state.audit_line(Phase::Refused, &name, target);
            line.key_b64 = key.as_deref().map(key_b64);
            line
        }
        Action::Deregister => {
            let member = state
                .members
                .selected()
                .map(|m| (m.key().to_vec(), m.mod_revision));
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
            let ids = state
                .checks
                .silences_of_selected()
                .map(|(_, ids)| ids)
                .unwrap_or_default();
            let target = ids
                .iter()
                .map(|id| unsilence_target(&checks::describe_silence(&state.checks, id)))
                .collect::<Vec<_>>()
                .join("; ");
            let mut line = state.audit_line(Phase::Refused, &name, target);
            if let [id] = ids.as_slice() {
                line.silence_id = Some(id.clone());
            }
            line
        }
    };
    line.result = Some(result.into());
    line
}

#[cfg(test)]
mod tests;

/// The names a member's checks and log lines may carry: its instance, its address, the address's
/// host.
pub fn member_names(m: &crate::model::Member) -> Vec<String> {
    let mut names = vec![m.instance().to_string()];
    if !m.addr().is_empty() {
        names.push(m.addr().to_string());
        if let Some((host, _)) = m.addr().rsplit_once(':') {
            names.push(host.to_string());
        }
    }
    names
}

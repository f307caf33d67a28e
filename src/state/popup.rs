//! What is drawn over the panes: help, details, the silence form, a picker, and the one
//! confirmation dialog every change goes through ([`Confirm`]: the change and the exact target
//! text the dialog shows, which the audit line repeats).

use super::audit_trail::{self, deregister_target, key_b64, silence_target, unsilence_target};
use super::field::TextField;
use super::silence_form::{self, SilenceForm};
use super::{Level, State};
use crate::action::Action;
use crate::model::{
    text::visible, Command, KvEntry, LeaseKeys, Mutation, Phase, SilenceRequest, SourceKind,
};

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help {
        scroll: usize,
    },
    MemberDetail {
        key: Vec<u8>,
        /// The member's cluster (with the key, its identity).
        cluster: crate::model::ClusterId,
        scroll: usize,
        history: Option<Result<Vec<KvEntry>, String>>,
    },
    CheckDetail {
        entity: String,
        check: String,
        scroll: usize,
        /// The inhibitor under the cursor in "why muted?" (Enter goes to it).
        inhibitor: usize,
    },
    LogDetail {
        line: Box<crate::model::LogLine>,
        scroll: usize,
    },
    /// Enter on a recently resolved row: when it resolved, and what it last said.
    ResolvedDetail {
        item: Box<super::resolved::Resolved>,
        scroll: usize,
    },
    SilenceForm(SilenceForm),
    /// A change waiting for `y`.
    Confirm(Confirm),
    /// Several silences cover the row: pick the one to remove (or, `extend`, to extend).
    PickSilence {
        ids: Vec<String>,
        index: usize,
        extend: bool,
    },
    /// The metrics chart of these series (by name).
    Chart {
        series: Vec<String>,
    },
    /// `b` in checks: failing checks grouped by what they share, largest first.
    Groups {
        by: super::grouping::GroupBy,
        groups: Vec<super::grouping::Group>,
        index: usize,
    },
    /// `:group` alone (or `b` on Alertmanager): the alert label names seen, each with how many
    /// failing alerts carry it; space picks several, Enter groups by them.
    PickLabels(super::label_groups::LabelPicker),
    /// `c` in members: the churn timeline, newest first.
    Churn {
        scroll: usize,
    },
    /// `d` in members while the time cursor is set: who joined and left between it and now.
    AtDiff {
        diff: super::time_cursor::Diff,
        scroll: usize,
    },
    /// `:cluster` alone: the config's clusters, Enter switches to the one under the cursor.
    PickCluster {
        clusters: Vec<ClusterChoice>,
        index: usize,
    },
    /// `:cmd NAME`: the exact argument list, before it runs (Enter runs, `y` copies it).
    RunPreview(super::run::Prepared),
    /// A capture (or pipe) command's output: scrollable, searchable.
    Output(Box<super::run::Output>),
    /// The custom commands running in the background.
    Tasks {
        index: usize,
    },
}

/// A cluster of the config as the picker lists it, with the marks that keep anyone from acting
/// on the wrong one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterChoice {
    pub name: String,
    pub readonly: bool,
    /// The profile's border colour (`accent = "red"`), as written.
    pub accent: Option<String>,
}

/// A change the user is asked to confirm, and the target exactly as the dialog names it (the
/// audit lines carry this same text). On a protected cluster (or a bulk action above the cap)
/// `typed` holds what must be typed out — `y` alone does nothing there.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub change: Change,
    pub target: String,
    pub typed: Option<Typed>,
}

/// Typed confirmation: `expected` must be typed into `field` and submitted.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    pub expected: String,
    pub field: TextField,
}

/// One member a deregister removes: its key, the revision the user saw, its lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub key: Vec<u8>,
    pub mod_revision: i64,
    pub lease: i64,
    /// The cluster the key is in: the deregister goes to that cluster's etcd only.
    pub cluster: crate::model::ClusterId,
}

/// What the deregister dialog shows before anything happens (a dry run).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Preview {
    /// The value as etcd holds it.
    pub value: Vec<u8>,
    /// The lease's remaining TTL and the other keys on it (`None` while it is read; an error such
    /// as `permission denied` when etcd will not say).
    pub lease: Option<Result<LeaseKeys, String>>,
    /// The member's checks (the scoping rule): (status label, entity, check).
    pub checks: Vec<(String, String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Deregister {
        target: Target,
        revoke_lease: bool,
        preview: Box<Preview>,
    },
    /// Marked members, one guarded transaction each.
    DeregisterMany {
        targets: Vec<Target>,
        revoke_lease: bool,
    },
    Silence(SilenceRequest),
    /// One silence per marked check.
    SilenceMany(Vec<SilenceRequest>),
    Unsilence {
        id: String,
        description: String,
    },
    /// An ack (`a`): a short silence commented `ACK <user>: <note>`; taking over someone else's
    /// ack expires theirs once this one is confirmed.
    Ack {
        request: SilenceRequest,
        takes_over: Option<super::ack::TakeOver>,
    },
    /// Unack (`A`): expire the ack's silence.
    Unack {
        id: String,
        description: String,
    },
    /// A silence's end moved from where it is to `until`.
    Extend {
        silence: Box<crate::model::Silence>,
        until: chrono::DateTime<chrono::Utc>,
    },
    /// Undo of a deregister: the key back with its value, only if it does not exist.
    Restore {
        key: Vec<u8>,
        value: Vec<u8>,
        lease: i64,
        ttl: i64,
        /// Keys that went with the lease when it was revoked (not restored — the dialog says so).
        lease_revoked: bool,
        /// The cluster it goes back to.
        cluster: crate::model::ClusterId,
    },
    /// A custom command with `danger = "confirm"` or `"typed"`.
    Run(Box<super::run::Prepared>),
}

impl Change {
    /// The audit log's name for it.
    pub fn action(&self) -> &'static str {
        match self {
            Change::Deregister { .. } | Change::DeregisterMany { .. } => "deregister",
            Change::Silence(_) | Change::SilenceMany(_) => "silence",
            Change::Unsilence { .. } => "unsilence",
            Change::Ack { .. } => "ack",
            Change::Unack { .. } => "unack",
            Change::Extend { silence, .. } if crate::model::mute::Ack::of(silence).is_some() => {
                "extend ack"
            }
            Change::Extend { .. } => "extend silence",
            Change::Restore { .. } => "undo deregister",
            Change::Run(_) => super::run::AUDIT_ACTION,
        }
    }

    /// How many changes it makes.
    pub fn count(&self) -> usize {
        match self {
            Change::DeregisterMany { targets, .. } => targets.len(),
            Change::SilenceMany(r) => r.len(),
            _ => 1,
        }
    }

    /// The cluster a deregister goes to (a merged view's dialog names it first); `None` for the
    /// changes that go to the session's own cluster.
    pub fn cluster(&self) -> Option<crate::model::ClusterId> {
        match self {
            Change::Deregister { target, .. } => Some(target.cluster),
            Change::Restore { cluster, .. } => Some(*cluster),
            Change::DeregisterMany { targets, .. } => {
                let first = targets.first()?.cluster;
                targets.iter().all(|t| t.cluster == first).then_some(first)
            }
            _ => None,
        }
    }

    /// The source that must be live for it to be sent (none for a custom command).
    pub fn source(&self) -> Option<SourceKind> {
        match self {
            Change::Deregister { .. } | Change::DeregisterMany { .. } | Change::Restore { .. } => {
                Some(SourceKind::Etcd)
            }
            Change::Run(_) => None,
            _ => Some(SourceKind::Checks),
        }
    }
}

impl Confirm {
    pub fn deregister(target: Target, preview: Preview) -> Confirm {
        Confirm {
            target: deregister_target(&target.key),
            change: Change::Deregister {
                target,
                revoke_lease: false,
                preview: Box::new(preview),
            },
            typed: None,
        }
    }

    pub fn silence(request: SilenceRequest) -> Confirm {
        Confirm {
            target: silence_target(&request.scope),
            change: Change::Silence(request),
            typed: None,
        }
    }

    pub fn unsilence(id: String, description: String) -> Confirm {
        Confirm {
            target: unsilence_target(&description),
            change: Change::Unsilence { id, description },
            typed: None,
        }
    }

    pub fn unack(id: String, description: String) -> Confirm {
        Confirm {
            target: unsilence_target(&description),
            change: Change::Unack { id, description },
            typed: None,
        }
    }

    /// What typing out confirms, on a protected cluster: the instance, the check (or the scope),
    /// the number of targets of a bulk action.
    pub fn must_type(mut self, expected: String) -> Confirm {
        self.typed = Some(Typed {
            expected,
            field: TextField::new(200),
        });
        self
    }
}

impl Popup {
    /// Dialogs that confirm a change to a backend; their keys wait for the confirmation guard.
    pub fn is_confirmation(&self) -> bool {
        matches!(self, Popup::Confirm(_))
    }
}

/// Whether `action` does something in this confirmation dialog (closing it aside).
pub fn acts_in_dialog(popup: &Popup, action: Action) -> bool {
    match (popup, action) {
        (
            Popup::Confirm(Confirm {
                change: Change::Deregister { target, .. },
                typed: None,
                ..
            }),
            Action::ToggleRevokeLease,
        ) => target.lease != 0,
        (
            Popup::Confirm(Confirm {
                change: Change::DeregisterMany { .. },
                typed: None,
                ..
            }),
            Action::ToggleRevokeLease,
        ) => true,
        (Popup::Confirm(Confirm { typed: Some(_), .. }), a) => a == Action::Submit,
        (p, Action::Confirm) => p.is_confirmation(),
        _ => false,
    }
}

/// An action while `popup` is open.
pub fn act(state: &mut State, popup: Popup, action: Action, key: Option<&str>) -> Vec<Command> {
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
        Popup::Confirm(confirm) => confirm_action(state, confirm, action),
        Popup::PickSilence { ids, index, extend } => {
            match action {
                Action::Down => {
                    state.popup = Some(Popup::PickSilence {
                        index: (index + 1).min(ids.len().saturating_sub(1)),
                        ids,
                        extend,
                    })
                }
                Action::Up => {
                    state.popup = Some(Popup::PickSilence {
                        index: index.saturating_sub(1),
                        ids,
                        extend,
                    })
                }
                Action::Select | Action::Detail | Action::Confirm => {
                    if let Some(id) = ids.get(index) {
                        if extend {
                            state.popup = None;
                            super::guarded::extend_prompt(state, id.clone());
                        } else {
                            let description = super::checks::describe_silence(&state.checks, id);
                            state.popup =
                                Some(Popup::Confirm(Confirm::unsilence(id.clone(), description)));
                        }
                    }
                }
                Action::Back | Action::Cancel | Action::Quit => state.popup = None,
                _ => {}
            }
            Vec::new()
        }
        Popup::SilenceForm(form) => form_action(state, form, action),
        Popup::Groups { by, groups, index } => {
            let last = groups.len().saturating_sub(1);
            let index = match action {
                Action::Down => (index + 1).min(last),
                Action::Up => index.saturating_sub(1),
                Action::Top => 0,
                Action::Bottom => last,
                Action::Select | Action::Detail | Action::Confirm => {
                    state.popup = None;
                    if let Some(g) = groups.get(index) {
                        super::grouping::scope_to(state, g);
                    }
                    return Vec::new();
                }
                Action::Back | Action::Cancel | Action::Quit | Action::GroupChecks => {
                    state.popup = None;
                    return Vec::new();
                }
                _ => index,
            };
            state.popup = Some(Popup::Groups { by, groups, index });
            Vec::new()
        }
        Popup::PickLabels(picker) => super::label_groups::pick(state, picker, action),
        Popup::PickCluster { clusters, index } => {
            let last = clusters.len().saturating_sub(1);
            let index = match action {
                Action::Down => (index + 1).min(last),
                Action::Up => index.saturating_sub(1),
                Action::Top => 0,
                Action::Bottom => last,
                Action::Select | Action::Detail | Action::Confirm => {
                    state.popup = None;
                    return match clusters.get(index) {
                        Some(c) if state.merged() => {
                            // A merged view's picker narrows, as `:cluster NAME` there does.
                            super::merged::narrow_by_name(state, &c.name);
                            Vec::new()
                        }
                        Some(c) if c.name == state.cluster => {
                            state.say(Level::Info, format!("already on cluster {}", c.name));
                            Vec::new()
                        }
                        Some(c) => vec![Command::SwitchCluster(c.name.clone())],
                        None => Vec::new(),
                    };
                }
                Action::Back | Action::Cancel | Action::Quit => {
                    state.popup = None;
                    return Vec::new();
                }
                _ => index,
            };
            state.popup = Some(Popup::PickCluster { clusters, index });
            Vec::new()
        }
        Popup::RunPreview(prepared) => {
            match action {
                Action::Select | Action::Detail | Action::Confirm | Action::Submit => {
                    state.popup = None;
                    return super::run::proceed(state, prepared);
                }
                Action::Copy => {
                    let text = crate::model::run::shell_words(&prepared.argv);
                    state.say(Level::Info, "copied the command line");
                    return vec![Command::Copy(text)];
                }
                Action::Back | Action::Cancel | Action::Quit => {
                    state.popup = None;
                    state.say(Level::Info, format!("{} not run", prepared.name));
                }
                _ => {}
            }
            Vec::new()
        }
        Popup::Output(mut out) => {
            let last = out.lines.len().saturating_sub(1);
            match action {
                Action::Down => out.scroll = (out.scroll + 1).min(last),
                Action::Up => out.scroll = out.scroll.saturating_sub(1),
                Action::PageDown => out.scroll = (out.scroll + 10).min(last),
                Action::PageUp => out.scroll = out.scroll.saturating_sub(10),
                Action::Top => out.scroll = 0,
                Action::Bottom => out.scroll = last,
                Action::NextMatch | Action::PrevMatch => {
                    if out.matches.is_empty() {
                        state.say(Level::Info, "no search — / searches the output");
                    } else {
                        out.step(action == Action::NextMatch, false);
                    }
                }
                Action::Filter => {
                    let current = out.search.clone().unwrap_or_default();
                    let mut input = super::Input::new(super::InputKind::Search, &current);
                    input.field.select_all();
                    state.input = Some(input);
                }
                Action::Copy => {
                    let text = out.lines.join("\n");
                    state.say(Level::Info, format!("copied {} lines", out.lines.len()));
                    state.popup = Some(Popup::Output(out));
                    return vec![Command::Copy(text)];
                }
                Action::Back | Action::Cancel | Action::Quit | Action::Select | Action::Detail => {
                    state.popup = None;
                    return Vec::new();
                }
                _ => {}
            }
            state.popup = Some(Popup::Output(out));
            Vec::new()
        }
        Popup::Tasks { index } => {
            let last = state.tasks.len().saturating_sub(1);
            let index = match action {
                Action::Down => (index + 1).min(last),
                Action::Up => index.saturating_sub(1),
                Action::Top => 0,
                Action::Bottom => last,
                Action::KillTask => {
                    return match state.tasks.get(index).cloned() {
                        Some(t) => {
                            state.say(Level::Info, format!("killing {} (pid {}) …", t.name, t.pid));
                            vec![Command::KillTask(t.id)]
                        }
                        None => {
                            state.say(Level::Info, "no task to kill");
                            Vec::new()
                        }
                    };
                }
                Action::Back | Action::Cancel | Action::Quit | Action::Select | Action::Tasks => {
                    state.popup = None;
                    return Vec::new();
                }
                _ => index,
            };
            state.popup = Some(Popup::Tasks { index });
            Vec::new()
        }
        Popup::Chart { .. } => {
            match action {
                Action::NextWindow | Action::PrevWindow => {
                    let delta = if action == Action::NextWindow { 1 } else { -1 };
                    let w = state.metrics.window().step(delta);
                    state.metrics.window = Some(w);
                    state.say(Level::Info, format!("metrics window {}", w.label()));
                }
                Action::Back | Action::Cancel | Action::Quit | Action::Select => state.popup = None,
                _ => {}
            }
            Vec::new()
        }
        Popup::MemberDetail { .. } | Popup::CheckDetail { .. }
            if action.link_number().is_some() =>
        {
            let n = action.link_number().unwrap_or(1);
            let (links, _) = super::links::of_popup(state);
            match links.get(n - 1) {
                Some(l) => vec![Command::OpenUrl(l.url.clone())],
                None => {
                    state.say(Level::Info, format!("no link {n} here"));
                    Vec::new()
                }
            }
        }
        Popup::CheckDetail {
            entity,
            check,
            inhibitor,
            ..
        } if action == Action::Select
            && super::why_muted::jump_to_inhibitor(state, &entity, &check, inhibitor) =>
        {
            Vec::new()
        }
        Popup::CheckDetail {
            entity,
            check,
            scroll,
            inhibitor,
        } if matches!(action, Action::Up | Action::Down)
            && super::why_muted::choices(state, &entity, &check) > 1 =>
        {
            let n = super::why_muted::choices(state, &entity, &check);
            let inhibitor = if action == Action::Down {
                (inhibitor + 1).min(n - 1)
            } else {
                inhibitor.saturating_sub(1)
            };
            state.popup = Some(Popup::CheckDetail {
                entity,
                check,
                scroll,
                inhibitor,
            });
            Vec::new()
        }
        Popup::Help { scroll }
        | Popup::Churn { scroll }
        | Popup::AtDiff { scroll, .. }
        | Popup::MemberDetail { scroll, .. }
        | Popup::CheckDetail { scroll, .. }
        | Popup::ResolvedDetail { scroll, .. }
        | Popup::LogDetail { scroll, .. } => {
            let new_scroll = match action {
                Action::Down => Some(scroll + 1),
                Action::Up => Some(scroll.saturating_sub(1)),
                Action::PageDown => Some(scroll + 10),
                Action::PageUp => Some(scroll.saturating_sub(10)),
                Action::Top => Some(0),
                Action::Bottom => Some(usize::MAX / 2),
                Action::Back
                | Action::Cancel
                | Action::Help
                | Action::Detail
                | Action::Select
                | Action::Quit => {
                    state.popup = None;
                    None
                }
                _ => None,
            };
            if let (
                Some(s),
                Some(
                    Popup::Help { scroll }
                    | Popup::Churn { scroll }
                    | Popup::AtDiff { scroll, .. }
                    | Popup::MemberDetail { scroll, .. }
                    | Popup::CheckDetail { scroll, .. }
                    | Popup::ResolvedDetail { scroll, .. }
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

/// `y`, `n` or `r` in the confirmation dialog (or, when it must be typed out, the text and Enter).
/// Confirming records each attempt first: a change leaves as a gated command that the audit log
/// releases only once its attempt is on disk.
fn confirm_action(state: &mut State, mut confirm: Confirm, action: Action) -> Vec<Command> {
    if let Some(typed) = &mut confirm.typed {
        match action {
            Action::Submit if typed.field.text().trim() == typed.expected => {}
            Action::Submit => {
                let expected = typed.expected.clone();
                state.popup = Some(Popup::Confirm(confirm));
                state.say(
                    Level::Warn,
                    format!("type {expected} exactly to confirm (Esc cancels)"),
                );
                return Vec::new();
            }
            Action::Cancel | Action::Back => return cancel(state, &confirm.change),
            edit => {
                typed.field.edit(edit);
                state.popup = Some(Popup::Confirm(confirm));
                return Vec::new();
            }
        }
    } else {
        match action {
            Action::Confirm => {}
            Action::Cancel | Action::Back | Action::Quit => return cancel(state, &confirm.change),
            Action::ToggleRevokeLease => {
                match &mut confirm.change {
                    Change::Deregister {
                        target,
                        revoke_lease,
                        ..
                    } if target.lease != 0 => *revoke_lease = !*revoke_lease,
                    Change::DeregisterMany { revoke_lease, .. } => *revoke_lease = !*revoke_lease,
                    _ => {}
                }
                state.popup = Some(Popup::Confirm(confirm));
                return Vec::new();
            }
            _ => return Vec::new(),
        }
    }
    // Confirmed. A change is only sent while its source answers.
    state.popup = None;
    let targets_clusters = super::merged::change_clusters(state, &confirm.change);
    // A merged view: each cluster's own `readonly` holds for the changes that go there.
    if let Some(&c) = targets_clusters
        .iter()
        .find(|&&c| state.merged() && state.readonly_in(c))
    {
        let name = state.cluster_name(c).to_string();
        let mut line = state.refusal(
            confirm.change.action(),
            confirm.target.clone(),
            "refused: readonly",
        );
        line.cluster = name.clone();
        state.say(
            Level::Warn,
            format!(
                "cluster {name} is read-only: {} refused (readonly = true in its profile)",
                confirm.change.action()
            ),
        );
        return vec![Command::Audit(line)];
    }
    if let Some(why) = confirm.change.source().and_then(|kind| {
        targets_clusters
            .iter()
            .find_map(|&c| super::not_live_in(state, c, kind))
    }) {
        let line = state.refusal(
            confirm.change.action(),
            confirm.target.clone(),
            "refused: not live",
        );
        state.say(Level::Warn, why);
        return vec![Command::Audit(line)];
    }
    let Confirm { change, target, .. } = confirm;
    let action = change.action();
    match change {
        Change::Deregister {
            target: t,
            revoke_lease,
            preview,
        } => {
            state.say(Level::Info, format!("deregistering {target} …"));
            let ttl = state
                .members
                .lease_remaining_in(t.cluster, t.lease, state.now)
                .unwrap_or(0);
            vec![deregister_one(
                state,
                t,
                revoke_lease,
                target,
                Some((preview.value, ttl)),
            )]
        }
        Change::DeregisterMany {
            targets,
            revoke_lease,
        } => {
            state.say(
                Level::Info,
                format!("deregistering {} members …", targets.len()),
            );
            state.members.clear_marks();
            let mut out = Vec::new();
            let mut ids = Vec::new();
            for t in targets {
                let value = state
                    .members
                    .get_in(t.cluster, &t.key)
                    .map(|m| m.value().to_vec());
                let ttl = state
                    .members
                    .lease_remaining_in(t.cluster, t.lease, state.now)
                    .unwrap_or(0);
                let name = deregister_target(&t.key);
                let cmd = deregister_one(state, t, revoke_lease, name, value.map(|v| (v, ttl)));
                if let Command::Gated(g) = &cmd {
                    ids.push(g.attempt.id.clone());
                }
                out.push(cmd);
            }
            state.batch.start("deregister", ids);
            out
        }
        Change::Silence(request) => {
            state.say(
                Level::Info,
                format!("silencing {} …", request.scope.describe()),
            );
            vec![silence_one(state, request, target, action)]
        }
        Change::SilenceMany(requests) => {
            state.say(
                Level::Info,
                format!("silencing {} checks …", requests.len()),
            );
            state.checks.clear_marks();
            let mut out = Vec::new();
            let mut ids = Vec::new();
            for r in requests {
                let name = silence_target(&r.scope);
                let cmd = silence_one(state, r, name, action);
                if let Command::Gated(g) = &cmd {
                    ids.push(g.attempt.id.clone());
                }
                out.push(cmd);
            }
            state.batch.start("silence", ids);
            out
        }
        Change::Ack {
            request,
            takes_over,
        } => {
            state.say(
                Level::Info,
                format!("acking {} …", request.scope.describe()),
            );
            let cmd = silence_one(state, request, target, action);
            if let (Some(old), Command::Gated(g)) = (takes_over, &cmd) {
                state.acks.creating(g.attempt.id.clone(), old);
            }
            vec![cmd]
        }
        Change::Unsilence { id, .. } | Change::Unack { id, .. } => {
            let what = if action == "unack" { "ack" } else { "silence" };
            state.say(Level::Info, format!("removing {what} {} …", visible(&id)));
            let mut attempt = state.audit_line(Phase::Attempt, action, target);
            attempt.cluster = super::merged::silence_cluster_name(state, &id);
            attempt.silence_id = Some(id.clone());
            vec![state.audit.gate(attempt, Mutation::Unsilence { id })]
        }
        Change::Extend { silence, until } => {
            state.say(
                Level::Info,
                format!("extending silence {} …", visible(&silence.id)),
            );
            let mut attempt = state.audit_line(Phase::Attempt, action, target);
            attempt.cluster = super::merged::silence_cluster_name(state, &silence.id);
            attempt.silence_id = Some(silence.id.clone());
            vec![state
                .audit
                .gate(attempt, Mutation::ExtendSilence { silence, until })]
        }
        Change::Run(prepared) => super::run::launch(state, *prepared),
        Change::Restore {
            key,
            value,
            lease,
            ttl,
            cluster,
            ..
        } => {
            state.say(Level::Info, format!("putting {target} back …"));
            let mut attempt = state.audit_line(Phase::Attempt, action, target);
            attempt.cluster = state.cluster_name(cluster).to_string();
            attempt.key_b64 = Some(key_b64(&key));
            state.undo.forget(cluster, &key);
            vec![state.audit.gate(
                attempt,
                Mutation::Restore {
                    key,
                    value,
                    lease,
                    ttl,
                },
            )]
        }
    }
}

fn cancel(state: &mut State, change: &Change) -> Vec<Command> {
    state.popup = None;
    match change {
        Change::Deregister { .. } | Change::DeregisterMany { .. } => {
            state.say(Level::Info, "deregister cancelled")
        }
        Change::Silence(_) | Change::SilenceMany(_) => state.say(Level::Info, "silence cancelled"),
        Change::Ack { .. } => state.say(Level::Info, "ack cancelled"),
        Change::Restore { .. } => state.say(Level::Info, "undo cancelled"),
        Change::Extend { .. } => state.say(Level::Info, "extend cancelled"),
        Change::Unsilence { .. } | Change::Unack { .. } => {}
        Change::Run(p) => state.say(Level::Info, format!("{} not run", p.name)),
    }
    Vec::new()
}

/// One member's guarded delete, its attempt recorded first; what undo needs is kept under the
/// attempt's id until the outcome says the key is gone.
fn deregister_one(
    state: &mut State,
    t: Target,
    revoke_lease: bool,
    target: String,
    undo: Option<(Vec<u8>, i64)>,
) -> Command {
    let revoke_lease = (revoke_lease && t.lease != 0).then_some(t.lease);
    let mut attempt = state.audit_line(Phase::Attempt, "deregister", target);
    // The attempt names the member's own cluster: the core sends the change to that cluster's
    // etcd by this name, and the audit log says where it went.
    attempt.cluster = state.cluster_name(t.cluster).to_string();
    attempt.key_b64 = Some(key_b64(&t.key));
    attempt.mod_revision = Some(t.mod_revision);
    attempt.revoke_lease = revoke_lease;
    if let Some((value, ttl)) = undo {
        state.undo.pending(
            attempt.id.clone(),
            super::undo::Undoable {
                key: t.key.clone(),
                value,
                lease: t.lease,
                ttl,
                lease_revoked: revoke_lease.is_some(),
                at: state.now,
                cluster: t.cluster,
            },
        );
    }
    state.audit.gate(
        attempt,
        Mutation::Deregister {
            key: t.key,
            mod_revision: t.mod_revision,
            revoke_lease,
        },
    )
}

/// One silence (or ack: `action`), its attempt recorded first with its reason and duration.
fn silence_one(
    state: &mut State,
    request: SilenceRequest,
    target: String,
    action: &str,
) -> Command {
    let mut attempt = state.audit_line(Phase::Attempt, action, target);
    // The silenced check's own cluster: the core sends it to that cluster's backend by this name.
    attempt.cluster = state.cluster_name(request.cluster).to_string();
    attempt.reason = Some(request.reason.clone());
    attempt.duration = Some(Box::new(super::ack::duration_text(request.duration)));
    if state.checks_kind_in(request.cluster) == "alertmanager" {
        attempt.matchers = Some(audit_trail::alertmanager_matchers(&request));
    }
    state.audit.gate(attempt, Mutation::Silence(request))
}

/// An action of the `[form]` context while the silence form is open.
fn form_action(state: &mut State, mut form: SilenceForm, action: Action) -> Vec<Command> {
    form.clock = (state.now, state.zone);
    let requests = match form.act(action) {
        silence_form::FormResult::Editing => {
            state.popup = Some(Popup::SilenceForm(form));
            return Vec::new();
        }
        silence_form::FormResult::Cancel => {
            state.popup = None;
            state.say(Level::Info, "silence cancelled");
            return Vec::new();
        }
        silence_form::FormResult::Submit(r) => vec![r],
        silence_form::FormResult::SubmitMany(rs) => rs,
    };
    for r in &requests {
        if let Some(why) = refused_scope(state.checks_kind_in(r.cluster), &r.scope) {
            form.refuse(why);
            state.popup = Some(Popup::SilenceForm(form));
            return Vec::new();
        }
    }
    // An open-ended silence mutes whatever comes to match it, unseen, for good: Alertmanager has
    // none, and Sensu's only where the profile says so.
    // Each request by its own cluster's backend and guard rails.
    let refused = requests
        .iter()
        .filter(|r| r.duration.is_none())
        .find_map(|r| match state.checks_kind_in(r.cluster) {
            "alertmanager" => Some("Alertmanager silences always end — give a duration (up to 365d)"),
            _ if !state.guard_in(r.cluster).allow_no_expiry => Some(
                "no expiry is off for this cluster (allow_no_expiry = true allows it) — give a duration",
            ),
            _ => None,
        });
    if let Some(why) = refused {
        form.refuse_duration(why.to_string());
        state.popup = Some(Popup::SilenceForm(form));
        return Vec::new();
    }
    let mut requests = requests;
    for r in &mut requests {
        r.creator = state.user.clone();
    }
    let confirm = if form.bulk {
        let n = requests.len();
        let confirm = Confirm {
            target: format!("{n} checks"),
            change: Change::SilenceMany(requests),
            typed: None,
        };
        if state.guard.typed || n > state.guard.max_bulk {
            confirm.must_type(n.to_string())
        } else {
            confirm
        }
    } else {
        let request = requests.remove(0);
        let name = scope_name(&request.scope);
        let confirm = match form.ack {
            Some(ack) => Confirm {
                target: silence_target(&request.scope),
                change: Change::Ack {
                    request,
                    takes_over: ack.takes_over,
                },
                typed: None,
            },
            None => Confirm::silence(request),
        };
        if state.guard.typed {
            confirm.must_type(name)
        } else {
            confirm
        }
    };
    state.popup = Some(Popup::Confirm(confirm));
    Vec::new()
}

/// What typing out confirms a silence of `scope`: the check, else the entity or subscription.
fn scope_name(scope: &crate::model::SilenceScope) -> String {
    use crate::model::SilenceScope::*;
    match scope {
        CheckOnEntity { check, .. } | CheckEverywhere { check } => check.clone(),
        Entity { entity } => entity.clone(),
        Subscription { subscription } => subscription.clone(),
    }
}

/// Why the backend must not be sent a silence of `scope`, if it must not: an Alertmanager
/// silence whose matchers all match the empty string would mute every alert lacking the label.
fn refused_scope(kind: &str, scope: &crate::model::SilenceScope) -> Option<String> {
    match kind {
        "alertmanager" => crate::sources::checks::alertmanager::matchers_for(scope).err(),
        _ => None,
    }
}

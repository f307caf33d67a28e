//! What is drawn over the panes: help, details, the silence form, a picker, and the one
//! confirmation dialog every change goes through ([`Confirm`]: the change and the exact target
//! text the dialog shows, which the audit line repeats).

use super::audit_trail::{self, deregister_target, key_b64, silence_target, unsilence_target};
use super::silence_form::{self, SilenceForm};
use super::{Level, State};
use crate::action::Action;
use crate::model::{text::visible, Command, KvEntry, Mutation, Phase, SilenceRequest};

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
    /// A change waiting for `y`.
    Confirm(Confirm),
    /// Several silences cover the row: pick the one to remove.
    PickSilence {
        ids: Vec<String>,
        index: usize,
    },
    /// The metrics chart of these series (by name).
    Chart {
        series: Vec<String>,
    },
    /// `:cluster` alone: the config's clusters, Enter switches to the one under the cursor.
    PickCluster {
        clusters: Vec<ClusterChoice>,
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
/// audit lines carry this same text).
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub change: Change,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Deregister {
        key: Vec<u8>,
        mod_revision: i64,
        lease: i64,
        revoke_lease: bool,
    },
    Silence(SilenceRequest),
    Unsilence {
        id: String,
        description: String,
    },
}

impl Change {
    /// The audit log's name for it.
    pub fn action(&self) -> &'static str {
        match self {
            Change::Deregister { .. } => "deregister",
            Change::Silence(_) => "silence",
            Change::Unsilence { .. } => "unsilence",
        }
    }
}

impl Confirm {
    pub fn deregister(key: Vec<u8>, mod_revision: i64, lease: i64) -> Confirm {
        Confirm {
            target: deregister_target(&key),
            change: Change::Deregister {
                key,
                mod_revision,
                lease,
                revoke_lease: false,
            },
        }
    }

    pub fn silence(request: SilenceRequest) -> Confirm {
        Confirm {
            target: silence_target(&request.scope),
            change: Change::Silence(request),
        }
    }

    pub fn unsilence(id: String, description: String) -> Confirm {
        Confirm {
            target: unsilence_target(&description),
            change: Change::Unsilence { id, description },
        }
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
                change: Change::Deregister { lease, .. },
                ..
            }),
            Action::ToggleRevokeLease,
        ) => *lease != 0,
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
                Action::Select | Action::Detail | Action::Confirm => {
                    if let Some(id) = ids.get(index) {
                        let description = super::checks::describe_silence(&state.checks, id);
                        state.popup =
                            Some(Popup::Confirm(Confirm::unsilence(id.clone(), description)));
                    }
                }
                Action::Back | Action::Cancel | Action::Quit => state.popup = None,
                _ => {}
            }
            Vec::new()
        }
        Popup::SilenceForm(form) => form_action(state, form, action),
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

/// `y`, `n` or `r` in the confirmation dialog. Confirming records the attempt first: the change
/// leaves as a gated command that the audit log releases only once the attempt is on disk.
fn confirm_action(state: &mut State, confirm: Confirm, action: Action) -> Vec<Command> {
    let Confirm { change, target } = confirm;
    match action {
        Action::Confirm => {
            state.popup = None;
            let mut attempt = state.audit_line(Phase::Attempt, change.action(), target.clone());
            let mutation = match change {
                Change::Deregister {
                    key,
                    mod_revision,
                    lease,
                    revoke_lease,
                } => {
                    state.say(Level::Info, format!("deregistering {target} …"));
                    let revoke_lease = (revoke_lease && lease != 0).then_some(lease);
                    attempt.key_b64 = Some(key_b64(&key));
                    attempt.mod_revision = Some(mod_revision);
                    attempt.revoke_lease = revoke_lease;
                    Mutation::Deregister {
                        key,
                        mod_revision,
                        revoke_lease,
                    }
                }
                Change::Silence(request) => {
                    state.say(
                        Level::Info,
                        format!("silencing {} …", request.scope.describe()),
                    );
                    attempt.reason = Some(request.reason.clone());
                    if state.checks_kind() == "alertmanager" {
                        attempt.matchers = Some(audit_trail::alertmanager_matchers(&request));
                    }
                    Mutation::Silence(request)
                }
                Change::Unsilence { id, .. } => {
                    state.say(Level::Info, format!("removing silence {} …", visible(&id)));
                    attempt.silence_id = Some(id.clone());
                    Mutation::Unsilence { id }
                }
            };
            vec![state.audit.gate(attempt, mutation)]
        }
        Action::Cancel | Action::Back | Action::Quit => {
            state.popup = None;
            match change {
                Change::Deregister { .. } => state.say(Level::Info, "deregister cancelled"),
                Change::Silence(_) => state.say(Level::Info, "silence cancelled"),
                Change::Unsilence { .. } => {}
            }
            Vec::new()
        }
        Action::ToggleRevokeLease => {
            if let Change::Deregister {
                key,
                mod_revision,
                lease,
                revoke_lease,
            } = change
            {
                if lease != 0 {
                    state.popup = Some(Popup::Confirm(Confirm {
                        change: Change::Deregister {
                            key,
                            mod_revision,
                            lease,
                            revoke_lease: !revoke_lease,
                        },
                        target,
                    }));
                }
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}

/// An action of the `[form]` context while the silence form is open.
fn form_action(state: &mut State, mut form: SilenceForm, action: Action) -> Vec<Command> {
    match form.act(action) {
        silence_form::FormResult::Editing => state.popup = Some(Popup::SilenceForm(form)),
        silence_form::FormResult::Cancel => {
            state.popup = None;
            state.say(Level::Info, "silence cancelled");
        }
        silence_form::FormResult::Submit(mut request) => {
            if let Some(why) = refused_scope(state.checks_kind(), &request.scope) {
                form.refuse(why);
                state.popup = Some(Popup::SilenceForm(form));
                return Vec::new();
            }
            request.creator = state.user.clone();
            state.popup = Some(Popup::Confirm(Confirm::silence(request)));
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

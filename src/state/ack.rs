//! Ack / claim (`a`) and unack (`A`) in the checks pane. An ack is a short silence of the
//! check on its entity whose comment is `ACK <user>: <note>` (see `model::mute`), so it goes
//! through the silence form, the confirmation, the audit gate and the backend's confirmation
//! like any silence — nothing is reported acked before the backend shows it.

use super::guarded;
use super::popup::{Confirm, Popup};
use super::silence_form::{AckForm, SilenceForm};
use super::{Level, State};
use crate::model::mute::Mute;
use crate::model::{AuditId, Command};

/// What `a` does on the selected row: ack it; extend our own ack; take over someone else's
/// (the form says whose, before anything is sent).
pub fn ack(state: &mut State) -> Vec<Command> {
    let Some(r) = state.checks.selected().cloned() else {
        let why = state.checks.no_row();
        state.say(Level::Info, why);
        return Vec::new();
    };
    if r.status == 0 {
        state.say(Level::Info, "nothing to ack: the check is OK");
        return Vec::new();
    }
    let minutes = format!("{}m", state.guard_in(r.cluster).ack_mins);
    let takes_over = match state.checks.mute_of_check(&r.entity, &r.check) {
        Mute::Acked(a) if a.user == state.user => {
            // Re-ack: the same silence, its end moved one ack further (confirmed first).
            return guarded::extend_dialog(state, a.silence_id, &minutes);
        }
        Mute::Acked(a) => Some(TakeOver {
            user: a.user,
            silence_id: a.silence_id,
        }),
        _ => None,
    };
    // Alertmanager silences end only at their time.
    let supports_resolve = state.checks_kind_in(r.cluster) != "alertmanager";
    let form = SilenceForm::ack(
        &r,
        supports_resolve,
        &minutes,
        AckForm {
            user: state.user.clone(),
            takes_over,
        },
    );
    state.popup = Some(Popup::SilenceForm(form));
    Vec::new()
}

/// `A`: expire the ack on the selected row (confirmed, like any unsilence).
pub fn unack(state: &mut State) -> Vec<Command> {
    let Some(r) = state.checks.selected().cloned() else {
        let why = state.checks.no_row();
        state.say(Level::Info, why);
        return Vec::new();
    };
    match state.checks.mute_of_check(&r.entity, &r.check) {
        Mute::Acked(a) => {
            let description = super::checks::describe_silence(&state.checks, &a.silence_id);
            state.popup = Some(Popup::Confirm(Confirm::unack(a.silence_id, description)));
        }
        _ => state.say(
            Level::Info,
            format!(
                "{} is not acked",
                crate::model::text::visible(&format!("{}/{}", r.entity, r.check))
            ),
        ),
    }
    Vec::new()
}

/// Someone else's ack that a new ack takes over: expired once the new one is confirmed created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TakeOver {
    pub user: String,
    pub silence_id: String,
}

/// Takeovers in flight: the new ack's audit id → the old ack, until the backend confirms the new
/// one; then the old ack's expiry's audit id → the old ack, until that is answered too.
#[derive(Debug, Default)]
pub struct Takeovers {
    creating: std::collections::HashMap<AuditId, TakeOver>,
    expiring: std::collections::HashMap<AuditId, TakeOver>,
}

impl Takeovers {
    pub fn creating(&mut self, new_ack: AuditId, old: TakeOver) {
        self.creating.insert(new_ack, old);
    }

    /// The takeover whose new ack is `id`, now that its outcome is known.
    pub fn created(&mut self, id: &AuditId) -> Option<TakeOver> {
        self.creating.remove(id)
    }

    /// The takeover whose old ack's expiry is `id`, now that its outcome is known.
    pub fn expired(&mut self, id: &AuditId) -> Option<TakeOver> {
        self.expiring.remove(id)
    }
}

/// How long an ack (or silence) was asked to last, for the audit log.
pub fn duration_text(d: Option<std::time::Duration>) -> String {
    match d {
        None => "until removed or resolved".to_string(),
        Some(d) => {
            let secs = d.as_secs();
            match secs {
                0 => "0s".to_string(),
                s if s % 86_400 == 0 => format!("{}d", s / 86_400),
                s if s % 3_600 == 0 => format!("{}h", s / 3_600),
                s if s % 60 == 0 => format!("{}m", s / 60),
                s => format!("{s}s"),
            }
        }
    }
}

/// The new ack `new_id` of a takeover is confirmed created: expire the old one (its own audited
/// change, `unack`), unless the backend replaced it in place (a Sensu entry has one name per
/// check on an entity, so the new ack overwrote it).
pub fn take_over(state: &mut State, old: TakeOver, new_id: &str, scope: &str) -> Option<Command> {
    let who = crate::model::text::visible(&old.user).into_owned();
    if old.silence_id == new_id {
        state.say(
            Level::Info,
            format!(
                "acked {scope}, taking over from {who} (the backend replaced their ack in place)"
            ),
        );
        return None;
    }
    state.say(
        Level::Info,
        format!("acked {scope}; expiring {who}'s ack …"),
    );
    let target = format!(
        "{who}'s ack on {scope} ({})",
        crate::model::text::visible(&old.silence_id)
    );
    let mut attempt = state.audit_line(crate::model::Phase::Attempt, "unack", target);
    attempt.cluster = super::merged::silence_cluster_name(state, &old.silence_id);
    attempt.silence_id = Some(old.silence_id.clone());
    attempt.detail = Some(format!("taken over by {}", state.user));
    let id = attempt.id.clone();
    let cmd = state.audit.gate(
        attempt,
        crate::model::Mutation::Unsilence {
            id: old.silence_id.clone(),
        },
    );
    state.acks.expiring.insert(id, old);
    Some(cmd)
}

//! Ack / claim (`a`) and unack (`A`) in the checks pane. An ack is a short silence of the
//! check on its entity whose comment is `ACK <user>: <note>` (see `model::mute`), so it goes
//! through the silence form, the confirmation, the audit gate and the backend's confirmation
//! like any silence — nothing is reported acked before the backend shows it.

use super::guarded;
use super::popup::{Confirm, Popup};
use super::silence_form::{AckForm, SilenceForm};
use super::{Level, State};
use crate::model::mute::Mute;
use crate::model::Command;

/// What `a` does on the selected row: ack it; extend our own ack; take over someone else's
/// (the form says whose, before anything is sent).
pub fn ack(state: &mut State) -> Vec<Command> {
    let Some(r) = state.checks.selected().cloned() else {
        state.say(Level::Info, "no check selected");
        return Vec::new();
    };
    if r.status == 0 {
        state.say(Level::Info, "nothing to ack: the check is OK");
        return Vec::new();
    }
    let minutes = format!("{}m", state.guard.ack_mins);
    let takes_over = match state.checks.mute_of_check(&r.entity, &r.check) {
        Mute::Acked(a) if a.user == state.user => {
            // Re-ack: the same silence, its end moved one ack further (confirmed first).
            return guarded::extend_dialog(state, a.silence_id, &minutes);
        }
        Mute::Acked(a) => Some(a.user),
        _ => None,
    };
    // Alertmanager silences end only at their time.
    let supports_resolve = state.checks_kind() != "alertmanager";
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
        state.say(Level::Info, "no check selected");
        return Vec::new();
    };
    match state.checks.mute_of_check(&r.entity, &r.check) {
        Mute::Acked(a) => {
            let description = super::checks::describe_silence(&state.checks, &a.silence_id);
            state.popup = Some(Popup::Confirm(Confirm::unsilence(
                a.silence_id,
                description,
            )));
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

//! Enter in the detail of an inhibited alert: go to the alert that inhibits it — its row
//! selected when the pane shows it, and its detail opened either way (the answer to "why is
//! this quiet?" is usually "because of that one").

use super::popup::Popup;
use super::{Level, State};

/// Whether Enter was taken: `false` when the check has no listed inhibitor (Enter closes then).
pub fn jump_to_inhibitor(state: &mut State, entity: &str, check: &str) -> bool {
    let Some(r) = state.checks.find(entity, check) else {
        return false;
    };
    let Some((e, c)) = state
        .checks
        .inhibitors(r)
        .first()
        .map(|i| (i.entity.clone(), i.check.clone()))
    else {
        return false;
    };
    let at = (0..state.checks.visible_len()).find(|&i| {
        state
            .checks
            .row(i)
            .is_some_and(|x| x.entity == e && x.check == c)
    });
    match at {
        Some(i) => state.checks.select_index(i),
        None => state.say(
            Level::Info,
            "the inhibiting alert is hidden by the filter, scope or toggles",
        ),
    }
    state.popup = Some(Popup::CheckDetail {
        entity: e,
        check: c,
        scroll: 0,
    });
    true
}

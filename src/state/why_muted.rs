//! Enter in the detail of an inhibited alert: go to the alert that inhibits it — its row
//! selected when the pane shows it, and its detail opened either way (the answer to "why is
//! this quiet?" is usually "because of that one").

use super::popup::Popup;
use super::{Level, State};

/// How many inhibitors the detail of this check lists (the cursor moves among them when more
/// than one).
pub fn choices(state: &State, entity: &str, check: &str) -> usize {
    state
        .checks
        .find(entity, check)
        .map(|r| state.checks.inhibitors(r).len())
        .unwrap_or(0)
}

/// Enter in the detail: go to the inhibitor under the cursor (`index`, the first when out of
/// range). Whether Enter was taken: `false` when the check has no listed inhibitor (Enter closes
/// then).
pub fn jump_to_inhibitor(state: &mut State, entity: &str, check: &str, index: usize) -> bool {
    let Some(r) = state.checks.find(entity, check) else {
        return false;
    };
    let inhibitors = state.checks.inhibitors(r);
    let Some((e, c)) = inhibitors
        .get(index)
        .or(inhibitors.first())
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
        inhibitor: 0,
    });
    true
}

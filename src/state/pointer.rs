//! The mouse, once the app has placed it (which pane, which row of its list): a click focuses the
//! pane and selects the row, a double-click opens its detail, the wheel scrolls the pane under
//! the pointer without taking the focus. While a popup or a text field is open the mouse does
//! nothing — it never confirms a dialog.

use std::time::{Duration, Instant};

use super::pane::PaneCtx;
use super::{Pane, State};
use crate::action::Action;
use crate::model::Command;

/// Two clicks on the same row this close together are a double-click.
const DOUBLE_CLICK: Duration = Duration::from_millis(400);
/// Rows one wheel notch moves.
const WHEEL_ROWS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointerKind {
    Click,
    WheelUp,
    WheelDown,
}

/// A mouse event on a pane: `row` is the row of the pane's list on screen (0 = the first row
/// below its header), `None` on the border or the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pointer {
    pub pane: Pane,
    pub row: Option<usize>,
    pub kind: PointerKind,
    pub at: Instant,
}

/// The last click, to tell a double-click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastClick {
    pane: Pane,
    row: usize,
    at: Instant,
}

/// What the pointer does; the reducer settles the state after it (`state::handle_pointer`).
pub fn handle(state: &mut State, p: Pointer) -> Vec<Command> {
    if state.popup.is_some() || state.input.is_some() {
        return Vec::new();
    }
    match p.kind {
        PointerKind::WheelUp | PointerKind::WheelDown => {
            let action = if p.kind == PointerKind::WheelUp {
                Action::Up
            } else {
                Action::Down
            };
            let ctx = PaneCtx {
                checks_kind: "",
                zone: state.zone,
            };
            for _ in 0..WHEEL_ROWS {
                state.pane(p.pane).on_action(action, &ctx);
            }
            Vec::new()
        }
        PointerKind::Click => {
            state.focus = p.pane;
            let Some(row) = p.row else {
                state.last_click = None;
                return Vec::new();
            };
            select_row(state, p.pane, row);
            let double = state.last_click.is_some_and(|c| {
                c.pane == p.pane
                    && c.row == row
                    && p.at.saturating_duration_since(c.at) <= DOUBLE_CLICK
            });
            state.last_click = (!double).then_some(LastClick {
                pane: p.pane,
                row,
                at: p.at,
            });
            if double {
                return super::handle_action(state, Action::Detail);
            }
            Vec::new()
        }
    }
}

/// Puts the cursor of `pane` on the `row`-th row on screen.
fn select_row(state: &mut State, pane: Pane, row: usize) {
    match pane {
        Pane::Members => {
            let i = state.members.cursor.offset() + row;
            if i < state.members.visible_len() {
                state.members.select_index(i);
            }
        }
        Pane::Checks => {
            let i = state.checks.cursor.offset() + row;
            if i < state.checks.visible_len() {
                state.checks.select_index(i);
            }
        }
        // The histogram's rows are bars, not lines: a click only focuses the pane.
        Pane::Logs if state.logs.hist.open => {}
        Pane::Logs => state.logs.select_on_screen(row),
        Pane::Metrics => {
            let n = state
                .metrics
                .result
                .as_ref()
                .map(|r| r.series.len())
                .unwrap_or(0);
            // The series fit the pane (a handful of rows): row i is series i.
            if row < n {
                state.metrics.selected = row;
            }
        }
    }
}

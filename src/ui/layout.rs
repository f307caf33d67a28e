//! Where everything goes on a screen of a given size, computed from the size and the state alone
//! (pure): the panes' rectangles for drawing, and what each pane can show ([`Viewports`]), which
//! the app hands to the reducer before drawing so scrolling, paging, visible leases and the metrics
//! query follow the real screen. The view never writes state.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::model::{Health, SourceKind};
use crate::state::{State, Viewports};

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

/// Sparkline row: name, sparkline, value, range (and the spaces between).
pub const METRIC_NAME_W: usize = 12;
pub const METRIC_VALUE_W: usize = 11;
pub const METRIC_RANGE_W: usize = 19;

/// The rectangles of one screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Screen {
    pub members: Rect,
    pub checks: Rect,
    pub metrics: Rect,
    pub logs: Rect,
    pub bottom: Rect,
}

/// Whether a frame of this size shows the panes and popups (smaller ones only say so).
pub fn fits(area: Rect) -> bool {
    area.width >= MIN_WIDTH && area.height >= MIN_HEIGHT
}

/// The panes of a screen of `area`; `None` when it is too small to show them.
pub fn screen(area: Rect, state: &State) -> Option<Screen> {
    if !fits(area) {
        return None;
    }
    let bottom_rows =
        if state.input.is_some() || state.status.is_some() || state.audit_problem.is_some() {
            2
        } else {
            1
        };
    let [panes, bottom] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(bottom_rows)]).areas(area);
    let [top, lower] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(panes);
    let [members, checks] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [metrics, logs] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(lower);
    Some(Screen {
        members,
        checks,
        metrics,
        logs,
        bottom,
    })
}

/// The inside of a pane's border.
pub fn inner(r: Rect) -> Rect {
    ratatui::widgets::Block::bordered().inner(r)
}

/// Whether `kind`'s pane shows a line about its backend's trouble above its data.
pub fn has_problem_line(state: &State, kind: SourceKind) -> bool {
    matches!(
        state.health_of(kind),
        Some(Health::Retrying { .. } | Health::Failed(_))
    )
}

/// What each pane of a screen of `area` can show.
pub fn viewports(area: Rect, state: &State) -> Viewports {
    let Some(s) = screen(area, state) else {
        return state.viewports;
    };
    let problem = |kind| usize::from(has_problem_line(state, kind));
    let members = inner(s.members).height as usize;
    let checks = inner(s.checks).height as usize;
    let logs = inner(s.logs).height as usize;
    let checks_problem = if state.checks.received() {
        problem(SourceKind::Checks)
    } else {
        0
    };
    let logs_problem = if state.backends.logs.is_some() {
        problem(SourceKind::Logs)
    } else {
        0
    };
    Viewports {
        // One row each for the table headers.
        members_rows: members.saturating_sub(1),
        checks_rows: checks.saturating_sub(1 + checks_problem),
        logs_rows: logs.saturating_sub(logs_problem),
        sparkline_width: (inner(s.metrics).width as usize)
            .saturating_sub(METRIC_NAME_W + METRIC_VALUE_W + METRIC_RANGE_W + 3)
            .max(1),
    }
}

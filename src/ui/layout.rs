//! Where everything goes on a screen of a given size, computed from the size and the state alone
//! (pure): the panes' rectangles for drawing, and what each pane can show ([`Viewports`]), which
//! the app hands to the reducer before drawing so scrolling, paging, visible leases and the metrics
//! query follow the real screen. The view never writes state.

use ratatui::layout::{Constraint, Layout, Rect};

use crate::model::{Health, SourceKind};
use crate::state::{Pane, State, Viewports};

pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 12;

/// Sparkline row: name, sparkline, value, range (and the spaces between). The name column is as
/// wide as the longest series name (within bounds); the sparkline takes the rest.
pub const METRIC_VALUE_W: usize = 8;
pub const METRIC_RANGE_W: usize = 13;

/// Columns of the series names in the metrics pane.
pub fn metric_name_width(state: &State) -> usize {
    state
        .metrics
        .result
        .as_ref()
        .and_then(|r| {
            r.series
                .iter()
                .filter_map(|s| s.as_ref().ok())
                .map(|s| unicode_width::UnicodeWidthStr::width(s.name.as_str()))
                .max()
        })
        .unwrap_or(8)
        .clamp(4, 16)
}

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

/// The panes of a screen of `area`; `None` when it is too small to show them. The bottom two rows
/// are always the message line and the status bar, so nothing moves when a message comes or
/// goes. Zoomed, the focused pane has all of the rest (the others are empty rectangles).
pub fn screen(area: Rect, state: &State) -> Option<Screen> {
    if !fits(area) {
        return None;
    }
    let [panes, bottom] = Layout::vertical([Constraint::Min(0), Constraint::Length(2)]).areas(area);
    if state.zoomed {
        let none = Rect::new(panes.x, panes.y, 0, 0);
        let mut s = Screen {
            members: none,
            checks: none,
            metrics: none,
            logs: none,
            bottom,
        };
        *s.pane_mut(state.focus) = panes;
        return Some(s);
    }
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

impl Screen {
    pub fn pane(&self, pane: Pane) -> Rect {
        match pane {
            Pane::Members => self.members,
            Pane::Checks => self.checks,
            Pane::Metrics => self.metrics,
            Pane::Logs => self.logs,
        }
    }

    fn pane_mut(&mut self, pane: Pane) -> &mut Rect {
        match pane {
            Pane::Members => &mut self.members,
            Pane::Checks => &mut self.checks,
            Pane::Metrics => &mut self.metrics,
            Pane::Logs => &mut self.logs,
        }
    }

    /// Which pane holds the cell at (`x`, `y`), if any.
    pub fn pane_at(&self, x: u16, y: u16) -> Option<Pane> {
        Pane::ORDER
            .into_iter()
            .find(|p| self.pane(*p).contains(ratatui::layout::Position { x, y }))
    }
}

/// The inside of a pane's border.
pub fn inner(r: Rect) -> Rect {
    ratatui::widgets::Block::bordered().inner(r)
}

/// Whether `kind`'s pane shows a line about its backend's trouble above its data.
pub fn has_problem_line(state: &State, kind: SourceKind) -> bool {
    let health = match kind {
        SourceKind::Metrics => crate::state::metrics::shown_health(state),
        _ => state.health_of(kind),
    };
    matches!(health, Some(Health::Retrying { .. } | Health::Failed(_)))
}

/// What each pane of a screen of `area` can show.
pub fn viewports(area: Rect, state: &State) -> Viewports {
    let Some(s) = screen(area, state) else {
        return state.viewports;
    };
    let problem = |kind| usize::from(has_problem_line(state, kind));
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
    let rows = |r: Rect, minus: usize| (inner(r).height as usize).saturating_sub(minus);
    let mut v = Viewports {
        // One row each for the table headers.
        members_rows: rows(s.members, 1),
        checks_rows: rows(s.checks, 1 + checks_problem),
        logs_rows: rows(s.logs, logs_problem),
        sparkline_width: sparkline_width(inner(s.metrics).width as usize, metric_name_width(state)),
        chart_points: match state.popup {
            Some(crate::state::Popup::Chart { .. }) => chart_points(area),
            _ => 0,
        },
        logs_width: inner(s.logs).width as usize,
    };
    if state.zoomed {
        // The panes not on screen keep what they had: nothing re-queried for an empty rectangle.
        let old = state.viewports;
        match state.focus {
            Pane::Members => {
                v = Viewports {
                    members_rows: v.members_rows,
                    ..old
                }
            }
            Pane::Checks => {
                v = Viewports {
                    checks_rows: v.checks_rows,
                    ..old
                }
            }
            Pane::Metrics => {
                v = Viewports {
                    sparkline_width: v.sparkline_width,
                    ..old
                }
            }
            Pane::Logs => {
                v = Viewports {
                    logs_rows: v.logs_rows,
                    logs_width: v.logs_width,
                    ..old
                }
            }
        }
    }
    v
}

/// Columns of the chart's value axis labels.
pub const CHART_Y_LABELS: u16 = 10;

/// Where the chart goes on a screen of `area`: all of it but the status rows, a margin aside.
pub fn chart_area(area: Rect) -> Rect {
    let [panes, _] = Layout::vertical([Constraint::Min(0), Constraint::Length(2)]).areas(area);
    panes
}

/// Points across a chart on a screen of `area`: two per column (braille) of its plot.
pub fn chart_points(area: Rect) -> usize {
    (inner(chart_area(area))
        .width
        .saturating_sub(CHART_Y_LABELS + 1) as usize)
        * 2
}

/// Columns for a sparkline in a metrics pane `inner` columns wide with names `name_w` wide: all
/// the pane has after the name, value and range columns and the spaces between them.
pub fn sparkline_width(inner: usize, name_w: usize) -> usize {
    metric_columns(inner, name_w).spark
}

/// The widths of a metrics row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricColumns {
    pub name: usize,
    pub spark: usize,
    pub value: usize,
    /// 0 when the pane is too narrow for it (the chart has the range).
    pub range: usize,
}

/// A metrics row in `inner` columns: the sparkline keeps at least a third of the width; the
/// range goes first, then the names shrink.
pub fn metric_columns(inner: usize, name_w: usize) -> MetricColumns {
    // marker + name + space + sparkline + space + value [+ space + range]
    let fixed = |name: usize, range: usize| 1 + name + 1 + 1 + METRIC_VALUE_W + range;
    let want = inner / 3;
    let mut name = name_w;
    let mut range = METRIC_RANGE_W + 1;
    if inner.saturating_sub(fixed(name, range)) < want {
        range = 0;
    }
    while inner.saturating_sub(fixed(name, range)) < want && name > 4 {
        name -= 1;
    }
    MetricColumns {
        name,
        spark: inner.saturating_sub(fixed(name, range)).max(1),
        value: METRIC_VALUE_W,
        range: range.saturating_sub(1),
    }
}

/// The mouse at (`x`, `y`) on a screen of `area`, placed: which pane, which row of its list.
pub fn pointer(
    area: Rect,
    state: &State,
    x: u16,
    y: u16,
    kind: crate::state::PointerKind,
    at: std::time::Instant,
) -> Option<crate::state::Pointer> {
    let s = screen(area, state)?;
    let pane = s.pane_at(x, y)?;
    let inner = inner(s.pane(pane));
    let problem = |kind| u16::from(has_problem_line(state, kind));
    // Rows above the list: a table's header, a line about the backend's trouble.
    let above = match pane {
        Pane::Members => 1,
        Pane::Checks => {
            1 + if state.checks.received() {
                problem(SourceKind::Checks)
            } else {
                0
            }
        }
        Pane::Logs => problem(SourceKind::Logs),
        Pane::Metrics => problem(SourceKind::Metrics),
    };
    let first = inner.y + above;
    let row =
        (y >= first && y < inner.y + inner.height && x >= inner.x && x < inner.x + inner.width)
            .then(|| (y - first) as usize);
    // The logs pane's lines may take several rows each (wrap, an expanded record, pretty JSON):
    // the state is told which line, found as the pane draws them.
    let row = match row {
        Some(r) if pane == Pane::Logs && !state.logs.hist.open => {
            let list = Rect {
                y: first,
                height: inner.height.saturating_sub(above),
                ..inner
            };
            super::logs::line_at_row(state, list, r)
        }
        r => r,
    };
    Some(crate::state::Pointer {
        pane,
        row,
        kind,
        at,
    })
}

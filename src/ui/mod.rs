//! Drawing: reads `State`, builds only what is on screen, does no I/O.

mod chart;
mod check_popups;
mod checks;
mod confirm;
pub mod fmt;
mod histogram;
pub mod layout;
pub mod links;
mod logs;
mod members;
pub mod metrics;
mod mute_cell;
pub mod paint;
mod popups;
mod resolved_rows;
mod run_popups;
mod status;
pub mod table;
mod why_muted;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use crate::keymap::Keymap;
use crate::model::text::Visible;
use crate::state::{Pane, State};
use crate::theme::{StyleName, Theme};

pub use layout::{MIN_HEIGHT, MIN_WIDTH};

pub struct Ctx<'a> {
    pub state: &'a State,
    pub theme: &'a Theme,
    pub keymap: &'a Keymap,
}

/// Whether a frame of this size shows the panes and popups (smaller ones only say so).
pub fn shows_popups(area: Rect) -> bool {
    layout::fits(area)
}

pub fn draw(frame: &mut Frame, state: &State, theme: &Theme, keymap: &Keymap) {
    let ctx = Ctx {
        state,
        theme,
        keymap,
    };
    let area = frame.area();
    let Some(screen) = layout::screen(area, state) else {
        let msg = format!(
            "Terminal too small: {}×{}. opsconsole needs at least {}×{} — enlarge the window (q quits).",
            area.width, area.height, MIN_WIDTH, MIN_HEIGHT
        );
        frame.render_widget(
            Paragraph::new(msg)
                .style(theme.style(StyleName::Warning))
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    };
    // The chart covers the panes: nothing under it is drawn.
    if matches!(state.popup, Some(crate::state::Popup::Chart { .. })) {
        status::draw(frame, screen.bottom, &ctx);
        popups::draw(frame, area, &ctx);
        return;
    }
    // Zoomed, the other panes are empty rectangles: not drawn (their data still updates).
    let shown = |r: Rect| r.width > 0 && r.height > 0;
    if shown(screen.members) {
        members::draw(frame, screen.members, &ctx);
    }
    if shown(screen.checks) {
        checks::draw(frame, screen.checks, &ctx);
    }
    if shown(screen.metrics) {
        metrics::draw(frame, screen.metrics, &ctx);
    }
    if shown(screen.logs) {
        logs::draw(frame, screen.logs, &ctx);
    }
    status::draw(frame, screen.bottom, &ctx);
    popups::draw(frame, area, &ctx);
}

/// The block every pane uses: focus and per-cluster accent decide the border.
/// A pane's frame; the title is cut to the pane's width with "…" when it does not fit.
pub fn pane_block<'a>(ctx: &Ctx, pane: Pane, area: Rect, title: Line<'a>) -> paint::PaneFrame<'a> {
    let focused = ctx.state.focus == pane && ctx.state.popup.is_none();
    paint::PaneFrame {
        border: ctx.theme.border(focused),
        title: fmt::fit_line(title, area.width.saturating_sub(2) as usize),
        title_style: ctx.theme.style(StyleName::Title),
    }
}

pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2)).max(1);
    let h = height.min(area.height.saturating_sub(2)).max(1);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// `scope: api-14` for every pane title: the same scope, named the same way, everywhere.
pub fn scope_span(ctx: &Ctx) -> Option<ratatui::text::Span<'static>> {
    let label = ctx.state.scope_label()?;
    Some(ratatui::text::Span::styled(
        format!("scope: {label} "),
        ctx.theme.style(StyleName::Highlight),
    ))
}

/// `STALE 12s` for a pane title when the pane's source is not live: the age of what it shows.
/// The time cursor's note for `pane` (`at 14:02:00 · rev 5120`, `LIVE (not at 14:02:00)`) while
/// it is set: no pane's past is read as now, nor its present as the past.
pub fn at_span(ctx: &Ctx, pane: crate::state::Pane) -> Option<ratatui::text::Span<'static>> {
    let note = crate::state::time_cursor::pane_note(ctx.state, pane)?;
    Some(ratatui::text::Span::styled(
        format!(" {note} "),
        ctx.theme.style(StyleName::Danger),
    ))
}

pub fn stale_span(
    ctx: &Ctx,
    source: crate::model::SourceKind,
) -> Option<ratatui::text::Span<'static>> {
    let st = ctx.state;
    if st.merged() {
        // Each cluster's sources run on their own: name the ones whose data is old.
        let stale: Vec<String> = st
            .cluster_ids()
            .filter_map(|c| {
                st.stale_in(c, source).map(|age| {
                    format!(
                        "{} {}",
                        st.cluster_name(c),
                        crate::model::format::duration_short(age.num_seconds())
                    )
                })
            })
            .collect();
        if stale.is_empty() {
            return None;
        }
        return Some(ratatui::text::Span::styled(
            format!(" STALE {} ", stale.join(", ")),
            ctx.theme.style(StyleName::Warning),
        ));
    }
    let age = st.stale_for(source)?;
    Some(ratatui::text::Span::styled(
        format!(
            " STALE {} ",
            crate::model::format::duration_short(age.num_seconds())
        ),
        ctx.theme.style(StyleName::Warning),
    ))
}

pub fn muted(ctx: &Ctx) -> Style {
    ctx.theme.style(StyleName::Muted)
}

/// A name from a backend (entity, check, label, silence matcher) as spans: its text in `style`,
/// and each character removed for display as its visible stand-in (`␛`) in the theme's `escaped`
/// style, so a crafted name never looks like a clean one.
pub fn visible_spans<'a>(ctx: &Ctx, text: &'a str, style: Style) -> Vec<Span<'a>> {
    crate::model::text::visible_pieces(text)
        .into_iter()
        .map(|piece| match piece {
            Visible::Plain(s) => Span::styled(s, style),
            Visible::Escape(e) => Span::styled(e, ctx.theme.style(StyleName::Escaped)),
        })
        .collect()
}

/// A text field as spans, `width` columns at most: the text scrolled so the cursor stays in
/// view, and — when the field has the focus — the cursor drawn as a block on its character.
/// Anything a backend or a paste could have put there is shown, never obeyed.
pub fn field_spans(
    ctx: &Ctx,
    field: &crate::state::field::TextField,
    width: usize,
    style: Style,
    focused: bool,
) -> Vec<Span<'static>> {
    let text = crate::model::text::sanitize(field.text()).into_owned();
    let (cursor_col, scroll) = field.view(width);
    // Columns → characters (the text is sanitised, so one char is at most two columns).
    let mut shown = String::new();
    let mut col = 0;
    let mut before = String::new();
    let mut at: Option<char> = None;
    let mut after = String::new();
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if col < scroll {
            col += w;
            continue;
        }
        let rel = col - scroll;
        if rel + w > width {
            break;
        }
        if rel < cursor_col {
            before.push(c);
        } else if rel == cursor_col && at.is_none() {
            at = Some(c);
        } else {
            after.push(c);
        }
        shown.push(c);
        col += w;
    }
    if !focused {
        return vec![Span::styled(shown, style)];
    }
    if field.is_selected() {
        // Selected: typing replaces it (drawn reversed, the cursor after it).
        return vec![
            Span::styled(
                shown,
                style.add_modifier(ratatui::style::Modifier::REVERSED),
            ),
            Span::styled("█", ctx.theme.style(StyleName::Muted)),
        ];
    }
    let cursor_style = ctx
        .theme
        .style(StyleName::Muted)
        .add_modifier(ratatui::style::Modifier::REVERSED);
    vec![
        Span::styled(before, style),
        match at {
            Some(c) => Span::styled(c.to_string(), cursor_style),
            None => Span::styled("█", ctx.theme.style(StyleName::Muted)),
        },
        Span::styled(after, style),
    ]
}

/// A backend's error as one short line for a pane (`etcd 127.0.0.1:2379 refused the
/// connection`); the whole chain is in the log file.
pub fn short_error(kind: &str, chain: &str) -> String {
    crate::model::human_error(kind, chain)
}

/// Why a source failed for good, as a pane says it: a short reason as it is (`internal error`),
/// a chain as one human line.
pub fn short_failure(kind: &str, why: &str) -> String {
    if why.chars().count() <= 60 && !why.contains(": ") {
        crate::model::text::sanitize(why).into_owned()
    } else {
        short_error(kind, why)
    }
}

/// A pane title from parts of different importance (0 = must stay): when the pane is too narrow
/// the least important parts go first, whole; only then is what remains cut with `…`.
pub fn title_parts(parts: Vec<(u8, Span<'static>)>, area: Rect) -> Line<'static> {
    let width = area.width.saturating_sub(2) as usize;
    let mut parts = parts;
    let total = |p: &[(u8, Span)]| p.iter().map(|(_, s)| s.width()).sum::<usize>();
    while total(&parts) > width {
        let Some(max) = parts.iter().map(|(p, _)| *p).filter(|p| *p > 0).max() else {
            break;
        };
        // Drop the last part of the least importance first.
        if let Some(i) = parts.iter().rposition(|(p, _)| *p == max) {
            parts.remove(i);
        }
    }
    Line::from(parts.into_iter().map(|(_, s)| s).collect::<Vec<_>>())
}

//! Recently resolved checks after the live rows of the checks pane: dimmed, with how long ago
//! they resolved and the status they had (`✓ 5m ago web-1 HighLatency was CRIT`). The cursor
//! moves on from the live rows into them; Enter shows when one resolved and what it last said;
//! `R` (`:resolved`) hides them. Nothing acts on them: they are gone from the backend.

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, muted, Ctx};
use crate::model::format::{duration_short, timestamp};
use crate::model::status_label;
use crate::model::text::{first_line, fit, visible};
use crate::state::resolved::Resolved;
use crate::theme::StyleName;

/// The heading over them.
pub const HEADING: &str = "recently resolved (the last hour, from this console's polls)";

/// `3 resolved <1h` for the title, when there are any in view; `[no resolved]` while hidden.
pub fn title_span(ctx: &Ctx) -> Option<Span<'static>> {
    let c = &ctx.state.checks;
    if c.hide_resolved {
        return Some(Span::styled("[no resolved] ", muted(ctx)));
    }
    let n = c.resolved_rows().count();
    (n > 0).then(|| Span::styled(format!("{n} resolved <1h "), muted(ctx)))
}

fn row_text(x: &Resolved, now: DateTime<Utc>) -> String {
    let r = &x.last;
    let entity = if r.entity.is_empty() { "-" } else { &r.entity };
    format!(
        "✓ {:>6} ago  {}  {}  was {}: {}",
        duration_short((now - x.at).num_seconds()),
        visible(entity),
        visible(&r.check),
        status_label(r.status),
        first_line(&r.output)
    )
}

/// Draws them in `area`: the heading first when `heading`, then the rows from the `first`-th,
/// the `selected`-th (if any) with the cursor's style.
pub fn draw(
    frame: &mut Frame,
    area: Rect,
    ctx: &Ctx,
    heading: bool,
    first: usize,
    selected: Option<usize>,
) {
    if area.height == 0 {
        return;
    }
    let width = area.width as usize;
    let mut lines = Vec::new();
    if heading {
        lines.push(Line::from(Span::styled(fit(HEADING, width), muted(ctx))));
    }
    let room = (area.height as usize).saturating_sub(lines.len());
    let focused = ctx.state.focus == crate::state::Pane::Checks;
    for (i, x) in ctx
        .state
        .checks
        .resolved_rows()
        .enumerate()
        .skip(first)
        .take(room)
    {
        let style = if Some(i) == selected {
            ctx.theme.cursor(focused)
        } else {
            muted(ctx)
        };
        lines.push(Line::from(Span::styled(
            fit(&row_text(x, ctx.state.now), width),
            style,
        )));
    }
    super::paint::lines(frame.buffer_mut(), area, &lines);
}

/// Enter on a resolved row: when it resolved, what it was and last said, its labels.
pub fn detail(frame: &mut Frame, area: Rect, ctx: &Ctx, x: &Resolved, scroll: usize) {
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    let st = ctx.state;
    let r = &x.last;
    let kv = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<12}"), ctx.theme.style(StyleName::Key)),
            Span::raw(v),
        ])
    };
    let head = |s: &str| {
        Line::from(Span::styled(
            s.to_string(),
            ctx.theme.style(StyleName::Header),
        ))
    };
    let mut lines = vec![
        kv(
            "entity",
            visible(if r.entity.is_empty() { "-" } else { &r.entity }).into_owned(),
        ),
        kv("check", visible(&r.check).into_owned()),
        kv(
            "resolved",
            format!(
                "{} ({} ago) — first poll that saw it OK or gone",
                timestamp(x.at, st.zone),
                duration_short((st.now - x.at).num_seconds())
            ),
        ),
        kv(
            "was",
            format!(
                "{}{}",
                status_label(r.status),
                r.since
                    .map(|t| format!(" since {}", timestamp(t, st.zone)))
                    .unwrap_or_default()
            ),
        ),
        Line::default(),
        head("last output"),
    ];
    for l in r.output.lines().take(50) {
        lines.push(Line::from(format!("  {}", visible(l))));
    }
    if !r.labels.is_empty() {
        lines.push(Line::default());
        lines.push(head("labels"));
        for (k, v) in &r.labels {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("  {}=", visible(k)),
                    ctx.theme.style(StyleName::Key),
                ),
                Span::raw(visible(v).into_owned()),
            ]));
        }
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "kept by this console from its polls for an hour; nothing to act on — it is gone",
        muted(ctx),
    )));
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Resolved check — Esc closes ")
        .border_style(ctx.theme.style(StyleName::PopupBorder))
        .style(ctx.theme.style(StyleName::Popup));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(500) as u16, 0)),
        rect,
    );
}

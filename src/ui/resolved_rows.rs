//! Recently resolved checks under the live rows of the checks pane, where there is room: dimmed,
//! with how long ago they resolved and the status they had (`✓ 5m ago web-1 HighLatency was
//! CRIT`). They are not rows of the table — nothing to select or act on; they are gone.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::{muted, Ctx};
use crate::model::format::duration_short;
use crate::model::status_label;
use crate::model::text::{first_line, fit, visible};
use crate::state::resolved::Resolved;

fn in_view<'a>(ctx: &'a Ctx) -> impl Iterator<Item = &'a Resolved> {
    let c = &ctx.state.checks;
    c.resolved
        .recent(ctx.state.now)
        .filter(move |x| c.scope.as_ref().is_none_or(|s| s.matches(&x.last.entity)))
}

/// `3 resolved <1h` for the title, when there are any.
pub fn title_span(ctx: &Ctx) -> Option<Span<'static>> {
    let n = in_view(ctx).count();
    (n > 0).then(|| Span::styled(format!("{n} resolved <1h "), muted(ctx)))
}

/// Draws them in `area` (the free lines under the table), a heading first; nothing when there
/// is no room for the heading and one row.
pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    if area.height < 2 {
        return;
    }
    let items: Vec<&Resolved> = in_view(ctx).collect();
    if items.is_empty() {
        return;
    }
    let width = area.width as usize;
    let mut lines = vec![Line::from(Span::styled(
        fit(
            "recently resolved (the last hour, from this console's polls)",
            width,
        ),
        muted(ctx),
    ))];
    for x in items.iter().take(area.height as usize - 1) {
        let r = &x.last;
        let entity = if r.entity.is_empty() { "-" } else { &r.entity };
        let text = format!(
            "✓ {:>6} ago  {}  {}  was {}: {}",
            duration_short((ctx.state.now - x.at).num_seconds()),
            visible(entity),
            visible(&r.check),
            status_label(r.status),
            first_line(&r.output)
        );
        lines.push(Line::from(Span::styled(fit(&text, width), muted(ctx))));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

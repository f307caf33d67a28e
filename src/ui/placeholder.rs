//! Panes whose source is not part of this build yet, or has no backend configured.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{muted, pane_block, Ctx};
use crate::state::Pane;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx, pane: Pane) {
    let (name, key, configured) = match pane {
        Pane::Checks => ("Checks", "checks", &ctx.state.backends.checks),
        Pane::Metrics => ("Metrics", "metrics", &ctx.state.backends.metrics),
        Pane::Logs => ("Logs", "logs", &ctx.state.backends.logs),
        Pane::Members => ("Members", "etcd", &None),
    };
    let text = match configured {
        None => vec![
            Line::from(Span::styled("not configured", muted(ctx))),
            Line::from(Span::styled(
                format!(
                    "add {key} = {{ kind = … }} to [clusters.{}]",
                    ctx.state.cluster
                ),
                muted(ctx),
            )),
        ],
        Some(kind) => vec![Line::from(Span::styled(
            format!("{key} backend \"{kind}\" is configured, but this build cannot read it yet"),
            muted(ctx),
        ))],
    };
    let block = pane_block(ctx, pane, Line::from(format!(" {name} ")));
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: true }),
        area,
    );
}

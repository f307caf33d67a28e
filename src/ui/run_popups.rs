//! Custom commands' popups: the argument list before a run (`:cmd`), a capture's output
//! (scrollable, searchable), the Tasks list.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::{centered, muted, Ctx};
use crate::action::Action;
use crate::keymap::Context;
use crate::model::format::duration_short;
use crate::model::text::sanitize;
use crate::state::run::{Output, Prepared};
use crate::theme::StyleName;

fn key(ctx: &Ctx, action: Action, default: &str) -> String {
    ctx.keymap
        .key_for(Context::Popup, action)
        .unwrap_or_else(|| default.into())
}

fn block<'a>(ctx: &Ctx, title: String, bottom: String) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .title_bottom(Line::from(bottom).right_aligned())
        .border_style(ctx.theme.style(StyleName::PopupBorder))
        .style(ctx.theme.style(StyleName::Popup))
}

pub fn preview(frame: &mut Frame, area: Rect, ctx: &Ctx, p: &Prepared) {
    let mut lines = super::confirm::run_lines(ctx, p);
    lines.push(Line::default());
    lines.push(Line::from(vec![
        Span::styled("  as a shell would read it: ", muted(ctx)),
        Span::raw(sanitize(&crate::model::run::shell_words(&p.argv)).into_owned()),
    ]));
    let h = (lines.len() as u16 + 2).min(area.height);
    let rect = centered(area, 100, h);
    let bottom = format!(
        " {} run · {} copy · {} cancel ",
        key(ctx, Action::Select, "enter"),
        key(ctx, Action::Copy, "y"),
        key(ctx, Action::Back, "esc")
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block(ctx, format!(" :cmd {} ", p.name), bottom))
            .wrap(ratatui::widgets::Wrap { trim: false }),
        rect,
    );
}

pub fn output(frame: &mut Frame, area: Rect, ctx: &Ctx, out: &Output) {
    // From the top: the two bottom rows stay visible (the search prompt, messages).
    let rect = Rect {
        x: area.x + 2.min(area.width / 4),
        y: area.y + 1.min(area.height / 4),
        width: area.width.saturating_sub(4).max(1),
        height: area.height.saturating_sub(3).max(1),
    };
    let visible = rect.height.saturating_sub(2) as usize;
    let max = out.lines.len().saturating_sub(visible);
    let scroll = out.scroll.min(max);
    let needle = out.search.as_ref().map(|s| s.to_lowercase());
    let lines: Vec<Line> = out
        .lines
        .iter()
        .skip(scroll)
        .take(visible)
        .map(|l| match &needle {
            Some(n) if l.to_lowercase().contains(n.as_str()) => Line::from(Span::styled(
                l.clone(),
                ctx.theme.style(StyleName::Highlight),
            )),
            _ => Line::from(l.clone()),
        })
        .collect();
    let last = (scroll + visible).min(out.lines.len());
    let mut title = format!(" {} — {} ", out.name, out.status);
    if out.truncated {
        title.push_str("(output cut at 1 MiB) ");
    }
    let search = match &out.search {
        Some(s) => format!("\"{s}\" {} matches · ", out.matches.len()),
        None => String::new(),
    };
    let bottom = format!(
        " {search}lines {}–{last} of {} · {} search · {}/{} next/prev · {} copy · {} close ",
        scroll + 1,
        out.lines.len(),
        key(ctx, Action::Filter, "/"),
        key(ctx, Action::NextMatch, "n"),
        key(ctx, Action::PrevMatch, "N"),
        key(ctx, Action::Copy, "y"),
        key(ctx, Action::Back, "esc"),
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(Paragraph::new(lines).block(block(ctx, title, bottom)), rect);
}

pub fn tasks(frame: &mut Frame, area: Rect, ctx: &Ctx, index: usize) {
    let state = ctx.state;
    let mut lines = Vec::new();
    if state.tasks.is_empty() {
        lines.push(Line::from(Span::styled(
            "  no custom command runs in the background",
            muted(ctx),
        )));
    }
    for (i, t) in state.tasks.iter().enumerate() {
        let style = if i == index {
            ctx.theme.style(StyleName::Selected)
        } else {
            ctx.theme.style(StyleName::Text)
        };
        let age = duration_short((state.now - t.started).num_seconds().max(0));
        lines.push(Line::from(Span::styled(
            sanitize(&format!(
                "  {}  pid {}  {age}  {}",
                t.name,
                t.pid,
                crate::model::run::shell_words(&t.argv)
            ))
            .into_owned(),
            style,
        )));
    }
    let h = (lines.len() as u16 + 2).clamp(4, area.height);
    let rect = centered(area, 100, h);
    let bottom = format!(
        " {} kill · {} close — all are killed when the console exits ",
        key(ctx, Action::KillTask, "x"),
        key(ctx, Action::Back, "esc")
    );
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(block(
            ctx,
            format!(" Tasks ({}) ", state.tasks.len()),
            bottom,
        )),
        rect,
    );
}

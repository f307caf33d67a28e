//! The bottom bar: cluster badge, read-only badge, each source's health, the last message, hints.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::Ctx;
use crate::action::Action;
use crate::model::format::duration_short;
use crate::model::text::fit;
use crate::model::{text::visible, Health};
use crate::state::{InputKind, Level};
use crate::theme::StyleName;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let (message_area, bar_area) = if area.height >= 2 {
        let [a, b] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
        (Some(a), b)
    } else {
        (None, area)
    };

    if let Some(a) = message_area {
        let line = if let Some(input) = &st.input {
            let prompt = match input.kind {
                InputKind::Filter => "/",
                InputKind::Command => ":",
                InputKind::TimeJump => "go to time (14:02, -15m): ",
            };
            const HINT: &str = "   Enter apply · Esc cancel";
            let width = (a.width as usize).saturating_sub(1 + HINT.len());
            let mut spans = vec![Span::styled(prompt, ctx.theme.style(StyleName::Key))];
            spans.extend(super::field_spans(
                ctx,
                &input.field,
                width,
                ratatui::style::Style::default(),
                true,
            ));
            spans.push(Span::styled(HINT, ctx.theme.style(StyleName::Muted)));
            Line::from(spans)
        } else if let Some(s) = &st.status {
            let style = match s.level {
                Level::Info => ctx.theme.style(StyleName::Text),
                Level::Warn => ctx.theme.style(StyleName::Warning),
                Level::Error => ctx.theme.style(StyleName::Error),
            };
            // Messages may quote a backend's names; whatever they carry is shown, not obeyed.
            Line::from(Span::styled(
                fit(&visible(&s.text), a.width as usize),
                style,
            ))
        } else if let Some(problem) = &st.audit_problem {
            // Stays until the log can be written: it is why every change is refused.
            Line::from(Span::styled(
                fit(problem, a.width as usize),
                ctx.theme.style(StyleName::Error),
            ))
        } else {
            Line::default()
        };
        frame.render_widget(Paragraph::new(line), a);
    }

    let mut spans = vec![Span::styled(
        format!(" {} ", st.cluster),
        ctx.theme.style(StyleName::Cluster),
    )];
    if st.demo {
        spans.push(Span::styled(" DEMO ", ctx.theme.style(StyleName::Readonly)));
    }
    if st.readonly {
        spans.push(Span::styled(
            " READONLY ",
            ctx.theme.style(StyleName::Readonly),
        ));
    }
    if st.audit_problem.is_some() {
        spans.push(Span::styled(
            " AUDIT LOG UNWRITABLE ",
            ctx.theme.style(StyleName::Danger),
        ));
    }
    for (source, health) in &st.health {
        let (dot, word) = match health {
            Health::NotConfigured => ("○", "off".to_string()),
            Health::Connecting => ("◌", "connecting".to_string()),
            Health::Live => ("●", "live".to_string()),
            Health::Retrying { at, .. } => (
                "◍",
                format!(
                    "retry {}",
                    duration_short((*at - st.now).num_seconds().max(0))
                ),
            ),
            Health::Failed(_) => ("✖", "failed".to_string()),
        };
        spans.push(Span::raw(" "));
        spans.push(Span::raw(format!("{} ", source.label())));
        spans.push(Span::styled(
            format!("{dot} {word}"),
            ctx.theme.health(health),
        ));
    }
    spans.push(Span::raw("   "));
    let ctx_keys = st.focus.context();
    for (action, label) in [
        (Action::NextPane, "pane"),
        (Action::Filter, "filter"),
        (Action::Detail, "detail"),
        (Action::Deregister, "deregister"),
        (Action::Silence, "silence"),
        (Action::Unsilence, "unsilence"),
        (Action::Help, "help"),
        (Action::Quit, "quit"),
    ] {
        // A read-only session does not advertise keys it will refuse.
        if st.readonly && action.is_mutating() {
            continue;
        }
        if let Some(k) = ctx.keymap.key_for(ctx_keys, action) {
            spans.push(Span::styled(
                format!("[{k}]"),
                ctx.theme.style(StyleName::Key),
            ));
            spans.push(Span::raw(format!(" {label} ")));
        }
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).style(ctx.theme.style(StyleName::StatusBar)),
        bar_area,
    );
}

//! The log tail: time, host, program, severity, message; follow mode, filter highlight, wrap,
//! and the dropped-lines counter. Only the lines on screen are formatted.

use chrono::Local;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{muted, pane_block, Ctx};
use crate::model::format::duration_short;
use crate::model::text::fit;
use crate::model::{Health, LogLine, Severity, SourceKind, SEVERITY_NAMES};
use crate::state::Pane;
use crate::theme::StyleName;

fn severity_style(ctx: &Ctx, sev: Option<u8>) -> Style {
    ctx.theme.severity(match sev {
        Some(0..=3) => Severity::Critical,
        Some(4) => Severity::Warning,
        Some(5..=7) => Severity::Ok,
        _ => Severity::Unknown,
    })
}

/// Message spans with every filter match highlighted.
fn highlighted<'a>(ctx: &Ctx, msg: &'a str) -> Vec<Span<'a>> {
    let Some(f) = &ctx.state.logs.filter else {
        return vec![Span::raw(msg)];
    };
    if f.inverted {
        return vec![Span::raw(msg)];
    }
    let mut spans = Vec::new();
    let mut last = 0;
    for m in f.regex.find_iter(msg).take(32) {
        if m.start() > last {
            spans.push(Span::raw(&msg[last..m.start()]));
        }
        if m.end() > m.start() {
            spans.push(Span::styled(
                &msg[m.start()..m.end()],
                ctx.theme.style(StyleName::Highlight),
            ));
        }
        last = m.end();
    }
    spans.push(Span::raw(&msg[last..]));
    spans
}

fn line<'a>(ctx: &Ctx, l: &'a LogLine, selected: bool) -> Line<'a> {
    let time = match l.time {
        Some(t) if ctx.state.utc => t.format("%H:%M:%S").to_string(),
        Some(t) => t.with_timezone(&Local).format("%H:%M:%S").to_string(),
        None => "--:--:--".into(),
    };
    let sev = l
        .severity
        .map(|s| SEVERITY_NAMES[s as usize])
        .unwrap_or("?");
    let mut spans = vec![
        Span::styled(format!("{time} "), muted(ctx)),
        Span::raw(format!("{:<12} ", fit(&l.host, 12))),
        Span::styled(
            format!("{:<10} ", fit(&l.program, 10)),
            ctx.theme.style(StyleName::Header),
        ),
        Span::styled(
            format!("{:<7} ", fit(sev, 7)),
            severity_style(ctx, l.severity),
        ),
    ];
    spans.extend(highlighted(ctx, &l.message));
    let mut line = Line::from(spans);
    if selected {
        line = line.style(ctx.theme.style(StyleName::Selected));
    }
    line
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let logs = &st.logs;
    let kind = st.backends.logs.clone().unwrap_or_default();
    let mut title = vec![Span::raw(if kind.is_empty() {
        " Logs ".to_string()
    } else {
        format!(" Logs ({kind}) ")
    })];
    title.push(if logs.follow {
        Span::styled("follow ", ctx.theme.style(StyleName::Ok))
    } else {
        Span::styled(
            format!(
                "PAUSED{} ",
                if logs.unseen > 0 {
                    format!(", {} new", logs.unseen)
                } else {
                    String::new()
                }
            ),
            ctx.theme.style(StyleName::Warning),
        )
    });
    if let Some(s) = logs.min_severity {
        title.push(Span::styled(
            format!("≤{} ", SEVERITY_NAMES[s as usize]),
            muted(ctx),
        ));
    }
    title.extend(super::scope_span(ctx));
    if let Some(f) = &logs.filter {
        title.push(Span::styled(
            format!("/{}/ {} ", fit(&f.text, 20), logs.match_count()),
            ctx.theme.style(StyleName::Highlight),
        ));
    }
    if logs.dropped > 0 {
        title.push(Span::styled(
            format!("{} dropped (buffer {}) ", logs.dropped, logs.capacity()),
            ctx.theme.style(StyleName::Warning),
        ));
    }
    title.extend(super::stale_span(ctx, SourceKind::Logs));
    let block = pane_block(ctx, Pane::Logs, area, Line::from(title));
    let mut inner = block.inner(area);
    frame.render_widget(block, area);
    if kind.is_empty() {
        frame.render_widget(
            Paragraph::new(format!(
                "not configured — add logs = {{ kind = \"redis\", url = \"redis://…\", channel = \"syslog\" }} (or elasticsearch, loki) to [clusters.{}]",
                st.cluster
            ))
            .style(muted(ctx))
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let problem = match st.health_of(SourceKind::Logs) {
        Some(Health::Retrying { at, attempt, error }) => Some(format!(
            "{} — retry #{attempt} in {}",
            fit(error, 300),
            duration_short((*at - st.now).num_seconds().max(0))
        )),
        Some(Health::Failed(e)) => Some(format!("logs source failed: {e}")),
        _ => None,
    };
    if let Some(p) = problem {
        frame.render_widget(
            Paragraph::new(p).style(ctx.theme.style(StyleName::Warning)),
            Rect { height: 1, ..inner },
        );
        inner.y += 1;
        inner.height = inner.height.saturating_sub(1);
    }
    if logs.is_empty() {
        frame.render_widget(
            Paragraph::new("waiting for log lines …").style(muted(ctx)),
            inner,
        );
        return;
    }
    if logs.match_count() == 0 {
        frame.render_widget(
            Paragraph::new(format!(
                "no line matches ({} buffered) — Esc clears the filter",
                logs.len()
            ))
            .style(muted(ctx)),
            inner,
        );
        return;
    }
    // The lines on screen are the reducer's (`Logs::fit`, from the layout's rows).
    let focused = st.focus == Pane::Logs;
    let mut lines: Vec<Line> = logs
        .visible()
        .map(|(l, selected)| line(ctx, l, focused && selected))
        .collect();
    let p = if logs.wrap {
        // Wrapped lines take more rows. Following, the newest stay at the bottom; paused, the
        // first lines give way until the selected one fits.
        let w = inner.width.max(1) as usize;
        let height = |l: &Line| l.width().max(1).div_ceil(w);
        let rows = inner.height as usize;
        let scroll = if logs.follow {
            lines.iter().map(height).sum::<usize>().saturating_sub(rows)
        } else {
            let selected = logs
                .selected_index()
                .and_then(|i| i.checked_sub(logs.view.offset()));
            if let Some(mut sel) = selected.filter(|s| *s < lines.len()) {
                while sel > 0 && lines[..=sel].iter().map(height).sum::<usize>() > rows {
                    lines.remove(0);
                    sel -= 1;
                }
            }
            0
        };
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0))
    } else {
        Paragraph::new(lines)
    };
    frame.render_widget(p, inner);
}

//! The metrics chart: the chosen series of the metrics pane over its window, in braille, with a
//! time axis in local time (UTC with `--utc`), a value axis with the unit, gaps left as gaps, and
//! min / max / last of each series. What the one-row sparkline only hints at.

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CanvasLine, Points};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::layout::{chart_area, CHART_Y_LABELS};
use super::metrics::human;
use super::{muted, Ctx};
use crate::action::Action;
use crate::keymap::Context;
use crate::model::text::fit;
use crate::model::Series;
use crate::theme::StyleName;

/// Runs of points without gaps, as (x, y) with x in unix seconds: one line each, so a gap stays
/// a gap instead of a line drawn across it.
fn runs(s: &Series, start: f64, end: f64) -> Vec<Vec<(f64, f64)>> {
    let n = s.points.len().max(1);
    let step = (end - start) / n as f64;
    let mut out = Vec::new();
    let mut run = Vec::new();
    for (i, p) in s.points.iter().enumerate() {
        match p {
            Some(v) if v.is_finite() => run.push((start + (i as f64 + 1.0) * step, *v)),
            _ => {
                if !run.is_empty() {
                    out.push(std::mem::take(&mut run));
                }
            }
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

fn clock(t: DateTime<Utc>, zone: crate::model::DisplayZone) -> String {
    zone.clock(t, "%H:%M")
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx, names: &[String]) {
    let st = ctx.state;
    let m = &st.metrics;
    let rect = chart_area(area);
    frame.render_widget(Clear, rect);
    let close = ctx
        .keymap
        .key_for(Context::Chart, Action::Back)
        .unwrap_or_else(|| "esc".into());
    let window_key = ctx
        .keymap
        .key_for(Context::Chart, Action::NextWindow)
        .unwrap_or_else(|| "w".into());
    let scope = st
        .scope_label()
        .unwrap_or_else(|| format!("cluster {}", st.cluster));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(ctx.theme.style(StyleName::PopupBorder))
        .style(ctx.theme.style(StyleName::Popup))
        .title(Line::from(vec![
            Span::styled(
                format!(" {} — {scope} ", names.join(", ")),
                ctx.theme.style(StyleName::Title),
            ),
            Span::styled(
                format!(
                    "[{}] {window_key} window · {close} closes ",
                    m.window().label()
                ),
                muted(ctx),
            ),
        ]));
    let series: Vec<&Series> = m
        .result
        .iter()
        .flat_map(|r| r.series.iter())
        .filter_map(|s| s.as_ref().ok())
        .filter(|s| names.contains(&s.name))
        .collect();
    // At the time cursor's moment the window ends there (the query says so), not at the answer.
    let at = m.result.as_ref().and_then(|r| r.query.end);
    let Some(end_t) = at.or(m.last_update).filter(|_| !series.is_empty()) else {
        frame.render_widget(
            Paragraph::new("waiting for the series …")
                .style(muted(ctx))
                .block(block),
            rect,
        );
        return;
    };
    let end = end_t.timestamp() as f64;
    let start = end - m.window().secs() as f64;
    let data: Vec<Vec<Vec<(f64, f64)>>> = series.iter().map(|s| runs(s, start, end)).collect();
    let (lo, hi) = data
        .iter()
        .flatten()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, y)| {
            (lo.min(*y), hi.max(*y))
        });
    let (lo, hi) = if lo.is_finite() {
        let pad = ((hi - lo) * 0.05).max(hi.abs() * 0.01).max(1e-9);
        // Values that never go below zero get an axis that does not either.
        let floor = if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY };
        ((lo - pad).max(floor), hi + pad)
    } else {
        (0.0, 1.0)
    };
    let unit = match series.as_slice() {
        [first, rest @ ..] if rest.iter().all(|s| s.unit == first.unit) => first.unit.clone(),
        _ => String::new(),
    };
    let t = |secs: f64| {
        DateTime::<Utc>::from_timestamp(secs as i64, 0)
            .map(|t| clock(t, st.zone))
            .unwrap_or_default()
    };
    let y_label = |v: f64| format!("{}{unit}", human(v));
    let stats: Vec<Span> = series
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            let f = |v: Option<f64>| {
                v.map(|v| format!("{}{}", human(v), s.unit))
                    .unwrap_or("-".into())
            };
            [
                Span::styled(format!(" ■ {} ", s.name), ctx.theme.series(i)),
                Span::styled(
                    format!("min {} max {} last {} ", f(s.min), f(s.max), f(s.last)),
                    muted(ctx),
                ),
            ]
        })
        .collect();
    let block = block.title_bottom(Line::from(stats));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if inner.width <= CHART_Y_LABELS + 2 || inner.height < 3 {
        return;
    }
    // The value axis on the left (labels, a rule), the time axis below (a rule, labels).
    let axis = muted(ctx);
    let plot = Rect {
        x: inner.x + CHART_Y_LABELS + 1,
        y: inner.y,
        width: inner.width - CHART_Y_LABELS - 1,
        height: inner.height - 2,
    };
    let buf = frame.buffer_mut();
    for (row, v) in [
        (plot.y, hi),
        (plot.y + plot.height / 2, (lo + hi) / 2.0),
        (plot.y + plot.height.saturating_sub(1), lo),
    ] {
        let text = fit(&y_label(v), CHART_Y_LABELS as usize);
        let w = unicode_width::UnicodeWidthStr::width(text.as_str()) as u16;
        buf.set_string(inner.x + CHART_Y_LABELS - w, row, &text, axis);
    }
    for y in plot.y..plot.y + plot.height {
        buf.set_string(plot.x - 1, y, "│", axis);
    }
    buf.set_string(plot.x - 1, plot.y + plot.height, "└", axis);
    buf.set_string(
        plot.x,
        plot.y + plot.height,
        "─".repeat(plot.width as usize),
        axis,
    );
    let labels_y = plot.y + plot.height + 1;
    let (left, mid, right) = (t(start), t((start + end) / 2.0), t(end));
    buf.set_string(plot.x, labels_y, &left, axis);
    buf.set_string(
        plot.x + plot.width / 2 - (mid.len() as u16 / 2).min(plot.width / 2),
        labels_y,
        &mid,
        axis,
    );
    let right = match at {
        Some(_) => format!("T {right}"),
        None => right,
    };
    let marker = ctx.theme.style(StyleName::Danger);
    buf.set_string(
        (plot.x + plot.width).saturating_sub(right.chars().count() as u16),
        labels_y,
        &right,
        if at.is_some() { marker } else { axis },
    );
    // The series: one layer each, a line through each run of points (a gap stays a gap).
    let colors: Vec<Color> = (0..series.len())
        .map(|i| ctx.theme.series(i).fg.unwrap_or(Color::Reset))
        .collect();
    let canvas = Canvas::default()
        .marker(Marker::Braille)
        .x_bounds([start, end])
        .y_bounds([lo, hi])
        .paint(|c| {
            for (runs, color) in data.iter().zip(&colors) {
                for run in runs {
                    if let [only] = run.as_slice() {
                        c.draw(&Points {
                            coords: &[*only],
                            color: *color,
                        });
                    }
                    for w in run.windows(2) {
                        c.draw(&CanvasLine::new(w[0].0, w[0].1, w[1].0, w[1].1, *color));
                    }
                }
                c.layer();
            }
        });
    frame.render_widget(canvas, plot);
    if at.is_some() {
        // The marker at T: the plot's last column, where no point was drawn.
        let x = plot.x + plot.width - 1;
        let buf = frame.buffer_mut();
        for y in plot.y..plot.y + plot.height {
            if matches!(buf[(x, y)].symbol(), " " | "\u{2800}") {
                buf.set_string(x, y, "┊", marker);
            }
        }
    }
}

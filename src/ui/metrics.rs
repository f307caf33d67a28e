//! Sparklines: one row per series — name, sparkline over the window (gaps stay blank), current
//! value with unit, min/max.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::{muted, pane_block, Ctx};
use crate::model::format::duration_short;
use crate::model::text::fit;
use crate::model::{Health, SourceKind};
use crate::state::Pane;
use crate::theme::StyleName;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
use super::layout::{
    METRIC_NAME_W as NAME_W, METRIC_RANGE_W as RANGE_W, METRIC_VALUE_W as VALUE_W,
};

/// Block characters scaled between the series' min and max; `None` is a blank (a gap, not zero).
pub fn sparkline(points: &[Option<f64>]) -> String {
    let finite = points.iter().flatten().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
        (lo.min(v), hi.max(v))
    });
    points
        .iter()
        .map(|p| match p {
            Some(v) if v.is_finite() => {
                if hi - lo < 1e-12 {
                    BARS[3]
                } else {
                    let i = (((v - lo) / (hi - lo)) * 7.0).round() as usize;
                    BARS[i.min(7)]
                }
            }
            _ => ' ',
        })
        .collect()
}

/// 812, 1.2k, 3.4M, 0.25 — compact numbers that fit a column.
pub fn human(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        return "-".into();
    }
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let m = &st.metrics;
    let kind = st.backends.metrics.clone().unwrap_or_default();
    let mut title = match super::scope_span(ctx) {
        Some(scope) => vec![Span::raw(" Metrics "), scope],
        None => vec![Span::raw(format!(" Metrics: cluster {} ", st.cluster))],
    };
    title.push(Span::styled(
        format!("[{}] ", m.window().label()),
        muted(ctx),
    ));
    let health = st.health_of(SourceKind::Metrics);
    title.extend(super::stale_span(ctx, SourceKind::Metrics));
    let block = pane_block(ctx, Pane::Metrics, area, Line::from(title));
    let mut inner = block.inner(area);
    frame.render_widget(block, area);
    let spark_w = st.metrics.width.max(1);

    if kind.is_empty() {
        let msg = format!(
            "not configured — add metrics = {{ kind = \"graphite\" | \"prometheus\", url = …, series = [{{ name = \"cpu\", target = \"stats.gauges.{{instance}}.cpu\" }}] }} to [clusters.{}]",
            st.cluster
        );
        frame.render_widget(
            Paragraph::new(msg)
                .style(muted(ctx))
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    if let Some(problem) = match health {
        Some(Health::Retrying { at, attempt, error }) => Some(format!(
            "{} — retry #{attempt} in {}",
            fit(error, 300),
            duration_short((*at - st.now).num_seconds().max(0))
        )),
        Some(Health::Failed(e)) => Some(format!("metrics source failed: {e}")),
        _ => None,
    } {
        let h = if m.result.is_some() { 1 } else { inner.height };
        frame.render_widget(
            Paragraph::new(problem)
                .style(ctx.theme.style(StyleName::Warning))
                .wrap(Wrap { trim: true }),
            Rect {
                height: h.min(inner.height),
                ..inner
            },
        );
        if m.result.is_none() {
            return;
        }
        inner.y += 1;
        inner.height = inner.height.saturating_sub(1);
    }
    let Some(result) = &m.result else {
        frame.render_widget(
            Paragraph::new(format!("querying {kind} …")).style(muted(ctx)),
            inner,
        );
        return;
    };
    let rows = inner.height as usize;
    let first = m.selected.saturating_sub(rows.saturating_sub(1));
    let lines: Vec<Line> = result
        .series
        .iter()
        .enumerate()
        .skip(first)
        .take(rows)
        .map(|(i, s)| {
            let selected = i == m.selected && st.focus == Pane::Metrics;
            let name_style = if selected {
                ctx.theme.style(StyleName::Selected)
            } else {
                ctx.theme.style(StyleName::Header)
            };
            match s {
                Ok(s) => {
                    let mut pts = s.points.clone();
                    pts.resize(spark_w, None);
                    let value = s
                        .last
                        .map(|v| format!("{}{}", human(v), s.unit))
                        .unwrap_or_else(|| "no data".into());
                    let range = match (s.min, s.max) {
                        (Some(lo), Some(hi)) => format!("{}…{}", human(lo), human(hi)),
                        _ => String::new(),
                    };
                    Line::from(vec![
                        Span::styled(format!("{:<NAME_W$}", fit(&s.name, NAME_W - 1)), name_style),
                        Span::styled(sparkline(&pts), ctx.theme.style(StyleName::Ok)),
                        Span::raw(" "),
                        Span::styled(
                            format!("{:>VALUE_W$}", fit(&value, VALUE_W)),
                            Style::default(),
                        ),
                        Span::styled(format!(" {:<RANGE_W$}", fit(&range, RANGE_W)), muted(ctx)),
                    ])
                }
                Err(e) => Line::from(vec![
                    Span::styled(format!("{:<NAME_W$}", ""), name_style),
                    Span::styled(
                        fit(
                            &crate::model::text::sanitize(e),
                            spark_w + VALUE_W + RANGE_W,
                        ),
                        ctx.theme.style(StyleName::Warning),
                    ),
                ]),
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_and_keeps_gaps() {
        assert_eq!(sparkline(&[Some(0.0), None, Some(10.0), Some(5.0)]), "▁ █▅");
        assert_eq!(sparkline(&[Some(3.0), Some(3.0)]), "▄▄");
        assert_eq!(sparkline(&[None, Some(f64::NAN)]), "  ");
    }

    #[test]
    fn human_numbers() {
        assert_eq!(human(812.0), "812");
        assert_eq!(human(71.23), "71.2");
        assert_eq!(human(12_345.0), "12.3k");
        assert_eq!(human(0.256), "0.26");
        assert_eq!(human(f64::NAN), "-");
    }
}

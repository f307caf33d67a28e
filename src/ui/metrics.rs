//! Sparklines: one row per series — name, sparkline across all the width the pane has (gaps stay
//! blank), the current value and the range, both with the unit. Enter opens the chart
//! (`ui::chart`); series marked with Space share it.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::layout::{metric_columns, metric_name_width};
use super::{muted, pane_block, Ctx};
use crate::model::format::duration_short;
use crate::model::text::fit;
use crate::model::{Health, SourceKind};
use crate::state::Pane;
use crate::theme::StyleName;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

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

/// `points` shown in `width` columns: averaged when there are more (a chart asked for more),
/// padded with gaps when there are fewer (an answer for an older, narrower query).
pub fn resample(points: &[Option<f64>], width: usize) -> Vec<Option<f64>> {
    if points.len() <= width {
        let mut out = points.to_vec();
        out.resize(width, None);
        return out;
    }
    (0..width)
        .map(|i| {
            let a = i * points.len() / width;
            let b = ((i + 1) * points.len() / width).max(a + 1);
            let finite: Vec<f64> = points[a..b]
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            (!finite.is_empty()).then(|| finite.iter().sum::<f64>() / finite.len() as f64)
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
    let kind = st.backend_names(crate::model::SourceKind::Metrics);
    let mut title: Vec<(u8, Span<'static>)> = vec![(0, Span::raw(" Metrics "))];
    title.extend(super::at_span(ctx, crate::state::Pane::Metrics).map(|s| (0, s)));
    match super::scope_span(ctx) {
        Some(scope) => title.push((0, scope)),
        // A merged view's series are one cluster's: said where it cannot be cut off.
        // Nothing to say whose series they are when no cluster has any.
        None if st.merged() && kind.is_empty() => {}
        None if st.merged() => {
            let (whose, of) = crate::state::metrics::unscoped_title(st);
            title.push((0, Span::raw(format!("{whose} "))));
            title.extend(of.map(|of| (2, Span::raw(format!("{of} ")))));
        }
        None => title.push((1, Span::raw(format!("cluster {} ", st.cluster)))),
    }
    title.push((
        0,
        Span::styled(format!("[{}] ", m.window().label()), muted(ctx)),
    ));
    if !m.overlay.is_empty() {
        title.push((
            2,
            Span::styled(format!("◆{} in chart ", m.overlay.len()), muted(ctx)),
        ));
    }
    let health = crate::state::metrics::shown_health(st);
    title.extend(super::stale_span(ctx, SourceKind::Metrics).map(|s| (0, s)));
    let block = pane_block(ctx, Pane::Metrics, area, super::title_parts(title, area));
    let mut inner = block.inner(area);
    frame.render_widget(block, area);
    // The widths this frame has (the query asked for the layout's width when it was sent; the
    // points are resampled to what is here now).
    let cols = metric_columns(inner.width as usize, metric_name_width(st));
    let (name_w, value_w, range_w, spark_w) = (cols.name, cols.value, cols.range, cols.spark);

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
        Some(Health::Retrying { at, error, .. }) => Some(format!(
            "{} — retrying in {}",
            super::short_error(&kind, error),
            duration_short((*at - st.now).num_seconds().max(0))
        )),
        Some(Health::Failed(e)) => Some(format!(
            "metrics source failed: {}",
            super::short_failure(&kind, e)
        )),
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
            let selected = i == m.selected;
            let name_style = if selected {
                ctx.theme.cursor(st.focus == Pane::Metrics)
            } else {
                ctx.theme.style(StyleName::Header)
            };
            match s {
                Ok(s) => {
                    let pts = resample(&s.points, spark_w);
                    let value = s
                        .last
                        .map(|v| format!("{}{}", human(v), s.unit))
                        .unwrap_or_else(|| "no data".into());
                    let range = match (s.min, s.max) {
                        (Some(lo), Some(hi)) => {
                            format!("{}{u}…{}{u}", human(lo), human(hi), u = s.unit)
                        }
                        _ => String::new(),
                    };
                    let marker = if m.overlay.contains(&s.name) {
                        "◆"
                    } else {
                        " "
                    };
                    let mut spans = vec![
                        Span::styled(marker, ctx.theme.style(StyleName::Key)),
                        Span::styled(format!("{:<name_w$}", fit(&s.name, name_w)), name_style),
                        Span::raw(" "),
                        Span::styled(sparkline(&pts), ctx.theme.style(StyleName::Ok)),
                        Span::raw(" "),
                        Span::styled(
                            format!("{:>value_w$}", fit(&value, value_w)),
                            Style::default(),
                        ),
                    ];
                    if range_w > 0 {
                        spans.push(Span::styled(
                            format!(" {:<range_w$}", fit(&range, range_w)),
                            muted(ctx),
                        ));
                    }
                    Line::from(spans)
                }
                Err(e) => Line::from(vec![
                    Span::raw(" "),
                    Span::styled(format!("{:<name_w$}", ""), name_style),
                    Span::raw(" "),
                    Span::styled(
                        fit(
                            &crate::model::text::sanitize(e),
                            spark_w + value_w + range_w + 2,
                        ),
                        ctx.theme.style(StyleName::Warning),
                    ),
                ]),
            }
        })
        .collect();
    super::paint::lines(frame.buffer_mut(), inner, &lines);
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

    #[test]
    fn resampling_averages_keeps_gaps_and_pads() {
        let pts = [Some(1.0), Some(3.0), None, None, Some(5.0), None];
        assert_eq!(resample(&pts, 3), [Some(2.0), None, Some(5.0)]);
        assert_eq!(resample(&pts[..2], 3), [Some(1.0), Some(3.0), None]);
    }
}

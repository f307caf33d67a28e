//! The logs pane's histogram (`H`): a stacked bar per time bucket (crit at the bottom, then err,
//! warning, other — each class its own glyph, so it reads without colour), a count axis, a time
//! axis, the bucket size and the total; the top hosts and programs beside it (a wide pane) or
//! below it (80×24). Reads the counts the state keeps; counts nothing itself.

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::{muted, Ctx};
use crate::model::format::duration_short;
use crate::model::histogram::{span_label, ClassCounts, Term, CLASSES, CRIT, ERR, OTHER};
use crate::model::text::fit;
use crate::state::histogram::{HistFocus, HistView, AXIS_WIDTH, TERMS_WIDTH, WIDE};
use crate::theme::StyleName;

/// The glyph of each class ([`CLASSES`] order): severity reads without colour (NO_COLOR).
pub const GLYPHS: [char; 4] = ['█', '▓', '▒', '░'];

fn class_style(ctx: &Ctx, class: usize) -> Style {
    ctx.theme.style(match class {
        CRIT => StyleName::Critical,
        ERR => StyleName::Error,
        OTHER => StyleName::Text,
        _ => StyleName::Warning,
    })
}

/// `1234` → `1234`, `123456` → `123k`: counts in at most five columns.
fn compact(n: u64) -> String {
    match n {
        0..=99_999 => n.to_string(),
        100_000..=99_999_999 => format!("{}k", n / 1000),
        _ => format!("{}M", n / 1_000_000),
    }
}

/// `12,345`.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn clock(ctx: &Ctx, t: DateTime<Utc>) -> String {
    t.with_timezone(&ctx.state.logs.hist.zone)
        .format("%H:%M")
        .to_string()
}

/// How many of a bar's `h` cells each class gets: in proportion (largest remainder), and a crit or
/// err count never rounded away while the bar has a cell to spare.
fn cells(c: &ClassCounts, h: usize) -> [usize; 4] {
    let total: u64 = c.iter().sum();
    let mut out = [0usize; 4];
    if total == 0 || h == 0 {
        return out;
    }
    let mut rem = [0u64; 4];
    for k in 0..4 {
        let x = c[k] * h as u64;
        out[k] = (x / total) as usize;
        rem[k] = x % total;
    }
    let mut left = h - out.iter().sum::<usize>();
    while left > 0 {
        let Some(k) = (0..4)
            .filter(|k| c[*k] > 0)
            .max_by_key(|k| (rem[*k], 4 - *k))
        else {
            break;
        };
        out[k] += 1;
        rem[k] = 0;
        left -= 1;
    }
    for k in [CRIT, ERR] {
        if c[k] > 0 && out[k] == 0 {
            if let Some(big) = (0..4).filter(|j| out[*j] > 1).max_by_key(|j| out[*j]) {
                out[big] -= 1;
                out[k] += 1;
            }
        }
    }
    out
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let h = &st.logs.hist;
    let Some(view) = h.view() else {
        let text = match (&h.remote.error, h.server) {
            (Some(e), _) => format!("histogram: {}", fit(e, 300)),
            (None, true) => format!(
                "asking {} for the histogram …",
                st.backends.logs.as_deref().unwrap_or("the backend")
            ),
            (None, false) => "histogram: counting …".into(),
        };
        frame.render_widget(
            Paragraph::new(text)
                .style(muted(ctx))
                .wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    };
    let width = area.width as usize;
    let (plot, terms) = if width >= WIDE {
        let plot_w = width.saturating_sub(TERMS_WIDTH + 1) as u16;
        (
            Rect {
                width: plot_w,
                ..area
            },
            Some(Rect {
                x: area.x + plot_w + 1,
                width: TERMS_WIDTH as u16,
                ..area
            }),
        )
    } else {
        // Below the bars: the header and as many of the top five as leave three bar rows.
        let rows = area.height.saturating_sub(5).min(6);
        let rows = if rows < 2 { 0 } else { rows };
        let plot_h = area.height - rows;
        (
            Rect {
                height: plot_h,
                ..area
            },
            (rows > 0).then_some(Rect {
                y: area.y + plot_h,
                height: rows,
                ..area
            }),
        )
    };
    draw_plot(frame, plot, ctx, &view);
    if let Some(t) = terms {
        draw_terms(frame, t, ctx, &view, width >= WIDE);
    }
}

/// The window, the bucket size, the total (`1h/2m` when narrow), what the ring holds, warnings.
fn summary(ctx: &Ctx, view: &HistView, narrow: bool) -> Line<'static> {
    let st = ctx.state;
    let h = &st.logs.hist;
    let (window, step) = (span_label(view.window), span_label(view.buckets.step));
    let head = if narrow {
        format!("{window}/{step} · {} lines", grouped(view.total))
    } else {
        format!(
            "last {window} · {step} buckets · {} lines",
            grouped(view.total)
        )
    };
    let mut spans = vec![Span::styled(head, ctx.theme.style(StyleName::Header))];
    if !h.server {
        if let Some(held) = st.logs.span_held() {
            spans.push(Span::styled(
                format!(" · holds {}", duration_short(held.num_seconds())),
                muted(ctx),
            ));
        }
    }
    if h.errors_only {
        spans.push(Span::styled(
            " · top: errors only",
            ctx.theme.style(StyleName::Highlight),
        ));
    }
    if let Some(n) = view.notice {
        spans.push(Span::styled(
            format!(" · {}", fit(n, 120)),
            ctx.theme.style(StyleName::Warning),
        ));
    }
    if h.server && st.logs.filter.is_some() {
        spans.push(Span::styled(" · / filter not counted", muted(ctx)));
    }
    Line::from(spans)
}

/// The bucket under the cursor: its time and its counts by class, each with its glyph (the legend).
fn detail(ctx: &Ctx, view: &HistView) -> Line<'static> {
    let h = &ctx.state.logs.hist;
    let i = h.selected_bucket(view.buckets.n);
    let c = view.counts.get(i).copied().unwrap_or_default();
    let mut spans = vec![Span::raw(format!(
        "{} ",
        clock(ctx, view.buckets.bucket_start(i))
    ))];
    for (k, name) in CLASSES.iter().enumerate() {
        spans.push(Span::styled(GLYPHS[k].to_string(), class_style(ctx, k)));
        spans.push(Span::raw(format!("{name} {} ", c[k])));
    }
    Line::from(spans)
}

fn draw_plot(frame: &mut Frame, area: Rect, ctx: &Ctx, view: &HistView) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let h = &ctx.state.logs.hist;
    let fit_w = area.width as usize;
    let mut lines = vec![super::fmt::fit_line(summary(ctx, view, fit_w < 60), fit_w)];
    let with_detail = area.height >= 6;
    // The last query's failure, on its own line: the counts shown are the last good answer's.
    // Two rows at most, the second cut with `…`.
    if let Some(e) = &h.remote.error {
        let text = format!("not updated: {e}");
        let first: String = text.chars().take(fit_w).collect();
        let rest: String = text.chars().skip(fit_w).collect();
        for part in [first, rest].into_iter().filter(|p| !p.is_empty()) {
            lines.push(Line::styled(
                fit(&part, fit_w),
                ctx.theme.style(StyleName::Warning),
            ));
        }
    }
    if with_detail {
        lines.push(super::fmt::fit_line(detail(ctx, view), fit_w));
    }
    let bar_rows = (area.height as usize)
        .saturating_sub(lines.len() + 1)
        .max(1);
    let plot_w = (area.width as usize).saturating_sub(AXIS_WIDTH).max(1);
    let n = view.buckets.n.min(view.counts.len());
    // A bucket per column at least; the newest buckets when more than fit.
    let first = n.saturating_sub(plot_w);
    let shown = n - first;
    let bar_w = (plot_w / shown.max(1)).clamp(1, 4);
    let totals: Vec<u64> = view.counts[first..n]
        .iter()
        .map(|c| c.iter().sum())
        .collect();
    let max = totals.iter().copied().max().unwrap_or(0);
    let selected = h.selected_bucket(view.buckets.n);
    let cursor_style = ctx.theme.cursor(h.focus == HistFocus::Buckets);
    let stacks: Vec<[usize; 4]> = view.counts[first..n]
        .iter()
        .zip(&totals)
        .map(|(c, t)| {
            let cells_h = if max == 0 {
                0
            } else {
                ((*t * bar_rows as u64).div_ceil(max)) as usize
            };
            cells(c, cells_h)
        })
        .collect();
    for row in 0..bar_rows {
        // Rows from the top; a bar's cells count from the bottom.
        let level = bar_rows - row;
        let axis = if row == 0 {
            format!("{:>w$} ", compact(max), w = AXIS_WIDTH - 1)
        } else if row + 1 == bar_rows {
            format!("{:>w$} ", 0, w = AXIS_WIDTH - 1)
        } else {
            " ".repeat(AXIS_WIDTH)
        };
        let mut spans = vec![Span::styled(axis, muted(ctx))];
        for (j, stack) in stacks.iter().enumerate() {
            let mut below = 0;
            let mut class = None;
            for (k, c) in stack.iter().enumerate() {
                if level > below && level <= below + c {
                    class = Some(k);
                }
                below += c;
            }
            let text: String = match class {
                Some(k) => GLYPHS[k].to_string().repeat(bar_w),
                None => " ".repeat(bar_w),
            };
            let mut style = class.map(|k| class_style(ctx, k)).unwrap_or_default();
            if first + j == selected {
                style = style.patch(cursor_style);
            }
            spans.push(Span::styled(text, style));
        }
        lines.push(Line::from(spans));
    }
    lines.push(time_axis(ctx, view, first, shown, bar_w));
    frame.render_widget(Paragraph::new(lines), area);
}

/// Times under the bars: the first bucket's start, the middle one's and the window's end.
fn time_axis(
    ctx: &Ctx,
    view: &HistView,
    first: usize,
    shown: usize,
    bar_w: usize,
) -> Line<'static> {
    let span = shown * bar_w;
    let mut row: Vec<char> = vec![' '; span];
    let mut put = |col: usize, text: &str, right: bool| {
        let w = text.width();
        let start = if right { col.saturating_sub(w) } else { col };
        if start + w > span {
            return;
        }
        if row[start..start + w].iter().any(|c| *c != ' ') {
            return;
        }
        for (i, c) in text.chars().enumerate() {
            row[start + i] = c;
        }
    };
    put(span, &clock(ctx, view.buckets.end()), true);
    put(0, &clock(ctx, view.buckets.bucket_start(first)), false);
    if shown >= 4 {
        let mid = first + shown / 2;
        let col = (mid - first) * bar_w;
        let label = clock(ctx, view.buckets.bucket_start(mid));
        put(col.saturating_sub(label.width() / 2), &label, false);
    }
    Line::from(vec![
        Span::raw(" ".repeat(AXIS_WIDTH)),
        Span::styled(row.into_iter().collect::<String>(), muted(ctx)),
    ])
}

fn draw_terms(frame: &mut Frame, area: Rect, ctx: &Ctx, view: &HistView, stacked: bool) {
    let h = &ctx.state.logs.hist;
    // What the shares are of: the window's lines, or its errors.
    let of: u64 = if h.errors_only {
        view.counts.iter().map(|c| c[CRIT] + c[ERR]).sum()
    } else {
        view.total
    };
    let lists = [
        ("HOSTS", view.hosts, HistFocus::Hosts),
        ("PROGRAMS", view.programs, HistFocus::Programs),
    ];
    let rects: Vec<Rect> = if stacked {
        let each = area.height / 2;
        vec![
            Rect {
                height: each,
                ..area
            },
            Rect {
                y: area.y + each,
                height: area.height - each,
                ..area
            },
        ]
    } else {
        let each = area.width / 2;
        vec![
            Rect {
                width: each.saturating_sub(1),
                ..area
            },
            Rect {
                x: area.x + each,
                width: area.width - each,
                ..area
            },
        ]
    };
    for ((title, terms, focus), r) in lists.into_iter().zip(rects) {
        draw_list(frame, r, ctx, title, terms, of, view.approximate, focus);
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_list(
    frame: &mut Frame,
    area: Rect,
    ctx: &Ctx,
    title: &str,
    terms: &[Term],
    of: u64,
    approximate: bool,
    focus: HistFocus,
) {
    if area.height == 0 || area.width < 8 {
        return;
    }
    let h = &ctx.state.logs.hist;
    let width = area.width as usize;
    let mut head = format!("TOP {title}");
    if h.errors_only {
        head.push_str(" (errors)");
    }
    let mut lines = vec![Line::styled(
        fit(&head, width),
        ctx.theme.style(StyleName::Header),
    )];
    if terms.is_empty() {
        lines.push(Line::styled("none in the window", muted(ctx)));
    }
    let rows = (area.height as usize).saturating_sub(1);
    let mark = if approximate { "≈" } else { "" };
    for (i, t) in terms.iter().take(rows).enumerate() {
        let count = format!("{mark}{}", compact(t.count));
        let share = (t.count * 100 + of / 2)
            .checked_div(of)
            .map_or_else(|| "   -".to_string(), |p| format!("{p:>3}%"));
        let right = format!(" {count:>6} {share}");
        let name_w = width.saturating_sub(right.width());
        let name = fit(&t.name, name_w);
        let pad = " ".repeat(name_w.saturating_sub(name.width()));
        let mut line = Line::from(format!("{name}{pad}{right}"));
        if h.focus == focus && h.term == i {
            line = line.style(ctx.theme.cursor(true));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_a_cell_and_cells_add_up() {
        assert_eq!(cells(&[1, 0, 0, 999], 4), [1, 0, 0, 3]);
        assert_eq!(cells(&[0, 2, 2, 4], 4), [0, 1, 1, 2]);
        assert_eq!(cells(&[0, 0, 0, 0], 4), [0; 4]);
        assert_eq!(cells(&[5, 5, 0, 0], 1), [1, 0, 0, 0]);
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(compact(123_456), "123k");
    }
}

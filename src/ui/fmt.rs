//! Small, pure formatting helpers shared by the panes.

use chrono::{DateTime, Local, Utc};
use ratatui::text::{Line, Span};

/// 42s, 7m, 3h, 2d — the compact form k9s uses for ages.
pub fn duration_short(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=99 => format!("{s}s"),
        100..=5999 => format!("{}m", s / 60),
        6000..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

pub fn age(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> String {
    match then {
        Some(t) => duration_short((now - t).num_seconds()),
        None => "-".into(),
    }
}

pub fn timestamp(t: DateTime<Utc>, utc: bool) -> String {
    if utc {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    } else {
        t.with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }
}

/// Cuts `s` to `width` display columns with an ellipsis.
pub fn fit(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > width {
            if width > 0 {
                while w + 1 > width {
                    match out.pop() {
                        Some(p) => w -= p.width().unwrap_or(0),
                        None => break,
                    }
                }
                out.push('…');
            }
            return out;
        }
        w += cw;
        out.push(c);
    }
    out
}

/// Cuts a styled line (a pane title) to `width` columns, ending in "…" when anything was cut, so a
/// narrow pane never silently loses the end of its title.
pub fn fit_line(line: Line<'_>, width: usize) -> Line<'_> {
    use unicode_width::UnicodeWidthChar;
    if line.width() <= width {
        return line;
    }
    let budget = width.saturating_sub(1);
    let mut used = 0;
    let mut spans: Vec<Span> = Vec::new();
    'spans: for span in &line.spans {
        let mut text = String::new();
        for c in span.content.chars() {
            let cw = c.width().unwrap_or(0);
            if used + cw > budget {
                spans.push(Span::styled(text, span.style));
                break 'spans;
            }
            used += cw;
            text.push(c);
        }
        spans.push(Span::styled(text, span.style));
    }
    if width > 0 {
        let style = spans.last().map(|s| s.style).unwrap_or_default();
        spans.push(Span::styled("…", style));
    }
    let mut out = Line::from(spans).style(line.style);
    out.alignment = line.alignment;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_short(5), "5s");
        assert_eq!(duration_short(600), "10m");
        assert_eq!(duration_short(3 * 3600), "3h");
        assert_eq!(duration_short(3 * 86_400), "3d");
        assert_eq!(duration_short(-3), "0s");
    }

    #[test]
    fn fitting() {
        assert_eq!(fit("hello", 10), "hello");
        assert_eq!(fit("hello world", 5), "hell…");
    }

    #[test]
    fn fitting_a_styled_line() {
        use ratatui::style::Style;
        let line = || {
            Line::from(vec![
                Span::raw(" Members "),
                Span::styled("100000 ", Style::new().bold()),
                Span::raw("· api:5 web:7 "),
            ])
        };
        assert_eq!(fit_line(line(), 40), line());
        let cut = fit_line(line(), 14);
        assert_eq!(cut.width(), 14);
        assert_eq!(cut.to_string(), " Members 1000…");
        assert_eq!(cut.spans[1].style, Style::new().bold());
        // Cut right at a span boundary: still marked.
        assert_eq!(fit_line(line(), 17).to_string(), " Members 100000 …");
        assert_eq!(fit_line(line(), 1).to_string(), "…");
        assert_eq!(fit_line(line(), 0).to_string(), "");
    }
}

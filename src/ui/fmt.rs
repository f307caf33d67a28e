//! Formatting that needs ratatui types (styled lines); plain text and time formats are in
//! `crate::model::text` and `crate::model::format`.

use ratatui::text::{Line, Span};

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

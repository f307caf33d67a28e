//! The panes' frames, tables and lines of text, painted straight into the buffer.
//!
//! Why: the idle console draws a frame a second, and most of that frame's CPU was ratatui's
//! widgets doing work that shows nothing — `Block` setting a default style on every cell of its
//! pane, `Table` and `Paragraph` setting styles over every cell of their rows and columns several
//! times, and every ASCII character walked through grapheme segmentation (BENCHMARKS.md, issue 18,
//! twelfth round). These painters draw exactly what those widgets draw, cell for cell and style
//! for style (the tests below compare both on random input), but touch only the cells that show
//! something. What they do not special-case — a centred or right-aligned line, a span with a
//! character that is neither printable ASCII nor one of the panes' symbols — is handed to
//! ratatui's own code, and a table's columns are placed by ratatui's layout solver.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::border;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

/// A pane's frame: what `Block::default().borders(Borders::ALL).border_style(border)
/// .title(title).title_style(title_style)` draws, without its pass over the pane's inside.
#[derive(Debug, Clone)]
pub struct PaneFrame<'a> {
    pub border: Style,
    pub title: Line<'a>,
    pub title_style: Style,
}

impl PaneFrame<'_> {
    /// The area inside the frame.
    pub fn inner(&self, area: Rect) -> Rect {
        Block::bordered().inner(area)
    }
}

impl Widget for PaneFrame<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if !left_aligned(&self.title) {
            Block::bordered()
                .border_style(self.border)
                .title(self.title)
                .title_style(self.title_style)
                .render(area, buf);
            return;
        }
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let set = border::PLAIN;
        let (left, top) = (area.left(), area.top());
        let (right, bottom) = (area.right() - 1, area.bottom() - 1);
        // In `Block`'s order (sides, then corners), so that a frame one cell wide or high ends the
        // same: the last symbol written to a cell wins.
        let column = |x: u16| (top..=bottom).map(move |y| (x, y));
        let row = |y: u16| (left..=right).map(move |x| (x, y));
        let mut draw = |cells: &mut dyn Iterator<Item = (u16, u16)>, symbol: &str| {
            for (x, y) in cells {
                buf[(x, y)].set_symbol(symbol).set_style(self.border);
            }
        };
        draw(&mut column(left), set.vertical_left);
        draw(&mut row(top), set.horizontal_top);
        draw(&mut column(right), set.vertical_right);
        draw(&mut row(bottom), set.horizontal_bottom);
        for (x, y, symbol) in [
            (right, bottom, set.bottom_right),
            (right, top, set.top_right),
            (left, bottom, set.bottom_left),
            (left, top, set.top_left),
        ] {
            buf[(x, y)].set_symbol(symbol).set_style(self.border);
        }
        let titles = Rect {
            x: left.saturating_add(1),
            y: top,
            width: area.width.saturating_sub(2),
            height: 1,
        };
        if titles.is_empty() {
            return;
        }
        let width = self.title.width().min(u16::MAX as usize) as u16;
        let title_area = Rect {
            width: width.min(titles.width),
            ..titles
        };
        buf.set_style(title_area, self.title_style);
        line_in(buf, title_area, &self.title);
    }
}

/// What `Paragraph::new(lines)` (no wrap, no style, no block) draws in `area`.
pub fn lines(buf: &mut Buffer, area: Rect, lines: &[Line]) {
    let area = area.intersection(buf.area);
    if area.is_empty() {
        return;
    }
    for (row, line) in area.rows().zip(lines) {
        if !left_aligned(line) || !line.spans.iter().all(|s| one_cell_each(&s.content)) {
            Paragraph::new(line.clone()).render(row, buf);
            continue;
        }
        let base = Style::default().patch(line.style);
        let mut x = row.x;
        'spans: for span in &line.spans {
            let style = base.patch(span.style);
            for c in span.content.chars() {
                if x >= row.right() {
                    break 'spans;
                }
                buf[(x, row.y)].set_char(c).set_style(style);
                x += 1;
            }
        }
    }
}

/// One row of a [`table`]: a line per column, and the style under them.
#[derive(Debug, Clone, Default)]
pub struct Row<'a> {
    pub cells: Vec<Line<'a>>,
    pub style: Style,
}

impl<'a> Row<'a> {
    pub fn new(cells: impl IntoIterator<Item = Line<'a>>) -> Row<'a> {
        Row {
            cells: cells.into_iter().collect(),
            style: Style::default(),
        }
    }

    pub fn style(self, style: Style) -> Row<'a> {
        Row { style, ..self }
    }
}

/// A table as the list panes draw it: what ratatui's `Table::new(rows, widths as Length)
/// .header(header).column_spacing(1).row_highlight_style(highlight)` draws with `selected` (the
/// index among `rows`) as its state's selection, one line per cell.
pub fn table(
    buf: &mut Buffer,
    area: Rect,
    widths: &[u16],
    header: &Row,
    rows: &[Row],
    highlight: Style,
    selected: Option<usize>,
) {
    // Not cut to the buffer first: `Table` lays its columns out in the whole area.
    if area.is_empty() {
        return;
    }
    // Without widths, `Table` shares the width equally among the most cells a row has.
    let count = rows
        .iter()
        .chain([header])
        .map(|r| r.cells.len())
        .max()
        .unwrap_or(0);
    let equal = vec![area.width / count.max(1) as u16; count];
    let widths = if widths.is_empty() {
        &equal[..]
    } else {
        widths
    };
    // The same layouts `Table` asks for (both cached by ratatui): the columns' places are the
    // layout solver's, whatever the widths.
    let [_, columns_area] = Layout::horizontal([Constraint::Length(0), Constraint::Fill(0)])
        .areas(Rect::new(0, 0, area.width, 1));
    let columns = Layout::horizontal(widths.iter().map(|w| Constraint::Length(*w)))
        .flex(Flex::Start)
        .spacing(1)
        .split(columns_area);
    let [_, header_area, _, rows_area, _, _, _] = Layout::vertical([
        Constraint::Length(0),
        Constraint::Length(1),
        Constraint::Length(0),
        Constraint::Min(0),
        Constraint::Length(0),
        Constraint::Length(0),
        Constraint::Length(0),
    ])
    .areas(area);
    row_cells(buf, header_area, &columns, header);
    if rows.is_empty() {
        return;
    }
    let selected = selected.map(|s| s.min(rows.len() - 1));
    let (start, end) = visible_rows(rows.len(), selected, rows_area.height as usize);
    let mut highlighted = None;
    for (i, row) in rows.iter().enumerate().take(end).skip(start) {
        let y = rows_area.y + (i - start) as u16;
        let height = (y + 1).min(rows_area.bottom()).saturating_sub(y);
        let row_area = Rect {
            y,
            height,
            ..rows_area
        };
        row_cells(buf, row_area, &columns, row);
        if selected == Some(i) {
            highlighted = Some(row_area);
        }
    }
    if let Some(row_area) = highlighted {
        buf.set_style(row_area, highlight);
    }
}

/// A row's style under the whole row, then each cell in its column.
fn row_cells(buf: &mut Buffer, row_area: Rect, columns: &[Rect], row: &Row) {
    buf.set_style(row_area, row.style);
    for (column, line) in columns.iter().zip(&row.cells) {
        let cell = Rect::new(
            row_area.x + column.x,
            row_area.y,
            column.width,
            row_area.height,
        );
        if let Some(first) = cell.intersection(buf.area).rows().next() {
            line_in(buf, first, line);
        }
    }
}

/// `Table`'s choice of rows to show, for rows one line high from offset 0: the first that fit,
/// scrolled down until the selected one is among them.
fn visible_rows(len: usize, selected: Option<usize>, height: usize) -> (usize, usize) {
    let mut start = 0;
    let mut end = len.min(height);
    let mut used = end;
    if let Some(selected) = selected {
        while selected >= end {
            used += 1;
            end += 1;
            while used > height {
                used -= 1;
                start += 1;
            }
        }
    }
    (start, end)
}

/// What `Line`'s own rendering draws in `area` (one row): its style under the row, then its
/// spans left to right, each cut at the row's end.
fn line_in(buf: &mut Buffer, area: Rect, line: &Line) {
    if !left_aligned(line) {
        line.render(area, buf);
        return;
    }
    let area = area.intersection(buf.area);
    if area.is_empty() || line.width() == 0 {
        return;
    }
    let mut area = Rect { height: 1, ..area };
    buf.set_style(area, line.style);
    for span in &line.spans {
        let width = span.width();
        if width == 0 {
            continue;
        }
        if area.is_empty() {
            break;
        }
        span_in(buf, area, span);
        let step = u16::try_from(width).unwrap_or(u16::MAX);
        area = Rect {
            x: area.x.saturating_add(step),
            width: area.width.saturating_sub(step),
            ..area
        };
    }
}

/// What `Span`'s own rendering draws at the start of `area`.
fn span_in(buf: &mut Buffer, area: Rect, span: &Span) {
    if !one_cell_each(&span.content) {
        span.render(area, buf);
        return;
    }
    let style = Style::default().patch(span.style);
    for (x, c) in (area.x..area.right()).zip(span.content.chars()) {
        buf[(x, area.y)].set_char(c).set_style(style);
    }
}

fn left_aligned(line: &Line) -> bool {
    matches!(line.alignment, None | Some(Alignment::Left))
}

/// Every character one grapheme of its own and one cell wide, so the fast paths draw it as
/// ratatui's grapheme walk would: printable ASCII, and the symbols the panes draw with (none of
/// them combines with a neighbour; `every_symbol_is_drawn_as_ratatui_draws_it` holds the list).
fn one_cell_each(text: &str) -> bool {
    text.chars().all(one_cell)
}

fn one_cell(c: char) -> bool {
    matches!(c,
        ' '..='~'
        | '·' | '×' | '±' | '–' | '—' | '•' | '…'
        | '←' | '↑' | '→' | '↓' | '≈' | '≥' | '⊘'
        | '␀' | '␇' | '␉' | '␛' | '␡'
        | '─' | '│' | '└' | '┊'
        | '▁'..='█' | '░' | '▒' | '▓' | '■'
        | '▲' | '▶' | '▼' | '◀' | '◆' | '○' | '◌' | '◍' | '●'
        | '⚑' | '✓' | '✕' | '✖'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ratatui::style::{Color, Modifier};
    use ratatui::widgets::{Borders, Cell, Table, TableState};

    /// Text from a small alphabet that holds what breaks the fast paths: wide, zero-width and
    /// combining characters, controls, and plain ASCII.
    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                8 => proptest::char::range('a', 'z'),
                2 => Just(' '),
                1 => Just('漢'),
                1 => Just('\u{301}'),
                1 => Just('\u{200b}'),
                1 => Just('\u{1b}'),
                1 => Just('█'),
                1 => Just('…'),
                1 => Just('●'),
                1 => Just('\t'),
            ],
            0..12,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    fn style() -> impl Strategy<Value = Style> {
        (0u8..4, 0u8..4, any::<bool>(), any::<bool>()).prop_map(|(fg, bg, bold, not_dim)| {
            let color = |c: u8| match c {
                0 => None,
                1 => Some(Color::Red),
                2 => Some(Color::Indexed(240)),
                _ => Some(Color::Rgb(1, 2, 3)),
            };
            let mut s = Style {
                fg: color(fg),
                bg: color(bg),
                ..Style::default()
            };
            if bold {
                s = s.add_modifier(Modifier::BOLD);
            }
            if not_dim {
                s = s.remove_modifier(Modifier::DIM);
            }
            s
        })
    }

    fn line() -> impl Strategy<Value = Line<'static>> {
        (
            proptest::collection::vec((text(), style()), 0..4),
            style(),
            0u8..6,
        )
            .prop_map(|(spans, style, align)| {
                let mut line = Line::from(
                    spans
                        .into_iter()
                        .map(|(t, s)| Span::styled(t, s))
                        .collect::<Vec<_>>(),
                )
                .style(style);
                line.alignment = match align {
                    0 => Some(Alignment::Left),
                    1 => Some(Alignment::Center),
                    2 => Some(Alignment::Right),
                    _ => None,
                };
                line
            })
    }

    /// A buffer with something under the widget already, as a frame has (styles are patched).
    fn canvas() -> Buffer {
        let area = Rect::new(0, 0, 24, 9);
        let mut buf = Buffer::empty(area);
        for (i, cell) in buf.content.iter_mut().enumerate() {
            if i % 3 == 0 {
                cell.set_symbol("x").set_fg(Color::Blue);
            }
        }
        buf
    }

    fn rect() -> impl Strategy<Value = Rect> {
        (0u16..26, 0u16..11, 0u16..26, 0u16..11).prop_map(|(x, y, w, h)| Rect::new(x, y, w, h))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn a_pane_frame_draws_what_its_block_draws(
            area in rect(), title in line(), border in style(), title_style in style()
        ) {
            let mut want = canvas();
            Block::default()
                .borders(Borders::ALL)
                .border_style(border)
                .title(title.clone())
                .title_style(title_style)
                .render(area, &mut want);
            let mut got = canvas();
            let frame = PaneFrame { border, title, title_style };
            prop_assert_eq!(frame.inner(area), Block::bordered().inner(area));
            frame.render(area, &mut got);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn lines_draw_what_their_paragraph_draws(
            area in rect(), ls in proptest::collection::vec(line(), 0..10)
        ) {
            let mut want = canvas();
            Paragraph::new(ls.clone()).render(area, &mut want);
            let mut got = canvas();
            lines(&mut got, area, &ls);
            prop_assert_eq!(got, want);
        }

        #[test]
        fn a_table_draws_what_its_ratatui_table_draws(
            area in rect(),
            widths in proptest::collection::vec(0u16..9, 0..5),
            header in proptest::collection::vec(line(), 0..5),
            header_style in style(),
            rows in proptest::collection::vec(
                (proptest::collection::vec(line(), 0..6), style()), 0..12
            ),
            highlight in style(),
            selected in proptest::option::of(0usize..14),
        ) {
            let to_cells = |ls: &Vec<Line<'static>>| ls.iter().cloned().map(Cell::from).collect::<Vec<_>>();
            let table = Table::new(
                rows.iter().map(|(ls, s)| ratatui::widgets::Row::new(to_cells(ls)).style(*s)),
                widths.iter().map(|w| Constraint::Length(*w)),
            )
            .header(ratatui::widgets::Row::new(to_cells(&header)).style(header_style))
            .column_spacing(1)
            .row_highlight_style(highlight);
            let mut want = canvas();
            let mut state = TableState::default().with_selected(selected);
            ratatui::widgets::StatefulWidget::render(table, area, &mut want, &mut state);

            let header = Row::new(header).style(header_style);
            let rows: Vec<Row> = rows.into_iter().map(|(ls, s)| Row::new(ls).style(s)).collect();
            let mut got = canvas();
            table_fn(&mut got, area, &widths, &header, &rows, highlight, selected);
            prop_assert_eq!(got, want);
        }
    }

    use super::table as table_fn;

    #[test]
    fn every_symbol_is_drawn_as_ratatui_draws_it() {
        let symbols: Vec<char> = ('\u{a0}'..='\u{2fff}').filter(|c| one_cell(*c)).collect();
        assert!(symbols.len() > 40, "{symbols:?}");
        for c in symbols {
            let line = Line::from(vec![
                Span::styled(format!("a{c}{c}b"), Style::default().fg(Color::Red)),
                Span::raw(format!("{c}")),
            ]);
            let area = Rect::new(1, 1, 5, 2);
            let mut want = canvas();
            Paragraph::new(vec![line.clone()]).render(area, &mut want);
            let mut got = canvas();
            lines(&mut got, area, std::slice::from_ref(&line));
            assert_eq!(got, want, "{c:?} in a paragraph");
            let mut want = canvas();
            line.clone().render(area, &mut want);
            let mut got = canvas();
            line_in(&mut got, area, &line);
            assert_eq!(got, want, "{c:?} in a table's cell");
        }
    }
}

//! One cursor for every list pane: which row is selected, which row is at the top of the pane,
//! and how many rows the pane shows. The layout tells the rows ([`ListCursor::set_rows`]); the
//! reducer moves the selection and keeps it on screen ([`ListCursor::fit`]); the view only reads.
//!
//! The cursor holds positions, not identities: a pane that must follow a row as others come and
//! go (members by key bytes, checks by entity and check) keeps the identity itself and tells the
//! cursor where that row now is.

/// Rows a pane is assumed to show before the first layout arrives.
const ROWS_BEFORE_LAYOUT: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    /// The selected row; `None` when nothing is selected.
    index: Option<usize>,
    /// The first row on screen.
    offset: usize,
    /// Rows on screen, as the layout last said.
    rows: usize,
}

impl Default for ListCursor {
    fn default() -> Self {
        ListCursor {
            index: None,
            offset: 0,
            rows: ROWS_BEFORE_LAYOUT,
        }
    }
}

impl ListCursor {
    /// The selected row of a list of `len` rows (clamped to it), if any.
    pub fn index(&self, len: usize) -> Option<usize> {
        match self.index {
            Some(i) if len > 0 => Some(i.min(len - 1)),
            _ => None,
        }
    }

    /// The row stored, unclamped (for panes that shift it as rows come and go).
    pub fn raw(&self) -> Option<usize> {
        self.index
    }

    pub fn select(&mut self, index: Option<usize>) {
        self.index = index;
    }

    /// The row `delta` rows from the selection in a list of `len`, clamped to the list; the first
    /// move from "nothing selected" lands on the first row. `None` for an empty list.
    pub fn target(&self, delta: isize, len: usize) -> Option<usize> {
        if len == 0 {
            return None;
        }
        Some(match self.index(len) {
            None => 0,
            Some(cur) => (cur as isize + delta).clamp(0, len as isize - 1) as usize,
        })
    }

    /// Rows a page up/down moves: what the pane showed.
    pub fn page(&self) -> isize {
        self.rows.max(1) as isize
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Puts row `offset` at the top (then [`fit`](Self::fit) keeps the selection in view).
    pub fn scroll_to(&mut self, offset: usize) {
        self.offset = offset;
    }

    /// The layout changed how many rows the pane shows.
    pub fn set_rows(&mut self, rows: usize) {
        self.rows = rows;
    }

    /// Scrolls so the selection is on screen, and no further than the list needs (a list that
    /// shrank does not leave the pane half empty).
    pub fn fit(&mut self, len: usize) {
        if let Some(selected) = self.index(len) {
            if selected < self.offset {
                self.offset = selected;
            } else if self.rows > 0 && selected >= self.offset + self.rows {
                self.offset = selected + 1 - self.rows;
            }
        }
        self.offset = self.offset.min(len.saturating_sub(self.rows.max(1)));
    }

    /// `[12/51]`: the selection's place in the list (`[-/51]` with nothing selected).
    pub fn position(&self, len: usize) -> String {
        match self.index(len) {
            Some(i) => format!("[{}/{len}]", i + 1),
            None => format!("[-/{len}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_clamp_and_start_from_nothing() {
        let mut c = ListCursor::default();
        assert_eq!(c.index(5), None);
        assert_eq!(
            c.target(1, 5),
            Some(0),
            "the first move lands on the first row"
        );
        c.select(Some(0));
        assert_eq!(c.target(-3, 5), Some(0));
        assert_eq!(c.target(10, 5), Some(4));
        assert_eq!(c.target(1, 0), None);
        c.select(Some(9));
        assert_eq!(c.index(5), Some(4), "clamped to the list");
        assert_eq!(c.position(5), "[5/5]");
        c.select(None);
        assert_eq!(c.position(51), "[-/51]");
    }

    #[test]
    fn fit_keeps_the_selection_on_screen_and_the_pane_full() {
        let mut c = ListCursor::default();
        c.set_rows(3);
        c.select(Some(7));
        c.fit(10);
        assert_eq!(c.offset(), 5, "selection on the last row shown");
        c.select(Some(2));
        c.fit(10);
        assert_eq!(c.offset(), 2, "scrolled up to it");
        c.select(None);
        c.fit(3);
        assert_eq!(
            c.offset(),
            0,
            "a shrunk list does not leave the pane half empty"
        );
        c.set_rows(0);
        c.select(Some(4));
        c.fit(10);
        assert!(c.offset() <= 9);
    }
}

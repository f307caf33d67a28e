//! Column widths for the list panes, by priority rather than by truncation: each column asks for
//! what its title and the rows on screen need; when the pane is too narrow, the columns that may
//! shrink shrink first, then whole columns hide in the pane's order (and the header says how many
//! are hidden), and the columns that must never be cut — an instance name, an address, a check —
//! keep their full width. One column may take whatever is left (a check's output). Every cut a
//! cell does suffer shows `…` (`model::text::fit`).

use unicode_width::UnicodeWidthStr;

/// How one column behaves when space is short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Give {
    /// Never cut, never hidden.
    Never,
    /// May shrink to `min`, then hide; lower `rank` hides first.
    Shrink { min: usize, rank: u8 },
    /// Takes the width that is left (at least `min`); hidden only when not even that is left.
    Rest { min: usize },
}

#[derive(Debug, Clone)]
pub struct Column {
    pub title: &'static str,
    /// The widest cell among the rows on screen.
    pub content: usize,
    pub give: Give,
}

impl Column {
    pub fn new(title: &'static str, give: Give) -> Column {
        Column {
            title,
            content: 0,
            give,
        }
    }

    /// Widens the column for a cell of `text`.
    pub fn fit_cell(&mut self, text: &str) {
        self.content = self.content.max(text.width());
    }

    fn wanted(&self) -> usize {
        self.content.max(self.title.width()).max(1)
    }
}

/// The widths of `cols` in `width` columns with `gap` between them; `None` for a hidden column.
pub fn widths(cols: &[Column], width: usize, gap: usize) -> Vec<Option<usize>> {
    let mut w: Vec<Option<usize>> = cols.iter().map(|c| Some(c.wanted())).collect();
    let used = |w: &[Option<usize>]| -> usize {
        let shown: Vec<usize> = w.iter().flatten().copied().collect();
        shown.iter().sum::<usize>() + gap * shown.len().saturating_sub(1)
    };
    // The rest-column asks only for its minimum while the others are fitted.
    for (i, c) in cols.iter().enumerate() {
        if let Give::Rest { min } = c.give {
            w[i] = Some(min.min(c.wanted()));
        }
    }
    // Lowest rank first, each column shrinks to its minimum and, if that is not enough, hides —
    // before the next one is touched, so fewer cells are cut.
    let mut ranked: Vec<(u8, usize, usize)> = cols
        .iter()
        .enumerate()
        .filter_map(|(i, c)| match c.give {
            Give::Shrink { min, rank } => Some((rank, i, min)),
            _ => None,
        })
        .collect();
    ranked.sort();
    for &(_, i, min) in &ranked {
        let over = used(&w).saturating_sub(width);
        if over == 0 {
            break;
        }
        if let Some(cur) = w[i] {
            let floor = min.min(cur);
            w[i] = Some(cur - over.min(cur - floor));
        }
        if used(&w) > width {
            w[i] = None;
        }
    }
    // Whatever is left goes to the rest-column; if nothing is, it hides too.
    let left = width.saturating_sub(used(&w));
    for (i, c) in cols.iter().enumerate() {
        if let (Give::Rest { min }, Some(cur)) = (c.give, w[i]) {
            if used(&w) > width && cur <= min {
                w[i] = None;
            } else {
                w[i] = Some(cur + left);
            }
        }
    }
    // Columns that are never cut are cut only when nothing else is left to give (a pane
    // narrower than its never-cut columns), and then evenly.
    let mut over = used(&w).saturating_sub(width);
    while over > 0 {
        let widest = (0..cols.len())
            .filter(|&i| cols[i].give == Give::Never)
            .filter_map(|i| w[i].map(|x| (x, i)))
            .max();
        match widest {
            Some((x, i)) if x > 1 => {
                w[i] = Some(x - 1);
                over -= 1;
            }
            _ => break,
        }
    }
    w
}

/// `+2 cols` for the header when columns are hidden.
pub fn hidden_note(w: &[Option<usize>]) -> Option<String> {
    match w.iter().filter(|x| x.is_none()).count() {
        0 => None,
        1 => Some("+1 col".into()),
        n => Some(format!("+{n} cols")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(title: &'static str, content: usize, give: Give) -> Column {
        Column {
            title,
            content,
            give,
        }
    }

    fn members(width: usize) -> Vec<Option<usize>> {
        let cols = [
            col("ROLE", 6, Give::Shrink { min: 3, rank: 3 }),
            col("INSTANCE", 14, Give::Never),
            col("ADDRESS", 15, Give::Never),
            col("TTL", 5, Give::Shrink { min: 3, rank: 2 }),
            col("AGE", 6, Give::Shrink { min: 3, rank: 1 }),
            col("VERSION", 9, Give::Shrink { min: 5, rank: 0 }),
        ];
        widths(&cols, width, 1)
    }

    #[test]
    fn wide_panes_give_every_column_what_it_needs() {
        assert_eq!(
            members(100),
            [Some(6), Some(14), Some(15), Some(5), Some(6), Some(9)]
        );
    }

    #[test]
    fn narrow_panes_shrink_then_hide_in_order_and_never_cut_names() {
        // 6+14+15+5+6+9 + 5 gaps = 60.
        let w = members(55);
        assert_eq!((w[1], w[2]), (Some(14), Some(15)));
        assert!(w.iter().flatten().sum::<usize>() + 5 <= 55, "{w:?}");
        let w = members(38);
        assert_eq!((w[1], w[2]), (Some(14), Some(15)), "{w:?}");
        assert_eq!(w[5], None, "VERSION hides first");
        assert!(hidden_note(&w).is_some());
        let w = members(30);
        assert_eq!((w[1], w[2]), (Some(14), Some(15)), "{w:?}");
        assert_eq!(w.iter().filter(|x| x.is_none()).count(), 4, "{w:?}");
    }

    #[test]
    fn the_rest_column_takes_what_is_left() {
        let cols = [
            col("ST", 4, Give::Never),
            col("CHECK", 10, Give::Never),
            col("HISTORY", 10, Give::Shrink { min: 3, rank: 0 }),
            col("OUTPUT", 80, Give::Rest { min: 10 }),
        ];
        assert_eq!(
            widths(&cols, 60, 1),
            [Some(4), Some(10), Some(10), Some(33)]
        );
        let w = widths(&cols, 30, 1);
        assert_eq!((w[0], w[1]), (Some(4), Some(10)));
        assert_eq!(w.iter().flatten().sum::<usize>() + 3, 30, "{w:?}");
    }
}

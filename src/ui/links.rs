//! The links of a member or check detail: numbered lines (`[1] runbook_url  runbooks.example
//! https://…`), the host always shown, and each label drawn as an OSC 8 hyperlink.
//!
//! OSC 8 and ratatui: a cell holds a symbol whose width ratatui counts, so an escape sequence in a
//! cell (ratatui's hyperlink example puts one in every second cell) makes the diff skip the cells
//! after it — in a real terminal (tmux) the rest of the row was lost. Instead the view only says
//! where each label was drawn ([`placements`], read from the finished frame) and the app writes
//! the label there once more, wrapped in OSC 8, inside the same synchronized update; the cells
//! ratatui believes are on screen are still the ones there.

use ratatui::buffer::Buffer;
use ratatui::text::{Line, Span};

use super::{muted, Ctx};
use crate::model::text::sanitize;
use crate::state::links::{of_popup, Link};
use crate::theme::StyleName;

/// The label a link is drawn (and hyperlinked) with.
fn label(n: usize, l: &Link) -> String {
    format!("[{n}] {} ({})", sanitize(&l.name), l.host)
}

/// The lines listing the open detail's links (none: no lines).
pub fn lines(ctx: &Ctx) -> Vec<Line<'static>> {
    let (links, skipped) = of_popup(ctx.state);
    if links.is_empty() && skipped.is_empty() {
        return Vec::new();
    }
    let mut out = vec![Line::from(Span::styled(
        "links — 1–9 open (no local display: copy to the clipboard)",
        ctx.theme.style(StyleName::Header),
    ))];
    for (i, l) in links.iter().enumerate() {
        out.push(Line::from(vec![
            Span::styled(
                format!("  {}", label(i + 1, l)),
                ctx.theme.style(StyleName::Key),
            ),
            Span::styled(format!("  {}", sanitize(&l.url)), muted(ctx)),
        ]));
    }
    for (name, why) in skipped {
        out.push(Line::from(Span::styled(
            sanitize(&format!("  {name}: not filled — {why}")).into_owned(),
            muted(ctx),
        )));
    }
    out.push(Line::default());
    out
}

/// Where each link's label is on the drawn screen `buf`: (column, row, label, url). The app
/// writes these over the frame again wrapped in OSC 8 (a cell cannot hold an escape sequence:
/// its width would be counted). Only ASCII labels and URLs without control characters.
pub fn placements(buf: &Buffer, state: &crate::state::State) -> Vec<(u16, u16, String, String)> {
    let (links, _) = of_popup(state);
    let area = buf.area;
    let mut out = Vec::new();
    for (i, l) in links.iter().enumerate() {
        let text = label(i + 1, l);
        if !text.is_ascii() || !l.url.is_ascii() || !crate::model::run::is_web_url(&l.url) {
            continue;
        }
        for y in area.top()..area.bottom() {
            let row: Vec<&str> = (area.left()..area.right())
                .map(|x| buf[(x, y)].symbol())
                .collect();
            // Cells hold one character each here (ASCII): the column is the cell index.
            let line: String = row
                .iter()
                .map(|s| if s.len() == 1 { *s } else { "\u{0}" })
                .collect();
            if let Some(at) = line.find(&text) {
                if line.is_char_boundary(at) && line[..at].chars().count() == at {
                    out.push((area.left() + at as u16, y, text.clone(), l.url.clone()));
                }
                break;
            }
        }
    }
    out
}

/// OSC 8: `text` as a hyperlink to `url` (`url` already checked: http(s), no control character).
pub fn osc8(url: &str, text: &str) -> String {
    format!("\x1b]8;;{url}\x1b\\{text}\x1b]8;;\x1b\\")
}

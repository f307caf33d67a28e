//! The four panes of a full console screen as tmux captures it (160 columns): members top-left,
//! checks top-right, metrics bottom-left, logs bottom-right, each half of the width; the top row
//! of panes ends at the first line starting with `└`. Rows are found by their cells.

use super::e2e::WIDTH;

pub fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub fn chars(line: &str, from: usize, to: usize) -> String {
    line.chars().skip(from).take(to - from).collect()
}

pub fn top_lines(screen: &str) -> Vec<&str> {
    let lines: Vec<&str> = screen.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with('└'))
        .map_or(lines.len(), |i| i + 1);
    lines[..end].to_vec()
}

pub fn bottom_lines(screen: &str) -> Vec<&str> {
    let n = top_lines(screen).len();
    screen.lines().skip(n).collect()
}

pub const HALF: usize = WIDTH as usize / 2;

pub fn members_pane(screen: &str) -> Vec<String> {
    top_lines(screen)
        .iter()
        .map(|l| chars(l, 0, HALF))
        .collect()
}

pub fn checks_pane(screen: &str) -> Vec<String> {
    top_lines(screen)
        .iter()
        .map(|l| chars(l, HALF, WIDTH as usize))
        .collect()
}

pub fn metrics_pane(screen: &str) -> Vec<String> {
    bottom_lines(screen)
        .iter()
        .map(|l| chars(l, 0, HALF))
        .collect()
}

pub fn logs_pane(screen: &str) -> Vec<String> {
    bottom_lines(screen)
        .iter()
        .map(|l| chars(l, HALF, WIDTH as usize))
        .collect()
}

pub fn cells(line: &str) -> Vec<&str> {
    line.trim_matches('│').split_whitespace().collect()
}

pub fn member_row(screen: &str, instance: &str) -> Option<String> {
    members_pane(screen)
        .into_iter()
        .find(|l| cells(l).get(1) == Some(&instance))
}

/// The checks table line for (entity, check).
pub fn check_row(screen: &str, entity: &str, check: &str) -> Option<String> {
    checks_pane(screen).into_iter().find(|l| {
        let c = cells(l);
        c.get(1) == Some(&entity) && c.get(2) == Some(&check)
    })
}

/// Whether the STATE column of the (entity, check) row says silenced (`◌`, or `⚑` for an ack):
/// the column is found from the header; a pane without it has nothing muted on screen.
pub fn silenced_marker(screen: &str, entity: &str, check: &str) -> Option<bool> {
    let pane = checks_pane(screen);
    let header = pane.iter().find(|l| l.contains("OUTPUT"))?;
    let row = check_row(screen, entity, check)?;
    let hc: Vec<char> = header.chars().collect();
    let Some(col) =
        (0..hc.len().saturating_sub(5)).find(|&i| hc[i..i + 5] == ['S', 'T', 'A', 'T', 'E'])
    else {
        return Some(false);
    };
    Some(matches!(row.chars().nth(col), Some('◌' | '⚑')))
}

/// The last line: the status bar.
pub fn status_bar(screen: &str) -> &str {
    screen.lines().last().unwrap_or("")
}

pub fn is_spark(c: char) -> bool {
    ('▁'..='█').contains(&c)
}

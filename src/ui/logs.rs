//! The log tail: time, host, program, severity, message; follow mode, filter (hiding or
//! highlighting, context lines muted), marks, wrap with continuation lines indented under the
//! message, horizontal scroll, and the dropped-lines counter. Only the lines on screen are
//! formatted, and the columns take their widths from them: TIME and HOST are never cut, PROGRAM
//! shrinks and then hides (named in the title: `+1 col`), then SEVERITY becomes a one-character
//! glyph; the message takes the rest, and every cut shows `…`.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::{muted, pane_block, Ctx};
use crate::model::format::duration_short;
use crate::model::text::fit;
use crate::model::{Health, LogLine, Severity, SourceKind, SEVERITY_NAMES};
use crate::state::logs::{FilterMode, Row};
use crate::state::Pane;
use crate::theme::StyleName;

/// The message keeps at least this many columns before the other columns give way.
const MIN_MESSAGE: usize = 20;
/// PROGRAM shrinks to this many columns before it hides.
const MIN_PROGRAM: usize = 4;
/// Widest a PROGRAM column grows.
const MAX_PROGRAM: usize = 16;
/// `HH:MM:SS`.
const TIME_WIDTH: usize = 8;
/// Widest a merged view's CLUSTER column grows, and what it shrinks to before the message does.
const MAX_CLUSTER: usize = 12;
const MIN_CLUSTER: usize = 4;

fn severity_style(ctx: &Ctx, sev: Option<u8>) -> Style {
    ctx.theme.severity(match sev {
        Some(0..=3) => Severity::Critical,
        Some(4) => Severity::Warning,
        Some(5..=7) => Severity::Ok,
        _ => Severity::Unknown,
    })
}

/// One character per severity, readable without colour: `!` for crit, alert and emerg.
pub fn severity_glyph(sev: Option<u8>) -> &'static str {
    match sev {
        Some(0..=2) => "!",
        Some(3) => "E",
        Some(4) => "W",
        Some(5) => "N",
        Some(6) => "I",
        Some(7) => "D",
        _ => "-",
    }
}

fn severity_name(sev: Option<u8>) -> &'static str {
    sev.map(|s| SEVERITY_NAMES[s as usize]).unwrap_or("-")
}

/// How the columns share the pane's width, from the rows on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// A merged view's CLUSTER column (after the time); 0: none.
    pub cluster: usize,
    pub host: usize,
    /// 0: hidden.
    pub program: usize,
    /// Full names (`warning`), or the one-character glyph.
    pub severity: usize,
    pub glyph: bool,
    pub message: usize,
    /// Columns hidden for lack of room (named in the title).
    pub hidden: usize,
}

impl Columns {
    /// Width before the message.
    pub fn prefix(&self) -> usize {
        let program = if self.program > 0 {
            self.program + 1
        } else {
            0
        };
        let cluster = if self.cluster > 0 {
            self.cluster + 1
        } else {
            0
        };
        TIME_WIDTH + 1 + cluster + self.host + 1 + program + self.severity + 1
    }
}

/// TIME and HOST whole (a host wider than half the pane is the only cut); PROGRAM at its
/// content's width, then shrunk, then hidden; SEVERITY whole, then a glyph; a merged view's
/// CLUSTER (`cluster` wide, 0 for none) shrinks last; the message the rest.
pub fn columns<'a>(
    width: usize,
    cluster: usize,
    rows: impl Iterator<Item = &'a LogLine> + Clone,
) -> Columns {
    let cluster = cluster.min(MAX_CLUSTER);
    let cluster_w = |w: usize| if w > 0 { w + 1 } else { 0 };
    let host = rows
        .clone()
        .map(|l| l.host.width().max(1))
        .max()
        .unwrap_or(1)
        .min((width / 2).max(1));
    let program = rows
        .clone()
        .map(|l| l.program.width())
        .max()
        .unwrap_or(0)
        .min(MAX_PROGRAM);
    let severity = rows
        .map(|l| severity_name(l.severity).width())
        .max()
        .unwrap_or(1);
    let fixed = TIME_WIDTH + 1 + cluster_w(cluster) + host + 1;
    let rest = |program: usize, severity: usize| {
        let program = if program > 0 { program + 1 } else { 0 };
        width.saturating_sub(fixed + program + severity + 1)
    };
    let mut c = Columns {
        cluster,
        host,
        program,
        severity,
        glyph: false,
        message: 0,
        hidden: 0,
    };
    if program > 0 && rest(program, severity) < MIN_MESSAGE {
        // Shrink PROGRAM to what leaves the message its minimum, or hide it.
        let room = width.saturating_sub(fixed + severity + 1 + MIN_MESSAGE + 1);
        if room >= MIN_PROGRAM && room < program {
            c.program = room;
        } else {
            c.program = 0;
            c.hidden = 1;
        }
    }
    if rest(c.program, c.severity) < MIN_MESSAGE {
        c.severity = 1;
        c.glyph = true;
    }
    c.message = rest(c.program, c.severity).max(1);
    if c.message < MIN_MESSAGE && cluster > MIN_CLUSTER {
        // The cluster's name gives way (cut with `…`) before the message does.
        let give = (MIN_MESSAGE - c.message).min(cluster - MIN_CLUSTER);
        c.cluster -= give;
        c.message += give;
    }
    c
}

/// The message from column `skip` on (horizontal scroll), in spans with every filter match
/// highlighted, cut to `width` with `…` (unless wrapping: then whole).
fn message_spans<'a>(ctx: &Ctx, msg: &'a str, skip: usize, width: Option<usize>) -> Vec<Span<'a>> {
    let start = msg.char_indices().nth(skip).map(|(i, _)| i);
    let mut spans = Vec::new();
    let shifted: std::borrow::Cow<'a, str> = match start {
        _ if skip == 0 => msg.into(),
        Some(i) => {
            spans.push(Span::styled("…", muted(ctx)));
            msg[i..].into()
        }
        None => {
            spans.push(Span::styled("…", muted(ctx)));
            "".into()
        }
    };
    let width = width.map(|w| w.saturating_sub(spans.len()));
    let text: std::borrow::Cow<'a, str> = match width {
        Some(w) if shifted.width() > w => fit(&shifted, w).into(),
        _ => shifted,
    };
    let filter = ctx.state.logs.filter.as_ref().filter(|f| !f.inverted);
    let Some(f) = filter else {
        spans.push(Span::raw(text));
        return spans;
    };
    let mut last = 0;
    let mut pieces = Vec::new();
    for m in f.regex.find_iter(&text).take(32) {
        if m.start() > last {
            pieces.push((last, m.start(), false));
        }
        if m.end() > m.start() {
            pieces.push((m.start(), m.end(), true));
        }
        last = m.end();
    }
    pieces.push((last, text.len(), false));
    for (a, b, hit) in pieces {
        let piece = match &text {
            std::borrow::Cow::Borrowed(t) => std::borrow::Cow::Borrowed(&t[a..b]),
            std::borrow::Cow::Owned(t) => std::borrow::Cow::Owned(t[a..b].to_string()),
        };
        spans.push(if hit {
            Span::styled(piece, ctx.theme.style(StyleName::Highlight))
        } else {
            Span::raw(piece)
        });
    }
    spans
}

/// The columns before the message.
fn prefix_spans<'a>(ctx: &Ctx, r: &Row<'a>, c: &Columns) -> Vec<Span<'a>> {
    let l = r.line;
    let time = match l.time {
        Some(t) => ctx.state.zone.clock(t, "%H:%M:%S"),
        None => "--:--:--".into(),
    };
    let mut spans = vec![Span::styled(time, muted(ctx))];
    spans.push(if r.marked {
        Span::styled("•", ctx.theme.style(StyleName::Highlight))
    } else {
        Span::raw(" ")
    });
    if c.cluster > 0 {
        // A merged view: the cluster whose logs source sent the line, in its accent.
        spans.push(Span::styled(
            format!("{} ", pad(ctx.state.cluster_name(r.cluster), c.cluster)),
            ctx.theme.cluster(r.cluster),
        ));
    }
    spans.push(Span::raw(pad(&l.host, c.host)));
    spans.push(Span::raw(" "));
    if c.program > 0 {
        spans.push(Span::styled(
            format!("{} ", pad(&l.program, c.program)),
            ctx.theme.style(StyleName::Header),
        ));
    }
    let sev = if c.glyph {
        severity_glyph(l.severity).to_string()
    } else {
        pad(severity_name(l.severity), c.severity)
    };
    spans.push(Span::styled(
        format!("{sev} "),
        severity_style(ctx, l.severity),
    ));
    spans
}

/// Spans that own their text, so a message made for display (a JSON summary) can be drawn.
fn owned_spans(spans: Vec<Span<'_>>) -> Vec<Span<'static>> {
    spans
        .into_iter()
        .map(|s| Span::styled(s.content.into_owned(), s.style))
        .collect()
}

/// `s` in exactly `width` columns: cut with `…`, or padded.
fn pad(s: &str, width: usize) -> String {
    let cut = fit(s, width);
    let w = cut.width();
    format!("{cut}{}", " ".repeat(width.saturating_sub(w)))
}

/// `s` in pieces of at most `width` columns (wrap on), broken after the last space that fits (a
/// word longer than the width is cut where it must be); the space itself starts no piece.
fn chunks(s: &str, width: usize) -> Vec<&str> {
    let width = width.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < s.len() {
        let rest = &s[start..];
        let mut w = 0;
        let mut end = rest.len();
        let mut last_space = None;
        for (i, ch) in rest.char_indices() {
            let cw = ch.width().unwrap_or(0);
            if w + cw > width && i > 0 {
                end = i;
                break;
            }
            if ch == ' ' {
                last_space = Some(i);
            }
            w += cw;
        }
        if end < rest.len() {
            if let Some(sp) = last_space.filter(|sp| *sp > 0) {
                out.push(&rest[..sp]);
                start += sp + 1;
                continue;
            }
        }
        out.push(&rest[..end]);
        start += end;
    }
    if out.is_empty() {
        out.push("");
    }
    out
}

/// The screen rows of one log line: one with wrap off (the message scrolled by `hscroll` and cut
/// with `…`), or the message's pieces, each continuation indented under the message.
/// A line's message as its first row shows it, and the rows pretty-printed below it.
fn message_and_below<'a>(
    logs: &crate::state::logs::Logs,
    r: &Row<'a>,
) -> (std::borrow::Cow<'a, str>, Vec<String>) {
    let l = r.line;
    // A JSON message reads as level, message and fields; pretty, it is indented below.
    let json = crate::model::json_view::payload(&l.message);
    let mut message: std::borrow::Cow<'a, str> = match &json {
        Some(p) => {
            let fields = logs.fields_in(r.cluster);
            crate::model::json_view::summarize(p, &fields.shown, &fields.hidden)
                .text()
                .into()
        }
        None => l.message.as_str().into(),
    };
    // A folded record says how many lines it holds, where the message starts, so a narrow pane
    // still shows it.
    if r.tail > 0 && r.tail_lines.is_empty() {
        message = format!("(+{}) {message}", r.tail).into();
    }
    let below: Vec<String> = match (&json, logs.pretty) {
        (Some(p), true) => crate::model::json_view::pretty(p),
        (None, true) => l.fields.iter().map(|(k, v)| format!("{k}: {v}")).collect(),
        (_, false) => Vec::new(),
    };
    (message, below)
}

/// How many screen rows [`rows_of`] gives a line.
fn height_of(logs: &crate::state::logs::Logs, r: &Row, c: &Columns) -> usize {
    let (message, below) = message_and_below(logs, r);
    let first = if logs.wrap {
        chunks(&message, c.message).len()
    } else {
        1
    };
    first + r.tail_lines.len() + below.len()
}

/// Which lines are drawn, given each line's height: the first one on screen and how many of its
/// rows are cut off at the top. Following, the newest stay at the bottom (the oldest on screen
/// may show only its end); paused, the first lines give way until the selected one fits.
fn placement(
    heights: &[usize],
    selected: Option<usize>,
    follow: bool,
    height: usize,
) -> (usize, usize) {
    match selected {
        Some(sel) if !follow => {
            let mut first = 0;
            while first < sel && heights[first..=sel].iter().sum::<usize>() > height {
                first += 1;
            }
            (first, 0)
        }
        _ => {
            let mut cut = heights.iter().sum::<usize>().saturating_sub(height);
            let mut first = 0;
            while first < heights.len() && cut >= heights[first] && heights[first] > 0 {
                cut -= heights[first];
                first += 1;
            }
            (first, cut)
        }
    }
}

/// The line (its index among `Logs::visible_rows`) drawn on row `row` of the pane's list, whose
/// area is `inner`: a wrapped, expanded or pretty-printed line takes several rows, so a click's
/// row is not the line's index.
pub fn line_at_row(st: &crate::state::State, inner: Rect, row: usize) -> Option<usize> {
    let logs = &st.logs;
    let rows: Vec<Row> = logs.visible_rows().collect();
    let cluster_w = cluster_width(st, logs.visible_rows());
    let cols = columns(inner.width as usize, cluster_w, rows.iter().map(|r| r.line));
    let heights: Vec<usize> = rows.iter().map(|r| height_of(logs, r, &cols)).collect();
    let selected = rows.iter().position(|r| r.selected);
    let (first, cut) = placement(&heights, selected, logs.follow, inner.height as usize);
    let mut at = row + cut;
    for (i, h) in heights.iter().enumerate().skip(first) {
        if at < *h {
            return Some(i);
        }
        at -= h;
    }
    None
}

fn rows_of<'a>(ctx: &Ctx, r: &Row<'a>, c: &Columns, focused: bool) -> Vec<Line<'a>> {
    let logs = &ctx.state.logs;
    let mut out = Vec::new();
    let (message, below) = message_and_below(logs, r);
    if logs.wrap {
        let pieces: Vec<String> = chunks(&message, c.message)
            .into_iter()
            .map(str::to_string)
            .collect();
        for (i, piece) in pieces.into_iter().enumerate() {
            let mut spans = if i == 0 {
                prefix_spans(ctx, r, c)
            } else {
                vec![Span::raw(" ".repeat(c.prefix()))]
            };
            spans.extend(owned_spans(message_spans(ctx, &piece, 0, None)));
            out.push(Line::from(spans));
        }
    } else {
        let mut spans = prefix_spans(ctx, r, c);
        spans.extend(owned_spans(message_spans(
            ctx,
            &message,
            logs.hscroll,
            Some(c.message),
        )));
        out.push(Line::from(spans));
    }
    // An expanded record: its continuation lines, indented under the message, time on the left.
    for t in &r.tail_lines {
        let time = match t.time {
            Some(time) => ctx.state.zone.clock(time, "%H:%M:%S"),
            None => "        ".into(),
        };
        let mut spans = vec![
            Span::styled(time, muted(ctx)),
            Span::raw(" ".repeat(c.prefix().saturating_sub(TIME_WIDTH))),
        ];
        let shown = if logs.wrap {
            t.message.clone()
        } else {
            fit(&t.message, c.message)
        };
        spans.extend(owned_spans(message_spans(ctx, &shown, 0, None)));
        out.push(Line::from(spans));
    }
    for text in below {
        let mut spans = vec![Span::raw(" ".repeat(c.prefix()))];
        let shown = if logs.wrap {
            text
        } else {
            fit(&text, c.message)
        };
        spans.extend(owned_spans(message_spans(ctx, &shown, 0, None)));
        out.push(Line::from(spans).style(muted(ctx)));
    }
    for line in &mut out {
        if focused && r.selected {
            *line = std::mem::take(line).style(ctx.theme.style(StyleName::Selected));
        } else if r.context {
            *line = std::mem::take(line).style(muted(ctx));
        }
    }
    out
}

/// A merged view's CLUSTER column: as wide as the names on screen (at least `MIN_CLUSTER`);
/// none for a single cluster.
fn cluster_width<'a>(st: &crate::state::State, rows: impl Iterator<Item = Row<'a>>) -> usize {
    if !st.merged() {
        return 0;
    }
    rows.map(|r| st.cluster_name(r.cluster).width())
        .max()
        .unwrap_or(0)
        .max(MIN_CLUSTER)
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let logs = &st.logs;
    let kind = st.backend_names(crate::model::SourceKind::Logs);
    // A narrow pane (80×24 gives it ~40 columns) keeps its title for what changes.
    let narrow = area.width < 60;
    let mut title = vec![Span::raw(if kind.is_empty() || narrow {
        " Logs ".to_string()
    } else {
        format!(" Logs ({kind}) ")
    })];
    if logs.hist.open {
        title.push(Span::styled(
            "histogram ",
            ctx.theme.style(StyleName::Highlight),
        ));
    }
    title.push(if logs.follow {
        Span::styled("follow ", ctx.theme.style(StyleName::Ok))
    } else {
        Span::styled(
            format!(
                "PAUSED{} ",
                if logs.unseen > 0 {
                    format!(", {} new", logs.unseen)
                } else {
                    String::new()
                }
            ),
            ctx.theme.style(StyleName::Warning),
        )
    });
    if let Some(t) = logs.threshold_label() {
        title.push(Span::styled(format!("{t} "), muted(ctx)));
    }
    title.extend(super::at_span(ctx, crate::state::Pane::Logs));
    title.extend(super::scope_span(ctx));
    if let Some(f) = &logs.filter {
        let mode = match logs.mode {
            FilterMode::Filter if logs.context > 0 => format!(" ±{}", logs.context),
            FilterMode::Filter => String::new(),
            FilterMode::Highlight if narrow => " hl".into(),
            FilterMode::Highlight => " highlight".into(),
        };
        title.push(Span::styled(
            format!(
                "/{}/ {} {}{mode} ",
                fit(&f.text, 20),
                logs.hit_count(),
                if logs.hit_count() == 1 {
                    "match"
                } else {
                    "matches"
                }
            ),
            ctx.theme.style(StyleName::Highlight),
        ));
    }
    if logs.mark_count() > 0 || logs.marks_dropped > 0 {
        let dropped = if logs.marks_dropped > 0 {
            format!(", {} dropped", logs.marks_dropped)
        } else {
            String::new()
        };
        title.push(Span::styled(
            format!(
                "{} mark{}{dropped} ",
                logs.mark_count(),
                if logs.mark_count() == 1 { "" } else { "s" }
            ),
            muted(ctx),
        ));
    }
    if logs.hscroll > 0 && !logs.wrap {
        title.push(Span::styled(format!("→{} ", logs.hscroll), muted(ctx)));
    }
    let cluster_w = cluster_width(st, logs.visible_rows());
    let cols = columns(
        (area.width as usize).saturating_sub(2),
        cluster_w,
        logs.visible_rows()
            .map(|r| r.line)
            .collect::<Vec<_>>()
            .into_iter(),
    );
    if cols.hidden > 0 && !logs.hist.open {
        title.push(Span::styled(format!("+{} col ", cols.hidden), muted(ctx)));
    }
    if logs.dropped > 0 {
        title.push(Span::styled(
            format!("{} dropped (buffer {}) ", logs.dropped, logs.capacity()),
            ctx.theme.style(StyleName::Warning),
        ));
    }
    title.extend(super::stale_span(ctx, SourceKind::Logs));
    let block = pane_block(ctx, Pane::Logs, area, Line::from(title));
    let mut inner = block.inner(area);
    frame.render_widget(block, area);
    if kind.is_empty() {
        frame.render_widget(
            Paragraph::new(format!(
                "not configured — add logs = {{ kind = \"redis\", url = \"redis://…\", channel = \"syslog\" }} (or elasticsearch, loki) to [clusters.{}]",
                st.cluster
            ))
            .style(muted(ctx))
            .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    let said = |h: Option<&Health>| match h {
        Some(Health::Retrying { at, attempt, error }) => Some(format!(
            "{} — retry #{attempt} in {}",
            fit(error, 300),
            duration_short((*at - st.now).num_seconds().max(0))
        )),
        Some(Health::Failed(e)) => Some(format!("logs source failed: {e}")),
        _ => None,
    };
    // A merged view: each cluster's logs source apart, the ones in trouble named by their cluster.
    let problem = if st.merged() {
        let each: Vec<String> = st
            .cluster_ids()
            .filter_map(|c| {
                said(st.health_in(c, SourceKind::Logs))
                    .map(|p| format!("{}: {p}", st.cluster_name(c)))
            })
            .collect();
        (!each.is_empty()).then(|| each.join(" · "))
    } else {
        said(st.health_of(SourceKind::Logs))
    };
    if let Some(p) = problem {
        frame.render_widget(
            Paragraph::new(p).style(ctx.theme.style(StyleName::Warning)),
            Rect { height: 1, ..inner },
        );
        inner.y += 1;
        inner.height = inner.height.saturating_sub(1);
    }
    if logs.hist.open {
        super::histogram::draw(frame, inner, ctx);
        return;
    }
    if logs.is_empty() {
        frame.render_widget(
            Paragraph::new("waiting for log lines …").style(muted(ctx)),
            inner,
        );
        return;
    }
    if logs.match_count() == 0 {
        frame.render_widget(
            Paragraph::new(format!(
                "no line matches ({} buffered) — Esc clears the filter",
                logs.len()
            ))
            .style(muted(ctx)),
            inner,
        );
        return;
    }
    // The lines on screen are the reducer's (`Logs::fit`, from the layout's rows).
    let focused = st.focus == Pane::Logs;
    let rows: Vec<Row> = logs.visible_rows().collect();
    let cols = columns(inner.width as usize, cluster_w, rows.iter().map(|r| r.line));
    let entries: Vec<Vec<Line>> = rows
        .iter()
        .map(|r| rows_of(ctx, r, &cols, focused))
        .collect();
    // Wrapped lines take more rows (`placement`; a click finds its line the same way).
    let heights: Vec<usize> = entries.iter().map(Vec::len).collect();
    let selected = rows.iter().position(|r| r.selected);
    let (first, cut) = placement(&heights, selected, logs.follow, inner.height as usize);
    let lines: Vec<Line> = entries
        .into_iter()
        .skip(first)
        .flatten()
        .skip(cut)
        .collect();
    super::paint::lines(frame.buffer_mut(), inner, &lines);
}

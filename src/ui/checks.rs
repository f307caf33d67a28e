//! The checks table: status, entity, check, occurrences, time in state, last run, history strip,
//! silenced marker and the first line of output (`◆` before the status: marked for a bulk silence). Columns fit their content and the pane
//! (`ui::table`): ENTITY and CHECK are never cut; HISTORY, LAST, DUR and OCC shrink, then hide, in
//! that order; the output takes what is left. Keeps the last good data (marked stale) when the
//! backend is down.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::fmt::fit_line;
use super::paint::{self, Row};
use super::table::{self, Column, Give};
use super::{muted, pane_block, visible_spans, Ctx};
use crate::model::format::{age, duration_short};
use crate::model::mute::Mute;
use crate::model::text::{fit, visible};
use crate::model::{
    severity_of, status_label, text::first_line, CheckResult, Health, Severity, SourceKind,
};
use crate::state::checks::ChecksSort;
use crate::state::Pane;
use crate::theme::StyleName;

const HISTORY_CELLS: usize = 10;

/// The status as one character, for a narrow pane (distinct without colour too).
fn status_glyph(status: i64) -> &'static str {
    match status {
        0 => "✓",
        1 => "▲",
        2 => "✖",
        _ => "?",
    }
}

/// One glyph per status, so the strip reads without colour too.
fn history_glyph(status: i64) -> &'static str {
    match status {
        0 => "▁",
        1 => "▄",
        2 => "█",
        _ => "?",
    }
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let c = &st.checks;
    let kind = st.backend_names(SourceKind::Checks);
    let mut title: Vec<(u8, Span<'static>)> = vec![(0, Span::raw(" Checks "))];
    if !kind.is_empty() {
        title.push((3, Span::raw(format!("({kind}) "))));
    }
    if c.received() {
        // The counts of what the pane shows (scope, filter, toggles), of everything received.
        let [crit, unkn, warn, ok] = c.view_counts();
        let shown = crit + unkn + warn + ok;
        for (n, label, sev) in [
            (crit, "crit", 2),
            (warn, "warn", 1),
            (unkn, "unkn", 3),
            (ok, "ok", 0),
        ] {
            if n > 0 {
                title.push((
                    if sev == 2 { 0 } else { 1 },
                    Span::styled(
                        format!("{n} {label} "),
                        ctx.theme.severity(severity_of(sev)),
                    ),
                ));
            }
        }
        if shown != c.results.len() {
            title.push((
                1,
                Span::styled(format!("of {} ", c.results.len()), muted(ctx)),
            ));
        }
        let position = match c.selected_index() {
            Some(i) if i >= c.visible_len() => format!(
                "[resolved {}/{}]",
                i - c.visible_len() + 1,
                c.cursor_len() - c.visible_len()
            ),
            _ => c.cursor.position(c.visible_len()),
        };
        title.push((2, Span::styled(format!("{position} "), muted(ctx))));
        // A merged view: how many results each cluster sent, in its accent.
        if st.merged() {
            for cl in st.cluster_ids() {
                let n = c.results.iter().filter(|r| r.cluster == cl).count();
                title.push((
                    1,
                    Span::styled(
                        format!("{}:{n} ", st.cluster_name(cl)),
                        ctx.theme.cluster(cl),
                    ),
                ));
            }
        }
    }
    if c.marked_count() > 0 {
        title.push((
            0,
            Span::styled(
                format!("◆{} marked ", c.marked_count()),
                ctx.theme.style(StyleName::Highlight),
            ),
        ));
    }
    title.extend(super::at_span(ctx, crate::state::Pane::Checks).map(|s| (0, s)));
    title.extend(super::scope_span(ctx).map(|s| (0, s)));
    if c.hide_ok {
        title.push((2, Span::styled("[no OK] ", muted(ctx))));
    }
    if c.hide_silenced {
        title.push((2, Span::styled("[no silenced] ", muted(ctx))));
    }
    title.extend(super::resolved_rows::title_span(ctx).map(|s| (2, s)));
    title.extend(
        super::mute_cell::title_spans(ctx)
            .into_iter()
            .map(|s| (2, s)),
    );
    if let Some(f) = &c.filter {
        title.push((
            1,
            Span::styled(
                format!("/{}/ ", fit(&f.text, 24)),
                ctx.theme.style(StyleName::Highlight),
            ),
        ));
    }
    title.extend(super::stale_span(ctx, SourceKind::Checks).map(|s| (0, s)));
    let mut inner = super::layout::inner(area);

    // A backend problem is always shown, above the last good data when there is some.
    let problem = problem_line(ctx);
    if !c.received() || c.visible_len() == 0 {
        let block = pane_block(ctx, Pane::Checks, area, super::title_parts(title, area));
        frame.render_widget(block, area);
        if let Some(problem) = problem {
            frame.render_widget(
                Paragraph::new(problem)
                    .style(ctx.theme.style(StyleName::Warning))
                    .wrap(Wrap { trim: true }),
                inner,
            );
            if !c.received() {
                return;
            }
            inner.y += 1;
            inner.height = inner.height.saturating_sub(1);
        }
        let msg = if !c.received() && kind.is_empty() {
            format!("not configured — add checks = {{ kind = \"sensu-go\" | \"sensu-core\" | \"alertmanager\", url = … }} to [clusters.{}]", st.cluster)
        } else if !c.received() {
            format!("waiting for the first answer from {kind} …")
        } else if c.results.is_empty() {
            "no check results reported".to_string()
        } else {
            format!(
                "nothing to show ({} results hidden by scope/filter/toggles — Esc clears)",
                c.results.len()
            )
        };
        frame.render_widget(
            Paragraph::new(msg)
                .style(muted(ctx))
                .wrap(Wrap { trim: true }),
            inner,
        );
        if inner.height > 4 && c.received() {
            let below = Rect {
                y: inner.y + 3,
                height: inner.height - 3,
                ..inner
            };
            // No live rows: the cursor is on the resolved ones.
            let selected = c.selected_index();
            let room = (below.height as usize).saturating_sub(1).max(1);
            let first = selected.map_or(0, |s| s.saturating_sub(room - 1));
            super::resolved_rows::draw(frame, below, ctx, true, first, selected);
        }
        return;
    }
    if let Some(problem) = problem {
        frame.render_widget(
            Paragraph::new(fit(&problem, inner.width as usize))
                .style(ctx.theme.style(StyleName::Warning)),
            Rect { height: 1, ..inner },
        );
        inner.y += 1;
        inner.height = inner.height.saturating_sub(1);
    }

    // The rows and the scroll position are the reducer's, from the layout (`ui::layout`). The
    // recently resolved rows follow the live ones under their heading line: in lines, live row
    // `i` is line `i`, the heading line `live`, resolved row `j` line `live + 1 + j` — the
    // window starts at the cursor's offset and moves one line on where the heading would push
    // the selected row out.
    let selected = c.selected_index().unwrap_or(0);
    let live = c.visible_len();
    let resolved_n = c.cursor_len() - live;
    let page = c.cursor.rows().max(1);
    let line_of = |i: usize| if i < live { i } else { i + 1 };
    let mut top = c.cursor.offset().min(c.cursor_len().saturating_sub(1));
    if top > live {
        top += 1;
    }
    if line_of(selected) >= top + page {
        top = line_of(selected) + 1 - page;
    }
    let offset = top.min(live);
    let live_shown = live.min(top + page).saturating_sub(top);
    let rows: Vec<&CheckResult> = c.visible_rows(offset, live_shown).collect();
    let mutes: Vec<Mute> = (offset..offset + rows.len())
        .map(|i| c.mute_of_row(i).cloned().unwrap_or(Mute::Active))
        .collect();

    let mark = |s: ChecksSort| {
        if c.sort.unwrap_or(ChecksSort::Worst) != s {
            ""
        } else if c.descending {
            "▼"
        } else {
            "▲"
        }
    };
    let titles = [
        format!("ST{}", mark(ChecksSort::Worst)),
        format!("ENTITY{}", mark(ChecksSort::Entity)),
        format!("CHECK{}", mark(ChecksSort::Check)),
        "OCC".to_string(),
        format!("DUR{}", mark(ChecksSort::Duration)),
        format!("LAST{}", mark(ChecksSort::LastRun)),
        "HISTORY".to_string(),
        "STATE".to_string(),
        "OUTPUT".to_string(),
    ];
    let occ = |r: &CheckResult| {
        if r.occurrences > 9999 {
            "9k+".to_string()
        } else {
            r.occurrences.to_string()
        }
    };
    let last = |r: &CheckResult| {
        r.executed
            .map(|t| duration_short((st.now - t).num_seconds()))
            .unwrap_or_else(|| "-".into())
    };
    let mut cols = vec![
        // Narrow, the status is a glyph (✖ ▲ ? ✓) in its colour.
        Column::new("ST", Give::Shrink { min: 1, rank: 4 }),
        Column::new("ENTITY", Give::Never),
        Column::new("CHECK", Give::Never),
        Column::new("OCC", Give::Shrink { min: 3, rank: 3 }),
        Column::new("DUR", Give::Shrink { min: 3, rank: 2 }),
        Column::new("LAST", Give::Shrink { min: 3, rank: 1 }),
        Column::new("HISTORY", Give::Shrink { min: 3, rank: 0 }),
        // Narrow, the state is its glyph (● ◌ ⊘ ⚑).
        Column::new("STATE", Give::Shrink { min: 1, rank: 5 }),
        Column::new("OUTPUT", Give::Rest { min: 8 }),
    ];
    // A merged view's CLUSTER column: kept last here (the indexes above stay), drawn first.
    if st.merged() {
        let mut c = Column::new("CLUSTER", Give::Shrink { min: 4, rank: 6 });
        c.fit_cell("CLUSTER");
        for r in &rows {
            c.fit_cell(st.cluster_name(r.cluster));
        }
        cols.push(c);
    }
    for (col, t) in cols.iter_mut().zip(&titles) {
        col.fit_cell(t);
    }
    for (r, m) in rows.iter().zip(&mutes) {
        cols[7].fit_cell(&super::mute_cell::text(r, m, st.now));
    }
    for r in &rows {
        let mark = if c.is_marked(r) { "◆" } else { "" };
        cols[0].fit_cell(&format!("{mark}{}", status_label(r.status)));
        cols[1].fit_cell(&visible(if r.entity.is_empty() { "-" } else { &r.entity }));
        cols[2].fit_cell(&visible(&r.check));
        cols[3].fit_cell(&occ(r));
        cols[4].fit_cell(&age(st.now, r.since));
        cols[5].fit_cell(&last(r));
        cols[6].content = cols[6].content.max(r.history.len().min(HISTORY_CELLS));
        cols[8].fit_cell(&first_line(&r.output));
    }
    // Nothing on screen is muted: every row would say `active`, so the state column is left
    // out (and not counted as hidden).
    const STATE: usize = 7;
    let widths = if mutes.iter().all(Mute::is_active) {
        let others: Vec<Column> = cols
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != STATE)
            .map(|(_, c)| c.clone())
            .collect();
        let mut w = table::widths(&others, inner.width as usize, 1);
        if let Some(note) = table::hidden_note(&w) {
            title.push((1, Span::styled(format!("{note} "), muted(ctx))));
        }
        w.insert(STATE, None);
        w
    } else {
        let w = table::widths(&cols, inner.width as usize, 1);
        if let Some(note) = table::hidden_note(&w) {
            title.push((1, Span::styled(format!("{note} "), muted(ctx))));
        }
        w
    };
    let block = pane_block(ctx, Pane::Checks, area, super::title_parts(title, area));
    frame.render_widget(block, area);

    let cluster_w = widths.get(CLUSTER).copied().flatten();
    let cluster_header = cluster_w.map(|w| Line::from(fit("CLUSTER", w)));
    let header = Row::new(
        cluster_header
            .into_iter()
            .chain(titles.iter().zip(&widths).filter_map(|(t, w)| {
                w.map(|w| {
                    // A one-character column says its first letter rather than `…`.
                    Line::from(if w == 1 {
                        t.chars().next().map(String::from).unwrap_or_default()
                    } else {
                        fit(t, w)
                    })
                })
            })),
    )
    .style(ctx.theme.style(StyleName::Header));
    let body: Vec<Row> = rows
        .iter()
        .zip(&mutes)
        .map(|(r, m)| row(ctx, r, m, &widths, &occ(r), &last(r)))
        .collect();
    let column_widths: Vec<u16> = cluster_w
        .into_iter()
        .chain(widths.iter().take(CLUSTER).flatten().copied())
        .map(|w| w as u16)
        .collect();
    let on_live = (selected < live).then(|| selected.saturating_sub(offset));
    paint::table(
        frame.buffer_mut(),
        inner,
        &column_widths,
        &header,
        &body,
        ctx.theme.cursor(st.focus == Pane::Checks),
        on_live,
    );
    // Under the rows (and their header): the heading and the resolved rows in the window.
    let used = rows.len() as u16 + 1;
    if resolved_n > 0 && inner.height > used {
        let below = Rect {
            y: inner.y + used,
            height: inner.height - used,
            ..inner
        };
        let heading = top <= live;
        let first = if heading { 0 } else { top - live - 1 };
        let on_resolved = selected.checked_sub(live);
        super::resolved_rows::draw(frame, below, ctx, heading, first, on_resolved);
    }
}

/// Where a merged view's CLUSTER column is among the widths (it is drawn first).
const CLUSTER: usize = 9;

fn row<'a>(
    ctx: &Ctx,
    r: &'a CheckResult,
    m: &Mute,
    widths: &[Option<usize>],
    occ: &str,
    last: &str,
) -> Row<'a> {
    let st = ctx.state;
    let sev = ctx.theme.severity(r.severity());
    let text = Style::default();
    let plain = |s: &str, w: Option<usize>, style: Style| {
        w.map(|w| Line::from(Span::styled(fit(s, w), style)))
    };
    let named = |line: Line<'a>, w: Option<usize>| w.map(|w| fit_line(line, w));
    // An alert without an `instance` label has no entity.
    let entity = if r.entity.is_empty() {
        Line::from(Span::styled("-", muted(ctx)))
    } else {
        Line::from(visible_spans(ctx, &r.entity, text))
    };
    let strip = widths[6].map(|w| {
        let spans: Vec<Span> = r
            .history
            .iter()
            .rev()
            .take(w.min(HISTORY_CELLS))
            .rev()
            .map(|p| {
                Span::styled(
                    history_glyph(p.status),
                    ctx.theme.severity(severity_of(p.status)),
                )
            })
            .collect();
        Line::from(spans)
    });
    let state = widths[7].map(|w| {
        Line::from(Span::styled(
            super::mute_cell::fitted(r, m, st.now, w),
            super::mute_cell::style(ctx, r, m),
        ))
    });
    let output_style = match r.severity() {
        Severity::Ok => muted(ctx),
        _ => text,
    };
    let status = match widths[0] {
        Some(w) if w < 4 => status_glyph(r.status),
        _ => status_label(r.status),
    };
    // Marked for a bulk silence: `◆` leads the status.
    let status = widths[0].map(|w| {
        if st.checks.is_marked(r) {
            Line::from(vec![
                Span::styled("◆", ctx.theme.style(StyleName::Highlight)),
                Span::styled(fit(status, w.saturating_sub(1)), sev),
            ])
        } else {
            Line::from(Span::styled(fit(status, w), sev))
        }
    });
    let cluster = widths.get(CLUSTER).copied().flatten().map(|w| {
        Line::from(Span::styled(
            fit(st.cluster_name(r.cluster), w),
            ctx.theme.cluster(r.cluster),
        ))
    });
    Row::new(
        [
            cluster,
            status,
            named(entity, widths[1]),
            named(Line::from(visible_spans(ctx, &r.check, text)), widths[2]),
            plain(occ, widths[3], text),
            plain(&age(st.now, r.since), widths[4], text),
            plain(last, widths[5], text),
            strip,
            state,
            plain(&first_line(&r.output), widths[8], output_style),
        ]
        .into_iter()
        .flatten(),
    )
}

fn problem_line(ctx: &Ctx) -> Option<String> {
    let st = ctx.state;
    let kind = st.backends.checks.as_deref().unwrap_or("checks");
    match st.health_of(SourceKind::Checks)? {
        Health::Retrying { at, error, .. } => Some(format!(
            "{} — retrying in {}",
            super::short_error(kind, error),
            duration_short((*at - st.now).num_seconds().max(0))
        )),
        Health::Failed(e) => Some(format!(
            "checks source failed: {}",
            super::short_failure(kind, e)
        )),
        _ => None,
    }
}

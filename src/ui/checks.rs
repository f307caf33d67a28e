//! The checks table: status, entity, check, occurrences, time in state, last run, history strip,
//! silenced marker and the first line of output. Keeps the last good data (marked stale) when the
//! backend is down.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{muted, pane_block, visible_spans, Ctx};
use crate::model::format::{age, duration_short};
use crate::model::text::fit;
use crate::model::{severity_of, status_label, text::first_line, CheckResult, Health, SourceKind};
use crate::state::Pane;
use crate::theme::StyleName;

const HISTORY_CELLS: usize = 10;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let c = &st.checks;
    let kind = st.backends.checks.clone().unwrap_or_default();
    let mut title = vec![Span::raw(if kind.is_empty() {
        " Checks ".to_string()
    } else {
        format!(" Checks ({kind}) ")
    })];
    if c.received() {
        let [crit, unkn, warn, ok] = c.counts();
        for (n, label, sev) in [
            (crit, "crit", 2),
            (warn, "warn", 1),
            (unkn, "unkn", 3),
            (ok, "ok", 0),
        ] {
            if n > 0 {
                title.push(Span::styled(
                    format!("{n} {label} "),
                    ctx.theme.severity(severity_of(sev)),
                ));
            }
        }
    }
    title.extend(super::scope_span(ctx));
    if c.hide_ok {
        title.push(Span::styled("[no OK] ", muted(ctx)));
    }
    if c.hide_silenced {
        title.push(Span::styled("[no silenced] ", muted(ctx)));
    }
    if let Some(f) = &c.filter {
        title.push(Span::styled(
            format!("/{}/ ", fit(&f.text, 24)),
            ctx.theme.style(StyleName::Highlight),
        ));
    }
    title.extend(super::stale_span(ctx, SourceKind::Checks));
    let block = pane_block(ctx, Pane::Checks, area, Line::from(title));
    let mut inner = block.inner(area);
    frame.render_widget(block, area);

    // A backend problem is always shown, above the last good data when there is some.
    if let Some(problem) = problem_line(ctx) {
        let h = if c.received() { 1 } else { inner.height };
        let top = Rect {
            height: h.min(inner.height),
            ..inner
        };
        frame.render_widget(
            Paragraph::new(problem)
                .style(ctx.theme.style(StyleName::Warning))
                .wrap(Wrap { trim: true }),
            top,
        );
        if !c.received() {
            return;
        }
        inner.y += 1;
        inner.height = inner.height.saturating_sub(1);
    }
    if !c.received() {
        let msg = if kind.is_empty() {
            format!("not configured — add checks = {{ kind = \"sensu-go\" | \"sensu-core\" | \"alertmanager\", url = … }} to [clusters.{}]", st.cluster)
        } else {
            format!("waiting for the first answer from {kind} …")
        };
        frame.render_widget(
            Paragraph::new(msg)
                .style(muted(ctx))
                .wrap(Wrap { trim: true }),
            inner,
        );
        return;
    }
    if c.visible_len() == 0 {
        let msg = if c.results.is_empty() {
            "no check results reported".to_string()
        } else {
            format!(
                "nothing to show ({} results hidden by scope/filter/toggles — Esc clears)",
                c.results.len()
            )
        };
        frame.render_widget(Paragraph::new(msg).style(muted(ctx)), inner);
        return;
    }

    // The rows and the scroll position are the reducer's, from the layout (`ui::layout`).
    let selected = c.selected_index().unwrap_or(0);
    let offset = c.cursor.offset();
    let rows_on_screen = c.cursor.rows();

    let header = Row::new([
        "ST", "ENTITY", "CHECK", "OCC", "DUR", "LAST", "HISTORY", "S", "OUTPUT",
    ])
    .style(ctx.theme.style(StyleName::Header));
    let rows = c.visible_rows(offset, rows_on_screen).map(|r| row(ctx, r));
    let widths = [
        Constraint::Length(4),
        Constraint::Fill(2),
        Constraint::Fill(2),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(4),
        Constraint::Length(HISTORY_CELLS as u16),
        Constraint::Length(1),
        Constraint::Fill(3),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(if st.focus == Pane::Checks {
            ctx.theme.style(StyleName::Selected)
        } else {
            muted(ctx).add_modifier(ratatui::style::Modifier::REVERSED)
        });
    let mut ts = TableState::default().with_selected(selected.checked_sub(offset));
    frame.render_stateful_widget(table, inner, &mut ts);
}

fn row<'a>(ctx: &Ctx, r: &'a CheckResult) -> Row<'a> {
    let st = ctx.state;
    let sev = ctx.theme.severity(r.severity());
    let strip: Vec<Span> = r
        .history
        .iter()
        .rev()
        .take(HISTORY_CELLS)
        .rev()
        .map(|p| Span::styled("▪", ctx.theme.severity(severity_of(p.status))))
        .collect();
    let occ = if r.occurrences > 9999 {
        "9k+".to_string()
    } else {
        r.occurrences.to_string()
    };
    let text = ratatui::style::Style::default();
    // An alert without an `instance` label has no entity.
    let entity = if r.entity.is_empty() {
        Line::from(Span::styled("-", muted(ctx)))
    } else {
        Line::from(visible_spans(ctx, &r.entity, text))
    };
    Row::new(vec![
        Cell::from(Span::styled(status_label(r.status), sev)),
        Cell::from(entity),
        Cell::from(Line::from(visible_spans(ctx, &r.check, text))),
        Cell::from(occ),
        Cell::from(age(st.now, r.since)),
        Cell::from(
            r.executed
                .map(|t| duration_short((st.now - t).num_seconds()))
                .unwrap_or_else(|| "-".into()),
        ),
        Cell::from(Line::from(strip)),
        Cell::from(if r.silenced {
            Span::styled("S", ctx.theme.style(StyleName::Key))
        } else {
            Span::raw(" ")
        }),
        Cell::from(first_line(&r.output).into_owned()),
    ])
}

fn problem_line(ctx: &Ctx) -> Option<String> {
    let st = ctx.state;
    match st.health_of(SourceKind::Checks)? {
        Health::Retrying { at, attempt, error } => Some(format!(
            "{} — retry #{attempt} in {}",
            fit(error, 300),
            duration_short((*at - st.now).num_seconds().max(0))
        )),
        Health::Failed(e) => Some(format!("checks source failed: {e}")),
        _ => None,
    }
}

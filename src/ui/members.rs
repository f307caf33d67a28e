//! The membership table. Only the rows on screen are built, so 100k members draw as fast as 50.
//! Columns fit their content and the pane (`ui::table`): INSTANCE and ADDRESS are never cut;
//! VERSION, AGE, TTL and ROLE shrink, then hide, in that order. The scoped row is marked `▶`, and
//! each member's failing checks show as a badge (`●2 crit`).

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::table::{self, Column, Give};
use super::{muted, pane_block, Ctx};
use crate::model::format::{age, duration_short};
use crate::model::text::fit;
use crate::model::{Health, Member, Severity, SourceKind};
use crate::state::checks::Badge;
use crate::state::members::SortColumn;
use crate::state::Pane;
use crate::theme::StyleName;

/// The cells of one row, as text and style, before the widths are known.
struct Cells {
    marker: &'static str,
    role: String,
    instance: String,
    addr: String,
    badge: Option<(String, Style)>,
    ttl: (String, Style),
    age: String,
    version: String,
}

fn badge_text(b: Badge) -> String {
    let word = match b.worst {
        Severity::Critical => "crit",
        Severity::Warning => "warn",
        Severity::Unknown => "unkn",
        Severity::Ok => "ok",
    };
    format!("●{} {word}", b.failing)
}

fn cells(ctx: &Ctx, mem: &Member, scoped: bool) -> Cells {
    let st = ctx.state;
    let m = &st.members;
    let ttl = if mem.lease == 0 {
        ("-".to_string(), muted(ctx))
    } else {
        match m.lease_remaining(mem.lease, st.members_clock()) {
            Some(s) if s <= 5 => (duration_short(s), ctx.theme.style(StyleName::Warning)),
            Some(s) => (duration_short(s), Style::default()),
            None => ("…".to_string(), muted(ctx)),
        }
    };
    let host = mem
        .addr()
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(mem.addr());
    let badge = st
        .checks
        .badge(&[mem.instance(), host])
        .map(|b| (badge_text(b), ctx.theme.severity(b.worst)));
    Cells {
        marker: if scoped { "▶" } else { " " },
        role: mem.role().to_string(),
        instance: mem.instance().to_string(),
        addr: mem.addr().to_string(),
        badge,
        ttl,
        age: age(st.now, mem.started_at()),
        version: mem.version_label().to_string(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let m = &st.members;
    // Parts of the title by importance (0 stays, higher numbers go first when narrow).
    let mut title: Vec<(u8, Span<'static>)> = vec![
        (0, Span::raw(" Members ")),
        (3, Span::raw(format!("(etcd {}) ", m.prefix))),
    ];
    if m.synced {
        let shown = if m.filter.is_some() {
            format!("{}/{} ", m.visible_len(), m.len())
        } else {
            format!("{} ", m.len())
        };
        title.push((0, Span::styled(shown, ctx.theme.style(StyleName::Title))));
        title.push((
            2,
            Span::styled(
                format!("{} ", m.cursor.position(m.visible_len())),
                muted(ctx),
            ),
        ));
    }
    if let Some(f) = &m.filter {
        title.push((
            1,
            Span::styled(
                format!("/{}/ ", fit(&f.text, 30)),
                ctx.theme.style(StyleName::Highlight),
            ),
        ));
    }
    title.extend(super::scope_span(ctx).map(|s| (0, s)));
    title.extend(super::stale_span(ctx, SourceKind::Etcd).map(|s| (0, s)));
    let inner = super::layout::inner(area);
    if !m.synced || m.visible_len() == 0 {
        let block = pane_block(ctx, Pane::Members, area, super::title_parts(title, area));
        frame.render_widget(block, area);
        frame.render_widget(
            Paragraph::new(empty_message(ctx))
                .style(muted(ctx))
                .wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        );
        return;
    }

    // The rows and the scroll position are the reducer's, from the layout (`ui::layout`).
    // Nothing selected (at start, or after the selected member left): no row looks chosen.
    let cursor = m.selected_index();
    let offset = m.cursor.offset();
    let rows: Vec<Cells> = m
        .visible_rows(offset, m.cursor.rows())
        .enumerate()
        .map(|(i, mem)| cells(ctx, mem, cursor == Some(offset + i)))
        .collect();

    let sort_mark = |c: SortColumn| match m.sort {
        Some(s) if s == c => {
            if m.descending {
                "▼"
            } else {
                "▲"
            }
        }
        _ => "",
    };
    let header = |c: SortColumn| format!("{}{}", c.title(), sort_mark(c));
    let titles = [
        header(SortColumn::Role),
        header(SortColumn::Instance),
        header(SortColumn::Addr),
        "CHECKS".to_string(),
        header(SortColumn::Ttl),
        header(SortColumn::Age),
        header(SortColumn::Version),
    ];
    let mut cols = [
        Column::new("", Give::Never),
        Column::new("ROLE", Give::Shrink { min: 3, rank: 4 }),
        Column::new("INSTANCE", Give::Never),
        Column::new("ADDRESS", Give::Never),
        Column::new("CHECKS", Give::Never),
        Column::new("TTL", Give::Shrink { min: 3, rank: 3 }),
        Column::new("AGE", Give::Shrink { min: 5, rank: 2 }),
        Column::new("VERSION", Give::Shrink { min: 4, rank: 1 }),
    ];
    cols[0].fit_cell("▶");
    for (i, t) in titles.iter().enumerate() {
        cols[i + 1].fit_cell(t);
    }
    for r in &rows {
        cols[1].fit_cell(&r.role);
        cols[2].fit_cell(&r.instance);
        cols[3].fit_cell(&r.addr);
        cols[4].fit_cell(r.badge.as_ref().map(|b| b.0.as_str()).unwrap_or(""));
        cols[5].fit_cell(&r.ttl.0);
        cols[6].fit_cell(&r.age);
        cols[7].fit_cell(&r.version);
    }
    // No member on screen has a failing check: the column is the first to give its room away.
    if rows.iter().all(|r| r.badge.is_none()) {
        cols[4].give = Give::Shrink { min: 0, rank: 0 };
    }
    let widths = table::widths(&cols, inner.width as usize, 1);
    if let Some(note) = table::hidden_note(&widths[1..]) {
        title.push((1, Span::styled(format!("{note} "), muted(ctx))));
    }
    let roles: Vec<String> = m
        .role_counts()
        .iter()
        .take(8)
        .map(|(r, n)| format!("{r}:{n}"))
        .collect();
    if !roles.is_empty() {
        let more = if m.role_counts().len() > 8 {
            " …"
        } else {
            ""
        };
        title.push((
            4,
            Span::styled(format!("· {}{more} ", roles.join(" ")), muted(ctx)),
        ));
    }
    let block = pane_block(ctx, Pane::Members, area, super::title_parts(title, area));
    frame.render_widget(block, area);

    let cell = |text: &str, w: Option<usize>, style: Style| {
        w.map(|w| Cell::from(Span::styled(fit(text, w), style)))
    };
    let header = Row::new(
        std::iter::once(Some(Cell::from("")))
            .chain(
                titles
                    .iter()
                    .zip(&widths[1..])
                    .map(|(t, w)| cell(t, *w, Style::default())),
            )
            .flatten(),
    )
    .style(ctx.theme.style(StyleName::Header));
    let body = rows.iter().map(|r| {
        let badge = r.badge.clone().unwrap_or_default();
        Row::new(
            [
                cell(r.marker, widths[0], ctx.theme.style(StyleName::Key)),
                cell(&r.role, widths[1], Style::default()),
                cell(&r.instance, widths[2], Style::default()),
                cell(&r.addr, widths[3], Style::default()),
                cell(&badge.0, widths[4], badge.1),
                cell(&r.ttl.0, widths[5], r.ttl.1),
                cell(&r.age, widths[6], Style::default()),
                cell(&r.version, widths[7], Style::default()),
            ]
            .into_iter()
            .flatten(),
        )
    });
    let constraints: Vec<Constraint> = widths
        .iter()
        .flatten()
        .map(|w| Constraint::Length(*w as u16))
        .collect();
    let table = Table::new(body, constraints)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(ctx.theme.cursor(st.focus == Pane::Members));
    let mut ts = TableState::default().with_selected(cursor.and_then(|c| c.checked_sub(offset)));
    frame.render_stateful_widget(table, inner, &mut ts);
}

fn empty_message(ctx: &Ctx) -> String {
    let m = &ctx.state.members;
    if m.synced {
        return if m.filter.is_some() {
            format!(
                "no member matches the filter ({} hidden) — Esc clears it",
                m.len()
            )
        } else {
            format!("no keys under {} yet", m.prefix)
        };
    }
    match ctx.state.health_of(SourceKind::Etcd) {
        Some(Health::Retrying { at, error, .. }) => format!(
            "{} — retrying in {}",
            super::short_error("etcd", error),
            duration_short((*at - ctx.state.now).num_seconds().max(0))
        ),
        Some(Health::Failed(e)) => format!("etcd failed: {}", super::short_failure("etcd", e)),
        Some(Health::NotConfigured) => format!(
            "no etcd configured — add etcd = {{ endpoints = [\"http://…:2379\"], prefix = \"/services/\" }} to [clusters.{}]",
            ctx.state.cluster
        ),
        _ => "connecting to etcd …".to_string(),
    }
}

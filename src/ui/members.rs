//! The membership table. Only the rows on screen are built, so 100k members draw as fast as 50.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::{muted, pane_block, Ctx};
use crate::model::format::{age, duration_short};
use crate::model::text::fit;
use crate::model::{Health, SourceKind};
use crate::state::members::SortColumn;
use crate::state::Pane;
use crate::theme::StyleName;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let m = &st.members;
    let mut title = vec![Span::raw(format!(" Members (etcd {}) ", m.prefix))];
    if m.synced {
        let shown = if m.filter.is_some() {
            format!("{}/{} ", m.visible_len(), m.len())
        } else {
            format!("{} ", m.len())
        };
        title.push(Span::styled(shown, ctx.theme.style(StyleName::Title)));
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
            title.push(Span::styled(
                format!("· {}{more} ", roles.join(" ")),
                muted(ctx),
            ));
        }
    }
    if let Some(f) = &m.filter {
        title.push(Span::styled(
            format!("/{}/ ", fit(&f.text, 30)),
            ctx.theme.style(StyleName::Highlight),
        ));
    }
    title.extend(super::scope_span(ctx));
    title.extend(super::stale_span(ctx, SourceKind::Etcd));
    let block = pane_block(ctx, Pane::Members, area, Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);

    if !m.synced || m.visible_len() == 0 {
        let msg = empty_message(ctx);
        frame.render_widget(
            Paragraph::new(msg)
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
    let rows_on_screen = m.cursor.rows();

    let header = Row::new(SortColumn::ALL.iter().map(|c| {
        let mark = match m.sort {
            Some(s) if s == *c => {
                if m.descending {
                    "▼"
                } else {
                    "▲"
                }
            }
            _ => "",
        };
        Cell::from(format!("{}{mark}", c.title()))
    }))
    .style(ctx.theme.style(StyleName::Header));

    let clock = st.members_clock();
    let rows = m.visible_rows(offset, rows_on_screen).map(|mem| {
        let ttl = if mem.lease == 0 {
            Span::styled("-", muted(ctx))
        } else {
            match m.lease_remaining(mem.lease, clock) {
                Some(s) if s <= 5 => {
                    Span::styled(duration_short(s), ctx.theme.style(StyleName::Warning))
                }
                Some(s) => Span::raw(duration_short(s)),
                None => Span::styled("…", muted(ctx)),
            }
        };
        Row::new(vec![
            Cell::from(mem.role()),
            Cell::from(mem.instance()),
            Cell::from(mem.addr()),
            Cell::from(ttl),
            Cell::from(age(st.now, mem.started_at())),
            Cell::from(mem.version_label()),
        ])
    });
    let widths = [
        Constraint::Length(10),
        Constraint::Fill(2),
        Constraint::Fill(2),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(if st.focus == Pane::Members {
            ctx.theme.style(StyleName::Selected)
        } else {
            ctx.theme
                .style(StyleName::Muted)
                .add_modifier(ratatui::style::Modifier::REVERSED)
        });
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
        Some(Health::Retrying { at, attempt, error }) => format!(
            "cannot reach etcd: {error}\nretry #{attempt} in {}",
            duration_short((*at - ctx.state.now).num_seconds().max(0))
        ),
        Some(Health::Failed(e)) => format!("etcd failed: {e}"),
        Some(Health::NotConfigured) => format!(
            "no etcd configured — add etcd = {{ endpoints = [\"http://…:2379\"], prefix = \"/services/\" }} to [clusters.{}]",
            ctx.state.cluster
        ),
        _ => "connecting to etcd …".to_string(),
    }
}

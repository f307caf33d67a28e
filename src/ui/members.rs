//! The membership table. Only the rows on screen are built, so 100k members draw as fast as 50.
//! Columns fit their content and the pane (`ui::table`): INSTANCE and ADDRESS are never cut;
//! VERSION, AGE, TTL and ROLE shrink, then hide, in that order. The scoped row is marked `▶`, a
//! row marked for a bulk change `◆`, and
//! each member's failing checks show as a badge (`●2 crit`).

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::table::{self, Column, Give};
use super::{muted, paint, pane_block, Ctx};
use crate::model::format::{age, duration_short};
use crate::model::text::fit;
use crate::model::{Health, Member, Severity, SourceKind};
use crate::state::checks::Badge;
use crate::state::members::SortColumn;
use crate::state::Pane;
use crate::theme::StyleName;

/// The cells of one row, as text and style, before the widths are known.
struct Cells {
    /// `◆` marked for a bulk change (it wins: it is what D will act on), `▶` scoped.
    marker: (&'static str, StyleName),
    /// The member's cluster (a merged view) in its accent.
    cluster: (String, Style),
    /// Its cluster's etcd is not live: the row is what etcd said last (drawn muted).
    stale: bool,
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
    let marked = ctx.state.members.is_marked_in(mem.cluster, mem.key());
    let st = ctx.state;
    let m = &st.members;
    let ttl = if mem.lease == 0 {
        ("-".to_string(), muted(ctx))
    } else if st.time.shows_past_members() {
        // The key had a lease then; how long it had left then is not known (a TTL polled now
        // would pass for the past's, and `…` would promise an answer that never comes).
        ("?".to_string(), muted(ctx))
    } else {
        match m.lease_remaining_in(mem.cluster, mem.lease, st.members_clock()) {
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
    let checks = st
        .checks
        .badge_in(mem.cluster, &[mem.instance(), host])
        .map(|b| (badge_text(b), ctx.theme.severity(b.worst)));
    // A member that keeps leaving and coming back says so beside its checks.
    let badge = match (checks, st.churn.flapping_in(mem.cluster, mem.key(), st.now)) {
        (c, None) => c,
        (None, Some(n)) => Some((
            format!("flapping ×{n}"),
            ctx.theme.style(StyleName::Warning),
        )),
        (Some((text, style)), Some(n)) => Some((format!("{text} flapping ×{n}"), style)),
    };
    Cells {
        marker: if marked {
            ("◆", StyleName::Highlight)
        } else if scoped {
            ("▶", StyleName::Key)
        } else {
            (" ", StyleName::Key)
        },
        // A stale cluster's name carries its health dot (as the status bar has it: ◍ retrying,
        // ✕ failed), so the mark survives NO_COLOR.
        cluster: match st.merged() && st.stale_in(mem.cluster, SourceKind::Etcd).is_some() {
            true => (
                format!(
                    "{} {}",
                    st.cluster_name(mem.cluster),
                    super::status::stale_dot(st.health_in(mem.cluster, SourceKind::Etcd))
                ),
                ctx.theme.style(StyleName::Warning),
            ),
            false => (
                st.cluster_name(mem.cluster).to_string(),
                ctx.theme.cluster(mem.cluster),
            ),
        },
        stale: st.merged() && st.stale_in(mem.cluster, SourceKind::Etcd).is_some(),
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
        // A merged view: how many each cluster has (shown / all under a filter), in its accent.
        if st.merged() {
            for c in st.cluster_ids() {
                let n = if m.filter.is_some() {
                    format!("{}/{}", m.visible_in(c), m.count_in(c))
                } else {
                    m.count_in(c).to_string()
                };
                title.push((
                    1,
                    Span::styled(format!("{}:{n} ", st.cluster_name(c)), ctx.theme.cluster(c)),
                ));
            }
        }
        title.push((
            2,
            Span::styled(
                format!("{} ", m.cursor.position(m.visible_len())),
                muted(ctx),
            ),
        ));
    }
    if let Some(p) = &m.listing {
        let total = p.total.map_or("…".to_string(), short_count);
        title.push((
            0,
            Span::styled(
                format!("listing {} / {total} ", short_count(p.listed)),
                ctx.theme.style(StyleName::Highlight),
            ),
        ));
    }
    if let Some(c) = st.narrowed() {
        title.push((
            0,
            Span::styled(
                format!("only {} ", st.cluster_name(c)),
                ctx.theme.cluster(c),
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
    if m.marked_count() > 0 {
        title.push((
            0,
            Span::styled(
                format!("◆{} marked ", m.marked_count()),
                ctx.theme.style(StyleName::Highlight),
            ),
        ));
    }
    title.extend(super::at_span(ctx, Pane::Members).map(|s| (0, s)));
    title.extend(super::scope_span(ctx).map(|s| (0, s)));
    title.extend(super::stale_span(ctx, SourceKind::Etcd).map(|s| (0, s)));
    let inner = super::layout::inner(area);
    // Before the first full listing, its first rows are shown as they arrive.
    if (!m.synced && m.is_empty()) || m.visible_len() == 0 {
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
    // A merged view leads with the CLUSTER column; a single cluster has none.
    let k = usize::from(st.merged());
    let mut titles: Vec<String> = if k == 1 {
        vec!["CLUSTER".to_string()]
    } else {
        Vec::new()
    };
    titles.extend([
        header(SortColumn::Role),
        header(SortColumn::Instance),
        header(SortColumn::Addr),
        format!("CHECKS{}", sort_mark(SortColumn::Flaps)),
        header(SortColumn::Ttl),
        header(SortColumn::Age),
        header(SortColumn::Version),
    ]);
    // The scoped row's `▶` leads its first column (ROLE, or INSTANCE once ROLE is hidden): a
    // column of its own would cost a gap at 80×24. Both keep a cell's room for it.
    let mut cols: Vec<Column> = if k == 1 {
        vec![Column::new("CLUSTER", Give::Shrink { min: 4, rank: 6 })]
    } else {
        Vec::new()
    };
    cols.extend([
        Column::new("ROLE", Give::Shrink { min: 4, rank: 4 }),
        Column::new("INSTANCE", Give::Never),
        Column::new("ADDRESS", Give::Never),
        // Narrow, the badge is its count alone (`●2`, in the colour of the worst status).
        Column::new("CHECKS", Give::Shrink { min: 2, rank: 5 }),
        Column::new("TTL", Give::Shrink { min: 3, rank: 3 }),
        Column::new("AGE", Give::Shrink { min: 5, rank: 2 }),
        Column::new("VERSION", Give::Shrink { min: 4, rank: 1 }),
    ]);
    for (i, (col, t)) in cols.iter_mut().zip(&titles).enumerate() {
        let lead_room = i >= k && i < k + 2;
        col.fit_cell(&format!("{}{t}", if lead_room { " " } else { "" }));
    }
    for r in &rows {
        if k == 1 {
            cols[0].fit_cell(&r.cluster.0);
        }
        cols[k].fit_cell(&format!("▶{}", r.role));
        cols[k + 1].fit_cell(&format!("▶{}", r.instance));
        cols[k + 2].fit_cell(&r.addr);
        cols[k + 3].fit_cell(r.badge.as_ref().map(|b| b.0.as_str()).unwrap_or(""));
        cols[k + 4].fit_cell(&r.ttl.0);
        cols[k + 5].fit_cell(&r.age);
        cols[k + 6].fit_cell(&r.version);
    }
    // No member on screen has a failing check: the column is the first to give its room away.
    if rows.iter().all(|r| r.badge.is_none()) {
        cols[k + 3].give = Give::Shrink { min: 0, rank: 0 };
    }
    let all_widths = table::widths(&cols, inner.width as usize, 1);
    // The pane's own columns, as a single cluster has them; the CLUSTER column's apart.
    let cluster_width = if k == 1 { all_widths[0] } else { None };
    let widths = &all_widths[k..];
    if let Some(note) = table::hidden_note(&all_widths) {
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

    let lead = if widths[0].is_some() { 0 } else { 1 };
    let cell = |text: &str, w: Option<usize>, style: Style| {
        w.map(|w| Line::from(Span::styled(fit(text, w), style)))
    };
    let header = paint::Row::new(titles.iter().zip(&all_widths).enumerate().filter_map(
        |(i, (t, w))| {
            let pad = if i >= k && i - k == lead { " " } else { "" };
            cell(&format!("{pad}{t}"), *w, Style::default())
        },
    ))
    .style(ctx.theme.style(StyleName::Header));
    let body: Vec<paint::Row> = rows
        .iter()
        .map(|r| {
            let badge = r.badge.clone().unwrap_or_default();
            let badge_text = match widths[3] {
                Some(w) if w < badge.0.chars().count() => badge
                    .0
                    .split_once(' ')
                    .map(|(count, _)| count.to_string())
                    .unwrap_or_default(),
                _ => badge.0.clone(),
            };
            let led = |i: usize, text: &str| {
                if i == lead {
                    Line::from(vec![
                        Span::styled(r.marker.0, ctx.theme.style(r.marker.1)),
                        Span::raw(fit(text, widths[i].unwrap_or(1).saturating_sub(1))),
                    ])
                } else {
                    Line::from(fit(text, widths[i].unwrap_or(0)))
                }
            };
            let row_style = if r.stale {
                muted(ctx)
            } else {
                Style::default()
            };
            paint::Row::new(
                [
                    cell(&r.cluster.0, cluster_width, r.cluster.1),
                    widths[0].map(|_| led(0, &r.role)),
                    widths[1].map(|_| led(1, &r.instance)),
                    cell(&r.addr, widths[2], Style::default()),
                    cell(&badge_text, widths[3], badge.1),
                    cell(&r.ttl.0, widths[4], r.ttl.1),
                    cell(&r.age, widths[5], Style::default()),
                    cell(&r.version, widths[6], Style::default()),
                ]
                .into_iter()
                .flatten(),
            )
            .style(row_style)
        })
        .collect();
    let widths: Vec<u16> = all_widths.iter().flatten().map(|w| *w as u16).collect();
    paint::table(
        frame.buffer_mut(),
        inner,
        &widths,
        &header,
        &body,
        ctx.theme.cursor(st.focus == Pane::Members),
        cursor.and_then(|c| c.checked_sub(offset)),
    );
}

/// A count for the listing's progress: 950, 120k, 1M, 1.5M.
fn short_count(n: usize) -> String {
    match n {
        0..1_000 => n.to_string(),
        1_000..1_000_000 => format!("{}k", n / 1_000),
        _ if n % 1_000_000 < 50_000 => format!("{}M", n / 1_000_000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
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
        // Each attempt starts as `Connecting`: an etcd that never answers would otherwise show
        // a calm "connecting" between failures.
        _ => match ctx.state.last_failure.get(&ctx.state.source(SourceKind::Etcd)) {
            Some(error) => format!(
                "connecting to etcd … (the last attempt: {})",
                super::short_error("etcd", error)
            ),
            None => "connecting to etcd …".to_string(),
        },
    }
}

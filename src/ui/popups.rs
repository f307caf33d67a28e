//! Help and member detail, drawn over the panes (confirmations: `confirm`).

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, muted, Ctx};
use crate::action::Action;
use crate::keymap::Context;
use crate::model::format::duration_short;
use crate::model::text::fit;
use crate::model::{member_value::pretty, text::sanitize};
use crate::state::Popup;
use crate::theme::StyleName;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let Some(popup) = &ctx.state.popup else {
        return;
    };
    match popup {
        Popup::Help { scroll } => help(frame, area, ctx, *scroll),
        Popup::MemberDetail {
            key,
            cluster,
            scroll,
            history,
        } => detail(frame, area, ctx, (*cluster, key), *scroll, history),
        Popup::Confirm(confirm) => super::confirm::draw(frame, area, ctx, confirm),
        Popup::Chart { series } => super::chart::draw(frame, area, ctx, series),
        Popup::Churn { scroll } => churn(frame, area, ctx, *scroll),
        Popup::AtDiff { diff, scroll } => at_diff(frame, area, ctx, diff, *scroll),
        Popup::RunPreview(p) => super::run_popups::preview(frame, area, ctx, p),
        Popup::Output(out) => super::run_popups::output(frame, area, ctx, out),
        Popup::Tasks { index } => super::run_popups::tasks(frame, area, ctx, *index),
        other => super::check_popups::draw(frame, area, ctx, other),
    }
}

fn frame_block<'a>(ctx: &Ctx, title: String, danger: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(if danger {
            ctx.theme.style(StyleName::Critical)
        } else {
            ctx.theme.style(StyleName::PopupBorder)
        })
        .style(ctx.theme.style(StyleName::Popup))
}

fn scrolled(frame: &mut Frame, rect: Rect, block: Block, lines: Vec<Line>, scroll: usize) {
    let visible = rect.height.saturating_sub(2) as usize;
    let max = lines.len().saturating_sub(visible);
    let scroll = scroll.min(max);
    // Say where we are when it does not all fit, or what is below the fold goes unnoticed.
    let block = match scroll_hint(scroll, visible, lines.len()) {
        Some(hint) => block.title_bottom(Line::from(hint).right_aligned()),
        None => block,
    };
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll as u16, 0)),
        rect,
    );
}

/// " lines 1–20 of 63 ▼ " for a popup showing `visible` of `total` lines from `scroll`; `None` when
/// everything fits.
fn scroll_hint(scroll: usize, visible: usize, total: usize) -> Option<String> {
    if total <= visible || visible == 0 {
        return None;
    }
    let last = (scroll + visible).min(total);
    let up = if scroll > 0 { "▲" } else { "" };
    let down = if last < total { "▼" } else { "" };
    Some(format!(
        " lines {}–{last} of {total} {up}{down} ",
        scroll + 1
    ))
}

/// `text` in lines of at most `width` columns, broken between words (a word longer than a line
/// is broken where it must).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let wlen = word.chars().count();
        let len = line.chars().count();
        if len > 0 && len + 1 + wlen > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            lines.push(head);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn help(frame: &mut Frame, area: Rect, ctx: &Ctx, scroll: usize) {
    let rect = centered(area, 90, area.height.saturating_sub(2));
    // Inside the border, two columns: the keys, then what they do; both wrap, nothing is cut.
    let inner_w = rect.width.saturating_sub(2) as usize;
    let keys_w = (inner_w / 3).clamp(8, 24);
    let what_w = inner_w.saturating_sub(keys_w + 3).max(8);
    let mut lines = vec![Line::from(Span::styled(
        format!("Keymap {} — active bindings", ctx.keymap.name),
        ctx.theme.style(StyleName::Title),
    ))];
    let mut last = String::new();
    for (section, keys, what) in ctx.keymap.help_rows() {
        if section != last {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                format!("[{section}]"),
                ctx.theme.style(StyleName::Header),
            )));
            last = section;
        }
        let keys = wrap_words(&keys, keys_w);
        let what = wrap_words(&what, what_w);
        for i in 0..keys.len().max(what.len()) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!(
                        "  {:<keys_w$} ",
                        keys.get(i).map(String::as_str).unwrap_or("")
                    ),
                    ctx.theme.style(StyleName::Key),
                ),
                Span::raw(what.get(i).cloned().unwrap_or_default()),
            ]));
        }
    }
    lines.push(Line::default());
    for l in wrap_words(
        "Commands: :q quit · :cluster [NAME|-] switch (alone: list; in a merged view NAME and the list narrow, * shows all) · :health every source · :help · Filters: cluster:NAME first keeps one cluster",
        inner_w,
    ) {
        lines.push(Line::from(Span::styled(l, muted(ctx))));
    }
    let close = ctx
        .keymap
        .key_for(Context::Popup, Action::Back)
        .unwrap_or_else(|| "esc".into());
    let block = frame_block(ctx, format!(" Help — {close} closes "), false);
    scrolled(frame, rect, block, lines, scroll);
}

fn detail(
    frame: &mut Frame,
    area: Rect,
    ctx: &Ctx,
    (cluster, key): (crate::model::ClusterId, &[u8]),
    scroll: usize,
    history: &Option<Result<Vec<crate::model::KvEntry>, String>>,
) {
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    let st = ctx.state;
    let label = |s: &str| Span::styled(format!("{s:<16}"), ctx.theme.style(StyleName::Header));
    let mut lines = Vec::new();
    match st.members.get_in(cluster, key) {
        None => lines.push(Line::from(Span::styled(
            "this member is gone (deleted or its lease expired)",
            ctx.theme.style(StyleName::Warning),
        ))),
        Some(m) => {
            lines.push(Line::from(vec![
                label("key"),
                Span::raw(m.key_text().to_string()),
            ]));
            lines.push(Line::from(vec![
                label("role"),
                Span::raw(m.role().to_string()),
            ]));
            lines.push(Line::from(vec![
                label("instance"),
                Span::raw(m.instance().to_string()),
            ]));
            lines.push(Line::from(vec![
                label("address"),
                Span::raw(m.addr().to_string()),
            ]));
            lines.push(Line::from(vec![
                label("revisions"),
                Span::raw(format!(
                    "created at {}, modified at {}, version {}",
                    m.create_revision,
                    m.mod_revision,
                    m.version()
                )),
            ]));
            let lease = if m.lease == 0 {
                "none (key stays until deleted)".to_string()
            } else if st.time.shows_past_members() {
                format!(
                    "{:x} ({}), TTL then unknown (etcd keeps no history of leases)",
                    m.lease, m.lease
                )
            } else {
                let ttl = st
                    .members
                    .lease_remaining(m.lease, st.members_clock())
                    .map(|s| format!("{} left", duration_short(s)))
                    .unwrap_or_else(|| "TTL unknown".into());
                let watched = st
                    .lease_watch
                    .as_ref()
                    .filter(|w| w.lease == m.lease)
                    .and_then(|w| w.last.zip(w.lowest))
                    .map(|(last, low)| {
                        format!(" · read each second: {last} s now, lowest {low} s since opened")
                    })
                    .unwrap_or_default();
                format!("{:x} ({}), {ttl}{watched}", m.lease, m.lease)
            };
            lines.push(Line::from(vec![label("lease"), Span::raw(lease)]));
            if let Some(t) = m.started_at() {
                lines.push(Line::from(vec![
                    label("started"),
                    Span::raw(crate::model::format::timestamp(t, st.zone)),
                ]));
            }
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                format!("value ({} bytes)", m.value().len()),
                ctx.theme.style(StyleName::Header),
            )));
            for l in pretty(m.value()).lines().take(2000) {
                lines.push(Line::from(format!("  {}", sanitize(l))));
            }
        }
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "earlier revisions",
        ctx.theme.style(StyleName::Header),
    )));
    match history {
        None => lines.push(Line::from(Span::styled("  loading …", muted(ctx)))),
        Some(Err(e)) => lines.push(Line::from(Span::styled(
            format!("  unavailable: {e}"),
            ctx.theme.style(StyleName::Warning),
        ))),
        Some(Ok(h)) if h.is_empty() => lines.push(Line::from(Span::styled(
            "  none kept (first version, or history compacted)",
            muted(ctx),
        ))),
        Some(Ok(h)) => {
            for e in h {
                let v = String::from_utf8_lossy(&e.value);
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("  rev {:<10}", e.mod_revision),
                        ctx.theme.style(StyleName::Key),
                    ),
                    Span::raw(fit(&sanitize(&v.replace('\n', " ")), 200)),
                ]));
            }
        }
    }
    let block = frame_block(
        ctx,
        " Member detail — Esc closes, j/k scroll ".into(),
        false,
    );
    let links = super::links::lines(ctx);
    if lines.len() > 4 && !links.is_empty() {
        lines.splice(4..4, links);
    }
    frame.render_widget(Clear, rect);
    let visible = rect.height.saturating_sub(2) as usize;
    let max = lines.len().saturating_sub(visible);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(max) as u16, 0)),
        rect,
    );
}

/// The churn timeline: a summary (joins, leaves by reason, replacements, who flaps), then every
/// event, newest first.
fn churn(frame: &mut Frame, area: Rect, ctx: &Ctx, scroll: usize) {
    use crate::state::churn::{Change, Why};
    let st = ctx.state;
    let c = &st.churn;
    let count = |f: &dyn Fn(&Change) -> bool| c.events.iter().filter(|e| f(&e.change)).count();
    let joined = count(&|ch| *ch == Change::Joined);
    let left = |w: Why| count(&|ch| *ch == Change::Left(w));
    let replaced = count(&|ch| matches!(ch, Change::Replaced { .. }));
    let mut flapping: Vec<(usize, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // A merged view names each member's cluster: the same key in two clusters is two members.
    let named = |e: &crate::state::churn::Event| {
        let key = crate::model::text::escape_bytes(&e.key);
        if st.merged() {
            format!("{} {key}", st.cluster_name(e.cluster))
        } else {
            key.into_owned()
        }
    };
    for e in c.events.iter().rev() {
        if seen.insert((e.cluster, e.key.clone())) {
            if let Some(n) = c.flapping_in(e.cluster, &e.key, st.now) {
                flapping.push((n, named(e)));
            }
        }
    }
    flapping.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let muted = ctx.theme.style(StyleName::Muted);
    let mut lines = vec![
        Line::from(format!(
            "{joined} joined · {} left ({} lease expired, {} deleted, {} deregistered here) · {replaced} replaced",
            left(Why::LeaseExpired) + left(Why::Deleted) + left(Why::Deregistered),
            left(Why::LeaseExpired),
            left(Why::Deleted),
            left(Why::Deregistered),
        )),
        Line::from(Span::styled(
            format!(
                "flapping: {} (left and came back {}+ times in {} min)",
                if flapping.is_empty() {
                    "none".to_string()
                } else {
                    flapping
                        .iter()
                        .map(|(n, k)| format!("{k} ×{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                c.flap_count,
                c.flap_window.num_minutes()
            ),
            if flapping.is_empty() {
                muted
            } else {
                ctx.theme.style(StyleName::Warning)
            },
        )),
        Line::from(""),
    ];
    if c.events.is_empty() {
        lines.push(Line::from(Span::styled(
            "no member joined or left since the console started",
            muted,
        )));
    }
    for e in c.events.iter().rev() {
        let style = match e.change {
            Change::Left(Why::LeaseExpired) | Change::Left(Why::Deleted) => {
                ctx.theme.style(StyleName::Warning)
            }
            _ => ratatui::style::Style::default(),
        };
        lines.push(Line::from(vec![
            // The time of day, as the logs pane shows it (the title says the zone is the
            // console's): the timeline spans one session.
            Span::styled(format!("{}  ", st.zone.clock(e.at, "%H:%M:%S")), muted),
            Span::raw(format!("{:<32} ", named(e))),
            Span::styled(e.change.label(), style),
        ]));
    }
    let rect = centered(area, 90, 80);
    // Wrapped: the summary must be read whole at 80 columns.
    let inner = rect.width.saturating_sub(2).max(1) as usize;
    let lines = lines
        .into_iter()
        .flat_map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            if text.chars().count() <= inner || l.spans.len() != 1 {
                vec![l]
            } else {
                let style = l.spans[0].style;
                wrap_words(&text, inner)
                    .into_iter()
                    .map(|w| Line::from(Span::styled(w, style)))
                    .collect()
            }
        })
        .collect();
    let block = frame_block(ctx, format!(" Churn — cluster {} ", st.cluster), false);
    scrolled(frame, rect, block, lines, scroll);
}

/// `d` while the time cursor is set: who joined, left and changed between its moment and now.
fn at_diff(
    frame: &mut Frame,
    area: Rect,
    ctx: &Ctx,
    diff: &crate::state::time_cursor::Diff,
    scroll: usize,
) {
    let st = ctx.state;
    let muted = ctx.theme.style(StyleName::Muted);
    let when = crate::state::time_cursor::shown(diff.at, st.zone);
    // Each cluster has its own revision clock: a merged view names whose revision is whose.
    let revisions = if st.merged() {
        let each: Vec<String> = diff
            .revisions
            .iter()
            .map(|(c, r)| format!("{} rev {r}", st.cluster_name(*c)))
            .collect();
        format!("etcd: {}", each.join(" · "))
    } else {
        let each: Vec<String> = diff.revisions.iter().map(|(_, r)| r.to_string()).collect();
        format!("etcd rev {}", each.join(", "))
    };
    let mut lines = vec![Line::from(format!(
        "{} joined, {} left, {} changed since {when} ({revisions})",
        diff.joined.len(),
        diff.left.len(),
        diff.changed.len(),
    ))];
    for c in &diff.unknown {
        lines.push(Line::from(vec![
            Span::styled(st.cluster_name(*c).to_string(), ctx.theme.cluster(*c)),
            Span::styled(
                ": members at that time unknown — not compared".to_string(),
                ctx.theme.style(StyleName::Warning),
            ),
        ]));
    }
    lines.push(Line::from(""));
    type Keys = [(crate::model::ClusterId, std::sync::Arc<[u8]>)];
    let section = |lines: &mut Vec<Line<'static>>,
                   mark: &str,
                   title: &str,
                   keys: &Keys,
                   style: ratatui::style::Style| {
        if keys.is_empty() {
            return;
        }
        lines.push(Line::from(Span::styled(title.to_string(), muted)));
        for (c, k) in keys {
            let mut spans = vec![Span::styled(format!("{mark} "), style)];
            if st.merged() {
                spans.push(Span::styled(
                    format!("{} ", st.cluster_name(*c)),
                    ctx.theme.cluster(*c),
                ));
            }
            spans.push(Span::styled(
                crate::model::text::escape_bytes(k).into_owned(),
                style,
            ));
            lines.push(Line::from(spans));
        }
        lines.push(Line::from(""));
    };
    section(
        &mut lines,
        "+",
        "joined",
        &diff.joined,
        ctx.theme.style(StyleName::Ok),
    );
    section(
        &mut lines,
        "-",
        "left",
        &diff.left,
        ctx.theme.style(StyleName::Warning),
    );
    section(
        &mut lines,
        "~",
        "changed (value or lease)",
        &diff.changed,
        ratatui::style::Style::default(),
    );
    if diff.joined.is_empty() && diff.left.is_empty() && diff.changed.is_empty() {
        lines.push(Line::from(Span::styled(
            "the same members then and now",
            muted,
        )));
    }
    let rect = centered(area, 90, 80);
    let block = frame_block(ctx, format!(" Members: {when} → now "), false);
    scrolled(frame, rect, block, lines, scroll);
}

#[cfg(test)]
mod tests {
    use super::scroll_hint;

    #[test]
    fn scroll_hint_says_what_is_above_and_below() {
        assert_eq!(scroll_hint(0, 20, 20), None);
        assert_eq!(
            scroll_hint(0, 20, 63).as_deref(),
            Some(" lines 1–20 of 63 ▼ ")
        );
        assert_eq!(
            scroll_hint(10, 20, 63).as_deref(),
            Some(" lines 11–30 of 63 ▲▼ ")
        );
        assert_eq!(
            scroll_hint(43, 20, 63).as_deref(),
            Some(" lines 44–63 of 63 ▲ ")
        );
    }
}

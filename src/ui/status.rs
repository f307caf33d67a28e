//! The bottom bar: cluster badge, read-only badge, each source's health, the last message, hints.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::Ctx;
use crate::action::Action;
use crate::keymap::Context;
use crate::model::format::duration_short;
use crate::model::text::fit;
use crate::model::{text::visible, Health};
use crate::state::{InputKind, Level};
use crate::theme::StyleName;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx) {
    let st = ctx.state;
    let (message_area, bar_area) = if area.height >= 2 {
        let [a, b] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
        (Some(a), b)
    } else {
        (None, area)
    };

    if let Some(a) = message_area {
        let line = if let Some(input) = &st.input {
            let prompt = match &input.kind {
                InputKind::Filter => "/".to_string(),
                InputKind::Command => ":".to_string(),
                InputKind::TimeJump => "go to time: ".to_string(),
                InputKind::Search => "search the output: ".to_string(),
                InputKind::At => "at time: ".to_string(),
                InputKind::Extend { id } => format!(
                    "extend silence {} by (30m 2h 1d; Enter alone: {}): ",
                    fit(&visible(id), 24),
                    crate::state::EXTEND_DEFAULT
                ),
            };
            const HINT: &str = "   Enter apply · Esc cancel";
            // Why Enter did not apply, or what Tab found, in place of the key hint.
            let (hint, hint_style) = match &input.hint {
                Some((level, text)) => (
                    format!("   {}", visible(text)),
                    match level {
                        Level::Error => ctx.theme.style(StyleName::Error),
                        Level::Warn => ctx.theme.style(StyleName::Warning),
                        Level::Info => ctx.theme.style(StyleName::Muted),
                    },
                ),
                None if matches!(input.kind, InputKind::At | InputKind::TimeJump) => (
                    format!(
                        "   in {}: 14:02 · -15m · yesterday 14:00 · 2026-12-03 14:02{HINT}",
                        st.zone.label(st.now)
                    ),
                    ctx.theme.style(StyleName::Muted),
                ),
                None => (HINT.to_string(), ctx.theme.style(StyleName::Muted)),
            };
            // A time prompt's echo (what the typed time means, in UTC too) is worth the room.
            let share = if matches!(input.kind, InputKind::At | InputKind::TimeJump) {
                let typed = input.field.text().chars().count() + 1;
                (a.width as usize).saturating_sub(prompt.chars().count() + typed.max(16))
            } else {
                a.width as usize / 2
            };
            let hint_width = hint.chars().count().min(share);
            let width = (a.width as usize).saturating_sub(prompt.chars().count() + hint_width);
            let mut spans = vec![Span::styled(prompt, ctx.theme.style(StyleName::Key))];
            spans.extend(super::field_spans(
                ctx,
                &input.field,
                width,
                ratatui::style::Style::default(),
                true,
            ));
            spans.push(Span::styled(fit(&hint, hint_width), hint_style));
            Line::from(spans)
        } else if let Some(s) = &st.status {
            let style = match s.level {
                Level::Info => ctx.theme.style(StyleName::Text),
                Level::Warn => ctx.theme.style(StyleName::Warning),
                Level::Error => ctx.theme.style(StyleName::Error),
            };
            // Messages may quote a backend's names; whatever they carry is shown, not obeyed.
            Line::from(Span::styled(
                fit(&visible(&s.text), a.width as usize),
                style,
            ))
        } else if let Some(problem) = &st.audit_problem {
            // Stays until the log can be written: it is why every change is refused.
            Line::from(Span::styled(
                fit(problem, a.width as usize),
                ctx.theme.style(StyleName::Error),
            ))
        } else {
            Line::default()
        };
        frame.render_widget(Paragraph::new(line), a);
    }

    let width = bar_area.width as usize;
    let mut spans = if st.merged() {
        merged_health(ctx, width)
    } else {
        vec![Span::styled(
            format!(" {} ", st.cluster),
            ctx.theme.style(StyleName::Cluster),
        )]
    };
    if let Some(origin) = &st.profile_origin {
        spans.push(Span::styled(
            format!("from {origin} "),
            ctx.theme.style(StyleName::Muted),
        ));
    }
    // The zone every time on screen is in (`Z` cycles it): said once, here, with its offset.
    spans.push(Span::styled(
        format!("{} ", st.zone.label(st.now)),
        ctx.theme.style(StyleName::Muted),
    ));
    if st.demo {
        spans.push(Span::styled(" DEMO ", ctx.theme.style(StyleName::Readonly)));
    }
    if st.readonly {
        spans.push(Span::styled(
            " READONLY ",
            ctx.theme.style(StyleName::Readonly),
        ));
    }
    if let Some(at) = st.time.at {
        // The past on screen: said where the cluster's name is, so nobody reads it as now.
        spans.push(Span::styled(
            format!(
                " AT {} (live: {}) ",
                crate::state::time_cursor::shown(at, st.zone),
                crate::state::time_cursor::live_key(st)
            ),
            ctx.theme.style(StyleName::Danger),
        ));
    }
    if st.audit_problem.is_some() {
        spans.push(Span::styled(
            " AUDIT LOG UNWRITABLE ",
            ctx.theme.style(StyleName::Danger),
        ));
    }
    // Health: every source with its word on a wide screen; on a narrow one the dot alone for a
    // live source (the word stays for the ones in trouble).
    let health = |compact: bool| -> Vec<Span<'static>> {
        let mut out = Vec::new();
        for (source, health) in &st.health {
            let (dot, word) = match health {
                Health::NotConfigured => ("○", "off".to_string()),
                Health::Idle => ("○", "idle".to_string()),
                Health::Connecting => ("◌", "connecting".to_string()),
                Health::Live => ("●", "live".to_string()),
                Health::Retrying { at, .. } => (
                    "◍",
                    format!(
                        "retry {}",
                        duration_short((*at - st.now).num_seconds().max(0))
                    ),
                ),
                Health::Failed(_) => ("✖", "failed".to_string()),
            };
            let quiet = matches!(health, Health::Live | Health::NotConfigured | Health::Idle);
            out.push(Span::raw(format!(" {}", source.label())));
            let text = if compact && quiet {
                dot.to_string()
            } else {
                format!(" {dot} {word}")
            };
            out.push(Span::styled(text, ctx.theme.health(health)));
        }
        out
    };
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let full = health(false);
    let full_w: usize = full.iter().map(|s| s.width()).sum();
    // A merged view said each cluster's health already (`:health` has every source).
    if !st.merged() {
        spans.extend(if used + full_w + 30 <= width {
            full
        } else {
            health(true)
        });
    }
    spans.push(Span::raw("  "));
    // What the keys do where the user is: the focused pane, or the popup, form or field open.
    let key_ctx = st.key_context();
    let mut room = width.saturating_sub(spans.iter().map(|s| s.width()).sum::<usize>());
    for (action, label) in hints(key_ctx) {
        // A read-only session, or one showing the past, does not advertise keys it will refuse.
        if (st.readonly || !st.time.is_live()) && action.is_mutating() {
            continue;
        }
        let Some(k) = ctx.keymap.key_for(key_ctx, *action) else {
            continue;
        };
        let need = k.chars().count() + 2 + label.chars().count() + 2;
        if need > room {
            break;
        }
        room -= need;
        spans.push(Span::styled(
            format!("[{k}]"),
            ctx.theme.style(StyleName::Key),
        ));
        spans.push(Span::raw(format!(" {label} ")));
    }
    let buf = frame.buffer_mut();
    buf.set_style(bar_area, ctx.theme.style(StyleName::StatusBar));
    super::paint::lines(buf, bar_area, &[Line::from(spans)]);
}

/// A cluster's health in one word: its worst source (`None` when nothing is configured).
pub fn cluster_health(st: &crate::state::State, c: crate::model::ClusterId) -> Option<&Health> {
    let rank = |h: &Health| match h {
        // Not asked anything is not trouble (and says nothing of the cluster either way).
        Health::NotConfigured | Health::Idle => 0,
        Health::Live => 1,
        Health::Connecting => 2,
        Health::Retrying { .. } => 3,
        Health::Failed(_) => 4,
    };
    crate::model::SourceKind::ALL
        .iter()
        .filter_map(|k| st.health_in(c, *k))
        .filter(|h| rank(h) > 0)
        .max_by_key(|h| rank(h))
}

/// The dot (and for trouble the word) for one cluster's health.
fn health_mark(st: &crate::state::State, h: Option<&Health>) -> (&'static str, String) {
    match h {
        None | Some(Health::NotConfigured) | Some(Health::Idle) => ("○", String::new()),
        Some(Health::Connecting) => ("◌", String::new()),
        Some(Health::Live) => ("●", String::new()),
        Some(Health::Retrying { at, .. }) => (
            "◍",
            format!(
                " retry {}",
                duration_short((*at - st.now).num_seconds().max(0))
            ),
        ),
        Some(Health::Failed(_)) => ("✕", " failed".to_string()),
    }
}

/// The dot a stale cluster's rows carry beside its name.
pub fn stale_dot(h: Option<&Health>) -> &'static str {
    match h {
        Some(Health::Retrying { .. }) => "◍",
        Some(Health::Failed(_)) => "✕",
        _ => "◌",
    }
}

/// A merged view's clusters, each named in its accent with its worst source's health
/// (`prod ● prod-eu ◍ retry 4s`); condensed to counts (`8● 1◍ 1✕`) when the names do not fit
/// in half the bar. `:health` lists every source.
fn merged_health(ctx: &Ctx, width: usize) -> Vec<Span<'static>> {
    let st = ctx.state;
    let mut full = Vec::new();
    for c in st.cluster_ids() {
        let h = cluster_health(st, c);
        let (dot, word) = health_mark(st, h);
        full.push(Span::styled(
            format!(" {}", st.cluster_name(c)),
            ctx.theme.cluster(c),
        ));
        let style = h.map(|h| ctx.theme.health(h)).unwrap_or_default();
        full.push(Span::styled(format!(" {dot}{word}"), style));
    }
    full.push(Span::raw(" "));
    let full_w: usize = full.iter().map(|s| s.width()).sum();
    if full_w <= width / 2 {
        return full;
    }
    let mut counts: Vec<(&'static str, usize, Style)> = Vec::new();
    for c in st.cluster_ids() {
        let h = cluster_health(st, c);
        let (dot, _) = health_mark(st, h);
        let style = h.map(|h| ctx.theme.health(h)).unwrap_or_default();
        match counts.iter_mut().find(|(d, _, _)| *d == dot) {
            Some(e) => e.1 += 1,
            None => counts.push((dot, 1, style)),
        }
    }
    let order = ["●", "◌", "◍", "✕", "○"];
    counts.sort_by_key(|(d, _, _)| order.iter().position(|o| o == d));
    let mut out = vec![Span::styled(
        format!(" {} clusters", st.clusters.len()),
        ctx.theme.style(StyleName::Cluster),
    )];
    for (dot, n, style) in counts {
        out.push(Span::styled(format!(" {n}{dot}"), style));
    }
    out.push(Span::raw(" "));
    out
}

/// The keys worth a hint in each context, most useful first (the bar shows what fits).
fn hints(ctx: Context) -> &'static [(Action, &'static str)] {
    match ctx {
        Context::Members => &[
            (Action::Deregister, "deregister"),
            (Action::Filter, "filter"),
            (Action::Detail, "detail"),
            (Action::ToggleMark, "mark"),
            (Action::Zoom, "zoom"),
            (Action::NextPane, "pane"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
        ],
        Context::Checks => &[
            (Action::Silence, "silence"),
            (Action::Unsilence, "unsilence"),
            (Action::Filter, "filter"),
            (Action::Detail, "detail"),
            (Action::ToggleMark, "mark"),
            (Action::ToggleHideOk, "hide OK"),
            (Action::Zoom, "zoom"),
            (Action::NextPane, "pane"),
            (Action::Help, "help"),
        ],
        Context::Metrics => &[
            (Action::Detail, "chart"),
            (Action::ToggleOverlay, "overlay"),
            (Action::NextWindow, "window"),
            (Action::Zoom, "zoom"),
            (Action::NextPane, "pane"),
            (Action::Help, "help"),
        ],
        Context::Logs => &[
            (Action::ToggleFollow, "follow"),
            (Action::CycleSeverity, "severity"),
            (Action::ToggleWrap, "wrap"),
            (Action::Filter, "filter"),
            (Action::Detail, "detail"),
            (Action::Zoom, "zoom"),
            (Action::NextPane, "pane"),
            (Action::Help, "help"),
        ],
        Context::Histogram => &[
            (Action::HistWider, "window"),
            (Action::HistNextBucket, "bucket"),
            (Action::HistFocus, "hosts/programs"),
            (Action::Detail, "drill in"),
            (Action::HistErrorsOnly, "errors only"),
            (Action::Histogram, "lines"),
            (Action::Help, "help"),
        ],
        Context::Confirm => &[
            (Action::Confirm, "confirm"),
            (Action::Cancel, "cancel"),
            (Action::ToggleRevokeLease, "revoke lease"),
        ],
        Context::Popup => &[
            (Action::Back, "close"),
            (Action::Down, "down"),
            (Action::Up, "up"),
            (Action::Select, "pick"),
        ],
        Context::Chart => &[
            (Action::NextWindow, "longer window"),
            (Action::PrevWindow, "shorter"),
            (Action::Back, "close"),
        ],
        Context::Form => &[
            (Action::NextField, "next field"),
            (Action::Submit, "review"),
            (Action::Cancel, "cancel"),
        ],
        Context::Input => &[(Action::Submit, "apply"), (Action::Cancel, "cancel")],
        Context::Global => &[],
    }
}

//! Every dialog that confirms a change: what it will do, exactly, before it does it — the member's
//! value, lease and the other keys on it, its checks and the transaction for a deregister; every
//! target of a bulk change; what an undo can and cannot put back — and either the confirm key or,
//! on a protected cluster and above the bulk cap, the name to type.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, muted, visible_spans, Ctx};
use crate::action::Action;
use crate::keymap::Context;
use chrono::{DateTime, Utc};

use crate::model::format::{duration_short, timestamp};
use crate::model::member_value::pretty;
use crate::model::text::{escape_bytes, fit, sanitize};
use crate::model::{LeaseKeys, Silence, SilenceRequest};
use crate::state::{Change, Confirm, Preview, Target, Typed};
use crate::theme::StyleName;

/// Rows of a bulk dialog's target list before "… and N more".
const LIST_ROWS: usize = 8;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx, confirm: &Confirm) {
    let inner_w = area.width.saturating_sub(6).min(100) as usize;
    let (title, lines, verb) = match &confirm.change {
        Change::Deregister {
            target,
            revoke_lease,
            preview,
        } => (
            " Deregister ",
            deregister(ctx, target, *revoke_lease, preview, inner_w),
            "deregister",
        ),
        Change::DeregisterMany {
            targets,
            revoke_lease,
        } => (
            " Deregister marked members ",
            deregister_many(ctx, targets, *revoke_lease, inner_w),
            "deregister all",
        ),
        Change::Silence(request) => (" Silence ", silence(ctx, request), "silence"),
        Change::SilenceMany(requests) => (
            " Silence marked checks ",
            silence_many(ctx, requests, inner_w),
            "silence all",
        ),
        Change::Unsilence { description, .. } => (
            " Unsilence ",
            vec![
                title_line(ctx, "Remove this silence?"),
                Line::default(),
                Line::from(owned_spans(ctx, "  ", description, Style::default())),
            ],
            "remove",
        ),
        Change::Ack {
            request,
            takes_over,
        } => {
            let mut lines = silence(ctx, request);
            if let Some(old) = takes_over {
                lines.push(Line::from(Span::styled(
                    format!(
                        "  takes over {}'s ack: theirs is expired once this one is confirmed",
                        crate::model::text::visible(&old.user)
                    ),
                    ctx.theme.style(StyleName::Warning),
                )));
            }
            (" Ack ", lines, "ack")
        }
        Change::Unack { description, .. } => (
            " Unack ",
            vec![
                title_line(ctx, "Expire this ack?"),
                Line::default(),
                Line::from(owned_spans(ctx, "  ", description, Style::default())),
            ],
            "unack",
        ),
        Change::Extend { silence, until } => (
            " Extend silence ",
            extend(ctx, &confirm.target, silence, *until),
            "extend",
        ),
        Change::Run(p) => (" Run command ", run_lines(ctx, p), "run"),
        Change::Restore {
            key,
            value,
            lease,
            ttl,
            lease_revoked,
            ..
        } => (
            " Undo deregister ",
            restore(ctx, key, value, *lease, *ttl, *lease_revoked, inner_w),
            "put back",
        ),
    };
    // A merged view names the cluster the change goes to before anything else, in its accent.
    let (lines, cluster_title) = match cluster_lines(ctx, &confirm.change) {
        Some((first, title)) => (std::iter::once(first).chain(lines).collect(), title),
        None => (lines, ctx.state.cluster.clone()),
    };
    // What to press (or type) is drawn last and never scrolls or wraps away: the body above
    // takes what room is left.
    let footer: Vec<Line> = match &confirm.typed {
        Some(typed) => typed_lines(ctx, typed, confirm.change.count()),
        None => vec![confirm_keys(ctx, verb)],
    };
    let width = (inner_w as u16 + 2).max(40).min(area.width);
    let inner = width.saturating_sub(2).max(1) as usize;
    let body_rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = (body_rows + 1 + footer.len() + 2).min(area.height as usize) as u16;
    let rect = centered(area, width, height);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!("{title}— cluster {cluster_title} "))
        .border_style(ctx.theme.style(StyleName::Critical))
        .style(ctx.theme.style(StyleName::Popup));
    frame.render_widget(Clear, rect);
    let inside = block.inner(rect);
    frame.render_widget(block, rect);
    let foot_h = (footer.len() as u16).min(inside.height);
    let [body_area, foot_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(foot_h)]).areas(inside);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body_area);
    frame.render_widget(Paragraph::new(footer), foot_area);
}

/// In a merged view, the line naming the cluster(s) a change goes to, and the title's name.
fn cluster_lines(ctx: &Ctx, change: &Change) -> Option<(Line<'static>, String)> {
    let st = ctx.state;
    if !st.merged() {
        return None;
    }
    let mut clusters: Vec<crate::model::ClusterId> = match change {
        Change::Deregister { target, .. } => vec![target.cluster],
        Change::DeregisterMany { targets, .. } => targets.iter().map(|t| t.cluster).collect(),
        Change::Restore { cluster, .. } => vec![*cluster],
        _ => vec![st.cluster_id],
    };
    clusters.sort();
    clusters.dedup();
    let mut spans = vec![Span::styled(
        if clusters.len() == 1 {
            "  cluster  "
        } else {
            "  clusters "
        },
        ctx.theme.style(StyleName::Header),
    )];
    for (i, c) in clusters.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(", "));
        }
        spans.push(Span::styled(
            st.cluster_name(*c).to_string(),
            ctx.theme.cluster(*c),
        ));
    }
    let title = clusters
        .iter()
        .map(|c| st.cluster_name(*c))
        .collect::<Vec<_>>()
        .join(", ");
    Some((Line::from(spans), title))
}

fn deregister(
    ctx: &Ctx,
    target: &Target,
    revoke_lease: bool,
    preview: &Preview,
    width: usize,
) -> Vec<Line<'static>> {
    let key = escape_bytes(&target.key).into_owned();
    let mut lines = vec![
        title_line(ctx, "Deregister this member?"),
        Line::default(),
        key_line(ctx, &key),
    ];
    let value = pretty(&preview.value);
    let first: Vec<&str> = value.lines().take(3).collect();
    for (i, l) in first.iter().enumerate() {
        lines.push(kv(
            ctx,
            if i == 0 { "value" } else { "" },
            fit(&sanitize(l), width.saturating_sub(14)),
        ));
    }
    if value.lines().count() > first.len() {
        lines.push(kv(
            ctx,
            "",
            format!(
                "… {} bytes in all (Enter on the member shows it)",
                preview.value.len()
            ),
        ));
    }
    lines.push(kv(ctx, "mod_revision", target.mod_revision.to_string()));
    lines.push(kv_spans(
        ctx,
        "lease",
        lease_spans(ctx, target, preview, width),
    ));
    lines.push(kv_spans(
        ctx,
        "checks",
        checks_spans(ctx, &preview.checks, width),
    ));
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "  will send, as one transaction:",
        ctx.theme.style(StyleName::Header),
    )));
    lines.push(Line::from(vec![
        Span::raw("    "),
        Span::styled(
            format!(
                "if mod_revision(KEY) == {} then delete KEY",
                target.mod_revision
            ),
            ctx.theme.style(StyleName::Key),
        ),
    ]));
    lines.push(Line::from(Span::styled(
        "    (a re-registered or changed instance is kept and you are told)",
        muted(ctx),
    )));
    if target.lease != 0 {
        let others = match &preview.lease {
            Some(Ok(l)) => others_on_lease(l, &target.key).len(),
            _ => 0,
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("  [{}] ", key_for(ctx, Action::ToggleRevokeLease, "r")),
                ctx.theme.style(StyleName::Key),
            ),
            Span::raw(format!(
                "then lease revoke {:x}: {}",
                target.lease,
                if revoke_lease { "YES" } else { "no" }
            )),
        ]));
        if revoke_lease {
            lines.push(Line::from(Span::styled(
                format!(
                    "      a second, separate request — not atomic with the delete; it removes {}",
                    match others {
                        0 => "every key on the lease".to_string(),
                        1 => "the 1 other key on the lease too".to_string(),
                        n => format!("the {n} other keys on the lease too"),
                    }
                ),
                ctx.theme.style(StyleName::Warning),
            )));
        }
    }
    lines
}

/// Lease id, its remaining TTL and the other keys attached to it (or why they are unknown).
fn lease_spans(ctx: &Ctx, target: &Target, preview: &Preview, width: usize) -> Vec<Span<'static>> {
    if target.lease == 0 {
        return vec![Span::raw("none (the key stays until deleted)")];
    }
    let mut spans = vec![Span::raw(format!("{:x}", target.lease))];
    match &preview.lease {
        None => spans.push(Span::styled(" · reading its keys …", muted(ctx))),
        Some(Err(e)) => spans.push(Span::styled(
            format!(" · other keys unknown ({})", sanitize(e)),
            ctx.theme.style(StyleName::Warning),
        )),
        Some(Ok(l)) => {
            spans.push(Span::raw(if l.ttl < 0 {
                " · expired".to_string()
            } else {
                format!(" · {} left", duration_short(l.ttl))
            }));
            let others = others_on_lease(l, &target.key);
            if others.is_empty() {
                spans.push(Span::styled(" · no other key on it", muted(ctx)));
            } else {
                let names: Vec<String> = others
                    .iter()
                    .map(|k| escape_bytes(k).into_owned())
                    .collect();
                spans.push(Span::styled(
                    fit(
                        &format!(" · also on it: {}", names.join(", ")),
                        width.saturating_sub(30),
                    ),
                    ctx.theme.style(StyleName::Warning),
                ));
            }
        }
    }
    spans
}

fn others_on_lease<'a>(lease: &'a LeaseKeys, key: &[u8]) -> Vec<&'a Vec<u8>> {
    lease.keys.iter().filter(|k| k.as_slice() != key).collect()
}

fn checks_spans(
    ctx: &Ctx,
    checks: &[(String, String, String)],
    width: usize,
) -> Vec<Span<'static>> {
    if checks.is_empty() {
        return vec![Span::styled("none reported for it", muted(ctx))];
    }
    let text = checks
        .iter()
        .map(|(status, entity, check)| format!("{status} {}/{}", sanitize(entity), sanitize(check)))
        .collect::<Vec<_>>()
        .join(", ");
    vec![Span::raw(fit(
        &format!("{}: {text}", checks.len()),
        width.saturating_sub(14),
    ))]
}

fn deregister_many(
    ctx: &Ctx,
    targets: &[Target],
    revoke_lease: bool,
    width: usize,
) -> Vec<Line<'static>> {
    let mut lines = vec![
        title_line(ctx, &format!("Deregister these {} members?", targets.len())),
        Line::default(),
    ];
    for t in targets.iter().take(LIST_ROWS) {
        let key = fit(&escape_bytes(&t.key), width.saturating_sub(30));
        let mut spans = owned_spans(ctx, "  ", &key, Style::default());
        spans.push(Span::styled(
            format!("  rev {}", t.mod_revision),
            muted(ctx),
        ));
        if t.lease != 0 {
            spans.push(Span::styled(format!("  lease {:x}", t.lease), muted(ctx)));
        }
        lines.push(Line::from(spans));
    }
    if targets.len() > LIST_ROWS {
        lines.push(Line::from(Span::styled(
            format!("  … and {} more", targets.len() - LIST_ROWS),
            muted(ctx),
        )));
    }
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "  one transaction each: if mod_revision(KEY) == the revision above then delete KEY",
        muted(ctx),
    )));
    if targets.iter().any(|t| t.lease != 0) {
        lines.push(Line::from(vec![
            Span::styled(
                format!("  [{}] ", key_for(ctx, Action::ToggleRevokeLease, "r")),
                ctx.theme.style(StyleName::Key),
            ),
            Span::raw(format!(
                "then revoke their leases: {}",
                if revoke_lease {
                    "YES — separate requests, every key on those leases goes"
                } else {
                    "no"
                }
            )),
        ]));
    }
    lines
}

fn silence(ctx: &Ctx, req: &SilenceRequest) -> Vec<Line<'static>> {
    vec![
        title_line(ctx, "Create this silence?"),
        Line::default(),
        kv_spans(
            ctx,
            "scope",
            owned_spans(ctx, "", &req.scope.text(), Style::default()),
        ),
        kv(ctx, "duration", duration_text(req)),
        kv(
            ctx,
            "on resolve",
            if req.expire_on_resolve {
                "expires".into()
            } else {
                "stays".into()
            },
        ),
        kv(ctx, "reason", sanitize(&req.reason).into_owned()),
        kv(ctx, "creator", req.creator.clone()),
    ]
}

fn silence_many(ctx: &Ctx, requests: &[SilenceRequest], width: usize) -> Vec<Line<'static>> {
    let mut lines = vec![
        title_line(ctx, &format!("Create these {} silences?", requests.len())),
        Line::default(),
    ];
    for r in requests.iter().take(LIST_ROWS) {
        let text = fit(&r.scope.text(), width.saturating_sub(4));
        lines.push(Line::from(owned_spans(ctx, "  ", &text, Style::default())));
    }
    if requests.len() > LIST_ROWS {
        lines.push(Line::from(Span::styled(
            format!("  … and {} more", requests.len() - LIST_ROWS),
            muted(ctx),
        )));
    }
    if let Some(r) = requests.first() {
        lines.push(Line::default());
        lines.push(kv(ctx, "duration", duration_text(r)));
        lines.push(kv(ctx, "reason", sanitize(&r.reason).into_owned()));
        lines.push(kv(ctx, "creator", r.creator.clone()));
    }
    lines
}

fn extend(
    ctx: &Ctx,
    description: &str,
    silence: &Silence,
    until: DateTime<Utc>,
) -> Vec<Line<'static>> {
    let st = ctx.state;
    let when = |t: Option<DateTime<Utc>>| {
        t.map(|t| timestamp(t, st.zone))
            .unwrap_or_else(|| "?".into())
    };
    let mut lines = vec![
        title_line(ctx, "Extend this silence?"),
        Line::default(),
        Line::from(owned_spans(ctx, "  ", description, Style::default())),
        kv(
            ctx,
            "created",
            format!(
                "by {} at {}",
                if silence.creator.is_empty() {
                    "?"
                } else {
                    silence.creator.as_str()
                },
                when(silence.begin)
            ),
        ),
        kv(ctx, "ends now", when(silence.expire_at)),
        kv_spans(
            ctx,
            "ends after",
            vec![Span::styled(
                format!(
                    "{} (+{})",
                    timestamp(until, st.zone),
                    duration_short((until - silence.expire_at.unwrap_or(st.now)).num_seconds())
                ),
                ctx.theme.style(StyleName::Highlight),
            )],
        ),
        Line::default(),
    ];
    let how = if silence.matchers.is_empty() {
        "the entry is written again with its begin, creator and reason; only its end moves"
    } else {
        "sent with its id, its matchers and its startsAt as Alertmanager holds them, so it keeps its id"
    };
    lines.push(Line::from(Span::styled(format!("  {how}"), muted(ctx))));
    lines
}

fn duration_text(req: &SilenceRequest) -> String {
    req.duration
        .map(|d| duration_short(d.as_secs() as i64))
        .unwrap_or_else(|| "no expiry".into())
}

fn restore(
    ctx: &Ctx,
    key: &[u8],
    value: &[u8],
    lease: i64,
    ttl: i64,
    lease_revoked: bool,
    width: usize,
) -> Vec<Line<'static>> {
    let value = pretty(value);
    let mut lines = vec![
        title_line(ctx, "Put this member back?"),
        Line::default(),
        key_line(ctx, &escape_bytes(key)),
        kv(
            ctx,
            "value",
            fit(
                &sanitize(value.lines().next().unwrap_or_default()),
                width.saturating_sub(14),
            ),
        ),
        kv(
            ctx,
            "lease",
            if lease == 0 {
                "none, as before".into()
            } else {
                format!(
                    "{lease:x} again if it still lives, else a new lease of {}",
                    duration_short(ttl)
                )
            },
        ),
        Line::default(),
        Line::from(Span::styled(
            "  only if the key does not exist: an instance that registered again is kept",
            muted(ctx),
        )),
    ];
    if lease_revoked {
        lines.push(Line::from(Span::styled(
            "  the lease was revoked with it: other keys it removed are NOT put back",
            ctx.theme.style(StyleName::Warning),
        )));
    }
    lines
}

fn typed_lines(ctx: &Ctx, typed: &Typed, count: usize) -> Vec<Line<'static>> {
    let why = if count > 1 {
        "a bulk change above this cluster's max_bulk, or a protected cluster"
    } else {
        "a protected cluster"
    };
    let mut first = vec![Span::raw("  type ")];
    first.extend(owned_spans(
        ctx,
        "",
        &typed.expected,
        ctx.theme.style(StyleName::Highlight),
    ));
    first.push(Span::raw(" and Enter to confirm: "));
    first.extend(super::field_spans(
        ctx,
        &typed.field,
        (typed.expected.chars().count() + 2).clamp(8, 40),
        ctx.theme.style(StyleName::Selected),
        true,
    ));
    vec![
        Line::from(first),
        Line::from(Span::styled(
            format!(
                "  ({why}) · {} cancels",
                key_for(ctx, Action::Cancel, "esc")
            ),
            muted(ctx),
        )),
    ]
}

/// The key a dialog acts on, first and highlighted.
fn key_line(ctx: &Ctx, key: &str) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("  {:<13}", "key"),
        ctx.theme.style(StyleName::Header),
    )];
    spans.extend(owned_spans(
        ctx,
        "",
        key,
        ctx.theme.style(StyleName::Highlight),
    ));
    Line::from(spans)
}

/// A custom command: its name, mode and the exact argument list, one argument a line (no shell
/// reads them).
pub fn run_lines(ctx: &Ctx, p: &crate::state::run::Prepared) -> Vec<Line<'static>> {
    let mut lines = vec![
        title_line(ctx, &format!("Run \"{}\" ({})?", p.name, p.mode.name())),
        Line::default(),
        Line::from(Span::styled(
            "  exactly these arguments, no shell:",
            ctx.theme.style(StyleName::Muted),
        )),
    ];
    for (i, a) in p.argv.iter().enumerate() {
        let mut spans = vec![Span::styled(
            format!("  [{i}] "),
            ctx.theme.style(StyleName::Muted),
        )];
        spans.extend(owned_spans(ctx, "", a, Style::default()));
        lines.push(Line::from(spans));
    }
    if let Some(stdin) = &p.stdin {
        lines.push(Line::from(Span::styled(
            format!("  stdin: {} JSON lines ({} bytes)", p.rows, stdin.len()),
            ctx.theme.style(StyleName::Muted),
        )));
    }
    lines
}

fn title_line(ctx: &Ctx, text: &str) -> Line<'static> {
    Line::from(Span::styled(
        text.to_string(),
        ctx.theme.style(StyleName::Title),
    ))
}

fn key_for(ctx: &Ctx, action: Action, default: &str) -> String {
    ctx.keymap
        .key_for(Context::Confirm, action)
        .unwrap_or_else(|| default.into())
}

fn confirm_keys(ctx: &Ctx, verb: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!("  [{}] ", key_for(ctx, Action::Confirm, "y")),
            ctx.theme.style(StyleName::Danger),
        ),
        Span::raw(format!("{verb}   ")),
        Span::styled(
            format!("[{}] ", key_for(ctx, Action::Cancel, "n")),
            ctx.theme.style(StyleName::Key),
        ),
        Span::raw("cancel"),
    ])
}

fn kv(ctx: &Ctx, k: &str, v: String) -> Line<'static> {
    kv_spans(ctx, k, vec![Span::raw(v)])
}

fn kv_spans(ctx: &Ctx, k: &str, v: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("  {k:<13}"),
        ctx.theme.style(StyleName::Header),
    )];
    spans.extend(v);
    Line::from(spans)
}

/// `prefix`, then a backend's name with its escapes drawn visibly, owning its text.
fn owned_spans(ctx: &Ctx, prefix: &str, name: &str, style: Style) -> Vec<Span<'static>> {
    let mut spans = vec![Span::styled(prefix.to_string(), style)];
    spans.extend(
        visible_spans(ctx, name, style)
            .into_iter()
            .map(|s| Span::styled(s.content.into_owned(), s.style)),
    );
    spans
}

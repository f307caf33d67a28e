//! Check detail, the silence form and the silence picker.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use ratatui::Frame;

use super::{centered, muted, visible_spans, Ctx};
use crate::model::format::duration_short;
use crate::model::format::{age, timestamp};
use crate::model::text::fit;
use crate::model::{severity_of, status_label, status_runs, text::sanitize};
use crate::state::checks::describe_silence;
use crate::state::silence_form::Field;
use crate::state::{Popup, SilenceForm};
use crate::theme::StyleName;

pub fn draw(frame: &mut Frame, area: Rect, ctx: &Ctx, popup: &Popup) {
    match popup {
        Popup::CheckDetail {
            entity,
            check,
            scroll,
            inhibitor,
        } => detail(frame, area, ctx, entity, check, *scroll, *inhibitor),
        Popup::SilenceForm(form) => silence_form(frame, area, ctx, form),
        Popup::PickSilence { ids, index, extend } => {
            let mut lines = vec![
                Line::from(Span::styled(
                    if *extend {
                        "Several silences cover this check — pick one to extend (Enter), Esc cancels"
                    } else {
                        "Several silences cover this check — pick one to remove (Enter), Esc cancels"
                    },
                    ctx.theme.style(StyleName::Title),
                )),
                Line::default(),
            ];
            for (i, id) in ids.iter().enumerate() {
                let style = if i == *index {
                    ctx.theme.style(StyleName::Selected)
                } else {
                    ctx.theme.style(StyleName::Text)
                };
                let text = describe_silence(&ctx.state.checks, id);
                lines.push(Line::from(named(ctx, "  ", &text, style)));
            }
            let h = (ids.len() as u16 + 4).min(area.height);
            let title = if *extend {
                " Extend silence "
            } else {
                " Unsilence "
            };
            boxed(frame, area, ctx, 100, h, title.into(), lines, false);
        }
        Popup::LogDetail { line, scroll } => log_detail(frame, area, ctx, line, *scroll),
        Popup::ResolvedDetail { item, scroll } => {
            super::resolved_rows::detail(frame, area, ctx, item, *scroll)
        }
        Popup::Groups { by, groups, index } => {
            let mut lines = vec![
                Line::from(Span::styled(
                    format!(
                        "Failing checks by {} — Enter scopes every pane to the group and marks it; :group FIELD regroups",
                        crate::model::text::visible(&by.name())
                    ),
                    ctx.theme.style(StyleName::Title),
                )),
                Line::default(),
            ];
            for (i, g) in groups.iter().enumerate() {
                let style = if i == *index {
                    ctx.theme.style(StyleName::Selected)
                } else {
                    ctx.theme.severity(g.worst)
                };
                let cursor = if i == *index { "▶ " } else { "  " };
                // The worst status in words too (not by colour alone).
                lines.push(Line::from(Span::styled(
                    format!(
                        "{cursor}{:<4} {}",
                        match g.worst {
                            crate::model::Severity::Critical => "CRIT",
                            crate::model::Severity::Warning => "WARN",
                            crate::model::Severity::Unknown => "UNKN",
                            crate::model::Severity::Ok => "OK",
                        },
                        g.label
                    ),
                    style,
                )));
            }
            let w = (area.width.saturating_sub(4)).min(100);
            // The heading wraps in a narrow box: room for all of it, then the groups.
            let heading = lines[0]
                .width()
                .div_ceil(w.saturating_sub(2).max(1) as usize) as u16;
            let h = (groups.len() as u16 + 3 + heading.max(1)).min(area.height);
            boxed(frame, area, ctx, w, h, " Groups ".into(), lines, false);
        }
        Popup::PickLabels(p) => label_picker(frame, area, ctx, p),
        Popup::PickCluster { clusters, index } => {
            // A merged view's picker narrows within the view (as `:cluster NAME` there does).
            let merged = ctx.state.merged();
            let heading = if merged {
                "Show only (Enter), * for every cluster, Esc cancels"
            } else {
                "Switch to (Enter), Esc cancels"
            };
            let mut lines = vec![
                Line::from(Span::styled(heading, ctx.theme.style(StyleName::Title))),
                Line::default(),
            ];
            let shown = ctx
                .state
                .narrowed()
                .map_or(crate::state::merged::ALL, |c| ctx.state.cluster_name(c));
            for (i, c) in clusters.iter().enumerate() {
                let style = if i == *index {
                    ctx.theme.style(StyleName::Selected)
                } else {
                    ctx.theme.style(StyleName::Text)
                };
                let mut marks = Vec::new();
                if merged && c.name == crate::state::merged::ALL {
                    marks.push("every cluster".to_string());
                }
                if (merged && c.name == shown) || (!merged && c.name == ctx.state.cluster) {
                    marks.push("current".to_string());
                }
                if c.readonly {
                    marks.push("READONLY".to_string());
                }
                if let Some(accent) = &c.accent {
                    marks.push(format!("accent {accent}"));
                }
                let cursor = if i == *index { "▶ " } else { "  " };
                let text = if marks.is_empty() {
                    c.name.clone()
                } else {
                    format!("{:<20} {}", c.name, marks.join(" · "))
                };
                lines.push(Line::from(named(ctx, cursor, &text, style)));
            }
            let h = (clusters.len() as u16 + 4).min(area.height);
            boxed(frame, area, ctx, 60, h, " Clusters ".into(), lines, false);
        }
        _ => {}
    }
}

/// The label picker: `[x] zone   12 alerts`, the cursor `▶`, the keys that pick and apply.
fn label_picker(
    frame: &mut Frame,
    area: Rect,
    ctx: &Ctx,
    p: &crate::state::label_groups::LabelPicker,
) {
    use crate::action::Action;
    use crate::keymap::Context;
    let st = ctx.state;
    let toggle = st.key(Context::Popup, Action::ToggleMark, "space");
    let apply = st.key(Context::Popup, Action::Select, "enter");
    let mut lines = vec![
        Line::from(Span::styled(
            format!("Group failing alerts by labels — {toggle} picks (several: in that order), {apply} groups, Esc cancels"),
            ctx.theme.style(StyleName::Title),
        )),
        Line::from(Span::styled(
            if p.chosen.is_empty() {
                "picked: none (Enter groups by the label under the cursor)".to_string()
            } else {
                format!(
                    "picked: {}",
                    crate::model::text::visible(&p.chosen.join(","))
                )
            },
            muted(ctx),
        )),
        Line::default(),
    ];
    let w = (area.width.saturating_sub(4)).min(100);
    // The heading wraps in a narrow box: room for all of it, then the labels.
    let heading = lines[0]
        .width()
        .div_ceil(w.saturating_sub(2).max(1) as usize)
        .max(1);
    let h = (p.labels.len() + 4 + heading).min(area.height as usize) as u16;
    let rows = (h as usize).saturating_sub(4 + heading).max(1);
    let first = p.index.saturating_sub(rows - 1);
    let width = p
        .labels
        .iter()
        .map(|(n, _)| crate::model::text::visible(n).chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    for (i, (name, n)) in p.labels.iter().enumerate().skip(first).take(rows) {
        let style = if i == p.index {
            ctx.theme.style(StyleName::Selected)
        } else {
            ctx.theme.style(StyleName::Text)
        };
        let cursor = if i == p.index { "▶ " } else { "  " };
        let mark = match p.chosen.iter().position(|c| c == name) {
            Some(k) => format!("[{}]", k + 1),
            None => "[ ]".to_string(),
        };
        lines.push(Line::from(Span::styled(
            format!(
                "{cursor}{mark} {:<width$}  {n} alert{}",
                crate::model::text::fit(&crate::model::text::visible(name), 40),
                if *n == 1 { "" } else { "s" }
            ),
            style,
        )));
    }
    boxed(
        frame,
        area,
        ctx,
        w,
        h,
        " Group by labels ".into(),
        lines,
        false,
    );
}

fn log_detail(frame: &mut Frame, area: Rect, ctx: &Ctx, l: &crate::model::LogLine, scroll: usize) {
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    let mut lines = vec![
        kv(
            ctx,
            "time",
            l.time
                .map(|t| timestamp(t, ctx.state.zone))
                .unwrap_or_else(|| "-".into()),
        ),
        kv(ctx, "host", l.host.to_string()),
        kv(ctx, "program", l.program.to_string()),
        kv(
            ctx,
            "severity",
            l.severity
                .map(|s| format!("{} ({s})", crate::model::SEVERITY_NAMES[s as usize]))
                .unwrap_or_else(|| "unknown".into()),
        ),
        Line::default(),
        Line::from(Span::styled("message", ctx.theme.style(StyleName::Header))),
        Line::from(format!("  {}", l.message)),
    ];
    if !l.fields.is_empty() {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            "fields",
            ctx.theme.style(StyleName::Header),
        )));
        for (k, v) in &l.fields {
            lines.push(Line::from(vec![
                Span::styled(format!("  {k}: "), ctx.theme.style(StyleName::Key)),
                Span::raw(v.to_owned()),
            ]));
        }
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Log line — Esc closes ")
        .border_style(ctx.theme.style(StyleName::PopupBorder))
        .style(ctx.theme.style(StyleName::Popup));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(500) as u16, 0)),
        rect,
    );
}

fn kv<'a>(ctx: &Ctx, k: &str, v: String) -> Line<'a> {
    kv_spans(ctx, k, vec![Span::raw(v)])
}

fn kv_spans<'a>(ctx: &Ctx, k: &str, v: Vec<Span<'_>>) -> Line<'a> {
    let mut spans = vec![Span::styled(
        format!("  {k:<12}"),
        ctx.theme.style(StyleName::Header),
    )];
    spans.extend(v.into_iter().map(owned));
    Line::from(spans)
}

/// A span that no longer borrows the text it was cut from (the lines outlive a local string).
fn owned(s: Span<'_>) -> Span<'static> {
    Span::styled(s.content.into_owned(), s.style)
}

/// `prefix`, then a backend's name drawn with its escapes visible.
fn named<'a>(ctx: &Ctx, prefix: &str, name: &str, style: Style) -> Vec<Span<'a>> {
    let mut spans = vec![Span::styled(prefix.to_string(), style)];
    spans.extend(visible_spans(ctx, name, style).into_iter().map(owned));
    spans
}

#[allow(clippy::too_many_arguments)]
fn boxed(
    frame: &mut Frame,
    area: Rect,
    ctx: &Ctx,
    w: u16,
    h: u16,
    title: String,
    lines: Vec<Line>,
    danger: bool,
) {
    let rect = centered(area, w, h);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title)
        .border_style(if danger {
            ctx.theme.style(StyleName::Critical)
        } else {
            ctx.theme.style(StyleName::PopupBorder)
        })
        .style(ctx.theme.style(StyleName::Popup));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

fn silence_form(frame: &mut Frame, area: Rect, ctx: &Ctx, form: &SilenceForm) {
    let field_style = |f: Field| {
        if form.field == f {
            ctx.theme.style(StyleName::Selected)
        } else {
            ctx.theme.style(StyleName::Text)
        }
    };
    let label = |f: Field, text: &str| {
        let marker = if form.field == f { "▶ " } else { "  " };
        Span::styled(
            format!("{marker}{text:<18}"),
            ctx.theme.style(StyleName::Header),
        )
    };
    let scope = form
        .scopes
        .get(form.scope)
        .map(|s| s.text())
        .unwrap_or_default();
    let mut scope_line = vec![label(Field::Scope, "scope")];
    scope_line.extend(named(ctx, "◀ ", &scope, field_style(Field::Scope)));
    scope_line.push(Span::styled(" ▶", field_style(Field::Scope)));
    scope_line.push(Span::styled(
        format!("  ({}/{})", form.scope + 1, form.scopes.len()),
        muted(ctx),
    ));
    let mut check_line = vec![Span::raw("  check  ")];
    check_line.extend(
        visible_spans(ctx, &form.target, ctx.theme.style(StyleName::Highlight))
            .into_iter()
            .map(owned),
    );
    let mut lines = vec![
        Line::from(check_line),
        Line::default(),
        Line::from(scope_line),
        Line::from(
            vec![
                label(Field::Duration, "duration"),
                Span::styled("◀ ", field_style(Field::Duration)),
            ]
            .into_iter()
            .chain(super::field_spans(
                ctx,
                &form.duration,
                16,
                field_style(Field::Duration),
                form.field == Field::Duration,
            ))
            .chain([
                Span::styled(" ▶", field_style(Field::Duration)),
                Span::styled(
                    // An end time typed (until 18:00) is echoed in the display zone and UTC.
                    match crate::state::silence_form::ends_echo(
                        form.duration.text(),
                        ctx.state.now,
                        ctx.state.zone,
                    ) {
                        Some(ends) => format!("  {ends}"),
                        _ => "  30m 2h 1d none, until 18:00".to_string(),
                    },
                    muted(ctx),
                ),
            ])
            .collect::<Vec<_>>(),
        ),
        Line::from(vec![
            label(Field::ExpireOnResolve, "expire on resolve"),
            Span::styled(
                if !form.supports_resolve {
                    "n/a (Alertmanager silences end at their time)".to_string()
                } else if form.expire_on_resolve {
                    "[x] yes".to_string()
                } else {
                    "[ ] no".to_string()
                },
                field_style(Field::ExpireOnResolve),
            ),
        ]),
        Line::from(
            std::iter::once(label(
                Field::Reason,
                if form.ack.is_some() {
                    "note (optional)"
                } else {
                    "reason (required)"
                },
            ))
            .chain(super::field_spans(
                ctx,
                &form.reason,
                60,
                field_style(Field::Reason),
                form.field == Field::Reason,
            ))
            .collect::<Vec<_>>(),
        ),
        Line::default(),
    ];
    if let Some(e) = &form.error {
        lines.push(Line::from(Span::styled(
            format!("  {e}"),
            ctx.theme.style(StyleName::Error),
        )));
    }
    if let Some(other) = form
        .ack
        .as_ref()
        .and_then(|a| a.takes_over.as_ref().map(|t| t.user.as_str()))
    {
        lines.push(Line::from(Span::styled(
            format!(
                "  acked by {} — this takes the ack over",
                crate::model::text::visible(other)
            ),
            ctx.theme.style(StyleName::Warning),
        )));
    }
    lines.push(Line::from(Span::styled(
        "  Tab/↑↓ field · ←→ change · type text · Enter review · Esc cancel",
        muted(ctx),
    )));
    boxed(
        frame,
        area,
        ctx,
        90,
        12,
        match &form.ack {
            Some(a) => format!(" Ack — comment \"ACK {}: …\" ", a.user),
            None => format!(" Silence — creator {} ", ctx.state.user),
        },
        lines,
        false,
    );
}

fn detail(
    frame: &mut Frame,
    area: Rect,
    ctx: &Ctx,
    entity: &str,
    check: &str,
    scroll: usize,
    inhibitor: usize,
) {
    let rect = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    let st = ctx.state;
    let head = |s: &str| {
        Line::from(Span::styled(
            s.to_string(),
            ctx.theme.style(StyleName::Header),
        ))
    };
    let mut lines = Vec::new();
    match st.checks.find(entity, check) {
        None => lines.push(Line::from(Span::styled(
            "this result is no longer reported by the backend",
            ctx.theme.style(StyleName::Warning),
        ))),
        Some(r) => {
            let mut head_line = vec![Span::styled(
                format!(" {} ", status_label(r.status)),
                ctx.theme.severity(severity_of(r.status)),
            )];
            let entity = if r.entity.is_empty() {
                crate::model::NO_ENTITY
            } else {
                r.entity.as_str()
            };
            head_line.extend(named(ctx, "  ", entity, Style::default()));
            head_line.extend(named(ctx, " / ", &r.check, Style::default()));
            head_line.push(Span::raw(format!("   status {}", r.status)));
            lines.push(Line::from(head_line));
            lines.push(Line::from(format!(
                "occurrences {} · in state {} · last run {}",
                r.occurrences,
                age(st.now, r.since),
                r.executed
                    .map(|t| timestamp(t, st.zone))
                    .unwrap_or_else(|| "-".into())
            )));
            if !r.subscriptions.is_empty() {
                lines.push(Line::from(named(
                    ctx,
                    "subscriptions: ",
                    &r.subscriptions.join(", "),
                    Style::default(),
                )));
            }
            if !r.labels.is_empty() {
                let l: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                lines.push(Line::from(named(
                    ctx,
                    "labels: ",
                    &l.join(" "),
                    Style::default(),
                )));
            }
            lines.push(Line::default());
            lines.push(head("output"));
            for l in r.output.lines().take(500) {
                lines.push(Line::from(format!("  {}", sanitize(l))));
            }
            lines.push(Line::default());
            lines.push(head("history (newest first)"));
            if r.history.is_empty() {
                lines.push(Line::from(Span::styled("  none reported", muted(ctx))));
            }
            for (i, run) in status_runs(&r.history).iter().enumerate() {
                let when = match (i, run.start, run.end) {
                    (0, Some(start), _) => format!(
                        "since {} ({})",
                        duration_short((st.now - start).num_seconds()),
                        timestamp(start, st.zone)
                    ),
                    (_, Some(start), Some(end)) => format!(
                        "for {} before that (from {})",
                        duration_short((end - start).num_seconds()),
                        timestamp(start, st.zone)
                    ),
                    (0, None, _) => format!("for the last {} runs", run.samples),
                    _ => format!("for {} runs before that", run.samples),
                };
                lines.push(Line::from(vec![
                    Span::styled(
                        format!("  {:<5}", status_label(run.status)),
                        ctx.theme.severity(severity_of(run.status)),
                    ),
                    Span::raw(when),
                ]));
            }
            let why = super::why_muted::lines(ctx, r, inhibitor);
            if !why.is_empty() {
                lines.push(Line::default());
                lines.extend(why);
            }
            lines.push(Line::default());
            lines.push(head("silences that match"));
            let sil = st.checks.silences_for(r);
            if sil.is_empty() {
                lines.push(Line::from(Span::styled("  none", muted(ctx))));
            }
            for s in sil {
                lines.push(Line::from(named(
                    ctx,
                    "  ",
                    &describe_silence(&st.checks, &s.id),
                    Style::default(),
                )));
                // Who made it and when (Alertmanager's createdBy/startsAt/updatedAt, Sensu's
                // creator/begin): the first question before extending or removing someone's silence.
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| timestamp(t, st.zone))
                        .unwrap_or_else(|| "?".into())
                };
                let mut made = format!(
                    "    id {} · by {} · created {}",
                    crate::model::text::visible(&s.id),
                    crate::model::text::visible(if s.creator.is_empty() {
                        "?"
                    } else {
                        &s.creator
                    }),
                    when(s.begin)
                );
                // Sensu entries may be scheduled to begin later.
                if let Some(b) = s.begin.filter(|b| *b > st.now) {
                    made.push_str(&format!(
                        " · begins in {}",
                        duration_short((b - st.now).num_seconds())
                    ));
                }
                if let Some(u) = s.updated_at.filter(|u| Some(*u) != s.begin) {
                    made.push_str(&format!(" · updated {}", timestamp(u, st.zone)));
                }
                made.push_str(&match s.expire_at {
                    Some(e) => format!(" · ends in {}", duration_short((e - st.now).num_seconds())),
                    None if s.expire_on_resolve => " · ends when the check resolves".to_string(),
                    None => " · no end".to_string(),
                });
                if s.expire_on_resolve && s.expire_at.is_some() {
                    made.push_str(" or when the check resolves");
                }
                lines.push(Line::from(Span::styled(made, muted(ctx))));
            }
        }
    }
    let links = super::links::lines(ctx);
    if !lines.is_empty() && !links.is_empty() {
        let at = 2.min(lines.len());
        lines.splice(at..at, links);
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Check detail — Esc closes, j/k scroll ")
        .border_style(ctx.theme.style(StyleName::PopupBorder))
        .style(ctx.theme.style(StyleName::Popup));
    let visible = rect.height.saturating_sub(2) as usize;
    let max = lines.len().saturating_sub(visible);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll.min(max) as u16, 0)),
        rect,
    );
    let _ = fit;
}

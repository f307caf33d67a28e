//! The check detail's "why muted?" lines: the row's state, and for an inhibited alert the alerts
//! inhibiting it (name, labels) with the inhibit rule that lets them, read from Alertmanager's
//! `/api/v2/status` config. The silences that match are listed by the detail itself.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

use super::{muted, visible_spans, Ctx};
use crate::model::mute::Mute;
use crate::model::CheckResult;
use crate::theme::StyleName;

fn labels_text(r: &CheckResult) -> String {
    r.labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `chosen`: the inhibitor under the cursor (marked `▶` when there are several).
pub fn lines(ctx: &Ctx, r: &CheckResult, chosen: usize) -> Vec<Line<'static>> {
    let c = &ctx.state.checks;
    let mute = c.mute_of_check(&r.entity, &r.check);
    let mut out = Vec::new();
    let state = match &mute {
        Mute::Active if r.status == 0 => return out,
        Mute::Active => "active (nothing mutes it)".to_string(),
        Mute::Silenced => "silenced".to_string(),
        Mute::Inhibited => "inhibited".to_string(),
        Mute::Acked(a) => format!(
            "acked by {}{}",
            crate::model::text::visible(&a.user),
            if a.note.is_empty() {
                String::new()
            } else {
                format!(": {}", crate::model::text::visible(&a.note))
            }
        ),
    };
    out.push(Line::from(vec![
        Span::styled("state: ", ctx.theme.style(StyleName::Header)),
        Span::styled(state, super::mute_cell::style(ctx, r, &mute)),
    ]));
    if r.inhibited_by.is_empty() {
        return out;
    }
    let inhibitors = c.inhibitors(r);
    let several = inhibitors.len() > 1;
    out.push(Line::from(Span::styled(
        match inhibitors.len() {
            0 => "inhibited by",
            1 => "inhibited by (Enter goes to it)",
            _ => "inhibited by (↑↓ choose, Enter goes to the one marked ▶)",
        },
        ctx.theme.style(StyleName::Header),
    )));
    let chosen = chosen.min(inhibitors.len().saturating_sub(1));
    for (n, i) in inhibitors.iter().enumerate() {
        let mut spans = vec![if several && n == chosen {
            Span::styled("▶ ", ctx.theme.style(StyleName::Highlight))
        } else {
            Span::raw("  ")
        }];
        spans.extend(owned(visible_spans(ctx, &i.check, Style::default())));
        spans.push(Span::raw(" on "));
        spans.extend(owned(visible_spans(
            ctx,
            if i.entity.is_empty() {
                crate::model::NO_ENTITY
            } else {
                &i.entity
            },
            Style::default(),
        )));
        out.push(Line::from(spans));
        let mut labels = vec![Span::styled("    labels ", muted(ctx))];
        labels.extend(owned(visible_spans(ctx, &labels_text(i), muted(ctx))));
        out.push(Line::from(labels));
        let rule = c
            .inhibit_rules
            .iter()
            .find(|rule| rule.applies(&i.labels, &r.labels));
        out.push(Line::from(Span::styled(
            match rule {
                Some(rule) => format!("    rule: {}", crate::model::text::visible(&rule.text)),
                None => "    rule: not found in Alertmanager's config (/api/v2/status)".to_string(),
            },
            muted(ctx),
        )));
    }
    let unlisted = r.inhibited_by.len().saturating_sub(inhibitors.len());
    if unlisted > 0 {
        out.push(Line::from(Span::styled(
            format!("  {unlisted} inhibiting alert(s) not among the listed alerts"),
            muted(ctx),
        )));
    }
    out
}

fn owned(spans: Vec<Span<'_>>) -> Vec<Span<'static>> {
    spans
        .into_iter()
        .map(|s| Span::styled(s.content.into_owned(), s.style))
        .collect()
}

//! The checks pane's STATE cell: active / silenced / inhibited / acked, each with its own glyph
//! so the column reads without colour, and acks drawn unlike maintenance silences (who and how
//! long ago: `ACK alice 12m`).

use chrono::{DateTime, Utc};
use ratatui::style::{Modifier, Style};
use ratatui::text::Span;

use super::{muted, Ctx};
use crate::model::mute::Mute;
use crate::model::text::{fit, visible};
use crate::model::CheckResult;
use crate::theme::StyleName;

pub fn glyph(m: &Mute) -> &'static str {
    match m {
        Mute::Active => "●",
        Mute::Silenced => "◌",
        Mute::Inhibited => "⊘",
        Mute::Acked(_) => "⚑",
    }
}

/// The cell's full text; empty for a row that is not firing (nothing to mute).
pub fn text(r: &CheckResult, m: &Mute, now: DateTime<Utc>) -> String {
    if r.status == 0 && m.is_active() {
        return String::new();
    }
    let word = match m {
        Mute::Active => "active".to_string(),
        Mute::Silenced => "silenced".to_string(),
        Mute::Inhibited => "inhibited".to_string(),
        Mute::Acked(a) => {
            let age = a
                .since
                .map(|t| format!(" {}", coarse((now - t).num_seconds())))
                .unwrap_or_default();
            format!("ACK {}{age}", visible(&a.user))
        }
    };
    format!("{} {word}", glyph(m))
}

/// The text in `width` columns: the glyph alone when the word does not fit.
pub fn fitted(r: &CheckResult, m: &Mute, now: DateTime<Utc>, width: usize) -> String {
    let t = text(r, m, now);
    if t.is_empty() || width >= unicode_width::UnicodeWidthStr::width(t.as_str()) {
        return t;
    }
    if width < 4 {
        return glyph(m).to_string();
    }
    fit(&t, width)
}

/// One unit, as karma shows an ack's age: `45s`, `12m`, `3h`, `2d`.
fn coarse(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The title's `23 firing (5 silenced, 8 inhibited, 2 acked)` when anything in view is muted,
/// and the mute toggles that are on.
pub fn title_spans(ctx: &Ctx) -> Vec<Span<'static>> {
    let c = &ctx.state.checks;
    let mut out = Vec::new();
    let counts = c.mute_counts();
    if counts.muted() > 0 {
        out.push(Span::styled(format!("{} ", counts.text()), muted(ctx)));
    }
    if c.hide_inhibited {
        out.push(Span::styled("[no inhibited] ", muted(ctx)));
    }
    if c.unacked_only {
        out.push(Span::styled("[unacked only] ", muted(ctx)));
    }
    out
}

pub fn style(ctx: &Ctx, r: &CheckResult, m: &Mute) -> Style {
    match m {
        Mute::Active => ctx.theme.severity(r.severity()),
        Mute::Silenced => muted(ctx),
        Mute::Inhibited => muted(ctx).add_modifier(Modifier::ITALIC),
        Mute::Acked(_) => ctx.theme.style(StyleName::Key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::mute::Ack;

    #[test]
    fn ack_reads_who_and_how_long() {
        let now = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let r = CheckResult {
            status: 2,
            ..Default::default()
        };
        let ack = Mute::Acked(Ack {
            user: "alice".into(),
            note: String::new(),
            since: Some(now - chrono::Duration::minutes(12)),
            until: None,
            silence_id: "x".into(),
        });
        assert_eq!(text(&r, &ack, now), "⚑ ACK alice 12m");
        assert_eq!(fitted(&r, &ack, now, 1), "⚑");
        assert_eq!(text(&r, &Mute::Inhibited, now), "⊘ inhibited");
        assert_eq!(text(&CheckResult::default(), &Mute::Active, now), "");
    }
}

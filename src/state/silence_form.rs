//! The silence form: scope, duration, expire-on-resolve and a required reason. Pure; the view draws
//! it and the reducer feeds it the actions of the `[form]` keymap context (with `[input]`'s for
//! its text fields).

use super::field::TextField;
use crate::action::Action;
use crate::model::typed_time::{self, Lean};
use crate::model::{CheckResult, DisplayZone, SilenceRequest, SilenceScope};
use chrono::{DateTime, Utc};

pub const DURATION_PRESETS: [&str; 6] = ["30m", "1h", "2h", "4h", "1d", "none"];
/// Characters a reason may have; a duration.
const REASON_CHARS: usize = 500;
const DURATION_CHARS: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Scope,
    Duration,
    ExpireOnResolve,
    Reason,
}

const FIELDS: [Field; 4] = [
    Field::Scope,
    Field::Duration,
    Field::ExpireOnResolve,
    Field::Reason,
];

#[derive(Debug, Clone, PartialEq)]
pub enum FormResult {
    Editing,
    Cancel,
    Submit(SilenceRequest),
    /// A bulk form: one request per marked check.
    SubmitMany(Vec<SilenceRequest>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SilenceForm {
    pub target: String,
    pub scopes: Vec<SilenceScope>,
    /// The cluster of each scope's check (a merged view: each silence goes to its own).
    pub clusters: Vec<crate::model::ClusterId>,
    pub scope: usize,
    pub duration: TextField,
    pub expire_on_resolve: bool,
    /// Alertmanager silences end only at their time.
    pub supports_resolve: bool,
    pub reason: TextField,
    pub field: Field,
    pub error: Option<String>,
    /// Marked checks: `scopes` holds one scope per target (each check on its entity), all of them
    /// silenced, one silence each.
    pub bulk: bool,
    /// An ack form (`a`): the reason field is an optional note, sent as `ACK <user>: <note>`.
    pub ack: Option<AckForm>,
    /// Now and the display zone, as of the last key: an end time typed in the duration field
    /// (`until 18:00`) is read against them.
    pub clock: (DateTime<Utc>, DisplayZone),
}

/// What an ack form knows beyond a silence form's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct AckForm {
    pub user: String,
    /// Someone else's ack this one takes over (their name and its silence), said in the form
    /// before it is sent; expired once the new ack is confirmed.
    pub takes_over: Option<super::ack::TakeOver>,
}

impl SilenceForm {
    pub fn new(row: &CheckResult, supports_resolve: bool) -> SilenceForm {
        SilenceForm {
            target: format!(
                "{}/{}",
                if row.entity.is_empty() {
                    crate::model::NO_ENTITY
                } else {
                    &row.entity
                },
                row.check
            ),
            scopes: super::checks::scopes_for(row),
            clusters: vec![row.cluster],
            scope: 0,
            duration: TextField::with_text("2h", DURATION_CHARS),
            // The sensible default: the silence goes away with the problem.
            expire_on_resolve: supports_resolve,
            supports_resolve,
            reason: TextField::new(REASON_CHARS),
            field: Field::Reason,
            error: None,
            bulk: false,
            ack: None,
            clock: (DateTime::<Utc>::UNIX_EPOCH, DisplayZone::Utc),
        }
    }

    /// The ack form for one row: its own check on its entity, for `duration`, with an optional
    /// note; expire-on-resolve where the backend has it (Sensu), so the ack ends with the problem.
    pub fn ack(
        row: &CheckResult,
        supports_resolve: bool,
        duration: &str,
        ack: AckForm,
    ) -> SilenceForm {
        let mut form = SilenceForm::new(row, supports_resolve);
        form.scopes.truncate(1);
        form.duration.set(duration);
        form.ack = Some(ack);
        form
    }

    /// One form for several marked checks: one silence per check on its entity.
    pub fn bulk(rows: &[&CheckResult], supports_resolve: bool) -> SilenceForm {
        let scopes: Vec<SilenceScope> = rows
            .iter()
            .map(|r| SilenceScope::CheckOnEntity {
                entity: r.entity.clone(),
                check: r.check.clone(),
            })
            .collect();
        SilenceForm {
            target: format!("{} marked checks", scopes.len()),
            scopes,
            clusters: rows.iter().map(|r| r.cluster).collect(),
            bulk: true,
            ..SilenceForm::new(rows[0], supports_resolve)
        }
    }

    /// The duration cannot be sent (no expiry where the backend or the profile allows none).
    pub fn refuse_duration(&mut self, why: String) {
        self.error = Some(why);
        self.field = Field::Duration;
    }

    /// The chosen scope cannot be sent (see `state::handle_form`): say why, on the scope field.
    pub fn refuse(&mut self, why: String) {
        self.error = Some(why);
        self.field = Field::Scope;
    }

    fn step_field(&mut self, delta: isize) {
        let i = FIELDS.iter().position(|f| *f == self.field).unwrap_or(0) as isize;
        self.field = FIELDS[(i + delta).rem_euclid(FIELDS.len() as isize) as usize];
    }

    fn cycle(&mut self, delta: isize) {
        match self.field {
            Field::Scope if self.bulk => {}
            Field::Scope => {
                let n = self.scopes.len().max(1) as isize;
                self.scope = (self.scope as isize + delta).rem_euclid(n) as usize;
            }
            Field::Duration => {
                let i = DURATION_PRESETS
                    .iter()
                    .position(|p| *p == self.duration.text())
                    .map(|i| i as isize)
                    .unwrap_or(if delta > 0 { -1 } else { 0 });
                let n = DURATION_PRESETS.len() as isize;
                self.duration
                    .set(DURATION_PRESETS[(i + delta).rem_euclid(n) as usize]);
            }
            Field::ExpireOnResolve => {
                if self.supports_resolve {
                    self.expire_on_resolve = !self.expire_on_resolve;
                }
            }
            Field::Reason => {}
        }
    }

    /// An action of the form's keymap context: fields, choices, text, submit, cancel.
    pub fn act(&mut self, action: Action) -> FormResult {
        self.error = None;
        let choice = matches!(
            self.field,
            Field::Scope | Field::Duration | Field::ExpireOnResolve
        );
        match action {
            Action::Cancel | Action::Back => return FormResult::Cancel,
            Action::Submit => return self.submit(),
            Action::NextField => self.step_field(1),
            Action::PrevField => self.step_field(-1),
            // On a choice, left/right pick the previous/next value; in text they move the cursor.
            Action::CursorLeft if choice => self.cycle(-1),
            Action::CursorRight if choice => self.cycle(1),
            Action::InsertChar(' ')
                if matches!(self.field, Field::ExpireOnResolve | Field::Scope) =>
            {
                self.cycle(1)
            }
            edit => match self.field {
                Field::Reason => {
                    self.reason.edit(edit);
                }
                Field::Duration => {
                    // Typing over a preset replaces it.
                    if matches!(edit, Action::InsertChar(_))
                        && DURATION_PRESETS.contains(&self.duration.text())
                    {
                        self.duration.set("");
                    }
                    self.duration.edit(edit);
                }
                Field::Scope | Field::ExpireOnResolve => {}
            },
        }
        FormResult::Editing
    }

    /// Pasted text (already one line) into the reason or duration field; false when the field
    /// with the focus takes no text.
    pub fn paste(&mut self, line: &str) -> bool {
        self.error = None;
        match self.field {
            Field::Reason => self.reason.insert_str(line),
            Field::Duration => {
                if DURATION_PRESETS.contains(&self.duration.text()) {
                    self.duration.set("");
                }
                self.duration.insert_str(line.trim());
            }
            Field::Scope | Field::ExpireOnResolve => return false,
        }
        true
    }

    fn submit(&mut self) -> FormResult {
        let (now, zone) = self.clock;
        let duration = match parse_end(self.duration.text(), now, zone) {
            Ok(d) => d,
            Err(e) => {
                self.error = Some(e);
                self.field = Field::Duration;
                return FormResult::Editing;
            }
        };
        if self.reason.text().trim().is_empty() && self.ack.is_none() {
            self.error = Some("a reason is required — say why, for whoever is on call next".into());
            self.field = Field::Reason;
            return FormResult::Editing;
        }
        if duration.is_none() && !self.expire_on_resolve {
            // Allowed, but worth saying: the silence stays until someone removes it.
            self.error = None;
        }
        let cluster_at = |i: usize| {
            self.clusters
                .get(i)
                .or(self.clusters.first())
                .copied()
                .unwrap_or_default()
        };
        let request = |(i, scope): (usize, SilenceScope)| SilenceRequest {
            cluster: cluster_at(i),
            scope,
            duration,
            expire_on_resolve: self.expire_on_resolve && self.supports_resolve,
            reason: match &self.ack {
                Some(a) => crate::model::mute::ack_comment(&a.user, self.reason.text()),
                None => self.reason.text().trim().to_string(),
            },
            creator: String::new(),
        };
        if self.bulk {
            return FormResult::SubmitMany(
                self.scopes
                    .iter()
                    .cloned()
                    .enumerate()
                    .map(request)
                    .collect(),
            );
        }
        let Some(scope) = self.scopes.get(self.scope).cloned() else {
            return FormResult::Cancel;
        };
        // Every scope of one row's form is that row's cluster's.
        FormResult::Submit(request((0, scope)))
    }
}

/// The duration field: a duration (`2h`, `1d`, `none`) or an end time in the display zone
/// (`until 18:00`, `18:00`, `tomorrow 08:00`, `2026-12-06 09:00`), as the time from `now`.
pub fn parse_end(
    text: &str,
    now: DateTime<Utc>,
    zone: DisplayZone,
) -> Result<Option<std::time::Duration>, String> {
    end_of(text, now, zone).map(|e| e.map(|(d, _)| d))
}

/// [`parse_end`], with what the zone says about the end time (a DST overlap).
fn end_of(
    text: &str,
    now: DateTime<Utc>,
    zone: DisplayZone,
) -> Result<Option<(std::time::Duration, Option<String>)>, String> {
    let t = text.trim();
    let (until, rest) = split_until(t);
    if !until {
        let as_duration = super::checks::parse_duration(t);
        if as_duration.is_ok() || !looks_like_a_time(t) {
            return as_duration
                .map(|d| d.map(|d| (d, None)))
                .map_err(|e| format!("{e} (or an end time: until 18:00)"));
        }
    }
    let end = typed_time::parse(rest, now, zone, Lean::Future).map_err(|e| {
        format!(
            "{e} — an end time reads until 18:00, until tomorrow 08:00 or until 2026-12-06 09:00"
        )
    })?;
    if end.at <= now {
        return Err(format!(
            "{} has passed — a silence ends later than now",
            zone.stamp(end.at)
        ));
    }
    let secs = (end.at - now).num_seconds().max(1) as u64;
    if secs > super::checks::MAX_SILENCE.as_secs() {
        return Err(format!(
            "{} is more than {}d away, the longest silence this form sets",
            zone.stamp(end.at),
            super::checks::MAX_SILENCE.as_secs() / 86_400
        ));
    }
    Ok(Some((std::time::Duration::from_secs(secs), end.note)))
}

/// A time of day or a date, not a duration: `18:00`, `tomorrow 8:00`, `2026-12-06 09:00`.
fn looks_like_a_time(t: &str) -> bool {
    t.contains(':') || t.contains('-') || t.contains('T')
}

/// `until 18:00` → (true, `18:00`); anything else as it is.
fn split_until(t: &str) -> (bool, &str) {
    match t.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("until ") => (true, t[6..].trim()),
        _ => (false, t),
    }
}

/// What the form says under the duration when it holds an end time: when the silence would end, in the display zone and
/// in UTC (`None` when the field holds no end, or nothing readable yet).
pub fn ends_echo(text: &str, now: DateTime<Utc>, zone: DisplayZone) -> Option<String> {
    let t = text.trim();
    if !split_until(t).0 && !looks_like_a_time(t) {
        // A duration (`2h`) names no end time to echo.
        return None;
    }
    let (d, note) = end_of(text, now, zone).ok()??;
    let end = now + chrono::Duration::from_std(d).ok()?;
    let r = crate::model::zone::Resolved { at: end, note };
    Some(format!("ends {}", typed_time::echo(&r, zone)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> CheckResult {
        CheckResult {
            entity: "web-1".into(),
            check: "check_http".into(),
            status: 2,
            subscriptions: vec!["linux".into()],
            ..Default::default()
        }
    }

    fn type_text(f: &mut SilenceForm, s: &str) {
        for c in s.chars() {
            f.act(Action::InsertChar(c));
        }
    }

    #[test]
    fn reason_is_required() {
        let mut f = SilenceForm::new(&row(), true);
        assert_eq!(f.act(Action::Submit), FormResult::Editing);
        assert!(f.error.as_deref().unwrap().contains("reason"));
        type_text(&mut f, "deploying");
        match f.act(Action::Submit) {
            FormResult::Submit(r) => {
                assert_eq!(r.reason, "deploying");
                assert_eq!(r.duration, Some(std::time::Duration::from_secs(7200)));
                assert!(r.expire_on_resolve);
                assert_eq!(
                    r.scope,
                    SilenceScope::CheckOnEntity {
                        entity: "web-1".into(),
                        check: "check_http".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn scope_duration_and_resolve_fields() {
        let mut f = SilenceForm::new(&row(), true);
        type_text(&mut f, "x");
        f.act(Action::NextField); // → scope (wraps)
        assert_eq!(f.field, Field::Scope);
        f.act(Action::CursorRight);
        f.act(Action::CursorRight);
        f.act(Action::NextField); // duration
        type_text(&mut f, "45m");
        f.act(Action::NextField); // expire on resolve
        f.act(Action::InsertChar(' '));
        match f.act(Action::Submit) {
            FormResult::Submit(r) => {
                assert_eq!(
                    r.scope,
                    SilenceScope::Entity {
                        entity: "web-1".into()
                    }
                );
                assert_eq!(r.duration, Some(std::time::Duration::from_secs(2700)));
                assert!(!r.expire_on_resolve);
            }
            other => panic!("{other:?}"),
        }
    }

    /// Typed into the form (it takes 16 characters): refused with the bound, the form stays open.
    #[test]
    fn overlong_duration_is_refused_not_overflowed() {
        let mut f = SilenceForm::new(&row(), true);
        type_text(&mut f, "maintenance");
        f.act(Action::NextField); // → scope
        f.act(Action::NextField); // → duration
        assert_eq!(f.field, Field::Duration);
        type_text(&mut f, "999999999999999w");
        assert_eq!(f.duration.text(), "999999999999999w");
        assert_eq!(f.act(Action::Submit), FormResult::Editing);
        let e = f.error.clone().unwrap_or_default();
        assert!(e.contains("longer than 365d"), "{e}");
        assert_eq!(f.field, Field::Duration);
    }

    #[test]
    fn bad_duration_is_reported() {
        let mut f = SilenceForm::new(&row(), false);
        type_text(&mut f, "why");
        f.field = Field::Duration;
        f.duration.set("soon");
        assert_eq!(f.act(Action::Submit), FormResult::Editing);
        assert!(f.error.is_some());
        assert!(
            !f.expire_on_resolve,
            "alertmanager cannot expire on resolve"
        );
    }

    #[test]
    fn an_end_time_is_read_in_the_display_zone() {
        use chrono::TimeZone;
        let berlin = DisplayZone::Named(chrono_tz::Tz::Europe__Berlin);
        // 10:00 in Berlin.
        let now = Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap();
        let secs = |t: &str| parse_end(t, now, berlin).map(|d| d.map(|d| d.as_secs()));
        assert_eq!(secs("until 18:00"), Ok(Some(8 * 3600)));
        assert_eq!(secs("18:00"), Ok(Some(8 * 3600)));
        // 08:00 has passed today: tomorrow's.
        assert_eq!(secs("until 08:00"), Ok(Some(22 * 3600)));
        assert_eq!(secs("until tomorrow 10:30"), Ok(Some(24 * 3600 + 1800)));
        assert_eq!(secs("2h"), Ok(Some(7200)));
        assert_eq!(secs("none"), Ok(None));
        assert!(secs("until 2026-12-01 09:00")
            .unwrap_err()
            .contains("has passed"));
        assert!(secs("until 2029-01-01 09:00")
            .unwrap_err()
            .contains("longest"));
        assert!(secs("until lunch").unwrap_err().contains("until 18:00"));
        assert!(secs("soon").unwrap_err().contains("until 18:00"));
        let echo = ends_echo("until 18:00", now, berlin).unwrap();
        assert_eq!(echo, "ends 2026-12-05 18:00 +01:00 = 17:00 UTC");
        // The night the clocks go back: 02:30 happens twice, the first is taken and it is said.
        let autumn = Utc.with_ymd_and_hms(2026, 10, 24, 20, 0, 0).unwrap();
        let echo = ends_echo("until 2026-10-25 02:30", autumn, berlin).unwrap();
        assert!(
            echo.contains("00:30 UTC") && echo.contains("twice"),
            "{echo}"
        );
        assert!(parse_end(
            "until 2026-03-29 02:30",
            Utc.with_ymd_and_hms(2026, 3, 28, 12, 0, 0).unwrap(),
            berlin
        )
        .unwrap_err()
        .contains("does not exist"));
    }

    #[test]
    fn the_form_submits_an_end_time_as_a_duration() {
        use chrono::TimeZone;
        let mut f = SilenceForm::new(&row(), true);
        f.clock = (
            Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap(),
            DisplayZone::Utc,
        );
        f.duration.set("until 12:00");
        f.reason.set("deploy");
        match f.act(Action::Submit) {
            FormResult::Submit(r) => {
                assert_eq!(r.duration, Some(std::time::Duration::from_secs(3 * 3600)))
            }
            other => panic!("{other:?}"),
        }
    }
}

//! The silence form: scope, duration, expire-on-resolve and a required reason. Pure; the view draws
//! it and the reducer feeds it the actions of the `[form]` keymap context (with `[input]`'s for
//! its text fields).

use super::field::TextField;
use crate::action::Action;
use crate::model::{CheckResult, SilenceRequest, SilenceScope};

pub const DURATION_PRESETS: [&str; 6] = ["30m", "1h", "2h", "4h", "1d", "none"];
/// Characters a reason may have; a duration.
const REASON_CHARS: usize = 500;
const DURATION_CHARS: usize = 16;

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
        let duration = match super::checks::parse_duration(self.duration.text()) {
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
        let request = |scope: SilenceScope| SilenceRequest {
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
            return FormResult::SubmitMany(self.scopes.iter().cloned().map(request).collect());
        }
        let Some(scope) = self.scopes.get(self.scope).cloned() else {
            return FormResult::Cancel;
        };
        FormResult::Submit(request(scope))
    }
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
}

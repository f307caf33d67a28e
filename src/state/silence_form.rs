//! The silence form: scope, duration, expire-on-resolve and a required reason. Pure; the view draws
//! it and `handle_form` feeds it keys.

use crate::model::{CheckResult, SilenceRequest, SilenceScope};

pub const DURATION_PRESETS: [&str; 6] = ["30m", "1h", "2h", "4h", "1d", "none"];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    Char(char),
    Backspace,
    Up,
    Down,
    Left,
    Right,
    Tab,
    BackTab,
    Enter,
    Esc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FormResult {
    Editing,
    Cancel,
    Submit(SilenceRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SilenceForm {
    pub target: String,
    pub scopes: Vec<SilenceScope>,
    pub scope: usize,
    pub duration: String,
    pub expire_on_resolve: bool,
    /// Alertmanager silences end only at their time.
    pub supports_resolve: bool,
    pub reason: String,
    pub field: Field,
    pub error: Option<String>,
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
            duration: "2h".into(),
            // The sensible default: the silence goes away with the problem.
            expire_on_resolve: supports_resolve,
            supports_resolve,
            reason: String::new(),
            field: Field::Reason,
            error: None,
        }
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
            Field::Scope => {
                let n = self.scopes.len().max(1) as isize;
                self.scope = (self.scope as isize + delta).rem_euclid(n) as usize;
            }
            Field::Duration => {
                let i = DURATION_PRESETS
                    .iter()
                    .position(|p| *p == self.duration)
                    .map(|i| i as isize)
                    .unwrap_or(if delta > 0 { -1 } else { 0 });
                let n = DURATION_PRESETS.len() as isize;
                self.duration = DURATION_PRESETS[(i + delta).rem_euclid(n) as usize].to_string();
            }
            Field::ExpireOnResolve => {
                if self.supports_resolve {
                    self.expire_on_resolve = !self.expire_on_resolve;
                }
            }
            Field::Reason => {}
        }
    }

    pub fn key(&mut self, key: FormKey) -> FormResult {
        self.error = None;
        match key {
            FormKey::Esc => return FormResult::Cancel,
            FormKey::Tab | FormKey::Down => self.step_field(1),
            FormKey::BackTab | FormKey::Up => self.step_field(-1),
            FormKey::Left => self.cycle(-1),
            FormKey::Right => self.cycle(1),
            FormKey::Char(' ') if matches!(self.field, Field::ExpireOnResolve | Field::Scope) => {
                self.cycle(1)
            }
            FormKey::Char(c) => match self.field {
                Field::Reason if self.reason.chars().count() < 500 => self.reason.push(c),
                Field::Duration if self.duration.len() < 16 => {
                    if DURATION_PRESETS.contains(&self.duration.as_str()) {
                        self.duration.clear();
                    }
                    self.duration.push(c)
                }
                _ => {}
            },
            FormKey::Backspace => match self.field {
                Field::Reason => {
                    self.reason.pop();
                }
                Field::Duration => {
                    self.duration.pop();
                }
                _ => {}
            },
            FormKey::Enter => return self.submit(),
        }
        FormResult::Editing
    }

    /// Pasted text (already one line) into the reason or duration field; false when the field
    /// with the focus takes no text.
    pub fn paste(&mut self, line: &str) -> bool {
        self.error = None;
        match self.field {
            Field::Reason => {
                let room = 500usize.saturating_sub(self.reason.chars().count());
                self.reason.extend(line.chars().take(room));
            }
            Field::Duration => {
                if DURATION_PRESETS.contains(&self.duration.as_str()) {
                    self.duration.clear();
                }
                super::paste::push_capped(&mut self.duration, line.trim(), 16);
            }
            Field::Scope | Field::ExpireOnResolve => return false,
        }
        true
    }

    fn submit(&mut self) -> FormResult {
        let duration = match super::checks::parse_duration(&self.duration) {
            Ok(d) => d,
            Err(e) => {
                self.error = Some(e);
                self.field = Field::Duration;
                return FormResult::Editing;
            }
        };
        if self.reason.trim().is_empty() {
            self.error = Some("a reason is required — say why, for whoever is on call next".into());
            self.field = Field::Reason;
            return FormResult::Editing;
        }
        if duration.is_none() && !self.expire_on_resolve {
            // Allowed, but worth saying: the silence stays until someone removes it.
            self.error = None;
        }
        let Some(scope) = self.scopes.get(self.scope).cloned() else {
            return FormResult::Cancel;
        };
        FormResult::Submit(SilenceRequest {
            scope,
            duration,
            expire_on_resolve: self.expire_on_resolve && self.supports_resolve,
            reason: self.reason.trim().to_string(),
            creator: String::new(),
        })
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
            f.key(FormKey::Char(c));
        }
    }

    #[test]
    fn reason_is_required() {
        let mut f = SilenceForm::new(&row(), true);
        assert_eq!(f.key(FormKey::Enter), FormResult::Editing);
        assert!(f.error.as_deref().unwrap().contains("reason"));
        type_text(&mut f, "deploying");
        match f.key(FormKey::Enter) {
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
        f.key(FormKey::Tab); // → scope (wraps)
        assert_eq!(f.field, Field::Scope);
        f.key(FormKey::Right);
        f.key(FormKey::Right);
        f.key(FormKey::Down); // duration
        type_text(&mut f, "45m");
        f.key(FormKey::Down); // expire on resolve
        f.key(FormKey::Char(' '));
        match f.key(FormKey::Enter) {
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
        f.key(FormKey::Tab); // → scope
        f.key(FormKey::Tab); // → duration
        assert_eq!(f.field, Field::Duration);
        type_text(&mut f, "999999999999999w");
        assert_eq!(f.duration, "999999999999999w");
        assert_eq!(f.key(FormKey::Enter), FormResult::Editing);
        let e = f.error.clone().unwrap_or_default();
        assert!(e.contains("longer than 365d"), "{e}");
        assert_eq!(f.field, Field::Duration);
    }

    #[test]
    fn bad_duration_is_reported() {
        let mut f = SilenceForm::new(&row(), false);
        type_text(&mut f, "why");
        f.field = Field::Duration;
        f.duration = "soon".into();
        assert_eq!(f.key(FormKey::Enter), FormResult::Editing);
        assert!(f.error.is_some());
        assert!(
            !f.expire_on_resolve,
            "alertmanager cannot expire on resolve"
        );
    }
}

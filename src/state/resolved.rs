//! Recently resolved checks: Alertmanager keeps no history (a resolved alert just leaves the
//! list) and Sensu only turns the row OK, so the console remembers, from its own polls, what was
//! failing and stopped, and when — for an hour.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::model::CheckResult;

/// How long a resolved check stays listed.
pub const KEEP: chrono::Duration = chrono::Duration::hours(1);
/// At most this many are kept (a mass recovery must not grow memory without bound).
const MAX: usize = 500;

#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The row as last seen failing (raw names: its identity).
    pub last: CheckResult,
    /// The first poll that saw it gone or OK.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct ResolvedLog {
    /// Newest first.
    items: VecDeque<Resolved>,
}

impl ResolvedLog {
    /// Between two polls: what was failing in `before` and is OK or gone in `after` resolved at
    /// `at`; what fails again leaves the list.
    pub fn observe(&mut self, before: &[CheckResult], after: &[CheckResult], at: DateTime<Utc>) {
        let failing_now = |r: &CheckResult| {
            after
                .iter()
                .any(|x| x.entity == r.entity && x.check == r.check && x.status != 0)
        };
        self.items.retain(|x| !failing_now(&x.last));
        for r in before.iter().filter(|r| r.status != 0) {
            if !failing_now(r) {
                self.items
                    .retain(|x| !(x.last.entity == r.entity && x.last.check == r.check));
                self.items.push_front(Resolved {
                    last: r.clone(),
                    at,
                });
            }
        }
        self.items.truncate(MAX);
        self.prune(at);
    }

    pub fn prune(&mut self, now: DateTime<Utc>) {
        self.items.retain(|x| now - x.at < KEEP);
    }

    /// Newest first, those resolved within [`KEEP`] of `now`.
    pub fn recent(&self, now: DateTime<Utc>) -> impl Iterator<Item = &Resolved> {
        self.items.iter().filter(move |x| now - x.at < KEEP)
    }

    /// The `i`-th kept, newest first (see [`Self::recent`] for the time limit).
    pub fn get(&self, i: usize) -> Option<&Resolved> {
        self.items.get(i)
    }

    /// Every kept one with its index, newest first.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &Resolved)> {
        self.items.iter().enumerate()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(entity: &str, status: i64) -> CheckResult {
        CheckResult {
            entity: entity.into(),
            check: "http".into(),
            status,
            ..Default::default()
        }
    }

    fn t(mins: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + mins * 60, 0).unwrap()
    }

    #[test]
    fn gone_or_ok_is_resolved_for_an_hour_and_failing_again_is_not() {
        let mut log = ResolvedLog::default();
        // a leaves the list (Alertmanager), b turns OK (Sensu), c stays failing, d was OK.
        log.observe(
            &[r("a", 2), r("b", 1), r("c", 2), r("d", 0)],
            &[r("b", 0), r("c", 2), r("d", 0)],
            t(0),
        );
        let names: Vec<&str> = log.recent(t(1)).map(|x| x.last.entity.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(log.recent(t(1)).next().unwrap().at, t(0));
        // a fires again: no longer resolved.
        log.observe(
            &[r("b", 0), r("c", 2)],
            &[r("a", 2), r("b", 0), r("c", 2)],
            t(5),
        );
        let names: Vec<&str> = log.recent(t(6)).map(|x| x.last.entity.as_str()).collect();
        assert_eq!(names, ["b"]);
        assert_eq!(log.recent(t(61)).count(), 0);
        log.prune(t(61));
        assert!(log.is_empty());
    }
}

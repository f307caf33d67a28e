//! Notify on new criticals: the first sighting of a critical check that nobody has muted
//! (not acked, silenced or inhibited) rings the terminal bell and raises a desktop notification,
//! at most once per [`EVERY`]; criticals seen meanwhile wait for the next one. The criticals
//! already firing when the console starts (or switches cluster) are the baseline, not news.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::checks::Checks;
use crate::model::mute::Mute;

/// At most one notification this often.
pub const EVERY: chrono::Duration = chrono::Duration::seconds(30);

type Key = (String, String);

#[derive(Debug, Default)]
pub struct Notifier {
    /// Criticals seen in the last poll (any state): a critical is news only when it was not.
    seen: BTreeSet<Key>,
    /// News not told yet because the last notification was too recent.
    pending: BTreeSet<Key>,
    primed: bool,
    last: Option<DateTime<Utc>>,
}

/// What to tell: the new criticals by (entity, check), raw.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub new: Vec<Key>,
}

impl Notice {
    pub fn title(&self) -> String {
        match self.new.len() {
            1 => "new critical".to_string(),
            n => format!("{n} new criticals"),
        }
    }

    /// `check_http on web-1, check_disk on db-1 …` (raw names: sanitised where written).
    pub fn body(&self) -> String {
        let mut names: Vec<String> = self
            .new
            .iter()
            .take(3)
            .map(|(e, c)| {
                if e.is_empty() {
                    c.clone()
                } else {
                    format!("{c} on {e}")
                }
            })
            .collect();
        if self.new.len() > 3 {
            names.push(format!("and {} more", self.new.len() - 3));
        }
        names.join(", ")
    }
}

impl Notifier {
    /// Forget everything: the next poll is a new baseline (a cluster switch).
    pub fn reset(&mut self) {
        *self = Notifier::default();
    }

    /// After a poll: what to tell now, if anything.
    pub fn observe(&mut self, checks: &Checks, now: DateTime<Utc>) -> Option<Notice> {
        let mut current = BTreeSet::new();
        let mut fresh = Vec::new();
        for i in 0..checks.results.len() {
            let r = &checks.results[i];
            if r.status != 2 {
                continue;
            }
            let key = (r.entity.clone(), r.check.clone());
            let muted = !matches!(checks.mute_of_result(i), Mute::Active);
            if !self.seen.contains(&key) && !muted {
                fresh.push(key.clone());
            }
            current.insert(key);
        }
        self.seen = current;
        if !self.primed {
            self.primed = true;
            return None;
        }
        // Pending news that resolved or got muted meanwhile is no longer news.
        let still: BTreeSet<Key> = self
            .pending
            .iter()
            .filter(|k| {
                checks
                    .results
                    .iter()
                    .position(|r| r.entity == k.0 && r.check == k.1 && r.status == 2)
                    .is_some_and(|i| matches!(checks.mute_of_result(i), Mute::Active))
            })
            .cloned()
            .collect();
        self.pending = still;
        self.pending.extend(fresh);
        if self.pending.is_empty() || self.last.is_some_and(|t| now - t < EVERY) {
            return None;
        }
        self.last = Some(now);
        Some(Notice {
            new: std::mem::take(&mut self.pending).into_iter().collect(),
        })
    }
}

/// After a checks poll: the notification to send, where this cluster wants them.
pub fn on_poll(state: &mut super::State, now: DateTime<Utc>) -> Option<crate::model::Command> {
    if !state.guard.notify {
        return None;
    }
    let notice = state.notifier.observe(&state.checks, now)?;
    let title = format!("opsconsole {}: {}", state.cluster, notice.title());
    let body = notice.body();
    let hook = (!state.guard.notify_command.is_empty()).then(|| {
        state
            .guard
            .notify_command
            .iter()
            .map(|a| {
                a.replace("{title}", &title)
                    .replace("{body}", &body)
                    .replace("{cluster}", &state.cluster)
            })
            .collect()
    });
    Some(crate::model::Command::Notify { title, body, hook })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CheckResult, ChecksSnapshot};

    fn row(entity: &str, status: i64) -> CheckResult {
        CheckResult {
            entity: entity.into(),
            check: "http".into(),
            status,
            ..Default::default()
        }
    }

    fn poll(c: &mut Checks, n: &mut Notifier, rows: Vec<CheckResult>, secs: i64) -> Option<Notice> {
        let at = DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap();
        c.apply_snapshot(
            ChecksSnapshot {
                results: rows,
                ..Default::default()
            },
            at,
        );
        n.observe(c, at)
    }

    #[test]
    fn a_new_critical_rings_once() {
        let (mut c, mut n) = (Checks::default(), Notifier::default());
        // Already critical at start: the baseline.
        assert_eq!(poll(&mut c, &mut n, vec![row("a", 2)], 0), None);
        assert_eq!(
            poll(&mut c, &mut n, vec![row("a", 2), row("b", 1)], 10),
            None
        );
        let notice = poll(&mut c, &mut n, vec![row("a", 2), row("b", 2)], 20).unwrap();
        assert_eq!(notice.new, vec![("b".to_string(), "http".to_string())]);
        assert_eq!(notice.body(), "http on b");
        // Still critical: not news again.
        assert_eq!(
            poll(&mut c, &mut n, vec![row("a", 2), row("b", 2)], 60),
            None
        );
        // Resolved and back: news again.
        assert_eq!(poll(&mut c, &mut n, vec![row("a", 2)], 70), None);
        assert!(poll(&mut c, &mut n, vec![row("a", 2), row("b", 2)], 80).is_some());
    }

    #[test]
    fn rate_limited_news_waits_and_muted_news_is_none() {
        let (mut c, mut n) = (Checks::default(), Notifier::default());
        poll(&mut c, &mut n, vec![], 0);
        assert!(poll(&mut c, &mut n, vec![row("a", 2)], 10).is_some());
        // Within 30 s of the last: held back, told at the next poll after the window.
        assert_eq!(
            poll(&mut c, &mut n, vec![row("a", 2), row("b", 2)], 20),
            None
        );
        let later = poll(&mut c, &mut n, vec![row("a", 2), row("b", 2)], 41).unwrap();
        assert_eq!(later.new, vec![("b".to_string(), "http".to_string())]);
        // Silenced at first sighting: no news.
        let mut muted = row("c", 2);
        muted.silenced = true;
        assert_eq!(
            poll(&mut c, &mut n, vec![row("a", 2), row("b", 2), muted], 100),
            None
        );
        let mut inhibited = row("d", 2);
        inhibited.inhibited_by = vec!["fp".into()];
        assert_eq!(poll(&mut c, &mut n, vec![inhibited], 200), None);
    }
}

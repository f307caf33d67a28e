//! Undo of a deregister within a minute, and the progress of bulk changes. What undo needs (the
//! key's value, its lease and TTL) is kept under the deregister's audit id until the outcome says
//! the key is gone; then it can be put back — only if the key does not exist (an instance that
//! registered again is never overwritten).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::model::AuditId;

/// How long a deregister can be undone.
pub const UNDO_SECS: i64 = 60;

#[derive(Debug, Clone, PartialEq)]
pub struct Undoable {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub lease: i64,
    /// Seconds the lease had left when the key went (a new lease gets as many).
    pub ttl: i64,
    /// The lease was revoked with it: its other keys went too and are not put back.
    pub lease_revoked: bool,
    pub at: DateTime<Utc>,
    /// The cluster the key was deleted from: it is put back there.
    pub cluster: crate::model::ClusterId,
}

#[derive(Debug, Default)]
pub struct Undo {
    /// Deregisters sent, by audit id, until their outcome.
    pending: BTreeMap<AuditId, Undoable>,
    /// Deregistered keys, newest last.
    done: Vec<Undoable>,
}

impl Undo {
    pub fn pending(&mut self, id: AuditId, u: Undoable) {
        self.pending.insert(id, u);
    }

    /// The outcome of deregister `id`: undoable from `at` if the key went.
    pub fn settled(&mut self, id: &AuditId, deleted: bool, at: DateTime<Utc>) {
        if let Some(mut u) = self.pending.remove(id) {
            if deleted {
                u.at = at;
                self.done
                    .retain(|d| (d.cluster, &d.key) != (u.cluster, &u.key));
                self.done.push(u);
            }
        }
    }

    /// The newest deregister that can still be undone at `now`.
    pub fn latest(&mut self, now: DateTime<Utc>) -> Option<&Undoable> {
        self.done.retain(|u| (now - u.at).num_seconds() < UNDO_SECS);
        self.done.last()
    }

    /// Whether this console has a deregister of cluster `c`'s `key` in flight or just done
    /// (the same key in another cluster of a merged view is another member).
    pub fn involves(&self, c: crate::model::ClusterId, key: &[u8]) -> bool {
        let is = |u: &Undoable| u.cluster == c && *u.key == *key;
        self.pending.values().any(is) || self.done.iter().any(is)
    }

    pub fn forget(&mut self, c: crate::model::ClusterId, key: &[u8]) {
        self.done.retain(|u| !(u.cluster == c && u.key == key));
    }
}

/// A bulk change in flight: its attempts by id, and what came back.
#[derive(Debug, Default)]
pub struct Batch {
    action: &'static str,
    waiting: Vec<AuditId>,
    /// (target, result) of each outcome so far.
    pub results: Vec<(String, String)>,
}

impl Batch {
    pub fn start(&mut self, action: &'static str, ids: Vec<AuditId>) {
        *self = Batch {
            action,
            waiting: ids,
            results: Vec::new(),
        };
    }

    /// Whether `id` belongs to the batch in flight.
    pub fn has(&self, id: &AuditId) -> bool {
        self.waiting.contains(id)
    }

    /// Records one outcome; the summary once the last is in.
    pub fn outcome(
        &mut self,
        id: &AuditId,
        target: String,
        result: &str,
    ) -> Option<(bool, String)> {
        let i = self.waiting.iter().position(|w| w == id)?;
        self.waiting.remove(i);
        self.results.push((target, result.to_string()));
        if !self.waiting.is_empty() {
            return None;
        }
        let ok = |r: &str| matches!(r, "deleted" | "created");
        let good = self.results.iter().filter(|(_, r)| ok(r)).count();
        let bad: Vec<String> = self
            .results
            .iter()
            .filter(|(_, r)| !ok(r))
            .map(|(t, r)| format!("{t}: {r}"))
            .collect();
        let total = self.results.len();
        let verb = match self.action {
            "deregister" => "deregistered",
            _ => "silenced",
        };
        let text = if bad.is_empty() {
            format!("{verb} all {total}")
        } else {
            format!(
                "{verb} {good} of {total} — not: {} (each in the audit log)",
                bad.join(", ")
            )
        };
        Some((bad.is_empty(), text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClusterId;
    use chrono::TimeZone;

    /// A merged view: prod and prod-eu may both hold `/services/web/web-1`; a deregister of
    /// prod's is not prod-eu's, whether for churn's "ours" or for forgetting it.
    #[test]
    fn a_deregister_is_its_own_clusters_key_only() {
        let t = Utc.with_ymd_and_hms(2026, 12, 5, 4, 0, 0).unwrap();
        let (prod, eu) = (ClusterId(0), ClusterId(1));
        let key = b"/services/web/web-1".to_vec();
        let mut u = Undo::default();
        let id = AuditId::new("run", 1);
        u.pending(
            id.clone(),
            Undoable {
                key: key.clone(),
                value: b"v".to_vec(),
                lease: 0,
                ttl: 0,
                lease_revoked: false,
                at: t,
                cluster: prod,
            },
        );
        assert!(u.involves(prod, &key));
        assert!(!u.involves(eu, &key));
        u.settled(&id, true, t);
        assert!(u.involves(prod, &key) && !u.involves(eu, &key));
        u.forget(eu, &key);
        assert_eq!(u.latest(t).map(|x| x.cluster), Some(prod));
        u.forget(prod, &key);
        assert!(u.latest(t).is_none());
    }
}

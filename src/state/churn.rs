//! Membership churn: who joined and left since the console started, when, and why it left —
//! worked out from the console's own index at the moment each watch event arrives (the lease a
//! key was on and that lease's last-seen TTL), never from `prev_kv` (it would double the watch's
//! payload). Flapping is a member that left and came back `flap_count` times within
//! `flap_window`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::members::Ident;
use super::parted::Parted;
use crate::model::ClusterId;

/// Events kept for the timeline; the oldest go first.
pub const MAX_EVENTS: usize = 10_000;

/// How close to its lease's last-seen expiry a delete must come to count as `lease expired`.
pub const EXPIRY_SLACK_SECS: i64 = 1;
/// Members remembered as gone, or with returns, before the stale ones are dropped: a fleet whose
/// instances get new names at every deploy leaves keys that never come back, and the maps would
/// grow for the console's lifetime.
const PRUNE_AT: usize = 50_000;
/// How long a member that left is remembered as gone once the maps are pruned: well past the
/// flap window, so a member gone that long and back counts as a return only while it is rare.
const GONE_KEPT: Duration = Duration::hours(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The key's lease ran out (the delete came within ~1 s of its TTL reaching 0).
    LeaseExpired,
    /// This console deregistered it (its audit log has the line).
    Deregistered,
    /// Deleted by someone else.
    Deleted,
}

impl Why {
    pub fn label(self) -> &'static str {
        match self {
            Why::LeaseExpired => "lease expired",
            Why::Deregistered => "deregistered",
            Why::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Joined,
    Left(Why),
    /// Registered again with a new lease while the key still existed.
    Replaced {
        old_lease: i64,
        new_lease: i64,
    },
}

impl Change {
    pub fn label(&self) -> String {
        match self {
            Change::Joined => "joined".into(),
            Change::Left(why) => format!("left: {}", why.label()),
            Change::Replaced {
                old_lease,
                new_lease,
            } => format!("replaced (lease {old_lease:x} → {new_lease:x})"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: DateTime<Utc>,
    /// The key's cluster (a merged view: the same key in two clusters is two members).
    pub cluster: ClusterId,
    pub key: Arc<[u8]>,
    pub change: Change,
}

/// What the churn rule needs to know about a key before an event is applied.
#[derive(Debug, Clone, Copy)]
pub struct Before {
    /// The key existed, on this lease (0: none).
    pub lease: Option<i64>,
    /// Seconds its lease had left, as last seen.
    pub lease_remaining: Option<i64>,
}

/// Keys and identities come from etcd and are hashed on every watch put: foldhash (seeded per
/// process, as the log names' tables) costs a fraction of SipHash on ~30-byte keys.
type Fold = foldhash::fast::RandomState;

/// When one member came back after leaving, oldest first.
type Returns = VecDeque<DateTime<Utc>>;

#[derive(Debug)]
pub struct Churn {
    pub events: VecDeque<Event>,
    /// Per member (cluster, then key), when it came back after leaving (the flapping rule counts
    /// these). Keyed in two steps so a lookup by the key's bytes needs no copy of it: every
    /// watch put asks.
    returns: HashMap<ClusterId, Parted<Arc<[u8]>, Returns>, Fold>,
    /// Members that left, until they come back: a put on one of them is a return.
    gone: Parted<Ident, DateTime<Utc>>,
    /// The size of `gone` at which it is pruned next: twice what the last pruning kept, so a
    /// burst of recent leaves costs amortised O(1) each.
    prune_at: usize,
    pub flap_count: usize,
    pub flap_window: Duration,
}

impl Default for Churn {
    fn default() -> Self {
        Churn {
            events: VecDeque::new(),
            returns: HashMap::default(),
            gone: Parted::default(),
            prune_at: PRUNE_AT,
            flap_count: 3,
            flap_window: Duration::minutes(10),
        }
    }
}

impl Churn {
    /// A put of `key` on `lease`, given what the index held before.
    pub fn put(&mut self, key: &[u8], lease: i64, before: Before, at: DateTime<Utc>) {
        self.put_in(ClusterId::default(), key, lease, before, at)
    }

    /// A put of cluster `c`'s `key` (a merged view's etcds each have their own).
    pub fn put_in(
        &mut self,
        cluster: ClusterId,
        key: &[u8],
        lease: i64,
        before: Before,
        at: DateTime<Utc>,
    ) {
        match before.lease {
            None => {
                let key: Arc<[u8]> = key.into();
                if self.gone.remove(&(cluster, key.clone())).is_some() {
                    let r = self
                        .returns
                        .entry(cluster)
                        .or_default()
                        .entry(key.clone())
                        .or_default();
                    r.push_back(at);
                    let window = self.flap_window;
                    while r.front().is_some_and(|t| at - *t > window) {
                        r.pop_front();
                    }
                }
                self.push(Event {
                    at,
                    cluster,
                    key,
                    change: Change::Joined,
                });
            }
            Some(old) if old != lease && old != 0 && lease != 0 => self.push(Event {
                at,
                cluster,
                key: key.into(),
                change: Change::Replaced {
                    old_lease: old,
                    new_lease: lease,
                },
            }),
            // A value update on the same lease (a heartbeat): not churn.
            Some(_) => {}
        }
    }

    /// A delete of `key`; `ours` when this console deregistered it.
    pub fn delete(&mut self, key: &[u8], before: Before, ours: bool, at: DateTime<Utc>) {
        self.delete_in(ClusterId::default(), key, before, ours, at)
    }

    /// A delete of cluster `c`'s `key`.
    pub fn delete_in(
        &mut self,
        cluster: ClusterId,
        key: &[u8],
        before: Before,
        ours: bool,
        at: DateTime<Utc>,
    ) {
        if before.lease.is_none() {
            return;
        }
        let why = if ours {
            Why::Deregistered
        } else if before.lease != Some(0)
            && before
                .lease_remaining
                .is_some_and(|left| left <= EXPIRY_SLACK_SECS)
        {
            Why::LeaseExpired
        } else {
            Why::Deleted
        };
        let key: Arc<[u8]> = key.into();
        if self.gone.len() >= self.prune_at {
            self.prune(at);
        }
        self.gone.insert((cluster, key.clone()), at);
        self.push(Event {
            at,
            cluster,
            key,
            change: Change::Left(why),
        });
    }

    /// Drops members gone for longer than [`GONE_KEPT`] and returns older than the flap window
    /// (they no longer count); amortised, as it runs only once the map of the gone is large.
    fn prune(&mut self, now: DateTime<Utc>) {
        self.gone.retain(|_, t| now - *t <= GONE_KEPT);
        let window = self.flap_window;
        for by_key in self.returns.values_mut() {
            by_key.retain(|_, r| {
                while r.front().is_some_and(|t| now - *t > window) {
                    r.pop_front();
                }
                !r.is_empty()
            });
        }
        self.returns.retain(|_, by_key| !by_key.is_empty());
        self.prune_at = (self.gone.len() * 2).max(PRUNE_AT);
    }

    fn push(&mut self, e: Event) {
        if self.events.len() == MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    /// How often `key` came back within the window up to `now`, when that makes it flapping.
    pub fn flapping(&self, key: &[u8], now: DateTime<Utc>) -> Option<usize> {
        self.flapping_in(ClusterId::default(), key, now)
    }

    /// [`Churn::flapping`] of cluster `c`'s `key`.
    pub fn flapping_in(&self, c: ClusterId, key: &[u8], now: DateTime<Utc>) -> Option<usize> {
        let n = self
            .returns
            .get(&c)?
            .get(key)?
            .iter()
            .filter(|t| now - **t <= self.flap_window)
            .count();
        (n >= self.flap_count).then_some(n)
    }

    /// Returns within the window, for sorting (0 when not flapping).
    pub fn flaps(&self, key: &[u8], now: DateTime<Utc>) -> usize {
        self.flapping(key, now).unwrap_or(0)
    }

    /// [`Churn::flaps`] of cluster `c`'s `key`.
    pub fn flaps_in(&self, c: ClusterId, key: &[u8], now: DateTime<Utc>) -> usize {
        self.flapping_in(c, key, now).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A fleet renaming its instances at every deploy: keys that leave and never come back do
    /// not pile up for the console's lifetime, and a recent flap still counts.
    #[test]
    fn members_gone_for_good_are_forgotten() {
        let mut c = Churn::default();
        let before = Before {
            lease: Some(0),
            lease_remaining: None,
        };
        let joined = Before {
            lease: None,
            lease_remaining: None,
        };
        let start = Utc.with_ymd_and_hms(2026, 12, 5, 0, 0, 0).unwrap();
        // 100k keys gone for good, ten a second for 2.8 hours.
        let n = PRUNE_AT as i64 * 2;
        for i in 0..n {
            let at = start + Duration::milliseconds(i * 100);
            c.delete(format!("/s/web/old-{i}").as_bytes(), before, false, at);
        }
        // At most two hours' worth (an hour kept, then as many again before the next pruning).
        assert!(c.gone.len() <= 72_000, "{} remembered", c.gone.len());
        // One key flapping now: three returns.
        let end = start + Duration::milliseconds(n * 100);
        for i in 0..3 {
            let at = end + Duration::seconds(i * 10);
            c.delete(b"/s/web/flappy", before, false, at);
            c.put(b"/s/web/flappy", 0, joined, at + Duration::seconds(5));
        }
        let now = end + Duration::seconds(60);
        assert_eq!(c.flapping(b"/s/web/flappy", now), Some(3));
    }

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap() + Duration::seconds(s)
    }
    const ABSENT: Before = Before {
        lease: None,
        lease_remaining: None,
    };

    #[test]
    fn reasons_for_leaving() {
        let mut c = Churn::default();
        let on = |lease, left| Before {
            lease: Some(lease),
            lease_remaining: left,
        };
        c.delete(b"a", on(7, Some(0)), false, t(0));
        c.delete(b"b", on(7, Some(20)), false, t(0));
        c.delete(b"c", on(7, Some(0)), true, t(0));
        c.delete(b"d", on(0, None), false, t(0));
        c.delete(b"e", ABSENT, false, t(0));
        let whys: Vec<String> = c.events.iter().map(|e| e.change.label()).collect();
        assert_eq!(
            whys,
            [
                "left: lease expired",
                "left: deleted",
                "left: deregistered",
                "left: deleted"
            ]
        );
    }

    #[test]
    fn a_new_lease_on_a_live_key_is_a_replacement_a_heartbeat_is_nothing() {
        let mut c = Churn::default();
        let on = |lease| Before {
            lease: Some(lease),
            lease_remaining: Some(10),
        };
        c.put(b"a", 8, on(7), t(0));
        c.put(b"a", 8, on(8), t(1));
        assert_eq!(c.events.len(), 1);
        assert_eq!(c.events[0].change.label(), "replaced (lease 7 → 8)");
    }

    #[test]
    fn flapping_after_three_returns_in_ten_minutes() {
        let mut c = Churn::default();
        let on = Before {
            lease: Some(1),
            lease_remaining: Some(0),
        };
        c.put(b"a", 1, ABSENT, t(0));
        for i in 1..=3 {
            c.delete(b"a", on, false, t(i * 60));
            assert_eq!(c.flapping(b"a", t(i * 60)), None);
            c.put(b"a", 1, ABSENT, t(i * 60 + 2));
        }
        assert_eq!(c.flapping(b"a", t(200)), Some(3));
        // Quiet for the window: no longer flapping.
        assert_eq!(c.flapping(b"a", t(200 + 600)), None);
    }
}

//! Which of the on-screen leases to ask etcd for their TTL this second. Every lease every second
//! was one `LeaseTimeToLive` RPC per lease per second — against the local stack most of the idle
//! console's gRPC traffic. The state counts each TTL down on its own between answers, so a lease
//! is asked again only when that count may be wrong in a way that matters:
//! - every `REFRESH` (a lease kept alive shows its renewed TTL within that long; until then the
//!   countdown shows less than etcd would, never more);
//! - every second once its countdown is within `REFRESH` of expiry (one left to expire counts down
//!   exactly to the moment etcd drops it; one renewed late jumps back up at once);
//! - at once when it first comes on screen.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a lease's last answer is trusted before it is asked again.
pub const REFRESH: Duration = Duration::from_secs(5);

/// The last answer for each lease asked about: when, and the TTL etcd gave (-1: gone).
#[derive(Debug, Default)]
pub struct LeasePolls {
    last: HashMap<i64, (Instant, i64)>,
}

impl LeasePolls {
    /// The leases of `wanted` to ask about at `now`; forgets those no longer wanted.
    pub fn due(&mut self, wanted: &[i64], now: Instant) -> Vec<i64> {
        self.last.retain(|lease, _| wanted.contains(lease));
        wanted
            .iter()
            .copied()
            .filter(|lease| match self.last.get(lease) {
                None => true,
                Some(&(at, ttl)) => {
                    let elapsed = now.saturating_duration_since(at);
                    let left = Duration::from_secs(ttl.max(0) as u64).saturating_sub(elapsed);
                    elapsed >= REFRESH || (ttl >= 0 && left <= REFRESH)
                }
            })
            .collect()
    }

    /// etcd's answers at `now` (a lease without an answer is asked again next time).
    pub fn answered(&mut self, ttls: &[(i64, i64)], now: Instant) {
        for &(lease, ttl) in ttls {
            self.last.insert(lease, (now, ttl));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_long_lease_is_asked_every_refresh_and_every_second_near_its_end() {
        let t0 = Instant::now();
        let mut p = LeasePolls::default();
        assert_eq!(p.due(&[1, 2], t0), vec![1, 2], "new on screen: at once");
        // 1: 60 s left; 2: 8 s left.
        p.answered(&[(1, 60), (2, 8)], t0);
        assert!(p.due(&[1, 2], t0 + secs(1)).is_empty());
        // 2 is within REFRESH of its end after 3 s: every second from then on.
        assert_eq!(p.due(&[1, 2], t0 + secs(3)), vec![2]);
        p.answered(&[(2, 5)], t0 + secs(3));
        assert_eq!(p.due(&[1, 2], t0 + secs(4)), vec![2]);
        // 1 is asked again once its answer is REFRESH old.
        assert_eq!(p.due(&[1], t0 + secs(5)), vec![1]);
    }

    #[test]
    fn an_unanswered_lease_is_asked_again_and_a_gone_one_only_every_refresh() {
        let t0 = Instant::now();
        let mut p = LeasePolls::default();
        p.due(&[7, 8], t0);
        // 7's answer timed out: still due. 8 is gone (-1): not every second.
        p.answered(&[(8, -1)], t0);
        assert_eq!(p.due(&[7, 8], t0 + secs(1)), vec![7]);
        assert_eq!(p.due(&[7, 8], t0 + secs(5)), vec![7, 8]);
        // A lease off screen is forgotten: back on screen, it is asked at once.
        p.answered(&[(7, 100), (8, -1)], t0 + secs(5));
        assert!(p.due(&[8], t0 + secs(6)).is_empty());
        assert_eq!(p.due(&[7, 8], t0 + secs(6)), vec![7]);
    }
}

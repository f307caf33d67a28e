//! Whether the etcd member the console watches can still reach a quorum, from a linearizable
//! read sent every [`Timing::every`] while the watch session lasts.
//!
//! Why: a member cut off from its peers keeps serving its watch (it simply hears of no change)
//! until etcd itself notices it lost its leader, several election timeouts later (4.2–4.4 s in
//! `tests/it/partitions.rs`). A linearizable read is a ReadIndex: the leader must confirm it
//! still has a quorum before the member answers, so on a cut-off member it goes unanswered. The
//! pane may only say `Live` while such a read was answered recently.
//!
//! This is the pure half: it decides when a probe is due and what the answers (or their absence)
//! mean. The session loop in `etcd.rs` sends the reads and feeds the outcomes back.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Probes in flight at most: a member that answers none gets no pile of requests.
const MAX_IN_FLIGHT: usize = 4;

/// How often a probe is sent and how long one may go unanswered before the member is taken as
/// cut off from its quorum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub every: Duration,
    pub limit: Duration,
    /// How long the watch is kept on a member whose quorum stays lost before the session is
    /// given up for another member.
    pub abandon: Duration,
}

impl Timing {
    /// One small read every 500 ms; unanswered after a fifth of `connect_timeout` (at least
    /// 500 ms): the connect timeout is the time the user lets a connect's own linearizable read
    /// take, so a slow (far away) cluster given a longer one is not called cut off for being slow,
    /// while the default (5 s → 1 s) and shorter ones keep the window before `Live` goes short.
    ///
    /// The watch is given up once the quorum has stayed lost for the connect timeout: an
    /// election on a healthy cluster (~1–2 s) passes within it and costs no reconnect, while a
    /// cut-off member is left for one that has the quorum well before etcd itself says
    /// `no leader` (or, cut off from the console, before the 10 s of keep-alive silence).
    pub fn for_connect_timeout(connect_timeout: Duration) -> Timing {
        Timing {
            every: Duration::from_millis(500),
            limit: (connect_timeout / 5).max(Duration::from_millis(500)),
            abandon: connect_timeout,
        }
    }

    /// How long a probe's RPC is kept before it is dropped (its answer would come too late to
    /// matter: newer probes have been sent meanwhile).
    pub fn give_up(&self) -> Duration {
        (self.limit * 4).max(Duration::from_secs(2))
    }
}

/// What the probes say about the member's quorum.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// No probe answered yet and none is overdue (the session just started).
    Pending,
    /// The newest answered probe was answered, and no later one is overdue or failed.
    Confirmed,
    /// A probe after the last confirmed one failed or is overdue; why, as the pane says it.
    Lost(String),
}

impl Verdict {
    pub fn is_lost(&self) -> bool {
        matches!(self, Verdict::Lost(_))
    }
}

#[derive(Debug)]
pub struct Quorum {
    timing: Timing,
    next_seq: u64,
    /// (sequence number, sent at), oldest first.
    in_flight: VecDeque<(u64, Instant)>,
    /// When the last probe was due on the `every` grid (its send may have been taken up to a
    /// timer-wheel slot earlier by `align`, or come late): the next is due `every` after this.
    due: Option<Instant>,
    /// Where a due time is moved to before it is waited for (see [`Quorum::aligned`]).
    align: fn(Instant) -> Instant,
    /// The newest probe answered with success.
    confirmed: Option<u64>,
    /// The newest probe answered with an error, when newer than `confirmed`.
    failed: Option<(u64, String)>,
    /// Since when the verdict has been `Lost` (as last computed).
    lost_since: Option<Instant>,
}

impl Quorum {
    pub fn new(timing: Timing) -> Quorum {
        Quorum {
            timing,
            next_seq: 0,
            in_flight: VecDeque::new(),
            due: None,
            align: |t| t,
            confirmed: None,
            failed: None,
            lost_since: None,
        }
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// Sends each probe at `align(due)` rather than at `due`, where `align` moves a time back by
    /// less than `every` (`crate::wheel::slot_floor`: the start of its timer-wheel slot, so the
    /// wait wakes the runtime once, not twice). The probes stay on the `every` grid — each goes
    /// out no later than it would without, two a second on average — while single gaps vary by
    /// the slot (448 or 512 ms for 500 ms on 64 ms slots).
    pub fn aligned(mut self, align: fn(Instant) -> Instant) -> Quorum {
        self.align = align;
        self
    }

    /// When the next probe goes out, once one was sent.
    fn next_send(&self) -> Option<Instant> {
        self.due.map(|d| (self.align)(d + self.timing.every))
    }

    /// A probe's number when one is due at `now` (recorded as sent), else `None`.
    pub fn send_due(&mut self, now: Instant) -> Option<u64> {
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            return None;
        }
        if self.next_send().is_some_and(|t| now < t) {
            return None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight.push_back((seq, now));
        // On the grid while on time; a probe sent a whole `every` late (held back by the
        // in-flight limit, or a busy loop) starts the grid again from now.
        self.due = match self.due {
            Some(d) if now < d + self.timing.every * 2 => Some(d + self.timing.every),
            _ => Some(now),
        };
        Some(seq)
    }

    /// Probe `seq` answered: `Ok` when the read succeeded, else etcd's (or the give-up's) error.
    pub fn answered(&mut self, seq: u64, outcome: Result<(), String>) {
        let Some(pos) = self.in_flight.iter().position(|(s, _)| *s == seq) else {
            return;
        };
        self.in_flight.remove(pos);
        match outcome {
            Ok(()) => {
                if self.confirmed.is_none_or(|c| seq > c) {
                    self.confirmed = Some(seq);
                }
                if self.failed.as_ref().is_some_and(|(f, _)| *f < seq) {
                    self.failed = None;
                }
            }
            Err(error) => {
                let newer = self.confirmed.is_none_or(|c| seq > c)
                    && self.failed.as_ref().is_none_or(|(f, _)| seq > *f);
                if newer {
                    self.failed = Some((seq, error));
                }
            }
        }
    }

    /// The oldest probe sent after the last confirmed one, still unanswered: when it was sent.
    fn oldest_pending(&self) -> Option<Instant> {
        self.in_flight
            .iter()
            .find(|(s, _)| self.confirmed.is_none_or(|c| *s > c))
            .map(|(_, t)| *t)
    }

    /// What the probes say at `now` (and, when lost, since when: see [`Quorum::abandon`]).
    pub fn verdict(&mut self, now: Instant) -> Verdict {
        let v = self.judge(now);
        match (&v, self.lost_since) {
            (Verdict::Lost(_), None) => self.lost_since = Some(now),
            (Verdict::Lost(_), Some(_)) => {}
            _ => self.lost_since = None,
        }
        v
    }

    /// Whether the quorum has stayed lost for [`Timing::abandon`] by `now` (as of the last
    /// [`Quorum::verdict`]).
    pub fn abandon(&self, now: Instant) -> bool {
        self.lost_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.timing.abandon)
    }

    fn judge(&self, now: Instant) -> Verdict {
        if let Some((_, error)) = &self.failed {
            return Verdict::Lost(format!(
                "etcd member cannot confirm a quorum — a linearizable read failed: {error}"
            ));
        }
        if let Some(sent) = self.oldest_pending() {
            let waited = now.saturating_duration_since(sent);
            if waited >= self.timing.limit {
                return Verdict::Lost(format!(
                    "etcd member cannot reach a quorum — a linearizable read went unanswered for {:.1} s (cut off from its peers, or from the console)",
                    waited.as_secs_f64()
                ));
            }
        }
        match self.confirmed {
            Some(_) => Verdict::Confirmed,
            None => Verdict::Pending,
        }
    }

    /// The next moment the verdict or a send can change without an answer: the next probe due,
    /// or the oldest pending probe going overdue (whichever is first and still ahead).
    pub fn next_wake(&self, now: Instant) -> Instant {
        let send = match self.next_send() {
            Some(t) if self.in_flight.len() < MAX_IN_FLIGHT => t,
            Some(_) => now + self.timing.every,
            None => now,
        };
        let abandon = self.lost_since.map(|t| t + self.timing.abandon);
        [
            self.oldest_pending().map(|t| t + self.timing.limit),
            abandon,
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > now)
        .fold(send, Instant::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn timing() -> Timing {
        Timing {
            every: MS(500),
            limit: MS(500),
            abandon: MS(2000),
        }
    }

    #[test]
    fn timing_follows_the_connect_timeout_with_a_floor() {
        let t = |s| Timing::for_connect_timeout(Duration::from_secs(s));
        assert_eq!(t(2).limit, MS(500));
        assert_eq!(t(5).limit, MS(1000), "the default connect timeout");
        assert_eq!(t(30).limit, MS(6000));
        assert_eq!(t(5).every, MS(500));
        assert_eq!(t(2).give_up(), Duration::from_secs(2));
        assert_eq!(t(30).give_up(), Duration::from_secs(24));
        assert_eq!(t(2).abandon, Duration::from_secs(2));
    }

    #[test]
    fn the_session_is_abandoned_once_the_quorum_stayed_lost_for_its_time() {
        let t0 = Instant::now();
        let mut q = Quorum::new(timing());
        let s0 = q.send_due(t0).unwrap();
        q.answered(s0, Ok(()));
        q.send_due(t0 + MS(500)).unwrap();
        assert!(q.verdict(t0 + MS(1000)).is_lost());
        assert!(!q.abandon(t0 + MS(2999)));
        q.send_due(t0 + MS(1000)).unwrap();
        assert_eq!(
            q.next_wake(t0 + MS(1200)),
            t0 + MS(1500),
            "the next probe comes before the abandon time"
        );
        assert!(q.verdict(t0 + MS(2900)).is_lost());
        assert!(q.abandon(t0 + MS(3000)), "lost since 1.0 s, for 2 s");
        // A failure answered at once, then a success: confirmed, nothing to abandon.
        let mut q = Quorum::new(timing());
        let s0 = q.send_due(t0).unwrap();
        q.answered(s0, Err("etcdserver: no leader".into()));
        assert!(q.verdict(t0 + MS(10)).is_lost());
        let s1 = q.send_due(t0 + MS(500)).unwrap();
        q.answered(s1, Ok(()));
        assert_eq!(q.verdict(t0 + MS(600)), Verdict::Confirmed);
        assert!(
            !q.abandon(t0 + MS(5000)),
            "confirmed again: nothing to abandon"
        );
    }

    #[test]
    fn aligned_probes_go_out_early_within_the_slot_and_stay_on_the_grid() {
        // A stand-in for the timer wheel's slot start: 12 ms before the due time.
        fn early(t: Instant) -> Instant {
            t - MS(12)
        }
        let t0 = Instant::now();
        let mut q = Quorum::new(timing()).aligned(early);
        let s = q.send_due(t0).expect("the first at once");
        q.answered(s, Ok(()));
        for k in 1..=10u64 {
            let at = t0 + MS(500 * k) - MS(12);
            assert_eq!(
                q.next_wake(at - MS(100)),
                at,
                "probe {k} waits for its aligned time"
            );
            assert_eq!(q.send_due(at - MS(1)), None, "not before it");
            let s = q.send_due(at).expect("due at its aligned time");
            q.answered(s, Ok(()));
        }
        // A probe a whole period late starts the grid again from when it went out.
        let late = t0 + MS(5000 + 1200);
        assert!(q.send_due(late).is_some());
        assert_eq!(q.next_wake(late), late + MS(500) - MS(12));
        // Late by less than a period: still on the grid (the next one is not pushed back).
        let mut q = Quorum::new(timing());
        q.send_due(t0).unwrap();
        q.send_due(t0 + MS(700)).unwrap();
        assert_eq!(q.next_wake(t0 + MS(700)), t0 + MS(1000));
    }

    #[test]
    fn pending_until_the_first_answer_then_confirmed() {
        let t0 = Instant::now();
        let mut q = Quorum::new(timing());
        assert_eq!(q.verdict(t0), Verdict::Pending);
        let s = q.send_due(t0).expect("the first probe is due at once");
        assert_eq!(q.send_due(t0 + MS(100)), None, "not before `every`");
        assert_eq!(q.verdict(t0 + MS(100)), Verdict::Pending);
        q.answered(s, Ok(()));
        assert_eq!(q.verdict(t0 + MS(101)), Verdict::Confirmed);
        assert!(q.send_due(t0 + MS(500)).is_some());
    }

    #[test]
    fn an_unanswered_probe_loses_the_quorum_at_the_limit_and_an_answer_brings_it_back() {
        let t0 = Instant::now();
        let mut q = Quorum::new(timing());
        let s0 = q.send_due(t0).unwrap();
        q.answered(s0, Ok(()));
        // The cut: the next probe is never answered.
        let s1 = q.send_due(t0 + MS(500)).unwrap();
        assert_eq!(q.verdict(t0 + MS(999)), Verdict::Confirmed);
        assert_eq!(
            q.next_wake(t0 + MS(600)),
            t0 + MS(1000),
            "wake when s1 is overdue"
        );
        let lost = q.verdict(t0 + MS(1000));
        let Verdict::Lost(why) = &lost else {
            panic!("{lost:?}")
        };
        assert!(why.contains("unanswered for 0.5 s"), "{why}");
        // Probes go on while it is lost (one per period), at most MAX_IN_FLIGHT at a time.
        let s2 = q.send_due(t0 + MS(1000)).unwrap();
        let s3 = q.send_due(t0 + MS(1500)).unwrap();
        let s4 = q.send_due(t0 + MS(2000)).unwrap();
        assert_eq!(q.send_due(t0 + MS(2500)), None, "four in flight");
        assert_eq!(q.next_wake(t0 + MS(2500)), t0 + MS(3000));
        // A late answer to an older probe does not hide a newer one still pending.
        q.answered(s1, Err("gave up".into()));
        assert!(q.verdict(t0 + MS(2600)).is_lost());
        // Healed: the reads waiting on the member answer (etcd serves them in one ReadIndex).
        q.answered(s2, Ok(()));
        assert!(
            q.verdict(t0 + MS(2600)).is_lost(),
            "s3, sent after s2, is still overdue"
        );
        q.answered(s4, Ok(()));
        assert_eq!(
            q.verdict(t0 + MS(2600)),
            Verdict::Confirmed,
            "s4 answered: s3 is older than the newest confirmation"
        );
        q.answered(s3, Ok(()));
        assert_eq!(q.verdict(t0 + MS(2600)), Verdict::Confirmed);
        assert!(q.send_due(t0 + MS(2600)).is_some(), "room again");
    }

    #[test]
    fn a_failed_read_loses_the_quorum_at_once_until_a_later_one_succeeds() {
        let t0 = Instant::now();
        let mut q = Quorum::new(timing());
        let s0 = q.send_due(t0).unwrap();
        q.answered(s0, Ok(()));
        let s1 = q.send_due(t0 + MS(500)).unwrap();
        q.answered(s1, Err("etcdserver: no leader".into()));
        let v = q.verdict(t0 + MS(501));
        assert_eq!(
            v,
            Verdict::Lost(
                "etcd member cannot confirm a quorum — a linearizable read failed: etcdserver: no leader"
                    .into()
            )
        );
        let s2 = q.send_due(t0 + MS(1000)).unwrap();
        assert!(q.verdict(t0 + MS(1001)).is_lost(), "no success yet");
        q.answered(s2, Ok(()));
        assert_eq!(q.verdict(t0 + MS(1002)), Verdict::Confirmed);
    }

    #[test]
    fn an_older_failure_after_a_newer_success_changes_nothing() {
        let t0 = Instant::now();
        let mut q = Quorum::new(timing());
        let s0 = q.send_due(t0).unwrap();
        let s1 = q.send_due(t0 + MS(500)).unwrap();
        q.answered(s1, Ok(()));
        q.answered(s0, Err("late".into()));
        assert_eq!(q.verdict(t0 + MS(600)), Verdict::Confirmed);
        // An answer for a probe never sent (or already answered) is ignored.
        q.answered(s1, Err("again".into()));
        q.answered(99, Err("unknown".into()));
        assert_eq!(q.verdict(t0 + MS(600)), Verdict::Confirmed);
    }

    #[test]
    fn a_first_probe_unanswered_is_lost_without_ever_being_confirmed() {
        let t0 = Instant::now();
        let mut q = Quorum::new(timing());
        q.send_due(t0).unwrap();
        assert_eq!(q.next_wake(t0), t0 + MS(500));
        assert!(q.verdict(t0 + MS(500)).is_lost());
    }
}

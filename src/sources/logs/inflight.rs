//! Which of the console's own Redis lists may hold log lines it has not shown.
//!
//! In list mode a line is moved (BLMOVE, or a script for a batch) from the queue rsyslog fills
//! into a list of the console's own, the *in-flight* list of the current connection, and that list
//! is emptied only once the answer has arrived. BRPOP removed the line from Redis at once: a line
//! whose answer was held in a dead network path, or popped by a request that reached Redis only
//! after the console had given up on the connection, was gone.
//!
//! Each connection (session) has its own in-flight list, so a request of a dead connection that
//! Redis runs late fills that connection's list, never the live one's. Lists of dead sessions are
//! swept — read and deleted in one script — while the console follows the queue, for as long as
//! such a late request may still come ([`KEEP_SWEEPING`]). Pure bookkeeping: the Redis calls are
//! in `redis.rs`.

use std::time::{Duration, Instant};

/// How long a dead session's list is still swept: a request held in a dead path runs when the
/// path heals, or never once TCP gives the connection up (Linux: ~15 min of retransmissions).
pub const KEEP_SWEEPING: Duration = Duration::from_secs(20 * 60);
/// Dead sessions remembered at most; past that the oldest is forgotten (and said in the log).
pub const MAX_DEAD: usize = 256;

/// What a sweep does with one dead session's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sweep {
    /// Read and delete it, and show what it held: lines that never reached the console.
    Take(String),
    /// Delete it unread: everything it can hold was shown already (its last move was answered;
    /// only the acknowledging DEL may have been lost).
    Drop(String),
}

#[derive(Debug)]
struct Dead {
    key: String,
    /// Every line its list can hold was shown.
    shown: bool,
    died: Instant,
}

/// The in-flight lists of one logs source (one process).
#[derive(Debug)]
pub struct Inflight {
    /// `<list>:opsconsole-inflight:<host>:<pid>:<start>`; sessions add `:<n>`.
    base: String,
    next: u64,
    current: Option<String>,
    /// The current session has a move whose answer has not arrived.
    unanswered: bool,
    dead: Vec<Dead>,
}

impl Inflight {
    /// `consumer` names this console process uniquely (host, pid, start time).
    pub fn new(list: &str, consumer: &str) -> Self {
        Inflight {
            base: format!("{list}:opsconsole-inflight:{consumer}"),
            next: 0,
            current: None,
            unanswered: false,
            dead: Vec::new(),
        }
    }

    /// A new connection: its own list (an earlier one, if any, is dead).
    pub fn start_session(&mut self, now: Instant) -> String {
        self.end_session(now);
        self.next += 1;
        let key = format!("{}:{}", self.base, self.next);
        self.current = Some(key.clone());
        key
    }

    /// A move is sent on the current session.
    pub fn moving(&mut self) {
        self.unanswered = true;
    }

    /// Its answer arrived (the lines are the console's now).
    pub fn answered(&mut self) {
        self.unanswered = false;
    }

    /// The current connection failed or was given up.
    pub fn end_session(&mut self, now: Instant) {
        if let Some(key) = self.current.take() {
            self.dead.push(Dead {
                key,
                shown: !self.unanswered,
                died: now,
            });
            if self.dead.len() > MAX_DEAD {
                let gone = self.dead.remove(0);
                tracing::warn!(key = %gone.key, "forgetting an old in-flight list of the logs source");
            }
        }
        self.unanswered = false;
    }

    /// What to sweep now. A list whose lines were all shown is dropped once; one that may get
    /// lines from a late request is taken now and again at later sweeps until [`KEEP_SWEEPING`]
    /// after its session died.
    pub fn sweep(&mut self, now: Instant) -> Vec<Sweep> {
        let mut out = Vec::new();
        self.dead.retain(|d| {
            if d.shown {
                out.push(Sweep::Drop(d.key.clone()));
                false
            } else {
                out.push(Sweep::Take(d.key.clone()));
                now.duration_since(d.died) < KEEP_SWEEPING
            }
        });
        out
    }

    /// Whether any dead session's list is still swept.
    pub fn has_dead(&self) -> bool {
        !self.dead.is_empty()
    }
}

/// This process, for the in-flight list names: two consoles never share one.
pub fn consumer_name(start_epoch_ms: i64) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "console".to_string());
    format!("{host}:{}:{start_epoch_ms}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_session_has_its_own_list() {
        let t = Instant::now();
        let mut f = Inflight::new("logs", "h:1:2");
        assert_eq!(f.start_session(t), "logs:opsconsole-inflight:h:1:2:1");
        assert_eq!(f.start_session(t), "logs:opsconsole-inflight:h:1:2:2");
        // The first died with nothing unanswered: dropped unread, once.
        assert_eq!(
            f.sweep(t),
            vec![Sweep::Drop("logs:opsconsole-inflight:h:1:2:1".into())]
        );
        assert!(f.sweep(t).is_empty());
    }

    #[test]
    fn a_session_that_died_with_a_move_unanswered_is_taken_until_late_requests_cannot_come() {
        let t = Instant::now();
        let mut f = Inflight::new("q", "c");
        let first = f.start_session(t);
        f.moving();
        f.answered();
        f.moving();
        f.end_session(t);
        assert_eq!(f.sweep(t), vec![Sweep::Take(first.clone())]);
        // Swept again later: a request held in the dead path may still run.
        assert_eq!(
            f.sweep(t + Duration::from_secs(60)),
            vec![Sweep::Take(first.clone())]
        );
        assert_eq!(f.sweep(t + KEEP_SWEEPING), vec![Sweep::Take(first)]);
        assert!(!f.has_dead());
    }

    #[test]
    fn the_live_session_is_never_swept_and_old_ones_are_bounded() {
        let t = Instant::now();
        let mut f = Inflight::new("q", "c");
        for _ in 0..MAX_DEAD + 10 {
            f.start_session(t);
            f.moving();
        }
        let swept = f.sweep(t);
        assert_eq!(swept.len(), MAX_DEAD);
        let live = format!("q:opsconsole-inflight:c:{}", MAX_DEAD + 10);
        assert!(swept
            .iter()
            .all(|s| !matches!(s, Sweep::Take(k) | Sweep::Drop(k) if *k == live)));
    }
}

//! Which requests of a listing may go to etcd before its first rows are on screen.
//!
//! etcd 3.4 walks a ranged `get`'s whole part of its index whatever the limit, and the listing's
//! count-only request walks all of it: at 1M keys 150–300 ms of etcd's CPU. Asked side by side on
//! two cores, the first range's page waited behind them: 30–160 ms to the first rows, where the
//! same page asked alone takes ~20 ms (BENCHMARKS.md, issue 18). So until some range has handed
//! out rows, the ranges ask one after another in key order (most of the first ones hold nothing
//! and answer at once), and the count waits; after that, everything asks as before.

use tokio::sync::watch;

#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    rows_seen: bool,
    /// Ranges `0..answered` have had their first answer (or given up).
    answered: usize,
}

/// Shared by a listing's requests (behind an `Arc`).
#[derive(Debug)]
pub struct FirstRowsGate {
    progress: watch::Sender<Progress>,
}

impl Default for FirstRowsGate {
    fn default() -> Self {
        Self {
            progress: watch::Sender::new(Progress::default()),
        }
    }
}

impl FirstRowsGate {
    /// Waits until range `i` (in key order) may ask: rows have been seen, or every range before
    /// it has answered.
    pub async fn range_may_ask(&self, i: usize) {
        self.wait(|p| p.rows_seen || p.answered >= i).await;
    }

    /// Waits until the count may ask: rows have been seen, or all `ranges` have answered.
    pub async fn count_may_ask(&self, ranges: usize) {
        // The same rule as a range after the last one.
        self.range_may_ask(ranges).await;
    }

    /// A range has handed out rows: the gate is open for good.
    pub fn rows_seen(&self) {
        self.progress
            .send_if_modified(|p| !std::mem::replace(&mut p.rows_seen, true));
    }

    /// Marks range `i` answered when dropped: after its first answer, or when its request fails
    /// or is cancelled, so the ranges after it never wait on it for ever.
    pub fn answer_of(&self, i: usize) -> Answered<'_> {
        Answered { gate: self, i }
    }

    async fn wait(&self, open: impl Fn(&Progress) -> bool) {
        // The sender lives in `self`, so the wait ends only by `open`.
        let _ = self.progress.subscribe().wait_for(open).await;
    }

    fn answered(&self, i: usize) {
        self.progress.send_if_modified(|p| {
            let was = p.answered;
            // Ranges answer in key order while the gate is shut; after rows, the count no longer
            // matters, but never let it go backwards.
            p.answered = p.answered.max(i + 1);
            p.answered != was
        });
    }
}

/// See [`FirstRowsGate::answer_of`].
#[derive(Debug)]
pub struct Answered<'a> {
    gate: &'a FirstRowsGate,
    i: usize,
}

impl Answered<'_> {
    /// Range answered now (the same as dropping it, said where it happens).
    pub fn now(self) {}
}

impl Drop for Answered<'_> {
    fn drop(&mut self) {
        self.gate.answered(self.i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    async fn opens(f: impl std::future::Future<Output = ()>) -> bool {
        tokio::time::timeout(Duration::from_millis(50), f)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn ranges_ask_one_after_another_until_rows_are_seen() {
        let gate = FirstRowsGate::default();
        assert!(opens(gate.range_may_ask(0)).await, "the first asks at once");
        assert!(!opens(gate.range_may_ask(1)).await);
        assert!(!opens(gate.count_may_ask(3)).await);
        gate.answer_of(0).now();
        assert!(
            opens(gate.range_may_ask(1)).await,
            "after an empty first range"
        );
        assert!(!opens(gate.range_may_ask(2)).await);
        gate.rows_seen();
        assert!(opens(gate.range_may_ask(2)).await);
        assert!(opens(gate.range_may_ask(40)).await);
        assert!(opens(gate.count_may_ask(41)).await);
    }

    #[tokio::test]
    async fn a_listing_with_no_rows_still_counts_and_a_failed_range_lets_the_next_ask() {
        let gate = Arc::new(FirstRowsGate::default());
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.count_may_ask(2).await }
        });
        {
            let _failed = gate.answer_of(0);
        }
        assert!(opens(gate.range_may_ask(1)).await);
        gate.answer_of(1).now();
        assert!(opens(async { waiting.await.unwrap() }).await);
        // A late answer of an earlier range does not shut what is open.
        gate.answer_of(0).now();
        assert!(opens(gate.range_may_ask(2)).await);
    }
}

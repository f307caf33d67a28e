//! Hints to a source (the metrics query, the logs scope, the leases on screen) that its command
//! queue could not take at once.
//!
//! A hint's newest value is the only one that counts (the source keeps the last it read), so a
//! full queue used to drop it: with a backend slow to answer and the cursor held down, the last
//! selection's query was lost and the pane waited for it until the next selection. The newest hint
//! a full queue refused is held here instead, per source, and offered again after every event
//! until the queue takes it; a newer hint that gets through makes it stale.

use std::collections::HashMap;

use tokio::sync::mpsc::{self, error::TrySendError};

use crate::model::{Command, SourceId};

#[derive(Debug, Default)]
pub struct HeldHints {
    held: HashMap<SourceId, (mpsc::Sender<Command>, Command)>,
}

impl HeldHints {
    /// Hands `hint` to `source`'s queue `tx`, or holds it while the queue is full.
    pub fn send(&mut self, source: SourceId, tx: &mpsc::Sender<Command>, hint: Command) {
        match tx.try_send(hint) {
            Ok(()) | Err(TrySendError::Closed(_)) => {
                self.held.remove(&source);
            }
            Err(TrySendError::Full(hint)) => {
                self.held.insert(source, (tx.clone(), hint));
            }
        }
    }

    /// Offers every held hint again; those taken (or whose source has gone) are let go.
    pub fn retry(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let sources: Vec<SourceId> = self.held.keys().copied().collect();
        for source in sources {
            if let Some((tx, hint)) = self.held.remove(&source) {
                self.send(source, &tx, hint);
            }
        }
    }

    /// `source` was replaced: a hint for its old queue is not the new source's business.
    pub fn forget(&mut self, source: SourceId) {
        self.held.remove(&source);
    }

    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterId, SourceKind};

    fn metrics() -> SourceId {
        SourceKind::Metrics.of(ClusterId::default())
    }

    /// A queue of one that holds `MetricsIdle`, and `Quit` held beside it.
    fn full_queue() -> (mpsc::Sender<Command>, mpsc::Receiver<Command>, HeldHints) {
        let (tx, rx) = mpsc::channel(1);
        let mut held = HeldHints::default();
        held.send(metrics(), &tx, Command::MetricsIdle);
        held.send(metrics(), &tx, Command::Quit);
        assert!(!held.is_empty());
        (tx, rx, held)
    }

    #[test]
    fn the_newest_hint_a_full_queue_refused_arrives_once_there_is_room() {
        let (tx, mut rx, mut held) = full_queue();
        // Still full: the newer hint replaces the held one.
        held.send(metrics(), &tx, Command::ListClusters);
        held.retry();
        assert!(!held.is_empty(), "still full");
        assert_eq!(rx.try_recv().ok(), Some(Command::MetricsIdle));
        held.retry();
        assert!(held.is_empty());
        assert_eq!(rx.try_recv().ok(), Some(Command::ListClusters));
        assert!(rx.try_recv().is_err(), "the older held hint was never sent");
    }

    #[test]
    fn a_newer_hint_that_gets_through_makes_the_held_one_stale() {
        let (tx, mut rx, mut held) = full_queue();
        assert_eq!(rx.try_recv().ok(), Some(Command::MetricsIdle));
        held.send(metrics(), &tx, Command::ListClusters);
        held.retry();
        assert_eq!(rx.try_recv().ok(), Some(Command::ListClusters));
        assert!(rx.try_recv().is_err());
        assert!(held.is_empty());
    }

    #[test]
    fn a_hint_for_a_stopped_or_replaced_source_is_let_go() {
        let (_tx, rx, mut held) = full_queue();
        drop(rx);
        held.retry();
        assert!(held.is_empty());

        let (_tx, _rx, mut held) = full_queue();
        held.forget(metrics());
        assert!(held.is_empty());
    }
}

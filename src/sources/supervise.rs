//! A source task that panics must not vanish silently: its pane would keep its last data, still
//! marked live, and nothing would ever update it again. [`spawn`] runs a source's future and, if it
//! panics, reports that to the console as a message (the pane's health becomes
//! `Failed("internal error")`). The panic hook (`app::install_panic_hook`) has already written the
//! message and the backtrace to the log file, and never draws over the screen for a task.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::model::{Health, Msg, SourceId};

/// What a pane whose source panicked shows as its failure.
pub const INTERNAL_ERROR: &str = "internal error";

/// The message that marks `source`'s pane as failed after its task panicked.
pub fn failed(source: SourceId) -> Msg {
    Msg::Health(source, Health::Failed(INTERNAL_ERROR.to_string()))
}

/// Runs `fut`; if it panics, sends `on_panic` on `tx` (unless the console is already gone).
pub async fn supervised<F>(fut: F, tx: mpsc::Sender<Msg>, on_panic: Msg)
where
    F: Future<Output = ()>,
{
    // The future is dropped right after the panic and nothing it touched is looked at again, so
    // no broken invariant can be observed.
    if AssertUnwindSafe(fut).catch_unwind().await.is_err() {
        let _ = tx.send(on_panic).await;
    }
}

/// `tokio::spawn` of a source's future that reports a panic as `source`'s pane failing.
pub fn spawn<F>(source: SourceId, tx: mpsc::Sender<Msg>, fut: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(supervised(fut, tx, failed(source)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterId, SourceKind};

    #[tokio::test]
    async fn a_panic_becomes_the_failure_message_and_a_clean_end_sends_nothing() {
        let (tx, mut rx) = mpsc::channel(4);
        let task = spawn(
            SourceKind::Logs.of(ClusterId::default()),
            tx.clone(),
            async {
                panic!("a bug in a source");
            },
        );
        task.await
            .expect("the panic does not escape the supervised task");
        assert_eq!(
            rx.recv().await,
            Some(failed(SourceKind::Logs.of(ClusterId::default())))
        );

        spawn(SourceKind::Checks.of(ClusterId::default()), tx, async {})
            .await
            .unwrap();
        assert_eq!(rx.recv().await, None, "nothing after a clean end");
    }
}

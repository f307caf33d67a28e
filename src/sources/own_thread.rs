//! A current-thread tokio runtime on a thread of its own, for the etcd sources.
//!
//! An etcd source is a small crowd of tasks around one HTTP/2 connection: the watch loop, the
//! quorum probe every 500 ms, the lease reads, tonic's request buffer and the h2 connection
//! driver. On the console's two-worker runtime each probe was passed between the workers several
//! times — a task woken on one worker makes tokio wake the other to steal it (an eventfd write
//! and a futex), and grpc-go's flow-control ping, the answer and the next request each came in on
//! whichever worker held the I/O driver. `strace` of an idle console counted ~27 worker wake-ups a
//! second, a third of them such hand-offs; on one thread of their own the etcd tasks wake that
//! thread only, and the workers are left to the polled backends and the logs (BENCHMARKS.md,
//! "Issue 18, thirteenth round").
//!
//! It also keeps the quorum probe from queueing behind a log parse or a metrics decode on a
//! shared worker: its answer is judged against a deadline (`quorum.rs`), and a probe late for a
//! reason of ours would report a quorum lost that is not.
//!
//! A spawned task that needs the blocking pool (`spawn_blocking`, the listing's preparation) gets
//! this runtime's own. Work that is CPU-bound and may run side by side (the listing's key ranges,
//! decoded and sorted) goes to the runtime the thread was started from ([`work_runtime`]). The
//! thread ends when its [`OwnThread`] is dropped: the runtime is shut down there without waiting
//! for blocking work, as the console's own runtime is at exit.

use std::future::Future;

use tokio::task::JoinHandle;

thread_local! {
    /// On an own thread: the runtime it was started from, for [`work_runtime`].
    static POOL: std::cell::RefCell<Option<tokio::runtime::Handle>> =
        const { std::cell::RefCell::new(None) };
}

/// Where CPU-bound work of a task should run: the runtime the calling task's own thread was
/// started from (the console's workers), or the calling task's own runtime elsewhere.
pub fn work_runtime() -> tokio::runtime::Handle {
    POOL.with(|p| p.borrow().clone())
        .unwrap_or_else(tokio::runtime::Handle::current)
}

/// A thread running a current-thread runtime until this is dropped.
pub struct OwnThread {
    handle: tokio::runtime::Handle,
    /// Dropped with this: the thread's `block_on` returns and the runtime is shut down.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl OwnThread {
    /// Starts the thread `name` and its runtime (I/O and time enabled). Called inside a runtime,
    /// that one is where its tasks' CPU-bound work goes ([`work_runtime`]).
    pub fn start(name: &str) -> std::io::Result<OwnThread> {
        let pool = tokio::runtime::Handle::try_current().ok();
        let (started_tx, started) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                // The timer wheel of this runtime counts from here (see `crate::wheel`).
                crate::wheel::note_thread_origin();
                POOL.with(|p| *p.borrow_mut() = pool);
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .on_thread_park(crate::memory::collect_if_asked)
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        return;
                    }
                };
                if started_tx.send(Ok(runtime.handle().clone())).is_err() {
                    return;
                }
                // Spawned tasks run while the thread is in `block_on`; the sender's drop ends it.
                let _ = runtime.block_on(stopped);
                runtime.shutdown_background();
            })?;
        let handle = started
            .recv()
            .map_err(|_| std::io::Error::other("the runtime thread ended before it started"))??;
        Ok(OwnThread {
            handle,
            _stop: stop,
        })
    }

    /// Runs `fut` on this thread; the handle aborts it as a `tokio::spawn`'s would.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(fut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn thread_name() -> Option<String> {
        std::thread::current().name().map(str::to_string)
    }

    #[tokio::test]
    async fn tasks_and_what_they_spawn_run_on_the_own_thread() {
        let own = OwnThread::start("own-test").expect("the thread starts");
        let names = own
            .spawn(async {
                let inner = tokio::spawn(async { thread_name() }).await.unwrap();
                let timer = async {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    thread_name()
                }
                .await;
                (thread_name(), inner, timer)
            })
            .await
            .expect("the task ends");
        let own_name = Some("own-test".to_string());
        assert_eq!(names, (own_name.clone(), own_name.clone(), own_name));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn cpu_bound_work_goes_to_the_runtime_it_was_started_from() {
        let own = OwnThread::start("own-test-work").expect("the thread starts");
        let (there, here) = own
            .spawn(async {
                let there = work_runtime().spawn(async { thread_name() }).await.unwrap();
                (there, thread_name())
            })
            .await
            .unwrap();
        assert_eq!(here.as_deref(), Some("own-test-work"));
        assert_eq!(there.as_deref(), Some("tokio-rt-worker"));
        // Elsewhere: the caller's own runtime.
        let elsewhere = work_runtime().spawn(async { thread_name() }).await.unwrap();
        assert_eq!(elsewhere.as_deref(), Some("tokio-rt-worker"));
    }

    #[tokio::test]
    async fn an_abort_ends_the_task_and_a_drop_ends_the_thread() {
        let own = OwnThread::start("own-test-drop").expect("the thread starts");
        let (alive_tx, mut alive) = tokio::sync::mpsc::channel::<()>(1);
        let task = own.spawn(async move {
            let _keep = alive_tx;
            std::future::pending::<()>().await
        });
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(alive.recv().await, None, "the aborted task was dropped");

        // A task still running when the thread is dropped is dropped with its runtime.
        let (alive_tx, mut alive) = tokio::sync::mpsc::channel::<()>(1);
        let _task = own.spawn(async move {
            let _keep = alive_tx;
            std::future::pending::<()>().await
        });
        drop(own);
        let gone = tokio::time::timeout(Duration::from_secs(5), alive.recv()).await;
        assert_eq!(gone, Ok(None), "the runtime went with the thread");
    }
}

//! The one runner for every polled HTTP source — checks (Sensu Go, Sensu Core, Alertmanager),
//! metrics (Graphite, Prometheus) and the Elasticsearch and Loki log tails — so that each keeps the
//! same promises, written once:
//!
//! - **One request in flight.** A poll or a mutation runs to its end before the next command is
//!   read; nothing is ever asked of a backend concurrently by the runner.
//! - **The newest query wins.** When commands are read, everything queued is drained: of the
//!   queries (`MetricsQuery`, `LogsScope`) only the last is kept, and it is polled at once.
//! - **Mutations show at once.** `Silence`/`Unsilence` run in the order they came, each reports its
//!   outcome, and then the source polls at once so the pane shows the backend's own view.
//! - **Honest health.** `Connecting` at start; `Idle` instead while nothing is asked of it (metrics
//!   before the pane's first query, or after a merged view's pane moved to another cluster's), and
//!   `Connecting` again when it is asked; `Live` after the first success that follows anything
//!   else; after a failure `Retrying { at, attempt, error }`, where `at` is exactly when the next
//!   attempt is scheduled (capped exponential backoff with jitter, [`Backoff`]). Only a new query or
//!   a mutation — the user asking — brings it forward.
//! - **It stops** when the console's message channel closes, or its command channel does.
//!
//! A backend says only how to ask once and what a command means to it: [`Polled`].

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::warn;

use super::backoff::Backoff;
use super::http::HttpError;
use crate::model::{Command, Health, Msg, SourceId};

/// What one successful poll brings.
#[derive(Debug, Default)]
pub struct Answer {
    /// Facts for the console, sent in this order.
    pub msgs: Vec<Msg>,
    /// A warning for the pane (sent as `Msg::Notice` before the facts).
    pub notice: Option<String>,
    /// More is waiting (a full page came back): poll again at once, not after the interval.
    pub more: bool,
}

impl Answer {
    /// Facts, no warning, nothing more waiting.
    pub fn facts(msgs: Vec<Msg>) -> Answer {
        Answer {
            msgs,
            ..Answer::default()
        }
    }
}

/// A backend as the runner drives it.
pub trait Polled: Send {
    /// The backend's name, at the start of the error a `Retrying` carries ("sensu-go: 503 …").
    fn name(&self) -> &'static str;

    /// Whether there is anything to ask yet (metrics: nothing before the first query).
    fn ready(&self) -> bool {
        true
    }

    /// Asks the backend once.
    fn poll_once(&mut self) -> impl Future<Output = Result<Answer, HttpError>> + Send;

    /// Takes the newest query (`MetricsQuery`, `LogsScope`); false when it is not for this source.
    fn retarget(&mut self, _query: Command) -> bool {
        false
    }

    /// Carries out a change (`Silence`, `Unsilence`) and returns the message that says how it
    /// went; `None` when this source takes no such change.
    fn mutate(&mut self, _change: Command) -> impl Future<Output = Option<Msg>> + Send {
        async { None }
    }
}

/// What a command is to the runner.
enum Kind {
    /// Replaces what is polled: only the newest counts.
    Query,
    /// A change to the backend: each one runs, in order.
    Change,
    /// Not for a polled source.
    Other,
}

fn kind(cmd: &Command) -> Kind {
    match cmd {
        Command::MetricsQuery(_) | Command::MetricsIdle | Command::LogsScope(_) => Kind::Query,
        // A log re-read around a time is asked once and answered, like a change.
        Command::Silence { .. }
        | Command::Unsilence { .. }
        | Command::ExtendSilence { .. }
        | Command::LogsAround(_)
        | Command::LogsHistogram(_)
        | Command::AlertsAt(_) => Kind::Change,
        _ => Kind::Other,
    }
}

/// Runs `source` as pane `id` until the console is gone: polls every `every` while it answers,
/// after `backoff` while it fails, and at once when the user asks for something new. See the
/// module doc for the promises.
pub async fn run_polled<P: Polled>(
    id: SourceId,
    mut source: P,
    every: Duration,
    mut backoff: Backoff,
    tx: mpsc::Sender<Msg>,
    mut cmds: mpsc::Receiver<Command>,
) {
    let mut asked = source.ready();
    let first = if asked {
        Health::Connecting
    } else {
        Health::Idle
    };
    if tx.send(Msg::Health(id, first)).await.is_err() {
        return;
    }
    let mut live = false;
    let mut next = Instant::now();
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            cmd = cmds.recv() => {
                let Some(first) = cmd else { return };
                // Everything queued now: changes in order, queries newest only.
                let mut query = None;
                let mut changes = Vec::new();
                let mut queued = Some(first);
                while let Some(cmd) = queued.take().or_else(|| cmds.try_recv().ok()) {
                    match kind(&cmd) {
                        Kind::Query => query = Some(cmd),
                        Kind::Change => changes.push(cmd),
                        Kind::Other => {}
                    }
                }
                // Re-reads around a time (the time cursor stepping): newest wins, the older ones
                // queued behind a poll are no longer wanted.
                for reread in [
                    |c: &Command| matches!(c, Command::LogsAround(_)),
                    |c: &Command| matches!(c, Command::AlertsAt(_)),
                    |c: &Command| matches!(c, Command::LogsHistogram(_)),
                ] {
                    if let Some(last) = changes.iter().rposition(reread) {
                        let mut i = 0;
                        changes.retain(|c| {
                            let keep = !reread(c) || i == last;
                            i += 1;
                            keep
                        });
                    }
                }
                let mut now = false;
                for change in changes {
                    if let Some(done) = source.mutate(change).await {
                        if tx.send(done).await.is_err() {
                            return;
                        }
                        now = true;
                    }
                }
                if let Some(q) = query {
                    now |= source.retarget(q);
                    // Asked again after waiting, or told nothing is wanted: said at once, and the
                    // next success says `Live` again.
                    if source.ready() != asked {
                        asked = source.ready();
                        live = false;
                        let health = if asked { Health::Connecting } else { Health::Idle };
                        if tx.send(Msg::Health(id, health)).await.is_err() {
                            return;
                        }
                    }
                }
                if now {
                    next = Instant::now();
                }
            }
            _ = tokio::time::sleep_until(next), if source.ready() => {
                match source.poll_once().await {
                    Ok(answer) => {
                        backoff.reset();
                        // The next poll at the start of its timer-wheel slot (up to 64 ms
                        // sooner): one wake-up for the wait, not two (`crate::wheel`).
                        next = if answer.more {
                            Instant::now()
                        } else {
                            crate::wheel::after(every)
                        };
                        if let Some(n) = answer.notice {
                            if tx.send(Msg::Notice(id, n)).await.is_err() {
                                return;
                            }
                        }
                        for m in answer.msgs {
                            if tx.send(m).await.is_err() {
                                return;
                            }
                        }
                        if !live {
                            live = true;
                            if tx.send(Msg::Health(id, Health::Live)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(e) => {
                        live = false;
                        let delay = backoff.next_delay();
                        // The countdown and the schedule come from the same delay, taken now.
                        next = Instant::now() + delay;
                        let at = crate::clock::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                        warn!(source = source.name(), error = %e, ?delay, "poll failed");
                        let retrying = Health::Retrying {
                            at,
                            attempt: backoff.attempt(),
                            error: format!("{}: {e}", source.name()),
                        };
                        if tx.send(Msg::Health(id, retrying)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClusterId, SourceKind};
    use std::sync::{Arc, Mutex};

    /// A backend that answers from a script and records what it was asked.
    struct Fake {
        /// Results of the coming polls (Ok when the script is empty).
        script: Vec<Result<(), HttpError>>,
        target: Option<String>,
        asked: Arc<Mutex<Vec<Option<String>>>>,
        /// How long each poll takes.
        slow: Duration,
    }

    impl Polled for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn ready(&self) -> bool {
            self.target.is_some()
        }
        async fn poll_once(&mut self) -> Result<Answer, HttpError> {
            self.asked.lock().unwrap().push(self.target.clone());
            tokio::time::sleep(self.slow).await;
            if !self.script.is_empty() {
                self.script.remove(0)?;
            }
            Ok(Answer::facts(vec![Msg::Notice(
                SourceKind::Metrics.of(ClusterId(0)),
                format!("answer for {}", self.target.clone().unwrap_or_default()),
            )]))
        }
        fn retarget(&mut self, query: Command) -> bool {
            match query {
                Command::LogsScope(hosts) => {
                    self.target = Some(hosts.unwrap_or_default().join(","));
                    true
                }
                Command::MetricsIdle => {
                    self.target = None;
                    false
                }
                _ => false,
            }
        }
        async fn mutate(&mut self, change: Command) -> Option<Msg> {
            match change {
                Command::LogsAround(at) => Some(Msg::LogsAround {
                    at,
                    lines: Ok(Vec::new()),
                }),
                _ => None,
            }
        }
    }

    /// `fake` run as source `id`, polled every `every` (backoff from 200 ms): its messages, its
    /// command channel, its task.
    fn run_fake(
        id: SourceId,
        fake: Fake,
        every: Duration,
    ) -> (
        mpsc::Receiver<Msg>,
        mpsc::Sender<Command>,
        tokio::task::JoinHandle<()>,
    ) {
        let (tx, rx) = mpsc::channel(64);
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(1));
        let task = tokio::spawn(run_polled(id, fake, every, backoff, tx, cmd_rx));
        (rx, cmd_tx, task)
    }

    #[tokio::test]
    async fn re_reads_queued_behind_a_poll_keep_only_the_newest() {
        let fake = Fake {
            script: Vec::new(),
            target: None,
            asked: Arc::new(Mutex::new(Vec::new())),
            slow: Duration::from_millis(200),
        };
        let id = SourceKind::Logs.of(ClusterId(0));
        let (mut rx, cmd_tx, _task) = run_fake(id, fake, Duration::from_secs(60));
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Idle)));
        cmd_tx.send(scope("a")).await.unwrap();
        // While the poll is in flight, the cursor steps three times.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = |m: i64| chrono::Utc::now() - chrono::Duration::minutes(m);
        let moments = [t(10), t(11), t(12)];
        for at in moments {
            cmd_tx.send(Command::LogsAround(at)).await.unwrap();
        }
        let mut reread = Vec::new();
        while reread.is_empty() {
            match rx.recv().await {
                Some(Msg::LogsAround { at, .. }) => reread.push(at),
                Some(_) => {}
                None => panic!("the runner stopped"),
            }
        }
        // Nothing else comes: the older re-reads were dropped.
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
            if let Msg::LogsAround { at, .. } = m {
                reread.push(at);
            }
        }
        assert_eq!(reread, vec![moments[2]]);
    }

    fn scope(h: &str) -> Command {
        Command::LogsScope(Some(vec![h.to_string()]))
    }

    #[tokio::test]
    async fn the_newest_query_wins_and_failures_count_down_honestly() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let fake = Fake {
            script: vec![Ok(()), Err(HttpError::Timeout(1))],
            target: None,
            asked: asked.clone(),
            slow: Duration::from_millis(100),
        };
        let id = SourceKind::Metrics.of(ClusterId(0));
        let (mut rx, cmd_tx, task) = run_fake(id, fake, Duration::from_millis(300));
        // Nothing is asked before the first query, and the health says so.
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Idle)));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(asked.lock().unwrap().is_empty());
        cmd_tx.send(scope("a")).await.unwrap();
        // While "a" is in flight, three more queue up: only the last is asked for.
        tokio::time::sleep(Duration::from_millis(30)).await;
        for h in ["b", "c", "d"] {
            cmd_tx.send(scope(h)).await.unwrap();
        }
        let answer = |h: &str| Some(Msg::Notice(id, format!("answer for {h}")));
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Connecting)));
        assert_eq!(rx.recv().await, answer("a"));
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Live)));
        // "d" fails: Retrying, and the retry comes no earlier than `at`.
        let (at, attempt) = match rx.recv().await {
            Some(Msg::Health(_, Health::Retrying { at, attempt, error })) => {
                assert_eq!(error, "fake: no answer within 1 s");
                (at, attempt)
            }
            other => panic!("expected Retrying, got {other:?}"),
        };
        assert_eq!(attempt, 1);
        assert_eq!(rx.recv().await, answer("d"));
        let retried = crate::clock::now();
        assert!(retried >= at, "retried at {retried}, before {at}");
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Live)));
        assert_eq!(
            *asked.lock().unwrap(),
            [Some("a".to_string()), Some("d".into()), Some("d".into())]
        );
        // The console goes away: the runner stops.
        drop(rx);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("the runner stops when the console is gone")
            .unwrap();
    }

    #[tokio::test]
    async fn a_source_told_it_is_idle_stops_polling_and_says_so_until_asked_again() {
        let asked = Arc::new(Mutex::new(Vec::new()));
        let fake = Fake {
            script: Vec::new(),
            target: None,
            asked: asked.clone(),
            slow: Duration::ZERO,
        };
        let id = SourceKind::Metrics.of(ClusterId(0));
        let (mut rx, cmd_tx, _task) = run_fake(id, fake, Duration::from_millis(100));
        let answer = |h: &str| Some(Msg::Notice(id, format!("answer for {h}")));
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Idle)));
        cmd_tx.send(scope("a")).await.unwrap();
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Connecting)));
        assert_eq!(rx.recv().await, answer("a"));
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Live)));
        // The pane moved to another cluster's series: this one waits, and says so at once.
        cmd_tx.send(Command::MetricsIdle).await.unwrap();
        loop {
            match rx.recv().await {
                Some(Msg::Health(_, h)) => {
                    assert_eq!(h, Health::Idle);
                    break;
                }
                Some(m) => assert_eq!(m, answer("a").unwrap(), "only polls of a, then idle"),
                None => panic!("the runner stopped"),
            }
        }
        let polls = asked.lock().unwrap().len();
        // Five intervals: not one poll, not one message.
        let quiet = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
        assert!(quiet.is_err(), "an idle source sent {quiet:?}");
        assert_eq!(asked.lock().unwrap().len(), polls);
        // Asked again: connecting, asked at once, live.
        cmd_tx.send(scope("b")).await.unwrap();
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Connecting)));
        assert_eq!(rx.recv().await, answer("b"));
        assert_eq!(rx.recv().await, Some(Msg::Health(id, Health::Live)));
    }
}

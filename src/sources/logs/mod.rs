//! The logs source: tails rsyslog → Redis (Pub/Sub or list), Elasticsearch (Logstash indices) or
//! Loki, and sends parsed lines in batches. Reconnects with backoff; resumes where it left off
//! where the backend allows it (Elasticsearch and Loki by timestamp; Pub/Sub cannot replay).

pub mod common;
pub mod elasticsearch;
pub mod loki;
pub mod redis;
pub mod syslog;

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::warn;

use self::common::BATCH;
pub use self::elasticsearch::EsTail;
pub use self::loki::LokiTail;
use self::redis::RedisTail;
use crate::config::{HttpBackend, LogsKind, LogsProfile};
use crate::model::{ClusterId, Health, LogLine, Msg, SourceId, SourceKind};
use crate::sources::backoff::Backoff;
use crate::sources::http::{self, HttpError};

pub struct LogsSource {
    id: SourceId,
    profile: LogsProfile,
    tx: mpsc::Sender<Msg>,
    backoff: Backoff,
    /// Scope changes (`Command::LogsScope`); Elasticsearch and Loki apply them server-side.
    cmds: Option<mpsc::Receiver<crate::model::Command>>,
    pending_scope: Option<Option<Vec<String>>>,
}

impl LogsSource {
    pub fn new(profile: LogsProfile, tx: mpsc::Sender<Msg>) -> LogsSource {
        LogsSource {
            id: SourceKind::Logs.of(ClusterId::default()),
            profile,
            tx,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
            cmds: None,
            pending_scope: None,
        }
    }

    /// Which cluster this source serves (the first, unless told otherwise).
    pub fn in_cluster(mut self, cluster: ClusterId) -> Self {
        self.id = SourceKind::Logs.of(cluster);
        self
    }

    pub fn with_commands(mut self, cmds: mpsc::Receiver<crate::model::Command>) -> LogsSource {
        self.cmds = Some(cmds);
        self
    }

    /// The newest scope asked for since the last look, if any.
    fn take_scope(&mut self) -> Option<Option<Vec<String>>> {
        let rx = self.cmds.as_mut()?;
        let mut latest = None;
        while let Ok(cmd) = rx.try_recv() {
            if let crate::model::Command::LogsScope(hosts) = cmd {
                latest = Some(hosts);
            }
        }
        latest
    }

    /// Sleeps for the poll interval, waking early when the scope changes.
    async fn pause(&mut self) {
        let interval = self.profile.interval;
        match self.cmds.as_mut() {
            None => tokio::time::sleep(interval).await,
            Some(rx) => {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    cmd = rx.recv() => {
                        // Put it back in reach of `take_scope` by handling it there.
                        if let Some(crate::model::Command::LogsScope(h)) = cmd {
                            self.pending_scope = Some(h);
                        }
                    }
                }
            }
        }
    }

    async fn health(&self, h: Health) -> bool {
        self.tx.send(Msg::Health(self.id, h)).await.is_ok()
    }

    async fn send_lines(&self, lines: Vec<LogLine>) -> bool {
        lines.is_empty() || self.tx.send(Msg::LogLines(lines)).await.is_ok()
    }

    async fn retry(&mut self, error: String) -> bool {
        let delay = self.backoff.next_delay();
        warn!(%error, ?delay, "logs source");
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let ok = self
            .health(Health::Retrying {
                at,
                attempt: self.backoff.attempt(),
                error,
            })
            .await;
        tokio::time::sleep(delay).await;
        ok
    }

    pub async fn run(mut self) {
        let _ = self.health(Health::Connecting).await;
        match self.profile.kind.clone() {
            LogsKind::Redis { .. } => {
                RedisTail::new(self.id, self.profile, self.tx, self.backoff)
                    .run()
                    .await
            }
            LogsKind::Elasticsearch { index } => {
                self.run_polled(Poller::Es(EsTail::new(index))).await
            }
            LogsKind::Loki { query, tenant } => {
                self.run_polled(Poller::Loki(LokiTail::new(query, tenant)))
                    .await
            }
        }
    }

    async fn run_polled(&mut self, mut poller: Poller) {
        let client = match http::client(&self.profile.http) {
            Ok(c) => c,
            Err(e) => {
                let _ = self.health(Health::Failed(format!("{e:#}"))).await;
                return;
            }
        };
        let mut live = false;
        loop {
            if let Some(hosts) = self.pending_scope.take().or_else(|| self.take_scope()) {
                poller.set_hosts(hosts.unwrap_or_default());
            }
            match poller.poll(&client, &self.profile.http).await {
                Ok((lines, notice, more)) => {
                    self.backoff.reset();
                    if !live {
                        live = true;
                        if !self.health(Health::Live).await {
                            return;
                        }
                    }
                    if let Some(n) = notice {
                        if self.tx.send(Msg::Notice(self.id, n)).await.is_err() {
                            return;
                        }
                    }
                    for chunk in lines.chunks(BATCH) {
                        if !self.send_lines(chunk.to_vec()).await {
                            return;
                        }
                    }
                    if !more {
                        self.pause().await;
                    }
                }
                Err(e) => {
                    live = false;
                    if !self
                        .retry(format!("{}: {e}", self.profile.kind.name()))
                        .await
                    {
                        return;
                    }
                }
            }
        }
    }
}

enum Poller {
    Es(EsTail),
    Loki(LokiTail),
}

impl Poller {
    fn set_hosts(&mut self, hosts: Vec<String>) {
        match self {
            Poller::Es(t) => t.set_hosts(hosts),
            Poller::Loki(t) => t.set_hosts(hosts),
        }
    }

    /// New lines, an optional warning, and whether more are waiting (poll again at once).
    async fn poll(
        &mut self,
        client: &reqwest::Client,
        b: &HttpBackend,
    ) -> Result<(Vec<LogLine>, Option<String>, bool), HttpError> {
        match self {
            Poller::Es(t) => t.poll(client, b).await,
            Poller::Loki(t) => t.poll(client, b).await.map(|(l, m)| (l, None, m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scope_is_applied_server_side() {
        let mut es = EsTail::new("logstash-*".into());
        assert!(
            es.body()["query"]["range"].is_object(),
            "unscoped body unchanged"
        );
        es.set_hosts(vec!["web-1".into(), "10.0.0.1".into()]);
        let b = es.body();
        let should = &b["query"]["bool"]["filter"][1]["bool"]["should"];
        assert_eq!(
            should[0]["terms"]["host.keyword"],
            json!(["web-1", "10.0.0.1"])
        );
        let mut loki = LokiTail::new("{job=\"syslog\"} |= \"x\"".into(), None);
        assert_eq!(loki.scoped_query(), "{job=\"syslog\"} |= \"x\"");
        loki.set_hosts(vec!["web-1".into(), "10.0.0.1".into()]);
        assert_eq!(
            loki.scoped_query(),
            "{job=\"syslog\", host=~`web\\-1|10\\.0\\.0\\.1`} |= \"x\""
        );
        loki.set_hosts(vec![]);
        assert_eq!(loki.scoped_query(), "{job=\"syslog\"} |= \"x\"");
    }
}

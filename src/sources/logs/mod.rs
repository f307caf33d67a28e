//! The logs source: tails rsyslog → Redis (Pub/Sub or list), Elasticsearch (Logstash indices) or
//! Loki, and sends parsed lines in batches. Reconnects with backoff; resumes where it left off
//! where the backend allows it (Elasticsearch and Loki by timestamp; Pub/Sub cannot replay).
//!
//! One file per backend. Elasticsearch and Loki are [`Tail`]s polled by the shared runner
//! (`sources::polled`); Redis pushes, so it keeps its own loop. `common.rs` holds what the backends
//! share and imports none of them; `syslog.rs` parses the lines.

pub mod common;
pub mod elasticsearch;
mod flat_json;
mod inflight;
pub mod loki;
pub mod redis;
mod rfc3339;
pub mod syslog;

use std::time::Duration;

use tokio::sync::mpsc;

use self::common::Polling;
pub use self::common::Tail;
pub use self::elasticsearch::EsTail;
pub use self::loki::LokiTail;
use self::redis::RedisTail;
use crate::config::{LogsKind, LogsProfile};
use crate::model::{ClusterId, Command, Health, Msg, SourceId, SourceKind};
use crate::sources::backoff::Backoff;
use crate::sources::polled::run_polled;

pub struct LogsSource {
    id: SourceId,
    profile: LogsProfile,
    tx: mpsc::Sender<Msg>,
    backoff: Backoff,
    /// Scope changes (`Command::LogsScope`); Elasticsearch and Loki apply them server-side.
    cmds: Option<mpsc::Receiver<Command>>,
}

impl LogsSource {
    pub fn new(profile: LogsProfile, tx: mpsc::Sender<Msg>) -> LogsSource {
        LogsSource {
            id: SourceKind::Logs.of(ClusterId::default()),
            profile,
            tx,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
            cmds: None,
        }
    }

    /// Which cluster this source serves (the first, unless told otherwise).
    pub fn in_cluster(mut self, cluster: ClusterId) -> Self {
        self.id = SourceKind::Logs.of(cluster);
        self
    }

    pub fn with_commands(mut self, cmds: mpsc::Receiver<Command>) -> LogsSource {
        self.cmds = Some(cmds);
        self
    }

    /// Follows the configured backend until the console is gone.
    pub async fn run(self) {
        match self.profile.kind.clone() {
            LogsKind::Redis { .. } => {
                RedisTail::new(self.id, self.profile, self.tx, self.backoff)
                    .run()
                    .await
            }
            LogsKind::Elasticsearch { index } => self.run_tail(EsTail::new(index)).await,
            LogsKind::Loki { query, tenant } => {
                let zone = self.profile.timezone;
                let label = self.profile.level_label.clone();
                self.run_tail(
                    LokiTail::new(query, tenant)
                        .in_zone(zone)
                        .level_label(label),
                )
                .await
            }
        }
    }

    /// An HTTP tail, polled on the profile's interval through [`run_polled`] (at once while full
    /// pages come back, or when the scope changes).
    async fn run_tail<T: Tail>(self, tail: T) {
        let polling = match Polling::new(tail, &self.profile.http) {
            Ok(p) => p,
            Err(e) => {
                let failed = Health::Failed(format!("{e:#}"));
                let _ = self.tx.send(Msg::Health(self.id, failed)).await;
                return;
            }
        };
        // Without a command channel nothing ever changes the scope; one held open stands in.
        let (_held_open, unused) = mpsc::channel(1);
        let cmds = self.cmds.unwrap_or(unused);
        let every = self.profile.interval;
        run_polled(self.id, polling, every, self.backoff, self.tx, cmds).await
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

//! rsyslog → Redis, the one log backend that pushes: Pub/Sub (omhiredis `publish`) or a list
//! (`queue`, consumed oldest first), lines parsed as they arrive and sent in batches. Nothing is
//! polled, so it keeps its own loop: connect, follow, and on failure reconnect with backoff
//! (Pub/Sub cannot replay what was published meanwhile, and says so).

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tracing::warn;

use super::common::BATCH;
use super::syslog::parse_any_in;
use crate::config::{HttpAuth, LogsKind, LogsProfile};
use crate::model::{Health, LogLine, Msg, SourceId};
use crate::sources::backoff::Backoff;

/// How long BRPOP blocks server-side; the connection's response timeout must be longer.
const BRPOP_BLOCK_SECS: u64 = 1;
/// A subscribed connection carries nothing while the channel is quiet: PING it this often so a
/// dead server or a silent network drop is noticed.
pub const PUBSUB_PING: Duration = Duration::from_secs(15);

/// The Redis tail of one logs pane.
pub struct RedisTail {
    id: SourceId,
    profile: LogsProfile,
    tx: mpsc::Sender<Msg>,
    backoff: Backoff,
}

impl RedisTail {
    pub fn new(
        id: SourceId,
        profile: LogsProfile,
        tx: mpsc::Sender<Msg>,
        backoff: Backoff,
    ) -> Self {
        RedisTail {
            id,
            profile,
            tx,
            backoff,
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
        let at = crate::clock::now() + chrono::Duration::from_std(delay).unwrap_or_default();
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

    /// Follows the channel or list until the console is gone.
    pub async fn run(mut self) {
        let LogsKind::Redis {
            channel,
            list,
            userpush,
        } = self.profile.kind.clone()
        else {
            return;
        };
        if !self.health(Health::Connecting).await {
            return;
        }
        self.run_redis(channel, list, userpush).await
    }

    fn redis_url(&self) -> String {
        match &self.profile.http.auth {
            HttpAuth::Basic { user, password, .. } => {
                let rest = self
                    .profile
                    .http
                    .url
                    .split_once("://")
                    .map(|x| x.1)
                    .unwrap_or("");
                let scheme = if self.profile.http.url.starts_with("rediss") {
                    "rediss"
                } else {
                    "redis"
                };
                format!(
                    "{scheme}://{}:{}@{rest}",
                    urlencoding::encode(user),
                    urlencoding::encode(password.expose())
                )
            }
            _ => self.profile.http.url.clone(),
        }
    }

    /// The client: `rediss://` trusts the profile's `ca` when there is one, else the system roots.
    fn client(&self) -> Result<redis::Client, String> {
        let url = self.redis_url();
        match &self.profile.http.ca {
            Some(ca) if url.starts_with("rediss://") => {
                crate::sources::http::install_crypto_provider();
                let root_cert =
                    std::fs::read(ca).map_err(|e| format!("reading ca {}: {e}", ca.display()))?;
                let certs = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                };
                redis::Client::build_with_tls(url, certs).map_err(|e| e.to_string())
            }
            _ => {
                crate::sources::http::install_crypto_provider();
                redis::Client::open(url).map_err(|e| e.to_string())
            }
        }
    }

    async fn run_redis(&mut self, channel: Option<String>, list: Option<String>, userpush: bool) {
        let mut was_live = false;
        loop {
            let result = match (&channel, &list) {
                (Some(ch), _) => self.redis_pubsub(ch, &mut was_live).await,
                (None, Some(l)) => self.redis_list(l, userpush).await,
                (None, None) => return,
            };
            match result {
                Ok(()) => return, // the UI is gone
                Err(e) => {
                    if !self
                        .retry(format!("redis {}: {e}", self.profile.http.url))
                        .await
                    {
                        return;
                    }
                }
            }
        }
    }

    async fn redis_pubsub(&mut self, channel: &str, was_live: &mut bool) -> Result<(), String> {
        let client = self.client()?;
        let timeout = self.profile.http.timeout;
        let mut pubsub = tokio::time::timeout(timeout, client.get_async_pubsub())
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        tokio::time::timeout(timeout, pubsub.subscribe(channel))
            .await
            .map_err(|_| "SUBSCRIBE timed out".to_string())?
            .map_err(|e| e.to_string())?;
        self.backoff.reset();
        if !self.health(Health::Live).await {
            return Ok(());
        }
        if std::mem::replace(was_live, true)
            && self
                .tx
                .send(Msg::Notice(
                    self.id,
                    format!(
                        "logs: re-subscribed to {channel}; lines published while disconnected are lost (Pub/Sub does not replay — use list = … for a buffered path)"
                    ),
                ))
                .await
                .is_err()
        {
            return Ok(());
        }
        let zone = self.profile.timezone;
        let (mut sink, mut stream) = pubsub.split();
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PUBSUB_PING, PUBSUB_PING);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                m = stream.next() => m,
                _ = ping.tick() => {
                    match tokio::time::timeout(timeout, sink.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => continue,
                        Ok(Err(e)) => return Err(format!("PING on the subscription: {e}")),
                        Err(_) => return Err(format!("no answer to PING within {} s", timeout.as_secs())),
                    }
                }
            };
            let Some(first) = first else {
                return Err("subscription closed by the server".into());
            };
            let mut lines = vec![parse_any_in(first.get_payload_bytes(), zone)];
            while lines.len() < BATCH {
                match stream.next().now_or_never() {
                    Some(Some(m)) => lines.push(parse_any_in(m.get_payload_bytes(), zone)),
                    Some(None) => break,
                    None => break,
                }
            }
            if !self.send_lines(lines).await {
                return Ok(());
            }
        }
    }

    /// Queue mode. rsyslog LPUSHes by default, so the oldest line is on the right (BRPOP/RPOP);
    /// with `userpush="on"` it RPUSHes and the oldest is on the left (BLPOP/LPOP).
    async fn redis_list(&mut self, list: &str, userpush: bool) -> Result<(), String> {
        let (block_pop, pop) = if userpush {
            ("BLPOP", "LPOP")
        } else {
            ("BRPOP", "RPOP")
        };
        let client = self.client()?;
        // redis-rs times requests out after 500 ms by default: shorter than BRPOP's block, so an
        // idle list would look like a dead server (and a line popped server-side just as the
        // client gave up would be lost with the connection).
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.profile.http.timeout))
            .set_response_timeout(Some(
                self.profile.http.timeout + Duration::from_secs(BRPOP_BLOCK_SECS),
            ));
        let mut conn = tokio::time::timeout(
            self.profile.http.timeout,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
        self.backoff.reset();
        if !self.health(Health::Live).await {
            return Ok(());
        }
        let zone = self.profile.timezone;
        loop {
            // The oldest line first (blocking), then drain what is queued in one go.
            let popped: Option<(String, Vec<u8>)> = redis::cmd(block_pop)
                .arg(list)
                .arg(BRPOP_BLOCK_SECS)
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let Some((_, first)) = popped else { continue };
            let mut lines = vec![parse_any_in(&first, zone)];
            let more: Option<Vec<Vec<u8>>> = redis::cmd(pop)
                .arg(list)
                .arg(BATCH - 1)
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            lines.extend(
                more.unwrap_or_default()
                    .iter()
                    .map(|m| parse_any_in(m, zone)),
            );
            if !self.send_lines(lines).await {
                return Ok(());
            }
        }
    }
}

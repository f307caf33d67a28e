//! rsyslog → Redis, the one log backend that pushes: Pub/Sub (omhiredis `publish`) or a list
//! (`queue`, consumed oldest first), lines parsed as they arrive and sent in batches. Nothing is
//! polled, so it keeps its own loop: connect, follow, and on failure reconnect with backoff
//! (Pub/Sub cannot replay what was published meanwhile, and says so).

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tracing::warn;

use super::common::BATCH;
use super::inflight::{consumer_name, Inflight, Sweep};
use super::syslog::parse_batch;
use crate::config::{HttpAuth, LogsKind, LogsProfile};
use crate::model::{Health, LogLine, Msg, SourceId};
use crate::sources::backoff::Backoff;

/// How long BLMOVE blocks server-side; the connection's response timeout must be longer.
const BLMOVE_BLOCK_SECS: u64 = 1;
/// A subscribed connection carries nothing while the channel is quiet: PING it this often so a
/// dead server or a silent network drop is noticed.
pub const PUBSUB_PING: Duration = Duration::from_secs(15);

/// The Redis tail of one logs pane.
pub struct RedisTail {
    id: SourceId,
    profile: LogsProfile,
    tx: mpsc::Sender<Msg>,
    backoff: Backoff,
    /// List mode: the console's own in-flight lists (made at the first connection).
    inflight: Option<Inflight>,
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
            inflight: None,
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
            let mut burst = vec![first];
            while burst.len() < BATCH {
                match stream.next().now_or_never() {
                    Some(Some(m)) => burst.push(m),
                    Some(None) => break,
                    None => break,
                }
            }
            let lines = parse_batch(&burst, zone, redis::Msg::get_payload_bytes);
            // Freed now, not after a wait on a full queue to the console.
            drop(burst);
            if !self.send_lines(lines).await {
                return Ok(());
            }
        }
    }

    /// Queue mode. rsyslog LPUSHes by default, so the oldest line is on the right; with
    /// `userpush="on"` it RPUSHes and the oldest is on the left. Lines are moved into this
    /// connection's in-flight list and deleted from there only once they have arrived
    /// (`inflight`): a line is never removed from Redis on its way to a console that is no longer
    /// listening.
    async fn redis_list(&mut self, list: &str, userpush: bool) -> Result<(), String> {
        let oldest_end = if userpush { "LEFT" } else { "RIGHT" };
        let client = self.client()?;
        // redis-rs times requests out after 500 ms by default: shorter than BLMOVE's block, so an
        // idle list would look like a dead server.
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.profile.http.timeout))
            .set_response_timeout(Some(
                self.profile.http.timeout + Duration::from_secs(BLMOVE_BLOCK_SECS),
            ));
        let mut conn = tokio::time::timeout(
            self.profile.http.timeout,
            client.get_multiplexed_async_connection_with_config(&config),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
        let inflight = self.inflight.get_or_insert_with(|| {
            Inflight::new(list, &consumer_name(crate::clock::now().timestamp_millis()))
        });
        let key = inflight.start_session(std::time::Instant::now());
        self.backoff.reset();
        if !self.health(Health::Live).await {
            return Ok(());
        }
        let zone = self.profile.timezone;
        let result = async {
            let mut last_sweep: Option<std::time::Instant> = None;
            loop {
                if last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) {
                    last_sweep = Some(std::time::Instant::now());
                    if !self.sweep(&mut conn).await? {
                        return Ok(());
                    }
                }
                // The oldest line first (blocking), then what is queued behind it in one go.
                self.mark(Inflight::moving);
                let first: Option<Vec<u8>> = redis::cmd("BLMOVE")
                    .arg(list)
                    .arg(&key)
                    .arg(oldest_end)
                    .arg("LEFT")
                    .arg(BLMOVE_BLOCK_SECS)
                    .query_async(&mut conn)
                    .await
                    .map_err(blmove_error)?;
                self.mark(Inflight::answered);
                let Some(first) = first else { continue };
                self.mark(Inflight::moving);
                let more: Vec<Vec<u8>> = redis::cmd("EVAL")
                    .arg(MOVE_BATCH)
                    .arg(2)
                    .arg(list)
                    .arg(&key)
                    .arg(BATCH - 1)
                    .arg(if userpush { "1" } else { "0" })
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                self.mark(Inflight::answered);
                let mut raw = Vec::with_capacity(1 + more.len());
                raw.push(first);
                raw.extend(more);
                let lines = parse_batch(&raw, zone, Vec::as_slice);
                // Freed now, not after a wait on a full queue to the console.
                drop(raw);
                if !self.send_lines(lines).await {
                    return Ok(());
                }
                // They are shown: the in-flight list is emptied (a lost DEL is harmless, the
                // list is dropped unread once the session ends).
                redis::cmd("DEL")
                    .arg(&key)
                    .query_async::<i64>(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        .await;
        if let Some(inflight) = &mut self.inflight {
            inflight.end_session(std::time::Instant::now());
        }
        // The next connection sweeps this one's list at its start.
        result
    }

    fn mark(&mut self, step: fn(&mut Inflight)) {
        if let Some(inflight) = &mut self.inflight {
            step(inflight);
        }
    }

    /// Dead sessions' in-flight lists: lines moved there by requests whose answers never came
    /// are shown now (oldest first); lists whose lines were all shown are deleted. `false` when
    /// the console is gone.
    async fn sweep(
        &mut self,
        conn: &mut redis::aio::MultiplexedConnection,
    ) -> Result<bool, String> {
        let Some(inflight) = &mut self.inflight else {
            return Ok(true);
        };
        if !inflight.has_dead() {
            return Ok(true);
        }
        let zone = self.profile.timezone;
        for step in inflight.sweep(std::time::Instant::now()) {
            match step {
                Sweep::Drop(key) => {
                    redis::cmd("DEL")
                        .arg(&key)
                        .query_async::<i64>(conn)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Sweep::Take(key) => {
                    let mut held: Vec<Vec<u8>> = redis::cmd("EVAL")
                        .arg(TAKE_ALL)
                        .arg(1)
                        .arg(&key)
                        .query_async(conn)
                        .await
                        .map_err(|e| e.to_string())?;
                    if held.is_empty() {
                        continue;
                    }
                    warn!(
                        key,
                        lines = held.len(),
                        "logs: lines recovered from an in-flight list"
                    );
                    // Newest on the left: shown oldest first.
                    held.reverse();
                    let lines = parse_batch(&held, zone, Vec::as_slice);
                    if !self.send_lines(lines).await {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }
}

/// How often dead sessions' in-flight lists are swept while the queue is followed.
const SWEEP_EVERY: Duration = Duration::from_secs(2);

/// Moves up to ARGV[1] of the oldest lines of KEYS[1] (oldest on the left when ARGV[2] is "1",
/// else on the right) onto the left of KEYS[2], atomically, and returns them oldest first.
const MOVE_BATCH: &str = r#"
local n = tonumber(ARGV[1])
local items
if ARGV[2] == '1' then
  items = redis.call('LRANGE', KEYS[1], 0, n - 1)
  if #items > 0 then redis.call('LTRIM', KEYS[1], #items, -1) end
else
  local newest_first = redis.call('LRANGE', KEYS[1], -n, -1)
  if #newest_first > 0 then redis.call('LTRIM', KEYS[1], 0, -#newest_first - 1) end
  items = {}
  for i = #newest_first, 1, -1 do items[#items + 1] = newest_first[i] end
end
for i = 1, #items do redis.call('LPUSH', KEYS[2], items[i]) end
return items
"#;

/// Reads and deletes KEYS[1] in one step (newest first, as the in-flight lists are kept).
const TAKE_ALL: &str = r#"
local items = redis.call('LRANGE', KEYS[1], 0, -1)
redis.call('DEL', KEYS[1])
return items
"#;

/// BLMOVE is Redis ≥ 6.2: an older server gets a message that says so.
fn blmove_error(e: redis::RedisError) -> String {
    let text = e.to_string();
    if text.to_ascii_lowercase().contains("unknown command") {
        format!("{text} (list mode needs Redis 6.2 or newer, for BLMOVE)")
    } else {
        text
    }
}

//! The logs source: tails rsyslog → Redis (Pub/Sub or list), Elasticsearch (Logstash indices) or
//! Loki, and sends parsed lines in batches. Reconnects with backoff; resumes where it left off
//! where the backend allows it (Elasticsearch and Loki by timestamp; Pub/Sub cannot replay).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::warn;

use super::backoff::Backoff;
use super::http::{self, HttpError};
use super::syslog::{from_json, parse_any};
use crate::config::{HttpAuth, HttpBackend, LogsKind, LogsProfile};
use crate::model::{
    severity_from_name, text::sanitize, ClusterId, Health, LogLine, Msg, SourceId, SourceKind,
};

/// Most lines per message to the UI.
pub const BATCH: usize = 2000;
/// How far back each Elasticsearch poll looks again for late documents.
const ES_OVERLAP_MS: i64 = 5_000;
/// The same for Loki: agents push in batches (Promtail waits up to 1 s), so another host's lines
/// with older timestamps can land after newer ones were read.
const LOKI_OVERLAP_NS: i128 = 5_000_000_000;
const PAGE: usize = 1000;
/// Lines on the first poll (the newest of the last hour).
const FIRST_PAGE: usize = 500;
/// Elasticsearch refuses `from + size` past `index.max_result_window` (10 000 by default).
const ES_MAX_WINDOW: usize = 10_000;
/// How long BRPOP blocks server-side; the connection's response timeout must be longer.
const BRPOP_BLOCK_SECS: u64 = 1;
/// A subscribed connection carries nothing while the channel is quiet: PING it this often so a
/// dead server or a silent network drop is noticed.
const PUBSUB_PING: Duration = Duration::from_secs(15);

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
            LogsKind::Redis {
                channel,
                list,
                userpush,
            } => self.run_redis(channel, list, userpush).await,
            LogsKind::Elasticsearch { index } => {
                self.run_polled(Poller::Es(EsTail::new(index))).await
            }
            LogsKind::Loki { query, tenant } => {
                self.run_polled(Poller::Loki(LokiTail::new(query, tenant)))
                    .await
            }
        }
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
        let client = redis::Client::open(self.redis_url()).map_err(|e| e.to_string())?;
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
            let mut lines = vec![parse_any(first.get_payload_bytes())];
            while lines.len() < BATCH {
                match stream.next().now_or_never() {
                    Some(Some(m)) => lines.push(parse_any(m.get_payload_bytes())),
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
        let client = redis::Client::open(self.redis_url()).map_err(|e| e.to_string())?;
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
        loop {
            // The oldest line first (blocking), then drain what is queued in one go.
            let popped: Option<(String, Vec<u8>)> = redis::cmd(block_pop)
                .arg(list)
                .arg(BRPOP_BLOCK_SECS)
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let Some((_, first)) = popped else { continue };
            let mut lines = vec![parse_any(&first)];
            let more: Option<Vec<Vec<u8>>> = redis::cmd(pop)
                .arg(list)
                .arg(BATCH - 1)
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            lines.extend(more.unwrap_or_default().iter().map(|m| parse_any(m)));
            if !self.send_lines(lines).await {
                return Ok(());
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

fn authorize(req: reqwest::RequestBuilder, auth: &HttpAuth) -> reqwest::RequestBuilder {
    match auth {
        HttpAuth::ApiKey { key, .. } => {
            req.header("Authorization", format!("ApiKey {}", key.expose()))
        }
        other => http::with_basic(req, other),
    }
}

/// Elasticsearch tail: poll `_search` sorted by `@timestamp`, re-reading a small overlap window so
/// late documents are not missed, de-duplicated by `_index`/`_id`. A full page is followed at once
/// by the next one, starting at the newest `@timestamp` of the page (or, when a whole page shares
/// one timestamp, with `from`), so a busy index never pins the tail to one page.
pub struct EsTail {
    index: String,
    /// Newest `@timestamp` seen, epoch millis.
    cursor: Option<i64>,
    /// Oldest `@timestamp` of a full first poll: older documents were history the first poll did
    /// not show, so they are not shown later as "late" either.
    floor: Option<i64>,
    /// Where the next request continues when the last page came back full: (`gte`, `from`).
    page: Option<(i64, usize)>,
    seen: HashMap<(String, String), i64>,
    /// Server-side scope: only documents from these hosts.
    hosts: Vec<String>,
}

/// Host fields across legacy Logstash, ECS and rsyslog-JSON documents.
const ES_HOST_FIELDS: [&str; 5] = [
    "host.keyword",
    "host",
    "host.hostname",
    "host.name",
    "logsource.keyword",
];

impl EsTail {
    pub fn new(index: String) -> EsTail {
        EsTail {
            index,
            cursor: None,
            floor: None,
            page: None,
            seen: HashMap::new(),
            hosts: Vec::new(),
        }
    }

    /// A new scope starts the tail over: the last hour of those hosts, then forward.
    pub fn set_hosts(&mut self, hosts: Vec<String>) {
        if hosts != self.hosts {
            *self = EsTail {
                hosts,
                ..EsTail::new(std::mem::take(&mut self.index))
            };
        }
    }

    fn scoped(&self, range: Value) -> Value {
        if self.hosts.is_empty() {
            return range;
        }
        let should: Vec<Value> = ES_HOST_FIELDS
            .iter()
            .map(|f| json!({"terms": {*f: self.hosts}}))
            .collect();
        json!({"bool": {"filter": [range, {"bool": {"should": should, "minimum_should_match": 1}}]}})
    }

    /// (`gte`, `from`) of the next request after the first poll.
    fn next_window(&self, cursor: i64) -> (i64, usize) {
        self.page.unwrap_or_else(|| {
            let gte = cursor.saturating_sub(ES_OVERLAP_MS);
            (self.floor.map_or(gte, |f| gte.max(f)), 0)
        })
    }

    pub fn body(&self) -> Value {
        match self.cursor {
            // First poll: the latest lines of the last hour, newest first (reversed on arrival).
            None => json!({
                "size": FIRST_PAGE, "track_total_hits": false,
                "query": self.scoped(json!({"range": {"@timestamp": {"gte": "now-1h"}}})),
                "sort": [{"@timestamp": {"order": "desc"}}]
            }),
            Some(c) => {
                let (gte, from) = self.next_window(c);
                json!({
                    "size": PAGE, "from": from, "track_total_hits": false,
                    "query": self.scoped(json!({"range": {"@timestamp": {"gte": gte, "format": "epoch_millis"}}})),
                    "sort": [{"@timestamp": {"order": "asc"}}]
                })
            }
        }
    }

    /// Applies one `_search` answer (to the request `body()` described); returns new lines
    /// (oldest first), a warning, and whether a full page came back (ask again at once).
    pub fn apply(
        &mut self,
        answer: &Value,
    ) -> Result<(Vec<LogLine>, Option<String>, bool), String> {
        let hits = answer
            .pointer("/hits/hits")
            .and_then(|h| h.as_array())
            .ok_or("answer has no hits.hits")?;
        let failed = answer
            .pointer("/_shards/failed")
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        let notice = (failed > 0).then(|| {
            let reason = answer
                .pointer("/_shards/failures/0/reason/reason")
                .and_then(|r| r.as_str())
                .unwrap_or("no reason given");
            format!(
                "elasticsearch: {failed} shard(s) failed, results may be incomplete: {}",
                sanitize(reason)
            )
        });
        let first_poll = self.cursor.is_none();
        let window = self.cursor.map(|c| self.next_window(c));
        let full = hits.len() >= if first_poll { FIRST_PAGE } else { PAGE };
        let mut out = Vec::new();
        let (mut oldest, mut newest) = (i64::MAX, i64::MIN);
        for h in hits {
            let Some(src) = h.get("_source").and_then(|s| s.as_object()) else {
                continue;
            };
            let line = from_json(src);
            let ts = h
                .pointer("/sort/0")
                .and_then(|v| v.as_i64())
                .or_else(|| line.time.map(|t| t.timestamp_millis()))
                .unwrap_or(0);
            oldest = oldest.min(ts);
            newest = newest.max(ts);
            let id = h.get("_id").and_then(|v| v.as_str()).unwrap_or("");
            if !id.is_empty() {
                let index = h.get("_index").and_then(|v| v.as_str()).unwrap_or("");
                if self
                    .seen
                    .insert((index.to_string(), id.to_string()), ts)
                    .is_some()
                {
                    continue; // already shown (overlap window, or the previous page)
                }
            }
            if self.floor.is_some_and(|f| ts < f) {
                continue;
            }
            self.cursor = Some(self.cursor.map_or(ts, |c| c.max(ts)));
            out.push((ts, line));
        }
        out.sort_by_key(|(ts, _)| *ts);
        let more = match window {
            // The first poll reads newest-first; only later polls page forward.
            None => {
                if full {
                    self.floor = Some(oldest);
                }
                false
            }
            Some((gte, from)) if full => {
                self.page = Some(if newest > gte {
                    (newest, 0)
                } else if from + 2 * PAGE <= ES_MAX_WINDOW {
                    (gte, from + PAGE)
                } else {
                    // Over 10 000 documents in one millisecond: skip past it rather than loop.
                    warn!(gte, "elasticsearch: too many documents with one timestamp");
                    (gte.saturating_add(1), 0)
                });
                true
            }
            Some(_) => {
                self.page = None;
                false
            }
        };
        if let Some(c) = self.cursor {
            let horizon = c.saturating_sub(4 * ES_OVERLAP_MS);
            self.seen.retain(|_, ts| *ts >= horizon);
        }
        Ok((out.into_iter().map(|(_, l)| l).collect(), notice, more))
    }

    async fn poll(
        &mut self,
        client: &reqwest::Client,
        b: &HttpBackend,
    ) -> Result<(Vec<LogLine>, Option<String>, bool), HttpError> {
        let url = format!("{}/{}/_search?ignore_unavailable=true", b.url, self.index);
        let req = authorize(client.post(&url).json(&self.body()), &b.auth);
        let resp = http::send(req, b.timeout).await?;
        let resp = http::check_status(resp, &url, &b.auth, b.timeout).await?;
        let raw = http::body(resp, &url, b.timeout).await?;
        let v: Value = http::decode(&raw, &url)?;
        self.apply(&v)
            .map_err(|reason| HttpError::Decode { url, reason })
    }
}

/// Loki tail: `query_range` forward from a little before the newest line seen (late pushes from
/// other agents land there), streams merged in time order, lines already shown — including those
/// at the boundary timestamp — dropped by (timestamp, stream, text).
pub struct LokiTail {
    query: String,
    tenant: Option<String>,
    cursor_ns: Option<i128>,
    /// Oldest timestamp of a full first poll (see [`EsTail`]).
    floor_ns: Option<i128>,
    /// Start of the next request when the last page came back full.
    page_ns: Option<i128>,
    /// Hash of (stream labels, line) per timestamp, for the overlap window.
    seen: HashMap<(i128, u64), ()>,
    /// Server-side scope: a `host=~` matcher added to the stream selector.
    hosts: Vec<String>,
}

impl LokiTail {
    pub fn new(query: String, tenant: Option<String>) -> LokiTail {
        LokiTail {
            query,
            tenant,
            cursor_ns: None,
            floor_ns: None,
            page_ns: None,
            seen: HashMap::new(),
            hosts: Vec::new(),
        }
    }

    /// A new scope starts the tail over: the last hour of those hosts, then forward.
    pub fn set_hosts(&mut self, hosts: Vec<String>) {
        if hosts != self.hosts {
            let query = std::mem::take(&mut self.query);
            let tenant = self.tenant.take();
            *self = LokiTail {
                hosts,
                ..LokiTail::new(query, tenant)
            };
        }
    }

    /// The configured LogQL with `host=~`(a|b)`` added to its stream selector when scoped. A query
    /// that does not start with a selector is left alone (the pane still filters client-side).
    pub fn scoped_query(&self) -> String {
        let q = self.query.trim_start();
        if self.hosts.is_empty() || !q.starts_with('{') {
            return self.query.clone();
        }
        let Some(close) = q.find('}') else {
            return self.query.clone();
        };
        let alternation = self
            .hosts
            .iter()
            .map(|h| regex::escape(h).replace('`', ""))
            .collect::<Vec<_>>()
            .join("|");
        let inner = q[1..close].trim();
        let sep = if inner.is_empty() { "" } else { ", " };
        format!("{{{inner}{sep}host=~`{alternation}`}}{}", &q[close + 1..])
    }

    fn next_start(&self, cursor: i128) -> i128 {
        self.page_ns.unwrap_or_else(|| {
            let start = cursor.saturating_sub(LOKI_OVERLAP_NS);
            self.floor_ns.map_or(start, |f| start.max(f))
        })
    }

    pub fn params(&self, now: DateTime<Utc>) -> Vec<(String, String)> {
        let now_ns = now.timestamp_nanos_opt().unwrap_or(0) as i128;
        let (start, direction, limit) = match self.cursor_ns {
            None => (now_ns - 3_600_000_000_000, "backward", FIRST_PAGE),
            Some(c) => (self.next_start(c), "forward", PAGE),
        };
        vec![
            ("query".into(), self.scoped_query()),
            ("start".into(), start.to_string()),
            // `end` is exclusive: ask up to a nanosecond past now.
            ("end".into(), (now_ns + 1).to_string()),
            ("limit".into(), limit.to_string()),
            ("direction".into(), direction.into()),
        ]
    }

    pub fn apply(&mut self, answer: &Value) -> Result<(Vec<LogLine>, bool), String> {
        if answer.get("status").and_then(|s| s.as_str()) != Some("success") {
            return Err("status is not success".into());
        }
        let result = answer
            .pointer("/data/result")
            .and_then(|r| r.as_array())
            .ok_or("answer has no data.result")?;
        let first_poll = self.cursor_ns.is_none();
        let start = self.cursor_ns.map(|c| self.next_start(c));
        let mut entries: Vec<(i128, u64, LogLine)> = Vec::new();
        for stream in result {
            let empty = serde_json::Map::new();
            let labels = stream
                .get("stream")
                .and_then(|s| s.as_object())
                .unwrap_or(&empty);
            let label = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|n| labels.get(*n).and_then(|v| v.as_str()))
                    .map(|s| sanitize(s).into_owned())
            };
            let host = label(&["host", "hostname", "instance", "node"]);
            let program = label(&["program", "app", "service_name", "job"]);
            let severity = label(&["level", "severity", "detected_level"])
                .and_then(|s| severity_from_name(&s));
            let label_fields: Vec<(String, String)> = labels
                .iter()
                .filter_map(|(k, v)| {
                    Some((
                        format!("label.{}", sanitize(k)),
                        sanitize(v.as_str()?).into_owned(),
                    ))
                })
                .collect();
            let stream_key = {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                for (k, v) in labels {
                    k.hash(&mut h);
                    v.as_str().unwrap_or("").hash(&mut h);
                }
                h.finish()
            };
            let Some(values) = stream.get("values").and_then(|v| v.as_array()) else {
                continue;
            };
            for v in values {
                let (Some(ts), Some(text)) = (
                    v.get(0).and_then(|t| t.as_str()),
                    v.get(1).and_then(|t| t.as_str()),
                ) else {
                    continue;
                };
                let Ok(ns) = ts.parse::<i128>() else { continue };
                let key = {
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    stream_key.hash(&mut h);
                    text.hash(&mut h);
                    h.finish()
                };
                let mut line = parse_any(text.as_bytes());
                if line.time.is_none() || !text.trim_start().starts_with('{') {
                    line.time = DateTime::from_timestamp(
                        ns.div_euclid(1_000_000_000) as i64,
                        ns.rem_euclid(1_000_000_000) as u32,
                    );
                }
                if let Some(h) = &host {
                    line.host = h.clone().into();
                }
                if line.program.is_empty() {
                    if let Some(p) = &program {
                        line.program = p.clone().into();
                    }
                }
                if severity.is_some() {
                    line.severity = severity;
                }
                line.fields.extend(label_fields.iter().cloned());
                entries.push((ns, key, line));
            }
        }
        // Streams come back sorted each on its own: merge (stable, so a stream keeps its order).
        entries.sort_by_key(|(ns, _, _)| *ns);
        let full = entries.len() >= if first_poll { FIRST_PAGE } else { PAGE };
        let oldest = entries.first().map(|e| e.0);
        let newest = entries.last().map(|e| e.0);
        let mut out = Vec::with_capacity(entries.len());
        for (ns, key, line) in entries {
            if self.seen.insert((ns, key), ()).is_some() {
                continue;
            }
            if self.floor_ns.is_some_and(|f| ns < f) {
                continue;
            }
            if self.cursor_ns.is_none_or(|c| ns > c) {
                self.cursor_ns = Some(ns);
            }
            out.push(line);
        }
        let more = match (start, newest) {
            (None, _) => {
                if full {
                    self.floor_ns = oldest;
                }
                false
            }
            (Some(start), Some(newest)) if full => {
                // A page of one timestamp cannot be paged by time: skip a nanosecond rather than
                // read the same page forever.
                self.page_ns = Some(if newest > start {
                    newest
                } else {
                    start.saturating_add(1)
                });
                true
            }
            _ => {
                self.page_ns = None;
                false
            }
        };
        if let Some(c) = self.cursor_ns {
            let horizon = c.saturating_sub(2 * LOKI_OVERLAP_NS);
            self.seen.retain(|(ns, _), _| *ns >= horizon);
        }
        Ok((out, more))
    }

    async fn poll(
        &mut self,
        client: &reqwest::Client,
        b: &HttpBackend,
    ) -> Result<(Vec<LogLine>, bool), HttpError> {
        let url = format!("{}/loki/api/v1/query_range", b.url);
        let mut req = client.get(&url).query(&self.params(Utc::now()));
        if let Some(t) = &self.tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        let req = http::with_basic(req, &b.auth);
        let resp = http::send(req, b.timeout).await?;
        // Loki errors are plain text; check_status reports their first line.
        let resp = http::check_status(resp, &url, &b.auth, b.timeout).await?;
        let raw = http::body(resp, &url, b.timeout).await?;
        let v: Value = http::decode(&raw, &url)?;
        self.apply(&v)
            .map_err(|reason| HttpError::Decode { url, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(index: &str, id: &str, ts: i64, msg: &str) -> Value {
        json!({"_index": index, "_id": id, "sort": [ts],
               "_source": {"@timestamp": "2026-11-25T04:00:00Z", "host": "web-1", "program": "app", "severity": "info", "message": msg}})
    }

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

    #[test]
    fn es_dedupes_overlap_and_keeps_late_documents() {
        let mut t = EsTail::new("logstash-*".into());
        let a = json!({"_shards": {"failed": 0}, "hits": {"hits": [hit("i", "2", 2000, "b"), hit("i", "1", 1000, "a")]}});
        let (lines, _, _) = t.apply(&a).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        // Next poll repeats "b" (overlap) and brings a late doc older than the cursor.
        let b = json!({"_shards": {"failed": 1, "failures": [{"reason": {"reason": "shard down"}}]},
                       "hits": {"hits": [hit("i", "3", 1500, "late"), hit("i", "2", 2000, "b"), hit("i", "4", 2500, "c")]}});
        let (lines, notice, _) = t.apply(&b).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
            ["late", "c"]
        );
        assert!(notice.unwrap().contains("shard down"));
        assert_eq!(
            t.body()["query"]["range"]["@timestamp"]["gte"],
            json!(2500 - ES_OVERLAP_MS)
        );
    }

    #[test]
    fn loki_merges_streams_and_dedupes_boundary() {
        let mut t = LokiTail::new("{job=\"syslog\"}".into(), None);
        let a = json!({"status": "success", "data": {"resultType": "streams", "result": [
            {"stream": {"host": "web-1", "level": "error"}, "values": [["300", "c"], ["100", "a"]]},
            {"stream": {"host": "web-2"}, "values": [["200", "b"]]}]}});
        let (lines, _) = t.apply(&a).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(lines[0].severity, Some(3));
        assert_eq!(&*lines[1].host, "web-2");
        // The next poll starts at the cursor (inclusive) and sees "c" again: dropped.
        let b = json!({"status": "success", "data": {"resultType": "streams", "result": [
            {"stream": {"host": "web-1", "level": "error"}, "values": [["300", "c"], ["400", "d"]]}]}});
        let (lines, _) = t.apply(&b).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
            ["d"]
        );
        let start = (400 - LOKI_OVERLAP_NS).to_string();
        assert!(t
            .params(Utc::now())
            .iter()
            .any(|(k, v)| k == "start" && *v == start));
        // Another agent's line, older than the cursor but inside the overlap window, still shows.
        let c = json!({"status": "success", "data": {"resultType": "streams", "result": [
            {"stream": {"host": "web-1", "level": "error"}, "values": [["300", "c"], ["400", "d"]]},
            {"stream": {"host": "web-3"}, "values": [["350", "late"]]}]}});
        let (lines, _) = t.apply(&c).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
            ["late"]
        );
        // Same text at the same time in another stream is another line.
        let d = json!({"status": "success", "data": {"resultType": "streams", "result": [
            {"stream": {"host": "web-9"}, "values": [["400", "d"]]}]}});
        assert_eq!(t.apply(&d).unwrap().0.len(), 1);
    }

    fn es_page(from_ts: i64, n: usize, step: i64) -> Value {
        let hits: Vec<Value> = (0..n)
            .map(|i| {
                let ts = from_ts + i as i64 * step;
                hit("i", &format!("{ts}-{i}"), ts, &format!("m{ts}-{i}"))
            })
            .collect();
        json!({"_shards": {"failed": 0}, "hits": {"hits": hits}})
    }

    #[test]
    fn es_full_pages_move_forward() {
        let mut t = EsTail::new("logstash-*".into());
        let first = es_page(10_000, FIRST_PAGE, 1);
        let (lines, _, more) = t.apply(&first).unwrap();
        assert_eq!((lines.len(), more), (FIRST_PAGE, false));
        // Full first poll: history older than its oldest line is not replayed as "late".
        assert_eq!(
            t.body()["query"]["range"]["@timestamp"]["gte"],
            json!(10_000)
        );
        // A full page of lines already shown must not pin the tail: the next request starts at
        // the page's newest timestamp.
        let mut again = es_page(10_000, FIRST_PAGE, 1);
        let extra = es_page(10_000 + FIRST_PAGE as i64, PAGE - FIRST_PAGE, 1);
        again["hits"]["hits"]
            .as_array_mut()
            .unwrap()
            .extend(extra["hits"]["hits"].as_array().unwrap().iter().cloned());
        let (lines, _, more) = t.apply(&again).unwrap();
        assert_eq!((lines.len(), more), (PAGE - FIRST_PAGE, true));
        let newest = 10_000 + PAGE as i64 - 1;
        assert_eq!(
            t.body()["query"]["range"]["@timestamp"]["gte"],
            json!(newest)
        );
        assert_eq!(t.body()["from"], json!(0));
        // A full page that all shares one timestamp continues with `from`.
        let same: Vec<Value> = (0..PAGE)
            .map(|i| hit("i", &format!("s{i}"), newest, "same"))
            .collect();
        let (_, _, more) = t.apply(&json!({"hits": {"hits": same}})).unwrap();
        assert!(more);
        assert_eq!(
            t.body()["query"]["range"]["@timestamp"]["gte"],
            json!(newest)
        );
        assert_eq!(t.body()["from"], json!(PAGE));
        // A short page ends the paging: back to the overlap window (not below the floor).
        let (_, _, more) = t.apply(&json!({"hits": {"hits": []}})).unwrap();
        assert!(!more);
        assert_eq!(t.body()["from"], json!(0));
        assert_eq!(
            t.body()["query"]["range"]["@timestamp"]["gte"],
            json!((newest - ES_OVERLAP_MS).max(10_000))
        );
    }
}

//! The logs source: tails rsyslog → Redis (Pub/Sub or list), Elasticsearch (Logstash indices) or
//! Loki, and sends parsed lines in batches. Reconnects with backoff; resumes where it left off
//! where the backend allows it (Elasticsearch and Loki by timestamp; Pub/Sub cannot replay).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::warn;

use super::backoff::Backoff;
use super::http::{self, HttpError};
use super::syslog::{from_json, parse_any, severity_from_name, LogLine};
use super::{Health, Msg, SourceId};
use crate::config::{HttpAuth, HttpBackend, LogsKind, LogsProfile};
use crate::text::sanitize;

/// Most lines per message to the UI.
pub const BATCH: usize = 2000;
/// How far back each Elasticsearch poll looks again for late documents.
const ES_OVERLAP_MS: i64 = 5_000;
const PAGE: usize = 1000;

pub struct LogsSource {
    profile: LogsProfile,
    tx: mpsc::Sender<Msg>,
    backoff: Backoff,
}

impl LogsSource {
    pub fn new(profile: LogsProfile, tx: mpsc::Sender<Msg>) -> LogsSource {
        LogsSource {
            profile,
            tx,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(30)),
        }
    }

    async fn health(&self, h: Health) -> bool {
        self.tx.send(Msg::Health(SourceId::Logs, h)).await.is_ok()
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
            LogsKind::Redis { channel, list } => self.run_redis(channel, list).await,
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

    async fn run_redis(&mut self, channel: Option<String>, list: Option<String>) {
        loop {
            let result = match (&channel, &list) {
                (Some(ch), _) => self.redis_pubsub(ch).await,
                (None, Some(l)) => self.redis_list(l).await,
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

    async fn redis_pubsub(&mut self, channel: &str) -> Result<(), String> {
        let client = redis::Client::open(self.redis_url()).map_err(|e| e.to_string())?;
        let mut pubsub = tokio::time::timeout(self.profile.http.timeout, client.get_async_pubsub())
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        pubsub.subscribe(channel).await.map_err(|e| e.to_string())?;
        self.backoff.reset();
        if !self.health(Health::Live).await {
            return Ok(());
        }
        let mut stream = pubsub.on_message();
        loop {
            let Some(first) = stream.next().await else {
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

    async fn redis_list(&mut self, list: &str) -> Result<(), String> {
        let client = redis::Client::open(self.redis_url()).map_err(|e| e.to_string())?;
        let mut conn = tokio::time::timeout(
            self.profile.http.timeout,
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
        self.backoff.reset();
        if !self.health(Health::Live).await {
            return Ok(());
        }
        loop {
            // rsyslog LPUSHes: BRPOP takes the oldest first; then drain what is queued in one go.
            let popped: Option<(String, Vec<u8>)> = redis::cmd("BRPOP")
                .arg(list)
                .arg(1)
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let Some((_, first)) = popped else { continue };
            let mut lines = vec![parse_any(&first)];
            let more: Option<Vec<Vec<u8>>> = redis::cmd("RPOP")
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
                        if self.tx.send(Msg::Notice(SourceId::Logs, n)).await.is_err() {
                            return;
                        }
                    }
                    for chunk in lines.chunks(BATCH) {
                        if !self.send_lines(chunk.to_vec()).await {
                            return;
                        }
                    }
                    if !more {
                        tokio::time::sleep(self.profile.interval).await;
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
/// late documents are not missed, de-duplicated by `_index`/`_id`.
pub struct EsTail {
    index: String,
    /// Newest `@timestamp` seen, epoch millis.
    cursor: Option<i64>,
    seen: HashMap<(String, String), i64>,
}

impl EsTail {
    pub fn new(index: String) -> EsTail {
        EsTail {
            index,
            cursor: None,
            seen: HashMap::new(),
        }
    }

    pub fn body(&self) -> Value {
        match self.cursor {
            // First poll: the latest lines of the last hour, newest first (reversed on arrival).
            None => json!({
                "size": 500, "track_total_hits": false,
                "query": {"range": {"@timestamp": {"gte": "now-1h"}}},
                "sort": [{"@timestamp": {"order": "desc"}}]
            }),
            Some(c) => json!({
                "size": PAGE, "track_total_hits": false,
                "query": {"range": {"@timestamp": {"gte": c - ES_OVERLAP_MS, "format": "epoch_millis"}}},
                "sort": [{"@timestamp": {"order": "asc"}}]
            }),
        }
    }

    /// Applies one `_search` answer; returns new lines (oldest first), a warning, and whether a
    /// full page came back (more to read).
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
        let full = hits.len() >= if first_poll { 500 } else { PAGE };
        let mut out = Vec::new();
        for h in hits {
            let id = (
                h.get("_index")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string(),
                h.get("_id")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string(),
            );
            let Some(src) = h.get("_source").and_then(|s| s.as_object()) else {
                continue;
            };
            let line = from_json(src);
            let ts = h
                .pointer("/sort/0")
                .and_then(|v| v.as_i64())
                .or_else(|| line.time.map(|t| t.timestamp_millis()))
                .unwrap_or(0);
            if !id.1.is_empty() && self.seen.insert(id, ts).is_some() {
                continue; // already shown (overlap window)
            }
            self.cursor = Some(self.cursor.map_or(ts, |c| c.max(ts)));
            out.push((ts, line));
        }
        out.sort_by_key(|(ts, _)| *ts);
        if let Some(c) = self.cursor {
            let horizon = c - 4 * ES_OVERLAP_MS;
            self.seen.retain(|_, ts| *ts >= horizon);
        }
        // The first poll reads newest-first; only later polls page forward.
        Ok((
            out.into_iter().map(|(_, l)| l).collect(),
            notice,
            full && !first_poll,
        ))
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
        let before = self.cursor;
        let (lines, notice, full) = self
            .apply(&v)
            .map_err(|reason| HttpError::Decode { url, reason })?;
        // A full page whose cursor did not move would loop forever: stop paging then.
        Ok((lines, notice, full && self.cursor != before))
    }
}

/// Loki tail: `query_range` forward from the last nanosecond seen; streams merged in time order;
/// lines at the boundary timestamp de-duplicated.
pub struct LokiTail {
    query: String,
    tenant: Option<String>,
    cursor_ns: Option<i128>,
    at_cursor: HashSet<(String, String)>,
}

impl LokiTail {
    pub fn new(query: String, tenant: Option<String>) -> LokiTail {
        LokiTail {
            query,
            tenant,
            cursor_ns: None,
            at_cursor: HashSet::new(),
        }
    }

    pub fn params(&self, now: DateTime<Utc>) -> Vec<(String, String)> {
        let now_ns = now.timestamp_nanos_opt().unwrap_or(0) as i128;
        let (start, direction, limit) = match self.cursor_ns {
            None => (now_ns - 3_600_000_000_000, "backward", 500),
            Some(c) => (c, "forward", PAGE),
        };
        vec![
            ("query".into(), self.query.clone()),
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
        let mut entries: Vec<(i128, LogLine, String)> = Vec::new();
        for stream in result {
            let labels = stream
                .get("stream")
                .and_then(|s| s.as_object())
                .cloned()
                .unwrap_or_default();
            let label = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|n| labels.get(*n).and_then(|v| v.as_str()))
                    .map(str::to_string)
            };
            let values = stream
                .get("values")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default();
            for v in values {
                let (Some(ts), Some(text)) = (
                    v.get(0).and_then(|t| t.as_str()),
                    v.get(1).and_then(|t| t.as_str()),
                ) else {
                    continue;
                };
                let Ok(ns) = ts.parse::<i128>() else { continue };
                let mut line = parse_any(text.as_bytes());
                if line.time.is_none() || !text.trim_start().starts_with('{') {
                    line.time = DateTime::from_timestamp(
                        (ns / 1_000_000_000) as i64,
                        (ns % 1_000_000_000) as u32,
                    );
                }
                if let Some(h) = label(&["host", "hostname", "instance", "node"]) {
                    line.host = sanitize(&h).into_owned();
                }
                if line.program.is_empty() {
                    if let Some(p) = label(&["program", "app", "service_name", "job"]) {
                        line.program = sanitize(&p).into_owned();
                    }
                }
                if let Some(s) = label(&["level", "severity", "detected_level"])
                    .and_then(|s| severity_from_name(&s))
                {
                    line.severity = Some(s);
                }
                for (k, v) in &labels {
                    if let Some(v) = v.as_str() {
                        line.fields
                            .push((format!("label.{}", sanitize(k)), sanitize(v).into_owned()));
                    }
                }
                let key = format!("{:?}", labels);
                entries.push((ns, line, key + text));
            }
        }
        entries.sort_by_key(|(ns, _, _)| *ns);
        let full = entries.len() >= if self.cursor_ns.is_none() { 500 } else { PAGE };
        let first_poll = self.cursor_ns.is_none();
        let mut out = Vec::with_capacity(entries.len());
        for (ns, line, key) in entries {
            if Some(ns) == self.cursor_ns && self.at_cursor.contains(&(ns.to_string(), key.clone()))
            {
                continue;
            }
            if self.cursor_ns.is_none_or(|c| ns > c) {
                self.cursor_ns = Some(ns);
                self.at_cursor.clear();
            }
            if Some(ns) == self.cursor_ns {
                self.at_cursor.insert((ns.to_string(), key));
            }
            out.push(line);
        }
        Ok((out, full && !first_poll))
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
        let before = self.cursor_ns;
        let (lines, full) = self
            .apply(&v)
            .map_err(|reason| HttpError::Decode { url, reason })?;
        Ok((lines, full && self.cursor_ns != before))
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
        assert_eq!(lines[1].host, "web-2");
        // The next poll starts at the cursor (inclusive) and sees "c" again: dropped.
        let b = json!({"status": "success", "data": {"resultType": "streams", "result": [
            {"stream": {"host": "web-1", "level": "error"}, "values": [["300", "c"], ["400", "d"]]}]}});
        let (lines, _) = t.apply(&b).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
            ["d"]
        );
        assert!(t
            .params(Utc::now())
            .iter()
            .any(|(k, v)| k == "start" && v == "400"));
    }
}

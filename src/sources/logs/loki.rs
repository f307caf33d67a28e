//! Loki as a log tail: `query_range` parameters for the next page, and the answer applied — streams
//! merged in time order, the overlap window de-duplicated. The source polls it through
//! `sources::polled`; `opsconsole snapshot` reads the last hour with the same request.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde_json::Value;

use super::common::{Page, Tail, AROUND, FIRST_PAGE, PAGE};
use super::syslog::{parse_any_in, SenderZone};
use crate::config::HttpBackend;
use crate::model::{severity_from_name, text::sanitize, LogLine};
use crate::sources::http::{self, HttpError};

/// How far back each Loki poll looks again: agents push in batches (Promtail waits up to 1 s), so
/// another host's lines with older timestamps can land after newer ones were read.
const LOKI_OVERLAP_NS: i128 = 5_000_000_000;

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
    /// Lines on the first poll (the newest of the last hour).
    first_page: usize,
    /// The senders' zone, for RFC 3164 stamps inside lines.
    zone: SenderZone,
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
            first_page: FIRST_PAGE,
            zone: SenderZone::default(),
        }
    }

    /// The same tail reading RFC 3164 stamps inside lines in `zone` (the source's `timezone`).
    pub fn in_zone(self, zone: SenderZone) -> LokiTail {
        LokiTail { zone, ..self }
    }

    /// The same tail reading `lines` on its first poll (`opsconsole snapshot`: the newest lines
    /// of the last hour to find the errors among).
    pub fn first_page(self, lines: usize) -> LokiTail {
        LokiTail {
            first_page: lines,
            ..self
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

    /// `query_range` parameters for the lines ±[`AROUND`] around `at` (a time jump).
    pub fn around_params(&self, at: DateTime<Utc>) -> Vec<(String, String)> {
        let ns = |t: DateTime<Utc>| t.timestamp_nanos_opt().unwrap_or(0).to_string();
        vec![
            ("query".into(), self.scoped_query()),
            ("start".into(), ns(at - AROUND)),
            ("end".into(), ns(at + AROUND)),
            ("limit".into(), PAGE.to_string()),
            ("direction".into(), "forward".into()),
        ]
    }

    pub fn params(&self, now: DateTime<Utc>) -> Vec<(String, String)> {
        let now_ns = now.timestamp_nanos_opt().unwrap_or(0) as i128;
        let (start, direction, limit) = match self.cursor_ns {
            None => (now_ns - 3_600_000_000_000, "backward", self.first_page),
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

    /// The lines of a `query_range` answer, each with its timestamp (ns) and a hash of its stream
    /// and text, merged across streams in time order.
    fn entries(&self, answer: &Value) -> Result<Vec<(i128, u64, LogLine)>, String> {
        if answer.get("status").and_then(|s| s.as_str()) != Some("success") {
            return Err("status is not success".into());
        }
        let result = answer
            .pointer("/data/result")
            .and_then(|r| r.as_array())
            .ok_or("answer has no data.result")?;
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
                let mut line = parse_any_in(text.as_bytes(), self.zone);
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
        Ok(entries)
    }

    pub fn apply(&mut self, answer: &Value) -> Result<(Vec<LogLine>, bool), String> {
        let first_poll = self.cursor_ns.is_none();
        let start = self.cursor_ns.map(|c| self.next_start(c));
        let entries = self.entries(answer)?;
        let full = entries.len() >= if first_poll { self.first_page } else { PAGE };
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
}

impl Tail for LokiTail {
    const NAME: &'static str = "loki";

    /// A new scope starts the tail over: the last hour of those hosts, then forward.
    fn set_hosts(&mut self, hosts: Vec<String>) {
        if hosts != self.hosts {
            let query = std::mem::take(&mut self.query);
            let tenant = self.tenant.take();
            *self = LokiTail {
                hosts,
                ..LokiTail::new(query, tenant)
                    .first_page(self.first_page)
                    .in_zone(self.zone)
            };
        }
    }

    async fn around(
        &self,
        client: &Client,
        b: &HttpBackend,
        at: DateTime<Utc>,
    ) -> Result<Vec<LogLine>, HttpError> {
        let url = format!("{}/loki/api/v1/query_range", b.url);
        let mut req = client.get(&url).query(&self.around_params(at));
        if let Some(t) = &self.tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        let req = http::with_basic(req, &b.auth);
        let resp = http::send(req, b.timeout).await?;
        let resp = http::check_status(resp, &url, &b.auth, b.timeout).await?;
        let raw = http::body(resp, &url, b.timeout).await?;
        let v: Value = http::decode(&raw, &url)?;
        let entries = self
            .entries(&v)
            .map_err(|reason| HttpError::Decode { url, reason })?;
        Ok(entries.into_iter().map(|(_, _, l)| l).collect())
    }

    /// One `query_range` for [`LokiTail::params`], applied: new lines and whether more wait.
    async fn poll(&mut self, client: &Client, b: &HttpBackend) -> Result<Page, HttpError> {
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
        let (lines, more) = self
            .apply(&v)
            .map_err(|reason| HttpError::Decode { url, reason })?;
        Ok(Page {
            lines,
            notice: None,
            more,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn a_longer_first_page_is_kept_across_scopes() {
        // `opsconsole snapshot` reads the newest 2000 lines of the hour with the source's request.
        let limit = |t: &LokiTail| {
            t.params(Utc::now())
                .into_iter()
                .find(|(k, _)| k == "limit")
                .map(|(_, v)| v)
        };
        let mut t = LokiTail::new("{job=\"syslog\"}".into(), None).first_page(2000);
        assert_eq!(limit(&t).as_deref(), Some("2000"));
        t.set_hosts(vec!["web-1".into()]);
        assert_eq!(limit(&t).as_deref(), Some("2000"));
        assert_eq!(
            limit(&LokiTail::new("{job=\"syslog\"}".into(), None)).as_deref(),
            Some("500")
        );
    }
}

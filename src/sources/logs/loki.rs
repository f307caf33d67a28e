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
use crate::model::histogram::{
    class_of_name, span_label, top_n, ClassCounts, HistAnswer, HistQuery, Term, OTHER, TOP_N,
};
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
    /// The label the histogram splits severities by (`level_label`); `None`: `level`, else
    /// `detected_level` (Loki 3).
    level_label: Option<String>,
}

/// Level values that count as errors for `!` (an RE2 regex, matched whole).
const LOKI_ERROR_LEVELS: &str = "(?i)(emerg|alert|crit|critical|err|error|fatal|panic)";

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
            level_label: None,
        }
    }

    /// The same tail splitting the histogram by `label` (the profile's `level_label`).
    pub fn level_label(self, label: Option<String>) -> LokiTail {
        LokiTail {
            level_label: label,
            ..self
        }
    }

    /// The labels a level is read from, in order.
    fn level_labels(&self) -> Vec<&str> {
        match &self.level_label {
            Some(l) => vec![l.as_str()],
            None => vec!["level", "detected_level"],
        }
    }

    /// The histogram's counts per bucket by level (CONTRACTS.md §6.4):
    /// `sum by (level, detected_level) (count_over_time({…}[STEP]))` on `query_range` with
    /// `step=STEP`, evaluated at each bucket's end (a point at `t` counts `[t − STEP, t)`).
    pub fn histogram_range_params(&self, q: &HistQuery) -> Vec<(String, String)> {
        let ns = |t: DateTime<Utc>| t.timestamp_nanos_opt().unwrap_or(0).to_string();
        let step = q.buckets.step;
        let query = format!(
            "sum by ({}) (count_over_time({} [{}]))",
            self.level_labels().join(", "),
            self.scoped_with(&q.hosts),
            span_label(step)
        );
        let first_end = q.buckets.bucket_start(1.min(q.buckets.n));
        vec![
            ("query".into(), query),
            ("start".into(), ns(first_end)),
            ("end".into(), ns(q.buckets.end())),
            ("step".into(), step.to_string()),
        ]
    }

    /// The top five of `label` (`host`, `program`) over the window:
    /// `topk(5, sum by (host) (count_over_time({…}[WINDOW])))` on `query` at the window's end;
    /// `!` keeps only lines whose level is an error.
    pub fn histogram_top_params(&self, q: &HistQuery, label: &str) -> Vec<(String, String)> {
        let (from, to) = q.range();
        let errors = if q.errors_only {
            let any = self
                .level_labels()
                .iter()
                .map(|l| format!("{l}=~\"{LOKI_ERROR_LEVELS}\""))
                .collect::<Vec<_>>()
                .join(" or ");
            format!(" | {any}")
        } else {
            String::new()
        };
        let query = format!(
            "topk({TOP_N}, sum by ({label}) (count_over_time({}{errors} [{}])))",
            self.scoped_with(&q.hosts),
            span_label((to - from).num_seconds())
        );
        vec![
            ("query".into(), query),
            (
                "time".into(),
                to.timestamp_nanos_opt().unwrap_or(0).to_string(),
            ),
        ]
    }

    /// Counts per bucket from a `matrix` answer: each series' level label gives its class (a
    /// series without one is `other`), each point's time the bucket that ends there.
    pub fn histogram_counts(&self, q: &HistQuery, v: &Value) -> Result<Vec<ClassCounts>, String> {
        let result = loki_result(v, "matrix")?;
        let mut counts: Vec<ClassCounts> = vec![[0; 4]; q.buckets.n];
        let labels = self.level_labels();
        for series in result {
            let metric = series.get("metric").and_then(Value::as_object);
            let class = labels
                .iter()
                .find_map(|l| metric?.get(*l)?.as_str())
                .map(class_of_name)
                .unwrap_or(OTHER);
            let values = series
                .get("values")
                .and_then(Value::as_array)
                .ok_or("a matrix series without values")?;
            for point in values {
                let (t, n) = loki_point(point)?;
                let start = t - q.buckets.step as f64;
                let Some(i) = DateTime::from_timestamp_millis((start * 1000.0).round() as i64)
                    .and_then(|s| q.buckets.index(s))
                else {
                    continue;
                };
                counts[i][class] += n;
            }
        }
        Ok(counts)
    }

    fn scoped_with(&self, hosts: &[String]) -> String {
        let q = self.query.trim_start();
        if hosts.is_empty() || !q.starts_with('{') {
            return self.query.clone();
        }
        let Some(close) = q.find('}') else {
            return self.query.clone();
        };
        let alternation = hosts
            .iter()
            .map(|h| regex::escape(h).replace('`', ""))
            .collect::<Vec<_>>()
            .join("|");
        let inner = q[1..close].trim();
        let sep = if inner.is_empty() { "" } else { ", " };
        format!("{{{inner}{sep}host=~`{alternation}`}}{}", &q[close + 1..])
    }

    async fn get(
        &self,
        client: &Client,
        b: &HttpBackend,
        path: &str,
        params: &[(String, String)],
    ) -> Result<Value, HttpError> {
        let url = format!("{}{path}", b.url);
        let mut req = client.get(&url).query(params);
        if let Some(t) = &self.tenant {
            req = req.header("X-Scope-OrgID", t);
        }
        let req = http::with_basic(req, &b.auth);
        let resp = http::send(req, b.timeout).await?;
        let resp = http::check_status(resp, &url, &b.auth, b.timeout).await?;
        let raw = http::body(resp, &url, b.timeout).await?;
        http::decode(&raw, &url)
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
        self.scoped_with(&self.hosts)
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
            let level_label = self.level_label.take();
            *self = LokiTail {
                hosts,
                ..LokiTail::new(query, tenant)
                    .first_page(self.first_page)
                    .in_zone(self.zone)
                    .level_label(level_label)
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

    /// Three metric queries: the counts per bucket, the top hosts, the top programs.
    async fn histogram(
        &self,
        client: &Client,
        b: &HttpBackend,
        q: &HistQuery,
    ) -> Result<HistAnswer, HttpError> {
        let decode = |path: &str, reason: String| HttpError::Decode {
            url: format!("{}{path}", b.url),
            reason,
        };
        let range = "/loki/api/v1/query_range";
        let v = self
            .get(client, b, range, &self.histogram_range_params(q))
            .await?;
        let counts = self.histogram_counts(q, &v).map_err(|r| decode(range, r))?;
        let instant = "/loki/api/v1/query";
        let mut tops = Vec::new();
        for label in ["host", "program"] {
            let v = self
                .get(client, b, instant, &self.histogram_top_params(q, label))
                .await?;
            tops.push(loki_top(&v, label).map_err(|r| decode(instant, r))?);
        }
        let programs = tops.pop().unwrap_or_default();
        let hosts = tops.pop().unwrap_or_default();
        Ok(HistAnswer {
            counts,
            hosts,
            programs,
            approximate: false,
            notice: None,
        })
    }

    /// One `query_range` for [`LokiTail::params`], applied: new lines and whether more wait.
    async fn poll(&mut self, client: &Client, b: &HttpBackend) -> Result<Page, HttpError> {
        let url = format!("{}/loki/api/v1/query_range", b.url);
        let mut req = client.get(&url).query(&self.params(crate::clock::now()));
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

/// `data.result` of a successful answer of `kind` (`matrix`, `vector`).
fn loki_result<'a>(v: &'a Value, kind: &str) -> Result<&'a Vec<Value>, String> {
    if v.get("status").and_then(Value::as_str) != Some("success") {
        return Err("status is not success".into());
    }
    let got = v.pointer("/data/resultType").and_then(Value::as_str);
    if got != Some(kind) {
        return Err(format!(
            "expected a {kind} result, got {}",
            got.map(sanitize).unwrap_or("none".into())
        ));
    }
    v.pointer("/data/result")
        .and_then(Value::as_array)
        .ok_or_else(|| "answer has no data.result".into())
}

/// One metric point: `[<seconds>, "<value>"]`.
fn loki_point(p: &Value) -> Result<(f64, u64), String> {
    let t = p.get(0).and_then(Value::as_f64);
    let n = p
        .get(1)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<f64>().ok());
    match (t, n) {
        (Some(t), Some(n)) if n.is_finite() && n >= 0.0 => Ok((t, n.round() as u64)),
        _ => Err(format!(
            "a point that is not [seconds, \"count\"]: {}",
            crate::model::text::fit(&sanitize(&p.to_string()), 60)
        )),
    }
}

/// The top terms of a `topk(5, sum by (label) …)` answer (a `vector`).
fn loki_top(v: &Value, label: &str) -> Result<Vec<Term>, String> {
    let mut named = Vec::new();
    for s in loki_result(v, "vector")? {
        let Some(name) = s
            .pointer(&format!("/metric/{label}"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let (_, n) = loki_point(s.get("value").unwrap_or(&Value::Null))?;
        named.push((sanitize(name).into_owned(), n));
    }
    Ok(top_n(named.iter().map(|(k, n)| (k.as_str(), *n)), TOP_N))
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

#[cfg(test)]
mod histogram_tests {
    use super::*;
    use crate::model::histogram::{Buckets, CRIT, ERR};
    use serde_json::json;

    fn query(errors_only: bool) -> HistQuery {
        let end = DateTime::parse_from_rfc3339("2026-12-03T13:59:10Z")
            .unwrap()
            .with_timezone(&Utc);
        HistQuery {
            buckets: Buckets::ending_at(end, 3600, 60, chrono_tz::UTC),
            window: 3600,
            zone: "UTC".into(),
            errors_only,
            hosts: Vec::new(),
        }
    }

    fn param(p: &[(String, String)], k: &str) -> String {
        p.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    }

    #[test]
    fn metric_queries_have_the_documented_shape() {
        let t = LokiTail::new("{job=\"syslog\"}".into(), None);
        let p = t.histogram_range_params(&query(false));
        assert_eq!(
            param(&p, "query"),
            "sum by (level, detected_level) (count_over_time({job=\"syslog\"} [1m]))"
        );
        assert_eq!(param(&p, "step"), "60");
        let p = t.histogram_top_params(&query(false), "host");
        assert_eq!(
            param(&p, "query"),
            "topk(5, sum by (host) (count_over_time({job=\"syslog\"} [1h])))"
        );
        let t = t.level_label(Some("severity".into()));
        let p = t.histogram_top_params(&query(true), "program");
        assert!(
            param(&p, "query").contains("| severity=~\"(?i)(emerg|alert"),
            "{p:?}"
        );
    }

    #[test]
    fn matrix_points_land_in_the_bucket_that_ends_there() {
        let t = LokiTail::new("{job=\"syslog\"}".into(), None);
        let q = query(false);
        let end_first = q.buckets.bucket_start(1).timestamp();
        let v = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"level": "error"}, "values": [[end_first, "3"], [end_first + 60, "0"]]},
            {"metric": {"detected_level": "critical"}, "values": [[end_first + 60, "2"]]},
            {"metric": {}, "values": [[end_first, "5"]]}]}});
        let c = t.histogram_counts(&q, &v).unwrap();
        assert_eq!(c[0][ERR], 3);
        assert_eq!(c[0][OTHER], 5, "no level label: other");
        assert_eq!(c[1][CRIT], 2, "detected_level when level is absent");
        let bad = json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {}, "values": [[end_first, 3]]}]}});
        assert!(t.histogram_counts(&q, &bad).unwrap_err().contains("point"));
        let streams = json!({"status": "success", "data": {"resultType": "streams", "result": []}});
        assert!(t
            .histogram_counts(&q, &streams)
            .unwrap_err()
            .contains("expected a matrix"));
        let top = loki_top(
            &json!({"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {"host": "web-2"}, "value": [1, "4"]},
                {"metric": {"host": "web-1"}, "value": [1, "4"]},
                {"metric": {}, "value": [1, "9"]}]}}),
            "host",
        )
        .unwrap();
        assert_eq!(top[0].name, "web-1");
        assert_eq!(top.len(), 2);
    }
}

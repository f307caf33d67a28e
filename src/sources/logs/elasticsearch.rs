//! Elasticsearch (Logstash indices) as a log tail: the request for the next page of `_search`, and
//! the answer applied with overlap and de-duplication. The source polls it through
//! `sources::polled`; `opsconsole snapshot` reads the last hour with the same request.

use std::collections::HashMap;

use reqwest::Client;
use serde_json::{json, Value};
use tracing::warn;

use super::common::{Page, Tail, AROUND, FIRST_PAGE, PAGE};
use super::syslog::from_json;
use crate::config::{HttpAuth, HttpBackend};
use crate::model::histogram::{
    class_of_name, span_label, top_n, ClassCounts, HistAnswer, HistQuery, Term, OTHER, TOP_N,
};
use crate::model::{text::sanitize, LogLine};
use crate::sources::http::{self, HttpError};

/// How far back each Elasticsearch poll looks again for late documents.
const ES_OVERLAP_MS: i64 = 5_000;
/// Elasticsearch refuses `from + size` past `index.max_result_window` (10 000 by default).
const ES_MAX_WINDOW: usize = 10_000;

/// Elasticsearch credentials: an API key (`Authorization: ApiKey …`) or Basic.
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
    /// Lines on the first poll (the newest of the last hour).
    first_page: usize,
}

/// Host fields across legacy Logstash, ECS and rsyslog-JSON documents.
const ES_HOST_FIELDS: [&str; 5] = [
    "host.keyword",
    "host",
    "host.hostname",
    "host.name",
    "logsource.keyword",
];

/// The keyword fields the histogram's `terms` aggregations read (Logstash's default mapping: text
/// with a `.keyword` sub-field; `terms` on a text field fails).
const ES_SEVERITY_FIELD: &str = "severity.keyword";
const ES_HOST_TERMS: &str = "host.keyword";
const ES_PROGRAM_TERMS: &str = "program.keyword";
/// Severity values that count as errors for `!` (rsyslog's names and Logstash's labels).
const ES_ERROR_LEVELS: [&str; 10] = [
    "emerg",
    "alert",
    "crit",
    "err",
    "error",
    "critical",
    "fatal",
    "Emergency",
    "Critical",
    "Error",
];

/// Only documents from `hosts`, on any of the host fields (none when `hosts` is empty).
fn host_filter(hosts: &[String]) -> Option<Value> {
    if hosts.is_empty() {
        return None;
    }
    let should: Vec<Value> = ES_HOST_FIELDS
        .iter()
        .map(|f| json!({"terms": {*f: hosts}}))
        .collect();
    Some(json!({"bool": {"should": should, "minimum_should_match": 1}}))
}

/// RFC 3339 in whole seconds, UTC (`2026-12-03T13:00:00Z`), as CONTRACTS.md writes the bounds.
fn es_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The `_search` body of a histogram (CONTRACTS.md §6.4): no hits, a `date_histogram` with
/// `fixed_interval`, `min_doc_count: 0` and `extended_bounds` over the window (so empty buckets
/// come back), `time_zone`, severities per bucket, and the top hosts and programs by keyword
/// (`!`: of the error documents only, under a `filter` aggregation).
pub fn histogram_body(q: &HistQuery) -> Value {
    let (from, to) = q.range();
    let mut filter =
        vec![json!({"range": {"@timestamp": {"gte": es_time(from), "lt": es_time(to)}}})];
    filter.extend(host_filter(&q.hosts));
    let tops = json!({
        "hosts": {"terms": {"field": ES_HOST_TERMS, "size": TOP_N}},
        "programs": {"terms": {"field": ES_PROGRAM_TERMS, "size": TOP_N}}
    });
    let mut aggs = json!({
        "over_time": {
            "date_histogram": {
                "field": "@timestamp",
                "fixed_interval": span_label(q.buckets.step),
                "min_doc_count": 0,
                "extended_bounds": {"min": es_time(from), "max": es_time(to - chrono::Duration::seconds(1))},
                "time_zone": q.zone
            },
            "aggs": {"sev": {"terms": {"field": ES_SEVERITY_FIELD, "size": 16}}}
        }
    });
    if q.errors_only {
        aggs["errors"] = json!({
            "filter": {"terms": {ES_SEVERITY_FIELD: ES_ERROR_LEVELS}},
            "aggs": tops
        });
    } else if let (Some(a), Some(t)) = (aggs.as_object_mut(), tops.as_object()) {
        a.extend(t.clone());
    }
    json!({"size": 0, "track_total_hits": false, "query": {"bool": {"filter": filter}}, "aggs": aggs})
}

/// The top terms of a `terms` aggregation's answer (`None`: the aggregation is missing).
fn es_terms(agg: Option<&Value>) -> Option<Vec<Term>> {
    let buckets = agg?.get("buckets")?.as_array()?;
    let named: Vec<(String, u64)> = buckets
        .iter()
        .filter_map(|b| {
            let key = match b.get("key")? {
                Value::String(s) => sanitize(s).into_owned(),
                other => other.to_string(),
            };
            Some((key, b.get("doc_count")?.as_u64()?))
        })
        .collect();
    Some(top_n(named.iter().map(|(k, c)| (k.as_str(), *c)), TOP_N))
}

/// Reads a histogram answer into the query's buckets. Totals are the buckets' sums (`hits.total`
/// stops at 10 000); terms counts are estimates across shards (`approximate`); failed shards (a
/// field mapped as text in one index and as an object in another) are said.
pub fn histogram_answer(q: &HistQuery, v: &Value) -> Result<HistAnswer, String> {
    let buckets = v
        .pointer("/aggregations/over_time/buckets")
        .and_then(Value::as_array)
        .ok_or("answer has no aggregations.over_time.buckets")?;
    let mut counts: Vec<ClassCounts> = vec![[0; 4]; q.buckets.n];
    for b in buckets {
        let (Some(key), Some(n)) = (
            b.get("key").and_then(Value::as_i64),
            b.get("doc_count").and_then(Value::as_u64),
        ) else {
            return Err("a date_histogram bucket without a numeric key and doc_count".into());
        };
        let Some(i) = chrono::DateTime::from_timestamp_millis(key).and_then(|t| q.buckets.index(t))
        else {
            continue;
        };
        let mut classified = 0;
        for s in b
            .pointer("/sev/buckets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let (Some(level), Some(c)) = (
                s.get("key").and_then(Value::as_str),
                s.get("doc_count").and_then(Value::as_u64),
            ) else {
                continue;
            };
            let c = c.min(n - classified);
            counts[i][class_of_name(level)] += c;
            classified += c;
        }
        // Documents without a severity, or past the severities listed.
        counts[i][OTHER] += n - classified;
    }
    let tops = if q.errors_only {
        v.pointer("/aggregations/errors")
    } else {
        v.get("aggregations")
    };
    let hosts = es_terms(tops.and_then(|t| t.get("hosts")))
        .ok_or("answer has no aggregations for the top hosts")?;
    let programs = es_terms(tops.and_then(|t| t.get("programs")))
        .ok_or("answer has no aggregations for the top programs")?;
    let failed = v
        .pointer("/_shards/failed")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let notice = (failed > 0).then(|| {
        let total = v
            .pointer("/_shards/total")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let reason = v
            .pointer("/_shards/failures/0/reason/reason")
            .and_then(Value::as_str)
            .unwrap_or("no reason given");
        format!(
            "{failed} of {total} shards failed, counts are partial (a field mapped differently across indices, such as host as text and as an object?): {}",
            sanitize(reason)
        )
    });
    Ok(HistAnswer {
        counts,
        hosts,
        programs,
        approximate: true,
        notice,
    })
}

impl EsTail {
    pub fn new(index: String) -> EsTail {
        EsTail {
            index,
            cursor: None,
            floor: None,
            page: None,
            seen: HashMap::new(),
            hosts: Vec::new(),
            first_page: FIRST_PAGE,
        }
    }

    /// The same tail reading `lines` on its first poll (`opsconsole snapshot`: the newest lines
    /// of the last hour to find the errors among).
    pub fn first_page(self, lines: usize) -> EsTail {
        EsTail {
            first_page: lines,
            ..self
        }
    }

    fn scoped(&self, range: Value) -> Value {
        match host_filter(&self.hosts) {
            None => range,
            Some(hosts) => json!({"bool": {"filter": [range, hosts]}}),
        }
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
                "size": self.first_page, "track_total_hits": false,
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

    /// The request for the lines ±[`AROUND`] around `at` (a time jump), oldest first.
    pub fn around_body(&self, at: chrono::DateTime<chrono::Utc>) -> Value {
        let (from, to) = (
            (at - AROUND).timestamp_millis(),
            (at + AROUND).timestamp_millis(),
        );
        json!({
            "size": PAGE, "track_total_hits": false,
            "query": self.scoped(json!({"range": {"@timestamp": {"gte": from, "lt": to, "format": "epoch_millis"}}})),
            "sort": [{"@timestamp": {"order": "asc"}}]
        })
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
        let full = hits.len() >= if first_poll { self.first_page } else { PAGE };
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
}

impl Tail for EsTail {
    const NAME: &'static str = "elasticsearch";

    /// A new scope starts the tail over: the last hour of those hosts, then forward.
    fn set_hosts(&mut self, hosts: Vec<String>) {
        if hosts != self.hosts {
            *self = EsTail {
                hosts,
                ..EsTail::new(std::mem::take(&mut self.index)).first_page(self.first_page)
            };
        }
    }

    async fn around(
        &self,
        client: &Client,
        b: &HttpBackend,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<LogLine>, HttpError> {
        let url = format!("{}/{}/_search?ignore_unavailable=true", b.url, self.index);
        let req = authorize(client.post(&url).json(&self.around_body(at)), &b.auth);
        let resp = http::send(req, b.timeout).await?;
        let resp = http::check_status(resp, &url, &b.auth, b.timeout).await?;
        let raw = http::body(resp, &url, b.timeout).await?;
        let v: Value = http::decode(&raw, &url)?;
        let hits = v
            .pointer("/hits/hits")
            .and_then(|h| h.as_array())
            .ok_or_else(|| HttpError::Decode {
                url: url.clone(),
                reason: "answer has no hits.hits".into(),
            })?;
        Ok(hits
            .iter()
            .filter_map(|h| h.get("_source").and_then(|s| s.as_object()))
            .map(from_json)
            .collect())
    }

    async fn histogram(
        &self,
        client: &Client,
        b: &HttpBackend,
        query: &HistQuery,
    ) -> Result<HistAnswer, HttpError> {
        let url = format!("{}/{}/_search?ignore_unavailable=true", b.url, self.index);
        let req = authorize(client.post(&url).json(&histogram_body(query)), &b.auth);
        let resp = http::send(req, b.timeout).await?;
        let resp = http::check_status(resp, &url, &b.auth, b.timeout).await?;
        let raw = http::body(resp, &url, b.timeout).await?;
        let v: Value = http::decode(&raw, &url)?;
        histogram_answer(query, &v).map_err(|reason| HttpError::Decode { url, reason })
    }

    /// One `_search` for [`EsTail::body`], applied: new lines, a warning, and whether more wait.
    async fn poll(&mut self, client: &Client, b: &HttpBackend) -> Result<Page, HttpError> {
        let url = format!("{}/{}/_search?ignore_unavailable=true", b.url, self.index);
        let req = authorize(client.post(&url).json(&self.body()), &b.auth);
        let resp = http::send(req, b.timeout).await?;
        let resp = http::check_status(resp, &url, &b.auth, b.timeout).await?;
        let raw = http::body(resp, &url, b.timeout).await?;
        let v: Value = http::decode(&raw, &url)?;
        let (lines, notice, more) = self
            .apply(&v)
            .map_err(|reason| HttpError::Decode { url, reason })?;
        Ok(Page {
            lines,
            notice,
            more,
        })
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

    #[test]
    fn a_time_jump_reads_five_minutes_either_side_in_the_scope() {
        let mut t = EsTail::new("logstash-*".into());
        t.set_hosts(vec!["web-1".into()]);
        let at = chrono::DateTime::from_timestamp(1_764_770_400, 0).unwrap();
        let b = t.around_body(at);
        let range = &b["query"]["bool"]["filter"][0]["range"]["@timestamp"];
        assert_eq!(range["gte"], json!(1_764_770_400_000i64 - 300_000));
        assert_eq!(range["lt"], json!(1_764_770_400_000i64 + 300_000));
        assert_eq!(b["sort"][0]["@timestamp"]["order"], json!("asc"));
        assert_eq!(
            b["query"]["bool"]["filter"][1]["bool"]["should"][0]["terms"]["host.keyword"],
            json!(["web-1"])
        );
        // The tail itself does not move: its next poll is still the first one.
        assert_eq!(t.body()["size"], json!(FIRST_PAGE));
    }

    #[test]
    fn a_longer_first_page_is_kept_across_scopes() {
        // `opsconsole snapshot` reads the newest 2000 lines of the hour with the source's request.
        let mut t = EsTail::new("logstash-*".into()).first_page(2000);
        assert_eq!(
            t.body(),
            json!({
                "size": 2000, "track_total_hits": false,
                "query": {"range": {"@timestamp": {"gte": "now-1h"}}},
                "sort": [{"@timestamp": {"order": "desc"}}]
            })
        );
        t.set_hosts(vec!["web-1".into()]);
        assert_eq!(t.body()["size"], json!(2000));
    }
}

#[cfg(test)]
mod histogram_tests {
    use super::*;
    use crate::model::histogram::{Buckets, CRIT, ERR};

    fn query(errors_only: bool) -> HistQuery {
        let end = chrono::DateTime::parse_from_rfc3339("2026-12-03T13:59:10Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        HistQuery {
            buckets: Buckets::ending_at(end, 3600, 60, chrono_tz::Europe::Berlin),
            window: 3600,
            zone: "Europe/Berlin".into(),
            errors_only,
            hosts: vec!["web-1".into()],
        }
    }

    #[test]
    fn the_body_has_the_documented_shape() {
        let b = histogram_body(&query(false));
        assert_eq!(b["size"], 0);
        let h = &b["aggs"]["over_time"]["date_histogram"];
        assert_eq!(h["fixed_interval"], "1m");
        assert_eq!(h["min_doc_count"], 0);
        assert_eq!(h["time_zone"], "Europe/Berlin");
        assert_eq!(h["extended_bounds"]["min"], "2026-12-03T13:00:00Z");
        assert_eq!(h["extended_bounds"]["max"], "2026-12-03T13:59:59Z");
        assert!(h.get("interval").is_none(), "gone in 8.x");
        assert_eq!(
            b["query"]["bool"]["filter"][0]["range"]["@timestamp"]["lt"],
            "2026-12-03T14:00:00Z"
        );
        assert!(b["query"]["bool"]["filter"][1]["bool"]["should"].is_array());
        assert_eq!(b["aggs"]["hosts"]["terms"]["field"], "host.keyword");
        assert_eq!(b["aggs"]["programs"]["terms"]["size"], 5);
        let e = histogram_body(&query(true));
        assert!(e["aggs"].get("hosts").is_none());
        assert_eq!(
            e["aggs"]["errors"]["aggs"]["hosts"]["terms"]["field"],
            "host.keyword"
        );
    }

    #[test]
    fn answers_fill_the_buckets_and_malformed_ones_say_why() {
        let q = query(false);
        let start = q.buckets.start.timestamp_millis();
        let v = json!({"_shards": {"total": 6, "failed": 1, "failures": [{"reason": {"reason": "can't merge a non object mapping [host] with an object mapping"}}]},
            "hits": {"total": {"value": 10000, "relation": "gte"}},
            "aggregations": {
                "over_time": {"buckets": [
                    {"key": start, "doc_count": 12000, "sev": {"buckets": [{"key": "err", "doc_count": 7000}, {"key": "crit", "doc_count": 1000}], "sum_other_doc_count": 0}},
                    {"key": start + 60_000, "doc_count": 0, "sev": {"buckets": []}}]},
                "hosts": {"doc_count_error_upper_bound": 3, "buckets": [{"key": "web-2", "doc_count": 40}, {"key": "web-1", "doc_count": 40}]},
                "programs": {"buckets": [{"key": 42, "doc_count": 1}]}}});
        let a = histogram_answer(&q, &v).unwrap();
        assert_eq!(a.counts[0][ERR], 7000);
        assert_eq!(a.counts[0][CRIT], 1000);
        assert_eq!(a.counts[0][OTHER], 4000, "no severity: other");
        assert_eq!(
            a.counts.iter().flatten().sum::<u64>(),
            12000,
            "past hits.total's 10k"
        );
        assert_eq!(a.hosts[0].name, "web-1", "ties by name");
        assert!(a.approximate);
        assert!(a.notice.unwrap().contains("1 of 6 shards failed"));
        let e = histogram_answer(&q, &json!({"hits": {}})).unwrap_err();
        assert!(e.contains("over_time"), "{e}");
        let e = histogram_answer(
            &q,
            &json!({"aggregations": {"over_time": {"buckets": [{"key": "x"}]}}}),
        )
        .unwrap_err();
        assert!(e.contains("numeric key"), "{e}");
    }
}

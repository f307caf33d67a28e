//! The logs source against Elasticsearch and Loki stand-ins: neither installs on Debian, so each
//! test serves the documented answer shapes (CONTRACTS.md §6.1, §6.2) from a small HTTP/1.1 server
//! on a free loopback port, records every request, and drives `LogsSource` end to end through its
//! channel with `interval_secs = 1`.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsconsole::model::Health;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use common::log_servers::{logs_profile, LogTail};

/// A poll interval is 1 s; a change should show within a few polls.
const ARRIVE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 server: one request per connection (`Connection: close`).

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: v.to_string().into_bytes(),
        }
    }

    fn text(status: u16, t: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: t.as_bytes().to_vec(),
        }
    }
}

type Handler = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

struct HttpServer {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpServer {
    async fn start(handler: Handler) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let log = log.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else {
                        return;
                    };
                    log.lock().unwrap().push(req.clone());
                    let r = handler(&req);
                    let head = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        r.status,
                        r.content_type,
                        r.body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&r.body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        HttpServer {
            port,
            requests,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, q) = target.split_once('?').unwrap_or((&target, ""));
    let query = q
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                urlencoding::decode(&s.replace('+', " "))
                    .map(|c| c.into_owned())
                    .unwrap_or_default()
            };
            (dec(k), dec(v))
        })
        .collect();
    Some(Request {
        method,
        path: path.to_string(),
        query,
        headers,
        body,
    })
}

/// Waits until the server has been asked twice more: the source sends what an answer brought
/// before it asks again, so the first of the two has been answered and its lines are with `t`.
async fn another_poll_taken(t: &mut LogTail, server: &HttpServer) {
    let asked = server.requests().len() + 2;
    t.until(ARRIVE, "another poll answered and taken", |_| {
        server.requests().len() >= asked
    })
    .await;
    t.drain();
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn secret_file(dir: &tempfile::TempDir, name: &str, value: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, format!("{value}\n")).unwrap();
    p.display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Elasticsearch stand-in: documents with `@timestamp` (epoch ms); `_search` honours the range
// `gte`, sort order, `size` and `from` the way ES does. Scripted replies can replace answers.

#[derive(Clone)]
struct Doc {
    index: String,
    id: String,
    ts: i64,
    host: String,
    program: String,
    severity: String,
    message: String,
}

#[derive(Default)]
struct Es {
    docs: Vec<Doc>,
    /// `_shards.failed` to report (with a reason) while set.
    failed_shards: Option<String>,
    /// Replies served instead of a search, first in first out.
    scripted: Vec<Reply>,
}

impl Es {
    fn add(&mut self, id: &str, ts: i64, message: &str) {
        self.docs.push(Doc {
            index: format!(
                "logstash-{}",
                chrono::DateTime::from_timestamp_millis(ts)
                    .unwrap()
                    .format("%Y.%m.%d")
            ),
            id: id.into(),
            ts,
            host: "web-1".into(),
            program: "app".into(),
            severity: "err".into(),
            message: message.into(),
        });
    }

    fn search(&mut self, req: &Request) -> Reply {
        if !self.scripted.is_empty() {
            return self.scripted.remove(0);
        }
        let body = req.json();
        let gte = match &body.pointer("/query/range/@timestamp/gte") {
            Some(Value::Number(n)) => n.as_i64().unwrap(),
            Some(Value::String(s)) if s == "now-1h" => now_ms() - 3_600_000,
            other => return Reply::json(400, &es_error(&format!("unsupported gte {other:?}"))),
        };
        let desc = body.pointer("/sort/0/@timestamp/order") == Some(&json!("desc"));
        let size = body["size"].as_u64().unwrap_or(10) as usize;
        let from = body["from"].as_u64().unwrap_or(0) as usize;
        let mut docs: Vec<&Doc> = self.docs.iter().filter(|d| d.ts >= gte).collect();
        docs.sort_by_key(|d| d.ts); // stable: ties keep insertion order
        if desc {
            docs.reverse();
        }
        let hits: Vec<Value> = docs
            .iter()
            .skip(from)
            .take(size)
            .map(|d| {
                json!({"_index": d.index, "_id": d.id, "_score": null,
                       "_source": {"@timestamp": chrono::DateTime::from_timestamp_millis(d.ts).unwrap().to_rfc3339(),
                                   "host": d.host, "program": d.program, "severity": d.severity, "message": d.message},
                       "sort": [d.ts]})
            })
            .collect();
        let (failed, failures) = match &self.failed_shards {
            Some(reason) => (
                1,
                json!([{"shard": 3, "index": "logstash-x", "reason": {"type": "node_not_connected_exception", "reason": reason}}]),
            ),
            None => (0, json!([])),
        };
        Reply::json(
            200,
            &json!({"took": 3, "timed_out": false,
                    "_shards": {"total": 5, "successful": 5 - failed, "skipped": 0, "failed": failed, "failures": failures},
                    "hits": {"total": {"value": hits.len(), "relation": "gte"}, "max_score": null, "hits": hits}}),
        )
    }
}

fn es_error(reason: &str) -> Value {
    json!({"error": {"root_cause": [{"type": "parsing_exception", "reason": reason}],
                     "type": "parsing_exception", "reason": reason}, "status": 400})
}

async fn es_server(es: Arc<Mutex<Es>>) -> HttpServer {
    HttpServer::start(Arc::new(move |req: &Request| {
        if req.method == "POST" && req.path.ends_with("/_search") {
            es.lock().unwrap().search(req)
        } else {
            Reply::json(404, &json!({"error": "no handler", "status": 404}))
        }
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_tail_late_duplicates_partial_failure_and_errors() {
    let es = Arc::new(Mutex::new(Es::default()));
    let t0 = now_ms();
    {
        let mut e = es.lock().unwrap();
        e.add("1", t0 - 3000, "es one");
        e.add("2", t0 - 2000, "es two");
    }
    let server = es_server(es.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = secret_file(&dir, "es.key", "aWQ6c2VjcmV0");
    let mut t = LogTail::start(logs_profile(&format!(
        r#"{{ kind = "elasticsearch", url = "{}/", index = "logstash-*", interval_secs = 1, timeout_secs = 3, api_key_file = "{key_file}" }}"#,
        server.url()
    )));
    t.until(ARRIVE, "the first two documents", |t| t.logs.len() >= 2)
        .await;
    assert_eq!(t.messages(), ["es one", "es two"], "oldest first");
    let first = &t.lines()[0];
    assert_eq!(
        (&*first.host, &*first.program, first.severity),
        ("web-1", "app", Some(3))
    );
    assert_eq!(first.time.unwrap().timestamp_millis(), t0 - 3000);

    // A document older than the newest one shown appears late (refresh lag / slow shipper),
    // together with a newer one; the overlap window sees it, de-duplication hides the repeats.
    {
        let mut e = es.lock().unwrap();
        e.add("3", t0 - 2500, "es late");
        e.add("4", t0 - 1000, "es four");
    }
    t.until(ARRIVE, "the late document", |t| t.logs.len() >= 4)
        .await;
    // At least one more poll over the same window, its answer taken.
    another_poll_taken(&mut t, &server).await;
    assert_eq!(t.messages(), ["es one", "es two", "es late", "es four"]);

    // Partial shard failure: HTTP 200 with _shards.failed > 0 → a notice, lines still shown.
    {
        let mut e = es.lock().unwrap();
        e.failed_shards = Some("node es-3 left the cluster".into());
        e.add("5", t0 - 500, "es five");
    }
    t.until(ARRIVE, "a partial-failure notice and es five", |t| {
        !t.notices.is_empty() && t.logs.len() >= 5
    })
    .await;
    assert!(
        t.notices[0].contains("1 shard(s) failed") && t.notices[0].contains("es-3 left"),
        "{:?}",
        t.notices
    );
    assert_eq!(t.messages().last().unwrap(), "es five");
    es.lock().unwrap().failed_shards = None;

    // A 400 with the ES error JSON: Retrying with the reason, then Live again on the next answer.
    es.lock()
        .unwrap()
        .scripted
        .push(Reply::json(400, &es_error("unknown query [rnage]")));
    t.until(ARRIVE, "Retrying after a 400", |t| t.retried())
        .await;
    let err = t.last_error().unwrap();
    assert!(
        err.contains("400") && err.contains("unknown query [rnage]"),
        "{err}"
    );
    es.lock().unwrap().add("6", now_ms(), "es six");
    t.until(ARRIVE, "Live again and es six", |t| {
        t.health.last() == Some(&Health::Live) && t.logs.len() >= 6
    })
    .await;
    assert_eq!(
        t.messages(),
        ["es one", "es two", "es late", "es four", "es five", "es six"],
        "every document once, none twice"
    );

    // What the console sent.
    let reqs = server.requests();
    assert!(reqs.len() >= 5, "{} requests", reqs.len());
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/logstash-*/_search");
        assert_eq!(
            r.query.get("ignore_unavailable").map(String::as_str),
            Some("true")
        );
        assert_eq!(r.header("authorization"), Some("ApiKey aWQ6c2VjcmV0"));
        assert!(r
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")));
    }
    let b0 = reqs[0].json();
    assert_eq!(b0["query"]["range"]["@timestamp"]["gte"], json!("now-1h"));
    assert_eq!(b0["sort"][0]["@timestamp"]["order"], json!("desc"));
    let b1 = reqs[1].json();
    assert_eq!(b1["sort"][0]["@timestamp"]["order"], json!("asc"));
    assert_eq!(
        b1["query"]["range"]["@timestamp"]["gte"],
        json!(t0 - 2000 - 5000),
        "re-reads a 5 s overlap before the newest document"
    );
    assert_eq!(
        b1["query"]["range"]["@timestamp"]["format"],
        json!("epoch_millis")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_burst_larger_than_a_page_is_read_through() {
    let es = Arc::new(Mutex::new(Es::default()));
    let t0 = now_ms();
    es.lock().unwrap().add("start", t0 - 4000, "start");
    let server = es_server(es.clone()).await;
    let mut t = LogTail::start(logs_profile(&format!(
        r#"{{ kind = "elasticsearch", url = "{}", interval_secs = 1 }}"#,
        server.url()
    )));
    t.until(ARRIVE, "the first document", |t| !t.logs.is_empty())
        .await;
    // 2 500 documents inside the overlap window: more than one page of 1 000.
    {
        let mut e = es.lock().unwrap();
        for i in 0..2500 {
            e.add(
                &format!("b{i}"),
                t0 - 3000 + (i / 2) as i64,
                &format!("burst {i:04}"),
            );
        }
    }
    t.until(ARRIVE, "the whole burst", |t| t.logs.len() >= 2501)
        .await;
    es.lock().unwrap().add("after", now_ms(), "after the burst");
    t.until(ARRIVE, "a document after the burst", |t| {
        t.messages().last().map(String::as_str) == Some("after the burst")
    })
    .await;
    let mut want = vec!["start".to_string()];
    want.extend((0..2500).map(|i| format!("burst {i:04}")));
    want.push("after the burst".into());
    assert_eq!(t.messages(), want);
    assert!(!t.retried(), "{:?}", t.health);
    assert!(
        server.requests().iter().all(|r| {
            let b = r.json();
            b["from"].as_u64().unwrap_or(0) + b["size"].as_u64().unwrap() <= 10_000
        }),
        "from + size stays within index.max_result_window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_401_names_the_credential() {
    let server = HttpServer::start(Arc::new(|_req: &Request| {
        Reply::json(
            401,
            &json!({"error": {"type": "security_exception", "reason": "unable to authenticate with provided credentials"}, "status": 401}),
        )
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = secret_file(&dir, "bad.key", "bm9wZTpub3Bl");
    let mut t = LogTail::start(logs_profile(&format!(
        r#"{{ kind = "elasticsearch", url = "{}", interval_secs = 1, api_key_file = "{key_file}" }}"#,
        server.url()
    )));
    t.until(ARRIVE, "Retrying after a 401", |t| t.retried())
        .await;
    let err = t.last_error().unwrap();
    assert!(err.contains("401"), "{err}");
    assert!(
        err.contains("API key") && err.contains(&key_file),
        "the message names the credential and where it came from: {err}"
    );
    assert!(
        !err.contains("bm9wZTpub3Bl"),
        "never the secret itself: {err}"
    );
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("ApiKey bm9wZTpub3Bl")
    );
}

// ---------------------------------------------------------------------------------------------
// Loki stand-in: streams of (ns, line); `query_range` honours start (inclusive), end (exclusive),
// limit and direction, merging streams for the limit the way Loki does.

#[derive(Default)]
struct Loki {
    streams: Vec<(Value, Vec<(i128, String)>)>,
    scripted: Vec<Reply>,
}

impl Loki {
    fn push(&mut self, labels: Value, ns: i128, line: &str) {
        match self.streams.iter_mut().find(|(l, _)| *l == labels) {
            Some((_, v)) => v.push((ns, line.into())),
            None => self.streams.push((labels, vec![(ns, line.into())])),
        }
    }

    fn query_range(&mut self, req: &Request) -> Reply {
        if !self.scripted.is_empty() {
            return self.scripted.remove(0);
        }
        let q = |k: &str| req.query.get(k).cloned().unwrap_or_default();
        let (Ok(start), Ok(end), Ok(limit)) = (
            q("start").parse::<i128>(),
            q("end").parse::<i128>(),
            q("limit").parse::<usize>(),
        ) else {
            return Reply::text(400, "invalid start, end or limit");
        };
        let forward = q("direction") == "forward";
        let mut all: Vec<(i128, usize, &String)> = self
            .streams
            .iter()
            .enumerate()
            .flat_map(|(si, (_, v))| v.iter().map(move |(ns, l)| (*ns, si, l)))
            .filter(|(ns, _, _)| *ns >= start && *ns < end)
            .collect();
        all.sort_by_key(|(ns, _, _)| *ns);
        if !forward {
            all.reverse();
        }
        all.truncate(limit);
        let mut per: Vec<Vec<Value>> = vec![Vec::new(); self.streams.len()];
        for (ns, si, l) in all {
            per[si].push(json!([ns.to_string(), l]));
        }
        let result: Vec<Value> = per
            .into_iter()
            .enumerate()
            .filter(|(_, v)| !v.is_empty())
            .map(|(si, v)| json!({"stream": self.streams[si].0, "values": v}))
            .collect();
        Reply::json(
            200,
            &json!({"status": "success", "data": {"resultType": "streams", "result": result, "stats": {}}}),
        )
    }
}

fn now_ns() -> i128 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap() as i128
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_tail_merges_dedupes_and_reports_errors() {
    let loki = Arc::new(Mutex::new(Loki::default()));
    let a = json!({"host": "web-1", "job": "syslog", "level": "error"});
    let b = json!({"host": "web-2", "job": "syslog"});
    let t0 = now_ns() - 3_000_000_000;
    {
        let mut l = loki.lock().unwrap();
        l.push(a.clone(), t0, "a1");
        l.push(a.clone(), t0 + 2_000, "a2");
        l.push(b.clone(), t0 + 1_000, "b1");
    }
    let lk = loki.clone();
    let server = HttpServer::start(Arc::new(move |req: &Request| {
        if req.method == "GET" && req.path == "/loki/api/v1/query_range" {
            lk.lock().unwrap().query_range(req)
        } else {
            Reply::text(404, "404 page not found")
        }
    }))
    .await;
    let query = r#"{job="syslog"} |= "a""#;
    let mut t = LogTail::start(logs_profile(&format!(
        r#"{{ kind = "loki", url = "{}", query = '{query}', tenant = "team-a", interval_secs = 1 }}"#,
        server.url()
    )));
    t.until(ARRIVE, "three lines", |t| t.logs.len() >= 3).await;
    assert_eq!(t.messages(), ["a1", "b1", "a2"], "streams merged by time");
    let l = t.lines();
    assert_eq!((&*l[0].host, l[0].severity), ("web-1", Some(3)));
    assert_eq!((&*l[1].host, l[1].severity), ("web-2", None));
    assert_eq!(
        l[1].time.unwrap().timestamp_nanos_opt().unwrap() as i128,
        t0 + 1_000
    );
    assert!(l[0]
        .fields
        .contains(&("label.job".to_string(), "syslog".to_string())));

    // Another line at exactly the boundary timestamp (a2's) in the other stream, a late line
    // from the other agent before it, and a newer one. The repeats of a2 are not shown again.
    {
        let mut l = loki.lock().unwrap();
        l.push(b.clone(), t0 + 2_000, "b-same-ns");
        l.push(b.clone(), t0 + 1_500, "b-late");
        l.push(a.clone(), t0 + 3_000, "a3");
    }
    t.until(ARRIVE, "three more lines", |t| t.logs.len() >= 6)
        .await;
    another_poll_taken(&mut t, &server).await;
    assert_eq!(
        t.messages(),
        ["a1", "b1", "a2", "b-late", "b-same-ns", "a3"],
        "each line once; a poll's lines in time order"
    );

    // Loki errors are plain text: the reason is shown, then the tail recovers.
    loki.lock().unwrap().scripted.push(Reply::text(
        400,
        "parse error at line 1, col 14: syntax error: unexpected IDENTIFIER\n",
    ));
    t.until(ARRIVE, "Retrying after a 400", |t| t.retried())
        .await;
    let err = t.last_error().unwrap();
    assert!(
        err.contains("400") && err.contains("syntax error: unexpected IDENTIFIER"),
        "{err}"
    );
    loki.lock().unwrap().push(b.clone(), now_ns(), "b-after");
    t.until(ARRIVE, "Live again and b-after", |t| {
        t.health.last() == Some(&Health::Live)
            && t.messages().last().map(String::as_str) == Some("b-after")
    })
    .await;
    assert_eq!(t.logs.len(), 7, "nothing twice: {:?}", t.messages());

    let reqs = server.requests();
    for r in &reqs {
        assert_eq!(r.header("x-scope-orgid"), Some("team-a"));
        assert_eq!(r.query.get("query").map(String::as_str), Some(query));
        let (start, end): (i128, i128) = (
            r.query["start"].parse().unwrap(),
            r.query["end"].parse().unwrap(),
        );
        assert!(start < end);
    }
    assert_eq!(reqs[0].query["direction"], "backward");
    assert_eq!(reqs[1].query["direction"], "forward");
    assert_eq!(
        reqs[1].query["start"].parse::<i128>().unwrap(),
        t0 + 2_000 - 5_000_000_000,
        "forward from the newest line seen, minus the overlap window"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_without_tenant_sends_no_org_header() {
    let server = HttpServer::start(Arc::new(|_req: &Request| {
        Reply::json(
            200,
            &json!({"status": "success", "data": {"resultType": "streams", "result": []}}),
        )
    }))
    .await;
    let mut t = LogTail::start(logs_profile(&format!(
        r#"{{ kind = "loki", url = "{}", query = '{{job="x"}}', interval_secs = 1 }}"#,
        server.url()
    )));
    t.until_live(ARRIVE).await;
    t.until(ARRIVE, "a second request", |_| server.requests().len() >= 2)
        .await;
    let reqs = server.requests();
    assert!(reqs.len() >= 2);
    assert!(reqs.iter().all(|r| r.header("x-scope-orgid").is_none()));
}

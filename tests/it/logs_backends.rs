//! The log sources. Against real servers: `logger` → rsyslogd (imudp/imtcp, omhiredis with the JSON
//! template) → redis-server (Pub/Sub channel or list) → `LogsSource` → `Logs` ring buffer, each test
//! starting its own Redis and rsyslogd on free loopback ports. Elasticsearch and Loki do not install
//! on Debian: their tests serve the documented answer shapes (CONTRACTS.md §6.1, §6.2, and the
//! histogram's aggregations of §6.4, refusing requests of another shape as the servers do) from a small
//! HTTP/1.1 server that records every request, and drive `LogsSource` through its channel with
//! `interval_secs = 1`. Order, backlogs, bursts, restarts, late and duplicate lines, hostile bytes.

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsconsole::model::{Health, LogLine};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use common::log_servers::{logs_profile, LogTail, Redis, Rsyslog, RsyslogMode, KEY};
use common::wait::Wait;

// ---------------------------------------------------------------------------------------------
// Redis, fed by rsyslog

/// Lines should reach the buffer well within this (rsyslog and Redis are local).
const ARRIVE: Duration = Duration::from_secs(10);

/// Reconnects go through the source's backoff (500 ms doubling).
const RECONNECT: Duration = Duration::from_secs(20);

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("reading the hostname")
        .trim()
        .to_string()
}

fn profile(redis: &Redis, mode: RsyslogMode) -> opsconsole::config::LogsProfile {
    let target = match mode {
        RsyslogMode::Publish => format!("channel = \"{KEY}\""),
        RsyslogMode::Queue => format!("list = \"{KEY}\""),
        RsyslogMode::QueueRpush => format!("list = \"{KEY}\", userpush = true"),
    };
    logs_profile(&format!(
        "{{ kind = \"redis\", url = \"{}\", {target}, timeout_secs = 2 }}",
        redis.url()
    ))
}

/// (host, program, severity, message) of a line, for compact assertions.
fn summary(l: &LogLine) -> (String, String, Option<u8>, String) {
    (
        l.host.to_string(),
        l.program.to_string(),
        l.severity,
        l.message.clone(),
    )
}

fn own(host: &str, program: &str, sev: u8, msg: &str) -> (String, String, Option<u8>, String) {
    (host.into(), program.into(), Some(sev), msg.into())
}

/// Sends a mixed UDP batch (logger, raw RFC 5424 from other hosts, RFC 5424 with several SD
/// elements and a BOM, raw RFC 3164) and returns what each line must look like, in order.
fn send_udp_batch(rs: &Rsyslog, tag: &str) -> Vec<(String, String, Option<u8>, String)> {
    let me = hostname();
    let mut want = Vec::new();
    for i in 0..3 {
        let msg = format!("{tag} hello {i}");
        rs.logger(false, &["-t", "myapp", "-p", "user.err", &msg]);
        want.push(own(&me, "myapp", 3, &msg));
    }
    // PRI = facility * 8 + severity.
    let raw = [
        ("db-7", "postgres", 16 * 8 + 3, 3), // local0.err
        ("web-1", "nginx", 8 + 6, 6),        // user.info
        ("cache-2", "redis", 3 * 8 + 4, 4),  // daemon.warning
        ("lb-1", "haproxy", 20 * 8 + 2, 2),  // local4.crit
        ("mon-1", "collectd", 8 + 7, 7),     // user.debug
        ("edge-9", "envoy", 23 * 8 + 5, 5),  // local7.notice
        ("vault-3", "vault", 4 * 8 + 1, 1),  // auth.alert
        ("core-1", "kernel-agent", 8, 0),    // user.emerg
    ];
    for (i, (host, prog, pri, sev)) in raw.iter().enumerate() {
        let msg = format!("{tag} raw {i} from {host}");
        let line = format!(
            "<{pri}>1 2026-11-25T04:10:{i:02}.123456Z {host} {prog} {} ID{i} - {msg}",
            100 + i
        );
        rs.send_udp(line.as_bytes());
        want.push(own(host, prog, *sev, &msg));
    }
    // Two SD elements and a BOM before the message.
    let msg = format!("{tag} with sd");
    rs.send_udp(
        format!("<165>1 2026-11-25T04:11:00Z sd-host sdapp 7 ID1 [a@1 x=\"1\"][b@2 y=\"a\\]b\"] \u{feff}{msg}")
            .as_bytes(),
    );
    want.push(own("sd-host", "sdapp", 5, &msg));
    // RFC 3164 with a pid.
    let msg = format!("{tag} job done");
    rs.send_udp(format!("<78>Nov 25 04:10:15 app-3 cron[123]: {msg}").as_bytes());
    want.push(own("app-3", "cron", 6, &msg));
    want
}

fn send_tcp_batch(rs: &Rsyslog, tag: &str) -> Vec<(String, String, Option<u8>, String)> {
    let me = hostname();
    let mut want = Vec::new();
    for i in 0..3 {
        let msg = format!("{tag} over tcp {i}");
        rs.logger(true, &["-t", "myapp-tcp", "-p", "local0.warning", &msg]);
        want.push(own(&me, "myapp-tcp", 4, &msg));
    }
    let msg = format!("{tag} raw tcp");
    rs.send_tcp(format!("<11>1 2026-11-25T04:12:00Z tcp-host tcpapp - - - {msg}").as_bytes());
    want.push(own("tcp-host", "tcpapp", 3, &msg));
    want
}

fn tagged(t: &LogTail, tag: &str) -> Vec<(String, String, Option<u8>, String)> {
    t.lines()
        .iter()
        .filter(|l| l.message.starts_with(tag))
        .map(summary)
        .collect()
}

async fn expect_batch(t: &mut LogTail, tag: &str, want: &[(String, String, Option<u8>, String)]) {
    let n = want.len();
    t.until(ARRIVE, &format!("{n} lines tagged {tag}"), |t| {
        tagged(t, tag).len() >= n
    })
    .await;
    assert_eq!(tagged(t, tag), want, "lines tagged {tag}, in order");
}

/// The raw RFC 5424 lines carry explicit timestamps: they must survive rsyslog's rfc3339 template.
fn assert_raw_times(t: &LogTail, tag: &str) {
    for l in t.lines() {
        if let Some(rest) = l.message.strip_prefix(&format!("{tag} raw ")) {
            if let Ok(i) = rest.split(' ').next().unwrap_or("").parse::<u32>() {
                let want = format!("2026-11-25T04:10:{i:02}.123456+00:00");
                assert_eq!(
                    l.time.map(|t| t.to_rfc3339()),
                    Some(want),
                    "timestamp of {:?}",
                    l.message
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_mode_udp_and_tcp_in_order() {
    let redis = Redis::start();
    let rs = Rsyslog::start(redis.port, RsyslogMode::Publish);
    let mut t = LogTail::start(profile(&redis, RsyslogMode::Publish));
    t.until_live(ARRIVE).await;

    let want = send_udp_batch(&rs, "p-udp");
    expect_batch(&mut t, "p-udp", &want).await;
    assert_raw_times(&t, "p-udp");
    let want = send_tcp_batch(&rs, "p-tcp");
    expect_batch(&mut t, "p-tcp", &want).await;
    assert!(!t.retried(), "no reconnects expected: {:?}", t.health);
    assert_eq!(t.logs.dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_mode_backlog_then_live_after_idle() {
    queue_backlog_then_live(RsyslogMode::Queue).await;
}

/// omhiredis `userpush="on"` RPUSHes: with `userpush = true` the console still reads oldest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_mode_with_userpush_reads_oldest_first() {
    queue_backlog_then_live(RsyslogMode::QueueRpush).await;
}

async fn queue_backlog_then_live(mode: RsyslogMode) {
    let redis = Redis::start();
    let rs = Rsyslog::start(redis.port, mode);
    // A backlog written before the console starts is read oldest first.
    let want_backlog = send_udp_batch(&rs, "q-udp");
    common::wait_until_or(
        "rsyslog to queue the batch",
        ARRIVE,
        || redis.cmd(&[b"LLEN", KEY.as_bytes()]).int() as usize >= want_backlog.len(),
        || format!("log:\n{}", rs.log_tail()),
    );

    let mut t = LogTail::start(profile(&redis, mode));
    t.until_live(ARRIVE).await;
    expect_batch(&mut t, "q-udp", &want_backlog).await;
    assert_raw_times(&t, "q-udp");

    // Idle for longer than one BLMOVE block: the connection must stay up, not time out and retry.
    // Redis counts a blocking pop when it starts, so two more mean one has run its whole block.
    let pops = blocking_pops(&redis);
    t.until(ARRIVE, "a blocking pop to run its whole block", |_| {
        blocking_pops(&redis) >= pops + 2
    })
    .await;
    t.drain();
    assert!(
        !t.retried(),
        "an idle list must not look like a failure: {:?}",
        t.health
    );
    let want = send_tcp_batch(&rs, "q-tcp");
    expect_batch(&mut t, "q-tcp", &want).await;

    // A big burst (one push of 5000, oldest first, from the side rsyslog pushes to) crosses
    // several batches and stays in order.
    let payloads: Vec<Vec<u8>> = (0..5000)
        .map(|i| {
            format!(
                r#"{{"host":"bulk","program":"gen","severity":"info","message":"bulk {i:05}"}}"#
            )
            .into_bytes()
        })
        .collect();
    let push: &[u8] = if mode == RsyslogMode::QueueRpush {
        b"RPUSH"
    } else {
        b"LPUSH"
    };
    let mut args: Vec<&[u8]> = vec![push, KEY.as_bytes()];
    args.extend(payloads.iter().map(|p| p.as_slice()));
    redis.cmd(&args);
    t.until(ARRIVE, "5000 bulk lines", |t| {
        t.messages()
            .iter()
            .filter(|m| m.starts_with("bulk "))
            .count()
            >= 5000
    })
    .await;
    let bulk: Vec<String> = t
        .messages()
        .into_iter()
        .filter(|m| m.starts_with("bulk "))
        .collect();
    let want: Vec<String> = (0..5000).map(|i| format!("bulk {i:05}")).collect();
    assert_eq!(bulk, want);
    assert!(!t.retried(), "{:?}", t.health);
    assert_eq!(redis.cmd(&[b"LLEN", KEY.as_bytes()]).int(), 0);
}

/// How many blocking reads (BLMOVE; BRPOP/BLPOP before it) Redis has started (`INFO commandstats`).
fn blocking_pops(redis: &Redis) -> u64 {
    let common::log_servers::Reply::Bulk(Some(info)) = redis.cmd(&[b"INFO", b"commandstats"])
    else {
        panic!("INFO commandstats is not a bulk string");
    };
    String::from_utf8_lossy(&info)
        .lines()
        .filter(|l| {
            ["cmdstat_blmove:", "cmdstat_brpop:", "cmdstat_blpop:"]
                .iter()
                .any(|c| l.starts_with(c))
        })
        .filter_map(|l| {
            l.split_once("calls=")?
                .1
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

fn no_controls(s: &str) -> bool {
    !s.chars().any(|c| c.is_control())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_invalid_payloads_are_neutralised() {
    let redis = Redis::start();
    let rs = Rsyslog::start(redis.port, RsyslogMode::Publish);
    let mut t = LogTail::start(profile(&redis, RsyslogMode::Publish));
    t.until_live(ARRIVE).await;

    // Through rsyslog: escape sequences in a logger message.
    rs.logger(false, &["-t", "evil", "h1 esc \x1b[2J\x1b]0;pwned\x07 end"]);
    // Through rsyslog: invalid UTF-8 in the message; rsyslog copies the bytes into its JSON as is.
    rs.send_udp(b"<13>1 2026-11-25T04:10:15.003Z web9 nginx 42 ID47 - h2 caf\xe9 \xff end");
    // Straight into Redis: JSON carrying escapes, a raw syslog line with escapes and bad bytes,
    // and plain garbage.
    redis.cmd(&[
        b"PUBLISH",
        KEY.as_bytes(),
        br#"{"host":"j1","program":"jp","severity":"err","message":"h3 before \u001b[2J\u001b]0;pwned\u0007after"}"#,
    ]);
    redis.cmd(&[
        b"PUBLISH",
        KEY.as_bytes(),
        b"<11>Nov 25 04:10:15 raw-h evil: h4 \x1b]0;pwned\x07caf\xe9 \xff!\x1b[31m",
    ]);
    redis.cmd(&[b"PUBLISH", KEY.as_bytes(), b"\xff\xfe h5 garbage \x9b2J"]);
    t.until(ARRIVE, "5 hostile lines", |t| {
        ["h1", "h2", "h3", "h4", "h5"]
            .iter()
            .all(|h| t.messages().iter().any(|m| m.contains(h)))
    })
    .await;
    let lines = t.lines();
    let find = |h: &str| {
        lines
            .iter()
            .find(|l| l.message.contains(h))
            .cloned()
            .unwrap()
    };
    for l in &lines {
        assert!(
            no_controls(&l.message) && no_controls(&l.host) && no_controls(&l.program),
            "control characters reached the buffer: {l:?}"
        );
        assert!(
            l.fields
                .iter()
                .all(|(k, v)| no_controls(k) && no_controls(v)),
            "control characters in fields: {l:?}"
        );
    }
    let h1 = find("h1");
    assert_eq!((&*h1.program, h1.severity), ("evil", Some(5)));
    assert!(
        h1.message.starts_with("h1 esc") && h1.message.ends_with("end"),
        "{h1:?}"
    );
    let h2 = find("h2");
    assert_eq!(
        summary(&h2),
        own("web9", "nginx", 5, "h2 caf\u{fffd} \u{fffd} end"),
        "rsyslog JSON with invalid UTF-8 keeps its fields"
    );
    assert_eq!(summary(&find("h3")), own("j1", "jp", 3, "h3 before after"));
    assert_eq!(
        summary(&find("h4")),
        own("raw-h", "evil", 3, "h4 caf\u{fffd} \u{fffd}!")
    );
    let h5 = find("h5");
    assert!(
        h5.message.contains('\u{fffd}') && h5.message.contains("h5 garbage"),
        "{h5:?}"
    );
}

async fn restart_and_resume(mode: RsyslogMode) {
    let mut redis = Redis::start();
    let rs = Rsyslog::start(redis.port, mode);
    let mut t = LogTail::start(profile(&redis, mode));
    t.until_live(ARRIVE).await;
    rs.logger(false, &["-t", "app", "before restart"]);
    t.until(ARRIVE, "the first line", |t| {
        t.messages().iter().any(|m| m == "before restart")
    })
    .await;

    redis.kill();
    t.until(RECONNECT, "health Retrying", |t| {
        matches!(t.health.last(), Some(Health::Retrying { .. }))
    })
    .await;
    let err = t.last_error().unwrap();
    assert!(
        err.contains(&redis.url()),
        "the error names the server: {err}"
    );
    std::thread::sleep(Duration::from_millis(300));
    redis.restart();
    t.until_live(RECONNECT).await;

    // rsyslog's omhiredis reconnects on its own; keep logging until lines flow again.
    let wait = Wait::new("a line after the Redis restart", RECONNECT);
    let mut i = 0;
    loop {
        rs.logger(false, &["-t", "app", &format!("after restart {i}")]);
        i += 1;
        t.settle(Duration::from_millis(300)).await;
        if t.messages().iter().any(|m| m.starts_with("after restart")) {
            break;
        }
        wait.left(|| format!("health {:?}; rsyslog log:\n{}", t.health, rs.log_tail()));
    }
    if mode == RsyslogMode::Publish {
        assert!(
            t.notices.iter().any(|n| n.contains("re-subscribed")),
            "the operator is told Pub/Sub lost what was sent meanwhile: {:?}",
            t.notices
        );
    }
    let health = &t.health;
    let retry_at = health
        .iter()
        .position(|h| matches!(h, Health::Retrying { .. }))
        .unwrap();
    assert!(
        health[retry_at..].contains(&Health::Live),
        "Retrying then Live: {health:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_mode_survives_redis_restart() {
    restart_and_resume(RsyslogMode::Publish).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_mode_survives_redis_restart() {
    restart_and_resume(RsyslogMode::Queue).await;
}

// ---------------------------------------------------------------------------------------------
// Elasticsearch and Loki (the contract server)

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

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
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
    /// Replies served instead of an aggregation, first in first out.
    scripted_aggs: Vec<Reply>,
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
        if req.json().get("aggs").is_some() {
            return self.aggregate(req);
        }
        if !self.scripted.is_empty() {
            return self.scripted.remove(0);
        }
        let body = req.json();
        let gte = match &body.pointer("/query/range/@timestamp/gte") {
            Some(Value::Number(n)) => n.as_i64().unwrap(),
            Some(Value::String(s)) if s == "now-1h" => now_ms() - 3_600_000,
            other => return Reply::json(400, &es_error(&format!("unsupported gte {other:?}"))),
        };
        // The time cursor's window around a moment ends before `lt` (ES excludes it).
        let lt = body
            .pointer("/query/range/@timestamp/lt")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX);
        let desc = body.pointer("/sort/0/@timestamp/order") == Some(&json!("desc"));
        let size = body["size"].as_u64().unwrap_or(10) as usize;
        let from = body["from"].as_u64().unwrap_or(0) as usize;
        let mut docs: Vec<&Doc> = self
            .docs
            .iter()
            .filter(|d| d.ts >= gte && d.ts < lt)
            .collect();
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
    assert!(l[0].fields.contains("label.job", "syslog"));

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

// ---------------------------------------------------------------------------------------------
// The time cursor with Elasticsearch: `:at` reads the window around its moment from the server

/// The `_search` requests whose range is [from, to) in epoch millis.
fn searched(server: &HttpServer, from: i64, to: i64) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| {
            let range = r.json().pointer("/query/range/@timestamp").cloned();
            range.is_some_and(|g| g["gte"] == json!(from) && g["lt"] == json!(to))
        })
        .count()
}

/// Applies the headless console's messages until `done` (or fails after 10 s, saying `what`).
async fn pump(
    h: &mut common::headless::Headless,
    what: &str,
    done: fn(&common::headless::Headless) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(h) {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        if let Ok(Some(m)) = h.next(Duration::from_millis(200)).await {
            h.apply(m);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_cursor_reads_elasticsearch_around_its_moment_and_again_at_each_step() {
    use common::headless::Headless;
    use opsconsole::model::SourceKind;

    let es = Arc::new(Mutex::new(Es::default()));
    let now = now_ms();
    // Two hours ago: older than the live tail's hour, so only a read around the moment has them.
    let at_ms = now - 2 * 3_600_000;
    {
        let mut e = es.lock().unwrap();
        e.add("b", at_ms - 120_000, "around: two minutes before");
        e.add("m", at_ms, "around: the moment");
        e.add("a", at_ms + 60_000, "around: a minute after");
        // Outside the ±5 min window: never shown at the moment.
        e.add("far", at_ms + 20 * 60_000, "twenty minutes after");
        e.add("live", now - 1000, "live");
    }
    let server = es_server(es.clone()).await;
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"], prefix = \"/services/\" }}\n\
         logs = {{ kind = \"elasticsearch\", url = \"{}\", interval_secs = 1 }}\n",
        server.url()
    );
    let profile = opsconsole::config::Config::parse(&toml, std::path::Path::new("/t/c.toml"))
        .expect("profile")
        .cluster("t")
        .expect("cluster t")
        .clone();
    let mut h = Headless::with(profile, |s| s.zone = opsconsole::model::DisplayZone::Utc);
    pump(&mut h, "the live tail", |h| {
        h.state().health_of(SourceKind::Logs) == Some(&Health::Live)
            && h.state()
                .logs
                .selected()
                .is_some_and(|l| l.message == "live")
    })
    .await;
    let selected = |h: &Headless| {
        h.state()
            .logs
            .selected()
            .map(|l| l.message.clone())
            .unwrap_or_default()
    };
    let messages = |h: &Headless| -> Vec<String> {
        h.state()
            .logs
            .visible()
            .map(|(l, _)| l.message.clone())
            .collect()
    };

    let at = chrono::DateTime::from_timestamp_millis(at_ms).expect("a time");
    h.tick();
    h.press(":");
    h.type_text(&format!(
        "at {}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    ));
    h.press("enter");
    assert_eq!(h.state().time.at, Some(at));
    pump(&mut h, "the read around the moment", |h| {
        h.state().logs.pending_jump.is_none()
    })
    .await;
    // Asked for [at − 5 min, at + 5 min), and the pane stands on the moment's line.
    assert_eq!(
        searched(&server, at_ms - 300_000, at_ms + 300_000),
        1,
        "{:#?}",
        server
            .requests()
            .iter()
            .map(Request::json)
            .collect::<Vec<_>>()
    );
    assert_eq!(selected(&h), "around: the moment");
    assert!(!messages(&h).iter().any(|m| m == "twenty minutes after"));
    // `]`: a minute later, read again around the new moment.
    h.press("]");
    let later = at_ms + 60_000;
    assert_eq!(h.state().time.at.map(|t| t.timestamp_millis()), Some(later));
    pump(&mut h, "the read around the next moment", |h| {
        h.state().logs.pending_jump.is_none()
    })
    .await;
    assert_eq!(searched(&server, later - 300_000, later + 300_000), 1);
    assert_eq!(selected(&h), "around: a minute after");
    // Live again: the tail follows, and a line written now is the one the pane stands on.
    h.press("esc");
    assert_eq!(h.state().time.at, None);
    assert!(h.state().logs.follow);
    es.lock().unwrap().add("new", now_ms(), "live again");
    pump(&mut h, "the new live line, followed", |h| {
        h.state()
            .logs
            .selected()
            .is_some_and(|l| l.message == "live again")
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The histogram's aggregations (CONTRACTS.md §6.4), served as Elasticsearch and Loki answer them;
// a request of another shape is refused the way the real server refuses it.

/// `30s`, `1m`, `1h`, `1d` in seconds (Elasticsearch `fixed_interval`, a LogQL range).
fn span_secs(s: &str) -> Option<i64> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    Some(
        n * match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return None,
        },
    )
}

fn rfc3339_ms(v: &Value) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v.as_str()?)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// `terms` buckets of `(key, count)`, most first, ties by key (as Elasticsearch orders them).
fn es_terms(counts: HashMap<String, u64>, size: usize) -> Value {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: u64 = v.iter().skip(size).map(|(_, n)| n).sum();
    let buckets: Vec<Value> = v
        .into_iter()
        .take(size)
        .map(|(k, n)| json!({"key": k, "doc_count": n}))
        .collect();
    json!({"doc_count_error_upper_bound": 0, "sum_other_doc_count": rest, "buckets": buckets})
}

impl Es {
    fn add_doc(&mut self, ts: i64, host: &str, program: &str, severity: &str, message: &str) {
        let id = format!("h{}", self.docs.len());
        self.add(&id, ts, message);
        let d = self.docs.last_mut().unwrap();
        d.host = host.into();
        d.program = program.into();
        d.severity = severity.into();
    }

    /// A `size: 0` search with `aggs`: checked against the documented shape, then answered.
    fn aggregate(&mut self, req: &Request) -> Reply {
        if !self.scripted_aggs.is_empty() {
            return self.scripted_aggs.remove(0);
        }
        let b = req.json();
        let bad = |why: &str| Reply::json(400, &es_error(why));
        if b["size"] != json!(0) {
            return bad("an aggregation search asks for no hits (size 0)");
        }
        let range = &b["query"]["bool"]["filter"][0]["range"]["@timestamp"];
        let (Some(gte), Some(lt)) = (rfc3339_ms(&range["gte"]), rfc3339_ms(&range["lt"])) else {
            return bad("expected a range filter on @timestamp with RFC 3339 gte and lt");
        };
        let hist = &b["aggs"]["over_time"]["date_histogram"];
        if hist.get("interval").is_some() {
            return bad("[interval] is not supported: use [fixed_interval] or [calendar_interval]");
        }
        let Some(step) = hist["fixed_interval"].as_str().and_then(span_secs) else {
            return bad("date_histogram needs a fixed_interval like 1m");
        };
        if hist["field"] != json!("@timestamp") || hist["min_doc_count"] != json!(0) {
            return bad("expected field @timestamp and min_doc_count 0");
        }
        let bounds = &hist["extended_bounds"];
        let (Some(min), Some(max)) = (rfc3339_ms(&bounds["min"]), rfc3339_ms(&bounds["max"]))
        else {
            return bad("expected extended_bounds with min and max");
        };
        let Some(zone) = hist["time_zone"]
            .as_str()
            .and_then(|z| z.parse::<chrono_tz::Tz>().ok())
        else {
            return bad("expected a time_zone (an IANA name)");
        };
        let text_field = |agg: &Value| {
            agg["terms"]["field"]
                .as_str()
                .is_some_and(|f| !f.ends_with(".keyword"))
        };
        let sev_agg = &b["aggs"]["over_time"]["aggs"]["sev"];
        let tops = b["aggs"]
            .get("errors")
            .map(|e| &e["aggs"])
            .unwrap_or(&b["aggs"]);
        for agg in [sev_agg, &tops["hosts"], &tops["programs"]] {
            if agg.is_null() || text_field(agg) {
                return bad("Text fields are not optimised for operations that require per-document field data like aggregations and sorting, so these operations are disabled by default. Please use a keyword field instead.");
            }
        }
        let errors_only: Option<Vec<String>> = b["aggs"].get("errors").map(|e| {
            e["filter"]["terms"]["severity.keyword"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        });
        let docs: Vec<&Doc> = self
            .docs
            .iter()
            .filter(|d| d.ts >= gte && d.ts < lt)
            .collect();
        // Buckets aligned on the step in the zone, from the bounds (min_doc_count 0).
        let key_of = |ms: i64| {
            let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
            use chrono::{Offset, TimeZone};
            let off = zone
                .offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc() as i64
                * 1000;
            (ms + off).div_euclid(step * 1000) * step * 1000 - off
        };
        let mut buckets = Vec::new();
        let mut key = key_of(min);
        while key <= max {
            let next = key + step * 1000;
            let mut sev: HashMap<String, u64> = HashMap::new();
            let mut n = 0;
            for d in docs.iter().filter(|d| d.ts >= key && d.ts < next) {
                n += 1;
                *sev.entry(d.severity.clone()).or_default() += 1;
            }
            buckets.push(json!({"key": key, "key_as_string": chrono::DateTime::from_timestamp_millis(key).unwrap().to_rfc3339(),
                                "doc_count": n, "sev": es_terms(sev, 16)}));
            key = next;
        }
        let size = |agg: &Value| agg["terms"]["size"].as_u64().unwrap_or(10) as usize;
        let mut hosts: HashMap<String, u64> = HashMap::new();
        let mut programs: HashMap<String, u64> = HashMap::new();
        for d in docs
            .iter()
            .filter(|d| errors_only.as_ref().is_none_or(|e| e.contains(&d.severity)))
        {
            *hosts.entry(d.host.clone()).or_default() += 1;
            *programs.entry(d.program.clone()).or_default() += 1;
        }
        let top = json!({"hosts": es_terms(hosts, size(&tops["hosts"])),
                         "programs": es_terms(programs, size(&tops["programs"]))});
        let mut aggregations = json!({"over_time": {"buckets": buckets}});
        if errors_only.is_some() {
            aggregations["errors"] = top;
        } else {
            aggregations["hosts"] = top["hosts"].clone();
            aggregations["programs"] = top["programs"].clone();
        }
        let (failed, failures) = match &self.failed_shards {
            Some(reason) => (
                1,
                json!([{"shard": 0, "index": "logstash-old", "reason": {"type": "illegal_argument_exception", "reason": reason}}]),
            ),
            None => (0, json!([])),
        };
        Reply::json(
            200,
            &json!({"took": 5, "timed_out": false,
                    "_shards": {"total": 4, "successful": 4 - failed, "skipped": 0, "failed": failed, "failures": failures},
                    "hits": {"total": {"value": docs.len().min(10_000), "relation": if docs.len() > 10_000 { "gte" } else { "eq" }}, "max_score": null, "hits": []},
                    "aggregations": aggregations}),
        )
    }
}

/// The console laid out at `w`×`h` as the app does before a frame: the reducer learns the panes'
/// sizes, and what it asks for then (the histogram's query) goes to the sources.
fn lay_out(h: &mut common::headless::Headless, w: u16, ht: u16) {
    let v = opsconsole::ui::layout::viewports(ratatui::layout::Rect::new(0, 0, w, ht), h.state());
    h.core.handle(opsconsole::core::Event::Layout(v));
}

fn es_profile(url: &str) -> opsconsole::config::ClusterProfile {
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"], prefix = \"/services/\" }}\n\
         logs = {{ kind = \"elasticsearch\", url = \"{url}\", interval_secs = 1 }}\n"
    );
    opsconsole::config::Config::parse(&toml, std::path::Path::new("/t/c.toml"))
        .expect("profile")
        .cluster("t")
        .expect("cluster t")
        .clone()
}

/// The aggregation requests the server was sent.
fn agg_requests(server: &HttpServer) -> Vec<Value> {
    server
        .requests()
        .iter()
        .map(Request::json)
        .filter(|b| b.get("aggs").is_some())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_histogram_from_aggregations_with_a_shard_clash() {
    use common::headless::{screen, Headless};

    let es = Arc::new(Mutex::new(Es::default()));
    let now = now_ms();
    {
        let mut e = es.lock().unwrap();
        // Quiet traffic for the hour (55 minutes of it: all inside the window, wherever its end
        // falls), and a burst of errors from web-1 and web-2 20 minutes ago, inside one minute.
        let burst = (now - 20 * 60_000).div_euclid(60_000) * 60_000 + 10_000;
        for m in 0..55 {
            for (host, program) in [
                ("web-1", "nginx"),
                ("db-1", "postgres"),
                ("cache-1", "redis"),
            ] {
                e.add_doc(now - m * 60_000 - 5_000, host, program, "info", "ok");
            }
        }
        for i in 0..40 {
            let host = if i % 2 == 0 { "web-1" } else { "web-2" };
            e.add_doc(burst + i * 100, host, "app", "err", "upstream timed out");
        }
        e.failed_shards =
            Some("can't merge a non object mapping [host] with an object mapping".into());
    }
    let server = es_server(es.clone()).await;
    let mut h = Headless::with(es_profile(&server.url()), |s| {
        s.zone = opsconsole::model::DisplayZone::Utc
    });
    lay_out(&mut h, 200, 50);
    h.press(":");
    h.type_text("hist");
    h.press("enter");
    assert!(h.state().logs.hist.open);
    lay_out(&mut h, 200, 50);
    pump(&mut h, "the histogram's answer", |h| {
        h.state().logs.hist.remote.shown.is_some()
    })
    .await;
    let reqs = agg_requests(&server);
    assert!(!reqs.is_empty());
    let b = &reqs[0];
    let hist = &b["aggs"]["over_time"]["date_histogram"];
    assert_eq!(hist["fixed_interval"], json!("1m"), "1h over ~60 columns");
    assert_eq!(hist["min_doc_count"], json!(0));
    assert_eq!(hist["time_zone"], json!("UTC"));
    assert!(
        hist["extended_bounds"]["min"].is_string() && hist["extended_bounds"]["max"].is_string()
    );
    assert_eq!(b["aggs"]["hosts"]["terms"]["field"], json!("host.keyword"));
    assert_eq!(
        b["aggs"]["programs"]["terms"]["field"],
        json!("program.keyword")
    );
    assert_eq!(
        b["aggs"]["over_time"]["aggs"]["sev"]["terms"]["field"],
        json!("severity.keyword")
    );
    {
        let s = h.state();
        let v = s.logs.hist.view().expect("a histogram");
        assert_eq!(v.buckets.n, 60);
        assert_eq!(v.total, 55 * 3 + 40, "summed from the buckets");
        let totals: Vec<u64> = v.counts.iter().map(|c| c.iter().sum()).collect();
        let tallest = (0..v.buckets.n).max_by_key(|i| totals[*i]).unwrap();
        assert_eq!(v.counts[tallest][1], 40, "the burst's errors in one bucket");
        let hosts: Vec<&str> = v.hosts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(hosts[0], "web-1");
        assert!(v.approximate);
        assert!(v.notice.unwrap().contains("1 of 4 shards failed"));
    }
    let text = screen(h.state_mut(), 200, 50);
    assert!(text.contains("≈75"), "terms counts marked ≈:\n{text}");
    assert!(text.contains("shards failed"), "{text}");
    // Tab until the logs pane has the keys? It has them already (:hist focused it). `!`: the top
    // lists of the errors, under a filter aggregation.
    h.press("!");
    lay_out(&mut h, 200, 50);
    pump(&mut h, "the errors-only answer", |h| {
        h.state()
            .logs
            .hist
            .remote
            .shown
            .as_ref()
            .is_some_and(|(q, _)| q.errors_only)
    })
    .await;
    let last = agg_requests(&server).pop().unwrap();
    assert!(last["aggs"]["errors"]["filter"]["terms"]["severity.keyword"].is_array());
    let hosts: Vec<(String, u64)> = h
        .state()
        .logs
        .hist
        .view()
        .unwrap()
        .hosts
        .iter()
        .map(|t| (t.name.clone(), t.count))
        .collect();
    assert_eq!(
        hosts,
        [("web-1".to_string(), 20), ("web-2".to_string(), 20)]
    );
    // A malformed answer: said in the pane, nothing panics, the last good answer stays.
    es.lock().unwrap().scripted_aggs.push(Reply::json(
        200,
        &json!({"aggregations": {"over_time": "nope"}}),
    ));
    h.press("+");
    lay_out(&mut h, 200, 50);
    pump(&mut h, "the malformed answer's message", |h| {
        h.state().logs.hist.remote.error.is_some()
    })
    .await;
    let err = h.state().logs.hist.remote.error.clone().unwrap();
    assert!(err.contains("over_time.buckets"), "{err}");
    let text = screen(h.state_mut(), 200, 50);
    assert!(text.contains("over_time"), "{text}");
}

impl Loki {
    /// Lines of the streams whose labels the selector `{k="v", …}` matches, in [from, to) ns.
    fn selected(&self, selector: &str, from: i128, to: i128) -> Vec<(&Value, i128)> {
        let inner = selector
            .trim()
            .trim_start_matches('{')
            .trim_end_matches('}');
        let matchers: Vec<(String, String)> = inner
            .split(',')
            .filter_map(|m| {
                let (k, v) = m.split_once('=')?;
                Some((k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            })
            .collect();
        self.streams
            .iter()
            .filter(|(labels, _)| {
                matchers
                    .iter()
                    .all(|(k, v)| labels.get(k).and_then(Value::as_str) == Some(v.as_str()))
            })
            .flat_map(|(labels, v)| {
                v.iter()
                    .filter(move |(ns, _)| *ns >= from && *ns < to)
                    .map(move |(ns, _)| (labels, *ns))
            })
            .collect()
    }

    /// `sum by (level, detected_level) (count_over_time({…} [STEP]))` with `step`: a matrix,
    /// each point at `t` counting `[t − STEP, t)`, points without lines absent.
    fn metric_range(&self, req: &Request) -> Reply {
        let q = |k: &str| req.query.get(k).cloned().unwrap_or_default();
        let re = regex::Regex::new(
            r"^sum by \(([a-z_, ]+)\) \(count_over_time\((\{[^}]*\}) \[(\d+[smhd])\]\)\)$",
        )
        .unwrap();
        let query = q("query");
        let Some(c) = re.captures(&query) else {
            return Reply::text(400, "parse error: not the histogram's metric query");
        };
        let (Ok(start), Ok(end), Ok(step)) = (
            q("start").parse::<i128>(),
            q("end").parse::<i128>(),
            q("step").parse::<i64>(),
        ) else {
            return Reply::text(400, "invalid start, end or step");
        };
        if span_secs(&c[3]) != Some(step) {
            return Reply::text(
                400,
                "the range differs from the step: buckets would overlap",
            );
        }
        let by: Vec<&str> = c[1].split(',').map(str::trim).collect();
        let step_ns = step as i128 * 1_000_000_000;
        let mut series: Vec<(Value, Vec<Value>)> = Vec::new();
        let mut t = start;
        while t <= end {
            let mut per: Vec<(Value, u64)> = Vec::new();
            for (labels, _) in self.selected(&c[2], t - step_ns, t) {
                let metric: serde_json::Map<String, Value> = by
                    .iter()
                    .filter_map(|l| Some((l.to_string(), labels.get(*l)?.clone())))
                    .collect();
                let metric = Value::Object(metric);
                match per.iter_mut().find(|(m, _)| *m == metric) {
                    Some((_, n)) => *n += 1,
                    None => per.push((metric, 1)),
                }
            }
            for (metric, n) in per {
                let point = json!([(t / 1_000_000_000) as i64, n.to_string()]);
                match series.iter_mut().find(|(m, _)| *m == metric) {
                    Some((_, v)) => v.push(point),
                    None => series.push((metric, vec![point])),
                }
            }
            t += step_ns;
        }
        let result: Vec<Value> = series
            .into_iter()
            .map(|(m, v)| json!({"metric": m, "values": v}))
            .collect();
        Reply::json(
            200,
            &json!({"status": "success", "data": {"resultType": "matrix", "result": result, "stats": {}}}),
        )
    }

    /// `topk(5, sum by (host) (count_over_time({…}[ | level=~"…" or …] [WINDOW])))` at `time`: a
    /// vector. A log query here is refused, as Loki refuses it.
    fn instant(&self, req: &Request) -> Reply {
        let q = |k: &str| req.query.get(k).cloned().unwrap_or_default();
        let re = regex::Regex::new(
            r#"^topk\((\d+), sum by \((\w+)\) \(count_over_time\((\{[^}]*\})( \| [a-z_]+=~"[^"]+"( or [a-z_]+=~"[^"]+")*)? \[(\d+[smhd])\]\)\)\)$"#,
        )
        .unwrap();
        let query = q("query");
        let Some(c) = re.captures(&query) else {
            return Reply::text(
                400,
                "log queries are not supported as an instant query type, please change your query to a range query type",
            );
        };
        let (Ok(k), Ok(time), Some(window)) = (
            c[1].parse::<usize>(),
            q("time").parse::<i128>(),
            span_secs(&c[6]),
        ) else {
            return Reply::text(400, "invalid k, time or range");
        };
        let label = &c[2];
        let errors_only = c.get(4).is_some();
        let error_level = |labels: &Value| {
            ["level", "detected_level"].iter().any(|l| {
                labels
                    .get(*l)
                    .and_then(Value::as_str)
                    .is_some_and(|v| ["err", "error", "crit", "critical"].contains(&v))
            })
        };
        let mut counts: HashMap<String, u64> = HashMap::new();
        for (labels, _) in self.selected(&c[3], time - window as i128 * 1_000_000_000, time) {
            if errors_only && !error_level(labels) {
                continue;
            }
            if let Some(v) = labels.get(label).and_then(Value::as_str) {
                *counts.entry(v.to_string()).or_default() += 1;
            }
        }
        let mut v: Vec<(String, u64)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let result: Vec<Value> = v
            .into_iter()
            .take(k)
            .map(|(name, n)| {
                json!({"metric": {label: name}, "value": [(time / 1_000_000_000) as i64, n.to_string()]})
            })
            .collect();
        Reply::json(
            200,
            &json!({"status": "success", "data": {"resultType": "vector", "result": result, "stats": {}}}),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loki_histogram_from_metric_queries() {
    use common::headless::{screen, Headless};

    let loki = Arc::new(Mutex::new(Loki::default()));
    let now = now_ns();
    let min = 60_000_000_000i128;
    {
        let mut l = loki.lock().unwrap();
        for m in 0..55 {
            l.push(
                json!({"job": "syslog", "host": "db-1", "program": "postgres", "level": "info"}),
                now - m * min - 5_000_000_000,
                "ok",
            );
            // No level label at all: counted as other.
            l.push(
                json!({"job": "syslog", "host": "cache-1", "program": "redis"}),
                now - m * min - 7_000_000_000,
                "ok",
            );
        }
        for i in 0..30i128 {
            let host = if i % 2 == 0 { "web-1" } else { "web-2" };
            // Loki 3 without a level label of the shipper's: detected_level.
            l.push(
                json!({"job": "syslog", "host": host, "program": "app", "detected_level": "error"}),
                now - 20 * min + i * 1_000_000,
                "upstream timed out",
            );
        }
        // Another job: never counted.
        l.push(json!({"job": "other", "host": "x"}), now - min, "elsewhere");
    }
    let lk = loki.clone();
    let server = HttpServer::start(Arc::new(move |req: &Request| {
        let l = lk.lock().unwrap();
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/loki/api/v1/query_range") if req.query.contains_key("step") => {
                l.metric_range(req)
            }
            ("GET", "/loki/api/v1/query_range") => {
                drop(l);
                lk.lock().unwrap().query_range(req)
            }
            ("GET", "/loki/api/v1/query") => l.instant(req),
            _ => Reply::text(404, "404 page not found"),
        }
    }))
    .await;
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"], prefix = \"/services/\" }}\n\
         logs = {{ kind = \"loki\", url = \"{}\", query = '{{job=\"syslog\"}}', tenant = \"team-a\", interval_secs = 1 }}\n",
        server.url()
    );
    let profile = opsconsole::config::Config::parse(&toml, std::path::Path::new("/t/c.toml"))
        .expect("profile")
        .cluster("t")
        .expect("cluster t")
        .clone();
    let mut h = Headless::with(profile, |s| s.zone = opsconsole::model::DisplayZone::Utc);
    lay_out(&mut h, 200, 50);
    h.press(":");
    h.type_text("hist");
    h.press("enter");
    lay_out(&mut h, 200, 50);
    pump(&mut h, "the histogram's answer", |h| {
        h.state().logs.hist.remote.shown.is_some() || h.state().logs.hist.remote.error.is_some()
    })
    .await;
    assert_eq!(h.state().logs.hist.remote.error, None);
    let reqs = server.requests();
    let range = reqs
        .iter()
        .find(|r| r.path == "/loki/api/v1/query_range" && r.query.contains_key("step"))
        .expect("a metric query_range");
    assert_eq!(
        range.query["query"],
        r#"sum by (level, detected_level) (count_over_time({job="syslog"} [1m]))"#
    );
    assert_eq!(range.query["step"], "60");
    assert_eq!(range.header("x-scope-orgid"), Some("team-a"));
    let tops: Vec<&String> = reqs
        .iter()
        .filter(|r| r.path == "/loki/api/v1/query")
        .map(|r| &r.query["query"])
        .collect();
    assert!(
        tops.contains(
            &&r#"topk(5, sum by (host) (count_over_time({job="syslog"} [1h])))"#.to_string()
        ),
        "{tops:?}"
    );
    assert!(
        tops.contains(
            &&r#"topk(5, sum by (program) (count_over_time({job="syslog"} [1h])))"#.to_string()
        ),
        "{tops:?}"
    );
    {
        let v = h.state().logs.hist.view().unwrap();
        assert_eq!(v.total, 55 * 2 + 30);
        let errs: u64 = v.counts.iter().map(|c| c[1]).sum();
        assert_eq!(errs, 30, "detected_level read when level is absent");
        let other: u64 = v.counts.iter().map(|c| c[3]).sum();
        assert_eq!(other, 55 * 2, "info and lines without a level");
        let hosts: Vec<&str> = v.hosts.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(hosts, ["cache-1", "db-1", "web-1", "web-2"]);
        assert!(!v.approximate);
    }
    let text = screen(h.state_mut(), 200, 50);
    assert!(
        text.contains("TOP PROGRAMS") && text.contains("postgres"),
        "{text}"
    );
    // `!`: the top lists of error lines only.
    h.press("!");
    lay_out(&mut h, 200, 50);
    pump(&mut h, "the errors-only answer", |h| {
        h.state()
            .logs
            .hist
            .remote
            .shown
            .as_ref()
            .is_some_and(|(q, _)| q.errors_only)
    })
    .await;
    let hosts: Vec<(String, u64)> = h
        .state()
        .logs
        .hist
        .view()
        .unwrap()
        .hosts
        .iter()
        .map(|t| (t.name.clone(), t.count))
        .collect();
    assert_eq!(
        hosts,
        [("web-1".to_string(), 15), ("web-2".to_string(), 15)]
    );
}

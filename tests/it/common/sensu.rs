//! A Sensu contract server for the checks tests: a small HTTP/1.1 responder (`fake`) that serves
//! the shapes in CONTRACTS.md §2 and records every request (method, path + query, headers, body),
//! and the Sensu Go (`GoFake`: events, silenced entries, API key, username/password with access
//! and refresh tokens on a clock the test moves) and Sensu Core 1.x (`CoreFake`) backends it plays;
//! the profiles and silence requests the tests send, and the source's channel as a test reads it.
//! No Sensu server installs on Debian, so this stands in for one; Alertmanager is the real one.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use base64::Engine as _;
use opsconsole::audit::AuditLog;
use opsconsole::config::{ChecksProfile, Config};
use opsconsole::model::{
    AuditEntry, Command, Gated, Msg, Mutation, Phase, SilenceRequest, SilenceScope,
};
use opsconsole::sources::checks::{sensu_go, Backend};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::wait::recv_until;
use fake::{Reply, Req, Server};

pub const KEY: &str = "8f2b0c1e-4d7a-4c55-9b1e-2f6a7d3c9e10";

pub const KEY_VAR: &str = "OPSC_TEST_SENSU_API_KEY";

pub const USER: &str = "ops";

pub const PW: &str = "s3cret pass";

pub const PW_VAR: &str = "OPSC_TEST_SENSU_PASSWORD";

pub const NS: &str = "default";

pub const EVENTS: &str = "/api/core/v2/namespaces/default/events";

pub const SILENCED: &str = "/api/core/v2/namespaces/default/silenced";

pub mod fake {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::task::JoinHandle;

    /// One request as the server saw it.
    #[derive(Debug, Clone)]
    pub struct Req {
        pub method: String,
        /// Path and query exactly as sent (still percent-encoded).
        pub target: String,
        /// Lower-cased names.
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Req {
        /// The raw (encoded) path.
        pub fn path(&self) -> &str {
            self.target.split('?').next().unwrap_or("")
        }

        /// A query parameter, decoded.
        pub fn query(&self, name: &str) -> Option<String> {
            let q = self.target.split_once('?')?.1;
            q.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (k == name).then(|| urlencoding::decode(v).expect("query is UTF-8").into_owned())
            })
        }

        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k == &name.to_ascii_lowercase())
                .map(|(_, v)| v.as_str())
        }

        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap_or_else(|e| {
                panic!(
                    "{} {} body is not JSON ({e}): {:?}",
                    self.method, self.target, self.body
                )
            })
        }
    }

    pub enum Reply {
        Full {
            status: u16,
            headers: Vec<(String, String)>,
            body: Vec<u8>,
        },
        /// Read the request, never answer.
        Hang,
        /// 200 with `bytes` of JSON-ish filler, written 1 MiB at a time (chunked, or with a
        /// Content-Length header).
        Stream { bytes: usize, content_length: bool },
        /// Declares `declared` bytes, sends `body`, closes.
        ShortBody { declared: usize, body: Vec<u8> },
    }

    impl Reply {
        pub fn json(status: u16, v: &serde_json::Value) -> Reply {
            Reply::raw(status, "application/json", serde_json::to_vec(v).unwrap())
        }

        pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
            Reply::Full {
                status,
                headers: vec![("content-type".into(), content_type.into())],
                body: body.into(),
            }
        }

        pub fn empty(status: u16) -> Reply {
            Reply::Full {
                status,
                headers: vec![],
                body: vec![],
            }
        }

        pub fn with_header(mut self, name: &str, value: &str) -> Reply {
            if let Reply::Full { headers, .. } = &mut self {
                headers.push((name.into(), value.into()));
            }
            self
        }
    }

    type Handler = dyn Fn(&Req) -> Reply + Send + Sync;

    pub struct Server {
        pub url: String,
        log: Arc<Mutex<Vec<Req>>>,
        task: JoinHandle<()>,
    }

    impl Server {
        pub async fn start(handler: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let url = format!("http://{}", listener.local_addr().unwrap());
            let log = Arc::new(Mutex::new(Vec::new()));
            let handler: Arc<Handler> = Arc::new(handler);
            let l = log.clone();
            let task = tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    tokio::spawn(connection(sock, handler.clone(), l.clone()));
                }
            });
            Server { url, log, task }
        }

        pub fn requests(&self) -> Vec<Req> {
            self.log.lock().unwrap().clone()
        }

        /// Returns and forgets what was recorded so far.
        pub fn take(&self) -> Vec<Req> {
            std::mem::take(&mut *self.log.lock().unwrap())
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    fn reason(status: u16) -> &'static str {
        match status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            500 => "Internal Server Error",
            503 => "Service Unavailable",
            _ => "Whatever",
        }
    }

    async fn connection(sock: TcpStream, handler: Arc<Handler>, log: Arc<Mutex<Vec<Req>>>) {
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split(' ');
            let method = parts.next().unwrap_or("").to_string();
            let target = parts.next().unwrap_or("").to_string();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).await.unwrap_or(0) == 0 {
                    return;
                }
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let len = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            if r.read_exact(&mut body).await.is_err() {
                return;
            }
            let req = Req {
                method,
                target,
                headers,
                body,
            };
            log.lock().unwrap().push(req.clone());
            match handler(&req) {
                Reply::Full {
                    status,
                    headers,
                    body,
                } => {
                    let mut head = format!(
                        "HTTP/1.1 {status} {}\r\ncontent-length: {}\r\n",
                        reason(status),
                        body.len()
                    );
                    for (k, v) in headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    if w.write_all(head.as_bytes()).await.is_err()
                        || w.write_all(&body).await.is_err()
                    {
                        return;
                    }
                }
                Reply::Hang => {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return;
                }
                Reply::Stream {
                    bytes,
                    content_length,
                } => {
                    let head = if content_length {
                        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {bytes}\r\n\r\n")
                    } else {
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_string()
                    };
                    if w.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let mut chunk = vec![b' '; 1 << 20];
                    chunk[0] = b'[';
                    let mut sent = 0;
                    while sent < bytes {
                        let n = chunk.len().min(bytes - sent);
                        let ok = if content_length {
                            w.write_all(&chunk[..n]).await.is_ok()
                        } else {
                            w.write_all(format!("{n:x}\r\n").as_bytes()).await.is_ok()
                                && w.write_all(&chunk[..n]).await.is_ok()
                                && w.write_all(b"\r\n").await.is_ok()
                        };
                        if !ok {
                            return; // the client hung up, as it should past the cap
                        }
                        chunk[0] = b' ';
                        sent += n;
                    }
                    if !content_length {
                        let _ = w.write_all(b"0\r\n\r\n").await;
                    }
                    return;
                }
                Reply::ShortBody { declared, body } => {
                    let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\n\r\n");
                    let _ = w.write_all(head.as_bytes()).await;
                    let _ = w.write_all(&body).await;
                    return;
                }
            }
        }
    }
}

pub fn set_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_var(KEY_VAR, KEY);
        std::env::set_var(PW_VAR, PW);
    });
}

pub fn profile(kind: &str, url: &str, extra: &str) -> ChecksProfile {
    set_env();
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"] }}\nchecks = {{ kind = \"{kind}\", url = \"{url}/\"{extra} }}\n"
    );
    let config = Config::parse(&toml, Path::new("/test/config.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{toml}"));
    config
        .cluster("t")
        .unwrap()
        .checks
        .clone()
        .expect("checks profile")
}

pub fn go_key(url: &str) -> ChecksProfile {
    profile(
        "sensu-go",
        url,
        &format!(", api_key_env = \"{KEY_VAR}\", timeout_secs = 5"),
    )
}

pub fn go_user(url: &str) -> ChecksProfile {
    profile(
        "sensu-go",
        url,
        &format!(", user = \"{USER}\", password_env = \"{PW_VAR}\", timeout_secs = 5"),
    )
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A clock only the test moves: it starts at the real time and then stands still until the test
/// advances it, so a token's life passes for the source and its contract server alike, exactly
/// when the test says (a loaded machine cannot make a second pass between two requests).
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl Default for TestClock {
    fn default() -> Self {
        TestClock(Arc::new(AtomicI64::new(
            chrono::Utc::now().timestamp_millis(),
        )))
    }
}

impl TestClock {
    /// Seconds since the epoch, as the source and the server see it.
    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst).div_euclid(1000)
    }

    /// `d` passes.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).expect("a test-sized duration");
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// The source's view of this clock.
    pub fn reader(&self) -> sensu_go::Clock {
        let clock = self.clone();
        Arc::new(move || clock.now())
    }
}

pub fn request(
    scope: SilenceScope,
    duration: Option<Duration>,
    expire_on_resolve: bool,
) -> SilenceRequest {
    SilenceRequest {
        cluster: Default::default(),
        scope,
        duration,
        expire_on_resolve,
        reason: "disk swap on web-1".into(),
        creator: "alice@opsconsole".into(),
    }
}

pub fn on_entity() -> SilenceScope {
    SilenceScope::CheckOnEntity {
        entity: "web-1".into(),
        check: "check_http".into(),
    }
}

/// A Sensu Go event as documented, with a 21-entry history (18 OK, then `status` three times).
pub fn go_event(entity: &str, check: &str, status: i64, t: i64) -> Value {
    let history: Vec<Value> = (0..21)
        .map(|i| json!({"status": if i < 18 { 0 } else { status }, "executed": t - (20 - i) * 60}))
        .collect();
    json!({
        "timestamp": t, "id": format!("{entity}-{check}"), "sequence": 21,
        "metadata": {"namespace": NS},
        "entity": {"metadata": {"name": entity, "namespace": NS, "labels": {}},
                   "entity_class": "agent", "subscriptions": ["linux", format!("entity:{entity}")],
                   "last_seen": t, "deregister": false, "system": {"hostname": entity, "os": "linux"}},
        "check": {"metadata": {"name": check, "namespace": NS},
                  "status": status, "state": if status == 0 { "passing" } else { "failing" },
                  "output": format!("{check} says {status}\nsecond line\n"),
                  "issued": t, "executed": t, "duration": 0.25, "interval": 60,
                  "last_ok": if status == 0 { t } else { t - 180 }, "occurrences": 3, "occurrences_watermark": 3,
                  "history": history, "subscriptions": ["linux"], "handlers": [], "total_state_change": 0,
                  "is_silenced": false, "processed_by": entity},
        "pipelines": []
    })
}

pub struct GoFake {
    pub events: Vec<Value>,
    pub silenced: BTreeMap<String, Value>,
    /// `Authorization: Key …` accepted when set.
    pub api_key: Option<String>,
    /// Lifetime of the tokens /auth and /auth/token hand out.
    pub lifetime: i64,
    /// access token → expires_at; removed when revoked.
    pub tokens: HashMap<String, i64>,
    /// refresh token → the access token it belongs to.
    pub refresh: HashMap<String, String>,
    pub issued: u32,
    /// Answer everything with 503 (a backend that is down).
    pub down: bool,
    /// Hand out this `expires_at` instead of now + lifetime.
    pub expires_at: Option<i64>,
    /// Answer `PUT /silenced/{name}` with 201 but keep nothing (an entry that never shows).
    pub drop_puts: bool,
    /// The time tokens are issued and judged by.
    pub clock: TestClock,
}

impl GoFake {
    pub fn new(events: Vec<Value>) -> Arc<Mutex<GoFake>> {
        Arc::new(Mutex::new(GoFake {
            events,
            silenced: BTreeMap::new(),
            api_key: Some(KEY.into()),
            lifetime: 900,
            tokens: HashMap::new(),
            refresh: HashMap::new(),
            issued: 0,
            down: false,
            expires_at: None,
            drop_puts: false,
            clock: TestClock::default(),
        }))
    }

    fn issue(&mut self) -> Reply {
        self.issued += 1;
        let access = format!("access-{}", self.issued);
        let refresh = format!("refresh-{}", self.issued);
        let now = self.clock.now();
        let expires_at = self.expires_at.unwrap_or(now + self.lifetime);
        // The fake itself accepts every token it issued for `lifetime` seconds.
        self.tokens.insert(access.clone(), now + self.lifetime);
        self.refresh.insert(refresh.clone(), access.clone());
        Reply::json(
            200,
            &json!({"access_token": access, "expires_at": expires_at, "refresh_token": refresh}),
        )
    }

    pub fn handle(&mut self, req: &Req) -> Reply {
        let unauthorized = || Reply::json(401, &json!({"error": "unauthorized", "code": 5}));
        if self.down {
            return Reply::raw(503, "text/plain", "backend warming up\n");
        }
        let auth = req.header("authorization").unwrap_or("").to_string();
        match (req.method.as_str(), req.path()) {
            ("GET", "/auth") => {
                let want = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PW}"))
                );
                return if auth == want {
                    self.issue()
                } else {
                    unauthorized()
                };
            }
            ("POST", "/auth/token") => {
                // The (possibly expired) bearer token plus its refresh token.
                let body = req.json();
                let rt = body["refresh_token"].as_str().unwrap_or("");
                let ok = self
                    .refresh
                    .get(rt)
                    .is_some_and(|access| auth == format!("Bearer {access}"));
                return if ok {
                    self.refresh.remove(rt);
                    self.issue()
                } else {
                    unauthorized()
                };
            }
            _ => {}
        }
        let authed = match auth.split_once(' ') {
            Some(("Key", k)) => self.api_key.as_deref() == Some(k),
            Some(("Bearer", t)) => self
                .tokens
                .get(t)
                .is_some_and(|exp| *exp > self.clock.now()),
            _ => false,
        };
        if !authed {
            return unauthorized();
        }
        let Some(rest) = req.path().strip_prefix("/api/core/v2/namespaces/") else {
            return Reply::json(404, &json!({"error": "not found", "code": 2}));
        };
        let (ns, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if ns != NS {
            return Reply::json(
                404,
                &json!({"error": format!("namespace {ns:?} not found"), "code": 2}),
            );
        }
        match (req.method.as_str(), rest) {
            ("GET", "events") => {
                let limit: usize = req
                    .query("limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(usize::MAX);
                let offset: usize = match req.query("continue") {
                    None => 0,
                    Some(c) => c
                        .strip_prefix("next/")
                        .and_then(|c| c.strip_suffix("=="))
                        .and_then(|c| c.parse().ok())
                        .expect("continue token sent back verbatim"),
                };
                let end = offset.saturating_add(limit).min(self.events.len());
                let reply = Reply::json(200, &Value::Array(self.events[offset..end].to_vec()));
                if end < self.events.len() {
                    reply.with_header("Sensu-Continue", &format!("next/{end}=="))
                } else {
                    reply
                }
            }
            ("GET", "silenced") => Reply::json(
                200,
                &Value::Array(self.silenced.values().cloned().collect()),
            ),
            ("PUT", s) if s.starts_with("silenced/") => {
                let name = urlencoding::decode(&s["silenced/".len()..])
                    .unwrap()
                    .into_owned();
                let mut body = req.json();
                if body["metadata"]["name"] != json!(name) {
                    return Reply::json(
                        400,
                        &json!({"error": "name in path and body differ", "code": 1}),
                    );
                }
                body["metadata"]["created_by"] = json!(USER);
                body["expire_at"] = json!(0);
                if !self.drop_puts {
                    self.silenced.insert(name, body);
                }
                Reply::empty(201)
            }
            ("GET", s) if s.starts_with("silenced/") => {
                let name = urlencoding::decode(&s["silenced/".len()..])
                    .unwrap()
                    .into_owned();
                match self.silenced.get(&name) {
                    Some(entry) => Reply::json(200, entry),
                    None => Reply::json(
                        404,
                        &json!({"error": format!("silenced entry {name:?} not found"), "code": 2}),
                    ),
                }
            }
            ("DELETE", s) if s.starts_with("silenced/") => {
                let name = urlencoding::decode(&s["silenced/".len()..])
                    .unwrap()
                    .into_owned();
                if self.silenced.remove(&name).is_some() {
                    Reply::empty(204)
                } else {
                    Reply::json(
                        404,
                        &json!({"error": format!("silenced entry {name:?} not found"), "code": 2}),
                    )
                }
            }
            _ => Reply::json(404, &json!({"error": "not found", "code": 2})),
        }
    }
}

/// Sensu Go with username/password at `url`, its token decisions on the fake's clock.
pub fn go_user_on_fakes_clock(url: &str, fake: &Arc<Mutex<GoFake>>) -> Backend {
    let clock = fake.lock().unwrap().clock.reader();
    let go = sensu_go::SensuGo::new(&go_user(url)).expect("a Sensu Go source");
    Backend::SensuGo(go.with_clock(clock))
}

pub async fn go_server(fake: &Arc<Mutex<GoFake>>) -> Server {
    let f = fake.clone();
    Server::start(move |req| f.lock().unwrap().handle(req)).await
}

pub struct CoreFake {
    pub results: Vec<Value>,
    pub events: Vec<Value>,
    pub silenced: Vec<Value>,
}

pub fn core_handle(f: &mut CoreFake, req: &Req) -> Reply {
    match (req.method.as_str(), req.path()) {
        ("GET", "/results") => Reply::json(200, &Value::Array(f.results.clone())),
        ("GET", "/events") => Reply::json(200, &Value::Array(f.events.clone())),
        ("GET", "/silenced") => Reply::json(200, &Value::Array(f.silenced.clone())),
        ("GET", p) if p.starts_with("/silenced/ids/") => {
            let id = urlencoding::decode(&p["/silenced/ids/".len()..])
                .unwrap()
                .into_owned();
            match f.silenced.iter().find(|s| s["id"] == json!(id)) {
                Some(entry) => Reply::json(200, entry),
                None => Reply::json(404, &json!({"error": "not found"})),
            }
        }
        ("POST", "/silenced") => {
            let b = req.json();
            let id = format!(
                "{}:{}",
                b["subscription"].as_str().unwrap_or("*"),
                b["check"].as_str().unwrap_or("*")
            );
            f.silenced.push(json!({
                "id": id, "subscription": b.get("subscription").cloned().unwrap_or(Value::Null),
                "check": b.get("check").cloned().unwrap_or(Value::Null), "begin": null,
                "expire": b.get("expire").cloned().unwrap_or(json!(-1)),
                "expire_on_resolve": b["expire_on_resolve"], "creator": b["creator"], "reason": b["reason"],
            }));
            Reply::empty(201)
        }
        ("POST", "/silenced/clear") => {
            let id = req.json()["id"].as_str().unwrap_or("").to_string();
            let n = f.silenced.len();
            f.silenced.retain(|s| s["id"] != json!(id));
            if f.silenced.len() < n {
                Reply::empty(204)
            } else {
                Reply::empty(404)
            }
        }
        _ => Reply::empty(404),
    }
}

pub fn core_check(name: &str, status: i64, history: Value, t: i64) -> Value {
    json!({"name": name, "command": format!("/usr/lib/nagios/plugins/{name}"), "subscribers": ["linux"],
           "interval": 60, "handlers": ["default"], "issued": t, "executed": t, "duration": 0.02,
           "output": format!("{name} status {status}\n"), "status": status, "history": history,
           "total_state_change": 0})
}

pub async fn next_msg(rx: &mut mpsc::Receiver<Msg>, within: Duration) -> Msg {
    tokio::time::timeout(within, rx.recv())
        .await
        .unwrap_or_else(|_| panic!("no message within {within:?}"))
        .expect("source alive")
}

/// Skips messages until `pick` returns Some.
pub async fn wait_msg<T>(
    rx: &mut mpsc::Receiver<Msg>,
    within: Duration,
    mut pick: impl FnMut(&Msg) -> Option<T>,
) -> T {
    recv_until(rx, "the message asked for", within, |m| pick(&m)).await
}

/// What the app does before a change reaches a source: its attempt line into the audit log (a
/// throw-away one here), which gives the command its proof of being recorded.
pub fn released(mutation: Mutation) -> Command {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path().join("audit.log"));
    let attempt = AuditEntry::new(
        "sensu-test-1".into(),
        Phase::Attempt,
        chrono::Utc::now().to_rfc3339(),
        "tester",
        "test",
        "silence",
        String::new(),
    );
    log.release(Gated { attempt, mutation })
        .unwrap_or_else(|e| panic!("writing the test audit log: {}", e.error))
}

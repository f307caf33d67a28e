//! Backend outages for the polled HTTP sources — checks (Alertmanager), metrics (Graphite,
//! Prometheus) and logs (Elasticsearch, Loki) — against a tiny HTTP server the test controls. Each
//! source is driven headlessly (its `Msg`s applied with `opsconsole::state::update`, as the app does)
//! through four faults in a row:
//!
//! 1. down at start (connection refused), 2. answering 500, 3. answering slower than
//!    `timeout_secs = 1`, 4. going down mid-session.
//!
//! After each fault the source must report `Health::Retrying { at, .. }` with `at` in the future (the
//! countdown on screen) and really retry no earlier than `at`; the last good data must stay in the
//! state untouched; and when the server is back the source must be `Live` again by itself and
//! deliver what changed meanwhile.

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsconsole::config::Config;
use opsconsole::model::{
    ClusterId, Command, Health, MetricsQuery, Msg, SourceId, SourceKind, Window,
};
use opsconsole::sources::checks::ChecksSource;
use opsconsole::sources::logs::LogsSource;
use opsconsole::sources::metrics::MetricsSource;
use opsconsole::state::{self, State};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use common::stall::{Mode as StallMode, StallServer};
use common::wait::{pump_until, Pump};
use common::{free_port, wait_until_async};

/// How long the server sleeps in "slow" mode: well past the sources' `timeout_secs = 1`.
const SLOW: Duration = Duration::from_millis(2500);
/// Time allowed for one transition (a poll interval of 1 s plus backoff of a few seconds).
const STEP: Duration = Duration::from_secs(12);
/// A retry may come this much before the advertised `at` (clock and scheduling slack).
const SLACK_MS: i64 = 150;

// ---------------------------------------------------------------------------------------------
// The test's HTTP server

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Ok,
    Fail500,
    Slow,
}

struct Shared {
    mode: Mutex<Mode>,
    /// (path prefix, JSON body); the first matching prefix answers.
    routes: Mutex<Vec<(String, String)>>,
    /// Arrival time and request line of every request.
    requests: Mutex<Vec<(DateTime<Utc>, String)>>,
}

struct Backend {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Backend {
    /// A server on a free port that is *not* listening yet (connections are refused).
    fn new() -> Backend {
        Backend {
            port: free_port(),
            shared: Arc::new(Shared {
                mode: Mutex::new(Mode::Ok),
                routes: Mutex::new(Vec::new()),
                requests: Mutex::new(Vec::new()),
            }),
            accept: None,
            conns: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn route(&self, prefix: &str, body: String) {
        let mut r = self.shared.routes.lock().unwrap();
        r.retain(|(p, _)| p != prefix);
        r.push((prefix.to_string(), body));
    }

    fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    fn requests(&self) -> Vec<(DateTime<Utc>, String)> {
        self.shared.requests.lock().unwrap().clone()
    }

    async fn up(&mut self) {
        assert!(self.accept.is_none(), "server already up");
        let port = self.port;
        let listener = wait_until_async(
            format!("the server to listen on {port}"),
            Duration::from_secs(5),
            || TcpListener::bind(("127.0.0.1", port)),
        )
        .await;
        let (shared, conns) = (self.shared.clone(), self.conns.clone());
        self.accept = Some(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let shared = shared.clone();
                let h = tokio::spawn(async move {
                    let _ = serve(stream, shared).await;
                });
                conns.lock().unwrap().push(h);
            }
        }));
    }

    /// Stops listening and drops every open connection (a crashed server).
    async fn down(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
            let _ = a.await;
        }
        let conns = std::mem::take(&mut *self.conns.lock().unwrap());
        for c in conns {
            c.abort();
            let _ = c.await;
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

/// One request per connection (`Connection: close`), so "down" really means down.
async fn serve(mut stream: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let request_line = head.lines().next().unwrap_or("").to_string();
    shared
        .requests
        .lock()
        .unwrap()
        .push((Utc::now(), request_line.clone()));
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
    let mode = *shared.mode.lock().unwrap();
    let (status, body) = match mode {
        Mode::Fail500 => (
            "500 Internal Server Error",
            r#"{"error":"backend on fire"}"#.to_string(),
        ),
        Mode::Slow | Mode::Ok => {
            if mode == Mode::Slow {
                tokio::time::sleep(SLOW).await;
            }
            let routes = shared.routes.lock().unwrap().clone();
            match routes
                .into_iter()
                .find(|(p, _)| path.starts_with(p.as_str()))
            {
                Some((_, body)) => ("200 OK", body),
                None => (
                    "404 Not Found",
                    format!(r#"{{"error":"no route for {path}"}}"#),
                ),
            }
        }
    };
    let resp = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes()).await?;
    stream.shutdown().await
}

// ---------------------------------------------------------------------------------------------
// The headless pane

struct Pane {
    id: SourceId,
    state: State,
    rx: mpsc::Receiver<Msg>,
    /// Every health report of this source with the time it was applied.
    healths: Vec<(DateTime<Utc>, Health)>,
    task: JoinHandle<()>,
    /// Keeps the source's command channel open (and carries metrics queries).
    cmds: Option<mpsc::Sender<Command>>,
}

impl Pane {
    fn new(id: SourceId, rx: mpsc::Receiver<Msg>, task: JoinHandle<()>) -> Pane {
        Pane {
            id,
            state: State::new("test", "/services/", "tester", Utc::now()),
            rx,
            healths: Vec::new(),
            task,
            cmds: None,
        }
    }

    fn apply(&mut self, msg: Msg) {
        if let Msg::Health(id, h) = &msg {
            if *id == self.id {
                let now = Utc::now();
                if let Health::Retrying { at, error, .. } = h {
                    assert!(
                        *at > now,
                        "{:?}: Retrying.at {at} is not in the future (applied at {now}): {error}",
                        self.id
                    );
                }
                self.healths.push((now, h.clone()));
            }
        }
        let _ = state::update(&mut self.state, msg);
    }

    fn health(&self) -> Option<&Health> {
        self.state.health.get(&self.id)
    }

    async fn until(&mut self, what: &str, pred: impl FnMut(&Pane) -> bool) -> Duration {
        let start = Instant::now();
        pump_until(self, format!("{:?}: {what}", self.id), STEP, pred).await;
        start.elapsed()
    }

    /// The first `Retrying` at or after health report `from`: (applied at, retry at, error).
    fn retrying_since(&self, from: usize) -> Option<(DateTime<Utc>, DateTime<Utc>, String)> {
        self.healths[from..].iter().find_map(|(t, h)| match h {
            Health::Retrying { at, error, .. } => Some((*t, *at, error.clone())),
            _ => None,
        })
    }

    fn live_since(&self, from: usize) -> bool {
        self.healths[from..].iter().any(|(_, h)| *h == Health::Live)
            && self.health() == Some(&Health::Live)
    }
}

impl Pump for Pane {
    async fn pump(&mut self, d: Duration) -> Result<(), String> {
        match tokio::time::timeout(d, self.rx.recv()).await {
            Ok(Some(m)) => self.apply(m),
            Ok(None) => return Err(format!("{:?}: the source stopped", self.id)),
            Err(_) => {}
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "health history: {:?}",
            self.healths.iter().map(|(_, h)| h).collect::<Vec<_>>()
        )
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a pane shows, as text: equal before and after a fault means nothing was lost or replaced.
type Fingerprint = fn(&State) -> Option<String>;

/// Runs the four faults against `pane`; `change` makes the server serve newer data, and
/// `fingerprint` reads the pane's data (None = nothing received yet). Returns a report line.
async fn four_faults(
    name: &str,
    server: &mut Backend,
    pane: &mut Pane,
    fingerprint: Fingerprint,
    change: &dyn Fn(&Backend, usize),
) -> String {
    let t0 = Instant::now();
    let mut report = Vec::new();

    // 1. Down at start: connection refused.
    let mark = 0;
    pane.until("Retrying while the server is down at start", |p| {
        p.retrying_since(mark).is_some()
    })
    .await;
    let (_, _, error) = pane.retrying_since(mark).unwrap();
    assert!(
        fingerprint(&pane.state).is_none(),
        "{name}: data out of nowhere"
    );
    eprintln!("{name} down at start: {error}");
    server.up().await;
    let t = pane
        .until("Live with data once the server is up", |p| {
            p.live_since(mark) && fingerprint(&p.state).is_some()
        })
        .await;
    report.push(format!("down at start → live {t:.1?} after up"));
    check_countdown(name, server, pane, mark);

    // 2-4. Each fault during a session.
    for (i, fault) in ["500s", "slow", "down"].into_iter().enumerate() {
        let good = fingerprint(&pane.state).expect("good data before the fault");
        let mark = pane.healths.len();
        match fault {
            "500s" => server.set_mode(Mode::Fail500),
            "slow" => server.set_mode(Mode::Slow),
            _ => server.down().await,
        }
        let t = pane
            .until(&format!("Retrying during {fault}"), |p| {
                p.retrying_since(mark).is_some()
            })
            .await;
        let (_, at, error) = pane.retrying_since(mark).unwrap();
        eprintln!("{name} {fault}: Retrying after {t:.1?}, retry at {at}: {error}");
        let expect = match fault {
            "500s" => "500",
            "slow" => "no answer within 1 s",
            _ => "",
        };
        assert!(
            error.contains(expect),
            "{name} {fault}: error {error:?} lacks {expect:?}"
        );
        // The fault lasts longer than the first retry: the countdown runs more than once, and
        // the data stays through a retry that failed too.
        pane.until(&format!("a second Retrying during {fault}"), |p| {
            p.healths[mark..]
                .iter()
                .filter(|(_, h)| matches!(h, Health::Retrying { .. }))
                .count()
                >= 2
        })
        .await;
        assert_eq!(
            fingerprint(&pane.state).as_deref(),
            Some(good.as_str()),
            "{name} {fault}: the last good data must stay while the backend fails"
        );
        // Meanwhile the backend's data moved on; the recovery must bring it.
        change(server, i + 1);
        match fault {
            "down" => server.up().await,
            _ => server.set_mode(Mode::Ok),
        }
        let t = pane
            .until(&format!("Live with new data after {fault}"), |p| {
                p.live_since(mark) && fingerprint(&p.state).is_some_and(|f| f != good)
            })
            .await;
        report.push(format!(
            "{fault} → retrying, data kept, live {t:.1?} after repair"
        ));
        check_countdown(name, server, pane, mark);
    }
    let line = format!("{name}: {} ({:.1?} total)", report.join("; "), t0.elapsed());
    eprintln!("{line}");
    line
}

/// Every retry came no earlier than the countdown said.
fn check_countdown(name: &str, server: &Backend, pane: &Pane, from: usize) {
    let requests = server.requests();
    for (applied, h) in &pane.healths[from..] {
        let Health::Retrying { at, .. } = h else {
            continue;
        };
        // The next request after the Retrying report was applied is the retry.
        if let Some((t, line)) = requests.iter().find(|(t, _)| t > applied) {
            let early = (*at - *t).num_milliseconds();
            assert!(
                early <= SLACK_MS,
                "{name}: retried {early} ms before the advertised time ({line})"
            );
        }
    }
}

fn parse_profile(section: &str) -> opsconsole::config::ClusterProfile {
    let toml =
        format!("[clusters.test]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"] }}\n{section}\n");
    Config::parse(&toml, Path::new("/test/config.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{toml}"))
        .cluster("test")
        .unwrap()
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Checks: Alertmanager

fn alerts_body(n: usize) -> String {
    let alerts: Vec<String> = (0..=n)
        .map(|i| {
            format!(
                r#"{{"labels":{{"alertname":"Alert{i}","instance":"web-{i}","severity":"critical"}},"annotations":{{"summary":"round {i}"}},"startsAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","status":{{"state":"active","silencedBy":[]}}}}"#
            )
        })
        .collect();
    format!("[{}]", alerts.join(","))
}

fn checks_fingerprint(s: &State) -> Option<String> {
    if !s.checks.received() {
        return None;
    }
    let rows: Vec<String> = s
        .checks
        .visible_rows(0, usize::MAX)
        .map(|r| format!("{}/{}={} {}", r.entity, r.check, r.status, r.output))
        .collect();
    Some(rows.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_alertmanager_survives_outages() {
    let mut server = Backend::new();
    server.route("/api/v2/alerts", alerts_body(0));
    server.route("/api/v2/silences", "[]".into());
    let p = parse_profile(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1, timeout_secs = 1 }}",
        server.url()
    ));
    let (tx, rx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(16);
    let task = tokio::spawn(ChecksSource::new(p.checks.unwrap(), tx, crx).run());
    let mut pane = Pane::new(SourceKind::Checks.of(ClusterId(0)), rx, task);
    pane.cmds = Some(ctx);
    four_faults(
        "checks/alertmanager",
        &mut server,
        &mut pane,
        checks_fingerprint,
        &|s: &Backend, round| s.route("/api/v2/alerts", alerts_body(round)),
    )
    .await;
    assert_eq!(pane.state.checks.results.len(), 4, "one alert per round");
}

// ---------------------------------------------------------------------------------------------
// Metrics: Graphite and Prometheus

fn metrics_query() -> MetricsQuery {
    MetricsQuery {
        label: "test".into(),
        vars: None,
        window: Window::M15,
        width: 30,
        end: None,
    }
}

fn metrics_fingerprint(s: &State) -> Option<String> {
    let r = s.metrics.result.as_ref()?;
    let series: Vec<String> = r
        .series
        .iter()
        .map(|x| match x {
            Ok(x) => format!("{}={:?}", x.name, x.last),
            Err(e) => format!("error: {e}"),
        })
        .collect();
    Some(series.join(", "))
}

async fn metrics_pane(profile_section: String) -> Pane {
    let p = parse_profile(&profile_section);
    let (tx, rx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(16);
    let src = MetricsSource::new(p.metrics.unwrap(), tx, crx).expect("metrics source");
    let task = tokio::spawn(src.run());
    ctx.send(Command::MetricsQuery(metrics_query()))
        .await
        .unwrap();
    let mut pane = Pane::new(SourceKind::Metrics.of(ClusterId(0)), rx, task);
    pane.cmds = Some(ctx);
    pane
}

fn graphite_body(round: usize) -> String {
    let now = Utc::now().timestamp();
    let pts: Vec<String> = (0..30)
        .map(|i| format!("[{}.0,{}]", round * 100 + i, now - 900 + i as i64 * 30))
        .collect();
    format!(r#"[{{"target":"s0","datapoints":[{}]}}]"#, pts.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_graphite_survives_outages() {
    let mut server = Backend::new();
    server.route("/render", graphite_body(0));
    let mut pane = metrics_pane(format!(
        "metrics = {{ kind = \"graphite\", url = \"{}\", interval_secs = 1, timeout_secs = 1, series = [{{ name = \"cpu\", target = \"stats.cpu\" }}] }}",
        server.url()
    ))
    .await;
    four_faults(
        "metrics/graphite",
        &mut server,
        &mut pane,
        metrics_fingerprint,
        &|s: &Backend, round| s.route("/render", graphite_body(round)),
    )
    .await;
    let r = pane.state.metrics.result.as_ref().unwrap();
    assert!(r.series[0].is_ok(), "{:?}", r.series);
}

fn prometheus_body(round: usize) -> String {
    let now = Utc::now().timestamp();
    let pts: Vec<String> = (0..30)
        .map(|i| format!("[{},\"{}\"]", now - 900 + i as i64 * 30, round * 100 + i))
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
        pts.join(",")
    )
}

/// Prometheus answers one request per series: an outage must still be one `Retrying` for the
/// pane (not `Live` with an error per row) and keep the last good series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_prometheus_survives_outages() {
    let mut server = Backend::new();
    server.route("/api/v1/query_range", prometheus_body(0));
    let mut pane = metrics_pane(format!(
        "metrics = {{ kind = \"prometheus\", url = \"{}\", interval_secs = 1, timeout_secs = 1, series = [{{ name = \"up\", query = \"up\" }}] }}",
        server.url()
    ))
    .await;
    four_faults(
        "metrics/prometheus",
        &mut server,
        &mut pane,
        metrics_fingerprint,
        &|s: &Backend, round| s.route("/api/v1/query_range", prometheus_body(round)),
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Logs: Elasticsearch and Loki

fn logs_fingerprint(s: &State) -> Option<String> {
    if s.logs.is_empty() {
        return None;
    }
    let lines: Vec<String> = s.logs.matching().map(|l| l.message.clone()).collect();
    Some(lines.join(" | "))
}

fn es_body(base_ms: i64, round: usize) -> String {
    let hits: Vec<String> = (0..=round)
        .rev()
        .map(|i| {
            let ts = base_ms + i as i64 * 1000;
            let iso = DateTime::from_timestamp_millis(ts).unwrap().to_rfc3339();
            format!(
                r#"{{"_index":"logstash-1","_id":"doc-{i}","sort":[{ts}],"_source":{{"@timestamp":"{iso}","host":"web-1","program":"app","severity":"info","message":"line {i}"}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"_shards":{{"failed":0}},"hits":{{"hits":[{}]}}}}"#,
        hits.join(",")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_elasticsearch_survives_outages() {
    let mut server = Backend::new();
    let base = Utc::now().timestamp_millis() - 60_000;
    server.route("/logstash-", es_body(base, 0));
    let p = parse_profile(&format!(
        "logs = {{ kind = \"elasticsearch\", url = \"{}\", interval_secs = 1, timeout_secs = 1 }}",
        server.url()
    ));
    let (tx, rx) = mpsc::channel(256);
    let task = tokio::spawn(LogsSource::new(p.logs.unwrap(), tx).run());
    let mut pane = Pane::new(SourceKind::Logs.of(ClusterId(0)), rx, task);
    // The server answers every poll with all documents so far: the tail must not repeat them.
    four_faults(
        "logs/elasticsearch",
        &mut server,
        &mut pane,
        logs_fingerprint,
        &move |s: &Backend, round| s.route("/logstash-", es_body(base, round)),
    )
    .await;
    assert_eq!(
        logs_fingerprint(&pane.state).unwrap(),
        "line 0 | line 1 | line 2 | line 3",
        "every line once, in order"
    );
}

fn loki_body(base_ns: i128, round: usize) -> String {
    let values: Vec<String> = (0..=round)
        .map(|i| format!(r#"["{}","line {i}"]"#, base_ns + i as i128 * 1_000_000_000))
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"streams","result":[{{"stream":{{"host":"web-1","job":"app"}},"values":[{}]}}]}}}}"#,
        values.join(",")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_loki_survives_outages() {
    let mut server = Backend::new();
    let base = Utc::now().timestamp_nanos_opt().unwrap() as i128 - 60_000_000_000;
    server.route("/loki/api/v1/query_range", loki_body(base, 0));
    let p = parse_profile(&format!(
        "logs = {{ kind = \"loki\", url = \"{}\", query = '{{job=\"app\"}}', interval_secs = 1, timeout_secs = 1 }}",
        server.url()
    ));
    let (tx, rx) = mpsc::channel(256);
    let task = tokio::spawn(LogsSource::new(p.logs.unwrap(), tx).run());
    let mut pane = Pane::new(SourceKind::Logs.of(ClusterId(0)), rx, task);
    four_faults(
        "logs/loki",
        &mut server,
        &mut pane,
        logs_fingerprint,
        &move |s: &Backend, round| s.route("/loki/api/v1/query_range", loki_body(base, round)),
    )
    .await;
    assert_eq!(
        logs_fingerprint(&pane.state).unwrap(),
        "line 0 | line 1 | line 2 | line 3",
        "every line once, in order"
    );
}

// ---------------------------------------------------------------------------------------------
// Stalls: the backend accepts and then stops answering (`common::stall`).
//
// The source's URL points at a stall server that forwards to the test's HTTP server while the
// backend is healthy. The stall is switched on mid-session; every poll must end within
// `timeout_secs` (+ a margin), the pane must go `Retrying` (the title `STALE` with the age) with
// its rows kept, and when the stall server forwards again the pane must be `Live` by itself and
// show exactly what the server serves.

/// A poll may end this much after `timeout_secs` (scheduling on a loaded 2-core machine).
const STALL_MARGIN: Duration = Duration::from_millis(1500);

/// Drives `pane` (already pointed at `stall`, which forwards to `server`) through one stall in
/// `stall_mode` and back to `normal`. Returns (time from the first stalled connection to
/// `Retrying`, time from the repair to `Live`, the error shown).
#[allow(clippy::too_many_arguments)]
async fn stall_and_recover(
    name: &str,
    kind: SourceKind,
    timeout: Duration,
    stall: &StallServer,
    stall_mode: StallMode,
    normal: StallMode,
    pane: &mut Pane,
    fingerprint: Fingerprint,
    change: &dyn Fn(),
) -> (Duration, Duration, String) {
    pane.until("Live with data through the stall server", |p| {
        p.health() == Some(&Health::Live) && fingerprint(&p.state).is_some()
    })
    .await;
    let good = fingerprint(&pane.state).expect("data before the stall");
    let mark = pane.healths.len();
    let before = stall.stalled().len();
    stall.set_mode(stall_mode).await;
    pane.until("Retrying while the backend stalls", |p| {
        p.retrying_since(mark).is_some()
    })
    .await;
    let noticed = Instant::now();
    let (_, _, error) = pane
        .retrying_since(mark)
        .expect("a Retrying report was just seen");
    let first = *stall
        .stalled()
        .get(before)
        .unwrap_or_else(|| panic!("{name}: Retrying, but no request ever reached the stall"));
    let bounded = noticed.saturating_duration_since(first);
    eprintln!("{name}: stalled → Retrying after {bounded:.2?}: {error}");
    assert!(
        bounded <= timeout + STALL_MARGIN,
        "{name}: the stalled poll took {bounded:?}, more than timeout {timeout:?} + {STALL_MARGIN:?}"
    );
    // The title says STALE with the age of the rows, and the rows are kept.
    pane.state.now = Utc::now();
    let age = pane.state.stale_for(kind);
    assert!(age.is_some(), "{name}: the pane is not marked stale");
    let screen = common::headless::screen(&mut pane.state, 200, 50);
    assert!(
        screen.contains("STALE"),
        "{name}: no STALE title:\n{screen}"
    );
    // The stall lasts: a second attempt stalls too, and still the rows stay.
    pane.until("a second Retrying during the stall", |p| {
        p.healths[mark..]
            .iter()
            .filter(|(_, h)| matches!(h, Health::Retrying { .. }))
            .count()
            >= 2
    })
    .await;
    assert!(
        stall.stalled().len() >= before + 2,
        "{name}: the retry did not reach the stalled server"
    );
    assert_eq!(
        fingerprint(&pane.state).as_deref(),
        Some(good.as_str()),
        "{name}: the rows shown before the stall must stay"
    );
    // The backend answers again, with newer data.
    change();
    let mark = pane.healths.len();
    stall.set_mode(normal).await;
    let recovered = pane
        .until("Live with the new data after the stall", |p| {
            p.live_since(mark) && fingerprint(&p.state).is_some_and(|f| f != good)
        })
        .await;
    eprintln!("{name}: repaired → Live after {recovered:.2?}");
    (bounded, recovered, error)
}

/// The test server up behind a stall server that forwards to it.
async fn behind_stall() -> (Backend, StallServer) {
    let mut server = Backend::new();
    server.up().await;
    let stall = StallServer::start(StallMode::Forward(server.port)).await;
    (server, stall)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_body_checks_alertmanager() {
    let (server, stall) = behind_stall().await;
    server.route("/api/v2/alerts", alerts_body(0));
    server.route("/api/v2/silences", "[]".into());
    let p = parse_profile(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1, timeout_secs = 1 }}",
        stall.url("http")
    ));
    let (tx, rx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(16);
    let task = tokio::spawn(ChecksSource::new(p.checks.unwrap(), tx, crx).run());
    let mut pane = Pane::new(SourceKind::Checks.of(ClusterId(0)), rx, task);
    pane.cmds = Some(ctx);
    let (_, _, error) = stall_and_recover(
        "checks/alertmanager",
        SourceKind::Checks,
        Duration::from_secs(1),
        &stall,
        StallMode::StallBody,
        StallMode::Forward(server.port),
        &mut pane,
        checks_fingerprint,
        &|| server.route("/api/v2/alerts", alerts_body(1)),
    )
    .await;
    assert!(error.contains("no answer within 1 s"), "{error}");
    // Ground truth: the rows are the two alerts the server serves now.
    assert_eq!(
        checks_fingerprint(&pane.state).as_deref(),
        Some("web-0/Alert0=2 round 0, web-1/Alert1=2 round 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_body_metrics_graphite_and_prometheus() {
    for (kind, path, section) in [
        (
            "graphite",
            "/render",
            "series = [{ name = \"cpu\", target = \"stats.cpu\" }]",
        ),
        (
            "prometheus",
            "/api/v1/query_range",
            "series = [{ name = \"up\", query = \"up\" }]",
        ),
    ] {
        let body = |round: usize| match kind {
            "graphite" => graphite_body(round),
            _ => prometheus_body(round),
        };
        let (server, stall) = behind_stall().await;
        server.route(path, body(0));
        let mut pane = metrics_pane(format!(
            "metrics = {{ kind = \"{kind}\", url = \"{}\", interval_secs = 1, timeout_secs = 1, {section} }}",
            stall.url("http")
        ))
        .await;
        let (_, _, error) = stall_and_recover(
            &format!("metrics/{kind}"),
            SourceKind::Metrics,
            Duration::from_secs(1),
            &stall,
            StallMode::StallBody,
            StallMode::Forward(server.port),
            &mut pane,
            metrics_fingerprint,
            &|| server.route(path, body(1)),
        )
        .await;
        assert!(error.contains("no answer within 1 s"), "{error}");
        // Ground truth: the last point the server serves (round 1: 100 + 29).
        let shown = metrics_fingerprint(&pane.state).expect("series");
        assert!(shown.ends_with("=Some(129.0)"), "{kind}: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_body_logs_elasticsearch_and_loki() {
    let es_base = Utc::now().timestamp_millis() - 60_000;
    let loki_base = Utc::now().timestamp_nanos_opt().unwrap_or_default() as i128 - 60_000_000_000;
    for kind in ["elasticsearch", "loki"] {
        let (path, extra) = match kind {
            "elasticsearch" => ("/logstash-", ""),
            _ => ("/loki/api/v1/query_range", ", query = '{job=\"app\"}'"),
        };
        let body = |round: usize| match kind {
            "elasticsearch" => es_body(es_base, round),
            _ => loki_body(loki_base, round),
        };
        let (server, stall) = behind_stall().await;
        server.route(path, body(0));
        let p = parse_profile(&format!(
            "logs = {{ kind = \"{kind}\", url = \"{}\"{extra}, interval_secs = 1, timeout_secs = 1 }}",
            stall.url("http")
        ));
        let (tx, rx) = mpsc::channel(256);
        let task = tokio::spawn(LogsSource::new(p.logs.unwrap(), tx).run());
        let mut pane = Pane::new(SourceKind::Logs.of(ClusterId(0)), rx, task);
        let (_, _, error) = stall_and_recover(
            &format!("logs/{kind}"),
            SourceKind::Logs,
            Duration::from_secs(1),
            &stall,
            StallMode::StallBody,
            StallMode::Forward(server.port),
            &mut pane,
            logs_fingerprint,
            &|| server.route(path, body(2)),
        )
        .await;
        assert!(error.contains("no answer within 1 s"), "{error}");
        // Ground truth: every line the server serves, once, in order.
        assert_eq!(
            logs_fingerprint(&pane.state).as_deref(),
            Some("line 0 | line 1 | line 2"),
            "{kind}"
        );
    }
}

/// An https:// checks backend whose listener accepts TCP and never answers the ClientHello; then
/// a real TLS server (rustls, certificates from a throw-away CA given as `ca`) takes its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_tls_handshake_checks() {
    let certs = common::tls::Certs::generate();
    let (server, stall) = behind_stall().await;
    server.route("/api/v2/alerts", alerts_body(0));
    server.route("/api/v2/silences", "[]".into());
    let front = common::stall::https_front(&certs.server_cert, &certs.server_key, server.port);
    stall.set_mode(StallMode::Forward(front)).await;
    let p = parse_profile(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", ca = \"{}\", interval_secs = 1, timeout_secs = 1 }}",
        stall.url("https"),
        certs.ca.display()
    ));
    let (tx, rx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(16);
    let task = tokio::spawn(ChecksSource::new(p.checks.unwrap(), tx, crx).run());
    let mut pane = Pane::new(SourceKind::Checks.of(ClusterId(0)), rx, task);
    pane.cmds = Some(ctx);
    let (_, _, error) = stall_and_recover(
        "checks/alertmanager over TLS",
        SourceKind::Checks,
        Duration::from_secs(1),
        &stall,
        StallMode::Hold,
        StallMode::Forward(front),
        &mut pane,
        checks_fingerprint,
        &|| server.route("/api/v2/alerts", alerts_body(1)),
    )
    .await;
    assert!(
        error.contains("within 1 s") || error.to_lowercase().contains("timed out"),
        "the error says it timed out: {error}"
    );
    assert_eq!(
        checks_fingerprint(&pane.state).as_deref(),
        Some("web-0/Alert0=2 round 0, web-1/Alert1=2 round 1")
    );
}

/// etcd: the only endpoint accepts TCP and never answers the HTTP/2 preface, at start. The
/// members pane must say `Retrying` within `connect_timeout_secs` (+ 1 s the connect is given
/// over it, + a margin), not stay `Connecting`; when a real etcd answers on that address the
/// pane is `Live` by itself with exactly etcd's members. Then the same mid-session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_etcd_handshake_at_start_and_mid_session() {
    use common::etcd_console::{etcd_members, profile, Console, RECONNECT};
    let etcd = common::Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    let stall = StallServer::start(StallMode::Hold).await;
    let p = profile(&[stall.url("http")]);
    let connect = p.connect_timeout;
    let started = Instant::now();
    let mut c = Console::start(p);
    c.until(
        connect + Duration::from_secs(1) + STALL_MARGIN,
        "Retrying while the only member never answers the handshake",
        |c| c.retrying_since(0).is_some(),
    )
    .await;
    let bounded = started.elapsed();
    let error = match c
        .healths
        .iter()
        .find(|h| matches!(h, Health::Retrying { .. }))
    {
        Some(Health::Retrying { error, .. }) => error.clone(),
        _ => String::new(),
    };
    eprintln!("etcd stalled at start → Retrying after {bounded:.2?}: {error}");
    assert!(!stall.stalled().is_empty(), "the console reached the stall");
    stall.set_mode(StallMode::Forward(etcd.client_port)).await;
    let t = c
        .until(RECONNECT, "Live with etcd's members", |c| {
            c.is_live() && c.members() == etcd_members(&etcd)
        })
        .await;
    eprintln!("etcd stall at start repaired → Live after {t:.2?}");

    // Mid-session: every connection is dropped and the reconnects meet the stall.
    let mark = c.healths.len();
    let before = stall.stalled().len();
    stall.set_mode(StallMode::Hold).await;
    c.until(RECONNECT, "Retrying, and a reconnect met the stall", |c| {
        c.retrying_since(mark).is_some() && stall.stalled().len() > before
    })
    .await;
    // A reconnect that meets the stall ends within the connect timeout (+ 1 s) and is retried:
    // the pane is never Live meanwhile.
    c.idle(connect + Duration::from_secs(1) + STALL_MARGIN)
        .await;
    assert!(
        !c.healths[mark..].contains(&Health::Live),
        "Live while the member stalls: {:?}",
        &c.healths[mark..]
    );
    let stalled = stall.stalled();
    assert!(
        stalled.len() >= before + 2,
        "the stalled reconnect was given up and tried again ({} stalls)",
        stalled.len() - before
    );
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    stall.set_mode(StallMode::Forward(etcd.client_port)).await;
    let t = c
        .until(RECONNECT, "Live again with etcd's members", |c| {
            c.live_since(mark) && c.members() == etcd_members(&etcd)
        })
        .await;
    eprintln!("etcd stall mid-session repaired → Live after {t:.2?}");
}

/// Sensu Go (the contract server of `common::sensu`, API key): the events request's body stalls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_body_checks_sensu_go() {
    use common::sensu::{go_event, go_server, now, profile, GoFake, KEY_VAR};
    let fake = GoFake::new(vec![go_event("web-1", "check_http", 2, now())]);
    let sensu = go_server(&fake).await;
    let port: u16 = sensu
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the contract server's port");
    let stall = StallServer::start(StallMode::Forward(port)).await;
    let p = profile(
        "sensu-go",
        &stall.url("http"),
        &format!(", api_key_env = \"{KEY_VAR}\", interval_secs = 1, timeout_secs = 1"),
    );
    let (tx, rx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(16);
    let task = tokio::spawn(ChecksSource::new(p, tx, crx).run());
    let mut pane = Pane::new(SourceKind::Checks.of(ClusterId(0)), rx, task);
    pane.cmds = Some(ctx);
    let (_, _, error) = stall_and_recover(
        "checks/sensu-go",
        SourceKind::Checks,
        Duration::from_secs(1),
        &stall,
        StallMode::StallBody,
        StallMode::Forward(port),
        &mut pane,
        checks_fingerprint,
        &|| {
            let mut f = fake.lock().unwrap_or_else(|e| e.into_inner());
            f.events.push(go_event("web-2", "check_disk", 1, now()));
        },
    )
    .await;
    assert!(error.contains("no answer within 1 s"), "{error}");
    // Ground truth: the rows are the two events the server serves now.
    let shown = checks_fingerprint(&pane.state).expect("rows");
    assert!(
        shown.contains("web-1/check_http=2") && shown.contains("web-2/check_disk=1"),
        "{shown}"
    );
    assert_eq!(pane.state.checks.results.len(), 2, "{shown}");
}

/// Redis logs (real redis-server behind the stall server), Pub/Sub and list mode: mid-session the
/// server stops answering (connections dropped, every reconnect accepted and never answered). The
/// subscription or BLMOVE reconnect is bounded by `timeout_secs`, the lines shown stay, and the
/// pane is live again by itself once Redis answers; then what is sent arrives (Pub/Sub loses what
/// was published while nobody listened, by design; the list keeps it, and it arrives too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_logs_redis_pubsub_and_list() {
    use common::log_servers::Redis;
    let redis = Redis::start();
    for (mode, target) in [
        ("pubsub", "channel = \"logs\""),
        ("list", "list = \"logs\""),
    ] {
        let stall = StallServer::start(StallMode::Forward(redis.port)).await;
        let p = parse_profile(&format!(
            "logs = {{ kind = \"redis\", url = \"redis://127.0.0.1:{}\", {target}, timeout_secs = 1 }}",
            stall.port
        ));
        let (tx, rx) = mpsc::channel(256);
        let task = tokio::spawn(LogsSource::new(p.logs.unwrap(), tx).run());
        let mut pane = Pane::new(SourceKind::Logs.of(ClusterId(0)), rx, task);
        let send = |text: &str| {
            let line = format!(
                r#"{{"host":"web-1","program":"app","severity":"info","message":"{text}"}}"#
            );
            match mode {
                "pubsub" => redis.cmd(&[b"PUBLISH", b"logs", line.as_bytes()]),
                _ => redis.cmd(&[b"LPUSH", b"logs", line.as_bytes()]),
            };
        };
        pane.until("Live through the stall server", |p| {
            p.health() == Some(&Health::Live)
        })
        .await;
        if mode == "pubsub" {
            wait_until_async(
                "the console subscribed",
                Duration::from_secs(10),
                || async { redis.subscribers("logs") >= 1 },
            )
            .await;
        }
        send("before");
        pane.until("the line sent before the stall", |p| {
            logs_fingerprint(&p.state).as_deref() == Some("before")
        })
        .await;

        // Dropping the connections is noticed at once; what is measured is the reconnect that
        // meets a server which accepts and never answers.
        let before = stall.stalled().len();
        stall.set_mode(StallMode::Hold).await;
        pane.until("a reconnect reaching the silent server", |_| {
            stall.stalled().len() > before
        })
        .await;
        let first = stall.stalled()[before];
        let mark = pane.healths.len();
        pane.until("Retrying after the silent reconnect", |p| {
            p.retrying_since(mark).is_some()
        })
        .await;
        let noticed = Instant::now();
        let (_, _, error) = pane.retrying_since(mark).expect("Retrying was just seen");
        let bounded = noticed.saturating_duration_since(first);
        eprintln!("redis/{mode}: stalled → Retrying after {bounded:.2?}: {error}");
        assert!(
            bounded <= Duration::from_secs(1) + STALL_MARGIN,
            "redis/{mode}: the stalled reconnect took {bounded:?}"
        );
        pane.state.now = Utc::now();
        let screen = common::headless::screen(&mut pane.state, 200, 50);
        assert!(
            screen.contains("STALE"),
            "redis/{mode}: no STALE title:\n{screen}"
        );
        assert_eq!(logs_fingerprint(&pane.state).as_deref(), Some("before"));

        // While it stalls: the list keeps what is pushed, Pub/Sub drops what is published.
        send("during");
        let mark = pane.healths.len();
        stall.set_mode(StallMode::Forward(redis.port)).await;
        let recovered = pane
            .until("Live again after the stall", |p| p.live_since(mark))
            .await;
        eprintln!("redis/{mode}: repaired → Live after {recovered:.2?}");
        if mode == "pubsub" {
            wait_until_async("subscribed again", Duration::from_secs(10), || async {
                redis.subscribers("logs") >= 1
            })
            .await;
        }
        send("after");
        let want = match mode {
            "pubsub" => "before | after",
            _ => "before | during | after",
        };
        pane.until("every line Redis kept, once, in order", |p| {
            logs_fingerprint(&p.state).as_deref() == Some(want)
        })
        .await;
        drop(pane);
        drop(stall);
        redis.cmd(&[b"DEL", b"logs"]);
    }
}

/// Sensu Core (the contract server of `common::sensu` serving `/results`, `/events`,
/// `/silenced`) behind the stall server, driven through one stall in `stall_mode`: the checks pane
/// must give up within `timeout_secs = 1` (+ margin), keep its rows under `STALE`, and be live
/// again by itself with the check added meanwhile.
async fn sensu_core_stall(name: &str, stall_mode: StallMode) -> String {
    use common::sensu::fake::Server;
    use common::sensu::{core_check, core_handle, now, profile, CoreFake};
    let result = |client: &str, check: &str, status: i64| serde_json::json!({"client": client, "check": core_check(check, status, serde_json::json!([0, status]), now())});
    let fake = Arc::new(Mutex::new(CoreFake {
        results: vec![result("web-1", "check_http", 2)],
        events: Vec::new(),
        silenced: Vec::new(),
    }));
    let f = fake.clone();
    let sensu = Server::start(move |req| {
        core_handle(&mut f.lock().unwrap_or_else(|e| e.into_inner()), req)
    })
    .await;
    let port: u16 = sensu
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the contract server's port");
    let stall = StallServer::start(StallMode::Forward(port)).await;
    let p = profile(
        "sensu-core",
        &stall.url("http"),
        ", interval_secs = 1, timeout_secs = 1",
    );
    let (tx, rx) = mpsc::channel(256);
    let (ctx, crx) = mpsc::channel(16);
    let task = tokio::spawn(ChecksSource::new(p, tx, crx).run());
    let mut pane = Pane::new(SourceKind::Checks.of(ClusterId(0)), rx, task);
    pane.cmds = Some(ctx);
    let (_, _, error) = stall_and_recover(
        name,
        SourceKind::Checks,
        Duration::from_secs(1),
        &stall,
        stall_mode,
        StallMode::Forward(port),
        &mut pane,
        checks_fingerprint,
        &|| {
            let mut f = fake.lock().unwrap_or_else(|e| e.into_inner());
            f.results.push(result("db-1", "check_disk", 1));
        },
    )
    .await;
    // Ground truth: the rows are the two results the server serves now.
    let shown = checks_fingerprint(&pane.state).expect("rows");
    assert!(
        shown.contains("web-1/check_http=2") && shown.contains("db-1/check_disk=1"),
        "{name}: {shown}"
    );
    assert_eq!(pane.state.checks.results.len(), 2, "{name}: {shown}");
    error
}

/// Sensu Core: the API sends `200 OK` and its headers, then never the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_body_checks_sensu_core() {
    let error = sensu_core_stall("checks/sensu-core body stall", StallMode::StallBody).await;
    assert!(error.contains("no answer within 1 s"), "{error}");
}

/// Sensu Core: the API accepts the connection and never reads or answers a byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stall_accept_checks_sensu_core() {
    let error = sensu_core_stall("checks/sensu-core accept stall", StallMode::Hold).await;
    assert!(error.contains("no answer within 1 s"), "{error}");
}

/// Redis logs (real redis-server) through a path that goes silent without closing: the stall
/// server stops passing bytes both ways and keeps every connection open (a black hole, not a
/// dropped connection). Pub/Sub carries nothing while the channel is quiet, so only the PING on
/// the subscription (every `PUBSUB_PING`, answered within `timeout_secs`) can notice it; a list
/// is read with BLMOVE, whose answer is due within its block time plus `timeout_secs`. Either way
/// the pane must go `STALE` within that bound with the lines shown kept, and be live again by
/// itself once the path passes bytes again, with what Redis kept (the list) and nothing of the
/// gap (Pub/Sub, by design).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_logs_redis_pubsub_and_list() {
    let redis = common::log_servers::Redis::start();
    // Pub/Sub: the line sent as the path went silent is handed to the subscription Redis still
    // has open, its delivery held in the hole: the gap, lost by design.
    let shown = black_hole_redis(&redis, "pubsub", Some("into the hole")).await;
    assert_eq!(shown, "before | after");
    let shown = black_hole_redis(&redis, "list", None).await;
    assert_eq!(shown, "before | during | after");
}

/// List mode, a line pushed as the path goes silent (before the console can notice): the BLMOVE
/// already waiting at Redis moves it into the console's in-flight list, and its answer is held in
/// the hole and dropped with the connection. BRPOP lost such a line (Redis no longer had it); now
/// the next connection finds it in the dead connection's in-flight list and shows it, before what
/// was pushed meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn black_hole_loses_no_line_moved_in_flight_from_a_list() {
    let redis = common::log_servers::Redis::start();
    let shown = black_hole_redis(&redis, "list", Some("into the hole")).await;
    assert_eq!(shown, "before | into the hole | during | after");
}

/// One black hole on the Redis logs source in `mode` ("pubsub" or "list"); `into_hole` is a line
/// sent right after the path went silent. Returns the lines shown at the end.
async fn black_hole_redis(
    redis: &common::log_servers::Redis,
    mode: &str,
    into_hole: Option<&str>,
) -> String {
    use opsconsole::sources::logs::redis::PUBSUB_PING;
    let timeout = Duration::from_secs(1);
    let (target, bound) = match mode {
        // The PING comes at most PUBSUB_PING after the last one and is given `timeout`.
        "pubsub" => ("channel = \"logs\"", PUBSUB_PING + timeout),
        // BLMOVE blocks 1 s server-side; its answer is given that plus `timeout`.
        _ => ("list = \"logs\"", Duration::from_secs(1) + timeout),
    };
    let stall = StallServer::start(StallMode::Forward(redis.port)).await;
    let p = parse_profile(&format!(
        "logs = {{ kind = \"redis\", url = \"redis://127.0.0.1:{}\", {target}, timeout_secs = 1 }}",
        stall.port
    ));
    let (tx, rx) = mpsc::channel(256);
    let task = tokio::spawn(LogsSource::new(p.logs.unwrap(), tx).run());
    let mut pane = Pane::new(SourceKind::Logs.of(ClusterId(0)), rx, task);
    let send = |text: &str| {
        let line =
            format!(r#"{{"host":"web-1","program":"app","severity":"info","message":"{text}"}}"#);
        match mode {
            "pubsub" => redis.cmd(&[b"PUBLISH", b"logs", line.as_bytes()]),
            _ => redis.cmd(&[b"LPUSH", b"logs", line.as_bytes()]),
        };
    };
    pane.until("Live through the stall server", |p| {
        p.health() == Some(&Health::Live)
    })
    .await;
    if mode == "pubsub" {
        wait_until_async(
            "the console subscribed",
            Duration::from_secs(10),
            || async { redis.subscribers("logs") >= 1 },
        )
        .await;
    }
    send("before");
    pane.until("the line sent before the black hole", |p| {
        logs_fingerprint(&p.state).as_deref() == Some("before")
    })
    .await;

    if mode == "list" {
        // The hole opens just after a BLMOVE reached Redis (it blocks there 1 s), so the line
        // sent into the hole is moved by it and its answer held (a request held in the hole on
        // its way would move it only after the heal, into a list swept a little later).
        let n = redis.calls("blmove");
        wait_until_async(
            "a fresh BLMOVE from the console at Redis",
            Duration::from_secs(10),
            || async { redis.calls("blmove") > n },
        )
        .await;
    }
    let mark = pane.healths.len();
    let hole = Instant::now();
    stall.black_hole(true);
    // A line sent as the path went silent: Pub/Sub hands it to the subscription Redis still
    // has open (its delivery is held in the hole); BLMOVE already waiting at Redis moves it
    // and its answer is held likewise. Either way Redis no longer keeps it.
    if let Some(line) = into_hole {
        send(line);
    }
    pump_until(
        &mut pane,
        format!("redis/{mode}: Retrying once the path is silent"),
        bound + STALL_MARGIN + STEP,
        |p| p.retrying_since(mark).is_some(),
    )
    .await;
    let noticed = hole.elapsed();
    let (_, _, error) = pane.retrying_since(mark).expect("Retrying was just seen");
    eprintln!("redis/{mode}: black hole → Retrying after {noticed:.2?}: {error}");
    assert!(
        noticed <= bound + STALL_MARGIN,
        "redis/{mode}: the silent path was noticed after {noticed:?} (bound {bound:?} + {STALL_MARGIN:?})"
    );
    pane.state.now = Utc::now();
    let screen = common::headless::screen(&mut pane.state, 200, 50);
    assert!(
        screen.contains("STALE"),
        "redis/{mode}: no STALE title:\n{screen}"
    );
    assert_eq!(logs_fingerprint(&pane.state).as_deref(), Some("before"));
    // Still silent: the reconnects meet the hole too, and the source stays down.
    pump_until(
        &mut pane,
        format!("redis/{mode}: a second Retrying in the hole"),
        STEP,
        |p| {
            p.healths[mark..]
                .iter()
                .filter(|(_, h)| matches!(h, Health::Retrying { .. }))
                .count()
                >= 2
        },
    )
    .await;
    assert!(
        !pane.healths[mark..].iter().any(|(_, h)| *h == Health::Live),
        "redis/{mode}: Live while nothing passes: {:?}",
        pane.describe()
    );
    // While the path is silent: the list keeps what is pushed now, Pub/Sub drops it.
    send("during");

    let mark = pane.healths.len();
    let healed = Instant::now();
    stall.black_hole(false);
    pump_until(
        &mut pane,
        format!("redis/{mode}: Live again after the black hole"),
        STEP,
        |p| p.live_since(mark),
    )
    .await;
    eprintln!("redis/{mode}: healed → Live after {:.2?}", healed.elapsed());
    send("after");
    let want = match (mode, into_hole) {
        ("pubsub", _) => "before | after".to_string(),
        (_, Some(line)) => format!("before | {line} | during | after"),
        _ => "before | during | after".to_string(),
    };
    // What is expected arrives (or, when it does not, what did by then is returned).
    let deadline = Instant::now() + STEP;
    while Instant::now() < deadline
        && logs_fingerprint(&pane.state).as_deref() != Some(want.as_str())
    {
        if let Err(e) = pane.pump(Duration::from_millis(100)).await {
            panic!("redis/{mode}: {e}");
        }
    }
    // Nothing more comes (no duplicate, no late line from a held connection).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while let Ok(m) = pane.rx.try_recv() {
        pane.apply(m);
    }
    let shown = logs_fingerprint(&pane.state).unwrap_or_default();
    eprintln!("redis/{mode}: shown at the end: {shown}");
    drop(pane);
    drop(stall);
    redis.cmd(&[b"DEL", b"logs"]);
    shown
}

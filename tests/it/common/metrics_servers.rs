//! Real metrics backends for tests, each on free loopback ports with its data under a temp dir:
//! Prometheus (Debian `prometheus`) scraping an exposition-format target the test serves, Graphite
//! (Debian `graphite-carbon` + `graphite-web` under Debian's `gunicorn`, system `/usr/bin/python3`)
//! with StatsD 0.9.0 from npm in front, and a canned HTTP server for answers no real server gives.
//! Every daemon runs in its own process group and is SIGKILLed (group-wide) on Drop. A missing
//! binary panics with the package to install: nothing is skipped.

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::daemon::{tail, Daemon};
use super::wait::{wait_until, wait_until_or};
use super::{free_port, require_binary};

/// Debian's interpreter: graphite/carbon/gunicorn are packaged for it. The `python3` on PATH may be
/// another one (pyenv) without Django or Twisted, so it is never used.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";
const STATSD_VERSION: &str = "0.9.0";

/// A free UDP port on 127.0.0.1 (bound then released).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .expect("binding udp 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

/// Minimal blocking HTTP/1.0 GET on loopback: (status, body), or None if nothing answered.
pub fn http_get(port: u16, path_and_query: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Waits until `ok` holds, failing early if `daemon` exits and with its log tail on a timeout.
fn wait_ready(what: &str, timeout: Duration, daemon: &mut Daemon, mut ok: impl FnMut() -> bool) {
    let log = daemon.log.clone();
    wait_until_or(
        format!("{what} to be ready"),
        timeout,
        || {
            ok() || {
                daemon.assert_running();
                false
            }
        },
        || format!("last log lines of {}:\n{}", log.display(), tail(&log, 40)),
    );
}

// ------------------------------------------------------------------------------------ Prometheus

/// Prometheus scraping one target every second (`honor_labels: true`, so the target's own
/// `instance` label is kept).
pub struct Prometheus {
    pub port: u16,
    daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start(scrape_target_port: u16) -> Prometheus {
        Prometheus::with_rules(scrape_target_port, None)
    }

    /// As [`start`](Self::start), with an alerting rules file (`groups:` YAML) evaluated every
    /// second: its alerts show as the `ALERTS` series.
    pub fn with_rules(scrape_target_port: u16, rules: Option<&str>) -> Prometheus {
        let bin = require_binary("/usr/bin/prometheus");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let cfg = dir.path().join("prometheus.yml");
        let rule_files = match rules {
            Some(text) => {
                let path = dir.path().join("rules.yml");
                std::fs::write(&path, text).unwrap();
                format!("rule_files: [\"{}\"]\n", path.display())
            }
            None => String::new(),
        };
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 {rule_files}scrape_configs:\n- job_name: target\n  honor_labels: true\n  static_configs:\n  \
                 - targets: [\"127.0.0.1:{scrape_target_port}\"]\n"
            ),
        )
        .unwrap();
        let mut daemon = Daemon::spawn(
            "prometheus",
            Command::new(bin)
                .arg(format!("--config.file={}", cfg.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .current_dir(dir.path()),
            dir.path().join("prometheus.log"),
        );
        wait_ready(
            "prometheus /-/ready",
            Duration::from_secs(30),
            &mut daemon,
            || http_get(port, "/-/ready").is_some_and(|(s, _)| s == 200),
        );
        Prometheus {
            port,
            daemon,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Blocks until `query` (an instant query) returns at least one series; Prometheus's first
    /// scrape comes ~5 s after ready (its discovery/reload tick).
    pub fn wait_for_series(&mut self, query: &str, timeout: Duration) {
        let path = format!(
            "/api/v1/query?query={}",
            urlencoding::encode(query).into_owned()
        );
        let port = self.port;
        wait_ready(
            &format!("prometheus series for {query}"),
            timeout,
            &mut self.daemon,
            || http_get(port, &path).is_some_and(|(s, b)| s == 200 && b.contains("\"value\":[")),
        );
    }
}

// -------------------------------------------------------------------------- canned HTTP server

/// One request as the canned server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path with query string.
    pub target: String,
    pub body: String,
}

impl Recorded {
    /// Decoded `name=value` pairs of the query string and the form body, in order.
    pub fn params(&self) -> Vec<(String, String)> {
        let query = self.target.split_once('?').map(|(_, q)| q).unwrap_or("");
        [query, self.body.as_str()]
            .iter()
            .flat_map(|s| s.split('&'))
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                let dec = |s: &str| {
                    urlencoding::decode(&s.replace('+', " "))
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|_| s.to_string())
                };
                (dec(k), dec(v))
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Arc<Vec<u8>>,
    /// Send without Content-Length (chunked), so a client cannot refuse it up front.
    pub chunked: bool,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type: content_type.into(),
            body: Arc::new(body.into()),
            chunked: false,
        }
    }

    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(status, "application/json", body)
    }

    pub fn html(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(status, "text/html; charset=utf-8", body)
    }

    pub fn chunked(mut self) -> Reply {
        self.chunked = true;
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

/// A tiny HTTP/1.1 server (one request per connection, `Connection: close`) answering with
/// whatever `handler` returns, and recording every request.
pub struct CannedServer {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl CannedServer {
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let handler = handler.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = serve_one(sock, handler, seen).await;
                });
            }
        });
        CannedServer {
            port,
            requests,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_one(
    mut sock: tokio::net::TcpStream,
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<Recorded>>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let target = first.next().unwrap_or("").to_string();
    let len: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    let req = Recorded {
        method,
        target,
        body,
    };
    seen.lock().unwrap().push(req.clone());
    let reply = handler(&req);
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nConnection: close\r\n",
        reply.status, reply.content_type
    );
    if reply.chunked {
        out.push_str("Transfer-Encoding: chunked\r\n\r\n");
        sock.write_all(out.as_bytes()).await?;
        for part in reply.body.chunks(64 * 1024) {
            sock.write_all(format!("{:x}\r\n", part.len()).as_bytes())
                .await?;
            sock.write_all(part).await?;
            sock.write_all(b"\r\n").await?;
        }
        sock.write_all(b"0\r\n\r\n").await?;
    } else {
        out.push_str(&format!("Content-Length: {}\r\n\r\n", reply.body.len()));
        sock.write_all(out.as_bytes()).await?;
        sock.write_all(&reply.body).await?;
    }
    sock.shutdown().await
}

/// A Prometheus scrape target in text exposition format whose body the test sets at any time
/// (e.g. `app_cpu{instance="web-1"} 42`).
pub struct ExpositionTarget {
    pub server: CannedServer,
    body: Arc<Mutex<String>>,
}

impl ExpositionTarget {
    pub async fn start(initial: &str) -> ExpositionTarget {
        let body = Arc::new(Mutex::new(initial.to_string()));
        let b = body.clone();
        let server = CannedServer::start(move |_req| {
            Reply::new(
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                b.lock().unwrap().clone(),
            )
        })
        .await;
        ExpositionTarget { server, body }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Replaces the exposition body served from now on.
    pub fn set(&self, body: &str) {
        *self.body.lock().unwrap() = body.to_string();
    }

    /// How many times it has been scraped.
    pub fn scrapes(&self) -> usize {
        self.server.requests.lock().unwrap().len()
    }
}

// ------------------------------------------------------------------------ Graphite + StatsD

/// carbon-cache (whisper, 1 s resolution), graphite-web (gunicorn) and StatsD flushing into carbon
/// every second with `legacyNamespace: false` (`stats.gauges.<k>`, `stats.counters.<k>.count`).
pub struct Graphite {
    pub web_port: u16,
    pub statsd_port: u16,
    // Drop order: statsd, web, carbon, then the directory.
    statsd: Daemon,
    web: Daemon,
    carbon: Daemon,
    dir: tempfile::TempDir,
}

/// Where `npm install statsd` goes, reused across runs: `<target>/test-deps/statsd`
/// (or `$OPSCONSOLE_TEST_DEPS/statsd`).
fn statsd_cache_dir() -> PathBuf {
    if let Ok(d) = std::env::var("OPSCONSOLE_TEST_DEPS") {
        return PathBuf::from(d).join("statsd");
    }
    // The test binary is <target>/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().expect("current_exe");
    let target = exe
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("test-deps").join("statsd")
}

/// Installs StatsD once (`npm install --omit=optional statsd@0.9.0`); concurrent test binaries
/// install into their own temp dir and rename it into place. Returns the path of `stats.js`.
pub fn ensure_statsd() -> PathBuf {
    let cache = statsd_cache_dir();
    let stats_js = cache.join("node_modules/statsd/stats.js");
    if stats_js.is_file() {
        return stats_js;
    }
    // StatsD comes from npm.
    let npm = require_binary("npm");
    let parent = cache.parent().unwrap();
    std::fs::create_dir_all(parent).expect("creating test-deps dir");
    let tmp = parent.join(format!("statsd.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("package.json"), "{\"private\":true}\n").unwrap();
    let out = Command::new(npm)
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--omit=optional",
            "--save-exact",
            &format!("statsd@{STATSD_VERSION}"),
        ])
        .current_dir(&tmp)
        .output()
        .expect("running npm");
    if !out.status.success() {
        panic!(
            "npm install statsd@{STATSD_VERSION} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Another test binary may have won the race; either way `cache` then holds an install.
    if std::fs::rename(&tmp, &cache).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(
        stats_js.is_file(),
        "npm install finished but {} is missing",
        stats_js.display()
    );
    stats_js
}

impl Graphite {
    pub fn start() -> Graphite {
        let python = require_binary(SYSTEM_PYTHON);
        let carbon_cache = require_binary("/usr/bin/carbon-cache");
        let manage = require_binary("/usr/bin/graphite-manage");
        let gunicorn = require_binary("/usr/bin/gunicorn");
        let node = require_binary("node");
        let stats_js = ensure_statsd();

        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let conf = d.join("conf");
        let g = d.join("graphite");
        for sub in [&conf, &g.join("whisper"), &g.join("log/webapp")] {
            std::fs::create_dir_all(sub).unwrap();
        }
        let (carbon_port, pickle_port, cacheq_port, web_port, statsd_mgmt_port) = (
            free_port(),
            free_port(),
            free_port(),
            free_port(),
            free_port(),
        );
        let statsd_port = free_udp_port();
        let (c, gd) = (conf.display(), g.display());
        std::fs::write(
            conf.join("carbon.conf"),
            format!(
                "[cache]\nSTORAGE_DIR = {gd}/\nLOCAL_DATA_DIR = {gd}/whisper/\nWHITELISTS_DIR = {gd}/lists/\n\
                 CONF_DIR = {c}/\nLOG_DIR = {gd}/log/\nPID_DIR = {gd}/\nDATABASE = whisper\n\
                 ENABLE_LOGROTATION = False\nUSER =\nMAX_CACHE_SIZE = inf\nMAX_UPDATES_PER_SECOND = inf\n\
                 MAX_CREATES_PER_MINUTE = inf\nMIN_TIMESTAMP_RESOLUTION = 1\n\
                 LINE_RECEIVER_INTERFACE = 127.0.0.1\nLINE_RECEIVER_PORT = {carbon_port}\n\
                 ENABLE_UDP_LISTENER = False\nPICKLE_RECEIVER_INTERFACE = 127.0.0.1\n\
                 PICKLE_RECEIVER_PORT = {pickle_port}\nCACHE_QUERY_INTERFACE = 127.0.0.1\n\
                 CACHE_QUERY_PORT = {cacheq_port}\nLOG_UPDATES = False\nLOG_CREATES = False\n\
                 CARBON_METRIC_INTERVAL = 0\n"
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("storage-schemas.conf"),
            "[default]\npattern = .*\nretentions = 1s:6h,60s:30d\n",
        )
        .unwrap();
        std::fs::write(
            conf.join("storage-aggregation.conf"),
            "[default]\npattern = .*\nxFilesFactor = 0\naggregationMethod = average\n",
        )
        .unwrap();
        std::fs::write(
            conf.join("opsconsole_test_graphite.py"),
            format!(
                "SECRET_KEY = 'opsconsole-test-only'\nALLOWED_HOSTS = ['*']\nTIME_ZONE = 'UTC'\n\
                 STORAGE_DIR = '{gd}'\nWHISPER_DIR = '{gd}/whisper'\nSTANDARD_DIRS = ['{gd}/whisper']\n\
                 LOG_DIR = '{gd}/log/webapp'\nINDEX_FILE = '{gd}/index'\n\
                 CARBONLINK_HOSTS = ['127.0.0.1:{cacheq_port}']\nLOG_ROTATION = False\n\
                 DEFAULT_XFILES_FACTOR = 0\nFUNCTION_PLUGINS = []\n\
                 DATABASES = {{'default': {{'NAME': '{gd}/graphite.db', 'ENGINE': 'django.db.backends.sqlite3'}}}}\n"
            ),
        )
        .unwrap();
        let web_env = |cmd: &mut Command| {
            cmd.env_remove("PYTHONHOME")
                .env("PYTHONPATH", &conf)
                .env("GRAPHITE_SETTINGS_MODULE", "opsconsole_test_graphite")
                .env("DJANGO_SETTINGS_MODULE", "graphite.settings")
                .current_dir(d);
        };

        let mut carbon = Daemon::spawn(
            "carbon-cache",
            Command::new(&python)
                .arg(&carbon_cache)
                .arg(format!("--config={}", conf.join("carbon.conf").display()))
                .args(["--nodaemon", "start"])
                .env_remove("PYTHONHOME")
                .env_remove("PYTHONPATH")
                .current_dir(d),
            d.join("carbon.log"),
        );

        let mut migrate = Command::new(&python);
        migrate
            .arg(&manage)
            .args(["migrate", "--run-syncdb", "--noinput"]);
        web_env(&mut migrate);
        let out = migrate.output().expect("running graphite-manage migrate");
        if !out.status.success() {
            panic!(
                "graphite-manage migrate --run-syncdb failed ({}):\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }

        let mut gcmd = Command::new(&python);
        gcmd.arg(&gunicorn)
            .args(["--bind", &format!("127.0.0.1:{web_port}")])
            .args(["--workers", "2", "--timeout", "60"])
            .arg("graphite.wsgi:application");
        web_env(&mut gcmd);
        let mut web = Daemon::spawn("graphite-web (gunicorn)", &mut gcmd, d.join("web.log"));

        wait_ready(
            "carbon-cache line receiver",
            Duration::from_secs(30),
            &mut carbon,
            || TcpStream::connect(("127.0.0.1", carbon_port)).is_ok(),
        );
        wait_ready(
            "graphite-web /render",
            Duration::from_secs(60),
            &mut web,
            || {
                http_get(web_port, "/render?target=x&format=json")
                    .is_some_and(|(s, b)| s == 200 && b.trim() == "[]")
            },
        );

        let statsd_cfg = d.join("statsd.js");
        std::fs::write(
            &statsd_cfg,
            format!(
                "{{\n  address: \"127.0.0.1\", port: {statsd_port},\n  mgmt_address: \"127.0.0.1\", mgmt_port: {statsd_mgmt_port},\n  \
                 graphiteHost: \"127.0.0.1\", graphitePort: {carbon_port},\n  flushInterval: 1000,\n  \
                 backends: [\"./backends/graphite\"],\n  graphite: {{ legacyNamespace: false, globalPrefix: \"stats\" }}\n}}\n"
            ),
        )
        .unwrap();
        let mut statsd = Daemon::spawn(
            "statsd",
            Command::new(node)
                .arg(&stats_js)
                .arg(&statsd_cfg)
                .current_dir(stats_js.parent().unwrap()),
            d.join("statsd.log"),
        );
        wait_ready(
            "statsd management port",
            Duration::from_secs(20),
            &mut statsd,
            || statsd_health(statsd_mgmt_port),
        );

        Graphite {
            web_port,
            statsd_port,
            statsd,
            web,
            carbon,
            dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_port)
    }

    /// Sends StatsD lines (`name:value|g`, `name:1|c`, …) over UDP, one datagram each.
    pub fn statsd(&self, lines: &[&str]) {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        for l in lines {
            sock.send_to(l.as_bytes(), ("127.0.0.1", self.statsd_port))
                .expect("sending to statsd");
        }
    }

    /// Stops graphite-web (gunicorn master and workers) — "graphite is down" — keeping carbon.
    /// Returns once the port refuses connections (workers exit a moment after the master).
    pub fn stop_web(&mut self) {
        self.web.kill();
        let port = self.web_port;
        wait_until(
            format!("graphite-web's port {port} to refuse connections"),
            Duration::from_secs(5),
            || TcpStream::connect(("127.0.0.1", port)).is_err(),
        );
    }

    /// The tail of each daemon's log (for assertion messages).
    pub fn logs(&self) -> String {
        [&self.carbon, &self.web, &self.statsd]
            .iter()
            .map(|d| format!("== {}\n{}", d.log.display(), tail(&d.log, 15)))
            .chain(std::iter::once(format!(
                "== graphite-web exception.log\n{}",
                tail(
                    &self.dir.path().join("graphite/log/webapp/exception.log"),
                    15
                )
            )))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn statsd_health(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"health\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).contains("up")
}

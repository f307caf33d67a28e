//! Test harness: real servers on free loopback ports, started and stopped by the test itself.
//! A missing server binary fails the test loudly (CI installs them in .ci/run); nothing is skipped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free TCP port on 127.0.0.1 (bound then released), never one this test process handed out
/// before: the kernel may give a just-released port again, and two calls in a row (etcd's client
/// and peer ports) then got the same one — "bind: address already in use", seen in a full run.
pub fn free_port() -> u16 {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("binding 127.0.0.1:0")
            .local_addr()
            .unwrap()
            .port();
        if given.insert(port) {
            return port;
        }
    }
}

/// The Debian package that installs each program the tests run (by file name).
const PACKAGES: &[(&str, &str)] = &[
    ("amtool", "prometheus-alertmanager"),
    ("carbon-cache", "graphite-carbon"),
    ("etcd", "etcd-server"),
    ("etcdctl", "etcd-client"),
    ("graphite-manage", "graphite-web"),
    ("gunicorn", "gunicorn"),
    ("kill", "procps"),
    ("logger", "bsdutils"),
    ("node", "nodejs"),
    ("nodejs", "nodejs"),
    ("npm", "npm"),
    ("openssl", "openssl"),
    ("pgrep", "procps"),
    ("prometheus", "prometheus"),
    ("prometheus-alertmanager", "prometheus-alertmanager"),
    ("python3", "python3 python3-venv"),
    ("redis-server", "redis-server"),
    ("rsyslogd", "rsyslog rsyslog-hiredis"),
    ("tmux", "tmux"),
];

/// Where a program is looked for after PATH (rsyslogd lives in /usr/sbin, which is not on every
/// user's PATH; node may come from NodeSource under /usr/local).
const SYSTEM_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The program `name`, found on PATH or in the system directories — or, when `name` is an
/// absolute path, that very file. A missing program fails the test loudly, naming the Debian
/// package that installs it: the tests never skip a missing server or tool.
pub fn require_binary(name: &str) -> PathBuf {
    let given = Path::new(name);
    let found = if given.is_absolute() {
        given.is_file().then(|| given.to_path_buf())
    } else {
        let path = std::env::var("PATH").unwrap_or_default();
        let found = path
            .split(':')
            .filter(|d| !d.is_empty())
            .chain(SYSTEM_DIRS)
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file());
        found
    };
    if let Some(p) = found {
        return p;
    }
    let file = given.file_name().and_then(|f| f.to_str()).unwrap_or(name);
    let package = PACKAGES
        .iter()
        .find(|(program, _)| *program == file)
        .map(|(_, package)| *package)
        .unwrap_or_else(|| panic!("`{name}` is missing, and common::PACKAGES does not say which Debian package installs it — add it there"));
    panic!(
        "`{name}` is not installed — apt-get install -y --no-install-recommends {package} \
         (scripts/setup installs what the tests need). Tests never skip a missing server or tool."
    );
}

/// One etcd member on loopback with its own data dir.
pub struct Etcd {
    pub client_port: u16,
    pub peer_port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    name: String,
    /// `--initial-cluster-token`: with the name and peer URLs it decides the cluster and member ids.
    token: String,
}

impl Etcd {
    pub fn start() -> Etcd {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut e = Etcd {
            client_port: free_port(),
            peer_port: free_port(),
            dir,
            child: None,
            name: "n1".into(),
            token: "etcd-cluster".into(),
        };
        e.spawn();
        e
    }

    fn spawn(&mut self) {
        let etcd = require_binary("etcd");
        let c = format!("http://127.0.0.1:{}", self.client_port);
        let p = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::File::create(self.dir.path().join("etcd.log")).unwrap();
        let child = Command::new(etcd)
            .args(["--name", &self.name])
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &c, "--advertise-client-urls", &c])
            .args([
                "--listen-peer-urls",
                &p,
                "--initial-advertise-peer-urls",
                &p,
            ])
            .args(["--initial-cluster", &format!("{}={p}", self.name)])
            .args(["--initial-cluster-token", &self.token])
            .args(["--logger=zap", "--log-outputs=stderr"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting etcd");
        self.child = Some(child);
        self.wait_ready();
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn wait_ready(&self) {
        wait_until_or(
            format!("etcd on port {} to be healthy", self.client_port),
            Duration::from_secs(20),
            // etcdctl 3.4 prints the plain "is healthy" line to stderr; JSON goes to stdout.
            || {
                self.etcdctl(&["endpoint", "health", "-w", "json"])
                    .is_ok_and(|o| o.contains("\"health\":true"))
            },
            || {
                let log =
                    std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
                format!("log:\n{log}")
            },
        );
    }

    /// Runs etcdctl (v3 API) against this member; Err carries stderr.
    pub fn etcdctl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(require_binary("etcdctl"))
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &format!("127.0.0.1:{}", self.client_port)])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `etcdctl put` of a key given as raw bytes (need not be UTF-8).
    pub fn put_bytes(&self, key: &[u8], value: &str) {
        use std::os::unix::ffi::OsStrExt;
        let out = Command::new(require_binary("etcdctl"))
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &format!("127.0.0.1:{}", self.client_port)])
            .arg("put")
            .arg(std::ffi::OsStr::from_bytes(key))
            .arg(value)
            .output()
            .expect("running etcdctl");
        assert!(
            out.status.success(),
            "etcdctl put {key:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn ctl(&self, args: &[&str]) -> String {
        self.etcdctl(args)
            .unwrap_or_else(|e| panic!("etcdctl {args:?} failed: {e}"))
    }

    /// The member's process id (to freeze it with SIGSTOP, for one).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL (a crash), keeping the data dir so `restart` brings the same store back.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGSTOP: etcd freezes with its sockets open (a hung host, a silent network drop).
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// SIGCONT after `freeze`.
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("etcd is running").id();
        let ok = Command::new(require_binary("kill"))
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {pid} failed");
    }

    /// Another etcd on the same address: killed, data dir wiped, started empty with `token`
    /// (the same token as before gives the same cluster and member ids).
    pub fn replace_with_fresh(&mut self, token: &str) {
        self.kill();
        std::fs::remove_dir_all(self.dir.path().join("data")).expect("wiping the data dir");
        self.token = token.to_string();
        self.spawn();
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Writes a config file with one cluster `test` pointing at `endpoint`; returns (dir, config path).
pub fn write_config(endpoint: &str, prefix: &str, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        format!(
            "[clusters.test]\netcd = {{ endpoints = [\"{endpoint}\"], prefix = \"{prefix}\" }}\n{extra}\n"
        ),
    )
    .unwrap();
    (dir, path)
}

pub mod checks_console;
pub mod daemon;
pub mod dns;
pub mod e2e;
pub mod etcd_cluster;
pub mod etcd_console;
pub mod headless;
pub mod log_servers;
pub mod metrics_servers;
pub mod metrics_source;
pub mod netns;
pub mod panes;
pub mod proxy;
pub mod sensu;
pub mod stall;
pub mod tls;
pub mod tmux;
pub mod wait;

pub use wait::{wait_until, wait_until_async, wait_until_or};

/// A real Prometheus Alertmanager (Debian `prometheus-alertmanager`) on a free loopback port, gossip
/// off, its config and storage in a temp dir; killed on Drop.
pub struct Alertmanager {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Alertmanager {
    pub const BINARY: &'static str = "/usr/bin/prometheus-alertmanager";

    pub fn start() -> Alertmanager {
        Alertmanager::start_with("")
    }

    /// Started with `extra` YAML after the route and receiver (e.g. `inhibit_rules:`).
    pub fn start_with(extra: &str) -> Alertmanager {
        let bin = require_binary(Self::BINARY);
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("am.yml");
        std::fs::write(
            &config,
            format!("route:\n  receiver: \"null\"\n  group_wait: 1s\n  group_interval: 1s\nreceivers:\n- name: \"null\"\n{extra}"),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("alertmanager.log")).unwrap();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let mut am = Alertmanager {
            port,
            dir,
            child: Some(child),
        };
        am.wait_ready();
        am
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One call of Alertmanager's API; its JSON answer (Null when empty). A status outside 2xx
    /// fails the test.
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
        let (status, text) = http(self.port, method, path, body)
            .unwrap_or_else(|| panic!("alertmanager did not answer {method} {path}"));
        assert!(
            (200..300).contains(&status),
            "{method} {path}: HTTP {status}: {text}"
        );
        if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
        }
    }

    /// Posts firing alerts (each `(alertname, instance, severity)`), ending in an hour.
    pub fn fire(&self, alerts: &[(&str, &str, &str)]) {
        let ends = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        let body: Vec<serde_json::Value> = alerts
            .iter()
            .map(|(name, instance, severity)| {
                serde_json::json!({
                    "labels": {"alertname": name, "instance": instance, "severity": severity},
                    "annotations": {"summary": format!("{name} on {instance}")},
                    "endsAt": ends,
                })
            })
            .collect();
        self.api(
            "POST",
            "/api/v2/alerts",
            Some(&serde_json::Value::Array(body).to_string()),
        );
    }

    /// Active silences as Alertmanager itself reports them.
    pub fn active_silences(&self) -> Vec<serde_json::Value> {
        match self.api("GET", "/api/v2/silences", None) {
            serde_json::Value::Array(all) => all
                .into_iter()
                .filter(|s| s["status"]["state"] == "active")
                .collect(),
            other => panic!("/api/v2/silences is not a list: {other}"),
        }
    }

    /// The alerts `amtool alert query --silenced` lists — the ground truth for "this alert is
    /// silenced", from Alertmanager's own client rather than from the console's reading of the API.
    pub fn amtool_silenced(&self) -> Vec<serde_json::Value> {
        amtool_silenced(&self.url())
    }

    fn wait_ready(&mut self) {
        let port = self.port;
        let child = self.child.as_mut().expect("alertmanager was started");
        let dir = self.dir.path().to_path_buf();
        let log = || std::fs::read_to_string(dir.join("alertmanager.log")).unwrap_or_default();
        wait_until_or(
            format!("alertmanager on port {port} to be ready"),
            Duration::from_secs(20),
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "alertmanager exited ({status}) before it was ready; log:\n{}",
                        log()
                    );
                }
                http_status(port, "/-/ready") == Some(200)
            },
            || format!("log:\n{}", log()),
        );
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Status code of a plain `GET path` on 127.0.0.1:port, or None when nothing answers.
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// One HTTP/1.0 request on loopback (HTTP/1.0 so the answer is never chunked): (status, body), or
/// None when nothing answers.
pub fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// The alerts `amtool alert query --silenced` lists for the Alertmanager at `url`: the ground
/// truth for "this alert is silenced", from Alertmanager's own client.
pub fn amtool_silenced(url: &str) -> Vec<serde_json::Value> {
    let out = Command::new(require_binary("amtool"))
        .args(["alert", "query", "--silenced", "-o", "json"])
        .arg(format!("--alertmanager.url={url}"))
        .output()
        .expect("running amtool");
    assert!(
        out.status.success(),
        "amtool alert query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match serde_json::from_slice(&out.stdout) {
        Ok(serde_json::Value::Array(alerts)) => alerts,
        other => panic!(
            "amtool printed no JSON list ({other:?}): {}",
            String::from_utf8_lossy(&out.stdout)
        ),
    }
}

//! The benchmarks' etcd: one member started on free loopback ports in a temp dir (or one already
//! running), and the registrations they list, written in transactions of 128 puts.

#![allow(dead_code)] // each bench that includes this uses part of it

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const WRITERS: usize = 16;
pub const PREFIX: &str = "/services/";
pub const ROLES: [&str; 20] = [
    "api", "auth", "billing", "cache", "cart", "catalog", "db", "edge", "gateway", "indexer",
    "mail", "media", "notify", "payments", "queue", "redis", "search", "session", "web", "worker",
];

/// Registrations `members` (indexes into one fleet): `/services/<role>/<role>-<n>` with a ~100-byte JSON value, in transactions of 128 puts (etcd's
/// default `--max-txn-ops`) from `WRITERS` concurrent tasks.
pub async fn register(endpoint: &str, members: std::ops::Range<usize>) {
    let client = etcd_client::Client::connect([endpoint], None)
        .await
        .expect("connecting to etcd");
    let mut tasks = Vec::new();
    let (first, end) = (members.start, members.end);
    let batches = (end - first).div_ceil(128);
    for w in 0..WRITERS {
        let mut kv = client.kv_client();
        tasks.push(tokio::spawn(async move {
            for b in (w..batches).step_by(WRITERS) {
                let ops: Vec<etcd_client::TxnOp> = (first + b * 128
                    ..(first + (b + 1) * 128).min(end))
                    .map(|i| {
                        let (key, value) = member(i);
                        etcd_client::TxnOp::put(key, value, None)
                    })
                    .collect();
                kv.txn(etcd_client::Txn::new().and_then(ops))
                    .await
                    .expect("txn");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
}

/// The console's profile for the etcd at `endpoint`, listing `PREFIX`.
pub fn profile(endpoint: String) -> opsconsole::config::EtcdProfile {
    opsconsole::config::EtcdProfile {
        endpoints: vec![endpoint],
        prefix: PREFIX.to_string(),
        tls: None,
        user: None,
        password: None,
        connect_timeout: Duration::from_secs(5),
        keepalive: Duration::from_secs(10),
    }
}

pub fn member(i: usize) -> (String, String) {
    let role = ROLES[i % ROLES.len()];
    let n = i / ROLES.len();
    let value = format!(
        r#"{{"addr":"10.{}.{}.{}","port":8080,"version":"1.4.{}","started_at":"2026-11-2{}T01:00:00Z","zone":"eu-1a"}}"#,
        (i >> 16) & 0xff,
        (i >> 8) & 0xff,
        i & 0xff,
        i % 7,
        i % 5,
    );
    (format!("{PREFIX}{role}/{role}-{n}"), value)
}

pub fn vm_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[path = "ports.rs"]
mod ports;
pub use ports::free_port;

/// One etcd member on loopback, in its own temp dir, killed on drop (or one already running).
pub struct Etcd {
    endpoint: String,
    pub dir: Option<tempfile::TempDir>,
    pub child: Option<Child>,
}

impl Etcd {
    pub fn start() -> Etcd {
        let bin = PathBuf::from("/usr/bin/etcd");
        assert!(
            bin.is_file(),
            "/usr/bin/etcd is missing: apt-get install etcd-server etcd-client"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let (client_port, peer_port) = (free_port(), free_port());
        let c = format!("http://127.0.0.1:{client_port}");
        let p = format!("http://127.0.0.1:{peer_port}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).unwrap();
        let child = Command::new(bin)
            .args(["--name", "bench"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &c, "--advertise-client-urls", &c])
            .args([
                "--listen-peer-urls",
                &p,
                "--initial-advertise-peer-urls",
                &p,
            ])
            .args(["--initial-cluster", &format!("bench={p}")])
            .args(["--logger=zap", "--log-outputs=stderr"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting etcd");
        let etcd = Etcd {
            endpoint: c,
            dir: Some(dir),
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // etcdctl 3.4 prints "… is healthy" on stderr; the exit status is what counts.
            if etcd.etcdctl(&["endpoint", "health"]).is_ok() {
                return etcd;
            }
            if Instant::now() > deadline {
                let log = etcd
                    .dir
                    .as_ref()
                    .and_then(|d| std::fs::read_to_string(d.path().join("etcd.log")).ok())
                    .unwrap_or_default();
                panic!("etcd did not become healthy in 20 s; log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An etcd started elsewhere that already holds the registrations.
    pub fn existing(endpoint: String) -> Etcd {
        Etcd {
            endpoint,
            dir: None,
            child: None,
        }
    }

    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    pub fn etcdctl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoint()])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub fn ctl(&self, args: &[&str]) -> String {
        self.etcdctl(args)
            .unwrap_or_else(|e| panic!("etcdctl {args:?} failed: {e}"))
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        // SIGKILL: a graceful stop of a single member can take seconds and nothing needs saving.
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

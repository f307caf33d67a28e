//! A 3-member etcd cluster with every member in a network namespace of its own, and a namespace
//! for the console, wired by veth pairs to two bridges in a hub namespace: a **peer** network
//! (10.203.1.0/24, raft between members) and a **client** network (10.203.2.0/24, the console and
//! etcdctl). A link is cut by setting its hub end down: packets vanish, no RST — as a real
//! partition does. Every address lives only inside namespaces this test creates; the host's own
//! interfaces and routes are never touched. Drop kills the members and deletes the namespaces.
//!
//! Needs root (`ip netns`); a refusal fails the test with the reason, never skips.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::require_binary;
use super::wait::wait_until;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The member's client URL (the console's and etcdctl's side).
pub fn client_url(i: usize) -> String {
    format!("http://10.203.2.{}:2379", 11 + i)
}

fn peer_url(i: usize) -> String {
    format!("http://10.203.1.{}:2380", 11 + i)
}

pub struct NetnsCluster {
    /// Namespace names: hub, console, then one per member.
    prefix: String,
    members: Vec<Option<Child>>,
    _dir: tempfile::TempDir,
    created: Vec<String>,
}

fn ip(args: &[&str]) {
    let out = Command::new(require_binary("ip"))
        .args(args)
        .output()
        .expect("run ip");
    assert!(
        out.status.success(),
        "this test builds network namespaces (root, CAP_NET_ADMIN): `ip {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

impl NetnsCluster {
    pub fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn member_ns(&self, i: usize) -> String {
        self.ns(&format!("m{i}"))
    }

    pub fn console_ns(&self) -> String {
        self.ns("con")
    }

    fn in_ns(&self, ns: &str, args: &[&str]) {
        let mut all = vec!["netns", "exec", ns, "ip"];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// One end in `ns` (named `inner`, address `addr`), the other on `bridge` in the hub
    /// (named `outer`).
    fn wire(&self, ns: &str, inner: &str, addr: &str, outer: &str, bridge: &str) {
        let hub = self.ns("hub");
        self.in_ns(
            &hub,
            &["link", "add", outer, "type", "veth", "peer", "name", inner],
        );
        self.in_ns(&hub, &["link", "set", inner, "netns", ns]);
        self.in_ns(&hub, &["link", "set", outer, "master", bridge, "up"]);
        self.in_ns(ns, &["addr", "add", addr, "dev", inner]);
        self.in_ns(ns, &["link", "set", inner, "up"]);
    }

    pub fn start() -> NetnsCluster {
        let prefix = format!(
            "oc{}n{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut c = NetnsCluster {
            prefix,
            members: Vec::new(),
            _dir: tempfile::tempdir().expect("tempdir"),
            created: Vec::new(),
        };
        let names: Vec<String> = ["hub", "con", "m0", "m1", "m2"]
            .iter()
            .map(|n| c.ns(n))
            .collect();
        for ns in &names {
            ip(&["netns", "add", ns]);
            c.created.push(ns.clone());
            c.in_ns(ns, &["link", "set", "lo", "up"]);
        }
        let hub = c.ns("hub");
        for br in ["brp", "brc"] {
            c.in_ns(&hub, &["link", "add", br, "type", "bridge"]);
            c.in_ns(&hub, &["link", "set", br, "up"]);
        }
        c.wire(&c.console_ns(), "c", "10.203.2.100/24", "hcon", "brc");
        for i in 0..3 {
            let ns = c.member_ns(i);
            c.wire(
                &ns,
                "p",
                &format!("10.203.1.{}/24", 11 + i),
                &format!("hp{i}"),
                "brp",
            );
            c.wire(
                &ns,
                "c",
                &format!("10.203.2.{}/24", 11 + i),
                &format!("hc{i}"),
                "brc",
            );
        }
        let etcd = require_binary("etcd");
        let initial: Vec<String> = (0..3).map(|i| format!("m{i}={}", peer_url(i))).collect();
        for i in 0..3 {
            let data = c._dir.path().join(format!("m{i}"));
            let log = std::fs::File::create(c._dir.path().join(format!("m{i}.log")))
                .expect("etcd log file");
            let child = Command::new(require_binary("ip"))
                .args(["netns", "exec", &c.member_ns(i)])
                .arg(&etcd)
                .args(["--name", &format!("m{i}"), "--data-dir"])
                .arg(&data)
                .args(["--listen-client-urls", &client_url(i)])
                .args(["--advertise-client-urls", &client_url(i)])
                .args(["--listen-peer-urls", &peer_url(i)])
                .args(["--initial-advertise-peer-urls", &peer_url(i)])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--initial-cluster-token", &c.prefix])
                .args(["--logger=zap", "--log-outputs=stderr"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start etcd in its namespace");
            c.members.push(Some(child));
        }
        for i in 0..3 {
            wait_until(
                format!("etcd m{i} healthy in its namespace"),
                Duration::from_secs(30),
                || c.etcdctl_in(i, &["endpoint", "health"]).is_ok(),
            );
        }
        c
    }

    /// etcdctl run inside member `i`'s namespace against its own client URL.
    pub fn etcdctl_in(&self, i: usize, args: &[&str]) -> Result<String, String> {
        let out = Command::new(require_binary("ip"))
            .args(["netns", "exec", &self.member_ns(i)])
            .arg(require_binary("etcdctl"))
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &client_url(i), "--command-timeout=5s"])
            .args(args)
            .output()
            .map_err(|e| format!("etcdctl: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Member `i` off the peer network (its raft traffic vanishes; clients still reach it).
    pub fn cut_from_peers(&self, i: usize) {
        self.in_ns(&self.ns("hub"), &["link", "set", &format!("hp{i}"), "down"]);
    }

    /// Member `i` off the client network (the console cannot reach it; raft goes on).
    pub fn cut_from_clients(&self, i: usize) {
        self.in_ns(&self.ns("hub"), &["link", "set", &format!("hc{i}"), "down"]);
    }

    /// Every link up again.
    pub fn heal(&self) {
        for i in 0..3 {
            for l in [format!("hp{i}"), format!("hc{i}")] {
                self.in_ns(&self.ns("hub"), &["link", "set", &l, "up"]);
            }
        }
    }

    /// The log of member `i` (for a failure message).
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self._dir.path().join(format!("m{i}.log"))).unwrap_or_default()
    }

    /// Runs `f` on a thread whose network namespace is the console's: sockets it (and the threads
    /// it starts, e.g. a tokio runtime's) opens are there. The test's own threads stay on the host.
    pub fn in_console_ns<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = PathBuf::from("/var/run/netns").join(self.console_ns());
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path)
                .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
            // SAFETY: setns on this thread only, with a valid namespace fd.
            let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(
                rc,
                0,
                "setns into {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
            f()
        })
    }
}

impl Drop for NetnsCluster {
    fn drop(&mut self) {
        for m in self.members.iter_mut().flatten() {
            let _ = m.kill();
            let _ = m.wait();
        }
        for ns in &self.created {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

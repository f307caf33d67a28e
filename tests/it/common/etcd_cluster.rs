//! A real multi-member etcd cluster on loopback (free ports, one data dir per member), with per-member
//! SIGKILL and restart, and the leader found the way an operator would: `etcdctl endpoint status`.
//! Missing `etcd`/`etcdctl` fails loudly (see `require_binary`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, require_binary, wait_until, wait_until_or};

/// One member: its ports, data dir and (while running) process.
pub struct EtcdNode {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl EtcdNode {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub struct EtcdCluster {
    pub nodes: Vec<EtcdNode>,
    initial_cluster: String,
    /// Keeps the data dirs until the cluster is dropped.
    dir: tempfile::TempDir,
}

/// What `etcdctl endpoint status -w json` says about one member.
#[derive(Debug, Clone)]
pub struct NodeStatus {
    pub index: usize,
    pub member_id: u64,
    pub leader: u64,
}

impl EtcdCluster {
    /// Starts `n` members at once (they need each other to elect a leader) and waits until every
    /// member is healthy and they agree on a leader.
    pub fn start(n: usize) -> EtcdCluster {
        assert!(n >= 1);
        let dir = tempfile::tempdir().expect("tempdir");
        let nodes: Vec<EtcdNode> = (0..n)
            .map(|i| EtcdNode {
                name: format!("n{}", i + 1),
                client_port: free_port(),
                peer_port: free_port(),
                data_dir: dir.path().join(format!("n{}", i + 1)),
                log: dir.path().join(format!("n{}.log", i + 1)),
                child: None,
            })
            .collect();
        let initial_cluster = nodes
            .iter()
            .map(|nd| format!("{}=http://127.0.0.1:{}", nd.name, nd.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        let mut c = EtcdCluster {
            nodes,
            initial_cluster,
            dir,
        };
        for i in 0..n {
            c.spawn(i);
        }
        for i in 0..n {
            c.wait_healthy(i);
        }
        c.leader();
        c
    }

    fn spawn(&mut self, i: usize) {
        assert!(
            self.nodes[i].child.is_none(),
            "{} already running",
            self.nodes[i].name
        );
        let etcd = require_binary("etcd");
        let node = &self.nodes[i];
        let c = node.endpoint();
        let p = format!("http://127.0.0.1:{}", node.peer_port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log)
            .unwrap();
        let child = Command::new(etcd)
            .args(["--name", &node.name])
            .arg("--data-dir")
            .arg(&node.data_dir)
            .args(["--listen-client-urls", &c, "--advertise-client-urls", &c])
            .args([
                "--listen-peer-urls",
                &p,
                "--initial-advertise-peer-urls",
                &p,
            ])
            .args(["--initial-cluster", &self.initial_cluster])
            .args(["--initial-cluster-state", "new"])
            .args([
                "--initial-cluster-token",
                &format!("t-{}", self.dir.path().display()),
            ])
            // Faster elections than the 100 ms / 1 s defaults keep failover tests short.
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .args(["--logger=zap", "--log-outputs=stderr"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting etcd");
        self.nodes[i].child = Some(child);
    }

    pub fn endpoints(&self) -> Vec<String> {
        self.nodes.iter().map(EtcdNode::endpoint).collect()
    }

    pub fn endpoint(&self, i: usize) -> String {
        self.nodes[i].endpoint()
    }

    /// SIGKILL (a crash); the data dir stays so `restart` brings the same member back.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            // A frozen member must be able to die.
            let _ = Command::new(require_binary("kill"))
                .args(["-CONT", &c.id().to_string()])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP: the member freezes with its sockets open (a hung host or a silent network drop).
    pub fn freeze(&self, i: usize) {
        self.signal(i, "STOP");
    }

    /// SIGCONT after `freeze`.
    pub fn thaw(&self, i: usize) {
        self.signal(i, "CONT");
    }

    fn signal(&self, i: usize, sig: &str) {
        let pid = self.nodes[i]
            .child
            .as_ref()
            .unwrap_or_else(|| panic!("{} is not running", self.nodes[i].name))
            .id();
        let ok = Command::new(require_binary("kill"))
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .expect("running kill")
            .success();
        assert!(ok, "kill -{sig} {pid} failed");
    }

    /// Starts a killed member again on the same ports and data and waits until it is healthy.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_healthy(i);
    }

    /// `endpoint health` of member `i` answers healthy (it has a leader and serves reads).
    pub fn wait_healthy(&self, i: usize) {
        wait_until_or(
            format!(
                "etcd member {} (port {}) to be healthy",
                self.nodes[i].name, self.nodes[i].client_port
            ),
            Duration::from_secs(20),
            || {
                self.etcdctl_on(&[i], &["endpoint", "health", "-w", "json"])
                    .is_ok_and(|o| o.contains("\"health\":true"))
            },
            || format!("log:\n{}", tail(&self.nodes[i].log(), 30)),
        );
    }

    /// Indexes of the running members.
    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].is_running())
            .collect()
    }

    /// etcdctl (v3 API) against the given members; Err carries stderr.
    pub fn etcdctl_on(&self, members: &[usize], args: &[&str]) -> Result<String, String> {
        let eps = members
            .iter()
            .map(|&i| format!("127.0.0.1:{}", self.nodes[i].client_port))
            .collect::<Vec<_>>()
            .join(",");
        let out = Command::new(require_binary("etcdctl"))
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &eps, "--command-timeout", "3s"])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// etcdctl against every running member (etcdctl fails over between them).
    pub fn etcdctl(&self, args: &[&str]) -> Result<String, String> {
        self.etcdctl_on(&self.running(), args)
    }

    /// Like `etcdctl`, retried for up to 10 s (a write may land mid-election); panics after that.
    pub fn ctl(&self, args: &[&str]) -> String {
        wait_until(
            format!("etcdctl {args:?} to succeed"),
            Duration::from_secs(10),
            || self.etcdctl(args),
        )
    }

    /// Status of every running member that answers.
    pub fn status(&self) -> Vec<NodeStatus> {
        let mut out = Vec::new();
        for i in self.running() {
            let Ok(text) = self.etcdctl_on(&[i], &["endpoint", "status", "-w", "json"]) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let Some(s) = v.get(0).map(|e| &e["Status"]) else {
                continue;
            };
            out.push(NodeStatus {
                index: i,
                member_id: s["header"]["member_id"].as_u64().unwrap_or(0),
                leader: s["leader"].as_u64().unwrap_or(0),
            });
        }
        out
    }

    /// Index of the current leader: the member whose own id is the leader every answering member
    /// names. Waits up to 10 s for an election to settle.
    pub fn leader(&self) -> usize {
        wait_until(
            "a leader every member agrees on",
            Duration::from_secs(10),
            || {
                let st = self.status();
                let leader = st.first().map_or(0, |s| s.leader);
                let agreed = leader != 0 && st.iter().all(|s| s.leader == leader);
                st.iter()
                    .find(|s| agreed && s.member_id == leader)
                    .map(|s| s.index)
                    .ok_or_else(|| format!("{st:?}"))
            },
        )
    }

    /// The store's current revision (header of a linearizable `get`).
    pub fn revision(&self) -> i64 {
        let out = self.ctl(&["get", "/", "-w", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("etcdctl json");
        v["header"]["revision"].as_i64().expect("header.revision")
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        // SIGKILL: a SIGTERM'd leader waits for its followers (~7 s) and slows every test down.
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

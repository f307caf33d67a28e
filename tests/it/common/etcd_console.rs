//! The headless console for the etcd tests: the real `EtcdSource` task feeding a real `State`
//! through `state::update`, as the app does, and etcd's own view (etcdctl JSON) to compare with.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use opsconsole::audit::AuditLog;
use opsconsole::config::{Config, EtcdProfile};
use opsconsole::model::{
    AuditEntry, AuditId, Command, DeregisterOutcome, Gated, Health, Msg, Mutation, Phase, SourceId,
    SourceKind,
};
use opsconsole::sources::etcd::EtcdSource;
use opsconsole::state::{self, State};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The prefix the etcd tests register under.
pub const PREFIX: &str = "/services/";

/// How long a deregister may take to be answered.
const DEREGISTER_ANSWER: Duration = Duration::from_secs(5);

/// A profile parsed from TOML, as a user would write it.
pub fn profile(endpoints: &[String]) -> EtcdProfile {
    let list = endpoints
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let toml = format!(
        "[clusters.test]\netcd = {{ endpoints = [{list}], prefix = \"{PREFIX}\", connect_timeout_secs = 2, keepalive_secs = 5 }}\n"
    );
    let config = Config::parse(&toml, Path::new("/test/config.toml")).expect("test profile parses");
    let cluster = config.cluster("test").expect("cluster test");
    let etcd = cluster.etcd.clone().expect("etcd profile");
    assert_eq!(etcd.prefix, PREFIX);
    assert_eq!(etcd.endpoints, endpoints);
    etcd
}

/// Key → (value, mod_revision, lease), as the console holds it or as etcd has it.
/// Key bytes (the identity) → (value, mod_revision, lease).
pub type Members = BTreeMap<Vec<u8>, (String, i64, i64)>;

/// The headless console: the source task, the message queue and the state it feeds.
pub struct Console {
    pub state: State,
    pub rx: mpsc::Receiver<Msg>,
    pub cmds: mpsc::Sender<Command>,
    /// Every etcd health report, in order.
    pub healths: Vec<Health>,
    /// Size of every snapshot received, in order.
    pub snapshots: Vec<usize>,
    pub deregs: Vec<(Vec<u8>, DeregisterOutcome)>,
    pub audits: Vec<AuditEntry>,
    /// Where deregister attempts are recorded before they are sent (as the app does).
    pub audit_log: AuditLog,
    _audit_dir: tempfile::TempDir,
    next_audit: u64,
    pub task: JoinHandle<()>,
}

impl Console {
    pub fn start(profile: EtcdProfile) -> Console {
        let (msg_tx, rx) = mpsc::channel(1024);
        let (cmds, cmd_rx) = mpsc::channel(64);
        let state = State::new("test", &profile.prefix, "tester", chrono::Utc::now());
        let task = tokio::spawn(EtcdSource::new(profile, msg_tx, cmd_rx).run());
        let audit_dir = tempfile::tempdir().expect("tempdir for the audit log");
        Console {
            state,
            rx,
            cmds,
            healths: Vec::new(),
            snapshots: Vec::new(),
            deregs: Vec::new(),
            audits: Vec::new(),
            audit_log: AuditLog::new(audit_dir.path().join("audit.log")),
            _audit_dir: audit_dir,
            next_audit: 0,
            task,
        }
    }

    pub fn apply(&mut self, msg: Msg) {
        match &msg {
            Msg::Health(
                SourceId {
                    kind: SourceKind::Etcd,
                    ..
                },
                h,
            ) => self.healths.push(h.clone()),
            Msg::MembersListed { members, .. } => self.snapshots.push(members.len()),
            Msg::MembersSnapshot { .. } => panic!("the etcd source sends MembersListed"),
            Msg::DeregisterDone { key, outcome, .. } => {
                self.deregs.push((key.clone(), outcome.clone()))
            }
            _ => {}
        }
        for cmd in state::update(&mut self.state, msg) {
            match cmd {
                Command::Audit(a) => self.audits.push(a),
                // What the app forwards to the source: the leases on screen.
                c @ Command::WatchLeases(_) => {
                    let _ = self.cmds.try_send(c);
                }
                _ => {}
            }
        }
    }

    /// Applies messages as they arrive until `pred` holds; panics with the state after `timeout`.
    /// Returns how long it took.
    pub async fn until(
        &mut self,
        timeout: Duration,
        what: &str,
        mut pred: impl FnMut(&Console) -> bool,
    ) -> Duration {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            if pred(self) {
                return start.elapsed();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "timed out after {timeout:?} waiting for: {what}\nhealth history: {:?}\nsnapshots: {:?}\nmembers ({}): {:?}",
                    self.healths,
                    self.snapshots,
                    self.state.members.len(),
                    self.members().into_iter().take(20).collect::<Vec<_>>()
                );
            }
            match tokio::time::timeout(left.min(Duration::from_millis(100)), self.rx.recv()).await {
                Ok(Some(msg)) => {
                    self.apply(msg);
                    while let Ok(msg) = self.rx.try_recv() {
                        self.apply(msg);
                    }
                }
                Ok(None) => panic!("the etcd source stopped while waiting for: {what}"),
                Err(_) => {}
            }
        }
    }

    /// Applies whatever arrives during `d`.
    pub async fn idle(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(msg) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.apply(msg.expect("the etcd source stopped"));
        }
    }

    pub async fn send(&self, cmd: Command) {
        self.cmds.send(cmd).await.expect("source is running");
    }

    /// Sends a deregister and waits for its outcome.
    pub async fn deregister(
        &mut self,
        key: impl AsRef<[u8]>,
        mod_revision: i64,
        revoke_lease: Option<i64>,
    ) -> DeregisterOutcome {
        let key = key.as_ref();
        let before = self.deregs.len();
        self.next_audit += 1;
        let attempt = AuditEntry::new(
            AuditId::new("etcd-test", self.next_audit),
            Phase::Attempt,
            chrono::Utc::now().to_rfc3339(),
            "tester",
            "test",
            "deregister",
            opsconsole::model::text::escape_bytes(key).into_owned(),
        );
        let gated = Gated {
            attempt,
            mutation: Mutation::Deregister {
                key: key.to_vec(),
                mod_revision,
                revoke_lease,
            },
        };
        let cmd = self.release(gated);
        self.send(cmd).await;
        self.until(
            DEREGISTER_ANSWER,
            &format!(
                "deregister outcome for {}",
                opsconsole::model::text::escape_bytes(key)
            ),
            |c| c.deregs.len() > before,
        )
        .await;
        let (k, outcome) = self.deregs[before].clone();
        assert_eq!(k, key);
        outcome
    }

    /// What the app does with a gated change: the attempt into the audit log, then the command.
    pub fn release(&self, gated: Gated) -> Command {
        self.audit_log
            .release(gated)
            .unwrap_or_else(|e| panic!("the test's audit log cannot be written: {}", e.error))
    }

    pub fn health(&self) -> Option<&Health> {
        self.state.health_of(SourceKind::Etcd)
    }

    pub fn is_live(&self) -> bool {
        self.health() == Some(&Health::Live)
    }

    pub fn members(&self) -> Members {
        let all: Members = self
            .state
            .members
            .visible_rows(0, usize::MAX)
            .map(|m| {
                (
                    m.key.to_vec(),
                    (
                        String::from_utf8_lossy(&m.value).into_owned(),
                        m.mod_revision,
                        m.lease,
                    ),
                )
            })
            .collect();
        assert_eq!(
            all.len(),
            self.state.members.len(),
            "no filter is set: every member is visible"
        );
        all
    }

    pub fn has(&self, key: impl AsRef<[u8]>) -> bool {
        self.state.members.get(key).is_some()
    }

    /// Index of the first `Retrying` report at or after `from`, if any.
    pub fn retrying_since(&self, from: usize) -> Option<usize> {
        (from..self.healths.len()).find(|&i| matches!(self.healths[i], Health::Retrying { .. }))
    }

    /// Live now, and reported Live at or after `from`.
    pub fn live_since(&self, from: usize) -> bool {
        self.healths[from..].contains(&Health::Live) && self.is_live()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Key → (value, mod_revision, lease) from the output of `etcdctl get --prefix … -w json`.
pub fn members_from_etcdctl(json: &str) -> Members {
    use base64::Engine as _;
    let b64 = |s: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .expect("base64 from etcdctl")
    };
    let v: serde_json::Value = serde_json::from_str(json).expect("etcdctl json");
    let mut all = Members::new();
    for kv in v["kvs"].as_array().cloned().unwrap_or_default() {
        let key = b64(kv["key"].as_str().unwrap());
        let value = String::from_utf8(b64(kv["value"].as_str().unwrap_or(""))).unwrap();
        let rev = kv["mod_revision"].as_i64().unwrap();
        let lease = kv["lease"].as_i64().unwrap_or(0);
        all.insert(key, (value, rev, lease));
    }
    all
}

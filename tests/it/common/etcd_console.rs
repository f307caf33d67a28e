//! The console for the etcd tests: the app's own core on an etcd-only profile (its real etcd
//! source, reducer and audit gate, keys pressed as a user would), and etcd's own view (etcdctl
//! JSON) to compare with.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use opsconsole::config::{ClusterProfile, Config, EtcdProfile};
use opsconsole::model::{
    AuditEntry, DeregisterOutcome, Health, Msg, RestoreOutcome, SourceId, SourceKind,
};
use opsconsole::state::{Pane, Popup, State};

use super::etcd_cluster::EtcdCluster;
use super::headless::Headless;
use super::wait::{pump_until, Pump};
use super::Etcd;

/// The prefix the etcd tests register under.
pub const PREFIX: &str = "/services/";

/// How long a change may take to reach the state of a console on one etcd (expected: well under
/// 1 s).
pub const LIVE: Duration = Duration::from_secs(3);
/// Reconnects go through the source's backoff (250 ms doubling), so allow a few rounds.
pub const RECONNECT: Duration = Duration::from_secs(15);

/// How long a deregister may take to be answered.
const DEREGISTER_ANSWER: Duration = Duration::from_secs(5);

/// `["a", "b"]` as TOML writes a list of strings (without the brackets).
fn toml_list(items: &[String]) -> String {
    items
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A profile parsed from TOML, as a user would write it.
pub fn profile(endpoints: &[String]) -> EtcdProfile {
    let list = toml_list(endpoints);
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

/// The cluster profile `test` as a user would write it: etcd on `endpoints` under [`PREFIX`],
/// then `extra` lines of the `[clusters.test]` table (`protected = true`, `max_bulk = 5`, …).
pub fn cluster_toml(endpoints: &[String], extra: &str) -> ClusterProfile {
    let list = toml_list(endpoints);
    let toml = format!(
        "[clusters.test]\n{extra}\netcd = {{ endpoints = [{list}], prefix = \"{PREFIX}\", connect_timeout_secs = 2, keepalive_secs = 5 }}\n"
    );
    let config = Config::parse(&toml, Path::new("/test/config.toml"))
        .unwrap_or_else(|e| panic!("{e}\n{toml}"));
    config.cluster("test").expect("cluster test").clone()
}

/// Key → (value, mod_revision, lease), as the console holds it or as etcd has it.
/// Key bytes (the identity) → (value, mod_revision, lease).
pub type Members = BTreeMap<Vec<u8>, (String, i64, i64)>;

/// The console on an etcd-only profile, with what its etcd source reported kept for the tests.
pub struct Console {
    pub h: Headless,
    /// Every etcd health report, in order.
    pub healths: Vec<Health>,
    /// When each of `healths` was applied.
    pub health_times: Vec<Instant>,
    /// Size of every listing received, in order.
    pub snapshots: Vec<usize>,
    pub deregs: Vec<(Vec<u8>, DeregisterOutcome)>,
    /// Every undo's outcome, in order.
    pub restores: Vec<(Vec<u8>, RestoreOutcome)>,
}

/// The cluster profile `test` holding only `etcd`.
pub fn cluster(etcd: EtcdProfile) -> ClusterProfile {
    ClusterProfile {
        name: "test".into(),
        etcd: Some(etcd),
        readonly: false,
        theme: None,
        keymap: None,
        accent: None,
        checks: None,
        metrics: None,
        logs: None,
        discovery_prefix: String::new(),
        guard: Default::default(),
        commands: Vec::new(),
        links: Vec::new(),
        warnings: Vec::new(),
    }
}

impl Console {
    pub fn start(profile: EtcdProfile) -> Console {
        Console::with_cluster(cluster(profile))
    }

    /// The console on a whole cluster profile (its guardrails, readonly, …).
    pub fn with_cluster(profile: ClusterProfile) -> Console {
        Console::with_settings(profile, |_| {})
    }

    /// As [`with_cluster`](Self::with_cluster), the session's settings adjusted first.
    pub fn with_settings(
        profile: ClusterProfile,
        adjust: impl FnOnce(&mut opsconsole::core::Settings),
    ) -> Console {
        Console {
            h: Headless::with(profile, adjust),
            healths: Vec::new(),
            health_times: Vec::new(),
            snapshots: Vec::new(),
            deregs: Vec::new(),
            restores: Vec::new(),
        }
    }

    pub fn state(&self) -> &State {
        self.h.state()
    }

    pub fn state_mut(&mut self) -> &mut State {
        self.h.state_mut()
    }

    pub fn apply(&mut self, msg: Msg) {
        match &msg {
            Msg::Health(
                SourceId {
                    kind: SourceKind::Etcd,
                    ..
                },
                h,
            ) => {
                self.healths.push(h.clone());
                self.health_times.push(Instant::now());
            }
            Msg::MembersListed { members, .. } => self.snapshots.push(members.len()),
            Msg::DeregisterDone { key, outcome, .. } => {
                self.deregs.push((key.clone(), outcome.clone()))
            }
            Msg::RestoreDone { key, outcome, .. } => {
                self.restores.push((key.clone(), outcome.clone()))
            }
            _ => {}
        }
        self.h.apply(msg);
    }

    /// Applies messages as they arrive until `pred` holds; panics with the state after `timeout`.
    /// Returns how long it took.
    pub async fn until(
        &mut self,
        timeout: Duration,
        what: &str,
        pred: impl FnMut(&Console) -> bool,
    ) -> Duration {
        let start = Instant::now();
        pump_until(self, what, timeout, pred).await;
        start.elapsed()
    }

    /// Applies whatever arrives during `d`.
    pub async fn idle(&mut self, d: Duration) {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.h.next(left).await {
                Ok(Some(msg)) => self.apply(msg),
                Ok(None) => panic!("the etcd source stopped"),
                Err(()) => return,
            }
        }
    }

    /// Focuses the members pane and moves the cursor onto `key` with the keys a user would
    /// press (top, then down), so the other panes are scoped to it.
    pub fn select(&mut self, key: impl AsRef<[u8]>) {
        let key = key.as_ref();
        for _ in 0..4 {
            if self.state().focus == Pane::Members {
                break;
            }
            self.h.press("tab");
        }
        assert_eq!(self.state().focus, Pane::Members);
        self.h.press("g");
        for _ in 0..self.state().members.visible_len() {
            if self
                .state()
                .members
                .selected()
                .is_some_and(|m| m.key() == key)
            {
                return;
            }
            self.h.press("j");
        }
        panic!(
            "{} is not among the members on screen",
            opsconsole::model::text::escape_bytes(key)
        );
    }

    /// Selects `key`, presses `D` and, with `revoke_lease`, `r`: the dialog is open.
    pub fn open_deregister(&mut self, key: impl AsRef<[u8]>, revoke_lease: bool) {
        self.select(key);
        self.h.press("D");
        assert!(
            matches!(self.state().popup, Some(Popup::Confirm(_))),
            "the deregister dialog opens: {:?} {:?}",
            self.state().popup,
            self.state().status
        );
        if revoke_lease {
            self.h.press("r");
        }
    }

    /// Presses `y` in the open deregister dialog and waits for the outcome.
    pub async fn confirm_deregister(&mut self) -> DeregisterOutcome {
        let before = self.deregs.len();
        self.h.press("y");
        assert_eq!(self.state().popup, None, "the dialog closes on y");
        self.until(DEREGISTER_ANSWER, "the deregister's outcome", |c| {
            c.deregs.len() > before
        })
        .await;
        self.deregs[before].1.clone()
    }

    /// Deregisters `key` through the keys (select, `D`, `r` when revoking, `y`).
    pub async fn deregister(
        &mut self,
        key: impl AsRef<[u8]>,
        revoke_lease: bool,
    ) -> DeregisterOutcome {
        let key = key.as_ref().to_vec();
        self.open_deregister(&key, revoke_lease);
        let outcome = self.confirm_deregister().await;
        assert_eq!(self.deregs.last().map(|(k, _)| k), Some(&key));
        outcome
    }

    /// The audit log's lines.
    pub fn audits(&self) -> Vec<AuditEntry> {
        self.h.audit()
    }

    pub fn health(&self) -> Option<&Health> {
        self.state().health_of(SourceKind::Etcd)
    }

    pub fn is_live(&self) -> bool {
        self.health() == Some(&Health::Live)
    }

    pub fn members(&self) -> Members {
        let all: Members = self
            .state()
            .members
            .visible_rows(0, usize::MAX)
            .map(|m| {
                (
                    m.key().to_vec(),
                    (
                        String::from_utf8_lossy(m.value()).into_owned(),
                        m.mod_revision,
                        m.lease,
                    ),
                )
            })
            .collect();
        assert_eq!(
            all.len(),
            self.state().members.len(),
            "no filter is set: every member is visible"
        );
        all
    }

    pub fn has(&self, key: impl AsRef<[u8]>) -> bool {
        self.state().members.get(key).is_some()
    }

    /// Index of the first `Retrying` report at or after `from`, if any.
    pub fn retrying_since(&self, from: usize) -> Option<usize> {
        (from..self.healths.len()).find(|&i| matches!(self.healths[i], Health::Retrying { .. }))
    }

    /// When the first `Live` at or after report `from` was applied, if any.
    pub fn live_at(&self, from: usize) -> Option<Instant> {
        (from..self.healths.len())
            .find(|&i| self.healths[i] == Health::Live)
            .map(|i| self.health_times[i])
    }

    /// Live now, and reported Live at or after `from`.
    pub fn live_since(&self, from: usize) -> bool {
        self.healths[from..].contains(&Health::Live) && self.is_live()
    }
}

impl Pump for Console {
    async fn pump(&mut self, d: Duration) -> Result<(), String> {
        for msg in self.h.receive(d).await? {
            self.apply(msg);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "health history: {:?}\nsnapshots: {:?}\nstatus: {:?}\nmembers ({}): {:?}",
            self.healths,
            self.snapshots,
            self.state().status,
            self.state().members.len(),
            self.members().into_iter().take(20).collect::<Vec<_>>()
        )
    }
}

/// etcd's own view, through etcdctl: one member ([`Etcd`]) or a cluster ([`EtcdCluster`]).
pub trait Etcdctl {
    /// etcdctl (v3 API) with `args`; its stdout. Panics if it fails.
    fn etcdctl_ok(&self, args: &[&str]) -> String;
}

impl Etcdctl for Etcd {
    fn etcdctl_ok(&self, args: &[&str]) -> String {
        self.ctl(args)
    }
}

impl Etcdctl for EtcdCluster {
    fn etcdctl_ok(&self, args: &[&str]) -> String {
        self.ctl(args)
    }
}

/// Everything under the prefix, straight from etcd via etcdctl (`get --prefix -w json`).
pub fn etcd_members(etcd: &impl Etcdctl) -> Members {
    members_from_etcdctl(&etcd.etcdctl_ok(&["get", "--prefix", PREFIX, "-w", "json"]))
}

/// The store's current revision, from the header of `etcdctl get / -w json`.
pub fn etcd_revision(etcd: &impl Etcdctl) -> i64 {
    let out = etcd.etcdctl_ok(&["get", "/", "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("etcdctl json");
    v["header"]["revision"].as_i64().expect("header.revision")
}

pub fn etcd_mod_revision(etcd: &impl Etcdctl, key: &str) -> Option<i64> {
    let out = etcd.etcdctl_ok(&["get", key, "-w", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("etcdctl json");
    v["kvs"]
        .get(0)
        .map(|kv| kv["mod_revision"].as_i64().unwrap())
}

pub fn etcd_has(etcd: &impl Etcdctl, key: &str) -> bool {
    etcd_mod_revision(etcd, key).is_some()
}

/// `etcdctl lease grant` → lease id.
pub fn grant(etcd: &impl Etcdctl, ttl: u32) -> i64 {
    let out = etcd.etcdctl_ok(&["lease", "grant", &ttl.to_string()]);
    // "lease 694d77aa9e38260f granted with TTL(2s)"
    let hex = out.split_whitespace().nth(1).expect("lease id in output");
    u64::from_str_radix(hex, 16).expect("hex lease id") as i64
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

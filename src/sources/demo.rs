//! `--demo`: a simulated fleet that speaks through the same `Msg`/`Command` paths as the real
//! sources, so every key works without any server: members join and leave, checks flap, metrics
//! move, logs flow; deregister removes an instance, silence marks its checks.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::mpsc;

use crate::model::{
    CheckResult, ChecksSnapshot, ClusterId, Command, DeregisterOutcome, Fields, Health,
    HistoryPoint, KvEntry, KvEvent, LogLine, MetricsQuery, MetricsResult, Msg, Series, Silence,
    SilenceOutcome, SilenceScope, SilenceTarget, SourceKind,
};

pub const PREFIX: &str = "/services/";
const ROLES: [(&str, usize, u16); 4] = [
    ("web", 12, 80),
    ("api", 8, 8080),
    ("redis", 3, 6379),
    ("worker", 10, 9000),
];
const CHECKS: [&str; 4] = ["check_http", "check_disk", "check_load", "keepalive"];
const PROGRAMS: [&str; 5] = ["nginx", "app", "sshd", "cron", "kernel"];

struct Instance {
    key: String,
    role: &'static str,
    name: String,
    addr: String,
    create_revision: i64,
    mod_revision: i64,
    lease: i64,
}

pub struct DemoSource {
    cluster: ClusterId,
    tx: mpsc::Sender<Msg>,
    cmds: mpsc::Receiver<Command>,
    revision: i64,
    instances: BTreeMap<String, Instance>,
    checks: BTreeMap<(String, String), CheckResult>,
    silences: Vec<Silence>,
    next_id: usize,
    /// The metrics pane's query, answered again on an interval.
    metrics_query: Option<MetricsQuery>,
    rng: StdRng,
    /// A fixed time for screenshots and tests; the wall clock otherwise.
    frozen: Option<DateTime<Utc>>,
}

impl DemoSource {
    pub fn new(tx: mpsc::Sender<Msg>, cmds: mpsc::Receiver<Command>) -> DemoSource {
        DemoSource {
            cluster: ClusterId::default(),
            tx,
            cmds,
            revision: 1,
            instances: BTreeMap::new(),
            checks: BTreeMap::new(),
            silences: Vec::new(),
            next_id: 0,
            metrics_query: None,
            rng: StdRng::from_rng(&mut rand::rng()),
            frozen: None,
        }
    }

    /// The same fleet every time: seeded, at a fixed time (screenshots, tests).
    pub fn seeded(mut self, seed: u64, now: DateTime<Utc>) -> Self {
        self.rng = StdRng::seed_from_u64(seed);
        self.frozen = Some(now);
        self
    }

    fn now(&self) -> DateTime<Utc> {
        self.frozen.unwrap_or_else(crate::clock::now)
    }

    /// What a seeded demo says in its first moments, without running: the listing, a few rounds
    /// of checks (so they have a history), some log lines, lease TTLs, every source live.
    pub fn first_messages(seed: u64, now: DateTime<Utc>) -> Vec<Msg> {
        let (tx, _rx) = mpsc::channel(1);
        let (_ctx, crx) = mpsc::channel(1);
        let mut d = DemoSource::new(tx, crx).seeded(seed, now);
        let mut out: Vec<Msg> = SourceKind::ALL
            .iter()
            .map(|k| Msg::Health(k.of(d.cluster), Health::Live))
            .collect();
        let entries = d.initial_entries();
        out.push(Msg::listing(PREFIX, d.revision, entries, now));
        for _ in 0..8 {
            out.push(d.flap_round());
        }
        let names = d.names();
        let mut lines = Vec::new();
        for _ in 0..40 {
            lines.extend(d.lines(&names));
        }
        out.push(Msg::LogLines(lines));
        out.push(d.lease_ttls());
        out
    }

    fn initial_entries(&mut self) -> Vec<KvEntry> {
        let mut entries = Vec::new();
        for (role, n, port) in ROLES {
            for _ in 0..n {
                entries.push(self.add_instance(role, port));
            }
        }
        entries
    }

    fn names(&self) -> Vec<(String, String)> {
        self.instances
            .values()
            .map(|i| (i.name.clone(), i.role.to_string()))
            .collect()
    }

    fn lease_ttls(&self) -> Msg {
        let ttls = self
            .instances
            .values()
            .map(|i| (i.lease, 20 + (i.lease % 11)))
            .collect();
        Msg::LeaseTtls {
            ttls,
            at: self.now(),
        }
    }

    fn add_instance(&mut self, role: &'static str, port: u16) -> KvEntry {
        self.next_id += 1;
        self.revision += 1;
        let n = self.next_id;
        let name = format!("{role}-{n}");
        let addr = format!("10.0.{}.{}:{port}", n / 250, n % 250 + 1);
        let key = format!("{PREFIX}{role}/{name}");
        let started = self.now() - chrono::Duration::minutes(self.rng.random_range(1..5000));
        let value = format!(
            r#"{{"addr":"{}","port":{port},"version":"1.{}.{}","started_at":"{}"}}"#,
            addr.rsplit_once(':').map(|x| x.0).unwrap_or(""),
            n % 4,
            n % 7,
            started.to_rfc3339()
        );
        let lease = 0x7a00_0000 + n as i64;
        self.instances.insert(
            key.clone(),
            Instance {
                key: key.clone(),
                role,
                name: name.clone(),
                addr,
                create_revision: self.revision,
                mod_revision: self.revision,
                lease,
            },
        );
        for check in CHECKS {
            let status = if self.rng.random_bool(0.15) {
                self.rng.random_range(1..3)
            } else {
                0
            };
            self.checks.insert(
                (name.clone(), check.to_string()),
                CheckResult {
                    cluster: Default::default(),
                    fingerprint: String::new(),
                    inhibited_by: Vec::new(),
                    entity: name.clone(),
                    check: check.to_string(),
                    status,
                    output: demo_output(check, status),
                    occurrences: 1,
                    since: Some(self.now()),
                    executed: Some(self.now()),
                    history: Vec::new(),
                    subscriptions: vec![
                        role.to_string(),
                        "linux".to_string(),
                        format!("entity:{name}"),
                    ],
                    silenced_by: Vec::new(),
                    silenced: false,
                    labels: Vec::new(),
                    annotations: Vec::new(),
                    links: Vec::new(),
                },
            );
        }
        KvEntry {
            key: key.into_bytes(),
            value: value.into_bytes(),
            create_revision: self.revision,
            mod_revision: self.revision,
            version: 1,
            lease,
        }
    }

    /// An undone deregister: the key back with its value (its checks come back at the next round).
    fn put_back(&mut self, key: &str, value: &[u8]) -> KvEvent {
        self.revision += 1;
        let rest = key.strip_prefix(PREFIX).unwrap_or(key);
        let (role, name) = rest.split_once('/').unwrap_or(("web", rest));
        let role = ROLES
            .iter()
            .map(|r| r.0)
            .find(|r| *r == role)
            .unwrap_or("web");
        self.instances.insert(
            key.to_string(),
            Instance {
                key: key.to_string(),
                role,
                name: name.to_string(),
                addr: String::new(),
                create_revision: self.revision,
                mod_revision: self.revision,
                lease: 0,
            },
        );
        KvEvent::Put(KvEntry {
            key: key.as_bytes().to_vec(),
            value: value.to_vec(),
            create_revision: self.revision,
            mod_revision: self.revision,
            version: 1,
            lease: 0,
        })
    }

    fn remove_instance(&mut self, key: &str) -> Option<KvEvent> {
        let inst = self.instances.remove(key)?;
        self.checks.retain(|(e, _), _| *e != inst.name);
        self.revision += 1;
        Some(KvEvent::Delete {
            key: key.as_bytes().to_vec(),
            mod_revision: self.revision,
        })
    }

    async fn send(&self, m: Msg) -> bool {
        self.tx.send(m).await.is_ok()
    }

    async fn answer_metrics(&self, q: MetricsQuery) -> bool {
        let now = self.now();
        let result = demo_metrics(&q, now);
        self.send(Msg::Metrics { result, at: now }).await
    }

    pub async fn run(mut self) {
        let entries = self.initial_entries();
        for kind in SourceKind::ALL {
            if !self
                .send(Msg::Health(kind.of(self.cluster), Health::Live))
                .await
            {
                return;
            }
        }
        let at = self.now();
        if !self
            .send(Msg::listing(PREFIX, self.revision, entries, at))
            .await
        {
            return;
        }
        let mut churn = tokio::time::interval(Duration::from_secs(3));
        let mut checks = tokio::time::interval(Duration::from_secs(2));
        let mut logs = tokio::time::interval(Duration::from_millis(250));
        let mut leases = tokio::time::interval(Duration::from_secs(1));
        // Like a real metrics source, the query on screen is asked again on an interval.
        let mut metrics = tokio::time::interval(Duration::from_secs(5));
        loop {
            let ok = tokio::select! {
                _ = churn.tick() => self.churn().await,
                _ = metrics.tick() => match self.metrics_query.clone() {
                    Some(q) => self.answer_metrics(q).await,
                    None => true,
                },
                _ = checks.tick() => self.flap().await,
                _ = logs.tick() => self.log_burst().await,
                _ = leases.tick() => {
                    let ttls = self.lease_ttls();
                    self.send(ttls).await
                }
                cmd = self.cmds.recv() => match cmd {
                    None => return,
                    Some(c) => self.command(c).await,
                },
            };
            if !ok {
                return;
            }
        }
    }

    async fn churn(&mut self) -> bool {
        let mut events = Vec::new();
        let roll: f64 = self.rng.random();
        if roll < 0.4 || self.instances.len() < 20 {
            let (role, _, port) = ROLES[self.rng.random_range(0..ROLES.len())];
            events.push(KvEvent::Put(self.add_instance(role, port)));
        } else if roll < 0.75 {
            let keys: Vec<String> = self.instances.keys().cloned().collect();
            let k = &keys[self.rng.random_range(0..keys.len())];
            if let Some(e) = self.remove_instance(&k.clone()) {
                events.push(e);
            }
        }
        events.is_empty()
            || self
                .send(Msg::MembersEvents {
                    events,
                    at: self.now(),
                })
                .await
    }

    async fn flap(&mut self) -> bool {
        let round = self.flap_round();
        self.send(round).await
    }

    /// One round of checks: a few change status, every one runs once more.
    fn flap_round(&mut self) -> Msg {
        let now = self.now();
        let silences = self.silences.clone();
        let rng = &mut self.rng;
        for r in self.checks.values_mut() {
            if rng.random_bool(0.05) {
                let status = match r.status {
                    0 => rng.random_range(1..3),
                    _ => 0,
                };
                if status != r.status {
                    r.since = Some(now);
                    r.occurrences = 0;
                }
                r.status = status;
                r.output = demo_output(&r.check, status);
            }
            r.occurrences += 1;
            r.executed = Some(now);
            r.history.push(HistoryPoint {
                status: r.status,
                executed: Some(now),
            });
            if r.history.len() > 21 {
                r.history.remove(0);
            }
            r.silenced_by = silences
                .iter()
                .filter(|s| s.matches(r))
                .map(|s| s.id.clone())
                .collect();
            r.silenced = !r.silenced_by.is_empty();
        }
        let snapshot = ChecksSnapshot {
            inhibit_rules: Vec::new(),
            results: self.checks.values().cloned().collect(),
            silences: self.silences.clone(),
            skipped: 0,
        };
        Msg::ChecksSnapshot { snapshot, at: now }
    }

    async fn log_burst(&mut self) -> bool {
        let names = self.names();
        if names.is_empty() {
            return true;
        }
        let lines = self.lines(&names);
        self.send(Msg::LogLines(lines)).await
    }

    /// A few plausible lines from the fleet's hosts.
    fn lines(&mut self, names: &[(String, String)]) -> Vec<LogLine> {
        let now = self.now();
        let rng = &mut self.rng;
        let n = rng.random_range(1..6);
        (0..n)
            .map(|_| {
                let (host, _) = &names[rng.random_range(0..names.len())];
                let program = PROGRAMS[rng.random_range(0..PROGRAMS.len())];
                let sev: u8 = *[6, 6, 6, 5, 4, 3, 7].get(rng.random_range(0..7)).unwrap_or(&6);
                let message = match (program, sev) {
                    ("nginx", 3) => "upstream timed out (110: Connection timed out) while reading response header".to_string(),
                    ("nginx", _) => format!("GET /api/v1/items/{} HTTP/1.1 200 {}", rng.random_range(1..9999), rng.random_range(100..9000)),
                    ("sshd", _) => format!("Accepted publickey for deploy from 10.0.0.{} port {}", rng.random_range(1..250), rng.random_range(30000..60000)),
                    ("app", 4) => "slow query: 1873 ms SELECT * FROM orders WHERE …".to_string(),
                    ("app", _) => format!("request id={:08x} served in {} ms", rng.random::<u32>(), rng.random_range(1..400)),
                    ("cron", _) => "(root) CMD (/usr/local/bin/rotate-logs)".to_string(),
                    _ => "TCP: request_sock_TCP: Possible SYN flooding on port 443".to_string(),
                };
                LogLine {
                    time: Some(now),
                    host: host.clone().into(),
                    program: program.to_string().into(),
                    severity: Some(sev),
                    message,
                    fields: Fields::from_pairs([("source", "demo")]),
                }
            })
            .collect()
    }

    async fn command(&mut self, cmd: Command) -> bool {
        match cmd {
            // The demo is one cluster: a command for it is a command.
            Command::InCluster(_, inner) => Box::pin(self.command(*inner)).await,
            Command::MembersAt(at) => {
                let why = "the demo fleet keeps no history".to_string();
                let result = Err(crate::model::PastUnknown::Failed(why));
                self.send(Msg::MembersAt { at, result }).await
            }
            Command::Deregister {
                key,
                mod_revision,
                revoke_lease,
                audit,
            } => {
                // The simulated fleet's keys are all ASCII: a key that is not is simply not there.
                let name = std::str::from_utf8(&key).unwrap_or_default();
                let outcome = match self.instances.get(name) {
                    None => DeregisterOutcome::Missing,
                    Some(i) if i.mod_revision != mod_revision => DeregisterOutcome::Changed {
                        current_mod_revision: Some(i.mod_revision),
                    },
                    Some(_) => {
                        if let Some(e) = self.remove_instance(name) {
                            if !self
                                .send(Msg::MembersEvents {
                                    events: vec![e],
                                    at: self.now(),
                                })
                                .await
                            {
                                return false;
                            }
                        }
                        DeregisterOutcome::Deleted {
                            lease_revoked: revoke_lease.map(Ok),
                        }
                    }
                };
                self.send(Msg::DeregisterDone {
                    key,
                    outcome,
                    audit_id: audit.id().clone(),
                })
                .await
            }
            Command::FetchHistory { key, .. } => {
                let revisions = Ok(self
                    .instances
                    .get(std::str::from_utf8(&key).unwrap_or_default())
                    .map(|i| {
                        vec![KvEntry {
                            key: i.key.clone().into_bytes(),
                            value: format!(r#"{{"addr":"{}","version":"0.9.0"}}"#, i.addr)
                                .into_bytes(),
                            create_revision: i.create_revision,
                            mod_revision: i.create_revision,
                            version: 1,
                            lease: i.lease,
                        }]
                    })
                    .unwrap_or_default());
                self.send(Msg::History { key, revisions }).await
            }
            Command::Silence { request, audit } => {
                let id = match &request.scope {
                    SilenceScope::CheckOnEntity { entity, check } => {
                        format!("entity:{entity}:{check}")
                    }
                    SilenceScope::CheckEverywhere { check } => format!("*:{check}"),
                    SilenceScope::Entity { entity } => format!("entity:{entity}:*"),
                    SilenceScope::Subscription { subscription } => format!("{subscription}:*"),
                };
                let (subscription, check) = id
                    .rsplit_once(':')
                    .map(|(s, c)| (s.to_string(), c.to_string()))
                    .unwrap_or_default();
                let silence = Silence::requested(
                    id,
                    &request,
                    SilenceTarget::Entry {
                        subscription: (subscription != "*").then_some(subscription),
                        check: (check != "*").then_some(check),
                    },
                    self.now(),
                );
                self.silences.retain(|s| s.id != silence.id);
                self.silences.push(silence.clone());
                self.send(Msg::SilenceDone {
                    outcome: SilenceOutcome::Created {
                        silence: Box::new(silence),
                        request,
                    },
                    audit_id: audit.id().clone(),
                })
                .await
            }
            Command::ExtendSilence {
                silence,
                until,
                audit,
            } => {
                let now = self.now();
                let outcome = match self.silences.iter_mut().find(|s| s.id == silence.id) {
                    Some(s) => {
                        s.expire_at = Some(until);
                        s.updated_at = Some(now);
                        SilenceOutcome::Extended {
                            old_id: silence.id.clone(),
                            silence: Box::new(s.clone()),
                        }
                    }
                    None => SilenceOutcome::Failed {
                        what: format!("extend silence {}", silence.id),
                        error: "no such silence".into(),
                    },
                };
                self.send(Msg::SilenceDone {
                    outcome,
                    audit_id: audit.id().clone(),
                })
                .await
            }
            Command::Unsilence { id, audit } => {
                let before = self.silences.len();
                self.silences.retain(|s| s.id != id);
                let outcome = if before == self.silences.len() {
                    SilenceOutcome::Failed {
                        what: format!("unsilence {id}"),
                        error: "no such silence".into(),
                    }
                } else {
                    SilenceOutcome::Removed { id }
                };
                self.send(Msg::SilenceDone {
                    outcome,
                    audit_id: audit.id().clone(),
                })
                .await
            }
            Command::MetricsQuery(q) => {
                self.metrics_query = Some(q.clone());
                self.answer_metrics(q).await
            }
            Command::MetricsIdle => {
                self.metrics_query = None;
                true
            }
            Command::LeaseInfo { lease } => {
                let keys: Vec<Vec<u8>> = self
                    .instances
                    .values()
                    .filter(|i| i.lease == lease)
                    .map(|i| i.key.clone().into_bytes())
                    .collect();
                let info = Ok(crate::model::LeaseKeys {
                    ttl: if keys.is_empty() { -1 } else { 20 + lease % 11 },
                    keys,
                });
                self.send(Msg::LeaseInfo { lease, info }).await
            }
            Command::Restore {
                key, value, audit, ..
            } => {
                let name = String::from_utf8_lossy(&key).into_owned();
                let outcome = if self.instances.contains_key(&name) {
                    crate::model::RestoreOutcome::Reregistered
                } else {
                    let event = self.put_back(&name, &value);
                    let sent = self
                        .send(Msg::MembersEvents {
                            events: vec![event],
                            at: self.now(),
                        })
                        .await;
                    if !sent {
                        return false;
                    }
                    crate::model::RestoreOutcome::Restored {
                        lease: 0,
                        new_lease: false,
                        ttl: 0,
                    }
                };
                self.send(Msg::RestoreDone {
                    key,
                    outcome,
                    audit_id: audit.id().clone(),
                })
                .await
            }
            Command::WatchLeases(_)
            | Command::Gated(_)
            | Command::LogsScope(_)
            | Command::LogsAround(_)
            | Command::LogsHistogram(_)
            | Command::AlertsAt(_)
            | Command::Copy(_)
            | Command::Notify { .. }
            | Command::SaveLogs { .. }
            | Command::Journal { .. }
            | Command::WriteJournal { .. }
            | Command::Audit(_)
            | Command::SwitchCluster(_)
            | Command::StartSource { .. }
            | Command::StopSource(_)
            | Command::ListClusters
            | Command::SetTheme(_)
            | Command::Run { .. }
            | Command::KillTask(_)
            | Command::OpenUrl(_)
            | Command::RecordHistory(_)
            | Command::Quit
            | Command::Suspend => true,
        }
    }
}

fn demo_output(check: &str, status: i64) -> String {
    match (check, status) {
        ("check_http", 0) => {
            "HTTP OK: HTTP/1.1 200 OK - 612 bytes in 0.004 second response time".into()
        }
        ("check_http", _) => {
            "HTTP CRITICAL: HTTP/1.1 503 Service Unavailable - 182 bytes in 0.101 second".into()
        }
        ("check_disk", 0) => "DISK OK - free space: / 12034 MB (61%)".into(),
        ("check_disk", 1) => "DISK WARNING - free space: / 1804 MB (9%)".into(),
        ("check_disk", _) => "DISK CRITICAL - free space: / 210 MB (1%)".into(),
        ("check_load", 0) => "OK - load average: 0.42, 0.51, 0.48".into(),
        ("check_load", 1) => "WARNING - load average: 11.02, 9.87, 7.10".into(),
        ("check_load", _) => "CRITICAL - load average: 31.40, 28.02, 19.77".into(),
        (_, 0) => "Keepalive last sent 4 seconds ago".into(),
        _ => "No keepalive sent from client for 182 seconds (>=180)".into(),
    }
}

/// Made-up series that are a function of time: each point is the value at its own moment in the
/// query's window ending now, so the window is honoured and the lines move as time passes.
pub fn demo_metrics(q: &MetricsQuery, now: chrono::DateTime<Utc>) -> MetricsResult {
    let seed = q
        .label
        .bytes()
        .fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64));
    let end = now.timestamp() as f64;
    let window = q.window.secs() as f64;
    let width = q.width.max(1);
    let step = window / width as f64;
    let series = [
        ("cpu", "%", 40.0, 30.0),
        ("req/s", "", 800.0, 400.0),
        ("latency p99", "ms", 120.0, 80.0),
        ("mem", "%", 60.0, 10.0),
    ]
    .iter()
    .enumerate()
    .map(|(k, (name, unit, base, amp))| {
        let points: Vec<Option<f64>> = (0..width)
            .map(|i| {
                let ts = end - window + (i as f64 + 1.0) * step;
                // A gap now and then (a missed scrape) so the gap rendering is visible.
                let slot = (ts / 60.0) as u64;
                if (slot + seed + k as u64).is_multiple_of(37) {
                    return None;
                }
                // Periods of minutes to hours, so every window shows movement.
                let x = ts / 240.0 + (seed % 100) as f64 + k as f64;
                let slow = (ts / 7200.0 + k as f64).sin();
                Some((base + amp * (x.sin() * 0.5 + (x * 2.7).cos() * 0.3 + slow * 0.2)).max(0.0))
            })
            .collect();
        let finite: Vec<f64> = points.iter().flatten().copied().collect();
        Ok(Series {
            name: name.to_string(),
            expr: format!("demo.{}.{name}", q.label),
            unit: unit.to_string(),
            last: finite.last().copied(),
            min: finite.iter().copied().reduce(f64::min),
            max: finite.iter().copied().reduce(f64::max),
            points,
        })
    })
    .collect();
    MetricsResult {
        query: q.clone(),
        series,
    }
}

//! `opsconsole snapshot --cluster NAME [--format markdown|json] [--logs N]`: what a hand-off needs,
//! printed once without the TUI — members (count per role and a table), failing checks (worst
//! first, with the silences covering them), active silences, and the last N error-or-worse log lines.
//!
//! Every backend is asked once, concurrently, with a deadline of [`BACKEND_TIMEOUT`] (etcd: its own
//! per-endpoint connect timeout, then 5 s for the listing). A backend that fails is reported in its
//! own section ("checks: unreachable: …") and in `errors`; the rest still prints. Exit status 0 when
//! etcd answered, 1 when it did not, 2 for a bad config (then nothing is printed on stdout).
//!
//! Logs come only from sources with history (Elasticsearch, Loki): the newest [`LOG_SCAN`] lines of
//! the past hour are read once and filtered to severity err or worse. Redis is live-only (Pub/Sub
//! cannot replay; a list would be consumed by reading it), so the section says so instead of waiting.
//! All backend text is sanitised; markdown cells are escaped so a value cannot break the table.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::{fail, runtime, Pick, EXIT_UNAVAILABLE, EXIT_USAGE};
use crate::config::{ChecksProfile, ClusterProfile, LogsKind, LogsProfile};
use crate::model::format::timestamp;
use crate::model::text::fit;
use crate::model::text::{first_line, sanitize};
use crate::model::DisplayZone;
use crate::model::{
    natural_cmp, status_label, CheckResult, LogLine, Member, Silence, SourceKind, SEVERITY_NAMES,
};
use crate::sources::checks::Backend;
use crate::sources::discovery::read_entries;
use crate::sources::http::{self, HttpError};
use crate::sources::logs::{EsTail, LokiTail, Tail};
use crate::state::checks::Checks;

/// Deadline for each backend's answer.
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Log lines read (newest first, past hour) to find the last N errors among.
pub const LOG_SCAN: usize = 2000;
/// Syslog severity `err`: this and lower numbers (crit, alert, emerg) are "error or worse".
const ERR: u8 = 3;
/// Longest check output / log message in a markdown cell.
const CELL_CHARS: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cluster profile to read (a [clusters.NAME] table in the config); several, comma-separated
    /// (`prod,prod-eu`), give one snapshot per cluster
    #[arg(long, short = 'c', value_name = "NAME")]
    pub cluster: Option<String>,
    /// Output: GitHub-flavoured markdown tables, or one JSON object
    #[arg(long, value_enum, default_value_t = Format::Markdown)]
    pub format: Format,
    /// How many error-or-worse log lines to include (Elasticsearch and Loki only)
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub logs: usize,
    /// The picture at a past moment (14:02, -15m, 2026-12-03T14:02): members at the revision the
    /// console's revision clock maps it to, checks from their history, logs ±5 min around it
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub at: Option<String>,
}

/// A section's data, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Section<T> {
    Ok(T),
    NotConfigured,
    /// Not an error: the source cannot answer this (e.g. live-only logs).
    Note(String),
    /// The backend failed; the message is the whole line ("checks: unreachable: …").
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct MembersData {
    pub prefix: String,
    pub revision: i64,
    /// Sorted by role, then instance.
    pub members: Vec<Member>,
    /// How the revision of a past moment was found (`--at`): when the console saw it, or that
    /// it is compacted and this is the nearest.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailingCheck {
    pub result: CheckResult,
    /// Ids of the silences covering it (from the backend or by matching).
    pub silenced_by: Vec<String>,
}

impl FailingCheck {
    pub fn silenced(&self) -> bool {
        self.result.silenced || !self.silenced_by.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChecksData {
    pub backend: &'static str,
    pub total: usize,
    /// Status != 0, worst first.
    pub failing: Vec<FailingCheck>,
    pub silences: Vec<Silence>,
    pub skipped: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogsData {
    pub source: &'static str,
    /// Lines read to find the errors.
    pub scanned: usize,
    /// Error-or-worse lines, oldest first, at most N.
    pub lines: Vec<LogLine>,
    pub notice: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub cluster: String,
    pub generated_at: DateTime<Utc>,
    /// The moment pictured (`--at`); `None`: now.
    pub at: Option<DateTime<Utc>>,
    pub members: Section<MembersData>,
    pub checks: Section<ChecksData>,
    pub logs: Section<LogsData>,
    pub wanted_logs: usize,
}

impl Snapshot {
    /// Every failed section's line, in section order.
    pub fn errors(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Section::Failed(e) = &self.members {
            out.push(e.clone());
        }
        if let Section::Failed(e) = &self.checks {
            out.push(e.clone());
        }
        if let Section::Failed(e) = &self.logs {
            out.push(e.clone());
        }
        out
    }

    pub fn etcd_answered(&self) -> bool {
        matches!(self.members, Section::Ok(_))
    }
}

/// One line describing a failed request, kept on one line and sanitised.
fn one_line(s: &str) -> String {
    sanitize(&s.replace(['\n', '\r'], " ")).into_owned()
}

fn http_failure(what: &str, e: &HttpError) -> String {
    match e {
        HttpError::Unreachable(_) | HttpError::Timeout(_) => {
            format!("{what}: unreachable: {}", one_line(&e.to_string()))
        }
        _ => format!("{what}: failed: {}", one_line(&e.to_string())),
    }
}

/// What discovery found for a pane the profile leaves out.
#[derive(Debug)]
enum Lookup<T> {
    Absent,
    Invalid(String),
    Found(T),
    EtcdDown,
}

/// Connects to etcd once, lists the members and, for panes the profile leaves out, reads their
/// discovery entries (`<discovery_prefix>checks|logs`), as the console does.
async fn members_section(
    profile: &ClusterProfile,
    at: Option<DateTime<Utc>>,
    checks_tx: oneshot::Sender<Lookup<ChecksProfile>>,
    logs_tx: oneshot::Sender<Lookup<LogsProfile>>,
) -> Section<MembersData> {
    let Some(etcd) = profile.etcd.as_ref() else {
        return Section::NotConfigured;
    };
    crate::sources::http::install_crypto_provider();
    let client = match crate::sources::etcd::connect_answered(etcd).await {
        Ok((c, who)) => {
            if let Some(at) = at {
                let past = members_at(c.clone(), etcd, who.cluster_id, at);
                // Discovery is read at the revision of now: it says where the backends are.
                let discovery = discover(profile, &c, checks_tx, logs_tx);
                let (past, ()) = tokio::join!(past, discovery);
                return past;
            }
            c
        }
        Err(e) => {
            let _ = checks_tx.send(Lookup::EtcdDown);
            let _ = logs_tx.send(Lookup::EtcdDown);
            return Section::Failed(format!(
                "etcd: unreachable: {}",
                one_line(&format!("{e:#}"))
            ));
        }
    };
    let listing = tokio::time::timeout(
        BACKEND_TIMEOUT,
        crate::sources::etcd::list_prefix(&client, &etcd.prefix),
    );
    // Discovered backends are handed over as soon as they are read, not after the listing.
    let discovery = discover(profile, &client, checks_tx, logs_tx);
    let (listing, ()) = tokio::join!(listing, discovery);
    match listing {
        Ok(Ok((revision, entries))) => {
            let mut members: Vec<Member> = entries
                .into_iter()
                .map(|e| Member::from_entry(&etcd.prefix, e, None))
                .collect();
            sort_members(&mut members);
            Section::Ok(MembersData {
                prefix: etcd.prefix.clone(),
                revision,
                members,
                note: None,
            })
        }
        Ok(Err(e)) => Section::Failed(format!("etcd: failed: {}", one_line(&format!("{e:#}")))),
        Err(_) => Section::Failed(format!(
            "etcd: unreachable: listing {} did not finish within {} s",
            one_line(&etcd.prefix),
            BACKEND_TIMEOUT.as_secs()
        )),
    }
}

fn sort_members(members: &mut [Member]) {
    members.sort_by(|a, b| {
        natural_cmp(a.role(), b.role()).then_with(|| natural_cmp(a.instance(), b.instance()))
    });
}

/// The members at `at`: the revision the console's revision clock (kept by the TUI in the state
/// dir, per cluster id) maps it to, read with `get --prefix --rev R`.
async fn members_at(
    client: etcd_client::Client,
    etcd: &crate::config::EtcdProfile,
    cluster_id: u64,
    at: DateTime<Utc>,
) -> Section<MembersData> {
    use crate::model::PastUnknown;
    let dir = crate::paths::revclock_dir();
    let clock = crate::sources::revclock::ClockFile::open(Some(&dir), cluster_id, Utc::now()).clock;
    // Bounded as the console's read, within the snapshot's deadline: past it, what arrived is
    // written and marked partial. The outer timeout only catches a compaction probe that hangs.
    let bounds = crate::sources::etcd::Bounds::within(BACKEND_TIMEOUT * 2);
    let read = crate::sources::etcd::read_members_at(client, &etcd.prefix, &clock, at, bounds);
    match tokio::time::timeout(BACKEND_TIMEOUT * 4, read).await {
        Err(_) => Section::Failed(format!(
            "etcd: unreachable: the members at that time did not arrive within {} s",
            (BACKEND_TIMEOUT * 4).as_secs()
        )),
        Ok(Err(PastUnknown::NoRevision(u))) => Section::Note(format!(
            "etcd: {} (the revision clock in {} is kept by the console while it runs)",
            u.describe(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            dir.display()
        )),
        Ok(Err(PastUnknown::Failed(e))) => {
            Section::Failed(format!("etcd: failed: {}", one_line(&e)))
        }
        Ok(Ok(past)) => {
            let mut members = past.members;
            sort_members(&mut members);
            let seen = past.seen.to_rfc3339_opts(SecondsFormat::Secs, true);
            let note = match past.compacted {
                None => format!("revision {} as the console saw it at {seen}", past.revision),
                Some((rev, when)) => format!(
                    "compacted at rev {rev}{}: the nearest revision etcd has",
                    when.map_or(String::new(), |t| format!(
                        " ≈ {}",
                        t.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ))
                ),
            };
            let note = match &past.partial {
                Some(p) => format!(
                    "{note}; {} — the first members in key order only",
                    p.describe()
                ),
                None => note,
            };
            Section::Ok(MembersData {
                prefix: etcd.prefix.clone(),
                revision: past.revision,
                members,
                note: Some(note),
            })
        }
    }
}

/// Backends found under the discovery prefix, handed over as soon as they are read.
async fn discover(
    profile: &ClusterProfile,
    client: &etcd_client::Client,
    checks_tx: oneshot::Sender<Lookup<ChecksProfile>>,
    logs_tx: oneshot::Sender<Lookup<LogsProfile>>,
) {
    let dp = profile.discovery_prefix.clone();
    let discover = (profile.checks.is_none() || profile.logs.is_none()) && !dp.is_empty();
    let mut kv = client.kv_client();
    let discovery = async move {
        let wanted = [SourceKind::Checks, SourceKind::Logs];
        let found: Result<Vec<(SourceKind, Option<String>)>, String> = if !discover {
            Ok(Vec::new())
        } else {
            match tokio::time::timeout(BACKEND_TIMEOUT, read_entries(&mut kv, &dp, &wanted)).await {
                Ok(Ok(entries)) => Ok(entries.found),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} s", BACKEND_TIMEOUT.as_secs())),
            }
        };
        let lookup = |kind: SourceKind| -> Lookup<String> {
            match &found {
                Ok(entries) => entries
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .and_then(|(_, value)| value.clone())
                    .map(Lookup::Found)
                    .unwrap_or(Lookup::Absent),
                Err(e) => {
                    Lookup::Invalid(format!("reading discovery entry {dp}{}: {e}", kind.label()))
                }
            }
        };
        let invalid = |name: &str, e: String| format!("discovery entry {dp}{name} is invalid: {e}");
        let checks = match lookup(SourceKind::Checks) {
            Lookup::Found(text) => crate::config::checks_from_json(&text)
                .map(Lookup::Found)
                .unwrap_or_else(|e| Lookup::Invalid(invalid("checks", e))),
            Lookup::Invalid(e) => Lookup::Invalid(e),
            _ => Lookup::Absent,
        };
        let _ = checks_tx.send(checks);
        let logs = match lookup(SourceKind::Logs) {
            Lookup::Found(text) => crate::config::logs_from_json(&text)
                .map(Lookup::Found)
                .unwrap_or_else(|e| Lookup::Invalid(invalid("logs", e))),
            Lookup::Invalid(e) => Lookup::Invalid(e),
            _ => Lookup::Absent,
        };
        let _ = logs_tx.send(logs);
    };
    discovery.await
}

/// The profile's backend, or the discovered one.
async fn configured<T>(
    from_profile: Option<&T>,
    discovered: oneshot::Receiver<Lookup<T>>,
    what: &str,
) -> Result<Option<T>, Section<()>>
where
    T: Clone,
{
    if let Some(p) = from_profile {
        return Ok(Some(p.clone()));
    }
    match discovered.await {
        Ok(Lookup::Found(p)) => Ok(Some(p)),
        Ok(Lookup::Absent) | Err(_) => Ok(None),
        Ok(Lookup::Invalid(e)) => Err(Section::Failed(format!("{what}: {}", one_line(&e)))),
        Ok(Lookup::EtcdDown) => Err(Section::Note(format!(
            "{what}: not in the profile, and its discovery entry could not be read (etcd is unreachable)"
        ))),
    }
}

fn retag<A, B>(s: Section<A>) -> Section<B> {
    match s {
        Section::Ok(_) | Section::NotConfigured => Section::NotConfigured,
        Section::Note(n) => Section::Note(n),
        Section::Failed(e) => Section::Failed(e),
    }
}

async fn checks_section(
    profile: Option<&ChecksProfile>,
    at: Option<DateTime<Utc>>,
) -> Section<ChecksData> {
    let Some(p) = profile else {
        return Section::NotConfigured;
    };
    let mut p = p.clone();
    p.http.timeout = p.http.timeout.min(BACKEND_TIMEOUT);
    let mut backend = match Backend::new(&p) {
        Ok(b) => b,
        Err(e) => {
            return Section::Failed(format!("checks: failed: {}", one_line(&format!("{e:#}"))))
        }
    };
    let snapshot = match tokio::time::timeout(BACKEND_TIMEOUT, backend.poll()).await {
        Err(_) => {
            return Section::Failed(format!(
                "checks: unreachable: no answer within {} s",
                BACKEND_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(e)) => return Section::Failed(http_failure("checks", &e)),
        Ok(Ok(s)) => s,
    };
    let mut snapshot = snapshot;
    if let Some(at) = at {
        // Each check as its history has it at that moment (see `state::checks_at`).
        let shown = at.to_rfc3339_opts(SecondsFormat::Secs, true);
        for r in snapshot.results.iter_mut() {
            *r = crate::state::checks_at::row_at(r, at, p.kind.name(), &shown);
        }
    }
    let total = snapshot.results.len();
    let skipped = snapshot.skipped;
    let mut state = Checks::default();
    state.hide_ok = true;
    state.apply_snapshot(snapshot, Utc::now());
    let failing = (0..state.visible_len())
        .filter_map(|i| state.row(i))
        .map(|r| {
            let mut silenced_by: Vec<String> = r.silenced_by.clone();
            for s in state.silences_for(r) {
                if !silenced_by.contains(&s.id) {
                    silenced_by.push(s.id.clone());
                }
            }
            FailingCheck {
                result: r.clone(),
                silenced_by,
            }
        })
        .collect();
    Section::Ok(ChecksData {
        backend: p.kind.name(),
        total,
        failing,
        silences: state.silences.clone(),
        skipped,
    })
}

/// The newest lines of the past hour from Elasticsearch or Loki, oldest first, with a notice: the
/// first poll of the source's own tail, asked for [`LOG_SCAN`] lines.
async fn read_history(
    p: &LogsProfile,
    at: Option<DateTime<Utc>>,
) -> Result<(Vec<LogLine>, Option<String>), HttpError> {
    let mut b = p.http.clone();
    b.timeout = b.timeout.min(BACKEND_TIMEOUT);
    let client = http::client(&b).map_err(|e| HttpError::Unreachable(format!("{e:#}")))?;
    if let Some(at) = at {
        // The lines ±5 min around the moment, as the time cursor reads them.
        let lines = match &p.kind {
            LogsKind::Elasticsearch { index } => {
                EsTail::new(index.clone()).around(&client, &b, at).await?
            }
            LogsKind::Loki { query, tenant } => {
                LokiTail::new(query.clone(), tenant.clone())
                    .in_zone(p.timezone)
                    .around(&client, &b, at)
                    .await?
            }
            LogsKind::Redis { .. } => Vec::new(),
        };
        return Ok((lines, None));
    }
    let page = match &p.kind {
        LogsKind::Elasticsearch { index } => {
            let mut tail = EsTail::new(index.clone()).first_page(LOG_SCAN);
            tail.poll(&client, &b).await?
        }
        LogsKind::Loki { query, tenant } => {
            let mut tail = LokiTail::new(query.clone(), tenant.clone())
                .first_page(LOG_SCAN)
                .in_zone(p.timezone);
            tail.poll(&client, &b).await?
        }
        LogsKind::Redis { .. } => return Ok((Vec::new(), None)),
    };
    Ok((page.lines, page.notice))
}

async fn logs_section(
    profile: Option<&LogsProfile>,
    wanted: usize,
    at: Option<DateTime<Utc>>,
) -> Section<LogsData> {
    let Some(p) = profile else {
        return Section::NotConfigured;
    };
    match &p.kind {
        LogsKind::Redis {
            channel: Some(_), ..
        } => return Section::Note("live-only source: no history (redis Pub/Sub)".into()),
        LogsKind::Redis { .. } => {
            return Section::Note(
                "live-only source: no history (redis list: reading it would consume the queue)"
                    .into(),
            )
        }
        _ => {}
    }
    if wanted == 0 {
        return Section::Note("not requested (--logs 0)".into());
    }
    let source = p.kind.name();
    match tokio::time::timeout(BACKEND_TIMEOUT, read_history(p, at)).await {
        Err(_) => Section::Failed(format!(
            "logs: unreachable: no answer within {} s",
            BACKEND_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => Section::Failed(http_failure("logs", &e)),
        Ok(Ok((lines, notice))) => {
            let scanned = lines.len();
            let mut errors: Vec<LogLine> = lines
                .into_iter()
                .filter(|l| l.severity.is_some_and(|s| s <= ERR))
                // At a moment: the errors up to it, not after.
                .filter(|l| at.is_none_or(|at| l.time.is_none_or(|t| t <= at)))
                .collect();
            let cut = errors.len().saturating_sub(wanted);
            errors.drain(..cut);
            Section::Ok(LogsData {
                source,
                scanned,
                lines: errors,
                notice: notice.map(|n| one_line(&n)),
            })
        }
    }
}

/// Asks every configured (or discovered) backend once, concurrently.
pub async fn gather(
    profile: &ClusterProfile,
    wanted_logs: usize,
    at: Option<DateTime<Utc>>,
) -> Snapshot {
    let (checks_tx, checks_rx) = oneshot::channel();
    let (logs_tx, logs_rx) = oneshot::channel();
    let checks = async {
        match configured(profile.checks.as_ref(), checks_rx, "checks").await {
            Ok(p) => checks_section(p.as_ref(), at).await,
            Err(s) => retag(s),
        }
    };
    let logs = async {
        match configured(profile.logs.as_ref(), logs_rx, "logs").await {
            Ok(p) => logs_section(p.as_ref(), wanted_logs, at).await,
            Err(s) => retag(s),
        }
    };
    let (members, checks, logs) = tokio::join!(
        members_section(profile, at, checks_tx, logs_tx),
        checks,
        logs
    );
    Snapshot {
        cluster: profile.name.clone(),
        generated_at: Utc::now(),
        at,
        members,
        checks,
        logs,
        wanted_logs,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

fn rfc3339(t: Option<DateTime<Utc>>) -> Value {
    t.map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::Secs, true)))
        .unwrap_or(Value::Null)
}

fn s(text: &str) -> Value {
    Value::String(sanitize(text).into_owned())
}

fn section_json<T>(section: &Section<T>, ok: impl FnOnce(&T) -> Value) -> Value {
    match section {
        Section::Ok(d) => {
            let mut v = ok(d);
            if let Value::Object(m) = &mut v {
                m.insert("status".into(), "ok".into());
            }
            v
        }
        Section::NotConfigured => json!({"status": "not_configured"}),
        Section::Note(n) => json!({"status": "unavailable", "note": n}),
        Section::Failed(e) => json!({"status": "error", "error": e}),
    }
}

fn silence_until(s: &Silence) -> String {
    match s.expire_at {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        None if s.expire_on_resolve => "when resolved".into(),
        None => "never".into(),
    }
}

pub fn to_json(snap: &Snapshot) -> Value {
    let members = section_json(&snap.members, |d| {
        let mut roles: BTreeMap<String, usize> = BTreeMap::new();
        for m in &d.members {
            *roles.entry(m.role().to_string()).or_default() += 1;
        }
        let items: Vec<Value> = d
            .members
            .iter()
            .map(|m| {
                let mut item = json!({
                    "role": m.role(), "instance": m.instance(), "key": m.key_text(),
                    "addr": m.addr(), "version": m.version_label(),
                    "started_at": rfc3339(m.started_at()), "lease": m.lease,
                    "mod_revision": m.mod_revision,
                });
                if let Some(b64) = m.key_b64() {
                    item["key_b64"] = Value::from(b64);
                }
                item
            })
            .collect();
        json!({"prefix": s(&d.prefix), "revision": d.revision, "count": d.members.len(),
               "roles": roles, "items": items, "note": d.note})
    });
    let checks = section_json(&snap.checks, |d| {
        let failing: Vec<Value> = d
            .failing
            .iter()
            .map(|f| {
                let r = &f.result;
                json!({
                    "status": r.status, "status_label": status_label(r.status),
                    "entity": s(&r.entity), "check": s(&r.check),
                    "output": first_line(&r.output), "occurrences": r.occurrences,
                    "since": rfc3339(r.since), "executed": rfc3339(r.executed),
                    "silenced": f.silenced(),
                    "silenced_by": f.silenced_by.iter().map(|x| s(x)).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({"backend": d.backend, "total": d.total, "failing_count": d.failing.len(),
               "skipped": d.skipped, "failing": failing})
    });
    let silences = match &snap.checks {
        Section::Ok(d) => {
            let items: Vec<Value> = d
                .silences
                .iter()
                .map(|x| {
                    json!({
                        "id": s(&x.id), "who": s(&x.creator), "reason": s(&x.reason),
                        "until": silence_until(x), "begin": rfc3339(x.begin),
                        "scope": s(&x.describe()), "expire_on_resolve": x.expire_on_resolve,
                    })
                })
                .collect();
            json!({"status": "ok", "items": items})
        }
        other => section_json::<ChecksData>(other, |_| Value::Null),
    };
    let logs = section_json(&snap.logs, |d| {
        let lines: Vec<Value> = d
            .lines
            .iter()
            .map(|l| {
                json!({
                    "time": rfc3339(l.time), "host": s(&l.host), "program": s(&l.program),
                    "severity": l.severity.map(|x| SEVERITY_NAMES.get(x as usize).copied().unwrap_or("?")),
                    "message": s(&l.message),
                })
            })
            .collect();
        json!({"source": d.source, "wanted": snap.wanted_logs, "scanned": d.scanned,
               "notice": d.notice, "lines": lines})
    });
    json!({
        "cluster": s(&snap.cluster),
        "generated_at": rfc3339(Some(snap.generated_at)),
        "at": rfc3339(snap.at),
        "members": members,
        "checks": checks,
        "silences": silences,
        "logs": logs,
        "errors": snap.errors(),
    })
}

// ---------------------------------------------------------------------------------------------
// Markdown

/// Sanitised, on one line, cut, and escaped so it cannot end a cell or start markup.
pub fn md(text: &str, max: usize) -> String {
    let clean = fit(&sanitize(&text.replace(['\n', '\r'], " ")), max);
    let mut out = String::with_capacity(clean.len());
    for c in clean.chars() {
        if matches!(c, '\\' | '|' | '`' | '*' | '<' | '>' | '[' | ']' | '~') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Markdown table; empty cells show `-`.
fn table(out: &mut String, header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!(
        "|{}|\n",
        header.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    ));
    for r in rows {
        let cells: Vec<&str> = r
            .iter()
            .map(|c| if c.is_empty() { "-" } else { c.as_str() })
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
}

fn when(t: Option<DateTime<Utc>>, utc: DisplayZone) -> String {
    t.map(|t| timestamp(t, utc)).unwrap_or_else(|| "-".into())
}

fn short_id(id: &str) -> String {
    md(&id.chars().take(8).collect::<String>(), 8)
}

pub fn to_markdown(snap: &Snapshot, utc: DisplayZone) -> String {
    let mut o = String::new();
    o.push_str(&format!(
        "# opsconsole snapshot: {}\n\nGenerated {}.\n",
        md(&snap.cluster, 100),
        timestamp(snap.generated_at, utc)
    ));
    if let Some(at) = snap.at {
        o.push_str(&format!(
            "\n**At {}** (not live): members at the revision of that time, checks from their history, logs around it.\n",
            timestamp(at, utc)
        ));
    }

    o.push_str("\n## Members\n\n");
    match &snap.members {
        Section::Ok(d) => {
            o.push_str(&format!(
                "{} member{} under {} at etcd revision {}.\n",
                d.members.len(),
                if d.members.len() == 1 { "" } else { "s" },
                md(&d.prefix, 200),
                d.revision
            ));
            if let Some(note) = &d.note {
                o.push_str(&format!("({}.)\n", md(note, 300)));
            }
            if !d.members.is_empty() {
                let mut roles: BTreeMap<&str, usize> = BTreeMap::new();
                for m in &d.members {
                    *roles.entry(m.role()).or_default() += 1;
                }
                o.push('\n');
                table(
                    &mut o,
                    &["Role", "Count"],
                    roles.iter().map(|(r, n)| vec![md(r, 100), n.to_string()]),
                );
                o.push('\n');
                table(
                    &mut o,
                    &["Role", "Instance", "Address", "Version", "Started", "Lease"],
                    d.members.iter().map(|m| {
                        vec![
                            md(m.role(), 100),
                            md(m.instance(), 200),
                            md(m.addr(), 200),
                            md(m.version_label(), 100),
                            when(m.started_at(), utc),
                            if m.lease == 0 {
                                "-".into()
                            } else {
                                format!("{:x}", m.lease)
                            },
                        ]
                    }),
                );
            }
        }
        Section::Failed(e) => o.push_str(&format!("{}\n", md(e, 1000))),
        Section::Note(n) => o.push_str(&format!("{}\n", md(n, 1000))),
        Section::NotConfigured => o.push_str("etcd: not configured\n"),
    }

    o.push_str("\n## Failing checks\n\n");
    match &snap.checks {
        Section::Ok(d) => {
            o.push_str(&format!(
                "{} failing of {} ({}).{}\n",
                d.failing.len(),
                d.total,
                d.backend,
                if d.skipped > 0 {
                    format!(" {} entries could not be read.", d.skipped)
                } else {
                    String::new()
                }
            ));
            if !d.failing.is_empty() {
                o.push('\n');
                table(
                    &mut o,
                    &["Status", "Entity", "Check", "Since", "Output", "Silenced"],
                    d.failing.iter().map(|f| {
                        let r = &f.result;
                        vec![
                            status_label(r.status).to_string(),
                            md(&r.entity, 200),
                            md(&r.check, 200),
                            when(r.since, utc),
                            md(&first_line(&r.output), CELL_CHARS),
                            if f.silenced() {
                                let ids: Vec<String> =
                                    f.silenced_by.iter().map(|i| short_id(i)).collect();
                                if ids.is_empty() {
                                    "silenced".into()
                                } else {
                                    format!("silenced ({})", ids.join(", "))
                                }
                            } else {
                                String::new()
                            },
                        ]
                    }),
                );
            }
        }
        Section::Failed(e) => o.push_str(&format!("{}\n", md(e, 1000))),
        Section::Note(n) => o.push_str(&format!("{}\n", md(n, 1000))),
        Section::NotConfigured => o.push_str("checks: not configured\n"),
    }

    o.push_str("\n## Silences\n\n");
    match &snap.checks {
        Section::Ok(d) if d.silences.is_empty() => o.push_str("No active silences.\n"),
        Section::Ok(d) => table(
            &mut o,
            &["ID", "Who", "Reason", "Until", "Scope"],
            d.silences.iter().map(|x| {
                vec![
                    md(&x.id, 100),
                    md(&x.creator, 100),
                    md(&x.reason, CELL_CHARS),
                    match x.expire_at {
                        Some(t) => timestamp(t, utc),
                        None => silence_until(x),
                    },
                    md(&x.describe(), CELL_CHARS),
                ]
            }),
        ),
        Section::Failed(_) => {
            o.push_str("silences: unavailable (the checks backend failed, see above)\n")
        }
        Section::Note(n) => o.push_str(&format!("{}\n", md(n, 1000))),
        Section::NotConfigured => o.push_str("checks: not configured\n"),
    }

    o.push_str("\n## Error logs\n\n");
    match &snap.logs {
        Section::Ok(d) => {
            o.push_str(&format!(
                "Last {} error-or-worse line{} (asked for {}) among the newest {} of the past hour ({}).\n",
                d.lines.len(),
                if d.lines.len() == 1 { "" } else { "s" },
                snap.wanted_logs,
                d.scanned,
                d.source
            ));
            if let Some(n) = &d.notice {
                o.push_str(&format!("\n{}\n", md(n, 1000)));
            }
            if !d.lines.is_empty() {
                o.push('\n');
                table(
                    &mut o,
                    &["Time", "Host", "Program", "Severity", "Message"],
                    d.lines.iter().map(|l| {
                        vec![
                            when(l.time, utc),
                            md(&l.host, 200),
                            md(&l.program, 100),
                            l.severity
                                .and_then(|x| SEVERITY_NAMES.get(x as usize))
                                .unwrap_or(&"?")
                                .to_string(),
                            md(&l.message, CELL_CHARS),
                        ]
                    }),
                );
            }
        }
        Section::Failed(e) => o.push_str(&format!("{}\n", md(e, 1000))),
        Section::Note(n) => o.push_str(&format!("logs: {}\n", md(n, 1000))),
        Section::NotConfigured => o.push_str("logs: not configured\n"),
    }

    let errors = snap.errors();
    if !errors.is_empty() {
        o.push_str("\n## Errors\n\n");
        for e in errors {
            o.push_str(&format!("- {}\n", md(&e, 1000)));
        }
    }
    o
}

/// Runs `snapshot`; `top_cluster` is the top-level `--cluster`, `utc` the top-level `--utc`.
pub fn run(args: &Args, pick: &Pick, utc: DisplayZone) -> ExitCode {
    let profiles = match crate::cli::merged_profiles(pick, args.cluster.as_deref()) {
        Ok(Some(profiles)) => profiles,
        Ok(None) => match pick.profile(args.cluster.as_deref()) {
            Ok(p) => vec![p],
            Err(e) => return fail(EXIT_USAGE, e),
        },
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(EXIT_UNAVAILABLE, e),
    };
    let at = match &args.at {
        None => None,
        Some(text) => match crate::state::time_cursor::parse_at(text, Utc::now(), utc) {
            Ok(r) => {
                if let Some(note) = &r.note {
                    crate::cli::say(format_args!("--at: {note}"));
                }
                Some(r.at)
            }
            Err(e) => return fail(EXIT_USAGE, format!("--at: {e}")),
        },
    };
    // Each cluster gathered at once: one slow or down cluster costs its own timeouts only.
    let snaps: Vec<Snapshot> = rt.block_on(futures::future::join_all(
        profiles.iter().map(|p| gather(p, args.logs, at)),
    ));
    let text = match (args.format, snaps.as_slice()) {
        (Format::Json, [snap]) => {
            serde_json::to_string_pretty(&to_json(snap)).unwrap_or_default() + "\n"
        }
        (Format::Markdown, [snap]) => to_markdown(snap, utc),
        // A merged view: every cluster's snapshot, in the order given.
        (Format::Json, many) => {
            let all: Vec<Value> = many.iter().map(to_json).collect();
            serde_json::to_string_pretty(&json!({ "clusters": all })).unwrap_or_default() + "\n"
        }
        (Format::Markdown, many) => many
            .iter()
            .map(|s| to_markdown(s, utc))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        // A reader that stopped early (`| head`) is not an error worth a message.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
        return fail(EXIT_UNAVAILABLE, format!("writing the snapshot: {e}"));
    }
    // Every cluster's etcd must have answered: a snapshot missing one is not the whole view.
    if snaps.iter().all(Snapshot::etcd_answered) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_UNAVAILABLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Matcher;

    fn sample() -> Snapshot {
        let member = |key: &[u8], value: &str| {
            Member::from_entry(
                "/services/",
                crate::model::KvEntry {
                    key: key.to_vec(),
                    value: value.as_bytes().to_vec(),
                    create_revision: 1,
                    mod_revision: 3,
                    version: 1,
                    lease: 0x1f,
                },
                None,
            )
        };
        let check = |entity: &str, name: &str, status: i64, output: &str| CheckResult {
            entity: entity.into(),
            check: name.into(),
            status,
            output: output.into(),
            labels: vec![
                ("alertname".into(), name.into()),
                ("instance".into(), entity.into()),
            ],
            ..Default::default()
        };
        let silence = Silence {
            id: "0123456789abcdef".into(),
            matchers: vec![Matcher {
                name: "alertname".into(),
                value: "DiskFull".into(),
                is_regex: false,
                is_equal: true,
            }],
            creator: "alice".into(),
            reason: "disk | swap \u{1b}[31mplanned".into(),
            ..Default::default()
        };
        let failing = vec![
            FailingCheck {
                result: check("web-1", "HighLatency", 2, "p99 *2.3s*\nsecond line"),
                silenced_by: vec![],
            },
            FailingCheck {
                result: check("redis-1", "DiskFull", 1, "91%"),
                silenced_by: vec![silence.id.clone()],
            },
        ];
        Snapshot {
            cluster: "prod".into(),
            generated_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            at: None,
            members: Section::Ok(MembersData {
                prefix: "/services/".into(),
                revision: 42,
                note: None,
                members: vec![
                    member(
                        b"/services/redis/redis-1",
                        r#"{"addr":"10.0.1.1","port":6379}"#,
                    ),
                    member(
                        b"/services/web/web-1",
                        r#"{"addr":"10.0.0.1","port":80,"version":"1.4.2"}"#,
                    ),
                    member(b"/services/web/web-2", "10.0.0.2:80"),
                ],
            }),
            checks: Section::Ok(ChecksData {
                backend: "alertmanager",
                total: 3,
                failing,
                silences: vec![silence],
                skipped: 0,
            }),
            logs: Section::Note("live-only source: no history (redis Pub/Sub)".into()),
            wanted_logs: 20,
        }
    }

    #[test]
    fn markdown_sections() {
        let m = to_markdown(&sample(), DisplayZone::Utc);
        assert!(m.contains("# opsconsole snapshot: prod"), "{m}");
        assert!(
            m.contains("3 members under /services/ at etcd revision 42."),
            "{m}"
        );
        assert!(m.contains("| web | 2 |"), "{m}");
        assert!(
            m.contains("| web | web-1 | 10.0.0.1:80 | 1.4.2 | - | 1f |"),
            "{m}"
        );
        assert!(
            m.contains("| CRIT | web-1 | HighLatency | - | p99 \\*2.3s\\* | - |"),
            "{m}"
        );
        assert!(
            m.contains("| web | web-2 | 10.0.0.2:80 | - | - | 1f |"),
            "{m}"
        );
        assert!(
            m.contains("| WARN | redis-1 | DiskFull | - | 91% | silenced (01234567) |"),
            "{m}"
        );
        assert!(m.contains("| 0123456789abcdef | alice | disk \\| swap planned | never | alertname=\"DiskFull\" |"), "{m}");
        assert!(m.contains("logs: live-only source: no history"), "{m}");
        assert!(!m.contains("## Errors"), "{m}");
        assert!(!m.contains('\u{1b}'));
    }

    #[test]
    fn json_shape() {
        let mut snap = sample();
        snap.logs = Section::Failed("logs: unreachable: no answer within 5 s".into());
        let v = to_json(&snap);
        assert_eq!(v["cluster"], "prod");
        assert_eq!(v["generated_at"], "2027-01-15T08:00:00Z");
        assert_eq!(v["members"]["status"], "ok");
        assert_eq!(v["members"]["count"], 3);
        assert_eq!(v["members"]["roles"]["web"], 2);
        let items = &v["members"]["items"];
        assert_eq!(items[0]["key"], "/services/redis/redis-1");
        assert!(
            items[0].get("key_b64").is_none(),
            "UTF-8 keys carry no copy"
        );
        assert_eq!(v["checks"]["failing"][0]["check"], "HighLatency");
        assert_eq!(v["checks"]["failing"][0]["output"], "p99 *2.3s*");
        assert_eq!(v["checks"]["failing"][1]["silenced"], true);
        assert_eq!(v["silences"]["items"][0]["who"], "alice");
        assert_eq!(v["silences"]["items"][0]["reason"], "disk | swap planned");
        assert_eq!(v["logs"]["status"], "error");
        assert_eq!(
            v["errors"],
            json!(["logs: unreachable: no answer within 5 s"])
        );
    }

    #[test]
    fn json_keys_that_are_not_utf8_carry_their_bytes() {
        let mut snap = sample();
        let Section::Ok(data) = &mut snap.members else {
            unreachable!()
        };
        data.members.push(Member::from_entry(
            "/services/",
            crate::model::KvEntry {
                key: b"/services/coll/inv\xff".to_vec(),
                value: b"10.0.0.9:80".to_vec(),
                create_revision: 1,
                mod_revision: 3,
                version: 1,
                lease: 0,
            },
            None,
        ));
        let v = to_json(&snap);
        let item = &v["members"]["items"][3];
        assert_eq!(item["key"], "/services/coll/inv\\xff");
        assert_eq!(item["instance"], "inv\\xff");
        assert_eq!(item["key_b64"], "L3NlcnZpY2VzL2NvbGwvaW52/w==");
    }

    #[test]
    fn markdown_escapes() {
        assert_eq!(md("a|b\\c`d", 50), "a\\|b\\\\c\\`d");
        assert_eq!(md("x\ny", 50), "x y");
        assert_eq!(md("<script>", 50), "\\<script\\>");
    }
}

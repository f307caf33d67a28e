//! Sources own their connection, retry/backoff and resume point. They send typed facts (`Msg`) into
//! one bounded channel and receive `Command`s on their own; they never touch `State`.

pub mod alertmanager;
pub mod backoff;
pub mod checks;
pub mod demo;
pub mod discovery;
pub mod etcd;
pub mod graphite;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod prometheus;
pub mod sensu_core;
pub mod sensu_go;
pub mod supervise;
pub mod syslog;

use chrono::{DateTime, Utc};

use crate::audit::{AuditEntry, AuditId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceId {
    Etcd,
    Checks,
    Metrics,
    Logs,
}

impl SourceId {
    pub fn label(self) -> &'static str {
        match self {
            SourceId::Etcd => "etcd",
            SourceId::Checks => "checks",
            SourceId::Metrics => "metrics",
            SourceId::Logs => "logs",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    NotConfigured,
    Connecting,
    Live,
    Retrying {
        at: DateTime<Utc>,
        attempt: u32,
        error: String,
    },
    Failed(String),
}

/// One key/value as read from etcd, prefix included. The key is the raw bytes etcd holds: it is
/// the member's identity end to end (never the text drawn for it, which may be escaped).
#[derive(Debug, Clone, PartialEq)]
pub struct KvEntry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum KvEvent {
    Put(KvEntry),
    /// Key deleted at `mod_revision` (lease expiry and revoke also arrive as deletes).
    Delete {
        key: Vec<u8>,
        mod_revision: i64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Health(SourceId, Health),
    /// A full, consistent listing of the prefix at `revision`; replaces what the pane holds.
    MembersSnapshot {
        revision: i64,
        entries: Vec<KvEntry>,
        at: DateTime<Utc>,
    },
    /// The same as `MembersSnapshot`, the members already built and sorted by the source (each
    /// key range in `members::default_order`, ranges in key order).
    MembersListed {
        revision: i64,
        members: Vec<crate::state::members::Member>,
        at: DateTime<Utc>,
    },
    /// When the source last heard from its server, sent as its session is lost: the panes show the
    /// age of their data from it.
    LastAnswer {
        source: SourceId,
        at: DateTime<Utc>,
    },
    /// Watch events in revision order.
    MembersEvents {
        events: Vec<KvEvent>,
        at: DateTime<Utc>,
    },
    /// (lease id, remaining seconds; -1 = gone), observed at `at`.
    LeaseTtls {
        ttls: Vec<(i64, i64)>,
        at: DateTime<Utc>,
    },
    /// Earlier values of a key (newest first), or why they could not be read.
    History {
        key: Vec<u8>,
        revisions: Result<Vec<KvEntry>, String>,
    },
    DeregisterDone {
        key: Vec<u8>,
        outcome: DeregisterOutcome,
        /// The id of the deregister's audit attempt, for its outcome line.
        audit_id: AuditId,
    },
    ChecksSnapshot {
        snapshot: checks::ChecksSnapshot,
        at: DateTime<Utc>,
    },
    SilenceDone {
        outcome: checks::SilenceOutcome,
        /// The id of the silence's (or unsilence's) audit attempt, for its outcome line.
        audit_id: AuditId,
    },
    LogLines(Vec<syslog::LogLine>),
    /// Something the user should know that is not a failure (e.g. partial shard failures).
    Notice(SourceId, String),
    Metrics {
        result: metrics::MetricsResult,
        at: DateTime<Utc>,
    },
    /// A pane backend found (or removed) under the discovery prefix; handled by the app, which
    /// starts, replaces or stops that pane's source.
    Discovered {
        pane: SourceId,
        value: Option<String>,
        at: DateTime<Utc>,
    },
    /// Written to the audit log by the app; sources report outcomes through the variants above.
    Audit(Box<AuditEntry>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum DeregisterOutcome {
    Deleted {
        lease_revoked: Option<Result<i64, String>>,
    },
    /// The key changed since the user looked (re-registered or updated): nothing was deleted.
    Changed {
        current_mod_revision: Option<i64>,
    },
    /// The key was already gone.
    Missing,
    Failed(String),
}

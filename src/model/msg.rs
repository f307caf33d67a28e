//! Facts from the sources: the only way data reaches the state.

use chrono::{DateTime, Utc};

use super::{
    AuditEntry, AuditId, ChecksSnapshot, Health, KvEntry, KvEvent, LogLine, Member, MetricsResult,
    SilenceOutcome, SourceId,
};

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
        members: Vec<Member>,
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
        snapshot: ChecksSnapshot,
        at: DateTime<Utc>,
    },
    SilenceDone {
        outcome: SilenceOutcome,
        /// The id of the silence's (or unsilence's) audit attempt, for its outcome line.
        audit_id: AuditId,
    },
    LogLines(Vec<LogLine>),
    /// Something the user should know that is not a failure (e.g. partial shard failures).
    Notice(SourceId, String),
    Metrics {
        result: MetricsResult,
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

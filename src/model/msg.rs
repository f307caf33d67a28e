//! Facts from the sources: the only way data reaches the state.

use chrono::{DateTime, Utc};

use super::{
    AuditId, ChecksSnapshot, Health, KvEntry, KvEvent, LogLine, Member, MetricsResult,
    SilenceOutcome, SourceId,
};

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Health(SourceId, Health),
    /// A fact from one cluster's source in a merged view (`--cluster a,b`): the sources are the
    /// single-cluster ones, and the channel that carries their facts wraps each in its cluster,
    /// so membership, checks and outcomes land on that cluster's identities only.
    InCluster(super::ClusterId, Box<Msg>),
    /// The source that served `SourceId` before (discovery moved or removed its backend) has
    /// stopped, and everything it sent is before this in the channel: its data after the pane
    /// was emptied for the new backend was dropped up to here (see `State::switching`).
    SourceSwitched(SourceId),
    /// A full, consistent listing of the prefix at `revision`, replacing what the pane holds; the
    /// members already built by the source, and prepared there (merged into the default order,
    /// indexed, counted: [`super::Listing::prepare`]) off the UI thread.
    MembersListed {
        revision: i64,
        members: super::Listing,
        at: DateTime<Utc>,
    },
    /// A listing under way: its first rows (`preview`, shown until the listing completes when the
    /// pane holds no earlier listing; they may still move), the keys read so far and the keys under
    /// the prefix once etcd counted them. A [`Msg::MembersListed`] follows with all of them.
    MembersProgress {
        revision: i64,
        preview: Vec<Member>,
        listed: usize,
        total: Option<usize>,
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
    /// What a lease holds, or why it could not be read (`permission denied` under auth).
    LeaseInfo {
        lease: i64,
        info: Result<LeaseKeys, String>,
    },
    /// How an undo went.
    RestoreDone {
        key: Vec<u8>,
        outcome: RestoreOutcome,
        audit_id: AuditId,
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
    /// The lines ±5 minutes around `at`, read again for a time jump (`Command::LogsAround`), or
    /// why they could not be.
    LogsAround {
        at: DateTime<Utc>,
        lines: Result<Vec<LogLine>, String>,
    },
    /// The server's aggregations for the histogram (`Command::LogsHistogram`), or why they could
    /// not be read.
    LogsHistogram {
        query: super::histogram::HistQuery,
        result: Result<super::histogram::HistAnswer, String>,
    },
    /// The membership at the time cursor's `at` (`Command::MembersAt`), or why it is not known.
    MembersAt {
        at: DateTime<Utc>,
        result: Result<PastMembers, PastUnknown>,
    },
    /// The alerts firing at `at` by Prometheus's own record, as alert rows (`Command::AlertsAt`).
    AlertsAt {
        at: DateTime<Utc>,
        result: Result<Vec<super::CheckResult>, String>,
    },
    /// Something the user should know that is not a failure (e.g. partial shard failures).
    Notice(SourceId, String),
    /// Something the user must not miss (the etcd cluster changed under the console): it stays
    /// on the status line until dismissed.
    Alert(SourceId, String),
    Metrics {
        result: MetricsResult,
        at: DateTime<Utc>,
    },
    /// A pane backend found (or removed) under the discovery prefix: the reducer checks it and
    /// asks for that pane's source to be started, replaced or stopped.
    Discovered {
        pane: SourceId,
        value: Option<String>,
        at: DateTime<Utc>,
    },
    /// A custom command's background task started (its pid, for the Tasks popup).
    TaskStarted(super::run::TaskInfo),
    /// A custom command's run ended (or never started): its audit outcome, and for capture and
    /// pipe modes the output popup.
    RunFinished {
        id: AuditId,
        name: String,
        result: super::run::RunResult,
    },
}

impl Msg {
    /// The listing of `entries` (keys under `prefix`) at `revision`, its members built here.
    pub fn listing(prefix: &str, revision: i64, entries: Vec<KvEntry>, at: DateTime<Utc>) -> Msg {
        let mut members: Vec<Member> = entries
            .into_iter()
            .map(|e| Member::from_entry(prefix, e, None))
            .collect();
        members.sort_by(super::default_order);
        Msg::MembersListed {
            revision,
            members: members.into(),
            at,
        }
    }
}

/// A lease's remaining TTL (seconds; -1 when it is gone) and the keys attached to it.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseKeys {
    pub ttl: i64,
    pub keys: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RestoreOutcome {
    /// Put back on its old lease (still alive), or on a new one of `ttl` seconds nobody keeps
    /// alive, or without a lease (`lease` 0).
    Restored {
        lease: i64,
        new_lease: bool,
        ttl: i64,
    },
    /// The key exists again (the instance registered itself): left alone.
    Reregistered,
    Failed(String),
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

/// The members etcd had at a revision the revision clock maps a time to.
#[derive(Debug, Clone, PartialEq)]
pub struct PastMembers {
    pub revision: i64,
    /// When the console saw that revision (the clock's pair).
    pub seen: DateTime<Utc>,
    pub members: Vec<Member>,
    /// The revision asked for is compacted: etcd's compacted revision and about when the console
    /// saw it (the members are then those at the compacted revision, the nearest there are).
    pub compacted: Option<(i64, Option<DateTime<Utc>>)>,
    /// The read stopped at its bounds (key cap or time budget) before the end of the prefix:
    /// `members` are the first ones in key order only.
    pub partial: Option<Partial>,
}

/// How much of a bounded read arrived, and why it stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    /// Members read (and shown).
    pub read: usize,
    /// Keys under the prefix at that revision, when etcd counted them in time.
    pub total: Option<i64>,
    /// What stopped it: `cap 100000 members`, `30 s budget`.
    pub why: String,
}

impl Partial {
    /// `partial: 3 of 7 (cap 3 members)`.
    pub fn describe(&self) -> String {
        let of = self.total.map_or(String::new(), |t| format!(" of {t}"));
        format!("partial: {}{of} ({})", self.read, self.why)
    }
}

/// Why the members at a time are not known.
#[derive(Debug, Clone, PartialEq)]
pub enum PastUnknown {
    /// The revision clock has no pair that early.
    NoRevision(super::revclock::Unknown),
    /// etcd could not be asked (with why).
    Failed(String),
}

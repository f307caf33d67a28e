//! What the state asks the I/O side to do. A change to a backend is first a [`Gated`] mutation:
//! it becomes a command only once its attempt is on disk in the audit log
//! (`crate::audit::AuditLog::release`).

use chrono::{DateTime, Utc};

use super::{AuditEntry, AuditId, MetricsQuery, Recorded, Silence, SilenceRequest, SourceId};

/// Work for the I/O side, produced only by `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A command for one cluster's source in a merged view (a deregister of that cluster's
    /// member, its leases to poll): the core sends `inner` to that cluster's source only.
    InCluster(super::ClusterId, Box<Command>),
    /// A line for the open incident's journal (best effort; see `crate::journal`).
    Journal {
        incident: String,
        entry: Box<super::journal::Entry>,
    },
    /// `:journal`: write incident `incident`'s hand-off (markdown) to `path`, or beside its
    /// journal when `None`.
    WriteJournal {
        incident: String,
        path: Option<String>,
    },
    /// A change to a backend, to be recorded in the audit log before it is sent; see [`Gated`].
    Gated(Box<Gated>),
    /// Delete `key` only if its mod_revision is still `mod_revision`; then revoke `lease` if given.
    Deregister {
        key: Vec<u8>,
        mod_revision: i64,
        revoke_lease: Option<i64>,
        audit: Recorded,
    },
    /// Leases whose remaining TTL the membership pane is showing; the etcd source polls these.
    WatchLeases(Vec<i64>),
    /// Earlier values of `key`, walking back from `mod_revision`.
    FetchHistory {
        key: Vec<u8>,
        mod_revision: i64,
    },
    /// What a lease holds (its remaining TTL and every key on it), for the deregister preview.
    LeaseInfo {
        lease: i64,
    },
    /// Put `key` back with `value` only if it does not exist (never over an instance that
    /// registered again), on `lease` while that still lives, else on a new lease of `ttl` seconds
    /// nobody keeps alive (0: no lease).
    Restore {
        key: Vec<u8>,
        value: Vec<u8>,
        lease: i64,
        ttl: i64,
        audit: Recorded,
    },
    Silence {
        request: SilenceRequest,
        audit: Recorded,
    },
    Unsilence {
        id: String,
        audit: Recorded,
    },
    /// Move the end of `silence` (as the console last read it) to `until`, keeping its id where
    /// the backend allows.
    ExtendSilence {
        silence: Box<Silence>,
        until: DateTime<Utc>,
        audit: Recorded,
    },
    /// Hosts the logs pane is scoped to (`None`: all); Elasticsearch and Loki filter server-side.
    LogsScope(Option<Vec<String>>),
    /// Read the log lines ±5 minutes around this time again (Elasticsearch, Loki): `t` in the
    /// logs pane. The answer is `Msg::LogsAround`.
    LogsAround(chrono::DateTime<chrono::Utc>),
    /// The histogram's counts from a server that aggregates (Elasticsearch, Loki): per bucket by
    /// severity class, and the top hosts and programs. The answer is `Msg::LogsHistogram`.
    LogsHistogram(super::histogram::HistQuery),
    /// The membership at this time (the time cursor): the etcd source maps it to a revision with
    /// its revision clock and reads the prefix there. The answer is `Msg::MembersAt`.
    MembersAt(chrono::DateTime<chrono::Utc>),
    /// The alerts Prometheus had firing at this time (`ALERTS{alertstate="firing"}` at `time=T`):
    /// Alertmanager keeps no resolved alerts. The answer is `Msg::AlertsAt`.
    AlertsAt(chrono::DateTime<chrono::Utc>),
    /// Put this (sanitised) text on the terminal's clipboard: OSC 52, written by the app.
    Copy(String),
    /// New criticals: ring the bell and raise a desktop notification (OSC 9 and OSC 777, through
    /// tmux when inside it), and run `hook` (an argument list, already filled in) if given.
    Notify {
        title: String,
        body: String,
        hook: Option<Vec<String>>,
    },
    /// `:w PATH`: write `text` (`lines` lines) to `path`; refuse an existing file unless
    /// `overwrite` (`:w!`).
    SaveLogs {
        path: String,
        text: String,
        lines: usize,
        overwrite: bool,
    },
    /// What the metrics pane shows; the source re-polls it on its interval.
    MetricsQuery(MetricsQuery),
    /// The metrics pane shows none of this source's series any longer (a merged view moved to
    /// another cluster's): it stops polling until it is asked again.
    MetricsIdle,
    /// An outcome or refusal line for the audit log.
    Audit(AuditEntry),
    /// Start (or replace) the source of `source`'s pane with the backend `spec` describes (a
    /// discovery entry's JSON, already checked by the reducer).
    StartSource {
        source: SourceId,
        spec: String,
    },
    /// Stop the source of this pane (its discovery entry was removed).
    StopSource(SourceId),
    /// Load this cluster's profile and, only if it loads, leave for it (the app does the I/O).
    SwitchCluster(String),
    /// Say which clusters the config has.
    ListClusters,
    Quit,
    /// Stop to the shell (ctrl-z), the terminal given back first.
    Suspend,
    /// `:theme NAME`: load the theme (a built-in name or a file) and draw with it.
    SetTheme(String),
    /// A command line to append to the history file (kept across runs).
    RecordHistory(String),
    /// Run a custom command (its attempt is on disk); the core spawns it, the app lends it the
    /// terminal in foreground mode. Its end comes back as `Msg::RunFinished`.
    Run {
        spec: Box<super::run::RunSpec>,
        audit: Recorded,
    },
    /// Kill the background task of this run (its whole process group).
    KillTask(AuditId),
    /// Open this http(s) URL with the desktop's opener when there is a local display, else put it
    /// on the clipboard (OSC 52).
    OpenUrl(String),
}

/// A change the user confirmed, not yet sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    Deregister {
        key: Vec<u8>,
        mod_revision: i64,
        revoke_lease: Option<i64>,
    },
    Silence(SilenceRequest),
    Unsilence {
        id: String,
    },
    ExtendSilence {
        silence: Box<Silence>,
        until: DateTime<Utc>,
    },
    Restore {
        key: Vec<u8>,
        value: Vec<u8>,
        lease: i64,
        ttl: i64,
    },
    /// A custom command.
    Run(Box<super::run::RunSpec>),
}

/// An attempt the audit log could not take: its change must not be sent.
#[derive(Debug)]
pub struct NotRecorded {
    pub attempt: AuditEntry,
    pub error: std::io::Error,
}

/// A mutation with its audit attempt line. [`Gated::release`] is the only way from here to the
/// command a source executes, and it writes the attempt first: nothing reaches a backend that is
/// not on disk in the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct Gated {
    pub attempt: AuditEntry,
    pub mutation: Mutation,
}

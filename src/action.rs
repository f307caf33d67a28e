//! `Action`: what a key means (named in keymap TOML). `Command`: what `update` asks the I/O side to do.

use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, AuditLog, Recorded};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    NextPane,
    PrevPane,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Filter,
    /// `Esc`: close the popup, clear the filter, or clear the member scope — the innermost first.
    Back,
    Detail,
    SortNext,
    SortReverse,
    Deregister,
    Silence,
    Unsilence,
    ToggleFollow,
    CommandLine,
    Help,
    Confirm,
    Cancel,
    ToggleRevokeLease,
    ToggleHideOk,
    ToggleHideSilenced,
    NextWindow,
    PrevWindow,
    CycleSeverity,
    ToggleWrap,
}

impl Action {
    /// The one place that knows which actions change a backend; `--readonly` refuses these.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Action::Deregister | Action::Silence | Action::Unsilence
        )
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::NextPane => "next pane",
            Action::PrevPane => "previous pane",
            Action::Up => "move up",
            Action::Down => "move down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "go to top",
            Action::Bottom => "go to bottom",
            Action::Filter => "filter (regex, /! inverts)",
            Action::Back => "back: close popup / clear filter / clear scope",
            Action::Detail => "show detail",
            Action::SortNext => "sort by next column",
            Action::SortReverse => "reverse sort order",
            Action::Deregister => "deregister member (confirm)",
            Action::Silence => "silence check",
            Action::Unsilence => "remove silence",
            Action::ToggleFollow => "toggle follow (logs)",
            Action::CommandLine => "command line (:q, :cluster NAME)",
            Action::Help => "help",
            Action::Confirm => "confirm",
            Action::Cancel => "cancel",
            Action::ToggleRevokeLease => "toggle: also revoke the lease",
            Action::ToggleHideOk => "hide/show OK checks",
            Action::ToggleHideSilenced => "hide/show silenced checks",
            Action::NextWindow => "metrics window: longer (15m 1h 6h 24h)",
            Action::PrevWindow => "metrics window: shorter",
            Action::CycleSeverity => "logs: severity threshold (all, err, warning, notice, info)",
            Action::ToggleWrap => "logs: wrap long lines",
        }
    }
}

/// Work for the I/O side, produced only by `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
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
    Silence {
        request: crate::sources::checks::SilenceRequest,
        audit: Recorded,
    },
    Unsilence {
        id: String,
        audit: Recorded,
    },
    /// Hosts the logs pane is scoped to (`None`: all); Elasticsearch and Loki filter server-side.
    LogsScope(Option<Vec<String>>),
    /// What the metrics pane shows; the source re-polls it on its interval.
    MetricsQuery(crate::sources::metrics::MetricsQuery),
    /// An outcome or refusal line for the audit log.
    Audit(AuditEntry),
    /// Load this cluster's profile and, only if it loads, leave for it (the app does the I/O).
    SwitchCluster(String),
    /// Say which clusters the config has.
    ListClusters,
    Quit,
}

/// A change the user confirmed, not yet sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Mutation {
    Deregister {
        key: Vec<u8>,
        mod_revision: i64,
        revoke_lease: Option<i64>,
    },
    Silence(crate::sources::checks::SilenceRequest),
    Unsilence {
        id: String,
    },
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

impl Gated {
    /// Records the attempt (durably), then returns the command to send; on a write error, the
    /// attempt back with the error, and nothing may be sent.
    pub fn release(self, log: &AuditLog) -> Result<Command, Box<NotRecorded>> {
        let audit = match log.record(&self.attempt) {
            Ok(proof) => proof,
            Err(error) => {
                return Err(Box::new(NotRecorded {
                    attempt: self.attempt,
                    error,
                }))
            }
        };
        Ok(match self.mutation {
            Mutation::Deregister {
                key,
                mod_revision,
                revoke_lease,
            } => Command::Deregister {
                key,
                mod_revision,
                revoke_lease,
                audit,
            },
            Mutation::Silence(request) => Command::Silence { request, audit },
            Mutation::Unsilence { id } => Command::Unsilence { id, audit },
        })
    }
}

//! Which source a fact comes from, and how that source is doing.

use chrono::{DateTime, Utc};

/// One of the clusters the console shows (an index into them; the first is 0). Every fact and
/// every identity carries it, so several clusters in one view are data, not a redesign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClusterId(pub u16);

/// What a source serves: one per pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    Etcd,
    Checks,
    Metrics,
    Logs,
}

impl SourceKind {
    pub const ALL: [SourceKind; 4] = [
        SourceKind::Etcd,
        SourceKind::Checks,
        SourceKind::Metrics,
        SourceKind::Logs,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SourceKind::Etcd => "etcd",
            SourceKind::Checks => "checks",
            SourceKind::Metrics => "metrics",
            SourceKind::Logs => "logs",
        }
    }

    /// This kind's source in `cluster`.
    pub fn of(self, cluster: ClusterId) -> SourceId {
        SourceId {
            cluster,
            kind: self,
        }
    }
}

/// One source: a cluster's etcd, checks, metrics or logs backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId {
    pub cluster: ClusterId,
    pub kind: SourceKind,
}

impl SourceId {
    pub fn label(self) -> &'static str {
        self.kind.label()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    NotConfigured,
    /// Configured, and nothing on screen asks anything of it (a merged view's metrics pane shows
    /// one cluster's series; the others' sources wait). Neither trouble nor a promise of fresh data.
    Idle,
    Connecting,
    Live,
    Retrying {
        at: DateTime<Utc>,
        attempt: u32,
        error: String,
    },
    Failed(String),
}

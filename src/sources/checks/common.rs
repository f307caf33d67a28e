//! What the check backends share, kept apart from the dispatcher in `mod.rs` so that a backend
//! never imports the file that dispatches to it: the silence error and Sensu's time helpers.

use chrono::{DateTime, Utc};

use crate::model::HistoryPoint;
use crate::sources::http::HttpError;

#[derive(Debug, thiserror::Error)]
pub enum SilenceError {
    /// Refused before anything was sent.
    #[error("not sent: {0}")]
    Refused(String),
    /// Sent and accepted, but the backend does not show the change.
    #[error("sent, but {0}")]
    NotShown(String),
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Seconds since the epoch → time; 0 and negatives mean "unknown" in Sensu's API.
pub fn epoch(secs: i64) -> Option<DateTime<Utc>> {
    (secs > 0)
        .then(|| DateTime::from_timestamp(secs, 0))
        .flatten()
}

/// When the trailing run of equal statuses began, from a history with times.
pub fn since_from_history(history: &[HistoryPoint], status: i64) -> Option<DateTime<Utc>> {
    let mut since = None;
    for p in history.iter().rev() {
        if p.status != status {
            break;
        }
        since = p.executed.or(since);
    }
    since
}

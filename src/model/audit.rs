//! The audit log's lines, as data: the attempt, outcome and refusal of every change. Writing them
//! (and the proof that an attempt was written) is `crate::audit`.

use serde::{Deserialize, Serialize};

/// One action's id, shared by its attempt and outcome lines: `<run>-<n>`. The run part is the
/// session's start time (UTC, microseconds) and the process id — unique across consoles running
/// at once and across restarts; `n` counts the session's actions from 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuditId(String);

impl AuditId {
    pub fn new(run: &str, n: u64) -> AuditId {
        AuditId(format!("{run}-{n}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for AuditId {
    fn from(s: &str) -> AuditId {
        AuditId(s.to_string())
    }
}

impl std::fmt::Display for AuditId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// About to send the request; written before it is sent.
    Attempt,
    /// What the backend answered (or why nothing was sent after all).
    Outcome,
    /// Refused before anything was attempted (read-only session).
    Refused,
}

/// A silence matcher as sent to Alertmanager (its own field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditMatcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    pub is_equal: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: AuditId,
    pub phase: Phase,
    pub time: String,
    pub user: String,
    pub cluster: String,
    /// `deregister`, `silence`, `unsilence`, `ack`, `unack`, `extend silence`, `extend ack`, …
    pub action: String,
    /// Exactly the text the confirmation dialog showed as the target.
    pub target: String,
    /// The outcome (`deleted`, `created`, `refused: readonly`, …); absent on attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Deregister: the etcd key's bytes, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_b64: Option<String>,
    /// Deregister: the revision the key is deleted at only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mod_revision: Option<i64>,
    /// Deregister: the lease revoked with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_lease: Option<i64>,
    /// Silence: the backend's id (known once created); unsilence: the one removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub silence_id: Option<String>,
    /// Silence on Alertmanager: the matchers sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matchers: Option<Vec<AuditMatcher>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An ack (or a silence): how long it was asked to last (`30m`, `until removed or resolved`).
    /// Boxed, as `argv`: every command carrying a line stays small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Box<String>>,
    /// A custom command: the exact argument list run (no shell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub argv: Option<Box<Vec<String>>>,
}

impl AuditEntry {
    /// [`Self::duration`] as text.
    pub fn duration(&self) -> Option<&str> {
        self.duration.as_deref().map(String::as_str)
    }

    /// A line with no result and no structured fields yet.
    pub fn new(
        id: AuditId,
        phase: Phase,
        time: String,
        user: &str,
        cluster: &str,
        action: &str,
        target: String,
    ) -> AuditEntry {
        AuditEntry {
            id,
            phase,
            time,
            user: user.to_string(),
            cluster: cluster.to_string(),
            action: action.to_string(),
            target,
            result: None,
            detail: None,
            key_b64: None,
            mod_revision: None,
            revoke_lease: None,
            silence_id: None,
            matchers: None,
            reason: None,
            duration: None,
            argv: None,
        }
    }
}

/// Proof that an action's attempt line is on disk; a mutating command cannot be built without
/// one. Only `crate::audit::AuditLog::record` makes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    id: AuditId,
}

impl Recorded {
    /// Only `crate::audit::AuditLog::record` calls this, once the attempt line is on disk.
    pub(crate) fn new(id: AuditId) -> Recorded {
        Recorded { id }
    }

    /// The id the source reports its outcome under.
    pub fn id(&self) -> &AuditId {
        &self.id
    }
}

//! The audit lines the state asks for. A confirmed change becomes a [`Command::Gated`]: its
//! attempt line plus the mutation, which the app may send only through [`crate::model::Gated::release`]
//! (attempt on disk first). The attempt is kept here until its outcome arrives under the same id,
//! so the outcome line repeats exactly what the attempt said (action, target, key, matchers).
//!
//! One shape per action, whatever happens to it: `target` is the text the confirmation dialog
//! shows for it — [`deregister_target`], [`silence_target`], [`unsilence_target`] — and the dialogs
//! draw these same functions.

use std::collections::BTreeMap;

use base64::Engine as _;

use crate::model::{
    AuditEntry, AuditId, AuditMatcher, Command, Gated, Mutation, SilenceRequest, SilenceScope,
};

/// The deregister dialog's target: the key, with anything unprintable shown escaped.
pub fn deregister_target(key: &[u8]) -> String {
    crate::model::text::escape_bytes(key).into_owned()
}

/// The silence dialog's target (its "scope" line).
pub fn silence_target(scope: &SilenceScope) -> String {
    scope.describe()
}

/// The unsilence dialog's target: the silence as described there.
pub fn unsilence_target(description: &str) -> String {
    crate::model::text::sanitize(description).into_owned()
}

/// The key's bytes, base64, as the audit line's `key_b64`.
pub fn key_b64(key: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// The matchers an Alertmanager silence for `request` is created with — the same builder the
/// source uses (raw label values); none when the scope is refused (nothing will be sent).
pub fn alertmanager_matchers(request: &SilenceRequest) -> Vec<AuditMatcher> {
    crate::sources::checks::alertmanager::matchers_for(&request.scope)
        .unwrap_or_default()
        .into_iter()
        .map(|m| AuditMatcher {
            name: m.name,
            value: m.value,
            is_regex: m.is_regex,
            is_equal: m.is_equal,
        })
        .collect()
}

#[derive(Debug)]
pub struct AuditTrail {
    /// This session's part of every id (see [`crate::model::AuditId`]).
    run: String,
    last: u64,
    /// Attempts sent (or about to be), waiting for their outcome.
    pending: BTreeMap<AuditId, AuditEntry>,
}

impl AuditTrail {
    pub fn new(run: String) -> AuditTrail {
        AuditTrail {
            run,
            last: 0,
            pending: BTreeMap::new(),
        }
    }

    pub fn next_id(&mut self) -> AuditId {
        self.last += 1;
        AuditId::new(&self.run, self.last)
    }

    /// The attempt and the mutation it gates, as one command; the attempt is kept for its outcome.
    pub fn gate(&mut self, attempt: AuditEntry, mutation: Mutation) -> Command {
        self.pending.insert(attempt.id.clone(), attempt.clone());
        Command::Gated(Box::new(Gated { attempt, mutation }))
    }

    /// The action of the attempt `id` still waiting for its outcome (`ack`, `silence`, …).
    pub fn action_of(&self, id: &AuditId) -> Option<&str> {
        self.pending.get(id).map(|a| a.action.as_str())
    }

    /// The attempt `id`, now that its outcome is known (or it was never sent).
    pub fn take(&mut self, id: &AuditId) -> Option<AuditEntry> {
        self.pending.remove(id)
    }
}

//! Check results, whatever the backend (Sensu Go, Sensu Core, Alertmanager), and silences: what
//! is asked for, what the backend holds, what became of a request.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Severity;

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPoint {
    pub status: i64,
    pub executed: Option<DateTime<Utc>>,
}

/// A stretch of one status in a check's history: from `start` until the next stretch began (or
/// until now for the newest), over `samples` executions. Times are `None` where the backend keeps
/// statuses without times (Sensu Core).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRun {
    pub status: i64,
    pub start: Option<chrono::DateTime<chrono::Utc>>,
    pub end: Option<chrono::DateTime<chrono::Utc>>,
    pub samples: usize,
}

/// A history (oldest first) as its changes of status, newest first: what the detail view lists
/// (`CRIT since 3m`, `OK for 2h before that`) instead of every sample.
pub fn status_runs(history: &[HistoryPoint]) -> Vec<StatusRun> {
    let mut runs: Vec<StatusRun> = Vec::new();
    for p in history {
        match runs.last_mut() {
            Some(r) if r.status == p.status => r.samples += 1,
            _ => {
                if let Some(prev) = runs.last_mut() {
                    prev.end = p.executed;
                }
                runs.push(StatusRun {
                    status: p.status,
                    start: p.executed,
                    end: None,
                    samples: 1,
                });
            }
        }
    }
    runs.reverse();
    runs
}

/// One (entity, check) result, whatever the backend.
///
/// `entity`, `check`, `subscriptions` and `labels` are exactly what the backend sent: they are the
/// result's identity, and silences are built from them. They may hold control characters, so they
/// are drawn only through [`super::text::visible_pieces`] (or sanitised), never as they are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckResult {
    /// Sensu: the entity (client) name. Alertmanager: the `instance` label, empty when the alert
    /// has none.
    pub entity: String,
    pub check: String,
    /// 0 OK, 1 WARNING, 2 CRITICAL, anything else UNKNOWN (Sensu convention).
    pub status: i64,
    pub output: String,
    pub occurrences: i64,
    /// When it entered its current status, where the backend lets us know.
    pub since: Option<DateTime<Utc>>,
    pub executed: Option<DateTime<Utc>>,
    pub history: Vec<HistoryPoint>,
    pub subscriptions: Vec<String>,
    /// Names/ids of silences covering it, as the backend reports them.
    pub silenced_by: Vec<String>,
    pub silenced: bool,
    /// Alertmanager: the alert's fingerprint, the name other alerts' `inhibitedBy` use for it;
    /// empty for Sensu.
    pub fingerprint: String,
    /// Alertmanager `status.inhibitedBy`: fingerprints of the alerts that inhibit this one.
    pub inhibited_by: Vec<String>,
    /// Alertmanager labels, the alert's identity; empty for Sensu.
    pub labels: Vec<(String, String)>,
    /// Alertmanager annotations (`runbook_url`, `dashboard`, …) as the backend sent them.
    pub annotations: Vec<(String, String)>,
    /// URLs the backend gives for it (http/https only): annotations holding one, and the alert's
    /// `generatorURL`; (name, url).
    pub links: Vec<(String, String)>,
    /// The cluster whose backend reported it (a merged view; the first cluster otherwise): with
    /// the labels or (entity, check), its identity, and where a silence of it goes.
    pub cluster: super::ClusterId,
}

pub fn severity_of(status: i64) -> Severity {
    match status {
        0 => Severity::Ok,
        1 => Severity::Warning,
        2 => Severity::Critical,
        _ => Severity::Unknown,
    }
}

pub fn status_label(status: i64) -> &'static str {
    match status {
        0 => "OK",
        1 => "WARN",
        2 => "CRIT",
        _ => "UNKN",
    }
}

impl CheckResult {
    pub fn severity(&self) -> Severity {
        severity_of(self.status)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    pub name: String,
    pub value: String,
    pub is_regex: bool,
    pub is_equal: bool,
}

impl Matcher {
    /// `name="value"`, with amtool's operators (`!=`, `=~`, `!~`).
    pub fn describe(&self) -> String {
        let op = match (self.is_equal, self.is_regex) {
            (true, false) => "=",
            (false, false) => "!=",
            (true, true) => "=~",
            (false, true) => "!~",
        };
        format!("{}{op}\"{}\"", self.name, self.value)
    }

    /// Several, comma-separated.
    pub fn describe_all(matchers: &[Matcher]) -> String {
        matchers
            .iter()
            .map(Matcher::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Silence {
    pub id: String,
    /// Sensu: subscription (`entity:NAME` for one entity) and check; `None` is "*".
    pub subscription: Option<String>,
    pub check: Option<String>,
    /// Alertmanager matchers.
    pub matchers: Vec<Matcher>,
    pub creator: String,
    pub reason: String,
    pub begin: Option<DateTime<Utc>>,
    pub expire_at: Option<DateTime<Utc>>,
    pub expire_on_resolve: bool,
    /// When it was last changed (Alertmanager's `updatedAt`).
    pub updated_at: Option<DateTime<Utc>>,
}

impl Silence {
    pub fn matches(&self, r: &CheckResult) -> bool {
        if r.silenced_by.contains(&self.id) {
            return true;
        }
        if !self.matchers.is_empty() {
            return self.matchers.iter().all(|m| {
                let v = r
                    .labels
                    .iter()
                    .find(|(k, _)| *k == m.name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("");
                let hit = if m.is_regex {
                    regex::Regex::new(&format!("^(?:{})$", m.value))
                        .map(|re| re.is_match(v))
                        .unwrap_or(false)
                } else {
                    v == m.value
                };
                hit == m.is_equal
            });
        }
        let sub_ok = match self.subscription.as_deref() {
            None | Some("*") => true,
            Some(s) => {
                s.strip_prefix("entity:")
                    .or_else(|| s.strip_prefix("client:"))
                    == Some(r.entity.as_str())
                    || r.subscriptions.iter().any(|x| x == s)
            }
        };
        let check_ok = match self.check.as_deref() {
            None | Some("*") => true,
            Some(c) => c == r.check,
        };
        sub_ok && check_ok && (self.subscription.is_some() || self.check.is_some())
    }

    /// "web-1/check_http", "check_http everywhere", … for lists and the audit log.
    pub fn describe(&self) -> String {
        if !self.matchers.is_empty() {
            return Matcher::describe_all(&self.matchers);
        }
        format!(
            "{}:{}",
            self.subscription.as_deref().unwrap_or("*"),
            self.check.as_deref().unwrap_or("*")
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SilenceScope {
    CheckOnEntity { entity: String, check: String },
    CheckEverywhere { check: String },
    Entity { entity: String },
    Subscription { subscription: String },
}

/// How a scope names an entity that is not there: only Alertmanager rows lack one (an alert
/// without an `instance` label), and their silences match `instance=""`.
pub const NO_ENTITY: &str = "(no instance)";

impl SilenceScope {
    /// "check_http on web-1", with the backend's names as they are (control characters and all):
    /// for drawing through [`super::text::visible_pieces`].
    pub fn text(&self) -> String {
        let entity = |e: &str| {
            if e.is_empty() {
                NO_ENTITY.to_string()
            } else {
                e.to_string()
            }
        };
        match self {
            SilenceScope::CheckOnEntity { entity: e, check } => {
                format!("{check} on {}", entity(e))
            }
            SilenceScope::CheckEverywhere { check } => format!("{check} on every entity"),
            SilenceScope::Entity { entity: e } => format!("every check on {}", entity(e)),
            SilenceScope::Subscription { subscription } => format!("subscription {subscription}"),
        }
    }

    /// [`Self::text`] with removed characters shown as visible stand-ins: the form for plain-text
    /// places (status line, audit target), the same text the dialogs draw.
    pub fn describe(&self) -> String {
        super::text::visible(&self.text()).into_owned()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SilenceRequest {
    pub scope: SilenceScope,
    /// `None`: until removed (or resolved, with `expire_on_resolve`).
    pub duration: Option<Duration>,
    pub expire_on_resolve: bool,
    pub reason: String,
    pub creator: String,
    /// The cluster whose checks backend it goes to (the silenced check's own).
    pub cluster: super::ClusterId,
}

impl Silence {
    /// The silence a backend has just accepted for `request`, as this console sent it.
    pub fn requested(
        id: String,
        request: &SilenceRequest,
        target: SilenceTarget,
        now: DateTime<Utc>,
    ) -> Silence {
        let (subscription, check, matchers) = match target {
            SilenceTarget::Entry {
                subscription,
                check,
            } => (subscription, check, Vec::new()),
            SilenceTarget::Matchers(m) => (None, None, m),
        };
        Silence {
            id,
            subscription,
            check,
            matchers,
            creator: request.creator.clone(),
            reason: request.reason.clone(),
            begin: Some(now),
            expire_at: request
                .duration
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .and_then(|d| now.checked_add_signed(d)),
            expire_on_resolve: request.expire_on_resolve,
            updated_at: Some(now),
        }
    }
}

/// What a silence was sent to cover, in the backend's own terms.
#[derive(Debug, Clone, PartialEq)]
pub enum SilenceTarget {
    /// Sensu: subscription (`entity:NAME`, `client:NAME` for one entity) and check; `None` is `*`.
    Entry {
        subscription: Option<String>,
        check: Option<String>,
    },
    /// Alertmanager: label matchers.
    Matchers(Vec<Matcher>),
}

/// What the backend shows, asked right after it accepted a silence.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// On what it targets: an alert's `silencedBy` (Alertmanager), the entry as sent (Sensu).
    OnTarget,
    /// On nothing; `present` says whether the backend still holds the silence.
    Nothing { present: bool },
}

/// One poll's worth of data.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChecksSnapshot {
    pub results: Vec<CheckResult>,
    pub silences: Vec<Silence>,
    /// Entries the backend sent that we could not use (shown, not hidden).
    pub skipped: usize,
    /// Alertmanager's inhibit rules (from `/api/v2/status`), read while some alert is inhibited.
    pub inhibit_rules: Vec<super::inhibit::InhibitRule>,
}

/// What the source reports after a silence/unsilence attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum SilenceOutcome {
    /// Created, and the backend shows it on what it targets.
    Created {
        silence: Box<Silence>,
        request: SilenceRequest,
    },
    /// The backend accepted it but shows it on nothing it targets (the alert resolved meanwhile,
    /// or the names do not match what the backend has); `leftover` says what became of it.
    MatchedNothing {
        silence: Box<Silence>,
        request: SilenceRequest,
        leftover: Leftover,
    },
    /// Created, but asking the backend about it failed: it may or may not silence anything.
    Unconfirmed {
        silence: Box<Silence>,
        request: SilenceRequest,
        error: String,
    },
    Removed {
        id: String,
    },
    /// Its end moved, and the backend shows the new end. `silence.id` differs from `old_id` when
    /// the backend would not update it in place (the old one is expired then).
    Extended {
        old_id: String,
        silence: Box<Silence>,
    },
    /// Unsilence of a silence that had already expired or been removed elsewhere.
    AlreadyGone {
        id: String,
        detail: String,
    },
    Failed {
        what: String,
        error: String,
    },
}

/// What became of a silence that matched nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Leftover {
    /// Expired (removed) again at once.
    Expired,
    /// The backend does not hold it (a Sensu entry that is not there).
    Absent,
    /// Still there: removing it failed, for this reason.
    Kept(String),
}

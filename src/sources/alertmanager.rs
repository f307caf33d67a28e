//! Alertmanager API v2 as a check source: alerts become (entity = `instance`, check = `alertname`,
//! status from `severity`) rows; silences are created with matchers and expired by id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde::Deserialize;
use serde_json::{json, Value};

use super::checks::{
    CheckResult, ChecksSnapshot, HistoryPoint, Matcher, Silence, SilenceRequest, SilenceScope,
};
use super::http::{self, HttpError};
use crate::config::{ChecksProfile, HttpBackend};
use crate::text::sanitize;

/// Alertmanager silences need an end; "no expiry" becomes this far out (and the form says so).
pub const FOREVER: chrono::Duration = chrono::Duration::days(365 * 10);

pub struct Alertmanager {
    client: Client,
    backend: HttpBackend,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Alert {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    starts_at: Option<String>,
    updated_at: Option<String>,
    status: AlertStatus,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AlertStatus {
    state: String,
    silenced_by: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AmSilence {
    id: String,
    matchers: Vec<AmMatcher>,
    starts_at: Option<String>,
    ends_at: Option<String>,
    created_by: String,
    comment: String,
    status: SilenceStatus,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct SilenceStatus {
    state: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmMatcher {
    name: String,
    value: String,
    #[serde(default)]
    is_regex: bool,
    #[serde(default = "yes")]
    is_equal: bool,
}

fn yes() -> bool {
    true
}

fn time(s: &Option<String>) -> Option<DateTime<Utc>> {
    s.as_deref()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        // Alertmanager uses 0001-01-01 for "unset".
        .filter(|d| d.timestamp() > 0)
}

/// Severity label → Sensu-style status.
pub fn status_from_severity(sev: Option<&str>) -> i64 {
    match sev.map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("critical" | "crit" | "page" | "error" | "high" | "fatal" | "emergency" | "alert") => {
            2
        }
        Some("warning" | "warn" | "medium") => 1,
        Some("info" | "informational" | "low" | "none" | "ok") => 0,
        _ => 3,
    }
}

pub fn parse_alerts(raw: &[u8], url: &str) -> Result<(Vec<CheckResult>, usize), HttpError> {
    let alerts: Vec<Value> = http::decode(raw, url)?;
    let mut out = Vec::with_capacity(alerts.len());
    let mut skipped = 0;
    for v in alerts {
        let Ok(a) = serde_json::from_value::<Alert>(v) else {
            skipped += 1;
            continue;
        };
        let Some(name) = a.labels.get("alertname").filter(|n| !n.is_empty()) else {
            skipped += 1;
            continue;
        };
        let status = status_from_severity(a.labels.get("severity").map(String::as_str));
        // Alertmanager copies endsAt into a missing startsAt; never show a start in the future.
        let updated = time(&a.updated_at);
        let since = match (time(&a.starts_at), updated) {
            (Some(s), Some(u)) if s > u => Some(u),
            (s, _) => s,
        };
        let output = a
            .annotations
            .get("summary")
            .or_else(|| a.annotations.get("description"))
            .or_else(|| a.annotations.get("message"))
            .cloned()
            .unwrap_or_default();
        let silenced_by = a.status.silenced_by.unwrap_or_default();
        out.push(CheckResult {
            entity: sanitize(a.labels.get("instance").map(String::as_str).unwrap_or("-"))
                .into_owned(),
            check: sanitize(name).into_owned(),
            status,
            output,
            occurrences: 1,
            since,
            executed: updated.or(since),
            history: vec![HistoryPoint {
                status,
                executed: since,
            }],
            subscriptions: a.labels.get("job").cloned().into_iter().collect(),
            silenced: a.status.state == "suppressed" && !silenced_by.is_empty(),
            silenced_by,
            labels: a.labels.into_iter().collect(),
        });
    }
    Ok((out, skipped))
}

pub fn parse_silences(raw: &[u8], url: &str) -> Result<Vec<Silence>, HttpError> {
    let all: Vec<Value> = http::decode(raw, url)?;
    Ok(all
        .into_iter()
        .filter_map(|v| serde_json::from_value::<AmSilence>(v).ok())
        // Expired silences stay listed until retention drops them; they silence nothing.
        .filter(|s| s.status.state != "expired" && !s.id.is_empty())
        .map(|s| Silence {
            id: s.id,
            subscription: None,
            check: None,
            matchers: s
                .matchers
                .into_iter()
                .map(|m| Matcher {
                    name: m.name,
                    value: m.value,
                    is_regex: m.is_regex,
                    is_equal: m.is_equal,
                })
                .collect(),
            creator: s.created_by,
            reason: s.comment,
            begin: time(&s.starts_at),
            expire_at: time(&s.ends_at),
            expire_on_resolve: false,
        })
        .collect())
}

pub fn matchers_for(scope: &SilenceScope) -> Vec<(String, String)> {
    match scope {
        SilenceScope::CheckOnEntity { entity, check } => vec![
            ("alertname".into(), check.clone()),
            ("instance".into(), entity.clone()),
        ],
        SilenceScope::CheckEverywhere { check } => vec![("alertname".into(), check.clone())],
        SilenceScope::Entity { entity } => vec![("instance".into(), entity.clone())],
        SilenceScope::Subscription { subscription } => vec![("job".into(), subscription.clone())],
    }
}

pub fn silence_body(req: &SilenceRequest, now: DateTime<Utc>) -> Value {
    let end = match req.duration {
        Some(d) => now + chrono::Duration::from_std(d).unwrap_or(FOREVER),
        None => now + FOREVER,
    };
    let matchers: Vec<Value> = matchers_for(&req.scope)
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value, "isRegex": false, "isEqual": true}))
        .collect();
    json!({
        "matchers": matchers,
        "startsAt": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "endsAt": end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "createdBy": req.creator,
        "comment": req.reason,
    })
}

impl Alertmanager {
    pub fn new(profile: &ChecksProfile) -> anyhow::Result<Alertmanager> {
        Ok(Alertmanager {
            client: http::client(&profile.http)?,
            backend: profile.http.clone(),
        })
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>, HttpError> {
        let url = format!("{}{path}", self.backend.url);
        let req = http::with_basic(self.client.get(&url), &self.backend.auth);
        let resp = http::send(req, self.backend.timeout).await?;
        let resp = http::check_status(resp, &url, &self.backend.auth, self.backend.timeout).await?;
        http::body(resp, &url, self.backend.timeout).await
    }

    pub async fn poll(&mut self) -> Result<ChecksSnapshot, HttpError> {
        let (alerts, silences) =
            tokio::try_join!(self.get("/api/v2/alerts"), self.get("/api/v2/silences"))?;
        let (results, skipped) =
            parse_alerts(&alerts, &format!("{}/api/v2/alerts", self.backend.url))?;
        let silences = parse_silences(&silences, &format!("{}/api/v2/silences", self.backend.url))?;
        Ok(ChecksSnapshot {
            results,
            silences,
            skipped,
        })
    }

    pub async fn silence(&mut self, req: &SilenceRequest) -> Result<String, HttpError> {
        let url = format!("{}/api/v2/silences", self.backend.url);
        let body = silence_body(req, Utc::now());
        let r = http::with_basic(self.client.post(&url).json(&body), &self.backend.auth);
        let resp = http::send(r, self.backend.timeout).await?;
        let resp = http::check_status(resp, &url, &self.backend.auth, self.backend.timeout).await?;
        let raw = http::body(resp, &url, self.backend.timeout).await?;
        let v: Value = http::decode(&raw, &url)?;
        v.get("silenceID")
            .and_then(|s| s.as_str())
            .map(str::to_string)
            .ok_or_else(|| HttpError::Decode {
                url,
                reason: "no silenceID in the answer".into(),
            })
    }

    pub async fn unsilence(&mut self, id: &str) -> Result<(), HttpError> {
        let url = format!(
            "{}/api/v2/silence/{}",
            self.backend.url,
            urlencoding::encode(id)
        );
        let r = http::with_basic(self.client.delete(&url), &self.backend.auth);
        let resp = http::send(r, self.backend.timeout).await?;
        http::check_status(resp, &url, &self.backend.auth, self.backend.timeout).await?;
        Ok(())
    }
}

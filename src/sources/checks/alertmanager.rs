//! Alertmanager API v2 as a check source: alerts become (entity = `instance`, check = `alertname`,
//! status from `severity`) rows; silences are created with matchers and expired by id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde::Deserialize;
use serde_json::{json, Value};

use super::common::SilenceError;
use crate::config::{ChecksProfile, HttpBackend};
use crate::model::inhibit::{parse_rules, InhibitRule};
use crate::model::{
    CheckResult, ChecksSnapshot, HistoryPoint, Matcher, Shown, Silence, SilenceRequest,
    SilenceScope, SilenceTarget,
};
use crate::sources::http::lax::{lenient_structs, Lax};
use crate::sources::http::{self, HttpError};

/// Alertmanager silences need an end; "no expiry" becomes this far out (and the form says so).
pub const FOREVER: chrono::Duration = chrono::Duration::days(365 * 10);

/// Alertmanager marks alerts as silenced asynchronously: after creating a silence, look this many
/// times, this far apart (about two seconds in all), for an alert that shows it.
const CONFIRM_TRIES: u32 = 9;
const CONFIRM_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

pub struct Alertmanager {
    client: Client,
    backend: HttpBackend,
    /// `createdBy` of new silences when the profile (or amtool's `author`) names one.
    creator: Option<String>,
    /// The inhibit rules last read from `/api/v2/status`, and when: read again at most every
    /// [`RULES_EVERY`], and only while some alert is inhibited (nothing else needs them).
    rules: Option<(std::time::Instant, Vec<InhibitRule>)>,
}

const RULES_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Alert {
    labels: Lax<BTreeMap<String, Lax<String>>>,
    annotations: Lax<BTreeMap<String, Lax<String>>>,
    starts_at: Lax<String>,
    updated_at: Lax<String>,
    status: Lax<AlertStatus>,
    #[serde(rename = "generatorURL")]
    generator_url: Lax<String>,
    fingerprint: Lax<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AlertStatus {
    state: Lax<String>,
    silenced_by: Lax<Vec<Lax<String>>>,
    inhibited_by: Lax<Vec<Lax<String>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AmSilence {
    id: Lax<String>,
    matchers: Lax<Vec<Lax<AmMatcher>>>,
    starts_at: Lax<String>,
    ends_at: Lax<String>,
    created_by: Lax<String>,
    comment: Lax<String>,
    updated_at: Lax<String>,
    status: Lax<SilenceStatus>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct SilenceStatus {
    state: Lax<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct AmMatcher {
    name: Lax<String>,
    value: Lax<String>,
    is_regex: Lax<bool>,
    is_equal: Lax<bool>,
}

lenient_structs!(Alert, AlertStatus, AmSilence, SilenceStatus, AmMatcher);

fn time(s: Lax<String>) -> Option<DateTime<Utc>> {
    s.ok()
        .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
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

/// Alerts → results (entity = `instance`, empty when absent; check = `alertname`), with the labels
/// exactly as sent; alerts that are not objects or have no `alertname` are counted in the second
/// value.
pub fn parse_alerts(raw: &[u8], url: &str) -> Result<(Vec<CheckResult>, usize), HttpError> {
    let alerts: Vec<Lax<Alert>> = http::decode(raw, url)?;
    let mut out = Vec::with_capacity(alerts.len());
    let mut skipped = 0;
    for a in alerts {
        let Some(a) = a.ok() else {
            skipped += 1;
            continue;
        };
        let labels: BTreeMap<String, String> = a
            .labels
            .ok()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.ok()?)))
            .collect();
        let Some(name) = labels.get("alertname").filter(|n| !n.is_empty()) else {
            skipped += 1;
            continue;
        };
        let status = status_from_severity(labels.get("severity").map(String::as_str));
        // Alertmanager copies endsAt into a missing startsAt; never show a start in the future.
        let updated = time(a.updated_at);
        let since = match (time(a.starts_at), updated) {
            (Some(s), Some(u)) if s > u => Some(u),
            (s, _) => s,
        };
        let annotations: Vec<(String, String)> = a
            .annotations
            .ok()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.ok()?)))
            .collect();
        let output = ["summary", "description", "message"]
            .iter()
            .find_map(|k| annotations.iter().find(|(n, _)| n == k))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        // runbook_url first, then dashboard, then any other http(s) value; generatorURL last.
        let mut links: Vec<(String, String)> = annotations
            .iter()
            .filter(|(_, v)| crate::model::run::is_web_url(v))
            .cloned()
            .collect();
        links.sort_by_key(|(k, _)| match k.as_str() {
            "runbook_url" | "runbook" => 0,
            "dashboard" | "dashboard_url" => 1,
            _ => 2,
        });
        if let Some(g) = a
            .generator_url
            .ok()
            .filter(|g| crate::model::run::is_web_url(g))
        {
            links.push(("generatorURL".into(), g));
        }
        let (state, silenced_by, inhibited_by) = match a.status.ok() {
            Some(s) => (
                s.state.ok().unwrap_or_default(),
                s.silenced_by.strings().unwrap_or_default(),
                s.inhibited_by.strings().unwrap_or_default(),
            ),
            None => (String::new(), Vec::new(), Vec::new()),
        };
        out.push(CheckResult {
            cluster: Default::default(),
            entity: labels.get("instance").cloned().unwrap_or_default(),
            check: name.clone(),
            status,
            output,
            occurrences: 1,
            since,
            executed: updated.or(since),
            history: vec![HistoryPoint {
                status,
                executed: since,
            }],
            subscriptions: labels.get("job").cloned().into_iter().collect(),
            silenced: state == "suppressed" && !silenced_by.is_empty(),
            silenced_by,
            // Only a suppressed alert is inhibited: an active one may still list stale names.
            inhibited_by: if state == "suppressed" {
                inhibited_by
            } else {
                Vec::new()
            },
            fingerprint: a.fingerprint.ok().unwrap_or_default(),
            labels: labels.into_iter().collect(),
            annotations,
            links,
        });
    }
    Ok((out, skipped))
}

/// The inhibit rules of the `config.original` YAML in a `/api/v2/status` answer.
pub fn parse_status_rules(raw: &[u8]) -> Vec<InhibitRule> {
    serde_json::from_slice::<Value>(raw)
        .ok()
        .and_then(|v| {
            v.pointer("/config/original")
                .and_then(Value::as_str)
                .map(parse_rules)
        })
        .unwrap_or_default()
}

/// Silences that still matter (not expired); entries without an id or usable matchers are dropped.
pub fn parse_silences(raw: &[u8], url: &str) -> Result<Vec<Silence>, HttpError> {
    let all: Vec<Lax<AmSilence>> = http::decode(raw, url)?;
    Ok(all
        .into_iter()
        .filter_map(|s| {
            let s = s.ok()?;
            // Expired silences stay listed until retention drops them; they silence nothing.
            if s.state() == "expired" {
                return None;
            }
            s.into_silence()
        })
        .collect())
}

impl AmSilence {
    fn state(&self) -> String {
        match &self.status {
            Lax::Ok(SilenceStatus {
                state: Lax::Ok(state),
            }) => state.clone(),
            _ => String::new(),
        }
    }

    fn into_silence(self) -> Option<Silence> {
        let matchers = self
            .matchers
            .ok()
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let m = m.ok()?;
                Some(Matcher {
                    name: m.name.ok()?,
                    value: m.value.ok()?,
                    is_regex: m.is_regex.ok().unwrap_or(false),
                    is_equal: m.is_equal.ok().unwrap_or(true),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Silence {
            id: self.id.non_empty()?,
            subscription: None,
            check: None,
            matchers,
            creator: self.created_by.ok().unwrap_or_default(),
            reason: self.comment.ok().unwrap_or_default(),
            begin: time(self.starts_at),
            expire_at: time(self.ends_at),
            expire_on_resolve: false,
            updated_at: time(self.updated_at),
        })
    }
}

/// Equality matchers for a scope, from the row's raw label values. An entity the alert lacks is
/// `instance=""`, which matches only alerts without an `instance` label. A set in which every
/// matcher matches the empty string would silence every alert lacking those labels (Alertmanager
/// refuses it too): refused here with the reason, before anything is sent.
pub fn matchers_for(scope: &SilenceScope) -> Result<Vec<Matcher>, String> {
    let eq = |name: &str, value: &str| Matcher {
        name: name.into(),
        value: value.into(),
        is_regex: false,
        is_equal: true,
    };
    let matchers = match scope {
        SilenceScope::CheckOnEntity { entity, check } => {
            vec![eq("alertname", check), eq("instance", entity)]
        }
        SilenceScope::CheckEverywhere { check } => vec![eq("alertname", check)],
        SilenceScope::Entity { entity } => vec![eq("instance", entity)],
        SilenceScope::Subscription { subscription } => vec![eq("job", subscription)],
    };
    if matchers.iter().all(|m| m.value.is_empty()) {
        let names: Vec<&str> = matchers.iter().map(|m| m.name.as_str()).collect();
        return Err(format!(
            "{} matches the empty string, so it would silence every alert without {} — pick a narrower scope",
            matchers
                .iter()
                .map(|m| format!("{}=\"\"", m.name))
                .collect::<Vec<_>>()
                .join(", "),
            if names.len() == 1 {
                format!("an {} label", names[0])
            } else {
                format!("the labels {}", names.join(", "))
            }
        ));
    }
    Ok(matchers)
}

pub fn silence_body(req: &SilenceRequest, matchers: &[Matcher], now: DateTime<Utc>) -> Value {
    let end = match req.duration {
        Some(d) => chrono::Duration::from_std(d)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(now + FOREVER),
        None => now + FOREVER,
    };
    let matchers: Vec<Value> = matchers
        .iter()
        .map(|m| json!({"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}))
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
            creator: profile.creator.clone(),
            rules: None,
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
        // Both requests finish before the round does (join, not try_join): a failed round
        // must not leave a request in flight, or the "retry at" countdown would be started
        // while the server still sees this round's traffic.
        let (alerts, silences) =
            tokio::join!(self.get("/api/v2/alerts"), self.get("/api/v2/silences"));
        let (alerts, silences) = (alerts?, silences?);
        let (results, skipped) =
            parse_alerts(&alerts, &format!("{}/api/v2/alerts", self.backend.url))?;
        let silences = parse_silences(&silences, &format!("{}/api/v2/silences", self.backend.url))?;
        let inhibit_rules = if results.iter().any(|r| !r.inhibited_by.is_empty()) {
            self.inhibit_rules().await
        } else {
            Vec::new()
        };
        Ok(ChecksSnapshot {
            results,
            silences,
            skipped,
            inhibit_rules,
        })
    }

    /// The inhibit rules, from the cache while it is fresh. A failed read is no failed poll: the
    /// detail then names the inhibitors without their rule.
    async fn inhibit_rules(&mut self) -> Vec<InhibitRule> {
        if let Some((at, rules)) = &self.rules {
            if at.elapsed() < RULES_EVERY {
                return rules.clone();
            }
        }
        let rules = match self.get("/api/v2/status").await {
            Ok(raw) => parse_status_rules(&raw),
            Err(e) => {
                tracing::warn!("alertmanager status (for inhibit rules): {e}");
                Vec::new()
            }
        };
        self.rules = Some((std::time::Instant::now(), rules.clone()));
        rules
    }

    pub async fn silence(&mut self, req: &SilenceRequest) -> Result<Silence, SilenceError> {
        let matchers = matchers_for(&req.scope).map_err(SilenceError::Refused)?;
        let url = format!("{}/api/v2/silences", self.backend.url);
        let now = crate::clock::now();
        let mut body = silence_body(req, &matchers, now);
        if let Some(creator) = &self.creator {
            body["createdBy"] = Value::String(creator.clone());
        }
        let r = http::with_basic(self.client.post(&url).json(&body), &self.backend.auth);
        let resp = http::send(r, self.backend.timeout).await?;
        let resp = http::check_status(resp, &url, &self.backend.auth, self.backend.timeout).await?;
        let raw = http::body(resp, &url, self.backend.timeout).await?;
        let v: Value = http::decode(&raw, &url)?;
        let id = v
            .get("silenceID")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| HttpError::Decode {
                url,
                reason: "no silenceID in the answer".into(),
            })?;
        Ok(Silence::requested(
            id,
            req,
            SilenceTarget::Matchers(matchers),
            now,
        ))
    }

    /// Moves the end of `silence` to `until`. Alertmanager updates a silence in place (same id) only
    /// when the POST carries its id, identical matchers and the very `startsAt` it holds, so both
    /// are read back from the server first, never taken from the console's copy; otherwise it
    /// expires the old one and answers with a new id, which is reported as such. Done only when
    /// the silence the answer names shows the new end.
    pub async fn extend(
        &mut self,
        silence: &Silence,
        until: DateTime<Utc>,
    ) -> Result<Silence, SilenceError> {
        let path = format!("/api/v2/silence/{}", urlencoding::encode(&silence.id));
        let url = format!("{}{path}", self.backend.url);
        let raw = self.get(&path).await?;
        let current: AmSilence = http::decode(&raw, &url)?;
        if current.state() == "expired" {
            return Err(SilenceError::Refused(
                "it has expired meanwhile — create a new silence".into(),
            ));
        }
        let starts_at = current.starts_at.clone().ok().ok_or_else(|| {
            SilenceError::Refused("Alertmanager holds it without startsAt".into())
        })?;
        let current = current.into_silence().ok_or_else(|| {
            SilenceError::Refused("Alertmanager holds it without usable matchers".into())
        })?;
        let matchers: Vec<Value> = current
            .matchers
            .iter()
            .map(|m| json!({"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}))
            .collect();
        let body = json!({
            "id": current.id,
            "matchers": matchers,
            "startsAt": starts_at,
            "endsAt": until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "createdBy": current.creator,
            "comment": current.reason,
        });
        let post_url = format!("{}/api/v2/silences", self.backend.url);
        let r = http::with_basic(self.client.post(&post_url).json(&body), &self.backend.auth);
        let resp = http::send(r, self.backend.timeout).await?;
        let resp =
            http::check_status(resp, &post_url, &self.backend.auth, self.backend.timeout).await?;
        let raw = http::body(resp, &post_url, self.backend.timeout).await?;
        let v: Value = http::decode(&raw, &post_url)?;
        let id = v
            .get("silenceID")
            .and_then(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SilenceError::NotShown("no silenceID in the answer".into()))?
            .to_string();
        let path = format!("/api/v2/silence/{}", urlencoding::encode(&id));
        let url = format!("{}{path}", self.backend.url);
        let raw = self.get(&path).await?;
        let after: AmSilence = http::decode(&raw, &url)?;
        let state = after.state();
        let after = after.into_silence().ok_or_else(|| {
            SilenceError::NotShown(format!("silence {id} could not be read back"))
        })?;
        let ends = after.expire_at;
        if state == "expired" || ends.is_none_or(|e| (e - until).num_seconds().abs() > 1) {
            return Err(SilenceError::NotShown(format!(
                "silence {id} ends at {} ({state})",
                ends.map(|e| e.to_rfc3339()).unwrap_or_else(|| "?".into())
            )));
        }
        Ok(after)
    }

    /// Looks for an alert whose `status.silencedBy` holds the new id, a few times over a couple of
    /// seconds; none means the silence covers nothing (it still exists).
    pub async fn confirm(&mut self, silence: &Silence) -> Result<Shown, HttpError> {
        let url = format!("{}/api/v2/alerts", self.backend.url);
        for attempt in 0..CONFIRM_TRIES {
            if attempt > 0 {
                tokio::time::sleep(CONFIRM_EVERY).await;
            }
            let raw = self.get("/api/v2/alerts").await?;
            let (alerts, _) = parse_alerts(&raw, &url)?;
            if alerts.iter().any(|a| a.silenced_by.contains(&silence.id)) {
                return Ok(Shown::OnTarget);
            }
        }
        Ok(Shown::Nothing { present: true })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_keep_the_labels_as_sent() {
        let raw = br#"[{"labels":{"alertname":"Evil\u001b]52;c;ZXZpbA==\u0007OSC","instance":"web-1\u001b[2J"}},
                      {"labels":{"alertname":"NoInstance"}}]"#;
        let (rows, skipped) = parse_alerts(raw, "http://am").unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(rows[0].check, "Evil\u{1b}]52;c;ZXZpbA==\u{7}OSC");
        assert_eq!(rows[0].entity, "web-1\u{1b}[2J");
        assert_eq!(
            rows[1].entity, "",
            "no instance label: no entity, not \"-\""
        );
    }

    #[test]
    fn matchers_from_raw_values_and_absent_labels() {
        let pairs = |scope: &SilenceScope| -> Vec<(String, String)> {
            matchers_for(scope)
                .unwrap()
                .into_iter()
                .map(|m| {
                    assert!(!m.is_regex && m.is_equal);
                    (m.name, m.value)
                })
                .collect()
        };
        let evil = "Evil\u{1b}]52;c;ZXZpbA==\u{7}OSC";
        assert_eq!(
            pairs(&SilenceScope::CheckOnEntity {
                entity: String::new(),
                check: evil.into()
            }),
            vec![
                ("alertname".to_string(), evil.to_string()),
                ("instance".to_string(), String::new()),
            ]
        );
        let refused = matchers_for(&SilenceScope::Entity {
            entity: String::new(),
        })
        .unwrap_err();
        assert!(
            refused.starts_with("instance=\"\" matches the empty string"),
            "{refused}"
        );
        assert!(matchers_for(&SilenceScope::Subscription {
            subscription: String::new()
        })
        .is_err());
    }
}

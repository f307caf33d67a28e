//! Sensu Core 1.x API: latest results from `/results`, occurrences from `/events`, `/silenced`,
//! `POST /silenced` and `POST /silenced/clear`. History arrives as strings or integers.

use std::collections::HashMap;

use reqwest::Client;
use serde::Deserialize;
use serde_json::{json, Value};

use super::checks::{epoch, CheckResult, ChecksSnapshot, HistoryPoint, Silence, SilenceRequest, SilenceScope};
use super::http::{self, HttpError};
use crate::config::{ChecksProfile, HttpBackend};
use crate::text::sanitize;

pub struct SensuCore {
    client: Client,
    backend: HttpBackend,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreCheck {
    name: String,
    status: Option<i64>,
    output: Option<String>,
    executed: Option<i64>,
    interval: Option<i64>,
    history: Option<Vec<Value>>,
    subscribers: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreResult {
    client: String,
    check: CoreCheck,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreClient {
    name: String,
    subscriptions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreEvent {
    client: CoreClient,
    check: CoreCheck,
    occurrences: Option<i64>,
    silenced: Option<bool>,
    silenced_by: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreSilenced {
    id: String,
    subscription: Option<String>,
    check: Option<String>,
    begin: Option<i64>,
    expire: Option<i64>,
    expire_on_resolve: Option<bool>,
    creator: Option<String>,
    reason: Option<String>,
}

/// "0", 0, "2" … → statuses; anything unreadable is UNKNOWN (3).
fn history_status(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(3),
        Value::String(s) => s.trim().parse().unwrap_or(3),
        _ => 3,
    }
}

fn points(history: &[Value], executed: Option<i64>, interval: Option<i64>) -> Vec<HistoryPoint> {
    // 1.x history has no times; when interval is known, estimate them back from the last run.
    let n = history.len() as i64;
    history
        .iter()
        .enumerate()
        .map(|(i, v)| HistoryPoint {
            status: history_status(v),
            executed: match (executed, interval) {
                (Some(e), Some(iv)) if iv > 0 => epoch(e - (n - 1 - i as i64) * iv),
                _ => None,
            },
        })
        .collect()
}

pub fn parse(results_raw: &[u8], events_raw: &[u8], silenced_raw: &[u8], base: &str) -> Result<ChecksSnapshot, HttpError> {
    let results: Vec<Value> = http::decode(results_raw, &format!("{base}/results"))?;
    let events: Vec<Value> = http::decode(events_raw, &format!("{base}/events"))?;
    let silenced: Vec<Value> = http::decode(silenced_raw, &format!("{base}/silenced"))?;
    let mut skipped = 0;
    let mut by_key: HashMap<(String, String), CoreEvent> = HashMap::new();
    for v in events {
        match serde_json::from_value::<CoreEvent>(v) {
            Ok(e) if !e.client.name.is_empty() && !e.check.name.is_empty() => {
                by_key.insert((e.client.name.clone(), e.check.name.clone()), e);
            }
            _ => skipped += 1,
        }
    }
    let mut out = Vec::with_capacity(results.len());
    let mut seen = std::collections::HashSet::new();
    let convert = |client: &str, check: &CoreCheck, ev: Option<&CoreEvent>| {
        let status = check.status.unwrap_or(3);
        let history = points(check.history.as_deref().unwrap_or(&[]), check.executed, check.interval);
        let since = super::checks::since_from_history(&history, status);
        let silenced_by = ev.and_then(|e| e.silenced_by.clone()).unwrap_or_default();
        CheckResult {
            entity: sanitize(client).into_owned(),
            check: sanitize(&check.name).into_owned(),
            status,
            output: check.output.clone().unwrap_or_default(),
            // A result without an event is passing: Sensu 1.x keeps events only while failing.
            occurrences: ev.and_then(|e| e.occurrences).unwrap_or(if status == 0 { 1 } else { 0 }),
            since,
            executed: check.executed.and_then(epoch),
            history,
            subscriptions: ev
                .and_then(|e| e.client.subscriptions.clone())
                .or_else(|| check.subscribers.clone())
                .unwrap_or_default(),
            silenced: ev.and_then(|e| e.silenced).unwrap_or(!silenced_by.is_empty()),
            silenced_by,
            labels: Vec::new(),
        }
    };
    for v in results {
        match serde_json::from_value::<CoreResult>(v) {
            Ok(r) if !r.client.is_empty() && !r.check.name.is_empty() => {
                let key = (r.client.clone(), r.check.name.clone());
                out.push(convert(&r.client, &r.check, by_key.get(&key)));
                seen.insert(key);
            }
            _ => skipped += 1,
        }
    }
    // Events whose result is not (yet) listed still count.
    for (key, ev) in &by_key {
        if !seen.contains(key) {
            out.push(convert(&ev.client.name, &ev.check, Some(ev)));
        }
    }
    let silences = silenced
        .into_iter()
        .filter_map(|v| serde_json::from_value::<CoreSilenced>(v).ok())
        .filter(|s| !s.id.is_empty())
        .map(|s| {
            let begin = s.begin.and_then(epoch);
            Silence {
                id: s.id,
                subscription: s.subscription,
                check: s.check,
                matchers: Vec::new(),
                creator: s.creator.unwrap_or_default(),
                reason: s.reason.unwrap_or_default(),
                begin,
                // 1.x reports `expire` as seconds remaining.
                expire_at: s
                    .expire
                    .filter(|e| *e > 0)
                    .map(|e| chrono::Utc::now() + chrono::Duration::seconds(e)),
                expire_on_resolve: s.expire_on_resolve.unwrap_or(false),
            }
        })
        .collect();
    Ok(ChecksSnapshot {
        results: out,
        silences,
        skipped,
    })
}

pub fn silence_body(req: &SilenceRequest) -> Value {
    let (sub, check) = match &req.scope {
        SilenceScope::CheckOnEntity { entity, check } => (Some(format!("client:{entity}")), Some(check.clone())),
        SilenceScope::CheckEverywhere { check } => (None, Some(check.clone())),
        SilenceScope::Entity { entity } => (Some(format!("client:{entity}")), None),
        SilenceScope::Subscription { subscription } => (Some(subscription.clone()), None),
    };
    let mut body = json!({
        "expire_on_resolve": req.expire_on_resolve,
        "creator": req.creator,
        "reason": req.reason,
    });
    if let Some(d) = req.duration {
        body["expire"] = json!(d.as_secs());
    }
    if let Some(s) = &sub {
        body["subscription"] = json!(s);
    }
    if let Some(c) = &check {
        body["check"] = json!(c);
    }
    body
}

/// The id Sensu 1.x gives a silence: `subscription:check` with `*` for the missing side.
pub fn silence_id(body: &Value) -> String {
    format!(
        "{}:{}",
        body.get("subscription").and_then(|v| v.as_str()).unwrap_or("*"),
        body.get("check").and_then(|v| v.as_str()).unwrap_or("*")
    )
}

impl SensuCore {
    pub fn new(profile: &ChecksProfile) -> anyhow::Result<SensuCore> {
        Ok(SensuCore {
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

    async fn post(&self, path: &str, body: &Value) -> Result<(), HttpError> {
        let url = format!("{}{path}", self.backend.url);
        let req = http::with_basic(self.client.post(&url).json(body), &self.backend.auth);
        let resp = http::send(req, self.backend.timeout).await?;
        http::check_status(resp, &url, &self.backend.auth, self.backend.timeout).await?;
        Ok(())
    }

    pub async fn poll(&mut self) -> Result<ChecksSnapshot, HttpError> {
        let (results, events, silenced) =
            tokio::try_join!(self.get("/results"), self.get("/events"), self.get("/silenced"))?;
        parse(&results, &events, &silenced, &self.backend.url)
    }

    pub async fn silence(&mut self, req: &SilenceRequest) -> Result<String, HttpError> {
        let body = silence_body(req);
        self.post("/silenced", &body).await?;
        Ok(silence_id(&body))
    }

    pub async fn unsilence(&mut self, id: &str) -> Result<(), HttpError> {
        self.post("/silenced/clear", &json!({ "id": id })).await
    }
}

//! Sensu Core 1.x API: latest results from `/results`, occurrences from `/events`, `/silenced`,
//! `POST /silenced` and `POST /silenced/clear`. History arrives as strings or integers.

use std::collections::HashMap;

use reqwest::Client;
use serde::Deserialize;
use serde_json::{json, Value};

use super::common::{epoch, since_from_history, SilenceError};
use crate::config::{ChecksProfile, HttpBackend};
use crate::model::{
    CheckResult, ChecksSnapshot, HistoryPoint, Shown, Silence, SilenceRequest, SilenceScope,
    SilenceTarget,
};
use crate::sources::http::lax::{lenient_structs, Lax, Lenient};
use crate::sources::http::{self, HttpError};

pub struct SensuCore {
    client: Client,
    backend: HttpBackend,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreCheck {
    name: Lax<String>,
    status: Lax<i64>,
    output: Lax<String>,
    executed: Lax<i64>,
    interval: Lax<i64>,
    history: Lax<Vec<Lax<HistoryStatus>>>,
    subscribers: Lax<Vec<Lax<String>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreResult {
    client: Lax<String>,
    check: Lax<CoreCheck>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreClient {
    name: Lax<String>,
    subscriptions: Lax<Vec<Lax<String>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreEvent {
    client: Lax<CoreClient>,
    check: Lax<CoreCheck>,
    occurrences: Lax<i64>,
    silenced: Lax<bool>,
    silenced_by: Lax<Vec<Lax<String>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct CoreSilenced {
    id: Lax<String>,
    subscription: Lax<String>,
    check: Lax<String>,
    begin: Lax<i64>,
    expire: Lax<i64>,
    expire_on_resolve: Lax<bool>,
    creator: Lax<String>,
    reason: Lax<String>,
}

lenient_structs!(CoreCheck, CoreResult, CoreClient, CoreEvent, CoreSilenced);

/// A history entry: `0`/`"0"` in 1.x (integers in results, strings in events); unreadable = 3.
#[derive(Debug)]
struct HistoryStatus(i64);

impl Lenient for HistoryStatus {
    fn from_i64(v: i64) -> Option<Self> {
        Some(HistoryStatus(v))
    }
    fn from_text(v: &str) -> Option<Self> {
        Some(HistoryStatus(v.trim().parse().unwrap_or(3)))
    }
}

/// A check with the name and status we need.
struct Usable {
    name: String,
    status: i64,
    output: String,
    executed: Option<i64>,
    interval: Option<i64>,
    history: Vec<i64>,
    subscribers: Option<Vec<String>>,
}

fn usable(check: Lax<CoreCheck>) -> Option<Usable> {
    let c = check.ok()?;
    let status = match c.status {
        Lax::Ok(s) => s,
        Lax::Missing => 3,
        Lax::Bad => return None,
    };
    Some(Usable {
        name: c.name.non_empty()?,
        status,
        output: c.output.ok().unwrap_or_default(),
        executed: c.executed.ok(),
        interval: c.interval.ok(),
        history: c
            .history
            .ok()
            .unwrap_or_default()
            .into_iter()
            .map(|h| h.ok().map_or(3, |h| h.0))
            .collect(),
        subscribers: c.subscribers.strings(),
    })
}

/// What an event adds to its check's latest result.
struct EventFacts {
    subscriptions: Option<Vec<String>>,
    occurrences: Option<i64>,
    silenced: Option<bool>,
    silenced_by: Vec<String>,
}

fn points(history: &[i64], executed: Option<i64>, interval: Option<i64>) -> Vec<HistoryPoint> {
    // 1.x history has no times; when interval is known, estimate them back from the last run.
    let n = history.len() as i64;
    history
        .iter()
        .enumerate()
        .map(|(i, status)| HistoryPoint {
            status: *status,
            executed: match (executed, interval) {
                // Checked: a bogus interval must not overflow (and kill the task).
                (Some(e), Some(iv)) if iv > 0 => (n - 1 - i as i64)
                    .checked_mul(iv)
                    .and_then(|back| e.checked_sub(back))
                    .and_then(epoch),
                _ => None,
            },
        })
        .collect()
}

fn convert(client: &str, check: Usable, ev: Option<EventFacts>) -> CheckResult {
    let status = check.status;
    let history = points(&check.history, check.executed, check.interval);
    let since = since_from_history(&history, status);
    let (subscriptions, occurrences, silenced, silenced_by) = match ev {
        Some(e) => (e.subscriptions, e.occurrences, e.silenced, e.silenced_by),
        None => (None, None, None, Vec::new()),
    };
    CheckResult {
        cluster: Default::default(),
        fingerprint: String::new(),
        inhibited_by: Vec::new(),
        entity: client.to_string(),
        check: check.name,
        status,
        output: check.output,
        // A result without an event is passing: Sensu 1.x keeps events only while failing.
        occurrences: occurrences.unwrap_or(if status == 0 { 1 } else { 0 }),
        since,
        executed: check.executed.and_then(epoch),
        history,
        subscriptions: subscriptions.or(check.subscribers).unwrap_or_default(),
        silenced: silenced.unwrap_or(!silenced_by.is_empty()),
        silenced_by,
        labels: Vec::new(),
        annotations: Vec::new(),
        links: Vec::new(),
    }
}

/// `/results` joined with `/events` (occurrences, silencing) by (client, check), plus `/silenced`.
/// Results keep their order; events without a result follow in theirs.
pub fn parse(
    results_raw: &[u8],
    events_raw: &[u8],
    silenced_raw: &[u8],
    base: &str,
) -> Result<ChecksSnapshot, HttpError> {
    let results: Vec<Lax<CoreResult>> = http::decode(results_raw, &format!("{base}/results"))?;
    let events: Vec<Lax<CoreEvent>> = http::decode(events_raw, &format!("{base}/events"))?;
    let silenced: Vec<Lax<CoreSilenced>> = http::decode(silenced_raw, &format!("{base}/silenced"))?;
    let mut skipped = 0;
    let mut evs: Vec<Option<(String, Usable, EventFacts)>> = Vec::with_capacity(events.len());
    let mut index: HashMap<(String, String), usize> = HashMap::with_capacity(events.len());
    for e in events {
        let parsed = e.ok().and_then(|e| {
            let client = e.client.ok()?;
            let name = client.name.non_empty()?;
            let check = usable(e.check)?;
            let facts = EventFacts {
                subscriptions: client.subscriptions.strings(),
                occurrences: e.occurrences.ok(),
                silenced: e.silenced.ok(),
                silenced_by: e.silenced_by.strings().unwrap_or_default(),
            };
            Some((name, check, facts))
        });
        match parsed {
            Some(ev) => {
                // The last event for a (client, check) wins.
                if let Some(old) = index.insert((ev.0.clone(), ev.1.name.clone()), evs.len()) {
                    evs[old] = None;
                }
                evs.push(Some(ev));
            }
            None => skipped += 1,
        }
    }
    let mut out = Vec::with_capacity(results.len() + evs.len());
    for r in results {
        let parsed = r
            .ok()
            .and_then(|r| Some((r.client.non_empty()?, usable(r.check)?)));
        let Some((client, mut check)) = parsed else {
            skipped += 1;
            continue;
        };
        let key = (client, std::mem::take(&mut check.name));
        let ev = index
            .get(&key)
            .and_then(|i| evs[*i].take())
            .map(|(_, _, facts)| facts);
        let (client, name) = key;
        check.name = name;
        out.push(convert(&client, check, ev));
    }
    // Events whose result is not (yet) listed still count.
    for (client, check, facts) in evs.into_iter().flatten() {
        out.push(convert(&client, check, Some(facts)));
    }
    let silences = silenced
        .into_iter()
        .filter_map(|s| {
            let s = s.ok()?;
            Some(Silence {
                id: s.id.non_empty()?,
                subscription: s.subscription.non_empty(),
                check: s.check.non_empty(),
                matchers: Vec::new(),
                creator: s.creator.ok().unwrap_or_default(),
                reason: s.reason.ok().unwrap_or_default(),
                begin: s.begin.ok().and_then(epoch),
                // 1.x reports `expire` as seconds remaining.
                expire_at: s
                    .expire
                    .ok()
                    .filter(|e| *e > 0)
                    .and_then(chrono::TimeDelta::try_seconds)
                    .and_then(|d| crate::clock::now().checked_add_signed(d)),
                expire_on_resolve: s.expire_on_resolve.ok().unwrap_or(false),
                updated_at: None,
            })
        })
        .collect();
    Ok(ChecksSnapshot {
        inhibit_rules: Vec::new(),
        results: out,
        silences,
        skipped,
    })
}

/// (subscription, check) for a scope, from the client and check names exactly as Sensu sent them.
pub fn silence_target(scope: &SilenceScope) -> (Option<String>, Option<String>) {
    match scope {
        SilenceScope::CheckOnEntity { entity, check } => {
            (Some(format!("client:{entity}")), Some(check.clone()))
        }
        SilenceScope::CheckEverywhere { check } => (None, Some(check.clone())),
        SilenceScope::Entity { entity } => (Some(format!("client:{entity}")), None),
        SilenceScope::Subscription { subscription } => (Some(subscription.clone()), None),
    }
}

pub fn silence_body(req: &SilenceRequest) -> Value {
    let (sub, check) = silence_target(&req.scope);
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
        body.get("subscription")
            .and_then(|v| v.as_str())
            .unwrap_or("*"),
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
        // join, not try_join: no request of a failed round is left in flight when the
        // retry countdown starts.
        let (results, events, silenced) = tokio::join!(
            self.get("/results"),
            self.get("/events"),
            self.get("/silenced")
        );
        let (results, events, silenced) = (results?, events?, silenced?);
        parse(&results, &events, &silenced, &self.backend.url)
    }

    pub async fn silence(&mut self, req: &SilenceRequest) -> Result<Silence, HttpError> {
        let now = crate::clock::now();
        let body = silence_body(req);
        self.post("/silenced", &body).await?;
        let (subscription, check) = silence_target(&req.scope);
        Ok(Silence::requested(
            silence_id(&body),
            req,
            SilenceTarget::Entry {
                subscription,
                check,
            },
            now,
        ))
    }

    /// Moves the end of entry `silence` to `until`. Sensu 1.x has no update: POSTing the same
    /// subscription and check replaces the entry (same id), with `expire` counted from now, its
    /// creator, reason and expire-on-resolve kept. Done only when the entry shows the new end.
    pub async fn extend(
        &mut self,
        silence: &Silence,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<Silence, SilenceError> {
        let expire = (until - crate::clock::now()).num_seconds();
        if expire <= 0 {
            return Err(SilenceError::Refused("the new end is already past".into()));
        }
        let mut body = json!({
            "expire": expire,
            "expire_on_resolve": silence.expire_on_resolve,
            "creator": silence.creator,
            "reason": silence.reason,
        });
        if let Some(s) = &silence.subscription {
            body["subscription"] = json!(s);
        }
        if let Some(c) = &silence.check {
            body["check"] = json!(c);
        }
        if silence_id(&body) != silence.id {
            return Err(SilenceError::Refused(format!(
                "entry {} is not named subscription:check, so it cannot be replaced in place",
                silence.id
            )));
        }
        self.post("/silenced", &body).await?;
        let path = format!("/silenced/ids/{}", urlencoding::encode(&silence.id));
        let raw = self.get(&path).await?;
        let url = format!("{}{path}", self.backend.url);
        let entry = match http::decode::<Value>(&raw, &url)? {
            Value::Array(mut all) if !all.is_empty() => all.remove(0),
            one => one,
        };
        let remaining = entry.get("expire").and_then(Value::as_i64).unwrap_or(-1);
        let ends = crate::clock::now() + chrono::Duration::seconds(remaining.max(0));
        if remaining <= 0 || (ends - until).num_seconds().abs() > 2 {
            return Err(SilenceError::NotShown(format!(
                "entry {} has {} left",
                silence.id,
                if remaining <= 0 {
                    "no time limit".to_string()
                } else {
                    format!("{remaining} s")
                }
            )));
        }
        let mut after = silence.clone();
        after.expire_at = Some(until);
        Ok(after)
    }

    /// GET `/silenced/ids/{id}`: the entry must be there with the subscription and check we sent
    /// (an object; a one-entry list is read the same way).
    pub async fn confirm(&mut self, silence: &Silence) -> Result<Shown, HttpError> {
        let path = format!("/silenced/ids/{}", urlencoding::encode(&silence.id));
        let raw = match self.get(&path).await {
            Ok(raw) => raw,
            Err(e) if e.status() == Some(404) => return Ok(Shown::Nothing { present: false }),
            Err(e) => return Err(e),
        };
        let url = format!("{}{path}", self.backend.url);
        let entries: Vec<Lax<CoreSilenced>> = match http::decode::<Value>(&raw, &url)? {
            Value::Array(all) => all
                .into_iter()
                .map(|v| serde_json::from_value(v).unwrap_or(Lax::Bad))
                .collect(),
            one => vec![serde_json::from_value(one).unwrap_or(Lax::Bad)],
        };
        let shown = entries.into_iter().filter_map(Lax::ok).any(|e| {
            e.subscription.non_empty() == silence.subscription
                && e.check.non_empty() == silence.check
        });
        Ok(if shown {
            Shown::OnTarget
        } else {
            Shown::Nothing { present: true }
        })
    }

    pub async fn unsilence(&mut self, id: &str) -> Result<(), HttpError> {
        self.post("/silenced/clear", &json!({ "id": id })).await
    }
}

//! Sensu Go core/v2 API: events (paged with `Sensu-Continue`), silenced entries, API-key or
//! username/password auth with access tokens refreshed before they expire.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::common::{epoch, since_from_history, SilenceError};
use crate::config::{ChecksProfile, HttpAuth, HttpBackend};
use crate::model::{
    CheckResult, ChecksSnapshot, HistoryPoint, Shown, Silence, SilenceRequest, SilenceScope,
    SilenceTarget,
};
use crate::sources::http::lax::{lenient_structs, Lax};
use crate::sources::http::{self, HttpError};

const PAGE: usize = 500;
const MAX_PAGES: usize = 1000;

/// The wall clock the token decisions read, in seconds since the epoch: the system's in the app;
/// a test hands in one it moves, so that a token's expiry needs no waiting.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system's wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| crate::clock::now().timestamp())
}

pub struct SensuGo {
    client: Client,
    backend: HttpBackend,
    namespace: String,
    token: Option<Token>,
    clock: Clock,
}

#[derive(Debug, Clone, Deserialize)]
struct Token {
    access_token: String,
    #[serde(default)]
    expires_at: i64,
    #[serde(default)]
    refresh_token: String,
    /// When we received it (our clock), to size the refresh margin to the token's lifetime.
    #[serde(skip)]
    obtained_at: i64,
}

impl Token {
    /// The token in an answer received at `now`.
    fn decode(raw: &[u8], url: &str, now: i64) -> Result<Token, HttpError> {
        let mut t: Token = http::decode(raw, url)?;
        t.obtained_at = now;
        Ok(t)
    }

    /// Still usable without a refresh: no expiry given, or further from it than the margin — a
    /// minute, or half the lifetime for short-lived tokens (else every request would refresh).
    fn fresh(&self, now: i64) -> bool {
        if self.expires_at == 0 {
            return true;
        }
        // Saturating: expires_at is the server's number, whatever it is.
        let margin = (self.expires_at.saturating_sub(self.obtained_at) / 2).clamp(0, 60);
        now < self.expires_at.saturating_sub(margin)
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Meta {
    name: Lax<String>,
    created_by: Lax<String>,
    annotations: Lax<BTreeMap<String, Lax<String>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Event {
    entity: Lax<Entity>,
    check: Lax<Check>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Entity {
    metadata: Lax<Meta>,
    subscriptions: Lax<Vec<Lax<String>>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Check {
    metadata: Lax<Meta>,
    status: Lax<i64>,
    output: Lax<String>,
    executed: Lax<i64>,
    occurrences: Lax<i64>,
    history: Lax<Vec<Lax<GoHistory>>>,
    subscriptions: Lax<Vec<Lax<String>>>,
    is_silenced: Lax<bool>,
    silenced: Lax<Vec<Lax<String>>>,
    last_ok: Lax<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct GoHistory {
    status: Lax<i64>,
    executed: Lax<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct GoSilenced {
    metadata: Lax<Meta>,
    subscription: Lax<String>,
    check: Lax<String>,
    creator: Lax<String>,
    reason: Lax<String>,
    begin: Lax<i64>,
    expire_at: Lax<i64>,
    expire: Lax<i64>,
    expire_on_resolve: Lax<bool>,
}

lenient_structs!(Meta, Event, Entity, Check, GoHistory, GoSilenced);

impl GoSilenced {
    fn into_silence(self) -> Option<Silence> {
        let s = self;
        let (id, created_by) = match s.metadata.ok() {
            Some(m) => (m.name.non_empty()?, m.created_by.ok().unwrap_or_default()),
            None => return None,
        };
        let begin = s.begin.ok().and_then(epoch);
        let expire_at = s
            .expire_at
            .ok()
            .and_then(epoch)
            .or_else(|| match (begin, s.expire.ok()) {
                (Some(b), Some(e)) if e > 0 => {
                    chrono::TimeDelta::try_seconds(e).and_then(|d| b.checked_add_signed(d))
                }
                _ => None,
            });
        Some(Silence {
            id,
            subscription: s.subscription.non_empty(),
            check: s.check.non_empty(),
            matchers: Vec::new(),
            creator: s.creator.non_empty().unwrap_or(created_by),
            reason: s.reason.ok().unwrap_or_default(),
            begin,
            expire_at,
            expire_on_resolve: s.expire_on_resolve.ok().unwrap_or(false),
            updated_at: None,
        })
    }
}

/// The name and the annotations of an object's metadata.
fn name_and_annotations(meta: Lax<Meta>) -> (Option<String>, Vec<(String, String)>) {
    match meta.ok() {
        None => (None, Vec::new()),
        Some(m) => (
            m.name.non_empty(),
            m.annotations
                .ok()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.ok()?)))
                .collect(),
        ),
    }
}

/// Parses one page of `/events` into results. Entries that are not objects, lack an entity or check
/// name, or carry a non-integer status are counted in the second value; odd optional fields are
/// ignored rather than costing the whole event.
pub fn parse_events(raw: &[u8], url: &str) -> Result<(Vec<CheckResult>, usize), HttpError> {
    let events: Vec<Lax<Event>> = http::decode(raw, url)?;
    let mut out = Vec::with_capacity(events.len());
    let mut skipped = 0;
    for ev in events {
        let Some(ev) = ev.ok() else {
            skipped += 1;
            continue;
        };
        let (Lax::Ok(entity), Lax::Ok(check)) = (ev.entity, ev.check) else {
            skipped += 1;
            continue;
        };
        let (entity_name, entity_annotations) = name_and_annotations(entity.metadata);
        let (check_name, check_annotations) = name_and_annotations(check.metadata);
        let (Some(entity_name), Some(check_name)) = (entity_name, check_name) else {
            skipped += 1;
            continue;
        };
        let status = match check.status {
            Lax::Ok(s) => s,
            Lax::Missing => 3,
            Lax::Bad => {
                skipped += 1;
                continue;
            }
        };
        let history: Vec<HistoryPoint> = check
            .history
            .ok()
            .unwrap_or_default()
            .into_iter()
            .filter_map(Lax::ok)
            .map(|h| HistoryPoint {
                status: h.status.ok().unwrap_or(0),
                executed: h.executed.ok().and_then(epoch),
            })
            .collect();
        let since = since_from_history(&history, status).or_else(|| {
            // OK since the last non-OK we cannot see: fall back to last_ok for OK checks.
            (status == 0)
                .then(|| check.last_ok.ok().and_then(epoch))
                .flatten()
        });
        let silenced_by = check.silenced.strings().unwrap_or_default();
        out.push(CheckResult {
            cluster: Default::default(),
            fingerprint: String::new(),
            inhibited_by: Vec::new(),
            entity: entity_name,
            check: check_name,
            status,
            output: check.output.ok().unwrap_or_default(),
            occurrences: check.occurrences.ok().unwrap_or(0),
            since,
            executed: check.executed.ok().and_then(epoch),
            history,
            subscriptions: entity
                .subscriptions
                .strings()
                .or_else(|| check.subscriptions.strings())
                .unwrap_or_default(),
            silenced: check.is_silenced.ok().unwrap_or(!silenced_by.is_empty()),
            silenced_by,
            labels: Vec::new(),
            // The check's annotations, then the entity's (as `entity.NAME`); the http(s) ones
            // are the detail's links.
            links: check_annotations
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .chain(
                    entity_annotations
                        .iter()
                        .map(|(k, v)| (format!("entity.{k}"), v.clone())),
                )
                .filter(|(_, v)| crate::model::run::is_web_url(v))
                .collect(),
            annotations: check_annotations
                .into_iter()
                .chain(
                    entity_annotations
                        .into_iter()
                        .map(|(k, v)| (format!("entity.{k}"), v)),
                )
                .collect(),
        });
    }
    Ok((out, skipped))
}

/// Parses `/silenced`; entries without a name are counted in the second value, not fatal.
pub fn parse_silenced(raw: &[u8], url: &str) -> Result<(Vec<Silence>, usize), HttpError> {
    let entries: Vec<Lax<GoSilenced>> = http::decode(raw, url)?;
    let total = entries.len();
    let silences: Vec<Silence> = entries
        .into_iter()
        .filter_map(Lax::ok)
        .filter_map(GoSilenced::into_silence)
        .collect();
    let skipped = total - silences.len();
    Ok((silences, skipped))
}

/// (subscription, check, entry name) for a scope, from the entity and check names exactly as
/// Sensu sent them, following Sensu's `sub:check` naming.
pub fn silence_target(scope: &SilenceScope) -> (Option<String>, Option<String>, String) {
    let (sub, check) = match scope {
        SilenceScope::CheckOnEntity { entity, check } => {
            (Some(format!("entity:{entity}")), Some(check.clone()))
        }
        SilenceScope::CheckEverywhere { check } => (None, Some(check.clone())),
        SilenceScope::Entity { entity } => (Some(format!("entity:{entity}")), None),
        SilenceScope::Subscription { subscription } => (Some(subscription.clone()), None),
    };
    let name = format!(
        "{}:{}",
        sub.as_deref().unwrap_or("*"),
        check.as_deref().unwrap_or("*")
    );
    (sub, check, name)
}

pub fn silence_body(
    req: &SilenceRequest,
    namespace: &str,
    now: DateTime<Utc>,
) -> serde_json::Value {
    let (sub, check, name) = silence_target(&req.scope);
    let mut body = json!({
        "metadata": {"name": name, "namespace": namespace},
        "begin": now.timestamp(),
        "expire": req.duration.map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)).unwrap_or(-1),
        "expire_on_resolve": req.expire_on_resolve,
        "reason": req.reason,
        "creator": req.creator,
    });
    if let Some(s) = sub {
        body["subscription"] = json!(s);
    }
    if let Some(c) = check {
        body["check"] = json!(c);
    }
    body
}

impl SensuGo {
    pub fn new(profile: &ChecksProfile) -> anyhow::Result<SensuGo> {
        Ok(SensuGo {
            client: http::client(&profile.http)?,
            backend: profile.http.clone(),
            namespace: profile.namespace.clone(),
            token: None,
            clock: system_clock(),
        })
    }

    /// The same source, reading the time its token decisions need from `clock`.
    pub fn with_clock(mut self, clock: Clock) -> SensuGo {
        self.clock = clock;
        self
    }

    fn ns_url(&self, path: &str) -> String {
        format!(
            "{}/api/core/v2/namespaces/{}{path}",
            self.backend.url,
            urlencoding::encode(&self.namespace)
        )
    }

    /// Gets (or refreshes, shortly before expiry) an access token for username/password auth.
    async fn ensure_token(&mut self) -> Result<(), HttpError> {
        let HttpAuth::Basic { .. } = &self.backend.auth else {
            return Ok(());
        };
        let now = (self.clock)();
        if let Some(t) = &self.token {
            if t.fresh(now) {
                return Ok(());
            }
            // Refresh with the refresh token; fall back to a fresh login if that is refused.
            let url = format!("{}/auth/token", self.backend.url);
            let req = self
                .client
                .post(&url)
                .bearer_auth(&t.access_token)
                .json(&json!({"refresh_token": t.refresh_token}));
            if let Ok(resp) = http::send(req, self.backend.timeout).await {
                if resp.status().is_success() {
                    let raw = http::body(resp, &url, self.backend.timeout).await?;
                    self.token = Some(Token::decode(&raw, &url, (self.clock)())?);
                    return Ok(());
                }
            }
            self.token = None;
        }
        let url = format!("{}/auth", self.backend.url);
        let req = http::with_basic(self.client.get(&url), &self.backend.auth);
        let resp = http::send(req, self.backend.timeout).await?;
        let resp = http::check_status(resp, &url, &self.backend.auth, self.backend.timeout).await?;
        let raw = http::body(resp, &url, self.backend.timeout).await?;
        self.token = Some(Token::decode(&raw, &url, (self.clock)())?);
        Ok(())
    }

    fn authorize(&self, req: RequestBuilder) -> RequestBuilder {
        match (&self.backend.auth, &self.token) {
            (HttpAuth::ApiKey { key, .. }, _) => {
                req.header("Authorization", format!("Key {}", key.expose()))
            }
            (HttpAuth::Basic { .. }, Some(t)) => req.bearer_auth(&t.access_token),
            (HttpAuth::Bearer { token, .. }, _) => req.bearer_auth(token.expose()),
            _ => req,
        }
    }

    /// Sends a request built by `build`, logging in again once if the token was rejected.
    async fn call(
        &mut self,
        url: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<reqwest::Response, HttpError> {
        self.ensure_token().await?;
        let resp = http::send(self.authorize(build(&self.client)), self.backend.timeout).await?;
        if resp.status() == StatusCode::UNAUTHORIZED
            && matches!(self.backend.auth, HttpAuth::Basic { .. })
        {
            self.token = None;
            self.ensure_token().await?;
            let resp =
                http::send(self.authorize(build(&self.client)), self.backend.timeout).await?;
            return self.checked(resp, url).await;
        }
        self.checked(resp, url).await
    }

    async fn checked(
        &self,
        resp: reqwest::Response,
        url: &str,
    ) -> Result<reqwest::Response, HttpError> {
        if resp.status() == StatusCode::NOT_FOUND
            && url.contains("/namespaces/")
            && url.ends_with("/events")
        {
            return Err(HttpError::Status {
                status: 404,
                url: url.into(),
                body: format!(
                    "namespace \"{}\" not found — check checks.namespace",
                    self.namespace
                ),
            });
        }
        http::check_status(resp, url, &self.backend.auth, self.backend.timeout).await
    }

    pub async fn poll(&mut self) -> Result<ChecksSnapshot, HttpError> {
        let base = self.ns_url("/events");
        let mut results = Vec::new();
        let mut skipped = 0;
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = format!("{base}?limit={PAGE}");
            if let Some(t) = &token {
                url.push_str(&format!("&continue={}", urlencoding::encode(t)));
            }
            let u = url.clone();
            let resp = self.call(&base, move |c| c.get(&u)).await?;
            let next = resp
                .headers()
                .get("Sensu-Continue")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_string);
            let raw = http::body(resp, &url, self.backend.timeout).await?;
            let (mut page, s) = parse_events(&raw, &url)?;
            results.append(&mut page);
            skipped += s;
            match next {
                Some(n) => token = Some(n),
                None => break,
            }
        }
        let url = self.ns_url("/silenced");
        let u = url.clone();
        let resp = self.call(&url, move |c| c.get(&u)).await?;
        let raw = http::body(resp, &url, self.backend.timeout).await?;
        let (silences, bad) = parse_silenced(&raw, &url)?;
        Ok(ChecksSnapshot {
            inhibit_rules: Vec::new(),
            results,
            silences,
            skipped: skipped + bad,
        })
    }

    /// PUT `/silenced/{name}`: creates the entry, or extends/replaces an existing one of that name.
    pub async fn silence(&mut self, req: &SilenceRequest) -> Result<Silence, HttpError> {
        let now = crate::clock::now();
        let (subscription, check, name) = silence_target(&req.scope);
        let body = silence_body(req, &self.namespace, now);
        let url = self.ns_url(&format!("/silenced/{}", urlencoding::encode(&name)));
        let u = url.clone();
        self.call(&url, move |c| c.put(&u).json(&body)).await?;
        Ok(Silence::requested(
            name,
            req,
            SilenceTarget::Entry {
                subscription,
                check,
            },
            now,
        ))
    }

    /// Moves the end of entry `silence` to `until`: the entry is read back, PUT again with its
    /// `begin` and an `expire` that ends at `until` (Sensu computes `expire_at` from them), and is
    /// done only when a second read shows the new end.
    pub async fn extend(
        &mut self,
        silence: &Silence,
        until: DateTime<Utc>,
    ) -> Result<Silence, SilenceError> {
        let url = self.ns_url(&format!("/silenced/{}", urlencoding::encode(&silence.id)));
        let mut entry = self.read_entry(&url).await?;
        let begin = entry
            .get("begin")
            .and_then(Value::as_i64)
            .filter(|b| *b > 0)
            .unwrap_or_else(|| crate::clock::now().timestamp());
        let expire = until.timestamp() - begin;
        if expire <= 0 {
            return Err(SilenceError::Refused(
                "the new end is before the silence began".into(),
            ));
        }
        entry["expire"] = json!(expire);
        entry["expire_at"] = json!(0);
        entry["begin"] = json!(begin);
        let u = url.clone();
        self.call(&url, move |c| c.put(&u).json(&entry)).await?;
        let after = self.read_entry(&url).await?;
        let after = serde_json::from_value::<Lax<GoSilenced>>(after)
            .ok()
            .and_then(Lax::ok)
            .and_then(GoSilenced::into_silence)
            .ok_or_else(|| SilenceError::NotShown("the entry could not be read back".into()))?;
        match after.expire_at {
            Some(e) if (e - until).num_seconds().abs() <= 1 => Ok(after),
            other => Err(SilenceError::NotShown(format!(
                "entry {} ends at {}",
                after.id,
                other
                    .map(|e| e.to_rfc3339())
                    .unwrap_or_else(|| "no time (until removed)".into())
            ))),
        }
    }

    /// GET one silenced entry as the JSON object Sensu holds (so a PUT sends back every field,
    /// including ones this console does not know).
    async fn read_entry(&mut self, url: &str) -> Result<Value, HttpError> {
        let u = url.to_string();
        let resp = self.call(url, move |c| c.get(&u)).await?;
        let raw = http::body(resp, url, self.backend.timeout).await?;
        let v: Value = http::decode(&raw, url)?;
        if !v.is_object() {
            return Err(HttpError::Decode {
                url: url.to_string(),
                reason: "the silenced entry is not an object".into(),
            });
        }
        Ok(v)
    }

    /// GET `/silenced/{name}`: the entry must be there with the subscription and check we sent.
    pub async fn confirm(&mut self, silence: &Silence) -> Result<Shown, HttpError> {
        let url = self.ns_url(&format!("/silenced/{}", urlencoding::encode(&silence.id)));
        let u = url.clone();
        let resp = match self.call(&url, move |c| c.get(&u)).await {
            Ok(resp) => resp,
            Err(e) if e.status() == Some(404) => return Ok(Shown::Nothing { present: false }),
            Err(e) => return Err(e),
        };
        let raw = http::body(resp, &url, self.backend.timeout).await?;
        let entry: Lax<GoSilenced> = http::decode(&raw, &url)?;
        let as_sent = entry.ok().is_some_and(|e| {
            e.subscription.non_empty() == silence.subscription
                && e.check.non_empty() == silence.check
        });
        Ok(if as_sent {
            Shown::OnTarget
        } else {
            Shown::Nothing { present: true }
        })
    }

    pub async fn unsilence(&mut self, id: &str) -> Result<(), HttpError> {
        let url = self.ns_url(&format!("/silenced/{}", urlencoding::encode(id)));
        let u = url.clone();
        self.call(&url, move |c| c.delete(&u)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_and_entity_annotations_become_links() {
        let raw = br#"[{"entity":{"metadata":{"name":"web-1","annotations":{"dashboard":"https://grafana.example/d/web-1","owner":"team-a"}}},
            "check":{"metadata":{"name":"check_http","annotations":{"runbook_url":"https://runbooks.example/http","bad":"javascript:alert(1)"}},"status":2,"output":"503"}}]"#;
        let (rows, skipped) = super::parse_events(raw, "http://sensu").unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(
            rows[0].links,
            vec![
                (
                    "runbook_url".to_string(),
                    "https://runbooks.example/http".to_string()
                ),
                (
                    "entity.dashboard".to_string(),
                    "https://grafana.example/d/web-1".to_string()
                ),
            ]
        );
        assert!(rows[0]
            .annotations
            .contains(&("entity.owner".to_string(), "team-a".to_string())));
    }
}

//! Sensu Go core/v2 API: events (paged with `Sensu-Continue`), silenced entries, API-key or
//! username/password auth with access tokens refreshed before they expire.

use chrono::{DateTime, Utc};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::checks::{
    epoch, since_from_history, CheckResult, ChecksSnapshot, HistoryPoint, Silence, SilenceRequest,
    SilenceScope,
};
use super::http::{self, HttpError};
use crate::config::{ChecksProfile, HttpAuth, HttpBackend};
use crate::text::sanitize;

const PAGE: usize = 500;
const MAX_PAGES: usize = 1000;

pub struct SensuGo {
    client: Client,
    backend: HttpBackend,
    namespace: String,
    token: Option<Token>,
}

#[derive(Debug, Clone, Deserialize)]
struct Token {
    access_token: String,
    #[serde(default)]
    expires_at: i64,
    #[serde(default)]
    refresh_token: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Meta {
    name: String,
    #[serde(default)]
    created_by: String,
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct Event {
    entity: Option<Entity>,
    check: Option<Check>,
}

impl Default for Event {
    fn default() -> Self {
        Event {
            entity: None,
            check: None,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Entity {
    metadata: Meta,
    subscriptions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct Check {
    metadata: Meta,
    status: Option<i64>,
    output: Option<String>,
    executed: Option<i64>,
    occurrences: Option<i64>,
    history: Option<Vec<GoHistory>>,
    subscriptions: Option<Vec<String>>,
    is_silenced: Option<bool>,
    silenced: Option<Vec<String>>,
    last_ok: Option<i64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct GoHistory {
    status: i64,
    executed: i64,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct GoSilenced {
    metadata: Meta,
    subscription: Option<String>,
    check: Option<String>,
    creator: Option<String>,
    reason: Option<String>,
    begin: Option<i64>,
    expire_at: Option<i64>,
    expire: Option<i64>,
    expire_on_resolve: bool,
}

/// Parses one page of `/events` into results; entries without an entity or check name are counted.
pub fn parse_events(raw: &[u8], url: &str) -> Result<(Vec<CheckResult>, usize), HttpError> {
    let events: Vec<serde_json::Value> = http::decode(raw, url)?;
    let mut out = Vec::with_capacity(events.len());
    let mut skipped = 0;
    for v in events {
        let Ok(ev) = serde_json::from_value::<Event>(v) else {
            skipped += 1;
            continue;
        };
        let (Some(entity), Some(check)) = (ev.entity, ev.check) else {
            skipped += 1;
            continue;
        };
        if entity.metadata.name.is_empty() || check.metadata.name.is_empty() {
            skipped += 1;
            continue;
        }
        let status = check.status.unwrap_or(3);
        let history: Vec<HistoryPoint> = check
            .history
            .unwrap_or_default()
            .into_iter()
            .map(|h| HistoryPoint {
                status: h.status,
                executed: epoch(h.executed),
            })
            .collect();
        let since = since_from_history(&history, status).or_else(|| {
            // OK since the last non-OK we cannot see: fall back to last_ok for OK checks.
            (status == 0).then(|| check.last_ok.and_then(epoch)).flatten()
        });
        let silenced_by = check.silenced.unwrap_or_default();
        out.push(CheckResult {
            entity: sanitize(&entity.metadata.name).into_owned(),
            check: sanitize(&check.metadata.name).into_owned(),
            status,
            output: check.output.unwrap_or_default(),
            occurrences: check.occurrences.unwrap_or(0),
            since,
            executed: check.executed.and_then(epoch),
            history,
            subscriptions: entity
                .subscriptions
                .or(check.subscriptions)
                .unwrap_or_default(),
            silenced: check.is_silenced.unwrap_or(!silenced_by.is_empty()),
            silenced_by,
            labels: Vec::new(),
        });
    }
    Ok((out, skipped))
}

pub fn parse_silenced(raw: &[u8], url: &str) -> Result<Vec<Silence>, HttpError> {
    let entries: Vec<GoSilenced> = http::decode(raw, url)?;
    Ok(entries
        .into_iter()
        .map(|s| {
            let begin = s.begin.and_then(epoch);
            let expire_at = s.expire_at.and_then(epoch).or_else(|| match (begin, s.expire) {
                (Some(b), Some(e)) if e > 0 => Some(b + chrono::Duration::seconds(e)),
                _ => None,
            });
            Silence {
                id: s.metadata.name,
                subscription: s.subscription.filter(|x| !x.is_empty()),
                check: s.check.filter(|x| !x.is_empty()),
                matchers: Vec::new(),
                creator: s.creator.filter(|c| !c.is_empty()).unwrap_or(s.metadata.created_by),
                reason: s.reason.unwrap_or_default(),
                begin,
                expire_at,
                expire_on_resolve: s.expire_on_resolve,
            }
        })
        .collect())
}

/// (subscription, check, entry name) for a scope, following Sensu's `sub:check` naming.
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

pub fn silence_body(req: &SilenceRequest, namespace: &str, now: DateTime<Utc>) -> serde_json::Value {
    let (sub, check, name) = silence_target(&req.scope);
    let mut body = json!({
        "metadata": {"name": name, "namespace": namespace},
        "begin": now.timestamp(),
        "expire": req.duration.map(|d| d.as_secs() as i64).unwrap_or(-1),
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
        })
    }

    fn ns_url(&self, path: &str) -> String {
        format!(
            "{}/api/core/v2/namespaces/{}{path}",
            self.backend.url,
            urlencoding::encode(&self.namespace)
        )
    }

    /// Gets (or refreshes, a minute before expiry) an access token for username/password auth.
    async fn ensure_token(&mut self) -> Result<(), HttpError> {
        let HttpAuth::Basic { .. } = &self.backend.auth else {
            return Ok(());
        };
        let now = Utc::now().timestamp();
        if let Some(t) = &self.token {
            if t.expires_at == 0 || t.expires_at - 60 > now {
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
                    self.token = Some(http::decode(&raw, &url)?);
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
        self.token = Some(http::decode(&raw, &url)?);
        Ok(())
    }

    fn authorize(&self, req: RequestBuilder) -> RequestBuilder {
        match (&self.backend.auth, &self.token) {
            (HttpAuth::ApiKey { key, .. }, _) => {
                req.header("Authorization", format!("Key {}", key.expose()))
            }
            (HttpAuth::Basic { .. }, Some(t)) => req.bearer_auth(&t.access_token),
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
        if resp.status() == StatusCode::UNAUTHORIZED && matches!(self.backend.auth, HttpAuth::Basic { .. }) {
            self.token = None;
            self.ensure_token().await?;
            let resp = http::send(self.authorize(build(&self.client)), self.backend.timeout).await?;
            return self.checked(resp, url).await;
        }
        self.checked(resp, url).await
    }

    async fn checked(&self, resp: reqwest::Response, url: &str) -> Result<reqwest::Response, HttpError> {
        if resp.status() == StatusCode::NOT_FOUND && url.contains("/namespaces/") && url.ends_with("/events") {
            return Err(HttpError::Status {
                status: 404,
                url: url.into(),
                body: format!("namespace \"{}\" not found — check checks.namespace", self.namespace),
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
        let silences = parse_silenced(&raw, &url)?;
        Ok(ChecksSnapshot {
            results,
            silences,
            skipped,
        })
    }

    /// PUT `/silenced/{name}`: creates the entry, or extends/replaces an existing one of that name.
    pub async fn silence(&mut self, req: &SilenceRequest) -> Result<String, HttpError> {
        let body = silence_body(req, &self.namespace, Utc::now());
        let name = body["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let url = self.ns_url(&format!("/silenced/{}", urlencoding::encode(&name)));
        let u = url.clone();
        self.call(&url, move |c| c.put(&u).json(&body)).await?;
        Ok(name)
    }

    pub async fn unsilence(&mut self, id: &str) -> Result<(), HttpError> {
        let url = self.ns_url(&format!("/silenced/{}", urlencoding::encode(id)));
        let u = url.clone();
        self.call(&url, move |c| c.delete(&u)).await?;
        Ok(())
    }
}


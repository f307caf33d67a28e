//! Shared HTTP plumbing for the polled backends: one client per backend (TLS verified by default),
//! bodies read with a size cap, and failures turned into messages that say what to fix.

use std::sync::Once;
use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::config::{HttpAuth, HttpBackend};

/// Largest body we read from any backend; bigger answers are refused, not buffered.
pub const MAX_BODY_BYTES: usize = 32 << 20;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Unreachable(String),
    #[error("no answer within {0} s")]
    Timeout(u64),
    #[error("{status}: {credential} was rejected — check it")]
    Auth { status: u16, credential: String },
    #[error("{status} from {url}: {body}")]
    Status { status: u16, url: String, body: String },
    #[error("response over the {} MB cap from {url}", MAX_BODY_BYTES >> 20)]
    TooLarge { url: String },
    #[error("bad response from {url}: {reason}")]
    Decode { url: String, reason: String },
}

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Auth { status, .. } | HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // reqwest and tonic both use rustls; pick ring once for the process.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub fn client(backend: &HttpBackend) -> anyhow::Result<Client> {
    install_crypto_provider();
    let mut b = Client::builder()
        .timeout(backend.timeout)
        .connect_timeout(backend.timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("opsconsole/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60));
    if let Some(ca) = &backend.ca {
        let pem = std::fs::read(ca).map_err(|e| anyhow::anyhow!("reading CA {}: {e}", ca.display()))?;
        let cert = reqwest::Certificate::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("CA {} is not a PEM certificate: {e}", ca.display()))?;
        b = b.add_root_certificate(cert);
    }
    if backend.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    Ok(b.build()?)
}

/// Adds the configured credential (Basic only; API keys and tokens are backend-specific headers).
pub fn with_basic(req: RequestBuilder, auth: &HttpAuth) -> RequestBuilder {
    match auth {
        HttpAuth::Basic { user, password, .. } => req.basic_auth(user, Some(password.expose())),
        _ => req,
    }
}

pub fn credential_name(auth: &HttpAuth) -> String {
    match auth {
        HttpAuth::None => "the request (no credential configured)".into(),
        HttpAuth::ApiKey { origin, .. } => format!("the API key from {origin}"),
        HttpAuth::Basic { user, origin, .. } => format!("user \"{user}\" with the password from {origin}"),
    }
}

pub async fn send(req: RequestBuilder, timeout: Duration) -> Result<Response, HttpError> {
    req.send().await.map_err(|e| classify(e, timeout))
}

fn classify(e: reqwest::Error, timeout: Duration) -> HttpError {
    if e.is_timeout() {
        return HttpError::Timeout(timeout.as_secs());
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    HttpError::Unreachable(msg)
}

/// Reads the body up to [`MAX_BODY_BYTES`].
pub async fn body(mut resp: Response, url: &str, timeout: Duration) -> Result<Vec<u8>, HttpError> {
    if resp.content_length().is_some_and(|n| n as usize > MAX_BODY_BYTES) {
        return Err(HttpError::TooLarge { url: url.into() });
    }
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len() + c.len() > MAX_BODY_BYTES {
                    return Err(HttpError::TooLarge { url: url.into() });
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(classify(e, timeout)),
        }
    }
}

/// Non-2xx → an error carrying the first line of the body (JSON `error` field when there is one).
pub async fn check_status(resp: Response, url: &str, auth: &HttpAuth, timeout: Duration) -> Result<Response, HttpError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(HttpError::Auth {
            status: status.as_u16(),
            credential: credential_name(auth),
        });
    }
    let raw = body(resp, url, timeout).await.unwrap_or_default();
    Err(HttpError::Status {
        status: status.as_u16(),
        url: url.into(),
        body: error_text(&raw),
    })
}

/// A short, safe description of an error body: Sensu `{"error":…}`, Alertmanager's JSON string,
/// Prometheus `{"error":…}`, Elasticsearch `{"error":{"reason":…}}`, or the first line of text.
pub fn error_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let pick = match serde_json::from_slice::<serde_json::Value>(raw) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(v) => v
            .get("error")
            .map(|e| match e {
                serde_json::Value::String(s) => s.clone(),
                other => other
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| other.to_string()),
            })
            .or_else(|| v.get("message").and_then(|m| m.as_str()).map(str::to_string))
            .unwrap_or_else(|| text.lines().next().unwrap_or("").to_string()),
        Err(_) => text.lines().find(|l| !l.trim().is_empty()).unwrap_or("(empty body)").to_string(),
    };
    crate::ui::fmt::fit(&crate::text::sanitize(pick.trim()), 200)
}

pub fn decode<T: DeserializeOwned>(raw: &[u8], url: &str) -> Result<T, HttpError> {
    serde_json::from_slice(raw).map_err(|e| HttpError::Decode {
        url: url.into(),
        reason: if e.is_eof() {
            format!("truncated JSON ({e})")
        } else if e.is_syntax() && raw.first().is_some_and(|b| *b == b'<') {
            "HTML instead of JSON (wrong URL or a proxy error page?)".into()
        } else {
            format!("not the expected JSON ({e})")
        },
    })
}

/// GET `url` and decode JSON, with auth applied by `prepare`.
pub async fn get_json<T: DeserializeOwned>(
    client: &Client,
    url: &str,
    backend: &HttpBackend,
    prepare: impl FnOnce(RequestBuilder) -> RequestBuilder,
) -> Result<(T, reqwest::header::HeaderMap), HttpError> {
    let resp = send(prepare(client.get(url)), backend.timeout).await?;
    let resp = check_status(resp, url, &backend.auth, backend.timeout).await?;
    let headers = resp.headers().clone();
    let raw = body(resp, url, backend.timeout).await?;
    Ok((decode(&raw, url)?, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        assert_eq!(error_text(br#"{"error":"namespace not found","code":2}"#), "namespace not found");
        assert_eq!(error_text(br#""silence invalid: bad matcher""#), "silence invalid: bad matcher");
        assert_eq!(error_text(b"<html>\n<body>oops"), "<html>");
        assert_eq!(error_text(br#"{"error":{"reason":"no such index"}}"#), "no such index");
        assert_eq!(error_text(b"\x1b[2Jevil"), "evil");
    }

    #[test]
    fn decode_errors_are_clear() {
        let e = decode::<Vec<u8>>(b"[1,2", "u").unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = decode::<Vec<u8>>(b"<html>", "u").unwrap_err().to_string();
        assert!(e.contains("HTML"), "{e}");
    }
}

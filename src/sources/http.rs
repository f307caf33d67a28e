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
    #[error("{}", auth_message(*status, credential))]
    Auth { status: u16, credential: String },
    #[error("{status} from {url}: {body}")]
    Status {
        status: u16,
        url: String,
        body: String,
    },
    #[error("response over the {} MB cap from {url}", MAX_BODY_BYTES >> 20)]
    TooLarge { url: String },
    #[error("bad response from {url}: {reason}")]
    Decode { url: String, reason: String },
}

/// 401: the credential itself is wrong or expired; 403: it is valid but lacks a role for this.
fn auth_message(status: u16, credential: &str) -> String {
    if status == 403 {
        format!("{status}: {credential} was accepted but has no permission for this — check its role/RBAC")
    } else {
        format!("{status}: {credential} was rejected — check it")
    }
}

impl HttpError {
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Auth { status, .. } | HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The thing asked for no longer exists: 404/410, or how Alertmanager before 0.27 says it —
    /// a 500 whose body reads "silence not found" or "… already expired". Removing what is already
    /// gone is not a failure the user has to act on.
    pub fn means_gone(&self) -> bool {
        match self {
            HttpError::Status {
                status: 404 | 410, ..
            } => true,
            HttpError::Status {
                status: 500, body, ..
            } => {
                let body = body.to_ascii_lowercase();
                body.contains("not found") || body.contains("already expired")
            }
            _ => false,
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
        let pem =
            std::fs::read(ca).map_err(|e| anyhow::anyhow!("reading CA {}: {e}", ca.display()))?;
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
        HttpAuth::Bearer { origin, .. } => format!("the access token from {origin}"),
        HttpAuth::Basic { user, origin, .. } => {
            format!("user \"{user}\" with the password from {origin}")
        }
    }
}

pub async fn send(req: RequestBuilder, timeout: Duration) -> Result<Response, HttpError> {
    match req.send().await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            let plain = match e.url().filter(|u| u.scheme() == "https") {
                Some(url) if !e.is_timeout() && may_be_plain_server(&format!("{e:?}")) => {
                    let (host, port) = (
                        url.host_str().unwrap_or_default().to_string(),
                        url.port_or_known_default().unwrap_or(443),
                    );
                    answers_plain_http(&host, port, timeout)
                        .await
                        .then(|| format!("{host}:{port}: {NOT_TLS}"))
                }
                _ => None,
            };
            Err(plain.map_or_else(|| classify(e, timeout), HttpError::Unreachable))
        }
    }
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

/// What to say when an `https://` URL leads to a server that speaks plain HTTP.
pub const NOT_TLS: &str =
    "the server does not speak TLS (it answers plain HTTP) — use http://, or check the port";

/// Whether a failed request (its whole text, sources included) may be a TLS handshake that met a
/// plain server: it closed or reset the connection on the ClientHello (etcd answers so), or
/// answered with plain text that is no TLS record. [`answers_plain_http`] then tells for sure;
/// without it the user sees only "transport error" or "connection reset".
pub fn may_be_plain_server(error_text: &str) -> bool {
    let t = error_text.to_ascii_lowercase();
    [
        "tls handshake eof",
        "connection reset",
        "unexpected eof",
        "invalidcontenttype",
        "corrupt message",
        "broken pipe",
    ]
    .iter()
    .any(|sign| t.contains(sign))
}

/// Whether `host:port` answers a plain HTTP request (within `timeout`, at most 2 s).
pub async fn answers_plain_http(host: &str, port: u16, timeout: Duration) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let probe = async {
        let mut conn = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        conn.write_all(format!("HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut head = [0u8; 5];
        conn.read_exact(&mut head).await.ok()?;
        Some(&head == b"HTTP/")
    };
    tokio::time::timeout(timeout.min(Duration::from_secs(2)), probe)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Reads the body up to [`MAX_BODY_BYTES`].
pub async fn body(mut resp: Response, url: &str, timeout: Duration) -> Result<Vec<u8>, HttpError> {
    if resp
        .content_length()
        .is_some_and(|n| n as usize > MAX_BODY_BYTES)
    {
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
pub async fn check_status(
    resp: Response,
    url: &str,
    auth: &HttpAuth,
    timeout: Duration,
) -> Result<Response, HttpError> {
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
    if looks_like_html(raw) {
        let t = html_text(&text);
        return crate::model::text::fit(
            &crate::model::text::sanitize(&format!("{t} (HTML error page)")),
            200,
        );
    }
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
            .or_else(|| {
                v.get("message")
                    .and_then(|m| m.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| text.lines().next().unwrap_or("").to_string()),
        Err(_) => text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("(empty body)")
            .to_string(),
    };
    crate::model::text::fit(&crate::model::text::sanitize(pick.trim()), 200)
}

/// A body that starts (after whitespace) with `<`: a proxy's or server's HTML page.
fn looks_like_html(raw: &[u8]) -> bool {
    raw.trim_ascii_start().first() == Some(&b'<')
}

/// The `<title>` of an HTML page, else its first line of text with the tags removed.
fn html_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>")) {
        let t = html[a + "<title>".len()..b.max(a + "<title>".len())].trim();
        if !t.is_empty() {
            return t.split_whitespace().collect::<Vec<_>>().join(" ");
        }
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push('\n');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("(no text)")
        .to_string()
}

pub fn decode<T: DeserializeOwned>(raw: &[u8], url: &str) -> Result<T, HttpError> {
    serde_json::from_slice(raw).map_err(|e| HttpError::Decode {
        url: url.into(),
        reason: if raw.trim_ascii().is_empty() {
            "empty body where JSON was expected".into()
        } else if e.is_eof() {
            format!("truncated JSON ({e})")
        } else if e.is_syntax() && looks_like_html(raw) {
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

/// Tolerant, single-pass decoding of backend documents: a field that is missing, null or of an
/// unexpected type becomes [`Lax::Missing`] / [`Lax::Bad`] instead of failing the whole answer, so
/// one odd entry cannot hide a fleet, and nothing is buffered as a `serde_json::Value` first.
pub mod lax {
    use std::collections::BTreeMap;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    #[derive(Debug, Clone, PartialEq, Default)]
    pub enum Lax<T> {
        /// Absent or null.
        #[default]
        Missing,
        /// Present with a type we cannot use.
        Bad,
        Ok(T),
    }

    impl<T> Lax<T> {
        pub fn ok(self) -> Option<T> {
            match self {
                Lax::Ok(v) => Some(v),
                _ => None,
            }
        }

        pub fn is_bad(&self) -> bool {
            matches!(self, Lax::Bad)
        }
    }

    impl Lax<String> {
        /// A present, non-empty string.
        pub fn non_empty(self) -> Option<String> {
            self.ok().filter(|s| !s.is_empty())
        }
    }

    impl Lax<Vec<Lax<String>>> {
        /// The strings of a list (other elements dropped); None when there is no list.
        pub fn strings(self) -> Option<Vec<String>> {
            self.ok()
                .map(|v| v.into_iter().filter_map(Lax::ok).collect())
        }
    }

    /// What a JSON value of each kind becomes; `None` = [`Lax::Bad`]. Containers of the wrong kind
    /// are skipped over, so the surrounding document still parses.
    pub trait Lenient: Sized {
        fn from_i64(_v: i64) -> Option<Self> {
            None
        }
        fn from_u64(v: u64) -> Option<Self> {
            i64::try_from(v).ok().and_then(Self::from_i64)
        }
        fn from_f64(_v: f64) -> Option<Self> {
            None
        }
        fn from_text(_v: &str) -> Option<Self> {
            None
        }
        fn from_bool(_v: bool) -> Option<Self> {
            None
        }
        fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }

    /// `from_map` for a `#[serde(default)]` struct whose fields are all `Lax` (so it cannot fail
    /// half-way through the object).
    pub fn struct_from_map<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
        map: A,
    ) -> Result<Option<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
    }

    /// `impl Lenient` through [`struct_from_map`] for structs whose fields are all `Lax`.
    macro_rules! lenient_structs {
        ($($t:ty),*) => {$(
            impl $crate::sources::http::lax::Lenient for $t {
                fn from_map<'de, A: serde::de::MapAccess<'de>>(
                    map: A,
                ) -> Result<Option<Self>, A::Error> {
                    $crate::sources::http::lax::struct_from_map(map)
                }
            }
        )*};
    }
    pub(crate) use lenient_structs;

    impl Lenient for i64 {
        fn from_i64(v: i64) -> Option<Self> {
            Some(v)
        }
    }

    impl Lenient for f64 {
        fn from_i64(v: i64) -> Option<Self> {
            Some(v as f64)
        }
        fn from_u64(v: u64) -> Option<Self> {
            Some(v as f64)
        }
        fn from_f64(v: f64) -> Option<Self> {
            Some(v)
        }
    }

    impl Lenient for bool {
        fn from_bool(v: bool) -> Option<Self> {
            Some(v)
        }
    }

    impl Lenient for String {
        fn from_text(v: &str) -> Option<Self> {
            Some(v.to_owned())
        }
    }

    /// Elements should be `Lax<_>` themselves, so one odd element does not end the list.
    impl<T: DeserializeOwned> Lenient for Vec<T> {
        fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<Option<Self>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(v) = seq.next_element::<T>()? {
                out.push(v);
            }
            Ok(Some(out))
        }
    }

    /// Values should be `Lax<_>`.
    impl<V: DeserializeOwned> Lenient for BTreeMap<String, V> {
        fn from_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Option<Self>, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((k, v)) = map.next_entry::<String, V>()? {
                out.insert(k, v);
            }
            Ok(Some(out))
        }
    }

    impl<'de, T: Lenient> Deserialize<'de> for Lax<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(LaxVisitor(PhantomData))
        }
    }

    struct LaxVisitor<T>(PhantomData<T>);

    fn wrap<T>(v: Option<T>) -> Lax<T> {
        v.map_or(Lax::Bad, Lax::Ok)
    }

    impl<'de, T: Lenient> Visitor<'de> for LaxVisitor<T> {
        type Value = Lax<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Lax<T>, E> {
            Ok(wrap(T::from_bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lax<T>, E> {
            Ok(wrap(T::from_i64(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lax<T>, E> {
            Ok(wrap(T::from_u64(v)))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lax<T>, E> {
            Ok(wrap(T::from_f64(v)))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Lax<T>, E> {
            Ok(wrap(T::from_text(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Lax<T>, E> {
            Ok(Lax::Missing)
        }
        fn visit_none<E: de::Error>(self) -> Result<Lax<T>, E> {
            Ok(Lax::Missing)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Lax<T>, D::Error> {
            Lax::deserialize(d)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lax<T>, A::Error> {
            T::from_seq(seq).map(wrap)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Lax<T>, A::Error> {
            T::from_map(map).map(wrap)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_text(br#"{"error":"namespace not found","code":2}"#),
            "namespace not found"
        );
        assert_eq!(
            error_text(br#""silence invalid: bad matcher""#),
            "silence invalid: bad matcher"
        );
        assert_eq!(error_text(b"<html>\n<body>oops"), "oops (HTML error page)");
        assert_eq!(
            error_text(
                b"\n<html><head><TITLE>502 Bad\n Gateway</TITLE></head><body>x</body></html>"
            ),
            "502 Bad Gateway (HTML error page)"
        );
        assert_eq!(
            error_text(br#"{"error":{"reason":"no such index"}}"#),
            "no such index"
        );
        assert_eq!(error_text(b"\x1b[2Jevil"), "evil");
    }

    #[test]
    fn decode_errors_are_clear() {
        let e = decode::<Vec<u8>>(b"[1,2", "u").unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        let e = decode::<Vec<u8>>(b"<html>", "u").unwrap_err().to_string();
        assert!(e.contains("HTML"), "{e}");
        let e = decode::<Vec<u8>>(b"  \r\n<!DOCTYPE html>", "u")
            .unwrap_err()
            .to_string();
        assert!(e.contains("HTML"), "{e}");
        let e = decode::<Vec<u8>>(b"", "u").unwrap_err().to_string();
        assert!(e.contains("empty body"), "{e}");
    }

    #[test]
    fn lax_values() {
        use super::lax::{Lax, Lenient};
        use std::collections::BTreeMap;

        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(default)]
        struct S {
            n: Lax<i64>,
            s: Lax<String>,
            v: Lax<Vec<Lax<String>>>,
            m: Lax<BTreeMap<String, Lax<String>>>,
        }
        impl Lenient for S {
            fn from_map<'de, A: serde::de::MapAccess<'de>>(
                map: A,
            ) -> Result<Option<Self>, A::Error> {
                lax::struct_from_map(map)
            }
        }
        let all: Vec<Lax<S>> = decode(
            br#"[{"n": 3, "s": "x", "v": ["a", 1, "b"], "m": {"k": "v", "j": [1]}, "extra": {"deep": [1, {"x": 2}]}},
                 {"n": "3", "s": {"nested": [1, 2]}, "v": {"a": 1}, "m": [1, 2]},
                 {"n": null},
                 42, "str", [1, 2]]"#,
            "u",
        )
        .unwrap();
        assert_eq!(all.len(), 6);
        let Lax::Ok(a) = &all[0] else { panic!() };
        assert_eq!(
            (a.n.clone(), a.s.clone()),
            (Lax::Ok(3), Lax::Ok("x".to_string()))
        );
        assert_eq!(
            a.v.clone().strings(),
            Some(vec!["a".to_string(), "b".into()])
        );
        let m = a.m.clone().ok().unwrap();
        assert_eq!(
            (m["k"].clone(), m["j"].is_bad()),
            (Lax::Ok("v".to_string()), true)
        );
        let Lax::Ok(b) = &all[1] else { panic!() };
        assert!(b.n.is_bad() && b.s.is_bad() && b.v.is_bad() && b.m.is_bad());
        let Lax::Ok(c) = &all[2] else { panic!() };
        assert_eq!((c.n.clone(), c.s.clone()), (Lax::Missing, Lax::Missing));
        assert!(all[3..].iter().all(Lax::is_bad));
        // Syntax errors still fail the document.
        assert!(decode::<Vec<Lax<S>>>(br#"[{"n": 3,}]"#, "u").is_err());
        assert!(decode::<Vec<Lax<S>>>(br#"[{"n": 3}"#, "u").is_err());
    }

    #[test]
    fn auth_messages() {
        let e = HttpError::Auth {
            status: 401,
            credential: "the API key from $K".into(),
        };
        assert_eq!(
            e.to_string(),
            "401: the API key from $K was rejected — check it"
        );
        let e = HttpError::Auth {
            status: 403,
            credential: "the API key from $K".into(),
        };
        assert!(e.to_string().contains("no permission"), "{e}");
    }
}

//! Registration values come in several shapes; we pull out what the table shows and keep the raw bytes.
//! Accepted: our JSON convention (`addr`/`port`/`version`/`started_at`), etcd's naming manager
//! (`{"Addr":…,"Metadata":…}`), SkyDNS (`{"host":…,"port":…}`), and plain `ip:port` strings.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::text::sanitize;

#[derive(Debug, Default, PartialEq)]
pub struct ParsedValue {
    pub addr: Option<String>,
    pub version: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// Values bigger than this are not parsed for columns (the detail view still shows them).
const MAX_PARSE_BYTES: usize = 64 * 1024;

pub fn parse(raw: &[u8]) -> ParsedValue {
    if raw.len() > MAX_PARSE_BYTES {
        return ParsedValue::default();
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return ParsedValue::default();
    };
    let trimmed = text.trim();
    if trimmed.starts_with('{') {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(trimmed) {
            let get = |names: &[&str]| names.iter().find_map(|n| map.get(*n));
            let as_text = |v: &Value| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            let host = get(&["addr", "Addr", "address", "Address", "host", "ip"]).and_then(as_text);
            let port = get(&["port", "Port"]).and_then(as_text);
            let addr = match (host, port) {
                (Some(h), Some(p)) if !h.contains(':') || h.starts_with('[') => {
                    Some(format!("{h}:{p}"))
                }
                (Some(h), _) => Some(h),
                (None, _) => None,
            };
            let version = get(&["version", "Version"]).and_then(as_text);
            let started_at = get(&["started_at", "startedAt", "registered_at"])
                .and_then(|v| v.as_str())
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|d| d.with_timezone(&Utc));
            return ParsedValue {
                addr: addr.map(|a| sanitize(&a).into_owned()),
                version: version.map(|v| sanitize(&v).into_owned()),
                started_at,
            };
        }
        return ParsedValue::default();
    }
    // A plain `ip:port` (registrator style) or host name.
    if !trimmed.is_empty() && trimmed.len() <= 256 && !trimmed.contains(char::is_whitespace) {
        return ParsedValue {
            addr: Some(sanitize(trimmed).into_owned()),
            ..Default::default()
        };
    }
    ParsedValue::default()
}

/// The full value for the detail view: pretty JSON when it parses, else the sanitised text.
pub fn pretty(raw: &[u8]) -> String {
    match serde_json::from_slice::<Value>(raw) {
        Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(raw).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_convention() {
        let p = parse(br#"{"addr":"10.0.0.1","port":80,"version":"1.4.2","started_at":"2026-11-25T01:00:00Z"}"#);
        assert_eq!(p.addr.as_deref(), Some("10.0.0.1:80"));
        assert_eq!(p.version.as_deref(), Some("1.4.2"));
        assert!(p.started_at.is_some());
    }

    #[test]
    fn naming_manager_shape() {
        let p = parse(br#"{"Op":0,"Addr":"10.0.0.5:8080","Metadata":null}"#);
        assert_eq!(p.addr.as_deref(), Some("10.0.0.5:8080"));
    }

    #[test]
    fn skydns_shape() {
        let p = parse(br#"{"host":"10.0.0.5","port":8080,"ttl":30}"#);
        assert_eq!(p.addr.as_deref(), Some("10.0.0.5:8080"));
    }

    #[test]
    fn plain_ip_port_and_garbage() {
        assert_eq!(parse(b"10.0.0.1:80").addr.as_deref(), Some("10.0.0.1:80"));
        assert_eq!(parse(b"{not json").addr, None);
        assert_eq!(parse(b"\xff\xfe").addr, None);
        assert_eq!(parse(b"hello world").addr, None);
        assert_eq!(
            parse(br#"{"addr":"\u001b[2Jx"}"#).addr.as_deref(),
            Some("x")
        );
    }
}

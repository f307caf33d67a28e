//! Log line parsers: rsyslog's JSON template, RFC 5424 and RFC 3164 syslog lines, and plain text.
//! Every field is sanitised and capped here, once, so drawing never sees raw backend text.

use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Utc};

use crate::text::{sanitize, sanitize_bytes};

/// Longest message kept per line; longer ones are cut with a marker by `sanitize`.
pub const MAX_MESSAGE: usize = crate::text::MAX_LINE_CHARS;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogLine {
    pub time: Option<DateTime<Utc>>,
    pub host: String,
    pub program: String,
    /// Syslog severity 0 (emerg) … 7 (debug); `None` when unknown.
    pub severity: Option<u8>,
    pub message: String,
    /// Every other field the backend sent, for the detail view (sanitised).
    pub fields: Vec<(String, String)>,
}

pub const SEVERITY_NAMES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

pub fn severity_from_name(s: &str) -> Option<u8> {
    let s = s.trim().to_ascii_lowercase();
    let n = match s.as_str() {
        "emerg" | "emergency" | "panic" => 0,
        "alert" => 1,
        "crit" | "critical" | "fatal" => 2,
        "err" | "error" => 3,
        "warning" | "warn" => 4,
        "notice" => 5,
        "info" | "informational" | "information" => 6,
        "debug" | "trace" => 7,
        other => return other.parse::<u8>().ok().filter(|n| *n <= 7),
    };
    Some(n)
}

fn clean(s: &str) -> String {
    sanitize(s.trim()).into_owned()
}

/// One message from any source: JSON object (rsyslog template, Logstash/ECS document) or a syslog
/// line. Invalid UTF-8 is shown lossily.
pub fn parse_any(raw: &[u8]) -> LogLine {
    let trimmed = raw.trim_ascii();
    if trimmed.first() == Some(&b'{') {
        if let Ok(serde_json::Value::Object(map)) =
            serde_json::from_slice::<serde_json::Value>(trimmed)
        {
            return from_json(&map);
        }
    }
    let text = String::from_utf8_lossy(trimmed);
    parse_syslog(&text, Utc::now())
}

fn json_str(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Looks a dotted path up in nested objects (`log.syslog.severity.name`) or as a flat key.
fn lookup<'a>(
    map: &'a serde_json::Map<String, serde_json::Value>,
    path: &str,
) -> Option<&'a serde_json::Value> {
    if let Some(v) = map.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut cur = map.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// rsyslog JSON template, legacy Logstash syslog fields and ECS names all map onto one line.
pub fn from_json(map: &serde_json::Map<String, serde_json::Value>) -> LogLine {
    let first = |paths: &[&str]| paths.iter().find_map(|p| lookup(map, p).and_then(json_str));
    let time = first(&["@timestamp", "timestamp", "time", "timereported"])
        .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
        .map(|d| d.with_timezone(&Utc));
    let severity = first(&[
        "severity",
        "log.syslog.severity.name",
        "severity_label",
        "level",
        "log.level",
        "syslogseverity",
    ])
    .and_then(|s| severity_from_name(&s))
    .or_else(|| first(&["log.syslog.severity.code"]).and_then(|s| s.parse().ok()));
    let host = first(&[
        "host",
        "hostname",
        "logsource",
        "host.hostname",
        "host.name",
        "host.ip",
    ])
    .unwrap_or_default();
    let program = first(&[
        "program",
        "programname",
        "app-name",
        "process.name",
        "syslogtag",
    ])
    .unwrap_or_default();
    let message = first(&["message", "msg"]).unwrap_or_default();
    let mut fields = Vec::new();
    flatten("", map, &mut fields);
    LogLine {
        time,
        host: clean(&host),
        program: clean(program.trim_end_matches(':')),
        severity,
        message: clean(&message),
        fields,
    }
}

fn flatten(
    prefix: &str,
    map: &serde_json::Map<String, serde_json::Value>,
    out: &mut Vec<(String, String)>,
) {
    for (k, v) in map {
        if out.len() >= 64 {
            return;
        }
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            serde_json::Value::Object(m) => flatten(&key, m, out),
            other => {
                let s = json_str(other).unwrap_or_else(|| other.to_string());
                out.push((clean(&key), crate::ui::fmt::fit(&clean(&s), 1024)));
            }
        }
    }
}

/// RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`) or RFC 3164
/// (`<PRI>Mmm dd hh:mm:ss HOST TAG[pid]: MSG`); anything else becomes a plain message.
pub fn parse_syslog(line: &str, now: DateTime<Utc>) -> LogLine {
    let (pri, rest) = match line.strip_prefix('<').and_then(|r| r.split_once('>')) {
        Some((p, rest)) if p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()) => {
            (p.parse::<u16>().ok(), rest)
        }
        _ => (None, line),
    };
    let severity = pri.map(|p| (p % 8) as u8);
    if let Some(rest5424) = rest.strip_prefix("1 ") {
        if let Some(l) = parse_5424(rest5424, severity) {
            return l;
        }
    }
    if let Some(l) = parse_3164(rest, severity, now) {
        return l;
    }
    LogLine {
        severity,
        message: clean(rest),
        ..Default::default()
    }
}

fn nil(s: &str) -> &str {
    if s == "-" {
        ""
    } else {
        s
    }
}

fn parse_5424(rest: &str, severity: Option<u8>) -> Option<LogLine> {
    let mut parts = rest.splitn(6, ' ');
    let ts = parts.next()?;
    let host = parts.next()?;
    let app = parts.next()?;
    let procid = parts.next()?;
    let msgid = parts.next()?;
    let tail = parts.next().unwrap_or("");
    // Structured data: `-` or one or more `[...]` blocks (with `\]` escapes) before the message.
    let (sd, msg) = if let Some(t) = tail.strip_prefix("- ") {
        ("", t)
    } else if tail == "-" {
        ("", "")
    } else if tail.starts_with('[') {
        let bytes = tail.as_bytes();
        let mut i = 0;
        let mut depth_end = 0;
        while i < bytes.len() && bytes[i] == b'[' {
            let mut j = i + 1;
            while j < bytes.len() && !(bytes[j] == b']' && bytes[j - 1] != b'\\') {
                j += 1;
            }
            i = j + 1;
            depth_end = i.min(bytes.len());
        }
        (&tail[..depth_end], tail[depth_end..].trim_start())
    } else {
        ("", tail)
    };
    let time = if ts == "-" {
        None
    } else {
        Some(DateTime::parse_from_rfc3339(ts).ok()?.with_timezone(&Utc))
    };
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    let mut fields = vec![];
    for (k, v) in [
        ("procid", nil(procid)),
        ("msgid", nil(msgid)),
        ("structured_data", sd),
    ] {
        if !v.is_empty() {
            fields.push((k.to_string(), clean(v)));
        }
    }
    Some(LogLine {
        time,
        host: clean(nil(host)),
        program: clean(nil(app)),
        severity,
        message: clean(msg),
        fields,
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn parse_3164(rest: &str, severity: Option<u8>, now: DateTime<Utc>) -> Option<LogLine> {
    // "Nov 25 04:10:15 host tag[pid]: message" — the timestamp is exactly 15 characters.
    if rest.len() < 16 || !rest.is_char_boundary(15) {
        return None;
    }
    let (ts, after) = rest.split_at(15);
    let month = MONTHS.iter().position(|m| ts.starts_with(m))? as u32 + 1;
    let day: u32 = ts[4..6].trim().parse().ok()?;
    let time = chrono::NaiveTime::parse_from_str(&ts[7..15], "%H:%M:%S").ok()?;
    // No year in RFC 3164: take this year, or last year if that would be in the future.
    let mut year = now.year();
    let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
    let mut dt = Utc.from_utc_datetime(&NaiveDateTime::new(date, time));
    if dt > now + chrono::Duration::days(1) {
        year -= 1;
        dt = Utc.from_utc_datetime(&NaiveDateTime::new(
            chrono::NaiveDate::from_ymd_opt(year, month, day)?,
            time,
        ));
    }
    let after = after.strip_prefix(' ')?;
    let (host, tail) = after.split_once(' ').unwrap_or((after, ""));
    let (tag, msg) = match tail.split_once(": ") {
        Some((t, m)) if !t.contains(' ') => (t, m),
        _ => match tail.strip_suffix(':') {
            Some(t) if !t.contains(' ') => (t, ""),
            _ => ("", tail),
        },
    };
    let (program, pid) = match tag.split_once('[') {
        Some((p, pid)) => (p, pid.trim_end_matches(']')),
        None => (tag, ""),
    };
    let mut fields = Vec::new();
    if !pid.is_empty() {
        fields.push(("pid".to_string(), clean(pid)));
    }
    Some(LogLine {
        time: Some(dt),
        host: clean(host),
        program: clean(program),
        severity,
        message: clean(msg),
        fields,
    })
}

/// For byte input that may not be UTF-8 (kept for sources that hand us raw payloads).
pub fn lossy(raw: &[u8]) -> String {
    sanitize_bytes(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn rsyslog_json_template() {
        let l = parse_any(br#"{"timestamp":"2026-11-25T04:45:19.543130+00:00", "host":"vm", "program":"myapp", "severity":"notice", "message":" hello"}"#);
        assert_eq!(l.host, "vm");
        assert_eq!(l.program, "myapp");
        assert_eq!(l.severity, Some(5));
        assert_eq!(l.message, "hello");
        assert!(l.time.is_some());
    }

    #[test]
    fn ecs_document() {
        let l = parse_any(br#"{"@timestamp":"2026-11-25T04:45:19Z","host":{"hostname":"web1","ip":"10.0.0.1"},"process":{"name":"sshd"},"log":{"syslog":{"severity":{"code":3,"name":"error"}}},"message":"boom"}"#);
        assert_eq!(
            (l.host.as_str(), l.program.as_str(), l.severity),
            ("web1", "sshd", Some(3))
        );
        assert!(l
            .fields
            .iter()
            .any(|(k, _)| k == "log.syslog.severity.code"));
    }

    #[test]
    fn rfc5424() {
        let l = parse_syslog(
            r#"<165>1 2026-11-25T04:10:15.003Z web1 nginx 42 ID47 [exampleSDID@32473 iut="3" eventSource="App\]x"] upstream timed out"#,
            now(),
        );
        assert_eq!(l.severity, Some(5));
        assert_eq!(l.host, "web1");
        assert_eq!(l.program, "nginx");
        assert_eq!(l.message, "upstream timed out");
        let l = parse_syslog("<11>1 - - - - - -", now());
        assert_eq!(l.severity, Some(3));
        assert_eq!(l.message, "");
    }

    #[test]
    fn rfc3164() {
        let l = parse_syslog(
            "<34>Nov 25 04:10:15 web-1 sshd[42]: Accepted publickey for ops",
            now(),
        );
        assert_eq!(l.severity, Some(2));
        assert_eq!(l.host, "web-1");
        assert_eq!(l.program, "sshd");
        assert_eq!(l.message, "Accepted publickey for ops");
        assert_eq!(l.fields, vec![("pid".into(), "42".into())]);
        assert_eq!(l.time.unwrap().to_rfc3339(), "2026-11-25T04:10:15+00:00");
        // A December line read in early January belongs to last year.
        let jan = DateTime::parse_from_rfc3339("2027-01-01T00:10:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let l = parse_syslog("<13>Dec 31 23:59:59 h p: m", jan);
        assert_eq!(l.time.unwrap().year(), 2026);
    }

    #[test]
    fn garbage_and_escapes() {
        let l = parse_syslog("just text \u{1b}[2J\u{1b}]0;pwned\u{7}here", now());
        assert_eq!(l.message, "just text here");
        let l = parse_any(b"\xff\xfe<13>bad");
        assert!(l.message.contains('\u{fffd}'));
        let l = parse_syslog("<999>x", now());
        assert_eq!(l.severity, None);
        let l = parse_syslog("<13>Nov 99 99:99:99 h p: m", now());
        assert!(l.time.is_none());
    }
}

//! A log message that is JSON — the whole message, or a payload after a prefix (`app: {…}`) — read
//! for display: summarised as level, message and chosen fields, or pretty-printed with the
//! newlines inside strings expanded (`p` in the logs pane). Anything that does not parse as a
//! JSON object stays as it is. Pure; only the lines on screen are read, so ingest pays nothing.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::text::visible;

/// A JSON value with its objects' keys in the order sent (serde_json's map sorts them, and a
/// log's author put `msg` first for a reason).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

pub type Map = Vec<(String, Value)>;

impl Value {
    fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }
    fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }
    fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
}

/// The value for `key` in an ordered map (the first, as a duplicate key is the sender's bug).
fn get<'a>(m: &'a Map, key: &str) -> Option<&'a Value> {
    m.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

impl fmt::Display for Value {
    /// Compact JSON, keys in their order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "{}", serde_json::Value::String(s.clone())),
            Value::Array(a) => {
                f.write_str("[")?;
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}:{v}", serde_json::Value::String(k.clone()))?;
                }
                f.write_str("}")
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
                Ok(Value::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
                Ok(Value::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
                Ok(Value::Number(n.into()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
                Ok(serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number))
            }
            fn visit_str<E>(self, s: &str) -> Result<Value, E> {
                Ok(Value::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Value, E> {
                Ok(Value::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Value::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Value::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Keys read as the message and as the level, most common first.
const MESSAGE_KEYS: [&str; 6] = ["msg", "message", "MESSAGE", "log", "text", "event"];
const LEVEL_KEYS: [&str; 5] = ["level", "lvl", "severity", "loglevel", "log.level"];
/// Keys a summary leaves out when no fields are chosen: they repeat the line's own columns.
const SHOWN_ELSEWHERE: [&str; 8] = [
    "time",
    "ts",
    "timestamp",
    "@timestamp",
    "host",
    "hostname",
    "program",
    "app",
];
/// Fields a summary shows at most (without a chosen list).
const SUMMARY_FIELDS: usize = 8;
/// Deepest nesting pretty-printed; deeper values are shown compact on one line.
const MAX_DEPTH: usize = 16;

/// A JSON payload found in a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    /// What came before the `{` (`app: `), trimmed; empty for a JSON line.
    pub prefix: String,
    pub object: Map,
}

/// The JSON object in `message`, if it is one or ends in one after a prefix.
pub fn payload(message: &str) -> Option<Payload> {
    let t = message.trim_end();
    if !t.ends_with('}') {
        return None;
    }
    // The payload starts at the first `{` that makes the rest parse (a prefix may hold braces).
    let mut from = 0;
    while let Some(i) = t[from..].find('{') {
        let start = from + i;
        if let Ok(Value::Object(object)) = serde_json::from_str::<Value>(&t[start..]) {
            return Some(Payload {
                prefix: t[..start].trim().to_string(),
                object,
            });
        }
        from = start + 1;
    }
    None
}

/// One line's summary: its level (when the payload has one), message, and fields as `k=v`.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub level: Option<String>,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

impl Summary {
    /// `[level] message k=v k=v`, sanitised.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if let Some(l) = &self.level {
            out.push_str(l);
            out.push(' ');
        }
        out.push_str(&self.message);
        for (k, v) in &self.fields {
            out.push(' ');
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        visible(&out).into_owned()
    }
}

/// The summary of `p`: the chosen fields in their order (missing ones left out), or — with none
/// chosen — the first scalar fields not already shown as columns.
pub fn summarize(p: &Payload, chosen: &[String], hidden: &[String]) -> Summary {
    let obj = &p.object;
    let msg_key = MESSAGE_KEYS.iter().find(|k| get(obj, k).is_some()).copied();
    let level_key = LEVEL_KEYS.iter().find(|k| get(obj, k).is_some()).copied();
    let mut message = msg_key
        .and_then(|k| get(obj, k))
        .map(scalar)
        .unwrap_or_default();
    if !p.prefix.is_empty() {
        message = if message.is_empty() {
            p.prefix.clone()
        } else {
            format!("{} {message}", p.prefix)
        };
    }
    let level = level_key.and_then(|k| get(obj, k)).map(scalar);
    let fields = if chosen.is_empty() {
        obj.iter()
            .filter(|(k, _)| Some(k.as_str()) != msg_key && Some(k.as_str()) != level_key)
            .filter(|(k, _)| !SHOWN_ELSEWHERE.contains(&k.as_str()))
            .filter(|(k, _)| !hidden.iter().any(|h| h == k))
            .filter(|(_, v)| !v.is_object() && !v.is_array())
            .take(SUMMARY_FIELDS)
            .map(|(k, v)| (k.clone(), scalar(v)))
            .collect()
    } else {
        chosen
            .iter()
            .filter_map(|k| lookup(obj, k).map(|v| (k.clone(), compact(v))))
            .collect()
    };
    Summary {
        level,
        message,
        fields,
    }
}

/// A chosen field: a top-level key, else a dotted path into nested objects (`http.status`).
fn lookup<'a>(obj: &'a Map, key: &str) -> Option<&'a Value> {
    if let Some(v) = get(obj, key) {
        return Some(v);
    }
    let mut parts = key.split('.');
    let mut v = get(obj, parts.next()?)?;
    for part in parts {
        v = get(v.as_object()?, part)?;
    }
    Some(v)
}

/// A scalar as text (a string without its quotes); anything else compact JSON.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => compact(other),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The payload indented, two spaces a level, keys in the order sent; a string holding newlines
/// (a stack trace) continues on the lines below its key, each indented. Every line sanitised.
pub fn pretty(p: &Payload) -> Vec<String> {
    let mut out = Vec::new();
    if !p.prefix.is_empty() {
        out.push(visible(&p.prefix).into_owned());
    }
    object_lines(&p.object, 0, &mut out);
    out
}

fn object_lines(obj: &Map, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth);
    for (k, v) in obj {
        let key = visible(k);
        value_lines(&format!("{pad}{key}: "), v, depth, out);
    }
}

fn value_lines(head: &str, v: &Value, depth: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(depth + 1);
    match v {
        Value::Object(m) if !m.is_empty() && depth < MAX_DEPTH => {
            out.push(head.trim_end().to_string());
            object_lines(m, depth + 1, out);
        }
        Value::Array(a) if !a.is_empty() && depth < MAX_DEPTH => {
            out.push(head.trim_end().to_string());
            for item in a {
                value_lines(&format!("{pad}- "), item, depth + 1, out);
            }
        }
        Value::String(s) if s.contains('\n') => {
            out.push(head.trim_end().to_string());
            for l in s.lines() {
                out.push(format!("{pad}{}", visible(l)));
            }
        }
        other => out.push(format!("{head}{}", visible(&compact(other)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_and_a_payload_after_a_prefix() {
        let p = payload(r#"{"level":"error","msg":"boom","trace_id":"abc","status":500}"#).unwrap();
        assert_eq!(p.prefix, "");
        let s = summarize(&p, &[], &[]);
        assert_eq!(s.text(), "error boom trace_id=abc status=500");
        let p = payload(r#"worker[12]: {"msg":"done","n":3}"#).unwrap();
        assert_eq!(p.prefix, "worker[12]:");
        assert_eq!(summarize(&p, &[], &[]).text(), "worker[12]: done n=3");
        // A prefix with a brace of its own.
        let p = payload(r#"a {b} {"msg":"x"}"#).unwrap();
        assert_eq!(p.prefix, "a {b}");
        for raw in [
            "plain text",
            "{not json}",
            r#"{"a":1} trailing"#,
            "[1,2]",
            "",
        ] {
            assert_eq!(payload(raw), None, "{raw}");
        }
    }

    #[test]
    fn chosen_fields_in_their_order_nested_by_path() {
        let p = payload(r#"{"msg":"GET /","http":{"status":404},"trace_id":"t1","user":"bob"}"#)
            .unwrap();
        let chosen = [
            "trace_id".to_string(),
            "http.status".into(),
            "missing".into(),
        ];
        assert_eq!(
            summarize(&p, &chosen, &[]).text(),
            "GET / trace_id=t1 http.status=404"
        );
        // Without a choice, nested values and the line's own columns are left out.
        let p = payload(r#"{"time":"t","host":"h","msg":"m","ctx":{"a":1},"k":"v"}"#).unwrap();
        assert_eq!(summarize(&p, &[], &[]).text(), "m k=v");
        assert_eq!(summarize(&p, &[], &["k".into()]).text(), "m");
    }

    #[test]
    fn pretty_expands_newlines_and_nesting() {
        let p = payload(
            r#"{"msg":"failed","error":{"type":"IOError","stack":"Traceback:\n  File \"a.py\"\nIOError"},"tags":["db",{"x":1}],"e":{}}"#,
        )
        .unwrap();
        assert_eq!(
            pretty(&p),
            [
                "msg: failed",
                "error:",
                "  type: IOError",
                "  stack:",
                "    Traceback:",
                "      File \"a.py\"",
                "    IOError",
                "tags:",
                "  - db",
                "  -",
                "    x: 1",
                "e: {}",
            ]
        );
    }

    #[test]
    fn escapes_inside_strings_are_shown_not_obeyed() {
        let p = payload("{\"msg\":\"a\\u001b[31mred\",\"k\\u0007\":\"\\r\"}").unwrap();
        let s = summarize(&p, &[], &[]).text();
        assert!(
            !s.contains('\u{1b}') && !s.contains('\u{7}') && !s.contains('\r'),
            "{s:?}"
        );
        for l in pretty(&p) {
            assert!(!l.chars().any(|c| c.is_control()), "{l:?}");
        }
    }
}

//! One log line, whatever the backend and format, with every field already sanitised.

use std::sync::Arc;

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogLine {
    pub time: Option<DateTime<Utc>>,
    pub host: Arc<str>,
    pub program: Arc<str>,
    /// Syslog severity 0 (emerg) … 7 (debug); `None` when unknown.
    pub severity: Option<u8>,
    pub message: String,
    /// Every other field the backend sent, for the detail view (sanitised).
    pub fields: Vec<(String, String)>,
}

pub const SEVERITY_NAMES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

const SEVERITY_ALIASES: [(&str, u8); 17] = [
    ("emerg", 0),
    ("emergency", 0),
    ("panic", 0),
    ("alert", 1),
    ("crit", 2),
    ("critical", 2),
    ("fatal", 2),
    ("err", 3),
    ("error", 3),
    ("warning", 4),
    ("warn", 4),
    ("notice", 5),
    ("info", 6),
    ("informational", 6),
    ("information", 6),
    ("debug", 7),
    ("trace", 7),
];

pub fn severity_from_name(s: &str) -> Option<u8> {
    let s = s.trim();
    SEVERITY_ALIASES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, n)| *n)
        .or_else(|| s.parse::<u8>().ok().filter(|n| *n <= 7))
}

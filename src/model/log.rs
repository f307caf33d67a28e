//! One log line, whatever the backend and format, with every field already sanitised.

use std::sync::Arc;

use super::log_fields::Fields;

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Utc};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogLine {
    pub time: Option<DateTime<Utc>>,
    pub host: Arc<str>,
    pub program: Arc<str>,
    /// Syslog severity 0 (emerg) … 7 (debug); `None` when unknown.
    pub severity: Option<u8>,
    pub message: String,
    /// Every other field the backend sent, for the detail view (sanitised).
    pub fields: Fields,
}

/// How far around a time jump (`t` in the logs pane) Elasticsearch and Loki are read again.
pub const REREAD_AROUND: chrono::Duration = chrono::Duration::minutes(5);

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
    // A code (`jsonmesg`'s `syslogseverity`) is no alias: read before trying all seventeen.
    if let [d @ b'0'..=b'7'] = s.as_bytes() {
        return Some(d - b'0');
    }
    // A name lowercased on the stack and matched (lengths first) before the alias list is
    // searched with a case-insensitive compare per entry: JSON lines name their severity.
    let b = s.as_bytes();
    if b.len() <= 13 {
        let mut low = [0u8; 13];
        let low = &mut low[..b.len()];
        low.copy_from_slice(b);
        low.make_ascii_lowercase();
        let hit = match &*low {
            b"emerg" | b"emergency" | b"panic" => Some(0),
            b"alert" => Some(1),
            b"crit" | b"critical" | b"fatal" => Some(2),
            b"err" | b"error" => Some(3),
            b"warning" | b"warn" => Some(4),
            b"notice" => Some(5),
            b"info" | b"informational" | b"information" => Some(6),
            b"debug" | b"trace" => Some(7),
            _ => None,
        };
        if hit.is_some() {
            return hit;
        }
    }
    SEVERITY_ALIASES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, n)| *n)
        .or_else(|| s.parse::<u8>().ok().filter(|n| *n <= 7))
}

/// The zone an RFC 3164 stamp (no zone of its own) is read in: the sender's, as configured
/// (`timezone = "Europe/Berlin"` on the logs source), else the console's local zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SenderZone {
    /// The console machine's local zone (`TZ`, `/etc/localtime`).
    #[default]
    Local,
    Utc,
    /// An IANA zone.
    Named(chrono_tz::Tz),
}

impl SenderZone {
    /// An IANA name (`Europe/Berlin`), `UTC`, or `local`.
    pub fn parse(name: &str) -> Result<SenderZone, String> {
        match name.trim() {
            "local" => Ok(SenderZone::Local),
            "UTC" | "utc" | "Z" => Ok(SenderZone::Utc),
            other => other.parse::<chrono_tz::Tz>().map(SenderZone::Named).map_err(|_| {
                format!(
                    "timezone \"{other}\" is not an IANA zone name — write e.g. \"Europe/Berlin\", \"UTC\" or \"local\""
                )
            }),
        }
    }

    /// Today's date where the sender is, at `now`.
    pub fn year_at(self, now: DateTime<Utc>) -> i32 {
        match self {
            SenderZone::Local => now.with_timezone(&chrono::Local).year(),
            SenderZone::Utc => now.year(),
            SenderZone::Named(tz) => now.with_timezone(&tz).year(),
        }
    }

    /// The UTC offset (seconds) of local time `t` in this zone: a time in a DST gap takes the
    /// offset before the gap, an ambiguous one (the hour repeated in autumn) the first.
    pub fn offset_of(self, t: &NaiveDateTime) -> Option<i32> {
        fn pick<Tz: TimeZone>(tz: &Tz, t: &NaiveDateTime) -> Option<i32> {
            use chrono::LocalResult;
            match tz.offset_from_local_datetime(t) {
                LocalResult::Single(o) | LocalResult::Ambiguous(o, _) => {
                    Some(o.fix().local_minus_utc())
                }
                // In the gap (clocks skip 02:00→03:00): the offset an hour earlier.
                LocalResult::None => {
                    match tz.offset_from_local_datetime(&(*t - chrono::Duration::hours(1))) {
                        LocalResult::Single(o) | LocalResult::Ambiguous(o, _) => {
                            Some(o.fix().local_minus_utc())
                        }
                        LocalResult::None => None,
                    }
                }
            }
        }
        match self {
            SenderZone::Utc => Some(0),
            SenderZone::Local => pick(&chrono::Local, t),
            SenderZone::Named(tz) => pick(&tz, t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit shortcut against the plain reading: aliases first, then any number up to 7.
    #[test]
    fn severity_codes_read_as_before() {
        let plain = |s: &str| {
            let s = s.trim();
            SEVERITY_ALIASES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(s))
                .map(|(_, n)| *n)
                .or_else(|| s.parse::<u8>().ok().filter(|n| *n <= 7))
        };
        let mut inputs: Vec<String> = (0..=255u8).map(|b| (b as char).to_string()).collect();
        inputs.extend(
            [
                "", " 3 ", "07", "+4", "-1", "10", "255", "256", "err", "ERROR", "Warn", "x", "٣",
            ]
            .map(String::from),
        );
        // Every alias in other cases, padded or extended (the lowercased match against the
        // case-insensitive search), and non-ASCII look-alikes.
        for (name, _) in SEVERITY_ALIASES {
            inputs.extend([
                name.to_string(),
                name.to_uppercase(),
                format!(" {}\t", name.to_uppercase()),
                format!("{name}x"),
                name[1..].to_string(),
            ]);
        }
        inputs.extend(["ınfo", "İNFO", "\u{212a}rit", "warnıng"].map(String::from));
        for s in &inputs {
            assert_eq!(severity_from_name(s), plain(s), "{s:?}");
        }
    }
}

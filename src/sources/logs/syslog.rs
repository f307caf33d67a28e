//! Log line parsers: rsyslog's JSON templates (its `json_redis`-style list templates and
//! `jsonmesg`), Logstash/ECS documents, and every syslog line rsyslog's built-in templates write —
//! RFC 5424 (`RSYSLOG_SyslogProtocol23Format`), RFC 3339 stamps before a BSD header
//! (`RSYSLOG_ForwardFormat`, omhiredis's default; `RSYSLOG_FileFormat` without a PRI), RFC 3164
//! (`RSYSLOG_TraditionalForwardFormat`, `RSYSLOG_TraditionalFileFormat`) — and plain text.
//! Every field is sanitised and capped here, once, so drawing never sees raw backend text.
//!
//! RFC 3164 stamps carry neither year nor zone: they are the sender's local time, read in the
//! logs source's `timezone` (the console's local zone by default, [`SenderZone`]); a stamp more
//! than a day in the future belongs to last year (a December line read in January).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use super::flat_json::{self, Raw};
use crate::model::prefetch::prefetch_ends;
use crate::model::text::{sanitize, sanitize_bytes};
use crate::model::{severity_from_name, Fields, FieldsBuilder, LogLine};

/// Longest message kept per line; longer ones are cut with a marker by `sanitize`.
pub const MAX_MESSAGE: usize = crate::model::text::MAX_LINE_CHARS;

/// Trimmed and sanitised, as an owned string.
fn clean(s: &str) -> String {
    clean_cow(s).into_owned()
}

/// Trimmed and sanitised, borrowed when nothing changes. Printable ASCII (nearly every log line)
/// is taken as is: a byte scan instead of `sanitize`'s char-by-char pass.
fn clean_cow(s: &str) -> Cow<'_, str> {
    // Ends that are visible ASCII need no trimming: the Unicode-aware `trim` was 3 % of ingest.
    let visible = |b: Option<&u8>| b.is_some_and(|b| (0x21..0x7f).contains(b));
    let bytes = s.as_bytes();
    let s = if visible(bytes.first()) && visible(bytes.last()) {
        s
    } else {
        s.trim()
    };
    if s.len() <= MAX_MESSAGE && printable_ascii(s.as_bytes()) {
        return Cow::Borrowed(s);
    }
    // A line break inside a message (a JSON `\n`, a raw one) separates words: a space, not
    // nothing.
    if s.contains(['\n', '\r']) {
        return Cow::Owned(
            sanitize(&s.replace("\r\n", " ").replace(['\n', '\r'], " ")).into_owned(),
        );
    }
    sanitize(s)
}

/// Whether every byte is printable ASCII (0x20–0x7e).
fn printable_ascii(b: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if b.len() >= 16 {
        // Sixteen bytes at a time, the last block overlapping the one before: the byte-wise fold
        // the compiler made of this ran ~1.3 instructions a byte, and every message is checked.
        let last = b.len() - 16;
        let mut at = 0;
        loop {
            let start = at.min(last);
            if !printable_16(&b[start..start + 16]) {
                return false;
            }
            if start == last {
                return true;
            }
            at += 16;
        }
    }
    if b.len() < 16 {
        return printable_short(b);
    }
    // Folded without an early exit, so the check is vectorised (without SSE2 at hand).
    b.iter().fold(true, |ok, c| ok & (0x20..0x7f).contains(c))
}

/// [`printable_ascii`] of fewer than 16 bytes (keys, values, names) eight bytes at a time, the
/// two words overlapping: the byte-wise loop cost ~3 instructions a byte, on every field.
#[inline]
fn printable_short(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Every byte below 0x80; then adding 0x60 sets a byte's high bit exactly when it is at least
    // 0x20, and adding 1 when it is 0x7f (no carry leaves a byte below 0x80 either way).
    let ok = |w: u64| {
        w & HIGH == 0
            && w.wrapping_add(ONES * 0x60) & HIGH == HIGH
            && w.wrapping_add(ONES) & HIGH == 0
    };
    if let (Some(first), Some(last)) = (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        return ok(u64::from_le_bytes(*first)) && ok(u64::from_le_bytes(*last));
    }
    if let (Some(first), Some(last)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        let word =
            u64::from(u32::from_le_bytes(*first)) | u64::from(u32::from_le_bytes(*last)) << 32;
        return ok(word);
    }
    b.iter().all(|c| (0x20..0x7f).contains(c))
}

/// [`printable_ascii`] of 16 bytes with SSE2 (part of every x86_64 CPU).
#[cfg(target_arch = "x86_64")]
#[inline]
fn printable_16(chunk: &[u8]) -> bool {
    use std::arch::x86_64::{
        _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    assert!(chunk.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads the 16 bytes of `chunk`
    // checked above (unaligned loads are allowed).
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        // Signed: bytes from 0x80 up are negative, so below 0x20 too.
        let low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
        let high = _mm_cmpgt_epi8(v, _mm_set1_epi8(0x7e));
        _mm_movemask_epi8(_mm_or_si128(low, high)) == 0
    }
}

/// A host or program name, trimmed and sanitised, as a shared string. A stream repeats a few
/// dozen names: each line takes a reference to the one copy instead of allocating its own (the
/// ring interns them again, so this cache only saves work).
///
/// A name that needs no cleaning is first looked for in a small table of the last names, by a
/// cheap hash of its bytes: the set's hash, probe and the cleaning check were ~200 instructions
/// a line (two names a line), 5 % of log ingest.
fn shared_name(s: &str) -> Arc<str> {
    /// Slots of the table of recent names (a power of two): the bench's 62 names, or a fleet's
    /// few hundred, mostly without two on one slot.
    const RECENT_NAMES: usize = 256;
    thread_local! {
        static NAMES: RefCell<HashSet<Arc<str>, foldhash::fast::RandomState>> =
            RefCell::new(HashSet::default());
        /// Clean names (their text is their cleaned text) by [`recent_slot`], each the copy in
        /// `NAMES`.
        static RECENT: RefCell<[Option<Arc<str>>; RECENT_NAMES]> =
            const { RefCell::new([const { None }; RECENT_NAMES]) };
    }
    /// Names kept per parsing thread; past that the cache starts again (hostnames made of
    /// request ids must not grow it without bound).
    const MAX_SHARED_NAMES: usize = 4096;
    /// FNV-1a of the bytes, its top bits by a Fibonacci multiply: a dozen bytes at most.
    fn recent_slot(s: &str) -> usize {
        let h = s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % RECENT_NAMES
    }
    let slot = recent_slot(s);
    let recent = RECENT.with(|r| r.borrow()[slot].as_ref().filter(|n| ***n == *s).cloned());
    if let Some(shared) = recent {
        return shared;
    }
    let name = clean_cow(s);
    // Borrowed and as long as `s`: `s` is its own cleaned text, so finding `s` itself in the
    // table later stands for this cleaning.
    let clean = matches!(name, Cow::Borrowed(n) if n.len() == s.len());
    let shared = NAMES.with(|names| {
        let mut names = names.borrow_mut();
        if let Some(shared) = names.get(&*name) {
            return shared.clone();
        }
        if names.len() >= MAX_SHARED_NAMES {
            names.clear();
            RECENT.with(|r| r.borrow_mut().fill(None));
        }
        let shared: Arc<str> = Arc::from(&*name);
        names.insert(shared.clone());
        shared
    });
    if clean {
        RECENT.with(|r| r.borrow_mut()[slot] = Some(shared.clone()));
    }
    shared
}

pub use crate::model::SenderZone;

/// The sender's year at `now`, kept for a second: asked once per RFC 3164 line with nearly the
/// same `now`, and the zone lookup (`chrono::Local` checks its cache's age with another clock
/// read) costs more than the rest of the stamp.
fn sender_year(zone: SenderZone, now: DateTime<Utc>) -> i32 {
    thread_local! {
        static LAST: Cell<Option<(SenderZone, i64, i32)>> = const { Cell::new(None) };
    }
    let second = now.timestamp();
    if let Some((z, at, year)) = LAST.with(Cell::get) {
        if z == zone && at == second {
            return year;
        }
    }
    let year = zone.year_at(now);
    LAST.with(|c| c.set(Some((zone, second, year))));
    year
}

/// `t` (local time in `zone`) as UTC. A month whose offset is the same at its first and last
/// second (every month without a DST change) is looked up once; in a month with a change, each
/// local hour once (zone rules change on the hour). So a stream of lines costs a lookup now and
/// then, whatever order their dates come in.
fn to_utc(zone: SenderZone, t: &NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::{Datelike, NaiveDate};
    type Month = Option<(SenderZone, i32, Option<i32>)>;
    thread_local! {
        static MONTHS: std::cell::RefCell<[Month; 32]> = const { std::cell::RefCell::new([None; 32]) };
        static LAST: Cell<Option<(SenderZone, i64, i32)>> = const { Cell::new(None) };
    }
    let month = t.year() * 12 + t.month0() as i32;
    let slot = month.rem_euclid(32) as usize;
    let cached = MONTHS.with(|m| m.borrow()[slot]);
    let constant = match cached {
        Some((z, k, c)) if z == zone && k == month => c,
        _ => {
            let first = NaiveDate::from_ymd_opt(t.year(), t.month(), 1)?.and_hms_opt(0, 0, 0)?;
            let next = if t.month() == 12 {
                NaiveDate::from_ymd_opt(t.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(t.year(), t.month() + 1, 1)
            }?
            .and_hms_opt(0, 0, 0)?;
            let last = next - chrono::Duration::seconds(1);
            let (a, b) = (zone.offset_of(&first), zone.offset_of(&last));
            let c = if a.is_some() && a == b { a } else { None };
            MONTHS.with(|m| m.borrow_mut()[slot] = Some((zone, month, c)));
            c
        }
    };
    let offset = match constant {
        Some(o) => o,
        None => {
            let hour = t.and_utc().timestamp().div_euclid(3600);
            match LAST.with(Cell::get) {
                Some((z, h, o)) if z == zone && h == hour => o,
                _ => {
                    let o = zone.offset_of(t)?;
                    LAST.with(|c| c.set(Some((zone, hour, o))));
                    o
                }
            }
        }
    };
    Some(Utc.from_utc_datetime(&(*t - chrono::Duration::seconds(i64::from(offset)))))
}

/// One message from any source: JSON object (rsyslog template, Logstash/ECS document) or a syslog
/// line, RFC 3164 stamps read in the console's local zone. Invalid UTF-8 is shown lossily.
pub fn parse_any(raw: &[u8]) -> LogLine {
    parse_any_in(raw, SenderZone::Local)
}

/// [`parse_any`] with RFC 3164 stamps read in `zone` (the logs source's `timezone`).
pub fn parse_any_in(raw: &[u8], zone: SenderZone) -> LogLine {
    let trimmed = raw.trim_ascii();
    if trimmed.first() == Some(&b'{') {
        // Flat objects (rsyslog's templates) without a `Value` tree — by the one-pass scanner,
        // else through serde's visitors — and anything else as one.
        if let Some(doc) = std::str::from_utf8(trimmed).ok().and_then(FlatDoc::scan) {
            return from_doc(&doc);
        }
        if let Ok(doc) = serde_json::from_slice::<FlatDoc>(trimmed) {
            return from_doc(&doc);
        }
        if let Some(map) = json_object(trimmed) {
            return from_json(&map);
        }
    }
    // `from_utf8` is the fast check; the lossy copy only for invalid input.
    let text = match std::str::from_utf8(trimmed) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(trimmed),
    };
    syslog_line(&text, crate::clock::now, zone)
}

/// How many lines ahead [`parse_batch`] asks for a line's bytes.
const PREFETCH_AHEAD: usize = 2;

/// A batch of raw lines parsed in order ([`parse_any_in`] each); `bytes` reads one raw line.
/// While a line is parsed, the ends of the one two places on are asked for: each line is its own
/// heap block, and the parse of one otherwise starts by waiting for memory (its trim reads both
/// ends) — ~4 % of the parse of the bench's mix.
pub fn parse_batch<T>(raw: &[T], zone: SenderZone, bytes: impl Fn(&T) -> &[u8]) -> Vec<LogLine> {
    for r in raw.iter().take(PREFETCH_AHEAD) {
        prefetch_ends(bytes(r));
    }
    raw.iter()
        .enumerate()
        .map(|(i, r)| {
            if let Some(next) = raw.get(i + PREFETCH_AHEAD) {
                prefetch_ends(bytes(next));
            }
            parse_any_in(bytes(r), zone)
        })
        .collect()
}

/// A JSON object, read leniently: invalid UTF-8 is decoded lossily (rsyslog's `jsonf` copies the
/// message's bytes verbatim), and raw control characters inside strings — invalid JSON, but what a
/// hand-written string template (`"{\"msg\":\"%msg%\"}"`) sends for a tab or a newline — are
/// escaped before parsing again. The fields are sanitised afterwards like any other.
fn json_object(bytes: &[u8]) -> Option<serde_json::Map<String, serde_json::Value>> {
    let object = |v: serde_json::Value| match v {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    };
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(v) => return object(v),
        Err(e) if e.is_syntax() || e.is_eof() => {}
        Err(_) => return None,
    }
    let lossy = String::from_utf8_lossy(bytes);
    let escaped = escape_controls_in_strings(&lossy);
    if escaped.is_none() && matches!(lossy, std::borrow::Cow::Borrowed(_)) {
        return None; // valid UTF-8 without raw control characters: it really is broken
    }
    let text = escaped.as_deref().unwrap_or(&lossy);
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(object)
}

/// `text` with every raw control character (U+0000–U+001F) inside a JSON string replaced by its
/// `\u00XX` escape; `None` when there is none.
fn escape_controls_in_strings(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let (mut in_string, mut escaped) = (false, false);
    let mut out: Option<String> = None;
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            } else if b < 0x20 {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
                o.push_str(&text[copied..i]);
                o.push_str(&format!("\\u{b:04x}"));
                copied = i + 1;
            }
        } else if b == b'"' {
            in_string = true;
        }
    }
    let mut o = out?;
    o.push_str(&text[copied..]);
    Some(o)
}

/// A JSON value as the line's fields read it: a string (borrowed from the input where it has no
/// escapes), a number, a bool, null, or something nested (an object or array).
#[derive(Debug, Clone)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Num(serde_json::Number),
    Bool(bool),
    Null,
    Nested,
}

impl<'a> Scalar<'a> {
    fn of(v: &'a serde_json::Value) -> Scalar<'a> {
        match v {
            serde_json::Value::String(s) => Scalar::Str(Cow::Borrowed(s)),
            serde_json::Value::Number(n) => Scalar::Num(n.clone()),
            serde_json::Value::Bool(b) => Scalar::Bool(*b),
            serde_json::Value::Null => Scalar::Null,
            _ => Scalar::Nested,
        }
    }

    fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Str(s) => Some(s),
            Scalar::Num(n) => Some(n.to_string().into()),
            Scalar::Bool(b) => Some(b.to_string().into()),
            _ => None,
        }
    }

    fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            Scalar::Str(s) => Some(Cow::Borrowed(s)),
            Scalar::Num(n) => Some(n.to_string().into()),
            Scalar::Bool(b) => Some(b.to_string().into()),
            _ => None,
        }
    }

    /// RFC 3339 text, or epoch seconds / milliseconds as a number.
    fn time(&self) -> Option<DateTime<Utc>> {
        match self {
            Scalar::Str(s) => super::rfc3339::parse(s.trim()),
            Scalar::Num(n) => {
                let f = n.as_f64()?;
                // Past 1e11 seconds (year 5138) it can only be milliseconds.
                let ms = if f.abs() >= 1e11 { f } else { f * 1000.0 };
                DateTime::from_timestamp_millis(ms as i64)
            }
            _ => None,
        }
    }
}

/// A flat JSON object — every value a string, number, bool or null — read without building a
/// `serde_json::Value` tree: keys and values borrowed from the input where they have no escapes.
/// rsyslog's list templates and `jsonmesg` are such objects; anything nested is refused (and read
/// as a `Value` instead).
struct FlatDoc<'a> {
    fields: Vec<FlatField<'a>>,
    /// rsyslog's `jsonmesg` (it has `rawmsg`): its redundant keys are left out.
    jsonmesg: bool,
    /// Per key of [`ALIASES`], the index of its last field: a line's fields are looked up by
    /// two dozen names, so each is found once instead of by a scan per name.
    slots: [Option<u16>; ALIASES.len()],
}

struct FlatField<'a> {
    key: Cow<'a, str>,
    value: Scalar<'a>,
    class: KeyClass,
}

thread_local! {
    /// The field list of the last document read on this thread, emptied, for the next one: a JSON
    /// line's fields are only needed until its `LogLine` is built, and allocating the list anew
    /// was 3 % of ingest.
    static SPARE_FIELDS: RefCell<Vec<FlatField<'static>>> = const { RefCell::new(Vec::new()) };
}

/// An emptied field list with another lifetime, on the same allocation (a `Vec` collected from
/// its own `into_iter` of a same-sized type is built in place).
fn recycle<'x, 'y>(mut fields: Vec<FlatField<'x>>) -> Vec<FlatField<'y>> {
    fields.clear();
    fields
        .into_iter()
        .map(|_| unreachable!("the list was emptied"))
        .collect()
}

impl<'a> FlatDoc<'a> {
    fn with_capacity(n: usize) -> Self {
        let spare = SPARE_FIELDS
            .try_with(|s| std::mem::take(&mut *s.borrow_mut()))
            .unwrap_or_default();
        let mut fields = recycle(spare);
        fields.reserve(n);
        FlatDoc {
            fields,
            jsonmesg: false,
            slots: [None; ALIASES.len()],
        }
    }

    /// A field in document order; `jsonmesg`-only keys are dropped unread.
    fn push(
        &mut self,
        key: Cow<'a, str>,
        value: impl FnOnce() -> Option<Scalar<'a>>,
    ) -> Option<()> {
        let class = KeyClass::of(&key);
        if class.jsonmesg_only {
            self.jsonmesg |= key == "rawmsg";
            return Some(());
        }
        if let (Some(slot), Ok(i)) = (class.alias, u16::try_from(self.fields.len())) {
            self.slots[usize::from(slot)] = Some(i);
        }
        self.fields.push(FlatField {
            key,
            value: value()?,
            class,
        });
        Some(())
    }

    /// By [`flat_json::scan`]; `None` for anything it does not read (the caller tries serde).
    fn scan(text: &'a str) -> Option<Self> {
        let mut doc = FlatDoc::with_capacity(24);
        flat_json::scan(text, |k, v| {
            doc.push(k, || {
                Some(match v {
                    Raw::Str { quoted, escaped } => Scalar::Str(Raw::text(quoted, escaped)?),
                    Raw::Num(n) => Scalar::Num(n.parse().ok()?),
                    Raw::Bool(b) => Scalar::Bool(b),
                    Raw::Null => Scalar::Null,
                })
            })
        })?;
        Some(doc)
    }
}

/// What a key of a flat document is to a line: its slot in [`ALIASES`], and whether it is one of
/// [`JSONMESG_ONLY`] or [`JSONMESG_REDUNDANT`]. A `match` (lengths compared first, constant-size
/// comparisons) rather than searching the lists: it runs for every key of every JSON line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct KeyClass {
    alias: Option<u8>,
    jsonmesg_only: bool,
    jsonmesg_redundant: bool,
}

impl KeyClass {
    fn of(key: &str) -> KeyClass {
        let alias = |slot: u8| KeyClass {
            alias: Some(slot),
            ..KeyClass::default()
        };
        let only = KeyClass {
            alias: None,
            jsonmesg_only: true,
            jsonmesg_redundant: true,
        };
        match key {
            "@timestamp" => alias(0),
            "timestamp" => alias(1),
            "time" => alias(2),
            "timereported" => alias(3),
            "severity" => alias(4),
            "log.syslog.severity.name" => alias(5),
            "severity_label" => alias(6),
            "level" => alias(7),
            "log.level" => alias(8),
            "syslogseverity" => alias(9),
            "log.syslog.severity.code" => alias(10),
            "host" => alias(11),
            "hostname" => alias(12),
            "logsource" => alias(13),
            "host.hostname" => alias(14),
            "host.name" => alias(15),
            "host.ip" => alias(16),
            "program" => alias(17),
            "programname" => alias(18),
            "app-name" => KeyClass {
                jsonmesg_redundant: true,
                ..alias(19)
            },
            "process.name" => alias(20),
            "syslogtag" => KeyClass {
                jsonmesg_redundant: true,
                ..alias(21)
            },
            "message" => alias(22),
            "msg" => alias(23),
            "rawmsg" | "timegenerated" | "pri" | "protocol-version" => only,
            _ => KeyClass::default(),
        }
    }
}

/// Every key a line's time, severity, host, program and message are read from, in the order
/// they are tried (see [`from_doc`]); each group's range below.
const ALIASES: [&str; 24] = [
    "@timestamp",
    "timestamp",
    "time",
    "timereported",
    "severity",
    "log.syslog.severity.name",
    "severity_label",
    "level",
    "log.level",
    "syslogseverity",
    "log.syslog.severity.code",
    "host",
    "hostname",
    "logsource",
    "host.hostname",
    "host.name",
    "host.ip",
    "program",
    "programname",
    "app-name",
    "process.name",
    "syslogtag",
    "message",
    "msg",
];
/// Where each list starts in [`ALIASES`].
const TIME_SLOTS: std::ops::Range<usize> = 0..4;
const SEVERITY_SLOTS: std::ops::Range<usize> = 4..11;
const HOST_SLOTS: std::ops::Range<usize> = 11..17;
const PROGRAM_SLOTS: std::ops::Range<usize> = 17..22;
const MESSAGE_SLOTS: std::ops::Range<usize> = 22..24;

/// Keys only rsyslog's `jsonmesg` has, never read for a line: their values are skipped unread.
#[cfg(test)]
const JSONMESG_ONLY: [&str; 4] = ["rawmsg", "timegenerated", "pri", "protocol-version"];

/// A string borrowed from the input when it can be.
struct CowStr<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

struct FlatValue<'a>(Scalar<'a>);

impl<'de> serde::Deserialize<'de> for FlatValue<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FlatValue<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number, bool or null")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(FlatValue(Scalar::Str(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FlatValue(Scalar::Str(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(FlatValue(Scalar::Str(Cow::Owned(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(FlatValue(Scalar::Num(v.into())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(FlatValue(Scalar::Num(v.into())))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
                serde_json::Number::from_f64(v)
                    .map(|n| FlatValue(Scalar::Num(n)))
                    .ok_or_else(|| E::custom("not a finite number"))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(FlatValue(Scalar::Bool(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(FlatValue(Scalar::Null))
            }
            // Nested: not a flat document.
        }
        d.deserialize_any(V)
    }
}

impl<'de> serde::Deserialize<'de> for FlatDoc<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = FlatDoc<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a flat JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut doc = FlatDoc::with_capacity(map.size_hint().unwrap_or(24));
                while let Some(CowStr(k)) = map.next_key::<CowStr>()? {
                    if KeyClass::of(&k).jsonmesg_only {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        let _ = doc.push(k, || None);
                        continue;
                    }
                    let FlatValue(v) = map.next_value::<FlatValue>()?;
                    let _ = doc.push(k, || Some(v));
                }
                Ok(doc)
            }
        }
        d.deserialize_map(V)
    }
}

/// Where a line's fields come from: a `serde_json` object (nested paths looked up through
/// objects), or a flat document read without one.
trait Doc {
    /// The value of [`ALIASES`]`[slot]`: a key as written (`log.level` may be one) or a dotted
    /// path.
    fn alias(&self, slot: usize) -> Option<Scalar<'_>>;
    /// Every other field, sanitised: those whose [`ALIASES`] slot is not in `used` (a bit per
    /// slot), and not nil or unset.
    fn rest<'s>(&'s self, used: u32, out: &mut Vec<(Cow<'s, str>, Cow<'s, str>)>);
}

impl Doc for serde_json::Map<String, serde_json::Value> {
    fn alias(&self, slot: usize) -> Option<Scalar<'_>> {
        lookup(self, ALIASES[slot]).map(Scalar::of)
    }

    fn rest<'s>(&'s self, used: u32, out: &mut Vec<(Cow<'s, str>, Cow<'s, str>)>) {
        let used: Vec<&str> = (0..ALIASES.len())
            .filter(|s| used & (1 << s) != 0)
            .map(|s| ALIASES[s])
            .collect();
        flatten("", self, &used, out);
    }
}

impl Drop for FlatDoc<'_> {
    fn drop(&mut self) {
        // Kept unless one odd document made it huge.
        if self.fields.capacity() <= 256 {
            let fields = recycle(std::mem::take(&mut self.fields));
            let _ = SPARE_FIELDS.try_with(|s| *s.borrow_mut() = fields);
        }
    }
}

impl Doc for FlatDoc<'_> {
    fn alias(&self, slot: usize) -> Option<Scalar<'_>> {
        // The last of duplicate keys wins, as in a `serde_json` map.
        let i = usize::from(self.slots[slot]?);
        Some(match &self.fields[i].value {
            Scalar::Str(s) => Scalar::Str(Cow::Borrowed(s)),
            other => other.clone(),
        })
    }

    fn rest<'s>(&'s self, used: u32, out: &mut Vec<(Cow<'s, str>, Cow<'s, str>)>) {
        for FlatField {
            key: k,
            value: v,
            class,
        } in &self.fields
        {
            if out.len() >= 64 {
                break;
            }
            if class.alias.is_some_and(|slot| used & (1 << slot) != 0)
                || (self.jsonmesg && class.jsonmesg_redundant)
            {
                continue;
            }
            let Some(text) = v.text() else { continue };
            if text == "-" {
                continue;
            }
            let value = match text {
                Cow::Borrowed(t) => capped(clean_cow(t)),
                Cow::Owned(t) => Cow::Owned(capped(clean_cow(&t)).into_owned()),
            };
            out.push((clean_cow(k), value));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
    }
}

/// A field value cut to 1 024 columns (width never exceeds the byte length: only long values
/// need measuring).
fn capped(value: Cow<'_, str>) -> Cow<'_, str> {
    if value.len() > 1024 {
        Cow::Owned(crate::model::text::fit(&value, 1024))
    } else {
        value
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
/// The keys that became time, host, program, severity and message are not repeated in `fields`.
pub fn from_json(map: &serde_json::Map<String, serde_json::Value>) -> LogLine {
    from_doc(map)
}

fn from_doc(doc: &impl Doc) -> LogLine {
    // A bit per [`ALIASES`] slot read into the line.
    let mut used = 0u32;
    let first = |slots: std::ops::Range<usize>, used: &mut u32| {
        slots.into_iter().find_map(|s| {
            let text = doc.alias(s)?.into_text()?;
            *used |= 1 << s;
            Some(text)
        })
    };
    let time = TIME_SLOTS.into_iter().find_map(|s| {
        let t = doc.alias(s)?.time()?;
        used |= 1 << s;
        Some(t)
    });
    let severity = SEVERITY_SLOTS.into_iter().find_map(|s| {
        let sev = severity_from_name(&doc.alias(s)?.into_text()?)?;
        used |= 1 << s;
        Some(sev)
    });
    let host = first(HOST_SLOTS, &mut used).unwrap_or_default();
    let program = first(PROGRAM_SLOTS, &mut used).unwrap_or_default();
    let message = first(MESSAGE_SLOTS, &mut used).unwrap_or_default();
    // RFC 5424 marks a UTF-8 MSG with a BOM, and rsyslog passes it on inside `msg`.
    let message = message.trim_start();
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    let mut rest = recycle_pairs(
        SPARE_PAIRS
            .try_with(|s| std::mem::take(&mut *s.borrow_mut()))
            .unwrap_or_default(),
    );
    doc.rest(used, &mut rest);
    // Sorted by key: of duplicate keys, the first.
    rest.dedup_by(|a, b| a.0 == b.0);
    let line = LogLine {
        time,
        host: shared_name(&host),
        program: shared_name(program.trim_end_matches(':')),
        severity,
        message: clean(message),
        fields: fields_of(&rest),
    };
    // Kept unless one odd document made it huge.
    if rest.capacity() <= 256 {
        let rest = recycle_pairs(rest);
        let _ = SPARE_PAIRS.try_with(|s| *s.borrow_mut() = rest);
    }
    line
}

/// A document's other fields as (key, value) text, borrowed from the document.
type Pairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

thread_local! {
    /// The list of a JSON line's other fields, emptied, for the next line (as [`SPARE_FIELDS`]).
    static SPARE_PAIRS: RefCell<Pairs<'static>> = const { RefCell::new(Vec::new()) };
}

/// An emptied pair list with another lifetime, on the same allocation (as [`recycle`]).
fn recycle_pairs<'x, 'y>(mut pairs: Pairs<'x>) -> Pairs<'y> {
    pairs.clear();
    pairs
        .into_iter()
        .map(|_| unreachable!("the list was emptied"))
        .collect()
}

/// One allocation for all of a line's fields.
fn fields_of(pairs: &[(Cow<'_, str>, Cow<'_, str>)]) -> Fields {
    let bytes = pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut b = FieldsBuilder::with_capacity(bytes);
    for (k, v) in pairs {
        b.push(k, v);
    }
    b.finish()
}

/// Keys of rsyslog's `jsonmesg` that repeat what the line already shows (the raw line, the tag,
/// the PRI, the app name) or say nothing (`uuid`, `$!` unset): not kept per line — a buffer holds
/// 100 000 lines.
const JSONMESG_REDUNDANT: [&str; 6] = [
    "rawmsg",
    "pri",
    "protocol-version",
    "syslogtag",
    "app-name",
    "timegenerated",
];

fn flatten<'s>(
    prefix: &str,
    map: &'s serde_json::Map<String, serde_json::Value>,
    skip: &[&str],
    out: &mut Vec<(Cow<'s, str>, Cow<'s, str>)>,
) {
    let jsonmesg = prefix.is_empty() && map.contains_key("rawmsg") && map.contains_key("syslogtag");
    for (k, v) in map {
        if out.len() >= 64 {
            return;
        }
        if prefix.is_empty() && skip.contains(&k.as_str()) {
            continue;
        }
        if jsonmesg && JSONMESG_REDUNDANT.contains(&k.as_str()) {
            continue;
        }
        let key = if prefix.is_empty() {
            clean_cow(k)
        } else {
            Cow::Owned(format!("{prefix}.{}", clean_cow(k)))
        };
        if !prefix.is_empty() && skip.contains(&key.as_ref()) {
            continue;
        }
        match v {
            serde_json::Value::Object(m) => flatten(&key, m, skip, out),
            // Unset (`null`) and syslog's nil (`-`) say nothing.
            serde_json::Value::Null => {}
            serde_json::Value::String(s) if s == "-" => {}
            serde_json::Value::String(s) => out.push((key, capped(clean_cow(s)))),
            other => {
                let value = match Scalar::of(other).text() {
                    Some(s) => clean(&s),
                    None => clean(&other.to_string()),
                };
                out.push((key, capped(Cow::Owned(value))));
            }
        }
    }
}

/// RFC 5424 (`<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG`), an RFC 3339 stamp before a BSD
/// header (`<PRI>2026-12-03T11:00:00.123456+01:00 HOST TAG: MSG`, rsyslog's forward and file
/// formats) or RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST TAG[pid]: MSG`); the PRI may be missing
/// (file formats: severity unknown). Anything else becomes a plain message. RFC 3164 stamps are
/// read in the console's local zone; see [`parse_syslog_in`].
pub fn parse_syslog(line: &str, now: DateTime<Utc>) -> LogLine {
    parse_syslog_in(line, now, SenderZone::Local)
}

/// [`parse_syslog`] with RFC 3164 stamps read in `zone`.
pub fn parse_syslog_in(line: &str, now: DateTime<Utc>, zone: SenderZone) -> LogLine {
    syslog_line(line, || now, zone)
}

/// [`parse_syslog_in`] asking the time only for an RFC 3164 stamp (the others carry their year
/// and zone): reading the clock was 1.4 % of log ingest.
fn syslog_line(line: &str, now: impl FnOnce() -> DateTime<Utc>, zone: SenderZone) -> LogLine {
    let (pri, rest) = match pri(line.as_bytes()) {
        // After ASCII `>`: a character boundary.
        Some((n, len)) => (Some(n), &line[len..]),
        None => (None, line),
    };
    let severity = pri.map(|p| (p % 8) as u8);
    if let Some(rest5424) = rest.strip_prefix("1 ") {
        if let Some(l) = parse_5424(rest5424, severity) {
            return l;
        }
    }
    if rest.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        if let Some(l) = parse_3339_header(rest, severity) {
            return l;
        }
    }
    if let Some(l) = parse_3164(rest, severity, now, zone) {
        return l;
    }
    LogLine {
        severity,
        message: clean(rest),
        ..Default::default()
    }
}

/// A leading `<PRI>`: facility * 8 + severity, 1 to 3 digits, at most 191 (facility 23,
/// severity 7), and how many bytes it takes. Read by hand: searching the line for `>` and parsing
/// the number took a hundred instructions a line.
fn pri(b: &[u8]) -> Option<(u16, usize)> {
    if b.first() != Some(&b'<') {
        return None;
    }
    let mut n = 0u16;
    let mut digits = 0;
    while digits < 3 {
        match b.get(1 + digits) {
            Some(c @ b'0'..=b'9') => n = n * 10 + u16::from(c - b'0'),
            _ => break,
        }
        digits += 1;
    }
    (digits > 0 && b.get(1 + digits) == Some(&b'>') && n <= 191).then_some((n, digits + 2))
}

/// `2026-12-03T11:00:00.123456+01:00 HOST TAG: MSG`: `RSYSLOG_ForwardFormat` (with a PRI,
/// omhiredis's default template) and `RSYSLOG_FileFormat` (without).
fn parse_3339_header(rest: &str, severity: Option<u8>) -> Option<LogLine> {
    let (ts, after) = split_byte(rest, b' ')?;
    // `YYYY-MM-DDThh:mm:ss` at least.
    if ts.len() < 19 || ts.as_bytes()[4] != b'-' || !matches!(ts.as_bytes()[10], b'T' | b't') {
        return None;
    }
    let time = super::rfc3339::parse(ts)?;
    Some(bsd_header(after, Some(time), severity))
}

fn nil(s: &str) -> &str {
    if s == "-" {
        ""
    } else {
        s
    }
}

fn parse_5424(rest: &str, severity: Option<u8>) -> Option<LogLine> {
    let (ts, r) = split_byte(rest, b' ')?;
    let (host, r) = split_byte(r, b' ')?;
    let (app, r) = split_byte(r, b' ')?;
    let (procid, r) = split_byte(r, b' ')?;
    let (msgid, tail) = split_byte(r, b' ').unwrap_or((r, ""));
    // Structured data: `-` or one or more `[...]` blocks (with `\]` escapes) before the message.
    let (sd, msg) = if let Some(t) = tail.strip_prefix("- ") {
        ("", t)
    } else if tail == "-" {
        ("", "")
    } else if tail.starts_with('[') {
        let end = sd_end(tail);
        (&tail[..end], tail[end..].trim_start())
    } else {
        ("", tail)
    };
    let time = if ts == "-" {
        None
    } else {
        Some(super::rfc3339::parse(ts)?)
    };
    let msg = msg.strip_prefix('\u{feff}').unwrap_or(msg);
    let extra = [
        ("procid", nil(procid)),
        ("msgid", nil(msgid)),
        ("structured_data", sd),
    ]
    .map(|(k, v)| (k, (!v.is_empty()).then(|| clean_cow(v))));
    // Straight into the line's one buffer, without a list of the pairs first.
    let kept = || extra.iter().filter_map(|(k, v)| Some((k, v.as_ref()?)));
    let bytes = kept().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut fields = FieldsBuilder::with_capacity(bytes);
    for (k, v) in kept() {
        fields.push(k, v);
    }
    Some(LogLine {
        time,
        host: shared_name(nil(host)),
        program: shared_name(nil(app)),
        severity,
        message: clean(msg),
        fields: fields.finish(),
    })
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Where RFC 5424 structured data ends: one or more `[ID name="value" …]` elements. Inside a
/// quoted value a backslash escapes the next character (`\]`, `\"`, `\\`), so a `]` there does
/// not close the element; outside quotes the first `]` does.
fn sd_end(tail: &str) -> usize {
    let bytes = tail.as_bytes();
    let mut i = 0;
    while i < bytes.len() && bytes[i] == b'[' {
        let (mut quoted, mut j) = (false, i + 1);
        while j < bytes.len() {
            match bytes[j] {
                b'\\' if quoted => j += 1,
                b'"' => quoted = !quoted,
                b']' if !quoted => break,
                _ => {}
            }
            j += 1;
        }
        i = (j + 1).min(bytes.len());
    }
    i
}

fn parse_3164(
    rest: &str,
    severity: Option<u8>,
    now: impl FnOnce() -> DateTime<Utc>,
    zone: SenderZone,
) -> Option<LogLine> {
    // "Nov 25 04:10:15 host tag[pid]: message" — the timestamp is exactly 15 characters.
    if rest.len() < 16 || !rest.is_char_boundary(15) {
        return None;
    }
    let (ts, after) = rest.split_at(15);
    // The timestamp is ASCII; anything else is not RFC 3164 (and byte slicing below needs it).
    if !ts.is_ascii() {
        return None;
    }
    let month = MONTHS.iter().position(|m| ts.starts_with(m))? as u32 + 1;
    let day: u32 = ts[4..6].trim().parse().ok()?;
    let time = hms(&ts[7..15])?;
    let now = now();
    // No year in RFC 3164: the sender's current year, or last year if that would put the line
    // more than a day in the future (a December line read in early January).
    let at = |year: i32| -> Option<DateTime<Utc>> {
        let date = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
        to_utc(zone, &NaiveDateTime::new(date, time))
    };
    let year = sender_year(zone, now);
    let dt = match at(year) {
        Some(dt) if dt <= now + chrono::Duration::days(1) => dt,
        // Feb 29 of a leap year read in a common year is last year's too (or not a date).
        _ => at(year - 1)?,
    };
    let after = after.strip_prefix(' ')?;
    Some(bsd_header(after, Some(dt), severity))
}

/// `s` split around its first `b` (an ASCII byte, so both sides are still `str`), found by
/// `memchr`: `str::split_once` with a `char` was 8 % of ingest on a syslog header's short fields.
fn split_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = find_byte(s.as_bytes(), b)?;
    Some((&s[..i], &s[i + 1..]))
}

/// Where `b` first is in `bytes`. The first 16 bytes are compared at once (SSE2, part of every
/// x86_64 CPU) before `memchr` is asked: a header's fields (host, app, procid, msgid) are a few
/// bytes each, and `memchr`'s set-up per call (~30 instructions, a million calls in the ingest
/// bench) cost more than the search.
#[inline]
fn find_byte(bytes: &[u8], b: u8) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(chunk) = bytes.first_chunk::<16>() {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads the 16 bytes of
        // `chunk` (unaligned loads are allowed).
        let mask = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8)))
        };
        if mask != 0 {
            return Some(mask.trailing_zeros() as usize);
        }
        // The next 16 (an RFC 3339 stamp is 20–32 bytes) the same way, then `memchr`.
        if let Some(chunk) = bytes.get(16..).and_then(<[u8]>::first_chunk::<16>) {
            // SAFETY: as above, on the 16 bytes of this `chunk`.
            let mask = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast());
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8)))
            };
            if mask != 0 {
                return Some(16 + mask.trailing_zeros() as usize);
            }
            return memchr::memchr(b, &bytes[32..]).map(|i| i + 32);
        }
        return memchr::memchr(b, &bytes[16..]).map(|i| i + 16);
    }
    memchr::memchr(b, bytes)
}

/// `s` split around its first `": "`.
fn split_colon_space(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes.get(from..).and_then(|rest| find_byte(rest, b':')) {
        let i = from + i;
        if bytes.get(i + 1) == Some(&b' ') {
            return Some((&s[..i], &s[i + 2..]));
        }
        from = i + 1;
    }
    None
}

fn has_space(s: &str) -> bool {
    find_byte(s.as_bytes(), b' ').is_some()
}

/// `HOST TAG[pid]: MSG` after the stamp of a BSD-style line.
fn bsd_header(after: &str, time: Option<DateTime<Utc>>, severity: Option<u8>) -> LogLine {
    let (host, tail) = split_byte(after, b' ').unwrap_or((after, ""));
    let (tag, msg) = match split_colon_space(tail) {
        Some((t, m)) if !has_space(t) => (t, m),
        _ => match tail.strip_suffix(':') {
            Some(t) if !has_space(t) => (t, ""),
            // `prog[pid] message`: a tag with a pid but without the colon.
            _ => match split_byte(tail, b' ') {
                Some((t, m)) if is_pid_tag(t) => (t, m),
                _ => ("", tail),
            },
        },
    };
    let (program, pid) = match split_byte(tag, b'[') {
        Some((p, pid)) => (p, pid.trim_end_matches(']')),
        None => (tag, ""),
    };
    let fields = if pid.is_empty() {
        Fields::new()
    } else {
        fields_of(&[(Cow::Borrowed("pid"), clean_cow(pid))])
    };
    LogLine {
        time,
        host: shared_name(host),
        program: shared_name(program),
        severity,
        message: clean(msg),
        fields,
    }
}

/// `hh:mm:ss` (a hand-written parse: chrono's format-string parser is the slowest step of a
/// syslog line otherwise).
fn hms(t: &str) -> Option<chrono::NaiveTime> {
    let b = t.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let two = |i: usize| -> Option<u32> {
        let (h, l) = (b[i], b[i + 1]);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| u32::from(h - b'0') * 10 + u32::from(l - b'0'))
    };
    chrono::NaiveTime::from_hms_opt(two(0)?, two(3)?, two(6)?)
}

/// `name[123]`.
fn is_pid_tag(t: &str) -> bool {
    match t.split_once('[') {
        Some((name, rest)) => {
            !name.is_empty()
                && rest
                    .strip_suffix(']')
                    .is_some_and(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        }
        None => false,
    }
}

/// For byte input that may not be UTF-8 (kept for sources that hand us raw payloads).
pub fn lossy(raw: &[u8]) -> String {
    sanitize_bytes(raw)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_json_line_reuses_the_field_list_of_the_one_before() {
        use super::*;
        let text = r#"{"host":"web-1","program":"app","message":"m","a":"1","b":"2"}"#;
        let first = FlatDoc::scan(text).expect("flat");
        let capacity = first.fields.capacity();
        let address = first.fields.as_ptr() as usize;
        drop(first);
        let second = FlatDoc::scan(text).expect("flat");
        assert_eq!(second.fields.as_ptr() as usize, address, "same allocation");
        assert_eq!(second.fields.capacity(), capacity);
        assert_eq!(from_doc(&second).message, "m");
    }

    /// The sixteen-byte check against the byte-wise one, at every length up to 80 and every
    /// position of one byte of each kind (control, DEL, UTF-8, the printable edges).
    #[test]
    fn printable_check_agrees_with_the_byte_scan() {
        use super::*;
        let plain = |b: &[u8]| b.iter().all(|c| (0x20..0x7f).contains(c));
        for len in 0..80 {
            for at in 0..=len {
                for special in [
                    0x00, 0x09, 0x1f, 0x20, 0x5f, 0x60, 0x7e, 0x7f, 0x80, 0xc3, 0xff,
                ] {
                    let mut b = vec![b'a'; len];
                    if at < len {
                        b[at] = special;
                    }
                    assert_eq!(printable_ascii(&b), plain(&b), "{b:?}");
                }
            }
        }
    }

    /// The 16-byte first look against `memchr`, at every length and position, the byte
    /// repeated or absent.
    #[test]
    fn find_byte_agrees_with_memchr() {
        use super::*;
        for len in 0..70 {
            for at in 0..=len {
                for second in [None, Some(at + 1), Some(at + 17)] {
                    let mut b = vec![b'a'; len];
                    for i in [Some(at), second].into_iter().flatten() {
                        if i < len {
                            b[i] = b' ';
                        }
                    }
                    assert_eq!(find_byte(&b, b' '), memchr::memchr(b' ', &b), "{b:?}");
                    assert_eq!(find_byte(&b, 0xc3), memchr::memchr(0xc3, &b), "{b:?}");
                }
            }
        }
        // `": "` found by it: the first colon followed by a space, as `str::find` finds it.
        for len in 0..45usize {
            for at in 0..len {
                for before in [None, Some(at / 2), Some(at.saturating_sub(17))] {
                    let mut b = vec![b'a'; len];
                    for i in [before, Some(at)].into_iter().flatten() {
                        b[i] = b':';
                    }
                    if at + 1 < len && at % 3 != 0 {
                        b[at + 1] = b' ';
                    }
                    let s = String::from_utf8(b).unwrap();
                    let want = s.find(": ").map(|i| (&s[..i], &s[i + 2..]));
                    assert_eq!(split_colon_space(&s), want, "{s:?}");
                }
            }
        }
    }

    /// The hand-read PRI against the reading it replaced (the text up to the first `>`, 1–3
    /// digits, at most 191), on every short string of the bytes that matter.
    #[test]
    fn pri_reads_as_before() {
        use super::*;
        fn plain(line: &str) -> Option<(u16, &str)> {
            match line.strip_prefix('<').and_then(|r| r.split_once('>')) {
                Some((p, rest))
                    if (1..=3).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()) =>
                {
                    match p.parse::<u16>() {
                        Ok(n) if n <= 191 => Some((n, rest)),
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        let alphabet = ["<", ">", "0", "1", "9", "2", "x", " ", "é"];
        let mut lines = vec![String::new()];
        for _ in 0..6 {
            let longer: Vec<String> = lines
                .iter()
                .flat_map(|l| alphabet.iter().map(move |c| format!("{l}{c}")))
                .collect();
            lines.extend(longer);
            lines.sort();
            lines.dedup();
        }
        lines.extend(["<191>x", "<192>x", "<0>", "<007>a", "<1234>a", "<12>1 x"].map(String::from));
        for line in &lines {
            let fast = pri(line.as_bytes()).map(|(n, len)| (n, &line[len..]));
            assert_eq!(fast, plain(line), "{line:?}");
        }
    }

    #[test]
    fn key_classes_agree_with_the_lists() {
        use super::*;
        for (i, a) in ALIASES.iter().enumerate() {
            assert_eq!(KeyClass::of(a).alias, Some(i as u8), "{a}");
        }
        for k in JSONMESG_ONLY {
            assert!(KeyClass::of(k).jsonmesg_only, "{k}");
        }
        for k in JSONMESG_REDUNDANT {
            assert!(KeyClass::of(k).jsonmesg_redundant, "{k}");
        }
        assert_eq!(KeyClass::of("fromhost-ip"), KeyClass::default());
        let groups = [
            TIME_SLOTS,
            SEVERITY_SLOTS,
            HOST_SLOTS,
            PROGRAM_SLOTS,
            MESSAGE_SLOTS,
        ];
        assert_eq!(groups.iter().map(|g| g.len()).sum::<usize>(), ALIASES.len());
        assert!(groups.windows(2).all(|w| w[0].end == w[1].start));
    }

    use super::*;
    use chrono::Datelike;

    #[test]
    fn a_batch_is_every_line_parsed_in_order() {
        // Each format, hostile and empty lines, at every position around the prefetch distance.
        let kinds: [&[u8]; 7] = [
            b"<14>Nov 25 10:00:00 web app[1]: \x1b[2Jplain",
            b"<14>1 2026-11-25T10:00:00Z web app 1 ID1 - rfc5424",
            br#"{"message":"json","host":"web","severity":"err","time":"2026-11-25T10:00:00Z"}"#,
            b"2026-11-25T10:00:00+01:00 web app[2]: \xff\xfe not utf-8",
            b"",
            b"   ",
            b"{\"msg\":\"tab\there\",\"time\":\"2026-11-25T10:00:00Z\"}",
        ];
        for n in 0..=kinds.len() * 2 {
            let raw: Vec<&[u8]> = (0..n).map(|i| kinds[i % kinds.len()]).collect();
            let batch = parse_batch(&raw, SenderZone::Utc, |r| r);
            assert_eq!(batch.len(), n);
            for (line, r) in batch.iter().zip(&raw) {
                let one = parse_any_in(r, SenderZone::Utc);
                // A line without a time of its own is given the console's now, read per parse.
                let same_time = match (line.time, one.time) {
                    (Some(a), Some(b)) => (a - b).num_seconds().abs() < 5,
                    (a, b) => a == b,
                };
                assert!(same_time, "{r:?}");
                assert_eq!(
                    (
                        &line.host,
                        &line.program,
                        line.severity,
                        &line.message,
                        &line.fields
                    ),
                    (
                        &one.host,
                        &one.program,
                        one.severity,
                        &one.message,
                        &one.fields
                    ),
                    "{r:?}"
                );
            }
        }
    }

    /// RFC 3164 stamps read as UTC, so the expected times do not depend on the machine's zone.
    fn parse_utc(line: &str, now: DateTime<Utc>) -> LogLine {
        parse_syslog_in(line, now, SenderZone::Utc)
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn rsyslog_json_template() {
        let l = parse_any(br#"{"timestamp":"2026-11-25T04:45:19.543130+00:00", "host":"vm", "program":"myapp", "severity":"notice", "message":" hello"}"#);
        assert_eq!(&*l.host, "vm");
        assert_eq!(&*l.program, "myapp");
        assert_eq!(l.severity, Some(5));
        assert_eq!(l.message, "hello");
        assert!(l.time.is_some());
    }

    #[test]
    fn ecs_document() {
        let l = parse_any(br#"{"@timestamp":"2026-11-25T04:45:19Z","host":{"hostname":"web1","ip":"10.0.0.1"},"process":{"name":"sshd"},"log":{"syslog":{"severity":{"code":3,"name":"error"}}},"message":"boom"}"#);
        assert_eq!(
            (&*l.host, &*l.program, l.severity),
            ("web1", "sshd", Some(3))
        );
        assert!(l
            .fields
            .iter()
            .any(|(k, _)| k == "log.syslog.severity.code"));
    }

    #[test]
    fn rfc5424() {
        let l = parse_utc(
            r#"<165>1 2026-11-25T04:10:15.003Z web1 nginx 42 ID47 [exampleSDID@32473 iut="3" eventSource="App\]x"] upstream timed out"#,
            now(),
        );
        assert_eq!(l.severity, Some(5));
        assert_eq!(&*l.host, "web1");
        assert_eq!(&*l.program, "nginx");
        assert_eq!(l.message, "upstream timed out");
        let l = parse_utc("<11>1 - - - - - -", now());
        assert_eq!(l.severity, Some(3));
        assert_eq!(l.message, "");
    }

    #[test]
    fn rfc3164() {
        let l = parse_utc(
            "<34>Nov 25 04:10:15 web-1 sshd[42]: Accepted publickey for ops",
            now(),
        );
        assert_eq!(l.severity, Some(2));
        assert_eq!(&*l.host, "web-1");
        assert_eq!(&*l.program, "sshd");
        assert_eq!(l.message, "Accepted publickey for ops");
        assert_eq!(l.fields, vec![("pid".into(), "42".into())]);
        assert_eq!(l.time.unwrap().to_rfc3339(), "2026-11-25T04:10:15+00:00");
        // A December line read in early January belongs to last year.
        let jan = DateTime::parse_from_rfc3339("2027-01-01T00:10:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let l = parse_utc("<13>Dec 31 23:59:59 h p: m", jan);
        assert_eq!(l.time.unwrap().year(), 2026);
    }

    #[test]
    fn rfc3164_variants() {
        // No PRI: severity unknown, everything else parsed.
        let l = parse_utc("Nov 25 04:10:15 web-1 sshd[42]: Accepted key", now());
        assert_eq!((l.severity, &*l.host, &*l.program), (None, "web-1", "sshd"));
        assert_eq!(l.message, "Accepted key");
        assert_eq!(l.fields, vec![("pid".into(), "42".into())]);
        // Single-digit day is space-padded.
        let l = parse_utc("<13>Nov  5 04:10:15 h cron: tick", now());
        assert_eq!(l.time.unwrap().to_rfc3339(), "2026-11-05T04:10:15+00:00");
        assert_eq!((&*l.program, l.message.as_str()), ("cron", "tick"));
        // Tag with pid but no colon.
        let l = parse_utc("<13>Nov 25 04:10:15 h app[7] started ok", now());
        assert_eq!((&*l.program, l.message.as_str()), ("app", "started ok"));
        assert_eq!(l.fields, vec![("pid".into(), "7".into())]);
        // Tag without colon or pid: ambiguous, the text stays the message.
        let l = parse_utc("<13>Nov 25 04:10:15 h some free text", now());
        assert_eq!((&*l.program, l.message.as_str()), ("", "some free text"));
        // Tag alone with a trailing colon, empty message.
        let l = parse_utc("<13>Nov 25 04:10:15 h kernel:", now());
        assert_eq!((&*l.program, l.message.as_str()), ("kernel", ""));
        // A colon later in the message does not make a tag.
        let l = parse_utc("<13>Nov 25 04:10:15 h not a tag: x", now());
        assert_eq!((&*l.program, l.message.as_str()), ("", "not a tag: x"));
        // Non-ASCII right after the timestamp must not panic on a char boundary.
        let l = parse_utc("<13>Nov 25 04:10:1é h p: m", now());
        assert!(l.time.is_none());
    }

    #[test]
    fn rfc5424_sd_and_bom() {
        let l = parse_utc(
            "<165>1 2026-11-25T04:10:15.003+01:00 web1 app 42 ID47 [a@1 x=\"1\"][b@2 y=\"a\\]b\" z=\"\"] \u{feff}héllo wörld",
            now(),
        );
        assert_eq!(l.message, "héllo wörld");
        assert_eq!(
            l.time.unwrap().to_rfc3339(),
            "2026-11-25T03:10:15.003+00:00"
        );
        let sd = l.fields.get("structured_data").unwrap();
        assert_eq!(sd, "[a@1 x=\"1\"][b@2 y=\"a\\]b\" z=\"\"]");
        assert!(l.fields.contains("procid", "42"));
        assert!(l.fields.contains("msgid", "ID47"));
        // SD with no message at all, and nil SD with a BOM-only message.
        let l = parse_utc("<14>1 2026-11-25T04:10:15Z h a - - [x@1 k=\"v\"]", now());
        assert_eq!((l.message.as_str(), l.severity), ("", Some(6)));
        let l = parse_utc("<14>1 2026-11-25T04:10:15Z h a - - - \u{feff}", now());
        assert_eq!(l.message, "");
        // A bad timestamp is not RFC 5424: the line is kept as text.
        let l = parse_utc("<14>1 yesterday h a - - - m", now());
        assert!(l.time.is_none());
        assert!(l.message.contains("yesterday"));
    }

    #[test]
    fn json_variants() {
        // Numeric severity (Logstash legacy `severity` int, jsonmesg `syslogseverity` string).
        let l = parse_any(br#"{"severity": 3, "severity_label": "Error", "message": "m"}"#);
        assert_eq!(l.severity, Some(3));
        assert!(l.fields.contains("severity_label", "Error"));
        let l = parse_any(br#"{"syslogseverity": "4", "msg": "m"}"#);
        assert_eq!(l.severity, Some(4));
        let l = parse_any(br#"{"severity": 9, "level": "warn", "message": "m"}"#);
        assert_eq!(l.severity, Some(4), "out-of-range number falls through");
        // Epoch numbers: seconds and milliseconds.
        let l = parse_any(br#"{"time": 1764043215, "message": "m"}"#);
        assert_eq!(l.time.unwrap().timestamp(), 1_764_043_215);
        let l = parse_any(br#"{"@timestamp": 1764043215123, "message": "m"}"#);
        assert_eq!(l.time.unwrap().timestamp_millis(), 1_764_043_215_123);
        // The fields shown separately are not repeated; the rest are kept.
        let l = parse_any(
            br#"{"timestamp":"2026-11-25T04:45:19Z","host":"vm","program":"app","severity":"err","message":"\ufeffhi","facility":"local0"}"#,
        );
        assert_eq!(l.message, "hi", "leading BOM dropped");
        assert_eq!(l.fields, vec![("facility".into(), "local0".into())]);
        // An unparseable timestamp stays visible among the fields.
        let l = parse_any(br#"{"timestamp":"Nov 25 04:10:15","message":"m"}"#);
        assert!(l.time.is_none());
        assert!(l.fields.iter().any(|(k, _)| k == "timestamp"));
        // Invalid UTF-8 inside a JSON object (rsyslog copies message bytes verbatim).
        let l =
            parse_any(b"{\"host\":\"web9\",\"program\":\"nginx\",\"message\":\"caf\xe9 \xff\"}");
        assert_eq!(
            (&*l.host, &*l.program, l.message.as_str()),
            ("web9", "nginx", "caf\u{fffd} \u{fffd}")
        );
        // Broken JSON is shown as text.
        let l = parse_any(br#"{"host": "x", "message": "unterminated"#);
        assert!(l.message.starts_with('{'));
        // Escapes in JSON strings are removed from every field.
        let l =
            parse_any(br#"{"host":"h\u001b[2J","message":"a\u001b]0;t\u0007b","x":"\u009b31m"}"#);
        assert_eq!((&*l.host, l.message.as_str()), ("h", "ab"));
        assert_eq!(l.fields, vec![("x".into(), "".into())]);
    }

    #[test]
    fn garbage_and_escapes() {
        let l = parse_utc("just text \u{1b}[2J\u{1b}]0;pwned\u{7}here", now());
        assert_eq!(l.message, "just text here");
        let l = parse_any(b"\xff\xfe<13>bad");
        assert!(l.message.contains('\u{fffd}'));
        let l = parse_utc("<999>x", now());
        assert_eq!(l.severity, None);
        let l = parse_utc("<13>Nov 99 99:99:99 h p: m", now());
        assert!(l.time.is_none());
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn rsyslog_forward_and_file_formats() {
        // RSYSLOG_ForwardFormat (omhiredis's default template).
        let l = parse_utc(
            "<11>2026-12-03T11:00:00.123456+01:00 web-1 nginx[77]: upstream timed out",
            now(),
        );
        assert_eq!(
            (l.severity, &*l.host, &*l.program, l.message.as_str()),
            (Some(3), "web-1", "nginx", "upstream timed out")
        );
        assert_eq!(l.time, Some(at("2026-12-03T10:00:00.123456Z")));
        assert_eq!(l.fields, vec![("pid".into(), "77".into())]);
        // RSYSLOG_FileFormat: no PRI, so no severity.
        let l = parse_utc("2026-12-03T11:00:00.5Z web-2 cron: tick", now());
        assert_eq!(
            (l.severity, &*l.host, &*l.program, l.message.as_str()),
            (None, "web-2", "cron", "tick")
        );
        assert_eq!(l.time, Some(at("2026-12-03T11:00:00.5Z")));
        // RSYSLOG_SyslogProtocol23Format ends with a newline.
        let l = parse_any(b"<14>1 2026-12-03T11:00:00Z web-3 app 12 - - hello\n");
        assert_eq!(
            (&*l.host, &*l.program, l.message.as_str()),
            ("web-3", "app", "hello")
        );
        // A number that is not a stamp stays text.
        let l = parse_utc("2026 was a year", now());
        assert_eq!((l.message.as_str(), l.time), ("2026 was a year", None));
        let l = parse_utc("<13>2026-13-45T99:00:00Z h p: m", now());
        assert!(l.time.is_none() && l.message.starts_with("2026-13-45"));
    }

    #[test]
    fn rfc3164_is_the_sender_s_local_time() {
        let berlin = SenderZone::parse("Europe/Berlin").unwrap();
        let in_berlin = |line: &str, now: DateTime<Utc>| parse_syslog_in(line, now, berlin).time;
        // Winter (+01:00) and summer (+02:00).
        assert_eq!(
            in_berlin("<13>Nov 25 04:10:15 h p: m", now()),
            Some(at("2026-11-25T03:10:15Z"))
        );
        assert_eq!(
            in_berlin("<13>Jul  1 12:00:00 h p: m", now()),
            Some(at("2026-07-01T10:00:00Z"))
        );
        // The hour skipped in spring takes the offset before it; the repeated autumn hour, the first.
        assert_eq!(
            in_berlin("<13>Mar 29 02:30:00 h p: m", now()),
            Some(at("2026-03-29T01:30:00Z"))
        );
        assert_eq!(
            in_berlin("<13>Oct 25 02:30:00 h p: m", now()),
            Some(at("2026-10-25T00:30:00Z"))
        );
        // New Year: at 00:50 on Jan 1 in Berlin (still Dec 31 in UTC) a Jan 1 line is this year's,
        // the sender's year, and a Dec 31 line read there is last year's.
        let new_year = at("2026-12-31T23:50:00Z");
        assert_eq!(
            in_berlin("<13>Jan  1 00:30:00 h p: m", new_year),
            Some(at("2026-12-31T23:30:00Z"))
        );
        assert_eq!(
            in_berlin("<13>Dec 31 23:59:00 h p: m", new_year),
            Some(at("2026-12-31T22:59:00Z"))
        );
        // A line more than a day ahead is last year's.
        assert_eq!(
            in_berlin("<13>Dec 30 10:00:00 h p: m", at("2027-01-01T09:00:00Z")),
            Some(at("2026-12-30T09:00:00Z"))
        );
        // Stamps with their own zone are not touched by it.
        let l = parse_syslog_in("<13>2026-12-03T11:00:00Z h p: m", now(), berlin);
        assert_eq!(l.time, Some(at("2026-12-03T11:00:00Z")));
        // Names: IANA, UTC, local; anything else is refused with an example.
        assert_eq!(SenderZone::parse("UTC"), Ok(SenderZone::Utc));
        assert_eq!(SenderZone::parse("local"), Ok(SenderZone::Local));
        let e = SenderZone::parse("Mars/Olympus").unwrap_err();
        assert!(e.contains("Europe/Berlin"), "{e}");
    }

    #[test]
    fn rsyslog_jsonmesg() {
        let l = parse_any(
            br#"{"msg":" disk almost full","rawmsg":"<12>Dec  3 11:00:00 db-1 df[9]: disk almost full","timereported":"2026-12-03T11:00:00.000000+00:00","hostname":"db-1","syslogtag":"df[9]:","inputname":"imudp","fromhost":"127.0.0.1","fromhost-ip":"127.0.0.1","pri":"12","syslogfacility":"1","syslogseverity":"4","timegenerated":"2026-12-03T11:00:00.100000+00:00","programname":"df","protocol-version":"0","structured-data":"-","app-name":"df","procid":"9","msgid":"-","uuid":null,"$!":null}"#,
        );
        assert_eq!(
            (&*l.host, &*l.program, l.severity, l.message.as_str()),
            ("db-1", "df", Some(4), "disk almost full")
        );
        assert_eq!(l.time, Some(at("2026-12-03T11:00:00Z")));
        // What the line already shows, nil (`-`) and unset (`null`) values are not kept per line.
        let keys: Vec<&str> = l.fields.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "fromhost",
                "fromhost-ip",
                "inputname",
                "procid",
                "syslogfacility"
            ]
        );
    }

    #[test]
    fn json_with_raw_control_characters_is_read_leniently() {
        // A hand-written string template puts a raw tab and newline inside the JSON string.
        let l = parse_any(
            b"{\"host\":\"web-1\",\"severity\":\"err\",\"message\":\"a\tb\nc\x1b[2Jd\x07\"}",
        );
        assert_eq!(
            (&*l.host, l.severity, l.message.as_str()),
            ("web-1", Some(3), "a b cd")
        );
        // Invalid UTF-8 and a raw control character together.
        let l = parse_any(b"{\"host\":\"h\",\"message\":\"caf\xe9\x01!\"}");
        assert_eq!((&*l.host, l.message.as_str()), ("h", "caf\u{fffd}!"));
        // Control characters outside strings, or a broken object, stay text.
        let l = parse_any(b"{\"host\":\"h\",\x01\"message\":\"m\"}");
        assert!(l.message.starts_with('{'));
        let l = parse_any(b"{\"message\":\"a\tb");
        assert!(l.message.starts_with('{'));
    }

    #[test]
    fn structured_data_escapes() {
        // `\]` and `\"` inside a value, and a value ending in an escaped backslash.
        let l = parse_utc(
            r#"<14>1 2026-11-25T04:10:15Z h a - - [x@1 a="q\]r" b="say \"hi]\"" c="end\\"][y@2 d="]"] the message"#,
            now(),
        );
        assert_eq!(l.message, "the message");
        let sd = l.fields.get("structured_data").unwrap();
        assert_eq!(sd, r#"[x@1 a="q\]r" b="say \"hi]\"" c="end\\"][y@2 d="]"]"#);
        // An element that never closes takes the rest of the line, without panicking.
        let l = parse_utc(r#"<14>1 2026-11-25T04:10:15Z h a - - [x@1 a="open"#, now());
        assert_eq!(l.message, "");
    }

    mod scanner_against_serde {
        // The parser under test (by path: the layer check forbids reaching up with super::super).
        use crate::sources::logs::syslog::*;
        use proptest::prelude::*;

        /// What a document reads as, to compare the two readers.
        fn reading(doc: &FlatDoc) -> (Vec<(String, String)>, bool, LogLine) {
            let fields = doc
                .fields
                .iter()
                .map(|f| (f.key.to_string(), format!("{:?}", f.value)))
                .collect();
            (fields, doc.jsonmesg, from_doc(doc))
        }

        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
                "[ -~]{0,40}".prop_map(|s| serde_json::to_string(&s).unwrap()),
                any::<i64>().prop_map(|n| n.to_string()),
                (-1e12f64..1e12).prop_map(|f| f.to_string()),
                Just("true".to_string()),
                Just("false".to_string()),
                Just("null".to_string()),
            ]
        }

        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                proptest::sample::select(ALIASES.to_vec()).prop_map(String::from),
                proptest::sample::select(JSONMESG_REDUNDANT.to_vec()).prop_map(String::from),
                any::<String>(),
            ]
            .prop_map(|k| serde_json::to_string(&k).unwrap())
        }

        proptest! {
            /// Valid flat objects, escapes and all: the one-pass scanner reads exactly what
            /// serde reads.
            #[test]
            fn same_reading_of_flat_objects(
                pairs in proptest::collection::vec((key(), value()), 0..10),
                spaced in any::<bool>(),
            ) {
                let sep = if spaced { " , " } else { "," };
                let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                let text = format!("{{{}}}", body.join(sep));
                let fast = FlatDoc::scan(&text);
                let slow = serde_json::from_str::<FlatDoc>(&text).ok();
                prop_assert_eq!(fast.as_ref().map(reading), slow.as_ref().map(reading));
            }

            /// Anything at all: the scanner never panics, and what it accepts serde accepts alike.
            #[test]
            fn never_reads_what_serde_refuses(text in "\\{[ -~\\t\\n\\\\\"]{0,60}\\}?") {
                if let Some(fast) = FlatDoc::scan(&text) {
                    let slow = serde_json::from_str::<FlatDoc>(&text);
                    prop_assert!(slow.is_ok(), "scanner accepted what serde refuses: {text:?}");
                    prop_assert_eq!(reading(&fast), reading(&slow.unwrap()));
                }
            }
        }
    }
}

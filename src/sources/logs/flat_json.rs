//! A flat JSON object — every value a string, number, bool or null — split into keys and raw
//! values in one pass over the text. rsyslog's list templates and `jsonmesg` are such objects,
//! and reading them through serde's visitors was the slowest step of log ingest
//! (`benches/logs.rs`: jsonmesg lines at 120–260 k lines/s against 0.9–1.1 M for syslog lines;
//! `sonic-rs` measured only 1.26× serde_json on them).
//!
//! It only has to be right on what it accepts: nesting, arrays, raw control characters, invalid
//! escapes or numbers and anything else unusual return `None`, and the caller reads the line
//! with `serde_json` as before. Escaped strings are decoded by `serde_json` too.

use std::borrow::Cow;

/// A value as written: decoded by the caller only if its key is kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Raw<'a> {
    /// The string with its quotes; `escaped` when it holds a backslash.
    Str {
        quoted: &'a str,
        escaped: bool,
    },
    /// A number's text (checked when decoded).
    Num(&'a str),
    Bool(bool),
    Null,
}

impl<'a> Raw<'a> {
    /// The string's text, borrowed unless it has escapes.
    pub(super) fn text(quoted: &'a str, escaped: bool) -> Option<Cow<'a, str>> {
        if escaped {
            serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(&quoted[1..quoted.len() - 1]))
        }
    }
}

/// Calls `pair` with each key and raw value in document order; `None` when `text` is not a flat
/// JSON object (or `pair` refuses a value).
pub(super) fn scan<'a>(
    text: &'a str,
    mut pair: impl FnMut(Cow<'a, str>, Raw<'a>) -> Option<()>,
) -> Option<()> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return at_end(b, i + 1).then_some(());
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (close, escaped) = string_end(b, i + 1)?;
        // Quotes are ASCII: `i` and `close` are character boundaries.
        let key = Raw::text(text.get(i..close + 1)?, escaped)?;
        i = skip_ws(b, close + 1);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let rest = &b[i..];
        let (value, next) = match *rest.first()? {
            b'"' => {
                let (close, escaped) = string_end(b, i + 1)?;
                let quoted = text.get(i..close + 1)?;
                (Raw::Str { quoted, escaped }, close + 1)
            }
            b't' if rest.starts_with(b"true") => (Raw::Bool(true), i + 4),
            b'f' if rest.starts_with(b"false") => (Raw::Bool(false), i + 5),
            b'n' if rest.starts_with(b"null") => (Raw::Null, i + 4),
            b'-' | b'0'..=b'9' => {
                let len = rest
                    .iter()
                    .position(|c| !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .unwrap_or(rest.len());
                (Raw::Num(text.get(i..i + len)?), i + len)
            }
            _ => return None,
        };
        pair(key, value)?;
        i = skip_ws(b, next);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return at_end(b, i + 1).then_some(()),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

fn at_end(b: &[u8], i: usize) -> bool {
    skip_ws(b, i) == b.len()
}

/// The index of the quote closing a string whose text starts at `i`, and whether it holds an
/// escape. A raw control character (invalid JSON) or no closing quote: `None`.
///
/// Eight bytes at a time (SWAR): most strings here are keys and short values of 5–30 bytes, where
/// `memchr`'s set-up cost more than the scan (a quarter of the parse time of a `jsonmesg` line).
///
/// On x86_64 sixteen bytes at a time first (SSE2, which every x86_64 CPU has): the long values of
/// a `jsonmesg` line (`msg`, `rawmsg`) in half the steps, a key in one.
#[inline]
fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut at = i;
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = b.get(at..at + 16) {
        let mask = special_bytes_16(chunk);
        if mask != 0 {
            let first = at + mask.trailing_zeros() as usize;
            return if b[first] == b'"' {
                Some((first, false))
            } else {
                escaped_string_end(b, i)
            };
        }
        at += 16;
    }
    while let Some(word) = b.get(at..at + 8) {
        let w = u64::from_le_bytes(word.try_into().ok()?);
        let mask = special_bytes(w);
        if mask != 0 {
            // The lowest flagged byte is exact (a false flag can only follow a true one).
            let first = at + (mask.trailing_zeros() / 8) as usize;
            return if b[first] == b'"' {
                Some((first, false))
            } else {
                escaped_string_end(b, i)
            };
        }
        at += 8;
    }
    for (k, &c) in b.get(at..)?.iter().enumerate() {
        if c == b'"' {
            return Some((at + k, false));
        }
        if c == b'\\' || c < 0x20 {
            return escaped_string_end(b, i);
        }
    }
    None
}

/// The high bit of each byte of `w` that is a quote, a backslash or a control character (and
/// possibly of bytes after such a byte: only the lowest flag is exact).
fn special_bytes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x;
    let quote = zero_in(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_in(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (quote | backslash | control) & HIGH
}

/// A bit per byte of `chunk` (16 bytes, lowest bit first) that is a quote, a backslash or a
/// control character: exact, unlike [`special_bytes`].
#[cfg(target_arch = "x86_64")]
#[inline]
fn special_bytes_16(chunk: &[u8]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    assert!(chunk.len() >= 16);
    // SAFETY: SSE2 is part of the x86_64 baseline, and the load reads the 16 bytes of `chunk`
    // checked above (unaligned loads are allowed).
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Below 0x20 (unsigned): the byte is its own minimum with 0x1f.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// [`string_end`] byte by byte, for a string with a backslash (or a control character).
fn escaped_string_end(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    while i < b.len() {
        match b[i] {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
                continue;
            }
            c if c < 0x20 => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        scan(text, |k, raw| {
            let v = match raw {
                Raw::Str { quoted, escaped } => Raw::text(quoted, escaped)?.into_owned(),
                Raw::Num(n) => format!("#{n}"),
                Raw::Bool(b) => b.to_string(),
                Raw::Null => "null".into(),
            };
            out.push((k.into_owned(), v));
            Some(())
        })?;
        Some(out)
    }

    #[test]
    fn flat_objects() {
        assert_eq!(
            pairs(r#" { "a" : "x" , "b":1.5e3,"c":true,"d":null,"e":false ,"f":-2} "#).unwrap(),
            vec![
                ("a".into(), "x".into()),
                ("b".into(), "#1.5e3".into()),
                ("c".into(), "true".into()),
                ("d".into(), "null".into()),
                ("e".into(), "false".into()),
                ("f".into(), "#-2".into()),
            ]
        );
        assert_eq!(pairs("{}").unwrap(), vec![]);
        assert_eq!(
            pairs(r#"{"k\"ey":"a\\b\u00e9\n\"","x":"\\"}"#).unwrap(),
            vec![
                ("k\"ey".into(), "a\\bé\n\"".into()),
                ("x".into(), "\\".into())
            ]
        );
    }

    /// The word-at-a-time scan against the byte-by-byte one, at every length and position of
    /// the byte that ends or escapes the string (and bytes ≥ 0x80, which must not be flagged).
    #[test]
    fn string_end_agrees_with_the_byte_scan() {
        for len in 0..72 {
            for at in 0..=len {
                for special in [
                    b'"',
                    b'\\',
                    0x01,
                    0x1f,
                    0x20,
                    0x7f,
                    0x80,
                    0xff,
                    0x21,
                    0x5c - 1,
                ] {
                    let mut b = vec![b'a'; len];
                    if at < len {
                        b[at] = special;
                    }
                    b.push(b'"');
                    b.extend_from_slice(b"xyz");
                    assert_eq!(string_end(&b, 0), escaped_string_end(&b, 0), "{b:?}");
                    if !b.is_empty() {
                        assert_eq!(string_end(&b, 1), escaped_string_end(&b, 1), "{b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            r#"{"a":{"b":1}}"#,
            r#"{"a":[1]}"#,
            "{\"a\":\"raw\ttab\"}",
            r#"{"a":"x"} trailing"#,
            r#"{"a":"x",}"#,
            r#"{"a" "x"}"#,
            r#"{"a":"unterminated}"#,
            r#"{"a":"x\"}"#,
            r#"{"a":truex}"#,
            r#"{"a":nul}"#,
            r#"{"a":"\ud800"}"#,
            r#"{a:1}"#,
            "[1]",
            "",
            "{",
        ] {
            assert_eq!(pairs(bad), None, "{bad}");
        }
    }
}

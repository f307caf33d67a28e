//! The extra fields of a log line (`pid`, `procid`, rsyslog's `fromhost-ip`, an ECS document's
//! `http.response.status_code` …): every pair in one allocation.
//!
//! A ring holds 100 000 lines and a `jsonmesg` line keeps four or five fields: as a
//! `Vec<(String, String)>` that was ten allocations to make and ten to free per line, the largest
//! cost of log ingest after parsing. Here a line's fields are `key US value RS key US value RS …`
//! in one boxed string (US = U+001F, RS = U+001E); both separators are control characters, which
//! sanitised text never holds (any that arrive anyway are replaced by a space on the way in).

use std::fmt;

const UNIT: char = '\u{1f}';
const RECORD: char = '\u{1e}';

/// Key/value pairs in the order they were added; no allocation when empty.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Fields(Box<str>);

impl Fields {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fields from pairs, kept in the order given.
    pub fn from_pairs<K: AsRef<str>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut b = FieldsBuilder::default();
        for (k, v) in pairs {
            b.push(k.as_ref(), v.as_ref());
        }
        b.finish()
    }

    /// Where the pairs are on the heap (dangling when empty), for a prefetch.
    pub fn heap_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Split by bytes (both separators are ASCII, so every cut is a character boundary): the
    /// ring looks up each line's `pid` as it arrives, and `str::split`'s char searcher was 3.6 %
    /// of log ingest.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let mut rest: &str = &self.0;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let end = byte_at(rest, RECORD as u8).unwrap_or(rest.len());
            let pair = &rest[..end];
            rest = rest.get(end + 1..).unwrap_or("");
            Some(match byte_at(pair, UNIT as u8) {
                Some(u) => (&pair[..u], &pair[u + 1..]),
                None => (pair, ""),
            })
        })
    }

    /// The first value under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn contains(&self, key: &str, value: &str) -> bool {
        self.iter().any(|pair| pair == (key, value))
    }

    /// Pairs appended after the existing ones (one reallocation).
    pub fn extend<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) {
        let mut b = FieldsBuilder {
            buf: std::mem::take(&mut self.0).into_string(),
        };
        for (k, v) in pairs {
            b.push(k.as_ref(), v.as_ref());
        }
        *self = b.finish();
    }

    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }
}

/// Where `byte` (ASCII) first is in `s`: a plain loop, fields being a few dozen bytes each.
fn byte_at(s: &str, byte: u8) -> Option<usize> {
    s.bytes().position(|b| b == byte)
}

impl<'a> IntoIterator for &'a Fields {
    type Item = (&'a str, &'a str);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, &'a str)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for Fields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_pairs(iter)
    }
}

impl From<Vec<(String, String)>> for Fields {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Self::from_pairs(pairs)
    }
}

impl PartialEq<Vec<(String, String)>> for Fields {
    fn eq(&self, other: &Vec<(String, String)>) -> bool {
        self.iter()
            .eq(other.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// Builds [`Fields`] in one buffer.
#[derive(Default)]
pub struct FieldsBuilder {
    buf: String,
}

impl FieldsBuilder {
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: String::with_capacity(bytes),
        }
    }

    pub fn push(&mut self, key: &str, value: &str) {
        push_clean(&mut self.buf, key);
        self.buf.push(UNIT);
        push_clean(&mut self.buf, value);
        self.buf.push(RECORD);
    }

    /// Exactly sized: a ring holds 100 000 lines, so no slack per line.
    pub fn finish(self) -> Fields {
        Fields(self.buf.into_boxed_str())
    }
}

/// `s` with the two separators replaced by spaces (sanitised text has neither).
fn push_clean(buf: &mut String, s: &str) {
    if has_separator(s) {
        buf.extend(
            s.chars()
                .map(|c| if c == UNIT || c == RECORD { ' ' } else { c }),
        );
    } else {
        buf.push_str(s);
    }
}

/// Whether `s` holds either separator. Bytes, not chars: both are ASCII, and in UTF-8 an ASCII
/// byte is always that character. Folded without an early exit so it is vectorised, where
/// `str::contains` with a char array decoded every character of every key and value.
///
/// Eight bytes at a time (the last word overlapping the one before): keys and values are mostly
/// under 16 bytes, where the vectorised fold ran byte by byte.
fn has_separator(s: &str) -> bool {
    const _: () = assert!(UNIT as u32 == 0x1f && RECORD as u32 == 0x1e);
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte of `w` is 0x1e or 0x1f exactly when that byte of `x` is zero (the low bit cleared,
    // compared by xor); `(x - ONES) & !x & HIGH` is non-zero exactly when some byte of `x` is.
    let any = |w: u64| {
        let x = (w & !ONES) ^ (ONES * 0x1e);
        x.wrapping_sub(ONES) & !x & HIGH != 0
    };
    let b = s.as_bytes();
    if b.len() < 8 {
        return b.iter().fold(false, |any, b| any | (b & !1 == 0x1e));
    }
    let mut words = b.chunks_exact(8);
    let found = words.by_ref().any(|w| {
        w.first_chunk::<8>()
            .is_some_and(|w| any(u64::from_le_bytes(*w)))
    });
    found
        || (!words.remainder().is_empty()
            && b.last_chunk::<8>()
                .is_some_and(|w| any(u64::from_le_bytes(*w))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_check_agrees_with_contains() {
        for s in [
            "",
            "a",
            "a\u{1e}",
            "\u{1f}b",
            "\u{1d}\u{1c} ",
            "日本\u{1e}",
            "x\u{3e}\u{9e}",
        ] {
            assert_eq!(has_separator(s), s.contains([UNIT, RECORD]), "{s:?}");
        }
        // Every length up to 40 with a separator (or a byte one off) at every position.
        for len in 0..40 {
            for at in 0..len {
                for c in ['\u{1e}', '\u{1f}', '\u{1d}', ' ', '\u{3e}', '\u{9e}'] {
                    let s: String = (0..len).map(|i| if i == at { c } else { 'x' }).collect();
                    assert_eq!(has_separator(&s), s.contains([UNIT, RECORD]), "{s:?}");
                }
            }
        }
        // Every character alone and inside text, multibyte ones included (their bytes are ≥ 0x80).
        for c in (0u32..0x3000)
            .chain(0x1f000..0x1f100)
            .filter_map(char::from_u32)
        {
            let s = format!("ab{c}cd");
            assert_eq!(has_separator(&s), s.contains([UNIT, RECORD]), "{c:?}");
        }
    }

    #[test]
    fn pairs_round_trip_in_order() {
        let f = Fields::from_pairs([("pid", "42"), ("msgid", ""), ("", "x")]);
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            vec![("pid", "42"), ("msgid", ""), ("", "x")]
        );
        assert_eq!(f.len(), 3);
        assert_eq!(f.get("msgid"), Some(""));
        assert!(f.contains("pid", "42"));
        assert!(Fields::new().is_empty());
        assert_eq!(Fields::new().iter().count(), 0);
    }

    #[test]
    fn multibyte_text_is_cut_only_at_the_separators() {
        let pairs = [("hôst", "välue ✓"), ("日本", ""), ("k", "𝄞x")];
        let f = Fields::from_pairs(pairs);
        assert_eq!(
            f.iter().collect::<Vec<_>>(),
            vec![("hôst", "välue ✓"), ("日本", ""), ("k", "𝄞x")]
        );
    }

    #[test]
    fn separators_inside_text_cannot_forge_a_pair() {
        let f = Fields::from_pairs([("a\u{1e}b", "c\u{1f}d")]);
        assert_eq!(f.iter().collect::<Vec<_>>(), vec![("a b", "c d")]);
    }

    #[test]
    fn extend_appends() {
        let mut f = Fields::from_pairs([("a", "1")]);
        f.extend([("b", "2")]);
        assert_eq!(
            f,
            vec![("a".to_string(), "1".to_string()), ("b".into(), "2".into())]
        );
    }
}

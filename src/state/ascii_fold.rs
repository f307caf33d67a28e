//! A case-insensitive filter regex as a case-sensitive one over lowercased ASCII text.
//!
//! A case-insensitive pattern's literals come in every case (`error` is 32 strings, `refused`
//! 128), so the `regex` crate can only prefilter them with a wide, leaky literal search (fat
//! Teddy), and the log filter's search of each message was a fifth of log ingest. On ASCII text
//! (nearly every log line) the same question can be asked of the text lowercased, with the
//! pattern's classes cut down to what lowercase ASCII text can hold: the literals are then one
//! string each, which a narrow literal search finds at a fraction of the cost.
//!
//! The answer is the same only when every class of the pattern treats both cases of each ASCII
//! letter alike (a class that holds `e` holds `E`): then a character of the text and its
//! lowercase are in the same classes, so the text and its lowercase match alike. Case folding
//! builds such classes; `(?-i)` and uppercase letters in the pattern (which turn folding off)
//! do not, and such patterns get no lowered form ([`lowered`] returns `None`).

use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange};
use regex_syntax::hir::{Hir, HirKind, Repetition};

/// `hir` as it reads lowercase ASCII text, or `None` when it does not treat both cases of an
/// ASCII letter alike somewhere (so lowercasing the text could change its answer).
pub fn lowered(hir: &Hir) -> Option<Hir> {
    Some(match hir.kind() {
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(lit) => {
            let bytes = &lit.0;
            if bytes.iter().any(u8::is_ascii_alphabetic) {
                // A letter of one case only: case-sensitive.
                return None;
            }
            if bytes.is_ascii() {
                hir.clone()
            } else {
                // Never in ASCII text.
                Hir::fail()
            }
        }
        HirKind::Class(Class::Unicode(class)) => {
            let holds = |c: u8| {
                let c = char::from(c);
                class
                    .ranges()
                    .iter()
                    .any(|r| r.start() <= c && c <= r.end())
            };
            if !same_for_both_cases(holds) {
                return None;
            }
            let mut cut = class.clone();
            cut.intersect(&ClassUnicode::new([ClassUnicodeRange::new('\0', '\x7f')]));
            cut.difference(&ClassUnicode::new([ClassUnicodeRange::new('A', 'Z')]));
            Hir::class(Class::Unicode(cut))
        }
        HirKind::Class(Class::Bytes(class)) => {
            let holds = |c: u8| {
                class
                    .ranges()
                    .iter()
                    .any(|r| r.start() <= c && c <= r.end())
            };
            if !same_for_both_cases(holds) {
                return None;
            }
            let mut cut = class.clone();
            cut.intersect(&ClassBytes::new([ClassBytesRange::new(0, 0x7f)]));
            cut.difference(&ClassBytes::new([ClassBytesRange::new(b'A', b'Z')]));
            Hir::class(Class::Bytes(cut))
        }
        // Anchors and word boundaries: lowercasing changes no line break and no word character.
        HirKind::Look(look) => Hir::look(*look),
        HirKind::Repetition(rep) => Hir::repetition(Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(lowered(&rep.sub)?),
        }),
        // Only whether it matches is asked: groups need not capture.
        HirKind::Capture(cap) => lowered(&cap.sub)?,
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(lowered).collect::<Option<_>>()?),
        HirKind::Alternation(subs) => {
            Hir::alternation(subs.iter().map(lowered).collect::<Option<_>>()?)
        }
    })
}

/// The longest text lowercased on the stack for the lowered regex; longer text is searched by
/// the plain regex (whose literal search is fast on long text anyway).
pub const MAX_LOWERED: usize = 512;

/// Whether `lowered` matches `text` lowercased; `None` when `text` is not ASCII or longer than
/// [`MAX_LOWERED`] (the caller asks the plain regex).
#[inline]
pub fn is_match_lowered(lowered: &regex_automata::meta::Regex, text: &str) -> Option<bool> {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); MAX_LOWERED];
    let low = lowercase_ascii(text.as_bytes(), &mut buf)?;
    Some(lowered.is_match(low))
}

/// `text` lowercased into `buf`, or `None` when it is not ASCII or does not fit. Sixteen bytes
/// at a time on x86_64 (SSE2, part of every x86_64 CPU): the byte loop `make_ascii_lowercase`
/// compiles to, with a separate ASCII check and a zeroed buffer, cost more than the search.
#[inline]
fn lowercase_ascii<'b>(
    text: &[u8],
    buf: &'b mut [std::mem::MaybeUninit<u8>; MAX_LOWERED],
) -> Option<&'b [u8]> {
    let n = text.len();
    if n > MAX_LOWERED {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    if n >= 16 {
        use std::arch::x86_64::{
            _mm_and_si128, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
            _mm_or_si128, _mm_set1_epi8, _mm_storeu_si128,
        };
        let mut at = 0;
        loop {
            // The last block overlaps the one before (lowercasing twice changes nothing).
            let start = at.min(n - 16);
            // SAFETY: SSE2 is part of the x86_64 baseline; `start + 16 <= n`, so the load reads
            // 16 bytes of `text` and the store writes 16 bytes of `buf` (`n <= MAX_LOWERED`);
            // unaligned loads and stores are allowed.
            unsafe {
                let v = _mm_loadu_si128(text.as_ptr().add(start).cast());
                if _mm_movemask_epi8(v) != 0 {
                    return None; // a byte from 0x80 up: not ASCII
                }
                // Signed compares are right for ASCII (every byte below 0x80).
                let upper = _mm_and_si128(
                    _mm_cmpgt_epi8(v, _mm_set1_epi8((b'A' - 1) as i8)),
                    _mm_cmplt_epi8(v, _mm_set1_epi8((b'Z' + 1) as i8)),
                );
                let low = _mm_or_si128(v, _mm_and_si128(upper, _mm_set1_epi8(0x20)));
                _mm_storeu_si128(buf.as_mut_ptr().add(start).cast(), low);
            }
            if start == n - 16 {
                break;
            }
            at += 16;
        }
        // SAFETY: every byte of `buf[..n]` was written above.
        return Some(unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) });
    }
    for (slot, &b) in buf.iter_mut().zip(text) {
        if !b.is_ascii() {
            return None;
        }
        slot.write(b.to_ascii_lowercase());
    }
    // SAFETY: the loop wrote each of the `n` bytes (`zip` stops at the shorter, `text`).
    Some(unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) })
}

/// Whether a class holds each ASCII letter exactly when it holds its other case: only then is
/// matching it against lowercased text the same as matching it against the text.
fn same_for_both_cases(holds: impl Fn(u8) -> bool) -> bool {
    (b'a'..=b'z').all(|c| holds(c) == holds(c.to_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hir(pattern: &str, case_insensitive: bool) -> Hir {
        regex_syntax::ParserBuilder::new()
            .case_insensitive(case_insensitive)
            .build()
            .parse(pattern)
            .unwrap()
    }

    /// The block-wise lowercasing against the standard library's, at every length and position
    /// of an uppercase letter or a non-ASCII byte.
    #[test]
    fn lowercasing_agrees_with_std() {
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); MAX_LOWERED];
        for len in 0..70 {
            for at in 0..len.max(1) {
                for special in [b'A', b'Z', b'@', b'[', b'a', b'z', 0x7f, 0x80, 0xc3, 0xff] {
                    let mut text: Vec<u8> = (0..len).map(|i| b"xY0-"[i % 4]).collect();
                    if at < len {
                        text[at] = special;
                    }
                    let want = text.is_ascii().then(|| text.to_ascii_lowercase());
                    let got = lowercase_ascii(&text, &mut buf).map(<[u8]>::to_vec);
                    assert_eq!(got, want, "{text:?}");
                }
            }
        }
        assert!(lowercase_ascii(&[b'a'; MAX_LOWERED + 1], &mut buf).is_none());
        assert_eq!(
            lowercase_ascii(&[b'A'; MAX_LOWERED], &mut buf),
            Some(&[b'a'; MAX_LOWERED][..])
        );
    }

    #[test]
    fn case_sensitive_parts_have_no_lowered_form() {
        for p in ["Error", "(?-i:abc)", "a(?-i)b", "[A-Z]", "\\p{Lu}"] {
            assert!(lowered(&hir(p, false)).is_none(), "{p}");
        }
        for p in [
            "error|timed? ?out",
            "[a-z]+",
            "\\w+\\b",
            "^web-\\d+$",
            "ß|k",
            ".",
        ] {
            assert!(lowered(&hir(p, true)).is_some(), "{p}");
        }
    }
}

//! Untrusted text from backends (member values, check output, log lines) is made safe to draw here.
//!
//! A terminal interprets ESC/CSI/OSC sequences and C0/C1 control characters; a log line carrying them
//! could clear the screen, move the cursor or retitle the window. Everything drawn from a backend goes
//! through [`sanitize`] first.

use std::borrow::Cow;

/// Longest line we keep for display; longer text is cut with [`CUT_MARKER`].
pub const MAX_LINE_CHARS: usize = 4096;
pub const CUT_MARKER: &str = "…[cut]";

/// Removes escape sequences (CSI, OSC, DCS, two-byte ESC) and control characters. Tabs become a space,
/// other controls are dropped. Returns the input unchanged (borrowed) when it is already clean.
pub fn sanitize(input: &str) -> Cow<'_, str> {
    if !input.chars().any(is_unsafe_char) && input.chars().count() <= MAX_LINE_CHARS {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    let mut kept = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            // C1 CSI / OSC / DCS introducers behave like ESC [ / ESC ] / ESC P on some terminals.
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\t' => push_limited(&mut out, ' ', &mut kept),
            c if is_unsafe_char(c) => {}
            c => push_limited(&mut out, c, &mut kept),
        }
        if kept > MAX_LINE_CHARS {
            break;
        }
    }
    if kept > MAX_LINE_CHARS {
        let cut: String = out.chars().take(MAX_LINE_CHARS).collect();
        return Cow::Owned(cut + CUT_MARKER);
    }
    Cow::Owned(out)
}

/// For identifiers the user acts on (an etcd key in a deregister dialog): control characters and
/// escape sequences are shown escaped (`\x1b`), not dropped, so a crafted key can never look
/// identical to a real one.
pub fn escape_visible(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        if is_unsafe_char(c) || c == '\\' {
            if c == '\\' {
                out.push_str("\\\\");
            } else if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
        if out.len() > MAX_LINE_CHARS {
            out.push_str(CUT_MARKER);
            break;
        }
    }
    out
}

/// The visible text of an identifier held as bytes (an etcd key): valid, clean UTF-8 is borrowed
/// as is; otherwise every byte that is not valid UTF-8 is shown as `\xNN` and control characters as
/// [`escape_visible`] shows them. A backslash always doubles, so no two distinct byte strings read
/// alike (`inv\xff` the bytes vs `inv\\xff` the text).
pub fn escape_bytes(input: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(input) {
        if !s.chars().any(|c| is_unsafe_char(c) || c == '\\') && s.chars().count() <= MAX_LINE_CHARS
        {
            return Cow::Borrowed(s);
        }
    }
    let mut out = String::with_capacity(input.len() + 8);
    for chunk in input.utf8_chunks() {
        out.push_str(&escape_visible(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
        if out.len() > MAX_LINE_CHARS {
            let cut: String = out.chars().take(MAX_LINE_CHARS).collect();
            return Cow::Owned(cut + CUT_MARKER);
        }
    }
    Cow::Owned(out)
}

/// A run of untrusted text as it is drawn: safe as it stands, or the visible stand-in for one
/// character [`sanitize`] would remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visible<'a> {
    Plain(&'a str),
    Escape(String),
}

/// For names the user acts on (a check's entity, an alert's labels): every character [`sanitize`]
/// would drop is kept as a visible stand-in instead — `␛` for ESC, the control pictures `␀`…`␟`
/// and `␡` for the other C0 controls and DEL, `\u{…}` for C1 controls, bidi and zero-width
/// marks — so `web-1\x1b[2J` is drawn `web-1␛[2J` and can never pass for `web-1`. Panes draw the
/// [`Visible::Escape`] pieces in their own style; text is cut at [`MAX_LINE_CHARS`].
pub fn visible_pieces(input: &str) -> Vec<Visible<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (kept, (i, c)) in input.char_indices().enumerate() {
        if kept >= MAX_LINE_CHARS {
            if start < i {
                out.push(Visible::Plain(&input[start..i]));
            }
            out.push(Visible::Plain(CUT_MARKER));
            return out;
        }
        if is_unsafe_char(c) {
            if start < i {
                out.push(Visible::Plain(&input[start..i]));
            }
            out.push(Visible::Escape(stand_in(c)));
            start = i + c.len_utf8();
        }
    }
    if start < input.len() {
        out.push(Visible::Plain(&input[start..]));
    }
    out
}

/// [`visible_pieces`] as one string, for plain-text places (the status line, the audit target);
/// borrowed when there is nothing to escape.
pub fn visible(input: &str) -> Cow<'_, str> {
    if !input.chars().any(is_unsafe_char) && input.chars().count() <= MAX_LINE_CHARS {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len() + 8);
    for piece in visible_pieces(input) {
        match piece {
            Visible::Plain(s) => out.push_str(s),
            Visible::Escape(s) => out.push_str(&s),
        }
    }
    Cow::Owned(out)
}

fn stand_in(c: char) -> String {
    match c as u32 {
        // U+2400 SYMBOL FOR NULL … U+241F: one picture per C0 control (␛ for ESC).
        n @ 0..=0x1f => {
            char::from_u32(0x2400 + n).map_or_else(|| format!("\\x{n:02x}"), String::from)
        }
        0x7f => "␡".into(),
        n => format!("\\u{{{n:x}}}"),
    }
}

/// Cuts `s` to `width` display columns with an ellipsis.
pub fn fit(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > width {
            if width > 0 {
                while w + 1 > width {
                    match out.pop() {
                        Some(p) => w -= p.width().unwrap_or(0),
                        None => break,
                    }
                }
                out.push('…');
            }
            return out;
        }
        w += cw;
        out.push(c);
    }
    out
}

/// Like [`sanitize`] for bytes that may not be UTF-8: invalid sequences become U+FFFD.
pub fn sanitize_bytes(input: &[u8]) -> String {
    sanitize(&String::from_utf8_lossy(input)).into_owned()
}

/// First line of `input`, sanitised: for one-row cells showing multi-line output.
pub fn first_line(input: &str) -> Cow<'_, str> {
    let line = input.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    sanitize(line.trim_end())
}

fn push_limited(out: &mut String, c: char, kept: &mut usize) {
    *kept += 1;
    if *kept <= MAX_LINE_CHARS + 1 {
        out.push(c);
    }
}

fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || c == '\u{7f}'
        || ('\u{80}'..='\u{9f}').contains(&c)
        || c == '\t'
        // Bidi overrides/isolates and zero-width marks can make a line read differently than it is.
        || ('\u{200b}'..='\u{200f}').contains(&c)
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
        || c == '\u{feff}'
}

fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.peek() {
        Some('[') => {
            chars.next();
            skip_csi(chars);
        }
        Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
            chars.next();
            skip_string(chars);
        }
        Some(_) => {
            // Two-byte sequences (ESC c, ESC 7, ESC ( B …): drop the intermediates and the final byte.
            while let Some(&c) = chars.peek() {
                chars.next();
                if !(' '..='/').contains(&c) {
                    break;
                }
            }
        }
        None => {}
    }
}

/// CSI: parameter and intermediate bytes, then one final byte in `@`..=`~`.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            break;
        }
        if c.is_control() {
            break;
        }
    }
}

/// OSC/DCS/etc.: everything up to BEL or ST (ESC \ or U+009C).
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting() {
        assert_eq!(fit("hello", 10), "hello");
        assert_eq!(fit("hello world", 5), "hell…");
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(sanitize("hello world"), Cow::Borrowed(_)));
    }

    #[test]
    fn strips_clear_screen_and_title() {
        let s = sanitize("a\u{1b}[2Jb\u{1b}]0;pwned\u{7}c");
        assert_eq!(s, "abc");
    }

    #[test]
    fn strips_colours_cursor_moves_and_c1() {
        assert_eq!(sanitize("\u{1b}[31mred\u{1b}[0m\u{1b}[10;10H!"), "red!");
        assert_eq!(sanitize("x\u{9b}2Jy"), "xy");
        assert_eq!(sanitize("x\u{1b}]2;t\u{1b}\\y"), "xy");
        assert_eq!(sanitize("bell\u{7}\r\n"), "bell");
        assert_eq!(sanitize("tab\there"), "tab here");
    }

    #[test]
    fn escape_visible_keeps_crafted_keys_distinct() {
        assert_eq!(escape_visible("/s/x-2\u{1b}[2J"), "/s/x-2\\x1b[2J");
        assert_eq!(escape_visible("a\\b\u{202e}"), "a\\\\b\\u{202e}");
        assert_eq!(escape_visible("plain"), "plain");
    }

    #[test]
    fn escape_bytes_keeps_distinct_keys_distinct() {
        assert!(matches!(
            escape_bytes(b"/s/web-1"),
            Cow::Borrowed("/s/web-1")
        ));
        assert_eq!(escape_bytes(b"/s/inv\xff"), "/s/inv\\xff");
        assert_eq!(escape_bytes(b"/s/inv\xfe"), "/s/inv\\xfe");
        // The text "\xff" never reads like the byte 0xff.
        assert_eq!(escape_bytes(br"/s/inv\xff"), r"/s/inv\\xff");
        assert_eq!(escape_bytes(b"a\x1b[2J\xc3"), "a\\x1b[2J\\xc3");
        assert_eq!(escape_bytes("caf\u{e9}".as_bytes()), "caf\u{e9}");
    }

    #[test]
    fn visible_shows_what_sanitize_removes() {
        assert_eq!(visible("web-1\u{1b}[2J"), "web-1␛[2J");
        assert_eq!(
            visible("Evil\u{1b}]52;c;ZXZpbA==\u{7}OSC"),
            "Evil␛]52;c;ZXZpbA==␇OSC"
        );
        assert_eq!(visible("a\tb\u{0}c\u{7f}"), "a␉b␀c␡");
        assert_eq!(
            visible("x\u{9b}y\u{202e}z\u{200b}"),
            "x\\u{9b}y\\u{202e}z\\u{200b}"
        );
        assert!(matches!(visible("web-1"), Cow::Borrowed("web-1")));
        // Every stand-in is itself printable: drawing it again changes nothing.
        let once = visible("\u{1b}\u{7}\u{9d}\u{feff}").into_owned();
        assert!(!once.chars().any(is_unsafe_char), "{once:?}");
        assert_eq!(visible(&once), once);
    }

    #[test]
    fn visible_pieces_mark_the_escapes() {
        assert_eq!(
            visible_pieces("web-1\u{1b}[2J"),
            vec![
                Visible::Plain("web-1"),
                Visible::Escape("␛".into()),
                Visible::Plain("[2J"),
            ]
        );
        assert_eq!(
            visible_pieces("\u{7}\u{7}"),
            vec![Visible::Escape("␇".into()), Visible::Escape("␇".into())]
        );
        assert_eq!(visible_pieces(""), vec![]);
        let long = "y".repeat(MAX_LINE_CHARS + 3);
        let cut = visible(&long);
        assert!(cut.ends_with(CUT_MARKER));
        assert_eq!(
            cut.chars().count(),
            MAX_LINE_CHARS + CUT_MARKER.chars().count()
        );
    }

    #[test]
    fn strips_bidi_overrides_and_zero_width() {
        assert_eq!(sanitize("safe\u{202e}txt.exe\u{200b}"), "safetxt.exe");
    }

    #[test]
    fn unterminated_sequences_do_not_loop() {
        assert_eq!(sanitize("a\u{1b}"), "a");
        assert_eq!(sanitize("a\u{1b}["), "a");
        assert_eq!(sanitize("a\u{1b}]0;never ends"), "a");
    }

    #[test]
    fn long_lines_are_cut_with_marker() {
        let long = "x".repeat(MAX_LINE_CHARS + 10);
        let s = sanitize(&long);
        assert!(s.ends_with(CUT_MARKER));
        assert_eq!(
            s.chars().count(),
            MAX_LINE_CHARS + CUT_MARKER.chars().count()
        );
    }

    #[test]
    fn invalid_utf8_is_lossy() {
        assert_eq!(sanitize_bytes(b"ok\xff\xfe"), "ok\u{fffd}\u{fffd}");
    }
}

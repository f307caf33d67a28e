//! Pasted text as it enters a one-line field: line breaks and tabs become spaces (so a pasted
//! Enter can never submit), escape sequences and other control characters are dropped.

/// `text` as one line. A line break at the very end (copying a whole line) is dropped rather than
/// left as a space that would make a filter match nothing.
pub fn one_line(text: &str) -> String {
    let spaced: String = text
        .trim_end_matches(['\r', '\n'])
        .replace("\r\n", " ")
        .chars()
        .map(|c| if matches!(c, '\r' | '\n') { ' ' } else { c })
        .collect();
    crate::model::text::sanitize(&spaced).into_owned()
}

/// Appends `text` to `field` while it stays within `max_bytes`, never splitting a character.
pub fn push_capped(field: &mut String, text: &str, max_bytes: usize) {
    for c in text.chars() {
        if field.len() + c.len_utf8() > max_bytes {
            break;
        }
        field.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_table() {
        // (pasted, field gets)
        let table = [
            ("web-1", "web-1"),
            ("web-1\n", "web-1"),
            ("web-1\r\n\r\n", "web-1"),
            ("\nweb-1", " web-1"),
            ("a\r\nb\rc\nd", "a b c d"),
            ("tab\there", "tab here"),
            ("x\u{1b}[2Jy\u{7}", "xy"),
            ("", ""),
        ];
        for (pasted, want) in table {
            assert_eq!(one_line(pasted), want, "{pasted:?}");
        }
    }

    #[test]
    fn push_capped_stops_at_the_limit_on_a_character_boundary() {
        let mut f = String::from("ab");
        push_capped(&mut f, "cdé", 5);
        assert_eq!(f, "abcd");
        push_capped(&mut f, "x", 5);
        assert_eq!(f, "abcdx");
        push_capped(&mut f, "y", 5);
        assert_eq!(f, "abcdx");
    }
}

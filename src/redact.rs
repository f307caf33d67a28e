//! Credentials inside URLs (`scheme://user:password@host`) cut out of text. The config refuses
//! such URLs, but URLs are also built at run time (the Redis client takes its password that way)
//! and copied into errors by the libraries that use them (reqwest, tonic, redis), so every line
//! written to the log file goes through [`userinfo`] as well.

use std::borrow::Cow;

/// What stands in for the removed `user:password`.
pub const MASK: &str = "***";

/// `text` with the userinfo of every URL in it replaced by [`MASK`]: `http://u:p@h:1/x` →
/// `http://***@h:1/x`. Only the authority counts (up to the first `/`, `?`, `#`, whitespace or
/// quote), so an `@` in a path or in an e-mail address is left alone.
pub fn userinfo(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace()
            })
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str(MASK);
                out.push_str(&tail[at..end]);
                changed = true;
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    if !changed {
        return Cow::Borrowed(text);
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// One URL as written in a config: `Some(the URL with its userinfo masked)` if it has any. Without
/// a scheme the authority starts at the beginning, so `user:pw@host:2379` is caught too.
pub fn masked_url(url: &str) -> Option<String> {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let at = rest[..end].rfind('@')?;
    Some(format!("{scheme}{MASK}{}", &rest[at..]))
}

/// A writer that passes everything through [`userinfo`]. tracing's formatter hands it one whole
/// event per write, so a URL is never split between two calls.
pub struct Writer<W>(pub W);

impl<W: std::io::Write> std::io::Write for Writer<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(userinfo(text).as_bytes())?,
            Err(_) => self
                .0
                .write_all(userinfo(&String::from_utf8_lossy(buf)).as_bytes())?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn userinfo_is_masked_wherever_a_url_appears() {
        let cases = [
            ("http://u:p@h:2379", "http://***@h:2379"),
            ("https://user@h/x@y", "https://***@h/x@y"),
            (
                "redis://:pw@127.0.0.1:6379/0 and http://a:b@c:1?q=@",
                "redis://***@127.0.0.1:6379/0 and http://***@c:1?q=@",
            ),
            (
                "error sending request for url (http://ops:s3cr3t@10.0.0.1:9093/api/v2/alerts)",
                "error sending request for url (http://***@10.0.0.1:9093/api/v2/alerts)",
            ),
            ("url=\"http://a:b%40c@h\"", "url=\"http://***@h\""),
            ("http://a:p@ss@h:1", "http://***@h:1"),
        ];
        for (text, want) in cases {
            assert_eq!(userinfo(text), want, "{text}");
        }
        for plain in [
            "http://10.0.0.1:2379",
            "mail ops@example.com about http://h/x@y",
            "no url here @ all",
            "http://h:1/path?who=@me",
        ] {
            assert!(matches!(userinfo(plain), Cow::Borrowed(_)), "{plain}");
        }
    }

    #[test]
    fn a_config_url_with_userinfo_is_found_with_or_without_scheme() {
        let cases = [
            ("http://u:p@h:2379", Some("http://***@h:2379")),
            ("redis://:pw@r:6379/0", Some("redis://***@r:6379/0")),
            ("u:p@h:2379", Some("***@h:2379")),
            ("https://h:1/a@b", None),
            ("http://h:2379", None),
        ];
        for (url, want) in cases {
            assert_eq!(masked_url(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn the_writer_masks_what_it_passes_on() {
        let mut w = Writer(Vec::new());
        let line = b"WARN logs source error=\"redis://:hunter2@127.0.0.1:1: refused\"\n";
        assert_eq!(w.write(line).unwrap(), line.len());
        w.write_all(b"bad \xff http://u:hunter2@h/\n").unwrap();
        let out = String::from_utf8(w.0).unwrap();
        assert!(!out.contains("hunter2"), "{out}");
        assert!(out.contains("redis://***@127.0.0.1:1: refused"), "{out}");
    }
}

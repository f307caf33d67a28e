//! Custom commands (`[[commands]]` in the config): what one is, how its placeholders are filled,
//! and one run of it as data. Values are separate arguments, never text for a shell: a label
//! holding `;rm -rf /` arrives as that one literal argument. Pure: spawning is the core's.

use std::collections::BTreeMap;

use super::AuditId;

/// What a command acts on: the row its placeholders are read from, and the pane its key is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunScope {
    Member,
    /// A check (Sensu) or an alert (Alertmanager): the checks pane's row.
    Check,
    LogLine,
    /// The cluster: only `{cluster}`, `{time}` and the scoped member's placeholders.
    Cluster,
}

impl RunScope {
    /// As written in the config: `member`, `check`, `alert`, `log` (or `log line`), `cluster`.
    pub fn parse(s: &str) -> Result<RunScope, String> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['_', '-'], " ")
            .as_str()
        {
            "member" => Ok(RunScope::Member),
            "check" | "alert" => Ok(RunScope::Check),
            "log" | "log line" | "logline" => Ok(RunScope::LogLine),
            "cluster" => Ok(RunScope::Cluster),
            _ => Err(format!(
                "scope \"{s}\" — one of: member, check, alert, log, cluster"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RunScope::Member => "member",
            RunScope::Check => "check",
            RunScope::LogLine => "log line",
            RunScope::Cluster => "cluster",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// The console steps aside: the command has the terminal until it exits.
    Foreground,
    /// Its output (stdout and stderr) in a scrollable, searchable popup.
    Capture,
    /// The selection (or the pane's filtered rows) as JSON lines on its stdin; output as capture.
    Pipe,
    /// A named task listed under Tasks, killable, killed when the console exits.
    Background,
}

impl RunMode {
    pub fn parse(s: &str) -> Result<RunMode, String> {
        match s {
            "foreground" => Ok(RunMode::Foreground),
            "capture" => Ok(RunMode::Capture),
            "pipe" => Ok(RunMode::Pipe),
            "background" => Ok(RunMode::Background),
            _ => Err(format!(
                "mode \"{s}\" — one of: foreground, capture, pipe, background"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            RunMode::Foreground => "foreground",
            RunMode::Capture => "capture",
            RunMode::Pipe => "pipe",
            RunMode::Background => "background",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Danger {
    /// Runs at once (still audited; refused nowhere).
    None,
    /// The confirmation dialog first (`y`); refused in a read-only session.
    Confirm,
    /// The command's name typed out first; refused in a read-only session.
    Typed,
}

impl Danger {
    pub fn parse(s: &str) -> Result<Danger, String> {
        match s {
            "none" => Ok(Danger::None),
            "confirm" => Ok(Danger::Confirm),
            "typed" => Ok(Danger::Typed),
            _ => Err(format!("danger \"{s}\" — one of: none, confirm, typed")),
        }
    }
}

/// One `[[commands]]` entry, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomCommand {
    pub name: String,
    /// The key as written (checked against the keymap when the keymap is built).
    pub key: Option<String>,
    pub scope: RunScope,
    /// The program and its arguments, with `{placeholders}`.
    pub argv: Vec<String>,
    pub mode: RunMode,
    pub danger: Danger,
}

/// Longest output a capture keeps (the rest is cut, and the popup says so).
pub const MAX_OUTPUT: usize = 1 << 20;

/// One run of a command: everything the core needs to spawn it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    pub id: AuditId,
    pub name: String,
    pub argv: Vec<String>,
    pub mode: RunMode,
    /// Pipe mode: the JSON lines written to the command's stdin.
    pub stdin: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    /// `exit 0`, `exit 2`, `killed by signal 15`, `could not start: …`.
    pub status: String,
    pub success: bool,
    /// Capture and pipe: stdout then stderr, lossy UTF-8, capped at [`MAX_OUTPUT`].
    pub output: Option<String>,
    pub truncated: bool,
}

/// A background task as the Tasks popup lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub id: AuditId,
    pub name: String,
    pub pid: u32,
    pub argv: Vec<String>,
    pub started: chrono::DateTime<chrono::Utc>,
}

/// `argv` with every `{name}` replaced by `values[name]` (`{{` and `}}` are literal braces). Each
/// element stays one argument whatever the value holds. Refused: an unknown placeholder (naming
/// the ones there are), a value with a control character, an empty program.
pub fn expand(argv: &[String], values: &BTreeMap<String, String>) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(argv.len());
    for arg in argv {
        out.push(expand_one(arg, values, &|v| v.to_string())?);
    }
    match out.first() {
        Some(p) if !p.is_empty() => Ok(out),
        _ => Err("the command's program is empty".into()),
    }
}

/// One template (an argument, a URL) with each value passed through `encode` first.
pub fn expand_one(
    template: &str,
    values: &BTreeMap<String, String>,
    encode: &dyn Fn(&str) -> String,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("{{") {
            out.push('{');
            rest = t;
            continue;
        }
        if let Some(t) = tail.strip_prefix("}}") {
            out.push('}');
            rest = t;
            continue;
        }
        if tail.starts_with('}') {
            return Err(format!(
                "\"{template}\": a lone }} (write }}}} for a brace)"
            ));
        }
        let Some(end) = tail.find('}') else {
            return Err(format!(
                "\"{template}\": {{ without }} (write {{{{ for a brace)"
            ));
        };
        let name = &tail[1..end];
        let Some(value) = values.get(name) else {
            let known: Vec<&str> = values.keys().map(String::as_str).collect();
            return Err(format!(
                "{{{name}}} has no value here — there are: {}",
                known
                    .iter()
                    .map(|k| format!("{{{k}}}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        };
        if let Some(c) = value.chars().find(|c| c.is_control()) {
            return Err(format!(
                "{{{name}}} holds a control character ({}) — refused",
                c.escape_unicode()
            ));
        }
        out.push_str(&encode(value));
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Which detail a link template is listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPane {
    Members,
    Checks,
}

/// `links = [{ name, url, pane }]` in a cluster's profile: a URL filled from the selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTemplate {
    pub name: String,
    pub url: String,
    /// `None`: listed in both details.
    pub pane: Option<LinkPane>,
}

/// Whether `s` is an http(s) URL with a host: the only links the console opens or copies.
pub fn is_web_url(s: &str) -> bool {
    url_host(s).is_some() && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The host (and port) of an http(s) URL, as the link list shows it beside the link.
pub fn url_host(s: &str) -> Option<&str> {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // user:password@ is not the host.
    let host = authority.rsplit('@').next().unwrap_or("");
    (!host.is_empty()).then_some(host)
}

/// A link template filled in: each value percent-encoded (so a value cannot change the URL's
/// shape), then refused unless the result is an http(s) URL with a host.
pub fn fill_url(template: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let url = expand_one(template, values, &|v| urlencoding::encode(v).into_owned())?;
    if is_web_url(&url) {
        Ok(url)
    } else {
        Err(format!("\"{url}\" is not an http(s) URL with a host"))
    }
}

/// The argument list as a shell would need it typed (each argument quoted where it must be):
/// what `:cmd` shows and `y` copies. Only for reading and pasting: the console itself never runs
/// it through a shell.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn values_stay_one_argument() {
        let v = vals(&[
            ("addr", "10.0.0.1:80"),
            ("label.x", "a;rm -rf / $(id) `id`"),
        ]);
        let out = expand(&argv(&["echo", "{label.x}", "at={addr}", "{{lit}}"]), &v).unwrap();
        assert_eq!(
            out,
            argv(&["echo", "a;rm -rf / $(id) `id`", "at=10.0.0.1:80", "{lit}"])
        );
    }

    #[test]
    fn unknown_placeholders_and_control_characters_are_refused() {
        let v = vals(&[("addr", "x"), ("bad", "a\nb")]);
        let e = expand(&argv(&["ssh", "{adr}"]), &v).unwrap_err();
        assert!(e.contains("{adr}") && e.contains("{addr}"), "{e}");
        let e = expand(&argv(&["ssh", "{bad}"]), &v).unwrap_err();
        assert!(e.contains("control character"), "{e}");
        let e = expand(&argv(&["ssh", "{addr"]), &v).unwrap_err();
        assert!(e.contains("without"), "{e}");
        assert!(expand(&argv(&["{empty}"]), &vals(&[("empty", "")])).is_err());
    }

    #[test]
    fn shell_words_quote_what_a_shell_would_read() {
        assert_eq!(
            shell_words(&argv(&["ssh", "10.0.0.1", "a b", "it's", ";rm"])),
            r"ssh 10.0.0.1 'a b' 'it'\''s' ';rm'"
        );
    }

    #[test]
    fn urls_are_filled_encoded_and_only_http() {
        let v = vals(&[("addr", "10.0.0.1:80"), ("evil", "x&y=/@z#")]);
        assert_eq!(
            fill_url("https://grafana/d/x?var-instance={addr}&q={evil}", &v).unwrap(),
            "https://grafana/d/x?var-instance=10.0.0.1%3A80&q=x%26y%3D%2F%40z%23"
        );
        assert!(fill_url("javascript:alert({addr})", &v).is_err());
        assert!(fill_url("file:///etc/passwd", &v).is_err());
        assert_eq!(
            url_host("https://u:p@runbooks.example:8443/a?b"),
            Some("runbooks.example:8443")
        );
        assert_eq!(url_host("HTTP://h/x"), Some("h"));
        assert!(!is_web_url("https://"));
        assert!(!is_web_url("https://h/a b"));
    }

    #[test]
    fn names_parse() {
        assert_eq!(RunScope::parse("alert"), Ok(RunScope::Check));
        assert_eq!(RunScope::parse("log line"), Ok(RunScope::LogLine));
        assert!(RunScope::parse("pod").is_err());
        assert!(RunMode::parse("detached").is_err());
        assert_eq!(Danger::parse("typed"), Ok(Danger::Typed));
    }
}

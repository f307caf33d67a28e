//! What the peer tools already have configured, read the way they read it: sensuctl's
//! `~/.config/sensu/sensuctl/{cluster,profile}` (JSON) and amtool's `config.yml`
//! (`$HOME/.config/amtool/config.yml`, then `/etc/amtool/config.yml`) with
//! `AMTOOL_ALERTMANAGER_URL` over both. Read only: sensuctl's tokens are never refreshed here
//! (a refresh would rotate sensuctl's own refresh token and log it out).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A value and the file (or variable) it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From<T> {
    pub value: T,
    pub origin: String,
}

/// sensuctl's configuration, as far as the console uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sensuctl {
    pub api_url: Option<From<String>>,
    pub trusted_ca_file: Option<String>,
    pub insecure_skip_tls_verify: bool,
    pub api_key: Option<From<String>>,
    /// The access token and when it expires (unix seconds).
    pub access_token: Option<(From<String>, i64)>,
    pub namespace: Option<From<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct RawCluster {
    #[serde(rename = "api-url")]
    api_url: String,
    #[serde(rename = "trusted-ca-file")]
    trusted_ca_file: String,
    #[serde(rename = "insecure-skip-tls-verify")]
    insecure_skip_tls_verify: bool,
    #[serde(rename = "api-key")]
    api_key: String,
    access_token: String,
    expires_at: i64,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct RawProfile {
    namespace: String,
}

/// sensuctl's config directory under `home`.
pub fn sensuctl_dir(home: &Path) -> PathBuf {
    home.join(".config").join("sensu").join("sensuctl")
}

/// Reads sensuctl's `cluster` and `profile` files under `dir`; files that are missing or not
/// JSON contribute nothing.
pub fn sensuctl(dir: &Path) -> Sensuctl {
    let mut out = Sensuctl::default();
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path)
            .ok()
            .map(|text| (text, path.display().to_string()))
    };
    let some = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    if let Some((text, origin)) = read("cluster") {
        if let Ok(c) = serde_json::from_str::<RawCluster>(&text) {
            let from = |value: String| From {
                value,
                origin: format!("sensuctl {origin}"),
            };
            out.api_url = some(c.api_url).map(from);
            out.trusted_ca_file = some(c.trusted_ca_file);
            out.insecure_skip_tls_verify = c.insecure_skip_tls_verify;
            out.api_key = some(c.api_key).map(from);
            out.access_token = some(c.access_token).map(|t| (from(t), c.expires_at));
        }
    }
    if let Some((text, origin)) = read("profile") {
        if let Ok(p) = serde_json::from_str::<RawProfile>(&text) {
            out.namespace = some(p.namespace).map(|value| From {
                value,
                origin: format!("sensuctl {origin}"),
            });
        }
    }
    out
}

/// amtool's settings, as far as the console uses them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Amtool {
    pub url: Option<From<String>>,
    pub author: Option<From<String>>,
}

/// amtool's config files, in the order amtool reads them.
pub fn amtool_files(home: &Path) -> Vec<PathBuf> {
    vec![
        home.join(".config").join("amtool").join("config.yml"),
        PathBuf::from("/etc/amtool/config.yml"),
    ]
}

/// `AMTOOL_ALERTMANAGER_URL` (from `env`) over the first of `files` that sets
/// `alertmanager.url`; `author` from the first file that sets it.
pub fn amtool(files: &[PathBuf], env: &dyn Fn(&str) -> Option<String>) -> Amtool {
    let mut out = Amtool::default();
    if let Some(url) = env("AMTOOL_ALERTMANAGER_URL").filter(|u| !u.trim().is_empty()) {
        out.url = Some(From {
            value: url.trim().to_string(),
            origin: "$AMTOOL_ALERTMANAGER_URL".into(),
        });
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let origin = format!("amtool {}", file.display());
        if out.url.is_none() {
            out.url = yaml_scalar(&text, "alertmanager.url").map(|value| From {
                value,
                origin: origin.clone(),
            });
        }
        if out.author.is_none() {
            out.author = yaml_scalar(&text, "author").map(|value| From { value, origin });
        }
    }
    out
}

/// The value of a top-level `key: value` line of a flat YAML file (amtool's config is one),
/// unquoted; `None` when absent or empty.
fn yaml_scalar(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.trim_start().strip_prefix(':')?;
        let value = rest.split(" #").next().unwrap_or(rest).trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        Some(value.to_string()).filter(|v| !v.is_empty())
    })
}

/// `$HOME`, where both tools keep their files.
pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensuctl_files_are_read_as_sensuctl_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cluster"),
            r#"{"api-url":"http://sensu.example:8080","trusted-ca-file":"","insecure-skip-tls-verify":false,"access_token":"tok","expires_at":1900000000,"refresh_token":"ref","timeout":15000000000}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("profile"),
            r#"{"format":"tabular","namespace":"ops","username":"admin"}"#,
        )
        .unwrap();
        let s = sensuctl(dir.path());
        assert_eq!(s.api_url.unwrap().value, "http://sensu.example:8080");
        let (token, expires) = s.access_token.unwrap();
        assert_eq!((token.value.as_str(), expires), ("tok", 1900000000));
        assert!(token.origin.starts_with("sensuctl ") && token.origin.ends_with("cluster"));
        assert_eq!(s.namespace.unwrap().value, "ops");
        assert_eq!(sensuctl(&dir.path().join("none")), Sensuctl::default());
    }

    #[test]
    fn amtool_env_beats_files_and_files_go_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (user, system) = (dir.path().join("user.yml"), dir.path().join("etc.yml"));
        std::fs::write(
            &user,
            "# mine\noutput: extended\nauthor: \"alice@example.com\"\n",
        )
        .unwrap();
        std::fs::write(
            &system,
            "alertmanager.url: 'http://am.example:9093' # the shared one\nauthor: ops\n",
        )
        .unwrap();
        let files = [user.clone(), system.clone()];
        let a = amtool(&files, &|_| None);
        assert_eq!(a.url.as_ref().unwrap().value, "http://am.example:9093");
        assert!(a.url.unwrap().origin.contains("etc.yml"));
        assert_eq!(a.author.unwrap().value, "alice@example.com");
        let a = amtool(&files, &|k| {
            (k == "AMTOOL_ALERTMANAGER_URL").then(|| "http://env:9093".to_string())
        });
        let url = a.url.unwrap();
        assert_eq!(
            (url.value.as_str(), url.origin.as_str()),
            ("http://env:9093", "$AMTOOL_ALERTMANAGER_URL")
        );
    }
}

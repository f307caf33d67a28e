//! Cluster profiles from TOML, in two phases: raw serde structs that reject unknown keys, then
//! validated settings. Every error is one line naming the file, the line, the key and the fix.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::model::run::{self, CustomCommand, Danger, LinkPane, LinkTemplate, RunMode, RunScope};
use crate::paths::expand_tilde;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no config file at {path} — create it with a [clusters.NAME] table (see README, \"Configuration\"), pass --config PATH, or try --demo")]
    Missing { path: PathBuf },
    #[error("cannot read config {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config error in {path} line {line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("no cluster \"{name}\" in {path} — known clusters: {known}; add a [clusters.{name}] table or pick one of those")]
    UnknownCluster {
        name: String,
        path: PathBuf,
        known: String,
    },
}

/// A secret read from an env var or a file. Its Debug/Display never show the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    clusters: BTreeMap<String, Spanned<RawCluster>>,
    /// `[[commands]]`: custom commands every cluster has.
    #[serde(default)]
    commands: Vec<Spanned<RawCommand>>,
    /// `[views.NAME] clusters = [...]`: merged views, opened with `--view NAME`.
    #[serde(default)]
    views: BTreeMap<String, Spanned<RawView>>,
}

/// One `[views.NAME]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawView {
    clusters: Vec<String>,
}

/// One `[[commands]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommand {
    name: String,
    key: Option<String>,
    #[serde(default = "default_scope")]
    scope: String,
    command: Vec<String>,
    #[serde(default = "default_mode")]
    mode: String,
    #[serde(default = "default_danger")]
    danger: String,
}

/// `links = [{ name, url, pane }]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    name: String,
    url: String,
    pane: Option<String>,
}

/// Checks a cluster's link templates: an http(s) URL (the scheme written out, never a
/// placeholder) whose braces pair up.
fn validate_links(raw: &[RawLink]) -> Result<Vec<LinkTemplate>, String> {
    raw.iter()
        .map(|l| {
            let lower = l.url.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://"))
                || run::url_host(&l.url).is_none_or(|h| h.contains('{'))
            {
                return Err(format!(
                    "link \"{}\": url must start with http:// or https:// and a host written out",
                    l.name
                ));
            }
            let any: BTreeMap<String, String> = placeholders_in(&l.url)
                .into_iter()
                .map(|n| (n, String::new()))
                .collect();
            run::expand_one(&l.url, &any, &|v| v.to_string())
                .map_err(|e| format!("link \"{}\": {e}", l.name))?;
            let pane = match l.pane.as_deref() {
                None => None,
                Some("members" | "member") => Some(LinkPane::Members),
                Some("checks" | "check" | "alert") => Some(LinkPane::Checks),
                Some(other) => {
                    return Err(format!(
                        "link \"{}\": pane \"{other}\" — members or checks (or leave it out: both)",
                        l.name
                    ))
                }
            };
            Ok(LinkTemplate {
                name: l.name.clone(),
                url: l.url.clone(),
                pane,
            })
        })
        .collect()
}

fn default_scope() -> String {
    "member".into()
}

fn default_mode() -> String {
    "foreground".into()
}

fn default_danger() -> String {
    "none".into()
}

/// Checks `[[commands]]` entries (`section`: where they are, for the message).
fn validate_commands(
    raw: &[Spanned<RawCommand>],
    section: &str,
    text_line: &dyn Fn(usize) -> usize,
    path: &Path,
) -> Result<Vec<CustomCommand>, ConfigError> {
    let mut out: Vec<CustomCommand> = Vec::new();
    for spanned in raw {
        let line = text_line(spanned.span().start);
        let r = spanned.get_ref();
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message: format!("{section} \"{}\": {message}", r.name),
        };
        if r.name.trim().is_empty() || r.name.chars().any(char::is_control) {
            return Err(invalid("a command needs a name (printable text)".into()));
        }
        if out.iter().any(|c| c.name == r.name) {
            return Err(invalid("two commands have this name".into()));
        }
        if r.command.first().is_none_or(|p| p.trim().is_empty()) {
            return Err(invalid(
                "command = [\"program\", \"arg\", …] needs a program (no shell is used)".into(),
            ));
        }
        for arg in &r.command {
            // The braces must pair up; which placeholders have values depends on the row.
            let any: BTreeMap<String, String> = placeholders_in(arg)
                .into_iter()
                .map(|n| (n, String::new()))
                .collect();
            run::expand_one(arg, &any, &|v| v.to_string()).map_err(invalid)?;
        }
        if let Some(key) = &r.key {
            crate::keymap::Key::parse(key).map_err(invalid)?;
        }
        out.push(CustomCommand {
            name: r.name.clone(),
            key: r.key.clone(),
            scope: RunScope::parse(&r.scope).map_err(invalid)?,
            argv: r.command.clone(),
            mode: RunMode::parse(&r.mode).map_err(invalid)?,
            danger: Danger::parse(&r.danger).map_err(invalid)?,
        });
    }
    Ok(out)
}

/// The `{names}` a template mentions (`{{` is a literal brace).
fn placeholders_in(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template.replace("{{", "").replace("}}", "");
    while let Some(i) = rest.find('{') {
        let tail = rest[i + 1..].to_string();
        match tail.find('}') {
            Some(end) => {
                names.push(tail[..end].to_string());
                rest = tail[end + 1..].to_string();
            }
            None => break,
        }
    }
    names
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    keymap: Option<String>,
    theme: Option<String>,
    audit_log: Option<String>,
    user: Option<String>,
    /// Mouse capture (click, wheel); off by default so the terminal's own selection works.
    #[serde(default)]
    mouse: bool,
    /// The cluster opened when none is named (`--cluster` and `OPSCONSOLE_CLUSTER` win).
    cluster: Option<Spanned<String>>,
    /// The display zone times are shown in (an IANA name, `UTC` or `local`); `Z` cycles local,
    /// UTC and this one. `--utc` and `--zone` win.
    zone: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    etcd: Option<Spanned<RawEtcd>>,
    #[serde(default)]
    readonly: bool,
    theme: Option<String>,
    keymap: Option<String>,
    /// Border colour for this cluster, e.g. "red" for prod, so nobody acts on the wrong cluster.
    accent: Option<String>,
    /// Every change asks for its target's name typed out (deregister: the instance; silence: the
    /// check; bulk: the number of targets) — `y` alone does nothing.
    #[serde(default)]
    protected: bool,
    /// `"typed"` is the same as `protected = true`; `"key"` (the default) asks for `y`.
    confirm: Option<String>,
    /// Above this many targets a bulk action asks for the count typed out, everywhere.
    max_bulk: Option<u64>,
    /// Sensu silences may have no expiry (Alertmanager silences always end).
    #[serde(default)]
    allow_no_expiry: bool,
    /// How long an ack (`a` in the checks pane) silences a check, in minutes (default 30).
    ack_mins: Option<u64>,
    /// Ring the bell and raise a desktop notification when a critical nobody muted appears.
    #[serde(default)]
    notify: bool,
    /// Also run this (an argument list, no shell; `{title}`, `{body}`, `{cluster}` filled in).
    #[serde(default)]
    notify_command: Vec<String>,
    /// A member that left and came back this often within `flap_window_mins` is flapping.
    flap_count: Option<u64>,
    flap_window_mins: Option<u64>,
    /// This cluster's own custom commands (over the global ones of the same name).
    #[serde(default)]
    commands: Vec<Spanned<RawCommand>>,
    /// Link templates listed in the member and check details.
    #[serde(default)]
    links: Vec<RawLink>,
    checks: Option<Spanned<RawChecks>>,
    metrics: Option<Spanned<RawMetrics>>,
    logs: Option<Spanned<RawLogs>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogs {
    kind: String,
    url: String,
    /// redis: Pub/Sub channel (omhiredis mode="publish") …
    channel: Option<String>,
    /// … or list (mode="queue"), consumed with BLMOVE into an in-flight list of the console's
    /// own (nothing is removed from Redis before it has arrived).
    list: Option<String>,
    /// The list is filled with RPUSH (omhiredis `userpush="on"`): consume from the left instead.
    userpush: Option<bool>,
    /// elasticsearch: index pattern.
    index: Option<String>,
    /// loki: LogQL stream selector.
    query: Option<String>,
    tenant: Option<String>,
    /// The senders' zone for RFC 3164 stamps (IANA name); the console's local zone by default.
    timezone: Option<String>,
    /// The fields a JSON message's summary shows, in order (dotted paths reach nested ones).
    fields: Option<Vec<String>>,
    /// Fields a JSON message's summary never shows (when `fields` does not choose).
    hide_fields: Option<Vec<String>>,
    /// Regexes a line continuing a record (a stack trace) matches; `[]`: no grouping.
    continuation: Option<Vec<String>>,
    /// loki: the label the histogram splits severities by (default `level`, then `detected_level`).
    level_label: Option<String>,
    interval_secs: Option<u64>,
    timeout_secs: Option<u64>,
    buffer_lines: Option<u64>,
    user: Option<String>,
    password: Option<toml::Value>,
    password_env: Option<String>,
    password_file: Option<String>,
    api_key_env: Option<String>,
    api_key_file: Option<String>,
    ca: Option<String>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    kind: String,
    url: String,
    #[serde(default)]
    series: Vec<RawSeries>,
    interval_secs: Option<u64>,
    timeout_secs: Option<u64>,
    user: Option<String>,
    password: Option<toml::Value>,
    password_env: Option<String>,
    password_file: Option<String>,
    ca: Option<String>,
    #[serde(default)]
    insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeries {
    name: String,
    target: Option<String>,
    query: Option<String>,
    unit: Option<String>,
    /// Used when no member is selected (the cluster-wide view); derived from `target` otherwise.
    cluster: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    kind: String,
    /// Absent: sensuctl's (sensu-go) or amtool's (alertmanager) URL.
    url: Option<String>,
    namespace: Option<String>,
    api_key_env: Option<String>,
    api_key_file: Option<String>,
    user: Option<String>,
    password: Option<toml::Value>,
    api_key: Option<toml::Value>,
    password_env: Option<String>,
    password_file: Option<String>,
    interval_secs: Option<u64>,
    timeout_secs: Option<u64>,
    ca: Option<String>,
    #[serde(default)]
    insecure_skip_verify: bool,
    creator: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEtcd {
    endpoints: Vec<String>,
    #[serde(default = "default_prefix")]
    prefix: String,
    ca: Option<String>,
    cert: Option<String>,
    key: Option<String>,
    domain: Option<String>,
    user: Option<String>,
    /// Accepted only to refuse it with a useful message: secrets never live in the config file.
    password: Option<toml::Value>,
    password_env: Option<String>,
    password_file: Option<String>,
    connect_timeout_secs: Option<u64>,
    keepalive_secs: Option<u64>,
    /// Where instances (and the console) find the monitoring and logging endpoints.
    discovery_prefix: Option<String>,
}

fn default_prefix() -> String {
    "/services/".to_string()
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub keymap: Option<String>,
    pub theme: Option<String>,
    pub audit_log: Option<PathBuf>,
    pub user: Option<String>,
    pub mouse: bool,
    /// `[defaults] cluster`: opened when no cluster is named.
    pub default_cluster: Option<String>,
    /// `[defaults] zone`: the display zone.
    pub zone: Option<crate::model::DisplayZone>,
    /// Every profile by name, checked; open one with [`Config::cluster`].
    pub clusters: BTreeMap<String, ClusterEntry>,
    /// `[[commands]]`: every cluster's custom commands.
    pub commands: Vec<CustomCommand>,
    /// `[views.NAME]`: merged views by name, each its clusters in order (checked: known, distinct).
    pub views: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ClusterProfile {
    pub name: String,
    pub etcd: Option<EtcdProfile>,
    pub readonly: bool,
    pub theme: Option<String>,
    pub keymap: Option<String>,
    pub accent: Option<String>,
    /// Backends of the other panes; their sources are added pane by pane. Kept so the pane can say
    /// what is configured rather than pretending nothing is.
    pub checks: Option<ChecksProfile>,
    pub metrics: Option<MetricsProfile>,
    pub logs: Option<LogsProfile>,
    /// etcd prefix to discover the panes' backends under, for panes the profile leaves out.
    pub discovery_prefix: String,
    /// How careful changes must be on this cluster.
    pub guard: Guardrails,
    /// Things that work but should not be so (a TLS key others can read); shown at start and by
    /// `opsconsole info`.
    pub warnings: Vec<String>,
    /// Custom commands: the global `[[commands]]`, then the cluster's own (which replace a
    /// global one of the same name).
    pub commands: Vec<CustomCommand>,
    /// Link templates for the member and check details.
    pub links: Vec<LinkTemplate>,
}

/// How careful changes on a cluster must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guardrails {
    /// Every change asks for its target typed out (`protected = true` or `confirm = "typed"`).
    pub typed: bool,
    /// Above this many targets a bulk action asks for the count typed out.
    pub max_bulk: usize,
    /// Sensu silences may have no expiry.
    pub allow_no_expiry: bool,
    /// What counts as flapping (not a guard on changes, but the same kind of per-cluster rule):
    /// `flap_count` returns within `flap_window_mins`.
    pub flap_count: usize,
    pub flap_window_mins: u64,
    /// How long an ack silences a check, in minutes.
    pub ack_mins: u64,
    /// Notify on new criticals (bell, OSC 9 / OSC 777).
    pub notify: bool,
    /// A hook run on each notification, as an argument list.
    pub notify_command: Vec<String>,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            typed: false,
            max_bulk: 20,
            allow_no_expiry: false,
            flap_count: 3,
            flap_window_mins: 10,
            ack_mins: 30,
            notify: false,
            notify_command: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct EtcdProfile {
    pub endpoints: Vec<String>,
    pub prefix: String,
    pub tls: Option<TlsFiles>,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub connect_timeout: std::time::Duration,
    pub keepalive: std::time::Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksKind {
    SensuGo,
    SensuCore,
    Alertmanager,
}

impl ChecksKind {
    pub fn name(self) -> &'static str {
        match self {
            ChecksKind::SensuGo => "sensu-go",
            ChecksKind::SensuCore => "sensu-core",
            ChecksKind::Alertmanager => "alertmanager",
        }
    }
}

/// How an HTTP backend authenticates; `origin` names where the secret came from, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpAuth {
    None,
    ApiKey {
        key: Secret,
        origin: String,
    },
    Basic {
        user: String,
        password: Secret,
        origin: String,
    },
    /// A token another tool obtained (sensuctl's access token), used while it is valid and
    /// never refreshed.
    Bearer {
        token: Secret,
        origin: String,
    },
}

#[derive(Debug, Clone)]
pub struct HttpBackend {
    pub url: String,
    pub auth: HttpAuth,
    pub timeout: std::time::Duration,
    pub ca: Option<PathBuf>,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone)]
pub struct ChecksProfile {
    pub kind: ChecksKind,
    pub http: HttpBackend,
    pub namespace: String,
    pub interval: std::time::Duration,
    pub creator: Option<String>,
    /// Where the url, namespace, credential and creator came from (`opsconsole info`).
    pub origins: ChecksOrigins,
}

/// Where each value of a checks profile came from: `config`, a peer tool's file, or `default`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChecksOrigins {
    pub url: String,
    pub namespace: String,
    pub auth: String,
    pub creator: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsKind {
    Graphite,
    Prometheus,
}

impl MetricsKind {
    pub fn name(self) -> &'static str {
        match self {
            MetricsKind::Graphite => "graphite",
            MetricsKind::Prometheus => "prometheus",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SeriesTemplate {
    pub name: String,
    /// Graphite target or PromQL query, with `{instance}`, `{role}`, `{addr}`, `{host}` and member fields.
    pub template: String,
    pub cluster: Option<String>,
    pub unit: String,
}

#[derive(Debug, Clone)]
pub struct MetricsProfile {
    pub kind: MetricsKind,
    pub http: HttpBackend,
    pub series: Vec<SeriesTemplate>,
    pub interval: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogsKind {
    /// Pub/Sub channel or a list.
    Redis {
        channel: Option<String>,
        list: Option<String>,
        /// rsyslog RPUSHes to the list (`userpush="on"`), so the oldest line is on the left.
        userpush: bool,
    },
    Elasticsearch {
        index: String,
    },
    Loki {
        query: String,
        tenant: Option<String>,
    },
}

impl LogsKind {
    pub fn name(&self) -> &'static str {
        match self {
            LogsKind::Redis { .. } => "redis",
            LogsKind::Elasticsearch { .. } => "elasticsearch",
            LogsKind::Loki { .. } => "loki",
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogsProfile {
    pub kind: LogsKind,
    pub http: HttpBackend,
    pub interval: std::time::Duration,
    pub buffer_lines: usize,
    /// The zone RFC 3164 stamps (no zone of their own) are read in: `timezone = "Europe/Berlin"`,
    /// else the console's local zone.
    pub timezone: crate::model::SenderZone,
    /// `fields = ["trace_id", "status"]`: what a JSON message's summary shows.
    pub fields: Vec<String>,
    /// `hide_fields = ["user"]`: left out of a JSON message's summary.
    pub hide_fields: Vec<String>,
    /// `continuation = [...]`: what makes a line part of the record before it (`None`: the
    /// built-in rules).
    pub continuation: Option<regex::RegexSet>,
    /// Loki: the label the histogram reads levels from (`None`: `level`, then `detected_level`).
    pub level_label: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub domain: Option<String>,
}

impl Config {
    /// Reads `path`; a missing file is [`ConfigError::Missing`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ConfigError::Missing {
                    path: path.to_path_buf(),
                })
            }
            Err(source) => {
                return Err(ConfigError::Unreadable {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Self::parse(&text, path)
    }

    /// Checks every profile; secrets (and the contents of TLS files) are read only when a
    /// profile is opened with [`Config::cluster`], so one cluster's unset `password_env` never
    /// blocks another cluster, nor `opsconsole info`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |offset: usize, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: line_of(text, offset),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            invalid(offset, e.message().trim().to_string())
        })?;
        let line = |offset: usize| line_of(text, offset);
        let mut clusters = BTreeMap::new();
        for (name, spanned) in raw.clusters {
            let raw = spanned.get_ref().clone();
            let entry = ClusterEntry {
                lines: SectionLines {
                    cluster: line(spanned.span().start),
                    etcd: raw.etcd.as_ref().map_or(0, |t| line(t.span().start)),
                    checks: raw.checks.as_ref().map_or(0, |t| line(t.span().start)),
                    metrics: raw.metrics.as_ref().map_or(0, |t| line(t.span().start)),
                    logs: raw.logs.as_ref().map_or(0, |t| line(t.span().start)),
                },
                commands: validate_commands(
                    &raw.commands,
                    &format!("[[clusters.{name}.commands]]"),
                    &line,
                    path,
                )?,
                raw,
            };
            entry.build(&name, path, Secrets::Check)?;
            clusters.insert(name, entry);
        }
        if let Some(spanned) = raw
            .defaults
            .cluster
            .as_ref()
            .filter(|n| !clusters.contains_key(n.get_ref()))
        {
            let name = spanned.get_ref();
            return Err(invalid(
                spanned.span().start,
                format!(
                    "defaults.cluster = \"{name}\" names no [clusters.{name}] table — known clusters: {}",
                    if clusters.is_empty() {
                        "(none)".to_string()
                    } else {
                        clusters.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            ));
        }
        let commands = validate_commands(&raw.commands, "[[commands]]", &line, path)?;
        let mut views = BTreeMap::new();
        for (name, view) in &raw.views {
            let known: Vec<String> = clusters.keys().cloned().collect();
            let list = check_cluster_list(&view.get_ref().clusters, &known)
                .map_err(|e| invalid(view.span().start, format!("[views.{name}]: {e}")))?;
            views.insert(name.clone(), list);
        }
        let zone = match &raw.defaults.zone {
            Some(spanned) => Some(
                crate::model::DisplayZone::parse(spanned.get_ref())
                    .map_err(|e| invalid(spanned.span().start, format!("defaults.zone: {e}")))?,
            ),
            None => None,
        };
        Ok(Config {
            zone,
            commands,
            path: path.to_path_buf(),
            keymap: raw.defaults.keymap,
            theme: raw.defaults.theme,
            audit_log: raw.defaults.audit_log.as_deref().map(expand_tilde),
            user: raw.defaults.user,
            mouse: raw.defaults.mouse,
            default_cluster: raw.defaults.cluster.map(Spanned::into_inner),
            clusters,
            views,
        })
    }

    /// The clusters of view `name` (`--view NAME`), or why there is no such view.
    pub fn view(&self, name: &str) -> Result<Vec<String>, String> {
        self.views.get(name).cloned().ok_or_else(|| {
            format!(
                "no view \"{name}\" in {} — known views: {}; add [views.{name}] clusters = [\"a\", \"b\"]",
                self.path.display(),
                if self.views.is_empty() {
                    "(none)".to_string()
                } else {
                    self.views.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            )
        })
    }

    /// The profiles of a merged view, in order, each opened as `--cluster NAME` opens it.
    pub fn clusters_of(&self, names: &[String]) -> Result<Vec<ClusterProfile>, String> {
        let known: Vec<String> = self.clusters.keys().cloned().collect();
        check_cluster_list(names, &known)?;
        names
            .iter()
            .map(|n| self.cluster(n).map_err(|e| e.to_string()))
            .collect()
    }

    /// Opens one profile: its secrets are read now (env vars, files), and only its own.
    pub fn cluster(&self, name: &str) -> Result<ClusterProfile, ConfigError> {
        self.clusters
            .get(name)
            .ok_or_else(|| ConfigError::UnknownCluster {
                name: name.to_string(),
                path: self.path.clone(),
                known: if self.clusters.is_empty() {
                    "(none)".to_string()
                } else {
                    self.clusters.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            })?
            .build(name, &self.path, Secrets::Resolve)
            .map(|mut p| {
                let own = std::mem::take(&mut p.commands);
                let mut all: Vec<CustomCommand> = self
                    .commands
                    .iter()
                    .filter(|g| !own.iter().any(|c| c.name == g.name))
                    .cloned()
                    .collect();
                all.extend(own);
                p.commands = all;
                p
            })
    }
}

/// `--cluster a,b,c` as a list: `None` for one name (a single cluster, as always).
pub fn split_cluster_list(spec: &str) -> Option<Vec<String>> {
    spec.contains(',')
        .then(|| spec.split(',').map(|s| s.trim().to_string()).collect())
}

/// Most clusters one merged view holds: the members pane names a member by a 4-byte id whose top
/// byte is its cluster (`state::member_store`).
pub const MAX_MERGED_CLUSTERS: usize = 256;

/// A merged view's cluster names, checked: none empty, none twice, every one known; at least two,
/// at most [`MAX_MERGED_CLUSTERS`].
pub fn check_cluster_list(names: &[String], known: &[String]) -> Result<Vec<String>, String> {
    if names.len() < 2 {
        return Err(format!(
            "a merged view needs at least two clusters, got {}",
            names.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for n in names {
        if n.is_empty() {
            return Err("an empty cluster name in the list (a stray comma?)".to_string());
        }
        if !seen.insert(n.as_str()) {
            return Err(format!("cluster \"{n}\" is named twice"));
        }
        if !known.iter().any(|k| k == n) {
            return Err(format!(
                "no cluster \"{n}\" — known clusters: {}",
                if known.is_empty() {
                    "(none)".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    if names.len() > MAX_MERGED_CLUSTERS {
        return Err(format!(
            "too many clusters in one view: {}, at most {MAX_MERGED_CLUSTERS}",
            names.len()
        ));
    }
    Ok(names.to_vec())
}

/// The variables etcdctl reads, which [`etcdctl_profile`] reads the same way.
pub const ETCDCTL_VARS: [&str; 6] = [
    "ETCDCTL_ENDPOINTS",
    "ETCDCTL_CACERT",
    "ETCDCTL_CERT",
    "ETCDCTL_KEY",
    "ETCDCTL_USER",
    "ETCDCTL_PASSWORD",
];

/// A profile built the way etcdctl reads its environment: `endpoints` (from `--endpoints`) or
/// `ETCDCTL_ENDPOINTS` (comma-separated; a bare `host:port` is https when a TLS file is given,
/// http otherwise), `ETCDCTL_CACERT`, `ETCDCTL_CERT`, `ETCDCTL_KEY`, and `ETCDCTL_USER`
/// (`user:password`, or `user` with `ETCDCTL_PASSWORD`). The prefix is the default `/services/`.
/// `Ok(None)` when no endpoint is given at all. `env` reads a variable (the process environment
/// outside tests).
pub fn etcdctl_profile(
    endpoints: Option<&[String]>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ClusterProfile>, String> {
    let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let listed: Vec<String> = match endpoints {
        Some(e) => e
            .iter()
            .flat_map(|e| e.split(','))
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect(),
        None => var("ETCDCTL_ENDPOINTS")
            .unwrap_or_default()
            .split(',')
            .map(|e| e.trim().to_string())
            .filter(|e| !e.is_empty())
            .collect(),
    };
    if listed.is_empty() {
        return Ok(None);
    }
    let (ca, cert, key) = (
        var("ETCDCTL_CACERT"),
        var("ETCDCTL_CERT"),
        var("ETCDCTL_KEY"),
    );
    let tls = ca.is_some() || cert.is_some() || key.is_some();
    let scheme = if tls { "https://" } else { "http://" };
    let endpoints: Vec<String> = listed
        .into_iter()
        .map(|e| {
            if e.contains("://") {
                e
            } else {
                format!("{scheme}{e}")
            }
        })
        .collect();
    let name = {
        let first = endpoints[0]
            .split_once("://")
            .map_or(&*endpoints[0], |x| x.1);
        match endpoints.len() {
            1 => first.to_string(),
            n => format!("{first}+{}", n - 1),
        }
    };
    let raw = RawEtcd {
        endpoints,
        prefix: default_prefix(),
        ca,
        cert,
        key,
        domain: None,
        user: None,
        password: None,
        password_env: None,
        password_file: None,
        connect_timeout_secs: None,
        keepalive_secs: None,
        discovery_prefix: None,
    };
    let mut etcd = validate_etcd(&name, raw, Secrets::Resolve)
        .map_err(|e| format!("etcdctl's environment (ETCDCTL_*): {e}"))?;
    if let Some(user) = var("ETCDCTL_USER") {
        let (user, password) = match user.split_once(':') {
            Some((u, p)) => (u.to_string(), p.to_string()),
            None => match env("ETCDCTL_PASSWORD") {
                Some(p) => (user, p),
                None => return Err(format!(
                    "ETCDCTL_USER is \"{user}\" without :password and ETCDCTL_PASSWORD is not set — set one of them, as etcdctl needs"
                )),
            },
        };
        etcd.user = Some(user);
        etcd.password = Some(Secret(password));
    }
    let warnings = etcd
        .tls
        .as_ref()
        .and_then(|t| t.key.as_deref())
        .and_then(key_permission_warning)
        .into_iter()
        .collect();
    Ok(Some(ClusterProfile {
        name,
        etcd: Some(etcd),
        readonly: false,
        theme: None,
        keymap: None,
        accent: None,
        checks: None,
        metrics: None,
        logs: None,
        discovery_prefix: DEFAULT_DISCOVERY_PREFIX.to_string(),
        guard: Guardrails::default(),
        warnings,
        commands: Vec::new(),
        links: Vec::new(),
    }))
}

/// A profile as written, checked at load; [`Config::cluster`] turns it into a [`ClusterProfile`].
#[derive(Debug, Clone)]
pub struct ClusterEntry {
    raw: RawCluster,
    lines: SectionLines,
    commands: Vec<CustomCommand>,
}

/// Where each table of a profile starts, for errors found when the profile is opened.
#[derive(Debug, Clone, Copy)]
struct SectionLines {
    cluster: usize,
    etcd: usize,
    checks: usize,
    metrics: usize,
    logs: usize,
}

/// Whether secrets are read (opening a profile) or only checked for form (loading the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Secrets {
    Check,
    Resolve,
}

impl ClusterEntry {
    /// `readonly = true` in the profile.
    pub fn readonly(&self) -> bool {
        self.raw.readonly
    }

    /// The profile's `accent` (border colour), as written.
    pub fn accent(&self) -> Option<String> {
        self.raw.accent.clone()
    }

    fn build(&self, name: &str, path: &Path, mode: Secrets) -> Result<ClusterProfile, ConfigError> {
        let invalid = |line: usize, section: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            line,
            message: format!("clusters.{name}{section}: {message}"),
        };
        let raw = &self.raw;
        let lines = self.lines;
        let discovery_prefix = raw
            .etcd
            .as_ref()
            .and_then(|e| e.get_ref().discovery_prefix.clone())
            .unwrap_or_else(|| DEFAULT_DISCOVERY_PREFIX.to_string());
        let etcd = match &raw.etcd {
            None => None,
            Some(e) => Some(
                validate_etcd(name, e.get_ref().clone(), mode)
                    .map_err(|m| invalid(lines.etcd, ".etcd", m))?,
            ),
        };
        let checks = match &raw.checks {
            None => None,
            Some(c) => Some(
                validate_checks(c.get_ref().clone(), mode)
                    .map_err(|m| invalid(lines.checks, ".checks", m))?,
            ),
        };
        let metrics = match &raw.metrics {
            None => None,
            Some(m) => Some(
                validate_metrics(m.get_ref().clone(), mode)
                    .map_err(|msg| invalid(lines.metrics, ".metrics", msg))?,
            ),
        };
        let logs = match &raw.logs {
            None => None,
            Some(l) => Some(
                validate_logs(l.get_ref().clone(), mode)
                    .map_err(|msg| invalid(lines.logs, ".logs", msg))?,
            ),
        };
        if etcd.is_none() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: lines.cluster,
                message: format!("clusters.{name} has no etcd table — add etcd = {{ endpoints = [\"http://127.0.0.1:2379\"], prefix = \"/services/\" }}"),
            });
        }
        let warnings = etcd
            .as_ref()
            .and_then(|e| e.tls.as_ref()?.key.as_deref())
            .filter(|_| mode == Secrets::Resolve)
            .and_then(key_permission_warning)
            .into_iter()
            .collect();
        let typed = match raw.confirm.as_deref() {
            None | Some("key") => raw.protected,
            Some("typed") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line: lines.cluster,
                    message: format!(
                        "clusters.{name}.confirm = \"{other}\" is not known — use \"key\" (press y) or \"typed\" (type the target's name)"
                    ),
                })
            }
        };
        let max_bulk = raw.max_bulk.unwrap_or(20);
        if !(1..=10_000).contains(&max_bulk) {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: lines.cluster,
                message: format!(
                    "clusters.{name}.max_bulk = {max_bulk} is out of range: 1–10000 targets"
                ),
            });
        }
        let in_range = |key: &str, v: Option<u64>, default: u64, max: u64| match v {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(n) => Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: lines.cluster,
                message: format!("clusters.{name}.{key} = {n} is out of range: 1–{max}"),
            }),
        };
        let flap_count = in_range("flap_count", raw.flap_count, 3, 1000)?;
        let flap_window_mins = in_range("flap_window_mins", raw.flap_window_mins, 10, 1440)?;
        let ack_mins = in_range("ack_mins", raw.ack_mins, 30, 1440)?;
        Ok(ClusterProfile {
            name: name.to_string(),
            warnings,
            etcd,
            readonly: raw.readonly,
            guard: Guardrails {
                typed,
                max_bulk: max_bulk as usize,
                allow_no_expiry: raw.allow_no_expiry,
                flap_count: flap_count as usize,
                flap_window_mins,
                ack_mins,
                notify: raw.notify,
                notify_command: raw.notify_command.clone(),
            },
            theme: raw.theme.clone(),
            keymap: raw.keymap.clone(),
            accent: raw.accent.clone(),
            checks,
            metrics,
            logs,
            discovery_prefix,
            commands: self.commands.clone(),
            links: validate_links(&raw.links).map_err(|m| invalid(lines.cluster, "", m))?,
        })
    }
}

/// A numeric setting's default and the range it must lie in. Values outside are refused at load:
/// an absurd one (`connect_timeout_secs = 18446744073709551615`) would otherwise overflow the
/// first time a task adds it to a clock, and a zero timeout gives up before anything can answer.
struct Bounds {
    key: &'static str,
    default: u64,
    min: u64,
    max: u64,
    unit: &'static str,
    /// Why the minimum is what it is, when it is not obvious.
    why: &'static str,
}

const CONNECT_TIMEOUT: Bounds = Bounds {
    key: "connect_timeout_secs",
    default: 5,
    min: 1,
    max: 300,
    unit: "seconds",
    why: "",
};
const KEEPALIVE: Bounds = Bounds {
    key: "keepalive_secs",
    default: 10,
    min: 5,
    max: 3600,
    unit: "seconds",
    why: " (etcd disconnects clients that ping more often than every 5 s)",
};
const POLL_INTERVAL: Bounds = Bounds {
    key: "interval_secs",
    default: 10,
    min: 1,
    max: 3600,
    unit: "seconds",
    why: "",
};
const LOGS_POLL_INTERVAL: Bounds = Bounds {
    default: 2,
    ..POLL_INTERVAL
};
const REQUEST_TIMEOUT: Bounds = Bounds {
    key: "timeout_secs",
    default: 10,
    min: 1,
    max: 3600,
    unit: "seconds",
    why: "",
};
const BUFFER_LINES: Bounds = Bounds {
    key: "buffer_lines",
    default: 100_000,
    min: 1_000,
    max: 10_000_000,
    unit: "lines",
    why: "",
};

impl Bounds {
    /// The value (or the default when the key is absent), if it lies in the range.
    fn check(&self, value: Option<u64>) -> Result<u64, String> {
        let v = value.unwrap_or(self.default);
        if (self.min..=self.max).contains(&v) {
            Ok(v)
        } else {
            Err(format!(
                "{} = {v} is out of range — use {}–{} {}{}",
                self.key,
                grouped(self.min),
                grouped(self.max),
                self.unit,
                self.why
            ))
        }
    }
}

/// `10000000` → `10,000,000`, so a range in a message reads at a glance.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn validate_etcd(cluster: &str, raw: RawEtcd, mode: Secrets) -> Result<EtcdProfile, String> {
    if raw.endpoints.is_empty() {
        return Err(
            "endpoints is empty — list at least one, e.g. [\"http://127.0.0.1:2379\"]".into(),
        );
    }
    for ep in &raw.endpoints {
        refuse_userinfo("endpoint", ep, "user + password_env or password_file")?;
        // A bare host:port would silently mean plain HTTP, or HTTPS once a TLS file is set.
        let Some(bare) = ep
            .strip_prefix("http://")
            .or_else(|| ep.strip_prefix("https://"))
        else {
            return Err(format!(
                "endpoint \"{ep}\" has no scheme — write it as http://host:port or https://host:port, e.g. \"http://10.0.0.1:2379\""
            ));
        };
        if bare.is_empty() || bare.contains(' ') || !bare.contains(':') {
            return Err(format!(
                "endpoint \"{ep}\" is not host:port — write it like \"http://10.0.0.1:2379\""
            ));
        }
    }
    if raw.prefix.is_empty() {
        return Err("prefix is empty — use the registration prefix, e.g. \"/services/\"".into());
    }
    if !raw.prefix.ends_with('/') {
        return Err(format!(
            "prefix \"{p}\" must end with / — without it the prefix also matches its siblings (\"{p}-old\", \"{p}2\"); write \"{p}/\"",
            p = raw.prefix
        ));
    }
    if let Some(d) = raw
        .discovery_prefix
        .as_deref()
        .filter(|d| !d.is_empty() && !d.ends_with('/'))
    {
        return Err(format!(
            "discovery_prefix \"{d}\" must end with / (the console reads {d}/checks, {d}/metrics and {d}/logs); write \"{d}/\""
        ));
    }
    let connect_timeout = CONNECT_TIMEOUT.check(raw.connect_timeout_secs)?;
    let keepalive = KEEPALIVE.check(raw.keepalive_secs)?;
    if raw.password.is_some() {
        return Err("password is not accepted in the config file — put it in an env var (password_env = \"ETCD_PASSWORD\") or a file (password_file = \"~/.config/opsconsole/etcd.pw\")".into());
    }
    let password = read_secret(&raw.password_env, &raw.password_file, "password", mode)?
        .map(|(secret, _)| secret);
    if password.is_some() && raw.user.is_none() {
        return Err("a password is set but user is not — add user = \"NAME\"".into());
    }
    if raw.user.is_some() && password.is_none() {
        return Err("user is set without a password — add password_env or password_file".into());
    }
    let any_tls = raw.ca.is_some() || raw.cert.is_some() || raw.key.is_some();
    if raw.cert.is_some() != raw.key.is_some() {
        return Err(
            "cert and key go together — give both (client certificate and its key) or neither"
                .into(),
        );
    }
    if any_tls && raw.endpoints.iter().any(|e| e.starts_with("http://")) {
        return Err(
            "TLS files are set but an endpoint uses http:// — use https:// endpoints".into(),
        );
    }
    let tls = if any_tls || raw.endpoints.iter().any(|e| e.starts_with("https://")) {
        let check = |p: &Option<String>, what: &str| -> Result<Option<PathBuf>, String> {
            match p {
                None => Ok(None),
                Some(p) => {
                    let path = expand_tilde(p);
                    if path.is_file() {
                        Ok(Some(path))
                    } else {
                        Err(format!("{what} file {} does not exist", path.display()))
                    }
                }
            }
        };
        let files = TlsFiles {
            ca: check(&raw.ca, "ca")?,
            cert: check(&raw.cert, "cert")?,
            key: check(&raw.key, "key")?,
            domain: raw.domain,
        };
        // Read now so a wrong file is named here, not reported later as "transport error".
        if mode == Secrets::Resolve {
            if let Some(ca) = &files.ca {
                check_pem_certificates("ca", ca)?;
            }
            if let Some(cert) = &files.cert {
                check_pem_certificates("cert", cert)?;
            }
            if let Some(key) = &files.key {
                check_pem_key(key)?;
            }
        }
        Some(files)
    } else {
        None
    };
    let _ = cluster;
    Ok(EtcdProfile {
        endpoints: raw.endpoints,
        prefix: raw.prefix,
        tls,
        user: raw.user,
        password,
        connect_timeout: std::time::Duration::from_secs(connect_timeout),
        keepalive: std::time::Duration::from_secs(keepalive),
    })
}

/// The secret named by `{what}_env` or `{what}_file` and where it came from (for messages). With
/// [`Secrets::Check`] nothing is read and the secret is empty: the profile is only being checked.
fn read_secret(
    env: &Option<String>,
    file: &Option<String>,
    what: &str,
    mode: Secrets,
) -> Result<Option<(Secret, String)>, String> {
    match (env, file) {
        (Some(_), Some(_)) => Err(format!("give either {what}_env or {what}_file, not both")),
        (Some(var), None) if mode == Secrets::Check => {
            Ok(Some((Secret(String::new()), format!("${var}"))))
        }
        (None, Some(f)) if mode == Secrets::Check => Ok(Some((
            Secret(String::new()),
            expand_tilde(f).display().to_string(),
        ))),
        (Some(var), None) => {
            let v = std::env::var(var).map_err(|_| {
                format!("{what}_env names ${var}, which is not set — export it before starting opsconsole")
            })?;
            Ok(Some((Secret(v), format!("${var}"))))
        }
        (None, Some(f)) => {
            let p = expand_tilde(f);
            let v = std::fs::read_to_string(&p)
                .map_err(|e| format!("{what}_file {}: {e}", p.display()))?;
            Ok(Some((
                Secret(v.trim_end_matches(['\n', '\r']).to_string()),
                p.display().to_string(),
            )))
        }
        (None, None) => Ok(None),
    }
}

/// HTTP backends take `http://` or `https://` URLs only, without credentials in them.
fn require_http_url(url: &str) -> Result<(), String> {
    refuse_userinfo("url", url, "user + password_env or password_file")?;
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!("url \"{url}\" must start with http:// or https://"))
    }
}

/// A `user:password@` in a URL would be drawn on screen and copied into every error and log line
/// that names the URL. The message shows the URL with the credentials masked, never as written.
fn refuse_userinfo(what: &str, url: &str, instead: &str) -> Result<(), String> {
    match crate::redact::masked_url(url) {
        Some(masked) => Err(format!(
            "{what} \"{masked}\" has credentials in it (user:password@) — they would be shown on screen and written to the log; remove them and use {instead}"
        )),
        None => Ok(()),
    }
}

/// The connection keys every backend table (checks, metrics, logs) has, as written.
struct HttpKeys<'a> {
    url: &'a str,
    ca: &'a Option<String>,
    interval_secs: Option<u64>,
    timeout_secs: Option<u64>,
    insecure_skip_verify: bool,
}

impl HttpKeys<'_> {
    /// The backend (URL without a trailing `/`, `auth`, the CA file that must exist, the request
    /// timeout) and the poll interval, each bounded; `interval` says the default and range.
    fn backend(
        self,
        auth: HttpAuth,
        interval: &Bounds,
        mode: Secrets,
    ) -> Result<(HttpBackend, std::time::Duration), String> {
        let ca = ca_file(self.ca, mode)?;
        let interval = interval.check(self.interval_secs)?;
        let timeout = REQUEST_TIMEOUT.check(self.timeout_secs)?;
        let backend = HttpBackend {
            url: self.url.trim_end_matches('/').to_string(),
            auth,
            timeout: std::time::Duration::from_secs(timeout),
            ca,
            insecure_skip_verify: self.insecure_skip_verify,
        };
        Ok((backend, std::time::Duration::from_secs(interval)))
    }
}

/// A CA bundle path from the config, which must exist.
fn ca_file(ca: &Option<String>, mode: Secrets) -> Result<Option<PathBuf>, String> {
    match ca {
        None => Ok(None),
        Some(c) => {
            let p = expand_tilde(c);
            if !p.is_file() {
                return Err(format!("ca file {} does not exist", p.display()));
            }
            if mode == Secrets::Resolve {
                check_pem_certificates("ca", &p)?;
            }
            Ok(Some(p))
        }
    }
}

/// A CA bundle or client certificate must hold at least one PEM certificate.
fn check_pem_certificates(what: &str, path: &Path) -> Result<(), String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let bytes = std::fs::read(path).map_err(|e| format!("{what} file {}: {e}", path.display()))?;
    match CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>() {
        Ok(certs) if !certs.is_empty() => Ok(()),
        _ => Err(format!(
            "{what} file {} is not PEM: it holds no -----BEGIN CERTIFICATE----- block (a DER file converts with: openssl x509 -inform der -in FILE -out FILE.pem)",
            path.display()
        )),
    }
}

/// A client key must be one PEM private key (PKCS#8, PKCS#1 or SEC1).
fn check_pem_key(path: &Path) -> Result<(), String> {
    use rustls::pki_types::{pem::PemObject, PrivateKeyDer};
    let bytes = std::fs::read(path).map_err(|e| format!("key file {}: {e}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&bytes).map(|_| ()).map_err(|_| {
        format!(
            "key file {} is not PEM: it holds no -----BEGIN … PRIVATE KEY----- block (a DER key converts with: openssl pkey -inform der -in FILE -out FILE.pem)",
            path.display()
        )
    })
}

/// A private key that others on the machine can read is as good as theirs.
fn key_permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    let who = match (mode & 0o070 != 0, mode & 0o007 != 0) {
        (false, false) => return None,
        (true, false) => "its group",
        (false, true) => "every user",
        (true, true) => "its group and every user",
    };
    Some(format!(
        "key file {} is readable by {who} (mode {mode:04o}) — run chmod 600 {}",
        path.display(),
        path.display()
    ))
}

/// Default etcd prefix holding `checks`, `metrics` and `logs` endpoint descriptions (JSON objects
/// with the same keys as the TOML tables), read when the profile leaves a pane out.
pub const DEFAULT_DISCOVERY_PREFIX: &str = "/config/opsconsole/";

/// A pane backend discovered in etcd: the JSON value is read with the same rules as the TOML table.
pub fn checks_from_json(text: &str) -> Result<ChecksProfile, String> {
    validate_checks(from_json_text(text)?, Secrets::Resolve)
}

pub fn metrics_from_json(text: &str) -> Result<MetricsProfile, String> {
    validate_metrics(from_json_text(text)?, Secrets::Resolve)
}

pub fn logs_from_json(text: &str) -> Result<LogsProfile, String> {
    validate_logs(from_json_text(text)?, Secrets::Resolve)
}

fn from_json_text<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let t = toml::Value::try_from(v).map_err(|e| format!("cannot use it: {e}"))?;
    t.try_into()
        .map_err(|e: toml::de::Error| e.message().trim().to_string())
}

fn validate_checks(raw: RawChecks, mode: Secrets) -> Result<ChecksProfile, String> {
    let kind = match raw.kind.as_str() {
        "sensu-go" => ChecksKind::SensuGo,
        "sensu-core" => ChecksKind::SensuCore,
        "alertmanager" => ChecksKind::Alertmanager,
        "sensu" => {
            return Err("kind \"sensu\" is ambiguous — use \"sensu-go\" (Sensu Go, /api/core/v2) or \"sensu-core\" (Sensu Core 1.x); the other kind is \"alertmanager\"".into())
        }
        other => {
            return Err(format!(
            "kind \"{other}\" is not known — use \"sensu-go\", \"sensu-core\" or \"alertmanager\""
        ))
        }
    };
    if raw.password.is_some() || raw.api_key.is_some() {
        return Err("secrets are not accepted in the config file — use api_key_env / api_key_file or password_env / password_file".into());
    }
    // What the peer tools have configured fills in what the profile leaves out; read when the
    // profile opens (never at load, so a config's checks stay independent of $HOME).
    let home = crate::peers::home();
    let sensuctl = match (kind, mode) {
        (ChecksKind::SensuGo, Secrets::Resolve) => {
            crate::peers::sensuctl(&crate::peers::sensuctl_dir(&home))
        }
        _ => Default::default(),
    };
    let amtool = match (kind, mode) {
        (ChecksKind::Alertmanager, Secrets::Resolve) => {
            crate::peers::amtool(&crate::peers::amtool_files(&home), &|k| {
                std::env::var(k).ok()
            })
        }
        _ => Default::default(),
    };
    let mut origins = ChecksOrigins {
        url: "config".into(),
        namespace: "config".into(),
        auth: "config".into(),
        creator: "config".into(),
    };
    let url = match (raw.url.clone(), kind) {
        (Some(u), _) => u,
        (None, _) if mode == Secrets::Check => "http://unresolved".into(),
        (None, ChecksKind::SensuGo) => match &sensuctl.api_url {
            Some(u) => {
                origins.url = u.origin.clone();
                u.value.clone()
            }
            None => return Err(format!(
                "url is missing and sensuctl has none ({}/cluster) — add url = \"http://sensu:8080\" or run `sensuctl configure`",
                crate::peers::sensuctl_dir(&home).display()
            )),
        },
        (None, ChecksKind::Alertmanager) => match &amtool.url {
            Some(u) => {
                origins.url = u.origin.clone();
                u.value.clone()
            }
            None => return Err(format!(
                "url is missing and amtool has none (AMTOOL_ALERTMANAGER_URL, alertmanager.url in {}) — add url = \"http://alertmanager:9093\"",
                crate::peers::amtool_files(&home).iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" or ")
            )),
        },
        (None, ChecksKind::SensuCore) => {
            return Err("url is missing — add url = \"http://sensu-api:4567\"".into())
        }
    };
    require_http_url(&url)?;
    // sensuctl's credentials go only to sensuctl's own backend.
    let sensuctl_backend = sensuctl
        .api_url
        .as_ref()
        .is_some_and(|u| u.value.trim_end_matches('/') == url.trim_end_matches('/'));
    let key = read_secret(&raw.api_key_env, &raw.api_key_file, "api_key", mode)?;
    let pw = read_secret(&raw.password_env, &raw.password_file, "password", mode)?;
    let auth = match (key, raw.user, pw) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err("give either an API key or user + password, not both".into())
        }
        (Some((key, origin)), None, None) => HttpAuth::ApiKey { key, origin },
        (None, Some(user), Some((password, origin))) => HttpAuth::Basic {
            user,
            password,
            origin,
        },
        (None, Some(_), None) => {
            return Err("user is set without password_env or password_file".into())
        }
        (None, None, Some(_)) => return Err("a password is set but user is not".into()),
        (None, None, None) if sensuctl_backend => {
            match (&sensuctl.api_key, &sensuctl.access_token) {
                (Some(k), _) => {
                    origins.auth = k.origin.clone();
                    HttpAuth::ApiKey {
                        key: Secret(k.value.clone()),
                        origin: k.origin.clone(),
                    }
                }
                (None, Some((token, expires_at))) => {
                    let now = chrono::Utc::now().timestamp();
                    if *expires_at <= now {
                        return Err(format!(
                            "sensuctl's access token ({}) expired {} — run any sensuctl command (it refreshes its own token; opsconsole never does), or set api_key_env",
                            token.origin,
                            chrono::DateTime::from_timestamp(*expires_at, 0)
                                .map(|t| format!("at {}", t.to_rfc3339()))
                                .unwrap_or_default()
                        ));
                    }
                    origins.auth =
                        format!("{} (valid until it expires; never refreshed)", token.origin);
                    HttpAuth::Bearer {
                        token: Secret(token.value.clone()),
                        origin: token.origin.clone(),
                    }
                }
                (None, None) => HttpAuth::None,
            }
        }
        (None, None, None) => HttpAuth::None,
    };
    if mode == Secrets::Resolve && kind == ChecksKind::SensuGo && auth == HttpAuth::None {
        return Err(
            "sensu-go needs api_key_env/api_key_file or user + password_env/password_file (or a logged-in sensuctl for this url)".into(),
        );
    }
    // At load sensuctl is not read; a url without a credential can only work through it.
    if mode == Secrets::Check
        && kind == ChecksKind::SensuGo
        && auth == HttpAuth::None
        && raw.url.is_some()
        && !crate::peers::sensuctl_dir(&home).join("cluster").is_file()
    {
        return Err(
            "sensu-go needs api_key_env/api_key_file or user + password_env/password_file".into(),
        );
    }
    if auth == HttpAuth::None {
        origins.auth = "none".into();
    }
    let from_sensuctl = raw.url.is_none() && sensuctl_backend;
    let ca = raw
        .ca
        .clone()
        .or_else(|| sensuctl.trusted_ca_file.clone().filter(|_| from_sensuctl));
    let (http, interval) = HttpKeys {
        url: &url,
        ca: &ca,
        interval_secs: raw.interval_secs,
        timeout_secs: raw.timeout_secs,
        insecure_skip_verify: raw.insecure_skip_verify
            || (from_sensuctl && sensuctl.insecure_skip_tls_verify),
    }
    .backend(auth, &POLL_INTERVAL, mode)?;
    let namespace = match (raw.namespace, &sensuctl.namespace) {
        (Some(n), _) => n,
        (None, Some(n)) if kind == ChecksKind::SensuGo => {
            origins.namespace = n.origin.clone();
            n.value.clone()
        }
        (None, _) => {
            origins.namespace = "default".into();
            "default".into()
        }
    };
    let creator = match (raw.creator, &amtool.author) {
        (Some(c), _) => Some(c),
        (None, Some(a)) => {
            origins.creator = a.origin.clone();
            Some(a.value.clone())
        }
        (None, None) => None,
    };
    Ok(ChecksProfile {
        kind,
        http,
        namespace,
        interval,
        creator,
        origins,
    })
}

fn validate_metrics(raw: RawMetrics, mode: Secrets) -> Result<MetricsProfile, String> {
    let kind = match raw.kind.as_str() {
        "graphite" => MetricsKind::Graphite,
        "prometheus" => MetricsKind::Prometheus,
        other => {
            return Err(format!(
                "kind \"{other}\" is not known — use \"graphite\" or \"prometheus\""
            ))
        }
    };
    require_http_url(&raw.url)?;
    if raw.password.is_some() {
        return Err(
            "password is not accepted in the config file — use password_env or password_file"
                .into(),
        );
    }
    let auth = match (
        raw.user,
        read_secret(&raw.password_env, &raw.password_file, "password", mode)?,
    ) {
        (Some(user), Some((password, origin))) => HttpAuth::Basic {
            user,
            password,
            origin,
        },
        (None, None) => HttpAuth::None,
        (Some(_), None) => return Err("user is set without password_env or password_file".into()),
        (None, Some(_)) => return Err("a password is set but user is not".into()),
    };
    if raw.series.is_empty() {
        return Err("series is empty — add e.g. series = [{ name = \"cpu\", target = \"stats.gauges.{instance}.cpu\" }]".into());
    }
    let mut series = Vec::new();
    for s in raw.series {
        let template = match (kind, s.target, s.query) {
            (MetricsKind::Graphite, Some(t), None) => t,
            (MetricsKind::Prometheus, None, Some(q)) => q,
            (MetricsKind::Graphite, _, _) => {
                return Err(format!(
                    "series \"{}\": graphite series take target = \"…\" (not query)",
                    s.name
                ))
            }
            (MetricsKind::Prometheus, _, _) => {
                return Err(format!(
                    "series \"{}\": prometheus series take query = \"…\" (not target)",
                    s.name
                ))
            }
        };
        if template.matches('{').count() < template.matches('}').count()
            && kind == MetricsKind::Graphite
        {
            return Err(format!(
                "series \"{}\": unbalanced braces in \"{template}\"",
                s.name
            ));
        }
        series.push(SeriesTemplate {
            name: s.name,
            template,
            cluster: s.cluster,
            unit: s.unit.unwrap_or_default(),
        });
    }
    let (http, interval) = HttpKeys {
        url: &raw.url,
        ca: &raw.ca,
        interval_secs: raw.interval_secs,
        timeout_secs: raw.timeout_secs,
        insecure_skip_verify: raw.insecure_skip_verify,
    }
    .backend(auth, &POLL_INTERVAL, mode)?;
    Ok(MetricsProfile {
        kind,
        http,
        series,
        interval,
    })
}

fn validate_logs(raw: RawLogs, mode: Secrets) -> Result<LogsProfile, String> {
    if raw.password.is_some() {
        return Err(
            "password is not accepted in the config file — use password_env or password_file"
                .into(),
        );
    }
    refuse_userinfo(
        "url",
        &raw.url,
        "password_env or password_file (and user, for a Redis ACL user or Basic auth)",
    )?;
    let kind = match raw.kind.as_str() {
        "redis" => {
            if !(raw.url.starts_with("redis://") || raw.url.starts_with("rediss://")) {
                return Err(format!(
                    "url \"{}\" must start with redis:// (or rediss://)",
                    raw.url
                ));
            }
            match (&raw.channel, &raw.list) {
                (Some(_), Some(_)) => return Err("give either channel (publish mode) or list (queue mode), not both".into()),
                (None, None) => return Err("give channel = \"syslog\" (omhiredis publish mode) or list = \"syslog\" (queue mode)".into()),
                _ => {}
            }
            if raw.ca.is_some() && !raw.url.starts_with("rediss://") {
                return Err(format!(
                    "ca applies to TLS: write the url as rediss://… (not \"{}\")",
                    raw.url
                ));
            }
            if raw.userpush.is_some() && raw.list.is_none() {
                return Err(
                    "userpush applies to a list (queue mode), not to a Pub/Sub channel".into(),
                );
            }
            LogsKind::Redis {
                channel: raw.channel,
                list: raw.list,
                userpush: raw.userpush.unwrap_or(false),
            }
        }
        "elasticsearch" | "logstash" => LogsKind::Elasticsearch {
            index: raw.index.unwrap_or_else(|| "logstash-*".into()),
        },
        "loki" => LogsKind::Loki {
            query: raw
                .query
                .ok_or("loki needs query = '{job=\"syslog\"}' (a LogQL stream selector)")?,
            tenant: raw.tenant,
        },
        other => {
            return Err(format!(
                "kind \"{other}\" is not known — use \"redis\", \"elasticsearch\" or \"loki\""
            ))
        }
    };
    let http_url = raw.url.starts_with("http://") || raw.url.starts_with("https://");
    if !matches!(kind, LogsKind::Redis { .. }) && !http_url {
        return Err(format!(
            "url \"{}\" must start with http:// or https://",
            raw.url
        ));
    }
    let key = read_secret(&raw.api_key_env, &raw.api_key_file, "api_key", mode)?;
    let pw = read_secret(&raw.password_env, &raw.password_file, "password", mode)?;
    let auth = match (key, raw.user, pw) {
        (Some(_), _, Some(_)) => {
            return Err("give either an API key or a password, not both".into())
        }
        (Some((key, origin)), None, None) => HttpAuth::ApiKey { key, origin },
        (None, Some(user), Some((password, origin))) => HttpAuth::Basic {
            user,
            password,
            origin,
        },
        // Redis AUTH may be a password alone (requirepass).
        (None, None, Some((password, origin))) if matches!(kind, LogsKind::Redis { .. }) => {
            HttpAuth::Basic {
                user: String::new(),
                password,
                origin,
            }
        }
        (None, None, Some(_)) => return Err("a password is set but user is not".into()),
        (None, Some(_), None) => {
            return Err("user is set without password_env or password_file".into())
        }
        (Some(_), Some(_), None) => return Err("give either an API key or user + password".into()),
        (None, None, None) => HttpAuth::None,
    };
    // Redis too: its URL, password and timeout travel in `http`.
    let (http, interval) = HttpKeys {
        url: &raw.url,
        ca: &raw.ca,
        interval_secs: raw.interval_secs,
        timeout_secs: raw.timeout_secs,
        insecure_skip_verify: raw.insecure_skip_verify,
    }
    .backend(auth, &LOGS_POLL_INTERVAL, mode)?;
    let buffer_lines = BUFFER_LINES.check(raw.buffer_lines)?;
    let timezone = match &raw.timezone {
        Some(name) => crate::model::SenderZone::parse(name)?,
        None => Default::default(),
    };
    let level_label = match raw.level_label {
        Some(_) if !matches!(kind, LogsKind::Loki { .. }) => {
            return Err("level_label applies to loki (the label its histogram reads levels from)".into())
        }
        Some(l)
            if l.is_empty()
                || l.starts_with(|c: char| c.is_ascii_digit())
                || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            return Err(format!(
                "level_label \"{l}\" is not a Loki label name (letters, digits and _, not starting with a digit)"
            ))
        }
        other => other,
    };
    Ok(LogsProfile {
        kind,
        http,
        interval,
        buffer_lines: buffer_lines as usize,
        timezone,
        fields: raw.fields.clone().unwrap_or_default(),
        hide_fields: raw.hide_fields.clone().unwrap_or_default(),
        continuation: match &raw.continuation {
            None => None,
            Some(list) => Some(regex::RegexSet::new(list).map_err(|e| {
                format!(
                    "continuation: not a list of regexes — {}",
                    e.to_string().lines().last().unwrap_or("")
                )
            })?),
        },
        level_label,
    })
}

/// 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Config, ConfigError> {
        Config::parse(s, Path::new("/cfg/config.toml"))
    }

    #[test]
    fn minimal_profile() {
        let c =
            parse("[clusters.prod]\netcd = { endpoints = [\"http://127.0.0.1:2379\"] }\n").unwrap();
        let p = c.cluster("prod").unwrap();
        assert_eq!(p.etcd.as_ref().unwrap().prefix, "/services/");
        assert!(!p.readonly);
    }

    #[test]
    fn ack_and_notify_settings() {
        let c = parse("[clusters.prod]\netcd = { endpoints = [\"http://a:1\"] }\nack_mins = 15\nnotify = true\nnotify_command = [\"notify-send\", \"{title}\", \"{body}\"]\n[clusters.dev]\netcd = { endpoints = [\"http://a:1\"] }\n").unwrap();
        let g = &c.cluster("prod").unwrap().guard;
        assert_eq!(g.ack_mins, 15);
        assert!(g.notify);
        assert_eq!(g.notify_command, ["notify-send", "{title}", "{body}"]);
        let g = &c.cluster("dev").unwrap().guard;
        assert_eq!((g.ack_mins, g.notify), (30, false));
        let e = parse("[clusters.prod]\netcd = { endpoints = [\"http://a:1\"] }\nack_mins = 0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ack_mins = 0 is out of range"), "{e}");
    }

    #[test]
    fn unknown_key_names_line() {
        let e =
            parse("[clusters.prod]\netcd = { endpoints = [\"http://a:1\"] }\nreadonyl = true\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("/cfg/config.toml line 3"), "{e}");
        assert!(e.contains("readonyl"), "{e}");
    }

    #[test]
    fn literal_password_refused() {
        let e = parse("[clusters.prod]\netcd = { endpoints = [\"http://a:1\"], user = \"u\", password = \"hunter2\" }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("password_env"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    /// Secrets are read for the profile being opened, and only for it: cluster b's unset
    /// variable, missing password file and unset API key block neither loading nor cluster a.
    #[test]
    fn secrets_are_read_only_for_the_profile_opened() {
        let text = "[clusters.a]\netcd = { endpoints = [\"http://a:1\"] }\n\
            [clusters.b]\netcd = { endpoints = [\"http://b:1\"], user = \"ops\", password_env = \"OPSCONSOLE_TEST_UNSET_B\" }\n\
            checks = { kind = \"sensu-go\", url = \"http://s\", api_key_env = \"OPSCONSOLE_TEST_UNSET_B_KEY\" }\n\
            [clusters.c]\netcd = { endpoints = [\"http://c:1\"], user = \"ops\", password_file = \"/nonexistent/opsconsole-pw\" }\n";
        let c = parse(text).expect("loads although b and c cannot open");
        assert_eq!(c.clusters.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        let a = c.cluster("a").expect("a opens");
        assert!(a.etcd.unwrap().password.is_none());
        let e = c.cluster("b").unwrap_err().to_string();
        assert!(
            e.contains("/cfg/config.toml line 4")
                && e.contains("clusters.b.etcd")
                && e.contains("$OPSCONSOLE_TEST_UNSET_B, which is not set"),
            "{e}"
        );
        let e = c.cluster("c").unwrap_err().to_string();
        assert!(
            e.contains("line 7") && e.contains("password_file /nonexistent/opsconsole-pw"),
            "{e}"
        );
        // Form is still checked for every profile at load.
        let e = parse(
            "[clusters.a]\netcd = { endpoints = [\"http://a:1\"] }\n\
             [clusters.b]\netcd = { endpoints = [\"http://b:1\"], password_env = \"X\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 4") && e.contains("user is not"), "{e}");
    }

    #[test]
    fn secret_is_read_when_its_profile_opens() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        let c = parse(&format!(
            "[clusters.a]\netcd = {{ endpoints = [\"http://a:1\"], user = \"ops\", password_file = \"{}\" }}\n",
            pw.display()
        ))
        .unwrap();
        std::fs::write(&pw, "changed\n").unwrap();
        let etcd = c.cluster("a").unwrap().etcd.unwrap();
        assert_eq!(etcd.password.unwrap().expose(), "changed");
    }

    #[test]
    fn unknown_cluster_lists_known() {
        let c = parse("[clusters.a]\netcd = { endpoints = [\"http://a:1\"] }\n").unwrap();
        let e = c.cluster("prod").unwrap_err().to_string();
        assert!(e.contains("known clusters: a"), "{e}");
    }

    #[test]
    fn secret_debug_is_redacted() {
        assert_eq!(format!("{:?}", Secret("x".into())), "Secret(***)");
    }

    #[test]
    fn redis_list_push_side() {
        let base = "[clusters.p]\netcd = { endpoints = [\"http://a:1\"] }\n";
        let logs = |rest: &str| {
            parse(&format!(
                "{base}logs = {{ kind = \"redis\", url = \"redis://r:6379\", {rest} }}\n"
            ))
        };
        let kind = |c: Config| c.cluster("p").unwrap().logs.clone().unwrap().kind;
        assert_eq!(
            kind(logs("list = \"syslog\"").unwrap()),
            LogsKind::Redis {
                channel: None,
                list: Some("syslog".into()),
                userpush: false
            }
        );
        assert_eq!(
            kind(logs("list = \"syslog\", userpush = true").unwrap()),
            LogsKind::Redis {
                channel: None,
                list: Some("syslog".into()),
                userpush: true
            }
        );
        let e = logs("channel = \"syslog\", userpush = true")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("userpush applies to a list"),
            "{e}"
        );
    }

    #[test]
    fn display_zone_in_defaults() {
        let base = "[clusters.p]\netcd = { endpoints = [\"http://a:1\"] }\n";
        assert_eq!(parse(base).unwrap().zone, None);
        let c = parse(&format!("[defaults]\nzone = \"Asia/Tokyo\"\n{base}")).unwrap();
        assert_eq!(
            c.zone,
            Some(crate::model::DisplayZone::Named(chrono_tz::Tz::Asia__Tokyo))
        );
        let c = parse(&format!("[defaults]\nzone = \"UTC\"\n{base}")).unwrap();
        assert_eq!(c.zone, Some(crate::model::DisplayZone::Utc));
        let e = parse(&format!("[defaults]\nzone = \"Tokyo\"\n{base}"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("not an IANA zone name"),
            "{e}"
        );
    }

    #[test]
    fn logs_fields_and_continuation() {
        let base = "[clusters.p]\netcd = { endpoints = [\"http://a:1\"] }\n";
        let logs = |rest: &str| {
            parse(&format!(
                "{base}logs = {{ kind = \"redis\", url = \"redis://r:6379\", channel = \"s\"{rest} }}\n"
            ))
        };
        let l = logs("")
            .unwrap()
            .cluster("p")
            .unwrap()
            .logs
            .clone()
            .unwrap();
        assert!(l.fields.is_empty() && l.continuation.is_none());
        let l = logs(", fields = [\"trace_id\"], continuation = [\"^\\\\s\", \"^at \"]")
            .unwrap()
            .cluster("p")
            .unwrap()
            .logs
            .clone()
            .unwrap();
        assert_eq!(l.fields, ["trace_id"]);
        assert!(l.continuation.unwrap().is_match("  at x"));
        let e = logs(", continuation = [\"(\"]").unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("continuation"), "{e}");
    }

    #[test]
    fn loki_level_label() {
        let base = "[clusters.p]\netcd = { endpoints = [\"http://a:1\"] }\n";
        let loki = |rest: &str| {
            parse(&format!(
                "{base}logs = {{ kind = \"loki\", url = \"http://l:3100\", query = '{{job=\"x\"}}'{rest} }}\n"
            ))
        };
        let label = |c: Config| c.cluster("p").unwrap().logs.clone().unwrap().level_label;
        assert_eq!(label(loki("").unwrap()), None);
        assert_eq!(
            label(loki(", level_label = \"severity\"").unwrap()).as_deref(),
            Some("severity")
        );
        let e = loki(", level_label = \"sev-erity\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a Loki label name"), "{e}");
        let e = parse(&format!(
            "{base}logs = {{ kind = \"redis\", url = \"redis://r:6379\", channel = \"s\", level_label = \"level\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("level_label applies to loki"), "{e}");
    }

    #[test]
    fn logs_timezone() {
        let base = "[clusters.p]\netcd = { endpoints = [\"http://a:1\"] }\n";
        let logs = |rest: &str| {
            parse(&format!(
                "{base}logs = {{ kind = \"redis\", url = \"redis://r:6379\", channel = \"s\"{rest} }}\n"
            ))
        };
        let zone = |c: Config| c.cluster("p").unwrap().logs.clone().unwrap().timezone;
        assert_eq!(zone(logs("").unwrap()), crate::model::SenderZone::Local);
        assert_eq!(
            zone(logs(", timezone = \"Europe/Berlin\"").unwrap()),
            crate::model::SenderZone::Named(chrono_tz::Tz::Europe__Berlin)
        );
        let e = logs(", timezone = \"Berlin\"").unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("not an IANA zone name"),
            "{e}"
        );
    }

    #[test]
    fn checks_profiles() {
        let base = "[clusters.p]\netcd = { endpoints = [\"http://a:1\"] }\n";
        let c = parse(&format!(
            "{base}checks = {{ kind = \"alertmanager\", url = \"http://am:9093/\" }}\n"
        ))
        .unwrap();
        let ch = c.cluster("p").unwrap().checks.clone().unwrap();
        assert_eq!(ch.kind, ChecksKind::Alertmanager);
        assert_eq!(ch.http.url, "http://am:9093");
        assert_eq!(ch.interval, std::time::Duration::from_secs(10));
        let e = parse(&format!(
            "{base}checks = {{ kind = \"nagios\", url = \"http://x\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 3") && e.contains("nagios"), "{e}");
        let e = parse(&format!(
            "{base}checks = {{ kind = \"sensu-go\", url = \"http://x\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("api_key_env"), "{e}");
        let c = parse(&format!("{base}checks = {{ kind = \"sensu-go\", url = \"http://x\", api_key_env = \"OPSCONSOLE_TEST_UNSET_VAR\" }}\n")).unwrap();
        let e = c.cluster("p").unwrap_err().to_string();
        assert!(
            e.contains("OPSCONSOLE_TEST_UNSET_VAR") && e.contains("not set"),
            "{e}"
        );
    }

    /// Every bounded number: each end of its range loads, one past either end is refused with
    /// the key, the value and the range in the message, on the line of its table.
    #[test]
    fn numbers_out_of_range_are_refused_with_the_range() {
        let etcd = "etcd = { endpoints = [\"http://a:1\"] }";
        let table = |section: &str, setting: &str| -> String {
            match section {
                "etcd" => format!("etcd = {{ endpoints = [\"http://a:1\"], {setting} }}"),
                "checks" => format!(
                    "{etcd}\nchecks = {{ kind = \"alertmanager\", url = \"http://am:9093\", {setting} }}"
                ),
                "metrics" => format!(
                    "{etcd}\nmetrics = {{ kind = \"graphite\", url = \"http://g\", series = [{{ name = \"a\", target = \"b\" }}], {setting} }}"
                ),
                "logs" => format!(
                    "{etcd}\nlogs = {{ kind = \"loki\", url = \"http://l\", query = '{{job=\"x\"}}', {setting} }}"
                ),
                other => unreachable!("{other}"),
            }
        };
        let cases: &[(&str, &str, u64, u64, &str)] = &[
            ("etcd", "connect_timeout_secs", 1, 300, "1–300 seconds"),
            ("etcd", "keepalive_secs", 5, 3600, "5–3,600 seconds"),
            ("checks", "interval_secs", 1, 3600, "1–3,600 seconds"),
            ("checks", "timeout_secs", 1, 3600, "1–3,600 seconds"),
            ("metrics", "interval_secs", 1, 3600, "1–3,600 seconds"),
            ("metrics", "timeout_secs", 1, 3600, "1–3,600 seconds"),
            ("logs", "interval_secs", 1, 3600, "1–3,600 seconds"),
            ("logs", "timeout_secs", 1, 3600, "1–3,600 seconds"),
            (
                "logs",
                "buffer_lines",
                1000,
                10_000_000,
                "1,000–10,000,000 lines",
            ),
        ];
        for &(section, key, min, max, range) in cases {
            let line = if section == "etcd" { 2 } else { 3 };
            for ok in [min, max] {
                let text = format!(
                    "[clusters.p]\n{}\n",
                    table(section, &format!("{key} = {ok}"))
                );
                parse(&text).unwrap_or_else(|e| panic!("{section}.{key} = {ok} loads: {e}"));
            }
            let mut bad = vec![min - 1, max + 1, u64::MAX];
            bad.dedup();
            for v in bad {
                let text = format!(
                    "[clusters.p]\n{}\n",
                    table(section, &format!("{key} = {v}"))
                );
                let e = parse(&text)
                    .expect_err(&format!("{section}.{key} = {v} is refused"))
                    .to_string();
                assert!(
                    e.contains(&format!("/cfg/config.toml line {line}"))
                        && e.contains(&format!("clusters.p.{section}"))
                        && e.contains(&format!("{key} = {v} is out of range"))
                        && e.contains(range),
                    "{section}.{key} = {v}: {e}"
                );
            }
        }
    }

    #[test]
    fn defaults_lie_in_their_ranges() {
        let c = parse(
            "[clusters.p]\netcd = { endpoints = [\"http://a:1\"] }\n\
             checks = { kind = \"alertmanager\", url = \"http://am:9093\" }\n\
             metrics = { kind = \"graphite\", url = \"http://g\", series = [{ name = \"a\", target = \"b\" }] }\n\
             logs = { kind = \"loki\", url = \"http://l\", query = '{job=\"x\"}' }\n",
        )
        .unwrap();
        let p = c.cluster("p").unwrap();
        let secs = std::time::Duration::from_secs;
        let etcd = p.etcd.as_ref().unwrap();
        assert_eq!((etcd.connect_timeout, etcd.keepalive), (secs(5), secs(10)));
        let checks = p.checks.as_ref().unwrap();
        assert_eq!((checks.interval, checks.http.timeout), (secs(10), secs(10)));
        let metrics = p.metrics.as_ref().unwrap();
        assert_eq!(
            (metrics.interval, metrics.http.timeout),
            (secs(10), secs(10))
        );
        let logs = p.logs.as_ref().unwrap();
        assert_eq!((logs.interval, logs.http.timeout), (secs(2), secs(10)));
        assert_eq!(logs.buffer_lines, 100_000);
    }

    /// Config that cannot work as written: refused at load, saying what to write instead.
    #[test]
    fn settings_that_cannot_work_are_refused() {
        let cases = [
            (
                "etcd = { endpoints = [\"127.0.0.1:2379\"] }",
                "endpoint \"127.0.0.1:2379\" has no scheme",
            ),
            (
                "etcd = { endpoints = [\"http://a:1\", \"10.0.0.2:2379\"] }",
                "endpoint \"10.0.0.2:2379\" has no scheme",
            ),
            (
                "etcd = { endpoints = [\"http://a:1\"], prefix = \"/services\" }",
                "prefix \"/services\" must end with /",
            ),
            (
                "etcd = { endpoints = [\"http://a:1\"], discovery_prefix = \"/config/opsconsole\" }",
                "discovery_prefix \"/config/opsconsole\" must end with /",
            ),
            (
                "etcd = { endpoints = [\"http://a:1\"], connect_timeout_secs = 0 }",
                "connect_timeout_secs = 0 is out of range",
            ),
            (
                "etcd = { endpoints = [\"http://a:1\"] }\nchecks = { kind = \"alertmanager\", url = \"http://am\", timeout_secs = 0 }",
                "timeout_secs = 0 is out of range",
            ),
            (
                "etcd = { endpoints = [\"http://a:1\"] }\nmetrics = { kind = \"graphite\", url = \"http://g\", series = [{ name = \"a\", target = \"b\" }], timeout_secs = 0 }",
                "timeout_secs = 0 is out of range",
            ),
            (
                "etcd = { endpoints = [\"http://a:1\"] }\nlogs = { kind = \"redis\", url = \"redis://r:6379\", channel = \"c\", timeout_secs = 0 }",
                "timeout_secs = 0 is out of range",
            ),
        ];
        for (table, expected) in cases {
            let e = parse(&format!("[clusters.p]\n{table}\n"))
                .expect_err(table)
                .to_string();
            assert!(
                e.contains("/cfg/config.toml line ") && e.contains(expected),
                "{table}: {e}"
            );
        }
        // An empty discovery prefix still turns discovery off.
        let c = parse(
            "[clusters.p]\netcd = { endpoints = [\"http://a:1\"], discovery_prefix = \"\" }\n",
        )
        .unwrap();
        assert_eq!(c.cluster("p").unwrap().discovery_prefix, "");
    }

    /// `user:password@` in any URL — etcd endpoints (with or without scheme), the checks,
    /// metrics and logs urls, and the same in discovery JSON — is refused, naming
    /// password_env/password_file and showing the URL masked, never the password.
    #[test]
    fn credentials_in_urls_are_refused() {
        let etcd = "etcd = { endpoints = [\"http://a:1\"] }";
        let series = "series = [{ name = \"a\", target = \"b\" }]";
        let tables = [
            "etcd = { endpoints = [\"http://ops:hunter2@10.0.0.1:2379\"] }".to_string(),
            "etcd = { endpoints = [\"http://a:1\", \"https://ops:hunter2@10.0.0.2:2379\"] }".to_string(),
            "etcd = { endpoints = [\"ops:hunter2@10.0.0.1:2379\"] }".to_string(),
            format!("{etcd}\nchecks = {{ kind = \"alertmanager\", url = \"http://ops:hunter2@am:9093\" }}"),
            format!("{etcd}\nchecks = {{ kind = \"sensu-go\", url = \"https://ops:hunter2@sensu:8080\", api_key_env = \"K\" }}"),
            format!("{etcd}\nmetrics = {{ kind = \"graphite\", url = \"http://ops:hunter2@g\", {series} }}"),
            format!("{etcd}\nlogs = {{ kind = \"redis\", url = \"redis://:hunter2@r:6379\", channel = \"c\" }}"),
            format!("{etcd}\nlogs = {{ kind = \"elasticsearch\", url = \"http://ops:hunter2@es:9200\" }}"),
            format!("{etcd}\nlogs = {{ kind = \"loki\", url = \"http://ops@loki:3100\", query = '{{job=\"x\"}}' }}"),
        ];
        for table in &tables {
            let e = parse(&format!("[clusters.p]\n{table}\n"))
                .expect_err(table)
                .to_string();
            assert!(
                e.contains("/cfg/config.toml line ")
                    && e.contains("has credentials in it")
                    && e.contains("***@")
                    && e.contains("password_env")
                    && e.contains("password_file")
                    && !e.contains("hunter2"),
                "{table}: {e}"
            );
        }
        let discovered = [
            checks_from_json(r#"{"kind":"alertmanager","url":"http://ops:hunter2@am:9093"}"#)
                .err(),
            metrics_from_json(r#"{"kind":"prometheus","url":"http://ops:hunter2@p:9090","series":[{"name":"up","query":"up"}]}"#)
                .err(),
            logs_from_json(r#"{"kind":"loki","url":"https://ops:hunter2@l","query":"{job=\"x\"}"}"#)
                .err(),
        ];
        for e in discovered {
            let e = e.expect("refused");
            assert!(
                e.contains("has credentials in it")
                    && e.contains("password_env")
                    && !e.contains("hunter2"),
                "{e}"
            );
        }
    }

    #[test]
    fn bad_endpoint() {
        let e = parse("[clusters.p]\netcd = { endpoints = [\"localhost\"] }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("host:port"), "{e}");
    }

    #[test]
    fn views_name_known_clusters_each_once() {
        let base = "[clusters.prod]\netcd = { endpoints = [\"http://127.0.0.1:2379\"] }\n[clusters.prod-eu]\netcd = { endpoints = [\"http://127.0.0.1:2380\"] }\n";
        let path = Path::new("/c/config.toml");
        let ok = Config::parse(
            &format!("{base}[views.both]\nclusters = [\"prod\", \"prod-eu\"]\n"),
            path,
        )
        .expect("a good view");
        assert_eq!(ok.view("both").unwrap(), vec!["prod", "prod-eu"]);
        assert!(ok.view("none").unwrap_err().contains("known views: both"));
        assert_eq!(
            ok.clusters_of(&["prod-eu".into(), "prod".into()])
                .unwrap()
                .len(),
            2
        );
        let e = ok
            .clusters_of(&["prod".into(), "nowhere".into()])
            .unwrap_err();
        assert!(
            e.contains("no cluster \"nowhere\" — known clusters: prod, prod-eu"),
            "{e}"
        );
        for (view, want) in [
            ("[\"prod\", \"prod\"]", "cluster \"prod\" is named twice"),
            ("[\"prod\", \"staging\"]", "no cluster \"staging\""),
            ("[\"prod\"]", "at least two clusters"),
        ] {
            let e = Config::parse(&format!("{base}[views.v]\nclusters = {view}\n"), path)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("[views.v]") && e.contains(want) && e.contains("line 5"),
                "{e}"
            );
        }
        let many: Vec<String> = (0..=MAX_MERGED_CLUSTERS).map(|i| format!("c{i}")).collect();
        let e = check_cluster_list(&many, &many).unwrap_err();
        assert!(e.contains("too many clusters in one view: 257"), "{e}");
        assert!(check_cluster_list(&many[..MAX_MERGED_CLUSTERS], &many).is_ok());
        assert_eq!(split_cluster_list("prod"), None);
        assert_eq!(
            split_cluster_list("prod, prod-eu"),
            Some(vec!["prod".to_string(), "prod-eu".to_string()])
        );
    }
}

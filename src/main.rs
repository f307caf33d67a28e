//! `opsconsole --cluster NAME`: parse the CLI, load and validate the profile (failing with one clear
//! line before the terminal is touched), then run the console until quit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use opsconsole::app::{self, Exit, Settings};
use opsconsole::cli::profile::{choose, process_env, Chosen};
use opsconsole::config::{ClusterProfile, Config, ConfigError};
use opsconsole::keymap::{self, Keymap};
use opsconsole::model::DisplayZone;
use opsconsole::state::ClusterChoice;
use opsconsole::theme::Theme;
use opsconsole::{audit, paths};

opsconsole::install_allocator!();

#[derive(Debug, Parser)]
#[command(
    name = "opsconsole",
    version,
    about = "One terminal screen for a fleet registered in etcd: membership, checks, metrics, logs",
    after_help = "The profile: --cluster or --endpoints, else $OPSCONSOLE_CLUSTER, else [defaults] cluster in the config, else etcdctl's environment (ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY, ETCDCTL_USER, ETCDCTL_PASSWORD).\nConfig: $XDG_CONFIG_HOME/opsconsole/config.toml (see README). Secrets come from *_env / *_file keys, never from the command line.\nLog file: $XDG_STATE_HOME/opsconsole/opsconsole.log (level from OPSCONSOLE_LOG, e.g. debug; rotated at 10 MiB, 3 old files kept)."
)]
struct Cli {
    /// Cluster profile to open (a [clusters.NAME] table in the config); several, comma-separated
    /// (`prod,prod-eu`), merge into one view with a CLUSTER column
    #[arg(long, short = 'c', value_name = "NAME[,NAME…]")]
    cluster: Option<String>,
    /// A merged view from the config (`[views.NAME] clusters = ["a", "b"]`)
    #[arg(long, value_name = "NAME", conflicts_with_all = ["cluster", "endpoints", "demo"])]
    view: Option<String>,
    /// etcd endpoints, as etcdctl takes them (no config needed; TLS and user from ETCDCTL_*)
    #[arg(
        long,
        value_name = "URL",
        value_delimiter = ',',
        conflicts_with = "cluster"
    )]
    endpoints: Vec<String>,
    /// Config file [default: $XDG_CONFIG_HOME/opsconsole/config.toml]
    #[arg(long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    /// Refuse every mutating action (deregister, silence, unsilence)
    #[arg(long)]
    readonly: bool,
    /// Show times in UTC instead of the local zone
    #[arg(long, global = true)]
    utc: bool,
    /// Show (and read typed) times in this zone: an IANA name (Europe/Berlin), UTC or local;
    /// also `zone = "…"` in [defaults]. `Z` cycles local, UTC and this zone.
    #[arg(long, global = true, value_name = "ZONE", value_parser = parse_zone)]
    zone: Option<DisplayZone>,
    /// Mouse: click focuses and selects, wheel scrolls, double-click opens the detail (off by
    /// default so the terminal's own text selection works; also `mouse = true` in [defaults])
    #[arg(long)]
    mouse: bool,
    /// Try it without servers or config: a simulated fleet where every key works (its audit
    /// lines go to demo-audit.log, never the real audit log)
    #[arg(long, conflicts_with_all = ["cluster", "endpoints"])]
    demo: bool,
    /// Keymap: a built-in name (default, emacs) or a TOML file merged over the default
    #[arg(long, value_name = "NAME|PATH", global = true)]
    keymap: Option<String>,
    /// Theme: a built-in name (default, high-contrast, light) or a TOML file
    #[arg(long, value_name = "NAME|PATH")]
    theme: Option<String>,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Print every path opsconsole reads or writes, and where each setting came from
    Info {
        /// One JSON object instead of text
        #[arg(long)]
        json: bool,
    },
    /// Ansible dynamic inventory of the live membership (--list, --host H)
    Inventory(opsconsole::cli::inventory::Args),
    /// Print members, failing checks, silences and recent error logs (markdown or JSON), no TUI
    Snapshot(opsconsole::cli::snapshot::Args),
    /// Print the active keymap: every context, key and action (what `?` shows in the console)
    Keys,
    /// Print a shell completion script (cluster names from the config are completed)
    Completions {
        /// bash, zsh or fish
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the manual page (roff): `opsconsole man | man -l -`
    Man,
    /// Print an incident's hand-off from its journal (`:incident start NAME` in the console)
    Journal {
        /// The incident's name
        name: String,
        /// markdown (default) or json
        #[arg(long, value_enum, default_value = "markdown")]
        format: JournalFormat,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum JournalFormat {
    Markdown,
    Json,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// `opsconsole journal NAME`: the hand-off on stdout.
fn journal(name: &str, format: JournalFormat, utc: DisplayZone) -> ExitCode {
    let dir = paths::journal_dir();
    let (entries, bad) = match opsconsole::journal::read(&dir, name) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if bad > 0 {
        say(format_args!(
            "{bad} journal lines could not be read and are left out"
        ));
    }
    let text = match format {
        JournalFormat::Markdown => opsconsole::model::journal::markdown(name, &entries, utc),
        JournalFormat::Json => opsconsole::model::journal::json(name, &entries) + "\n",
    };
    use std::io::Write;
    match std::io::stdout().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => fail(format!("cannot write the journal: {e}")),
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    say(format_args!("{msg}"));
    ExitCode::from(2)
}

/// One line on stderr. Not `eprintln!`: when the terminal has gone away (a closed tmux pane or ssh
/// session) writing fails, and `eprintln!` would panic on the way out.
fn say(msg: std::fmt::Arguments) {
    opsconsole::cli::say(msg);
}

fn parse_zone(text: &str) -> Result<DisplayZone, String> {
    DisplayZone::parse(text)
}

/// The display zone from the flags, over the config's: `--utc`, `--zone`, `[defaults] zone`,
/// else local.
fn start_zone(utc: bool, flag: Option<DisplayZone>, config: Option<&Config>) -> DisplayZone {
    if utc {
        return DisplayZone::Utc;
    }
    flag.or_else(|| config.and_then(|c| c.zone))
        .unwrap_or(DisplayZone::Local)
}

/// The named zone `Z` offers besides local and UTC.
fn configured_zone(flag: Option<DisplayZone>, config: Option<&Config>) -> Option<chrono_tz::Tz> {
    [flag, config.and_then(|c| c.zone)]
        .into_iter()
        .flatten()
        .find_map(|z| match z {
            DisplayZone::Named(tz) => Some(tz),
            _ => None,
        })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(paths::default_config_file);
    let pick = opsconsole::cli::Pick {
        config_path: &config_path,
        cluster: cli.cluster.as_deref(),
        endpoints: &cli.endpoints,
    };

    match &cli.command {
        Some(Sub::Info { json }) => return info(&cli, &config_path, *json),
        Some(Sub::Inventory(args)) => return opsconsole::cli::inventory::run(args, &pick),
        Some(Sub::Snapshot(args)) => {
            return opsconsole::cli::snapshot::run(
                args,
                &pick,
                start_zone(cli.utc, cli.zone, Config::load(&config_path).ok().as_ref()),
            )
        }
        Some(Sub::Keys) => return keys(&cli, &config_path),
        Some(Sub::Completions { shell }) => return completions(*shell, &config_path),
        Some(Sub::Man) => return man(),
        Some(Sub::Journal { name, format }) => {
            return journal(
                name,
                *format,
                start_zone(cli.utc, cli.zone, Config::load(&config_path).ok().as_ref()),
            )
        }
        None => {}
    }

    let config = Config::load(&config_path);
    // A merged view (`--cluster a,b`, `--view NAME`): its clusters, checked before anything runs.
    let merged = match merged_clusters(&cli, &config) {
        Ok(m) => m,
        Err(e) => return fail(e),
    };
    let (cluster, adhoc, origin) = if let Some((names, _, _)) = &merged {
        (names[0].clone(), None, None)
    } else if cli.demo {
        ("demo".to_string(), None, None)
    } else {
        match choose(
            cli.cluster.as_deref(),
            &cli.endpoints,
            &config_path,
            &config,
            &process_env,
        ) {
            Ok(Chosen::Named { name, origin }) => (name, None, Some(origin)),
            Ok(Chosen::Adhoc { profile, origin }) => {
                (profile.name.clone(), Some(*profile), Some(origin))
            }
            Err(e) => return fail(e),
        }
    };

    let loader = Loader {
        config_path: config_path.clone(),
        demo: cli.demo,
        readonly: cli.readonly,
        utc: cli.utc,
        zone: cli.zone,
        mouse: cli.mouse,
        keymap: cli.keymap.clone(),
        theme: cli.theme.clone(),
        adhoc,
    };
    // Only the first profile can fail the start; a switch is loaded by the running console first.
    let mut settings = match app::Clusters::load(&loader, &cluster) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    settings.origin = origin.map(|o| o.describe().to_string());
    if let Some((_, mut profiles, origin)) = merged {
        let accents: Vec<Option<String>> = profiles.iter().map(|p| p.accent.clone()).collect();
        settings.theme = match settings.theme.with_cluster_accents(&accents) {
            Ok(t) => t,
            Err(e) => return fail(e.to_string()),
        };
        profiles.remove(0);
        settings.more = profiles;
        // Each cluster's own `readonly` holds for its members only; `--readonly` for all.
        settings.readonly = cli.readonly;
        settings.origin = Some(origin);
    }

    // A full-screen console drawn into a file or a dumb terminal is escape codes, not a report.
    if let Some(why) = not_a_terminal() {
        return fail(format!(
            "{why}: the console draws a full screen and needs a terminal — for a file or a pipe use `opsconsole snapshot` (members, failing checks, silences, error logs as markdown or --format json) or `opsconsole inventory --list`"
        ));
    }

    let _log_guard = opsconsole::logging::init();
    opsconsole::memory::tune_allocator();
    // tokio's timer wheel counts from the moment the runtime is built (see `wheel`).
    opsconsole::wheel::note_origin();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_park(opsconsole::memory::collect_if_asked)
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };

    let code = loop {
        app::install_panic_hook();
        match runtime.block_on(app::run(settings)) {
            Ok(Exit::Quit) => break ExitCode::SUCCESS,
            Ok(Exit::Terminated(why)) => {
                tracing::info!(why, "terminated");
                say(format_args!("stopped ({why})"));
                // Asked to stop by a signal: a clean stop. The terminal going away: not.
                break ExitCode::from(if why.starts_with("SIG") { 0 } else { 1 });
            }
            Ok(Exit::SwitchCluster(next)) => settings = *next,
            Err(e) => {
                app::restore_terminal();
                break fail(format!("{e:#}"));
            }
        }
    };
    // Dropping the runtime would wait for every blocking thread, and a name lookup stuck in a
    // resolver that does not answer (`getaddrinfo`, glibc's own timeouts) holds one for minutes:
    // `q` must not hang on it (tests/it/dns.rs).
    runtime.shutdown_timeout(std::time::Duration::from_millis(300));
    code
}

/// A merged view's clusters (names, profiles, and where the list came from), from `--view NAME`
/// or `--cluster a,b`; `None` for a single cluster. Unknown names, duplicates and a broken
/// config fail here, before any source starts.
type Merged = (Vec<String>, Vec<ClusterProfile>, String);

fn merged_clusters(
    cli: &Cli,
    config: &Result<Config, ConfigError>,
) -> Result<Option<Merged>, String> {
    let (names, origin) = match (&cli.view, cli.cluster.as_deref()) {
        (Some(view), _) => {
            let config = config.as_ref().map_err(|e| e.to_string())?;
            (config.view(view)?, format!("--view {view}"))
        }
        (None, Some(spec)) => match opsconsole::config::split_cluster_list(spec) {
            Some(names) => (names, format!("--cluster {spec}")),
            None => return Ok(None),
        },
        (None, None) => return Ok(None),
    };
    let config = config.as_ref().map_err(|e| e.to_string())?;
    let profiles = config
        .clusters_of(&names)
        .map_err(|e| format!("{origin}: {e}"))?;
    Ok(Some((names, profiles, origin)))
}

/// Why the console must not draw here: stdout is not a terminal, or the terminal is dumb.
fn not_a_terminal() -> Option<&'static str> {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return Some("stdout is not a terminal");
    }
    if std::env::var("TERM").is_ok_and(|t| t == "dumb") {
        return Some("TERM=dumb");
    }
    None
}

/// Reads cluster profiles with the command line's flags: for the start, and for `:cluster` while
/// the console runs (so the flags given at start apply to every cluster switched to).
#[derive(Clone)]
struct Loader {
    config_path: PathBuf,
    demo: bool,
    readonly: bool,
    utc: bool,
    zone: Option<DisplayZone>,
    mouse: bool,
    keymap: Option<String>,
    theme: Option<String>,
    /// The profile built from `--endpoints` or etcdctl's environment, when that is what runs.
    adhoc: Option<ClusterProfile>,
}

impl app::Clusters for Loader {
    fn names(&self) -> Result<Vec<String>, String> {
        Ok(self.entries()?.into_iter().map(|c| c.name).collect())
    }

    fn entries(&self) -> Result<Vec<ClusterChoice>, String> {
        let mut out = Vec::new();
        match Config::load(&self.config_path) {
            Ok(config) => {
                for (name, entry) in &config.clusters {
                    out.push(ClusterChoice {
                        name: name.clone(),
                        readonly: entry.readonly(),
                        accent: entry.accent(),
                    });
                }
            }
            // No config: the session's own profile is all there is.
            Err(ConfigError::Missing { .. }) if self.adhoc.is_some() || self.demo => {}
            Err(e) => return Err(e.to_string()),
        }
        if let Some(p) = &self.adhoc {
            out.push(ClusterChoice {
                name: p.name.clone(),
                readonly: p.readonly,
                accent: None,
            });
        }
        if self.demo && !out.iter().any(|c| c.name == "demo") {
            out.push(ClusterChoice {
                name: "demo".into(),
                readonly: false,
                accent: None,
            });
        }
        Ok(out)
    }

    fn load(&self, name: &str) -> Result<Settings, String> {
        let mut settings = if self.demo && name == "demo" {
            demo_settings(self)?
        } else if let Some(p) = self.adhoc.as_ref().filter(|p| p.name == name) {
            let config = match Config::load(&self.config_path) {
                Ok(c) => Some(c),
                Err(ConfigError::Missing { .. }) => None,
                Err(e) => return Err(e.to_string()),
            };
            settings_for(self, config.as_ref(), p.clone())?
        } else {
            load_settings(self, name)?
        };
        settings.clusters = Some(Arc::new(self.clone()));
        Ok(settings)
    }
}

/// `--demo` needs no config file: built-in theme/keymap (or the flags), audit log as usual.
fn demo_settings(cli: &Loader) -> Result<Settings, String> {
    let no_color = opsconsole::theme::no_color();
    let profile = opsconsole::config::ClusterProfile {
        name: "demo".into(),
        etcd: None,
        readonly: false,
        theme: None,
        keymap: None,
        accent: None,
        checks: None,
        metrics: None,
        logs: None,
        discovery_prefix: String::new(),
        guard: Default::default(),
        commands: Vec::new(),
        links: Vec::new(),
        warnings: Vec::new(),
    };
    Ok(Settings {
        profile,
        more: Vec::new(),
        demo: true,
        readonly: cli.readonly,
        zone: start_zone(cli.utc, cli.zone, None),
        zone_configured: configured_zone(cli.zone, None),
        mouse: cli.mouse,
        theme: Theme::resolve(cli.theme.as_deref(), None, no_color).map_err(|e| e.to_string())?,
        keymap: Keymap::resolve(cli.keymap.as_deref()).map_err(|e| e.to_string())?,
        // The simulated fleet's changes are not real ones: never in the real audit log.
        audit_log: paths::demo_audit_log(),
        user: audit::local_user(None),
        clusters: None,
        switched_from: None,
        origin: None,
        history_file: Some(paths::history_file()),
        journal_dir: paths::state_dir().join("demo-journal"),
        clock_dir: None,
        revclock_now: opsconsole::model::revclock::Now::from_fn(opsconsole::clock::now),
    })
}

fn load_settings(cli: &Loader, cluster: &str) -> Result<Settings, String> {
    let config = Config::load(&cli.config_path).map_err(|e| e.to_string())?;
    let profile = config.cluster(cluster).map_err(|e| e.to_string())?;
    settings_for(cli, Some(&config), profile)
}

/// A session on `profile`, with the command line's flags over the config's `[defaults]` (none
/// when there is no config: a profile from etcdctl's environment).
fn settings_for(
    cli: &Loader,
    config: Option<&Config>,
    profile: ClusterProfile,
) -> Result<Settings, String> {
    let no_color = opsconsole::theme::no_color();
    let theme_spec = cli
        .theme
        .clone()
        .or_else(|| profile.theme.clone())
        .or_else(|| config.and_then(|c| c.theme.clone()));
    let theme = Theme::resolve(theme_spec.as_deref(), profile.accent.as_deref(), no_color)
        .map_err(|e| e.to_string())?;
    let keymap_spec = cli
        .keymap
        .clone()
        .or_else(|| profile.keymap.clone())
        .or_else(|| config.and_then(|c| c.keymap.clone()));
    let mut keymap = Keymap::resolve(keymap_spec.as_deref()).map_err(|e| e.to_string())?;
    keymap
        .with_commands(&profile.commands)
        .map_err(|e| match config {
            Some(c) => format!("{}: {e}", c.path.display()),
            None => e,
        })?;
    Ok(Settings {
        demo: false,
        readonly: cli.readonly || profile.readonly,
        zone: start_zone(cli.utc, cli.zone, config),
        zone_configured: configured_zone(cli.zone, config),
        mouse: cli.mouse || config.is_some_and(|c| c.mouse),
        theme,
        keymap,
        audit_log: config
            .and_then(|c| c.audit_log.clone())
            .unwrap_or_else(paths::default_audit_log),
        user: audit::local_user(config.and_then(|c| c.user.as_deref())),
        profile,
        more: Vec::new(),
        clusters: None,
        switched_from: None,
        origin: None,
        history_file: Some(paths::history_file()),
        journal_dir: paths::journal_dir(),
        clock_dir: Some(paths::revclock_dir()),
        revclock_now: opsconsole::model::revclock::Now::from_fn(opsconsole::clock::now),
    })
}

/// A value and where it came from, for `info`.
fn sourced(value: impl Into<String>, from: &str) -> serde_json::Value {
    serde_json::json!({ "value": value.into(), "from": from })
}

fn info(cli: &Cli, config_path: &Path, as_json: bool) -> ExitCode {
    use serde_json::json;
    let config = Config::load(config_path);
    let c = config.as_ref().ok();
    let (status, error) = match &config {
        Ok(_) => ("ok", None),
        Err(ConfigError::Missing { .. }) => ("missing", None),
        Err(e) => ("error", Some(e.to_string())),
    };
    let mut clusters = Vec::new();
    if let Some(c) = c {
        // Each profile opened as `--cluster NAME` would open it (secrets read, never shown):
        // one that cannot open is reported here without failing the others or `info`.
        for (name, entry) in &c.clusters {
            let mut row = json!({
                "name": name,
                "readonly": entry.readonly(),
                "accent": entry.accent(),
                "warnings": [],
                "error": null,
                "checks": null,
            });
            match c.cluster(name) {
                Ok(p) => {
                    row["warnings"] = json!(p.warnings);
                    if let Some(ch) = &p.checks {
                        row["checks"] = json!({
                            "kind": ch.kind.name(),
                            "url": sourced(ch.http.url.clone(), &ch.origins.url),
                            "namespace": sourced(ch.namespace.clone(), &ch.origins.namespace),
                            "auth": sourced(opsconsole::sources::http::credential_name(&ch.http.auth), &ch.origins.auth),
                            "creator": ch.creator.clone().map(|v| sourced(v, &ch.origins.creator)),
                        });
                    }
                }
                Err(e) => row["error"] = json!(e.to_string()),
            }
            clusters.push(row);
        }
    }
    let profile = choose(
        cli.cluster.as_deref(),
        &cli.endpoints,
        config_path,
        &config,
        &process_env,
    );
    let profile = match &profile {
        Ok(Chosen::Named { name, origin }) => json!({"value": name, "from": origin.describe()}),
        Ok(Chosen::Adhoc { profile, origin }) => json!({
            "value": profile.name,
            "from": origin.describe(),
            "endpoints": profile.etcd.as_ref().map(|e| e.endpoints.clone()),
        }),
        Err(e) => json!({"value": null, "from": null, "error": e}),
    };
    let from = |flag: bool, flag_name: &str, defaults: bool, key: &str| -> String {
        if flag {
            flag_name.to_string()
        } else if defaults {
            format!("[defaults] {key} in {}", config_path.display())
        } else {
            "built-in default".to_string()
        }
    };
    let default_keymap = c.and_then(|c| c.keymap.clone());
    let keymap_spec = cli.keymap.clone().or(default_keymap.clone());
    let default_theme = c.and_then(|c| c.theme.clone());
    let theme_spec = cli.theme.clone().or(default_theme.clone());
    let audit_default = c.and_then(|c| c.audit_log.clone());
    let no_color_var = std::env::var_os("NO_COLOR");
    let doc = json!({
        "config": {
            "path": config_path.display().to_string(),
            "from": if cli.config.is_some() { "--config" } else { "$XDG_CONFIG_HOME/opsconsole/config.toml" },
            "status": status,
            "error": error,
            "clusters": clusters,
        },
        "profile": profile,
        "keymap": sourced(keymap::describe_spec(keymap_spec.as_deref()), &from(cli.keymap.is_some(), "--keymap", default_keymap.is_some(), "keymap")),
        "theme": sourced(theme_spec.clone().unwrap_or_else(|| "default".into()), &from(cli.theme.is_some(), "--theme", default_theme.is_some(), "theme")),
        "audit_log": sourced(
            audit_default.clone().unwrap_or_else(paths::default_audit_log).display().to_string(),
            &from(false, "", audit_default.is_some(), "audit_log"),
        ),
        "demo_audit_log": paths::demo_audit_log().display().to_string(),
        "history_file": paths::history_file().display().to_string(),
        "revision_clocks": paths::revclock_dir().display().to_string(),
        "log_file": paths::log_file().display().to_string(),
        "no_color": {
            "env": match &no_color_var { None => "unset", Some(v) if v.is_empty() => "empty", Some(_) => "set" },
            "colours_off": opsconsole::theme::no_color(),
        },
    });
    let text = if as_json {
        serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
    } else {
        info_text(&doc)
    };
    {
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
    match status {
        "error" => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    }
}

/// `info` as text: one row per path or setting, with where it came from.
fn info_text(doc: &serde_json::Value) -> String {
    use std::fmt::Write as _;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut text = String::new();
    let mut row = |label: &str, value: String| {
        let _ = writeln!(text, "{label:<13} {value}");
    };
    let config = &doc["config"];
    row(
        "config file",
        format!("{} (from {})", s(&config["path"]), s(&config["from"])),
    );
    let names: Vec<String> = config["clusters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| s(&c["name"]))
        .collect();
    row(
        "  status",
        match s(&config["status"]).as_str() {
            "ok" => format!("ok, clusters: {}", names.join(", ")),
            "missing" => "no config yet — opsconsole works without one: --endpoints URL or ETCDCTL_ENDPOINTS (as etcdctl), or --demo; write [clusters.NAME] tables there to name clusters (README, \"Configuration\")".to_string(),
            _ => s(&config["error"]),
        },
    );
    for c in config["clusters"].as_array().into_iter().flatten() {
        let name = s(&c["name"]);
        for w in c["warnings"].as_array().into_iter().flatten() {
            row(&format!("  cluster {name}"), format!("  warning: {}", s(w)));
        }
        if let Some(e) = c["error"].as_str() {
            row(&format!("  cluster {name}"), format!("  cannot open: {e}"));
        }
        if let Some(ch) = c["checks"].as_object() {
            for key in ["url", "namespace", "auth", "creator"] {
                if let Some(v) = ch.get(key).filter(|v| !v.is_null()) {
                    row(
                        &format!("  checks of {name}"),
                        format!("{key} {} (from {})", s(&v["value"]), s(&v["from"])),
                    );
                }
            }
        }
    }
    let profile = &doc["profile"];
    row(
        "profile",
        match profile["value"].as_str() {
            Some(v) => format!("{v} (from {})", s(&profile["from"])),
            None => format!("none chosen — {}", s(&profile["error"])),
        },
    );
    for (label, key) in [
        ("keymap", "keymap"),
        ("theme", "theme"),
        ("audit log", "audit_log"),
    ] {
        row(
            label,
            format!("{} (from {})", s(&doc[key]["value"]), s(&doc[key]["from"])),
        );
    }
    row(
        "demo audit",
        format!("{} (--demo writes here)", s(&doc["demo_audit_log"])),
    );
    row("history", s(&doc["history_file"]));
    row("rev clocks", s(&doc["revision_clocks"]));
    row(
        "log file",
        format!(
            "{} (rotated at 10 MiB, 3 old files kept)",
            s(&doc["log_file"])
        ),
    );
    row(
        "NO_COLOR",
        match s(&doc["no_color"]["env"]).as_str() {
            "set" => "set: the theme draws without colours".to_string(),
            "empty" => "set but empty: ignored, colours stay on".to_string(),
            _ => "unset".to_string(),
        },
    );
    text
}

/// `opsconsole keys`: the active keymap, as the help popup lists it.
/// With the custom commands' keys (`[[commands]]`), of the cluster the console would open: the
/// first of `--cluster`, else `[defaults] cluster`; the global ones without either.
fn keys(cli: &Cli, config_path: &Path) -> ExitCode {
    let config = Config::load(config_path).ok();
    let name = cli
        .cluster
        .as_deref()
        .and_then(|c| c.split(',').next())
        .map(str::to_string)
        .or_else(|| config.as_ref().and_then(|c| c.default_cluster.clone()));
    let profile = match (&config, &name) {
        (Some(c), Some(n)) => c.cluster(n).ok(),
        _ => None,
    };
    let spec = cli
        .keymap
        .clone()
        .or_else(|| profile.as_ref().and_then(|p| p.keymap.clone()))
        .or_else(|| config.as_ref().and_then(|c| c.keymap.clone()));
    let mut keymap = match Keymap::resolve(spec.as_deref()) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    let commands = match (&profile, &config) {
        (Some(p), _) => p.commands.clone(),
        (None, Some(c)) => c.commands.clone(),
        (None, None) => Vec::new(),
    };
    if let Err(e) = keymap.with_commands(&commands) {
        return fail(format!("{}: {e}", config_path.display()));
    }
    let mut text = format!("keymap {}\n", keymap::describe_spec(spec.as_deref()));
    if !commands.is_empty() {
        let whose = match &profile {
            Some(p) => format!("cluster {}", p.name),
            None => "every cluster".to_string(),
        };
        text.push_str(&format!(
            "custom commands ({}) of {whose}: `:cmd NAME` runs one by name\n",
            commands.len()
        ));
    }
    let mut context = String::new();
    for (ctx, keys, action) in keymap.help_rows() {
        if ctx != context {
            text.push_str(&format!("\n[{ctx}]\n"));
            context = ctx;
        }
        text.push_str(&format!("  {keys:<24} {action}\n"));
    }
    print_out(&text)
}

/// Writes `text` to stdout; a reader that went away is not worth a panic.
fn print_out(text: &str) -> ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(1),
        Err(e) => fail(format!("writing to stdout: {e}")),
    }
}

/// The command with the config's cluster names as the values `--cluster` completes to.
fn command_with_clusters(config_path: &Path) -> clap::Command {
    use clap::CommandFactory as _;
    let names: Vec<String> = Config::load(config_path)
        .map(|c| c.clusters.keys().cloned().collect())
        .unwrap_or_default();
    let mut cmd = Cli::command();
    if !names.is_empty() {
        let values = clap::builder::PossibleValuesParser::new(names);
        cmd = cmd
            .mut_arg("cluster", |a| a.value_parser(values.clone()))
            .mut_subcommand("inventory", |s| {
                s.mut_arg("cluster", |a| a.value_parser(values.clone()))
            })
            .mut_subcommand("snapshot", |s| {
                s.mut_arg("cluster", |a| a.value_parser(values.clone()))
            });
    }
    cmd
}

fn completions(shell: CompletionShell, config_path: &Path) -> ExitCode {
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut cmd = command_with_clusters(config_path);
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "opsconsole", &mut out);
    print_out(&String::from_utf8_lossy(&out))
}

fn man() -> ExitCode {
    use clap::CommandFactory as _;
    let mut out = Vec::new();
    if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut out) {
        return fail(format!("rendering the manual page: {e}"));
    }
    print_out(&String::from_utf8_lossy(&out))
}

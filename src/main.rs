//! `opsconsole --cluster NAME`: parse the CLI, load and validate the profile (failing with one clear
//! line before the terminal is touched), then run the console until quit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use opsconsole::app::{self, Exit, Settings};
use opsconsole::config::Config;
use opsconsole::keymap::{self, Keymap};
use opsconsole::theme::Theme;
use opsconsole::{audit, paths};

#[derive(Debug, Parser)]
#[command(
    name = "opsconsole",
    version,
    about = "One terminal screen for a fleet registered in etcd: membership, checks, metrics, logs",
    after_help = "Config: $XDG_CONFIG_HOME/opsconsole/config.toml (see README). Secrets come from *_env / *_file keys, never from the command line.\nLog file: $XDG_STATE_HOME/opsconsole/opsconsole.log (level from OPSCONSOLE_LOG, e.g. debug)."
)]
struct Cli {
    /// Cluster profile to open (a [clusters.NAME] table in the config)
    #[arg(long, short = 'c', value_name = "NAME")]
    cluster: Option<String>,
    /// Config file [default: $XDG_CONFIG_HOME/opsconsole/config.toml]
    #[arg(long, value_name = "PATH", global = true)]
    config: Option<PathBuf>,
    /// Refuse every mutating action (deregister, silence, unsilence)
    #[arg(long)]
    readonly: bool,
    /// Show times in UTC instead of the local zone
    #[arg(long)]
    utc: bool,
    /// Mouse: click focuses and selects, wheel scrolls, double-click opens the detail (off by
    /// default so the terminal's own text selection works; also `mouse = true` in [defaults])
    #[arg(long)]
    mouse: bool,
    /// Try it without servers or config: a simulated fleet where every key works
    #[arg(long, conflicts_with = "cluster")]
    demo: bool,
    /// Keymap: a built-in name (default, emacs) or a TOML file merged over the default
    #[arg(long, value_name = "NAME|PATH")]
    keymap: Option<String>,
    /// Theme: a built-in name (default, high-contrast, light) or a TOML file
    #[arg(long, value_name = "NAME|PATH")]
    theme: Option<String>,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Print every path opsconsole reads or writes, and what the config resolves to
    Info,
    /// Ansible dynamic inventory of the live membership (--list, --host H)
    Inventory(opsconsole::cli::inventory::Args),
    /// Print members, failing checks, silences and recent error logs (markdown or JSON), no TUI
    Snapshot(opsconsole::cli::snapshot::Args),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(paths::default_config_file);

    match &cli.command {
        Some(Sub::Info) => return info(&cli, &config_path),
        Some(Sub::Inventory(args)) => {
            return opsconsole::cli::inventory::run(args, &config_path, cli.cluster.as_deref())
        }
        Some(Sub::Snapshot(args)) => {
            return opsconsole::cli::snapshot::run(
                args,
                &config_path,
                cli.cluster.as_deref(),
                cli.utc,
            )
        }
        None => {}
    }

    let cluster = if cli.demo {
        Some("demo".to_string())
    } else {
        cli.cluster.clone()
    };
    let Some(cluster) = cluster else {
        let known = Config::load(&config_path)
            .map(|c| c.clusters.keys().cloned().collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        return fail(format!(
            "--cluster NAME is required{}",
            if known.is_empty() {
                format!(" (config: {})", config_path.display())
            } else {
                format!(" — clusters in {}: {known}", config_path.display())
            }
        ));
    };

    let loader = Loader {
        config_path: config_path.clone(),
        demo: cli.demo,
        readonly: cli.readonly,
        utc: cli.utc,
        mouse: cli.mouse,
        keymap: cli.keymap.clone(),
        theme: cli.theme.clone(),
    };
    // Only the first profile can fail the start; a switch is loaded by the running console first.
    let mut settings = match app::Clusters::load(&loader, &cluster) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };

    let _log_guard = opsconsole::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the async runtime: {e}")),
    };

    loop {
        app::install_panic_hook();
        match runtime.block_on(app::run(settings)) {
            Ok(Exit::Quit) => return ExitCode::SUCCESS,
            Ok(Exit::Terminated(why)) => {
                tracing::info!(why, "terminated");
                say(format_args!("stopped ({why})"));
                // Asked to stop by a signal: a clean stop. The terminal going away: not.
                return ExitCode::from(if why.starts_with("SIG") { 0 } else { 1 });
            }
            Ok(Exit::SwitchCluster(next)) => settings = *next,
            Err(e) => {
                app::restore_terminal();
                return fail(format!("{e:#}"));
            }
        }
    }
}

/// Reads cluster profiles with the command line's flags: for the start, and for `:cluster` while
/// the console runs (so the flags given at start apply to every cluster switched to).
#[derive(Clone)]
struct Loader {
    config_path: PathBuf,
    demo: bool,
    readonly: bool,
    utc: bool,
    mouse: bool,
    keymap: Option<String>,
    theme: Option<String>,
}

impl app::Clusters for Loader {
    fn names(&self) -> Result<Vec<String>, String> {
        let config = Config::load(&self.config_path).map_err(|e| e.to_string())?;
        let mut names: Vec<String> = config.clusters.keys().cloned().collect();
        if self.demo && !names.iter().any(|n| n == "demo") {
            names.push("demo".to_string());
        }
        Ok(names)
    }

    fn load(&self, name: &str) -> Result<Settings, String> {
        let mut settings = if self.demo && name == "demo" {
            demo_settings(self)?
        } else {
            load_settings(self, name)?
        };
        settings.clusters = Some(Arc::new(self.clone()));
        Ok(settings)
    }
}

/// `--demo` needs no config file: built-in theme/keymap (or the flags), audit log as usual.
fn demo_settings(cli: &Loader) -> Result<Settings, String> {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
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
        warnings: Vec::new(),
    };
    Ok(Settings {
        profile,
        demo: true,
        readonly: cli.readonly,
        utc: cli.utc,
        mouse: cli.mouse,
        theme: Theme::resolve(cli.theme.as_deref(), None, no_color).map_err(|e| e.to_string())?,
        keymap: Keymap::resolve(cli.keymap.as_deref()).map_err(|e| e.to_string())?,
        audit_log: paths::default_audit_log(),
        user: audit::local_user(None),
        clusters: None,
        switched_from: None,
    })
}

fn load_settings(cli: &Loader, cluster: &str) -> Result<Settings, String> {
    let config = Config::load(&cli.config_path).map_err(|e| e.to_string())?;
    let profile = config.cluster(cluster).map_err(|e| e.to_string())?;
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme_spec = cli
        .theme
        .clone()
        .or_else(|| profile.theme.clone())
        .or_else(|| config.theme.clone());
    let theme = Theme::resolve(theme_spec.as_deref(), profile.accent.as_deref(), no_color)
        .map_err(|e| e.to_string())?;
    let keymap_spec = cli
        .keymap
        .clone()
        .or_else(|| profile.keymap.clone())
        .or_else(|| config.keymap.clone());
    let keymap = Keymap::resolve(keymap_spec.as_deref()).map_err(|e| e.to_string())?;
    Ok(Settings {
        demo: false,
        readonly: cli.readonly || profile.readonly,
        utc: cli.utc,
        mouse: cli.mouse || config.mouse,
        theme,
        keymap,
        audit_log: config
            .audit_log
            .clone()
            .unwrap_or_else(paths::default_audit_log),
        user: audit::local_user(config.user.as_deref()),
        profile,
        clusters: None,
        switched_from: None,
    })
}

fn info(cli: &Cli, config_path: &Path) -> ExitCode {
    // Gathered and written once: `println!` would panic when stdout is a closed pipe (`| head -1`).
    let mut text = String::new();
    macro_rules! outln {
        ($($arg:tt)*) => {{
            use std::fmt::Write as _;
            let _ = writeln!(text, $($arg)*);
        }};
    }
    outln!("config file   {}", config_path.display());
    let config = Config::load(config_path);
    match &config {
        Ok(c) => {
            outln!(
                "  status      ok, clusters: {}",
                c.clusters.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            // Each profile opened as `--cluster NAME` would open it (secrets read, never shown):
            // one that cannot open is reported here without failing the others or `info`.
            for name in c.clusters.keys() {
                match c.cluster(name) {
                    Ok(p) => {
                        for w in &p.warnings {
                            outln!("  cluster {name}   warning: {w}");
                        }
                    }
                    Err(e) => outln!("  cluster {name}   cannot open: {e}"),
                }
            }
        }
        Err(e) => outln!("  status      {e}"),
    }
    let c = config.as_ref().ok();
    let keymap = cli
        .keymap
        .clone()
        .or_else(|| c.and_then(|c| c.keymap.clone()));
    let theme = cli
        .theme
        .clone()
        .or_else(|| c.and_then(|c| c.theme.clone()));
    outln!("keymap        {}", keymap::describe_spec(keymap.as_deref()));
    outln!(
        "theme         {}",
        theme.unwrap_or_else(|| "default".into())
    );
    outln!(
        "audit log     {}",
        c.and_then(|c| c.audit_log.clone())
            .unwrap_or_else(paths::default_audit_log)
            .display()
    );
    outln!("log file      {}", paths::log_file().display());
    outln!(
        "NO_COLOR      {}",
        if std::env::var_os("NO_COLOR").is_some() {
            "set"
        } else {
            "unset"
        }
    );
    {
        use std::io::Write as _;
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
    }
    if config.is_err() {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

//! XDG locations of everything the console reads or writes (`opsconsole info` prints them).

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() && PathBuf::from(&v).is_absolute() => PathBuf::from(v),
        _ => home().join(fallback),
    }
}

pub fn config_dir() -> PathBuf {
    xdg("XDG_CONFIG_HOME", ".config").join("opsconsole")
}

pub fn state_dir() -> PathBuf {
    xdg("XDG_STATE_HOME", ".local/state").join("opsconsole")
}

pub fn default_config_file() -> PathBuf {
    config_dir().join("config.toml")
}

pub fn default_audit_log() -> PathBuf {
    state_dir().join("audit.log")
}

/// Where `--demo` records its (simulated) changes: never the real audit log.
pub fn demo_audit_log() -> PathBuf {
    state_dir().join("demo-audit.log")
}

/// The `:` command line's history, kept across runs.
/// Incident journals (`:incident start NAME` → `journal/NAME.jsonl`).
pub fn journal_dir() -> PathBuf {
    state_dir().join("journal")
}

/// The etcd revision clocks (time → revision, one file per cluster id) the time cursor reads, and
/// where each listing learned to cut its key ranges (one file per cluster id and prefix).
pub fn revclock_dir() -> PathBuf {
    state_dir().join("revclock")
}

pub fn history_file() -> PathBuf {
    state_dir().join("history")
}

pub fn log_file() -> PathBuf {
    state_dir().join("opsconsole.log")
}

/// `~/x` → `$HOME/x`; other paths unchanged.
pub fn expand_tilde(p: &str) -> PathBuf {
    if let Some(rest) = p.strip_prefix("~/") {
        home().join(rest)
    } else if p == "~" {
        home()
    } else {
        PathBuf::from(p)
    }
}

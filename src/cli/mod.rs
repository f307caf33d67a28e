//! One-shot subcommands that print and exit without opening the TUI: `inventory` (Ansible dynamic
//! inventory from the live membership) and `snapshot` (members, failing checks, silences and recent
//! error logs for hand-offs). They reuse the sources' request code, poll each backend once with a
//! deadline, and write only to stdout/stderr — never to a terminal UI.

pub mod inventory;
pub mod inventory_merged;
pub mod profile;
pub mod snapshot;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::{ClusterProfile, Config, EtcdProfile};
use crate::model::KvEntry;

/// Exit status for a bad config, unknown cluster or bad arguments (as the console uses).
pub const EXIT_USAGE: u8 = 2;
/// Exit status when the membership could not be read.
pub const EXIT_UNAVAILABLE: u8 = 1;

/// One line on stderr, nothing on stdout.
pub fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    say(format_args!("{msg}"));
    ExitCode::from(code)
}

/// One "opsconsole: …" line on stderr. Not `eprintln!`, which panics when stderr is a closed pipe.
pub fn say(msg: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "opsconsole: {msg}");
}

/// The two `--cluster` flags (the subcommand's and the top-level one) must agree when both are
/// given; `None` when neither is (the profile then comes from the environment or the config).
pub fn pick_cluster(sub: Option<&str>, top: Option<&str>) -> Result<Option<String>, String> {
    match (sub, top) {
        (Some(a), Some(b)) if a != b => Err(format!(
            "two clusters given: \"{b}\" (opsconsole --cluster) and \"{a}\" (the subcommand's --cluster) — give one"
        )),
        (Some(a), _) => Ok(Some(a.to_string())),
        (None, b) => Ok(b.map(str::to_string)),
    }
}

/// What the command line says about the profile to open.
#[derive(Debug, Clone, Copy)]
pub struct Pick<'a> {
    pub config_path: &'a Path,
    /// The top-level `--cluster`.
    pub cluster: Option<&'a str>,
    /// `--endpoints`.
    pub endpoints: &'a [String],
}

impl Pick<'_> {
    /// The profile a one-shot command opens (see [`profile::choose`]), with the config's own
    /// one-line errors; its warnings go to stderr.
    pub fn profile(&self, sub_cluster: Option<&str>) -> Result<ClusterProfile, String> {
        let cluster = pick_cluster(sub_cluster, self.cluster)?;
        let config = Config::load(self.config_path);
        let chosen = profile::choose(
            cluster.as_deref(),
            self.endpoints,
            self.config_path,
            &config,
            &profile::process_env,
        )?;
        let profile = match chosen {
            profile::Chosen::Named { name, .. } => load_profile(self.config_path, &name)?,
            profile::Chosen::Adhoc { profile, .. } => *profile,
        };
        for w in &profile.warnings {
            say(format_args!("warning: {w}"));
        }
        if profile.etcd.is_none() {
            return Err(format!(
                "cluster \"{}\" in {} has no etcd table",
                profile.name,
                self.config_path.display()
            ));
        }
        Ok(profile)
    }
}

/// Loads the config and the cluster profile, with the config's own one-line errors.
/// A merged view's profiles when the cluster given is a list (`a,b`): each checked (known,
/// named once, with an etcd table); `None` for a single cluster.
pub fn merged_profiles(
    pick: &Pick,
    sub_cluster: Option<&str>,
) -> Result<Option<Vec<ClusterProfile>>, String> {
    let Some(spec) = pick_cluster(sub_cluster, pick.cluster)? else {
        return Ok(None);
    };
    let Some(names) = crate::config::split_cluster_list(&spec) else {
        return Ok(None);
    };
    let config = Config::load(pick.config_path).map_err(|e| e.to_string())?;
    let profiles = config
        .clusters_of(&names)
        .map_err(|e| format!("--cluster {spec}: {e}"))?;
    for p in &profiles {
        for w in &p.warnings {
            say(format_args!("warning: {w}"));
        }
        if p.etcd.is_none() {
            return Err(format!(
                "cluster \"{}\" in {} has no etcd table",
                p.name,
                pick.config_path.display()
            ));
        }
    }
    Ok(Some(profiles))
}

pub fn load_profile(config_path: &Path, cluster: &str) -> Result<ClusterProfile, String> {
    let config = Config::load(config_path).map_err(|e| e.to_string())?;
    config.cluster(cluster).map_err(|e| e.to_string())
}

/// A small runtime for one-shot commands.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Connects (each endpoint with the profile's own connect timeout, first that answers wins) and
/// lists the prefix once, consistently; the listing must finish within `list_timeout`.
pub async fn list_members(
    etcd: &EtcdProfile,
    list_timeout: Duration,
) -> anyhow::Result<(i64, Vec<KvEntry>)> {
    crate::sources::http::install_crypto_provider();
    let client = crate::sources::etcd::connect(etcd).await?;
    match tokio::time::timeout(
        list_timeout,
        crate::sources::etcd::list_prefix(&client, &etcd.prefix),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => anyhow::bail!(
            "listing {} did not finish within {} s",
            etcd.prefix,
            list_timeout.as_secs()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_flags_must_agree() {
        assert_eq!(pick_cluster(Some("a"), None).unwrap().unwrap(), "a");
        assert_eq!(pick_cluster(None, Some("b")).unwrap().unwrap(), "b");
        assert_eq!(pick_cluster(Some("a"), Some("a")).unwrap().unwrap(), "a");
        let e = pick_cluster(Some("a"), Some("b")).unwrap_err();
        assert!(e.contains("\"a\"") && e.contains("\"b\""), "{e}");
        // Neither: the environment or the config decides (cli::profile::choose).
        assert_eq!(pick_cluster(None, None).unwrap(), None);
    }
}

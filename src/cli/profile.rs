//! Which profile to open, the same way for the console, `snapshot` and `inventory`:
//! `--cluster` / `--endpoints` > `OPSCONSOLE_CLUSTER` > `[defaults] cluster` > etcdctl's
//! environment (`ETCDCTL_ENDPOINTS` …) > a message saying what to do.

use std::path::Path;

use crate::config::{etcdctl_profile, ClusterProfile, Config, ConfigError};

/// Where the profile came from: the status bar and `opsconsole info` say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--cluster NAME`
    Flag,
    /// `--endpoints URL,…`
    Endpoints,
    /// `OPSCONSOLE_CLUSTER=NAME`
    Env,
    /// `[defaults] cluster = "NAME"`
    Defaults,
    /// `ETCDCTL_ENDPOINTS` and the other `ETCDCTL_*` variables
    Etcdctl,
}

impl Origin {
    pub fn describe(self) -> &'static str {
        match self {
            Origin::Flag => "--cluster",
            Origin::Endpoints => "--endpoints",
            Origin::Env => "OPSCONSOLE_CLUSTER",
            Origin::Defaults => "[defaults] cluster",
            Origin::Etcdctl => "ETCDCTL_ENDPOINTS",
        }
    }
}

/// The profile to open.
#[derive(Debug, Clone)]
pub enum Chosen {
    /// A `[clusters.NAME]` table of the config.
    Named { name: String, origin: Origin },
    /// A profile built from `--endpoints` or etcdctl's environment, no config needed.
    Adhoc {
        profile: Box<ClusterProfile>,
        origin: Origin,
    },
}

impl Chosen {
    pub fn origin(&self) -> Origin {
        match self {
            Chosen::Named { origin, .. } | Chosen::Adhoc { origin, .. } => *origin,
        }
    }
}

/// Picks the profile: `cluster` (the command line's `--cluster`), `endpoints` (`--endpoints`),
/// then `env` (`OPSCONSOLE_CLUSTER`, `ETCDCTL_*`) and the config's `[defaults] cluster`.
/// A config that exists but is broken is an error here (never skipped for the environment); a
/// missing one is not, until a named cluster needs it.
pub fn choose(
    cluster: Option<&str>,
    endpoints: &[String],
    config_path: &Path,
    config: &Result<Config, ConfigError>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Chosen, String> {
    let named = |name: &str, origin| {
        Ok(Chosen::Named {
            name: name.to_string(),
            origin,
        })
    };
    if let Some(name) = cluster {
        return named(name, Origin::Flag);
    }
    if !endpoints.is_empty() {
        return match etcdctl_profile(Some(endpoints), env)? {
            Some(p) => Ok(Chosen::Adhoc {
                profile: Box::new(p),
                origin: Origin::Endpoints,
            }),
            None => Err("--endpoints is empty — give http://host:port[,…]".into()),
        };
    }
    if let Some(name) = env("OPSCONSOLE_CLUSTER").filter(|n| !n.trim().is_empty()) {
        return named(name.trim(), Origin::Env);
    }
    match config {
        Ok(c) => {
            if let Some(name) = &c.default_cluster {
                return named(name, Origin::Defaults);
            }
        }
        Err(ConfigError::Missing { .. }) => {}
        Err(e) => return Err(e.to_string()),
    }
    if let Some(p) = etcdctl_profile(None, env)? {
        return Ok(Chosen::Adhoc {
            profile: Box::new(p),
            origin: Origin::Etcdctl,
        });
    }
    Err(match config {
        Ok(c) if !c.clusters.is_empty() => format!(
            "--cluster NAME is required — clusters in {}: {}; or set cluster = \"NAME\" in its [defaults], OPSCONSOLE_CLUSTER=NAME, or ETCDCTL_ENDPOINTS=http://HOST:2379 as for etcdctl; or try --demo",
            config_path.display(),
            c.clusters.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        _ => format!(
            "--cluster NAME is required, and there is nothing to open: no config at {} — write a [clusters.NAME] table there (README, \"Configuration\"), or point at etcd as etcdctl does: ETCDCTL_ENDPOINTS=http://127.0.0.1:2379 opsconsole (or --endpoints URL); or try opsconsole --demo",
            config_path.display()
        ),
    })
}

/// The process environment, for [`choose`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    fn config(defaults: &str) -> Result<Config, ConfigError> {
        Config::parse(
            &format!(
                "{defaults}\n[clusters.a]\netcd = {{ endpoints = [\"http://a:1\"] }}\n[clusters.b]\netcd = {{ endpoints = [\"http://b:1\"] }}\n"
            ),
            Path::new("/cfg/config.toml"),
        )
    }

    fn name(c: Result<Chosen, String>) -> (String, Origin) {
        match c.unwrap() {
            Chosen::Named { name, origin } => (name, origin),
            Chosen::Adhoc { profile, origin } => (profile.name.clone(), origin),
        }
    }

    #[test]
    fn precedence_flag_env_defaults_etcdctl() {
        let path = Path::new("/cfg/config.toml");
        let with_default = config("[defaults]\ncluster = \"b\"");
        let all = env(&[
            ("OPSCONSOLE_CLUSTER", "a"),
            ("ETCDCTL_ENDPOINTS", "127.0.0.1:2379"),
        ]);
        assert_eq!(
            name(choose(Some("b"), &[], path, &with_default, &all)),
            ("b".into(), Origin::Flag)
        );
        assert_eq!(
            name(choose(
                None,
                &["http://10.0.0.9:2379".into()],
                path,
                &with_default,
                &all
            )),
            ("10.0.0.9:2379".into(), Origin::Endpoints)
        );
        assert_eq!(
            name(choose(None, &[], path, &with_default, &all)),
            ("a".into(), Origin::Env)
        );
        let etcdctl_only = env(&[("ETCDCTL_ENDPOINTS", "127.0.0.1:2379")]);
        assert_eq!(
            name(choose(None, &[], path, &with_default, &etcdctl_only)),
            ("b".into(), Origin::Defaults)
        );
        let no_default = config("");
        assert_eq!(
            name(choose(None, &[], path, &no_default, &etcdctl_only)),
            ("127.0.0.1:2379".into(), Origin::Etcdctl)
        );
        let missing = Config::load(Path::new("/nonexistent/opsconsole/config.toml"));
        assert_eq!(
            name(choose(None, &[], path, &missing, &etcdctl_only)),
            ("127.0.0.1:2379".into(), Origin::Etcdctl)
        );
        // Nothing at all: what to do, naming the config path, --demo and ETCDCTL_ENDPOINTS.
        let e = choose(None, &[], path, &missing, &env(&[])).unwrap_err();
        assert!(
            e.contains("/cfg/config.toml")
                && e.contains("--demo")
                && e.contains("ETCDCTL_ENDPOINTS"),
            "{e}"
        );
        let e = choose(None, &[], path, &no_default, &env(&[])).unwrap_err();
        assert!(
            e.contains("--cluster NAME is required") && e.contains("a, b"),
            "{e}"
        );
        // A broken config is never skipped for the environment.
        let broken = Config::parse("[clusters.x]\nnope = 1\n", path);
        assert!(choose(None, &[], path, &broken, &etcdctl_only).is_err());
    }

    #[test]
    fn default_cluster_must_exist() {
        let e = config("[defaults]\ncluster = \"prod\"")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2") && e.contains("\"prod\"") && e.contains("known clusters: a, b"),
            "{e}"
        );
    }

    #[test]
    fn etcdctl_environment_becomes_a_profile() {
        let p = etcdctl_profile(
            None,
            &env(&[
                ("ETCDCTL_ENDPOINTS", "10.0.0.1:2379, https://10.0.0.2:2379"),
                ("ETCDCTL_USER", "ops:s3cret"),
            ]),
        )
        .unwrap()
        .unwrap();
        let etcd = p.etcd.unwrap();
        assert_eq!(
            etcd.endpoints,
            ["http://10.0.0.1:2379", "https://10.0.0.2:2379"]
        );
        assert_eq!(p.name, "10.0.0.1:2379+1");
        assert_eq!(etcd.prefix, "/services/");
        assert_eq!(etcd.user.as_deref(), Some("ops"));
        assert_eq!(etcd.password.unwrap().expose(), "s3cret");
        let p = etcdctl_profile(
            None,
            &env(&[
                ("ETCDCTL_ENDPOINTS", "127.0.0.1:2379"),
                ("ETCDCTL_USER", "ops"),
                ("ETCDCTL_PASSWORD", "pw"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.etcd.unwrap().password.unwrap().expose(), "pw");
        let e = etcdctl_profile(
            None,
            &env(&[
                ("ETCDCTL_ENDPOINTS", "127.0.0.1:2379"),
                ("ETCDCTL_USER", "ops"),
            ]),
        )
        .unwrap_err();
        assert!(e.contains("ETCDCTL_PASSWORD"), "{e}");
        // A TLS file makes a bare endpoint https; a missing file is named.
        let e = etcdctl_profile(
            None,
            &env(&[
                ("ETCDCTL_ENDPOINTS", "127.0.0.1:2379"),
                ("ETCDCTL_CACERT", "/nonexistent/ca.pem"),
            ]),
        )
        .unwrap_err();
        assert!(
            e.contains("ETCDCTL_") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
        assert!(etcdctl_profile(None, &env(&[])).unwrap().is_none());
    }
}

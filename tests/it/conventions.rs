//! The conventions of the tools people already have set up (issue 17), against real servers:
//!
//! - a real etcd reached through `ETCDCTL_ENDPOINTS` only (no config): `snapshot`, `inventory`
//!   and the console, whose status bar says where the profile came from;
//! - a real etcd over TLS whose CA is only in a temporary system trust store (`SSL_CERT_DIR`,
//!   `SSL_CERT_FILE`), reached without `ca`;
//! - a real Redis over TLS (`redis-server --tls-port`), `rediss://` with the profile's `ca`;
//! - a real Alertmanager located through amtool's `config.yml` and `AMTOOL_ALERTMANAGER_URL`;
//! - the profile's precedence: `--cluster` > `OPSCONSOLE_CLUSTER` > `[defaults] cluster`;
//! - plain `opsconsole` without a config saying what to do; `info` (text and `--json`) without
//!   one; `keys`, `completions` (checked with `bash -n`), `man`; the console refusing a file or
//!   `TERM=dumb`; `checks.kind = "sensu"` refused naming the kinds.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::log_servers::{logs_profile, LogTail};
use common::tls::{Certs, TlsEtcd};
use common::tmux::{Tmux, SOON};
use common::{free_port, require_binary, Alertmanager, Etcd};

const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");

/// Variables that would choose a profile or trust roots behind a test's back.
const AMBIENT: &[&str] = &[
    "OPSCONSOLE_CLUSTER",
    "ETCDCTL_ENDPOINTS",
    "ETCDCTL_CACERT",
    "ETCDCTL_CERT",
    "ETCDCTL_KEY",
    "ETCDCTL_USER",
    "ETCDCTL_PASSWORD",
    "AMTOOL_ALERTMANAGER_URL",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NO_COLOR",
];

/// opsconsole with its own HOME and XDG dirs under `home` and nothing ambient, plus `env`.
fn run(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .stdin(Stdio::null());
    for k in AMBIENT {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("running opsconsole")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn seed(etcd: &Etcd) {
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80,"version":"1.2"}"#,
    ]);
    etcd.ctl(&[
        "put",
        "/services/db/db-1",
        r#"{"addr":"10.0.1.1","port":5432}"#,
    ]);
}

#[test]
fn etcdctl_environment_alone_opens_a_real_etcd() {
    let etcd = Etcd::start();
    seed(&etcd);
    let home = tempfile::tempdir().unwrap();
    // etcdctl's bare host:port form.
    let endpoints = format!("127.0.0.1:{}", etcd.client_port);
    let env = [("ETCDCTL_ENDPOINTS", endpoints.as_str())];
    let out = run(home.path(), &["snapshot", "--format", "json"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let snap: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let text = snap.to_string();
    assert!(text.contains("web-1") && text.contains("db-1"), "{text}");
    let out = run(home.path(), &["inventory", "--list"], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("web-1"), "{}", stdout(&out));
    // --endpoints does the same without the environment.
    let out = run(
        home.path(),
        &["--endpoints", &etcd.endpoint(), "inventory", "--list"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("db-1"), "{}", stdout(&out));

    // The console: the members, and where the profile came from.
    let t = Tmux::sized("opsconsole-etcdctl", 120, 30)
        .env("ETCDCTL_ENDPOINTS", &endpoints)
        .start(&[]);
    let screen = t.wait_screen("the members and the profile's origin", SOON, |s| {
        s.contains("web-1") && s.contains("from ETCDCTL_ENDPOINTS")
    });
    assert!(screen.contains(&endpoints), "{screen}");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

/// Copies the test CA into a fresh directory: a trust store that holds only it.
fn trust_dir(certs: &Certs) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&certs.ca, dir.path().join("test-ca.pem")).unwrap();
    dir
}

#[test]
fn https_etcd_without_ca_trusts_the_system_store() {
    let certs = Certs::generate();
    let etcd = TlsEtcd::start(&certs);
    etcd.put(
        &certs,
        "/services/web/tls-1",
        r#"{"addr":"10.0.0.9","port":443}"#,
    );
    let home = tempfile::tempdir().unwrap();
    let store = trust_dir(&certs);
    let empty = tempfile::tempdir().unwrap();
    let endpoint = etcd.endpoint();
    let (cert, key) = (
        certs.client_cert.display().to_string(),
        certs.client_key.display().to_string(),
    );
    let base = [
        ("ETCDCTL_ENDPOINTS", endpoint.as_str()),
        ("ETCDCTL_CERT", cert.as_str()),
        ("ETCDCTL_KEY", key.as_str()),
    ];
    let with = |extra: &[(&str, &str)]| {
        let env: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
        run(home.path(), &["inventory", "--list"], &env)
    };
    // The CA in a trust directory (SSL_CERT_DIR), as `update-ca-certificates` leaves it.
    let store_path = store.path().display().to_string();
    let out = with(&[("SSL_CERT_DIR", &store_path)]);
    assert!(out.status.success(), "SSL_CERT_DIR: {}", stderr(&out));
    assert!(stdout(&out).contains("tls-1"), "{}", stdout(&out));
    // …or a bundle file (SSL_CERT_FILE).
    let bundle = certs.ca.display().to_string();
    let out = with(&[("SSL_CERT_FILE", &bundle)]);
    assert!(out.status.success(), "SSL_CERT_FILE: {}", stderr(&out));
    // A store without it: the server is not trusted, the endpoint is named. (tonic reports the
    // refused certificate only as "transport error".)
    let empty_path = empty.path().display().to_string();
    let out = with(&[("SSL_CERT_DIR", &empty_path)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&endpoint), "{}", stderr(&out));
}

/// `redis-server` serving TLS only, on a free port, with the test CA's server certificate.
struct TlsRedis {
    port: u16,
    _dir: tempfile::TempDir,
    _daemon: common::daemon::Daemon,
}

impl TlsRedis {
    fn start(certs: &Certs) -> TlsRedis {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut cmd = Command::new(require_binary("redis-server"));
        cmd.current_dir(dir.path())
            .args(["--port", "0", "--bind", "127.0.0.1"])
            .args(["--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&certs.server_cert)
            .arg("--tls-key-file")
            .arg(&certs.server_key)
            .arg("--tls-ca-cert-file")
            .arg(&certs.ca)
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ]);
        let log = dir.path().join("redis.log");
        let mut daemon = common::daemon::Daemon::spawn("redis-server (TLS)", &mut cmd, log.clone());
        common::wait_until_or(
            format!("TLS redis on {port} to listen"),
            Duration::from_secs(20),
            || {
                daemon.assert_running();
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            },
            || common::daemon::tail(&log, 20),
        );
        TlsRedis {
            port,
            _dir: dir,
            _daemon: daemon,
        }
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// PUBLISH over TLS with the test CA.
    async fn publish(&self, certs: &Certs, channel: &str, message: &str) -> i64 {
        opsconsole::sources::http::install_crypto_provider();
        let client = redis::Client::build_with_tls(
            self.url(),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(std::fs::read(&certs.ca).unwrap()),
            },
        )
        .unwrap();
        let mut con = client
            .get_multiplexed_async_connection()
            .await
            .expect("connecting over TLS");
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message)
            .query_async(&mut con)
            .await
            .expect("PUBLISH")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls_honours_the_profiles_ca() {
    let certs = Certs::generate();
    let redis = TlsRedis::start(&certs);
    let mut tail = LogTail::start(logs_profile(&format!(
        "{{ kind = \"redis\", url = \"{}\", channel = \"syslog\", ca = \"{}\" }}",
        redis.url(),
        certs.ca.display()
    )));
    tail.until_live(Duration::from_secs(20)).await;
    let line = r#"{"timestamp":"2026-11-25T04:10:15+00:00","host":"web-1","program":"nginx","severity":"err","message":"over tls"}"#;
    common::wait_until_async(
        "a subscriber on the TLS channel",
        Duration::from_secs(10),
        || async { redis.publish(&certs, "syslog", line).await > 0 },
    )
    .await;
    tail.until(
        Duration::from_secs(10),
        "the line published over TLS",
        |t| t.messages().iter().any(|m| m.contains("over tls")),
    )
    .await;

    // Without ca the test CA is not trusted: the source retries with a certificate error.
    let mut untrusted = LogTail::start(logs_profile(&format!(
        "{{ kind = \"redis\", url = \"{}\", channel = \"syslog\" }}",
        redis.url()
    )));
    untrusted
        .until(Duration::from_secs(20), "a TLS verification failure", |t| {
            t.health.iter().any(|h| {
                matches!(h, opsconsole::model::Health::Retrying { error, .. }
                    if error.to_lowercase().contains("certificate") || error.contains("UnknownIssuer"))
            })
        })
        .await;
    // And ca with a plain redis:// url cannot work: refused at load.
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"] }}\nlogs = {{ kind = \"redis\", url = \"redis://127.0.0.1:{}\", channel = \"c\", ca = \"{}\" }}\n",
        redis.port,
        certs.ca.display()
    );
    let e = opsconsole::config::Config::parse(&toml, Path::new("/t/config.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("rediss://"), "{e}");
}

/// A config with cluster `test` on `etcd` and a checks table written as `checks`.
fn config_with(home: &Path, etcd: &str, rest: &str) -> PathBuf {
    let path = home.join("config.toml");
    std::fs::write(
        &path,
        format!("[clusters.test]\netcd = {{ endpoints = [\"{etcd}\"] }}\n{rest}\n"),
    )
    .unwrap();
    path
}

#[test]
fn alertmanager_is_located_through_amtools_config() {
    let etcd = Etcd::start();
    seed(&etcd);
    let am = Alertmanager::start();
    am.fire(&[("DiskFull", "web-1", "critical")]);
    let home = tempfile::tempdir().unwrap();
    let amtool_dir = home.path().join(".config/amtool");
    std::fs::create_dir_all(&amtool_dir).unwrap();
    std::fs::write(
        amtool_dir.join("config.yml"),
        format!(
            "# as amtool reads it\nalertmanager.url: \"{}\"\nauthor: oncall@example.com\noutput: extended\n",
            am.url()
        ),
    )
    .unwrap();
    let config = config_with(
        home.path(),
        &etcd.endpoint(),
        "checks = { kind = \"alertmanager\", interval_secs = 1 }",
    );
    let cfg = config.to_str().unwrap();
    let out = run(
        home.path(),
        &[
            "--config", cfg, "snapshot", "-c", "test", "--format", "json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("DiskFull"), "{}", stdout(&out));

    // info says where each value came from.
    let out = run(home.path(), &["--config", cfg, "info", "--json"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json");
    let checks = &info["config"]["clusters"][0]["checks"];
    assert_eq!(checks["url"]["value"], am.url());
    let from = checks["url"]["from"].as_str().unwrap();
    assert!(
        from.starts_with("amtool ") && from.ends_with("amtool/config.yml"),
        "{from}"
    );
    assert_eq!(checks["creator"]["value"], "oncall@example.com");
    let out = run(home.path(), &["--config", cfg, "info"], &[]);
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.contains("checks of test") && l.contains("url") && l.contains("amtool")),
        "{}",
        stdout(&out)
    );

    // AMTOOL_ALERTMANAGER_URL wins over the file, as in amtool.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let out = run(
        home.path(),
        &["--config", cfg, "info", "--json"],
        &[("AMTOOL_ALERTMANAGER_URL", &dead)],
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let url = &info["config"]["clusters"][0]["checks"]["url"];
    assert_eq!(url["value"], dead);
    assert_eq!(url["from"], "$AMTOOL_ALERTMANAGER_URL");
}

#[test]
fn precedence_flag_env_defaults_for_snapshot_and_console() {
    let etcd = Etcd::start();
    seed(&etcd);
    let home = tempfile::tempdir().unwrap();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[defaults]\ncluster = \"live\"\n[clusters.live]\netcd = {{ endpoints = [\"{}\"] }}\n[clusters.dead]\netcd = {{ endpoints = [\"{dead}\"], connect_timeout_secs = 1 }}\n",
            etcd.endpoint()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let snapshot = |args: &[&str], env: &[(&str, &str)]| {
        let mut all = vec!["--config", cfg];
        all.extend_from_slice(args);
        all.extend_from_slice(&["snapshot", "--format", "json"]);
        run(home.path(), &all, env)
    };
    // [defaults] cluster alone.
    let out = snapshot(&[], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("web-1"));
    // OPSCONSOLE_CLUSTER beats it…
    let out = snapshot(&[], &[("OPSCONSOLE_CLUSTER", "dead")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // …and --cluster beats both.
    let out = snapshot(&["--cluster", "live"], &[("OPSCONSOLE_CLUSTER", "dead")]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The console opens the default cluster too, and says so.
    let t = Tmux::sized("opsconsole-default", 120, 30).start(&["--config", cfg]);
    t.wait_screen("the default cluster's members", SOON, |s| {
        s.contains("web-1") && s.contains("from [defaults] cluster")
    });
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

#[test]
fn without_a_config_it_says_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let e = stderr(&out);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains(
            &home
                .path()
                .join("config/opsconsole/config.toml")
                .display()
                .to_string()
        ) && e.contains("--demo")
            && e.contains("ETCDCTL_ENDPOINTS"),
        "{e}"
    );
    // info works, and says there is no config yet.
    let out = run(home.path(), &["info"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("no config yet") && text.contains("log file"),
        "{text}"
    );
    assert!(text.contains("demo-audit.log"), "{text}");
    let out = run(home.path(), &["info", "--json"], &[("NO_COLOR", "1")]);
    assert_eq!(out.status.code(), Some(0));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("info --json");
    assert_eq!(info["config"]["status"], "missing");
    assert!(info["profile"]["error"]
        .as_str()
        .unwrap()
        .contains("--demo"));
    assert_eq!(info["no_color"]["colours_off"], true);
    assert_eq!(info["keymap"]["from"], "built-in default");
    // NO_COLOR= (empty) is not set, as the theme reads it.
    let out = run(home.path(), &["info", "--json"], &[("NO_COLOR", "")]);
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["no_color"]["env"], "empty");
    assert_eq!(info["no_color"]["colours_off"], false);
}

#[test]
fn keys_completions_and_man() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "[clusters.prod-eu]\netcd = { endpoints = [\"http://127.0.0.1:1\"] }\n[clusters.staging]\netcd = { endpoints = [\"http://127.0.0.1:1\"] }\n",
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    // The keymap error names `opsconsole keys`, which exists and lists the actions.
    let bad = home.path().join("bad.toml");
    std::fs::write(&bad, "[global]\n\"x\" = \"explode\"\n").unwrap();
    let out = run(
        home.path(),
        &["--keymap", bad.to_str().unwrap(), "--demo"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("opsconsole keys"), "{}", stderr(&out));
    let out = run(home.path(), &["keys"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let keys = stdout(&out);
    assert!(
        keys.contains("[input]") && keys.contains("complete") && keys.contains("history"),
        "{keys}"
    );
    let out = run(home.path(), &["keys", "--keymap", "emacs"], &[]);
    assert!(stdout(&out).contains("alt-p"), "{}", stdout(&out));

    for shell in ["bash", "zsh", "fish"] {
        let out = run(home.path(), &["--config", cfg, "completions", shell], &[]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        assert!(
            script.contains("prod-eu") && script.contains("staging"),
            "{shell} completes the config's clusters:\n{script}"
        );
    }
    let out = run(home.path(), &["--config", cfg, "completions", "bash"], &[]);
    let file = home.path().join("opsconsole.bash");
    std::fs::write(&file, &out.stdout).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    let out = run(home.path(), &["man"], &[]);
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
    assert!(
        page.contains("completions") && page.contains("endpoints"),
        "{page}"
    );
}

#[test]
fn the_console_refuses_a_file_and_a_dumb_terminal() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("screen.txt");
    let out = Command::new(BIN)
        .args(["--demo"])
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .stdout(std::fs::File::create(&file).unwrap())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"",
        "nothing drawn into the file"
    );
    let e = stderr(&out);
    assert!(
        e.contains("not a terminal") && e.contains("snapshot") && e.contains("inventory"),
        "{e}"
    );
    // In a real terminal with TERM=dumb.
    let body = format!("TERM=dumb {} \"$@\"\necho \"EXIT=$?\"\nsleep 120\n", BIN);
    let t = Tmux::sized("opsconsole-dumb", 160, 20)
        .script(&body)
        .start(&["--demo"]);
    let screen = t.wait_text("EXIT=2");
    assert!(
        screen.contains("TERM=dumb") && screen.contains("snapshot"),
        "{screen}"
    );
}

#[test]
fn checks_kind_sensu_names_the_kinds() {
    let home = tempfile::tempdir().unwrap();
    let config = config_with(
        home.path(),
        "http://127.0.0.1:1",
        "checks = { kind = \"sensu\", url = \"http://127.0.0.1:1\" }",
    );
    let out = run(
        home.path(),
        &["--config", config.to_str().unwrap(), "--cluster", "test"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("line 3")
            && e.contains("\"sensu-go\"")
            && e.contains("\"sensu-core\"")
            && e.contains("\"alertmanager\""),
        "{e}"
    );
}

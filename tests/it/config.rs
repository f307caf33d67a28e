//! Configs and arguments that cannot work: each is refused at start, before the terminal is touched —
//! exit status 2 and one line on stderr naming the file, the line, the key and what to write
//! instead. The per-key checks are unit tests in `src/config.rs`; here the whole path a user takes
//! is run (the built binary, also in a real terminal), so a value that loads and then breaks a task
//! later (a timeout that overflows the clock) is caught where the user would meet it.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::e2e::start;
use common::tmux::{assert_cooked, Tmux};
use common::write_config;

const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");

/// Runs `opsconsole ARGS` with its XDG dirs and HOME in `dir`, no terminal, no stdin.
fn opsconsole(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("HOME", dir)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("running opsconsole")
}

/// The config `text`, given to `opsconsole --cluster test`: exit 2, nothing on stdout, one line on
/// stderr that names the file and `line`, contains every `expected` text and no escape sequence.
fn refused(text: &str, line: usize, expected: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let out = opsconsole(
        dir.path(),
        &["--config", path.to_str().unwrap(), "--cluster", "test"],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{text}\nstderr: {stderr}");
    assert!(out.stdout.is_empty(), "{text}: something on stdout");
    assert!(!stderr.contains('\x1b'), "{text}: the terminal was touched");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    let at = format!("{} line {line}:", path.display());
    assert!(stderr.contains(&at), "{text}: names {at}: {stderr}");
    for e in expected {
        assert!(stderr.contains(e), "{text}: says {e:?}: {stderr}");
    }
    eprintln!("{}", stderr.trim_end());
    stderr
}

const ETCD: &str = "etcd = { endpoints = [\"http://127.0.0.1:2379\"] }";

/// The value from the issue: it used to load, then the etcd task panicked adding it to the clock
/// (`overflow when adding durations`), printed a backtrace over the screen and left the console
/// alive drawing nothing.
#[test]
fn absurd_connect_timeout_is_refused_with_its_range() {
    refused(
        "[clusters.test]\netcd = { endpoints = [\"http://127.0.0.1:2379\"],\n  connect_timeout_secs = 18446744073709551615 }\n",
        2,
        &[
            "clusters.test.etcd",
            "connect_timeout_secs = 18446744073709551615 is out of range",
            "1–300 seconds",
        ],
    );
}

#[test]
fn every_bounded_number_is_refused_out_of_range() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "etcd = { endpoints = [\"http://127.0.0.1:2379\"], keepalive_secs = 1 }",
            "keepalive_secs = 1 is out of range",
            "5–3,600 seconds",
        ),
        (
            "checks = { kind = \"alertmanager\", url = \"http://127.0.0.1:9093\", interval_secs = 86400 }",
            "interval_secs = 86400 is out of range",
            "1–3,600 seconds",
        ),
        (
            "metrics = { kind = \"prometheus\", url = \"http://127.0.0.1:9090\", timeout_secs = 0, series = [{ name = \"up\", query = \"up\" }] }",
            "timeout_secs = 0 is out of range",
            "1–3,600 seconds",
        ),
        (
            "logs = { kind = \"redis\", url = \"redis://127.0.0.1:6379\", channel = \"syslog\", buffer_lines = 10 }",
            "buffer_lines = 10 is out of range",
            "1,000–10,000,000 lines",
        ),
    ];
    for (table, what, range) in cases {
        let text = if table.starts_with("etcd") {
            format!("[clusters.test]\n{table}\n")
        } else {
            format!("[clusters.test]\n{ETCD}\n{table}\n")
        };
        let line = if table.starts_with("etcd") { 2 } else { 3 };
        refused(&text, line, &[what, range]);
    }
}

/// An endpoint without scheme, a prefix without the trailing `/`, zero timeouts.
#[test]
fn config_that_cannot_work_is_refused() {
    refused(
        "[clusters.test]\netcd = { endpoints = [\"127.0.0.1:2379\"] }\n",
        2,
        &["has no scheme", "http://host:port"],
    );
    refused(
        "[clusters.test]\netcd = { endpoints = [\"http://127.0.0.1:2379\"], prefix = \"/services\" }\n",
        2,
        &["prefix \"/services\" must end with /", "\"/services/\""],
    );
    refused(
        "[clusters.test]\netcd = { endpoints = [\"http://127.0.0.1:2379\"], connect_timeout_secs = 0 }\n",
        2,
        &["connect_timeout_secs = 0 is out of range"],
    );
    refused(
        &format!("[clusters.test]\n{ETCD}\nchecks = {{ kind = \"alertmanager\", url = \"http://127.0.0.1:9093\", timeout_secs = 0 }}\n"),
        3,
        &["timeout_secs = 0 is out of range"],
    );
}

/// Cluster `b` names a password variable that is not set (and an API key variable that is not
/// either): `info` still works and says what `b` lacks, and cluster `a` — a real etcd — opens, in
/// `inventory` and in the console. Before, every command failed on `b`'s secret.
#[test]
fn another_clusters_unset_secret_blocks_neither_this_cluster_nor_info() {
    let etcd = common::Etcd::start();
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    ]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[clusters.a]\netcd = {{ endpoints = [\"{}\"] }}\n\n[clusters.b]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"], user = \"ops\", password_env = \"OPSCONSOLE_TEST_UNSET_B\" }}\nchecks = {{ kind = \"sensu-go\", url = \"http://127.0.0.1:1\", api_key_env = \"OPSCONSOLE_TEST_UNSET_B_KEY\" }}\n",
            etcd.endpoint()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let unset = ["OPSCONSOLE_TEST_UNSET_B", "OPSCONSOLE_TEST_UNSET_B_KEY"];
    let run = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("XDG_CONFIG_HOME", dir.path().join("config"))
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .env("HOME", dir.path())
            .stdin(Stdio::null());
        for k in unset {
            cmd.env_remove(k);
        }
        cmd.output().expect("running opsconsole")
    };

    let out = run(&["--config", cfg, "info"]);
    let info = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "info: {info}");
    assert!(info.contains("status      ok, clusters: a, b"), "{info}");
    let b = info
        .lines()
        .find(|l| l.contains("cluster b"))
        .unwrap_or_else(|| panic!("info says what cluster b lacks:\n{info}"));
    assert!(
        b.contains("line 5") && b.contains("$OPSCONSOLE_TEST_UNSET_B, which is not set"),
        "{b}"
    );
    assert!(!info.contains("cluster a"), "a opens: {info}");
    eprintln!("{b}");

    let out = run(&["--config", cfg, "inventory", "-c", "a", "--list"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "inventory of a: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("web-1"), "{stdout}");

    let out = run(&["--config", cfg, "inventory", "-c", "b", "--list"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("OPSCONSOLE_TEST_UNSET_B"), "{stderr}");

    // The console on a, in a terminal: the member from the real etcd, live.
    let t = unset
        .iter()
        .fold(
            common::tmux::Tmux::sized("opsconsole-config", 120, 35),
            |b, k| b.env_remove(k),
        )
        .start(&["--config", cfg, "--cluster", "a"]);
    t.wait_screen("member web-1 live", common::tmux::SOON, |s| {
        s.contains("web-1") && s.contains("etcd ● live")
    });
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

/// `user:password@` in a URL: refused in the config file (an etcd endpoint here), and refused when
/// it arrives through discovery in etcd — the console then says so on the status line and keeps
/// the pane off. The password reaches neither the screen nor the log file (debug level). Before,
/// such a URL was accepted, shown, and written to the log on every retry.
#[test]
fn credentials_in_urls_are_refused_and_never_logged() {
    const PASSWORD: &str = "hunter2-in-url";
    let stderr = refused(
        &format!(
            "[clusters.test]\netcd = {{ endpoints = [\"http://ops:{PASSWORD}@127.0.0.1:2379\"] }}\n"
        ),
        2,
        &[
            "has credentials in it",
            "***@127.0.0.1:2379",
            "password_env",
        ],
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");

    let etcd = common::Etcd::start();
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    ]);
    let dead = common::free_port();
    etcd.ctl(&[
        "put",
        "/config/opsconsole/checks",
        &format!(r#"{{"kind":"alertmanager","url":"http://ops:{PASSWORD}@127.0.0.1:{dead}","interval_secs":1,"timeout_secs":1}}"#),
    ]);
    let (_dir, config) = common::write_config(&etcd.endpoint(), "/services/", "");
    let t = common::tmux::Tmux::sized("opsconsole-config", 160, 35)
        .env("OPSCONSOLE_LOG", "debug")
        .start(&["--config", config.to_str().unwrap(), "--cluster", "test"]);
    let screen = t.wait_screen("the discovery entry refused", common::tmux::SOON, |s| {
        s.contains("web-1") && s.contains("has credentials in it")
    });
    assert!(
        screen.contains("discovery entry is invalid") && screen.contains("***@127.0.0.1"),
        "{screen}"
    );
    assert!(
        screen.contains("checks ○ off"),
        "the pane stays off:\n{screen}"
    );
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    let raw = t.raw_output();
    assert!(!raw.contains(PASSWORD), "the password was drawn:\n{screen}");
    let log = std::fs::read_to_string(t.state_dir().join("opsconsole.log")).unwrap();
    assert!(
        log.contains("console stopped"),
        "the log was written:\n{log}"
    );
    assert!(
        !log.contains(PASSWORD),
        "the password is in the log file:\n{}",
        log.lines()
            .filter(|l| l.contains(PASSWORD))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// In a real terminal

/// Bad input: the process prints one line and exits 2 without touching the terminal.
fn bad_start(args: &[&str]) -> (Tmux, String) {
    let t = start(args);
    let code = t.wait_exit();
    let s = t.screen_joined();
    assert_eq!(code, 2, "exit status:\n{s}");
    assert_eq!(t.alternate_on(), "0");
    let raw = t.raw_output();
    let before_exit = &raw[..raw.find("EXIT=").expect("EXIT= in the pane output")];
    assert!(
        !before_exit.contains('\x1b'),
        "the program wrote escape sequences (switched the terminal) before failing: {before_exit:?}"
    );
    let lines: Vec<&str> = s
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("EXIT=") && !l.starts_with("TTY="))
        .collect();
    assert_eq!(lines.len(), 1, "expected exactly one message line:\n{s}");
    assert_cooked(s.lines().find(|l| l.starts_with("TTY=")).unwrap());
    (t, lines[0].to_string())
}

#[test]
fn bad_input_fails_with_one_line_before_the_terminal_is_touched() {
    // Unknown cluster: names the config file and the known clusters.
    let (_dir, config) = write_config(
        "http://127.0.0.1:1",
        "/services/",
        "[clusters.staging]\netcd = { endpoints = [\"http://127.0.0.1:2\"] }",
    );
    let cfg = config.to_str().unwrap();
    let (_t, msg) = bad_start(&["--cluster", "prod", "--config", cfg]);
    assert!(msg.contains(cfg), "does not name the config file: {msg}");
    assert!(
        msg.contains("\"prod\""),
        "does not name the cluster asked for: {msg}"
    );
    assert!(
        msg.contains("staging") && msg.contains("test"),
        "does not list known clusters: {msg}"
    );

    // A typo'd key: names the file, the line and the key.
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.toml");
    std::fs::write(
        &typo,
        "[clusters.test]\netcd = { endpoints = [\"http://127.0.0.1:1\"] }\nreadonyl = true\n",
    )
    .unwrap();
    let (_t, msg) = bad_start(&["--cluster", "test", "--config", typo.to_str().unwrap()]);
    assert!(
        msg.contains(typo.to_str().unwrap()),
        "does not name the file: {msg}"
    );
    assert!(msg.contains("line 3"), "does not name the line: {msg}");
    assert!(msg.contains("readonyl"), "does not name the bad key: {msg}");

    // No config at the default place ($XDG_CONFIG_HOME/opsconsole/config.toml): say where and how.
    let (t, msg) = bad_start(&["--cluster", "test"]);
    let expected = t.config_home().join("opsconsole").join("config.toml");
    assert!(
        msg.contains(expected.to_str().unwrap()),
        "does not name {}: {msg}",
        expected.display()
    );
    assert!(
        msg.contains("[clusters."),
        "does not say what to write: {msg}"
    );
    assert!(msg.contains("--config"), "does not mention --config: {msg}");
}

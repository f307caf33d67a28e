//! The built binary on configs that cannot work: each is refused at load, before the terminal is
//! touched — exit status 2 and one line on stderr naming the file, the line, the key and what to
//! write instead (`refused` below). The per-key checks are unit tests in `src/config.rs`; here the
//! whole path a user takes is run, so a value that loads and then breaks a task later (a timeout
//! that overflows the clock) is caught where the user would meet it.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

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

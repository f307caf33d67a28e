//! End-to-end: the built binary in a real terminal (tmux, one private server per test) against a real
//! etcd started by the test. Keys go in with `tmux send-keys`, the screen comes back with
//! `tmux capture-pane -p`, and every byte the program writes to the terminal is kept (`pipe-pane`) so
//! a test can tell whether the alternate screen was ever entered. The driver is `common::tmux`.
//!
//! Missing tmux or etcd fails the test (see `common::require_binary`); nothing is skipped.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::e2e::{fleet, has_row, row, start, HEIGHT, LIVE, WIDTH};
use common::tmux::{assert_cooked, run_ok, Tmux, SOON};
use common::{free_port, wait_until, wait_until_or, write_config};

#[test]
fn members_appear_update_and_are_counted_per_role() {
    let f = fleet("");
    let t = f.console(&[]);
    let s = t.screen();
    for (role, instance, addr) in [
        ("web", "web-1", "10.0.0.1:80"),
        ("web", "web-2", "10.0.0.2:8080"),
        ("redis", "redis-1", "10.0.1.1:6379"),
    ] {
        let r = row(&s, instance).unwrap();
        let cols: Vec<&str> = r.trim_matches('│').split_whitespace().collect();
        assert_eq!(cols[0], role, "role column of {instance}: {r}");
        assert_eq!(cols[2], addr, "address column of {instance}: {r}");
    }
    assert!(
        row(&s, "web-1").unwrap().contains("1.4.2"),
        "version of web-1 missing:\n{s}"
    );
    let title = s.lines().next().unwrap();
    assert!(title.contains("Members"), "{title}");
    assert!(
        title.contains("web:2") && title.contains("redis:1"),
        "per-role counts missing: {title}"
    );

    f.etcd.ctl(&[
        "put",
        "/services/web/web-3",
        r#"{"addr":"10.0.0.3","port":81}"#,
    ]);
    let s = t.wait_screen("web-3 to appear", LIVE, |s| has_row(s, "web-3"));
    assert!(row(&s, "web-3").unwrap().contains("10.0.0.3:81"), "{s}");
    t.wait_screen("title to count web:3", LIVE, |s| {
        s.lines().next().unwrap().contains("web:3")
    });

    f.etcd.ctl(&["del", "/services/redis/redis-1"]);
    let s = t.wait_screen("redis-1 to disappear", LIVE, |s| !has_row(s, "redis-1"));
    assert!(
        has_row(&s, "web-1") && has_row(&s, "web-2") && has_row(&s, "web-3"),
        "{s}"
    );
    assert!(
        !s.lines().next().unwrap().contains("redis:"),
        "redis still counted:\n{s}"
    );

    // A key outside the prefix is not a member.
    f.etcd.ctl(&["put", "/other/db/db-1", "10.9.9.9:5432"]);
    f.etcd.ctl(&["put", "/services/web/web-4", "10.0.0.4:80"]);
    let s = t.wait_screen("web-4 to appear", LIVE, |s| has_row(s, "web-4"));
    assert!(
        !s.contains("db-1"),
        "a key outside the prefix is shown:\n{s}"
    );
}

#[test]
fn filter_narrows_rows_and_escape_clears_it() {
    let f = fleet("");
    let t = f.console(&[]);
    t.send(&["/"]);
    t.type_text("web-1");
    t.wait_text("/web-1");
    t.send(&["Enter"]);
    let s = t.wait_screen("only web-1 left", SOON, |s| {
        has_row(s, "web-1") && !has_row(s, "web-2") && !has_row(s, "redis-1")
    });
    let title = s.lines().next().unwrap();
    assert!(
        title.contains("1/3"),
        "title should say 1 of 3 shown: {title}"
    );
    assert!(
        title.contains("/web-1/"),
        "title should show the filter: {title}"
    );

    // Keys still work on the filtered list: the detail opens on the only visible member once
    // the cursor is on it (nothing is selected until the user moves).
    t.send(&["j"]);
    t.send(&["Enter"]);
    t.wait_text("/services/web/web-1");
    t.escape();
    t.wait_gone("Member detail");

    t.escape();
    let s = t.wait_screen("all members back", SOON, |s| {
        has_row(s, "web-1") && has_row(s, "web-2") && has_row(s, "redis-1")
    });
    assert!(
        !s.lines().next().unwrap().contains("/web-1/"),
        "filter still shown:\n{s}"
    );

    // A filter matching nothing says so instead of showing an empty table.
    t.send(&["/"]);
    t.type_text("nomatch");
    t.send(&["Enter"]);
    t.wait_text("no member matches");
    t.escape();
    t.wait_screen("all members back", SOON, |s| {
        has_row(s, "redis-1") && has_row(s, "web-2")
    });
}

#[test]
fn deregister_asks_names_the_key_and_is_audited() {
    let f = fleet("");
    let t = f.console(&[]);
    // Sorted by role: redis-1, web-1, web-2. Nothing is selected at start; the first `j` lands
    // on redis-1. Down twice more, up once: web-1.
    t.send(&["j"]);
    t.send(&["j"]);
    t.send(&["j"]);
    t.send(&["k"]);
    t.send(&["D"]);
    let s = t.wait_text("Deregister this member?");
    assert!(
        s.lines().any(|l| l.contains("key  /services/web/web-1 ")),
        "dialog does not name /services/web/web-1:\n{s}"
    );
    assert!(
        !s.contains("/services/web/web-2") && !s.contains("/services/redis/redis-1"),
        "{s}"
    );

    t.send(&["n"]);
    t.wait_gone("Deregister this member?");
    assert!(
        f.get("/services/web/web-1").contains("10.0.0.1"),
        "cancel deleted the key"
    );
    assert!(has_row(&t.screen(), "web-1"));

    t.send(&["D"]);
    t.wait_text("key  /services/web/web-1 ");
    t.confirm("y");
    wait_until("y to delete /services/web/web-1 from etcd", SOON, || {
        f.get("/services/web/web-1").trim().is_empty()
    });
    let s = t.wait_screen("web-1 gone from the table", SOON, |s| !has_row(s, "web-1"));
    assert!(
        has_row(&s, "web-2") && has_row(&s, "redis-1"),
        "other members vanished:\n{s}"
    );
    assert!(
        f.get("/services/web/web-2").contains("10.0.0.2"),
        "web-2 deleted too"
    );

    let line = wait_until_or(
        "an audit line for the deregister",
        SOON,
        || {
            t.audit_lines()
                .into_iter()
                .find(|l| l["action"] == "deregister" && l["result"] == "deleted")
        },
        || format!("{:?}", t.audit_lines()),
    );
    assert_eq!(line["target"], "/services/web/web-1", "{line}");
    assert_eq!(line["cluster"], "test", "{line}");
    assert_eq!(line["user"], "e2e-tester", "{line}");
    assert!(
        line["time"].as_str().is_some_and(|s| !s.is_empty()),
        "{line}"
    );
    // The cancelled attempt deleted nothing, so nothing says it did.
    let deleted: Vec<_> = t
        .audit_lines()
        .into_iter()
        .filter(|l| l["result"] == "deleted")
        .collect();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
}

#[test]
fn readonly_refuses_deregister_and_audits_the_refusal() {
    let f = fleet("");
    let t = f.console(&["--readonly"]);
    assert!(
        t.screen().contains("READONLY"),
        "no READONLY badge:\n{}",
        t.screen()
    );
    t.send(&["j"]);
    t.send(&["j"]);
    t.send(&["D"]);
    let s = t.wait_text("read-only");
    assert!(
        !s.contains("Deregister this member?"),
        "dialog opened in read-only mode:\n{s}"
    );
    // A stray `y` after the refusal must not confirm anything. It has been handled once the help
    // that `?` (sent after it) opens is on screen.
    t.send(&["y"]);
    t.send(&["?"]);
    t.wait_text("active bindings");
    t.escape();
    t.wait_gone("active bindings");
    assert!(
        f.get("/services/web/web-1").contains("10.0.0.1"),
        "key deleted in read-only mode"
    );
    assert!(has_row(&t.screen(), "web-1"));
    let line = wait_until("an audit line for the refused deregister", SOON, || {
        t.audit_lines()
            .into_iter()
            .find(|l| l["action"] == "deregister")
    });
    assert_eq!(line["result"], "refused: readonly", "{line}");
    assert_eq!(line["target"], "/services/web/web-1", "{line}");
}

#[test]
fn readonly_from_the_cluster_profile() {
    let f = fleet("readonly = true");
    // `extra` lands inside [clusters.test], right after the etcd line.
    let t = f.console(&[]);
    t.send(&["D"]);
    t.wait_text("read-only");
    assert!(f.get("/services/redis/redis-1").contains("10.0.1.1"));
}

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

#[test]
fn too_small_terminal_says_so_and_recovers() {
    let f = fleet("");
    let t = f.console(&[]);
    t.tmux(&["resize-window", "-t", "t", "-x", "40", "-y", "10"]);
    let s = t.wait_text("Terminal too small");
    assert!(
        !s.contains("web-1"),
        "table still drawn when too small:\n{s}"
    );
    t.tmux(&[
        "resize-window",
        "-t",
        "t",
        "-x",
        &WIDTH.to_string(),
        "-y",
        &HEIGHT.to_string(),
    ]);
    let s = t.wait_screen("members back after resize", SOON, |s| {
        has_row(s, "web-1") && has_row(s, "web-2") && has_row(s, "redis-1")
    });
    assert!(!s.contains("Terminal too small"), "{s}");
    // Still responsive.
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

#[test]
fn quit_restores_the_terminal() {
    let f = fleet("");
    let t = f.console(&[]);
    assert_eq!(
        t.alternate_on(),
        "1",
        "the console should draw on the alternate screen"
    );
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
    assert!(
        !t.screen().contains("Members"),
        "TUI left on the main screen:\n{}",
        t.screen()
    );
}

#[test]
fn sigterm_restores_the_terminal() {
    let f = fleet("");
    let t = f.console(&[]);
    let pid = t.app_pid();
    run_ok(Command::new(common::require_binary("kill")).args(["-TERM", &pid.to_string()]));
    let code = t.wait_exit();
    let s = t.screen_joined();
    assert_eq!(code, 0, "SIGTERM should be a clean stop:\n{s}");
    t.assert_terminal_restored();
    assert!(s.contains("SIGTERM"), "no word about why it stopped:\n{s}");
}

#[test]
fn help_and_detail_popups() {
    let f = fleet("");
    let t = f.console(&[]);
    t.send(&["?"]);
    let s = t.wait_text("active bindings");
    // The status bar (last line) names deregister too; it must be in the popup itself.
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .any(|l| l.contains("  D ") && l.contains("deregister")),
        "help does not list D = deregister:\n{s}"
    );
    t.escape();
    let s = t.wait_gone("active bindings");
    assert!(has_row(&s, "web-1"));

    // web-1 is second (redis-1 first; the first `j` selects it).
    t.send(&["j"]);
    t.send(&["j"]);
    t.send(&["Enter"]);
    let s = t.wait_text("Member detail");
    assert!(
        s.contains("/services/web/web-1"),
        "detail not about web-1:\n{s}"
    );
    // Pretty-printed: one field per line, indented.
    let inner: Vec<&str> = s
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .collect();
    for field in [
        "{",
        r#""addr": "10.0.0.1","#,
        r#""port": 80,"#,
        r#""version": "1.4.2""#,
        "}",
    ] {
        assert!(inner.contains(&field), "{field} not on its own line:\n{s}");
    }
    let open = inner.iter().position(|l| *l == "{").unwrap();
    let addr = inner
        .iter()
        .position(|l| l.starts_with(r#""addr""#))
        .unwrap();
    assert!(addr > open, "value not under its opening brace:\n{s}");
    t.escape();
    t.wait_gone("Member detail");
}

#[test]
fn unreachable_etcd_shows_retry_and_quits_cleanly() {
    let port = free_port();
    let (_dir, config) = write_config(&format!("http://127.0.0.1:{port}"), "/services/", "");
    let t = start(&["--cluster", "test", "--config", config.to_str().unwrap()]);
    let s = t.wait_screen("the retry state", Duration::from_secs(10), |s| {
        s.contains("cannot reach etcd") && s.contains("retry")
    });
    assert!(s.contains("Members"), "{s}");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
}

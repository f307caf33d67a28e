//! Custom commands (`[[commands]]`, issue 25) in a real terminal against a real etcd: a capture
//! command's output in a searchable popup, with a value holding `;rm -rf` arriving as one literal
//! argument; a foreground command lending the terminal and the console drawn again after; a
//! background task listed, killed from the Tasks popup, and killed on exit (no process left, by
//! its pid); read-only refusing a `confirm` command; every run audited.

use crate::common;

use std::time::Duration;

use common::e2e::{command, fleet, message_line};
use common::tmux::SOON;
use common::wait_until;

/// A script that writes each of its arguments on a line of `out`, then prints some output.
fn argv_script(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let out = dir.join("argv.txt");
    let script = dir.join("argv.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{}'\necho \"args: $#\"\necho first line\necho the needle is here\necho middle line\necho another NEEDLE\necho err line >&2\n",
            out.display()
        ),
    )
    .unwrap();
    make_executable(&script);
    (script, out)
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Filters the members down to `instance` and selects it.
fn select(t: &common::tmux::Tmux, instance: &str) {
    command(t, &format!("filter {instance}"));
    t.send(&["j"]);
    t.wait_text(&format!("scope: {instance}"));
}

#[test]
fn capture_output_is_searchable_and_values_are_single_literal_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let (script, out) = argv_script(dir.path());
    let f = fleet(&format!(
        r#"
[[clusters.test.commands]]
name = "probe"
key = "S"
scope = "member"
mode = "capture"
command = ["{}", "{{instance}}", "{{note}}", "addr={{addr}}"]
"#,
        script.display()
    ));
    f.etcd.ctl(&[
        "put",
        "/services/web/web-0",
        r#"{"addr":"10.0.0.9","port":80,"note":"x;rm -rf /tmp/nothing $(id)"}"#,
    ]);
    let t = f.console(&[]);
    t.wait_text("web-0");
    select(&t, "web-0");
    t.send(&["S"]);
    let s = t.wait_text("the needle is here");
    assert!(
        s.contains("probe — exit 0") && s.contains("err line"),
        "{s}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "web-0\nx;rm -rf /tmp/nothing $(id)\naddr=10.0.0.9:80\n",
        "each value one literal argument, no shell"
    );
    // Search: / needle Enter, n to the next match.
    t.send(&["/"]);
    t.wait_text("search the output:");
    t.type_text("needle");
    t.send(&["Enter"]);
    let s = t.wait_text("2 lines match");
    assert!(s.contains("\"needle\" 2 matches"), "{s}");
    let line = t.wait_audit("run command", "exit 0");
    assert_eq!(
        line["argv"],
        serde_json::json!([
            script.display().to_string(),
            "web-0",
            "x;rm -rf /tmp/nothing $(id)",
            "addr=10.0.0.9:80"
        ])
    );
    t.escape();
    t.wait_gone("the needle is here");

    // A placeholder the row has no value for: refused, said, nothing run.
    command(&t, "filter web-1");
    t.send(&["j"]);
    t.wait_text("scope: web-1");
    std::fs::remove_file(&out).unwrap();
    t.send(&["S"]);
    let s = t.wait_text("{note} has no value");
    assert!(message_line(&s).contains("command \"probe\""), "{s}");
    assert!(!out.exists());
}

#[test]
fn a_foreground_command_gets_the_terminal_and_the_console_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fg.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"FOREGROUND on $1\"\n").unwrap();
    make_executable(&script);
    let f = fleet(&format!(
        r#"
[[clusters.test.commands]]
name = "shell"
key = "F"
command = ["{}", "{{instance}}"]
"#,
        script.display()
    ));
    let t = f.console(&[]);
    select(&t, "web-1");
    t.send(&["F"]);
    let s = t.wait_text("press Enter to return");
    assert!(s.contains("FOREGROUND on web-1"), "{s}");
    assert_eq!(t.alternate_on(), "0", "the console's screen is put away");
    t.send(&["Enter"]);
    let s = t.wait_screen("the console drawn again", SOON, |s| {
        s.contains("Members") && s.contains("scope: web-1") && !s.contains("FOREGROUND")
    });
    assert_eq!(t.alternate_on(), "1", "{s}");
    t.wait_audit("run command", "exit 0");
    // Keys work again.
    t.send(&["?"]);
    t.wait_text("active bindings");
    t.escape();
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    t.assert_terminal_restored();
}

/// Whether `pid` is gone (or only a zombie left for init to reap).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// The pid shown for the task `name` in the Tasks popup.
fn task_pid(screen: &str, name: &str) -> u32 {
    let line = screen
        .lines()
        .find(|l| l.contains(name) && l.contains("pid "))
        .unwrap_or_else(|| panic!("no task {name}:\n{screen}"));
    line.split("pid ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line}"))
}

#[test]
fn background_tasks_are_listed_killable_and_killed_on_exit() {
    let f = fleet(
        r#"
[[clusters.test.commands]]
name = "tunnel"
key = "B"
mode = "background"
command = ["sleep", "301"]

[[clusters.test.commands]]
name = "watcher"
key = "W"
mode = "background"
command = ["sleep", "302"]
"#,
    );
    let t = f.console(&[]);
    select(&t, "web-1");
    t.send(&["B"]);
    t.wait_text("tunnel runs in the background");
    t.send(&["W"]);
    t.wait_text("watcher runs in the background");
    t.send(&["&"]);
    let s = t.wait_screen("both tasks listed", SOON, |s| {
        s.contains("Tasks (2)") && s.contains("sleep 301") && s.contains("sleep 302")
    });
    let tunnel = task_pid(&s, "tunnel");
    let watcher = task_pid(&s, "watcher");
    assert!(!gone(tunnel) && !gone(watcher));
    // x kills the one under the cursor (the first); its outcome is audited.
    t.send(&["x"]);
    let s = t.wait_text("Tasks (1)");
    assert!(!s.contains("sleep 301"), "{s}");
    wait_until("the killed task's process gone", SOON, || {
        gone(tunnel).then_some(())
    });
    t.wait_audit("run command", "killed by signal 15");
    t.escape();
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    wait_until(
        "the task left running to be killed when the console exits",
        Duration::from_secs(5),
        || gone(watcher).then_some(()),
    );
    t.assert_terminal_restored();
}

#[test]
fn readonly_refuses_a_confirm_command_and_audits_it() {
    let f = fleet(
        r#"
[[clusters.test.commands]]
name = "restart"
key = "R"
danger = "confirm"
mode = "capture"
command = ["echo", "restart", "{instance}"]

[[clusters.test.commands]]
name = "look"
key = "L"
mode = "capture"
command = ["echo", "looked at", "{instance}"]
"#,
    );
    let t = f.console(&["--readonly"]);
    select(&t, "web-1");
    t.send(&["R"]);
    let s = t.wait_text("read-only session: command \"restart\"");
    assert!(!s.contains("Run command"), "no dialog: {s}");
    let line = t.wait_audit("run command", "refused: readonly");
    assert_eq!(line["phase"], "refused");
    // A command without danger still runs in a read-only session.
    t.send(&["L"]);
    t.wait_text("looked at web-1");

    // Without --readonly the same key asks first, naming the exact arguments.
    drop(t);
    let t = f.console(&[]);
    select(&t, "web-1");
    t.send(&["R"]);
    let s = t.wait_text("Run \"restart\" (capture)?");
    assert!(s.contains("[2] web-1"), "{s}");
    t.confirm("y");
    t.wait_text("restart web-1");
    t.wait_audit("run command", "exit 0");
}

#[test]
fn a_command_key_that_shadows_a_global_key_is_refused_at_start() {
    let f = fleet(
        r#"
[[clusters.test.commands]]
name = "quitter"
key = "q"
command = ["true"]
"#,
    );
    let out = std::process::Command::new(common::tmux::BIN)
        .args(["--cluster", "test", "--config", f.config.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("command \"quitter\"") && err.contains("[global] \"quit\""),
        "{err}"
    );
}

/// An alert posted to a real Alertmanager with a runbook, a dashboard and a generator URL; a
/// non-http annotation is not a link.
fn fire_with_runbook(am: &common::Alertmanager) {
    let ends = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = serde_json::json!([{
        "labels": {"alertname": "DiskFull", "instance": "web-1", "severity": "critical"},
        "annotations": {
            "summary": "disk full on web-1",
            "runbook_url": "https://runbooks.example/disk-full",
            "dashboard": "http://grafana.example:3000/d/disk?var-host=web-1",
            "notes": "file:///etc/passwd",
        },
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk",
        "endsAt": ends,
    }]);
    am.api("POST", "/api/v2/alerts", Some(&body.to_string()));
}

#[test]
fn an_alerts_runbook_and_a_template_filled_from_the_member_are_links_in_the_detail() {
    let am = common::Alertmanager::start();
    fire_with_runbook(&am);
    let f = fleet(&format!(
        r#"checks = {{ kind = "alertmanager", url = "{}", interval_secs = 1 }}
links = [
  {{ name = "grafana", url = "https://grafana.example/d/x?var-instance={{addr}}&from={{time}}" }},
  {{ name = "logs", url = "https://kibana.example/app?q={{instance}}", pane = "members" }},
]"#,
        am.url()
    ));
    let t = f.console(&[]);
    // The member detail: the templates filled from web-1 (percent-encoded), the host shown.
    select(&t, "web-1");
    t.send(&["Enter"]);
    let s = t.wait_text("links — 1–9 open");
    assert!(
        s.contains("[1] grafana (grafana.example)")
            && s.contains("https://grafana.example/d/x?var-instance=10.0.0.1%3A80&from=20")
            && s.contains("[2] logs (kibana.example)  https://kibana.example/app?q=web-1"),
        "{s}"
    );
    // No local display here: a number copies the link (OSC 52) and says so.
    t.send(&["2"]);
    t.wait_text("no local display: the link to kibana.example is on the clipboard");
    t.escape();

    // The alert's detail: runbook first, dashboard, generatorURL, then the checks template; the
    // file:// annotation is no link.
    t.send(&["Tab"]);
    t.wait_text("DiskFull");
    t.send(&["Enter"]);
    let s = t.wait_text("[1] runbook_url (runbooks.example)");
    assert!(
        s.contains("https://runbooks.example/disk-full")
            && s.contains("[2] dashboard (grafana.example:3000)")
            && s.contains("[3] generatorURL (prometheus.example:9090)")
            && s.contains("[4] grafana (grafana.example)")
            && !s.contains("[5]")
            && !s.contains("file:///etc/passwd  "),
        "{s}"
    );
    // The label is an OSC 8 hyperlink in the bytes the terminal received.
    let raw = t.raw_output();
    assert!(
        raw.contains("\x1b]8;;https://runbooks.example/disk-full\x1b\\"),
        "no OSC 8 hyperlink in the output"
    );
}

//! End-to-end, in a real terminal (tmux) against a real etcd (and a real Alertmanager for
//! silences): the console acts only on what the screen showed and what the user meant.
//!
//! - A paste is text, never keys (bracketed paste); keys typed ahead do not confirm a dialog that
//!   was not yet on screen.
//! - The audit log is the gate: an attempt line is on disk before a change is sent, its outcome
//!   follows under the same id, and while the log cannot be written every change is refused.
//! - `:cluster` never exits: a bad target is a message, the running cluster keeps its state.
//!
//! Missing tmux, etcd or Alertmanager fails the test (see `common::require_binary`); nothing is
//! skipped.

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine as _;
use common::e2e::{command, has_row, message_line, on_cluster, select_first, web_fleet};
use common::tmux::{run_ok, SOON};
use common::{require_binary, wait_until, wait_until_or, Alertmanager, Etcd};
use serde_json::Value;

// ------------------------------------------------------------------------- paste and typing ahead

#[test]
fn a_paste_in_the_members_pane_runs_no_keys() {
    let f = web_fleet("");
    let t = f.console(&[]);
    select_first(&t);
    // `D` would open the deregister dialog on web-1 (the first row) and `y` confirm it.
    t.paste("Daisy");
    let s = t.wait_screen("the paste notice", SOON, |s| {
        message_line(s).contains("paste ignored")
    });
    assert!(
        !s.contains("Deregister this member?"),
        "a dialog opened:\n{s}"
    );
    assert!(has_row(&s, "web-1") && has_row(&s, "web-2"), "{s}");
    assert!(f.has("/services/web/web-1") && f.has("/services/web/web-2"));
    assert!(
        t.audit_lines().is_empty(),
        "nothing was attempted: {:?}",
        t.audit_lines()
    );
    // Keys still work: a paste changed nothing about the keyboard.
    t.send(&["D"]);
    t.wait_text("Deregister this member?");
    t.send(&["n"]);
    t.wait_gone("Deregister this member?");
    assert!(f.has("/services/web/web-1"));
}

#[test]
fn keys_typed_ahead_do_not_confirm_a_dialog_not_yet_seen() {
    let f = web_fleet("");
    let t = f.console(&[]);
    select_first(&t);
    // One write to the terminal: `y` arrives before the dialog `D` opens was ever on screen.
    t.type_text("Dy");
    let s = t.wait_screen("the dialog, and the hint to press y again", SOON, |s| {
        s.contains("Deregister this member?") && message_line(s).contains("press y again")
    });
    assert!(s.contains("key  /services/web/web-1 "), "{s}");
    assert!(f.has("/services/web/web-1"), "deleted by a key typed ahead");
    assert!(t.audit_lines().is_empty(), "{:?}", t.audit_lines());

    // The same key once the dialog has been seen: deleted.
    t.confirm("y");
    wait_until_or(
        "y to delete web-1",
        SOON,
        || !f.has("/services/web/web-1"),
        || t.screen(),
    );
    t.wait_screen("web-1 gone", SOON, |s| {
        !has_row(s, "web-1") && has_row(s, "web-2")
    });
    assert!(f.has("/services/web/web-2"));
}

#[test]
fn a_paste_into_the_filter_goes_into_the_filter() {
    let f = web_fleet("");
    let t = f.console(&[]);
    t.send(&["/"]);
    t.wait_text("Enter apply");
    // A copied line with its line break: the text filters, the line break does not submit.
    t.paste("web-2\n");
    let s = t.wait_screen(
        "/web-2 typed, the filter still open, only web-2",
        SOON,
        |s| message_line(s).starts_with("/web-2█") && has_row(s, "web-2") && !has_row(s, "web-1"),
    );
    assert!(message_line(&s).contains("Enter apply"), "{s}");
    t.send(&["Enter"]);
    t.wait_screen("the filter applied", SOON, |s| {
        message_line(s).contains("filter /web-2/: 1 of 2 members")
    });
    assert!(f.has("/services/web/web-1") && f.has("/services/web/web-2"));
}

// ------------------------------------------------------------------------- the audit log gate

/// The audit lines of each action, by id, in the order written.
fn by_id(lines: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for l in lines {
        let id = l["id"]
            .as_str()
            .unwrap_or_else(|| panic!("an audit line without an id: {l}"));
        out.entry(id.to_string()).or_default().push(l.clone());
    }
    out
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// etcd's mod_revision of `key` (etcdctl JSON).
fn mod_revision(etcd: &Etcd, key: &str) -> i64 {
    let v: Value = serde_json::from_str(&etcd.ctl(&["get", key, "-w", "json"])).unwrap();
    v["kvs"][0]["mod_revision"]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} not in etcd: {v}"))
}

fn signal(pid: u32, sig: &str) {
    run_ok(Command::new(common::require_binary("kill")).args([sig, &pid.to_string()]));
}

#[test]
fn an_unwritable_audit_log_refuses_every_change_until_it_can_be_written() {
    // Tests run as root, where permissions stop nothing: the log's directory is a regular file.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "not a directory").unwrap();
    let audit_log = blocker.join("audit.log");
    let f = web_fleet(&format!(
        "[defaults]\naudit_log = \"{}\"\n",
        audit_log.display()
    ));
    let t = f.console(&[]);
    select_first(&t);
    // Said at once, before anything is attempted, and it stays.
    let s = t.wait_screen("the audit log warning at start", SOON, |s| {
        message_line(s).contains("audit log cannot be written")
            && s.lines()
                .last()
                .is_some_and(|l| l.contains("AUDIT LOG UNWRITABLE"))
    });
    assert!(
        message_line(&s).contains("blocker"),
        "does not name the path:\n{s}"
    );

    t.send(&["D"]);
    t.wait_text("Deregister this member?");
    t.confirm("y");
    let s = t.wait_screen("the refusal", SOON, |s| {
        message_line(s).contains("refused: audit log unwritable")
    });
    assert!(
        message_line(&s).contains("/services/web/web-1")
            && message_line(&s).contains("nothing was sent"),
        "{s}"
    );
    assert!(
        f.has("/services/web/web-1"),
        "deleted without an audit line"
    );
    assert!(has_row(&s, "web-1"));

    // Fixed while running: the next attempt writes the log and goes through.
    std::fs::remove_file(&blocker).unwrap();
    t.send(&["D"]);
    t.wait_text("Deregister this member?");
    t.confirm("y");
    wait_until_or(
        "web-1 deleted once the log was writable",
        SOON,
        || !f.has("/services/web/web-1"),
        || t.screen(),
    );
    t.wait_screen("the warning gone", SOON, |s| {
        !s.contains("AUDIT LOG UNWRITABLE") && !has_row(s, "web-1")
    });
    let text = wait_until("the attempt and the outcome in the audit log", SOON, || {
        let text = std::fs::read_to_string(&audit_log).ok()?;
        (text.lines().count() >= 2).then_some(text)
    });
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let phases: Vec<&str> = lines.iter().map(|l| l["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["attempt", "outcome"], "{text}");
    assert_eq!(lines[0]["id"], lines[1]["id"], "{text}");
    assert_eq!(lines[1]["result"], "deleted", "{text}");
}

#[test]
fn the_attempt_is_on_disk_before_etcd_is_asked() {
    let f = web_fleet("");
    let key = "/services/web/web-1";
    let rev = mod_revision(&f.etcd, key);
    let t = f.console(&[]);
    select_first(&t);
    t.send(&["D"]);
    t.wait_text("Deregister this member?");
    // etcd frozen: whatever reaches the audit log now was written before etcd could answer.
    let pid = f.etcd.pid().expect("etcd runs");
    signal(pid, "-STOP");
    t.confirm("y");
    let attempt = wait_until("an attempt line while etcd is frozen", SOON, || {
        t.audit_lines()
            .into_iter()
            .find(|l| l["phase"] == "attempt")
    });
    let written = t.audit_lines();
    signal(pid, "-CONT");
    assert_eq!(
        written.len(),
        1,
        "only the attempt while etcd was frozen: {written:?}"
    );
    assert_eq!(attempt["action"], "deregister", "{attempt}");
    assert_eq!(attempt["target"], key, "{attempt}");
    assert_eq!(attempt["key_b64"], b64(key).as_str(), "{attempt}");
    assert_eq!(attempt["mod_revision"], rev, "{attempt}");
    assert_eq!(attempt["user"], "e2e-tester", "{attempt}");
    assert_eq!(attempt["cluster"], "test", "{attempt}");
    assert!(attempt.get("result").is_none(), "{attempt}");

    let outcome = t.wait_audit("deregister", "deleted");
    assert!(!f.has(key), "deleted in etcd");
    assert_eq!(outcome["id"], attempt["id"], "{outcome}");
    assert_eq!(outcome["phase"], "outcome", "{outcome}");
    for field in ["target", "key_b64", "mod_revision", "user", "cluster"] {
        assert_eq!(outcome[field], attempt[field], "{field}: {outcome}");
    }
}

#[test]
fn a_silence_and_a_deregister_leave_two_lines_with_one_id_each() {
    let am = Alertmanager::start();
    let amtool = require_binary("amtool");
    let url = format!("--alertmanager.url={}", am.url());
    run_ok(Command::new(&amtool).args([
        &url,
        "alert",
        "add",
        "alertname=HighLatency",
        "instance=web-2",
        "severity=critical",
    ]));
    let f = web_fleet(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
        am.url()
    ));
    let t = f.console(&[]);
    t.wait_text("HighLatency");

    // Silence it: the checks pane, its first row.
    t.send(&["Tab"]);
    t.send(&["s"]);
    t.wait_text("reason (required)");
    t.type_text("e2e: audit pairs");
    t.send(&["Enter"]);
    t.wait_screen("the silence confirmation", SOON, |s| {
        s.contains("Create this silence?") && s.contains("HighLatency on web-2")
    });
    t.confirm("y");
    let created = t.wait_audit("silence", "created");
    // Alertmanager's own record (amtool) is the one the outcome names.
    let silences: Value = serde_json::from_str(&run_ok(
        Command::new(&amtool).args([&url, "silence", "query", "-o", "json"]),
    ))
    .unwrap();
    let ids: Vec<&str> = silences
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "{silences}");
    assert_eq!(created["silence_id"], ids[0], "{created}");

    // Back to the members pane, deregister web-2 (the first `j` selects web-1).
    t.send(&["BTab"]);
    t.send(&["j"]);
    t.send(&["j"]);
    t.send(&["D"]);
    t.wait_text("key  /services/web/web-2 ");
    t.confirm("y");
    t.wait_audit("deregister", "deleted");
    assert!(!f.has("/services/web/web-2"));

    let all = t.audit_lines();
    let actions = by_id(&all);
    assert_eq!(actions.len(), 2, "two actions: {all:#?}");
    let run = |id: &str| id.rsplit_once('-').map(|(run, _)| run.to_string());
    let runs: Vec<_> = actions.keys().map(|id| run(id)).collect();
    assert_eq!(runs[0], runs[1], "one session, one run part: {runs:?}");
    for (id, lines) in &actions {
        let phases: Vec<&str> = lines.iter().map(|l| l["phase"].as_str().unwrap()).collect();
        assert_eq!(phases, ["attempt", "outcome"], "{id}: {lines:#?}");
        let (attempt, outcome) = (&lines[0], &lines[1]);
        for field in ["action", "target", "user", "cluster"] {
            assert_eq!(attempt[field], outcome[field], "{id} {field}");
        }
        match attempt["action"].as_str().unwrap() {
            "silence" => {
                assert_eq!(attempt["target"], "HighLatency on web-2", "{attempt}");
                let mut matchers: Vec<(String, String)> = attempt["matchers"]
                    .as_array()
                    .unwrap_or_else(|| panic!("no matchers: {attempt}"))
                    .iter()
                    .map(|m| {
                        assert_eq!(
                            (&m["isRegex"], &m["isEqual"]),
                            (&Value::Bool(false), &Value::Bool(true))
                        );
                        (
                            m["name"].as_str().unwrap().into(),
                            m["value"].as_str().unwrap().into(),
                        )
                    })
                    .collect();
                matchers.sort();
                assert_eq!(
                    matchers,
                    [
                        ("alertname".to_string(), "HighLatency".to_string()),
                        ("instance".to_string(), "web-2".to_string())
                    ],
                    "{attempt}"
                );
                assert_eq!(attempt["reason"], "e2e: audit pairs", "{attempt}");
                assert_eq!(outcome["result"], "created", "{outcome}");
            }
            "deregister" => {
                assert_eq!(attempt["target"], "/services/web/web-2", "{attempt}");
                assert_eq!(attempt["key_b64"], b64("/services/web/web-2").as_str());
                assert_eq!(outcome["result"], "deleted", "{outcome}");
            }
            other => panic!("unexpected action {other}: {attempt}"),
        }
    }
}

// ------------------------------------------------------------------------- cluster switching

const TWO_CLUSTERS: &str =
    "[clusters.other]\netcd = { endpoints = [\"{endpoint}\"], prefix = \"/other/\" }\n\
     [clusters.broken]\netcd = { endpoints = [\"{endpoint}\"] }\ntheme = \"no-such-theme\"\n";

#[test]
fn cluster_switch_errors_stay_on_the_cluster_and_switches_say_so() {
    let f = web_fleet(TWO_CLUSTERS);
    let t = f.console(&[]);
    // Some state worth keeping: a filter showing only web-2.
    t.send(&["/"]);
    t.type_text("web-2");
    t.send(&["Enter"]);
    t.wait_screen("only web-2", SOON, |s| {
        has_row(s, "web-2") && !has_row(s, "web-1")
    });

    // An unknown name: the error on the status line, the console still on `test`, filter kept.
    command(&t, "cluster nosuch");
    let s = t.wait_screen("the switch error, still on test", SOON, |s| {
        let m = message_line(s);
        m.contains("cannot switch to nosuch")
            && m.contains("staying on test")
            && has_row(s, "web-2")
    });
    assert!(!has_row(&s, "web-1"), "the filter was lost:\n{s}");
    assert!(on_cluster(&s, "test"), "{s}");
    assert!(
        message_line(&s).contains("other") && message_line(&s).contains("broken"),
        "the error does not name the known clusters:\n{s}"
    );

    // A profile that is there but does not load (its theme is missing): the same.
    command(&t, "cluster broken");
    let s = t.wait_screen("the theme error, still on test", SOON, |s| {
        let m = message_line(s);
        m.contains("cannot switch to broken") && m.contains("no-such-theme")
    });
    assert!(has_row(&s, "web-2") && on_cluster(&s, "test"), "{s}");

    // No name: the clusters are listed.
    command(&t, "cluster");
    t.wait_screen("the cluster list", SOON, |s| {
        let m = message_line(s);
        m.contains("clusters:")
            && m.contains("test (current)")
            && m.contains("other")
            && m.contains("broken")
    });

    // A good one: switched, and it says so.
    command(&t, "cluster other");
    let s = t.wait_screen("db-1 on cluster other", SOON, |s| {
        has_row(s, "db-1") && on_cluster(s, "other")
    });
    assert!(
        message_line(&s).contains("switched to cluster other (from test"),
        "{s}"
    );
    assert!(!has_row(&s, "web-2"), "{s}");

    // `-` goes back.
    command(&t, "cluster -");
    let s = t.wait_screen("back on test", SOON, |s| {
        has_row(s, "web-1") && has_row(s, "web-2") && on_cluster(s, "test")
    });
    assert!(
        message_line(&s).contains("switched to cluster test (from other"),
        "{s}"
    );

    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
    drop(f.etcd);
}

// ------------------------------------------------------------------------------------- one scope

/// The scope is the member under the cursor, named the same in every pane's title: nothing at
/// start, web-1 after `j`, and nothing again once web-1 is deregistered — never a gone member in
/// one pane while another shows the cluster.
#[test]
fn one_scope_in_every_pane_clears_when_the_scoped_member_is_deregistered() {
    let am = Alertmanager::start();
    let amtool = require_binary("amtool");
    let url = format!("--alertmanager.url={}", am.url());
    for instance in ["web-1", "web-2"] {
        run_ok(Command::new(&amtool).args([
            &url,
            "alert",
            "add",
            "alertname=HighLatency",
            &format!("instance={instance}"),
            "severity=critical",
        ]));
    }
    let f = web_fleet(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
        am.url()
    ));
    let t = f.console(&[]);
    let titles = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with('┌'))
            .map(str::to_string)
            .collect()
    };
    let checks_rows = |s: &str, instance: &str| {
        s.lines()
            .any(|l| l.contains("HighLatency") && l.contains(instance))
    };
    let s = t.wait_screen("both alerts, cluster-wide", SOON, |s| {
        checks_rows(s, "web-1") && checks_rows(s, "web-2")
    });
    assert!(
        titles(&s).iter().all(|l| !l.contains("scope:")),
        "nothing is scoped at start: {:#?}",
        titles(&s)
    );

    select_first(&t);
    let s = t.wait_screen("web-1's alert only", SOON, |s| {
        checks_rows(s, "web-1") && !checks_rows(s, "web-2")
    });
    let named: usize = titles(&s)
        .iter()
        .map(|l| l.matches("scope: web-1").count())
        .sum();
    assert_eq!(
        named,
        4,
        "every pane names the same scope: {:#?}",
        titles(&s)
    );

    t.send(&["D"]);
    t.wait_text("key  /services/web/web-1 ");
    t.confirm("y");
    t.wait_audit("deregister", "deleted");
    let s = t.wait_screen("web-1 gone and the scope cleared everywhere", SOON, |s| {
        !has_row(s, "web-1")
            && checks_rows(s, "web-1")
            && checks_rows(s, "web-2")
            && titles(s).iter().all(|l| !l.contains("scope:"))
    });
    assert!(!f.has("/services/web/web-1"));
    assert!(has_row(&s, "web-2"));
}

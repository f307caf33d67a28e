//! The audit log is the gate, end to end in a real terminal against a real etcd (and a real
//! Alertmanager for silences): an attempt line is on disk before a change is sent, its outcome
//! follows under the same id, and while the log cannot be written every change is refused.

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine as _;
use serde_json::Value;

use common::e2e::{has_row, message_line, select_first, web_fleet};
use common::tmux::{run_ok, SOON};
use common::{require_binary, wait_until, wait_until_or, Alertmanager, Etcd};

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
    t.wait_text("key          /services/web/web-2 ");
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

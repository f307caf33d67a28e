//! Why things changed (issue 20) against a real etcd 3.4: the churn timeline's reasons (a lease
//! that expired, a key deleted by someone else, one deregistered here, one re-registered on a new
//! lease), a member that keeps coming back marked as flapping, the member detail reading its lease
//! every second, and an incident's journal — driven through the console's core like a user at
//! the keys — turned into the hand-off (an insta snapshot, times masked); with a real
//! Alertmanager, failing checks grouped by check, version and zone against a hand count, and
//! Enter on a group scoping the panes to its members.

use std::time::Duration;

use opsconsole::state::churn::{Change, Why};

use crate::common;
use common::etcd_console::{grant, profile, Console, LIVE};
use common::headless::screen;
use common::Etcd;

fn change_of(c: &Console, key: &str) -> Vec<Change> {
    c.state()
        .churn
        .events
        .iter()
        .filter(|e| *e.key == *key.as_bytes())
        .map(|e| e.change.clone())
        .collect()
}

/// Types a `:` command and Enter.
fn command(c: &mut Console, line: &str) {
    c.h.press(":");
    c.h.type_text(line);
    c.h.press("enter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_says_why_each_member_left() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/steady", "10.0.0.9:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live", |c| c.is_live()).await;

    // Joins while live.
    let short = grant(&etcd, 3);
    etcd.ctl(&[
        "put",
        "--lease",
        &format!("{short:x}"),
        "/services/web/expiring",
        "10.0.0.1:80",
    ]);
    etcd.ctl(&["put", "/services/web/deleted", "10.0.0.2:80"]);
    etcd.ctl(&["put", "/services/web/ours", "10.0.0.3:80"]);
    let first = grant(&etcd, 60);
    etcd.ctl(&[
        "put",
        "--lease",
        &format!("{first:x}"),
        "/services/web/replaced",
        "10.0.0.4:80",
    ]);
    c.until(LIVE, "four joins", |c| c.state().members.len() == 5)
        .await;
    // The expiring member's lease TTL must have been read (it is on screen) for the rule to
    // know its lease ran out rather than being deleted.
    c.until(LIVE, "the short lease's TTL known", |c| {
        c.state()
            .members
            .lease_remaining(short, chrono::Utc::now())
            .is_some()
    })
    .await;

    // Someone else deletes one; the console deregisters another; one re-registers on a new lease.
    etcd.ctl(&["del", "/services/web/deleted"]);
    c.deregister("/services/web/ours", false).await;
    let second = grant(&etcd, 60);
    etcd.ctl(&[
        "put",
        "--lease",
        &format!("{second:x}"),
        "/services/web/replaced",
        "10.0.0.4:80",
    ]);
    c.until(Duration::from_secs(10), "the short lease expires", |c| {
        !c.has("/services/web/expiring")
    })
    .await;
    c.until(LIVE, "every change seen", |c| {
        !change_of(c, "/services/web/replaced").is_empty()
    })
    .await;

    assert_eq!(
        change_of(&c, "/services/web/expiring"),
        [Change::Joined, Change::Left(Why::LeaseExpired)]
    );
    assert_eq!(
        change_of(&c, "/services/web/deleted"),
        [Change::Joined, Change::Left(Why::Deleted)]
    );
    assert_eq!(
        change_of(&c, "/services/web/ours"),
        [Change::Joined, Change::Left(Why::Deregistered)]
    );
    assert_eq!(
        change_of(&c, "/services/web/replaced"),
        [
            Change::Joined,
            Change::Replaced {
                old_lease: first,
                new_lease: second
            }
        ]
    );
    assert!(
        change_of(&c, "/services/web/steady").is_empty(),
        "listed at start: not churn"
    );

    // `c` opens the timeline, newest first, with the reasons in words.
    c.select("/services/web/steady");
    c.h.press("c");
    let text = screen(c.state_mut(), 120, 40);
    for want in [
        "left: lease expired",
        "left: deleted",
        "left: deregistered",
        "replaced (lease",
        "4 joined",
    ] {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    let expired = text.find("/services/web/expiring").unwrap();
    let deleted_join = text.rfind("/services/web/deleted").unwrap();
    assert!(expired < deleted_join, "newest first:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_keeps_coming_back_is_flapping() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/calm", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/flappy", "10.0.0.2:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live", |c| {
        c.is_live() && c.state().members.len() == 2
    })
    .await;
    // The instance crashes and registers again every 2 s.
    for round in 1..=3 {
        etcd.ctl(&["del", "/services/web/flappy"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        etcd.ctl(&["put", "/services/web/flappy", "10.0.0.2:80"]);
        c.until(LIVE, "back", |c| {
            c.has("/services/web/flappy")
                && c.state()
                    .churn
                    .events
                    .iter()
                    .filter(|e| e.change == Change::Joined)
                    .count()
                    == round
        })
        .await;
        if round < 3 {
            c.idle(Duration::from_millis(1700)).await;
        }
    }
    let now = chrono::Utc::now();
    assert_eq!(
        c.state().churn.flapping(b"/services/web/flappy", now),
        Some(3)
    );
    assert_eq!(c.state().churn.flapping(b"/services/web/calm", now), None);
    let text = screen(c.state_mut(), 120, 30);
    let row = text
        .lines()
        .find(|l| l.contains("flappy"))
        .expect("the row");
    assert!(row.contains("flapping ×3"), "{row}");
    // Sortable by it: most flaps first.
    command(&mut c, "sort flaps");
    let first = c.state().members.row(0).unwrap().key_text().to_string();
    assert_eq!(first, "/services/web/flappy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_detail_reads_its_lease_every_second() {
    let etcd = Etcd::start();
    let lease = grant(&etcd, 30);
    etcd.ctl(&[
        "put",
        "--lease",
        &format!("{lease:x}"),
        "/services/web/web-1",
        "10.0.0.1:80",
    ]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live", |c| c.is_live()).await;
    c.select("/services/web/web-1");
    c.h.press("enter");
    // The app ticks the core a few times a second; here the test does.
    for _ in 0..3 {
        c.h.tick();
        c.idle(Duration::from_millis(1100)).await;
    }
    let w = c.state().lease_watch.clone().expect("watching the lease");
    assert_eq!(w.lease, lease);
    let lowest = w.lowest.expect("read at least once");
    assert!((20..=29).contains(&lowest), "lowest {lowest}");
    let text = screen(c.state_mut(), 120, 40);
    assert!(text.contains("lowest"), "{text}");
    // Closed: no more reads.
    c.h.press("esc");
    c.h.tick();
    assert_eq!(c.state().lease_watch, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_journal_becomes_the_hand_off() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/db/db-1", "10.0.1.1:5432"]);
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live", |c| {
        c.is_live() && c.state().members.len() == 3
    })
    .await;

    // Outside an incident nothing is journaled.
    command(&mut c, "note too early");
    assert!(!c.h.core.journal_dir().exists());

    command(&mut c, "incident start db-outage");
    command(&mut c, "note replica lag on db-1, looking at web first");
    // Looking at db-1 long enough for the scope to count (moving past members does not).
    c.select("/services/db/db-1");
    c.idle(Duration::from_millis(2100)).await;
    c.h.tick();
    c.h.press("/");
    c.h.type_text("web");
    c.h.press("enter");
    c.deregister("/services/web/web-2", false).await;
    c.h.press("esc");
    c.h.press("esc");
    etcd.ctl(&["put", "/services/web/web-3", "10.0.0.3:80"]);
    c.until(LIVE, "web-3 joins", |c| c.has("/services/web/web-3"))
        .await;
    command(&mut c, "note web-2 was wedged; web-3 took over");
    command(&mut c, "incident end");
    command(&mut c, "journal");
    let md_path = c.h.core.journal_dir().join("db-outage.md");
    let md = std::fs::read_to_string(&md_path)
        .unwrap_or_else(|e| panic!("{}: {e}; status {:?}", md_path.display(), c.state().status));
    let times = regex::Regex::new(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC").unwrap();
    let took = regex::Regex::new(r"closed after \S+").unwrap();
    let md = times.replace_all(&md, "TIME");
    let md = took.replace_all(&md, "closed after N");
    insta::assert_snapshot!("incident_hand_off", md);

    // The same from the command line's renderer, as JSON: every line parsed back.
    let (entries, bad) = opsconsole::journal::read(c.h.core.journal_dir(), "db-outage").unwrap();
    assert_eq!(bad, 0);
    assert!(entries
        .iter()
        .all(|e| e.user == "tester" && e.cluster == "test"));
    let json = opsconsole::model::journal::json("db-outage", &entries);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["incident"], "db-outage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_match_a_hand_count_and_enter_scopes_the_panes() {
    use opsconsole::model::{Health, SourceKind};
    use opsconsole::state::{Popup, Scope};
    let etcd = Etcd::start();
    let am = common::Alertmanager::start();
    // 10 web members (6 on 1.4.2, 4 on 1.5.0) and 5 db members.
    for i in 0..10 {
        let version = if i < 6 { "1.4.2" } else { "1.5.0" };
        etcd.ctl(&[
            "put",
            &format!("/services/web/web-{i}"),
            &format!("{{\"addr\":\"10.0.0.{i}\",\"port\":80,\"version\":\"{version}\",\"zone\":\"eu-1\"}}"),
        ]);
    }
    for i in 0..5 {
        etcd.ctl(&[
            "put",
            &format!("/services/db/db-{i}"),
            &format!("{{\"addr\":\"10.0.1.{i}\",\"port\":5432,\"zone\":\"eu-2\"}}"),
        ]);
    }
    let now = chrono::Utc::now();
    let alert = |name: &str, instance: &str| {
        serde_json::json!({
            "labels": {"alertname": name, "instance": instance, "severity": "critical"},
            "startsAt": (now - chrono::Duration::minutes(2)).to_rfc3339(),
            "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        })
    };
    // The hand count: DiskFull on the six 1.4.2 web members, Down on db-3.
    let mut alerts: Vec<serde_json::Value> = (0..6)
        .map(|i| alert("DiskFull", &format!("web-{i}")))
        .collect();
    alerts.push(alert("Down", "db-3"));
    am.api(
        "POST",
        "/api/v2/alerts",
        Some(&serde_json::Value::Array(alerts).to_string()),
    );
    let profile = common::etcd_console::cluster_toml(
        &[etcd.endpoint()],
        &format!(
            "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
            am.url()
        ),
    );
    let mut c = Console::with_cluster(profile);
    c.until(Duration::from_secs(10), "members and alerts", |c| {
        c.is_live()
            && c.state().members.len() == 15
            && c.state().checks.results.len() == 7
            && c.state().health_of(SourceKind::Checks) == Some(&Health::Live)
    })
    .await;
    c.h.press("tab");
    // On Alertmanager `b` asks which alert labels to group by; by check is `:group check`.
    c.h.press("b");
    assert!(
        matches!(&c.state().popup, Some(Popup::PickLabels(_))),
        "{:?}",
        c.state().popup
    );
    c.h.press("esc");
    command(&mut c, "group check");
    let Some(Popup::Groups { groups, .. }) = &c.state().popup else {
        panic!("{:?} {:?}", c.state().popup, c.state().status);
    };
    let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(labels, ["6/10 web fail DiskFull", "1/5 db fail Down"]);
    c.h.press("esc");
    command(&mut c, "group version");
    let Some(Popup::Groups { groups, .. }) = &c.state().popup else {
        panic!("{:?}", c.state().status);
    };
    let labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "6/6 with version=1.4.2 fail",
            "1/5 with version=(none) fail"
        ]
    );
    c.h.press("esc");
    command(&mut c, "group zone");
    let text = screen(c.state_mut(), 120, 40);
    assert!(text.contains("6/10 with zone=eu-1 fail"), "{text}");
    // Enter on the largest group: every pane is scoped to its six members.
    c.h.press("enter");
    let Scope::Members { keys, .. } = &c.state().scope else {
        panic!("{:?}", c.state().scope);
    };
    assert_eq!(keys.len(), 6);
    assert_eq!(c.state().checks.visible_len(), 6);
    assert_eq!(c.state().members.marked_count(), 6);
    let text = screen(c.state_mut(), 120, 40);
    assert!(text.contains("6 members"), "titles name the scope:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_journal_is_said_once_and_changes_still_go_through_the_audit_log() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let dir = tempfile::tempdir().unwrap();
    // The journal's directory is a regular file (tests run as root: permissions stop nothing).
    let blocked = dir.path().join("journal");
    std::fs::write(&blocked, "not a directory").unwrap();
    let profile = common::etcd_console::cluster(profile(&[etcd.endpoint()]));
    let mut c = Console::with_settings(profile, |s| s.journal_dir = blocked.clone());
    c.until(LIVE * 2, "Live", |c| {
        c.is_live() && c.state().members.len() == 2
    })
    .await;
    command(&mut c, "incident start blocked");
    let status = c
        .state()
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(status.contains("cannot be written"), "{status}");
    // The change itself is not held up: the audit log is the gate, and it works.
    let out = c.deregister("/services/web/web-1", false).await;
    assert!(matches!(
        out,
        opsconsole::model::DeregisterOutcome::Deleted { .. }
    ));
    assert!(c
        .audits()
        .iter()
        .any(|a| a.action == "deregister" && a.result.as_deref() == Some("deleted")));
}

#[test]
fn the_journal_command_prints_markdown_and_json() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("opsconsole/journal");
    let entry = opsconsole::model::journal::Entry {
        time: chrono::Utc::now(),
        user: "alice".into(),
        cluster: "prod".into(),
        kind: opsconsole::model::journal::Kind::Note,
        text: "web-2 wedged | restarted".into(),
        items: vec![],
    };
    opsconsole::journal::append(&dir, "inc-1", &entry).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_opsconsole"))
            .args(args)
            .env("XDG_STATE_HOME", state.path())
            .output()
            .unwrap()
    };
    let md = run(&["journal", "inc-1"]);
    assert!(md.status.success(), "{md:?}");
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.starts_with("# Incident inc-1"), "{md}");
    assert!(md.contains("web-2 wedged \\| restarted"), "{md}");
    let json = run(&["journal", "inc-1", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["entries"][0]["user"], "alice");
    // A name that does not exist says what to do; one that is a path is refused.
    let missing = run(&["journal", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains(":incident start nope"));
    let sneaky = run(&["journal", "../../etc/passwd"]);
    assert_eq!(sneaky.status.code(), Some(2));
}

//! Guardrails (issue 19) against real servers: the deregister dialog's dry run names every other
//! key on the member's lease (read from etcd, also outside the prefix), a `protected` cluster asks
//! for the instance's name typed out, `U` puts a deregistered member back (on its lease while it
//! lives, on a new lease after a revoke, never over an instance that registered again), a bulk
//! deregister of 30 marked members wants the number typed and reports per key, and on a real
//! Alertmanager a bulk silence covers every marked alert and `e` extends a silence in place.
//!
//! Also elsewhere: the pure rules (typed confirmations, marks, undo expiry, not-live refusals) in
//! `src/state/tests.rs`.

use std::path::Path;
use std::time::Duration;

use opsconsole::config::Config;
use opsconsole::model::{DeregisterOutcome, Health, Phase, RestoreOutcome, SourceKind};
use opsconsole::state::{Change, Confirm, Popup};

use crate::common;
use common::checks_console::ChecksConsole;
use common::etcd_console::{
    cluster_toml, etcd_has, etcd_members, grant, profile, Console, LIVE, PREFIX,
};
use common::headless::screen;
use common::{Alertmanager, Etcd};

/// How long a change may take to be answered by etcd or Alertmanager.
const ANSWER: Duration = Duration::from_secs(5);

fn status(c: &Console) -> String {
    c.state()
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

fn lease_read(c: &Console) -> bool {
    matches!(
        &c.state().popup,
        Some(Popup::Confirm(Confirm {
            change: Change::Deregister { preview, .. },
            ..
        })) if preview.lease.is_some()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_names_every_key_on_the_lease_and_what_will_be_sent() {
    let etcd = Etcd::start();
    let lease = grant(&etcd, 300);
    let hex = format!("{lease:x}");
    etcd.ctl(&[
        "put",
        "--lease",
        &hex,
        "/services/web/web-1",
        "{\"addr\":\"10.0.0.1\",\"port\":80}",
    ]);
    // Keys the instance keeps on the same lease, one of them outside the console's prefix: a
    // revoke removes them too, and the dialog must say so before `r` is pressed.
    etcd.ctl(&["put", "--lease", &hex, "/locks/web-1", "held"]);
    etcd.ctl(&["put", "--lease", &hex, "/services/web/web-1-health", "ok"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live with 3 members", |c| {
        c.is_live() && c.state().members.len() == 3
    })
    .await;

    c.open_deregister("/services/web/web-1", false);
    c.until(ANSWER, "the lease's keys read from etcd", lease_read)
        .await;
    let Some(Popup::Confirm(Confirm {
        change: Change::Deregister { preview, .. },
        ..
    })) = &c.state().popup
    else {
        unreachable!()
    };
    let info = preview
        .lease
        .clone()
        .unwrap()
        .expect("etcd answers LeaseTimeToLive with keys");
    let mut keys: Vec<String> = info
        .keys
        .iter()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "/locks/web-1",
            "/services/web/web-1",
            "/services/web/web-1-health"
        ]
    );
    assert!(info.ttl > 250 && info.ttl <= 300, "ttl {}", info.ttl);

    // What the user sees before answering, at 120×40 and at 80×24.
    c.h.press("r");
    for (w, h) in [(120, 40), (80, 24)] {
        let text = screen(c.state_mut(), w, h);
        for want in [
            "/services/web/web-1",
            "mod_revision",
            &hex,
            "/locks/web-1",
            "lease revoke",
        ] {
            assert!(text.contains(want), "{w}×{h}: {want:?} missing:\n{text}");
        }
    }
    // Cancelled: nothing was sent, everything is still in etcd.
    c.h.press("n");
    assert_eq!(c.state().popup, None);
    assert!(etcd_has(&etcd, "/locks/web-1") && etcd_has(&etcd, "/services/web/web-1"));
    assert!(c.deregs.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protected_cluster_wants_the_instance_typed_out() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let mut c = Console::with_cluster(cluster_toml(&[etcd.endpoint()], "protected = true"));
    c.until(LIVE * 2, "Live", |c| {
        c.is_live() && c.state().members.len() == 2
    })
    .await;
    c.open_deregister("/services/web/web-1", false);
    let text = screen(c.state_mut(), 120, 40);
    assert!(text.contains("type web-1"), "{text}");
    // `y` is a letter of the name here; Enter with a wrong name sends nothing.
    c.h.press("y");
    c.h.press("enter");
    assert!(c.state().popup.is_some(), "y + Enter does not confirm");
    c.h.press("ctrl-u");
    c.h.type_text("web-2");
    c.h.press("enter");
    assert!(
        c.state().popup.is_some(),
        "another member's name does not confirm"
    );
    c.idle(Duration::from_millis(300)).await;
    assert!(etcd_has(&etcd, "/services/web/web-1"), "nothing deleted");
    c.h.press("ctrl-u");
    c.h.type_text("web-1");
    c.h.press("enter");
    assert_eq!(c.state().popup, None);
    c.until(ANSWER, "the deregister's outcome", |c| !c.deregs.is_empty())
        .await;
    assert_eq!(
        c.deregs[0],
        (
            b"/services/web/web-1".to_vec(),
            DeregisterOutcome::Deleted {
                lease_revoked: None
            }
        )
    );
    assert!(!etcd_has(&etcd, "/services/web/web-1"));
    assert!(etcd_has(&etcd, "/services/web/web-2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_restores_value_and_lease_or_a_new_lease_and_never_overwrites() {
    let etcd = Etcd::start();
    let lease = grant(&etcd, 120);
    let hex = format!("{lease:x}");
    etcd.ctl(&["put", "--lease", &hex, "/services/web/web-1", "value-1"]);
    let other = grant(&etcd, 90);
    etcd.ctl(&[
        "put",
        "--lease",
        &format!("{other:x}"),
        "/services/web/web-2",
        "value-2",
    ]);
    etcd.ctl(&["put", "/services/web/web-3", "value-3"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live with leases known", |c| {
        c.is_live()
            && c.state().members.len() == 3
            && c.state()
                .members
                .lease_remaining(lease, chrono::Utc::now())
                .is_some()
    })
    .await;

    // 1. Deleted, lease kept alive: U puts the same value back on the same lease.
    let out = c.deregister("/services/web/web-1", false).await;
    assert!(matches!(out, DeregisterOutcome::Deleted { .. }), "{out:?}");
    assert!(status(&c).contains("U undoes it"), "{}", status(&c));
    c.h.press("U");
    assert!(
        matches!(
            &c.state().popup,
            Some(Popup::Confirm(Confirm {
                change: Change::Restore { .. },
                ..
            }))
        ),
        "{:?}",
        c.state().popup
    );
    c.h.press("y");
    c.until(ANSWER, "the restore's outcome", |c| c.restores.len() == 1)
        .await;
    assert!(
        matches!(
            c.restores[0].1,
            RestoreOutcome::Restored { lease: l, new_lease: false, .. } if l == lease
        ),
        "{:?}",
        c.restores[0]
    );
    let m = etcd_members(&etcd);
    let (value, _, on_lease) = &m[b"/services/web/web-1".as_slice()];
    assert_eq!((value.as_str(), *on_lease), ("value-1", lease));

    // 2. Deleted with its lease revoked: the key comes back on a new lease of the old TTL that
    // nobody keeps alive, and the status says so.
    c.until(LIVE, "web-2's lease TTL known", |c| {
        c.state()
            .members
            .lease_remaining(other, chrono::Utc::now())
            .is_some()
    })
    .await;
    let out = c.deregister("/services/web/web-2", true).await;
    assert!(
        matches!(
            out,
            DeregisterOutcome::Deleted {
                lease_revoked: Some(Ok(_))
            }
        ),
        "{out:?}"
    );
    c.h.press("U");
    c.h.press("y");
    c.until(ANSWER, "the second restore's outcome", |c| {
        c.restores.len() == 2
    })
    .await;
    let RestoreOutcome::Restored {
        lease: new,
        new_lease: true,
        ttl,
    } = c.restores[1].1.clone()
    else {
        panic!("{:?}", c.restores[1]);
    };
    assert_ne!(new, other);
    assert!(
        (60..=90).contains(&ttl),
        "the old lease's TTL, about: {ttl}"
    );
    assert!(
        status(&c).contains(&format!(
            "expires in {ttl} s unless the instance re-registers"
        )),
        "{}",
        status(&c)
    );
    let m = etcd_members(&etcd);
    assert_eq!(m[b"/services/web/web-2".as_slice()].2, new);
    let ttl_out = etcd.ctl(&["lease", "timetolive", &format!("{new:x}")]);
    assert!(ttl_out.contains("remaining"), "a real lease: {ttl_out}");

    // 3. The instance registered again before U: nothing is overwritten.
    let out = c.deregister("/services/web/web-3", false).await;
    assert!(matches!(out, DeregisterOutcome::Deleted { .. }), "{out:?}");
    etcd.ctl(&["put", "/services/web/web-3", "re-registered"]);
    c.h.press("U");
    c.h.press("y");
    c.until(ANSWER, "the third restore's outcome", |c| {
        c.restores.len() == 3
    })
    .await;
    assert_eq!(c.restores[2].1, RestoreOutcome::Reregistered);
    assert_eq!(
        etcd_members(&etcd)[b"/services/web/web-3".as_slice()].0,
        "re-registered"
    );
    let refused = c
        .audits()
        .into_iter()
        .rfind(|a| a.action == "undo deregister")
        .unwrap();
    assert_eq!(refused.result.as_deref(), Some("refused: exists"));
    assert!(status(&c).contains("registered again meanwhile"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_deregister_of_30_wants_the_number_and_reports_each_key() {
    let etcd = Etcd::start();
    let key = |i: usize| format!("{PREFIX}web/web-{i:02}");
    for i in 0..30 {
        etcd.ctl(&["put", &key(i), &format!("10.0.0.{i}:80")]);
    }
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live with 30 members", |c| {
        c.is_live() && c.state().members.len() == 30
    })
    .await;
    c.select(key(0));
    c.h.press("ctrl-a");
    assert_eq!(c.state().members.marked_count(), 30);
    c.h.press("D");
    let text = screen(c.state_mut(), 120, 40);
    assert!(
        text.contains("and 22 more"),
        "eight listed, the rest counted:\n{text}"
    );
    assert!(text.contains("type 30"), "{text}");
    // y does nothing above max_bulk (20 by default): the count must be typed.
    c.h.press("y");
    c.h.press("enter");
    assert!(c.state().popup.is_some());
    c.h.press("ctrl-u");
    // Meanwhile one instance registers again: its delete must be refused, the others go.
    etcd.ctl(&["put", &key(7), "10.0.0.7:8080"]);
    c.h.type_text("30");
    c.h.press("enter");
    assert_eq!(c.state().popup, None);
    c.until(ANSWER * 2, "30 outcomes", |c| c.deregs.len() == 30)
        .await;
    let changed: Vec<_> = c
        .deregs
        .iter()
        .filter(|(_, o)| matches!(o, DeregisterOutcome::Changed { .. }))
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert_eq!(changed, [key(7)]);
    let left = etcd_members(&etcd);
    assert_eq!(
        left.keys().cloned().collect::<Vec<_>>(),
        [key(7).into_bytes()]
    );
    let text = status(&c);
    assert!(text.contains("29 of 30"), "{text}");
    assert!(text.contains("web-07"), "names the one kept: {text}");
    let outcomes: Vec<_> = c
        .audits()
        .into_iter()
        .filter(|a| a.action == "deregister" && a.phase != Phase::Attempt)
        .collect();
    assert_eq!(outcomes.len(), 30, "one audit outcome per key");
    assert_eq!(
        outcomes
            .iter()
            .filter(|a| a.result.as_deref() == Some("deleted"))
            .count(),
        29
    );
}

// ---- Alertmanager ----

fn am_profile(url: &str) -> opsconsole::config::ChecksProfile {
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"] }}\nchecks = {{ kind = \"alertmanager\", url = \"{url}\", timeout_secs = 5, interval_secs = 1 }}\n"
    );
    let config = Config::parse(&toml, Path::new("/test/config.toml")).expect("profile parses");
    config.cluster("t").unwrap().checks.clone().unwrap()
}

fn post_alert(am: &Alertmanager, name: &str, instance: &str) {
    let now = chrono::Utc::now();
    let body = serde_json::json!([{
        "labels": {"alertname": name, "instance": instance, "severity": "critical"},
        "annotations": {"summary": "guardrails"},
        "startsAt": (now - chrono::Duration::minutes(2)).to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
    }]);
    am.api("POST", "/api/v2/alerts", Some(&body.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_silence_covers_every_marked_alert_and_extend_keeps_the_id() {
    let am = Alertmanager::start();
    for i in 1..=3 {
        post_alert(&am, "GuardDisk", &format!("db-{i}"));
    }
    post_alert(&am, "Unrelated", "web-1");
    let mut c = ChecksConsole::start(am_profile(&am.url()), "alertmanager");
    c.until(ANSWER * 2, "Live with 4 alerts", |c| {
        c.state().checks.results.len() == 4
            && c.state().health_of(SourceKind::Checks) == Some(&Health::Live)
    })
    .await;
    // Mark the three GuardDisk rows with Space, then s: one form for all of them.
    for i in 1..=3 {
        let instance = format!("db-{i}");
        c.select(|r| r.entity == instance);
        c.h.press("space");
    }
    assert_eq!(c.state().checks.marked_count(), 3);
    c.h.press("s");
    assert!(
        matches!(c.state().popup, Some(Popup::SilenceForm(_))),
        "{:?} {}",
        c.state().popup,
        c.status()
    );
    c.type_text("disk swap on the db hosts");
    c.form("enter");
    assert!(
        matches!(
            &c.state().popup,
            Some(Popup::Confirm(Confirm {
                change: Change::SilenceMany { .. },
                ..
            }))
        ),
        "{:?}",
        c.state().popup
    );
    c.h.press("y");
    c.until(ANSWER * 2, "three silences listed", |c| {
        c.state()
            .checks
            .silences
            .iter()
            .filter(|s| s.reason == "disk swap on the db hosts")
            .count()
            == 3
    })
    .await;
    // Alertmanager's own view: amtool lists each marked alert as silenced, not the other one.
    let instances = common::wait_until("amtool to list the 3 as silenced", ANSWER, || {
        let mut got: Vec<String> = am
            .amtool_silenced()
            .iter()
            .map(|a| format!("{}/{}", a["labels"]["alertname"], a["labels"]["instance"]))
            .collect();
        got.sort();
        if got.len() >= 3 {
            Ok(got)
        } else {
            Err(format!("it lists {got:?}"))
        }
    });
    assert_eq!(
        instances,
        [
            "\"GuardDisk\"/\"db-1\"",
            "\"GuardDisk\"/\"db-2\"",
            "\"GuardDisk\"/\"db-3\""
        ]
    );

    // e on a silenced row: by how long, then a dialog that says what changes, then y.
    c.select(|r| r.entity == "db-1");
    let row = c.state().checks.selected().cloned().expect("db-1's row");
    let id = c
        .state()
        .checks
        .silences
        .iter()
        .find(|s| s.matches(&row))
        .map(|s| (s.id.clone(), s.expire_at))
        .expect("db-1's silence");
    c.h.press("e");
    c.type_text("2h");
    c.form("enter");
    assert!(
        matches!(
            &c.state().popup,
            Some(Popup::Confirm(Confirm {
                change: Change::Extend { .. },
                ..
            }))
        ),
        "{:?} {}",
        c.state().popup,
        c.status()
    );
    c.h.press("y");
    c.until(ANSWER * 2, "the silence ends 2h later", |c| {
        c.state()
            .checks
            .silences
            .iter()
            .any(|s| s.id == id.0 && s.expire_at.zip(id.1).is_some_and(|(a, b)| a > b))
    })
    .await;
    let api = am.api("GET", &format!("/api/v2/silence/{}", id.0), None);
    let ends = chrono::DateTime::parse_from_rfc3339(api["endsAt"].as_str().unwrap()).unwrap();
    let was = id.1.unwrap();
    let moved = ends.with_timezone(&chrono::Utc) - was;
    assert!(
        (moved - chrono::Duration::hours(2)).num_seconds().abs() <= 5,
        "endsAt moved by {moved}"
    );
    assert_eq!(
        api["status"]["state"], "active",
        "the same silence, still active"
    );
    let extended = c.audited("extend silence");
    assert_eq!(extended.len(), 1, "{extended:?}");
    assert_eq!(extended[0].result.as_deref(), Some("extended"));
}

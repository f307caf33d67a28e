//! Deregister: removing a member's key from etcd, through the console's keys (select, `D`, `r` to
//! revoke its lease, `y`). The delete is guarded by the mod_revision the user saw (a re-registered
//! instance is refused, a gone one reported), a lease revoke removes the lease's other keys; in a
//! real terminal the dialog names the exact key, `n` cancels, `y` deletes and the audit log says
//! so, and keys typed ahead do not confirm a dialog that was not yet on screen.
//!
//! Also elsewhere: `--readonly` refusing it (`security`), the audit log's attempt and outcome
//! lines (`audit`), keys that are not UTF-8 (`membership`), the dialog drawn (`render_screen`).

use crate::common;

use opsconsole::model::DeregisterOutcome;
use opsconsole::sources::etcd::{connect, deregister};

use common::e2e::{fleet, has_row, message_line, select_first, web_fleet};
use common::etcd_console::{
    etcd_has, etcd_members, etcd_mod_revision, grant, profile, Console, LIVE,
};
use common::tmux::SOON;
use common::{wait_until, wait_until_or, Etcd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregister_is_guarded_by_mod_revision() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live", |c| {
        c.is_live() && c.state().members.len() == 2
    })
    .await;

    // Plain deregister at the revision the console shows: select, D, y.
    let out = c.deregister("/services/web/web-1", false).await;
    assert_eq!(
        out,
        DeregisterOutcome::Deleted {
            lease_revoked: None
        }
    );
    assert!(!etcd_has(&etcd, "/services/web/web-1"), "deleted in etcd");
    c.until(LIVE, "web-1 leaves the state", |c| {
        !c.has("/services/web/web-1")
    })
    .await;
    let audit = c
        .audits()
        .last()
        .cloned()
        .expect("an audit entry for the deregister");
    assert_eq!(
        (
            audit.action.as_str(),
            audit.target.as_str(),
            audit.result.as_deref()
        ),
        ("deregister", "/services/web/web-1", Some("deleted"))
    );

    // Stale revision: the instance re-registered after the user looked (the dialog is open, the
    // console has seen the new value) → refused, key kept.
    let stale = c
        .state()
        .members
        .get("/services/web/web-2")
        .unwrap()
        .mod_revision;
    c.open_deregister("/services/web/web-2", false);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:81"]);
    let current = etcd_mod_revision(&etcd, "/services/web/web-2").unwrap();
    assert!(current > stale);
    c.until(LIVE, "the console sees the re-registration", |c| {
        c.state()
            .members
            .get("/services/web/web-2")
            .map(|m| m.mod_revision)
            == Some(current)
    })
    .await;
    let out = c.confirm_deregister().await;
    assert_eq!(
        out,
        DeregisterOutcome::Changed {
            current_mod_revision: Some(current)
        }
    );
    assert_eq!(
        etcd_mod_revision(&etcd, "/services/web/web-2"),
        Some(current),
        "key untouched"
    );
    assert_eq!(
        c.audits().last().unwrap().result.as_deref(),
        Some("refused: changed")
    );

    // Already gone: deleted by someone else while the dialog was open.
    etcd.ctl(&["put", "/services/web/web-3", "10.0.0.3:80"]);
    c.until(LIVE, "web-3 appears", |c| c.has("/services/web/web-3"))
        .await;
    c.open_deregister("/services/web/web-3", false);
    etcd.ctl(&["del", "/services/web/web-3"]);
    c.until(LIVE, "web-3 leaves the list", |c| {
        !c.has("/services/web/web-3")
    })
    .await;
    let out = c.confirm_deregister().await;
    assert_eq!(out, DeregisterOutcome::Missing);
    assert_eq!(
        c.audits().last().unwrap().result.as_deref(),
        Some("missing")
    );

    // With lease revoke: the lease's other keys vanish too.
    let lease = grant(&etcd, 60);
    let hex = format!("{lease:x}");
    etcd.ctl(&["put", "--lease", &hex, "/services/api/api-1", "10.0.1.1:80"]);
    etcd.ctl(&[
        "put",
        "--lease",
        &hex,
        "/services/api/api-1-sidecar",
        "10.0.1.1:81",
    ]);
    c.until(LIVE, "leased members appear", |c| {
        c.has("/services/api/api-1") && c.has("/services/api/api-1-sidecar")
    })
    .await;
    let out = c.deregister("/services/api/api-1", true).await;
    assert_eq!(
        out,
        DeregisterOutcome::Deleted {
            lease_revoked: Some(Ok(lease))
        }
    );
    assert!(!etcd_has(&etcd, "/services/api/api-1"));
    assert!(
        !etcd_has(&etcd, "/services/api/api-1-sidecar"),
        "revoking the lease removes its other keys"
    );
    let ttl = etcd.ctl(&["lease", "timetolive", &hex]);
    assert!(ttl.contains("already expired"), "lease gone: {ttl}");
    c.until(LIVE, "leased members leave the state", |c| {
        !c.has("/services/api/api-1") && !c.has("/services/api/api-1-sidecar")
    })
    .await;
    assert_eq!(c.members(), etcd_members(&etcd));

    // The function itself, outside the source.
    let mut client = connect(&profile(&[etcd.endpoint()])).await.unwrap();
    let rev = etcd_mod_revision(&etcd, "/services/web/web-2").unwrap();
    assert_eq!(
        deregister(&mut client, b"/services/web/web-2", rev - 1, None).await,
        DeregisterOutcome::Changed {
            current_mod_revision: Some(rev)
        }
    );
    assert_eq!(
        deregister(&mut client, b"/services/web/web-2", rev, None).await,
        DeregisterOutcome::Deleted {
            lease_revoked: None
        }
    );
    assert_eq!(
        deregister(&mut client, b"/services/web/web-2", rev, None).await,
        DeregisterOutcome::Missing
    );
    c.until(LIVE, "state empty", |c| c.state().members.is_empty())
        .await;
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
        s.lines()
            .any(|l| l.contains("key          /services/web/web-1 ")),
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
    t.wait_text("key          /services/web/web-1 ");
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
fn keys_typed_ahead_do_not_confirm_a_dialog_not_yet_seen() {
    let f = web_fleet("");
    let t = f.console(&[]);
    select_first(&t);
    // One write to the terminal: `y` arrives before the dialog `D` opens was ever on screen.
    t.type_text("Dy");
    let s = t.wait_screen("the dialog, and the hint to press y again", SOON, |s| {
        s.contains("Deregister this member?") && message_line(s).contains("press y again")
    });
    assert!(s.contains("key          /services/web/web-1 "), "{s}");
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

//! The check sources: Sensu Go and Sensu Core 1.x against the contract server (`common::sensu`,
//! which serves the shapes in CONTRACTS.md §2 and records every request, so the tests assert exactly
//! what the console sends): paging, field mapping, unknown statuses and partial events, API key and
//! username/password auth (tokens refreshed before they expire, on a clock the test moves; a fresh
//! login after a 401), errors that name the credential and never panic, and the source task through
//! its channels (retries, recovery, mutations followed by a poll).
//!
//! Silences are in `silence`; outages of the polled sources in `outages`.

use crate::common::sensu::fake::{Reply, Req, Server};
use crate::common::sensu::{
    core_check, core_handle, go_event, go_key, go_server, go_user, go_user_on_fakes_clock,
    next_msg, now, on_entity, profile, released, request, wait_msg, CoreFake, GoFake, EVENTS, KEY,
    KEY_VAR, NS, PW, PW_VAR, SILENCED, USER,
};

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use opsconsole::config::ChecksProfile;
use opsconsole::model::{
    severity_of, status_label, ChecksSnapshot, ClusterId, Command, Health, Msg, Mutation, Severity,
    SilenceOutcome, SilenceScope, SourceId, SourceKind,
};
use opsconsole::sources::checks::{alertmanager, sensu_core, sensu_go, Backend, ChecksSource};
use opsconsole::sources::http::{HttpError, MAX_BODY_BYTES};
use serde_json::{json, Value};
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------------
// Sensu Go: reading

/// 1200 events (3 pages of 500), two of them unusable, one with a custom status 7.
fn many_events() -> Vec<Value> {
    let t = now() - 5;
    let mut events: Vec<Value> = (0..1200)
        .map(|i| go_event(&format!("web-{i}"), "check_http", (i % 3) as i64, t))
        .collect();
    events[7] = go_event("web-7", "check_custom", 7, t);
    // No check name, and no entity at all: skipped and counted.
    events[501]["check"]["metadata"]["name"] = json!("");
    events[1100].as_object_mut().unwrap().remove("entity");
    events
}

#[tokio::test]
async fn go_pages_are_all_fetched_and_merged_with_api_key() {
    let fake = GoFake::new(many_events());
    let server = go_server(&fake).await;
    let mut backend = Backend::new(&go_key(&server.url)).unwrap();
    let snap = backend.poll().await.expect("poll");

    assert_eq!(
        snap.results.len(),
        1198,
        "all three pages merged, two unusable events left out"
    );
    assert_eq!(snap.skipped, 2);
    let entities: Vec<&str> = snap.results.iter().map(|r| r.entity.as_str()).collect();
    let want: Vec<String> = (0..1200)
        .filter(|i| *i != 501 && *i != 1100)
        .map(|i| format!("web-{i}"))
        .collect();
    assert_eq!(entities, want, "page order kept");

    let reqs = server.requests();
    let pages: Vec<&Req> = reqs.iter().filter(|r| r.path() == EVENTS).collect();
    assert_eq!(pages.len(), 3, "{reqs:#?}");
    for p in &pages {
        assert_eq!(p.method, "GET");
        assert_eq!(p.query("limit").as_deref(), Some("500"));
    }
    assert_eq!(pages[0].query("continue"), None);
    assert_eq!(pages[1].query("continue").as_deref(), Some("next/500=="));
    assert_eq!(pages[2].query("continue").as_deref(), Some("next/1000=="));
    assert!(
        pages[1].target.contains("continue=next%2F500%3D%3D"),
        "token percent-encoded: {}",
        pages[1].target
    );
    assert_eq!(reqs.iter().filter(|r| r.path() == SILENCED).count(), 1);
    assert_eq!(reqs.len(), 4);
    for r in &reqs {
        assert_eq!(
            r.header("authorization"),
            Some(format!("Key {KEY}").as_str()),
            "{r:?}"
        );
    }
    assert!(
        !reqs.iter().any(|r| r.path().starts_with("/auth")),
        "no login with an API key"
    );

    // Field mapping.
    let crit = snap.results.iter().find(|r| r.entity == "web-2").unwrap();
    assert_eq!((crit.check.as_str(), crit.status), ("check_http", 2));
    assert_eq!(crit.severity(), Severity::Critical);
    assert_eq!(crit.history.len(), 21);
    assert_eq!(crit.occurrences, 3);
    assert!(crit.output.starts_with("check_http says 2"));
    assert_eq!(
        crit.subscriptions,
        vec!["linux".to_string(), "entity:web-2".into()]
    );
    let executed = crit.executed.unwrap().timestamp();
    assert_eq!(
        crit.since.unwrap().timestamp(),
        executed - 2 * 60,
        "since = first of the trailing CRITs"
    );
    assert!(!crit.silenced && crit.silenced_by.is_empty());
    let custom = snap
        .results
        .iter()
        .find(|r| r.check == "check_custom")
        .unwrap();
    assert_eq!(custom.status, 7);
    assert_eq!(custom.severity(), Severity::Unknown);
    assert_eq!(status_label(custom.status), "UNKN");
    assert_eq!(severity_of(1), Severity::Warning);
}

#[tokio::test]
async fn go_unknown_statuses_and_partial_events() {
    let t = now();
    let mut silenced = go_event("db-1", "check_disk", 1, t);
    silenced["check"]["is_silenced"] = json!(true);
    silenced["check"]["silenced"] = json!(["entity:db-1:*"]);
    let mut no_status = go_event("db-2", "check_disk", 0, t);
    no_status["check"].as_object_mut().unwrap().remove("status");
    let mut wrong_type = go_event("db-3", "check_disk", 0, t);
    wrong_type["check"]["status"] = json!("two");
    let mut minimal = json!({"entity": {"metadata": {"name": "db-4"}}, "check": {"metadata": {"name": "ping"}, "status": 255}});
    minimal["check"]["history"] = json!(null);
    let events = vec![
        go_event("db-0", "check_disk", 7, t),
        silenced,
        no_status,
        wrong_type,
        minimal,
        json!({"check": {"metadata": {"name": "x"}, "status": 0}}),
        json!({"entity": {"metadata": {"name": "db-5"}}}),
        json!(42),
        json!({"entity": {"metadata": {"name": "db-6"}}, "check": {"metadata": {}, "status": 0}}),
    ];
    let fake = GoFake::new(events);
    fake.lock().unwrap().silenced.insert(
        "a".into(),
        json!({"metadata": {"name": "linux:*"}, "subscription": "linux", "expire_on_resolve": "yes"}),
    );
    fake.lock().unwrap().silenced.insert(
        "b".into(),
        json!({"metadata": {"name": "entity:db-1:*"}, "subscription": "entity:db-1", "check": "", "expire_on_resolve": true}),
    );
    fake.lock().unwrap().silenced.insert(
        "c".into(),
        json!({"subscription": "linux", "check": "nameless"}),
    );
    fake.lock()
        .unwrap()
        .silenced
        .insert("d".into(), json!("oops"));
    let server = go_server(&fake).await;
    let mut backend = Backend::new(&go_key(&server.url)).unwrap();
    let snap = backend
        .poll()
        .await
        .expect("one bad event does not fail the poll");
    let ids: Vec<&str> = snap.silences.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["linux:*", "entity:db-1:*"],
        "nameless and non-object entries skipped, not fatal"
    );
    assert!(
        !snap.silences[0].expire_on_resolve,
        "an odd optional field falls back to its default"
    );
    assert!(snap.silences[1].expire_on_resolve);
    assert_eq!(snap.silences[1].check, None);
    let got: Vec<(&str, i64)> = snap
        .results
        .iter()
        .map(|r| (r.entity.as_str(), r.status))
        .collect();
    assert_eq!(
        got,
        vec![("db-0", 7), ("db-1", 1), ("db-2", 3), ("db-4", 255)]
    );
    assert_eq!(
        snap.skipped, 7,
        "wrong-typed status, no entity, no check, not an object, no check name, 2 silences"
    );
    assert!(snap
        .results
        .iter()
        .all(|r| r.severity() == Severity::Unknown || r.status == 1));
    let s = &snap.results[1];
    assert!(s.silenced);
    assert_eq!(s.silenced_by, vec!["entity:db-1:*".to_string()]);
    assert!(snap.results[3].history.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Sensu Go: username/password and tokens

fn basic_header() -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PW}"))
    )
}

#[tokio::test]
async fn go_login_then_refresh_before_expiry() {
    let fake = GoFake::new(vec![go_event("web-1", "check_http", 0, now())]);
    fake.lock().unwrap().api_key = None;
    fake.lock().unwrap().lifetime = 30;
    let clock = fake.lock().unwrap().clock.clone();
    let server = go_server(&fake).await;
    let mut backend = go_user_on_fakes_clock(&server.url, &fake);

    // Login with Basic, then Bearer on every API call.
    let snap = backend.poll().await.expect("first poll");
    assert_eq!(snap.results.len(), 1);
    let reqs = server.take();
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path(), "/auth", "login comes first");
    assert_eq!(
        reqs[0].header("authorization"),
        Some(basic_header().as_str())
    );
    assert_eq!(reqs.len(), 3, "{reqs:#?}");
    for r in &reqs[1..] {
        assert!(r.path().starts_with("/api/core/v2/"), "{r:?}");
        assert_eq!(r.header("authorization"), Some("Bearer access-1"), "{r:?}");
    }

    // Young token: reused as is, no refresh per request.
    backend.poll().await.expect("second poll");
    let reqs = server.take();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert!(reqs
        .iter()
        .all(|r| r.header("authorization") == Some("Bearer access-1")));

    // Past half its 30 s life (still valid on the server): refreshed before use, not after a 401.
    clock.advance(Duration::from_secs(16));
    assert!(
        fake.lock().unwrap().tokens["access-1"] > clock.now(),
        "the old token has not expired yet"
    );
    fake.lock().unwrap().lifetime = 3600;
    backend.poll().await.expect("third poll");
    let reqs = server.take();
    assert_eq!(reqs.len(), 3, "{reqs:#?}");
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path(), "/auth/token");
    assert_eq!(reqs[0].header("authorization"), Some("Bearer access-1"));
    assert_eq!(reqs[0].json(), json!({"refresh_token": "refresh-1"}));
    for r in &reqs[1..] {
        assert_eq!(r.header("authorization"), Some("Bearer access-2"), "{r:?}");
    }
}

#[tokio::test]
async fn go_expired_token_is_refreshed_or_replaced() {
    let fake = GoFake::new(vec![go_event("web-1", "check_http", 0, now())]);
    fake.lock().unwrap().api_key = None;
    fake.lock().unwrap().lifetime = 1;
    let clock = fake.lock().unwrap().clock.clone();
    let server = go_server(&fake).await;
    let mut backend = go_user_on_fakes_clock(&server.url, &fake);
    backend.poll().await.expect("first poll");
    server.take();
    // (A 1 s token may already have been refreshed between the two requests of that poll.)
    let current = fake.lock().unwrap().issued;

    // Expired: refreshed with the expired bearer and the refresh token, not re-logged in.
    clock.advance(Duration::from_millis(2100));
    backend.poll().await.expect("poll after expiry");
    let reqs = server.take();
    let seq: Vec<&str> = reqs.iter().map(|r| r.path()).collect();
    assert_eq!(seq[0], "/auth/token", "{seq:?}");
    assert_eq!(
        reqs[0].header("authorization"),
        Some(format!("Bearer access-{current}").as_str())
    );
    assert_eq!(
        reqs[0].json(),
        json!({"refresh_token": format!("refresh-{current}")})
    );
    assert!(!seq.contains(&"/auth"), "{seq:?}");

    // A refresh the server refuses falls back to a fresh login.
    fake.lock().unwrap().lifetime = 3600;
    fake.lock().unwrap().refresh.clear();
    clock.advance(Duration::from_millis(2100));
    backend.poll().await.expect("poll after a refused refresh");
    let reqs = server.take();
    let seq: Vec<&str> = reqs.iter().map(|r| r.path()).collect();
    assert_eq!(seq[..2], ["/auth/token", "/auth"], "{seq:?}");
    assert_eq!(seq[2..], [EVENTS, SILENCED], "{seq:?}");
    let last = format!("Bearer access-{}", fake.lock().unwrap().issued);
    assert!(reqs[2..]
        .iter()
        .all(|r| r.header("authorization") == Some(last.as_str())));
}

#[tokio::test]
async fn go_relogin_once_after_401() {
    let fake = GoFake::new(vec![go_event("web-1", "check_http", 0, now())]);
    fake.lock().unwrap().api_key = None;
    let server = go_server(&fake).await;
    let mut backend = Backend::new(&go_user(&server.url)).unwrap();
    backend.poll().await.expect("first poll");
    server.take();

    // The server forgets the token (restart, revocation): one 401, one new login, one retry.
    fake.lock().unwrap().tokens.clear();
    let snap = backend.poll().await.expect("poll after revocation");
    assert_eq!(snap.results.len(), 1);
    let seq: Vec<(String, String)> = server
        .take()
        .iter()
        .map(|r| {
            (
                r.path().to_string(),
                r.header("authorization").unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = vec![
        (EVENTS.to_string(), "Bearer access-1".to_string()),
        ("/auth".to_string(), basic_header()),
        (EVENTS.to_string(), "Bearer access-2".to_string()),
        (SILENCED.to_string(), "Bearer access-2".to_string()),
    ];
    assert_eq!(seq, want);

    // Rejected even after a new login (e.g. the login works but the API says 401): one retry only.
    let f = fake.clone();
    let stubborn = Server::start(move |req| {
        if req.path().starts_with("/api/") {
            Reply::json(401, &json!({"error": "unauthorized", "code": 5}))
        } else {
            f.lock().unwrap().handle(req)
        }
    })
    .await;
    let mut backend = Backend::new(&go_user(&stubborn.url)).unwrap();
    let e = backend.poll().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    let paths: Vec<String> = stubborn
        .take()
        .iter()
        .map(|r| r.path().to_string())
        .collect();
    assert_eq!(paths, vec!["/auth", EVENTS, "/auth", EVENTS]);

    // A wrong password: the error names the user and the variable, never the secret.
    let bad = profile(
        "sensu-go",
        &server.url,
        &format!(", user = \"mallory\", password_env = \"{PW_VAR}\", timeout_secs = 5"),
    );
    let mut backend = Backend::new(&bad).unwrap();
    let e = backend.poll().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    let msg = e.to_string();
    assert!(
        msg.contains("user \"mallory\"") && msg.contains(&format!("${PW_VAR}")),
        "{msg}"
    );
    assert!(!msg.contains(PW), "never the secret: {msg}");
    let paths: Vec<String> = server.take().iter().map(|r| r.path().to_string()).collect();
    assert_eq!(paths, vec!["/auth"], "no API call without a token");
}

// ---------------------------------------------------------------------------------------------
// Sensu Core 1.x

#[tokio::test]
async fn core_results_events_silences() {
    let t = now() - 1;
    let results = vec![
        json!({"client": "web-1", "check": core_check("check_http", 2, json!([0, 0, 0, 2, 2]), t)}),
        json!({"client": "web-2", "check": core_check("check_http", 0, json!([2, 0, 0]), t)}),
        json!({"client": "web-3", "check": core_check("check_disk", 7, json!([7]), t)}),
        json!({"client": "", "check": core_check("check_x", 0, json!([]), t)}),
        json!({"check": "oops"}),
    ];
    let events = vec![
        json!({
            "id": "0c3f3f53-ecad-4b4d-a8e8-ad6c0e46f6a2",
            "client": {"name": "web-1", "address": "10.0.0.11", "subscriptions": ["linux", "client:web-1"], "timestamp": t},
            "check": core_check("check_http", 2, json!(["0", "0", "0", "2", "2"]), t),
            "occurrences": 2, "occurrences_watermark": 2, "action": "create", "timestamp": t,
            "last_ok": t - 120, "silenced": false, "silenced_by": []
        }),
        json!({
            "id": "f8d6a4c0-2c1e-4a3a-9df2-61a34ce41a0b",
            "client": {"name": "db-1", "address": "10.0.0.21", "subscriptions": ["db"], "timestamp": t},
            "check": core_check("check_replication", 1, json!(["0", "1", "1", "1"]), t),
            "occurrences": 3, "action": "create", "timestamp": t,
            "silenced": true, "silenced_by": ["db:*"]
        }),
    ];
    let silenced = vec![
        json!({"id": "db:*", "subscription": "db", "check": null, "begin": null,
        "expire": 3500, "expire_on_resolve": false, "creator": "bob", "reason": "failover drill"}),
    ];
    let fake = Arc::new(Mutex::new(CoreFake {
        results,
        events,
        silenced,
    }));
    let f = fake.clone();
    let server = Server::start(move |req| core_handle(&mut f.lock().unwrap(), req)).await;
    let mut backend =
        Backend::new(&profile("sensu-core", &server.url, ", timeout_secs = 5")).unwrap();

    let snap = backend.poll().await.expect("poll");
    let got: Vec<(&str, &str, i64, i64)> = snap
        .results
        .iter()
        .map(|r| (r.entity.as_str(), r.check.as_str(), r.status, r.occurrences))
        .collect();
    assert_eq!(
        got,
        vec![
            ("web-1", "check_http", 2, 2),
            ("web-2", "check_http", 0, 1),
            ("web-3", "check_disk", 7, 0),
            ("db-1", "check_replication", 1, 3),
        ],
        "results merged with events; an event without a result still shows"
    );
    assert_eq!(snap.skipped, 2);
    let web1 = &snap.results[0];
    let statuses: Vec<i64> = web1.history.iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        vec![0, 0, 0, 2, 2],
        "integer history from /results"
    );
    assert_eq!(
        web1.since.unwrap().timestamp(),
        t - 60,
        "two CRITs, 60 s apart, the last at `executed`"
    );
    assert_eq!(
        web1.subscriptions,
        vec!["linux".to_string(), "client:web-1".into()]
    );
    let db1 = &snap.results[3];
    let statuses: Vec<i64> = db1.history.iter().map(|h| h.status).collect();
    assert_eq!(statuses, vec![0, 1, 1, 1], "string history from /events");
    assert!(db1.silenced);
    assert_eq!(db1.silenced_by, vec!["db:*".to_string()]);
    assert_eq!(snap.results[2].severity(), Severity::Unknown);
    assert_eq!(snap.silences.len(), 1);
    let s = &snap.silences[0];
    assert_eq!(
        (s.id.as_str(), s.subscription.as_deref(), s.check.as_deref()),
        ("db:*", Some("db"), None)
    );
    assert_eq!(
        (s.creator.as_str(), s.reason.as_str()),
        ("bob", "failover drill")
    );
    let left = s.expire_at.unwrap() - chrono::Utc::now();
    assert!(
        left.num_seconds() > 3400 && left.num_seconds() <= 3500,
        "{left}"
    );
    assert!(s.matches(db1) && !s.matches(web1));
    let reqs = server.take();
    let mut paths: Vec<&str> = reqs.iter().map(|r| r.target.as_str()).collect();
    paths.sort();
    assert_eq!(paths, vec!["/events", "/results", "/silenced"]);

    // Silences: POST /silenced (201, empty body), POST /silenced/clear (204).
    let cases = [
        (
            on_entity(),
            json!({"subscription": "client:web-1", "check": "check_http"}),
            "client:web-1:check_http",
        ),
        (
            SilenceScope::CheckEverywhere {
                check: "check_http".into(),
            },
            json!({"check": "check_http"}),
            "*:check_http",
        ),
        (
            SilenceScope::Entity {
                entity: "web-1".into(),
            },
            json!({"subscription": "client:web-1"}),
            "client:web-1:*",
        ),
        (
            SilenceScope::Subscription {
                subscription: "linux".into(),
            },
            json!({"subscription": "linux"}),
            "linux:*",
        ),
    ];
    for (scope, target, id) in cases {
        let got = backend
            .silence(&request(scope.clone(), None, true))
            .await
            .expect("silence")
            .id;
        assert_eq!(got, id);
        let reqs = server.take();
        assert_eq!(
            (reqs[0].method.as_str(), reqs[0].target.as_str()),
            ("POST", "/silenced")
        );
        let mut want = json!({"expire_on_resolve": true, "creator": "alice@opsconsole", "reason": "disk swap on web-1"});
        for (k, v) in target.as_object().unwrap() {
            want[k] = v.clone();
        }
        assert_eq!(
            reqs[0].json(),
            want,
            "{scope:?}: no expire key means no time expiry"
        );
    }
    backend
        .silence(&request(on_entity(), Some(Duration::from_secs(900)), false))
        .await
        .unwrap();
    assert_eq!(server.take()[0].json()["expire"], json!(900));

    let snap = backend.poll().await.unwrap();
    assert_eq!(snap.silences.len(), 6);
    server.take();
    backend
        .unsilence("client:web-1:check_http")
        .await
        .expect("clear");
    let reqs = server.take();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].target.as_str()),
        ("POST", "/silenced/clear")
    );
    assert_eq!(reqs[0].json(), json!({"id": "client:web-1:check_http"}));
    let snap = backend.poll().await.unwrap();
    assert_eq!(snap.silences.len(), 4, "both entries with that id cleared");
    let e = backend.unsilence("client:web-9:*").await.unwrap_err();
    assert_eq!(e.status(), Some(404));
}

// ---------------------------------------------------------------------------------------------
// Bad input: each a clear error, never a panic

/// Numbers far outside real time (RELIABILITY.md bug 3): no panic, no bogus time shown.
#[tokio::test]
async fn extreme_numbers_do_not_panic() {
    // Sensu Core: a silence expiring in 10^13 s or i64::MAX s, a result with an absurd interval.
    let silenced = br#"[{"id":"a","expire":10000000000000},{"id":"b","expire":9223372036854775807},
        {"id":"c","expire":-9223372036854775808,"begin":-9223372036854775808}]"#;
    let snap = sensu_core::parse(b"[]", b"[]", silenced, "http://x").expect("parses");
    assert_eq!(snap.silences.len(), 3);
    assert!(snap
        .silences
        .iter()
        .all(|s| s.expire_at.is_none() && s.begin.is_none()));
    let results = br#"[{"client":"c","check":{"name":"k","status":1,"executed":1795631752,
        "interval":9223372036854775807,"history":["0","1",2,"x",null]}},
        {"client":"d","check":{"name":"k","status":0,"executed":-9223372036854775808,
        "interval":9223372036854775807,"history":[0,0]}}]"#;
    let snap = sensu_core::parse(results, b"[]", b"[]", "http://x").expect("parses");
    let statuses: Vec<i64> = snap.results[0].history.iter().map(|h| h.status).collect();
    assert_eq!(
        statuses,
        vec![0, 1, 2, 3, 3],
        "unreadable history entries are UNKNOWN"
    );
    assert!(snap.results[0].history[..4]
        .iter()
        .all(|h| h.executed.is_none()));
    assert!(snap.results[1].executed.is_none());

    // Sensu Go: begin + expire past chrono's range.
    let silenced = br#"[{"metadata":{"name":"linux:*"},"subscription":"linux","begin":1795631752,"expire":9223372036854775807},
        {"metadata":{"name":"x:*"},"begin":9223372036854775807,"expire":9223372036854775807,"expire_at":-1}]"#;
    let (s, skipped) = sensu_go::parse_silenced(silenced, "http://x").expect("parses");
    assert_eq!((s.len(), skipped), (2, 0));
    assert!(s.iter().all(|s| s.expire_at.is_none()));

    // Sensu Go tokens with absurd expiries: logged in, used, never a panic.
    for expires_at in [i64::MIN, -1, i64::MAX] {
        let fake = GoFake::new(vec![go_event("web-1", "check_http", 0, now())]);
        fake.lock().unwrap().api_key = None;
        fake.lock().unwrap().expires_at = Some(expires_at);
        let server = go_server(&fake).await;
        let mut backend = Backend::new(&go_user(&server.url)).unwrap();
        for _ in 0..2 {
            let snap = backend.poll().await.expect("poll");
            assert_eq!(snap.results.len(), 1);
        }
    }

    // A silence duration beyond any calendar.
    let req = request(on_entity(), Some(Duration::from_secs(u64::MAX)), false);
    let body = sensu_go::silence_body(&req, NS, chrono::Utc::now());
    assert_eq!(body["expire"], json!(i64::MAX));
    let matchers = alertmanager::matchers_for(&req.scope).unwrap();
    let body = alertmanager::silence_body(&req, &matchers, chrono::Utc::now());
    assert!(body["endsAt"].as_str().unwrap().starts_with('2'), "{body}");
}

async fn fixed(reply: impl Fn() -> Reply + Send + Sync + 'static) -> Server {
    Server::start(move |_| reply()).await
}

async fn poll_err(profile: ChecksProfile) -> HttpError {
    let mut backend = Backend::new(&profile).unwrap();
    backend.poll().await.expect_err("poll should fail")
}

#[tokio::test]
async fn errors_name_the_credential() {
    for status in [401u16, 403] {
        let server =
            fixed(move || Reply::json(status, &json!({"error": "denied", "code": 4}))).await;
        let e = poll_err(go_key(&server.url)).await;
        assert!(matches!(e, HttpError::Auth { .. }), "{e:?}");
        assert_eq!(e.status(), Some(status));
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("the API key from ${KEY_VAR}")),
            "{msg}"
        );
        assert!(msg.contains(&status.to_string()), "{msg}");
        assert!(!msg.contains(KEY), "never the secret: {msg}");
        if status == 403 {
            assert!(
                msg.contains("permission") || msg.contains("not allowed"),
                "403 is not a bad key: {msg}"
            );
        }

        // Sensu Core with Basic auth: the user and where the password came from.
        let p = profile(
            "sensu-core",
            &server.url,
            &format!(", user = \"{USER}\", password_env = \"{PW_VAR}\", timeout_secs = 5"),
        );
        let msg = poll_err(p).await.to_string();
        assert!(
            msg.contains(&format!("user \"{USER}\"")) && msg.contains(PW_VAR),
            "{msg}"
        );
        assert!(!msg.contains(PW), "{msg}");
    }
}

#[tokio::test]
async fn error_namespace_not_found() {
    let fake = GoFake::new(vec![]);
    let server = go_server(&fake).await;
    let p = profile(
        "sensu-go",
        &server.url,
        &format!(", api_key_env = \"{KEY_VAR}\", namespace = \"prod\""),
    );
    let e = poll_err(p).await;
    assert_eq!(e.status(), Some(404));
    let msg = e.to_string();
    assert!(msg.contains("namespace \"prod\""), "{msg}");
    assert_eq!(
        server.requests()[0].path(),
        "/api/core/v2/namespaces/prod/events"
    );
}

#[tokio::test]
async fn error_html_500() {
    let page = "<!DOCTYPE html>\n<html>\n<head><title>500 Internal Server Error</title></head>\n<body>\n<center><h1>500 Internal Server Error</h1></center>\n<hr><center>nginx/1.22.1</center>\n</body>\n</html>\n";
    let server = fixed(move || Reply::raw(500, "text/html", page)).await;
    let e = poll_err(go_key(&server.url)).await;
    assert!(matches!(e, HttpError::Status { status: 500, .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("500 Internal Server Error"), "{msg}");
    assert!(!msg.contains('<'), "no markup in the message: {msg}");
    assert!(msg.contains(&server.url), "{msg}");
}

#[tokio::test]
async fn error_timeout() {
    let server = fixed(|| Reply::Hang).await;
    let p = profile(
        "sensu-go",
        &server.url,
        &format!(", api_key_env = \"{KEY_VAR}\", timeout_secs = 1"),
    );
    let started = Instant::now();
    let e = poll_err(p).await;
    assert_eq!(e, HttpError::Timeout(1), "{e}");
    assert!(e.to_string().contains("1 s"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn error_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = profile(
        "alertmanager",
        &format!("http://127.0.0.1:{port}"),
        ", timeout_secs = 1",
    );
    let e = Backend::new(&p).unwrap().poll().await.unwrap_err();
    assert!(matches!(e, HttpError::Unreachable(_)), "{e:?}");
    assert!(e.to_string().to_lowercase().contains("connect"), "{e}");
}

#[tokio::test]
async fn error_not_json_and_truncated() {
    let server = fixed(|| Reply::raw(200, "text/plain", "pong\n")).await;
    let e = poll_err(go_key(&server.url)).await;
    assert!(matches!(e, HttpError::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains("not the expected JSON"), "{e}");

    let server =
        fixed(|| Reply::raw(200, "text/html", "\n  <html><body>login</body></html>")).await;
    let e = poll_err(go_key(&server.url)).await;
    assert!(e.to_string().contains("HTML instead of JSON"), "{e}");

    let server = fixed(|| Reply::json(200, &json!({"events": []}))).await;
    let e = poll_err(go_key(&server.url)).await;
    assert!(
        matches!(e, HttpError::Decode { .. }),
        "an object where an array belongs: {e:?}"
    );

    let server = fixed(|| Reply::raw(200, "application/json", "")).await;
    let e = poll_err(go_key(&server.url)).await;
    assert!(e.to_string().contains("empty"), "{e}");

    let full = serde_json::to_string(&vec![go_event("web-1", "check_http", 0, now()); 3]).unwrap();
    let cut = full[..full.len() / 2].to_string();
    let server = fixed(move || Reply::raw(200, "application/json", cut.clone())).await;
    let e = poll_err(go_key(&server.url)).await;
    assert!(matches!(e, HttpError::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains("truncated JSON"), "{e}");

    // The connection drops mid-body (Content-Length promised more).
    let half = full.as_bytes()[..full.len() / 2].to_vec();
    let declared = full.len();
    let server = fixed(move || Reply::ShortBody {
        declared,
        body: half.clone(),
    })
    .await;
    let e = poll_err(go_key(&server.url)).await;
    assert!(matches!(e, HttpError::Unreachable(_)), "{e:?}");
}

#[tokio::test]
async fn error_body_over_cap() {
    for content_length in [false, true] {
        let server = fixed(move || Reply::Stream {
            bytes: MAX_BODY_BYTES + (1 << 20),
            content_length,
        })
        .await;
        let p = profile("alertmanager", &server.url, ", timeout_secs = 20");
        let started = Instant::now();
        let e = poll_err(p).await;
        assert!(
            matches!(e, HttpError::TooLarge { .. }),
            "content_length={content_length}: {e:?}"
        );
        assert!(e.to_string().contains("32 MB"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(15));
    }
    // Exactly at the cap is still read (and then judged as JSON).
    let server = fixed(|| Reply::Stream {
        bytes: MAX_BODY_BYTES,
        content_length: false,
    })
    .await;
    let e = poll_err(profile("alertmanager", &server.url, ", timeout_secs = 20")).await;
    assert!(matches!(e, HttpError::Decode { .. }), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// The source task, through its channels

#[tokio::test]
async fn source_retries_recovers_and_silences() {
    let fake = GoFake::new(vec![go_event("web-1", "check_http", 2, now())]);
    fake.lock().unwrap().down = true;
    let server = go_server(&fake).await;
    let p = profile(
        "sensu-go",
        &server.url,
        &format!(", api_key_env = \"{KEY_VAR}\", interval_secs = 3600, timeout_secs = 5"),
    );
    let (tx, mut rx) = mpsc::channel(64);
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let task = tokio::spawn(ChecksSource::new(p, tx, cmd_rx).run());

    assert_eq!(
        next_msg(&mut rx, Duration::from_secs(5)).await,
        Msg::Health(SourceKind::Checks.of(ClusterId(0)), Health::Connecting)
    );
    match next_msg(&mut rx, Duration::from_secs(10)).await {
        Msg::Health(
            SourceId {
                kind: SourceKind::Checks,
                ..
            },
            Health::Retrying { attempt, error, at },
        ) => {
            assert_eq!(attempt, 1);
            assert!(
                error.contains("sensu-go") && error.contains("503") && error.contains("warming up"),
                "{error}"
            );
            assert!(at > chrono::Utc::now() - chrono::Duration::seconds(1));
        }
        other => panic!("expected Retrying, got {other:?}"),
    }
    fake.lock().unwrap().down = false;
    let snap: ChecksSnapshot = match next_msg(&mut rx, Duration::from_secs(10)).await {
        Msg::ChecksSnapshot { snapshot, .. } => snapshot,
        other => panic!("expected a snapshot after recovery, got {other:?}"),
    };
    assert_eq!(snap.results.len(), 1);
    assert_eq!(
        next_msg(&mut rx, Duration::from_secs(5)).await,
        Msg::Health(SourceKind::Checks.of(ClusterId(0)), Health::Live)
    );

    // Silence: the outcome, then an immediate re-poll (the interval is an hour) that shows it.
    let req = request(on_entity(), None, true);
    cmd_tx
        .send(released(Mutation::Silence(req.clone())))
        .await
        .unwrap();
    let started = Instant::now();
    match next_msg(&mut rx, Duration::from_secs(5)).await {
        Msg::SilenceDone {
            outcome: SilenceOutcome::Created { silence, request },
            audit_id,
        } => {
            assert_eq!(audit_id, "sensu-test-1".into());
            assert_eq!(request, req);
            assert_eq!(silence.id, "entity:web-1:check_http");
            assert_eq!(
                (silence.subscription.as_deref(), silence.check.as_deref()),
                (Some("entity:web-1"), Some("check_http"))
            );
        }
        other => panic!("expected a confirmed silence, got {other:?}"),
    }
    let snap = wait_msg(&mut rx, Duration::from_secs(5), |m| match m {
        Msg::ChecksSnapshot { snapshot, .. } => Some(snapshot.clone()),
        _ => None,
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(snap.silences.len(), 1);
    assert_eq!(snap.silences[0].id, "entity:web-1:check_http");

    // Unsilence; again (already gone: not a failure); then a failing one, reported as Failed
    // with the backend's words.
    cmd_tx
        .send(released(Mutation::Unsilence {
            id: "entity:web-1:check_http".into(),
        }))
        .await
        .unwrap();
    assert_eq!(
        wait_msg(&mut rx, Duration::from_secs(5), |m| match m {
            Msg::SilenceDone { outcome, .. } => Some(outcome.clone()),
            _ => None,
        })
        .await,
        SilenceOutcome::Removed {
            id: "entity:web-1:check_http".into()
        }
    );
    let snap = wait_msg(&mut rx, Duration::from_secs(5), |m| match m {
        Msg::ChecksSnapshot { snapshot, .. } => Some(snapshot.clone()),
        _ => None,
    })
    .await;
    assert!(snap.silences.is_empty());
    match unsilence(&cmd_tx, &mut rx, "entity:web-1:check_http").await {
        SilenceOutcome::AlreadyGone { id, detail } => {
            assert_eq!(id, "entity:web-1:check_http");
            assert!(
                detail.contains("404") && detail.contains("not found"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    fake.lock().unwrap().down = true;
    match unsilence(&cmd_tx, &mut rx, "entity:web-2:check_http").await {
        SilenceOutcome::Failed { what, error } => {
            assert!(what.contains("entity:web-2:check_http"), "{what}");
            assert!(
                error.contains("503") && error.contains("warming up"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }

    drop(rx);
    drop(cmd_tx);
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("source ends when the console goes away")
        .unwrap();
}

/// Sends an unsilence to the source and returns what it reported.
async fn unsilence(
    cmd_tx: &mpsc::Sender<Command>,
    rx: &mut mpsc::Receiver<Msg>,
    id: &str,
) -> SilenceOutcome {
    cmd_tx
        .send(released(Mutation::Unsilence { id: id.into() }))
        .await
        .unwrap();
    wait_msg(rx, Duration::from_secs(5), |m| match m {
        Msg::SilenceDone { outcome, .. } => Some(outcome.clone()),
        _ => None,
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Sensu Core at the time cursor's moment: statuses without times, estimated back from `executed`

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_check_at_a_time_is_estimated_from_executed_and_interval() {
    use crate::common::checks_console::ChecksConsole;
    use opsconsole::state::{time_cursor, Pane};

    // Nine runs a minute apart (interval 60), the last 10 s ago: OK, then CRIT for the last three
    // (estimated at executed − 120 s, − 60 s, executed). Sensu Core keeps no times of its own.
    let executed = now() - 10;
    let results = vec![json!({"client": "web-1",
        "check": core_check("check_http", 2, json!([0, 0, 0, 0, 0, 0, 2, 2, 2]), executed)})];
    let fake = Arc::new(Mutex::new(CoreFake {
        results,
        events: Vec::new(),
        silenced: Vec::new(),
    }));
    let f = fake.clone();
    let server = Server::start(move |req| core_handle(&mut f.lock().unwrap(), req)).await;
    let polled = profile(
        "sensu-core",
        &server.url,
        ", timeout_secs = 5, interval_secs = 1",
    );
    let mut c = ChecksConsole::start(polled, "sensu-core");
    c.until(Duration::from_secs(5), "the check", |c| {
        c.state().checks.results.len() == 1
    })
    .await;
    assert!(server.requests().iter().any(|r| r.path() == "/results"));
    let row = |c: &ChecksConsole| c.state().checks.results[0].clone();
    assert_eq!(row(&c).status, 2);
    let at = |c: &mut ChecksConsole, when: &str| {
        c.h.tick();
        c.h.press(":");
        c.h.type_text(&format!("at {when}"));
        c.h.press("enter");
    };

    // 5 min ago: the run estimated at executed − 300 s was OK; marked as an estimate.
    at(&mut c, "-5m");
    assert_eq!(row(&c).status, 0, "OK five minutes ago: {:?}", row(&c));
    assert!(
        row(&c).output.starts_with("≈ status at ") && row(&c).output.ends_with("(now: CRIT)"),
        "{}",
        row(&c).output
    );
    let note = time_cursor::pane_note(c.state(), Pane::Checks).unwrap_or_default();
    assert!(note.contains("≈ from history"), "{note}");
    // 90 s ago: the run at executed − 120 s was already CRIT.
    at(&mut c, "-90s");
    assert_eq!(row(&c).status, 2, "CRIT 90 s ago: {:?}", row(&c));
    // Before the oldest estimated run (executed − 480 s): unknown, not guessed.
    at(&mut c, "-10m");
    assert_eq!(row(&c).status, 3, "{:?}", row(&c));
    assert!(
        row(&c).output.contains("history starts later"),
        "{}",
        row(&c).output
    );

    // Live again: the check as Sensu says now.
    c.h.press(":");
    c.h.type_text("live");
    c.h.press("enter");
    assert_eq!(row(&c).status, 2);
    assert_eq!(row(&c).output, "check_http status 2\n");
}

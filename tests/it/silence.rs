//! Silences: created from the names the backend sent (never from the sanitised text on screen),
//! reported as done only once the backend shows them, removed again (`u`). Against a real
//! Alertmanager (Debian `prometheus-alertmanager`; `amtool` is the ground truth) — through its
//! backend, through the console's keys (`common::checks_console`) and in a real terminal — and
//! against the Sensu Go and Sensu Core contract server (`common::sensu`): every scope, crafted
//! names, an alert without an instance, a silence that matches nothing.
//!
//! Also elsewhere: reading checks and the source runner (`checks_backends`), `--readonly`
//! (`security`), the audit lines (`audit`), the form and dialog drawn (`render_panes`).

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use opsconsole::action::Action;
use opsconsole::config::{ChecksProfile, Config};
use opsconsole::model::{
    ChecksSnapshot, Leftover, Msg, Mutation, Severity, Shown, SilenceOutcome, SilenceRequest,
    SilenceScope,
};
use opsconsole::sources::checks::{Backend, ChecksSource, SilenceError};
use opsconsole::sources::http::install_crypto_provider;
use opsconsole::state::{Change, Confirm, Popup};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use common::checks_console::ChecksConsole;
use common::e2e::{panes_fleet, LIVE};
use common::panes::{cells, check_row, checks_pane, contains_bytes, silenced_marker};
use common::sensu::fake::{Req, Server};
use common::sensu::{
    core_check, core_handle, go_event, go_key, go_server, now, on_entity, profile, released,
    request, wait_msg, CoreFake, GoFake, KEY, NS, SILENCED,
};
use common::tmux::SOON;
use common::wait::Wait;
use common::{wait_until, wait_until_or, Alertmanager};

// ---------------------------------------------------------------------------------------------
// Alertmanager through its backend

/// Alertmanager's own API, for setting up and for checking what the source did.
struct Api {
    client: reqwest::Client,
    url: String,
}

impl Api {
    fn new(url: &str) -> Api {
        install_crypto_provider();
        Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            url: format!("{url}/api/v2"),
        }
    }

    async fn get(&self, path: &str) -> Value {
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    async fn post_alerts(&self, alerts: &Value) {
        let resp = self
            .client
            .post(format!("{}/alerts", self.url))
            .json(alerts)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert!(
            status.is_success(),
            "POST /alerts: {status} {}",
            resp.text().await.unwrap()
        );
    }

    /// The alert for `instance`, as Alertmanager reports it.
    async fn alert(&self, instance: &str) -> Value {
        let all = self.get("/alerts").await;
        all.as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"]["instance"] == json!(instance))
            .cloned()
            .unwrap_or_else(|| panic!("no alert for {instance} in {all:#}"))
    }
}

/// Evaluates the async block `$body` (an `Option`) until it is `Some`, for up to 10 s (a
/// [`Wait`]: the block may borrow what a closure could not hand to `wait_until_async`).
macro_rules! eventually {
    ($what:expr, $body:expr) => {{
        let mut wait = Wait::new($what, Duration::from_secs(10));
        loop {
            if let Some(v) = wait.look($body.await) {
                break v;
            }
            tokio::time::sleep(wait.pause(String::new)).await;
        }
    }};
}

fn alert(instance: &str, severity: &str, starts: chrono::DateTime<Utc>) -> Value {
    json!({
        "labels": {"alertname": "HighLatency", "instance": instance, "job": "web", "severity": severity},
        "annotations": {"summary": format!("p99 latency on {instance} over 2 s"), "runbook": "https://runbooks/latency"},
        "startsAt": starts.to_rfc3339(),
        "endsAt": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=latency"
    })
}

fn find<'a>(snap: &'a ChecksSnapshot, entity: &str) -> &'a opsconsole::model::CheckResult {
    snap.results
        .iter()
        .find(|r| r.entity == entity)
        .unwrap_or_else(|| panic!("no result for {entity}: {:#?}", snap.results))
}

#[tokio::test]
async fn alerts_silence_unsilence_against_real_alertmanager() {
    let am = Alertmanager::start();
    let api = Api::new(&am.url());
    let mut backend = Backend::new(&profile_with(&am.url(), "")).unwrap();

    // Empty to begin with.
    let snap = backend.poll().await.expect("poll an empty alertmanager");
    assert!(snap.results.is_empty() && snap.silences.is_empty() && snap.skipped == 0);

    let starts = Utc::now() - chrono::Duration::minutes(3);
    api.post_alerts(&json!([
        alert("web-1", "critical", starts),
        alert("web-2", "warning", starts)
    ]))
    .await;
    let snap = eventually!("both alerts listed", async {
        let s = backend.poll().await.expect("poll");
        (s.results.len() == 2).then_some(s)
    });
    assert_eq!(snap.skipped, 0);
    let web1 = find(&snap, "web-1");
    assert_eq!((web1.check.as_str(), web1.status), ("HighLatency", 2));
    assert_eq!(web1.severity(), Severity::Critical);
    assert_eq!(web1.output, "p99 latency on web-1 over 2 s");
    assert_eq!(web1.subscriptions, vec!["web".to_string()]);
    assert_eq!(
        web1.since.unwrap().timestamp(),
        starts.timestamp(),
        "since = startsAt"
    );
    assert!(web1
        .labels
        .contains(&("severity".into(), "critical".into())));
    assert!(!web1.silenced && web1.silenced_by.is_empty());
    let web2 = find(&snap, "web-2");
    assert_eq!((web2.check.as_str(), web2.status), ("HighLatency", 1));
    assert_eq!(web2.severity(), Severity::Warning);

    // Silence HighLatency on web-1 through the source.
    let req = SilenceRequest {
        cluster: Default::default(),
        scope: SilenceScope::CheckOnEntity {
            entity: "web-1".into(),
            check: "HighLatency".into(),
        },
        duration: Some(Duration::from_secs(2 * 3600)),
        expire_on_resolve: false,
        reason: "failing over the LB".into(),
        creator: "alice@opsconsole".into(),
    };
    let before = Utc::now();
    let silence = backend.silence(&req).await.expect("create silence");
    let id = silence.id.clone();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(
        silence.describe(),
        "alertname=\"HighLatency\", instance=\"web-1\"",
        "the matchers sent"
    );
    assert_eq!(
        backend.confirm(&silence).await.expect("confirm"),
        Shown::OnTarget,
        "Alertmanager shows it in web-1's silencedBy"
    );

    // Alertmanager's own view of it.
    let s = api.get(&format!("/silence/{id}")).await;
    assert_eq!(s["createdBy"], json!("alice@opsconsole"));
    assert_eq!(s["comment"], json!("failing over the LB"));
    assert_eq!(s["status"]["state"], json!("active"));
    let mut matchers: Vec<Value> = s["matchers"].as_array().unwrap().clone();
    matchers.sort_by_key(|m| m["name"].as_str().unwrap().to_string());
    assert_eq!(
        matchers,
        vec![
            json!({"name": "alertname", "value": "HighLatency", "isRegex": false, "isEqual": true}),
            json!({"name": "instance", "value": "web-1", "isRegex": false, "isEqual": true}),
        ]
    );
    let ends = chrono::DateTime::parse_from_rfc3339(s["endsAt"].as_str().unwrap()).unwrap();
    let hours = (ends.with_timezone(&Utc) - before).num_minutes();
    assert!(
        (119..=121).contains(&hours),
        "ends about 2 h from now: {ends}"
    );
    let listed = api.get("/silences").await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == json!(id)),
        "{listed:#}"
    );

    // The alert is suppressed by that silence, and the source says so.
    let a = eventually!("web-1 suppressed", async {
        let a = api.alert("web-1").await;
        (a["status"]["state"] == json!("suppressed")).then_some(a)
    });
    assert_eq!(a["status"]["silencedBy"], json!([id]));
    assert_eq!(api.alert("web-2").await["status"]["state"], json!("active"));
    let snap = backend.poll().await.unwrap();
    let web1 = find(&snap, "web-1");
    assert!(web1.silenced);
    assert_eq!(web1.silenced_by, vec![id.clone()]);
    assert!(!find(&snap, "web-2").silenced);
    assert_eq!(snap.silences.len(), 1);
    let sil = &snap.silences[0];
    assert_eq!(sil.id, id);
    assert_eq!(sil.creator, "alice@opsconsole");
    assert_eq!(sil.reason, "failing over the LB");
    assert!(sil.matches(web1) && !sil.matches(find(&snap, "web-2")));
    assert_eq!(
        sil.describe(),
        "alertname=\"HighLatency\", instance=\"web-1\""
    );

    // Unsilence: expired (not erased) in Alertmanager, the alert active again.
    backend.unsilence(&id).await.expect("expire silence");
    let s = api.get(&format!("/silence/{id}")).await;
    assert_eq!(s["status"]["state"], json!("expired"));
    eventually!("web-1 active again", async {
        let a = api.alert("web-1").await;
        (a["status"]["state"] == json!("active")).then_some(())
    });
    let snap = backend.poll().await.unwrap();
    assert!(!find(&snap, "web-1").silenced);
    assert!(
        snap.silences.is_empty(),
        "expired silences are not shown: {:#?}",
        snap.silences
    );

    // An unknown id: a clear error with Alertmanager's own words (0.25 answers 500, later 404).
    let e = backend
        .unsilence("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(matches!(e.status(), Some(404 | 500)), "{e}");
    assert!(e.to_string().contains("silence not found"), "{e}");
    assert!(
        e.means_gone(),
        "an unknown silence is already gone, not a failure: {e}"
    );
    // Expiring it a second time: also already gone, whatever this version answers.
    match backend.unsilence(&id).await {
        Ok(()) => {}
        Err(e) => assert!(e.means_gone(), "{e}"),
    }
}

#[tokio::test]
async fn every_scope_and_no_expiry() {
    let am = Alertmanager::start();
    let api = Api::new(&am.url());
    let mut backend = Backend::new(&profile_with(&am.url(), "")).unwrap();
    let starts = Utc::now() - chrono::Duration::minutes(1);
    api.post_alerts(&json!([
        alert("web-1", "critical", starts),
        alert("web-2", "info", starts)
    ]))
    .await;

    let scopes = [
        (
            SilenceScope::CheckEverywhere {
                check: "HighLatency".into(),
            },
            vec![("alertname", "HighLatency")],
        ),
        (
            SilenceScope::Entity {
                entity: "web-2".into(),
            },
            vec![("instance", "web-2")],
        ),
        (
            SilenceScope::Subscription {
                subscription: "web".into(),
            },
            vec![("job", "web")],
        ),
    ];
    for (scope, want) in scopes {
        let req = SilenceRequest {
            cluster: Default::default(),
            scope: scope.clone(),
            duration: None,
            expire_on_resolve: true,
            reason: "r".into(),
            creator: "c".into(),
        };
        let id = backend
            .silence(&req)
            .await
            .unwrap_or_else(|e| panic!("{scope:?}: {e}"))
            .id;
        let s = api.get(&format!("/silence/{id}")).await;
        let got: Vec<(String, String)> = s["matchers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert_eq!(
                    (m["isRegex"].clone(), m["isEqual"].clone()),
                    (json!(false), json!(true))
                );
                (
                    m["name"].as_str().unwrap().into(),
                    m["value"].as_str().unwrap().into(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want, "{scope:?}");
        let ends = chrono::DateTime::parse_from_rfc3339(s["endsAt"].as_str().unwrap()).unwrap();
        assert!(
            ends.with_timezone(&Utc) > Utc::now() + chrono::Duration::days(3000),
            "no expiry → far future"
        );
    }
    let snap = eventually!("both silenced", async {
        let s = backend.poll().await.unwrap();
        (s.results.len() == 2 && s.results.iter().all(|r| r.silenced)).then_some(s)
    });
    assert_eq!(snap.silences.len(), 3);
    assert_eq!(find(&snap, "web-2").status, 0, "severity info → OK");
    assert_eq!(find(&snap, "web-2").silenced_by.len(), 3);

    // A scope whose matchers all match the empty string (an entity the alert lacks) would mute
    // every alert without an instance: refused before anything is sent.
    let e = backend
        .silence(&SilenceRequest {
            cluster: Default::default(),
            scope: SilenceScope::Entity {
                entity: String::new(),
            },
            duration: None,
            expire_on_resolve: false,
            reason: "r".into(),
            creator: "c".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, SilenceError::Refused(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("instance=\"\" matches the empty string"),
        "{e}"
    );
    assert_eq!(api.get("/silences").await.as_array().unwrap().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Alertmanager through the console (issue 12, item 3): silences built from the alert's raw
// labels, reported as done only when Alertmanager shows the silence on the alert

fn profile_with(url: &str, extra: &str) -> ChecksProfile {
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"] }}\nchecks = {{ kind = \"alertmanager\", url = \"{url}\", timeout_secs = 5{extra} }}\n"
    );
    let config = Config::parse(&toml, Path::new("/test/config.toml")).expect("profile parses");
    config.cluster("t").unwrap().checks.clone().unwrap()
}

fn firing(labels: &[(&str, &str)]) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "labels": labels,
        "annotations": {"summary": "crafted"},
        "startsAt": (Utc::now() - chrono::Duration::minutes(2)).to_rfc3339(),
        "endsAt": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
    })
}

fn label_map(labels: &[(&str, &str)]) -> Value {
    Value::Object(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect(),
    )
}

/// The label sets `amtool alert query --silenced` lists, once it lists `want` (waited for: the
/// console has already reported the outcome, Alertmanager's status may lag a little).
fn amtool_silenced_once_it_lists(am: &Alertmanager, want: &Value) -> Vec<Value> {
    wait_until(
        format!("amtool to list {want} as silenced"),
        Duration::from_secs(5),
        || {
            let labels: Vec<Value> = am
                .amtool_silenced()
                .into_iter()
                .map(|a| a["labels"].clone())
                .collect();
            if labels.contains(want) {
                Ok(labels)
            } else {
                Err(format!("it lists {labels:#?}"))
            }
        },
    )
}

/// The silences Alertmanager holds with `comment`.
async fn silences_with_comment(api: &Api, comment: &str) -> Vec<Value> {
    let all = api.get("/silences").await;
    all.as_array()
        .unwrap()
        .iter()
        .filter(|s| s["comment"] == json!(comment))
        .cloned()
        .collect()
}

fn matcher_pairs(silence: &Value) -> Vec<(String, String)> {
    let mut m: Vec<(String, String)> = silence["matchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["isRegex"], json!(false), "{m}");
            (
                m["name"].as_str().unwrap().to_string(),
                m["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    m.sort();
    m
}

const EVIL: &str = "Evil\u{1b}]52;c;ZXZpbA==\u{7}OSC";

#[tokio::test]
async fn console_silences_the_real_alert_whose_labels_hold_escapes() {
    let am = Alertmanager::start();
    let api = Api::new(&am.url());
    // The crafted alert, and a look-alike named like its sanitised text: silencing by what the
    // screen used to show would have muted the wrong one.
    let evil = [
        ("alertname", EVIL),
        ("instance", "web-1"),
        ("severity", "critical"),
    ];
    let lookalike = [
        ("alertname", "EvilOSC"),
        ("instance", "web-1"),
        ("severity", "critical"),
    ];
    api.post_alerts(&json!([firing(&evil), firing(&lookalike)]))
        .await;
    let mut c = ChecksConsole::start(profile_with(&am.url(), ""), "alertmanager");
    c.until_live(Duration::from_secs(10), "both alerts listed", |c| {
        c.row_with_labels(&evil).is_some() && c.row_with_labels(&lookalike).is_some()
    })
    .await;

    c.select(|r| r.labels.iter().any(|(k, v)| k == "alertname" && v == EVIL));
    c.fill_silence_form(0, "crafted alert under investigation");
    assert!(
        matches!(
            c.state().popup,
            Some(Popup::Confirm(Confirm {
                change: Change::Silence(_),
                ..
            }))
        ),
        "{:?}",
        c.state().popup
    );
    c.act(Action::Confirm);
    c.until(Duration::from_secs(10), "the silence audited", |c| {
        !c.audited("silence").is_empty()
    })
    .await;
    let audit = c.audited("silence")[0].clone();
    assert_eq!(audit.result.as_deref(), Some("created"), "{audit:?}");
    // Alertmanager's own client: exactly the crafted alert is silenced, not its look-alike.
    let silenced = amtool_silenced_once_it_lists(&am, &label_map(&evil));
    assert_eq!(silenced, vec![label_map(&evil)]);
    let sil = silences_with_comment(&api, "crafted alert under investigation").await;
    assert_eq!(sil.len(), 1, "{sil:#?}");
    assert_eq!(
        matcher_pairs(&sil[0]),
        vec![
            ("alertname".to_string(), EVIL.to_string()),
            ("instance".to_string(), "web-1".to_string()),
        ]
    );
    assert_eq!(
        audit.silence_id.as_deref(),
        sil[0]["id"].as_str(),
        "the audit names the silence id: {audit:?}"
    );

    let status = c.status();
    assert!(status.starts_with("silenced "), "{status}");
    assert!(
        status.contains("Evil␛]52;c;ZXZpbA==␇OSC on web-1"),
        "the status names the alert with its escapes shown: {status}"
    );
    assert!(
        !status.chars().any(char::is_control),
        "nothing for the terminal to interpret: {status:?}"
    );
}

#[tokio::test]
async fn console_silences_an_alert_without_instance_and_refuses_a_silence_of_everything() {
    let am = Alertmanager::start();
    let api = Api::new(&am.url());
    let bare = [("alertname", "NoInstance"), ("severity", "warning")];
    let placed = [
        ("alertname", "NoInstance"),
        ("instance", "web-1"),
        ("severity", "warning"),
    ];
    api.post_alerts(&json!([firing(&bare), firing(&placed)]))
        .await;
    let mut c = ChecksConsole::start(profile_with(&am.url(), ""), "alertmanager");
    c.until_live(Duration::from_secs(10), "both alerts listed", |c| {
        c.row_with_labels(&bare).is_some() && c.row_with_labels(&placed).is_some()
    })
    .await;

    // "NoInstance on (no instance)": instance="" matches only the alert that lacks the label.
    c.select(|r| !r.labels.iter().any(|(k, _)| k == "instance"));
    c.fill_silence_form(0, "no instance");
    c.act(Action::Confirm);
    c.until(Duration::from_secs(10), "the silence audited", |c| {
        !c.audited("silence").is_empty()
    })
    .await;
    let audit = c.audited("silence")[0].clone();
    assert_eq!(audit.result.as_deref(), Some("created"), "{audit:?}");
    let silenced = amtool_silenced_once_it_lists(&am, &label_map(&bare));
    assert_eq!(silenced, vec![label_map(&bare)], "not the one on web-1");
    let sil = silences_with_comment(&api, "no instance").await;
    assert_eq!(sil.len(), 1, "{sil:#?}");
    assert_eq!(
        matcher_pairs(&sil[0]),
        vec![
            ("alertname".to_string(), "NoInstance".to_string()),
            ("instance".to_string(), String::new()),
        ]
    );

    // "every check on (no instance)" would be instance="" alone: it matches every alert without
    // an instance, so the form refuses it and nothing is sent.
    c.select(|r| !r.labels.iter().any(|(k, _)| k == "instance"));
    c.fill_silence_form(2, "everything");
    let err = c
        .form_error()
        .unwrap_or_else(|| panic!("the form stays open with an error: {:?}", c.state().popup));
    assert!(err.contains("empty string"), "{err}");
    assert!(
        !matches!(
            c.state().popup,
            Some(Popup::Confirm(Confirm {
                change: Change::Silence(_),
                ..
            }))
        ),
        "no confirmation for it"
    );
    c.act(Action::Confirm);
    c.form("esc");
    assert_eq!(c.state().popup, None);
    assert_eq!(c.audited("silence").len(), 1, "{:#?}", c.audits());
    assert!(silences_with_comment(&api, "everything").await.is_empty());
}

#[tokio::test]
async fn a_silence_that_matches_nothing_is_reported_and_expired() {
    let am = Alertmanager::start();
    let api = Api::new(&am.url());
    let flapping = [("alertname", "Flapping"), ("instance", "web-3")];
    api.post_alerts(&json!([firing(&flapping)])).await;
    // Polled once; the next poll is an hour away, so the row stays as the user saw it.
    let mut c = ChecksConsole::start(
        profile_with(&am.url(), ", interval_secs = 3600"),
        "alertmanager",
    );
    c.until_live(Duration::from_secs(10), "the alert listed", |c| {
        c.row_with_labels(&flapping).is_some()
    })
    .await;

    // It resolves between the poll and the silence.
    let mut resolved = firing(&flapping);
    resolved["endsAt"] = json!((Utc::now() - chrono::Duration::seconds(1)).to_rfc3339());
    api.post_alerts(&json!([resolved])).await;
    eventually!("Alertmanager no longer lists it", async {
        let all = api.get("/alerts").await;
        all.as_array()
            .unwrap()
            .iter()
            .all(|a| a["labels"]["alertname"] != json!("Flapping"))
            .then_some(())
    });
    assert!(c.row_with_labels(&flapping).is_some(), "still on screen");

    c.select(|r| r.check == "Flapping");
    c.fill_silence_form(0, "flapping again");
    c.act(Action::Confirm);
    c.until(Duration::from_secs(15), "the silence audited", |c| {
        !c.audited("silence").is_empty()
    })
    .await;
    let audit = c.audited("silence")[0].clone();
    assert_eq!(
        audit.result.as_deref(),
        Some("matched nothing"),
        "{audit:?}"
    );
    let status = c.status();
    assert!(status.contains("the silence matched nothing"), "{status}");
    let sil = silences_with_comment(&api, "flapping again").await;
    assert_eq!(sil.len(), 1, "it was created: {sil:#?}");
    let id = sil[0]["id"].as_str().unwrap();
    assert!(status.contains(id), "the status names it: {status}");
    assert_eq!(audit.silence_id.as_deref(), Some(id), "{audit:?}");
    assert_eq!(
        sil[0]["status"]["state"],
        json!("expired"),
        "not left behind to mute a later alert: {sil:#?}"
    );
    assert!(am.amtool_silenced().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Alertmanager in a real terminal

#[test]
fn alertmanager_checks_silence_for_real_and_readonly_refuses() {
    let am = Alertmanager::start();
    am.fire(&[
        ("DiskFull", "web-1", "warning"),
        ("HighLatency", "web-2", "critical"),
    ]);
    let f = panes_fleet(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
        am.url()
    ));
    let t = f.console(&[]);
    let s = t.wait_screen("both alerts as check rows", SOON, |s| {
        check_row(s, "web-2", "HighLatency").is_some()
            && check_row(s, "web-1", "DiskFull").is_some()
    });
    let pane = checks_pane(&s);
    let crit = pane
        .iter()
        .position(|l| cells(l).get(2) == Some(&"HighLatency"))
        .unwrap();
    let warn = pane
        .iter()
        .position(|l| cells(l).get(2) == Some(&"DiskFull"))
        .unwrap();
    assert!(crit < warn, "not worst-first:\n{}", pane.join("\n"));
    assert_eq!(cells(&pane[crit])[0], "CRIT", "{}", pane[crit]);
    assert_eq!(cells(&pane[warn])[0], "WARN", "{}", pane[warn]);
    assert!(pane[0].contains("Checks (alertmanager)"), "{}", pane[0]);

    // The selected (first, worst) row: HighLatency on web-2. An empty reason is refused.
    t.send(&["Tab"]);
    t.send(&["s"]);
    t.wait_screen("the silence form for web-2/HighLatency", SOON, |s| {
        s.contains("reason (required)") && s.contains("  check  web-2/HighLatency")
    });
    t.send(&["Enter"]);
    let s = t.wait_text("reason is required");
    assert!(!s.contains("Create this silence?"), "{s}");
    assert!(am.active_silences().is_empty());

    t.type_text("e2e: latency under investigation");
    t.send(&["Enter"]);
    t.wait_screen("the silence confirmation", SOON, |s| {
        s.contains("Create this silence?") && s.contains("HighLatency on web-2")
    });
    t.confirm("y");
    let silence = wait_until_or(
        "an active silence in Alertmanager",
        SOON,
        || am.active_silences().into_iter().next(),
        || t.screen(),
    );
    let mut matchers: Vec<(String, String, bool, bool)> = silence["matchers"]
        .as_array()
        .expect("matchers")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or("").to_string(),
                m["value"].as_str().unwrap_or("").to_string(),
                m["isRegex"].as_bool().unwrap_or(true),
                m["isEqual"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    matchers.sort();
    assert_eq!(
        matchers,
        vec![
            ("alertname".into(), "HighLatency".into(), false, true),
            ("instance".into(), "web-2".into(), false, true),
        ],
        "{silence}"
    );
    assert_eq!(silence["createdBy"], "e2e-tester", "{silence}");
    assert_eq!(
        silence["comment"], "e2e: latency under investigation",
        "{silence}"
    );
    assert_eq!(am.active_silences().len(), 1, "more than one silence");

    // The row is marked, also after the next polls (Alertmanager reports it suppressed).
    let marked = |s: &str| {
        silenced_marker(s, "web-2", "HighLatency") == Some(true)
            && silenced_marker(s, "web-1", "DiskFull") == Some(false)
    };
    t.wait_screen(
        "HighLatency marked S, \"silenced\" in the status line",
        SOON,
        |s| marked(s) && s.contains("silenced HighLatency on web-2"),
    );
    std::thread::sleep(Duration::from_millis(2500));
    t.wait_screen("HighLatency still marked S after two polls", LIVE, marked);
    let line = t.wait_audit("silence", "created");
    assert_eq!(line["cluster"], "test", "{line}");

    // `u` expires it in Alertmanager again.
    t.send(&["u"]);
    t.wait_screen("the unsilence confirmation", SOON, |s| {
        s.contains("Remove this silence?") && s.contains("[y] remove")
    });
    t.confirm("y");
    wait_until_or(
        "the silence no longer active",
        SOON,
        || am.active_silences().is_empty(),
        || t.screen(),
    );
    t.wait_screen("S gone from HighLatency", SOON, |s| {
        silenced_marker(s, "web-2", "HighLatency") == Some(false)
    });
    t.wait_audit("unsilence", "removed");
    drop(t);

    // --readonly: `s` is refused, nothing reaches Alertmanager.
    let t = f.console(&["--readonly"]);
    t.wait_screen("the alerts", SOON, |s| {
        check_row(s, "web-1", "DiskFull").is_some()
    });
    t.send(&["Tab"]);
    t.send(&["j"]);
    t.send(&["s"]);
    let s = t.wait_text("read-only");
    assert!(
        !s.contains("reason (required)"),
        "silence form opened:\n{s}"
    );
    t.send(&["Enter"]);
    t.send(&["y"]);
    // Both keys were handled once a later key's effect is on screen: Enter opened the check's
    // detail, and the Esc sent after `y` closes it.
    t.wait_text("Check detail");
    t.escape();
    t.wait_gone("Check detail");
    assert!(
        am.active_silences().is_empty(),
        "a silence was created read-only"
    );
    let line = t.wait_audit("silence", "refused: readonly");
    // The target as the silence dialog would have named it.
    assert_eq!(line["target"], "DiskFull on web-1", "{line}");
    assert_eq!(line["phase"], "refused", "{line}");
}

#[test]
fn crafted_alert_names_are_shown_escaped_and_silence_the_real_alert() {
    const EVIL: &str = "Evil\u{1b}]52;c;ZXZpbA==\u{7}OSC";
    let am = Alertmanager::start();
    // The crafted alert and a look-alike named like its sanitised text.
    am.fire(&[
        (EVIL, "web-1", "critical"),
        ("EvilOSC", "web-1", "critical"),
    ]);
    let f = panes_fleet(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
        am.url()
    ));
    let t = f.console(&[]);
    let drawn = t.raw_bytes().len();
    // The CHECK column is cut at its width; the dialogs show the whole name.
    let s = t.wait_screen(
        "both alerts, the crafted one with its escapes shown",
        SOON,
        |s| {
            check_row(s, "web-1", "EvilOSC").is_some()
                && checks_pane(s).iter().any(|l| l.contains("Evil␛]52;c"))
        },
    );
    // Sorted by name within CRIT: "Evil␛…" ("Evil\x1b…") before "EvilOSC", so it is selected.
    let pane = checks_pane(&s);
    let first = pane.iter().position(|l| l.contains("Evil␛]52")).unwrap();
    let lookalike = pane
        .iter()
        .position(|l| cells(l).get(2) == Some(&"EvilOSC"))
        .unwrap();
    assert!(first < lookalike, "{}", pane.join("\n"));

    t.send(&["Tab"]);
    t.send(&["s"]);
    t.wait_screen("the form names the crafted alert", SOON, |s| {
        s.contains("check  web-1/Evil␛]52;c;ZXZpbA==␇OSC")
    });
    t.type_text("e2e: crafted alert");
    t.send(&["Enter"]);
    t.wait_screen("the confirmation names it", SOON, |s| {
        s.contains("Create this silence?") && s.contains("Evil␛]52;c;ZXZpbA==␇OSC on web-1")
    });
    t.confirm("y");
    t.wait_screen("silenced, once Alertmanager shows it", SOON, |s| {
        s.contains("silenced Evil␛]52;c;ZXZpbA==␇OSC on web-1")
    });
    let line = t.wait_audit("silence", "created");
    assert_eq!(line["cluster"], "test", "{line}");

    // Alertmanager's own client: the crafted alert is silenced, its look-alike is not.
    let silenced: Vec<serde_json::Value> = common::amtool_silenced(&am.url())
        .into_iter()
        .map(|a| a["labels"]["alertname"].clone())
        .collect();
    assert_eq!(silenced, vec![serde_json::json!(EVIL)]);

    // None of the label's bytes were obeyed: no OSC (52 sets the clipboard), no BEL.
    let raw = t.raw_bytes();
    let start = raw
        .windows(8)
        .position(|w| w == b"\x1b[?1049h")
        .expect("the console never entered the alternate screen");
    assert!(start < drawn, "the recording is out of order");
    for (seq, what) in [
        (&b"\x1b]52"[..], "the OSC 52 from the label"),
        (b"\x1b]", "an OSC sequence"),
        (b"\x07", "a BEL"),
    ] {
        assert!(
            !contains_bytes(&raw[start..], seq),
            "{what} ({seq:?}) reached the terminal"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Sensu Go and Sensu Core (the contract server)

#[tokio::test]
async fn go_silence_requests_for_each_scope() {
    let fake = GoFake::new(vec![go_event("web-1", "check_http", 2, now())]);
    let server = go_server(&fake).await;
    let mut backend = Backend::new(&go_key(&server.url)).unwrap();

    let cases = [
        (
            on_entity(),
            "entity:web-1:check_http",
            Some("entity:web-1"),
            Some("check_http"),
        ),
        (
            SilenceScope::CheckEverywhere {
                check: "check_http".into(),
            },
            "*:check_http",
            None,
            Some("check_http"),
        ),
        (
            SilenceScope::Entity {
                entity: "web-1".into(),
            },
            "entity:web-1:*",
            Some("entity:web-1"),
            None,
        ),
        (
            SilenceScope::Subscription {
                subscription: "linux".into(),
            },
            "linux:*",
            Some("linux"),
            None,
        ),
    ];
    for (i, (scope, name, sub, check)) in cases.iter().enumerate() {
        let before = now();
        let id = backend
            .silence(&request(scope.clone(), None, i % 2 == 0))
            .await
            .unwrap_or_else(|e| panic!("silence {scope:?}: {e}"))
            .id;
        assert_eq!(id, *name);
        let reqs = server.take();
        assert_eq!(reqs.len(), 1, "{reqs:#?}");
        let r = &reqs[0];
        assert_eq!(r.method, "PUT");
        assert_eq!(
            r.path(),
            format!("{SILENCED}/{}", urlencoding::encode(name))
        );
        assert_eq!(
            r.header("authorization"),
            Some(format!("Key {KEY}").as_str())
        );
        assert!(r
            .header("content-type")
            .unwrap_or("")
            .starts_with("application/json"));
        let body = r.json();
        let begin = body["begin"].as_i64().expect("begin is an epoch");
        assert!(begin >= before && begin <= now(), "{body}");
        let mut want = json!({
            "metadata": {"name": name, "namespace": NS},
            "begin": begin,
            "expire": -1,
            "expire_on_resolve": i % 2 == 0,
            "reason": "disk swap on web-1",
            "creator": "alice@opsconsole",
        });
        if let Some(s) = sub {
            want["subscription"] = json!(s);
        }
        if let Some(c) = check {
            want["check"] = json!(c);
        }
        assert_eq!(body, want, "scope {scope:?}");
    }
    assert_eq!(server.take().len(), 0);

    // With a duration: expire in seconds.
    backend
        .silence(&request(
            on_entity(),
            Some(Duration::from_secs(3600)),
            false,
        ))
        .await
        .unwrap();
    let body = server.take()[0].json();
    assert_eq!(body["expire"], json!(3600));
    assert_eq!(body["expire_on_resolve"], json!(false));

    // The entries come back through /silenced.
    let snap = backend.poll().await.unwrap();
    let mut ids: Vec<&str> = snap.silences.iter().map(|s| s.id.as_str()).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            "*:check_http",
            "entity:web-1:*",
            "entity:web-1:check_http",
            "linux:*"
        ]
    );
    let s = snap
        .silences
        .iter()
        .find(|s| s.id == "entity:web-1:check_http")
        .unwrap();
    assert_eq!(s.subscription.as_deref(), Some("entity:web-1"));
    assert_eq!(s.check.as_deref(), Some("check_http"));
    assert_eq!(s.creator, "alice@opsconsole");
    assert_eq!(s.reason, "disk swap on web-1");
    let everywhere = snap
        .silences
        .iter()
        .find(|s| s.id == "*:check_http")
        .unwrap();
    assert_eq!(everywhere.subscription, None);
    let web1 = &snap.results[0];
    for s in &snap.silences {
        assert!(s.matches(web1), "{} covers web-1/check_http", s.id);
    }
    server.take();

    // Unsilence: DELETE with the name percent-encoded.
    backend.unsilence("entity:web-1:check_http").await.unwrap();
    backend.unsilence("*:check_http").await.unwrap();
    let reqs = server.take();
    assert_eq!(reqs[0].method, "DELETE");
    assert_eq!(
        reqs[0].path(),
        format!("{SILENCED}/entity%3Aweb-1%3Acheck_http")
    );
    assert_eq!(reqs[1].path(), format!("{SILENCED}/%2A%3Acheck_http"));
    assert!(reqs.iter().all(|r| r.body.is_empty()));
    let snap = backend.poll().await.unwrap();
    assert_eq!(snap.silences.len(), 2);

    // Unknown entry: a 404 carrying Sensu's own message.
    let e = backend.unsilence("nope:*").await.unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert!(
        e.to_string()
            .contains("silenced entry \"nope:*\" not found"),
        "{e}"
    );
}

/// Starts the source on `profile`, waits for its first snapshot, silences the first scope offered
/// for the row `pick` chooses, and returns what the source reported.
async fn silence_first_scope(
    profile: ChecksProfile,
    pick: impl Fn(&opsconsole::model::CheckResult) -> bool,
) -> SilenceOutcome {
    let (tx, mut rx) = mpsc::channel(64);
    let (cmd_tx, cmd_rx) = mpsc::channel(8);
    let task = tokio::spawn(ChecksSource::new(profile, tx, cmd_rx).run());
    let snap = wait_msg(&mut rx, Duration::from_secs(10), |m| match m {
        Msg::ChecksSnapshot { snapshot, .. } => Some(snapshot.clone()),
        _ => None,
    })
    .await;
    let row = snap
        .results
        .iter()
        .find(|r| pick(r))
        .unwrap_or_else(|| panic!("no such row in {:#?}", snap.results));
    let scope = opsconsole::state::checks::scopes_for(row).remove(0);
    cmd_tx
        .send(released(Mutation::Silence(request(scope, None, true))))
        .await
        .unwrap();
    let outcome = wait_msg(&mut rx, Duration::from_secs(10), |m| match m {
        Msg::SilenceDone { outcome, .. } => Some(outcome.clone()),
        _ => None,
    })
    .await;
    task.abort();
    outcome
}

#[tokio::test]
async fn go_silence_uses_the_entity_name_as_sent_and_reads_it_back() {
    let crafted = "web-1\u{1b}[2J";
    let fake = GoFake::new(vec![
        go_event(crafted, "check_http", 2, now()),
        go_event("web-1", "check_http", 2, now()),
    ]);
    let server = go_server(&fake).await;
    let outcome = silence_first_scope(go_key(&server.url), |r| r.entity == crafted).await;
    assert!(
        matches!(outcome, SilenceOutcome::Created { .. }),
        "{outcome:?}"
    );
    let name = format!("entity:{crafted}:check_http");
    let path = format!("{SILENCED}/{}", urlencoding::encode(&name));
    let reqs: Vec<Req> = server
        .take()
        .into_iter()
        .filter(|r| r.path().starts_with(&format!("{SILENCED}/")))
        .collect();
    let calls: Vec<(&str, &str)> = reqs.iter().map(|r| (r.method.as_str(), r.path())).collect();
    assert_eq!(
        calls,
        vec![("PUT", path.as_str()), ("GET", path.as_str())],
        "the entry for the crafted entity, not for web-1; then read back"
    );
    let body = reqs[0].json();
    assert_eq!(body["subscription"], json!(format!("entity:{crafted}")));
    assert_eq!(body["metadata"]["name"], json!(name));
    let held: Vec<String> = fake.lock().unwrap().silenced.keys().cloned().collect();
    assert_eq!(held, vec![name], "web-1 itself is not silenced");
}

#[tokio::test]
async fn go_silence_that_sensu_does_not_show_matched_nothing() {
    let fake = GoFake::new(vec![go_event("web-1", "check_http", 2, now())]);
    fake.lock().unwrap().drop_puts = true;
    let server = go_server(&fake).await;
    match silence_first_scope(go_key(&server.url), |r| r.entity == "web-1").await {
        SilenceOutcome::MatchedNothing {
            silence, leftover, ..
        } => {
            assert_eq!(silence.id, "entity:web-1:check_http");
            assert_eq!(leftover, Leftover::Absent, "nothing there to remove");
        }
        other => panic!("expected matched nothing, got {other:?}"),
    }
    let gets = server
        .take()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path().starts_with(&format!("{SILENCED}/")))
        .count();
    assert_eq!(gets, 1, "the entry was asked for by name");
}

#[tokio::test]
async fn core_silence_uses_the_client_name_as_sent_and_reads_it_back() {
    let t = now() - 1;
    let crafted = "web-1\u{7}";
    let fake = Arc::new(Mutex::new(CoreFake {
        results: vec![
            json!({"client": crafted, "check": core_check("check_http", 2, json!([0, 2]), t)}),
            json!({"client": "web-1", "check": core_check("check_http", 2, json!([0, 2]), t)}),
        ],
        events: vec![],
        silenced: vec![],
    }));
    let f = fake.clone();
    let server = Server::start(move |req| core_handle(&mut f.lock().unwrap(), req)).await;
    let outcome = silence_first_scope(
        profile("sensu-core", &server.url, ", timeout_secs = 5"),
        |r| r.entity == crafted,
    )
    .await;
    assert!(
        matches!(outcome, SilenceOutcome::Created { .. }),
        "{outcome:?}"
    );
    let reqs: Vec<Req> = server
        .take()
        .into_iter()
        .filter(|r| {
            (r.method == "POST" && r.path() == "/silenced") || r.path().starts_with("/silenced/")
        })
        .collect();
    let id = format!("client:{crafted}:check_http");
    assert_eq!(reqs[0].method, "POST", "{reqs:#?}");
    assert_eq!(
        reqs[0].json()["subscription"],
        json!(format!("client:{crafted}"))
    );
    assert_eq!(
        (reqs[1].method.as_str(), reqs[1].path()),
        (
            "GET",
            format!("/silenced/ids/{}", urlencoding::encode(&id)).as_str()
        ),
        "{reqs:#?}"
    );
    let held: Vec<Value> = fake
        .lock()
        .unwrap()
        .silenced
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(held, vec![json!(id)], "web-1 itself is not silenced");
}

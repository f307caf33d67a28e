//! Alerts the way karma shows them (issue 23): the state column (active / silenced / inhibited /
//! acked) and its header counts, against a real Alertmanager with an inhibit rule in its config.

use crate::common;

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use opsconsole::action::Action;
use opsconsole::config::{ChecksProfile, Config};
use opsconsole::model::mute::Mute;
use opsconsole::state::Popup;
use serde_json::{json, Value};

use common::checks_console::ChecksConsole;
use common::headless::screen;
use common::Alertmanager;

/// A zone going down inhibits the warnings of the same zone.
const INHIBIT: &str = "inhibit_rules:\n- source_matchers: ['alertname=\"ZoneDown\"']\n  target_matchers: ['severity=\"warning\"']\n  equal: ['zone']\n";

pub fn am_profile(url: &str) -> ChecksProfile {
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"] }}\nchecks = {{ kind = \"alertmanager\", url = \"{url}\", timeout_secs = 5 }}\n"
    );
    let config = Config::parse(&toml, Path::new("/test/config.toml")).expect("profile parses");
    config.cluster("t").unwrap().checks.clone().unwrap()
}

pub fn firing(labels: &[(&str, &str)]) -> Value {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    json!({
        "labels": labels,
        "annotations": {"summary": "karma"},
        "startsAt": (Utc::now() - chrono::Duration::minutes(2)).to_rfc3339(),
        "endsAt": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
    })
}

fn post(am: &Alertmanager, alerts: &[Value]) {
    am.api(
        "POST",
        "/api/v2/alerts",
        Some(&Value::Array(alerts.to_vec()).to_string()),
    );
}

const ZONE_DOWN: [(&str, &str); 4] = [
    ("alertname", "ZoneDown"),
    ("instance", "lb-a"),
    ("severity", "critical"),
    ("zone", "a"),
];
const LATENCY_A: [(&str, &str); 4] = [
    ("alertname", "HighLatency"),
    ("instance", "web-1"),
    ("severity", "warning"),
    ("zone", "a"),
];
const LATENCY_B: [(&str, &str); 4] = [
    ("alertname", "HighLatency"),
    ("instance", "web-2"),
    ("severity", "warning"),
    ("zone", "b"),
];

#[tokio::test]
async fn inhibited_alert_shows_inhibited_and_names_its_inhibitor() {
    let am = Alertmanager::start_with(INHIBIT);
    post(
        &am,
        &[firing(&ZONE_DOWN), firing(&LATENCY_A), firing(&LATENCY_B)],
    );
    let mut c = ChecksConsole::start(am_profile(&am.url()), "alertmanager");
    c.until_live(
        Duration::from_secs(15),
        "web-1's warning inhibited by the zone",
        |c| {
            c.row_with_labels(&LATENCY_A)
                .is_some_and(|r| !r.inhibited_by.is_empty())
                && c.row_with_labels(&LATENCY_B).is_some()
                && c.row_with_labels(&ZONE_DOWN).is_some()
        },
    )
    .await;

    // The inhibitor is named by Alertmanager's own fingerprint of the ZoneDown alert.
    let api_alerts = am.api("GET", "/api/v2/alerts", None);
    let zone_fp = api_alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "ZoneDown")
        .and_then(|a| a["fingerprint"].as_str())
        .expect("ZoneDown's fingerprint")
        .to_string();
    let checks = &c.state().checks;
    let inhibited = c.row_with_labels(&LATENCY_A).unwrap();
    assert_eq!(inhibited.inhibited_by, vec![zone_fp]);
    let inhibitors = checks.inhibitors(inhibited);
    assert_eq!(inhibitors.len(), 1, "{inhibitors:?}");
    assert_eq!(
        (inhibitors[0].check.as_str(), inhibitors[0].entity.as_str()),
        ("ZoneDown", "lb-a")
    );
    assert_eq!(
        checks.mute_of_check("web-1", "HighLatency"),
        Mute::Inhibited
    );
    assert_eq!(checks.mute_of_check("web-2", "HighLatency"), Mute::Active);
    assert_eq!(checks.mute_of_check("lb-a", "ZoneDown"), Mute::Active);
    let counts = checks.mute_counts();
    assert_eq!(counts.text(), "3 firing (1 inhibited)");

    let text = screen(c.h.state_mut(), 160, 30);
    let line = text
        .lines()
        .find(|l| l.contains("web-1"))
        .unwrap_or_else(|| panic!("no web-1 row:\n{text}"));
    assert!(line.contains("⊘ inhibited"), "{line}\n{text}");
    let active = text.lines().find(|l| l.contains("web-2")).unwrap();
    assert!(active.contains("● active"), "{active}\n{text}");
    assert!(text.contains("3 firing (1 inhibited)"), "{text}");

    // Why muted: the detail names the inhibitor, its labels and the rule from the config
    // Alertmanager reports in /api/v2/status; Enter goes to the inhibitor.
    c.select(|r| r.entity == "web-1");
    c.h.press("enter");
    let text = screen(c.h.state_mut(), 160, 40);
    assert!(text.contains("state: inhibited"), "{text}");
    assert!(text.contains("ZoneDown on lb-a"), "{text}");
    assert!(
        text.contains("labels alertname=ZoneDown instance=lb-a severity=critical zone=a"),
        "{text}"
    );
    assert!(
        text.contains(
            "rule: source {alertname=\"ZoneDown\"} mutes target {severity=\"warning\"} where equal: zone"
        ),
        "{text}"
    );
    c.h.press("enter");
    assert!(
        matches!(&c.state().popup, Some(Popup::CheckDetail { entity, check, .. }) if entity == "lb-a" && check == "ZoneDown"),
        "{:?}",
        c.state().popup
    );
    assert_eq!(c.state().checks.selected().unwrap().entity, "lb-a");
    c.h.press("esc");
    assert!(c.state().popup.is_none());

    // `I` hides it, and says so in the title.
    c.h.press("I");
    assert_eq!(c.state().checks.visible_len(), 2);
    assert!(c.state().checks.hide_inhibited);
    let text = screen(c.h.state_mut(), 160, 30);
    assert!(!text.contains("web-1"), "{text}");
    assert!(text.contains("[no inhibited]"), "{text}");
    c.h.press("I");
    assert_eq!(c.state().checks.visible_len(), 3);
}

/// The row's STATE cell as the screen draws it (wide enough for every column).
fn drawn_row(c: &mut ChecksConsole, entity: &str) -> String {
    let text = screen(c.h.state_mut(), 200, 30);
    text.lines()
        .find(|l| l.contains(entity) && !l.contains("Members"))
        .unwrap_or_else(|| panic!("no {entity} row:\n{text}"))
        .to_string()
}

/// `a` on a firing alert: a silence commented `ACK <user>: <note>` on the real Alertmanager,
/// reported only once it shows, the row says who and how long ago; `a` again extends the same
/// silence; `A` expires it.
#[tokio::test]
async fn ack_is_a_short_silence_commented_ack_and_the_row_shows_its_age() {
    let am = Alertmanager::start();
    const DISK: [(&str, &str); 3] = [
        ("alertname", "DiskFull"),
        ("instance", "web-1"),
        ("severity", "critical"),
    ];
    post(&am, &[firing(&DISK), firing(&LATENCY_B)]);
    let mut c = ChecksConsole::start(am_profile(&am.url()), "alertmanager");
    c.until_live(Duration::from_secs(10), "both alerts listed", |c| {
        c.row_with_labels(&DISK).is_some() && c.row_with_labels(&LATENCY_B).is_some()
    })
    .await;
    let user = c.state().user.clone();
    c.select(|r| r.check == "DiskFull");
    c.act(Action::Ack);
    match &c.state().popup {
        Some(Popup::SilenceForm(f)) => assert_eq!(f.duration.text(), "30m"),
        other => panic!("the ack form: {other:?}"),
    }
    c.type_text("disk filling, on it");
    c.form("enter");
    c.act(Action::Confirm);
    c.until(Duration::from_secs(10), "the ack audited", |c| {
        !c.audited("ack").is_empty()
    })
    .await;
    // Audited as an ack (its attempt first), with its duration and note; never as a silence.
    let audit = c.audited("ack")[0].clone();
    assert_eq!(audit.result.as_deref(), Some("created"), "{audit:?}");
    assert_eq!(
        audit.reason.as_deref(),
        Some(format!("ACK {user}: disk filling, on it").as_str())
    );
    assert_eq!(audit.duration(), Some("30m"), "{audit:?}");
    let attempts: Vec<String> = c.audits().iter().map(|a| a.action.clone()).collect();
    assert_eq!(attempts, ["ack", "ack"], "attempt then outcome");

    // Alertmanager holds it: the comment starts ACK, it ends in about 30 minutes.
    let active = am.active_silences();
    assert_eq!(active.len(), 1, "{active:#?}");
    let s = &active[0];
    assert_eq!(
        s["comment"],
        json!(format!("ACK {user}: disk filling, on it"))
    );
    assert_eq!(s["createdBy"], json!(user));
    let ends = |s: &Value| {
        chrono::DateTime::parse_from_rfc3339(s["endsAt"].as_str().unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let left = ends(s) - Utc::now();
    assert!(
        left > chrono::Duration::minutes(28) && left <= chrono::Duration::minutes(30),
        "{left}"
    );
    let id = s["id"].as_str().unwrap().to_string();

    let row = drawn_row(&mut c, "DiskFull");
    assert!(row.contains(&format!("⚑ ACK {user} ")), "{row}");
    let age = row
        .split(&format!("ACK {user} "))
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    assert!(
        age.ends_with('s') && age.trim_end_matches('s').parse::<u32>().is_ok(),
        "the ack's age in the row: {row}"
    );
    assert!(
        c.state().checks.mute_counts().text() == "2 firing (1 acked)",
        "{:?}",
        c.state().checks.mute_counts()
    );
    // Unacked only hides it.
    c.act(Action::ToggleUnackedOnly);
    assert_eq!(c.state().checks.visible_len(), 1);
    c.act(Action::ToggleUnackedOnly);

    // Again on our own ack: the same silence, its end 30 minutes later.
    c.select(|r| r.check == "DiskFull");
    c.act(Action::Ack);
    assert!(
        matches!(&c.state().popup, Some(Popup::Confirm(_))),
        "re-ack asks to extend: {:?}",
        c.state().popup
    );
    c.act(Action::Confirm);
    c.until(Duration::from_secs(10), "the extension audited", |c| {
        c.audits()
            .iter()
            .any(|a| a.action == "extend ack" && a.phase != opsconsole::model::Phase::Attempt)
    })
    .await;
    let active = am.active_silences();
    assert_eq!(active.len(), 1, "{active:#?}");
    assert_eq!(active[0]["id"], json!(id), "extended in place");
    assert!(ends(&active[0]) - Utc::now() > chrono::Duration::minutes(55));

    // `A` expires it.
    c.select(|r| r.check == "DiskFull");
    c.act(Action::Unack);
    assert!(
        matches!(&c.state().popup, Some(Popup::Confirm(_))),
        "{:?}",
        c.state().popup
    );
    c.act(Action::Confirm);
    c.until(Duration::from_secs(10), "the unack audited", |c| {
        !c.audited("unack").is_empty()
    })
    .await;
    assert_eq!(c.audited("unack")[0].result.as_deref(), Some("removed"));
    assert!(am.active_silences().is_empty());
    assert!(
        c.audits().iter().all(|a| !a.action.contains("silence")),
        "{:#?}",
        c.audits()
    );
}

/// Sensu: the ack is a silenced entry with its creator, `expire_on_resolve` and the ACK reason.
#[tokio::test]
async fn sensu_ack_is_a_silenced_entry_that_expires_on_resolve() {
    use common::sensu::fake::Req;
    use common::sensu::{go_event, go_key, go_server, now, GoFake, SILENCED};
    let fake = GoFake::new(vec![
        go_event("web-1", "check_http", 2, now()),
        go_event("web-2", "check_http", 0, now()),
    ]);
    let server = go_server(&fake).await;
    let mut c = ChecksConsole::start(go_key(&server.url), "sensu-go");
    c.until_live(Duration::from_secs(10), "the events listed", |c| {
        c.state().checks.results.len() == 2
    })
    .await;
    let user = c.state().user.clone();
    c.select(|r| r.entity == "web-1");
    c.act(Action::Ack);
    c.form("enter");
    c.act(Action::Confirm);
    c.until(Duration::from_secs(10), "the ack audited", |c| {
        !c.audited("ack").is_empty()
    })
    .await;
    assert_eq!(
        c.audited("ack")[0].result.as_deref(),
        Some("created"),
        "{:?}",
        c.audits()
    );
    let puts: Vec<Req> = server
        .take()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path().starts_with(&format!("{SILENCED}/")))
        .collect();
    assert_eq!(puts.len(), 1, "{puts:?}");
    let body = puts[0].json();
    assert_eq!(body["expire_on_resolve"], json!(true), "{body:#}");
    assert_eq!(body["creator"], json!(user), "{body:#}");
    assert_eq!(body["reason"], json!(format!("ACK {user}")), "{body:#}");
    assert_eq!(body["expire"], json!(1800), "{body:#}");
    assert_eq!(body["subscription"], json!("entity:web-1"), "{body:#}");
    assert_eq!(body["check"], json!("check_http"), "{body:#}");
    let row = drawn_row(&mut c, "web-1");
    assert!(row.contains(&format!("⚑ ACK {user}")), "{row}");
}

/// A new critical nobody muted rings once (bell + desktop notification) and runs the hook with
/// its arguments; the criticals firing at start, a new warning and a new critical that is
/// inhibited do not ring.
#[tokio::test]
async fn a_new_critical_notifies_once_and_runs_the_hook() {
    let am = Alertmanager::start_with(INHIBIT);
    post(&am, &[firing(&ZONE_DOWN)]);
    let mut c = ChecksConsole::start(am_profile(&am.url()), "alertmanager");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hook.out");
    {
        let guard = &mut c.h.state_mut().guard;
        guard.notify = true;
        guard.notify_command = vec![
            "sh".into(),
            "-c".into(),
            format!("printf '%s|%s\\n' \"$0\" \"$1\" >> {}", out.display()),
            "{title}".into(),
            "{body}".into(),
        ];
    }
    let polls = |c: &ChecksConsole| c.state().checks.last_update;
    let first = polls(&c);
    c.until(Duration::from_secs(10), "a poll with notify on", |c| {
        c.row_with_labels(&ZONE_DOWN).is_some() && polls(c) != first
    })
    .await;
    assert!(c.h.notifications.is_empty(), "{:?}", c.h.notifications);

    // A new warning (inhibited by the zone, too) and a critical in the inhibited zone's
    // neighbour: only the critical is news.
    const DB_DOWN: [(&str, &str); 4] = [
        ("alertname", "DbDown"),
        ("instance", "db-1"),
        ("severity", "critical"),
        ("zone", "b"),
    ];
    post(&am, &[firing(&LATENCY_A), firing(&DB_DOWN)]);
    c.until(Duration::from_secs(15), "the new alerts listed", |c| {
        c.row_with_labels(&DB_DOWN).is_some()
            && c.row_with_labels(&LATENCY_A)
                .is_some_and(|r| !r.inhibited_by.is_empty())
    })
    .await;
    assert_eq!(
        c.h.notifications,
        vec![(
            "opsconsole test: new critical".to_string(),
            "DbDown on db-1".to_string()
        )]
    );
    // Polls go on; it stays critical and is not news again.
    let seen = polls(&c);
    c.until(Duration::from_secs(30), "another poll", |c| {
        polls(c) != seen
    })
    .await;
    assert_eq!(c.h.notifications.len(), 1, "{:?}", c.h.notifications);
    let hook = common::wait_until_async("the hook's output", Duration::from_secs(5), || {
        let out = out.clone();
        async move {
            std::fs::read_to_string(&out)
                .ok()
                .filter(|s| s.ends_with('\n'))
        }
    })
    .await;
    assert_eq!(hook, "opsconsole test: new critical|DbDown on db-1\n");
}

/// `:group alertname,zone`: one group per combination, each as large as Alertmanager's own
/// count of those alerts, worst first within equal sizes.
#[tokio::test]
async fn group_by_labels_counts_match_the_api() {
    let am = Alertmanager::start();
    let alerts: Vec<Value> = [
        ("HighLatency", "web-1", "warning", "a"),
        ("HighLatency", "web-2", "critical", "a"),
        ("HighLatency", "web-3", "warning", "b"),
        ("DiskFull", "db-1", "warning", "a"),
        ("DiskFull", "db-2", "warning", "a"),
        ("DiskFull", "db-3", "critical", "a"),
    ]
    .iter()
    .map(|(name, instance, severity, zone)| {
        firing(&[
            ("alertname", name),
            ("instance", instance),
            ("severity", severity),
            ("zone", zone),
        ])
    })
    .collect();
    post(&am, &alerts);
    let mut c = ChecksConsole::start(am_profile(&am.url()), "alertmanager");
    c.until(Duration::from_secs(10), "all alerts listed", |c| {
        c.state().checks.results.len() == 6
    })
    .await;
    c.h.press(":");
    c.type_text("group alertname,zone");
    c.h.press("enter");
    let groups = match &c.state().popup {
        Some(Popup::Groups { groups, .. }) => groups.clone(),
        other => panic!("the groups popup: {other:?} {:?}", c.state().status),
    };
    // Alertmanager's own count per (alertname, zone).
    let api = am.api("GET", "/api/v2/alerts", None);
    let mut counts: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for a in api.as_array().unwrap() {
        let l = &a["labels"];
        *counts
            .entry((
                l["alertname"].as_str().unwrap().to_string(),
                l["zone"].as_str().unwrap().to_string(),
            ))
            .or_default() += 1;
    }
    assert_eq!(groups.len(), counts.len(), "{groups:#?}");
    for ((name, zone), n) in &counts {
        let g = groups
            .iter()
            .find(|g| g.label.contains(&format!("alertname={name} zone={zone} ")))
            .unwrap_or_else(|| panic!("no group {name}/{zone} in {groups:#?}"));
        assert_eq!(g.checks.len(), *n, "{g:?}");
        assert!(g.label.starts_with(&format!("{n} firing")), "{g:?}");
    }
    assert_eq!(
        groups[0].label,
        "3 firing · alertname=DiskFull zone=a (1 crit, 2 warn)"
    );
    assert_eq!(groups[0].worst, opsconsole::model::Severity::Critical);
    let text = screen(c.h.state_mut(), 120, 30);
    assert!(text.contains("Failing checks by alertname,zone"), "{text}");
    // Enter marks the group's alerts.
    c.h.press("enter");
    assert_eq!(c.state().checks.marked_count(), 3);
}

/// An alert that resolves leaves Alertmanager's list; the console keeps it for an hour, dimmed
/// under the live rows, with how long ago it resolved and what it was.
#[tokio::test]
async fn a_resolved_alert_stays_listed_with_when_it_resolved() {
    let am = Alertmanager::start();
    post(&am, &[firing(&ZONE_DOWN), firing(&LATENCY_B)]);
    let mut c = ChecksConsole::start(am_profile(&am.url()), "alertmanager");
    c.until_live(Duration::from_secs(10), "both alerts listed", |c| {
        c.state().checks.results.len() == 2
    })
    .await;
    let mut resolved = firing(&ZONE_DOWN);
    resolved["endsAt"] = json!((Utc::now() - chrono::Duration::seconds(1)).to_rfc3339());
    post(&am, &[resolved]);
    c.until(
        Duration::from_secs(15),
        "ZoneDown gone from the list",
        |c| c.row_with_labels(&ZONE_DOWN).is_none() && c.state().checks.results.len() == 1,
    )
    .await;
    let text = screen(c.h.state_mut(), 160, 30);
    assert!(text.contains("1 resolved <1h"), "{text}");
    assert!(text.contains("recently resolved"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("✓") && l.contains("lb-a"))
        .unwrap_or_else(|| panic!("no resolved row:\n{text}"));
    assert!(line.contains("ZoneDown  was CRIT: karma"), "{line}");
    assert!(line.contains("s ago"), "{line}");
    // Not a live row; the cursor moves on to it from the live rows.
    assert_eq!(c.state().checks.visible_len(), 1);
    assert_eq!(c.state().checks.cursor_len(), 2);
    c.select(|r| r.entity == "web-2");
    c.h.press("j");
    let picked = c
        .state()
        .checks
        .selected_resolved()
        .map(|x| (x.last.entity.clone(), x.last.check.clone()));
    assert_eq!(picked, Some(("lb-a".into(), "ZoneDown".into())));
    assert!(
        c.state().checks.selected().is_none(),
        "no live row selected"
    );
    let text = screen(c.h.state_mut(), 160, 30);
    assert!(text.contains("[resolved 1/1]"), "{text}");
    // Nothing acts on it: it is gone from Alertmanager.
    c.act(Action::Ack);
    assert!(c.state().popup.is_none(), "{:?}", c.state().popup);
    assert!(c.status().contains("nothing to act on"), "{}", c.status());
    c.act(Action::Silence);
    assert!(c.state().popup.is_none(), "{:?}", c.state().popup);
    // Enter: when it resolved, what it was, its last output and labels.
    c.h.press("enter");
    let resolved_at = match &c.state().popup {
        Some(Popup::ResolvedDetail { item, .. }) => item.at,
        other => panic!("the resolved detail: {other:?}"),
    };
    assert!(resolved_at <= Utc::now() && Utc::now() - resolved_at < chrono::Duration::minutes(1));
    let text = screen(c.h.state_mut(), 160, 40);
    assert!(text.contains("Resolved check"), "{text}");
    assert!(
        text.contains(&format!(
            "resolved    {}",
            opsconsole::model::format::timestamp(resolved_at, c.state().zone)
        )),
        "{text}"
    );
    assert!(text.contains("was         CRIT"), "{text}");
    assert!(text.contains("last output"), "{text}");
    assert!(text.contains("zone=a"), "{text}");
    assert!(text.contains("alertname=ZoneDown"), "{text}");
    c.h.press("esc");
    assert!(c.state().popup.is_none());

    // `R` hides them (the cursor goes back to the live rows), `:resolved` shows them again.
    c.h.press("R");
    assert!(c.state().checks.hide_resolved);
    assert_eq!(c.state().checks.cursor_len(), 1);
    assert_eq!(c.state().checks.selected().unwrap().entity, "web-2");
    let text = screen(c.h.state_mut(), 160, 30);
    assert!(!text.contains("recently resolved (the last hour"), "{text}");
    assert!(!text.lines().any(|l| l.contains("lb-a")), "{text}");
    assert!(text.contains("[no resolved]"), "{text}");
    c.h.press(":");
    c.type_text("resolved");
    c.h.press("enter");
    assert!(!c.state().checks.hide_resolved);
    assert_eq!(c.state().checks.cursor_len(), 2);
    assert!(
        c.status()
            .contains("showing recently resolved checks: 1 in the last hour"),
        "{}",
        c.status()
    );
    let text = screen(c.h.state_mut(), 160, 30);
    assert!(text.contains("recently resolved (the last hour"), "{text}");
}

/// The real console in tmux: a new critical writes the bell and the two desktop notifications,
/// each through tmux's passthrough (the console sees `$TMUX`), exactly once across later polls.
#[test]
fn a_new_critical_writes_the_bell_and_osc_once_through_tmux() {
    use common::e2e::panes_fleet;
    use common::panes::check_row;
    use common::tmux::SOON;

    let am = Alertmanager::start();
    am.fire(&[("DiskFull", "web-1", "warning")]);
    let f = panes_fleet(&format!(
        "notify = true\nchecks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
        am.url()
    ));
    let t = f.console(&[]);
    t.wait_screen("the warning listed", SOON, |s| {
        check_row(s, "web-1", "DiskFull").is_some()
    });
    let osc9 = "\x1bPtmux;\x1b\x1b]9;opsconsole test: new critical: HighLatency on web-2\x07\x1b\\";
    let osc777 =
        "\x1bPtmux;\x1b\x1b]777;notify;opsconsole test: new critical;HighLatency on web-2\x07\x1b\\";
    assert!(!t.raw_output().contains("]9;"), "no news yet");
    am.fire(&[("HighLatency", "web-2", "critical")]);
    t.wait_screen("the critical listed", SOON, |s| {
        check_row(s, "web-2", "HighLatency").is_some()
    });
    common::wait_until_or(
        "the notification written",
        SOON,
        || t.raw_output().contains(osc777),
        || format!("{:?}", t.raw_output()),
    );
    // Three more polls (interval 1 s): still once.
    std::thread::sleep(Duration::from_secs(3));
    let out = t.raw_output();
    assert_eq!(out.matches(osc9).count(), 1, "{out:?}");
    assert_eq!(out.matches(osc777).count(), 1, "{out:?}");
    assert_eq!(
        out.matches(&format!("\x07{osc9}")).count(),
        1,
        "the bell right before: {out:?}"
    );
}

/// Taking over bob's ack on a real Alertmanager: asked first; once confirmed, the new ack is
/// created, then bob's silence is expired (DELETE /api/v2/silence/{id}), each audited, and the row
/// shows the new owner.
#[tokio::test]
async fn taking_over_an_ack_expires_the_old_one_after_the_new_one_is_confirmed() {
    let am = Alertmanager::start();
    const DISK: [(&str, &str); 3] = [
        ("alertname", "DiskFull"),
        ("instance", "web-1"),
        ("severity", "critical"),
    ];
    post(&am, &[firing(&DISK)]);
    let now = Utc::now();
    let bobs = am.api(
        "POST",
        "/api/v2/silences",
        Some(
            &json!({
                "matchers": [
                    {"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true},
                    {"name": "instance", "value": "web-1", "isRegex": false, "isEqual": true},
                ],
                "startsAt": now.to_rfc3339(),
                "endsAt": (now + chrono::Duration::minutes(20)).to_rfc3339(),
                "createdBy": "bob",
                "comment": "ACK bob: mine",
            })
            .to_string(),
        ),
    )["silenceID"]
        .as_str()
        .expect("bob's silence id")
        .to_string();
    let mut c = ChecksConsole::start(am_profile(&am.url()), "alertmanager");
    c.until_live(Duration::from_secs(10), "bob's ack shown", |c| {
        matches!(c.state().checks.mute_of_check("web-1", "DiskFull"), Mute::Acked(a) if a.user == "bob")
    })
    .await;
    let user = c.state().user.clone();
    assert_ne!(user, "bob");
    c.select(|r| r.check == "DiskFull");
    c.act(Action::Ack);
    let text = screen(c.h.state_mut(), 160, 40);
    assert!(
        text.contains("acked by bob — this takes the ack over"),
        "{text}"
    );
    c.type_text("mine now");
    c.form("enter");
    let text = screen(c.h.state_mut(), 160, 40);
    assert!(text.contains("takes over bob's ack"), "{text}");
    c.act(Action::Confirm);
    c.until(
        Duration::from_secs(15),
        "bob's ack expired and audited",
        |c| !c.audited("unack").is_empty(),
    )
    .await;
    let ack = c.audited("ack");
    assert_eq!(ack.len(), 1, "{:#?}", c.audits());
    assert_eq!(ack[0].result.as_deref(), Some("created"));
    let unack = &c.audited("unack")[0];
    assert_eq!(unack.result.as_deref(), Some("removed"), "{unack:?}");
    assert_eq!(unack.silence_id.as_deref(), Some(bobs.as_str()));
    // The order in the audit log: the new ack confirmed before bob's was touched.
    let order: Vec<(String, String)> = c
        .audits()
        .iter()
        .map(|a| (a.action.clone(), a.result.clone().unwrap_or_default()))
        .collect();
    let created = order
        .iter()
        .position(|x| *x == ("ack".into(), "created".into()));
    let expiring = order.iter().position(|x| x.0 == "unack");
    assert!(created < expiring, "{order:?}");
    assert!(c.status().contains("bob's ack expired"), "{}", c.status());

    // Alertmanager: bob's is expired, ours is the one active silence.
    let active = am.active_silences();
    assert_eq!(active.len(), 1, "{active:#?}");
    assert_eq!(active[0]["comment"], json!(format!("ACK {user}: mine now")));
    let old = am.api("GET", &format!("/api/v2/silence/{bobs}"), None);
    assert_eq!(old["status"]["state"], json!("expired"), "{old:#}");
    let row = drawn_row(&mut c, "DiskFull");
    assert!(row.contains(&format!("⚑ ACK {user} ")), "{row}");
    assert!(!row.contains("ACK bob"), "{row}");
    // And it stays so after the next poll.
    let seen = c.state().checks.last_update;
    c.until(Duration::from_secs(30), "another poll", |c| {
        c.state().checks.last_update != seen
    })
    .await;
    assert!(
        matches!(c.state().checks.mute_of_check("web-1", "DiskFull"), Mute::Acked(a) if a.user == user),
        "{:?}",
        c.state().checks.mute_of_check("web-1", "DiskFull")
    );
}

/// Sensu Core over real HTTP: the ack is `POST /silenced` with the client's own subscription,
/// `expire_on_resolve`, the creator and reason `ACK <user>: <note>`; the row shows `ACK <user>`
/// (also after the next poll, from the events' `silenced_by`); `A` clears it with
/// `POST /silenced/clear`, audited as `unack`.
#[tokio::test]
async fn sensu_core_ack_is_a_silenced_entry_that_expires_on_resolve() {
    use common::sensu::fake::{Req, Server};
    use common::sensu::{core_check, core_handle, now, profile, CoreFake};
    use std::sync::{Arc, Mutex};
    let t = now() - 1;
    let fake = Arc::new(Mutex::new(CoreFake {
        results: vec![
            json!({"client": "web-1", "check": core_check("check_http", 2, json!([0, 2]), t)}),
            json!({"client": "web-2", "check": core_check("check_http", 0, json!([0, 0]), t)}),
        ],
        events: vec![],
        silenced: vec![],
    }));
    let f = fake.clone();
    // As Sensu Core does: the events of failing checks say which entries silence them.
    let server = Server::start(move |req| {
        let mut f = f.lock().unwrap();
        if req.method == "GET" && req.path() == "/events" {
            let ids: Vec<String> = f
                .silenced
                .iter()
                .filter_map(|s| s["id"].as_str().map(String::from))
                .collect();
            f.events = f
                .results
                .iter()
                .filter(|r| r["check"]["status"] != json!(0))
                .map(|r| {
                    let client = r["client"].as_str().unwrap_or_default();
                    let check = r["check"]["name"].as_str().unwrap_or_default();
                    let by: Vec<&String> = ids
                        .iter()
                        .filter(|id| *id == &format!("client:{client}:{check}"))
                        .collect();
                    json!({
                        "id": format!("{client}-{check}"),
                        "client": {"name": client, "address": "10.0.0.1", "subscriptions": [], "timestamp": t},
                        "check": r["check"].clone(),
                        "occurrences": 2, "action": "create", "timestamp": t,
                        "silenced": !by.is_empty(), "silenced_by": by,
                    })
                })
                .collect();
        }
        core_handle(&mut f, req)
    })
    .await;
    let mut c = ChecksConsole::start(
        profile("sensu-core", &server.url, ", timeout_secs = 5"),
        "sensu-core",
    );
    c.until_live(Duration::from_secs(10), "the results listed", |c| {
        c.state().checks.results.len() == 2
    })
    .await;
    let user = c.state().user.clone();
    c.select(|r| r.entity == "web-1");
    c.act(Action::Ack);
    c.type_text("on it");
    c.form("enter");
    c.act(Action::Confirm);
    c.until(Duration::from_secs(10), "the ack audited", |c| {
        !c.audited("ack").is_empty()
    })
    .await;
    let audit = c.audited("ack")[0].clone();
    assert_eq!(audit.result.as_deref(), Some("created"), "{:?}", c.audits());
    assert_eq!(audit.duration(), Some("30m"));
    let posts: Vec<Req> = server
        .take()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path() == "/silenced")
        .collect();
    assert_eq!(posts.len(), 1, "{posts:?}");
    let body = posts[0].json();
    assert_eq!(body["expire_on_resolve"], json!(true), "{body:#}");
    assert_eq!(body["creator"], json!(user), "{body:#}");
    assert_eq!(
        body["reason"],
        json!(format!("ACK {user}: on it")),
        "{body:#}"
    );
    assert_eq!(body["expire"], json!(1800), "{body:#}");
    assert_eq!(body["subscription"], json!("client:web-1"), "{body:#}");
    assert_eq!(body["check"], json!("check_http"), "{body:#}");
    let row = drawn_row(&mut c, "web-1");
    assert!(row.contains(&format!("⚑ ACK {user}")), "{row}");
    // The next poll reads the entry back from Sensu: still acked, by us.
    let seen = c.state().checks.last_update;
    c.until_live(Duration::from_secs(30), "another poll", |c| {
        c.state().checks.last_update != seen
    })
    .await;
    assert!(
        matches!(c.state().checks.mute_of_check("web-1", "check_http"), Mute::Acked(a) if a.user == user && a.note == "on it"),
        "{:?}",
        c.state().checks.mute_of_check("web-1", "check_http")
    );

    c.select(|r| r.entity == "web-1");
    c.act(Action::Unack);
    c.act(Action::Confirm);
    c.until(Duration::from_secs(10), "the unack audited", |c| {
        !c.audited("unack").is_empty()
    })
    .await;
    assert_eq!(c.audited("unack")[0].result.as_deref(), Some("removed"));
    let clears: Vec<Value> = server
        .take()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path() == "/silenced/clear")
        .map(|r| r.json())
        .collect();
    assert_eq!(clears, vec![json!({"id": "client:web-1:check_http"})]);
    assert!(fake.lock().unwrap().silenced.is_empty());
}

/// Two alerts inhibit the same warning: the detail lists both, the cursor (↓/↑) picks one, and
/// Enter goes to the one under it — not always the first. Alertmanager 0.25 itself names only
/// the first inhibitor it finds in `inhibitedBy` (its inhibitor stops at one), so the listing
/// comes as data here: what a newer Alertmanager or a proxy may send.
#[test]
fn with_several_inhibitors_enter_goes_to_the_one_under_the_cursor() {
    use opsconsole::model::{CheckResult, ChecksSnapshot, ClusterId, Health, Msg, SourceKind};
    use opsconsole::state::{handle_action, update, State};
    let alert = |labels: &[(&str, &str)], fingerprint: &str, by: &[&str]| CheckResult {
        entity: labels[1].1.to_string(),
        check: labels[0].1.to_string(),
        status: if labels[2].1 == "critical" { 2 } else { 1 },
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        fingerprint: fingerprint.into(),
        inhibited_by: by.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    const ZONE_DOWN_B: [(&str, &str); 4] = [
        ("alertname", "ZoneDown"),
        ("instance", "lb-b"),
        ("severity", "critical"),
        ("zone", "a"),
    ];
    let mut s = State::new("t", "/services/", "alice", Utc::now());
    s.backends.checks = Some("alertmanager".into());
    update(
        &mut s,
        Msg::Health(SourceKind::Checks.of(ClusterId(0)), Health::Live),
    );
    let now = s.now;
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: ChecksSnapshot {
                results: vec![
                    alert(&ZONE_DOWN, "fa", &[]),
                    alert(&ZONE_DOWN_B, "fb", &[]),
                    alert(&LATENCY_A, "fw", &["fb", "fa"]),
                ],
                ..Default::default()
            },
            at: now,
        },
    );
    s.focus = opsconsole::state::Pane::Checks;
    let open_web1 = |s: &mut State| {
        s.popup = None;
        let i = (0..s.checks.visible_len())
            .find(|&i| s.checks.row(i).is_some_and(|r| r.entity == "web-1"))
            .expect("web-1 listed");
        s.checks.select_index(i);
        handle_action(s, Action::Detail);
    };
    open_web1(&mut s);
    let text = screen(&mut s, 160, 50);
    assert!(
        text.contains("inhibited by (↑↓ choose, Enter goes to the one marked ▶)"),
        "{text}"
    );
    let marked = |text: &str| {
        text.lines()
            .find(|l| l.contains("▶ ZoneDown on "))
            .map(|l| l.to_string())
            .unwrap_or_else(|| panic!("no marked inhibitor:\n{text}"))
    };
    // Listed in the order Alertmanager names them: lb-b, then lb-a.
    assert!(marked(&text).contains("on lb-b"), "{text}");
    handle_action(&mut s, Action::Down);
    let text = screen(&mut s, 160, 50);
    assert!(marked(&text).contains("on lb-a"), "{text}");
    handle_action(&mut s, Action::Down);
    let text = screen(&mut s, 160, 50);
    assert!(
        marked(&text).contains("on lb-a"),
        "stays on the last: {text}"
    );
    handle_action(&mut s, Action::Select);
    assert!(
        matches!(&s.popup, Some(Popup::CheckDetail { entity, check, .. }) if entity == "lb-a" && check == "ZoneDown"),
        "{:?}",
        s.popup
    );
    assert_eq!(s.checks.selected().unwrap().entity, "lb-a");

    // Down then up: back on the first, and Enter goes there.
    open_web1(&mut s);
    handle_action(&mut s, Action::Down);
    handle_action(&mut s, Action::Up);
    handle_action(&mut s, Action::Select);
    assert!(
        matches!(&s.popup, Some(Popup::CheckDetail { entity, .. }) if entity == "lb-b"),
        "{:?}",
        s.popup
    );
}

/// `b` on Alertmanager (and `:group` alone) opens a picker of the label names the firing alerts
/// carry, each with how many carry it (as Alertmanager's API counts them); space picks several
/// (in order), Enter groups by them — the groups as `:group alertname,zone` makes them, each
/// with its count and its worst status in words.
#[tokio::test]
async fn the_label_picker_lists_label_names_with_counts_and_groups_by_the_picked_ones() {
    let am = Alertmanager::start();
    let alerts: Vec<Value> = [
        ("HighLatency", "web-1", "warning", "a", Some("web")),
        ("HighLatency", "web-2", "critical", "a", Some("web")),
        ("HighLatency", "web-3", "warning", "b", None),
        ("DiskFull", "db-1", "warning", "a", None),
        ("DiskFull", "db-2", "critical", "a", None),
    ]
    .iter()
    .map(|(name, instance, severity, zone, team)| {
        let mut labels = vec![
            ("alertname", *name),
            ("instance", *instance),
            ("severity", *severity),
            ("zone", *zone),
        ];
        if let Some(t) = team {
            labels.push(("team", t));
        }
        firing(&labels)
    })
    .collect();
    post(&am, &alerts);
    let mut c = ChecksConsole::start(am_profile(&am.url()), "alertmanager");
    c.until(Duration::from_secs(10), "all alerts listed", |c| {
        c.state().checks.results.len() == 5
    })
    .await;
    c.h.press("b");
    let picker = match &c.state().popup {
        Some(Popup::PickLabels(p)) => p.clone(),
        other => panic!("the label picker: {other:?} {:?}", c.state().status),
    };
    // Alertmanager's own count of alerts per label name.
    let api = am.api("GET", "/api/v2/alerts", None);
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for a in api.as_array().unwrap() {
        for k in a["labels"].as_object().unwrap().keys() {
            *counts.entry(k.clone()).or_default() += 1;
        }
    }
    let listed: std::collections::BTreeMap<String, usize> = picker.labels.iter().cloned().collect();
    assert_eq!(listed, counts, "{picker:?}");
    assert_eq!(picker.labels.last(), Some(&("team".to_string(), 2)));
    assert!(picker.chosen.is_empty());
    let text = screen(c.h.state_mut(), 120, 30);
    assert!(text.contains("Group by labels"), "{text}");
    assert!(text.contains("team") && text.contains("2 alerts"), "{text}");

    // Pick zone, then alertname (the order picked is the order grouped by).
    let at = |c: &ChecksConsole, name: &str| match &c.state().popup {
        Some(Popup::PickLabels(p)) => (p.index, p.labels.iter().position(|(n, _)| n == name)),
        other => panic!("{other:?}"),
    };
    for name in ["zone", "alertname"] {
        c.h.press("g");
        let (_, want) = at(&c, name);
        for _ in 0..want.expect("listed") {
            c.h.press("j");
        }
        assert_eq!(at(&c, name).0, want.unwrap());
        c.h.press("space");
    }
    let text = screen(c.h.state_mut(), 120, 30);
    assert!(text.contains("picked: zone,alertname"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("[1] zone"))
            && text.lines().any(|l| l.contains("[2] alertname")),
        "{text}"
    );
    // Space again unpicks; picking again puts it last.
    c.h.press("space");
    c.h.press("space");
    c.h.press("enter");
    let groups = match &c.state().popup {
        Some(Popup::Groups { by, groups, .. }) => {
            assert_eq!(by.name(), "zone,alertname");
            groups.clone()
        }
        other => panic!("the groups popup: {other:?} {:?}", c.state().status),
    };
    assert_eq!(groups.len(), 3, "{groups:#?}");
    assert_eq!(
        groups[0].label,
        "2 firing · zone=a alertname=DiskFull (1 crit, 1 warn)"
    );
    assert_eq!(groups[0].worst, opsconsole::model::Severity::Critical);
    let text = screen(c.h.state_mut(), 120, 30);
    assert!(
        text.contains("▶ CRIT 2 firing · zone=a alertname=DiskFull (1 crit, 1 warn)"),
        "{text}"
    );
    assert!(
        text.contains("WARN 1 firing · zone=b alertname=HighLatency (1 warn)"),
        "{text}"
    );
    c.h.press("esc");

    // `:group` alone: the picker again, with the labels last grouped by picked.
    c.h.press(":");
    c.type_text("group");
    c.h.press("enter");
    match &c.state().popup {
        Some(Popup::PickLabels(p)) => assert_eq!(p.chosen, ["zone", "alertname"]),
        other => panic!("{other:?}"),
    }
    c.h.press("esc");
    assert!(c.state().popup.is_none());
}

/// More rows than the pane holds, at 80×24: the cursor goes past the live rows onto the resolved
/// ones (under their heading), and the window scrolls so the selected one is always drawn.
#[test]
fn the_cursor_scrolls_through_live_rows_into_the_resolved_ones() {
    use opsconsole::model::{CheckResult, ChecksSnapshot, ClusterId, Health, Msg, SourceKind};
    use opsconsole::state::{handle_action, update, State};
    let row = |i: usize| CheckResult {
        entity: format!("web-{i:02}"),
        check: "HighLatency".into(),
        status: 1,
        output: format!("latency {i}"),
        ..Default::default()
    };
    let mut s = State::new("t", "/services/", "alice", Utc::now());
    s.backends.checks = Some("alertmanager".into());
    update(
        &mut s,
        Msg::Health(SourceKind::Checks.of(ClusterId(0)), Health::Live),
    );
    let snapshot = |rows: Vec<CheckResult>| ChecksSnapshot {
        results: rows,
        ..Default::default()
    };
    let t0 = s.now;
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: snapshot((0..30).map(row).collect()),
            at: t0,
        },
    );
    // web-25 … web-29 resolve.
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: snapshot((0..25).map(row).collect()),
            at: t0 + chrono::Duration::seconds(5),
        },
    );
    s.focus = opsconsole::state::Pane::Checks;
    assert_eq!(s.checks.visible_len(), 25);
    assert_eq!(s.checks.cursor_len(), 30);
    let _ = screen(&mut s, 80, 24);
    handle_action(&mut s, Action::Bottom);
    let last = s.checks.selected_resolved().expect("on a resolved row");
    let last = last.last.entity.clone();
    let text = screen(&mut s, 80, 24);
    assert!(
        text.lines().any(|l| l.contains('✓') && l.contains(&last)),
        "the selected resolved row is drawn:\n{text}"
    );
    // Up through the resolved rows to the heading's neighbour, then the last live row.
    for _ in 0..5 {
        handle_action(&mut s, Action::Up);
    }
    assert_eq!(s.checks.selected().unwrap().entity, "web-24");
    let text = screen(&mut s, 80, 24);
    assert!(
        text.lines().any(|l| l.contains("web-24")),
        "the selected live row is drawn:\n{text}"
    );
    handle_action(&mut s, Action::Down);
    let text = screen(&mut s, 80, 24);
    let first = s.checks.selected_resolved().expect("on a resolved row");
    assert!(
        text.lines()
            .any(|l| l.contains('✓') && l.contains(&first.last.entity)),
        "{text}"
    );
    assert!(text.contains("recently resolved (the last hour"), "{text}");
}

/// Every karma action is bound in both shipped keymaps, in the section where it applies, listed
/// by `?` (the help rows), and no [checks] key of it is also a [global] key.
#[test]
fn karma_keys_are_bound_in_both_keymaps_and_listed_by_help() {
    use opsconsole::keymap::Keymap;
    for (name, want) in [
        (
            "default",
            [
                ("checks", "a", "ack/claim"),
                ("checks", "A", "unack"),
                ("checks", "I", "inhibited"),
                ("checks", "N", "unacked only"),
                ("checks", "R", "recently resolved"),
                ("checks", "b", "group failing checks"),
                ("popup", "space", "label picker"),
            ],
        ),
        (
            "emacs",
            [
                ("checks", "alt-k", "ack/claim"),
                ("checks", "alt-K", "unack"),
                ("checks", "alt-i", "inhibited"),
                ("checks", "alt-N", "unacked only"),
                ("checks", "alt-R", "recently resolved"),
                ("checks", "alt-b", "group failing checks"),
                ("popup", "space", "label picker"),
            ],
        ),
    ] {
        let k = Keymap::resolve(Some(name)).expect("the shipped keymap");
        let rows = k.help_rows();
        for (section, key, what) in want {
            assert!(
                rows.iter().any(|(c, keys, w)| c == section
                    && keys.split(' ').any(|x| x == key)
                    && w.contains(what)),
                "{name}: [{section}] {key} ({what}) not in help: {rows:#?}"
            );
        }
        let global: Vec<String> = rows
            .iter()
            .filter(|(c, _, _)| c == "global")
            .flat_map(|(_, keys, _)| keys.split(' ').map(String::from).collect::<Vec<_>>())
            .collect();
        for (_, key, _) in want.iter().filter(|(s, _, _)| *s == "checks") {
            assert!(
                !global.iter().any(|g| g == key),
                "{name}: [checks] {key} shadows a [global] key"
            );
        }
    }
}

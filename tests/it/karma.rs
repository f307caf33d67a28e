//! Alerts the way karma shows them (issue 23): the state column (active / silenced / inhibited /
//! acked) and its header counts, against a real Alertmanager with an inhibit rule in its config.

use crate::common;

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
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
    c.until(
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

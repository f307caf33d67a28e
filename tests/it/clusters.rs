//! Several clusters in one view (`--cluster prod,prod-eu,staging`): three real etcds on loopback,
//! the built console in a real terminal. Both clusters' members shown with the right cluster, a
//! deregister in the merged view deleting from the right etcd only, a read-only cluster refusing
//! there and not elsewhere, one etcd killed leaving the others live and updating.
//!
//! The logs of each cluster's own Redis in the one pane, each line with its cluster; a member's
//! scope and `:cluster` (the picker too) narrowing the logs to one cluster.
//!
//! Also elsewhere: the reducer's side (identities, routing, typed confirmation, filters,
//! narrowing) in `state::merged`'s unit tests.

use crate::common;

use common::e2e::{members_pane, message_line, start};
use common::metrics_servers::Prometheus;
use common::tmux::{Tmux, SOON};
use common::{wait_until, wait_until_or, Alertmanager, Etcd};

/// A config with one `[clusters.NAME]` per (name, etcd, extra) and the path it is at.
fn config(clusters: &[(&str, &Etcd, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    let mut text = String::new();
    for (name, etcd, extra) in clusters {
        text.push_str(&format!(
            "[clusters.{name}]\netcd = {{ endpoints = [\"{}\"], prefix = \"/services/\" }}\n{extra}\n",
            etcd.endpoint()
        ));
    }
    text.push_str("[views.all]\nclusters = [\"prod\", \"prod-eu\", \"staging\"]\n");
    std::fs::write(&path, text).expect("config written");
    (dir, path)
}

/// The console on `--cluster prod,prod-eu`, each cluster with its etcd and its extra config lines
/// (a `staging` on prod-eu's etcd is configured too, and not shown); the config's dir with it.
fn prod_and_eu(
    prod: &Etcd,
    prod_extra: &str,
    eu: &Etcd,
    eu_extra: &str,
) -> (tempfile::TempDir, Tmux) {
    let (dir, path) = config(&[
        ("prod", prod, prod_extra),
        ("prod-eu", eu, eu_extra),
        ("staging", eu, ""),
    ]);
    let t = start(&[
        "--cluster",
        "prod,prod-eu",
        "--config",
        path.to_str().expect("utf-8 path"),
    ]);
    (dir, t)
}

/// The members pane's table line of `instance` in `cluster` (the CLUSTER column leads the row).
fn row_in(screen: &str, cluster: &str, instance: &str) -> Option<String> {
    members_pane(screen).into_iter().find(|l| {
        let words: Vec<&str> = l
            .trim_matches('│')
            .split_whitespace()
            .filter(|w| *w != "▶")
            .collect();
        words.first() == Some(&cluster) && words.contains(&instance)
    })
}

/// Moves the members cursor to the row of `instance` in `cluster` (top, then down until the scope
/// names it on that cluster's row).
fn select(t: &Tmux, cluster: &str, instance: &str) {
    let selected = |s: &str| row_in(s, cluster, instance).is_some_and(|r| r.contains('▶'));
    t.send(&["g"]);
    // Each key's frame before the next key: the cursor is read off the screen.
    let mut on = t.wait_screen("the top row selected", SOON, |s| {
        members_pane(s)
            .iter()
            .skip(2)
            .take(1)
            .any(|l| l.contains('▶'))
    });
    for row in 0..8 {
        if selected(&on) {
            return;
        }
        t.send(&["j"]);
        on = t.wait_screen(&format!("row {} selected", row + 2), SOON, |s| {
            members_pane(s)
                .get(row + 3)
                .is_some_and(|l| l.contains('▶'))
                || selected(s)
        });
    }
    panic!("could not select {instance} of {cluster}:\n{}", t.screen());
}

#[test]
fn a_merged_view_acts_on_the_right_etcd_and_outlives_one_of_them() {
    let prod = Etcd::start();
    let mut eu = Etcd::start();
    let staging = Etcd::start();
    // The same instance in prod and prod-eu: two members, one per cluster.
    prod.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    ]);
    prod.ctl(&[
        "put",
        "/services/db/db-1",
        r#"{"addr":"10.0.1.1","port":5432}"#,
    ]);
    eu.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.1.0.1","port":80}"#,
    ]);
    eu.ctl(&[
        "put",
        "/services/web/web-9",
        r#"{"addr":"10.1.0.9","port":80}"#,
    ]);
    staging.ctl(&[
        "put",
        "/services/web/web-5",
        r#"{"addr":"10.2.0.5","port":80}"#,
    ]);
    let (_dir, path) = config(&[
        ("prod", &prod, "accent = \"red\""),
        ("prod-eu", &eu, "accent = \"blue\""),
        ("staging", &staging, "readonly = true"),
    ]);
    let t = start(&[
        "--cluster",
        "prod,prod-eu,staging",
        "--config",
        path.to_str().expect("utf-8 path"),
    ]);
    let want = [
        ("prod", "web-1"),
        ("prod", "db-1"),
        ("prod-eu", "web-1"),
        ("prod-eu", "web-9"),
        ("staging", "web-5"),
    ];
    let s = t.wait_screen("every cluster's members with their cluster", SOON, |s| {
        want.iter().all(|(c, i)| row_in(s, c, i).is_some())
    });
    // Per-cluster counts in the title, per-cluster health in the status bar.
    assert!(
        s.contains("prod:2") && s.contains("prod-eu:2") && s.contains("staging:1"),
        "{s}"
    );
    t.wait_screen("each cluster live in the status bar", SOON, |s| {
        s.lines().last().is_some_and(|l| {
            l.contains("prod ●") && l.contains("prod-eu ●") && l.contains("staging ●")
        })
    });

    // Deregister prod-eu's web-1: the dialog names prod-eu first; only prod-eu's etcd loses it.
    select(&t, "prod-eu", "web-1");
    t.send(&["D"]);
    let s = t.wait_text("Deregister this member?");
    let dialog: Vec<&str> = s.lines().filter(|l| l.contains("cluster")).collect();
    assert!(
        s.contains("cluster  prod-eu") && s.contains("— cluster prod-eu "),
        "the dialog names prod-eu:\n{s}"
    );
    let body_first = s
        .lines()
        .skip_while(|l| !l.contains("— cluster prod-eu "))
        .nth(1)
        .unwrap_or_default();
    assert!(body_first.contains("cluster  prod-eu"), "{dialog:?}\n{s}");
    t.confirm("y");
    wait_until("prod-eu's web-1 gone from its etcd", SOON, || {
        eu.ctl(&["get", "/services/web/web-1"]).trim().is_empty()
    });
    assert!(
        prod.ctl(&["get", "/services/web/web-1"])
            .contains("10.0.0.1"),
        "prod's web-1 must stay"
    );
    let s = t.wait_screen("prod-eu's web-1 gone from the table", SOON, |s| {
        row_in(s, "prod-eu", "web-1").is_none()
    });
    assert!(row_in(&s, "prod", "web-1").is_some(), "{s}");
    let line = wait_until_or(
        "the deregister's outcome in the audit log",
        SOON,
        || {
            t.audit_lines()
                .into_iter()
                .find(|l| l["action"] == "deregister" && l["result"] == "deleted")
        },
        || format!("{:?}", t.audit_lines()),
    );
    assert_eq!(line["cluster"], "prod-eu", "{line}");
    assert_eq!(line["target"], "/services/web/web-1", "{line}");

    // staging is read-only: refused there (nothing deleted, a refused line for staging) …
    select(&t, "staging", "web-5");
    t.send(&["D"]);
    let s = t.wait_screen("the refusal", SOON, |s| {
        message_line(s).contains("cluster staging is read-only")
    });
    assert!(!s.contains("Deregister this member?"), "{s}");
    assert!(staging
        .ctl(&["get", "/services/web/web-5"])
        .contains("10.2.0.5"));
    let refused = wait_until_or(
        "staging's refusal in the audit log",
        SOON,
        || {
            t.audit_lines()
                .into_iter()
                .find(|l| l["result"] == "refused: readonly")
        },
        || format!("{:?}", t.audit_lines()),
    );
    assert_eq!(refused["cluster"], "staging", "{refused}");
    // … and not in prod: its dialog opens.
    select(&t, "prod", "db-1");
    t.send(&["D"]);
    t.wait_text("— cluster prod ");
    t.send(&["n"]);
    t.wait_gone("Deregister this member?");

    // prod-eu's etcd dies: its rows stay, marked stale; prod keeps updating.
    eu.kill();
    let s = t.wait_screen("prod-eu marked stale, the others live", SOON, |s| {
        row_in(s, "prod-eu", "web-9").is_some()
            && s.lines()
                .last()
                .is_some_and(|l| l.contains("prod ●") && !l.contains("prod-eu ●"))
    });
    assert!(row_in(&s, "prod", "db-1").is_some(), "{s}");
    prod.ctl(&[
        "put",
        "/services/web/web-2",
        r#"{"addr":"10.0.0.2","port":80}"#,
    ]);
    let s = t.wait_screen("prod's new member while prod-eu is down", SOON, |s| {
        row_in(s, "prod", "web-2").is_some()
    });
    assert!(row_in(&s, "prod-eu", "web-9").is_some(), "{s}");
    assert!(
        members_pane(&s)
            .iter()
            .any(|l| ["prod-eu ◍", "prod-eu ✕", "prod-eu ◌"]
                .iter()
                .any(|m| l.contains(m))),
        "prod-eu's rows are marked stale:\n{s}"
    );
}

#[test]
fn cluster_lists_and_views_are_checked_before_anything_starts() {
    let prod = Etcd::start();
    let eu = Etcd::start();
    let (_dir, path) = config(&[
        ("prod", &prod, ""),
        ("prod-eu", &eu, ""),
        ("staging", &eu, ""),
    ]);
    let path = path.to_str().expect("utf-8 path");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_opsconsole"))
            .args(args)
            .args(["--config", path])
            .output()
            .expect("opsconsole runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&["--cluster", "prod,nowhere"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("no cluster \"nowhere\"") && err.contains("prod-eu"),
        "{err}"
    );
    let (code, err) = run(&["--cluster", "prod,prod"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("cluster \"prod\" is named twice"), "{err}");
    let (code, err) = run(&["--view", "nope"]);
    assert_ne!(code, Some(0));
    assert!(
        err.contains("no view \"nope\"") && err.contains("all"),
        "{err}"
    );
}

#[test]
fn inventory_and_snapshot_take_the_same_list() {
    let prod = Etcd::start();
    let eu = Etcd::start();
    prod.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    ]);
    eu.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.1.0.1","port":80}"#,
    ]);
    eu.ctl(&[
        "put",
        "/services/db/db-1",
        r#"{"addr":"10.1.1.1","port":5432}"#,
    ]);
    let (_dir, path) = config(&[
        ("prod", &prod, ""),
        ("prod-eu", &eu, ""),
        ("staging", &eu, ""),
    ]);
    let path = path.to_str().expect("utf-8 path");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_opsconsole"))
            .args(["--config", path])
            .args(args)
            .output()
            .expect("opsconsole runs");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        (out.status.code(), stdout, stderr)
    };

    let (code, out, err) = run(&["inventory", "--cluster", "prod,prod-eu", "--list"]);
    assert_eq!(code, Some(0), "{err}");
    let inv: serde_json::Value = serde_json::from_str(&out).expect("JSON inventory");
    assert_eq!(
        inv["cluster_prod"]["hosts"],
        serde_json::json!(["web-1@prod"])
    );
    assert_eq!(
        inv["cluster_prod_eu"]["hosts"],
        serde_json::json!(["db-1@prod-eu", "web-1@prod-eu"])
    );
    assert_eq!(
        inv["prod_eu_web"]["hosts"],
        serde_json::json!(["web-1@prod-eu"])
    );
    assert_eq!(
        inv["_meta"]["hostvars"]["web-1@prod-eu"]["ansible_host"]["__ansible_unsafe"],
        "10.1.0.1"
    );
    assert_eq!(
        inv["_meta"]["hostvars"]["web-1@prod"]["ansible_host"]["__ansible_unsafe"],
        "10.0.0.1"
    );
    let (code, out, _) = run(&[
        "inventory",
        "--cluster",
        "prod,prod-eu",
        "--host",
        "db-1@prod-eu",
    ]);
    assert_eq!(code, Some(0));
    assert!(out.contains("10.1.1.1"), "{out}");

    let (code, out, err) = run(&["snapshot", "--cluster", "prod,prod-eu", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let snap: serde_json::Value = serde_json::from_str(&out).expect("JSON snapshot");
    let clusters = snap["clusters"]
        .as_array()
        .expect("one snapshot per cluster");
    assert_eq!(clusters.len(), 2);
    assert_eq!(clusters[0]["cluster"], "prod");
    assert_eq!(clusters[1]["cluster"], "prod-eu");
    assert!(
        out.contains("10.1.1.1") && out.contains("10.0.0.1"),
        "{out}"
    );

    // One cluster down: the others are still reported, and the exit says it is not whole.
    drop(prod);
    let (code, out, _) = run(&["snapshot", "--cluster", "prod,prod-eu"]);
    assert_ne!(code, Some(0));
    assert!(
        out.contains("# opsconsole snapshot: prod-eu") && out.contains("db-1"),
        "{out}"
    );
    let (code, _, err) = run(&["inventory", "--cluster", "prod,prod-eu", "--list"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("cluster \"prod\""), "{err}");
}

#[test]
fn a_silence_in_a_merged_view_goes_to_its_checks_own_alertmanager() {
    let prod = Etcd::start();
    let eu = Etcd::start();
    let prod_am = Alertmanager::start();
    let eu_am = Alertmanager::start();
    prod.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    ]);
    eu.ctl(&[
        "put",
        "/services/web/web-9",
        r#"{"addr":"10.1.0.9","port":80}"#,
    ]);
    prod_am.fire(&[("HighLoad", "web-1", "warning")]);
    // The worst row, first in the pane: prod-eu's.
    eu_am.fire(&[("DiskFull", "web-9", "critical")]);
    let checks = |am: &Alertmanager| {
        format!(
            "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
            am.url()
        )
    };
    let (_dir, t) = prod_and_eu(&prod, &checks(&prod_am), &eu, &checks(&eu_am));
    // Both clusters' alerts in the one checks pane, each row naming its cluster.
    let alert_row = |s: &str, cluster: &str, alert: &str| {
        s.lines().any(|l| {
            let right: String = l.chars().skip(80).collect();
            let words: Vec<&str> = right.trim_matches('│').split_whitespace().collect();
            words.first() == Some(&cluster) && words.contains(&alert)
        })
    };
    t.wait_screen("both alertmanagers' alerts with their cluster", SOON, |s| {
        alert_row(s, "prod", "HighLoad") && alert_row(s, "prod-eu", "DiskFull")
    });

    // The cursor keeps the row it was on when the other cluster's alert arrived, so the row is
    // picked by a filter rather than by its place.
    t.send(&["Tab"]);
    t.send(&["/"]);
    t.type_text("DiskFull");
    t.send(&["Enter"]);
    t.wait_screen("only prod-eu's DiskFull in the checks pane", SOON, |s| {
        alert_row(s, "prod-eu", "DiskFull") && !alert_row(s, "prod", "HighLoad")
    });
    t.send(&["s"]);
    t.wait_screen("the silence form for web-9/DiskFull", SOON, |s| {
        s.contains("reason (required)") && s.contains("web-9/DiskFull")
    });
    t.type_text("e2e: merged view silence");
    t.send(&["Enter"]);
    t.wait_text("Create this silence?");
    t.confirm("y");
    let silence = wait_until_or(
        "a silence in prod-eu's Alertmanager",
        SOON,
        || eu_am.active_silences().into_iter().next(),
        || t.screen(),
    );
    assert!(silence.to_string().contains("DiskFull"), "{silence}");
    assert!(
        prod_am.active_silences().is_empty(),
        "prod's Alertmanager must not get it: {:?}",
        prod_am.active_silences()
    );
    let line = wait_until_or(
        "the silence's outcome in the audit log",
        SOON,
        || {
            t.audit_lines()
                .into_iter()
                .find(|l| l["action"] == "silence" && l["phase"] == "outcome")
        },
        || format!("{:?}", t.audit_lines()),
    );
    assert_eq!(line["cluster"], "prod-eu", "{line}");
}

/// The logs pane's lines as (cluster, host, message) words: the right half of the bottom rows,
/// time first, then the CLUSTER column a merged view adds.
fn log_rows(screen: &str) -> Vec<(String, String, String)> {
    let lines: Vec<&str> = screen.lines().collect();
    let top = lines.len() * 55 / 100;
    lines[top..]
        .iter()
        .map(|l| l.chars().skip(80).collect::<String>())
        .filter_map(|l| {
            let words: Vec<&str> = l.trim_matches('│').split_whitespace().collect();
            // HH:MM:SS, then cluster, host, program, severity, message.
            let time = words.first()?;
            if time.len() != 8 || time.matches(':').count() != 2 {
                return None;
            }
            Some((
                words.get(1)?.to_string(),
                words.get(2)?.to_string(),
                words.get(5..)?.join(" "),
            ))
        })
        .collect()
}

#[test]
fn a_merged_views_logs_say_their_cluster_and_follow_the_members_cluster() {
    use common::log_servers::Redis;
    let prod = Etcd::start();
    let eu = Etcd::start();
    let prod_logs = Redis::start();
    let eu_logs = Redis::start();
    // web-1 in both clusters: its lines in each cluster's Redis are two hosts' lines.
    prod.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    ]);
    eu.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.1.0.1","port":80}"#,
    ]);
    let logs = |r: &Redis| {
        format!(
            "logs = {{ kind = \"redis\", url = \"{}\", channel = \"syslog\" }}",
            r.url()
        )
    };
    let (_dir, path) = config(&[
        ("prod", &prod, &logs(&prod_logs)),
        ("prod-eu", &eu, &logs(&eu_logs)),
        ("staging", &eu, ""),
    ]);
    let t = start(&[
        "--cluster",
        "prod,prod-eu",
        "--config",
        path.to_str().expect("utf-8 path"),
    ]);
    // Pub/Sub keeps nothing for later: each line goes once its cluster's source listens.
    for r in [&prod_logs, &eu_logs] {
        wait_until_or(
            "each cluster's logs source subscribed",
            SOON,
            || r.subscribers("syslog") > 0,
            || t.screen(),
        );
    }
    let publish = |r: &Redis, message: &str| {
        let line = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339(),
            "host": "web-1",
            "program": "nginx",
            "severity": "err",
            "message": message,
        })
        .to_string();
        r.cmd(&[b"PUBLISH", b"syslog", line.as_bytes()]);
    };
    publish(&prod_logs, "prod upstream timed out");
    publish(&eu_logs, "eu connect failed");
    let has = |s: &str, cluster: &str, message: &str| {
        log_rows(s)
            .iter()
            .any(|(c, h, m)| c == cluster && h == "web-1" && m == message)
    };
    t.wait_screen("each cluster's line with its cluster", SOON, |s| {
        has(s, "prod", "prod upstream timed out") && has(s, "prod-eu", "eu connect failed")
    });

    // prod-eu's web-1 selected: its own cluster's lines only (prod's web-1 is another host).
    select(&t, "prod-eu", "web-1");
    t.wait_screen("only prod-eu's web-1 lines", SOON, |s| {
        has(s, "prod-eu", "eu connect failed") && !has(s, "prod", "prod upstream timed out")
    });
    // prod's: the other way round.
    select(&t, "prod", "web-1");
    t.wait_screen("only prod's web-1 lines", SOON, |s| {
        !has(s, "prod-eu", "eu connect failed") && has(s, "prod", "prod upstream timed out")
    });
    t.send(&["Escape"]);
    t.wait_screen("every cluster's lines again", SOON, |s| {
        has(s, "prod-eu", "eu connect failed") && has(s, "prod", "prod upstream timed out")
    });

    // The picker (`:cluster` alone) narrows within the view: prod-eu, then `*` for all.
    common::e2e::command(&t, "cluster");
    t.wait_text("Show only (Enter)");
    t.send(&["j"]);
    t.send(&["j"]);
    t.send(&["Enter"]);
    let s = t.wait_screen("narrowed to prod-eu", SOON, |s| {
        has(s, "prod-eu", "eu connect failed") && !has(s, "prod", "prod upstream timed out")
    });
    assert!(row_in(&s, "prod", "web-1").is_none(), "{s}");
    assert!(row_in(&s, "prod-eu", "web-1").is_some(), "{s}");
    common::e2e::command(&t, "cluster");
    t.wait_text("Show only (Enter)");
    t.send(&["g"]);
    t.send(&["Enter"]);
    t.wait_screen("every cluster again", SOON, |s| {
        has(s, "prod", "prod upstream timed out") && row_in(s, "prod", "web-1").is_some()
    });
}

/// The merged metrics pane shows one cluster's series. The other clusters' metrics sources are
/// asked nothing: the status bar must not read that as trouble (it said `prod-eu ◌` for as long
/// as the console ran), `:health` says `idle`, and narrowing moves which one is idle.
#[test]
fn a_merged_views_unshown_metrics_are_idle_not_connecting() {
    let prod = Etcd::start();
    let eu = Etcd::start();
    prod.ctl(&["put", "/services/web/web-1", r#"{"addr":"10.0.0.1"}"#]);
    eu.ctl(&["put", "/services/web/web-9", r#"{"addr":"10.1.0.9"}"#]);
    // Each Prometheus scrapes a port nobody listens on: its queries are answered, with no data.
    let prod_prom = Prometheus::start(common::free_port());
    let eu_prom = Prometheus::start(common::free_port());
    let metrics = |p: &Prometheus| {
        format!(
            "metrics = {{ kind = \"prometheus\", url = \"{}\", interval_secs = 1, series = [{{ name = \"up\", query = 'up{{instance=\"{{addr}}\"}}', cluster = \"count(up)\" }}] }}",
            p.url()
        )
    };
    let (_dir, t) = prod_and_eu(&prod, &metrics(&prod_prom), &eu, &metrics(&eu_prom));
    let bar = |s: &str| s.lines().last().unwrap_or_default().to_string();
    t.wait_screen(
        "both clusters live in the status bar, none connecting",
        SOON,
        |s| {
            let b = bar(s);
            b.contains("prod ●") && b.contains("prod-eu ●") && !b.contains('◌')
        },
    );
    t.wait_text("prod only");
    // `:health`: the pane asks prod; prod-eu's metrics wait.
    let health = |t: &Tmux, idle: &str, live: &str| {
        common::e2e::command(t, "health");
        // The popup's lines under `name:` (its heading alone on a line), up to the next heading:
        // the popup's text is between its left border and the pane's right one.
        let section = |s: &str, name: &str| -> String {
            let heading = format!("{name}:");
            let lines: Vec<&str> = s
                .lines()
                .map(|l| l.split('│').nth(2).unwrap_or_default().trim())
                .collect();
            match lines.iter().position(|l| *l == heading) {
                Some(i) => lines[i + 1..]
                    .iter()
                    .take(4)
                    .copied()
                    .collect::<Vec<_>>()
                    .join("\n"),
                None => String::new(),
            }
        };
        t.wait_screen(
            &format!("{idle}'s metrics idle, {live}'s live"),
            SOON,
            |s| {
                section(s, idle).contains("metrics  idle (nothing on screen asks for it)")
                    && section(s, live).contains("metrics  live")
            },
        );
        t.send(&["Escape"]);
    };
    health(&t, "prod-eu", "prod");
    // Narrowed to prod-eu: its series are shown, prod's source waits.
    common::e2e::command(&t, "cluster prod-eu");
    t.wait_text("prod-eu only");
    health(&t, "prod", "prod-eu");
    let s = t.screen();
    assert!(!bar(&s).contains('◌'), "{s}");
}

/// Every revision-clock pair under `dir`, by file (one file per etcd cluster id).
fn clock_files(dir: &std::path::Path) -> Vec<Vec<opsconsole::model::revclock::Pair>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|e| e == "revclock") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            files.push(
                text.lines()
                    .filter_map(opsconsole::model::revclock::Pair::parse)
                    .collect(),
            );
        }
    }
    files
}

/// The members the console shows, as (cluster name, key).
fn shown_members(c: &common::etcd_console::Console) -> Vec<(String, String)> {
    let s = c.state();
    let mut out: Vec<(String, String)> = s
        .members
        .all()
        .map(|m| {
            (
                s.cluster_name(m.cluster).to_string(),
                m.key_text().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// `:at` in a merged view of two real etcds: each cluster's etcd is read at the revision its own
/// clock maps the moment to, and both clusters' past members are shown, each with its cluster;
/// the members joined since are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_time_a_merged_view_shows_every_clusters_past_with_its_cluster() {
    use common::etcd_console::{cluster, profile, Console, LIVE};
    use opsconsole::state::time_cursor::MembersAt;
    use std::time::Duration;

    let prod = Etcd::start();
    let mut eu = Etcd::start();
    // Different histories: the same moment is a different revision in each cluster.
    prod.ctl(&["put", "/services/web/old-p", "10.0.0.1:80"]);
    prod.ctl(&["put", "/services/web/keep-p", "10.0.0.2:80"]);
    prod.ctl(&["put", "/services/web/keep-p", "10.0.0.3:80"]);
    eu.ctl(&["put", "/services/web/old-e", "10.1.0.1:80"]);
    let clocks = tempfile::tempdir().expect("tempdir for the revision clocks");
    let named = |etcd: &Etcd, name: &str| {
        let mut p = cluster(profile(&[etcd.endpoint()]));
        p.name = name.to_string();
        p
    };
    let more = vec![named(&eu, "prod-eu")];
    let dir = clocks.path().to_path_buf();
    let mut c = Console::with_settings(named(&prod, "prod"), move |s| {
        s.more = more;
        s.clock_dir = Some(dir);
    });
    let pair = |cl: &str, k: &str| (cl.to_string(), format!("/services/web/{k}"));
    let before = vec![
        pair("prod", "keep-p"),
        pair("prod", "old-p"),
        pair("prod-eu", "old-e"),
    ];
    c.until(LIVE * 3, "both clusters listed", |c| {
        shown_members(c) == before
    })
    .await;
    // Each cluster's clock holds its present revision before the moment is noted.
    let (rp, re) = (
        common::etcd_console::etcd_revision(&prod),
        common::etcd_console::etcd_revision(&eu),
    );
    assert_ne!(rp, re, "the two clusters' revisions differ");
    c.until(
        Duration::from_secs(12),
        "both clocks hold the present",
        |_| {
            let files = clock_files(clocks.path());
            files.len() == 2
                && files.iter().any(|f| f.iter().any(|p| p.revision == rp))
                && files.iter().any(|f| f.iter().any(|p| p.revision == re))
        },
    )
    .await;
    let t1 = chrono::Utc::now();

    // Then both fleets change: one joins and one leaves in each cluster.
    prod.ctl(&["put", "/services/web/new-p", "10.0.0.9:80"]);
    prod.ctl(&["del", "/services/web/old-p"]);
    eu.ctl(&["put", "/services/web/new-e", "10.1.0.9:80"]);
    eu.ctl(&["del", "/services/web/old-e"]);
    let after = vec![
        pair("prod", "keep-p"),
        pair("prod", "new-p"),
        pair("prod-eu", "new-e"),
    ];
    c.until(LIVE * 3, "the live view follows both etcds", |c| {
        shown_members(c) == after
    })
    .await;
    let (rp2, re2) = (
        common::etcd_console::etcd_revision(&prod),
        common::etcd_console::etcd_revision(&eu),
    );
    c.until(
        Duration::from_secs(12),
        "both clocks hold the change",
        |_| {
            let files = clock_files(clocks.path());
            files.iter().any(|f| f.iter().any(|p| p.revision >= rp2))
                && files.iter().any(|f| f.iter().any(|p| p.revision >= re2))
        },
    )
    .await;

    // `:at t1`: both clusters' past, each with its cluster; the present ones are not shown.
    c.h.tick();
    c.h.press(":");
    c.h.type_text(&format!(
        "at {}",
        t1.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    ));
    c.h.press("enter");
    c.until(LIVE * 3, "both clusters answered for t1", |c| {
        let by = &c.state().time.by_cluster;
        by.len() == 2 && by.values().all(|m| matches!(m, MembersAt::Shown { .. }))
    })
    .await;
    assert_eq!(shown_members(&c), before, "the past of both clusters");
    let revs: Vec<i64> = c
        .state()
        .time
        .by_cluster
        .values()
        .filter_map(|m| match m {
            MembersAt::Shown { revision, .. } => Some(*revision),
            _ => None,
        })
        .collect();
    assert_eq!(revs, vec![rp, re], "each cluster read at its own revision");
    let title =
        opsconsole::state::time_cursor::pane_note(c.state(), opsconsole::state::Pane::Members)
            .unwrap_or_default();
    assert!(
        title.contains(&format!("prod rev {rp}")) && title.contains(&format!("prod-eu rev {re}")),
        "{title}"
    );

    // Live again: the present of both, with what the watches saw meanwhile.
    c.h.press(":");
    c.h.type_text("live");
    c.h.press("enter");
    assert_eq!(shown_members(&c), after);

    // prod-eu's etcd goes away: at t1 prod's past is shown, prod-eu is named as unknown with why,
    // and none of its rows (live or older) stand in for its past.
    eu.kill();
    c.until(LIVE * 3, "prod-eu's etcd is seen down", |c| {
        let eu = opsconsole::model::ClusterId(1);
        c.state()
            .health_in(eu, opsconsole::model::SourceKind::Etcd)
            .is_some_and(|h| *h != opsconsole::model::Health::Live)
    })
    .await;
    c.h.tick();
    c.h.press(":");
    c.h.type_text(&format!(
        "at {}",
        t1.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    ));
    c.h.press("enter");
    c.until(LIVE * 3, "both clusters answered for t1 again", |c| {
        let by = &c.state().time.by_cluster;
        by.len() == 2 && by.values().all(|m| *m != MembersAt::Reading)
    })
    .await;
    let by = c.state().time.by_cluster.clone();
    let eu_at = by.get(&opsconsole::model::ClusterId(1)).cloned();
    assert!(
        matches!(&eu_at, Some(MembersAt::Unknown(why)) if why.contains("unreachable")),
        "{eu_at:?}"
    );
    assert_eq!(
        shown_members(&c),
        vec![pair("prod", "keep-p"), pair("prod", "old-p")],
        "prod's past only"
    );
    let title =
        opsconsole::state::time_cursor::pane_note(c.state(), opsconsole::state::Pane::Members)
            .unwrap_or_default();
    assert!(
        title.contains(&format!("prod rev {rp}")) && title.contains("prod-eu unknown"),
        "{title}"
    );
}

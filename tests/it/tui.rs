//! The console in a real terminal (tmux, a private server per test) against a real etcd (and a real
//! Alertmanager where checks are shown): what the screen shows and what keys do — the demo filling
//! every pane, the filter, help and detail popups, a terminal too small, an unreachable etcd, a
//! paste that is text and never keys, `:cluster` switching (a bad target is a message, the running
//! cluster keeps its state), and one scope (the member under the cursor) named in every pane.

use crate::common;

use std::process::Command;
use std::time::Duration;

use common::e2e::{
    command, fleet, has_row, message_line, on_cluster, select_first, start, start_panes, web_fleet,
    HEIGHT, WIDTH,
};
use common::panes::{
    cells, checks_pane, is_spark, logs_pane, member_row, members_pane, metrics_pane,
    silenced_marker, status_bar, top_lines,
};
use common::tmux::{run_ok, SOON};
use common::{free_port, require_binary, write_config, Alertmanager};

#[test]
fn demo_fills_every_pane_and_deregister_silence_unsilence_work() {
    let t = start_panes(&["--demo"]);
    let s = t.wait_screen(
        "all four demo panes filled, DEMO in the status bar",
        SOON,
        |s| {
            let members = members_pane(s)
                .iter()
                .filter(|l| cells(l).get(1).is_some_and(|i| i.contains('-')))
                .count();
            let checks = checks_pane(s)
                .iter()
                .any(|l| matches!(cells(l).first(), Some(&("CRIT" | "WARN" | "OK"))));
            let spark = metrics_pane(s).iter().any(|l| l.chars().any(is_spark));
            let logs = logs_pane(s).iter().any(|l| {
                let c = cells(l);
                c.first()
                    .is_some_and(|t| t.len() == 8 && t.as_bytes()[2] == b':')
                    && c.len() > 4
            });
            members > 5 && checks && spark && logs && status_bar(s).contains(" DEMO ")
        },
    );
    assert!(
        top_lines(&s)[0].contains("Members") && top_lines(&s)[0].contains("Checks (demo)"),
        "{s}"
    );

    // Silence the selected check. Before the deregister below: the demo drops a deregistered
    // member's checks at its next poll, which could take the row away halfway through.
    t.send(&["Tab"]);
    t.send(&["s"]);
    let s = t.wait_screen("the silence form", SOON, |s| {
        s.contains("  check  ") && s.contains("reason (required)") && s.contains("Enter review")
    });
    let target = s
        .lines()
        .find_map(|l| {
            let i = l.find("  check  ")?;
            l[i + 9..].split_whitespace().next().map(str::to_string)
        })
        .unwrap_or_else(|| panic!("the silence form names no check:\n{s}"));
    let (entity, check) = target.split_once('/').expect("entity/check");
    let (entity, check) = (entity.to_string(), check.to_string());
    t.type_text("e2e maintenance");
    t.send(&["Enter"]);
    let s = t.wait_screen("the silence confirmation", SOON, |s| {
        s.contains("Create this silence?") && s.contains("[y] silence")
    });
    assert!(
        s.contains(&format!("{check} on {entity}")),
        "confirm dialog does not name {check} on {entity}:\n{s}"
    );
    assert!(s.contains("e2e maintenance"), "{s}");
    t.confirm("y");
    let said = format!("silenced {check} on {entity}");
    t.wait_screen(
        &format!("{entity}/{check} marked S and {said:?} in the status line"),
        SOON,
        |s| silenced_marker(s, &entity, &check) == Some(true) && s.contains(&said),
    );
    let line = t.wait_audit("silence", "created");
    assert_eq!(
        line["target"],
        format!("{check} on {entity}").as_str(),
        "{line}"
    );
    assert!(
        line.to_string().contains("e2e maintenance"),
        "the reason is not in the audit line: {line}"
    );

    // And remove it again.
    t.send(&["u"]);
    let s = t.wait_screen("the unsilence confirmation", SOON, |s| {
        s.contains("Remove this silence?") && s.contains("[y] remove")
    });
    assert!(s.contains(&entity), "{s}");
    t.confirm("y");
    t.wait_screen(
        &format!("S gone from {entity}/{check}, \"removed\" in the status line"),
        SOON,
        |s| {
            !s.contains("Remove this silence?")
                && silenced_marker(s, &entity, &check) == Some(false)
                && s.lines()
                    .any(|l| l.contains("removed") && l.contains(&entity))
        },
    );
    let line = t.wait_audit("unsilence", "removed");
    assert!(
        line["target"].as_str().is_some_and(|x| x.contains(&entity)),
        "{line}"
    );

    // Deregister the first row (the first `j` selects it: nothing is selected at start).
    t.send(&["BTab"]);
    t.send(&["j"]);
    t.send(&["D"]);
    let s = t.wait_screen("the deregister dialog with its key", SOON, |s| {
        s.contains("Deregister this member?") && s.contains("key          /services/")
    });
    let key = s
        .lines()
        .find_map(|l| {
            let i = l.find("key          /services/")?;
            l[i + 5..].split_whitespace().next().map(str::to_string)
        })
        .unwrap_or_else(|| panic!("the dialog names no key:\n{s}"));
    let instance = key.rsplit('/').next().unwrap().to_string();
    t.confirm("y");
    t.wait_screen(
        &format!("{instance} gone from the members pane"),
        SOON,
        |s| !s.contains("Deregister this member?") && member_row(s, &instance).is_none(),
    );
    let line = t.wait_audit("deregister", "deleted");
    assert_eq!(line["target"], key.as_str(), "{line}");
    assert_eq!(line["cluster"], "demo", "{line}");
    assert_eq!(line["user"], "e2e-tester", "{line}");
    // All of it in demo-audit.log (wait_audit reads it for --demo): the real audit log untouched.
    assert!(
        !t.state_dir().join("audit.log").exists(),
        "--demo wrote to the real audit log"
    );
}

#[test]
fn filter_narrows_rows_and_escape_clears_it() {
    let f = fleet("");
    let t = f.console(&[]);
    t.send(&["/"]);
    t.type_text("web-1");
    t.wait_text("/web-1");
    t.send(&["Enter"]);
    let s = t.wait_screen("only web-1 left", SOON, |s| {
        has_row(s, "web-1") && !has_row(s, "web-2") && !has_row(s, "redis-1")
    });
    let title = s.lines().next().unwrap();
    assert!(
        title.contains("1/3"),
        "title should say 1 of 3 shown: {title}"
    );
    assert!(
        title.contains("/web-1/"),
        "title should show the filter: {title}"
    );

    // Keys still work on the filtered list: the detail opens on the only visible member once
    // the cursor is on it (nothing is selected until the user moves).
    t.send(&["j"]);
    t.send(&["Enter"]);
    t.wait_text("/services/web/web-1");
    t.escape();
    t.wait_gone("Member detail");

    t.escape();
    let s = t.wait_screen("all members back", SOON, |s| {
        has_row(s, "web-1") && has_row(s, "web-2") && has_row(s, "redis-1")
    });
    assert!(
        !s.lines().next().unwrap().contains("/web-1/"),
        "filter still shown:\n{s}"
    );

    // A filter matching nothing says so instead of showing an empty table.
    t.send(&["/"]);
    t.type_text("nomatch");
    t.send(&["Enter"]);
    t.wait_text("no member matches");
    t.escape();
    t.wait_screen("all members back", SOON, |s| {
        has_row(s, "redis-1") && has_row(s, "web-2")
    });
}

#[test]
fn help_and_detail_popups() {
    let f = fleet("");
    let t = f.console(&[]);
    t.send(&["?"]);
    let s = t.wait_text("active bindings");
    // The status bar (last line) names deregister too; it must be in the popup itself.
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .any(|l| l.contains("  D ") && l.contains("deregister")),
        "help does not list D = deregister:\n{s}"
    );
    t.escape();
    let s = t.wait_gone("active bindings");
    assert!(has_row(&s, "web-1"));

    // web-1 is second (redis-1 first; the first `j` selects it).
    t.send(&["j"]);
    t.send(&["j"]);
    t.send(&["Enter"]);
    let s = t.wait_text("Member detail");
    assert!(
        s.contains("/services/web/web-1"),
        "detail not about web-1:\n{s}"
    );
    // Pretty-printed: one field per line, indented.
    let inner: Vec<&str> = s
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .collect();
    for field in [
        "{",
        r#""addr": "10.0.0.1","#,
        r#""port": 80,"#,
        r#""version": "1.4.2""#,
        "}",
    ] {
        assert!(inner.contains(&field), "{field} not on its own line:\n{s}");
    }
    let open = inner.iter().position(|l| *l == "{").unwrap();
    let addr = inner
        .iter()
        .position(|l| l.starts_with(r#""addr""#))
        .unwrap();
    assert!(addr > open, "value not under its opening brace:\n{s}");
    t.escape();
    t.wait_gone("Member detail");
}

#[test]
fn too_small_terminal_says_so_and_recovers() {
    let f = fleet("");
    let t = f.console(&[]);
    t.tmux(&["resize-window", "-t", "t", "-x", "40", "-y", "10"]);
    let s = t.wait_text("Terminal too small");
    assert!(
        !s.contains("web-1"),
        "table still drawn when too small:\n{s}"
    );
    t.tmux(&[
        "resize-window",
        "-t",
        "t",
        "-x",
        &WIDTH.to_string(),
        "-y",
        &HEIGHT.to_string(),
    ]);
    let s = t.wait_screen("members back after resize", SOON, |s| {
        has_row(s, "web-1") && has_row(s, "web-2") && has_row(s, "redis-1")
    });
    assert!(!s.contains("Terminal too small"), "{s}");
    // Still responsive.
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

#[test]
fn unreachable_etcd_shows_retry_and_quits_cleanly() {
    let port = free_port();
    let (_dir, config) = write_config(&format!("http://127.0.0.1:{port}"), "/services/", "");
    let t = start(&["--cluster", "test", "--config", config.to_str().unwrap()]);
    let s = t.wait_screen("the retry state", Duration::from_secs(10), |s| {
        s.contains("refused the connection") && s.contains("retrying in")
    });
    assert!(s.contains("Members"), "{s}");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
}

// ---------------------------------------------------------------------------------------------
// Paste

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

// ---------------------------------------------------------------------------------------------
// Cluster switching

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

    // No name: a picker of the clusters (issue 17; it used to be a list on the message line).
    command(&t, "cluster");
    t.wait_screen("the cluster picker", SOON, |s| {
        s.contains("Clusters")
            && s.contains("current")
            && s.contains("other")
            && s.contains("broken")
    });
    t.escape();
    t.wait_gone("Switch to (Enter)");

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

// ---------------------------------------------------------------------------------------------
// One scope

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
    t.wait_text("key          /services/web/web-1 ");
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

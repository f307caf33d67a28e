//! The console at 80×24 — the size people work at on a laptop or in a split terminal — in a real
//! terminal (tmux) against a real etcd and a real Alertmanager: every name a user acts on is on
//! the screen whole (instance, address, check), `z` zooms a pane and back; and the opt-in mouse
//! (`--mouse`): a click focuses a pane and selects the row, a double-click opens the detail, the
//! wheel scrolls, and nothing the mouse does confirms a dialog.

use crate::common;

use common::tmux::{Tmux, SOON};
use common::{write_config, Alertmanager, Etcd};

/// Longer names than a demo's, as real fleets have them: each must show whole at 80×24.
const MEMBERS: [(&str, &str); 3] = [
    (
        "/services/payments/payments-api-7",
        r#"{"addr":"10.20.130.117","port":8443,"version":"2024.11.3-rc2"}"#,
    ),
    (
        "/services/payments/payments-api-12",
        r#"{"addr":"10.20.130.212","port":8443,"version":"2024.11.3"}"#,
    ),
    (
        "/services/search/search-indexer-3",
        r#"{"addr":"10.20.140.3","port":9200,"version":"8.15.1"}"#,
    ),
];

struct Small {
    _etcd: Etcd,
    _am: Alertmanager,
    _dir: tempfile::TempDir,
    t: Tmux,
}

fn small(extra_args: &[&str]) -> Small {
    let etcd = Etcd::start();
    for (k, v) in MEMBERS {
        etcd.ctl(&["put", k, v]);
    }
    let am = Alertmanager::start();
    am.fire(&[
        ("PaymentsLatencyHigh", "payments-api-7", "critical"),
        ("DiskAlmostFull", "search-indexer-3", "warning"),
    ]);
    let (dir, config) = write_config(
        &etcd.endpoint(),
        "/services/",
        &format!(
            "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
            am.url()
        ),
    );
    let mut args = vec!["--cluster", "test", "--config", config.to_str().unwrap()];
    args.extend_from_slice(extra_args);
    let t = Tmux::sized("opsconsole-small", 80, 24).start(&args);
    Small {
        _etcd: etcd,
        _am: am,
        _dir: dir,
        t,
    }
}

fn whole_names(s: &str) -> bool {
    MEMBERS.iter().all(|(k, v)| {
        let instance = k.rsplit('/').next().unwrap_or("");
        let v: serde_json::Value = serde_json::from_str(v).unwrap();
        let addr = format!("{}:{}", v["addr"].as_str().unwrap(), v["port"]);
        s.contains(instance) && s.contains(&addr)
    }) && s.contains("PaymentsLatencyHigh")
        && s.contains("DiskAlmostFull")
}

#[test]
fn names_show_whole_at_80x24_and_z_zooms() {
    let fleet = small(&[]);
    let t = &fleet.t;
    let s = t.wait_screen(
        "every instance, address and alert name whole at 80×24",
        SOON,
        whole_names,
    );
    // Nothing silently cut: where a cell is cut, it ends in `…`.
    for line in s.lines() {
        assert!(!line.contains("payments-api-1 "), "a cut name:\n{s}");
    }
    // The checks pane fills the screen with z, and comes back with z.
    t.send(&["Tab", "z"]);
    t.wait_screen("the checks pane zoomed", SOON, |s| {
        !s.contains("Members") && s.contains("Checks") && s.contains("PaymentsLatencyHigh")
    });
    t.send(&["z"]);
    t.wait_screen("all panes back", SOON, |s| {
        s.contains("Members") && s.contains("Checks") && s.contains("Metrics")
    });
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
}

/// SGR mouse bytes for tmux `send-keys -H`: a left press/release or a wheel notch at the 1-based
/// cell (`x`, `y`).
fn sgr(button: u8, x: u16, y: u16, press: bool) -> Vec<String> {
    format!("\x1b[<{button};{x};{y}{}", if press { "M" } else { "m" })
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn mouse(t: &Tmux, button: u8, x: u16, y: u16) {
    let mut args: Vec<String> = vec!["send-keys".into(), "-t".into(), "t".into(), "-H".into()];
    args.extend(sgr(button, x, y, true));
    if button < 64 {
        args.extend(sgr(button, x, y, false));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    t.tmux(&refs);
}

#[test]
fn mouse_clicks_focus_select_and_open_never_confirm() {
    let fleet = small(&["--mouse"]);
    let t = &fleet.t;
    t.wait_screen("the fleet and its alerts", SOON, whole_names);
    // The checks pane is the top right quarter: its first row is on screen row 3 (1-based),
    // below the border and the header. A click there focuses it and selects that row.
    mouse(t, 0, 60, 3);
    let s = t.wait_screen("the checks pane focused (its keys in the bar)", SOON, |s| {
        s.lines().last().is_some_and(|bar| bar.contains("silence"))
    });
    // A double-click on the same row opens its detail.
    mouse(t, 0, 60, 3);
    mouse(t, 0, 60, 3);
    t.wait_screen("the check detail", SOON, |s| {
        s.contains("occurrences") && s.contains("output")
    });
    t.send(&["Escape"]);
    t.wait_gone("occurrences");

    // A member: click its row in the members pane (top left; rows from screen row 3), D opens the
    // dialog; clicks anywhere on it — even where `y` would be — confirm nothing.
    mouse(t, 0, 20, 3);
    let s2 = t.wait_screen("a member selected", SOON, |s| s.contains('▶'));
    assert!(s2.contains("payments-api"), "{s2}\n(before: {s})");
    t.send(&["D"]);
    t.wait_text("Deregister this member?");
    for y in 5..20 {
        mouse(t, 0, 30, y);
    }
    std::thread::sleep(common::tmux::CONFIRM_GUARD);
    let s = t.screen();
    assert!(
        s.contains("Deregister this member?"),
        "the dialog stays:\n{s}"
    );
    let lines = t.audit_lines();
    assert!(lines.is_empty(), "nothing attempted: {lines:?}");
    t.send(&["n"]);
    t.wait_gone("Deregister this member?");

    // The wheel over the members pane moves its cursor without taking the focus from checks.
    mouse(t, 0, 60, 4);
    t.wait_screen("checks focused again", SOON, |s| {
        s.lines().last().is_some_and(|bar| bar.contains("silence"))
    });
    mouse(t, 65, 20, 5);
    t.wait_screen("the wheel moved the members cursor", SOON, |s| {
        s.lines()
            .take(12)
            .any(|l| l.starts_with("│▶") && l.contains("search-indexer-3"))
    });
    let bar = t.screen();
    assert!(
        bar.lines().last().is_some_and(|b| b.contains("silence")),
        "the focus stayed on checks:\n{bar}"
    );
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
}

//! End-to-end, in a real terminal (tmux) against a real etcd (and a real Alertmanager for
//! silences): the console acts only on what the screen showed and what the user meant.
//!
//! - A paste is text, never keys (bracketed paste); keys typed ahead do not confirm a dialog that
//!   was not yet on screen.
//! - `:cluster` never exits: a bad target is a message, the running cluster keeps its state.
//!
//! Missing tmux, etcd or Alertmanager fails the test (see `common::require_binary`); nothing is
//! skipped.

mod common;

use std::path::PathBuf;

use common::tmux::{Tmux, SOON};
use common::{write_config, Etcd};

const WIDTH: u16 = 160;
const HEIGHT: u16 = 45;

fn start(args: &[&str]) -> Tmux {
    Tmux::sized("opsconsole-trust", WIDTH, HEIGHT).start(args)
}

/// The members pane is the left half of the top rows.
fn members_pane(screen: &str) -> Vec<String> {
    screen
        .lines()
        .take(HEIGHT as usize * 55 / 100)
        .map(|l| l.chars().take(WIDTH as usize / 2).collect())
        .collect()
}

fn has_row(screen: &str, instance: &str) -> bool {
    members_pane(screen)
        .iter()
        .any(|l| l.trim_matches('│').split_whitespace().nth(1) == Some(instance))
}

/// The message line just above the status bar.
fn message_line(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    lines
        .len()
        .checked_sub(2)
        .map(|i| lines[i].to_string())
        .unwrap_or_default()
}

/// The status bar (the last line) starts with the cluster badge.
fn on_cluster(screen: &str, name: &str) -> bool {
    screen
        .lines()
        .last()
        .is_some_and(|l| l.trim_start().starts_with(name))
}

/// A real etcd with two members under /services/ and one under /other/.
struct Fleet {
    etcd: Etcd,
    _config_dir: tempfile::TempDir,
    config: PathBuf,
}

fn fleet(extra_config: &str) -> Fleet {
    let etcd = Etcd::start();
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    ]);
    etcd.ctl(&[
        "put",
        "/services/web/web-2",
        r#"{"addr":"10.0.0.2","port":80}"#,
    ]);
    etcd.ctl(&[
        "put",
        "/other/db/db-1",
        r#"{"addr":"10.0.9.1","port":5432}"#,
    ]);
    let extra = extra_config.replace("{endpoint}", &etcd.endpoint());
    let (dir, config) = write_config(&etcd.endpoint(), "/services/", &extra);
    Fleet {
        etcd,
        _config_dir: dir,
        config,
    }
}

impl Fleet {
    fn console(&self, extra_args: &[&str]) -> Tmux {
        let mut args = vec![
            "--cluster",
            "test",
            "--config",
            self.config.to_str().unwrap(),
        ];
        args.extend_from_slice(extra_args);
        let t = start(&args);
        t.wait_screen("both members", SOON, |s| {
            has_row(s, "web-1") && has_row(s, "web-2")
        });
        t
    }
}

impl Fleet {
    fn has(&self, key: &str) -> bool {
        self.etcd.ctl(&["get", key]).contains(key)
    }
}

fn command(t: &Tmux, line: &str) {
    t.send(&[":"]);
    t.wait_text("Enter apply");
    t.type_text(line);
    t.send(&["Enter"]);
}

// ------------------------------------------------------------------------- paste and typing ahead

#[test]
fn a_paste_in_the_members_pane_runs_no_keys() {
    let f = fleet("");
    let t = f.console(&[]);
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
fn keys_typed_ahead_do_not_confirm_a_dialog_not_yet_seen() {
    let f = fleet("");
    let t = f.console(&[]);
    // One write to the terminal: `y` arrives before the dialog `D` opens was ever on screen.
    t.type_text("Dy");
    let s = t.wait_screen("the dialog, and the hint to press y again", SOON, |s| {
        s.contains("Deregister this member?") && message_line(s).contains("press y again")
    });
    assert!(s.contains("key  /services/web/web-1 "), "{s}");
    assert!(f.has("/services/web/web-1"), "deleted by a key typed ahead");
    assert!(t.audit_lines().is_empty(), "{:?}", t.audit_lines());

    // The same key once the dialog has been seen: deleted.
    t.confirm("y");
    common::wait_for(SOON, || (!f.has("/services/web/web-1")).then_some(()))
        .unwrap_or_else(|| panic!("y did not delete web-1:\n{}", t.screen()));
    t.wait_screen("web-1 gone", SOON, |s| {
        !has_row(s, "web-1") && has_row(s, "web-2")
    });
    assert!(f.has("/services/web/web-2"));
}

#[test]
fn a_paste_into_the_filter_goes_into_the_filter() {
    let f = fleet("");
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

// ------------------------------------------------------------------------- cluster switching

const TWO_CLUSTERS: &str =
    "[clusters.other]\netcd = { endpoints = [\"{endpoint}\"], prefix = \"/other/\" }\n\
     [clusters.broken]\netcd = { endpoints = [\"{endpoint}\"] }\ntheme = \"no-such-theme\"\n";

#[test]
fn cluster_switch_errors_stay_on_the_cluster_and_switches_say_so() {
    let f = fleet(TWO_CLUSTERS);
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

    // No name: the clusters are listed.
    command(&t, "cluster");
    t.wait_screen("the cluster list", SOON, |s| {
        let m = message_line(s);
        m.contains("clusters:")
            && m.contains("test (current)")
            && m.contains("other")
            && m.contains("broken")
    });

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

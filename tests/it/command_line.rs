//! The `:` command line in a real terminal (tmux driving the built binary): Tab completion,
//! Up/Down history kept across runs in the state dir, `:cluster` alone opening a picker with the
//! clusters' readonly/accent marks, `:cluster -`, `:readonly`, `:theme`, `:sort`, `:filter`,
//! `:keys`; `/` on an active filter with the old text selected; a bad regex keeping the prompt.

use crate::common;

use common::tmux::{Tmux, SOON};
use common::Etcd;

fn seed(etcd: &Etcd) {
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
        "/services/db/db-1",
        r#"{"addr":"10.0.1.1","port":5432}"#,
    ]);
}

#[test]
fn completion_history_across_runs_and_one_way_readonly() {
    let state = tempfile::tempdir().unwrap();
    let state_home = state.path().display().to_string();
    let t = Tmux::sized("opsconsole-cmdline", 120, 30)
        .env("XDG_STATE_HOME", &state_home)
        .start(&["--demo"]);
    t.wait_text("Members");
    // Tab completes the command…
    t.send(&[":"]);
    t.type_text("rea");
    t.send(&["Tab"]);
    t.wait_text(":readonly ");
    t.send(&["Enter"]);
    let screen = t.wait_text("READONLY");
    assert!(
        screen.contains("read-only for the rest of this run"),
        "{screen}"
    );
    // …and the argument of :theme; several candidates are listed.
    t.send(&[":"]);
    t.type_text("theme ");
    t.send(&["Tab"]);
    t.wait_screen("the themes listed", SOON, |s| {
        s.contains("high-contrast") && s.contains("light")
    });
    t.type_text("l");
    t.send(&["Tab", "Enter"]);
    t.wait_text("theme light");
    // Nothing turns read-only off.
    t.send(&[":"]);
    t.type_text("readonly off");
    t.send(&["Enter"]);
    t.wait_text("nothing turns it off");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
    let history = std::fs::read_to_string(state.path().join("opsconsole/history")).unwrap();
    assert_eq!(
        history.lines().collect::<Vec<_>>(),
        ["readonly", "theme light", "readonly off"]
    );

    // The next run has the history: Up walks back, Down returns to what was typed.
    let t = Tmux::sized("opsconsole-cmdline2", 120, 30)
        .env("XDG_STATE_HOME", &state_home)
        .start(&["--demo"]);
    t.wait_text("Members");
    t.send(&[":"]);
    t.type_text("so");
    t.send(&["Up"]);
    t.wait_text(":readonly off");
    t.send(&["Up"]);
    t.wait_text(":theme light");
    t.send(&["Down", "Down"]);
    t.wait_screen("the draft back", SOON, |s| {
        s.lines().any(|l| l.starts_with(":so"))
    });
    t.send(&["Tab"]);
    t.wait_text(":sort ");
    t.type_text("inst");
    t.send(&["Tab", "Enter"]);
    t.wait_text("members sorted by instance");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

#[test]
fn cluster_picker_with_marks_and_back() {
    let etcd = Etcd::start();
    seed(&etcd);
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[clusters.alpha]\netcd = {{ endpoints = [\"{e}\"] }}\n[clusters.prod]\nreadonly = true\naccent = \"red\"\netcd = {{ endpoints = [\"{e}\"] }}\n",
            e = etcd.endpoint()
        ),
    )
    .unwrap();
    let t = Tmux::sized("opsconsole-picker", 120, 30).start(&[
        "--config",
        config.to_str().unwrap(),
        "--cluster",
        "alpha",
    ]);
    t.wait_text("web-1");
    t.send(&[":"]);
    t.type_text("cluster");
    t.send(&["Enter"]);
    let screen = t.wait_screen("the picker with the marks", SOON, |s| {
        s.contains("Clusters") && s.contains("READONLY") && s.contains("accent red")
    });
    assert!(screen.contains("current"), "{screen}");
    t.send(&["j", "Enter"]);
    let screen = t.wait_text("switched to cluster prod");
    assert!(screen.contains("READONLY"), "{screen}");
    t.send(&[":"]);
    t.type_text("cluster -");
    t.send(&["Enter"]);
    t.wait_text("switched to cluster alpha");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

#[test]
fn filter_replaces_the_selected_text_and_a_bad_regex_keeps_the_prompt() {
    let etcd = Etcd::start();
    seed(&etcd);
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[clusters.test]\netcd = {{ endpoints = [\"{}\"] }}\n",
            etcd.endpoint()
        ),
    )
    .unwrap();
    let t = Tmux::sized("opsconsole-filter", 120, 30).start(&[
        "--config",
        config.to_str().unwrap(),
        "--cluster",
        "test",
    ]);
    t.wait_text("db-1");
    t.send(&[":"]);
    t.type_text("filter web");
    t.send(&["Enter"]);
    t.wait_gone("db-1");
    // `/` starts with "web" selected: typing replaces it.
    t.send(&["/"]);
    t.type_text("db");
    t.send(&["Enter"]);
    let screen = t.wait_text("db-1");
    assert!(!screen.contains("web-1"), "{screen}");
    // A bad regex: the filter in force stays, the prompt stays open, the error once.
    t.send(&["/"]);
    t.type_text("web-(");
    t.send(&["Enter"]);
    let screen = t.wait_text("bad filter regex: unclosed group");
    assert_eq!(
        screen.matches("bad filter regex").count(),
        1,
        "said once: {screen}"
    );
    assert!(!screen.contains("error: error"), "{screen}");
    assert!(screen.lines().any(|l| l.starts_with("/web-(")), "{screen}");
    assert!(
        screen.contains("db-1") && !screen.contains("web-2"),
        "{screen}"
    );
    t.send(&["BSpace"]);
    t.send(&["Enter"]);
    t.wait_text("web-2");
    // :keys opens the help.
    t.send(&[":"]);
    t.type_text("keys");
    t.send(&["Enter"]);
    t.wait_text("active bindings");
    t.escape();
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

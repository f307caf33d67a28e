//! A panic in a source task, in a real terminal: the pane whose source panicked says
//! `failed: internal error`, every other pane keeps working, nothing is printed over the screen,
//! and the backtrace is in the log file.
//!
//! No config can make a source panic any more (the numbers that did are refused at load), so the
//! console is this test binary run again inside tmux (`CHILD` set): it calls the same `app::run`
//! as `opsconsole`, with the panic hook and the log file of the binary, on a profile whose etcd
//! connect timeout is `Duration::MAX` — the etcd source then panics in its own code
//! (`overflow when adding durations`), as it did for `connect_timeout_secs = 18446744073709551615`.
//! The checks pane runs on a real Alertmanager meanwhile; etcd is real too.
//!
//! A panic in the main loop (the terminal restored, one line on stderr, exit 101) is in
//! `terminal_safety`.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::tmux::{Settle, Tmux, SOON};
use common::{Alertmanager, Etcd};
use opsconsole::app::{self, Exit, Settings};
use opsconsole::config::Config;
use opsconsole::keymap::Keymap;
use opsconsole::theme::Theme;

/// Set in the child: the etcd endpoint, the Alertmanager URL.
const CHILD: &str = "OPSCONSOLE_TEST_CHILD_CONSOLE";

#[test]
fn source_task_panic_fails_its_pane_and_nothing_reaches_the_screen() {
    if let Ok(spec) = std::env::var(CHILD) {
        return run_child_console(&spec);
    }
    let etcd = Etcd::start();
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    ]);
    let am = Alertmanager::start();
    am.fire(&[("DiskFull", "db-1", "critical")]);

    let exe = std::env::current_exe().expect("the test binary");
    let spec = format!("{} {}", etcd.endpoint(), am.url());
    let t = Tmux::sized("opsconsole-panics", 120, 35)
        .program(&exe)
        .env(CHILD, &spec)
        .settle(Settle::Off)
        .start(&[
            "panics::source_task_panic_fails_its_pane_and_nothing_reaches_the_screen",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ]);
    let screen = t.wait_screen(
        "the members pane saying its source failed, the checks pane live, discovery stopped",
        SOON,
        |s| {
            s.contains("etcd failed: internal error")
                && s.contains("db-1")
                && s.contains("checks ● live")
                && s.contains("stopped after an internal error")
        },
    );
    assert_eq!(t.alternate_on(), "1", "the console is still up:\n{screen}");
    assert!(
        screen.contains("etcd ✖ failed"),
        "the status bar marks etcd failed:\n{screen}"
    );
    // Discovery (for the metrics and logs panes) connects with the same profile and panics too.
    assert!(
        screen.contains("discovery under /config/opsconsole/ stopped after an internal error"),
        "the status line says discovery stopped:\n{screen}"
    );
    let raw = t.raw_output();
    for leaked in ["panicked", "overflow when adding durations", "backtrace"] {
        assert!(
            !raw.contains(leaked),
            "{leaked:?} was written to the terminal:\n{screen}"
        );
    }
    let log = wait_log(&t, "overflow when adding durations");
    assert!(
        log.contains("panic") && log.contains("opsconsole::sources::etcd"),
        "the log has the panic with a backtrace through the etcd source:\n{log}"
    );
    eprintln!(
        "pane: {}",
        screen
            .lines()
            .find(|l| l.contains("etcd failed"))
            .unwrap_or_default()
            .trim()
    );

    // Still answering keys: it quits cleanly and gives the terminal back.
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
}

/// Waits until the console's log file contains `text`; its content.
fn wait_log(t: &Tmux, text: &str) -> String {
    let path = t.state_dir().join("opsconsole.log");
    common::wait_until_or(
        format!("{text:?} to reach {}", path.display()),
        SOON,
        || {
            std::fs::read_to_string(&path)
                .ok()
                .filter(|l| l.contains(text))
        },
        || std::fs::read_to_string(&path).unwrap_or_default(),
    )
}

/// The console, as `opsconsole --cluster test` runs it, on a profile no config file can hold.
fn run_child_console(spec: &str) {
    let (endpoint, am) = spec.split_once(' ').expect("endpoint and Alertmanager URL");
    let toml = format!(
        "[clusters.test]\netcd = {{ endpoints = [\"{endpoint}\"] }}\nchecks = {{ kind = \"alertmanager\", url = \"{am}\", interval_secs = 1 }}\n"
    );
    let config = Config::parse(&toml, Path::new("/child/config.toml")).expect("child profile");
    let mut profile = config.cluster("test").expect("cluster test");
    profile.etcd.as_mut().expect("etcd profile").connect_timeout = Duration::MAX;
    let settings = Settings {
        profile,
        demo: false,
        readonly: false,
        utc: true,
        theme: Theme::resolve(None, None, false).expect("default theme"),
        keymap: Keymap::resolve(None).expect("default keymap"),
        audit_log: opsconsole::paths::default_audit_log(),
        user: "panic-tester".into(),
        clusters: None,
        switched_from: None,
    };
    let _log = opsconsole::logging::init();
    app::install_panic_hook();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(app::run(settings)) {
        Ok(Exit::Quit) => {}
        Ok(_) => panic!("the console stopped for another reason than q"),
        Err(e) => panic!("the console failed: {e:#}"),
    }
}

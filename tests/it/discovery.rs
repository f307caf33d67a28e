//! Discovery from etcd, end to end: a profile that gives only etcd finds its checks backend under
//! `/config/opsconsole/checks`; changing that key moves the pane to the new endpoint live, and a bad
//! value is reported while the running source is kept. Real etcd, two Alertmanager-shaped HTTP
//! servers (the real Alertmanager is covered in the checks tests), the built binary in tmux.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::tmux::Tmux;
use common::{wait_until, write_config, Etcd};

/// How long a screen may take to show what a test waits for.
const SCREEN: Duration = Duration::from_secs(15);

/// The console on cluster `test` of `config`, in tmux (a 160×40 window).
fn start(config: &Path) -> Tmux {
    Tmux::sized("opsconsole-discovery", 160, 40).start(&[
        "--config",
        config.to_str().unwrap(),
        "--cluster",
        "test",
    ])
}

/// The screen once it shows `what` (`pred`) and stands still.
fn wait(t: &Tmux, what: &str, pred: impl Fn(&str) -> bool) -> String {
    t.wait_screen(what, SCREEN, pred)
}

/// An Alertmanager-shaped server: its port, and how many requests it has answered.
struct FakeAlertmanager {
    port: u16,
    answered: Arc<AtomicUsize>,
}

impl FakeAlertmanager {
    fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }

    /// Waits until `n` more requests than now have been answered: the console's source is
    /// running and polling.
    fn wait_polls(&self, n: usize) {
        let target = self.answered() + n;
        wait_until(
            format!("{n} more polls of the server on port {}", self.port),
            Duration::from_secs(15),
            || self.answered() >= target,
        );
    }
}

/// Serves `/api/v2/alerts` with one alert named `alertname`, and `[]` for silences, for the rest of
/// the test.
fn fake_alertmanager(alertname: &'static str) -> FakeAlertmanager {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Drain headers.
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let body = if request_line.contains("/api/v2/alerts") {
                format!(
                    r#"[{{"labels":{{"alertname":"{alertname}","instance":"10.0.0.1:80","severity":"critical"}},"annotations":{{"summary":"from {alertname}"}},"startsAt":"2026-11-25T04:00:00Z","updatedAt":"2026-11-25T04:00:00Z","status":{{"state":"active","silencedBy":[]}}}}]"#
                )
            } else {
                "[]".to_string()
            };
            let mut s = stream;
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    FakeAlertmanager { port, answered }
}

#[test]
fn checks_backend_follows_the_discovery_key() {
    let etcd = Etcd::start();
    let server_b = fake_alertmanager("FromServerB");
    let (a, b) = (fake_alertmanager("FromServerA").port, server_b.port);
    etcd.ctl(&["put", "/services/web/web-1", r#"{"addr":"10.0.0.1:80"}"#]);
    etcd.ctl(&[
        "put",
        "/config/opsconsole/checks",
        &format!(r#"{{"kind":"alertmanager","url":"http://127.0.0.1:{a}","interval_secs":1}}"#),
    ]);
    let (_dir, config) = write_config(&etcd.endpoint(), "/services/", "");
    let t = start(&config);

    wait(&t, "rows from server A", |s| {
        s.contains("FromServerA") && s.contains("Checks (alertmanager)")
    });

    etcd.ctl(&[
        "put",
        "/config/opsconsole/checks",
        &format!(r#"{{"kind":"alertmanager","url":"http://127.0.0.1:{b}","interval_secs":1}}"#),
    ]);
    let s = wait(&t, "rows from server B", |s| s.contains("FromServerB"));
    assert!(
        !s.contains("FromServerA"),
        "old endpoint's rows must go:\n{s}"
    );
    assert!(
        s.contains(&format!("discovered http://127.0.0.1:{b}")),
        "{s}"
    );

    // A bad value is reported; the pane keeps the running source.
    etcd.ctl(&[
        "put",
        "/config/opsconsole/checks",
        r#"{"kind":"nagios","url":"http://x"}"#,
    ]);
    let s = wait(&t, "the invalid-entry message", |s| {
        s.contains("discovery entry is invalid")
    });
    assert!(s.contains("nagios"), "{s}");
    // The running source kept polling after the bad value was read: its rows are still shown.
    server_b.wait_polls(2);
    assert!(t.screen().contains("FromServerB"));

    // Removing the key turns the pane off.
    etcd.ctl(&["del", "/config/opsconsole/checks"]);
    wait(&t, "checks not configured", |s| {
        s.contains("discovery entry removed") && s.contains("not configured")
    });
}

/// Two moves in quick succession (A → B → C): the last backend's rows alone, and nothing called
/// resolved by a move — whatever A or B still had in flight when they were replaced.
#[test]
fn quick_moves_leave_only_the_last_backends_rows_and_resolve_nothing() {
    let etcd = Etcd::start();
    let server_c = fake_alertmanager("FromServerC");
    let (a, b, c) = (
        fake_alertmanager("FromServerA").port,
        fake_alertmanager("FromServerB").port,
        server_c.port,
    );
    let entry = |port: u16| {
        format!(r#"{{"kind":"alertmanager","url":"http://127.0.0.1:{port}","interval_secs":1}}"#)
    };
    etcd.ctl(&["put", "/services/web/web-1", r#"{"addr":"10.0.0.1:80"}"#]);
    etcd.ctl(&["put", "/config/opsconsole/checks", &entry(a)]);
    let (_dir, config) = write_config(&etcd.endpoint(), "/services/", "");
    let t = start(&config);
    wait(&t, "rows from server A", |s| s.contains("FromServerA"));

    etcd.ctl(&["put", "/config/opsconsole/checks", &entry(b)]);
    etcd.ctl(&["put", "/config/opsconsole/checks", &entry(c)]);
    wait(&t, "rows from server C", |s| s.contains("FromServerC"));
    server_c.wait_polls(3);
    let s = t.screen();
    assert!(s.contains("FromServerC"), "{s}");
    for ghost in ["FromServerA", "FromServerB", "resolved"] {
        assert!(!s.contains(ghost), "{ghost} after the moves:\n{s}");
    }
}

#[test]
fn profile_values_override_discovery() {
    let etcd = Etcd::start();
    let server_a = fake_alertmanager("FromProfile");
    let (a, b) = (server_a.port, fake_alertmanager("FromDiscovery").port);
    etcd.ctl(&[
        "put",
        "/config/opsconsole/checks",
        &format!(r#"{{"kind":"alertmanager","url":"http://127.0.0.1:{b}","interval_secs":1}}"#),
    ]);
    // A pane the profile leaves out is discovered: its (bad) entry is read in the same pass as
    // the checks one, and the message about it shows that the pass has happened.
    etcd.ctl(&["put", "/config/opsconsole/logs", r#"{"kind":"nagios"}"#]);
    let (_dir, config) = write_config(
        &etcd.endpoint(),
        "/services/",
        &format!("checks = {{ kind = \"alertmanager\", url = \"http://127.0.0.1:{a}\", interval_secs = 1 }}"),
    );
    let t = start(&config);
    let s = wait(
        &t,
        "rows from the profile's backend, and discovery done",
        |s| s.contains("FromProfile") && s.contains("discovery entry is invalid"),
    );
    server_a.wait_polls(2);
    let s2 = t.screen();
    assert!(
        !s.contains("FromDiscovery") && !s2.contains("FromDiscovery"),
        "{s2}"
    );
}

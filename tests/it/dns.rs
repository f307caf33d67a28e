//! DNS that does not answer (issue 27, stalls): the binary in tmux, in a private mount namespace
//! whose `/etc/resolv.conf` points at a test name server that drops every query; etcd and
//! Alertmanager (both real, on loopback) are named `*.opsconsole.test`. The panes must give up
//! within the console's own timeouts (glibc is told to wait 30 s × 5 tries), keep what they
//! showed, and come back by themselves once the name server answers; live connections must not
//! notice the resolver dying later.

use std::time::{Duration, Instant};

use crate::common::dns::{NameServer, DOMAIN};
use crate::common::e2e::has_row;
use crate::common::tmux::{Tmux, BIN, SOON, TTY_REPORT};
use crate::common::{write_config, Alertmanager, Etcd};

/// The console's timeouts for this test: `timeout_secs = 1` for Alertmanager, etcd's connect
/// timeout 2 s. A pane that gives up later than this plus a margin for a loaded machine was
/// waiting for the resolver.
const GIVE_UP: Duration = Duration::from_secs(12);

fn named(url: &str, host: &str) -> String {
    url.replace("127.0.0.1", &format!("{host}.{DOMAIN}"))
}

#[test]
fn a_silent_resolver_is_bounded_by_the_timeouts_and_the_panes_recover_by_themselves() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", r#"{"addr":"10.0.0.1"}"#]);
    etcd.ctl(&["put", "/services/web/web-2", r#"{"addr":"10.0.0.2"}"#]);
    let am = Alertmanager::start();
    am.fire(&[("DiskFull", "web-1", "critical")]);
    let ns = NameServer::start();

    let etcd_url = named(&etcd.endpoint(), "etcd");
    let am_url = named(&am.url(), "am");
    let (_dir, config) = write_config(
        &etcd_url,
        "/services/",
        &format!(
            "checks = {{ kind = \"alertmanager\", url = \"{am_url}\", timeout_secs = 1, interval_secs = 1 }}\n"
        ),
    );
    let config_text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        config_text.replace(
            "prefix = \"/services/\" }",
            "prefix = \"/services/\", connect_timeout_secs = 2 }",
        ),
    )
    .expect("config");
    let body = format!(
        "{}\necho \"EXIT=$?\"\n{TTY_REPORT}sleep 120\n",
        ns.run_with_resolver(std::path::Path::new(BIN))
    );
    let t = Tmux::sized("dns", 200, 50).script(&body).start(&[
        "--cluster",
        "test",
        "--config",
        config.to_str().expect("utf-8 path"),
    ]);

    // 1. The resolver never answers: both panes give up by the console's timeouts.
    let started = Instant::now();
    let s = t.wait_screen(
        "etcd and Alertmanager both given up on while the resolver is silent",
        GIVE_UP,
        |s| {
            s.contains(&format!("etcd etcd.{DOMAIN}:"))
                && s.contains("alertmanager did not answer in time")
                && s.matches("did not answer in time").count() >= 2
        },
    );
    let gave_up = started.elapsed();
    assert!(
        ns.queries.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the console's lookups reached the test's name server:\n{s}"
    );
    assert!(!has_row(&s, "web-1"), "{s}");
    println!("gave up on a silent resolver after {gave_up:.1?}");

    // 2. The resolver answers: both come back without a key pressed.
    ns.answer();
    let healed = Instant::now();
    let s = t.wait_screen("members and the alert once names resolve", SOON * 2, |s| {
        has_row(s, "web-1") && has_row(s, "web-2") && s.contains("DiskFull")
    });
    println!(
        "live again {:.1?} after the resolver answered",
        healed.elapsed()
    );
    assert!(!s.contains("did not answer in time"), "{s}");

    // 3. The resolver dies mid-session: the connections made stay up, the watch keeps working.
    ns.go_silent();
    std::thread::sleep(Duration::from_secs(4));
    etcd.ctl(&["put", "/services/web/web-3", r#"{"addr":"10.0.0.3"}"#]);
    let s = t.wait_screen("a member written after the resolver died", SOON, |s| {
        has_row(s, "web-3")
    });
    assert!(s.contains("DiskFull"), "{s}");
    assert!(!s.contains("did not answer in time"), "{s}");

    // 4. `q` with a lookup possibly still stuck in the silent resolver: the console exits at once
    // (the runtime does not wait for the blocked lookup thread) and gives the terminal back.
    let asked = Instant::now();
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    println!("exited {:.1?} after q", asked.elapsed());
    t.assert_terminal_restored();
}

//! Clock jumps, end to end: the binary in tmux against a real etcd, its view of the system clock
//! moved ±1 h while it runs (`OPSCONSOLE_TEST_WALL_OFFSET_FILE`, a test-only hook read by
//! `opsconsole::clock::system_wall`; the machine's clock is never touched). Ages and lease TTL
//! countdowns must go on as if nothing happened — the console keeps its own clock (`src/clock.rs`:
//! the wall time at start + the boot clock) — and the step is said once on the message line.

use crate::common;

use common::e2e::{message_line, row, web_fleet, HEIGHT, WIDTH};
use common::tmux::{Tmux, SOON};

/// Long enough for a 600 s lease's countdown to pass 9m55s on a loaded machine.
const LATER: std::time::Duration = std::time::Duration::from_secs(30);

/// The TTL cell of a lease granted 600 s ago at most: `9m..s` or `10m00s` (the pane rounds down).
fn ttl_is_sane(row: &str) -> bool {
    row.split_whitespace()
        .any(|w| (w.starts_with("9m") && w.ends_with('s')) || w == "10m00s")
}

/// An AGE of the member registered a few seconds ago: no hour in the row, no `0s` stuck.
fn no_hour_in(row: &str) -> bool {
    !row.split_whitespace()
        .any(|w| w.contains('h') && w.chars().next().is_some_and(|c| c.is_ascii_digit()))
}

/// The AGE cell of a member registered seconds ago: `12s`.
fn has_seconds_age(row: &str) -> bool {
    row.split_whitespace().any(|w| {
        w.strip_suffix('s')
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

#[test]
fn a_wall_clock_jump_of_an_hour_either_way_moves_no_age_and_no_countdown() {
    let f = web_fleet("");
    let dir = tempfile::tempdir().unwrap();
    let offset = dir.path().join("wall-offset");
    std::fs::write(&offset, "0").unwrap();
    let config = f.config.to_str().expect("utf-8 temp path");
    let t = Tmux::sized("opsconsole-clock", WIDTH, HEIGHT)
        .env(
            "OPSCONSOLE_TEST_WALL_OFFSET_FILE",
            offset.to_str().expect("utf-8 temp path"),
        )
        .start(&["--cluster", "test", "--config", config]);
    t.wait_screen("web-1 and web-2", SOON, |s| {
        row(s, "web-1").is_some() && row(s, "web-2").is_some()
    });
    // A member on a 600 s lease, registered while the console watches (so it has an age).
    let granted = f.etcd.ctl(&["lease", "grant", "600"]);
    let lease = granted
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("etcdctl lease grant said {granted:?}"));
    f.etcd.ctl(&[
        "put",
        "--lease",
        lease,
        "/services/web/web-3",
        r#"{"addr":"10.0.0.3","port":80}"#,
    ]);
    t.wait_screen("web-3 with its TTL", SOON, |s| {
        row(s, "web-3").is_some_and(|r| ttl_is_sane(&r))
    });

    for (secs, said) in [
        ("3600", "the system clock jumped +1h"),
        ("-3600", "the system clock jumped -1h"),
        ("0", "the system clock agrees with the console's again"),
    ] {
        std::fs::write(&offset, secs).unwrap();
        let s = t.wait_screen(&format!("{said:?} on the message line"), SOON, |s| {
            message_line(s).contains(said)
        });
        let web3 = row(&s, "web-3").unwrap_or_else(|| panic!("web-3 gone:\n{s}"));
        assert!(
            ttl_is_sane(&web3),
            "the TTL countdown moved with the wall clock ({secs} s): {web3}\n{s}"
        );
        assert!(
            has_seconds_age(&web3),
            "web-3 has no age in seconds ({secs} s): {web3}\n{s}"
        );
        assert!(
            no_hour_in(&web3),
            "an age moved with the wall clock ({secs} s): {web3}\n{s}"
        );
        assert!(!s.contains("STALE"), "a pane went stale ({secs} s):\n{s}");
    }
    // Still counting down a while later, by the console's clock.
    let s = t.wait_screen("web-3's TTL below 9m55s", LATER, |s| {
        row(s, "web-3").is_some_and(|r| {
            r.split_whitespace().any(|w| {
                w.strip_prefix("9m")
                    .and_then(|x| x.strip_suffix('s'))
                    .and_then(|x| x.parse::<u32>().ok())
                    .is_some_and(|x| x < 55)
            })
        })
    });
    assert!(!s.contains("STALE"), "{s}");
}

//! The time cursor (`:at`, issue 21) against a real etcd: the members shown at a moment are
//! exactly what etcd had at the revision the console's revision clock maps it to (compared with
//! `etcdctl get --prefix --rev R`), the clock survives a restart of the console, a moment before
//! the clock says so, and a moment below etcd's compaction says where it compacted and shows the
//! nearest revision there is.

use crate::common;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use opsconsole::model::revclock::Pair;
use opsconsole::state::time_cursor::MembersAt;

use common::etcd_console::{
    cluster, etcd_members, etcd_revision, members_from_etcdctl, profile, Console, Etcdctl, Members,
    LIVE, PREFIX,
};
use common::Etcd;

/// A pair reaches the clock within a second of a change, or at the next progress notification
/// (the profile's keepalive, 5 s) on a quiet store.
const CLOCKED: Duration = Duration::from_secs(12);

/// The console with its revision clocks in `dir` (the same dir across restarts).
fn console(etcd: &Etcd, dir: &Path) -> Console {
    let dir = dir.to_path_buf();
    Console::with_settings(cluster(profile(&[etcd.endpoint()])), move |s| {
        s.clock_dir = Some(dir)
    })
}

/// Every pair in the clock files under `dir`.
fn clock_pairs(dir: &Path) -> Vec<Pair> {
    let mut pairs = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.path().extension().is_some_and(|e| e == "revclock") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            pairs.extend(text.lines().filter_map(Pair::parse));
        }
    }
    pairs
}

/// Waits until the clock on disk holds a pair at or past `revision`.
async fn until_clocked(c: &mut Console, dir: &Path, revision: i64) {
    c.until(
        CLOCKED,
        &format!("the clock file holds revision {revision}"),
        |_| clock_pairs(dir).iter().any(|p| p.revision >= revision),
    )
    .await;
}

/// `:at TIME` typed on the command line (after the app's clock tick, as in the app, so the
/// console's now is now).
fn at(c: &mut Console, when: &str) {
    c.h.tick();
    c.h.press(":");
    c.h.type_text(&format!("at {when}"));
    c.h.press("enter");
}

fn live(c: &mut Console) {
    c.h.press(":");
    c.h.type_text("live");
    c.h.press("enter");
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// etcd's members at `revision`, through etcdctl.
fn etcd_members_at(etcd: &Etcd, revision: i64) -> Members {
    members_from_etcdctl(&etcd.etcdctl_ok(&[
        "get",
        "--prefix",
        PREFIX,
        "--rev",
        &revision.to_string(),
        "-w",
        "json",
    ]))
}

/// Waits for the members pane to show the past (or say why not).
async fn until_answered(c: &mut Console) -> MembersAt {
    c.until(LIVE * 3, "the members at the cursor's time", |c| {
        !matches!(c.state().time.members, MembersAt::Reading | MembersAt::Live)
    })
    .await;
    c.state().time.members.clone()
}

fn status(c: &Console) -> String {
    c.state()
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_at_a_time_are_what_etcd_had_then_across_restarts_and_compaction() {
    let etcd = Etcd::start();
    let clocks = tempfile::tempdir().expect("tempdir for the revision clocks");
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);

    let mut c = console(&etcd, clocks.path());
    c.until(LIVE * 2, "listed and live", |c| {
        c.is_live() && !c.snapshots.is_empty()
    })
    .await;
    let before = etcd_revision(&etcd);
    until_clocked(&mut c, clocks.path(), before).await;
    let t1 = Utc::now();

    // Then the fleet changes: one joins, one leaves.
    etcd.ctl(&["put", "/services/web/web-3", "10.0.0.3:80"]);
    etcd.ctl(&["del", "/services/web/web-1"]);
    let after = etcd_revision(&etcd);
    c.until(LIVE, "the live set follows etcd", |c| {
        c.members() == etcd_members(&etcd)
    })
    .await;
    until_clocked(&mut c, clocks.path(), after).await;

    // At t1 the pane shows exactly what etcd had at the revision the clock gives.
    at(&mut c, &rfc3339(t1));
    let shown = until_answered(&mut c).await;
    let MembersAt::Shown {
        revision,
        compacted: None,
        ..
    } = shown
    else {
        panic!("members at t1: {shown:?} ({})", status(&c));
    };
    assert_eq!(revision, before, "the newest revision seen at or before t1");
    let then = etcd_members_at(&etcd, revision);
    assert_eq!(then.len(), 2);
    assert_eq!(
        c.members(),
        then,
        "console at t1 == etcdctl get --rev {revision}"
    );
    assert_ne!(c.members(), etcd_members(&etcd));
    // Changes are refused while the past is on screen.
    c.select("/services/web/web-1");
    c.h.press("D");
    assert!(c.state().popup.is_none());
    assert!(status(&c).contains("not live"), "{}", status(&c));
    // Back to live: the live set, as etcd has it now.
    live(&mut c);
    assert_eq!(c.members(), etcd_members(&etcd));

    // A new run of the console maps t1 the same way (the clock is on disk).
    drop(c);
    let mut c = console(&etcd, clocks.path());
    c.until(LIVE * 2, "listed and live again", |c| {
        c.is_live() && !c.snapshots.is_empty()
    })
    .await;
    at(&mut c, &rfc3339(t1));
    let shown = until_answered(&mut c).await;
    assert!(
        matches!(shown, MembersAt::Shown { revision: r, compacted: None, .. } if r == before),
        "after a restart: {shown:?} ({})",
        status(&c)
    );
    assert_eq!(c.members(), etcd_members_at(&etcd, before));

    // Before the clock's first pair: said.
    at(&mut c, "-1h");
    let shown = until_answered(&mut c).await;
    assert!(matches!(shown, MembersAt::Unknown(_)), "{shown:?}");
    assert!(
        status(&c).contains("no revision known before"),
        "{}",
        status(&c)
    );

    // Below etcd's compaction: where it compacted, and the nearest revision there is.
    live(&mut c);
    etcd.ctl(&["compact", &after.to_string()]);
    at(&mut c, &rfc3339(t1));
    let shown = until_answered(&mut c).await;
    assert!(
        matches!(shown, MembersAt::Shown { revision: r, compacted: Some(_), .. } if r == after),
        "below the compaction: {shown:?} ({})",
        status(&c)
    );
    assert!(
        status(&c).contains(&format!("compacted at rev {after} ≈ ")),
        "{}",
        status(&c)
    );
    assert_eq!(c.members(), etcd_members_at(&etcd, after));
}

// ---------------------------------------------------------------------------------------------
// Metrics at T: the window ends at the cursor's moment (a real Prometheus)

fn exposition(cpu: f64) -> String {
    format!("# TYPE app_cpu gauge\napp_cpu{{instance=\"web-1\"}} {cpu}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_at_a_time_end_the_window_there() {
    use common::metrics_servers::{ExpositionTarget, Prometheus};
    use common::metrics_source::{member, ok, profile, query, source};
    use opsconsole::model::Window;

    let target = ExpositionTarget::start(&exposition(42.0)).await;
    let mut prom = tokio::task::block_in_place(|| Prometheus::start(target.port()));
    tokio::task::block_in_place(|| prom.wait_for_series("app_cpu", Duration::from_secs(30)));
    let src = source(profile(
        "prometheus",
        &prom.url(),
        &[r#"{ name = "cpu", query = 'app_cpu{instance="{instance}"}' }"#],
    ));
    let live = query(member("web-1"), Window::M15, 900);
    let last = |r: &opsconsole::model::MetricsResult| ok(r, "cpu").last;
    // 42 held for a few scrapes, then the moment, then 50.
    let scrapes = target.scrapes();
    common::wait_until_async("three scrapes of 42", Duration::from_secs(10), || async {
        if target.scrapes() >= scrapes + 3 {
            Ok(())
        } else {
            Err(format!("{} scrapes", target.scrapes()))
        }
    })
    .await;
    let t = Utc::now();
    target.set(&exposition(50.0));
    common::wait_until_async("50 live", Duration::from_secs(10), || async {
        let r = src.fetch(&live).await.expect("fetch");
        if last(&r) == Some(50.0) {
            Ok(())
        } else {
            Err(format!("{:?}", last(&r)))
        }
    })
    .await;

    // At t: the window ends there, so its newest value is 42 and 50 is nowhere in it.
    let at_t = opsconsole::model::MetricsQuery {
        end: Some(t),
        ..live.clone()
    };
    let r = src.fetch(&at_t).await.expect("fetch at t");
    let cpu = ok(&r, "cpu");
    assert_eq!(cpu.last, Some(42.0), "{:?}", &cpu.points[880..]);
    assert_eq!(cpu.max, Some(42.0));
    assert_eq!(*cpu.points.last().unwrap(), Some(42.0));
    // Back to live: 50 again.
    let r = src.fetch(&live).await.expect("fetch live");
    assert_eq!(last(&r), Some(50.0));
}

// ---------------------------------------------------------------------------------------------
// Checks at T: from Sensu Go's history (its documented event shape, over real HTTP)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_at_a_time_come_from_sensu_go_history() {
    use common::checks_console::ChecksConsole;
    use common::sensu::{go_event, go_server, now, profile, set_env, GoFake, KEY_VAR};

    set_env();
    // 21 executions a minute apart: OK until 3 minutes ago, CRIT for the last three.
    let fake = GoFake::new(vec![go_event("web-1", "check_http", 2, now())]);
    let server = go_server(&fake).await;
    let polled_every_second = profile(
        "sensu-go",
        &server.url,
        &format!(", api_key_env = \"{KEY_VAR}\", timeout_secs = 5, interval_secs = 1"),
    );
    let mut c = ChecksConsole::start(polled_every_second, "sensu-go");
    c.until(LIVE, "the check", |c| c.state().checks.results.len() == 1)
        .await;
    let row = |c: &ChecksConsole| c.state().checks.results[0].clone();
    assert_eq!(row(&c).status, 2);

    let at = |c: &mut ChecksConsole, when: &str| {
        c.h.tick();
        c.h.press(":");
        c.h.type_text(&format!("at {when}"));
        c.h.press("enter");
    };
    at(&mut c, "-10m");
    assert_eq!(row(&c).status, 0, "OK ten minutes ago: {:?}", row(&c));
    assert!(row(&c).output.contains("from its history (now: CRIT)"));
    at(&mut c, "-1m");
    assert_eq!(row(&c).status, 2, "CRIT a minute ago");
    at(&mut c, "-30m");
    assert_eq!(row(&c).status, 3, "before the 21 executions: unknown");
    assert!(row(&c).output.contains("history starts later"));
    // The next poll keeps the past on screen (rebuilt from the newer history).
    let polls = server.requests().len();
    c.until(LIVE * 2, "another poll", |_| {
        server.requests().len() > polls
    })
    .await;
    c.until(LIVE, "the poll applied", |c| {
        c.state().checks.results.len() == 1
    })
    .await;
    assert_eq!(row(&c).status, 3);
    // Live again: the check as Sensu says now.
    c.h.press(":");
    c.h.type_text("live");
    c.h.press("enter");
    assert_eq!(row(&c).status, 2);
    assert!(row(&c).output.starts_with("check_http says 2"));
}

// ---------------------------------------------------------------------------------------------
// `opsconsole snapshot --at TIME`: the same picture, from the clock the console kept

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_at_a_time_writes_the_members_etcd_had_then() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let (dir, cfg) = common::write_config(&etcd.endpoint(), PREFIX, "");
    // The console keeps its clock where the CLI run with this XDG_STATE_HOME reads it.
    let state_home = dir.path().join("state");
    let clocks = state_home.join("opsconsole").join("revclock");
    let mut c = console(&etcd, &clocks);
    c.until(LIVE * 2, "listed and live", |c| {
        c.is_live() && !c.snapshots.is_empty()
    })
    .await;
    let before = etcd_revision(&etcd);
    until_clocked(&mut c, &clocks, before).await;
    let t1 = Utc::now();
    etcd.ctl(&["put", "/services/web/web-3", "10.0.0.3:80"]);
    etcd.ctl(&["del", "/services/web/web-1"]);
    until_clocked(&mut c, &clocks, etcd_revision(&etcd)).await;
    drop(c);

    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_opsconsole"))
            .args(["--config", cfg.to_str().unwrap(), "--utc", "snapshot"])
            .args(["--cluster", "test"])
            .args(extra)
            .env("XDG_STATE_HOME", &state_home)
            .output()
            .expect("running opsconsole snapshot")
    };
    let out = run(&["--at", &rfc3339(t1), "--format", "json"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(v["members"]["revision"].as_i64(), Some(before), "{v:#}");
    let keys: Vec<&str> = v["members"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    let then: Vec<String> = etcd_members_at(&etcd, before)
        .into_keys()
        .map(|k| String::from_utf8(k).unwrap())
        .collect();
    assert_eq!(keys, then, "snapshot --at == etcdctl get --rev {before}");
    assert_eq!(
        v["at"].as_str(),
        Some(t1.to_rfc3339_opts(SecondsFormat::Secs, true).as_str())
    );

    let out = run(&["--at", &rfc3339(t1)]);
    let md = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(md.contains("**At "), "{md}");
    assert!(md.contains(&format!("at etcd revision {before}")), "{md}");

    // Before the clock: said, not guessed.
    let out = run(&["--at", "-2h"]);
    let md = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(md.contains("no revision known before"), "{md}");
    // A time that cannot be read is a usage error, with nothing on stdout.
    let out = run(&["--at", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the time"));
}

// ---------------------------------------------------------------------------------------------
// Checks at T with Alertmanager and a Prometheus: an alert resolved since is shown as firing then
// (real Prometheus with an alerting rule, real Alertmanager)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_resolved_since_show_at_their_time_from_prometheus_alerts() {
    use common::headless::Headless;
    use common::metrics_servers::{ExpositionTarget, Prometheus};
    use opsconsole::model::{Health, SourceKind};

    let rules = "groups:\n- name: t\n  rules:\n  - alert: HighCpu\n    expr: app_cpu > 45\n    labels:\n      severity: critical\n";
    let target = ExpositionTarget::start(&exposition(50.0)).await;
    let mut prom =
        tokio::task::block_in_place(|| Prometheus::with_rules(target.port(), Some(rules)));
    tokio::task::block_in_place(|| {
        prom.wait_for_series(r#"ALERTS{alertstate="firing"}"#, Duration::from_secs(40))
    });
    let firing_then = Utc::now();
    // The alert resolves: Alertmanager would forget it; Prometheus's ALERTS keeps its past.
    target.set(&exposition(40.0));
    let alerts_now = format!(
        "/api/v1/query?query={}",
        urlencoding::encode(r#"ALERTS{alertstate="firing"}"#)
    );
    tokio::task::block_in_place(|| {
        common::wait_until(
            "the alert resolved",
            Duration::from_secs(20),
            || match common::http(prom.port, "GET", &alerts_now, None) {
                Some((200, body)) if !body.contains("HighCpu") => Ok(()),
                other => Err(format!("{other:?}")),
            },
        )
    });
    let am = tokio::task::block_in_place(common::Alertmanager::start);

    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"], prefix = \"/services/\" }}\n\
         checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}\n\
         metrics = {{ kind = \"prometheus\", url = \"{}\", series = [{{ name = \"cpu\", query = 'app_cpu' }}] }}\n",
        am.url(),
        prom.url()
    );
    let profile = opsconsole::config::Config::parse(&toml, Path::new("/test/config.toml"))
        .expect("profile")
        .cluster("t")
        .expect("cluster t")
        .clone();
    let mut h = Headless::with(profile, |s| s.zone = opsconsole::model::DisplayZone::Utc);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while h.state().health_of(SourceKind::Checks) != Some(&Health::Live) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "alertmanager never live"
        );
        if let Ok(Some(m)) = h.next(Duration::from_millis(200)).await {
            h.apply(m);
        }
    }
    assert!(h.state().checks.results.is_empty(), "nothing fires now");
    h.tick();
    h.press(":");
    h.type_text(&format!("at {}", rfc3339(firing_then)));
    h.press("enter");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while h.state().time.alerts.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no ALERTS answer: {:?}",
            h.state().status
        );
        if let Ok(Some(m)) = h.next(Duration::from_millis(200)).await {
            h.apply(m);
        }
    }
    let rows = &h.state().checks.results;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].check, "HighCpu");
    assert_eq!(rows[0].status, 2, "severity critical");
    assert!(
        rows[0].output.contains("resolved since"),
        "{}",
        rows[0].output
    );
    assert_eq!(
        opsconsole::state::time_cursor::pane_note(h.state(), opsconsole::state::Pane::Checks)
            .as_deref(),
        Some(
            format!(
                "at {} from Prometheus ALERTS",
                opsconsole::state::time_cursor::shown(
                    firing_then,
                    opsconsole::model::DisplayZone::Utc
                )
            )
            .as_str()
        )
    );
    // Live again: Alertmanager's (empty) list.
    h.press(":");
    h.type_text("live");
    h.press("enter");
    assert!(h.state().checks.results.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The read at a revision is paged and bounded like the live listing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_at_a_revision_are_read_in_pages_and_a_capped_read_says_partial() {
    use opsconsole::sources::etcd_at::{members_at_revision, Bounds};

    let etcd = Etcd::start();
    // Three key ranges (api, db, web); web holds more keys than a first page of 2.
    for k in ["api/a-1", "api/a-2", "db/d-1"] {
        etcd.ctl(&["put", &format!("{PREFIX}{k}"), "10.0.0.9:80"]);
    }
    for i in 1..=5 {
        etcd.ctl(&[
            "put",
            &format!("{PREFIX}web/web-{i}"),
            &format!("10.0.0.{i}:80"),
        ]);
    }
    let then = etcd_revision(&etcd);
    // Later changes must not leak into the read at `then`.
    etcd.ctl(&["del", &format!("{PREFIX}web/web-2")]);
    etcd.ctl(&["put", &format!("{PREFIX}web/web-6"), "10.0.0.6:80"]);
    etcd.ctl(&["put", &format!("{PREFIX}api/a-1"), "10.0.0.99:80"]);

    let client = opsconsole::sources::etcd::connect(&profile(&[etcd.endpoint()]))
        .await
        .expect("connect");
    let as_members = |m: &[opsconsole::model::Member]| -> Members {
        m.iter()
            .map(|m| {
                let value = String::from_utf8_lossy(m.value()).into_owned();
                (m.key().to_vec(), (value, m.mod_revision, m.lease))
            })
            .collect()
    };
    let small_pages = Bounds {
        first_page: 2,
        max_members: 100,
        budget: Duration::from_secs(30),
    };
    let (members, partial) = members_at_revision(&client, PREFIX, then, small_pages)
        .await
        .expect("read at then");
    let expected = etcd_members_at(&etcd, then);
    assert_eq!(expected.len(), 8);
    assert_eq!(
        as_members(&members),
        expected,
        "== etcdctl get --rev {then}"
    );
    assert_eq!(partial, None);

    // Capped below the fleet: the first members in key order, and how many there were.
    let capped = Bounds {
        max_members: 3,
        ..small_pages
    };
    let (members, partial) = members_at_revision(&client, PREFIX, then, capped)
        .await
        .expect("capped read");
    let first3: Members = expected.clone().into_iter().take(3).collect();
    assert_eq!(as_members(&members), first3);
    let partial = partial.expect("a capped read is partial");
    assert_eq!((partial.read, partial.total), (3, Some(8)));
    assert_eq!(partial.describe(), "partial: 3 of 8 (cap 3 members)");
    // Exactly at the cap is whole, not partial.
    let exact = Bounds {
        max_members: 8,
        ..small_pages
    };
    let (members, partial) = members_at_revision(&client, PREFIX, then, exact)
        .await
        .expect("read at the cap");
    assert_eq!((members.len(), partial), (8, None));
}

// ---------------------------------------------------------------------------------------------
// Members written at known times: the revision clock's recorder driven by the test's clock

/// A clock the test sets; each reading after a set is one second later than the one before, so
/// observations at one setting are not all in the same second (the recorder keeps at most one
/// pair a second and would drop the later revisions).
#[derive(Clone)]
struct TestClock(std::sync::Arc<std::sync::Mutex<DateTime<Utc>>>);

impl TestClock {
    fn new(at: DateTime<Utc>) -> TestClock {
        TestClock(std::sync::Arc::new(std::sync::Mutex::new(at)))
    }

    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("test clock") = at;
    }

    fn now(&self) -> opsconsole::model::revclock::Now {
        let me = self.clone();
        opsconsole::model::revclock::Now::from_fn(move || {
            let mut t = me.0.lock().expect("test clock");
            let now = *t;
            *t = now + chrono::Duration::seconds(1);
            now
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_written_at_known_times_are_shown_at_those_times() {
    use chrono::{Duration as Minutes, DurationRound};

    let etcd = Etcd::start();
    let clocks = tempfile::tempdir().expect("tempdir for the revision clocks");
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    // Half an hour ago, on the minute: the console lists at t0, web-3 joins at t0 + 10 min,
    // web-1 leaves at t0 + 20 min (as the recorder sees them).
    let t0 = (Utc::now() - Minutes::minutes(30))
        .duration_trunc(Minutes::minutes(1))
        .expect("a minute boundary");
    let clock = TestClock::new(t0);
    let (dir, now) = (clocks.path().to_path_buf(), clock.now());
    let mut c = Console::with_settings(cluster(profile(&[etcd.endpoint()])), move |s| {
        s.clock_dir = Some(dir);
        s.revclock_now = now;
    });
    c.until(LIVE * 2, "listed and live", |c| {
        c.is_live() && !c.snapshots.is_empty()
    })
    .await;
    let r0 = etcd_revision(&etcd);
    until_clocked(&mut c, clocks.path(), r0).await;

    clock.set(t0 + Minutes::minutes(10));
    etcd.ctl(&["put", "/services/web/web-3", "10.0.0.3:80"]);
    let r1 = etcd_revision(&etcd);
    until_clocked(&mut c, clocks.path(), r1).await;
    clock.set(t0 + Minutes::minutes(20));
    etcd.ctl(&["del", "/services/web/web-1"]);
    let r2 = etcd_revision(&etcd);
    until_clocked(&mut c, clocks.path(), r2).await;

    // The pairs are at the injected times (a few ticks after each setting), none at the wall's.
    let pairs = clock_pairs(clocks.path());
    let at_of = |rev: i64| {
        pairs
            .iter()
            .find(|p| p.revision == rev)
            .map(|p| p.time())
            .unwrap_or_else(|| panic!("no pair for revision {rev}: {pairs:?}"))
    };
    for (rev, set) in [(r1, 10), (r2, 20)] {
        let off = at_of(rev) - (t0 + Minutes::minutes(set));
        assert!(
            (0..=10).contains(&off.num_seconds()),
            "rev {rev} at {} ({pairs:?})",
            at_of(rev)
        );
    }
    assert!(
        pairs.iter().all(|p| p.time() < t0 + Minutes::minutes(25)),
        "{pairs:?}"
    );

    // Each moment shows exactly what etcd had at the revision of that moment.
    for (minutes, rev, count) in [(5, r0, 2), (15, r1, 3), (25, r2, 2)] {
        at(&mut c, &rfc3339(t0 + Minutes::minutes(minutes)));
        let shown = until_answered(&mut c).await;
        assert!(
            matches!(shown, MembersAt::Shown { revision, compacted: None, .. } if revision == rev),
            "at t0 + {minutes} min: {shown:?} ({})",
            status(&c)
        );
        let then = etcd_members_at(&etcd, rev);
        assert_eq!(then.len(), count);
        assert_eq!(
            c.members(),
            then,
            "at t0 + {minutes} min == etcdctl --rev {rev}"
        );
    }
    // Before t0 the clock knows nothing.
    at(&mut c, &rfc3339(t0 - Minutes::minutes(1)));
    let shown = until_answered(&mut c).await;
    assert!(matches!(shown, MembersAt::Unknown(_)), "{shown:?}");
}

//! The logs histogram (`H`): drawn at 80×24 and 200×50 (insta snapshots), readable under NO_COLOR,
//! its keys (window, buckets, focus, drill-in to a time or a host), and `?` listing them.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use opsconsole::action::Action;
use opsconsole::keymap::{Context, Keymap};
use opsconsole::model::{ClusterId, Health, KvEntry, LogLine, Msg, SourceKind};
use opsconsole::state::histogram::HistFocus;
use opsconsole::state::{handle_action, update, Pane, Scope, State};
use opsconsole::theme::Theme;
use opsconsole::ui;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 4, 10, 0).unwrap()
}

fn line(at: DateTime<Utc>, host: &str, program: &str, sev: u8, msg: &str) -> LogLine {
    LogLine {
        time: Some(at),
        host: host.into(),
        program: program.into(),
        severity: Some(sev),
        message: msg.into(),
        ..Default::default()
    }
}

/// An hour of quiet traffic from four hosts, and an error burst from web-1 and web-2 at 03:50.
pub fn hour_with_burst() -> Vec<LogLine> {
    let start = now() - Duration::minutes(60);
    let hosts = ["web-1", "web-2", "db-1", "cache-1"];
    let programs = ["nginx", "app", "postgres", "redis"];
    let mut out = Vec::new();
    for m in 0..60 {
        for k in 0..4 {
            let at = start + Duration::minutes(m) + Duration::seconds(k * 13);
            let sev = if (m + k) % 11 == 0 { 4 } else { 6 };
            out.push(line(at, hosts[k as usize], programs[k as usize], sev, "ok"));
        }
        if m == 40 {
            for i in 0..30 {
                let at = start + Duration::minutes(m) + Duration::seconds(i);
                let host = if i % 2 == 0 { "web-1" } else { "web-2" };
                let sev = if i % 10 == 0 { 2 } else { 3 };
                out.push(line(at, host, "app", sev, "upstream timed out"));
            }
        }
    }
    out
}

fn kv(key: &str, value: &str, rev: i64) -> KvEntry {
    KvEntry {
        key: key.into(),
        value: value.as_bytes().to_vec(),
        create_revision: rev,
        mod_revision: rev,
        version: 1,
        lease: 0,
    }
}

fn state() -> State {
    let mut s = State::new("prod", "/services/", "alice", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    s.backends.logs = Some("redis".into());
    update(
        &mut s,
        Msg::Health(SourceKind::Etcd.of(ClusterId(0)), Health::Live),
    );
    update(
        &mut s,
        Msg::listing(
            "/services/",
            20,
            vec![
                kv(
                    "/services/web/web-1",
                    r#"{"addr":"10.0.0.1","port":80}"#,
                    11,
                ),
                kv(
                    "/services/web/web-2",
                    r#"{"addr":"10.0.0.2","port":80}"#,
                    12,
                ),
            ],
            now(),
        ),
    );
    update(
        &mut s,
        Msg::Health(SourceKind::Logs.of(ClusterId(0)), Health::Live),
    );
    update(&mut s, Msg::LogLines(hour_with_burst()));
    s.focus = Pane::Logs;
    s
}

fn draw(state: &mut State, theme: &Theme, w: u16, h: u16) -> TestBackend {
    let keymap = Keymap::resolve(None).unwrap();
    let v = ui::layout::viewports(ratatui::layout::Rect::new(0, 0, w, h), state);
    opsconsole::state::set_viewports(state, v);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| ui::draw(f, state, theme, &keymap))
        .unwrap();
    terminal.backend().clone()
}

fn theme(no_color: bool) -> Theme {
    Theme::resolve(None, None, no_color).unwrap()
}

fn text(b: &TestBackend) -> String {
    let buf = b.buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn opened(w: u16, h: u16) -> State {
    let mut s = state();
    // The layout first (the bucket size comes from the pane's width), then H.
    draw(&mut s, &theme(false), w, h);
    handle_action(&mut s, Action::Histogram);
    s
}

#[test]
fn histogram_at_80x24() {
    let mut s = opened(80, 24);
    let b = draw(&mut s, &theme(false), 80, 24);
    insta::assert_snapshot!("histogram_80x24", text(&b));
    let t = text(&b);
    assert!(t.contains("TOP HOSTS") && t.contains("TOP PROGRAMS"), "{t}");
    assert!(t.contains("holds 59m"), "the span the ring holds: {t}");
}

#[test]
fn histogram_at_80x24_zoomed() {
    let mut s = opened(80, 24);
    handle_action(&mut s, Action::Zoom);
    let b = draw(&mut s, &theme(false), 80, 24);
    insta::assert_snapshot!("histogram_80x24_zoomed", text(&b));
}

#[test]
fn histogram_at_200x50() {
    let mut s = opened(200, 50);
    let b = draw(&mut s, &theme(false), 200, 50);
    insta::assert_snapshot!("histogram_200x50", text(&b));
    let t = text(&b);
    // The burst's hosts on top.
    let hosts = t.find("TOP HOSTS").unwrap();
    let after = &t[hosts..];
    let web1 = after.find("web-1").unwrap();
    let db1 = after.find("db-1").unwrap();
    assert!(web1 < db1, "{t}");
}

#[test]
fn under_no_color_severity_reads_by_glyph() {
    let mut s = opened(200, 50);
    let b = draw(&mut s, &theme(true), 200, 50);
    let t = text(&b);
    for glyph in ['█', '▓', '▒', '░'] {
        assert!(t.contains(glyph), "{glyph} missing:\n{t}");
    }
    assert!(
        t.contains("▓err") && t.contains("█crit"),
        "the legend names each glyph"
    );
    // No colour anywhere.
    let buf = b.buffer();
    for c in buf.content() {
        assert_eq!(c.fg, ratatui::style::Color::Reset);
    }
}

#[test]
fn keys_move_buckets_change_the_window_and_drill_in() {
    let mut s = opened(200, 50);
    assert_eq!(s.key_context(), Context::Histogram);
    let n = s.logs.hist.view().unwrap().buckets.n;
    assert_eq!(s.logs.hist.view().unwrap().buckets.step, 60);
    // The burst's bucket is the tallest: move there with h.
    let counts = s.logs.hist.view().unwrap().counts.to_vec();
    let tallest = (0..n)
        .max_by_key(|i| counts[*i].iter().sum::<u64>())
        .unwrap();
    for _ in 0..(n - 1 - tallest) {
        handle_action(&mut s, Action::HistPrevBucket);
    }
    assert_eq!(s.logs.hist.selected_bucket(n), tallest);
    handle_action(&mut s, Action::Detail);
    assert!(!s.logs.hist.open, "Enter on a bucket goes to the lines");
    let sel = s.logs.selected().unwrap();
    assert_eq!(sel.time, Some(now() - Duration::minutes(20)));
    // + and -: 6h, then back.
    handle_action(&mut s, Action::Histogram);
    handle_action(&mut s, Action::HistWider);
    handle_action(&mut s, Action::HistWider);
    assert_eq!(s.logs.hist.window_secs(), 24 * 3600);
    handle_action(&mut s, Action::HistWider);
    assert_eq!(s.logs.hist.window_secs(), 24 * 3600, "24h is the longest");
    handle_action(&mut s, Action::HistNarrower);
    assert_eq!(s.logs.hist.window_secs(), 6 * 3600);
    // space: the hosts; Enter on web-1 (top, as the burst's host): the logs only show it and
    // every pane is scoped to the member.
    handle_action(&mut s, Action::HistFocus);
    assert_eq!(s.logs.hist.focus, HistFocus::Hosts);
    let top = s.logs.hist.view().unwrap().hosts[0].name.clone();
    assert_eq!(top, "web-1");
    handle_action(&mut s, Action::Detail);
    assert!(matches!(s.scope, Scope::Members { ref keys, .. } if keys.len() == 1));
    assert!(s.logs.filter.is_some());
    assert!(s.logs.matching().all(|l| &*l.host == "web-1"));
    // Esc: the filter, then the scope.
    handle_action(&mut s, Action::Back);
    handle_action(&mut s, Action::Back);
    assert_eq!(s.scope, Scope::Cluster);
    // A program is a filter only.
    handle_action(&mut s, Action::Histogram);
    handle_action(&mut s, Action::HistFocus);
    handle_action(&mut s, Action::HistFocus);
    handle_action(&mut s, Action::HistErrorsOnly);
    let top = s.logs.hist.view().unwrap().programs[0].clone();
    assert_eq!((top.name.as_str(), top.count), ("app", 30), "errors only");
    handle_action(&mut s, Action::Detail);
    assert_eq!(s.scope, Scope::Cluster);
    assert!(s.logs.matching().all(|l| &*l.program == "app"));
    // Esc in the histogram goes back to the lines; :hist opens it from any pane.
    handle_action(&mut s, Action::Histogram);
    handle_action(&mut s, Action::Back);
    assert!(!s.logs.hist.open);
    s.focus = Pane::Members;
    opsconsole::state::handle_action(&mut s, Action::CommandLine);
    for c in "hist".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    handle_action(&mut s, Action::Submit);
    assert!(s.logs.hist.open && s.focus == Pane::Logs);
}

#[test]
fn under_the_time_cursor_the_window_ends_there() {
    let mut s = opened(200, 50);
    s.time.at = Some(now() - Duration::minutes(30));
    draw(&mut s, &theme(false), 200, 50);
    let v = s.logs.hist.view().unwrap();
    assert_eq!(v.buckets.end(), now() - Duration::minutes(29));
    // Lines after the moment are not counted: the burst (03:50) is out.
    assert!(v.counts.iter().all(|c| c[0] + c[1] == 0));
}

#[test]
fn help_lists_the_histogram_keys_and_they_hide_no_global_key() {
    for name in ["default", "emacs"] {
        let k = Keymap::resolve(Some(name)).unwrap();
        let rows = k.help_rows();
        for action in [
            "histogram: longer window",
            "histogram: previous bucket",
            "histogram: move between buckets",
            "histogram: top hosts/programs of errors only",
        ] {
            assert!(
                rows.iter()
                    .any(|(ctx, _, what)| ctx == "histogram" && what.starts_with(action)),
                "{name}: {action}"
            );
        }
        assert!(rows
            .iter()
            .any(|(ctx, _, what)| ctx == "logs" && what.starts_with("logs: histogram")));
    }
}

/// Real rsyslogd → redis-server → the logs source → the ring, with the histogram open: a burst of
/// errors from two hosts is the tallest bucket and puts those two hosts on top; lines arriving
/// later are counted as they come (no recount: the buckets did not move).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_from_two_hosts_through_rsyslog_and_redis_is_the_tallest_bucket() {
    use crate::common::log_servers::{logs_profile, LogTail, Redis, Rsyslog, RsyslogMode, KEY};
    use opsconsole::state::histogram::refresh_local;

    let redis = Redis::start();
    let rs = Rsyslog::start(redis.port, RsyslogMode::Queue);
    let mut t = LogTail::start(logs_profile(&format!(
        "{{ kind = \"redis\", url = \"{}\", list = \"{KEY}\", timeout_secs = 2 }}",
        redis.url()
    )));
    t.until_live(std::time::Duration::from_secs(10)).await;
    // Open before any line: every line is counted as it arrives.
    let now = Utc::now();
    t.logs.hist.open = true;
    t.logs.hist.columns = 60;
    t.logs.hist.window = 0; // 15m: 15 s buckets over 60 columns
    refresh_local(&mut t.logs, now);
    let stamp = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let send = |at: DateTime<Utc>, host: &str, pri: u8, msg: &str| {
        let line = format!("<{pri}>1 {} {host} app - - - {msg}", stamp(at));
        rs.send_udp(line.as_bytes());
    };
    // Quiet: one info line per host every minute for ten minutes (local7.info = 190).
    let mut sent = 0;
    for m in 1..=10 {
        for host in ["web-1", "web-2", "db-1"] {
            send(now - Duration::minutes(m), host, 190, "ok");
            sent += 1;
        }
    }
    // The burst: 24 errors (local7.err = 187) from web-1 and web-2 within a second, 3 min ago,
    // 5 s into a bucket: its 480 ms never straddle two (at 20 s past `now - 3m` they did in ~3 %
    // of runs, whenever `now` fell within half a second of a bucket boundary).
    let grid = t.logs.hist.view().expect("the histogram").buckets;
    let burst = grid
        .index(now - Duration::minutes(3) + Duration::seconds(20))
        .map(|i| grid.bucket_start(i) + Duration::seconds(5))
        .expect("3 min ago is in the 15 min window");
    for i in 0..24 {
        let host = if i % 2 == 0 { "web-1" } else { "web-2" };
        send(
            burst + Duration::milliseconds(i * 20),
            host,
            187,
            "upstream timed out",
        );
        sent += 1;
    }
    t.until(std::time::Duration::from_secs(10), "every line", |t| {
        t.logs.len() >= sent
    })
    .await;
    refresh_local(&mut t.logs, now);
    let v = t.logs.hist.view().expect("the histogram");
    assert_eq!(v.buckets.step, 15);
    assert_eq!(v.total, sent as u64, "all in the last 15 minutes");
    let totals: Vec<u64> = v.counts.iter().map(|c| c.iter().sum()).collect();
    let tallest = (0..v.buckets.n).max_by_key(|i| totals[*i]).unwrap();
    assert_eq!(v.buckets.index(burst), Some(tallest));
    assert_eq!(
        v.counts[tallest][1], 24,
        "the burst's errors: {:?}",
        v.counts[tallest]
    );
    let hosts: Vec<(String, u64)> = v.hosts.iter().map(|t| (t.name.clone(), t.count)).collect();
    assert_eq!(
        hosts,
        [
            ("web-1".to_string(), 22),
            ("web-2".to_string(), 22),
            ("db-1".to_string(), 10)
        ]
    );
    // More errors from db-1 arrive: counted on arrival, the buckets unchanged.
    for i in 0..15 {
        send(
            now - Duration::seconds(30) + Duration::milliseconds(i),
            "db-1",
            187,
            "disk full",
        );
    }
    t.until(std::time::Duration::from_secs(10), "db-1's errors", |t| {
        t.logs.len() >= sent + 15
    })
    .await;
    refresh_local(&mut t.logs, now);
    let v = t.logs.hist.view().unwrap();
    assert_eq!(v.hosts[0].name, "db-1");
    assert_eq!(v.hosts[0].count, 25);
    assert_eq!(v.total, sent as u64 + 15);
}

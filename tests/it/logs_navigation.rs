//! The logs pane's navigation, through the keys of both built-in keymaps on the headless console
//! (the app's own `Core`): filter and highlight with n/N, errors and warnings, marks, context
//! lines, horizontal scroll, wrap, the severity threshold both ways, copy (OSC 52), `:w`, and the
//! time jump — with Loki read again around it by a stand-in server that records what it is asked.
//! And the logs pane as it reads at 80×24 (an insta snapshot).

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsconsole::config::{ClusterProfile, Config};
use opsconsole::keymap::Keymap;
use opsconsole::model::{ClusterId, Health, LogLine, Msg, SourceKind};
use opsconsole::state::logs::FilterMode;
use opsconsole::state::{self, InputKind, State};

use common::headless::Headless;
use common::wait_until_or;

fn cluster(extra: &str) -> ClusterProfile {
    // etcd on a port nothing listens on: the members pane retries, the logs pane works.
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"], prefix = \"/services/\" }}\n{extra}\n"
    );
    Config::parse(&toml, Path::new("/test/config.toml"))
        .unwrap_or_else(|e| panic!("{toml}: {e}"))
        .cluster("t")
        .expect("cluster t")
        .clone()
}

/// The keys of one keymap for what the test does.
struct Keys {
    name: &'static str,
    filter: &'static str,
    command: &'static str,
    mode: &'static str,
    next_match: &'static str,
    prev_match: &'static str,
    next_error: &'static str,
    prev_error: &'static str,
    prev_warning: &'static str,
    mark: &'static str,
    next_mark: &'static str,
    prev_mark: &'static str,
    context: &'static str,
    up: &'static str,
    left: &'static str,
    right: &'static str,
    wrap: &'static str,
    stricter: &'static str,
    looser: &'static str,
    copy: &'static str,
    time: &'static str,
}

const DEFAULT: Keys = Keys {
    name: "default",
    filter: "/",
    command: ":",
    mode: "F",
    next_match: "n",
    prev_match: "N",
    next_error: "e",
    prev_error: "E",
    prev_warning: "W",
    mark: "m",
    next_mark: "u",
    prev_mark: "U",
    context: "C",
    up: "k",
    left: "h",
    right: "l",
    wrap: "ctrl-w",
    stricter: "v",
    looser: "V",
    copy: "y",
    time: "t",
};

const EMACS: Keys = Keys {
    name: "emacs",
    filter: "ctrl-s",
    command: "alt-x",
    mode: "alt-h",
    next_match: "alt-n",
    prev_match: "alt-p",
    next_error: "alt-e",
    prev_error: "alt-E",
    prev_warning: "alt-{",
    mark: "alt-m",
    next_mark: "alt-.",
    prev_mark: "alt-,",
    context: "alt-c",
    up: "ctrl-p",
    left: "left",
    right: "right",
    wrap: "alt-q",
    stricter: "alt-l",
    looser: "alt-L",
    copy: "alt-w",
    time: "alt-t",
};

/// 40 lines a minute apart ending now: `boom` every 10th, err every 7th, warning every 5th.
fn lines(now: DateTime<Utc>) -> Vec<LogLine> {
    (0..40)
        .map(|i| LogLine {
            time: Some(now - chrono::Duration::minutes(39 - i)),
            host: "web-1".into(),
            program: "app".into(),
            severity: Some(if i % 7 == 0 {
                3
            } else if i % 5 == 0 {
                4
            } else {
                6
            }),
            message: if i % 10 == 0 {
                format!("boom {i}")
            } else {
                format!("line {i}")
            },
            ..Default::default()
        })
        .collect()
}

fn selected(h: &Headless) -> String {
    h.state()
        .logs
        .selected()
        .map(|l| l.message.clone())
        .unwrap_or_default()
}

fn status(h: &Headless) -> String {
    h.state()
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default()
}

fn logs_keys(k: &Keys) {
    let keymap = Keymap::resolve(Some(k.name)).unwrap();
    let mut h = Headless::with(cluster(""), |s| {
        s.keymap = keymap;
        s.zone = opsconsole::model::DisplayZone::Utc;
    });
    let now = h.state().now;
    for _ in 0..3 {
        h.press("tab");
    }
    assert_eq!(h.state().focus, state::Pane::Logs, "{}", k.name);
    h.apply(Msg::LogLines(lines(now)));

    // Copy while following: the newest line's display text, never a control character.
    h.press(k.copy);
    let copied = h.clipboard.last().cloned().unwrap_or_default();
    assert!(copied.ends_with("web-1 app info line 39"), "{copied}");
    assert!(status(&h).starts_with("sent to clipboard (OSC 52)"));

    // Filter, then n/N between its matches.
    h.press(k.filter);
    h.type_text("boom");
    h.press("enter");
    assert_eq!(h.state().logs.hit_count(), 4);
    h.press(k.prev_match);
    assert_eq!(selected(&h), "boom 30", "{}", k.name);
    h.press(k.prev_match);
    assert_eq!(selected(&h), "boom 20");
    h.press(k.next_match);
    assert_eq!(selected(&h), "boom 30");

    // Highlight: every line shown; errors and warnings around the cursor.
    h.press(k.mode);
    assert_eq!(h.state().logs.mode, FilterMode::Highlight);
    assert_eq!(h.state().logs.match_count(), 40);
    h.press(k.prev_error);
    assert_eq!(selected(&h), "line 28");
    h.press(k.next_error);
    assert_eq!(selected(&h), "line 35");
    h.press(k.prev_warning);
    assert_eq!(selected(&h), "boom 30");

    // Marks.
    h.press(k.mark);
    h.press(k.up);
    h.press(k.up);
    h.press(k.mark);
    assert_eq!(selected(&h), "line 28");
    h.press(k.next_mark);
    assert_eq!(selected(&h), "boom 30");
    h.press(k.prev_mark);
    assert_eq!(selected(&h), "line 28");
    assert_eq!(h.state().logs.mark_count(), 2);

    // Context lines in filter mode.
    h.press(k.mode);
    h.press(k.context);
    assert_eq!(h.state().logs.context, 3);
    assert!(status(&h).contains("3 context lines"), "{}", status(&h));
    assert_eq!(
        h.state().logs.match_count(),
        4 * 7 - 3,
        "boom 0 has nothing before it"
    );

    // Sideways, wrap, severity.
    h.press(k.right);
    assert_eq!(h.state().logs.hscroll, 10);
    h.press(k.left);
    assert_eq!(h.state().logs.hscroll, 0);
    h.press(k.wrap);
    assert!(h.state().logs.wrap);
    assert!(status(&h).contains("wrap on"), "{}", status(&h));
    h.press(k.wrap);
    h.press(k.stricter);
    assert_eq!(h.state().logs.threshold_label().as_deref(), Some("≥ info"));
    h.press(k.looser);
    h.press(k.looser);
    assert_eq!(h.state().logs.threshold_label().as_deref(), Some("≥ emerg"));
    h.press(k.stricter);
    assert_eq!(h.state().logs.threshold_label(), None);

    // :w writes what the pane shows; an existing file needs :w!.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("incident.log");
    let write = |h: &mut Headless, cmd: &str| {
        h.press(k.command);
        h.type_text(&format!("{cmd} {}", path.display()));
        h.press("enter");
    };
    write(&mut h, "w");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 25, "{text}");
    assert!(status(&h).contains("wrote 25 lines"), "{}", status(&h));
    std::fs::write(&path, "keep me").unwrap();
    write(&mut h, "w");
    assert!(status(&h).contains("exists — :w!"), "{}", status(&h));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    write(&mut h, "w!");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    let jsonl = dir.path().join("incident.jsonl");
    h.press(k.command);
    h.type_text(&format!("w {}", jsonl.display()));
    h.press("enter");
    let first = std::fs::read_to_string(&jsonl).unwrap();
    let v: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(
        (v["host"].as_str(), v["message"].as_str()),
        (Some("web-1"), Some("boom 0"))
    );

    // The time jump (no backend to re-read: the buffer alone).
    h.press("esc"); // the filter goes
    h.press(k.time);
    assert_eq!(
        h.state().input.as_ref().map(|i| i.kind.clone()),
        Some(InputKind::TimeJump)
    );
    h.type_text("-5m");
    h.press("enter");
    assert_eq!(selected(&h), "line 34", "{}", status(&h));
}

#[tokio::test]
async fn logs_navigation_default_keymap() {
    logs_keys(&DEFAULT);
}

#[tokio::test]
async fn logs_navigation_emacs_keymap() {
    logs_keys(&EMACS);
}

/// `y` in the members pane copies the key and address; in the checks pane, the check output.
#[tokio::test]
async fn logs_copy_in_members_and_checks_panes() {
    let mut h = Headless::start(cluster(""));
    let at = h.state().now;
    h.apply(Msg::listing(
        "/services/",
        7,
        vec![opsconsole::model::KvEntry {
            key: b"/services/web/web-1".to_vec(),
            value: br#"{"addr":"10.0.0.1","port":80}"#.to_vec(),
            create_revision: 2,
            mod_revision: 7,
            version: 1,
            lease: 0,
        }],
        at,
    ));
    h.press("j");
    h.press("y");
    assert_eq!(
        h.clipboard.last().map(String::as_str),
        Some("/services/web/web-1 10.0.0.1:80")
    );
    h.apply(Msg::ChecksSnapshot {
        snapshot: opsconsole::model::ChecksSnapshot {
            results: vec![opsconsole::model::CheckResult {
                entity: "web-1".into(),
                check: "check_http".into(),
                status: 2,
                output: "HTTP CRITICAL: 503".into(),
                ..Default::default()
            }],
            ..Default::default()
        },
        at,
    });
    h.press("tab");
    h.press("j");
    h.press("y");
    assert_eq!(
        h.clipboard.last().map(String::as_str),
        Some("HTTP CRITICAL: 503")
    );
    assert!(status(&h).starts_with("sent to clipboard (OSC 52)"));
}

// ---------------------------------------------------------------------------------------------
// Loki read again around a time jump

/// A Loki stand-in: `query_range` answers one live line to the tail's polls, and three lines
/// around the asked time to a window of exactly ±5 minutes; every query string is recorded.
struct Loki {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Loki {
    fn start() -> Loki {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let query = target
                    .split_once('?')
                    .map(|x| x.1)
                    .unwrap_or("")
                    .to_string();
                log.lock().unwrap().push(query.clone());
                let param = |k: &str| {
                    query.split('&').find_map(|kv| {
                        kv.split_once('=')
                            .filter(|(a, _)| *a == k)
                            .and_then(|(_, v)| v.parse::<i128>().ok())
                    })
                };
                let (start, end) = (param("start").unwrap_or(0), param("end").unwrap_or(0));
                let ten_min: i128 = 600_000_000_000;
                let values: Vec<(i128, String)> = if end - start == ten_min {
                    let at = start + ten_min / 2;
                    vec![
                        (at - 120_000_000_000, "around: two minutes before".into()),
                        (at, "around: the moment".into()),
                        (at + 60_000_000_000, "around: a minute after".into()),
                    ]
                } else {
                    vec![(end - 1_000_000_000, "live".into())]
                };
                let body = serde_json::json!({"status": "success", "data": {"resultType": "streams",
                    "result": [{"stream": {"host": "web-1", "level": "info"},
                        "values": values.iter().map(|(t, l)| [t.to_string(), l.clone()]).collect::<Vec<_>>()}]}})
                .to_string();
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Loki { port, asked }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_time_jump_reads_loki_again_around_it() {
    let loki = Loki::start();
    let profile = cluster(&format!(
        "logs = {{ kind = \"loki\", url = \"http://127.0.0.1:{}\", query = '{{job=\"syslog\"}}', interval_secs = 1 }}",
        loki.port
    ));
    let mut h = Headless::with(profile, |s| s.zone = opsconsole::model::DisplayZone::Utc);
    for _ in 0..3 {
        h.press("tab");
    }
    // Live first.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.state().health_of(SourceKind::Logs) != Some(&Health::Live) {
        assert!(tokio::time::Instant::now() < deadline, "loki never live");
        if let Ok(Some(m)) = h.next(Duration::from_millis(200)).await {
            h.apply(m);
        }
    }
    h.press("t");
    h.type_text("-2h");
    h.press("enter");
    let at = h.state().logs.pending_jump.expect("a re-read is pending");
    assert!(
        status(&h).contains("reading ±5 min around it"),
        "{}",
        status(&h)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.state().logs.pending_jump.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to the re-read"
        );
        if let Ok(Some(m)) = h.next(Duration::from_millis(200)).await {
            h.apply(m);
        }
    }
    assert_eq!(selected(&h), "around: the moment", "{}", status(&h));
    assert!(status(&h).contains("3 lines read again"), "{}", status(&h));
    let ns = |t: DateTime<Utc>| t.timestamp_nanos_opt().unwrap().to_string();
    let asked = loki.asked.lock().unwrap().clone();
    assert!(
        asked.iter().any(|q| q
            .contains(&format!("start={}", ns(at - chrono::Duration::minutes(5))))
            && q.contains(&format!("end={}", ns(at + chrono::Duration::minutes(5))))
            && q.contains("direction=forward")),
        "{asked:#?}"
    );
    // The console stayed live: the tail keeps polling.
    let polls = asked.len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while loki.asked.lock().unwrap().len() <= polls {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tail stopped polling"
        );
        if let Ok(Some(m)) = h.next(Duration::from_millis(200)).await {
            h.apply(m);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 80×24

fn fixed_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 14, 2, 0).unwrap()
}

/// The logs pane's rectangle of an 80×24 screen, as text.
fn logs_pane_at_80x24(s: &mut State) -> String {
    let area = ratatui::layout::Rect::new(0, 0, 80, 24);
    state::set_viewports(s, opsconsole::ui::layout::viewports(area, s));
    let theme = opsconsole::theme::Theme::resolve(None, None, false).unwrap();
    let keymap = Keymap::resolve(None).unwrap();
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
    term.draw(|f| opsconsole::ui::draw(f, s, &theme, &keymap))
        .unwrap();
    let pane = opsconsole::ui::layout::screen(area, s)
        .expect("80×24 shows the panes")
        .logs;
    let buf = term.backend().buffer();
    let mut out = String::new();
    for y in pane.y..pane.y + pane.height {
        for x in pane.x..pane.x + pane.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn pane_state() -> State {
    let mut s = State::new("prod", "/services/", "alice", fixed_now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    s.backends.logs = Some("redis".into());
    state::update(
        &mut s,
        Msg::Health(SourceKind::Logs.of(ClusterId(0)), Health::Live),
    );
    let rows = [
        ("web-1", "nginx", Some(3), "upstream timed out (110: Connection timed out) while reading response header from upstream"),
        ("web-1", "nginx", Some(6), "GET /healthz 200 0.002s"),
        ("db-1", "postgres", Some(4), "checkpoints are occurring too frequently (9 seconds apart)"),
        ("api-14", "app", Some(2), "payment provider unreachable: circuit open"),
        ("cache-2", "redis-server", Some(5), "Background saving started by pid 4242"),
        ("web-2", "", None, "a line from RSYSLOG_FileFormat: no PRI, so no severity"),
        ("web-1", "sshd", Some(6), "Accepted publickey for deploy from 10.0.0.9 port 50122"),
        ("db-1", "postgres", Some(3), "could not serialize access due to concurrent update"),
    ];
    let lines = rows
        .iter()
        .enumerate()
        .map(|(i, (host, prog, sev, msg))| LogLine {
            time: Some(fixed_now() - chrono::Duration::seconds(70 - 9 * i as i64)),
            host: (*host).into(),
            program: (*prog).into(),
            severity: *sev,
            message: (*msg).into(),
            ..Default::default()
        })
        .collect();
    state::update(&mut s, Msg::LogLines(lines));
    s
}

#[test]
fn logs_pane_reads_well_at_80x24() {
    let mut s = pane_state();
    let pane = logs_pane_at_80x24(&mut s);
    insta::assert_snapshot!("logs_pane_80x24", pane);
    // TIME and HOST whole on every row; PROGRAM hidden and named; every cut message shows …
    for host in ["web-1", "db-1", "api-14", "cache-2", "web-2"] {
        assert!(pane.contains(host), "{host} whole:\n{pane}");
    }
    assert!(pane.contains("+1 col"), "{pane}");
    assert!(pane.contains("14:00:50"), "{pane}");
    assert!(pane.contains("…"), "{pane}");
    // Highlight mode with a filter, a mark, the threshold: the title says so.
    s.focus = state::Pane::Logs;
    state::handle_action(&mut s, opsconsole::action::Action::Filter);
    for c in "nginx".chars() {
        state::handle_action(&mut s, opsconsole::action::Action::InsertChar(c));
    }
    state::handle_action(&mut s, opsconsole::action::Action::Submit);
    state::handle_action(&mut s, opsconsole::action::Action::ToggleFilterMode);
    state::handle_action(&mut s, opsconsole::action::Action::PrevMatch);
    state::handle_action(&mut s, opsconsole::action::Action::ToggleMark);
    insta::assert_snapshot!("logs_pane_80x24_highlight", logs_pane_at_80x24(&mut s));
}

/// Wrap on: a long message continues on the next rows, indented under the message column, and
/// the newest line stays at the bottom; wrap off and scrolled sideways, the message starts with `…`.
#[test]
fn logs_pane_wraps_under_the_message_and_scrolls_sideways_at_80x24() {
    let mut s = pane_state();
    s.focus = state::Pane::Logs;
    state::handle_action(&mut s, opsconsole::action::Action::ToggleWrap);
    let pane = logs_pane_at_80x24(&mut s);
    insta::assert_snapshot!("logs_pane_80x24_wrapped", pane);
    let rows: Vec<&str> = pane.lines().collect();
    let cont = rows
        .iter()
        .find(|r| r.starts_with("│ ") && !r.starts_with("│ │"))
        .unwrap_or_else(|| panic!("a continuation row:\n{pane}"));
    assert!(
        cont.starts_with(&format!("│{}", " ".repeat(18))),
        "indented under the message:\n{pane}"
    );
    assert!(
        rows[rows.len() - 2].contains("concurrent") || rows[rows.len() - 2].contains("update"),
        "the newest at the bottom:\n{pane}"
    );
    state::handle_action(&mut s, opsconsole::action::Action::ToggleWrap);
    state::handle_action(&mut s, opsconsole::action::Action::ScrollRight);
    insta::assert_snapshot!("logs_pane_80x24_scrolled", logs_pane_at_80x24(&mut s));
}

// ---------------------------------------------------------------------------------------------
// OSC 52 through a real terminal (tmux)

/// `y` in the real binary under tmux with `set-clipboard on`: tmux takes the OSC 52 sequence and
/// keeps the text as a paste buffer, which `show-buffer` reads back — the member's key and
/// address, then a log line exactly as the logs pane shows it.
#[test]
fn logs_copy_reaches_the_terminal_clipboard_osc52() {
    use common::tmux::{Settle, Tmux};
    let t = Tmux::sized("opsconsole-osc52", 160, 45)
        .settle(Settle::StillTrue)
        .start(&["--demo", "--utc"]);
    t.tmux(&["set", "-g", "set-clipboard", "on"]);
    t.wait_text("Members");
    t.send(&["j"]);
    t.send(&["y"]);
    t.wait_text("sent to clipboard (OSC 52)");
    let copied = t.tmux(&["show-buffer"]);
    let (key, addr) = copied
        .split_once(' ')
        .unwrap_or_else(|| panic!("key and address: {copied:?}"));
    assert!(key.starts_with("/services/"), "{copied:?}");
    assert!(addr.contains(':'), "{copied:?}");
    let screen = t.screen();
    let instance = key.rsplit('/').next().unwrap();
    assert!(screen.contains(instance), "{instance} on screen:\n{screen}");
    // The logs pane: paused, then the selected line copied; its message is on screen.
    for _ in 0..3 {
        t.send(&["Tab"]);
    }
    t.send(&["f"]);
    // Paused, and a line of the scoped member shown (the demo logs every few seconds).
    t.wait_screen("a new line while paused", Duration::from_secs(20), |s| {
        s.contains("PAUSED, ")
    });
    t.tmux(&["delete-buffer"]);
    t.send(&["y"]);
    let line = wait_until_or(
        "a log line on the clipboard",
        Duration::from_secs(5),
        || {
            let out = t.tmux(&["list-buffers", "-F", "#{buffer_name}"]);
            (!out.trim().is_empty()).then(|| t.tmux(&["show-buffer"]))
        },
        || format!("screen:\n{}", t.screen()),
    );
    assert!(!line.chars().any(|c| c.is_control()), "{line:?}");
    // `2026-…T12:00:00.000Z host program severity message`: the host is on screen.
    let host = line.split_whitespace().nth(1).unwrap_or("?").to_string();
    assert!(
        t.screen().contains(&host),
        "{host} on screen; copied {line:?}"
    );
}

/// `t` while the backend cannot be read: the cursor moves within the buffer, and the failed
/// re-read is said on the status line, not hidden.
#[test]
fn logs_time_jump_with_the_backend_down_says_so() {
    let mut s = pane_state();
    s.backends.logs = Some("loki".into());
    s.focus = state::Pane::Logs;
    state::handle_action(&mut s, opsconsole::action::Action::TimeJump);
    for c in "14:01:00".chars() {
        state::handle_action(&mut s, opsconsole::action::Action::InsertChar(c));
    }
    let cmds = state::handle_action(&mut s, opsconsole::action::Action::Submit);
    let at = Utc.with_ymd_and_hms(2026, 12, 3, 14, 1, 0).unwrap();
    assert_eq!(cmds, vec![opsconsole::model::Command::LogsAround(at)]);
    assert_eq!(
        s.logs.selected().map(|l| l.message.as_str()),
        Some("checkpoints are occurring too frequently (9 seconds apart)"),
        "the first line at or after 14:01:00"
    );
    state::update(
        &mut s,
        Msg::LogsAround {
            at,
            lines: Err("loki: connection refused".into()),
        },
    );
    let status = s
        .status
        .as_ref()
        .map(|x| x.text.clone())
        .unwrap_or_default();
    assert!(
        status.contains("reading around that time failed: loki: connection refused"),
        "{status}"
    );
    assert_eq!(s.logs.pending_jump, None);
    assert_eq!(
        s.logs.selected().map(|l| l.message.as_str()),
        Some("checkpoints are occurring too frequently (9 seconds apart)")
    );
}

// ---------------------------------------------------------------------------------------------
// The time cursor (`:at`) reads Loki around its moment, and again at each step

/// Applies what arrives until the re-read pending in the logs pane is answered.
async fn until_reread(h: &mut Headless) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.state().logs.pending_jump.is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to the re-read"
        );
        if let Ok(Some(m)) = h.next(Duration::from_millis(200)).await {
            h.apply(m);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_cursor_reads_loki_around_its_moment_and_again_at_each_step() {
    let loki = Loki::start();
    let profile = cluster(&format!(
        "logs = {{ kind = \"loki\", url = \"http://127.0.0.1:{}\", query = '{{job=\"syslog\"}}', interval_secs = 1 }}",
        loki.port
    ));
    let mut h = Headless::with(profile, |s| s.zone = opsconsole::model::DisplayZone::Utc);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.state().health_of(SourceKind::Logs) != Some(&Health::Live) {
        assert!(tokio::time::Instant::now() < deadline, "loki never live");
        if let Ok(Some(m)) = h.next(Duration::from_millis(200)).await {
            h.apply(m);
        }
    }
    h.tick();
    // `T` opens the time prompt (the keymap's key, as a user presses it).
    h.press("T");
    h.type_text("-2h");
    h.press("enter");
    let at = h.state().time.at.expect("the cursor is set");
    assert_eq!(h.state().logs.pending_jump, Some(at));
    until_reread(&mut h).await;
    assert_eq!(selected(&h), "around: the moment");
    // `[`: a minute earlier, read again around the new moment (from any pane: a global key).
    h.press("[");
    let earlier = at - chrono::Duration::minutes(1);
    assert_eq!(h.state().time.at, Some(earlier));
    until_reread(&mut h).await;
    assert_eq!(selected(&h), "around: the moment");
    let ns = |t: DateTime<Utc>| t.timestamp_nanos_opt().unwrap().to_string();
    let asked = loki.asked.lock().unwrap().clone();
    for moment in [at, earlier] {
        assert!(
            asked.iter().any(|q| q.contains(&format!(
                "start={}",
                ns(moment - chrono::Duration::minutes(5))
            )) && q.contains(&format!(
                "end={}",
                ns(moment + chrono::Duration::minutes(5))
            ))),
            "{moment}: {asked:#?}"
        );
    }
    assert!(!h.state().logs.follow, "the pane stays at the moment");
    // `Esc` with nothing else to go back from: live again, the pane follows the tail again.
    assert!(h.state().popup.is_none() && h.state().input.is_none());
    h.press("esc");
    assert_eq!(h.state().time.at, None);
    assert!(h.state().logs.follow);
}

//! End-to-end: the built binary in a real terminal (tmux, one private server per test) with its
//! checks, metrics and logs panes fed by real backends — a real Alertmanager, a real Redis, a real
//! etcd — or by `--demo`, and a tiny in-test HTTP server where only a canned Prometheus answer will
//! do. Keys go in with `tmux send-keys`, the screen comes back with `tmux capture-pane -p`, and
//! every byte the program writes to the terminal is kept (`pipe-pane`) so the escape-safety test
//! can look at what actually reached the terminal.
//!
//! The tmux driver is `common::tmux`, shared with `e2e_tmux` and `terminal_safety`
//! (unique `-L` socket, the program waits until `pipe-pane` records, `wait_screen` panics with the
//! last screen).
//!
//! Missing tmux, etcd, prometheus-alertmanager or redis-server fails the test; nothing is skipped.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::e2e::{panes_fleet, start_panes, LIVE, TITLE};
use common::log_servers::Redis;
use common::panes::{
    cells, check_row, checks_pane, contains_bytes, is_spark, logs_pane, member_row, members_pane,
    metrics_pane, silenced_marker, status_bar, top_lines,
};
use common::tmux::SOON;
use common::{wait_until, wait_until_or, Alertmanager};

// ------------------------------------------------------------------------------------------ tmux

// ------------------------------------------------------------------------------ screen geometry
//
// Four panes: members top-left, checks top-right, metrics bottom-left, logs bottom-right, each
// half of the 160 columns; the top row of panes ends at the first line starting with `└`.

// ------------------------------------------------------------------------------------ HTTP/1.0

// -------------------------------------------------------------------------------- Alertmanager

// --------------------------------------------------------------------------------------- Redis

// ---------------------------------------------------------------------- canned Prometheus server

/// Answers `POST/GET /api/v1/query_range` with one fixed matrix series laid over the asked range
/// (so it lands inside the window whatever the clock says): values cycle 10, 15, … 65 and the
/// newest point is 73.4. Records each request's form.
struct FakePrometheus {
    port: u16,
    requests: Arc<Mutex<Vec<Form>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const NEWEST_VALUE: f64 = 73.4;

/// A request's decoded parameters (query string and form body), in order.
type Form = Vec<(String, String)>;

impl FakePrometheus {
    fn start() -> FakePrometheus {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stopped) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    let reqs = reqs.clone();
                    std::thread::spawn(move || {
                        let _ = serve_query_range(conn, &reqs);
                    });
                }
            }
        });
        FakePrometheus {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Form> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakePrometheus {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn param<'a>(form: &'a [(String, String)], k: &str) -> Option<&'a str> {
    form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn serve_query_range(conn: TcpStream, reqs: &Mutex<Vec<Form>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let target = request_line.split_whitespace().nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut form = parse_form(query);
    form.extend(parse_form(&String::from_utf8_lossy(&body)));

    let (status, answer) = if path == "/api/v1/query_range" {
        let num = |k: &str| param(&form, k).and_then(|v| v.parse::<f64>().ok());
        match (num("start"), num("end"), num("step")) {
            (Some(start), Some(end), Some(step)) if step > 0.0 && end >= start => {
                let n = ((end - start) / step).floor() as usize;
                let values: Vec<serde_json::Value> = (0..=n)
                    .map(|i| {
                        let v = if i == n {
                            NEWEST_VALUE
                        } else {
                            10.0 + 5.0 * (i % 12) as f64
                        };
                        serde_json::json!([start + i as f64 * step, v.to_string()])
                    })
                    .collect();
                (
                    200,
                    serde_json::json!({"status": "success", "data": {"resultType": "matrix",
                        "result": [{"metric": {"__name__": "x"}, "values": values}]}}),
                )
            }
            _ => (
                400,
                serde_json::json!({"status": "error", "errorType": "bad_data",
                    "error": "start, end and step are required"}),
            ),
        }
    } else {
        (
            404,
            serde_json::json!({"status": "error", "errorType": "not_found", "error": path}),
        )
    };
    reqs.lock().unwrap().push(form);
    let text = answer.to_string();
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    )?;
    conn.flush()
}

// --------------------------------------------------------------------------------------- fleet

// --------------------------------------------------------------------------------------- tests

#[test]
fn demo_fills_every_pane_and_deregister_silence_unsilence_work() {
    let t = start_panes(&["--demo"]);
    let s = t.wait_screen(
        "all four demo panes filled, DEMO in the status bar",
        SOON,
        |s| {
            let members = members_pane(s)
                .iter()
                .filter(|l| cells(l).get(1).is_some_and(|i| i.contains('-')))
                .count();
            let checks = checks_pane(s)
                .iter()
                .any(|l| matches!(cells(l).first(), Some(&("CRIT" | "WARN" | "OK"))));
            let spark = metrics_pane(s).iter().any(|l| l.chars().any(is_spark));
            let logs = logs_pane(s).iter().any(|l| {
                let c = cells(l);
                c.first()
                    .is_some_and(|t| t.len() == 8 && t.as_bytes()[2] == b':')
                    && c.len() > 4
            });
            members > 5 && checks && spark && logs && status_bar(s).contains(" DEMO ")
        },
    );
    assert!(
        top_lines(&s)[0].contains("Members") && top_lines(&s)[0].contains("Checks (demo)"),
        "{s}"
    );

    // Silence the selected check. Before the deregister below: the demo drops a deregistered
    // member's checks at its next poll, which could take the row away halfway through.
    t.send(&["Tab"]);
    t.send(&["s"]);
    let s = t.wait_screen("the silence form", SOON, |s| {
        s.contains("  check  ") && s.contains("reason (required)") && s.contains("Enter review")
    });
    let target = s
        .lines()
        .find_map(|l| {
            let i = l.find("  check  ")?;
            l[i + 9..].split_whitespace().next().map(str::to_string)
        })
        .unwrap_or_else(|| panic!("the silence form names no check:\n{s}"));
    let (entity, check) = target.split_once('/').expect("entity/check");
    let (entity, check) = (entity.to_string(), check.to_string());
    t.type_text("e2e maintenance");
    t.send(&["Enter"]);
    let s = t.wait_screen("the silence confirmation", SOON, |s| {
        s.contains("Create this silence?") && s.contains("[y] silence")
    });
    assert!(
        s.contains(&format!("{check} on {entity}")),
        "confirm dialog does not name {check} on {entity}:\n{s}"
    );
    assert!(s.contains("e2e maintenance"), "{s}");
    t.confirm("y");
    let said = format!("silenced {check} on {entity}");
    t.wait_screen(
        &format!("{entity}/{check} marked S and {said:?} in the status line"),
        SOON,
        |s| silenced_marker(s, &entity, &check) == Some(true) && s.contains(&said),
    );
    let line = t.wait_audit("silence", "created");
    assert_eq!(
        line["target"],
        format!("{check} on {entity}").as_str(),
        "{line}"
    );
    assert!(
        line.to_string().contains("e2e maintenance"),
        "the reason is not in the audit line: {line}"
    );

    // And remove it again.
    t.send(&["u"]);
    let s = t.wait_screen("the unsilence confirmation", SOON, |s| {
        s.contains("Remove this silence?") && s.contains("[y] remove")
    });
    assert!(s.contains(&entity), "{s}");
    t.confirm("y");
    t.wait_screen(
        &format!("S gone from {entity}/{check}, \"removed\" in the status line"),
        SOON,
        |s| {
            !s.contains("Remove this silence?")
                && silenced_marker(s, &entity, &check) == Some(false)
                && s.lines()
                    .any(|l| l.contains("removed") && l.contains(&entity))
        },
    );
    let line = t.wait_audit("unsilence", "removed");
    assert!(
        line["target"].as_str().is_some_and(|x| x.contains(&entity)),
        "{line}"
    );

    // Deregister the first row (the first `j` selects it: nothing is selected at start).
    t.send(&["BTab"]);
    t.send(&["j"]);
    t.send(&["D"]);
    let s = t.wait_screen("the deregister dialog with its key", SOON, |s| {
        s.contains("Deregister this member?") && s.contains("key  /services/")
    });
    let key = s
        .lines()
        .find_map(|l| {
            let i = l.find("key  /services/")?;
            l[i + 5..].split_whitespace().next().map(str::to_string)
        })
        .unwrap_or_else(|| panic!("the dialog names no key:\n{s}"));
    let instance = key.rsplit('/').next().unwrap().to_string();
    t.confirm("y");
    t.wait_screen(
        &format!("{instance} gone from the members pane"),
        SOON,
        |s| !s.contains("Deregister this member?") && member_row(s, &instance).is_none(),
    );
    let line = t.wait_audit("deregister", "deleted");
    assert_eq!(line["target"], key.as_str(), "{line}");
    assert_eq!(line["cluster"], "demo", "{line}");
    assert_eq!(line["user"], "e2e-tester", "{line}");
}

#[test]
fn alertmanager_checks_silence_for_real_and_readonly_refuses() {
    let am = Alertmanager::start();
    am.fire(&[
        ("DiskFull", "web-1", "warning"),
        ("HighLatency", "web-2", "critical"),
    ]);
    let f = panes_fleet(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
        am.url()
    ));
    let t = f.console(&[]);
    let s = t.wait_screen("both alerts as check rows", SOON, |s| {
        check_row(s, "web-2", "HighLatency").is_some()
            && check_row(s, "web-1", "DiskFull").is_some()
    });
    let pane = checks_pane(&s);
    let crit = pane
        .iter()
        .position(|l| cells(l).get(2) == Some(&"HighLatency"))
        .unwrap();
    let warn = pane
        .iter()
        .position(|l| cells(l).get(2) == Some(&"DiskFull"))
        .unwrap();
    assert!(crit < warn, "not worst-first:\n{}", pane.join("\n"));
    assert_eq!(cells(&pane[crit])[0], "CRIT", "{}", pane[crit]);
    assert_eq!(cells(&pane[warn])[0], "WARN", "{}", pane[warn]);
    assert!(pane[0].contains("Checks (alertmanager)"), "{}", pane[0]);

    // The selected (first, worst) row: HighLatency on web-2. An empty reason is refused.
    t.send(&["Tab"]);
    t.send(&["s"]);
    t.wait_screen("the silence form for web-2/HighLatency", SOON, |s| {
        s.contains("reason (required)") && s.contains("  check  web-2/HighLatency")
    });
    t.send(&["Enter"]);
    let s = t.wait_text("reason is required");
    assert!(!s.contains("Create this silence?"), "{s}");
    assert!(am.active_silences().is_empty());

    t.type_text("e2e: latency under investigation");
    t.send(&["Enter"]);
    t.wait_screen("the silence confirmation", SOON, |s| {
        s.contains("Create this silence?") && s.contains("HighLatency on web-2")
    });
    t.confirm("y");
    let silence = wait_until_or(
        "an active silence in Alertmanager",
        SOON,
        || am.active_silences().into_iter().next(),
        || t.screen(),
    );
    let mut matchers: Vec<(String, String, bool, bool)> = silence["matchers"]
        .as_array()
        .expect("matchers")
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or("").to_string(),
                m["value"].as_str().unwrap_or("").to_string(),
                m["isRegex"].as_bool().unwrap_or(true),
                m["isEqual"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    matchers.sort();
    assert_eq!(
        matchers,
        vec![
            ("alertname".into(), "HighLatency".into(), false, true),
            ("instance".into(), "web-2".into(), false, true),
        ],
        "{silence}"
    );
    assert_eq!(silence["createdBy"], "e2e-tester", "{silence}");
    assert_eq!(
        silence["comment"], "e2e: latency under investigation",
        "{silence}"
    );
    assert_eq!(am.active_silences().len(), 1, "more than one silence");

    // The row is marked, also after the next polls (Alertmanager reports it suppressed).
    let marked = |s: &str| {
        silenced_marker(s, "web-2", "HighLatency") == Some(true)
            && silenced_marker(s, "web-1", "DiskFull") == Some(false)
    };
    t.wait_screen(
        "HighLatency marked S, \"silenced\" in the status line",
        SOON,
        |s| marked(s) && s.contains("silenced HighLatency on web-2"),
    );
    std::thread::sleep(Duration::from_millis(2500));
    t.wait_screen("HighLatency still marked S after two polls", LIVE, marked);
    let line = t.wait_audit("silence", "created");
    assert_eq!(line["cluster"], "test", "{line}");

    // `u` expires it in Alertmanager again.
    t.send(&["u"]);
    t.wait_screen("the unsilence confirmation", SOON, |s| {
        s.contains("Remove this silence?") && s.contains("[y] remove")
    });
    t.confirm("y");
    wait_until_or(
        "the silence no longer active",
        SOON,
        || am.active_silences().is_empty(),
        || t.screen(),
    );
    t.wait_screen("S gone from HighLatency", SOON, |s| {
        silenced_marker(s, "web-2", "HighLatency") == Some(false)
    });
    t.wait_audit("unsilence", "removed");
    drop(t);

    // --readonly: `s` is refused, nothing reaches Alertmanager.
    let t = f.console(&["--readonly"]);
    t.wait_screen("the alerts", SOON, |s| {
        check_row(s, "web-1", "DiskFull").is_some()
    });
    t.send(&["Tab"]);
    t.send(&["j"]);
    t.send(&["s"]);
    let s = t.wait_text("read-only");
    assert!(
        !s.contains("reason (required)"),
        "silence form opened:\n{s}"
    );
    t.send(&["Enter"]);
    t.send(&["y"]);
    // Both keys were handled once a later key's effect is on screen: Enter opened the check's
    // detail, and the Esc sent after `y` closes it.
    t.wait_text("Check detail");
    t.escape();
    t.wait_gone("Check detail");
    assert!(
        am.active_silences().is_empty(),
        "a silence was created read-only"
    );
    let line = t.wait_audit("silence", "refused: readonly");
    // The target as the silence dialog would have named it.
    assert_eq!(line["target"], "DiskFull on web-1", "{line}");
    assert_eq!(line["phase"], "refused", "{line}");
}

#[test]
fn hostile_log_lines_are_drawn_harmlessly() {
    let redis = Redis::start();
    let f = panes_fleet(&format!(
        "logs = {{ kind = \"redis\", url = \"{}\", channel = \"syslog\" }}",
        redis.url()
    ));
    let t = f.console(&[]);
    // Pub/Sub drops messages nobody listens to: wait until the console subscribed.
    wait_until_or(
        "the console to subscribe to syslog",
        SOON,
        || redis.subscribers("syslog") > 0,
        || t.screen(),
    );
    let before = t.wait_screen("the logs pane waiting", SOON, |s| {
        s.contains("waiting for log lines")
    });
    assert_eq!(
        t.pane_title(),
        TITLE,
        "the title was not set by the wrapper"
    );
    let drawn = t.raw_bytes().len();

    let evil = br#"{"host":"web-1","program":"ev\u001b[1mil","severity":"err","message":"before\u001b[2J\u001b]0;pwned\u0007after"}"#;
    redis.cmd(&[b"PUBLISH", b"syslog", evil]);
    // The same, raw: real ESC/BEL bytes in a plain syslog line, not JSON-escaped.
    redis.cmd(&[
        b"PUBLISH",
        b"syslog",
        b"<11>Jan  1 00:00:00 web-2 evil2: rawstart\x1b]2;pwned2\x07\x1b[2J\x1bcrawend",
    ]);
    // Not UTF-8 at all.
    redis.cmd(&[b"PUBLISH", b"syslog", b"broken \xff\xfe bytes from web-2"]);

    let s = t.wait_screen("the three hostile lines", SOON, |s| {
        s.contains("beforeafter") && s.contains("rawstartrawend") && s.contains("broken")
    });
    let logs = logs_pane(&s);
    let line = logs.iter().find(|l| l.contains("beforeafter")).unwrap();
    let c = cells(line);
    assert_eq!(&c[1..4], &["web-1", "evil", "err"], "{line}");
    assert!(
        line.contains("beforeafter"),
        "message not shown in place: {line}"
    );
    let broken = logs.iter().find(|l| l.contains("broken")).unwrap();
    assert!(
        broken.contains("broken \u{fffd}\u{fffd} bytes"),
        "invalid UTF-8 not shown as U+FFFD: {broken}"
    );
    assert!(!s.contains("pwned"), "{s}");

    // No clear screen: the other panes are still drawn as before.
    let members = members_pane(&s);
    assert!(members[0].starts_with("┌ Members"), "{s}");
    assert!(
        members.last().unwrap().starts_with('└'),
        "members border gone:\n{s}"
    );
    assert!(
        member_row(&s, "web-1").is_some() && member_row(&s, "web-2").is_some(),
        "{s}"
    );
    assert_eq!(
        top_lines(&s),
        top_lines(&before),
        "the top panes changed after the log lines"
    );
    assert!(metrics_pane(&s)[0].starts_with("┌ Metrics"), "{s}");
    assert!(status_bar(&s).contains("logs ● live"), "{s}");

    // Nothing of it reached the terminal: the title is unchanged, and the console's own output
    // (from its switch to the alternate screen on) has no OSC at all, no BEL, no clear screen and
    // no reset. The console itself never clears the screen (ratatui repaints cells), so ESC[2J is
    // not expected even once; the only OSC in the recording is the wrapper's own title.
    // The screen shows the lines, so tmux has read (and would have obeyed) their bytes; once the
    // recording has them too, everything the console wrote for them can be looked at.
    wait_until("the lines in the recording", SOON, || {
        contains_bytes(&t.raw_bytes()[drawn..], "beforeafter".as_bytes())
    });
    assert_eq!(t.pane_title(), TITLE, "the window title was changed");
    let raw = t.raw_bytes();
    let start = raw
        .windows(8)
        .position(|w| w == b"\x1b[?1049h")
        .expect("the console never entered the alternate screen");
    assert!(start < drawn, "the recording is out of order");
    let console = &raw[start..];
    for (seq, what) in [
        (&b"pwned"[..], "the payload text"),
        (b"\x1b]", "an OSC sequence (window title)"),
        (b"\x07", "a BEL"),
        (b"\x1b[2J", "a clear screen"),
        (b"\x1bc", "a terminal reset"),
    ] {
        assert!(
            !contains_bytes(console, seq),
            "{what} ({seq:?}) reached the terminal"
        );
    }
    assert!(
        contains_bytes(&raw[drawn..], "beforeafter".as_bytes()),
        "the recording does not have the line"
    );
}

#[test]
fn metrics_pane_shows_a_prometheus_series_and_switches_window() {
    let prom = FakePrometheus::start();
    let f = panes_fleet(&format!(
        "metrics = {{ kind = \"prometheus\", url = \"{}\", series = [{{ name = \"cpu\", query = \"x\" }}] }}",
        prom.url()
    ));
    let t = f.console(&[]);
    let s = t.wait_screen("the cpu series with its newest value", SOON, |s| {
        metrics_pane(s)
            .iter()
            .any(|l| cells(l).first() == Some(&"cpu") && l.contains("73.4"))
    });
    let pane = metrics_pane(&s);
    assert!(pane[0].contains("[1h]"), "{}", pane[0]);
    let row = pane
        .iter()
        .find(|l| cells(l).first() == Some(&"cpu"))
        .unwrap();
    let spark: String = row.chars().filter(|c| is_spark(*c)).collect();
    assert!(spark.chars().count() > 20, "no sparkline: {row}");
    assert!(
        spark.contains('█') && spark.contains('▁'),
        "the sparkline does not span min..max: {row}"
    );
    assert!(row.contains("10.0…73.4"), "min…max missing: {row}");
    let reqs = prom.requests();
    let first = reqs.first().expect("a query_range request");
    assert_eq!(param(first, "query"), Some("x"), "{first:?}");
    let span = |form: &[(String, String)]| {
        let n = |k| param(form, k).and_then(|v| v.parse::<f64>().ok()).unwrap();
        n("end") - n("start")
    };
    assert!((3600.0..3700.0).contains(&span(first)), "{first:?}");

    t.send(&["Tab"]);
    t.send(&["Tab"]);
    t.send(&["w"]);
    let s = t.wait_screen("the window label [6h]", SOON, |s| {
        metrics_pane(s)[0].contains("[6h]")
    });
    assert!(!metrics_pane(&s)[0].contains("[1h]"), "{s}");
    wait_until_or(
        "a 6h query",
        SOON,
        || {
            prom.requests()
                .into_iter()
                .find(|f| (21600.0..21900.0).contains(&span(f)))
        },
        || format!("requests: {:?}", prom.requests()),
    );
    t.wait_screen("the series drawn for 6h", SOON, |s| {
        metrics_pane(s)
            .iter()
            .any(|l| cells(l).first() == Some(&"cpu") && l.contains("73.4"))
    });
}

#[test]
fn crafted_alert_names_are_shown_escaped_and_silence_the_real_alert() {
    const EVIL: &str = "Evil\u{1b}]52;c;ZXZpbA==\u{7}OSC";
    let am = Alertmanager::start();
    // The crafted alert and a look-alike named like its sanitised text.
    am.fire(&[
        (EVIL, "web-1", "critical"),
        ("EvilOSC", "web-1", "critical"),
    ]);
    let f = panes_fleet(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
        am.url()
    ));
    let t = f.console(&[]);
    let drawn = t.raw_bytes().len();
    // The CHECK column is cut at its width; the dialogs show the whole name.
    let s = t.wait_screen(
        "both alerts, the crafted one with its escapes shown",
        SOON,
        |s| {
            check_row(s, "web-1", "EvilOSC").is_some()
                && checks_pane(s).iter().any(|l| l.contains("Evil␛]52;c"))
        },
    );
    // Sorted by name within CRIT: "Evil␛…" ("Evil\x1b…") before "EvilOSC", so it is selected.
    let pane = checks_pane(&s);
    let first = pane.iter().position(|l| l.contains("Evil␛]52")).unwrap();
    let lookalike = pane
        .iter()
        .position(|l| cells(l).get(2) == Some(&"EvilOSC"))
        .unwrap();
    assert!(first < lookalike, "{}", pane.join("\n"));

    t.send(&["Tab"]);
    t.send(&["s"]);
    t.wait_screen("the form names the crafted alert", SOON, |s| {
        s.contains("check  web-1/Evil␛]52;c;ZXZpbA==␇OSC")
    });
    t.type_text("e2e: crafted alert");
    t.send(&["Enter"]);
    t.wait_screen("the confirmation names it", SOON, |s| {
        s.contains("Create this silence?") && s.contains("Evil␛]52;c;ZXZpbA==␇OSC on web-1")
    });
    t.confirm("y");
    t.wait_screen("silenced, once Alertmanager shows it", SOON, |s| {
        s.contains("silenced Evil␛]52;c;ZXZpbA==␇OSC on web-1")
    });
    let line = t.wait_audit("silence", "created");
    assert_eq!(line["cluster"], "test", "{line}");

    // Alertmanager's own client: the crafted alert is silenced, its look-alike is not.
    let silenced: Vec<serde_json::Value> = common::amtool_silenced(&am.url())
        .into_iter()
        .map(|a| a["labels"]["alertname"].clone())
        .collect();
    assert_eq!(silenced, vec![serde_json::json!(EVIL)]);

    // None of the label's bytes were obeyed: no OSC (52 sets the clipboard), no BEL.
    let raw = t.raw_bytes();
    let start = raw
        .windows(8)
        .position(|w| w == b"\x1b[?1049h")
        .expect("the console never entered the alternate screen");
    assert!(start < drawn, "the recording is out of order");
    for (seq, what) in [
        (&b"\x1b]52"[..], "the OSC 52 from the label"),
        (b"\x1b]", "an OSC sequence"),
        (b"\x07", "a BEL"),
    ] {
        assert!(
            !contains_bytes(&raw[start..], seq),
            "{what} ({seq:?}) reached the terminal"
        );
    }
}

//! `opsconsole snapshot` end to end: the built binary against a real etcd, with Alertmanager v2 and
//! Loki answered by a tiny contract server in the test (their JSON shapes, as the sources parse
//! them), and once against a real Alertmanager (Debian `prometheus-alertmanager`) holding alerts
//! and a silence posted through its API. Markdown and JSON are checked, and so are the failure
//! paths: a dead or silent checks backend is reported in its section with exit status 0; a dead
//! etcd exits 1 and still prints the rest; a bad config prints nothing on stdout.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, write_config, Alertmanager, Etcd};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");

/// Answers `GET`/`POST` by path with canned JSON bodies and records each request line.
struct Contract {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Contract {
    /// `routes`: (path without query, body). Unknown paths get 404. With `silent`, connections are
    /// accepted and never answered.
    fn start(routes: Vec<(&'static str, String)>, silent: bool) -> Contract {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let routes = Arc::new(routes);
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                if silent {
                    held.push(conn);
                    continue;
                }
                let routes = routes.clone();
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Headers, then the body by Content-Length.
                    let head_end = loop {
                        match conn.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        match conn.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let line = head.lines().next().unwrap_or("").to_string();
                    seen.lock().unwrap().push(line.clone());
                    let target = line.split_whitespace().nth(1).unwrap_or("/");
                    let path = target.split('?').next().unwrap_or("/");
                    let (status, body) = match routes.iter().find(|(p, _)| *p == path) {
                        Some((_, b)) => ("200 OK", b.clone()),
                        None => ("404 Not Found", "\"not found\"".to_string()),
                    };
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Contract { port, requests }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

const SILENCE_ID: &str = "5f1c3a2e-8b7d-4e61-9c0a-1d2e3f4a5b6c";

/// Alertmanager v2: `/api/v2/alerts` (GettableAlerts) and `/api/v2/silences` (GettableSilences).
fn alertmanager() -> Contract {
    let alert = |name: &str, instance: &str, severity: &str, summary: &str, silenced: bool| {
        json!({
            "labels": {"alertname": name, "instance": instance, "severity": severity, "job": "node"},
            "annotations": {"summary": summary},
            "startsAt": "2026-11-25T01:00:00.000Z",
            "endsAt": "2099-01-01T00:00:00.000Z",
            "updatedAt": "2026-11-25T01:05:00.000Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": format!("{name}{instance}"),
            "receivers": [{"name": "blackhole"}],
            "status": {
                "state": if silenced { "suppressed" } else { "active" },
                "silencedBy": if silenced { vec![SILENCE_ID] } else { vec![] },
                "inhibitedBy": []
            }
        })
    };
    let alerts = json!([
        alert(
            "HighLatency",
            "web-1",
            "critical",
            "p99 latency 2.3s | over \u{1b}[31mSLO",
            false
        ),
        alert("DiskFull", "redis-1", "warning", "disk 91% full", true),
        alert("Watchdog", "web-2", "info", "always firing", false),
    ]);
    let matcher = |name: &str, value: &str| json!({"name": name, "value": value, "isRegex": false, "isEqual": true});
    let silences = json!([
        {
            "id": SILENCE_ID,
            "status": {"state": "active"},
            "updatedAt": "2026-11-25T02:00:00.000Z",
            "matchers": [matcher("alertname", "DiskFull"), matcher("instance", "redis-1")],
            "startsAt": "2026-11-25T02:00:00.000Z",
            "endsAt": "2026-11-26T02:00:00.000Z",
            "createdBy": "alice",
            "comment": "disk swap planned"
        },
        {
            "id": "0000dead-0000-0000-0000-000000000000",
            "status": {"state": "expired"},
            "updatedAt": "2026-11-20T02:00:00.000Z",
            "matchers": [matcher("alertname", "Old")],
            "startsAt": "2026-11-20T01:00:00.000Z",
            "endsAt": "2026-11-20T02:00:00.000Z",
            "createdBy": "bob",
            "comment": "long gone"
        }
    ]);
    Contract::start(
        vec![
            ("/api/v2/alerts", alerts.to_string()),
            ("/api/v2/silences", silences.to_string()),
        ],
        false,
    )
}

/// Loki `query_range` (streams): errors, an info line and a critical one, over three streams.
fn loki() -> Contract {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let ago = |s: u128| (now - s * 1_000_000_000).to_string();
    let body = json!({
        "status": "success",
        "data": {"resultType": "streams", "result": [
            {"stream": {"host": "web-1", "job": "nginx", "level": "error"},
             "values": [[ago(30), "upstream timed out \u{1b}[2J(110)"], [ago(90), "first error"]]},
            {"stream": {"host": "web-2", "job": "nginx", "level": "info"},
             "values": [[ago(20), "GET /health 200"]]},
            {"stream": {"host": "redis-1", "job": "redis", "level": "critical"},
             "values": [[ago(10), "OOM command not allowed"]]}
        ]}
    });
    Contract::start(vec![("/loki/api/v1/query_range", body.to_string())], false)
}

fn seed(etcd: &Etcd) {
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80,"version":"1.4.2","started_at":"2026-11-25T01:00:00Z"}"#,
    ]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    etcd.ctl(&[
        "put",
        "/services/redis/redis-1",
        r#"{"host":"10.0.1.1","port":6379}"#,
    ]);
}

fn snapshot(cfg: &std::path::Path, extra: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--utc",
            "snapshot",
            "--cluster",
            "test",
        ])
        .args(extra)
        .output()
        .expect("running opsconsole snapshot");
    (out, started.elapsed())
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The text of `## title` up to the next `## `.
fn section<'a>(md: &'a str, title: &str) -> &'a str {
    let start = md
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title:?} in:\n{md}"));
    let rest = &md[start + 1..];
    let end = rest[3..].find("\n## ").map(|i| i + 4).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn markdown_and_json_with_real_etcd_and_contract_alertmanager_and_loki() {
    let etcd = Etcd::start();
    seed(&etcd);
    let am = alertmanager();
    let lk = loki();
    let (_dir, cfg) = write_config(
        &etcd.endpoint(),
        "/services/",
        &format!(
            "checks = {{ kind = \"alertmanager\", url = \"{}\" }}\nlogs = {{ kind = \"loki\", url = \"{}\", query = '{{job=\"syslog\"}}' }}",
            am.url(),
            lk.url()
        ),
    );

    let (out, took) = snapshot(&cfg, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let md = stdout(&out);
    assert!(md.starts_with("# opsconsole snapshot: test\n"), "{md}");
    assert!(
        !md.contains('\u{1b}'),
        "escape sequences must be stripped:\n{md}"
    );

    let members = section(&md, "Members");
    assert!(
        members.contains("3 members under /services/ at etcd revision"),
        "{members}"
    );
    assert!(
        members.contains("| Role | Count |\n|---|---|\n| redis | 1 |\n| web | 2 |\n"),
        "{members}"
    );
    assert!(
        members.contains("| web | web-1 | 10.0.0.1:80 | 1.4.2 | 2026-11-25 01:00:00 UTC | - |"),
        "{members}"
    );
    assert!(
        members.contains("| web | web-2 | 10.0.0.2:80 | - | - | - |"),
        "{members}"
    );
    assert!(
        members.contains("| redis | redis-1 | 10.0.1.1:6379 |"),
        "{members}"
    );

    let checks = section(&md, "Failing checks");
    assert!(
        checks.contains("2 failing of 3 (alertmanager)."),
        "{checks}"
    );
    let crit = checks.find("| CRIT | web-1 | HighLatency |").expect(checks);
    let warn = checks.find("| WARN | redis-1 | DiskFull |").expect(checks);
    assert!(crit < warn, "worst first:\n{checks}");
    assert!(
        checks.contains("p99 latency 2.3s \\| over SLO | - |"),
        "{checks}"
    );
    assert!(
        checks.contains("| disk 91% full | silenced (5f1c3a2e) |"),
        "{checks}"
    );
    assert!(
        !checks.contains("Watchdog"),
        "OK checks are not failing:\n{checks}"
    );

    let silences = section(&md, "Silences");
    assert!(
        silences.contains(&format!(
            "| {SILENCE_ID} | alice | disk swap planned | 2026-11-26 02:00:00 UTC | alertname=\"DiskFull\", instance=\"redis-1\" |"
        )),
        "{silences}"
    );
    assert!(
        !silences.contains("bob"),
        "expired silences are not listed:\n{silences}"
    );

    let logs = section(&md, "Error logs");
    assert!(
        logs.contains("Last 3 error-or-worse lines (asked for 20) among the newest 4 of the past hour (loki)."),
        "{logs}"
    );
    let first = logs.find("first error").expect(logs);
    let timed_out = logs.find("upstream timed out (110)").expect(logs);
    let oom = logs
        .find("| redis-1 | redis | crit | OOM command not allowed |")
        .expect(logs);
    assert!(
        first < timed_out && timed_out < oom,
        "oldest first:\n{logs}"
    );
    assert!(
        !logs.contains("GET /health"),
        "info lines are not errors:\n{logs}"
    );
    assert!(!md.contains("## Errors"), "{md}");
    // One read of the newest 2000 lines of the past hour, backwards.
    let reqs = lk.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert!(
        reqs[0].contains("limit=2000") && reqs[0].contains("direction=backward"),
        "{reqs:?}"
    );

    // --logs N keeps the newest N.
    let (out, _) = snapshot(&cfg, &["--logs", "1"]);
    let logs = section(&stdout(&out), "Error logs").to_string();
    assert!(
        logs.contains("OOM command not allowed") && !logs.contains("first error"),
        "{logs}"
    );

    // JSON: one object with every section.
    let (out, _) = snapshot(&cfg, &["--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["cluster"], "test");
    let at = v["generated_at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    assert_eq!(v["members"]["status"], "ok");
    assert_eq!(v["members"]["count"], 3);
    assert_eq!(v["members"]["roles"], json!({"redis": 1, "web": 2}));
    assert_eq!(v["members"]["items"][1]["instance"], "web-1");
    assert_eq!(v["members"]["items"][1]["addr"], "10.0.0.1:80");
    assert_eq!(v["checks"]["status"], "ok");
    assert_eq!(v["checks"]["total"], 3);
    let failing = v["checks"]["failing"].as_array().unwrap();
    assert_eq!(failing.len(), 2);
    assert_eq!(failing[0]["check"], "HighLatency");
    assert_eq!(failing[0]["status"], 2);
    assert_eq!(failing[0]["output"], "p99 latency 2.3s | over SLO");
    assert_eq!(failing[0]["silenced"], false);
    assert_eq!(failing[1]["check"], "DiskFull");
    assert_eq!(failing[1]["silenced"], true);
    assert_eq!(failing[1]["silenced_by"], json!([SILENCE_ID]));
    assert_eq!(v["silences"]["status"], "ok");
    let items = v["silences"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], SILENCE_ID);
    assert_eq!(items[0]["who"], "alice");
    assert_eq!(items[0]["reason"], "disk swap planned");
    assert_eq!(items[0]["until"], "2026-11-26T02:00:00Z");
    assert_eq!(v["logs"]["status"], "ok");
    assert_eq!(v["logs"]["source"], "loki");
    let lines = v["logs"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["message"], "upstream timed out (110)");
    assert_eq!(lines[2]["severity"], "crit");
    assert_eq!(lines[2]["host"], "redis-1");
    assert_eq!(v["errors"], json!([]));
}

#[test]
fn dead_checks_backend_is_reported_in_its_section_and_exit_is_zero() {
    let etcd = Etcd::start();
    seed(&etcd);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (_dir, cfg) = write_config(
        &etcd.endpoint(),
        "/services/",
        &format!(
            "checks = {{ kind = \"alertmanager\", url = \"{dead}\" }}\nlogs = {{ kind = \"redis\", url = \"redis://127.0.0.1:{}\", channel = \"syslog\" }}",
            free_port()
        ),
    );
    let (out, took) = snapshot(&cfg, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let md = stdout(&out);
    assert!(
        section(&md, "Failing checks").starts_with("## Failing checks\n\nchecks: unreachable: "),
        "{md}"
    );
    assert!(
        section(&md, "Silences").contains("silences: unavailable"),
        "{md}"
    );
    assert!(
        section(&md, "Members").contains("| web | web-1 | 10.0.0.1:80 |"),
        "{md}"
    );
    assert!(
        section(&md, "Error logs").contains("logs: live-only source: no history"),
        "{md}"
    );
    assert!(
        section(&md, "Errors").contains("- checks: unreachable: "),
        "{md}"
    );

    let (out, _) = snapshot(&cfg, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["members"]["status"], "ok");
    assert_eq!(v["checks"]["status"], "error");
    assert!(v["checks"]["error"]
        .as_str()
        .unwrap()
        .starts_with("checks: unreachable: "));
    assert_eq!(v["silences"]["status"], "error");
    assert_eq!(v["logs"]["status"], "unavailable");
    assert_eq!(
        v["logs"]["note"],
        "live-only source: no history (redis Pub/Sub)"
    );
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0]
        .as_str()
        .unwrap()
        .starts_with("checks: unreachable: "));
}

#[test]
fn silent_checks_backend_times_out_after_5_s() {
    let etcd = Etcd::start();
    seed(&etcd);
    let silent = Contract::start(vec![], true);
    let (_dir, cfg) = write_config(
        &etcd.endpoint(),
        "/services/",
        &format!(
            "checks = {{ kind = \"alertmanager\", url = \"{}\", timeout_secs = 60 }}",
            silent.url()
        ),
    );
    let (out, took) = snapshot(&cfg, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(9),
        "took {took:?}"
    );
    let md = stdout(&out);
    assert!(
        section(&md, "Failing checks").contains("checks: unreachable: no answer within 5 s"),
        "{md}"
    );
    assert!(
        section(&md, "Error logs").contains("logs: not configured"),
        "{md}"
    );
}

#[test]
fn etcd_down_exits_1_and_prints_the_rest() {
    let am = alertmanager();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (_dir, cfg) = write_config(
        &dead,
        "/services/",
        &format!(
            "checks = {{ kind = \"alertmanager\", url = \"{}\" }}",
            am.url()
        ),
    );
    let (out, _) = snapshot(&cfg, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let md = stdout(&out);
    assert!(
        section(&md, "Members").starts_with("## Members\n\netcd: unreachable: "),
        "{md}"
    );
    assert!(
        section(&md, "Failing checks").contains("| CRIT | web-1 | HighLatency |"),
        "{md}"
    );

    let (out, _) = snapshot(&cfg, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["members"]["status"], "error");
    assert_eq!(v["checks"]["status"], "ok");
    assert!(v["errors"][0]
        .as_str()
        .unwrap()
        .starts_with("etcd: unreachable: "));
}

#[test]
fn discovered_checks_backend_is_used_when_the_profile_has_none() {
    let etcd = Etcd::start();
    seed(&etcd);
    let am = alertmanager();
    etcd.ctl(&[
        "put",
        "/config/opsconsole/checks",
        &json!({"kind": "alertmanager", "url": am.url()}).to_string(),
    ]);
    etcd.ctl(&["put", "/config/opsconsole/logs", "{\"kind\": \"nagios\"}"]);
    let (_dir, cfg) = write_config(&etcd.endpoint(), "/services/", "");
    let (out, _) = snapshot(&cfg, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = stdout(&out);
    assert!(
        section(&md, "Failing checks").contains("2 failing of 3 (alertmanager)."),
        "{md}"
    );
    assert!(
        section(&md, "Error logs")
            .contains("logs: discovery entry /config/opsconsole/logs is invalid"),
        "{md}"
    );
}

#[test]
fn bad_config_prints_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[clusters.test]\netcd = { endpoints = [] }\n").unwrap();
    let (out, _) = snapshot(&cfg, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("endpoints is empty"),
        "{}",
        stderr(&out)
    );
}

/// POSTs `body` to Alertmanager's API; its answer (200 asserted).
fn post(am: &Alertmanager, path: &str, body: &Value) -> String {
    let (status, answer) = common::http(am.port, "POST", path, Some(&body.to_string()))
        .unwrap_or_else(|| panic!("no answer to POST {path}"));
    assert_eq!(status, 200, "POST {path}: {answer}");
    answer
}

#[test]
fn real_alertmanager_alerts_and_silences() {
    let etcd = Etcd::start();
    seed(&etcd);
    let am = Alertmanager::start();
    let now = chrono::Utc::now();
    let at = |d: chrono::Duration| (now + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let alert = |name: &str, instance: &str, severity: &str, summary: &str| {
        json!({
            "labels": {"alertname": name, "instance": instance, "severity": severity},
            "annotations": {"summary": summary},
            "startsAt": at(chrono::Duration::minutes(-5)),
            "endsAt": at(chrono::Duration::hours(1)),
        })
    };
    post(
        &am,
        "/api/v2/alerts",
        &json!([
            alert("HighLatency", "web-1", "critical", "p99 latency 2.3s"),
            alert("DiskFull", "redis-1", "warning", "disk 91% full"),
            alert("Watchdog", "web-2", "none", "always firing"),
        ]),
    );
    let created = post(
        &am,
        "/api/v2/silences",
        &json!({
            "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": false, "isEqual": true}],
            "startsAt": at(chrono::Duration::zero()),
            "endsAt": at(chrono::Duration::hours(2)),
            "createdBy": "alice",
            "comment": "disk swap planned",
        }),
    );
    let id: Value = serde_json::from_str(&created).unwrap();
    let id = id["silenceID"].as_str().expect("silenceID").to_string();
    let (_dir, cfg) = write_config(
        &etcd.endpoint(),
        "/services/",
        &format!(
            "checks = {{ kind = \"alertmanager\", url = \"{}\" }}",
            am.url()
        ),
    );

    let (out, _) = snapshot(&cfg, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let md = stdout(&out);
    let checks = section(&md, "Failing checks");
    assert!(checks.contains("2 failing of 3 (alertmanager)."), "{md}");
    assert!(checks.contains("| CRIT | web-1 | HighLatency |"), "{md}");
    assert!(
        checks.contains(&format!("| disk 91% full | silenced ({}) |", &id[..8])),
        "{md}"
    );
    let silences = section(&md, "Silences");
    assert!(
        silences.contains(&format!("| {id} | alice | disk swap planned |")),
        "{md}"
    );

    let (out, _) = snapshot(&cfg, &["--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["checks"]["failing"][1]["check"], "DiskFull");
    assert_eq!(v["checks"]["failing"][1]["silenced"], true);
    assert_eq!(v["silences"]["items"][0]["id"], id.as_str());
    assert_eq!(v["errors"], json!([]));
}

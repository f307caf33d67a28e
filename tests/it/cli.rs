//! The subcommands, end to end with the built binary:
//!
//! - `opsconsole snapshot` against a real etcd, with Alertmanager v2 and Loki answered by a tiny
//!   contract server in the test (their JSON shapes, as the sources parse them), and once against
//!   a real Alertmanager (Debian `prometheus-alertmanager`) holding alerts and a silence posted
//!   through its API. Markdown and JSON are checked, and so are the failure paths: a dead or silent
//!   checks backend is reported in its section with exit status 0; a dead etcd exits 1 and still
//!   prints the rest; a bad config prints nothing on stdout; a discovered checks backend is used.
//! - `opsconsole inventory` against a real etcd: the JSON shape, `--host`, the env var, one-line
//!   errors; then the real `ansible-inventory` (ansible-core from PyPI, in a venv cached under
//!   `target/test-deps/ansible`) reading it through the wrapper script the README documents. A
//!   missing python3/venv or a failed pip install fails the test loudly: nothing is skipped.
//! - Output into a pipe that is already closed (`opsconsole info | head -1`): the program stops
//!   quietly, not with a panic "failed printing to stdout: Broken pipe".

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use common::{free_port, write_config, Alertmanager, Etcd};

// ---------------------------------------------------------------------------------------------
// snapshot

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

// ---------------------------------------------------------------------------------------------
// inventory

/// The wrapper the README documents, byte for byte (it finds `opsconsole` on PATH and the config
/// in the usual place).
const WRAPPER: &str = r#"#!/bin/sh
# opsconsole-inventory: Ansible dynamic inventory from the live etcd membership.
#   ansible-inventory -i ./opsconsole-inventory --graph
#   ansible-playbook  -i ./opsconsole-inventory site.yml
# Cluster: $OPSCONSOLE_CLUSTER if set, else the default below. Config: the usual
# $XDG_CONFIG_HOME/opsconsole/config.toml (add --config PATH after `inventory` for another).
export OPSCONSOLE_CLUSTER="${OPSCONSOLE_CLUSTER:-prod}"
exec opsconsole inventory "$@"
"#;

/// ansible-core releases that run on Debian 12's Python 3.11 and later.
const ANSIBLE_SPEC: &str = "ansible-core>=2.16,<2.20";

/// Registers a small fleet; returns the lease id web-1 is bound to.
fn seed_leased(etcd: &Etcd) -> i64 {
    let granted = etcd.ctl(&["lease", "grant", "600"]);
    // "lease 694d7a1b2c3d4e5f granted with TTL(600s)"
    let hex = granted.split_whitespace().nth(1).expect("lease id");
    let lease = i64::from_str_radix(hex, 16).expect("hex lease id");
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80,"version":"1.4.2","dc":"eu-1","ansible_connection":"local","note":"{{ lookup('pipe', 'echo pwned') }}"}"#,
        &format!("--lease={hex}"),
    ]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:8080"]);
    etcd.ctl(&[
        "put",
        "/services/redis-cache/redis-1",
        r#"{"host":"10.0.1.1","port":6379}"#,
    ]);
    etcd.ctl(&["put", "/services/db/db-1", r#"{"Addr":"[fd00::1]:5432"}"#]);
    lease
}

fn opsconsole(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("OPSCONSOLE_CLUSTER")
        .env_remove("ETCDCTL_ENDPOINTS")
        .envs(env.iter().copied())
        .output()
        .expect("running opsconsole")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

/// The text inside `{"__ansible_unsafe": …}`.
fn text(v: &Value) -> &str {
    v["__ansible_unsafe"]
        .as_str()
        .unwrap_or_else(|| panic!("not an unsafe-marked string: {v}"))
}

/// Exit status non-zero, nothing on stdout, exactly one line on stderr containing `needle`.
fn assert_one_line_error(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected failure: {o:?}");
    assert!(o.stdout.is_empty(), "stdout must be empty: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

/// etcd keys are bytes: two keys that differ only in bytes that are not UTF-8 are two hosts, named
/// by their escaped text, each with its exact key in base64 — in the inventory and in the snapshot.
#[test]
fn keys_that_are_not_utf8_stay_distinct_in_inventory_and_snapshot() {
    let etcd = Etcd::start();
    etcd.put_bytes(b"/services/coll/inv\xff", "10.0.0.1:80");
    etcd.put_bytes(b"/services/coll/inv\xfe", "10.0.0.2:80");
    let (_dir, cfg) = write_config(&etcd.endpoint(), "/services/", "");
    let cfg = cfg.to_str().unwrap();

    let out = opsconsole(&["--config", cfg, "inventory", "-c", "test", "--list"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = json(&out);
    assert_eq!(
        list["coll"]["hosts"],
        serde_json::json!(["inv\\xfe", "inv\\xff"])
    );
    let hv = &list["_meta"]["hostvars"];
    assert_eq!(text(&hv["inv\\xff"]["ansible_host"]), "10.0.0.1");
    assert_eq!(text(&hv["inv\\xfe"]["ansible_host"]), "10.0.0.2");
    assert_eq!(
        hv["inv\\xff"]["etcd_key_b64"],
        "L3NlcnZpY2VzL2NvbGwvaW52/w=="
    );
    assert_eq!(
        hv["inv\\xfe"]["etcd_key_b64"],
        "L3NlcnZpY2VzL2NvbGwvaW52/g=="
    );

    let out = opsconsole(
        &[
            "--config", cfg, "snapshot", "-c", "test", "--format", "json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let snap = json(&out);
    assert_eq!(snap["members"]["count"], 2);
    let items = snap["members"]["items"].as_array().unwrap();
    let mut keys: Vec<(String, String)> = items
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().to_string(),
                m["key_b64"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (
                "/services/coll/inv\\xfe".to_string(),
                "L3NlcnZpY2VzL2NvbGwvaW52/g==".to_string()
            ),
            (
                "/services/coll/inv\\xff".to_string(),
                "L3NlcnZpY2VzL2NvbGwvaW52/w==".to_string()
            ),
        ]
    );
}

#[test]
fn list_and_host_against_real_etcd() {
    let etcd = Etcd::start();
    let lease = seed_leased(&etcd);
    let (_dir, cfg) = write_config(&etcd.endpoint(), "/services/", "");
    let cfg = cfg.to_str().unwrap();

    let out = opsconsole(
        &["--config", cfg, "inventory", "--cluster", "test", "--list"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no warnings expected");
    let list = json(&out);
    assert_eq!(
        list["all"]["children"],
        serde_json::json!(["db", "redis_cache", "web"])
    );
    assert_eq!(list["web"]["hosts"], serde_json::json!(["web-1", "web-2"]));
    assert_eq!(list["redis_cache"]["hosts"], serde_json::json!(["redis-1"]));
    assert_eq!(list["db"]["hosts"], serde_json::json!(["db-1"]));
    let keys: Vec<&String> = list.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "_meta, all and three groups: {keys:?}");

    let hv = &list["_meta"]["hostvars"];
    let w1 = &hv["web-1"];
    assert_eq!(text(&w1["ansible_host"]), "10.0.0.1");
    assert_eq!(w1["service_port"], 80);
    assert!(w1.get("ansible_port").is_none());
    assert_eq!(text(&w1["version"]), "1.4.2");
    assert_eq!(text(&w1["dc"]), "eu-1");
    assert_eq!(text(&w1["addr"]), "10.0.0.1");
    assert_eq!(w1["value_port"], 80);
    assert_eq!(text(&w1["etcd_key"]), "/services/web/web-1");
    assert_eq!(w1["etcd_lease"], lease);
    assert_eq!(text(&w1["role"]), "web");
    // An instance cannot change how Ansible connects to it.
    assert!(w1.get("ansible_connection").is_none());
    assert_eq!(text(&w1["value_ansible_connection"]), "local");
    assert_eq!(
        text(&w1["note"]),
        "{{ lookup('pipe', 'echo pwned') }}",
        "kept verbatim, marked unsafe"
    );
    let w2 = &hv["web-2"];
    assert_eq!(text(&w2["ansible_host"]), "10.0.0.2");
    assert_eq!(w2["service_port"], 8080);
    assert_eq!(w2["etcd_lease"], 0);
    assert_eq!(text(&hv["redis-1"]["role"]), "redis-cache");
    assert_eq!(text(&hv["db-1"]["ansible_host"]), "fd00::1");
    assert_eq!(hv["db-1"]["service_port"], 5432);

    // --host: that host's vars, `{}` for an unknown one.
    let out = opsconsole(
        &[
            "--config",
            cfg,
            "inventory",
            "-c",
            "test",
            "--host",
            "web-1",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), *w1);
    let out = opsconsole(
        &["--config", cfg, "inventory", "-c", "test", "--host", "nope"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), serde_json::json!({}));

    // The cluster from OPSCONSOLE_CLUSTER (Ansible passes only --list/--host) or the top-level flag.
    let out = opsconsole(
        &["--config", cfg, "inventory", "--list"],
        &[("OPSCONSOLE_CLUSTER", "test")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), list);
    let out = opsconsole(
        &["--config", cfg, "--cluster", "test", "inventory", "--list"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), list);
    let out = opsconsole(&["inventory", "--list", "--config", cfg, "-c", "test"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), list);
    // …and the one typed beats an exported one (--cluster > OPSCONSOLE_CLUSTER, issue 17).
    let out = opsconsole(
        &["--config", cfg, "--cluster", "test", "inventory", "--list"],
        &[("OPSCONSOLE_CLUSTER", "prod")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), list);
    // Two different clusters typed are still refused.
    let out = opsconsole(
        &[
            "--config",
            cfg,
            "--cluster",
            "prod",
            "inventory",
            "-c",
            "test",
            "--list",
        ],
        &[],
    );
    assert_one_line_error(&out, "two clusters given");

    // Live: a deregistered instance is gone from the next run.
    etcd.ctl(&["del", "/services/web/web-2"]);
    let out = opsconsole(&["--config", cfg, "inventory", "-c", "test", "--list"], &[]);
    assert_eq!(json(&out)["web"]["hosts"], serde_json::json!(["web-1"]));
}

#[test]
fn errors_are_one_line_on_stderr_and_nothing_on_stdout() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (_d1, cfg) = write_config(&dead, "/services/", "");
    let cfg = cfg.to_str().unwrap();
    let out = opsconsole(&["--config", cfg, "inventory", "-c", "test", "--list"], &[]);
    assert_one_line_error(&out, "etcd unreachable for cluster \"test\"");
    assert_eq!(out.status.code(), Some(1));

    let out = opsconsole(&["--config", cfg, "inventory", "-c", "nope", "--list"], &[]);
    assert_one_line_error(&out, "no cluster \"nope\"");
    assert_eq!(out.status.code(), Some(2));

    let out = opsconsole(&["--config", cfg, "inventory", "--list"], &[]);
    assert_one_line_error(&out, "--cluster NAME is required");

    let bad = tempfile::tempdir().unwrap();
    let bad_cfg = bad.path().join("config.toml");
    std::fs::write(
        &bad_cfg,
        "[clusters.test]\netcd = { endpoints = [\"localhost\"] }\n",
    )
    .unwrap();
    let out = opsconsole(
        &[
            "--config",
            bad_cfg.to_str().unwrap(),
            "inventory",
            "-c",
            "test",
            "--list",
        ],
        &[],
    );
    assert_one_line_error(&out, "line 2");
    assert_eq!(out.status.code(), Some(2));

    let missing = bad.path().join("missing.toml");
    let out = opsconsole(
        &[
            "--config",
            missing.to_str().unwrap(),
            "inventory",
            "-c",
            "test",
            "--host",
            "x",
        ],
        &[],
    );
    assert_one_line_error(&out, "no config file");

    // Neither --list nor --host: clap's usage error, still nothing on stdout.
    let out = opsconsole(&["--config", cfg, "inventory", "-c", "test"], &[]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("--list"), "{}", stderr(&out));
}

/// The venv with ansible-core, created once (python3 -m venv; pip install) and reused.
fn ansible_bin() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-deps")
        .join("ansible");
    let bin = dir.join("bin");
    let marker = dir.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(ANSIBLE_SPEC)
        && bin.join("ansible-inventory").is_file()
    {
        return bin;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let python = common::require_binary("python3");
    let out = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&dir)
        .output()
        .expect("running python3 -m venv");
    assert!(
        out.status.success(),
        "`{} -m venv {}` failed — install the venv module (Debian: apt-get install python3-venv; \
         scripts/setup does it). The Ansible test never skips.\n{}",
        python.display(),
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin.join("pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            ANSIBLE_SPEC,
        ])
        .output()
        .expect("running pip");
    assert!(
        out.status.success(),
        "`pip install {ANSIBLE_SPEC}` into {} failed (is PyPI reachable?). The Ansible test never \
         skips.\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        bin.join("ansible-inventory").is_file(),
        "pip installed {ANSIBLE_SPEC} but {}/ansible-inventory is missing",
        bin.display()
    );
    std::fs::write(&marker, ANSIBLE_SPEC).unwrap();
    bin
}

/// A place for Ansible's own state and a config home holding `opsconsole/config.toml`.
struct AnsibleEnv {
    dir: tempfile::TempDir,
    ansible: PathBuf,
}

impl AnsibleEnv {
    fn new(endpoint: &str) -> AnsibleEnv {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("xdg").join("opsconsole");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(
            conf.join("config.toml"),
            format!("[clusters.test]\netcd = {{ endpoints = [\"{endpoint}\"] }}\n"),
        )
        .unwrap();
        let wrapper = dir.path().join("opsconsole-inventory");
        std::fs::write(&wrapper, WRAPPER).unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        AnsibleEnv {
            dir,
            ansible: ansible_bin(),
        }
    }

    fn wrapper(&self) -> String {
        self.dir
            .path()
            .join("opsconsole-inventory")
            .display()
            .to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = self.dir.path().join("home");
        Command::new(self.ansible.join(tool))
            .args(args)
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("HOME", &home)
            .env("ANSIBLE_HOME", home.join(".ansible"))
            .env("ANSIBLE_LOCAL_TEMP", home.join(".ansible").join("tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
            .env("LC_ALL", "C.UTF-8")
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("OPSCONSOLE_CLUSTER", "test")
            .output()
            .unwrap_or_else(|e| panic!("running {tool}: {e}"))
    }
}

#[test]
fn real_ansible_inventory_reads_the_wrapper() {
    let etcd = Etcd::start();
    let lease = seed_leased(&etcd);
    let env = AnsibleEnv::new(&etcd.endpoint());
    let inv = env.wrapper();

    let out = env.run("ansible-inventory", &["-i", &inv, "--list"]);
    assert!(
        out.status.success(),
        "ansible-inventory --list: {}",
        stderr(&out)
    );
    let list = json(&out);
    assert_eq!(list["web"]["hosts"], serde_json::json!(["web-1", "web-2"]));
    assert_eq!(list["redis_cache"]["hosts"], serde_json::json!(["redis-1"]));
    let children = list["all"]["children"].as_array().unwrap();
    for g in ["web", "redis_cache", "db"] {
        assert!(children.iter().any(|c| c == g), "{g} not in {children:?}");
    }
    let w1 = &list["_meta"]["hostvars"]["web-1"];
    assert_eq!(text(&w1["ansible_host"]), "10.0.0.1");
    assert_eq!(w1["service_port"], 80);
    assert_eq!(w1["etcd_lease"], lease);
    assert_eq!(text(&w1["role"]), "web");
    assert_eq!(
        text(&list["_meta"]["hostvars"]["db-1"]["ansible_host"]),
        "fd00::1"
    );

    let out = env.run("ansible-inventory", &["-i", &inv, "--graph"]);
    assert!(
        out.status.success(),
        "ansible-inventory --graph: {}",
        stderr(&out)
    );
    let graph = stdout(&out);
    for want in [
        "@all:",
        "|--@web:",
        "|  |--web-1",
        "|  |--web-2",
        "|--@redis_cache:",
        "|  |--redis-1",
        "|--@db:",
        "|  |--db-1",
    ] {
        assert!(graph.contains(want), "--graph lacks {want:?}:\n{graph}");
    }

    let out = env.run("ansible-inventory", &["-i", &inv, "--host", "web-2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["service_port"], 8080);

    // Inside Ansible the vars are plain strings, and a template in a registration is not run.
    let out = env.run(
        "ansible",
        &["web-1", "-i", &inv, "-m", "debug", "-a", "var=note"],
    );
    assert!(
        out.status.success(),
        "ansible debug: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let shown = stdout(&out);
    assert!(
        shown.contains(r#""note": "{{ lookup('pipe', 'echo pwned') }}""#),
        "{shown}"
    );
    assert!(!shown.contains("\"note\": \"pwned\""), "{shown}");
    let out = env.run(
        "ansible",
        &["web-1", "-i", &inv, "-m", "debug", "-a", "var=ansible_host"],
    );
    assert!(
        stdout(&out).contains(r#""ansible_host": "10.0.0.1""#),
        "{}",
        stdout(&out)
    );

    // `_meta.hostvars` is there, so Ansible calls the script once, with --list only.
    let calls = env.dir.path().join("calls.log");
    let counting = env.dir.path().join("counting-inventory");
    std::fs::write(
        &counting,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            inv
        ),
    )
    .unwrap();
    std::fs::set_permissions(&counting, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.run(
        "ansible-inventory",
        &["-i", counting.to_str().unwrap(), "--list"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&calls).unwrap(), "--list\n");

    // etcd down: Ansible reports the script's one-line error instead of an empty inventory.
    drop(etcd);
    let out = env.run("ansible-inventory", &["-i", &inv, "--list"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("etcd unreachable for cluster \"test\""),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// Into a closed pipe

/// The writing end of a pipe whose reading end is already closed.
fn closed_pipe() -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe(2) fills both descriptors; each is owned exactly once below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe(2)");
    let (reader, writer) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    drop(reader);
    writer
}

/// Runs opsconsole with `args`, stdout a pipe whose reading end is closed before anything is written.
fn into_closed_pipe(args: &[&str]) -> (Option<i32>, String) {
    let writer = closed_pipe();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(args)
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .env("XDG_STATE_HOME", dir.path().join("state"))
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("running opsconsole");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn info_into_a_closed_pipe_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[clusters.prod]\netcd = { endpoints = [\"http://127.0.0.1:1\"] }\n",
    )
    .unwrap();
    let (code, stderr) = into_closed_pipe(&["--config", config.to_str().unwrap(), "info"]);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_and_version_into_a_closed_pipe_are_not_a_panic() {
    for args in [&["--help"][..], &["--version"][..]] {
        let (code, stderr) = into_closed_pipe(args);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(code, Some(101), "{args:?}: {stderr}");
    }
}

/// `opsconsole keys` lists what `?` lists in the console, custom commands' keys included: those
/// of the cluster it would open (`--cluster`, else the default), else the global ones.
#[test]
fn keys_lists_the_custom_commands_of_the_cluster_it_would_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        r#"
[[commands]]
name = "tail"
key = "ctrl-t"
scope = "member"
mode = "foreground"
command = ["ssh", "{{addr}}", "tail -f /var/log/syslog"]

[clusters.prod]
etcd = { endpoints = ["http://127.0.0.1:1"], prefix = "/services/" }

[[clusters.prod.commands]]
name = "probe"
key = "S"
scope = "member"
mode = "capture"
command = ["curl", "-s", "http://{{addr}}/health"]
"#,
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let o = opsconsole(&["--cluster", "prod", "keys", "--config", cfg], &[]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("custom commands (2) of cluster prod"), "{out}");
    let members = out.split("[members]").nth(1).expect("a [members] section");
    for want in ["probe", "tail"] {
        assert!(
            members.lines().any(|l| l.contains(want)),
            "{want} not listed under [members]:\n{out}"
        );
    }
    // Without a cluster: the global command only.
    let o = opsconsole(&["keys", "--config", cfg], &[]);
    let out = stdout(&o);
    assert!(
        out.contains("custom commands (1) of every cluster"),
        "{out}"
    );
    assert!(!out.contains("probe"), "{out}");
}

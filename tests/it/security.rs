//! Security of actions and secrets:
//!
//! - `--readonly` (or `readonly = true` in the cluster profile) refuses every mutating path
//!   (deregister, silence, unsilence): the reducer returns only an audit entry "refused: readonly",
//!   opens no dialog, and no key sequence at all produces a mutating command — checked on the
//!   reducer, through the console's core against a real etcd, and in a real terminal.
//! - Secrets: the binary runs with passwords taken from `OPSCONSOLE_TEST_SECRET` (etcd with auth
//!   enabled, a dead etcd endpoint, HTTP backends that reject or do not answer) and
//!   `OPSCONSOLE_LOG=debug`; the secret — and its Basic-auth base64 form — appears nowhere: not in
//!   the log file, the audit log, `--help`, `opsconsole info`, or the screen. A literal
//!   `password = "…"` (or `api_key`) is refused with a message that does not echo it.
//!
//! TLS verification is in `tls`.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use opsconsole::action::Action;
use opsconsole::config::Config;
use opsconsole::model::{
    CheckResult, ChecksSnapshot, Command as Cmd, DeregisterOutcome, Health, KvEntry, Msg, Phase,
    Silence, SourceKind,
};
use opsconsole::state::{self, Change, Confirm, Popup, State};

use common::e2e::{fleet, has_row};
use common::etcd_console::{etcd_has, etcd_mod_revision, profile, Console, LIVE};
use common::tmux::{Tmux, SOON};
use common::{free_port, wait_until, wait_until_or, Etcd};

// ---------------------------------------------------------------------------------------------
// --readonly

const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");

const SECRET: &str = "s3cr3t-value";

const SECRET_VAR: &str = "OPSCONSOLE_TEST_SECRET";

/// A state with one member selected and one check (covered by one silence) selected.
fn readonly_state() -> State {
    let now = Utc::now();
    let mut st = State::new("prod", "/services/", "alice", now);
    st.backends.checks = Some("sensu-go".into());
    // Both sources answer: what refuses a change here is readonly, not an outage.
    for kind in [SourceKind::Etcd, SourceKind::Checks] {
        state::update(
            &mut st,
            Msg::Health(kind.of(Default::default()), Health::Live),
        );
    }
    state::update(
        &mut st,
        Msg::listing(
            "/services/",
            7,
            vec![KvEntry {
                key: "/services/web/web-1".into(),
                value: br#"{"addr":"10.0.0.1","port":80}"#.to_vec(),
                create_revision: 5,
                mod_revision: 7,
                version: 2,
                lease: 0,
            }],
            now,
        ),
    );
    state::update(
        &mut st,
        Msg::ChecksSnapshot {
            snapshot: ChecksSnapshot {
                inhibit_rules: Vec::new(),
                results: vec![CheckResult {
                    entity: "web-1".into(),
                    check: "check_http".into(),
                    status: 2,
                    output: "HTTP 503".into(),
                    silenced_by: vec!["entity:web-1:check_http".into()],
                    silenced: true,
                    ..Default::default()
                }],
                silences: vec![Silence {
                    id: "entity:web-1:check_http".into(),
                    subscription: Some("entity:web-1".into()),
                    check: Some("check_http".into()),
                    creator: "bob".into(),
                    reason: "deploy".into(),
                    ..Default::default()
                }],
                skipped: 0,
            },
            at: now,
        },
    );
    // The user's first `j` selects web-1 (nothing is selected at start).
    state::handle_action(&mut st, Action::Down);
    st
}

fn is_mutating(c: &Cmd) -> bool {
    matches!(
        c,
        Cmd::Gated(_) | Cmd::Deregister { .. } | Cmd::Silence { .. } | Cmd::Unsilence { .. }
    )
}

#[test]
fn readonly_refuses_deregister_silence_unsilence() {
    for (action, pane_steps, target) in [
        (Action::Deregister, 0, "/services/web/web-1"),
        // What the dialog would have shown as the target: the form's first scope, the silence.
        (Action::Silence, 1, "check_http on web-1"),
        (
            Action::Unsilence,
            1,
            "entity:web-1:check_http — by bob: \"deploy\"",
        ),
    ] {
        // Control: without readonly the same key opens its dialog.
        let mut st = readonly_state();
        for _ in 0..pane_steps {
            state::handle_action(&mut st, Action::NextPane);
        }
        let out = state::handle_action(&mut st, action);
        assert!(
            st.popup.is_some(),
            "{action:?} without readonly opens a dialog: {out:?}"
        );

        let mut st = readonly_state();
        st.readonly = true;
        for _ in 0..pane_steps {
            state::handle_action(&mut st, Action::NextPane);
        }
        let out = state::handle_action(&mut st, action);
        assert_eq!(out.len(), 1, "{action:?}: only an audit entry, got {out:?}");
        let Cmd::Audit(a) = &out[0] else {
            panic!("{action:?}: expected an audit entry, got {out:?}");
        };
        assert_eq!(a.result.as_deref(), Some("refused: readonly"), "{action:?}");
        assert_eq!(a.target, target, "{action:?}");
        assert_eq!((a.user.as_str(), a.cluster.as_str()), ("alice", "prod"));
        assert_eq!(st.popup, None, "{action:?}: no dialog in readonly");
        // A confirm right after does nothing either.
        let out = state::handle_action(&mut st, Action::Confirm);
        assert!(!out.iter().any(is_mutating), "{action:?}: {out:?}");
        let status = st
            .status
            .as_ref()
            .map(|s| s.text.clone())
            .unwrap_or_default();
        assert!(
            status.contains("read-only"),
            "{action:?} says why: {status:?}"
        );
    }
}

/// 20,000 random keys (actions, text input, silence-form keys, messages) in a readonly session:
/// not one mutating command comes out, and every refusal is audited.
#[test]
fn readonly_no_key_sequence_mutates() {
    let actions = [
        Action::NextPane,
        Action::PrevPane,
        Action::Up,
        Action::Down,
        Action::Top,
        Action::Bottom,
        Action::Filter,
        Action::Back,
        Action::Detail,
        Action::SortNext,
        Action::Deregister,
        Action::Silence,
        Action::Unsilence,
        Action::Help,
        Action::Confirm,
        Action::Cancel,
        Action::ToggleRevokeLease,
        Action::CommandLine,
        Action::ToggleHideOk,
    ];
    let mut st = readonly_state();
    st.readonly = true;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let (mut refused, mut attempts) = (0, 0);
    for _ in 0..20_000 {
        let out = match next() % 4 {
            0 | 1 => {
                let a = actions[(next() % actions.len() as u64) as usize];
                if a.is_mutating() {
                    attempts += 1;
                }
                state::handle_action(&mut st, a)
            }
            2 => {
                let keys = [
                    Action::InsertChar('y'),
                    Action::InsertChar('D'),
                    Action::Submit,
                    Action::Cancel,
                ];
                state::handle_action(&mut st, keys[(next() % 4) as usize])
            }
            _ => {
                let keys = [
                    Action::Submit,
                    Action::NextField,
                    Action::InsertChar('x'),
                    Action::Cancel,
                ];
                state::handle_action(&mut st, keys[(next() % 4) as usize])
            }
        };
        assert!(
            !out.iter().any(is_mutating),
            "mutating command in readonly: {out:?}"
        );
        refused += out
            .iter()
            .filter(
                |c| matches!(c, Cmd::Audit(a) if a.result.as_deref() == Some("refused: readonly")),
            )
            .count();
    }
    assert!(attempts > 1000);
    assert_eq!(
        refused, attempts,
        "every mutating key is audited as refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_refuses_deregister_and_confirm_path_deletes() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let mut c = Console::start(profile(&[etcd.endpoint()]));
    c.until(LIVE * 2, "Live", |c| {
        c.is_live() && c.state().members.len() == 2
    })
    .await;
    c.select("/services/web/web-2");

    c.state_mut().readonly = true;
    c.h.press("D");
    let refused = c.audits();
    assert_eq!(refused.len(), 1, "only a refusal line: {refused:?}");
    let a = &refused[0];
    assert_eq!(a.result.as_deref(), Some("refused: readonly"));
    assert_eq!(a.action, "deregister");
    assert_eq!(a.target, "/services/web/web-2");
    assert_eq!(a.cluster, "test");
    assert_eq!(c.state().popup, None, "no confirmation dialog in readonly");
    // Even a confirmation key afterwards does nothing: no attempt is recorded, nothing is sent.
    c.h.press("y");
    assert_eq!(c.audits().len(), 1, "{:?}", c.audits());
    assert!(
        etcd_has(&etcd, "/services/web/web-2"),
        "nothing deleted in readonly"
    );
    assert!(c.has("/services/web/web-2"));

    // Control: the same keys without readonly open the dialog and, on confirm, delete the key.
    c.state_mut().readonly = false;
    c.h.press("D");
    let rev = etcd_mod_revision(&etcd, "/services/web/web-2").unwrap();
    assert!(matches!(
        &c.state().popup,
        Some(Popup::Confirm(Confirm { change: Change::Deregister { target, .. }, .. })) if target.key == b"/services/web/web-2" && target.mod_revision == rev
    ));
    // Confirmed once the dialog has been on screen for a moment (the harness draws a frame and
    // waits past the guard on the injected clock before each key), as in the app.
    let out = c.confirm_deregister().await;
    assert_eq!(
        out,
        DeregisterOutcome::Deleted {
            lease_revoked: None
        }
    );
    c.until(LIVE, "web-2 gone", |c| !c.has("/services/web/web-2"))
        .await;
    // Only this deregister reached the source: the readonly keys sent nothing.
    assert_eq!(c.deregs.len(), 1, "{:?}", c.deregs);
    // The attempt was on disk before the request; the outcome line carries the attempt's id.
    let lines = c.audits();
    let [_, attempt, outcome] = lines.as_slice() else {
        panic!("refusal, attempt and outcome: {lines:?}")
    };
    assert_eq!(attempt.phase, Phase::Attempt);
    assert_eq!(
        (&outcome.id, outcome.phase, outcome.result.as_deref()),
        (&attempt.id, Phase::Outcome, Some("deleted"))
    );
    assert!(!etcd_has(&etcd, "/services/web/web-2"));
    assert!(etcd_has(&etcd, "/services/web/web-1"));
}

#[test]
fn readonly_refuses_deregister_and_audits_the_refusal() {
    let f = fleet("");
    let t = f.console(&["--readonly"]);
    assert!(
        t.screen().contains("READONLY"),
        "no READONLY badge:\n{}",
        t.screen()
    );
    t.send(&["j"]);
    t.send(&["j"]);
    t.send(&["D"]);
    let s = t.wait_text("read-only");
    assert!(
        !s.contains("Deregister this member?"),
        "dialog opened in read-only mode:\n{s}"
    );
    // A stray `y` after the refusal must not confirm anything. It has been handled once the help
    // that `?` (sent after it) opens is on screen.
    t.send(&["y"]);
    t.send(&["?"]);
    t.wait_text("active bindings");
    t.escape();
    t.wait_gone("active bindings");
    assert!(
        f.get("/services/web/web-1").contains("10.0.0.1"),
        "key deleted in read-only mode"
    );
    assert!(has_row(&t.screen(), "web-1"));
    let line = wait_until("an audit line for the refused deregister", SOON, || {
        t.audit_lines()
            .into_iter()
            .find(|l| l["action"] == "deregister")
    });
    assert_eq!(line["result"], "refused: readonly", "{line}");
    assert_eq!(line["target"], "/services/web/web-1", "{line}");
}

#[test]
fn readonly_from_the_cluster_profile() {
    let f = fleet("readonly = true");
    // `extra` lands inside [clusters.test], right after the etcd line.
    let t = f.console(&[]);
    t.send(&["D"]);
    t.wait_text("read-only");
    assert!(f.get("/services/redis/redis-1").contains("10.0.1.1"));
}

// ---------------------------------------------------------------------------------------------
// Secrets

/// An HTTP server that answers every request with `status` (401 for "credentials rejected") and
/// counts requests; Basic credentials it saw are kept to prove the secret was really sent.
struct Http401 {
    port: u16,
    requests: Arc<AtomicUsize>,
    saw_secret: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Http401 {
    fn start() -> Http401 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let s = Http401 {
            port,
            requests: Arc::new(AtomicUsize::new(0)),
            saw_secret: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (requests, saw, stop) = (s.requests.clone(), s.saw_secret.clone(), s.stop.clone());
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("ops:{SECRET}"));
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Ok((mut c, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = c.set_nonblocking(false);
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = vec![0u8; 65536];
                let n = c.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                requests.fetch_add(1, Ordering::SeqCst);
                if head.contains(&basic) {
                    saw.store(true, Ordering::SeqCst);
                }
                let body = r#"{"error":"unauthorized"}"#;
                let _ = write!(
                    c,
                    "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        s
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Http401 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The forms a leaked secret could take in text.
fn secret_forms() -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        SECRET.to_string(),
        b64.encode(format!("ops:{SECRET}")),
        b64.encode(SECRET),
        urlencoding::encode(SECRET).into_owned(),
    ]
}

fn assert_no_secret(what: &str, text: &str) {
    for form in secret_forms() {
        assert!(
            !text.contains(&form),
            "the secret ({form}) leaked into {what}:\n{}",
            text.lines()
                .filter(|l| l.contains(&form))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// etcd with auth enabled: user `ops` whose password is the secret.
fn etcd_with_auth() -> Etcd {
    let etcd = Etcd::start();
    etcd.ctl(&["user", "add", "root:rootpw"]);
    etcd.ctl(&["user", "add", &format!("ops:{SECRET}")]);
    etcd.ctl(&["role", "add", "reader"]);
    etcd.ctl(&[
        "role",
        "grant-permission",
        "reader",
        "--prefix=true",
        "readwrite",
        "/services/",
    ]);
    etcd.ctl(&["user", "grant-role", "ops", "reader"]);
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["auth", "enable"]);
    etcd
}

#[test]
fn secrets_never_reach_logs_audit_help_info_or_screen() {
    let etcd = etcd_with_auth();
    let rejecting = Http401::start();
    let dead = format!("http://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let state_home = dir.path().join("state");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"[clusters.test]
etcd = {{ endpoints = ["{dead}", "{live}"], prefix = "/services/", user = "ops", password_env = "{SECRET_VAR}", connect_timeout_secs = 1 }}
checks = {{ kind = "sensu-go", url = "{rej}", user = "ops", password_env = "{SECRET_VAR}", interval_secs = 1, timeout_secs = 1 }}
metrics = {{ kind = "graphite", url = "{dead}", user = "ops", password_env = "{SECRET_VAR}", interval_secs = 1, timeout_secs = 1, series = [{{ name = "cpu", target = "x.{{instance}}.cpu" }}] }}
logs = {{ kind = "elasticsearch", url = "{rej}", user = "ops", password_env = "{SECRET_VAR}", interval_secs = 1, timeout_secs = 1 }}
"#,
            live = etcd.endpoint(),
            rej = rejecting.url(),
        ),
    )
    .unwrap();
    let env: Vec<(&str, String)> = vec![
        (SECRET_VAR, SECRET.to_string()),
        ("OPSCONSOLE_LOG", "debug".into()),
        ("XDG_STATE_HOME", state_home.display().to_string()),
        (
            "XDG_CONFIG_HOME",
            dir.path().join("cfg").display().to_string(),
        ),
        ("HOME", dir.path().display().to_string()),
        ("USER", "sec-tester".into()),
    ];

    // --help and info, with the secret in the environment.
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("running opsconsole");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };
    let help = run(&["--help"]);
    assert!(help.contains("--cluster"), "{help}");
    assert_no_secret("--help", &help);
    let info = run(&["--config", config.to_str().unwrap(), "info"]);
    assert!(info.contains("clusters: test"), "{info}");
    assert_no_secret("opsconsole info", &info);

    // The console itself, in a terminal, for a few seconds of retries, with a deregister attempt.
    let mut term = Tmux::sized("opsconsole-sec", 160, 45);
    for (key, value) in &env {
        term = term.env(key, value);
    }
    let t = term.start(&["--config", config.to_str().unwrap(), "--cluster", "test"]);
    wait_until_or(
        "the member to show (etcd auth failed?)",
        Duration::from_secs(15),
        || t.screen().contains("web-1"),
        || t.screen(),
    );
    // Let every source fail and retry a few times (checks and logs get 401s, metrics no answer).
    wait_until(
        "the backends to be polled 6 times",
        Duration::from_secs(20),
        || rejecting.requests.load(Ordering::SeqCst) >= 6,
    );
    assert!(
        rejecting.saw_secret.load(Ordering::SeqCst),
        "the secret was sent as Basic credentials (so it was really in use)"
    );
    t.send(&["j"]);
    t.send(&["D"]);
    wait_until_or(
        "the deregister dialog",
        Duration::from_secs(10),
        || t.screen().contains("Deregister this member?"),
        || t.screen(),
    );
    // The dialog's keys count once it has been on screen for 250 ms.
    t.confirm("y");
    // The deregister has been through once its outcome is in the audit log, and the screen has
    // shown the backends' answers once it says "rejected".
    let audit_log = state_home.join("opsconsole/audit.log");
    wait_until(
        "the deregister's outcome in the audit log",
        Duration::from_secs(10),
        || std::fs::read_to_string(&audit_log).is_ok_and(|a| a.contains("\"outcome\"")),
    );
    let screen = wait_until_or(
        "the 401 reported on screen",
        Duration::from_secs(10),
        || Some(t.screen()).filter(|s| s.contains("rejected")),
        || t.screen(),
    );
    assert_no_secret("the screen", &screen);
    assert!(
        screen.contains("rejected"),
        "the 401 is reported (naming where the password came from):\n{screen}"
    );
    t.send(&["q"]);
    t.wait_exit_screen();
    drop(t);

    let log = std::fs::read_to_string(state_home.join("opsconsole/opsconsole.log"))
        .expect("the log file exists");
    assert!(
        log.lines().count() > 20 && log.contains("DEBUG"),
        "debug logging was on: {} lines",
        log.lines().count()
    );
    assert_no_secret("opsconsole.log", &log);
    let audit = std::fs::read_to_string(state_home.join("opsconsole/audit.log"))
        .expect("the deregister attempt was audited");
    assert!(audit.contains("deregister"), "{audit}");
    assert_no_secret("audit.log", &audit);
    eprintln!(
        "log: {} lines, {} bytes; audit: {}",
        log.lines().count(),
        log.len(),
        audit.trim()
    );
}

#[test]
fn literal_secrets_in_the_config_are_refused_without_echoing_them() {
    let dir = tempfile::tempdir().unwrap();
    let base = r#"[clusters.test]
etcd = { endpoints = ["http://127.0.0.1:2379"] }
"#;
    let cases = [
        r#"[clusters.test]
etcd = { endpoints = ["http://127.0.0.1:2379"], user = "ops", password = "hunter2-literal" }
"#
        .to_string(),
        format!(
            "{base}checks = {{ kind = \"sensu-go\", url = \"http://x\", user = \"ops\", password = \"hunter2-literal\" }}\n"
        ),
        format!(
            "{base}checks = {{ kind = \"sensu-go\", url = \"http://x\", api_key = \"hunter2-literal\" }}\n"
        ),
        format!(
            "{base}metrics = {{ kind = \"graphite\", url = \"http://x\", user = \"ops\", password = \"hunter2-literal\", series = [{{ name = \"a\", target = \"b\" }}] }}\n"
        ),
        format!(
            "{base}logs = {{ kind = \"elasticsearch\", url = \"http://x\", user = \"ops\", password = \"hunter2-literal\" }}\n"
        ),
        // Also when it is not a string (toml::Value is echoed by serde in type errors).
        r#"[clusters.test]
etcd = { endpoints = ["http://127.0.0.1:2379"], password = { v = "hunter2-literal" } }
"#
        .to_string(),
        // And a redis URL with the password inside it.
        format!(
            "{base}logs = {{ kind = \"redis\", url = \"redis://:hunter2-literal@127.0.0.1:6379\", channel = \"syslog\" }}\n"
        ),
    ];
    for (i, text) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&path, text).unwrap();
        // The library and the binary, which must stop before touching the terminal.
        let e = Config::parse(text, &path).expect_err(text).to_string();
        assert!(!e.contains("hunter2"), "case {i} echoes the secret: {e}");
        assert!(
            e.contains("_env") || e.contains("password_file") || e.contains("not in the url"),
            "case {i} says what to do instead: {e}"
        );
        let out = Command::new(BIN)
            .args(["--config", path.to_str().unwrap(), "--cluster", "test"])
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "case {i} echoes the secret: {stderr}"
        );
        assert!(
            out.stdout.is_empty() && !stderr.contains("\x1b["),
            "case {i}: the terminal was touched"
        );
        eprintln!("case {i}: {}", stderr.trim());
    }
}

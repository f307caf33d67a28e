//! Full disks: the console's state dir (audit log, log file, revision clocks) on a small tmpfs
//! that the test fills to the last byte while the console runs against a real etcd and a real
//! Alertmanager. While the audit log cannot take a line, every change is refused and nothing
//! reaches a backend; the log file loses records but the console keeps running and drawing;
//! once space returns both work again, without a restart and without a torn line in either file.
//!
//! Needs root (`mount -t tmpfs`); a refused mount fails the test with the reason, never skips.

use crate::common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::e2e::{has_row, message_line, web_fleet, HEIGHT, WIDTH};
use common::tmux::{Tmux, SOON};
use common::{require_binary, wait_until_or, Alertmanager};

/// tmpfs allocates whole pages: a file's last page takes writes until it is full even when the
/// file system has no page left, so a line longer than that slack is cut part way.
const PAGE: u64 = 4096;

/// A tmpfs of `size` mounted on a fresh temp dir; unmounted on drop (lazily, so a process still
/// holding a file there cannot keep it mounted).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new(require_binary("mount"))
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test needs to mount a tmpfs (root, or CAP_SYS_ADMIN) to fill a disk: `mount -t \
             tmpfs -o size={size} tmpfs {}` failed ({}): {}",
            dir.path().display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system under `dir` with a file of zeros until not one more byte fits; returns
/// the file (removing it gives the space back).
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("create the filler");
    for chunk in [1 << 16, PAGE as usize, 1] {
        let zeros = vec![0u8; chunk];
        while f.write_all(&zeros).is_ok() {}
    }
    path
}

/// Appends to `path` a line that fills its last page exactly, so that the file has no slack and
/// the next record the console writes there meets ENOSPC at its first byte. Only used on the log
/// file (the console's own diagnostics), never on the audit log.
fn use_up_slack(path: &Path, what: &str) {
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let slack = (PAGE - len % PAGE) % PAGE;
    if slack == 0 {
        return;
    }
    let mut line = format!("# {what}: padding written by the test to fill the page ");
    let target = slack as usize - 1;
    if line.len() > target {
        line.truncate(target);
    }
    line.push_str(&"-".repeat(target - line.len()));
    line.push('\n');
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.write_all(line.as_bytes())
        .unwrap_or_else(|e| panic!("pad {}: {e}", path.display()));
}

/// A previous session's deregister (attempt and outcome), with `detail` sized so the file ends
/// `slack` bytes short of a page: the next attempt line (~300 bytes) is cut there on a full disk.
fn earlier_session(slack: u64) -> String {
    let line = |phase: &str, detail: &str| {
        let mut v = serde_json::json!({
            "id": "20261201T000000.000000Z-1-1",
            "phase": phase,
            "time": "2026-12-01T00:00:00+00:00",
            "user": "e2e-tester",
            "cluster": "test",
            "action": "deregister",
            "target": "/services/web/web-0",
            "key_b64": "L3NlcnZpY2VzL3dlYi93ZWItMA==",
            "mod_revision": 1,
        });
        if phase == "outcome" {
            v["result"] = "deleted".into();
            v["detail"] = detail.into();
        }
        format!("{v}\n")
    };
    let base = line("attempt", "").len() + line("outcome", "").len();
    let pad = (PAGE - slack) as usize - base;
    format!(
        "{}{}",
        line("attempt", ""),
        line("outcome", &"x".repeat(pad))
    )
}

fn audit_json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!("a torn audit line ({e}): {l:?}\n--- whole log ---\n{text}")
            })
        })
        .collect()
}

#[test]
fn a_full_disk_refuses_changes_keeps_the_console_running_and_both_logs_recover() {
    let fs = Tmpfs::mount("1m");
    let state = fs.path().join("xdg");
    let dir = state.join("opsconsole");
    std::fs::create_dir_all(&dir).unwrap();
    let audit_log = dir.join("audit.log");
    let log_file = dir.join("opsconsole.log");
    let earlier = earlier_session(64);
    std::fs::write(&audit_log, &earlier).unwrap();
    assert_eq!(std::fs::metadata(&audit_log).unwrap().len(), PAGE - 64);

    let am = Alertmanager::start();
    am.fire(&[("HighLatency", "web-2", "critical")]);
    let f = web_fleet(&format!(
        "checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 1 }}",
        am.url()
    ));
    let config = f.config.to_str().expect("utf-8 temp path");
    let t = Tmux::sized("opsconsole-diskfull", WIDTH, HEIGHT)
        .env("XDG_STATE_HOME", state.to_str().expect("utf-8 temp path"))
        .start(&["--cluster", "test", "--config", config]);
    t.wait_screen("web-1, web-2 and the alert", SOON, |s| {
        has_row(s, "web-1") && has_row(s, "web-2") && s.contains("HighLatency")
    });
    let pid = t.app_pid();

    // The disk fills up under the running console.
    let filler = fill(fs.path());
    use_up_slack(&log_file, "opsconsole.log");
    let log_before = std::fs::read(&log_file).expect("the console has a log file");

    // A silence: refused, Alertmanager never asked.
    t.send(&["Tab"]);
    t.send(&["s"]);
    t.wait_text("reason (required)");
    t.type_text("e2e: disk full");
    t.send(&["Enter"]);
    t.wait_text("Create this silence?");
    t.confirm("y");
    let s = t.wait_screen("the silence refused", SOON, |s| {
        message_line(s).contains("refused: audit log unwritable")
    });
    assert!(
        message_line(&s).contains("No space left on device")
            && message_line(&s).contains("nothing was sent"),
        "the refusal does not say why:\n{s}"
    );
    assert!(
        s.lines()
            .last()
            .is_some_and(|l| l.contains("AUDIT LOG UNWRITABLE")),
        "no lasting warning in the status bar:\n{s}"
    );
    assert_eq!(
        am.active_silences(),
        Vec::<Value>::new(),
        "a silence was sent"
    );

    // A deregister: refused, the key still in etcd.
    t.send(&["BTab"]);
    t.send(&["j"]);
    t.wait_text("scope: web-1");
    t.send(&["D"]);
    t.wait_text("Deregister this member?");
    t.confirm("y");
    let s = t.wait_screen("the deregister refused", SOON, |s| {
        message_line(s).contains("/services/web/web-1: refused: audit log unwritable")
    });
    assert!(
        f.has("/services/web/web-1"),
        "deleted without an audit line"
    );
    assert!(has_row(&s, "web-1"), "{s}");
    // Each attempt line was cut after 64 bytes by the full disk and cut back: the audit log is
    // byte for byte what it was.
    assert_eq!(
        std::fs::read_to_string(&audit_log).unwrap(),
        earlier,
        "the refused attempts left something in the audit log"
    );

    // The log file cannot take a record (the refusals were logged as errors), but the console
    // runs and draws: a member registered now shows up.
    f.etcd.ctl(&[
        "put",
        "/services/web/web-3",
        r#"{"addr":"10.0.0.3","port":80}"#,
    ]);
    t.wait_screen("web-3 drawn while the disk is full", SOON, |s| {
        has_row(s, "web-3")
    });
    assert_eq!(t.app_pid(), pid, "the console was restarted");
    assert_eq!(
        std::fs::read(&log_file).unwrap(),
        log_before,
        "a record (or a part of one) reached the full log file"
    );

    // Space returns: the next deregister is written and sent, no restart needed.
    std::fs::remove_file(&filler).unwrap();
    t.send(&["D"]);
    t.wait_text("Deregister this member?");
    t.confirm("y");
    wait_until_or(
        "web-1 deleted once the disk had space",
        SOON,
        || !f.has("/services/web/web-1"),
        || t.screen(),
    );
    t.wait_screen("the warning gone and web-1 gone", SOON, |s| {
        !s.contains("AUDIT LOG UNWRITABLE") && !has_row(s, "web-1")
    });
    let text = wait_until_or(
        "the attempt and the outcome after the earlier session's lines",
        SOON,
        || {
            let text = std::fs::read_to_string(&audit_log).ok()?;
            (text.lines().count() >= 4).then_some(text)
        },
        || t.screen(),
    );
    assert!(text.starts_with(&earlier), "{text}");
    let lines = audit_json_lines(&text);
    let new: Vec<(&str, &str)> = lines[2..]
        .iter()
        .map(|l| {
            (
                l["phase"].as_str().unwrap_or("?"),
                l["target"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        new,
        [
            ("attempt", "/services/web/web-1"),
            ("outcome", "/services/web/web-1")
        ],
        "{text}"
    );
    assert_eq!(lines[2]["id"], lines[3]["id"], "{text}");
    assert_eq!(lines[3]["result"], "deleted", "{text}");

    // The log file carries on: first a line counting the records lost, then the deregister.
    let log = wait_until_or(
        "the log file written again",
        SOON,
        || {
            let log = std::fs::read_to_string(&log_file).ok()?;
            log.contains("deregister").then_some(log)
        },
        || t.screen(),
    );
    let after = &log[log_before.len()..];
    let first = after.lines().next().unwrap_or_default();
    assert!(
        first.contains("log records lost: No space left on device"),
        "the first line after the full disk does not count the lost records: {first:?}\n{after}"
    );
    let lost: u64 = first
        .split("WARN opsconsole::logging: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {first:?}"));
    assert!(lost >= 2, "two refusals were logged while full: {first}");
    // Every record whole: each line starts with a timestamp.
    for l in after.lines() {
        assert!(l.starts_with("20"), "a torn log line: {l:?}\n{after}");
    }
    eprintln!("records lost while full: {lost}");
    assert_eq!(t.app_pid(), pid);
}

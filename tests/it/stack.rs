//! End-to-end test of `scripts/stack`: `up` in a fresh state directory (installing what is missing),
//! the built console in tmux against the profile `up` wrote, all four panes live with traffic from
//! the fleet simulator through the real servers (etcd, Alertmanager, StatsD → carbon → graphite-web,
//! rsyslog → Redis), then `q`, `down`, and no process left whose command line names the state dir.
//!
//! `down` also runs from a Drop guard, so a failing assertion never leaves the stack running.
//! A missing tool or package fails the test (loudly, with the script's output); nothing is skipped.

use crate::common::tmux::Tmux;
use crate::common::{wait_until, wait_until_or};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long the panes may take to show live data after `up` (StatsD flushes every 2 s, the console
/// polls graphite every 5 s; a passing run needs ~10 s).
const LIVE: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A stack started by `scripts/stack up` in a temp dir; Drop runs `scripts/stack down`.
struct Stack {
    dir: tempfile::TempDir,
    down: bool,
}

impl Stack {
    fn script(dir: &Path, verb: &str) -> Output {
        Command::new(repo().join("scripts/stack"))
            .arg(verb)
            .env("OPSCONSOLE_STACK_DIR", dir)
            .env("STOP_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run scripts/stack {verb}: {e}"))
    }

    fn up() -> Stack {
        let stack = Stack {
            dir: tempfile::Builder::new()
                .prefix("opsconsole-stack-e2e-")
                .tempdir()
                .expect("tempdir"),
            down: false,
        };
        let t0 = Instant::now();
        let out = Self::script(stack.path(), "up");
        assert!(
            out.status.success(),
            "scripts/stack up failed:\n{}",
            show(&out)
        );
        eprintln!("scripts/stack up took {:.1?}", t0.elapsed());
        stack
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn down(&mut self) -> Output {
        self.down = true;
        Self::script(self.path(), "down")
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if !self.down {
            let out = Self::script(self.dir.path(), "down");
            eprintln!("(cleanup) scripts/stack down:\n{}", show(&out));
        }
    }
}

/// What each pane must show before the test calls the stack live.
fn missing_panes(screen: &str) -> Vec<&'static str> {
    let member = regex::Regex::new(r"(web|api|redis|worker)-\d+ +127\.0\.1\.\d+:\d+").unwrap();
    let check = regex::Regex::new(
        r"(CRIT|WARN|OK) +127\.0\.1\.\d+:\d+ +(Heartbeat|DiskFull|HighCpu|HttpErrors|QueueBacklog|ReplicationLag|InstanceDown)",
    )
    .unwrap();
    let metric =
        regex::Regex::new(r"│[ ◆]?(cpu|mem) +[▁▂▃▄▅▆▇█ ]*[▁▂▃▄▅▆▇█][▁▂▃▄▅▆▇█ ]* +[0-9.]+%")
            .unwrap();
    let log = regex::Regex::new(
        r"\d\d:\d\d:\d\d (web|api|redis|worker)-\d+ +(nginx|gunicorn|redis-ser|celery|sshd|CRON|kernel)",
    )
    .unwrap();
    let mut missing = Vec::new();
    if member.find_iter(screen).count() < 8 {
        missing.push("members from the simulator (etcd)");
    }
    if !check.is_match(screen) {
        missing.push("a check row from Alertmanager");
    }
    if !metric.is_match(screen) {
        missing.push("a sparkline with a value (graphite)");
    }
    if log.find_iter(screen).count() < 3 {
        missing.push("log lines from rsyslog (redis)");
    }
    missing
}

/// Processes whose command line mentions `dir` (other than this test process).
fn processes_mentioning(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmd.contains(&needle) {
            found.push(format!("{pid}: {cmd}"));
        }
    }
    found
}

#[test]
fn stack_up_console_live_down_leaves_nothing() {
    let started = Instant::now();
    let mut stack = Stack::up();
    let config = stack.path().join("config.toml");
    assert!(
        config.is_file(),
        "scripts/stack up wrote no {}",
        config.display()
    );
    let config_text = std::fs::read_to_string(&config).unwrap();
    assert!(
        config_text.contains("[clusters.local]")
            && config_text.contains("stats.gauges.{instance}.cpu"),
        "unexpected profile:\n{config_text}"
    );

    let status = Stack::script(stack.path(), "status");
    assert!(
        status.status.success(),
        "scripts/stack status after up:\n{}",
        show(&status)
    );

    // The console in a private tmux server (`common::tmux`), 200×50; `EXIT=` after it.
    let tmux = Tmux::sized("opsconsole-stack-e2e", 200, 50)
        .report_tty(false)
        .start(&["--config", config.to_str().unwrap(), "--cluster", "local"]);
    let t0 = Instant::now();
    wait_until_or(
        "all four panes live",
        LIVE,
        || {
            let screen = tmux.screen();
            let missing = missing_panes(&screen);
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the console still lacks: {}\n--- screen\n{screen}",
                    missing.join(", ")
                ))
            }
        },
        || {
            let log = std::fs::read_to_string(stack.path().join("logs/fleet-sim.log"));
            format!("--- fleet-sim log\n{}", log.unwrap_or_default())
        },
    );
    eprintln!(
        "all four panes live {:.1?} after the console started",
        t0.elapsed()
    );

    tmux.send(&["q"]);
    let after = wait_until("EXIT= after q", Duration::from_secs(10), || {
        Some(tmux.screen()).filter(|s| s.contains("EXIT="))
    });
    assert!(
        after.contains("EXIT=0"),
        "the console did not quit cleanly on q:\n{after}"
    );
    drop(tmux); // the tmux server's command line names the stack dir's config

    let out = stack.down();
    assert!(
        out.status.success(),
        "scripts/stack down failed:\n{}",
        show(&out)
    );

    wait_until_or(
        "no process left after scripts/stack down",
        Duration::from_secs(3),
        || {
            let left = processes_mentioning(stack.path());
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("still running:\n{}", left.join("\n")))
            }
        },
        || format!("--- down said\n{}", show(&out)),
    );
    let pid_files: Vec<_> = std::fs::read_dir(stack.path().join("run"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(pid_files.is_empty(), "pid files left: {pid_files:?}");
    eprintln!("stack e2e took {:.1?}", started.elapsed());
}

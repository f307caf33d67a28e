//! Terminal safety: the built binary in a real terminal (tmux, a private server per test, every byte
//! the program writes recorded with `pipe-pane`), stopped in the ways a terminal program dies —
//! SIGTERM, SIGHUP, its terminal closing under it, a panic. Each time the terminal must come back as
//! it was: main screen, cooked mode with echo (`stty -a` after the program shows `icanon` and
//! `echo`), cursor visible; a closed terminal must make the program exit, not spin.
//!
//! The console runs on `--demo` (no servers needed: the terminal is what is tested). Missing tmux
//! fails loudly (`common::require_binary`); nothing is skipped.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tmux::{run_ok, sh_quote, Settle, Tmux, TmuxBuilder, BIN, SOON, TTY_REPORT};
use common::{wait_until, wait_until_or};

/// A private tmux server (`common::tmux`) with a 120×35 window, `USER=term-tester` and
/// `OPSCONSOLE_TEST_PANIC` unset unless `env` sets it. The screen is captured with wrapped lines
/// joined, and `wait_screen` takes the first capture its predicate holds on.
fn tmux(env: &[(&str, &str)]) -> TmuxBuilder {
    let mut b = Tmux::sized("opsconsole-term", 120, 35)
        .user("term-tester")
        .env_remove("OPSCONSOLE_TEST_PANIC")
        .joined_screen()
        .settle(Settle::Off);
    for (key, value) in env {
        b = b.env(key, value);
    }
    b
}

/// Runs `opsconsole ARGS` in a wrapper that prints `EXIT=<code>` and the terminal's icanon/echo
/// flags (`TTY=…`) after it, then stays open.
fn start(args: &[&str], env: &[(&str, &str)]) -> Tmux {
    tmux(env).start(args)
}

/// Runs `body` (a sh script; `$@` = `args`), starting it only once `pipe-pane` records.
fn start_script(body: &str, args: &[&str], env: &[(&str, &str)]) -> Tmux {
    tmux(env).script(body).start(args)
}

/// The console is up: alternate screen on and the demo fleet drawn.
fn wait_console(t: &Tmux) {
    wait_until_or(
        "the console to start",
        SOON,
        || t.alternate_on() == "1" && t.screen().contains("Members"),
        || t.screen(),
    );
    // Let it draw a few frames with live data.
    std::thread::sleep(Duration::from_millis(300));
}

/// Waits for `EXIT=…` and `TTY=…` after the program: (exit code, screen).
fn wait_exit(t: &Tmux) -> (i32, String) {
    let s = t.wait_exit_screen();
    // Only the digits: text the program left on the line may follow them.
    let code = s
        .lines()
        .find_map(|l| l.strip_prefix("EXIT="))
        .map(|r| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no readable EXIT= line:\n{s}"));
    (code, s)
}

fn alive(pid: u32) -> bool {
    // A zombie has exited; only its parent has not reaped it yet.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let after = &stat[stat.rfind(')').unwrap_or(0) + 1..];
            !after.trim_start().starts_with('Z')
        }
        Err(_) => false,
    }
}

fn signal(pid: u32, sig: &str) {
    run_ok(
        Command::new(common::require_binary("kill")).args([&format!("-{sig}"), &pid.to_string()]),
    );
}

// ---------------------------------------------------------------------------------------------

fn stops_cleanly_on(sig: &str) {
    let t = start(&["--demo"], &[]);
    wait_console(&t);
    let pid = t.app_pid();
    let sent = Instant::now();
    signal(pid, sig);
    let (code, screen) = wait_exit(&t);
    eprintln!("SIG{sig}: exited {code} within {:?}", sent.elapsed());
    t.assert_terminal_restored();
    assert_eq!(code, 0, "SIG{sig} is a clean stop:\n{screen}");
    assert!(
        screen.contains(&format!("stopped (SIG{sig})")),
        "no word about why it stopped:\n{screen}"
    );
}

#[test]
fn sigterm_restores_the_terminal() {
    stops_cleanly_on("TERM");
}

#[test]
fn sighup_restores_the_terminal() {
    stops_cleanly_on("HUP");
}

/// SIGINT from another process (`kill -INT`, `timeout -s INT`, a supervisor): in raw mode Ctrl-C is
/// a key, not a signal, so only an outside sender delivers it — and the app does not handle it.
#[test]
fn sigint_from_another_process_restores_the_terminal() {
    stops_cleanly_on("INT");
}

/// The terminal goes away under the program (the pane is killed, the pty master closed). The
/// wrapper shell ignores SIGHUP so it survives to record the exit code in a file; the program
/// must notice on its own and exit within 2 s — not spin on a dead terminal.
#[test]
fn closed_terminal_makes_it_exit_not_spin() {
    closed_terminal(true);
}

/// The same with stderr on the dead terminal too: the goodbye line cannot be written, and that
/// must not turn the clean stop into a panic.
#[test]
fn closed_terminal_with_stderr_on_it_is_still_a_clean_stop() {
    let t = closed_terminal(false);
    let log = std::fs::read_to_string(t.state_dir().join("opsconsole.log")).unwrap_or_default();
    assert!(!log.contains("panic"), "a panic on the way out:\n{log}");
}

fn closed_terminal(stderr_to_file: bool) -> Tmux {
    let dir = tempfile::tempdir().unwrap();
    let code_file = dir.path().join("exit-code");
    let redirect = if stderr_to_file {
        format!("2>{}", sh_quote(&dir.path().join("stderr")))
    } else {
        String::new()
    };
    let body = format!(
        "trap '' HUP\n{bin} \"$@\" {redirect}\necho $? > {code}\n",
        bin = sh_quote(Path::new(BIN)),
        code = sh_quote(&code_file),
    );
    let t = start_script(&body, &["--demo"], &[]);
    wait_console(&t);
    let pid = t.app_pid();
    let killed = Instant::now();
    t.tmux(&["kill-pane", "-t", "t"]);
    wait_until_or(
        format!("opsconsole (pid {pid}) to exit once its terminal closed"),
        Duration::from_secs(2),
        || !alive(pid),
        || {
            let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            format!("still running; /proc stat: {cpu}")
        },
    );
    let code = wait_until(
        "the wrapper to record the exit code",
        Duration::from_secs(2),
        || {
            std::fs::read_to_string(&code_file)
                .ok()
                .filter(|s| !s.trim().is_empty())
        },
    );
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
    eprintln!(
        "closed pty: gone within {:?}, exit code {}, stderr: {}",
        killed.elapsed(),
        code.trim(),
        stderr.trim()
    );
    let code: i32 = code.trim().parse().expect("numeric exit code");
    // 0: stopped by SIGHUP; 1: "terminal closed"; 2: an I/O error drawing on the dead terminal.
    // Not 101 (a panic) and not 128+N (killed by a signal it did not handle).
    assert!(
        (0..=2).contains(&code),
        "a closed terminal must be a clean stop, not a crash: exit {code}; stderr: {stderr}"
    );
    t
}

/// A panic restores the terminal *before* the message is printed, so the message lands on the main
/// screen; the exit status is Rust's panic status.
#[test]
fn panic_restores_the_terminal_then_prints_the_message() {
    let t = start(&["--demo"], &[("OPSCONSOLE_TEST_PANIC", "1")]);
    wait_console(&t);
    t.tmux(&["send-keys", "-t", "t", "j"]);
    let (code, screen) = wait_exit(&t);
    t.assert_terminal_restored();
    assert_eq!(code, 101, "a panic exits with 101:\n{screen}");
    let raw = t.raw_output();
    let enter = raw.rfind("\x1b[?1049h").unwrap();
    let leave = enter
        + raw[enter..]
            .find("\x1b[?1049l")
            .expect("left the alternate screen");
    let msg = raw
        .find("forced panic on a key press")
        .expect("the panic message reached the terminal");
    assert!(
        msg > leave,
        "the panic message was written before leaving the alternate screen (it would be lost)"
    );
}

/// …and it stays readable: nothing written afterwards moves the cursor back over it.
#[test]
fn panic_message_stays_readable_on_the_main_screen() {
    let t = start(
        &["--demo"],
        &[("OPSCONSOLE_TEST_PANIC", "1"), ("RUST_BACKTRACE", "0")],
    );
    wait_console(&t);
    t.tmux(&["send-keys", "-t", "t", "j"]);
    let (_, screen) = wait_exit(&t);
    assert!(
        screen.contains("forced panic on a key press"),
        "the panic message is not readable on the main screen afterwards:\n{screen}"
    );
    let raw = t.raw_output();
    let msg = raw.find("forced panic on a key press").unwrap();
    assert!(
        !raw[msg..].contains("\x1b[?1049l"),
        "the alternate screen was left again after the message (the cursor jumps back over it)"
    );
}

/// With stderr in a file and backtraces asked for: one line there (what happened, where the
/// backtrace is), the backtrace in the log file, exit status 101, the terminal restored. The
/// default hook's several lines (and a backtrace) would have gone to stderr.
#[test]
fn panic_prints_one_line_and_logs_the_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let stderr_file = dir.path().join("stderr");
    let body = format!(
        "{bin} \"$@\" 2>{stderr}\necho \"EXIT=$?\"\n{TTY_REPORT}sleep 120\n",
        bin = sh_quote(Path::new(BIN)),
        stderr = sh_quote(&stderr_file),
    );
    let t = start_script(
        &body,
        &["--demo"],
        &[("OPSCONSOLE_TEST_PANIC", "1"), ("RUST_BACKTRACE", "full")],
    );
    wait_console(&t);
    t.tmux(&["send-keys", "-t", "t", "j"]);
    let (code, screen) = wait_exit(&t);
    t.assert_terminal_restored();
    assert_eq!(code, 101, "a panic exits with 101:\n{screen}");
    let stderr = std::fs::read_to_string(&stderr_file).unwrap();
    eprintln!("stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "exactly one line on stderr:\n{stderr}"
    );
    let log_file = t.state_dir().join("opsconsole.log");
    for part in [
        "internal error",
        "forced panic on a key press",
        "src/core.rs",
        &log_file.display().to_string(),
    ] {
        assert!(stderr.contains(part), "the line says {part:?}: {stderr}");
    }
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(
        log.contains("forced panic on a key press") && log.contains("opsconsole::core::Core::key"),
        "the log file has the panic and its backtrace:\n{log}"
    );
}

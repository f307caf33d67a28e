//! Terminal safety: the built binary in a real terminal (tmux, a private server per test, every byte
//! the program writes recorded with `pipe-pane`), stopped in the ways a terminal program dies —
//! `q`, SIGTERM, SIGHUP, SIGINT, its terminal closing under it, a panic in the main loop or in a
//! source task. Each time the terminal must come back as it was: main screen, cooked mode with echo
//! (`stty -a` after the program shows `icanon` and `echo`), cursor visible; a closed terminal must
//! make the program exit, not spin. And nothing a backend sends reaches the terminal as control
//! bytes: hostile log lines are drawn harmlessly.
//!
//! Most run on `--demo` (no servers needed: the terminal is what is tested); the others on a real
//! etcd, Alertmanager or Redis.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use opsconsole::app::{self, Exit, Settings};
use opsconsole::config::Config;
use opsconsole::keymap::Keymap;
use opsconsole::theme::Theme;

use common::e2e::{fleet, panes_fleet, TITLE};
use common::log_servers::Redis;
use common::panes::{
    cells, contains_bytes, logs_pane, member_row, members_pane, metrics_pane, status_bar, top_lines,
};
use common::tmux::{run_ok, sh_quote, Settle, Tmux, TmuxBuilder, BIN, SOON, TTY_REPORT};
use common::{wait_until, wait_until_or, Alertmanager, Etcd};

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
// Quit and signals

#[test]
fn quit_restores_the_terminal() {
    let f = fleet("");
    let t = f.console(&[]);
    assert_eq!(
        t.alternate_on(),
        "1",
        "the console should draw on the alternate screen"
    );
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
    assert!(
        !t.screen().contains("Members"),
        "TUI left on the main screen:\n{}",
        t.screen()
    );
}

#[test]
fn sigterm_restores_the_terminal_on_a_live_cluster() {
    let f = fleet("");
    let t = f.console(&[]);
    let pid = t.app_pid();
    run_ok(Command::new(common::require_binary("kill")).args(["-TERM", &pid.to_string()]));
    let code = t.wait_exit();
    let s = t.screen_joined();
    assert_eq!(code, 0, "SIGTERM should be a clean stop:\n{s}");
    t.assert_terminal_restored();
    assert!(s.contains("SIGTERM"), "no word about why it stopped:\n{s}");
}

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

// ---------------------------------------------------------------------------------------------
// The terminal closing under it

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

/// A new pseudo-terminal of `cols`×`rows`: (master, slave), both close-on-exec from the start —
/// a master inherited by any process (the console, or another test's child spawned meanwhile)
/// would keep the terminal from hanging up.
fn pty(cols: u16, rows: u16) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let os_error = || std::io::Error::last_os_error();
    // SAFETY: plain calls on descriptors made here; `name` has room for ptsname_r's answer.
    unsafe {
        let raw = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(raw >= 0, "posix_openpt: {}", os_error());
        let master = OwnedFd::from_raw_fd(raw);
        assert_eq!(libc::grantpt(raw), 0, "grantpt: {}", os_error());
        assert_eq!(libc::unlockpt(raw), 0, "unlockpt: {}", os_error());
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(raw, name.as_mut_ptr(), name.len()), 0);
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(slave >= 0, "opening the pty's slave: {}", os_error());
        let slave = OwnedFd::from_raw_fd(slave);
        let size = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        assert_eq!(libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &size), 0);
        (master, slave)
    }
}

/// The terminal the console reads its keys from hangs up while its screen is still there (here
/// two terminals, so that no failed frame can end it first): it stops, as when its terminal
/// closes. crossterm 0.29 spins on a hung-up terminal's endless end-of-file and never returns
/// (crossterm-rs/crossterm#793): before `tty_hangup`, the console then used a core for good and
/// answered no signal but SIGKILL — seen after a tmux pane was killed right after keys were sent,
/// where the event loop's own thread was the one reading.
#[test]
fn a_hung_up_input_terminal_stops_the_console_instead_of_spinning() {
    use std::io::Read;
    let home = tempfile::tempdir().unwrap();
    let (keys_master, keys) = pty(100, 30);
    let (screen_master, screen) = pty(100, 30);
    let stderr = home.path().join("stderr");
    let mut child = Command::new(BIN)
        .arg("--demo")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("XDG_STATE_HOME", home.path().join("state"))
        .env("TERM", "xterm-256color")
        .env_remove("OPSCONSOLE_TEST_PANIC")
        .stdin(std::process::Stdio::from(keys))
        .stdout(std::process::Stdio::from(screen))
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("starting opsconsole");
    // What it draws, read as it comes (a full pty would stop it drawing).
    let drawn = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let reader = {
        let drawn = drawn.clone();
        let mut master = std::fs::File::from(screen_master);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = master.read(&mut buf) {
                drawn.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    wait_until_or(
        "the console to draw its first frame",
        SOON,
        || String::from_utf8_lossy(&drawn.lock().unwrap()).contains("Members"),
        || String::from_utf8_lossy(&drawn.lock().unwrap()).into_owned(),
    );
    let pid = child.id();
    drop(keys_master);
    let hung_up = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if hung_up.elapsed() > Duration::from_secs(3) {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let _ = child.kill();
            let _ = child.wait();
            panic!("opsconsole (pid {pid}) still running 3 s after its keys' terminal hung up (killed now); /proc stat: {stat}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let said = std::fs::read_to_string(&stderr).unwrap_or_default();
    eprintln!(
        "stopped {:?} after the hang-up: {status}, stderr: {}",
        hung_up.elapsed(),
        said.trim()
    );
    assert_eq!(status.code(), Some(1), "{said}");
    assert!(said.contains("stopped (terminal closed)"), "{said}");
    reader.join().unwrap();
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

// ---------------------------------------------------------------------------------------------
// Panics

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

/// This module's test `name` as the test binary's filter takes it (`module::name`).
fn test_path(name: &str) -> String {
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    format!("{module}::{name}")
}

/// Set in the child: the etcd endpoint, the Alertmanager URL.
const CHILD: &str = "OPSCONSOLE_TEST_CHILD_CONSOLE";

#[test]
fn source_task_panic_fails_its_pane_and_nothing_reaches_the_screen() {
    if let Ok(spec) = std::env::var(CHILD) {
        return run_child_console(&spec);
    }
    let etcd = Etcd::start();
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    ]);
    let am = Alertmanager::start();
    am.fire(&[("DiskFull", "db-1", "critical")]);

    let exe = std::env::current_exe().expect("the test binary");
    let spec = format!("{} {}", etcd.endpoint(), am.url());
    let t = Tmux::sized("opsconsole-panics", 120, 35)
        .program(&exe)
        .env(CHILD, &spec)
        .settle(Settle::Off)
        .start(&[
            &test_path("source_task_panic_fails_its_pane_and_nothing_reaches_the_screen"),
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ]);
    let screen = t.wait_screen(
        "the members pane saying its source failed, the checks pane live, discovery stopped",
        SOON,
        |s| {
            s.contains("etcd failed: internal error")
                && s.contains("db-1")
                && s.contains("checks ● live")
                && s.contains("stopped after an internal error")
        },
    );
    assert_eq!(t.alternate_on(), "1", "the console is still up:\n{screen}");
    assert!(
        screen.contains("etcd ✖ failed"),
        "the status bar marks etcd failed:\n{screen}"
    );
    // Discovery (for the metrics and logs panes) connects with the same profile and panics too.
    assert!(
        screen.contains("discovery under /config/opsconsole/ stopped after an internal error"),
        "the status line says discovery stopped:\n{screen}"
    );
    let raw = t.raw_output();
    for leaked in ["panicked", "overflow when adding durations", "backtrace"] {
        assert!(
            !raw.contains(leaked),
            "{leaked:?} was written to the terminal:\n{screen}"
        );
    }
    let log = wait_log(&t, "overflow when adding durations");
    assert!(
        log.contains("panic") && log.contains("opsconsole::sources::etcd"),
        "the log has the panic with a backtrace through the etcd source:\n{log}"
    );
    eprintln!(
        "pane: {}",
        screen
            .lines()
            .find(|l| l.contains("etcd failed"))
            .unwrap_or_default()
            .trim()
    );

    // Still answering keys: it quits cleanly and gives the terminal back.
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
}

/// Waits until the console's log file contains `text`; its content.
fn wait_log(t: &Tmux, text: &str) -> String {
    let path = t.state_dir().join("opsconsole.log");
    common::wait_until_or(
        format!("{text:?} to reach {}", path.display()),
        SOON,
        || {
            std::fs::read_to_string(&path)
                .ok()
                .filter(|l| l.contains(text))
        },
        || std::fs::read_to_string(&path).unwrap_or_default(),
    )
}

/// The console, as `opsconsole --cluster test` runs it, on a profile no config file can hold.
fn run_child_console(spec: &str) {
    let (endpoint, am) = spec.split_once(' ').expect("endpoint and Alertmanager URL");
    let toml = format!(
        "[clusters.test]\netcd = {{ endpoints = [\"{endpoint}\"] }}\nchecks = {{ kind = \"alertmanager\", url = \"{am}\", interval_secs = 1 }}\n"
    );
    let config = Config::parse(&toml, Path::new("/child/config.toml")).expect("child profile");
    let mut profile = config.cluster("test").expect("cluster test");
    profile.etcd.as_mut().expect("etcd profile").connect_timeout = Duration::MAX;
    let settings = Settings {
        profile,
        more: Vec::new(),
        demo: false,
        readonly: false,
        zone: opsconsole::model::DisplayZone::Utc,
        zone_configured: None,
        mouse: false,
        theme: Theme::resolve(None, None, false).expect("default theme"),
        keymap: Keymap::resolve(None).expect("default keymap"),
        audit_log: opsconsole::paths::default_audit_log(),
        user: "panic-tester".into(),
        clusters: None,
        switched_from: None,
        origin: None,
        history_file: None,
        journal_dir: opsconsole::paths::journal_dir(),
        clock_dir: None,
        revclock_now: Default::default(),
    };
    let _log = opsconsole::logging::init();
    app::install_panic_hook();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    match runtime.block_on(app::run(settings)) {
        Ok(Exit::Quit) => {}
        Ok(_) => panic!("the console stopped for another reason than q"),
        Err(e) => panic!("the console failed: {e:#}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile bytes

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
    // Below the titles: a title may say `STALE 0s` for a moment on a loaded machine (the etcd
    // source between two answers), which is not what this test is about.
    assert_eq!(
        top_lines(&s)[1..],
        top_lines(&before)[1..],
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

// ---------------------------------------------------------------------------------------------
// Job control (issue 27)

/// ctrl-z suspends like any terminal program: the shell's prompt on the main screen, the terminal
/// in cooked mode; `fg` brings the console back redrawn at the size the window has now; SIGTSTP
/// from outside (`kill -TSTP`) does the same, and so does a SIGSTOP it never saw coming.
#[test]
fn ctrl_z_and_sigtstp_suspend_to_the_shell_and_fg_redraws_at_the_new_size() {
    let t = Tmux::sized("opsconsole-suspend", 80, 24)
        .script("PS1='$ ' exec bash --norc --noprofile -i\n")
        .start(&[]);
    let prompt = |s: &str| s.lines().any(|l| l.trim_end() == "$");
    t.wait_screen("the shell's prompt", SOON, prompt);
    t.type_text(&format!("{} --demo --utc", sh_quote(Path::new(BIN))));
    t.send(&["Enter"]);
    t.wait_text("Members");
    let pid = t.app_pid();

    t.send(&["C-z"]);
    let s = t.wait_text("Stopped");
    assert!(!s.contains("Members"), "the console's screen is gone:\n{s}");
    // The shell has the terminal in cooked mode: what is typed is echoed.
    t.type_text("stty -a | tr ' ' '\\n' | grep -x -e icanon -e echo | tr '\\n' ' '; echo");
    t.send(&["Enter"]);
    t.wait_text("icanon echo");

    // Resized while stopped: fg redraws at 100×30.
    t.tmux(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    t.type_text("fg");
    t.send(&["Enter"]);
    let s = t.wait_screen("the console back at 100 columns", SOON, |s| {
        s.contains("Members")
            && s.lines()
                .any(|l| l.chars().count() == 100 && l.starts_with('┌'))
    });
    assert!(s.lines().last().unwrap_or("").contains("demo"), "{s}");

    // SIGTSTP from outside: the same.
    signal(pid, "TSTP");
    t.wait_screen("stopped again", SOON, |s| {
        s.matches("Stopped").count() >= 2 && !s.contains("Members")
    });
    t.type_text("fg");
    t.send(&["Enter"]);
    t.wait_text("Members");

    // A SIGSTOP the console cannot catch: the shell takes the terminal and prints over the
    // screen; `fg` (SIGCONT) makes the console take it back (raw mode again, though crossterm
    // thought it still on) and draw itself whole.
    signal(pid, "STOP");
    wait_until("the console stopped", SOON, || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s[s.rfind(')').unwrap_or(0) + 1..]
                .trim_start()
                .starts_with('T')
        })
    });
    t.wait_screen("the shell's prompt over the console", SOON, |s| {
        s.lines().any(|l| l.trim_end().ends_with('$'))
    });
    t.type_text("fg");
    t.send(&["Enter"]);
    t.wait_screen("the console redrawn after SIGCONT", SOON, |s| {
        s.contains("Members") && !s.contains("Stopped")
    });
    t.send(&["q"]);
    wait_until("the console gone", SOON, || !alive(pid));
    t.type_text("echo EXIT=$?");
    t.send(&["Enter"]);
    t.wait_text("EXIT=0");
}

/// SIGSTOP and SIGCONT from a parent without job control (a supervisor, `kill` from another
/// terminal): no shell takes the terminal, the window is resized while the console is stopped,
/// and on SIGCONT it must redraw at the new size by itself and take keys again.
#[test]
fn sigstop_and_sigcont_without_job_control_redraw_at_the_new_size() {
    let t = start(&["--demo", "--utc"], &[]);
    t.wait_text("Members");
    let pid = t.app_pid();
    signal(pid, "STOP");
    wait_until("the console stopped", SOON, || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s[s.rfind(')').unwrap_or(0) + 1..]
                .trim_start()
                .starts_with('T')
        })
    });
    t.tmux(&["resize-window", "-t", "t", "-x", "90", "-y", "28"]);
    // Typed while stopped: waits in the terminal's buffer for the console.
    t.send(&["?"]);
    std::thread::sleep(Duration::from_millis(300));
    signal(pid, "CONT");
    let s = t.wait_screen("redrawn at 90 columns with help open", SOON, |s| {
        s.lines()
            .any(|l| l.chars().count() == 90 && l.starts_with('┌'))
            && s.contains("Help")
    });
    assert!(s.contains("Members") || s.contains("Help"), "{s}");
    t.escape();
    t.wait_gone("Help");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
}

//! Terminal safety: the built binary in a real terminal (tmux, a private server per test, every byte
//! the program writes recorded with `pipe-pane`), stopped in the ways a terminal program dies —
//! SIGTERM, SIGHUP, its terminal closing under it, a panic. Each time the terminal must come back as
//! it was: main screen, cooked mode with echo (`stty -a` after the program shows `icanon` and
//! `echo`), cursor visible; a closed terminal must make the program exit, not spin.
//!
//! The console runs on `--demo` (no servers needed: the terminal is what is tested). Missing tmux
//! fails loudly (`common::require_binary`); nothing is skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{require_binary, wait_for};

const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");
const SOON: Duration = Duration::from_secs(10);

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One private tmux server (`-L` socket) with one window running a shell script.
struct Tmux {
    socket: String,
    socket_path: Option<PathBuf>,
    dir: tempfile::TempDir,
    tmux: PathBuf,
}

impl Tmux {
    /// Runs `opsconsole ARGS` in a wrapper that prints `EXIT=<code>` and the terminal's
    /// icanon/echo flags (`TTY=…`) after it, then stays open.
    fn start(args: &[&str], env: &[(&str, &str)]) -> Tmux {
        let body = format!(
            "{bin} \"$@\"\n\
             echo \"EXIT=$?\"\n\
             echo \"TTY=$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' ')\"\n\
             sleep 120\n",
            bin = sh_quote(Path::new(BIN)),
        );
        Tmux::start_script(&body, args, env)
    }

    /// Runs `body` (a sh script; `$@` = `args`), starting it only once `pipe-pane` records.
    fn start_script(body: &str, args: &[&str], env: &[(&str, &str)]) -> Tmux {
        let tmux = require_binary("tmux");
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["config", "state", "home"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let socket = format!(
            "opsconsole-term-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let script = format!(
            "while [ ! -e {go} ]; do sleep 0.02; done\n{body}",
            go = sh_quote(&dir.path().join("go")),
        );
        let script_path = dir.path().join("run.sh");
        std::fs::write(&script_path, script).unwrap();
        let mut t = Tmux {
            socket,
            socket_path: None,
            dir,
            tmux,
        };
        let mut cmd = t.cmd();
        cmd.env_remove("TMUX")
            .env_remove("NO_COLOR")
            .env_remove("OPSCONSOLE_TEST_PANIC")
            .env("XDG_CONFIG_HOME", t.dir.path().join("config"))
            .env("XDG_STATE_HOME", t.dir.path().join("state"))
            .env("HOME", t.dir.path().join("home"))
            .env("USER", "term-tester")
            .env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args(["-x", "120", "-y", "35"])
            .arg("sh")
            .arg(&script_path)
            .args(args);
        run_ok(&mut cmd);
        t.socket_path = Some(PathBuf::from(
            t.tmux(&["display", "-p", "#{socket_path}"]).trim(),
        ));
        let log = t.dir.path().join("pane.log");
        t.tmux(&[
            "pipe-pane",
            "-t",
            "t",
            &format!("cat >> {}", sh_quote(&log)),
        ]);
        wait_for(Duration::from_secs(5), || log.exists().then_some(()))
            .expect("tmux pipe-pane did not start recording the pane");
        std::fs::write(t.dir.path().join("go"), "").unwrap();
        t
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.tmux);
        c.args(["-L", &self.socket]);
        c
    }

    fn tmux(&self, args: &[&str]) -> String {
        run_ok(self.cmd().args(args))
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "t"])
    }

    fn alternate_on(&self) -> String {
        self.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"])
            .trim()
            .to_string()
    }

    fn raw_output(&self) -> String {
        String::from_utf8_lossy(
            &std::fs::read(self.dir.path().join("pane.log")).unwrap_or_default(),
        )
        .into_owned()
    }

    fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SOON;
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() >= deadline {
                panic!("timed out after {SOON:?} waiting for: {what}\n--- screen ---\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The console is up: alternate screen on and the demo fleet drawn.
    fn wait_console(&self) {
        let deadline = Instant::now() + SOON;
        while self.alternate_on() != "1" || !self.screen().contains("Members") {
            assert!(
                Instant::now() < deadline,
                "the console did not start:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // Let it draw a few frames with live data.
        std::thread::sleep(Duration::from_millis(300));
    }

    fn wait_exit(&self) -> (i32, String) {
        let s = self.wait_screen("EXIT=… and TTY=… after the program", |s| {
            s.lines().any(|l| l.starts_with("TTY="))
        });
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

    fn pane_pid(&self) -> u32 {
        self.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("pane_pid")
    }

    /// The opsconsole process: a child of the pane's shell.
    fn app_pid(&self) -> u32 {
        let sh = self.pane_pid();
        wait_for(SOON, || {
            let out = Command::new("pgrep")
                .args(["-P", &sh.to_string()])
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.trim().parse::<u32>().ok())
                .find(|pid| {
                    std::fs::read_link(format!("/proc/{pid}/exe"))
                        .map(|p| p.ends_with("opsconsole"))
                        .unwrap_or(false)
                })
        })
        .expect("the opsconsole process (child of the pane's shell)")
    }

    /// Main screen, cooked mode with echo, and the alternate screen was entered, then left, then
    /// the cursor shown again.
    fn assert_restored(&self, screen: &str) {
        assert_eq!(self.alternate_on(), "0", "still on the alternate screen");
        let tty = screen
            .lines()
            .find(|l| l.starts_with("TTY="))
            .expect("TTY= line");
        let flags: Vec<&str> = tty["TTY=".len()..].split_whitespace().collect();
        assert!(
            flags.contains(&"icanon") && flags.contains(&"echo"),
            "terminal left in raw mode: {tty}"
        );
        let raw = self.raw_output();
        let enter = raw
            .rfind("\x1b[?1049h")
            .expect("never entered the alternate screen");
        let leave = raw
            .rfind("\x1b[?1049l")
            .expect("never left the alternate screen");
        assert!(
            leave > enter,
            "the last alternate-screen switch was not a leave"
        );
        assert!(
            raw[leave..].contains("\x1b[?25h"),
            "cursor not shown again after leaving the alternate screen"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
        if let Some(p) = &self.socket_path {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
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
    run_ok(Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]));
}

// ---------------------------------------------------------------------------------------------

fn stops_cleanly_on(sig: &str) {
    let t = Tmux::start(&["--demo"], &[]);
    t.wait_console();
    let pid = t.app_pid();
    let sent = Instant::now();
    signal(pid, sig);
    let (code, screen) = t.wait_exit();
    eprintln!("SIG{sig}: exited {code} within {:?}", sent.elapsed());
    t.assert_restored(&screen);
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
    let dir = tempfile::tempdir().unwrap();
    let code_file = dir.path().join("exit-code");
    let body = format!(
        "trap '' HUP\n{bin} \"$@\" 2>{err}\necho $? > {code}\n",
        bin = sh_quote(Path::new(BIN)),
        err = sh_quote(&dir.path().join("stderr")),
        code = sh_quote(&code_file),
    );
    let t = Tmux::start_script(&body, &["--demo"], &[]);
    t.wait_console();
    let pid = t.app_pid();
    let killed = Instant::now();
    t.tmux(&["kill-pane", "-t", "t"]);
    let gone = wait_for(Duration::from_secs(2), || (!alive(pid)).then_some(()));
    let cpu = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        gone.is_some(),
        "opsconsole (pid {pid}) still running 2 s after its terminal closed; /proc stat: {cpu}"
    );
    let code = wait_for(Duration::from_secs(2), || {
        std::fs::read_to_string(&code_file)
            .ok()
            .filter(|s| !s.trim().is_empty())
    })
    .expect("the wrapper recorded no exit code");
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
}

/// A panic restores the terminal *before* the message is printed, so the message lands on the main
/// screen; the exit status is Rust's panic status.
#[test]
fn panic_restores_the_terminal_then_prints_the_message() {
    let t = Tmux::start(&["--demo"], &[("OPSCONSOLE_TEST_PANIC", "1")]);
    t.wait_console();
    t.tmux(&["send-keys", "-t", "t", "j"]);
    let (code, screen) = t.wait_exit();
    t.assert_restored(&screen);
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
    let t = Tmux::start(
        &["--demo"],
        &[("OPSCONSOLE_TEST_PANIC", "1"), ("RUST_BACKTRACE", "0")],
    );
    t.wait_console();
    t.tmux(&["send-keys", "-t", "t", "j"]);
    let (_, screen) = t.wait_exit();
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

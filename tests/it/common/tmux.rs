//! The tmux driver of the end-to-end tests: the built binary in a real terminal, one private tmux
//! server per test (its own `-L` socket) with one fixed-size window. Keys go in with
//! `tmux send-keys`, the screen comes back with `tmux capture-pane -p`, and every byte the pane's
//! programs write to the terminal is kept (`pipe-pane`), so a test can look at what actually
//! reached the terminal (alternate screen entered and left, escape sequences, titles).
//!
//! The window runs a wrapper script that waits until `pipe-pane` records, then by default runs
//! `opsconsole ARGS`, prints `EXIT=<code>` and the terminal's icanon/echo flags (`TTY=…`), and stays
//! open so the test can read them. XDG dirs and HOME point into a fresh temp dir per test.
//!
//! What differs between tests is set on a [`TmuxBuilder`] (`Tmux::sized(…)`): window size,
//! socket name, `USER`, extra or removed environment variables, a pane title set before the
//! program, the `TTY=` report, a whole custom wrapper body, whether the screen is captured with
//! wrapped lines joined, and how `wait_screen` decides a screen has settled ([`Settle`]).
//!
//! Missing tmux fails the test (`require_binary`); nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{require_binary, wait_until, wait_until_or};

/// The console under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");
/// How long the console may take to start, react to a key or a resize, or exit. Generous because
/// the machine may be busy compiling; a passing test never waits this long.
pub const SOON: Duration = Duration::from_secs(10);

/// A little more than the console's confirmation guard (`state::confirm_guard::CONFIRM_DELAY`).
pub const CONFIRM_GUARD: Duration = Duration::from_millis(350);

/// The wrapper's report after the program: `TTY=icanon echo` (or `-icanon -echo` in raw mode).
pub const TTY_REPORT: &str =
    "echo \"TTY=$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' ')\"\n";

static NEXT_SOCKET: AtomicUsize = AtomicUsize::new(0);

/// When `wait_screen` accepts a screen on which its predicate holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    /// A frame can be caught half-painted by tmux: accept a screen only when a second capture
    /// 80 ms later shows exactly the same thing (otherwise capture again at once). For screens that
    /// stand still once drawn.
    Unchanged,
    /// The predicate must hold on a second capture 80 ms later too; that second capture is
    /// returned. For screens that keep changing (live sparklines, clocks), which may never show
    /// the same thing twice.
    StillTrue,
    /// The first capture on which the predicate holds.
    Off,
}

/// How to start a [`Tmux`]; see `Tmux::sized`.
#[derive(Clone, Debug)]
pub struct TmuxBuilder {
    socket_prefix: String,
    width: u16,
    height: u16,
    user: String,
    env_remove: Vec<String>,
    env: Vec<(String, String)>,
    title: Option<String>,
    report_tty: bool,
    script: Option<String>,
    program: Option<PathBuf>,
    joined: bool,
    settle: Settle,
}

impl TmuxBuilder {
    /// `USER` for the program (it lands in audit lines); `e2e-tester` unless set.
    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    /// Removes `key` from the environment the program starts with (TMUX and NO_COLOR always are).
    pub fn env_remove(mut self, key: &str) -> Self {
        self.env_remove.push(key.to_string());
        self
    }

    /// Sets `key=value` for the program (applied after every removal).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The wrapper sets this pane title (OSC 2) before starting the program, so a test can tell
    /// whether anything changed it. Plain text only: it goes into a `printf` format in quotes.
    pub fn title(mut self, title: &str) -> Self {
        self.title = Some(title.to_string());
        self
    }

    /// Whether the wrapper prints `TTY=<icanon/echo flags>` after `EXIT=` (on unless turned off).
    pub fn report_tty(mut self, on: bool) -> Self {
        self.report_tty = on;
        self
    }

    /// Replaces the whole wrapper body (a sh script; `$@` = the args given to `start`). It still
    /// runs only once `pipe-pane` records.
    pub fn script(mut self, body: &str) -> Self {
        self.script = Some(body.to_string());
        self
    }

    /// The default wrapper runs `exe` instead of opsconsole (a test binary re-run as a console that
    /// no config file can make, for instance).
    pub fn program(mut self, exe: &Path) -> Self {
        self.program = Some(exe.to_path_buf());
        self
    }

    /// `screen()` (and so `wait_screen`) captures with wrapped lines joined (`capture-pane -J`).
    pub fn joined_screen(mut self) -> Self {
        self.joined = true;
        self
    }

    /// How `wait_screen` decides a screen has settled; [`Settle::Unchanged`] unless set.
    pub fn settle(mut self, settle: Settle) -> Self {
        self.settle = settle;
        self
    }

    /// The wrapper body for the default script: optional title, the program, `EXIT=`, optional
    /// `TTY=`, then a long sleep so the window stays readable.
    fn body(&self) -> String {
        if let Some(body) = &self.script {
            return body.clone();
        }
        let mut body = String::new();
        if let Some(title) = &self.title {
            body.push_str(&format!("printf '\\033]2;{title}\\007'\n"));
        }
        body.push_str(&format!(
            "{bin} \"$@\"\necho \"EXIT=$?\"\n",
            bin = sh_quote(self.program.as_deref().unwrap_or(Path::new(BIN)))
        ));
        if self.report_tty {
            body.push_str(TTY_REPORT);
        }
        body.push_str("sleep 120\n");
        body
    }

    /// Starts the wrapper (and so opsconsole) with `args` in a fresh private tmux server. Returns
    /// once `pipe-pane` records; the program may still be starting.
    pub fn start(self, args: &[&str]) -> Tmux {
        let tmux = require_binary("tmux");
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["config", "state", "home"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let socket = format!(
            "{}-{}-{}",
            self.socket_prefix,
            std::process::id(),
            NEXT_SOCKET.fetch_add(1, Ordering::Relaxed)
        );
        // The program waits for `go` so that pipe-pane is recording before its first byte.
        let script = format!(
            "while [ ! -e {go} ]; do sleep 0.02; done\n{body}",
            go = sh_quote(&dir.path().join("go")),
            body = self.body(),
        );
        let script_path = dir.path().join("run.sh");
        std::fs::write(&script_path, script).unwrap();

        let mut t = Tmux {
            socket,
            socket_path: None,
            dir,
            tmux,
            joined: self.joined,
            settle: self.settle,
            // `--demo` records its simulated changes apart from the real audit log.
            audit_file: if args.contains(&"--demo") {
                "demo-audit.log"
            } else {
                "audit.log"
            },
        };
        let mut cmd = t.cmd();
        // No local display: a link is copied (OSC 52), never handed to a browser by a test.
        cmd.env_remove("TMUX")
            .env_remove("NO_COLOR")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        for key in &self.env_remove {
            cmd.env_remove(key);
        }
        cmd.env("XDG_CONFIG_HOME", t.dir.path().join("config"))
            .env("XDG_STATE_HOME", t.dir.path().join("state"))
            .env("HOME", t.dir.path().join("home"))
            .env("USER", &self.user)
            .env("TERM", "xterm-256color");
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd.args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args([
                "-x",
                &self.width.to_string(),
                "-y",
                &self.height.to_string(),
            ])
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
        // pipe-pane starts its shell asynchronously; give it a moment to open the file.
        wait_until(
            "tmux pipe-pane to start recording the pane",
            Duration::from_secs(5),
            || log.exists(),
        );
        std::fs::write(t.dir.path().join("go"), "").unwrap();
        t
    }
}

/// One private tmux server (its own `-L` socket) with one fixed-size window (session and window
/// `t`) running the wrapper script. Drop kills the server and removes its socket file.
pub struct Tmux {
    socket: String,
    /// Where the server listens (tmux leaves the file behind; Drop removes it).
    socket_path: Option<PathBuf>,
    dir: tempfile::TempDir,
    tmux: PathBuf,
    /// `screen()` captures with `-J`.
    joined: bool,
    settle: Settle,
    /// The audit log's file name in the state dir.
    audit_file: &'static str,
}

impl Tmux {
    /// A builder for a `width`×`height` window whose server socket is named
    /// `<socket_prefix>-<pid>-<n>`.
    pub fn sized(socket_prefix: &str, width: u16, height: u16) -> TmuxBuilder {
        TmuxBuilder {
            socket_prefix: socket_prefix.to_string(),
            width,
            height,
            user: "e2e-tester".to_string(),
            env_remove: Vec::new(),
            env: Vec::new(),
            title: None,
            report_tty: true,
            script: None,
            program: None,
            joined: false,
            settle: Settle::Unchanged,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(&self.tmux);
        c.args(["-L", &self.socket]);
        c
    }

    /// Runs one tmux command against this server; its stdout. Panics if it fails.
    pub fn tmux(&self, args: &[&str]) -> String {
        run_ok(self.cmd().args(args))
    }

    /// `$XDG_STATE_HOME/opsconsole`: the program's log and audit log.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state").join("opsconsole")
    }

    /// `$XDG_CONFIG_HOME` (empty unless a test writes to it).
    pub fn config_home(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// tmux key names (`Enter`, `Tab`, `j`, `C-c`), each one key.
    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Answers a confirmation dialog the caller has seen on screen: waits out the console's guard
    /// (a dialog's keys count only once it has been on screen for 250 ms), then sends `key`.
    pub fn confirm(&self, key: &str) {
        std::thread::sleep(CONFIRM_GUARD);
        self.send(&[key]);
    }

    /// Pastes `text` the way a terminal does (`paste-buffer -p`): bracketed when the program
    /// asked for bracketed paste, as plain typed bytes otherwise.
    pub fn paste(&self, text: &str) {
        self.tmux(&["set-buffer", "--", text]);
        self.tmux(&["paste-buffer", "-p", "-t", "t"]);
    }

    /// Literal text, typed as is.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Escape alone, then a pause: ESC followed at once by another byte reads as Alt-<key>.
    pub fn escape(&self) {
        self.send(&["Escape"]);
        std::thread::sleep(Duration::from_millis(120));
    }

    /// The visible screen (wrapped lines joined if the builder asked for `joined_screen`).
    pub fn screen(&self) -> String {
        if self.joined {
            self.screen_joined()
        } else {
            self.tmux(&["capture-pane", "-p", "-t", "t"])
        }
    }

    /// The screen with wrapped lines joined (for long messages printed to the main screen).
    pub fn screen_joined(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "t"])
    }

    /// `1` while the pane is on the alternate screen, else `0`.
    pub fn alternate_on(&self) -> String {
        self.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"])
            .trim()
            .to_string()
    }

    pub fn pane_title(&self) -> String {
        self.tmux(&["display", "-p", "-t", "t", "#{pane_title}"])
            .trim()
            .to_string()
    }

    /// Every byte the pane's programs wrote to the terminal so far.
    pub fn raw_bytes(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("pane.log")).unwrap_or_default()
    }

    /// Everything the pane's programs wrote to the terminal so far, as (lossy) text.
    pub fn raw_output(&self) -> String {
        String::from_utf8_lossy(&self.raw_bytes()).into_owned()
    }

    /// Looks at the screen until `pred` holds on it and the screen has settled (see [`Settle`]);
    /// on timeout fails with the last screen and the tail of the program's log.
    pub fn wait_screen(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        wait_until_or(
            what,
            timeout,
            || {
                let s = self.screen();
                if !pred(&s) {
                    return Err(format!("\n--- last screen ---\n{s}"));
                }
                match self.settle {
                    Settle::Off => Ok(s),
                    Settle::Unchanged => {
                        std::thread::sleep(Duration::from_millis(80));
                        let again = self.screen();
                        if again == s {
                            Ok(s)
                        } else {
                            Err(format!("\n--- last screen (still changing) ---\n{again}"))
                        }
                    }
                    Settle::StillTrue => {
                        std::thread::sleep(Duration::from_millis(80));
                        let again = self.screen();
                        if pred(&again) {
                            Ok(again)
                        } else {
                            Err(format!("\n--- last screen ---\n{again}"))
                        }
                    }
                }
            },
            || format!("--- opsconsole.log (tail) ---\n{}", self.log_tail()),
        )
    }

    pub fn wait_text(&self, text: &str) -> String {
        self.wait_screen(&format!("{text:?} on screen"), SOON, |s| s.contains(text))
    }

    pub fn wait_gone(&self, text: &str) -> String {
        self.wait_screen(&format!("{text:?} gone from the screen"), SOON, |s| {
            !s.contains(text)
        })
    }

    /// Waits until the wrapper printed `EXIT=<code>` and `TTY=…` after the program; the screen.
    pub fn wait_exit_screen(&self) -> String {
        // TTY= is printed after EXIT=, so both are there once it shows.
        self.wait_screen("the program to exit (EXIT=… TTY=…)", SOON, |s| {
            s.lines().any(|l| l.starts_with("TTY="))
        })
    }

    /// Waits for the wrapper's `EXIT=<code>` line and returns the code.
    pub fn wait_exit(&self) -> i32 {
        exit_code(&self.wait_exit_screen())
    }

    pub fn pane_pid(&self) -> u32 {
        self.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("pane_pid")
    }

    /// The opsconsole process: the child of the wrapper shell that is the pane's process.
    pub fn app_pid(&self) -> u32 {
        let sh = self.pane_pid();
        wait_until(
            "the opsconsole process (child of the pane's shell)",
            SOON,
            || {
                let out = Command::new(require_binary("pgrep"))
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
            },
        )
    }

    /// The last 15 lines of the program's log.
    pub fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.state_dir().join("opsconsole.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// The lines of this console's audit log (`demo-audit.log` for `--demo`).
    pub fn audit_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.state_dir().join(self.audit_file))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {l}"))
            })
            .collect()
    }

    /// Waits for an audit line with this action and result; returns it.
    pub fn wait_audit(&self, action: &str, result: &str) -> serde_json::Value {
        wait_until_or(
            format!("an audit line with action {action:?} and result {result:?}"),
            SOON,
            || {
                self.audit_lines()
                    .into_iter()
                    .find(|l| l["action"] == action && l["result"] == result)
            },
            || format!("audit lines: {:#?}", self.audit_lines()),
        )
    }

    /// After the program exited: main screen back, cooked mode with echo (the wrapper's `TTY=`
    /// line), and the alternate screen was entered, then left, then the cursor shown again.
    pub fn assert_terminal_restored(&self) {
        assert_eq!(
            self.alternate_on(),
            "0",
            "still on the alternate screen:\n{}",
            self.screen()
        );
        let s = self.screen();
        let tty = s
            .lines()
            .find(|l| l.starts_with("TTY="))
            .unwrap_or_else(|| {
                panic!("no TTY= line after exit:\n{s}");
            });
        assert_cooked(tty);
        let raw = self.raw_output();
        let enter = raw
            .rfind("\x1b[?1049h")
            .expect("the console never entered the alternate screen");
        let leave = raw
            .rfind("\x1b[?1049l")
            .expect("the console never left the alternate screen");
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

/// Runs `cmd`; its stdout. Panics (with its stderr) if it cannot start or fails.
pub fn run_ok(cmd: &mut Command) -> String {
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

/// `TTY=icanon echo`: line editing and echo are on again (raw mode was left).
pub fn assert_cooked(tty_line: &str) {
    let flags: Vec<&str> = tty_line["TTY=".len()..].split_whitespace().collect();
    assert!(
        flags.contains(&"icanon") && flags.contains(&"echo"),
        "terminal left in raw mode: {tty_line}"
    );
}

/// `p` in single quotes for sh.
pub fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

/// The code on the screen's `EXIT=<code>` line (the whole rest of the line must be the number).
pub fn exit_code(screen: &str) -> i32 {
    let line = screen
        .lines()
        .find(|l| l.starts_with("EXIT="))
        .expect("EXIT= line");
    line["EXIT=".len()..].trim().parse().expect("exit code")
}

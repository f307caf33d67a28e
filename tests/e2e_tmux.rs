//! End-to-end: the built binary in a real terminal (tmux, one private server per test) against a real
//! etcd started by the test. Keys go in with `tmux send-keys`, the screen comes back with
//! `tmux capture-pane -p`, and every byte the program writes to the terminal is kept (`pipe-pane`) so
//! a test can tell whether the alternate screen was ever entered.
//!
//! Missing tmux or etcd fails the test (see `common::require_binary`); nothing is skipped.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{free_port, require_binary, wait_for, write_config, Etcd};

const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");
const WIDTH: u16 = 160;
const HEIGHT: u16 = 45;
/// How long the console may take to start, react to a key or a resize, or exit. Generous because
/// the machine may be busy compiling; a passing test never waits this long.
const SOON: Duration = Duration::from_secs(10);
/// How long a change made in etcd may take to show on screen (the watch is push-based).
const LIVE: Duration = Duration::from_secs(3);

static NEXT_SOCKET: AtomicUsize = AtomicUsize::new(0);

/// One private tmux server (its own `-L` socket) with one fixed-size window running
/// `opsconsole ARGS; echo EXIT=$?; echo TTY=<icanon/echo flags>; sleep`.
struct Tmux {
    socket: String,
    /// Where the server listens (tmux leaves the file behind; Drop removes it).
    socket_path: Option<PathBuf>,
    dir: tempfile::TempDir,
    tmux: PathBuf,
}

impl Tmux {
    /// Starts opsconsole with `args`, XDG dirs and HOME inside a fresh tempdir.
    fn start(args: &[&str]) -> Tmux {
        let tmux = require_binary("tmux");
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["config", "state", "home"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        let socket = format!(
            "opsconsole-e2e-{}-{}",
            std::process::id(),
            NEXT_SOCKET.fetch_add(1, Ordering::Relaxed)
        );
        // The program waits for `go` so that pipe-pane is recording before its first byte.
        let script = format!(
            "while [ ! -e {go} ]; do sleep 0.02; done\n\
             {bin} \"$@\"\n\
             echo \"EXIT=$?\"\n\
             echo \"TTY=$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' ')\"\n\
             sleep 120\n",
            go = sh_quote(&dir.path().join("go")),
            bin = sh_quote(Path::new(BIN)),
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
            .env("XDG_CONFIG_HOME", t.dir.path().join("config"))
            .env("XDG_STATE_HOME", t.dir.path().join("state"))
            .env("HOME", t.dir.path().join("home"))
            .env("USER", "e2e-tester")
            .env("TERM", "xterm-256color");
        cmd.args(["-f", "/dev/null", "new-session", "-d", "-s", "t"])
            .args(["-x", &WIDTH.to_string(), "-y", &HEIGHT.to_string()])
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

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state").join("opsconsole")
    }

    fn config_home(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// tmux key names (`Enter`, `j`, `C-c`), each one key.
    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Literal text, typed as is.
    fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
    }

    /// Escape alone, then a pause: ESC followed at once by another byte reads as Alt-<key>.
    fn escape(&self) {
        self.send(&["Escape"]);
        std::thread::sleep(Duration::from_millis(120));
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t"])
    }

    /// The screen with wrapped lines joined (for long messages printed to the main screen).
    fn screen_joined(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "t"])
    }

    fn alternate_on(&self) -> String {
        self.tmux(&["display", "-p", "-t", "t", "#{alternate_on}"])
            .trim()
            .to_string()
    }

    /// Everything the pane's programs wrote to the terminal so far.
    fn raw_output(&self) -> String {
        String::from_utf8_lossy(
            &std::fs::read(self.dir.path().join("pane.log")).unwrap_or_default(),
        )
        .into_owned()
    }

    /// Polls the screen every 50 ms until `pred` holds; on timeout panics with the last screen.
    fn wait_screen(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.screen();
            // A frame can be caught half-painted by tmux; accept a screen only when a second
            // capture a moment later shows the same thing.
            if pred(&s) {
                std::thread::sleep(Duration::from_millis(80));
                let again = self.screen();
                if again == s {
                    return s;
                }
                continue;
            }
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for: {what}\n--- last screen ---\n{s}\n--- opsconsole.log (tail) ---\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_text(&self, text: &str) -> String {
        self.wait_screen(&format!("{text:?} on screen"), SOON, |s| s.contains(text))
    }

    fn wait_gone(&self, text: &str) -> String {
        self.wait_screen(&format!("{text:?} gone from the screen"), SOON, |s| {
            !s.contains(text)
        })
    }

    /// Waits for the wrapper's `EXIT=<code>` line and returns the code.
    fn wait_exit(&self) -> i32 {
        // TTY= is printed after EXIT=, so both are there once it shows.
        let s = self.wait_screen("the program to exit (EXIT=… TTY=…)", SOON, |s| {
            s.lines().any(|l| l.starts_with("TTY="))
        });
        exit_code(&s)
    }

    fn pane_pid(&self) -> u32 {
        self.tmux(&["display", "-p", "-t", "t", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("pane_pid")
    }

    /// The opsconsole process: the child of the wrapper shell that is the pane's process.
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

    fn log_tail(&self) -> String {
        let log =
            std::fs::read_to_string(self.state_dir().join("opsconsole.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn audit_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.state_dir().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {l}"))
            })
            .collect()
    }

    /// After the program exited: main screen back, cooked mode with echo, and the alternate screen was
    /// both entered and left.
    fn assert_terminal_restored(&self) {
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

/// `TTY=icanon echo`: line editing and echo are on again (raw mode was left).
fn assert_cooked(tty_line: &str) {
    let flags: Vec<&str> = tty_line["TTY=".len()..].split_whitespace().collect();
    assert!(
        flags.contains(&"icanon") && flags.contains(&"echo"),
        "terminal left in raw mode: {tty_line}"
    );
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

fn exit_code(screen: &str) -> i32 {
    let line = screen
        .lines()
        .find(|l| l.starts_with("EXIT="))
        .expect("EXIT= line");
    line["EXIT=".len()..].trim().parse().expect("exit code")
}

/// The members pane is the left half of the top rows; `row` finds the table line of `instance`.
fn members_pane(screen: &str) -> Vec<String> {
    screen
        .lines()
        .take(HEIGHT as usize * 55 / 100)
        .map(|l| l.chars().take(WIDTH as usize / 2).collect())
        .collect()
}

fn row(screen: &str, instance: &str) -> Option<String> {
    members_pane(screen)
        .into_iter()
        .find(|l| l.trim_matches('│').split_whitespace().nth(1) == Some(instance))
}

fn has_row(screen: &str, instance: &str) -> bool {
    row(screen, instance).is_some()
}

/// etcd with three registrations under /services/ and a config file pointing at it.
struct Fleet {
    etcd: Etcd,
    _config_dir: tempfile::TempDir,
    config: PathBuf,
}

fn fleet(extra_config: &str) -> Fleet {
    let etcd = Etcd::start();
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80,"version":"1.4.2","started_at":"2024-01-01T00:00:00Z"}"#,
    ]);
    etcd.ctl(&["put", "/services/web/web-2", r#"{"Addr":"10.0.0.2:8080"}"#]);
    etcd.ctl(&["put", "/services/redis/redis-1", "10.0.1.1:6379"]);
    let (dir, config) = write_config(&etcd.endpoint(), "/services/", extra_config);
    Fleet {
        etcd,
        _config_dir: dir,
        config,
    }
}

impl Fleet {
    fn console(&self, extra_args: &[&str]) -> Tmux {
        let mut args = vec![
            "--cluster",
            "test",
            "--config",
            self.config.to_str().unwrap(),
        ];
        args.extend_from_slice(extra_args);
        let t = Tmux::start(&args);
        t.wait_screen("the three members", SOON, |s| {
            has_row(s, "web-1") && has_row(s, "web-2") && has_row(s, "redis-1")
        });
        t
    }

    fn get(&self, key: &str) -> String {
        self.etcd.ctl(&["get", key])
    }
}

#[test]
fn members_appear_update_and_are_counted_per_role() {
    let f = fleet("");
    let t = f.console(&[]);
    let s = t.screen();
    for (role, instance, addr) in [
        ("web", "web-1", "10.0.0.1:80"),
        ("web", "web-2", "10.0.0.2:8080"),
        ("redis", "redis-1", "10.0.1.1:6379"),
    ] {
        let r = row(&s, instance).unwrap();
        let cols: Vec<&str> = r.trim_matches('│').split_whitespace().collect();
        assert_eq!(cols[0], role, "role column of {instance}: {r}");
        assert_eq!(cols[2], addr, "address column of {instance}: {r}");
    }
    assert!(
        row(&s, "web-1").unwrap().contains("1.4.2"),
        "version of web-1 missing:\n{s}"
    );
    let title = s.lines().next().unwrap();
    assert!(title.contains("Members"), "{title}");
    assert!(
        title.contains("web:2") && title.contains("redis:1"),
        "per-role counts missing: {title}"
    );

    f.etcd.ctl(&[
        "put",
        "/services/web/web-3",
        r#"{"addr":"10.0.0.3","port":81}"#,
    ]);
    let s = t.wait_screen("web-3 to appear", LIVE, |s| has_row(s, "web-3"));
    assert!(row(&s, "web-3").unwrap().contains("10.0.0.3:81"), "{s}");
    t.wait_screen("title to count web:3", LIVE, |s| {
        s.lines().next().unwrap().contains("web:3")
    });

    f.etcd.ctl(&["del", "/services/redis/redis-1"]);
    let s = t.wait_screen("redis-1 to disappear", LIVE, |s| !has_row(s, "redis-1"));
    assert!(
        has_row(&s, "web-1") && has_row(&s, "web-2") && has_row(&s, "web-3"),
        "{s}"
    );
    assert!(
        !s.lines().next().unwrap().contains("redis:"),
        "redis still counted:\n{s}"
    );

    // A key outside the prefix is not a member.
    f.etcd.ctl(&["put", "/other/db/db-1", "10.9.9.9:5432"]);
    f.etcd.ctl(&["put", "/services/web/web-4", "10.0.0.4:80"]);
    let s = t.wait_screen("web-4 to appear", LIVE, |s| has_row(s, "web-4"));
    assert!(
        !s.contains("db-1"),
        "a key outside the prefix is shown:\n{s}"
    );
}

#[test]
fn filter_narrows_rows_and_escape_clears_it() {
    let f = fleet("");
    let t = f.console(&[]);
    t.send(&["/"]);
    t.type_text("web-1");
    t.wait_text("/web-1");
    t.send(&["Enter"]);
    let s = t.wait_screen("only web-1 left", SOON, |s| {
        has_row(s, "web-1") && !has_row(s, "web-2") && !has_row(s, "redis-1")
    });
    let title = s.lines().next().unwrap();
    assert!(
        title.contains("1/3"),
        "title should say 1 of 3 shown: {title}"
    );
    assert!(
        title.contains("/web-1/"),
        "title should show the filter: {title}"
    );

    // Keys still work on the filtered list: the detail opens on the only visible member.
    t.send(&["Enter"]);
    t.wait_text("/services/web/web-1");
    t.escape();
    t.wait_gone("Member detail");

    t.escape();
    let s = t.wait_screen("all members back", SOON, |s| {
        has_row(s, "web-1") && has_row(s, "web-2") && has_row(s, "redis-1")
    });
    assert!(
        !s.lines().next().unwrap().contains("/web-1/"),
        "filter still shown:\n{s}"
    );

    // A filter matching nothing says so instead of showing an empty table.
    t.send(&["/"]);
    t.type_text("nomatch");
    t.send(&["Enter"]);
    t.wait_text("no member matches");
    t.escape();
    t.wait_screen("all members back", SOON, |s| {
        has_row(s, "redis-1") && has_row(s, "web-2")
    });
}

#[test]
fn deregister_asks_names_the_key_and_is_audited() {
    let f = fleet("");
    let t = f.console(&[]);
    // Sorted by role: redis-1, web-1, web-2. Down twice, up once: web-1.
    t.send(&["j"]);
    t.send(&["j"]);
    t.send(&["k"]);
    t.send(&["D"]);
    let s = t.wait_text("Deregister this member?");
    assert!(
        s.lines().any(|l| l.contains("key  /services/web/web-1 ")),
        "dialog does not name /services/web/web-1:\n{s}"
    );
    assert!(
        !s.contains("/services/web/web-2") && !s.contains("/services/redis/redis-1"),
        "{s}"
    );

    t.send(&["n"]);
    t.wait_gone("Deregister this member?");
    assert!(
        f.get("/services/web/web-1").contains("10.0.0.1"),
        "cancel deleted the key"
    );
    assert!(has_row(&t.screen(), "web-1"));

    t.send(&["D"]);
    t.wait_text("key  /services/web/web-1 ");
    t.send(&["y"]);
    let deleted = wait_for(SOON, || {
        f.get("/services/web/web-1").trim().is_empty().then_some(())
    });
    assert!(
        deleted.is_some(),
        "y did not delete /services/web/web-1 from etcd"
    );
    let s = t.wait_screen("web-1 gone from the table", SOON, |s| !has_row(s, "web-1"));
    assert!(
        has_row(&s, "web-2") && has_row(&s, "redis-1"),
        "other members vanished:\n{s}"
    );
    assert!(
        f.get("/services/web/web-2").contains("10.0.0.2"),
        "web-2 deleted too"
    );

    let line = wait_for(SOON, || {
        t.audit_lines()
            .into_iter()
            .find(|l| l["action"] == "deregister" && l["result"] == "deleted")
    })
    .unwrap_or_else(|| panic!("no audit line for the deregister: {:?}", t.audit_lines()));
    assert_eq!(line["target"], "/services/web/web-1", "{line}");
    assert_eq!(line["cluster"], "test", "{line}");
    assert_eq!(line["user"], "e2e-tester", "{line}");
    assert!(
        line["time"].as_str().is_some_and(|s| !s.is_empty()),
        "{line}"
    );
    // The cancelled attempt deleted nothing, so nothing says it did.
    let deleted: Vec<_> = t
        .audit_lines()
        .into_iter()
        .filter(|l| l["result"] == "deleted")
        .collect();
    assert_eq!(deleted.len(), 1, "{deleted:?}");
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
    t.send(&["D"]);
    let s = t.wait_text("read-only");
    assert!(
        !s.contains("Deregister this member?"),
        "dialog opened in read-only mode:\n{s}"
    );
    // A stray `y` after the refusal must not confirm anything.
    t.send(&["y"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        f.get("/services/web/web-1").contains("10.0.0.1"),
        "key deleted in read-only mode"
    );
    assert!(has_row(&t.screen(), "web-1"));
    let line = wait_for(SOON, || {
        t.audit_lines()
            .into_iter()
            .find(|l| l["action"] == "deregister")
    })
    .unwrap_or_else(|| panic!("no audit line for the refused deregister"));
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

/// Bad input: the process prints one line and exits 2 without touching the terminal.
fn bad_start(args: &[&str]) -> (Tmux, String) {
    let t = Tmux::start(args);
    let code = t.wait_exit();
    let s = t.screen_joined();
    assert_eq!(code, 2, "exit status:\n{s}");
    assert_eq!(t.alternate_on(), "0");
    let raw = t.raw_output();
    let before_exit = &raw[..raw.find("EXIT=").expect("EXIT= in the pane output")];
    assert!(
        !before_exit.contains('\x1b'),
        "the program wrote escape sequences (switched the terminal) before failing: {before_exit:?}"
    );
    let lines: Vec<&str> = s
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("EXIT=") && !l.starts_with("TTY="))
        .collect();
    assert_eq!(lines.len(), 1, "expected exactly one message line:\n{s}");
    assert_cooked(s.lines().find(|l| l.starts_with("TTY=")).unwrap());
    (t, lines[0].to_string())
}

#[test]
fn bad_input_fails_with_one_line_before_the_terminal_is_touched() {
    // Unknown cluster: names the config file and the known clusters.
    let (_dir, config) = write_config(
        "http://127.0.0.1:1",
        "/services/",
        "[clusters.staging]\netcd = { endpoints = [\"http://127.0.0.1:2\"] }",
    );
    let cfg = config.to_str().unwrap();
    let (_t, msg) = bad_start(&["--cluster", "prod", "--config", cfg]);
    assert!(msg.contains(cfg), "does not name the config file: {msg}");
    assert!(
        msg.contains("\"prod\""),
        "does not name the cluster asked for: {msg}"
    );
    assert!(
        msg.contains("staging") && msg.contains("test"),
        "does not list known clusters: {msg}"
    );

    // A typo'd key: names the file, the line and the key.
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.toml");
    std::fs::write(
        &typo,
        "[clusters.test]\netcd = { endpoints = [\"http://127.0.0.1:1\"] }\nreadonyl = true\n",
    )
    .unwrap();
    let (_t, msg) = bad_start(&["--cluster", "test", "--config", typo.to_str().unwrap()]);
    assert!(
        msg.contains(typo.to_str().unwrap()),
        "does not name the file: {msg}"
    );
    assert!(msg.contains("line 3"), "does not name the line: {msg}");
    assert!(msg.contains("readonyl"), "does not name the bad key: {msg}");

    // No config at the default place ($XDG_CONFIG_HOME/opsconsole/config.toml): say where and how.
    let (t, msg) = bad_start(&["--cluster", "test"]);
    let expected = t.config_home().join("opsconsole").join("config.toml");
    assert!(
        msg.contains(expected.to_str().unwrap()),
        "does not name {}: {msg}",
        expected.display()
    );
    assert!(
        msg.contains("[clusters."),
        "does not say what to write: {msg}"
    );
    assert!(msg.contains("--config"), "does not mention --config: {msg}");
}

#[test]
fn too_small_terminal_says_so_and_recovers() {
    let f = fleet("");
    let t = f.console(&[]);
    t.tmux(&["resize-window", "-t", "t", "-x", "40", "-y", "10"]);
    let s = t.wait_text("Terminal too small");
    assert!(
        !s.contains("web-1"),
        "table still drawn when too small:\n{s}"
    );
    t.tmux(&[
        "resize-window",
        "-t",
        "t",
        "-x",
        &WIDTH.to_string(),
        "-y",
        &HEIGHT.to_string(),
    ]);
    let s = t.wait_screen("members back after resize", SOON, |s| {
        has_row(s, "web-1") && has_row(s, "web-2") && has_row(s, "redis-1")
    });
    assert!(!s.contains("Terminal too small"), "{s}");
    // Still responsive.
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

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
fn sigterm_restores_the_terminal() {
    let f = fleet("");
    let t = f.console(&[]);
    let pid = t.app_pid();
    run_ok(Command::new("kill").args(["-TERM", &pid.to_string()]));
    let code = t.wait_exit();
    let s = t.screen_joined();
    assert_eq!(code, 0, "SIGTERM should be a clean stop:\n{s}");
    t.assert_terminal_restored();
    assert!(s.contains("SIGTERM"), "no word about why it stopped:\n{s}");
}

#[test]
fn help_and_detail_popups() {
    let f = fleet("");
    let t = f.console(&[]);
    t.send(&["?"]);
    let s = t.wait_text("active bindings");
    // The status bar (last line) names deregister too; it must be in the popup itself.
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .any(|l| l.contains("  D ") && l.contains("deregister")),
        "help does not list D = deregister:\n{s}"
    );
    t.escape();
    let s = t.wait_gone("active bindings");
    assert!(has_row(&s, "web-1"));

    // web-1 is second (redis-1 first).
    t.send(&["j"]);
    t.send(&["Enter"]);
    let s = t.wait_text("Member detail");
    assert!(
        s.contains("/services/web/web-1"),
        "detail not about web-1:\n{s}"
    );
    // Pretty-printed: one field per line, indented.
    let inner: Vec<&str> = s
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '│' || c.is_whitespace()))
        .collect();
    for field in [
        "{",
        r#""addr": "10.0.0.1","#,
        r#""port": 80,"#,
        r#""version": "1.4.2""#,
        "}",
    ] {
        assert!(inner.contains(&field), "{field} not on its own line:\n{s}");
    }
    let open = inner.iter().position(|l| *l == "{").unwrap();
    let addr = inner
        .iter()
        .position(|l| l.starts_with(r#""addr""#))
        .unwrap();
    assert!(addr > open, "value not under its opening brace:\n{s}");
    t.escape();
    t.wait_gone("Member detail");
}

#[test]
fn unreachable_etcd_shows_retry_and_quits_cleanly() {
    let port = free_port();
    let (_dir, config) = write_config(&format!("http://127.0.0.1:{port}"), "/services/", "");
    let t = Tmux::start(&["--cluster", "test", "--config", config.to_str().unwrap()]);
    let s = t.wait_screen("the retry state", Duration::from_secs(10), |s| {
        s.contains("cannot reach etcd") && s.contains("retry")
    });
    assert!(s.contains("Members"), "{s}");
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0, "{}", t.screen());
    t.assert_terminal_restored();
}

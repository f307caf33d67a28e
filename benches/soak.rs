//! Soak: the console for an hour (or `--minutes N`) against a real local stack under load, to see
//! whether anything grows or dies over time. Not a test (it takes an hour) and not a criterion
//! bench: `cargo bench --bench soak -- --minutes 60` (or the built binary with `--soak`).
//!
//! The stack, on loopback ports of its own: etcd, Redis, Alertmanager. The load:
//!
//! * **members**: 1,000 registrations under `/services/` in 10 groups of 100, each group on one
//!   lease (TTL 6 s, kept alive); each group in turn, every ~3 s one of them, loses its lease —
//!   revoked (even groups) or left to expire (odd groups) — and registers again on a new lease a
//!   few seconds later; meanwhile 20 values a second are rewritten;
//! * **logs**: 2,000 lines a second `PUBLISH`ed to the Redis channel the console subscribes to
//!   (JSON, as the rsyslog template of STACK.md writes them); a line counts as sent when Redis
//!   says it reached a subscriber;
//! * **checks**: 20 alerts in Alertmanager, half of them flipping between firing and resolved every
//!   3 s;
//! * **silences**: every minute one created (ending 30 s later, so it expires by itself);
//! * **keys**: one every 100 ms (moving the cursor and the focus between the panes).
//!
//! The console runs in a child process (this binary again), with the app's own `Core` (the real
//! sources, reducer, routing, audit gate) and frames drawn at the app's pace into /dev/null. Its
//! RSS is sampled every 10 s; after a warm-up (the first 10 minutes, or the first quarter of a
//! shorter run) a least-squares line through the samples gives the slope in MB/hour. At the end
//! the load stops and the child is asked for: a source whose task died (`Failed("internal
//! error")`), its members against `etcdctl get --prefix` (key, value, mod revision), and its
//! log counters (received = buffered + dropped, received = sent).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;

use opsconsole::config::Config;
use opsconsole::core::{Core, Effect, Event, Settings};
use opsconsole::model::{Health, Msg, SourceKind};

const PREFIX: &str = "/services/";
const GROUPS: usize = 10;
const PER_GROUP: usize = 100;
const LOG_RATE: u64 = 2_000;
const CHANNEL: &str = "syslog";
const ALERTS: usize = 20;
const SAMPLE: Duration = Duration::from_secs(10);
const KEY_EVERY: Duration = Duration::from_millis(100);
/// The keys pressed in turn: moving around, never opening a dialog.
const KEYS: [&str; 12] = [
    "j", "j", "k", "tab", "j", "k", "tab", "j", "k", "tab", "j", "tab",
];
const SIZE: Rect = Rect {
    x: 0,
    y: 0,
    width: 200,
    height: 60,
};

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[path = "common/counting.rs"]
mod counting;

/// Heap in use, in KiB: with RSS it tells live growth (a leak) from memory freed but kept by the
/// allocator (fragmentation).
fn heap_in_use_kb() -> u64 {
    counting::heap_in_use() / 1024
}

// ------------------------------------------------------------------------------ the stack

/// A server process of the stack; killed on drop.
struct Server {
    name: &'static str,
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child is killed when this process dies, however it dies (an interrupted soak must not
/// leave an etcd behind).
fn die_with_parent(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt as _;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

fn spawn(name: &'static str, cmd: &mut Command) -> Server {
    let child = die_with_parent(cmd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("starting {name} ({e}); see ../shared/STACK.md for the packages")
        });
    Server { name, child }
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} did not become ready in 60 s");
}

struct Stack {
    _dir: tempfile::TempDir,
    etcd: String,
    redis: String,
    alertmanager: String,
    servers: Vec<Server>,
}

impl Stack {
    fn start() -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let (c, p, r, a) = (free_port(), free_port(), free_port(), free_port());
        let cu = format!("http://127.0.0.1:{c}");
        let pu = format!("http://127.0.0.1:{p}");
        let mut servers = vec![spawn(
            "etcd",
            Command::new("etcd")
                .args(["--name", "soak", "--data-dir"])
                .arg(d.join("etcd"))
                .args(["--listen-client-urls", &cu, "--advertise-client-urls", &cu])
                .args([
                    "--listen-peer-urls",
                    &pu,
                    "--initial-advertise-peer-urls",
                    &pu,
                ])
                .args(["--initial-cluster", &format!("soak={pu}")])
                // An hour of churn: etcd keeps every revision unless compacted, as in production.
                .args([
                    "--auto-compaction-mode=periodic",
                    "--auto-compaction-retention=5m",
                ])
                .args(["--logger=zap", "--log-outputs=stderr", "--log-level=error"]),
        )];
        servers.push(spawn(
            "redis-server",
            Command::new("redis-server").args([
                "--port",
                &r.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]),
        ));
        let am_yml = d.join("am.yml");
        std::fs::write(
            &am_yml,
            "route:\n  receiver: \"null\"\nreceivers:\n- name: \"null\"\n",
        )
        .expect("write am.yml");
        servers.push(spawn(
            "prometheus-alertmanager",
            Command::new("prometheus-alertmanager")
                .arg(format!("--config.file={}", am_yml.display()))
                .arg(format!("--storage.path={}", d.join("am").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{a}"))
                .arg("--cluster.listen-address="),
        ));
        let stack = Stack {
            _dir: dir,
            etcd: cu,
            redis: format!("redis://127.0.0.1:{r}"),
            alertmanager: format!("http://127.0.0.1:{a}"),
            servers,
        };
        let port_open = |port: u16| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        wait_for("etcd", || port_open(c));
        wait_for("redis", || port_open(r));
        wait_for("alertmanager", || port_open(a));
        stack
    }

    fn exited(&mut self) -> Vec<&'static str> {
        self.servers
            .iter_mut()
            .filter_map(|s| (!matches!(s.child.try_wait(), Ok(None))).then_some(s))
            .map(|s| s.name)
            .collect()
    }
}

// ------------------------------------------------------------------------------ the load

#[derive(Default)]
struct Counters {
    sent_lines: AtomicU64,
    unheard_lines: AtomicU64,
    /// Lines in a pipeline whose answer was an error: Redis may have published them or not.
    uncertain_lines: AtomicU64,
    churns: AtomicU64,
    puts: AtomicU64,
    flaps: AtomicU64,
    silences: AtomicU64,
    /// Load-generator requests that failed, by kind: etcd (churn), Redis (firehose), Alertmanager.
    etcd_errors: AtomicU64,
    redis_errors: AtomicU64,
    am_errors: AtomicU64,
}

fn member_key(group: usize, i: usize) -> String {
    format!("{PREFIX}g{group}/g{group}-{i}")
}

fn member_value(group: usize, i: usize, version: u64) -> String {
    format!(
        r#"{{"addr":"10.20.{group}.{i}","port":8080,"version":"1.{version}","started_at":"2026-12-01T00:00:00Z"}}"#
    )
}

/// One group's life: register on a lease, keep it alive while rewriting a few values, lose it
/// (revoked or expired), register again.
async fn churn_group(endpoint: String, group: usize, stop: Arc<AtomicBool>, n: Arc<Counters>) {
    let mut client = loop {
        match etcd_client::Client::connect([endpoint.as_str()], None).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    let mut version = 0u64;
    // Staggered: one group loses its lease every ~3 s.
    tokio::time::sleep(Duration::from_millis(group as u64 * 3_000)).await;
    while !stop.load(Ordering::Relaxed) {
        let result: Result<(), etcd_client::Error> = async {
            let lease = client.lease_grant(6, None).await?.id();
            for i in 0..PER_GROUP {
                let opts = etcd_client::PutOptions::new().with_lease(lease);
                client
                    .put(
                        member_key(group, i),
                        member_value(group, i, version),
                        Some(opts),
                    )
                    .await?;
                n.puts.fetch_add(1, Ordering::Relaxed);
            }
            let (mut keeper, mut answers) = client.lease_keep_alive(lease).await?;
            // Alive for ~30 s: a keep-alive every 2 s, two values rewritten each time.
            for tick in 0..15u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                keeper.keep_alive().await?;
                let _ = answers.message().await?;
                version += 1;
                for j in 0..2 {
                    let i = ((tick * 37 + j * 53) as usize + group) % PER_GROUP;
                    let opts = etcd_client::PutOptions::new().with_lease(lease);
                    client
                        .put(
                            member_key(group, i),
                            member_value(group, i, version),
                            Some(opts),
                        )
                        .await?;
                    n.puts.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            drop(keeper);
            if group.is_multiple_of(2) {
                client.lease_revoke(lease).await?;
            } else {
                // Left to expire: TTL 6 s after the last keep-alive.
                tokio::time::sleep(Duration::from_secs(8)).await;
            }
            n.churns.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
        .await;
        if result.is_err() {
            n.etcd_errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    // The load is over: the group registers once more on a lease that outlives the comparison,
    // so the final membership is 1,000 members rather than whatever expired last.
    let last: Result<(), etcd_client::Error> = async {
        let lease = client.lease_grant(3_600, None).await?.id();
        for i in 0..PER_GROUP {
            let opts = etcd_client::PutOptions::new().with_lease(lease);
            client
                .put(
                    member_key(group, i),
                    member_value(group, i, version + 1),
                    Some(opts),
                )
                .await?;
        }
        Ok(())
    }
    .await;
    if last.is_err() {
        n.etcd_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// 2,000 lines a second, in batches of 20 every 10 ms, counted when Redis delivered them.
async fn firehose(url: String, stop: Arc<AtomicBool>, n: Arc<Counters>) {
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut con = loop {
        match client.get_multiplexed_async_connection().await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    };
    let start = tokio::time::Instant::now();
    let mut published = 0u64;
    let mut iv = tokio::time::interval(Duration::from_millis(10));
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.load(Ordering::Relaxed) {
        iv.tick().await;
        // Paced by the clock, not the ticks: a late tick publishes what is due.
        let due = (start.elapsed().as_secs_f64() * LOG_RATE as f64) as u64;
        if due <= published {
            continue;
        }
        let mut pipe = redis::pipe();
        let batch = (due - published).min(500);
        let now = Utc::now().to_rfc3339();
        for k in 0..batch {
            let seq = published + k;
            let host = format!("g{}-{}", seq % GROUPS as u64, seq % PER_GROUP as u64);
            let line = serde_json::json!({
                "timestamp": now,
                "host": host,
                "program": "soak",
                "severity": if seq.is_multiple_of(50) { "err" } else { "info" },
                "message": format!("soak line {seq} request served in {} ms", seq % 97),
            });
            pipe.cmd("PUBLISH").arg(CHANNEL).arg(line.to_string());
        }
        match pipe.query_async::<Vec<i64>>(&mut con).await {
            Ok(receivers) => {
                let heard = receivers.iter().filter(|&&r| r > 0).count() as u64;
                n.sent_lines.fetch_add(heard, Ordering::Relaxed);
                n.unheard_lines.fetch_add(batch - heard, Ordering::Relaxed);
            }
            Err(_) => {
                n.redis_errors.fetch_add(1, Ordering::Relaxed);
                n.uncertain_lines.fetch_add(batch, Ordering::Relaxed);
            }
        }
        published += batch;
    }
}

/// Half of the alerts flip every 3 s; a silence every minute, ending 30 s later.
async fn alerts(url: String, stop: Arc<AtomicBool>, n: Arc<Counters>) {
    let http = reqwest::Client::new();
    let mut round = 0u64;
    let mut last_silence: Option<tokio::time::Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        let now = Utc::now();
        let body: Vec<serde_json::Value> = (0..ALERTS)
            .map(|i| {
                let firing = i.is_multiple_of(2) || (round + i as u64 / 2).is_multiple_of(2);
                let ends = if firing {
                    now + chrono::Duration::minutes(5)
                } else {
                    now
                };
                serde_json::json!({
                    "labels": {"alertname": format!("Soak{i}"), "instance": format!("g{}-{}", i % GROUPS, i), "severity": if i % 3 == 0 { "critical" } else { "warning" }},
                    "annotations": {"summary": format!("soak alert {i}")},
                    "startsAt": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                    "endsAt": ends.to_rfc3339(),
                })
            })
            .collect();
        match http
            .post(format!("{url}/api/v2/alerts"))
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                n.flaps.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                n.am_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        if last_silence.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
            last_silence = Some(tokio::time::Instant::now());
            let silence = serde_json::json!({
                "matchers": [{"name": "alertname", "value": format!("Soak{}", round % ALERTS as u64), "isRegex": false, "isEqual": true}],
                "startsAt": now.to_rfc3339(),
                "endsAt": (now + chrono::Duration::seconds(30)).to_rfc3339(),
                "createdBy": "soak",
                "comment": "soak: expires by itself in 30 s",
            });
            match http
                .post(format!("{url}/api/v2/silences"))
                .json(&silence)
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => {
                    n.silences.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    n.am_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        round += 1;
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

// ------------------------------------------------------------------------------ the console

fn key(name: &str) -> KeyEvent {
    match name {
        "tab" => KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE),
        c => KeyEvent::new(
            KeyCode::Char(c.chars().next().unwrap_or('j')),
            KeyModifiers::NONE,
        ),
    }
}

/// The child: the app's core on the stack, drawn as the app draws it, answering the parent's
/// requests on stdin (`SAMPLE`, `REPORT`) with one line each on stdout.
fn console_child(config_text: String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("config.toml");
        let config = Config::parse(&config_text, &config_path).expect("soak config");
        let profile = config.cluster("soak").expect("cluster soak");
        let settings = Settings::for_profile(profile, dir.path().join("audit.log"), "soak");
        let (tx, mut rx) = mpsc::channel::<Msg>(1024);
        let mut core = Core::start(&settings, tx).expect("the console starts");
        let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for l in std::io::stdin().lock().lines() {
                let Ok(l) = l else { break };
                if line_tx.send(l).is_err() {
                    break;
                }
            }
        });
        let theme = opsconsole::theme::Theme::resolve(None, None, false).expect("theme");
        let keymap = opsconsole::keymap::Keymap::resolve(None).expect("keymap");
        let out = std::io::BufWriter::new(std::fs::File::create("/dev/null").expect("/dev/null"));
        let mut terminal = Terminal::with_options(
            CrosstermBackend::new(out),
            TerminalOptions {
                viewport: Viewport::Fixed(SIZE),
            },
        )
        .expect("terminal");
        let mut trimmer = opsconsole::memory::Trimmer::new();
        let mut keys = tokio::time::interval(KEY_EVERY);
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        let mut pressed = 0usize;
        let mut dirty = true;
        let mut urgent = false;
        let mut last_draw = tokio::time::Instant::now() - opsconsole::app::BACKGROUND_FRAME;
        let mut frames = 0u64;
        let mut stdout = std::io::stdout();
        loop {
            let pace = if urgent {
                opsconsole::app::FRAME
            } else {
                opsconsole::app::BACKGROUND_FRAME
            };
            if dirty && last_draw.elapsed() >= pace {
                let mut effects = core.handle(Event::Tick(Utc::now()));
                let v = opsconsole::ui::layout::viewports(SIZE, &core.state);
                effects.extend(core.handle(Event::Layout(v)));
                terminal
                    .draw(|f| opsconsole::ui::draw(f, &core.state, &theme, &keymap))
                    .expect("draw into /dev/null");
                effects.extend(core.handle(Event::FrameDrawn {
                    at: std::time::Instant::now(),
                    popups_visible: true,
                }));
                let mut trim = false;
                for e in effects {
                    if let Effect::Listed(n) = e {
                        trimmer.note(n);
                        trim |= trimmer.due(std::time::Instant::now());
                    }
                }
                if trim {
                    opsconsole::memory::release_free_memory();
                }
                frames += 1;
                dirty = false;
                urgent = false;
                last_draw = tokio::time::Instant::now();
            }
            let next_frame = last_draw + pace;
            tokio::select! {
                biased;
                line = lines.recv() => {
                    let Some(line) = line else { break };
                    let s = &core.state;
                    let died: Vec<String> = s
                        .health
                        .iter()
                        .filter(|(_, h)| **h == Health::Failed(opsconsole::sources::supervise::INTERNAL_ERROR.into()))
                        .map(|(id, _)| format!("{id:?}"))
                        .collect();
                    let health: Vec<String> = [SourceKind::Etcd, SourceKind::Checks, SourceKind::Logs]
                        .iter()
                        .map(|k| format!("{k:?}={:?}", s.health_of(*k)))
                        .collect();
                    let mut report = serde_json::json!({
                        "rss_kb": rss_kb(std::process::id()),
                        "heap_in_use_kb": heap_in_use_kb(),
                        "members": s.members.len(),
                        "revision": s.members.revision,
                        "logs_received": s.logs.received,
                        "logs_buffered": s.logs.len(),
                        "logs_dropped": s.logs.dropped,
                        "frames": frames,
                        "keys": pressed,
                        "died": died,
                        "health": health,
                    });
                    if line == "REPORT" {
                        let members: Vec<(String, String, i64)> = s
                            .members
                            .all()
                            .map(|m| {
                                (
                                    String::from_utf8_lossy(m.key()).into_owned(),
                                    String::from_utf8_lossy(m.value()).into_owned(),
                                    m.mod_revision,
                                )
                            })
                            .collect();
                        report["member_list"] = serde_json::json!(members);
                    }
                    let _ = writeln!(stdout, "{report}");
                    let _ = stdout.flush();
                }
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    let mut next = Some(msg);
                    let mut n = 0;
                    while let Some(m) = next.take() {
                        for e in core.handle(Event::Msg(m)) {
                            match e {
                                Effect::DrawNow => urgent = true,
                                Effect::Listed(n) => trimmer.note(n),
                                _ => {}
                            }
                        }
                        n += 1;
                        if n < 4096 {
                            next = rx.try_recv().ok();
                        }
                    }
                    dirty = true;
                }
                _ = keys.tick() => {
                    let k = key(KEYS[pressed % KEYS.len()]);
                    pressed += 1;
                    // A key is drawn at the urgent pace, as the app does for the user.
                    let _ = core.handle(Event::Key { key: k, at: std::time::Instant::now() });
                    dirty = true;
                    urgent = true;
                }
                _ = clock.tick() => dirty = true,
                _ = tokio::time::sleep_until(next_frame), if dirty => {}
            }
        }
    });
}

// ------------------------------------------------------------------------------ the parent

struct Console {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Console {
    fn ask(&mut self, what: &str) -> serde_json::Value {
        writeln!(self.stdin, "{what}").expect("write to the console child");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .expect("read from the console child");
        assert!(
            n > 0,
            "the console child exited: {:?}",
            self.child.try_wait()
        );
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("child said {line:?}: {e}"))
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Least squares slope of `(seconds, MB)`, in MB per hour.
fn slope_mb_per_hour(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    sxy / sxx * 3600.0
}

fn etcd_members(endpoint: &str) -> Vec<(String, String, i64)> {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            endpoint,
            "get",
            "--prefix",
            PREFIX,
            "-w",
            "json",
        ])
        .output()
        .expect("etcdctl (Debian: etcd-client)");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("etcdctl json");
    let b64 = |s: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_str().unwrap_or_default())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let mut all: Vec<(String, String, i64)> = v["kvs"]
        .as_array()
        .map(|kvs| {
            kvs.iter()
                .map(|kv| {
                    (
                        b64(&kv["key"]),
                        b64(&kv["value"]),
                        kv["mod_revision"].as_i64().unwrap_or(-1),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    all.sort();
    all
}

fn main() {
    if let Ok(config) = std::env::var("SOAK_CHILD_CONFIG") {
        console_child(config);
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench" || a == "--soak") {
        println!("soak: an hour against a real stack; run it with `cargo bench --bench soak -- --minutes 60`");
        return;
    }
    // reqwest is built without a default crypto provider; the app installs ring the same way.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let minutes: u64 = args
        .iter()
        .position(|a| a == "--minutes")
        .and_then(|i| args.get(i + 1))
        .map(|m| m.parse().expect("--minutes N"))
        .unwrap_or(60);
    let run = Duration::from_secs(minutes * 60);
    let warm_up = Duration::from_secs((minutes * 60 / 4).min(600));

    let mut stack = Stack::start();
    let config = format!(
        "[clusters.soak]\netcd = {{ endpoints = [\"{}\"], prefix = \"{PREFIX}\" }}\n\
         checks = {{ kind = \"alertmanager\", url = \"{}\", interval_secs = 2 }}\n\
         logs = {{ kind = \"redis\", url = \"{}\", channel = \"{CHANNEL}\" }}\n",
        stack.etcd, stack.alertmanager, stack.redis
    );
    let mut child = die_with_parent(&mut Command::new(
        std::env::current_exe().expect("current exe"),
    ))
    .env("SOAK_CHILD_CONFIG", &config)
    .env("XDG_STATE_HOME", stack._dir.path().join("state"))
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .expect("the console child");
    let mut console = Console {
        stdin: child.stdin.take().expect("stdin"),
        stdout: BufReader::new(child.stdout.take().expect("stdout")),
        child,
    };
    let pid = console.child.id();
    // Wait for the console's logs subscription before publishing: Pub/Sub drops what nobody hears.
    wait_for("the console's sources", || {
        let r = console.ask("SAMPLE");
        r["health"].as_array().is_some_and(|h| {
            h.iter()
                .all(|x| x.as_str().unwrap_or("").contains("Some(Live)"))
        })
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let stop = Arc::new(AtomicBool::new(false));
    let n = Arc::new(Counters::default());
    let mut load = Vec::new();
    for g in 0..GROUPS {
        load.push(rt.spawn(churn_group(stack.etcd.clone(), g, stop.clone(), n.clone())));
    }
    load.push(rt.spawn(firehose(stack.redis.clone(), stop.clone(), n.clone())));
    load.push(rt.spawn(alerts(stack.alertmanager.clone(), stop.clone(), n.clone())));

    let start = Instant::now();
    let mut samples: Vec<(f64, f64)> = Vec::new();
    let mut heap: Vec<(f64, f64)> = Vec::new();
    println!(
        "soak: {minutes} min, warm-up {} s; t_s rss_mb members logs_received logs_dropped sent_lines churns puts flaps silences errors(etcd/redis/am)",
        warm_up.as_secs()
    );
    while start.elapsed() < run {
        std::thread::sleep(SAMPLE);
        let r = console.ask("SAMPLE");
        let t = start.elapsed().as_secs_f64();
        let rss = r["rss_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0;
        samples.push((t, rss));
        heap.push((t, r["heap_in_use_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0));
        println!(
            "{t:.0} {rss:.1} heap={:.1} {} {} {} {} {} {} {} {} {}/{}/{} died={} {}",
            r["heap_in_use_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
            r["members"],
            r["logs_received"],
            r["logs_dropped"],
            n.sent_lines.load(Ordering::Relaxed),
            n.churns.load(Ordering::Relaxed),
            n.puts.load(Ordering::Relaxed),
            n.flaps.load(Ordering::Relaxed),
            n.silences.load(Ordering::Relaxed),
            n.etcd_errors.load(Ordering::Relaxed),
            n.redis_errors.load(Ordering::Relaxed),
            n.am_errors.load(Ordering::Relaxed),
            r["died"],
            stack.exited().join(",")
        );
    }

    // The load stops; the console gets time to catch up, then its state is compared.
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        for h in load {
            let _ = tokio::time::timeout(Duration::from_secs(30), h).await;
        }
    });
    let sent = n.sent_lines.load(Ordering::Relaxed);
    let uncertain = n.uncertain_lines.load(Ordering::Relaxed);
    // Members and log lines are judged apart: either may settle first.
    let mut settled = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let r = console.ask("REPORT");
        let truth = etcd_members(&stack.etcd);
        let mut mine: Vec<(String, String, i64)> = r["member_list"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        (
                            m[0].as_str().unwrap_or_default().to_string(),
                            m[1].as_str().unwrap_or_default().to_string(),
                            m[2].as_i64().unwrap_or(-1),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        mine.sort();
        let received = r["logs_received"].as_u64().unwrap_or(0);
        let logs_done = received >= sent && received <= sent + uncertain;
        let equal = mine == truth;
        let done = equal && logs_done;
        settled = Some((r, truth.len(), equal));
        if done {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let (r, etcd_count, equal) = settled.expect("at least one report");
    let warm: Vec<(f64, f64)> = samples
        .iter()
        .copied()
        .filter(|(t, _)| *t >= warm_up.as_secs_f64())
        .collect();
    let slope = slope_mb_per_hour(&warm);
    let (min, max) = warm.iter().fold((f64::MAX, f64::MIN), |(lo, hi), (_, m)| {
        (lo.min(*m), hi.max(*m))
    });
    let received = r["logs_received"].as_u64().unwrap_or(0);
    let buffered = r["logs_buffered"].as_u64().unwrap_or(0);
    let dropped = r["logs_dropped"].as_u64().unwrap_or(0);
    println!(
        "---- soak result ({minutes} min, debug={})",
        cfg!(debug_assertions)
    );
    println!(
        "rss after warm-up: {:.1}..{:.1} MB over {} samples, slope {slope:+.2} MB/hour",
        min,
        max,
        warm.len()
    );
    let heap_warm: Vec<(f64, f64)> = heap
        .iter()
        .copied()
        .filter(|(t, _)| *t >= warm_up.as_secs_f64())
        .collect();
    println!(
        "heap in use (allocated, not freed) after warm-up: {:.1}..{:.1} MB, slope {:+.2} MB/hour",
        heap_warm.iter().map(|p| p.1).fold(f64::MAX, f64::min),
        heap_warm.iter().map(|p| p.1).fold(f64::MIN, f64::max),
        slope_mb_per_hour(&heap_warm)
    );
    println!("tasks died: {}", r["died"]);
    println!("health at the end: {}", r["health"]);
    println!("stack processes exited: {:?}", stack.exited());
    println!(
        "members: console {} vs etcd {etcd_count}: {}",
        r["members"],
        if equal {
            "equal (key, value, mod_revision)"
        } else {
            "NOT EQUAL (or logs not caught up)"
        }
    );
    println!(
        "log lines: sent {sent} (delivered by Redis to a subscriber; {} published with no subscriber; {uncertain} in pipelines answered with an error, delivered or not), console received {received} = buffered {buffered} + dropped {dropped}: {}; sent <= received <= sent + uncertain: {}",
        n.unheard_lines.load(Ordering::Relaxed),
        received == buffered + dropped,
        received >= sent && received <= sent + uncertain
    );
    println!(
        "load: {} lease losses, {} puts, {} alert rounds, {} silences, load errors etcd/redis/alertmanager {}/{}/{}; {} keys, {} frames",
        n.churns.load(Ordering::Relaxed),
        n.puts.load(Ordering::Relaxed),
        n.flaps.load(Ordering::Relaxed),
        n.silences.load(Ordering::Relaxed),
        n.etcd_errors.load(Ordering::Relaxed),
        n.redis_errors.load(Ordering::Relaxed),
        n.am_errors.load(Ordering::Relaxed),
        r["keys"],
        r["frames"]
    );
    let _ = rss_kb(pid);
}

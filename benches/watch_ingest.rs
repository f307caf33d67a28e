//! Watch ingest, side by side with `etcdctl watch`: a real etcd, a writer putting 100k changes
//! (updates, creations and deletes of 20k registrations under `/services/`) while both consumers
//! are live:
//!
//! * the console, headless, in a child process of this binary: the real `EtcdSource` (on a thread
//!   of its own, as in the console) feeding
//!   `state::update` through the app's bounded channel, drained and drawn like `app::run` does (a
//!   200×60 frame at most every `BACKGROUND_FRAME` when something changed — watch events are
//!   background data, no key is pressed — and a clock tick every second), into a
//!   `CrosstermBackend` writing to /dev/null;
//! * `etcdctl watch --prefix /services/ > /dev/null`.
//!
//! Measured: each consumer's CPU time (utime + stime from /proc/PID/stat, from just before the
//! first write until both have consumed the last change), their ratio (goal ≤ 1.0×), and the time
//! from the last write's acknowledgement to the first frame drawn with the state at etcd's revision
//! (goal ≤ 1 s); the console's members are then compared key by key with a fresh listing.
//!
//! `cargo bench --bench watch_ingest` (runs `WATCH_INGEST_RUNS`, default 3, and prints medians;
//! `WATCH_INGEST_CHANGES` changes the 100k, `WATCH_INGEST_MEMBERS` the 10k registrations listed
//! before the writes, `WATCH_INGEST_KEYS` the keys written, by default the larger of 20k and the
//! members; `WATCH_INGEST_PERF=FILE` records the console child with `perf record -g` from the
//! first write until it is synced — perf's own cost then counts in the console's CPU). Without
//! `--bench` (as under `cargo test --all-targets`) it exits at once. `… -- --seed ENDPOINT N` only writes N registrations (used
//! by scripts/bench for the memory figure).

opsconsole::install_allocator!();

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::Utc;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use tokio::sync::mpsc;

use opsconsole::app::BACKGROUND_FRAME as FRAME;
use opsconsole::config::EtcdProfile;
use opsconsole::keymap::Keymap;
use opsconsole::model::Command as AppCommand;
use opsconsole::model::{ClusterId, Health, Msg, SourceKind};
use opsconsole::sources::etcd::{list_prefix, EtcdSource};
use opsconsole::sources::own_thread::OwnThread;
use opsconsole::state::{self, State};
use opsconsole::theme::Theme;

const PREFIX: &str = "/services/";
const SEED: usize = 10_000;
const KEYS: usize = 20_000;
/// Puts per seeding transaction: etcd's default `--max-txn-ops`. 100k registrations one put at a
/// time took longer than the measurement itself.
const SEED_TXN: usize = 128;
const WRITERS: usize = 64;
const DRAIN_LIMIT: usize = 4096;
const ROLES: [&str; 8] = [
    "api", "cache", "db", "gateway", "queue", "search", "web", "worker",
];

fn unix_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

fn key(k: usize) -> String {
    let role = ROLES[k % ROLES.len()];
    format!("{PREFIX}{role}/{role}-{k}")
}

fn value(k: usize, change: usize) -> String {
    format!(
        r#"{{"addr":"10.{}.{}.{}","port":8080,"version":"1.{}.{change}","started_at":"2026-11-25T12:00:00Z"}}"#,
        (k >> 16) & 255,
        (k >> 8) & 255,
        k & 255,
        k % 7
    )
}

// ------------------------------------------------------------------------------------------ etcd

#[path = "common/ports.rs"]
mod ports;
use ports::free_port;

struct Etcd {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Etcd {
    fn start() -> Etcd {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, p) = (free_port(), free_port());
        let cu = format!("http://127.0.0.1:{c}");
        let pu = format!("http://127.0.0.1:{p}");
        let child = Command::new("etcd")
            .args(["--name", "bench", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &cu, "--advertise-client-urls", &cu])
            .args([
                "--listen-peer-urls",
                &pu,
                "--initial-advertise-peer-urls",
                &pu,
            ])
            .args(["--initial-cluster", &format!("bench={pu}")])
            .args(["--logger=zap", "--log-outputs=stderr", "--log-level=error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting etcd (Debian: apt-get install etcd-server etcd-client)");
        let e = Etcd {
            child,
            endpoint: cu,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ok = etcdctl(&e.endpoint)
                .args(["endpoint", "health"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return e;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("etcd did not become healthy in 30 s");
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn etcdctl(endpoint: &str) -> Command {
    let mut c = Command::new("etcdctl");
    c.env("ETCDCTL_API", "3").args(["--endpoints", endpoint]);
    c
}

// ------------------------------------------------------------------------------------ the writer

/// Puts `changes` changes over `keys` keys from `WRITERS` concurrent tasks; each key belongs to one
/// task, so its changes stay in order. Change `c` of key `k`: a put, except the fourth change of
/// every even key, which deletes it (the fifth puts it back). Returns (revision, last ack time).
async fn write_changes(endpoint: &str, changes: usize, keys: usize, seeded: usize) -> (i64, i64) {
    let client = etcd_client::Client::connect([endpoint], None)
        .await
        .expect("writer connects");
    let mut per_task: Vec<Vec<(usize, usize)>> = vec![Vec::new(); WRITERS];
    for i in 0..changes {
        let k = i % keys;
        let c = i / keys + usize::from(k < seeded);
        per_task[k % WRITERS].push((k, c));
    }
    let last_ack = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let tasks: Vec<_> = per_task
        .into_iter()
        .map(|work| {
            let mut kv = client.kv_client();
            let last_ack = last_ack.clone();
            tokio::spawn(async move {
                for (k, c) in work {
                    if c == 3 && k % 2 == 0 {
                        kv.delete(key(k), None).await.expect("delete");
                    } else {
                        kv.put(key(k), value(k, c), None).await.expect("put");
                    }
                    last_ack.fetch_max(unix_us(), std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer task");
    }
    let mut kv = client.kv_client();
    let rev = kv
        .get(PREFIX, None)
        .await
        .expect("revision")
        .header()
        .map(|h| h.revision())
        .unwrap_or(0);
    (rev, last_ack.load(std::sync::atomic::Ordering::Relaxed))
}

async fn seed(endpoint: &str, n: usize) {
    let client = etcd_client::Client::connect([endpoint], None)
        .await
        .expect("seeder connects");
    let batches = n.div_ceil(SEED_TXN);
    let tasks: Vec<_> = (0..WRITERS)
        .map(|t| {
            let mut kv = client.kv_client();
            tokio::spawn(async move {
                for b in (t..batches).step_by(WRITERS) {
                    let ops: Vec<etcd_client::TxnOp> = (b * SEED_TXN..((b + 1) * SEED_TXN).min(n))
                        .map(|k| etcd_client::TxnOp::put(key(k), value(k, 0), None))
                        .collect();
                    kv.txn(etcd_client::Txn::new().and_then(ops))
                        .await
                        .expect("txn");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("seed task");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

// --------------------------------------------------------------------------- CPU from /proc/PID

/// utime + stime of a process, in milliseconds.
fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 1000.0 / clock_ticks() as f64)
}

/// This thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`; libc is linked by std anyway), so the
/// child's split between `update` and drawing does not count time spent waiting for a core.
fn thread_cpu() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec (64-bit Linux layout); the call only writes it.
    let rc = unsafe { clock_gettime(3, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

// --------------------------------------------------------------------- the console (child mode)

/// The console without a terminal: the app's loop over the real etcd source.
fn console_child(endpoint: String) {
    let rt = runtime();
    rt.block_on(async move {
        let profile = EtcdProfile {
            endpoints: vec![endpoint.clone()],
            prefix: PREFIX.into(),
            tls: None,
            user: None,
            password: None,
            connect_timeout: Duration::from_secs(5),
            keepalive: Duration::from_secs(10),
        };
        let (msg_tx, mut msg_rx) = mpsc::channel::<Msg>(1024);
        let (cmd_tx, cmd_rx) = mpsc::channel::<AppCommand>(256);
        // On a thread of its own, as the console runs its etcd sources (`sources::own_thread`).
        let etcd_thread = OwnThread::start("etcd").expect("the etcd sources' thread");
        etcd_thread.spawn(EtcdSource::new(profile, msg_tx, cmd_rx).run());
        let (line_tx, mut lines) = mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for l in std::io::stdin().lock().lines() {
                let Ok(l) = l else { break };
                if line_tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut state = State::new("bench", PREFIX, "bench", Utc::now());
        for id in [
            SourceKind::Checks.of(ClusterId(0)),
            SourceKind::Metrics.of(ClusterId(0)),
            SourceKind::Logs.of(ClusterId(0)),
        ] {
            state.health.insert(id, Health::NotConfigured);
        }
        let theme = Theme::resolve(None, None, false).expect("theme");
        let keymap = Keymap::resolve(None).expect("keymap");
        let out = std::io::LineWriter::new(std::fs::File::create("/dev/null").unwrap());
        let mut terminal = Terminal::with_options(
            CrosstermBackend::new(out),
            TerminalOptions {
                viewport: Viewport::Fixed(Rect::new(0, 0, 200, 60)),
            },
        )
        .expect("terminal");
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut dirty = true;
        let mut last_draw = tokio::time::Instant::now() - FRAME;
        let (mut ready, mut target, mut synced) = (false, None::<i64>, false);
        let (mut update_time, mut draw_time, mut draws, mut msgs) =
            (Duration::ZERO, Duration::ZERO, 0u64, 0u64);
        let mut stdout = std::io::stdout();
        loop {
            if dirty && last_draw.elapsed() >= FRAME {
                let t = thread_cpu();
                let mut cmds = state::tick(&mut state, Utc::now());
                let viewports = opsconsole::ui::layout::viewports(Rect::new(0, 0, 200, 60), &state);
                if viewports != state.viewports {
                    cmds.extend(state::set_viewports(&mut state, viewports));
                }
                for c in cmds {
                    let _ = cmd_tx.try_send(c);
                }
                terminal
                    .draw(|f| opsconsole::ui::draw(f, &state, &theme, &keymap))
                    .expect("draw");
                draw_time += thread_cpu() - t;
                draws += 1;
                dirty = false;
                last_draw = tokio::time::Instant::now();
                let live = state.health_of(SourceKind::Etcd) == Some(&Health::Live);
                if !ready && live && state.members.synced {
                    ready = true;
                    writeln!(stdout, "READY {}", state.members.len()).unwrap();
                    // Counters start with the measurement.
                    (update_time, draw_time, draws, msgs) = (Duration::ZERO, Duration::ZERO, 0, 0);
                }
                if let Some(rev) = target {
                    if !synced && state.members.revision >= rev {
                        synced = true;
                        writeln!(
                            stdout,
                            "SYNCED {} {} {} {:.1} {:.1} {draws} {msgs}",
                            unix_us(),
                            state.members.revision,
                            state.members.len(),
                            update_time.as_secs_f64() * 1e3,
                            draw_time.as_secs_f64() * 1e3,
                        )
                        .unwrap();
                    }
                }
            }
            let next_frame = last_draw + FRAME;
            tokio::select! {
                biased;
                line = lines.recv() => {
                    let Some(line) = line else { break };
                    let words: Vec<&str> = line.split_whitespace().collect();
                    match words.as_slice() {
                        ["TARGET", rev] => {
                            target = rev.parse().ok();
                            dirty = true;
                        }
                        ["VERIFY"] => {
                            let report = verify(&endpoint, &state).await;
                            writeln!(stdout, "VERIFY {report}").unwrap();
                        }
                        _ => {}
                    }
                }
                msg = msg_rx.recv() => {
                    let Some(msg) = msg else { break };
                    let t = thread_cpu();
                    let mut next = Some(msg);
                    let mut n = 0;
                    while let Some(m) = next.take() {
                        for c in state::update(&mut state, m) {
                            let _ = cmd_tx.try_send(c);
                        }
                        n += 1;
                        if n < DRAIN_LIMIT {
                            next = msg_rx.try_recv().ok();
                        }
                    }
                    msgs += n as u64;
                    update_time += thread_cpu() - t;
                    dirty = true;
                }
                _ = clock.tick() => dirty = true,
                _ = tokio::time::sleep_until(next_frame), if dirty => {}
            }
        }
    });
}

/// The console's members against a fresh listing: same keys at the same mod revisions.
async fn verify(endpoint: &str, state: &State) -> String {
    let client = match etcd_client::Client::connect([endpoint], None).await {
        Ok(c) => c,
        Err(e) => return format!("error connecting: {e}"),
    };
    let (rev, entries) = match list_prefix(&client, PREFIX).await {
        Ok(x) => x,
        Err(e) => return format!("error listing: {e}"),
    };
    let mut wrong = 0;
    for e in &entries {
        match state.members.get(&e.key) {
            Some(m) if m.mod_revision == e.mod_revision && m.value() == &e.value[..] => {}
            _ => wrong += 1,
        }
    }
    if wrong == 0 && entries.len() == state.members.len() {
        format!("ok {} keys at revision {rev}", entries.len())
    } else {
        format!(
            "MISMATCH etcd {} keys at {rev}, console {} keys at {}, {wrong} differ",
            entries.len(),
            state.members.len(),
            state.members.revision
        )
    }
}

// -------------------------------------------------------------------------------- the parent

struct Console {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Console {
    fn start(endpoint: &str) -> Console {
        let mut child = Command::new(std::env::current_exe().expect("current exe"))
            .env("WATCH_INGEST_CHILD", endpoint)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the console child");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Console {
            child,
            stdin,
            stdout,
        }
    }

    /// The next line starting with `word`, split into words (after the word).
    fn expect(&mut self, word: &str) -> Vec<String> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).expect("reading the child");
            assert!(n > 0, "console child exited while waiting for {word}");
            let mut w = line.split_whitespace().map(str::to_string);
            if w.next().as_deref() == Some(word) {
                return w.collect();
            }
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("writing to the child");
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Run {
    console_ms: f64,
    etcdctl_ms: f64,
    sync_ms: f64,
    write_s: f64,
    update_ms: f64,
    draw_ms: f64,
    draws: u64,
    verify: String,
}

/// Waits until `pid` has used no CPU for `quiet`; returns its CPU time then.
fn settle(pid: u32, quiet: Duration, timeout: Duration) -> f64 {
    let deadline = Instant::now() + timeout;
    let mut last = cpu_ms(pid).unwrap_or(0.0);
    let mut since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let now = cpu_ms(pid).unwrap_or(last);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            break;
        }
    }
    last
}

struct Size {
    changes: usize,
    members: usize,
    keys: usize,
}

fn one_run(size: &Size) -> Run {
    let etcd = Etcd::start();
    let rt = runtime();
    rt.block_on(seed(&etcd.endpoint, size.members));

    let mut console = Console::start(&etcd.endpoint);
    let n: usize = console.expect("READY")[0].parse().unwrap();
    assert_eq!(n, size.members, "console listed the seeded keys");
    let mut watch = etcdctl(&etcd.endpoint)
        .args(["watch", "--prefix", PREFIX])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting etcdctl watch");
    // Both consumers connected and idle.
    std::thread::sleep(Duration::from_millis(1500));
    let console_pid = console.child.id();
    let (c0, w0) = (
        cpu_ms(console_pid).unwrap(),
        cpu_ms(watch.id()).expect("etcdctl is running"),
    );

    let perf = std::env::var("WATCH_INGEST_PERF").ok().map(|file| {
        let p = Command::new("perf")
            .args(["record", "-g", "-F", "997", "-o", &file, "-p"])
            .arg(console_pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting perf record");
        std::thread::sleep(Duration::from_millis(300));
        p
    });

    let t = Instant::now();
    let (rev, last_ack) = rt.block_on(write_changes(
        &etcd.endpoint,
        size.changes,
        size.keys,
        size.members,
    ));
    let write_s = t.elapsed().as_secs_f64();
    console.send(&format!("TARGET {rev}"));
    let synced = console.expect("SYNCED");
    if let Some(mut p) = perf {
        // SIGINT: perf writes its file and exits.
        let _ = Command::new("kill")
            .args(["-INT", &p.id().to_string()])
            .status();
        let _ = p.wait();
    }
    let sync_at: i64 = synced[0].parse().unwrap();
    // The watcher has consumed everything once it stops using CPU (the last write was acked).
    let w1 = settle(
        watch.id(),
        Duration::from_millis(1000),
        Duration::from_secs(120),
    );
    let c1 = cpu_ms(console_pid).unwrap();
    console.send("VERIFY");
    let verify = console.expect("VERIFY").join(" ");
    let _ = watch.kill();
    let _ = watch.wait();
    Run {
        console_ms: c1 - c0,
        etcdctl_ms: w1 - w0,
        sync_ms: (sync_at - last_ack) as f64 / 1e3,
        write_s,
        update_ms: synced[3].parse().unwrap_or(0.0),
        draw_ms: synced[4].parse().unwrap_or(0.0),
        draws: synced[5].parse().unwrap_or(0),
        verify,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    if let Ok(endpoint) = std::env::var("WATCH_INGEST_CHILD") {
        console_child(endpoint);
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--seed") {
        let endpoint = args.get(i + 1).expect("--seed ENDPOINT N");
        let n: usize = args.get(i + 2).and_then(|n| n.parse().ok()).expect("N");
        let t = Instant::now();
        runtime().block_on(seed(endpoint, n));
        println!(
            "seeded {n} registrations under {PREFIX} in {:.1?}",
            t.elapsed()
        );
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("watch_ingest: needs a real etcd; run it with `cargo bench --bench watch_ingest`");
        return;
    }
    let env_num = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let runs = env_num("WATCH_INGEST_RUNS", 3).max(1);
    let changes = env_num("WATCH_INGEST_CHANGES", 100_000);
    let members = env_num("WATCH_INGEST_MEMBERS", SEED);
    let keys = env_num("WATCH_INGEST_KEYS", KEYS.max(members)).max(1);
    let size = Size {
        changes,
        members,
        keys,
    };
    println!(
        "watch ingest: {changes} changes over {keys} keys ({members} listed first) from {WRITERS} writers; {runs} runs; etcd {}",
        etcd_version()
    );
    let mut all = Vec::new();
    for r in 1..=runs {
        let run = one_run(&size);
        println!(
            "  run {r}: console {:.0} ms CPU (update {:.0} ms, {} draws {:.0} ms), etcdctl watch {:.0} ms CPU, ratio {:.2}×; final frame {:.0} ms after the last write; writes took {:.1} s; verify: {}",
            run.console_ms,
            run.update_ms,
            run.draws,
            run.draw_ms,
            run.etcdctl_ms,
            run.console_ms / run.etcdctl_ms,
            run.sync_ms,
            run.write_s,
            run.verify
        );
        assert!(
            run.verify.starts_with("ok"),
            "console state differs from etcd: {}",
            run.verify
        );
        all.push(run);
    }
    let console = median(all.iter().map(|r| r.console_ms).collect());
    let etcdctl = median(all.iter().map(|r| r.etcdctl_ms).collect());
    let ratio = median(all.iter().map(|r| r.console_ms / r.etcdctl_ms).collect());
    let sync = median(all.iter().map(|r| r.sync_ms).collect());
    let sync_max = all.iter().map(|r| r.sync_ms).fold(f64::MIN, f64::max);
    println!(
        "  median: console {console:.0} ms CPU, etcdctl watch {etcdctl:.0} ms CPU, ratio {ratio:.2}× (goal ≤ 1.0): {}; final state {sync:.0} ms after the last write (max {sync_max:.0}; goal ≤ 1000): {}",
        if ratio <= 1.0 { "ok" } else { "OVER GOAL" },
        if sync_max <= 1000.0 { "ok" } else { "OVER GOAL" }
    );
    println!(
        "RESULT watch_ingest changes={changes} members={members} keys={keys} runs={runs} console_cpu_ms={console:.0} etcdctl_cpu_ms={etcdctl:.0} ratio={ratio:.3} sync_ms={sync:.0} sync_max_ms={sync_max:.0}"
    );
}

fn etcd_version() -> String {
    Command::new("etcd")
        .arg("--version")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines().next().unwrap_or("").to_string()
        })
        .unwrap_or_default()
}

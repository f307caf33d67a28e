//! Initial sync against a real etcd: time to first full frame with 100,000 members (or
//! `INITIAL_SYNC_MEMBERS`, e.g. 1000000), compared with `etcdctl get --prefix /services/ -w json >
//! /dev/null` on the same data (and `-w protobuf`, the floor: etcd's work and the transfer), and the
//! time to the first rows of the streamed listing (`Msg::MembersProgress` with rows).
//!
//! The keys are written in 128-put transactions from 16 concurrent tasks (1,000,000 in a few
//! minutes here). `INITIAL_SYNC_ENDPOINT=http://127.0.0.1:PORT` uses an etcd that already holds
//! them (same names and values) instead of starting and filling one.
//!
//! `cargo bench --bench initial_sync` starts etcd (`/usr/bin/etcd`, Debian `etcd-server`) on free
//! loopback ports in a temp dir, registers 100,000 members `/services/<role>/<name>` with ~100-byte
//! JSON values from 64 concurrent tasks, then runs each path 1 + 5 times (interleaved, the first run
//! of each is a warm-up) and prints the medians as a markdown table. Figures are kept in BENCHMARKS.md.
//!
//! Under `cargo test --all-targets` this target is run without `--bench` and returns at once.

opsconsole::install_allocator!();

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use opsconsole::config::EtcdProfile;
use opsconsole::keymap::Keymap;
use opsconsole::model::{default_order, ClusterId, Listing, Member, Msg};
use opsconsole::sources::etcd::{connect, list_prefix_parts, ListProgress};
use opsconsole::state::{update, State};
use opsconsole::theme::Theme;
use opsconsole::ui;

#[path = "common/etcd.rs"]
mod etcd;
use etcd::{profile, register, vm_rss_kb, Etcd, PREFIX, WRITERS};

const RUNS: usize = 5;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("initial_sync: skipped (registers 100,000 keys in a real etcd; run `cargo bench --bench initial_sync`)");
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let members = members();
    let etcd = match std::env::var("INITIAL_SYNC_ENDPOINT") {
        Ok(endpoint) => Etcd::existing(endpoint),
        Err(_) => Etcd::start(),
    };
    println!("etcd on {}", etcd.endpoint());

    let t = Instant::now();
    if etcd.child.is_some() {
        rt.block_on(register(&etcd.endpoint(), 0..members));
    }
    let registered = t.elapsed();
    let count = etcd.ctl(&[
        "get",
        "--prefix",
        PREFIX,
        "--keys-only",
        "--limit",
        "1",
        "-w",
        "json",
    ]);
    assert!(
        count.contains(&format!("\"count\":{members}")),
        "expected {members} keys, etcdctl says {count}"
    );
    println!(
        "registered {members} members from {WRITERS} tasks (128 puts a transaction) in {:.1} s",
        registered.as_secs_f64()
    );

    let profile = profile(etcd.endpoint());
    let theme = Theme::resolve(None, None, false).unwrap();
    let keymap = Keymap::resolve(None).unwrap();

    let runs = std::env::var("INITIAL_SYNC_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(RUNS);
    let mut etcdctl = Vec::new();
    let mut protobuf = Vec::new();
    let mut console: Vec<Phases> = Vec::new();
    // As the etcd source keeps them across starts: the warm-up run lists cold (cut by the name's
    // first character only) and every later run cuts where the run before learned to.
    let mut cuts = Vec::new();
    let mut cold_first_rows = None;
    for run in 0..=runs {
        let a = etcdctl_get(&etcd, "json");
        // On a thread of its own, started from the runtime, as the console runs its etcd
        // sources (`sources::own_thread`; the ranges are decoded on the runtime's workers).
        let b = {
            let own = {
                let _pool = rt.enter();
                opsconsole::sources::own_thread::OwnThread::start("etcd").unwrap()
            };
            let (p, t, k, mut c) = (
                profile.clone(),
                theme.clone(),
                keymap.clone(),
                std::mem::take(&mut cuts),
            );
            let (b, c) = rt
                .block_on(own.spawn(async move {
                    let b = console_first_frame(&p, &t, &k, members, &mut c).await;
                    (b, c)
                }))
                .unwrap();
            cuts = c;
            b
        };
        cold_first_rows.get_or_insert(b.connect + b.first_rows);
        let c = etcdctl_get(&etcd, "protobuf");
        let tag = if run == 0 { " (warm-up)" } else { "" };
        println!(
            "run {run}{tag}: etcdctl json {:.0} ms, protobuf {:.0} ms, console {:.0} ms (connect {:.1}, first rows {:.0}, list {:.0}, prepare {:.0}, update {:.0}, draw {:.2})",
            ms(a),
            ms(c),
            ms(b.total()),
            ms(b.connect),
            ms(b.first_rows),
            ms(b.list),
            ms(b.prepare),
            ms(b.update),
            ms(b.draw)
        );
        println!("  resident with the state held: {:.1} MB", b.rss_mb);
        if run > 0 {
            etcdctl.push(a);
            protobuf.push(c);
            console.push(b);
        }
    }
    let first = median(console.iter().map(|p| p.connect + p.first_rows).collect());
    let cold = cold_first_rows.unwrap_or_default();

    let med = |f: &dyn Fn(&Phases) -> Duration| median(console.iter().map(f).collect());
    let ctl = median(etcdctl.clone());
    let total = med(&|p| p.total());
    println!();
    println!("{members} members, ~100-byte values, median of {runs} runs:");
    println!();
    println!("| path | median | runs (ms) |");
    println!("|---|---:|---|");
    println!(
        "| `etcdctl get --prefix {PREFIX} -w json > /dev/null` | {:.0} ms | {} |",
        ms(ctl),
        list(&etcdctl)
    );
    println!(
        "| `etcdctl get --prefix {PREFIX} -w protobuf > /dev/null` | {:.0} ms | {} |",
        ms(median(protobuf.clone())),
        list(&protobuf)
    );
    println!(
        "| console: connect → first rows of the streamed listing, first start (no learned cuts; the warm-up run) | {:.0} ms | |",
        ms(cold)
    );
    println!(
        "| console: connect → first rows of the streamed listing, cut where the start before learned | {:.0} ms | {} |",
        ms(first),
        list(
            &console
                .iter()
                .map(|p| p.connect + p.first_rows)
                .collect::<Vec<_>>()
        )
    );
    println!(
        "| console: connect + list_prefix_parts + prepare + update(MembersListed) + first ui::draw 200x60 | {:.0} ms | {} |",
        ms(total),
        list(&console.iter().map(|p| p.total()).collect::<Vec<_>>())
    );
    println!("| · `connect` | {:.1} ms | |", ms(med(&|p| p.connect)));
    println!(
        "| · `list_prefix_streamed` (a point read for the revision, then the prefix in key ranges cut at the name's first character, four at once, members built and sorted per range) | {:.0} ms | |",
        ms(med(&|p| p.list))
    );
    println!(
        "| · `Listing::prepare` (the source's, on a blocking thread: ranges merged, indexed, counted) | {:.0} ms | |",
        ms(med(&|p| p.prepare))
    );
    println!(
        "| · `state::update(MembersListed)` (the UI thread's) | {:.1} ms | |",
        ms(med(&|p| p.update))
    );
    println!(
        "| · first `ui::draw` into 200x60 TestBackend | {:.2} ms | |",
        ms(med(&|p| p.draw))
    );
    println!();
    println!(
        "console / etcdctl = {:.2} (below 1 means the console shows its first full frame sooner than etcdctl prints the listing); console / etcdctl -w protobuf = {:.2}",
        total.as_secs_f64() / ctl.as_secs_f64(),
        total.as_secs_f64() / median(protobuf).as_secs_f64()
    );
}

struct Phases {
    /// VmRSS of this process with the state held, after the first frame.
    rss_mb: f64,
    connect: Duration,
    /// From the start of the listing to its first rows (`ListProgress` with a preview).
    first_rows: Duration,
    list: Duration,
    /// The ranges merged, indexed and counted (`Listing::prepare`): the etcd source's, on a
    /// blocking thread, before it sends the listing.
    prepare: Duration,
    update: Duration,
    draw: Duration,
}

impl Phases {
    fn total(&self) -> Duration {
        self.connect + self.list + self.prepare + self.update + self.draw
    }
}

/// The console's path from nothing to the first full frame, timed phase by phase.
async fn console_first_frame(
    profile: &EtcdProfile,
    theme: &Theme,
    keymap: &Keymap,
    expected: usize,
    cuts: &mut Vec<Vec<u8>>,
) -> Phases {
    let t0 = Instant::now();
    let client = connect(profile).await.expect("connect");
    let t1 = Instant::now();
    let first_rows = std::sync::Arc::new(std::sync::OnceLock::new());
    let seen = first_rows.clone();
    // As the etcd source does it: members built and sorted per key range while the others arrive.
    let (revision, parts) = list_prefix_parts(
        &client,
        PREFIX,
        cuts,
        |e| Member::from_entry(PREFIX, e, None),
        |part: &mut Vec<Member>| part.sort_by(default_order),
        move |p: ListProgress<Member>| {
            if !p.preview.is_empty() {
                let _ = seen.set(t1.elapsed());
            }
        },
    )
    .await
    .expect("list_prefix_parts");
    let t2 = Instant::now();
    // As the etcd source does it, on a blocking thread: the cuts learned, the ranges merged.
    let (members, learned) = tokio::task::spawn_blocking(move || {
        let keys = parts.iter().map(Vec::len).sum();
        let learned = opsconsole::sources::listing_cuts::learn_from(
            keys,
            parts.iter().flatten().map(|m| m.key()),
        );
        (Listing::prepare(ClusterId::default(), parts), learned)
    })
    .await
    .expect("prepare");
    *cuts = learned;
    let t2p = Instant::now();
    assert_eq!(members.len(), expected);
    let mut state = State::new("bench", PREFIX, "bench", Utc::now());
    update(
        &mut state,
        Msg::MembersListed {
            revision,
            members,
            at: Utc::now(),
        },
    );
    let t3 = Instant::now();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let viewports = ui::layout::viewports(ratatui::layout::Rect::new(0, 0, 200, 60), &state);
    opsconsole::state::set_viewports(&mut state, viewports);
    terminal
        .draw(|f| ui::draw(f, &state, theme, keymap))
        .unwrap();
    let t4 = Instant::now();
    assert_eq!(state.members.len(), expected);
    // What the state costs: resident memory with it held, after the listing's transient buffers
    // were handed back as the app does (`memory::release_free_memory`).
    opsconsole::memory::release_free_memory();
    let rss_mb = vm_rss_kb() as f64 / 1024.0;
    let screen = terminal.backend().to_string();
    assert!(
        screen.contains(&expected.to_string()),
        "the frame shows the member count:\n{screen}"
    );
    drop(state);
    drop(client);
    Phases {
        rss_mb,
        connect: t1 - t0,
        first_rows: first_rows.get().copied().unwrap_or(t2 - t1),
        list: t2 - t1,
        prepare: t2p - t2,
        update: t3 - t2p,
        draw: t4 - t3,
    }
}

fn etcdctl_get(etcd: &Etcd, format: &str) -> Duration {
    let t = Instant::now();
    let status = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            &etcd.endpoint(),
            // The default 5 s is too short for 1,000,000 keys here.
            "--command-timeout=300s",
            "get",
            "--prefix",
            PREFIX,
            "-w",
            format,
        ])
        .stdout(Stdio::null())
        .status()
        .expect("running etcdctl");
    let d = t.elapsed();
    assert!(status.success(), "etcdctl get failed: {status}");
    d
}

/// How many registrations: `INITIAL_SYNC_MEMBERS`, 100,000 by default.
fn members() -> usize {
    std::env::var("INITIAL_SYNC_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn list(v: &[Duration]) -> String {
    v.iter()
        .map(|d| format!("{:.0}", ms(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

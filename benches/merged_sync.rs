//! The merged view's initial sync end to end, against real etcds: ten clusters of 100,000 members
//! (`MERGED_SYNC_CLUSTERS`, `MERGED_SYNC_MEMBERS` in all) read at once, each cluster's listing
//! handed to the state as it arrives, to the first full frame — against the same 1,000,000 members
//! listed from one etcd. Issue 26's goal: the merged sync ≤ 1.2× the single one.
//!
//! `cargo bench --bench merged_sync` starts 1 + N etcds (`/usr/bin/etcd`) on free loopback ports,
//! fills them (the single one with every member, cluster `c` with the `c`-th slice of the same
//! fleet), then times both paths in turns, 1 warm-up + `MERGED_SYNC_RUNS` (3) each. `benches/merged`
//! measures the reducer's side alone and the resident memory.
//!
//! Under `cargo test --all-targets` this target is run without `--bench` and returns at once.

opsconsole::install_allocator!();

use std::time::{Duration, Instant};

use chrono::Utc;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use opsconsole::config::EtcdProfile;
use opsconsole::keymap::Keymap;
use opsconsole::model::{default_order, ClusterId, Health, Listing, Member, Msg, SourceKind};
use opsconsole::sources::etcd::{connect, list_prefix_parts, ListProgress};
use opsconsole::state::merged::ClusterInfo;
use opsconsole::state::{set_viewports, update, State};
use opsconsole::theme::Theme;
use opsconsole::ui;

#[path = "common/etcd.rs"]
mod etcd;
use etcd::{profile, register, Etcd, PREFIX};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one etcd source does before its first `Msg::MembersListed`: connect, list the prefix in
/// key ranges (members built and sorted per range), the ranges merged, indexed and counted for
/// cluster `c` on a blocking thread (`Listing::prepare`).
async fn listing(profile: EtcdProfile, c: ClusterId) -> Msg {
    let client = connect(&profile).await.expect("connect");
    let (revision, parts) = list_prefix_parts(
        &client,
        PREFIX,
        &[],
        |e| Member::from_entry(PREFIX, e, None),
        |part: &mut Vec<Member>| part.sort_by(default_order),
        |_: ListProgress<Member>| {},
    )
    .await
    .expect("list_prefix_parts");
    let members = tokio::task::spawn_blocking(move || Listing::prepare(c, parts))
        .await
        .expect("prepare");
    Msg::MembersListed {
        revision,
        members,
        at: Utc::now(),
    }
}

/// The first full frame at 200×60, as the app draws it once the listings are in.
fn first_frame(state: &mut State, theme: &Theme, keymap: &Keymap, expected: usize) {
    let viewports = ui::layout::viewports(ratatui::layout::Rect::new(0, 0, 200, 60), state);
    set_viewports(state, viewports);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    terminal
        .draw(|f| ui::draw(f, state, theme, keymap))
        .expect("draw");
    assert_eq!(state.members.len(), expected);
}

/// One etcd of every member: connect → listing → `update` → first frame.
fn single(
    rt: &tokio::runtime::Runtime,
    etcd: &Etcd,
    theme: &Theme,
    keymap: &Keymap,
    n: usize,
) -> Duration {
    let t = Instant::now();
    let msg = rt.block_on(listing(profile(etcd.endpoint()), ClusterId(0)));
    let mut state = State::new("one", PREFIX, "bench", Utc::now());
    update(
        &mut state,
        Msg::Health(SourceKind::Etcd.of(ClusterId(0)), Health::Live),
    );
    update(&mut state, msg);
    first_frame(&mut state, theme, keymap, n);
    t.elapsed()
}

/// Every cluster's source at once; the state takes each listing as it arrives (the app's UI
/// thread does the same with `Msg::InCluster`), then the first frame once all are in.
fn merged(
    rt: &tokio::runtime::Runtime,
    etcds: &[Etcd],
    theme: &Theme,
    keymap: &Keymap,
    n: usize,
) -> (Duration, Duration) {
    let t = Instant::now();
    let mut state = State::new("c0", PREFIX, "bench", Utc::now());
    state.set_clusters(
        (0..etcds.len())
            .map(|c| ClusterInfo::named(&format!("c{c}")))
            .collect(),
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(etcds.len());
    for (c, etcd) in etcds.iter().enumerate() {
        let (tx, profile) = (tx.clone(), profile(etcd.endpoint()));
        rt.spawn(async move {
            let msg = listing(profile, ClusterId(c as u16)).await;
            let _ = tx.send((ClusterId(c as u16), msg)).await;
        });
    }
    drop(tx);
    let mut updates = Duration::ZERO;
    while let Some((c, msg)) = rx.blocking_recv() {
        let u = Instant::now();
        update(
            &mut state,
            Msg::InCluster(
                c,
                Box::new(Msg::Health(SourceKind::Etcd.of(c), Health::Live)),
            ),
        );
        update(&mut state, Msg::InCluster(c, Box::new(msg)));
        updates += u.elapsed();
    }
    first_frame(&mut state, theme, keymap, n);
    (t.elapsed(), updates)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("merged_sync: skipped (fills 11 real etcds with 2,000,000 keys; run `cargo bench --bench merged_sync`)");
        return;
    }
    let clusters = env("MERGED_SYNC_CLUSTERS", 10);
    let total = env("MERGED_SYNC_MEMBERS", 1_000_000);
    let runs = env("MERGED_SYNC_RUNS", 3);
    let per = total / clusters;
    let total = per * clusters;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let one = Etcd::start();
    let many: Vec<Etcd> = (0..clusters).map(|_| Etcd::start()).collect();
    let t = Instant::now();
    rt.block_on(async {
        let mut fills = vec![tokio::spawn({
            let e = one.endpoint();
            async move { register(&e, 0..total).await }
        })];
        for (c, etcd) in many.iter().enumerate() {
            let e = etcd.endpoint();
            fills.push(tokio::spawn(async move {
                register(&e, c * per..(c + 1) * per).await
            }));
        }
        for f in fills {
            f.await.expect("fill");
        }
    });
    println!(
        "filled one etcd with {total} and {clusters} etcds with {per} each in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    let theme = Theme::resolve(None, None, false).expect("theme");
    let keymap = Keymap::resolve(None).expect("keymap");
    let (mut ones, mut merges) = (Vec::new(), Vec::new());
    for run in 0..=runs {
        let a = single(&rt, &one, &theme, &keymap, total);
        let (b, updates) = merged(&rt, &many, &theme, &keymap, total);
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        println!(
            "run {run}{}: one etcd {:.0} ms, {clusters} etcds {:.0} ms ({:.2}×; their updates {:.0} ms); load {}",
            if run == 0 { " (warm-up)" } else { "" },
            a.as_secs_f64() * 1e3,
            b.as_secs_f64() * 1e3,
            b.as_secs_f64() / a.as_secs_f64(),
            updates.as_secs_f64() * 1e3,
            load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
        );
        if run > 0 {
            ones.push(a);
            merges.push(b);
        }
    }
    ones.sort();
    merges.sort();
    let (a, b) = (ones[ones.len() / 2], merges[merges.len() / 2]);
    println!();
    println!("| start → first full frame 200×60 | median of {runs} | runs (ms) |");
    println!("|---|---:|---|");
    let list = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.0}", d.as_secs_f64() * 1e3))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| one etcd, {total} members | {:.0} ms | {} |",
        a.as_secs_f64() * 1e3,
        list(&ones)
    );
    println!(
        "| {clusters} etcds × {per}, merged | {:.0} ms | {} |",
        b.as_secs_f64() * 1e3,
        list(&merges)
    );
    println!(
        "merged / single = {:.2} (goal ≤ 1.2)",
        b.as_secs_f64() / a.as_secs_f64()
    );
}

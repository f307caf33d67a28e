//! A merged view of 10 clusters × 100,000 members against one cluster of the same 1,000,000:
//! the reducer's side of the initial sync (each cluster's listing arriving as
//! `Msg::InCluster`, against one `Msg::MembersListed` of them all), a frame at 200×60, and the
//! process's RSS with the state held. The etcd side (reading 100k keys from each of ten etcds at
//! once) is not measured here: see `initial_sync` for one etcd.
//!
//! `cargo bench --bench merged` (`MERGED_CLUSTERS`, `MERGED_PER_CLUSTER` change the shape); under
//! `cargo test --all-targets` it returns at once.

#[path = "common/counting.rs"]
mod counting;

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use opsconsole::keymap::Keymap;
use opsconsole::model::{
    default_order, ClusterId, Health, KvEntry, Listing, LogLine, Member, Msg, SourceKind,
};
use opsconsole::state::merged::ClusterInfo;
use opsconsole::state::{set_viewports, update, State};
use opsconsole::theme::Theme;
use opsconsole::ui;

const ROLES: [&str; 10] = [
    "api", "cache", "db", "edge", "gateway", "queue", "search", "web", "worker", "mail",
];

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` members of one cluster (the same names in every cluster: the worst case for identity).
fn entries(n: usize) -> Vec<KvEntry> {
    (0..n)
        .map(|i| {
            let role = ROLES[i % ROLES.len()];
            KvEntry {
                key: format!("/services/{role}/{role}-{i}").into_bytes(),
                value: format!(
                    r#"{{"addr":"10.{}.{}.{}","port":8080,"version":"1.4.{}"}}"#,
                    (i >> 16) & 255,
                    (i >> 8) & 255,
                    i & 255,
                    i % 7
                )
                .into_bytes(),
                create_revision: i as i64 + 1,
                mod_revision: i as i64 + 1,
                version: 1,
                lease: 0,
            }
        })
        .collect()
}

/// `n` log lines of ~60 bytes, from `clusters` clusters' logs sources in turn (one: a single
/// cluster's), 1,000 a message.
fn log_lines(state: &mut State, clusters: usize, n: usize, now: chrono::DateTime<Utc>) {
    let mut batch = Vec::with_capacity(1_000);
    for i in 0..n {
        let role = ROLES[i % ROLES.len()];
        batch.push(LogLine {
            time: Some(now + chrono::Duration::milliseconds(i as i64)),
            host: format!("{role}-{}", i % 5_000).into(),
            program: role.into(),
            severity: Some((i % 8) as u8),
            message: format!("GET /api/v1/items/{i} 200 {} ms upstream={role}", i % 300),
            fields: Default::default(),
        });
        if batch.len() == 1_000 {
            let msg = if clusters > 1 {
                let c = ClusterId(((i / 1_000) % clusters) as u16);
                Msg::InCluster(c, Box::new(Msg::LogLines(batch)))
            } else {
                // A single cluster's logs source: its lines arrive unwrapped.
                Msg::LogLines(batch)
            };
            update(state, msg);
            batch = Vec::with_capacity(1_000);
        }
    }
}

/// VmRSS after returning free heap memory to the system, as the app does after a listing.
fn rss_mb() -> f64 {
    opsconsole::memory::release_free_memory();
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Heap bytes in use (every allocation not yet freed, counted by `counting`), beside the RSS: what
/// the state holds, without the allocator's free and partly used pages.
fn heap_mb() -> f64 {
    counting::heap_in_use() as f64 / (1024.0 * 1024.0)
}

/// CPU time this thread has used: on a shared machine the wall clock also counts the time spent
/// waiting for a core, the CPU time does not.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant libc knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Best of 20 frames at 200×60 with the cursor on row `row` (`None`: nothing selected, the top of
/// the list on screen). Mid-list, a merged view's rows on screen are found in every cluster's run.
fn frame(state: &mut State, row: Option<usize>) -> Duration {
    if let Some(i) = row {
        state.members.select_index(i);
    }
    let theme = Theme::resolve(None, None, false).expect("theme");
    let keymap = Keymap::resolve(None).expect("keymap");
    let (w, h) = (200, 60);
    let v = ui::layout::viewports(ratatui::layout::Rect::new(0, 0, w, h), state);
    set_viewports(state, v);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let mut best = Duration::MAX;
    for _ in 0..20 {
        let t = Instant::now();
        terminal
            .draw(|f| ui::draw(f, state, &theme, &keymap))
            .expect("draw");
        best = best.min(t.elapsed());
    }
    best
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("merged: skipped (builds 1,000,000 members; run `cargo bench --bench merged`)");
        return;
    }
    let clusters = env("MERGED_CLUSTERS", 10);
    let per = env("MERGED_PER_CLUSTER", 100_000);
    let now = Utc.with_ymd_and_hms(2026, 12, 5, 4, 0, 0).unwrap();

    // `MERGED_CASE=single|merged` runs one case alone, for an RSS of its own.
    let case = std::env::var("MERGED_CASE").unwrap_or_default();
    let (mut single_ingest, mut single_cpu, mut single_frame, mut single_rss) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, 0.0);
    let mut single_mid = Duration::ZERO;
    let mut single_prepare = Duration::ZERO;
    let (mut single_relist, mut single_relist_drop) = (Duration::ZERO, Duration::ZERO);
    let (mut single_heap, mut single_rss_logs) = (0.0, 0.0);
    if case != "merged" {
        // One cluster holding all of them (keys made distinct by a cluster segment).
        let mut one: Vec<KvEntry> = Vec::with_capacity(clusters * per);
        for c in 0..clusters {
            for mut e in entries(per) {
                let k = String::from_utf8(e.key).expect("utf-8");
                e.key = k
                    .replacen("/services/", &format!("/services/c{c}-"), 1)
                    .into_bytes();
                one.push(e);
            }
        }
        // Prepared as the etcd source prepares it, off the UI thread (timed apart: the state's
        // part is the ingest below).
        let mut members: Vec<Member> = one
            .into_iter()
            .map(|e| Member::from_entry("/services/", e, None))
            .collect();
        members.sort_by(default_order);
        let t = Instant::now();
        let members = Listing::prepare(ClusterId(0), vec![members]);
        single_prepare = t.elapsed();
        let msg = Msg::MembersListed {
            revision: 1,
            members,
            at: now,
        };
        let mut single = State::new("one", "/services/", "bench", now);
        update(
            &mut single,
            Msg::Health(SourceKind::Etcd.of(ClusterId(0)), Health::Live),
        );
        let (t, cpu) = (Instant::now(), cpu_time());
        update(&mut single, msg);
        single_ingest = t.elapsed();
        single_cpu = cpu_time() - cpu;
        single_frame = frame(&mut single, None);
        single_mid = frame(&mut single, Some(clusters * per / 2));
        single_rss = rss_mb();
        single_heap = heap_mb();
        // The performance issue's budget: 1M members with 100k log lines.
        log_lines(&mut single, 1, 100_000, now);
        single_rss_logs = rss_mb();
        // A relist (after a compaction): the same members listed again, prepared by the source;
        // the old store handed away (`state::take_discarded`, dropped on a thread by the core).
        let mut again: Vec<Member> = single.members.all().cloned().collect();
        again.sort_by(default_order);
        let again = Listing::prepare(ClusterId(0), vec![again]);
        let t = Instant::now();
        update(
            &mut single,
            Msg::MembersListed {
                revision: 2,
                members: again,
                at: now,
            },
        );
        let old = opsconsole::state::take_discarded(&mut single);
        single_relist = t.elapsed();
        let t = Instant::now();
        drop(old);
        single_relist_drop = t.elapsed();
        drop(single);
    }
    if case == "single" {
        println!(
            "one cluster of {}: prepared by the source in {:.3} s, ingest {:.4} s (CPU {:.4} s), frame {:.2} / {:.2} ms, RSS {single_rss:.0} MB (heap in use {single_heap:.0} MB), with 100,000 log lines {single_rss_logs:.0} MB; Member {} bytes; relist {:.1} ms (its old store dropped apart: {:.1} ms)",
            clusters * per,
            single_prepare.as_secs_f64(),
            single_ingest.as_secs_f64(),
            single_cpu.as_secs_f64(),
            single_frame.as_secs_f64() * 1e3,
            single_mid.as_secs_f64() * 1e3,
            std::mem::size_of::<opsconsole::model::Member>(),
            single_relist.as_secs_f64() * 1e3,
            single_relist_drop.as_secs_f64() * 1e3
        );
        return;
    }

    // The merged view: each cluster's listing (built by its source, as the etcd source does).
    // Prepared for their cluster as each source prepares its own (`MERGED_PLAIN=1`: given plain,
    // the state prepares them, as before sources did).
    let plain = std::env::var("MERGED_PLAIN").is_ok_and(|v| v == "1");
    let listings: Vec<Msg> = (0..clusters)
        .map(|c| {
            let c = ClusterId(c as u16);
            let mut members: Vec<Member> = entries(per)
                .into_iter()
                .map(|e| Member::from_entry("/services/", e, None))
                .collect();
            members.sort_by(default_order);
            let members = if plain {
                Listing::from(members)
            } else {
                Listing::prepare(c, vec![members])
            };
            let listed = Msg::MembersListed {
                revision: 1,
                members,
                at: now,
            };
            Msg::InCluster(c, Box::new(listed))
        })
        .collect();
    let mut merged = State::new("c0", "/services/", "bench", now);
    merged.set_clusters(
        (0..clusters)
            .map(|c| ClusterInfo::named(&format!("c{c}")))
            .collect(),
    );
    for c in 0..clusters {
        update(
            &mut merged,
            Msg::Health(SourceKind::Etcd.of(ClusterId(c as u16)), Health::Live),
        );
    }
    let (t, cpu) = (Instant::now(), cpu_time());
    for m in listings {
        update(&mut merged, m);
    }
    let merged_ingest = t.elapsed();
    let merged_cpu = cpu_time() - cpu;
    assert_eq!(merged.members.len(), clusters * per);
    let merged_frame = frame(&mut merged, None);
    let merged_mid = frame(&mut merged, Some(clusters * per / 2));
    let merged_rss = rss_mb();
    // The performance issue's budget is for 1M members with 100k log lines: the ring filled too.
    log_lines(&mut merged, clusters, 100_000, now);
    let merged_rss_logs = rss_mb();

    println!(
        "| {clusters} × {per} members | ingest (reducer) | ingest CPU | frame 200×60 (top / mid-list) | RSS after |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| one cluster of {} | {:.2} s | {:.2} s | {:.2} / {:.2} ms | {:.0} MB |",
        clusters * per,
        single_ingest.as_secs_f64(),
        single_cpu.as_secs_f64(),
        single_frame.as_secs_f64() * 1e3,
        single_mid.as_secs_f64() * 1e3,
        single_rss
    );
    println!(
        "| {clusters} clusters merged | {:.2} s ({:.2}×) | {:.2} s ({:.2}×) | {:.2} / {:.2} ms | {:.0} MB |",
        merged_ingest.as_secs_f64(),
        merged_ingest.as_secs_f64() / single_ingest.as_secs_f64(),
        merged_cpu.as_secs_f64(),
        merged_cpu.as_secs_f64() / single_cpu.as_secs_f64(),
        merged_frame.as_secs_f64() * 1e3,
        merged_mid.as_secs_f64() * 1e3,
        merged_rss
    );
    println!(
        "merged, with {} log lines from the {clusters} clusters' logs sources: RSS {merged_rss_logs:.0} MB",
        merged.logs.len()
    );
}

//! Render and ingest costs at fleet scale (100,000 members), in-process, no network:
//!
//! 1. one full frame at 200x60 into ratatui's `TestBackend` (goal: < 2 ms; only visible rows are built),
//! 2. `apply_events` of 1,000 put events into a 100k-member state (updates and inserts),
//! 3. `apply_snapshot` of 100k entries: the initial-sync cost on our side, after the bytes arrived,
//! 4. the metrics chart zoomed over the screen at 200x60 with 1,000 points (goal: < 2 ms),
//! 5. the time cursor one minute earlier (`[`) with 100k members and 100k log lines: the step, the
//!    members at the new moment applied (the 100k etcd returned; the range read itself is etcd's,
//!    see BENCHMARKS.md) and one frame drawn (issue 21's goal: < 50 ms plus the range read).
//!
//! `cargo bench --bench render`; figures are recorded in BENCHMARKS.md.

opsconsole::install_allocator!();

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use opsconsole::action::Action;
use opsconsole::keymap::Keymap;
use opsconsole::model::{ClusterId, Health, KvEntry, KvEvent, LogLine, Member, Msg, SourceKind};
use opsconsole::state::{handle_action, update, State};
use opsconsole::theme::Theme;
use opsconsole::ui;

#[path = "common/etcd.rs"]
mod etcd;

/// Fleet size under `cargo bench`. `cargo test --all-targets` runs each benchmark once without
/// `--bench` (criterion's test mode), unoptimised: there a small fleet keeps the suite fast.
fn members() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        100_000
    } else {
        2_000
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 4, 10, 0).unwrap()
}

/// Member `i` of the fleet the etcd benches register (`etcd::member`), with its own lease.
fn member(i: usize, revision: i64) -> KvEntry {
    let (key, value) = etcd::member(i);
    KvEntry {
        key: key.into_bytes(),
        value: value.into_bytes(),
        create_revision: 2 + i as i64,
        mod_revision: revision,
        version: 1,
        lease: 0x694d_0000_0000_0000 + i as i64,
    }
}

fn fleet() -> Vec<KvEntry> {
    (0..members()).map(|i| member(i, 2 + i as i64)).collect()
}

fn synced_state(entries: Vec<KvEntry>) -> State {
    let mut s = State::new("bench", "/services/", "bench", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    update(
        &mut s,
        Msg::Health(SourceKind::Etcd.of(ClusterId(0)), Health::Live),
    );
    let revision = entries.len() as i64 + 2;
    update(&mut s, Msg::listing("/services/", revision, entries, now()));
    // TTLs for the first screenfuls, as the lease poller would report them.
    let ttls = (0..256).map(|i| (0x694d_0000_0000_0000 + i as i64, 30 - (i % 30) as i64));
    update(
        &mut s,
        Msg::LeaseTtls {
            ttls: ttls.collect(),
            at: now(),
        },
    );
    s
}

fn bench_frame(c: &mut Criterion) {
    let theme = Theme::resolve(None, None, false).unwrap();
    let keymap = Keymap::resolve(None).unwrap();
    let mut state = synced_state(fleet());
    let mut group = c.benchmark_group("frame_200x60_100k_members");

    let frame = |state: &mut State, name: &str, group: &mut criterion::BenchmarkGroup<_>| {
        let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
        let viewports = ui::layout::viewports(ratatui::layout::Rect::new(0, 0, 200, 60), state);
        opsconsole::state::set_viewports(state, viewports);
        let base = state.members.selected_index().unwrap_or(0);
        let mut flip = false;
        group.bench_function(name, |b| {
            b.iter(|| {
                // Move the cursor one row back and forth so every frame differs from the last
                // (an unchanged frame would make the terminal diff trivially empty).
                flip = !flip;
                state.members.select_index(base + flip as usize);
                terminal
                    .draw(|f| ui::draw(f, black_box(state), &theme, &keymap))
                    .unwrap();
            })
        });
        state.members.select_index(base);
    };

    frame(&mut state, "top", &mut group);
    state.members.select_index(members() / 2);
    frame(&mut state, "middle", &mut group);
    // A regex filter over 100k members (~1% visible); rendering should not care.
    handle_action(&mut state, Action::Filter);
    for ch in "web-1".chars() {
        handle_action(&mut state, Action::InsertChar(ch));
    }
    handle_action(&mut state, Action::Submit);
    let shown = state.members.visible_len();
    assert!(state.members.filter.is_some() && shown > 0 && shown < state.members.len());
    state.members.select_index(state.members.visible_len() / 2);
    frame(&mut state, "filtered", &mut group);
    group.finish();
}

fn bench_events(c: &mut Criterion) {
    let mut state = synced_state(fleet());
    let mut group = c.benchmark_group("apply_events_1000_puts_into_100k");
    group.sample_size(30);

    // 1,000 re-registrations (heartbeat-style updates) of existing members spread over the key space.
    let n = members();
    let mut revision = n as i64 + 10;
    group.bench_function("updates", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let events: Vec<KvEvent> = (0..1000)
                    .map(|k| {
                        revision += 1;
                        let mut e = member((k * (n / 1000) + 7) % n, revision);
                        e.version = 2;
                        KvEvent::Put(e)
                    })
                    .collect();
                let t = Instant::now();
                state.members.apply_events(black_box(events), now());
                total += t.elapsed();
            }
            total
        })
    });
    assert_eq!(state.members.len(), n);

    // 1,000 new instances (a deploy scaling out); removed again untimed so the state stays at 100k.
    let mut batch = 0usize;
    group.bench_function("inserts", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                batch += 1;
                let puts: Vec<KvEvent> = (0..1000)
                    .map(|k| {
                        revision += 1;
                        let mut e = member(n + k, revision);
                        e.key.extend_from_slice(format!("-b{batch}").as_bytes());
                        KvEvent::Put(e)
                    })
                    .collect();
                let deletes: Vec<KvEvent> = puts
                    .iter()
                    .map(|p| match p {
                        KvEvent::Put(e) => KvEvent::Delete {
                            key: e.key.clone(),
                            mod_revision: e.mod_revision + 5000,
                        },
                        _ => unreachable!(),
                    })
                    .collect();
                let t = Instant::now();
                state.members.apply_events(black_box(puts), now());
                total += t.elapsed();
                state.members.apply_events(deletes, now());
            }
            total
        })
    });
    assert_eq!(state.members.len(), n);
    group.finish();
}

fn bench_snapshot(c: &mut Criterion) {
    let entries = fleet();
    let mut group = c.benchmark_group("apply_snapshot_100k");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    // Initial sync: an empty state takes the first listing (through `update`, as the app does).
    group.bench_function("initial", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut s = State::new("bench", "/services/", "bench", now());
                let e = entries.clone();
                let t = Instant::now();
                let cmds = update(
                    &mut s,
                    Msg::listing("/services/", entries.len() as i64 + 2, black_box(e), now()),
                );
                total += t.elapsed();
                black_box(cmds);
                drop(s);
            }
            total
        })
    });
    // A re-list after compaction: the same 100k keys replace a synced state.
    let mut s = synced_state(entries.clone());
    group.bench_function("relist", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let e = entries.clone();
                let t = Instant::now();
                update(
                    &mut s,
                    Msg::listing("/services/", entries.len() as i64 + 2, black_box(e), now()),
                );
                total += t.elapsed();
            }
            total
        })
    });
    group.finish();
}

/// The chart over a 200x60 screen: one series of 1,000 points (a gap every 37), braille.
fn bench_chart(c: &mut Criterion) {
    use opsconsole::model::{MetricsQuery, MetricsResult, Msg, Series, Window};
    let theme = Theme::resolve(None, None, false).unwrap();
    let keymap = Keymap::resolve(None).unwrap();
    let mut state = synced_state(fleet());
    let query = MetricsQuery {
        label: "cluster".into(),
        vars: None,
        window: Window::H1,
        width: 1000,
        end: None,
    };
    opsconsole::state::backend_started(
        &mut state,
        opsconsole::model::SourceKind::Metrics.of(opsconsole::model::ClusterId(0)),
        "prometheus",
        None,
    );
    let points: Vec<Option<f64>> = (0..1000)
        .map(|i| (i % 37 != 0).then(|| 50.0 + 40.0 * (i as f64 / 40.0).sin()))
        .collect();
    let result = MetricsResult {
        query: query.clone(),
        series: vec![Ok(Series {
            name: "cpu".into(),
            expr: "cpu".into(),
            unit: "%".into(),
            last: Some(50.0),
            min: Some(10.0),
            max: Some(90.0),
            points,
        })],
    };
    update(&mut state, Msg::Metrics { result, at: now() });
    state.popup = Some(opsconsole::state::Popup::Chart {
        series: vec!["cpu".into()],
    });
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    c.bench_function("chart_1000_points_200x60", |b| {
        b.iter(|| {
            terminal
                .draw(|f| ui::draw(f, black_box(&state), &theme, &keymap))
                .unwrap();
        })
    });
}

/// `[` at fleet scale: 100k members (the past ones arriving as etcd's answer) and a full 100k-line
/// log buffer the cursor jumps in, then one 200x60 frame.
fn bench_time_cursor(c: &mut Criterion) {
    let theme = Theme::resolve(None, None, false).unwrap();
    let keymap = Keymap::resolve(None).unwrap();
    let mut state = synced_state(fleet());
    state.backends.logs = Some("redis".into());
    let lines: Vec<LogLine> = (0..members())
        .map(|i| LogLine {
            // One line every 100 ms up to now: 100k lines span ~2.8 h.
            time: Some(now() - chrono::Duration::milliseconds(100 * (members() - i) as i64)),
            host: etcd::ROLES[i % etcd::ROLES.len()].into(),
            program: "app".into(),
            severity: Some((i % 8) as u8),
            message: format!("request {i} served in {} ms", i % 97),
            fields: Default::default(),
        })
        .collect();
    for chunk in lines.chunks(4096) {
        update(&mut state, Msg::LogLines(chunk.to_vec()));
    }
    // What etcd answers for a moment: the fleet, a few members fewer.
    let mut past: Vec<Member> = fleet()
        .into_iter()
        .skip(100)
        .map(|e| Member::from_entry("/services/", e, None))
        .collect();
    past.sort_by(opsconsole::model::default_order);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let viewports = ui::layout::viewports(ratatui::layout::Rect::new(0, 0, 200, 60), &state);
    opsconsole::state::set_viewports(&mut state, viewports);
    // Stepping from an hour back (a minute a step) keeps the moment inside the log buffer.
    handle_action(&mut state, Action::CommandLine);
    for ch in "at -60m".chars() {
        handle_action(&mut state, Action::InsertChar(ch));
    }
    handle_action(&mut state, Action::Submit);
    let mut steps = 0;
    c.bench_function("time_cursor_step_100k_members_100k_logs_200x60", |b| {
        b.iter_batched(
            || past.clone(),
            |past| {
                steps += 1;
                if steps % 50 == 0 {
                    handle_action(&mut state, Action::StepForwardTen);
                    handle_action(&mut state, Action::StepForwardTen);
                    handle_action(&mut state, Action::StepForwardTen);
                    handle_action(&mut state, Action::StepForwardTen);
                    handle_action(&mut state, Action::StepForwardTen);
                }
                handle_action(&mut state, Action::StepBack);
                let at = state.time.at.expect("the cursor is set");
                update(
                    &mut state,
                    Msg::MembersAt {
                        at,
                        result: Ok(opsconsole::model::PastMembers {
                            revision: 42,
                            seen: at,
                            members: past,
                            compacted: None,
                            partial: None,
                        }),
                    },
                );
                terminal
                    .draw(|f| ui::draw(f, black_box(&state), &theme, &keymap))
                    .unwrap();
            },
            criterion::BatchSize::LargeInput,
        )
    });
}

criterion_group!(
    benches,
    bench_frame,
    bench_events,
    bench_snapshot,
    bench_chart,
    bench_time_cursor
);
criterion_main!(benches);

//! The logs histogram (issue 22) over a full 100 000-line ring (an hour of lines from 200 hosts and
//! 12 programs, every severity), goal < 5 ms:
//!
//! * `recount_100k`: the counts made again from the whole ring (per bucket by severity class, the
//!   host and program maps) plus the top five of each — what happens when the buckets move (the
//!   window's end crossing a bucket boundary, `+`/`-`, a resize) or the filter, scope or threshold
//!   changes. The worst case.
//! * `frame_660_lines`: what a frame costs while lines pour in (20 000 lines/s at 30 frames/s):
//!   660 lines pushed into the full ring — each counted into its bucket on arrival and the line it
//!   evicts counted out — then the top lists brought up to date. Against `push_660_closed`, the
//!   same pushes with the histogram closed, the difference is the histogram's share.
//! * `draw_200x50`: one full frame at 200×50 with the histogram open (`ui::draw` into
//!   `TestBackend`): the drawing reads the kept counts only.
//!
//! Times are this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, as `benches/budgets.rs` measures):
//! on a machine busy with other work a thread waits for a core as long as it runs, and that wait
//! is not the console's cost. `HIST_CLOCK=wall` measures wall time instead.
//!
//! `cargo bench --bench histogram`; under `cargo test --all-targets` criterion runs each once.

opsconsole::install_allocator!();

use std::hint::black_box;

use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use opsconsole::keymap::Keymap;
use opsconsole::model::LogLine;
use opsconsole::state::histogram::refresh_local;
use opsconsole::state::logs::Logs;
use opsconsole::theme::Theme;

#[path = "common/clock.rs"]
mod clock;
use clock::Clock;

const RING: usize = 100_000;

// ------------------------------------------------------------------------------- the clock

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 14, 0, 0).unwrap()
}

/// The window's end: inside the last minute of the lines, so the hour of buckets holds them all.
fn now() -> DateTime<Utc> {
    end() - Duration::seconds(1)
}

/// Deterministic lines: `n` of them over the hour before `end()`.
fn lines(n: usize, seed: u64) -> Vec<LogLine> {
    let hosts: Vec<String> = (0..200).map(|i| format!("web-{i}")).collect();
    let programs = [
        "sshd", "nginx", "postgres", "cron", "kernel", "haproxy", "redis", "app", "systemd",
        "envoy", "vault", "dockerd",
    ];
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let span_ms = 3_600_000i64;
    (0..n)
        .map(|i| {
            let at = end() - Duration::milliseconds(span_ms - (i as i64 * span_ms) / n as i64);
            LogLine {
                time: Some(at),
                host: hosts[(next() % 200) as usize].as_str().into(),
                program: programs[(next() % 12) as usize].into(),
                severity: Some((next() % 8) as u8),
                message: "upstream timed out while reading response header".into(),
                ..Default::default()
            }
        })
        .collect()
}

fn full_ring(open: bool) -> Logs {
    let mut l = Logs::with_capacity(RING);
    l.hist.open = open;
    l.hist.columns = 60; // 1 m buckets
    refresh_local(&mut l, now());
    l.extend(lines(RING, 7));
    refresh_local(&mut l, now());
    l
}

fn bench(c: &mut Criterion<Clock>) {
    let mut g = c.benchmark_group("histogram");
    g.sample_size(30);

    let mut ring = full_ring(true);
    g.bench_function("recount_100k", |b| {
        b.iter(|| {
            ring.hist.invalidate();
            refresh_local(&mut ring, now());
            black_box(ring.hist.view().map(|v| v.total));
        })
    });
    let v = ring.hist.view().unwrap();
    assert_eq!(v.total, RING as u64, "every line of the ring in the window");
    assert_eq!(v.hosts.len(), 5);

    // Lines arriving in the newest bucket, evicting the oldest: the buckets do not move.
    let batch = lines(660, 11)
        .into_iter()
        .map(|mut l| {
            l.time = Some(end() - Duration::seconds(1));
            l
        })
        .collect::<Vec<_>>();
    let mut ring = full_ring(true);
    g.bench_function("frame_660_lines", |b| {
        b.iter(|| {
            ring.extend(batch.iter().cloned());
            refresh_local(&mut ring, now());
            black_box(ring.hist.view().map(|v| v.total));
        })
    });
    let mut closed = full_ring(false);
    g.bench_function("push_660_closed", |b| {
        b.iter(|| {
            closed.extend(batch.iter().cloned());
            black_box(closed.len());
        })
    });

    let mut s = opsconsole::state::State::new("prod", "/services/", "bench", now());
    s.zone = opsconsole::model::DisplayZone::Utc;
    s.backends.logs = Some("redis".into());
    opsconsole::state::update(&mut s, opsconsole::model::Msg::LogLines(lines(RING, 7)));
    s.focus = opsconsole::state::Pane::Logs;
    let keymap = Keymap::resolve(None).unwrap();
    let theme = Theme::resolve(None, None, false).unwrap();
    let area = ratatui::layout::Rect::new(0, 0, 200, 50);
    let v = opsconsole::ui::layout::viewports(area, &s);
    opsconsole::state::set_viewports(&mut s, v);
    opsconsole::state::handle_action(&mut s, opsconsole::action::Action::Histogram);
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).unwrap();
    g.bench_function("draw_200x50", |b| {
        b.iter(|| {
            terminal
                .draw(|f| opsconsole::ui::draw(f, &s, &theme, &keymap))
                .unwrap();
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(Clock::from_env("HIST_CLOCK"));
    targets = bench
}
criterion_main!(benches);

//! Metrics pane hot path: 64 series × 1,000 points parsed (Graphite render JSON with
//! `graphite::parse_render`, Prometheus matrices with `prometheus::parse_matrix`) and downsampled
//! to 120 columns with `metrics::downsample`. Goal: under 5 ms per refresh for either backend.
//!
//! `cargo bench --bench metrics` prints medians; under `cargo test --all-targets` (no `--bench`
//! argument) it runs each step once as a smoke test.

opsconsole::install_allocator!();

use std::hint::black_box;
use std::time::{Duration, Instant};

use opsconsole::sources::metrics::{self, graphite, prometheus};

const SERIES: usize = 64;
const POINTS: usize = 1_000;
const WIDTH: usize = 120;
const STEP: i64 = 10;
const START: i64 = 1_764_043_200;

/// Deterministic pseudo-random values (no dependency, same data every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One render answer with every series, ~3 % nulls, an occasional `1e9999`.
fn graphite_body(rng: &mut Lcg) -> Vec<u8> {
    let mut out = String::from("[");
    for s in 0..SERIES {
        if s > 0 {
            out.push_str(", ");
        }
        out.push_str(&format!(
            r#"{{"target": "s{s}", "tags": {{"name": "stats.gauges.web-{s}.cpu"}}, "datapoints": ["#
        ));
        for p in 0..POINTS {
            if p > 0 {
                out.push_str(", ");
            }
            let ts = START + p as i64 * STEP;
            let r = rng.next();
            if r < 0.03 {
                out.push_str(&format!("[null, {ts}]"));
            } else if r > 0.9995 {
                out.push_str(&format!("[1e9999, {ts}]"));
            } else {
                out.push_str(&format!("[{:.6}, {ts}]", rng.next() * 100.0));
            }
        }
        out.push_str("]}");
    }
    out.push(']');
    out.into_bytes()
}

/// One `query_range` answer per series (the source sends one query per series).
fn prometheus_bodies(rng: &mut Lcg) -> Vec<Vec<u8>> {
    (0..SERIES)
        .map(|s| {
            let mut out = format!(
                r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"__name__":"app_cpu","instance":"web-{s}","job":"app"}},"values":["#
            );
            for p in 0..POINTS {
                if p > 0 {
                    out.push(',');
                }
                let ts = START + p as i64 * STEP;
                let r = rng.next();
                let v = if r > 0.999 {
                    "NaN".to_string()
                } else {
                    format!("{}", (rng.next() * 1e4).round() / 100.0)
                };
                out.push_str(&format!("[{ts},\"{v}\"]"));
            }
            out.push_str("]}]}}");
            out.into_bytes()
        })
        .collect()
}

type Points = Vec<(f64, Option<f64>)>;

fn parse_graphite(body: &[u8]) -> Vec<Points> {
    graphite::parse_render(body, "bench")
        .expect("graphite body parses")
        .into_iter()
        .map(|(_, pts)| pts)
        .collect()
}

fn parse_prometheus(bodies: &[Vec<u8>]) -> Vec<Points> {
    bodies
        .iter()
        .map(|b| prometheus::parse_matrix(b, "bench").expect("matrix parses"))
        .collect()
}

fn downsample_all(series: &[Points]) -> usize {
    let (start, end) = (START as f64, (START + POINTS as i64 * STEP) as f64);
    series
        .iter()
        .map(|pts| {
            let cols = metrics::downsample(pts, start, end, WIDTH);
            assert_eq!(cols.len(), WIDTH);
            cols.iter().flatten().count()
        })
        .sum()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// CPU time this thread has used (utime + stime from /proc, 10 ms ticks): with other work on the
/// machine, wall-clock medians include time spent descheduled; CPU per run does not.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// (median wall time, CPU time per run if /proc tells it).
fn measure(name: &str, budget: Duration, mut f: impl FnMut()) -> (Duration, Option<Duration>) {
    for _ in 0..3 {
        f();
    }
    let mut samples = Vec::new();
    let began = Instant::now();
    let cpu0 = thread_cpu();
    while samples.len() < 20 || (began.elapsed() < budget && samples.len() < 2_000) {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    let n = samples.len();
    let per_run = match (cpu0, thread_cpu()) {
        (Some(a), Some(b)) => Some((b - a) / n as u32),
        _ => None,
    };
    let cpu = per_run
        .map(|c| format!("{c:>9.3?} CPU/run"))
        .unwrap_or_default();
    let min = *samples.iter().min().unwrap();
    let med = median(samples);
    println!("{name:<46} median {med:>10.3?}  min {min:>10.3?}  {cpu}  ({n} runs)");
    (med, per_run)
}

fn main() {
    let mut rng = Lcg(42);
    let gbody = graphite_body(&mut rng);
    let pbodies = prometheus_bodies(&mut rng);
    let gseries = parse_graphite(&gbody);
    let pseries = parse_prometheus(&pbodies);
    assert_eq!(gseries.len(), SERIES);
    assert!(gseries.iter().all(|s| s.len() == POINTS));
    assert!(pseries.iter().all(|s| s.len() == POINTS));

    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets`: a smoke run, no timing.
        assert!(downsample_all(&gseries) > 0 && downsample_all(&pseries) > 0);
        println!("metrics bench: smoke run ok (use `cargo bench --bench metrics` for timings)");
        return;
    }

    let pbytes: usize = pbodies.iter().map(Vec::len).sum();
    println!(
        "{SERIES} series × {POINTS} points → {WIDTH} columns; graphite body {:.2} MB, prometheus bodies {:.2} MB",
        gbody.len() as f64 / 1e6,
        pbytes as f64 / 1e6
    );
    let budget = Duration::from_secs(3);
    measure("graphite::parse_render (1 body, 64 series)", budget, || {
        black_box(parse_graphite(black_box(&gbody)));
    });
    measure("prometheus::parse_matrix (64 bodies)", budget, || {
        black_box(parse_prometheus(black_box(&pbodies)));
    });
    measure(
        "metrics::downsample (64 series → 120 cols)",
        budget,
        || {
            black_box(downsample_all(black_box(&gseries)));
        },
    );
    let g_total = measure("graphite total: parse + downsample", budget, || {
        black_box(downsample_all(&parse_graphite(black_box(&gbody))));
    });
    let p_total = measure("prometheus total: parse + downsample", budget, || {
        black_box(downsample_all(&parse_prometheus(black_box(&pbodies))));
    });
    let goal = Duration::from_millis(5);
    let verdict = |t: Duration| if t < goal { "within" } else { "OVER" };
    for (name, (wall, cpu)) in [("graphite", g_total), ("prometheus", p_total)] {
        let cpu = cpu
            .map(|c| format!(", {c:.3?} CPU ({} the 5 ms goal)", verdict(c)))
            .unwrap_or_default();
        println!(
            "{name}: {wall:.3?} median wall per refresh ({} the 5 ms goal){cpu}",
            verdict(wall)
        );
    }
}

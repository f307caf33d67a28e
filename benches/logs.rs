//! Logs ingest benchmark: 1 000 000 mixed syslog lines (RFC 3164, RFC 5424, rsyslog JSON) through
//! `syslog::parse_any` + `Logs::push` into a 100 000-line ring with an active regex filter, in
//! lines/s (goal ≥ 500 000/s); the resident memory of a full 100 000-line buffer (a child process
//! of this binary, VmRSS from /proc/self/status; goal < 64 MB); and `grep -E` over the same lines in
//! a file, for scale.
//!
//! Run: `cargo bench --bench logs` (release profile). `LOGS_BENCH_LINES=n` changes the line count.

use std::hint::black_box;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use opsconsole::sources::logs::syslog::parse_any;

use opsconsole::model::LogLine;
use opsconsole::state::logs::Logs;
use opsconsole::state::members::Filter;

const RING: usize = 100_000;
const FILTER: &str = "error|timed? ?out|refused";
const GOAL_LINES_PER_SEC: f64 = 500_000.0;
const GOAL_RSS_MB: f64 = 64.0;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const PROGRAMS: [&str; 12] = [
    "sshd", "nginx", "postgres", "cron", "kernel", "haproxy", "redis", "app", "systemd", "envoy",
    "vault", "dockerd",
];
const WORDS: [&str; 24] = [
    "connection",
    "from",
    "user",
    "request",
    "upstream",
    "timed out",
    "refused",
    "accepted",
    "publickey",
    "GET",
    "/api/v1/items",
    "200",
    "503",
    "latency",
    "ms",
    "session",
    "opened",
    "closed",
    "error",
    "retrying",
    "worker",
    "pid",
    "queue",
    "full",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

fn message(rng: &mut Rng) -> String {
    let n = 6 + (rng.next() % 12) as usize;
    let mut m = String::with_capacity(100);
    for i in 0..n {
        if i > 0 {
            m.push(' ');
        }
        m.push_str(rng.pick(&WORDS));
        if rng.next().is_multiple_of(4) {
            m.push_str(&format!(" {}", rng.next() % 100_000));
        }
    }
    m
}

/// One line of the mix: a third each of RFC 3164, RFC 5424 (some with structured data) and the
/// rsyslog JSON template.
fn line(rng: &mut Rng, i: usize) -> String {
    let host = format!("web-{:02}", rng.next() % 50);
    let prog = rng.pick(&PROGRAMS);
    let sev = (rng.next() % 8) as usize;
    let pri = 8 * (16 + rng.next() % 8) as usize + sev;
    let msg = message(rng);
    let (h, m, s) = ((i / 3600) % 24, (i / 60) % 60, i % 60);
    match i % 3 {
        0 => format!(
            "<{pri}>{} {:>2} {h:02}:{m:02}:{s:02} {host} {prog}[{}]: {msg}",
            MONTHS[i % 12],
            1 + i % 28,
            rng.next() % 65_536
        ),
        1 => {
            let sd = if rng.next().is_multiple_of(2) {
                format!("[req@32473 id=\"{}\" path=\"/x\\]y\"]", rng.next() % 1000)
            } else {
                "-".into()
            };
            format!(
                "<{pri}>1 2026-11-25T{h:02}:{m:02}:{s:02}.{:06}Z {host} {prog} {} ID{} {sd} {msg}",
                rng.next() % 1_000_000,
                rng.next() % 65_536,
                rng.next() % 100
            )
        }
        _ => format!(
            r#"{{"timestamp":"2026-11-25T{h:02}:{m:02}:{s:02}.{:06}+00:00", "host":"{host}", "program":"{prog}", "severity":"{}", "message":" {msg}"}}"#,
            rng.next() % 1_000_000,
            SEVERITIES[sev]
        ),
    }
}

fn generate(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..n).map(|i| line(&mut rng, i).into_bytes()).collect()
}

fn vm_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn filtered_ring() -> Logs {
    let mut logs = Logs::with_capacity(RING);
    logs.set_filter(Filter::parse(FILTER).expect("filter"));
    logs
}

/// Child mode: fill a 100k ring the way the app does (lines arrive in batches and are parsed
/// one by one, the raw bytes dropped) and print resident memory.
fn rss_child() {
    let before = vm_rss_kb();
    let mut logs = filtered_ring();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for start in (0..RING * 2).step_by(2000) {
        let batch: Vec<LogLine> = (start..start + 2000)
            .map(|i| parse_any(line(&mut rng, i).as_bytes()))
            .collect();
        logs.extend(batch);
    }
    assert_eq!(logs.len(), RING);
    let after = vm_rss_kb();
    println!("{before} {after} {}", logs.match_count());
}

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn main() {
    if std::env::var_os("LOGS_BENCH_RSS_CHILD").is_some() {
        rss_child();
        return;
    }
    let n: usize = std::env::var("LOGS_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t = Instant::now();
    let raw = generate(n);
    let bytes: usize = raw.iter().map(|l| l.len() + 1).sum();
    println!(
        "logs bench: {n} lines ({:.1} MB, mixed RFC 3164/5424/JSON) generated in {:.2?}",
        bytes as f64 / 1e6,
        t.elapsed()
    );

    // Parse only.
    let t = Instant::now();
    for l in &raw {
        black_box(parse_any(black_box(l)));
    }
    let parse = t.elapsed();

    // Parse only, per format (every third line is one kind).
    let mut kinds = Vec::new();
    for (k, name) in ["RFC 3164", "RFC 5424", "rsyslog JSON"].iter().enumerate() {
        let t = Instant::now();
        let mut m = 0;
        for l in raw.iter().skip(k).step_by(3) {
            black_box(parse_any(black_box(l)));
            m += 1;
        }
        kinds.push((*name, per_sec(m, t.elapsed())));
    }

    // Push only (pre-parsed), filter active.
    let parsed: Vec<LogLine> = raw.iter().take(RING * 3).map(|l| parse_any(l)).collect();
    let mut logs = filtered_ring();
    let t = Instant::now();
    for l in parsed {
        logs.push(l);
    }
    let push = t.elapsed();
    let push_n = (RING * 3).min(n);
    drop(logs);

    // The whole path, as the app runs it: parse each line, push into the filtered ring.
    let mut logs = filtered_ring();
    let t = Instant::now();
    for l in &raw {
        logs.push(parse_any(l));
    }
    let total = t.elapsed();
    let rate = per_sec(n, total);
    println!(
        "  parse_any only       {:>10.0} lines/s  ({:.2?})",
        per_sec(n, parse),
        parse
    );
    for (name, rate) in &kinds {
        println!("    {name:<18} {rate:>10.0} lines/s");
    }
    println!(
        "  Logs::push only      {:>10.0} lines/s  ({push_n} pre-parsed lines, {:.2?})",
        per_sec(push_n, push),
        push
    );
    println!(
        "  parse + push         {:>10.0} lines/s  ({:.2?}; ring {} lines, {} dropped, {} match /{FILTER}/)  goal ≥ {:.0}: {}",
        rate,
        total,
        logs.len(),
        logs.dropped,
        logs.match_count(),
        GOAL_LINES_PER_SEC,
        if rate >= GOAL_LINES_PER_SEC { "ok" } else { "UNDER GOAL" }
    );
    drop(logs);

    // Resident memory of a full ring, in a fresh process.
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new(exe)
        .env("LOGS_BENCH_RSS_CHILD", "1")
        .output()
        .expect("running the RSS child");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<u64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    if let [before, after, matches] = v[..] {
        let mb = after as f64 / 1024.0;
        println!(
            "  RSS, full {RING}-line ring: {mb:.1} MB (process start {:.1} MB, ring ≈ {:.1} MB, {matches} matching)  goal < {GOAL_RSS_MB:.0} MB: {}",
            before as f64 / 1024.0,
            (after - before) as f64 / 1024.0,
            if mb < GOAL_RSS_MB { "ok" } else { "OVER GOAL" }
        );
    } else {
        println!(
            "  RSS child failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // grep -E over the same lines in a file.
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    {
        let mut w = std::io::BufWriter::new(file.as_file_mut());
        for l in &raw {
            w.write_all(l).unwrap();
            w.write_all(b"\n").unwrap();
        }
        w.flush().unwrap();
    }
    // Same case-insensitivity as the console's all-lowercase filter.
    let t = Instant::now();
    let grep = Command::new("grep")
        .args(["-E", "-i", "-c", FILTER])
        .arg(file.path())
        .env("LC_ALL", "C.UTF-8")
        .output();
    let g = t.elapsed();
    match grep {
        Ok(o) => println!(
            "  grep -E -i -c        {:>10.0} lines/s  ({:.2?}, {} matching lines; no parsing, no buffer)",
            per_sec(n, g),
            g,
            String::from_utf8_lossy(&o.stdout).trim()
        ),
        Err(e) => println!("  grep not run: {e}"),
    }
}

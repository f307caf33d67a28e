//! Parsing check-source responses at fleet scale: 10,000 Sensu Go events (21-entry histories, as
//! one page and as 20 pages of 500 merged like `poll` does), 10,000 Sensu Core 1.x results joined
//! with their events, and 10,000 Alertmanager alerts. Goal: parse + merge of 10k results < 50 ms.

opsconsole::install_allocator!();

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opsconsole::sources::checks::{alertmanager, sensu_core, sensu_go};
use serde_json::{json, Value};

const N: usize = 10_000;
const T: i64 = 1_764_000_000;

fn go_event(i: usize) -> Value {
    let entity = format!("web-{:05}.dc1.example.net", i / 10);
    let check = format!(
        "check_{}",
        ["http", "disk", "cpu", "mem", "ntp", "dns", "tls", "smtp", "ssh", "load"][i % 10]
    );
    let status = [0, 0, 0, 0, 0, 0, 1, 2, 0, 3][i % 10];
    let history: Vec<Value> = (0..21)
        .map(|k| json!({"status": if k < 19 { 0 } else { status }, "executed": T - (20 - k) * 60}))
        .collect();
    json!({
        "timestamp": T, "id": format!("{i:08x}-5e1c-4c2e-9f0e-1b7c9d3e4a5f"), "sequence": 4021,
        "metadata": {"namespace": "default"},
        "entity": {"metadata": {"name": entity, "namespace": "default", "labels": {"region": "eu-west-1", "role": "web"}},
                   "entity_class": "agent", "subscriptions": ["linux", "web", format!("entity:{entity}")],
                   "last_seen": T - 3, "deregister": false,
                   "system": {"hostname": entity, "os": "linux", "platform": "debian", "platform_version": "12.8", "arch": "amd64"}},
        "check": {"metadata": {"name": check, "namespace": "default"},
                  "command": format!("/usr/lib/nagios/plugins/{check} -w 80 -c 90"),
                  "status": status, "state": if status == 0 { "passing" } else { "failing" },
                  "output": format!("{} - {check} on {entity}: response time 0.0{}s\n", ["OK", "WARNING", "CRITICAL", "UNKNOWN"][status as usize], i % 10),
                  "issued": T, "executed": T, "duration": 0.042, "interval": 60, "timeout": 30,
                  "last_ok": if status == 0 { T } else { T - 120 }, "occurrences": 2, "occurrences_watermark": 2,
                  "history": history, "subscriptions": ["linux"], "handlers": ["slack", "pagerduty"],
                  "total_state_change": 5, "is_silenced": i.is_multiple_of(97), "processed_by": entity},
        "pipelines": [{"api_version": "core/v2", "type": "Pipeline", "name": "incident_alerts"}]
    })
}

fn am_alert(i: usize) -> Value {
    let sev = ["critical", "warning", "info", "warning"][i % 4];
    json!({
        "labels": {"alertname": format!("Alert{}", i % 50), "instance": format!("web-{:05}:9100", i / 50),
                   "job": "node", "severity": sev, "team": "infra", "region": "eu-west-1"},
        "annotations": {"summary": format!("something is wrong on web-{:05}", i / 50),
                        "description": "a longer description of the problem and what to do about it",
                        "runbook_url": "https://runbooks.example.net/alerts/something"},
        "startsAt": "2026-11-25T03:58:10.123Z", "endsAt": "2026-11-25T04:12:10.123Z",
        "updatedAt": "2026-11-25T04:08:10.130Z", "fingerprint": format!("{i:016x}"),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
        "receivers": [{"name": "pager"}],
        "status": {"state": if i.is_multiple_of(13) { "suppressed" } else { "active" },
                   "silencedBy": if i.is_multiple_of(13) { json!(["0b4c7a2e-1f3d-4e5a-9b8c-7d6e5f4a3b2c"]) } else { json!([]) },
                   "inhibitedBy": [], "mutedBy": []}
    })
}

fn core_check(i: usize, history: Value) -> Value {
    json!({"name": format!("check_{}", i % 10), "command": "/usr/lib/nagios/plugins/check_x", "subscribers": ["linux"],
           "interval": 60, "handlers": ["default"], "issued": T, "executed": T, "duration": 0.02,
           "output": "OK - fine\n", "status": (i % 3) as i64, "history": history, "total_state_change": 0})
}

fn bench(c: &mut Criterion) {
    let events: Vec<Value> = (0..N).map(go_event).collect();
    let page = serde_json::to_vec(&events).unwrap();
    let pages: Vec<Vec<u8>> = events
        .chunks(500)
        .map(|c| serde_json::to_vec(c).unwrap())
        .collect();
    let alerts = serde_json::to_vec(&(0..N).map(am_alert).collect::<Vec<_>>()).unwrap();
    let ints: Vec<i64> = (0..21).map(|k| (k % 3) as i64).collect();
    let strs: Vec<String> = ints.iter().map(|s| s.to_string()).collect();
    let core_results = serde_json::to_vec(
        &(0..N)
            .map(|i| json!({"client": format!("web-{:05}", i / 10), "check": core_check(i, json!(ints))}))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let core_events = serde_json::to_vec(
        &(0..N)
            .filter(|i| i % 3 != 0)
            .map(|i| {
                json!({"id": format!("{i:08x}"), "client": {"name": format!("web-{:05}", i / 10), "subscriptions": ["linux"]},
                       "check": core_check(i, json!(strs)), "occurrences": 4, "action": "create", "timestamp": T})
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    eprintln!(
        "sizes: sensu-go page {:.1} MB, alertmanager {:.1} MB, sensu-core results+events {:.1} MB",
        page.len() as f64 / 1e6,
        alerts.len() as f64 / 1e6,
        (core_results.len() + core_events.len()) as f64 / 1e6
    );

    let mut g = c.benchmark_group("checks");
    g.sample_size(30).measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("sensu_go_parse_events_10k", |b| {
        b.iter(|| {
            let (r, skipped) = sensu_go::parse_events(black_box(&page), "bench").unwrap();
            assert_eq!((r.len(), skipped), (N, 0));
            r
        })
    });
    g.bench_function("sensu_go_20_pages_merged_10k", |b| {
        b.iter(|| {
            let mut all = Vec::new();
            let mut skipped = 0;
            for p in &pages {
                let (mut r, s) = sensu_go::parse_events(black_box(p), "bench").unwrap();
                all.append(&mut r);
                skipped += s;
            }
            assert_eq!((all.len(), skipped), (N, 0));
            all
        })
    });
    g.bench_function("sensu_core_results_events_merged_10k", |b| {
        b.iter(|| {
            let snap = sensu_core::parse(
                black_box(&core_results),
                black_box(&core_events),
                b"[]",
                "bench",
            )
            .unwrap();
            assert_eq!(snap.results.len(), N);
            snap
        })
    });
    g.bench_function("alertmanager_parse_alerts_10k", |b| {
        b.iter(|| {
            let (r, skipped) = alertmanager::parse_alerts(black_box(&alerts), "bench").unwrap();
            assert_eq!((r.len(), skipped), (N, 0));
            r
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

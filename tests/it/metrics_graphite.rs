//! The Graphite metrics source against a real Graphite 1.1 (Debian carbon-cache + graphite-web under
//! gunicorn) fed by a real StatsD 0.9.0 over UDP, all started by the test on free loopback ports;
//! bad answers no real server gives on demand come from a canned HTTP server.

use crate::common;

use std::time::{Duration, Instant};

use opsconsole::config::MetricsProfile;
use opsconsole::model::{MetricsQuery, MetricsResult, Series, Window};
use opsconsole::sources::http::HttpError;
use opsconsole::sources::metrics::MetricsSource;

use common::metrics_servers::{CannedServer, Graphite, Reply};
use common::metrics_source::{self, err, member, ok, query, source};
use common::wait::wait_until_async_or;

fn profile(url: &str, series: &[&str]) -> MetricsProfile {
    metrics_source::profile("graphite", url, series)
}

fn assert_no_false_gaps(s: &Series) {
    let Some(first) = s.points.iter().position(Option::is_some) else {
        panic!("{}: no data at all", s.name)
    };
    // The newest second may not be flushed yet: ignore the last column.
    let holes: Vec<usize> = (first..s.points.len() - 1)
        .filter(|&i| s.points[i].is_none())
        .collect();
    assert!(
        holes.is_empty(),
        "{}: empty columns {holes:?} inside continuous data (width {})",
        s.name,
        s.points.len()
    );
}

/// Fetches until `done` accepts the result (StatsD flushes every second, carbon then serves it).
async fn fetch_until(
    src: &MetricsSource,
    q: &MetricsQuery,
    g: &Graphite,
    what: &str,
    done: impl Fn(&MetricsResult) -> bool,
) -> MetricsResult {
    wait_until_async_or(
        what,
        Duration::from_secs(20),
        || async {
            let r = src.fetch(q).await.expect("fetch");
            if done(&r) {
                Ok(r)
            } else {
                Err(format!("result {:#?}", r.series))
            }
        },
        || g.logs(),
    )
    .await
}

fn last_of(r: &MetricsResult, name: &str) -> Option<f64> {
    r.series
        .iter()
        .flatten()
        .find(|s| s.name == name)
        .and_then(|s| s.last)
}

const SERIES: [&str; 6] = [
    r#"{ name = "cpu", target = "stats.gauges.{instance}.cpu", unit = "%" }"#,
    r#"{ name = "requests", target = "stats.counters.{instance}.requests.count" }"#,
    r#"{ name = "latency", target = "stats.timers.{instance}.latency.upper" }"#,
    r#"{ name = "nothing", target = "stats.gauges.{instance}.nothing" }"#,
    r#"{ name = "infinite", target = "scale(scale(stats.gauges.{instance}.cpu,1e308),10)" }"#,
    r#"{ name = "typo", target = "nosuchfunction(stats.gauges.{instance}.cpu)" }"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_graphite_statsd_values_many_series_no_data_and_down() {
    let t0 = Instant::now();
    let mut g = tokio::task::block_in_place(Graphite::start);
    let started = t0.elapsed();
    let src = source(profile(&g.url(), &SERIES));
    let q = query(member("web-1"), Window::M15, 900);

    g.statsd(&[
        "web-1.cpu:42|g",
        "web-2.cpu:10|g",
        "web-1.requests:3|c",
        "web-1.requests:2|c",
        "web-1.latency:120|ms",
        "web-1.latency:80|ms",
    ]);
    fetch_until(&src, &q, &g, "gauge 42 for web-1", |r| {
        last_of(r, "cpu") == Some(42.0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    g.statsd(&["web-1.cpu:50|g"]);
    fetch_until(&src, &q, &g, "gauge 50", |r| {
        last_of(r, "cpu") == Some(50.0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    g.statsd(&["web-1.cpu:45|g"]);
    fetch_until(&src, &q, &g, "gauge 45", |r| {
        last_of(r, "cpu") == Some(45.0)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Several series in one request: values back through the template, per-series errors beside.
    let r = src.fetch(&q).await.expect("fetch");
    assert_eq!(r.series.len(), SERIES.len());
    let cpu = ok(&r, "cpu");
    assert_eq!(cpu.expr, "stats.gauges.web-1.cpu");
    assert_eq!(
        (cpu.last, cpu.min, cpu.max),
        (Some(45.0), Some(42.0), Some(50.0))
    );
    assert_eq!(cpu.points.len(), 900);
    for v in [42.0, 50.0, 45.0] {
        assert!(cpu.points.contains(&Some(v)), "{v} not in the sparkline");
    }
    assert_no_false_gaps(cpu);
    // StatsD counted 5 in one flush, then 0 per flush; timers report the upper bound.
    let req = ok(&r, "requests");
    assert_eq!((req.max, req.min), (Some(5.0), Some(0.0)));
    assert_eq!(ok(&r, "latency").max, Some(120.0));
    let e = err(&r, "nothing:");
    assert!(
        e.contains("no data") && e.contains("stats.gauges.web-1.nothing"),
        "{e}"
    );
    // Graphite writes +Infinity as 1e9999 (not JSON serde accepts): parsed, drawn as gaps.
    let inf = ok(&r, "infinite");
    assert_eq!((inf.last, inf.max), (None, None));
    assert!(inf.points.iter().all(Option::is_none));
    // An unknown function fails graphite's whole render with a 400; it stays that series' error.
    let e = err(&r, "typo:");
    assert!(e.contains("400") && e.contains("nosuchfunction"), "{e}");

    // Fewer columns than points (graphite consolidates with maxDataPoints): still no false gaps.
    let r = src
        .fetch(&query(member("web-1"), Window::M15, 120))
        .await
        .expect("fetch");
    let cpu = ok(&r, "cpu");
    assert_eq!(cpu.points.len(), 120);
    // Consolidated 8:1 (average), so the newest bucket may still mix in the 50.
    let last = cpu.last.expect("a last value");
    assert!((45.0..=50.0).contains(&last), "{last}");
    assert_no_false_gaps(cpu);

    // Cluster-wide: the placeholder becomes a wildcard, averaged.
    let r = src
        .fetch(&query(None, Window::M15, 900))
        .await
        .expect("fetch");
    let cpu = ok(&r, "cpu");
    assert_eq!(cpu.expr, "averageSeries(stats.gauges.*.cpu)");
    assert_eq!(cpu.last, Some(27.5));

    // The longest window.
    let r = src
        .fetch(&query(member("web-1"), Window::H24, 2_000))
        .await
        .expect("fetch");
    let cpu = ok(&r, "cpu");
    assert_eq!(cpu.points.len(), 2_000);
    // 24 h reads the 60 s archive: the minute's average of 42, 50 and 45.
    let last = cpu.last.expect("a last value");
    assert!((42.0..=50.0).contains(&last), "{last}");

    // graphite-web down: the whole fetch is an HttpError with a clear message, not a panic.
    tokio::task::block_in_place(|| g.stop_web());
    let e = src.fetch(&q).await.expect_err("graphite is down");
    assert!(matches!(e, HttpError::Unreachable(_)), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{}", g.web_port))
            && (msg.contains("refused") || msg.contains("reset")),
        "{msg}"
    );
    drop(g);
    eprintln!(
        "real graphite test took {:?} (stack up in {started:?})",
        t0.elapsed()
    );
}

// ------------------------------------------------------------------ bad answers (canned server)

fn canned(url: &str, targets: &[&str]) -> MetricsSource {
    let series: Vec<String> = targets
        .iter()
        .map(|t| format!("{{ name = \"{t}\", target = \"{t}\" }}"))
        .collect();
    let series: Vec<&str> = series.iter().map(String::as_str).collect();
    source(profile(url, &series))
}

fn render_body(series: &[(&str, &str)]) -> String {
    let parts: Vec<String> = series
        .iter()
        .map(|(t, dps)| {
            format!(r#"{{"target": "{t}", "tags": {{"name": "{t}"}}, "datapoints": {dps}}}"#)
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[tokio::test]
async fn one_post_for_all_series_and_quirky_bodies() {
    let t = chrono::Utc::now().timestamp();
    let body = render_body(&[
        (
            "s0",
            &format!(
                "[[1.5, {}], [1e9999, {}], [-1e9999, {}], [2.0, {}]]",
                t - 40,
                t - 30,
                t - 20,
                t - 10
            ),
        ),
        ("s1", &format!("[[null, {}], [null, {}]]", t - 20, t - 10)),
    ]);
    let server = CannedServer::start(move |_| Reply::json(200, body.clone())).await;
    let src = canned(&server.url(), &["a.b", "c.d", "e.f"]);
    let r = src
        .fetch(&query(member("web-1"), Window::M15, 90))
        .await
        .expect("fetch");
    let s = ok(&r, "a.b");
    assert_eq!((s.last, s.min, s.max), (Some(2.0), Some(1.5), Some(2.0)));
    assert!(s.points.iter().flatten().all(|v| v.is_finite()));
    let s = ok(&r, "c.d");
    assert_eq!((s.last, s.min, s.max), (None, None, None));
    assert!(s.points.iter().all(Option::is_none));
    assert!(err(&r, "e.f:").contains("no data for e.f"));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "one render request for all series");
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert!(req.target.starts_with("/render"), "{req:?}");
    let p = req.params();
    let targets: Vec<&str> = p
        .iter()
        .filter(|(k, _)| k == "target")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        targets,
        ["alias(a.b,'s0')", "alias(c.d,'s1')", "alias(e.f,'s2')"]
    );
    let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("format"), Some("json"));
    let (from, until): (i64, i64) = (
        get("from").unwrap().parse().expect("epoch from"),
        get("until").unwrap().parse().expect("epoch until"),
    );
    assert_eq!(until - from, 900);
}

#[tokio::test]
async fn bad_bodies_and_statuses() {
    let cases: Vec<(&str, Reply)> = vec![
        ("empty", Reply::json(200, "[]")),
        (
            "html500",
            Reply::html(
                500,
                "<!DOCTYPE html>\n<html><head><title>Server Error (500)</title></head>\n<body><h1>Server Error (500)</h1></body></html>",
            ),
        ),
        ("truncated", Reply::json(200, r#"[{"target": "s0", "datapoints": [[1.0, 1"#)),
        ("huge", Reply::json(200, vec![b' '; 40 << 20])),
        ("huge_chunked", Reply::json(200, vec![b' '; 40 << 20]).chunked()),
        ("notjson", Reply::json(200, r#"{"error": "nope"}"#)),
    ];
    for (name, reply) in cases {
        let server = CannedServer::start(move |_| reply.clone()).await;
        let src = canned(&server.url(), &["a.b", "c.d"]);
        let r = src.fetch(&query(member("web-1"), Window::H1, 60)).await;
        match name {
            "empty" => {
                let r = r.expect("[] is an answer");
                assert!(err(&r, "a.b:").contains("no data"));
                assert!(err(&r, "c.d:").contains("no data"));
            }
            "html500" => {
                let e = r.expect_err("500");
                assert_eq!(e.status(), Some(500), "{e:?}");
                let msg = e.to_string();
                assert!(
                    msg.contains("Server Error (500)") && !msg.contains('<'),
                    "{msg}"
                );
            }
            "truncated" => {
                let e = r.expect_err("truncated");
                assert!(e.to_string().contains("truncated JSON"), "{e}");
            }
            "huge" | "huge_chunked" => {
                let e = r.expect_err("40 MB");
                assert!(matches!(e, HttpError::TooLarge { .. }), "{e:?}");
                assert!(e.to_string().contains("over the 32 MB cap"), "{e}");
            }
            "notjson" => {
                let e = r.expect_err("not a list");
                assert!(matches!(e, HttpError::Decode { .. }), "{e:?}");
            }
            _ => unreachable!(),
        }
    }
}

#[tokio::test]
async fn one_bad_target_does_not_hide_the_others() {
    // Graphite rejects the whole render when one target is bad (400 naming it); the source then
    // asks per target so the good series still show.
    let t = chrono::Utc::now().timestamp();
    let server = CannedServer::start(move |req| {
        let targets: Vec<String> = req
            .params()
            .into_iter()
            .filter(|(k, _)| k == "target")
            .map(|(_, v)| v)
            .collect();
        if let Some(bad) = targets.iter().find(|t| t.contains("nosuch")) {
            return Reply::new(
                400,
                "text/plain",
                format!("Invalid parameters (Received request for unknown function: nosuch); targets: \"{bad}\""),
            );
        }
        let series: Vec<(String, String)> = targets
            .iter()
            .map(|tg| {
                let alias = tg.rsplit('\'').nth(1).unwrap().to_string();
                (alias, format!("[[7.0, {}]]", t - 5))
            })
            .collect();
        let series: Vec<(&str, &str)> = series.iter().map(|(a, d)| (a.as_str(), d.as_str())).collect();
        Reply::json(200, render_body(&series))
    })
    .await;
    let src = canned(&server.url(), &["a.b", "nosuch(a.b)", "c.d"]);
    let r = src
        .fetch(&query(member("web-1"), Window::M15, 30))
        .await
        .expect("fetch");
    assert_eq!(ok(&r, "a.b").last, Some(7.0));
    assert_eq!(ok(&r, "c.d").last, Some(7.0));
    let e = err(&r, "nosuch(a.b):");
    assert!(e.contains("400") && e.contains("unknown function"), "{e}");

    // When every target fails, the fetch fails (the pane shows the backend as retrying).
    let server = CannedServer::start(|_| Reply::html(500, "<h1>Server Error (500)</h1>")).await;
    let src = canned(&server.url(), &["a.b", "c.d"]);
    let e = src
        .fetch(&query(member("web-1"), Window::M15, 30))
        .await
        .expect_err("all failed");
    assert_eq!(e.status(), Some(500));
}

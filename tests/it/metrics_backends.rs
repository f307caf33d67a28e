//! The metrics sources against real servers, each started by its test on free loopback ports:
//! Graphite 1.1 (Debian carbon-cache + graphite-web under gunicorn) fed by a real StatsD 0.9.0 over
//! UDP, and Prometheus (Debian `prometheus`) scraping every second an exposition-format target the
//! test serves and changes; bad answers no real server gives on demand come from a canned HTTP
//! server. Known values over time, many series in one request, per-series errors, gaps never
//! invented, and the metrics pane in a real terminal (a canned Prometheus answer: only it gives a
//! series laid over whatever window is asked).

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opsconsole::config::MetricsProfile;
use opsconsole::model::{MetricsQuery, MetricsResult, Series, Window};
use opsconsole::sources::http::HttpError;
use opsconsole::sources::metrics::MetricsSource;

use common::e2e::panes_fleet;
use common::metrics_servers::{CannedServer, ExpositionTarget, Graphite, Prometheus, Reply};
use common::metrics_source::{self, err, member, ok, query, source};
use common::panes::{cells, is_spark, metrics_pane};
use common::tmux::SOON;
use common::wait::wait_until_async_or;
use common::{wait_until_async, wait_until_or};

// ---------------------------------------------------------------------------------------------
// Graphite + StatsD

fn graphite_profile(url: &str, series: &[&str]) -> MetricsProfile {
    metrics_source::profile("graphite", url, series)
}

fn assert_no_false_gaps_but_the_newest(s: &Series) {
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

const GRAPHITE_SERIES: [&str; 6] = [
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
    let src = source(graphite_profile(&g.url(), &GRAPHITE_SERIES));
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
    assert_eq!(r.series.len(), GRAPHITE_SERIES.len());
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
    assert_no_false_gaps_but_the_newest(cpu);
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
    assert_no_false_gaps_but_the_newest(cpu);

    // Cluster-wide: the placeholder becomes a wildcard, averaged. Waited for: graphite-web reads
    // each series' newest point from carbon's cache on its own, so one fetch can land between
    // web-1's and web-2's points of the same StatsD flush (seen once in CI: 45, web-1 alone).
    let r = fetch_until(
        &src,
        &query(None, Window::M15, 900),
        &g,
        "both members' gauges in the newest average",
        |r| last_of(r, "cpu") == Some(27.5),
    )
    .await;
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

fn canned(url: &str, targets: &[&str]) -> MetricsSource {
    let series: Vec<String> = targets
        .iter()
        .map(|t| format!("{{ name = \"{t}\", target = \"{t}\" }}"))
        .collect();
    let series: Vec<&str> = series.iter().map(String::as_str).collect();
    source(graphite_profile(url, &series))
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

// ---------------------------------------------------------------------------------------------
// Prometheus

fn prometheus_profile(url: &str, series: &[&str]) -> MetricsProfile {
    metrics_source::profile("prometheus", url, series)
}

fn first_index(points: &[Option<f64>], v: f64) -> Option<usize> {
    points.iter().position(|p| *p == Some(v))
}

/// After the first column with data, no column may be empty: the data is continuous, so a gap
/// there would be invented by the step/column arithmetic.
fn assert_no_false_gaps(s: &Series) {
    let first = s
        .points
        .iter()
        .position(Option::is_some)
        .expect("some data");
    let holes: Vec<usize> = (first..s.points.len())
        .filter(|&i| s.points[i].is_none())
        .collect();
    assert!(
        holes.is_empty(),
        "{}: empty columns {holes:?} inside continuous data (width {})",
        s.name,
        s.points.len()
    );
}

fn exposition(web1: f64) -> String {
    format!(
        "# TYPE app_cpu gauge\napp_cpu{{instance=\"web-1\"}} {web1}\napp_cpu{{instance=\"web-2\"}} 10\n\
         # TYPE app_mem_bytes gauge\napp_mem_bytes{{instance=\"web-1\"}} 1048576\n"
    )
}

const PROMETHEUS_SERIES: [&str; 5] = [
    r#"{ name = "cpu", query = 'app_cpu{instance="{instance}"}', unit = "%" }"#,
    r#"{ name = "mem", query = 'app_mem_bytes{instance="{instance}"}', unit = "B" }"#,
    r#"{ name = "broken", query = 'rate(app_cpu{instance="{instance}"}[1m]' }"#,
    r#"{ name = "absent", query = 'app_nothing{instance="{instance}"}' }"#,
    r#"{ name = "typo", query = 'app_cpu{instance="{instanse}"}' }"#,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_known_values_cluster_form_bad_query_and_24h_cap() {
    let t0 = Instant::now();
    let target = ExpositionTarget::start(&exposition(42.0)).await;
    let mut prom = tokio::task::block_in_place(|| Prometheus::start(target.port()));
    tokio::task::block_in_place(|| prom.wait_for_series("app_cpu", Duration::from_secs(30)));
    let src = source(prometheus_profile(&prom.url(), &PROMETHEUS_SERIES));

    // Known values over time: 42, then 50, then 45 — each held for several 1 s scrapes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    target.set(&exposition(50.0));
    tokio::time::sleep(Duration::from_secs(3)).await;
    target.set(&exposition(45.0));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(target.scrapes() >= 6, "only {} scrapes", target.scrapes());

    // A member's vars, 15 min at 900 columns (step 1 s: every held value is sampled).
    let r = src
        .fetch(&query(member("web-1"), Window::M15, 900))
        .await
        .expect("fetch");
    let cpu = ok(&r, "cpu");
    assert_eq!(cpu.expr, r#"app_cpu{instance="web-1"}"#);
    assert_eq!(cpu.unit, "%");
    assert_eq!(
        (cpu.last, cpu.min, cpu.max),
        (Some(45.0), Some(42.0), Some(50.0))
    );
    assert_eq!(cpu.points.len(), 900);
    let (a, b, c) = (
        first_index(&cpu.points, 42.0).expect("42 in the sparkline"),
        first_index(&cpu.points, 50.0).expect("50 in the sparkline"),
        first_index(&cpu.points, 45.0).expect("45 in the sparkline"),
    );
    assert!(a < b && b < c, "values out of order: {a} {b} {c}");
    assert_eq!(*cpu.points.last().unwrap(), Some(45.0));
    assert_no_false_gaps(cpu);
    // Before the first scrape there is no data: gaps, never zeros.
    assert!(cpu.points[..a].iter().all(Option::is_none));
    assert!(cpu.points.iter().flatten().all(|v| *v != 0.0));
    assert_eq!(ok(&r, "mem").last, Some(1_048_576.0));

    // A bad PromQL query is that series' error, naming the problem; the others still work.
    let broken = err(&r, "broken:");
    assert!(
        broken.contains("400") && broken.contains("bad_data") && broken.contains("parse error"),
        "{broken}"
    );
    assert!(err(&r, "absent:").contains("no series matched"));
    assert!(err(&r, "typo:").contains("{instanse}"));

    // 120 columns over 15 min: step 8 s for 7.5 s columns — still no invented gaps, and the
    // newest value is the one at `end` itself, not up to a step earlier. (A scrape that times out
    // on a loaded machine leaves a stale marker that hides the newest sample for a second, so
    // this is retried briefly.)
    let r = wait_until_async(
        "the newest value 45 at the end of 120 columns",
        Duration::from_secs(5),
        || async {
            let r = src
                .fetch(&query(member("web-1"), Window::M15, 120))
                .await
                .expect("fetch");
            let cpu = ok(&r, "cpu");
            if cpu.last == Some(45.0) {
                Ok(r)
            } else {
                Err(format!("{:?}", &cpu.points[100..]))
            }
        },
    )
    .await;
    let cpu = ok(&r, "cpu");
    assert_eq!(cpu.points.len(), 120);
    assert_eq!(cpu.last, Some(45.0), "{:?}", &cpu.points[100..]);
    // A 3 s value may fall between two 8 s evaluations: only the range of max is known.
    assert!((45.0..=50.0).contains(&cpu.max.unwrap()), "{:?}", cpu.max);
    assert_eq!(*cpu.points.last().unwrap(), Some(45.0));
    assert_no_false_gaps(cpu);

    // Cluster-wide form: the member matcher becomes =~".+" and the series are averaged.
    let r = src
        .fetch(&query(None, Window::M15, 900))
        .await
        .expect("fetch");
    let cpu = ok(&r, "cpu");
    assert_eq!(cpu.expr, r#"avg(app_cpu{instance=~".+"})"#);
    assert_eq!(
        (cpu.last, cpu.min, cpu.max),
        (Some(27.5), Some(26.0), Some(30.0))
    );
    assert!(err(&r, "broken:").contains("parse error"));

    // 24 h at a huge width: the step respects Prometheus's 11,000-points cap, no error.
    let r = src
        .fetch(&query(member("web-1"), Window::H24, 50_000))
        .await
        .expect("fetch");
    for name in ["cpu", "mem"] {
        let s = ok(&r, name);
        assert_eq!(s.points.len(), 50_000);
    }
    assert_eq!(ok(&r, "cpu").last, Some(45.0));
    for e in r.series.iter().filter_map(|s| s.as_ref().err()) {
        assert!(!e.contains("11,000"), "{e}");
    }
    eprintln!("real prometheus test took {:?}", t0.elapsed());
}

fn now() -> f64 {
    chrono::Utc::now().timestamp() as f64
}

fn matrix(values: &[(f64, &str)]) -> String {
    let vals: Vec<String> = values
        .iter()
        .map(|(t, v)| format!("[{t},\"{v}\"]"))
        .collect();
    format!(
        r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"__name__":"x"}},"values":[{}]}}]}}}}"#,
        vals.join(",")
    )
}

fn canned_profile(url: &str, queries: &[&str]) -> MetricsProfile {
    let series: Vec<String> = queries
        .iter()
        .map(|q| format!("{{ name = \"{q}\", query = \"{q}\" }}"))
        .collect();
    let series: Vec<&str> = series.iter().map(String::as_str).collect();
    prometheus_profile(url, &series)
}

#[tokio::test]
async fn bad_answers_are_per_series_errors_or_gaps() {
    let t = now();
    let good = matrix(&[
        (t - 60.0, "1"),
        (t - 50.0, "NaN"),
        (t - 40.0, "+Inf"),
        (t - 30.0, "-Inf"),
        (t - 20.0, "2.5"),
        (t - 10.0, "NaN"),
    ]);
    let server = CannedServer::start(move |req| {
        let q = req
            .params()
            .into_iter()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v)
            .unwrap_or_default();
        match q.as_str() {
            "specials" => Reply::json(200, good.clone()),
            "nan_only" => Reply::json(200, matrix(&[(now() - 5.0, "NaN")])),
            "bad" => Reply::json(
                400,
                r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:4: parse error: unexpected end of input"}"#,
            ),
            "cannot" => Reply::json(
                422,
                r#"{"status":"error","errorType":"execution","error":"found duplicate series for the match group"}"#,
            ),
            "truncated" => Reply::json(
                200,
                r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]"#,
            ),
            "proxy" => Reply::html(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
            "vector" => Reply::json(
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            ),
            "huge" => Reply::json(200, vec![b' '; 40 << 20]),
            "huge_chunked" => Reply::json(200, vec![b' '; 40 << 20]).chunked(),
            other => Reply::json(404, format!("unexpected query {other}")),
        }
    })
    .await;
    let names = [
        "specials",
        "nan_only",
        "bad",
        "cannot",
        "truncated",
        "proxy",
        "vector",
        "huge",
        "huge_chunked",
    ];
    let src = source(canned_profile(&server.url(), &names));
    let started = Instant::now();
    let r = src
        .fetch(&query(member("web-1"), Window::M15, 90))
        .await
        .expect("fetch never fails as a whole for prometheus");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(r.series.len(), names.len());

    // NaN and ±Inf are gaps, never drawn, never the last/min/max.
    let s = ok(&r, "specials");
    assert_eq!((s.last, s.min, s.max), (Some(2.5), Some(1.0), Some(2.5)));
    assert!(s.points.iter().flatten().all(|v| v.is_finite()));
    assert_eq!(s.points.iter().flatten().count(), 2, "{:?}", s.points);
    let s = ok(&r, "nan_only");
    assert_eq!((s.last, s.min, s.max), (None, None, None));
    assert!(s.points.iter().all(Option::is_none));

    let e = err(&r, "bad:");
    assert!(
        e.contains("400") && e.contains("bad_data") && e.contains("unexpected end of input"),
        "{e}"
    );
    let e = err(&r, "cannot:");
    assert!(
        e.contains("422") && e.contains("execution") && e.contains("duplicate series"),
        "{e}"
    );
    let e = err(&r, "truncated:");
    assert!(e.contains("truncated JSON"), "{e}");
    let e = err(&r, "proxy:");
    assert!(e.contains("502") && e.contains("HTML"), "{e}");
    let e = err(&r, "vector:");
    assert!(e.contains("matrix") && e.contains("vector"), "{e}");
    for name in ["huge:", "huge_chunked:"] {
        let e = err(&r, name);
        assert!(e.contains("over the 32 MB cap"), "{e}");
    }

    // Each series is its own POST to /api/v1/query_range with a step from the width.
    let reqs = server.requests();
    assert_eq!(reqs.len(), names.len());
    for req in &reqs {
        assert_eq!(req.method, "POST");
        assert!(req.target.starts_with("/api/v1/query_range"), "{req:?}");
        let p = req.params();
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("step").as_deref(), Some("10"));
        let (start, end): (i64, i64) = (
            get("start").unwrap().parse().unwrap(),
            get("end").unwrap().parse().unwrap(),
        );
        assert_eq!(end - start, 900);
    }
}

#[tokio::test]
async fn a_failing_backend_fails_the_whole_fetch() {
    // Down: every query fails to connect → one HttpError (the source retries with backoff and
    // keeps the last good sparklines) rather than a "Live" pane full of per-series errors.
    let port = common::free_port();
    let src = source(canned_profile(
        &format!("http://127.0.0.1:{port}"),
        &["up", "x"],
    ));
    let e = src
        .fetch(&query(None, Window::H1, 60))
        .await
        .expect_err("prometheus is down");
    assert!(matches!(e, HttpError::Unreachable(_)), "{e:?}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");

    // Every query answered 503 (Prometheus overloaded, or a proxy's page): the fetch fails too.
    let server = CannedServer::start(|_| {
        Reply::json(
            503,
            r#"{"status":"error","errorType":"unavailable","error":"too many queries"}"#,
        )
    })
    .await;
    let src = source(canned_profile(&server.url(), &["up", "x"]));
    let e = src
        .fetch(&query(None, Window::H1, 60))
        .await
        .expect_err("all 503");
    assert_eq!(e.status(), Some(503), "{e:?}");
    assert!(e.to_string().contains("too many queries"), "{e}");
    let server = CannedServer::start(|_| {
        Reply::html(
            502,
            "<html><head><title>502 Bad Gateway</title></head></html>",
        )
    })
    .await;
    let src = source(canned_profile(&server.url(), &["up"]));
    let e = src
        .fetch(&query(None, Window::H1, 60))
        .await
        .expect_err("502");
    assert_eq!(
        e.to_string(),
        format!(
            "502 from {}/api/v1/query_range: 502 Bad Gateway",
            server.url()
        )
    );

    // A rejected credential is the backend's answer for every series, too.
    let server = CannedServer::start(|_| Reply::json(401, "{}")).await;
    let src = source(canned_profile(&server.url(), &["up"]));
    let e = src
        .fetch(&query(None, Window::H1, 60))
        .await
        .expect_err("401");
    assert!(matches!(e, HttpError::Auth { status: 401, .. }), "{e:?}");

    // Bad PromQL in every series is the queries' fault: per-series errors, the fetch succeeds.
    let server = CannedServer::start(|_| {
        Reply::json(
            400,
            r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#,
        )
    })
    .await;
    let src = source(canned_profile(&server.url(), &["up", "x"]));
    let r = src
        .fetch(&query(None, Window::H1, 60))
        .await
        .expect("query errors are per series");
    assert!(r
        .series
        .iter()
        .all(|s| s.as_ref().is_err_and(|e| e.contains("parse error"))));
}

// ---------------------------------------------------------------------------------------------
// The metrics pane in a real terminal

/// Answers `POST/GET /api/v1/query_range` with one fixed matrix series laid over the asked range
/// (so it lands inside the window whatever the clock says): values cycle 10, 15, … 65 and the
/// newest point is 73.4. Records each request's form.
struct FakePrometheus {
    port: u16,
    requests: Arc<Mutex<Vec<Form>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakePrometheus {
    fn start() -> FakePrometheus {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stopped) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    let reqs = reqs.clone();
                    std::thread::spawn(move || {
                        let _ = serve_query_range(conn, &reqs);
                    });
                }
            }
        });
        FakePrometheus {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Form> {
        self.requests.lock().unwrap().clone()
    }
}

const NEWEST_VALUE: f64 = 73.4;

/// A request's decoded parameters (query string and form body), in order.
type Form = Vec<(String, String)>;

impl Drop for FakePrometheus {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn param<'a>(form: &'a [(String, String)], k: &str) -> Option<&'a str> {
    form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn serve_query_range(conn: TcpStream, reqs: &Mutex<Vec<Form>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let target = request_line.split_whitespace().nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut form = parse_form(query);
    form.extend(parse_form(&String::from_utf8_lossy(&body)));

    let (status, answer) = if path == "/api/v1/query_range" {
        let num = |k: &str| param(&form, k).and_then(|v| v.parse::<f64>().ok());
        match (num("start"), num("end"), num("step")) {
            (Some(start), Some(end), Some(step)) if step > 0.0 && end >= start => {
                let n = ((end - start) / step).floor() as usize;
                let values: Vec<serde_json::Value> = (0..=n)
                    .map(|i| {
                        let v = if i == n {
                            NEWEST_VALUE
                        } else {
                            10.0 + 5.0 * (i % 12) as f64
                        };
                        serde_json::json!([start + i as f64 * step, v.to_string()])
                    })
                    .collect();
                (
                    200,
                    serde_json::json!({"status": "success", "data": {"resultType": "matrix",
                        "result": [{"metric": {"__name__": "x"}, "values": values}]}}),
                )
            }
            _ => (
                400,
                serde_json::json!({"status": "error", "errorType": "bad_data",
                    "error": "start, end and step are required"}),
            ),
        }
    } else {
        (
            404,
            serde_json::json!({"status": "error", "errorType": "not_found", "error": path}),
        )
    };
    reqs.lock().unwrap().push(form);
    let text = answer.to_string();
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    )?;
    conn.flush()
}

#[test]
fn metrics_pane_shows_a_prometheus_series_and_switches_window() {
    let prom = FakePrometheus::start();
    let f = panes_fleet(&format!(
        "metrics = {{ kind = \"prometheus\", url = \"{}\", series = [{{ name = \"cpu\", query = \"x\" }}] }}",
        prom.url()
    ));
    let t = f.console(&[]);
    let s = t.wait_screen("the cpu series with its newest value", SOON, |s| {
        metrics_pane(s)
            .iter()
            .any(|l| cells(l).first() == Some(&"cpu") && l.contains("73.4"))
    });
    let pane = metrics_pane(&s);
    assert!(pane[0].contains("[1h]"), "{}", pane[0]);
    let row = pane
        .iter()
        .find(|l| cells(l).first() == Some(&"cpu"))
        .unwrap();
    let spark: String = row.chars().filter(|c| is_spark(*c)).collect();
    assert!(spark.chars().count() > 20, "no sparkline: {row}");
    assert!(
        spark.contains('█') && spark.contains('▁'),
        "the sparkline does not span min..max: {row}"
    );
    assert!(row.contains("10.0…73.4"), "min…max missing: {row}");
    let reqs = prom.requests();
    let first = reqs.first().expect("a query_range request");
    assert_eq!(param(first, "query"), Some("x"), "{first:?}");
    let span = |form: &[(String, String)]| {
        let n = |k| param(form, k).and_then(|v| v.parse::<f64>().ok()).unwrap();
        n("end") - n("start")
    };
    assert!((3600.0..3700.0).contains(&span(first)), "{first:?}");

    t.send(&["Tab"]);
    t.send(&["Tab"]);
    t.send(&["w"]);
    let s = t.wait_screen("the window label [6h]", SOON, |s| {
        metrics_pane(s)[0].contains("[6h]")
    });
    assert!(!metrics_pane(&s)[0].contains("[1h]"), "{s}");
    wait_until_or(
        "a 6h query",
        SOON,
        || {
            prom.requests()
                .into_iter()
                .find(|f| (21600.0..21900.0).contains(&span(f)))
        },
        || format!("requests: {:?}", prom.requests()),
    );
    t.wait_screen("the series drawn for 6h", SOON, |s| {
        metrics_pane(s)
            .iter()
            .any(|l| cells(l).first() == Some(&"cpu") && l.contains("73.4"))
    });
}

//! The Prometheus metrics source against a real Prometheus (Debian `prometheus`, started per test on
//! a free port) scraping every second an exposition-format target this test serves and changes;
//! bad answers no real server gives on demand come from a canned HTTP server.

use crate::common;

use std::time::{Duration, Instant};

use opsconsole::config::MetricsProfile;
use opsconsole::model::{Series, Window};
use opsconsole::sources::http::HttpError;

use common::metrics_servers::{CannedServer, ExpositionTarget, Prometheus, Reply};
use common::metrics_source::{self, err, member, ok, query, source};
use common::wait_until_async;

fn profile(url: &str, series: &[&str]) -> MetricsProfile {
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

const SERIES: [&str; 5] = [
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
    let src = source(profile(&prom.url(), &SERIES));

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

// ------------------------------------------------------------------ bad answers (canned server)

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
    profile(url, &series)
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

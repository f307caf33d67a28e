//! Prometheus `/api/v1/query_range`: one request per series (the API takes one query), run
//! concurrently; string values (`"NaN"`, `"+Inf"`), float timestamps, the step chosen from the pane
//! width and the 11,000-point cap; missing samples are gaps.

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde::Deserialize;

use super::common::{bounds, choose_step, downsample_stepped, error_body, summarize, Expr};
use crate::config::HttpBackend;
use crate::model::{Points, Series, Window};
use crate::sources::http::{self, HttpError};

#[derive(Debug, Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<MatrixSeries>,
}

#[derive(Debug, Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    values: Vec<(f64, Sample)>,
}

/// A sample value: a JSON string (`"1.5"`, `"NaN"`, `"+Inf"`) parsed in place without allocating;
/// `None` unless finite.
#[derive(Debug, Clone, Copy)]
struct Sample(Option<f64>);

impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Sample;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sample value as a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Sample, E> {
                Ok(Sample(v.parse::<f64>().ok().filter(|v| v.is_finite())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Points of a matrix answer; several series are averaged per timestamp. A timestamp where no
/// series has a finite value (`"NaN"`, `"+Inf"`) is kept as `None`: a gap, not a missing sample.
pub fn parse_matrix(raw: &[u8], url: &str) -> Result<Points, String> {
    let a: Answer = http::decode(raw, url).map_err(|e| e.to_string())?;
    if a.status != "success" {
        return Err(format!(
            "{}: {}",
            a.error_type.unwrap_or_else(|| "error".into()),
            a.error.unwrap_or_default()
        ));
    }
    let data = a.data.ok_or("answer has no data")?;
    if data.result_type != "matrix" {
        return Err(format!("expected a matrix, got {}", data.result_type));
    }
    match data.result.as_slice() {
        [] => Err("no series matched".into()),
        [one] => Ok(one.values.iter().map(|(ts, v)| (*ts, v.0)).collect()),
        many => {
            let mut by_ts: std::collections::BTreeMap<i64, (f64, u32)> = Default::default();
            for s in many {
                for (ts, v) in &s.values {
                    let e = by_ts
                        .entry((ts * 1000.0).round() as i64)
                        .or_insert((0.0, 0));
                    if let Sample(Some(v)) = v {
                        e.0 += v;
                        e.1 += 1;
                    }
                }
            }
            Ok(by_ts
                .into_iter()
                .map(|(ms, (sum, n))| (ms as f64 / 1000.0, (n > 0).then(|| sum / n as f64)))
                .collect())
        }
    }
}

/// The `start` of a range query over `[start, end]` at `step`: Prometheus evaluates at `start`,
/// `start + step`, …, so starting a whole number of steps before `end` makes the last point `end`
/// itself (the newest value), not up to a step earlier.
pub fn query_start(start: i64, end: i64, step: i64) -> i64 {
    let step = step.max(1);
    let n = (end - start + step - 1) / step;
    end - n * step
}

/// Why one query failed: the query itself (bad PromQL, no series, an odd answer — shown on its
/// row), or the backend (unreachable, slow, 5xx, rejected credential).
enum Failure {
    Query(String),
    Backend(String, HttpError),
}

/// One request per series, run concurrently. When every series fails because of the backend, the
/// whole fetch fails (the source shows the backend as retrying and keeps the last good data);
/// otherwise each failure is that series' error.
/// The alerts firing at `at` by Prometheus's record (`ALERTS{alertstate="firing"}`, an instant
/// query at `time=at`), as Alertmanager rows: entity `instance`, check `alertname`, status from
/// `severity`, the labels without `__name__` and `alertstate` (so they compare with
/// Alertmanager's).
pub async fn firing_at(
    client: &Client,
    backend: &HttpBackend,
    at: DateTime<Utc>,
) -> Result<Vec<crate::model::CheckResult>, String> {
    let url = format!("{}/api/v1/query", backend.url);
    let form = [
        ("query", r#"ALERTS{alertstate="firing"}"#.to_string()),
        (
            "time",
            format!("{:.3}", at.timestamp_millis() as f64 / 1000.0),
        ),
    ];
    let req = http::with_basic(client.post(&url).form(&form), &backend.auth);
    let resp = http::send(req, backend.timeout)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let raw = http::body(resp, &url, backend.timeout)
        .await
        .map_err(|e| e.to_string())?;
    let v: serde_json::Value = http::decode(&raw, &url).map_err(|e| e.to_string())?;
    if !status.is_success() || v["status"] != "success" {
        return Err(format!(
            "HTTP {status}: {}",
            v["error"].as_str().unwrap_or("no reason given")
        ));
    }
    let mut rows = Vec::new();
    for series in v["data"]["result"].as_array().into_iter().flatten() {
        let Some(metric) = series["metric"].as_object() else {
            continue;
        };
        let mut labels: Vec<(String, String)> = metric
            .iter()
            .filter(|(k, _)| *k != "__name__" && *k != "alertstate")
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect();
        labels.sort();
        let get = |k: &str| labels.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let Some(check) = get("alertname") else {
            continue;
        };
        rows.push(crate::model::CheckResult {
            entity: get("instance").unwrap_or_default(),
            check,
            status: crate::sources::checks::alertmanager::status_from_severity(
                get("severity").as_deref(),
            ),
            labels,
            ..Default::default()
        });
    }
    Ok(rows)
}

pub async fn query_all(
    client: &Client,
    backend: &HttpBackend,
    exprs: &[Expr],
    window: Window,
    width: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Result<Series, String>>, HttpError> {
    let (start, end) = bounds(window, now);
    let step = choose_step(end - start, width);
    let from = query_start(start, end, step);
    let url = format!("{}/api/v1/query_range", backend.url);
    let calls = exprs.iter().map(|(name, expr, unit)| {
        let url = url.clone();
        async move {
            let form = [
                ("query", expr.clone()),
                ("start", from.to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
            ];
            let req = http::with_basic(client.post(&url).form(&form), &backend.auth);
            let resp = http::send(req, backend.timeout)
                .await
                .map_err(|e| Failure::Backend(format!("{name}: {e}"), e))?;
            // Prometheus puts its reason in a JSON body on 400/422/503: read it either way.
            let status = resp.status();
            let raw = http::body(resp, &url, backend.timeout)
                .await
                .map_err(|e| match e {
                    HttpError::TooLarge { .. } => Failure::Query(format!("{name}: {e}")),
                    e => Failure::Backend(format!("{name}: {e}"), e),
                })?;
            if status == 401 || status == 403 {
                let e = HttpError::Auth {
                    status: status.as_u16(),
                    credential: http::credential_name(&backend.auth),
                };
                return Err(Failure::Backend(format!("{name}: {e}"), e));
            }
            let pts = parse_matrix(&raw, &url).map_err(|e| {
                if status.is_success() {
                    Failure::Query(format!("{name}: {e}"))
                } else if status == 400 || status == 422 {
                    // bad_data / execution: the query's own fault.
                    Failure::Query(format!("{name}: HTTP {status}: {e}"))
                } else {
                    Failure::Backend(
                        format!("{name}: HTTP {status}: {e}"),
                        HttpError::Status {
                            status: status.as_u16(),
                            url: url.clone(),
                            body: error_body(&raw),
                        },
                    )
                }
            })?;
            let points = downsample_stepped(&pts, start as f64, end as f64, width, step as f64);
            // Points before `start` (the query starts up to a step early) only carry into the
            // first column; last/min/max are over the window.
            let first = pts.partition_point(|(ts, _)| *ts < start as f64);
            Ok(summarize(name, expr, unit, &pts[first..], points))
        }
    });
    let results = futures::future::join_all(calls).await;
    if results
        .iter()
        .all(|r| matches!(r, Err(Failure::Backend(..))))
    {
        if let Some(Err(Failure::Backend(_, e))) = results.into_iter().next() {
            return Err(e);
        }
        return Ok(Vec::new());
    }
    Ok(results
        .into_iter()
        .map(|r| {
            r.map_err(|f| match f {
                Failure::Query(m) | Failure::Backend(m, _) => m,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_values_and_specials() {
        let raw = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[100,"1"],[115.5,"NaN"],[130,"+Inf"],[145,"2.5"]]}]}}"#;
        let p = parse_matrix(raw, "u").unwrap();
        assert_eq!(
            p,
            vec![
                (100.0, Some(1.0)),
                (115.5, None),
                (130.0, None),
                (145.0, Some(2.5))
            ]
        );
    }

    #[test]
    fn the_last_evaluation_is_at_end() {
        assert_eq!(query_start(100, 1000, 10), 100);
        // 900 s at step 8: start 4 s early so that start + 113 * 8 == end.
        assert_eq!(query_start(100, 1000, 8), 96);
        assert_eq!((86_400 - query_start(0, 86_400, 8)) / 8, 10_800);
    }

    #[test]
    fn several_series_average_and_nan_everywhere_is_a_gap() {
        let raw = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"i":"a"},"values":[[10,"1"],[20,"NaN"],[30,"3"]]},
            {"metric":{"i":"b"},"values":[[10,"3"],[20,"NaN"],[30,"NaN"]]}]}}"#;
        let p = parse_matrix(raw, "u").unwrap();
        assert_eq!(p, vec![(10.0, Some(2.0)), (20.0, None), (30.0, Some(3.0))]);
    }

    #[test]
    fn errors_are_reported() {
        let raw = br#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points"}"#;
        assert!(parse_matrix(raw, "u").unwrap_err().contains("bad_data"));
        let raw = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(parse_matrix(raw, "u").unwrap_err().contains("no series"));
        assert!(parse_matrix(b"{\"status\":", "u").is_err());
    }
}

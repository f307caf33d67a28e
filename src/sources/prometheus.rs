//! Prometheus `/api/v1/query_range`: one request per series (the API takes one query), run
//! concurrently; string values (`"NaN"`, `"+Inf"`), float timestamps, the step chosen from the pane
//! width and the 11,000-point cap; missing samples are gaps.

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde::Deserialize;

use super::http;
use super::metrics::{bounds, choose_step, downsample, summarize, Series, Window};
use crate::config::HttpBackend;

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
    values: Vec<(f64, String)>,
}

/// Points of the first series of a matrix answer (several series are averaged per timestamp).
pub fn parse_matrix(raw: &[u8], url: &str) -> Result<Vec<(f64, Option<f64>)>, String> {
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
    if data.result.is_empty() {
        return Err("no series matched".into());
    }
    let mut by_ts: std::collections::BTreeMap<i64, (f64, u32)> = Default::default();
    for s in &data.result {
        for (ts, v) in &s.values {
            let Ok(v) = v.parse::<f64>() else { continue };
            if !v.is_finite() {
                continue;
            }
            let e = by_ts.entry((ts * 1000.0) as i64).or_insert((0.0, 0));
            e.0 += v;
            e.1 += 1;
        }
    }
    Ok(by_ts
        .into_iter()
        .map(|(ms, (sum, n))| (ms as f64 / 1000.0, Some(sum / n as f64)))
        .collect())
}

pub async fn query_all(
    client: &Client,
    backend: &HttpBackend,
    exprs: &[(String, String, String)],
    window: Window,
    width: usize,
    now: DateTime<Utc>,
) -> Vec<Result<Series, String>> {
    let (start, end) = bounds(window, now);
    let step = choose_step(end - start, width);
    let url = format!("{}/api/v1/query_range", backend.url);
    let calls = exprs.iter().map(|(name, expr, unit)| {
        let url = url.clone();
        async move {
            let form = [
                ("query", expr.clone()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
            ];
            let req = http::with_basic(client.post(&url).form(&form), &backend.auth);
            let resp = http::send(req, backend.timeout)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            // Prometheus puts its reason in a JSON body on 400/422/503: read it either way.
            let status = resp.status();
            let raw = http::body(resp, &url, backend.timeout)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            if status == 401 || status == 403 {
                return Err(format!(
                    "{name}: {status}: {} was rejected",
                    http::credential_name(&backend.auth)
                ));
            }
            let pts = parse_matrix(&raw, &url).map_err(|e| {
                if status.is_success() {
                    format!("{name}: {e}")
                } else {
                    format!("{name}: HTTP {status}: {e}")
                }
            })?;
            let points = downsample(&pts, start as f64, end as f64, width);
            Ok(summarize(name, expr, unit, &pts, points))
        }
    });
    futures::future::join_all(calls).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_values_and_specials() {
        let raw = br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[100,"1"],[115.5,"NaN"],[130,"+Inf"],[145,"2.5"]]}]}}"#;
        let p = parse_matrix(raw, "u").unwrap();
        assert_eq!(p, vec![(100.0, Some(1.0)), (145.0, Some(2.5))]);
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

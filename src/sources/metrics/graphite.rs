//! Graphite render API: every visible series in one POST (`alias`ed so answers map back to rows),
//! `[value, ts]` points with null gaps, and the `1e9999` infinity quirk that serde_json rejects.

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde::Deserialize;

use super::common::{bounds, downsample, error_body, summarize, Expr};
use crate::config::HttpBackend;
use crate::model::{Points, Series, Window};
use crate::sources::http::{self, HttpError};

#[derive(Debug, Deserialize)]
struct RenderSeries {
    target: String,
    #[serde(default)]
    datapoints: Vec<(Option<f64>, Option<f64>)>,
}

/// Render answers by target: `(target, points)`.
pub type Rendered = Vec<(String, Points)>;

/// Graphite writes ±Infinity as `1e9999`, which is out of range for serde_json: map it to ±f64::MAX
/// first, and back to infinity after parsing (downsampling then treats it as missing).
pub fn parse_render(raw: &[u8], url: &str) -> Result<Rendered, HttpError> {
    let text = String::from_utf8_lossy(raw);
    let fixed;
    let body: &str = if text.contains("1e9999") {
        // One pass: `-1e9999` becomes `-1.79…e308` with its sign kept.
        fixed = text.replace("1e9999", "1.7976931348623157e308");
        &fixed
    } else {
        &text
    };
    let series: Vec<RenderSeries> = http::decode(body.as_bytes(), url)?;
    Ok(series
        .into_iter()
        .map(|s| {
            let pts = s
                .datapoints
                .into_iter()
                .filter_map(|(v, ts)| {
                    let ts = ts?;
                    let v = v.map(|v| {
                        if v.abs() >= f64::MAX {
                            v.signum() * f64::INFINITY
                        } else {
                            v
                        }
                    });
                    Some((ts, v))
                })
                .collect();
            (s.target, pts)
        })
        .collect())
}

/// Sends `targets` (`(row index, expression)`) in one render POST, each `alias`ed to `s<row>`, for
/// `[start, end]` as epoch seconds — the same bounds the columns are drawn over (a relative
/// `from=-15min` is resolved by graphite's clock, a request later than ours).
async fn fetch_targets(
    client: &Client,
    backend: &HttpBackend,
    targets: &[(usize, &str)],
    (start, end): (i64, i64),
    width: usize,
) -> Result<Rendered, HttpError> {
    let url = format!("{}/render", backend.url);
    let mut form: Vec<(String, String)> = vec![
        ("format".into(), "json".into()),
        ("from".into(), start.to_string()),
        ("until".into(), end.to_string()),
        ("maxDataPoints".into(), width.max(1).to_string()),
    ];
    for (i, expr) in targets {
        form.push(("target".into(), format!("alias({expr},'s{i}')")));
    }
    let req = http::with_basic(client.post(&url).form(&form), &backend.auth);
    let resp = http::send(req, backend.timeout).await?;
    let status = resp.status();
    if !status.is_success() && status != 401 && status != 403 {
        // Graphite answers 400 with plain text naming the bad target, 500 with an HTML page.
        let raw = http::body(resp, &url, backend.timeout)
            .await
            .unwrap_or_default();
        return Err(HttpError::Status {
            status: status.as_u16(),
            url,
            body: error_body(&raw),
        });
    }
    let resp = http::check_status(resp, &url, &backend.auth, backend.timeout).await?;
    let raw = http::body(resp, &url, backend.timeout).await?;
    parse_render(&raw, &url)
}

fn to_series(
    parsed: &[(String, Points)],
    i: usize,
    (name, expr, unit): &Expr,
    (start, end): (i64, i64),
    width: usize,
) -> Result<Series, String> {
    let id = format!("s{i}");
    match parsed.iter().find(|(t, _)| *t == id) {
        Some((_, pts)) => {
            let points = downsample(pts, start as f64, end as f64, width);
            Ok(summarize(name, expr, unit, pts, points))
        }
        // Graphite answers `[]` for targets that match nothing.
        None => Err(format!("{name}: no data for {expr}")),
    }
}

pub async fn render(
    client: &Client,
    backend: &HttpBackend,
    exprs: &[Expr],
    window: Window,
    width: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Result<Series, String>>, HttpError> {
    if exprs.is_empty() {
        return Ok(Vec::new());
    }
    let range = bounds(window, now);
    let all: Vec<(usize, &str)> = exprs
        .iter()
        .enumerate()
        .map(|(i, (_, e, _))| (i, e.as_str()))
        .collect();
    let batch_err = match fetch_targets(client, backend, &all, range, width).await {
        Ok(parsed) => {
            return Ok(exprs
                .iter()
                .enumerate()
                .map(|(i, e)| to_series(&parsed, i, e, range, width))
                .collect())
        }
        Err(e @ HttpError::Status { .. }) => e,
        Err(e) => return Err(e),
    };
    // One bad target (unknown function, bad argument) fails graphite's whole render: ask per
    // target so the other series still show and the error lands on the row that caused it.
    let singles: Vec<Result<Series, String>> = if exprs.len() > 1 {
        let calls = exprs.iter().enumerate().map(|(i, e)| async move {
            match fetch_targets(client, backend, &[(i, e.1.as_str())], range, width).await {
                Ok(parsed) => to_series(&parsed, i, e, range, width),
                Err(err) => Err(format!("{}: {err}", e.0)),
            }
        });
        futures::future::join_all(calls).await
    } else {
        vec![Err(format!("{}: {batch_err}", exprs[0].0))]
    };
    // 400 is graphite rejecting the targets themselves; anything else failing for every target
    // is the backend's problem (retry with backoff), not the series'.
    if batch_err.status() != Some(400) && singles.iter().all(Result::is_err) {
        return Err(batch_err);
    }
    Ok(singles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nulls_and_infinity_quirk() {
        let raw = br#"[{"target":"s0","tags":{"name":"x"},"datapoints":[[1.5,100],[null,110],[1e9999,120],[-1e9999,130]]}]"#;
        let p = parse_render(raw, "u").unwrap();
        assert_eq!(p[0].0, "s0");
        assert_eq!(p[0].1[0], (100.0, Some(1.5)));
        assert_eq!(p[0].1[1], (110.0, None));
        assert_eq!(p[0].1[2].1, Some(f64::INFINITY));
        assert_eq!(p[0].1[3].1, Some(f64::NEG_INFINITY));
    }

    #[test]
    fn empty_and_bad_bodies() {
        assert!(parse_render(b"[]", "u").unwrap().is_empty());
        assert!(parse_render(b"<html>500</html>", "u").is_err());
        assert!(parse_render(br#"[{"target":"s0","datapoints":[[1,"x"]]}]"#, "u").is_err());
    }
}

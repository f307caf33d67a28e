//! Graphite render API: every visible series in one POST (`alias`ed so answers map back to rows),
//! `[value, ts]` points with null gaps, and the `1e9999` infinity quirk that serde_json rejects.

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde::Deserialize;

use super::http::{self, HttpError};
use super::metrics::{bounds, downsample, summarize, Series, Window};
use crate::config::HttpBackend;

#[derive(Debug, Deserialize)]
struct RenderSeries {
    target: String,
    #[serde(default)]
    datapoints: Vec<(Option<f64>, Option<f64>)>,
}

/// Graphite writes ±Infinity as `1e9999`, which is out of range for serde_json: map it to ±f64::MAX
/// first, and back to infinity after parsing (downsampling then treats it as missing).
pub fn parse_render(
    raw: &[u8],
    url: &str,
) -> Result<Vec<(String, Vec<(f64, Option<f64>)>)>, HttpError> {
    let text = String::from_utf8_lossy(raw);
    let fixed;
    let body: &str = if text.contains("1e9999") {
        fixed = text
            .replace("-1e9999", "-1.7976931348623157e308")
            .replace("1e9999", "1.7976931348623157e308");
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

fn from_param(w: Window) -> &'static str {
    // Graphite has no `m` unit: minutes are `min`.
    match w {
        Window::M15 => "-15min",
        Window::H1 => "-1h",
        Window::H6 => "-6h",
        Window::H24 => "-24h",
    }
}

pub async fn render(
    client: &Client,
    backend: &HttpBackend,
    exprs: &[(String, String, String)],
    window: Window,
    width: usize,
    now: DateTime<Utc>,
) -> Result<Vec<Result<Series, String>>, HttpError> {
    if exprs.is_empty() {
        return Ok(Vec::new());
    }
    let url = format!("{}/render", backend.url);
    let mut form: Vec<(String, String)> = vec![
        ("format".into(), "json".into()),
        ("from".into(), from_param(window).into()),
        ("until".into(), "now".into()),
        ("maxDataPoints".into(), width.max(1).to_string()),
    ];
    for (i, (_, expr, _)) in exprs.iter().enumerate() {
        form.push(("target".into(), format!("alias({expr},'s{i}')")));
    }
    let req = http::with_basic(client.post(&url).form(&form), &backend.auth);
    let resp = http::send(req, backend.timeout).await?;
    let resp = http::check_status(resp, &url, &backend.auth, backend.timeout).await?;
    let raw = http::body(resp, &url, backend.timeout).await?;
    let parsed = parse_render(&raw, &url)?;
    let (start, end) = bounds(window, now);
    Ok(exprs
        .iter()
        .enumerate()
        .map(|(i, (name, expr, unit))| {
            let id = format!("s{i}");
            match parsed.iter().find(|(t, _)| *t == id) {
                Some((_, pts)) => {
                    let points = downsample(pts, start as f64, end as f64, width);
                    Ok(summarize(name, expr, unit, pts, points))
                }
                // Graphite answers `[]` for targets that match nothing.
                None => Err(format!("{name}: no data for {expr}")),
            }
        })
        .collect())
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

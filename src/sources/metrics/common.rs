//! What the metrics backends share, kept apart from the dispatcher in `mod.rs` so that a backend
//! never imports the file that dispatches to it: the window's bounds, the Prometheus step, columns
//! from points (downsampling), a series' summary, and the reason in an error body.

use chrono::{DateTime, Utc};

use crate::model::{Series, Window};
use crate::sources::http;

/// A series ready to query: (name, expanded expression, unit).
pub type Expr = (String, String, String);

/// Prometheus step for a window drawn in `width` columns, respecting the 11,000-point cap.
pub fn choose_step(window_secs: i64, width: usize) -> i64 {
    let by_width = (window_secs as f64 / width.max(1) as f64).ceil() as i64;
    let by_cap = (window_secs as f64 / 11_000.0).ceil() as i64;
    by_width.max(by_cap).max(1)
}

/// Averages `(timestamp, value)` points into `width` equal columns over `[start, end]`; NaN and
/// infinities are treated as missing so one bad sample cannot flatten the chart.
///
/// Each point stands for its sample interval `[ts, ts + step)` (`step` = the smallest spacing of the
/// points; Graphite and Prometheus both answer on a fixed step). A column that no point falls in
/// takes the value of the point whose interval reaches into it, so a step slightly wider than a
/// column (Prometheus: `ceil(window / width)`; Graphite: consolidation by `maxDataPoints`) does not
/// invent gaps. A `None`/NaN point, or a run of missing samples longer than the step, stays a gap.
pub fn downsample(
    points: &[(f64, Option<f64>)],
    start: f64,
    end: f64,
    width: usize,
) -> Vec<Option<f64>> {
    downsample_stepped(points, start, end, width, native_step(points))
}

/// [`downsample`] with the sampling step known (Prometheus: the query's `step`), so missing
/// samples cannot make it look longer than it is.
pub fn downsample_stepped(
    points: &[(f64, Option<f64>)],
    start: f64,
    end: f64,
    width: usize,
    step: f64,
) -> Vec<Option<f64>> {
    let width = width.max(1);
    let span = end - start;
    if !span.is_finite() || span <= 0.0 {
        return vec![None; width];
    }
    let step = if step.is_finite() { step.max(0.0) } else { 0.0 };
    let mut sums = vec![0.0f64; width];
    let mut counts = vec![0u32; width];
    // The newest point (value or gap) in each column, and the newest one before `start`.
    let mut newest: Vec<Option<(f64, Option<f64>)>> = vec![None; width];
    let mut before: Option<(f64, Option<f64>)> = None;
    let newer = |slot: &Option<(f64, Option<f64>)>, ts: f64| match slot {
        Some((t, _)) => ts >= *t,
        None => true,
    };
    for &(ts, v) in points {
        if ts.is_nan() || ts > end {
            continue;
        }
        let v = v.filter(|v| v.is_finite());
        if ts < start {
            if newer(&before, ts) {
                before = Some((ts, v));
            }
            continue;
        }
        // Multiply before dividing: integer timestamps on column edges land exactly.
        let i = (((ts - start) * width as f64 / span) as usize).min(width - 1);
        if newer(&newest[i], ts) {
            newest[i] = Some((ts, v));
        }
        if let Some(v) = v {
            sums[i] += v;
            counts[i] += 1;
        }
    }
    let mut carry = before;
    let mut out = Vec::with_capacity(width);
    for i in 0..width {
        if counts[i] > 0 {
            out.push(Some(sums[i] / counts[i] as f64));
        } else {
            let column_start = start + span * i as f64 / width as f64;
            out.push(match (newest[i], carry) {
                (None, Some((t, Some(v)))) if t + step > column_start => Some(v),
                _ => None,
            });
        }
        if newest[i].is_some() {
            carry = newest[i];
        }
    }
    out
}

/// The sampling step of a series: the smallest positive spacing of consecutive timestamps (0 when
/// there are fewer than two points, so nothing is carried).
fn native_step(points: &[(f64, Option<f64>)]) -> f64 {
    let step = points
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    if step.is_finite() {
        step
    } else {
        0.0
    }
}

pub fn summarize(
    name: &str,
    expr: &str,
    unit: &str,
    raw: &[(f64, Option<f64>)],
    points: Vec<Option<f64>>,
) -> Series {
    let finite = || raw.iter().filter_map(|(_, v)| *v).filter(|v| v.is_finite());
    Series {
        name: name.to_string(),
        expr: expr.to_string(),
        unit: unit.to_string(),
        last: raw
            .iter()
            .rev()
            .find_map(|(_, v)| v.filter(|v| v.is_finite())),
        min: finite().reduce(f64::min),
        max: finite().reduce(f64::max),
        points,
    }
}

/// The reason in an error body (Graphite: plain text on 400, an HTML page on 500; a proxy's HTML
/// page in front of either): for HTML its `<title>` or first line of text, not `<html>`.
pub fn error_body(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let trimmed = text.trim_start();
    if !trimmed.starts_with('<') {
        return http::error_text(raw);
    }
    let lower = trimmed.to_ascii_lowercase();
    if let (Some(a), Some(b)) = (lower.find("<title>"), lower.find("</title>")) {
        let title = trimmed[a + 7..b.max(a + 7)].trim();
        if !title.is_empty() {
            return http::error_text(title.as_bytes());
        }
    }
    let mut plain = String::with_capacity(trimmed.len());
    let mut in_tag = false;
    for c in trimmed.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                plain.push(' ');
            }
            _ if !in_tag => plain.push(c),
            _ => {}
        }
    }
    let line = plain
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|l| !l.is_empty())
        .unwrap_or_else(|| "HTML error page".into());
    http::error_text(line.as_bytes())
}

/// Window start and end as unix seconds for `now`.
pub fn bounds(window: Window, now: DateTime<Utc>) -> (i64, i64) {
    let end = now.timestamp();
    (end - window.secs(), end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Points;

    #[test]
    fn step_respects_width_and_cap() {
        assert_eq!(choose_step(900, 60), 15);
        assert_eq!(choose_step(86_400, 10_000_000), 8);
        assert_eq!(choose_step(60, 1000), 1);
    }

    #[test]
    fn downsample_keeps_gaps_and_drops_nan() {
        let pts = vec![
            (0.0, Some(1.0)),
            (1.0, Some(3.0)),
            (5.0, None),
            (8.0, Some(f64::NAN)),
            (9.0, Some(4.0)),
        ];
        let d = downsample(&pts, 0.0, 10.0, 5);
        assert_eq!(d, vec![Some(2.0), None, None, None, Some(4.0)]);
        let s = summarize("n", "e", "", &pts, d);
        assert_eq!((s.last, s.min, s.max), (Some(4.0), Some(1.0), Some(4.0)));
    }

    #[test]
    fn a_step_wider_than_a_column_does_not_invent_gaps() {
        // Prometheus at 120 columns over 15 min: step ceil(7.5) = 8 s, points at end, end-8, …
        let pts: Points = (0..=112)
            .map(|k| (900.0 - 8.0 * k as f64, Some(1.0)))
            .rev()
            .collect();
        let d = downsample(&pts, 0.0, 900.0, 120);
        assert!(d.iter().all(|v| *v == Some(1.0)), "{d:?}");
        // Graphite consolidated 8:1 from its own aligned start: same.
        let pts: Points = (0..113)
            .map(|k| (8.0 * k as f64 + 3.0, Some(2.0)))
            .collect();
        let d = downsample(&pts, 0.0, 900.0, 120);
        assert!(d.iter().all(|v| *v == Some(2.0)), "{d:?}");
    }

    #[test]
    fn real_gaps_stay_gaps() {
        // A null point (graphite) or NaN (prometheus) is a gap over its whole step.
        let pts = vec![
            (0.0, Some(1.0)),
            (10.0, None),
            (20.0, Some(f64::NAN)),
            (30.0, Some(4.0)),
        ];
        let d = downsample(&pts, 0.0, 40.0, 8);
        assert_eq!(
            d,
            vec![
                Some(1.0),
                Some(1.0),
                None,
                None,
                None,
                None,
                Some(4.0),
                Some(4.0)
            ]
        );
        // Missing samples longer than the (known) step: not bridged.
        let pts = vec![(0.0, Some(1.0)), (30.0, Some(4.0))];
        let d = downsample_stepped(&pts, 0.0, 40.0, 8, 5.0);
        assert_eq!(
            d,
            vec![Some(1.0), None, None, None, None, None, Some(4.0), None]
        );
        // A point just before the window carries into the first column.
        let d = downsample_stepped(&[(-2.0, Some(7.0))], 0.0, 40.0, 8, 5.0);
        assert_eq!(d[0], Some(7.0));
        assert!(d[1..].iter().all(Option::is_none));
    }

    #[test]
    fn degenerate_ranges() {
        assert_eq!(
            downsample(&[(5.0, Some(1.0))], 5.0, 5.0, 2),
            vec![None, None]
        );
        assert_eq!(
            downsample(&[(5.0, Some(1.0))], 0.0, 10.0, 0),
            vec![Some(1.0)]
        );
    }

    #[test]
    fn error_bodies_say_why() {
        assert_eq!(
            error_body(
                b"<!DOCTYPE html>\n<html><head><title>Server Error (500)</title></head></html>"
            ),
            "Server Error (500)"
        );
        assert_eq!(
            error_body(b"\n<h1>Server Error (500)</h1>\n"),
            "Server Error (500)"
        );
        assert_eq!(
            error_body(b"Invalid parameters (Invalid offset unit 'm')"),
            "Invalid parameters (Invalid offset unit 'm')"
        );
        assert_eq!(error_body(b"<html></html>"), "HTML error page");
    }

    #[test]
    fn empty_input_is_all_gaps() {
        assert_eq!(downsample(&[], 0.0, 10.0, 3), vec![None, None, None]);
    }
}

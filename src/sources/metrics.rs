//! Sparkline data from Graphite or Prometheus: series templates expanded for the selected member (or
//! the whole cluster), queried for a window, downsampled to the pane width off the UI thread.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tracing::warn;

use super::backoff::Backoff;
use super::http::{self, HttpError};
use crate::config::{MetricsKind, MetricsProfile, SeriesTemplate};
use crate::model::{
    ClusterId, Command, Health, MetricsQuery, MetricsResult, Msg, Series, SourceId, SourceKind,
    Window,
};

/// A series ready to query: (name, expanded expression, unit).
pub type Expr = (String, String, String);

/// Expands `{name}` placeholders from `vars`; unknown placeholders are an error naming them.
/// `{{` and `}}` stay literal braces (PromQL label matchers use braces).
pub fn expand(template: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'))
            .unwrap_or(after.len());
        let closes = after[name_len..].starts_with('}');
        if name_len > 0 && closes {
            let name = &after[..name_len];
            match vars.get(name) {
                Some(v) => out.push_str(v),
                None => {
                    return Err(format!(
                        "unknown placeholder {{{name}}} — known: {}",
                        vars.keys()
                            .map(|k| format!("{{{k}}}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                }
            }
            rest = &after[name_len + 1..];
        } else {
            // A literal brace (e.g. a PromQL matcher `{job="x"}`).
            out.push('{');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The cluster-wide form of a template: Graphite wildcards averaged; PromQL matchers on a
/// placeholder become `=~".+"` and the query is averaged.
pub fn cluster_expr(kind: MetricsKind, t: &SeriesTemplate) -> String {
    if let Some(c) = &t.cluster {
        return c.clone();
    }
    let re = regex::Regex::new(r#"\{[A-Za-z0-9_.\-]+\}"#).expect("static regex");
    match kind {
        MetricsKind::Graphite => {
            if re.is_match(&t.template) {
                format!("averageSeries({})", re.replace_all(&t.template, "*"))
            } else {
                t.template.clone()
            }
        }
        MetricsKind::Prometheus => {
            // `=`/`=~` on a member placeholder → any value; `!=`/`!~` ("not this member") → no
            // constraint at all. (Matching only `="…"` turned `!="{x}"` into invalid `!=~".+"` and
            // left `=~"{x}"` unexpanded.)
            let matcher = regex::Regex::new(r#"(=~|!=|!~|=)\s*"[^"]*\{[A-Za-z0-9_.\-]+\}[^"]*""#)
                .expect("static regex");
            if matcher.is_match(&t.template) {
                let replaced =
                    matcher.replace_all(&t.template, |c: &regex::Captures| match &c[1] {
                        "=" | "=~" => r#"=~".+""#,
                        _ => r#"=~".*""#,
                    });
                format!("avg({replaced})")
            } else {
                t.template.clone()
            }
        }
    }
}

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

pub struct MetricsSource {
    id: SourceId,
    profile: MetricsProfile,
    tx: mpsc::Sender<Msg>,
    cmds: mpsc::Receiver<Command>,
    client: reqwest::Client,
}

impl MetricsSource {
    pub fn new(
        profile: MetricsProfile,
        tx: mpsc::Sender<Msg>,
        cmds: mpsc::Receiver<Command>,
    ) -> anyhow::Result<Self> {
        let client = super::http::client(&profile.http)?;
        Ok(MetricsSource {
            id: SourceKind::Metrics.of(ClusterId::default()),
            profile,
            tx,
            cmds,
            client,
        })
    }

    /// Which cluster this source serves (the first, unless told otherwise).
    pub fn in_cluster(mut self, cluster: ClusterId) -> Self {
        self.id = SourceKind::Metrics.of(cluster);
        self
    }

    /// Expressions for a query: (name, expr, unit) or the template error.
    pub fn exprs(
        profile: &MetricsProfile,
        q: &MetricsQuery,
    ) -> Vec<Result<Expr, (String, String)>> {
        profile
            .series
            .iter()
            .map(|t| {
                let e = match &q.vars {
                    Some(vars) => expand(&t.template, vars),
                    None => Ok(cluster_expr(profile.kind, t)),
                };
                e.map(|e| (t.name.clone(), e, t.unit.clone()))
                    .map_err(|err| (t.name.clone(), err))
            })
            .collect()
    }

    pub async fn fetch(&self, q: &MetricsQuery) -> Result<MetricsResult, HttpError> {
        let now = Utc::now();
        let exprs = Self::exprs(&self.profile, q);
        let ok: Vec<Expr> = exprs
            .iter()
            .filter_map(|e| e.as_ref().ok().cloned())
            .collect();
        let fetched = match self.profile.kind {
            MetricsKind::Graphite => {
                super::graphite::render(
                    &self.client,
                    &self.profile.http,
                    &ok,
                    q.window,
                    q.width,
                    now,
                )
                .await?
            }
            MetricsKind::Prometheus => {
                super::prometheus::query_all(
                    &self.client,
                    &self.profile.http,
                    &ok,
                    q.window,
                    q.width,
                    now,
                )
                .await?
            }
        };
        let mut fetched = fetched.into_iter();
        let series = exprs
            .into_iter()
            .map(|e| match e {
                Ok(_) => fetched.next().unwrap_or_else(|| Err("no answer".into())),
                Err((name, err)) => Err(format!("{name}: {err}")),
            })
            .collect();
        Ok(MetricsResult {
            query: q.clone(),
            series,
        })
    }

    pub async fn run(mut self) {
        let mut query: Option<MetricsQuery> = None;
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut next = tokio::time::Instant::now() + Duration::from_secs(3600);
        loop {
            tokio::select! {
                cmd = self.cmds.recv() => match cmd {
                    None => return,
                    Some(Command::MetricsQuery(q)) => {
                        // Newest wins: drain queued queries, keep the last.
                        let mut q = q;
                        while let Ok(Command::MetricsQuery(newer)) = self.cmds.try_recv() { q = newer; }
                        query = Some(q);
                        next = tokio::time::Instant::now();
                    }
                    Some(_) => {}
                },
                _ = tokio::time::sleep_until(next) => {
                    let Some(q) = &query else {
                        next = tokio::time::Instant::now() + Duration::from_secs(3600);
                        continue;
                    };
                    match self.fetch(q).await {
                        Ok(result) => {
                            backoff.reset();
                            if self.tx.send(Msg::Metrics { result, at: Utc::now() }).await.is_err() { return; }
                            if self.tx.send(Msg::Health(self.id, Health::Live)).await.is_err() { return; }
                            next = tokio::time::Instant::now() + self.profile.interval;
                        }
                        Err(e) => {
                            let delay = backoff.next_delay();
                            warn!(error = %e, "metrics query failed");
                            let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                            let h = Health::Retrying { at, attempt: backoff.attempt(), error: format!("{}: {e}", self.profile.kind.name()) };
                            if self.tx.send(Msg::Health(self.id, h)).await.is_err() { return; }
                            next = tokio::time::Instant::now() + delay;
                        }
                    }
                }
            }
        }
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

    fn vars() -> BTreeMap<String, String> {
        [
            ("instance", "web-1"),
            ("role", "web"),
            ("addr", "10.0.0.1:80"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn expands_placeholders_and_keeps_promql_braces() {
        assert_eq!(
            expand("stats.gauges.{instance}.cpu", &vars()).unwrap(),
            "stats.gauges.web-1.cpu"
        );
        assert_eq!(
            expand(
                r#"rate(http_requests_total{instance="{addr}"}[1m])"#,
                &vars()
            )
            .unwrap(),
            r#"rate(http_requests_total{instance="10.0.0.1:80"}[1m])"#
        );
        let e = expand("x.{nope}.y", &vars()).unwrap_err();
        assert!(e.contains("{nope}") && e.contains("{instance}"), "{e}");
    }

    #[test]
    fn cluster_forms() {
        let t = |s: &str| SeriesTemplate {
            name: "x".into(),
            template: s.into(),
            cluster: None,
            unit: String::new(),
        };
        assert_eq!(
            cluster_expr(MetricsKind::Graphite, &t("stats.gauges.{instance}.cpu")),
            "averageSeries(stats.gauges.*.cpu)"
        );
        assert_eq!(
            cluster_expr(
                MetricsKind::Prometheus,
                &t(r#"rate(x{instance="{addr}"}[1m])"#)
            ),
            r#"avg(rate(x{instance=~".+"}[1m]))"#
        );
        assert_eq!(cluster_expr(MetricsKind::Prometheus, &t("up")), "up");
        assert_eq!(
            cluster_expr(
                MetricsKind::Prometheus,
                &t(r#"sum(x{job="a",instance=~"{addr}"})"#)
            ),
            r#"avg(sum(x{job="a",instance=~".+"}))"#
        );
        assert_eq!(
            cluster_expr(
                MetricsKind::Prometheus,
                &t(r#"x{instance!="{addr}", role!~"{role}-.*"}"#)
            ),
            r#"avg(x{instance=~".*", role=~".*"})"#
        );
    }

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

//! Sparkline data from Graphite or Prometheus: series templates expanded for the selected member (or
//! the whole cluster), queried for a window, downsampled to the pane width off the UI thread.

pub mod common;
pub mod graphite;
pub mod prometheus;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::warn;

/// Columns from points: the step every backend ends with (the benches measure it by this name).
pub use self::common::downsample;
use self::common::Expr;
use crate::config::{MetricsKind, MetricsProfile, SeriesTemplate};
use crate::model::{
    ClusterId, Command, Health, MetricsQuery, MetricsResult, Msg, SourceId, SourceKind,
};
use crate::sources::backoff::Backoff;
use crate::sources::http::{self, HttpError};

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
        let client = http::client(&profile.http)?;
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
                graphite::render(
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
                prometheus::query_all(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

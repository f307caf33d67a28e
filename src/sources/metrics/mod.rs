//! Sparkline data from Graphite or Prometheus: series templates expanded for the selected member (or
//! the whole cluster), queried for a window, downsampled to the pane width off the UI thread, polled
//! by the shared runner (`sources::polled`). One file per backend; what they share (bounds, step,
//! downsampling, error bodies) lives in `common.rs`, which imports none of them.

pub mod common;
pub mod graphite;
pub mod prometheus;

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc;

/// Columns from points: the step every backend ends with (the benches measure it by this name).
pub use self::common::downsample;
use self::common::Expr;
use crate::config::{MetricsKind, MetricsProfile, SeriesTemplate};
use crate::model::{ClusterId, Command, MetricsQuery, MetricsResult, Msg, SourceId, SourceKind};
use crate::sources::backoff::Backoff;
use crate::sources::http::{self, HttpError};
use crate::sources::polled::{run_polled, Answer, Polled};

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

    /// The series of `q`, asked of the backend once.
    pub async fn fetch(&self, q: &MetricsQuery) -> Result<MetricsResult, HttpError> {
        fetch(&self.client, &self.profile, q).await
    }

    /// Polls the query on screen on the profile's interval through [`run_polled`] until the
    /// console is gone; a new query is asked for at once (the newest wins).
    pub async fn run(self) {
        let sparklines = Sparklines {
            profile: self.profile,
            client: self.client,
            query: None,
        };
        let every = sparklines.profile.interval;
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        run_polled(self.id, sparklines, every, backoff, self.tx, self.cmds).await
    }
}

/// The series of `q` from the profile's backend: templates expanded, one render (Graphite) or one
/// query per series (Prometheus), each series downsampled to the pane width; a template that does
/// not expand is that series' error.
pub async fn fetch(
    client: &reqwest::Client,
    profile: &MetricsProfile,
    q: &MetricsQuery,
) -> Result<MetricsResult, HttpError> {
    // The time cursor's moment, or now: the window ends there.
    let now = q.end.unwrap_or_else(crate::clock::now);
    let exprs = MetricsSource::exprs(profile, q);
    let ok: Vec<Expr> = exprs
        .iter()
        .filter_map(|e| e.as_ref().ok().cloned())
        .collect();
    let fetched = match profile.kind {
        MetricsKind::Graphite => {
            graphite::render(client, &profile.http, &ok, q.window, q.width, now).await?
        }
        MetricsKind::Prometheus => {
            prometheus::query_all(client, &profile.http, &ok, q.window, q.width, now).await?
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

/// The metrics backend as the runner polls it: the profile, its client, the query on screen.
struct Sparklines {
    profile: MetricsProfile,
    client: reqwest::Client,
    /// Nothing is asked before the pane says what it shows.
    query: Option<MetricsQuery>,
}

impl Polled for Sparklines {
    fn name(&self) -> &'static str {
        self.profile.kind.name()
    }

    fn ready(&self) -> bool {
        self.query.is_some()
    }

    async fn poll_once(&mut self) -> Result<Answer, HttpError> {
        let Some(q) = &self.query else {
            return Ok(Answer::default());
        };
        let result = fetch(&self.client, &self.profile, q).await?;
        Ok(Answer::facts(vec![Msg::Metrics {
            result,
            at: crate::clock::now(),
        }]))
    }

    /// The time cursor's question for the checks pane: the alerts firing then.
    async fn mutate(&mut self, change: Command) -> Option<Msg> {
        match change {
            Command::AlertsAt(at) => {
                let result = match self.profile.kind {
                    MetricsKind::Prometheus => {
                        prometheus::firing_at(&self.client, &self.profile.http, at).await
                    }
                    MetricsKind::Graphite => Err("graphite keeps no alerts".into()),
                };
                Some(Msg::AlertsAt { at, result })
            }
            _ => None,
        }
    }

    fn retarget(&mut self, query: Command) -> bool {
        match query {
            Command::MetricsQuery(q) => {
                self.query = Some(q);
                true
            }
            Command::MetricsIdle => {
                self.query = None;
                false
            }
            _ => false,
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

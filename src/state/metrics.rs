//! The metrics pane: which query is wanted (scope × window × width), and the last answer.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::pane::{PaneCtx, PaneState, Reaction};
use super::State;
use crate::action::Action;
use crate::model::{ClusterId, Command, MetricsQuery, MetricsResult, Window};

#[derive(Debug, Default)]
pub struct MetricsPane {
    pub window: Option<Window>,
    pub result: Option<MetricsResult>,
    pub last_update: Option<DateTime<Utc>>,
    pub selected: usize,
    /// Columns for sparklines, as the layout last said (0 before the first layout).
    pub width: usize,
    /// Points across the open chart (0 while none is open): the query asks for as many.
    pub chart_points: usize,
    /// Series (by name) the chart overlays beside the one under the cursor.
    pub overlay: std::collections::BTreeSet<String>,
    sent: Option<MetricsQuery>,
    /// The cluster whose source `sent` went to: told to stop when the pane moves to another's.
    asked_in: Option<ClusterId>,
}

impl MetricsPane {
    /// An empty pane `width` columns wide, `chart_points` across its chart when one is open (it
    /// asks for its query anew).
    pub fn with_width(width: usize, chart_points: usize) -> MetricsPane {
        MetricsPane {
            width,
            chart_points,
            ..Default::default()
        }
    }

    pub fn window(&self) -> Window {
        self.window.unwrap_or(Window::H1)
    }

    pub fn apply(&mut self, result: MetricsResult, at: DateTime<Utc>) {
        // A late answer for an older query is dropped: newest wins.
        if self.sent.as_ref().is_some_and(|q| *q != result.query) {
            return;
        }
        self.result = Some(result);
        self.last_update = Some(at);
    }

    /// The name of the series under the cursor (an answered one).
    pub fn selected_name(&self) -> Option<String> {
        match self.result.as_ref()?.series.get(self.selected)? {
            Ok(s) => Some(s.name.clone()),
            Err(_) => None,
        }
    }

    pub fn wanted(&self) -> Option<&MetricsQuery> {
        self.sent.as_ref()
    }
}

/// The health of the source whose series the pane shows: in a merged view, that of the cluster it
/// asked last (the home cluster's may be idle meanwhile), so its trouble line is the right one.
pub fn shown_health(state: &State) -> Option<&crate::model::Health> {
    let kind = crate::model::SourceKind::Metrics;
    match state.metrics.asked_in {
        Some(c) => state.health_in(c, kind),
        None => state.health_of(kind),
    }
}

/// Placeholder values for the member: instance, role, addr, host and top-level value fields.
pub fn member_vars(state: &State, key: &[u8]) -> Option<BTreeMap<String, String>> {
    member_vars_in(state, state.cluster_id, key)
}

/// [`member_vars`] of cluster `c`'s member at `key` (a merged view has the same key in several).
pub fn member_vars_in(
    state: &State,
    c: crate::model::ClusterId,
    key: &[u8],
) -> Option<BTreeMap<String, String>> {
    let m = state.members.get_in(c, key)?;
    let mut vars = BTreeMap::new();
    if let Ok(serde_json::Value::Object(map)) =
        serde_json::from_slice::<serde_json::Value>(m.value())
    {
        for (k, v) in map {
            match v {
                serde_json::Value::String(s) => {
                    vars.insert(k, s);
                }
                serde_json::Value::Number(n) => {
                    vars.insert(k, n.to_string());
                }
                _ => {}
            }
        }
    }
    vars.insert("instance".into(), m.instance().to_string());
    vars.insert("role".into(), m.role().to_string());
    vars.insert("addr".into(), m.addr().to_string());
    let host = m
        .addr()
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(m.addr())
        .to_string();
    vars.insert("host".into(), host);
    Some(vars)
}

/// Whose metrics the pane shows with no member scoped: the cluster a merged view is narrowed to
/// (`:cluster NAME`), else the first one. The series are per cluster (each has its own
/// backend and targets), so there is no "all" to show.
pub fn unscoped_cluster(state: &State) -> crate::model::ClusterId {
    if let Some(c) = state.narrowed() {
        return c;
    }
    // A merged view whose first cluster has no metrics backend shows the first one that has.
    let has_metrics = |c: crate::model::ClusterId| {
        state
            .backends
            .by_source
            .contains_key(&crate::model::SourceKind::Metrics.of(c))
    };
    if !state.merged() || has_metrics(state.cluster_id) {
        return state.cluster_id;
    }
    state
        .cluster_ids()
        .find(|c| has_metrics(*c))
        .unwrap_or(state.cluster_id)
}

/// What the pane's title says of the cluster its series are for, with no member scoped: in a
/// merged view, that they are one cluster's (`prod only`, then `· 1 of 3 clusters` where there
/// is room), never all of them.
pub fn unscoped_title(state: &State) -> (String, Option<String>) {
    let name = state.cluster_name(unscoped_cluster(state));
    if !state.merged() {
        return (format!("cluster {name}"), None);
    }
    let n = state.clusters.len();
    (format!("{name} only"), Some(format!("· 1 of {n} clusters")))
}

/// The query the pane wants now; emitted when it differs from the last one sent. When it goes to
/// another cluster's source than the last one (a merged view), the one left is told it is idle:
/// it stops polling, and its health says so rather than `connecting` or an old `live`.
pub fn interest(state: &mut State) -> Vec<Command> {
    if state.backends.metrics.is_none() {
        return Vec::new();
    }
    let width = state.metrics.width.max(state.metrics.chart_points);
    if state.metrics.width == 0 {
        return Vec::new(); // no layout yet
    }
    // The scoped member's series come from its own cluster's metrics backend.
    let (cluster, scoped) = match &state.scope {
        super::Scope::Member { key, cluster } => {
            let c = state.cluster_by_name(cluster).unwrap_or(state.cluster_id);
            (c, member_vars_in(state, c, key))
        }
        _ => (unscoped_cluster(state), None),
    };
    let (label, vars) = match scoped {
        // A merged view names the cluster too: the same instance in another cluster is another
        // query (and an answer from the other one is not this one's).
        Some(vars) if state.merged() => (
            format!(
                "{}@{}",
                vars.get("instance").cloned().unwrap_or_default(),
                state.cluster_name(cluster)
            ),
            Some(vars),
        ),
        Some(vars) => (
            vars.get("instance").cloned().unwrap_or_default(),
            Some(vars),
        ),
        None => (format!("cluster {}", state.cluster_name(cluster)), None),
    };
    let q = MetricsQuery {
        label,
        vars,
        window: state.metrics.window(),
        width,
        end: state.time.at,
    };
    if state.metrics.sent.as_ref() == Some(&q) {
        return Vec::new();
    }
    state.metrics.sent = Some(q.clone());
    let mut out = Vec::new();
    if let Some(left) = state.metrics.asked_in.replace(cluster) {
        if left != cluster {
            out.push(super::members::in_cluster(left, Command::MetricsIdle));
        }
    }
    out.push(super::members::in_cluster(
        cluster,
        Command::MetricsQuery(q),
    ));
    out
}

impl PaneState for MetricsPane {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn on_action(&mut self, action: Action, _ctx: &PaneCtx) -> Reaction {
        let n = self.result.as_ref().map(|r| r.series.len()).unwrap_or(0);
        match action {
            Action::Down => self.selected = (self.selected + 1).min(n.saturating_sub(1)),
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Top => self.selected = 0,
            Action::Bottom => self.selected = n.saturating_sub(1),
            Action::ToggleOverlay => {
                if let Some(name) = self.selected_name() {
                    let on = !self.overlay.remove(&name);
                    if on {
                        self.overlay.insert(name.clone());
                    }
                    return Reaction::info(if on {
                        format!(
                            "{name} in the chart overlay ({} series)",
                            self.overlay.len()
                        )
                    } else {
                        format!("{name} out of the chart overlay")
                    });
                }
            }
            Action::Detail => {
                let Some(name) = self.selected_name() else {
                    return Reaction::info("no series to chart yet");
                };
                let mut series: Vec<String> = self.overlay.iter().cloned().collect();
                if !series.contains(&name) {
                    series.insert(0, name);
                }
                return Reaction::open(super::Popup::Chart { series });
            }
            Action::NextWindow | Action::PrevWindow => {
                let w = self
                    .window()
                    .step(if action == Action::NextWindow { 1 } else { -1 });
                self.window = Some(w);
                return Reaction::info(format!("metrics window {}", w.label()));
            }
            _ => {}
        }
        Reaction::default()
    }
}

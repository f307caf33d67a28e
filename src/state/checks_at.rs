//! Checks at the time cursor's moment, from what each backend keeps: Sensu Go's history (the last
//! executions, with times), Sensu Core's (statuses only: times estimated back from the last run by
//! the interval, so marked `≈`), Alertmanager's active alerts (those that started after the moment
//! were not firing then; those resolved since are gone from its API, so unknown). Pure: the rows
//! of the live snapshot in, the rows as they were out.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::checks::Checks;
use crate::model::{CheckResult, ChecksSnapshot, ClusterId};

/// Status 3: what Sensu itself calls unknown.
const UNKNOWN: i64 = 3;

/// A check's status at a moment, as far as its history tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusAt {
    /// `approx`: from estimated times (Sensu Core).
    Known { status: i64, approx: bool },
    /// An alert that started after the moment: not firing then.
    NotYet,
    /// Outside what the history covers (its oldest known time, if any).
    Unknown(Option<DateTime<Utc>>),
}

/// Whether the alert row `r` is the alert `firing` (Prometheus's labels, without `__name__` and
/// `alertstate`): every label Prometheus gives it has the same value on the row (Alertmanager may
/// add external labels).
pub fn same_alert(firing: &CheckResult, r: &CheckResult) -> bool {
    !firing.labels.is_empty()
        && firing
            .labels
            .iter()
            .all(|(k, v)| r.labels.iter().any(|(k2, v2)| k2 == k && v2 == v))
}

/// `r`'s status at `at`; `kind` is the checks backend (`sensu-go`, `sensu-core`, `alertmanager`);
/// `firing`: what Prometheus had firing at `at`, when there is a Prometheus to ask.
pub fn status_at(
    r: &CheckResult,
    at: DateTime<Utc>,
    kind: &str,
    firing: Option<&[CheckResult]>,
) -> StatusAt {
    if let (Some(firing), "alertmanager") = (firing, kind) {
        return if firing.iter().any(|f| same_alert(f, r)) {
            StatusAt::Known {
                status: r.status,
                approx: false,
            }
        } else {
            StatusAt::NotYet
        };
    }
    if kind == "alertmanager" {
        return match r.since {
            Some(start) if start > at => StatusAt::NotYet,
            _ => StatusAt::Known {
                status: r.status,
                approx: false,
            },
        };
    }
    let approx = kind == "sensu-core";
    let newest_before = r
        .history
        .iter()
        .rev()
        .find(|p| p.executed.is_some_and(|t| t <= at));
    match newest_before {
        Some(p) => StatusAt::Known {
            status: p.status,
            approx,
        },
        None if r.history.is_empty() && r.executed.is_some_and(|t| t <= at) => StatusAt::Known {
            status: r.status,
            approx,
        },
        None => StatusAt::Unknown(r.history.iter().find_map(|p| p.executed).or(r.executed)),
    }
}

/// The row as it was at `at`: its status then, and an output that says how that is known.
pub fn row_at(r: &CheckResult, at: DateTime<Utc>, kind: &str, shown: &str) -> CheckResult {
    row_at_with(r, at, kind, shown, None)
}

fn row_at_with(
    r: &CheckResult,
    at: DateTime<Utc>,
    kind: &str,
    shown: &str,
    firing: Option<&[CheckResult]>,
) -> CheckResult {
    let mut past = r.clone();
    match status_at(r, at, kind, firing) {
        StatusAt::Known {
            status,
            approx: false,
        } if status == r.status => {}
        StatusAt::Known { status, approx } => {
            past.status = status;
            past.output = format!(
                "{}status at {shown} from its history (now: {})",
                if approx { "≈ " } else { "" },
                crate::model::status_label(r.status)
            );
        }
        StatusAt::NotYet => {
            past.status = 0;
            past.output = match firing {
                Some(_) => format!("not firing at {shown} (Prometheus ALERTS)"),
                None => format!("not firing at {shown} (it started later)"),
            };
        }
        StatusAt::Unknown(from) => {
            past.status = UNKNOWN;
            past.output = match from {
                Some(_) => format!("unknown at {shown}: its history starts later"),
                None => format!("unknown at {shown}: no times in its history"),
            };
        }
    }
    past
}

/// The checks pane at `at`, from the live one: every row at its status then; sort, filter, hiding
/// and scope as the live pane has them.
pub fn pane_at(
    live: &Checks,
    at: DateTime<Utc>,
    kind: &str,
    shown: &str,
    firing: Option<&[CheckResult]>,
) -> Checks {
    let sources = Sources {
        kind,
        kinds: BTreeMap::new(),
        firing: firing
            .map(|f| (ClusterId::default(), f))
            .into_iter()
            .collect(),
    };
    pane_at_in(live, at, &sources, shown)
}

/// What each cluster's checks can tell of the past (a merged view mixes backends).
#[derive(Debug, Default)]
pub struct Sources<'a> {
    /// The backend of a cluster not in `kinds` (a single cluster's).
    pub kind: &'a str,
    pub kinds: BTreeMap<ClusterId, &'a str>,
    /// What each cluster's Prometheus had firing at the moment, for the clusters that answered.
    pub firing: BTreeMap<ClusterId, &'a [CheckResult]>,
}

/// [`pane_at`] with each row judged by its own cluster's backend and Prometheus answer: an alert
/// of one cluster is never taken for another's with the same labels.
pub fn pane_at_in(live: &Checks, at: DateTime<Utc>, sources: &Sources, shown: &str) -> Checks {
    let mut past = Checks::default();
    past.sort = live.sort;
    past.descending = live.descending;
    past.filter = live.filter.clone();
    past.hide_ok = live.hide_ok;
    past.hide_silenced = live.hide_silenced;
    past.scope = live.scope.clone();
    past.cursor.set_rows(live.cursor.rows());
    let kind_of = |c: ClusterId| sources.kinds.get(&c).copied().unwrap_or(sources.kind);
    let mut results: Vec<CheckResult> = live
        .results
        .iter()
        .map(|r| {
            let firing = sources.firing.get(&r.cluster).copied();
            row_at_with(r, at, kind_of(r.cluster), shown, firing)
        })
        .collect();
    // Alerts that fired then and are resolved now: only Prometheus remembers them.
    for (c, firing) in &sources.firing {
        for f in firing.iter() {
            if !live
                .results
                .iter()
                .any(|r| r.cluster == *c && same_alert(f, r))
            {
                let mut row = f.clone();
                row.cluster = *c;
                row.output = format!("firing at {shown}, resolved since (Prometheus ALERTS)");
                results.push(row);
            }
        }
    }
    let snapshot = ChecksSnapshot {
        results,
        silences: live.silences.clone(),
        skipped: live.skipped,
        inhibit_rules: live.inhibit_rules.clone(),
    };
    past.apply_snapshot(snapshot, live.last_update.unwrap_or(at));
    past
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::HistoryPoint;
    use chrono::{Duration, TimeZone};

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 14, 0, 0).unwrap() + Duration::minutes(min)
    }

    fn with_history(points: &[(i64, Option<i64>)]) -> CheckResult {
        let history: Vec<HistoryPoint> = points
            .iter()
            .map(|(status, min)| HistoryPoint {
                status: *status,
                executed: min.map(t),
            })
            .collect();
        CheckResult {
            entity: "web-1".into(),
            check: "check_http".into(),
            status: history.last().map_or(0, |p| p.status),
            executed: history.last().and_then(|p| p.executed),
            history,
            ..Default::default()
        }
    }

    #[test]
    fn sensu_go_history_gives_the_status_at_a_time_and_unknown_before_it() {
        let r = with_history(&[(0, Some(0)), (0, Some(1)), (2, Some(2)), (2, Some(3))]);
        let at = |m| status_at(&r, t(m), "sensu-go", None);
        assert_eq!(
            at(1),
            StatusAt::Known {
                status: 0,
                approx: false
            }
        );
        assert_eq!(
            at(2),
            StatusAt::Known {
                status: 2,
                approx: false
            }
        );
        assert_eq!(at(-1), StatusAt::Unknown(Some(t(0))));
        let row = row_at(&r, t(1), "sensu-go", "14:01:00");
        assert_eq!(row.status, 0);
        assert_eq!(
            row.output,
            "status at 14:01:00 from its history (now: CRIT)"
        );
    }

    #[test]
    fn with_prometheus_alerts_firing_then_decide_and_resolved_ones_come_back() {
        let row = |name: &str, instance: &str| CheckResult {
            entity: instance.into(),
            check: name.into(),
            status: 2,
            labels: vec![
                ("alertname".into(), name.into()),
                ("instance".into(), instance.into()),
                ("cluster".into(), "prod".into()),
            ],
            ..Default::default()
        };
        let firing_then = |name: &str, instance: &str| CheckResult {
            labels: vec![
                ("alertname".into(), name.into()),
                ("instance".into(), instance.into()),
            ],
            ..row(name, instance)
        };
        let mut live = Checks::default();
        live.apply_snapshot(
            ChecksSnapshot {
                results: vec![row("HighCpu", "web-1"), row("DiskFull", "db-1")],
                ..Default::default()
            },
            t(10),
        );
        // At t(0) Prometheus had HighCpu on web-1 and OOM on web-2 (resolved since) firing.
        let firing = [firing_then("HighCpu", "web-1"), firing_then("Oom", "web-2")];
        let past = pane_at(&live, t(0), "alertmanager", "14:00:00", Some(&firing));
        let status = |name: &str| {
            past.results
                .iter()
                .find(|r| r.check == name)
                .map(|r| (r.status, r.output.clone()))
        };
        assert_eq!(status("HighCpu").map(|s| s.0), Some(2));
        assert_eq!(
            status("DiskFull"),
            Some((0, "not firing at 14:00:00 (Prometheus ALERTS)".into()))
        );
        assert_eq!(
            status("Oom"),
            Some((
                2,
                "firing at 14:00:00, resolved since (Prometheus ALERTS)".into()
            ))
        );
    }

    #[test]
    fn sensu_core_estimates_are_marked_and_alerts_that_started_later_were_not_firing() {
        let r = with_history(&[(1, Some(0)), (0, Some(1))]);
        assert_eq!(
            status_at(&r, t(0), "sensu-core", None),
            StatusAt::Known {
                status: 1,
                approx: true
            }
        );
        assert!(row_at(&r, t(0), "sensu-core", "14:00:00")
            .output
            .starts_with("≈ "));
        let r = with_history(&[(1, None), (0, None)]);
        assert_eq!(
            status_at(&r, t(0), "sensu-core", None),
            StatusAt::Unknown(None)
        );
        let alert = CheckResult {
            status: 2,
            since: Some(t(5)),
            ..Default::default()
        };
        assert_eq!(
            status_at(&alert, t(4), "alertmanager", None),
            StatusAt::NotYet
        );
        assert_eq!(
            status_at(&alert, t(5), "alertmanager", None),
            StatusAt::Known {
                status: 2,
                approx: false
            }
        );
        assert_eq!(row_at(&alert, t(4), "alertmanager", "14:04:00").status, 0);
    }
}

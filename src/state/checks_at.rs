//! Checks at the time cursor's moment, from what each backend keeps: Sensu Go's history (the last
//! executions, with times), Sensu Core's (statuses only: times estimated back from the last run by
//! the interval, so marked `≈`), Alertmanager's active alerts (those that started after the moment
//! were not firing then; those resolved since are gone from its API, so unknown). Pure: the rows
//! of the live snapshot in, the rows as they were out.

use chrono::{DateTime, Utc};

use super::checks::Checks;
use crate::model::{CheckResult, ChecksSnapshot};

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

/// `r`'s status at `at`; `kind` is the checks backend (`sensu-go`, `sensu-core`, `alertmanager`).
pub fn status_at(r: &CheckResult, at: DateTime<Utc>, kind: &str) -> StatusAt {
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
    let mut past = r.clone();
    match status_at(r, at, kind) {
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
            past.output = format!("not firing at {shown} (it started later)");
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
pub fn pane_at(live: &Checks, at: DateTime<Utc>, kind: &str, shown: &str) -> Checks {
    let mut past = Checks::default();
    past.sort = live.sort;
    past.descending = live.descending;
    past.filter = live.filter.clone();
    past.hide_ok = live.hide_ok;
    past.hide_silenced = live.hide_silenced;
    past.scope = live.scope.clone();
    past.cursor.set_rows(live.cursor.rows());
    let results = live
        .results
        .iter()
        .map(|r| row_at(r, at, kind, shown))
        .collect();
    let snapshot = ChecksSnapshot {
        results,
        silences: live.silences.clone(),
        skipped: live.skipped,
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
        let at = |m| status_at(&r, t(m), "sensu-go");
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
    fn sensu_core_estimates_are_marked_and_alerts_that_started_later_were_not_firing() {
        let r = with_history(&[(1, Some(0)), (0, Some(1))]);
        assert_eq!(
            status_at(&r, t(0), "sensu-core"),
            StatusAt::Known {
                status: 1,
                approx: true
            }
        );
        assert!(row_at(&r, t(0), "sensu-core", "14:00:00")
            .output
            .starts_with("≈ "));
        let r = with_history(&[(1, None), (0, None)]);
        assert_eq!(status_at(&r, t(0), "sensu-core"), StatusAt::Unknown(None));
        let alert = CheckResult {
            status: 2,
            since: Some(t(5)),
            ..Default::default()
        };
        assert_eq!(status_at(&alert, t(4), "alertmanager"), StatusAt::NotYet);
        assert_eq!(
            status_at(&alert, t(5), "alertmanager"),
            StatusAt::Known {
                status: 2,
                approx: false
            }
        );
        assert_eq!(row_at(&alert, t(4), "alertmanager", "14:04:00").status, 0);
    }
}

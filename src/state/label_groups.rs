//! Grouping failing alerts by the labels the user picks (`:group alertname,zone`), as karma
//! does: one group per combination of values, its size, how many of each severity, its worst.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::checks::rank;
use super::grouping::Group;
use crate::model::{text::visible, CheckResult, Severity};

/// `failing` grouped by the values of `names` (`(none)` where an alert lacks a label), largest
/// first is left to the caller. `member_of` finds the registered member of an entity.
pub fn groups(
    failing: &[&CheckResult],
    names: &[String],
    member_of: impl Fn(&str) -> Option<Arc<[u8]>>,
) -> Vec<Group> {
    let mut by_values: BTreeMap<Vec<String>, Vec<&CheckResult>> = BTreeMap::new();
    for r in failing {
        let values = names
            .iter()
            .map(|n| {
                r.labels
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| "(none)".to_string())
            })
            .collect();
        by_values.entry(values).or_default().push(r);
    }
    by_values
        .into_iter()
        .map(|(values, rows)| {
            let mut per = [0usize; 4];
            for r in &rows {
                per[rank(r.severity()) as usize] += 1;
            }
            let worst = rows
                .iter()
                .map(|r| r.severity())
                .min_by_key(|s| rank(*s))
                .unwrap_or(Severity::Ok);
            let pairs: Vec<String> = names
                .iter()
                .zip(&values)
                .map(|(n, v)| format!("{}={}", visible(n), visible(v)))
                .collect();
            let severities: Vec<String> = [(0, "crit"), (1, "unkn"), (2, "warn")]
                .iter()
                .filter(|(i, _)| per[*i] > 0)
                .map(|(i, what)| format!("{} {what}", per[*i]))
                .collect();
            let mut members: Vec<Arc<[u8]>> =
                rows.iter().filter_map(|r| member_of(&r.entity)).collect();
            members.sort();
            members.dedup();
            Group {
                label: format!(
                    "{} firing · {} ({})",
                    rows.len(),
                    pairs.join(" "),
                    severities.join(", ")
                ),
                members,
                checks: rows
                    .iter()
                    .map(|r| (r.entity.clone(), r.check.clone()))
                    .collect(),
                worst,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str, zone: Option<&str>, status: i64) -> CheckResult {
        let mut labels = vec![("alertname".to_string(), name.to_string())];
        if let Some(z) = zone {
            labels.push(("zone".into(), z.into()));
        }
        CheckResult {
            entity: format!("{name}-{zone:?}"),
            check: name.into(),
            status,
            labels,
            ..Default::default()
        }
    }

    #[test]
    fn which_words_mean_labels() {
        use super::super::grouping::GroupBy;
        let labels = |l: &[&str]| GroupBy::Labels(l.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            GroupBy::parse("alertname,zone"),
            labels(&["alertname", "zone"])
        );
        assert_eq!(GroupBy::parse("label:zone"), labels(&["zone"]));
        assert_eq!(GroupBy::parse("zone,"), labels(&["zone"]));
        assert_eq!(GroupBy::parse("zone"), GroupBy::Field("zone".into()));
        assert_eq!(GroupBy::parse("check"), GroupBy::Check);
    }

    #[test]
    fn one_group_per_combination_with_counts_and_worst() {
        let rows = [
            alert("Latency", Some("a"), 1),
            alert("Latency", Some("a"), 2),
            alert("Latency", Some("b"), 1),
            alert("Disk", None, 1),
        ];
        let refs: Vec<&CheckResult> = rows.iter().collect();
        let g = groups(&refs, &["alertname".into(), "zone".into()], |_| None);
        let labels: Vec<(&str, Severity)> = g.iter().map(|g| (g.label.as_str(), g.worst)).collect();
        assert_eq!(
            labels,
            vec![
                (
                    "1 firing · alertname=Disk zone=(none) (1 warn)",
                    Severity::Warning
                ),
                (
                    "2 firing · alertname=Latency zone=a (1 crit, 1 warn)",
                    Severity::Critical
                ),
                (
                    "1 firing · alertname=Latency zone=b (1 warn)",
                    Severity::Warning
                ),
            ]
        );
    }
}

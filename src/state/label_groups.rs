//! Grouping failing alerts by the labels the user picks (`:group alertname,zone`), as karma
//! does: one group per combination of values, its size, how many of each severity, its worst.

use std::collections::BTreeMap;

use super::checks::rank;
use super::grouping::{Group, GroupBy};
use super::popup::Popup;
use super::{Level, State};
use crate::action::Action;
use crate::model::{text::visible, CheckResult, Command, Severity};

/// The label picker: every label name the failing alerts carry, with how many carry it (most
/// first), the cursor, and the names picked, in the order they were picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelPicker {
    pub labels: Vec<(String, usize)>,
    pub index: usize,
    pub chosen: Vec<String>,
}

/// The label names of `failing`, each with how many carry it: most carried first, then by name.
pub fn label_counts(failing: &[&CheckResult]) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in failing {
        let mut names: Vec<&str> = r.labels.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for n in names {
            *counts.entry(n).or_default() += 1;
        }
    }
    let mut out: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// Opens the label picker over the failing checks' labels; the labels last grouped by are
/// picked already. Whether it opened (no labels: it says so).
pub fn open_picker(state: &mut State) -> bool {
    let failing: Vec<&CheckResult> = state
        .checks
        .results
        .iter()
        .filter(|r| r.status != 0)
        .collect();
    let labels = label_counts(&failing);
    if labels.is_empty() {
        state.say(
            Level::Info,
            if failing.is_empty() {
                "no failing checks to group"
            } else {
                "the failing checks carry no labels — :group FIELD (check, role, version, zone, …)"
            },
        );
        return false;
    }
    let chosen = match &state.group_by {
        GroupBy::Labels(l) => l
            .iter()
            .filter(|n| labels.iter().any(|(k, _)| k == *n))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    state.popup = Some(Popup::PickLabels(LabelPicker {
        labels,
        index: 0,
        chosen,
    }));
    true
}

/// An action in the label picker: move, space picks or unpicks, Enter groups by the picked
/// labels (`:group a,b`; none picked: the one under the cursor).
pub fn pick(state: &mut State, mut p: LabelPicker, action: Action) -> Vec<Command> {
    let last = p.labels.len().saturating_sub(1);
    match action {
        Action::Down => p.index = (p.index + 1).min(last),
        Action::Up => p.index = p.index.saturating_sub(1),
        Action::Top => p.index = 0,
        Action::Bottom => p.index = last,
        Action::PageDown => p.index = (p.index + 10).min(last),
        Action::PageUp => p.index = p.index.saturating_sub(10),
        Action::ToggleMark => {
            if let Some((name, _)) = p.labels.get(p.index) {
                match p.chosen.iter().position(|c| c == name) {
                    Some(i) => {
                        p.chosen.remove(i);
                    }
                    None => p.chosen.push(name.clone()),
                }
            }
        }
        Action::Select | Action::Detail | Action::Confirm | Action::Submit => {
            state.popup = None;
            let names = if p.chosen.is_empty() {
                p.labels
                    .get(p.index)
                    .map(|(n, _)| vec![n.clone()])
                    .unwrap_or_default()
            } else {
                p.chosen
            };
            if names.is_empty() {
                return Vec::new();
            }
            state.group_by = GroupBy::Labels(names);
            state.focus = super::Pane::Checks;
            super::grouping::open(state);
            return Vec::new();
        }
        Action::Back | Action::Cancel | Action::Quit | Action::GroupChecks => {
            state.popup = None;
            return Vec::new();
        }
        _ => {}
    }
    state.popup = Some(Popup::PickLabels(p));
    Vec::new()
}

/// `failing` grouped by the values of `names` (`(none)` where an alert lacks a label), largest
/// first is left to the caller. `member_of` finds the registered member of an entity.
pub fn groups(
    failing: &[&CheckResult],
    names: &[String],
    member_of: impl Fn(&CheckResult) -> Option<super::members::Ident>,
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
            let mut members: Vec<super::members::Ident> =
                rows.iter().filter_map(|r| member_of(r)).collect();
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
                checks: rows.iter().map(|r| super::checks::check_id(r)).collect(),
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

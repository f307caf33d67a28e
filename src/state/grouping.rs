//! Common-cause grouping of failing checks (`b` in the checks pane, `:group FIELD`): what the
//! failing members share — the check, their role, version, zone or any field of their etcd value —
//! largest group first (`30/40 web fail check_disk`, `all 12 failing members run 1.4.2`). Worked
//! out once when asked (it reads every member's value for the field), kept in the popup.

use std::collections::{BTreeMap, HashMap};

use super::checks::{check_id, rank, CheckId};
use super::members::Ident;
use super::State;
use crate::model::{text::visible, CheckResult, ClusterId, Member, Severity};

/// What failing checks are grouped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    Check,
    /// `role`, `version`, or a top-level field of the member's etcd value (`zone`, …).
    Field(String),
    /// Alert labels (`:group alertname,zone`): one group per combination of their values.
    Labels(Vec<String>),
}

impl GroupBy {
    pub fn parse(word: &str) -> GroupBy {
        match word {
            "check" | "checks" => GroupBy::Check,
            f if f.contains(',') || f.starts_with("label:") => GroupBy::Labels(
                f.trim_start_matches("label:")
                    .split(',')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            f => GroupBy::Field(f.to_string()),
        }
    }

    pub fn name(&self) -> String {
        match self {
            GroupBy::Check => "check".to_string(),
            GroupBy::Field(f) => f.clone(),
            GroupBy::Labels(l) => l.join(","),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// One line, as the popup and the journal show it.
    pub label: String,
    /// The members in the group (those of its failing checks that are registered), each in
    /// its own cluster.
    pub members: Vec<Ident>,
    /// The failing checks in the group: (cluster, entity, check).
    pub checks: Vec<CheckId>,
    pub worst: Severity,
}

/// A member's value of `field`: role and version as the pane shows them, else the value's
/// top-level JSON field (strings as they are, other JSON as written), `None` when it has none.
fn field_of(m: &Member, field: &str) -> Option<String> {
    match field {
        "role" => Some(m.role().to_string()),
        "version" => Some(m.version_label().to_string()).filter(|v| !v.is_empty() && v != "-"),
        "instance" => Some(m.instance().to_string()),
        f => {
            let v: serde_json::Value = serde_json::from_slice(m.value()).ok()?;
            match v.get(f)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            }
        }
    }
}

/// [`field_of`], with `cluster` (a merged view's grouping by cluster: `:group cluster`).
fn field_of_in(state: &State, m: &Member, field: &str) -> Option<String> {
    match field {
        "cluster" => Some(state.cluster_name(m.cluster).to_string()),
        f => field_of(m, f),
    }
}

/// The groups, largest first (then worst, then name).
pub fn groups(state: &State, by: &GroupBy) -> Vec<Group> {
    let failing: Vec<&CheckResult> = state
        .checks
        .results
        .iter()
        .filter(|r| r.status != 0)
        .collect();
    // (cluster, entity) → member, by the rule that scopes the panes (instance, address, host):
    // a check's entity is a member of the check's own cluster.
    let mut by_name: HashMap<(ClusterId, String), Ident> = HashMap::new();
    let all: Vec<&Member> = state.members.visible_rows(0, usize::MAX).collect();
    for m in &all {
        for n in super::member_names(m) {
            by_name
                .entry((m.cluster, n))
                .or_insert_with(|| (m.cluster, std::sync::Arc::<[u8]>::from(m.key())));
        }
    }
    let member_of = |r: &CheckResult| -> Option<Ident> {
        let entity = r.entity.as_str();
        by_name
            .get(&(r.cluster, entity.to_string()))
            .cloned()
            .or_else(|| {
                let host = entity.rsplit_once(':').map(|(h, _)| h).unwrap_or(entity);
                by_name.get(&(r.cluster, host.to_string())).cloned()
            })
    };
    let worse = |a: Severity, b: Severity| if rank(b) < rank(a) { b } else { a };
    let mut out = Vec::new();
    match by {
        GroupBy::Check => {
            let mut by_check: BTreeMap<&str, Vec<&CheckResult>> = BTreeMap::new();
            for r in &failing {
                by_check.entry(r.check.as_str()).or_default().push(r);
            }
            for (check, rows) in by_check {
                let mut members: Vec<Ident> = rows.iter().filter_map(|r| member_of(r)).collect();
                members.sort();
                members.dedup();
                // Out of how many: the role they all share, else the whole cluster.
                let roles: Vec<&str> = members
                    .iter()
                    .filter_map(|(c, k)| state.members.get_in(*c, k))
                    .map(|m| m.role())
                    .collect();
                let one_role = roles.first().filter(|r| roles.iter().all(|x| x == *r));
                let failing_n = if members.is_empty() {
                    rows.len()
                } else {
                    members.len()
                };
                let label = match one_role {
                    Some(role) => {
                        let total = state.members.role_counts().get(*role).copied().unwrap_or(0);
                        format!(
                            "{failing_n}/{total} {} fail {}",
                            visible(role),
                            visible(check)
                        )
                    }
                    None => format!(
                        "{failing_n}/{} members fail {}",
                        state.members.len(),
                        visible(check)
                    ),
                };
                out.push(Group {
                    label,
                    members,
                    checks: rows.iter().map(|r| check_id(r)).collect(),
                    worst: rows.iter().map(|r| r.severity()).fold(Severity::Ok, worse),
                });
            }
        }
        GroupBy::Labels(names) => out = super::label_groups::groups(&failing, names, member_of),
        GroupBy::Field(field) => {
            // The failing members, each with its failing checks.
            let mut failing_members: BTreeMap<Ident, Vec<&CheckResult>> = BTreeMap::new();
            for r in &failing {
                if let Some(k) = member_of(r) {
                    failing_members.entry(k).or_default().push(r);
                }
            }
            let mut by_value: BTreeMap<String, Vec<Ident>> = BTreeMap::new();
            for k in failing_members.keys() {
                let value = state
                    .members
                    .get_in(k.0, &k.1)
                    .and_then(|m| field_of_in(state, m, field))
                    .unwrap_or_else(|| "(none)".to_string());
                by_value.entry(value).or_default().push(k.clone());
            }
            let mut totals: HashMap<String, usize> = HashMap::new();
            for m in &all {
                let v = field_of_in(state, m, field).unwrap_or_else(|| "(none)".to_string());
                if by_value.contains_key(&v) {
                    *totals.entry(v).or_default() += 1;
                }
            }
            let failing_total = failing_members.len();
            for (value, members) in by_value {
                let n = members.len();
                let total = totals.get(&value).copied().unwrap_or(n);
                let label = if n == failing_total && n > 1 {
                    match field.as_str() {
                        "version" => format!("all {n} failing members run {}", visible(&value)),
                        f => format!(
                            "all {n} failing members have {}={}",
                            visible(f),
                            visible(&value)
                        ),
                    }
                } else {
                    format!(
                        "{n}/{total} with {}={} fail",
                        visible(field),
                        visible(&value)
                    )
                };
                let rows: Vec<&CheckResult> = members
                    .iter()
                    .flat_map(|k| failing_members[k].iter().copied())
                    .collect();
                out.push(Group {
                    label,
                    checks: rows.iter().map(|r| check_id(r)).collect(),
                    worst: rows.iter().map(|r| r.severity()).fold(Severity::Ok, worse),
                    members,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        b.checks
            .len()
            .max(b.members.len())
            .cmp(&a.checks.len().max(a.members.len()))
            .then_with(|| rank(a.worst).cmp(&rank(b.worst)))
            .then_with(|| a.label.cmp(&b.label))
    });
    out
}

/// `b` in the checks pane: the groups, by what `:group` last chose (the check by default).
pub fn open(state: &mut State) {
    let by = state.group_by.clone();
    let groups = groups(state, &by);
    if groups.is_empty() {
        state.say(super::Level::Info, "no failing checks to group");
        return;
    }
    state.popup = Some(super::Popup::Groups {
        by,
        groups,
        index: 0,
    });
}

/// Enter on a group: every pane is scoped to its members, and its failing checks and members are
/// marked — `s` (checks) or `D` (members) then acts on them through the bulk preview.
pub fn scope_to(state: &mut State, g: &Group) {
    state.members.clear_selection();
    state.group_scope = Some(g.members.clone());
    state.checks.mark_only(&g.checks);
    state.members.mark_only(&g.members);
    let silence = state.key(
        crate::keymap::Context::Checks,
        crate::action::Action::Silence,
        "s",
    );
    let deregister = state.key(
        crate::keymap::Context::Members,
        crate::action::Action::Deregister,
        "D",
    );
    state.say(
        super::Level::Info,
        format!(
            "scoped to {}: {} members, {} failing checks marked — {silence} silences them, {deregister} in members deregisters; Esc clears",
            g.label,
            g.members.len(),
            g.checks.len()
        ),
    );
}

//! The incident journal's lines and the hand-off made of them (markdown or JSON). Writing and
//! reading the file is `crate::journal`'s job.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub time: DateTime<Utc>,
    pub user: String,
    pub cluster: String,
    pub kind: Kind,
    /// One line, as the hand-off shows it.
    pub text: String,
    /// Lists that belong to the line (failing checks, groups, churn, marked log lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Start,
    End,
    Note,
    /// A change's attempt, outcome or refusal (from the audit trail).
    Action,
    Filter,
    Scope,
    /// The failing checks and their groups (at start and end).
    Checks,
    /// Members that joined and left during the incident (at end).
    Churn,
    /// Log lines marked with `m` (at end).
    Marks,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::End => "end",
            Kind::Note => "note",
            Kind::Action => "action",
            Kind::Filter => "filter",
            Kind::Scope => "scope",
            Kind::Checks => "checks",
            Kind::Churn => "churn",
            Kind::Marks => "marks",
        }
    }
}

/// An incident name is a file name: letters, digits, `-`, `_`, `.`, at most 64, not starting
/// with a dot.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "incident name {:?}: use letters, digits, - _ . (at most 64, no leading dot)",
            crate::model::text::visible(name)
        ))
    }
}

/// The hand-off in markdown: when, who, the timeline, then the state at start and end.
pub fn markdown(name: &str, entries: &[Entry], zone: super::DisplayZone) -> String {
    let when = |t: DateTime<Utc>| crate::model::format::timestamp(t, zone);
    let clean = |s: &str| crate::model::text::sanitize(s).into_owned();
    let mut out = String::new();
    let _ = writeln!(out, "# Incident {name}\n");
    let start = entries.iter().find(|e| e.kind == Kind::Start);
    let end = entries.iter().rev().find(|e| e.kind == Kind::End);
    let mut users: Vec<&str> = entries.iter().map(|e| e.user.as_str()).collect();
    users.sort();
    users.dedup();
    let mut clusters: Vec<&str> = entries.iter().map(|e| e.cluster.as_str()).collect();
    clusters.sort();
    clusters.dedup();
    let _ = writeln!(
        out,
        "- started: {}\n- ended: {}\n- by: {}\n- cluster: {}\n",
        start.map(|e| when(e.time)).unwrap_or_else(|| "?".into()),
        end.map(|e| when(e.time))
            .unwrap_or_else(|| "still open".into()),
        clean(&users.join(", ")),
        clean(&clusters.join(", ")),
    );
    let _ = writeln!(out, "## Timeline\n");
    let _ = writeln!(out, "| time | who | what | |\n|---|---|---|---|");
    for e in entries.iter().filter(|e| {
        matches!(
            e.kind,
            Kind::Start | Kind::End | Kind::Note | Kind::Action | Kind::Filter | Kind::Scope
        )
    }) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            when(e.time),
            clean(&e.user).replace('|', "\\|"),
            e.kind.label(),
            clean(&e.text).replace('|', "\\|")
        );
    }
    let section = |out: &mut String, title: &str, kind: Kind, which: Option<&Entry>| {
        let _ = writeln!(out, "\n## {title}\n");
        match which.or_else(|| entries.iter().rev().find(|e| e.kind == kind)) {
            Some(e) => {
                let _ = writeln!(out, "{}\n", clean(&e.text));
                for item in &e.items {
                    let _ = writeln!(out, "- {}", clean(item));
                }
            }
            None => {
                let _ = writeln!(out, "(none recorded)");
            }
        }
    };
    let checks: Vec<&Entry> = entries.iter().filter(|e| e.kind == Kind::Checks).collect();
    section(
        &mut out,
        "Failing checks at the start",
        Kind::Checks,
        checks.first().copied(),
    );
    section(
        &mut out,
        "Failing checks at the end",
        Kind::Checks,
        (checks.len() > 1).then(|| checks[checks.len() - 1]),
    );
    section(&mut out, "Members that churned", Kind::Churn, None);
    section(&mut out, "Marked log lines", Kind::Marks, None);
    out
}

/// The journal as one JSON document: `{"incident": NAME, "entries": [...]}`.
pub fn json(name: &str, entries: &[Entry]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({ "incident": name, "entries": entries }))
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_file_names() {
        for ok in ["db-outage", "2026-12-04.disk", "a_b"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "../etc", ".hidden", "a b", "x/y", &"x".repeat(65), "é"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}

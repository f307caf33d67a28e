//! The incident the user has open (`:incident start NAME` … `:incident end`), and what of the
//! session goes into its journal: notes, every change's attempt/outcome/refusal, filters once
//! applied, the scope once it has settled, and at start and end the failing checks and their
//! groups, the members that churned and the log lines marked with `m`. The journal lines leave as
//! [`Command::Journal`]; writing them is the core's (best effort — the audit log stays the gate).

use chrono::{DateTime, Duration, Utc};

use super::{Level, Pane, State};
use crate::model::journal::{self, Entry, Kind};
use crate::model::{status_label, text::visible, Command, Phase};

/// How long the scope must stay put before it is journaled (moving the cursor through ten
/// members is one change of mind, not ten entries).
pub const SCOPE_SETTLES: i64 = 2;

#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub name: String,
    pub started: DateTime<Utc>,
    /// Each pane's filter as last journaled.
    filters: [Option<String>; 4],
    /// The scope as last journaled, and a newer one waiting to settle.
    scope: String,
    pending_scope: Option<(String, DateTime<Utc>)>,
}

/// The incident last open in this session (what `:journal` alone writes).
pub fn current_or_last(state: &State) -> Option<String> {
    state
        .incident
        .as_ref()
        .map(|i| i.name.clone())
        .or_else(|| state.last_incident.clone())
}

fn entry(state: &State, kind: Kind, text: String, items: Vec<String>) -> Entry {
    Entry {
        time: state.now,
        user: state.user.clone(),
        cluster: state.cluster.clone(),
        kind,
        text,
        items,
    }
}

fn journal(state: &State, kind: Kind, text: String, items: Vec<String>) -> Option<Command> {
    let incident = state.incident.as_ref()?;
    Some(Command::Journal {
        incident: incident.name.clone(),
        entry: Box::new(entry(state, kind, text, items)),
    })
}

fn scope_text(state: &State) -> String {
    state
        .scope_label()
        .unwrap_or_else(|| "the whole cluster".to_string())
}

fn filter_texts(state: &mut State) -> [Option<String>; 4] {
    Pane::ORDER.map(|p| state.pane(p).filter().map(|f| f.text.clone()))
}

/// The failing checks, worst first, and what they share (by check), as journal items.
fn failing_checks(state: &State) -> (String, Vec<String>) {
    let mut failing: Vec<_> = state
        .checks
        .results
        .iter()
        .filter(|r| r.status != 0)
        .collect();
    failing.sort_by(|a, b| {
        super::checks::rank(a.severity())
            .cmp(&super::checks::rank(b.severity()))
            .then_with(|| a.check.cmp(&b.check))
            .then_with(|| a.entity.cmp(&b.entity))
    });
    let mut by_check: std::collections::BTreeMap<&str, usize> = Default::default();
    for r in &failing {
        *by_check.entry(r.check.as_str()).or_default() += 1;
    }
    let mut groups: Vec<(&str, usize)> = by_check.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let summary = if failing.is_empty() {
        "no failing checks".to_string()
    } else {
        format!(
            "{} failing: {}",
            failing.len(),
            groups
                .iter()
                .map(|(c, n)| format!("{} ×{n}", visible(c)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let items = failing
        .iter()
        .map(|r| {
            format!(
                "{} {} on {} — {}",
                status_label(r.status),
                visible(&r.check),
                visible(&r.entity),
                visible(r.output.lines().next().unwrap_or(""))
            )
        })
        .collect();
    (summary, items)
}

/// `:incident start NAME`.
pub fn start(state: &mut State, name: &str) -> Vec<Command> {
    if let Some(open) = &state.incident {
        let open = open.name.clone();
        state.say(
            Level::Error,
            format!("incident {open} is open — :incident end first"),
        );
        return Vec::new();
    }
    if let Err(why) = journal::check_name(name) {
        state.say(Level::Error, why);
        return Vec::new();
    }
    let filters = filter_texts(state);
    state.incident = Some(Incident {
        name: name.to_string(),
        started: state.now,
        filters,
        scope: scope_text(state),
        pending_scope: None,
    });
    state.last_incident = Some(name.to_string());
    state.say(
        Level::Info,
        format!(
            "incident {name} open: notes (:note), changes, filters and scope go to its journal; :incident end closes it"
        ),
    );
    let (summary, items) = failing_checks(state);
    let scope = scope_text(state);
    [
        journal(
            state,
            Kind::Start,
            format!("incident {name} opened; scope: {scope}"),
            vec![],
        ),
        journal(state, Kind::Checks, summary, items),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `:incident end`.
pub fn end(state: &mut State) -> Vec<Command> {
    let Some(incident) = state.incident.clone() else {
        state.say(Level::Info, "no incident is open (:incident start NAME)");
        return Vec::new();
    };
    let mut out = flush_scope(state, true);
    let (summary, items) = failing_checks(state);
    out.extend(journal(state, Kind::Checks, summary, items));
    let churned: Vec<String> = state
        .churn
        .events
        .iter()
        .filter(|e| e.at >= incident.started)
        .map(|e| {
            format!(
                "{} {} {}",
                crate::model::format::timestamp(e.at, state.zone),
                crate::model::text::escape_bytes(&e.key),
                e.change.label()
            )
        })
        .collect();
    out.extend(journal(
        state,
        Kind::Churn,
        format!("{} membership changes during the incident", churned.len()),
        churned,
    ));
    let marks: Vec<String> = state
        .logs
        .marked_lines()
        .iter()
        .map(|l| {
            format!(
                "{} {} {}: {}",
                l.time
                    .map(|t| crate::model::format::timestamp(t, state.zone))
                    .unwrap_or_else(|| "-".into()),
                l.host,
                l.program,
                l.message
            )
        })
        .collect();
    out.extend(journal(
        state,
        Kind::Marks,
        format!("{} log lines marked", marks.len()),
        marks,
    ));
    let took = state.now - incident.started;
    out.extend(journal(
        state,
        Kind::End,
        format!(
            "incident {} closed after {}",
            incident.name,
            crate::model::format::duration_short(took.num_seconds().max(0))
        ),
        vec![],
    ));
    state.incident = None;
    state.say(
        Level::Info,
        format!(
            "incident {} closed — :journal writes the hand-off (or opsconsole journal {})",
            incident.name, incident.name
        ),
    );
    out
}

/// `:note TEXT`.
pub fn note(state: &mut State, text: &str) -> Vec<Command> {
    if text.trim().is_empty() {
        state.say(Level::Error, ":note TEXT — what to write in the journal");
        return Vec::new();
    }
    match journal(state, Kind::Note, text.trim().to_string(), vec![]) {
        Some(c) => {
            state.say(Level::Info, "noted in the journal");
            vec![c]
        }
        None => {
            state.say(
                Level::Info,
                "no incident is open — :incident start NAME first, then :note",
            );
            Vec::new()
        }
    }
}

/// After every event: the changes' audit lines, applied filters and the scope, journaled while
/// an incident is open.
pub fn observe(state: &mut State, out: &mut Vec<Command>) {
    if state.incident.is_none() {
        return;
    }
    let mut add = Vec::new();
    for c in out.iter() {
        let line = match c {
            Command::Audit(a) => a,
            Command::Gated(g) => &g.attempt,
            _ => continue,
        };
        let what = match line.phase {
            Phase::Attempt => "attempt".to_string(),
            Phase::Refused | Phase::Outcome => line.result.clone().unwrap_or_default(),
        };
        // An ack says for how long and its note (the user is the entry's own).
        let ack = match (line.action.as_str(), line.duration()) {
            ("ack", Some(d)) => {
                let note = line
                    .reason
                    .as_deref()
                    .and_then(crate::model::mute::parse_ack_comment)
                    .map(|(_, note)| note)
                    .filter(|n| !n.is_empty())
                    .map(|n| format!(", note: {}", visible(n)))
                    .unwrap_or_default();
                format!(" for {}{note}", visible(d))
            }
            _ => String::new(),
        };
        add.extend(journal(
            state,
            Kind::Action,
            format!("{} {}{ack}: {what}", line.action, visible(&line.target)),
            vec![],
        ));
    }
    // A filter counts once applied (not at each key typed into it).
    if state.input.is_none() {
        let now = filter_texts(state);
        let before = state.incident.as_ref().map(|i| i.filters.clone());
        if let Some(before) = before {
            for (i, (old, new)) in before.iter().zip(&now).enumerate() {
                if old != new {
                    let pane = state.pane(Pane::ORDER[i]).name();
                    let text = match new {
                        Some(f) => format!("filter on {pane}: /{}/", visible(f)),
                        None => format!("filter on {pane} cleared"),
                    };
                    add.extend(journal(state, Kind::Filter, text, vec![]));
                }
            }
            if let Some(i) = &mut state.incident {
                i.filters = now;
            }
        }
    }
    let scope = scope_text(state);
    let at = state.now;
    if let Some(i) = &mut state.incident {
        let waiting = i.pending_scope.as_ref().map(|(s, _)| s.as_str());
        if waiting != Some(scope.as_str()) && (waiting.is_some() || scope != i.scope) {
            i.pending_scope = Some((scope, at));
        }
    }
    out.extend(add);
}

/// On the clock: a scope that has stayed put for [`SCOPE_SETTLES`] seconds is journaled
/// (`now` also at the incident's end).
pub fn flush_scope(state: &mut State, now: bool) -> Vec<Command> {
    let t = state.now;
    let Some(i) = &mut state.incident else {
        return Vec::new();
    };
    let Some((scope, since)) = i.pending_scope.clone() else {
        return Vec::new();
    };
    if !now && t - since < Duration::seconds(SCOPE_SETTLES) {
        return Vec::new();
    }
    i.pending_scope = None;
    if scope == i.scope {
        return Vec::new();
    }
    i.scope = scope.clone();
    journal(state, Kind::Scope, format!("scope: {scope}"), vec![])
        .into_iter()
        .collect()
}

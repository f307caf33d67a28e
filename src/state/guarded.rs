//! The careful side of changes: the deregister dialog's dry run (value, lease and the other keys
//! on it, the member's checks, the exact transaction), typed confirmation on protected clusters
//! and above the bulk cap, marks for bulk changes, and undo of the last deregister.

use super::input::{Input, InputKind};
use super::popup::{Change, Confirm, Popup, Preview, Target};
use super::silence_form::SilenceForm;
use super::{Level, Pane, State};
use crate::action::Action;
use crate::keymap::Context;
use crate::model::{status_label, ClusterId, Command};

/// `D` in the members pane: the dialog for the marked members, or else for the one under the
/// cursor — with what it will do shown before it does anything.
pub fn deregister_dialog(state: &mut State) -> Vec<Command> {
    let marked = state.members.marked_in_view();
    if !marked.is_empty() {
        let targets: Vec<Target> = marked
            .iter()
            .map(|m| Target {
                key: m.key().to_vec(),
                mod_revision: m.mod_revision,
                lease: m.lease,
                cluster: m.cluster,
            })
            .collect();
        let mut clusters: Vec<ClusterId> = targets.iter().map(|t| t.cluster).collect();
        clusters.sort();
        clusters.dedup();
        if let Some(out) = clusters
            .iter()
            .find_map(|&c| refused_in(state, c, "deregister", format!("{} members", targets.len())))
        {
            return out;
        }
        let n = targets.len();
        let mut confirm = Confirm {
            target: format!("{n} members"),
            change: Change::DeregisterMany {
                targets,
                revoke_lease: false,
            },
            typed: None,
        };
        let typed = clusters.iter().any(|&c| {
            let g = state.guard_in(c);
            g.typed || n > g.max_bulk
        });
        if typed {
            confirm = confirm.must_type(n.to_string());
        }
        state.popup = Some(Popup::Confirm(confirm));
        return Vec::new();
    }
    let Some(m) = state.members.selected() else {
        state.say(Level::Info, "no member selected");
        return Vec::new();
    };
    let target = Target {
        key: m.key().to_vec(),
        mod_revision: m.mod_revision,
        lease: m.lease,
        cluster: m.cluster,
    };
    let cluster = m.cluster;
    if let Some(out) = refused_in(
        state,
        cluster,
        "deregister",
        super::audit_trail::deregister_target(&target.key),
    ) {
        return out;
    }
    let Some(m) = state.members.selected() else {
        return Vec::new();
    };
    let instance = m.instance().to_string();
    let value = m.value().to_vec();
    // The member's checks, by the rule that scopes the other panes to it.
    let scope = super::checks::EntityScope {
        label: instance.clone(),
        names: super::member_names(m),
        ..Default::default()
    };
    let checks = state
        .checks
        .results
        .iter()
        .filter(|r| r.cluster == cluster && scope.matches(r.cluster, &r.entity))
        .map(|r| {
            (
                status_label(r.status).to_string(),
                r.entity.clone(),
                r.check.clone(),
            )
        })
        .collect();
    let lease = target.lease;
    let mut confirm = Confirm::deregister(
        target,
        Preview {
            value,
            lease: None,
            checks,
        },
    );
    if state.guard_in(cluster).typed {
        confirm = confirm.must_type(instance);
    }
    state.popup = Some(Popup::Confirm(confirm));
    if lease == 0 {
        return Vec::new();
    }
    if state.merged() {
        return vec![Command::InCluster(
            cluster,
            Box::new(Command::LeaseInfo { lease }),
        )];
    }
    vec![Command::LeaseInfo { lease }]
}

/// In a merged view, why a deregister in cluster `c` is refused before any dialog: that
/// cluster is read-only, or its etcd does not answer. The refusal names the cluster, on screen
/// and in its audit line. (A single cluster's session is checked where every action is.)
fn refused_in(
    state: &mut State,
    c: ClusterId,
    action: &str,
    target: String,
) -> Option<Vec<Command>> {
    if !state.merged() {
        return None;
    }
    let name = state.cluster_name(c).to_string();
    let (text, result) = if state.readonly_in(c) {
        (
            format!(
                "cluster {name} is read-only: {action} refused (readonly = true in its profile)"
            ),
            "refused: readonly",
        )
    } else if let Some(why) = super::not_live_in(state, c, crate::model::SourceKind::Etcd) {
        (why, "refused: not live")
    } else {
        return None;
    };
    let mut line = state.refusal(action, target, result);
    line.cluster = name;
    state.say(Level::Warn, text);
    Some(vec![Command::Audit(line)])
}

/// What etcd said about `lease`: into the open deregister dialog's preview, if it shows it.
pub fn lease_info(state: &mut State, lease: i64, info: Result<crate::model::LeaseKeys, String>) {
    if let (Some(w), Ok(i)) = (&mut state.lease_watch, &info) {
        if w.lease == lease && i.ttl >= 0 {
            w.last = Some(i.ttl);
            w.lowest = Some(w.lowest.map_or(i.ttl, |l| l.min(i.ttl)));
        }
    }
    if let Some(Popup::Confirm(Confirm {
        change: Change::Deregister {
            target, preview, ..
        },
        ..
    })) = &mut state.popup
    {
        if target.lease == lease {
            preview.lease = Some(info);
        }
    }
}

/// `s` with marked checks: one form for all of them, one silence each.
pub fn bulk_silence_form(state: &mut State) -> Vec<Command> {
    let rows = state.checks.marked_rows();
    if rows.is_empty() {
        return Vec::new();
    }
    // One form for rows of several clusters: resolve-expiry only where every backend has it.
    let supports_resolve = rows
        .iter()
        .all(|r| state.checks_kind_in(r.cluster) != "alertmanager");
    let form = SilenceForm::bulk(&rows, supports_resolve);
    state.popup = Some(Popup::SilenceForm(form));
    Vec::new()
}

/// `U` in the members pane: put back the member deregistered last, within a minute.
pub fn undo_dialog(state: &mut State) -> Vec<Command> {
    let now = state.now;
    let Some(u) = state.undo.latest(now).cloned() else {
        state.say(
            Level::Info,
            "nothing to undo — a deregister can be undone for a minute",
        );
        return Vec::new();
    };
    let mut confirm = Confirm {
        target: super::audit_trail::deregister_target(&u.key),
        change: Change::Restore {
            key: u.key.clone(),
            value: u.value.clone(),
            lease: u.lease,
            ttl: u.ttl.max(10),
            lease_revoked: u.lease_revoked,
            cluster: u.cluster,
        },
        typed: None,
    };
    if let Some(out) = refused_in(state, u.cluster, "undo deregister", confirm.target.clone()) {
        return out;
    }
    if state.guard_in(u.cluster).typed {
        let name = crate::model::text::escape_bytes(&u.key)
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        confirm = confirm.must_type(name);
    }
    state.popup = Some(Popup::Confirm(confirm));
    Vec::new()
}

/// Space / ctrl-a in the members or checks pane.
pub fn mark(state: &mut State, action: Action) -> Vec<Command> {
    let (ctx, verb) = match state.focus {
        Pane::Members => (Context::Members, Action::Deregister),
        _ => (Context::Checks, Action::Silence),
    };
    let act_key = state.key(ctx, verb, "D");
    let back_key = state.key(ctx, Action::Back, "esc");
    let (n, what) = match (state.focus, action) {
        (Pane::Members, Action::ToggleMark) => {
            state.members.toggle_mark();
            (state.members.marked_count(), "members")
        }
        (Pane::Members, _) => {
            state.members.mark_all_visible();
            (state.members.marked_count(), "members")
        }
        (Pane::Checks, Action::ToggleMark) => {
            state.checks.toggle_mark();
            (state.checks.marked_count(), "checks")
        }
        _ => {
            state.checks.mark_all_visible();
            (state.checks.marked_count(), "checks")
        }
    };
    state.say(
        Level::Info,
        if n == 0 {
            format!("no {what} marked")
        } else {
            format!("{n} {what} marked — {act_key} acts on them, {back_key} clears the marks")
        },
    );
    Vec::new()
}

/// `e` in the checks pane: the silence on the row to extend — asked for when several cover it.
pub fn extend_silence(state: &mut State) -> Vec<Command> {
    let Some((label, ids)) = state.checks.silences_of_selected() else {
        let why = state.checks.no_row();
        state.say(Level::Info, why);
        return Vec::new();
    };
    match ids.len() {
        0 => {
            let key = state.key(Context::Checks, Action::Silence, "s");
            state.say(
                Level::Info,
                format!("{label} is not silenced — {key} silences it"),
            )
        }
        1 => extend_prompt(state, ids[0].clone()),
        _ => {
            state.popup = Some(Popup::PickSilence {
                ids,
                index: 0,
                extend: true,
            })
        }
    }
    Vec::new()
}

/// How much longer Enter alone on the extend prompt gives a silence.
pub const EXTEND_DEFAULT: &str = "1h";

/// Asks how much longer silence `id` should last, on the status line. It starts empty (typed
/// text is never appended to a default); Enter alone means [`EXTEND_DEFAULT`].
pub fn extend_prompt(state: &mut State, id: String) {
    state.input = Some(Input::new(InputKind::Extend { id }, ""));
}

/// Enter on the extend prompt: the confirmation of the new end, or the prompt again with why not.
pub fn extend_dialog(state: &mut State, id: String, text: &str) -> Vec<Command> {
    let again = |state: &mut State, why: String| {
        state.say(Level::Warn, why);
        state.input = Some(Input::new(InputKind::Extend { id: id.clone() }, text));
        Vec::new()
    };
    let wanted = if text.trim().is_empty() {
        EXTEND_DEFAULT
    } else {
        text
    };
    let by = match super::checks::parse_duration(wanted) {
        Ok(Some(d)) if d.as_secs() > 0 => d,
        Ok(_) => return again(state, "extend by how long? e.g. 30m, 2h, 1d".into()),
        Err(e) => return again(state, e),
    };
    let Some(silence) = state.checks.silences.iter().find(|s| s.id == id).cloned() else {
        state.say(
            Level::Warn,
            format!(
                "silence {} is gone (expired or removed elsewhere)",
                crate::model::text::visible(&id)
            ),
        );
        return Vec::new();
    };
    let Some(end) = silence.expire_at else {
        state.say(
            Level::Info,
            "this silence has no end to move (it lasts until removed or resolved)",
        );
        return Vec::new();
    };
    let Ok(by) = chrono::Duration::from_std(by) else {
        return again(state, "that duration is too long".into());
    };
    // From its end, or from now if that has passed (it is about to go).
    let Some(until) = end.max(state.now).checked_add_signed(by) else {
        return again(state, "that duration is too long".into());
    };
    let name = silence_name(&silence);
    let mut confirm = Confirm {
        target: super::checks::describe_silence(&state.checks, &id),
        change: Change::Extend {
            silence: Box::new(silence),
            until,
        },
        typed: None,
    };
    if state.guard.typed {
        confirm = confirm.must_type(name);
    }
    state.popup = Some(Popup::Confirm(confirm));
    Vec::new()
}

/// What typing out confirms a change to a silence: its check, else its subscription, else its
/// alert name, else its id.
fn silence_name(s: &crate::model::Silence) -> String {
    s.check
        .clone()
        .or_else(|| s.subscription.clone())
        .or_else(|| {
            s.matchers
                .iter()
                .find(|m| m.name == "alertname" && m.is_equal && !m.is_regex)
                .map(|m| m.value.clone())
        })
        .unwrap_or_else(|| s.id.clone())
}

//! Facts from the sources, applied: listings and watch events, check results, metrics, log
//! lines, health, the outcomes of changes (each with its audit outcome line), and backends found
//! under the discovery prefix.

use super::audit_trail::{deregister_target, key_b64, silence_target};
use super::{logs, metrics, note, Level, Popup, State};
use crate::action::Action;
use crate::keymap::Context;
use crate::model::{
    text::visible, AuditId, ClusterId, Command, DeregisterOutcome, Health, Leftover, Msg,
    RestoreOutcome, Silence, SilenceOutcome, SourceId, SourceKind,
};

/// A fact from cluster `c`'s source in a merged view: membership lands on that cluster's
/// identities; facts that name their source (health) or their change (outcomes, by audit id)
/// are applied as they are.
fn apply_in(state: &mut State, c: ClusterId, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::MembersListed {
            revision,
            members,
            at,
        } => {
            state.answered_in(c, SourceKind::Etcd, at);
            state.members.apply_listing_in(c, revision, members, at);
        }
        Msg::MembersProgress {
            revision,
            preview,
            listed,
            total,
            at,
        } => {
            state.answered_in(c, SourceKind::Etcd, at);
            state
                .members
                .apply_progress(c, revision, preview, listed, total, at);
        }
        Msg::MembersEvents { events, at } => {
            state.answered_in(c, SourceKind::Etcd, at);
            apply_events(state, c, events, at);
        }
        Msg::LeaseTtls { ttls, at } => {
            state.answered_in(c, SourceKind::Etcd, at);
            state.members.apply_lease_ttls_in(c, &ttls, at)
        }
        // The metrics pane shows the scoped member's cluster's answer (the query names it).
        Msg::Metrics { result, at } => {
            state.answered_in(c, SourceKind::Metrics, at);
            state.metrics.apply(result, at);
        }
        // Each cluster's logs source feeds the one pane, every line tagged with its cluster.
        Msg::LogLines(lines) => {
            let now = state.now;
            state.answered_in(c, SourceKind::Logs, now);
            state.logs.extend_in(c, lines);
        }
        Msg::ChecksSnapshot { snapshot, at } => {
            state.answered_in(c, SourceKind::Checks, at);
            return super::merged::checks_snapshot(state, c, snapshot, at);
        }
        // The history of the member whose detail is open: that member's cluster's only.
        Msg::History { key, revisions } => {
            if let Some(Popup::MemberDetail {
                key: shown,
                cluster,
                history,
                ..
            }) = &mut state.popup
            {
                if *shown == key && *cluster == c {
                    *history = Some(revisions);
                }
            }
        }
        // Each cluster's logs backend answers a time jump or the histogram for its own lines.
        Msg::LogsAround { at, lines } => super::merged_logs::around_answered(state, c, at, lines),
        Msg::LogsHistogram { query, result } => {
            super::merged_logs::hist_answered(state, c, query, result)
        }
        Msg::AlertsAt { at, result } => super::merged_at::alerts_answered(state, c, at, result),
        // Each cluster's etcd answers for its own past (its own revision clock).
        Msg::MembersAt { at, result } => super::merged_at::answered(state, c, at, result),
        // Nested wrapping is not made by any channel; unwrap to the innermost cluster.
        Msg::InCluster(inner_c, inner) => return apply_in(state, inner_c, *inner),
        other => return apply(state, other),
    }
    Vec::new()
}

/// A fact from a source.
pub fn apply(state: &mut State, msg: Msg) -> Vec<Command> {
    let mut out = Vec::new();
    match msg {
        Msg::InCluster(c, inner) => return apply_in(state, c, *inner),
        // A replaced source's mark nothing waits for (`update` counts the owed ones).
        Msg::SourceSwitched(_) => {}
        Msg::Health(source, health) => {
            if health == Health::Live {
                let e = state.last_answer.entry(source).or_insert(state.now);
                *e = (*e).max(state.now);
            }
            if source.kind == SourceKind::Etcd && health != Health::Live {
                state.members.listing_stopped();
            }
            match &health {
                Health::Live | Health::NotConfigured => {
                    state.last_failure.remove(&source);
                }
                Health::Retrying { error, .. } | Health::Failed(error) => {
                    state.last_failure.insert(source, error.clone());
                }
                Health::Connecting | Health::Idle => {}
            }
            state.health.insert(source, health);
        }
        Msg::LastAnswer { source, at } => {
            state.last_answer.insert(source, at);
        }
        Msg::MembersListed {
            revision,
            members,
            at,
        } => {
            state.answered(SourceKind::Etcd, at);
            state.members.apply_listing(revision, members, at);
        }
        Msg::MembersProgress {
            revision,
            preview,
            listed,
            total,
            at,
        } => {
            state.answered(SourceKind::Etcd, at);
            state.members.apply_progress(
                crate::model::ClusterId::default(),
                revision,
                preview,
                listed,
                total,
                at,
            );
        }
        Msg::MembersEvents { events, at } => {
            state.answered(SourceKind::Etcd, at);
            apply_events(state, ClusterId::default(), events, at);
        }
        Msg::LeaseTtls { ttls, at } => {
            state.answered(SourceKind::Etcd, at);
            state.members.apply_lease_ttls(&ttls, at)
        }
        Msg::History { key, revisions } => {
            if let Some(Popup::MemberDetail {
                key: shown,
                history,
                ..
            }) = &mut state.popup
            {
                if *shown == key {
                    *history = Some(revisions);
                }
            }
        }
        Msg::DeregisterDone {
            key: raw_key,
            outcome,
            audit_id,
        } => {
            let key = deregister_target(&raw_key);
            let (level, text, result, detail) = match &outcome {
                DeregisterOutcome::Deleted { lease_revoked } => {
                    let lease_note = match lease_revoked {
                        None => String::new(),
                        Some(Ok(id)) => format!(" and revoked lease {id:x}"),
                        Some(Err(e)) => format!(", but revoking its lease failed: {e}"),
                    };
                    (
                        Level::Info,
                        format!("deregistered {key}{lease_note}"),
                        "deleted",
                        (!lease_note.is_empty()).then(|| lease_note.trim().to_string()),
                    )
                }
                DeregisterOutcome::Changed {
                    current_mod_revision,
                } => (
                    Level::Warn,
                    format!("not deregistered: {key} changed since you looked (re-registered?) — check it and try again"),
                    "refused: changed",
                    current_mod_revision.map(|r| format!("mod_revision now {r}")),
                ),
                DeregisterOutcome::Missing => (
                    Level::Warn,
                    format!("{key} was already gone"),
                    "missing",
                    None,
                ),
                DeregisterOutcome::Failed(e) => (
                    Level::Error,
                    format!("deregister {key} failed: {e}"),
                    "error",
                    Some(e.clone()),
                ),
            };
            let deleted = matches!(outcome, DeregisterOutcome::Deleted { .. });
            state.undo.settled(&audit_id, deleted, state.now);
            // One of a bulk change: its line says nothing on its own; the summary does, once
            // the last one is in.
            if state.batch.has(&audit_id) {
                if let Some((all, summary)) = state.batch.outcome(&audit_id, key.clone(), result) {
                    if all {
                        state.say(Level::Info, summary);
                    } else {
                        state.alert(Level::Warn, summary);
                    }
                }
            } else if deleted {
                let undo = state.key(Context::Members, Action::Undo, "U");
                state.say(level, format!("{text} — {undo} undoes it for a minute"));
            } else {
                state.say(level, text);
            }
            let mut line =
                state.audit_outcome(&audit_id, result, detail, || ("deregister", key.clone()));
            line.key_b64 = Some(key_b64(&raw_key));
            out.push(Command::Audit(line));
        }
        Msg::LeaseInfo { lease, info } => super::guarded::lease_info(state, lease, info),
        Msg::RestoreDone {
            key: raw_key,
            outcome,
            audit_id,
        } => {
            let key = deregister_target(&raw_key);
            let (level, text, result, detail) = match &outcome {
                RestoreOutcome::Restored {
                    lease,
                    new_lease: true,
                    ttl,
                } => (
                    Level::Warn,
                    format!("{key} is back, on a new lease {lease:x}: the key expires in {ttl} s unless the instance re-registers"),
                    "restored",
                    Some(format!("new lease {lease:x}, {ttl} s, not kept alive")),
                ),
                RestoreOutcome::Restored { lease: 0, .. } => (
                    Level::Info,
                    format!("{key} is back"),
                    "restored",
                    None,
                ),
                RestoreOutcome::Restored { lease, ttl, .. } => (
                    Level::Info,
                    format!("{key} is back, on its lease {lease:x} ({ttl} s left)"),
                    "restored",
                    Some(format!("lease {lease:x}")),
                ),
                RestoreOutcome::Reregistered => (
                    Level::Warn,
                    format!("not put back: {key} registered again meanwhile — left as it is"),
                    "refused: exists",
                    None,
                ),
                RestoreOutcome::Failed(e) => (
                    Level::Error,
                    format!("putting {key} back failed: {e}"),
                    "error",
                    Some(e.clone()),
                ),
            };
            state.say(level, text);
            let mut line = state.audit_outcome(&audit_id, result, detail, || {
                ("undo deregister", key.clone())
            });
            line.key_b64 = Some(key_b64(&raw_key));
            out.push(Command::Audit(line));
        }
        Msg::ChecksSnapshot { snapshot, at } => {
            state.answered(SourceKind::Checks, at);
            state.checks.apply_snapshot(snapshot, at);
            out.extend(super::notify::on_poll(state, at));
        }
        Msg::SilenceDone { outcome, audit_id } => {
            let (line, then) = silence_done(state, outcome, &audit_id);
            if state.batch.has(&audit_id) {
                if let Command::Audit(l) = &line {
                    let result = l.result.clone().unwrap_or_default();
                    match state.batch.outcome(&audit_id, l.target.clone(), &result) {
                        Some((true, summary)) => state.say(Level::Info, summary),
                        Some((false, summary)) => state.alert(Level::Warn, summary),
                        None => {}
                    }
                }
            }
            out.push(line);
            out.extend(then);
        }
        Msg::Metrics { result, at } => {
            state.answered(SourceKind::Metrics, at);
            state.metrics.apply(result, at)
        }
        Msg::LogLines(lines) => {
            let now = state.now;
            state.answered(SourceKind::Logs, now);
            state.logs.extend(lines)
        }
        Msg::AlertsAt { at, result } => super::time_cursor::alerts_at(state, at, result),
        Msg::MembersAt { at, result } => {
            out.extend(super::time_cursor::members_at(state, at, result));
        }
        Msg::LogsHistogram { query, result } => {
            let now = state.now;
            state.answered(SourceKind::Logs, now);
            super::histogram::answered(state, query, result);
        }
        Msg::LogsAround { at, lines } => {
            let now = state.now;
            state.answered(SourceKind::Logs, now);
            let waiting = state.logs.pending_jump == Some(at);
            match lines {
                Ok(lines) => {
                    let n = lines.len();
                    let landed = state.logs.insert_around(at, lines);
                    if waiting {
                        let text = match landed {
                            Some(_) => {
                                format!("logs: {n} lines read again around the time asked for")
                            }
                            None => format!(
                                "logs: no line at or after that time ({n} read again around it)"
                            ),
                        };
                        state.say(Level::Info, text);
                    }
                }
                Err(e) => {
                    if waiting {
                        state.logs.pending_jump = None;
                        state.say(
                            Level::Warn,
                            format!("logs: reading around that time failed: {e}"),
                        );
                    }
                }
            }
        }
        Msg::Discovered { pane, value, .. } => out.extend(discovered(state, pane, value)),
        msg @ (Msg::TaskStarted(_) | Msg::RunFinished { .. }) => {
            out.extend(super::run::fact(state, msg))
        }
        Msg::Notice(source, text) => state.say(Level::Warn, format!("{}: {text}", source.label())),
        Msg::Alert(source, text) => state.alert(Level::Warn, format!("{}: {text}", source.label())),
    }
    out
}

/// The audit outcome line of a silence change, and what follows from it (a takeover's expiry
/// of the old ack, once the new one is confirmed).
fn silence_done(
    state: &mut State,
    outcome: SilenceOutcome,
    audit_id: &AuditId,
) -> (Command, Option<Command>) {
    let is_ack = state.audit.action_of(audit_id) == Some("ack");
    // The old ack of a takeover whose expiry this is.
    if let Some(old) = state.acks.expired(audit_id) {
        let who = visible(&old.user).into_owned();
        let (level, text) = match &outcome {
            SilenceOutcome::Removed { .. } => {
                (Level::Info, format!("took the ack over: {who}'s ack expired"))
            }
            SilenceOutcome::AlreadyGone { .. } => (
                Level::Info,
                format!("took the ack over: {who}'s ack had already expired or been removed"),
            ),
            SilenceOutcome::Failed { error, .. } => (
                Level::Error,
                format!(
                    "the new ack is in force, but expiring {who}'s ack failed: {error} — both acks are in force"
                ),
            ),
            _ => (Level::Warn, format!("expiring {who}'s ack: unexpected answer")),
        };
        let line = silence_done(state, outcome, audit_id).0;
        state.alert(level, text);
        return (line, None);
    }
    // A takeover's new ack that did not make it: the old ack stays.
    if !matches!(outcome, SilenceOutcome::Created { .. }) {
        if let Some(old) = state.acks.created(audit_id) {
            let line = silence_done(state, outcome, audit_id).0;
            let said = state
                .status
                .as_ref()
                .map(|m| m.text.clone())
                .unwrap_or_default();
            state.alert(
                Level::Warn,
                format!("{said} — {}'s ack was left as it was", visible(&old.user)),
            );
            return (line, None);
        }
    }
    // Whatever was said of it, a silence the backend may hold is that backend's to remove.
    if let SilenceOutcome::Created { silence, request }
    | SilenceOutcome::MatchedNothing {
        silence, request, ..
    }
    | SilenceOutcome::Unconfirmed {
        silence, request, ..
    } = &outcome
    {
        super::merged::silence_created(state, &silence.id, request.cluster);
    }
    let line = match outcome {
        SilenceOutcome::Created { silence, request } => {
            let id = silence.id.clone();
            let sent = sent_as(&silence);
            state.checks.add_silence(*silence);
            let scope = request.scope.describe();
            state.say(
                Level::Info,
                format!(
                    "{} {scope} ({})",
                    if is_ack { "acked" } else { "silenced" },
                    visible(&id)
                ),
            );
            let then = state
                .acks
                .created(audit_id)
                .and_then(|old| super::ack::take_over(state, old, &id, &scope));
            let mut line = state.audit_outcome(
                audit_id,
                "created",
                Some(format!("{sent}; reason: {}", request.reason)),
                || ("silence", silence_target(&request.scope)),
            );
            line.silence_id = Some(id);
            line.reason = Some(request.reason);
            return (Command::Audit(line), then);
        }
        SilenceOutcome::MatchedNothing {
            silence,
            request,
            leftover,
        } => {
            let id = silence.id.as_str();
            let shown_id = visible(id);
            let (said, recorded) = match &leftover {
                Leftover::Expired => (
                    format!("nothing shows silence {shown_id}, so it was expired again"),
                    "expired again".to_string(),
                ),
                Leftover::Absent => (
                    format!("the backend does not hold silence {shown_id}"),
                    "not held by the backend".to_string(),
                ),
                Leftover::Kept(e) => (
                    format!(
                        "silence {shown_id} still exists (expiring it failed: {e}) — remove it in the backend"
                    ),
                    format!("still there, expiring it failed: {e}"),
                ),
            };
            state.say(
                Level::Warn,
                format!(
                    "the silence matched nothing: {} — {said}",
                    request.scope.describe()
                ),
            );
            let mut line = state.audit_outcome(
                audit_id,
                "matched nothing",
                Some(format!("{}; {recorded}", sent_as(&silence))),
                || ("silence", silence_target(&request.scope)),
            );
            line.silence_id = Some(id.to_string());
            line.reason = Some(request.reason);
            Command::Audit(line)
        }
        SilenceOutcome::Unconfirmed {
            silence,
            request,
            error,
        } => {
            state.say(
                Level::Warn,
                format!(
                    "silence {} for {} was created but could not be confirmed ({error}) — check it in the backend",
                    visible(&silence.id),
                    request.scope.describe()
                ),
            );
            let mut line = state.audit_outcome(
                audit_id,
                "unconfirmed",
                Some(format!("{}; {error}", sent_as(&silence))),
                || ("silence", silence_target(&request.scope)),
            );
            line.silence_id = Some(silence.id.clone());
            line.reason = Some(request.reason);
            Command::Audit(line)
        }
        SilenceOutcome::Removed { id } => {
            state.checks.remove_silence(&id);
            let what = if state.audit.action_of(audit_id) == Some("unack") {
                "ack"
            } else {
                "silence"
            };
            state.say(Level::Info, format!("{what} {} removed", visible(&id)));
            let mut line =
                state.audit_outcome(audit_id, "removed", None, || ("unsilence", id.clone()));
            line.silence_id = Some(id);
            Command::Audit(line)
        }
        SilenceOutcome::AlreadyGone { id, detail } => {
            state.checks.remove_silence(&id);
            state.say(
                Level::Warn,
                format!(
                    "silence {} was already expired or removed elsewhere",
                    visible(&id)
                ),
            );
            let mut line = state.audit_outcome(audit_id, "already gone", Some(detail), || {
                ("unsilence", id.clone())
            });
            line.silence_id = Some(id);
            Command::Audit(line)
        }
        SilenceOutcome::Extended { old_id, silence } => {
            let id = silence.id.clone();
            let until = silence
                .expire_at
                .map(|t| crate::model::format::timestamp(t, state.zone))
                .unwrap_or_else(|| "?".into());
            let (text, result) = if id == old_id {
                (
                    format!("silence {} now ends {until}", visible(&id)),
                    "extended",
                )
            } else {
                // The backend would not update it in place: say which silence is in force now.
                state.checks.remove_silence(&old_id);
                (
                    format!(
                        "silence {} was replaced by {} (the backend would not update it in place), ending {until}",
                        visible(&old_id),
                        visible(&id)
                    ),
                    "replaced",
                )
            };
            state.say(Level::Info, text);
            state.checks.add_silence(*silence);
            let mut line = state.audit_outcome(
                audit_id,
                result,
                Some(format!("ends {until}; id {id}")),
                || ("extend silence", old_id.clone()),
            );
            line.silence_id = Some(id);
            Command::Audit(line)
        }
        SilenceOutcome::Failed { what, error } => {
            state.say(Level::Error, format!("{what} failed: {error}"));
            let action = if what.starts_with("unsilence") {
                "unsilence"
            } else if what.starts_with("extend") {
                "extend silence"
            } else {
                "silence"
            };
            Command::Audit(
                state.audit_outcome(audit_id, "error", Some(error), || (action, what.clone())),
            )
        }
    };
    (line, None)
}

/// What a silence was sent as, for the audit: the matchers or the Sensu entry, with the names
/// exactly as sent.
fn sent_as(s: &Silence) -> String {
    if s.matchers.is_empty() {
        format!("entry {}", s.describe())
    } else {
        format!("matchers {}", s.describe())
    }
}

/// `kind`'s pane now has a backend named `name` (from the profile, or discovered): its source is
/// connecting. A logs backend brings its buffer size.
/// Cluster `source.cluster`'s pane of `source.kind` is served by a backend of kind `name`
/// (what a merged view asks of each cluster depends on it: Redis cannot re-read the past).
pub fn backend_in(state: &mut State, source: SourceId, name: &str) {
    state.backends.by_source.insert(source, name.to_string());
}

/// `source`'s backend `name` starts: the pane is emptied for it (a new backend's data replaces the
/// old one's) — except in a merged view where another cluster's backend of the same pane is
/// already running: the pane holds that cluster's rows and lines, which a cluster discovered or
/// started later must not wipe.
pub fn backend_started(
    state: &mut State,
    source: SourceId,
    name: &str,
    log_capacity: Option<usize>,
) {
    let kind = source.kind;
    let shared = state.merged()
        && state
            .backends
            .by_source
            .keys()
            .any(|s| s.kind == kind && s.cluster != source.cluster);
    let name = Some(name.to_string());
    match kind {
        SourceKind::Checks => {
            state.backends.checks = name;
            if !shared {
                state.checks.backend_changed();
                state.notifier.reset();
            }
        }
        SourceKind::Metrics => {
            state.backends.metrics = name;
            if !shared {
                // Ask again for the current view on the new backend.
                state.metrics = metrics::MetricsPane::with_width(
                    state.viewports.sparkline_width,
                    state.viewports.chart_points,
                );
            }
        }
        SourceKind::Logs => {
            state.backends.logs = name;
            if !shared {
                let mut logs =
                    logs::Logs::with_capacity(log_capacity.unwrap_or(logs::DEFAULT_CAPACITY));
                logs.view.set_rows(state.viewports.logs_rows);
                // The histogram's buckets are aligned in the display zone.
                logs.hist.zone = state.zone.as_tz();
                state.logs = logs;
            }
        }
        SourceKind::Etcd => {}
    }
    state.health.insert(source, Health::Connecting);
}

/// `kind`'s pane has no backend any more: it says so, and shows nothing from the old one.
fn backend_stopped(state: &mut State, kind: SourceKind) {
    state
        .health
        .insert(state.source(kind), Health::NotConfigured);
    match kind {
        SourceKind::Checks => {
            state.backends.checks = None;
            state.checks = Default::default();
        }
        SourceKind::Metrics => {
            state.backends.metrics = None;
            state.metrics = metrics::MetricsPane::with_width(
                state.viewports.sparkline_width,
                state.viewports.chart_points,
            );
        }
        SourceKind::Logs => {
            state.backends.logs = None;
            let mut logs = logs::Logs::default();
            logs.view.set_rows(state.viewports.logs_rows);
            logs.hist.zone = state.zone.as_tz();
            state.logs = logs;
        }
        SourceKind::Etcd => {}
    }
}

/// A discovery entry changed: start, replace or stop that pane's source. A bad value is reported
/// and the running source is kept.
fn discovered(state: &mut State, pane: SourceId, value: Option<String>) -> Vec<Command> {
    let name = pane.label();
    let Some(text) = value else {
        state.backends.by_source.remove(&pane);
        backend_stopped(state, pane.kind);
        note(
            state,
            format!("{name}: discovery entry removed; pane not configured"),
        );
        return vec![Command::StopSource(pane)];
    };
    let checked = match pane.kind {
        SourceKind::Checks => crate::config::checks_from_json(&text)
            .map(|c| (c.kind.name(), c.http.url.clone(), None)),
        SourceKind::Metrics => crate::config::metrics_from_json(&text)
            .map(|m| (m.kind.name(), m.http.url.clone(), None)),
        SourceKind::Logs => crate::config::logs_from_json(&text)
            .map(|l| (l.kind.name(), l.http.url.clone(), Some(l.buffer_lines))),
        SourceKind::Etcd => return Vec::new(),
    };
    match checked {
        Ok((kind, url, log_capacity)) => {
            tracing::info!(pane = name, %url, "discovered backend");
            backend_started(state, pane, kind, log_capacity);
            backend_in(state, pane, kind);
            note(state, format!("{name}: discovered {url}"));
            vec![Command::StartSource {
                source: pane,
                spec: text,
            }]
        }
        Err(e) => {
            state.alert(
                Level::Error,
                format!("{name}: discovery entry is invalid ({e}); keeping the current source"),
            );
            Vec::new()
        }
    }
}

/// Cluster `c`'s watch events, each applied to the members and then told to the churn
/// bookkeeping with what the key was before it (its lease, and that lease's last-seen TTL).
/// One event at a time, so "before" is the members as the previous event left them, and the
/// member is looked up once per event (a separate pass over the batch looked each key up again,
/// plus a map of the batch's own changes).
fn apply_events(
    state: &mut State,
    c: ClusterId,
    events: Vec<crate::model::KvEvent>,
    at: chrono::DateTime<chrono::Utc>,
) {
    use super::churn::Before;
    use crate::model::KvEvent;
    for ev in &events {
        let lease = state.members.apply_event_in(c, ev, at);
        let before = Before {
            lease,
            lease_remaining: lease.and_then(|l| state.members.lease_remaining_in(c, l, at)),
        };
        match ev {
            KvEvent::Put(e) => {
                state.churn.put_in(c, &e.key, e.lease, before, at);
                let n = state.churn.flaps_in(c, &e.key, at);
                state.members.set_flaps_in(c, &e.key, n);
            }
            KvEvent::Delete { key, .. } => {
                let ours = state.undo.involves(c, key);
                state.churn.delete_in(c, key, before, ours, at);
            }
        }
    }
    state.members.events_applied(at);
}

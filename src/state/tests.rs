//! Reducer tables: `update`, `handle_action`, `handle_text` and `tick` driven without a terminal or a
//! network. Each test states the messages/keys that go in and the commands and state that come out.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::action::{Action, Command};
use crate::sources::{DeregisterOutcome, Health, KvEntry, KvEvent, Msg, SourceId};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 4, 10, 0).unwrap()
}

fn kv(key: &str, addr: &str, rev: i64, lease: i64) -> KvEntry {
    KvEntry {
        key: key.to_string(),
        value: format!(r#"{{"addr":"{addr}","port":80,"version":"1.4.2"}}"#).into_bytes(),
        create_revision: rev,
        mod_revision: rev,
        version: 1,
        lease,
    }
}

/// Five members, three leases (one shared), one without a lease. Sorted by role then instance:
/// db/db-1, web/web-1, web/web-2, web/web-10, worker/w-1.
fn fleet() -> Vec<KvEntry> {
    vec![
        kv("/services/web/web-1", "10.0.0.1", 11, 0x10),
        kv("/services/web/web-2", "10.0.0.2", 12, 0x10),
        kv("/services/web/web-10", "10.0.0.10", 13, 0x20),
        kv("/services/db/db-1", "10.0.1.1", 14, 0),
        kv("/services/worker/w-1", "10.0.2.1", 15, 0x30),
    ]
}

fn snapshot(entries: Vec<KvEntry>, revision: i64) -> Msg {
    Msg::MembersSnapshot {
        revision,
        entries,
        at: t0(),
    }
}

fn events(events: Vec<KvEvent>) -> Msg {
    Msg::MembersEvents { events, at: t0() }
}

fn del(key: &str, rev: i64) -> KvEvent {
    KvEvent::Delete {
        key: key.to_string(),
        mod_revision: rev,
    }
}

fn empty_state() -> State {
    State::new("prod", "/services/", "alice", t0())
}

/// A synced state with [`fleet`]; the first `WatchLeases` has already been consumed.
fn synced() -> State {
    let mut s = empty_state();
    let cmds = update(&mut s, snapshot(fleet(), 20));
    assert_eq!(cmds, vec![Command::WatchLeases(vec![0x10, 0x20, 0x30])]);
    s
}

fn keys(s: &State) -> Vec<String> {
    (0..s.members.visible_len())
        .map(|i| s.members.row(i).unwrap().key.to_string())
        .collect()
}

fn selected_key(s: &State) -> Option<String> {
    s.members.selected().map(|m| m.key.to_string())
}

fn type_text(s: &mut State, text: &str) -> Vec<Command> {
    let mut out = Vec::new();
    for c in text.chars() {
        out.extend(handle_text(s, TextKey::Char(c)));
    }
    out
}

fn status_text(s: &State) -> String {
    s.status
        .as_ref()
        .map(|l| l.text.clone())
        .unwrap_or_default()
}

fn audit_of(cmds: &[Command]) -> &crate::audit::AuditEntry {
    match cmds {
        [Command::Audit(a)] => a,
        other => panic!("expected exactly one audit command, got {other:?}"),
    }
}

// ---- facts from the source ----

#[test]
fn snapshot_and_events_reconcile() {
    let mut s = empty_state();
    assert!(!s.members.synced);
    assert_eq!(s.health.get(&SourceId::Etcd), Some(&Health::Connecting));

    update(&mut s, Msg::Health(SourceId::Etcd, Health::Live));
    assert_eq!(s.health.get(&SourceId::Etcd), Some(&Health::Live));

    update(&mut s, snapshot(fleet(), 20));
    assert!(s.members.synced);
    assert_eq!(s.members.revision, 20);
    assert_eq!(
        keys(&s),
        [
            "/services/db/db-1",
            "/services/web/web-1",
            "/services/web/web-2",
            "/services/web/web-10",
            "/services/worker/w-1",
        ]
    );

    // (events applied, expected keys afterwards, expected revision)
    let steps: Vec<(Vec<KvEvent>, Vec<&str>, i64)> = vec![
        (
            vec![KvEvent::Put(kv("/services/api/api-1", "10.0.3.1", 21, 0))],
            vec![
                "/services/api/api-1",
                "/services/db/db-1",
                "/services/web/web-1",
                "/services/web/web-2",
                "/services/web/web-10",
                "/services/worker/w-1",
            ],
            21,
        ),
        (
            vec![del("/services/web/web-2", 22), del("/services/db/db-1", 23)],
            vec![
                "/services/api/api-1",
                "/services/web/web-1",
                "/services/web/web-10",
                "/services/worker/w-1",
            ],
            23,
        ),
        // A delete of a key we never saw is harmless and still advances the revision.
        (
            vec![del("/services/ghost/g-1", 24)],
            vec![
                "/services/api/api-1",
                "/services/web/web-1",
                "/services/web/web-10",
                "/services/worker/w-1",
            ],
            24,
        ),
    ];
    for (evs, want, rev) in steps {
        update(&mut s, events(evs.clone()));
        assert_eq!(keys(&s), want, "after {evs:?}");
        assert_eq!(s.members.revision, rev, "after {evs:?}");
    }
    assert_eq!(s.members.role_counts().get("db"), None);
    assert_eq!(s.members.role_counts().get("web"), Some(&2));

    // A re-list (after compaction) replaces everything: ghosts vanish, newcomers appear.
    update(
        &mut s,
        snapshot(
            vec![
                kv("/services/web/web-1", "10.0.0.1", 11, 0x10),
                kv("/services/cache/c-1", "10.0.4.1", 30, 0),
            ],
            40,
        ),
    );
    assert_eq!(keys(&s), ["/services/cache/c-1", "/services/web/web-1"]);
    assert_eq!(s.members.revision, 40);
    assert_eq!(s.members.len(), 2);
}

#[test]
fn lease_ttls_and_tick_count_down() {
    let mut s = synced();
    assert_eq!(s.members.lease_remaining(0x10, s.now), None);
    update(
        &mut s,
        Msg::LeaseTtls {
            ttls: vec![(0x10, 30), (0x20, -1)],
            at: t0(),
        },
    );
    assert_eq!(s.members.lease_remaining(0x10, s.now), Some(30));
    assert_eq!(s.members.lease_remaining(0x20, s.now), Some(0));
    assert_eq!(tick(&mut s, t0() + Duration::seconds(7)), vec![]);
    assert_eq!(s.now, t0() + Duration::seconds(7));
    assert_eq!(s.members.lease_remaining(0x10, s.now), Some(23));
}

#[test]
fn unsilencing_what_is_already_gone_warns_and_is_audited() {
    use crate::sources::checks::SilenceOutcome;
    let mut s = empty_state();
    let cmds = update(
        &mut s,
        Msg::SilenceDone(SilenceOutcome::AlreadyGone {
            id: "0f3c".into(),
            detail: "500 from http://am/api/v2/silence/0f3c: silence not found".into(),
        }),
    );
    let a = audit_of(&cmds);
    assert_eq!(
        (a.action.as_str(), a.target.as_str(), a.result.as_str()),
        ("unsilence", "0f3c", "already gone")
    );
    assert!(a.detail.as_deref().unwrap().contains("silence not found"));
    let status = s.status.as_ref().unwrap();
    assert_eq!(status.level, Level::Warn);
    assert!(status.text.contains("0f3c") && status.text.contains("already expired"));
}

/// An Alertmanager-like row with `labels`, entity and check taken from them as the parser does.
fn alert_row(labels: &[(&str, &str)]) -> crate::sources::checks::CheckResult {
    let get = |k: &str| {
        labels
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    crate::sources::checks::CheckResult {
        entity: get("instance"),
        check: get("alertname"),
        status: 2,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn alertmanager_state(rows: Vec<crate::sources::checks::CheckResult>) -> State {
    let mut s = empty_state();
    s.backends.checks = Some("alertmanager".into());
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: crate::sources::checks::ChecksSnapshot {
                results: rows,
                ..Default::default()
            },
            at: t0(),
        },
    );
    s.focus = Pane::Checks;
    s
}

/// Opens the form on the selected row, picks scope `steps` to the right, gives a reason, Enter.
fn submit_form(s: &mut State, steps: usize) {
    handle_action(s, Action::Silence);
    handle_form(s, FormKey::Tab);
    for _ in 0..steps {
        handle_form(s, FormKey::Right);
    }
    handle_form(s, FormKey::BackTab);
    for c in "why".chars() {
        handle_form(s, FormKey::Char(c));
    }
    handle_form(s, FormKey::Enter);
}

#[test]
fn silence_request_carries_the_raw_labels_of_the_row() {
    use crate::sources::checks::SilenceScope;
    let evil = "Evil\u{1b}]52;c;ZXZpbA==\u{7}OSC";
    let mut s = alertmanager_state(vec![alert_row(&[
        ("alertname", evil),
        ("severity", "critical"),
    ])]);
    submit_form(&mut s, 0);
    let want = SilenceScope::CheckOnEntity {
        entity: String::new(),
        check: evil.into(),
    };
    let Some(Popup::ConfirmSilence(req)) = &s.popup else {
        panic!("{:?}", s.popup);
    };
    assert_eq!(
        req.scope, want,
        "the backend's values, not the text on screen"
    );
    assert_eq!(
        req.scope.describe(),
        "Evil␛]52;c;ZXZpbA==␇OSC on (no instance)"
    );
    let cmds = handle_action(&mut s, Action::Confirm);
    assert_eq!(req_scope(&cmds), want, "{cmds:?}");
    let status = &s.status.as_ref().unwrap().text;
    assert!(!status.chars().any(char::is_control), "{status:?}");

    // "every check on (no instance)": instance="" alone would mute every alert without one.
    let mut s = alertmanager_state(vec![alert_row(&[("alertname", "NoInstance")])]);
    submit_form(&mut s, 2);
    let Some(Popup::SilenceForm(form)) = &s.popup else {
        panic!("the form stays open: {:?}", s.popup);
    };
    assert_eq!(form.field, silence_form::Field::Scope);
    assert!(
        form.error.as_deref().unwrap_or("").contains("empty string"),
        "{:?}",
        form.error
    );
    assert!(handle_action(&mut s, Action::Confirm).is_empty());
}

fn req_scope(cmds: &[Command]) -> crate::sources::checks::SilenceScope {
    cmds.iter()
        .find_map(|c| match c {
            Command::Silence(r) => Some(r.scope.clone()),
            _ => None,
        })
        .expect("a silence command")
}

#[test]
fn silence_outcomes_say_what_the_backend_showed() {
    use crate::sources::checks::{
        Leftover, Matcher, Silence, SilenceOutcome, SilenceRequest, SilenceScope,
    };
    let row = alert_row(&[("alertname", "NoInstance"), ("severity", "warning")]);
    let request = SilenceRequest {
        scope: SilenceScope::CheckOnEntity {
            entity: String::new(),
            check: "NoInstance".into(),
        },
        duration: None,
        expire_on_resolve: false,
        reason: "why".into(),
        creator: "alice".into(),
    };
    let silence = Silence {
        id: "5e1".into(),
        matchers: [("alertname", "NoInstance"), ("instance", "")]
            .iter()
            .map(|(n, v)| Matcher {
                name: n.to_string(),
                value: v.to_string(),
                is_regex: false,
                is_equal: true,
            })
            .collect(),
        ..Default::default()
    };

    // Confirmed: the row is marked at once, the audit names the id and the matchers sent.
    let mut s = alertmanager_state(vec![row.clone()]);
    let cmds = update(
        &mut s,
        Msg::SilenceDone(SilenceOutcome::Created {
            silence: Box::new(silence.clone()),
            request: request.clone(),
        }),
    );
    assert!(s.checks.results[0].silenced);
    let a = audit_of(&cmds);
    assert_eq!(
        (a.action.as_str(), a.target.as_str(), a.result.as_str()),
        ("silence", "NoInstance on (no instance)", "created")
    );
    let detail = a.detail.clone().unwrap();
    assert!(
        detail.contains("id 5e1") && detail.contains(r#"alertname="NoInstance", instance="""#),
        "{detail}"
    );
    assert_eq!(
        s.status.as_ref().unwrap().text,
        "silenced NoInstance on (no instance) (5e1)"
    );

    // Matched nothing: nothing marked, a warning naming the id, audited as such.
    for (leftover, says) in [
        (Leftover::Expired, "expired again"),
        (Leftover::Absent, "does not hold"),
        (Leftover::Kept("500 from am".into()), "still exists"),
    ] {
        let mut s = alertmanager_state(vec![row.clone()]);
        let cmds = update(
            &mut s,
            Msg::SilenceDone(SilenceOutcome::MatchedNothing {
                silence: Box::new(silence.clone()),
                request: request.clone(),
                leftover: leftover.clone(),
            }),
        );
        assert!(!s.checks.results[0].silenced, "{leftover:?}");
        let status = s.status.as_ref().unwrap();
        assert_eq!(status.level, Level::Warn);
        assert!(
            status
                .text
                .starts_with("the silence matched nothing: NoInstance on (no instance)")
                && status.text.contains("5e1")
                && status.text.contains(says),
            "{}",
            status.text
        );
        let a = audit_of(&cmds);
        assert_eq!(a.result, "matched nothing");
        assert!(a.detail.as_deref().unwrap().contains("id 5e1"), "{a:?}");
    }

    // Unconfirmed: said so, never "silenced".
    let mut s = alertmanager_state(vec![row]);
    let cmds = update(
        &mut s,
        Msg::SilenceDone(SilenceOutcome::Unconfirmed {
            silence: Box::new(silence),
            request,
            error: "no answer within 5 s".into(),
        }),
    );
    assert!(!s.checks.results[0].silenced);
    assert!(s
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("could not be confirmed"));
    assert_eq!(audit_of(&cmds).result, "unconfirmed");
}

#[test]
fn audit_messages_pass_through() {
    let mut s = empty_state();
    let entry = crate::audit::AuditEntry {
        time: t0().to_rfc3339(),
        user: "alice".into(),
        cluster: "prod".into(),
        action: "silence".into(),
        target: "web-1/check_http".into(),
        result: "ok".into(),
        detail: None,
    };
    assert_eq!(
        update(&mut s, Msg::Audit(entry.clone())),
        vec![Command::Audit(entry)]
    );
}

// ---- read-only ----

#[test]
fn readonly_refuses_every_mutating_action_with_one_audit_line() {
    // (action, audit action name, audit target)
    let table = [
        (Action::Deregister, "deregister", "/services/db/db-1"),
        (Action::Silence, "silence", ""),
        (Action::Unsilence, "unsilence", ""),
    ];
    for (action, name, target) in table {
        let mut s = synced();
        s.readonly = true;
        let cmds = handle_action(&mut s, action);
        let a = audit_of(&cmds);
        assert_eq!(a.result, "refused: readonly", "{action:?}");
        assert_eq!(a.action, name, "{action:?}");
        assert_eq!(a.target, target, "{action:?}");
        assert_eq!(a.user, "alice");
        assert_eq!(a.cluster, "prod");
        assert_eq!(a.time, t0().to_rfc3339());
        assert_eq!(a.detail, None);
        assert_eq!(s.popup, None, "{action:?} must not open a dialog");
        let st = s.status.as_ref().expect("a status message");
        assert_eq!(st.level, Level::Warn);
        assert!(
            st.text.contains("read-only") && st.text.contains("refused"),
            "{}",
            st.text
        );
    }
}

#[test]
fn readonly_still_allows_reading() {
    let mut s = synced();
    s.readonly = true;
    for action in [Action::Down, Action::Detail, Action::Help, Action::NextPane] {
        let cmds = handle_action(&mut s, action);
        assert!(
            !cmds.iter().any(|c| matches!(c, Command::Audit(_))),
            "{action:?} produced {cmds:?}"
        );
        s.popup = None;
    }
}

// ---- deregister ----

#[test]
fn deregister_opens_a_dialog_naming_the_key() {
    let mut s = synced();
    handle_action(&mut s, Action::Down); // web/web-1, lease 0x10, mod_revision 11
    assert_eq!(handle_action(&mut s, Action::Deregister), vec![]);
    assert_eq!(
        s.popup,
        Some(Popup::ConfirmDeregister {
            key: "/services/web/web-1".into(),
            mod_revision: 11,
            lease: 0x10,
            revoke_lease: false,
        })
    );
}

#[test]
fn deregister_confirm_table() {
    // (row selected, toggles of revoke-lease, expected command)
    let table: Vec<(usize, usize, Command)> = vec![
        (
            1,
            0,
            Command::Deregister {
                key: "/services/web/web-1".into(),
                mod_revision: 11,
                revoke_lease: None,
            },
        ),
        (
            1,
            1,
            Command::Deregister {
                key: "/services/web/web-1".into(),
                mod_revision: 11,
                revoke_lease: Some(0x10),
            },
        ),
        (
            1,
            2,
            Command::Deregister {
                key: "/services/web/web-1".into(),
                mod_revision: 11,
                revoke_lease: None,
            },
        ),
        // db-1 has no lease: the toggle is ignored and nothing is revoked.
        (
            0,
            1,
            Command::Deregister {
                key: "/services/db/db-1".into(),
                mod_revision: 14,
                revoke_lease: None,
            },
        ),
        (
            4,
            1,
            Command::Deregister {
                key: "/services/worker/w-1".into(),
                mod_revision: 15,
                revoke_lease: Some(0x30),
            },
        ),
    ];
    for (row, toggles, want) in table {
        let mut s = synced();
        s.members.select_index(row);
        handle_action(&mut s, Action::Deregister);
        for i in 0..toggles {
            assert_eq!(handle_action(&mut s, Action::ToggleRevokeLease), vec![]);
            if let Some(Popup::ConfirmDeregister {
                lease,
                revoke_lease,
                ..
            }) = &s.popup
            {
                assert_eq!(
                    *revoke_lease,
                    *lease != 0 && i % 2 == 0,
                    "row {row} toggle {i}"
                );
            } else {
                panic!("dialog closed by the toggle");
            }
        }
        // Keys that mean nothing in the dialog leave it open and do nothing.
        for idle in [
            Action::Down,
            Action::Deregister,
            Action::Help,
            Action::NextPane,
        ] {
            assert_eq!(handle_action(&mut s, idle), vec![], "{idle:?}");
            assert!(
                matches!(s.popup, Some(Popup::ConfirmDeregister { .. })),
                "{idle:?}"
            );
        }
        assert_eq!(s.focus, Pane::Members);
        let cmds = handle_action(&mut s, Action::Confirm);
        assert_eq!(cmds, vec![want], "row {row}, {toggles} toggles");
        assert_eq!(s.popup, None);
        assert!(
            status_text(&s).starts_with("deregistering /services/"),
            "{}",
            status_text(&s)
        );
    }
}

#[test]
fn deregister_cancel_does_nothing() {
    for cancel in [Action::Cancel, Action::Back, Action::Quit] {
        let mut s = synced();
        handle_action(&mut s, Action::Deregister);
        assert!(s.popup.is_some());
        assert_eq!(handle_action(&mut s, cancel), vec![], "{cancel:?}");
        assert_eq!(s.popup, None, "{cancel:?}");
        assert!(
            !s.should_quit,
            "{cancel:?} in the dialog must not quit the console"
        );
        assert_eq!(status_text(&s), "deregister cancelled");
    }
}

#[test]
fn deregister_with_nothing_selected() {
    let mut s = empty_state();
    update(&mut s, snapshot(vec![], 1));
    assert_eq!(handle_action(&mut s, Action::Deregister), vec![]);
    assert_eq!(s.popup, None);
    assert_eq!(status_text(&s), "no member selected");
}

#[test]
fn deregister_outcomes_table() {
    let key = "/services/web/web-1";
    // (outcome, level, status text, audit result, audit detail)
    let table: Vec<(DeregisterOutcome, Level, String, &str, Option<&str>)> = vec![
        (
            DeregisterOutcome::Deleted { lease_revoked: None },
            Level::Info,
            format!("deregistered {key}"),
            "deleted",
            None,
        ),
        (
            DeregisterOutcome::Deleted {
                lease_revoked: Some(Ok(0x2a)),
            },
            Level::Info,
            format!("deregistered {key} and revoked lease 2a"),
            "deleted",
            Some("and revoked lease 2a"),
        ),
        (
            DeregisterOutcome::Deleted {
                lease_revoked: Some(Err("lease not found".into())),
            },
            Level::Info,
            format!("deregistered {key}, but revoking its lease failed: lease not found"),
            "deleted",
            // The detail is the status suffix trimmed of spaces only, so it keeps the leading comma.
            Some(", but revoking its lease failed: lease not found"),
        ),
        (
            DeregisterOutcome::Changed {
                current_mod_revision: Some(99),
            },
            Level::Warn,
            format!("not deregistered: {key} changed since you looked (re-registered?) — check it and try again"),
            "refused: changed",
            Some("mod_revision now 99"),
        ),
        (
            DeregisterOutcome::Changed {
                current_mod_revision: None,
            },
            Level::Warn,
            format!("not deregistered: {key} changed since you looked (re-registered?) — check it and try again"),
            "refused: changed",
            None,
        ),
        (
            DeregisterOutcome::Missing,
            Level::Warn,
            format!("{key} was already gone"),
            "missing",
            None,
        ),
        (
            DeregisterOutcome::Failed("etcd is unreachable; nothing was deleted".into()),
            Level::Error,
            format!("deregister {key} failed: etcd is unreachable; nothing was deleted"),
            "error",
            Some("etcd is unreachable; nothing was deleted"),
        ),
    ];
    for (outcome, level, text, result, detail) in table {
        let mut s = synced();
        let cmds = update(
            &mut s,
            Msg::DeregisterDone {
                key: key.into(),
                outcome: outcome.clone(),
            },
        );
        let a = audit_of(&cmds);
        assert_eq!(a.action, "deregister", "{outcome:?}");
        assert_eq!(a.target, key, "{outcome:?}");
        assert_eq!(a.result, result, "{outcome:?}");
        assert_eq!(a.detail.as_deref(), detail, "{outcome:?}");
        let st = s.status.as_ref().unwrap();
        assert_eq!(st.level, level, "{outcome:?}");
        assert_eq!(st.text, text, "{outcome:?}");
        assert_eq!(st.at, t0());
    }
}

// ---- filter ----

#[test]
fn filter_typing_filters_live() {
    let mut s = synced();
    assert_eq!(handle_action(&mut s, Action::Filter), vec![]);
    assert_eq!(
        s.input,
        Some(Input {
            kind: InputKind::Filter,
            buffer: String::new()
        })
    );
    // (typed, buffer, visible rows)
    let table = [
        ('w', "w", 4), // web-*, worker (its role contains w), db-1 does not
        ('e', "we", 3),
        ('b', "web", 3),
        ('-', "web-", 3),
        ('1', "web-1", 2), // web-1 and web-10
        ('0', "web-10", 1),
    ];
    for (c, buffer, n) in table {
        assert_eq!(handle_text(&mut s, TextKey::Char(c)), vec![]);
        assert_eq!(s.input.as_ref().unwrap().buffer, buffer);
        assert_eq!(
            s.members.visible_len(),
            n,
            "after typing {buffer:?}: {:?}",
            keys(&s)
        );
    }
    handle_text(&mut s, TextKey::Backspace);
    assert_eq!(s.members.visible_len(), 2);
    assert_eq!(s.members.filter.as_ref().unwrap().text, "web-1");

    let cmds = handle_text(&mut s, TextKey::Enter);
    assert_eq!(s.input, None);
    assert_eq!(s.members.filter.as_ref().unwrap().text, "web-1");
    assert_eq!(status_text(&s), "filter /web-1/: 2 of 5 members");
    // Only web-1 (lease 0x10) and web-10 (0x20) are on screen now.
    assert_eq!(cmds, vec![Command::WatchLeases(vec![0x10, 0x20])]);

    // Re-opening the filter starts from the active one.
    handle_action(&mut s, Action::Filter);
    assert_eq!(s.input.as_ref().unwrap().buffer, "web-1");
    handle_text(&mut s, TextKey::Esc);

    // Esc in members clears an applied filter.
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "!web");
    handle_text(&mut s, TextKey::Enter);
    assert_eq!(keys(&s), ["/services/db/db-1", "/services/worker/w-1"]);
    handle_action(&mut s, Action::Back);
    assert!(s.members.filter.is_none());
    assert_eq!(s.members.visible_len(), 5);
    assert_eq!(status_text(&s), "filter cleared");
}

#[test]
fn filter_is_case_insensitive_unless_uppercase() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "WEB");
    assert_eq!(s.members.visible_len(), 0);
    for _ in 0..3 {
        handle_text(&mut s, TextKey::Backspace);
    }
    type_text(&mut s, "wEb");
    assert_eq!(s.members.visible_len(), 0);
    for _ in 0..3 {
        handle_text(&mut s, TextKey::Backspace);
    }
    // An empty buffer is no filter at all.
    assert!(s.members.filter.is_none());
    type_text(&mut s, "web");
    assert_eq!(s.members.visible_len(), 3);
}

#[test]
fn bad_regex_keeps_previous_filter_and_enter_reports_it() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "web");
    assert_eq!(s.members.visible_len(), 3);
    type_text(&mut s, "-(1");
    // "web-(1" does not compile: the last good filter ("web-") stays.
    assert_eq!(s.members.filter.as_ref().unwrap().text, "web-");
    assert_eq!(s.members.visible_len(), 3);
    // Live typing does not re-aim the lease poller; Enter does, for the filter still in force.
    assert_eq!(
        handle_text(&mut s, TextKey::Enter),
        vec![Command::WatchLeases(vec![0x10, 0x20])]
    );
    assert_eq!(s.input, None);
    let st = s.status.as_ref().unwrap();
    assert_eq!(st.level, Level::Error);
    assert!(st.text.starts_with("bad filter regex: "), "{}", st.text);
    assert_eq!(s.members.filter.as_ref().unwrap().text, "web-");
}

#[test]
fn esc_while_typing_clears_the_filter() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "worker");
    assert_eq!(s.members.visible_len(), 1);
    assert_eq!(handle_text(&mut s, TextKey::Esc), vec![]);
    assert_eq!(s.input, None);
    assert!(s.members.filter.is_none());
    assert_eq!(s.members.visible_len(), 5);
}

#[test]
fn text_keys_without_an_input_do_nothing() {
    let mut s = synced();
    for k in [
        TextKey::Char('x'),
        TextKey::Backspace,
        TextKey::Enter,
        TextKey::Esc,
    ] {
        assert_eq!(handle_text(&mut s, k), vec![]);
    }
    assert_eq!(s.input, None);
    assert_eq!(s.status, None);
    assert!(!s.should_quit);
}

#[test]
fn filter_buffer_is_capped() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, &"a".repeat(600));
    assert_eq!(s.input.as_ref().unwrap().buffer.len(), 512);
}

// ---- command line ----

#[test]
fn command_line_table() {
    // (typed line, commands, should_quit, switch_to, popup is help, status contains)
    type Row = (
        &'static str,
        Vec<Command>,
        bool,
        Option<&'static str>,
        bool,
        Option<&'static str>,
    );
    let table: Vec<Row> = vec![
        ("q", vec![Command::Quit], true, None, false, None),
        ("quit", vec![Command::Quit], true, None, false, None),
        ("q!", vec![Command::Quit], true, None, false, None),
        ("  q  ", vec![Command::Quit], true, None, false, None),
        (
            "cluster x",
            vec![Command::Quit],
            true,
            Some("x"),
            false,
            None,
        ),
        (
            "ctx staging",
            vec![Command::Quit],
            true,
            Some("staging"),
            false,
            None,
        ),
        // Without a name nothing happens but an error.
        (
            "cluster",
            vec![],
            false,
            None,
            false,
            Some("unknown command \":cluster\""),
        ),
        ("help", vec![], false, None, true, None),
        ("", vec![], false, None, false, None),
        (
            "frobnicate now",
            vec![],
            false,
            None,
            false,
            Some("unknown command \":frobnicate now\" — try :q, :cluster NAME, :help"),
        ),
    ];
    for (line, cmds, quit, switch, help, status) in table {
        let mut s = synced();
        assert_eq!(handle_action(&mut s, Action::CommandLine), vec![]);
        assert_eq!(s.input.as_ref().unwrap().kind, InputKind::Command);
        type_text(&mut s, line);
        // Typing a command does not filter.
        assert_eq!(s.members.visible_len(), 5, "{line:?}");
        assert_eq!(handle_text(&mut s, TextKey::Enter), cmds, "{line:?}");
        assert_eq!(s.input, None, "{line:?}");
        assert_eq!(s.should_quit, quit, "{line:?}");
        assert_eq!(s.switch_to.as_deref(), switch, "{line:?}");
        assert_eq!(
            matches!(s.popup, Some(Popup::Help { .. })),
            help,
            "{line:?}"
        );
        match status {
            Some(text) => {
                let st = s.status.as_ref().unwrap();
                assert_eq!(st.level, Level::Error, "{line:?}");
                assert!(st.text.contains(text), "{line:?}: {}", st.text);
            }
            None => assert_eq!(s.status, None, "{line:?}"),
        }
    }
}

#[test]
fn esc_in_command_line_keeps_the_filter() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "web");
    handle_text(&mut s, TextKey::Enter);
    handle_action(&mut s, Action::CommandLine);
    type_text(&mut s, "q");
    handle_text(&mut s, TextKey::Esc);
    assert_eq!(s.input, None);
    assert!(!s.should_quit);
    assert_eq!(s.members.filter.as_ref().unwrap().text, "web");
}

// ---- focus, quit, help ----

#[test]
fn focus_cycles_both_ways() {
    let mut s = synced();
    let forward = [Pane::Checks, Pane::Metrics, Pane::Logs, Pane::Members];
    for want in forward {
        assert_eq!(handle_action(&mut s, Action::NextPane), vec![]);
        assert_eq!(s.focus, want);
    }
    let backward = [Pane::Logs, Pane::Metrics, Pane::Checks, Pane::Members];
    for want in backward {
        handle_action(&mut s, Action::PrevPane);
        assert_eq!(s.focus, want);
    }
}

#[test]
fn member_keys_in_another_pane_leave_members_alone() {
    let mut s = synced();
    handle_action(&mut s, Action::NextPane);
    handle_action(&mut s, Action::NextPane);
    assert_eq!(s.focus, Pane::Metrics);
    let before = selected_key(&s);
    for action in [
        Action::Down,
        Action::Bottom,
        Action::Deregister,
        Action::SortNext,
    ] {
        assert_eq!(handle_action(&mut s, action), vec![], "{action:?}");
        assert_eq!(selected_key(&s), before, "{action:?}");
        assert_eq!(s.popup, None, "{action:?} must not open a dialog");
    }
    assert_eq!(s.members.sort, Some(members::SortColumn::Role));
    // The metrics pane has no filter: Enter says so and members stay unfiltered.
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "web");
    assert_eq!(s.members.visible_len(), 5);
    handle_text(&mut s, TextKey::Enter);
    assert!(s.members.filter.is_none());
    assert_eq!(status_text(&s), "filtering this pane is not available yet");
}

#[test]
fn quit_and_help() {
    let mut s = synced();
    assert_eq!(handle_action(&mut s, Action::Help), vec![]);
    assert_eq!(s.popup, Some(Popup::Help { scroll: 0 }));
    // Popup navigation scrolls; quit/back close the popup instead of quitting.
    handle_action(&mut s, Action::Down);
    handle_action(&mut s, Action::PageDown);
    assert_eq!(s.popup, Some(Popup::Help { scroll: 11 }));
    handle_action(&mut s, Action::Up);
    assert_eq!(s.popup, Some(Popup::Help { scroll: 10 }));
    handle_action(&mut s, Action::Top);
    assert_eq!(s.popup, Some(Popup::Help { scroll: 0 }));
    assert_eq!(handle_action(&mut s, Action::Quit), vec![]);
    assert_eq!(s.popup, None);
    assert!(!s.should_quit);
    assert_eq!(handle_action(&mut s, Action::Quit), vec![Command::Quit]);
    assert!(s.should_quit);
}

#[test]
fn back_clears_status_when_nothing_else_to_clear() {
    let mut s = synced();
    handle_action(&mut s, Action::CommandLine);
    type_text(&mut s, "nonsense");
    handle_text(&mut s, TextKey::Enter);
    assert!(s.status.is_some());
    handle_action(&mut s, Action::Back);
    assert_eq!(s.status, None);
}

#[test]
fn moving_in_members_scopes_checks_and_back_clears_it() {
    let mut s = synced();
    assert!(s.checks.scope.is_none());
    handle_action(&mut s, Action::Down); // web-1, 10.0.0.1:80
    let scope = s
        .checks
        .scope
        .clone()
        .expect("scoped to the selected member");
    assert_eq!(scope.label, "web-1");
    assert_eq!(scope.names, ["web-1", "10.0.0.1:80", "10.0.0.1"]);
    handle_action(&mut s, Action::Down);
    assert_eq!(s.checks.scope.as_ref().unwrap().label, "web-2");
    // Back with no filter clears the scope first, then the status.
    handle_action(&mut s, Action::Back);
    assert!(s.checks.scope.is_none());
    assert_eq!(status_text(&s), "scope cleared: showing every entity");
    handle_action(&mut s, Action::Back);
    assert_eq!(s.status, None);
}

// ---- selection ----

#[test]
fn navigation_table() {
    let mut s = synced();
    s.members_viewport.set(2);
    // (action, selected index afterwards)
    let table = [
        (Action::Down, 1),
        (Action::Down, 2),
        (Action::Up, 1),
        (Action::Bottom, 4),
        (Action::Down, 4),
        (Action::PageUp, 2),
        (Action::PageUp, 0),
        (Action::Up, 0),
        (Action::PageDown, 2),
        (Action::Top, 0),
    ];
    for (action, want) in table {
        handle_action(&mut s, action);
        assert_eq!(s.members.selected_index(), Some(want), "after {action:?}");
    }
}

#[test]
fn selection_follows_its_key_while_events_move_rows() {
    let mut s = synced();
    handle_action(&mut s, Action::Down);
    handle_action(&mut s, Action::Down);
    assert_eq!(selected_key(&s).as_deref(), Some("/services/web/web-2"));
    assert_eq!(s.members.selected_index(), Some(2));

    // (events, selected key afterwards, its index)
    let steps: Vec<(Vec<KvEvent>, &str, usize)> = vec![
        // Two rows arrive above it: the cursor moves down with the row.
        (
            vec![
                KvEvent::Put(kv("/services/api/api-1", "10.0.3.1", 21, 0)),
                KvEvent::Put(kv("/services/api/api-2", "10.0.3.2", 22, 0)),
            ],
            "/services/web/web-2",
            4,
        ),
        // A row arrives below it: nothing moves.
        (
            vec![KvEvent::Put(kv("/services/zeta/z-1", "10.0.9.1", 23, 0))],
            "/services/web/web-2",
            4,
        ),
        // A row above it leaves.
        (vec![del("/services/db/db-1", 24)], "/services/web/web-2", 3),
        // The selected member itself is updated in place.
        (
            vec![KvEvent::Put(KvEntry {
                mod_revision: 25,
                version: 2,
                ..kv("/services/web/web-2", "10.0.0.22", 12, 0x10)
            })],
            "/services/web/web-2",
            3,
        ),
        // The selected member leaves: the cursor stays at its position, on the neighbour.
        (
            vec![del("/services/web/web-2", 26)],
            "/services/web/web-10",
            3,
        ),
        // Everything above it leaves in one batch.
        (
            vec![
                del("/services/api/api-1", 27),
                del("/services/api/api-2", 28),
                del("/services/web/web-1", 29),
            ],
            "/services/web/web-10",
            0,
        ),
    ];
    for (evs, key, index) in steps {
        update(&mut s, events(evs.clone()));
        assert_eq!(selected_key(&s).as_deref(), Some(key), "after {evs:?}");
        assert_eq!(s.members.selected_index(), Some(index), "after {evs:?}");
    }
}

#[test]
fn selection_follows_its_key_when_the_sort_key_changes() {
    let mut s = synced();
    handle_action(&mut s, Action::SortNext); // instance
    handle_action(&mut s, Action::SortNext); // address
    assert_eq!(s.members.sort, Some(members::SortColumn::Addr));
    s.members.select_key("/services/web/web-1");
    assert_eq!(s.members.selected_index(), Some(0)); // 10.0.0.1 sorts first
    let moved = KvEntry {
        mod_revision: 30,
        version: 2,
        ..kv("/services/web/web-1", "10.9.9.9", 11, 0x10)
    };
    update(&mut s, events(vec![KvEvent::Put(moved)]));
    assert_eq!(selected_key(&s).as_deref(), Some("/services/web/web-1"));
    assert_eq!(s.members.selected_index(), Some(4));
    handle_action(&mut s, Action::SortReverse);
    assert_eq!(selected_key(&s).as_deref(), Some("/services/web/web-1"));
    assert_eq!(s.members.selected_index(), Some(0));
}

#[test]
fn selection_survives_a_relist() {
    let mut s = synced();
    s.members.select_key("/services/web/web-10");
    let mut entries = fleet();
    entries.push(kv("/services/api/api-1", "10.0.3.1", 30, 0));
    update(&mut s, snapshot(entries, 31));
    assert_eq!(selected_key(&s).as_deref(), Some("/services/web/web-10"));
    assert_eq!(s.members.selected_index(), Some(4));
}

// ---- lease interest ----

#[test]
fn watch_leases_only_when_visible_set_changes() {
    let mut s = empty_state();
    s.members_viewport.set(3);
    // Members without leases: the empty set is what we already watch.
    assert_eq!(
        update(
            &mut s,
            snapshot(vec![kv("/services/db/db-1", "10.0.1.1", 14, 0)], 20)
        ),
        vec![]
    );

    // (message or key, expected commands)
    enum Step {
        Msg(Msg),
        Action(Action),
        Tick(i64),
        Offset(usize),
    }
    let steps: Vec<(Step, Vec<Command>)> = vec![
        // Rows 0..3 = db-1, web-1 (0x10), web-2 (0x10): one lease, deduplicated.
        (
            Step::Msg(snapshot(fleet(), 20)),
            vec![Command::WatchLeases(vec![0x10])],
        ),
        (Step::Msg(snapshot(fleet(), 21)), vec![]),
        (Step::Tick(1), vec![]),
        // A put below the screen changes nothing visible.
        (
            Step::Msg(events(vec![KvEvent::Put(kv(
                "/services/zeta/z-1",
                "10.0.9.1",
                22,
                0x40,
            ))])),
            vec![],
        ),
        // An update of a visible row keeping its lease changes nothing either.
        (
            Step::Msg(events(vec![KvEvent::Put(KvEntry {
                mod_revision: 23,
                version: 2,
                ..kv("/services/web/web-1", "10.0.0.1", 11, 0x10)
            })])),
            vec![],
        ),
        // A leased row arriving at the top pushes web-2 off screen: {0x10, 0x50}.
        (
            Step::Msg(events(vec![KvEvent::Put(kv(
                "/services/api/api-1",
                "10.0.3.1",
                24,
                0x50,
            ))])),
            vec![Command::WatchLeases(vec![0x10, 0x50])],
        ),
        // Moving the cursor within the screen re-aims no lease polling; it only scopes the
        // other panes to the member now under the cursor (the logs source filters server-side).
        (
            Step::Action(Action::Down),
            vec![Command::LogsScope(Some(vec![
                "web-1".into(),
                "10.0.0.1:80".into(),
                "10.0.0.1".into(),
            ]))],
        ),
        // The view scrolled (the renderer wrote a new offset): the next tick re-aims.
        (Step::Offset(3), vec![]),
        (
            Step::Tick(2),
            vec![Command::WatchLeases(vec![0x10, 0x20, 0x30])],
        ),
        (Step::Tick(3), vec![]),
        // A re-list in which the visible members lost their leases.
        (
            Step::Msg(snapshot(
                vec![
                    kv("/services/a/a-1", "10.0.0.1", 50, 0),
                    kv("/services/a/a-2", "10.0.0.2", 51, 0),
                    kv("/services/a/a-3", "10.0.0.3", 52, 0),
                    kv("/services/a/a-4", "10.0.0.4", 53, 0),
                ],
                60,
            )),
            vec![Command::WatchLeases(vec![])],
        ),
    ];
    for (i, (step, want)) in steps.into_iter().enumerate() {
        let got = match step {
            Step::Msg(m) => update(&mut s, m),
            Step::Action(a) => handle_action(&mut s, a),
            Step::Tick(secs) => tick(&mut s, t0() + Duration::seconds(secs)),
            Step::Offset(o) => {
                s.members_offset.set(o);
                vec![]
            }
        };
        assert_eq!(got, want, "step {i}");
    }
}

#[test]
fn lease_ttls_do_not_emit_watch_leases() {
    let mut s = synced();
    let cmds = update(
        &mut s,
        Msg::LeaseTtls {
            ttls: vec![(0x10, 10)],
            at: t0(),
        },
    );
    assert_eq!(cmds, vec![]);
}

// ---- detail and history ----

#[test]
fn detail_requests_history_and_only_the_matching_popup_takes_it() {
    let mut s = synced();
    handle_action(&mut s, Action::Down);
    let cmds = handle_action(&mut s, Action::Detail);
    assert_eq!(
        cmds,
        vec![Command::FetchHistory {
            key: "/services/web/web-1".into(),
            mod_revision: 11,
        }]
    );
    let open = Some(Popup::MemberDetail {
        key: "/services/web/web-1".into(),
        scroll: 0,
        history: None,
    });
    assert_eq!(s.popup, open);

    let older = vec![kv("/services/web/web-1", "10.0.0.100", 5, 0)];
    // (history message, popup afterwards)
    let table: Vec<(Msg, Option<Popup>)> = vec![
        // A late answer for another key (the user moved on) is dropped.
        (
            Msg::History {
                key: "/services/web/web-2".into(),
                revisions: Ok(older.clone()),
            },
            open.clone(),
        ),
        (
            Msg::History {
                key: "/services/web/web-1".into(),
                revisions: Ok(older.clone()),
            },
            Some(Popup::MemberDetail {
                key: "/services/web/web-1".into(),
                scroll: 0,
                history: Some(Ok(older.clone())),
            }),
        ),
        // A later error for the same key replaces it.
        (
            Msg::History {
                key: "/services/web/web-1".into(),
                revisions: Err("etcd is unreachable".into()),
            },
            Some(Popup::MemberDetail {
                key: "/services/web/web-1".into(),
                scroll: 0,
                history: Some(Err("etcd is unreachable".into())),
            }),
        ),
    ];
    for (msg, want) in table {
        assert_eq!(update(&mut s, msg.clone()), vec![]);
        assert_eq!(s.popup, want, "after {msg:?}");
    }

    // Closing the popup, then a late answer: nothing opens.
    handle_action(&mut s, Action::Back);
    assert_eq!(s.popup, None);
    update(
        &mut s,
        Msg::History {
            key: "/services/web/web-1".into(),
            revisions: Ok(older.clone()),
        },
    );
    assert_eq!(s.popup, None);

    // Nor does it land in another kind of popup.
    handle_action(&mut s, Action::Help);
    update(
        &mut s,
        Msg::History {
            key: "/services/web/web-1".into(),
            revisions: Ok(older),
        },
    );
    assert_eq!(s.popup, Some(Popup::Help { scroll: 0 }));
}

#[test]
fn detail_with_no_members_does_nothing() {
    let mut s = empty_state();
    assert_eq!(handle_action(&mut s, Action::Detail), vec![]);
    assert_eq!(s.popup, None);
}

#[test]
fn detail_closes_with_detail_key_and_scrolls() {
    let mut s = synced();
    handle_action(&mut s, Action::Detail);
    handle_action(&mut s, Action::Bottom);
    assert!(
        matches!(s.popup, Some(Popup::MemberDetail { scroll, .. }) if scroll == usize::MAX / 2)
    );
    handle_action(&mut s, Action::Detail);
    assert_eq!(s.popup, None);
}

#[test]
fn note_error_sets_an_error_status() {
    let mut s = empty_state();
    note_error(&mut s, "audit log: permission denied".into());
    let st = s.status.as_ref().unwrap();
    assert_eq!(st.level, Level::Error);
    assert_eq!(st.text, "audit log: permission denied");
}

#[test]
fn a_listing_built_by_the_source_lands_like_a_snapshot() {
    use crate::state::members::{default_order, Member};
    let mut built: Vec<Member> = fleet()
        .into_iter()
        .map(|e| Member::from_entry("/services/", e, None))
        .collect();
    built.sort_by(default_order);
    let mut listed = empty_state();
    let cmds = update(
        &mut listed,
        Msg::MembersListed {
            revision: 20,
            members: built,
            at: t0(),
        },
    );
    assert_eq!(cmds, vec![Command::WatchLeases(vec![0x10, 0x20, 0x30])]);
    let snap = synced();
    assert_eq!(keys(&listed), keys(&snap));
    assert_eq!(listed.members.role_counts(), snap.members.role_counts());
    assert_eq!((listed.members.revision, listed.members.synced), (20, true));

    // A re-list keeps the creation time seen live for a key with the same create revision.
    let mut s = synced();
    update(
        &mut s,
        events(vec![KvEvent::Put(kv(
            "/services/api/a-1",
            "10.9.0.1",
            21,
            0,
        ))]),
    );
    let seen = s.members.get("/services/api/a-1").unwrap().started_at();
    assert!(seen.is_some());
    let mut again = fleet();
    again.push(kv("/services/api/a-1", "10.9.0.1", 21, 0));
    let members = again
        .into_iter()
        .map(|e| Member::from_entry("/services/", e, None))
        .collect();
    update(
        &mut s,
        Msg::MembersListed {
            revision: 30,
            members,
            at: t0() + Duration::seconds(60),
        },
    );
    assert_eq!(
        s.members.get("/services/api/a-1").unwrap().started_at(),
        seen
    );
}

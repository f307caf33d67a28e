//! Reducer tables: `update`, `handle_action`, `handle_text` and `tick` driven without a terminal or a
//! network. Each test states the messages/keys that go in and the commands and state that come out.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::action::Action;
use crate::model::{
    ClusterId, Command, DeregisterOutcome, Health, KvEntry, KvEvent, Msg, Mutation, Phase,
    SourceKind,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 4, 10, 0).unwrap()
}

fn kv(key: &str, addr: &str, rev: i64, lease: i64) -> KvEntry {
    KvEntry {
        key: key.into(),
        value: format!(r#"{{"addr":"{addr}","port":80,"version":"1.4.2"}}"#).into_bytes(),
        create_revision: rev,
        mod_revision: rev,
        version: 1,
        lease,
    }
}

/// Five members, three leases (one shared), one without a lease. Sorted by role then instance:
/// db/db-1, web/web-1, web/web-2, web/web-10, worker/w-1.
/// Leases of the member rows on screen, sorted and without repeats.
fn visible_leases(s: &State) -> Vec<i64> {
    let mut l: Vec<i64> = s
        .members
        .visible_rows(s.members.cursor.offset(), s.members.cursor.rows())
        .map(|m| m.lease)
        .filter(|l| *l != 0)
        .collect();
    l.sort_unstable();
    l.dedup();
    l
}

/// The layout gives every list `n` rows.
fn rows(s: &mut State, n: usize) {
    set_viewports(
        s,
        Viewports {
            members_rows: n,
            checks_rows: n,
            logs_rows: n,
            sparkline_width: 40,
            chart_points: 0,
            logs_width: 80,
        },
    );
}

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
    Msg::listing("/services/", revision, entries, t0())
}

fn events(events: Vec<KvEvent>) -> Msg {
    Msg::MembersEvents { events, at: t0() }
}

fn del(key: &str, rev: i64) -> KvEvent {
    KvEvent::Delete {
        key: key.into(),
        mod_revision: rev,
    }
}

fn empty_state() -> State {
    State::new("prod", "/services/", "alice", t0())
}

/// `s` with etcd and the checks backend answering: changes are only sent to a live source.
fn live(mut s: State) -> State {
    for kind in [SourceKind::Etcd, SourceKind::Checks] {
        update(&mut s, Msg::Health(kind.of(ClusterId(0)), Health::Live));
    }
    s
}

/// A synced state with [`fleet`]; the first `WatchLeases` has already been consumed.
fn synced() -> State {
    live(synced_offline())
}

/// [`synced`] before any source has said it is live.
fn synced_offline() -> State {
    let mut s = empty_state();
    let cmds = update(&mut s, snapshot(fleet(), 20));
    assert_eq!(cmds, vec![Command::WatchLeases(vec![0x10, 0x20, 0x30])]);
    assert_eq!(
        s.members.selected_index(),
        None,
        "nothing selected at start"
    );
    assert_eq!(s.scope, Scope::Cluster);
    // The user's first `j` selects the first row (and scopes the panes to it).
    handle_action(&mut s, Action::Down);
    assert_eq!(s.members.selected_index(), Some(0));
    s
}

fn keys(s: &State) -> Vec<String> {
    (0..s.members.visible_len())
        .map(|i| s.members.row(i).unwrap().key_text().to_string())
        .collect()
}

fn selected_key(s: &State) -> Option<String> {
    s.members.selected().map(|m| m.key_text().to_string())
}

fn type_text(s: &mut State, text: &str) -> Vec<Command> {
    let mut out = Vec::new();
    for c in text.chars() {
        out.extend(handle_action(s, Action::InsertChar(c)));
    }
    out
}

fn status_text(s: &State) -> String {
    s.status
        .as_ref()
        .map(|l| l.text.clone())
        .unwrap_or_default()
}

/// The console's clock in these tests: one fixed origin plus `ms`.
fn at(ms: u64) -> std::time::Instant {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *ORIGIN.get_or_init(std::time::Instant::now) + std::time::Duration::from_millis(ms)
}

/// The one gated change in `cmds`: its attempt line and what it will send.
fn gated(cmds: &[Command]) -> (&crate::model::AuditEntry, &Mutation) {
    match cmds {
        [Command::Gated(g)] => (&g.attempt, &g.mutation),
        other => panic!("expected exactly one gated change, got {other:?}"),
    }
}

fn audit_of(cmds: &[Command]) -> &crate::model::AuditEntry {
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
    assert_eq!(s.health_of(SourceKind::Etcd), Some(&Health::Connecting));

    update(
        &mut s,
        Msg::Health(SourceKind::Etcd.of(ClusterId(0)), Health::Live),
    );
    assert_eq!(s.health_of(SourceKind::Etcd), Some(&Health::Live));

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

/// While etcd is not live, every pane says how old its data is and TTLs stop counting down at
/// etcd's last answer; live again, both go back to the clock.
#[test]
fn panes_say_how_old_their_data_is_and_ttls_freeze_while_etcd_is_gone() {
    let mut s = synced_offline();
    update(
        &mut s,
        Msg::Health(SourceKind::Etcd.of(ClusterId(0)), Health::Live),
    );
    update(
        &mut s,
        Msg::LeaseTtls {
            ttls: vec![(0x10, 30)],
            at: t0(),
        },
    );
    assert_eq!(s.stale_for(SourceKind::Etcd), None, "live: not stale");
    tick(&mut s, t0() + Duration::seconds(4));
    assert_eq!(s.members.lease_remaining(0x10, s.members_clock()), Some(26));

    // The source lost etcd; it last heard from it at +5 s.
    update(
        &mut s,
        Msg::LastAnswer {
            source: SourceKind::Etcd.of(ClusterId(0)),
            at: t0() + Duration::seconds(5),
        },
    );
    update(
        &mut s,
        Msg::Health(
            SourceKind::Etcd.of(ClusterId(0)),
            Health::Retrying {
                at: t0() + Duration::seconds(30),
                attempt: 1,
                error: "etcd did not answer".into(),
            },
        ),
    );
    tick(&mut s, t0() + Duration::seconds(17));
    assert_eq!(s.stale_for(SourceKind::Etcd), Some(Duration::seconds(12)));
    assert_eq!(s.members.lease_remaining(0x10, s.members_clock()), Some(25));
    tick(&mut s, t0() + Duration::seconds(40));
    assert_eq!(
        s.members.lease_remaining(0x10, s.members_clock()),
        Some(25),
        "frozen, not counting down to 0s"
    );
    assert_eq!(s.stale_for(SourceKind::Etcd), Some(Duration::seconds(35)));

    // A pane that is not configured, or has never answered, is not "stale".
    assert_eq!(s.stale_for(SourceKind::Logs), None);
    update(
        &mut s,
        Msg::Health(SourceKind::Checks.of(ClusterId(0)), Health::Connecting),
    );
    assert_eq!(s.stale_for(SourceKind::Checks), None);

    update(
        &mut s,
        Msg::Health(SourceKind::Etcd.of(ClusterId(0)), Health::Live),
    );
    assert_eq!(s.stale_for(SourceKind::Etcd), None);
    assert_eq!(s.members_clock(), s.now);
}

#[test]
fn unsilencing_what_is_already_gone_warns_and_is_audited() {
    use crate::model::SilenceOutcome;
    let mut s = empty_state();
    let cmds = update(
        &mut s,
        Msg::SilenceDone {
            outcome: SilenceOutcome::AlreadyGone {
                id: "0f3c".into(),
                detail: "500 from http://am/api/v2/silence/0f3c: silence not found".into(),
            },
            audit_id: "x-1".into(),
        },
    );
    let a = audit_of(&cmds);
    // No attempt known under that id (none was made here): the line names what it can.
    assert_eq!(
        (
            a.id.as_str(),
            a.phase,
            a.action.as_str(),
            a.target.as_str(),
            a.result.as_deref()
        ),
        (
            "x-1",
            Phase::Outcome,
            "unsilence",
            "0f3c",
            Some("already gone")
        )
    );
    assert_eq!(a.silence_id.as_deref(), Some("0f3c"));
    assert!(a.detail.as_deref().unwrap().contains("silence not found"));
    let status = s.status.as_ref().unwrap();
    assert_eq!(status.level, Level::Warn);
    assert!(status.text.contains("0f3c") && status.text.contains("already expired"));
}

/// An Alertmanager-like row with `labels`, entity and check taken from them as the parser does.
fn alert_row(labels: &[(&str, &str)]) -> crate::model::CheckResult {
    let get = |k: &str| {
        labels
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    };
    crate::model::CheckResult {
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

fn alertmanager_state(rows: Vec<crate::model::CheckResult>) -> State {
    let mut s = live(empty_state());
    with_alerts(&mut s, rows);
    s.focus = Pane::Checks;
    s
}

/// Alertmanager's alerts as `rows`, received at `t0`.
fn with_alerts(s: &mut State, rows: Vec<crate::model::CheckResult>) {
    s.backends.checks = Some("alertmanager".into());
    update(
        s,
        Msg::ChecksSnapshot {
            snapshot: crate::model::ChecksSnapshot {
                results: rows,
                ..Default::default()
            },
            at: t0(),
        },
    );
}

/// Opens the form on the selected row, picks scope `steps` to the right, gives a reason, Enter.
fn submit_form(s: &mut State, steps: usize) {
    handle_action(s, Action::Silence);
    handle_action(s, Action::NextField);
    for _ in 0..steps {
        handle_action(s, Action::CursorRight);
    }
    handle_action(s, Action::PrevField);
    for c in "why".chars() {
        handle_action(s, Action::InsertChar(c));
    }
    handle_action(s, Action::Submit);
}

#[test]
fn silence_request_carries_the_raw_labels_of_the_row() {
    use crate::model::SilenceScope;
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
    let Some(Popup::Confirm(Confirm {
        change: Change::Silence(req),
        ..
    })) = &s.popup
    else {
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
    frame_drawn(&mut s, at(1000), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(1300));
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

fn req_scope(cmds: &[Command]) -> crate::model::SilenceScope {
    cmds.iter()
        .find_map(|c| match c {
            Command::Gated(g) => match &g.mutation {
                Mutation::Silence(r) => Some(r.scope.clone()),
                _ => None,
            },
            _ => None,
        })
        .expect("a silence command")
}

#[test]
fn silence_outcomes_say_what_the_backend_showed() {
    use crate::model::{Leftover, Matcher, Silence, SilenceOutcome, SilenceRequest, SilenceScope};
    let row = alert_row(&[("alertname", "NoInstance"), ("severity", "warning")]);
    let request = SilenceRequest {
        cluster: Default::default(),
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
        Msg::SilenceDone {
            outcome: SilenceOutcome::Created {
                silence: Box::new(silence.clone()),
                request: request.clone(),
            },
            audit_id: "t-1".into(),
        },
    );
    assert!(s.checks.results[0].silenced);
    let a = audit_of(&cmds);
    assert_eq!(
        (a.action.as_str(), a.target.as_str(), a.result.as_deref()),
        ("silence", "NoInstance on (no instance)", Some("created"))
    );
    assert_eq!(a.silence_id.as_deref(), Some("5e1"));
    let detail = a.detail.clone().unwrap();
    assert!(
        detail.contains(r#"alertname="NoInstance", instance="""#),
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
            Msg::SilenceDone {
                outcome: SilenceOutcome::MatchedNothing {
                    silence: Box::new(silence.clone()),
                    request: request.clone(),
                    leftover: leftover.clone(),
                },
                audit_id: "t-2".into(),
            },
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
        assert_eq!(a.result.as_deref(), Some("matched nothing"));
        assert_eq!(a.silence_id.as_deref(), Some("5e1"), "{a:?}");
    }

    // Unconfirmed: said so, never "silenced".
    let mut s = alertmanager_state(vec![row]);
    let cmds = update(
        &mut s,
        Msg::SilenceDone {
            outcome: SilenceOutcome::Unconfirmed {
                silence: Box::new(silence),
                request,
                error: "no answer within 5 s".into(),
            },
            audit_id: "t-3".into(),
        },
    );
    assert!(!s.checks.results[0].silenced);
    assert!(s
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("could not be confirmed"));
    assert_eq!(audit_of(&cmds).result.as_deref(), Some("unconfirmed"));
}

#[test]
fn discovered_backends_start_replace_and_stop_their_source() {
    let mut s = empty_state();
    let checks = SourceKind::Checks.of(ClusterId(0));
    let found = r#"{"kind":"alertmanager","url":"http://127.0.0.1:9093"}"#;
    let discovered = |value: Option<&str>| Msg::Discovered {
        pane: checks,
        value: value.map(str::to_string),
        at: t0(),
    };
    // Found: the pane names its backend, is connecting, and its source is asked for.
    assert_eq!(
        update(&mut s, discovered(Some(found))),
        vec![Command::StartSource {
            source: checks,
            spec: found.to_string()
        }]
    );
    assert_eq!(s.backends.checks.as_deref(), Some("alertmanager"));
    assert_eq!(s.health.get(&checks), Some(&Health::Connecting));
    assert_eq!(status_text(&s), "checks: discovered http://127.0.0.1:9093");
    // A broken entry keeps the running source and says why.
    assert_eq!(update(&mut s, discovered(Some("{\"kind\":1}"))), vec![]);
    assert_eq!(s.backends.checks.as_deref(), Some("alertmanager"));
    assert!(
        status_text(&s).contains("discovery entry is invalid"),
        "{}",
        status_text(&s)
    );
    // Removed: the source stops and the pane says it is not configured.
    assert_eq!(
        update(&mut s, discovered(None)),
        vec![Command::StopSource(checks)]
    );
    assert_eq!(s.backends.checks, None);
    assert_eq!(s.health.get(&checks), Some(&Health::NotConfigured));
}

/// Discovery moves the checks to another Alertmanager while the old source still has a poll in
/// the channel: that poll is dropped until the core's mark that the old source has stopped, so
/// the new backend's first answer neither shows the old alert nor calls it resolved.
#[test]
fn a_replaced_sources_late_facts_are_not_ghosts() {
    let mut s = alertmanager_state(vec![alert_row(&[
        ("alertname", "FromServerA"),
        ("instance", "10.0.0.1:80"),
    ])]);
    let checks = SourceKind::Checks.of(ClusterId(0));
    let found = r#"{"kind":"alertmanager","url":"http://127.0.0.1:9094"}"#;
    update(
        &mut s,
        Msg::Discovered {
            pane: checks,
            value: Some(found.to_string()),
            at: t0(),
        },
    );
    // The core stops the old source and waits for it (`Core::replace_source`).
    s.switching.insert(checks, 1);
    let poll = |name: &str, at| Msg::ChecksSnapshot {
        snapshot: crate::model::ChecksSnapshot {
            results: vec![alert_row(&[
                ("alertname", name),
                ("instance", "10.0.0.1:80"),
            ])],
            ..Default::default()
        },
        at,
    };
    update(
        &mut s,
        poll("LateFromA", t0() + chrono::Duration::seconds(1)),
    );
    update(&mut s, Msg::Health(checks, Health::Failed("old".into())));
    assert!(
        s.checks.results.iter().all(|r| r.check != "LateFromA"),
        "the old backend's late poll is not shown"
    );
    assert_ne!(s.health.get(&checks), Some(&Health::Failed("old".into())));
    update(&mut s, Msg::SourceSwitched(checks));
    assert!(s.switching.is_empty());
    update(
        &mut s,
        poll("FromServerB", t0() + chrono::Duration::seconds(2)),
    );
    let names: Vec<&str> = s.checks.results.iter().map(|r| r.check.as_str()).collect();
    assert_eq!(names, ["FromServerB"]);
    assert_eq!(
        s.checks.resolved_rows().count(),
        0,
        "nothing resolved by the switch"
    );
    // A mark nobody waits for changes nothing; the merged view's wrapping is seen through.
    update(&mut s, Msg::SourceSwitched(checks));
    assert!(s.switching.is_empty());
    // Two replacements in quick succession (A → B → C) owe two marks: facts wait for both.
    s.switching.insert(checks, 2);
    update(&mut s, Msg::SourceSwitched(checks));
    update(
        &mut s,
        Msg::InCluster(ClusterId(0), Box::new(poll("FromServerA", t0()))),
    );
    assert_eq!(s.checks.results.len(), 1);
    assert_eq!(s.checks.results[0].check, "FromServerB");
    update(&mut s, Msg::SourceSwitched(checks));
    assert!(s.switching.is_empty());
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
        assert_eq!(a.result.as_deref(), Some("refused: readonly"), "{action:?}");
        assert_eq!(a.phase, Phase::Refused, "{action:?}");
        assert_eq!(a.id.as_str(), "local-1", "{action:?}");
        assert_eq!(a.action, name, "{action:?}");
        assert_eq!(a.target, target, "{action:?}");
        assert_eq!(a.user, "alice");
        assert_eq!(a.cluster, "prod");
        assert_eq!(a.time, t0().to_rfc3339());
        assert_eq!(a.detail, None);
        if action == Action::Deregister {
            // The key's bytes and the revision the dialog would have deleted at.
            assert_eq!(a.key_b64.as_deref(), Some("L3NlcnZpY2VzL2RiL2RiLTE="));
            assert_eq!(a.mod_revision, Some(14));
        }
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
                                         // The dialog asks etcd which other keys share the lease (the dry run shows them).
    assert_eq!(
        handle_action(&mut s, Action::Deregister),
        vec![Command::LeaseInfo { lease: 0x10 }]
    );
    let Some(Popup::Confirm(Confirm {
        change:
            Change::Deregister {
                target,
                revoke_lease,
                preview,
            },
        target: named,
        typed: None,
    })) = &s.popup
    else {
        panic!("no deregister dialog: {:?}", s.popup);
    };
    assert_eq!(
        target,
        &Target {
            key: b"/services/web/web-1".to_vec(),
            mod_revision: 11,
            lease: 0x10,
            cluster: Default::default(),
        }
    );
    assert!(!revoke_lease);
    assert_eq!(named, "/services/web/web-1");
    assert_eq!(preview.lease, None, "read when the dialog opens");
    assert_eq!(
        preview.value,
        s.members
            .get(b"/services/web/web-1")
            .unwrap()
            .value()
            .to_vec()
    );
}

#[test]
fn deregister_confirm_table() {
    // (row selected, toggles of revoke-lease, expected mutation)
    let table: Vec<(usize, usize, Mutation)> = vec![
        (
            1,
            0,
            Mutation::Deregister {
                key: "/services/web/web-1".into(),
                mod_revision: 11,
                revoke_lease: None,
            },
        ),
        (
            1,
            1,
            Mutation::Deregister {
                key: "/services/web/web-1".into(),
                mod_revision: 11,
                revoke_lease: Some(0x10),
            },
        ),
        (
            1,
            2,
            Mutation::Deregister {
                key: "/services/web/web-1".into(),
                mod_revision: 11,
                revoke_lease: None,
            },
        ),
        // db-1 has no lease: the toggle is ignored and nothing is revoked.
        (
            0,
            1,
            Mutation::Deregister {
                key: "/services/db/db-1".into(),
                mod_revision: 14,
                revoke_lease: None,
            },
        ),
        (
            4,
            1,
            Mutation::Deregister {
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
            // Each state of the dialog is drawn and seen before its keys count.
            let t = 1000 * i as u64;
            frame_drawn(&mut s, at(t), true);
            let cmds = handle_key(&mut s, Action::ToggleRevokeLease, "r", at(t + 300));
            assert_eq!(cmds, vec![]);
            if let Some(Popup::Confirm(Confirm {
                change:
                    Change::Deregister {
                        target,
                        revoke_lease,
                        ..
                    },
                ..
            })) = &s.popup
            {
                assert_eq!(
                    *revoke_lease,
                    target.lease != 0 && i % 2 == 0,
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
                matches!(
                    s.popup,
                    Some(Popup::Confirm(Confirm {
                        change: Change::Deregister { .. },
                        ..
                    }))
                ),
                "{idle:?}"
            );
        }
        assert_eq!(s.focus, Pane::Members);
        frame_drawn(&mut s, at(10_000), true);
        let cmds = handle_key(&mut s, Action::Confirm, "y", at(10_300));
        let (attempt, mutation) = gated(&cmds);
        assert_eq!(mutation, &want, "row {row}, {toggles} toggles");
        // The attempt line says what will be sent, before it is.
        let Mutation::Deregister {
            key,
            mod_revision,
            revoke_lease,
        } = &want
        else {
            unreachable!()
        };
        assert_eq!(attempt.phase, Phase::Attempt);
        assert_eq!(attempt.action, "deregister");
        assert_eq!(
            attempt.target.as_bytes(),
            &key[..],
            "the dialog showed the key as is"
        );
        assert_eq!(attempt.mod_revision, Some(*mod_revision));
        assert_eq!(attempt.revoke_lease, *revoke_lease);
        assert_eq!(attempt.result, None);
        assert_eq!(s.popup, None);
        assert!(
            status_text(&s).starts_with("deregistering /services/"),
            "{}",
            status_text(&s)
        );
    }
}

#[test]
fn confirmation_keys_wait_until_the_dialog_was_drawn_and_250_ms_passed() {
    let dialog = |revoke_lease| {
        let mut confirm = Confirm::deregister(
            Target {
                key: "/services/web/web-1".into(),
                mod_revision: 11,
                lease: 0x10,
                cluster: Default::default(),
            },
            Default::default(),
        );
        if let Change::Deregister {
            revoke_lease: r, ..
        } = &mut confirm.change
        {
            *r = revoke_lease;
        }
        Popup::Confirm(confirm)
    };
    let deregister = |revoke: Option<i64>| Mutation::Deregister {
        key: "/services/web/web-1".into(),
        mod_revision: 11,
        revoke_lease: revoke,
    };
    // (steps: (ms, drawn frame or key), commands of the last step, dialog afterwards)
    enum Step {
        Frame,
        Key(Action, &'static str),
    }
    use Step::{Frame, Key};
    let confirm = Key(Action::Confirm, "y");
    let toggle = Key(Action::ToggleRevokeLease, "r");
    type Row = (Vec<(u64, Step)>, Vec<Mutation>, Option<Popup>);
    let table: Vec<Row> = vec![
        // `Dy` in one burst: the dialog was never drawn.
        (vec![(0, confirm)], vec![], Some(dialog(false))),
        // Drawn, but the key came 249 ms later.
        (
            vec![(0, Frame), (249, Key(Action::Confirm, "y"))],
            vec![],
            Some(dialog(false)),
        ),
        (
            vec![(0, Frame), (250, Key(Action::Confirm, "y"))],
            vec![deregister(None)],
            None,
        ),
        // An ignored key, then the same key again once the dialog was seen.
        (
            vec![
                (0, Key(Action::Confirm, "y")),
                (10, Frame),
                (400, Key(Action::Confirm, "y")),
            ],
            vec![deregister(None)],
            None,
        ),
        // `r` is a dialog key too, and the toggled dialog must be seen before `y` counts.
        (vec![(0, Frame), (100, toggle)], vec![], Some(dialog(false))),
        (
            vec![
                (0, Frame),
                (300, Key(Action::ToggleRevokeLease, "r")),
                (310, Key(Action::Confirm, "y")),
            ],
            vec![],
            Some(dialog(true)),
        ),
        (
            vec![
                (0, Frame),
                (300, Key(Action::ToggleRevokeLease, "r")),
                (310, Frame),
                (560, Key(Action::Confirm, "y")),
            ],
            vec![deregister(Some(0x10))],
            None,
        ),
    ];
    for (i, (steps, want, popup_after)) in table.into_iter().enumerate() {
        let mut s = synced();
        s.members.select_index(1);
        handle_action(&mut s, Action::Deregister);
        let mut last = Vec::new();
        for (ms, step) in steps {
            last = match step {
                Frame => {
                    frame_drawn(&mut s, at(ms), true);
                    Vec::new()
                }
                Key(action, key) => handle_key(&mut s, action, key, at(ms)),
            };
        }
        let sent: Vec<Mutation> = last
            .iter()
            .map(|c| match c {
                Command::Gated(g) => g.mutation.clone(),
                other => panic!("row {i}: {other:?}"),
            })
            .collect();
        assert_eq!(sent, want, "row {i}");
        // The dry run's preview is the member's; the rest of the dialog is what the row expects.
        let mut popup = s.popup.clone();
        if let Some(Popup::Confirm(Confirm {
            change: Change::Deregister { preview, .. },
            ..
        })) = &mut popup
        {
            **preview = Preview::default();
        }
        assert_eq!(popup, popup_after, "row {i}");
        if popup_after.is_some() {
            let text = status_text(&s);
            assert!(
                text.contains("press ") && text.contains(" again"),
                "row {i}: {text}"
            );
        }
    }

    // Too small to draw popups: a frame then does not count as seen.
    let mut s = synced();
    handle_action(&mut s, Action::Deregister);
    frame_drawn(&mut s, at(0), false);
    assert_eq!(handle_key(&mut s, Action::Confirm, "y", at(1000)), vec![]);
    assert_eq!(
        status_text(&s),
        "press y again — the dialog had only just appeared, so that key was ignored"
    );
    // Closing is never delayed.
    assert_eq!(handle_key(&mut s, Action::Cancel, "n", at(1001)), vec![]);
    assert_eq!(s.popup, None);
    assert_eq!(status_text(&s), "deregister cancelled");
}

#[test]
fn a_paste_is_text_for_the_open_field_and_never_keys() {
    // Nothing open: dropped with a notice; `Daisy` neither opens nor confirms a dialog.
    let mut s = synced();
    handle_action(&mut s, Action::Down);
    assert_eq!(handle_paste(&mut s, "Daisy"), vec![]);
    assert_eq!(s.popup, None);
    assert_eq!(s.input, None);
    assert!(
        status_text(&s).starts_with("paste ignored"),
        "{}",
        status_text(&s)
    );
    assert_eq!(keys(&s).len(), 5);

    // A confirmation dialog open: not confirmed, still open.
    handle_action(&mut s, Action::Deregister);
    frame_drawn(&mut s, at(0), true);
    assert_eq!(handle_paste(&mut s, "y\n"), vec![]);
    assert!(matches!(
        s.popup,
        Some(Popup::Confirm(Confirm {
            change: Change::Deregister { .. },
            ..
        }))
    ));
    assert!(
        status_text(&s).contains("paste ignored"),
        "{}",
        status_text(&s)
    );
    handle_action(&mut s, Action::Cancel);

    // The filter: the text goes in and filters live, a newline in it is a space.
    handle_action(&mut s, Action::Filter);
    // The rows on screen changed with the live filter: the lease poller is re-aimed at once.
    assert_eq!(
        handle_paste(&mut s, "web-1"),
        vec![Command::WatchLeases(vec![0x10, 0x20])]
    );
    assert_eq!(s.input.as_ref().unwrap().text(), "web-1");
    assert_eq!(keys(&s), ["/services/web/web-1", "/services/web/web-10"]);
    handle_paste(&mut s, "0\r\n");
    assert_eq!(
        s.input.as_ref().unwrap().text(),
        "web-10",
        "Enter in a paste never submits"
    );
    assert_eq!(keys(&s), ["/services/web/web-10"]);
    handle_paste(&mut s, "\n|db");
    assert_eq!(s.input.as_ref().unwrap().text(), "web-10 |db");
    handle_action(&mut s, Action::Cancel);

    // The command line: `:q` pasted with its Enter stays typed, nothing quits.
    handle_action(&mut s, Action::CommandLine);
    assert_eq!(handle_paste(&mut s, "q\nq\n"), vec![], "nothing quits");
    assert_eq!(s.input.as_ref().unwrap().text(), "q q");
    handle_action(&mut s, Action::Cancel);

    // Capped like typing.
    handle_action(&mut s, Action::Filter);
    handle_paste(&mut s, &"a".repeat(600));
    assert_eq!(s.input.as_ref().unwrap().text().chars().count(), 512);
}

#[test]
fn a_paste_goes_into_the_silence_form_reason_and_duration() {
    let mut s = empty_state();
    let row = crate::model::CheckResult {
        entity: "web-1".into(),
        check: "check_http".into(),
        status: 2,
        ..Default::default()
    };
    s.popup = Some(Popup::SilenceForm(SilenceForm::new(&row, true)));
    // The form opens on the reason.
    handle_paste(&mut s, "deploy\nin progress");
    handle_action(&mut s, Action::PrevField); // expire on resolve: takes no text
    handle_paste(&mut s, "x");
    assert!(
        status_text(&s).contains("reason or duration"),
        "{}",
        status_text(&s)
    );
    handle_action(&mut s, Action::PrevField); // duration
    handle_paste(&mut s, "45m\n");
    let Some(Popup::SilenceForm(form)) = &s.popup else {
        panic!("the form closed: {:?}", s.popup);
    };
    assert_eq!(form.reason.text(), "deploy in progress");
    assert_eq!(form.duration.text(), "45m");
}

#[test]
fn deregister_cancel_does_nothing() {
    for cancel in [Action::Cancel, Action::Back, Action::Quit] {
        let mut s = synced();
        handle_action(&mut s, Action::Deregister);
        assert!(s.popup.is_some());
        assert_eq!(
            handle_action(&mut s, cancel),
            vec![],
            "{cancel:?} in the dialog must not quit the console"
        );
        assert_eq!(s.popup, None, "{cancel:?}");
        assert_eq!(status_text(&s), "deregister cancelled");
    }
}

#[test]
fn deregister_with_nothing_selected() {
    let mut s = live(empty_state());
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
            format!("deregistered {key} — U undoes it for a minute"),
            "deleted",
            None,
        ),
        (
            DeregisterOutcome::Deleted {
                lease_revoked: Some(Ok(0x2a)),
            },
            Level::Info,
            format!("deregistered {key} and revoked lease 2a — U undoes it for a minute"),
            "deleted",
            Some("and revoked lease 2a"),
        ),
        (
            DeregisterOutcome::Deleted {
                lease_revoked: Some(Err("lease not found".into())),
            },
            Level::Info,
            format!("deregistered {key}, but revoking its lease failed: lease not found — U undoes it for a minute"),
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
        s.members.select_index(1);
        handle_action(&mut s, Action::Deregister);
        frame_drawn(&mut s, at(0), true);
        let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
        let attempt = gated(&cmds).0.clone();
        let cmds = update(
            &mut s,
            Msg::DeregisterDone {
                key: key.into(),
                outcome: outcome.clone(),
                audit_id: attempt.id.clone(),
            },
        );
        let a = audit_of(&cmds);
        // The outcome repeats the attempt under its id, with the result.
        assert_eq!(a.id, attempt.id, "{outcome:?}");
        assert_eq!(a.phase, Phase::Outcome, "{outcome:?}");
        assert_eq!(a.action, "deregister", "{outcome:?}");
        assert_eq!(a.target, key, "{outcome:?}");
        assert_eq!(a.key_b64, attempt.key_b64, "{outcome:?}");
        assert_eq!(a.mod_revision, Some(11), "{outcome:?}");
        assert_eq!(a.result.as_deref(), Some(result), "{outcome:?}");
        assert_eq!(a.detail.as_deref(), detail, "{outcome:?}");
        let st = s.status.as_ref().unwrap();
        assert_eq!(st.level, level, "{outcome:?}");
        assert_eq!(st.text, text, "{outcome:?}");
        assert_eq!(st.at, t0());
    }
}

#[test]
fn a_silence_and_its_removal_are_two_lines_each_under_one_id() {
    use crate::model::{CheckResult, ChecksSnapshot, SilenceOutcome, SilenceScope};
    let mut s = live(empty_state());
    s.backends.checks = Some("alertmanager".into());
    let row = CheckResult {
        entity: "web-2".into(),
        check: "HighLatency".into(),
        status: 2,
        labels: vec![
            ("alertname".into(), "HighLatency".into()),
            ("instance".into(), "web-2".into()),
        ],
        ..Default::default()
    };
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: ChecksSnapshot {
                results: vec![row],
                ..Default::default()
            },
            at: t0(),
        },
    );
    handle_action(&mut s, Action::NextPane);
    handle_action(&mut s, Action::Silence);
    for c in "latency".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    handle_action(&mut s, Action::Submit);
    frame_drawn(&mut s, at(0), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let (attempt, mutation) = gated(&cmds);
    let Mutation::Silence(request) = mutation else {
        panic!("{mutation:?}")
    };
    let attempt = attempt.clone();
    assert_eq!(
        request.scope,
        SilenceScope::CheckOnEntity {
            entity: "web-2".into(),
            check: "HighLatency".into()
        }
    );
    assert_eq!(
        (attempt.action.as_str(), attempt.target.as_str()),
        ("silence", "HighLatency on web-2")
    );
    assert_eq!(attempt.reason.as_deref(), Some("latency"));
    let matchers: Vec<(String, String)> = attempt
        .matchers
        .iter()
        .flatten()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    assert_eq!(
        matchers,
        [
            ("alertname".to_string(), "HighLatency".to_string()),
            ("instance".to_string(), "web-2".to_string())
        ]
    );

    // A success and a failure: each outcome is the attempt's line with the result.
    let created = update(
        &mut s,
        Msg::SilenceDone {
            outcome: SilenceOutcome::Created {
                silence: Box::new(crate::model::Silence::requested(
                    "a1b2".into(),
                    request,
                    crate::model::SilenceTarget::Matchers(
                        crate::sources::checks::alertmanager::matchers_for(&request.scope).unwrap(),
                    ),
                    t0(),
                )),
                request: request.clone(),
            },
            audit_id: attempt.id.clone(),
        },
    );
    let line = audit_of(&created);
    assert_eq!(line.id, attempt.id);
    assert_eq!(line.phase, Phase::Outcome);
    assert_eq!(line.target, attempt.target);
    assert_eq!(line.matchers, attempt.matchers);
    assert_eq!(line.result.as_deref(), Some("created"));
    assert_eq!(line.silence_id.as_deref(), Some("a1b2"));

    handle_action(&mut s, Action::Unsilence);
    let Some(Popup::Confirm(Confirm {
        change: Change::Unsilence { description, .. },
        ..
    })) = s.popup.clone()
    else {
        panic!("{:?}", s.popup)
    };
    frame_drawn(&mut s, at(1000), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(1300));
    let (unsilence, mutation) = gated(&cmds);
    let unsilence = unsilence.clone();
    assert_eq!(mutation, &Mutation::Unsilence { id: "a1b2".into() });
    assert_ne!(unsilence.id, attempt.id);
    assert_eq!(unsilence.target, description, "the dialog's text");
    assert_eq!(unsilence.silence_id.as_deref(), Some("a1b2"));
    let failed = update(
        &mut s,
        Msg::SilenceDone {
            outcome: SilenceOutcome::Failed {
                what: "unsilence a1b2".into(),
                error: "connection refused".into(),
            },
            audit_id: unsilence.id.clone(),
        },
    );
    let line = audit_of(&failed);
    assert_eq!(
        (line.id.clone(), line.action.as_str(), line.target.as_str()),
        (unsilence.id.clone(), "unsilence", description.as_str()),
        "the same shape as the attempt, not the failure's own wording"
    );
    assert_eq!(line.result.as_deref(), Some("error"));
    assert_eq!(line.detail.as_deref(), Some("connection refused"));
}

#[test]
fn an_unwritable_audit_log_refuses_the_change_and_says_so_until_it_can_be_written() {
    let mut s = synced();
    audit_unwritable(&mut s, "/x/audit.log: Not a directory".into());
    assert!(s
        .audit_problem
        .as_deref()
        .unwrap()
        .contains("Not a directory"));
    assert!(status_text(&s).contains("cannot be written"));
    // Esc clears the message line; the problem stays (the view shows it while nothing else).
    handle_action(&mut s, Action::Back);
    assert!(s.audit_problem.is_some());

    s.members.select_index(1);
    handle_action(&mut s, Action::Deregister);
    frame_drawn(&mut s, at(0), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let attempt = gated(&cmds).0.clone();
    // The app could not write the attempt: nothing is sent, the user is told.
    mutation_refused(
        &mut s,
        attempt.clone(),
        "/x/audit.log: Not a directory".into(),
    );
    assert_eq!(
        status_text(&s),
        "deregister /services/web/web-1: refused: audit log unwritable (/x/audit.log: Not a \
         directory) — nothing was sent"
    );
    // A late outcome under that id (there is none: nothing was sent) finds no attempt.
    assert_eq!(s.audit.take(&attempt.id), None);
    audit_writable(&mut s);
    assert_eq!(s.audit_problem, None);
}

#[test]
fn a_change_its_source_cannot_take_gets_an_error_outcome() {
    let mut s = synced();
    handle_action(&mut s, Action::Deregister);
    frame_drawn(&mut s, at(0), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let attempt = gated(&cmds).0.clone();
    let out = mutation_not_sent(&mut s, &attempt.id, "the etcd source has stopped");
    let Command::Audit(line) = out else {
        panic!("{out:?}")
    };
    assert_eq!((line.id, line.phase), (attempt.id, Phase::Outcome));
    assert_eq!(line.target, attempt.target);
    assert_eq!(line.result.as_deref(), Some("error"));
    assert_eq!(
        line.detail.as_deref(),
        Some("not sent: the etcd source has stopped")
    );
}

// ---- filter ----

#[test]
fn filter_typing_filters_live() {
    let mut s = synced();
    handle_action(&mut s, Action::Back); // no member selected: the filter scopes nothing
    assert_eq!(handle_action(&mut s, Action::Filter), vec![]);
    assert_eq!(s.input, Some(Input::new(InputKind::Filter, "")));
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
        // Nothing but the lease poller re-aimed at the rows now on screen, when they changed.
        let cmds = handle_action(&mut s, Action::InsertChar(c));
        assert!(
            cmds.is_empty() || cmds == vec![Command::WatchLeases(visible_leases(&s))],
            "{c}: {cmds:?}"
        );
        assert_eq!(s.input.as_ref().unwrap().text(), buffer);
        assert_eq!(
            s.members.visible_len(),
            n,
            "after typing {buffer:?}: {:?}",
            keys(&s)
        );
    }
    // Only web-1 (lease 0x10) and web-10 (0x20) are on screen now: asked for at once.
    assert_eq!(
        handle_action(&mut s, Action::DeleteBack),
        vec![Command::WatchLeases(vec![0x10, 0x20])]
    );
    assert_eq!(s.members.visible_len(), 2);
    assert_eq!(s.members.filter.as_ref().unwrap().text, "web-1");

    let cmds = handle_action(&mut s, Action::Submit);
    assert_eq!(s.input, None);
    assert_eq!(s.members.filter.as_ref().unwrap().text, "web-1");
    assert_eq!(status_text(&s), "filter /web-1/: 2 of 5 members");
    assert_eq!(cmds, vec![]);

    // Re-opening the filter starts from the active one.
    handle_action(&mut s, Action::Filter);
    assert_eq!(s.input.as_ref().unwrap().text(), "web-1");
    handle_action(&mut s, Action::Cancel);

    // Esc in members clears an applied filter.
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "!web");
    handle_action(&mut s, Action::Submit);
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
        handle_action(&mut s, Action::DeleteBack);
    }
    type_text(&mut s, "wEb");
    assert_eq!(s.members.visible_len(), 0);
    for _ in 0..3 {
        handle_action(&mut s, Action::DeleteBack);
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
    // "web-(1" does not compile: while typing, the last good filter ("web-") stays.
    assert_eq!(s.members.filter.as_ref().unwrap().text, "web-");
    assert_eq!(s.members.visible_len(), 3);
    assert_eq!(visible_leases(&s), vec![0x10, 0x20]);
    // Enter: the filter in force before `/` (none) is back, the prompt stays open with the
    // text to fix, and the error is said once, in the prompt (not also on the status line).
    handle_action(&mut s, Action::Submit);
    let input = s.input.as_ref().expect("the prompt stays open");
    assert_eq!(input.text(), "web-(1");
    let (level, why) = input.hint.clone().expect("the error is in the prompt");
    assert_eq!(level, Level::Error);
    assert_eq!(why, "bad filter regex: unclosed group");
    assert!(
        s.status
            .as_ref()
            .is_none_or(|st| !st.text.contains("regex")),
        "said once: {:?}",
        s.status
    );
    assert!(s.members.filter.is_none());
    assert_eq!(s.members.visible_len(), 5);
    // Fixing it applies it.
    type_text(&mut s, ")");
    assert_eq!(
        s.input.as_ref().unwrap().hint,
        None,
        "the error goes at the next edit"
    );
    handle_action(&mut s, Action::Submit);
    assert_eq!(s.input, None);
    assert_eq!(s.members.filter.as_ref().unwrap().text, "web-(1)");
}

/// A bad regex over an active filter: that filter is what stays.
#[test]
fn bad_regex_over_an_active_filter_keeps_it() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "worker");
    handle_action(&mut s, Action::Submit);
    assert_eq!(s.members.visible_len(), 1);
    // `/` again: the old text is selected, so what is typed replaces it.
    handle_action(&mut s, Action::Filter);
    assert!(s.input.as_ref().unwrap().field.is_selected());
    type_text(&mut s, "[");
    assert_eq!(s.input.as_ref().unwrap().text(), "[");
    handle_action(&mut s, Action::Submit);
    assert!(s.input.is_some());
    assert_eq!(s.members.filter.as_ref().unwrap().text, "worker");
    assert_eq!(s.members.visible_len(), 1);
}

#[test]
fn esc_while_typing_clears_the_filter() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "worker");
    assert_eq!(s.members.visible_len(), 1);
    // Every member is back on screen: the lease poller is re-aimed at them.
    assert_eq!(
        handle_action(&mut s, Action::Cancel),
        vec![Command::WatchLeases(vec![0x10, 0x20, 0x30])]
    );
    assert_eq!(s.input, None);
    assert!(s.members.filter.is_none());
    assert_eq!(s.members.visible_len(), 5);
}

#[test]
fn text_keys_without_an_input_do_nothing() {
    let mut s = synced();
    for k in [
        Action::InsertChar('x'),
        Action::DeleteBack,
        Action::Submit,
        Action::Cancel,
    ] {
        assert_eq!(handle_action(&mut s, k), vec![]);
    }
    assert_eq!(s.input, None);
    assert_eq!(s.status, None);
}

#[test]
fn filter_buffer_is_capped() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, &"a".repeat(600));
    assert_eq!(s.input.as_ref().unwrap().text().chars().count(), 512);
}

// ---- command line ----

#[test]
fn command_line_table() {
    // (typed line, commands, quits, popup is help, status (level, contains))
    type Row = (
        &'static str,
        Vec<Command>,
        bool,
        bool,
        Option<(Level, &'static str)>,
    );
    let table: Vec<Row> = vec![
        ("q", vec![Command::Quit], true, false, None),
        ("quit", vec![Command::Quit], true, false, None),
        ("q!", vec![Command::Quit], true, false, None),
        ("  q  ", vec![Command::Quit], true, false, None),
        // A switch is only asked for: the app loads the target before anything stops.
        (
            "cluster x",
            vec![Command::SwitchCluster("x".into())],
            false,
            false,
            None,
        ),
        (
            "ctx staging",
            vec![Command::SwitchCluster("staging".into())],
            false,
            false,
            None,
        ),
        ("cluster", vec![Command::ListClusters], false, false, None),
        (
            "cluster prod",
            vec![],
            false,
            false,
            Some((Level::Info, "already on cluster prod")),
        ),
        // No switch happened in this session, so there is nothing to go back to.
        (
            "cluster -",
            vec![],
            false,
            false,
            Some((Level::Error, "no previous cluster")),
        ),
        (
            "cluster a b",
            vec![],
            false,
            false,
            Some((Level::Error, "one cluster at a time")),
        ),
        ("help", vec![], false, true, None),
        ("", vec![], false, false, None),
        (
            "frobnicate now",
            vec![],
            false,
            false,
            Some((
                Level::Error,
                "unknown command \":frobnicate now\" — try :q, :cluster, :filter",
            )),
        ),
    ];
    for (line, cmds, quit, help, status) in table {
        let mut s = synced();
        assert_eq!(handle_action(&mut s, Action::CommandLine), vec![]);
        assert_eq!(s.input.as_ref().unwrap().kind, InputKind::Command);
        type_text(&mut s, line);
        // Typing a command does not filter.
        assert_eq!(s.members.visible_len(), 5, "{line:?}");
        let mut got = handle_action(&mut s, Action::Submit);
        // Every line entered goes to the history file first (what it does follows).
        if !line.trim().is_empty() {
            assert_eq!(
                got.remove(0),
                Command::RecordHistory(line.trim().into()),
                "{line:?}"
            );
        }
        assert_eq!(got.contains(&Command::Quit), quit, "{line:?}");
        assert_eq!(got, cmds, "{line:?}");
        assert_eq!(s.input, None, "{line:?}");
        assert_eq!(
            matches!(s.popup, Some(Popup::Help { .. })),
            help,
            "{line:?}"
        );
        match status {
            Some((level, text)) => {
                let st = s.status.as_ref().unwrap();
                assert_eq!(st.level, level, "{line:?}");
                assert!(st.text.contains(text), "{line:?}: {}", st.text);
            }
            None => assert_eq!(s.status, None, "{line:?}"),
        }
    }
}

#[test]
fn cluster_dash_goes_back_to_the_cluster_switched_from() {
    let mut s = synced();
    s.previous_cluster = Some("staging".into());
    handle_action(&mut s, Action::CommandLine);
    type_text(&mut s, "cluster -");
    assert_eq!(
        handle_action(&mut s, Action::Submit),
        vec![
            Command::RecordHistory("cluster -".into()),
            Command::SwitchCluster("staging".into())
        ],
        "nothing stops before the target has loaded"
    );
}

#[test]
fn esc_in_command_line_keeps_the_filter() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "web");
    handle_action(&mut s, Action::Submit);
    handle_action(&mut s, Action::CommandLine);
    type_text(&mut s, "q");
    assert_eq!(
        handle_action(&mut s, Action::Cancel),
        vec![],
        "nothing quits"
    );
    assert_eq!(s.input, None);
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
    // The metrics pane has no filter: `/` says so at once, no field opens, members stay
    // unfiltered.
    handle_action(&mut s, Action::Filter);
    assert_eq!(s.input, None);
    assert_eq!(status_text(&s), "the metrics pane has no filter");
    type_text(&mut s, "web");
    assert_eq!(s.members.visible_len(), 5);
    assert!(s.members.filter.is_none());
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
    assert_eq!(handle_action(&mut s, Action::Quit), vec![Command::Quit]);
}

#[test]
fn back_clears_status_when_nothing_else_to_clear() {
    let mut s = synced();
    // The first Esc clears the scope (the member selected by `synced`).
    handle_action(&mut s, Action::Back);
    assert_eq!(s.scope, Scope::Cluster);
    handle_action(&mut s, Action::CommandLine);
    type_text(&mut s, "nonsense");
    handle_action(&mut s, Action::Submit);
    assert!(s.status.is_some());
    handle_action(&mut s, Action::Back);
    assert_eq!(s.status, None);
}

#[test]
fn moving_in_members_scopes_checks_and_back_clears_it() {
    let mut s = synced();
    handle_action(&mut s, Action::Back);
    assert!(s.checks.scope.is_none());
    handle_action(&mut s, Action::Down); // db-1
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
    rows(&mut s, 2);
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
        // Everything above it leaves in one batch.
        (
            vec![
                del("/services/api/api-1", 27),
                del("/services/api/api-2", 28),
                del("/services/web/web-1", 29),
            ],
            "/services/web/web-2",
            0,
        ),
    ];
    for (evs, key, index) in steps {
        update(&mut s, events(evs.clone()));
        assert_eq!(selected_key(&s).as_deref(), Some(key), "after {evs:?}");
        assert_eq!(s.members.selected_index(), Some(index), "after {evs:?}");
    }
}

/// The scope is the member under the cursor, the same in every pane: nothing at start (the first
/// row is not selected), the member while it is selected, and — when it leaves the list (deleted,
/// or filtered out) — nothing again, said on the status line, never the neighbour that slid under
/// the cursor.
#[test]
fn one_scope_follows_the_cursor_and_clears_when_the_member_leaves() {
    let mut s = empty_state();
    update(&mut s, snapshot(fleet(), 20));
    assert_eq!(s.members.selected_index(), None);
    assert_eq!(
        (s.scope_label(), &s.checks.scope, &s.logs.scope),
        (None, &None, &None)
    );

    // `j`: the first row, in every pane.
    let cmds = handle_action(&mut s, Action::Down);
    assert!(
        matches!(cmds.as_slice(), [Command::LogsScope(Some(_))]),
        "{cmds:?}"
    );
    let first = selected_key(&s).unwrap();
    assert_eq!(
        s.scope,
        Scope::Member {
            cluster: "prod".into(),
            key: first.as_bytes().into()
        }
    );
    let label = s.scope_label().unwrap();
    assert_eq!(s.checks.scope.as_ref().unwrap().label, label);
    assert_eq!(s.logs.scope.as_ref().unwrap().label, label);
    handle_action(&mut s, Action::Down);
    let second = selected_key(&s).unwrap();

    // Deregistered (or expired): the scope clears, with a message; nothing is selected.
    let cmds = update(&mut s, events(vec![del(&second, 30)]));
    assert_eq!(cmds, vec![Command::LogsScope(None)]);
    assert_eq!(s.scope, Scope::Cluster);
    assert_eq!(s.members.selected_index(), None);
    assert!((s.checks.scope.is_none() && s.logs.scope.is_none()));
    assert!(
        status_text(&s).contains(&format!("scope cleared: {second} is no longer in the list")),
        "{}",
        status_text(&s)
    );
    // The metrics pane asks for the cluster's series again, not the vanished member's.
    let asked = super::metrics::interest(&mut s);
    assert!(
        asked.iter().all(|c| match c {
            Command::MetricsQuery(q) => q.vars.is_none(),
            _ => true,
        }),
        "{asked:?}"
    );

    // A filter that hides the selected member clears the scope the same way.
    handle_action(&mut s, Action::Down);
    assert!(s.scope != Scope::Cluster);
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "nomatch-at-all");
    assert_eq!(s.members.visible_len(), 0);
    assert_eq!(s.scope, Scope::Cluster);
    assert!(
        status_text(&s).contains("scope cleared"),
        "{}",
        status_text(&s)
    );
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
    rows(&mut s, 3);
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
        // Nothing was selected: the first move lands on the first row.
        (
            Step::Action(Action::Down),
            vec![Command::LogsScope(Some(vec![
                "api-1".into(),
                "10.0.3.1:80".into(),
                "10.0.3.1".into(),
            ]))],
        ),
        // A page down moves the cursor off screen: the list scrolls (rows 1..4: db-1, web-1,
        // web-2), the leases are re-aimed at once, and the scope follows the cursor.
        (
            Step::Action(Action::PageDown),
            vec![
                Command::WatchLeases(vec![0x10]),
                Command::LogsScope(Some(vec![
                    "web-2".into(),
                    "10.0.0.2:80".into(),
                    "10.0.0.2".into(),
                ])),
            ],
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
            // …and the selected web-2 is gone: the scope clears.
            vec![Command::WatchLeases(vec![]), Command::LogsScope(None)],
        ),
    ];
    for (i, (step, want)) in steps.into_iter().enumerate() {
        let got = match step {
            Step::Msg(m) => update(&mut s, m),
            Step::Action(a) => handle_action(&mut s, a),
            Step::Tick(secs) => tick(&mut s, t0() + Duration::seconds(secs)),
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
        cluster: Default::default(),
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
                cluster: Default::default(),
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
                cluster: Default::default(),
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
    use crate::model::{default_order, Member};
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
            members: built.into(),
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
    let members: Vec<Member> = again
        .into_iter()
        .map(|e| Member::from_entry("/services/", e, None))
        .collect();
    update(
        &mut s,
        Msg::MembersListed {
            revision: 30,
            members: members.into(),
            at: t0() + Duration::seconds(60),
        },
    );
    assert_eq!(
        s.members.get("/services/api/a-1").unwrap().started_at(),
        seen
    );
}

// ---- guardrails: typed confirmation, marks and bulk changes, undo, extend, not live ----

/// Opens the deregister dialog on row `row` and lets it be seen (the confirmation guard).
fn open_deregister(s: &mut State, row: usize) -> Vec<Command> {
    s.members.select_index(row);
    let cmds = handle_action(s, Action::Deregister);
    frame_drawn(s, at(0), true);
    cmds
}

#[test]
fn typed_confirmation_refuses_y_and_a_wrong_name_and_takes_the_instance() {
    let mut s = synced();
    s.guard.typed = true;
    open_deregister(&mut s, 1);
    let instance = s.members.selected().unwrap().instance().to_string();
    assert_eq!(s.key_context(), Context::Input, "its letters are text");
    // `y` is just a letter here, and Enter with it does nothing but say what to type.
    assert_eq!(
        handle_key(&mut s, Action::InsertChar('y'), "y", at(300)),
        vec![]
    );
    assert_eq!(handle_key(&mut s, Action::Confirm, "y", at(310)), vec![]);
    assert_eq!(handle_key(&mut s, Action::Submit, "enter", at(320)), vec![]);
    assert!(s.popup.is_some());
    assert!(status_text(&s).contains(&format!("type {instance} exactly")));
    // A wrong name neither.
    handle_key(&mut s, Action::DeleteToStart, "ctrl-u", at(330));
    type_text(&mut s, "web-2");
    assert_eq!(handle_key(&mut s, Action::Submit, "enter", at(340)), vec![]);
    assert!(s.popup.is_some());
    // The instance's name does.
    handle_key(&mut s, Action::DeleteToStart, "ctrl-u", at(350));
    type_text(&mut s, &instance);
    let cmds = handle_key(&mut s, Action::Submit, "enter", at(360));
    let (_, m) = gated(&cmds);
    assert!(matches!(m, Mutation::Deregister { .. }), "{m:?}");
    assert_eq!(s.popup, None);
}

#[test]
fn changes_to_a_source_that_is_not_live_are_refused_and_audited() {
    let mut s = synced_offline();
    s.members.select_index(1);
    let cmds = handle_action(&mut s, Action::Deregister);
    // (The selection also re-scopes the logs.)
    let a = cmds
        .iter()
        .find_map(|c| match c {
            Command::Audit(a) => Some(a),
            _ => None,
        })
        .expect("a refusal line");
    assert_eq!(a.phase, Phase::Refused);
    assert_eq!(a.result.as_deref(), Some("refused: not live"));
    assert_eq!(
        a.target, "/services/web/web-1",
        "names what it would have acted on"
    );
    assert_eq!(s.popup, None);
    assert!(status_text(&s).contains("not live"), "{}", status_text(&s));

    // A dialog opened while live, confirmed after the source went away, sends nothing either.
    let mut s = synced();
    open_deregister(&mut s, 1);
    update(
        &mut s,
        Msg::Health(
            SourceKind::Etcd.of(ClusterId(0)),
            Health::Retrying {
                at: t0() + Duration::seconds(5),
                attempt: 1,
                error: "etcd did not answer".into(),
            },
        ),
    );
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let a = audit_of(&cmds);
    assert_eq!(a.result.as_deref(), Some("refused: not live"));
    assert_eq!(a.target, "/services/web/web-1");
}

#[test]
fn marked_members_are_deregistered_one_guarded_txn_each_with_a_summary() {
    let mut s = synced();
    s.members.select_index(0);
    handle_action(&mut s, Action::ToggleMark);
    s.members.select_index(2);
    handle_action(&mut s, Action::ToggleMark);
    s.members.select_index(3);
    handle_action(&mut s, Action::ToggleMark);
    assert_eq!(s.members.marked_count(), 3);
    handle_action(&mut s, Action::Deregister);
    let Some(Popup::Confirm(Confirm {
        change: Change::DeregisterMany { targets, .. },
        typed: None,
        ..
    })) = &s.popup
    else {
        panic!("{:?}", s.popup);
    };
    assert_eq!(targets.len(), 3);
    frame_drawn(&mut s, at(0), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let attempts: Vec<(crate::model::AuditEntry, Vec<u8>, i64)> = cmds
        .iter()
        .map(|c| match c {
            Command::Gated(g) => match &g.mutation {
                Mutation::Deregister {
                    key, mod_revision, ..
                } => (g.attempt.clone(), key.clone(), *mod_revision),
                m => panic!("{m:?}"),
            },
            c => panic!("{c:?}"),
        })
        .collect();
    assert_eq!(attempts.len(), 3, "one guarded delete per member");
    assert_eq!(s.members.marked_count(), 0, "marks go once acted on");
    // Per-key outcomes: one deleted, one changed, one gone; the summary comes once, at the end.
    let outcomes = [
        DeregisterOutcome::Deleted {
            lease_revoked: None,
        },
        DeregisterOutcome::Changed {
            current_mod_revision: Some(99),
        },
        DeregisterOutcome::Missing,
    ];
    for (i, ((a, key, _), outcome)) in attempts.iter().zip(outcomes).enumerate() {
        let cmds = update(
            &mut s,
            Msg::DeregisterDone {
                key: key.clone(),
                outcome,
                audit_id: a.id.clone(),
            },
        );
        assert_eq!(
            audit_of(&cmds).id,
            a.id,
            "each key has its own outcome line"
        );
        if i < 2 {
            assert!(!status_text(&s).contains("of 3"), "{}", status_text(&s));
        }
    }
    let text = status_text(&s);
    assert!(text.contains("1 of 3"), "{text}");
    assert!(
        text.contains("changed") && text.contains("missing"),
        "{text}"
    );
}

#[test]
fn above_max_bulk_the_number_of_targets_must_be_typed() {
    let mut s = synced();
    s.guard.max_bulk = 2;
    handle_action(&mut s, Action::MarkAll);
    assert_eq!(s.members.marked_count(), 5);
    handle_action(&mut s, Action::Deregister);
    let Some(Popup::Confirm(Confirm {
        typed: Some(typed), ..
    })) = &s.popup
    else {
        panic!("{:?}", s.popup);
    };
    assert_eq!(typed.expected, "5");
    frame_drawn(&mut s, at(0), true);
    assert_eq!(handle_key(&mut s, Action::Confirm, "y", at(300)), vec![]);
    type_text(&mut s, "5");
    let cmds = handle_key(&mut s, Action::Submit, "enter", at(400));
    assert_eq!(cmds.len(), 5);
}

#[test]
fn mark_all_marks_what_the_filter_shows_and_esc_clears_marks_first() {
    let mut s = synced();
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "web");
    handle_action(&mut s, Action::Submit);
    handle_action(&mut s, Action::MarkAll);
    assert_eq!(s.members.marked_count(), 3);
    handle_action(&mut s, Action::Back);
    assert_eq!(s.members.marked_count(), 0);
    assert!(
        s.members.filter.is_some(),
        "the filter stays until the next Esc"
    );
}

#[test]
fn undo_puts_the_member_back_with_its_value_and_lease_within_a_minute() {
    let mut s = synced();
    update(
        &mut s,
        Msg::LeaseTtls {
            ttls: vec![(0x10, 25)],
            at: t0(),
        },
    );
    open_deregister(&mut s, 1);
    let key = s.members.selected().unwrap().key().to_vec();
    let value = s.members.selected().unwrap().value().to_vec();
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let attempt = gated(&cmds).0.clone();
    update(
        &mut s,
        Msg::DeregisterDone {
            key: key.clone(),
            outcome: DeregisterOutcome::Deleted {
                lease_revoked: None,
            },
            audit_id: attempt.id,
        },
    );
    handle_action(&mut s, Action::Undo);
    let Some(Popup::Confirm(Confirm {
        change:
            Change::Restore {
                key: k,
                value: v,
                lease,
                ttl,
                lease_revoked: false,
                ..
            },
        ..
    })) = &s.popup
    else {
        panic!("{:?}", s.popup);
    };
    assert_eq!((k, v, *lease, *ttl), (&key, &value, 0x10, 25));
    frame_drawn(&mut s, at(1000), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(1300));
    let (a, m) = gated(&cmds);
    assert_eq!(a.action, "undo deregister");
    assert_eq!(
        m,
        &Mutation::Restore {
            key: key.clone(),
            value,
            lease: 0x10,
            ttl: 25,
        }
    );
    // Once is enough, and after a minute there is nothing to undo.
    handle_action(&mut s, Action::Undo);
    assert_eq!(s.popup, None);
    assert!(status_text(&s).contains("nothing to undo"));
}

#[test]
fn undo_is_gone_after_a_minute() {
    let mut s = synced();
    open_deregister(&mut s, 1);
    let key = s.members.selected().unwrap().key().to_vec();
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let id = gated(&cmds).0.id.clone();
    update(
        &mut s,
        Msg::DeregisterDone {
            key,
            outcome: DeregisterOutcome::Deleted {
                lease_revoked: None,
            },
            audit_id: id,
        },
    );
    tick(&mut s, t0() + Duration::seconds(61));
    handle_action(&mut s, Action::Undo);
    assert_eq!(s.popup, None);
    assert!(status_text(&s).contains("nothing to undo"));
}

#[test]
fn restore_outcomes_say_what_happened() {
    use crate::model::RestoreOutcome;
    let table = [
        (
            RestoreOutcome::Restored {
                lease: 0x99,
                new_lease: true,
                ttl: 30,
            },
            "restored",
            "expires in 30 s unless the instance re-registers",
        ),
        (
            RestoreOutcome::Reregistered,
            "refused: exists",
            "registered again meanwhile",
        ),
    ];
    for (outcome, result, says) in table {
        let mut s = synced();
        let cmds = update(
            &mut s,
            Msg::RestoreDone {
                key: b"/services/web/web-1".to_vec(),
                outcome,
                audit_id: crate::model::AuditId::from("x-1"),
            },
        );
        assert_eq!(audit_of(&cmds).result.as_deref(), Some(result));
        assert!(status_text(&s).contains(says), "{}", status_text(&s));
    }
}

#[test]
fn the_lease_preview_fills_in_when_etcd_answers() {
    let mut s = synced();
    open_deregister(&mut s, 1);
    update(
        &mut s,
        Msg::LeaseInfo {
            lease: 0x10,
            info: Ok(crate::model::LeaseKeys {
                ttl: 20,
                keys: vec![
                    b"/services/web/web-1".to_vec(),
                    b"/services/web/web-2".to_vec(),
                ],
            }),
        },
    );
    let Some(Popup::Confirm(Confirm {
        change: Change::Deregister { preview, .. },
        ..
    })) = &s.popup
    else {
        panic!("{:?}", s.popup);
    };
    assert_eq!(
        preview.lease.as_ref().unwrap().as_ref().unwrap().keys.len(),
        2
    );
    // Another lease's answer does not land in this dialog.
    update(
        &mut s,
        Msg::LeaseInfo {
            lease: 0x30,
            info: Err("permission denied".into()),
        },
    );
    let Some(Popup::Confirm(Confirm {
        change: Change::Deregister { preview, .. },
        ..
    })) = &s.popup
    else {
        panic!();
    };
    assert!(preview.lease.as_ref().unwrap().is_ok());
}

fn silenced_alert_state(ends_in: i64) -> State {
    use crate::model::{Matcher, Silence};
    let mut row = alert_row(&[("alertname", "HighLatency"), ("instance", "web-2")]);
    row.silenced = true;
    row.silenced_by = vec!["s-1".into()];
    let mut s = live(empty_state());
    s.backends.checks = Some("alertmanager".into());
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: crate::model::ChecksSnapshot {
                results: vec![row],
                silences: vec![Silence {
                    id: "s-1".into(),
                    subscription: None,
                    check: None,
                    matchers: vec![Matcher {
                        name: "alertname".into(),
                        value: "HighLatency".into(),
                        is_regex: false,
                        is_equal: true,
                    }],
                    creator: "bob".into(),
                    reason: "deploy".into(),
                    begin: Some(t0() - Duration::minutes(10)),
                    expire_at: Some(t0() + Duration::seconds(ends_in)),
                    expire_on_resolve: false,
                    updated_at: None,
                }],
                ..Default::default()
            },
            at: t0(),
        },
    );
    s.focus = Pane::Checks;
    s
}

#[test]
fn extend_asks_how_long_then_confirms_the_new_end() {
    let mut s = silenced_alert_state(600);
    handle_action(&mut s, Action::ExtendSilence);
    assert!(matches!(
        s.input.as_ref().map(|i| &i.kind),
        Some(InputKind::Extend { id }) if id == "s-1"
    ));
    // Nonsense keeps the prompt open with why.
    handle_action(&mut s, Action::DeleteToStart);
    type_text(&mut s, "soon");
    handle_action(&mut s, Action::Submit);
    assert!(s.input.is_some(), "the prompt stays for another try");
    handle_action(&mut s, Action::DeleteToStart);
    type_text(&mut s, "2h");
    handle_action(&mut s, Action::Submit);
    let Some(Popup::Confirm(Confirm {
        change: Change::Extend { silence, until },
        ..
    })) = &s.popup
    else {
        panic!("{:?}", s.popup);
    };
    assert_eq!(silence.id, "s-1");
    assert_eq!(*until, t0() + Duration::seconds(600) + Duration::hours(2));
    frame_drawn(&mut s, at(0), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let (a, m) = gated(&cmds);
    assert_eq!(a.action, "extend silence");
    assert_eq!(a.silence_id.as_deref(), Some("s-1"));
    assert!(
        matches!(m, Mutation::ExtendSilence { until: u, .. } if *u == t0() + Duration::seconds(600) + Duration::hours(2))
    );

    // The backend's answer: same id (extended) or a new one (replaced), both audited.
    let mut after = (**match m {
        Mutation::ExtendSilence { silence, .. } => silence,
        _ => unreachable!(),
    })
    .clone();
    after.expire_at = Some(t0() + Duration::hours(2) + Duration::seconds(600));
    let cmds = update(
        &mut s,
        Msg::SilenceDone {
            outcome: crate::model::SilenceOutcome::Extended {
                old_id: "s-1".into(),
                silence: Box::new(after),
            },
            audit_id: a.id.clone(),
        },
    );
    assert_eq!(audit_of(&cmds).result.as_deref(), Some("extended"));
    assert!(status_text(&s).contains("now ends"), "{}", status_text(&s));
}

#[test]
fn no_expiry_is_refused_on_alertmanager_and_on_sensu_unless_allowed() {
    use std::time::Duration as StdDuration;
    let pick_none = |s: &mut State| {
        handle_action(s, Action::Silence);
        type_text(s, "why"); // the reason, where the form opens
        handle_action(s, Action::NextField); // scope
        handle_action(s, Action::NextField); // duration
        handle_action(s, Action::DeleteToStart);
        type_text(s, "none");
        handle_action(s, Action::Submit);
    };
    let mut s = alertmanager_state(vec![alert_row(&[
        ("alertname", "X"),
        ("instance", "web-1"),
    ])]);
    pick_none(&mut s);
    assert!(
        matches!(s.popup, Some(Popup::SilenceForm(_))),
        "{:?}",
        s.popup
    );

    let sensu = |allow: bool| {
        let mut s = alertmanager_state(vec![alert_row(&[
            ("alertname", "X"),
            ("instance", "web-1"),
        ])]);
        s.backends.checks = Some("sensu-go".into());
        s.guard.allow_no_expiry = allow;
        pick_none(&mut s);
        s
    };
    assert!(matches!(sensu(false).popup, Some(Popup::SilenceForm(_))));
    let s = sensu(true);
    let Some(Popup::Confirm(Confirm {
        change: Change::Silence(req),
        ..
    })) = &s.popup
    else {
        panic!("{:?}", s.popup);
    };
    assert_eq!(req.duration, None::<StdDuration>);
}

#[test]
fn the_dry_run_lists_the_members_own_checks_by_the_scoping_rule() {
    let mut s = synced();
    with_alerts(
        &mut s,
        vec![
            alert_row(&[("alertname", "DiskFull"), ("instance", "web-1")]),
            // A name that only starts like it is another member's.
            alert_row(&[("alertname", "LoadHigh"), ("instance", "web-10")]),
            alert_row(&[("alertname", "Down"), ("instance", "db-1")]),
        ],
    );
    let row = (0..s.members.visible_len())
        .find(|&i| s.members.row(i).unwrap().key_text() == "/services/web/web-1")
        .unwrap();
    open_deregister(&mut s, row);
    let Some(Popup::Confirm(Confirm {
        change: Change::Deregister { preview, .. },
        ..
    })) = &s.popup
    else {
        panic!("{:?}", s.popup);
    };
    let checks: Vec<&str> = preview.checks.iter().map(|(_, _, c)| c.as_str()).collect();
    assert_eq!(checks, ["DiskFull"]);
}

#[test]
fn extend_with_enter_alone_gives_an_hour_and_typing_never_appends_to_a_default() {
    let mut s = silenced_alert_state(600);
    handle_action(&mut s, Action::ExtendSilence);
    assert_eq!(s.input.as_ref().unwrap().field.text(), "", "starts empty");
    handle_action(&mut s, Action::Submit);
    let Some(Popup::Confirm(Confirm {
        change: Change::Extend { until, .. },
        ..
    })) = &s.popup
    else {
        panic!("{:?}", s.popup);
    };
    assert_eq!(*until, t0() + Duration::seconds(600) + Duration::hours(1));
}

// ---- incident journal ----

fn journaled(cmds: &[Command]) -> Vec<(crate::model::journal::Kind, String, Vec<String>)> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Journal { entry, .. } => {
                Some((entry.kind, entry.text.clone(), entry.items.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn an_incident_journals_checks_notes_and_changes_and_nothing_outside_it() {
    use crate::model::journal::Kind;
    let mut s = alertmanager_state(vec![
        alert_row(&[("alertname", "DiskFull"), ("instance", "db-1")]),
        alert_row(&[("alertname", "DiskFull"), ("instance", "db-2")]),
        alert_row(&[("alertname", "Down"), ("instance", "web-1")]),
    ]);
    // Outside an incident: nothing.
    let cmds = super::command_line::run(&mut s, "note hello");
    assert!(journaled(&cmds).is_empty());
    assert!(status_text(&s).contains("no incident is open"));

    let cmds = super::command_line::run(&mut s, "incident start disk-1");
    let j = journaled(&cmds);
    assert_eq!(j[0].0, Kind::Start);
    assert_eq!(j[1].0, Kind::Checks);
    assert_eq!(j[1].1, "3 failing: DiskFull ×2, Down ×1");
    assert_eq!(j[1].2.len(), 3);
    // A second start is refused; a bad name too.
    assert!(journaled(&super::command_line::run(&mut s, "incident start again")).is_empty());
    assert!(status_text(&s).contains("disk-1 is open"));

    let cmds = super::command_line::run(&mut s, "note looking at db hosts");
    assert_eq!(
        journaled(&cmds),
        [(Kind::Note, "looking at db hosts".into(), vec![])]
    );

    // A silence's attempt is journaled with the audit line's target.
    s.checks.select_index(0);
    handle_action(&mut s, Action::Silence);
    type_text(&mut s, "disk swap");
    handle_action(&mut s, Action::Submit);
    frame_drawn(&mut s, at(0), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let j = journaled(&cmds);
    assert_eq!(j.len(), 1, "{cmds:?}");
    assert!(
        j[0].1.starts_with("silence ") && j[0].1.ends_with(": attempt"),
        "{j:?}"
    );

    let cmds = super::command_line::run(&mut s, "incident end");
    let kinds: Vec<Kind> = journaled(&cmds).iter().map(|j| j.0).collect();
    assert_eq!(
        kinds,
        [Kind::Checks, Kind::Churn, Kind::Marks, Kind::End],
        "{cmds:?}"
    );
    assert!(s.incident.is_none());
    assert!(journaled(&super::command_line::run(&mut s, "note after")).is_empty());
    // :journal alone writes the last incident's hand-off.
    assert_eq!(
        super::command_line::run(&mut s, "journal"),
        vec![Command::WriteJournal {
            incident: "disk-1".into(),
            path: None
        }]
    );
}

// ---- common-cause grouping ----

#[test]
fn groups_count_what_the_failing_members_share_and_enter_scopes_and_marks() {
    use super::grouping::{groups, GroupBy};
    let mut s = synced();
    with_alerts(
        &mut s,
        vec![
            alert_row(&[("alertname", "DiskFull"), ("instance", "web-1")]),
            alert_row(&[("alertname", "DiskFull"), ("instance", "web-2")]),
            alert_row(&[("alertname", "Down"), ("instance", "db-1")]),
        ],
    );
    let by_check: Vec<String> = groups(&s, &GroupBy::Check)
        .into_iter()
        .map(|g| g.label)
        .collect();
    assert_eq!(by_check, ["2/3 web fail DiskFull", "1/1 db fail Down"]);
    let by_role: Vec<String> = groups(&s, &GroupBy::Field("role".into()))
        .into_iter()
        .map(|g| g.label)
        .collect();
    assert_eq!(by_role, ["2/3 with role=web fail", "1/1 with role=db fail"]);

    // b on Alertmanager asks which labels (the one under the cursor when none is picked:
    // alertname), then Enter on the largest group.
    s.focus = Pane::Checks;
    handle_action(&mut s, Action::GroupChecks);
    match &s.popup {
        Some(Popup::PickLabels(p)) => assert_eq!(
            p.labels,
            [("alertname".to_string(), 3), ("instance".to_string(), 3)]
        ),
        other => panic!("{other:?}"),
    }
    handle_action(&mut s, Action::Select);
    assert!(
        matches!(&s.popup, Some(Popup::Groups { by: GroupBy::Labels(l), .. }) if l == &["alertname"]),
        "{:?}",
        s.popup
    );
    handle_action(&mut s, Action::Detail);
    assert_eq!(s.popup, None);
    let Scope::Members { keys, .. } = &s.scope else {
        panic!("{:?}", s.scope);
    };
    assert_eq!(keys.len(), 2);
    assert_eq!(s.checks.visible_len(), 2, "the checks pane shows the group");
    assert_eq!(s.checks.marked_count(), 2);
    assert_eq!(s.members.marked_count(), 2);
    // s now silences the marked checks through the bulk form.
    handle_action(&mut s, Action::Silence);
    assert!(matches!(s.popup, Some(Popup::SilenceForm(_))));
    handle_action(&mut s, Action::Back);
    // Esc clears the marks, then the group's scope.
    handle_action(&mut s, Action::Back);
    handle_action(&mut s, Action::Back);
    handle_action(&mut s, Action::Back);
    assert_eq!(s.scope, Scope::Cluster);
}

// ---- custom commands ----

fn custom(name: &str, argv: &[&str], mode: &str, danger: &str) -> crate::model::run::CustomCommand {
    use crate::model::run::{CustomCommand, Danger, RunMode, RunScope};
    CustomCommand {
        name: name.into(),
        key: None,
        scope: RunScope::Member,
        argv: argv.iter().map(|a| a.to_string()).collect(),
        mode: RunMode::parse(mode).unwrap(),
        danger: Danger::parse(danger).unwrap(),
    }
}

#[test]
fn a_custom_command_is_filled_from_the_selected_member_and_gated_through_the_audit_log() {
    let mut s = synced();
    s.commands = vec![custom(
        "probe",
        &[
            "curl",
            "-s",
            "http://{addr}/healthz",
            "{instance}",
            "{version}",
            "{cluster}",
        ],
        "capture",
        "none",
    )];
    let first = selected_key(&s).unwrap();
    let cmds = handle_action(&mut s, Action::RunCommand(0));
    let (attempt, mutation) = gated(&cmds);
    let Mutation::Run(spec) = mutation else {
        panic!("{mutation:?}")
    };
    let m = s.members.get(first.as_bytes()).unwrap();
    assert_eq!(
        spec.argv,
        vec![
            "curl".to_string(),
            "-s".into(),
            format!("http://{}/healthz", m.addr()),
            m.instance().into(),
            "1.4.2".into(),
            "prod".into()
        ]
    );
    assert_eq!(attempt.action, "run command");
    assert_eq!(attempt.argv.as_deref(), Some(&spec.argv));
    assert!(
        attempt.target.starts_with("probe: curl -s http://"),
        "{}",
        attempt.target
    );

    // The run ends: one outcome line, the output in a popup that searches.
    let id = attempt.id.clone();
    let result = crate::model::run::RunResult {
        status: "exit 0".into(),
        success: true,
        output: Some("ok\nneedle one\nmiddle\nNEEDLE two\n".into()),
        truncated: false,
    };
    let cmds = update(
        &mut s,
        Msg::RunFinished {
            id: id.clone(),
            name: "probe".into(),
            result,
        },
    );
    let outcome = audit_of(&cmds);
    assert_eq!((outcome.id.clone(), outcome.phase), (id, Phase::Outcome));
    assert_eq!(outcome.result.as_deref(), Some("exit 0"));
    assert!(matches!(s.popup, Some(Popup::Output(_))));
    handle_action(&mut s, Action::Filter);
    type_text(&mut s, "needle");
    handle_action(&mut s, Action::Submit);
    let Some(Popup::Output(out)) = &s.popup else {
        panic!("{:?}", s.popup)
    };
    assert_eq!((out.matches.clone(), out.scroll), (vec![1, 3], 1));
    handle_action(&mut s, Action::NextMatch);
    let Some(Popup::Output(out)) = &s.popup else {
        panic!()
    };
    assert_eq!(out.scroll, 3);
    handle_action(&mut s, Action::Back);
    assert_eq!(s.popup, None);
}

#[test]
fn custom_command_refusals_danger_and_preview() {
    // A control character in a value: refused, nothing runs.
    let mut s = synced();
    s.commands = vec![custom("x", &["echo", "{nope}"], "capture", "none")];
    assert_eq!(handle_action(&mut s, Action::RunCommand(0)), vec![]);
    assert!(
        status_text(&s).contains("{nope} has no value"),
        "{}",
        status_text(&s)
    );

    // danger = confirm: the dialog, then `y` (after the guard) runs it.
    let mut s = synced();
    s.commands = vec![custom(
        "reboot",
        &["ssh", "{addr}", "reboot"],
        "foreground",
        "confirm",
    )];
    assert_eq!(handle_action(&mut s, Action::RunCommand(0)), vec![]);
    assert!(matches!(
        &s.popup,
        Some(Popup::Confirm(Confirm {
            change: Change::Run(_),
            typed: None,
            ..
        }))
    ));
    frame_drawn(&mut s, at(0), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let (_, mutation) = gated(&cmds);
    assert!(matches!(mutation, Mutation::Run(_)));

    // Read-only: a confirm command is refused, with one audit line.
    let mut s = synced();
    s.readonly = true;
    s.commands = vec![custom(
        "reboot",
        &["ssh", "{addr}", "reboot"],
        "foreground",
        "confirm",
    )];
    let cmds = handle_action(&mut s, Action::RunCommand(0));
    let line = audit_of(&cmds);
    assert_eq!(
        (line.phase, line.result.as_deref()),
        (Phase::Refused, Some("refused: readonly"))
    );
    assert_eq!(s.popup, None);
    // … while a harmless one still runs.
    s.commands = vec![custom("look", &["echo", "{addr}"], "capture", "none")];
    let cmds = handle_action(&mut s, Action::RunCommand(0));
    gated(&cmds);

    // :cmd NAME shows the argument list; y copies it; Enter runs it.
    let mut s = synced();
    s.commands = vec![custom(
        "look",
        &["echo", "a b", "{addr}"],
        "capture",
        "none",
    )];
    handle_action(&mut s, Action::CommandLine);
    type_text(&mut s, "cmd look");
    handle_action(&mut s, Action::Submit);
    assert!(
        matches!(&s.popup, Some(Popup::RunPreview(_))),
        "{:?}",
        s.popup
    );
    let cmds = handle_action(&mut s, Action::Copy);
    let addr = s.members.selected().unwrap().addr().to_string();
    assert_eq!(cmds, vec![Command::Copy(format!("echo 'a b' {addr}"))]);
    let cmds = handle_action(&mut s, Action::Select);
    gated(&cmds);
    assert_eq!(s.popup, None);
}

// ---- the time cursor (`:at`, `T`, `[` `]` `{` `}`, `:live`) ----

fn command(s: &mut State, line: &str) -> Vec<Command> {
    handle_action(s, Action::CommandLine);
    let mut out = type_text(s, line);
    out.extend(handle_action(s, Action::Submit));
    out
}

#[test]
fn at_command_puts_the_console_at_a_time_and_steps_move_it() {
    let mut s = synced();
    s.zone = crate::model::DisplayZone::Utc;
    command(&mut s, "at -15m");
    assert_eq!(s.time.at, Some(t0() - Duration::minutes(15)));
    assert!(
        status_text(&s).contains("at 03:55:00 UTC"),
        "{}",
        status_text(&s)
    );
    handle_action(&mut s, Action::StepBack);
    assert_eq!(s.time.at, Some(t0() - Duration::minutes(16)));
    handle_action(&mut s, Action::StepForwardTen);
    assert_eq!(s.time.at, Some(t0() - Duration::minutes(6)));
    handle_action(&mut s, Action::StepForward);
    assert_eq!(s.time.at, Some(t0() - Duration::minutes(5)));
    // A step that reaches now is live again (the cursor never shows the future).
    handle_action(&mut s, Action::StepForwardTen);
    assert_eq!(s.time.at, None);
    assert_eq!(status_text(&s), "live again");
    // From live every step starts at now − 1 min.
    for step in [Action::StepBack, Action::StepBackTen, Action::StepForward] {
        handle_action(&mut s, step);
        assert_eq!(s.time.at, Some(t0() - Duration::minutes(1)), "{step:?}");
        command(&mut s, "live");
        assert_eq!(s.time.at, None);
    }
}

#[test]
fn at_reads_times_of_day_dates_and_refuses_the_future_or_nonsense() {
    let mut s = synced();
    s.zone = crate::model::DisplayZone::Utc;
    command(&mut s, "at 2026-11-24T14:02");
    assert_eq!(
        s.time.at,
        Some(Utc.with_ymd_and_hms(2026, 11, 24, 14, 2, 0).unwrap())
    );
    command(&mut s, "at 04:02:30");
    assert_eq!(
        s.time.at,
        Some(Utc.with_ymd_and_hms(2026, 11, 25, 4, 2, 30).unwrap())
    );
    command(&mut s, "at 2026-11-26T00:00");
    assert!(
        status_text(&s).contains("in the future"),
        "{}",
        status_text(&s)
    );
    command(&mut s, "at soon");
    assert!(
        status_text(&s).contains("cannot read the time"),
        "{}",
        status_text(&s)
    );
    assert_eq!(
        s.time.at,
        Some(Utc.with_ymd_and_hms(2026, 11, 25, 4, 2, 30).unwrap()),
        "a bad :at leaves the cursor where it was"
    );
}

#[test]
fn t_prompts_while_live_and_goes_back_to_live_while_not() {
    let mut s = synced();
    s.zone = crate::model::DisplayZone::Utc;
    handle_action(&mut s, Action::TimeCursor);
    assert_eq!(s.input.as_ref().map(|i| &i.kind), Some(&InputKind::At));
    type_text(&mut s, "-30m");
    handle_action(&mut s, Action::Submit);
    assert_eq!(s.time.at, Some(t0() - Duration::minutes(30)));
    assert!(s.input.is_none());
    handle_action(&mut s, Action::TimeCursor);
    assert_eq!(s.time.at, None);
    assert!(
        s.input.is_none(),
        "T while not live goes back, it does not prompt"
    );
}

#[test]
fn changes_are_refused_while_not_live_and_say_why() {
    let mut s = synced();
    s.zone = crate::model::DisplayZone::Utc;
    command(&mut s, "at -5m");
    for action in [Action::Deregister, Action::Undo] {
        let cmds = handle_action(&mut s, action);
        let line = audit_of(&cmds);
        assert_eq!(line.phase, Phase::Refused);
        assert_eq!(
            line.result.as_deref(),
            Some("refused: not live (time cursor)")
        );
        assert!(s.popup.is_none(), "{action:?} opened a dialog");
        let said = status_text(&s);
        assert!(
            said.contains("refused: the console is at 04:05:00 UTC (not live)")
                && said.contains(":live"),
            "{said}"
        );
    }
    s.focus = Pane::Checks;
    for action in [Action::Silence, Action::Unsilence, Action::ExtendSilence] {
        let cmds = handle_action(&mut s, action);
        assert_eq!(audit_of(&cmds).phase, Phase::Refused, "{action:?}");
    }
    // Live again, the same key opens its dialog.
    command(&mut s, "live");
    s.focus = Pane::Members;
    let cmds = handle_action(&mut s, Action::Deregister);
    assert!(
        cmds.iter().all(|c| !matches!(c, Command::Audit(_))),
        "{cmds:?}"
    );
    assert!(s.popup.is_some());
}

#[test]
fn esc_goes_back_to_live_only_when_nothing_else_is_open() {
    let mut s = synced();
    command(&mut s, "at -5m");
    // A member is selected (the scope): Esc clears that first.
    assert_ne!(s.scope, Scope::Cluster);
    handle_action(&mut s, Action::Back);
    assert_eq!(s.scope, Scope::Cluster);
    assert!(s.time.at.is_some());
    handle_action(&mut s, Action::Help);
    handle_action(&mut s, Action::Back);
    assert!(s.popup.is_none());
    assert!(s.time.at.is_some(), "closing help is not going live");
    handle_action(&mut s, Action::Back);
    assert_eq!(s.time.at, None);
}

#[test]
fn the_metrics_window_ends_at_the_cursor() {
    let mut s = synced();
    s.backends.metrics = Some("prometheus".into());
    rows(&mut s, 10);
    let query = |cmds: &[Command]| {
        cmds.iter().find_map(|c| match c {
            Command::MetricsQuery(q) => Some(q.clone()),
            _ => None,
        })
    };
    let cmds = command(&mut s, "at -20m");
    assert_eq!(
        query(&cmds).and_then(|q| q.end),
        Some(t0() - Duration::minutes(20))
    );
    let cmds = handle_action(&mut s, Action::StepBack);
    assert_eq!(
        query(&cmds).and_then(|q| q.end),
        Some(t0() - Duration::minutes(21))
    );
    let cmds = command(&mut s, "live");
    assert_eq!(query(&cmds).map(|q| q.end), Some(None));
}

#[test]
fn members_at_a_time_replace_the_pane_until_live_while_the_watch_keeps_the_live_set() {
    use crate::model::{revclock::Unknown, PastMembers, PastUnknown};
    let mut s = synced();
    s.zone = crate::model::DisplayZone::Utc;
    let cmds = command(&mut s, "at -10m");
    let at = t0() - Duration::minutes(10);
    assert!(cmds.contains(&Command::MembersAt(at)), "{cmds:?}");
    assert_eq!(s.time.members, time_cursor::MembersAt::Reading);
    let past = |keys: &[&str]| PastMembers {
        revision: 7,
        seen: at - Duration::seconds(3),
        members: keys
            .iter()
            .map(|k| crate::model::Member::from_entry("/services/", kv(k, "10.9.9.9", 5, 0), None))
            .collect(),
        compacted: None,
        partial: None,
    };
    // An answer for a moment the cursor left is dropped.
    update(
        &mut s,
        Msg::MembersAt {
            at: at - Duration::minutes(1),
            result: Ok(past(&["/services/old/gone-1"])),
        },
    );
    assert_eq!(s.members.len(), 5);
    update(
        &mut s,
        Msg::MembersAt {
            at,
            result: Ok(past(&["/services/web/web-1", "/services/web/web-9"])),
        },
    );
    assert_eq!(keys(&s), vec!["/services/web/web-1", "/services/web/web-9"]);
    assert!(matches!(
        s.time.members,
        time_cursor::MembersAt::Shown { revision: 7, .. }
    ));
    assert_eq!(
        time_cursor::pane_note(&s, Pane::Members).as_deref(),
        Some("at 04:00:00 UTC · rev 7")
    );
    // A step: the next past patches the one on screen (same rows as a fresh build would give).
    handle_action(&mut s, Action::StepBack);
    let at2 = at - Duration::minutes(1);
    let mut older = past(&["/services/web/web-9", "/services/web/web-3"]);
    older.members[0].mod_revision = 4;
    update(
        &mut s,
        Msg::MembersAt {
            at: at2,
            result: Ok(older),
        },
    );
    assert_eq!(keys(&s), vec!["/services/web/web-3", "/services/web/web-9"]);
    assert_eq!(
        s.members.get("/services/web/web-9").unwrap().mod_revision,
        4
    );
    command(&mut s, "at -10m");
    update(
        &mut s,
        Msg::MembersAt {
            at,
            result: Ok(past(&["/services/web/web-1", "/services/web/web-9"])),
        },
    );
    assert_eq!(keys(&s), vec!["/services/web/web-1", "/services/web/web-9"]);
    // The watch goes on behind the past: the live set gets its events.
    update(&mut s, events(vec![del("/services/db/db-1", 30)]));
    assert_eq!(
        s.members.len(),
        2,
        "the past is not changed by a live event"
    );
    command(&mut s, "live");
    assert_eq!(
        s.members.len(),
        4,
        "live again, with what happened meanwhile"
    );
    assert!(!keys(&s).contains(&"/services/db/db-1".to_string()));
    // Outside the clock's range: said, and the live members stay, marked.
    command(&mut s, "at -10m");
    update(
        &mut s,
        Msg::MembersAt {
            at,
            result: Err(PastUnknown::NoRevision(Unknown::Before(
                t0() - Duration::minutes(5),
            ))),
        },
    );
    assert_eq!(
        status_text(&s),
        "members: no revision known before 04:05 UTC"
    );
    assert_eq!(s.members.len(), 4);
    assert_eq!(
        time_cursor::pane_note(&s, Pane::Members).as_deref(),
        Some("at 04:00:00 UTC: unknown — LIVE shown")
    );
}

#[test]
fn checks_at_a_time_come_from_their_history_and_follow_the_polls() {
    use crate::model::{CheckResult, ChecksSnapshot, HistoryPoint};
    let mut s = synced();
    s.zone = crate::model::DisplayZone::Utc;
    s.backends.checks = Some("sensu-go".into());
    let row = |statuses: &[(i64, i64)]| CheckResult {
        entity: "web-1".into(),
        check: "check_http".into(),
        status: statuses.last().unwrap().0,
        executed: Some(t0()),
        history: statuses
            .iter()
            .map(|(status, mins_ago)| HistoryPoint {
                status: *status,
                executed: Some(t0() - Duration::minutes(*mins_ago)),
            })
            .collect(),
        ..Default::default()
    };
    let poll = |s: &mut State, r: CheckResult| {
        update(
            s,
            Msg::ChecksSnapshot {
                snapshot: ChecksSnapshot {
                    results: vec![r],
                    ..Default::default()
                },
                at: t0(),
            },
        );
    };
    // OK until 5 minutes ago, CRIT since.
    poll(&mut s, row(&[(0, 20), (0, 10), (2, 5), (2, 0)]));
    command(&mut s, "at -7m");
    assert_eq!(s.checks.results[0].status, 0, "OK 7 minutes ago");
    assert_eq!(
        s.checks.results[0].output,
        "status at 04:03:00 UTC from its history (now: CRIT)"
    );
    assert_eq!(
        time_cursor::pane_note(&s, Pane::Checks).as_deref(),
        Some("at 04:03:00 UTC from history")
    );
    handle_action(&mut s, Action::StepForwardTen);
    assert_eq!(s.checks.results[0].status, 2, "CRIT 3 minutes ago");
    command(&mut s, "at -30m");
    assert_eq!(s.checks.results[0].status, 3);
    assert!(s.checks.results[0].output.contains("history starts later"));
    // A poll while not live: the live rows take it, the past is rebuilt from it.
    poll(&mut s, row(&[(1, 40), (0, 20), (0, 10), (2, 5), (1, 0)]));
    assert_eq!(
        s.checks.results[0].status, 1,
        "WARN 30 minutes ago, by the newer history"
    );
    command(&mut s, "live");
    assert_eq!(s.checks.results[0].status, 1);
    assert_eq!(s.checks.results[0].history.len(), 5);
    assert_eq!(s.checks.results[0].output, "");
}

#[test]
fn d_shows_who_joined_and_left_between_the_cursor_and_now() {
    use crate::model::PastMembers;
    let mut s = synced();
    s.zone = crate::model::DisplayZone::Utc;
    handle_action(&mut s, Action::AtDiff);
    assert!(s.popup.is_none());
    assert!(
        status_text(&s).contains("nothing to compare"),
        "{}",
        status_text(&s)
    );
    command(&mut s, "at -10m");
    let at = t0() - Duration::minutes(10);
    let member = |k: &str, rev| {
        crate::model::Member::from_entry("/services/", kv(k, "10.0.0.1", rev, 0x10), None)
    };
    update(
        &mut s,
        Msg::MembersAt {
            at,
            result: Ok(PastMembers {
                revision: 9,
                seen: at,
                // web-1 as it is now (rev 11), web-2 older (changed since), old-1 gone since.
                members: vec![
                    member("/services/web/web-1", 11),
                    member("/services/web/web-2", 3),
                    member("/services/old/old-1", 4),
                ],
                compacted: None,
                partial: None,
            }),
        },
    );
    s.focus = Pane::Members;
    handle_action(&mut s, Action::AtDiff);
    let Some(Popup::AtDiff { diff, .. }) = &s.popup else {
        panic!("no diff popup: {:?} {}", s.popup, status_text(&s));
    };
    let text = |keys: &[(crate::model::ClusterId, std::sync::Arc<[u8]>)]| {
        keys.iter()
            .map(|(_, k)| String::from_utf8_lossy(k).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        text(&diff.joined),
        vec![
            "/services/db/db-1",
            "/services/web/web-10",
            "/services/worker/w-1"
        ]
    );
    assert_eq!(text(&diff.left), vec!["/services/old/old-1"]);
    assert_eq!(text(&diff.changed), vec!["/services/web/web-2"]);
    assert_eq!(diff.revisions, vec![(crate::model::ClusterId(0), 9)]);
    assert!(diff.unknown.is_empty());
}

#[test]
fn the_redis_ring_jumps_to_the_moment_or_says_how_far_back_it_holds() {
    let mut s = synced();
    s.zone = crate::model::DisplayZone::Utc;
    // Every line shown: no member scope.
    handle_action(&mut s, Action::Back);
    assert_eq!(s.scope, Scope::Cluster);
    s.backends.logs = Some("redis".into());
    let line = |mins_ago: i64, text: &str| crate::model::LogLine {
        time: Some(t0() - Duration::minutes(mins_ago)),
        host: "web-1".into(),
        program: "app".into(),
        severity: Some(6),
        message: text.into(),
        fields: Default::default(),
    };
    update(
        &mut s,
        Msg::LogLines(vec![
            line(30, "thirty"),
            line(20, "twenty"),
            line(10, "ten"),
            line(1, "one"),
        ]),
    );
    let cmds = command(&mut s, "at -15m");
    assert!(
        !cmds.iter().any(|c| matches!(c, Command::LogsAround(_))),
        "the ring is not read again: {cmds:?}"
    );
    assert_eq!(
        s.logs.selected().map(|l| l.message.as_str()),
        Some("ten"),
        "the first line at or after the moment"
    );
    assert!(!s.logs.follow);
    command(&mut s, "at -45m");
    assert!(
        status_text(&s).contains("the buffer holds lines back to 03:40:00 UTC only"),
        "{}",
        status_text(&s)
    );
    command(&mut s, "live");
    assert!(s.logs.follow);
}

// ---- acks (issue 23) ----------------------------------------------------------------------

fn ack_silence(id: &str, user: &str, instance: &str) -> crate::model::Silence {
    crate::model::Silence {
        id: id.into(),
        matchers: vec![crate::model::Matcher {
            name: "instance".into(),
            value: instance.into(),
            is_regex: false,
            is_equal: true,
        }],
        creator: user.into(),
        reason: crate::model::mute::ack_comment(user, "looking"),
        begin: Some(t0() - Duration::minutes(12)),
        expire_at: Some(t0() + Duration::minutes(18)),
        ..Default::default()
    }
}

fn acked_row(instance: &str, silence: &str) -> crate::model::CheckResult {
    let mut r = alert_row(&[("alertname", "Down"), ("instance", instance)]);
    r.silenced = true;
    r.silenced_by = vec![silence.into()];
    r
}

#[test]
fn ack_opens_a_short_silence_form_and_sends_an_ack_comment() {
    let mut s = alertmanager_state(vec![alert_row(&[
        ("alertname", "Down"),
        ("instance", "web-1"),
    ])]);
    handle_action(&mut s, Action::Ack);
    match &s.popup {
        Some(Popup::SilenceForm(f)) => {
            assert_eq!(f.duration.text(), "30m");
            assert_eq!(f.scopes.len(), 1);
            assert!(f.ack.as_ref().is_some_and(|a| a.takes_over.is_none()));
        }
        other => panic!("{other:?}"),
    }
    for c in "disk".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    handle_action(&mut s, Action::Submit);
    match &s.popup {
        Some(Popup::Confirm(Confirm {
            change:
                Change::Ack {
                    request: r,
                    takes_over: None,
                },
            ..
        })) => {
            assert_eq!(r.reason, "ACK alice: disk");
            assert_eq!(r.creator, "alice");
            assert_eq!(r.duration, Some(std::time::Duration::from_secs(1800)));
            assert_eq!(
                r.scope,
                crate::model::SilenceScope::CheckOnEntity {
                    entity: "web-1".into(),
                    check: "Down".into()
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn ack_without_a_note_is_allowed() {
    let mut s = alertmanager_state(vec![alert_row(&[
        ("alertname", "Down"),
        ("instance", "web-1"),
    ])]);
    handle_action(&mut s, Action::Ack);
    handle_action(&mut s, Action::Submit);
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(Confirm { change: Change::Ack { request: r, .. }, .. })) if r.reason == "ACK alice"),
        "{:?}",
        s.popup
    );
}

#[test]
fn re_ack_extends_our_own_and_taking_over_says_whose() {
    let mut s = alertmanager_state(Vec::new());
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: crate::model::ChecksSnapshot {
                results: vec![acked_row("web-1", "mine"), acked_row("web-2", "bobs")],
                silences: vec![
                    ack_silence("mine", "alice", "web-1"),
                    ack_silence("bobs", "bob", "web-2"),
                ],
                ..Default::default()
            },
            at: t0(),
        },
    );
    assert_eq!(s.checks.mute_counts().text(), "2 firing (2 acked)");
    s.checks.select_index(0);
    assert_eq!(s.checks.selected().unwrap().entity, "web-1");
    handle_action(&mut s, Action::Ack);
    match &s.popup {
        Some(Popup::Confirm(Confirm {
            change: Change::Extend { silence, until },
            ..
        })) => {
            assert_eq!(silence.id, "mine");
            assert_eq!(*until, t0() + Duration::minutes(18 + 30));
        }
        other => panic!("re-ack extends: {other:?}"),
    }
    s.popup = None;
    s.checks.select_index(1);
    handle_action(&mut s, Action::Ack);
    match &s.popup {
        Some(Popup::SilenceForm(f)) => {
            assert_eq!(
                f.ack
                    .as_ref()
                    .and_then(|a| a.takes_over.as_ref().map(|t| t.user.as_str())),
                Some("bob")
            );
        }
        other => panic!("taking over asks first: {other:?}"),
    }
    s.popup = None;
    handle_action(&mut s, Action::Unack);
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(Confirm { change: Change::Unack { id, .. }, .. })) if id == "bobs"),
        "{:?}",
        s.popup
    );
    s.popup = None;
    handle_action(&mut s, Action::ToggleUnackedOnly);
    assert_eq!(s.checks.visible_len(), 0);
}

#[test]
fn a_partial_past_says_so_in_the_members_title_and_the_status() {
    use crate::model::{Partial, PastMembers};
    let mut s = synced();
    s.zone = crate::model::DisplayZone::Utc;
    command(&mut s, "at -10m");
    let at = t0() - Duration::minutes(10);
    let members = ["/services/api/a-1", "/services/db/d-1"]
        .iter()
        .map(|k| crate::model::Member::from_entry("/services/", kv(k, "10.9.9.9", 5, 0), None))
        .collect();
    let partial = Partial {
        read: 2,
        total: Some(7),
        why: "cap 2 members".into(),
    };
    update(
        &mut s,
        Msg::MembersAt {
            at,
            result: Ok(PastMembers {
                revision: 7,
                seen: at,
                members,
                compacted: None,
                partial: Some(partial),
            }),
        },
    );
    assert_eq!(
        time_cursor::pane_note(&s, Pane::Members).as_deref(),
        Some("at 04:00:00 UTC · rev 7 · partial: 2 of 7 (cap 2 members)")
    );
    let status = s
        .status
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert!(
        status.contains("the first members in key order only"),
        "{status}"
    );
}

#[test]
fn lease_ttls_are_unknown_only_while_the_past_members_are_on_screen() {
    use crate::model::{PastMembers, PastUnknown};
    let mut s = synced();
    assert!(!s.time.shows_past_members());
    command(&mut s, "at -10m");
    let at = t0() - Duration::minutes(10);
    // Still reading: the live set (and its live TTLs) is on screen.
    assert!(!s.time.shows_past_members());
    let member = crate::model::Member::from_entry(
        "/services/",
        kv("/services/web/web-1", "x", 5, 0x10),
        None,
    );
    let past = PastMembers {
        revision: 7,
        seen: at,
        members: vec![member],
        compacted: None,
        partial: None,
    };
    update(
        &mut s,
        Msg::MembersAt {
            at,
            result: Ok(past),
        },
    );
    assert!(s.time.shows_past_members());
    // Not known at the next step: the live members come back, with their live TTLs.
    handle_action(&mut s, Action::StepBack);
    let at2 = at - Duration::minutes(1);
    let result = Err(PastUnknown::Failed("etcd is unreachable".into()));
    update(&mut s, Msg::MembersAt { at: at2, result });
    assert!(!s.time.shows_past_members());
    command(&mut s, "live");
    assert!(!s.time.shows_past_members());
}

/// An ack is audited (and journaled) as `ack`, with its duration and note; unack as `unack`;
/// re-ack as `extend ack` — never as a plain silence.
#[test]
fn acks_are_audited_and_journaled_as_ack_and_unack() {
    use crate::model::journal::Kind;
    let mut s = alertmanager_state(vec![alert_row(&[
        ("alertname", "Down"),
        ("instance", "web-1"),
    ])]);
    super::command_line::run(&mut s, "incident start db");
    handle_action(&mut s, Action::Ack);
    for c in "on it".chars() {
        handle_action(&mut s, Action::InsertChar(c));
    }
    handle_action(&mut s, Action::Submit);
    frame_drawn(&mut s, at(0), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(300));
    let gated_only: Vec<Command> = cmds
        .iter()
        .filter(|c| matches!(c, Command::Gated(_)))
        .cloned()
        .collect();
    let (attempt, mutation) = gated(&gated_only);
    let attempt = attempt.clone();
    let Mutation::Silence(request) = mutation.clone() else {
        panic!("{mutation:?}")
    };
    assert_eq!(
        (attempt.action.as_str(), attempt.target.as_str()),
        ("ack", "Down on web-1")
    );
    assert_eq!(attempt.duration(), Some("30m"));
    assert_eq!(attempt.reason.as_deref(), Some("ACK alice: on it"));
    let journal = journaled(&cmds);
    assert_eq!(
        journal,
        vec![(
            Kind::Action,
            "ack Down on web-1 for 30m, note: on it: attempt".to_string(),
            vec![]
        )]
    );
    let silence = crate::model::Silence::requested(
        "ack-1".into(),
        &request,
        crate::model::SilenceTarget::Matchers(
            crate::sources::checks::alertmanager::matchers_for(&request.scope).unwrap(),
        ),
        t0(),
    );
    let out = update(
        &mut s,
        Msg::SilenceDone {
            outcome: crate::model::SilenceOutcome::Created {
                silence: Box::new(silence),
                request: request.clone(),
            },
            audit_id: attempt.id.clone(),
        },
    );
    let line = out
        .iter()
        .find_map(|c| match c {
            Command::Audit(a) => Some(a.clone()),
            _ => None,
        })
        .expect("the outcome line");
    assert_eq!(
        (line.action.as_str(), line.result.as_deref()),
        ("ack", Some("created"))
    );
    assert_eq!(line.duration(), Some("30m"));
    assert!(
        status_text(&s).starts_with("acked Down on web-1"),
        "{}",
        status_text(&s)
    );
    assert_eq!(
        journaled(&out),
        vec![(
            Kind::Action,
            "ack Down on web-1 for 30m, note: on it: created".to_string(),
            vec![]
        )]
    );
    assert!(matches!(
        s.checks.mute_of_check("web-1", "Down"),
        crate::model::mute::Mute::Acked(_)
    ));

    // Re-ack: the extension is an `extend ack`.
    handle_action(&mut s, Action::Ack);
    assert!(
        matches!(&s.popup, Some(Popup::Confirm(c)) if c.change.action() == "extend ack"),
        "{:?}",
        s.popup
    );
    s.popup = None;

    // Unack: `unack`, in the audit and the journal.
    handle_action(&mut s, Action::Unack);
    frame_drawn(&mut s, at(1000), true);
    let cmds = handle_key(&mut s, Action::Confirm, "y", at(1300));
    let gated_only: Vec<Command> = cmds
        .iter()
        .filter(|c| matches!(c, Command::Gated(_)))
        .cloned()
        .collect();
    let (unack, mutation) = gated(&gated_only);
    assert_eq!(mutation, &Mutation::Unsilence { id: "ack-1".into() });
    assert_eq!(unack.action, "unack");
    let unack = unack.clone();
    let out = update(
        &mut s,
        Msg::SilenceDone {
            outcome: crate::model::SilenceOutcome::Removed { id: "ack-1".into() },
            audit_id: unack.id.clone(),
        },
    );
    let line = audit_of(
        &out.iter()
            .filter(|c| matches!(c, Command::Audit(_)))
            .cloned()
            .collect::<Vec<_>>(),
    )
    .clone();
    assert_eq!(
        (line.action.as_str(), line.result.as_deref()),
        ("unack", Some("removed"))
    );
    assert_eq!(status_text(&s), "ack ack-1 removed");
    assert!(
        journaled(&out)[0].1.starts_with("unack "),
        "{:?}",
        journaled(&out)
    );
}

/// Takes over bob's ack on web-2 (the form was confirmed): returns the new ack's attempt.
fn take_over_bobs_ack(s: &mut State) -> crate::model::AuditEntry {
    s.checks.select_index(1);
    assert_eq!(s.checks.selected().unwrap().entity, "web-2");
    handle_action(s, Action::Ack);
    handle_action(s, Action::Submit);
    match &s.popup {
        Some(Popup::Confirm(Confirm {
            change:
                Change::Ack {
                    takes_over: Some(old),
                    ..
                },
            ..
        })) => assert_eq!(
            old,
            &super::ack::TakeOver {
                user: "bob".into(),
                silence_id: "bobs".into()
            }
        ),
        other => panic!("{other:?}"),
    }
    frame_drawn(s, at(0), true);
    let cmds = handle_key(s, Action::Confirm, "y", at(300));
    let (attempt, _) = gated(&cmds);
    assert_eq!(attempt.action, "ack");
    attempt.clone()
}

fn two_acks() -> State {
    let mut s = alertmanager_state(Vec::new());
    update(
        &mut s,
        Msg::ChecksSnapshot {
            snapshot: crate::model::ChecksSnapshot {
                results: vec![acked_row("web-1", "mine"), acked_row("web-2", "bobs")],
                silences: vec![
                    ack_silence("mine", "alice", "web-1"),
                    ack_silence("bobs", "bob", "web-2"),
                ],
                ..Default::default()
            },
            at: t0(),
        },
    );
    s
}

fn new_ack(request: &crate::model::SilenceRequest, id: &str) -> crate::model::Silence {
    crate::model::Silence::requested(
        id.into(),
        request,
        crate::model::SilenceTarget::Matchers(
            crate::sources::checks::alertmanager::matchers_for(&request.scope).unwrap(),
        ),
        t0(),
    )
}

#[test]
fn taking_over_expires_the_old_ack_only_once_the_new_one_is_confirmed() {
    let mut s = two_acks();
    let attempt = take_over_bobs_ack(&mut s);
    let request = crate::model::SilenceRequest {
        cluster: Default::default(),
        scope: crate::model::SilenceScope::CheckOnEntity {
            entity: "web-2".into(),
            check: "Down".into(),
        },
        duration: Some(std::time::Duration::from_secs(1800)),
        expire_on_resolve: false,
        reason: "ACK alice".into(),
        creator: "alice".into(),
    };
    let out = update(
        &mut s,
        Msg::SilenceDone {
            outcome: crate::model::SilenceOutcome::Created {
                silence: Box::new(new_ack(&request, "alices")),
                request: request.clone(),
            },
            audit_id: attempt.id.clone(),
        },
    );
    // The new ack's outcome, then the old ack's expiry (its own audited change).
    let expire = out
        .iter()
        .find_map(|c| match c {
            Command::Gated(g) => Some(g.clone()),
            _ => None,
        })
        .expect("the old ack expired");
    assert_eq!(expire.mutation, Mutation::Unsilence { id: "bobs".into() });
    assert_eq!(expire.attempt.action, "unack");
    assert!(
        expire.attempt.target.contains("bob's ack"),
        "{:?}",
        expire.attempt
    );
    assert!(
        status_text(&s).contains("expiring bob's ack"),
        "{}",
        status_text(&s)
    );
    let out = update(
        &mut s,
        Msg::SilenceDone {
            outcome: crate::model::SilenceOutcome::Removed { id: "bobs".into() },
            audit_id: expire.attempt.id.clone(),
        },
    );
    let line = audit_of(
        &out.iter()
            .filter(|c| matches!(c, Command::Audit(_)))
            .cloned()
            .collect::<Vec<_>>(),
    )
    .clone();
    assert_eq!(
        (line.action.as_str(), line.result.as_deref()),
        ("unack", Some("removed"))
    );
    assert_eq!(status_text(&s), "took the ack over: bob's ack expired");
    match s.checks.mute_of_check("web-2", "Down") {
        crate::model::mute::Mute::Acked(a) => {
            assert_eq!(
                (a.user.as_str(), a.silence_id.as_str()),
                ("alice", "alices")
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_takeover_says_so_when_either_step_fails() {
    // The new ack fails: nothing of bob's is touched.
    let mut s = two_acks();
    let attempt = take_over_bobs_ack(&mut s);
    let out = update(
        &mut s,
        Msg::SilenceDone {
            outcome: crate::model::SilenceOutcome::Failed {
                what: "silence Down on web-2".into(),
                error: "connection refused".into(),
            },
            audit_id: attempt.id.clone(),
        },
    );
    assert!(
        !out.iter().any(|c| matches!(c, Command::Gated(_))),
        "{out:?}"
    );
    assert!(
        status_text(&s).contains("connection refused")
            && status_text(&s).contains("bob's ack was left as it was"),
        "{}",
        status_text(&s)
    );
    match s.checks.mute_of_check("web-2", "Down") {
        crate::model::mute::Mute::Acked(a) => assert_eq!(a.user, "bob"),
        other => panic!("{other:?}"),
    }

    // The new ack is created, expiring bob's fails: said as an error, both in force.
    let mut s = two_acks();
    let attempt = take_over_bobs_ack(&mut s);
    let request = crate::model::SilenceRequest {
        cluster: Default::default(),
        scope: crate::model::SilenceScope::CheckOnEntity {
            entity: "web-2".into(),
            check: "Down".into(),
        },
        duration: Some(std::time::Duration::from_secs(1800)),
        expire_on_resolve: false,
        reason: "ACK alice".into(),
        creator: "alice".into(),
    };
    let out = update(
        &mut s,
        Msg::SilenceDone {
            outcome: crate::model::SilenceOutcome::Created {
                silence: Box::new(new_ack(&request, "alices")),
                request,
            },
            audit_id: attempt.id.clone(),
        },
    );
    let expire = out
        .iter()
        .find_map(|c| match c {
            Command::Gated(g) => Some(g.clone()),
            _ => None,
        })
        .expect("the old ack expired");
    let out = update(
        &mut s,
        Msg::SilenceDone {
            outcome: crate::model::SilenceOutcome::Failed {
                what: "unsilence bobs".into(),
                error: "HTTP 500".into(),
            },
            audit_id: expire.attempt.id.clone(),
        },
    );
    let line = audit_of(
        &out.iter()
            .filter(|c| matches!(c, Command::Audit(_)))
            .cloned()
            .collect::<Vec<_>>(),
    )
    .clone();
    assert_eq!(
        (line.action.as_str(), line.result.as_deref()),
        ("unack", Some("error"))
    );
    let status = s.status.as_ref().unwrap();
    assert_eq!(status.level, Level::Error);
    assert!(
        status.text.contains("expiring bob's ack failed: HTTP 500")
            && status.text.contains("both acks are in force"),
        "{}",
        status.text
    );

    // Sensu: the new entry has the old one's name, so it replaced it; nothing to expire.
    let mut s = two_acks();
    let attempt = take_over_bobs_ack(&mut s);
    let request = crate::model::SilenceRequest {
        cluster: Default::default(),
        scope: crate::model::SilenceScope::CheckOnEntity {
            entity: "web-2".into(),
            check: "Down".into(),
        },
        duration: Some(std::time::Duration::from_secs(1800)),
        expire_on_resolve: true,
        reason: "ACK alice".into(),
        creator: "alice".into(),
    };
    let out = update(
        &mut s,
        Msg::SilenceDone {
            outcome: crate::model::SilenceOutcome::Created {
                silence: Box::new(new_ack(&request, "bobs")),
                request,
            },
            audit_id: attempt.id.clone(),
        },
    );
    assert!(
        !out.iter().any(|c| matches!(c, Command::Gated(_))),
        "{out:?}"
    );
    assert!(
        status_text(&s).contains("replaced their ack in place"),
        "{}",
        status_text(&s)
    );
}

//! The time cursor in a merged view (`--cluster a,b`, then `:at`): every cluster's etcd is read
//! at the moment, each by its own source, because each cluster has its own revision clock (the
//! same wall time is revision 812 in one and 40 in another). The past members pane is the union
//! of the answers, every row tagged with its cluster. A cluster that cannot answer shows no rows
//! at all — its live rows beside the others' past would pass for the past — and is named in the
//! title and on the status line with why.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::members::{in_cluster, Members};
use super::time_cursor::{shown, MembersAt};
use super::{Level, State};
use crate::model::{ClusterId, Command, Health, PastMembers, PastUnknown, SourceKind};

/// The clusters whose etcd can be asked (one without an etcd has no membership to go back to).
fn with_etcd(state: &State) -> Vec<ClusterId> {
    state
        .cluster_ids()
        .filter(|c| state.health_in(*c, SourceKind::Etcd) != Some(&Health::NotConfigured))
        .collect()
}

/// `:at` or a step in a merged view: one read per cluster's etcd; each cluster is "reading"
/// until its own answer comes (the rows shown meanwhile are its previous moment's, if any).
pub fn ask(state: &mut State, at: DateTime<Utc>) -> Vec<Command> {
    let clusters = with_etcd(state);
    state.time.by_cluster = clusters.iter().map(|c| (*c, MembersAt::Reading)).collect();
    clusters
        .into_iter()
        .map(|c| in_cluster(c, Command::MembersAt(at)))
        .collect()
}

/// Cluster `c`'s members at `at`, or why they are not known. An answer for a moment the cursor
/// has left is dropped (newest wins, as for a single cluster).
pub fn answered(
    state: &mut State,
    c: ClusterId,
    at: DateTime<Utc>,
    result: Result<PastMembers, PastUnknown>,
) {
    if state.time.at != Some(at) || !state.time.by_cluster.contains_key(&c) {
        return;
    }
    let name = state.cluster_name(c).to_string();
    let zone = state.zone;
    match result {
        Ok(past) => {
            ensure_past(state);
            let count = past.members.len();
            let compacted = past.compacted.map(|(_, when)| when);
            if let Some(when) = compacted {
                let about = when.map_or(String::new(), |t| format!(" ≈ {}", shown(t, zone)));
                state.say(
                    Level::Warn,
                    format!(
                        "members in {name}: compacted — showing rev {}{about} ({count} members), the nearest its etcd has",
                        past.revision
                    ),
                );
            }
            let partial = past.partial.as_ref().map(|p| p.describe());
            if let Some(p) = &partial {
                state.say(
                    Level::Warn,
                    format!(
                        "members in {name} at rev {}: {p} — the first members in key order only",
                        past.revision
                    ),
                );
            }
            state
                .members
                .apply_listing_in(c, past.revision, past.members, state.now);
            state.time.by_cluster.insert(
                c,
                MembersAt::Shown {
                    revision: past.revision,
                    seen: past.seen,
                    compacted,
                    partial,
                },
            );
        }
        Err(why) => {
            let text = match why {
                PastUnknown::NoRevision(u) => u.describe(|t| shown(t, zone)),
                PastUnknown::Failed(e) => format!("members at {} unknown: {e}", shown(at, zone)),
            };
            state.say(
                Level::Warn,
                format!("members in {name}: {text} — none of its rows shown"),
            );
            if state.time.shows_past_members() {
                // An earlier moment's rows of this cluster would pass for this moment's.
                state.members.apply_listing_in(c, 0, Vec::new(), state.now);
            }
            state.time.by_cluster.insert(c, MembersAt::Unknown(text));
        }
    }
    summarise(state);
}

/// The pane's past, created from the live pane's sort, filter and narrowing on the first
/// answer (the live pane is kept behind it, and the watch keeps it current).
fn ensure_past(state: &mut State) {
    if state.time.shows_past_members() {
        return;
    }
    let live = &state.members;
    let mut past = Members::new(&live.prefix);
    past.sort = live.sort;
    past.descending = live.descending;
    past.filter = live.filter.clone();
    past.cluster_names = live.cluster_names.clone();
    past.narrow(live.only);
    let live = std::mem::replace(&mut state.members, past);
    state.time.keep_live_members(live);
}

/// The one state the single-cluster code reads (`d`'s diff, the TTL column): shown once any
/// cluster answered; unknown — and the live members back — when every cluster failed.
fn summarise(state: &mut State) {
    let all = &state.time.by_cluster;
    if all.values().any(|m| *m == MembersAt::Reading) {
        return;
    }
    if let Some(shown) = all.values().find(|m| matches!(m, MembersAt::Shown { .. })) {
        state.time.members = shown.clone();
        return;
    }
    let why: Vec<String> = all
        .iter()
        .filter_map(|(c, m)| match m {
            MembersAt::Unknown(t) => Some(format!("{}: {t}", state.cluster_name(*c))),
            _ => None,
        })
        .collect();
    state.time.members = MembersAt::Unknown(why.join("; "));
    state.time.restore_live_members(&mut state.members);
}

/// The members pane's title while the cursor is set in a merged view: each cluster's revision,
/// or that it is still reading, or that it is unknown (the status line said why).
pub fn title(state: &State, when: &str) -> String {
    if let MembersAt::Unknown(_) = state.time.members {
        if state
            .time
            .by_cluster
            .values()
            .all(|m| matches!(m, MembersAt::Unknown(_)))
        {
            return format!("at {when}: every cluster unknown — LIVE shown");
        }
    }
    let parts: Vec<String> = state
        .time
        .by_cluster
        .iter()
        .map(|(c, m)| {
            let name = state.cluster_name(*c);
            match m {
                MembersAt::Live | MembersAt::Reading => format!("{name} reading…"),
                MembersAt::Shown {
                    revision,
                    compacted,
                    partial,
                    ..
                } => {
                    let rev = format!(
                        "{name} {}",
                        super::time_cursor::revision_text(*revision, compacted.is_some())
                    );
                    match partial {
                        Some(_) => format!("{rev} partial"),
                        None => rev,
                    }
                }
                MembersAt::Unknown(_) => format!("{name} unknown (not shown)"),
            }
        })
        .collect();
    if parts.is_empty() {
        return format!("at {when}");
    }
    format!("at {when} · {}", parts.join(" · "))
}

/// Each cluster's state at the cursor's moment, by cluster (empty while live or single).
pub type ByCluster = BTreeMap<ClusterId, MembersAt>;

/// Each cluster's Prometheus ALERTS at the cursor's moment: the alerts firing then, or why not.
pub type AlertsByCluster = BTreeMap<ClusterId, Result<Vec<crate::model::CheckResult>, String>>;

/// The backend of cluster `c`'s pane `kind`, as its profile or discovery named it.
fn kind_in(state: &State, c: ClusterId, kind: SourceKind) -> Option<&str> {
    state
        .backends
        .by_source
        .get(&kind.of(c))
        .map(String::as_str)
}

/// The clusters whose Alertmanager alerts can be read at a moment: those with a Prometheus
/// (Alertmanager forgets resolved alerts; Prometheus's ALERTS series remembers them).
fn with_alerts(state: &State) -> Vec<ClusterId> {
    state
        .cluster_ids()
        .filter(|c| {
            kind_in(state, *c, SourceKind::Checks) == Some("alertmanager")
                && kind_in(state, *c, SourceKind::Metrics) == Some("prometheus")
        })
        .collect()
}

/// `:at` in a merged view: each such cluster's Prometheus is asked for its own alerts.
pub fn ask_alerts(state: &mut State, at: DateTime<Utc>) -> Vec<Command> {
    state.time.alerts_in.clear();
    with_alerts(state)
        .into_iter()
        .map(|c| in_cluster(c, Command::AlertsAt(at)))
        .collect()
}

/// Cluster `c`'s alerts firing at `at` (tagged with `c`), or why not: the checks pane is rebuilt,
/// each cluster's rows judged by its own answer.
pub fn alerts_answered(
    state: &mut State,
    c: ClusterId,
    at: DateTime<Utc>,
    result: Result<Vec<crate::model::CheckResult>, String>,
) {
    if state.time.at != Some(at) {
        return;
    }
    let result = result.map(|mut firing| {
        for f in &mut firing {
            f.cluster = c;
        }
        firing
    });
    if let Err(e) = &result {
        let name = state.cluster_name(c).to_string();
        state.say(
            Level::Warn,
            format!(
                "checks in {name}: Prometheus ALERTS at {} unknown: {e} — its alerts resolved since are unknown",
                shown(at, state.zone)
            ),
        );
    }
    state.time.alerts_in.insert(c, result);
    super::time_cursor::refresh_checks(state);
}

/// What each cluster's checks can tell of the moment, for `checks_at::pane_at_in`.
pub fn check_sources<'a>(state: &'a State, kind: &'a str) -> super::checks_at::Sources<'a> {
    let kinds = state
        .cluster_ids()
        .filter_map(|c| Some((c, kind_in(state, c, SourceKind::Checks)?)))
        .collect();
    let firing = state
        .time
        .alerts_in
        .iter()
        .filter_map(|(c, r)| Some((*c, r.as_ref().ok()?.as_slice())))
        .collect();
    super::checks_at::Sources {
        kind,
        kinds,
        firing,
    }
}

/// The checks pane's title at the cursor's moment in a merged view: how each cluster's rows
/// are known (`prod from history · prod-eu from Prometheus ALERTS`).
pub fn checks_title(state: &State, when: &str) -> String {
    let parts: Vec<String> = state
        .cluster_ids()
        .filter_map(|c| {
            let name = state.cluster_name(c);
            let how = match kind_in(state, c, SourceKind::Checks)? {
                "sensu-go" => "from history",
                "sensu-core" => "≈ from history",
                "alertmanager" => match state.time.alerts_in.get(&c) {
                    Some(Ok(_)) => "from Prometheus ALERTS",
                    Some(Err(_)) | None if with_alerts(state).contains(&c) => {
                        if state.time.alerts_in.contains_key(&c) {
                            "ALERTS unknown, resolved since unknown"
                        } else {
                            "reading ALERTS…"
                        }
                    }
                    _ => "resolved since unknown",
                },
                _ => "LIVE",
            };
            Some(format!("{name} {how}"))
        })
        .collect();
    if parts.is_empty() {
        return format!("at {when}");
    }
    format!("at {when} · {}", parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::model::{KvEntry, Member, Msg};
    use crate::state::merged::ClusterInfo;
    use crate::state::{time_cursor, update, Pane};

    const PROD: ClusterId = ClusterId(0);
    const EU: ClusterId = ClusterId(1);

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 4, 0, 0).unwrap()
    }

    fn member(key: &str, rev: i64) -> Member {
        let e = KvEntry {
            key: key.into(),
            value: br#"{"addr":"10.0.0.1","port":80}"#.to_vec(),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            lease: 0,
        };
        Member::from_entry("/services/", e, None)
    }

    fn past(revision: i64, keys: &[&str]) -> PastMembers {
        PastMembers {
            revision,
            seen: t0() - Duration::minutes(10),
            members: keys.iter().map(|k| member(k, revision)).collect(),
            compacted: None,
            partial: None,
        }
    }

    /// prod and prod-eu, both live: prod has web-1 and db-1 now, prod-eu web-7.
    fn merged() -> State {
        let mut s = State::new("prod", "/services/", "alice", t0());
        s.zone = crate::model::DisplayZone::Utc;
        s.set_clusters(vec![
            ClusterInfo::named("prod"),
            ClusterInfo::named("prod-eu"),
        ]);
        for (c, keys) in [
            (PROD, vec!["/services/web/web-1", "/services/db/db-1"]),
            (EU, vec!["/services/web/web-7"]),
        ] {
            update(&mut s, Msg::Health(SourceKind::Etcd.of(c), Health::Live));
            let members: Vec<_> = keys.iter().map(|k| member(k, 50)).collect();
            let listed = Msg::MembersListed {
                revision: 50,
                members: members.into(),
                at: t0(),
            };
            update(&mut s, Msg::InCluster(c, Box::new(listed)));
        }
        s
    }

    fn rows(s: &State) -> Vec<(ClusterId, String)> {
        let mut out: Vec<_> = s
            .members
            .all()
            .map(|m| (m.cluster, m.key_text().to_string()))
            .collect();
        out.sort();
        out
    }

    fn answer(s: &mut State, c: ClusterId, at: DateTime<Utc>, r: Result<PastMembers, PastUnknown>) {
        update(
            s,
            Msg::InCluster(c, Box::new(Msg::MembersAt { at, result: r })),
        );
    }

    #[test]
    fn every_clusters_etcd_is_asked_for_the_moment() {
        let mut s = merged();
        let at = t0() - Duration::minutes(5);
        let cmds = time_cursor::set(&mut s, at);
        assert!(cmds.contains(&Command::MembersAt(at)), "{cmds:?}");
        assert!(
            cmds.contains(&Command::InCluster(EU, Box::new(Command::MembersAt(at)))),
            "{cmds:?}"
        );
        assert_eq!(
            time_cursor::pane_note(&s, Pane::Members).as_deref(),
            Some("at 03:55:00 UTC · prod reading… · prod-eu reading…")
        );
        // A cluster without an etcd is not asked (it has no past membership).
        let mut s = merged();
        update(
            &mut s,
            Msg::Health(SourceKind::Etcd.of(EU), Health::NotConfigured),
        );
        let cmds = time_cursor::set(&mut s, at);
        assert!(
            !cmds.iter().any(|c| matches!(c, Command::InCluster(..))),
            "{cmds:?}"
        );
    }

    #[test]
    fn each_clusters_past_is_shown_with_its_cluster_and_the_present_is_not() {
        let mut s = merged();
        let at = t0() - Duration::minutes(5);
        time_cursor::set(&mut s, at);
        answer(&mut s, EU, at, Ok(past(12, &["/services/web/web-3"])));
        // prod has not answered yet: its present is not mixed into the past.
        assert_eq!(rows(&s), vec![(EU, "/services/web/web-3".to_string())]);
        answer(
            &mut s,
            PROD,
            at,
            Ok(past(30, &["/services/web/web-1", "/services/old/old-1"])),
        );
        assert_eq!(
            rows(&s),
            vec![
                (PROD, "/services/old/old-1".to_string()),
                (PROD, "/services/web/web-1".to_string()),
                (EU, "/services/web/web-3".to_string()),
            ]
        );
        assert_eq!(
            time_cursor::pane_note(&s, Pane::Members).as_deref(),
            Some("at 03:55:00 UTC · prod rev 30 · prod-eu rev 12")
        );
        // The watch goes on behind the past, per cluster: a live listing does not reach it.
        let listed = Msg::MembersListed {
            revision: 60,
            members: vec![member("/services/web/web-8", 60)].into(),
            at: t0(),
        };
        update(&mut s, Msg::InCluster(EU, Box::new(listed)));
        assert_eq!(
            rows(&s).len(),
            3,
            "the past is not changed by a live listing"
        );
        time_cursor::live(&mut s);
        assert_eq!(
            rows(&s),
            vec![
                (PROD, "/services/db/db-1".to_string()),
                (PROD, "/services/web/web-1".to_string()),
                (EU, "/services/web/web-8".to_string()),
            ],
            "live again: each cluster's present, with what the watch saw meanwhile"
        );
        assert!(s.time.by_cluster.is_empty());
    }

    #[test]
    fn a_cluster_that_cannot_answer_is_named_and_shows_nothing_while_the_others_show_their_past() {
        let mut s = merged();
        let at = t0() - Duration::minutes(5);
        time_cursor::set(&mut s, at);
        answer(&mut s, PROD, at, Ok(past(30, &["/services/old/old-1"])));
        answer(
            &mut s,
            EU,
            at,
            Err(PastUnknown::Failed("connection refused".into())),
        );
        assert_eq!(rows(&s), vec![(PROD, "/services/old/old-1".to_string())]);
        assert_eq!(
            time_cursor::pane_note(&s, Pane::Members).as_deref(),
            Some("at 03:55:00 UTC · prod rev 30 · prod-eu unknown (not shown)")
        );
        let status = s
            .status
            .as_ref()
            .map(|m| m.text.clone())
            .unwrap_or_default();
        assert!(
            status.contains("prod-eu") && status.contains("connection refused"),
            "{status}"
        );
        // A step: prod-eu's answer for the old moment is dropped; its rows of the earlier
        // moment are cleared when it cannot answer for the new one.
        let at2 = at - Duration::minutes(1);
        time_cursor::set(&mut s, at2);
        answer(&mut s, EU, at, Ok(past(9, &["/services/web/stale"])));
        assert!(rows(&s).iter().all(|(c, _)| *c == PROD));
        answer(&mut s, EU, at2, Ok(past(8, &["/services/web/web-2"])));
        answer(
            &mut s,
            PROD,
            at2,
            Err(PastUnknown::Failed("timed out".into())),
        );
        assert_eq!(rows(&s), vec![(EU, "/services/web/web-2".to_string())]);
    }

    #[test]
    fn the_diff_names_each_rows_cluster_and_leaves_out_a_cluster_whose_past_is_unknown() {
        let mut s = merged();
        let at = t0() - Duration::minutes(5);
        time_cursor::set(&mut s, at);
        // prod then: web-1 (unchanged since) and old-1 (gone since); db-1 joined since.
        answer(
            &mut s,
            PROD,
            at,
            Ok(past(30, &["/services/web/web-1", "/services/old/old-1"])),
        );
        answer(&mut s, EU, at, Err(PastUnknown::Failed("down".into())));
        let diff = time_cursor::diff(&s).expect("a diff once prod answered");
        assert_eq!(diff.revisions, vec![(PROD, 30)]);
        assert_eq!(diff.unknown, vec![EU]);
        let keys = |v: &[(ClusterId, std::sync::Arc<[u8]>)]| {
            v.iter()
                .map(|(c, k)| (*c, String::from_utf8_lossy(k).into_owned()))
                .collect::<Vec<_>>()
        };
        // prod-eu's web-7 is not "joined": its past is not known, not empty.
        assert_eq!(
            keys(&diff.joined),
            vec![(PROD, "/services/db/db-1".to_string())]
        );
        assert_eq!(
            keys(&diff.left),
            vec![(PROD, "/services/old/old-1".to_string())]
        );
        // The same key in both clusters is two rows, each in its own cluster.
        time_cursor::set(&mut s, at - Duration::minutes(1));
        let at = at - Duration::minutes(1);
        answer(&mut s, PROD, at, Ok(past(29, &["/services/web/web-7"])));
        answer(&mut s, EU, at, Ok(past(11, &["/services/web/web-7"])));
        let diff = time_cursor::diff(&s).expect("diff");
        assert_eq!(diff.revisions, vec![(PROD, 29), (EU, 11)]);
        assert_eq!(
            keys(&diff.left),
            vec![(PROD, "/services/web/web-7".to_string())]
        );
        assert_eq!(diff.changed.len(), 1, "EU's web-7: rev 11 then, 50 now");
        assert_eq!(diff.changed[0].0, EU);
    }

    #[test]
    fn when_every_cluster_fails_the_live_members_come_back_marked_live() {
        let mut s = merged();
        let at = t0() - Duration::minutes(5);
        time_cursor::set(&mut s, at);
        answer(&mut s, PROD, at, Err(PastUnknown::Failed("down".into())));
        answer(&mut s, EU, at, Err(PastUnknown::Failed("down too".into())));
        assert!(!s.time.shows_past_members());
        assert_eq!(rows(&s).len(), 3, "the live members, marked so");
        assert_eq!(
            time_cursor::pane_note(&s, Pane::Members).as_deref(),
            Some("at 03:55:00 UTC: every cluster unknown — LIVE shown")
        );
    }

    fn alert(entity: &str, since: DateTime<Utc>) -> crate::model::CheckResult {
        crate::model::CheckResult {
            entity: entity.into(),
            check: "HighLatency".into(),
            status: 2,
            since: Some(since),
            labels: vec![
                ("alertname".into(), "HighLatency".into()),
                ("instance".into(), entity.into()),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn each_clusters_alerts_at_a_time_come_from_its_own_prometheus() {
        let mut s = merged();
        for c in [PROD, EU] {
            crate::state::backend_in(&mut s, SourceKind::Checks.of(c), "alertmanager");
            crate::state::backend_in(&mut s, SourceKind::Metrics.of(c), "prometheus");
        }
        crate::state::backend_started(&mut s, SourceKind::Checks.of(PROD), "alertmanager", None);
        // The same alert (same labels) firing now in both clusters, since long before.
        let long_ago = t0() - Duration::hours(2);
        for c in [PROD, EU] {
            let snapshot = crate::model::ChecksSnapshot {
                results: vec![alert("web-1", long_ago)],
                ..Default::default()
            };
            let msg = Msg::ChecksSnapshot { snapshot, at: t0() };
            update(&mut s, Msg::InCluster(c, Box::new(msg)));
        }
        let at = t0() - Duration::minutes(30);
        let cmds = time_cursor::set(&mut s, at);
        assert!(cmds.contains(&Command::AlertsAt(at)), "{cmds:?}");
        assert!(cmds.contains(&Command::InCluster(EU, Box::new(Command::AlertsAt(at)))));
        assert_eq!(
            time_cursor::pane_note(&s, Pane::Checks).as_deref(),
            Some("at 03:30:00 UTC · prod reading ALERTS… · prod-eu reading ALERTS…")
        );
        // prod's Prometheus had it firing then; prod-eu's did not (it flapped): prod-eu's row is
        // not taken for prod's, though their labels are the same.
        let firing = vec![alert("web-1", long_ago)];
        update(
            &mut s,
            Msg::InCluster(
                PROD,
                Box::new(Msg::AlertsAt {
                    at,
                    result: Ok(firing),
                }),
            ),
        );
        update(
            &mut s,
            Msg::InCluster(
                EU,
                Box::new(Msg::AlertsAt {
                    at,
                    result: Ok(Vec::new()),
                }),
            ),
        );
        let mut statuses: Vec<(ClusterId, i64)> = s
            .checks
            .results
            .iter()
            .map(|r| (r.cluster, r.status))
            .collect();
        statuses.sort();
        assert_eq!(statuses, vec![(PROD, 2), (EU, 0)]);
        assert_eq!(
            time_cursor::pane_note(&s, Pane::Checks).as_deref(),
            Some("at 03:30:00 UTC · prod from Prometheus ALERTS · prod-eu from Prometheus ALERTS")
        );
        // prod-eu's Prometheus cannot answer at the next step: named, its rows judged by when
        // they started.
        let at2 = at - Duration::minutes(1);
        time_cursor::set(&mut s, at2);
        update(
            &mut s,
            Msg::InCluster(
                EU,
                Box::new(Msg::AlertsAt {
                    at: at2,
                    result: Err("503".into()),
                }),
            ),
        );
        assert!(time_cursor::pane_note(&s, Pane::Checks)
            .is_some_and(|n| n.contains("prod-eu ALERTS unknown")));
        let eu = s
            .checks
            .results
            .iter()
            .find(|r| r.cluster == EU)
            .map(|r| r.status);
        assert_eq!(
            eu,
            Some(2),
            "started before the moment: firing then, as far as is known"
        );
    }
}

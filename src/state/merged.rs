//! Several clusters in one view (`--cluster a,b`): who each cluster is (name, accent, read-only,
//! guard rails), by [`ClusterId`], and the facts that need merging per cluster (check results).
//! A single-cluster session holds one entry here and behaves as it always did.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::State;
use crate::model::{ChecksSnapshot, ClusterId, Command, Health, SourceKind};

/// One cluster of the session, as the state needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterInfo {
    pub name: String,
    /// The profile's accent, as written (`red`, `#ff8800`); the theme turns it into a style.
    pub accent: Option<String>,
    /// Changes to this cluster are refused (`readonly = true` in its profile).
    pub readonly: bool,
    /// How careful changes on this cluster must be (typed confirmation, the bulk cap).
    pub guard: crate::config::Guardrails,
}

impl ClusterInfo {
    pub fn named(name: &str) -> ClusterInfo {
        ClusterInfo {
            name: name.to_string(),
            accent: None,
            readonly: false,
            guard: Default::default(),
        }
    }
}

/// Each cluster's last check results, merged into the one checks pane.
#[derive(Debug, Default)]
pub struct MergedChecks {
    by_cluster: BTreeMap<ClusterId, ChecksSnapshot>,
    /// Silences this console created, by id, with the cluster they went to: one removed before
    /// its backend's next answer lists it still goes to that backend.
    created: BTreeMap<String, ClusterId>,
}

/// Silence `id` was created in cluster `c`'s checks backend (its next poll may be a while).
pub fn silence_created(state: &mut State, id: &str, c: ClusterId) {
    if state.merged() {
        state.merged_checks.created.insert(id.to_string(), c);
    }
}

impl State {
    /// The session's clusters, by `ClusterId` (the core sets them at start).
    pub fn set_clusters(&mut self, clusters: Vec<ClusterInfo>) {
        let names: Vec<String> = clusters.iter().map(|c| c.name.clone()).collect();
        self.members.cluster_names = names.clone();
        self.checks.cluster_names = names.clone();
        self.logs.cluster_names = names;
        self.clusters = clusters;
    }

    /// `:cluster NAME` in a merged view: every pane shows that cluster's rows only; `*` (or
    /// `None`) shows them all again.
    pub fn narrow_to(&mut self, only: Option<ClusterId>) {
        self.members.narrow(only);
        self.checks.narrow(only);
        self.logs.narrow(only);
    }

    /// The cluster a merged view is narrowed to, if any.
    pub fn narrowed(&self) -> Option<ClusterId> {
        self.members.only
    }

    /// Whether this view merges several clusters (the CLUSTER column, per-cluster counts).
    pub fn merged(&self) -> bool {
        self.clusters.len() > 1
    }

    /// Cluster `c`'s name (its index when the session does not know it: a bug, shown honestly).
    pub fn cluster_name(&self, c: ClusterId) -> &str {
        self.clusters
            .get(c.0 as usize)
            .map(|i| i.name.as_str())
            .unwrap_or("?")
    }

    /// Cluster `c`'s settings; the session's own for an unknown id.
    pub fn cluster_info(&self, c: ClusterId) -> Option<&ClusterInfo> {
        self.clusters.get(c.0 as usize)
    }

    /// The cluster called `name`.
    pub fn cluster_by_name(&self, name: &str) -> Option<ClusterId> {
        self.clusters
            .iter()
            .position(|i| i.name == name)
            .map(|i| ClusterId(i as u16))
    }

    /// Every cluster of the session, in the order given.
    pub fn cluster_ids(&self) -> impl Iterator<Item = ClusterId> + '_ {
        (0..self.clusters.len()).map(|i| ClusterId(i as u16))
    }

    /// Whether changes to cluster `c` are refused: the session's `--readonly`, or the cluster's
    /// own `readonly`.
    pub fn readonly_in(&self, c: ClusterId) -> bool {
        self.readonly || self.cluster_info(c).is_some_and(|i| i.readonly)
    }

    /// The guard rails of cluster `c` (the session's for a single cluster).
    pub fn guard_in(&self, c: ClusterId) -> &crate::config::Guardrails {
        match self.cluster_info(c) {
            Some(i) if self.merged() => &i.guard,
            _ => &self.guard,
        }
    }

    /// How cluster `c`'s source of `kind` is doing.
    pub fn health_in(&self, c: ClusterId, kind: SourceKind) -> Option<&Health> {
        self.health.get(&kind.of(c))
    }

    pub(super) fn answered_in(&mut self, c: ClusterId, kind: SourceKind, at: DateTime<Utc>) {
        let e = self.last_answer.entry(kind.of(c)).or_insert(at);
        *e = (*e).max(at);
    }

    /// How old cluster `c`'s `kind` data is while its source is not live (as [`State::stale_for`]).
    pub fn stale_in(&self, c: ClusterId, kind: SourceKind) -> Option<chrono::Duration> {
        let source = kind.of(c);
        match self.health.get(&source) {
            None | Some(Health::Live) | Some(Health::NotConfigured) | Some(Health::Idle) => None,
            Some(_) => self
                .last_answer
                .get(&source)
                .map(|t| (self.now - *t).max(chrono::Duration::zero())),
        }
    }
}

/// `:cluster NAME` in a merged view narrows every pane to that cluster; `:cluster *` (or `-`,
/// `all`) shows them all again. Nothing is switched: every cluster's sources keep running.
pub fn narrow_by_name(state: &mut State, arg: &str) {
    if matches!(arg, ALL | "-" | "all") {
        state.narrow_to(None);
        let names: Vec<&str> = state.clusters.iter().map(|c| c.name.as_str()).collect();
        let text = format!("showing every cluster: {}", names.join(", "));
        state.say(super::Level::Info, text);
        return;
    }
    match state.cluster_by_name(arg) {
        Some(c) => {
            state.narrow_to(Some(c));
            state.say(
                super::Level::Info,
                format!("showing cluster {arg} only — :cluster * shows every cluster again"),
            );
        }
        None => {
            let names: Vec<&str> = state.clusters.iter().map(|c| c.name.as_str()).collect();
            let text = format!(
                "no cluster {arg} in this view — it has {} (:cluster * shows them all)",
                names.join(", ")
            );
            state.say(super::Level::Error, text);
        }
    }
}

/// The picker's entry that shows every cluster again (as `:cluster *`).
pub const ALL: &str = "*";

/// `:cluster` alone in a merged view: the picker lists `*` (every cluster) and the view's own
/// clusters, the cursor on what is shown now; Enter narrows as `:cluster NAME` does. Switching
/// to a cluster outside the view is a new session (`opsconsole --cluster NAME`).
pub fn open_narrow_picker(state: &mut State) {
    let mut clusters = vec![super::ClusterChoice {
        name: ALL.to_string(),
        readonly: false,
        accent: None,
    }];
    clusters.extend(state.clusters.iter().map(|c| super::ClusterChoice {
        name: c.name.clone(),
        readonly: state.readonly || c.readonly,
        accent: c.accent.clone(),
    }));
    let index = state.narrowed().map_or(0, |c| c.0 as usize + 1);
    state.popup = Some(super::Popup::PickCluster { clusters, index });
}

/// `:health`: every cluster's every source, with what is wrong, in one popup.
pub fn health_popup(state: &mut State) {
    let mut lines = Vec::new();
    for c in state.cluster_ids().collect::<Vec<_>>() {
        lines.push(format!("{}:", state.cluster_name(c)));
        for kind in SourceKind::ALL {
            let word = match state.health_in(c, kind) {
                None => "not reported".to_string(),
                Some(Health::NotConfigured) => "not configured".to_string(),
                Some(Health::Idle) => "idle (nothing on screen asks for it)".to_string(),
                Some(Health::Connecting) => "connecting".to_string(),
                Some(Health::Live) => "live".to_string(),
                Some(Health::Retrying { at, attempt, error }) => format!(
                    "retry in {}s (attempt {attempt}): {error}",
                    (*at - state.now).num_seconds().max(0)
                ),
                Some(Health::Failed(e)) => format!("failed: {e}"),
            };
            let stale = state
                .stale_in(c, kind)
                .map(|a| format!(" — data {}s old", a.num_seconds()))
                .unwrap_or_default();
            let line = format!("  {:<8} {word}{stale}", kind.label());
            lines.push(crate::model::text::sanitize(&line).into_owned());
        }
    }
    let n = state.clusters.len();
    state.popup = Some(super::Popup::Output(Box::new(super::run::Output {
        name: "health".into(),
        status: format!("{n} cluster{}", if n == 1 { "" } else { "s" }),
        success: true,
        truncated: false,
        lines,
        scroll: 0,
        search: None,
        matches: Vec::new(),
    })));
}

/// The clusters a change goes to (sorted, each once): a deregister's members', a silence's
/// checks', an unsilence's silence's; the session's own for what has no cluster of its own.
pub fn change_clusters(state: &State, change: &super::Change) -> Vec<ClusterId> {
    use super::Change;
    let mut out: Vec<ClusterId> = match change {
        Change::Deregister { target, .. } => vec![target.cluster],
        Change::DeregisterMany { targets, .. } => targets.iter().map(|t| t.cluster).collect(),
        Change::Restore { cluster, .. } => vec![*cluster],
        Change::Silence(r) | Change::Ack { request: r, .. } => vec![r.cluster],
        Change::SilenceMany(rs) => rs.iter().map(|r| r.cluster).collect(),
        Change::Unsilence { id, .. } | Change::Unack { id, .. } => {
            vec![silence_cluster(state, id)]
        }
        Change::Extend { silence, .. } => vec![silence_cluster(state, &silence.id)],
        Change::Run(_) => vec![state.cluster_id],
    };
    out.sort();
    out.dedup();
    out
}

/// The cluster whose checks backend holds silence `id` (a merged view keeps each cluster's
/// silences apart); the session's own cluster otherwise, or when no answer named it yet.
pub fn silence_cluster(state: &State, id: &str) -> ClusterId {
    if !state.merged() {
        return state.cluster_id;
    }
    state
        .merged_checks
        .by_cluster
        .iter()
        .find(|(_, s)| s.silences.iter().any(|x| x.id == id))
        .map(|(c, _)| *c)
        .or_else(|| state.merged_checks.created.get(id).copied())
        .unwrap_or(state.cluster_id)
}

/// [`silence_cluster`]'s name, as the audit attempt carries it (the core routes by it).
pub fn silence_cluster_name(state: &State, id: &str) -> String {
    state.cluster_name(silence_cluster(state, id)).to_string()
}

/// Cluster `c`'s check results: kept per cluster, each row tagged with its cluster, and the
/// pane shown their union (so a slow cluster's last answer stays beside a live one's).
pub fn checks_snapshot(
    state: &mut State,
    c: ClusterId,
    mut snapshot: ChecksSnapshot,
    at: DateTime<Utc>,
) -> Vec<Command> {
    for r in &mut snapshot.results {
        r.cluster = c;
    }
    state.merged_checks.by_cluster.insert(c, snapshot);
    let mut all = ChecksSnapshot::default();
    for s in state.merged_checks.by_cluster.values() {
        all.results.extend(s.results.iter().cloned());
        all.silences.extend(s.silences.iter().cloned());
        all.skipped += s.skipped;
        all.inhibit_rules.extend(s.inhibit_rules.iter().cloned());
    }
    state.checks.apply_snapshot(all, at);
    super::notify::on_poll(state, at).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::action::Action;
    use crate::model::{KvEntry, KvEvent, Msg, Mutation, Phase};
    use crate::state::{frame_drawn, handle_action, handle_key, update, Popup};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 3, 0, 0).unwrap()
    }

    fn at(ms: u64) -> std::time::Instant {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        *ORIGIN.get_or_init(std::time::Instant::now) + std::time::Duration::from_millis(ms)
    }

    fn kv(key: &str, rev: i64, lease: i64) -> KvEntry {
        KvEntry {
            key: key.into(),
            value: br#"{"addr":"10.0.0.1","port":80}"#.to_vec(),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
            lease,
        }
    }

    const PROD: ClusterId = ClusterId(0);
    const EU: ClusterId = ClusterId(1);

    /// A merged view of prod and prod-eu, both etcds live, each listed: the same key
    /// (`web/web-1`) in both, and one key of each cluster's own.
    fn merged() -> State {
        let mut s = State::new("prod", "/services/", "alice", t0());
        s.set_clusters(vec![
            ClusterInfo::named("prod"),
            ClusterInfo::named("prod-eu"),
        ]);
        for c in [PROD, EU] {
            update(
                &mut s,
                Msg::Health(SourceKind::Etcd.of(c), crate::model::Health::Live),
            );
        }
        let prod = vec![
            kv("/services/web/web-1", 11, 0x10),
            kv("/services/db/db-1", 12, 0),
        ];
        let eu = vec![
            kv("/services/web/web-1", 21, 0x10),
            kv("/services/web/web-9", 22, 0),
        ];
        update(
            &mut s,
            Msg::InCluster(PROD, Box::new(Msg::listing("/services/", 12, prod, t0()))),
        );
        update(
            &mut s,
            Msg::InCluster(EU, Box::new(Msg::listing("/services/", 22, eu, t0()))),
        );
        s
    }

    fn rows(s: &State) -> Vec<(ClusterId, String)> {
        (0..s.members.visible_len())
            .filter_map(|i| s.members.row(i))
            .map(|m| (m.cluster, m.key_text().to_string()))
            .collect()
    }

    #[test]
    fn each_clusters_listing_and_events_land_on_its_own_members() {
        let mut s = merged();
        assert!(s.merged());
        assert_eq!(
            rows(&s),
            vec![
                (PROD, "/services/db/db-1".to_string()),
                (PROD, "/services/web/web-1".to_string()),
                (EU, "/services/web/web-1".to_string()),
                (EU, "/services/web/web-9".to_string()),
            ],
            "the same key in two clusters is two members"
        );
        assert_eq!((s.members.count_in(PROD), s.members.count_in(EU)), (2, 2));
        // prod-eu relists (one key gone): prod's members stay as they are.
        let eu = vec![kv("/services/web/web-9", 22, 0)];
        update(
            &mut s,
            Msg::InCluster(EU, Box::new(Msg::listing("/services/", 23, eu, t0()))),
        );
        assert_eq!(s.members.count_in(PROD), 2);
        assert_eq!(s.members.count_in(EU), 1);
        // A delete in prod removes prod's key only.
        update(
            &mut s,
            Msg::InCluster(
                PROD,
                Box::new(Msg::MembersEvents {
                    events: vec![KvEvent::Delete {
                        key: b"/services/web/web-1".to_vec(),
                        mod_revision: 13,
                    }],
                    at: t0(),
                }),
            ),
        );
        assert_eq!(
            rows(&s),
            vec![
                (PROD, "/services/db/db-1".to_string()),
                (EU, "/services/web/web-9".to_string()),
            ]
        );
        // The per-cluster counts the titles show follow every change, the filter's too.
        assert_eq!((s.members.count_in(PROD), s.members.count_in(EU)), (1, 1));
        s.members
            .set_filter(crate::state::members::Filter::parse("web").unwrap());
        assert_eq!(
            (s.members.visible_in(PROD), s.members.visible_in(EU)),
            (0, 1)
        );
        assert_eq!(s.members.count_in(PROD), 1);
    }

    #[test]
    fn lease_ttls_and_lease_interest_stay_in_their_cluster() {
        let mut s = merged();
        crate::state::set_viewports(
            &mut s,
            crate::state::Viewports {
                members_rows: 10,
                ..Default::default()
            },
        );
        let cmds = update(
            &mut s,
            Msg::InCluster(
                EU,
                Box::new(Msg::LeaseTtls {
                    ttls: vec![(0x10, 7)],
                    at: t0(),
                }),
            ),
        );
        // The same lease id means another lease in the other cluster.
        assert_eq!(s.members.lease_remaining_in(EU, 0x10, t0()), Some(7));
        assert_eq!(s.members.lease_remaining_in(PROD, 0x10, t0()), None);
        let _ = cmds;
        // Each etcd is asked about its own leases only.
        s.watched_leases.clear();
        let cmds = super::super::lease_interest(&mut s);
        assert_eq!(
            cmds,
            vec![
                Command::InCluster(PROD, Box::new(Command::WatchLeases(vec![0x10]))),
                Command::InCluster(EU, Box::new(Command::WatchLeases(vec![0x10]))),
            ]
        );
    }

    /// Selects `key` of cluster `c`, opens the deregister dialog and confirms it.
    fn deregister(s: &mut State, c: ClusterId, key: &str) -> Vec<Command> {
        assert!(s.members.select_in(c, key.as_bytes()), "{key} in {c:?}");
        let mut out = handle_action(s, Action::Deregister);
        if !matches!(s.popup, Some(Popup::Confirm(_))) {
            return out;
        }
        frame_drawn(s, at(0), true);
        out.extend(handle_key(s, Action::Confirm, "y", at(300)));
        out
    }

    #[test]
    fn a_deregister_goes_to_its_members_cluster_and_obeys_its_readonly() {
        let mut s = merged();
        let cmds = deregister(&mut s, EU, "/services/web/web-1");
        let gated: Vec<_> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::Gated(g) => Some(g),
                _ => None,
            })
            .collect();
        assert_eq!(gated.len(), 1, "{cmds:?}");
        // The attempt names prod-eu: the core routes by it, and the audit line says where.
        assert_eq!(gated[0].attempt.cluster, "prod-eu");
        assert_eq!(
            gated[0].mutation,
            Mutation::Deregister {
                key: b"/services/web/web-1".to_vec(),
                mod_revision: 21,
                revoke_lease: None,
            }
        );

        // prod-eu read-only: refused there (audit line for prod-eu), prod still works.
        let mut s = merged();
        s.clusters[1].readonly = true;
        let cmds = deregister(&mut s, EU, "/services/web/web-9");
        assert!(s.popup.is_none(), "no dialog for a read-only cluster");
        let audits: Vec<_> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::Audit(l) => Some(l),
                _ => None,
            })
            .collect();
        assert!(
            !cmds.iter().any(|c| matches!(c, Command::Gated(_))),
            "{cmds:?}"
        );
        let [line] = audits.as_slice() else {
            panic!("{cmds:?}");
        };
        assert_eq!(line.phase, Phase::Refused);
        assert_eq!(line.cluster, "prod-eu");
        assert_eq!(line.result.as_deref(), Some("refused: readonly"));
        assert!(s
            .status
            .as_ref()
            .is_some_and(|m| m.text.contains("prod-eu is read-only")));
        let cmds = deregister(&mut s, PROD, "/services/db/db-1");
        assert!(
            cmds.iter()
                .any(|c| matches!(c, Command::Gated(g) if g.attempt.cluster == "prod")),
            "{cmds:?}"
        );
    }

    #[test]
    fn typed_confirmation_and_liveness_are_the_members_clusters() {
        let mut s = merged();
        s.clusters[1].guard.typed = true;
        assert!(s.members.select_in(EU, b"/services/web/web-9"));
        handle_action(&mut s, Action::Deregister);
        let Some(Popup::Confirm(c)) = &s.popup else {
            panic!("{:?}", s.popup);
        };
        assert!(c.typed.is_some(), "prod-eu asks for the name typed out");
        s.popup = None;
        assert!(s.members.select_in(PROD, b"/services/db/db-1"));
        handle_action(&mut s, Action::Deregister);
        let Some(Popup::Confirm(c)) = &s.popup else {
            panic!("{:?}", s.popup);
        };
        assert!(c.typed.is_none(), "prod does not");
        s.popup = None;

        // prod-eu's etcd down: its deregister is refused, prod's is not.
        update(
            &mut s,
            Msg::Health(
                SourceKind::Etcd.of(EU),
                crate::model::Health::Failed("down".into()),
            ),
        );
        let cmds = deregister(&mut s, EU, "/services/web/web-9");
        assert!(
            cmds.iter().any(|c| matches!(c, Command::Audit(l) if l.result.as_deref() == Some("refused: not live") && l.cluster == "prod-eu"))
                && !cmds.iter().any(|c| matches!(c, Command::Gated(_))),
            "{cmds:?}"
        );
        let cmds = deregister(&mut s, PROD, "/services/db/db-1");
        assert!(
            cmds.iter().any(|c| matches!(c, Command::Gated(_))),
            "{cmds:?}"
        );
    }

    #[test]
    fn check_results_are_kept_per_cluster_and_shown_together() {
        let mut s = merged();
        let row = |entity: &str| crate::model::CheckResult {
            entity: entity.into(),
            check: "http".into(),
            status: 2,
            ..Default::default()
        };
        let snap = |e: &str| ChecksSnapshot {
            results: vec![row(e)],
            ..Default::default()
        };
        update(
            &mut s,
            Msg::InCluster(
                PROD,
                Box::new(Msg::ChecksSnapshot {
                    snapshot: snap("a"),
                    at: t0(),
                }),
            ),
        );
        update(
            &mut s,
            Msg::InCluster(
                EU,
                Box::new(Msg::ChecksSnapshot {
                    snapshot: snap("b"),
                    at: t0(),
                }),
            ),
        );
        let mut got: Vec<(ClusterId, String)> = s
            .checks
            .results
            .iter()
            .map(|r| (r.cluster, r.entity.clone()))
            .collect();
        got.sort();
        assert_eq!(got, vec![(PROD, "a".into()), (EU, "b".into())]);
        // prod answers again: prod-eu's rows stay.
        update(
            &mut s,
            Msg::InCluster(
                PROD,
                Box::new(Msg::ChecksSnapshot {
                    snapshot: snap("c"),
                    at: t0(),
                }),
            ),
        );
        let mut got: Vec<String> = s.checks.results.iter().map(|r| r.entity.clone()).collect();
        got.sort();
        assert_eq!(got, vec!["b".to_string(), "c".to_string()]);
    }

    #[test]
    fn cluster_field_filter_and_narrowing_keep_one_clusters_rows() {
        let mut s = merged();
        let f = crate::state::members::Filter::parse("cluster:prod-eu web-").unwrap();
        s.members.set_filter(f);
        assert_eq!(
            rows(&s),
            vec![
                (EU, "/services/web/web-1".to_string()),
                (EU, "/services/web/web-9".to_string()),
            ]
        );
        // The token alone: that cluster, every row of it.
        let f = crate::state::members::Filter::parse("cluster:prod").unwrap();
        s.members.set_filter(f);
        assert_eq!(s.members.visible_len(), 2);
        assert!(rows(&s).iter().all(|(c, _)| *c == PROD));
        assert!(crate::state::members::Filter::parse("cluster: web").is_err());
        s.members.set_filter(None);

        // :cluster prod-eu narrows, :cluster * shows all again; an unknown name says so.
        crate::state::command_line::run(&mut s, "cluster prod-eu");
        assert_eq!(s.narrowed(), Some(EU));
        assert!(rows(&s).iter().all(|(c, _)| *c == EU));
        crate::state::command_line::run(&mut s, "cluster nowhere");
        assert_eq!(s.narrowed(), Some(EU));
        assert!(s
            .status
            .as_ref()
            .is_some_and(|m| m.text.contains("no cluster nowhere")));
        crate::state::command_line::run(&mut s, "cluster *");
        assert_eq!(s.narrowed(), None);
        assert_eq!(s.members.visible_len(), 4);
    }

    #[test]
    fn health_lists_every_clusters_sources() {
        let mut s = merged();
        update(
            &mut s,
            Msg::Health(
                SourceKind::Etcd.of(EU),
                crate::model::Health::Failed("connection refused".into()),
            ),
        );
        crate::state::command_line::run(&mut s, "health");
        let Some(Popup::Output(out)) = &s.popup else {
            panic!("{:?}", s.popup);
        };
        let text = out.lines.join("\n");
        assert!(text.contains("prod:\n  etcd     live"), "{text}");
        assert!(
            text.contains("prod-eu:\n  etcd     failed: connection refused"),
            "{text}"
        );
    }

    /// prod with a failing check on web-1, prod-eu with one on web-9, both backends live; the
    /// checks pane focused, nothing selected.
    fn with_checks() -> State {
        let mut s = merged();
        s.backends.checks = Some("sensu-go".into());
        failing_checks(&mut s, &[(PROD, "web-1"), (EU, "web-9")]);
        s
    }

    /// A live checks backend in each cluster with a failing `http` check on its entity; the checks
    /// pane focused.
    fn failing_checks(s: &mut State, on: &[(ClusterId, &str)]) {
        for &(c, entity) in on {
            update(
                s,
                Msg::Health(SourceKind::Checks.of(c), crate::model::Health::Live),
            );
            let snapshot = ChecksSnapshot {
                results: vec![crate::model::CheckResult {
                    entity: entity.into(),
                    check: "http".into(),
                    status: 2,
                    ..Default::default()
                }],
                ..Default::default()
            };
            update(
                s,
                Msg::InCluster(c, Box::new(Msg::ChecksSnapshot { snapshot, at: t0() })),
            );
        }
        s.focus = crate::state::Pane::Checks;
    }

    /// Selects `entity`'s check, opens the silence form, gives a reason, submits, confirms.
    fn silence(s: &mut State, entity: &str) -> Vec<Command> {
        handle_action(s, Action::Top);
        while s.checks.selected().is_some_and(|r| r.entity != entity) {
            handle_action(s, Action::Down);
        }
        let mut out = handle_action(s, Action::Silence);
        if !matches!(s.popup, Some(Popup::SilenceForm(_))) {
            return out;
        }
        for c in "why".chars() {
            handle_action(s, Action::InsertChar(c));
        }
        out.extend(handle_action(s, Action::Submit));
        frame_drawn(s, at(0), true);
        out.extend(handle_key(s, Action::Confirm, "y", at(300)));
        out
    }

    /// prod's checks in Alertmanager, prod-eu's in Sensu Go: what a silence may be (expire on
    /// resolve, no expiry) is up to the row's own cluster's backend and guard rails, not the
    /// backend started last.
    #[test]
    fn a_silence_form_follows_its_rows_own_checks_backend() {
        let mut s = merged();
        crate::state::backend_in(&mut s, SourceKind::Checks.of(PROD), "alertmanager");
        crate::state::backend_in(&mut s, SourceKind::Checks.of(EU), "sensu-go");
        s.backends.checks = Some("sensu-go".into());
        failing_checks(&mut s, &[(PROD, "web-1"), (EU, "web-9")]);
        assert_eq!(s.checks_kind_in(PROD), "alertmanager");
        assert_eq!(s.checks_kind_in(EU), "sensu-go");
        let form_for = |s: &mut State, entity: &str| {
            handle_action(s, Action::Top);
            while s.checks.selected().is_some_and(|r| r.entity != entity) {
                handle_action(s, Action::Down);
            }
            handle_action(s, Action::Silence);
            let Some(Popup::SilenceForm(form)) = s.popup.take() else {
                panic!("no form for {entity}: {:?}", s.status);
            };
            form
        };
        assert!(
            !form_for(&mut s, "web-1").supports_resolve,
            "Alertmanager's"
        );
        assert!(form_for(&mut s, "web-9").supports_resolve, "Sensu's");
        // Both marked: one form, resolve-expiry only if every backend has it.
        handle_action(&mut s, Action::Top);
        handle_action(&mut s, Action::ToggleMark);
        handle_action(&mut s, Action::Down);
        handle_action(&mut s, Action::ToggleMark);
        handle_action(&mut s, Action::Silence);
        let Some(Popup::SilenceForm(form)) = &s.popup else {
            panic!("no bulk form: {:?}", s.status);
        };
        assert!(form.bulk && !form.supports_resolve);
    }

    #[test]
    fn a_silence_goes_to_its_checks_cluster_and_obeys_its_readonly() {
        let mut s = with_checks();
        let cmds = silence(&mut s, "web-9");
        let attempt = cmds
            .iter()
            .find_map(|c| match c {
                Command::Gated(g) => Some(g),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no gated silence: {cmds:?} {:?}", s.status));
        assert_eq!(attempt.attempt.cluster, "prod-eu");
        let Mutation::Silence(req) = &attempt.mutation else {
            panic!("{attempt:?}");
        };
        assert_eq!(req.cluster, EU);

        let mut s = with_checks();
        s.clusters[1].readonly = true;
        let cmds = silence(&mut s, "web-9");
        assert!(s.popup.is_none(), "no form for a read-only cluster's check");
        assert!(
            cmds.iter().any(|c| matches!(c, Command::Audit(l) if l.cluster == "prod-eu" && l.result.as_deref() == Some("refused: readonly"))),
            "{cmds:?}"
        );
        let cmds = silence(&mut s, "web-1");
        assert!(
            cmds.iter()
                .any(|c| matches!(c, Command::Gated(g) if g.attempt.cluster == "prod")),
            "{cmds:?}"
        );
    }

    #[test]
    fn marks_and_groups_keep_each_rows_cluster() {
        // The same check on the same instance in both clusters: two rows.
        let mut s = merged();
        failing_checks(&mut s, &[(PROD, "web-1"), (EU, "web-1")]);
        handle_action(&mut s, Action::Top);
        let first = s.checks.selected().map(|r| r.cluster);
        handle_action(&mut s, Action::ToggleMark);
        assert_eq!(
            s.checks.marked_count(),
            1,
            "one row marked, not its namesake"
        );
        assert_eq!(
            s.checks
                .marked_rows()
                .iter()
                .map(|r| r.cluster)
                .collect::<Vec<_>>(),
            vec![first.expect("a row")]
        );
        s.checks.clear_marks();

        // prod-eu's web-1 selected: the checks pane shows prod-eu's web-1 checks only.
        s.focus = crate::state::Pane::Members;
        assert!(s.members.select_in(EU, b"/services/web/web-1"));
        handle_action(&mut s, Action::Down);
        handle_action(&mut s, Action::Up);
        assert_eq!(
            s.checks
                .visible_rows(0, 10)
                .map(|r| r.cluster)
                .collect::<Vec<_>>(),
            vec![EU]
        );
        s.members.clear_selection();
        handle_action(&mut s, Action::Back);
        s.focus = crate::state::Pane::Checks;

        // Grouped by check: both rows, each with its own cluster's web-1 as the member.
        let groups = crate::state::grouping::groups(&s, &crate::state::grouping::GroupBy::Check);
        assert_eq!(groups.len(), 1);
        let mut members: Vec<ClusterId> = groups[0].members.iter().map(|(c, _)| *c).collect();
        members.sort();
        assert_eq!(members, vec![PROD, EU]);
        crate::state::grouping::scope_to(&mut s, &groups[0]);
        assert!(s.members.is_marked_in(EU, b"/services/web/web-1"));
        assert!(s.members.is_marked_in(PROD, b"/services/web/web-1"));
        assert!(!s.members.is_marked_in(EU, b"/services/web/web-9"));

        // :group cluster: one group per cluster.
        let by = crate::state::grouping::GroupBy::parse("cluster");
        let groups = crate::state::grouping::groups(&s, &by);
        let mut labels: Vec<&str> = groups.iter().map(|g| g.label.as_str()).collect();
        labels.sort();
        assert_eq!(
            labels,
            vec![
                "1/2 with cluster=prod fail",
                "1/2 with cluster=prod-eu fail"
            ]
        );
    }

    #[test]
    fn a_members_detail_and_history_are_its_own_clusters() {
        let mut s = merged();
        assert!(s.members.select_in(EU, b"/services/web/web-1"));
        let cmds = handle_action(&mut s, Action::Detail);
        let Some(Popup::MemberDetail { cluster, .. }) = &s.popup else {
            panic!("{:?}", s.popup);
        };
        assert_eq!(*cluster, EU);
        assert!(
            cmds.contains(&Command::InCluster(
                EU,
                Box::new(Command::FetchHistory {
                    key: b"/services/web/web-1".to_vec(),
                    mod_revision: 21,
                })
            )),
            "{cmds:?}"
        );
        // prod's history of the same key is not this member's.
        let history = |c| {
            Msg::InCluster(
                c,
                Box::new(Msg::History {
                    key: b"/services/web/web-1".to_vec(),
                    revisions: Ok(Vec::new()),
                }),
            )
        };
        update(&mut s, history(PROD));
        assert!(matches!(
            s.popup,
            Some(Popup::MemberDetail { history: None, .. })
        ));
        update(&mut s, history(EU));
        assert!(matches!(
            s.popup,
            Some(Popup::MemberDetail {
                history: Some(Ok(_)),
                ..
            })
        ));
    }

    fn log(host: &str, msg: &str) -> crate::model::LogLine {
        crate::model::LogLine {
            time: Some(t0()),
            host: host.into(),
            program: "app".into(),
            severity: Some(6),
            message: msg.into(),
            ..Default::default()
        }
    }

    /// The shown log lines as (cluster, host, message).
    fn log_rows(s: &State) -> Vec<(ClusterId, String, String)> {
        s.logs
            .visible_rows()
            .map(|r| (r.cluster, r.line.host.to_string(), r.line.message.clone()))
            .collect()
    }

    /// prod and prod-eu each with a logs source: web-1 logs in both, web-9 in prod-eu only.
    /// Ten member rows and 40-column sparklines: what the metrics tests draw.
    fn metrics_viewports(s: &mut State) -> Vec<Command> {
        crate::state::set_viewports(
            s,
            crate::state::Viewports {
                members_rows: 10,
                sparkline_width: 40,
                ..Default::default()
            },
        )
    }

    fn with_logs() -> State {
        let mut s = merged();
        s.backends.logs = Some("redis".into());
        crate::state::set_viewports(
            &mut s,
            crate::state::Viewports {
                members_rows: 10,
                logs_rows: 10,
                ..Default::default()
            },
        );
        update(
            &mut s,
            Msg::InCluster(
                PROD,
                Box::new(Msg::LogLines(vec![log("web-1", "prod says")])),
            ),
        );
        update(
            &mut s,
            Msg::InCluster(
                EU,
                Box::new(Msg::LogLines(vec![
                    log("web-1", "eu says"),
                    log("web-9", "nine says"),
                ])),
            ),
        );
        s
    }

    /// A group spanning clusters scopes each cluster to its own members: prod's web-1 in the
    /// group does not bring in prod-eu's web-1, and each cluster's logs source is told only
    /// its own members' names.
    #[test]
    fn a_group_scope_keeps_each_cluster_to_its_own_members() {
        let mut s = with_logs();
        failing_checks(&mut s, &[(PROD, "web-1"), (EU, "web-1"), (EU, "web-9")]);
        s.focus = crate::state::Pane::Members;
        s.members.clear_selection();
        s.group_scope = Some(vec![
            (PROD, b"/services/web/web-1".to_vec().into()),
            (EU, b"/services/web/web-9".to_vec().into()),
        ]);
        let cmds = update(&mut s, Msg::LogLines(Vec::new()));
        assert_eq!(
            log_rows(&s),
            vec![
                (PROD, "web-1".into(), "prod says".into()),
                (EU, "web-9".into(), "nine says".into()),
            ],
            "prod-eu's web-1 is not in the group"
        );
        let checks: Vec<(ClusterId, String)> = (0..s.checks.visible_len())
            .filter_map(|i| s.checks.row(i))
            .map(|r| (r.cluster, r.entity.clone()))
            .collect();
        assert_eq!(checks.len(), 2, "{checks:?}");
        assert!(checks.contains(&(PROD, "web-1".into())) && checks.contains(&(EU, "web-9".into())));
        let told = |c: ClusterId| {
            cmds.iter().find_map(|cmd| match (c, cmd) {
                (PROD, Command::LogsScope(n)) => Some(n.clone()),
                (_, Command::InCluster(k, inner)) if *k == c => match &**inner {
                    Command::LogsScope(n) => Some(n.clone()),
                    _ => None,
                },
                _ => None,
            })
        };
        let prod = told(PROD).flatten().expect("prod told its names");
        let eu = told(EU).flatten().expect("prod-eu told its names");
        assert!(prod.contains(&"web-1".to_string()) && !prod.contains(&"web-9".to_string()));
        assert!(eu.contains(&"web-9".to_string()) && !eu.contains(&"web-1".to_string()));
    }

    #[test]
    fn each_clusters_log_lines_carry_their_cluster() {
        let mut s = with_logs();
        assert_eq!(
            log_rows(&s),
            vec![
                (PROD, "web-1".into(), "prod says".into()),
                (EU, "web-1".into(), "eu says".into()),
                (EU, "web-9".into(), "nine says".into()),
            ]
        );
        // Each cluster's logs source is credited with its own answer.
        s.health
            .insert(SourceKind::Logs.of(EU), Health::Failed("down".into()));
        s.health
            .insert(SourceKind::Logs.of(PROD), Health::Failed("down".into()));
        assert!(s.stale_in(EU, SourceKind::Logs).is_some());

        // `cluster:NAME` first keeps that cluster's lines; the regex still applies.
        let f = crate::state::members::Filter::parse("cluster:prod-eu says").unwrap();
        s.logs.set_filter(f);
        let shown: Vec<ClusterId> = log_rows(&s).iter().map(|r| r.0).collect();
        assert_eq!(shown, vec![EU, EU]);
        let f = crate::state::members::Filter::parse("cluster:prod").unwrap();
        s.logs.set_filter(f);
        assert_eq!(
            log_rows(&s),
            vec![(PROD, "web-1".into(), "prod says".into())]
        );
        s.logs.set_filter(None);

        // `:cluster prod-eu` narrows the logs too; `:cluster *` shows every cluster's again.
        crate::state::command_line::run(&mut s, "cluster prod-eu");
        assert!(log_rows(&s).iter().all(|r| r.0 == EU));
        // A line arriving from prod meanwhile is kept, not shown.
        update(
            &mut s,
            Msg::InCluster(PROD, Box::new(Msg::LogLines(vec![log("db-1", "later")]))),
        );
        assert!(log_rows(&s).iter().all(|r| r.0 == EU));
        crate::state::command_line::run(&mut s, "cluster *");
        assert_eq!(log_rows(&s).len(), 4);
    }

    #[test]
    fn a_members_log_scope_is_its_clusters() {
        let mut s = with_logs();
        // prod-eu's web-1 selected: prod-eu's logs source is told, and only its web-1 lines show
        // (prod's web-1 is another host).
        assert!(s.members.select_in(EU, b"/services/web/web-1"));
        let cmds = update(&mut s, Msg::LogLines(Vec::new()));
        assert_eq!(log_rows(&s), vec![(EU, "web-1".into(), "eu says".into())]);
        let scopes: Vec<&Command> = cmds
            .iter()
            .filter(|c| {
                matches!(c, Command::LogsScope(_))
                    || matches!(c, Command::InCluster(_, i) if matches!(**i, Command::LogsScope(_)))
            })
            .collect();
        let [Command::InCluster(c, inner)] = scopes.as_slice() else {
            panic!("one scope, to prod-eu: {cmds:?}");
        };
        assert_eq!(*c, EU);
        assert!(
            matches!(&**inner, Command::LogsScope(Some(names)) if names.contains(&"web-1".to_string()))
        );

        // Then prod's db-1: prod is told its scope, prod-eu that its scope is over.
        assert!(s.members.select_in(PROD, b"/services/db/db-1"));
        let cmds = update(&mut s, Msg::LogLines(Vec::new()));
        assert!(
            cmds.contains(&Command::InCluster(EU, Box::new(Command::LogsScope(None)))),
            "{cmds:?}"
        );
        assert!(
            cmds.iter().any(
                |c| matches!(c, Command::LogsScope(Some(n)) if n.contains(&"db-1".to_string()))
            ),
            "prod (the first cluster) gets its scope unwrapped: {cmds:?}"
        );

        // Esc: every cluster's source unscoped, every line shown.
        s.members.clear_selection();
        let cmds = update(&mut s, Msg::LogLines(Vec::new()));
        assert!(cmds.contains(&Command::LogsScope(None)), "{cmds:?}");
        assert!(
            cmds.contains(&Command::InCluster(EU, Box::new(Command::LogsScope(None)))),
            "{cmds:?}"
        );
        assert_eq!(log_rows(&s).len(), 3);
    }

    #[test]
    fn unscoped_metrics_say_whose_they_are_and_follow_the_narrowing() {
        let mut s = merged();
        s.backends.metrics = Some("graphite".into());
        let cmds = metrics_viewports(&mut s);
        let queries = |cmds: &[Command]| -> Vec<(ClusterId, String)> {
            cmds.iter()
                .filter_map(|c| match c {
                    Command::InCluster(c, inner) => match &**inner {
                        Command::MetricsQuery(q) => Some((*c, q.label.clone())),
                        _ => None,
                    },
                    Command::MetricsQuery(q) => Some((PROD, q.label.clone())),
                    _ => None,
                })
                .collect()
        };
        assert_eq!(queries(&cmds), vec![(PROD, "cluster prod".to_string())]);
        assert_eq!(
            crate::state::metrics::unscoped_title(&s),
            (
                "prod only".to_string(),
                Some("· 1 of 2 clusters".to_string())
            )
        );
        // Narrowed to prod-eu: its own metrics, said so.
        narrow_by_name(&mut s, "prod-eu");
        let cmds = update(&mut s, Msg::LogLines(Vec::new()));
        assert_eq!(queries(&cmds), vec![(EU, "cluster prod-eu".to_string())]);
        assert_eq!(crate::state::metrics::unscoped_title(&s).0, "prod-eu only");
        // The cluster left behind stops polling: nothing on screen shows its series.
        assert!(cmds.contains(&Command::MetricsIdle), "{cmds:?}");
        assert!(
            !cmds.contains(&Command::InCluster(EU, Box::new(Command::MetricsIdle))),
            "{cmds:?}"
        );
        // The pane's trouble line is that of the source whose series it shows: prod-eu's.
        let retrying = Health::Retrying {
            at: s.now,
            attempt: 1,
            error: "prometheus: refused".into(),
        };
        update(
            &mut s,
            Msg::InCluster(
                EU,
                Box::new(Msg::Health(SourceKind::Metrics.of(EU), retrying.clone())),
            ),
        );
        update(
            &mut s,
            Msg::Health(SourceKind::Metrics.of(PROD), Health::Idle),
        );
        assert_eq!(crate::state::metrics::shown_health(&s), Some(&retrying));
        // And back: prod is asked again, prod-eu waits.
        narrow_by_name(&mut s, "*");
        let cmds = update(&mut s, Msg::LogLines(Vec::new()));
        assert_eq!(queries(&cmds), vec![(PROD, "cluster prod".to_string())]);
        assert!(
            cmds.contains(&Command::InCluster(EU, Box::new(Command::MetricsIdle))),
            "{cmds:?}"
        );
        assert!(!cmds.contains(&Command::MetricsIdle), "{cmds:?}");

        // Only prod-eu has a metrics backend: unnarrowed, the pane shows prod-eu's series, not
        // an empty pane titled `prod only`.
        let mut s = merged();
        s.backends.metrics = Some("graphite".into());
        crate::state::backend_in(&mut s, SourceKind::Metrics.of(EU), "graphite");
        assert_eq!(crate::state::metrics::unscoped_title(&s).0, "prod-eu only");
        let cmds = metrics_viewports(&mut s);
        assert_eq!(queries(&cmds), vec![(EU, "cluster prod-eu".to_string())]);
    }

    #[test]
    fn a_members_metrics_come_from_its_clusters_backend() {
        let mut s = merged();
        s.backends.metrics = Some("graphite".into());
        metrics_viewports(&mut s);
        // web-9 is prod-eu's only: found there (not looked up in prod), asked of prod-eu.
        assert!(s.members.select_in(EU, b"/services/web/web-9"));
        let cmds = update(&mut s, Msg::LogLines(Vec::new()));
        let asked: Vec<(ClusterId, crate::model::MetricsQuery)> = cmds
            .iter()
            .filter_map(|c| match c {
                Command::InCluster(c, inner) => match &**inner {
                    Command::MetricsQuery(q) => Some((*c, q.clone())),
                    _ => None,
                },
                Command::MetricsQuery(q) => Some((PROD, q.clone())),
                _ => None,
            })
            .collect();
        let [(c, q)] = asked.as_slice() else {
            panic!("{cmds:?}");
        };
        assert_eq!(*c, EU);
        assert_eq!(
            q.vars
                .as_ref()
                .and_then(|v| v.get("instance"))
                .map(String::as_str),
            Some("web-9")
        );
        assert_eq!(q.label, "web-9@prod-eu");

        // The same key in prod is another query, to prod; prod-eu's late answer is dropped.
        assert!(s.members.select_in(PROD, b"/services/web/web-1"));
        let cmds = update(&mut s, Msg::LogLines(Vec::new()));
        assert!(
            cmds.iter()
                .any(|c| matches!(c, Command::MetricsQuery(q) if q.label == "web-1@prod")),
            "{cmds:?}"
        );
        let late = crate::model::MetricsResult {
            query: q.clone(),
            series: Vec::new(),
        };
        update(
            &mut s,
            Msg::InCluster(
                EU,
                Box::new(Msg::Metrics {
                    result: late,
                    at: t0(),
                }),
            ),
        );
        assert!(s.metrics.result.is_none(), "an answer for another member");
    }

    #[test]
    fn the_cluster_picker_narrows_within_the_view() {
        let mut s = merged();
        let cmds = crate::state::command_line::run(&mut s, "cluster");
        assert!(cmds.is_empty(), "nothing to load: {cmds:?}");
        let Some(Popup::PickCluster { clusters, index }) = &s.popup else {
            panic!("{:?}", s.popup);
        };
        let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec![ALL, "prod", "prod-eu"]);
        assert_eq!(*index, 0, "every cluster shown now");
        handle_action(&mut s, Action::Down);
        handle_action(&mut s, Action::Down);
        let cmds = handle_action(&mut s, Action::Select);
        assert!(
            !cmds.iter().any(|c| matches!(c, Command::SwitchCluster(_))),
            "{cmds:?}"
        );
        assert_eq!(s.narrowed(), Some(EU));
        assert!(rows(&s).iter().all(|(c, _)| *c == EU));
        // Open again: the cursor on prod-eu; `*` shows every cluster again.
        crate::state::command_line::run(&mut s, "cluster");
        let Some(Popup::PickCluster { index, .. }) = &s.popup else {
            panic!("{:?}", s.popup);
        };
        assert_eq!(*index, 2);
        handle_action(&mut s, Action::Top);
        handle_action(&mut s, Action::Select);
        assert_eq!(s.narrowed(), None);
        assert_eq!(s.members.visible_len(), 4);
    }

    #[test]
    fn a_silence_removed_before_the_next_poll_goes_to_its_cluster() {
        let mut s = with_checks();
        let cmds = silence(&mut s, "web-9");
        let gated = cmds
            .iter()
            .find_map(|c| match c {
                Command::Gated(g) => Some(g.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{cmds:?}"));
        let Mutation::Silence(request) = gated.mutation.clone() else {
            panic!("{gated:?}");
        };
        let silence = crate::model::Silence::requested(
            "sil-9".into(),
            &request,
            crate::model::SilenceTarget::Matchers(Vec::new()),
            t0(),
        );
        update(
            &mut s,
            Msg::InCluster(
                EU,
                Box::new(Msg::SilenceDone {
                    outcome: crate::model::SilenceOutcome::Created {
                        silence: Box::new(silence),
                        request,
                    },
                    audit_id: gated.attempt.id.clone(),
                }),
            ),
        );
        // No poll listed it yet: still prod-eu's.
        assert_eq!(silence_cluster(&s, "sil-9"), EU);
        assert_eq!(silence_cluster_name(&s, "sil-9"), "prod-eu");
        assert_eq!(silence_cluster(&s, "unknown"), PROD);
    }

    #[test]
    fn flaps_are_counted_per_cluster() {
        use crate::state::pane::PaneState;
        let mut s = merged();
        // prod-eu's web-1 leaves and comes back three times; prod's web-1 stays.
        for i in 0..3 {
            let events = vec![
                KvEvent::Delete {
                    key: b"/services/web/web-1".to_vec(),
                    mod_revision: 30 + 2 * i,
                },
                KvEvent::Put(kv("/services/web/web-1", 31 + 2 * i, 0x10)),
            ];
            update(
                &mut s,
                Msg::InCluster(EU, Box::new(Msg::MembersEvents { events, at: t0() })),
            );
        }
        assert_eq!(
            s.churn.flapping_in(EU, b"/services/web/web-1", t0()),
            Some(3)
        );
        assert_eq!(
            s.churn.flapping_in(PROD, b"/services/web/web-1", t0()),
            None
        );
        let events: Vec<(ClusterId, String)> = s
            .churn
            .events
            .iter()
            .map(|e| (e.cluster, e.change.label()))
            .collect();
        assert!(events.iter().all(|(c, _)| *c == EU), "{events:?}");
        // Sorted by flaps: prod-eu's web-1 first, prod's (steady) not with it.
        s.members.sort_by("flaps").expect("flaps is a sort column");
        assert_eq!(
            rows(&s).first(),
            Some(&(EU, "/services/web/web-1".to_string()))
        );
    }
}

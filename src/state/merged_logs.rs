//! The logs pane's time jump (`t`, `:at`) and histogram in a merged view: asked of every cluster
//! whose logs backend can answer for the past (Elasticsearch and Loki re-read ±5 minutes and
//! aggregate server-side), each answer's lines tagged with its own cluster. A cluster on Redis
//! holds only what it streamed: it is named as answering from the buffer only.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::members::in_cluster;
use super::{Level, State};
use crate::model::histogram::{top_n, HistAnswer, HistQuery};
use crate::model::{ClusterId, Command, LogLine, SourceKind};

/// Each cluster's answer to one histogram query (counts, or why not).
pub type Answers = BTreeMap<ClusterId, Result<HistAnswer, String>>;

/// What a merged view waits for from its clusters' logs backends.
#[derive(Debug, Default)]
pub struct MergedLogs {
    /// The clusters whose re-read around the pending jump has not come back yet.
    around: BTreeSet<ClusterId>,
    /// The histogram query asked of several clusters, and each one's answer so far.
    hist: Option<(HistQuery, Answers)>,
}

/// Whether a logs backend of `kind` can read the past again (and aggregate).
pub fn rereads(kind: &str) -> bool {
    matches!(kind, "elasticsearch" | "loki")
}

/// Each cluster's logs backend kind, in cluster order (a merged view; empty for one cluster).
fn kinds(state: &State) -> Vec<(ClusterId, &str)> {
    state
        .cluster_ids()
        .filter_map(|c| {
            let k = state.backends.by_source.get(&SourceKind::Logs.of(c))?;
            Some((c, k.as_str()))
        })
        .collect()
}

/// Whether this view's time jump is a merged one (several clusters, their kinds known).
fn applies(state: &State) -> bool {
    state.merged() && !kinds(state).is_empty()
}

/// Whether any cluster's logs backend re-reads around a jump (the session's own otherwise).
pub fn any_rereads(state: &State) -> bool {
    if applies(state) {
        kinds(state).iter().any(|(_, k)| rereads(k))
    } else {
        state.backends.logs.as_deref().is_some_and(rereads)
    }
}

/// A time jump to `at`: the re-read commands (one per cluster that can, in a merged view), and
/// what to say of the clusters that cannot.
pub fn around(state: &mut State, at: DateTime<Utc>) -> (Vec<Command>, Option<String>) {
    if !applies(state) {
        return (vec![Command::LogsAround(at)], None);
    }
    let all = kinds(state);
    let asked: BTreeSet<ClusterId> = all
        .iter()
        .filter(|(_, k)| rereads(k))
        .map(|(c, _)| *c)
        .collect();
    let buffered: Vec<String> = all
        .iter()
        .filter(|(_, k)| !rereads(k))
        .map(|(c, k)| format!("{} ({k})", state.cluster_name(*c)))
        .collect();
    let note =
        (!buffered.is_empty()).then(|| format!("{}: buffered lines only", buffered.join(", ")));
    let cmds = asked
        .iter()
        .map(|c| in_cluster(*c, Command::LogsAround(at)))
        .collect();
    state.merged_logs.around = asked;
    (cmds, note)
}

/// Cluster `c`'s lines read again around `at`: tagged with `c`; the cursor goes to the first
/// line at or after `at` of everything buffered so far, again at each cluster's answer.
pub fn around_answered(
    state: &mut State,
    c: ClusterId,
    at: DateTime<Utc>,
    lines: Result<Vec<LogLine>, String>,
) {
    let now = state.now;
    state.answered_in(c, SourceKind::Logs, now);
    let waiting = state.logs.pending_jump == Some(at) && state.merged_logs.around.remove(&c);
    let name = state.cluster_name(c).to_string();
    // The jump is not over until the last cluster answered.
    let still = !state.merged_logs.around.is_empty();
    match lines {
        Ok(lines) => {
            let n = lines.len();
            // Inserted without moving (no jump pending for it); the cursor moves below.
            state.logs.pending_jump = None;
            state.logs.insert_around_in(c, at, lines);
            if !waiting {
                return;
            }
            let landed = state.logs.jump_to_time(at);
            let text = match landed {
                Some(_) => {
                    format!("logs in {name}: {n} lines read again around the time asked for")
                }
                None => format!(
                    "logs in {name}: no line at or after that time ({n} read again around it)"
                ),
            };
            state.say(Level::Info, text);
        }
        Err(e) => {
            if !waiting {
                return;
            }
            state.logs.pending_jump = None;
            state.say(
                Level::Warn,
                format!("logs in {name}: reading around that time failed: {e}"),
            );
        }
    }
    if still {
        state.logs.pending_jump = Some(at);
    }
}

/// Whether the histogram is counted by the servers: every cluster's logs backend aggregates
/// (with a Redis among them the ring's own counts are the only ones alike for all).
pub fn hist_by_servers(state: &State) -> bool {
    if applies(state) {
        kinds(state).iter().all(|(_, k)| rereads(k))
    } else {
        state.backends.logs.as_deref().is_some_and(rereads)
    }
}

/// The histogram `query`, asked of every cluster (a merged view) or of the session's backend.
pub fn hist_ask(state: &mut State, query: HistQuery) -> Vec<Command> {
    if !applies(state) {
        return vec![Command::LogsHistogram(query)];
    }
    let clusters: Vec<ClusterId> = kinds(state).into_iter().map(|(c, _)| c).collect();
    state.merged_logs.hist = Some((query.clone(), BTreeMap::new()));
    clusters
        .into_iter()
        .map(|c| in_cluster(c, Command::LogsHistogram(query.clone())))
        .collect()
}

/// Cluster `c`'s histogram answer: the pane shows the sum of the answers so far, and names the
/// clusters that failed or are still counting.
pub fn hist_answered(
    state: &mut State,
    c: ClusterId,
    query: HistQuery,
    result: Result<HistAnswer, String>,
) {
    let now = state.now;
    state.answered_in(c, SourceKind::Logs, now);
    let names: Vec<(ClusterId, String)> = kinds(state)
        .into_iter()
        .map(|(c, _)| (c, state.cluster_name(c).to_string()))
        .collect();
    let Some((asked, answers)) = state.merged_logs.hist.as_mut() else {
        return;
    };
    if *asked != query {
        return; // an answer to a query left behind
    }
    answers.insert(c, result);
    let merged = merge(&query, answers, &names);
    super::histogram::answered(state, query, merged);
}

/// The sum of the clusters' answers (counts per bucket and class, top hosts and programs), with
/// a notice naming the clusters missing from it; an error when none answered yet with counts.
pub fn merge(
    query: &HistQuery,
    answers: &Answers,
    names: &[(ClusterId, String)],
) -> Result<HistAnswer, String> {
    let n = query.buckets.n;
    let mut counts = vec![[0u64; 4]; n];
    let mut hosts: BTreeMap<String, u64> = BTreeMap::new();
    let mut programs: BTreeMap<String, u64> = BTreeMap::new();
    let (mut approximate, mut notices, mut any) = (false, Vec::new(), false);
    for (c, name) in names {
        match answers.get(c) {
            Some(Ok(a)) => {
                any = true;
                for (sum, one) in counts.iter_mut().zip(&a.counts) {
                    for (s, o) in sum.iter_mut().zip(one) {
                        *s += o;
                    }
                }
                for t in &a.hosts {
                    *hosts.entry(t.name.clone()).or_default() += t.count;
                }
                for t in &a.programs {
                    *programs.entry(t.name.clone()).or_default() += t.count;
                }
                approximate |= a.approximate;
                if let Some(note) = &a.notice {
                    notices.push(format!("{name}: {note}"));
                }
            }
            Some(Err(e)) => notices.push(format!("{name} not counted: {e}")),
            None => notices.push(format!("{name} counting…")),
        }
    }
    let notice = (!notices.is_empty()).then(|| notices.join("; "));
    if !any {
        return Err(notice.unwrap_or_else(|| "no cluster answered".into()));
    }
    // As many top terms as the widest answer gave (the servers' own cut).
    let keep = |m: &BTreeMap<String, u64>, of: fn(&HistAnswer) -> usize| {
        let n = answers
            .values()
            .filter_map(|a| a.as_ref().ok())
            .map(of)
            .max()
            .unwrap_or(0);
        top_n(m.iter().map(|(k, v)| (k.as_str(), *v)), n)
    };
    Ok(HistAnswer {
        counts,
        hosts: keep(&hosts, |a| a.hosts.len()),
        programs: keep(&programs, |a| a.programs.len()),
        approximate: approximate || answers.len() > 1,
        notice,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::model::histogram::{Buckets, Term};
    use crate::model::Msg;
    use crate::state::merged::ClusterInfo;
    use crate::state::update;

    const PROD: ClusterId = ClusterId(0);
    const EU: ClusterId = ClusterId(1);

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 4, 0, 0).unwrap()
    }

    fn log(host: &str, at: DateTime<Utc>) -> LogLine {
        LogLine {
            time: Some(at),
            host: host.into(),
            program: "app".into(),
            severity: Some(6),
            message: "hello".into(),
            ..Default::default()
        }
    }

    /// prod and prod-eu with the logs backends of `kinds`.
    fn merged(kinds: [&str; 2]) -> State {
        let mut s = State::new("prod", "/services/", "alice", t0());
        s.set_clusters(vec![
            ClusterInfo::named("prod"),
            ClusterInfo::named("prod-eu"),
        ]);
        crate::state::backend_started(&mut s, SourceKind::Logs.of(EU), kinds[1], None);
        for (c, k) in [(PROD, kinds[0]), (EU, kinds[1])] {
            crate::state::backend_in(&mut s, SourceKind::Logs.of(c), k);
        }
        crate::state::set_viewports(
            &mut s,
            crate::state::Viewports {
                logs_rows: 10,
                ..Default::default()
            },
        );
        s
    }

    #[test]
    fn a_time_jump_asks_every_cluster_that_can_reread_and_names_the_others() {
        let at = t0() - Duration::minutes(30);
        let mut s = merged(["loki", "elasticsearch"]);
        let (cmds, note) = around(&mut s, at);
        assert_eq!(
            cmds,
            vec![
                Command::LogsAround(at),
                Command::InCluster(EU, Box::new(Command::LogsAround(at))),
            ]
        );
        assert_eq!(note, None);
        let mut s = merged(["loki", "redis"]);
        let (cmds, note) = around(&mut s, at);
        assert_eq!(cmds, vec![Command::LogsAround(at)]);
        assert_eq!(
            note.as_deref(),
            Some("prod-eu (redis): buffered lines only")
        );
        // Redis in the first cluster only: the view still re-reads (the last one started is
        // not what decides).
        let s = merged(["redis", "loki"]);
        assert!(any_rereads(&s));
        assert!(!hist_by_servers(&s), "a Redis among them: the ring counts");
        assert!(hist_by_servers(&merged(["loki", "elasticsearch"])));
    }

    /// A cluster whose logs backend is discovered later (or restarted) must not empty the pane
    /// of the lines another cluster's backend already delivered.
    #[test]
    fn a_backend_started_for_one_cluster_keeps_the_other_clusters_lines() {
        let mut s = merged(["redis", "redis"]);
        update(
            &mut s,
            Msg::InCluster(PROD, Box::new(Msg::LogLines(vec![log("web-1", t0())]))),
        );
        assert_eq!(s.logs.visible_rows().count(), 1);
        crate::state::backend_started(&mut s, SourceKind::Logs.of(EU), "loki", None);
        assert_eq!(s.logs.visible_rows().count(), 1, "prod's line was wiped");
        assert_eq!(
            s.health.get(&SourceKind::Logs.of(EU)),
            Some(&crate::model::Health::Connecting)
        );
        // A single cluster's new backend replaces the old one's lines, as before.
        let mut single = State::new("prod", "/services/", "alice", t0());
        update(&mut single, Msg::LogLines(vec![log("web-1", t0())]));
        crate::state::backend_in(&mut single, SourceKind::Logs.of(PROD), "redis");
        crate::state::backend_started(&mut single, SourceKind::Logs.of(PROD), "loki", None);
        assert_eq!(single.logs.visible_rows().count(), 0);
    }

    /// The same host and program in two clusters are two processes: a trace's lines from one
    /// do not join the other's record, and each cluster's profile decides its own summaries.
    #[test]
    fn records_and_summaries_follow_each_lines_own_cluster() {
        let mut s = merged(["redis", "redis"]);
        s.logs.set_line_rules(
            EU,
            crate::state::logs::FieldChoice {
                shown: vec!["user".into()],
                hidden: Vec::new(),
            },
            None,
        );
        let mut head = log("web-1", t0());
        head.message = "java.lang.NullPointerException".into();
        let mut tail = log("web-1", t0());
        tail.message = "    at com.example.Main".into();
        update(
            &mut s,
            Msg::InCluster(PROD, Box::new(Msg::LogLines(vec![head]))),
        );
        update(
            &mut s,
            Msg::InCluster(EU, Box::new(Msg::LogLines(vec![tail.clone()]))),
        );
        assert_eq!(
            s.logs.visible_rows().count(),
            2,
            "prod-eu's line joined prod's record"
        );
        update(
            &mut s,
            Msg::InCluster(PROD, Box::new(Msg::LogLines(vec![tail]))),
        );
        assert_eq!(
            s.logs.visible_rows().count(),
            2,
            "prod's own tail joins prod's record"
        );
        assert_eq!(s.logs.fields_in(EU).shown, vec!["user".to_string()]);
        assert!(s.logs.fields_in(PROD).shown.is_empty());
    }

    #[test]
    fn lines_read_again_are_tagged_with_their_own_cluster() {
        let at = t0() - Duration::minutes(30);
        let mut s = merged(["loki", "loki"]);
        s.logs.pending_jump = Some(at);
        around(&mut s, at);
        let eu = vec![log("web-9", at + Duration::seconds(5))];
        update(
            &mut s,
            Msg::InCluster(EU, Box::new(Msg::LogsAround { at, lines: Ok(eu) })),
        );
        assert_eq!(s.logs.pending_jump, Some(at), "prod has not answered yet");
        let prod = vec![log("web-1", at + Duration::seconds(1))];
        update(
            &mut s,
            Msg::InCluster(
                PROD,
                Box::new(Msg::LogsAround {
                    at,
                    lines: Ok(prod),
                }),
            ),
        );
        assert_eq!(s.logs.pending_jump, None);
        let rows: Vec<(ClusterId, String)> = s
            .logs
            .visible_rows()
            .map(|r| (r.cluster, r.line.host.to_string()))
            .collect();
        assert!(rows.contains(&(EU, "web-9".into())), "{rows:?}");
        assert!(rows.contains(&(PROD, "web-1".into())), "{rows:?}");
        // The same line text from another cluster is not taken for one already there.
        let again = vec![log("web-9", at + Duration::seconds(5))];
        update(
            &mut s,
            Msg::InCluster(
                PROD,
                Box::new(Msg::LogsAround {
                    at,
                    lines: Ok(again),
                }),
            ),
        );
        assert_eq!(s.logs.len(), 3);
    }

    fn answer(counts: Vec<[u64; 4]>, hosts: &[(&str, u64)]) -> HistAnswer {
        HistAnswer {
            counts,
            hosts: hosts
                .iter()
                .map(|(n, c)| Term {
                    name: n.to_string(),
                    count: *c,
                })
                .collect(),
            programs: Vec::new(),
            approximate: false,
            notice: None,
        }
    }

    #[test]
    fn the_histogram_sums_every_clusters_answer_and_names_the_missing() {
        let query = HistQuery {
            buckets: Buckets {
                start: t0(),
                step: 60,
                n: 2,
            },
            window: 120,
            zone: "UTC".into(),
            errors_only: false,
            hosts: Vec::new(),
        };
        let names = vec![(PROD, "prod".to_string()), (EU, "prod-eu".to_string())];
        let mut answers = BTreeMap::new();
        assert_eq!(
            merge(&query, &answers, &names),
            Err("prod counting…; prod-eu counting…".into())
        );
        answers.insert(
            PROD,
            Ok(answer(vec![[1, 0, 0, 2], [0, 0, 0, 3]], &[("web-1", 6)])),
        );
        let one = merge(&query, &answers, &names).expect("prod's counts");
        assert_eq!(one.counts, vec![[1, 0, 0, 2], [0, 0, 0, 3]]);
        assert_eq!(one.notice.as_deref(), Some("prod-eu counting…"));
        answers.insert(
            EU,
            Ok(answer(vec![[0, 1, 0, 0]], &[("web-9", 1), ("web-1", 2)])),
        );
        let both = merge(&query, &answers, &names).expect("both");
        assert_eq!(
            both.counts,
            vec![[1, 1, 0, 2], [0, 0, 0, 3]],
            "a short answer pads"
        );
        assert_eq!(both.hosts[0].name, "web-1");
        assert_eq!(both.hosts[0].count, 8);
        assert_eq!(both.notice, None);
        answers.insert(EU, Err("502".into()));
        let failed = merge(&query, &answers, &names).expect("prod's still");
        assert_eq!(failed.notice.as_deref(), Some("prod-eu not counted: 502"));
    }
}

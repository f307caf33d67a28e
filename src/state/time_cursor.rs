//! The time cursor: one moment every pane shows (`:at 14:02`, `T`, `[` `]` `{` `}`), or live.
//! While it is set nothing may change a backend: what is on screen is the past, and a change
//! made from it would act on what the user cannot see now.

use chrono::{DateTime, Duration, Utc};

use super::members::Members;
use super::{Level, Pane, State};
use crate::action::Action;
use crate::keymap::Context;
use crate::model::typed_time::Lean;
use crate::model::zone::Resolved;
use crate::model::{ClusterId, Command, DisplayZone, Msg, PastMembers, PastUnknown};

/// Where the console stands in time.
#[derive(Debug, Default)]
pub struct TimeCursor {
    /// `None`: live.
    pub at: Option<DateTime<Utc>>,
    /// What the members pane shows at `at`.
    pub members: MembersAt,
    /// The live membership while the members pane shows the past: the watch keeps updating it
    /// (see [`routes_to_live`]), and it comes back as it is now at `:live`.
    live_members: Option<Box<Members>>,
    /// The live checks while the checks pane shows the past (rebuilt from them at each poll).
    live_checks: Option<Box<super::checks::Checks>>,
    /// Alertmanager with a Prometheus: the alerts Prometheus had firing at `at` (`None` while
    /// asked, or without a Prometheus).
    pub alerts: Option<Vec<crate::model::CheckResult>>,
    /// A merged view: what each cluster's etcd answered for `at` (see `merged_at`).
    pub by_cluster: super::merged_at::ByCluster,
    /// A merged view: each cluster's Prometheus ALERTS at `at`, as answered (see `merged_at`).
    pub alerts_in: super::merged_at::AlertsByCluster,
}

/// The members pane while the cursor is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MembersAt {
    /// Live, or no etcd.
    #[default]
    Live,
    /// The range read is in flight (the pane still shows what it showed).
    Reading,
    /// The members at `revision`, which the console saw at `seen`.
    Shown {
        revision: i64,
        seen: DateTime<Utc>,
        /// The revision asked for was compacted: what is shown is the compacted revision and
        /// about when that was.
        compacted: Option<Option<DateTime<Utc>>>,
        /// The read stopped at its bounds: only the first members in key order are shown
        /// (`partial: 3 of 7 (cap 3 members)`).
        partial: Option<String>,
    },
    /// Not known (no revision that early, etcd unreachable): the live members stay on screen,
    /// marked so.
    Unknown(String),
}

/// The revision a past members pane shows, as its title says it (`rev 30`, `compacted: rev 12`).
pub fn revision_text(revision: i64, compacted: bool) -> String {
    if compacted {
        format!("compacted: rev {revision}")
    } else {
        format!("rev {revision}")
    }
}

impl TimeCursor {
    pub fn is_live(&self) -> bool {
        self.at.is_none()
    }

    /// Whether the members pane shows the past (not the live set kept behind it). Then a lease's
    /// TTL is unknown: etcd keeps no history of leases, and the TTLs the console polls are today's.
    pub fn shows_past_members(&self) -> bool {
        self.live_members.is_some()
    }

    /// The live membership kept behind the past on screen, if any.
    pub(super) fn live_members_mut(&mut self) -> Option<&mut Members> {
        self.live_members.as_deref_mut()
    }

    /// The live membership goes behind the past now on screen.
    pub(super) fn keep_live_members(&mut self, live: Members) {
        self.live_members = Some(Box::new(live));
    }

    /// No past to show: the live membership comes back on screen (marked so in the title).
    pub(super) fn restore_live_members(&mut self, members: &mut Members) {
        if let Some(live) = self.live_members.take() {
            *members = *live;
        }
    }
}

/// How far one step moves: `[`/`]` one minute, `{`/`}` ten.
pub fn step_of(action: Action) -> Option<i64> {
    match action {
        Action::StepBack => Some(-1),
        Action::StepForward => Some(1),
        Action::StepBackTen => Some(-10),
        Action::StepForwardTen => Some(10),
        _ => None,
    }
}

/// `:at` text: what `t` reads in the logs pane (`14:02`, `14:02:30`, `-15m`, `yesterday 14:00`,
/// a date and time in the display zone, RFC 3339). A time in the future is refused.
pub fn parse_at(text: &str, now: DateTime<Utc>, zone: DisplayZone) -> Result<Resolved, String> {
    let t = text.trim();
    let r = crate::model::typed_time::parse(t, now, zone, Lean::Past).map_err(|e| {
        if e.starts_with("cannot read") {
            format!(
                "cannot read the time \"{t}\" — try :at 14:02, :at 14:02:30, :at -15m, :at yesterday 14:00 or :at 2026-12-03T14:02"
            )
        } else {
            e
        }
    })?;
    if r.at > now {
        return Err(format!(
            "{} is in the future — the time cursor goes back, not ahead",
            shown(r.at, zone)
        ));
    }
    Ok(r)
}

/// A time as the status bar shows it: `14:02:00 UTC`, `15:02:00 +01:00`.
pub fn shown(at: DateTime<Utc>, zone: DisplayZone) -> String {
    zone.clock_with_offset(at)
}

/// The key that goes back to live, as the user's keymap binds it.
pub fn live_key(state: &State) -> String {
    state.key(Context::Global, Action::TimeCursor, "T")
}

/// `:at TEXT`.
pub fn at_command(state: &mut State, text: &str) -> Vec<Command> {
    if text.trim().is_empty() {
        state.say(
            Level::Error,
            ":at TIME — 14:02, 14:02:30, -15m or 2026-12-03T14:02 (:live goes back)",
        );
        return Vec::new();
    }
    match parse_at(text, state.now, state.zone) {
        Ok(r) => {
            let cmds = set(state, r.at);
            if let Some(note) = r.note {
                // Said after the cursor's own message, so it is the one left on the status line.
                state.say(Level::Warn, note);
            }
            cmds
        }
        Err(why) => {
            state.say(Level::Error, why);
            Vec::new()
        }
    }
}

/// `[` `]` `{` `}`: the cursor `minutes` later (negative: earlier). From live, any step lands on
/// now − 1 min; a step reaching now is live again.
pub fn step(state: &mut State, minutes: i64) -> Vec<Command> {
    let at = match state.time.at {
        None => state.now - Duration::minutes(1),
        Some(at) => at + Duration::minutes(minutes),
    };
    if at >= state.now {
        return live(state);
    }
    set(state, at)
}

/// Puts every pane at `at`: logs jump (and Elasticsearch/Loki read around it), the metrics window
/// ends there (through the metrics interest, on the next settle).
pub fn set(state: &mut State, at: DateTime<Utc>) -> Vec<Command> {
    let at = at.min(state.now);
    state.time.at = Some(at);
    let mut out = Vec::new();
    if state.merged() {
        // Each cluster's etcd maps the moment to its own revision.
        state.time.members = MembersAt::Reading;
        out.extend(super::merged_at::ask(state, at));
    } else if !state.members.prefix.is_empty() {
        // Newest wins: the etcd source aborts a read still in flight, and an answer for another
        // moment is dropped (`members_at`).
        state.time.members = MembersAt::Reading;
        out.push(Command::MembersAt(at));
    }
    state.time.alerts = None;
    if state.merged() {
        // Each cluster's Prometheus for its own Alertmanager's alerts.
        out.extend(super::merged_at::ask_alerts(state, at));
    } else if state.checks_kind() == "alertmanager"
        && state.backends.metrics.as_deref() == Some("prometheus")
    {
        // Alertmanager forgets resolved alerts; Prometheus's ALERTS series remembers them.
        out.push(Command::AlertsAt(at));
    }
    refresh_checks(state);
    let mut say = format!(
        "at {} — changes are disabled; {} or :live goes back to live",
        shown(at, state.zone),
        live_key(state)
    );
    if let Some(note) = logs_at(state, at, &mut out) {
        say.push_str(" · ");
        say.push_str(&note);
    }
    state.say(Level::Info, say);
    out
}

/// The logs pane at `at`: the cursor on the first buffered line at or after it; Elasticsearch and
/// Loki read the window around it again (`t`'s re-read), the Redis ring says how far back it
/// holds when `at` is older than its oldest line.
fn logs_at(state: &mut State, at: DateTime<Utc>, out: &mut Vec<Command>) -> Option<String> {
    state.backends.logs.as_deref()?;
    let rereads = super::merged_logs::any_rereads(state);
    state.logs.jump_to_time(at);
    if rereads {
        state.logs.pending_jump = Some(at);
        // A merged view: every cluster that can re-read, each for its own lines.
        let (cmds, note) = super::merged_logs::around(state, at);
        out.extend(cmds);
        return note.map(|n| format!("logs: {n}"));
    }
    match state.logs.oldest_time() {
        Some(oldest) if oldest > at => Some(format!(
            "logs: the buffer holds lines back to {} only",
            shown(oldest, state.zone)
        )),
        None => Some("logs: no buffered line to go back to".into()),
        _ => None,
    }
}

/// `:live`, `T` again, or `Esc` with nothing else open: back to live; the logs follow again.
pub fn live(state: &mut State) -> Vec<Command> {
    if state.time.at.take().is_none() {
        state.say(Level::Info, "already live");
        return Vec::new();
    }
    state.time.members = MembersAt::Live;
    state.time.by_cluster.clear();
    state.time.alerts_in.clear();
    state.time.alerts = None;
    if let Some(live) = state.time.live_members.take() {
        state.members = *live;
    }
    if let Some(live) = state.time.live_checks.take() {
        state.checks = *live;
    }
    if state.backends.logs.is_some() {
        state.logs.bottom();
    }
    state.say(Level::Info, "live again");
    Vec::new()
}

/// `T`: the prompt while live, live again while not.
pub fn toggle(state: &mut State) -> Vec<Command> {
    if state.time.is_live() {
        state.input = Some(super::Input::new(super::InputKind::At, ""));
        Vec::new()
    } else {
        live(state)
    }
}

/// Why a change cannot be made now: the console shows the past.
pub fn refusal(state: &State, what: &str) -> Option<String> {
    let at = state.time.at?;
    Some(format!(
        "{what} refused: the console is at {} (not live) — {} or :live goes back to live first",
        shown(at, state.zone),
        live_key(state)
    ))
}

/// Whether `msg` is about the live membership or checks and must reach them while their pane
/// shows the past.
pub fn routes_to_live(state: &State, msg: &Msg) -> bool {
    // A merged view's facts come wrapped in their cluster: what they are about is inside.
    let msg = match msg {
        Msg::InCluster(_, inner) => inner.as_ref(),
        other => other,
    };
    let members = state.time.live_members.is_some()
        && matches!(
            msg,
            Msg::MembersListed { .. }
                | Msg::MembersProgress { .. }
                | Msg::MembersEvents { .. }
                | Msg::LeaseTtls { .. }
                | Msg::Health(..)
        );
    let checks = state.time.live_checks.is_some() && matches!(msg, Msg::ChecksSnapshot { .. });
    members || checks
}

/// Swaps the live membership and checks in (or back out): facts about them apply to them, not
/// to the past.
pub fn swap_live(state: &mut State) {
    if let Some(live) = state.time.live_members.as_mut() {
        std::mem::swap(&mut state.members, live);
    }
    if let Some(live) = state.time.live_checks.as_mut() {
        std::mem::swap(&mut state.checks, live);
    }
}

/// The checks pane at the cursor's moment, rebuilt from the live checks (at `:at`, at each step
/// and after each poll: their histories move on).
pub fn refresh_checks(state: &mut State) {
    let Some(at) = state.time.at else { return };
    let kind = state.checks_kind().to_string();
    if kind.is_empty() {
        return;
    }
    let live = state.time.live_checks.as_deref().unwrap_or(&state.checks);
    if !live.received() {
        return;
    }
    let past = if state.merged() {
        let sources = super::merged_at::check_sources(state, &kind);
        super::checks_at::pane_at_in(live, at, &sources, &shown(at, state.zone))
    } else {
        super::checks_at::pane_at(
            live,
            at,
            &kind,
            &shown(at, state.zone),
            state.time.alerts.as_deref(),
        )
    };
    let old = std::mem::replace(&mut state.checks, past);
    if state.time.live_checks.is_none() {
        state.time.live_checks = Some(Box::new(old));
    }
}

/// `Msg::MembersAt`: the members at the cursor's moment, or why they are not known. An answer
/// for a moment the cursor has left is dropped (newest wins).
pub fn members_at(
    state: &mut State,
    at: DateTime<Utc>,
    result: Result<PastMembers, PastUnknown>,
) -> Vec<Command> {
    if state.time.at != Some(at) {
        return Vec::new();
    }
    let utc = state.zone;
    match result {
        Ok(past) => {
            let count = past.members.len();
            if state.time.live_members.is_some() {
                // A past is on screen already (a step): patched to the new one, not rebuilt.
                state
                    .members
                    .patch_to(past.revision, past.members, state.now);
            } else {
                // The pane's sort and filter stay; its rows are the past's.
                let mut shown = Members::new(&state.members.prefix);
                shown.sort = state.members.sort;
                shown.descending = state.members.descending;
                shown.filter = state.members.filter.clone();
                shown.apply_listing(past.revision, past.members, state.now);
                let live = std::mem::replace(&mut state.members, shown);
                state.time.live_members = Some(Box::new(live));
            }
            shown_members(
                state,
                &past_meta(&past.partial),
                past.revision,
                past.seen,
                past.compacted,
                count,
            );
        }
        Err(why) => {
            let text = match why {
                PastUnknown::NoRevision(u) => u.describe(|t| shown_hm(t, utc)),
                PastUnknown::Failed(e) => format!("members at {} unknown: {e}", shown(at, utc)),
            };
            state.say(Level::Warn, format!("members: {text}"));
            state.time.members = MembersAt::Unknown(text);
            // No past to show: the live members, marked so in the title (not an older past).
            if let Some(live) = state.time.live_members.take() {
                state.members = *live;
            }
        }
    }
    Vec::new()
}

/// What the title says of a partial read.
fn past_meta(partial: &Option<crate::model::Partial>) -> Option<String> {
    partial.as_ref().map(|p| p.describe())
}

/// The members pane shows `revision` now: said (and, below a compaction or when partial, warned).
fn shown_members(
    state: &mut State,
    partial: &Option<String>,
    revision: i64,
    seen: DateTime<Utc>,
    compacted: Option<(i64, Option<DateTime<Utc>>)>,
    count: usize,
) {
    let compacted = compacted.map(|(_, when)| when);
    if let Some(when) = compacted {
        let about = when.map_or(String::new(), |t| format!(" ≈ {}", shown_hm(t, state.zone)));
        state.say(
            Level::Warn,
            format!(
                "members: compacted at rev {revision}{about} — showing rev {revision} ({count} members), the nearest etcd has"
            ),
        );
    }
    if let Some(partial) = partial {
        state.say(
            Level::Warn,
            format!("members at rev {revision}: {partial} — the first members in key order only"),
        );
    }
    state.time.members = MembersAt::Shown {
        revision,
        seen,
        compacted,
        partial: partial.clone(),
    };
}

/// `13:40` (seconds only when they are not zero), in the display zone.
fn shown_hm(at: DateTime<Utc>, zone: DisplayZone) -> String {
    let clock = zone.clock(at, "%H:%M:%S");
    let clock = clock.strip_suffix(":00").unwrap_or(&clock);
    match zone {
        DisplayZone::Utc => format!("{clock} UTC"),
        _ => clock.to_string(),
    }
}

/// What a pane's title says while the cursor is set (`None` while live).
pub fn pane_note(state: &State, pane: Pane) -> Option<String> {
    let at = state.time.at?;
    let when = shown(at, state.zone);
    Some(match pane {
        Pane::Members if state.merged() => super::merged_at::title(state, &when),
        Pane::Members => match &state.time.members {
            MembersAt::Live => format!("at {when}"),
            MembersAt::Reading => format!("at {when}: reading…"),
            MembersAt::Shown {
                revision,
                compacted,
                partial,
                ..
            } => {
                let rev = revision_text(*revision, compacted.is_some());
                match partial {
                    Some(p) => format!("at {when} · {rev} · {p}"),
                    None => format!("at {when} · {rev}"),
                }
            }
            MembersAt::Unknown(_) => format!("at {when}: unknown — LIVE shown"),
        },
        Pane::Checks if state.merged() && !state.checks_kind().is_empty() => {
            super::merged_at::checks_title(state, &when)
        }
        // A pane without a backend says so itself; it has no moment to show.
        Pane::Checks => match state.checks_kind() {
            "" => return None,
            "sensu-go" => format!("at {when} from history"),
            "sensu-core" => format!("at {when} ≈ from history"),
            "alertmanager" if state.time.alerts.is_some() => {
                format!("at {when} from Prometheus ALERTS")
            }
            "alertmanager" => format!("at {when}: alerts resolved since are unknown"),
            _ => format!("LIVE (not at {when})"),
        },
        Pane::Metrics if state.backends.metrics.is_some() => format!("to {when}"),
        Pane::Logs if state.backends.logs.is_some() => format!("at {when}"),
        Pane::Metrics | Pane::Logs => return None,
    })
}

/// Who joined and left between the cursor's moment and now (`d`), by raw key, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub at: DateTime<Utc>,
    /// The revision the past members are at, by cluster (one entry in a single-cluster view):
    /// each cluster has its own revision clock.
    pub revisions: Vec<(ClusterId, i64)>,
    /// Clusters whose members at that time are not known: not compared, since their empty past
    /// would make every live member look as if it had just joined.
    pub unknown: Vec<ClusterId>,
    pub joined: Vec<(ClusterId, std::sync::Arc<[u8]>)>,
    pub left: Vec<(ClusterId, std::sync::Arc<[u8]>)>,
    /// In both, with another value or lease since (a new mod_revision).
    pub changed: Vec<(ClusterId, std::sync::Arc<[u8]>)>,
}

/// The difference between the past members on screen and the live ones behind them.
pub fn diff(state: &State) -> Option<Diff> {
    let at = state.time.at?;
    let MembersAt::Shown { revision, .. } = state.time.members else {
        return None;
    };
    // A merged view: each cluster answered on its own; only those whose past is shown compare.
    let (revisions, unknown): (Vec<(ClusterId, i64)>, Vec<ClusterId>) =
        if state.time.by_cluster.is_empty() {
            (vec![(ClusterId(0), revision)], Vec::new())
        } else {
            let mut shown = Vec::new();
            let mut unknown = Vec::new();
            for (c, m) in &state.time.by_cluster {
                match m {
                    MembersAt::Shown { revision, .. } => shown.push((*c, *revision)),
                    _ => unknown.push(*c),
                }
            }
            (shown, unknown)
        };
    let compared = |c: ClusterId| revisions.iter().any(|(r, _)| *r == c);
    let (past, live) = (&state.members, state.time.live_members.as_deref()?);
    let mut joined: Vec<_> = live
        .all()
        .filter(|m| compared(m.cluster) && past.get_in(m.cluster, m.key()).is_none())
        .map(|m| (m.cluster, std::sync::Arc::<[u8]>::from(m.key())))
        .collect();
    let mut left: Vec<_> = past
        .all()
        .filter(|m| compared(m.cluster) && live.get_in(m.cluster, m.key()).is_none())
        .map(|m| (m.cluster, std::sync::Arc::<[u8]>::from(m.key())))
        .collect();
    let mut changed: Vec<_> = past
        .all()
        .filter(|m| {
            compared(m.cluster)
                && live
                    .get_in(m.cluster, m.key())
                    .is_some_and(|l| l.mod_revision != m.mod_revision)
        })
        .map(|m| (m.cluster, std::sync::Arc::<[u8]>::from(m.key())))
        .collect();
    joined.sort();
    left.sort();
    changed.sort();
    Some(Diff {
        at,
        revisions,
        unknown,
        joined,
        left,
        changed,
    })
}

/// `d` in members: the diff popup, or why there is none.
pub fn open_diff(state: &mut State) {
    if state.time.is_live() {
        let key = live_key(state);
        state.say(
            Level::Info,
            format!("live: nothing to compare — {key} or :at TIME sets the time cursor first"),
        );
        return;
    }
    match diff(state) {
        Some(diff) => state.popup = Some(super::Popup::AtDiff { diff, scroll: 0 }),
        None => state.say(
            Level::Info,
            "the members at that time are not known (yet): nothing to compare",
        ),
    }
}

/// `Msg::AlertsAt`: the alerts Prometheus had firing at the cursor's moment; the checks pane is
/// rebuilt from them (an answer for another moment is dropped).
pub fn alerts_at(
    state: &mut State,
    at: DateTime<Utc>,
    result: Result<Vec<crate::model::CheckResult>, String>,
) {
    if state.time.at != Some(at) {
        return;
    }
    match result {
        Ok(firing) => {
            state.time.alerts = Some(firing);
            refresh_checks(state);
        }
        Err(e) => state.say(
            Level::Warn,
            format!(
                "checks: Prometheus ALERTS at {} unknown: {e} — alerts resolved since are unknown",
                shown(at, state.zone)
            ),
        ),
    }
}

//! The time cursor: one moment every pane shows (`:at 14:02`, `T`, `[` `]` `{` `}`), or live.
//! While it is set nothing may change a backend: what is on screen is the past, and a change
//! made from it would act on what the user cannot see now.

use chrono::{DateTime, Duration, Utc};

use super::{Level, State};
use crate::action::Action;
use crate::keymap::Context;
use crate::model::Command;

/// Where the console stands in time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeCursor {
    /// `None`: live.
    pub at: Option<DateTime<Utc>>,
}

impl TimeCursor {
    pub fn is_live(&self) -> bool {
        self.at.is_none()
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

/// `:at` text: what `t` reads in the logs pane (`14:02`, `14:02:30`, `-15m`, RFC 3339) plus a
/// date and time without a zone (`2026-12-03T14:02`, in the display zone).
pub fn parse_at(text: &str, now: DateTime<Utc>, utc: bool) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "cannot read the time \"{t}\" — try :at 14:02, :at 14:02:30, :at -15m or :at 2026-12-03T14:02"
        )
    };
    let naive = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok());
    let at = match naive {
        Some(n) if utc => n.and_utc(),
        Some(n) => {
            use chrono::TimeZone;
            chrono::Local
                .from_local_datetime(&n)
                .earliest()
                .map(|d| d.with_timezone(&Utc))
                .ok_or_else(bad)?
        }
        None => super::logs::parse_time_target(t, now, utc).map_err(|_| bad())?,
    };
    if at > now {
        return Err(format!(
            "{} is in the future — the time cursor goes back, not ahead",
            shown(at, utc)
        ));
    }
    Ok(at)
}

/// A time as the status bar shows it: `14:02:00` in the display zone.
pub fn shown(at: DateTime<Utc>, utc: bool) -> String {
    if utc {
        at.format("%H:%M:%S UTC").to_string()
    } else {
        at.with_timezone(&chrono::Local)
            .format("%H:%M:%S")
            .to_string()
    }
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
    match parse_at(text, state.now, state.utc) {
        Ok(at) => set(state, at),
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
    let mut say = format!(
        "at {} — changes are disabled; {} or :live goes back to live",
        shown(at, state.utc),
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
    let backend = state.backends.logs.as_deref()?;
    let rereads = matches!(backend, "elasticsearch" | "loki");
    state.logs.jump_to_time(at);
    if rereads {
        state.logs.pending_jump = Some(at);
        out.push(Command::LogsAround(at));
        return None;
    }
    match state.logs.oldest_time() {
        Some(oldest) if oldest > at => Some(format!(
            "logs: the buffer holds lines back to {} only",
            shown(oldest, state.utc)
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
        shown(at, state.utc),
        live_key(state)
    ))
}

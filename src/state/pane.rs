//! What every pane can be asked, whichever it is: its filter, and what an action does in it. The
//! reducer (`state::mod`) only routes: it picks the focused pane once ([`super::State::pane_mut`])
//! and applies what the pane answers — a word on the status line, a popup to open, commands for
//! the sources.

use super::members::Filter;
use super::{InputKind, Level, Popup};
use crate::action::Action;
use crate::model::Command;

/// What a pane's action asks of the rest of the console.
#[derive(Debug, Default)]
pub struct Reaction {
    pub say: Option<(Level, String)>,
    pub popup: Option<Popup>,
    /// A text field to open (the time of `t`).
    pub input: Option<InputKind>,
    pub commands: Vec<Command>,
}

impl Reaction {
    pub fn say(level: Level, text: impl Into<String>) -> Reaction {
        Reaction {
            say: Some((level, text.into())),
            ..Default::default()
        }
    }

    pub fn info(text: impl Into<String>) -> Reaction {
        Reaction::say(Level::Info, text)
    }

    pub fn open(popup: Popup) -> Reaction {
        Reaction {
            popup: Some(popup),
            ..Default::default()
        }
    }

    pub fn input(kind: InputKind) -> Reaction {
        Reaction {
            input: Some(kind),
            ..Default::default()
        }
    }

    /// `text` to the terminal's clipboard (OSC 52), sanitised once more, and says so.
    /// Several lines to the clipboard (a log record): each sanitised, joined by newlines (OSC 52
    /// carries them base64-encoded, so a newline never reaches the terminal as one).
    pub fn copy_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Reaction {
        let text: Vec<String> = lines
            .into_iter()
            .map(|l| crate::model::text::sanitize(l).into_owned())
            .collect();
        let mut r = Reaction::copy(text.first().map_or("", String::as_str));
        r.commands = vec![Command::Copy(text.join("\n"))];
        if text.len() > 1 {
            if let Some((_, say)) = r.say.as_mut() {
                say.push_str(&format!(" (+{} lines)", text.len() - 1));
            }
        }
        r
    }

    pub fn copy(text: impl AsRef<str>) -> Reaction {
        let text = crate::model::text::sanitize(text.as_ref()).into_owned();
        Reaction {
            say: Some((
                Level::Info,
                format!(
                    "sent to clipboard (OSC 52): {}",
                    crate::model::text::fit(&text, 60)
                ),
            )),
            commands: vec![Command::Copy(text)],
            ..Default::default()
        }
    }
}

/// What the reducer needs to know about the console to hand a pane an action.
pub struct PaneCtx<'a> {
    /// The checks backend's name (`alertmanager`, `sensu-go`, …), empty without one.
    pub checks_kind: &'a str,
    /// The zone times are shown and typed in.
    pub zone: crate::model::DisplayZone,
}

pub trait PaneState {
    /// Its name in messages (`members`, `checks`, …).
    fn name(&self) -> &'static str;

    /// Whether `/` filters this pane.
    fn filterable(&self) -> bool {
        false
    }

    /// The filter in force, if the pane has one.
    fn filter(&self) -> Option<&Filter> {
        None
    }

    /// Sets (or clears) the filter; `Err` says the pane cannot filter.
    fn set_filter(&mut self, _filter: Option<Filter>) -> Result<(), String> {
        Err(format!("the {} pane has no filter", self.name()))
    }

    /// How many rows pass the filter, of how many, and what they are called (`members`, …).
    fn filter_counts(&self) -> (usize, usize, &'static str) {
        (0, 0, "rows")
    }

    /// The columns `:sort COL` takes here (empty: the pane does not sort).
    fn sort_columns(&self) -> &'static [&'static str] {
        &[]
    }

    /// `:sort COL`: sorts by that column (one of [`Self::sort_columns`]), ascending.
    fn sort_by(&mut self, column: &str) -> Result<(), String> {
        let _ = column;
        Err(format!("the {} pane has no sort", self.name()))
    }

    /// What `action` does here (moves, sorts, toggles, opens a popup, asks a source).
    fn on_action(&mut self, action: Action, ctx: &PaneCtx) -> Reaction;
}

//! The text fields at the bottom of the screen: the filter (`/`) and the command line (`:`). Keys
//! arrive as actions of the `[input]` keymap context; the filter applies live while it is typed,
//! like k9s; a paste is text, never keys.

use super::command_line;
use super::field::TextField;
use super::members::Filter;
use super::{paste, Level, Popup, State};
use crate::action::Action;
use crate::model::Command;

/// Characters a filter or command line takes.
const MAX_CHARS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
    /// `t` in the logs pane: a time to move the cursor to.
    TimeJump,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub kind: InputKind,
    pub field: TextField,
}

impl Input {
    /// An open field holding `text`, the cursor at its end.
    pub fn new(kind: InputKind, text: &str) -> Input {
        Input {
            kind,
            field: TextField::with_text(text, MAX_CHARS),
        }
    }

    pub fn text(&self) -> &str {
        self.field.text()
    }
}

/// An action while a text field is open.
pub fn act(state: &mut State, action: Action) -> Vec<Command> {
    let Some(input) = state.input.as_mut() else {
        return Vec::new();
    };
    match action {
        Action::Cancel | Action::Back => {
            let kind = input.kind.clone();
            state.input = None;
            if kind == InputKind::Filter {
                // Leaving the filter field with Esc takes the filter away.
                let _ = state.pane_mut().set_filter(None);
            }
            Vec::new()
        }
        Action::Submit => {
            let Some(Input { kind, field }) = state.input.take() else {
                return Vec::new();
            };
            match kind {
                InputKind::Filter => {
                    apply_filter(state, field.text());
                    Vec::new()
                }
                InputKind::Command => command_line::run(state, field.text().trim()),
                InputKind::TimeJump => {
                    let rereads = matches!(
                        state.backends.logs.as_deref(),
                        Some("elasticsearch" | "loki")
                    );
                    let (say, cmds) = super::logs::time_jump(
                        &mut state.logs,
                        field.text(),
                        state.now,
                        state.utc,
                        rereads,
                    );
                    state.say(Level::Info, say);
                    cmds
                }
            }
        }
        edit => {
            if input.field.edit(edit) {
                filter_live(state);
            }
            Vec::new()
        }
    }
}

/// Live filtering while typing: an incomplete regex just keeps the previous filter.
fn filter_live(state: &mut State) {
    let Some(Input {
        kind: InputKind::Filter,
        field,
    }) = &state.input
    else {
        return;
    };
    if let Ok(f) = Filter::parse(field.text()) {
        let _ = state.pane_mut().set_filter(f);
    }
}

/// Enter in the filter: the filter in force, and how many rows it leaves.
fn apply_filter(state: &mut State, text: &str) {
    match Filter::parse(text) {
        Ok(f) => {
            let active = f.is_some();
            let pane = state.pane_mut();
            if let Err(why) = pane.set_filter(f) {
                state.say(Level::Info, why);
                return;
            }
            let (n, total, what) = pane.filter_counts();
            if active {
                state.say(
                    Level::Info,
                    format!("filter /{text}/: {n} of {total} {what}"),
                );
            } else {
                state.status = None;
            }
        }
        Err(e) => state.say(Level::Error, e),
    }
}

/// A bracketed paste: text, never keys. It goes into the open text field (filter, command line,
/// the silence form's reason or duration) as one line — so an Enter inside it never submits —
/// and is otherwise dropped with a word on the status line.
pub fn paste(state: &mut State, text: &str) -> Vec<Command> {
    let line = paste::one_line(text);
    if let Some(input) = state.input.as_mut() {
        input.field.insert_str(&line);
        filter_live(state);
        return Vec::new();
    }
    if let Some(Popup::SilenceForm(form)) = state.popup.as_mut() {
        if form.paste(&line) {
            return Vec::new();
        }
    }
    let hint = match &state.popup {
        Some(Popup::SilenceForm(_)) => "move to the reason or duration field first",
        Some(p) if p.is_confirmation() => "a confirmation dialog takes keys, not pastes",
        _ => "open the filter (/) or the command line (:) first",
    };
    state.say(Level::Warn, format!("paste ignored: {hint}"));
    Vec::new()
}

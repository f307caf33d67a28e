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
    /// How much longer the silence `id` should last.
    Extend {
        id: String,
    },
    /// `t` in the logs pane: a time to move the cursor to.
    TimeJump,
    /// `/` in a command's output: text to find.
    Search,
    /// `T`: the moment every pane should show (the time cursor).
    At,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub kind: InputKind,
    pub field: TextField,
    /// Shown in the prompt's row instead of the key hint: why Enter did not apply (a bad regex),
    /// or the completions Tab found. Goes at the next edit.
    pub hint: Option<(Level, String)>,
    /// The filter: the text of the one in force when the prompt opened, put back when Enter
    /// finds the new one bad.
    pub previous: Option<String>,
    /// The command line: the history entry shown (an index into `State::history`), and what
    /// was typed before Up was first pressed.
    pub history_pos: Option<usize>,
    pub draft: String,
}

impl Input {
    /// An open field holding `text`, the cursor at its end.
    pub fn new(kind: InputKind, text: &str) -> Input {
        Input {
            kind,
            field: TextField::with_text(text, MAX_CHARS),
            hint: None,
            previous: None,
            history_pos: None,
            draft: String::new(),
        }
    }

    /// The filter prompt over the filter in force (`current`): its text selected, so typing
    /// replaces it and a cursor key edits it.
    pub fn filter(current: Option<&str>) -> Input {
        let mut input = Input::new(InputKind::Filter, current.unwrap_or(""));
        input.field.select_all();
        input.previous = current.map(str::to_string);
        input
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
            let Some(mut input) = state.input.take() else {
                return Vec::new();
            };
            match input.kind {
                InputKind::Filter => {
                    if let Err(why) = apply_filter(state, input.field.text()) {
                        // The filter in force before the prompt stays, and so does the prompt,
                        // with the error said once, in it.
                        let previous = input
                            .previous
                            .as_deref()
                            .and_then(|t| Filter::parse(t).ok().flatten());
                        let _ = state.pane_mut().set_filter(previous);
                        input.hint = Some((Level::Error, why));
                        state.input = Some(input);
                    }
                    Vec::new()
                }
                InputKind::Extend { id } => {
                    super::guarded::extend_dialog(state, id, input.field.text())
                }
                InputKind::Command => {
                    let line = input.field.text().trim().to_string();
                    let mut out = Vec::new();
                    if !line.is_empty() {
                        if state.history.last() != Some(&line) {
                            state.history.push(line.clone());
                            let excess = state.history.len().saturating_sub(HISTORY_MAX);
                            state.history.drain(..excess);
                        }
                        out.push(Command::RecordHistory(line.clone()));
                    }
                    out.extend(command_line::run(state, &line));
                    out
                }
                InputKind::Search => {
                    if let Some(Popup::Output(out)) = state.popup.as_mut() {
                        if let Some(say) = out.search(input.field.text()) {
                            state.say(Level::Info, say);
                        }
                    }
                    Vec::new()
                }
                InputKind::At => super::time_cursor::at_command(state, input.field.text()),
                InputKind::TimeJump => {
                    let rereads = super::merged_logs::any_rereads(state);
                    let (mut say, cmds) = super::logs::time_jump(
                        &mut state.logs,
                        input.field.text(),
                        state.now,
                        state.zone,
                        rereads,
                    );
                    // A merged view asks every cluster that can re-read, each for its own lines.
                    let cmds = match cmds.as_slice() {
                        [Command::LogsAround(at)] => {
                            let (cmds, note) = super::merged_logs::around(state, *at);
                            if let Some(note) = note {
                                say.push_str(" · ");
                                say.push_str(&note);
                            }
                            cmds
                        }
                        _ => cmds,
                    };
                    state.say(Level::Info, say);
                    cmds
                }
            }
        }
        Action::Complete => {
            if input.kind == InputKind::Command {
                command_line::complete(state);
            }
            Vec::new()
        }
        Action::HistoryPrev | Action::HistoryNext => {
            if input.kind == InputKind::Command {
                history(state, action == Action::HistoryPrev);
            }
            Vec::new()
        }
        edit => {
            input.hint = None;
            if input.field.edit(edit) {
                filter_live(state);
                time_echo(state);
            }
            Vec::new()
        }
    }
}

/// Command lines kept in the history (in memory and in the history file).
pub const HISTORY_MAX: usize = 500;

/// Up (`back`) or Down through the command history; past the newest entry is what was typed.
fn history(state: &mut State, back: bool) {
    let len = state.history.len();
    let Some(input) = state.input.as_mut() else {
        return;
    };
    let pos = match (input.history_pos, back) {
        (None, true) if len > 0 => {
            input.draft = input.field.text().to_string();
            Some(len - 1)
        }
        (None, _) => return,
        (Some(i), true) => Some(i.saturating_sub(1)),
        (Some(i), false) if i + 1 < len => Some(i + 1),
        (Some(_), false) => None,
    };
    input.history_pos = pos;
    input.hint = None;
    let text = match pos {
        Some(i) => state.history[i].clone(),
        None => std::mem::take(&mut input.draft),
    };
    input.field.set(&text);
}

/// Live filtering while typing: an incomplete regex just keeps the previous filter.
fn filter_live(state: &mut State) {
    let Some(Input {
        kind: InputKind::Filter,
        field,
        ..
    }) = &state.input
    else {
        return;
    };
    if let Ok(f) = Filter::parse(field.text()) {
        let _ = state.pane_mut().set_filter(f);
    }
}

/// A time prompt (`t`, `T`) says, as it is typed, which moment the text means — in the display
/// zone and in UTC, with a DST overlap named — so nothing is committed on a misreading.
fn time_echo(state: &mut State) {
    let now = state.now;
    let zone = state.zone;
    let Some(input) = state.input.as_mut() else {
        return;
    };
    if !matches!(input.kind, InputKind::At | InputKind::TimeJump) || input.text().trim().is_empty()
    {
        return;
    }
    let lean = crate::model::typed_time::Lean::Past;
    input.hint = match crate::model::typed_time::parse(input.text(), now, zone, lean) {
        Ok(r) => Some((
            if r.note.is_some() {
                Level::Warn
            } else {
                Level::Info
            },
            format!("= {}", crate::model::typed_time::echo(&r, zone)),
        )),
        // A DST gap is worth saying at once; a half-typed time is not an error yet.
        Err(e) if e.contains("does not exist") => Some((Level::Error, e)),
        Err(_) => None,
    };
}

/// Enter in the filter (or `:filter TEXT`): the filter in force, and how many rows it leaves;
/// `Err` says why `text` is not a filter (the pane keeps what it had).
pub fn apply_filter(state: &mut State, text: &str) -> Result<(), String> {
    match Filter::parse(text) {
        Ok(f) => {
            let active = f.is_some();
            let pane = state.pane_mut();
            if let Err(why) = pane.set_filter(f) {
                state.say(Level::Info, why);
                return Ok(());
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
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// A bracketed paste: text, never keys. It goes into the open text field (filter, command line,
/// the silence form's reason or duration) as one line — so an Enter inside it never submits —
/// and is otherwise dropped with a word on the status line.
pub fn paste(state: &mut State, text: &str) -> Vec<Command> {
    let line = paste::one_line(text);
    if let Some(input) = state.input.as_mut() {
        input.hint = None;
        input.field.insert_str(&line);
        filter_live(state);
        time_echo(state);
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

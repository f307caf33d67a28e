//! `Action`: what a key means, named in keymap TOML. Every key the console takes becomes one of
//! these in one place (`keymap::Keymap::action`): pane keys, dialog keys, and the keys of text
//! fields and forms alike.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Quit,
    NextPane,
    PrevPane,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Filter,
    /// `Esc`: close the popup, clear the filter, or clear the member scope — the innermost first.
    Back,
    Detail,
    /// `Enter` in a popup: pick the entry under the cursor (a picker) or close (help, details).
    Select,
    SortNext,
    SortReverse,
    Deregister,
    Silence,
    Unsilence,
    ToggleFollow,
    CommandLine,
    Help,
    Confirm,
    Cancel,
    ToggleRevokeLease,
    ToggleHideOk,
    ToggleHideSilenced,
    /// Checks: hide/show alerts Alertmanager reports inhibited.
    ToggleHideInhibited,
    /// Checks: hide/show acked checks.
    ToggleUnackedOnly,
    /// Checks: hide/show the recently resolved rows (the last hour, from the console's polls).
    ToggleResolved,
    /// Checks: ack (claim) the row — a short silence commented `ACK <user>: <note>`; again on
    /// our own ack: extend it.
    Ack,
    /// Checks: expire the ack on the row.
    Unack,
    NextWindow,
    PrevWindow,
    CycleSeverity,
    CycleSeverityBack,
    ToggleWrap,
    /// Logs: lines grouped into records (a stack trace is one row) or every line as sent.
    ToggleRecords,
    /// Logs: JSON messages pretty-printed (indented, newlines in strings expanded) or summarised.
    TogglePretty,
    /// The focused pane fills the screen, and back.
    Zoom,
    /// Metrics: the series under the cursor goes into (or out of) the chart's overlay.
    ToggleOverlay,
    /// Members, checks: mark (or unmark) the row for a bulk action; logs: the line, to come back
    /// to with the mark keys.
    ToggleMark,
    /// Members, checks: mark every row the filter shows.
    MarkAll,
    /// Members: put back the member deregistered last (within a minute).
    Undo,
    /// Checks: group the failing checks by what they share (check, role, version, a field).
    GroupChecks,
    /// Members: the churn timeline (who joined and left since the console started, and why).
    Churn,
    /// Checks: move the end of a silence covering the row later.
    ExtendSilence,
    ToggleFilterMode,
    NextMatch,
    PrevMatch,
    NextError,
    PrevError,
    NextWarning,
    PrevWarning,
    NextMark,
    PrevMark,
    CycleContext,
    ScrollLeft,
    ScrollRight,
    TimeJump,
    /// Logs: the histogram of log volume by severity, with the top hosts and programs (again:
    /// back to the lines).
    Histogram,
    /// Histogram: a longer window (15m 1h 6h 24h) / a shorter one.
    HistWider,
    HistNarrower,
    /// Histogram: the top hosts and programs count errors only, or every line.
    HistErrorsOnly,
    /// Histogram: the bucket before / after the one under the cursor.
    HistPrevBucket,
    HistNextBucket,
    /// Histogram: move between the buckets, the top hosts and the top programs.
    HistFocus,
    /// Copy the selected row's text to the terminal's clipboard (OSC 52).
    Copy,
    /// The Tasks popup: the custom commands running in the background.
    Tasks,
    /// In the Tasks popup: kill the task under the cursor.
    KillTask,
    /// The time cursor: while live, the prompt for a moment to show (`:at`); else live again.
    TimeCursor,
    /// The time cursor one minute earlier / later (from live: now − 1 min).
    StepBack,
    StepForward,
    /// The time cursor ten minutes earlier / later (from live: now − 1 min).
    StepBackTen,
    StepForwardTen,
    /// Members, while the time cursor is set: who joined and left between its moment and now.
    AtDiff,
    /// ctrl-z: the terminal given back and the console stopped (the shell's `fg` resumes it).
    Suspend,
    /// The display zone: local → UTC → the configured zone (`zone` in [defaults], `--zone`).
    CycleZone,
    /// In a member or check detail: open (or, without a local display, copy) link N.
    #[serde(rename = "open_link_1")]
    OpenLink1,
    #[serde(rename = "open_link_2")]
    OpenLink2,
    #[serde(rename = "open_link_3")]
    OpenLink3,
    #[serde(rename = "open_link_4")]
    OpenLink4,
    #[serde(rename = "open_link_5")]
    OpenLink5,
    #[serde(rename = "open_link_6")]
    OpenLink6,
    #[serde(rename = "open_link_7")]
    OpenLink7,
    #[serde(rename = "open_link_8")]
    OpenLink8,
    #[serde(rename = "open_link_9")]
    OpenLink9,
    /// Run the custom command with this index (`[[commands]]` in the config, bound by its `key`).
    /// Never named in a keymap file.
    #[serde(skip)]
    RunCommand(u16),
    // ---- text fields (`[input]`) and forms (`[form]`) ----
    /// A printable key in a text field: the keymap's answer for any printable key it does not
    /// bind there. Never named in a keymap file.
    #[serde(skip)]
    InsertChar(char),
    Submit,
    CursorLeft,
    CursorRight,
    WordLeft,
    WordRight,
    LineStart,
    LineEnd,
    DeleteBack,
    DeleteForward,
    DeleteWordBack,
    DeleteToStart,
    DeleteToEnd,
    NextField,
    PrevField,
    /// Command line: complete the command or its argument.
    Complete,
    /// Command line: the previous (older) entry of the history.
    HistoryPrev,
    /// Command line: the next (newer) entry, then what was being typed.
    HistoryNext,
}

impl Action {
    /// Which link (1–9) an `open_link_N` action opens.
    pub fn link_number(self) -> Option<usize> {
        Some(match self {
            Action::OpenLink1 => 1,
            Action::OpenLink2 => 2,
            Action::OpenLink3 => 3,
            Action::OpenLink4 => 4,
            Action::OpenLink5 => 5,
            Action::OpenLink6 => 6,
            Action::OpenLink7 => 7,
            Action::OpenLink8 => 8,
            Action::OpenLink9 => 9,
            _ => return None,
        })
    }

    /// The one place that knows which actions change a backend; `--readonly` refuses these.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Action::Deregister
                | Action::Silence
                | Action::Unsilence
                | Action::Undo
                | Action::ExtendSilence
                | Action::Ack
                | Action::Unack
        )
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::NextPane => "next pane",
            Action::PrevPane => "previous pane",
            Action::Up => "move up",
            Action::Down => "move down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "go to top",
            Action::Bottom => "go to bottom",
            Action::Filter => "filter (regex, /! inverts)",
            Action::Back => "back: close popup / clear filter / clear scope",
            Action::Detail => "show detail (metrics: the chart)",
            Action::Select => "pick / close",
            Action::SortNext => "sort by next column",
            Action::SortReverse => "reverse sort order",
            Action::Deregister => "deregister member (confirm)",
            Action::Silence => "silence check",
            Action::Unsilence => "remove silence",
            Action::ToggleFollow => "toggle follow (logs)",
            Action::CommandLine => {
                "command line (:cluster [NAME|-], :filter, :sort COL, :readonly, :theme NAME, :keys, :w FILE, :cmd NAME, :tasks, :at TIME, :live, :group [FIELD|a,b], :resolved, :incident start|end, :note, :journal, :q)"
            }
            Action::Help => "help",
            Action::Confirm => "confirm",
            Action::Cancel => "cancel",
            Action::ToggleRevokeLease => "toggle: also revoke the lease",
            Action::ToggleHideOk => "hide/show OK checks",
            Action::ToggleHideSilenced => "hide/show silenced checks",
            Action::ToggleHideInhibited => "hide/show inhibited alerts",
            Action::ToggleUnackedOnly => "unacked only: hide/show acked checks",
            Action::ToggleResolved => {
                "hide/show recently resolved checks (the last hour; Enter: when and what; :resolved)"
            }
            Action::Ack => "ack/claim the check (a short silence; again: extend your ack)",
            Action::Unack => "unack: expire the ack on the check",
            Action::NextWindow => "metrics window: longer (15m 1h 6h 24h)",
            Action::PrevWindow => "metrics window: shorter",
            Action::Zoom => "zoom: the pane fills the screen (again: back)",
            Action::ToggleOverlay => "metrics: add/remove the series in the chart overlay",
            Action::ToggleMark => "mark/unmark the row (members, checks: for a bulk change; logs: a line; label picker: pick a label)",
            Action::MarkAll => "mark every row the filter shows",
            Action::Undo => "undo the last deregister (within a minute)",
            Action::GroupChecks => {
                "group failing checks by what they share (:group FIELD: role, version, zone, …; Alertmanager: pick labels)"
            }
            Action::Churn => "churn: who joined and left since start, and why; who flaps",
            Action::ExtendSilence => "extend the silence on the check (keeps its id)",
            Action::CycleSeverity => {
                "logs: severity threshold stricter (all, ≥ info … ≥ warning, ≥ err … ≥ emerg)"
            }
            Action::CycleSeverityBack => "logs: severity threshold looser",
            Action::ToggleWrap => "logs: wrap long lines on/off",
            Action::ToggleRecords => {
                "logs: records (a stack trace is one row, (+N); Enter expands) / every line as sent"
            }
            Action::TogglePretty => {
                "logs: JSON pretty-printed (indented, newlines expanded) / summarised (level, message, fields)"
            }
            Action::ToggleFilterMode => "logs: / filter hides or highlights non-matching lines",
            Action::NextMatch => "logs: next filter match",
            Action::PrevMatch => "logs: previous filter match",
            Action::NextError => "logs: next error (err or worse)",
            Action::PrevError => "logs: previous error",
            Action::NextWarning => "logs: next warning or worse",
            Action::PrevWarning => "logs: previous warning or worse",
            Action::NextMark => "logs: next mark",
            Action::PrevMark => "logs: previous mark",
            Action::CycleContext => "logs: context lines around matches (0, 3, 10)",
            Action::ScrollLeft => "logs: scroll long lines left (wrap off)",
            Action::ScrollRight => "logs: scroll long lines right (wrap off)",
            Action::TimeJump => "logs: go to a time (14:02, -15m)",
            Action::Histogram => {
                "logs: histogram by severity with top hosts/programs (:hist; again: the lines)"
            }
            Action::HistWider => "histogram: longer window (15m 1h 6h 24h)",
            Action::HistNarrower => "histogram: shorter window",
            Action::HistErrorsOnly => "histogram: top hosts/programs of errors only, or of all",
            Action::HistPrevBucket => "histogram: previous bucket",
            Action::HistNextBucket => "histogram: next bucket",
            Action::HistFocus => {
                "histogram: move between buckets, top hosts and top programs (Enter drills in)"
            }
            Action::Copy => "copy to the clipboard (OSC 52)",
            Action::Tasks => "tasks: custom commands running in the background",
            Action::KillTask => "tasks: kill the task under the cursor",
            Action::TimeCursor => {
                "time cursor: show every pane at a time (14:02, -15m); again: back to live"
            }
            Action::StepBack => "time cursor: one minute earlier (from live: now − 1 min)",
            Action::StepForward => "time cursor: one minute later (reaching now: live)",
            Action::StepBackTen => "time cursor: ten minutes earlier (from live: now − 1 min)",
            Action::StepForwardTen => "time cursor: ten minutes later (reaching now: live)",
            Action::AtDiff => "time cursor: who joined and left between its moment and now",
            Action::Suspend => "suspend to the shell (fg brings the console back, redrawn)",
            Action::CycleZone => {
                "display zone: local, UTC, the configured one (times typed are read in it; :zone NAME)"
            }
            Action::OpenLink1 => "open link 1 of the detail (no local display: copy it)",
            Action::OpenLink2 => "open link 2 of the detail (no local display: copy it)",
            Action::OpenLink3 => "open link 3 of the detail (no local display: copy it)",
            Action::OpenLink4 => "open link 4 of the detail (no local display: copy it)",
            Action::OpenLink5 => "open link 5 of the detail (no local display: copy it)",
            Action::OpenLink6 => "open link 6 of the detail (no local display: copy it)",
            Action::OpenLink7 => "open link 7 of the detail (no local display: copy it)",
            Action::OpenLink8 => "open link 8 of the detail (no local display: copy it)",
            Action::OpenLink9 => "open link 9 of the detail (no local display: copy it)",
            Action::RunCommand(_) => "run a custom command",
            Action::InsertChar(_) => "type the character",
            Action::Submit => "apply / submit",
            Action::CursorLeft => "cursor left (in a choice: previous)",
            Action::CursorRight => "cursor right (in a choice: next)",
            Action::WordLeft => "cursor one word left",
            Action::WordRight => "cursor one word right",
            Action::LineStart => "cursor to the start",
            Action::LineEnd => "cursor to the end",
            Action::DeleteBack => "delete the character before the cursor",
            Action::DeleteForward => "delete the character under the cursor",
            Action::DeleteWordBack => "delete the word before the cursor",
            Action::DeleteToStart => "delete to the start",
            Action::DeleteToEnd => "delete to the end",
            Action::NextField => "next field",
            Action::PrevField => "previous field",
            Action::Complete => "command line: complete the command or argument",
            Action::HistoryPrev => "command line: older entry of the history",
            Action::HistoryNext => "command line: newer entry of the history",
        }
    }
}

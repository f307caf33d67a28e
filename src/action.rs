//! `Action`: what a key means (named in keymap TOML). `Command`: what `update` asks the I/O side to do.

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
    NextWindow,
    PrevWindow,
    CycleSeverity,
    ToggleWrap,
}

impl Action {
    /// The one place that knows which actions change a backend; `--readonly` refuses these.
    pub fn is_mutating(self) -> bool {
        matches!(
            self,
            Action::Deregister | Action::Silence | Action::Unsilence
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
            Action::Detail => "show detail",
            Action::SortNext => "sort by next column",
            Action::SortReverse => "reverse sort order",
            Action::Deregister => "deregister member (confirm)",
            Action::Silence => "silence check",
            Action::Unsilence => "remove silence",
            Action::ToggleFollow => "toggle follow (logs)",
            Action::CommandLine => "command line (:q, :cluster NAME)",
            Action::Help => "help",
            Action::Confirm => "confirm",
            Action::Cancel => "cancel",
            Action::ToggleRevokeLease => "toggle: also revoke the lease",
            Action::ToggleHideOk => "hide/show OK checks",
            Action::ToggleHideSilenced => "hide/show silenced checks",
            Action::NextWindow => "metrics window: longer (15m 1h 6h 24h)",
            Action::PrevWindow => "metrics window: shorter",
            Action::CycleSeverity => "logs: severity threshold (all, err, warning, notice, info)",
            Action::ToggleWrap => "logs: wrap long lines",
        }
    }
}

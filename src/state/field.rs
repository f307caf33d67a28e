//! One line of text being edited — the filter, the command line, the silence form's reason and
//! duration: `tui-input`'s buffer and cursor, driven only through its request API from the
//! keymap's actions (never its own key handling), and capped so no field grows without bound.

use tui_input::{Input, InputRequest};

use crate::action::Action;

#[derive(Debug, Clone)]
pub struct TextField {
    input: Input,
    /// Characters the field takes at most.
    max_chars: usize,
    /// The whole text is selected (`/` on an active filter): the first character typed or
    /// pasted replaces it, a delete removes it, a cursor move keeps it (tui-input has no
    /// selection of its own).
    selected: bool,
}

impl PartialEq for TextField {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text() && self.cursor() == other.cursor()
    }
}

impl TextField {
    /// An empty field taking at most `max_chars` characters.
    pub fn new(max_chars: usize) -> TextField {
        TextField {
            input: Input::default(),
            max_chars,
            selected: false,
        }
    }

    /// A field holding `text` (cut to `max_chars`), the cursor at its end.
    pub fn with_text(text: &str, max_chars: usize) -> TextField {
        let text: String = text.chars().take(max_chars).collect();
        TextField {
            input: Input::new(text),
            max_chars,
            selected: false,
        }
    }

    pub fn text(&self) -> &str {
        self.input.value()
    }

    /// Characters before the cursor.
    pub fn cursor(&self) -> usize {
        self.input.cursor()
    }

    /// The cursor's column when the field is drawn `width` columns wide, and the column the text
    /// starts scrolled by so the cursor stays in view (long input scrolls).
    pub fn view(&self, width: usize) -> (usize, usize) {
        // One column is the cursor's own when it sits after the last character.
        let scroll = self.input.visual_scroll(width.saturating_sub(1));
        (self.input.visual_cursor().saturating_sub(scroll), scroll)
    }

    /// Selects the whole text (nothing to select in an empty field).
    pub fn select_all(&mut self) {
        self.selected = !self.is_empty();
    }

    pub fn is_selected(&self) -> bool {
        self.selected
    }

    /// The selection, if any, goes: what comes next replaces it.
    fn take_selection(&mut self) {
        if std::mem::take(&mut self.selected) {
            self.input = Input::default();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.text().is_empty()
    }

    /// Replaces the text, the cursor at its end.
    pub fn set(&mut self, text: &str) {
        *self = TextField::with_text(text, self.max_chars);
    }

    /// Inserts `text` at the cursor, as far as the cap allows.
    pub fn insert_str(&mut self, text: &str) {
        self.take_selection();
        for c in text.chars() {
            if !self.insert(c) {
                break;
            }
        }
    }

    fn insert(&mut self, c: char) -> bool {
        if self.text().chars().count() >= self.max_chars {
            return false;
        }
        self.input.handle(InputRequest::InsertChar(c));
        true
    }

    /// Applies an editing action; false when `action` is not one (the caller handles it).
    pub fn edit(&mut self, action: Action) -> bool {
        match action {
            Action::InsertChar(_) => self.take_selection(),
            Action::DeleteBack
            | Action::DeleteForward
            | Action::DeleteWordBack
            | Action::DeleteToStart
            | Action::DeleteToEnd
                if self.selected =>
            {
                self.take_selection();
                return true;
            }
            _ => self.selected = false,
        }
        let request = match action {
            Action::InsertChar(c) => {
                self.insert(c);
                return true;
            }
            Action::CursorLeft => InputRequest::GoToPrevChar,
            Action::CursorRight => InputRequest::GoToNextChar,
            Action::WordLeft => InputRequest::GoToPrevWord,
            Action::WordRight => InputRequest::GoToNextWord,
            Action::LineStart => InputRequest::GoToStart,
            Action::LineEnd => InputRequest::GoToEnd,
            Action::DeleteBack => InputRequest::DeletePrevChar,
            Action::DeleteForward => InputRequest::DeleteNextChar,
            Action::DeleteWordBack => InputRequest::DeletePrevWord,
            Action::DeleteToStart => InputRequest::DeleteFromStart,
            Action::DeleteToEnd => InputRequest::DeleteTillEnd,
            _ => return false,
        };
        self.input.handle(request);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(f: &mut TextField, s: &str) {
        for c in s.chars() {
            f.edit(Action::InsertChar(c));
        }
    }

    #[test]
    fn edits_in_the_middle_and_by_word() {
        let mut f = TextField::new(100);
        typed(&mut f, "web-1 db");
        f.edit(Action::WordLeft);
        f.edit(Action::DeleteBack);
        assert_eq!(f.text(), "web-1db");
        f.edit(Action::LineStart);
        typed(&mut f, "^");
        assert_eq!((f.text(), f.cursor()), ("^web-1db", 1));
        f.edit(Action::DeleteForward);
        assert_eq!(f.text(), "^eb-1db");
        f.edit(Action::LineEnd);
        f.edit(Action::DeleteWordBack);
        assert!(
            f.text().starts_with("^eb-") && f.text().len() < 7,
            "{}",
            f.text()
        );
        f.edit(Action::DeleteToStart);
        assert_eq!(f.text(), "");
        assert!(!f.edit(Action::Submit), "not an editing action");
    }

    /// `/` on an active filter: the old text is selected, so typing replaces it, a delete
    /// removes it, and a cursor move keeps it for editing.
    #[test]
    fn a_selected_text_is_replaced_by_what_is_typed() {
        let mut f = TextField::with_text("web", 100);
        f.select_all();
        typed(&mut f, "db");
        assert_eq!((f.text(), f.is_selected()), ("db", false));
        let mut f = TextField::with_text("web", 100);
        f.select_all();
        f.edit(Action::DeleteBack);
        assert_eq!(f.text(), "");
        let mut f = TextField::with_text("web", 100);
        f.select_all();
        f.edit(Action::LineStart);
        typed(&mut f, "^");
        assert_eq!(f.text(), "^web");
        let mut f = TextField::with_text("web", 100);
        f.select_all();
        f.insert_str("pasted");
        assert_eq!(f.text(), "pasted");
        let mut empty = TextField::new(10);
        empty.select_all();
        assert!(!empty.is_selected());
    }

    #[test]
    fn capped_in_characters_and_scrolls() {
        let mut f = TextField::with_text("äöü", 4);
        typed(&mut f, "xyz");
        assert_eq!(f.text(), "äöüx");
        f.insert_str("more");
        assert_eq!(f.text(), "äöüx");
        let mut long = TextField::new(500);
        long.insert_str(&"a".repeat(100));
        let (cursor, scroll) = long.view(20);
        assert!(cursor < 20 && scroll > 0, "{cursor} {scroll}");
    }
}

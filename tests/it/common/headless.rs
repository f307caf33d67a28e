//! The console without a terminal: the app's own [`Core`] (the same sources, reducer, routing and
//! audit gate), with its messages pumped by the test and keys pressed on an injected clock. What a
//! test checks here is what the console does; only the terminal is missing.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use opsconsole::config::ClusterProfile;
use opsconsole::core::{Core, Effect, Event, Settings};
use opsconsole::model::{AuditEntry, Msg};
use opsconsole::state::State;
use tokio::sync::mpsc;

/// How long a frame with a dialog is shown before the next key: past the confirmation guard.
const LOOKED_AT: Duration = Duration::from_millis(300);

pub struct Headless {
    pub core: Core,
    rx: mpsc::Receiver<Msg>,
    /// The console's monotonic clock for keys and frames (moves only when the test presses keys).
    clock: Instant,
    /// Effects the core returned that a test may look at (quit, switch).
    pub quit: bool,
    /// Text the core asked the app to put on the clipboard (OSC 52), oldest first.
    pub clipboard: Vec<String>,
    /// Notifications the core asked the app to raise (title, body), oldest first.
    pub notifications: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Headless {
    /// The console on `profile`, its audit log in a fresh temporary directory.
    pub fn start(profile: ClusterProfile) -> Headless {
        Headless::with(profile, |_| {})
    }

    /// As [`start`](Self::start), with the settings adjusted first (readonly, user, …).
    pub fn with(profile: ClusterProfile, adjust: impl FnOnce(&mut Settings)) -> Headless {
        let dir = tempfile::tempdir().expect("tempdir for the audit log");
        let mut settings = Settings::for_profile(profile, dir.path().join("audit.log"), "tester");
        adjust(&mut settings);
        let (tx, rx) = mpsc::channel(1024);
        let core = Core::start(&settings, tx).expect("the console starts");
        Headless {
            core,
            rx,
            clock: Instant::now(),
            quit: false,
            clipboard: Vec::new(),
            notifications: Vec::new(),
            _dir: dir,
        }
    }

    pub fn state(&self) -> &State {
        &self.core.state
    }

    pub fn state_mut(&mut self) -> &mut State {
        &mut self.core.state
    }

    /// A fact from a source, handled as the app handles it.
    pub fn apply(&mut self, msg: Msg) {
        let effects = self.core.handle(Event::Msg(msg));
        self.effects(effects);
    }

    fn effects(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Quit => self.quit = true,
                Effect::Clipboard(text) => self.clipboard.push(text),
                Effect::Notify { title, body } => self.notifications.push((title, body)),
                _ => {}
            }
        }
    }

    /// The next message from the sources within `timeout` (not yet applied).
    pub async fn next(&mut self, timeout: Duration) -> Result<Option<Msg>, ()> {
        tokio::time::timeout(timeout, self.rx.recv())
            .await
            .map_err(|_| ())
    }

    /// Messages already waiting, without waiting for more.
    pub fn ready(&mut self) -> Option<Msg> {
        self.rx.try_recv().ok()
    }

    /// The next message within `d` and every one waiting behind it (not yet applied); Err once
    /// the sources are gone.
    pub async fn receive(&mut self, d: Duration) -> Result<Vec<Msg>, String> {
        let mut msgs = Vec::new();
        match self.next(d).await {
            Ok(Some(msg)) => msgs.push(msg),
            Ok(None) => return Err("the console's sources stopped".into()),
            Err(()) => return Ok(msgs),
        }
        while let Some(msg) = self.ready() {
            msgs.push(msg);
        }
        Ok(msgs)
    }

    /// A frame with what is open now has been on screen for a moment, then `key` is pressed: as
    /// a user reads a dialog before answering it.
    pub fn press(&mut self, key: &str) {
        self.clock += LOOKED_AT;
        let effects = self.core.handle(Event::FrameDrawn {
            at: self.clock,
            popups_visible: true,
        });
        self.effects(effects);
        self.clock += LOOKED_AT;
        let event = Event::Key {
            key: key_event(key),
            at: self.clock,
        };
        let effects = self.core.handle(event);
        self.effects(effects);
    }

    /// The app's clock tick (it sends one a few times a second): timed work such as the open
    /// detail's lease reads.
    pub fn tick(&mut self) {
        let effects = self.core.handle(Event::Tick(chrono::Utc::now()));
        self.effects(effects);
    }

    /// Each character of `text` as a key.
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.press(&c.to_string());
        }
    }

    /// Every line of the audit log, in order.
    pub fn audit(&self) -> Vec<AuditEntry> {
        let text = std::fs::read_to_string(self.core.audit_path()).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("audit line {l:?}: {e}")))
            .collect()
    }
}

/// A key as keymap files write it (`D`, `enter`, `ctrl-c`, `space`) as the terminal reports it.
pub fn key_event(name: &str) -> KeyEvent {
    let (mods, rest) = match name.strip_prefix("ctrl-") {
        Some(r) if !r.is_empty() => (KeyModifiers::CONTROL, r),
        _ => match name.strip_prefix("alt-") {
            Some(r) if !r.is_empty() => (KeyModifiers::ALT, r),
            _ => (KeyModifiers::NONE, name),
        },
    };
    let code = match rest {
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => KeyCode::BackTab,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "backspace" => KeyCode::Backspace,
        "delete" => KeyCode::Delete,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" => KeyCode::PageUp,
        "pagedown" => KeyCode::PageDown,
        "space" => KeyCode::Char(' '),
        s if s.chars().count() == 1 => KeyCode::Char(s.chars().next().unwrap_or(' ')),
        other => panic!("no such key in the tests' key names: {other:?}"),
    };
    let mods = match code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => mods | KeyModifiers::SHIFT,
        KeyCode::BackTab => mods | KeyModifiers::SHIFT,
        _ => mods,
    };
    KeyEvent::new(code, mods)
}

/// The screen of `state` drawn as the app draws it at `w`×`h` (default theme and keymap), as
/// text: what a user would read.
pub fn screen(state: &mut State, w: u16, h: u16) -> String {
    use ratatui::{backend::TestBackend, Terminal};
    let keymap = opsconsole::keymap::Keymap::resolve(None).expect("the default keymap");
    let theme = opsconsole::theme::Theme::resolve(Some("default"), None, false).expect("theme");
    let v = opsconsole::ui::layout::viewports(ratatui::layout::Rect::new(0, 0, w, h), state);
    opsconsole::state::set_viewports(state, v);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    terminal
        .draw(|f| opsconsole::ui::draw(f, state, &theme, &keymap))
        .expect("drawing");
    let buf = terminal.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>() + "\n")
        .collect()
}

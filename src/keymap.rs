//! keymaps/*.toml → key → Action, layered by context (pane section over `[global]`, `[confirm]` and
//! `[popup]` inside dialogs, `[input]` in a text field, `[form]` over `[input]` in a form). Built-in
//! keymaps are embedded; a user file is merged over the default. [`Keymap::action`] is the one
//! place a key becomes an action — a printable key a text field does not bind is typed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use toml::Spanned;

use crate::action::Action;
use crate::config::line_of;
use crate::model::run::{CustomCommand, Danger, RunScope};

/// An action's keymap name (`deregister`).
fn action_name(action: Action) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{action:?}"))
}

pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../keymaps/default.toml")),
    ("emacs", include_str!("../keymaps/emacs.toml")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Context {
    Global,
    Members,
    Checks,
    Metrics,
    Logs,
    Confirm,
    Popup,
    /// A text field: the filter, the command line.
    Input,
    /// A form (the silence form): its own keys, then the text field's.
    Form,
    /// The metrics chart.
    Chart,
    /// The logs pane's histogram (`H`).
    Histogram,
}

impl Context {
    const ALL: [(&'static str, Context); 11] = [
        ("global", Context::Global),
        ("members", Context::Members),
        ("checks", Context::Checks),
        ("metrics", Context::Metrics),
        ("logs", Context::Logs),
        ("confirm", Context::Confirm),
        ("popup", Context::Popup),
        ("input", Context::Input),
        ("form", Context::Form),
        ("chart", Context::Chart),
        ("histogram", Context::Histogram),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, c)| *c == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// A key as written in keymap files, normalised so `D` and shift-d are the same binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// KeyCode subset that is Ord (for stable help listings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Named(u8),
}

const NAMED: &[(&str, KeyCode)] = &[
    ("enter", KeyCode::Enter),
    ("esc", KeyCode::Esc),
    ("tab", KeyCode::Tab),
    ("backtab", KeyCode::BackTab),
    ("up", KeyCode::Up),
    ("down", KeyCode::Down),
    ("left", KeyCode::Left),
    ("right", KeyCode::Right),
    ("pageup", KeyCode::PageUp),
    ("pagedown", KeyCode::PageDown),
    ("home", KeyCode::Home),
    ("end", KeyCode::End),
    ("backspace", KeyCode::Backspace),
    ("delete", KeyCode::Delete),
    ("insert", KeyCode::Insert),
];

impl Key {
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            if let Some(r) = rest.strip_prefix("ctrl-").filter(|r| !r.is_empty()) {
                ctrl = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix("alt-").filter(|r| !r.is_empty()) {
                alt = true;
                rest = r;
            } else {
                break;
            }
        }
        if rest == "shift-tab" {
            rest = "backtab";
        }
        let code = if rest.chars().count() == 1 {
            let c = rest.chars().next().unwrap_or(' ');
            KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c })
        } else if rest == "space" {
            KeyCodeOrd::Char(' ')
        } else if let Some(i) = NAMED.iter().position(|(n, _)| *n == rest) {
            KeyCodeOrd::Named(i as u8)
        } else if let Some(n) = rest.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
            if (1..=12).contains(&n) {
                KeyCodeOrd::F(n)
            } else {
                return Err(format!("unknown key \"{s}\" (function keys are f1..f12)"));
            }
        } else {
            return Err(format!(
                "unknown key \"{s}\" — use one character, or one of: {} space f1..f12, with ctrl-/alt-",
                NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ")
            ));
        };
        Ok(Key { code, ctrl, alt })
    }

    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        let code = match ev.code {
            // Terminals send 0x1F for both ctrl-/ and ctrl-_ (crossterm reads it as ctrl-7): one
            // key, named as emacs names its undo.
            KeyCode::Char('7' | '/') if ctrl => KeyCodeOrd::Char('_'),
            KeyCode::Char(c) => KeyCodeOrd::Char(if ctrl { c.to_ascii_lowercase() } else { c }),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => {
                KeyCodeOrd::Named(NAMED.iter().position(|(n, _)| *n == "backtab")? as u8)
            }
            other => KeyCodeOrd::Named(NAMED.iter().position(|(_, c)| *c == other)? as u8),
        };
        Some(Key { code, ctrl, alt })
    }

    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.ctrl {
            s.push_str("ctrl-");
        }
        if self.alt {
            s.push_str("alt-");
        }
        match self.code {
            KeyCodeOrd::Char(' ') => s.push_str("space"),
            KeyCodeOrd::Char(c) => s.push(c),
            KeyCodeOrd::F(n) => s.push_str(&format!("f{n}")),
            KeyCodeOrd::Named(i) => {
                s.push_str(NAMED.get(i as usize).map(|(n, _)| *n).unwrap_or("?"))
            }
        }
        s
    }
}

#[derive(Debug, Clone, Default)]
pub struct Keymap {
    pub name: String,
    bindings: HashMap<Context, HashMap<Key, Action>>,
    /// The custom commands' help lines, by index: "NAME (mode, scope): program args".
    commands: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
#[error("keymap error in {origin} line {line}: {message}")]
pub struct KeymapError {
    pub origin: String,
    pub line: usize,
    pub message: String,
}

type RawKeymap = BTreeMap<String, BTreeMap<String, Spanned<String>>>;

impl Keymap {
    /// `spec` is a built-in name (`default`, `emacs`) or a path to a TOML file merged over the default.
    pub fn resolve(spec: Option<&str>) -> Result<Keymap, KeymapError> {
        let spec = spec.unwrap_or("default");
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
            let mut k = Self::parse(text, &format!("built-in keymap \"{name}\""), None)?;
            k.name = format!("\"{name}\" (built-in)");
            return Ok(k);
        }
        let path = crate::paths::expand_tilde(spec);
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| KeymapError {
            origin: origin.clone(),
            line: 0,
            message: format!(
                "cannot read it ({e}) — give a file path or one of the built-in keymaps: {}",
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
        let base = Self::parse(BUILTIN[0].1, "built-in keymap \"default\"", None)?;
        Self::parse(&text, &origin, Some(base))
    }

    pub fn parse(text: &str, origin: &str, base: Option<Keymap>) -> Result<Keymap, KeymapError> {
        let err = |offset: usize, message: String| KeymapError {
            origin: origin.to_string(),
            line: line_of(text, offset),
            message,
        };
        let raw: RawKeymap = toml::from_str(text).map_err(|e| {
            err(
                e.span().map(|s| s.start).unwrap_or(0),
                e.message().trim().to_string(),
            )
        })?;
        let mut map = base.unwrap_or_default();
        map.name = Path::new(origin)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| origin.to_string());
        for (section, entries) in raw {
            let Some((_, ctx)) = Context::ALL.iter().find(|(n, _)| *n == section) else {
                let at = entries.values().next().map(|v| v.span().start).unwrap_or(0);
                return Err(err(
                    at,
                    format!(
                        "unknown section [{section}] — sections are {}",
                        Context::ALL
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            let table = map.bindings.entry(*ctx).or_default();
            for (key_text, action) in entries {
                let at = action.span().start;
                let key = Key::parse(&key_text).map_err(|m| err(at, m))?;
                if action.get_ref() == "none" {
                    table.remove(&key);
                    continue;
                }
                let parsed: Action = serde_json::from_value(serde_json::Value::String(
                    action.get_ref().clone(),
                ))
                .map_err(|_| {
                    err(
                        at,
                        format!(
                            "unknown action \"{}\" for key \"{key_text}\" — see `opsconsole keys` or README for the list",
                            action.get_ref()
                        ),
                    )
                })?;
                table.insert(key, parsed);
            }
        }
        Ok(map)
    }

    /// The action for `key` in `ctx` as bound: pane contexts fall back to `[global]`, a form to
    /// `[input]`; dialogs and text fields have only their own keys.
    pub fn lookup(&self, ctx: Context, key: &Key) -> Option<Action> {
        let bound = |c: Context| self.bindings.get(&c).and_then(|t| t.get(key)).copied();
        let direct = bound(ctx);
        match ctx {
            Context::Confirm | Context::Popup | Context::Input | Context::Chart => direct,
            Context::Form => direct.or_else(|| bound(Context::Input)),
            _ => direct.or_else(|| bound(Context::Global)),
        }
    }

    /// What the key `ev` does in `ctx`, with the key's name (for hints): the bound action, or —
    /// in a text field or form — typing the character of any printable key not bound there.
    /// The one place a key becomes an action.
    pub fn action(&self, ctx: Context, ev: &KeyEvent) -> Option<(Action, String)> {
        let key = Key::from_event(ev)?;
        if let Some(action) = self.lookup(ctx, &key) {
            return Some((action, key.label()));
        }
        match (ctx, key.code) {
            (Context::Input | Context::Form, KeyCodeOrd::Char(c))
                if !key.ctrl && !key.alt && !c.is_control() =>
            {
                Some((Action::InsertChar(c), key.label()))
            }
            _ => None,
        }
    }

    /// Binds each custom command's `key` in the section of its scope (`[members]`, `[checks]`,
    /// `[logs]`, a cluster command in `[global]`). Refused, naming the clash: a key `[global]`
    /// binds (it would hide that key in the pane), a key the pane's own section binds, a key two
    /// commands want in one section; for a cluster command, any pane's key too.
    pub fn with_commands(&mut self, commands: &[CustomCommand]) -> Result<(), String> {
        self.commands.clear();
        for (i, c) in commands.iter().enumerate() {
            self.commands.push((
                c.name.clone(),
                format!(
                    "{} ({}, {}{}): {}",
                    c.name,
                    c.mode.name(),
                    c.scope.name(),
                    match c.danger {
                        Danger::None => "",
                        Danger::Confirm => ", confirm",
                        Danger::Typed => ", typed",
                    },
                    crate::model::run::shell_words(&c.argv)
                ),
            ));
            let Some(spelling) = &c.key else { continue };
            let key = Key::parse(spelling).map_err(|e| format!("command \"{}\": {e}", c.name))?;
            let ctx = match c.scope {
                RunScope::Member => Context::Members,
                RunScope::Check => Context::Checks,
                RunScope::LogLine => Context::Logs,
                RunScope::Cluster => Context::Global,
            };
            let mut sections = vec![Context::Global, ctx];
            if ctx == Context::Global {
                sections.extend([
                    Context::Members,
                    Context::Checks,
                    Context::Metrics,
                    Context::Logs,
                    Context::Histogram,
                ]);
            }
            for section in sections {
                if let Some(bound) = self.bindings.get(&section).and_then(|t| t.get(&key)) {
                    let what = match bound {
                        Action::RunCommand(j) => commands
                            .get(*j as usize)
                            .map(|o| format!("command \"{}\"", o.name))
                            .unwrap_or_default(),
                        a => format!("\"{}\"", action_name(*a)),
                    };
                    return Err(format!(
                        "command \"{}\": key \"{spelling}\" is already [{}] {what} in the keymap {} — pick another key (opsconsole keys lists them)",
                        c.name,
                        section.name(),
                        self.name
                    ));
                }
            }
            let index = u16::try_from(i).map_err(|_| "too many commands".to_string())?;
            self.bindings
                .entry(ctx)
                .or_default()
                .insert(key, Action::RunCommand(index));
        }
        Ok(())
    }

    /// The help line of custom command `index`.
    pub fn command_help(&self, index: u16) -> Option<&str> {
        self.commands.get(index as usize).map(|(_, h)| h.as_str())
    }

    /// (context, keys, action) rows for the help popup, grouped by action.
    pub fn help_rows(&self) -> Vec<(String, String, String)> {
        let mut rows = Vec::new();
        for (name, ctx) in Context::ALL {
            let Some(table) = self.bindings.get(&ctx) else {
                continue;
            };
            let mut by_action: BTreeMap<Action, Vec<String>> = BTreeMap::new();
            for (k, a) in table {
                by_action.entry(*a).or_default().push(k.label());
            }
            for (action, mut keys) in by_action {
                keys.sort();
                let what = match action {
                    Action::RunCommand(i) => {
                        format!("run {}", self.command_help(i).unwrap_or("a custom command"))
                    }
                    a => a.describe().to_string(),
                };
                rows.push((name.to_string(), keys.join(" "), what));
            }
            if ctx == Context::Global {
                for (name, help) in &self.commands {
                    rows.push((
                        "commands".to_string(),
                        format!(":cmd {name}"),
                        format!("show, then run {help}"),
                    ));
                }
            }
            if ctx == Context::Input {
                rows.push((
                    name.to_string(),
                    "any other key".to_string(),
                    Action::InsertChar(' ').describe().to_string(),
                ));
            }
        }
        rows
    }

    /// First key bound to `action` in `ctx` (or global), for hints in the status bar and dialogs.
    pub fn key_for(&self, ctx: Context, action: Action) -> Option<String> {
        let find = |c: Context| {
            self.bindings.get(&c).and_then(|t| {
                let mut keys: Vec<&Key> = t
                    .iter()
                    .filter(|(_, a)| **a == action)
                    .map(|(k, _)| k)
                    .collect();
                // Prefer the shortest spelling: "q" over "ctrl-c".
                keys.sort_by_key(|k| (k.label().len(), k.label()));
                keys.first().map(|k| k.label())
            })
        };
        find(ctx).or_else(|| find(Context::Global))
    }
}

/// Where a keymap spec points, for `opsconsole info`.
pub fn describe_spec(spec: Option<&str>) -> String {
    match spec {
        None => "built-in \"default\"".into(),
        Some(s) if BUILTIN.iter().any(|(n, _)| *n == s) => format!("built-in \"{s}\""),
        Some(s) => crate::paths::expand_tilde(s).display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> Key {
        Key::from_event(&KeyEvent::new(code, m)).unwrap()
    }

    #[test]
    fn every_builtin_parses() {
        for (name, _) in BUILTIN {
            Keymap::resolve(Some(name)).unwrap();
        }
    }

    /// In every built-in keymap: no two spellings in one section are the same key (the later
    /// would silently replace the earlier), and no pane section binds a key `[global]` binds (the
    /// pane's binding would hide the global one in that pane).
    #[test]
    fn builtin_sections_neither_repeat_nor_shadow_global_keys() {
        for (name, text) in BUILTIN {
            let raw: RawKeymap = toml::from_str(text).unwrap();
            let keys = |section: &str| -> Vec<(String, Key)> {
                raw.get(section)
                    .map(|t| {
                        t.keys()
                            .map(|k| (k.clone(), Key::parse(k).unwrap()))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            for (section, _) in Context::ALL {
                let mut seen: HashMap<Key, String> = HashMap::new();
                for (spelling, key) in keys(section) {
                    if let Some(before) = seen.insert(key, spelling.clone()) {
                        panic!("{name} [{section}]: \"{before}\" and \"{spelling}\" are one key");
                    }
                }
            }
            let global: HashMap<Key, String> =
                keys("global").into_iter().map(|(s, k)| (k, s)).collect();
            for section in ["members", "checks", "metrics", "logs", "histogram"] {
                for (spelling, key) in keys(section) {
                    assert!(
                        !global.contains_key(&key),
                        "{name} [{section}] \"{spelling}\" hides [global] \"{}\"",
                        global[&key]
                    );
                }
            }
        }
    }

    #[test]
    fn default_bindings() {
        let k = Keymap::resolve(None).unwrap();
        assert_eq!(
            k.lookup(
                Context::Members,
                &ev(KeyCode::Char('D'), KeyModifiers::SHIFT)
            ),
            Some(Action::Deregister)
        );
        assert_eq!(
            k.lookup(
                Context::Checks,
                &ev(KeyCode::Char('D'), KeyModifiers::SHIFT)
            ),
            None
        );
        assert_eq!(
            k.lookup(Context::Checks, &ev(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            k.lookup(Context::Global, &ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(
            k.lookup(
                Context::Global,
                &ev(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Action::Quit)
        );
        // dialogs do not fall through to global keys
        assert_eq!(
            k.lookup(
                Context::Confirm,
                &ev(KeyCode::Char('D'), KeyModifiers::SHIFT)
            ),
            None
        );
    }

    #[test]
    fn bad_action_names_the_line() {
        let e = Keymap::parse(
            "[global]\n\"q\" = \"quit\"\n\"x\" = \"explode\"\n",
            "my.toml",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("my.toml line 3") && e.contains("explode"), "{e}");
    }

    #[test]
    fn bad_key_and_section() {
        let e = Keymap::parse("[global]\n\"hyper-q\" = \"quit\"\n", "k", None).unwrap_err();
        assert_eq!(e.line, 2);
        let e = Keymap::parse("[nowhere]\n\"q\" = \"quit\"\n", "k", None).unwrap_err();
        assert!(e.message.contains("unknown section"), "{e}");
    }

    #[test]
    fn user_file_merges_over_default_and_unbinds() {
        let base = Keymap::resolve(None).unwrap();
        let k = Keymap::parse(
            "[global]\n\"x\" = \"quit\"\n\"q\" = \"none\"\n",
            "u",
            Some(base),
        )
        .unwrap();
        assert_eq!(
            k.lookup(Context::Global, &Key::parse("x").unwrap()),
            Some(Action::Quit)
        );
        assert_eq!(k.lookup(Context::Global, &Key::parse("q").unwrap()), None);
        assert_eq!(
            k.lookup(Context::Global, &Key::parse("j").unwrap()),
            Some(Action::Down)
        );
    }

    #[test]
    fn commands_bind_in_their_pane_and_never_over_a_bound_key() {
        use crate::model::run::{CustomCommand, Danger, RunMode, RunScope};
        let cmd = |name: &str, key: &str, scope| CustomCommand {
            name: name.into(),
            key: Some(key.into()),
            scope,
            argv: vec!["ssh".into(), "{addr}".into()],
            mode: RunMode::Foreground,
            danger: Danger::None,
        };
        let mut k = Keymap::resolve(None).unwrap();
        k.with_commands(&[
            cmd("ssh", "S", RunScope::Member),
            cmd("up", "ctrl-o", RunScope::Cluster),
        ])
        .unwrap();
        assert_eq!(
            k.lookup(Context::Members, &Key::parse("S").unwrap()),
            Some(Action::RunCommand(0))
        );
        assert_eq!(k.lookup(Context::Checks, &Key::parse("S").unwrap()), None);
        assert_eq!(
            k.lookup(Context::Logs, &Key::parse("ctrl-o").unwrap()),
            Some(Action::RunCommand(1))
        );
        assert!(k.help_rows().iter().any(|(c, keys, what)| c == "members"
            && keys == "S"
            && what.contains("run ssh (foreground, member)")));
        for (key, scope, clash) in [
            ("q", RunScope::Member, "[global] \"quit\""),
            ("D", RunScope::Member, "[members] \"deregister\""),
            ("f", RunScope::Cluster, "[logs] \"toggle_follow\""),
        ] {
            let mut k = Keymap::resolve(None).unwrap();
            let e = k.with_commands(&[cmd("ssh", key, scope)]).unwrap_err();
            assert!(e.contains(clash) && e.contains("command \"ssh\""), "{e}");
        }
        let mut k = Keymap::resolve(None).unwrap();
        let e = k
            .with_commands(&[
                cmd("a", "S", RunScope::Member),
                cmd("b", "S", RunScope::Member),
            ])
            .unwrap_err();
        assert!(e.contains("command \"a\""), "{e}");
    }
}

//! Custom commands (`[[commands]]`): the selection's placeholders filled in, the exact argument
//! list shown (`:cmd NAME`) or confirmed (`danger`), the attempt gated through the audit log; the
//! output popup, the Tasks popup. Spawning is the core's (`Command::Run`); this only decides.

use std::collections::BTreeMap;

use super::popup::{Change, Confirm};
use super::{Level, Popup, Scope, State};
use crate::model::run::{self, CustomCommand, Danger, RunMode, RunResult, RunScope, RunSpec};
use crate::model::{AuditId, Command, Member, Msg, Mutation, Phase};

/// The audit log's name for a run.
pub const AUDIT_ACTION: &str = "run command";

/// Rows piped to a `pipe` command at most.
const MAX_PIPE_ROWS: usize = 100_000;

/// Output lines kept for the popup.
const MAX_OUTPUT_LINES: usize = 50_000;

/// A command ready to run: its filled-in argument list and (pipe) its stdin.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub index: u16,
    pub name: String,
    pub argv: Vec<String>,
    pub mode: RunMode,
    pub stdin: Option<String>,
    /// Pipe: how many JSON lines go to stdin.
    pub rows: usize,
}

/// A finished capture (or pipe) run's output, for the popup.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub status: String,
    pub success: bool,
    pub truncated: bool,
    /// Sanitised lines.
    pub lines: Vec<String>,
    pub scroll: usize,
    /// The search (plain text, case-insensitive) and the matching line indexes.
    pub search: Option<String>,
    pub matches: Vec<usize>,
}

impl Output {
    fn new(name: String, result: RunResult) -> Output {
        let text = result.output.unwrap_or_default();
        let mut lines: Vec<String> = text
            .lines()
            .take(MAX_OUTPUT_LINES)
            .map(|l| crate::model::text::sanitize(&l.replace('\t', "    ")).into_owned())
            .collect();
        let cut = text.lines().count() > MAX_OUTPUT_LINES;
        if lines.is_empty() {
            lines.push("(no output)".into());
        }
        Output {
            name,
            status: result.status,
            success: result.success,
            truncated: result.truncated || cut,
            lines,
            scroll: 0,
            search: None,
            matches: Vec::new(),
        }
    }

    /// Searches for `text` (empty: no search) and shows the first match at or after the top line.
    pub fn search(&mut self, text: &str) -> Option<String> {
        let needle = text.to_lowercase();
        if needle.is_empty() {
            self.search = None;
            self.matches.clear();
            return None;
        }
        self.matches = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.to_lowercase().contains(&needle))
            .map(|(i, _)| i)
            .collect();
        self.search = Some(text.to_string());
        if self.matches.is_empty() {
            return Some(format!("\"{text}\" not found"));
        }
        self.step(true, true);
        Some(format!("{} lines match \"{text}\"", self.matches.len()))
    }

    /// The next (or previous) match from the top line; `here` counts the top line itself.
    pub fn step(&mut self, forward: bool, here: bool) {
        let at = self.scroll;
        let next = if forward {
            self.matches
                .iter()
                .find(|&&i| if here { i >= at } else { i > at })
                .or(self.matches.first())
        } else {
            self.matches
                .iter()
                .rev()
                .find(|&&i| i < at)
                .or(self.matches.last())
        };
        if let Some(&i) = next {
            self.scroll = i;
        }
    }
}

/// The command at `index`, run by its key (`preview`: `:cmd NAME`, which shows the argument list
/// first).
pub fn start(state: &mut State, index: u16, preview: bool) -> Vec<Command> {
    let Some(cmd) = state.commands.get(index as usize).cloned() else {
        state.say(Level::Error, "no such command");
        return Vec::new();
    };
    if cmd.danger != Danger::None && state.readonly {
        let target = format!("{} (not run)", cmd.name);
        let line = state.refusal(AUDIT_ACTION, target, "refused: readonly");
        state.say(
            Level::Warn,
            format!(
                "read-only session: command \"{}\" (danger = {}) refused",
                cmd.name,
                if cmd.danger == Danger::Typed {
                    "typed"
                } else {
                    "confirm"
                }
            ),
        );
        return vec![Command::Audit(line)];
    }
    if cmd.danger != Danger::None {
        if let Some(why) = super::time_cursor::refusal(state, &format!("command \"{}\"", cmd.name))
        {
            let target = format!("{} (not run)", cmd.name);
            let line = state.refusal(AUDIT_ACTION, target, "refused: not live (time cursor)");
            state.say(Level::Warn, why);
            return vec![Command::Audit(line)];
        }
    }
    let prepared = match prepare(state, index, &cmd) {
        Ok(p) => p,
        Err(why) => {
            state.say(Level::Error, format!("command \"{}\": {why}", cmd.name));
            return Vec::new();
        }
    };
    if preview {
        state.popup = Some(Popup::RunPreview(prepared));
        return Vec::new();
    }
    proceed(state, prepared)
}

/// `:cmd NAME`: the command named, shown before it runs; `:cmd` alone lists them.
pub fn by_name(state: &mut State, name: &str) -> Vec<Command> {
    if let Some(i) = state.commands.iter().position(|c| c.name == name) {
        return start(state, i as u16, true);
    }
    let names: Vec<&str> = state.commands.iter().map(|c| c.name.as_str()).collect();
    let text = if names.is_empty() {
        "no custom commands are configured ([[commands]] in the config)".to_string()
    } else if name.is_empty() {
        format!(":cmd NAME — one of: {}", names.join(", "))
    } else {
        format!("no command \"{name}\" — there are: {}", names.join(", "))
    };
    state.say(Level::Error, text);
    Vec::new()
}

/// After the preview (or at once): the confirmation its `danger` asks for, else the run.
pub fn proceed(state: &mut State, p: Prepared) -> Vec<Command> {
    let danger = state
        .commands
        .get(p.index as usize)
        .map_or(Danger::Confirm, |c| c.danger);
    match danger {
        Danger::None => launch(state, p),
        Danger::Confirm | Danger::Typed => {
            let name = p.name.clone();
            let confirm = Confirm {
                target: target(&p),
                change: Change::Run(Box::new(p)),
                typed: None,
            };
            state.popup = Some(Popup::Confirm(if danger == Danger::Typed {
                confirm.must_type(name)
            } else {
                confirm
            }));
            Vec::new()
        }
    }
}

/// What the dialog and the audit line name: the command and its exact argument list.
pub fn target(p: &Prepared) -> String {
    format!("{}: {}", p.name, run::shell_words(&p.argv))
}

/// The attempt recorded first, then the run (`Command::Run` once the audit log has it).
pub fn launch(state: &mut State, p: Prepared) -> Vec<Command> {
    let mut attempt = state.audit_line(Phase::Attempt, AUDIT_ACTION, target(&p));
    attempt.argv = Some(Box::new(p.argv.clone()));
    let spec = RunSpec {
        id: attempt.id.clone(),
        name: p.name.clone(),
        argv: p.argv,
        mode: p.mode,
        stdin: p.stdin,
    };
    let what = match p.mode {
        RunMode::Foreground => "running (the console is back when it exits)",
        RunMode::Capture | RunMode::Pipe => "running …",
        RunMode::Background => "starting in the background",
    };
    state.say(Level::Info, format!("{}: {what}", p.name));
    vec![state.audit.gate(attempt, Mutation::Run(Box::new(spec)))]
}

/// A run's facts: a background task started, a run ended (its outcome line; its output shown).
pub fn fact(state: &mut State, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::TaskStarted(task) => {
            let key = state.key(
                crate::keymap::Context::Global,
                crate::action::Action::Tasks,
                "&",
            );
            state.say(
                Level::Info,
                format!(
                    "{} runs in the background (pid {}) — {key} lists the tasks",
                    task.name, task.pid
                ),
            );
            state.tasks.push(task);
            Vec::new()
        }
        Msg::RunFinished { id, name, result } => finished(state, id, name, result),
        _ => Vec::new(),
    }
}

fn finished(state: &mut State, id: AuditId, name: String, result: RunResult) -> Vec<Command> {
    let was_task = state.tasks.iter().any(|t| t.id == id);
    state.tasks.retain(|t| t.id != id);
    let line = state.audit_outcome(&id, &result.status, None, || (AUDIT_ACTION, name.clone()));
    let level = if result.success {
        Level::Info
    } else {
        Level::Warn
    };
    if result.output.is_some() {
        let replace = matches!(
            state.popup,
            None | Some(Popup::Output(_)) | Some(Popup::RunPreview(_))
        );
        if replace {
            state.popup = Some(Popup::Output(Box::new(Output::new(
                name.clone(),
                result.clone(),
            ))));
        }
        state.say(level, format!("{name}: {}", result.status));
    } else if was_task {
        state.say(level, format!("task {name} ended: {}", result.status));
    } else {
        state.say(level, format!("{name}: {}", result.status));
    }
    vec![Command::Audit(line)]
}

/// The command's placeholders from the selection, its argument list, its stdin (pipe).
fn prepare(state: &State, index: u16, cmd: &CustomCommand) -> Result<Prepared, String> {
    let values = values(state, cmd.scope)?;
    let argv = run::expand(&cmd.argv, &values)?;
    let (stdin, rows) = if cmd.mode == RunMode::Pipe {
        let (text, rows) = pipe_rows(state, cmd.scope);
        (Some(text), rows)
    } else {
        (None, 0)
    };
    Ok(Prepared {
        index,
        name: cmd.name.clone(),
        argv,
        mode: cmd.mode,
        stdin,
        rows,
    })
}

/// `{cluster}`, `{time}`, the scoped member's fields, and the row of `scope` (refused when the
/// pane has no row selected).
pub fn values(state: &State, scope: RunScope) -> Result<BTreeMap<String, String>, String> {
    let mut v = base_values(state);
    match scope {
        RunScope::Cluster => {}
        RunScope::Member => {
            let m = state
                .members
                .selected()
                .ok_or("no member selected (a member command acts on the selected member)")?;
            member_values(m, &mut v);
        }
        RunScope::Check => {
            let r = state
                .checks
                .selected()
                .ok_or("no check selected (a check command acts on the selected check)")?;
            check_values(r, &mut v);
        }
        RunScope::LogLine => {
            let l = state
                .logs
                .selected()
                .ok_or("no log line selected (a log command acts on the selected line)")?;
            log_values(l, &mut v);
        }
    }
    Ok(v)
}

/// `{cluster}`, `{time}`, and the scoped member's values: `ssh {addr}` works from its checks and
/// logs too.
pub fn base_values(state: &State) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    v.insert("cluster".to_string(), state.cluster.clone());
    v.insert("time".to_string(), rfc3339(state.now));
    if let Scope::Member { key, .. } = &state.scope {
        if let Some(m) = state.members.get(key) {
            member_values(m, &mut v);
        }
    }
    v
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A member's placeholders: every scalar field of a JSON value, then `{key} {role} {instance}
/// {addr} {host}` (as the table reads them).
pub fn member_values(m: &Member, v: &mut BTreeMap<String, String>) {
    if let Ok(serde_json::Value::Object(map)) =
        serde_json::from_slice::<serde_json::Value>(m.value())
    {
        for (k, val) in map {
            if let Some(text) = scalar(&val) {
                v.insert(k, text);
            }
        }
    }
    v.insert("key".into(), m.key_text().to_string());
    v.insert("role".into(), m.role().to_string());
    v.insert("instance".into(), m.instance().to_string());
    let addr = m.addr().to_string();
    let host = match addr.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
            h.trim_start_matches('[').trim_end_matches(']').to_string()
        }
        _ => addr.clone(),
    };
    if !addr.is_empty() {
        v.insert("addr".into(), addr);
        v.insert("host".into(), host);
    }
}

fn scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn check_values(r: &crate::model::CheckResult, v: &mut BTreeMap<String, String>) {
    for (k, val) in &r.labels {
        v.insert(format!("label.{k}"), val.clone());
    }
    for (k, val) in &r.annotations {
        v.insert(format!("annotation.{k}"), val.clone());
    }
    v.insert("check".into(), r.check.clone());
    v.insert("entity".into(), r.entity.clone());
    v.insert(
        "status".into(),
        crate::model::status_label(r.status).to_string(),
    );
}

fn log_values(l: &crate::model::LogLine, v: &mut BTreeMap<String, String>) {
    for (k, val) in &l.fields {
        v.insert(format!("log.{k}"), val.to_owned());
    }
    v.insert("log.host".into(), l.host.to_string());
    v.insert("log.program".into(), l.program.to_string());
    v.insert("log.message".into(), l.message.clone());
    if let Some(t) = l.time {
        v.insert("log.time".into(), rfc3339(t));
        v.insert("time".into(), rfc3339(t));
    }
}

/// The pane's filtered rows as JSON lines (each row's placeholders as one object), and how many.
fn pipe_rows(state: &State, scope: RunScope) -> (String, usize) {
    let mut out = String::new();
    let mut n = 0;
    let mut push = |map: BTreeMap<String, String>| {
        if n < MAX_PIPE_ROWS {
            out.push_str(&serde_json::to_string(&map).unwrap_or_default());
            out.push('\n');
            n += 1;
        }
    };
    match scope {
        RunScope::Member | RunScope::Cluster => {
            for m in state.members.visible_rows(0, state.members.visible_len()) {
                let mut v = BTreeMap::new();
                member_values(m, &mut v);
                push(v);
            }
        }
        RunScope::Check => {
            for r in state.checks.visible_rows(0, state.checks.visible_len()) {
                let mut v = BTreeMap::new();
                check_values(r, &mut v);
                v.insert("output".into(), r.output.clone());
                push(v);
            }
        }
        RunScope::LogLine => {
            let (text, lines) = state.logs.export(true, crate::model::DisplayZone::Utc);
            return (text, lines.min(MAX_PIPE_ROWS));
        }
    }
    (out, n)
}

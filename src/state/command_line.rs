//! The `:` command line: what each command does to the state, or asks the I/O side to do.

use super::{input, Level, Popup, State};
use crate::model::Command;

/// The commands, as Tab completes them.
const COMMANDS: &[&str] = &[
    "at", "cluster", "cmd", "filter", "group", "health", "help", "hist", "incident", "journal",
    "keys", "live", "note", "q", "quit", "readonly", "resolved", "sort", "tasks", "theme", "w",
    "write", "zone",
];

/// What arguments complete to (filled in by the core at start: the state reads no config).
#[derive(Debug, Clone, Default)]
pub struct Completions {
    pub clusters: Vec<String>,
    pub themes: Vec<String>,
}

/// Runs one command line (without its `:`).
pub fn run(state: &mut State, line: &str) -> Vec<Command> {
    let mut words = line.split_whitespace();
    // What follows the command word, as typed (a filter may hold spaces).
    let rest = line
        .trim_start()
        .split_once(char::is_whitespace)
        .map_or("", |(_, r)| r.trim());
    match (words.next(), words.next(), words.next()) {
        (Some("q" | "quit" | "q!"), _, _) => vec![Command::Quit],
        (Some("health"), None, _) => {
            super::merged::health_popup(state);
            Vec::new()
        }
        (Some("cluster" | "ctx"), Some(arg), None) if state.merged() => {
            super::merged::narrow_by_name(state, arg);
            Vec::new()
        }
        (Some("cluster" | "ctx"), None, None) if state.merged() => {
            super::merged::open_narrow_picker(state);
            Vec::new()
        }
        (Some("cluster" | "ctx"), arg, None) => cluster_command(state, arg),
        (Some("cluster" | "ctx"), Some(_), Some(_)) => {
            state.say(
                Level::Error,
                "one cluster at a time: :cluster NAME, :cluster - (the previous one), or :cluster to pick",
            );
            Vec::new()
        }
        (Some(w @ ("w" | "w!" | "write" | "write!")), _, _) => {
            save_logs(state, rest, w.ends_with('!'))
        }
        (Some("help" | "keys"), _, _) => {
            state.popup = Some(Popup::Help { scroll: 0 });
            Vec::new()
        }
        (Some("filter"), _, _) => filter_command(state, rest),
        (Some("incident"), Some("start"), Some(name)) => super::incident::start(state, name),
        (Some("incident"), Some("end" | "stop"), None) => super::incident::end(state),
        (Some("incident"), _, _) => {
            let open = state
                .incident
                .as_ref()
                .map(|i| format!(" (open: {})", i.name))
                .unwrap_or_default();
            state.say(
                Level::Error,
                format!(":incident start NAME or :incident end{open}"),
            );
            Vec::new()
        }
        (Some("group"), Some(field), None) => {
            state.group_by = super::grouping::GroupBy::parse(field);
            state.focus = super::Pane::Checks;
            super::grouping::open(state);
            Vec::new()
        }
        (Some("resolved"), None, _) => {
            state.checks.toggle_hide_resolved();
            let n = state.checks.resolved_rows().count();
            state.say(
                Level::Info,
                if state.checks.hide_resolved {
                    "hiding recently resolved checks".to_string()
                } else {
                    format!("showing recently resolved checks: {n} in the last hour")
                },
            );
            Vec::new()
        }
        (Some("group"), None, _) => {
            state.focus = super::Pane::Checks;
            super::label_groups::open_picker(state);
            Vec::new()
        }
        (Some("group"), _, _) => {
            state.say(
                Level::Error,
                ":group FIELD — check, role, version, a field of the members' etcd values (zone, …), or alert labels (alertname,zone; one label: label:zone)",
            );
            Vec::new()
        }
        (Some("note"), _, _) => super::incident::note(state, rest),
        (Some("journal"), _, _) => {
            let (name, path) = match rest.split_once(char::is_whitespace) {
                Some((n, p)) => (Some(n.to_string()), Some(p.trim().to_string())),
                None if rest.is_empty() => (None, None),
                None => (Some(rest.to_string()), None),
            };
            match name.or_else(|| super::incident::current_or_last(state)) {
                Some(incident) => vec![Command::WriteJournal { incident, path }],
                None => {
                    state.say(
                        Level::Error,
                        ":journal [NAME [PATH]] — no incident in this session (:incident start NAME)",
                    );
                    Vec::new()
                }
            }
        }
        (Some("cmd"), _, _) => super::run::by_name(state, rest),
        (Some("at"), _, _) => super::time_cursor::at_command(state, rest),
        (Some("live"), None, _) => super::time_cursor::live(state),
        (Some("zone"), None, _) => {
            super::zone::cycle(state);
            Vec::new()
        }
        (Some("zone"), Some(name), None) => {
            super::zone::set_named(state, name);
            Vec::new()
        }
        (Some("hist" | "histogram"), None, _) => {
            state.focus = super::Pane::Logs;
            if state.logs.hist.open {
                Vec::new()
            } else {
                super::histogram::toggle(state)
            }
        }
        (Some("tasks"), None, _) => {
            state.popup = Some(Popup::Tasks { index: 0 });
            Vec::new()
        }
        (Some("sort"), Some(column), None) => {
            if let Err(why) = state.pane_mut().sort_by(column) {
                state.say(Level::Error, why);
            } else {
                let name = state.pane_mut().name();
                state.say(Level::Info, format!("{name} sorted by {column}"));
            }
            Vec::new()
        }
        (Some("sort"), _, _) => {
            let columns = state.pane_mut().sort_columns().join(", ");
            state.say(Level::Error, format!(":sort COLUMN — one of: {columns}"));
            Vec::new()
        }
        (Some("readonly"), None, _) => {
            if state.readonly {
                state.say(Level::Info, "already read-only");
            } else {
                state.readonly = true;
                state.say(
                    Level::Warn,
                    "read-only for the rest of this run: deregister, silence and unsilence are refused",
                );
            }
            Vec::new()
        }
        (Some("readonly"), Some(_), _) => {
            state.say(
                Level::Error,
                ":readonly turns read-only on for the rest of the run; nothing turns it off",
            );
            Vec::new()
        }
        (Some("theme"), Some(name), None) => vec![Command::SetTheme(name.to_string())],
        (Some("theme"), _, _) => {
            let themes = state.completions.themes.join(", ");
            state.say(
                Level::Error,
                format!(":theme NAME — one of: {themes}, or a theme file's path"),
            );
            Vec::new()
        }
        (None, _, _) => Vec::new(),
        _ => {
            state.say(
                Level::Error,
                format!("unknown command \":{line}\" — try :q, :cluster, :filter, :sort, :readonly, :theme, :keys, :w FILE, :cmd NAME, :tasks, :at TIME, :live (Tab completes)"),
            );
            Vec::new()
        }
    }
}

/// `:filter TEXT` sets the focused pane's filter (as `/` does), `:filter` alone clears it.
fn filter_command(state: &mut State, text: &str) -> Vec<Command> {
    let pane = state.pane_mut();
    if !pane.filterable() {
        let name = pane.name();
        state.say(Level::Info, format!("the {name} pane has no filter"));
        return Vec::new();
    }
    if let Err(why) = input::apply_filter(state, text) {
        state.say(Level::Error, why);
    } else if text.is_empty() {
        state.say(Level::Info, "filter cleared");
    }
    Vec::new()
}

/// `:cluster` opens the picker, `:cluster NAME` switches, `:cluster -` goes back to the previous
/// one. The app loads the target before leaving this one, so a bad name only costs a message.
/// A merged view narrows instead (see [`super::merged::narrow_by_name`]).
fn cluster_command(state: &mut State, arg: Option<&str>) -> Vec<Command> {
    let name = match arg {
        None => return vec![Command::ListClusters],
        Some("-") => match state.previous_cluster.clone() {
            Some(previous) => previous,
            None => {
                state.say(
                    Level::Error,
                    "no previous cluster: :cluster - goes back after a switch",
                );
                return Vec::new();
            }
        },
        Some(name) => name.to_string(),
    };
    if name == state.cluster {
        state.say(Level::Info, format!("already on cluster {name}"));
        return Vec::new();
    }
    vec![Command::SwitchCluster(name)]
}

/// Tab on the command line: the word before the cursor completed — a command, or the argument of
/// `:cluster`, `:theme` or `:sort` — as far as the candidates agree; when they part, the prompt
/// lists them.
pub fn complete(state: &mut State) {
    let Some(input) = state.input.as_ref() else {
        return;
    };
    let text = input.field.text().to_string();
    if input.field.cursor() != text.chars().count() {
        return;
    }
    let (head, word) = match text.rfind(' ') {
        Some(i) => (&text[..=i], &text[i + 1..]),
        None => ("", text.as_str()),
    };
    let command = head.split_whitespace().next();
    let candidates: Vec<String> = match (head.split_whitespace().count(), command) {
        (0, _) => COMMANDS.iter().map(|c| c.to_string()).collect(),
        (1, Some("cluster" | "ctx")) => {
            let mut c = state.completions.clusters.clone();
            c.push("-".into());
            c
        }
        (1, Some("theme")) => state.completions.themes.clone(),
        (1, Some("cmd")) => state.commands.iter().map(|c| c.name.clone()).collect(),
        (1, Some("sort")) => state
            .pane_mut()
            .sort_columns()
            .iter()
            .map(|c| c.to_string())
            .collect(),
        _ => Vec::new(),
    };
    let matches: Vec<&String> = candidates.iter().filter(|c| c.starts_with(word)).collect();
    let Some(input) = state.input.as_mut() else {
        return;
    };
    match matches.as_slice() {
        [] => input.hint = Some((Level::Info, "no completion".into())),
        [one] => {
            input.field.set(&format!("{head}{one} "));
            input.hint = None;
        }
        many => {
            let common = many.iter().skip(1).fold(many[0].to_string(), |acc, m| {
                acc.chars()
                    .zip(m.chars())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a)
                    .collect()
            });
            if common.len() > word.len() {
                input.field.set(&format!("{head}{common}"));
                input.hint = None;
            } else {
                let list: Vec<&str> = many.iter().map(|m| m.as_str()).collect();
                input.hint = Some((Level::Info, list.join("  ")));
            }
        }
    }
}

/// `:w PATH` / `:w! PATH`: the lines the logs pane shows (filter, threshold and scope applied),
/// as text or — for a `.jsonl` path — one JSON object per line. The I/O side writes the file and
/// refuses an existing one unless `!`.
fn save_logs(state: &mut State, path: &str, overwrite: bool) -> Vec<Command> {
    if path.is_empty() {
        state.say(
            Level::Error,
            ":w needs a file: :w /tmp/incident.log (text) or :w /tmp/incident.jsonl (JSON lines)",
        );
        return Vec::new();
    }
    let jsonl = path.ends_with(".jsonl");
    let (text, lines) = state.logs.export(jsonl, state.zone);
    vec![Command::SaveLogs {
        path: path.to_string(),
        text,
        lines,
        overwrite,
    }]
}

//! The `:` command line: what each command does to the state, or asks the I/O side to do.

use super::{Level, Popup, State};
use crate::model::Command;

/// Runs one command line (without its `:`).
pub fn run(state: &mut State, line: &str) -> Vec<Command> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("q" | "quit" | "q!"), _, _) => vec![Command::Quit],
        (Some("cluster" | "ctx"), arg, None) => cluster_command(state, arg),
        (Some("cluster" | "ctx"), Some(_), Some(_)) => {
            state.say(
                Level::Error,
                "one cluster at a time: :cluster NAME, :cluster - (the previous one), or :cluster to list them",
            );
            Vec::new()
        }
        (Some(w @ ("w" | "w!" | "write" | "write!")), _, _) => {
            let path = line[w.len()..].trim();
            save_logs(state, path, w.ends_with('!'))
        }
        (Some("help"), _, _) => {
            state.popup = Some(Popup::Help { scroll: 0 });
            Vec::new()
        }
        (None, _, _) => Vec::new(),
        _ => {
            state.say(
                Level::Error,
                format!("unknown command \":{line}\" — try :q, :cluster NAME, :help, :w FILE"),
            );
            Vec::new()
        }
    }
}

/// `:cluster` lists the clusters, `:cluster NAME` switches, `:cluster -` goes back to the previous
/// one. The app loads the target before leaving this one, so a bad name only costs a message.
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
    let (text, lines) = state.logs.export(jsonl, state.utc);
    vec![Command::SaveLogs {
        path: path.to_string(),
        text,
        lines,
        overwrite,
    }]
}

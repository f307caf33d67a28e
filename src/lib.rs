//! opsconsole: one terminal screen for a fleet registered in etcd — membership, checks, metrics,
//! logs — with deregister and silence.
//!
//! # The floors, each pointing down only
//!
//! ```text
//! main.rs, cli/      wiring; one-shot subcommands (snapshot, inventory) reusing the sources' fetches
//! app                terminal + tokio glue: events into the Core, effects out, frames drawn
//! core               Core::handle(Event) -> Vec<Effect>: the reducer's commands performed (audit
//!                    gate, routing to each SourceId's source, starting/stopping sources, :cluster)
//! ui/                draw(&State, &Theme, &Keymap): reads only; layout::viewports() is pure and is
//!                    handed back to the reducer before each frame
//! state/             the reducer: update (facts), handle_key (actions), set_viewports, tick;
//!                    panes behind PaneState, one ListCursor, one Confirm popup, text fields
//! sources/           one task per backend: etcd, checks/, metrics/, logs/, discovery, demo;
//!                    polled::run_polled runs every HTTP source (one request in flight, newest
//!                    wins, backoff, honest health)
//! model/             plain data shared by all: Member (keys are bytes), KvEntry, CheckResult,
//!                    Silence*, LogLine, Metrics*, Health, SourceId, Msg, Command, audit lines
//! config, keymap, theme, audit, file_append, clock, paths, peers, redact, memory, logging     leaves
//! ```
//!
//! `src/layers.rs` holds a test that reads the tree and fails when an arrow points up (say,
//! `crate::state` in `sources/`, `ratatui` in `state/`, a `Cell` in `ui/`).
//!
//! Data flows one way: a source sends [`model::Msg`]s on one bounded channel; the app hands each
//! to [`core::Core::handle`], which applies it with `state::update` and performs the
//! [`model::Command`]s that come back; a key becomes an [`action::Action`] in one place
//! (`keymap::Keymap::action`) and goes through the same `handle`. Identities are the backends'
//! raw values (etcd key bytes, label sets); the sanitised text is only for drawing.
//!
//! # Adding a log backend (say, VictoriaLogs)
//!
//! 1. `src/config.rs`: a variant of `LogsKind` with the settings it needs, its name in
//!    `LogsKind::name`, and an arm in `validate_logs` (the `kind = "…"` string, the checks that
//!    refuse a config that cannot work). `HttpKeys::backend` already reads url, auth, TLS,
//!    timeout and interval for every HTTP backend.
//! 2. `src/sources/logs/NAME.rs`: a type implementing `sources::logs::Tail` — `set_hosts` (the
//!    scope, applied server-side) and `poll` (the next page, continuing where the last ended,
//!    lines parsed with `logs::syslog` where the backend hands back raw lines). `Polling` runs
//!    it under `sources::polled::run_polled`: retries, health, newest scope wins.
//! 3. `src/sources/logs/mod.rs`: `pub mod NAME;` and one arm in `LogsSource::run`; one arm in
//!    `cli/snapshot.rs` (`read_history`) so `opsconsole snapshot` reads it the same way.
//! 4. `tests/it/common/log_servers.rs`: a contract server answering the backend's documented
//!    shapes (`../shared/CONTRACTS.md`), and a test in the logs module driving the real source.
//!
//! Nothing else changes: the pane, the reducer and discovery (`logs_from_json` shares the
//! parser) follow from these.

pub mod action;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod file_append;
pub mod held_hints;
pub mod journal;
pub mod keymap;
#[cfg(test)]
mod layers;
pub mod logging;
pub mod memory;
pub mod model;
pub mod paths;
pub mod peers;
pub mod redact;
pub mod sources;
pub mod state;

pub mod theme;
pub mod tty_hangup;
pub mod ui;
pub mod wheel;

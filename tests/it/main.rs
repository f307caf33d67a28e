//! The integration tests: one crate (one link), one module per feature. Real servers start on free
//! loopback ports inside each test and stop with it; a missing server binary fails the test
//! (`common::require_binary` names its Debian package), nothing is skipped. Every polling wait
//! goes through `common::wait` (one deadline, one "timed out after … waiting for: …"), and an
//! absence is asserted only after a positive sign that what could have appeared was processed.
//!
//! - Membership and etcd: `membership` (listing, watch, leases, resume, compaction, identity),
//!   `failover` (a 3-member cluster losing members), `deregister`, `discovery`, `guardrails`
//!   (dry run, typed confirmation, undo, bulk changes, extending a silence), `churn` (why members
//!   left, flapping, common-cause grouping, the incident journal).
//! - Checks, metrics, logs: `checks_backends`, `silence`, `metrics_backends`, `logs_backends`,
//!   `logs_formats` (every syslog/JSON format through a real rsyslog), `logs_navigation` (the logs
//!   pane's keys, :w, time jumps), `outages` (every polled source through four faults).
//! - The console in a real terminal: `tui` (screens and keys), `terminal` (the terminal given back
//!   after quit, signals, a closed terminal, panics; hostile bytes never reach it).
//! - Safety: `security` (readonly, secrets), `audit` (the audit log is the gate), `tls`, `config`
//!   (what cannot work is refused at start).
//! - `cli` (snapshot, inventory, closed pipes), `stack` (`scripts/stack` end to end).
//! - `conventions` (etcdctl's environment, system trust roots, rediss://, amtool's config, the
//!   profile's precedence, info/keys/completions/man, no drawing into a file), `command_line`
//!   (completion, history across runs, the cluster picker, :readonly, the filter prompt).
//! - `render_screen`, `render_panes` (insta snapshots of the drawn screen), `fuzz` (proptest).
//!
//! `common/` holds the harness: the servers, the headless console on the app's own `Core`, the tmux
//! driver, the shared `wait_until` and `require_binary`.

mod common;

mod audit;
mod checks_backends;
mod churn;
mod cli;
mod clock_jumps;
mod clusters;
mod command_line;
mod commands;
mod config;
mod conventions;
mod deregister;
mod discovery;
mod disk_full;
mod display_zone;
mod dns;
mod failover;
mod fuzz;
mod guardrails;
mod histogram;
mod karma;
mod log_records;
mod logs_backends;
mod logs_formats;
mod logs_navigation;
mod membership;
mod metrics_backends;
mod outages;
mod partitions;
mod render_demo;
mod render_panes;
mod render_screen;
mod resize;
mod security;
mod silence;
mod small_screen;
mod stack;
mod terminal;
mod time_cursor;
mod tls;
mod tls_failover;
mod tui;

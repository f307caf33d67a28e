//! Sources own their connection, retry/backoff and resume point. They send typed facts (`Msg`) into
//! one bounded channel and receive `Command`s on their own; they never touch `State`.
//!
//! - `etcd.rs` membership (list + watch), `etcd_at.rs` the members at a past revision, `discovery.rs` backends found under a prefix in etcd,
//!   `demo.rs` a simulated fleet.
//! - `checks/`, `metrics/`, `logs/`: one folder per pane, one file per backend; the folder's
//!   `mod.rs` dispatches to its backends and `common.rs` holds what they share (it imports none of
//!   them, so no backend imports the file that dispatches to it).
//! - `polled.rs` the one runner every polled HTTP backend goes through (checks, metrics,
//!   Elasticsearch, Loki): one request in flight, the newest query wins, honest health. Redis
//!   pushes and keeps its own loop in `logs/redis.rs`.
//! - `http.rs` clients, capped bodies, errors that say what to fix; `backoff.rs`; `supervise.rs`
//!   turns a source's panic into its pane failing; `own_thread.rs` the etcd sources' own thread
//!   and runtime.

pub mod backoff;
pub mod checks;
pub mod demo;
pub mod discovery;
pub mod etcd;
pub mod etcd_at;
pub mod http;
pub mod lease_polls;
pub mod listing_cuts;
pub mod listing_gate;
pub mod logs;
pub mod metrics;
pub mod own_thread;
pub mod polled;
pub mod quorum;
pub mod revclock;
pub mod supervise;

//! Sources own their connection, retry/backoff and resume point. They send typed facts (`Msg`) into
//! one bounded channel and receive `Command`s on their own; they never touch `State`.

pub mod backoff;
pub mod checks;
pub mod demo;
pub mod discovery;
pub mod etcd;
pub mod http;
pub mod logs;
pub mod metrics;
pub mod polled;
pub mod supervise;

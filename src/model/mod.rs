//! Plain data shared by every layer: what the sources report, what the state holds, what the
//! reducer asks for. Nothing here does I/O or knows about the terminal; nothing here imports
//! from `sources`, `state`, `ui`, `app` or `core` (a unit test in `crate::layers` reads the tree
//! to keep it so).
//!
//! Identities are the backend's own values — etcd key bytes, an alert's label set — never the
//! text drawn for them (see [`text`] for how that text is made safe).

mod audit;
mod check;
mod command;
mod errors;
pub mod format;
pub mod histogram;
pub mod inhibit;
pub mod journal;
pub mod json_view;
mod kv;
pub mod listing;
mod log;
mod log_fields;
mod member;
pub mod member_store;
pub mod member_value;
mod metrics;
mod msg;
pub mod mute;
mod natural;
mod paged;
pub mod prefetch;
pub mod revclock;
pub mod run;
mod severity;
pub mod sort_prefix;
mod source;
pub mod text;
pub mod typed_time;
pub mod zone;

pub use audit::{AuditEntry, AuditId, AuditMatcher, Phase, Recorded};
pub use check::{
    severity_of, status_label, status_runs, CheckResult, ChecksSnapshot, HistoryPoint, Leftover,
    Matcher, Shown, Silence, SilenceOutcome, SilenceRequest, SilenceScope, SilenceTarget,
    StatusRun, NO_ENTITY,
};
pub use command::{Command, Gated, Mutation, NotRecorded};
pub use errors::human_error;
pub use kv::{KvEntry, KvEvent};
pub use listing::Listing;
pub use log::{severity_from_name, LogLine, SenderZone, REREAD_AROUND, SEVERITY_NAMES};
pub use log_fields::{Fields, FieldsBuilder};
pub use member::{by_role_and_instance, default_order, Member};
pub use metrics::{MetricsQuery, MetricsResult, Points, Series, Window};
pub use msg::{
    DeregisterOutcome, LeaseKeys, Msg, Partial, PastMembers, PastUnknown, RestoreOutcome,
};
pub use natural::natural_cmp;
pub use severity::Severity;
pub use source::{ClusterId, Health, SourceId, SourceKind};
pub use zone::DisplayZone;

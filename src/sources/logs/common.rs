//! What the log backends share, kept apart from the dispatcher in `mod.rs` so that a backend never
//! imports the file that dispatches to it: how many lines go in one message, and page sizes.

/// Most lines per message to the UI.
pub const BATCH: usize = 2000;
/// Lines per page once the tail runs forward (Elasticsearch `size`, Loki `limit`).
pub const PAGE: usize = 1000;
/// Lines on the first poll (the newest of the last hour).
pub const FIRST_PAGE: usize = 500;

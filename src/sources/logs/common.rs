//! What the log backends share, kept apart from the dispatcher in `mod.rs` so that a backend never
//! imports the file that dispatches to it: how many lines go in one message, page sizes, and
//! [`Tail`] — what an HTTP log backend (Elasticsearch, Loki) provides — with [`Polling`], which
//! runs any tail under the shared runner (`sources::polled`).

use std::future::Future;

use chrono::{DateTime, Utc};
use reqwest::Client;

use crate::config::HttpBackend;
use crate::model::histogram::{HistAnswer, HistQuery};
use crate::model::{Command, LogLine, Msg};
use crate::sources::http::{self, HttpError};
use crate::sources::polled::{Answer, Polled};

/// Most lines per message to the UI.
pub const BATCH: usize = 2000;
/// Lines per page once the tail runs forward (Elasticsearch `size`, Loki `limit`).
pub const PAGE: usize = 1000;
/// Lines on the first poll (the newest of the last hour).
pub const FIRST_PAGE: usize = 500;

/// What one request of a tail brought.
#[derive(Debug, Default)]
pub struct Page {
    /// New lines, oldest first.
    pub lines: Vec<LogLine>,
    /// A warning (e.g. Elasticsearch shards that failed).
    pub notice: Option<String>,
    /// A full page came back: more is waiting.
    pub more: bool,
}

/// An HTTP log backend read as a tail: each request continues where the last one ended.
pub trait Tail: Send {
    /// The backend's name ("elasticsearch").
    const NAME: &'static str;

    /// Only lines from these hosts (empty: all), filtered server-side; a new scope starts over.
    fn set_hosts(&mut self, hosts: Vec<String>);

    /// Asks for the next page and applies the answer.
    fn poll(
        &mut self,
        client: &Client,
        backend: &HttpBackend,
    ) -> impl Future<Output = Result<Page, HttpError>> + Send;

    /// The lines (oldest first, at most a page) from [`AROUND`] before `at` to [`AROUND`] after,
    /// in the tail's scope, read once without moving the tail: a time jump's re-read.
    fn around(
        &self,
        client: &Client,
        backend: &HttpBackend,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<LogLine>, HttpError>> + Send;

    /// The histogram's aggregations for `query` (per bucket by severity class, the top hosts and
    /// programs), read once without moving the tail.
    fn histogram(
        &self,
        client: &Client,
        backend: &HttpBackend,
        query: &HistQuery,
    ) -> impl Future<Output = Result<HistAnswer, HttpError>> + Send;
}

/// How far around a time jump lines are read again.
pub use crate::model::REREAD_AROUND as AROUND;

/// A tail with its client, as the runner polls it.
pub struct Polling<T> {
    tail: T,
    client: Client,
    backend: HttpBackend,
}

impl<T: Tail> Polling<T> {
    pub fn new(tail: T, backend: &HttpBackend) -> anyhow::Result<Polling<T>> {
        Ok(Polling {
            tail,
            client: http::client(backend)?,
            backend: backend.clone(),
        })
    }
}

impl<T: Tail> Polled for Polling<T> {
    fn name(&self) -> &'static str {
        T::NAME
    }

    async fn poll_once(&mut self) -> Result<Answer, HttpError> {
        let page = self.tail.poll(&self.client, &self.backend).await?;
        Ok(Answer {
            msgs: page
                .lines
                .chunks(BATCH)
                .map(|chunk| Msg::LogLines(chunk.to_vec()))
                .collect(),
            notice: page.notice,
            more: page.more,
        })
    }

    /// A time jump's re-read (`Command::LogsAround`): answered with `Msg::LogsAround`.
    async fn mutate(&mut self, change: Command) -> Option<Msg> {
        match change {
            Command::LogsAround(at) => {
                let lines = self
                    .tail
                    .around(&self.client, &self.backend, at)
                    .await
                    .map_err(|e| format!("{}: {e}", T::NAME));
                Some(Msg::LogsAround { at, lines })
            }
            Command::LogsHistogram(query) => {
                let result = self
                    .tail
                    .histogram(&self.client, &self.backend, &query)
                    .await
                    .map_err(|e| match e {
                        // The pane has one line for it: what is wrong first, not the URL.
                        HttpError::Decode { reason, .. } => {
                            format!("{}: malformed histogram answer: {reason}", T::NAME)
                        }
                        other => format!("{}: {other}", T::NAME),
                    });
                Some(Msg::LogsHistogram { query, result })
            }
            _ => None,
        }
    }

    fn retarget(&mut self, query: Command) -> bool {
        match query {
            Command::LogsScope(hosts) => {
                self.tail.set_hosts(hosts.unwrap_or_default());
                true
            }
            _ => false,
        }
    }
}

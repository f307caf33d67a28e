//! Check results from Sensu Go, Sensu Core 1.x or Alertmanager, normalised to one shape, polled on an
//! interval with backoff; silences created and removed on command.

pub mod alertmanager;
pub mod common;
pub mod sensu_core;
pub mod sensu_go;

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::{info, warn};

use self::alertmanager::Alertmanager;
pub use self::common::SilenceError;
use self::sensu_core::SensuCore;
use self::sensu_go::SensuGo;
use crate::config::{ChecksKind, ChecksProfile};
use crate::model::{
    ChecksSnapshot, ClusterId, Command, Health, Leftover, Msg, Shown, Silence, SilenceOutcome,
    SilenceRequest, SourceId, SourceKind,
};
use crate::sources::backoff::Backoff;
use crate::sources::http::HttpError;

pub enum Backend {
    SensuGo(SensuGo),
    SensuCore(SensuCore),
    Alertmanager(Alertmanager),
}

impl Backend {
    pub fn new(profile: &ChecksProfile) -> anyhow::Result<Backend> {
        Ok(match profile.kind {
            ChecksKind::SensuGo => Backend::SensuGo(SensuGo::new(profile)?),
            ChecksKind::SensuCore => Backend::SensuCore(SensuCore::new(profile)?),
            ChecksKind::Alertmanager => Backend::Alertmanager(Alertmanager::new(profile)?),
        })
    }

    pub async fn poll(&mut self) -> Result<ChecksSnapshot, HttpError> {
        match self {
            Backend::SensuGo(b) => b.poll().await,
            Backend::SensuCore(b) => b.poll().await,
            Backend::Alertmanager(b) => b.poll().await,
        }
    }

    /// Creates a silence from the request's raw names; returns it as sent (with its id).
    pub async fn silence(&mut self, req: &SilenceRequest) -> Result<Silence, SilenceError> {
        match self {
            Backend::SensuGo(b) => Ok(b.silence(req).await?),
            Backend::SensuCore(b) => Ok(b.silence(req).await?),
            Backend::Alertmanager(b) => b.silence(req).await,
        }
    }

    /// Asks the backend whether `silence` (just created) covers what it targets.
    pub async fn confirm(&mut self, silence: &Silence) -> Result<Shown, HttpError> {
        match self {
            Backend::SensuGo(b) => b.confirm(silence).await,
            Backend::SensuCore(b) => b.confirm(silence).await,
            Backend::Alertmanager(b) => b.confirm(silence).await,
        }
    }

    pub async fn unsilence(&mut self, id: &str) -> Result<(), HttpError> {
        match self {
            Backend::SensuGo(b) => b.unsilence(id).await,
            Backend::SensuCore(b) => b.unsilence(id).await,
            Backend::Alertmanager(b) => b.unsilence(id).await,
        }
    }
}

pub struct ChecksSource {
    id: SourceId,
    profile: ChecksProfile,
    tx: mpsc::Sender<Msg>,
    cmds: mpsc::Receiver<Command>,
    backoff: Backoff,
}

impl ChecksSource {
    pub fn new(
        profile: ChecksProfile,
        tx: mpsc::Sender<Msg>,
        cmds: mpsc::Receiver<Command>,
    ) -> Self {
        ChecksSource {
            id: SourceKind::Checks.of(ClusterId::default()),
            profile,
            tx,
            cmds,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
        }
    }

    /// Which cluster this source serves (the first, unless told otherwise).
    pub fn in_cluster(mut self, cluster: ClusterId) -> Self {
        self.id = SourceKind::Checks.of(cluster);
        self
    }

    pub async fn run(mut self) {
        let mut backend = match Backend::new(&self.profile) {
            Ok(b) => b,
            Err(e) => {
                let _ = self
                    .tx
                    .send(Msg::Health(self.id, Health::Failed(format!("{e:#}"))))
                    .await;
                return;
            }
        };
        let _ = self.tx.send(Msg::Health(self.id, Health::Connecting)).await;
        let mut next_poll = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next_poll) => {
                    let wait = self.poll_once(&mut backend).await;
                    let Some(wait) = wait else { return };
                    next_poll = tokio::time::Instant::now() + wait;
                }
                cmd = self.cmds.recv() => {
                    let Some(cmd) = cmd else { return };
                    let (outcome, audit) = match cmd {
                        Command::Silence { request: req, audit } => (silence(&mut backend, req).await, audit),
                        Command::Unsilence { id, audit } => (match backend.unsilence(&id).await {
                            Ok(()) => SilenceOutcome::Removed { id },
                            Err(e) if e.means_gone() => SilenceOutcome::AlreadyGone { id, detail: e.to_string() },
                            Err(e) => SilenceOutcome::Failed { what: format!("unsilence {id}"), error: e.to_string() },
                        }, audit),
                        _ => continue,
                    };
                    info!(?outcome, audit_id = %audit.id(), "silence command");
                    let done = Msg::SilenceDone { outcome, audit_id: audit.id().clone() };
                    if self.tx.send(done).await.is_err() {
                        return;
                    }
                    // Show the backend's own view of the change at once.
                    next_poll = tokio::time::Instant::now();
                }
            }
        }
    }

    /// One poll; returns how long to wait before the next, or None when the UI is gone.
    async fn poll_once(&mut self, backend: &mut Backend) -> Option<Duration> {
        match backend.poll().await {
            Ok(snapshot) => {
                self.backoff.reset();
                self.tx
                    .send(Msg::ChecksSnapshot {
                        snapshot,
                        at: Utc::now(),
                    })
                    .await
                    .ok()?;
                self.tx
                    .send(Msg::Health(self.id, Health::Live))
                    .await
                    .ok()?;
                Some(self.profile.interval)
            }
            Err(e) => {
                let delay = self.backoff.next_delay().max(Duration::from_secs(1));
                warn!(error = %e, ?delay, kind = self.profile.kind.name(), "checks poll failed");
                let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                self.tx
                    .send(Msg::Health(
                        self.id,
                        Health::Retrying {
                            at,
                            attempt: self.backoff.attempt(),
                            error: format!("{}: {e}", self.profile.kind.name()),
                        },
                    ))
                    .await
                    .ok()?;
                Some(delay)
            }
        }
    }
}

/// Creates the silence, then reports it done only if the backend shows it on what it targets.
async fn silence(backend: &mut Backend, request: SilenceRequest) -> SilenceOutcome {
    let silence = match backend.silence(&request).await {
        Ok(s) => Box::new(s),
        Err(e) => {
            return SilenceOutcome::Failed {
                what: format!("silence {}", request.scope.describe()),
                error: e.to_string(),
            }
        }
    };
    let present = match backend.confirm(&silence).await {
        Ok(Shown::OnTarget) => return SilenceOutcome::Created { silence, request },
        Ok(Shown::Nothing { present }) => present,
        Err(e) => {
            return SilenceOutcome::Unconfirmed {
                silence,
                request,
                error: e.to_string(),
            }
        }
    };
    // A silence that covers nothing is expired again rather than left behind: the user confirmed
    // silencing the row on screen, not a standing rule; left active (up to ten years when "no
    // expiry" was picked) it would mute whatever alert comes to match it later, unseen in the
    // pane. Silencing again is one key away, and the outcome names its id either way.
    let leftover = if !present {
        Leftover::Absent
    } else {
        match backend.unsilence(&silence.id).await {
            Ok(()) => Leftover::Expired,
            Err(e) if e.means_gone() => Leftover::Absent,
            Err(e) => Leftover::Kept(e.to_string()),
        }
    };
    SilenceOutcome::MatchedNothing {
        silence,
        request,
        leftover,
    }
}

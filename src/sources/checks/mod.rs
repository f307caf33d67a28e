//! Check results from Sensu Go, Sensu Core 1.x or Alertmanager, normalised to one shape, polled on an
//! interval with backoff by the shared runner (`sources::polled`); silences created and removed on
//! command. [`Backend`] dispatches to the three backends (one file each); what they share lives in
//! `common.rs`, which imports none of them.

pub mod alertmanager;
pub mod common;
pub mod sensu_core;
pub mod sensu_go;

use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::info;

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
use crate::sources::polled::{run_polled, Answer, Polled};

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

    pub fn kind(&self) -> ChecksKind {
        match self {
            Backend::SensuGo(_) => ChecksKind::SensuGo,
            Backend::SensuCore(_) => ChecksKind::SensuCore,
            Backend::Alertmanager(_) => ChecksKind::Alertmanager,
        }
    }

    /// Everything the pane shows, read once: results and silences.
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

    /// Moves a silence's end to `until`; returns it as the backend now shows it.
    pub async fn extend(
        &mut self,
        silence: &Silence,
        until: chrono::DateTime<Utc>,
    ) -> Result<Silence, SilenceError> {
        match self {
            Backend::SensuGo(b) => b.extend(silence, until).await,
            Backend::SensuCore(b) => b.extend(silence, until).await,
            Backend::Alertmanager(b) => b.extend(silence, until).await,
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
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60))
                .with_floor(Duration::from_secs(1)),
        }
    }

    /// Which cluster this source serves (the first, unless told otherwise).
    pub fn in_cluster(mut self, cluster: ClusterId) -> Self {
        self.id = SourceKind::Checks.of(cluster);
        self
    }

    /// Polls the backend on the profile's interval through [`run_polled`] until the console is
    /// gone; silences and unsilences on command, each followed by a poll at once.
    pub async fn run(self) {
        let backend = match Backend::new(&self.profile) {
            Ok(b) => b,
            Err(e) => {
                let _ = self
                    .tx
                    .send(Msg::Health(self.id, Health::Failed(format!("{e:#}"))))
                    .await;
                return;
            }
        };
        run_polled(
            self.id,
            backend,
            self.profile.interval,
            self.backoff,
            self.tx,
            self.cmds,
        )
        .await
    }
}

impl Polled for Backend {
    fn name(&self) -> &'static str {
        self.kind().name()
    }

    async fn poll_once(&mut self) -> Result<Answer, HttpError> {
        let snapshot = self.poll().await?;
        Ok(Answer::facts(vec![Msg::ChecksSnapshot {
            snapshot,
            at: crate::clock::now(),
        }]))
    }

    async fn mutate(&mut self, change: Command) -> Option<Msg> {
        let (outcome, audit) = match change {
            Command::Silence { request, audit } => (silence(self, request).await, audit),
            Command::Unsilence { id, audit } => {
                let outcome = match self.unsilence(&id).await {
                    Ok(()) => SilenceOutcome::Removed { id },
                    Err(e) if e.means_gone() => SilenceOutcome::AlreadyGone {
                        id,
                        detail: e.to_string(),
                    },
                    Err(e) => SilenceOutcome::Failed {
                        what: format!("unsilence {id}"),
                        error: e.to_string(),
                    },
                };
                (outcome, audit)
            }
            Command::ExtendSilence {
                silence,
                until,
                audit,
            } => {
                let outcome = match self.extend(&silence, until).await {
                    Ok(after) => SilenceOutcome::Extended {
                        old_id: silence.id.clone(),
                        silence: Box::new(after),
                    },
                    Err(e) => SilenceOutcome::Failed {
                        what: format!("extend silence {}", silence.id),
                        error: e.to_string(),
                    },
                };
                (outcome, audit)
            }
            _ => return None,
        };
        info!(?outcome, audit_id = %audit.id(), "silence command");
        Some(Msg::SilenceDone {
            outcome,
            audit_id: audit.id().clone(),
        })
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

//! Discovery from etcd, the seed's own pattern: instances ask the configuration server where
//! monitoring and logging live. The console does the same for panes its profile leaves out: it
//! reads `<prefix>checks`, `<prefix>metrics` and `<prefix>logs` (JSON objects with the same keys
//! as the TOML tables) and follows changes to them live.

use chrono::Utc;
use etcd_client::{EventType, GetOptions, WatchOptions};
use tokio::sync::mpsc;
use tracing::warn;

use super::backoff::Backoff;
use super::etcd::connect;
use crate::config::EtcdProfile;
use crate::model::{ClusterId, Msg, SourceId, SourceKind};

pub struct DiscoverySource {
    profile: EtcdProfile,
    prefix: String,
    wanted: Vec<SourceKind>,
    cluster: ClusterId,
    tx: mpsc::Sender<Msg>,
}

fn key_name(kind: SourceKind) -> &'static str {
    kind.label()
}

impl DiscoverySource {
    pub fn new(
        profile: EtcdProfile,
        prefix: String,
        wanted: Vec<SourceKind>,
        tx: mpsc::Sender<Msg>,
    ) -> Self {
        DiscoverySource {
            profile,
            prefix,
            wanted,
            cluster: ClusterId::default(),
            tx,
        }
    }

    /// Which cluster's panes this discovers (the first, unless told otherwise).
    pub fn in_cluster(mut self, cluster: ClusterId) -> Self {
        self.cluster = cluster;
        self
    }

    fn pane_of(&self, key: &[u8]) -> Option<SourceId> {
        let k = std::str::from_utf8(key).ok()?.strip_prefix(&self.prefix)?;
        self.wanted
            .iter()
            .copied()
            .find(|kind| key_name(*kind) == k)
            .map(|kind| kind.of(self.cluster))
    }

    async fn announce(&self, pane: SourceId, value: Option<String>) -> bool {
        self.tx
            .send(Msg::Discovered {
                pane,
                value,
                at: Utc::now(),
            })
            .await
            .is_ok()
    }

    pub async fn run(self) {
        let mut backoff = Backoff::default();
        // What we last announced, so a reconnect does not restart sources needlessly.
        let mut known: std::collections::HashMap<SourceId, Option<String>> = Default::default();
        loop {
            match self.session(&mut known, &mut backoff).await {
                Ok(()) => return,
                Err(e) => {
                    warn!(error = %e, "discovery watch ended");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    }

    async fn session(
        &self,
        known: &mut std::collections::HashMap<SourceId, Option<String>>,
        backoff: &mut Backoff,
    ) -> anyhow::Result<()> {
        let mut client = connect(&self.profile).await?;
        let resp = client
            .get(
                self.prefix.as_bytes(),
                Some(GetOptions::new().with_prefix()),
            )
            .await?;
        let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
        for kind in &self.wanted {
            let id = &kind.of(self.cluster);
            let value = resp
                .kvs()
                .iter()
                .find(|kv| self.pane_of(kv.key()) == Some(*id))
                .map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
            // Nothing there and nothing announced before: nothing to say.
            let unchanged = known.get(id).cloned().unwrap_or(None) == value;
            if !unchanged {
                known.insert(*id, value.clone());
                if !self.announce(*id, value).await {
                    return Ok(());
                }
            }
        }
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision + 1);
        let mut stream = client.watch(self.prefix.as_bytes(), Some(opts)).await?;
        backoff.reset();
        while let Some(resp) = stream.message().await? {
            if resp.canceled() {
                anyhow::bail!("discovery watch cancelled: {}", resp.cancel_reason());
            }
            for ev in resp.events() {
                let Some(kv) = ev.kv() else { continue };
                let Some(id) = self.pane_of(kv.key()) else {
                    continue;
                };
                let value = match ev.event_type() {
                    EventType::Put => Some(String::from_utf8_lossy(kv.value()).into_owned()),
                    EventType::Delete => None,
                };
                if known.get(&id) != Some(&value) {
                    known.insert(id, value.clone());
                    if !self.announce(id, value).await {
                        return Ok(());
                    }
                }
            }
        }
        anyhow::bail!("discovery watch closed by the server")
    }
}

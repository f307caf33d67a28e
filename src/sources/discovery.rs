//! Discovery from etcd, the seed's own pattern: instances ask the configuration server where
//! monitoring and logging live. The console does the same for panes its profile leaves out: it
//! reads `<prefix>checks`, `<prefix>metrics` and `<prefix>logs` (JSON objects with the same keys
//! as the TOML tables) and follows changes to them live. `opsconsole snapshot` reads the same
//! entries once, with [`read_entries`].

use etcd_client::{EventType, GetOptions, KvClient, WatchOptions};
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

/// The pane among `wanted` that a discovery key names (`<prefix>checks` → checks).
fn kind_of(prefix: &str, wanted: &[SourceKind], key: &[u8]) -> Option<SourceKind> {
    let k = std::str::from_utf8(key).ok()?.strip_prefix(prefix)?;
    wanted.iter().copied().find(|kind| key_name(*kind) == k)
}

/// The discovery entries under `prefix`, read once.
#[derive(Debug, Clone, PartialEq)]
pub struct Entries {
    /// The store revision of the read (a watch for changes starts after it).
    pub revision: i64,
    /// Each wanted pane with its entry's value (JSON text), `None` when there is no entry.
    pub found: Vec<(SourceKind, Option<String>)>,
}

/// Reads the entries of the panes in `wanted` under `prefix` (`<prefix>checks`, …).
pub async fn read_entries(
    kv: &mut KvClient,
    prefix: &str,
    wanted: &[SourceKind],
) -> Result<Entries, etcd_client::Error> {
    let resp = kv
        .get(prefix.as_bytes(), Some(GetOptions::new().with_prefix()))
        .await?;
    let revision = resp.header().map(|h| h.revision()).unwrap_or(0);
    let found = wanted
        .iter()
        .map(|kind| {
            let value = resp
                .kvs()
                .iter()
                .find(|kv| kind_of(prefix, wanted, kv.key()) == Some(*kind))
                .map(|kv| String::from_utf8_lossy(kv.value()).into_owned());
            (*kind, value)
        })
        .collect();
    Ok(Entries { revision, found })
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
        kind_of(&self.prefix, &self.wanted, key).map(|kind| kind.of(self.cluster))
    }

    async fn announce(&self, pane: SourceId, value: Option<String>) -> bool {
        self.tx
            .send(Msg::Discovered {
                pane,
                value,
                at: crate::clock::now(),
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
        let Entries { revision, found } =
            read_entries(&mut client.kv_client(), &self.prefix, &self.wanted).await?;
        for (kind, value) in found {
            let id = &kind.of(self.cluster);
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

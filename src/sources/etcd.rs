//! Membership from etcd: a paged, consistent `get` of the prefix, then a watch from `revision + 1`.
//! Survives restarts (resume from the last seen revision + 1), compaction (re-list and reconcile),
//! dead peers (HTTP/2 keep-alive), and serves deregister, lease TTLs and key history on demand.

use std::time::Duration;

use chrono::Utc;
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, KeyValue,
    LeaseTimeToLiveOptions, PutOptions, TlsOptions, Txn, TxnOp, TxnOpResponse, WatchOptions,
    WatchResponse,
};
use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::backoff::Backoff;
pub use super::etcd_at::{read_members_at, Bounds};
use super::listing_gate::FirstRowsGate;
use super::quorum::{Quorum, Timing, Verdict};
use crate::config::EtcdProfile;
use crate::model::{
    default_order, ClusterId, Command, DeregisterOutcome, Health, KvEntry, KvEvent, LeaseKeys,
    Listing, Member, Msg, PastUnknown, RestoreOutcome, SourceId, SourceKind,
};

/// Keys in the first page of the initial listing before it was cut into key ranges; kept as the
/// size tests and benches compare with.
pub const PAGE_SIZE: i64 = 5_000;
/// Keys in the first page of a key range: most ranges are read whole in it.
pub(super) const FIRST_RANGE_PAGE: i64 = 200_000;
/// Byte budget of a page after a range's first: far below the 512 MiB decoding limit of the listing.
pub(super) const PAGE_BYTES: usize = 64 << 20;
/// Bounds for pages after the first. etcd 3.4 collects every key of the remaining range for each
/// ranged `get` and applies `limit` afterwards, so a page costs as much as the rest of the range:
/// 100k keys took ~550 ms in 5,000-key pages and ~260 ms in two pages (BENCHMARKS.md).
pub(super) const MIN_PAGE_SIZE: i64 = 256;
pub(super) const MAX_PAGE_SIZE: i64 = 400_000;
/// Most watch responses gathered into one message to the UI.
const COALESCE: usize = 1024;
/// How long the watch waits after a response for more to gather into the same UI message.
/// Background data is drawn at most every `BACKGROUND_FRAME` (900 ms) and a key redraws at
/// once with what has arrived, so a few milliseconds more are not seen.
pub const GATHER: Duration = Duration::from_millis(10);
/// Deadline for one-off requests (deregister, TTL, history) so a dead server never blocks the loop.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long etcd may take to answer a progress request before the session is given up: a frozen
/// or cut-off server is noticed within the keep-alive interval (the progress cadence) plus this.
const PROGRESS_ANSWER: Duration = Duration::from_secs(5);
const MAX_LEASES_POLLED: usize = 128;
const LEASE_TTL_TIMEOUT: Duration = Duration::from_secs(2);
/// etcd's default `--grpc-keepalive-min-time`: clients pinging more often are disconnected.
const MIN_PING_INTERVAL: Duration = Duration::from_secs(5);

pub struct EtcdSource {
    id: SourceId,
    profile: EtcdProfile,
    tx: mpsc::Sender<Msg>,
    cmds: mpsc::Receiver<Command>,
    /// Next revision to watch from; `None` until the first listing (and after a compaction).
    next_revision: Option<i64>,
    /// Leases of the rows on screen; a poller per session reads their TTLs every second.
    leases: tokio::sync::watch::Sender<Vec<i64>>,
    backoff: Backoff,
    /// The cluster the membership was listed from, as seen at the first connect.
    known: Option<KnownCluster>,
    /// Keys under the prefix at `next_revision - 1`, as this source has seen them (listing plus
    /// creates minus deletes), and one key with its mod_revision: what the continuity check asks
    /// the server to confirm before a watch resumes.
    count: i64,
    sample: Option<(Vec<u8>, i64)>,
    /// Why the next listing happens, to tell the user once it is done.
    relist_reason: Option<String>,
    /// When etcd last answered anything (watch message, progress, lease TTL): what the panes show
    /// as the age of the data once the session is lost.
    heard: Option<chrono::DateTime<Utc>>,
    /// Where revision clocks are kept (`None`: in memory only).
    clock_dir: Option<std::path::PathBuf>,
    /// Time → revision pairs of the cluster answering (see `model::revclock`).
    clock: Option<super::revclock::ClockFile>,
    /// The time pairs are recorded at (the system's; a test's own to put them at known times).
    now: crate::model::revclock::Now,
    /// The time cursor's range read in flight: a newer one aborts it (newest wins).
    members_at: Option<AbortOnDrop>,
    /// The endpoint of a session given up because its member could not confirm a quorum: the
    /// next connect tries it last.
    no_quorum_on: Option<String>,
}

/// Who answered a request: every etcd response header names its cluster and member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answerer {
    pub cluster_id: u64,
    pub member_id: u64,
}

/// The cluster the console listed: its id and the members it had at that connect (empty when
/// the member list could not be read, e.g. refused under auth).
#[derive(Debug, Clone)]
struct KnownCluster {
    cluster_id: u64,
    members: Vec<u64>,
}

/// What the session last told the console about its health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Nothing,
    Live,
    NoQuorum,
}

enum SessionEnd {
    /// The UI is gone; stop.
    Closed,
    /// History we needed was compacted: list again, immediately.
    Relist,
}

impl EtcdSource {
    pub fn new(profile: EtcdProfile, tx: mpsc::Sender<Msg>, cmds: mpsc::Receiver<Command>) -> Self {
        EtcdSource {
            id: SourceKind::Etcd.of(ClusterId::default()),
            profile,
            tx,
            cmds,
            next_revision: None,
            leases: tokio::sync::watch::Sender::new(Vec::new()),
            backoff: Backoff::default(),
            known: None,
            count: 0,
            sample: None,
            relist_reason: None,
            heard: None,
            clock_dir: None,
            clock: None,
            now: Default::default(),
            members_at: None,
            no_quorum_on: None,
        }
    }

    /// Keeps the revision clock in `dir` (one file per cluster id) across runs.
    pub fn with_clock_dir(mut self, dir: Option<std::path::PathBuf>) -> Self {
        self.clock_dir = dir;
        self
    }

    /// Takes the revision clock's times from `now` (tests: pairs at known times).
    pub fn with_revclock_now(mut self, now: crate::model::revclock::Now) -> Self {
        self.now = now;
        self
    }

    /// A response header's revision, for the revision clock (of the cluster that answered).
    fn observe_revision(&mut self, revision: i64) {
        if revision <= 0 {
            return;
        }
        if let Some(clock) = &mut self.clock {
            clock.observe(self.now.get(), revision);
        }
    }

    /// The clock of the cluster `who` belongs to, opened once its id is known.
    fn open_clock(&mut self, cluster_id: u64) {
        if self.clock.as_ref().map(|c| c.cluster_id) != Some(cluster_id) {
            self.clock = Some(super::revclock::ClockFile::open(
                self.clock_dir.as_deref(),
                cluster_id,
                self.now.get(),
            ));
        }
    }

    /// Where the listing's learned cuts for this cluster and prefix are kept, once the cluster is
    /// known (beside its revision clock).
    fn cuts_file(&self) -> Option<std::path::PathBuf> {
        let (dir, clock) = (self.clock_dir.as_deref()?, self.clock.as_ref()?);
        Some(super::listing_cuts::path_for(
            dir,
            clock.cluster_id,
            &self.profile.prefix,
        ))
    }

    /// `Command::MembersAt`: the prefix at the revision the clock maps `at` to, read in its own
    /// task; a newer request aborts the one in flight.
    fn members_at(&mut self, client: &Client, at: chrono::DateTime<Utc>) {
        let clock = self
            .clock
            .as_ref()
            .map(|c| c.clock.clone())
            .unwrap_or_default();
        let (client, tx, prefix) = (client.clone(), self.tx.clone(), self.profile.prefix.clone());
        self.members_at = Some(AbortOnDrop(tokio::spawn(async move {
            let bounds = super::etcd_at::Bounds::console();
            let result = read_members_at(client, &prefix, &clock, at, bounds).await;
            let _ = tx.send(Msg::MembersAt { at, result }).await;
        })));
    }

    /// Which cluster this source serves (the first, unless told otherwise).
    pub fn in_cluster(mut self, cluster: ClusterId) -> Self {
        self.id = SourceKind::Etcd.of(cluster);
        self
    }

    pub async fn run(mut self) {
        loop {
            match self.session().await {
                Ok(SessionEnd::Closed) => return,
                Ok(SessionEnd::Relist) => {
                    self.next_revision = None;
                }
                Err(e) => {
                    let error = format!("{e:#}");
                    let delay = self.backoff.next_delay();
                    warn!(%error, ?delay, "etcd session ended");
                    if let Some(at) = self.heard.take() {
                        let msg = Msg::LastAnswer {
                            source: self.id,
                            at,
                        };
                        if !self.send(msg).await {
                            return;
                        }
                    }
                    let at =
                        crate::clock::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                    if !self
                        .send(Msg::Health(
                            self.id,
                            Health::Retrying {
                                at,
                                attempt: self.backoff.attempt(),
                                error,
                            },
                        ))
                        .await
                    {
                        return;
                    }
                    if !self.wait_offline(delay).await {
                        return;
                    }
                }
            }
        }
    }

    async fn send(&self, msg: Msg) -> bool {
        self.tx.send(msg).await.is_ok()
    }

    /// Sleeps through a backoff while still answering commands (with a clear failure) so a
    /// deregister pressed during an outage is reported, not silently queued.
    async fn wait_offline(&mut self, delay: Duration) -> bool {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return true,
                cmd = self.cmds.recv() => match cmd {
                    None => return false,
                    Some(Command::Deregister { key, audit, .. }) => {
                        let msg = Msg::DeregisterDone {
                            key,
                            outcome: DeregisterOutcome::Failed("etcd is unreachable; nothing was deleted".into()),
                            audit_id: audit.id().clone(),
                        };
                        if !self.send(msg).await { return false; }
                    }
                    Some(Command::FetchHistory { key, .. }) => {
                        let msg = Msg::History { key, revisions: Err("etcd is unreachable".into()) };
                        if !self.send(msg).await { return false; }
                    }
                    Some(Command::LeaseInfo { lease }) => {
                        let msg = Msg::LeaseInfo { lease, info: Err("etcd is unreachable".into()) };
                        if !self.send(msg).await { return false; }
                    }
                    Some(Command::Restore { key, audit, .. }) => {
                        let msg = Msg::RestoreDone {
                            key,
                            outcome: RestoreOutcome::Failed("etcd is unreachable; nothing was put back".into()),
                            audit_id: audit.id().clone(),
                        };
                        if !self.send(msg).await { return false; }
                    }
                    Some(Command::WatchLeases(l)) => self.watch_leases(l),
                    Some(Command::MembersAt(at)) => {
                        let result = Err(PastUnknown::Failed("etcd is unreachable".into()));
                        if !self.send(Msg::MembersAt { at, result }).await { return false; }
                    }
                    Some(_) => {}
                },
            }
        }
    }

    async fn session(&mut self) -> anyhow::Result<SessionEnd> {
        if !self.send(Msg::Health(self.id, Health::Connecting)).await {
            return Ok(SessionEnd::Closed);
        }
        let connecting = std::time::Instant::now();
        let last = self.no_quorum_on.take();
        let (mut client, answerer, endpoint) =
            connect_trying_last(&self.profile, last.as_deref()).await?;
        let connected = connecting.elapsed();
        self.open_clock(answerer.cluster_id);
        if let Some(reason) = self.check_identity(&mut client, answerer).await {
            self.forget_position(reason);
        } else if let Some(next) = self.next_revision {
            // The same ids do not prove the same data: a fresh etcd started with the same name,
            // peer URLs and token gets the same cluster and member ids. Before resuming, ask the
            // server whether the prefix at our revision is what we hold.
            if let Some(reason) = self.continuity(&client, next - 1).await? {
                // Another history under the same ids: its revisions mean other times.
                if let Some(clock) = &mut self.clock {
                    clock.restart(self.now.get());
                }
                self.forget_position(reason);
            }
        }
        let start = match self.next_revision {
            Some(r) => r,
            None => {
                let prefix = self.profile.prefix.clone();
                let tx = self.tx.clone();
                // Progress is a courtesy: dropped rather than waited for when the channel is full.
                let progress = move |p: ListProgress<Member>| {
                    let _ = tx.try_send(Msg::MembersProgress {
                        revision: p.revision,
                        preview: p.preview,
                        listed: p.listed,
                        total: p.total,
                        at: crate::clock::now(),
                    });
                };
                let cuts_file = self.cuts_file();
                let hints = cuts_file
                    .as_deref()
                    .map(super::listing_cuts::load)
                    .unwrap_or_default();
                let (revision, parts) = list_prefix_parts(
                    &client,
                    &self.profile.prefix,
                    &hints,
                    move |e| Member::from_entry(&prefix, e, None),
                    |part: &mut Vec<Member>| part.sort_by(default_order),
                    progress,
                )
                .await?;
                let listed = connecting.elapsed();
                // The parts merged, indexed and counted here, on a blocking thread: the state
                // only swaps the prepared listing in (0.2–0.8 s of the UI thread's at 1M before).
                let (cluster, learn) = (self.id.cluster, cuts_file.is_some());
                let (members, cuts) = tokio::task::spawn_blocking(move || {
                    let keys = parts.iter().map(Vec::len).sum();
                    let cuts = learn.then(|| {
                        super::listing_cuts::learn_from(
                            keys,
                            parts.iter().flatten().map(|m| m.key()),
                        )
                    });
                    (Listing::prepare(cluster, parts), cuts)
                })
                .await
                .map_err(|e| anyhow::anyhow!("preparing the listing: {e}"))?;
                info!(
                    revision,
                    keys = members.len(),
                    connect_ms = connected.as_millis() as u64,
                    list_ms = (listed - connected).as_millis() as u64,
                    prepare_ms = (connecting.elapsed() - listed).as_millis() as u64,
                    "listed prefix"
                );
                if let (Some(path), Some(cuts)) = (cuts_file, cuts) {
                    super::listing_cuts::save(&path, &cuts);
                }
                self.count = members.len() as i64;
                self.sample = members.first().map(|m| (m.key().to_vec(), m.mod_revision));
                self.observe_revision(revision);
                if !self
                    .send(Msg::MembersListed {
                        revision,
                        members,
                        at: crate::clock::now(),
                    })
                    .await
                {
                    return Ok(SessionEnd::Closed);
                }
                if let Some(reason) = self.relist_reason.take() {
                    let text = format!("etcd cluster changed ({reason}) — listed again");
                    if !self.send(Msg::Alert(self.id, text)).await {
                        return Ok(SessionEnd::Closed);
                    }
                }
                self.next_revision = Some(revision + 1);
                revision + 1
            }
        };
        let opts = WatchOptions::new()
            .with_prefix()
            .with_start_revision(start)
            .with_progress_notify();
        let mut stream = client
            .watch(self.profile.prefix.as_bytes(), Some(opts))
            .await?;
        // A progress request every keep-alive interval doubles as a liveness probe (it also
        // advances the resume revision when the prefix is quiet): a watch that hears nothing for
        // that interval plus PROGRESS_ANSWER is given up. HTTP/2 pings alone took ~25 s to notice
        // a frozen etcd.
        let every = self.profile.keepalive.max(MIN_PING_INTERVAL);
        let mut progress = tokio::time::interval(every);
        progress.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        progress.reset();
        let silence_limit = every + PROGRESS_ANSWER;
        let mut deadline = tokio::time::Instant::now() + silence_limit;
        self.heard = Some(crate::clock::now());
        // The lease TTL reads go out on the quorum probe's beat (`lease_beat`), in the same
        // wake-up and on the same connection as a probe.
        let lease_beat = std::sync::Arc::new(tokio::sync::Notify::new());
        let _lease_poller = AbortOnDrop(tokio::spawn(poll_leases(
            client.clone(),
            self.leases.subscribe(),
            self.tx.clone(),
            lease_beat.clone(),
        )));
        // `Live` needs the watch created *and* a recent linearizable read answered (see
        // `quorum.rs`): the watch alone cannot tell a member cut off from its peers.
        let mut watch_created = false;
        let mut shown = Shown::Nothing;
        // Each probe's wait ends on a timer-wheel slot (`crate::wheel`): one wake-up a probe
        // instead of two, the probes still two a second and none later than its 500 ms grid.
        let mut quorum = Quorum::new(Timing::for_connect_timeout(self.profile.connect_timeout))
            .aligned(crate::wheel::slot_floor);
        let mut probes = futures::stream::FuturesUnordered::new();
        let mut confirmed_at = crate::clock::now();

        loop {
            tokio::select! {
                first = stream.message() => {
                    let Some(first) = first? else {
                        anyhow::bail!("watch stream closed by the server");
                    };
                    // A member without a quorum still answers progress requests: that is not
                    // news of the data, so the rows' age stays at the last confirmed read.
                    if shown != Shown::NoQuorum {
                        self.heard = Some(crate::clock::now());
                    }
                    deadline = tokio::time::Instant::now() + silence_limit;
                    let mut batch = vec![first];
                    // Gather what is already buffered so a burst becomes one UI message.
                    gather(&mut stream, &mut batch)?;
                    if batch.len() < COALESCE {
                        // etcd sends a response per revision, so a busy prefix arrives as a
                        // trickle of one-event responses: waking this task and the UI for each
                        // cost more than decoding them. Waiting a moment (well inside a frame)
                        // turns the trickle into one message; while asleep, only a no-op waker
                        // is registered with the stream, so its arrivals wake nobody.
                        tokio::time::sleep(GATHER).await;
                        gather(&mut stream, &mut batch)?;
                    }
                    let mut events = Vec::new();
                    for resp in batch {
                        if let Some(reason) = self.foreign_header(resp.header()) {
                            warn!(%reason, "watch answered by another cluster; re-listing");
                            self.flush(&mut events).await;
                            self.forget_position(reason);
                            return Ok(SessionEnd::Relist);
                        }
                        self.observe_revision(resp.header().map(|h| h.revision()).unwrap_or(0));
                        match self.classify(&resp) {
                            Reply::Created(store_revision) if store_revision < start - 1 => {
                                // The store is behind revisions we already saw: etcd was rebuilt or
                                // restored from an older backup. Watching from `start` would wait
                                // silently for revisions that will not come; list it afresh.
                                warn!(store_revision, start, "etcd revision went backwards; re-listing");
                                return Ok(SessionEnd::Relist);
                            }
                            Reply::Created(_) => {
                                if !watch_created {
                                    watch_created = true;
                                    self.backoff.reset();
                                    let verdict = quorum.verdict(tokio::time::Instant::now());
                                    if !self.show_quorum(&mut shown, watch_created, verdict, &quorum, confirmed_at).await {
                                        return Ok(SessionEnd::Closed);
                                    }
                                }
                            }
                            Reply::Compacted(rev) => {
                                warn!(rev, "watch start revision compacted; re-listing");
                                self.flush(&mut events).await;
                                return Ok(SessionEnd::Relist);
                            }
                            Reply::Canceled(reason) => {
                                self.flush(&mut events).await;
                                anyhow::bail!("watch cancelled by etcd: {reason}");
                            }
                            Reply::Progress(rev) => {
                                let next = self.next_revision.unwrap_or(0).max(rev + 1);
                                self.next_revision = Some(next);
                            }
                            Reply::Events => {
                                for e in take_events(resp) {
                                    let rev = self.track(&e);
                                    self.next_revision = Some(rev + 1);
                                    events.push(e);
                                }
                            }
                        }
                    }
                    if !self.flush(&mut events).await {
                        return Ok(SessionEnd::Closed);
                    }
                }
                cmd = self.cmds.recv() => {
                    let Some(cmd) = cmd else { return Ok(SessionEnd::Closed) };
                    if !self.handle_command(&mut client, cmd).await {
                        return Ok(SessionEnd::Closed);
                    }
                }
                _ = progress.tick() => {
                    stream.request_progress().await?;
                }
                Some((seq, outcome)) = probes.next(), if !probes.is_empty() => {
                    let outcome: Result<(), String> = outcome;
                    if outcome.is_ok() {
                        confirmed_at = crate::clock::now();
                    }
                    quorum.answered(seq, outcome);
                    let verdict = quorum.verdict(tokio::time::Instant::now());
                    if !self.show_quorum(&mut shown, watch_created, verdict, &quorum, confirmed_at).await {
                        return Ok(SessionEnd::Closed);
                    }
                }
                _ = tokio::time::sleep_until(quorum.next_wake(tokio::time::Instant::now())) => {
                    let now = tokio::time::Instant::now();
                    if let Some(seq) = quorum.send_due(now) {
                        probes.push(quorum_probe(&client, &self.profile.prefix, seq, quorum.timing().give_up()));
                        if lease_beat_on(seq) {
                            lease_beat.notify_one();
                        }
                    }
                    let verdict = quorum.verdict(now);
                    if let Verdict::Lost(why) = &verdict {
                        if quorum.abandon(now) {
                            // Kept this long, the watch has nothing more to give: another member
                            // may have the quorum (this one is tried last), and a reconnect
                            // resumes from the last revision.
                            self.no_quorum_on = Some(endpoint.clone());
                            anyhow::bail!("{why}; trying another member");
                        }
                    }
                    if !self.show_quorum(&mut shown, watch_created, verdict, &quorum, confirmed_at).await {
                        return Ok(SessionEnd::Closed);
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    anyhow::bail!(
                        "etcd did not answer for {} s (frozen or cut off)",
                        silence_limit.as_secs()
                    );
                }
            }
        }
    }

    /// Tells the console what the watch and the quorum probes say together, once per change:
    /// `Live` when the watch is created and the quorum confirmed; `Retrying` (the rows kept and
    /// aged from the last confirmed read) when the quorum is lost; nothing while pending.
    async fn show_quorum(
        &mut self,
        shown: &mut Shown,
        watch_created: bool,
        verdict: Verdict,
        quorum: &Quorum,
        confirmed_at: chrono::DateTime<Utc>,
    ) -> bool {
        match verdict {
            Verdict::Lost(error) if *shown != Shown::NoQuorum => {
                *shown = Shown::NoQuorum;
                warn!(%error, "etcd quorum not confirmed; the watch goes on");
                self.heard = Some(confirmed_at);
                let at = confirmed_at;
                if !self
                    .send(Msg::LastAnswer {
                        source: self.id,
                        at,
                    })
                    .await
                {
                    return false;
                }
                // The next probe is the next attempt: it goes out within one period.
                let retry = crate::clock::now()
                    + chrono::Duration::from_std(quorum.timing().every).unwrap_or_default();
                self.send(Msg::Health(
                    self.id,
                    Health::Retrying {
                        at: retry,
                        attempt: 1,
                        error,
                    },
                ))
                .await
            }
            Verdict::Confirmed if watch_created && *shown != Shown::Live => {
                if *shown == Shown::NoQuorum {
                    info!("etcd quorum confirmed again");
                }
                *shown = Shown::Live;
                self.heard = Some(crate::clock::now());
                self.send(Msg::Health(self.id, Health::Live)).await
            }
            _ => true,
        }
    }

    /// Listing again from scratch, and why (told to the user once the listing is done).
    fn forget_position(&mut self, reason: String) {
        warn!(%reason, "etcd cluster changed; re-listing");
        self.next_revision = None;
        self.relist_reason = Some(reason);
    }

    /// Compares who answered with the cluster the membership came from. The first connect
    /// records it; later, another cluster id, or a member that was not in that cluster, means the
    /// address now leads somewhere else (a normal failover inside the cluster does not re-list).
    async fn check_identity(&mut self, client: &mut Client, who: Answerer) -> Option<String> {
        let reason = match &self.known {
            None => None,
            Some(k) if k.cluster_id != who.cluster_id => Some(format!(
                "cluster id {:x}, was {:x}",
                who.cluster_id, k.cluster_id
            )),
            Some(k) if !k.members.is_empty() && !k.members.contains(&who.member_id) => {
                Some(format!("member {:x} was not in the cluster", who.member_id))
            }
            Some(_) => return None,
        };
        let members = match tokio::time::timeout(REQUEST_TIMEOUT, client.member_list()).await {
            Ok(Ok(list)) => list.members().iter().map(|m| m.id()).collect(),
            Ok(Err(e)) => {
                debug!(error = %e, "member list unavailable; checking the cluster id only");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        self.known = Some(KnownCluster {
            cluster_id: who.cluster_id,
            members,
        });
        reason
    }

    /// A watch header from a cluster other than the one listed (the ids are in every header).
    fn foreign_header(&self, header: Option<&etcd_client::ResponseHeader>) -> Option<String> {
        let (h, k) = (header?, self.known.as_ref()?);
        (h.cluster_id() != 0 && h.cluster_id() != k.cluster_id)
            .then(|| format!("cluster id {:x}, was {:x}", h.cluster_id(), k.cluster_id))
    }

    /// Whether the server still holds what we hold at `revision`: the number of keys under the
    /// prefix and one key's mod_revision. `Some(reason)` when not.
    async fn continuity(&self, client: &Client, revision: i64) -> anyhow::Result<Option<String>> {
        let mut kv = client.kv_client();
        let prefix = self.profile.prefix.as_bytes().to_vec();
        let opts = GetOptions::new()
            .with_prefix()
            .with_count_only()
            .with_revision(revision);
        let counted = match tokio::time::timeout(REQUEST_TIMEOUT, kv.get(prefix, Some(opts))).await
        {
            Ok(Ok(r)) => r.count(),
            Ok(Err(e)) if e.to_string().contains("future revision") => {
                return Ok(Some(format!("it has no revision {revision} yet")));
            }
            // Compacted: the watch from there would fail too; list again quietly.
            Ok(Err(e)) if e.to_string().contains("compacted") => {
                return Ok(Some(format!("revision {revision} compacted meanwhile")));
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => anyhow::bail!("etcd did not answer the continuity check within 5 s"),
        };
        if counted != self.count {
            return Ok(Some(format!(
                "{counted} keys at revision {revision}, the console had {}",
                self.count
            )));
        }
        if let Some((key, mod_revision)) = &self.sample {
            let opts = GetOptions::new().with_revision(revision).with_keys_only();
            let got = tokio::time::timeout(REQUEST_TIMEOUT, kv.get(key.clone(), Some(opts)))
                .await
                .map_err(|_| anyhow::anyhow!("etcd did not answer the continuity check"))??;
            let theirs = got.kvs().first().map(|kv| kv.mod_revision());
            if theirs != Some(*mod_revision) {
                return Ok(Some(format!(
                    "{} differs at revision {revision}",
                    crate::model::text::escape_bytes(key)
                )));
            }
        }
        Ok(None)
    }

    /// Keeps the count and the sample key in step with a watch event; returns its revision.
    fn track(&mut self, e: &KvEvent) -> i64 {
        match e {
            KvEvent::Put(p) => {
                if p.version == 1 {
                    self.count += 1;
                }
                self.sample = Some((p.key.clone(), p.mod_revision));
                p.mod_revision
            }
            KvEvent::Delete { key, mod_revision } => {
                self.count = (self.count - 1).max(0);
                if self.sample.as_ref().is_some_and(|(k, _)| k == key) {
                    self.sample = None;
                }
                *mod_revision
            }
        }
    }

    fn watch_leases(&mut self, mut leases: Vec<i64>) {
        leases.truncate(MAX_LEASES_POLLED);
        self.leases.send_replace(leases);
    }

    async fn flush(&self, events: &mut Vec<KvEvent>) -> bool {
        if events.is_empty() {
            return true;
        }
        let events = std::mem::take(events);
        debug!(n = events.len(), "watch events");
        self.send(Msg::MembersEvents {
            events,
            at: crate::clock::now(),
        })
        .await
    }

    fn classify(&self, resp: &WatchResponse) -> Reply {
        if resp.canceled() {
            if resp.compact_revision() > 0 {
                return Reply::Compacted(resp.compact_revision());
            }
            return Reply::Canceled(if resp.cancel_reason().is_empty() {
                "no reason given".into()
            } else {
                resp.cancel_reason().to_string()
            });
        }
        if resp.created() {
            return Reply::Created(resp.header().map(|h| h.revision()).unwrap_or(0));
        }
        if resp.events().is_empty() {
            let rev = resp.header().map(|h| h.revision()).unwrap_or(0);
            if rev != 0 {
                return Reply::Progress(rev);
            }
        }
        Reply::Events
    }

    async fn handle_command(&mut self, client: &mut Client, cmd: Command) -> bool {
        match cmd {
            Command::Deregister {
                key,
                mod_revision,
                revoke_lease,
                audit,
            } => {
                let outcome = match tokio::time::timeout(
                    REQUEST_TIMEOUT,
                    deregister(client, &key, mod_revision, revoke_lease),
                )
                .await
                {
                    Ok(o) => o,
                    Err(_) => DeregisterOutcome::Failed(
                        "etcd did not answer within 5 s; the key may or may not be deleted — check it".into(),
                    ),
                };
                info!(key = %crate::model::text::escape_bytes(&key), ?outcome, audit_id = %audit.id(), "deregister");
                self.send(Msg::DeregisterDone {
                    key,
                    outcome,
                    audit_id: audit.id().clone(),
                })
                .await
            }
            Command::FetchHistory { key, mod_revision } => {
                let revisions =
                    tokio::time::timeout(REQUEST_TIMEOUT, history(client, &key, mod_revision))
                        .await
                        .unwrap_or_else(|_| Err("etcd did not answer within 5 s".into()));
                self.send(Msg::History { key, revisions }).await
            }
            Command::WatchLeases(leases) => {
                self.watch_leases(leases);
                true
            }
            Command::MembersAt(at) => {
                self.members_at(client, at);
                true
            }
            Command::LeaseInfo { lease } => {
                let info = tokio::time::timeout(REQUEST_TIMEOUT, lease_keys(client, lease))
                    .await
                    .unwrap_or_else(|_| Err("etcd did not answer within 5 s".into()));
                self.send(Msg::LeaseInfo { lease, info }).await
            }
            Command::Restore {
                key,
                value,
                lease,
                ttl,
                audit,
            } => {
                let outcome = tokio::time::timeout(
                    REQUEST_TIMEOUT,
                    restore(client, &key, &value, lease, ttl),
                )
                .await
                .unwrap_or_else(|_| {
                    RestoreOutcome::Failed(
                        "etcd did not answer within 5 s; the key may or may not be back — check it"
                            .into(),
                    )
                });
                info!(key = %crate::model::text::escape_bytes(&key), ?outcome, audit_id = %audit.id(), "restore");
                self.send(Msg::RestoreDone {
                    key,
                    outcome,
                    audit_id: audit.id().clone(),
                })
                .await
            }
            _ => true,
        }
    }
}

/// A lease's remaining TTL and the keys on it. Under auth, reading another user's lease may be
/// refused: that is said as `permission denied`, never as a lease with no keys.
pub async fn lease_keys(client: &mut Client, lease: i64) -> Result<LeaseKeys, String> {
    match client
        .lease_time_to_live(lease, Some(LeaseTimeToLiveOptions::new().with_keys()))
        .await
    {
        Ok(r) => {
            // etcd lists them in no promised order: sorted, the dialog reads the same each time.
            let mut keys = r.keys().to_vec();
            keys.sort();
            Ok(LeaseKeys { ttl: r.ttl(), keys })
        }
        Err(e)
            if e.to_string()
                .to_ascii_lowercase()
                .contains("permission denied") =>
        {
            Err("permission denied".into())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Puts `key` back (undo of a deregister) only if it does not exist; on `lease` while it lives,
/// else on a new lease of `ttl` seconds that nobody keeps alive (so the key goes again unless
/// the instance registers itself), without a lease when it had none.
pub async fn restore(
    client: &mut Client,
    key: &[u8],
    value: &[u8],
    lease: i64,
    ttl: i64,
) -> RestoreOutcome {
    let mut on = 0;
    let mut left = ttl;
    if lease != 0 {
        if let Ok(r) = client.lease_time_to_live(lease, None).await {
            if r.ttl() > 0 {
                on = lease;
                left = r.ttl();
            }
        }
    }
    let mut granted = false;
    if on == 0 && lease != 0 && ttl > 0 {
        match client.lease_grant(ttl, None).await {
            Ok(r) => {
                on = r.id();
                granted = true;
            }
            Err(e) => return RestoreOutcome::Failed(format!("granting a lease: {e}")),
        }
    }
    let put = (on != 0).then(|| PutOptions::new().with_lease(on));
    let txn = Txn::new()
        .when(vec![Compare::create_revision(key, CompareOp::Equal, 0)])
        .and_then(vec![TxnOp::put(key, value, put)]);
    match client.txn(txn).await {
        Ok(r) if r.succeeded() => RestoreOutcome::Restored {
            lease: on,
            new_lease: granted,
            ttl: if on == 0 { 0 } else { left },
        },
        Ok(_) => {
            if granted {
                // Nothing was put on it: it must not linger.
                let _ = client.lease_revoke(on).await;
            }
            RestoreOutcome::Reregistered
        }
        Err(e) => RestoreOutcome::Failed(e.to_string()),
    }
}

enum Reply {
    /// With the store's revision when the watcher was created.
    Created(i64),
    Compacted(i64),
    Canceled(String),
    Progress(i64),
    Events,
}

pub async fn connect(profile: &EtcdProfile) -> anyhow::Result<Client> {
    connect_answered(profile).await.map(|(client, _)| client)
}

/// [`connect`], with the cluster and member that answered the probe.
pub async fn connect_answered(profile: &EtcdProfile) -> anyhow::Result<(Client, Answerer)> {
    connect_trying_last(profile, None)
        .await
        .map(|(client, who, _)| (client, who))
}

/// The endpoints in the order a connect tries them: the profile's, with `last` (a member just
/// left for want of a quorum) moved to the end, so the connect does not first wait out the
/// connect timeout on it.
fn endpoint_order<'a>(endpoints: &'a [String], last: Option<&str>) -> Vec<&'a str> {
    let (mut order, tail): (Vec<&str>, Vec<&str>) = endpoints
        .iter()
        .map(String::as_str)
        .partition(|e| Some(*e) != last);
    order.extend(tail);
    order
}

/// [`connect_answered`], trying `last` after the others; also says which endpoint answered.
async fn connect_trying_last(
    profile: &EtcdProfile,
    last: Option<&str>,
) -> anyhow::Result<(Client, Answerer, String)> {
    // etcd (grpc-go) answers pings closer than `--grpc-keepalive-min-time` (default 5 s) on an idle
    // stream with GOAWAY "too_many_pings": a shorter interval would drop the watch every few seconds.
    let mut opts = ConnectOptions::new()
        .with_keep_alive(
            profile.keepalive.max(MIN_PING_INTERVAL),
            profile.keepalive.min(Duration::from_secs(5)),
        )
        .with_keep_alive_while_idle(true)
        // A member that lost its quorum (partitioned, or its peers down) still serves a watch but
        // never sends another event: the pane would show stale members as live. With the
        // `hasleader` metadata etcd refuses requests on such a member and cancels its watches
        // after a few election timeouts, so the source reports it and moves to another endpoint.
        .with_require_leader(true)
        .with_connect_timeout(profile.connect_timeout);
    if let (Some(user), Some(pw)) = (&profile.user, &profile.password) {
        opts = opts
            .with_user(user.clone(), pw.expose().to_string())
            .with_auto_token_refresh(true);
    }
    if let Some(tls) = &profile.tls {
        let mut t = TlsOptions::new();
        if let Some(ca) = &tls.ca {
            let pem = std::fs::read(ca)
                .map_err(|e| anyhow::anyhow!("reading CA {}: {e}", ca.display()))?;
            t = t.ca_certificate(Certificate::from_pem(pem));
        } else {
            // No `ca`: the system's trust roots, as etcdctl uses them (SSL_CERT_FILE and
            // SSL_CERT_DIR are honoured).
            t = t.with_native_roots();
        }
        if let (Some(cert), Some(key)) = (&tls.cert, &tls.key) {
            let c = std::fs::read(cert)
                .map_err(|e| anyhow::anyhow!("reading cert {}: {e}", cert.display()))?;
            let k = std::fs::read(key)
                .map_err(|e| anyhow::anyhow!("reading key {}: {e}", key.display()))?;
            t = t.identity(Identity::from_pem(c, k));
        }
        if let Some(d) = &tls.domain {
            t = t.domain_name(d.clone());
        }
        opts = opts.with_tls(t);
    }
    // One endpoint per client, the first that answers a read: etcd-client balances requests over all
    // endpoints at random and never skips a dead one, so with several endpoints in one client about
    // half of all requests (listing, watch, deregister) would fail while any endpoint is down.
    let mut errors = Vec::new();
    for endpoint in endpoint_order(&profile.endpoints, last) {
        match connect_one(
            endpoint,
            opts.clone(),
            &profile.prefix,
            profile.connect_timeout,
        )
        .await
        {
            Ok((client, who)) => return Ok((client, who, endpoint.to_string())),
            Err(e) => {
                debug!(%endpoint, error = %e, "etcd endpoint not usable");
                errors.push(e);
            }
        }
    }
    anyhow::bail!("no etcd endpoint answered: {}", errors.join("; "))
}

/// A client for `endpoint` alone, proven by a linearizable point read of the prefix key itself
/// (which also checks that the endpoint has a leader and that we may read there). A point read, not
/// a range with a limit: etcd 3.4 scans the whole range before applying a limit.
async fn connect_one(
    endpoint: &str,
    opts: ConnectOptions,
    prefix: &str,
    timeout: Duration,
) -> Result<(Client, Answerer), String> {
    let connected = tokio::time::timeout(
        timeout + Duration::from_secs(1),
        Client::connect([endpoint], Some(opts)),
    )
    .await
    .map_err(|_| format!("connecting to {endpoint} timed out"))?;
    let mut client = match connected {
        Ok(c) => c,
        Err(e) => return Err(connect_error(endpoint, "connecting to ", &e, timeout).await),
    };
    let probe = GetOptions::new().with_keys_only();
    let answer = match tokio::time::timeout(timeout, client.get(prefix, Some(probe)))
        .await
        .map_err(|_| format!("{endpoint} did not answer within {timeout:?}"))?
    {
        Ok(a) => a,
        Err(e) => return Err(connect_error(endpoint, "", &e, timeout).await),
    };
    let who = answer
        .header()
        .map(|h| Answerer {
            cluster_id: h.cluster_id(),
            member_id: h.member_id(),
        })
        .unwrap_or(Answerer {
            cluster_id: 0,
            member_id: 0,
        });
    Ok((client, who))
}

/// An endpoint's error. An `https://` endpoint on a plain etcd says so, instead of the
/// transport's "tls handshake eof" or "connection reset" deep inside a gRPC status.
async fn connect_error(
    endpoint: &str,
    doing: &str,
    e: &etcd_client::Error,
    timeout: Duration,
) -> String {
    let plain = match endpoint.strip_prefix("https://") {
        Some(rest) if super::http::may_be_plain_server(&format!("{e} {e:?}")) => {
            let authority = rest.split('/').next().unwrap_or(rest);
            match authority
                .rsplit_once(':')
                .map(|(h, p)| (h, p.parse::<u16>()))
            {
                Some((host, Ok(port))) => {
                    let host = host.trim_start_matches('[').trim_end_matches(']');
                    super::http::answers_plain_http(host, port, timeout).await
                }
                _ => false,
            }
        }
        _ => false,
    };
    if plain {
        format!("{endpoint}: {}", super::http::NOT_TLS)
    } else {
        format!("{doing}{endpoint}: {e}")
    }
}

/// `range_end` for a prefix: the prefix with its last byte incremented (all keys if it is all 0xff).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// A consistent listing of `prefix` at one revision: the prefix cut into many key ranges read a
/// few at a time, in key order (see [`list_prefix_streamed`]).
pub async fn list_prefix(client: &Client, prefix: &str) -> anyhow::Result<(i64, Vec<KvEntry>)> {
    list_prefix_as(client, prefix, |e| e, |_: &mut Vec<KvEntry>| {}).await
}

/// [`list_prefix`], with each entry turned into what the caller keeps (`convert`) and each key
/// range finished (`finish`, e.g. sorted) inside the task that reads it: that work overlaps the
/// other ranges' reads, on other cores. The result is the ranges' items in key-range order.
pub async fn list_prefix_as<T, C, F>(
    client: &Client,
    prefix: &str,
    convert: C,
    finish: F,
) -> anyhow::Result<(i64, Vec<T>)>
where
    T: Clone + Send + 'static,
    C: Fn(KvEntry) -> T + Clone + Send + Sync + 'static,
    F: Fn(&mut Vec<T>) + Clone + Send + Sync + 'static,
{
    list_prefix_streamed(
        client,
        prefix,
        &[],
        convert,
        finish,
        |_: ListProgress<T>| {},
    )
    .await
}

/// How a listing is going, reported while it runs: the first rows to show before it completes
/// (at most [`PREVIEW_ROWS`] over the whole listing), the keys read so far, and the keys under the
/// prefix once etcd has counted them.
#[derive(Debug, Clone, PartialEq)]
pub struct ListProgress<T> {
    pub revision: i64,
    pub preview: Vec<T>,
    pub listed: usize,
    pub total: Option<usize>,
}

/// Rows a listing hands out before it completes: a few screenfuls to look at and scroll.
pub const PREVIEW_ROWS: usize = 2_000;
/// Key ranges read at once. etcd 3.4 walks a range's whole part of its index for every ranged
/// `get` (limit or not), so a range read costs the keys in it: a few at a time, in key order, lets
/// the first (small) ranges answer first while the others keep etcd's cores busy.
pub(super) const RANGES_IN_FLIGHT: usize = 4;
/// Where a listing is cut into key ranges: before each of these as the first byte of the name under
/// the prefix. A range that holds nothing costs one cheap request.
pub(super) const CUT_BEFORE: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// [`list_prefix_as`], reporting [`ListProgress`] to `progress` (from the reading tasks) as pages
/// arrive. The revision comes from a point read of the prefix key (constant cost); the total from
/// a count-only request sent beside the ranges (it walks the index once more, on another core).
/// Neither a first page nor any ranged request covers the whole prefix: on etcd 3.4 that alone
/// cost a walk of every key (~5 s for 1,000,000 here, BENCHMARKS.md) before the first row.
/// `hints` are more keys to cut at (learned from the last listing, `listing_cuts`): any keys do,
/// those outside the prefix are ignored.
pub async fn list_prefix_streamed<T, C, F, P>(
    client: &Client,
    prefix: &str,
    hints: &[Vec<u8>],
    convert: C,
    finish: F,
    progress: P,
) -> anyhow::Result<(i64, Vec<T>)>
where
    T: Clone + Send + 'static,
    C: Fn(KvEntry) -> T + Clone + Send + Sync + 'static,
    F: Fn(&mut Vec<T>) + Clone + Send + Sync + 'static,
    P: Fn(ListProgress<T>) + Send + Sync + 'static,
{
    let (revision, parts) =
        list_prefix_parts(client, prefix, hints, convert, finish, progress).await?;
    Ok((revision, parts.into_iter().flatten().collect()))
}

/// [`list_prefix_streamed`], its key ranges' parts kept apart (each as `finish` left it, in
/// key order of the ranges): the etcd source merges them ([`Listing::prepare`]).
pub async fn list_prefix_parts<T, C, F, P>(
    client: &Client,
    prefix: &str,
    hints: &[Vec<u8>],
    convert: C,
    finish: F,
    progress: P,
) -> anyhow::Result<(i64, Vec<Vec<T>>)>
where
    T: Clone + Send + 'static,
    C: Fn(KvEntry) -> T + Clone + Send + Sync + 'static,
    F: Fn(&mut Vec<T>) + Clone + Send + Sync + 'static,
    P: Fn(ListProgress<T>) + Send + Sync + 'static,
{
    use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
    use std::sync::Arc;

    let fail = |e: etcd_client::Error| anyhow::anyhow!("listing {prefix}: {e}");
    let kv = client.kv_client().max_decoding_message_size(512 << 20);
    let end = prefix_end(prefix.as_bytes());
    let head = kv
        .clone()
        .get(prefix.as_bytes(), None)
        .await
        .map_err(fail)?;
    let revision = head.header().map(|h| h.revision()).unwrap_or(0);

    struct Shared<P> {
        listed: AtomicUsize,
        preview_left: AtomicUsize,
        /// -1 until the count-only request answered.
        total: AtomicI64,
        progress: P,
    }
    let shared = Arc::new(Shared {
        listed: AtomicUsize::new(0),
        preview_left: AtomicUsize::new(PREVIEW_ROWS),
        total: AtomicI64::new(-1),
        progress,
    });
    let total_of = |s: &Shared<P>| usize::try_from(s.total.load(Relaxed)).ok();
    let ranges = cut_ranges(prefix.as_bytes(), end.clone(), CUT_BEFORE, hints);
    let gate = Arc::new(FirstRowsGate::default());

    let _count = {
        let (mut kv, shared, start, end, gate, n) = (
            kv.clone(),
            shared.clone(),
            prefix.as_bytes().to_vec(),
            end.clone(),
            gate.clone(),
            ranges.len(),
        );
        AbortOnDrop(tokio::spawn(async move {
            gate.count_may_ask(n).await;
            let opts = GetOptions::new()
                .with_range(end)
                .with_count_only()
                .with_revision(revision);
            if let Ok(resp) = kv.get(start, Some(opts)).await {
                shared.total.store(resp.count().max(0), Relaxed);
                (shared.progress)(ListProgress {
                    revision,
                    preview: Vec::new(),
                    listed: shared.listed.load(Relaxed),
                    total: usize::try_from(resp.count()).ok(),
                });
            }
        }))
    };

    let permits = Arc::new(tokio::sync::Semaphore::new(RANGES_IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    // The ranges are decoded, converted and sorted on the console's workers, side by side, even
    // when the listing runs on the etcd sources' own thread (`own_thread`).
    let work = super::own_thread::work_runtime();
    for (i, (start, end)) in ranges.into_iter().enumerate() {
        // Taken here, in key order, so the first ranges are read first.
        let permit = permits.clone().acquire_owned().await?;
        let (kv, convert, finish, shared, gate) = (
            kv.clone(),
            convert.clone(),
            finish.clone(),
            shared.clone(),
            gate.clone(),
        );
        tasks.spawn_on(
            async move {
                gate.range_may_ask(i).await;
                let answer = gate.answer_of(i);
                let on_page = |page: &[T]| {
                    let listed = shared.listed.fetch_add(page.len(), Relaxed) + page.len();
                    // After the count above, so a range let through reads pages whole.
                    gate.rows_seen();
                    let mut take = 0;
                    let _ = shared.preview_left.fetch_update(Relaxed, Relaxed, |left| {
                        take = left.min(page.len());
                        Some(left - take)
                    });
                    (shared.progress)(ListProgress {
                        revision,
                        preview: page[..take].to_vec(),
                        listed,
                        total: total_of(&shared),
                    });
                };
                // Until the first rows are on screen, a range's first page is a preview's worth:
                // on etcd 3.4 the page costs a walk of the whole range whatever its limit (~0.4 µs a
                // key), but the transfer and decoding of a 100k-key page before any row (1.2 s at 1M
                // on a first start, with nothing learned to cut at) is what the user waited for. The
                // rest of the range then walks it once more; only the range that shows the first
                // rows pays that (the gate holds the others back until then).
                let first_limit = if shared.listed.load(Relaxed) == 0 {
                    PREVIEW_ROWS as i64
                } else {
                    FIRST_RANGE_PAGE
                };
                let part =
                    list_range(kv, start, end, revision, first_limit, &convert, &on_page).await;
                answer.now();
                drop(permit);
                (
                    i,
                    part.map(|mut items| {
                        finish(&mut items);
                        items
                    }),
                )
            },
            &work,
        );
    }
    let mut parts = Vec::new();
    while let Some(done) = tasks.join_next().await {
        let (i, part) = done.map_err(|e| anyhow::anyhow!("listing {prefix}: {e}"))?;
        parts.push((i, part.map_err(fail)?));
    }
    parts.sort_by_key(|(i, _)| *i);
    Ok((revision, parts.into_iter().map(|(_, part)| part).collect()))
}

/// Where the rest of a large listing was cut by the listing before [`cut_ranges`]: before these
/// first letters of the name under the prefix.
#[cfg(test)]
const SPLIT_BEFORE: &[u8] = b"cgmsw";

/// Cuts `[rest, end)` into consecutive ranges at `SPLIT_BEFORE`. Names are taken to start after the
/// prefix and any '/' that the first listed key has there (`/services` + `/api/…`).
#[cfg(test)]
fn split_rest(
    prefix: &[u8],
    first_key: &[u8],
    rest: Vec<u8>,
    end: Vec<u8>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let after = first_key.strip_prefix(prefix).unwrap_or_default();
    let slashes = after.iter().take_while(|&&c| c == b'/').count();
    let cuts = SPLIT_BEFORE
        .iter()
        .map(|&c| {
            let mut k = Vec::with_capacity(prefix.len() + slashes + 1);
            k.extend_from_slice(prefix);
            k.extend(std::iter::repeat_n(b'/', slashes));
            k.push(c);
            k
        })
        .collect();
    consecutive(cuts, rest, end)
}

/// Cuts all of `[prefix, end)` into consecutive ranges before each byte of `before` as the first
/// byte of the name under the prefix; when the prefix has no trailing '/', also after a '/' there
/// (`/services` + `/api/…`); and at each of `more` inside it (keys learned from a listing).
pub(super) fn cut_ranges(
    prefix: &[u8],
    end: Vec<u8>,
    before: &[u8],
    more: &[Vec<u8>],
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut heads = vec![prefix.to_vec()];
    if !prefix.is_empty() && !prefix.ends_with(b"/") {
        heads.push([prefix, b"/"].concat());
    }
    let cuts = heads
        .iter()
        .flat_map(|h| before.iter().map(move |&c| [h.as_slice(), &[c]].concat()))
        .chain(more.iter().cloned())
        .collect();
    consecutive(cuts, prefix.to_vec(), end)
}

/// `[start, end)` cut at those of `cuts` strictly inside it, in order.
fn consecutive(mut cuts: Vec<Vec<u8>>, start: Vec<u8>, end: Vec<u8>) -> Vec<(Vec<u8>, Vec<u8>)> {
    cuts.retain(|k| *k > start && (end.is_empty() || *k < end));
    cuts.sort();
    cuts.dedup();
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut start = start;
    for cut in cuts {
        ranges.push((std::mem::replace(&mut start, cut.clone()), cut));
    }
    ranges.push((start, end));
    ranges
}

/// `[start, end)` at `revision`: a first page of `first_limit` keys, then as few pages as the
/// byte budget allows (on etcd 3.4 every page walks the rest of the range again), each handed to
/// `on_page` as it arrives.
async fn list_range<T>(
    mut kv: etcd_client::KvClient,
    mut start: Vec<u8>,
    end: Vec<u8>,
    revision: i64,
    first_limit: i64,
    convert: &impl Fn(KvEntry) -> T,
    on_page: &impl Fn(&[T]),
) -> Result<Vec<T>, etcd_client::Error> {
    let mut entries: Vec<T> = Vec::new();
    let mut limit = first_limit;
    let mut bytes = 0usize;
    loop {
        let opts = GetOptions::new()
            .with_range(end.clone())
            .with_limit(limit)
            .with_revision(revision);
        let mut resp = kv.get(start.clone(), Some(opts)).await?;
        if entries.capacity() == 0 {
            entries.reserve(resp.count().clamp(0, 10_000_000) as usize);
        }
        let more = resp.more();
        let kvs = resp.take_kvs();
        if let Some(last) = kvs.last() {
            start = last.key().to_vec();
            start.push(0);
        }
        let got = kvs.len();
        let from = entries.len();
        for kv in kvs {
            bytes += kv.key().len() + kv.value().len();
            entries.push(convert(owned_entry(kv)));
        }
        if got > 0 {
            on_page(&entries[from..]);
        }
        if !more || got == 0 {
            return Ok(entries);
        }
        let per_key = (bytes / entries.len().max(1)).max(1);
        limit = ((PAGE_BYTES / per_key) as i64).clamp(MIN_PAGE_SIZE, MAX_PAGE_SIZE);
    }
}

/// Like `entry`, taking the decoded buffers instead of copying them (a listing is 100k of these).
pub(super) fn owned_entry(kv: KeyValue) -> KvEntry {
    let (create_revision, mod_revision, version, lease) = (
        kv.create_revision(),
        kv.mod_revision(),
        kv.version(),
        kv.lease(),
    );
    let (key, value) = kv.into_key_value();
    KvEntry {
        key,
        value,
        create_revision,
        mod_revision,
        version,
        lease,
    }
}

fn entry(kv: &KeyValue) -> KvEntry {
    KvEntry {
        key: kv.key().to_vec(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
        lease: kv.lease(),
    }
}

/// `mvccpb.Event.EventType.DELETE` on the wire (PUT is 0).
const DELETE_EVENT: i32 = 1;

/// A watch response's events, their keys and values moved out of the decoded message rather
/// than copied (etcd-client hands events only by reference; its `pub-response-field` feature
/// opens the message): two allocations, two frees and ~130 bytes of copying less per event, on
/// the path a busy fleet's every change takes.
fn take_events(resp: WatchResponse) -> impl Iterator<Item = KvEvent> {
    resp.0.events.into_iter().filter_map(|ev| {
        let kv = ev.kv?;
        Some(if ev.r#type == DELETE_EVENT {
            KvEvent::Delete {
                key: kv.key,
                mod_revision: kv.mod_revision,
            }
        } else {
            KvEvent::Put(KvEntry {
                key: kv.key,
                value: kv.value,
                create_revision: kv.create_revision,
                mod_revision: kv.mod_revision,
                version: kv.version,
                lease: kv.lease,
            })
        })
    })
}

#[cfg(test)]
fn convert_event(kind: etcd_client::EventType, kv: Option<&KeyValue>) -> Option<KvEvent> {
    let kv = kv?;
    Some(match kind {
        etcd_client::EventType::Put => KvEvent::Put(entry(kv)),
        etcd_client::EventType::Delete => KvEvent::Delete {
            key: kv.key().to_vec(),
            mod_revision: kv.mod_revision(),
        },
    })
}

/// Moves the watch responses already buffered on `stream` into `batch` (up to `COALESCE`),
/// without waiting.
fn gather(
    stream: &mut etcd_client::WatchStream,
    batch: &mut Vec<WatchResponse>,
) -> anyhow::Result<()> {
    while batch.len() < COALESCE {
        match stream.message().now_or_never() {
            Some(Ok(Some(r))) => batch.push(r),
            Some(Ok(None)) | None => break,
            Some(Err(e)) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Deletes `key` only if it is still at `mod_revision`; on success optionally revokes its lease.
/// Times a deregister is sent again after etcd said `leader changed`.
const LEADER_CHANGED_RETRIES: u32 = 10;

pub async fn deregister(
    client: &mut Client,
    key: &[u8],
    mod_revision: i64,
    revoke_lease: Option<i64>,
) -> DeregisterOutcome {
    let txn = Txn::new()
        .when(vec![Compare::mod_revision(
            key,
            CompareOp::Equal,
            mod_revision,
        )])
        .and_then(vec![TxnOp::delete(key, None)])
        .or_else(vec![TxnOp::get(key, None)]);
    // etcd answers `leader changed` when an election cut the request short; it may or may not
    // have been applied. The transaction is guarded on the mod_revision the user saw, so asking
    // again is safe: a first attempt that did apply comes back `Missing`, an instance that
    // registered again meanwhile `Changed`. A few tries, a moment apart, within the caller's
    // timeout (an election here takes well under a second).
    let mut tries = 0;
    let resp = loop {
        match client.txn(txn.clone()).await {
            Ok(r) => break r,
            Err(e)
                if tries < LEADER_CHANGED_RETRIES && e.to_string().contains("leader changed") =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => return DeregisterOutcome::Failed(e.to_string()),
        }
    };
    if resp.succeeded() {
        let lease_revoked = match revoke_lease {
            None => None,
            Some(id) => Some(
                client
                    .lease_revoke(id)
                    .await
                    .map(|_| id)
                    .map_err(|e| e.to_string()),
            ),
        };
        return DeregisterOutcome::Deleted { lease_revoked };
    }
    let current = resp.op_responses().into_iter().find_map(|op| match op {
        TxnOpResponse::Get(g) => Some(g.kvs().first().map(|kv| kv.mod_revision())),
        _ => None,
    });
    match current {
        Some(Some(rev)) => DeregisterOutcome::Changed {
            current_mod_revision: Some(rev),
        },
        _ => DeregisterOutcome::Missing,
    }
}

/// Up to 10 earlier values of `key`, newest first, until the key did not exist or history is compacted.
async fn history(
    client: &mut Client,
    key: &[u8],
    mod_revision: i64,
) -> Result<Vec<KvEntry>, String> {
    let mut out = Vec::new();
    let mut rev = mod_revision - 1;
    while rev > 0 && out.len() < 10 {
        match client
            .get(key, Some(GetOptions::new().with_revision(rev)))
            .await
        {
            Ok(r) => match r.kvs().first() {
                Some(kv) => {
                    let e = entry(kv);
                    rev = e.mod_revision - 1;
                    out.push(e);
                }
                None => break,
            },
            Err(e) if e.to_string().contains("compacted") => break,
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(out)
}

/// One quorum probe: a linearizable point read of the prefix key itself, count only. A point
/// read, not a range: etcd 3.4 walks a whole range even to count it, and the prefix may hold
/// 100k keys; a point read costs a ReadIndex (the leader confirming its quorum) and one index
/// lookup, whatever the prefix holds.
fn quorum_probe(
    client: &Client,
    prefix: &str,
    seq: u64,
    give_up: Duration,
) -> impl std::future::Future<Output = (u64, Result<(), String>)> {
    let mut kv = client.kv_client();
    let key = prefix.as_bytes().to_vec();
    async move {
        let read = kv.get(key, Some(GetOptions::new().with_count_only()));
        let outcome = match tokio::time::timeout(give_up, read).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:.1} s", give_up.as_secs_f64())),
        };
        (seq, outcome)
    }
}

/// Aborts the task when the session that started it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Whether the quorum probe numbered `seq` carries the lease TTL reads' beat: every other one,
/// once a second at the probe's 500 ms. A beat of its own (a 1 s interval, as before) woke a
/// runtime thread once more a second and sent its reads in a write of their own; on the probe's
/// beat they go out in the same wake-up, on the same HTTP/2 connection, as that probe.
fn lease_beat_on(seq: u64) -> bool {
    seq.is_multiple_of(2)
}

/// How long the lease poller waits for a beat before it reads anyway: the probes stop going out
/// while [`super::quorum`]'s limit of unanswered ones is reached (a frozen member).
const LEASE_BEAT_LIMIT: Duration = Duration::from_millis(1500);

/// The remaining TTL of the leases on screen, each as often as [`super::lease_polls`] says, on the
/// quorum probe's beat ([`lease_beat_on`]). Its own task, so a slow or frozen server never holds
/// up the watch loop (which must notice exactly that).
async fn poll_leases(
    client: Client,
    mut leases: tokio::sync::watch::Receiver<Vec<i64>>,
    tx: mpsc::Sender<Msg>,
    beat: std::sync::Arc<tokio::sync::Notify>,
) {
    let mut polls = super::lease_polls::LeasePolls::default();
    loop {
        let _ = tokio::time::timeout(LEASE_BEAT_LIMIT, beat.notified()).await;
        let wanted = leases.borrow_and_update().clone();
        if wanted.is_empty() {
            if leases.changed().await.is_err() {
                return;
            }
            continue;
        }
        let due = polls.due(&wanted, std::time::Instant::now());
        if due.is_empty() {
            continue;
        }
        let ttls = lease_ttls(&client, &due).await;
        polls.answered(&ttls, std::time::Instant::now());
        if !ttls.is_empty()
            && tx
                .send(Msg::LeaseTtls {
                    ttls,
                    at: crate::clock::now(),
                })
                .await
                .is_err()
        {
            return;
        }
    }
}

async fn lease_ttls(client: &Client, leases: &[i64]) -> Vec<(i64, i64)> {
    let calls = leases.iter().map(|&id| {
        let mut lc = client.lease_client();
        async move {
            // Short: these run inside the watch loop, and a frozen server must not hold it up.
            match tokio::time::timeout(LEASE_TTL_TIMEOUT, lc.time_to_live(id, None)).await {
                Ok(Ok(r)) => Some((id, r.ttl())),
                _ => None,
            }
        }
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_left_without_a_quorum_is_tried_last() {
        let e: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(endpoint_order(&e, None), ["a", "b", "c"]);
        assert_eq!(endpoint_order(&e, Some("a")), ["b", "c", "a"]);
        assert_eq!(endpoint_order(&e, Some("b")), ["a", "c", "b"]);
        assert_eq!(endpoint_order(&e, Some("x")), ["a", "b", "c"]);
    }

    #[test]
    fn the_lease_reads_go_out_with_every_other_probe_the_first_included() {
        let beats: Vec<u64> = (0..8).filter(|&s| lease_beat_on(s)).collect();
        assert_eq!(
            beats,
            vec![0, 2, 4, 6],
            "once a second at the probe's 500 ms, at once first"
        );
        assert_eq!(
            Timing::for_connect_timeout(Duration::from_secs(5)).every * 2,
            Duration::from_secs(1)
        );
        assert!(LEASE_BEAT_LIMIT > Duration::from_secs(1));
    }

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end(b"/services/"), b"/services0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b""), vec![0]);
    }

    #[test]
    fn the_rest_of_a_listing_is_cut_into_consecutive_ranges() {
        let k = |s: &str| s.as_bytes().to_vec();
        let ranges = split_rest(
            b"/services/",
            b"/services/api/a-1",
            k("/services/api/a-9\0"),
            k("/services0"),
        );
        assert_eq!(
            ranges,
            [
                (k("/services/api/a-9\0"), k("/services/c")),
                (k("/services/c"), k("/services/g")),
                (k("/services/g"), k("/services/m")),
                (k("/services/m"), k("/services/s")),
                (k("/services/s"), k("/services/w")),
                (k("/services/w"), k("/services0")),
            ]
        );
        // Cuts at or before where the rest starts are dropped; the ranges still meet end to end.
        let ranges = split_rest(
            b"/services/",
            b"/services/a",
            k("/services/p"),
            k("/services0"),
        );
        assert_eq!(
            ranges,
            [
                (k("/services/p"), k("/services/s")),
                (k("/services/s"), k("/services/w")),
                (k("/services/w"), k("/services0")),
            ]
        );
        // A prefix without its trailing '/' cuts after the slash the keys have there.
        let ranges = split_rest(
            b"/services",
            b"/services/a",
            k("/services/b"),
            k("/servicet"),
        );
        assert_eq!(ranges[0], (k("/services/b"), k("/services/c")));
        assert_eq!(ranges.last().unwrap(), &(k("/services/w"), k("/servicet")));
        // Everything ("" prefix, end "\0"): one range.
        assert_eq!(split_rest(b"", b"a", k("b"), vec![0]), [(k("b"), vec![0])]);
    }

    #[test]
    fn learned_cuts_refine_the_ranges_and_never_change_what_they_cover() {
        let k = |s: &str| s.as_bytes().to_vec();
        let end = prefix_end(b"/services/");
        let plain = cut_ranges(b"/services/", end.clone(), CUT_BEFORE, &[]);
        let hints = [
            k("/services/api/i-0001024"),
            k("/services/api/i-0002048"),
            k("/services/b"), // already a cut: kept once
            k("/other/x"),    // outside the prefix: ignored
            k("/services/api/i-0001024"),
        ];
        let ranges = cut_ranges(b"/services/", end.clone(), CUT_BEFORE, &hints);
        assert_eq!(ranges.len(), plain.len() + 2);
        assert_eq!(ranges.first().unwrap().0, k("/services/"));
        assert_eq!(ranges.last().unwrap().1, end);
        assert!(ranges
            .windows(2)
            .all(|w| w[0].1 == w[1].0 && w[0].0 < w[0].1));
        let a = ranges.iter().position(|r| r.0 == k("/services/a")).unwrap();
        assert_eq!(ranges[a].1, k("/services/api/i-0001024"));
        assert_eq!(ranges[a + 1].1, k("/services/api/i-0002048"));
        assert_eq!(ranges[a + 2].1, k("/services/b"));
        assert_eq!(cut_ranges(b"/services/", end, CUT_BEFORE, &[]), plain);
    }

    #[test]
    fn events_moved_out_of_a_watch_response_are_the_events_it_holds() {
        use etcd_client::proto::{PbEvent, PbKeyValue, PbWatchResponse};
        let kv = |key: &[u8], value: &[u8], rev: i64| PbKeyValue {
            key: key.to_vec(),
            value: value.to_vec(),
            create_revision: 3,
            mod_revision: rev,
            version: 2,
            lease: 0x1234,
        };
        let resp = WatchResponse(PbWatchResponse {
            events: vec![
                PbEvent {
                    r#type: 0,
                    kv: Some(kv(b"/services/api/a\xff\x1b", br#"{"addr":"x"}"#, 7)),
                    prev_kv: None,
                },
                PbEvent {
                    r#type: DELETE_EVENT,
                    kv: Some(kv(b"/services/api/b", b"", 8)),
                    prev_kv: None,
                },
                PbEvent {
                    r#type: 0,
                    kv: None,
                    prev_kv: None,
                },
            ],
            ..Default::default()
        });
        let borrowed: Vec<KvEvent> = resp
            .events()
            .iter()
            .filter_map(|ev| convert_event(ev.event_type(), ev.kv()))
            .collect();
        let moved: Vec<KvEvent> = take_events(resp).collect();
        assert_eq!(moved, borrowed);
        assert_eq!(moved.len(), 2);
        assert!(
            matches!(&moved[1], KvEvent::Delete { key, mod_revision: 8 } if key == b"/services/api/b")
        );
    }
}

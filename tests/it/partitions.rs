//! Network partitions, not frozen processes: a 3-member etcd cluster with each member in its own
//! network namespace (`common::netns`), the console (the app's core, headless) in another. Links
//! are cut on the hub's bridges, so packets vanish as in a real partition. A writer on the
//! majority keeps putting and deleting (and compacts) throughout; at every checkpoint the writer
//! pauses and the console's members must equal `etcdctl get --prefix` on the majority.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::etcd_console::{members_from_etcdctl, profile, Console, Members, PREFIX};
use common::netns::{client_url, NetnsCluster};
use opsconsole::model::Health;

/// A failover through a partition: noticing it (keep-alive 5 s + 5 s, or etcd's leader loss after
/// its election timeout), then the connect timeout per dead endpoint, on a loaded machine.
const FAILOVER: Duration = Duration::from_secs(45);

/// The member the writer and the ground truth use: never cut from its peers.
const MAJORITY: usize = 2;

/// How long after a cut the console may still say `Live`: the quorum probe (a linearizable read
/// every 500 ms, overdue after 500 ms with `connect_timeout_secs = 2`) makes it ~1 s; etcd itself
/// needs 4.2–4.4 s to report `no leader`, and a silent network 10 s — this bound tells them apart,
/// with room for a loaded machine.
const LEAVES_LIVE: Duration = Duration::from_millis(3000);

/// Waits until the console is no longer `Live` after a cut made at `cut`; asserts it took no
/// longer than [`LEAVES_LIVE`] and says why it left. Returns the time it took.
async fn leaves_live(name: &str, c: &mut Console, mark: usize, cut: Instant) -> Duration {
    c.until(FAILOVER, &format!("{name}: no longer Live"), |c| {
        !c.is_live()
    })
    .await;
    let t = cut.elapsed();
    let why = &c.healths[mark..];
    eprintln!("{name}: left Live {t:?} after the cut: {why:?}");
    assert!(
        t <= LEAVES_LIVE,
        "{name}: the console said Live for {t:?} after the cut (bound {LEAVES_LIVE:?}): {why:?}"
    );
    match c.health() {
        Some(Health::Retrying { error, .. }) => assert!(
            error.contains("quorum"),
            "{name}: the first word after the cut is the quorum probe's: {error}"
        ),
        other => panic!("{name}: {other:?} after the cut, not Retrying"),
    }
    t
}

struct Writer {
    paused: Arc<AtomicBool>,
    idle: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Writer {
    fn start(cluster: Arc<NetnsCluster>) -> Writer {
        let paused = Arc::new(AtomicBool::new(false));
        let idle = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(AtomicU64::new(0));
        let (p, i, s, w) = (paused.clone(), idle.clone(), stop.clone(), writes.clone());
        let thread = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s.load(Ordering::SeqCst) {
                if p.load(Ordering::SeqCst) {
                    i.store(true, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                i.store(false, Ordering::SeqCst);
                let key = format!("{PREFIX}w/w-{}", n % 20);
                let ok = if n % 3 == 2 {
                    let gone = format!("{PREFIX}w/w-{}", (n * 7) % 20);
                    cluster.etcdctl_in(MAJORITY, &["del", &gone]).is_ok()
                } else {
                    cluster
                        .etcdctl_in(MAJORITY, &["put", &key, &format!("{{\"n\":{n}}}")])
                        .is_ok()
                };
                if ok {
                    w.fetch_add(1, Ordering::SeqCst);
                }
                n += 1;
            }
        });
        Writer {
            paused,
            idle,
            stop,
            writes,
            thread: Some(thread),
        }
    }

    /// Pauses the writer. The console runs on this thread's runtime, so the waits pump it
    /// (`c.idle`) rather than sleep: a blocked runtime would stop the source's timers and
    /// stretch every figure measured meanwhile.
    async fn pause(&self, c: &mut Console) {
        self.paused.store(true, Ordering::SeqCst);
        let t = Instant::now();
        while !self.idle.load(Ordering::SeqCst) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the writer never paused"
            );
            c.idle(Duration::from_millis(10)).await;
        }
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Waits until `n` more writes went through (pumping the console, as [`Writer::pause`]).
    async fn wait_more(&self, c: &mut Console, n: u64) {
        let from = self.writes();
        let t = Instant::now();
        while self.writes() < from + n {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the writer made {} of {n} writes on the majority",
                self.writes() - from
            );
            c.idle(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Watch streams open on member `i` (etcd's own gauge on its client URL), read from the
/// console's namespace.
async fn watch_streams(i: usize) -> Option<u64> {
    opsconsole::sources::http::install_crypto_provider();
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", client_url(i)))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("etcd_debugging_mvcc_watch_stream_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
}

/// The member the console watches on: the only one with a watch stream (the console pumped
/// meanwhile).
async fn watched_member(c: &mut Console) -> usize {
    let t = Instant::now();
    loop {
        let mut on = Vec::new();
        for i in 0..3 {
            if watch_streams(i).await.unwrap_or(0) > 0 {
                on.push(i);
            }
        }
        if let [one] = on[..] {
            return one;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "members with a watch stream: {on:?}"
        );
        c.idle(Duration::from_millis(100)).await;
    }
}

fn truth(cluster: &NetnsCluster) -> Members {
    let json = cluster
        .etcdctl_in(MAJORITY, &["get", "--prefix", PREFIX, "-w", "json"])
        .unwrap_or_else(|e| panic!("etcdctl on the majority: {e}"));
    members_from_etcdctl(&json)
}

fn revision(cluster: &NetnsCluster) -> i64 {
    let json = cluster
        .etcdctl_in(MAJORITY, &["get", "/", "-w", "json"])
        .unwrap_or_else(|e| panic!("etcdctl on the majority: {e}"));
    let v: serde_json::Value = serde_json::from_str(&json).expect("etcdctl json");
    v["header"]["revision"]
        .as_i64()
        .unwrap_or_else(|| panic!("no revision in {json}"))
}

/// The writer paused, the console's members must become exactly etcd's (key, value, mod
/// revision, lease), and it must be live.
async fn checkpoint(name: &str, cluster: &NetnsCluster, c: &mut Console, w: &Writer) {
    w.pause(c).await;
    let want = truth(cluster);
    let t = c
        .until(FAILOVER, &format!("{name}: members = etcdctl"), |c| {
            c.is_live() && c.members() == want
        })
        .await;
    eprintln!(
        "checkpoint {name}: {} members = etcdctl after {t:?} ({} writes so far)",
        want.len(),
        w.writes()
    );
    w.resume();
}

#[test]
fn partitions_cut_the_consoles_member_from_its_peers_then_the_console_from_the_majority() {
    let cluster = Arc::new(NetnsCluster::start());
    for i in 0..10 {
        cluster
            .etcdctl_in(
                MAJORITY,
                &["put", &format!("{PREFIX}web/web-{i}"), "10.0.0.1:80"],
            )
            .expect("seed");
    }
    let inner = cluster.clone();
    let run = cluster.in_console_ns(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(scenario(inner))
    });
    if let Err(panic) = run.join() {
        for i in 0..3 {
            eprintln!("--- etcd m{i} (tail) ---");
            let log = cluster.log(i);
            let lines: Vec<&str> = log.lines().collect();
            eprintln!("{}", lines[lines.len().saturating_sub(15)..].join("\n"));
        }
        std::panic::resume_unwind(panic);
    }
}

async fn scenario(cluster: Arc<NetnsCluster>) {
    let t_all = Instant::now();
    // The console's member is the first endpoint, m0.
    let endpoints: Vec<String> = (0..3).map(client_url).collect();
    let mut c = Console::start(profile(&endpoints));
    c.until(FAILOVER, "Live with the 10 members", |c| {
        c.is_live() && c.state().members.len() == 10
    })
    .await;
    let w = Writer::start(cluster.clone());
    w.wait_more(&mut c, 10).await;
    checkpoint("before", &cluster, &mut c, &w).await;

    // 1. m0 (the console's member) cut from its peers; the majority writes and compacts.
    let mark = c.healths.len();
    let cut = Instant::now();
    cluster.cut_from_peers(0);
    leaves_live("m0 cut from its peers", &mut c, mark, cut).await;
    w.wait_more(&mut c, 15).await;
    let rev = revision(&cluster);
    cluster
        .etcdctl_in(MAJORITY, &["compaction", &rev.to_string()])
        .expect("compaction on the majority");
    w.wait_more(&mut c, 10).await;
    // Live again only with the majority's writes: m0 cannot have them.
    c.until(FAILOVER, "Live again on the majority", |c| {
        c.live_since(mark)
    })
    .await;
    let live = c.live_at(mark).expect("Live was just seen");
    eprintln!(
        "m0 cut from its peers: Live on the majority {:?} after the cut: {:?}",
        live - cut,
        &c.healths[mark..]
    );
    checkpoint(
        "m0 cut from its peers, after a compaction",
        &cluster,
        &mut c,
        &w,
    )
    .await;

    cluster.heal();
    w.wait_more(&mut c, 10).await;
    checkpoint("healed", &cluster, &mut c, &w).await;

    // 2. The console cut from its member and one more, all three in quorum: one member stays
    //    reachable. (Which member the console is on now depends on how the heal went: m0 coming
    //    back may force an election, and the console may move.)
    let on = watched_member(&mut c).await;
    let (other, left) = ((on + 1) % 3, (on + 2) % 3);
    eprintln!(
        "the console watches on m{on}: m{on} and m{other} off the client network, m{left} stays"
    );
    let mark = c.healths.len();
    let cut = Instant::now();
    cluster.cut_from_clients(on);
    cluster.cut_from_clients(other);
    leaves_live("the console cut from its member", &mut c, mark, cut).await;
    c.until(FAILOVER, "Live on the member left", |c| c.live_since(mark))
        .await;
    let live = c.live_at(mark).expect("Live was just seen");
    eprintln!(
        "the console cut from its member: Live on m{left} {:?} after the cut",
        live - cut
    );
    w.wait_more(&mut c, 15).await;
    checkpoint("the console cut from its member", &cluster, &mut c, &w).await;
    eprintln!(
        "console cut from its member: health since {:?}, members = etcdctl after {:?}",
        &c.healths[mark..],
        cut.elapsed()
    );

    cluster.heal();
    w.wait_more(&mut c, 10).await;
    checkpoint("healed again", &cluster, &mut c, &w).await;
    eprintln!("total {:?}, {} writes", t_all.elapsed(), w.writes());
}

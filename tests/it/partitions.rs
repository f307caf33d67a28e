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

/// A failover through a partition: noticing it (keep-alive 5 s + 5 s, or etcd's leader loss after
/// its election timeout), then the connect timeout per dead endpoint, on a loaded machine.
const FAILOVER: Duration = Duration::from_secs(45);

/// The member the writer and the ground truth use: never cut from its peers.
const MAJORITY: usize = 2;

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

    fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        let t = Instant::now();
        while !self.idle.load(Ordering::SeqCst) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the writer never paused"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Waits until `n` more writes went through.
    fn wait_more(&self, n: u64) {
        let from = self.writes();
        let t = Instant::now();
        while self.writes() < from + n {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the writer made {} of {n} writes on the majority",
                self.writes() - from
            );
            std::thread::sleep(Duration::from_millis(20));
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
    w.pause();
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
    w.wait_more(10);
    checkpoint("before", &cluster, &mut c, &w).await;

    // 1. m0 (the console's member) cut from its peers; the majority writes and compacts.
    let mark = c.healths.len();
    let cut = Instant::now();
    cluster.cut_from_peers(0);
    let t = c
        .until(FAILOVER, "Retrying once m0 lost its peers", |c| {
            c.retrying_since(mark).is_some()
        })
        .await;
    eprintln!(
        "m0 cut from its peers: {:?} after {t:?}",
        c.healths[c.retrying_since(mark).unwrap_or(mark)]
    );
    w.wait_more(15);
    let rev = revision(&cluster);
    cluster
        .etcdctl_in(MAJORITY, &["compaction", &rev.to_string()])
        .expect("compaction on the majority");
    w.wait_more(10);
    // Live again only with the majority's writes: m0 cannot have them.
    let t = c
        .until(FAILOVER, "Live again on the majority", |c| {
            c.live_since(mark)
        })
        .await;
    eprintln!("live again {t:?} later ({:?} after the cut)", cut.elapsed());
    checkpoint(
        "m0 cut from its peers, after a compaction",
        &cluster,
        &mut c,
        &w,
    )
    .await;

    cluster.heal();
    w.wait_more(10);
    checkpoint("healed", &cluster, &mut c, &w).await;

    // 2. The console cut from the majority only: m1 and m2 off the client network, m0 in quorum.
    let mark = c.healths.len();
    let cut = Instant::now();
    cluster.cut_from_clients(1);
    cluster.cut_from_clients(2);
    w.wait_more(15);
    checkpoint("the console cut from the majority", &cluster, &mut c, &w).await;
    eprintln!(
        "console cut from the majority: health since {:?}, members = etcdctl after {:?}",
        &c.healths[mark..],
        cut.elapsed()
    );

    cluster.heal();
    w.wait_more(10);
    checkpoint("healed again", &cluster, &mut c, &w).await;
    eprintln!("total {:?}, {} writes", t_all.elapsed(), w.writes());
}

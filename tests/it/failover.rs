//! Failover: the etcd membership source when members fail. Against a real 3-member etcd cluster on
//! loopback, driven through the app's own core: members are killed (SIGKILL), frozen (SIGSTOP) or
//! left without quorum while a writer keeps putting and deleting keys, and at every checkpoint the
//! console's membership must equal etcd's own `get --prefix` — no missing member, no ghost; a
//! compaction while the console could reach no member makes it re-list. Which member the console
//! is watching on is read from each member's `/metrics` (`etcd_debugging_mvcc_watch_stream_total`),
//! the leader from `etcdctl endpoint status`. Also: a dead first endpoint in the profile.

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_client::{Client, ConnectOptions};
use opsconsole::model::DeregisterOutcome;
use tokio::task::JoinHandle;

use common::etcd_cluster::EtcdCluster;
use common::etcd_console;
use common::etcd_console::{etcd_members, profile, Console, Members};
use common::proxy::Proxy;
use common::wait::{pump_until, wait_until_async_or};
use common::{free_port, wait_until, wait_until_async, Etcd};

/// A change reaching the state: well under a second when connected.
const LIVE: Duration = Duration::from_secs(5);

/// Reconnect through the source's backoff (250 ms doubling) plus an election.
const RECONNECT: Duration = Duration::from_secs(20);

/// What differs between the console and etcd: (missing from the console, ghosts, stale values).
fn diff(console: &Members, truth: &Members) -> (Vec<String>, Vec<String>, Vec<String>) {
    let missing = truth
        .keys()
        .filter(|k| !console.contains_key(*k))
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    let ghosts = console
        .keys()
        .filter(|k| !truth.contains_key(*k))
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    let stale = truth
        .iter()
        .filter(|(k, v)| console.get(*k).is_some_and(|c| c != *v))
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    (missing, ghosts, stale)
}

/// Number of watch streams member `i` serves right now (from its Prometheus metrics).
async fn watch_streams(cluster: &EtcdCluster, i: usize) -> Option<u64> {
    if !cluster.nodes[i].is_running() {
        return Some(0);
    }
    let url = format!("{}/metrics", cluster.endpoint(i));
    opsconsole::sources::http::install_crypto_provider();
    let text = reqwest::Client::new()
        .get(&url)
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

/// The member the console is watching on (the only member with a watch stream).
async fn watched_member(cluster: &EtcdCluster) -> usize {
    wait_until_async("exactly one member with a watch stream", LIVE, || async {
        let mut on = Vec::new();
        for i in 0..cluster.nodes.len() {
            if watch_streams(cluster, i).await.unwrap_or(0) > 0 {
                on.push(i);
            }
        }
        match on[..] {
            [one] => Ok(one),
            _ => Err(format!("members with a watch stream: {on:?}")),
        }
    })
    .await
}

struct Writer {
    stop: Arc<AtomicBool>,
    pause: Arc<AtomicBool>,
    /// Set by the writer when it has seen `pause` and has no request in flight.
    idle: Arc<AtomicBool>,
    acked: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    endpoints: Arc<Mutex<Vec<String>>>,
    task: Option<JoinHandle<()>>,
}

impl Writer {
    /// Puts `/services/w/w-N` in a loop and deletes every third earlier key, trying the endpoints
    /// in turn until one accepts each operation (a failed write is retried, never skipped).
    fn start(endpoints: Vec<String>) -> Writer {
        let mut w = Writer {
            stop: Arc::new(AtomicBool::new(false)),
            pause: Arc::new(AtomicBool::new(false)),
            idle: Arc::new(AtomicBool::new(false)),
            acked: Arc::new(AtomicU64::new(0)),
            failed: Arc::new(AtomicU64::new(0)),
            endpoints: Arc::new(Mutex::new(endpoints)),
            task: None,
        };
        let (stop, pause, idle, acked, failed, eps) = (
            w.stop.clone(),
            w.pause.clone(),
            w.idle.clone(),
            w.acked.clone(),
            w.failed.clone(),
            w.endpoints.clone(),
        );
        let task = tokio::spawn(async move {
            let mut clients: BTreeMap<String, Client> = BTreeMap::new();
            let mut n: u64 = 0;
            let mut rr = 0usize;
            while !stop.load(Ordering::SeqCst) {
                if pause.load(Ordering::SeqCst) {
                    idle.store(true, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                idle.store(false, Ordering::SeqCst);
                let endpoints = eps.lock().unwrap().clone();
                let ep = endpoints[rr % endpoints.len()].clone();
                let op = async {
                    if !clients.contains_key(&ep) {
                        let opts = ConnectOptions::new()
                            .with_connect_timeout(Duration::from_millis(500))
                            .with_timeout(Duration::from_secs(2));
                        let c = Client::connect([ep.as_str()], Some(opts)).await?;
                        clients.insert(ep.clone(), c);
                    }
                    let c = clients.get_mut(&ep).unwrap();
                    c.put(
                        format!("/services/w/w-{n:05}"),
                        format!(r#"{{"addr":"10.1.{}.{}","port":80}}"#, n / 256, n % 256),
                        None,
                    )
                    .await?;
                    if n % 3 == 2 {
                        c.delete(format!("/services/w/w-{:05}", n - 2), None)
                            .await?;
                    }
                    Ok::<_, etcd_client::Error>(())
                };
                match tokio::time::timeout(Duration::from_secs(3), op).await {
                    Ok(Ok(())) => {
                        acked.fetch_add(1, Ordering::SeqCst);
                        n += 1;
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::SeqCst);
                        clients.remove(&ep);
                        rr += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        w.task = Some(task);
        w
    }

    fn acked(&self) -> u64 {
        self.acked.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` more writes were acknowledged.
    async fn wait_writes(&self, n: u64, timeout: Duration) {
        let target = self.acked() + n;
        wait_until_async_or(
            format!("{n} more acknowledged writes"),
            timeout,
            || async { self.acked() >= target },
            || {
                format!(
                    "writer stuck: {} acked, {} failed",
                    self.acked(),
                    self.failed.load(Ordering::SeqCst)
                )
            },
        )
        .await;
    }

    async fn pause(&self) {
        self.pause.store(true, Ordering::SeqCst);
        wait_until_async("the writer to pause", Duration::from_secs(10), || async {
            self.idle.load(Ordering::SeqCst)
        })
        .await;
    }

    fn resume(&self) {
        self.idle.store(false, Ordering::SeqCst);
        self.pause.store(false, Ordering::SeqCst);
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// Pauses the writer, reads etcd's truth and waits until the console equals it; resumes the
/// writer. Returns how long convergence took.
async fn checkpoint(
    step: &str,
    cluster: &EtcdCluster,
    c: &mut Console,
    writer: &Writer,
    timeout: Duration,
) -> Duration {
    writer.pause().await;
    let truth = etcd_members(cluster);
    let t0 = Instant::now();
    pump_until(c, format!("{step}: console == etcd"), timeout, |c| {
        let now = c.members();
        if now == truth {
            return Ok(());
        }
        let (missing, ghosts, stale) = diff(&now, &truth);
        Err(format!(
            "{} missing {missing:?}, {} ghosts {ghosts:?}, {} stale {stale:?}",
            missing.len(),
            ghosts.len(),
            stale.len(),
        ))
    })
    .await;
    let took = t0.elapsed();
    eprintln!(
        "{step}: console == etcd ({} members, {} writes acked so far) after {took:?}",
        truth.len(),
        writer.acked()
    );
    writer.resume();
    took
}

fn seed(cluster: &EtcdCluster, n: usize) {
    for i in 0..n {
        cluster.ctl(&[
            "put",
            &format!("/services/web/web-{i}"),
            &format!(r#"{{"addr":"10.0.0.{i}","port":80}}"#),
        ]);
    }
}

// ---------------------------------------------------------------------------------------------
// Kill the member the console uses, then the leader, then the leader while the console is on it

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn failover_kill_console_member_then_leader_while_writing() {
    let t_all = Instant::now();
    let mut cluster = EtcdCluster::start(3);
    eprintln!("3-member cluster healthy after {:?}", t_all.elapsed());
    seed(&cluster, 20);

    let mut c = Console::start(profile(&cluster.endpoints()));
    c.until(LIVE, "Live with the seeded members", |c| {
        c.is_live() && c.state().members.len() == 20
    })
    .await;
    assert_eq!(c.snapshots, vec![20]);
    let on = watched_member(&cluster).await;
    assert_eq!(on, 0, "the console watches on the first endpoint");

    let writer = Writer::start(cluster.endpoints());
    writer.wait_writes(20, LIVE).await;
    checkpoint("before any fault", &cluster, &mut c, &writer, LIVE).await;

    // (a) The member the console is using dies.
    let mark = c.healths.len();
    let leader_before = cluster.leader();
    eprintln!(
        "killing n1 (the console's member; leader is n{})",
        leader_before + 1
    );
    cluster.kill(0);
    let t = c
        .until(RECONNECT, "Retrying then Live after n1 died", |c| {
            c.retrying_since(mark).is_some() && c.live_since(mark)
        })
        .await;
    let on = watched_member(&cluster).await;
    eprintln!("console live again on n{} after {t:?}", on + 1);
    assert_ne!(on, 0);
    writer.wait_writes(20, RECONNECT).await;
    checkpoint("n1 down", &cluster, &mut c, &writer, RECONNECT).await;
    cluster.restart(0);
    writer.wait_writes(10, RECONNECT).await;
    checkpoint("n1 back", &cluster, &mut c, &writer, RECONNECT).await;

    // (b) The leader dies (whichever member it is).
    let leader = cluster.leader();
    let on = watched_member(&cluster).await;
    eprintln!(
        "killing the leader n{} (console on n{}: {})",
        leader + 1,
        on + 1,
        if leader == on {
            "same member"
        } else {
            "another member"
        }
    );
    let mark = c.healths.len();
    cluster.kill(leader);
    writer.wait_writes(20, RECONNECT).await;
    let new_leader = cluster.leader();
    assert_ne!(new_leader, leader);
    eprintln!("new leader n{}", new_leader + 1);
    checkpoint("leader down", &cluster, &mut c, &writer, RECONNECT).await;
    if leader == on {
        assert!(
            c.retrying_since(mark).is_some(),
            "the console's member died: it must have noticed"
        );
    }
    cluster.restart(leader);
    writer.wait_writes(10, RECONNECT).await;
    checkpoint("old leader back", &cluster, &mut c, &writer, RECONNECT).await;

    // (c) Make the console's member the leader, then kill it: its watch dies mid-election.
    let on = watched_member(&cluster).await;
    let leader = cluster.leader();
    if leader != on {
        let st = cluster.status();
        let target = st
            .iter()
            .find(|s| s.index == on)
            .expect("status of console member");
        let out = cluster
            .etcdctl_on(
                &[leader],
                &["move-leader", &format!("{:x}", target.member_id)],
            )
            .unwrap_or_else(|e| panic!("move-leader: {e}"));
        eprintln!("{}", out.trim());
        wait_until(
            format!("leadership to move to n{}", on + 1),
            Duration::from_secs(10),
            || cluster.leader() == on,
        );
    }
    eprintln!("killing n{}: the leader and the console's member", on + 1);
    let mark = c.healths.len();
    cluster.kill(on);
    let t = c
        .until(RECONNECT, "Live again after the leader it used died", |c| {
            c.retrying_since(mark).is_some() && c.live_since(mark)
        })
        .await;
    eprintln!("console live again after {t:?}");
    writer.wait_writes(20, RECONNECT).await;
    checkpoint(
        "console's leader down",
        &cluster,
        &mut c,
        &writer,
        RECONNECT,
    )
    .await;
    cluster.restart(on);

    // Final: the writer stops; the console equals etcd, revision included.
    writer.wait_writes(10, RECONNECT).await;
    checkpoint("final", &cluster, &mut c, &writer, RECONNECT).await;
    writer.pause().await;
    c.until(LIVE, "revision caught up", |c| {
        c.state().members.revision == cluster.revision()
    })
    .await;
    eprintln!(
        "writes acked {}, retried {}, snapshots {:?}, total {:?}",
        writer.acked(),
        writer.failed.load(Ordering::SeqCst),
        c.snapshots,
        t_all.elapsed()
    );
    assert!(writer.acked() >= 100);
    assert_eq!(
        c.snapshots.len(),
        1,
        "no history was compacted: every reconnect resumed from the last revision, no re-list"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_second_endpoint() {
    let etcd = Etcd::start();
    etcd.ctl(&["put", "/services/web/web-1", "10.0.0.1:80"]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:80"]);
    let dead = format!("http://127.0.0.1:{}", free_port());
    let mut c = Console::start(profile(&[dead, etcd.endpoint()]));
    let t = c
        .until(
            etcd_console::RECONNECT,
            "Live and listed with a dead first endpoint",
            |c| c.is_live() && c.state().members.len() == 2,
        )
        .await;
    eprintln!("live after {t:?}; health history {:?}", c.healths);
    assert_eq!(c.members(), etcd_members(&etcd));

    // And it stays usable: live events and commands go to the endpoint that answers.
    for i in 3..9 {
        let key = format!("/services/web/web-{i}");
        etcd.ctl(&["put", &key, "10.0.0.3:80"]);
        c.until(etcd_console::LIVE, "the new member appears", |c| {
            c.has(&key)
        })
        .await;
        let out = c.deregister(&key, false).await;
        assert_eq!(
            out,
            DeregisterOutcome::Deleted {
                lease_revoked: None
            },
            "request {i}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Compaction while the console could reach no member

/// The console's only member dies; the other two (a quorum) take writes, deletes and a compaction;
/// the member comes back; the console must re-list and show exactly what etcd has.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn compaction_while_its_only_member_was_down() {
    let t_all = Instant::now();
    let mut cluster = EtcdCluster::start(3);
    seed(&cluster, 10);
    let mut c = Console::start(profile(&[cluster.endpoint(0)]));
    c.until(LIVE, "Live", |c| {
        c.is_live() && c.state().members.len() == 10
    })
    .await;
    let writer = Writer::start(vec![cluster.endpoint(1), cluster.endpoint(2)]);
    writer.wait_writes(10, LIVE).await;
    checkpoint("before", &cluster, &mut c, &writer, LIVE).await;

    let mark = c.healths.len();
    cluster.kill(0);
    c.until(RECONNECT, "Retrying", |c| c.retrying_since(mark).is_some())
        .await;
    writer.wait_writes(20, RECONNECT).await;
    writer.pause().await;
    for i in 0..5 {
        cluster.ctl(&["del", &format!("/services/web/web-{i}")]);
    }
    cluster.ctl(&["put", "/services/db/db-1", "10.0.2.1:5432"]);
    let rev = cluster.revision();
    cluster.ctl(&["compact", &rev.to_string()]);
    writer.resume();
    writer.wait_writes(10, RECONNECT).await;
    assert!(
        c.state().members.get("/services/db/db-1").is_none(),
        "not reachable yet"
    );

    cluster.restart(0);
    let t = c
        .until(RECONNECT, "Live again", |c| c.live_since(mark))
        .await;
    eprintln!("live again {t:?} after n1 came back");
    checkpoint("after compaction", &cluster, &mut c, &writer, RECONNECT).await;
    assert_eq!(
        c.snapshots.len(),
        2,
        "history was compacted while away: exactly one re-list ({:?})",
        c.snapshots
    );
    writer.wait_writes(10, LIVE).await;
    checkpoint(
        "watching after the re-list",
        &cluster,
        &mut c,
        &writer,
        LIVE,
    )
    .await;
    eprintln!("total {:?}", t_all.elapsed());
}

/// Every member is up, but the console is cut off from all three (a proxy per member goes down);
/// writes and a compaction happen meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn compaction_while_cut_off_from_every_member() {
    let t_all = Instant::now();
    let cluster = EtcdCluster::start(3);
    seed(&cluster, 10);
    let mut proxies = Vec::new();
    for n in &cluster.nodes {
        proxies.push(Proxy::start(n.client_port).await);
    }
    let eps: Vec<String> = proxies.iter().map(Proxy::endpoint).collect();
    let mut c = Console::start(profile(&eps));
    c.until(LIVE, "Live", |c| {
        c.is_live() && c.state().members.len() == 10
    })
    .await;
    let writer = Writer::start(cluster.endpoints());
    writer.wait_writes(10, LIVE).await;
    checkpoint("before", &cluster, &mut c, &writer, LIVE).await;

    let mark = c.healths.len();
    for p in &mut proxies {
        p.down().await;
    }
    c.until(RECONNECT, "Retrying", |c| c.retrying_since(mark).is_some())
        .await;
    writer.wait_writes(20, RECONNECT).await;
    writer.pause().await;
    for i in 0..5 {
        cluster.ctl(&["del", &format!("/services/web/web-{i}")]);
    }
    let rev = cluster.revision();
    cluster.ctl(&["compact", &rev.to_string()]);
    writer.resume();
    writer.wait_writes(10, RECONNECT).await;

    for p in &mut proxies {
        p.up().await;
    }
    let t = c
        .until(RECONNECT, "Live again", |c| c.live_since(mark))
        .await;
    eprintln!("live again {t:?} after the proxies came back");
    checkpoint("after compaction", &cluster, &mut c, &writer, RECONNECT).await;
    assert_eq!(
        c.snapshots.len(),
        2,
        "exactly one re-list ({:?})",
        c.snapshots
    );
    writer.wait_writes(10, LIVE).await;
    checkpoint(
        "watching after the re-list",
        &cluster,
        &mut c,
        &writer,
        LIVE,
    )
    .await;
    eprintln!("total {:?}", t_all.elapsed());
}

// ---------------------------------------------------------------------------------------------
// A frozen member (SIGSTOP: sockets stay open, nothing answers) and a member without quorum

/// The console's member hangs (no RST, no FIN): only the HTTP/2 keep-alive can notice. The console
/// must move to another member and keep up with the writes the other two take.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn frozen_console_member_is_left_for_another() {
    let t_all = Instant::now();
    let cluster = EtcdCluster::start(3);
    seed(&cluster, 10);
    let mut c = Console::start(profile(&cluster.endpoints()));
    c.until(LIVE, "Live", |c| {
        c.is_live() && c.state().members.len() == 10
    })
    .await;
    assert_eq!(watched_member(&cluster).await, 0);
    let writer = Writer::start(vec![cluster.endpoint(1), cluster.endpoint(2)]);
    writer.wait_writes(10, LIVE).await;
    checkpoint("before", &cluster, &mut c, &writer, LIVE).await;

    let mark = c.healths.len();
    cluster.freeze(0);
    let t = c
        .until(RECONNECT, "Retrying, then Live on another member", |c| {
            c.retrying_since(mark).is_some() && c.live_since(mark)
        })
        .await;
    eprintln!("frozen member left after {t:?}");
    writer.wait_writes(20, RECONNECT).await;
    checkpoint("n1 frozen", &cluster, &mut c, &writer, RECONNECT).await;
    cluster.thaw(0);
    writer.wait_writes(10, RECONNECT).await;
    checkpoint("n1 thawed", &cluster, &mut c, &writer, RECONNECT).await;
    eprintln!("total {:?}", t_all.elapsed());
}

/// The console's member stays up but loses its quorum (both peers frozen). It can no longer see
/// changes, so the pane must not claim to be live; once the peers are back it catches up.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn member_without_quorum_is_not_shown_as_live() {
    let t_all = Instant::now();
    let cluster = EtcdCluster::start(3);
    seed(&cluster, 10);
    let mut c = Console::start(profile(&cluster.endpoints()));
    c.until(LIVE, "Live", |c| {
        c.is_live() && c.state().members.len() == 10
    })
    .await;
    assert_eq!(watched_member(&cluster).await, 0);
    let writer = Writer::start(cluster.endpoints());
    writer.wait_writes(10, LIVE).await;
    checkpoint("before", &cluster, &mut c, &writer, LIVE).await;

    let mark = c.healths.len();
    cluster.freeze(1);
    cluster.freeze(2);
    let t = c
        .until(RECONNECT, "Retrying once n1 has no leader", |c| {
            c.retrying_since(mark).is_some()
        })
        .await;
    eprintln!(
        "loss of quorum reported after {t:?}: {:?}",
        c.healths.last()
    );
    cluster.thaw(1);
    cluster.thaw(2);
    let t = c
        .until(RECONNECT, "Live again", |c| c.live_since(mark))
        .await;
    eprintln!("live again {t:?} after the peers were thawed");
    writer.wait_writes(20, RECONNECT).await;
    checkpoint("quorum back", &cluster, &mut c, &writer, RECONNECT).await;
    eprintln!("total {:?}", t_all.elapsed());
}

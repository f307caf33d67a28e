//! TLS during failover: a 3-member etcd 3.4 cluster serving clients over TLS only with client
//! certificates (a throw-away CA made by the test, `common::tls::Certs`), auth enabled (user `ops`)
//! with simple tokens that expire after 1 s unused (`--auth-token-ttl 1`), so the console's token
//! runs out while it fails over. The leader is SIGKILLed twice: once with the console's member, once
//! while a deregister and a history read are in flight. etcdctl is the ground truth.

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use opsconsole::config::Config;
use opsconsole::model::DeregisterOutcome;
use opsconsole::state::Popup;

use common::daemon::Daemon;
use common::etcd_console::{members_from_etcdctl, Console, Members, PREFIX};
use common::tls::Certs;
use common::{free_port, require_binary, wait_until_or};

const PASSWORD_VAR: &str = "OPSCONSOLE_TEST_TLS_FAILOVER_PW";
const PASSWORD: &str = "tls-failover-pw";
const FAILOVER: Duration = Duration::from_secs(30);

struct TlsCluster {
    certs: Certs,
    ports: Vec<(u16, u16)>,
    members: Vec<Option<Daemon>>,
    dir: tempfile::TempDir,
    /// etcdctl authenticates as root once auth is on (before, etcd refuses any user).
    auth_on: bool,
}

impl TlsCluster {
    fn endpoint(&self, i: usize) -> String {
        format!("https://127.0.0.1:{}", self.ports[i].0)
    }

    fn start() -> TlsCluster {
        let certs = Certs::generate();
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let initial: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, (_, p))| format!("t{i}=http://127.0.0.1:{p}"))
            .collect();
        let mut c = TlsCluster {
            certs,
            ports,
            members: Vec::new(),
            dir,
            auth_on: false,
        };
        for i in 0..3 {
            let client = c.endpoint(i);
            let peer = format!("http://127.0.0.1:{}", c.ports[i].1);
            let mut cmd = Command::new(require_binary("etcd"));
            cmd.args(["--name", &format!("t{i}")])
                .arg("--data-dir")
                .arg(c.dir.path().join(format!("t{i}")))
                .args(["--listen-client-urls", &client])
                .args(["--advertise-client-urls", &client])
                .args(["--listen-peer-urls", &peer])
                .args(["--initial-advertise-peer-urls", &peer])
                .args(["--initial-cluster", &initial.join(",")])
                .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
                // Tokens unused for 1 s expire: the console's runs out during a failover.
                .args(["--auth-token", "simple", "--auth-token-ttl", "1"])
                .arg("--cert-file")
                .arg(&c.certs.server_cert)
                .arg("--key-file")
                .arg(&c.certs.server_key)
                .arg("--trusted-ca-file")
                .arg(&c.certs.ca)
                .arg("--client-cert-auth")
                .args(["--logger=zap", "--log-outputs=stderr"]);
            let log = c.dir.path().join(format!("t{i}.log"));
            c.members.push(Some(Daemon::spawn(
                &format!("etcd t{i} (TLS)"),
                &mut cmd,
                log,
            )));
        }
        for i in 0..3 {
            wait_until_or(
                format!("TLS etcd t{i} healthy"),
                Duration::from_secs(30),
                || c.ctl_on(&[i], &["endpoint", "health"]).is_ok(),
                || c.log_tail(i),
            );
        }
        c
    }

    fn log_tail(&self, i: usize) -> String {
        common::daemon::tail(&self.dir.path().join(format!("t{i}.log")), 20)
    }

    /// etcdctl over TLS (client certificate) on `members`, as root once auth is on.
    fn ctl_on(&self, members: &[usize], args: &[&str]) -> Result<String, String> {
        let endpoints: Vec<String> = members.iter().map(|&i| self.endpoint(i)).collect();
        let out = Command::new(require_binary("etcdctl"))
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &endpoints.join(",")])
            .arg("--cacert")
            .arg(&self.certs.ca)
            .arg("--cert")
            .arg(&self.certs.client_cert)
            .arg("--key")
            .arg(&self.certs.client_key)
            .args(if self.auth_on {
                &["--user", "root:rootpw", "--command-timeout=5s"][..]
            } else {
                &["--command-timeout=5s"][..]
            })
            .args(args)
            .output()
            .map_err(|e| format!("etcdctl: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn running(&self) -> Vec<usize> {
        (0..3).filter(|&i| self.members[i].is_some()).collect()
    }

    fn ctl(&self, args: &[&str]) -> String {
        self.ctl_on(&self.running(), args)
            .unwrap_or_else(|e| panic!("etcdctl {args:?}: {e}"))
    }

    /// The leader's index, from `endpoint status` on the running members.
    fn leader(&self) -> usize {
        wait_until_or(
            "a leader every running member agrees on",
            FAILOVER,
            || {
                let json = self
                    .ctl_on(&self.running(), &["endpoint", "status", "-w", "json"])
                    .ok()?;
                let v: serde_json::Value = serde_json::from_str(&json).ok()?;
                let all = v.as_array()?;
                let leader = all.first()?["Status"]["leader"].as_u64()?;
                if leader == 0
                    || !all
                        .iter()
                        .all(|s| s["Status"]["leader"].as_u64() == Some(leader))
                {
                    return None;
                }
                let i = all
                    .iter()
                    .position(|s| s["Status"]["header"]["member_id"].as_u64() == Some(leader))?;
                let endpoint = all[i]["Endpoint"].as_str()?;
                (0..3).find(|&k| self.endpoint(k) == endpoint)
            },
            String::new,
        )
    }

    /// Member `i`'s id, from its own `endpoint status`.
    fn member_id(&self, i: usize) -> u64 {
        let json = self
            .ctl_on(&[i], &["endpoint", "status", "-w", "json"])
            .unwrap_or_else(|e| panic!("endpoint status of t{i}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&json).expect("etcdctl json");
        v[0]["Status"]["header"]["member_id"]
            .as_u64()
            .unwrap_or_else(|| panic!("no member id in {json}"))
    }

    /// Watch streams open on member `i` (its `/metrics` over TLS with the client certificate).
    fn watch_streams(&self, i: usize) -> Option<u64> {
        let out = Command::new(require_binary("curl"))
            .args(["-sf", "--max-time", "3", "--cacert"])
            .arg(&self.certs.ca)
            .arg("--cert")
            .arg(&self.certs.client_cert)
            .arg("--key")
            .arg(&self.certs.client_key)
            .arg(format!("{}/metrics", self.endpoint(i)))
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("etcd_debugging_mvcc_watch_stream_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    }

    /// The member the console watches on: the only running one with a watch stream.
    fn watched(&self) -> usize {
        wait_until_or(
            "exactly one member with a watch stream",
            FAILOVER,
            || {
                let on: Vec<usize> = self
                    .running()
                    .into_iter()
                    .filter(|&i| self.watch_streams(i).unwrap_or(0) > 0)
                    .collect();
                match on[..] {
                    [one] => Some(one),
                    _ => None,
                }
            },
            String::new,
        )
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut d) = self.members[i].take() {
            d.kill();
        }
    }

    fn truth(&self) -> Members {
        members_from_etcdctl(&self.ctl(&["get", "--prefix", PREFIX, "-w", "json"]))
    }
}

fn console(cluster: &TlsCluster) -> Console {
    let endpoints: Vec<String> = (0..3)
        .map(|i| format!("\"{}\"", cluster.endpoint(i)))
        .collect();
    let toml = format!(
        "[clusters.test]\netcd = {{ endpoints = [{}], prefix = \"{PREFIX}\", ca = \"{}\", cert = \"{}\", key = \"{}\", user = \"ops\", password_env = \"{PASSWORD_VAR}\", connect_timeout_secs = 2, keepalive_secs = 5 }}\n",
        endpoints.join(", "),
        cluster.certs.ca.display(),
        cluster.certs.client_cert.display(),
        cluster.certs.client_key.display(),
    );
    let profile = Config::parse(&toml, std::path::Path::new("/test/config.toml"))
        .and_then(|c| c.cluster("test"))
        .unwrap_or_else(|e| panic!("{e}"));
    Console::with_cluster(profile)
}

async fn checkpoint(name: &str, cluster: &TlsCluster, c: &mut Console) {
    let want = cluster.truth();
    let t = c
        .until(FAILOVER, &format!("{name}: members = etcdctl"), |c| {
            c.is_live() && c.members() == want
        })
        .await;
    eprintln!(
        "checkpoint {name}: {} members = etcdctl after {t:?}",
        want.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_auth_and_an_expiring_token_through_two_leader_kills_with_a_deregister_and_a_history_read_in_flight(
) {
    // SAFETY: set before the console reads it; no other test reads this variable.
    unsafe { std::env::set_var(PASSWORD_VAR, PASSWORD) };
    let t_all = Instant::now();
    let mut cluster = TlsCluster::start();
    cluster.ctl(&["user", "add", "root:rootpw"]);
    cluster.ctl(&["user", "add", &format!("ops:{PASSWORD}")]);
    cluster.ctl(&["role", "add", "fleet"]);
    cluster.ctl(&[
        "role",
        "grant-permission",
        "fleet",
        "--prefix=true",
        "readwrite",
        PREFIX,
    ]);
    cluster.ctl(&["user", "grant-role", "ops", "fleet"]);
    for i in 0..8 {
        cluster.ctl(&[
            "put",
            &format!("{PREFIX}web/web-{i}"),
            &format!("10.0.0.{i}:80"),
        ]);
    }
    // web-0 has a history: two earlier values.
    cluster.ctl(&["put", &format!("{PREFIX}web/web-0"), "10.0.0.100:80"]);
    cluster.ctl(&["put", &format!("{PREFIX}web/web-0"), "10.0.0.200:80"]);
    cluster.ctl(&["auth", "enable"]);
    cluster.auth_on = true;

    let mut c = console(&cluster);
    c.until(FAILOVER, "Live over TLS with auth", |c| {
        c.is_live() && c.state().members.len() == 8
    })
    .await;
    checkpoint("start", &cluster, &mut c).await;

    // 1. The console's member (t0, the first endpoint) is made the leader's victim: SIGKILL t0
    //    after the token has had time to expire (idle > 1 s).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let leader = cluster.leader();
    let mark = c.healths.len();
    let t = Instant::now();
    cluster.kill(0);
    c.until(FAILOVER, "Live again after t0 was killed", |c| {
        c.live_since(mark)
    })
    .await;
    cluster.leader();
    eprintln!(
        "t0 killed (leader was t{leader}): {:?}, live again after {:?}",
        &c.healths[mark..],
        t.elapsed()
    );
    cluster.ctl(&["put", &format!("{PREFIX}web/web-8"), "10.0.0.8:80"]);
    checkpoint("t0 gone", &cluster, &mut c).await;

    // t0 back (its data dir intact): three members again.
    restart(&mut cluster, 0);
    checkpoint("t0 back", &cluster, &mut c).await;

    // 2. The leader is killed while a deregister and a history read are in flight, the token idle
    //    past its TTL again; the two left elect a new leader. What each request answered must be
    //    the truth (etcdctl) once they have.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let leader = cluster.leader();
    let killed = leader;
    let victim = format!("{PREFIX}web/web-3");
    c.open_deregister(victim.as_bytes(), false);
    let before = c.deregs.len();
    let mark = c.healths.len();
    cluster.kill(leader);
    c.h.press("y");
    // The history read: the detail of web-0 (Enter on its row).
    c.select(format!("{PREFIX}web/web-0").as_bytes());
    c.h.press("enter");
    let took = c
        .until(FAILOVER, "the deregister's outcome", |c| {
            c.deregs.len() > before
        })
        .await;
    let outcome = c.deregs[before].1.clone();
    eprintln!("deregister sent as t{leader} (the leader) was killed: {outcome:?} after {took:?}");
    let took = c
        .until(FAILOVER, "the history read answered", |c| {
            matches!(
                &c.state().popup,
                Some(Popup::MemberDetail {
                    history: Some(_),
                    ..
                })
            )
        })
        .await;
    let answered = match &c.state().popup {
        Some(Popup::MemberDetail {
            history: Some(h), ..
        }) => h.clone(),
        _ => unreachable!("checked above"),
    };
    eprintln!(
        "history read sent during the election: {:?} after {took:?}",
        answered.as_ref().map(|v| v
            .iter()
            .map(|e| String::from_utf8_lossy(&e.value).into_owned())
            .collect::<Vec<_>>())
    );
    eprintln!("etcd health since the kill: {:?}", &c.healths[mark..]);
    cluster.leader();
    let truth = cluster.truth();
    let deleted = !truth.contains_key(victim.as_bytes());
    match &outcome {
        DeregisterOutcome::Deleted { .. } => assert!(deleted, "said deleted, etcd still has it"),
        other => assert!(
            !deleted,
            "said {other:?}, but etcd deleted it (an outcome that is not the truth)"
        ),
    }
    if let Ok(revisions) = &answered {
        let values: Vec<String> = revisions
            .iter()
            .map(|e| String::from_utf8_lossy(&e.value).into_owned())
            .collect();
        assert!(
            values.iter().any(|v| v == "10.0.0.100:80"),
            "the history lost a value: {values:?}"
        );
    }
    checkpoint("quorum back", &cluster, &mut c).await;

    // 3. After the failover, the token idle past its TTL: a deregister and a history read on the
    //    live console must go through (a fresh token), not fail with `invalid auth token`.
    c.h.press("esc");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let victim = format!("{PREFIX}web/web-5");
    let outcome = c.deregister(victim.as_bytes(), false).await;
    eprintln!("deregister with the token expired: {outcome:?}");
    assert!(
        matches!(outcome, DeregisterOutcome::Deleted { .. }),
        "{outcome:?}"
    );
    assert!(!cluster.truth().contains_key(victim.as_bytes()));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    c.select(format!("{PREFIX}web/web-0").as_bytes());
    c.h.press("enter");
    c.until(FAILOVER, "the history read answered", |c| {
        matches!(
            &c.state().popup,
            Some(Popup::MemberDetail {
                history: Some(_),
                ..
            })
        )
    })
    .await;
    match &c.state().popup {
        Some(Popup::MemberDetail {
            history: Some(Ok(revisions)),
            ..
        }) => {
            let values: Vec<String> = revisions
                .iter()
                .map(|e| String::from_utf8_lossy(&e.value).into_owned())
                .collect();
            eprintln!("history with the token expired: {values:?}");
            assert!(values.iter().any(|v| v == "10.0.0.100:80"), "{values:?}");
        }
        other => panic!("the history read failed with the token expired: {other:?}"),
    }
    checkpoint("after the expired token", &cluster, &mut c).await;

    // 4. The console on a follower while the leader is killed, a deregister and a history read
    //    in flight: the follower forwards the write to a leader that is gone, then a new one.
    restart(&mut cluster, killed);
    checkpoint("three members again", &cluster, &mut c).await;
    let watched = cluster.watched();
    let mut leader = cluster.leader();
    if leader == watched {
        let to = (0..3).find(|&i| i != watched).expect("another member");
        cluster.ctl(&["move-leader", &format!("{:x}", cluster.member_id(to))]);
        leader = cluster.leader();
    }
    assert_ne!(leader, watched);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let victim = format!("{PREFIX}web/web-6");
    c.h.press("esc");
    c.open_deregister(victim.as_bytes(), false);
    let before = c.deregs.len();
    let mark = c.healths.len();
    cluster.kill(leader);
    c.h.press("y");
    c.select(format!("{PREFIX}web/web-0").as_bytes());
    c.h.press("enter");
    let took = c
        .until(FAILOVER, "the deregister's outcome", |c| {
            c.deregs.len() > before
        })
        .await;
    let outcome = c.deregs[before].1.clone();
    eprintln!(
        "console on t{watched}, leader t{leader} killed with a deregister in flight: {outcome:?} after {took:?}"
    );
    c.until(FAILOVER, "the history read answered", |c| {
        matches!(
            &c.state().popup,
            Some(Popup::MemberDetail {
                history: Some(_),
                ..
            })
        )
    })
    .await;
    if let Some(Popup::MemberDetail {
        history: Some(h), ..
    }) = &c.state().popup
    {
        eprintln!(
            "history read during that election: {:?}",
            h.as_ref().map(|v| v.len())
        );
        if let Ok(revisions) = h {
            assert!(revisions
                .iter()
                .any(|e| String::from_utf8_lossy(&e.value) == "10.0.0.100:80"));
        }
    }
    eprintln!("etcd health since the kill: {:?}", &c.healths[mark..]);
    // etcd's `leader changed` is answered by asking again (the delete is guarded on the
    // mod_revision), not handed to the user.
    assert!(
        !matches!(&outcome, DeregisterOutcome::Failed(m) if m.contains("leader changed")),
        "{outcome:?}"
    );
    cluster.leader();
    let deleted = !cluster.truth().contains_key(victim.as_bytes());
    match &outcome {
        DeregisterOutcome::Deleted { .. } => assert!(deleted, "said deleted, etcd still has it"),
        other => assert!(
            !deleted,
            "said {other:?}, but etcd deleted it (an outcome that is not the truth)"
        ),
    }
    checkpoint("new leader", &cluster, &mut c).await;
    eprintln!("total {:?}", t_all.elapsed());
}

fn restart(cluster: &mut TlsCluster, i: usize) {
    let client = cluster.endpoint(i);
    let peer = format!("http://127.0.0.1:{}", cluster.ports[i].1);
    let initial: Vec<String> = cluster
        .ports
        .iter()
        .enumerate()
        .map(|(k, (_, p))| format!("t{k}=http://127.0.0.1:{p}"))
        .collect();
    let mut cmd = Command::new(require_binary("etcd"));
    cmd.args(["--name", &format!("t{i}")])
        .arg("--data-dir")
        .arg(cluster.dir.path().join(format!("t{i}")))
        .args(["--listen-client-urls", &client])
        .args(["--advertise-client-urls", &client])
        .args(["--listen-peer-urls", &peer])
        .args(["--initial-advertise-peer-urls", &peer])
        .args(["--initial-cluster", &initial.join(",")])
        .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
        .args(["--auth-token", "simple", "--auth-token-ttl", "1"])
        .arg("--cert-file")
        .arg(&cluster.certs.server_cert)
        .arg("--key-file")
        .arg(&cluster.certs.server_key)
        .arg("--trusted-ca-file")
        .arg(&cluster.certs.ca)
        .arg("--client-cert-auth")
        .args(["--logger=zap", "--log-outputs=stderr"]);
    let log = cluster.dir.path().join(format!("t{i}.restart.log"));
    cluster.members[i] = Some(Daemon::spawn(
        &format!("etcd t{i} (TLS, restarted)"),
        &mut cmd,
        log,
    ));
    wait_until_or(
        format!("t{i} back with a quorum"),
        FAILOVER,
        || cluster.ctl_on(&[i], &["endpoint", "health"]).is_ok(),
        || cluster.log_tail(i),
    );
}

//! The logs source against real servers: `logger` → rsyslogd (imudp/imtcp, omhiredis with the JSON
//! template) → redis-server (Pub/Sub channel or list) → `LogsSource` → `Logs` ring buffer. Each test
//! starts its own Redis and rsyslogd on free loopback ports.

use crate::common;

use std::time::Duration;

use opsconsole::model::{Health, LogLine};

use common::log_servers::{logs_profile, LogTail, Redis, Reply, Rsyslog, RsyslogMode, KEY};
use common::wait::Wait;

/// Lines should reach the buffer well within this (rsyslog and Redis are local).
const ARRIVE: Duration = Duration::from_secs(10);
/// Reconnects go through the source's backoff (500 ms doubling).
const RECONNECT: Duration = Duration::from_secs(20);

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("reading the hostname")
        .trim()
        .to_string()
}

fn profile(redis: &Redis, mode: RsyslogMode) -> opsconsole::config::LogsProfile {
    let target = match mode {
        RsyslogMode::Publish => format!("channel = \"{KEY}\""),
        RsyslogMode::Queue => format!("list = \"{KEY}\""),
        RsyslogMode::QueueRpush => format!("list = \"{KEY}\", userpush = true"),
    };
    logs_profile(&format!(
        "{{ kind = \"redis\", url = \"{}\", {target}, timeout_secs = 2 }}",
        redis.url()
    ))
}

/// (host, program, severity, message) of a line, for compact assertions.
fn summary(l: &LogLine) -> (String, String, Option<u8>, String) {
    (
        l.host.to_string(),
        l.program.to_string(),
        l.severity,
        l.message.clone(),
    )
}

fn own(host: &str, program: &str, sev: u8, msg: &str) -> (String, String, Option<u8>, String) {
    (host.into(), program.into(), Some(sev), msg.into())
}

/// Sends a mixed UDP batch (logger, raw RFC 5424 from other hosts, RFC 5424 with several SD
/// elements and a BOM, raw RFC 3164) and returns what each line must look like, in order.
fn send_udp_batch(rs: &Rsyslog, tag: &str) -> Vec<(String, String, Option<u8>, String)> {
    let me = hostname();
    let mut want = Vec::new();
    for i in 0..3 {
        let msg = format!("{tag} hello {i}");
        rs.logger(false, &["-t", "myapp", "-p", "user.err", &msg]);
        want.push(own(&me, "myapp", 3, &msg));
    }
    // PRI = facility * 8 + severity.
    let raw = [
        ("db-7", "postgres", 16 * 8 + 3, 3), // local0.err
        ("web-1", "nginx", 8 + 6, 6),        // user.info
        ("cache-2", "redis", 3 * 8 + 4, 4),  // daemon.warning
        ("lb-1", "haproxy", 20 * 8 + 2, 2),  // local4.crit
        ("mon-1", "collectd", 8 + 7, 7),     // user.debug
        ("edge-9", "envoy", 23 * 8 + 5, 5),  // local7.notice
        ("vault-3", "vault", 4 * 8 + 1, 1),  // auth.alert
        ("core-1", "kernel-agent", 8, 0),    // user.emerg
    ];
    for (i, (host, prog, pri, sev)) in raw.iter().enumerate() {
        let msg = format!("{tag} raw {i} from {host}");
        let line = format!(
            "<{pri}>1 2026-11-25T04:10:{i:02}.123456Z {host} {prog} {} ID{i} - {msg}",
            100 + i
        );
        rs.send_udp(line.as_bytes());
        want.push(own(host, prog, *sev, &msg));
    }
    // Two SD elements and a BOM before the message.
    let msg = format!("{tag} with sd");
    rs.send_udp(
        format!("<165>1 2026-11-25T04:11:00Z sd-host sdapp 7 ID1 [a@1 x=\"1\"][b@2 y=\"a\\]b\"] \u{feff}{msg}")
            .as_bytes(),
    );
    want.push(own("sd-host", "sdapp", 5, &msg));
    // RFC 3164 with a pid.
    let msg = format!("{tag} job done");
    rs.send_udp(format!("<78>Nov 25 04:10:15 app-3 cron[123]: {msg}").as_bytes());
    want.push(own("app-3", "cron", 6, &msg));
    want
}

fn send_tcp_batch(rs: &Rsyslog, tag: &str) -> Vec<(String, String, Option<u8>, String)> {
    let me = hostname();
    let mut want = Vec::new();
    for i in 0..3 {
        let msg = format!("{tag} over tcp {i}");
        rs.logger(true, &["-t", "myapp-tcp", "-p", "local0.warning", &msg]);
        want.push(own(&me, "myapp-tcp", 4, &msg));
    }
    let msg = format!("{tag} raw tcp");
    rs.send_tcp(format!("<11>1 2026-11-25T04:12:00Z tcp-host tcpapp - - - {msg}").as_bytes());
    want.push(own("tcp-host", "tcpapp", 3, &msg));
    want
}

fn tagged(t: &LogTail, tag: &str) -> Vec<(String, String, Option<u8>, String)> {
    t.lines()
        .iter()
        .filter(|l| l.message.starts_with(tag))
        .map(summary)
        .collect()
}

async fn expect_batch(t: &mut LogTail, tag: &str, want: &[(String, String, Option<u8>, String)]) {
    let n = want.len();
    t.until(ARRIVE, &format!("{n} lines tagged {tag}"), |t| {
        tagged(t, tag).len() >= n
    })
    .await;
    assert_eq!(tagged(t, tag), want, "lines tagged {tag}, in order");
}

/// The raw RFC 5424 lines carry explicit timestamps: they must survive rsyslog's rfc3339 template.
fn assert_raw_times(t: &LogTail, tag: &str) {
    for l in t.lines() {
        if let Some(rest) = l.message.strip_prefix(&format!("{tag} raw ")) {
            if let Ok(i) = rest.split(' ').next().unwrap_or("").parse::<u32>() {
                let want = format!("2026-11-25T04:10:{i:02}.123456+00:00");
                assert_eq!(
                    l.time.map(|t| t.to_rfc3339()),
                    Some(want),
                    "timestamp of {:?}",
                    l.message
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_mode_udp_and_tcp_in_order() {
    let redis = Redis::start();
    let rs = Rsyslog::start(redis.port, RsyslogMode::Publish);
    let mut t = LogTail::start(profile(&redis, RsyslogMode::Publish));
    t.until_live(ARRIVE).await;

    let want = send_udp_batch(&rs, "p-udp");
    expect_batch(&mut t, "p-udp", &want).await;
    assert_raw_times(&t, "p-udp");
    let want = send_tcp_batch(&rs, "p-tcp");
    expect_batch(&mut t, "p-tcp", &want).await;
    assert!(!t.retried(), "no reconnects expected: {:?}", t.health);
    assert_eq!(t.logs.dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_mode_backlog_then_live_after_idle() {
    queue_backlog_then_live(RsyslogMode::Queue).await;
}

/// omhiredis `userpush="on"` RPUSHes: with `userpush = true` the console still reads oldest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_mode_with_userpush_reads_oldest_first() {
    queue_backlog_then_live(RsyslogMode::QueueRpush).await;
}

async fn queue_backlog_then_live(mode: RsyslogMode) {
    let redis = Redis::start();
    let rs = Rsyslog::start(redis.port, mode);
    // A backlog written before the console starts is read oldest first.
    let want_backlog = send_udp_batch(&rs, "q-udp");
    common::wait_until_or(
        "rsyslog to queue the batch",
        ARRIVE,
        || redis.cmd(&[b"LLEN", KEY.as_bytes()]).int() as usize >= want_backlog.len(),
        || format!("log:\n{}", rs.log_tail()),
    );

    let mut t = LogTail::start(profile(&redis, mode));
    t.until_live(ARRIVE).await;
    expect_batch(&mut t, "q-udp", &want_backlog).await;
    assert_raw_times(&t, "q-udp");

    // Idle for longer than one BRPOP block: the connection must stay up, not time out and retry.
    // Redis counts a blocking pop when it starts, so two more mean one has run its whole block.
    let pops = blocking_pops(&redis);
    t.until(ARRIVE, "a blocking pop to run its whole block", |_| {
        blocking_pops(&redis) >= pops + 2
    })
    .await;
    t.drain();
    assert!(
        !t.retried(),
        "an idle list must not look like a failure: {:?}",
        t.health
    );
    let want = send_tcp_batch(&rs, "q-tcp");
    expect_batch(&mut t, "q-tcp", &want).await;

    // A big burst (one push of 5000, oldest first, from the side rsyslog pushes to) crosses
    // several batches and stays in order.
    let payloads: Vec<Vec<u8>> = (0..5000)
        .map(|i| {
            format!(
                r#"{{"host":"bulk","program":"gen","severity":"info","message":"bulk {i:05}"}}"#
            )
            .into_bytes()
        })
        .collect();
    let push: &[u8] = if mode == RsyslogMode::QueueRpush {
        b"RPUSH"
    } else {
        b"LPUSH"
    };
    let mut args: Vec<&[u8]> = vec![push, KEY.as_bytes()];
    args.extend(payloads.iter().map(|p| p.as_slice()));
    redis.cmd(&args);
    t.until(ARRIVE, "5000 bulk lines", |t| {
        t.messages()
            .iter()
            .filter(|m| m.starts_with("bulk "))
            .count()
            >= 5000
    })
    .await;
    let bulk: Vec<String> = t
        .messages()
        .into_iter()
        .filter(|m| m.starts_with("bulk "))
        .collect();
    let want: Vec<String> = (0..5000).map(|i| format!("bulk {i:05}")).collect();
    assert_eq!(bulk, want);
    assert!(!t.retried(), "{:?}", t.health);
    assert_eq!(redis.cmd(&[b"LLEN", KEY.as_bytes()]).int(), 0);
}

/// How many BRPOP/BLPOP calls Redis has started (`INFO commandstats`).
fn blocking_pops(redis: &Redis) -> u64 {
    let Reply::Bulk(Some(info)) = redis.cmd(&[b"INFO", b"commandstats"]) else {
        panic!("INFO commandstats is not a bulk string");
    };
    String::from_utf8_lossy(&info)
        .lines()
        .filter(|l| l.starts_with("cmdstat_brpop:") || l.starts_with("cmdstat_blpop:"))
        .filter_map(|l| {
            l.split_once("calls=")?
                .1
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

fn no_controls(s: &str) -> bool {
    !s.chars().any(|c| c.is_control())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_and_invalid_payloads_are_neutralised() {
    let redis = Redis::start();
    let rs = Rsyslog::start(redis.port, RsyslogMode::Publish);
    let mut t = LogTail::start(profile(&redis, RsyslogMode::Publish));
    t.until_live(ARRIVE).await;

    // Through rsyslog: escape sequences in a logger message.
    rs.logger(false, &["-t", "evil", "h1 esc \x1b[2J\x1b]0;pwned\x07 end"]);
    // Through rsyslog: invalid UTF-8 in the message; rsyslog copies the bytes into its JSON as is.
    rs.send_udp(b"<13>1 2026-11-25T04:10:15.003Z web9 nginx 42 ID47 - h2 caf\xe9 \xff end");
    // Straight into Redis: JSON carrying escapes, a raw syslog line with escapes and bad bytes,
    // and plain garbage.
    redis.cmd(&[
        b"PUBLISH",
        KEY.as_bytes(),
        br#"{"host":"j1","program":"jp","severity":"err","message":"h3 before \u001b[2J\u001b]0;pwned\u0007after"}"#,
    ]);
    redis.cmd(&[
        b"PUBLISH",
        KEY.as_bytes(),
        b"<11>Nov 25 04:10:15 raw-h evil: h4 \x1b]0;pwned\x07caf\xe9 \xff!\x1b[31m",
    ]);
    redis.cmd(&[b"PUBLISH", KEY.as_bytes(), b"\xff\xfe h5 garbage \x9b2J"]);
    t.until(ARRIVE, "5 hostile lines", |t| {
        ["h1", "h2", "h3", "h4", "h5"]
            .iter()
            .all(|h| t.messages().iter().any(|m| m.contains(h)))
    })
    .await;
    let lines = t.lines();
    let find = |h: &str| {
        lines
            .iter()
            .find(|l| l.message.contains(h))
            .cloned()
            .unwrap()
    };
    for l in &lines {
        assert!(
            no_controls(&l.message) && no_controls(&l.host) && no_controls(&l.program),
            "control characters reached the buffer: {l:?}"
        );
        assert!(
            l.fields
                .iter()
                .all(|(k, v)| no_controls(k) && no_controls(v)),
            "control characters in fields: {l:?}"
        );
    }
    let h1 = find("h1");
    assert_eq!((&*h1.program, h1.severity), ("evil", Some(5)));
    assert!(
        h1.message.starts_with("h1 esc") && h1.message.ends_with("end"),
        "{h1:?}"
    );
    let h2 = find("h2");
    assert_eq!(
        summary(&h2),
        own("web9", "nginx", 5, "h2 caf\u{fffd} \u{fffd} end"),
        "rsyslog JSON with invalid UTF-8 keeps its fields"
    );
    assert_eq!(summary(&find("h3")), own("j1", "jp", 3, "h3 before after"));
    assert_eq!(
        summary(&find("h4")),
        own("raw-h", "evil", 3, "h4 caf\u{fffd} \u{fffd}!")
    );
    let h5 = find("h5");
    assert!(
        h5.message.contains('\u{fffd}') && h5.message.contains("h5 garbage"),
        "{h5:?}"
    );
}

async fn restart_and_resume(mode: RsyslogMode) {
    let mut redis = Redis::start();
    let rs = Rsyslog::start(redis.port, mode);
    let mut t = LogTail::start(profile(&redis, mode));
    t.until_live(ARRIVE).await;
    rs.logger(false, &["-t", "app", "before restart"]);
    t.until(ARRIVE, "the first line", |t| {
        t.messages().iter().any(|m| m == "before restart")
    })
    .await;

    redis.kill();
    t.until(RECONNECT, "health Retrying", |t| {
        matches!(t.health.last(), Some(Health::Retrying { .. }))
    })
    .await;
    let err = t.last_error().unwrap();
    assert!(
        err.contains(&redis.url()),
        "the error names the server: {err}"
    );
    std::thread::sleep(Duration::from_millis(300));
    redis.restart();
    t.until_live(RECONNECT).await;

    // rsyslog's omhiredis reconnects on its own; keep logging until lines flow again.
    let wait = Wait::new("a line after the Redis restart", RECONNECT);
    let mut i = 0;
    loop {
        rs.logger(false, &["-t", "app", &format!("after restart {i}")]);
        i += 1;
        t.settle(Duration::from_millis(300)).await;
        if t.messages().iter().any(|m| m.starts_with("after restart")) {
            break;
        }
        wait.left(|| format!("health {:?}; rsyslog log:\n{}", t.health, rs.log_tail()));
    }
    if mode == RsyslogMode::Publish {
        assert!(
            t.notices.iter().any(|n| n.contains("re-subscribed")),
            "the operator is told Pub/Sub lost what was sent meanwhile: {:?}",
            t.notices
        );
    }
    let health = &t.health;
    let retry_at = health
        .iter()
        .position(|h| matches!(h, Health::Retrying { .. }))
        .unwrap();
    assert!(
        health[retry_at..].contains(&Health::Live),
        "Retrying then Live: {health:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_mode_survives_redis_restart() {
    restart_and_resume(RsyslogMode::Publish).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_mode_survives_redis_restart() {
    restart_and_resume(RsyslogMode::Queue).await;
}

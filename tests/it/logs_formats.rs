//! Every format rsyslog really sends, read by the logs source: ONE real rsyslogd holding one
//! omhiredis action per template (`common::log_servers::FORMATS`: ForwardFormat — omhiredis's
//! default —, TraditionalForwardFormat, SyslogProtocol23Format, FileFormat, `jsonmesg`, a
//! hand-written JSON string template) plus the JSON list template, each to its own channel or list,
//! in publish and in queue mode. One tail per output, all fed by the same lines.

use crate::common;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use opsconsole::model::LogLine;
use opsconsole::state::checks::EntityScope;

use common::log_servers::{logs_profile, LogTail, Redis, Rsyslog, RsyslogMode, FORMATS, KEY};

const ARRIVE: Duration = Duration::from_secs(15);

/// What one line sent must look like after a given output.
struct Sent {
    message: &'static str,
    severity: u8,
    program: &'static str,
}

const HOST: &str = "web-7";

const LINES: [Sent; 3] = [
    Sent {
        message: "upstream timed out",
        severity: 3,
        program: "nginx",
    },
    Sent {
        message: "disk almost full",
        severity: 4,
        program: "df",
    },
    // A raw tab (passed through: escapeControlCharactersOnReceive is off for this daemon).
    Sent {
        message: "col1\tcol2",
        severity: 6,
        program: "app",
    },
];

fn profile(redis: &Redis, mode: RsyslogMode, key: &str) -> opsconsole::config::LogsProfile {
    let target = match mode {
        RsyslogMode::Publish => format!("channel = \"{key}\""),
        _ => format!("list = \"{key}\""),
    };
    // The sender's zone: RFC 3164 stamps (no zone) are Berlin wall-clock time.
    logs_profile(&format!(
        "{{ kind = \"redis\", url = \"{}\", {target}, timeout_secs = 2, timezone = \"Europe/Berlin\" }}",
        redis.url()
    ))
}

async fn every_format(mode: RsyslogMode) {
    let redis = Redis::start();
    let rs = Rsyslog::start_with_formats(redis.port, mode);
    let keys: Vec<&str> = std::iter::once(KEY)
        .chain(FORMATS.iter().map(|(k, _)| *k))
        .collect();
    let mut tails: Vec<LogTail> = keys
        .iter()
        .map(|k| LogTail::start(profile(&redis, mode, k)))
        .collect();
    for t in &mut tails {
        t.until_live(ARRIVE).await;
    }
    // Stamps with the sender's Berlin offset, an hour ago (so no output puts them in the future).
    let berlin: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
    let sent_at = (Utc::now() - chrono::Duration::hours(1))
        .with_timezone(&berlin)
        .to_rfc3339_opts(SecondsFormat::Micros, false);
    let time: DateTime<Utc> = DateTime::parse_from_rfc3339(&sent_at).unwrap().into();
    for (i, l) in LINES.iter().enumerate() {
        let sd = if i == 1 { r#"[x@1 a="q\]r"]"# } else { "-" };
        let line = format!(
            "<{}>1 {sent_at} {HOST} {} {} - {sd} {}",
            8 + l.severity, // facility user
            l.program,
            4000 + i,
            l.message
        );
        rs.send_udp(line.as_bytes());
    }
    for (key, t) in keys.iter().zip(tails.iter_mut()) {
        t.until(ARRIVE, &format!("3 lines on {key}"), |t| {
            t.lines().len() >= 3
        })
        .await;
        let lines = t.lines();
        let template = FORMATS
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, t)| *t)
            .unwrap_or("json_redis");
        for (got, want) in lines.iter().zip(&LINES) {
            check(template, got, want, time);
        }
        // The issue's first symptom: scoped to the member, nothing may vanish.
        t.logs.set_scope(Some(EntityScope {
            label: HOST.into(),
            names: vec![HOST.into(), "10.0.0.7:80".into(), "10.0.0.7".into()],
            ..Default::default()
        }));
        assert_eq!(
            t.logs.match_count(),
            3,
            "{template}: scoped to {HOST}, its lines stay"
        );
    }
    assert!(
        tails.iter().all(|t| !t.retried()),
        "log:\n{}",
        rs.log_tail()
    );
}

fn check(template: &str, got: &LogLine, want: &Sent, time: DateTime<Utc>) {
    let what = format!("{template}: {got:?}");
    assert_eq!(&*got.host, HOST, "{what}");
    assert_eq!(&*got.program, want.program, "{what}");
    // A raw tab becomes a space; rsyslog's escaping would have made it `#011`.
    let message = want.message.replace('\t', " ");
    assert_eq!(got.message, message, "{what}");
    let severity = match template {
        // No PRI in the file format: unknown (drawn as `-`, never hidden by the threshold).
        "RSYSLOG_FileFormat" => None,
        _ => Some(want.severity),
    };
    assert_eq!(got.severity, severity, "{what}");
    let want_time = match template {
        // RFC 3164: whole seconds, read in the source's timezone (Europe/Berlin).
        "RSYSLOG_TraditionalForwardFormat" => {
            DateTime::from_timestamp(time.timestamp(), 0).unwrap()
        }
        _ => time,
    };
    assert_eq!(got.time, Some(want_time), "{what}");
    if template == "RSYSLOG_SyslogProtocol23Format" && want.severity == 4 {
        assert!(
            got.fields.contains("structured_data", r#"[x@1 a="q\]r"]"#),
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_every_rsyslog_format_publish() {
    every_format(RsyslogMode::Publish).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_every_rsyslog_format_queue() {
    every_format(RsyslogMode::Queue).await;
}

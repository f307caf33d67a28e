//! Real log backends for tests: Debian `redis-server` and `rsyslogd` with `omhiredis`
//! (`rsyslog-hiredis`), each on free loopback ports with its files under a temp dir, started by the
//! test and SIGKILLed (process group) on Drop. A missing binary or module panics with the package
//! to install: nothing is skipped.
//!
//! Also a tiny blocking RESP client, so tests can PUBLISH/RPUSH arbitrary bytes and inspect lists
//! without `redis-cli`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use opsconsole::config::{Config, LogsProfile};
use opsconsole::model::{Health, LogLine, Msg, SourceId, SourceKind};
use opsconsole::sources::logs::LogsSource;
use opsconsole::state::logs::Logs;

use super::daemon::{tail, Daemon};
use super::wait::{pump_until, wait_until_or, Pump, Wait};
use super::{free_port, require_binary};

/// A free UDP port on 127.0.0.1 (bound then released).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .expect("binding udp 127.0.0.1:0")
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// RESP

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn int(&self) -> i64 {
        match self {
            Reply::Int(n) => *n,
            other => panic!("expected an integer reply, got {other:?}"),
        }
    }

    /// Bulk strings of an array reply (nil bulk → skipped).
    pub fn bulks(&self) -> Vec<Vec<u8>> {
        match self {
            Reply::Array(Some(items)) => items
                .iter()
                .filter_map(|i| match i {
                    Reply::Bulk(Some(b)) => Some(b.clone()),
                    _ => None,
                })
                .collect(),
            Reply::Array(None) | Reply::Bulk(None) => vec![],
            other => panic!("expected an array reply, got {other:?}"),
        }
    }
}

/// A blocking RESP2 connection.
pub struct Resp {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Resp {
    pub fn connect(port: u16) -> std::io::Result<Resp> {
        let stream = TcpStream::connect_timeout(
            &format!("127.0.0.1:{port}").parse().unwrap(),
            Duration::from_secs(2),
        )?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Resp { stream, reader })
    }

    pub fn send(&mut self, args: &[&[u8]]) -> std::io::Result<()> {
        let mut buf = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            buf.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            buf.extend_from_slice(a);
            buf.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&buf)
    }

    pub fn cmd(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        self.send(args)?;
        self.read()
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut l = String::new();
        if self.reader.read_line(&mut l)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "redis closed the connection",
            ));
        }
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    }

    pub fn read(&mut self) -> std::io::Result<Reply> {
        let l = self.line()?;
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad RESP");
        let (kind, rest) = l.split_at(1.min(l.len()));
        Ok(match kind {
            "+" => Reply::Simple(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Int(rest.parse().map_err(|_| bad())?),
            "$" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    Reply::Bulk(None)
                } else {
                    let mut b = vec![0; n as usize + 2];
                    self.reader.read_exact(&mut b)?;
                    b.truncate(n as usize);
                    Reply::Bulk(Some(b))
                }
            }
            "*" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    Reply::Array(None)
                } else {
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        items.push(self.read()?);
                    }
                    Reply::Array(Some(items))
                }
            }
            _ => return Err(bad()),
        })
    }

    /// SUBSCRIBEs to `channel` on a thread; message payloads arrive on the receiver. The thread
    /// ends when the returned guard is dropped (socket shut down).
    pub fn subscribe(port: u16, channel: &str) -> Subscription {
        let mut c = Resp::connect(port).expect("connecting to redis for SUBSCRIBE");
        c.stream.set_read_timeout(None).unwrap();
        let r = c
            .cmd(&[b"SUBSCRIBE", channel.as_bytes()])
            .expect("SUBSCRIBE");
        assert!(
            matches!(r, Reply::Array(Some(_))),
            "SUBSCRIBE answered {r:?}"
        );
        let stream = c.stream.try_clone().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(Reply::Array(Some(items))) = c.read() {
                if let (Some(Reply::Bulk(Some(kind))), Some(Reply::Bulk(Some(payload)))) =
                    (items.first(), items.get(2))
                {
                    if kind == b"message" && tx.send(payload.clone()).is_err() {
                        return;
                    }
                }
            }
        });
        Subscription { stream, rx }
    }
}

pub struct Subscription {
    stream: TcpStream,
    pub rx: mpsc::Receiver<Vec<u8>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

// ---------------------------------------------------------------------------------------------
// Redis

/// `redis-server --port P --bind 127.0.0.1 --save '' --appendonly no`, in a temp dir.
pub struct Redis {
    pub port: u16,
    pub dir: tempfile::TempDir,
    proc: Option<Daemon>,
}

impl Redis {
    pub fn start() -> Redis {
        let mut r = Redis {
            port: free_port(),
            dir: tempfile::tempdir().expect("tempdir"),
            proc: None,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let bin = require_binary("redis-server");
        let mut cmd = Command::new(bin);
        cmd.current_dir(self.dir.path())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--dir", &self.dir.path().display().to_string()]);
        let log = self.dir.path().join("redis.log");
        self.proc = Some(Daemon::spawn("redis-server", &mut cmd, log));
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let (port, log) = (self.port, self.dir.path().join("redis.log"));
        let proc = self.proc.as_mut().expect("redis-server was started");
        wait_until_or(
            format!("redis-server on port {port} to answer PING"),
            Duration::from_secs(10),
            || {
                proc.assert_running();
                Resp::connect(port)
                    .and_then(|mut c| c.cmd(&[b"PING"]))
                    .is_ok_and(|r| r == Reply::Simple("PONG".into()))
            },
            || format!("log:\n{}", tail(&log, 40)),
        );
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// One command on a fresh connection; panics on I/O errors and error replies.
    pub fn cmd(&self, args: &[&[u8]]) -> Reply {
        let mut c = Resp::connect(self.port)
            .unwrap_or_else(|e| panic!("connecting to redis :{}: {e}", self.port));
        let r = c
            .cmd(args)
            .unwrap_or_else(|e| panic!("redis command failed: {e}"));
        if let Reply::Error(e) = &r {
            panic!("redis error reply: {e}");
        }
        r
    }

    /// How many clients are subscribed to `channel` (`PUBSUB NUMSUB`).
    pub fn subscribers(&self, channel: &str) -> i64 {
        match self.cmd(&[b"PUBSUB", b"NUMSUB", channel.as_bytes()]) {
            Reply::Array(Some(items)) => items.get(1).map_or(0, Reply::int),
            other => panic!("PUBSUB NUMSUB answered {other:?}"),
        }
    }

    /// How many times a command has been called since Redis started (`INFO commandstats`,
    /// `cmdstat_<name>:calls=N`; 0 before its first call).
    pub fn calls(&self, command: &str) -> i64 {
        let info = match self.cmd(&[b"INFO", b"commandstats"]) {
            Reply::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("INFO commandstats answered {other:?}"),
        };
        let key = format!("cmdstat_{}:calls=", command.to_ascii_lowercase());
        info.lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// SIGKILL (a crash). Nothing is persisted (`--save ''`).
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// Starts again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------------------
// rsyslog

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsyslogMode {
    /// omhiredis `mode="publish"`: PUBLISH to the channel.
    Publish,
    /// omhiredis `mode="queue"`: LPUSH to the list (the default push side).
    Queue,
    /// omhiredis `mode="queue" userpush="on"`: RPUSH to the list.
    QueueRpush,
}

/// Channel or list name rsyslog writes to.
pub const KEY: &str = "syslog";

/// The extra omhiredis outputs of [`Rsyslog::start_with_formats`]: one action per template, each
/// to its own channel or list (named here), beside the JSON template's to [`KEY`].
pub const FORMATS: [(&str, &str); 6] = [
    // omhiredis's default: `<PRI>2026-12-03T11:00:00.123456+01:00 host tag: msg`
    ("fmt-forward", "RSYSLOG_ForwardFormat"),
    // `<PRI>Dec  3 11:00:00 host tag: msg` — no year, no zone
    ("fmt-traditional", "RSYSLOG_TraditionalForwardFormat"),
    // RFC 5424
    ("fmt-protocol23", "RSYSLOG_SyslogProtocol23Format"),
    // `2026-12-03T11:00:00.123456+01:00 host tag: msg` — no PRI, so no severity
    ("fmt-file", "RSYSLOG_FileFormat"),
    // rsyslog's whole message as JSON (`property(name="jsonmesg")`)
    ("fmt-jsonmesg", "jsonmesg"),
    // a hand-written string template: raw control characters land inside the JSON strings
    ("fmt-handjson", "handjson"),
];
const PROBE_TAG: &str = "opsconsole-probe";

/// `rsyslogd -n -f <own conf> -i <own pid file>`: imudp + imtcp on loopback, omhiredis to `redis_port`
/// with the JSON template from STACK.md. No kernel/unix-socket inputs, no /etc/rsyslog.d.
pub struct Rsyslog {
    pub udp_port: u16,
    pub tcp_port: u16,
    pub redis_port: u16,
    pub mode: RsyslogMode,
    pub dir: tempfile::TempDir,
    proc: Option<Daemon>,
    /// Whether the [`FORMATS`] outputs are configured too.
    formats: bool,
}

impl Rsyslog {
    pub fn start(redis_port: u16, mode: RsyslogMode) -> Rsyslog {
        Rsyslog::start_conf(redis_port, mode, false)
    }

    /// Like [`Rsyslog::start`], plus one omhiredis action per template of [`FORMATS`] (each to its
    /// own channel or list, in the same mode), and control characters passed through as received
    /// (`parser.escapeControlCharactersOnReceive="off"`) so the hand-written JSON template really
    /// carries raw ones.
    pub fn start_with_formats(redis_port: u16, mode: RsyslogMode) -> Rsyslog {
        Rsyslog::start_conf(redis_port, mode, true)
    }

    fn start_conf(redis_port: u16, mode: RsyslogMode, formats: bool) -> Rsyslog {
        let bin = require_binary("rsyslogd");
        let dir = tempfile::tempdir().expect("tempdir");
        let udp_port = free_udp_port();
        let tcp_port = free_port();
        let d = dir.path().display().to_string();
        let mode_args = match mode {
            RsyslogMode::Publish => r#"mode="publish""#,
            RsyslogMode::Queue => r#"mode="queue""#,
            RsyslogMode::QueueRpush => r#"mode="queue" userpush="on""#,
        };
        let action = |key: &str, template: &str| {
            format!(
                r#"action(type="omhiredis" server="127.0.0.1" serverport="{redis_port}" {mode_args} key="{key}" template="{template}")"#
            )
        };
        let mut action_lines = action(KEY, "json_redis");
        let mut global_extra = "";
        if formats {
            global_extra = r#" parser.escapeControlCharactersOnReceive="off""#;
            action_lines = format!(
                r#"template(name="jsonmesg" type="list") {{ property(name="jsonmesg") }}
template(name="handjson" type="string" string="{{\"timestamp\":\"%timereported:::date-rfc3339%\",\"host\":\"%hostname%\",\"program\":\"%programname%\",\"severity\":\"%syslogseverity-text%\",\"message\":\"%msg%\"}}")
{action_lines}
"#
            );
            for (key, template) in FORMATS {
                action_lines.push_str(&action(key, template));
                action_lines.push('\n');
            }
        }
        let conf = format!(
            r#"global(workDirectory="{d}"{global_extra})
module(load="imudp")
module(load="imtcp")
module(load="omhiredis")
input(type="imudp" port="{udp_port}" address="127.0.0.1")
input(type="imtcp" port="{tcp_port}" address="127.0.0.1")
template(name="json_redis" type="list" option.jsonf="on") {{
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="program" name="programname" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="message" name="msg" format="jsonf")
}}
{action_lines}
"#
        );
        let conf_path = dir.path().join("rsyslog.conf");
        std::fs::write(&conf_path, conf).expect("writing rsyslog.conf");
        // Validate first: a missing omhiredis module shows up here with a clear message.
        let check = Command::new(&bin)
            .arg("-N1")
            .arg("-f")
            .arg(&conf_path)
            .output()
            .unwrap_or_else(|e| panic!("running {} -N1: {e}", bin.display()));
        if !check.status.success() {
            panic!(
                "rsyslogd rejected its test config (is rsyslog-hiredis installed? apt-get install -y \
                 --no-install-recommends rsyslog rsyslog-hiredis):\n{}{}",
                String::from_utf8_lossy(&check.stdout),
                String::from_utf8_lossy(&check.stderr)
            );
        }
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir.path())
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.path().join("rsyslogd.pid"));
        let proc = Daemon::spawn("rsyslogd", &mut cmd, dir.path().join("rsyslogd.log"));
        let mut r = Rsyslog {
            udp_port,
            tcp_port,
            redis_port,
            mode,
            dir,
            proc: Some(proc),
            formats,
        };
        r.wait_ready();
        r
    }

    /// Probes until a UDP line and a TCP line have both come out in Redis, then a final barrier
    /// probe (so stragglers are flushed) and, in queue mode, empties the list.
    fn wait_ready(&mut self) {
        let wait = Wait::new(
            format!(
                "rsyslogd (udp :{}, tcp :{}) to deliver its probes to redis :{}",
                self.udp_port, self.tcp_port, self.redis_port
            ),
            Duration::from_secs(20),
        );
        let sub =
            (self.mode == RsyslogMode::Publish).then(|| Resp::subscribe(self.redis_port, KEY));
        let mut seen = Vec::<String>::new();
        let mut got = |want: &str, this: &mut Rsyslog| -> bool {
            match &sub {
                Some(s) => {
                    while let Ok(p) = s.rx.recv_timeout(Duration::from_millis(100)) {
                        seen.push(String::from_utf8_lossy(&p).into_owned());
                    }
                }
                None => {
                    std::thread::sleep(Duration::from_millis(100));
                    if let Ok(mut c) = Resp::connect(this.redis_port) {
                        if let Ok(r) = c.cmd(&[b"LRANGE", KEY.as_bytes(), b"0", b"-1"]) {
                            seen = r
                                .bulks()
                                .iter()
                                .map(|b| String::from_utf8_lossy(b).into_owned())
                                .collect();
                        }
                    }
                }
            }
            seen.iter().any(|s| s.contains(want))
        };
        for (n, want) in ["probe-udp", "probe-tcp", "probe-barrier"]
            .iter()
            .enumerate()
        {
            let mut i = 0;
            loop {
                if let Some(p) = self.proc.as_mut() {
                    p.assert_running();
                }
                let line = format!("<14>1 - - {PROBE_TAG} - - - {want}-{i}");
                if n == 1 {
                    let _ = self.try_send_tcp(line.as_bytes());
                } else {
                    self.send_udp(line.as_bytes());
                }
                i += 1;
                if got(want, self) {
                    break;
                }
                wait.left(|| {
                    format!(
                        "`{want}` has not come out; log:\n{}",
                        tail(&self.dir.path().join("rsyslogd.log"), 40)
                    )
                });
            }
        }
        if self.mode != RsyslogMode::Publish {
            let mut c = Resp::connect(self.redis_port).expect("redis");
            c.cmd(&[b"DEL", KEY.as_bytes()]).expect("DEL");
            if self.formats {
                // The probes went to every output: the last one reached the last list.
                let (last, _) = FORMATS[FORMATS.len() - 1];
                wait_until_or(
                    format!("the probe barrier in the last format's list `{last}`"),
                    Duration::from_secs(10),
                    || {
                        let r = c
                            .cmd(&[b"LRANGE", last.as_bytes(), b"0", b"-1"])
                            .expect("LRANGE");
                        r.bulks()
                            .iter()
                            .any(|b| String::from_utf8_lossy(b).contains("probe-barrier"))
                    },
                    || tail(&self.dir.path().join("rsyslogd.log"), 40),
                );
                for (key, _) in FORMATS {
                    c.cmd(&[b"DEL", key.as_bytes()]).expect("DEL");
                }
            }
        }
    }

    /// One datagram to imudp.
    pub fn send_udp(&self, line: &[u8]) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(line, ("127.0.0.1", self.udp_port))
            .expect("sending udp");
    }

    fn try_send_tcp(&self, line: &[u8]) -> std::io::Result<()> {
        let mut s = TcpStream::connect(("127.0.0.1", self.tcp_port))?;
        s.write_all(line)?;
        s.write_all(b"\n")?;
        s.flush()
    }

    /// One LF-framed line to imtcp.
    pub fn send_tcp(&self, line: &[u8]) {
        self.try_send_tcp(line).expect("sending tcp");
    }

    /// `logger -n 127.0.0.1 -P <udp port> -d <args>` (`tcp` → `-P <tcp port> -T`).
    pub fn logger(&self, tcp: bool, args: &[&str]) {
        let bin = require_binary("logger");
        let mut cmd = Command::new(bin);
        cmd.args(["-n", "127.0.0.1"]);
        if tcp {
            cmd.args(["-P", &self.tcp_port.to_string(), "-T"]);
        } else {
            cmd.args(["-P", &self.udp_port.to_string(), "-d"]);
        }
        let out = cmd.args(args).output().expect("running logger");
        assert!(
            out.status.success(),
            "logger {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn log_tail(&self) -> String {
        tail(&self.dir.path().join("rsyslogd.log"), 40)
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Driving the source headlessly

/// A logs profile parsed from TOML as a user writes it: `logs_table` is the inline table.
pub fn logs_profile(logs_table: &str) -> LogsProfile {
    let toml = format!(
        "[clusters.test]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"], prefix = \"/services/\" }}\nlogs = {logs_table}\n"
    );
    let config = Config::parse(&toml, Path::new("/test/config.toml"))
        .unwrap_or_else(|e| panic!("test profile {logs_table} does not parse: {e}"));
    config
        .cluster("test")
        .expect("cluster test")
        .logs
        .clone()
        .expect("logs profile")
}

/// `LogsSource::run()` on a task, its messages applied to a `Logs` buffer as the app does.
pub struct LogTail {
    rx: tokio::sync::mpsc::Receiver<Msg>,
    pub logs: Logs,
    pub health: Vec<Health>,
    pub notices: Vec<String>,
    task: tokio::task::JoinHandle<()>,
}

impl LogTail {
    pub fn start(profile: LogsProfile) -> LogTail {
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let logs = Logs::with_capacity(profile.buffer_lines);
        let task = tokio::spawn(LogsSource::new(profile, tx).run());
        LogTail {
            rx,
            logs,
            health: Vec::new(),
            notices: Vec::new(),
            task,
        }
    }

    fn apply(&mut self, m: Msg) {
        match m {
            Msg::LogLines(lines) => self.logs.extend(lines),
            Msg::Health(
                SourceId {
                    kind: SourceKind::Logs,
                    ..
                },
                h,
            ) => self.health.push(h),
            Msg::Notice(
                SourceId {
                    kind: SourceKind::Logs,
                    ..
                },
                n,
            ) => self.notices.push(n),
            other => panic!("the logs source sent an unexpected message: {other:?}"),
        }
    }

    /// Applies messages until `done` holds; panics after `timeout` with what was seen.
    pub async fn until(&mut self, timeout: Duration, what: &str, done: impl Fn(&LogTail) -> bool) {
        pump_until(self, what, timeout, done).await;
    }

    /// Applies what is already waiting, without waiting for more.
    pub fn drain(&mut self) {
        while let Ok(m) = self.rx.try_recv() {
            self.apply(m);
        }
    }

    /// Applies whatever arrives during `d`.
    pub async fn settle(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(m)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            self.apply(m);
        }
    }

    pub async fn until_live(&mut self, timeout: Duration) {
        self.until(timeout, "health Live", |t| {
            t.health.last() == Some(&Health::Live)
        })
        .await;
    }

    /// Every buffered line (no filter is set), oldest first.
    pub fn lines(&self) -> Vec<LogLine> {
        self.logs.matching().cloned().collect()
    }

    pub fn messages(&self) -> Vec<String> {
        self.lines().into_iter().map(|l| l.message).collect()
    }

    pub fn retried(&self) -> bool {
        self.health
            .iter()
            .any(|h| matches!(h, Health::Retrying { .. }))
    }

    pub fn last_error(&self) -> Option<String> {
        self.health.iter().rev().find_map(|h| match h {
            Health::Retrying { error, .. } => Some(error.clone()),
            Health::Failed(e) => Some(e.clone()),
            _ => None,
        })
    }
}

impl Pump for LogTail {
    async fn pump(&mut self, d: Duration) -> Result<(), String> {
        match tokio::time::timeout(d, self.rx.recv()).await {
            Ok(Some(m)) => self.apply(m),
            Ok(None) => return Err("the logs source ended".into()),
            Err(_) => {}
        }
        while let Ok(m) = self.rx.try_recv() {
            self.apply(m);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!(
            "health: {:?}\nnotices: {:?}\nlines: {:#?}",
            self.health,
            self.notices,
            self.lines()
                .iter()
                .map(|l| (&l.host, &l.program, l.severity, &l.message))
                .collect::<Vec<_>>()
        )
    }
}

impl Drop for LogTail {
    fn drop(&mut self) {
        self.task.abort();
    }
}

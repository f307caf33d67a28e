//! A name server for the tests on a loopback address of its own (port 53, so the test needs root
//! or CAP_NET_BIND_SERVICE — it fails loudly otherwise): silent (every query dropped, the way a
//! dead resolver behaves) until told to answer, then `127.0.0.1` for every name under
//! `opsconsole.test` (A), no address for AAAA and NXDOMAIN for anything else. A process reaches it
//! through its own `/etc/resolv.conf`, bind-mounted in a private mount namespace
//! ([`NameServer::run_with_resolver`]); the rest of the machine never sees it.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub const DOMAIN: &str = "opsconsole.test";

pub struct NameServer {
    answering: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Queries received (answered or not).
    pub queries: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: tempfile::TempDir,
}

impl NameServer {
    /// Silent until [`answer`](Self::answer).
    pub fn start() -> NameServer {
        // A loopback address per process, so two test runs on one machine never share it.
        let pid = std::process::id();
        let addr = Ipv4Addr::new(127, 53, (pid >> 8) as u8, (pid as u8).max(1));
        let socket = UdpSocket::bind(SocketAddr::from((addr, 53))).unwrap_or_else(|e| {
            panic!(
                "binding a test name server on {addr}:53 (needs root or CAP_NET_BIND_SERVICE): {e}"
            )
        });
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("socket timeout");
        let answering = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (answering, stop, queries) = (answering.clone(), stop.clone(), queries.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, from)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    queries.fetch_add(1, Ordering::Relaxed);
                    if !answering.load(Ordering::Relaxed) {
                        continue;
                    }
                    if let Some(reply) = reply(&buf[..n]) {
                        let _ = socket.send_to(&reply, from);
                    }
                }
            })
        };
        let dir = tempfile::tempdir().expect("tempdir for resolv.conf");
        // glibc's own patience made long (30 s × 5 tries), so a pane that gives up within seconds
        // shows the console's timeouts at work, not the resolver's.
        std::fs::write(
            dir.path().join("resolv.conf"),
            format!("nameserver {addr}\noptions timeout:30 attempts:5\n"),
        )
        .expect("writing resolv.conf");
        NameServer {
            answering,
            stop,
            queries,
            thread: Some(thread),
            dir,
        }
    }

    pub fn answer(&self) {
        self.answering.store(true, Ordering::Relaxed);
    }

    pub fn go_silent(&self) {
        self.answering.store(false, Ordering::Relaxed);
    }

    pub fn resolv_conf(&self) -> PathBuf {
        self.dir.path().join("resolv.conf")
    }

    /// A `sh` line that runs `program "$@"` in a private mount namespace whose `/etc/resolv.conf`
    /// points at this server (`unshare -m`, then a bind mount only that namespace sees).
    pub fn run_with_resolver(&self, program: &Path) -> String {
        format!(
            "unshare -m sh -c 'mount --bind {conf} /etc/resolv.conf && exec {bin} \"$@\"' sh \"$@\"",
            conf = self.resolv_conf().display(),
            bin = program.display(),
        )
    }
}

impl Drop for NameServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The answer to one query: `None` for anything that is not a plain one-question query.
fn reply(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 || u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    // The question: labels up to the root, then type and class.
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(i)?);
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*query.get(i)?, *query.get(i + 1)?]);
    let question_end = i + 4;
    let question = query.get(12..question_end)?;
    let name = labels.join(".");
    let ours = name == DOMAIN || name.ends_with(&format!(".{DOMAIN}"));
    let a = ours && qtype == 1;
    let mut out = Vec::with_capacity(question_end + 16);
    out.extend_from_slice(&query[0..2]); // id
    let rcode = if ours { 0 } else { 3 };
    out.extend_from_slice(&[0x81 | (query[2] & 0x01), 0x80 | rcode]); // QR, RD copied, RA
    out.extend_from_slice(&[0, 1, 0, u8::from(a), 0, 0, 0, 0]);
    out.extend_from_slice(question);
    if a {
        // A pointer to the name in the question, A, IN, TTL 1 s, 127.0.0.1.
        out.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 127, 0, 0, 1]);
    }
    Some(out)
}

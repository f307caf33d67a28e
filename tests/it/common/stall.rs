//! A server that stalls, on a free loopback port, for the stall tests (`outages::stall_*`): what a
//! hung backend, a wedged load balancer or a half-dead host looks like from the client's side —
//! the connection is accepted, and then nothing (or not enough) ever comes.
//!
//! - [`Mode::StallBody`]: reads the request, writes `HTTP/1.1 200 OK` and headers with a
//!   `Content-Length` it never fulfils, then holds the socket open.
//! - [`Mode::Hold`]: accepts the TCP connection and never reads or writes a byte (a TLS
//!   ClientHello or an HTTP/2 preface that is never answered).
//! - [`Mode::Forward`]: a plain TCP proxy to a real server on another port (plain HTTP, TLS end
//!   to end, or etcd's gRPC): the backend answering normally again.
//!
//! Switching the mode drops every open connection, so a pooled keep-alive connection cannot carry
//! the old behaviour into the new one.
//!
//! [`StallServer::black_hole`] is the other kind of stall: the forwarded connections stay open
//! and nothing is closed, but no byte passes either way until it is lifted (a dead NAT entry, a
//! wedged firewall or load balancer). Bytes held meanwhile pass on afterwards, as TCP would
//! retransmit them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{free_port, wait_until_async};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    StallBody,
    Hold,
    Forward(u16),
}

pub struct StallServer {
    pub port: u16,
    mode: Arc<Mutex<Mode>>,
    /// When each stalled connection was accepted (Hold) or its request read (StallBody).
    stalled: Arc<Mutex<Vec<Instant>>>,
    accept: JoinHandle<()>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    /// `true` while forwarded connections pass nothing (see [`StallServer::black_hole`]).
    hole: tokio::sync::watch::Sender<bool>,
}

impl StallServer {
    pub async fn start(mode: Mode) -> StallServer {
        let port = free_port();
        let listener = wait_until_async(
            format!("the stall server to listen on {port}"),
            Duration::from_secs(5),
            || TcpListener::bind(("127.0.0.1", port)),
        )
        .await;
        let mode = Arc::new(Mutex::new(mode));
        let stalled = Arc::new(Mutex::new(Vec::new()));
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::new(Mutex::new(Vec::new()));
        let hole = tokio::sync::watch::Sender::new(false);
        let (m, s, c, h) = (mode.clone(), stalled.clone(), conns.clone(), hole.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let mode = *m.lock().unwrap();
                let stalled = s.clone();
                let gate = h.subscribe();
                let h = tokio::spawn(async move {
                    let _ = serve(stream, mode, stalled, gate).await;
                });
                c.lock().unwrap().push(h);
            }
        });
        StallServer {
            port,
            mode,
            stalled,
            accept,
            conns,
            hole,
        }
    }

    /// `true`: forwarded connections, open and new, stop passing bytes in both directions and
    /// nothing is closed; `false`: they pass again, held bytes first.
    pub fn black_hole(&self, on: bool) {
        self.hole.send_replace(on);
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// New connections get `mode`; every open one is dropped.
    pub async fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
        let conns = std::mem::take(&mut *self.conns.lock().unwrap());
        for c in conns {
            c.abort();
            let _ = c.await;
        }
    }

    /// When the stalls began (one per stalled connection), oldest first.
    pub fn stalled(&self) -> Vec<Instant> {
        self.stalled.lock().unwrap().clone()
    }
}

impl Drop for StallServer {
    fn drop(&mut self) {
        self.accept.abort();
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

async fn serve(
    mut stream: TcpStream,
    mode: Mode,
    stalled: Arc<Mutex<Vec<Instant>>>,
    gate: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    match mode {
        Mode::Forward(port) => {
            let out = TcpStream::connect(("127.0.0.1", port)).await?;
            let (client_r, client_w) = stream.into_split();
            let (server_r, server_w) = out.into_split();
            let (a, b) = tokio::join!(
                gated_copy(client_r, server_w, gate.clone()),
                gated_copy(server_r, client_w, gate)
            );
            a.and(b)
        }
        Mode::Hold => {
            stalled.lock().unwrap().push(Instant::now());
            std::future::pending::<()>().await;
            Ok(())
        }
        Mode::StallBody => {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&chunk[..n]);
                if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.len() > 1 << 20 {
                    break;
                }
            }
            stalled.lock().unwrap().push(Instant::now());
            stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
                )
                .await?;
            stream.flush().await?;
            // Hold the connection: read (and drop) whatever comes, never answer, until the client
            // gives up and closes it.
            while stream.read(&mut chunk).await? > 0 {}
            Ok(())
        }
    }
}

/// Copies `from` to `to` (then passes on the end of the stream) while the black hole is off;
/// while it is on, reads nothing and writes nothing, closing nothing either.
async fn gated_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut hole: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // Err: the server is gone (its connections are aborted too).
        if hole.wait_for(|on| !*on).await.is_err() {
            return Ok(());
        }
        let n = tokio::select! {
            n = from.read(&mut buf) => n?,
            on = hole.wait_for(|on| *on) => {
                if on.is_err() {
                    return Ok(());
                }
                continue;
            }
        };
        if n == 0 {
            return to.shutdown().await;
        }
        // Read just as the hole opened: held until it closes.
        if hole.wait_for(|on| !*on).await.is_err() {
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
    }
}

/// An https front (rustls, one thread per connection) for a plain HTTP server on `backend`:
/// reads one request, passes it on, and returns the whole answer (the backend closes after one).
/// Returns the front's port.
pub fn https_front(cert: &std::path::Path, key: &std::path::Path, backend: u16) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{Read, Write};
    opsconsole::sources::http::install_crypto_provider();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("server certificate file")
        .collect::<Result<_, _>>()
        .expect("server certificate PEM");
    let key = PrivateKeyDer::from_pem_file(key).expect("server key PEM");
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate"),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding the https front");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(tcp) = conn else { continue };
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                let Ok(tls) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut s = rustls::StreamOwned::new(tls, tcp);
                let mut req = Vec::new();
                let mut buf = [0u8; 16384];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let Ok(mut b) = std::net::TcpStream::connect(("127.0.0.1", backend)) else {
                    return;
                };
                let _ = b.set_read_timeout(Some(Duration::from_secs(10)));
                if b.write_all(&req).is_err() {
                    return;
                }
                let mut answer = Vec::new();
                let _ = b.read_to_end(&mut answer);
                let _ = s.write_all(&answer);
                let _ = s.flush();
                s.conn.send_close_notify();
                let _ = s.flush();
            });
        }
    });
    port
}

//! A TCP proxy in front of an etcd member that a test can cut and restore, so the console is
//! disconnected while etcd itself keeps working.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{free_port, wait_until_async};

pub struct Proxy {
    pub port: u16,
    target: u16,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target: u16) -> Proxy {
        let mut p = Proxy {
            port: free_port(),
            target,
            accept: None,
            conns: Arc::new(Mutex::new(Vec::new())),
        };
        p.up().await;
        p
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) {
        assert!(self.accept.is_none(), "proxy already up");
        let port = self.port;
        let listener = wait_until_async(
            format!("the proxy to listen on {port} again"),
            Duration::from_secs(5),
            || TcpListener::bind(("127.0.0.1", port)),
        )
        .await;
        let (conns, target) = (self.conns.clone(), self.target);
        self.accept = Some(tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                let h = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns.lock().unwrap().push(h);
            }
        }));
    }

    /// Stops accepting and closes every proxied connection; returns once they are all gone.
    pub async fn down(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
            let _ = a.await;
        }
        let conns = std::mem::take(&mut *self.conns.lock().unwrap());
        for c in conns {
            c.abort();
            let _ = c.await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}

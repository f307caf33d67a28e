//! Free loopback ports for the servers a bench starts.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// A free TCP port on 127.0.0.1 (bound then released), never one this process handed out before:
/// the kernel may give a just-released port again, and two calls in a row (etcd's client and peer
/// ports) then got the same one — etcd never came up ("did not become healthy"), seen in a full
/// `scripts/bench` run. The same rule as the tests' harness (`tests/it/common`).
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port on 127.0.0.1");
        if given.insert(port) {
            return port;
        }
    }
}

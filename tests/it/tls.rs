//! TLS, against a real etcd serving TLS with client certificates (throw-away certificates made by
//! rcgen in the test), real plain servers, and an https Alertmanager stand-in with a self-signed
//! certificate made by openssl:
//!
//! - a client key that its group or everyone can read still works, with a warning naming the file
//!   and `chmod 600` — in `opsconsole info`, and on the console's status line at start;
//! - a CA, certificate or key file that is not PEM is refused at start, naming the file and
//!   saying it is not PEM (it used to end as `transport error: transport error` on the pane);
//! - an `https://` endpoint or URL on a plain server (etcd, Alertmanager) says the server does not
//!   speak TLS (it used to say `tls handshake eof` deep inside a gRPC status);
//! - verification is on by default: an https checks backend with a self-signed certificate fails
//!   with a certificate error, and connects with `ca = <that cert>` or `insecure_skip_verify = true`.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use opsconsole::config::{ClusterProfile, Config};
use opsconsole::model::{ClusterId, Health, Msg, SourceId, SourceKind};
use opsconsole::sources::checks::ChecksSource;
use opsconsole::sources::etcd::EtcdSource;
use opsconsole::state::{self, State};
use tokio::sync::mpsc;

use common::require_binary;
use common::tls::{Certs, TlsEtcd};
use common::tmux::{Tmux, SOON};
use common::wait::recv_until;

const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");

fn profile(toml: &str) -> ClusterProfile {
    Config::parse(toml, Path::new("/tls/config.toml"))
        .and_then(|c| c.cluster("t"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The etcd table for the TLS etcd with the client certificate.
fn tls_table(etcd: &TlsEtcd, certs: &Certs) -> String {
    format!(
        "etcd = {{ endpoints = [\"{}\"], ca = \"{}\", cert = \"{}\", key = \"{}\", connect_timeout_secs = 2 }}",
        etcd.endpoint(),
        certs.ca.display(),
        certs.client_cert.display(),
        certs.client_key.display()
    )
}

/// Runs `source`'s task until its first `Live` (Ok) or `Retrying` (Err with the error text).
async fn first_health<F>(
    source: SourceId,
    start: impl FnOnce(mpsc::Sender<Msg>) -> F,
) -> Result<(), String>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(256);
    let task = tokio::spawn(start(tx));
    let health = recv_until(
        &mut rx,
        "Live or Retrying",
        Duration::from_secs(15),
        |m| match m {
            Msg::Health(s, Health::Live) if s == source => Some(Ok(())),
            Msg::Health(s, Health::Retrying { error, .. }) if s == source => Some(Err(error)),
            Msg::Health(s, Health::Failed(error)) if s == source => Some(Err(error)),
            _ => None,
        },
    )
    .await;
    task.abort();
    health
}

async fn etcd_health(p: ClusterProfile) -> Result<(), String> {
    let (_keep, cmds) = mpsc::channel(4);
    let etcd = p.etcd.expect("etcd profile");
    first_health(SourceKind::Etcd.of(ClusterId(0)), move |tx| {
        EtcdSource::new(etcd, tx, cmds).run()
    })
    .await
}

fn opsconsole(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_STATE_HOME", dir.join("state"))
        .env("HOME", dir)
        .stdin(Stdio::null())
        .output()
        .expect("running opsconsole")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readable_key_is_warned_about_and_still_works() {
    let certs = Certs::generate();
    let etcd = TlsEtcd::start(&certs);
    etcd.put(
        &certs,
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80}"#,
    );
    let toml = format!("[clusters.t]\n{}\n", tls_table(&etcd, &certs));

    // Mode 0600: live, no warning.
    let p = profile(&toml);
    assert_eq!(p.warnings, Vec::<String>::new());
    etcd_health(p)
        .await
        .expect("live over TLS with the client certificate");

    for (mode, who) in [
        (0o640, "its group"),
        (0o604, "every user"),
        (0o644, "its group and every user"),
    ] {
        std::fs::set_permissions(&certs.client_key, std::fs::Permissions::from_mode(mode)).unwrap();
        let p = profile(&toml);
        let key = certs.client_key.display().to_string();
        assert_eq!(p.warnings.len(), 1, "{mode:o}: {:?}", p.warnings);
        let w = &p.warnings[0];
        assert!(
            w.contains(&key) && w.contains(who) && w.contains(&format!("chmod 600 {key}")),
            "{mode:o}: {w}"
        );
        eprintln!("{mode:04o}: {w}");
    }
    etcd_health(profile(&toml))
        .await
        .expect("a readable key still connects");

    // `info` prints it; the console shows it on the status line at start, and works.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, toml.replace("[clusters.t]", "[clusters.test]")).unwrap();
    let out = opsconsole(dir.path(), &["--config", config.to_str().unwrap(), "info"]);
    let info = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{info}");
    assert!(
        info.lines()
            .any(|l| l.contains("cluster test   warning: key file") && l.contains("chmod 600")),
        "{info}"
    );
    let t = Tmux::sized("opsconsole-tls", 200, 35).start(&[
        "--config",
        config.to_str().unwrap(),
        "--cluster",
        "test",
    ]);
    let screen = t.wait_screen(
        "the member live, the warning on the status line",
        SOON,
        |s| s.contains("web-1") && s.contains("etcd ● live") && s.contains("chmod 600"),
    );
    let line = screen
        .lines()
        .find(|l| l.contains("chmod 600"))
        .unwrap_or_default();
    assert!(
        line.contains("etcd: key file") && line.contains("client-key.pem"),
        "{line}"
    );
    t.send(&["q"]);
    assert_eq!(t.wait_exit(), 0);
}

/// Each TLS file that is not PEM — a DER certificate as `ca` or `cert`, a certificate as `key`,
/// a DER CA for an HTTP backend — is refused at start, naming the file. Before, etcd's would
/// connect and fail with `transport error: transport error`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_not_pem_are_named_at_start() {
    let certs = Certs::generate();
    let etcd = TlsEtcd::start(&certs);
    let der = certs.dir.path().join("ca.der");
    let pem = std::fs::read_to_string(&certs.ca).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    std::fs::write(
        &der,
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap(),
    )
    .unwrap();

    let good = tls_table(&etcd, &certs);
    let ca = certs.ca.display().to_string();
    let cert = certs.client_cert.display().to_string();
    let key = certs.client_key.display().to_string();
    let der_s = der.display().to_string();
    let cases = [
        (good.replace(&ca, &der_s), 2, format!("ca file {der_s} is not PEM")),
        (good.replace(&cert, &der_s), 2, format!("cert file {der_s} is not PEM")),
        (good.replace(&key, &cert), 2, format!("key file {cert} is not PEM")),
        (
            format!("{good}\nchecks = {{ kind = \"alertmanager\", url = \"https://127.0.0.1:1\", ca = \"{der_s}\" }}"),
            3,
            format!("ca file {der_s} is not PEM"),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (table, line, expected)) in cases.iter().enumerate() {
        let config = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&config, format!("[clusters.test]\n{table}\n")).unwrap();
        let out = opsconsole(
            dir.path(),
            &["--config", config.to_str().unwrap(), "--cluster", "test"],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {stderr}");
        assert!(
            out.stdout.is_empty() && !stderr.contains('\x1b'),
            "case {i}: the terminal was touched"
        );
        assert!(
            stderr.contains(&format!("line {line}:")) && stderr.contains(expected.as_str()),
            "case {i}: {stderr}"
        );
        eprintln!("case {i}: {}", stderr.trim());
    }
    // The same files, right: live.
    etcd_health(profile(&format!("[clusters.t]\n{good}\n")))
        .await
        .expect("live with PEM files");
}

/// `https://` on servers that speak plain HTTP: a real etcd and a real Alertmanager.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_on_a_plain_server_says_it_does_not_speak_tls() {
    let plain = common::Etcd::start();
    let endpoint = format!("https://127.0.0.1:{}", plain.client_port);
    let err = etcd_health(profile(&format!(
        "[clusters.t]\netcd = {{ endpoints = [\"{endpoint}\"], connect_timeout_secs = 2 }}\n"
    )))
    .await
    .expect_err("a plain etcd cannot be reached over TLS");
    eprintln!("etcd: {err}");
    assert!(
        err.contains(&format!("{endpoint}: the server does not speak TLS"))
            && err.contains("http://"),
        "{err}"
    );

    let am = common::Alertmanager::start();
    let url = format!("https://127.0.0.1:{}", am.port);
    let p = profile(&format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"] }}\nchecks = {{ kind = \"alertmanager\", url = \"{url}\", timeout_secs = 2 }}\n"
    ));
    let checks = p.checks.expect("checks profile");
    let (_keep, cmds) = mpsc::channel(4);
    let err = first_health(SourceKind::Checks.of(ClusterId(0)), move |tx| {
        ChecksSource::new(checks, tx, cmds).run()
    })
    .await
    .expect_err("a plain Alertmanager cannot be reached over TLS");
    eprintln!("alertmanager: {err}");
    assert!(err.contains("the server does not speak TLS"), "{err}");
    // The same servers over http:// are fine (the mismatch is the only fault).
    etcd_health(profile(&format!(
        "[clusters.t]\netcd = {{ endpoints = [\"{}\"] }}\n",
        plain.endpoint()
    )))
    .await
    .expect("plain etcd over http://");
}

// ---------------------------------------------------------------------------------------------
// Verification

/// A self-signed certificate for 127.0.0.1 (not a CA: a leaf that is its own issuer), made by the
/// openssl command line.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let openssl = require_binary("openssl");
    let cnf = dir.join("req.cnf");
    std::fs::write(
        &cnf,
        "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n\
         [dn]\nCN = opsconsole-test\n\
         [ext]\nsubjectAltName = IP:127.0.0.1, DNS:localhost\n\
         basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new(openssl)
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-config"])
        .arg(&cnf)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// An https server (rustls, one thread per connection) answering Alertmanager's two GETs.
fn https_alertmanager(cert: &Path, key: &Path) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    opsconsole::sources::http::install_crypto_provider();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server certificate"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
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
                let mut buf = vec![0u8; 16384];
                // A failed handshake (the client refused our certificate) ends here.
                let Ok(n) = s.read(&mut buf) else { return };
                let head = String::from_utf8_lossy(&buf[..n]);
                let body = if head.contains("/api/v2/alerts") {
                    r#"[{"labels":{"alertname":"TlsOk","instance":"web-1","severity":"warning"},"annotations":{},"status":{"state":"active"}}]"#
                } else {
                    "[]"
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.flush();
                s.conn.send_close_notify();
                let _ = s.flush();
            });
        }
    });
    port
}

/// Runs a checks source on `extra` TOML settings until it is Live (Ok: rows) or Retrying (Err).
async fn checks_health(url: &str, extra: &str) -> Result<usize, String> {
    let toml = format!(
        "[clusters.t]\netcd = {{ endpoints = [\"http://127.0.0.1:1\"] }}\nchecks = {{ kind = \"alertmanager\", url = \"{url}\", timeout_secs = 2{extra} }}\n"
    );
    let p = Config::parse(&toml, Path::new("/t.toml")).unwrap_or_else(|e| panic!("{e}"));
    let (tx, mut rx) = mpsc::channel(64);
    let (_ctx, crx) = mpsc::channel(4);
    let task = tokio::spawn(
        ChecksSource::new(p.cluster("t").unwrap().checks.clone().unwrap(), tx, crx).run(),
    );
    let mut st = State::new("t", "/services/", "u", Utc::now());
    let result = recv_until(&mut rx, "Live or Retrying", Duration::from_secs(10), |m| {
        let h = match &m {
            Msg::Health(
                SourceId {
                    kind: SourceKind::Checks,
                    ..
                },
                h,
            ) => Some(h.clone()),
            _ => None,
        };
        state::update(&mut st, m);
        match h {
            Some(Health::Live) => Some(Ok(st.checks.results.len())),
            Some(Health::Retrying { error, .. }) => Some(Err(error)),
            Some(Health::Failed(e)) => Some(Err(format!("failed: {e}"))),
            _ => None,
        }
    })
    .await;
    task.abort();
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_verified_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let port = https_alertmanager(&cert, &key);
    let url = format!("https://127.0.0.1:{port}");

    let err = checks_health(&url, "")
        .await
        .expect_err("a self-signed certificate must be refused");
    eprintln!("default: {err}");
    assert!(
        err.to_lowercase().contains("certificate"),
        "the error says it is about the certificate: {err}"
    );

    let rows = checks_health(&url, &format!(", ca = \"{}\"", cert.display()))
        .await
        .unwrap_or_else(|e| panic!("with ca = <the certificate> it must connect: {e}"));
    eprintln!("ca = cert: live, {rows} row(s)");
    assert_eq!(rows, 1);

    let rows = checks_health(&url, ", insecure_skip_verify = true")
        .await
        .unwrap_or_else(|e| panic!("insecure_skip_verify = true must connect: {e}"));
    eprintln!("verification turned off: live, {rows} row(s)");
    assert_eq!(rows, 1);

    // A different certificate as `ca` does not make ours trusted.
    let other = tempfile::tempdir().unwrap();
    let (other_cert, _) = self_signed(other.path());
    let err = checks_health(&url, &format!(", ca = \"{}\"", other_cert.display()))
        .await
        .expect_err("another CA must not be accepted");
    eprintln!("other ca: {err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

//! Throw-away certificates (rcgen: a CA, a server certificate for 127.0.0.1/localhost, a client
//! certificate) and a real etcd serving TLS with client-certificate authentication.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};

use super::daemon::Daemon;
use super::{free_port, require_binary, wait_until_or};

/// PEM files in a temp dir; keys are written mode 0600.
pub struct Certs {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl Certs {
    pub fn generate() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "opsconsole test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            params.distinguished_name.push(DnType::CommonName, name);
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key_pem) = leaf("etcd", ExtendedKeyUsagePurpose::ServerAuth);
        let (client_pem, client_key_pem) = leaf("opsconsole", ExtendedKeyUsagePurpose::ClientAuth);

        let write = |name: &str, text: &str, mode: u32| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        Certs {
            ca: write("ca.pem", &ca_cert.pem(), 0o644),
            server_cert: write("server.pem", &server_pem, 0o644),
            server_key: write("server-key.pem", &server_key_pem, 0o600),
            client_cert: write("client.pem", &client_pem, 0o644),
            client_key: write("client-key.pem", &client_key_pem, 0o600),
            dir,
        }
    }
}

/// One etcd member serving clients over TLS only, requiring a client certificate from the CA.
pub struct TlsEtcd {
    pub port: u16,
    data: tempfile::TempDir,
    _daemon: Daemon,
}

impl TlsEtcd {
    pub fn start(certs: &Certs) -> TlsEtcd {
        let data = tempfile::tempdir().unwrap();
        let (port, peer) = (free_port(), free_port());
        let client = format!("https://127.0.0.1:{port}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut cmd = Command::new(require_binary("etcd"));
        cmd.args(["--name", "tls1"])
            .arg("--data-dir")
            .arg(data.path().join("data"))
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("tls1={peer_url}")])
            .arg("--cert-file")
            .arg(&certs.server_cert)
            .arg("--key-file")
            .arg(&certs.server_key)
            .arg("--trusted-ca-file")
            .arg(&certs.ca)
            .arg("--client-cert-auth")
            .args(["--logger=zap", "--log-outputs=stderr"]);
        let log = data.path().join("etcd.log");
        let mut daemon = Daemon::spawn("etcd (TLS)", &mut cmd, log.clone());
        let etcd = |args: &[&str]| {
            Command::new(require_binary("etcdctl"))
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &client])
                .arg("--cacert")
                .arg(&certs.ca)
                .arg("--cert")
                .arg(&certs.client_cert)
                .arg("--key")
                .arg(&certs.client_key)
                .args(args)
                .output()
                .expect("etcdctl")
        };
        wait_until_or(
            format!("TLS etcd on {port} to be healthy"),
            Duration::from_secs(20),
            || {
                daemon.assert_running();
                let out = etcd(&["endpoint", "health", "-w", "json"]);
                String::from_utf8_lossy(&out.stdout).contains("\"health\":true")
            },
            || super::daemon::tail(&log, 30),
        );
        TlsEtcd {
            port,
            data,
            _daemon: daemon,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `etcdctl put` over TLS with the client certificate.
    pub fn put(&self, certs: &Certs, key: &str, value: &str) {
        let out = Command::new(require_binary("etcdctl"))
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.endpoint()])
            .arg("--cacert")
            .arg(&certs.ca)
            .arg("--cert")
            .arg(&certs.client_cert)
            .arg("--key")
            .arg(&certs.client_key)
            .args(["put", key, value])
            .output()
            .expect("etcdctl");
        assert!(
            out.status.success(),
            "etcdctl put over TLS: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            super::daemon::tail(&self.data.path().join("etcd.log"), 20)
        );
    }
}

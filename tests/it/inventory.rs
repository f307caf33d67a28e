//! `opsconsole inventory` against a real etcd: the JSON shape, `--host`, the env var, one-line
//! errors; then the real `ansible-inventory` (ansible-core from PyPI, in a venv cached under
//! `target/test-deps/ansible`) reading it through the wrapper script the README documents.
//! A missing python3/venv or a failed pip install fails the test loudly: nothing is skipped.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use common::{free_port, write_config, Etcd};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_opsconsole");

/// The wrapper the README documents, byte for byte (it finds `opsconsole` on PATH and the config
/// in the usual place).
const WRAPPER: &str = r#"#!/bin/sh
# opsconsole-inventory: Ansible dynamic inventory from the live etcd membership.
#   ansible-inventory -i ./opsconsole-inventory --graph
#   ansible-playbook  -i ./opsconsole-inventory site.yml
# Cluster: $OPSCONSOLE_CLUSTER if set, else the default below. Config: the usual
# $XDG_CONFIG_HOME/opsconsole/config.toml (add --config PATH after `inventory` for another).
export OPSCONSOLE_CLUSTER="${OPSCONSOLE_CLUSTER:-prod}"
exec opsconsole inventory "$@"
"#;

/// ansible-core releases that run on Debian 12's Python 3.11 and later.
const ANSIBLE_SPEC: &str = "ansible-core>=2.16,<2.20";

/// Registers a small fleet; returns the lease id web-1 is bound to.
fn seed(etcd: &Etcd) -> i64 {
    let granted = etcd.ctl(&["lease", "grant", "600"]);
    // "lease 694d7a1b2c3d4e5f granted with TTL(600s)"
    let hex = granted.split_whitespace().nth(1).expect("lease id");
    let lease = i64::from_str_radix(hex, 16).expect("hex lease id");
    etcd.ctl(&[
        "put",
        "/services/web/web-1",
        r#"{"addr":"10.0.0.1","port":80,"version":"1.4.2","dc":"eu-1","ansible_connection":"local","note":"{{ lookup('pipe', 'echo pwned') }}"}"#,
        &format!("--lease={hex}"),
    ]);
    etcd.ctl(&["put", "/services/web/web-2", "10.0.0.2:8080"]);
    etcd.ctl(&[
        "put",
        "/services/redis-cache/redis-1",
        r#"{"host":"10.0.1.1","port":6379}"#,
    ]);
    etcd.ctl(&["put", "/services/db/db-1", r#"{"Addr":"[fd00::1]:5432"}"#]);
    lease
}

fn opsconsole(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("OPSCONSOLE_CLUSTER")
        .envs(env.iter().copied())
        .output()
        .expect("running opsconsole")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

/// The text inside `{"__ansible_unsafe": …}`.
fn text(v: &Value) -> &str {
    v["__ansible_unsafe"]
        .as_str()
        .unwrap_or_else(|| panic!("not an unsafe-marked string: {v}"))
}

/// Exit status non-zero, nothing on stdout, exactly one line on stderr containing `needle`.
fn assert_one_line_error(o: &Output, needle: &str) {
    assert!(!o.status.success(), "expected failure: {o:?}");
    assert!(o.stdout.is_empty(), "stdout must be empty: {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

/// etcd keys are bytes: two keys that differ only in bytes that are not UTF-8 are two hosts, named
/// by their escaped text, each with its exact key in base64 — in the inventory and in the snapshot.
#[test]
fn keys_that_are_not_utf8_stay_distinct_in_inventory_and_snapshot() {
    let etcd = Etcd::start();
    etcd.put_bytes(b"/services/coll/inv\xff", "10.0.0.1:80");
    etcd.put_bytes(b"/services/coll/inv\xfe", "10.0.0.2:80");
    let (_dir, cfg) = write_config(&etcd.endpoint(), "/services/", "");
    let cfg = cfg.to_str().unwrap();

    let out = opsconsole(&["--config", cfg, "inventory", "-c", "test", "--list"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let list = json(&out);
    assert_eq!(
        list["coll"]["hosts"],
        serde_json::json!(["inv\\xfe", "inv\\xff"])
    );
    let hv = &list["_meta"]["hostvars"];
    assert_eq!(text(&hv["inv\\xff"]["ansible_host"]), "10.0.0.1");
    assert_eq!(text(&hv["inv\\xfe"]["ansible_host"]), "10.0.0.2");
    assert_eq!(
        hv["inv\\xff"]["etcd_key_b64"],
        "L3NlcnZpY2VzL2NvbGwvaW52/w=="
    );
    assert_eq!(
        hv["inv\\xfe"]["etcd_key_b64"],
        "L3NlcnZpY2VzL2NvbGwvaW52/g=="
    );

    let out = opsconsole(
        &[
            "--config", cfg, "snapshot", "-c", "test", "--format", "json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let snap = json(&out);
    assert_eq!(snap["members"]["count"], 2);
    let items = snap["members"]["items"].as_array().unwrap();
    let mut keys: Vec<(String, String)> = items
        .iter()
        .map(|m| {
            (
                m["key"].as_str().unwrap().to_string(),
                m["key_b64"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (
                "/services/coll/inv\\xfe".to_string(),
                "L3NlcnZpY2VzL2NvbGwvaW52/g==".to_string()
            ),
            (
                "/services/coll/inv\\xff".to_string(),
                "L3NlcnZpY2VzL2NvbGwvaW52/w==".to_string()
            ),
        ]
    );
}

#[test]
fn list_and_host_against_real_etcd() {
    let etcd = Etcd::start();
    let lease = seed(&etcd);
    let (_dir, cfg) = write_config(&etcd.endpoint(), "/services/", "");
    let cfg = cfg.to_str().unwrap();

    let out = opsconsole(
        &["--config", cfg, "inventory", "--cluster", "test", "--list"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no warnings expected");
    let list = json(&out);
    assert_eq!(
        list["all"]["children"],
        serde_json::json!(["db", "redis_cache", "web"])
    );
    assert_eq!(list["web"]["hosts"], serde_json::json!(["web-1", "web-2"]));
    assert_eq!(list["redis_cache"]["hosts"], serde_json::json!(["redis-1"]));
    assert_eq!(list["db"]["hosts"], serde_json::json!(["db-1"]));
    let keys: Vec<&String> = list.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "_meta, all and three groups: {keys:?}");

    let hv = &list["_meta"]["hostvars"];
    let w1 = &hv["web-1"];
    assert_eq!(text(&w1["ansible_host"]), "10.0.0.1");
    assert_eq!(w1["service_port"], 80);
    assert!(w1.get("ansible_port").is_none());
    assert_eq!(text(&w1["version"]), "1.4.2");
    assert_eq!(text(&w1["dc"]), "eu-1");
    assert_eq!(text(&w1["addr"]), "10.0.0.1");
    assert_eq!(w1["value_port"], 80);
    assert_eq!(text(&w1["etcd_key"]), "/services/web/web-1");
    assert_eq!(w1["etcd_lease"], lease);
    assert_eq!(text(&w1["role"]), "web");
    // An instance cannot change how Ansible connects to it.
    assert!(w1.get("ansible_connection").is_none());
    assert_eq!(text(&w1["value_ansible_connection"]), "local");
    assert_eq!(
        text(&w1["note"]),
        "{{ lookup('pipe', 'echo pwned') }}",
        "kept verbatim, marked unsafe"
    );
    let w2 = &hv["web-2"];
    assert_eq!(text(&w2["ansible_host"]), "10.0.0.2");
    assert_eq!(w2["service_port"], 8080);
    assert_eq!(w2["etcd_lease"], 0);
    assert_eq!(text(&hv["redis-1"]["role"]), "redis-cache");
    assert_eq!(text(&hv["db-1"]["ansible_host"]), "fd00::1");
    assert_eq!(hv["db-1"]["service_port"], 5432);

    // --host: that host's vars, `{}` for an unknown one.
    let out = opsconsole(
        &[
            "--config",
            cfg,
            "inventory",
            "-c",
            "test",
            "--host",
            "web-1",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), *w1);
    let out = opsconsole(
        &["--config", cfg, "inventory", "-c", "test", "--host", "nope"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), serde_json::json!({}));

    // The cluster from OPSCONSOLE_CLUSTER (Ansible passes only --list/--host) or the top-level flag.
    let out = opsconsole(
        &["--config", cfg, "inventory", "--list"],
        &[("OPSCONSOLE_CLUSTER", "test")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), list);
    let out = opsconsole(
        &["--config", cfg, "--cluster", "test", "inventory", "--list"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), list);
    let out = opsconsole(&["inventory", "--list", "--config", cfg, "-c", "test"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), list);
    // …but an exported cluster never silently beats the one typed.
    let out = opsconsole(
        &["--config", cfg, "--cluster", "test", "inventory", "--list"],
        &[("OPSCONSOLE_CLUSTER", "prod")],
    );
    assert_one_line_error(&out, "two clusters given");

    // Live: a deregistered instance is gone from the next run.
    etcd.ctl(&["del", "/services/web/web-2"]);
    let out = opsconsole(&["--config", cfg, "inventory", "-c", "test", "--list"], &[]);
    assert_eq!(json(&out)["web"]["hosts"], serde_json::json!(["web-1"]));
}

#[test]
fn errors_are_one_line_on_stderr_and_nothing_on_stdout() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (_d1, cfg) = write_config(&dead, "/services/", "");
    let cfg = cfg.to_str().unwrap();
    let out = opsconsole(&["--config", cfg, "inventory", "-c", "test", "--list"], &[]);
    assert_one_line_error(&out, "etcd unreachable for cluster \"test\"");
    assert_eq!(out.status.code(), Some(1));

    let out = opsconsole(&["--config", cfg, "inventory", "-c", "nope", "--list"], &[]);
    assert_one_line_error(&out, "no cluster \"nope\"");
    assert_eq!(out.status.code(), Some(2));

    let out = opsconsole(&["--config", cfg, "inventory", "--list"], &[]);
    assert_one_line_error(&out, "--cluster NAME is required");

    let bad = tempfile::tempdir().unwrap();
    let bad_cfg = bad.path().join("config.toml");
    std::fs::write(
        &bad_cfg,
        "[clusters.test]\netcd = { endpoints = [\"localhost\"] }\n",
    )
    .unwrap();
    let out = opsconsole(
        &[
            "--config",
            bad_cfg.to_str().unwrap(),
            "inventory",
            "-c",
            "test",
            "--list",
        ],
        &[],
    );
    assert_one_line_error(&out, "line 2");
    assert_eq!(out.status.code(), Some(2));

    let missing = bad.path().join("missing.toml");
    let out = opsconsole(
        &[
            "--config",
            missing.to_str().unwrap(),
            "inventory",
            "-c",
            "test",
            "--host",
            "x",
        ],
        &[],
    );
    assert_one_line_error(&out, "no config file");

    // Neither --list nor --host: clap's usage error, still nothing on stdout.
    let out = opsconsole(&["--config", cfg, "inventory", "-c", "test"], &[]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("--list"), "{}", stderr(&out));
}

/// The venv with ansible-core, created once (python3 -m venv; pip install) and reused.
fn ansible_bin() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-deps")
        .join("ansible");
    let bin = dir.join("bin");
    let marker = dir.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(ANSIBLE_SPEC)
        && bin.join("ansible-inventory").is_file()
    {
        return bin;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let python = common::require_binary("python3");
    let out = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&dir)
        .output()
        .expect("running python3 -m venv");
    assert!(
        out.status.success(),
        "`{} -m venv {}` failed — install the venv module (Debian: apt-get install python3-venv; \
         scripts/setup does it). The Ansible test never skips.\n{}",
        python.display(),
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(bin.join("pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            ANSIBLE_SPEC,
        ])
        .output()
        .expect("running pip");
    assert!(
        out.status.success(),
        "`pip install {ANSIBLE_SPEC}` into {} failed (is PyPI reachable?). The Ansible test never \
         skips.\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        bin.join("ansible-inventory").is_file(),
        "pip installed {ANSIBLE_SPEC} but {}/ansible-inventory is missing",
        bin.display()
    );
    std::fs::write(&marker, ANSIBLE_SPEC).unwrap();
    bin
}

/// A place for Ansible's own state and a config home holding `opsconsole/config.toml`.
struct AnsibleEnv {
    dir: tempfile::TempDir,
    ansible: PathBuf,
}

impl AnsibleEnv {
    fn new(endpoint: &str) -> AnsibleEnv {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("xdg").join("opsconsole");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(
            conf.join("config.toml"),
            format!("[clusters.test]\netcd = {{ endpoints = [\"{endpoint}\"] }}\n"),
        )
        .unwrap();
        let wrapper = dir.path().join("opsconsole-inventory");
        std::fs::write(&wrapper, WRAPPER).unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        AnsibleEnv {
            dir,
            ansible: ansible_bin(),
        }
    }

    fn wrapper(&self) -> String {
        self.dir
            .path()
            .join("opsconsole-inventory")
            .display()
            .to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = self.dir.path().join("home");
        Command::new(self.ansible.join(tool))
            .args(args)
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("HOME", &home)
            .env("ANSIBLE_HOME", home.join(".ansible"))
            .env("ANSIBLE_LOCAL_TEMP", home.join(".ansible").join("tmp"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
            .env("LC_ALL", "C.UTF-8")
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("OPSCONSOLE_CLUSTER", "test")
            .output()
            .unwrap_or_else(|e| panic!("running {tool}: {e}"))
    }
}

#[test]
fn real_ansible_inventory_reads_the_wrapper() {
    let etcd = Etcd::start();
    let lease = seed(&etcd);
    let env = AnsibleEnv::new(&etcd.endpoint());
    let inv = env.wrapper();

    let out = env.run("ansible-inventory", &["-i", &inv, "--list"]);
    assert!(
        out.status.success(),
        "ansible-inventory --list: {}",
        stderr(&out)
    );
    let list = json(&out);
    assert_eq!(list["web"]["hosts"], serde_json::json!(["web-1", "web-2"]));
    assert_eq!(list["redis_cache"]["hosts"], serde_json::json!(["redis-1"]));
    let children = list["all"]["children"].as_array().unwrap();
    for g in ["web", "redis_cache", "db"] {
        assert!(children.iter().any(|c| c == g), "{g} not in {children:?}");
    }
    let w1 = &list["_meta"]["hostvars"]["web-1"];
    assert_eq!(text(&w1["ansible_host"]), "10.0.0.1");
    assert_eq!(w1["service_port"], 80);
    assert_eq!(w1["etcd_lease"], lease);
    assert_eq!(text(&w1["role"]), "web");
    assert_eq!(
        text(&list["_meta"]["hostvars"]["db-1"]["ansible_host"]),
        "fd00::1"
    );

    let out = env.run("ansible-inventory", &["-i", &inv, "--graph"]);
    assert!(
        out.status.success(),
        "ansible-inventory --graph: {}",
        stderr(&out)
    );
    let graph = stdout(&out);
    for want in [
        "@all:",
        "|--@web:",
        "|  |--web-1",
        "|  |--web-2",
        "|--@redis_cache:",
        "|  |--redis-1",
        "|--@db:",
        "|  |--db-1",
    ] {
        assert!(graph.contains(want), "--graph lacks {want:?}:\n{graph}");
    }

    let out = env.run("ansible-inventory", &["-i", &inv, "--host", "web-2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["service_port"], 8080);

    // Inside Ansible the vars are plain strings, and a template in a registration is not run.
    let out = env.run(
        "ansible",
        &["web-1", "-i", &inv, "-m", "debug", "-a", "var=note"],
    );
    assert!(
        out.status.success(),
        "ansible debug: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let shown = stdout(&out);
    assert!(
        shown.contains(r#""note": "{{ lookup('pipe', 'echo pwned') }}""#),
        "{shown}"
    );
    assert!(!shown.contains("\"note\": \"pwned\""), "{shown}");
    let out = env.run(
        "ansible",
        &["web-1", "-i", &inv, "-m", "debug", "-a", "var=ansible_host"],
    );
    assert!(
        stdout(&out).contains(r#""ansible_host": "10.0.0.1""#),
        "{}",
        stdout(&out)
    );

    // `_meta.hostvars` is there, so Ansible calls the script once, with --list only.
    let calls = env.dir.path().join("calls.log");
    let counting = env.dir.path().join("counting-inventory");
    std::fs::write(
        &counting,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            inv
        ),
    )
    .unwrap();
    std::fs::set_permissions(&counting, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.run(
        "ansible-inventory",
        &["-i", counting.to_str().unwrap(), "--list"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&calls).unwrap(), "--list\n");

    // etcd down: Ansible reports the script's one-line error instead of an empty inventory.
    drop(etcd);
    let out = env.run("ansible-inventory", &["-i", &inv, "--list"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("etcd unreachable for cluster \"test\""),
        "{}",
        stderr(&out)
    );
}

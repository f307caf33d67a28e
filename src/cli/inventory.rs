//! `opsconsole inventory --list | --host H`: the live membership as an Ansible dynamic inventory.
//!
//! Hosts are instance names, one group per role (`web-api` → `web_api`, as Ansible wants group
//! names to be identifiers), `all.children` lists the groups, and `_meta.hostvars` is always present
//! so Ansible does not call `--host` once per host. Host vars are the registration value's top-level
//! JSON fields, plus `ansible_host` (the address without its port), `service_port` (the registered
//! port, when there is one), `etcd_key`, `etcd_lease` and `role`.
//!
//! Registration values are written by the instances themselves, so they must not steer Ansible:
//! - every string from etcd is emitted as `{"__ansible_unsafe": "…"}` (sanitised first), which Ansible
//!   decodes as a plain string it never templates — otherwise a value such as
//!   `"{{ lookup('pipe', …) }}"` would run commands on the Ansible controller;
//! - a field whose name Ansible reserves (`ansible_*` connection variables, play keywords such as
//!   `port` or `name`, magic variables, Jinja globals such as `lookup`) or that opsconsole sets itself
//!   (`role`, `etcd_key`, …) is passed as `value_<name>`, so it can neither change how Ansible
//!   connects nor shadow anything; other names are made identifiers (`started-at` → `started_at`);
//! - the registered port is a service port, not SSH, so it is `service_port`, never `ansible_port`.
//!
//! Errors (bad config, etcd unreachable) are one line on stderr, nothing on stdout, non-zero exit:
//! Ansible then reports the failure instead of running against an empty inventory.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Map, Value};

use super::{fail, list_members, runtime, Pick, EXIT_UNAVAILABLE, EXIT_USAGE};
use crate::model::{natural_cmp, text::sanitize, KvEntry, Member};

/// The listing may take longer than a snapshot's 5 s on a big fleet; Ansible waits for it.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);
/// Values bigger than this are not turned into host vars (the same cap as the members table).
const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Warnings printed per run; the rest are counted.
const MAX_WARNINGS: usize = 20;
/// Names a value field may not take as a host var: Ansible's reserved names (play keywords and
/// Jinja globals, `ansible.vars.reserved.get_reserved_names()` in ansible-core 2.19), its magic
/// variables, and the vars opsconsole sets. `ansible_*` is handled by prefix.
#[rustfmt::skip]
const RESERVED: &[&str] = &[
    "action", "always", "any_errors_fatal", "args", "async", "async_val", "become", "become_exe",
    "become_flags", "become_method", "become_user", "block", "changed_when", "check_mode",
    "collections", "connection", "cycler", "debugger", "delay", "delegate_facts", "delegate_to",
    "dict", "diff", "environment", "fact_path", "failed_when", "force_handlers", "gather_facts",
    "gather_timeout", "handlers", "hosts", "ignore_errors", "ignore_unreachable", "joiner",
    "lipsum", "local_action", "lookup", "loop", "loop_control", "loop_with", "max_fail_percentage",
    "module_defaults", "name", "namespace", "no_log", "notify", "now", "omit", "order", "poll",
    "port", "post_tasks", "pre_tasks", "q", "query", "range", "register", "remote_user", "rescue",
    "retries", "roles", "run_once", "serial", "strategy", "tags", "tasks", "throttle", "timeout",
    "undef", "until", "vars", "vars_files", "vars_prompt", "when", "with_",
    // magic variables
    "group_names", "groups", "hostvars", "inventory_dir", "inventory_file", "inventory_hostname",
    "inventory_hostname_short", "play_hosts", "playbook_dir", "role_name", "role_names",
    "role_path",
    // set by opsconsole
    "etcd_key", "etcd_lease", "role", "service_port",
];

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["list", "host"])))]
pub struct Args {
    /// Cluster profile to read (a [clusters.NAME] table in the config); several, comma-separated
    /// (`prod,prod-eu`), give one inventory with hosts `instance@cluster`
    #[arg(long, short = 'c', value_name = "NAME")]
    pub cluster: Option<String>,
    /// Print the whole inventory: groups per role, `all.children`, `_meta.hostvars`
    #[arg(long)]
    pub list: bool,
    /// Print one host's variables (`{}` for an unknown host)
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
}

/// The inventory built from one listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// The `--list` document.
    pub list: Value,
    /// Things the operator should know (left-out or duplicate instances), for stderr.
    pub warnings: Vec<String>,
}

impl Inventory {
    /// `--host H`: that host's vars, or `{}` when it is not in the inventory.
    pub fn host(&self, name: &str) -> Value {
        self.list
            .pointer("/_meta/hostvars")
            .and_then(|h| h.get(name))
            .cloned()
            .unwrap_or_else(|| Value::Object(Map::new()))
    }
}

/// Ansible group name for a role: characters outside `[A-Za-z0-9_]` become `_`; names Ansible
/// reserves (`all`, `ungrouped`, `_meta`) or that do not start like an identifier get `role_`.
pub fn group_name(role: &str) -> String {
    let mut g: String = role
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let reserved = matches!(g.as_str(), "all" | "ungrouped" | "_meta");
    if g.is_empty() || reserved || g.starts_with(|c: char| c.is_ascii_digit()) {
        g = format!("role_{g}");
    }
    g
}

/// Host part and port of a registered address: `10.0.0.1:80`, `[fe80::1]:80`, `fe80::1`,
/// `host`, `http://host:8080/path`.
pub fn split_addr(addr: &str) -> Option<(String, Option<u16>)> {
    let a = addr.trim();
    let a = a.split_once("://").map(|(_, rest)| rest).unwrap_or(a);
    let a = a.split('/').next().unwrap_or(a);
    let a = a.rsplit_once('@').map(|(_, h)| h).unwrap_or(a);
    if a.is_empty() {
        return None;
    }
    if let Some(rest) = a.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
        return (!host.is_empty()).then(|| (host.to_string(), port));
    }
    match a.split_once(':') {
        Some((h, p)) if !p.contains(':') => {
            (!h.is_empty()).then(|| (h.to_string(), p.parse().ok()))
        }
        // A bare IPv6 address has no port.
        _ => Some((a.to_string(), None)),
    }
}

fn is_reserved(name: &str) -> bool {
    name.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("ansible_"))
        || RESERVED.contains(&name)
}

/// A value field name as an Ansible variable name (`[A-Za-z_][A-Za-z0-9_]*`), `None` if empty.
fn var_name(key: &str) -> Option<String> {
    let mut n: String = sanitize(key)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if n.is_empty() {
        return None;
    }
    if n.starts_with(|c: char| c.is_ascii_digit()) {
        n.insert(0, '_');
    }
    Some(n)
}

/// A string from etcd, sanitised and marked so Ansible never templates it.
pub fn untrusted(s: &str) -> Value {
    let mut m = Map::new();
    m.insert(
        "__ansible_unsafe".into(),
        Value::String(sanitize(s).into_owned()),
    );
    Value::Object(m)
}

/// Strings sanitised and marked unsafe at every depth (object keys sanitised); numbers, booleans
/// and null kept as they are.
fn clean(v: Value) -> Value {
    match v {
        Value::String(s) => untrusted(&s),
        Value::Array(a) => Value::Array(a.into_iter().map(clean).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (sanitize(&k).into_owned(), clean(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Host vars for one member.
fn host_vars(member: &Member) -> Map<String, Value> {
    let mut vars: BTreeMap<String, Value> = BTreeMap::new();
    if member.value().len() <= MAX_VALUE_BYTES {
        if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(member.value()) {
            let mut renamed = Vec::new();
            for (k, v) in fields {
                let Some(name) = var_name(&k) else { continue };
                if is_reserved(&name) {
                    renamed.push((format!("value_{name}"), v));
                } else {
                    vars.entry(name).or_insert_with(|| clean(v));
                }
            }
            // A field already called `value_x` keeps its name; `x` then gives way.
            for (name, v) in renamed {
                vars.entry(name).or_insert_with(|| clean(v));
            }
        }
    }
    if let Some((host, port)) = split_addr(member.addr()) {
        vars.insert("ansible_host".into(), untrusted(&host));
        if let Some(p) = port {
            vars.insert("service_port".into(), Value::from(p));
        }
    }
    vars.insert("etcd_key".into(), untrusted(member.key_text()));
    if let Some(b64) = member.key_b64() {
        vars.insert("etcd_key_b64".into(), Value::from(b64));
    }
    vars.insert("etcd_lease".into(), Value::from(member.lease));
    if member.role() != "-" {
        vars.insert("role".into(), untrusted(member.role()));
    }
    vars.into_iter().collect()
}

/// Instance names become Ansible host names, which cannot be marked unsafe: refuse template syntax.
fn usable_host_name(name: &str) -> bool {
    !name.is_empty() && !name.contains("{{") && !name.contains("{%") && !name.contains("{#")
}

/// Builds the inventory from a listing of `prefix` (keys `<prefix><role>/<instance>`).
pub fn build(prefix: &str, mut entries: Vec<KvEntry>) -> Inventory {
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    let mut warnings = Vec::new();
    let mut hostvars: BTreeMap<String, (String, Map<String, Value>)> = BTreeMap::new();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in entries {
        let member = Member::from_entry(prefix, entry, None);
        if !usable_host_name(member.instance()) {
            warnings.push(format!(
                "{}: the instance name is empty or looks like a template; left out",
                member.key_text()
            ));
            continue;
        }
        let group = if member.role() == "-" {
            "ungrouped".to_string()
        } else {
            group_name(member.role())
        };
        groups
            .entry(group)
            .or_default()
            .push(member.instance().to_string());
        if let Some((first, _)) = hostvars.get(member.instance()) {
            warnings.push(format!(
                "instance \"{}\" is registered under {} and {}; its host vars come from the first",
                member.instance(),
                first,
                member.key_text()
            ));
            continue;
        }
        let vars = host_vars(&member);
        hostvars.insert(
            member.instance().to_string(),
            (member.key_text().to_string(), vars),
        );
    }

    let mut list = Map::new();
    let meta_hostvars: Map<String, Value> = hostvars
        .into_iter()
        .map(|(host, (_, vars))| (host, Value::Object(vars)))
        .collect();
    let mut meta = Map::new();
    meta.insert("hostvars".into(), Value::Object(meta_hostvars));
    list.insert("_meta".into(), Value::Object(meta));
    let children: Vec<Value> = groups.keys().map(|g| Value::String(g.clone())).collect();
    let mut all = Map::new();
    all.insert("children".into(), Value::Array(children));
    list.insert("all".into(), Value::Object(all));
    for (name, mut hosts) in groups {
        hosts.sort_by(|a, b| natural_cmp(a, b));
        hosts.dedup();
        let mut g = Map::new();
        g.insert(
            "hosts".into(),
            Value::Array(hosts.into_iter().map(Value::String).collect()),
        );
        list.insert(name, Value::Object(g));
    }
    Inventory {
        list: Value::Object(list),
        warnings,
    }
}

/// Runs `inventory`; `top_cluster` is the top-level `--cluster`, if any.
pub fn run(args: &Args, pick: &Pick) -> ExitCode {
    match super::merged_profiles(pick, args.cluster.as_deref()) {
        Ok(Some(profiles)) => return run_merged(args, profiles),
        Ok(None) => {}
        Err(e) => return fail(EXIT_USAGE, e),
    }
    let profile = match pick.profile(args.cluster.as_deref()) {
        Ok(p) => p,
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let cluster = profile.name.clone();
    let Some(etcd) = profile.etcd.as_ref() else {
        return fail(
            EXIT_USAGE,
            format!("cluster \"{cluster}\" has no etcd table"),
        );
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(EXIT_UNAVAILABLE, e),
    };
    let entries = match rt.block_on(list_members(etcd, LIST_TIMEOUT)) {
        Ok((_, entries)) => entries,
        Err(e) => {
            let msg = format!("{e:#}").replace(['\n', '\r'], " ");
            return fail(
                EXIT_UNAVAILABLE,
                format!("etcd unreachable for cluster \"{cluster}\": {msg}"),
            );
        }
    };
    print(args, build(&etcd.prefix, entries))
}

/// `--cluster a,b`: every cluster listed (each from its own etcd), one inventory of them all.
fn run_merged(args: &Args, profiles: Vec<crate::config::ClusterProfile>) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(EXIT_UNAVAILABLE, e),
    };
    let mut listed = Vec::new();
    for p in profiles {
        let Some(etcd) = p.etcd.as_ref() else {
            return fail(
                EXIT_USAGE,
                format!("cluster \"{}\" has no etcd table", p.name),
            );
        };
        match rt.block_on(list_members(etcd, LIST_TIMEOUT)) {
            Ok((_, entries)) => listed.push(super::inventory_merged::Listed {
                cluster: p.name.clone(),
                prefix: etcd.prefix.clone(),
                entries,
            }),
            Err(e) => {
                // A partial inventory would let a playbook skip a whole cluster unnoticed.
                let msg = format!("{e:#}").replace(['\n', '\r'], " ");
                return fail(
                    EXIT_UNAVAILABLE,
                    format!("etcd unreachable for cluster \"{}\": {msg}", p.name),
                );
            }
        }
    }
    match super::inventory_merged::build_merged(listed) {
        Ok(inventory) => print(args, inventory),
        Err(e) => fail(EXIT_USAGE, e),
    }
}

/// Writes the `--list` document or one `--host`'s vars, warnings to stderr.
fn print(args: &Args, inventory: Inventory) -> ExitCode {
    let n = inventory.warnings.len();
    for w in inventory.warnings.iter().take(MAX_WARNINGS) {
        super::say(format_args!("warning: {w}"));
    }
    if n > MAX_WARNINGS {
        super::say(format_args!("warning: … and {} more", n - MAX_WARNINGS));
    }
    let doc = match &args.host {
        Some(h) => inventory.host(h),
        None => inventory.list,
    };
    let text = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|_| out.flush()) {
        // A reader that stopped early (`| head`) is not an error worth a message.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
        return fail(EXIT_UNAVAILABLE, format!("writing the inventory: {e}"));
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str, lease: i64) -> KvEntry {
        KvEntry {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            create_revision: 1,
            mod_revision: 2,
            version: 1,
            lease,
        }
    }

    #[test]
    fn addresses() {
        let s = |a: &str| split_addr(a);
        assert_eq!(s("10.0.0.1:80"), Some(("10.0.0.1".into(), Some(80))));
        assert_eq!(s("10.0.0.1"), Some(("10.0.0.1".into(), None)));
        assert_eq!(s("[fe80::1]:8080"), Some(("fe80::1".into(), Some(8080))));
        assert_eq!(s("fe80::1"), Some(("fe80::1".into(), None)));
        assert_eq!(
            s("http://web.example:8080/x"),
            Some(("web.example".into(), Some(8080)))
        );
        assert_eq!(s("host:http"), Some(("host".into(), None)));
        assert_eq!(s(""), None);
        assert_eq!(s(":80"), None);
    }

    #[test]
    fn group_names_are_identifiers() {
        assert_eq!(group_name("web"), "web");
        assert_eq!(group_name("web-api"), "web_api");
        assert_eq!(group_name("all"), "role_all");
        assert_eq!(group_name("_meta"), "role__meta");
        assert_eq!(group_name("1st"), "role_1st");
    }

    /// The string inside an `{"__ansible_unsafe": …}` wrapper.
    fn text(v: &Value) -> &str {
        v["__ansible_unsafe"]
            .as_str()
            .unwrap_or_else(|| panic!("not an unsafe string: {v}"))
    }

    #[test]
    fn list_shape_and_host_vars() {
        let inv = build(
            "/services/",
            vec![
                kv(
                    "/services/web/web-10",
                    r#"{"addr":"10.0.0.10","port":80,"version":"1.4.2","note":"a\u001b[2Jb {{ 6*7 }}",
                        "ansible_connection":"local","role":"primary","started-at":"x","tags":["x\u0007"],
                        "value_port":1,"up":true,"9lives":null}"#,
                    7,
                ),
                kv("/services/web/web-2", "10.0.0.2:8080", 0),
                kv("/services/redis-cache/r1", r#"{"host":"10.0.1.1"}"#, 0),
                kv("/services/loner", r#"{"Addr":"10.9.9.9:22"}"#, 0),
                kv("/services/web/{{ 1 }}", "10.0.0.3", 0),
            ],
        );
        let l = &inv.list;
        assert_eq!(
            l["all"]["children"],
            serde_json::json!(["redis_cache", "ungrouped", "web"])
        );
        assert_eq!(l["web"]["hosts"], serde_json::json!(["web-2", "web-10"]));
        assert_eq!(l["ungrouped"]["hosts"], serde_json::json!(["loner"]));
        let w = &l["_meta"]["hostvars"]["web-10"];
        assert_eq!(text(&w["ansible_host"]), "10.0.0.10");
        assert_eq!(w["service_port"], 80);
        assert_eq!(text(&w["version"]), "1.4.2");
        assert_eq!(text(&w["note"]), "ab {{ 6*7 }}");
        assert_eq!(text(&w["value_tags"][0]), "x");
        assert_eq!(w["up"], true);
        assert_eq!(w["_9lives"], Value::Null);
        assert_eq!(text(&w["started_at"]), "x");
        assert_eq!(text(&w["etcd_key"]), "/services/web/web-10");
        assert_eq!(w["etcd_lease"], 7);
        assert_eq!(text(&w["role"]), "web");
        // Reserved names are renamed; an existing `value_port` keeps its value.
        assert_eq!(text(&w["value_ansible_connection"]), "local");
        assert_eq!(text(&w["value_role"]), "primary");
        assert_eq!(w["value_port"], 1);
        for gone in ["ansible_connection", "ansible_port", "port"] {
            assert!(w.get(gone).is_none(), "{gone} in {w}");
        }
        let r = &l["_meta"]["hostvars"]["r1"];
        assert_eq!(text(&r["role"]), "redis-cache");
        assert!(r.get("service_port").is_none());
        assert_eq!(l["_meta"]["hostvars"]["loner"].get("role"), None);
        assert_eq!(inv.host("web-2")["service_port"], 8080);
        assert_eq!(inv.host("nope"), serde_json::json!({}));
        assert!(inv.list["_meta"]["hostvars"].get("{{ 1 }}").is_none());
        assert!(inv.warnings[0].contains("template"), "{:?}", inv.warnings);
    }

    #[test]
    fn empty_and_duplicate() {
        let inv = build("/services/", vec![]);
        assert_eq!(
            inv.list,
            serde_json::json!({"_meta": {"hostvars": {}}, "all": {"children": []}})
        );
        let inv = build(
            "/services/",
            vec![
                kv("/services/a/x", r#"{"addr":"1.1.1.1"}"#, 0),
                kv("/services/b/x", r#"{"addr":"2.2.2.2"}"#, 0),
            ],
        );
        assert_eq!(text(&inv.host("x")["ansible_host"]), "1.1.1.1");
        assert_eq!(inv.list["b"]["hosts"], serde_json::json!(["x"]));
        assert!(inv.warnings[0].contains("/services/b/x"));
    }

    #[test]
    fn keys_that_are_not_utf8_are_escaped_hosts_with_their_bytes_beside() {
        let entry = |key: &[u8], addr: &str| KvEntry {
            key: key.to_vec(),
            ..kv("", &format!(r#"{{"addr":"{addr}"}}"#), 0)
        };
        let inv = build(
            "/services/",
            vec![
                entry(b"/services/coll/inv\xff", "1.1.1.1"),
                entry(b"/services/coll/inv\xfe", "2.2.2.2"),
            ],
        );
        assert_eq!(
            inv.list["coll"]["hosts"],
            serde_json::json!(["inv\\xfe", "inv\\xff"])
        );
        let ff = inv.host("inv\\xff");
        assert_eq!(text(&ff["ansible_host"]), "1.1.1.1");
        assert_eq!(text(&ff["etcd_key"]), "/services/coll/inv\\xff");
        assert_eq!(ff["etcd_key_b64"], "L3NlcnZpY2VzL2NvbGwvaW52/w==");
        assert_eq!(text(&inv.host("inv\\xfe")["ansible_host"]), "2.2.2.2");
        assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
        // A UTF-8 key carries no base64 copy.
        let inv = build("/services/", vec![kv("/services/a/x", "{}", 0)]);
        assert!(inv.host("x").get("etcd_key_b64").is_none());
    }
}

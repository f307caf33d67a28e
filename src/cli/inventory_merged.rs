//! `opsconsole inventory --cluster a,b --list`: several clusters' membership as one Ansible
//! inventory. The same instance may run in two clusters, so a host is `instance@cluster`; each
//! cluster is a group `cluster_<c>` and each of its roles a group `<c>_<role>` (names made
//! identifiers: `prod-eu` → `prod_eu`). Host vars are the single-cluster ones
//! ([`super::inventory`]) plus `etcd_cluster`. Two groups that come out with the same name (a
//! cluster group and a role group, or two role groups) are refused with a message: merging them
//! would hand a playbook hosts it never meant.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::inventory::{build, untrusted, Inventory};
use crate::model::{natural_cmp, KvEntry};

/// One cluster's listing: its name, its prefix, its keys.
pub struct Listed {
    pub cluster: String,
    pub prefix: String,
    pub entries: Vec<KvEntry>,
}

/// A cluster name as a group-name part: characters outside `[A-Za-z0-9_]` become `_`.
fn ident(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The merged inventory, or why its groups cannot be told apart.
pub fn build_merged(listed: Vec<Listed>) -> Result<Inventory, String> {
    let mut hostvars = Map::new();
    // Group name → (what made it, its hosts), to refuse two different sources of one name.
    let mut groups: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    let mut warnings = Vec::new();
    let add = |groups: &mut BTreeMap<String, (String, Vec<String>)>,
               name: String,
               origin: String,
               host: Option<String>|
     -> Result<(), String> {
        let entry = groups
            .entry(name.clone())
            .or_insert_with(|| (origin.clone(), Vec::new()));
        if entry.0 != origin {
            return Err(format!(
                "group \"{name}\" would hold both {} and {origin} — rename a cluster or a role so their Ansible group names differ",
                entry.0
            ));
        }
        entry.1.extend(host);
        Ok(())
    };
    for l in listed {
        let c = ident(&l.cluster);
        let one = build(&l.prefix, l.entries);
        warnings.extend(
            one.warnings
                .into_iter()
                .map(|w| format!("{}: {w}", l.cluster)),
        );
        let cluster_group = format!("cluster_{c}");
        add(
            &mut groups,
            cluster_group.clone(),
            format!("cluster {}", l.cluster),
            None,
        )?;
        let Value::Object(doc) = one.list else {
            continue;
        };
        let vars = doc
            .get("_meta")
            .and_then(|m| m.get("hostvars"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (role_group, hosts) in doc.iter().filter(|(k, _)| *k != "_meta" && *k != "all") {
            let hosts = hosts
                .get("hosts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let name = format!("{c}_{role_group}");
            let origin = format!("cluster {}'s role group {role_group}", l.cluster);
            for h in hosts.iter().filter_map(Value::as_str) {
                let host = format!("{h}@{}", l.cluster);
                add(
                    &mut groups,
                    name.clone(),
                    origin.clone(),
                    Some(host.clone()),
                )?;
                add(
                    &mut groups,
                    cluster_group.clone(),
                    format!("cluster {}", l.cluster),
                    Some(host),
                )?;
            }
        }
        for (instance, v) in vars {
            let mut v = match v {
                Value::Object(o) => o,
                _ => Map::new(),
            };
            v.insert("etcd_cluster".into(), untrusted(&l.cluster));
            hostvars.insert(format!("{instance}@{}", l.cluster), Value::Object(v));
        }
    }
    let mut list = Map::new();
    let mut meta = Map::new();
    meta.insert("hostvars".into(), Value::Object(hostvars));
    list.insert("_meta".into(), Value::Object(meta));
    let children: Vec<Value> = groups.keys().cloned().map(Value::String).collect();
    let mut all = Map::new();
    all.insert("children".into(), Value::Array(children));
    list.insert("all".into(), Value::Object(all));
    for (name, (_, mut hosts)) in groups {
        hosts.sort_by(|a, b| natural_cmp(a, b));
        hosts.dedup();
        let mut g = Map::new();
        g.insert(
            "hosts".into(),
            Value::Array(hosts.into_iter().map(Value::String).collect()),
        );
        list.insert(name, Value::Object(g));
    }
    Ok(Inventory {
        list: Value::Object(list),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &str) -> KvEntry {
        KvEntry {
            key: key.into(),
            value: value.as_bytes().to_vec(),
            create_revision: 1,
            mod_revision: 2,
            version: 1,
            lease: 0,
        }
    }

    fn listed(cluster: &str, keys: &[&str]) -> Listed {
        Listed {
            cluster: cluster.into(),
            prefix: "/services/".into(),
            entries: keys
                .iter()
                .map(|k| kv(k, r#"{"addr":"10.0.0.1","port":80}"#))
                .collect(),
        }
    }

    #[test]
    fn hosts_are_instance_at_cluster_with_cluster_and_role_groups() {
        let inv = build_merged(vec![
            listed("prod", &["/services/web/web-1", "/services/db/db-1"]),
            listed(
                "prod-eu",
                &["/services/web/web-1", "/services/web-api/api-1"],
            ),
        ])
        .expect("no collision");
        let l = &inv.list;
        assert_eq!(
            l["cluster_prod"]["hosts"],
            serde_json::json!(["db-1@prod", "web-1@prod"])
        );
        assert_eq!(
            l["cluster_prod_eu"]["hosts"],
            serde_json::json!(["api-1@prod-eu", "web-1@prod-eu"])
        );
        assert_eq!(l["prod_web"]["hosts"], serde_json::json!(["web-1@prod"]));
        assert_eq!(
            l["prod_eu_web"]["hosts"],
            serde_json::json!(["web-1@prod-eu"])
        );
        assert_eq!(
            l["prod_eu_web_api"]["hosts"],
            serde_json::json!(["api-1@prod-eu"])
        );
        // The same instance in two clusters: two hosts, each with its cluster.
        assert_eq!(
            inv.host("web-1@prod-eu")["etcd_cluster"]["__ansible_unsafe"],
            "prod-eu"
        );
        assert_eq!(
            inv.host("web-1@prod")["ansible_host"]["__ansible_unsafe"],
            "10.0.0.1"
        );
        let children = l["all"]["children"].as_array().expect("children");
        assert!(children.contains(&Value::from("cluster_prod_eu")));
        assert!(children.contains(&Value::from("prod_db")));
    }

    #[test]
    fn a_cluster_group_colliding_with_a_role_group_is_refused() {
        // Cluster "cluster" with role "prod" makes `cluster_prod`, cluster prod's own group.
        let err = build_merged(vec![
            listed("prod", &["/services/web/web-1"]),
            listed("cluster", &["/services/prod/p-1"]),
        ])
        .expect_err("collision");
        assert!(err.contains("group \"cluster_prod\""), "{err}");
        // Two role groups: cluster a_b's role c and cluster a's role b_c.
        let err = build_merged(vec![
            listed("a_b", &["/services/c/x-1"]),
            listed("a", &["/services/b_c/y-1"]),
        ])
        .expect_err("collision");
        assert!(err.contains("group \"a_b_c\""), "{err}");
    }
}

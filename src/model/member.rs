//! One registered instance: its etcd key (bytes, the identity) and raw value, with the names and
//! fields the panes show, parsed on first use.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};

use super::natural_cmp;
use super::text::escape_bytes;
use super::{ClusterId, KvEntry};

/// One registered instance, kept small: 100k of them live in memory at once.
///
/// The key is the raw bytes etcd holds: the member's identity for the index, deregister and lease
/// lookups. Role and instance are usually byte ranges of it; a key that is not valid UTF-8 or holds
/// control characters gets owned, escaped copies (`inv\xff`) for display, filter and sort, so two
/// distinct keys never show as one. The value's display fields (address, version, start time) are
/// parsed from the raw bytes on first use — most members are never drawn, filtered or sorted by
/// those, and parsing every value on arrival was half the initial sync.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: Arc<[u8]>,
    /// The cluster the key is in: with the key, the member's identity (the same key may exist
    /// in two clusters of a merged view).
    pub cluster: ClusterId,
    names: Names,
    pub value: Box<[u8]>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
    /// When this console saw the key created; a listing cannot tell, and a start time in the
    /// value wins.
    seen_at: Option<DateTime<Utc>>,
    fields: OnceLock<Box<ValueFields>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Names {
    /// `key[role.0..role.1]` and `key[instance..]` of a key that is clean UTF-8 (checked when the
    /// member was built); an empty role range means the key has no role segment (shown as "-").
    InKey { role: (u32, u32), instance: u32 },
    /// The key needed escaping (not UTF-8, control characters): owned, escaped copies of the role,
    /// the instance and the whole key.
    Owned(Box<(Box<str>, Box<str>, Box<str>)>),
}

/// One allocation for both strings: a filter over 100k members parses every value.
#[derive(Debug, Clone, Default, PartialEq)]
struct ValueFields {
    /// The address followed by the version.
    text: Box<str>,
    addr_len: usize,
    started_at: Option<DateTime<Utc>>,
}

impl PartialEq for Member {
    /// Equal when the registration is; whether the value was parsed yet does not matter.
    fn eq(&self, other: &Member) -> bool {
        self.key == other.key
            && self.cluster == other.cluster
            && self.names == other.names
            && self.value == other.value
            && self.create_revision == other.create_revision
            && self.mod_revision == other.mod_revision
            && self.version == other.version
            && self.lease == other.lease
            && self.seen_at == other.seen_at
    }
}

impl Member {
    pub fn from_entry(prefix: &str, entry: KvEntry, seen_at: Option<DateTime<Utc>>) -> Member {
        let key = entry.key;
        let prefix = prefix.as_bytes();
        let offset = if key.starts_with(prefix) {
            prefix.len()
        } else {
            0
        };
        let slashes = key[offset..].iter().take_while(|&&c| c == b'/').count();
        let rel_start = offset + slashes;
        let rel = &key[rel_start..];
        let (role, instance) = match rel.iter().position(|&c| c == b'/') {
            Some(r) if r > 0 => ((rel_start, rel_start + r), rel_start + r + 1),
            _ => ((rel_start, rel_start), rel_start),
        };
        let role_bytes = &key[role.0..role.1];
        let instance_bytes = &key[instance..];
        let names = match (escape_bytes(role_bytes), escape_bytes(instance_bytes)) {
            (Cow::Borrowed(_), Cow::Borrowed(_))
                if key.len() <= u32::MAX as usize && std::str::from_utf8(&key).is_ok() =>
            {
                Names::InKey {
                    role: (role.0 as u32, role.1 as u32),
                    instance: instance as u32,
                }
            }
            (r, i) => {
                let r = if role.0 == role.1 {
                    Cow::Borrowed("-")
                } else {
                    r
                };
                Names::Owned(Box::new((
                    r.into(),
                    i.into(),
                    escape_bytes(&key).into_owned().into(),
                )))
            }
        };
        Member {
            key: Arc::from(key),
            cluster: ClusterId::default(),
            names,
            value: entry.value.into_boxed_slice(),
            create_revision: entry.create_revision,
            mod_revision: entry.mod_revision,
            version: entry.version,
            lease: entry.lease,
            seen_at,
            fields: OnceLock::new(),
        }
    }

    /// The same member in `cluster` (sources of a merged view tag what they build).
    pub fn in_cluster(mut self, cluster: ClusterId) -> Member {
        self.cluster = cluster;
        self
    }

    /// When this console saw the key created, if it did (a listing cannot tell).
    pub fn seen_at(&self) -> Option<DateTime<Utc>> {
        self.seen_at
    }

    /// Keeps `older`'s observed creation time when this is the same registration (same
    /// create_revision) and does not know one itself.
    pub fn inherit_seen_at(&mut self, older: &Member) {
        if older.create_revision == self.create_revision && self.seen_at.is_none() {
            self.seen_at = older.seen_at;
        }
    }

    /// The key as UTF-8 when it is clean UTF-8 (checked when the member was built).
    fn clean_key(&self) -> Option<&str> {
        match self.names {
            // SAFETY: `InKey` is only built for keys that passed `str::from_utf8`, and the key
            // bytes never change after that.
            Names::InKey { .. } => Some(unsafe { std::str::from_utf8_unchecked(&self.key) }),
            Names::Owned(_) => None,
        }
    }

    /// The key as it is shown, filtered and sorted: the key itself, or its escaped form.
    pub fn key_text(&self) -> &str {
        match &self.names {
            Names::InKey { .. } => self.clean_key().unwrap_or_default(),
            Names::Owned(n) => &n.2,
        }
    }

    /// The key in base64 when it is not valid UTF-8: machine-readable output (snapshot, inventory)
    /// carries it beside the escaped text, so a script can act on the exact bytes.
    pub fn key_b64(&self) -> Option<String> {
        use base64::Engine as _;
        std::str::from_utf8(&self.key)
            .is_err()
            .then(|| base64::engine::general_purpose::STANDARD.encode(&self.key))
    }

    /// Whether the key is not the text shown for it (not UTF-8, or escaped characters).
    pub fn key_is_escaped(&self) -> bool {
        matches!(self.names, Names::Owned(_))
    }

    pub fn role(&self) -> &str {
        match &self.names {
            Names::InKey { role: (a, b), .. } if a == b => "-",
            Names::InKey { role: (a, b), .. } => {
                &self.clean_key().unwrap_or_default()[*a as usize..*b as usize]
            }
            Names::Owned(n) => &n.0,
        }
    }

    pub fn instance(&self) -> &str {
        match &self.names {
            Names::InKey { instance, .. } => {
                &self.clean_key().unwrap_or_default()[*instance as usize..]
            }
            Names::Owned(n) => &n.1,
        }
    }

    fn fields(&self) -> &ValueFields {
        self.fields.get_or_init(|| {
            let p = super::member_value::parse(&self.value);
            let addr = p.addr.unwrap_or_default();
            let version = p.version.unwrap_or_default();
            Box::new(ValueFields {
                addr_len: addr.len(),
                text: (addr + &version).into(),
                started_at: p.started_at,
            })
        })
    }

    /// Address from the value (sanitised), or "".
    pub fn addr(&self) -> &str {
        let f = self.fields();
        &f.text[..f.addr_len]
    }

    /// Version from the value (sanitised), or "".
    pub fn version_label(&self) -> &str {
        let f = self.fields();
        &f.text[f.addr_len..]
    }

    /// Start time from the value, else when this console saw the key created.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.fields().started_at.or(self.seen_at)
    }
}

/// The default order of the members pane: role, then instance in natural order ("web-2" before
/// "web-10"), then key.
pub fn default_order(a: &Member, b: &Member) -> Ordering {
    by_role_and_instance(a, b)
        .then_with(|| a.key.cmp(&b.key))
        .then_with(|| a.cluster.cmp(&b.cluster))
}

pub fn by_role_and_instance(a: &Member, b: &Member) -> Ordering {
    a.role()
        .cmp(b.role())
        .then_with(|| natural_cmp(a.instance(), b.instance()))
}

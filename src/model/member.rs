//! One registered instance: its etcd key (bytes, the identity) and raw value, with the names and
//! fields the panes show, parsed on first use.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::atomic::{AtomicPtr, Ordering as AtomicOrdering};

use chrono::{DateTime, Utc};

use super::natural_cmp;
use super::text::escape_bytes;
use super::{ClusterId, KvEntry};

/// One registered instance, kept small: a million of them may live in memory at once.
///
/// The key is the raw bytes etcd holds: the member's identity for the index, deregister and lease
/// lookups. Role and instance are usually byte ranges of it; a key that is not valid UTF-8 or holds
/// control characters gets owned, escaped copies (`inv\xff`) for display, filter and sort, so two
/// distinct keys never show as one. The value's display fields (address, version, start time) are
/// parsed from the raw bytes on first use — most members are never drawn, filtered or sorted by
/// those, and parsing every value on arrival was half the initial sync.
#[derive(Clone)]
pub struct Member {
    /// The key followed by the raw value, in one allocation (two cost two allocation headers and
    /// their rounding, a million times): see [`Member::key`] and [`Member::value`].
    data: Box<[u8]>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub lease: i64,
    fields: LazyFields,
    /// What few members have (a creation time seen live, escaped names), out of line: a
    /// million members are held at once, and a listing sets neither.
    extra: Option<Box<Extra>>,
    /// `key[role.0..role.1]` is the role and the instance follows its `/` (an empty range: no
    /// role segment, shown as "-", the instance starts there), for a key that is clean UTF-8
    /// and shorter than 64 KiB (checked when the member was built). `role.0 == ESCAPED`: the
    /// names are in `extra`.
    role: (u16, u16),
    /// Where the key ends in `data`; `LONG_KEY`: in `Extra::key_len`.
    key_len: u32,
    /// etcd's count of the key's modifications; `BIG_VERSION`: in `Extra::version` (etcd's is
    /// 64 bits, and no registration is rewritten four billion times, but nothing is cut short).
    version: u32,
    /// The cluster the key is in: with the key, the member's identity (the same key may exist
    /// in two clusters of a merged view).
    pub cluster: ClusterId,
}

// A million members are held at once: a field added here costs a megabyte per 8 bytes.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Member>() == 72);

/// `Member::role.0` of a key that needed escaping (not UTF-8, control characters), or too long
/// for u16 offsets: its names are owned, escaped copies in `Extra::names`.
const ESCAPED: u16 = u16::MAX;

/// `Member::version` of a version that does not fit in 32 bits: it is in `Extra::version`.
const BIG_VERSION: u32 = u32::MAX;

/// `Member::key_len` of a key of 4 GiB or more: no source can deliver one (their gRPC messages
/// are capped far below), but its length is then kept in `Extra::key_len`.
const LONG_KEY: u32 = u32::MAX;

#[derive(Debug, Clone, Default, PartialEq)]
struct Extra {
    /// When this console saw the key created; a listing cannot tell, and a start time in the
    /// value wins.
    seen_at: Option<DateTime<Utc>>,
    /// The escaped role, instance and whole key of a key that needed escaping, so two distinct
    /// keys never show as one.
    names: Option<(Box<str>, Box<str>, Box<str>)>,
    /// The length of a key of `LONG_KEY` bytes or more.
    key_len: Option<usize>,
    /// A version of `BIG_VERSION` or more (or below 0).
    version: Option<i64>,
}

/// The value's display fields, parsed on first use: one pointer (a `OnceLock<Box<_>>` is two
/// words, and a million members are held at once).
#[derive(Default)]
struct LazyFields(AtomicPtr<ValueFields>);

impl LazyFields {
    fn get_or_init(&self, f: impl FnOnce() -> ValueFields) -> &ValueFields {
        let p = self.0.load(AtomicOrdering::Acquire);
        if !p.is_null() {
            // SAFETY: a non-null pointer is a `Box` leaked below, freed only by `drop` (which
            // has `&mut self`, so no borrow of it is alive).
            return unsafe { &*p };
        }
        let new = Box::into_raw(Box::new(f()));
        match self.0.compare_exchange(
            std::ptr::null_mut(),
            new,
            AtomicOrdering::AcqRel,
            AtomicOrdering::Acquire,
        ) {
            // SAFETY: as above; `new` is now owned by `self`.
            Ok(_) => unsafe { &*new },
            Err(won) => {
                // Another thread parsed it first: keep theirs (the same value).
                // SAFETY: `new` was never shared; `won` is a leaked `Box` as above.
                unsafe {
                    drop(Box::from_raw(new));
                    &*won
                }
            }
        }
    }
}

impl Drop for LazyFields {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if !p.is_null() {
            // SAFETY: a leaked `Box` owned by `self` alone, dropped once.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

impl Clone for LazyFields {
    fn clone(&self) -> LazyFields {
        let p = self.0.load(AtomicOrdering::Acquire);
        if p.is_null() {
            return LazyFields::default();
        }
        // SAFETY: a non-null pointer is a leaked `Box` owned by `self`, alive while `self` is.
        let copy = Box::new(unsafe { &*p }.clone());
        LazyFields(AtomicPtr::new(Box::into_raw(copy)))
    }
}

impl std::fmt::Debug for LazyFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parsed = !self.0.load(AtomicOrdering::Acquire).is_null();
        f.debug_struct("LazyFields")
            .field("parsed", &parsed)
            .finish()
    }
}

/// One allocation for both strings: a filter over 100k members parses every value.
#[derive(Debug, Clone, Default, PartialEq)]
struct ValueFields {
    /// The address followed by the version.
    text: Box<str>,
    addr_len: usize,
    started_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("key", &self.key())
            .field("value", &self.value())
            .field("cluster", &self.cluster)
            .field("create_revision", &self.create_revision)
            .field("mod_revision", &self.mod_revision)
            .field("version", &self.version())
            .field("lease", &self.lease)
            .field("extra", &self.extra)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Member {
    /// Equal when the registration is; whether the value was parsed yet does not matter.
    fn eq(&self, other: &Member) -> bool {
        self.key() == other.key()
            && self.cluster == other.cluster
            && self.role == other.role
            && self.extra == other.extra
            && self.value() == other.value()
            && self.create_revision == other.create_revision
            && self.mod_revision == other.mod_revision
            && self.version() == other.version()
            && self.lease == other.lease
    }
}

impl Member {
    pub fn from_entry(prefix: &str, entry: KvEntry, seen_at: Option<DateTime<Utc>>) -> Member {
        Member::from_entry_ref(prefix, &entry, seen_at)
    }

    /// [`Member::from_entry`] from a borrowed entry: the key and value are copied into the
    /// member's one allocation either way.
    pub fn from_entry_ref(prefix: &str, entry: &KvEntry, seen_at: Option<DateTime<Utc>>) -> Member {
        let key: &[u8] = &entry.key;
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
        let (role, names) = match (escape_bytes(role_bytes), escape_bytes(instance_bytes)) {
            (Cow::Borrowed(_), Cow::Borrowed(_))
                if key.len() < ESCAPED as usize && std::str::from_utf8(key).is_ok() =>
            {
                ((role.0 as u16, role.1 as u16), None)
            }
            (r, i) => {
                let r = if role.0 == role.1 {
                    Cow::Borrowed("-")
                } else {
                    r
                };
                (
                    (ESCAPED, ESCAPED),
                    Some((r.into(), i.into(), escape_bytes(key).into_owned().into())),
                )
            }
        };
        let long = (key.len() >= LONG_KEY as usize).then_some(key.len());
        let version = u32::try_from(entry.version)
            .ok()
            .filter(|&v| v != BIG_VERSION);
        let big_version = version.is_none().then_some(entry.version);
        let extra =
            (seen_at.is_some() || names.is_some() || long.is_some() || big_version.is_some()).then(
                || {
                    Box::new(Extra {
                        seen_at,
                        names,
                        key_len: long,
                        version: big_version,
                    })
                },
            );
        let key_len = u32::try_from(key.len()).unwrap_or(LONG_KEY);
        let mut data = Vec::with_capacity(key.len() + entry.value.len());
        data.extend_from_slice(key);
        data.extend_from_slice(&entry.value);
        Member {
            data: data.into_boxed_slice(),
            key_len,
            cluster: ClusterId::default(),
            role,
            create_revision: entry.create_revision,
            mod_revision: entry.mod_revision,
            version: version.unwrap_or(BIG_VERSION),
            lease: entry.lease,
            extra,
            fields: LazyFields::default(),
        }
    }

    /// The same member in `cluster` (sources of a merged view tag what they build).
    pub fn in_cluster(mut self, cluster: ClusterId) -> Member {
        self.cluster = cluster;
        self
    }

    /// etcd's count of the key's modifications since its creation (1: just created).
    pub fn version(&self) -> i64 {
        match self.version {
            BIG_VERSION => self
                .extra
                .as_ref()
                .and_then(|e| e.version)
                .unwrap_or(i64::from(BIG_VERSION)),
            v => i64::from(v),
        }
    }

    /// When this console saw the key created, if it did (a listing cannot tell).
    pub fn seen_at(&self) -> Option<DateTime<Utc>> {
        self.extra.as_ref().and_then(|e| e.seen_at)
    }

    /// Keeps `older`'s observed creation time when this is the same registration (same
    /// create_revision) and does not know one itself.
    pub fn inherit_seen_at(&mut self, older: &Member) {
        match (older.seen_at(), &mut self.extra) {
            (Some(_), _) if older.create_revision != self.create_revision => {}
            (Some(t), Some(e)) if e.seen_at.is_none() => e.seen_at = Some(t),
            (Some(t), None) => {
                self.extra = Some(Box::new(Extra {
                    seen_at: Some(t),
                    ..Extra::default()
                }))
            }
            _ => {}
        }
    }

    /// The raw key: the member's identity.
    pub fn key(&self) -> &[u8] {
        &self.data[..self.key_end()]
    }

    /// The raw value, as etcd holds it.
    pub fn value(&self) -> &[u8] {
        &self.data[self.key_end()..]
    }

    fn key_end(&self) -> usize {
        match self.key_len {
            LONG_KEY => self
                .extra
                .as_ref()
                .and_then(|e| e.key_len)
                .unwrap_or(LONG_KEY as usize),
            n => n as usize,
        }
    }

    /// The key as UTF-8 when it is clean UTF-8 (checked when the member was built).
    fn clean_key(&self) -> Option<&str> {
        // SAFETY: `role.0` is only other than `ESCAPED` for keys that passed `str::from_utf8`,
        // and the key bytes never change after that.
        (self.role.0 != ESCAPED).then(|| unsafe { std::str::from_utf8_unchecked(self.key()) })
    }

    /// The escaped names of a key that needed escaping.
    fn escaped(&self) -> Option<&(Box<str>, Box<str>, Box<str>)> {
        self.extra.as_ref().and_then(|e| e.names.as_ref())
    }

    /// The key as it is shown, filtered and sorted: the key itself, or its escaped form.
    pub fn key_text(&self) -> &str {
        match (self.clean_key(), self.escaped()) {
            (Some(k), _) => k,
            (None, Some(n)) => &n.2,
            (None, None) => "",
        }
    }

    /// The key in base64 when it is not valid UTF-8: machine-readable output (snapshot, inventory)
    /// carries it beside the escaped text, so a script can act on the exact bytes.
    pub fn key_b64(&self) -> Option<String> {
        use base64::Engine as _;
        std::str::from_utf8(self.key())
            .is_err()
            .then(|| base64::engine::general_purpose::STANDARD.encode(self.key()))
    }

    /// Whether the key is not the text shown for it (not UTF-8, or escaped characters).
    pub fn key_is_escaped(&self) -> bool {
        // A clean key too long for the offsets has its names out of line too, unescaped.
        self.role.0 == ESCAPED && self.escaped().is_some_and(|n| n.2.as_bytes() != self.key())
    }

    pub fn role(&self) -> &str {
        let (a, b) = self.role;
        match (self.clean_key(), self.escaped()) {
            (Some(_), _) if a == b => "-",
            (Some(k), _) => &k[a as usize..b as usize],
            (None, Some(n)) => &n.0,
            (None, None) => "",
        }
    }

    pub fn instance(&self) -> &str {
        let (a, b) = self.role;
        match (self.clean_key(), self.escaped()) {
            // After the role's `/`, or where the role would start.
            (Some(k), _) if a == b => &k[a as usize..],
            (Some(k), _) => &k[b as usize + 1..],
            (None, Some(n)) => &n.1,
            (None, None) => "",
        }
    }

    fn fields(&self) -> &ValueFields {
        self.fields.get_or_init(|| {
            let p = super::member_value::parse(self.value());
            let addr = p.addr.unwrap_or_default();
            let version = p.version.unwrap_or_default();
            ValueFields {
                addr_len: addr.len(),
                text: (addr + &version).into(),
                started_at: p.started_at,
            }
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
        self.fields().started_at.or(self.seen_at())
    }
}

/// The default order of the members pane: role, then instance in natural order ("web-2" before
/// "web-10"), then key.
pub fn default_order(a: &Member, b: &Member) -> Ordering {
    by_role_and_instance(a, b)
        .then_with(|| a.key().cmp(b.key()))
        .then_with(|| a.cluster.cmp(&b.cluster))
}

pub fn by_role_and_instance(a: &Member, b: &Member) -> Ordering {
    a.role()
        .cmp(b.role())
        .then_with(|| natural_cmp(a.instance(), b.instance()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn entry(key: &[u8], value: &[u8], create_revision: i64) -> KvEntry {
        KvEntry {
            key: key.to_vec(),
            value: value.to_vec(),
            create_revision,
            mod_revision: create_revision,
            version: 1,
            lease: 0,
        }
    }

    #[test]
    fn key_value_and_names_read_back_from_the_one_allocation() {
        let m = Member::from_entry(
            "/services/",
            entry(
                b"/services/web/web-1",
                br#"{"addr":"10.0.0.1","port":80}"#,
                3,
            ),
            None,
        );
        assert_eq!(m.key(), b"/services/web/web-1");
        assert_eq!(m.value(), br#"{"addr":"10.0.0.1","port":80}"#);
        assert_eq!((m.role(), m.instance()), ("web", "web-1"));
        assert_eq!(
            (m.key_text(), m.key_is_escaped()),
            ("/services/web/web-1", false)
        );
        assert_eq!(m.addr(), "10.0.0.1:80");

        let bare = Member::from_entry("/services/", entry(b"/services/lonely", b"", 3), None);
        assert_eq!((bare.role(), bare.instance()), ("-", "lonely"));
        assert_eq!(bare.value(), b"");

        // Not UTF-8: escaped names out of line, the raw key still the identity.
        let odd = Member::from_entry("/services/", entry(b"/services/db/x\xff", b"v", 3), None);
        assert_eq!(odd.key(), b"/services/db/x\xff");
        assert_eq!(odd.value(), b"v");
        assert!(odd.key_is_escaped());
        assert_eq!(odd.role(), "db");
        assert_ne!(odd.instance(), "x");
        assert_ne!(odd.key_text(), m.key_text());
    }

    #[test]
    fn a_creation_time_seen_live_is_kept_for_the_same_registration_only() {
        let t = Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap();
        let live = Member::from_entry("/s/", entry(b"/s/web/web-1", b"{}", 7), Some(t));
        assert_eq!((live.seen_at(), live.started_at()), (Some(t), Some(t)));

        let mut relisted = Member::from_entry("/s/", entry(b"/s/web/web-1", b"{}", 7), None);
        assert_eq!(relisted.seen_at(), None);
        relisted.inherit_seen_at(&live);
        assert_eq!(relisted.seen_at(), Some(t));
        assert_eq!(relisted, live);

        let mut registered_again =
            Member::from_entry("/s/", entry(b"/s/web/web-1", b"{}", 9), None);
        registered_again.inherit_seen_at(&live);
        assert_eq!(registered_again.seen_at(), None);
    }

    #[test]
    fn a_long_key_or_a_huge_version_is_kept_whole_out_of_line() {
        // Names past where the u16 offsets reach (a 70,000-byte prefix): out of line, the key
        // whole and still the identity.
        let prefix = format!("/{}/", "p".repeat(70_000));
        let key = format!("{prefix}web/web-1");
        let long = Member::from_entry(&prefix, entry(key.as_bytes(), b"{}", 1), None);
        assert_eq!(long.key(), key.as_bytes());
        assert_eq!(long.value(), b"{}");
        assert_eq!((long.role(), long.instance()), ("web", "web-1"));
        assert!(long.key_is_escaped(), "shown cut, so not as it is");
        // Below the offsets' reach, a clean key is shown as it is.
        let prefix = format!("/{}/", "p".repeat(3_000));
        let key = format!("{prefix}web/web-1");
        let near = Member::from_entry(&prefix, entry(key.as_bytes(), b"{}", 1), None);
        assert_eq!(
            (near.key_text(), near.key_is_escaped()),
            (key.as_str(), false)
        );

        for version in [1, i64::from(u32::MAX) - 1, i64::from(u32::MAX), i64::MAX] {
            let mut e = entry(b"/s/web/web-1", b"{}", 1);
            e.version = version;
            let m = Member::from_entry("/s/", e, None);
            assert_eq!(m.version(), version);
            assert_eq!(m.role(), "web");
        }
    }

    #[test]
    fn a_clone_is_equal_whether_or_not_its_value_was_parsed() {
        let m = Member::from_entry(
            "/s/",
            entry(b"/s/web/web-1", br#"{"addr":"h","version":"2"}"#, 1),
            None,
        );
        let unparsed = m.clone();
        assert_eq!(m.version_label(), "2");
        let parsed = m.clone();
        assert_eq!(unparsed, parsed);
        assert_eq!((parsed.addr(), unparsed.version_label()), ("h", "2"));
    }
}

//! One cluster's members by key (see `state::member_store::Stores` for every cluster's): plain
//! data, so a source can build a listing's store off the UI thread ([`super::listing`]).

use std::hash::BuildHasher;

use super::paged::Paged;
use super::{ClusterId, Member};

/// Bits of an id that name the slot in its cluster's store; the rest name the cluster (the view's
/// ids, `state::member_store::Stores`). 2^24 (16.7M) members per cluster and 256 clusters per view
/// are far past any memory budget.
pub const LOCAL_BITS: u32 = 24;
const LOCAL_MASK: u32 = (1 << LOCAL_BITS) - 1;

/// The view's id of slot `local` of cluster `c`'s store.
pub fn pack(c: usize, local: u32) -> u32 {
    debug_assert!(c < 1 << (32 - LOCAL_BITS) && local <= LOCAL_MASK);
    ((c as u32) << LOCAL_BITS) | local
}

/// The cluster and the slot of a view's id.
pub fn unpack(id: u32) -> (usize, u32) {
    ((id >> LOCAL_BITS) as usize, id & LOCAL_MASK)
}

/// One cluster's members in one table of slots, found by key through a small index of slot ids hashed by
/// their member's key: a hash-table slot holds a 4-byte id and 4 bytes of its hash instead of the
/// whole `Member` (then 112 bytes, and its key), and the sorted view holds 4-byte ids. For
/// 1,000,000 members the hash table had 2^21 slots of 128 bytes (268 MB); now 2^21 of 8 bytes
/// (plus a control byte each) and 1,000,000 slots of 80 (a `Member`, its key and value in one
/// allocation of their own).
#[derive(Clone)]
pub struct Store {
    /// In pages, so a new member past the listing never moves the million before it.
    slots: Paged<Option<Member>>,
    /// Slots freed by deletes, reused first.
    free: Vec<u32>,
    /// In [`INDEX_PARTS`] tables by the key's hash, so the index grows a part at a time: one
    /// table of 1.8M ids doubled in one insert, 272 ms on the UI thread.
    /// Each entry keeps 32 bits of its key's hash, so a part grows without reading a member:
    /// rehashing through the members' keys cost ~300 ns an entry (two cache misses each).
    ids: Vec<hashbrown::HashTable<Indexed>>,
    /// foldhash, seeded per store: keys come from etcd, and every watch event and every listed
    /// member hashes one (SipHash was most of `Store::id`'s own time in the watch's profile).
    hasher: foldhash::fast::RandomState,
}

/// Parts of the index: at a million members each holds ~16k ids, and its growth rehashes those.
const INDEX_PARTS: usize = 64;

/// An entry of the index: a slot's id and 32 bits of its member's hash.
#[derive(Clone, Copy)]
struct Indexed {
    id: u32,
    hash: u32,
}

impl Indexed {
    /// The hash hashbrown sees: the 32 bits twice, so the bucket (its low bits) and the control
    /// tag (its top seven) both come from them.
    fn wide(self) -> u64 {
        wide(self.hash)
    }
}

fn wide(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

/// The part of the index for a hash: bits 19–24, which hashbrown uses neither for the bucket of
/// a part under 2^19 buckets nor for the tag (bits 25–31), so each part's table stays evenly
/// filled.
fn part_of(hash: u32) -> usize {
    (hash >> 19) as usize % INDEX_PARTS
}

/// 32 bits of the identity's hash (foldhash's upper half).
fn hash32(hasher: &foldhash::fast::RandomState, c: ClusterId, key: &[u8]) -> u32 {
    (hasher.hash_one((c, key)) >> 32) as u32
}

impl Default for Store {
    fn default() -> Self {
        Store {
            slots: Paged::default(),
            free: Vec::new(),
            ids: (0..INDEX_PARTS)
                .map(|_| hashbrown::HashTable::new())
                .collect(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("members", &self.len())
            .field("free", &self.free.len())
            .finish()
    }
}

/// The same members in the same slots (the index follows from them; the hasher's seed is
/// not compared).
impl PartialEq for Store {
    fn eq(&self, other: &Store) -> bool {
        self.slots == other.slots && self.free == other.free
    }
}

impl Store {
    /// How many slots the table has (live or freed): ids are below it.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The member in slot `id`, to change in place; the caller must not change its key or
    /// cluster (the index is not touched).
    pub fn at_mut(&mut self, id: u32) -> &mut Member {
        self.slots[id as usize]
            .as_mut()
            .expect("the view holds only live ids")
    }

    /// In the listing's order (ids follow it); a key listed twice keeps its last member.
    pub fn from_members(members: impl IntoIterator<Item = Member>) -> Store {
        let mut store = Store {
            slots: members.into_iter().map(Some).collect(),
            ..Store::default()
        };
        let per_part = store.slots.len().div_ceil(INDEX_PARTS);
        store.ids = (0..INDEX_PARTS)
            .map(|_| hashbrown::HashTable::with_capacity(per_part + per_part / 8))
            .collect();
        for i in 0..store.slots.len() {
            if let Some(prev) = store.index(i as u32) {
                store.slots[prev as usize] = None;
                store.free.push(prev);
            }
        }
        store
    }

    fn hash(&self, c: ClusterId, key: &[u8]) -> u32 {
        hash32(&self.hasher, c, key)
    }

    /// Points the identity of the member in slot `id` at that slot; returns the slot it pointed
    /// at before, if any.
    fn index(&mut self, id: u32) -> Option<u32> {
        let Store {
            slots, ids, hasher, ..
        } = self;
        let ident_of = |id: u32| -> (ClusterId, &[u8]) {
            slots[id as usize]
                .as_ref()
                .map_or((ClusterId::default(), &[][..]), |m| (m.cluster, m.key()))
        };
        let (c, key) = ident_of(id);
        let hash = hash32(hasher, c, key);
        match ids[part_of(hash)].entry(
            wide(hash),
            |other| other.hash == hash && ident_of(other.id) == (c, key),
            |other| other.wide(),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut e) => {
                Some(std::mem::replace(&mut e.get_mut().id, id))
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(Indexed { id, hash });
                None
            }
        }
    }

    pub fn id(&self, c: ClusterId, key: &[u8]) -> Option<u32> {
        let hash = self.hash(c, key);
        self.ids
            .get(part_of(hash))?
            .find(wide(hash), |e| {
                e.hash == hash
                    && self.slots[e.id as usize]
                        .as_ref()
                        .is_some_and(|m| m.cluster == c && m.key() == key)
            })
            .map(|e| e.id)
    }

    pub fn len(&self) -> usize {
        self.ids.iter().map(hashbrown::HashTable::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.iter().all(hashbrown::HashTable::is_empty)
    }

    pub fn get(&self, c: ClusterId, key: &[u8]) -> Option<&Member> {
        self.id(c, key).map(|id| self.at(id))
    }

    /// The member in slot `id` (ids in the view are always live).
    pub fn at(&self, id: u32) -> &Member {
        self.slots[id as usize]
            .as_ref()
            .expect("the view holds only live ids")
    }

    /// Puts `m` in its key's slot (a new one for a new key); returns the slot's id.
    pub fn put(&mut self, m: Member) -> u32 {
        if let Some(id) = self.id(m.cluster, m.key()) {
            self.slots[id as usize] = Some(m);
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(m);
                id
            }
            None => {
                self.slots.push(Some(m));
                (self.slots.len() - 1) as u32
            }
        };
        self.index(id);
        id
    }

    /// Puts `m` in slot `id`, which must hold the member of the same cluster and key (the index
    /// is not touched).
    pub fn replace_at(&mut self, id: u32, m: Member) {
        let slot = &mut self.slots[id as usize];
        debug_assert!(slot
            .as_ref()
            .is_some_and(|old| old.cluster == m.cluster && old.key() == m.key()));
        *slot = Some(m);
    }

    pub fn remove(&mut self, c: ClusterId, key: &[u8]) -> Option<Member> {
        let hash = self.hash(c, key);
        let slots = &self.slots;
        let entry = self.ids[part_of(hash)]
            .find_entry(wide(hash), |e| {
                e.hash == hash
                    && slots[e.id as usize]
                        .as_ref()
                        .is_some_and(|m| m.cluster == c && m.key() == key)
            })
            .ok()?;
        let (Indexed { id, .. }, _) = entry.remove();
        self.free.push(id);
        self.slots[id as usize].take()
    }

    /// The members, in slot order (the store taken apart).
    pub fn into_members(self) -> Vec<Member> {
        self.slots.into_iter().flatten().collect()
    }

    /// Every member with its id, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&Member, u32)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|m| (m, i as u32)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KvEntry;

    fn member(c: u16, i: usize) -> Member {
        let mut m = Member::from_entry(
            "/s/",
            KvEntry {
                key: format!("/s/web/web-{i}").into_bytes(),
                value: b"{}".to_vec(),
                create_revision: 1,
                mod_revision: 1,
                version: 1,
                lease: 0,
            },
            None,
        );
        m.cluster = ClusterId(c);
        m
    }

    /// Past the listing, across pages of slots and every part of the index: each key is found
    /// in its cluster's slot, a freed slot is reused, and a key listed twice keeps its last.
    #[test]
    fn a_store_finds_every_member_as_it_grows_past_its_listing() {
        let n = 70_000;
        let mut listed: Vec<Member> = (0..n).map(|i| member(0, i)).collect();
        listed.push(member(0, 5));
        let mut store = Store::from_members(listed);
        assert_eq!(store.len(), n);
        assert_eq!(store.id(ClusterId(0), b"/s/web/web-5"), Some(n as u32));
        assert!(store.ids.iter().all(|part| !part.is_empty()));
        for i in n..n + 2_000 {
            let id = store.put(member(0, i));
            assert_eq!(store.at(id).key(), format!("/s/web/web-{i}").as_bytes());
        }
        let other = store.put(member(1, 7));
        assert_ne!(Some(other), store.id(ClusterId(0), b"/s/web/web-7"));
        assert!(store.remove(ClusterId(0), b"/s/web/web-9").is_some());
        let before = store.slot_count();
        let again = store.put(member(0, 9));
        assert_eq!(store.slot_count(), before, "the freed slot is reused");
        assert_eq!(store.id(ClusterId(0), b"/s/web/web-9"), Some(again));
        assert_eq!(store.len(), n + 2_001);
        for i in (0..n + 2_000).step_by(997) {
            let key = format!("/s/web/web-{i}");
            let id = store
                .id(ClusterId(0), key.as_bytes())
                .expect("listed or put");
            assert_eq!(store.at(id).key(), key.as_bytes());
        }
        assert_eq!(store.iter().count(), store.len());
    }
}

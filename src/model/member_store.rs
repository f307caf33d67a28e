//! One cluster's members by key (see `state::member_store::Stores` for every cluster's): plain
//! data, so a source can build a listing's store off the UI thread ([`super::listing`]).

use std::hash::BuildHasher;

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
/// their member's key: a hash-table slot holds a 4-byte id instead of the whole `Member` (then
/// 112 bytes, and its key), and the sorted view holds 4-byte ids. For 1,000,000 members the hash
/// table had 2^21 slots of 128 bytes (268 MB); now 2^21 of 4 bytes (plus a control byte each)
/// and 1,000,000 slots of 80 (a `Member`, its key and value in one allocation of their own).
#[derive(Default, Clone)]
pub struct Store {
    slots: Vec<Option<Member>>,
    /// Slots freed by deletes, reused first.
    free: Vec<u32>,
    ids: hashbrown::HashTable<u32>,
    /// foldhash, seeded per store: keys come from etcd, and every watch event and every listed
    /// member hashes one (SipHash was most of `Store::id`'s own time in the watch's profile).
    hasher: foldhash::fast::RandomState,
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
    pub fn from_members(members: Vec<Member>) -> Store {
        let mut store = Store {
            slots: members.into_iter().map(Some).collect(),
            ..Store::default()
        };
        store.ids.reserve(store.slots.len(), |_| 0);
        for i in 0..store.slots.len() {
            if let Some(prev) = store.index(i as u32) {
                store.slots[prev as usize] = None;
                store.free.push(prev);
            }
        }
        store
    }

    fn hash(&self, c: ClusterId, key: &[u8]) -> u64 {
        self.hasher.hash_one((c, key))
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
        match ids.entry(
            hasher.hash_one((c, key)),
            |&other| ident_of(other) == (c, key),
            |&other| hasher.hash_one(ident_of(other)),
        ) {
            hashbrown::hash_table::Entry::Occupied(mut e) => {
                Some(std::mem::replace(e.get_mut(), id))
            }
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert(id);
                None
            }
        }
    }

    pub fn id(&self, c: ClusterId, key: &[u8]) -> Option<u32> {
        self.ids
            .find(self.hash(c, key), |&id| {
                self.slots[id as usize]
                    .as_ref()
                    .is_some_and(|m| m.cluster == c && m.key() == key)
            })
            .copied()
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
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
        let h = self.hash(c, key);
        let slots = &self.slots;
        let entry = self
            .ids
            .find_entry(h, |&id| {
                slots[id as usize]
                    .as_ref()
                    .is_some_and(|m| m.cluster == c && m.key() == key)
            })
            .ok()?;
        let (id, _) = entry.remove();
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

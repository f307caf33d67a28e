//! The members by key: each cluster's in a [`Store`] of its own, behind [`Stores`], which names
//! a member by one `u32` id (its cluster and its slot) so the sorted view stays 4 bytes a row.

use std::hash::BuildHasher;

use crate::model::{ClusterId, Member};

/// Bits of an id that name the slot in its cluster's store; the rest name the cluster. 2^24
/// (16.7M) members per cluster and 256 clusters per view are far past any memory budget.
const LOCAL_BITS: u32 = 24;
const LOCAL_MASK: u32 = (1 << LOCAL_BITS) - 1;
/// Most clusters a merged view may hold (ids have 8 bits for them); the config refuses more.
pub const MAX_CLUSTERS: usize = 1 << (32 - LOCAL_BITS);
const _: () = assert!(MAX_CLUSTERS == crate::config::MAX_MERGED_CLUSTERS);

fn pack(c: usize, local: u32) -> u32 {
    debug_assert!(c < MAX_CLUSTERS && local <= LOCAL_MASK);
    ((c as u32) << LOCAL_BITS) | local
}

fn unpack(id: u32) -> (usize, u32) {
    ((id >> LOCAL_BITS) as usize, id & LOCAL_MASK)
}

/// Every cluster's members. A cluster's listing builds its store as a single cluster's always
/// was built (the listing's own allocation, an index sized once) and drops the old one; one
/// store shared by ten clusters grew at each cluster's listing, copying every slot and
/// rehashing every key held (over half of a merged initial sync).
#[derive(Debug, Default)]
pub struct Stores {
    by_cluster: Vec<Store>,
    len: usize,
}

impl Stores {
    /// Cluster `c`'s members replaced by `store`'s; the old ones are returned.
    pub fn replace(&mut self, c: ClusterId, store: Store) -> Store {
        let i = c.0 as usize;
        if self.by_cluster.len() <= i {
            self.by_cluster.resize_with(i + 1, Store::default);
        }
        self.len += store.len();
        let old = std::mem::replace(&mut self.by_cluster[i], store);
        self.len -= old.len();
        old
    }

    /// Cluster `c`'s store, if it has one.
    pub fn of(&self, c: ClusterId) -> Option<&Store> {
        self.by_cluster.get(c.0 as usize)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, c: ClusterId, key: &[u8]) -> Option<&Member> {
        self.of(c)?.get(c, key)
    }

    pub fn id(&self, c: ClusterId, key: &[u8]) -> Option<u32> {
        self.of(c)?.id(c, key).map(|l| pack(c.0 as usize, l))
    }

    /// The member with id `id` (ids in the view are always live).
    pub fn at(&self, id: u32) -> &Member {
        let (c, l) = unpack(id);
        self.by_cluster[c].at(l)
    }

    /// Puts `m` in its key's slot of its cluster's store; returns its id.
    pub fn put(&mut self, m: Member) -> u32 {
        let c = m.cluster.0 as usize;
        assert!(
            c < MAX_CLUSTERS,
            "a view holds at most {MAX_CLUSTERS} clusters"
        );
        if self.by_cluster.len() <= c {
            self.by_cluster.resize_with(c + 1, Store::default);
        }
        let store = &mut self.by_cluster[c];
        let before = store.len();
        let l = store.put(m);
        self.len += store.len() - before;
        pack(c, l)
    }

    /// Puts `m` in slot `id`, which must hold the member of the same cluster and key (the
    /// index is not touched: the lookup that found `id` is not repeated).
    pub fn replace_at(&mut self, id: u32, m: Member) {
        let (c, l) = unpack(id);
        debug_assert_eq!(c, m.cluster.0 as usize);
        self.by_cluster[c].replace_at(l, m);
    }

    pub fn remove(&mut self, c: ClusterId, key: &[u8]) -> Option<Member> {
        let m = self.by_cluster.get_mut(c.0 as usize)?.remove(c, key)?;
        self.len -= 1;
        Some(m)
    }

    /// Every member with its id, cluster by cluster, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&Member, u32)> {
        self.by_cluster
            .iter()
            .enumerate()
            .flat_map(|(c, s)| s.iter().map(move |(m, l)| (m, pack(c, l))))
    }

    /// Cluster `c`'s members with their ids, in slot order.
    pub fn iter_in(&self, c: ClusterId) -> impl Iterator<Item = (&Member, u32)> {
        let i = c.0 as usize;
        self.by_cluster
            .get(i)
            .into_iter()
            .flat_map(move |s| s.iter().map(move |(m, l)| (m, pack(i, l))))
    }

    /// A flag per slot of every store, all false (see [`Stores::flag`]).
    pub fn flags(&self) -> Vec<Vec<bool>> {
        self.by_cluster
            .iter()
            .map(|s| vec![false; s.slots.len()])
            .collect()
    }

    /// The flag of id `id` in `flags` (from [`Stores::flags`]).
    pub fn flag(flags: &mut [Vec<bool>], id: u32) -> &mut bool {
        let (c, l) = unpack(id);
        &mut flags[c][l as usize]
    }
}

/// One cluster's members in one table of slots, found by key through a small index of slot ids hashed by
/// their member's key: a hash-table slot holds a 4-byte id instead of the whole `Member` (then
/// 112 bytes, and its key), and the sorted view holds 4-byte ids. For 1,000,000 members the hash
/// table had 2^21 slots of 128 bytes (268 MB); now 2^21 of 4 bytes (plus a control byte each)
/// and 1,000,000 slots of 80 (a `Member`, its key and value in one allocation of their own).
#[derive(Default)]
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

impl Store {
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

    /// See [`Stores::replace_at`].
    fn replace_at(&mut self, id: u32, m: Member) {
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

    /// Every member with its id, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (&Member, u32)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|m| (m, i as u32)))
    }
}

//! The members by key: each cluster's in a [`Store`] of its own, behind [`Stores`], which names
//! a member by one `u32` id (its cluster and its slot) so the sorted view stays 4 bytes a row.

pub use crate::model::member_store::Store;
use crate::model::{ClusterId, Member};

use crate::model::member_store::{pack, unpack, LOCAL_BITS};

/// Most clusters a merged view may hold (ids have 8 bits for them); the config refuses more.
pub const MAX_CLUSTERS: usize = 1 << (32 - LOCAL_BITS);
const _: () = assert!(MAX_CLUSTERS == crate::config::MAX_MERGED_CLUSTERS);

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
            .map(|s| vec![false; s.slot_count()])
            .collect()
    }

    /// The flag of id `id` in `flags` (from [`Stores::flags`]).
    pub fn flag(flags: &mut [Vec<bool>], id: u32) -> &mut bool {
        let (c, l) = unpack(id);
        &mut flags[c][l as usize]
    }
}

//! A hash map in parts, for maps that may hold an entry per member: it grows a part at a time,
//! so no single insert rehashes a million keys on the UI thread.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// foldhash, seeded per process: the keys come from etcd.
type Fold = foldhash::fast::RandomState;

/// Parts of a [`Parted`] map.
const PARTS: usize = 128;

/// A hash map in [`PARTS`] parts by the key's hash, so it grows a part at a time. One map of
/// every member that came back doubled (rehashing every key, touching a table twice the size)
/// at 131k, 262k and 524k entries: 38, 87 and ~180 ms of one frame's ingest at 50k events/s
/// (the slowest iterations of `budgets`' `key_to_frame`). A part's growth is 1/128 of that.
/// Any map that may hold an entry per member wants this: the flapping members' counts in one
/// map doubled at 2^18 and 2^19 entries, 26 and 52 ms in one drain (BENCHMARKS.md).
#[derive(Debug)]
pub struct Parted<K, V> {
    parts: Vec<HashMap<K, V, Fold>>,
}

impl<K, V> Default for Parted<K, V> {
    fn default() -> Self {
        Parted {
            parts: (0..PARTS).map(|_| HashMap::default()).collect(),
        }
    }
}

impl<K: Hash + Eq, V> Parted<K, V> {
    fn part<Q: Hash + ?Sized>(q: &Q) -> usize {
        // A fixed hasher of its own: the parts' maps hash with theirs (seeded per process).
        let h = foldhash::fast::FixedState::with_seed(0x5eed).hash_one(q);
        (h >> 57) as usize % PARTS
    }

    pub fn get<Q: Hash + Eq + ?Sized>(&self, q: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.parts[Self::part(q)].get(q)
    }

    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, q: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.parts[Self::part(q)].get_mut(q)
    }

    pub fn entry(&mut self, k: K) -> std::collections::hash_map::Entry<'_, K, V> {
        self.parts[Self::part(&k)].entry(k)
    }

    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        self.parts[Self::part(&k)].insert(k, v)
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, q: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.parts[Self::part(q)].remove(q)
    }

    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        for part in &mut self.parts {
            part.retain(&mut f);
        }
    }

    pub fn len(&self) -> usize {
        self.parts.iter().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.parts.iter().all(HashMap::is_empty)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_parted_map_answers_as_one_map() {
        let mut p: Parted<Arc<[u8]>, usize> = Parted::default();
        let mut model: HashMap<Arc<[u8]>, usize> = HashMap::new();
        for i in 0..5_000usize {
            let k: Arc<[u8]> = format!("/services/web/web-{}", i % 3_000).as_bytes().into();
            assert_eq!(p.insert(k.clone(), i), model.insert(k, i));
        }
        *p.entry(b"/services/web/web-7"[..].into()).or_default() += 1;
        *model.entry(b"/services/web/web-7"[..].into()).or_default() += 1;
        assert_eq!(
            p.remove(&b"/services/web/web-9"[..]),
            model.remove(&b"/services/web/web-9"[..])
        );
        p.retain(|_, v| *v % 2 == 0);
        model.retain(|_, v| *v % 2 == 0);
        assert_eq!(p.len(), model.len());
        for (k, v) in &model {
            assert_eq!(p.get(&k[..]), Some(v));
        }
        assert_eq!(p.get(&b"/services/web/web-9"[..]), None);
        assert!(p.parts.iter().filter(|m| !m.is_empty()).count() > PARTS / 2);
        p.retain(|_, _| false);
        assert!(p.is_empty());
    }
}

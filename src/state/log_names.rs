//! Host and program names of log lines. A fleet logs from a few hundred hosts and a few dozen
//! programs, so what depends only on a name — its one shared copy, its hashes, whether the
//! filter matches it — is worked out once per distinct name, not once per line.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::state::members::Filter;

type Fold = foldhash::fast::RandomState;

/// Distinct names remembered for sharing; past this the table starts afresh (lines keep theirs),
/// so a stream of ever-new names costs O(1) per line and bounded memory.
const MAX_NAMES: usize = 8192;

/// Slots of the recent-names caches (a power of two), in sets of two: a name is found in either
/// slot of its set. Direct-mapped, 256 slots by address bits, the bench's 62 names left a fifth of
/// the lookups missing (two names on one slot evicting each other line after line).
const RECENT: usize = 1024;

/// One name as the ring keeps it.
#[derive(Debug, Clone)]
pub struct Name {
    pub shared: Arc<str>,
    /// FNV-1a of the whole name.
    pub fnv: u64,
    /// FNV-1a of its host part (before the last `:`), what an entity scope compares.
    pub host_key: u64,
}

/// A name as a parser handed it over, and what it became.
#[derive(Debug)]
struct Recent {
    /// Held so its address is not reused by another name while it keys this slot.
    given: Arc<str>,
    name: Name,
}

#[derive(Debug, Default)]
pub struct Names {
    table: HashSet<Arc<str>, Fold>,
    /// By the address of the `Arc` a parser handed over: the parsers share one copy per name
    /// themselves, so nearly every line finds its names here without hashing their text.
    recent: Vec<Option<Recent>>,
    /// Whether the filter's regex matches a name (not inverted), by the shared copy's address;
    /// the copy is held so the address stays that name's.
    hits: HashMap<usize, (Arc<str>, bool), Fold>,
    /// The last answers of `hits`, by address like `recent`: a line asks for two names, and a
    /// slot compared by pointer is cheaper than a hash map's probe.
    recent_hits: Vec<Option<(Arc<str>, bool)>>,
    /// The filter `hits` answers for: another one empties it.
    hits_for: String,
}

/// The first slot of the set of `recent` or `recent_hits` for a name at `name`'s address
/// (Fibonacci hashing: an allocator's addresses differ in their middle bits).
fn set_of(name: &Arc<str>) -> usize {
    let address = Arc::as_ptr(name) as *const u8 as usize as u64;
    let hash = address.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - RECENT.trailing_zeros());
    (hash as usize) & (RECENT - 2)
}

/// The slot of the set starting at `set` whose entry `is` picks, moved to the set's first slot
/// (the second is the one to go next).
fn find_in_set<T>(slots: &mut [Option<T>], set: usize, is: impl Fn(&T) -> bool) -> Option<usize> {
    if slots[set].as_ref().is_some_and(&is) {
        return Some(set);
    }
    if slots[set + 1].as_ref().is_some_and(&is) {
        slots.swap(set, set + 1);
        return Some(set);
    }
    None
}

/// `entry` into the first slot of the set starting at `set`, the one there moved to the second.
fn put_in_set<T>(slots: &mut [Option<T>], set: usize, entry: T) {
    slots[set + 1] = slots[set].take();
    slots[set] = Some(entry);
}

impl Names {
    /// The shared copy of `given` with its hashes. Borrowed: a line whose `Arc` already is the
    /// shared copy (nearly every one) keeps it without another reference count taken and dropped.
    pub fn intern(&mut self, given: &Arc<str>) -> &Name {
        if self.recent.is_empty() {
            self.recent.resize_with(RECENT, || None);
        }
        let set = set_of(given);
        if find_in_set(&mut self.recent, set, |r| Arc::ptr_eq(&r.given, given)).is_none() {
            let shared = match self.table.get(&**given) {
                Some(s) => s.clone(),
                None => {
                    if self.table.len() >= MAX_NAMES {
                        self.table.clear();
                    }
                    self.table.insert(given.clone());
                    given.clone()
                }
            };
            let name = Name {
                fnv: fnv(&shared),
                host_key: host_key(&shared),
                shared,
            };
            let recent = Recent {
                given: given.clone(),
                name,
            };
            put_in_set(&mut self.recent, set, recent);
        }
        match &self.recent[set] {
            Some(r) => &r.name,
            None => unreachable!("the slot was just filled"),
        }
    }

    /// Whether `filter`'s regex finds a match in `name` (its inversion is the caller's).
    pub fn hits(&mut self, filter: &Filter, name: &Arc<str>) -> bool {
        self.answering(filter);
        self.hit(filter, name)
    }

    /// Whether the filter's regex matches either name, or else `text` (not inverted): the filter
    /// checked once for both names.
    pub fn hits_any(&mut self, filter: &Filter, a: &Arc<str>, b: &Arc<str>, text: &str) -> bool {
        self.answering(filter);
        self.hit(filter, a) || self.hit(filter, b) || filter.is_match(text)
    }

    /// Forgets the answers when they were for another filter.
    fn answering(&mut self, filter: &Filter) {
        if self.hits_for != filter.text {
            self.hits.clear();
            self.recent_hits.clear();
            self.hits_for.clone_from(&filter.text);
        }
    }

    /// [`Names::hits`] for the filter `hits_for` names.
    fn hit(&mut self, filter: &Filter, name: &Arc<str>) -> bool {
        if self.recent_hits.is_empty() {
            self.recent_hits.resize_with(RECENT, || None);
        }
        let set = set_of(name);
        if let Some(i) = find_in_set(&mut self.recent_hits, set, |(held, _)| {
            Arc::ptr_eq(held, name)
        }) {
            if let Some((_, hit)) = &self.recent_hits[i] {
                return *hit;
            }
        }
        let address = Arc::as_ptr(name) as *const u8 as usize;
        let hit = match self.hits.get(&address) {
            Some((held, hit)) if Arc::ptr_eq(held, name) => *hit,
            _ => {
                let hit = filter.is_match(name);
                if self.hits.len() >= MAX_NAMES {
                    self.hits.clear();
                }
                self.hits.insert(address, (name.clone(), hit));
                hit
            }
        };
        put_in_set(&mut self.recent_hits, set, (name.clone(), hit));
        hit
    }
}

/// FNV-1a: short strings, no allocation.
pub fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A hash of an entity's host part (before the last `:`), the part `EntityScope::matches`
/// compares: a line can match the scope only if its key is one of the scope's keys.
pub fn host_key(entity: &str) -> u64 {
    fnv(entity.rsplit_once(':').map(|(h, _)| h).unwrap_or(entity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_share_one_copy_whoever_allocated_them() {
        let mut names = Names::default();
        let a: Arc<str> = Arc::from("web-1:8080");
        let b: Arc<str> = Arc::from("web-1:8080");
        let (x, y) = (names.intern(&a).clone(), names.intern(&b).clone());
        assert!(Arc::ptr_eq(&x.shared, &y.shared));
        assert_eq!(x.fnv, fnv("web-1:8080"));
        assert_eq!(x.host_key, fnv("web-1"));
        // Again through the recent cache: the same answer.
        let z = names.intern(&b);
        assert!(Arc::ptr_eq(&z.shared, &x.shared));
        assert_eq!((z.fnv, z.host_key), (x.fnv, x.host_key));
    }

    #[test]
    fn a_name_never_takes_the_answer_of_another_at_a_reused_address() {
        let mut names = Names::default();
        for i in 0..50_000 {
            // Each name dropped right after: the allocator reuses addresses, the cache must not.
            let n: Arc<str> = Arc::from(format!("host-{i}").as_str());
            let got = names.intern(&n);
            assert_eq!(&*got.shared, &*n);
            assert_eq!(got.fnv, fnv(&n));
        }
    }

    #[test]
    fn a_name_never_takes_the_filter_answer_of_another_at_a_reused_address() {
        let mut names = Names::default();
        let f = Filter::parse("7$").expect("regex").expect("filter");
        let other: Arc<str> = Arc::from("db-1");
        for i in 0..50_000 {
            // Dropped right after, as above: an address comes back with another name.
            let n: Arc<str> = Arc::from(format!("host-{i}").as_str());
            assert_eq!(names.hits(&f, &n), i % 10 == 7, "{n}");
            assert_eq!(
                names.hits_any(&f, &n, &other, "message"),
                i % 10 == 7,
                "{n}"
            );
            assert!(names.hits_any(&f, &other, &n, "message 7"), "{n}");
        }
    }

    /// A few hundred names, as a fleet has, asked for over and over: after the first round each
    /// is found in the recent slots (or the table behind them) with the same answer.
    #[test]
    fn many_names_keep_their_copies_and_answers() {
        let mut names = Names::default();
        let f = Filter::parse("-1").expect("regex").expect("filter");
        let given: Vec<Arc<str>> = (0..300)
            .map(|i| Arc::from(format!("web-{i}").as_str()))
            .collect();
        let first: Vec<Name> = given.iter().map(|g| names.intern(g).clone()).collect();
        for _ in 0..3 {
            for (g, want) in given.iter().zip(&first) {
                let got = names.intern(g);
                assert!(Arc::ptr_eq(&got.shared, &want.shared), "{g}");
                assert_eq!((got.fnv, got.host_key), (want.fnv, want.host_key), "{g}");
                assert_eq!(names.hits(&f, g), g.contains("-1"), "{g}");
            }
        }
    }

    #[test]
    fn filter_hits_are_remembered_for_their_filter_only() {
        let mut names = Names::default();
        let web = names.intern(&Arc::from("web-1")).shared.clone();
        let db = names.intern(&Arc::from("db-1")).shared.clone();
        let f = Filter::parse("web").expect("regex").expect("filter");
        assert!(names.hits(&f, &web));
        assert!(!names.hits(&f, &db));
        assert!(names.hits(&f, &web), "remembered");
        let g = Filter::parse("db").expect("regex").expect("filter");
        assert!(!names.hits(&g, &web));
        assert!(names.hits(&g, &db));
        // An inverted filter's regex still matches the name; inverting is the caller's.
        let inv = Filter::parse("!web").expect("regex").expect("filter");
        assert!(names.hits(&inv, &web));
    }
}

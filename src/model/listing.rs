//! A full listing of the members, as it travels from the etcd source to the state
//! ([`super::Msg::MembersListed`]): either the members as given, or *prepared* — merged into the
//! default order, indexed, their roles counted and their groups labelled — by the source, off
//! the UI thread. The state then only swaps a prepared listing in when its view is in the
//! default order (no filter, sorted by role): at 1,000,000 members the preparation is ~0.2 s of
//! work the UI thread no longer does (BENCHMARKS.md, issue 18's tenth round).
//!
//! Everything here is a pure function of the members: nothing depends on what the state holds.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::member_store::{pack, unpack, Store};
use super::sort_prefix::{group_key, prefix, Groups, Row};
use super::{default_order, ClusterId, Member};

/// The members of one listing (see the module doc).
#[derive(Debug, Clone, PartialEq)]
pub struct Listing(Body);

#[derive(Debug, Clone, PartialEq)]
enum Body {
    /// As given, in any order: the state sorts and indexes them itself.
    Plain(Vec<Member>),
    Prepared(Box<Prepared>),
}

/// A listing ready for the state: what does not depend on its filter, sort or other clusters.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The cluster every member is in (the store's index hashes it with the key).
    pub cluster: ClusterId,
    /// The members by key; their slots in the default order ([`default_order`]) when a source
    /// prepared them (in the order given for a plain listing).
    pub store: Store,
    /// A row per member, in the default order, each with its sort prefix from `groups` and its
    /// id in the view (its slot and `cluster`, [`pack`]ed): the view's run for this cluster when
    /// the view is in the default order with no filter.
    pub rows: Vec<Row>,
    /// The groups of `rows` (every member's), labelled in their order.
    pub groups: Groups,
    /// Members per role.
    pub role_counts: BTreeMap<String, usize>,
}

impl From<Vec<Member>> for Listing {
    fn from(members: Vec<Member>) -> Listing {
        Listing(Body::Plain(members))
    }
}

impl Listing {
    /// The listing of `parts`, each already in the default order (the etcd source sorts each key
    /// range as it arrives), prepared for cluster `cluster`: merged (a k-way merge, not a sort),
    /// indexed, counted. A key listed twice keeps its last member, as [`Store::from_members`].
    pub fn prepare(cluster: ClusterId, parts: Vec<Vec<Member>>) -> Listing {
        // Merged straight into the store: a merged vector beside the parts and then beside the
        // store held a million members twice over (the peak of a 1M start).
        let members = MergeSorted::new(parts, default_order);
        Listing(Body::Prepared(Box::new(Prepared::from_sorted(
            cluster, members,
        ))))
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Body::Plain(v) => v.len(),
            Body::Prepared(p) => p.store.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the listing was prepared (by its source) rather than given as it came.
    pub fn is_prepared(&self) -> bool {
        matches!(self.0, Body::Prepared(_))
    }

    /// The first member in the default order (for a prepared listing; the first given for a
    /// plain one).
    pub fn first(&self) -> Option<&Member> {
        match &self.0 {
            Body::Plain(v) => v.first(),
            Body::Prepared(p) => p.rows.first().map(|r| p.member(r)),
        }
    }

    /// Every member, in no particular order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = &Member> + '_> {
        match &self.0 {
            Body::Plain(v) => Box::new(v.iter()),
            Body::Prepared(p) => Box::new(p.store.iter().map(|(m, _)| m)),
        }
    }

    /// The listing prepared for cluster `c`: as it is when its source prepared it for `c`;
    /// otherwise prepared here (a plain listing: sorted, indexed, counted — the work the state
    /// did for every listing before sources prepared them).
    pub fn into_prepared(self, c: ClusterId) -> Prepared {
        match self.0 {
            Body::Prepared(p) if p.cluster == c => *p,
            Body::Prepared(p) => {
                // Its slots are in the default order already; the cluster decides only ties, and
                // every member is in the one cluster.
                let Prepared { store, rows, .. } = *p;
                drop(rows);
                Prepared::from_sorted(c, store.into_members())
            }
            Body::Plain(v) => Prepared::from_unsorted(c, v),
        }
    }
}

impl Prepared {
    /// The member of row `row`.
    pub fn member(&self, row: &Row) -> &Member {
        self.store.at(unpack(row.id).1)
    }

    /// `members`, in any order, prepared for cluster `c`: indexed in their order, their rows
    /// sorted by prefix first (the full comparison only where prefixes tie), as the state sorted
    /// a listing's rows before sources prepared them. A key listed twice keeps its last member.
    fn from_unsorted(c: ClusterId, members: Vec<Member>) -> Prepared {
        let store = store_of(c, members);
        let mut rows = Vec::with_capacity(store.len());
        let mut groups = Groups::default();
        let mut role_counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut relabelled = false;
        for (m, id) in store.iter() {
            match role_counts.get_mut(m.role()) {
                Some(n) => *n += 1,
                None => {
                    role_counts.insert(m.role().to_string(), 1);
                }
            }
            let (p, r) = groups.add(m);
            relabelled |= r;
            rows.push(Row::new(p, pack(usize::from(c.0), id)));
        }
        if relabelled {
            reprefix(&mut rows, &groups, &store);
        }
        let member = |r: &Row| store.at(unpack(r.id).1);
        rows.sort_by(|a, b| {
            a.prefix()
                .cmp(&b.prefix())
                .then_with(|| default_order(member(a), member(b)))
        });
        Prepared {
            cluster: c,
            store,
            rows,
            groups,
            role_counts,
        }
    }

    /// `members`, in the default order, prepared for cluster `c`.
    fn from_sorted(c: ClusterId, members: impl IntoIterator<Item = Member>) -> Prepared {
        let store = store_of(c, members);
        let mut rows = Vec::with_capacity(store.len());
        let mut groups = Groups::default();
        let mut role_counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut relabelled = false;
        // Members of a role, and of a group, are consecutive in the default order: each is
        // counted once per run of them, not looked up per member.
        let mut role: Option<(&str, usize)> = None;
        // The current group's key, its label and its rows not yet counted in.
        let mut group: Option<(super::sort_prefix::KeyBuf, u32, usize)> = None;
        for (m, id) in store.iter() {
            match &mut role {
                Some((r, n)) if *r == m.role() => *n += 1,
                _ => {
                    if let Some((r, n)) = role.replace((m.role(), 1)) {
                        *role_counts.entry(r.to_string()).or_default() += n;
                    }
                }
            }
            let (key, number) = group_key(m.role(), m.instance());
            let label = match &mut group {
                Some((k, label, n)) if k.as_slice() == key.as_slice() => {
                    *n += 1;
                    *label
                }
                _ => {
                    if let Some((k, _, n)) = group.take() {
                        if n > 0 {
                            relabelled |= groups.add_rows(k.as_slice(), n).1;
                        }
                    }
                    let (label, r) = groups.add_rows(key.as_slice(), 1);
                    relabelled |= r;
                    group = Some((key, label, 0));
                    label
                }
            };
            rows.push(Row::new(prefix(label, number), pack(usize::from(c.0), id)));
        }
        if let Some((r, n)) = role {
            *role_counts.entry(r.to_string()).or_default() += n;
        }
        if let Some((k, _, n)) = group {
            if n > 0 {
                relabelled |= groups.add_rows(k.as_slice(), n).1;
            }
        }
        if relabelled {
            reprefix(&mut rows, &groups, &store);
        }
        Prepared {
            cluster: c,
            store,
            rows,
            groups,
            role_counts,
        }
    }
}

/// `parts`, each sorted by `cmp`, merged into one sorted vector: what a stable sort of their
/// concatenation gives (of equal elements, those of an earlier part first), in
/// O(n log k) comparisons — ~2 per element when the parts barely interleave, as key ranges do.
pub fn merge_sorted<T>(parts: Vec<Vec<T>>, cmp: impl Fn(&T, &T) -> Ordering) -> Vec<T> {
    let mut parts: Vec<Vec<T>> = parts.into_iter().filter(|p| !p.is_empty()).collect();
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    MergeSorted::new(parts, cmp).collect()
}

/// [`merge_sorted`] as an iterator. Each part's buffer is freed once it has been taken whole:
/// key ranges are taken nearly one after another, so a million members moved from their parts
/// into a store are held about once on the way rather than twice (~70 MB less at the peak).
pub struct MergeSorted<T, F> {
    rest: Vec<std::vec::IntoIter<T>>,
    /// Each part's first element not yet taken; a part is in the heap while it has one.
    heads: Vec<Option<T>>,
    /// A binary min-heap of part indices by their heads; ties go to the earlier part (stable).
    heap: Vec<usize>,
    cmp: F,
    left: usize,
}

impl<T, F: Fn(&T, &T) -> Ordering> MergeSorted<T, F> {
    pub fn new(parts: Vec<Vec<T>>, cmp: F) -> Self {
        let left = parts.iter().map(Vec::len).sum();
        let mut rest: Vec<std::vec::IntoIter<T>> = parts.into_iter().map(Vec::into_iter).collect();
        let heads: Vec<Option<T>> = rest.iter_mut().map(Iterator::next).collect();
        let heap = (0..heads.len()).filter(|&i| heads[i].is_some()).collect();
        let mut merge = MergeSorted {
            rest,
            heads,
            heap,
            cmp,
            left,
        };
        for at in (0..merge.heap.len() / 2).rev() {
            merge.sift_down(at);
        }
        merge
    }

    /// Whether part `i`'s head comes before part `j`'s (both in the heap, so both have one).
    fn less(&self, i: usize, j: usize) -> bool {
        let (Some(a), Some(b)) = (&self.heads[i], &self.heads[j]) else {
            return false;
        };
        (self.cmp)(a, b).then(i.cmp(&j)) == Ordering::Less
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let (l, r) = (2 * at + 1, 2 * at + 2);
            let mut min = at;
            if l < self.heap.len() && self.less(self.heap[l], self.heap[min]) {
                min = l;
            }
            if r < self.heap.len() && self.less(self.heap[r], self.heap[min]) {
                min = r;
            }
            if min == at {
                return;
            }
            self.heap.swap(at, min);
            at = min;
        }
    }
}

impl<T, F: Fn(&T, &T) -> Ordering> Iterator for MergeSorted<T, F> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let &top = self.heap.first()?;
        let next = self.rest[top].next();
        let taken = std::mem::replace(&mut self.heads[top], next);
        if self.heads[top].is_none() {
            self.heap.swap_remove(0);
            // The part is taken whole: its buffer goes now, not with the merge.
            self.rest[top] = Vec::new().into_iter();
        }
        self.sift_down(0);
        self.left = self.left.saturating_sub(1);
        taken
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T, F: Fn(&T, &T) -> Ordering> ExactSizeIterator for MergeSorted<T, F> {}

/// Every row's prefix from the groups' final labels: a label can move while the rows are built.
fn reprefix(rows: &mut [Row], groups: &Groups, store: &Store) {
    for row in rows {
        let p = groups.prefix(store.at(unpack(row.id).1)).unwrap_or(0);
        row.set_prefix(p);
    }
}

/// `members`, each marked as cluster `c`'s, in a store (indexed in the order given).
fn store_of(c: ClusterId, members: impl IntoIterator<Item = Member>) -> Store {
    Store::from_members(members.into_iter().map(|mut m| {
        m.cluster = c;
        m
    }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::KvEntry;

    fn member(key: &str, rev: i64) -> Member {
        Member::from_entry(
            "/s/",
            KvEntry {
                key: key.as_bytes().to_vec(),
                value: format!("{{\"rev\":{rev}}}").into_bytes(),
                create_revision: rev,
                mod_revision: rev,
                version: 1,
                lease: 0,
            },
            None,
        )
    }

    proptest! {
        /// The k-way merge of sorted parts is the stable sort of their concatenation, equal
        /// elements (same key, the second field apart) included.
        #[test]
        fn the_merge_is_the_stable_sort(
            parts in prop::collection::vec(
                prop::collection::vec((0u8..6, 0u16..50), 0..40), 0..9),
        ) {
            let tagged: Vec<Vec<(u8, u16, usize, usize)>> = parts
                .iter()
                .enumerate()
                .map(|(p, part)| {
                    let mut v: Vec<_> = part
                        .iter()
                        .enumerate()
                        .map(|(i, &(a, b))| (a, b, p, i))
                        .collect();
                    v.sort_by_key(|x| (x.0, x.1));
                    v
                })
                .collect();
            let mut expected: Vec<_> = tagged.iter().flatten().copied().collect();
            expected.sort_by_key(|x| (x.0, x.1));
            let merged = merge_sorted(tagged, |x, y| (x.0, x.1).cmp(&(y.0, y.1)));
            prop_assert_eq!(merged, expected);
        }

        /// Members in ranges, each sorted by the default order: prepared, their order and store
        /// are what the stable sort of all of them gives, the rows' prefixes agree with it, and
        /// the role counts and groups count every member.
        #[test]
        fn a_prepared_listing_is_the_sorted_one(
            keys in prop::collection::vec(
                ("[a-c]{1,2}", "[a-c]{0,2}[0-9]{0,3}[a-b]?", 0i64..3), 0..120),
            cuts in prop::collection::vec(0usize..120, 0..6),
        ) {
            let members: Vec<Member> = keys
                .iter()
                .map(|(r, i, rev)| member(&format!("/s/{r}/{i}"), *rev))
                .collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(members.len())).collect();
            cuts.sort();
            let mut parts = Vec::new();
            let mut at = 0;
            for c in cuts.into_iter().chain([members.len()]) {
                let mut part = members[at..c].to_vec();
                part.sort_by(default_order);
                parts.push(part);
                at = c;
            }
            let c = ClusterId(3);
            let p = Listing::prepare(c, parts).into_prepared(c);
            let plain = Listing::from(members.clone()).into_prepared(c);
            // The same rows in the same order (labels depend on the order groups came in).
            let of = |p: &Prepared| -> Vec<Member> {
                p.rows.iter().map(|r| p.member(r).clone()).collect()
            };
            prop_assert_eq!(of(&p), of(&plain));
            prop_assert_eq!(p.groups.counts(), plain.groups.counts());
            prop_assert_eq!(&p.role_counts, &plain.role_counts);
            // Prepared for another cluster, it is prepared again for the one it lands in.
            let moved = Listing::prepare(ClusterId(1), vec![p.store.clone().into_members()])
                .into_prepared(c);
            prop_assert_eq!(of(&moved), of(&p));
            let mut expected = members.clone();
            for m in &mut expected {
                m.cluster = c;
            }
            expected.sort_by(default_order);
            // A key listed twice keeps its last: the store's live members in row order.
            expected.reverse();
            let mut seen = std::collections::HashSet::new();
            expected.retain(|m| seen.insert(m.key().to_vec()));
            expected.reverse();
            let rows: Vec<&Member> = p.rows.iter().map(|r| p.member(r)).collect();
            prop_assert_eq!(rows.len(), expected.len());
            for (a, b) in rows.iter().zip(&expected) {
                prop_assert_eq!(a.key(), b.key());
                prop_assert_eq!(a.mod_revision, b.mod_revision);
                prop_assert_eq!(a.cluster, c);
            }
            for w in p.rows.windows(2) {
                prop_assert!(w[0].prefix() <= w[1].prefix());
            }
            for r in &p.rows {
                prop_assert_eq!(Some(r.prefix()), p.groups.prefix(p.member(r)));
                prop_assert_eq!(unpack(r.id).0, 3);
            }
            let mut roles: BTreeMap<String, usize> = BTreeMap::new();
            for m in &expected {
                *roles.entry(m.role().to_string()).or_default() += 1;
            }
            prop_assert_eq!(&p.role_counts, &roles);
        }
    }

    #[test]
    fn many_groups_are_labelled_anew_on_the_way() {
        // More groups than the labels' steps leave room for: relabelled while preparing.
        let members: Vec<Member> = (0..5000)
            .map(|i| member(&format!("/s/r/g{}x-1", i), 1))
            .collect();
        let mut sorted = members.clone();
        sorted.sort_by(default_order);
        let p = Listing::prepare(ClusterId(0), vec![sorted]).into_prepared(ClusterId(0));
        for w in p.rows.windows(2) {
            assert!(w[0].prefix() < w[1].prefix());
        }
        for r in &p.rows {
            assert_eq!(Some(r.prefix()), p.groups.prefix(p.member(r)));
        }
    }
}

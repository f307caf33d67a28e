//! A compact sort prefix beside each id in the members' view, so a binary search over a million
//! rows compares 8-byte numbers in the view itself and reads a member only where two prefixes tie.
//!
//! The default order is role, then instance in natural order, then key (see
//! [`crate::model::default_order`]). A member's prefix is two numbers:
//!
//! * its **group**: the role and the instance's *stem* (the instance up to its first digit run,
//!   with a `0` standing for that run when there is one), as a label from [`Groups`], a table
//!   of the groups the view holds, labelled in their order;
//! * its **number**: the value of that first digit run (0 when there is none).
//!
//! For `web/web-12` the group is (`web`, `web-0`) and the number 12. The prefix never orders two
//! members other than the full comparison does: whenever the full comparison puts `a` before
//! `b`, `prefix(a) <= prefix(b)` (proved case by case in [`group_key`], and checked by a property
//! test), so where prefixes differ they decide, and where they tie the full comparison does.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::Member;

/// One row of the members' view: a member's id and its sort prefix. 12 bytes (the id alone was 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    group: u32,
    number: u32,
    pub id: u32,
}

// A row per shown member, a million at once: 8 bytes more than the id alone.
const _: () = assert!(std::mem::size_of::<Row>() == 12);

impl Row {
    pub fn new(prefix: u64, id: u32) -> Row {
        Row {
            group: (prefix >> 32) as u32,
            number: prefix as u32,
            id,
        }
    }

    pub fn prefix(&self) -> u64 {
        (u64::from(self.group) << 32) | u64::from(self.number)
    }

    /// The label of the row's group (the prefix's high half).
    pub fn group(&self) -> u32 {
        self.group
    }

    /// The row with its group's label changed to `label`.
    pub fn set_group(&mut self, label: u32) {
        self.group = label;
    }

    pub fn set_prefix(&mut self, prefix: u64) {
        *self = Row::new(prefix, self.id);
    }
}

/// A group key longer than this is cut (and its number taken as 0): long stems cost a table
/// entry of their size and gain nothing over a tie broken by the full comparison.
const MAX_KEY: usize = 64;

/// The group key of a role and instance (byte-wise, its order is the groups' order), and the
/// member's number.
///
/// The key is the role, escaped so that it holds no `0x00` (`0x00` → `01 01`, `0x01` → `01 02`,
/// an order-keeping, prefix-free encoding), a `0x00` separator, then the instance's stem: its
/// bytes up to the first ASCII digit, and a `b'0'` if a digit run follows. Byte-wise order of
/// keys (a shorter key before its extensions) is then the order of (role, stem) that the full
/// comparison follows up to the first digit run:
///
/// * roles compare as strings first, and the escaped role and separator keep that order;
/// * two instances that differ inside both stems differ at the same byte in the keys;
/// * where one stem ends and the other goes on with a non-digit byte `c`, `natural_cmp`
///   compares a digit (or the end of the string) with `c`; the key has `b'0'` (or its end)
///   there, which compares with `c` as any digit (or the end) does, since no non-digit byte lies
///   between `b'0'` and `b'9'`;
/// * equal keys mean equal stems, both followed by a digit run or both not, and `natural_cmp`
///   then compares the runs by value: the number (saturated at `u32::MAX`, which keeps `<=`).
///
/// A key cut at [`MAX_KEY`] keeps `<=` (a cut of byte strings does), and its number is 0: two
/// members in a group with a cut key tie and the full comparison decides. A key equal to a cut
/// one without being cut itself is a proper prefix of the other's whole key, so it has no digit
/// marker (a marker ends a key, and a stem holds no digit) and its number is 0 as well.
pub fn group_key(role: &str, instance: &str) -> (KeyBuf, u32) {
    let mut out = KeyBuf {
        bytes: [0; MAX_KEY],
        len: 0,
        cut: false,
    };
    for &b in role.as_bytes() {
        match b {
            0 => out.extend(&[1, 1]),
            1 => out.extend(&[1, 2]),
            b => out.extend(&[b]),
        }
    }
    out.extend(&[0]);
    let inst = instance.as_bytes();
    let stem = inst
        .iter()
        .position(u8::is_ascii_digit)
        .unwrap_or(inst.len());
    out.extend(&inst[..stem]);
    let mut number = 0u32;
    if stem < inst.len() {
        out.extend(b"0");
        for &d in inst[stem..].iter().take_while(|c| c.is_ascii_digit()) {
            number = number
                .saturating_mul(10)
                .saturating_add(u32::from(d - b'0'));
        }
    }
    if out.cut {
        number = 0;
    }
    (out, number)
}

/// A group key, built on the stack (no allocation per lookup), cut at [`MAX_KEY`] bytes.
pub struct KeyBuf {
    bytes: [u8; MAX_KEY],
    len: usize,
    /// Whether bytes past `MAX_KEY` were dropped.
    cut: bool,
}

impl KeyBuf {
    fn extend(&mut self, bytes: &[u8]) {
        let room = MAX_KEY - self.len;
        let n = bytes.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
        self.cut |= n < bytes.len();
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Group {
    label: u32,
    /// Rows of the view in this group; the group is forgotten at 0.
    rows: usize,
}

/// Room left between a new last (or first) group's label and its neighbour's.
const STEP: u32 = 1 << 20;

/// The groups of the rows in the view, each with a label in their order, and how many rows each
/// has. A new group takes a label between its neighbours'; when there is no room left between
/// them, every group is labelled anew, evenly spaced, and the caller must give every row its new
/// prefix ([`Groups::add`] says so). The table holds the groups of rows in the view only: a
/// group whose last row left is forgotten, so churn (new names at every deploy) does not grow it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Groups {
    by_key: BTreeMap<Box<[u8]>, Group>,
}

impl Groups {
    pub fn clear(&mut self) {
        self.by_key.clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Every group's key and rows, in order (the labels left out: they depend on the history).
    #[cfg(test)]
    pub fn counts(&self) -> Vec<(Vec<u8>, usize)> {
        self.by_key
            .iter()
            .map(|(k, g)| (k.to_vec(), g.rows))
            .collect()
    }

    /// A row of `m` counted in; its prefix, and whether every group was labelled anew (every
    /// row's prefix must then be looked up again with [`Groups::prefix`]).
    pub fn add(&mut self, m: &Member) -> (u64, bool) {
        let (key, number) = group_key(m.role(), m.instance());
        let (label, relabelled) = self.add_rows(key.as_slice(), 1);
        (prefix(label, number), relabelled)
    }

    /// `rows` rows of the group `key` (from [`group_key`]) counted in; the group's label, and
    /// whether every group was labelled anew (as [`Groups::add`]).
    pub fn add_rows(&mut self, key: &[u8], rows: usize) -> (u32, bool) {
        if let Some(g) = self.by_key.get_mut(key) {
            g.rows += rows;
            return (g.label, false);
        }
        let below = self
            .by_key
            .range::<[u8], _>((Bound::Unbounded, Bound::Excluded(key)))
            .next_back();
        let above = self
            .by_key
            .range::<[u8], _>((Bound::Excluded(key), Bound::Unbounded))
            .next();
        let label = match (below.map(|(_, g)| g.label), above.map(|(_, g)| g.label)) {
            (None, None) => u32::MAX / 2,
            // Past the last (or before the first): a step away while there is room, so groups
            // listed in order do not halve the room left at each one.
            (Some(lo), None) if u32::MAX - lo > STEP => lo + STEP,
            (Some(lo), None) => lo + (u32::MAX - lo) / 2,
            (None, Some(hi)) if hi > STEP => hi - STEP,
            (None, Some(hi)) => hi / 2,
            (Some(lo), Some(hi)) => lo + (hi - lo) / 2,
        };
        let crowded = below.is_some_and(|(_, g)| g.label >= label)
            || above.is_some_and(|(_, g)| g.label <= label);
        self.by_key.insert(key.into(), Group { label, rows });
        if crowded {
            self.relabel();
            return (self.by_key[key].label, true);
        }
        (label, false)
    }

    /// Every group's key, label and rows, in their order (which is their labels' order).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], u32, usize)> {
        self.by_key.iter().map(|(k, g)| (&k[..], g.label, g.rows))
    }

    /// The label of group `key` (from [`group_key`]), if it has rows.
    pub fn label(&self, key: &[u8]) -> Option<u32> {
        self.by_key.get(key).map(|g| g.label)
    }

    /// A row of `m` counted out (its group forgotten with its last row).
    pub fn remove(&mut self, m: &Member) {
        let (key, _) = group_key(m.role(), m.instance());
        let key = key.as_slice();
        if let Some(g) = self.by_key.get_mut(key) {
            g.rows -= 1;
            if g.rows == 0 {
                self.by_key.remove(key);
            }
        }
    }

    /// The prefix of `m`'s row, if its group has rows in the view.
    pub fn prefix(&self, m: &Member) -> Option<u64> {
        let (key, number) = group_key(m.role(), m.instance());
        self.by_key
            .get(key.as_slice())
            .map(|g| prefix(g.label, number))
    }

    /// Every group labelled anew, evenly spaced over the labels.
    fn relabel(&mut self) {
        let gap = (u64::from(u32::MAX) / (self.by_key.len() as u64 + 1)).max(1);
        for (i, g) in self.by_key.values_mut().enumerate() {
            g.label = (gap * (i as u64 + 1)).min(u64::from(u32::MAX)) as u32;
        }
    }
}

/// A row's prefix from its group's label and its number.
pub fn prefix(label: u32, number: u32) -> u64 {
    (u64::from(label) << 32) | u64::from(number)
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use proptest::prelude::*;

    use super::*;
    use crate::model::{default_order, KvEntry};

    fn member(key: &[u8]) -> Member {
        Member::from_entry(
            "/s/",
            KvEntry {
                key: key.to_vec(),
                value: Vec::new(),
                create_revision: 1,
                mod_revision: 1,
                version: 1,
                lease: 0,
            },
            None,
        )
    }

    /// Sorted by (prefix, full comparison) as the view compares rows, and by the full
    /// comparison alone: the same order; and no pair is put the wrong way by its prefixes.
    fn same_order(keys: &[Vec<u8>]) {
        let members: Vec<Member> = keys.iter().map(|k| member(k)).collect();
        let mut groups = Groups::default();
        for m in &members {
            groups.add(m);
        }
        let prefixes: Vec<u64> = members
            .iter()
            .map(|m| groups.prefix(m).expect("counted in"))
            .collect();
        for (a, pa) in members.iter().zip(&prefixes) {
            for (b, pb) in members.iter().zip(&prefixes) {
                if default_order(a, b) == Ordering::Less {
                    assert!(
                        pa <= pb,
                        "{:?} sorts before {:?} but its prefix {pa:#x} > {pb:#x}",
                        a.key_text(),
                        b.key_text()
                    );
                }
            }
        }
        let mut by_prefix: Vec<usize> = (0..members.len()).collect();
        by_prefix.sort_by(|&i, &j| {
            prefixes[i]
                .cmp(&prefixes[j])
                .then_with(|| default_order(&members[i], &members[j]))
        });
        let mut full: Vec<usize> = (0..members.len()).collect();
        full.sort_by(|&i, &j| default_order(&members[i], &members[j]));
        let key = |v: &[usize]| -> Vec<Vec<u8>> {
            v.iter().map(|&i| members[i].key().to_vec()).collect()
        };
        assert_eq!(key(&by_prefix), key(&full));
    }

    #[test]
    fn prefixes_order_as_the_full_comparison_does() {
        let keys: Vec<&[u8]> = vec![
            b"/s/web/web-2",
            b"/s/web/web-10",
            b"/s/web/web-010",
            b"/s/web/web-1x",
            b"/s/web/web-",
            b"/s/web/web",
            b"/s/web/web.1",
            b"/s/web/webx",
            b"/s/web/web/1",
            b"/s/web/eu/web-1",
            b"/s/web/4294967295",
            b"/s/web/4294967296",
            b"/s/web/99999999999999999999",
            b"/s/web/0",
            b"/s/web/",
            b"/s/we/b-1",
            b"/s/web2/x",
            b"/s/web-2/x",
            b"/s/lonely",
            b"/s/lonely7",
            b"/s//x",
            b"/s/db/x\xff1",
            b"/s/db/x\x001",
            b"/s/d\x00b/x1",
            b"/other/db/db-1",
        ];
        let owned: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
        same_order(&owned);
        // Stems past the cut.
        let long: Vec<Vec<u8>> = (0..12)
            .map(|i| format!("/s/web/{}{}", "a".repeat(50 + i % 4), i * 7).into_bytes())
            .chain((0..4).map(|i| format!("/s/{}/x{i}", "r".repeat(70)).into_bytes()))
            .collect();
        same_order(&long);
    }

    #[test]
    fn groups_are_relabelled_when_a_gap_runs_out_and_forgotten_with_their_last_row() {
        let mut groups = Groups::default();
        let a = member(b"/s/r/a");
        let c = member(b"/s/r/c");
        groups.add(&a);
        groups.add(&c);
        // Each new group falls in the same gap, just after the last one: the gap halves each
        // time, and runs out within 32.
        let mut relabelled = false;
        let mut ms = Vec::new();
        for n in 1..40 {
            let m = member(format!("/s/r/{}", "b".repeat(n)).as_bytes());
            relabelled |= groups.add(&m).1;
            ms.push(m);
        }
        assert!(relabelled);
        let mut all = vec![a, c];
        all.extend(ms);
        let mut sorted: Vec<&Member> = all.iter().collect();
        sorted.sort_by(|x, y| default_order(x, y));
        let labels: Vec<u64> = sorted.iter().map(|m| groups.prefix(m).unwrap()).collect();
        assert!(labels.windows(2).all(|w| w[0] < w[1]), "{labels:x?}");
        assert_eq!(groups.len(), 41);
        for m in &all {
            groups.remove(m);
        }
        assert!(groups.is_empty());
        // Counted: a group stays while it has rows.
        let w1 = member(b"/s/web/web-1");
        let w2 = member(b"/s/web/web-2");
        groups.add(&w1);
        groups.add(&w2);
        groups.remove(&w1);
        assert!(groups.prefix(&w1).is_some());
        groups.remove(&w2);
        assert_eq!(groups.prefix(&w1), None);
    }

    fn name() -> impl Strategy<Value = Vec<u8>> {
        // Few distinct bytes, so stems, digit runs and ties are common.
        let byte = prop::sample::select(vec![
            b'a', b'b', b'-', b'.', b'/', b'0', b'1', b'2', b'9', b'z', 0u8, 1, 0xff,
        ]);
        prop::collection::vec(byte, 0..8)
    }

    proptest! {
        #[test]
        fn prefixes_never_disagree_with_the_full_comparison(
            names in prop::collection::vec((name(), name()), 1..40)
        ) {
            let keys: Vec<Vec<u8>> = names
                .into_iter()
                .map(|(role, inst)| {
                    let mut k = b"/s/".to_vec();
                    k.extend(role);
                    k.push(b'/');
                    k.extend(inst);
                    k
                })
                .collect();
            same_order(&keys);
        }
    }
}

//! A merged view's rows as one sorted run per cluster, merged only where they are read.
//!
//! Merging each cluster's listing into one sorted list cost a pass over every member already
//! held (ten listings of 100k: ~5.5M comparisons, 4–5× one listing of 1M). Kept apart, a listing
//! replaces its own run only, and the merged order is found where it is read: the rows on screen
//! (a k-way merge from a split point), a position (one binary search per run). A single cluster
//! is one run and costs what it always did.
//!
//! The order is given by the caller's comparison of two elements, the same for every run; it
//! must be total (the members' compare ends with the key and the cluster).

use std::cmp::Ordering;

use super::chunked::View;

#[derive(Debug)]
pub struct Runs<T> {
    /// By run (a `ClusterId`'s index); runs never seen are empty.
    runs: Vec<View<T>>,
    len: usize,
}

impl<T> Default for Runs<T> {
    fn default() -> Self {
        Runs {
            runs: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy> Runs<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Run `r` replaced by `sorted` (already in order).
    pub fn set_run(&mut self, r: usize, sorted: Vec<T>) {
        if self.runs.len() <= r {
            self.runs.resize_with(r + 1, View::default);
        }
        self.len -= self.runs[r].len();
        self.len += sorted.len();
        self.runs[r] = View::from_sorted(sorted);
    }

    /// Every element, run by run (not in the merged order): for counting and sets.
    pub fn iter_unordered(&self) -> impl Iterator<Item = &T> {
        self.runs.iter().flat_map(|r| r.iter_from(0))
    }

    /// How many elements run `r` has.
    pub fn run_len(&self, r: usize) -> usize {
        self.runs.get(r).map_or(0, View::len)
    }

    /// Run `r`'s elements, in its order.
    pub fn run(&self, r: usize) -> impl Iterator<Item = &T> {
        self.runs.get(r).into_iter().flat_map(|v| v.iter_from(0))
    }

    /// Every element changed in place by `f`, which must keep every run's order.
    pub fn update_all(&mut self, mut f: impl FnMut(&mut T)) {
        for run in &mut self.runs {
            run.update_all(&mut f);
        }
    }

    /// Where an element belongs: `f` compares an element with it (as `binary_search_by`), and
    /// `r` is the run it is (or would be) in. The position in the merged order, and in its run;
    /// each `Ok` when it is there.
    pub fn search(
        &self,
        r: usize,
        f: impl Fn(&T) -> Ordering,
    ) -> (Result<usize, usize>, Result<usize, usize>) {
        let mut before = 0;
        let mut local = Err(0);
        for (i, run) in self.runs.iter().enumerate() {
            if run.is_empty() {
                continue;
            }
            let at = run.binary_search_by(&f);
            if i == r {
                local = at;
            }
            // Unique elements: an equal one in another run is a bug, counted as before it.
            before += match at {
                Ok(j) | Err(j) => j,
            };
        }
        let global = if local.is_ok() {
            Ok(before)
        } else {
            Err(before)
        };
        (global, local)
    }

    /// `x` at position `local` of run `r` (where [`Runs::search`] said it belongs).
    pub fn insert(&mut self, r: usize, local: usize, x: T) {
        if self.runs.len() <= r {
            self.runs.resize_with(r + 1, View::default);
        }
        self.runs[r].insert(local, x);
        self.len += 1;
    }

    /// The element at position `local` of run `r`, taken out.
    pub fn remove(&mut self, r: usize, local: usize) -> T {
        self.len -= 1;
        self.runs[r].remove(local)
    }

    /// How many elements of each run come before position `i` of the merged order.
    fn split(&self, i: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> Vec<usize> {
        let lens: Vec<usize> = self.runs.iter().map(View::len).collect();
        if i >= self.len {
            return lens;
        }
        if i == 0 {
            // The top of the list (where a pane starts): nothing of any run comes before it.
            return vec![0; lens.len()];
        }
        let mut lo = vec![0; lens.len()];
        let mut hi = lens.clone();
        // Pivot on the middle of the widest range left; its rank narrows every run's range.
        // Each step halves one range at least; interleaved runs shrink together, so a split of
        // ten runs of 100k takes a few dozen steps.
        loop {
            let Some((s, _)) = lo
                .iter()
                .zip(&hi)
                .map(|(l, h)| h - l)
                .enumerate()
                .filter(|(_, w)| *w > 0)
                .max_by_key(|(_, w)| *w)
            else {
                return lo;
            };
            let mid = lo[s] + (hi[s] - lo[s]) / 2;
            let Some(&pivot) = self.runs[s].get(mid) else {
                return lo;
            };
            let below: Vec<usize> = self
                .runs
                .iter()
                .enumerate()
                .map(|(r, run)| {
                    if r == s {
                        mid
                    } else if lo[r] == hi[r] {
                        // Settled: the pivot is on the same side of its split as the others'.
                        lo[r]
                    } else {
                        match run.binary_search_by(|x| cmp(x, &pivot)) {
                            Ok(j) | Err(j) => j.clamp(lo[r], hi[r]),
                        }
                    }
                })
                .collect();
            let rank: usize = below.iter().sum();
            match rank.cmp(&i) {
                Ordering::Equal => return below,
                Ordering::Less => {
                    for r in 0..lo.len() {
                        lo[r] = lo[r].max(below[r]);
                    }
                    lo[s] = mid + 1;
                }
                Ordering::Greater => {
                    for r in 0..hi.len() {
                        hi[r] = hi[r].min(below[r]);
                    }
                    hi[s] = mid;
                }
            }
        }
    }

    /// The element at position `i` of the merged order.
    pub fn get(&self, i: usize, cmp: impl Fn(&T, &T) -> Ordering) -> Option<&T> {
        self.iter_from(i, cmp).next()
    }

    /// The merged order from position `from` on.
    pub fn iter_from<'a, C: Fn(&T, &T) -> Ordering>(
        &'a self,
        from: usize,
        cmp: C,
    ) -> Merge<'a, T, C> {
        let live = self.runs.iter().filter(|r| !r.is_empty()).count();
        let heads: Vec<std::iter::Peekable<Box<dyn Iterator<Item = &'a T> + 'a>>> = if live <= 1 {
            // One run: its own order, no split to find.
            self.runs
                .iter()
                .filter(|r| !r.is_empty())
                .map(|r| (Box::new(r.iter_from(from)) as Box<dyn Iterator<Item = &T>>).peekable())
                .collect()
        } else {
            self.split(from, &cmp)
                .into_iter()
                .zip(&self.runs)
                .filter(|(at, r)| *at < r.len())
                .map(|(at, r)| {
                    (Box::new(r.iter_from(at)) as Box<dyn Iterator<Item = &T>>).peekable()
                })
                .collect()
        };
        Merge { heads, cmp }
    }
}

/// The runs' heads, the least taken each step (k comparisons a row: a screenful of rows, not a
/// whole list, is what is read in order).
pub struct Merge<'a, T, C> {
    heads: Vec<std::iter::Peekable<Box<dyn Iterator<Item = &'a T> + 'a>>>,
    cmp: C,
}

impl<'a, T, C: Fn(&T, &T) -> Ordering> Iterator for Merge<'a, T, C> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        let mut best: Option<(usize, &'a T)> = None;
        for (i, h) in self.heads.iter_mut().enumerate() {
            if let Some(&x) = h.peek() {
                if best.is_none_or(|(_, b)| (self.cmp)(x, b) == Ordering::Less) {
                    best = Some((i, x));
                }
            }
        }
        let (i, x) = best?;
        self.heads[i].next();
        Some(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &u32, b: &u32) -> Ordering {
        a.cmp(b)
    }

    /// Runs of numbers, interleaved (the same names in every cluster) or in blocks.
    fn runs(parts: &[Vec<u32>]) -> Runs<u32> {
        let mut r = Runs::default();
        for (i, p) in parts.iter().enumerate() {
            r.set_run(i, p.clone());
        }
        r
    }

    fn all(parts: &[Vec<u32>]) -> Vec<u32> {
        let mut v: Vec<u32> = parts.iter().flatten().copied().collect();
        v.sort();
        v
    }

    #[test]
    fn the_merged_order_is_the_sorted_union_from_any_position() {
        let shapes: Vec<Vec<Vec<u32>>> = vec![
            // Interleaved: run r holds r, r+10, r+20, …
            (0..10)
                .map(|r| (0..300).map(|i| i * 10 + r).collect())
                .collect(),
            // Blocks, one run empty, lengths unequal.
            vec![
                (0..50).collect(),
                vec![],
                (50..1200).collect(),
                (1200..1201).collect(),
            ],
            // One run.
            vec![(0..700).map(|i| i * 3).collect()],
            vec![],
        ];
        for parts in shapes {
            let r = runs(&parts);
            let want = all(&parts);
            assert_eq!(r.len(), want.len());
            for from in (0..=want.len()).step_by(7).chain([want.len()]) {
                let got: Vec<u32> = r.iter_from(from, cmp).take(40).copied().collect();
                let end = (from + 40).min(want.len());
                assert_eq!(got, want[from..end], "from {from}");
                assert_eq!(r.get(from, cmp), want.get(from));
            }
            let mut unordered: Vec<u32> = r.iter_unordered().copied().collect();
            unordered.sort();
            assert_eq!(unordered, want);
        }
    }

    #[test]
    fn search_insert_and_remove_keep_positions_in_the_merged_order() {
        let mut parts: Vec<Vec<u32>> = (0..4)
            .map(|r| (0..100).map(|i| i * 8 + r * 2).collect())
            .collect();
        let mut r = runs(&parts);
        // Odd numbers are absent: where would 17 go (run 1), and 16 (there, run 0)?
        let (g, l) = r.search(1, |x| x.cmp(&17));
        let want = all(&parts);
        assert_eq!(g, Err(want.partition_point(|x| *x < 17)));
        assert_eq!(l, Err(parts[1].partition_point(|x| *x < 17)));
        let (g, l) = r.search(0, |x| x.cmp(&16));
        assert_eq!(g, Ok(want.binary_search(&16).unwrap()));
        assert_eq!(l, Ok(2));
        // Insert 17 into run 1, remove 16 from run 0: the merged order follows.
        let (_, Err(at)) = r.search(1, |x| x.cmp(&17)) else {
            panic!("17 is not there yet")
        };
        r.insert(1, at, 17);
        parts[1].insert(at, 17);
        r.remove(0, 2);
        parts[0].remove(2);
        let want = all(&parts);
        assert_eq!(r.len(), want.len());
        assert_eq!(r.iter_from(0, cmp).copied().collect::<Vec<_>>(), want);
        // A run replaced: the others stay.
        r.set_run(2, vec![1, 3, 5]);
        parts[2] = vec![1, 3, 5];
        assert_eq!(
            r.iter_from(0, cmp).copied().collect::<Vec<_>>(),
            all(&parts)
        );
    }
}

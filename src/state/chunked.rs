//! The sorted view of a list too long to shift on every insert: ids in chunks, so inserting or
//! removing one of 100k moves at most one chunk.

use std::cmp::Ordering;

/// Keys per chunk of the view (a chunk splits at twice this).
pub const CHUNK: usize = 512;

/// The sorted view in chunks, so inserting or removing one of 100k keys moves at most one chunk
/// (≤ 2 × `CHUNK` elements) instead of shifting the whole list.
///
/// Beside the chunks, two small arrays of one entry per chunk: where each chunk starts, so a
/// position is found by a binary search (walking ~2,000 chunk lengths at 1M rows, twice per insert
/// or remove, was a measurable part of the ingest), and a copy of each chunk's last element, so a
/// search finds its chunk in one contiguous array instead of reading a chunk's heap block per
/// step. An insert or remove adds or takes one from the starts after its chunk: a tight loop over
/// a few thousand words.
#[derive(Debug)]
pub struct View<T> {
    chunks: Vec<Vec<T>>,
    /// `starts[c]`: the position of chunk `c`'s first element (the lengths of those before it).
    starts: Vec<usize>,
    /// `lasts[c]`: a copy of chunk `c`'s last element (chunks are never empty).
    lasts: Vec<T>,
    len: usize,
}

impl<T> Default for View<T> {
    fn default() -> Self {
        View {
            chunks: Vec::new(),
            starts: Vec::new(),
            lasts: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Copy> View<T> {
    pub fn from_sorted(keys: Vec<T>) -> View<T> {
        let len = keys.len();
        let n = len.div_ceil(CHUNK);
        let mut chunks = Vec::with_capacity(n);
        let mut starts = Vec::with_capacity(n);
        let mut lasts = Vec::with_capacity(n);
        for (c, part) in keys.chunks(CHUNK).enumerate() {
            starts.push(c * CHUNK);
            lasts.push(part[part.len() - 1]);
            chunks.push(part.to_vec());
        }
        View {
            chunks,
            starts,
            lasts,
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// (chunk, index in it) of position `i`; `(chunks.len(), 0)` past the end.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i >= self.len {
            return (self.chunks.len(), 0);
        }
        // The last chunk starting at or before `i` (the first starts at 0).
        let c = self.starts.partition_point(|&s| s <= i) - 1;
        (c, i - self.starts[c])
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        let (c, j) = self.locate(i);
        self.chunks.get(c).and_then(|ch| ch.get(j))
    }

    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &T> {
        let (c, j) = self.locate(from);
        let first: &[T] = self.chunks.get(c).map(|ch| &ch[j..]).unwrap_or(&[]);
        first.iter().chain(self.chunks.iter().skip(c + 1).flatten())
    }

    /// Every element changed in place by `f`, which must not change their order (the sort
    /// prefixes relabelled).
    pub fn update_all(&mut self, mut f: impl FnMut(&mut T)) {
        for (chunk, last) in self.chunks.iter_mut().zip(&mut self.lasts) {
            chunk.iter_mut().for_each(&mut f);
            *last = chunk[chunk.len() - 1];
        }
    }

    /// Like `slice::binary_search_by` over the whole view.
    pub fn binary_search_by(&self, mut f: impl FnMut(&T) -> Ordering) -> Result<usize, usize> {
        // First chunk whose last key is not below the target.
        let c = self.lasts.partition_point(|k| f(k) == Ordering::Less);
        match self.chunks.get(c) {
            None => Err(self.len),
            Some(ch) => {
                let before = self.starts[c];
                ch.binary_search_by(f)
                    .map(|j| before + j)
                    .map_err(|j| before + j)
            }
        }
    }

    pub fn insert(&mut self, i: usize, key: T) {
        self.len += 1;
        if self.chunks.is_empty() {
            self.chunks.push(vec![key]);
            self.starts.push(0);
            self.lasts.push(key);
            return;
        }
        // Position `i` may be the end of a chunk: append there rather than open a new one.
        let (mut c, mut j) = self.locate(i);
        if (c > 0 && j == 0) || c == self.chunks.len() {
            c -= 1;
            j = self.chunks[c].len();
        }
        let chunk = &mut self.chunks[c];
        chunk.insert(j, key);
        self.lasts[c] = chunk[chunk.len() - 1];
        for s in &mut self.starts[c + 1..] {
            *s += 1;
        }
        if chunk.len() > 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            self.lasts[c] = chunk[CHUNK - 1];
            self.starts.insert(c + 1, self.starts[c] + CHUNK);
            self.lasts.insert(c + 1, tail[tail.len() - 1]);
            self.chunks.insert(c + 1, tail);
        }
    }

    pub fn remove(&mut self, i: usize) -> T {
        let (c, j) = self.locate(i);
        let key = self.chunks[c].remove(j);
        self.len -= 1;
        for s in &mut self.starts[c + 1..] {
            *s -= 1;
        }
        if self.chunks[c].is_empty() {
            self.chunks.remove(c);
            self.starts.remove(c);
            self.lasts.remove(c);
            return key;
        }
        if self.chunks[c].len() < CHUNK / 4
            && c + 1 < self.chunks.len()
            && self.chunks[c].len() + self.chunks[c + 1].len() <= 2 * CHUNK
        {
            let next = self.chunks.remove(c + 1);
            self.starts.remove(c + 1);
            self.lasts.remove(c + 1);
            self.chunks[c].extend(next);
        }
        let chunk = &self.chunks[c];
        self.lasts[c] = chunk[chunk.len() - 1];
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The starts and lasts agree with the chunks, and no chunk is empty or over-full.
    fn check<T: Copy + PartialEq + std::fmt::Debug>(v: &View<T>) {
        let mut at = 0;
        assert_eq!(v.starts.len(), v.chunks.len());
        assert_eq!(v.lasts.len(), v.chunks.len());
        for (c, chunk) in v.chunks.iter().enumerate() {
            assert!(!chunk.is_empty() && chunk.len() <= 2 * CHUNK);
            assert_eq!(v.starts[c], at, "start of chunk {c}");
            assert_eq!(v.lasts[c], chunk[chunk.len() - 1], "last of chunk {c}");
            at += chunk.len();
        }
        assert_eq!(at, v.len);
    }

    #[test]
    fn chunked_view_matches_a_plain_vec() {
        // Inserts and removes at sorted positions across chunk splits and merges.
        let mut v: View<u64> = View::default();
        let mut model: Vec<u64> = Vec::new();
        let mut x: u64 = 7;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = x % 5_000;
            let grow = step < 6_000 || !x.is_multiple_of(3);
            match model.binary_search(&k) {
                Ok(p) if !grow => {
                    assert_eq!(v.binary_search_by(|e| e.cmp(&k)), Ok(p));
                    assert_eq!(v.remove(p), model.remove(p));
                }
                Err(p) if grow => {
                    assert_eq!(v.binary_search_by(|e| e.cmp(&k)), Err(p));
                    v.insert(p, k);
                    model.insert(p, k);
                }
                _ => {}
            }
            assert_eq!(v.len(), model.len());
            if step % 97 == 0 {
                check(&v);
            }
        }
        check(&v);
        let all: Vec<u64> = v.iter_from(0).copied().collect();
        assert_eq!(all, model);
        for i in [0, 1, CHUNK - 1, CHUNK, model.len() - 1, model.len()] {
            assert_eq!(v.get(i), model.get(i));
            assert_eq!(v.iter_from(i).count(), model.len().saturating_sub(i));
        }
        for (i, k) in model.iter().enumerate() {
            assert_eq!(v.get(i), Some(k));
        }
        let mut rebuilt = View::from_sorted(model.clone());
        check(&rebuilt);
        assert_eq!(rebuilt.iter_from(0).copied().collect::<Vec<_>>(), model);
        // Changed in place (order kept): the lasts follow.
        rebuilt.update_all(|k| *k *= 2);
        check(&rebuilt);
        let doubled: Vec<u64> = model.iter().map(|k| k * 2).collect();
        assert_eq!(rebuilt.iter_from(0).copied().collect::<Vec<_>>(), doubled);
        // Emptied down to nothing, from the front, then grown again.
        while !rebuilt.is_empty() {
            rebuilt.remove(0);
        }
        check(&rebuilt);
        rebuilt.insert(0, 3);
        assert_eq!(rebuilt.binary_search_by(|e| e.cmp(&3)), Ok(0));
        assert_eq!(rebuilt.binary_search_by(|e| e.cmp(&4)), Err(1));
        check(&rebuilt);
    }
}

//! The sorted view of a list too long to shift on every insert: ids in chunks, so inserting or
//! removing one of 100k moves at most one chunk.

use std::cmp::Ordering;

/// Keys per chunk of the view (a chunk splits at twice this).
pub const CHUNK: usize = 512;

/// The sorted view in chunks, so inserting or removing one of 100k keys moves at most one chunk
/// (≤ 2 × `CHUNK` pointers) instead of shifting the whole list; indexing walks the chunk lengths.
#[derive(Debug)]
pub struct View<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for View<T> {
    fn default() -> Self {
        View {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> View<T> {
    pub fn from_sorted(keys: Vec<T>) -> View<T> {
        let len = keys.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut it = keys.into_iter().peekable();
        while it.peek().is_some() {
            chunks.push(it.by_ref().take(CHUNK).collect());
        }
        View { chunks, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// (chunk, index in it) of position `i`; `(chunks.len(), 0)` past the end.
    fn locate(&self, mut i: usize) -> (usize, usize) {
        for (c, chunk) in self.chunks.iter().enumerate() {
            if i < chunk.len() {
                return (c, i);
            }
            i -= chunk.len();
        }
        (self.chunks.len(), 0)
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

    /// Like `slice::binary_search_by` over the whole view.
    pub fn binary_search_by(&self, mut f: impl FnMut(&T) -> Ordering) -> Result<usize, usize> {
        // First chunk whose last key is not below the target; chunks are never empty.
        let c = self
            .chunks
            .partition_point(|ch| ch.last().is_some_and(|k| f(k) == Ordering::Less));
        let before: usize = self.chunks[..c].iter().map(Vec::len).sum();
        match self.chunks.get(c) {
            None => Err(self.len),
            Some(ch) => ch
                .binary_search_by(f)
                .map(|j| before + j)
                .map_err(|j| before + j),
        }
    }

    pub fn insert(&mut self, i: usize, key: T) {
        self.len += 1;
        if self.chunks.is_empty() {
            self.chunks.push(vec![key]);
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
        if chunk.len() > 2 * CHUNK {
            let tail = chunk.split_off(CHUNK);
            self.chunks.insert(c + 1, tail);
        }
    }

    pub fn remove(&mut self, i: usize) -> T {
        let (c, j) = self.locate(i);
        let key = self.chunks[c].remove(j);
        self.len -= 1;
        if self.chunks[c].is_empty() {
            self.chunks.remove(c);
        } else if self.chunks[c].len() < CHUNK / 4
            && c + 1 < self.chunks.len()
            && self.chunks[c].len() + self.chunks[c + 1].len() <= 2 * CHUNK
        {
            let next = self.chunks.remove(c + 1);
            self.chunks[c].extend(next);
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn chunked_view_matches_a_plain_vec() {
        // Inserts and removes at sorted positions across chunk splits and merges.
        let mut v: View<Arc<[u8]>> = View::default();
        let mut model: Vec<Arc<[u8]>> = Vec::new();
        let mut x: u64 = 7;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k: Arc<[u8]> = Arc::from(format!("{:08}", x % 5_000).as_bytes());
            let grow = step < 6_000 || !x.is_multiple_of(3);
            match model.binary_search(&k) {
                Ok(p) if !grow => {
                    assert_eq!(v.binary_search_by(|e| e.cmp(&k)), Ok(p));
                    assert_eq!(v.remove(p), model.remove(p));
                }
                Err(p) if grow => {
                    assert_eq!(v.binary_search_by(|e| e.cmp(&k)), Err(p));
                    v.insert(p, k.clone());
                    model.insert(p, k);
                }
                _ => {}
            }
            assert_eq!(v.len(), model.len());
        }
        assert!(v
            .chunks
            .iter()
            .all(|c| !c.is_empty() && c.len() <= 2 * CHUNK));
        let all: Vec<Arc<[u8]>> = v.iter_from(0).cloned().collect();
        assert_eq!(all, model);
        for i in [0, 1, CHUNK - 1, CHUNK, model.len() - 1, model.len()] {
            assert_eq!(v.get(i), model.get(i));
            assert_eq!(v.iter_from(i).count(), model.len().saturating_sub(i));
        }
        let rebuilt = View::from_sorted(model.clone());
        assert_eq!(rebuilt.iter_from(0).cloned().collect::<Vec<_>>(), model);
    }
}

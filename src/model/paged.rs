//! A vector in pages of a fixed size: past its first page, growing it allocates one more page and
//! never moves what it holds (the first grows as a `Vec` does, so a small table stays small). One contiguous table of a million members (80 MB) doubled on the first registration
//! after a listing: a 48 ms copy on the UI thread (BENCHMARKS.md).

use std::ops::{Index, IndexMut};

/// Elements per page: 2^16 (5 MB of members), so a million fill 16 pages.
const PAGE_BITS: u32 = 16;
const PAGE: usize = 1 << PAGE_BITS;

#[derive(Clone, PartialEq, Eq)]
pub struct Paged<T> {
    /// Every page but the last is full.
    pages: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Paged {
            pages: Vec::new(),
            len: 0,
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Paged<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> Paged<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn push(&mut self, v: T) {
        match self.pages.last_mut() {
            Some(page) if page.len() < PAGE => page.push(v),
            None => self.pages.push(vec![v]),
            _ => {
                let mut page = Vec::with_capacity(PAGE);
                page.push(v);
                self.pages.push(page);
            }
        }
        self.len += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.pages.iter().flatten()
    }
}

impl<T> Index<usize> for Paged<T> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        &self.pages[i >> PAGE_BITS][i & (PAGE - 1)]
    }
}

impl<T> IndexMut<usize> for Paged<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        &mut self.pages[i >> PAGE_BITS][i & (PAGE - 1)]
    }
}

impl<T> FromIterator<T> for Paged<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut paged = Paged::default();
        for v in items {
            paged.push(v);
        }
        paged
    }
}

impl<T> IntoIterator for Paged<T> {
    type Item = T;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Vec<T>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.pages.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paged_vector_indexes_as_one_vector_across_pages() {
        let n = 3 * PAGE + 17;
        let plain: Vec<u32> = (0..n as u32).collect();
        let mut paged: Paged<u32> = plain.iter().copied().collect();
        assert_eq!(paged.len(), n);
        assert_eq!(paged.pages.len(), 4);
        for i in [0, 1, PAGE - 1, PAGE, 2 * PAGE + 5, n - 1] {
            assert_eq!(paged[i], plain[i]);
        }
        paged[PAGE] = 7;
        paged[PAGE + 1] = 8;
        assert_eq!((paged[PAGE], paged[PAGE + 1]), (7, 8));
        paged.push(99);
        assert_eq!((paged.len(), paged[n]), (n + 1, 99));
        let back: Vec<u32> = paged.clone().into_iter().collect();
        assert_eq!(back.len(), n + 1);
        assert!(paged.iter().copied().eq(back.iter().copied()));
    }

    #[test]
    fn growing_never_moves_what_is_held() {
        let mut paged: Paged<u64> = (0..PAGE as u64).collect();
        let first = &paged[0] as *const u64;
        paged.push(1);
        assert_eq!(&paged[0] as *const u64, first);
    }
}

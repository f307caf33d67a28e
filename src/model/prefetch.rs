//! A hint to the CPU to start loading a cache line that is about to be read, for loops whose
//! next item sits somewhere else on the heap (a log line's bytes, a ring entry's blocks).

/// Asks for the cache line holding `p`. Never faults, whatever the address (a dangling pointer of
/// an empty block included); does nothing off x86_64.
#[inline]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch is only a hint: it reads
        // nothing and cannot fault.
        unsafe { _mm_prefetch(p.cast::<i8>(), _MM_HINT_T0) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Asks for the first and the last cache line of `bytes`: the two a parser that trims both ends
/// first waits on (lines in between are read in order, which the CPU prefetches by itself).
#[inline]
pub fn prefetch_ends(bytes: &[u8]) {
    prefetch(bytes.as_ptr());
    prefetch(bytes.as_ptr().wrapping_add(bytes.len().saturating_sub(1)));
}

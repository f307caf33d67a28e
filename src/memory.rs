//! Giving memory back to the system after a burst.
//!
//! An initial listing of 100k keys passes through tens of megabytes of short-lived buffers (gRPC
//! frames, decoded pages, the listing handed to the state) spread over the runtime's threads. glibc keeps freed memory in each thread's arena, so without a nudge
//! the console would stay that much larger for as long as it runs.

use std::time::{Duration, Instant};

/// Listed keys after which the freed buffers are worth returning.
pub const TRIM_AFTER_ITEMS: usize = 10_000;
/// Trimming walks the heap (a few milliseconds at 100 MB): never more often than this.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(5);

/// Counts the items that went through the console and says when to trim.
#[derive(Debug)]
pub struct Trimmer {
    churn: usize,
    last: Option<Instant>,
}

impl Default for Trimmer {
    fn default() -> Self {
        Trimmer::new()
    }
}

impl Trimmer {
    pub fn new() -> Trimmer {
        Trimmer {
            churn: 0,
            last: None,
        }
    }

    pub fn note(&mut self, items: usize) {
        self.churn = self.churn.saturating_add(items);
    }

    /// True (and resets) when enough went through since the last trim, and that was long enough
    /// ago; the caller then calls [`release_free_memory`].
    pub fn due(&mut self, now: Instant) -> bool {
        let rested = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= TRIM_INTERVAL);
        if self.churn >= TRIM_AFTER_ITEMS && rested {
            self.churn = 0;
            self.last = Some(now);
            return true;
        }
        false
    }
}

/// Returns free heap memory to the system.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own allocator state; it takes the arena locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_after_a_burst_at_most_every_interval() {
        let t0 = Instant::now();
        let mut t = Trimmer::new();
        t.note(TRIM_AFTER_ITEMS - 1);
        assert!(!t.due(t0), "not enough went through");
        t.note(1);
        assert!(t.due(t0), "a big listing: at once");
        t.note(5 * TRIM_AFTER_ITEMS);
        assert!(
            !t.due(t0 + Duration::from_secs(1)),
            "too soon after the last trim"
        );
        assert!(t.due(t0 + TRIM_INTERVAL), "the rest of the burst, later");
        assert!(!t.due(t0 + 3 * TRIM_INTERVAL), "nothing new went through");
    }
}

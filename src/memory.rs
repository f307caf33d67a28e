//! The console's allocator, and giving memory back to the system after a burst.
//!
//! **The allocator is mimalloc**, not glibc's malloc. Log lines are parsed on a runtime worker
//! (the logs source) and freed on the UI thread when the ring evicts them, 100,000 lines later.
//! With glibc each such free lands in the UI thread's cache or, once that is full, takes the
//! worker's arena lock — which the worker takes to allocate the next lines: with both threads on
//! a core of their own, `_int_free` was the UI thread's largest cost, and each thread used up to
//! twice the CPU it needs alone. mimalloc hands a block freed on another thread back to its page's
//! owner without a lock: the two-thread ingest went from a median of ~1.7 M to ~2.1 M lines/s, one
//! thread from ~1.05 M to ~1.3 M (`LOGS_BENCH_ONLY=pipelined|ingest cargo bench --bench logs`;
//! BENCHMARKS.md, issue 18, tenth round). Built without transparent huge pages (`no_thp`): with
//! them a 100,000-line ring was ~10 MB larger resident.
//!
//! Every binary that should measure or run what the app runs (the app, the benches) installs it with
//! [`install_allocator!`](crate::install_allocator).
//!
//! An initial listing of 100k keys passes through tens of megabytes of short-lived buffers (gRPC
//! frames, decoded pages, the listing handed to the state) spread over the runtime's threads; the
//! allocator keeps freed pages for reuse, so after such a burst the console asks it to return them.

use std::time::{Duration, Instant};

/// Listed keys after which the freed buffers are worth returning.
pub const TRIM_AFTER_ITEMS: usize = 10_000;
/// Trimming walks the heap (a few milliseconds at 100 MB): never more often than this.
pub const TRIM_INTERVAL: Duration = Duration::from_secs(5);

/// mimalloc (v3) hands a freed range back to the system only once it has been free this long
/// (`purge_delay`, 1 s by default), even when asked to collect: a trim right after a listing's
/// frame finds its buffers freed a moment ago and keeps them. A second trim this long after the
/// first returns them. At 1,000,000 members and 100,000 log lines (scripts/bench's memory figure),
/// VmRSS 2 s after the log burst read 297–304 MB and settled at 286–290 MB a few seconds later
/// without it; 286–288 MB and 284–286 MB with it and the runtime threads' collects.
pub const TRIM_AGAIN_AFTER: Duration = Duration::from_millis(1500);

/// Counts the items that went through the console and says when to trim.
#[derive(Debug)]
pub struct Trimmer {
    churn: usize,
    last: Option<Instant>,
    /// The follow-up of the last trim ([`TRIM_AGAIN_AFTER`]).
    again_at: Option<Instant>,
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
            again_at: None,
        }
    }

    pub fn note(&mut self, items: usize) {
        self.churn = self.churn.saturating_add(items);
    }

    /// True (and resets) when enough went through since the last trim, and that was long enough
    /// ago, and once more [`TRIM_AGAIN_AFTER`] a trim; the caller then calls
    /// [`release_free_memory`].
    pub fn due(&mut self, now: Instant) -> bool {
        let rested = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= TRIM_INTERVAL);
        if self.churn >= TRIM_AFTER_ITEMS && rested {
            self.churn = 0;
            self.last = Some(now);
            self.again_at = Some(now + TRIM_AGAIN_AFTER);
            return true;
        }
        if self.again_at.is_some_and(|t| now >= t) {
            self.again_at = None;
            return true;
        }
        false
    }
}

/// The global allocator of the app and its benches (see the module's notes).
pub use mimalloc::MiMalloc as Allocator;

/// Installs [`Allocator`] as the binary's global allocator.
#[macro_export]
macro_rules! install_allocator {
    () => {
        #[global_allocator]
        static GLOBAL_ALLOCATOR: $crate::memory::Allocator = $crate::memory::Allocator;
    };
}

/// Returns free heap memory to the system: mimalloc's pages of this thread and the ones other
/// threads abandoned, and glibc's arenas for whatever still allocates there (a binary without
/// [`install_allocator!`], C code). The runtime threads are asked to do the same with their own
/// pages when they next go idle ([`collect_if_asked`]).
pub fn release_free_memory() {
    collect_this_thread();
    COLLECT_ASKED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own allocator state; it takes the arena locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_t`, which libmimalloc-sys does not
/// name; a test holds it to the option's default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long a freed range stays with the allocator before it goes back to the system. mimalloc's
/// 1 s kept a 1,000,000-member listing's buffers (and a log burst's) resident until the console's
/// trims or the allocator's own purge: at 1M members the peak was 374–380 MB where it is 321 MB at
/// 100 ms, and the settled figure 3–8 MB lower. Measured side by side, 100 ms costs nothing
/// measurable: idle CPU against the live stack 0.220 / 0.231 % against 0.231 / 0.234 % at 1 s; the
/// log ingest as the app runs it 2.37 M lines/s against 1.77–2.16 M (BENCHMARKS.md, sixteenth
/// round).
pub const PURGE_DELAY_MS: i64 = 100;

/// Sets the allocator's options for the console (before the runtime starts). A
/// `MIMALLOC_PURGE_DELAY` in the environment, mimalloc's own way to set it, wins.
pub fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set only stores the value; mimalloc reads it when it next purges.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _) };
    }
}

/// Bumped by [`release_free_memory`]: each runtime thread collects once per bump.
static COLLECT_ASKED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

thread_local! {
    static COLLECTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// For the runtimes' `on_thread_park`: the thread hands its own free pages back when
/// [`release_free_memory`] asked since it last did. A listing's gRPC frames and decoded pages, and
/// a log burst's buffers, are freed on the runtime threads that read them, into that thread's
/// heap; the UI thread's collect does not reach them. An atomic load when nothing was asked.
pub fn collect_if_asked() {
    let asked = COLLECT_ASKED.load(std::sync::atomic::Ordering::Relaxed);
    if COLLECTED.with(|c| c.replace(asked)) != asked {
        collect_this_thread();
    }
}

fn collect_this_thread() {
    // SAFETY: mi_collect only walks mimalloc's own state; it is callable from any thread.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_option_is_the_one_with_mimallocs_default_of_one_second() {
        // A newer mimalloc that moved the option in its enum fails here instead of tuning another.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reading an option.
            assert_eq!(
                unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) },
                1000
            );
        }
    }

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
        assert!(
            !t.due(t0 + TRIM_INTERVAL + TRIM_AGAIN_AFTER / 2),
            "the follow-up not yet"
        );
        assert!(
            t.due(t0 + TRIM_INTERVAL + TRIM_AGAIN_AFTER),
            "the follow-up: what was freed just before the trim"
        );
        assert!(!t.due(t0 + 3 * TRIM_INTERVAL), "nothing new went through");
    }
}

//! Deadlines on the tokio timer wheel's 64 ms slots, so that a timer more than 64 ms away wakes
//! its runtime once instead of twice.
//!
//! tokio keeps timers in a hierarchical wheel of millisecond ticks counted from the moment its
//! time driver was made (at `Builder::build`). A timer 64 ms to 4 s away sits in a slot of the
//! second level, 64 ticks wide, and a worker parks only until that slot's *start*: it wakes there
//! to move the timer down a level, parks again, and wakes a second time at the deadline itself.
//! With a `strace` of the workers of an idle console, most waits that timed out came in such
//! pairs (a wait to a slot boundary, then one of a few ms) — the "timer wake-ups never traced to
//! a source" of BENCHMARKS.md's eighth round. A deadline that falls on a slot's start fires in
//! the first of the two wake-ups.
//!
//! The driver's origin is not public: [`note_origin`] is called right before the runtime is
//! built, and a deadline `origin + 64·k ms` maps to tick `64·k` as long as the driver is made
//! less than 1 ms later (tokio rounds a deadline up to the next ms). A current-thread runtime on
//! a thread of its own (`sources::own_thread`) has a driver of its own: its thread notes that
//! runtime's origin ([`note_thread_origin`]), which holds on that thread instead. Without a noted
//! origin (most tests, the one-shot subcommands) deadlines are left as they are; a wrong origin
//! costs only the saving, never a timer firing late by more than its own rounding.

use std::sync::OnceLock;
use std::time::Duration;

/// The width of a second-level slot of tokio's timer wheel (64 ticks of 1 ms).
pub const SLOT: Duration = Duration::from_millis(64);

static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();

thread_local! {
    /// The origin of the runtime this thread alone runs, if it runs one.
    static THREAD_ORIGIN: std::cell::Cell<Option<std::time::Instant>> =
        const { std::cell::Cell::new(None) };
}

/// Called right before the tokio runtime is built (its time driver's ticks count from then).
pub fn note_origin() {
    let _ = ORIGIN.set(std::time::Instant::now());
}

/// Called on a thread right before it builds the current-thread runtime only it runs: deadlines
/// taken on this thread count from here.
pub fn note_thread_origin() {
    THREAD_ORIGIN.with(|o| o.set(Some(std::time::Instant::now())));
}

/// The origin of the timer wheel that the calling thread's deadlines go to.
fn origin() -> Option<std::time::Instant> {
    THREAD_ORIGIN
        .with(|o| o.get())
        .or_else(|| ORIGIN.get().copied())
}

/// `t`, moved back to the start of the 64 ms slot it falls in (at most `SLOT` earlier). Only for
/// waits longer than a slot whose deadline may come a little early: an earlier deadline within
/// a slot costs nothing in wake-ups; a later one would.
pub fn slot_floor(t: tokio::time::Instant) -> tokio::time::Instant {
    match origin() {
        Some(origin) => tokio::time::Instant::from_std(floor_from(origin, t.into_std())),
        None => t,
    }
}

/// `wait` from now, taken back to its slot's start when longer than a slot (so always later
/// than now, by more than `wait - SLOT`): for a periodic wait that may end a little early.
pub fn after(wait: Duration) -> tokio::time::Instant {
    let at = tokio::time::Instant::now() + wait;
    if wait > SLOT {
        slot_floor(at)
    } else {
        at
    }
}

fn floor_from(origin: std::time::Instant, t: std::time::Instant) -> std::time::Instant {
    let Some(since) = t.checked_duration_since(origin) else {
        return t;
    };
    let slot = SLOT.as_nanos();
    let floored = since.as_nanos() / slot * slot;
    origin + Duration::from_nanos(floored as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_goes_back_to_its_slots_start_and_never_forward() {
        let o = std::time::Instant::now();
        let ms = |n: u64| o + Duration::from_millis(n);
        assert_eq!(floor_from(o, ms(0)), ms(0));
        assert_eq!(floor_from(o, ms(63)), ms(0));
        assert_eq!(floor_from(o, ms(64)), ms(64));
        assert_eq!(floor_from(o, ms(1000)), ms(960));
        assert_eq!(floor_from(o, ms(960) + Duration::from_micros(999)), ms(960));
        // Before the origin (cannot happen for a deadline): left as it is.
        assert_eq!(floor_from(ms(10), o), o);
    }

    #[test]
    fn a_thread_with_a_runtime_of_its_own_counts_from_its_own_origin() {
        // The process's origin is left alone: other tests run without one.
        let process = origin();
        let (before, noted, after) = std::thread::spawn(|| {
            let before = origin();
            let at = std::time::Instant::now();
            note_thread_origin();
            (before, at, origin())
        })
        .join()
        .unwrap();
        assert_eq!(before, process, "a thread starts with the process's origin");
        assert!(
            after.is_some_and(|o| o >= noted),
            "then counts from its own"
        );
        assert_eq!(origin(), process, "other threads keep the process's");
    }
}

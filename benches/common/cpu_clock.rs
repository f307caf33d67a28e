//! The benchmarks' clock: CPU time of the calling thread, so a loaded machine's waits for a core
//! are not counted as the code's time.

/// Nanoseconds this thread has run on a CPU: `clock_gettime(CLOCK_THREAD_CPUTIME_ID)`
/// (/proc/thread-self/schedstat is only as fresh as the last scheduler tick).
pub fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(
        rc, 0,
        "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed; the bench's *_CLOCK=wall avoids it"
    );
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

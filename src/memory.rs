//! Giving memory back to the system after a burst.
//!
//! An initial listing of 100k keys passes through tens of megabytes of short-lived buffers (gRPC
//! frames, decoded pages, the listing handed to the state) spread over the runtime's threads. glibc
//! keeps freed memory in each thread's arena, so without a nudge the console would stay that much
//! larger for as long as it runs.

/// Returns free heap memory to the system. A few milliseconds for a heap of ~100 MB; call it after
/// a large, rare event (a big snapshot), never per frame.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks glibc's own allocator state; it takes the arena locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

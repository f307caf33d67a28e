//! Notices the terminal going away (a closed window, a dropped ssh session, a killed tmux pane)
//! and keeps crossterm from spinning on it.
//!
//! crossterm 0.29 reads its input from fd 0 in a loop that ends only on `EAGAIN`: on a hung-up
//! terminal `read` returns 0 (or `EIO`) at once, forever, so the thread that reads spins at 100 %
//! CPU and never returns (crossterm-rs/crossterm#793; the fixes, #1067 and #1116, are not
//! released). When that thread is the event loop's, the console answers no signal but SIGKILL
//! and outlives its terminal for good: seen in the tmux tests, where a pane was killed right
//! after keys were sent.
//!
//! A thread of ours waits for the hang-up (`poll` with no events asked reports only `POLLHUP`
//! and errors), then puts an empty non-blocking pipe on fd 0 in the terminal's place: crossterm's
//! next read there gets `EAGAIN` and its loop ends. The event loop is told, and stops as it does
//! when the terminal closes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

struct Hangup {
    seen: AtomicBool,
    notify: Notify,
}

static HANGUP: OnceLock<Arc<Hangup>> = OnceLock::new();

/// Starts the watch (once per process) when fd 0 is a terminal; where it is not, crossterm reads
/// `/dev/tty` on a descriptor of its own and this cannot help.
pub fn watch() {
    let _ = HANGUP.get_or_init(|| {
        let hangup = Arc::new(Hangup {
            seen: AtomicBool::new(false),
            notify: Notify::new(),
        });
        // SAFETY: isatty only reads the descriptor's state.
        if unsafe { libc::isatty(libc::STDIN_FILENO) } == 1 {
            let watched = hangup.clone();
            let started = std::thread::Builder::new()
                .name("tty-hangup".into())
                .spawn(move || {
                    if wait_for_hangup(libc::STDIN_FILENO) {
                        replace_with_empty_pipe(libc::STDIN_FILENO);
                        tracing::info!("the terminal hung up");
                        watched.seen.store(true, Ordering::SeqCst);
                        watched.notify.notify_one();
                    }
                });
            if let Err(e) = started {
                tracing::warn!(error = %e, "no watch for the terminal hanging up");
            }
        }
        hangup
    });
}

/// Resolves once the terminal has hung up (at once if it already has); never without [`watch`].
pub async fn hung_up() {
    let Some(hangup) = HANGUP.get() else {
        return std::future::pending().await;
    };
    loop {
        let notified = hangup.notify.notified();
        if hangup.seen.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}

/// Blocks until `fd` reports a hang-up or an error; false if it cannot be watched.
fn wait_for_hangup(fd: libc::c_int) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd, for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        if pfd.revents & libc::POLLNVAL != 0 {
            return false;
        }
        if pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            return true;
        }
    }
}

/// Puts the read end of a new, empty, non-blocking pipe on `fd`. Its write end is kept open for
/// the rest of the process: with it closed, a read would give end-of-file (0) again, which is
/// what crossterm spins on.
fn replace_with_empty_pipe(fd: libc::c_int) {
    let mut ends = [0 as libc::c_int; 2];
    // SAFETY: `ends` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "no pipe to put in the hung-up terminal's place");
        return;
    }
    // SAFETY: both descriptors were just made; dup2 swaps `fd` atomically, so a read under way
    // finishes on the terminal and the next one reads the pipe.
    unsafe {
        libc::dup2(ends[0], fd);
        libc::close(ends[0]);
    }
    // ends[1] stays open on purpose (see above).
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe's far end closing is a hang-up (`POLLHUP`) as a terminal's is; the descriptor then
    /// reads `EAGAIN`, not end-of-file, where crossterm would spin.
    #[test]
    fn a_hung_up_descriptor_is_noticed_and_then_reads_would_block() {
        let mut ends = [0 as libc::c_int; 2];
        // Close-on-exec from the start: a child another test spawns meanwhile must not inherit
        // the write end, or the hang-up would wait for that child.
        assert_eq!(
            unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) },
            0
        );
        let (read_end, write_end) = (ends[0], ends[1]);
        let waiter = std::thread::spawn(move || wait_for_hangup(read_end));
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!waiter.is_finished(), "no hang-up yet");
        unsafe { libc::close(write_end) };
        assert!(waiter.join().unwrap(), "the hang-up is seen");

        let mut byte = [0u8; 1];
        // Before: end-of-file at once.
        assert_eq!(
            unsafe { libc::read(read_end, byte.as_mut_ptr().cast(), 1) },
            0
        );
        replace_with_empty_pipe(read_end);
        let n = unsafe { libc::read(read_end, byte.as_mut_ptr().cast(), 1) };
        assert_eq!(n, -1);
        assert_eq!(
            std::io::Error::last_os_error().kind(),
            std::io::ErrorKind::WouldBlock
        );
        unsafe { libc::close(read_end) };
    }
}

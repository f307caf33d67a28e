//! The console's clock: the wall time read once at start, carried forward by a clock that the
//! system time cannot move.
//!
//! Everything the console compares with "now" — a member's age, a lease TTL counting down, the
//! `STALE 12s` of a pane, the `retrying in 4s` of a backoff, the revision clock's pairs, the time
//! given to a log line that carries none — takes it from [`now`]. A step of the system clock (an
//! NTP correction, an operator's `date -s`, a VM restored from a snapshot) would otherwise make
//! ages jump by an hour or go negative, freeze countdowns for an hour, and leave the revision
//! clock blind for as long as the step (its pairs must never go back in time).
//!
//! The carrying clock is `CLOCK_BOOTTIME`: monotonic, unaffected by `settimeofday`, and — unlike
//! `CLOCK_MONOTONIC`, behind `std::time::Instant` — still counting while a laptop sleeps, so times
//! after a resume are not hours behind. The price: after a real correction of the system clock,
//! the console's times are off by the correction until it restarts. It says so once ([`step`]
//! is checked every second by the app) in the message line and the log file.
//!
//! Tests move the system clock the console sees without root: `OPSCONSOLE_TEST_WALL_OFFSET_FILE`
//! names a file holding seconds to add to the system time (read on every look, so a test can
//! change it while the console runs). Nothing else reads it; it is not a user setting.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The system clock differs from the console's by more than this: a step, reported once.
pub const STEP: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// Where the console's clock started: the wall time then, and the boot clock's reading then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub wall: DateTime<Utc>,
    pub boot: Duration,
}

impl Anchor {
    /// The console's time when the boot clock reads `boot`. A reading before the anchor's (it
    /// cannot happen with one boot clock; a test can ask) is the anchor's time.
    pub fn at(&self, boot: Duration) -> DateTime<Utc> {
        let elapsed = boot.saturating_sub(self.boot);
        chrono::TimeDelta::from_std(elapsed)
            .ok()
            .and_then(|d| self.wall.checked_add_signed(d))
            .unwrap_or(self.wall)
    }
}

/// The boot clock: time since boot, sleep included.
pub fn boot_clock() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        // Not on Linux (or an old kernel): the monotonic clock, which does not count sleep.
        return monotonic_fallback();
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

fn monotonic_fallback() -> Duration {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

/// The system's wall clock as the console sees it (with a test's offset, if one is set).
pub fn system_wall() -> DateTime<Utc> {
    let now = Utc::now();
    match test_offset() {
        Some(secs) => now
            .checked_add_signed(chrono::TimeDelta::seconds(secs))
            .unwrap_or(now),
        None => now,
    }
}

fn test_offset() -> Option<i64> {
    let path = std::env::var_os("OPSCONSOLE_TEST_WALL_OFFSET_FILE")?;
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn anchor() -> &'static Anchor {
    static ANCHOR: OnceLock<Anchor> = OnceLock::new();
    ANCHOR.get_or_init(|| Anchor {
        wall: system_wall(),
        boot: boot_clock(),
    })
}

/// The console's now: the wall time at start plus the boot clock's time since.
pub fn now() -> DateTime<Utc> {
    anchor().at(boot_clock())
}

/// How far the system clock is from the console's (positive: the system clock is ahead). Zero
/// until the system clock is stepped.
pub fn step() -> chrono::TimeDelta {
    system_wall() - now()
}

/// Tracks the steps already reported, so each is said once.
#[derive(Debug, Default)]
pub struct StepWatch {
    reported: chrono::TimeDelta,
}

impl StepWatch {
    /// `step` (from [`step`]) when it moved by more than [`STEP`] since the last report.
    pub fn check(&mut self, step: chrono::TimeDelta) -> Option<chrono::TimeDelta> {
        if (step - self.reported).abs() > STEP {
            self.reported = step;
            return Some(step);
        }
        None
    }
}

/// What the message line says about a step of the system clock.
pub fn step_message(step: chrono::TimeDelta) -> String {
    if step.abs() <= STEP {
        "the system clock agrees with the console's again".into()
    } else {
        format!(
            "the system clock jumped {} — ages, countdowns and retries go on by the console's own clock (the wall time at start + elapsed); until a restart, times shown are off by that much",
            describe_step(step)
        )
    }
}

/// `+1h 0m 3s`, `-59m 58s`, `+4s`: a step as the message line says it.
pub fn describe_step(step: chrono::TimeDelta) -> String {
    let sign = if step < chrono::TimeDelta::zero() {
        '-'
    } else {
        '+'
    };
    // Rounded: the two clocks are read a moment apart, so an hour's step reads 3599.998 s.
    let s = (step.num_milliseconds().unsigned_abs() + 500) / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{sign}{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{sign}{m}m {s}s")
    } else {
        format!("{sign}{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn anchor() -> Anchor {
        Anchor {
            wall: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            boot: Duration::from_secs(500),
        }
    }

    #[test]
    fn the_console_clock_follows_the_boot_clock_not_the_wall() {
        let a = anchor();
        assert_eq!(a.at(Duration::from_secs(500)), a.wall);
        assert_eq!(
            a.at(Duration::from_millis(503_250)),
            a.wall + chrono::TimeDelta::milliseconds(3_250)
        );
        // Never before the anchor.
        assert_eq!(a.at(Duration::from_secs(10)), a.wall);
    }

    #[test]
    fn each_step_is_reported_once() {
        let mut w = StepWatch::default();
        assert_eq!(w.check(chrono::TimeDelta::zero()), None);
        assert_eq!(w.check(chrono::TimeDelta::milliseconds(1_500)), None);
        let hour = chrono::TimeDelta::hours(1);
        assert_eq!(w.check(hour), Some(hour));
        assert_eq!(w.check(hour + chrono::TimeDelta::seconds(1)), None);
        // Back again (the step undone): said, as the clocks now agree.
        assert_eq!(
            w.check(chrono::TimeDelta::zero()),
            Some(chrono::TimeDelta::zero())
        );
        assert_eq!(w.check(-hour), Some(-hour));
    }

    #[test]
    fn steps_read_as_durations() {
        assert_eq!(describe_step(chrono::TimeDelta::seconds(3603)), "+1h 0m 3s");
        assert_eq!(describe_step(chrono::TimeDelta::seconds(-3598)), "-59m 58s");
        assert_eq!(describe_step(chrono::TimeDelta::seconds(4)), "+4s");
        assert_eq!(
            describe_step(chrono::TimeDelta::milliseconds(3_599_998)),
            "+1h 0m 0s"
        );
        assert_eq!(
            describe_step(chrono::TimeDelta::milliseconds(-3_599_998)),
            "-1h 0m 0s"
        );
    }

    /// Files that may read the system clock directly, and why.
    const WALL_CLOCK_READERS: &[(&str, &str)] = &[
        ("src/clock.rs", "the clock itself"),
        ("src/audit.rs", "the run id: a label, compared with nothing"),
        (
            "src/logging.rs",
            "a log line's time, beside tracing's own wall times",
        ),
        (
            "src/config.rs",
            "sensuctl's token expiry, a wall time in a file",
        ),
        ("src/cli/snapshot.rs", "one-shot command, no timers"),
        (
            "src/model/revclock.rs",
            "`Now::system`, replaced by `clock::now` wherever the app runs",
        ),
    ];

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn nothing_else_reads_the_system_clock() {
        // One `Utc::now()` in a source or the reducer's input and a clock step moves ages and
        // countdowns again; tests/it/clock_jumps.rs would not see it (its hook moves only what
        // this module reads). Test modules are left out.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        rust_files(&root.join("src"), &mut files);
        assert!(files.len() > 50, "read the tree: {}", files.len());
        let mut found = Vec::new();
        for f in files {
            let rel = f
                .strip_prefix(root)
                .unwrap_or(&f)
                .to_string_lossy()
                .into_owned();
            if WALL_CLOCK_READERS.iter().any(|(p, _)| *p == rel) {
                continue;
            }
            let text = std::fs::read_to_string(&f).expect("reading a source file");
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
            for (n, line) in code.lines().enumerate() {
                let line = line.trim_start();
                if line.starts_with("//") {
                    continue;
                }
                if ["Utc::now", "SystemTime::now", "Local::now"]
                    .iter()
                    .any(|w| line.contains(w))
                {
                    found.push(format!("{rel}:{}: {line}", n + 1));
                }
            }
        }
        assert!(
            found.is_empty(),
            "the system clock read outside crate::clock (use crate::clock::now()):\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn the_boot_clock_moves_forward() {
        let a = boot_clock();
        std::thread::sleep(Duration::from_millis(5));
        assert!(boot_clock() > a);
        let n = now();
        assert!(now() >= n);
    }
}

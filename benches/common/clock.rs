//! The benchmarks' clock: CPU time of the calling thread, so a loaded machine's waits for a core
//! are not counted as the code's time — or wall time when the bench's `*_CLOCK=wall` asks.
//! Also a criterion `Measurement` on it.

use std::time::{Duration, Instant};

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;

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

/// A point on the clock.
#[derive(Clone, Copy)]
pub struct Mark(Instant, u64);

/// Thread CPU time, or wall time when `wall`.
#[derive(Clone, Copy)]
pub struct Clock {
    pub wall: bool,
}

impl Clock {
    /// Wall time when the environment variable `var` is `wall`.
    pub fn from_env(var: &str) -> Clock {
        Clock {
            wall: std::env::var(var).is_ok_and(|v| v == "wall"),
        }
    }

    pub fn mark(&self) -> Mark {
        Mark(Instant::now(), if self.wall { 0 } else { thread_cpu_ns() })
    }

    pub fn since(&self, m: Mark) -> Duration {
        if self.wall {
            m.0.elapsed()
        } else {
            Duration::from_nanos(thread_cpu_ns().saturating_sub(m.1))
        }
    }
}

impl Measurement for Clock {
    type Intermediate = Mark;
    type Value = Duration;
    fn start(&self) -> Mark {
        self.mark()
    }
    fn end(&self, m: Mark) -> Duration {
        self.since(m)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanos
    }
}

struct Nanos;

impl ValueFormatter for Nanos {
    fn scale_values(&self, ns: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if ns < 1e3 {
            (1.0, "ns")
        } else if ns < 1e6 {
            (1e-3, "µs")
        } else if ns < 1e9 {
            (1e-6, "ms")
        } else {
            (1e-9, "s")
        };
        for v in values {
            *v *= factor;
        }
        unit
    }

    fn scale_throughputs(&self, _: f64, t: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match *t {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Elements(n) => n,
            Throughput::Bits(n) => n,
            Throughput::ElementsAndBytes { elements, .. } => elements,
        } as f64;
        for v in values {
            *v = n * 1e9 / *v;
        }
        "/s"
    }

    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}

//! Capped exponential backoff with full jitter, so a fleet of consoles does not reconnect in lockstep.

use std::time::Duration;

use rand::RngExt;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    /// No wait is shorter than this (the jitter's low end can be, for a small base).
    floor: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            floor: Duration::ZERO,
            attempt: 0,
        }
    }

    /// The same, never waiting less than `floor`.
    pub fn with_floor(mut self, floor: Duration) -> Self {
        self.floor = floor;
        self
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The ceiling for the next wait: base·2^attempt, capped.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(16)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// Next wait: uniformly in [ceiling/2, ceiling] (half jitter keeps a floor so retries are not instant).
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
        (half + Duration::from_millis(jitter)).max(self.floor)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(250), Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let mut last_ceiling = Duration::ZERO;
        for _ in 0..10 {
            let c = b.ceiling();
            assert!(c >= last_ceiling);
            let d = b.next_delay();
            assert!(d <= c && d >= c / 2, "{d:?} vs {c:?}");
            last_ceiling = c;
        }
        assert_eq!(b.ceiling(), Duration::from_secs(2));
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn the_floor_lifts_the_first_waits() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2))
            .with_floor(Duration::from_millis(100));
        assert_eq!(b.next_delay(), Duration::from_millis(100));
        let d = b.next_delay();
        assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(200));
    }
}

//! How times and durations read, the same on screen, in snapshots and in messages.

use chrono::{DateTime, Utc};

/// `45s`, `1m35s`, `2h05m`, `3d04h`: two units from a minute on, so a value never jumps from
/// `95s` to `1m` and a column never reads one unit where the next would be wrong by an hour.
pub fn duration_short(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub fn age(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> String {
    match then {
        Some(t) => duration_short((now - t).num_seconds()),
        None => "-".into(),
    }
}

/// A full timestamp in the display zone, with its offset.
pub fn timestamp(t: DateTime<Utc>, zone: super::DisplayZone) -> String {
    zone.stamp(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_short(5), "5s");
        assert_eq!(duration_short(45), "45s");
        assert_eq!(duration_short(95), "1m35s");
        assert_eq!(duration_short(600), "10m00s");
        assert_eq!(duration_short(3 * 3600 + 5 * 60), "3h05m");
        assert_eq!(duration_short(3 * 86_400 + 4 * 3600), "3d04h");
        assert_eq!(duration_short(-3), "0s");
    }
}

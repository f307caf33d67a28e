//! How times and durations read, the same on screen, in snapshots and in messages.

use chrono::{DateTime, Local, Utc};

/// 42s, 7m, 3h, 2d — the compact form k9s uses for ages.
pub fn duration_short(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0..=99 => format!("{s}s"),
        100..=5999 => format!("{}m", s / 60),
        6000..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

pub fn age(now: DateTime<Utc>, then: Option<DateTime<Utc>>) -> String {
    match then {
        Some(t) => duration_short((now - t).num_seconds()),
        None => "-".into(),
    }
}

pub fn timestamp(t: DateTime<Utc>, utc: bool) -> String {
    if utc {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    } else {
        t.with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_short(5), "5s");
        assert_eq!(duration_short(600), "10m");
        assert_eq!(duration_short(3 * 3600), "3h");
        assert_eq!(duration_short(3 * 86_400), "3d");
        assert_eq!(duration_short(-3), "0s");
    }
}

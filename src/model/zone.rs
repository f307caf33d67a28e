//! The one display zone every timestamp on screen is in: the console's local zone, UTC or a named
//! IANA zone (`zone = "Europe/Berlin"` in `[defaults]`, `--zone`). `Z` cycles them; times typed
//! by the user (`:at`, `t`, a silence's end) are read in it, with DST gaps refused and overlaps
//! said, never guessed silently.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayZone {
    Local,
    Utc,
    Named(chrono_tz::Tz),
}

/// A typed local time read in a zone: the instant, and what the user should be told about it
/// (the second reading of a time that happens twice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub at: DateTime<Utc>,
    pub note: Option<String>,
}

impl DisplayZone {
    /// Parse a zone name as `--zone` and the config take it: `local`, `UTC`, or an IANA name.
    pub fn parse(name: &str) -> Result<DisplayZone, String> {
        match name.trim() {
            "local" | "Local" => Ok(DisplayZone::Local),
            "UTC" | "utc" | "Z" => Ok(DisplayZone::Utc),
            other => other.parse::<chrono_tz::Tz>().map(DisplayZone::Named).map_err(|_| {
                // Debug-quoted: a name holding escape sequences is shown, never obeyed.
                format!("{other:?} is not an IANA zone name (e.g. Europe/Berlin, America/New_York, UTC, local)")
            }),
        }
    }

    /// The next zone `Z` shows: local → UTC → the configured one (if any) → local.
    pub fn next(self, configured: Option<chrono_tz::Tz>) -> DisplayZone {
        match (self, configured) {
            (DisplayZone::Local, _) => DisplayZone::Utc,
            (DisplayZone::Utc, Some(tz)) => DisplayZone::Named(tz),
            (DisplayZone::Utc, None) | (DisplayZone::Named(_), _) => DisplayZone::Local,
        }
    }

    /// The zone's offset from UTC at `t`.
    pub fn offset_at(self, t: DateTime<Utc>) -> FixedOffset {
        match self {
            DisplayZone::Local => t.with_timezone(&chrono::Local).offset().fix(),
            DisplayZone::Utc => FixedOffset::east_opt(0).expect("zero is a valid offset"),
            DisplayZone::Named(tz) => t.with_timezone(&tz).offset().fix(),
        }
    }

    /// `t` as a fixed-offset time in this zone, for formatting.
    pub fn at(self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.offset_at(t))
    }

    /// `UTC`, `+01:00` (local) or `Europe/Berlin +01:00`: what the status bar and titles say.
    pub fn label(self, now: DateTime<Utc>) -> String {
        match self {
            DisplayZone::Utc => "UTC".into(),
            DisplayZone::Local => format!("local {}", self.offset_at(now)),
            DisplayZone::Named(tz) => format!("{} {}", tz.name(), self.offset_at(now)),
        }
    }

    /// A full timestamp with its offset: `2026-12-05 14:02:00 UTC` / `… +01:00`.
    pub fn stamp(self, t: DateTime<Utc>) -> String {
        match self {
            DisplayZone::Utc => t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            _ => self.at(t).format("%Y-%m-%d %H:%M:%S %:z").to_string(),
        }
    }

    /// The time of day (`%H:%M:%S`) in this zone, for columns whose title names the zone.
    pub fn clock(self, t: DateTime<Utc>, format: &str) -> String {
        self.at(t).format(format).to_string()
    }

    /// The time of day with the zone said: `14:02:00 UTC`, `15:02:00 +01:00`.
    pub fn clock_with_offset(self, t: DateTime<Utc>) -> String {
        match self {
            DisplayZone::Utc => t.format("%H:%M:%S UTC").to_string(),
            _ => self.at(t).format("%H:%M:%S %:z").to_string(),
        }
    }

    /// The zone as an IANA zone, for what is computed in one (the histogram's bucket edges):
    /// the local zone by name from `TZ`, `/etc/timezone` or `/etc/localtime`, else UTC.
    pub fn as_tz(self) -> chrono_tz::Tz {
        match self {
            DisplayZone::Utc => chrono_tz::UTC,
            DisplayZone::Named(tz) => tz,
            DisplayZone::Local => local_tz(),
        }
    }

    /// Today's date in this zone.
    pub fn date(self, t: DateTime<Utc>) -> chrono::NaiveDate {
        self.at(t).date_naive()
    }

    /// A wall-clock time typed in this zone as an instant. A time that does not exist (the hour a
    /// DST change skips) is refused with what happened; one that exists twice (the hour a change
    /// repeats) is the first, and the note says so and names the second.
    pub fn resolve(self, naive: NaiveDateTime) -> Result<Resolved, String> {
        fn pick<Z: TimeZone>(z: &Z, naive: NaiveDateTime, name: &str) -> Result<Resolved, String> {
            match z.from_local_datetime(&naive) {
                LocalResult::Single(t) => Ok(Resolved {
                    at: t.with_timezone(&Utc),
                    note: None,
                }),
                LocalResult::Ambiguous(first, second) => Ok(Resolved {
                    at: first.with_timezone(&Utc),
                    note: Some(format!(
                        "{} happens twice in {name} (clocks go back): taking the first ({}), not the second ({})",
                        naive.format("%Y-%m-%d %H:%M"),
                        first.offset().fix(),
                        second.offset().fix()
                    )),
                }),
                LocalResult::None => Err(format!(
                    "{} does not exist in {name}: the clocks skip that hour (DST) — pick a time before or after it",
                    naive.format("%Y-%m-%d %H:%M")
                )),
            }
        }
        match self {
            DisplayZone::Utc => Ok(Resolved {
                at: naive.and_utc(),
                note: None,
            }),
            DisplayZone::Local => pick(&chrono::Local, naive, "the local zone"),
            DisplayZone::Named(tz) => pick(&tz, naive, tz.name()),
        }
    }
}

/// The machine's zone by IANA name (chrono's `Local` has only offsets).
fn local_tz() -> chrono_tz::Tz {
    let named = |s: &str| {
        s.trim()
            .trim_start_matches(':')
            .parse::<chrono_tz::Tz>()
            .ok()
    };
    std::env::var("TZ")
        .ok()
        .and_then(|t| named(&t))
        .or_else(|| {
            std::fs::read_to_string("/etc/timezone")
                .ok()
                .and_then(|t| named(&t))
        })
        .or_else(|| {
            let link = std::fs::read_link("/etc/localtime").ok()?;
            let s = link.to_string_lossy().into_owned();
            named(s.split_once("zoneinfo/")?.1)
        })
        .unwrap_or(chrono_tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn berlin() -> DisplayZone {
        DisplayZone::Named(chrono_tz::Tz::Europe__Berlin)
    }

    fn naive(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    #[test]
    fn cycles_local_utc_configured() {
        let tz = chrono_tz::Tz::Europe__Berlin;
        assert_eq!(DisplayZone::Local.next(Some(tz)), DisplayZone::Utc);
        assert_eq!(DisplayZone::Utc.next(Some(tz)), DisplayZone::Named(tz));
        assert_eq!(DisplayZone::Named(tz).next(Some(tz)), DisplayZone::Local);
        assert_eq!(DisplayZone::Utc.next(None), DisplayZone::Local);
    }

    #[test]
    fn stamps_say_their_offset() {
        let t = Utc.with_ymd_and_hms(2026, 12, 5, 13, 2, 0).unwrap();
        assert_eq!(DisplayZone::Utc.stamp(t), "2026-12-05 13:02:00 UTC");
        assert_eq!(berlin().stamp(t), "2026-12-05 14:02:00 +01:00");
        let summer = Utc.with_ymd_and_hms(2026, 7, 5, 13, 2, 0).unwrap();
        assert_eq!(berlin().clock_with_offset(summer), "15:02:00 +02:00");
        assert_eq!(berlin().label(t), "Europe/Berlin +01:00");
    }

    #[test]
    fn a_skipped_hour_is_refused() {
        // 2026-03-29: Berlin goes from 02:00 straight to 03:00.
        let e = berlin().resolve(naive(2026, 3, 29, 2, 30)).unwrap_err();
        assert!(
            e.contains("does not exist") && e.contains("Europe/Berlin"),
            "{e}"
        );
        let before = berlin().resolve(naive(2026, 3, 29, 1, 59)).unwrap();
        assert_eq!(
            before.at,
            Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap()
        );
        let after = berlin().resolve(naive(2026, 3, 29, 3, 0)).unwrap();
        assert_eq!(
            after.at,
            Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_repeated_hour_takes_the_first_and_says_so() {
        // 2026-10-25: Berlin's 02:00–03:00 happens twice (+02:00, then +01:00).
        let r = berlin().resolve(naive(2026, 10, 25, 2, 30)).unwrap();
        assert_eq!(r.at, Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap());
        let note = r.note.unwrap();
        assert!(
            note.contains("twice") && note.contains("+02:00") && note.contains("+01:00"),
            "{note}"
        );
        assert_eq!(
            DisplayZone::Utc
                .resolve(naive(2026, 10, 25, 2, 30))
                .unwrap()
                .note,
            None
        );
    }

    #[test]
    fn names_parse() {
        assert_eq!(DisplayZone::parse("UTC").unwrap(), DisplayZone::Utc);
        assert_eq!(DisplayZone::parse("local").unwrap(), DisplayZone::Local);
        assert_eq!(DisplayZone::parse("Europe/Berlin").unwrap(), berlin());
        assert!(DisplayZone::parse("Berlin").unwrap_err().contains("IANA"));
    }
}

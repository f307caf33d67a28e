//! Times the user types (`:at`, `t` in the logs pane, `T`, a silence's end), read in the display
//! zone: `-15m`, `+2h`, `14:02`, `14:02:30`, `yesterday 14:00`, `today 9:30`, `tomorrow 08:00`,
//! `2026-12-03 14:02`, `2026-12-03T14:02`, or RFC 3339 with its own offset. Pure; the prompts
//! echo [`echo`] (the time in the display zone and in UTC) before anything is committed.

use super::zone::{DisplayZone, Resolved};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

/// Which day a bare time of day (`14:02`) means: the last one that has passed (looking back, as
/// the time cursor does) or the next one to come (a silence's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lean {
    Past,
    Future,
}

/// Reads `text` as an instant; the error says only that it could not be read (callers add the
/// examples that fit their prompt) unless the zone refused the time (a DST gap).
pub fn parse(
    text: &str,
    now: DateTime<Utc>,
    zone: DisplayZone,
    lean: Lean,
) -> Result<Resolved, String> {
    let t = text.trim();
    let bad = || format!("cannot read the time \"{t}\"");
    let plain = |at| Ok(Resolved { at, note: None });
    if let Some(sign) = t.chars().next().filter(|c| *c == '-' || *c == '+') {
        let secs = relative_secs(&t[1..]).ok_or_else(bad)?;
        let d = Duration::try_seconds(secs).ok_or_else(bad)?;
        let at = if sign == '-' {
            now.checked_sub_signed(d)
        } else {
            now.checked_add_signed(d)
        };
        return at.map_or_else(|| Err(bad()), plain);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return plain(d.with_timezone(&Utc));
    }
    if let Some(n) = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| chrono::NaiveDateTime::parse_from_str(t, f).ok())
    {
        return zone.resolve(n);
    }
    let lower = t.to_ascii_lowercase();
    let today = zone.date(now);
    let (day, rest) = match lower.split_once(char::is_whitespace) {
        Some(("yesterday", rest)) => (today.pred_opt(), rest.trim()),
        Some(("today", rest)) => (Some(today), rest.trim()),
        Some(("tomorrow", rest)) => (today.succ_opt(), rest.trim()),
        _ => (None, t),
    };
    let time = time_of_day(rest).ok_or_else(bad)?;
    if let Some(day) = day {
        return zone.resolve(day.and_time(time));
    }
    bare_time(today, time, now, zone, lean)
}

/// A bare time of day: today's if that is on the right side of now, else the day before (looking
/// back) or after (looking ahead).
fn bare_time(
    today: NaiveDate,
    time: NaiveTime,
    now: DateTime<Utc>,
    zone: DisplayZone,
    lean: Lean,
) -> Result<Resolved, String> {
    let on_today = zone.resolve(today.and_time(time));
    let fits = |r: &Resolved| match lean {
        Lean::Past => r.at <= now,
        Lean::Future => r.at > now,
    };
    match on_today {
        Ok(r) if fits(&r) => Ok(r),
        // Today's does not fit (or does not exist today): the neighbouring day's.
        _ => {
            let other = match lean {
                Lean::Past => today.pred_opt(),
                Lean::Future => today.succ_opt(),
            };
            let other = other.ok_or_else(|| "that day is out of range".to_string())?;
            zone.resolve(other.and_time(time))
        }
    }
}

fn time_of_day(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(text, "%H:%M"))
        .ok()
}

/// `15m`, `2h`, `90s`, `1d`, `30` (minutes).
fn relative_secs(text: &str) -> Option<i64> {
    let (num, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = num.parse().ok()?;
    let per = match unit {
        "s" => 1,
        "m" | "" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(per)
}

/// What a prompt shows before the time is committed: the time in the display zone with its
/// offset, and in UTC when that is not the zone (`2026-12-05 14:02:00 +01:00 = 13:02:00 UTC`; the
/// UTC date only when it differs). Short enough for an 80-column prompt; a DST overlap is flagged.
pub fn echo(r: &Resolved, zone: DisplayZone) -> String {
    use chrono::Timelike;
    // Seconds only when typed: the echo has to fit beside the prompt on 80 columns.
    let clock = if r.at.second() == 0 {
        "%H:%M"
    } else {
        "%H:%M:%S"
    };
    let mut out = match zone {
        DisplayZone::Utc => r.at.format(&format!("%Y-%m-%d {clock} UTC")).to_string(),
        _ => {
            let utc = if zone.date(r.at) == r.at.date_naive() {
                format!("{clock} UTC")
            } else {
                format!("%m-%d {clock} UTC")
            };
            format!(
                "{} = {}",
                zone.at(r.at).format(&format!("%Y-%m-%d {clock} %:z")),
                r.at.format(&utc)
            )
        }
    };
    if r.note.is_some() {
        out.push_str(" (twice: 1st)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn berlin() -> DisplayZone {
        DisplayZone::Named(chrono_tz::Tz::Europe__Berlin)
    }

    fn now() -> DateTime<Utc> {
        // 10:00 in Berlin.
        Utc.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap()
    }

    fn at(text: &str, lean: Lean) -> DateTime<Utc> {
        parse(text, now(), berlin(), lean).unwrap().at
    }

    #[test]
    fn relative_times() {
        assert_eq!(at("-15m", Lean::Past), now() - Duration::minutes(15));
        assert_eq!(at("+2h", Lean::Future), now() + Duration::hours(2));
        assert_eq!(at("-1d", Lean::Past), now() - Duration::days(1));
        assert!(parse("-15x", now(), berlin(), Lean::Past).is_err());
        assert!(parse("-99999999999999d", now(), berlin(), Lean::Past).is_err());
    }

    #[test]
    fn times_of_day_are_in_the_display_zone() {
        // 09:30 Berlin is 08:30 UTC, today (it has passed).
        assert_eq!(
            at("09:30", Lean::Past),
            Utc.with_ymd_and_hms(2026, 12, 5, 8, 30, 0).unwrap()
        );
        // 11:00 has not come yet: looking back it is yesterday's, looking ahead today's.
        assert_eq!(
            at("11:00", Lean::Past),
            Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap()
        );
        assert_eq!(
            at("11:00", Lean::Future),
            Utc.with_ymd_and_hms(2026, 12, 5, 10, 0, 0).unwrap()
        );
        // 08:00 has passed: looking ahead it is tomorrow's.
        assert_eq!(
            at("08:00", Lean::Future),
            Utc.with_ymd_and_hms(2026, 12, 6, 7, 0, 0).unwrap()
        );
        assert_eq!(
            parse("09:30", now(), DisplayZone::Utc, Lean::Past)
                .unwrap()
                .at,
            Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap()
        );
    }

    #[test]
    fn named_days() {
        assert_eq!(
            at("yesterday 14:00", Lean::Past),
            Utc.with_ymd_and_hms(2026, 12, 4, 13, 0, 0).unwrap()
        );
        assert_eq!(
            at("Tomorrow 08:00", Lean::Past),
            Utc.with_ymd_and_hms(2026, 12, 6, 7, 0, 0).unwrap()
        );
        assert_eq!(
            at("today 9:30", Lean::Future),
            Utc.with_ymd_and_hms(2026, 12, 5, 8, 30, 0).unwrap()
        );
    }

    #[test]
    fn dates_and_rfc3339() {
        assert_eq!(
            at("2026-12-03 14:02", Lean::Past),
            Utc.with_ymd_and_hms(2026, 12, 3, 13, 2, 0).unwrap()
        );
        assert_eq!(
            at("2026-12-03T14:02:00Z", Lean::Past),
            Utc.with_ymd_and_hms(2026, 12, 3, 14, 2, 0).unwrap()
        );
    }

    #[test]
    fn dst_gap_and_overlap() {
        let e = parse("2026-03-29 02:30", now(), berlin(), Lean::Past).unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let r = parse("2026-10-25 02:30", now(), berlin(), Lean::Past).unwrap();
        assert_eq!(r.at, Utc.with_ymd_and_hms(2026, 10, 25, 0, 30, 0).unwrap());
        let said = echo(&r, berlin());
        assert_eq!(said, "2026-10-25 02:30 +02:00 = 00:30 UTC (twice: 1st)");
        // A bare time on the night the clocks skip: 02:30 does not exist today, so the
        // neighbouring day's 02:30 is meant.
        let spring = Utc.with_ymd_and_hms(2026, 3, 29, 12, 0, 0).unwrap();
        let r = parse("02:30", spring, berlin(), Lean::Past).unwrap();
        assert_eq!(r.at, Utc.with_ymd_and_hms(2026, 3, 28, 1, 30, 0).unwrap());
    }

    #[test]
    fn echo_says_both_zones() {
        let r = parse("09:30", now(), berlin(), Lean::Past).unwrap();
        assert_eq!(echo(&r, DisplayZone::Utc), "2026-12-05 08:30 UTC");
        assert_eq!(echo(&r, berlin()), "2026-12-05 09:30 +01:00 = 08:30 UTC");
        // Just after midnight in Berlin it is still the day before in UTC: both dates said.
        let r = parse("2026-12-05 00:30", now(), berlin(), Lean::Past).unwrap();
        assert_eq!(
            echo(&r, berlin()),
            "2026-12-05 00:30 +01:00 = 12-04 23:30 UTC"
        );
    }
}

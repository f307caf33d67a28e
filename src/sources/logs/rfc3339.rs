//! RFC 3339 stamps as log lines carry them (`2026-12-03T11:00:00.123456+01:00`), read by hand:
//! chrono's general parser was 4 % of log ingest. Anything but the plain shape — a leap second,
//! a lower-case `z`, a space for the `T`, an odd fraction — goes to chrono, so both read the same.

use chrono::{DateTime, Utc};

/// `text` as a UTC instant, or `None` where chrono's `parse_from_rfc3339` refuses it too.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    fast(text.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    })
}

/// `YYYY-MM-DDThh:mm:ss[.f{1,9}](Z|±hh:mm)`, else `None` (and chrono decides). Straight to
/// epoch seconds (days from the civil date), without chrono's checked date arithmetic.
fn fast(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let s = digits(&b[17..19])?;
    // A leap second (`:60`) is chrono's to read.
    if s > 59 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        const SCALE: [u32; 10] = [
            1_000_000_000,
            100_000_000,
            10_000_000,
            1_000_000,
            100_000,
            10_000,
            1_000,
            100,
            10,
            1,
        ];
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let n = end - start;
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(&b[start..end])? * SCALE[n];
        i = end;
    }
    let zone = b.get(i..)?;
    let secs = minute_start(b.first_chunk::<16>()?, zone)? + i64::from(s);
    // `DateTime::from_timestamp`, with the date of the last line's day kept: chrono's days-to-date
    // conversion was a third of a stamp, and a stream's lines share their day.
    let date = unix_day(secs.div_euclid(86_400))?;
    let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(
        u32::try_from(secs.rem_euclid(86_400)).ok()?,
        nanos,
    )?;
    Some(date.and_time(time).and_utc())
}

/// A minute as a stamp writes it (`YYYY-MM-DDThh:mm` and the zone) and its first second.
#[derive(Clone, Copy)]
struct Minute {
    head: [u8; 16],
    zone: [u8; 6],
    zone_len: u8,
    start: i64,
}

/// Minutes kept by [`minute_start`]: one per zone of a mix of formats (RFC 5424's `Z`, a JSON
/// template's `+00:00`, a forward format's local offset …) so they do not evict each other.
const KEPT_MINUTES: usize = 4;

/// Epoch seconds of the minute `head` (`YYYY-MM-DDThh:mm`) in `zone` (`Z` or `±hh:mm`), or
/// `None` when either is not what [`fast`] reads. The last minutes asked are kept: a stream's
/// stamps share their minute, and reading date, time and zone again was most of a stamp.
fn minute_start(head: &[u8; 16], zone: &[u8]) -> Option<i64> {
    thread_local! {
        static KEPT: std::cell::RefCell<([Option<Minute>; KEPT_MINUTES], usize)> =
            const { std::cell::RefCell::new(([None; KEPT_MINUTES], 0)) };
    }
    let kept = KEPT.with(|k| {
        k.borrow().0.iter().flatten().find_map(|m| {
            (m.head == *head && m.zone.get(..usize::from(m.zone_len)) == Some(zone))
                .then_some(m.start)
        })
    });
    if kept.is_some() {
        return kept;
    }
    let b = head;
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let (h, m) = (digits(&b[11..13])?, digits(&b[14..16])?);
    if h > 23 || m > 59 {
        return None;
    }
    let offset_secs: i64 = match zone {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = i64::from(digits(&[*h1, *h2])?);
            let om = i64::from(digits(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let start = days * 86_400 + i64::from(h * 3600 + m * 60) - offset_secs;
    let mut kept = [0u8; 6];
    kept[..zone.len()].copy_from_slice(zone);
    let minute = Minute {
        head: *head,
        zone: kept,
        zone_len: zone.len() as u8,
        start,
    };
    // The oldest kept minute gives way.
    KEPT.with(|k| {
        let (slots, next) = &mut *k.borrow_mut();
        slots[*next] = Some(minute);
        *next = (*next + 1) % KEPT_MINUTES;
    });
    Some(start)
}

/// The date `day` days after 1970-01-01, as chrono reckons it.
fn unix_day(day: i64) -> Option<chrono::NaiveDate> {
    thread_local! {
        static LAST: std::cell::Cell<Option<(i64, chrono::NaiveDate)>> =
            const { std::cell::Cell::new(None) };
    }
    if let Some((d, date)) = LAST.with(std::cell::Cell::get) {
        if d == day {
            return Some(date);
        }
    }
    // 719 163: days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
    let date = chrono::NaiveDate::from_num_days_from_ce_opt(i32::try_from(day + 719_163).ok()?)?;
    LAST.with(|c| c.set(Some((day, date))));
    Some(date)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chrono(text: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    #[test]
    fn reads_what_chrono_reads() {
        for text in [
            "2026-12-03T11:00:00Z",
            "2026-12-03T11:00:00.1Z",
            "2026-12-03T11:00:00.123456+01:00",
            "2026-12-03T11:00:00.123456789-09:30",
            "2026-12-03T00:30:00+02:00",
            "2026-01-01T00:00:00-00:00",
            "2016-12-31T23:59:60Z",
            "2026-12-03t11:00:00z",
            "2026-12-03 11:00:00Z",
            "2026-12-03T11:00:00.1234567891Z",
            "2026-02-30T11:00:00Z",
            "2026-12-03T24:00:00Z",
            "2026-12-03T11:00:00+24:00",
            "2026-12-03T11:00:00",
            "2026-12-03T11:00:00.Z",
            "2026-12-03T11:00:00+0100",
            "2026-12-03T11:00:00Zjunk",
            "+2026-12-03T11:00:00Z",
            "２026-12-03T11:00:00Z",
            "",
        ] {
            assert_eq!(parse(text), chrono(text), "{text:?}");
        }
    }

    /// The kept minute never answers for another: stamps sharing a minute but not a zone, a
    /// second or a fraction, and invalid ones between, read as chrono reads them in any order.
    #[test]
    fn the_kept_minute_answers_only_for_itself() {
        let stamps = [
            "2026-12-03T11:00:00Z",
            "2026-12-03T11:00:59.5Z",
            "2026-12-03T11:00:07+01:00",
            "2026-12-03T11:00:07-01:00",
            "2026-12-03T11:00:07+01:30",
            "2026-12-03T11:00:60Z",
            "2026-12-03T11:00:07+25:00",
            "2026-12-03T11:00:07Zx",
            "2026-12-03T11:01:07Z",
            "2026-12-04T11:00:07Z",
            "2026-02-29T11:00:07Z",
            "2024-02-29T11:00:07Z",
            "2026-12-03T11:00:07.Z",
        ];
        for (i, a) in stamps.iter().enumerate() {
            for b in &stamps[i..] {
                for text in [a, b, a, b, b, a] {
                    assert_eq!(parse(text), chrono(text), "{text:?} after {a:?}, {b:?}");
                }
            }
        }
    }

    /// The kept day against chrono's reckoning, across the range stamps can name (years 0–9999)
    /// and back and forth between days.
    #[test]
    fn unix_days_are_chronos() {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("date");
        for day in (-719_528..2_932_897).step_by(997).chain([0, 1, 0, -1, 0]) {
            let want = epoch.checked_add_signed(chrono::Duration::days(day));
            assert_eq!(unix_day(day), want, "{day}");
            assert_eq!(unix_day(day), want, "{day}, kept");
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_chrono_on_any_stamp_shaped_text(
            y in 0u32..10000, mo in 0u32..14, d in 0u32..33, h in 0u32..26, mi in 0u32..62,
            s in 0u32..62, frac in proptest::option::of("[0-9]{0,11}"),
            zone in "(Z|z|[+-][0-9]{2}:[0-9]{2})",
        ) {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{zone}");
            proptest::prop_assert_eq!(parse(&text), chrono(&text), "{}", text);
        }
    }
}

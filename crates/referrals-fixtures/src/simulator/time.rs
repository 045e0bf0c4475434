//! UTC date-times: parsing the API's timestamps and `$filter` literals, formatting "now".

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time with nanosecond precision, ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Instant {
    seconds: i64,
    nanos: u32,
}

/// Parses `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS` with an optional fraction (any number of digits,
/// nanoseconds kept) and an optional zone (`Z` or `±HH:MM`; none means UTC).
pub(crate) fn parse(text: &str) -> Option<Instant> {
    let bytes = text.as_bytes();
    let year = digits(bytes, 0, 4)?;
    expect(bytes, 4, b'-')?;
    let month = digits(bytes, 5, 2)?;
    expect(bytes, 7, b'-')?;
    let day = digits(bytes, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if bytes.len() == 10 {
        return Some(Instant {
            seconds: days * 86_400,
            nanos: 0,
        });
    }
    if !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let hour = digits(bytes, 11, 2)?;
    expect(bytes, 13, b':')?;
    let minute = digits(bytes, 14, 2)?;
    expect(bytes, 16, b':')?;
    let second = digits(bytes, 17, 2)?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut position = 19;
    let mut nanos: u32 = 0;
    if bytes.get(position) == Some(&b'.') {
        position += 1;
        let start = position;
        while let Some(digit) = bytes.get(position).filter(|b| b.is_ascii_digit()) {
            if position - start < 9 {
                nanos = nanos * 10 + u32::from(digit - b'0');
            }
            position += 1;
        }
        let count = position - start;
        if count == 0 {
            return None;
        }
        for _ in count..9 {
            nanos *= 10;
        }
    }
    let offset_seconds = match bytes.get(position) {
        None => 0,
        Some(b'Z' | b'z') if position + 1 == bytes.len() => 0,
        Some(sign @ (b'+' | b'-')) if position + 6 == bytes.len() => {
            let hours = digits(bytes, position + 1, 2)?;
            expect(bytes, position + 3, b':')?;
            let minutes = digits(bytes, position + 4, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'+' { offset } else { -offset }
        }
        Some(_) => return None,
    };
    Some(Instant {
        seconds: days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds,
        nanos,
    })
}

/// The current time as the API writes it: `YYYY-MM-DDTHH:MM:SS.fffffffZ` (7 fractional digits).
pub(crate) fn now_text() -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    format_utc(since_epoch)
}

fn format_utc(since_epoch: Duration) -> String {
    let seconds = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let rem = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:07}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        since_epoch.subsec_nanos() / 100
    )
}

fn digits(bytes: &[u8], start: usize, count: usize) -> Option<i64> {
    let slice = bytes.get(start..start + count)?;
    slice.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn expect(bytes: &[u8], position: usize, wanted: u8) -> Option<()> {
    (bytes.get(position) == Some(&wanted)).then_some(())
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's civil-to-days: days since 1970-01-01 for a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_and_zones_order_chronologically() {
        let whole = parse("2018-10-30T21:03:42Z").unwrap();
        let fraction = parse("2018-10-30T21:03:42.4579542Z").unwrap();
        let shifted = parse("2018-10-30T23:03:42.4579542+02:00").unwrap();
        assert!(whole < fraction);
        assert_eq!(fraction, shifted);
        assert_eq!(
            parse("2018-10-30").unwrap(),
            parse("2018-10-30T00:00:00").unwrap()
        );
    }

    #[test]
    fn malformed_timestamps_are_refused() {
        for bad in [
            "",
            "2018-13-01",
            "2018-02-30",
            "2018-10-30T25:00:00Z",
            "2018-10-30T21:03:42.Z",
            "2018-10-30T21:03:42Zjunk",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formatting_round_trips() {
        let text = format_utc(Duration::new(1_540_933_422, 457_954_200));
        assert_eq!(text, "2018-10-30T21:03:42.4579542Z");
        assert_eq!(
            parse(&text).unwrap(),
            parse("2018-10-30T21:03:42.4579542Z").unwrap()
        );
    }
}

//! UTC timestamps that keep their exact wire text.

use std::borrow::Cow;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month, PrimitiveDateTime, Time, UtcDateTime, UtcOffset};

/// A date-time exactly as the server wrote it (e.g. `2018-10-30T21:03:42.4579542Z`, seven
/// fractional digits), with a typed reading on demand.
///
/// Keeping the text means a re-encode is byte-identical and a decode never fails on a format the
/// server may start sending; [`Timestamp::to_unix_nanos`] and [`Timestamp::to_system_time`] parse
/// it as RFC 3339 when asked.
///
/// ```
/// use referrals_model::Timestamp;
///
/// let t = Timestamp::new("2018-10-30T21:03:42.4579542Z");
/// assert_eq!(t.to_unix_nanos()?, 1_540_933_422_457_954_200);
/// assert_eq!(Timestamp::from_unix_nanos(1_540_933_422_457_954_200), t);
/// # Ok::<(), referrals_model::TimestampError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Timestamp(String);

/// Why a [`Timestamp`]'s text is not an RFC 3339 date-time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError {
    text: String,
    reason: &'static str,
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an RFC 3339 date-time: {}",
            self.text, self.reason
        )
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// Wraps wire text as is; nothing is checked until a typed reading is asked for.
    pub fn new(text: impl Into<String>) -> Self {
        Timestamp(text.into())
    }

    /// The exact text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The timestamp of `nanos` nanoseconds since the Unix epoch, written the way the API writes
    /// them: UTC, seven fractional digits, `Z`.
    ///
    /// An instant beyond the years ±999 999, which no clock or timestamp text comes near, is
    /// written as the nearest one within them.
    pub fn from_unix_nanos(nanos: i128) -> Self {
        let at = UtcDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(if nanos < 0 {
            UtcDateTime::MIN
        } else {
            UtcDateTime::MAX
        });
        Timestamp(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            at.nanosecond() / 100,
        ))
    }

    /// The timestamp of a [`SystemTime`], in the API's format.
    pub fn from_system_time(time: SystemTime) -> Self {
        let nanos = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => after.as_nanos() as i128,
            Err(before) => -(before.duration().as_nanos() as i128),
        };
        Self::from_unix_nanos(nanos)
    }

    /// Nanoseconds since the Unix epoch (negative before 1970). Digits beyond nanoseconds are
    /// dropped.
    pub fn to_unix_nanos(&self) -> Result<i128, TimestampError> {
        unix_nanos_of(&self.0)
    }

    /// The instant as a [`SystemTime`].
    pub fn to_system_time(&self) -> Result<SystemTime, TimestampError> {
        system_time_of(&self.0)
    }
}

fn unix_nanos_of(text: &str) -> Result<i128, TimestampError> {
    parse_rfc3339(text).map_err(|reason| TimestampError {
        text: text.to_owned(),
        reason,
    })
}

fn system_time_of(text: &str) -> Result<SystemTime, TimestampError> {
    let nanos = unix_nanos_of(text)?;
    let magnitude = Duration::new(
        (nanos.unsigned_abs() / 1_000_000_000) as u64,
        (nanos.unsigned_abs() % 1_000_000_000) as u32,
    );
    let time = if nanos >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    time.ok_or_else(|| TimestampError {
        text: text.to_owned(),
        reason: "out of the range of SystemTime",
    })
}

/// A [`Timestamp`] of the borrowed model: the exact wire text, borrowed from the decoded input
/// when it has no escapes (see [the `borrowed` module](crate::borrowed)).
///
/// ```
/// use referrals_model::{Timestamp, borrowed::TimestampRef};
///
/// let t = TimestampRef::new("2018-10-30T21:03:42.4579542Z");
/// assert_eq!(t.to_unix_nanos()?, 1_540_933_422_457_954_200);
/// assert_eq!(t.into_owned(), Timestamp::new("2018-10-30T21:03:42.4579542Z"));
/// # Ok::<(), referrals_model::TimestampError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TimestampRef<'a>(Cow<'a, str>);

impl<'a> TimestampRef<'a> {
    /// Wraps wire text as is; nothing is checked until a typed reading is asked for.
    pub fn new(text: impl Into<Cow<'a, str>>) -> Self {
        TimestampRef(text.into())
    }

    /// The exact text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Nanoseconds since the Unix epoch, as [`Timestamp::to_unix_nanos`].
    pub fn to_unix_nanos(&self) -> Result<i128, TimestampError> {
        unix_nanos_of(&self.0)
    }

    /// The instant as a [`SystemTime`], as [`Timestamp::to_system_time`].
    pub fn to_system_time(&self) -> Result<SystemTime, TimestampError> {
        system_time_of(&self.0)
    }

    /// The owned [`Timestamp`].
    pub fn into_owned(self) -> Timestamp {
        Timestamp(self.0.into_owned())
    }
}

impl fmt::Display for TimestampRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de: 'a, 'a> crate::wire::Field<'de> for TimestampRef<'a> {
    type Wire = Self;
}

impl<'de: 'a, 'a> Deserialize<'de> for TimestampRef<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::wire::BorrowedStr::deserialize(deserializer).map(|text| TimestampRef(text.into()))
    }
}

impl crate::wire::IntoOwned for TimestampRef<'_> {
    type Owned = Timestamp;

    fn into_owned_field(self) -> Timestamp {
        self.into_owned()
    }
}

impl Serialize for TimestampRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl From<String> for Timestamp {
    fn from(text: String) -> Self {
        Timestamp(text)
    }
}

impl From<&str> for Timestamp {
    fn from(text: &str) -> Self {
        Timestamp(text.to_owned())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl crate::wire::Field<'_> for Timestamp {
    type Wire = Self;
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl Visitor<'_> for TextVisitor {
            type Value = Timestamp;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date-time string")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Ok(Timestamp(text.to_owned()))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<Timestamp, E> {
                Ok(Timestamp(text))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A UTC date-time (RFC 3339), up to 7 fractional digits, e.g. 2018-10-30T21:03:42.4579542Z.",
            "type": "string",
            "format": "date-time"
        })
    }
}

/// Reads RFC 3339 text (`T`, `t` or a space between date and time; any number of fractional
/// digits, those beyond nanoseconds dropped; `Z`, `z` or an offset up to ±23:59; no leap second)
/// as nanoseconds since the Unix epoch. The text is scanned here; the calendar (leap years,
/// month lengths, day numbers) is the `time` crate's.
fn parse_rfc3339(text: &str) -> Result<i128, &'static str> {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Result<u16, &'static str> {
        let part = bytes.get(range).ok_or("too short")?;
        part.iter().try_fold(0u16, |acc, &b| {
            if b.is_ascii_digit() {
                Ok(acc * 10 + u16::from(b - b'0'))
            } else {
                Err("expected a digit")
            }
        })
    };
    // Two digits always fit a `u8`.
    let two = |at: usize| digits(at..at + 2).map(|n| u8::try_from(n).unwrap_or(u8::MAX));
    let expect = |index: usize, allowed: &[u8], what: &'static str| -> Result<(), &'static str> {
        match bytes.get(index) {
            Some(b) if allowed.contains(b) => Ok(()),
            _ => Err(what),
        }
    };
    let year = digits(0..4)?;
    expect(4, b"-", "expected `-` after the year")?;
    let month = two(5)?;
    expect(7, b"-", "expected `-` after the month")?;
    let day = two(8)?;
    expect(10, b"Tt ", "expected `T` between date and time")?;
    let hour = two(11)?;
    expect(13, b":", "expected `:` after the hour")?;
    let minute = two(14)?;
    expect(16, b":", "expected `:` after the minutes")?;
    let second = two(17)?;
    let month = Month::try_from(month).map_err(|_| "month out of range")?;
    let date =
        Date::from_calendar_date(i32::from(year), month, day).map_err(|_| "day out of range")?;
    let time = Time::from_hms(hour, minute, second).map_err(|_| "time of day out of range")?;
    let mut index = 19;
    let mut nanos: i64 = 0;
    if bytes.get(index) == Some(&b'.') {
        index += 1;
        let start = index;
        while let Some(b) = bytes.get(index).filter(|b| b.is_ascii_digit()) {
            if index - start < 9 {
                nanos = nanos * 10 + i64::from(b - b'0');
            }
            index += 1;
        }
        let count = index - start;
        if count == 0 {
            return Err("expected digits after `.`");
        }
        for _ in count..9 {
            nanos *= 10;
        }
    }
    let offset_seconds = match bytes.get(index) {
        Some(b'Z' | b'z') => {
            index += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let hours = digits(index + 1..index + 3)?;
            expect(index + 3, b":", "expected `:` in the UTC offset")?;
            let minutes = digits(index + 4..index + 6)?;
            if hours > 23 || minutes > 59 {
                return Err("UTC offset out of range");
            }
            let offset = i32::from(hours) * 3600 + i32::from(minutes) * 60;
            index += 6;
            if *sign == b'+' { offset } else { -offset }
        }
        _ => return Err("expected `Z` or a UTC offset"),
    };
    if index != bytes.len() {
        return Err("unexpected text after the date-time");
    }
    let offset =
        UtcOffset::from_whole_seconds(offset_seconds).map_err(|_| "UTC offset out of range")?;
    let seconds = PrimitiveDateTime::new(date, time)
        .assume_offset(offset)
        .unix_timestamp();
    Ok(i128::from(seconds) * 1_000_000_000 + i128::from(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_api_format_and_offsets() {
        assert_eq!(
            Timestamp::new("1970-01-01T00:00:00Z").to_unix_nanos(),
            Ok(0)
        );
        assert_eq!(
            Timestamp::new("2018-11-03T00:00:00Z").to_unix_nanos(),
            Ok(1_541_203_200_000_000_000)
        );
        assert_eq!(
            Timestamp::new("2018-11-03T01:00:00+01:00").to_unix_nanos(),
            Ok(1_541_203_200_000_000_000)
        );
        assert_eq!(
            Timestamp::new("2018-10-29T21:24:52.040469Z").to_unix_nanos(),
            Ok(1_540_848_292_040_469_000)
        );
        assert_eq!(
            Timestamp::new("1969-12-31T23:59:59.9Z").to_unix_nanos(),
            Ok(-100_000_000)
        );
    }

    #[test]
    fn rejects_what_is_not_a_date_time_with_a_reason() {
        for bad in [
            "",
            "2018-13-01T00:00:00Z",
            "2018-02-29T00:00:00Z",
            "2018-01-01T24:00:00Z",
            "2018-01-01T00:00:00",
            "2018-01-01T00:00:00.Z",
            "2018-01-01T00:00:00Zjunk",
            "yesterday",
        ] {
            let error = Timestamp::new(bad).to_unix_nanos().unwrap_err();
            assert!(error.to_string().contains("is not an RFC 3339"), "{error}");
        }
    }

    #[test]
    fn the_calendar_is_proleptic_gregorian_from_year_0_to_9999() {
        let nanos = |text: &str| Timestamp::new(text).to_unix_nanos();
        for (text, seconds) in [
            ("0000-01-01T00:00:00Z", -62_167_219_200i128),
            ("0000-02-29T00:00:00Z", -62_162_121_600),
            ("1600-02-29T12:00:00Z", -11_670_955_200),
            ("2000-02-29T00:00:00Z", 951_782_400),
            ("2024-02-29T23:59:59Z", 1_709_251_199),
            ("9999-12-31T23:59:59Z", 253_402_300_799),
        ] {
            assert_eq!(nanos(text), Ok(seconds * 1_000_000_000), "{text}");
        }
        for leap_day_of_a_common_year in [
            "1900-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
        ] {
            let error = nanos(leap_day_of_a_common_year).unwrap_err();
            assert!(error.to_string().ends_with("day out of range"), "{error}");
        }
        for (bad, reason) in [
            ("2018-00-01T00:00:00Z", "month out of range"),
            ("2018-04-31T00:00:00Z", "day out of range"),
            ("2018-04-00T00:00:00Z", "day out of range"),
            ("2016-12-31T23:59:60Z", "time of day out of range"),
            ("2018-01-01T23:60:00Z", "time of day out of range"),
            ("2018-01-01T00:00:00+24:00", "UTC offset out of range"),
            ("2018-01-01T00:00:00-00:60", "UTC offset out of range"),
            ("+2018-01-01T00:00:00Z", "expected a digit"),
            ("12018-01-01T00:00:00Z", "expected `-` after the year"),
        ] {
            let error = nanos(bad).unwrap_err();
            assert!(error.to_string().ends_with(reason), "{bad}: {error}");
        }
    }

    #[test]
    fn offsets_separators_and_fractions_read_as_before() {
        let nanos = |text: &str| Timestamp::new(text).to_unix_nanos();
        let base = 1_541_203_200_000_000_000i128;
        for (text, expected) in [
            ("2018-11-03t00:00:00z", base),
            ("2018-11-03 00:00:00Z", base),
            ("2018-11-03T23:59:00+23:59", base),
            ("2018-11-02T00:01:00-23:59", base),
            ("2018-11-03T00:00:00.1Z", base + 100_000_000),
            ("2018-11-03T00:00:00.123456789Z", base + 123_456_789),
            ("2018-11-03T00:00:00.1234567899999Z", base + 123_456_789),
            ("2018-11-03T00:00:00.000000001-00:00", base + 1),
        ] {
            assert_eq!(nanos(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn the_years_an_offset_reaches_past_0_and_9999_are_written_as_before() {
        let canonical = |text: &str| {
            Timestamp::from_unix_nanos(Timestamp::new(text).to_unix_nanos().unwrap())
                .as_str()
                .to_owned()
        };
        assert_eq!(
            canonical("0000-01-01T00:00:00+01:00"),
            "-001-12-31T23:00:00.0000000Z"
        );
        assert_eq!(
            canonical("9999-12-31T23:59:59.5-01:00"),
            "10000-01-01T00:59:59.5000000Z"
        );
        assert_eq!(
            canonical("2024-02-29T00:30:00+01:00"),
            "2024-02-28T23:30:00.0000000Z"
        );
    }

    #[test]
    fn instants_beyond_the_years_999_999_are_written_as_the_nearest_that_has_a_date() {
        // Before the calendar came from the `time` crate, these were written with a year of 22
        // digits; no clock or timestamp text comes near them.
        assert_eq!(
            Timestamp::from_unix_nanos(i128::MAX).as_str(),
            "999999-12-31T23:59:59.9999999Z"
        );
        assert_eq!(
            Timestamp::from_unix_nanos(i128::MIN).as_str(),
            "-999999-01-01T00:00:00.0000000Z"
        );
    }

    proptest::proptest! {
        #[test]
        fn every_instant_from_year_0_to_9999_is_written_in_the_api_form_and_reads_back(
            hundreds in -621_672_192_000_000_000i128..=2_534_023_007_999_999_999,
        ) {
            let nanos = hundreds * 100;
            let t = Timestamp::from_unix_nanos(nanos);
            proptest::prop_assert_eq!(t.as_str().len(), "2018-10-30T21:03:42.4579542Z".len());
            proptest::prop_assert_eq!(t.to_unix_nanos(), Ok(nanos), "{}", t);
        }
    }

    #[test]
    fn writes_seven_fractional_digits_and_round_trips() {
        for nanos in [
            0i128,
            1_540_933_422_457_954_200,
            -100_000_000,
            253_402_300_799_999_999_900,
        ] {
            let t = Timestamp::from_unix_nanos(nanos);
            assert_eq!(t.to_unix_nanos(), Ok(nanos), "{t}");
        }
        assert_eq!(
            Timestamp::from_unix_nanos(0).as_str(),
            "1970-01-01T00:00:00.0000000Z"
        );
        assert_eq!(
            Timestamp::from_system_time(UNIX_EPOCH + Duration::from_secs(86_400)).as_str(),
            "1970-01-02T00:00:00.0000000Z"
        );
    }
}

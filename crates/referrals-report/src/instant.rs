//! Instants as nanoseconds since the Unix epoch (what [`referrals_model::Timestamp`] reads), and
//! the calendar weeks they fall in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::UtcDateTime;

/// `time` in nanoseconds since the Unix epoch (negative before it).
pub(crate) fn unix_nanos(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => i128::try_from(before.duration().as_nanos()).map_or(i128::MIN, |n| -n),
    }
}

/// The duration from `earlier` to `later` (zero when `later` is not after it), capped at
/// [`Duration::MAX`].
pub(crate) fn nanos_between(earlier: i128, later: i128) -> Duration {
    let nanos = later.saturating_sub(earlier).max(0).unsigned_abs();
    let seconds = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    // The remainder is below 10^9, which fits.
    let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Duration::new(seconds, sub)
}

/// An ISO 8601 week: weeks start on Monday, and week 1 holds the year's first Thursday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    /// The ISO week-numbering year (which differs from the calendar year around 1 January).
    pub year: i32,
    /// 1 to 53.
    pub week: u8,
}

impl IsoWeek {
    /// The week holding the instant `nanos` (UTC); `None` beyond the calendar's range.
    pub(crate) fn of_nanos(nanos: i128) -> Option<IsoWeek> {
        let date = UtcDateTime::from_unix_timestamp_nanos(nanos).ok()?.date();
        let (year, week, _) = date.to_iso_week_date();
        Some(IsoWeek { year, week })
    }

    /// The week before this one; `None` before the calendar's range.
    pub(crate) fn previous(self) -> Option<IsoWeek> {
        let monday =
            time::Date::from_iso_week_date(self.year, self.week, time::Weekday::Monday).ok()?;
        let (year, week, _) = monday.previous_day()?.to_iso_week_date();
        Some(IsoWeek { year, week })
    }
}

/// `2026-W49`.
impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i128 = 1_000_000_000;

    #[test]
    fn weeks_follow_iso_8601_across_the_new_year() {
        // 2021-01-01 (a Friday) is in 2020-W53; 2024-12-30 (a Monday) is in 2025-W01.
        assert_eq!(
            IsoWeek::of_nanos(1_609_459_200 * SECOND),
            Some(IsoWeek {
                year: 2020,
                week: 53
            })
        );
        let w = IsoWeek::of_nanos(1_735_516_800 * SECOND).unwrap();
        assert_eq!(w.to_string(), "2025-W01");
        assert_eq!(w.previous().unwrap().to_string(), "2024-W52");
        assert_eq!(
            IsoWeek {
                year: 2021,
                week: 1
            }
            .previous()
            .unwrap()
            .to_string(),
            "2020-W53"
        );
        assert_eq!(IsoWeek::of_nanos(i128::MAX), None);
    }

    #[test]
    fn instants_convert_both_ways_around_the_epoch() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(unix_nanos(before), -5 * SECOND);
        assert_eq!(
            unix_nanos(UNIX_EPOCH + Duration::from_millis(1500)),
            1_500_000_000
        );
        assert_eq!(nanos_between(-SECOND, SECOND), Duration::from_secs(2));
        assert_eq!(nanos_between(SECOND, 0), Duration::ZERO);
        assert_eq!(nanos_between(i128::MIN, i128::MAX).as_secs(), u64::MAX);
    }
}

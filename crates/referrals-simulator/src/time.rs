//! UTC date-times: reading the API's timestamps and `$filter` literals, writing "now". The
//! calendar arithmetic is the model's ([`Timestamp`]); this adds the lenient forms a `$filter`
//! literal may take (a bare date, no zone).

use std::time::SystemTime;

use referrals_model::Timestamp;

/// A point in time: nanoseconds since the Unix epoch, ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Instant(i128);

impl Instant {
    /// Nanoseconds since the Unix epoch.
    pub(crate) fn nanos(self) -> i128 {
        self.0
    }

    /// The instant `nanos` nanoseconds after the Unix epoch.
    pub(crate) fn from_nanos(nanos: i128) -> Self {
        Self(nanos)
    }
}

/// Parses `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS` with an optional fraction and an optional zone
/// (`Z` or `±HH:MM`; none means UTC).
pub(crate) fn parse(text: &str) -> Option<Instant> {
    let read = |text: String| Timestamp::new(text).to_unix_nanos().ok().map(Instant);
    if text.len() == 10 {
        return read(format!("{text}T00:00:00Z"));
    }
    let has_zone =
        text.ends_with(['Z', 'z']) || text.get(19..).is_some_and(|rest| rest.contains(['+', '-']));
    if has_zone {
        read(text.to_owned())
    } else {
        read(format!("{text}Z"))
    }
}

/// The current time as the API writes it: `YYYY-MM-DDTHH:MM:SS.fffffffZ` (7 fractional digits).
pub(crate) fn now_text() -> String {
    Timestamp::from_system_time(SystemTime::now())
        .as_str()
        .to_owned()
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
    fn now_is_written_in_the_api_format() {
        let now = now_text();
        assert_eq!(now.len(), "2018-10-30T21:03:42.4579542Z".len(), "{now}");
        assert!(parse(&now).is_some());
    }
}

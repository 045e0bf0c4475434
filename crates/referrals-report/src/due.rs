//! Which New referrals are about to expire (or already have, while still New): the selection,
//! soonest first, and the time left in words.

use std::fmt;
use std::time::{Duration, SystemTime};

use referrals_model::{Referral, ReferralStatus};

use crate::instant::{nanos_between, unix_nanos};

/// How long before its `expirationDateTime` a New referral counts as due when nothing else is
/// said: three days, what `referrals due` uses without `--within`.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(72 * 3600);

/// A New referral whose `expirationDateTime` falls before the horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    /// The referral as received.
    pub referral: Referral,
    /// How long it has left, or how long ago it expired, at the selection's `now`.
    pub left: TimeLeft,
    /// Its `expirationDateTime` in nanoseconds since the Unix epoch (the sort key).
    expires_at: i128,
}

/// The time from `now` to a referral's expiration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLeft {
    /// It expires this long after `now`.
    Left(Duration),
    /// It expired this long before `now` (or at `now` exactly), and is still New.
    Expired(Duration),
}

impl TimeLeft {
    /// True once the expiration has passed.
    pub fn is_expired(self) -> bool {
        matches!(self, TimeLeft::Expired(_))
    }
}

/// `in 5 h`, `in 3 d`, `in 40 min`, `expired 20 h ago`: whole units, rounded down, so a
/// referral is never shown with more time than it has.
impl fmt::Display for TimeLeft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeLeft::Left(left) => write!(f, "in {}", Amount(*left)),
            TimeLeft::Expired(ago) => write!(f, "expired {} ago", Amount(*ago)),
        }
    }
}

/// `duration` in one whole unit, rounded down: `less than a minute`, `40 min` (under 90
/// minutes), `5 h` (under 72 hours), `3 d`; as [`TimeLeft`] shows it.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(referrals_report::in_words(Duration::from_secs(72 * 3600)), "3 d");
/// assert_eq!(referrals_report::in_words(Duration::from_secs(90 * 60)), "1 h");
/// ```
pub fn in_words(duration: Duration) -> String {
    Amount(duration).to_string()
}

/// A duration in one whole unit: minutes under 90 minutes, hours under 72 hours, else days.
struct Amount(Duration);

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        match seconds {
            0..60 => f.write_str("less than a minute"),
            60..5_400 => write!(f, "{} min", seconds / 60),
            5_400..259_200 => write!(f, "{} h", seconds / 3_600),
            _ => write!(f, "{} d", seconds / 86_400),
        }
    }
}

/// The referrals [`DueSelector`] chose, soonest first, and the New referrals it could not judge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DueList {
    /// The due referrals, soonest expiration first (ties by id).
    pub due: Vec<Due>,
    /// The ids of New referrals without a readable `expirationDateTime` (absent, or not RFC
    /// 3339): they may be due, and nobody can tell.
    pub unknown_expiration: Vec<String>,
}

impl DueList {
    /// How many of the due referrals have already expired.
    pub fn expired(&self) -> usize {
        self.due.iter().filter(|due| due.left.is_expired()).count()
    }
}

/// Chooses, from referrals offered one at a time, the New ones whose `expirationDateTime` falls
/// before `now + within`, including those already past it. Only the chosen ones are kept, so a
/// listing of any length can be fed through it.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use referrals_model::Referral;
/// use referrals_report::DueSelector;
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14T22:13:20Z
/// let referral = |id: &str, expires: &str| -> Referral {
///     serde_json::from_value(serde_json::json!(
///         {"id": id, "status": "New", "expirationDateTime": expires})).unwrap()
/// };
/// let mut selector = DueSelector::new(now, Duration::from_secs(72 * 3600));
/// selector.offer(referral("later", "2023-11-30T00:00:00Z"));
/// selector.offer(referral("soon", "2023-11-15T03:13:20Z"));
/// selector.offer(referral("gone", "2023-11-14T02:13:20Z"));
/// let list = selector.finish();
/// let shown: Vec<String> = list.due.iter()
///     .map(|d| format!("{} {}", d.referral.id.as_deref().unwrap_or(""), d.left))
///     .collect();
/// assert_eq!(shown, ["gone expired 20 h ago", "soon in 5 h"]);
/// ```
#[derive(Debug, Clone)]
pub struct DueSelector {
    now: i128,
    horizon: i128,
    list: DueList,
}

impl DueSelector {
    /// A selector of what expires before `now + within`.
    pub fn new(now: SystemTime, within: Duration) -> DueSelector {
        let now = unix_nanos(now);
        DueSelector {
            now,
            horizon: now.saturating_add(within.as_nanos().try_into().unwrap_or(i128::MAX)),
            list: DueList::default(),
        }
    }

    /// Considers one referral: kept when it is New and expires before the horizon.
    pub fn offer(&mut self, referral: Referral) {
        if referral.status != Some(ReferralStatus::New) {
            return;
        }
        let expires_at = referral
            .expiration_date_time
            .as_ref()
            .and_then(|t| t.to_unix_nanos().ok());
        let Some(expires_at) = expires_at else {
            let id = referral.id.unwrap_or_default();
            self.list.unknown_expiration.push(id);
            return;
        };
        if expires_at >= self.horizon {
            return;
        }
        let left = if expires_at > self.now {
            TimeLeft::Left(nanos_between(self.now, expires_at))
        } else {
            TimeLeft::Expired(nanos_between(expires_at, self.now))
        };
        self.list.due.push(Due {
            referral,
            left,
            expires_at,
        });
    }

    /// The due referrals, soonest first.
    pub fn finish(mut self) -> DueList {
        self.list.due.sort_by(|a, b| {
            a.expires_at
                .cmp(&b.expires_at)
                .then_with(|| a.referral.id.cmp(&b.referral.id))
        });
        self.list.unknown_expiration.sort();
        self.list
    }
}

/// The due referrals among `referrals` (see [`DueSelector`]).
pub fn select_due(
    referrals: impl IntoIterator<Item = Referral>,
    now: SystemTime,
    within: Duration,
) -> DueList {
    let mut selector = DueSelector::new(now, within);
    for referral in referrals {
        selector.offer(referral);
    }
    selector.finish()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    const HOUR: u64 = 3600;

    fn now() -> SystemTime {
        // 2026-12-04T12:00:00Z
        UNIX_EPOCH + Duration::from_secs(1_796_385_600)
    }

    fn referral(id: &str, status: &str, expires: Option<&str>) -> Referral {
        let mut value = serde_json::json!({"id": id, "status": status});
        if let Some(expires) = expires {
            value["expirationDateTime"] = expires.into();
        }
        serde_json::from_value(value).unwrap()
    }

    fn ids(list: &DueList) -> Vec<&str> {
        list.due
            .iter()
            .map(|d| d.referral.id.as_deref().unwrap())
            .collect()
    }

    #[test]
    fn only_new_referrals_before_the_horizon_soonest_first() {
        let list = select_due(
            [
                referral("in-80h", "New", Some("2026-12-07T20:00:00Z")),
                referral("in-5h", "New", Some("2026-12-04T17:00:00Z")),
                referral("active-soon", "Active", Some("2026-12-04T13:00:00Z")),
                referral("expired", "New", Some("2026-12-03T16:00:00.1234567Z")),
                referral("in-71h", "New", Some("2026-12-07T11:00:00Z")),
                referral("at-horizon", "New", Some("2026-12-07T12:00:00Z")),
                referral("unknown-status", "OnHold", Some("2026-12-04T13:00:00Z")),
            ],
            now(),
            DEFAULT_WITHIN,
        );
        assert_eq!(ids(&list), ["expired", "in-5h", "in-71h"]);
        let words: Vec<String> = list.due.iter().map(|d| d.left.to_string()).collect();
        assert_eq!(words, ["expired 19 h ago", "in 5 h", "in 71 h"]);
        assert_eq!(list.expired(), 1);
        assert!(list.unknown_expiration.is_empty());
    }

    #[test]
    fn a_longer_horizon_takes_more_and_ties_go_by_id() {
        let referrals = || {
            [
                referral("b", "New", Some("2026-12-10T12:00:00Z")),
                referral("a", "New", Some("2026-12-10T12:00:00Z")),
                referral("c", "New", Some("2026-12-04T12:30:00Z")),
            ]
        };
        let short = select_due(referrals(), now(), Duration::from_secs(90 * 60));
        assert_eq!(ids(&short), ["c"]);
        assert_eq!(short.due[0].left.to_string(), "in 30 min");
        let long = select_due(referrals(), now(), Duration::from_secs(7 * 24 * HOUR));
        assert_eq!(ids(&long), ["c", "a", "b"]);
        assert_eq!(long.due[1].left.to_string(), "in 6 d");
    }

    #[test]
    fn new_referrals_without_a_readable_expiration_are_named_not_guessed() {
        let list = select_due(
            [
                referral("none", "New", None),
                referral("garbled", "New", Some("next tuesday")),
                referral("closed", "Closed", None),
            ],
            now(),
            DEFAULT_WITHIN,
        );
        assert!(list.due.is_empty());
        assert_eq!(list.unknown_expiration, ["garbled", "none"]);
    }

    #[test]
    fn time_left_in_words_rounds_down_in_one_unit() {
        let words = |left| TimeLeft::Left(Duration::from_secs(left)).to_string();
        assert_eq!(words(0), "in less than a minute");
        assert_eq!(words(59), "in less than a minute");
        assert_eq!(words(60), "in 1 min");
        assert_eq!(words(89 * 60 + 59), "in 89 min");
        assert_eq!(words(90 * 60), "in 1 h");
        assert_eq!(words(5 * HOUR + 3599), "in 5 h");
        assert_eq!(words(71 * HOUR + 3599), "in 71 h");
        assert_eq!(words(72 * HOUR), "in 3 d");
        let expired = TimeLeft::Expired(Duration::from_secs(20 * HOUR + 10));
        assert_eq!(expired.to_string(), "expired 20 h ago");
        assert!(expired.is_expired());
    }

    #[test]
    fn an_expiration_at_now_has_expired_and_far_dates_do_not_overflow() {
        let list = select_due(
            [
                referral("now", "New", Some("2026-12-04T12:00:00Z")),
                referral("ancient", "New", Some("0001-01-01T00:00:00Z")),
                referral("far", "New", Some("9999-12-31T23:59:59Z")),
            ],
            now(),
            Duration::MAX,
        );
        assert_eq!(ids(&list), ["ancient", "now", "far"]);
        assert_eq!(list.due[1].left, TimeLeft::Expired(Duration::ZERO));
        assert!(list.due[0].left.to_string().ends_with(" d ago"));
    }
}

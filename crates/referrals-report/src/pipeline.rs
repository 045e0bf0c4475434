//! The pipeline's aggregates, folded one referral at a time: counts by status and substatus,
//! the open deal value by currency, new against accepted and won per ISO week, and the time
//! from creation to acceptance.

use std::collections::BTreeMap;
use std::time::Duration;

use referrals_model::{Referral, ReferralStatus, ReferralSubstatus};

use crate::instant::{IsoWeek, nanos_between};

/// The known statuses in the order of a referral's life; unknown ones follow, by name.
const LIFECYCLE: [&str; 3] = ["New", "Active", "Closed"];

/// How many referrals have one status, and how they split by substatus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCount {
    /// Referrals with this status.
    pub count: u64,
    /// By substatus as sent (`""`: none), in name order.
    pub substatuses: BTreeMap<String, u64>,
}

/// The deal value of the open (New or Active) referrals in one currency.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CurrencyValue {
    /// The sum of their `details.dealValue`.
    pub value: f64,
    /// How many referrals the sum is of (those with a numeric deal value).
    pub referrals: u64,
}

/// The referrals created in one ISO week, and what became of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WeekCounts {
    /// Created that week.
    pub new: u64,
    /// Of those, accepted since (an `acceptedDateTime`, status Active, or substatus Won).
    pub accepted: u64,
    /// Of those, closed as won.
    pub won: u64,
}

/// A bucket of the creation-to-acceptance distribution: the times in `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// What the bucket is called on a chart, e.g. `4–24 h`.
    pub label: &'static str,
    /// Its lower bound (inclusive).
    pub from: Duration,
    /// Its upper bound (exclusive); `None` for the last bucket.
    pub to: Option<Duration>,
    /// The referrals in it.
    pub count: u64,
}

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// The buckets' labels and lower bounds, in seconds.
const BUCKETS: [(&str, u64); 8] = [
    ("< 1 h", 0),
    ("1–4 h", HOUR),
    ("4–24 h", 4 * HOUR),
    ("1–2 d", DAY),
    ("2–3 d", 2 * DAY),
    ("3–7 d", 3 * DAY),
    ("7–14 d", 7 * DAY),
    ("≥ 14 d", 14 * DAY),
];

/// The pipeline of a set of referrals, e.g. every referral of a mirror (see
/// [`Report::from_mirror`](crate::Report::from_mirror)).
///
/// ```
/// use referrals_model::Referral;
/// use referrals_report::Pipeline;
///
/// let referrals: Vec<Referral> = serde_json::from_str(r#"[
///     {"status": "New", "substatus": "Pending", "details": {"dealValue": 100, "currency": "EUR"}},
///     {"status": "Active", "substatus": "Accepted", "details": {"dealValue": "50.5", "currency": "EUR"}},
///     {"status": "Closed", "substatus": "Won", "details": {"dealValue": 1000, "currency": "EUR"}}
/// ]"#).unwrap();
/// let pipeline = Pipeline::of(&referrals);
/// assert_eq!(pipeline.total, 3);
/// assert_eq!(pipeline.by_status["Closed"].substatuses["Won"], 1);
/// assert_eq!(pipeline.open_value["EUR"].value, 150.5); // won deals are not open
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pipeline {
    /// Every referral counted.
    pub total: u64,
    /// By status as sent (`""`: none).
    pub by_status: BTreeMap<String, StatusCount>,
    /// The open deal value by currency as sent (`""`: none).
    pub open_value: BTreeMap<String, CurrencyValue>,
    /// Open referrals without a numeric deal value.
    pub open_without_value: u64,
    /// By the ISO week of `createdDateTime` (referrals without a readable one are not counted).
    pub weeks: BTreeMap<IsoWeek, WeekCounts>,
    /// The times from `createdDateTime` to `acceptedDateTime`, in seconds, of the referrals
    /// that have both in order.
    acceptance_seconds: Vec<u64>,
}

impl Pipeline {
    /// The pipeline of `referrals`.
    pub fn of<'a>(referrals: impl IntoIterator<Item = &'a Referral>) -> Pipeline {
        let mut pipeline = Pipeline::default();
        for referral in referrals {
            pipeline.add(referral);
        }
        pipeline
    }

    /// Counts one more referral.
    pub fn add(&mut self, referral: &Referral) {
        self.total += 1;
        let status = referral.status.as_ref().map_or("", ReferralStatus::as_str);
        let substatus = referral
            .substatus
            .as_ref()
            .map_or("", ReferralSubstatus::as_str);
        let entry = self.by_status.entry(status.to_owned()).or_default();
        entry.count += 1;
        *entry.substatuses.entry(substatus.to_owned()).or_default() += 1;

        let open = matches!(
            referral.status,
            Some(ReferralStatus::New | ReferralStatus::Active)
        );
        if open {
            let details = referral.details.as_ref();
            let value = details
                .and_then(|d| d.deal_value.as_ref())
                .and_then(|v| v.as_f64());
            match value {
                Some(value) => {
                    let currency = details.and_then(|d| d.currency.clone()).unwrap_or_default();
                    let sum = self.open_value.entry(currency).or_default();
                    sum.value += value;
                    sum.referrals += 1;
                }
                None => self.open_without_value += 1,
            }
        }

        let created = nanos_of(referral.created_date_time.as_ref());
        let accepted_at = nanos_of(referral.accepted_date_time.as_ref());
        let won = referral.substatus == Some(ReferralSubstatus::Won);
        let accepted =
            accepted_at.is_some() || referral.status == Some(ReferralStatus::Active) || won;
        if let Some(week) = created.and_then(IsoWeek::of_nanos) {
            let counts = self.weeks.entry(week).or_default();
            counts.new += 1;
            counts.accepted += u64::from(accepted);
            counts.won += u64::from(won);
        }
        if let (Some(created), Some(accepted_at)) = (created, accepted_at) {
            if accepted_at >= created {
                self.acceptance_seconds
                    .push(nanos_between(created, accepted_at).as_secs());
            }
        }
    }

    /// The statuses with their counts: New, Active and Closed first (those present), then the
    /// others by name.
    pub fn statuses(&self) -> Vec<(&str, &StatusCount)> {
        let mut statuses: Vec<(&str, &StatusCount)> = LIFECYCLE
            .iter()
            .filter_map(|name| self.by_status.get_key_value(*name))
            .map(|(name, count)| (name.as_str(), count))
            .collect();
        statuses.extend(
            self.by_status
                .iter()
                .filter(|(name, _)| !LIFECYCLE.contains(&name.as_str()))
                .map(|(name, count)| (name.as_str(), count)),
        );
        statuses
    }

    /// The referrals with this status (0 when none).
    pub fn count(&self, status: &str) -> u64 {
        self.by_status.get(status).map_or(0, |s| s.count)
    }

    /// The `n` ISO weeks up to and including `last` (oldest first), with their counts (zero for
    /// weeks without a referral created).
    pub fn weeks_up_to(&self, last: IsoWeek, n: usize) -> Vec<(IsoWeek, WeekCounts)> {
        let mut weeks = Vec::with_capacity(n);
        let mut week = Some(last);
        while let Some(current) = week.filter(|_| weeks.len() < n) {
            let counts = self.weeks.get(&current).copied().unwrap_or_default();
            weeks.push((current, counts));
            week = current.previous();
        }
        weeks.reverse();
        weeks
    }

    /// The creation-to-acceptance times by bucket, from `< 1 h` to `≥ 14 d`.
    pub fn acceptance_buckets(&self) -> Vec<Bucket> {
        let mut buckets: Vec<Bucket> = BUCKETS
            .iter()
            .enumerate()
            .map(|(i, (label, from))| Bucket {
                label,
                from: Duration::from_secs(*from),
                to: BUCKETS.get(i + 1).map(|(_, to)| Duration::from_secs(*to)),
                count: 0,
            })
            .collect();
        for seconds in &self.acceptance_seconds {
            let at = BUCKETS.partition_point(|(_, from)| from <= seconds);
            if let Some(bucket) = at.checked_sub(1).and_then(|i| buckets.get_mut(i)) {
                bucket.count += 1;
            }
        }
        buckets
    }

    /// How many referrals have both a creation and an acceptance time, in order.
    pub fn accepted_with_times(&self) -> usize {
        self.acceptance_seconds.len()
    }

    /// The median time from creation to acceptance (the lower middle one of an even count);
    /// `None` when no referral has both times.
    pub fn median_acceptance(&self) -> Option<Duration> {
        let mut seconds = self.acceptance_seconds.clone();
        let middle = seconds.len().checked_sub(1)? / 2;
        let (_, median, _) = seconds.select_nth_unstable(middle);
        Some(Duration::from_secs(*median))
    }
}

fn nanos_of(timestamp: Option<&referrals_model::Timestamp>) -> Option<i128> {
    timestamp.and_then(|t| t.to_unix_nanos().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referrals(json: &str) -> Vec<Referral> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn statuses_come_in_lifecycle_order_with_unknown_ones_kept() {
        let pipeline = Pipeline::of(&referrals(
            r#"[{"status":"Closed","substatus":"Lost"},{"status":"OnHold"},
                {"status":"New","substatus":"Pending"},{"status":"Closed","substatus":"Won"},
                {"status":"Closed","substatus":"Won"},{}]"#,
        ));
        assert_eq!(pipeline.total, 6);
        let names: Vec<(&str, u64)> = pipeline
            .statuses()
            .iter()
            .map(|(name, s)| (*name, s.count))
            .collect();
        assert_eq!(
            names,
            [("New", 1), ("Closed", 3), ("", 1), ("OnHold", 1)],
            "known first, then by name"
        );
        assert_eq!(pipeline.by_status["Closed"].substatuses["Won"], 2);
        assert_eq!(pipeline.by_status["OnHold"].substatuses[""], 1);
        assert_eq!(pipeline.count("Active"), 0);
    }

    #[test]
    fn open_value_sums_new_and_active_by_currency() {
        let pipeline = Pipeline::of(&referrals(
            r#"[{"status":"New","details":{"dealValue":100,"currency":"USD"}},
                {"status":"Active","details":{"dealValue":"250.25","currency":"USD"}},
                {"status":"Active","details":{"dealValue":7,"currency":"EUR"}},
                {"status":"Active","details":{"dealValue":"n/a","currency":"EUR"}},
                {"status":"New","details":{"dealValue":3}},
                {"status":"Closed","details":{"dealValue":1000,"currency":"USD"}}]"#,
        ));
        assert_eq!(
            pipeline.open_value["USD"],
            CurrencyValue {
                value: 350.25,
                referrals: 2
            }
        );
        assert_eq!(pipeline.open_value["EUR"].referrals, 1);
        assert_eq!(pipeline.open_value[""].value, 3.0);
        assert_eq!(pipeline.open_without_value, 1);
    }

    #[test]
    fn weeks_count_creations_and_what_became_of_them() {
        // 2026-11-30 is the Monday of 2026-W49.
        let pipeline = Pipeline::of(&referrals(
            r#"[{"status":"New","createdDateTime":"2026-11-30T00:00:00Z"},
                {"status":"Active","createdDateTime":"2026-12-06T23:59:59Z"},
                {"status":"Closed","substatus":"Won","createdDateTime":"2026-12-02T10:00:00Z"},
                {"status":"Closed","substatus":"Declined","createdDateTime":"2026-11-29T10:00:00Z"},
                {"status":"Closed","substatus":"Lost","createdDateTime":"2026-11-29T10:00:00Z",
                 "acceptedDateTime":"2026-11-29T12:00:00Z"},
                {"status":"New","createdDateTime":"garbled"}]"#,
        ));
        let w49 = IsoWeek {
            year: 2026,
            week: 49,
        };
        let w48 = IsoWeek {
            year: 2026,
            week: 48,
        };
        assert_eq!(
            pipeline.weeks[&w49],
            WeekCounts {
                new: 3,
                accepted: 2,
                won: 1
            }
        );
        assert_eq!(
            pipeline.weeks[&w48],
            WeekCounts {
                new: 2,
                accepted: 1,
                won: 0
            }
        );
        let shown = pipeline.weeks_up_to(w49, 4);
        let labels: Vec<String> = shown.iter().map(|(w, _)| w.to_string()).collect();
        assert_eq!(labels, ["2026-W46", "2026-W47", "2026-W48", "2026-W49"]);
        assert_eq!(shown[0].1, WeekCounts::default());
        assert_eq!(shown[3].1.new, 3);
    }

    #[test]
    fn acceptance_times_fall_in_buckets_with_a_median() {
        let accepted = |hours: f64| {
            let created = 1_796_385_600i64;
            let accepted = created + (hours * 3600.0) as i64;
            serde_json::json!({
                "status": "Active",
                "createdDateTime": referrals_model::Timestamp::from_unix_nanos(
                    i128::from(created) * 1_000_000_000).as_str(),
                "acceptedDateTime": referrals_model::Timestamp::from_unix_nanos(
                    i128::from(accepted) * 1_000_000_000).as_str(),
            })
        };
        let list: Vec<Referral> = serde_json::from_value(serde_json::json!([
            accepted(0.5),
            accepted(1.0),
            accepted(30.0),
            accepted(30.0),
            accepted(24.0 * 20.0),
            // Accepted before it was created: inconsistent, left out.
            accepted(-2.0),
            {"status": "Active", "createdDateTime": "2026-12-01T00:00:00Z"},
        ]))
        .unwrap();
        let pipeline = Pipeline::of(&list);
        let counts: Vec<(&str, u64)> = pipeline
            .acceptance_buckets()
            .iter()
            .map(|b| (b.label, b.count))
            .collect();
        assert_eq!(
            counts,
            [
                ("< 1 h", 1),
                ("1–4 h", 1),
                ("4–24 h", 0),
                ("1–2 d", 2),
                ("2–3 d", 0),
                ("3–7 d", 0),
                ("7–14 d", 0),
                ("≥ 14 d", 1)
            ]
        );
        assert_eq!(pipeline.accepted_with_times(), 5);
        assert_eq!(
            pipeline.median_acceptance(),
            Some(Duration::from_secs(30 * 3600))
        );
        assert_eq!(Pipeline::default().median_acceptance(), None);
        let last = pipeline.acceptance_buckets()[7];
        assert_eq!(last.to, None);
    }
}

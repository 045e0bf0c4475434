//! What a checkpoint of a partitioned listing holds (its serde form is part of the
//! [`Checkpoint`](crate::Checkpoint)'s), and the checks it passes before a listing resumes
//! from it.

use super::range::MAX_TIES;
use super::span::{Bounds, Order, Tick};
use crate::checkpoint::{CheckpointError, Position};

/// The most ranges a checkpoint may hold (a listing plans far fewer: see `MAX_RANGES`).
const MAX_STORED_RANGES: usize = 4_096;

/// The last `createdDateTime` a range yielded, and the ids of the referrals yielded at exactly
/// that instant: with the listing's order, all a sequential fallback needs to skip what the
/// range yielded, in memory that does not grow with the range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Last {
    /// Nanoseconds since the Unix epoch.
    pub(crate) at: i128,
    /// Ids yielded at `at`.
    pub(crate) ties: Vec<String>,
}

/// The serde form of [`Last`]: the instant as a decimal string (JSON numbers are not meant
/// for 128-bit integers).
#[derive(serde::Serialize, serde::Deserialize)]
struct LastForm {
    at: String,
    ties: Vec<String>,
}

impl serde::Serialize for Last {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        LastForm {
            at: self.at.to_string(),
            ties: self.ties.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Last {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Last, D::Error> {
        let form = LastForm::deserialize(deserializer)?;
        let at = form
            .at
            .parse()
            .map_err(|_| serde::de::Error::custom("`at` is not a number of nanoseconds"))?;
        Ok(Last {
            at,
            ties: form.ties,
        })
    }
}

/// Where a partitioned listing stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PartitionState {
    /// The order of the ranges' listings.
    pub(crate) order: Order,
    /// True when the output keeps that order (an explicit `$orderby` on `createdDateTime`).
    pub(crate) ordered: bool,
    /// How many referrals matched when the listing was planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) total: Option<u64>,
    /// The newest `createdDateTime` when the listing was planned (where an open-ended range is
    /// cut when it splits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) newest: Option<Tick>,
    /// The oldest one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) oldest: Option<Tick>,
    /// Pages a range is planned to hold.
    pub(crate) target: u64,
    /// Items per page, as planned.
    pub(crate) page_size: u64,
    /// The listing's phase.
    pub(crate) phase: PhaseState,
}

/// The phases a listing can be resumed in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub(crate) enum PhaseState {
    /// Nothing fetched yet: the listing starts by asking the service what to cut.
    Planning,
    /// Ranges listed at once, each where it stands.
    Ranges {
        /// In `createdDateTime` order, covering all time.
        ranges: Vec<RangeState>,
    },
    /// One sequential listing of the whole query, skipping what ranges yielded before it.
    Sequential {
        /// The next page.
        position: Position,
        /// Items its pager received so far.
        items: u64,
        /// Pages its pager received so far.
        pages: u64,
        /// What the ranges yielded before the fallback, in `createdDateTime` order.
        skip: Vec<Yielded>,
    },
}

/// A range in a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RangeState {
    /// The span asked for.
    pub(crate) query: Bounds,
    /// The span yielded.
    pub(crate) own: Bounds,
    /// The page after the last yielded (`finished` when it yielded everything).
    pub(crate) position: Position,
    /// Its pager's item counter there.
    pub(crate) items: u64,
    /// Its pager's page counter there.
    pub(crate) pages: u64,
    /// The last `createdDateTime` it yielded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last: Option<Last>,
    /// The count of its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) count: Option<u64>,
}

/// What one range had yielded when the listing fell back to a sequential one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Yielded {
    /// The range's own span.
    pub(crate) own: Bounds,
    /// `None`: everything in `own`; else what the range's listing order put up to `last`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) upto: Option<Last>,
}

impl Yielded {
    /// True when the range yielded the referral `id` created at `at` (nanoseconds), the
    /// ranges being listed in `order`.
    pub(crate) fn holds(&self, at: i128, id: Option<&str>, order: Order) -> bool {
        if !self.own.contains(at) {
            return false;
        }
        let Some(last) = &self.upto else {
            return true;
        };
        let before = match order {
            Order::Asc => at < last.at,
            Order::Desc => at > last.at,
        };
        before || (at == last.at && id.is_some_and(|id| last.ties.iter().any(|tie| tie == id)))
    }
}

fn bad(reason: &str) -> CheckpointError {
    CheckpointError::Partition(reason.to_owned())
}

impl PartitionState {
    /// The checks a stored state must pass before a listing resumes from it: spans in order,
    /// covering all time (ranges) or not overlapping (what a fallback skips), positions a range
    /// can be at, bounded sizes. Next links are checked by the pagers made from it.
    pub(crate) fn validate(&self) -> Result<(), CheckpointError> {
        if self.page_size == 0 || self.target == 0 {
            return Err(bad(
                "the page size and the pages per range must be positive",
            ));
        }
        let last_ok = |last: &Option<Last>| last.as_ref().is_none_or(|l| l.ties.len() <= MAX_TIES);
        match &self.phase {
            PhaseState::Planning => Ok(()),
            PhaseState::Ranges { ranges } => {
                if ranges.is_empty() || ranges.len() > MAX_STORED_RANGES {
                    return Err(bad("the number of ranges is out of bounds"));
                }
                let mut expected_lo = None;
                for range in ranges {
                    if !range.query.is_valid()
                        || !range.own.is_valid()
                        || !range.query.covers(&range.own)
                    {
                        return Err(bad("a range's span is empty or outside what it asks for"));
                    }
                    if range.own.lo != expected_lo {
                        return Err(bad("the ranges do not follow one another"));
                    }
                    if matches!(range.position, Position::Headers { .. }) || !last_ok(&range.last) {
                        return Err(bad("a range's position is not one a range can be at"));
                    }
                    expected_lo = range.own.hi;
                    if expected_lo.is_none() {
                        break;
                    }
                }
                if ranges.last().is_some_and(|last| last.own.hi.is_some())
                    || ranges.iter().filter(|r| r.own.hi.is_none()).count() != 1
                {
                    return Err(bad("the ranges do not reach the present"));
                }
                Ok(())
            }
            // Any position: a service answering in the 2018 form is listed sequentially.
            PhaseState::Sequential { skip, .. } => {
                if skip.len() > MAX_STORED_RANGES {
                    return Err(bad("too many skipped spans"));
                }
                let mut previous_hi: Option<Option<Tick>> = None;
                for yielded in skip {
                    if !yielded.own.is_valid() || !last_ok(&yielded.upto) {
                        return Err(bad("a skipped span is empty"));
                    }
                    if let Some(previous_hi) = previous_hi {
                        let ordered = match (previous_hi, yielded.own.lo) {
                            (Some(hi), Some(lo)) => hi <= lo,
                            _ => false,
                        };
                        if !ordered {
                            return Err(bad("the skipped spans overlap"));
                        }
                    }
                    previous_hi = Some(yielded.own.hi);
                }
                Ok(())
            }
        }
    }
}

//! The decisions of a sync, without I/O: which listing to request, whether the server honoured
//! it, how each received referral changes the mirror, and which referrals a full run removes.
//! Time is passed in.

use std::fmt;
use std::time::{Duration, SystemTime};

use referrals_model::Timestamp;
use referrals_query::{
    Checkpoint, Comparison, DEFAULT_CONCURRENCY, Filter, ListQuery, Position, QueryError,
    SortField, SortOrder,
};

use crate::{ChangeKind, MirrorApi};

/// How far back an incremental listing reaches before the watermark, by default.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(5 * 60);
/// How old the last full run may be before a run is full again, by default.
pub const DEFAULT_FULL_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Referrals per page, by default (the API's maximum).
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// What a user can choose about a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOptions {
    /// A full listing even if an incremental one would do.
    pub full: bool,
    /// A full listing when the last completed one started longer ago than this.
    pub full_every: Duration,
    /// An incremental listing asks for `updatedDateTime ge (watermark − overlap)`.
    pub overlap: Duration,
    /// Referrals per page, 1–100, of every listing: `pageSize` in the 2018 form,
    /// `Prefer: odata.maxpagesize` in the OData form (a partitioned full listing's ranges).
    pub page_size: u32,
    /// The most requests in flight of a full listing, which is *partitioned* above 1:
    /// `createdDateTime` ranges listed at once (`referrals::Listing::concurrency`). 1 lists
    /// every page after the one before it, in the 2018 form.
    pub concurrency: u32,
    /// The API the mirror must belong to ([`Mirror::claim_api`](crate::Mirror::claim_api));
    /// `None`: the client's base URL ([`MirrorApi::new`]).
    pub api: Option<MirrorApi>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            full: false,
            full_every: DEFAULT_FULL_EVERY,
            overlap: DEFAULT_OVERLAP,
            page_size: DEFAULT_PAGE_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            api: None,
        }
    }
}

/// What the mirror remembers of completed runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncState {
    /// The newest `updatedDateTime` received by the last completed runs.
    pub watermark: Option<Timestamp>,
    /// When the last completed full run started (by the local clock).
    pub last_full_started_at: Option<Timestamp>,
}

/// The two kinds of listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunKind {
    /// Every referral; at the end, those not seen are marked removed.
    Full,
    /// Only referrals updated since the watermark (minus the overlap).
    Incremental,
}

impl RunKind {
    /// Both kinds.
    pub const ALL: [RunKind; 2] = [RunKind::Full, RunKind::Incremental];

    /// `full` or `incremental`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Full => "full",
            RunKind::Incremental => "incremental",
        }
    }

    /// The kind named `text`.
    pub fn parse(text: &str) -> Option<RunKind> {
        RunKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Why a run is of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Nothing was ever synced into this mirror.
    FirstRun,
    /// `--full` was asked for.
    Requested,
    /// The last full run is older than `full_every` (or its time is unreadable).
    Due,
    /// No watermark (no referral received yet): nothing to be incremental from.
    NoWatermark,
    /// The watermark allows an incremental listing.
    Watermark,
    /// The server refused the incremental filter (HTTP 400): a full listing with a diff instead.
    FilterRefused,
    /// The server ignored the filter (it sent older referrals, or answered in the 2018 form):
    /// the listing is a full one, diffed.
    FilterIgnored,
}

impl Reason {
    /// Every reason, in declaration order.
    pub const ALL: [Reason; 7] = [
        Reason::FirstRun,
        Reason::Requested,
        Reason::Due,
        Reason::NoWatermark,
        Reason::Watermark,
        Reason::FilterRefused,
        Reason::FilterIgnored,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::FirstRun => "first-run",
            Reason::Requested => "requested",
            Reason::Due => "due",
            Reason::NoWatermark => "no-watermark",
            Reason::Watermark => "watermark",
            Reason::FilterRefused => "filter-refused",
            Reason::FilterIgnored => "filter-ignored",
        }
    }

    /// The reason named `text`.
    pub fn parse(text: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// True when the server made the run a full one against the plan.
    pub fn is_fallback(self) -> bool {
        matches!(self, Reason::FilterRefused | Reason::FilterIgnored)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::FirstRun => "first sync of this mirror",
            Reason::Requested => "--full was given",
            Reason::Due => "the last full sync is older than --full-every",
            Reason::NoWatermark => "no referral received yet",
            Reason::Watermark => "changes since the last sync",
            Reason::FilterRefused => {
                "the server refused the updatedDateTime filter (400); full listing with a diff instead"
            }
            Reason::FilterIgnored => {
                "the server ignored the updatedDateTime filter (or speaks only the 2018 form); full listing with a diff instead"
            }
        })
    }
}

/// The listing a run makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    /// Full or incremental.
    pub kind: RunKind,
    /// Why.
    pub reason: Reason,
    /// The lower bound of an incremental listing (watermark − overlap).
    pub since: Option<Timestamp>,
    /// The query of the listing.
    pub query: ListQuery,
    /// The listing is partitioned: `createdDateTime` ranges listed at once, whose one
    /// checkpoint resumes every range.
    pub partitioned: bool,
}

impl RunPlan {
    /// The checkpoint before its first page (a partitioned listing's when
    /// [`partitioned`](Self::partitioned) and the query can be partitioned).
    pub fn start(&self) -> Checkpoint {
        if self.partitioned {
            if let Ok(start) = Checkpoint::start_partitioned(&self.query) {
                return start;
            }
        }
        Checkpoint::start(&self.query)
    }
}

/// Decides the next run from what the mirror remembers, the options and the current time.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use referrals_model::Timestamp;
/// use referrals_sync::plan::{plan_run, Reason, RunKind, SyncOptions, SyncState};
///
/// let now = Timestamp::new("2026-12-01T12:00:00Z").to_system_time()?;
/// let state = SyncState {
///     watermark: Some(Timestamp::new("2026-12-01T11:00:00.0000000Z")),
///     last_full_started_at: Some(Timestamp::new("2026-11-30T12:00:00Z")),
/// };
/// let plan = plan_run(&state, &SyncOptions::default(), now)?;
/// assert_eq!((plan.kind, plan.reason), (RunKind::Incremental, Reason::Watermark));
/// assert_eq!(
///     plan.query.to_query_string(),
///     "$filter=updatedDateTime%20ge%202026-12-01T10:55:00.0000000Z&$orderby=updatedDateTime%20asc"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_run(
    state: &SyncState,
    options: &SyncOptions,
    now: SystemTime,
) -> Result<RunPlan, QueryError> {
    let full_because = if options.full {
        Some(Reason::Requested)
    } else {
        match &state.last_full_started_at {
            None => Some(Reason::FirstRun),
            Some(at) => match at.to_system_time() {
                Ok(at) if now.duration_since(at).unwrap_or_default() < options.full_every => {
                    state.watermark.is_none().then_some(Reason::NoWatermark)
                }
                _ => Some(Reason::Due),
            },
        }
    };
    let since = match (full_because, &state.watermark) {
        (None, Some(watermark)) => match watermark.to_unix_nanos() {
            Ok(nanos) => Some(Timestamp::from_unix_nanos(
                nanos - options.overlap.as_nanos() as i128,
            )),
            Err(_) => return full_plan(Reason::Due, options),
        },
        _ => None,
    };
    match (full_because, since) {
        (None, Some(since)) => incremental_plan(since, options),
        (reason, _) => full_plan(reason.unwrap_or(Reason::NoWatermark), options),
    }
}

/// The full listing. With a [`concurrency`](SyncOptions::concurrency) above 1, partitioned in
/// the OData form (every referral, in `createdDateTime` ranges listed at once; the partition
/// falls back to one sequential listing when the service does not do what the ranges ask),
/// except after the server refused or ignored the incremental filter ([`Reason::is_fallback`]):
/// then, as with a concurrency of 1, the 2018 form, which every version of the service speaks.
pub fn full_plan(reason: Reason, options: &SyncOptions) -> Result<RunPlan, QueryError> {
    let sequential = ListQuery::new().page_size(options.page_size)?;
    let partitioned = options.concurrency > 1 && !reason.is_fallback();
    Ok(RunPlan {
        kind: RunKind::Full,
        reason,
        since: None,
        query: if partitioned {
            ListQuery::new()
        } else {
            sequential
        },
        partitioned,
    })
}

fn incremental_plan(since: Timestamp, options: &SyncOptions) -> Result<RunPlan, QueryError> {
    if !referrals_query::PAGE_SIZE_RANGE.contains(&options.page_size) {
        // Same message as the 2018 parameter's.
        ListQuery::new().page_size(options.page_size)?;
    }
    let filter = Filter::updated(Comparison::Ge, &since).map_err(|e| QueryError::InvalidValue {
        parameter: "$filter",
        reason: e.to_string(),
    })?;
    Ok(RunPlan {
        kind: RunKind::Incremental,
        reason: Reason::Watermark,
        since: Some(since),
        // No `$top`: it is a total, and an incremental run lists every change. Its page size
        // is the listing's `Prefer: odata.maxpagesize` ([`listing_page_size`]).
        query: ListQuery::new()
            .filter(&filter)
            .order_by(SortField::UpdatedDateTime, SortOrder::Ascending),
        partitioned: false,
    })
}

/// The page size every run's listing asks for with `Prefer: odata.maxpagesize` (the OData
/// form's page size; a full run's 2018 query also carries it as `pageSize`, and a 2018 service
/// ignores the preference).
pub fn listing_page_size(options: &SyncOptions) -> u32 {
    options.page_size
}

/// Whether a run of `kind` for `reason` hands the writer its referrals as received (decoded
/// there only when their digest is not the one stored) rather than decoded on the listing's
/// side. Only a full run of a mirror that holds referrals: there most come back unchanged, and
/// skipping their decode is most of what the run costs on a fast link. A first run (or one
/// with nothing received yet) creates every referral, and an incremental run receives mostly
/// changed ones: each is decoded anyway, and decoded on the listing's side it runs alongside
/// the writer instead of adding to it (a first sync of 100,000 referrals on loopback took 4.9 s
/// with the writer decoding against 3.7 s without). Either way the listing keeps the items'
/// bytes, so that the digest stored is that of the bytes received.
pub fn defers_decode(kind: RunKind, reason: Reason) -> bool {
    kind == RunKind::Full && !matches!(reason, Reason::FirstRun | Reason::NoWatermark)
}

/// After a listing error on the first page of an incremental run: the full run to make
/// instead, when the server refused the filter (400).
pub fn on_refused(
    kind: RunKind,
    pages_received: u64,
    status: Option<u16>,
    options: &SyncOptions,
) -> Option<RunPlan> {
    if kind == RunKind::Incremental && pages_received == 0 && status == Some(400) {
        full_plan(Reason::FilterRefused, options).ok()
    } else {
        None
    }
}

/// True when a listing error should restart the run's listing from its first page: a 400
/// after some pages means the server no longer accepts the stored continuation (it expired, or
/// the service was redeployed). Only once per process, so a server that refuses every time is
/// reported instead of looped on.
pub fn restart_after(status: Option<u16>, pages_received: u64, already_restarted: bool) -> bool {
    status == Some(400) && pages_received > 0 && !already_restarted
}

/// True when a page of an incremental listing shows that the server did not apply the filter:
/// a referral updated before `since`, or a continuation in the 2018 form (a server that knows
/// no OData options). The run then goes on as a full one.
pub fn filter_ignored<'a>(
    since: &Timestamp,
    updated: impl IntoIterator<Item = Option<&'a Timestamp>>,
    checkpoint: &Checkpoint,
) -> bool {
    if matches!(checkpoint.position(), Position::Headers { .. }) {
        return true;
    }
    let Ok(since) = since.to_unix_nanos() else {
        return false;
    };
    updated
        .into_iter()
        .flatten()
        .any(|at| at.to_unix_nanos().is_ok_and(|at| at < since))
}

/// The later of two `updatedDateTime`s (unreadable ones never win).
pub fn newest(current: Option<Timestamp>, candidate: Option<&Timestamp>) -> Option<Timestamp> {
    let Some(candidate) = candidate else {
        return current;
    };
    let Ok(candidate_nanos) = candidate.to_unix_nanos() else {
        return current;
    };
    match current.as_ref().map(Timestamp::to_unix_nanos) {
        Some(Ok(nanos)) if nanos >= candidate_nanos => current,
        _ => Some(candidate.clone()),
    }
}

/// The latest watermark a run may leave. Two rules (`docs/sync.md`, "The watermark"):
///
/// 1. **Never ahead of time.** At most the server's time when the run ends (`server_time`: the
///    `Date` of the last page received; `now`, the local clock, when there was none) plus the
///    overlap. One referral dated in the future (`9999-12-31`, a clock gone wrong) would
///    otherwise move the watermark there, and every later incremental listing would start
///    after every real update.
/// 2. **A full run: never past its start.** A full listing goes by position, not by date: a
///    referral it listed early and that changed while it went on is not listed again, and its
///    update is newer than anything the run received from it. With a watermark later than that
///    update, no incremental run would list it again before the next full run; with the
///    run's start (`run_started_at`, local clock) they do.
///
/// ```
/// use std::time::Duration;
/// use referrals_model::Timestamp;
/// use referrals_sync::plan::{watermark_ceiling, RunKind};
///
/// let started = Timestamp::new("2026-12-01T10:00:00Z");
/// let server = Timestamp::new("2026-12-01T10:30:00Z").to_system_time()?;
/// let local = Timestamp::new("2026-12-01T10:31:00Z").to_system_time()?;
/// let overlap = Duration::from_secs(300);
/// let incremental = watermark_ceiling(RunKind::Incremental, &started, Some(server), local, overlap);
/// assert_eq!(incremental.as_str(), "2026-12-01T10:35:00.0000000Z");
/// let full = watermark_ceiling(RunKind::Full, &started, Some(server), local, overlap);
/// assert_eq!(full.to_unix_nanos()?, started.to_unix_nanos()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn watermark_ceiling(
    kind: RunKind,
    run_started_at: &Timestamp,
    server_time: Option<SystemTime>,
    now: SystemTime,
    overlap: Duration,
) -> Timestamp {
    let clock = server_time.unwrap_or(now);
    let clock = match clock.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    };
    let ahead = clock.saturating_add(overlap.as_nanos() as i128);
    let limit = match (kind, run_started_at.to_unix_nanos()) {
        (RunKind::Full, Ok(started)) => ahead.min(started),
        _ => ahead,
    };
    Timestamp::from_unix_nanos(limit)
}

/// The watermark a completed run leaves: the later of the previous watermark and the newest
/// `updatedDateTime` the run received, but never after `ceiling` ([`watermark_ceiling`]). A
/// watermark already past it (stored by an earlier version) comes back to it.
///
/// ```
/// use referrals_model::Timestamp;
/// use referrals_sync::plan::next_watermark;
///
/// let ceiling = Timestamp::new("2026-12-01T10:35:00Z");
/// let received = Timestamp::new("9999-12-31T00:00:00Z");
/// assert_eq!(next_watermark(None, Some(&received), &ceiling), Some(ceiling.clone()));
/// let earlier = Timestamp::new("2026-12-01T09:00:00Z");
/// assert_eq!(next_watermark(Some(earlier.clone()), None, &ceiling), Some(earlier));
/// ```
pub fn next_watermark(
    previous: Option<Timestamp>,
    received: Option<&Timestamp>,
    ceiling: &Timestamp,
) -> Option<Timestamp> {
    let watermark = newest(previous, received)?;
    match (watermark.to_unix_nanos(), ceiling.to_unix_nanos()) {
        (Ok(at), Ok(limit)) if at > limit => Some(ceiling.clone()),
        _ => Some(watermark),
    }
}

/// The watermark a completed run leaves while referrals are quarantined (received, but not
/// decodable: `docs/sync.md`, "quarantine"), given `next` ([`next_watermark`]), the
/// `previous` watermark and the quarantined referrals' `updatedDateTime`s (`None` for one
/// without a readable one).
///
/// A quarantined referral must be listed again by the next incremental run, so that a fixed
/// version replaces it even when fixing it did not change its `updatedDateTime` (the service's
/// serializer was wrong, not the record). So the watermark stays at most the oldest of their
/// `updatedDateTime`s (it may move back to it), and, when one has none readable, does not
/// advance at all (a first sync then leaves none: the next run is full again). Nothing
/// quarantined: `next` as it is.
///
/// ```
/// use referrals_model::Timestamp;
/// use referrals_sync::plan::held_watermark;
///
/// let next = Some(Timestamp::new("2026-12-01T10:00:00Z"));
/// let previous = Some(Timestamp::new("2026-12-01T09:00:00Z"));
/// assert_eq!(held_watermark(next.clone(), previous.clone(), &[]), next);
/// let bad = Timestamp::new("2026-12-01T08:00:00Z");
/// assert_eq!(held_watermark(next.clone(), previous.clone(), &[Some(bad.as_str())]), Some(bad));
/// assert_eq!(held_watermark(next, previous.clone(), &[None]), previous);
/// ```
pub fn held_watermark(
    next: Option<Timestamp>,
    previous: Option<Timestamp>,
    quarantined: &[Option<&str>],
) -> Option<Timestamp> {
    let nanos = |t: &Timestamp| t.to_unix_nanos().ok();
    let earlier = |a: Option<Timestamp>, b: Option<Timestamp>| -> Option<Timestamp> {
        match (a, b) {
            (Some(a), Some(b)) => match (nanos(&a), nanos(&b)) {
                (Some(x), Some(y)) if y < x => Some(b),
                _ => Some(a),
            },
            _ => None,
        }
    };
    let mut watermark = next;
    for updated in quarantined {
        let at = updated.map(Timestamp::new).filter(|t| nanos(t).is_some());
        watermark = match at {
            Some(at) => earlier(watermark, Some(at)),
            None => earlier(watermark, previous.clone()),
        };
    }
    watermark
}

/// True when a decodable version of a referral, updated at `decoded`, replaces its
/// quarantined version, updated at `quarantined`: unless both are readable and the decodable
/// one is older (a listing or a webhook fetch that started before the quarantined version was
/// received).
pub fn clears_quarantine(quarantined: Option<&str>, decoded: Option<&str>) -> bool {
    let nanos = |text: Option<&str>| text.and_then(|t| Timestamp::new(t).to_unix_nanos().ok());
    !matches!((nanos(quarantined), nanos(decoded)), (Some(q), Some(d)) if d < q)
}

/// A referral as the mirror holds it, for [`decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored<'a> {
    /// The stored JSON.
    pub raw_json: &'a str,
    /// The stored `updatedDateTime`.
    pub updated_date_time: Option<&'a str>,
    /// Marked removed.
    pub removed: bool,
}

/// How a received referral changes the mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Not in the mirror, or marked removed: stored, journaled `created`.
    Created,
    /// Its content differs from the stored one: stored, journaled `updated`.
    Updated,
    /// The same JSON as stored: only `referral_seen.last_seen_at` moves.
    Unchanged,
    /// An older version than the stored one (its `updatedDateTime` is earlier), e.g. a listing
    /// that started before a webhook applied a newer one: kept as stored, like `Unchanged`.
    Stale,
}

impl Decision {
    /// The journal row this decision writes, if any: created and updated referrals are
    /// journaled; unchanged and stale ones are not.
    pub fn change_kind(self) -> Option<ChangeKind> {
        match self {
            Decision::Created => Some(ChangeKind::Created),
            Decision::Updated => Some(ChangeKind::Updated),
            Decision::Unchanged | Decision::Stale => None,
        }
    }
}

/// Decides what a received referral (its JSON as received, re-encoded losslessly) does to the
/// mirror. Reading the same version again (overlap, retry, resumed page, replay) is `Unchanged`.
pub fn decide(stored: Option<Stored<'_>>, raw_json: &str, updated: Option<&str>) -> Decision {
    let Some(stored) = stored else {
        return Decision::Created;
    };
    if stored.removed {
        return Decision::Created;
    }
    if stored.raw_json == raw_json {
        return Decision::Unchanged;
    }
    let nanos = |text: Option<&str>| text.and_then(|t| Timestamp::new(t).to_unix_nanos().ok());
    match (nanos(updated), nanos(stored.updated_date_time)) {
        (Some(new), Some(old)) if new < old => Decision::Stale,
        _ => Decision::Updated,
    }
}

/// True when a full run that started at `run_started_at` marks a (not yet removed) referral
/// last seen at `last_seen_at` removed: nothing saw it since the run started, neither the run's
/// listing (every referral it receives gets the page's time, never earlier than the run's start:
/// see [`page_time`]) nor anything else (a webhook). An unreadable `last_seen_at` counts as old.
pub fn removed_by_full_run(last_seen_at: &str, run_started_at: &Timestamp) -> bool {
    match (
        Timestamp::new(last_seen_at).to_unix_nanos(),
        run_started_at.to_unix_nanos(),
    ) {
        (Ok(seen), Ok(started)) => seen < started,
        _ => true,
    }
}

/// The time written with a page: `now`, but never before the run's start, so that a clock
/// stepped back during a run cannot make the run's own referrals look unseen.
pub fn page_time(now: SystemTime, run_started_at: &Timestamp) -> Timestamp {
    let now = Timestamp::from_system_time(now);
    match (now.to_unix_nanos(), run_started_at.to_unix_nanos()) {
        (Ok(at), Ok(started)) if at < started => run_started_at.clone(),
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        Timestamp::new(text).to_system_time().unwrap()
    }

    #[test]
    fn only_a_full_run_of_a_mirror_that_holds_referrals_defers_the_decode_to_the_writer() {
        let deferred: Vec<_> = Reason::ALL
            .into_iter()
            .filter(|&reason| defers_decode(RunKind::Full, reason))
            .collect();
        assert_eq!(
            deferred,
            [
                Reason::Requested,
                Reason::Due,
                Reason::Watermark,
                Reason::FilterRefused,
                Reason::FilterIgnored
            ]
        );
        assert!(
            Reason::ALL
                .into_iter()
                .all(|reason| !defers_decode(RunKind::Incremental, reason))
        );
    }

    fn state(watermark: Option<&str>, last_full: Option<&str>) -> SyncState {
        SyncState {
            watermark: watermark.map(Timestamp::new),
            last_full_started_at: last_full.map(Timestamp::new),
        }
    }

    fn sequential() -> SyncOptions {
        SyncOptions {
            concurrency: 1,
            ..SyncOptions::default()
        }
    }

    #[test]
    fn quarantined_referrals_hold_the_watermark_back() {
        let t = |text: &str| Some(Timestamp::new(text));
        let next = t("2026-12-01T10:00:00Z");
        let previous = t("2026-12-01T09:00:00Z");
        // The oldest readable one wins, even before the previous watermark.
        let held = held_watermark(
            next.clone(),
            previous.clone(),
            &[Some("2026-12-01T09:30:00Z"), Some("2026-12-01T08:00:00Z")],
        );
        assert_eq!(held, t("2026-12-01T08:00:00Z"));
        // One later than the run's watermark changes nothing.
        let held = held_watermark(
            next.clone(),
            previous.clone(),
            &[Some("9999-12-31T00:00:00Z")],
        );
        assert_eq!(held, next);
        // Without a readable time: no advance; with no previous watermark, none.
        let unreadable = [Some("yesterday"), Some("2026-12-01T09:30:00Z")];
        assert_eq!(
            held_watermark(next.clone(), previous.clone(), &unreadable),
            previous
        );
        assert_eq!(held_watermark(next.clone(), None, &[None]), None);
        assert_eq!(
            held_watermark(None, previous, &[Some("2026-12-01T08:00:00Z")]),
            None
        );
    }

    #[test]
    fn only_an_older_decodable_version_leaves_the_quarantined_one() {
        let (old, new) = (Some("2026-12-01T09:00:00Z"), Some("2026-12-01T10:00:00Z"));
        assert!(clears_quarantine(old, new));
        assert!(clears_quarantine(new, new));
        assert!(!clears_quarantine(new, old));
        assert!(clears_quarantine(None, old));
        assert!(clears_quarantine(new, None));
        assert!(clears_quarantine(Some("garbage"), old));
    }

    #[test]
    fn the_first_run_is_full_in_the_2018_form() {
        let plan = plan_run(
            &SyncState::default(),
            &sequential(),
            at("2026-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(plan.kind, RunKind::Full);
        assert_eq!(plan.reason, Reason::FirstRun);
        assert_eq!(plan.query.to_query_string(), "pageSize=100");
        assert_eq!(plan.since, None);
    }

    #[test]
    fn a_full_run_is_partitioned_by_default_except_after_a_filter_fallback() {
        let options = SyncOptions::default();
        let plan = plan_run(&SyncState::default(), &options, at("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!((plan.kind, plan.reason), (RunKind::Full, Reason::FirstRun));
        assert!(plan.partitioned);
        assert_eq!(plan.query.to_query_string(), "");
        assert!(plan.start().is_partitioned());
        for reason in [Reason::Requested, Reason::Due, Reason::NoWatermark] {
            assert!(
                full_plan(reason, &options)
                    .unwrap()
                    .start()
                    .is_partitioned()
            );
        }
        for reason in [Reason::FilterRefused, Reason::FilterIgnored] {
            let plan = full_plan(reason, &options).unwrap();
            assert!(!plan.partitioned && !plan.start().is_partitioned());
            assert_eq!(plan.query.to_query_string(), "pageSize=100");
        }
        let sequential = full_plan(Reason::Requested, &sequential()).unwrap();
        assert!(!sequential.start().is_partitioned());
        let small_pages = SyncOptions {
            page_size: 0,
            ..SyncOptions::default()
        };
        assert!(full_plan(Reason::FirstRun, &small_pages).is_err());
    }

    #[test]
    fn full_when_asked_when_due_or_without_watermark() {
        let options = SyncOptions::default();
        let now = at("2026-01-10T00:00:00Z");
        let recent = state(Some("2026-01-09T00:00:00Z"), Some("2026-01-09T00:00:00Z"));
        let forced = SyncOptions {
            full: true,
            ..options.clone()
        };
        assert_eq!(
            plan_run(&recent, &forced, now).unwrap().reason,
            Reason::Requested
        );
        let old = state(Some("2026-01-09T00:00:00Z"), Some("2026-01-02T23:59:59Z"));
        assert_eq!(plan_run(&old, &options, now).unwrap().reason, Reason::Due);
        let exactly_seven_days = state(Some("2026-01-09T00:00:00Z"), Some("2026-01-03T00:00:00Z"));
        assert_eq!(
            plan_run(&exactly_seven_days, &options, now).unwrap().reason,
            Reason::Due
        );
        let empty_account = state(None, Some("2026-01-09T00:00:00Z"));
        assert_eq!(
            plan_run(&empty_account, &options, now).unwrap().reason,
            Reason::NoWatermark
        );
        let garbage = state(Some("2026-01-09T00:00:00Z"), Some("yesterday"));
        assert_eq!(
            plan_run(&garbage, &options, now).unwrap().reason,
            Reason::Due
        );
        let bad_watermark = state(Some("soon"), Some("2026-01-09T00:00:00Z"));
        assert_eq!(
            plan_run(&bad_watermark, &options, now).unwrap().kind,
            RunKind::Full
        );
    }

    #[test]
    fn incremental_reaches_back_by_the_overlap_and_orders_by_update() {
        let options = SyncOptions {
            overlap: Duration::from_secs(90),
            page_size: 50,
            ..SyncOptions::default()
        };
        let plan = plan_run(
            &state(Some("2026-01-09T00:00:30.5Z"), Some("2026-01-08T00:00:00Z")),
            &options,
            at("2026-01-10T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(plan.kind, RunKind::Incremental);
        assert_eq!(
            plan.since.as_ref().map(Timestamp::as_str),
            Some("2026-01-08T23:59:00.5000000Z")
        );
        let query = plan.query.to_query_string();
        assert!(query.contains("$orderby=updatedDateTime%20asc"), "{query}");
        assert!(
            !query.contains("$top"),
            "a total would cut the run short: {query}"
        );
        assert_eq!(listing_page_size(&options), 50);
        assert!(
            query.contains("updatedDateTime%20ge%202026-01-08T23:59:00.5000000Z"),
            "{query}"
        );
    }

    #[test]
    fn a_page_size_out_of_range_is_refused_for_both_kinds() {
        let options = SyncOptions {
            page_size: 0,
            ..SyncOptions::default()
        };
        assert!(plan_run(&SyncState::default(), &options, SystemTime::now()).is_err());
        let incremental = state(Some("2026-01-09T00:00:00Z"), Some("2026-01-09T00:00:00Z"));
        let error = plan_run(&incremental, &options, at("2026-01-09T01:00:00Z")).unwrap_err();
        assert!(error.to_string().contains("between 1 and 100"), "{error}");
    }

    #[test]
    fn a_refused_filter_falls_back_to_a_full_listing_only_before_any_page() {
        let options = SyncOptions::default();
        let fallback = on_refused(RunKind::Incremental, 0, Some(400), &options).unwrap();
        assert_eq!(
            (fallback.kind, fallback.reason),
            (RunKind::Full, Reason::FilterRefused)
        );
        assert!(fallback.reason.is_fallback());
        assert_eq!(
            on_refused(RunKind::Incremental, 1, Some(400), &options),
            None
        );
        assert_eq!(
            on_refused(RunKind::Incremental, 0, Some(500), &options),
            None
        );
        assert_eq!(on_refused(RunKind::Full, 0, Some(400), &options), None);
    }

    #[test]
    fn a_refused_position_restarts_the_listing_once() {
        assert!(restart_after(Some(400), 3, false));
        assert!(!restart_after(Some(400), 3, true));
        assert!(!restart_after(Some(400), 0, false));
        assert!(!restart_after(Some(503), 3, false));
        assert!(!restart_after(None, 3, false));
    }

    #[test]
    fn an_ignored_filter_is_noticed() {
        let since = Timestamp::new("2026-01-09T00:00:00Z");
        let query = ListQuery::new();
        let checkpoint = Checkpoint::start(&query);
        let newer = Timestamp::new("2026-01-09T00:00:01Z");
        let older = Timestamp::new("2026-01-08T23:59:59Z");
        assert!(!filter_ignored(&since, [Some(&newer), None], &checkpoint));
        assert!(!filter_ignored(&since, [Some(&since)], &checkpoint));
        assert!(filter_ignored(
            &since,
            [Some(&newer), Some(&older)],
            &checkpoint
        ));
        let classic: Checkpoint = serde_json::from_value(serde_json::json!({
            "version": 1, "query": "", "position": {"kind": "headers", "headers": [["MS-ContinuationToken", "t"]]},
            "skip": 0, "items": 1, "pages": 1
        }))
        .unwrap();
        assert!(filter_ignored(&since, [Some(&newer)], &classic));
    }

    #[test]
    fn decisions_compare_the_raw_json() {
        let stored = Stored {
            raw_json: r#"{"id":"a","eTag":"1"}"#,
            updated_date_time: Some("2026-01-01T00:00:00Z"),
            removed: false,
        };
        assert_eq!(decide(None, "{}", None), Decision::Created);
        assert_eq!(
            decide(Some(stored), r#"{"id":"a","eTag":"1"}"#, None),
            Decision::Unchanged
        );
        // An unknown field is content too.
        assert_eq!(
            decide(
                Some(stored),
                r#"{"id":"a","eTag":"1","new":true}"#,
                Some("2026-01-01T00:00:00Z")
            ),
            Decision::Updated
        );
        assert_eq!(
            decide(
                Some(stored),
                r#"{"id":"a","eTag":"0"}"#,
                Some("2025-12-31T00:00:00Z")
            ),
            Decision::Stale
        );
        let removed = Stored {
            removed: true,
            ..stored
        };
        assert_eq!(
            decide(Some(removed), stored.raw_json, None),
            Decision::Created
        );
    }

    #[test]
    fn the_watermark_only_moves_forward() {
        let a = Timestamp::new("2026-01-01T00:00:00Z");
        let b = Timestamp::new("2026-01-01T00:00:00.1Z");
        assert_eq!(newest(None, Some(&a)), Some(a.clone()));
        assert_eq!(newest(Some(b.clone()), Some(&a)), Some(b.clone()));
        assert_eq!(newest(Some(a.clone()), Some(&b)), Some(b.clone()));
        assert_eq!(
            newest(Some(a.clone()), Some(&Timestamp::new("junk"))),
            Some(a.clone())
        );
        assert_eq!(newest(Some(a.clone()), None), Some(a));
    }

    #[test]
    fn the_watermark_never_runs_ahead_of_the_server_s_time_plus_the_overlap() {
        let started = Timestamp::new("2026-01-01T12:00:00Z");
        let server = at("2026-01-01T12:10:00Z");
        let local = at("2026-01-01T13:00:00Z");
        let overlap = Duration::from_secs(60);
        let ceiling =
            |server| watermark_ceiling(RunKind::Incremental, &started, server, local, overlap);
        // The server's clock when it said it, else the local one; plus the overlap.
        assert_eq!(
            ceiling(Some(server)).as_str(),
            "2026-01-01T12:11:00.0000000Z"
        );
        assert_eq!(ceiling(None).as_str(), "2026-01-01T13:01:00.0000000Z");
        let future = Timestamp::new("9999-12-31T23:59:59.9999999Z");
        let capped = next_watermark(None, Some(&future), &ceiling(Some(server)));
        assert_eq!(
            capped.as_ref().map(Timestamp::as_str),
            Some("2026-01-01T12:11:00.0000000Z")
        );
        // A watermark stored past it (by an earlier version) comes back; one before it stays.
        assert_eq!(
            next_watermark(Some(future.clone()), None, &ceiling(Some(server))),
            capped
        );
        let real = Timestamp::new("2026-01-01T12:05:00Z");
        assert_eq!(
            next_watermark(Some(real.clone()), Some(&future), &ceiling(Some(server))),
            capped
        );
        assert_eq!(
            next_watermark(None, Some(&real), &ceiling(Some(server))),
            Some(real.clone())
        );
        assert_eq!(next_watermark(None, None, &ceiling(None)), None);
        // Then the next incremental listing starts at the server's time, before any later update.
        let state = state(
            capped.as_ref().map(Timestamp::as_str),
            Some("2026-01-01T12:00:00Z"),
        );
        let plan = plan_run(
            &state,
            &SyncOptions {
                overlap,
                ..SyncOptions::default()
            },
            local,
        )
        .unwrap();
        assert_eq!(
            plan.since.as_ref().map(Timestamp::as_str),
            Some("2026-01-01T12:10:00.0000000Z")
        );
    }

    #[test]
    fn a_full_run_s_watermark_never_passes_its_start() {
        let started = Timestamp::new("2026-01-01T12:00:00Z");
        let server = at("2026-01-01T12:30:00Z");
        let overlap = Duration::from_secs(60);
        let full = watermark_ceiling(RunKind::Full, &started, Some(server), server, overlap);
        assert_eq!(full.as_str(), "2026-01-01T12:00:00.0000000Z");
        // A referral listed early was updated at 12:10 while the run went on; another one,
        // listed later, was updated at 12:20 and received by the run.
        let listed_later = Timestamp::new("2026-01-01T12:20:00Z");
        let watermark = next_watermark(None, Some(&listed_later), &full).unwrap();
        let state = state(Some(watermark.as_str()), Some(started.as_str()));
        let plan = plan_run(
            &state,
            &SyncOptions {
                overlap,
                ..SyncOptions::default()
            },
            server,
        )
        .unwrap();
        let since = plan.since.unwrap().to_unix_nanos().unwrap();
        let missed_update = Timestamp::new("2026-01-01T12:10:00Z")
            .to_unix_nanos()
            .unwrap();
        assert!(
            since <= missed_update,
            "the next incremental run lists it again"
        );
        // A run whose start is later than the server's time plus the overlap (a local clock
        // ahead): the earlier bound wins.
        let late_start = Timestamp::new("2026-01-01T13:00:00Z");
        assert_eq!(
            watermark_ceiling(RunKind::Full, &late_start, Some(server), server, overlap).as_str(),
            "2026-01-01T12:31:00.0000000Z"
        );
        // An incremental run is bounded by the clock only (its listing is by date).
        assert_eq!(
            watermark_ceiling(
                RunKind::Incremental,
                &started,
                Some(server),
                server,
                overlap
            )
            .as_str(),
            "2026-01-01T12:31:00.0000000Z"
        );
    }

    #[test]
    fn a_full_run_removes_what_nothing_saw_since_it_started() {
        let started = Timestamp::new("2026-01-01T12:00:00.0000000Z");
        assert!(removed_by_full_run("2026-01-01T11:00:00Z", &started));
        // Seen by the run, or by a webhook after the run started.
        assert!(!removed_by_full_run("2026-01-01T12:00:00Z", &started));
        assert!(!removed_by_full_run("2026-01-01T12:00:01Z", &started));
        assert!(removed_by_full_run("garbage", &started));
    }

    #[test]
    fn page_times_never_go_before_the_run_start() {
        let started = Timestamp::new("2026-01-01T12:00:00.0000000Z");
        let earlier = at("2026-01-01T11:59:00Z");
        assert_eq!(page_time(earlier, &started), started);
        let later = at("2026-01-01T12:00:01Z");
        assert_eq!(
            page_time(later, &started).as_str(),
            "2026-01-01T12:00:01.0000000Z"
        );
        assert!(!removed_by_full_run(
            page_time(earlier, &started).as_str(),
            &started
        ));
    }

    #[test]
    fn kinds_and_reasons_round_trip_their_stored_names() {
        for kind in RunKind::ALL {
            assert_eq!(RunKind::parse(kind.as_str()), Some(kind));
        }
        for reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
            assert!(!reason.to_string().is_empty());
        }
        assert_eq!(Reason::parse("nope"), None);
        assert_eq!(RunKind::parse("nope"), None);
    }
}

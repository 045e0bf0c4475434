//! A full listing split into `createdDateTime` ranges listed at once (see [`Partition`]).

mod range;
mod span;
mod state;

use std::collections::VecDeque;
use std::fmt;
use std::time::SystemTime;

use http::StatusCode;
use referrals_model::WireForm;

use crate::api_error::TextMask;
use crate::checkpoint::{Checkpoint, CheckpointError, Position};
use crate::list::ListQuery;
use crate::pager::{End, Limits, Page, Pager};
use crate::request::Endpoint;
use crate::retry::RetryPolicy;
use crate::undecodable::UndecodableItem;

use range::{Checked, Range};
use span::{Bounds, Order, Tick, created_nanos, cut_points, param, rewrite, tick_of};
pub(crate) use state::PartitionState;
use state::{PhaseState, Yielded};

/// The cap on requests in flight of a partitioned listing when none is given.
pub const DEFAULT_CONCURRENCY: u32 = 16;

/// Fewer pages than this in all: one sequential listing (a plan costs a round trip).
const MIN_PAGES: u64 = 4;
/// Pages a range is planned to hold.
const PAGES_PER_RANGE: u64 = 4;
/// The page size every page request asks for (`Prefer: odata.maxpagesize`, or `pageSize` when
/// the listing has no parameter at all) unless [`PartitionOptions::max_page_size`] says
/// otherwise: the API's largest. Never `$top`, which is a total.
const DEFAULT_PAGE_SIZE: u64 = 100;
/// The most ranges a listing plans and splits into.
const MAX_RANGES: u64 = 256;

/// Identifies a task handed out by [`Partition::next_task`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskId(u64);

/// One page to fetch: drive `pager` for one page (its next request, retries and token refresh
/// included), then hand it back with the page to [`Partition::on_page`], or report the failure
/// to [`Partition::on_error`].
#[derive(Debug)]
pub struct Task {
    /// Which task.
    pub id: TaskId,
    /// The pager of the range (or probe, or sequential listing) to fetch the next page of.
    pub pager: Pager,
}

/// How a partitioned listing runs.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PartitionOptions {
    /// The cap on requests in flight (its limiter's cap): the plan makes at most four ranges per
    /// request allowed, and an ordered listing holds at most two pages per request allowed.
    pub max_concurrency: u32,
    /// The retry policy of every page request.
    pub retry: RetryPolicy,
    /// The caller fetches fresh tokens ([`Pager::with_token_refresh`]).
    pub token_refresh: bool,
    /// Stop after yielding this many pages.
    pub max_pages: Option<u64>,
    /// The OData page size every page request asks for ([`Pager::with_max_page_size`]; 100,
    /// the API's largest, when `None`).
    pub max_page_size: Option<u32>,
    /// What passes the server's text in error answers ([`Pager::with_text_mask`]).
    pub text_mask: Option<TextMask>,
    /// Pages carry their items as received, decoded so far ([`Pager::with_raw_items`]).
    pub raw_items: Option<crate::RawItems>,
}

impl Default for PartitionOptions {
    fn default() -> Self {
        PartitionOptions {
            max_concurrency: DEFAULT_CONCURRENCY,
            retry: RetryPolicy::default(),
            token_refresh: false,
            max_pages: None,
            max_page_size: None,
            text_mask: None,
            raw_items: None,
        }
    }
}

impl PartitionOptions {
    /// [`DEFAULT_CONCURRENCY`], the default retry policy, no token refresh, no page limit.
    pub fn new() -> PartitionOptions {
        PartitionOptions::default()
    }

    /// The cap on requests in flight (at least 1).
    pub fn max_concurrency(mut self, cap: u32) -> PartitionOptions {
        self.max_concurrency = cap.max(1);
        self
    }

    /// The retry policy of every page request.
    pub fn retry(mut self, policy: RetryPolicy) -> PartitionOptions {
        self.retry = policy;
        self
    }

    /// Whether the caller fetches fresh tokens on a `401`.
    pub fn token_refresh(mut self, refresh: bool) -> PartitionOptions {
        self.token_refresh = refresh;
        self
    }

    /// Stop after yielding `pages` pages.
    pub fn max_pages(mut self, pages: u64) -> PartitionOptions {
        self.max_pages = Some(pages);
        self
    }

    /// Every page request asks for pages of at most `size` items (`Prefer: odata.maxpagesize`,
    /// [`Pager::with_max_page_size`]); probes ask for one item whatever it is.
    pub fn max_page_size(mut self, size: u32) -> PartitionOptions {
        self.max_page_size = Some(size);
        self
    }

    /// The server's text in error answers passes through `mask` ([`Pager::with_text_mask`]).
    pub fn text_mask(mut self, mask: TextMask) -> PartitionOptions {
        self.text_mask = Some(mask);
        self
    }

    /// Pages carry their items as received, decoded as `decode` says
    /// ([`Pager::with_raw_items`]; the ranges' checks read only what a light item holds).
    pub fn raw_items(mut self, decode: crate::RawItems) -> PartitionOptions {
        self.raw_items = Some(decode);
        self
    }
}

/// Every page request's settings, as `options` say.
fn configure(pager: Pager, options: &PartitionOptions) -> Pager {
    let size = options.max_page_size.unwrap_or(DEFAULT_PAGE_SIZE as u32);
    let mut pager = pager.with_retry(options.retry).with_max_page_size(size);
    if let Some(mask) = options.text_mask {
        pager = pager.with_text_mask(mask);
    }
    if options.token_refresh {
        pager = pager.with_token_refresh();
    }
    if let Some(decode) = options.raw_items {
        pager = pager.with_raw_items(decode);
    }
    pager
}

/// Why a query is listed sequentially rather than in ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unpartitioned {
    /// It has parameters of the 2018 form (`pageSize`, `self`, `status`, `engagementId`,
    /// `invitedByOrganization`), which do not combine with OData options.
    Classic,
    /// `$skip` skips the first items of the whole listing.
    Skip,
    /// `$orderby` on `updatedDateTime`: no order of `createdDateTime` ranges keeps it.
    OrderByUpdated,
    /// `$select` without `id` and `createdDateTime`, which every range checks.
    Select,
    /// `$top` is a total: the first referrals of the whole listing.
    Top,
}

impl fmt::Display for Unpartitioned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unpartitioned::Classic => "the query is in the 2018 form",
            Unpartitioned::Skip => "$skip applies to the whole listing",
            Unpartitioned::OrderByUpdated => {
                "an order on updatedDateTime cannot be kept across createdDateTime ranges"
            }
            Unpartitioned::Select => "$select leaves out id or createdDateTime",
            Unpartitioned::Top => "$top is a total of the whole listing",
        })
    }
}

impl std::error::Error for Unpartitioned {}

/// Why a partitioned listing is (now) one sequential listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fallback {
    /// So few referrals match that ranges would not be faster.
    Small {
        /// How many matched.
        total: u64,
    },
    /// The service sent no `@odata.count`.
    NoCount,
    /// The service refused a probe (`$orderby` / `$count` / `$top`) with a 400.
    ProbeRefused,
    /// The service answered in the 2018 form: it ignored the OData options.
    ClassicForm,
    /// A range received a referral outside its `createdDateTime` span: the service ignored
    /// the range's filter.
    FilterIgnored,
    /// A range received referrals out of `createdDateTime` order.
    OrderIgnored,
    /// A referral without a readable `createdDateTime`.
    NoCreatedDateTime,
    /// The service refused a range's `createdDateTime` filter with a 400.
    FilterRefused,
    /// A range ended on its first page with fewer referrals than that page's count: the
    /// service cut it short.
    Capped,
    /// What a range yielded could not be kept in a checkpoint (too many referrals created at
    /// one instant, or one without an id there).
    Unrepresentable,
    /// The oldest and the newest probe answered the same referral though more match: they all
    /// have one `createdDateTime`, or the service ignored `$orderby`.
    OneInstant,
}

impl Fallback {
    /// True when the service did not do what the ranges asked (rather than the listing being
    /// too small to split).
    pub fn is_fallback(&self) -> bool {
        !matches!(self, Fallback::Small { .. })
    }
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fallback::Small { total } => write!(f, "{total} referral(s) match: one listing"),
            Fallback::NoCount => f.write_str("the service sent no count"),
            Fallback::ProbeRefused => {
                f.write_str("the service refused $orderby=createdDateTime with $count and $top")
            }
            Fallback::ClassicForm => f.write_str("the service answered in the 2018 form"),
            Fallback::FilterIgnored => {
                f.write_str("the service ignored a createdDateTime range filter")
            }
            Fallback::OrderIgnored => f.write_str("the service ignored $orderby=createdDateTime"),
            Fallback::NoCreatedDateTime => {
                f.write_str("a referral has no readable createdDateTime")
            }
            Fallback::FilterRefused => {
                f.write_str("the service refused a createdDateTime range filter (400)")
            }
            Fallback::Capped => f.write_str("the service ended a range short of its count"),
            Fallback::Unrepresentable => f.write_str(
                "too many referrals share one createdDateTime to describe what was listed",
            ),
            Fallback::OneInstant => f.write_str(
                "the oldest and the newest referral are the same (the service ignored $orderby, \
                 or they all have one createdDateTime)",
            ),
        }
    }
}

/// What happened, for a log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Note {
    /// The listing was cut into ranges.
    Planned {
        /// How many.
        ranges: usize,
        /// How many referrals matched.
        total: u64,
    },
    /// A range turned out large and was cut again.
    Split {
        /// Into how many (itself included).
        ranges: usize,
    },
    /// The listing is (now) one sequential listing, skipping what ranges already yielded.
    Sequential(Fallback),
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Planned { ranges, total } => write!(
                f,
                "{total} referral(s) match: listing {ranges} createdDateTime ranges at once"
            ),
            Note::Split { ranges } => write!(f, "a large range was cut into {ranges}"),
            Note::Sequential(why) if why.is_fallback() => write!(
                f,
                "{why}: one sequential listing instead, skipping what was already listed"
            ),
            Note::Sequential(why) => write!(f, "{why}"),
        }
    }
}

/// What a failed task means for the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Nothing lost: the listing goes on (as one sequential listing, or the task was one it no
    /// longer needed).
    Handled,
    /// The listing ends with that failure; [`Partition::checkpoint`] resumes it.
    Fail,
}

/// A probe's page, as far as the plan is concerned.
#[derive(Debug, Clone, Copy)]
struct ProbeAnswer {
    /// Its first item's `createdDateTime`: `None` with no item, `Some(None)` unreadable.
    at: Option<Option<i128>>,
    count: Option<u64>,
    classic: bool,
}

#[derive(Debug)]
enum Probe {
    Idle(Box<Pager>),
    Sent(TaskId),
    Answered(ProbeAnswer),
}

#[derive(Debug)]
struct Sequential {
    /// Its query string (the listing's own, with the plan's `$top`).
    query: String,
    pager: Option<Pager>,
    task: Option<TaskId>,
    /// After the last page yielded.
    position: Position,
    items: u64,
    pages: u64,
    /// What the ranges yielded before it.
    skip: Vec<Yielded>,
}

#[derive(Debug)]
enum Phase {
    Planning { oldest: Probe, newest: Probe },
    Ranges { ranges: Vec<Range> },
    Sequential(Box<Sequential>),
}

/// A full listing split into `createdDateTime` ranges listed at once: the plan, the splits, the
/// check of every page against what was asked, the fallback to one sequential listing, and the
/// checkpoint that holds every range. A deterministic state machine like the [`Pager`]: it
/// hands out pagers to drive for one page each ([`Partition::next_task`]) and is fed their
/// pages ([`Partition::on_page`]) and failures ([`Partition::on_error`]); it never touches a
/// socket or a clock. How many tasks run at once is the [`Limiter`](crate::Limiter)'s business.
///
/// # Why ranges of `createdDateTime`
///
/// A listing's next page is known only once the page before it has arrived, so a sequential
/// listing costs at least its pages × the round trip. `createdDateTime` never changes and the
/// API filters and orders on it, so the listing can be cut into spans listed side by side:
/// each range lists `(the listing's own $filter) and createdDateTime ge lo and createdDateTime lt
/// hi`, ordered by `createdDateTime`. The spans are half-open and together cover all time: the
/// first is open below (`lt hi` only) and the last open above (`ge lo` only), so a referral
/// created while the listing runs (its `createdDateTime` is then the newest) lands in the last
/// range, and one updated meanwhile stays in its range.
///
/// # The plan
///
/// Two probes first, at once: `$orderby=createdDateTime asc&$top=1&$count=true` (how many match,
/// and the oldest) and the same `desc` (the newest). They also show how the service reads `$top`:
/// one item and a next link is a page size (the ranges then ask for pages of 100, or the
/// listing's own `$top`); one item and no next link while more match is a total, as in
/// Microsoft's connector contract (a `$top` would then cut each range short). Every request asks
/// for pages of 100 with `Prefer: odata.maxpagesize` ([`PartitionOptions::max_page_size`]). The span between
/// the oldest and the newest is cut into equal slices of time, about one per four pages (at
/// least 2, at most four per allowed request in flight, and 256 in all). Most of an account's
/// referrals are recent, so equal slices of time are unbalanced: every range asks `$count=true`,
/// and when its first page says it holds more than twice the planned pages, the part of its span
/// it has not listed yet is cut again into ranges of the planned size (the range keeps the slice
/// next to what it listed; an item past its new end, in its order, ends it). Fewer than four
/// pages in all, no count, or probes the service refuses or answers in the 2018 form: one
/// sequential listing, as without partitioning.
///
/// # Exactly once, whatever the service does
///
/// Each referral belongs to exactly one range (the spans are disjoint and cover all time) and a
/// range yields only what belongs to it. Every page of a range is checked before any of it is
/// yielded: the OData form, every item's `createdDateTime` readable and inside the range's query,
/// and in the range's order (across its pages too). A page that fails (a service that ignores the
/// range filter or the order, answers in the 2018 form, or refuses `createdDateTime` filters with
/// a 400 on a range's first page) ends the ranges: the listing goes on as one sequential listing
/// of its own query, which skips what the ranges yielded and yields the rest.
///
/// What the ranges yielded is known without remembering their referrals: a range's checked
/// pages are a prefix of its span in `createdDateTime` order, so it yielded exactly the referrals
/// of its span created before its last yielded `createdDateTime` (after it, when newest first),
/// plus those at that very instant whose ids it keeps (at most 1,000;
/// a page that would need more falls back before it is yielded). The fallback therefore holds a
/// few numbers and ids per range, not the account: memory stays bounded by the pages in flight.
///
/// # Order and memory
///
/// Without an `$orderby`, pages are yielded as they arrive. With `$orderby=createdDateTime asc`
/// (or `desc`) the output keeps that order: ranges are yielded one after another in that order,
/// each listed in it, and ranges ahead of the one being yielded may fetch and hold pages, at most
/// two per allowed request in flight in all. Memory is therefore bounded by the pages in flight
/// and held, times a page, in every case. An order on `updatedDateTime` cannot be kept across
/// `createdDateTime` ranges: such a listing is sequential.
///
/// # Checkpoints
///
/// [`Partition::checkpoint`] is one [`Checkpoint`] holding every range's position after the
/// last page it yielded, its span, and what a fallback must skip; every page yielded carries it.
/// [`Partition::resume`] continues every range from there, without losing or repeating an item.
/// A listing that ended up sequential with nothing to skip has the plain (version 1) checkpoint
/// of that listing.
#[derive(Debug)]
pub struct Partition {
    endpoint: Endpoint,
    correlation_id: String,
    options: PartitionOptions,
    /// The listing's own query string.
    base: String,
    /// The listing asked for `$count=true` itself (its sequential form keeps it).
    user_count: bool,
    order: Order,
    ordered: bool,
    total: Option<u64>,
    oldest: Option<Tick>,
    newest: Option<Tick>,
    target: u64,
    page_size: u64,
    phase: Phase,
    next_id: u64,
    out: VecDeque<Page>,
    notes: VecDeque<Note>,
    items: u64,
    pages: u64,
    finished: bool,
    failed: bool,
}

/// The state before planning, for a query that can be partitioned: the query string and the
/// order of its ranges.
pub(crate) fn planning(query: &ListQuery) -> Result<(String, PartitionState), Unpartitioned> {
    if query.page_size.is_some()
        || query.self_only.is_some()
        || query.status.is_some()
        || query.engagement_id.is_some()
        || query.invited_by_organization.is_some()
    {
        return Err(Unpartitioned::Classic);
    }
    if query.skip.is_some() {
        return Err(Unpartitioned::Skip);
    }
    if query.top.is_some() {
        return Err(Unpartitioned::Top);
    }
    let (order, ordered) = match query.order_by.as_deref() {
        None => (Order::Asc, false),
        Some("createdDateTime asc") => (Order::Asc, true),
        Some("createdDateTime desc") => (Order::Desc, true),
        Some(_) => return Err(Unpartitioned::OrderByUpdated),
    };
    let selects = |field: &str| query.select.iter().any(|f| f == field);
    let checked_fields = selects("id") && selects("createdDateTime");
    if !(query.select.is_empty() || checked_fields) {
        return Err(Unpartitioned::Select);
    }
    Ok((query.to_query_string(), unplanned(order, ordered)))
}

/// The same listing before planning again.
pub(crate) fn replanned(state: &PartitionState) -> PartitionState {
    unplanned(state.order, state.ordered)
}

/// A listing in `order` (kept in the output when `ordered`) that has not asked the service
/// anything yet.
fn unplanned(order: Order, ordered: bool) -> PartitionState {
    PartitionState {
        order,
        ordered,
        total: None,
        newest: None,
        oldest: None,
        target: PAGES_PER_RANGE,
        page_size: DEFAULT_PAGE_SIZE,
        phase: PhaseState::Planning,
    }
}

static START: Position = Position::Start;

impl PartitionState {
    /// Every range's next page (or the sequential listing's).
    pub(crate) fn positions(&self) -> Vec<&Position> {
        match &self.phase {
            PhaseState::Planning => vec![&START],
            PhaseState::Ranges { ranges } => ranges.iter().map(|r| &r.position).collect(),
            PhaseState::Sequential { position, .. } => vec![position],
        }
    }
}

impl Partition {
    /// A partitioned listing of `query`, all of whose requests carry `correlation_id`. Fails
    /// for a query that cannot be partitioned (list it with a [`Pager`]).
    pub fn new(
        endpoint: Endpoint,
        query: &ListQuery,
        correlation_id: &str,
        options: PartitionOptions,
    ) -> Result<Partition, PartitionError> {
        let start = Checkpoint::start_partitioned(query).map_err(PartitionError::Unpartitioned)?;
        Partition::resume(endpoint, &start, correlation_id, options)
            .map_err(PartitionError::Checkpoint)
    }

    /// Continues the partitioned listing `checkpoint` was taken from: every range from where it
    /// stopped (next links checked against `endpoint`'s base URL, as [`Pager::resume`] does).
    pub fn resume(
        endpoint: Endpoint,
        checkpoint: &Checkpoint,
        correlation_id: &str,
        options: PartitionOptions,
    ) -> Result<Partition, CheckpointError> {
        let Some(state) = checkpoint.partition.as_deref() else {
            return Err(CheckpointError::Partition(
                "not a partitioned listing's checkpoint; resume it with Pager::resume".into(),
            ));
        };
        state.validate()?;
        let base = checkpoint.query().to_owned();
        let mut partition = Partition {
            endpoint,
            correlation_id: correlation_id.to_owned(),
            options,
            user_count: param(&base, "$count").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            base,
            order: state.order,
            ordered: state.ordered,
            total: state.total,
            oldest: state.oldest,
            newest: state.newest,
            target: state.target,
            page_size: state.page_size,
            phase: Phase::Ranges { ranges: Vec::new() },
            next_id: 0,
            out: VecDeque::new(),
            notes: VecDeque::new(),
            items: checkpoint.items_yielded(),
            pages: checkpoint.pages_received(),
            finished: false,
            failed: false,
        };
        partition.phase = match &state.phase {
            PhaseState::Planning => {
                let probe = |order| -> Result<Probe, CheckpointError> {
                    let query = rewrite(&partition.base, &Bounds::ALL, Some(order), Some(1), true);
                    let pager =
                        partition
                            .pager(query, Position::Start, 0, 0)?
                            .with_limits(Limits {
                                max_pages: Some(1),
                                max_items: None,
                            });
                    Ok(Probe::Idle(Box::new(pager)))
                };
                Phase::Planning {
                    oldest: probe(Order::Asc)?,
                    newest: probe(Order::Desc)?,
                }
            }
            PhaseState::Ranges { ranges } => {
                let mut resumed = Vec::with_capacity(ranges.len());
                for stored in ranges {
                    let mut range = Range::resumed(stored);
                    if !range.fetched {
                        let query = partition.range_query(&range.query);
                        range.pager = Some(partition.pager(
                            query,
                            stored.position.clone(),
                            stored.items,
                            stored.pages,
                        )?);
                    }
                    resumed.push(range);
                }
                partition.finished = resumed.iter().all(Range::is_complete);
                Phase::Ranges { ranges: resumed }
            }
            PhaseState::Sequential {
                position,
                items,
                pages,
                skip,
            } => {
                let query = partition.sequential_query();
                let pager = partition.pager(query.clone(), position.clone(), *items, *pages)?;
                partition.finished = *position == Position::Finished;
                Phase::Sequential(Box::new(Sequential {
                    query,
                    pager: Some(pager),
                    task: None,
                    position: position.clone(),
                    items: *items,
                    pages: *pages,
                    skip: skip.clone(),
                }))
            }
        };
        Ok(partition)
    }

    /// The next page to fetch, if one may be fetched now: give its pager back with
    /// [`on_page`](Self::on_page) or report its failure with [`on_error`](Self::on_error). How
    /// many tasks run at once is the caller's choice (a [`Limiter`](crate::Limiter)'s window);
    /// `None` means wait for a task in flight (or, when none is, that the listing is over).
    pub fn next_task(&mut self) -> Option<Task> {
        if self.finished || self.failed {
            return None;
        }
        let id = TaskId(self.next_id);
        let pager = match &mut self.phase {
            Phase::Planning { oldest, newest } => {
                let probe = [oldest, newest]
                    .into_iter()
                    .find(|probe| matches!(probe, Probe::Idle(_)))?;
                let Probe::Idle(pager) = std::mem::replace(probe, Probe::Sent(id)) else {
                    return None;
                };
                *pager
            }
            Phase::Ranges { ranges } => {
                let index = pick(
                    ranges,
                    self.order,
                    self.ordered,
                    self.page_size,
                    self.target,
                    2 * self.options.max_concurrency.max(1) as usize,
                )?;
                let range = ranges.get_mut(index)?;
                let pager = range.pager.take()?;
                range.task = Some(id);
                pager
            }
            Phase::Sequential(sequential) => {
                if sequential.task.is_some() {
                    return None;
                }
                let pager = sequential.pager.take()?;
                sequential.task = Some(id);
                pager
            }
        };
        self.next_id += 1;
        Some(Task { id, pager })
    }

    /// Feeds the page task `id` fetched (`None`: its pager had nothing more to fetch), with the
    /// task's pager.
    pub fn on_page(&mut self, id: TaskId, pager: Pager, page: Option<Page>) {
        if self.finished || self.failed {
            // Over (a page limit, or a failure): what is still in flight is not yielded.
            return;
        }
        match &mut self.phase {
            Phase::Planning { oldest, newest } => {
                for probe in [oldest, newest] {
                    if matches!(probe, Probe::Sent(sent) if *sent == id) {
                        *probe = Probe::Answered(answer(page.as_ref()));
                    }
                }
                self.plan_if_answered();
            }
            Phase::Ranges { ranges } => {
                let Some(index) = ranges.iter().position(|r| r.task == Some(id)) else {
                    return;
                };
                let order = self.order;
                let Some(range) = ranges.get_mut(index) else {
                    return;
                };
                range.task = None;
                range.pager = Some(pager);
                let Some(page) = page else {
                    range.fetched = true;
                    range.received.position = Position::Finished;
                    range.waiting.push_back(Checked {
                        items: Vec::new(),
                        undecodable: Vec::new(),
                        raw: Vec::new(),
                        cursor: range.received.clone(),
                        date: None,
                    });
                    self.release();
                    return;
                };
                let first = range.received.pages == 0;
                match range.check(page, order) {
                    Ok(checked) => {
                        range.waiting.push_back(checked);
                        if first {
                            self.split(index);
                        }
                        self.release();
                    }
                    Err(why) => self.fall_back(why),
                }
            }
            Phase::Sequential(sequential) => {
                if sequential.task != Some(id) {
                    return;
                }
                sequential.task = None;
                sequential.pager = Some(pager);
                self.yield_sequential(page);
            }
        }
    }

    /// Reports that task `id` failed, with the HTTP status of the final answer if there was
    /// one. A 400 to a probe or to a range's first page falls back to one sequential listing
    /// (what else could the service be refusing but the options it added?); anything else ends
    /// the listing.
    pub fn on_error(&mut self, id: TaskId, status: Option<StatusCode>) -> Disposition {
        if self.finished || self.failed {
            return Disposition::Handled;
        }
        let refused = status == Some(StatusCode::BAD_REQUEST);
        let disposition = match &mut self.phase {
            Phase::Planning { oldest, newest } => {
                if ![oldest, newest]
                    .iter()
                    .any(|probe| matches!(probe, Probe::Sent(sent) if *sent == id))
                {
                    return Disposition::Handled;
                }
                if refused {
                    self.go_sequential(Fallback::ProbeRefused);
                    Disposition::Handled
                } else {
                    Disposition::Fail
                }
            }
            Phase::Ranges { ranges } => match ranges.iter_mut().find(|r| r.task == Some(id)) {
                None => return Disposition::Handled,
                Some(range) if refused && range.received.pages == 0 => {
                    range.task = None;
                    self.fall_back(Fallback::FilterRefused);
                    Disposition::Handled
                }
                Some(_) => Disposition::Fail,
            },
            Phase::Sequential(sequential) => {
                if sequential.task != Some(id) {
                    return Disposition::Handled;
                }
                Disposition::Fail
            }
        };
        if disposition == Disposition::Fail {
            self.failed = true;
        }
        disposition
    }

    /// The next page to yield, in order.
    pub fn next_page(&mut self) -> Option<Page> {
        self.out.pop_front()
    }

    /// The next note for a log.
    pub fn next_note(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }

    /// True once every page has been handed out by [`next_page`](Self::next_page) and none
    /// will follow (the listing is over, or its page limit reached).
    pub fn is_finished(&self) -> bool {
        self.finished && self.out.is_empty()
    }

    /// The tasks handed out and not yet answered that the listing still waits for.
    pub fn pending_tasks(&self) -> usize {
        match &self.phase {
            Phase::Planning { oldest, newest } => [oldest, newest]
                .iter()
                .filter(|p| matches!(p, Probe::Sent(_)))
                .count(),
            Phase::Ranges { ranges } => ranges.iter().filter(|r| r.task.is_some()).count(),
            Phase::Sequential(sequential) => usize::from(sequential.task.is_some()),
        }
    }

    /// Where the listing stands after the last page yielded: resuming from it yields exactly
    /// the items not yielded yet.
    pub fn checkpoint(&self) -> Checkpoint {
        let phase = match &self.phase {
            Phase::Planning { .. } => PhaseState::Planning,
            Phase::Ranges { ranges } => PhaseState::Ranges {
                ranges: ranges.iter().map(Range::state).collect(),
            },
            Phase::Sequential(sequential) => {
                if sequential.skip.is_empty() {
                    // Nothing to skip: the plain checkpoint of that listing.
                    return Checkpoint::new(
                        sequential.query.clone(),
                        sequential.position.clone(),
                        0,
                        sequential.items,
                        sequential.pages,
                    );
                }
                PhaseState::Sequential {
                    position: sequential.position.clone(),
                    items: sequential.items,
                    pages: sequential.pages,
                    skip: sequential.skip.clone(),
                }
            }
        };
        let over = self.finished
            && match &self.phase {
                Phase::Ranges { ranges } => ranges.iter().all(Range::is_complete),
                Phase::Sequential(sequential) => sequential.position == Position::Finished,
                Phase::Planning { .. } => false,
            };
        Checkpoint::partitioned(
            self.base.clone(),
            over,
            self.items,
            self.pages,
            PartitionState {
                order: self.order,
                ordered: self.ordered,
                total: self.total,
                newest: self.newest,
                oldest: self.oldest,
                target: self.target,
                page_size: self.page_size,
                phase,
            },
        )
    }

    /// A pager for `query` at `position`, with the listing's settings.
    fn pager(
        &self,
        query: String,
        position: Position,
        items: u64,
        pages: u64,
    ) -> Result<Pager, CheckpointError> {
        let checkpoint = Checkpoint::new(query, position, 0, items, pages);
        let pager = Pager::resume(self.endpoint.clone(), &checkpoint, &self.correlation_id)?;
        Ok(configure(pager, &self.options))
    }

    /// The page size the pages are asked for.
    fn asked_page_size(&self) -> u64 {
        self.options
            .max_page_size
            .map_or(DEFAULT_PAGE_SIZE, u64::from)
    }

    fn range_query(&self, bounds: &Bounds) -> String {
        rewrite(&self.base, bounds, Some(self.order), None, true)
    }

    fn sequential_query(&self) -> String {
        let query = rewrite(&self.base, &Bounds::ALL, None, None, self.user_count);
        if query.is_empty() {
            // No parameter at all is the 2018 form, where `Prefer: odata.maxpagesize` means
            // nothing and the page size is `pageSize`.
            format!("pageSize={}", self.asked_page_size())
        } else {
            query
        }
    }

    /// Once both probes answered: the ranges, one sequential listing, or nothing to list.
    fn plan_if_answered(&mut self) {
        let Phase::Planning {
            oldest: Probe::Answered(oldest),
            newest: Probe::Answered(newest),
        } = &self.phase
        else {
            return;
        };
        let (oldest, newest) = (*oldest, *newest);
        if oldest.classic || newest.classic {
            return self.go_sequential(Fallback::ClassicForm);
        }
        let Some(total) = oldest.count else {
            return self.go_sequential(Fallback::NoCount);
        };
        self.total = Some(total);
        let (first, last) = match (oldest.at, newest.at) {
            (None, None) if total == 0 => return self.finish_empty(),
            (Some(Some(first)), Some(Some(last))) if first == last && total >= 2 => {
                return self.go_sequential(Fallback::OneInstant);
            }
            (Some(Some(first)), Some(Some(last))) if first <= last => (first, last),
            (Some(None), _) | (_, Some(None)) => {
                return self.go_sequential(Fallback::NoCreatedDateTime);
            }
            _ => return self.go_sequential(Fallback::OrderIgnored),
        };
        self.page_size = self.asked_page_size();
        let pages = total.div_ceil(self.page_size);
        if pages < MIN_PAGES {
            return self.go_sequential(Fallback::Small { total });
        }
        let (Some(first), Some(last)) = (tick_of(first), tick_of(last)) else {
            return self.go_sequential(Fallback::NoCreatedDateTime);
        };
        self.oldest = Some(first);
        self.newest = Some(last);
        let wanted = pages.div_ceil(PAGES_PER_RANGE).clamp(2, self.max_ranges());
        let points = cut_points(first, last.saturating_add(1), wanted);
        if points.is_empty() {
            return self.go_sequential(Fallback::Small { total });
        }
        self.target = pages.div_ceil(points.len() as u64 + 1).max(1);
        let mut ranges = Vec::with_capacity(points.len() + 1);
        let mut lo = None;
        for hi in points.iter().copied().map(Some).chain([None]) {
            let bounds = Bounds { lo, hi };
            let query = self.range_query(&bounds);
            let Ok(pager) = self.pager(query, Position::Start, 0, 0) else {
                return self.go_sequential(Fallback::Unrepresentable);
            };
            let mut range = Range::new(bounds, bounds);
            range.pager = Some(pager);
            ranges.push(range);
            lo = hi;
        }
        self.notes.push_back(Note::Planned {
            ranges: ranges.len(),
            total,
        });
        self.phase = Phase::Ranges { ranges };
    }

    fn max_ranges(&self) -> u64 {
        (4 * u64::from(self.options.max_concurrency)).clamp(2, MAX_RANGES)
    }

    /// Nothing matched: one empty last page.
    fn finish_empty(&mut self) {
        self.phase = Phase::Ranges {
            ranges: vec![Range {
                fetched: true,
                ..Range::new(Bounds::ALL, Bounds::ALL)
            }],
        };
        if let Phase::Ranges { ranges } = &mut self.phase {
            for range in ranges.iter_mut() {
                range.received.position = Position::Finished;
                range.yielded.position = Position::Finished;
            }
        }
        self.pages += 1;
        self.finished = true;
        let page = self.last_empty_page();
        self.out.push_back(page);
    }

    /// After a range's first page: cut the part of its span it has not listed yet into ranges
    /// of the planned size, when its count says it holds more than twice that.
    fn split(&mut self, index: usize) {
        let room = self.max_ranges();
        let (page_size, target, order) = (self.page_size, self.target, self.order);
        let (oldest, newest) = (self.oldest, self.newest);
        let Phase::Ranges { ranges } = &mut self.phase else {
            return;
        };
        let total_ranges = ranges.len() as u64;
        let Some(range) = ranges.get(index) else {
            return;
        };
        let left = range.pages_left(page_size, target);
        if range.fetched || left <= 2 * target {
            return;
        }
        let pieces = left
            .div_ceil(target)
            .min(room.saturating_sub(total_ranges) + 1);
        let Some(at) = range
            .received
            .last
            .as_ref()
            .and_then(|last| tick_of(last.at))
        else {
            return;
        };
        let own = range.own;
        let points = match order {
            // Unlisted: after `at`, up to the own end (or the newest known, when open).
            Order::Asc => {
                let to = match own.hi {
                    Some(hi) => hi,
                    None => newest.unwrap_or(at).saturating_add(1),
                };
                cut_points(at, to, pieces)
            }
            // Unlisted: before `at` (the items at `at` stay), down to the own start.
            Order::Desc => {
                let from = match own.lo {
                    Some(lo) => lo,
                    None => oldest.unwrap_or(at).saturating_sub(1),
                };
                cut_points(from, at.saturating_add(1), pieces)
            }
        };
        if points.is_empty() {
            return;
        }
        // The new spans, in `createdDateTime` order, and the range's new own span.
        let (spans, kept) = match order {
            Order::Asc => {
                let mut spans = Vec::new();
                let mut lo = points.first().copied();
                for hi in points.iter().skip(1).copied().map(Some).chain([own.hi]) {
                    spans.push(Bounds { lo, hi });
                    lo = hi;
                }
                (
                    spans,
                    Bounds {
                        lo: own.lo,
                        hi: points.first().copied(),
                    },
                )
            }
            Order::Desc => {
                let mut spans = Vec::new();
                let mut lo = own.lo;
                for hi in points.iter().take(points.len() - 1).copied() {
                    spans.push(Bounds { lo, hi: Some(hi) });
                    lo = Some(hi);
                }
                spans.push(Bounds {
                    lo,
                    hi: points.last().copied(),
                });
                (
                    spans,
                    Bounds {
                        lo: points.last().copied(),
                        hi: own.hi,
                    },
                )
            }
        };
        let mut new_ranges = Vec::with_capacity(spans.len());
        for bounds in spans {
            let query = rewrite(&self.base, &bounds, Some(order), None, true);
            let checkpoint = Checkpoint::new(query, Position::Start, 0, 0, 0);
            let Ok(pager) = Pager::resume(self.endpoint.clone(), &checkpoint, &self.correlation_id)
            else {
                return;
            };
            let pager = configure(pager, &self.options);
            let mut range = Range::new(bounds, bounds);
            range.pager = Some(pager);
            new_ranges.push(range);
        }
        let count = new_ranges.len() + 1;
        if let Some(range) = ranges.get_mut(index) {
            range.own = kept;
        }
        let at_index = match order {
            Order::Asc => index + 1,
            Order::Desc => index,
        };
        ranges.splice(at_index..at_index, new_ranges);
        self.notes.push_back(Note::Split { ranges: count });
    }

    /// Yields what may be yielded: every checked page (unordered), or the pages of the ranges
    /// in the listing's order up to the first one not complete (ordered).
    fn release(&mut self) {
        loop {
            let Phase::Ranges { ranges } = &mut self.phase else {
                return;
            };
            let next = if self.ordered {
                let order: Vec<usize> = match self.order {
                    Order::Asc => (0..ranges.len()).collect(),
                    Order::Desc => (0..ranges.len()).rev().collect(),
                };
                order
                    .into_iter()
                    .find(|&i| ranges.get(i).is_some_and(|r| !r.is_complete()))
                    .filter(|&i| ranges.get(i).is_some_and(|r| !r.waiting.is_empty()))
            } else {
                ranges.iter().position(|r| !r.waiting.is_empty())
            };
            let Some(index) = next else {
                return;
            };
            let Some(range) = ranges.get_mut(index) else {
                return;
            };
            let Some(checked) = range.waiting.pop_front() else {
                return;
            };
            range.yielded = checked.cursor;
            coalesce(ranges);
            let all_done = ranges.iter().all(Range::is_complete);
            self.pages += 1;
            self.items += checked.items.len() as u64;
            let limit = self.options.max_pages.is_some_and(|max| self.pages >= max);
            let end = if all_done {
                Some(End::Exhausted)
            } else if limit {
                Some(End::PageLimit)
            } else {
                None
            };
            if end.is_some() {
                self.finished = true;
            }
            let page = self.page(
                checked.items,
                checked.undecodable,
                checked.raw,
                end,
                checked.date,
            );
            self.out.push_back(page);
            if self.finished {
                return;
            }
        }
    }

    /// The empty page that ends the listing.
    fn last_empty_page(&self) -> Page {
        self.page(
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Some(End::Exhausted),
            None,
        )
    }

    fn page(
        &self,
        items: Vec<referrals_model::Referral>,
        undecodable: Vec<UndecodableItem>,
        raw: Vec<crate::RawItem>,
        end: Option<End>,
        date: Option<SystemTime>,
    ) -> Page {
        Page {
            items,
            undecodable,
            raw,
            count: self.total,
            checkpoint: self.checkpoint(),
            end,
            form: WireForm::OData,
            date,
        }
    }

    /// The service did not do what a range asked: one sequential listing from here, skipping
    /// what the ranges yielded.
    fn fall_back(&mut self, why: Fallback) {
        let Phase::Ranges { ranges } = &self.phase else {
            return;
        };
        let mut skip: Vec<Yielded> = Vec::new();
        for range in ranges {
            let yielded = if range.yielded.position == Position::Finished {
                Yielded {
                    own: range.own,
                    upto: None,
                }
            } else if let Some(last) = &range.yielded.last {
                Yielded {
                    own: range.own,
                    upto: Some(last.clone()),
                }
            } else {
                continue;
            };
            match skip.last_mut() {
                Some(previous)
                    if previous.upto.is_none()
                        && yielded.upto.is_none()
                        && previous.own.hi == yielded.own.lo =>
                {
                    previous.own.hi = yielded.own.hi;
                }
                _ => skip.push(yielded),
            }
        }
        self.sequential(why, skip);
    }

    /// One sequential listing with nothing to skip.
    fn go_sequential(&mut self, why: Fallback) {
        self.sequential(why, Vec::new());
    }

    fn sequential(&mut self, why: Fallback, skip: Vec<Yielded>) {
        let query = self.sequential_query();
        let Ok(pager) = self.pager(query.clone(), Position::Start, 0, 0) else {
            // The same query string resumed the listing's other pagers: not expected. The
            // listing stops with nothing in flight; the caller reports it.
            self.failed = true;
            return;
        };
        self.notes.push_back(Note::Sequential(why));
        self.phase = Phase::Sequential(Box::new(Sequential {
            query,
            pager: Some(pager),
            task: None,
            position: Position::Start,
            items: 0,
            pages: 0,
            skip,
        }));
    }

    fn yield_sequential(&mut self, page: Option<Page>) {
        let order = self.order;
        let Phase::Sequential(sequential) = &mut self.phase else {
            return;
        };
        let Some(page) = page else {
            sequential.position = Position::Finished;
            self.finished = true;
            let page = self.last_empty_page();
            self.out.push_back(page);
            return;
        };
        let skip = &sequential.skip;
        // Items that are not referrals have no `createdDateTime` to skip by: they are kept (a
        // quarantine keeps one copy of each).
        let undecodable = page.undecodable;
        let mut items = page.items;
        let mut raw = page.raw;
        crate::raw::retain(&mut items, &mut raw, |_, item| {
            let Some(at) = created_nanos(item.created_date_time.as_ref()) else {
                return true;
            };
            !skip
                .iter()
                .any(|yielded| yielded.holds(at, item.id.as_deref(), order))
        });
        sequential.position = page.checkpoint.position().clone();
        sequential.items = page.checkpoint.items_yielded();
        sequential.pages = page.checkpoint.pages_received();
        let count = page.count;
        self.pages += 1;
        self.items += items.len() as u64;
        let limit = self.options.max_pages.is_some_and(|max| self.pages >= max);
        let end = match page.end {
            Some(end) => Some(end),
            None if limit => Some(End::PageLimit),
            None => None,
        };
        if end.is_some() {
            self.finished = true;
        }
        let mut page = self.page(items, undecodable, raw, end, page.date);
        if page.count.is_none() {
            page.count = count;
        }
        self.out.push_back(page);
    }
}

/// A probe's page, summed up.
fn answer(page: Option<&Page>) -> ProbeAnswer {
    match page {
        None => ProbeAnswer {
            at: None,
            count: None,
            classic: false,
        },
        Some(page) => ProbeAnswer {
            at: page
                .items
                .first()
                .map(|item| created_nanos(item.created_date_time.as_ref())),
            count: page.count,
            classic: page.form == WireForm::Classic
                || matches!(page.checkpoint.position(), Position::Headers { .. }),
        },
    }
}

/// The range to fetch next: without an order, the one with the most pages left (the longest
/// first, so that the listing does not end waiting for one long range), unstarted ones first
/// among equals; with an order, the first unfinished range in that order, then the ones after
/// it while fewer than `ahead` pages are held or fetched ahead.
fn pick(
    ranges: &[Range],
    order: Order,
    ordered: bool,
    page_size: u64,
    target: u64,
    ahead: usize,
) -> Option<usize> {
    if !ordered {
        return ranges
            .iter()
            .enumerate()
            .filter(|(_, range)| range.is_idle() && range.pager.is_some())
            .max_by_key(|(index, range)| {
                (
                    range.pages_left(page_size, target),
                    range.received.pages == 0,
                    std::cmp::Reverse(*index),
                )
            })
            .map(|(index, _)| index);
    }
    let in_order: Vec<usize> = match order {
        Order::Asc => (0..ranges.len()).collect(),
        Order::Desc => (0..ranges.len()).rev().collect(),
    };
    let head = in_order
        .iter()
        .copied()
        .find(|&i| ranges.get(i).is_some_and(|r| !r.is_complete()))?;
    let held: usize = in_order
        .iter()
        .filter(|&&i| i != head)
        .filter_map(|&i| ranges.get(i))
        .map(|r| r.waiting.len() + usize::from(r.task.is_some()))
        .sum();
    in_order
        .into_iter()
        .skip_while(|&i| i != head)
        .filter(|&i| {
            ranges
                .get(i)
                .is_some_and(|r| r.is_idle() && r.pager.is_some())
        })
        .find(|&i| i == head || held < ahead)
}

/// Merges neighbouring ranges that are complete, so that a checkpoint holds one entry for all
/// the spans already listed.
fn coalesce(ranges: &mut Vec<Range>) {
    let mut index = 0;
    while index + 1 < ranges.len() {
        let both = ranges.get(index).is_some_and(Range::is_complete)
            && ranges.get(index + 1).is_some_and(Range::is_complete);
        if both {
            let next = ranges.remove(index + 1);
            if let Some(range) = ranges.get_mut(index) {
                range.own.hi = next.own.hi;
                range.query = range.own;
                range.count = None;
                range.yielded.last = None;
                range.received.last = None;
            }
        } else {
            index += 1;
        }
    }
}

/// A partitioned listing that cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionError {
    /// The query cannot be partitioned.
    Unpartitioned(Unpartitioned),
    /// The listing's own pagers cannot be made (an invalid correlation id).
    Checkpoint(CheckpointError),
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartitionError::Unpartitioned(why) => write!(f, "cannot partition the listing: {why}"),
            PartitionError::Checkpoint(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for PartitionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PartitionError::Unpartitioned(why) => Some(why),
            PartitionError::Checkpoint(error) => Some(error),
        }
    }
}

//! One range of a partitioned listing: what it asks the service for, what it yields, where it
//! stands, and the check of every page it receives against what was asked.

use std::collections::VecDeque;
use std::time::SystemTime;

use referrals_model::{Referral, WireForm};

use super::span::{Bounds, Order, created_nanos, nanos_of};
use super::state::{Last, RangeState};
use super::{Fallback, TaskId};
use crate::checkpoint::Position;
use crate::pager::{Page, Pager};
use crate::raw::{self, RawItem};
use crate::undecodable::UndecodableItem;

/// The most referrals sharing the last `createdDateTime` yielded that a range remembers by id.
/// More than this many referrals created in the same 100 ns (ten full pages) is not a listing
/// this crate describes in a checkpoint: it falls back to one sequential listing first.
pub(crate) const MAX_TIES: usize = 1_000;

/// Where a range's yielded items end: what resumes it, and what a sequential fallback must skip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    /// The page after the last one yielded.
    pub(crate) position: Position,
    /// Items the range's pager had received (its counter) up to there.
    pub(crate) items: u64,
    /// Pages the range's pager had received up to there.
    pub(crate) pages: u64,
    /// The last `createdDateTime` yielded, with the ids yielded at it.
    pub(crate) last: Option<Last>,
}

/// A page received by a range and checked, waiting to be yielded (at once, or, in an ordered
/// listing, when the ranges before this one are done).
#[derive(Debug)]
pub(crate) struct Checked {
    /// The items the range yields (the page's, cut where the range's own span ends).
    pub(crate) items: Vec<Referral>,
    /// The page's items that are not referrals, before that cut ([`Page::undecodable`]).
    pub(crate) undecodable: Vec<UndecodableItem>,
    /// `items` as received, with raw items ([`Page::raw`]); empty otherwise.
    pub(crate) raw: Vec<RawItem>,
    /// The range's cursor after this page.
    pub(crate) cursor: Cursor,
    /// The page's `Date` ([`Page::date`]).
    pub(crate) date: Option<SystemTime>,
}

/// One range of the listing.
#[derive(Debug)]
pub(crate) struct Range {
    /// What the service is asked for.
    pub(crate) query: Bounds,
    /// What this range yields: `query`, or less once a split handed the rest to new ranges.
    /// An item inside `query` but past `own` (in the listing's order) belongs to a later range,
    /// and so do all after it.
    pub(crate) own: Bounds,
    /// The pager, between pages (`None` while a task has it).
    pub(crate) pager: Option<Pager>,
    /// The task fetching the range's next page.
    pub(crate) task: Option<TaskId>,
    /// The range has received its last page.
    pub(crate) fetched: bool,
    /// The cursor after the last page received.
    pub(crate) received: Cursor,
    /// The cursor after the last page yielded.
    pub(crate) yielded: Cursor,
    /// Pages received and checked but not yet yielded (ordered listings).
    pub(crate) waiting: VecDeque<Checked>,
    /// `@odata.count` of the range's first page.
    pub(crate) count: Option<u64>,
}

impl Range {
    /// A range not started yet.
    pub(crate) fn new(query: Bounds, own: Bounds) -> Range {
        let start = Cursor {
            position: Position::Start,
            items: 0,
            pages: 0,
            last: None,
        };
        Range {
            query,
            own,
            pager: None,
            task: None,
            fetched: false,
            received: start.clone(),
            yielded: start,
            waiting: VecDeque::new(),
            count: None,
        }
    }

    /// A range as a checkpoint left it (its pager is made by the caller).
    pub(crate) fn resumed(state: &RangeState) -> Range {
        let cursor = Cursor {
            position: state.position.clone(),
            items: state.items,
            pages: state.pages,
            last: state.last.clone(),
        };
        Range {
            query: state.query,
            own: state.own,
            pager: None,
            task: None,
            fetched: state.position == Position::Finished,
            received: cursor.clone(),
            yielded: cursor,
            waiting: VecDeque::new(),
            count: state.count,
        }
    }

    /// What a checkpoint keeps of it: where its yielded items end.
    pub(crate) fn state(&self) -> RangeState {
        RangeState {
            query: self.query,
            own: self.own,
            position: self.yielded.position.clone(),
            items: self.yielded.items,
            pages: self.yielded.pages,
            last: self.yielded.last.clone(),
            count: self.count,
        }
    }

    /// Everything received and yielded: nothing more will come of this range.
    pub(crate) fn is_complete(&self) -> bool {
        self.fetched && self.task.is_none() && self.waiting.is_empty()
    }

    /// True when the range can be given to a task now.
    pub(crate) fn is_idle(&self) -> bool {
        !self.fetched && self.task.is_none()
    }

    /// Pages still to fetch, as far as the range's count tells (`default` before it is known).
    pub(crate) fn pages_left(&self, page_size: u64, default: u64) -> u64 {
        match self.count {
            Some(count) => count
                .saturating_sub(self.received.items)
                .div_ceil(page_size.max(1)),
            None => default,
        }
    }

    /// Checks `page`, the range's next page, against what the range asked for and yields:
    /// the OData form; every item with a readable `createdDateTime` inside the query's span
    /// and in the listing's order (across pages too); items past the range's own span end the
    /// range (they and all after them belong to a later range). Returns the items to yield,
    /// or why the service is not doing what was asked.
    pub(crate) fn check(&mut self, page: Page, order: Order) -> Result<Checked, Fallback> {
        if page.form == WireForm::Classic
            || matches!(page.checkpoint.position(), Position::Headers { .. })
        {
            return Err(Fallback::ClassicForm);
        }
        let first_page = self.received.pages == 0;
        let mut previous = self.received.last.as_ref().map(|last| last.at);
        let mut cut = None;
        for (index, item) in page.items.iter().enumerate() {
            let Some(at) = created_nanos(item.created_date_time.as_ref()) else {
                return Err(Fallback::NoCreatedDateTime);
            };
            if !self.query.contains(at) {
                return Err(Fallback::FilterIgnored);
            }
            if previous.is_some_and(|previous| !order.in_order(previous, at)) {
                return Err(Fallback::OrderIgnored);
            }
            previous = Some(at);
            if !self.own.contains(at) {
                let later = match order {
                    Order::Asc => self.own.hi.is_some_and(|hi| at >= nanos_of(hi)),
                    Order::Desc => self.own.lo.is_some_and(|lo| at < nanos_of(lo)),
                };
                if !later {
                    // Inside the query, outside its own span on the side already listed.
                    return Err(Fallback::OrderIgnored);
                }
                cut = Some(index);
                break;
            }
        }
        let ends = page.end.is_some();
        // A range that ends on its first page with fewer items than the count of that same page
        // was cut short (a service capping its answers): what it left out is listed again.
        if first_page
            && ends
            && cut.is_none()
            && page
                .count
                .is_some_and(|count| count > (page.items.len() + page.undecodable.len()) as u64)
        {
            return Err(Fallback::Capped);
        }
        let mut items = page.items;
        let mut raw = page.raw;
        let mut undecodable = page.undecodable;
        if let Some(cut) = cut {
            raw::truncate(&mut items, &mut raw, cut);
            // An item that is not a referral has no `createdDateTime` to check: it goes with the
            // referrals around it, kept when it comes before the cut.
            let at = position_in_page(cut, &undecodable);
            undecodable.retain(|item| item.index < at);
        }
        let last = last_after(self.received.last.as_ref(), &items)?;
        if first_page {
            self.count = page.count;
        }
        self.fetched = ends || cut.is_some();
        let checkpoint = &page.checkpoint;
        self.received = Cursor {
            position: if self.fetched {
                Position::Finished
            } else {
                checkpoint.position().clone()
            },
            items: checkpoint.items_yielded(),
            pages: checkpoint.pages_received(),
            last,
        };
        Ok(Checked {
            items,
            undecodable,
            raw,
            cursor: self.received.clone(),
            date: page.date,
        })
    }
}

/// The position in its page of the `decoded`-th referral that decoded, `undecodable` being the
/// page's other items by increasing position.
fn position_in_page(decoded: usize, undecodable: &[UndecodableItem]) -> usize {
    let mut at = decoded;
    for item in undecodable {
        if item.index <= at {
            at += 1;
        } else {
            break;
        }
    }
    at
}

/// The last `createdDateTime` among `previous` and then `items` (in the listing's order: the
/// last item's), with the ids of every item yielded at it (those of `previous` too when it is
/// the same instant). Fails when such an item has no id, or there are too many to keep.
fn last_after(previous: Option<&Last>, items: &[Referral]) -> Result<Option<Last>, Fallback> {
    let Some(at) = items
        .last()
        .and_then(|item| created_nanos(item.created_date_time.as_ref()))
    else {
        return Ok(previous.cloned());
    };
    let mut ties: Vec<String> = match previous {
        Some(previous) if previous.at == at => previous.ties.clone(),
        _ => Vec::new(),
    };
    for item in items.iter().rev() {
        if created_nanos(item.created_date_time.as_ref()) != Some(at) {
            break;
        }
        let id = item.id.clone().ok_or(Fallback::Unrepresentable)?;
        ties.push(id);
        if ties.len() > MAX_TIES {
            return Err(Fallback::Unrepresentable);
        }
    }
    Ok(Some(Last { at, ties }))
}

//! The pagination state machine: which request to send next, and what a response means.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use referrals_model::{Continuation, DecodeError, Referral, ReferralCollection, WireForm};

use crate::api_error::{ApiError, TextMask};
use crate::body::UnexpectedBody;
use crate::checkpoint::{Checkpoint, CheckpointError, Position};
use crate::continuation::{
    ContinuationHeaderError, NextLinkError, check_headers, resolve_next_link,
};
use crate::encode;
use crate::exchange::{Exchange, FailReason, Step};
use crate::list::ListQuery;
use crate::raw::{self, RawItem, RawItems};
use crate::request::{Endpoint, RequestError, RequestIds, with_query};
use crate::retry::{GiveUp, RetryPolicy};
use crate::transport::TransportErrorKind;
use crate::undecodable::{ReceivedPage, UndecodableItem, split_page};

/// Optional caps on a listing, counted from when the [`Pager`] was created or resumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Stop after this many pages (empty pages count).
    pub max_pages: Option<u64>,
    /// Stop after this many items; the page that crosses the limit is cut short, and its
    /// checkpoint resumes right after the last item yielded.
    pub max_items: Option<u64>,
}

/// Why a listing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum End {
    /// The server sent the last page.
    Exhausted,
    /// [`Limits::max_items`] was reached.
    ItemLimit,
    /// [`Limits::max_pages`] was reached.
    PageLimit,
    /// The query's `$top` ([`ListQuery::top`]) was reached: the listing yielded every item it
    /// asked for, whatever next link the server sent after them. Its checkpoint is finished.
    Top,
}

/// What [`Pager::next_request`] says to do.
// One value per request, moved straight to the transport: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum NextRequest {
    /// Send this request (add `Authorization`), then feed the outcome to
    /// [`Pager::on_response`] or [`Pager::on_transport_error`].
    Send(http::Request<Bytes>),
    /// The listing is over.
    Done(End),
}

/// What a response meant.
#[derive(Debug)]
pub enum PagerEvent {
    /// A page of items, in the server's order.
    Page(Page),
    /// A transient failure: wait this long, then call [`Pager::next_request`] again (with a new
    /// request id).
    Retry(Duration),
    /// The server rejected the token (`401`) of a pager made
    /// [`with_token_refresh`](Pager::with_token_refresh): do not use that token again, get a fresh
    /// one and call [`Pager::next_request`] again at once (with a new request id). Given at most
    /// once per page.
    Refresh,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page {
    /// The page's items (possibly none: an empty page may still have a next page), without
    /// those in [`undecodable`](Self::undecodable).
    pub items: Vec<Referral>,
    /// The page's items that are JSON but not referrals (a field of another type than the API
    /// documents), each kept as received with its position and error; empty normally. They
    /// count as yielded: [`checkpoint`](Self::checkpoint) resumes after them, and they count
    /// towards [`Limits::max_items`].
    pub undecodable: Vec<UndecodableItem>,
    /// With [`Pager::with_raw_items`], [`items`](Self::items) as received: the same length and
    /// order, each item's exact bytes with their SHA-256 digest (with [`RawItems::Light`], each
    /// of `items` is then light: only its `id`, `createdDateTime` and `updatedDateTime` are
    /// set). Empty otherwise.
    pub raw: Vec<RawItem>,
    /// The total count the server reported (`totalCount` / `@odata.count`), if any.
    pub count: Option<u64>,
    /// Resumes right after this page's items.
    pub checkpoint: Checkpoint,
    /// `Some` when this is the last page the pager will yield.
    pub end: Option<End>,
    /// The wire form the page came in: a service that answers an OData request in the 2018
    /// form did not apply its OData options.
    pub form: WireForm,
    /// The response's `Date` (the server's clock when it answered), when it sent a valid one:
    /// a bound for the `updatedDateTime`s it serves (see `referrals-sync`'s watermark).
    pub date: Option<SystemTime>,
}

impl Page {
    /// True when no further page will be fetched.
    pub fn is_last(&self) -> bool {
        self.end.is_some()
    }
}

/// A listing that cannot go on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PagerError {
    /// The API answered with an error status (after retries, when it was transient).
    Api {
        /// What the server said.
        error: Box<ApiError>,
        /// Attempts made for this page.
        attempts: u32,
        /// Why a transient error was not retried further.
        gave_up: Option<GiveUp>,
    },
    /// The API rejected a freshly fetched token too (a second `401` for one page, after
    /// [`PagerEvent::Refresh`]).
    Unauthorized {
        /// The last `401` response.
        error: Box<ApiError>,
    },
    /// No response (after retries, when the failure was transient).
    Transport {
        /// What failed.
        kind: TransportErrorKind,
        /// Attempts made for this page.
        attempts: u32,
        /// Why a transient failure was not retried further.
        gave_up: Option<GiveUp>,
    },
    /// A successful response whose body is not a page of referrals. (A page that is, but one
    /// of whose items is not a referral, is yielded with that item in
    /// [`Page::undecodable`].)
    Decode {
        /// Where and what (JSON path, line, column).
        error: DecodeError,
        /// The page's number in this listing (1 = the first page fetched by this pager).
        page: u64,
        /// What the body is when it is not JSON at all (a proxy's HTML page, an empty body):
        /// the message names it instead of the decoder's complaint about its first byte.
        body: Option<UnexpectedBody>,
    },
    /// The server's next link leaves the configured origin or is malformed.
    NextLink(NextLinkError),
    /// A 2018 continuation header cannot be sent.
    ContinuationHeader(ContinuationHeaderError),
    /// The server's continuation was already followed in this listing.
    Loop {
        /// The repeated continuation (shortened).
        continuation: String,
        /// The page that carried it.
        page: u64,
    },
    /// A request could not be built (an invalid request id).
    Request(RequestError),
    /// A method called out of order (e.g. [`Pager::on_response`] with no request sent).
    State(&'static str),
}

impl fmt::Display for PagerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PagerError::Api {
                error,
                attempts,
                gave_up,
            } => {
                write!(f, "{error}")?;
                if let Some(why) = gave_up {
                    write!(f, "; {why}")?;
                } else if *attempts > 1 {
                    write!(f, " (after {attempts} attempts)")?;
                }
                Ok(())
            }
            PagerError::Unauthorized { error } => write!(
                f,
                "the API rejected the credentials even after a token refresh: {error}"
            ),
            PagerError::Transport {
                kind,
                attempts,
                gave_up,
            } => {
                write!(f, "no response ({kind:?}) after {attempts} attempt(s)")?;
                if let Some(why) = gave_up {
                    write!(f, "; {why}")?;
                }
                Ok(())
            }
            PagerError::Decode {
                body: Some(body),
                page,
                ..
            } => write!(f, "page {page}: {body}"),
            PagerError::Decode { error, page, .. } => write!(f, "page {page}: {error}"),
            PagerError::NextLink(error) => write!(f, "{error}"),
            PagerError::ContinuationHeader(error) => write!(f, "{error}"),
            PagerError::Loop { continuation, page } => write!(
                f,
                "page {page} repeats a continuation already followed in this listing \
                 (`{continuation}`): stopping to avoid a loop"
            ),
            PagerError::Request(error) => write!(f, "{error}"),
            PagerError::State(what) => write!(f, "pager used out of order: {what}"),
        }
    }
}

impl std::error::Error for PagerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PagerError::Api { error, .. } | PagerError::Unauthorized { error } => {
                Some(error.as_ref())
            }
            PagerError::Decode { error, .. } => Some(error),
            PagerError::NextLink(error) => Some(error),
            PagerError::ContinuationHeader(error) => Some(error),
            PagerError::Request(error) => Some(error),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum State {
    /// The next call is `next_request`.
    Ready,
    /// A request is out; the next call is `on_response` or `on_transport_error`.
    Waiting,
    /// Over, normally.
    Done(End),
    /// Over, with this error (returned again by every later `next_request`).
    Failed(PagerError),
}

/// Walks every page of a listing, without doing any I/O: a deterministic state machine.
///
/// Ask [`next_request`](Self::next_request) for a request, send it, and hand the outcome to
/// [`on_response`](Self::on_response) (or [`on_transport_error`](Self::on_transport_error));
/// repeat until [`NextRequest::Done`]. The pager follows both continuation forms, refuses next
/// links that leave the configured origin, stops on a loop, and gives after every page a
/// [`Checkpoint`] from which [`Pager::resume`] continues without losing or repeating an item.
/// Each page request is one [`Exchange`]: transient failures are retried by telling you how
/// long to wait, and (with [`with_token_refresh`](Self::with_token_refresh)) a `401` by asking
/// for a fresh token once.
///
/// See the [crate documentation](crate) for a complete example.
#[derive(Debug, Clone)]
pub struct Pager {
    endpoint: Endpoint,
    correlation_id: String,
    query: String,
    first_url: String,
    position: Position,
    skip: u64,
    items_total: u64,
    pages_total: u64,
    items_here: u64,
    pages_here: u64,
    limits: Limits,
    /// The query's `$top`: at most this many items in the whole listing (over every resume).
    total: Option<u64>,
    /// Sent as `Prefer: odata.maxpagesize={n}` with every request.
    max_page_size: Option<u32>,
    /// The exchange of the current page request.
    exchange: Exchange,
    /// Fingerprints of every request this pager has made (the first one included).
    seen: HashSet<u128>,
    /// Applied to the server's text in an [`ApiError`] before it is kept.
    mask: TextMask,
    /// Items are kept as received, and decoded so far ([`Pager::with_raw_items`]).
    raw_items: Option<RawItems>,
    state: State,
}

impl Pager {
    /// A pager for the listing `query`, all of whose requests carry `correlation_id`.
    pub fn new(
        endpoint: Endpoint,
        query: &ListQuery,
        correlation_id: &str,
    ) -> Result<Pager, RequestError> {
        Pager::from_parts(
            endpoint,
            query.to_query_string(),
            Position::Start,
            correlation_id,
        )
    }

    /// A pager that continues the listing `checkpoint` was taken from: it yields exactly the
    /// items that listing had not yet yielded. The checkpoint is checked against `endpoint`'s
    /// base URL (a next link to another origin is refused). Limits count from here.
    pub fn resume(
        endpoint: Endpoint,
        checkpoint: &Checkpoint,
        correlation_id: &str,
    ) -> Result<Pager, CheckpointError> {
        if checkpoint.is_partitioned() {
            return Err(CheckpointError::Partition(
                "this checkpoint holds several ranges; resume it with Partition::resume".into(),
            ));
        }
        if checkpoint.version() != 1 {
            return Err(CheckpointError::Version(checkpoint.version().to_string()));
        }
        let query = checkpoint.query();
        let query_ok = query.bytes().all(|b| b.is_ascii_graphic())
            && percent_encoding::utf8_percent_encode(query, encode::NOT_IN_URI).to_string()
                == query;
        if !query_ok {
            return Err(CheckpointError::Query(encode::snippet(query, 200)));
        }
        let position = match checkpoint.position() {
            Position::NextLink { url } => Position::NextLink {
                url: resolve_next_link(endpoint.base(), url).map_err(CheckpointError::NextLink)?,
            },
            Position::Headers { headers } => {
                check_headers(headers).map_err(CheckpointError::Header)?;
                Position::Headers {
                    headers: headers.clone(),
                }
            }
            other => other.clone(),
        };
        let mut pager = Pager::from_parts(endpoint, query.to_owned(), position, correlation_id)
            .map_err(CheckpointError::Request)?;
        pager.skip = checkpoint.skip();
        pager.items_total = checkpoint.items_yielded();
        pager.pages_total = checkpoint.pages_received();
        if http::Uri::try_from(pager.first_url.as_str()).is_err() {
            return Err(CheckpointError::Query(encode::snippet(query, 200)));
        }
        Ok(pager)
    }

    fn from_parts(
        endpoint: Endpoint,
        query: String,
        position: Position,
        correlation_id: &str,
    ) -> Result<Pager, RequestError> {
        if correlation_id.trim().is_empty() || HeaderValue::from_str(correlation_id).is_err() {
            return Err(RequestError::InvalidHeader {
                name: "MS-CorrelationId",
                value: encode::snippet(correlation_id, 100),
            });
        }
        let first_url = with_query(endpoint.base().collection_url(), &query);
        let total = crate::list::total_of(&query);
        let state = match position {
            Position::Finished => State::Done(End::Exhausted),
            _ => State::Ready,
        };
        let mut seen = HashSet::new();
        seen.insert(fingerprint(&first_url, &[]));
        match &position {
            Position::NextLink { url } => {
                seen.insert(fingerprint(url, &[]));
            }
            Position::Headers { headers } => {
                if let Ok(checked) = check_headers(headers) {
                    seen.insert(fingerprint(&first_url, &checked));
                }
            }
            Position::Start | Position::Finished => {}
        }
        Ok(Pager {
            endpoint,
            correlation_id: correlation_id.to_owned(),
            query,
            first_url,
            position,
            skip: 0,
            items_total: 0,
            pages_total: 0,
            items_here: 0,
            pages_here: 0,
            limits: Limits::default(),
            total,
            max_page_size: None,
            exchange: Exchange::new(RetryPolicy::default(), &Method::GET, false),
            seen,
            mask: crate::api_error::unmasked,
            raw_items: None,
            state,
        })
    }

    /// Caps the number of pages and items.
    pub fn with_limits(mut self, limits: Limits) -> Pager {
        self.limits = limits;
        self
    }

    /// Asks for pages of at most `size` items in the OData form, with `Prefer:
    /// odata.maxpagesize={size}` on every request (the OData way; the service may send smaller
    /// pages, and says what it applied in `Preference-Applied`). A setting of the pager, not of
    /// the query: it is not in a [`Checkpoint`], and a service carries it in its next links.
    /// The 2018 form's page size is [`ListQuery::page_size`]; a 2018 service ignores the
    /// preference (RFC 7240). Not a total: that is [`ListQuery::top`].
    pub fn with_max_page_size(mut self, size: u32) -> Pager {
        self.max_page_size = Some(size);
        self
    }

    /// Replaces the retry policy ([`RetryPolicy::default`] otherwise).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Pager {
        let exchange = Exchange::new(policy, &Method::GET, false);
        self.exchange = if self.exchange.refreshes_tokens() {
            exchange.with_token_refresh()
        } else {
            exchange
        };
        self
    }

    /// Passes the server's text in error answers through `mask` before keeping it
    /// ([`ApiError::from_response_masked`]): the `referrals` crate masks the secrets it holds.
    pub fn with_text_mask(mut self, mask: TextMask) -> Pager {
        self.mask = mask;
        self
    }

    /// Keeps each page's items as received ([`Page::raw`]: the exact bytes of each, with their
    /// SHA-256 digest), decoded as `decode` says. With [`RawItems::Light`], [`Page::items`] are
    /// *light* referrals, with only `id`, `createdDateTime` and `updatedDateTime` set: for a
    /// caller that decodes in full only some items ([`RawItem::decode`]), e.g. a mirror that
    /// skips the referrals whose digest it already holds. An item whose light fields do not
    /// decode is decoded whole, and is in [`Page::undecodable`] as without this setting; one
    /// mistyped elsewhere is a raw item like any other, and [`RawItem::decode`] tells it (with
    /// the [`UndecodableItem`] this page would have held). A setting of the pager, not of the
    /// query: it is not in a [`Checkpoint`].
    pub fn with_raw_items(mut self, decode: RawItems) -> Pager {
        self.raw_items = Some(decode);
        self
    }

    /// The caller can fetch a fresh token: a `401` answers [`PagerEvent::Refresh`] once per
    /// page, and a second one fails with [`PagerError::Unauthorized`]. Without it, a `401` is
    /// an [`PagerError::Api`] error like any other.
    pub fn with_token_refresh(mut self) -> Pager {
        self.exchange = self.exchange.with_token_refresh();
        self
    }

    /// The position after the last page fully received: resuming from it yields exactly the
    /// items not yielded yet.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint::new(
            self.query.clone(),
            self.position.clone(),
            self.skip,
            self.items_total,
            self.pages_total,
        )
    }

    /// True once the listing is over (normally or with an error).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done(_) | State::Failed(_))
    }

    /// The next request to send, carrying `request_id` as `MS-RequestId` (use a new id for
    /// every call), or [`NextRequest::Done`]. After an error, returns that error again.
    pub fn next_request(&mut self, request_id: &str) -> Result<NextRequest, PagerError> {
        match &self.state {
            State::Ready => {}
            State::Waiting => {
                return Err(PagerError::State(
                    "next_request called while a response is still expected",
                ));
            }
            State::Done(end) => return Ok(NextRequest::Done(*end)),
            State::Failed(error) => return Err(error.clone()),
        }
        if let Some(end) = self.limit_reached() {
            if end == End::Top {
                self.finish_at_top();
            }
            self.state = State::Done(end);
            return Ok(NextRequest::Done(end));
        }
        let ids = RequestIds::new(&self.correlation_id, request_id);
        let mut request = match &self.position {
            Position::Start => self.endpoint.build(Method::GET, &self.first_url, ids, None),
            Position::NextLink { url } => self.endpoint.build(Method::GET, url, ids, None),
            Position::Headers { .. } => {
                self.endpoint.build(Method::GET, &self.first_url, ids, None)
            }
            Position::Finished => return Ok(NextRequest::Done(End::Exhausted)),
        }
        .map_err(PagerError::Request)?;
        if let Some(size) = self.max_page_size {
            let preference = crate::list::max_page_size_preference(size);
            if let Ok(value) = HeaderValue::from_str(&preference) {
                request.headers_mut().insert(crate::request::PREFER, value);
            }
        }
        if let Position::Headers { headers } = &self.position {
            // Checked when received or resumed; checked again rather than trusted.
            let headers = check_headers(headers).map_err(PagerError::ContinuationHeader)?;
            for (name, value) in headers {
                request.headers_mut().insert(name, value);
            }
        }
        self.state = State::Waiting;
        Ok(NextRequest::Send(request))
    }

    /// Feeds the response to the last request. `now` is the current time (for `Retry-After`
    /// dates) and `random` a uniformly distributed value in [0, 1) (for backoff jitter).
    ///
    /// On an error the listing stops; [`checkpoint`](Self::checkpoint) still tells where it
    /// stood. A page whose *next link* is refused (foreign origin, loop) is still yielded: the
    /// error comes from the following [`next_request`](Self::next_request).
    pub fn on_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
        random: f64,
    ) -> Result<PagerEvent, PagerError> {
        if !matches!(self.state, State::Waiting) {
            return Err(PagerError::State(
                "on_response called with no request outstanding",
            ));
        }
        match self.exchange.on_response(status, headers, now, random) {
            Step::Deliver => {}
            Step::Retry(delay) => return Ok(self.again(PagerEvent::Retry(delay))),
            Step::Refresh => return Ok(self.again(PagerEvent::Refresh)),
            Step::Fail { reason, attempts } => {
                let error = Box::new(ApiError::from_response_masked(
                    status, headers, body, self.mask,
                ));
                let error = match reason {
                    FailReason::Unauthorized => PagerError::Unauthorized { error },
                    FailReason::Final | FailReason::GaveUp(_) => PagerError::Api {
                        error,
                        attempts,
                        gave_up: reason.gave_up(),
                    },
                };
                return Err(self.fail(error));
            }
        }
        let page_number = self.pages_here + 1;
        let received = if let Some(decode) = self.raw_items {
            raw::raw_page(body, page_number, decode)
        } else {
            // The whole page at once first (the fast path); item by item only when that fails.
            match referrals_model::decode::<ReferralCollection>(body) {
                Ok(collection) => Ok(ReceivedPage::whole(collection)),
                Err(whole) => split_page(body, page_number, whole),
            }
        };
        let received = match received {
            Ok(received) => received,
            Err(error) => {
                return Err(self.fail(PagerError::Decode {
                    error,
                    page: page_number,
                    body: UnexpectedBody::classify(status, headers, body),
                }));
            }
        };
        self.exchange.reset();
        let date = headers
            .get(http::header::DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| httpdate::parse_http_date(value).ok());
        Ok(PagerEvent::Page(self.accept_page(
            received,
            page_number,
            date,
        )))
    }

    /// [`on_response`](Self::on_response) for a whole [`http::Response`].
    pub fn on_http_response(
        &mut self,
        response: &http::Response<Bytes>,
        now: SystemTime,
        random: f64,
    ) -> Result<PagerEvent, PagerError> {
        self.on_response(
            response.status(),
            response.headers(),
            response.body(),
            now,
            random,
        )
    }

    /// Tells the pager the last request got no response. Connection failures are retried (a
    /// listing only sends `GET`s) within the retry policy.
    pub fn on_transport_error(
        &mut self,
        kind: TransportErrorKind,
        now: SystemTime,
        random: f64,
    ) -> Result<PagerEvent, PagerError> {
        if !matches!(self.state, State::Waiting) {
            return Err(PagerError::State(
                "on_transport_error called with no request outstanding",
            ));
        }
        match self.exchange.on_transport_error(kind, now, random) {
            Step::Retry(delay) => Ok(self.again(PagerEvent::Retry(delay))),
            // Only a response gives these; a transport error is never delivered.
            Step::Deliver | Step::Refresh => Err(self.fail(PagerError::State(
                "the exchange answered a transport error as if it were a response",
            ))),
            Step::Fail { reason, attempts } => Err(self.fail(PagerError::Transport {
                kind,
                attempts,
                gave_up: reason.gave_up(),
            })),
        }
    }

    /// The same page is to be requested again.
    fn again(&mut self, event: PagerEvent) -> PagerEvent {
        self.state = State::Ready;
        event
    }

    fn fail(&mut self, error: PagerError) -> PagerError {
        self.state = State::Failed(error.clone());
        error
    }

    fn limit_reached(&self) -> Option<End> {
        if self.total.is_some_and(|total| self.items_total >= total) {
            return Some(End::Top);
        }
        if self
            .limits
            .max_items
            .is_some_and(|max| self.items_here >= max)
        {
            return Some(End::ItemLimit);
        }
        if self
            .limits
            .max_pages
            .is_some_and(|max| self.pages_here >= max)
        {
            return Some(End::PageLimit);
        }
        None
    }

    fn accept_page(
        &mut self,
        received: ReceivedPage,
        page_number: u64,
        date: Option<SystemTime>,
    ) -> Page {
        let ReceivedPage {
            count,
            continuation,
            mut items,
            mut undecodable,
            mut raw,
            len,
            form,
        } = received;

        // Positions in the page (undecodable items included): those before `already` were
        // yielded before a resume; those from `end` on are past the room left by the query's
        // total and by this pager's item limit (the total is the listing's own end, so it wins
        // a tie).
        let already = usize::try_from(self.skip).unwrap_or(usize::MAX).min(len);
        let total_room = self
            .total
            .map(|total| total.saturating_sub(self.items_total));
        let limit_room = self
            .limits
            .max_items
            .map(|max| max.saturating_sub(self.items_here));
        let (room, cut_end) = match (total_room, limit_room) {
            (Some(total), Some(limit)) if limit < total => (Some(limit), End::ItemLimit),
            (Some(total), _) => (Some(total), End::Top),
            (None, limit) => (limit, End::ItemLimit),
        };
        let cut = room.is_some_and(|room| ((len - already) as u64) > room);
        let end = match room.filter(|_| cut) {
            Some(room) => already.saturating_add(usize::try_from(room).unwrap_or(usize::MAX)),
            None => len,
        };
        raw::keep_positions(&mut items, &mut raw, &undecodable, already..end);
        undecodable.retain(|item| (already..end).contains(&item.index));
        let taken = (end - already) as u64;
        self.items_here += taken;
        self.items_total += taken;
        self.pages_here += 1;
        self.pages_total += 1;

        let end = if cut && cut_end == End::Top {
            // Everything the query asked for was yielded: nothing is left to resume.
            self.finish_at_top()
        } else if cut {
            // Stay on this page; the next resume skips what was yielded of it.
            self.skip = already as u64 + taken;
            self.state = State::Done(End::ItemLimit);
            Some(End::ItemLimit)
        } else {
            match self.follow(continuation, page_number) {
                Ok(None) => {
                    self.position = Position::Finished;
                    self.skip = 0;
                    self.state = State::Done(End::Exhausted);
                    Some(End::Exhausted)
                }
                Ok(Some(next)) => {
                    self.position = next;
                    self.skip = 0;
                    match self.limit_reached() {
                        Some(End::Top) => self.finish_at_top(),
                        Some(end) => {
                            self.state = State::Done(end);
                            Some(end)
                        }
                        None => {
                            self.state = State::Ready;
                            None
                        }
                    }
                }
                Err(error) => {
                    // Everything of this page was yielded; a resume fetches it again, skips
                    // it all, and meets the same refusal instead of repeating items.
                    self.skip = already as u64 + taken;
                    self.state = State::Failed(error);
                    None
                }
            }
        };
        Page {
            items,
            undecodable,
            raw,
            count,
            checkpoint: self.checkpoint(),
            end,
            form,
            date,
        }
    }

    /// The query's `$top` is reached: the listing is over, and its checkpoint finished.
    fn finish_at_top(&mut self) -> Option<End> {
        self.position = Position::Finished;
        self.skip = 0;
        self.state = State::Done(End::Top);
        Some(End::Top)
    }

    /// The position of the page after this one, after checking it.
    fn follow(
        &mut self,
        continuation: Option<Continuation>,
        page_number: u64,
    ) -> Result<Option<Position>, PagerError> {
        let (next, key) = match continuation {
            None => return Ok(None),
            Some(Continuation::NextLink(link)) => {
                let url =
                    resolve_next_link(self.endpoint.base(), &link).map_err(PagerError::NextLink)?;
                let key = fingerprint(&url, &[]);
                (Position::NextLink { url }, key)
            }
            Some(Continuation::Headers(headers)) => {
                let checked = check_headers(&headers).map_err(PagerError::ContinuationHeader)?;
                // Headers that are all the pager's own make the first request again: a loop.
                let key = fingerprint(&self.first_url, &checked);
                (Position::Headers { headers }, key)
            }
        };
        if !self.seen.insert(key) {
            let continuation = match &next {
                Position::NextLink { url } => url.clone(),
                Position::Headers { headers } => headers
                    .iter()
                    .map(|(name, value)| format!("{name}: {value}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                Position::Start | Position::Finished => String::new(),
            };
            return Err(PagerError::Loop {
                continuation: encode::snippet(&continuation, 200),
                page: page_number,
            });
        }
        Ok(Some(next))
    }
}

/// A 128-bit FNV-1a fingerprint of a request as the server sees it: URL and continuation
/// headers (as sent: lower-case names, the pager's own headers left out). A collision between two
/// different continuations of one listing is not a practical concern, and the set of followed
/// continuations stays small however long the tokens are.
fn fingerprint(url: &str, headers: &[(HeaderName, HeaderValue)]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for &byte in bytes {
            hash ^= u128::from(byte);
            hash = hash.wrapping_mul(PRIME);
        }
        // A separator outside the byte range, so ("ab", "c") and ("a", "bc") differ.
        hash ^= 0x100;
        hash = hash.wrapping_mul(PRIME);
    };
    feed(url.as_bytes());
    let mut sorted: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    sorted.sort();
    for (name, value) in sorted {
        feed(name.as_bytes());
        feed(value);
    }
    hash
}

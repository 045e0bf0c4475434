//! Listings as streams: pages fetched one at a time (or, partitioned, several ranges at once),
//! items yielded as each page arrives.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use http::Response;
use referrals_model::Referral;
use referrals_query::transport::TransportError;
use referrals_query::{
    Checkpoint, DEFAULT_CONCURRENCY, Limiter, Limits, ListQuery, NextRequest, Page, Pager,
    PagerError, PagerEvent, RawItems,
};
use tracing::Instrument;

use crate::client::Client;
use crate::driver::{Conversation, Next, Turn, new_id};
use crate::partitioned;
use crate::{Error, ErrorKind, InvalidRequest};

/// A listing of referrals: a [`Stream`] of items that fetches one page at a time, so memory
/// stays bounded by one page however long the listing is. [`Listing::pages`] gives the pages
/// themselves, each with a [`Checkpoint`].
///
/// An error ends the stream; it carries the checkpoint after the last page fully received,
/// from which [`Client::resume`] yields exactly the items not yet yielded. A page retried after
/// a transient failure never yields its items twice: items are yielded only once their page is
/// fully received.
///
/// A page one of whose items is not a referral (a field of another type than the API
/// documents) yields its other items first, then ends the stream with an
/// [`ErrorKind::Decode`] error whose `item` names the page, the item's position and its id
/// and keeps its JSON as received; its checkpoint resumes after that page. [`Listing::pages`]
/// instead yields such a page whole, with the item in [`Page::undecodable`], and goes on.
///
/// With [`concurrency`](Listing::concurrency) above 1, a full listing in the OData form is
/// *partitioned*: cut into `createdDateTime` ranges listed at once (see
/// [`Partition`](referrals_query::Partition) for the plan, the checks and the fallback to one
/// sequential listing), each range a pager driven like a sequential listing's (retries,
/// `Retry-After`, the token refresh on a `401`), all sharing one AIMD
/// [`Limiter`](referrals_query::Limiter) of the requests in flight. Each referral is still
/// yielded exactly once, each page's checkpoint holds every range, and memory is bounded by the
/// pages in flight (and, for an explicit order, the pages held ahead), not by the account.
///
/// ```no_run
/// # async fn run(client: referrals::Client) -> Result<(), referrals::Error> {
/// use futures::TryStreamExt;
/// use referrals::ListQuery;
///
/// let mut referrals = client.list(ListQuery::new()).concurrency(16);
/// while let Some(referral) = referrals.try_next().await? {
///     println!("{:?}", referral.id);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a listing does nothing until polled"]
pub struct Listing {
    state: ListingState,
}

struct Config {
    client: Client,
    start: Result<ListQuery, Checkpoint>,
    limits: Limits,
    /// Sent as `Prefer: odata.maxpagesize`.
    max_page_size: Option<u32>,
    concurrency: Option<u32>,
    /// Pages carry their items as received ([`Listing::raw_items`]).
    raw_items: Option<RawItems>,
}

enum ListingState {
    Configuring(Box<Config>),
    Streaming(BoxStream<'static, Result<Referral, Error>>),
    Taken,
}

impl fmt::Debug for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.state {
            ListingState::Configuring(config) => f
                .debug_struct("Listing")
                .field("start", &config.start)
                .field("limits", &config.limits)
                .field("max_page_size", &config.max_page_size)
                .field("concurrency", &config.concurrency)
                .field("raw_items", &config.raw_items)
                .finish(),
            _ => f.debug_struct("Listing").finish_non_exhaustive(),
        }
    }
}

impl Listing {
    pub(crate) fn new(client: Client, start: Result<ListQuery, Checkpoint>) -> Self {
        Listing {
            state: ListingState::Configuring(Box::new(Config {
                client,
                start,
                limits: Limits::default(),
                max_page_size: None,
                concurrency: None,
                raw_items: None,
            })),
        }
    }

    /// How many page requests may be in flight at once, at most. Above 1, a new listing of a
    /// query that can be partitioned (the OData form: no 2018 parameter, no `$skip`, no order on
    /// `updatedDateTime`, a `$select` keeping `id` and `createdDateTime`) and without
    /// [`max_items`](Self::max_items) or [`max_pages`](Self::max_pages) is listed in
    /// `createdDateTime` ranges, starting with 4 requests in flight and growing while the
    /// service answers fast and clean ([`Limiter`]); any other listing stays sequential. 1 (the
    /// default for a new listing) is the sequential listing. A partitioned checkpoint always
    /// resumes partitioned, at [`DEFAULT_CONCURRENCY`] unless set here (1 runs its ranges one
    /// at a time). Must be set before the first poll.
    pub fn concurrency(mut self, n: u32) -> Self {
        if let ListingState::Configuring(config) = &mut self.state {
            config.concurrency = Some(n.max(1));
        }
        self
    }

    /// Stops after `n` items (the last page is cut short; its checkpoint resumes right after the
    /// last item yielded). Must be set before the first poll. A partitioned checkpoint resumes
    /// only to whole pages: with this limit, its listing fails at once with
    /// [`InvalidRequest::PartitionedItemLimit`].
    pub fn max_items(mut self, n: u64) -> Self {
        if let ListingState::Configuring(config) = &mut self.state {
            config.limits.max_items = Some(n);
        }
        self
    }

    /// Asks for pages of at most `n` referrals in the OData form (`Prefer:
    /// odata.maxpagesize={n}` on every request; the service may send smaller pages). This is the
    /// page size only: the total is the query's [`ListQuery::top`], and the 2018 form's page
    /// size its [`ListQuery::page_size`]. Not kept in a checkpoint: set it again on a resumed
    /// listing if it matters (a service's next links carry it). Must be set before the first
    /// poll.
    ///
    /// ```no_run
    /// # async fn run(client: referrals::Client) -> Result<(), referrals::Error> {
    /// use futures::TryStreamExt;
    /// use referrals::ListQuery;
    ///
    /// // 250 referrals at most, in pages of 50.
    /// let first: Vec<_> = client.list(ListQuery::new().top(250)).max_page_size(50).try_collect().await?;
    /// assert!(first.len() <= 250);
    /// # Ok(())
    /// # }
    /// ```
    pub fn max_page_size(mut self, n: u32) -> Self {
        if let ListingState::Configuring(config) = &mut self.state {
            config.max_page_size = Some(n);
        }
        self
    }

    /// Stops after `n` pages. Must be set before the first poll.
    pub fn max_pages(mut self, n: u64) -> Self {
        if let ListingState::Configuring(config) = &mut self.state {
            config.limits.max_pages = Some(n);
        }
        self
    }

    /// [`pages`](Self::pages) carry their items as received: [`Page::raw`] holds each item's
    /// exact bytes with their SHA-256 digest, and [`Page::items`] are decoded as `decode` says
    /// (with [`RawItems::Light`], *light* referrals with only `id`, `createdDateTime` and
    /// `updatedDateTime` set; decode one in full with
    /// [`RawItem::decode`](crate::RawItem::decode)): for a caller that decodes only some
    /// items, e.g. a mirror skipping those whose digest it holds already. Pages only: the
    /// listing polled as a stream of items ignores it and yields whole referrals. Must be set
    /// before the first poll.
    pub fn raw_items(mut self, decode: RawItems) -> Self {
        if let ListingState::Configuring(config) = &mut self.state {
            config.raw_items = Some(decode);
        }
        self
    }

    /// The listing as a stream of pages: items, the server's count, and the checkpoint after
    /// the page.
    pub fn pages(self) -> BoxStream<'static, Result<Page, Error>> {
        match self.state {
            ListingState::Configuring(config) => pages_of(*config),
            // Already polled as items: nothing left to give as pages.
            _ => stream::empty().boxed(),
        }
    }
}

impl Stream for Listing {
    type Item = Result<Referral, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let ListingState::Configuring(_) = self.state {
            let ListingState::Configuring(mut config) =
                std::mem::replace(&mut self.state, ListingState::Taken)
            else {
                return Poll::Ready(None);
            };
            // Items are whole referrals: light ones are for callers of `pages` only.
            config.raw_items = None;
            let items = pages_of(*config)
                .flat_map(|page| match page {
                    Ok(page) => stream::iter(items_of(page)).left_stream(),
                    Err(error) => stream::once(async move { Err(error) }).right_stream(),
                })
                // Nothing after the error of an undecodable item.
                .scan(false, |failed, item| {
                    let over = *failed;
                    *failed |= item.is_err();
                    futures::future::ready((!over).then_some(item))
                })
                .boxed();
            self.state = ListingState::Streaming(items);
        }
        match &mut self.state {
            ListingState::Streaming(items) => items.as_mut().poll_next(cx),
            _ => Poll::Ready(None),
        }
    }
}

/// The listing's pages: partitioned or sequential, as [`Listing::concurrency`] says.
fn pages_of(config: Config) -> BoxStream<'static, Result<Page, Error>> {
    let Config {
        client,
        start,
        limits,
        max_page_size,
        concurrency,
        raw_items,
    } = config;
    match start {
        Err(checkpoint) if checkpoint.is_partitioned() => {
            if limits.max_items.is_some() {
                let error = Error::invalid(InvalidRequest::PartitionedItemLimit)
                    .with_checkpoint(checkpoint);
                return stream::once(async move { Err(error) }).boxed();
            }
            let cap = concurrency.unwrap_or(DEFAULT_CONCURRENCY);
            let settings = partitioned::Settings {
                cap,
                max_pages: limits.max_pages,
                max_page_size,
                raw_items,
            };
            partitioned::page_stream(client, checkpoint, settings).boxed()
        }
        Ok(query) if concurrency.is_some_and(|n| n > 1) && limits == Limits::default() => {
            match Checkpoint::start_partitioned(&query) {
                Ok(start) => {
                    let settings = partitioned::Settings {
                        cap: concurrency.unwrap_or(DEFAULT_CONCURRENCY),
                        max_pages: None,
                        max_page_size,
                        raw_items,
                    };
                    partitioned::page_stream(client, start, settings).boxed()
                }
                Err(why) => {
                    tracing::debug!(%why, "listing sequentially");
                    page_stream(client, Ok(query), limits, max_page_size, raw_items).boxed()
                }
            }
        }
        start => page_stream(client, start, limits, max_page_size, raw_items).boxed(),
    }
}

/// A page's items, then, when some of its items are not referrals, the error naming the first
/// of them (with the checkpoint after the page).
fn items_of(page: Page) -> Vec<Result<Referral, Error>> {
    let Page {
        items,
        undecodable,
        checkpoint,
        ..
    } = page;
    let mut out: Vec<_> = items.into_iter().map(Ok).collect();
    if let Some(item) = undecodable.into_iter().next() {
        out.push(Err(Error::undecodable_item(item, checkpoint)));
    }
    out
}

fn page_stream(
    client: Client,
    start: Result<ListQuery, Checkpoint>,
    limits: Limits,
    max_page_size: Option<u32>,
    raw_items: Option<RawItems>,
) -> impl Stream<Item = Result<Page, Error>> + Send + 'static {
    let correlation_id = new_id();
    let endpoint = client.inner.endpoint.clone();
    let pager = match start {
        Ok(query) => Pager::new(endpoint, &query, &correlation_id).map_err(Error::invalid),
        Err(checkpoint) => Pager::resume(endpoint, &checkpoint, &correlation_id)
            .map_err(|e| Error::new(ErrorKind::Checkpoint(e)).with_checkpoint(checkpoint.clone())),
    };
    let retry = client.inner.sender.retry;
    let refresh = client.inner.sender.auth.can_refresh();
    let state = pager.map(|pager| {
        let pager = pager
            .with_limits(limits)
            .with_retry(retry)
            .with_text_mask(crate::mask_secrets);
        let pager = match max_page_size {
            Some(size) => pager.with_max_page_size(size),
            None => pager,
        };
        let pager = match raw_items {
            Some(decode) => pager.with_raw_items(decode),
            None => pager,
        };
        PageFetcher {
            client,
            pager: if refresh {
                pager.with_token_refresh()
            } else {
                pager
            },
            correlation_id,
        }
    });
    stream::unfold(Some(state), |state| async move {
        match state? {
            Err(error) => Some((Err(error), None)),
            Ok(mut fetcher) => match fetcher.next_page().await {
                Some(Ok(page)) => Some((Ok(page), Some(Ok(fetcher)))),
                Some(Err(error)) => Some((Err(error), None)),
                None => None,
            },
        }
    })
}

struct PageFetcher {
    client: Client,
    pager: Pager,
    correlation_id: String,
}

impl PageFetcher {
    /// The next page, `None` at the end, or the error that ends the listing (with the
    /// checkpoint after the last page fully received).
    async fn next_page(&mut self) -> Option<Result<Page, Error>> {
        let span = tracing::info_span!("referrals", operation = "list", correlation_id = %self.correlation_id);
        let sender = &self.client.inner.sender;
        let mut request = PageRequest::new(&mut self.pager);
        let result = sender.drive(&mut request).instrument(span).await;
        result
            .map_err(|error| {
                error
                    .explain_app_only(sender.auth.is_app_only())
                    .with_checkpoint(self.pager.checkpoint())
            })
            .transpose()
    }
}

/// The limiter of a partitioned listing and its requests in flight, shared by its tasks.
#[derive(Debug)]
pub(crate) struct Gauge {
    pub(crate) limiter: Limiter,
    /// Page requests handed out and not yet answered for good (retries included).
    pub(crate) in_flight: u32,
}

/// A [`Gauge`] shared by the tasks of one listing.
pub(crate) type SharedGauge = Arc<Mutex<Gauge>>;

/// Locks the gauge (never held across an `await`).
pub(crate) fn lock(gauge: &SharedGauge) -> std::sync::MutexGuard<'_, Gauge> {
    gauge.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One page of a listing, as a conversation: the pager decides every step.
pub(crate) struct PageRequest<'a> {
    pager: &'a mut Pager,
    /// The transport's own report of the last failed attempt, which carries more than the
    /// pager's summary.
    last_transport_error: Option<TransportError>,
    /// The limiter fed every answer, for a partitioned listing.
    gauge: Option<&'a SharedGauge>,
    /// When the last request was sent, and how many were in flight then.
    sent: Option<(Instant, u32)>,
}

impl<'a> PageRequest<'a> {
    pub(crate) fn new(pager: &'a mut Pager) -> Self {
        PageRequest {
            pager,
            last_transport_error: None,
            gauge: None,
            sent: None,
        }
    }

    /// A page request whose answers the limiter in `gauge` sees.
    pub(crate) fn observed(pager: &'a mut Pager, gauge: &'a SharedGauge) -> Self {
        PageRequest {
            gauge: Some(gauge),
            ..PageRequest::new(pager)
        }
    }

    /// Tells the limiter about an answer (its status and `Retry-After`).
    fn observe(&self, response: &Response<Bytes>, now: SystemTime) {
        let (Some(gauge), Some((sent, in_flight))) = (self.gauge, self.sent) else {
            return;
        };
        let retry_after = referrals_query::retry_after(response.headers(), now);
        let arrived = Instant::now();
        lock(gauge).limiter.on_answer(
            response.status(),
            retry_after,
            arrived.saturating_duration_since(sent),
            in_flight,
            arrived,
        );
    }

    fn turn(&mut self, event: Result<PagerEvent, PagerError>) -> Result<Turn<Option<Page>>, Error> {
        match event {
            Ok(PagerEvent::Page(page)) => Ok(Turn::Done(Some(page))),
            Ok(PagerEvent::Retry(delay)) => Ok(Turn::Retry(delay)),
            Ok(PagerEvent::Refresh) => Ok(Turn::Refresh),
            Err(error) => Err(Error::from_pager(error, self.last_transport_error.take())),
        }
    }
}

impl Conversation for PageRequest<'_> {
    type Output = Option<Page>;

    fn next_request(&mut self, request_id: &str) -> Result<Next<Option<Page>>, Error> {
        if let Some(gauge) = self.gauge {
            self.sent = Some((Instant::now(), lock(gauge).in_flight));
        }
        match self.pager.next_request(request_id) {
            Ok(NextRequest::Send(request)) => Ok(Next::Send(request)),
            Ok(NextRequest::Done(_)) => Ok(Next::Done(None)),
            Err(error) => Err(Error::from_pager(error, self.last_transport_error.take())),
        }
    }

    fn on_response(
        &mut self,
        response: Response<Bytes>,
        now: SystemTime,
        random: f64,
    ) -> Result<Turn<Option<Page>>, Error> {
        self.observe(&response, now);
        let event = self.pager.on_http_response(&response, now, random);
        self.turn(event)
    }

    fn on_transport_error(
        &mut self,
        error: TransportError,
        now: SystemTime,
        random: f64,
    ) -> Result<Turn<Option<Page>>, Error> {
        let event = self.pager.on_transport_error(error.kind(), now, random);
        self.last_transport_error = Some(error);
        self.turn(event)
    }
}

//! Listings as streams: pages fetched one at a time, items yielded as each page arrives.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::{self, BoxStream, Stream, StreamExt};
use http::Response;
use referrals_model::Referral;
use referrals_query::transport::TransportError;
use referrals_query::{
    Checkpoint, Limits, ListQuery, NextRequest, Page, Pager, PagerError, PagerEvent,
};
use tracing::Instrument;

use crate::client::Client;
use crate::driver::{Conversation, Next, Turn, new_id};
use crate::{Error, ErrorKind};

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
#[must_use = "a listing does nothing until polled"]
pub struct Listing {
    state: ListingState,
}

struct Config {
    client: Client,
    start: Result<ListQuery, Checkpoint>,
    limits: Limits,
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
            })),
        }
    }

    /// Stops after `n` items (the last page is cut short; its checkpoint resumes right after the
    /// last item yielded). Must be set before the first poll.
    pub fn max_items(mut self, n: u64) -> Self {
        if let ListingState::Configuring(config) = &mut self.state {
            config.limits.max_items = Some(n);
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

    /// The listing as a stream of pages: items, the server's count, and the checkpoint after
    /// the page.
    pub fn pages(self) -> BoxStream<'static, Result<Page, Error>> {
        match self.state {
            ListingState::Configuring(config) => {
                let Config {
                    client,
                    start,
                    limits,
                } = *config;
                page_stream(client, start, limits).boxed()
            }
            // Already polled as items: nothing left to give as pages.
            _ => stream::empty().boxed(),
        }
    }
}

impl Stream for Listing {
    type Item = Result<Referral, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let ListingState::Configuring(_) = self.state {
            let ListingState::Configuring(config) =
                std::mem::replace(&mut self.state, ListingState::Taken)
            else {
                return Poll::Ready(None);
            };
            let Config {
                client,
                start,
                limits,
            } = *config;
            let items = page_stream(client, start, limits)
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
        let mut request = PageRequest {
            pager: &mut self.pager,
            last_transport_error: None,
        };
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

/// One page of a listing, as a conversation: the pager decides every step.
struct PageRequest<'a> {
    pager: &'a mut Pager,
    /// The transport's own report of the last failed attempt, which carries more than the
    /// pager's summary.
    last_transport_error: Option<TransportError>,
}

impl PageRequest<'_> {
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

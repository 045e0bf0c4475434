//! Listings as streams: pages fetched one at a time, items yielded as each page arrives.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use futures::stream::{self, BoxStream, Stream, StreamExt};
use http::StatusCode;
use referrals_model::Referral;
use referrals_query::transport::TransportError;
use referrals_query::{
    ApiError, Checkpoint, Limits, ListQuery, NextRequest, Page, Pager, PagerEvent,
};
use tracing::Instrument;

use crate::client::{Attempt, Client, new_id};
use crate::{Error, ErrorKind};

/// A listing of referrals: a [`Stream`] of items that fetches one page at a time, so memory
/// stays bounded by one page however long the listing is. [`Listing::pages`] gives the pages
/// themselves, each with a [`Checkpoint`].
///
/// An error ends the stream; it carries the checkpoint after the last page fully received,
/// from which [`Client::resume`] yields exactly the items not yet yielded. A page retried after
/// a transient failure never yields its items twice: items are yielded only once their page is
/// fully received.
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
                    Ok(page) => stream::iter(page.items.into_iter().map(Ok)).left_stream(),
                    Err(error) => stream::once(async move { Err(error) }).right_stream(),
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
    let retry = client.inner.retry;
    let state = match pager {
        Ok(pager) => Ok(PageFetcher {
            client,
            pager: pager.with_limits(limits).with_retry(retry),
            correlation_id,
        }),
        Err(error) => Err(error),
    };
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
        self.fetch().instrument(span).await.transpose()
    }

    async fn fetch(&mut self) -> Result<Option<Page>, Error> {
        let mut last_transport_error: Option<TransportError> = None;
        let mut refreshed = false;
        let mut attempt = 0u32;
        loop {
            let request_id = new_id();
            let request = match self.pager.next_request(&request_id) {
                Ok(NextRequest::Send(request)) => request,
                Ok(NextRequest::Done(_)) => return Ok(None),
                Err(error) => return Err(self.fail(Error::from_pager(error, last_transport_error))),
            };
            attempt += 1;
            // Kept to resend once after a 401 without telling the pager: the pager's view is
            // one attempt with one outcome.
            let mut retry_copy = clone_request(&request);
            let mut outcome = self
                .client
                .send_authorized(request, attempt, &request_id)
                .await
                .map_err(|e| self.fail(e))?;
            while let Attempt::Response(response, token) = &outcome {
                if response.status() != StatusCode::UNAUTHORIZED {
                    break;
                }
                self.client.inner.auth.invalidate(token);
                if refreshed {
                    let error = ApiError::from_response(
                        response.status(),
                        response.headers(),
                        response.body(),
                    );
                    return Err(self.fail(Error::new(ErrorKind::Unauthorized {
                        error: Box::new(error),
                    })));
                }
                refreshed = true;
                tracing::debug!("401: refreshing the token and retrying once");
                let request_id = new_id();
                let mut again = clone_request(&retry_copy);
                if let Ok(value) = http::HeaderValue::from_str(&request_id) {
                    again
                        .headers_mut()
                        .insert(referrals_query::MS_REQUEST_ID, value);
                }
                retry_copy = clone_request(&again);
                outcome = self
                    .client
                    .send_authorized(again, attempt, &request_id)
                    .await
                    .map_err(|e| self.fail(e))?;
            }
            let event = match outcome {
                Attempt::Response(response, _) => {
                    self.pager
                        .on_http_response(&response, SystemTime::now(), fastrand::f64())
                }
                Attempt::Failed(error) => {
                    let event = self.pager.on_transport_error(
                        error.kind(),
                        SystemTime::now(),
                        fastrand::f64(),
                    );
                    tracing::debug!(error = %error, "no response");
                    last_transport_error = Some(error);
                    event
                }
            };
            match event {
                Ok(PagerEvent::Page(page)) => return Ok(Some(page)),
                Ok(PagerEvent::Retry(delay)) => {
                    tracing::debug!(?delay, "retrying the page");
                    tokio::time::sleep(delay).await;
                }
                Err(error) => return Err(self.fail(Error::from_pager(error, last_transport_error))),
            }
        }
    }

    fn fail(&self, error: Error) -> Error {
        error
            .explain_app_only(self.client.inner.auth.is_app_only())
            .with_checkpoint(self.pager.checkpoint())
    }
}

fn clone_request(request: &http::Request<bytes::Bytes>) -> http::Request<bytes::Bytes> {
    let mut copy = http::Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

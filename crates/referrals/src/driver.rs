//! The one loop that does what the exchange rule decides: it sends through the transport,
//! attaches the bearer token (only to the configured origin, in a sensitive header), sleeps the
//! delays and asks the token provider for a fresh token. What to do after each attempt is
//! decided in `referrals_query` ([`Exchange`], and the [`Pager`](referrals_query::Pager) that
//! is built on it), never here.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, HeaderValue};
use http::{Request, Response, StatusCode};
use referrals_query::transport::{Transport, TransportError};
use referrals_query::{ApiError, BaseUrl, Exchange, FailReason, RequestIds, RetryPolicy, Step};
use tracing::Instrument;

use crate::auth::{AuthError, TokenProvider};
use crate::{Error, ErrorKind, InvalidRequest, Secret};

/// Where and how the requests of one API host are sent: its origin, the transport, the token
/// provider (for that host's audience) and the retry policy.
// Derived: each field's own `Debug` keeps its secrets out (the token provider's, the
// transport's).
#[derive(Clone, Debug)]
pub(crate) struct Sender {
    pub(crate) base: BaseUrl,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) auth: Arc<dyn TokenProvider>,
    pub(crate) retry: RetryPolicy,
}

/// What the driver should send next.
// One value per attempt, moved straight to the transport: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Next<T> {
    /// This request (without `Authorization`).
    Send(Request<Bytes>),
    /// Nothing: this is the result.
    Done(T),
}

/// What an outcome meant, as far as the driver is concerned.
pub(crate) enum Turn<T> {
    /// The result.
    Done(T),
    /// Wait, then ask for the next request.
    Retry(Duration),
    /// The token was rejected: invalidate it, then ask for the next request at once.
    Refresh,
}

/// One logical request (a single call, or one page of a listing): the requests to send and
/// what their outcomes mean, decided by the pure layer. An error of kind
/// [`ErrorKind::Unauthorized`] says the token was rejected once more.
pub(crate) trait Conversation {
    /// What a successful conversation gives.
    type Output;

    /// The request of the next attempt, carrying `request_id`.
    fn next_request(&mut self, request_id: &str) -> Result<Next<Self::Output>, Error>;

    /// The response to the last request.
    fn on_response(
        &mut self,
        response: Response<Bytes>,
        now: SystemTime,
        random: f64,
    ) -> Result<Turn<Self::Output>, Error>;

    /// The last request got no (complete) response.
    fn on_transport_error(
        &mut self,
        error: TransportError,
        now: SystemTime,
        random: f64,
    ) -> Result<Turn<Self::Output>, Error>;
}

impl Sender {
    /// Runs `conversation` to its end. The clock and the random values of the retry jitter are
    /// read here, once per outcome.
    pub(crate) async fn drive<C: Conversation>(
        &self,
        conversation: &mut C,
    ) -> Result<C::Output, Error> {
        // What the retry policy counts: a resend with a fresh token is the same attempt.
        let mut attempt = 1u32;
        loop {
            let request_id = new_id();
            let request = match conversation.next_request(&request_id)? {
                Next::Send(request) => request,
                Next::Done(output) => return Ok(output),
            };
            let (outcome, token) = self.send(request, attempt, &request_id).await?;
            let (now, random) = (SystemTime::now(), fastrand::f64());
            let turn = match outcome {
                Ok(response) => conversation.on_response(response, now, random),
                Err(error) => {
                    tracing::debug!(error = %error, kind = ?error.kind(), "no response");
                    conversation.on_transport_error(error, now, random)
                }
            };
            match turn {
                Ok(Turn::Done(output)) => return Ok(output),
                Ok(Turn::Retry(delay)) => {
                    tracing::debug!(?delay, attempt, "retrying");
                    tokio::time::sleep(delay).await;
                    attempt = attempt.saturating_add(1);
                }
                Ok(Turn::Refresh) => {
                    self.auth.invalidate(&token);
                    tracing::debug!("401: refreshing the token and retrying once");
                }
                Err(error) => {
                    if matches!(error.kind(), ErrorKind::Unauthorized { .. }) {
                        self.auth.invalidate(&token);
                    }
                    return Err(error);
                }
            }
        }
    }

    /// One attempt: checks the origin, adds the bearer token as a sensitive header, sends.
    /// Returns the outcome and the token it carried.
    async fn send(
        &self,
        mut request: Request<Bytes>,
        attempt: u32,
        request_id: &str,
    ) -> Result<(Result<Response<Bytes>, TransportError>, Secret), Error> {
        if !self.base.is_same_origin_uri(request.uri()) {
            // The request builders never produce this; refusing here keeps the token on the
            // configured host even if one ever did.
            return Err(Error::invalid(InvalidRequest::ForeignOrigin {
                authority: request
                    .uri()
                    .authority()
                    .map_or("(no host)", |a| a.as_str())
                    .to_owned(),
                origin: self.base.origin().to_string(),
            }));
        }
        let token = self.auth.token(&*self.transport).await?;
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                Error::from(AuthError::NotConfigured(
                    crate::auth::ConfigProblem::UnsendableToken,
                ))
            })?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
        let span = tracing::debug_span!(
            "attempt",
            method = %request.method(),
            path = request.uri().path(),
            attempt,
            request_id,
            status = tracing::field::Empty,
        );
        let outcome = self.transport.send(request).instrument(span.clone()).await;
        if let Ok(response) = &outcome {
            span.record("status", response.status().as_u16());
        }
        Ok((outcome, token))
    }

    /// Sends one logical request built by `build` (called for every attempt with the same
    /// correlation id and a new request id), with retries and one token refresh on 401.
    /// Returns the `2xx` response or the error.
    pub(crate) async fn execute(
        &self,
        operation: &'static str,
        build: impl Fn(RequestIds<'_>) -> Result<Request<Bytes>, referrals_query::RequestError>,
    ) -> Result<Response<Bytes>, Error> {
        let correlation_id = new_id();
        let span = tracing::info_span!("referrals", operation, correlation_id = %correlation_id);
        let mut single = Single {
            build,
            correlation_id: &correlation_id,
            // Replaced by the exchange of the first request built (its method and If-Match).
            exchange: Exchange::new(self.retry, &http::Method::GET, false),
            started: false,
            refresh: self.auth.can_refresh(),
        };
        self.drive(&mut single).instrument(span).await
    }
}

/// A single call: the same request every attempt, decided by an [`Exchange`].
struct Single<'a, F> {
    build: F,
    correlation_id: &'a str,
    exchange: Exchange,
    /// True once the first request was built and `exchange` made from it.
    started: bool,
    /// The token provider can hand out a fresh token after a 401.
    refresh: bool,
}

impl<F> Conversation for Single<'_, F>
where
    F: Fn(RequestIds<'_>) -> Result<Request<Bytes>, referrals_query::RequestError>,
{
    type Output = Response<Bytes>;

    fn next_request(&mut self, request_id: &str) -> Result<Next<Response<Bytes>>, Error> {
        let request = (self.build)(RequestIds::new(self.correlation_id, request_id))
            .map_err(Error::invalid)?;
        if !self.started {
            self.started = true;
            let exchange = Exchange::for_request(*self.exchange.policy(), &request);
            self.exchange = if self.refresh {
                exchange.with_token_refresh()
            } else {
                exchange
            };
        }
        Ok(Next::Send(request))
    }

    fn on_response(
        &mut self,
        response: Response<Bytes>,
        now: SystemTime,
        random: f64,
    ) -> Result<Turn<Response<Bytes>>, Error> {
        let step = self
            .exchange
            .on_response(response.status(), response.headers(), now, random);
        match step {
            Step::Deliver => Ok(Turn::Done(response)),
            Step::Retry(delay) => {
                tracing::debug!(status = response.status().as_u16(), "transient answer");
                Ok(Turn::Retry(delay))
            }
            Step::Refresh => Ok(Turn::Refresh),
            Step::Fail { reason, attempts } => {
                let error = Box::new(ApiError::from_response(
                    response.status(),
                    response.headers(),
                    response.body(),
                ));
                Err(Error::new(match reason {
                    FailReason::Unauthorized => ErrorKind::Unauthorized {
                        error,
                        refreshed: true,
                    },
                    FailReason::Final if error.status() == StatusCode::UNAUTHORIZED => {
                        ErrorKind::Unauthorized {
                            error,
                            refreshed: false,
                        }
                    }
                    FailReason::Final | FailReason::GaveUp(_) => ErrorKind::Api {
                        error,
                        attempts,
                        gave_up: reason.gave_up(),
                    },
                }))
            }
        }
    }

    fn on_transport_error(
        &mut self,
        error: TransportError,
        now: SystemTime,
        random: f64,
    ) -> Result<Turn<Response<Bytes>>, Error> {
        let exchange = &mut self.exchange;
        match exchange.on_transport_error(error.kind(), now, random) {
            Step::Retry(delay) => Ok(Turn::Retry(delay)),
            Step::Fail { reason, attempts } => {
                Err(Error::transport(error, attempts, reason.gave_up()))
            }
            // Only a response is delivered or answered with a refresh: never given here.
            Step::Deliver | Step::Refresh => {
                Err(Error::transport(error, exchange.attempts(), None))
            }
        }
    }
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

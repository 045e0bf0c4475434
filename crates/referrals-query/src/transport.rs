//! The one seam between deciding and doing: "send this request, give me the response".
//!
//! The trait lives here, in the pure crate, so that the hyper transport, the replay transport of
//! `referrals-fixtures` and a user's own transport all implement the same thing without depending
//! on each other. It names no runtime: a transport returns a boxed `Send` future.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

/// A boxed, `Send` future, as returned by [`Transport::send`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one HTTP request and returns the complete response (status, headers, whole body).
///
/// Implementations do not retry, do not add authentication and do not follow redirects: the
/// client decides all of that. They must put a finite bound on every wait and on the body size,
/// and report failures as a [`TransportError`] whose [`TransportErrorKind`] says whether the
/// request may have reached the server (which decides whether a `POST` may be retried).
///
/// ```
/// use bytes::Bytes;
/// use referrals_query::transport::{BoxFuture, Transport, TransportError};
///
/// /// Answers every request with `204 No Content`.
/// #[derive(Debug)]
/// struct NoContent;
///
/// impl Transport for NoContent {
///     fn send(
///         &self,
///         _request: http::Request<Bytes>,
///     ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
///         Box::pin(async {
///             Ok(http::Response::builder().status(204).body(Bytes::new()).expect("static response"))
///         })
///     }
/// }
/// ```
pub trait Transport: Send + Sync + fmt::Debug + 'static {
    /// Sends `request` and resolves to the full response, or to why there is none.
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>>;
}

impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        (**self).send(request)
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        (**self).send(request)
    }
}

/// What went wrong below HTTP, in the terms the retry policy needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// No connection could be made (DNS, refused, TLS handshake, proxy CONNECT): the request
    /// provably never reached the server.
    Connect,
    /// The connect phase did not finish in time: the request was never sent.
    ConnectTimeout,
    /// The attempt (or a read while waiting for bytes) timed out after the request may have
    /// been sent.
    Timeout,
    /// The connection failed after the request may have been sent (reset, closed early,
    /// truncated body).
    Io,
    /// The response body exceeded the configured cap; the rest was not read.
    BodyTooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// The request could not be sent as given (bad URI scheme, plain HTTP to a remote host...).
    InvalidRequest,
}

impl TransportErrorKind {
    /// True when the request may have reached the server, so a non-idempotent request must not
    /// be sent again.
    pub fn may_have_reached_server(self) -> bool {
        !matches!(
            self,
            TransportErrorKind::Connect
                | TransportErrorKind::ConnectTimeout
                | TransportErrorKind::InvalidRequest
        )
    }

    /// True for kinds that a later attempt may not hit (everything but [`Self::InvalidRequest`]
    /// and [`Self::BodyTooLarge`]).
    pub fn is_transient(self) -> bool {
        !matches!(
            self,
            TransportErrorKind::InvalidRequest | TransportErrorKind::BodyTooLarge { .. }
        )
    }
}

/// A failure to get a complete HTTP response.
#[derive(Debug)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl TransportError {
    /// A new error of `kind` with a human-readable `message` (never containing secrets).
    pub fn new(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// The message, without the source chain.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The cause is reported by `source()`, not repeated here (error-chain convention).
        f.write_str(&self.message)
    }
}

impl StdError for TransportError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

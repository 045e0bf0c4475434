//! The one error type of the client.

use std::fmt;

use http::StatusCode;
use referrals_model::{DecodeError, InvalidRegistration, LifecycleRefused};
use referrals_query::transport::{TransportError, TransportErrorKind};
use referrals_query::{
    ApiError, BaseUrlError, Checkpoint, CheckpointError, GiveUp, PagerError, QueryError,
    RequestError, UndecodableItem, UnexpectedBody,
};

use crate::auth::AuthError;

/// Everything that can go wrong, with what a caller needs to act on it.
///
/// [`Error::kind`] says what happened; [`Error::checkpoint`] says where a listing stood when it
/// happened, so that [`Client::resume`](crate::Client::resume) continues it without losing or
/// repeating an item.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    checkpoint: Option<Checkpoint>,
    /// The refusal of an app-only token (see [`Error::is_app_only_refusal`]).
    app_only: bool,
}

/// Why the Referrals API refused an app-only token, appended to the error's message (see
/// [`Error::is_app_only_refusal`]). Facts only: how to sign in as a user is the application's
/// to say.
pub const APP_ONLY_REFUSAL: &str = "the token is app-only (as client credentials give), and the \
    Referrals API accepts only App+User (delegated) tokens of a user with the Referrals Admin or \
    Referrals User role";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client configuration is invalid (a base URL, a user agent, no credentials...).
    #[error("invalid configuration: {0}")]
    Config(#[source] ConfigError),
    /// The request cannot be sent as asked (an empty id, a page size out of range, an empty
    /// patch...); nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(#[source] InvalidRequest),
    /// No token could be had.
    #[error("{0}")]
    Auth(#[source] AuthError),
    /// The API rejected the credentials (401): after one fresh token when the credential can
    /// be refreshed, at once when it cannot (a fixed token).
    #[error(
        "the API rejected the credentials{}: {error}",
        if *refreshed { " even after a token refresh" } else { " (a fixed token, which cannot be refreshed)" }
    )]
    Unauthorized {
        /// The 401 response.
        error: Box<ApiError>,
        /// True when a fresh token was fetched and rejected too.
        refreshed: bool,
    },
    /// The API answered with an error status.
    #[error("{error}{}", retry_note(*attempts, gave_up))]
    Api {
        /// Status, code, message, request and correlation ids.
        error: Box<ApiError>,
        /// Attempts made.
        attempts: u32,
        /// Why a transient error was not retried further.
        gave_up: Option<GiveUp>,
    },
    /// A connect, attempt or idle-read timeout.
    #[error("timed out: {source}{}", retry_note(*attempts, gave_up))]
    Timeout {
        /// The transport's report.
        source: TransportError,
        /// Attempts made.
        attempts: u32,
        /// Why it was not retried further.
        gave_up: Option<GiveUp>,
    },
    /// No response: connection refused or reset, TLS failure, body over the cap...
    #[error("transport failed: {source}{}", retry_note(*attempts, gave_up))]
    Transport {
        /// The transport's report.
        source: TransportError,
        /// Attempts made.
        attempts: u32,
        /// Why it was not retried further.
        gave_up: Option<GiveUp>,
    },
    /// A successful response whose body is not what the API documents (with JSON path, line
    /// and column), or not JSON at all (a proxy's HTML page: `body` names it); or, in a
    /// listing, an item of a page that is not a referral (`item` says which, with its id and
    /// its JSON as received: the page's other items were yielded before this error).
    #[error(
        "cannot decode {}{}: {}",
        if item.is_some() { "a referral" } else { "the response" },
        page.filter(|_| item.is_none()).map(|p| format!(" (page {p})")).unwrap_or_default(),
        match (item, body) {
            (Some(item), _) => item.to_string(),
            (None, Some(body)) => body.to_string(),
            (None, None) => error.to_string(),
        }
    )]
    Decode {
        /// Where and what (for an `item`, within the item).
        error: DecodeError,
        /// The page of the listing, when listing.
        page: Option<u64>,
        /// What the body is when it is not JSON at all (an HTML page, an empty body), with the
        /// response's status and `Content-Type`.
        body: Option<UnexpectedBody>,
        /// The item of the page that is not a referral, when the page itself is one.
        item: Option<Box<UndecodableItem>>,
    },
    /// The listing cannot follow the server's continuation (a next link to another host, a
    /// loop, an unusable continuation header).
    #[error("pagination stopped: {0}")]
    Pagination(#[source] PagerError),
    /// A checkpoint given to resume is not valid for this client.
    #[error("{0}")]
    Checkpoint(#[source] CheckpointError),
    /// A life-cycle action (accept, decline, won, lost) the referral's status does not allow;
    /// no update was sent.
    #[error("{}{refused}", if *changed_meanwhile { "the referral changed meanwhile (HTTP 412): " } else { "" })]
    Refused {
        /// The action, and the status and substatus it was refused from.
        refused: LifecycleRefused,
        /// True when the referral changed between the read and the update (a 412), and the
        /// re-read showed a status the action no longer applies to.
        changed_meanwhile: bool,
    },
    /// A deal registration (or an update of one) that the API would refuse; nothing was sent.
    #[error("invalid deal registration: {0}")]
    Registration(#[source] InvalidRegistration),
}

/// A builder setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL.
    #[error("base URL: {0}")]
    BaseUrl(#[source] BaseUrlError),
    /// The `User-Agent`.
    #[error("user agent: {0}")]
    UserAgent(#[source] RequestError),
    /// No token provider was given.
    #[error("no credentials: use bearer_token, token_provider or auth_from_env")]
    NoCredentials,
    /// The default transport could not be set up.
    #[cfg(feature = "hyper")]
    #[error("transport: {0}")]
    Transport(#[source] referrals_hyper::BuildError),
    /// No transport was given, and the default one is not compiled in (feature `hyper`).
    #[error("no transport: the `hyper` feature is off and no transport was given")]
    NoTransport,
}

/// Why a request was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// The request could not be built (an id, a header value, a patch path, a body).
    #[error("{0}")]
    Request(#[source] RequestError),
    /// A list parameter is out of range or malformed.
    #[error("{0}")]
    Query(#[source] QueryError),
    /// The call needs a field the referral given does not have.
    #[error("{operation} needs the referral's `{field}`")]
    MissingField {
        /// The call (`replace`).
        operation: &'static str,
        /// The field (`id`, `eTag`).
        field: &'static str,
    },
    /// The referral to update was read back without an eTag (in the body or the `ETag`
    /// header): it cannot be updated safely.
    #[error("the referral {id} was returned without an eTag; it cannot be updated safely")]
    NoETag {
        /// The referral's id.
        id: String,
    },
    /// A deal registration that cannot be encoded as JSON.
    #[error("cannot encode the registration: {0}")]
    Encode(#[source] serde_json::Error),
    /// A deal registration update with no operation.
    #[error("the registration update has no operation")]
    EmptyUpdate,
    /// A partitioned checkpoint resumed with an item limit: a partitioned listing stops only at
    /// whole pages (`max_pages`), its ranges being listed at once.
    #[error(
        "a partitioned listing resumes to whole pages only: resume it without an item limit \
         (or with a page limit)"
    )]
    PartitionedItemLimit,
    /// A request addressed to another origin than the configured one: the token is never
    /// sent there. The request builders never make one.
    #[error("refusing to send credentials to {authority}: not the configured API origin {origin}")]
    ForeignOrigin {
        /// The request's authority.
        authority: String,
        /// The configured origin.
        origin: String,
    },
}

fn retry_note(attempts: u32, gave_up: &Option<GiveUp>) -> String {
    match gave_up {
        Some(why) => format!("; {why}"),
        None if attempts > 1 => format!(" (after {attempts} attempts)"),
        None => String::new(),
    }
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                checkpoint: None,
                app_only: false,
            }),
        }
    }

    pub(crate) fn with_checkpoint(mut self, checkpoint: Checkpoint) -> Self {
        self.inner.checkpoint = Some(checkpoint);
        self
    }

    pub(crate) fn config(error: ConfigError) -> Self {
        Error::new(ErrorKind::Config(error))
    }

    pub(crate) fn invalid(error: impl Into<InvalidRequest>) -> Self {
        Error::new(ErrorKind::InvalidRequest(error.into()))
    }

    pub(crate) fn transport(
        source: TransportError,
        attempts: u32,
        gave_up: Option<GiveUp>,
    ) -> Self {
        let kind = match source.kind() {
            TransportErrorKind::Timeout | TransportErrorKind::ConnectTimeout => {
                ErrorKind::Timeout {
                    source,
                    attempts,
                    gave_up,
                }
            }
            _ => ErrorKind::Transport {
                source,
                attempts,
                gave_up,
            },
        };
        Error::new(kind)
    }

    /// Converts a pager error; `last_transport_error` is the transport's own report of the last
    /// failed attempt, which carries more than the pager's summary.
    pub(crate) fn from_pager(
        error: PagerError,
        last_transport_error: Option<TransportError>,
    ) -> Self {
        match error {
            PagerError::Api { error, .. } if error.status() == StatusCode::UNAUTHORIZED => {
                Error::new(ErrorKind::Unauthorized {
                    error,
                    refreshed: false,
                })
            }
            PagerError::Api {
                error,
                attempts,
                gave_up,
            } => Error::new(ErrorKind::Api {
                error,
                attempts,
                gave_up,
            }),
            PagerError::Transport {
                kind,
                attempts,
                gave_up,
            } => {
                let source = last_transport_error
                    .unwrap_or_else(|| TransportError::new(kind, format!("{kind:?}")));
                Error::transport(source, attempts, gave_up)
            }
            PagerError::Unauthorized { error } => Error::new(ErrorKind::Unauthorized {
                error,
                refreshed: true,
            }),
            PagerError::Decode { error, page, body } => Error::new(ErrorKind::Decode {
                error,
                page: Some(page),
                body,
                item: None,
            }),
            PagerError::Request(error) => Error::invalid(error),
            other => Error::new(ErrorKind::Pagination(other)),
        }
    }

    /// A successful `response` whose body could not be decoded (`error`), named by what it is
    /// when it is not JSON at all.
    pub(crate) fn undecodable(error: DecodeError, response: &http::Response<bytes::Bytes>) -> Self {
        Error::new(ErrorKind::Decode {
            error,
            page: None,
            body: UnexpectedBody::classify(response.status(), response.headers(), response.body()),
            item: None,
        })
    }

    /// An item of a listing's page that is not a referral, as the error that ends an item
    /// stream, with `checkpoint`, the one after its page (see [`Listing`](crate::Listing)).
    pub fn undecodable_item(item: UndecodableItem, checkpoint: Checkpoint) -> Self {
        Error::new(ErrorKind::Decode {
            error: item.error.clone(),
            page: Some(item.page),
            body: None,
            item: Some(Box::new(item)),
        })
        .with_checkpoint(checkpoint)
    }

    /// With an app-only credential, a 401 or 403 is marked as the refusal of an app-only token,
    /// and the message says what the Referrals API wants instead.
    pub(crate) fn explain_app_only(mut self, app_only: bool) -> Self {
        let refused = self
            .status()
            .is_some_and(|s| s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN);
        self.inner.app_only = app_only && refused;
        self
    }

    /// True when the API refused (401 or 403) an app-only token, e.g. from client credentials:
    /// the Referrals API accepts only App+User tokens.
    pub fn is_app_only_refusal(&self) -> bool {
        self.inner.app_only
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// Where the listing stood when this happened: resuming from it yields exactly the items
    /// not yet yielded. `None` outside listings.
    pub fn checkpoint(&self) -> Option<&Checkpoint> {
        self.inner.checkpoint.as_ref()
    }

    /// The API's error, for [`ErrorKind::Api`] and [`ErrorKind::Unauthorized`].
    pub fn api_error(&self) -> Option<&ApiError> {
        match &self.inner.kind {
            ErrorKind::Api { error, .. } | ErrorKind::Unauthorized { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<StatusCode> {
        self.api_error().map(ApiError::status)
    }

    /// The API's error code (`itemNotFound`, `preconditionFailed`...).
    pub fn code(&self) -> Option<&str> {
        self.api_error().and_then(ApiError::code)
    }

    /// The `MS-RequestId` of the failed response, for support requests.
    pub fn request_id(&self) -> Option<&str> {
        self.api_error().and_then(ApiError::request_id)
    }

    /// True for timeouts.
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Timeout { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner.kind, f)?;
        if self.inner.app_only {
            write!(f, "; {APP_ONLY_REFUSAL}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("checkpoint", &self.inner.checkpoint)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.inner.kind)
    }
}

impl From<AuthError> for Error {
    fn from(error: AuthError) -> Self {
        Error::new(ErrorKind::Auth(error))
    }
}

impl From<QueryError> for Error {
    fn from(error: QueryError) -> Self {
        Error::invalid(error)
    }
}

impl From<RequestError> for Error {
    fn from(error: RequestError) -> Self {
        Error::invalid(error)
    }
}

impl From<QueryError> for InvalidRequest {
    fn from(error: QueryError) -> Self {
        InvalidRequest::Query(error)
    }
}

impl From<RequestError> for InvalidRequest {
    fn from(error: RequestError) -> Self {
        InvalidRequest::Request(error)
    }
}

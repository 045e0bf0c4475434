//! The one error type of the client.

use std::fmt;

use http::StatusCode;
use referrals_model::{DecodeError, LifecycleRefused, RegistrationError};
use referrals_query::transport::{TransportError, TransportErrorKind};
use referrals_query::{ApiError, Checkpoint, CheckpointError, GiveUp, PagerError};

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

/// What the Referrals API wants when it refuses an app-only token.
pub const APP_ONLY_HINT: &str = "the Referrals API accepts only App+User (delegated) tokens of a \
    user with the Referrals Admin or Referrals User role, and client credentials give app-only \
    tokens: sign in with `referrals login`, or set PARTNER_CENTER_REFRESH_TOKEN (with \
    AZURE_CLIENT_ID) for automation";

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client configuration is invalid (a base URL, a timeout, a user agent).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The request cannot be sent as asked (an empty id, a page size out of range, an empty
    /// patch...); nothing was sent.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// No token could be had.
    #[error("{0}")]
    Auth(#[source] AuthError),
    /// The API rejected the credentials (401), even with a freshly fetched token.
    #[error("the API rejected the credentials even after a token refresh: {error}")]
    Unauthorized {
        /// The 401 response.
        error: Box<ApiError>,
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
    /// and column).
    #[error("cannot decode the response{}: {error}", page.map(|p| format!(" (page {p})")).unwrap_or_default())]
    Decode {
        /// Where and what.
        error: DecodeError,
        /// The page of the listing, when listing.
        page: Option<u64>,
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
    Registration(#[source] RegistrationError),
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

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config(message.into()))
    }

    pub(crate) fn invalid(error: impl fmt::Display) -> Self {
        Error::new(ErrorKind::InvalidRequest(error.to_string()))
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
            PagerError::Unauthorized { error } => Error::new(ErrorKind::Unauthorized { error }),
            PagerError::Decode { error, page } => Error::new(ErrorKind::Decode {
                error,
                page: Some(page),
            }),
            PagerError::Request(error) => Error::invalid(error),
            other => Error::new(ErrorKind::Pagination(other)),
        }
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
            ErrorKind::Api { error, .. } | ErrorKind::Unauthorized { error } => Some(error),
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
            write!(f, "; {APP_ONLY_HINT}")?;
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

impl From<referrals_query::QueryError> for Error {
    fn from(error: referrals_query::QueryError) -> Self {
        Error::invalid(error)
    }
}

impl From<referrals_query::RequestError> for Error {
    fn from(error: referrals_query::RequestError) -> Self {
        Error::invalid(error)
    }
}

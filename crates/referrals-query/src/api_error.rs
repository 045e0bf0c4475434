//! Error responses, whatever their body: the API's `{"error":{…}}`, a gateway's HTML, nothing.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, StatusCode};
use referrals_model::ErrorResponse;

use crate::body::{BodyKind, UnexpectedBody};
use crate::encode;
use crate::request::{MS_CORRELATION_ID, MS_REQUEST_ID, REQUEST_ID};

/// The longest body excerpt kept from a non-JSON error body, in characters.
pub const BODY_SNIPPET_CHARS: usize = 512;
/// The longest text kept from a server-chosen header or error field, in characters.
const FIELD_CHARS: usize = 1024;
const ID_CHARS: usize = 128;

/// An error response from the API (any status ≥ 400, or a status the operation does not
/// expect), with what the server said about it.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use referrals_query::ApiError;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("ms-requestid", "r-1".parse().unwrap());
/// let error = ApiError::from_response(
///     StatusCode::NOT_FOUND,
///     &headers,
///     br#"{"error":{"code":"itemNotFound","message":"No referral with this id"}}"#,
/// );
/// assert_eq!(error.code(), Some("itemNotFound"));
/// assert_eq!(error.request_id(), Some("r-1"));
/// assert_eq!(
///     error.to_string(),
///     "HTTP 404 Not Found: itemNotFound: No referral with this id (request id r-1)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: Option<String>,
    message: Option<String>,
    target: Option<String>,
    inner_code: Option<String>,
    inner_message: Option<String>,
    request_id: Option<String>,
    correlation_id: Option<String>,
    body_snippet: Option<String>,
    /// What the body is when it is not JSON (an HTML page, an empty body...).
    unexpected_body: Option<UnexpectedBody>,
}

/// What a masking function is: text in, the same text with what must not be shown replaced
/// (the `referrals` crate's `mask_secrets` masks every secret the process holds).
pub type TextMask = for<'a> fn(&'a str) -> Cow<'a, str>;

/// The [`TextMask`] that masks nothing.
pub(crate) fn unmasked(text: &str) -> Cow<'_, str> {
    Cow::Borrowed(text)
}

impl ApiError {
    /// Reads an error response. Never fails: a body that is not the API's error object is kept
    /// as a short excerpt (control characters escaped), and named by what it is (an HTML page,
    /// an empty body: [`UnexpectedBody`]).
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ApiError {
        ApiError::from_response_masked(status, headers, body, unmasked)
    }

    /// [`from_response`](Self::from_response), with every text the server chose (the error's
    /// fields, the body excerpt, the ids) passed through `mask` before it is shortened: a
    /// secret the server echoes is masked whole, never cut in half.
    pub fn from_response_masked(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        mask: TextMask,
    ) -> ApiError {
        let header = |name: &http::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| encode::snippet(&mask(v), ID_CHARS))
        };
        let mut error = ApiError {
            status,
            code: None,
            message: None,
            target: None,
            inner_code: None,
            inner_message: None,
            request_id: header(&MS_REQUEST_ID).or_else(|| header(&REQUEST_ID)),
            correlation_id: header(&MS_CORRELATION_ID),
            body_snippet: None,
            unexpected_body: None,
        };
        let clean = |text: Option<&String>| {
            text.map(|t| t.trim())
                .filter(|t| !t.is_empty())
                .map(|t| encode::snippet(&mask(t), FIELD_CHARS))
        };
        match referrals_model::decode::<ErrorResponse>(body) {
            Ok(ErrorResponse {
                error: Some(api), ..
            }) => {
                error.code = clean(api.code.as_ref());
                error.message = clean(api.message.as_ref());
                error.target = clean(api.target.as_ref());
                if let Some(inner) = &api.inner_error {
                    error.inner_code = clean(inner.code.as_ref());
                    error.inner_message = clean(inner.message.as_ref());
                }
            }
            _ => {
                error.unexpected_body = UnexpectedBody::classify(status, headers, body);
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                if !text.is_empty() {
                    error.body_snippet = Some(encode::snippet(&mask(text), BODY_SNIPPET_CHARS));
                }
            }
        }
        error
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The API's error code, like `itemNotFound`.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The API's message.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// What the error is about, when the API says.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The inner error's code.
    pub fn inner_code(&self) -> Option<&str> {
        self.inner_code.as_deref()
    }

    /// The inner error's message.
    pub fn inner_message(&self) -> Option<&str> {
        self.inner_message.as_deref()
    }

    /// The response's `MS-RequestId` (or `Request-ID`).
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The response's `MS-CorrelationId`.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// An excerpt of a body that was not the API's error object (HTML from a gateway...).
    pub fn body_snippet(&self) -> Option<&str> {
        self.body_snippet.as_deref()
    }

    /// What the body is, when it is not JSON at all: an HTML page (a proxy's error page), an
    /// empty body, another declared type.
    pub fn unexpected_body(&self) -> Option<&UnexpectedBody> {
        self.unexpected_body.as_ref()
    }

    /// True when the body is an HTML page rather than the API's JSON: a proxy or gateway
    /// answered, not the API.
    pub fn is_html(&self) -> bool {
        self.unexpected_body
            .as_ref()
            .is_some_and(|body| body.kind() == BodyKind::Html)
    }

    /// True for 412 Precondition Failed: the `If-Match` eTag is stale.
    pub fn is_precondition_failed(&self) -> bool {
        self.status == StatusCode::PRECONDITION_FAILED
    }

    /// True for 404 Not Found.
    pub fn is_not_found(&self) -> bool {
        self.status == StatusCode::NOT_FOUND
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status.as_u16())?;
        if let Some(reason) = self.status.canonical_reason() {
            write!(f, " {reason}")?;
        }
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => write!(f, ": {code}: {message}")?,
            (Some(text), None) | (None, Some(text)) => write!(f, ": {text}")?,
            (None, None) => {}
        }
        if let Some(target) = &self.target {
            write!(f, " (target {target})")?;
        }
        match (&self.inner_code, &self.inner_message) {
            (Some(code), Some(message)) => write!(f, " [{code}: {message}]")?,
            (Some(text), None) | (None, Some(text)) => write!(f, " [{text}]")?,
            (None, None) => {}
        }
        let named = self
            .unexpected_body
            .as_ref()
            .filter(|body| body.kind() != BodyKind::Empty);
        if let Some(body) = named {
            write!(f, " with {}, not the API's JSON", body.describe())?;
        }
        if let Some(snippet) = &self.body_snippet {
            write!(f, ": body: {snippet}")?;
        } else if self.code.is_none() && self.message.is_none() {
            f.write_str(" (empty body)")?;
        }
        match (&self.request_id, &self.correlation_id) {
            (Some(request), Some(correlation)) => {
                write!(f, " (request id {request}, correlation id {correlation})")
            }
            (Some(request), None) => write!(f, " (request id {request})"),
            (None, Some(correlation)) => write!(f, " (correlation id {correlation})"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn json_error_body() {
        let body =
            br#"{"error":{"code":"preconditionFailed","message":"eTag mismatch","target":"eTag",
            "innerError":{"code":"stale","message":"changed at 10:00"}}}"#;
        let h = headers(&[("MS-RequestId", "req-9"), ("MS-CorrelationId", "corr-9")]);
        let error = ApiError::from_response(StatusCode::PRECONDITION_FAILED, &h, body);
        assert!(error.is_precondition_failed());
        assert_eq!(error.code(), Some("preconditionFailed"));
        assert_eq!(error.message(), Some("eTag mismatch"));
        assert_eq!(error.target(), Some("eTag"));
        assert_eq!(error.inner_code(), Some("stale"));
        assert_eq!(error.inner_message(), Some("changed at 10:00"));
        assert_eq!(error.request_id(), Some("req-9"));
        assert_eq!(error.correlation_id(), Some("corr-9"));
        assert_eq!(error.body_snippet(), None);
        assert_eq!(
            error.to_string(),
            "HTTP 412 Precondition Failed: preconditionFailed: eTag mismatch (target eTag) \
             [stale: changed at 10:00] (request id req-9, correlation id corr-9)"
        );
    }

    #[test]
    fn html_body_is_kept_short_and_clean() {
        let html = format!(
            "<html><body>\x1b[31mBad gateway</body></html>{}",
            "x".repeat(5000)
        );
        let h = headers(&[("Request-ID", "gw-1")]);
        let error = ApiError::from_response(StatusCode::BAD_GATEWAY, &h, html.as_bytes());
        assert_eq!(error.code(), None);
        assert_eq!(error.request_id(), Some("gw-1"));
        let snippet = error.body_snippet().unwrap();
        assert!(snippet.starts_with("<html><body>\\u{1b}[31mBad gateway"));
        assert!(snippet.chars().count() <= BODY_SNIPPET_CHARS + 12);
        assert!(!error.to_string().contains('\x1b'));
        assert!(error.is_html());
    }

    #[test]
    fn an_html_page_is_named_with_its_status_and_type() {
        let h = headers(&[("Content-Type", "text/html; charset=utf-8")]);
        let error = ApiError::from_response(
            StatusCode::BAD_GATEWAY,
            &h,
            b"<html><head><title>502 Bad Gateway</title></head></html>",
        );
        assert!(error.is_html());
        assert_eq!(
            error.to_string(),
            "HTTP 502 Bad Gateway with an HTML page (text/html; charset=utf-8), not the API's \
             JSON: body: <html><head><title>502 Bad Gateway</title></head></html>"
        );
        let json = ApiError::from_response(StatusCode::NOT_FOUND, &HeaderMap::new(), b"{\"x\":1}");
        assert!(!json.is_html() && json.unexpected_body().is_none());
    }

    #[test]
    fn server_text_is_masked_before_it_is_shortened() {
        fn mask(text: &str) -> Cow<'_, str> {
            Cow::Owned(text.replace("tok-secret-value", "[redacted]"))
        }
        let long = format!("{}tok-secret-value", "x".repeat(BODY_SNIPPET_CHARS - 5));
        let h = headers(&[("MS-RequestId", "tok-secret-value")]);
        let error =
            ApiError::from_response_masked(StatusCode::BAD_REQUEST, &h, long.as_bytes(), mask);
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("tok-secret"), "{shown}");
        assert!(!shown.contains("tok-s"), "not even cut in half: {shown}");
        let object = br#"{"error":{"code":"bad","message":"token tok-secret-value refused",
            "innerError":{"message":"tok-secret-value"}}}"#;
        let error = ApiError::from_response_masked(StatusCode::UNAUTHORIZED, &h, object, mask);
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("tok-secret"), "{shown}");
        assert_eq!(error.message(), Some("token [redacted] refused"));
    }

    #[test]
    fn empty_and_binary_bodies() {
        let error =
            ApiError::from_response(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), b"");
        assert_eq!(error.body_snippet(), None);
        assert_eq!(
            error.to_string(),
            "HTTP 503 Service Unavailable (empty body)"
        );
        let error =
            ApiError::from_response(StatusCode::IM_A_TEAPOT, &HeaderMap::new(), &[0xff, 0xfe, 0]);
        assert!(error.body_snippet().is_some());
        let other_json =
            ApiError::from_response(StatusCode::BAD_REQUEST, &HeaderMap::new(), b"{\"x\":1}");
        assert_eq!(other_json.body_snippet(), Some("{\"x\":1}"));
    }

    #[test]
    fn ms_request_id_wins_over_request_id() {
        let h = headers(&[("Request-ID", "b"), ("MS-RequestId", "a")]);
        let error = ApiError::from_response(StatusCode::NOT_FOUND, &h, b"");
        assert_eq!(error.request_id(), Some("a"));
        assert!(error.is_not_found());
    }
}

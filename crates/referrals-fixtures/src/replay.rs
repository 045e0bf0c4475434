//! A [`Transport`] that answers from a script and records every request it receives.
//!
//! [`ReplayTransport`] lets code built on the client be tested without a network: write down the
//! responses (or transport failures) the server should give, in order, optionally with what each
//! request must look like; hand the transport to the client; then inspect
//! [`ReplayTransport::requests`]. Clones share one script and one record, so a test keeps a handle
//! after giving a clone away.
//!
//! Nothing here panics on what the client sends: a request that does not match its step, or that
//! arrives after the script ran out, gets a [`TransportError`] of kind
//! [`TransportErrorKind::InvalidRequest`] (which no retry policy retries) with a message saying
//! what was expected.
//!
//! ```
//! use bytes::Bytes;
//! use referrals_fixtures::files::Fixture;
//! use referrals_fixtures::replay::{Matcher, ReplayTransport, Step, now_or_never};
//! use referrals_query::transport::{Transport, TransportErrorKind};
//!
//! let transport = ReplayTransport::new()
//!     .fail(TransportErrorKind::Connect, "connection refused")
//!     .step(
//!         Step::respond(200, Fixture::SeedResponse.bytes())
//!             .header("MS-RequestId", "5b1f8a3c-7e2d-4c9a-b6f0-1a2b3c4d5e6f")
//!             .when(Matcher::get().path_prefix("/v1.0/engagements/referrals")),
//!     );
//! let handle = transport.clone();
//!
//! let request = || {
//!     http::Request::get("https://api.partner.microsoft.com/v1.0/engagements/referrals?pageSize=2")
//!         .body(Bytes::new())
//!         .unwrap()
//! };
//! let first = now_or_never(transport.send(request())).expect("ready at once");
//! assert_eq!(first.unwrap_err().kind(), TransportErrorKind::Connect);
//! let second = now_or_never(transport.send(request())).expect("ready at once").unwrap();
//! assert_eq!(second.status(), 200);
//! assert_eq!(second.headers()["content-type"], "application/json");
//!
//! let third = now_or_never(transport.send(request())).expect("ready at once").unwrap_err();
//! assert_eq!(third.to_string(), "replay script exhausted after 2 requests");
//!
//! assert_eq!(handle.requests().len(), 3);
//! assert_eq!(handle.requests()[1].uri.query(), Some("pageSize=2"));
//! assert_eq!(handle.remaining(), 0);
//! ```
//!
//! In async code, `transport.send(request).await` works the same (any runtime, or none: the
//! futures are ready at once, which is what [`now_or_never`] relies on above).

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};
use referrals_query::transport::{BoxFuture, Transport, TransportError, TransportErrorKind};

/// A scripted, recording transport. See the [module documentation](self).
#[derive(Clone, Default)]
pub struct ReplayTransport {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    script: Mutex<Script>,
    recorded: Mutex<Vec<RecordedRequest>>,
}

#[derive(Default)]
struct Script {
    steps: VecDeque<Step>,
    answered: usize,
}

impl ReplayTransport {
    /// An empty script: every request is answered with the "exhausted" error until steps are
    /// added.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `step` to the script.
    pub fn step(self, step: Step) -> Self {
        self.push(step);
        self
    }

    /// Appends a response with `status` and `body`. A non-empty body is labelled
    /// `Content-Type: application/json`; use [`Step::respond`] with [`Step::header`] or
    /// [`ReplayTransport::respond_with`] for other headers.
    pub fn respond(self, status: u16, body: impl Into<Bytes>) -> Self {
        self.step(Step::respond(status, body))
    }

    /// Appends `response`, sent back as given.
    pub fn respond_with(self, response: http::Response<Bytes>) -> Self {
        self.step(Step::response(response))
    }

    /// Appends a transport failure of `kind` with `message`.
    pub fn fail(self, kind: TransportErrorKind, message: impl Into<String>) -> Self {
        self.step(Step::fail(kind, message))
    }

    /// Appends `step` through a shared handle, e.g. after a clone was given to a client.
    pub fn push(&self, step: Step) {
        lock(&self.shared.script).steps.push_back(step);
    }

    /// Every request received so far, in order (including those answered with an error).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.recorded).clone()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.recorded).len()
    }

    /// How many steps of the script are still waiting for a request. A test that expects the
    /// client to have used the whole script asserts this is 0.
    pub fn remaining(&self) -> usize {
        lock(&self.shared.script).steps.len()
    }

    fn answer(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let recorded = RecordedRequest::from_request(request);
        let outcome = {
            let mut script = lock(&self.shared.script);
            match script.steps.pop_front() {
                None => Err(TransportError::new(
                    TransportErrorKind::InvalidRequest,
                    format!("replay script exhausted after {} requests", script.answered),
                )),
                Some(step) => {
                    script.answered += 1;
                    let number = script.answered;
                    match step.matcher.mismatch(&recorded) {
                        Some(why) => Err(TransportError::new(
                            TransportErrorKind::InvalidRequest,
                            format!(
                                "replay step {number} expected {} but got {} {}: {why}",
                                step.matcher, recorded.method, recorded.uri
                            ),
                        )),
                        None => step.outcome.into_result(number),
                    }
                }
            }
        };
        lock(&self.shared.recorded).push(recorded);
        outcome
    }
}

impl Transport for ReplayTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        Box::pin(std::future::ready(self.answer(request)))
    }
}

impl fmt::Debug for ReplayTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (remaining, answered) = {
            let script = lock(&self.shared.script);
            (script.steps.len(), script.answered)
        };
        f.debug_struct("ReplayTransport")
            .field("remaining_steps", &remaining)
            .field("answered", &answered)
            .field("received", &self.request_count())
            .finish()
    }
}

/// Locks `mutex`, ignoring poisoning: the data (a script, a log) stays consistent even if a
/// thread panicked while holding it, and a test double must never add a panic of its own.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One scripted exchange: what to answer, and optionally what the request must look like.
#[derive(Debug)]
pub struct Step {
    matcher: Matcher,
    outcome: Outcome,
}

#[derive(Debug)]
enum Outcome {
    Response {
        status: u16,
        headers: HeaderMap,
        body: Bytes,
        /// A header given to [`Step::header`] that is not valid HTTP, reported when the step
        /// is played rather than panicking while the script is written.
        invalid_header: Option<String>,
    },
    Failure {
        kind: TransportErrorKind,
        message: String,
    },
}

impl Outcome {
    fn into_result(self, number: usize) -> Result<http::Response<Bytes>, TransportError> {
        match self {
            Outcome::Failure { kind, message } => Err(TransportError::new(kind, message)),
            Outcome::Response {
                invalid_header: Some(header),
                ..
            } => Err(TransportError::new(
                TransportErrorKind::InvalidRequest,
                format!("replay step {number} has an invalid header {header}"),
            )),
            Outcome::Response {
                status,
                headers,
                body,
                invalid_header: None,
            } => {
                let status = http::StatusCode::from_u16(status).map_err(|_| {
                    TransportError::new(
                        TransportErrorKind::InvalidRequest,
                        format!(
                            "replay step {number} has an invalid status {status} (allowed: 100-999)"
                        ),
                    )
                })?;
                let mut response = http::Response::new(body);
                *response.status_mut() = status;
                *response.headers_mut() = headers;
                Ok(response)
            }
        }
    }
}

impl Step {
    /// Answers with `status` and `body`; a non-empty body is labelled
    /// `Content-Type: application/json` (override with [`Step::header`]).
    pub fn respond(status: u16, body: impl Into<Bytes>) -> Self {
        let body = body.into();
        let mut headers = HeaderMap::new();
        if !body.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Self::with_outcome(Outcome::Response {
            status,
            headers,
            body,
            invalid_header: None,
        })
    }

    /// Answers with `response` exactly (status, headers, body).
    pub fn response(response: http::Response<Bytes>) -> Self {
        let (parts, body) = response.into_parts();
        Self::with_outcome(Outcome::Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            invalid_header: None,
        })
    }

    /// Fails with a [`TransportError`] of `kind` and `message`, as a real transport would
    /// (refused connection, timeout, reset...).
    pub fn fail(kind: TransportErrorKind, message: impl Into<String>) -> Self {
        Self::with_outcome(Outcome::Failure {
            kind,
            message: message.into(),
        })
    }

    fn with_outcome(outcome: Outcome) -> Self {
        Self {
            matcher: Matcher::any(),
            outcome,
        }
    }

    /// Sets response header `name` to `value` (replacing a previous value). Has no effect on a
    /// failure step. An invalid name or value makes the step answer with an error saying so.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Outcome::Response {
            headers,
            invalid_header,
            ..
        } = &mut self.outcome
        {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(name), Ok(value)) => {
                    headers.insert(name, value);
                }
                _ => *invalid_header = Some(format!("{name:?}: {value:?}")),
            }
        }
        self
    }

    /// Only answers a request that `matcher` accepts; any other request gets an
    /// [`TransportErrorKind::InvalidRequest`] error naming the difference (and uses up the step).
    pub fn when(mut self, matcher: Matcher) -> Self {
        self.matcher = matcher;
        self
    }
}

/// What a request must look like for a [`Step`] to answer it. All conditions must hold.
///
/// ```
/// use referrals_fixtures::replay::Matcher;
///
/// let matcher = Matcher::get()
///     .path_prefix("/v1.0/engagements/referrals")
///     .uri_contains("pageSize=20")
///     .header("MS-ContinuationToken", "abc");
/// assert_eq!(
///     matcher.to_string(),
///     "GET path /v1.0/engagements/referrals* uri *pageSize=20* header MS-ContinuationToken: abc"
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    method: Option<Method>,
    path_prefix: Option<String>,
    uri_contains: Vec<String>,
    headers: Vec<(String, String)>,
}

impl Matcher {
    /// Accepts every request.
    pub fn any() -> Self {
        Self::default()
    }

    /// Accepts requests with `method`.
    pub fn method(method: Method) -> Self {
        Self {
            method: Some(method),
            ..Self::default()
        }
    }

    /// Accepts `GET` requests.
    pub fn get() -> Self {
        Self::method(Method::GET)
    }

    /// Accepts `POST` requests.
    pub fn post() -> Self {
        Self::method(Method::POST)
    }

    /// Accepts `PATCH` requests.
    pub fn patch() -> Self {
        Self::method(Method::PATCH)
    }

    /// Accepts `PUT` requests.
    pub fn put() -> Self {
        Self::method(Method::PUT)
    }

    /// Also requires the URI's path (without the query) to start with `prefix`.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Also requires the whole URI text (scheme, host, path and query, as sent) to contain
    /// `needle`. May be given several times.
    pub fn uri_contains(mut self, needle: impl Into<String>) -> Self {
        self.uri_contains.push(needle.into());
        self
    }

    /// Also requires header `name` (case-insensitive) to be present with exactly `value`. May be
    /// given several times.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Why `request` does not match, or `None` if it does.
    pub fn mismatch(&self, request: &RecordedRequest) -> Option<String> {
        if let Some(method) = &self.method {
            if *method != request.method {
                return Some(format!("method is {}, not {method}", request.method));
            }
        }
        if let Some(prefix) = &self.path_prefix {
            if !request.uri.path().starts_with(prefix.as_str()) {
                return Some(format!(
                    "path {} does not start with {prefix}",
                    request.uri.path()
                ));
            }
        }
        let uri = request.uri.to_string();
        if let Some(needle) = self.uri_contains.iter().find(|n| !uri.contains(n.as_str())) {
            return Some(format!("the URI does not contain {needle}"));
        }
        for (name, value) in &self.headers {
            match request.header(name) {
                None => return Some(format!("header {name} is missing")),
                Some(actual) if actual != value => {
                    return Some(format!("header {name} differs"));
                }
                Some(_) => {}
            }
        }
        None
    }

    /// True when `request` matches.
    pub fn matches(&self, request: &RecordedRequest) -> bool {
        self.mismatch(request).is_none()
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(method) = &self.method {
            parts.push(method.to_string());
        }
        if let Some(prefix) = &self.path_prefix {
            parts.push(format!("path {prefix}*"));
        }
        for needle in &self.uri_contains {
            parts.push(format!("uri *{needle}*"));
        }
        for (name, value) in &self.headers {
            parts.push(format!("header {name}: {value}"));
        }
        if parts.is_empty() {
            f.write_str("any request")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// A request as the replay transport received it.
///
/// Its `Debug` output hides the values of credential headers (`Authorization`,
/// `Proxy-Authorization`, `Cookie`) and shows only the size of the body, which may hold a client
/// secret; the fields themselves keep everything for assertions.
#[derive(Clone)]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The full URI as sent.
    pub uri: Uri,
    /// Every header as sent.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl RecordedRequest {
    fn from_request(request: http::Request<Bytes>) -> Self {
        let (parts, body) = request.into_parts();
        Self {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        }
    }

    /// The value of header `name` (case-insensitive), if present and valid text. With several
    /// values, the first.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The URI's path, without the query.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Headers whose values are credentials and never shown in `Debug` output.
const SECRET_HEADERS: [HeaderName; 3] = [
    http::header::AUTHORIZATION,
    http::header::PROXY_AUTHORIZATION,
    http::header::COOKIE,
];

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Headers<'a>(&'a HeaderMap);
        impl fmt::Debug for Headers<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut map = f.debug_map();
                for (name, value) in self.0 {
                    if SECRET_HEADERS.contains(name) {
                        map.entry(name, &"<redacted>");
                    } else {
                        map.entry(name, value);
                    }
                }
                map.finish()
            }
        }
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("headers", &Headers(&self.headers))
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

/// Polls `future` once and returns its output if it is ready.
///
/// Every future of [`ReplayTransport`] is ready at once, so tests of synchronous code (or
/// doctests) can drive it without an async runtime.
pub fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

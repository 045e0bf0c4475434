//! The request log part of the simulator: every exchange, without credentials, and the counts of
//! connections, API requests and token requests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use http::request::Parts;

use super::fault::Fault;
use super::locks::lock;

/// One request the simulator received (the token endpoint's included), without credentials:
/// the `Authorization` value keeps only its scheme (`Bearer [redacted]`) and bodies are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: http::Method,
    /// The request target, e.g. `/v1.0/engagements/referrals?pageSize=20`.
    pub path_and_query: String,
    /// The request headers in order received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The status answered, or `None` when the connection was reset before any status line.
    pub status: Option<u16>,
    /// The fault injected into this exchange, if any.
    pub fault: Option<Fault>,
}

impl RecordedRequest {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The record of the request `parts`, answered with `status` (and `fault`).
    fn of(parts: &Parts, status: Option<u16>, fault: Option<Fault>) -> Self {
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = if name == http::header::AUTHORIZATION {
                    // Only the scheme is kept: the log must never hold a credential.
                    let text = value.to_str().unwrap_or("");
                    match text.split_once(' ') {
                        Some((scheme, _)) => format!("{scheme} [redacted]"),
                        None => "[redacted]".to_owned(),
                    }
                } else {
                    String::from_utf8_lossy(value.as_bytes()).into_owned()
                };
                (name.as_str().to_owned(), value)
            })
            .collect();
        Self {
            method: parts.method.clone(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
            headers,
            status,
            fault,
        }
    }
}

/// The request log part.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Mutex<Vec<RecordedRequest>>,
    connections: AtomicU64,
    api_requests: AtomicU64,
    token_requests: AtomicU64,
}

impl RequestLog {
    /// Records the exchange of `parts`, answered with `status` (and `fault`).
    pub(crate) fn record(&self, parts: &Parts, status: Option<u16>, fault: Option<Fault>) {
        let entry = RecordedRequest::of(parts, status, fault);
        lock(&self.entries).push(entry);
    }

    /// The exchanges so far, in order of completion.
    pub(crate) fn entries(&self) -> Vec<RecordedRequest> {
        lock(&self.entries).clone()
    }

    /// Forgets the exchanges (the counts go on).
    pub(crate) fn clear(&self) {
        lock(&self.entries).clear();
    }

    pub(crate) fn count_connection(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    /// Counts an API request; its 1-based number.
    pub(crate) fn count_api_request(&self) -> u64 {
        self.api_requests.fetch_add(1, Relaxed) + 1
    }

    pub(crate) fn count_token_request(&self) {
        self.token_requests.fetch_add(1, Relaxed);
    }

    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Relaxed)
    }

    pub(crate) fn api_requests(&self) -> u64 {
        self.api_requests.load(Relaxed)
    }

    pub(crate) fn token_requests(&self) -> u64 {
        self.token_requests.load(Relaxed)
    }
}

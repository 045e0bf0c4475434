//! Pure request building, the pagination state machine and retry arithmetic for the Partner
//! Center Referrals API. No I/O, no clock, no randomness of its own: the current time, random
//! values and request ids are passed in, so every decision is deterministic and testable.
//!
//! - [`BaseUrl`] / [`AuthorityUrl`]: validated URLs (`https`, or `http` for loopback hosts
//!   only) and the same-origin rule that keeps the bearer token on the configured hosts.
//! - [`ListQuery`] and [`Filter`]: the list parameters, 2018 and OData, encoded safely.
//! - [`Endpoint`]: `http::Request<Bytes>` for list, get, create, patch and put;
//!   [`webhook::WebhookEndpoint`] for the webhook registration API.
//! - [`Exchange`]: the rule of one logical request over all its attempts: deliver, retry after
//!   a delay, refresh the token and resend once on a `401`, or fail (and why).
//! - [`Pager`]: walks the pages of a listing, follows either continuation form, refuses foreign
//!   next links and loops, and checkpoints ([`Checkpoint`]) for a later resume; each page
//!   request is an [`Exchange`].
//! - [`Partition`]: a full listing cut into `createdDateTime` ranges listed at once, each
//!   range a [`Pager`], with one [`Checkpoint`] for all of them; [`Limiter`]: how many page
//!   requests may be in flight (AIMD, shared by the ranges of a listing).
//! - [`RetryPolicy`], [`RetryState`], [`classify`], [`parse_retry_after`]: retry arithmetic.
//! - [`UndecodableItem`]: an item of a page that is JSON but not a referral, kept as received
//!   in [`Page::undecodable`] while the page's other items are yielded.
//! - [`ApiError`]: an error response, whatever its body; [`UnexpectedBody`]: a body that is not
//!   JSON at all (a proxy's HTML page), named as such.
//! - [`transport::Transport`]: the seam the I/O crates implement.
//!
//! # Driving the pager by hand
//!
//! The closure below plays the server: a first page in the 2018 form with a continuation
//! header, then a last page in the OData form. Retries and errors go through the same loop.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use bytes::Bytes;
//! use http::{HeaderMap, Request, StatusCode};
//! use referrals_query::{Endpoint, ListQuery, NextRequest, Pager, PagerEvent};
//!
//! // The "server": answers a request with (status, body).
//! let mut calls = 0;
//! let mut server = |request: &Request<Bytes>| -> (StatusCode, &'static str) {
//!     calls += 1;
//!     assert_eq!(request.uri().host(), Some("api.partner.microsoft.com"));
//!     match (calls, request.headers().get("ms-continuationtoken")) {
//!         (1, None) => (StatusCode::SERVICE_UNAVAILABLE, ""),
//!         (2, None) => (StatusCode::OK, r#"{"totalCount": 3, "items": [{"id": "a"}, {"id": "b"}],
//!             "links": {"next": {"uri": "/referrals", "headers": [
//!                 {"key": "MS-ContinuationToken", "value": "t1"}]}}}"#),
//!         (3, Some(token)) if token == "t1" => (StatusCode::OK, r#"{"value": [{"id": "c"}]}"#),
//!         _ => (StatusCode::BAD_REQUEST, r#"{"error": {"code": "invalidRequest"}}"#),
//!     }
//! };
//!
//! let query = ListQuery::new().page_size(2)?;
//! let mut pager = Pager::new(Endpoint::default(), &query, "corr-1")?;
//! let mut ids = 0;
//! let mut seen = Vec::new();
//! loop {
//!     ids += 1;
//!     let request = match pager.next_request(&format!("req-{ids}"))? {
//!         NextRequest::Send(request) => request,
//!         NextRequest::Done(_) => break,
//!     };
//!     let (status, body) = server(&request);
//!     match pager.on_response(status, &HeaderMap::new(), body.as_bytes(), SystemTime::now(), 0.5)? {
//!         PagerEvent::Page(page) => {
//!             seen.extend(page.items.into_iter().filter_map(|referral| referral.id));
//!             // page.checkpoint.to_string() could be saved here to resume later.
//!         }
//!         PagerEvent::Retry(delay) => assert!(delay <= Duration::from_secs(1)), // sleep(delay)
//!         // Only with `Pager::with_token_refresh`: get a fresh token for the next request.
//!         PagerEvent::Refresh => {}
//!     }
//! }
//! assert_eq!(seen, ["a", "b", "c"]);
//! assert!(pager.checkpoint().is_finished());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod api_error;
mod base_url;
mod body;
mod checkpoint;
mod continuation;
mod encode;
mod exchange;
mod filter;
mod limiter;
mod list;
mod pager;
mod partition;
mod raw;
mod request;
mod retry;
mod safe_text;
pub mod scope;
pub mod transport;
mod undecodable;
pub mod webhook;

/// The `bytes` crate, whose `Bytes` is the body type of every request and response here.
pub use bytes;
/// The `http` crate, whose `Request`, `Response`, `HeaderMap` and `StatusCode` this crate uses.
pub use http;

pub use api_error::{ApiError, BODY_SNIPPET_CHARS, TextMask};
pub use base_url::{
    AuthorityUrl, BaseUrl, BaseUrlError, Origin, Scheme, UrlProblem, is_loopback_host,
};
pub use body::{BodyKind, UnexpectedBody};
pub use checkpoint::{Checkpoint, CheckpointError, Position};
pub use continuation::{ContinuationHeaderError, HeaderProblem, NextLinkError, NextLinkProblem};
pub use encode::snippet;
pub use exchange::{Exchange, FailReason, Step};
pub use filter::{Comparison, Filter, quote};
pub use limiter::{Gate, INITIAL_WINDOW, Limiter};
pub use list::{ListQuery, PAGE_SIZE_RANGE, QueryError, SortField, SortOrder};
pub use pager::{End, Limits, NextRequest, Page, Pager, PagerError, PagerEvent};
pub use partition::{
    DEFAULT_CONCURRENCY, Disposition, Fallback, Note, Partition, PartitionError, PartitionOptions,
    Task, TaskId, Unpartitioned,
};
pub use raw::{RawItem, RawItems};
pub use request::{
    DEFAULT_USER_AGENT, Endpoint, MS_CORRELATION_ID, MS_REQUEST_ID, PREFER, PatchOp, PatchOptions,
    REQUEST_ID, RequestError, RequestIds, json_pointer,
};
pub use retry::{
    AttemptOutcome, Classification, GiveUp, IDEMPOTENCY_KEY, RetryDecision, RetryPolicy,
    RetryState, classify, is_idempotent, is_transient_status, parse_retry_after, retry_after,
};
pub use safe_text::{MASK, mask_url_passwords, printable};
pub use undecodable::UndecodableItem;

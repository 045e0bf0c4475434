//! A client for the Microsoft Partner Center Referrals API: list (every page, both wire forms),
//! get, create and update referrals, with authentication, retries and resumable listings; and
//! the webhook registration API of the Partner Center host ([`registration`]).
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use referrals::{Client, ListQuery, ReferralStatus};
//!
//! # async fn run() -> Result<(), referrals::Error> {
//! let client = Client::builder().auth_from_env().build()?;
//! let query = ListQuery::new().status(ReferralStatus::New).page_size(100)?;
//! let mut referrals = client.list(query);
//! while let Some(referral) = referrals.try_next().await? {
//!     println!("{} {}", referral.id.unwrap_or_default(), referral.name.unwrap_or_default());
//! }
//! # Ok(()) }
//! ```
//!
//! The crate is a facade over three layers that can be used alone:
//! [`referrals_model`] (types, no I/O), [`referrals_query`] (requests, the pager, and the
//! exchange rule that decides after each attempt whether to deliver, retry, refresh the token or
//! fail; no I/O) and `referrals_hyper` (the HTTPS transport, feature `hyper`). This crate does
//! what they decide: it sends, attaches the bearer token (only to the configured origin, as a
//! sensitive header), sleeps the delays and asks the token provider for fresh tokens. Any
//! [`Transport`](transport::Transport) can replace the default one.
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod auth;
mod client;
mod driver;
mod error;
pub mod file;
mod lifecycle;
mod listing;
mod partitioned;
pub mod registration;
mod secret;
mod settings;

pub use client::{Client, ClientBuilder};
pub use error::{APP_ONLY_REFUSAL, ConfigError, Error, ErrorKind, InvalidRequest};
pub use lifecycle::Transition;
pub use listing::Listing;
pub use secret::{MIN_MASKED_CHARS, MaskingWriter, Secret, mask_secrets};
pub use settings::IntoTokenProvider;

pub use referrals_model as model;
pub use referrals_model::{
    Continuation, DealRegistration, DecodeError, ErrorResponse, InvalidRegistration,
    LifecycleAction, LifecycleRefused, Referral, ReferralCollection, ReferralStatus,
    ReferralSubstatus, Timestamp,
};
pub use referrals_query as query;
pub use referrals_query::{
    ApiError, BaseUrl, Checkpoint, Filter, Limits, ListQuery, Page, PatchOp, PatchOptions, RawItem,
    RawItems, RetryPolicy, UndecodableItem,
};

/// The transport seam: implement [`transport::Transport`] to send requests your own way.
pub mod transport {
    #[cfg(feature = "hyper")]
    pub use referrals_hyper::{HyperTransport, HyperTransportBuilder};
    pub use referrals_query::transport::{
        BoxFuture, Transport, TransportError, TransportErrorKind,
    };
}

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// docs/sign-in.md's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/sign-in.md")]
pub struct SignInDoctests;

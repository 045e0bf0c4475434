//! Receive Partner Center referral webhook events and feed them to the mirror.
//!
//! In the stack: a service layer above the `referrals` client, `referrals-sync` and the pure
//! verifier `referrals-webhooks`; the `referrals` CLI's `listen` and `webhooks` commands build
//! on it.
//!
//! - [`CertificateCache`] over [`HttpsCertificateSource`] (no redirects, 64 KiB, 5 s): the
//!   signing certificates, fetched only from allowed URLs.
//! - [`serve`]: the hyper server (healthz, 413 before reading, TLS, graceful shutdown) that
//!   verifies each delivery and records it in the [`Inbox`] before answering 200.
//! - The [`Inbox`] in the mirror's database, and the [`Worker`] that fetches each referral
//!   from the configured API and applies it.
//! - [`ListenerBuilder`]: server and worker started and stopped together.
//! - Errors that keep their causes, one variant per kind: [`StartError`], [`InboxError`] (the
//!   mirror's [`referrals_sync::MirrorError`]), [`FetchError`], [`TlsError`].
//!
//! `docs/webhooks.md` shows a listener started from Rust.
//!
//! The webhook registration API is a call of the `referrals` client like any other:
//! `referrals::registration::WebhookRegistration`.
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fetch;
mod inbox;
mod listener;
mod server;
mod worker;

pub use fetch::{
    CACHE_CAPACITY, CACHE_TTL, CertificateCache, CertificateSource, FETCH_TIMEOUT, FetchError,
    HttpsCertificateSource, MAX_CERTIFICATE_BYTES,
};
pub use inbox::{EXTENSION_NAME, Inbox, InboxError, MIGRATIONS, Pending, Recorded, ReferralLookup};
pub use listener::{ListenerBuilder, ListenerHandle, StartError};
pub use server::{
    Answer, HEALTH_PATH, REQUEST_READ_TIMEOUT, Receiver, TlsError, serve, tls_acceptor,
};
pub use worker::{Pass, ReferralSource, SharedInbox, SourceError, Worker};

/// The code blocks of `docs/webhooks.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/webhooks.md")]
pub struct WebhooksDocDoctests;

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
    CACHE_CAPACITY, CACHE_TTL, CertificateCache, CertificateSource, FETCH_TIMEOUT,
    HttpsCertificateSource, MAX_CERTIFICATE_BYTES,
};
pub use inbox::{
    EXTENSION_NAME, Inbox, MIGRATIONS, MirrorDb, Outcome, Pending, Recorded, StoreError,
};
pub use listener::{ListenerBuilder, ListenerHandle, StartError};
pub use server::{Answer, HEALTH_PATH, REQUEST_READ_TIMEOUT, Receiver, serve, tls_acceptor};
pub use worker::{Pass, ReferralSource, SharedInbox, Worker};

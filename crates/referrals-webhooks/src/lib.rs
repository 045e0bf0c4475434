//! Receive Partner Center referral webhook events, strictly.
//!
//! In the stack: a service layer above the `referrals` client and `referrals-sync` (model ←
//! query ← transport/facade ← sync/webhooks ← cli); the `referrals` CLI's `listen` and
//! `webhooks` commands build on it.
//!
//! - [`Verifier`]: the pure check of one delivery (method, path, headers, exact body bytes,
//!   the signing certificate, the time and a [`Policy`] in; a [`VerifiedEvent`] or a
//!   [`Refusal`] with its HTTP status out). No I/O.
//! - [`CertificateUrl`] / [`CertUrlPrefix`]: the allow-list of URLs a certificate may be
//!   fetched from (https, http only for loopback hosts), checked before anything is fetched.
//! - [`SigningCertificate`]: DER or PEM, chained with rustls-webpki, subject read with
//!   x509-parser, signature checked with ring.
//! - I/O around it: [`CertificateCache`] over [`HttpsCertificateSource`] (no redirects, 64 KiB,
//!   5 s), the [`Inbox`] in the mirror's database (written before the 200), the [`Worker`]
//!   that fetches each referral from the configured API and applies it, and [`serve`].
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cert_url;
mod certificate;
mod chain_cache;
mod event;
mod fetch;
mod inbox;
mod listener;
mod policy;
mod refusal;
mod registration;
mod server;
mod verify;
mod worker;

pub use cert_url::{CertUrlPrefix, CertificateUrl, DEFAULT_CERT_URL_PREFIX, PrefixError};
pub use certificate::SigningCertificate;
pub use event::{Event, EventKind};
pub use fetch::{
    CACHE_CAPACITY, CACHE_TTL, CertificateCache, CertificateSource, FETCH_TIMEOUT,
    HttpsCertificateSource, MAX_CERTIFICATE_BYTES,
};
pub use inbox::{
    EXTENSION_NAME, Inbox, MIGRATIONS, MirrorDb, Outcome, Pending, Recorded, StoreError,
};
pub use listener::{ListenerBuilder, ListenerHandle, StartError};
pub use policy::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_ORGANISATION, DEFAULT_PATH, Policy, TrustAnchors,
};
pub use refusal::Refusal;
pub use registration::{
    DEFAULT_REGISTRATION_URL, REFERRAL_EVENTS, REGISTRATION_SCOPE, RegistrationClient,
    RegistrationError,
};
pub use server::{Answer, HEALTH_PATH, REQUEST_READ_TIMEOUT, Receiver, serve, tls_acceptor};
pub use verify::{
    ALGORITHM, ALGORITHM_HEADER, CERTIFICATE_URL_HEADER, Delivery, MS_SIGNATURE_HEADER, Preflight,
    VerifiedEvent, Verifier,
};
pub use worker::{Pass, ReferralSource, SharedInbox, Worker};

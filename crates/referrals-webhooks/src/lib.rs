//! Verify Partner Center referral webhook events, strictly and purely.
//!
//! No I/O, no async runtime, no database: a delivery (method, path, headers, the exact body
//! bytes), the signing certificate, the time and a [`Policy`] go in; a [`VerifiedEvent`] or a
//! [`Refusal`] with its HTTP status comes out. The receiver that serves deliveries, fetches
//! certificates and feeds the mirror is `referrals-receiver`.
//!
//! - [`Verifier`]: the check of one delivery, in a fixed order ([`Verifier::preflight`], then
//!   [`Verifier::verify`]).
//! - [`CertificateUrl`] / [`CertUrlPrefix`]: the allow-list of URLs a certificate may be
//!   fetched from (https, http only for loopback hosts), checked before anything is fetched.
//! - [`SigningCertificate`]: DER or PEM, chained with rustls-webpki, subject read with
//!   x509-parser, signature checked with ring.
//! - [`Event`]: the event body, in both case styles.
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cert_url;
mod certificate;
mod chain_cache;
mod event;
mod policy;
mod refusal;
mod verify;

pub use cert_url::{CertUrlPrefix, CertificateUrl, DEFAULT_CERT_URL_PREFIX, PrefixError};
pub use certificate::SigningCertificate;
pub use event::{Event, EventKind};
pub use policy::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_ORGANISATION, DEFAULT_PATH, Policy, TrustAnchors,
};
pub use refusal::Refusal;
pub use verify::{
    ALGORITHM, ALGORITHM_HEADER, CERTIFICATE_URL_HEADER, Delivery, MS_SIGNATURE_HEADER, Preflight,
    VerifiedEvent, Verifier,
};

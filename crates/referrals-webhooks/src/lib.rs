//! Receive Partner Center referral webhook events, strictly.
//!
//! - [`Verifier`]: the pure check of one delivery (method, path, headers, exact body bytes,
//!   the signing certificate, the time and a [`Policy`] in; a [`VerifiedEvent`] or a
//!   [`Refusal`] with its HTTP status out). No I/O.
//! - [`CertificateUrl`] / [`CertUrlPrefix`]: the allow-list of URLs a certificate may be
//!   fetched from (https, http only for loopback hosts), checked before anything is fetched.
//! - [`SigningCertificate`]: DER or PEM, chained with rustls-webpki, subject read with
//!   x509-parser, signature checked with ring.
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cert_url;
mod certificate;
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

//! Why a delivery was refused, and the HTTP status that says so.

use std::fmt;

use http::StatusCode;

/// A delivery the verifier (or the listener around it) refused. Every refusal leaves the mirror
/// untouched; [`status`](Self::status) is the answer to send, [`Display`](fmt::Display) the
/// reason to log (never a body, a signature or a token).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// Not a `POST` (405).
    MethodNotAllowed(String),
    /// Not the configured path (404).
    WrongPath,
    /// The body is larger than the limit (413).
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Neither `Authorization: Signature …` nor `x-ms-signature` (400).
    MissingSignature,
    /// No `X-MS-Signature-Algorithm` (400).
    MissingAlgorithm,
    /// An algorithm other than `rsa-sha256` (401).
    UnsupportedAlgorithm(String),
    /// No `X-MS-Certificate-Url` (400).
    MissingCertificateUrl,
    /// A header that must appear once appears more than once, or is not visible ASCII (400).
    MalformedHeader(&'static str),
    /// The certificate URL is not under an allowed prefix (401).
    CertificateUrlNotAllowed {
        /// The URL, shortened.
        url: String,
        /// Why.
        why: String,
    },
    /// The certificate could not be fetched: error status, redirect, too large, too slow (401).
    CertificateUnavailable {
        /// The URL, shortened.
        url: String,
        /// Why.
        why: String,
    },
    /// The certificate bytes are neither a DER nor a PEM X.509 certificate (401).
    CertificateUnreadable(String),
    /// The certificate does not chain to a trust anchor (401).
    UntrustedCertificate(String),
    /// The certificate (or one in its chain) has expired (401).
    CertificateExpired,
    /// The certificate (or one in its chain) is not valid yet (401).
    CertificateNotYetValid,
    /// The subject's organisation is not the expected one (401).
    WrongOrganisation {
        /// The organisations the subject names (may be empty).
        found: Vec<String>,
    },
    /// The signature is not base64 (401).
    MalformedSignature,
    /// The signature does not verify over the body with the certificate's key (401).
    BadSignature,
    /// The signed body is not a JSON event with `EventName` and `ResourceUri` (400).
    NotAnEvent(String),
}

impl Refusal {
    /// The HTTP status to answer with.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::WrongPath => StatusCode::NOT_FOUND,
            Refusal::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::MissingSignature
            | Refusal::MissingAlgorithm
            | Refusal::MissingCertificateUrl
            | Refusal::MalformedHeader(_)
            | Refusal::NotAnEvent(_) => StatusCode::BAD_REQUEST,
            Refusal::UnsupportedAlgorithm(_)
            | Refusal::CertificateUrlNotAllowed { .. }
            | Refusal::CertificateUnavailable { .. }
            | Refusal::CertificateUnreadable(_)
            | Refusal::UntrustedCertificate(_)
            | Refusal::CertificateExpired
            | Refusal::CertificateNotYetValid
            | Refusal::WrongOrganisation { .. }
            | Refusal::MalformedSignature
            | Refusal::BadSignature => StatusCode::UNAUTHORIZED,
        }
    }

    /// A short stable name for logs and metrics (`bad-signature`, `expired-certificate`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::MethodNotAllowed(_) => "method-not-allowed",
            Refusal::WrongPath => "wrong-path",
            Refusal::BodyTooLarge { .. } => "body-too-large",
            Refusal::MissingSignature => "missing-signature",
            Refusal::MissingAlgorithm => "missing-algorithm",
            Refusal::UnsupportedAlgorithm(_) => "unsupported-algorithm",
            Refusal::MissingCertificateUrl => "missing-certificate-url",
            Refusal::MalformedHeader(_) => "malformed-header",
            Refusal::CertificateUrlNotAllowed { .. } => "certificate-url-not-allowed",
            Refusal::CertificateUnavailable { .. } => "certificate-unavailable",
            Refusal::CertificateUnreadable(_) => "certificate-unreadable",
            Refusal::UntrustedCertificate(_) => "untrusted-certificate",
            Refusal::CertificateExpired => "expired-certificate",
            Refusal::CertificateNotYetValid => "certificate-not-yet-valid",
            Refusal::WrongOrganisation { .. } => "wrong-organisation",
            Refusal::MalformedSignature => "malformed-signature",
            Refusal::BadSignature => "bad-signature",
            Refusal::NotAnEvent(_) => "not-an-event",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::MethodNotAllowed(method) => write!(f, "method {method} is not POST"),
            Refusal::WrongPath => f.write_str("not the webhook path"),
            Refusal::BodyTooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            Refusal::MissingSignature => f.write_str(
                "no signature: expected `Authorization: Signature <base64>` or `x-ms-signature`",
            ),
            Refusal::MissingAlgorithm => f.write_str("no X-MS-Signature-Algorithm header"),
            Refusal::UnsupportedAlgorithm(algorithm) => {
                write!(f, "signature algorithm `{algorithm}` is not rsa-sha256")
            }
            Refusal::MissingCertificateUrl => f.write_str("no X-MS-Certificate-Url header"),
            Refusal::MalformedHeader(name) => {
                write!(f, "header {name} is repeated or not visible ASCII")
            }
            Refusal::CertificateUrlNotAllowed { url, why } => {
                write!(f, "certificate URL `{url}` is not allowed: {why}")
            }
            Refusal::CertificateUnavailable { url, why } => {
                write!(f, "certificate `{url}` could not be fetched: {why}")
            }
            Refusal::CertificateUnreadable(why) => write!(f, "certificate unreadable: {why}"),
            Refusal::UntrustedCertificate(why) => write!(f, "certificate not trusted: {why}"),
            Refusal::CertificateExpired => f.write_str("certificate expired"),
            Refusal::CertificateNotYetValid => f.write_str("certificate not valid yet"),
            Refusal::WrongOrganisation { found } => {
                write!(f, "certificate subject organisation is {found:?}")
            }
            Refusal::MalformedSignature => f.write_str("signature is not base64"),
            Refusal::BadSignature => f.write_str("signature does not verify over the body"),
            Refusal::NotAnEvent(why) => write!(f, "body is not an event: {why}"),
        }
    }
}

impl std::error::Error for Refusal {}

//! The verification of one delivery, in a fixed order, pure: method, path, headers and body
//! bytes, the certificate bytes, the time and a [`Policy`] in; a [`VerifiedEvent`] or a
//! [`Refusal`] out.
//!
//! The order is the issue's: a `POST` on the path; the body size; the signature and algorithm
//! headers; the certificate URL against the allow-list (checked before anything is fetched);
//! then, with the certificate in hand, the chain to a trust anchor at `now`, the subject's
//! organisation, the signature over the raw body bytes, and finally the body as an event.
//! Because the certificate has to be fetched between the two halves, verification is split
//! into [`Verifier::preflight`] (no certificate needed) and [`Verifier::verify`].

use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine;
use http::{HeaderMap, Method};

use crate::cert_url::CertificateUrl;
use crate::certificate::SigningCertificate;
use crate::chain_cache::ChainCache;
use crate::event::Event;
use crate::policy::Policy;
use crate::refusal::Refusal;
use referrals_query::snippet;

/// The certificate URL header.
pub const CERTIFICATE_URL_HEADER: &str = "x-ms-certificate-url";
/// The signature algorithm header.
pub const ALGORITHM_HEADER: &str = "x-ms-signature-algorithm";
/// Where the signature is when the registration asked for it outside `Authorization`.
pub const MS_SIGNATURE_HEADER: &str = "x-ms-signature";
/// The only algorithm accepted.
pub const ALGORITHM: &str = "rsa-sha256";

/// One delivery as received.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request path (without the query).
    pub path: &'a str,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The exact body bytes.
    pub body: &'a [u8],
}

/// A delivery whose headers passed: what to fetch, and what to check with it.
#[derive(Debug, Clone)]
pub struct Preflight<'a> {
    certificate_url: CertificateUrl,
    signature: &'a str,
    body: &'a [u8],
}

impl Preflight<'_> {
    /// The (allowed) URL of the signing certificate.
    pub fn certificate_url(&self) -> &CertificateUrl {
        &self.certificate_url
    }
}

/// An event whose signature and certificate verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvent {
    /// The event.
    pub event: Event,
    /// Where its certificate came from.
    pub certificate_url: CertificateUrl,
}

/// Verifies deliveries against a [`Policy`]. A verifier remembers the certificate chains it
/// verified (clones share the memory), so that the events of one sender cost the signature
/// check only, for as long as its certificates are valid.
#[derive(Debug, Clone)]
pub struct Verifier {
    policy: Policy,
    chains: Arc<ChainCache>,
}

impl Verifier {
    /// A verifier for `policy`.
    pub fn new(policy: Policy) -> Verifier {
        Verifier {
            policy,
            chains: Arc::default(),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Step 1: a `POST` on the configured path. Usable before the body is read.
    pub fn check_target(&self, method: &Method, path: &str) -> Result<(), Refusal> {
        if method != Method::POST {
            return Err(Refusal::MethodNotAllowed(snippet(method.as_str(), 20)));
        }
        if path != self.policy.path {
            return Err(Refusal::WrongPath);
        }
        Ok(())
    }

    /// Step 2: the body size (or the announced `Content-Length`). Usable before the body is
    /// read.
    pub fn check_length(&self, length: u64) -> Result<(), Refusal> {
        if length > self.policy.max_body_bytes {
            return Err(Refusal::BodyTooLarge {
                limit: self.policy.max_body_bytes,
            });
        }
        Ok(())
    }

    /// Steps 1–4: target, size, signature and algorithm headers, certificate URL allowed.
    pub fn preflight<'a>(&self, delivery: &Delivery<'a>) -> Result<Preflight<'a>, Refusal> {
        self.check_target(delivery.method, delivery.path)?;
        self.check_length(delivery.body.len() as u64)?;
        let signature = signature_header(delivery.headers)?;
        let algorithm = single_header(
            delivery.headers,
            ALGORITHM_HEADER,
            "X-MS-Signature-Algorithm",
        )?
        .ok_or(Refusal::MissingAlgorithm)?;
        if !algorithm.trim().eq_ignore_ascii_case(ALGORITHM) {
            return Err(Refusal::UnsupportedAlgorithm(snippet(algorithm, 40)));
        }
        let url = single_header(
            delivery.headers,
            CERTIFICATE_URL_HEADER,
            "X-MS-Certificate-Url",
        )?
        .ok_or(Refusal::MissingCertificateUrl)?;
        let certificate_url = CertificateUrl::check(url.trim(), &self.policy.cert_url_prefixes)?;
        Ok(Preflight {
            certificate_url,
            signature,
            body: delivery.body,
        })
    }

    /// Steps 5–9, with the certificate fetched from [`Preflight::certificate_url`]: chain and
    /// validity at `now`, organisation, signature over the body, the body as an event.
    pub fn verify(
        &self,
        preflight: &Preflight<'_>,
        certificate: &SigningCertificate,
        now: SystemTime,
    ) -> Result<VerifiedEvent, Refusal> {
        self.chains
            .check(certificate, self.policy.trust_anchors.as_slice(), now)?;
        certificate.check_organisation(&self.policy.organisation)?;
        let signature = base64::engine::general_purpose::STANDARD
            .decode(preflight.signature.trim())
            .map_err(|_| Refusal::MalformedSignature)?;
        certificate.check_signature(preflight.body, &signature)?;
        let event = Event::parse(preflight.body)?;
        Ok(VerifiedEvent {
            event,
            certificate_url: preflight.certificate_url.clone(),
        })
    }

    /// The whole verification with the certificate's bytes (DER or PEM) in hand.
    pub fn verify_delivery(
        &self,
        delivery: &Delivery<'_>,
        certificate: &[u8],
        now: SystemTime,
    ) -> Result<VerifiedEvent, Refusal> {
        let preflight = self.preflight(delivery)?;
        let certificate = SigningCertificate::parse(certificate)?;
        self.verify(&preflight, &certificate, now)
    }
}

/// The signature from `Authorization: Signature <b64>`, else from `x-ms-signature` (which
/// carries the same value, with or without the `Signature ` scheme).
fn signature_header(headers: &HeaderMap) -> Result<&str, Refusal> {
    let from_authorization = single_header(headers, "authorization", "Authorization")?
        .and_then(|value| strip_scheme(value.trim()));
    if let Some(signature) = from_authorization {
        return Ok(signature);
    }
    let value = single_header(headers, MS_SIGNATURE_HEADER, "x-ms-signature")?
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or(Refusal::MissingSignature)?;
    Ok(strip_scheme(value).unwrap_or(value))
}

fn strip_scheme(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("signature") && !rest.trim().is_empty()).then(|| rest.trim())
}

fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &str,
    display: &'static str,
) -> Result<Option<&'h str>, Refusal> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Refusal::MalformedHeader(display));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| Refusal::MalformedHeader(display))
}

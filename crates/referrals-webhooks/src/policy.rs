//! What the verifier accepts: path, body limit, certificate URL prefixes, trust anchors and the
//! signer's organisation.

use std::fmt;

use rustls_pki_types::TrustAnchor;

use crate::cert_url::{CertUrlPrefix, DEFAULT_CERT_URL_PREFIX};

/// The largest body accepted: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 1024 * 1024;
/// The organisation the signing certificate must name.
pub const DEFAULT_ORGANISATION: &str = "Microsoft Corporation";
/// The path events are POSTed to unless configured otherwise.
pub const DEFAULT_PATH: &str = "/webhooks/partner-center";

/// The verifier's configuration. Building one does no I/O except
/// [`TrustAnchors::platform_and_webpki`], which reads the platform's certificate store.
#[derive(Clone)]
pub struct Policy {
    /// The path events are POSTed to (`/…`).
    pub path: String,
    /// Bodies larger than this are refused with 413.
    pub max_body_bytes: u64,
    /// Certificate URLs must start with one of these.
    pub cert_url_prefixes: Vec<CertUrlPrefix>,
    /// The roots a signing certificate must chain to.
    pub trust_anchors: TrustAnchors,
    /// The organisation the signing certificate's subject must name.
    pub organisation: String,
}

impl Policy {
    /// The defaults (path, 1 MiB, the Partner Center certificate prefix, `Microsoft
    /// Corporation`) with the given anchors.
    pub fn new(trust_anchors: TrustAnchors) -> Policy {
        Policy {
            path: DEFAULT_PATH.to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            cert_url_prefixes: vec![
                CertUrlPrefix::parse(DEFAULT_CERT_URL_PREFIX)
                    .unwrap_or_else(|_| unreachable!("the default prefix is valid")),
            ],
            trust_anchors,
            organisation: DEFAULT_ORGANISATION.to_owned(),
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("path", &self.path)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("cert_url_prefixes", &self.cert_url_prefixes)
            .field("trust_anchors", &self.trust_anchors.len())
            .field("organisation", &self.organisation)
            .finish()
    }
}

/// A set of owned trust anchors.
#[derive(Clone, Default)]
pub struct TrustAnchors(Vec<TrustAnchor<'static>>);

impl TrustAnchors {
    /// The Mozilla roots shipped by `webpki-roots`.
    pub fn webpki() -> TrustAnchors {
        TrustAnchors(webpki_roots::TLS_SERVER_ROOTS.to_vec())
    }

    /// The platform's roots (as far as they can be read) and the `webpki-roots` ones.
    pub fn platform_and_webpki() -> TrustAnchors {
        let mut anchors = Self::webpki();
        let native = rustls_native_certs::load_native_certs();
        for der in &native.certs {
            if let Ok(anchor) = webpki::anchor_from_trusted_cert(der) {
                anchors.0.push(anchor.to_owned());
            }
        }
        anchors
    }

    /// Anchors from PEM text (one or more certificates).
    pub fn from_pem(pem: &[u8]) -> Result<TrustAnchors, String> {
        crate::certificate::anchors_from_pem(pem).map(TrustAnchors)
    }

    /// Adds the anchors of `other`.
    pub fn extend(&mut self, other: TrustAnchors) {
        self.0.extend(other.0);
    }

    /// How many anchors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are none (every certificate is then refused).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn as_slice(&self) -> &[TrustAnchor<'static>] {
        &self.0
    }
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustAnchors({})", self.0.len())
    }
}

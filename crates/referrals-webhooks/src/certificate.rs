//! The signing certificate: read (DER or PEM), chained to a trust anchor at a given time,
//! its subject organisation, and the RSA signature over a body.
//!
//! Parsing is rustls-webpki's and x509-parser's; the signature check is ring's. No ASN.1 is
//! read by hand here.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter};
use x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::refusal::Refusal;

/// The signature algorithms a chain may use: rustls-webpki's ring set.
static CHAIN_ALGORITHMS: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] =
    webpki::ALL_VERIFICATION_ALGS;

/// A signing certificate as fetched: the end-entity certificate first, then any intermediates
/// that came with it (a PEM file may hold several). Parsed once, so a cached certificate costs
/// only the chain check and the signature at each event.
#[derive(Clone)]
pub struct SigningCertificate {
    end_entity: CertificateDer<'static>,
    intermediates: Vec<CertificateDer<'static>>,
    organisations: Vec<String>,
    /// The `RSAPublicKey` DER, or `None` when the key is not RSA.
    rsa_public_key: Option<Vec<u8>>,
    /// SHA-256 of the certificates as received, in order: what a verified chain is known by.
    chain_key: [u8; 32],
    /// When every certificate received is valid (Unix seconds, both ends included), or `None`
    /// when one of the intermediates cannot be read (the chain check will say why).
    validity: Option<(i64, i64)>,
}

impl fmt::Debug for SigningCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningCertificate")
            .field("organisations", &self.organisations)
            .field("intermediates", &self.intermediates.len())
            .field("rsa", &self.rsa_public_key.is_some())
            .finish()
    }
}

impl SigningCertificate {
    /// Reads one DER certificate, or a PEM file of one or more (the first is the signer).
    pub fn parse(bytes: &[u8]) -> Result<SigningCertificate, Refusal> {
        let mut certificates = if looks_like_pem(bytes) {
            CertificateDer::pem_slice_iter(bytes)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| Refusal::CertificateUnreadable(format!("bad PEM: {error}")))?
        } else {
            vec![CertificateDer::from(bytes.to_vec())]
        };
        if certificates.is_empty() {
            return Err(Refusal::CertificateUnreadable(
                "no certificate in the PEM file".to_owned(),
            ));
        }
        let end_entity = certificates.remove(0);
        let (organisations, rsa_public_key) = {
            let (rest, parsed) =
                X509Certificate::from_der(end_entity.as_ref()).map_err(|error| {
                    Refusal::CertificateUnreadable(format!("not an X.509 certificate: {error}"))
                })?;
            if !rest.is_empty() {
                return Err(Refusal::CertificateUnreadable(
                    "bytes after the certificate".to_owned(),
                ));
            }
            let organisations = parsed
                .subject()
                .iter_organization()
                .map(|attribute| {
                    attribute
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|_| "<not text>".to_owned())
                })
                .collect();
            let key = parsed.public_key();
            let rsa = (key.algorithm.algorithm == OID_PKCS1_RSAENCRYPTION)
                .then(|| key.subject_public_key.data.to_vec());
            (organisations, rsa)
        };
        let chain_key = chain_key(&end_entity, &certificates);
        let validity = validity(&end_entity, &certificates);
        Ok(SigningCertificate {
            end_entity,
            intermediates: certificates,
            organisations,
            rsa_public_key,
            chain_key,
            validity,
        })
    }

    /// What a verified chain of these certificates is remembered by.
    pub(crate) fn chain_key(&self) -> &[u8; 32] {
        &self.chain_key
    }

    /// When every certificate received is valid: Unix seconds, both ends included.
    pub(crate) fn validity(&self) -> Option<(i64, i64)> {
        self.validity
    }

    /// The organisations named in the subject.
    pub fn organisations(&self) -> &[String] {
        &self.organisations
    }

    /// Chains the certificate to one of `anchors` at `now` (validity of every certificate in
    /// the chain included).
    pub fn check_chain(&self, anchors: &[TrustAnchor<'_>], now: SystemTime) -> Result<(), Refusal> {
        let cert = EndEntityCert::try_from(&self.end_entity)
            .map_err(|error| Refusal::CertificateUnreadable(error.to_string()))?;
        let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        cert.verify_for_usage(
            CHAIN_ALGORITHMS,
            anchors,
            &self.intermediates,
            UnixTime::since_unix_epoch(since_epoch),
            AnyPurpose,
            None,
            None,
        )
        .map(|_| ())
        .map_err(|error| match error {
            webpki::Error::CertExpired { .. } => Refusal::CertificateExpired,
            webpki::Error::CertNotValidYet { .. } => Refusal::CertificateNotYetValid,
            other => Refusal::UntrustedCertificate(other.to_string()),
        })
    }

    /// Checks that every organisation of the subject is `expected`, and that there is one.
    pub fn check_organisation(&self, expected: &str) -> Result<(), Refusal> {
        if !self.organisations.is_empty() && self.organisations.iter().all(|o| o == expected) {
            Ok(())
        } else {
            Err(Refusal::WrongOrganisation {
                found: self.organisations.clone(),
            })
        }
    }

    /// Verifies an RSA PKCS#1 v1.5 SHA-256 `signature` over `body`.
    pub fn check_signature(&self, body: &[u8], signature: &[u8]) -> Result<(), Refusal> {
        let key = self
            .rsa_public_key
            .as_deref()
            .ok_or(Refusal::BadSignature)?;
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
            .verify(body, signature)
            .map_err(|_| Refusal::BadSignature)
    }
}

fn chain_key(end_entity: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>]) -> [u8; 32] {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    for certificate in std::iter::once(end_entity).chain(intermediates) {
        // Each length first, so that no two different lists hash the same bytes.
        digest.update(&(certificate.len() as u64).to_be_bytes());
        digest.update(certificate.as_ref());
    }
    let mut key = [0; 32];
    key.copy_from_slice(digest.finish().as_ref());
    key
}

/// The span in which every certificate received is valid (empty spans included), or `None` if
/// one cannot be read.
fn validity(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
) -> Option<(i64, i64)> {
    let mut span = (i64::MIN, i64::MAX);
    for certificate in std::iter::once(end_entity).chain(intermediates) {
        let (_, parsed) = X509Certificate::from_der(certificate.as_ref()).ok()?;
        let validity = parsed.validity();
        span.0 = span.0.max(validity.not_before.timestamp());
        span.1 = span.1.min(validity.not_after.timestamp());
    }
    Some(span)
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .is_some_and(|start| bytes[start..].starts_with(b"-----BEGIN"))
}

/// Microsoft documents no extended key usage for the signing certificate, so any (or none)
/// is accepted; a malformed extension still fails the chain.
struct AnyPurpose;

impl ExtendedKeyUsageValidator for AnyPurpose {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

/// Trust anchors from PEM text (one or more certificates), owned.
pub fn anchors_from_pem(pem: &[u8]) -> Result<Vec<TrustAnchor<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("bad PEM: {error}"))?;
    if certificates.is_empty() {
        return Err("no certificate in the PEM text".to_owned());
    }
    certificates
        .iter()
        .map(|der| {
            webpki::anchor_from_trusted_cert(der)
                .map(|anchor| anchor.to_owned())
                .map_err(|error| format!("not a usable trust anchor: {error}"))
        })
        .collect()
}

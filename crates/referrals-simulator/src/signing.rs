//! Webhook signing as Partner Center does it, for tests and the simulator: a certificate
//! authority made on the spot (rcgen, ring), signing certificates it issues (or that another
//! authority issues), and RSA PKCS#1 v1.5 SHA-256 signatures over body bytes (ring).
//!
//! ring cannot generate RSA keys, so the two RSA keys signing certificates carry are fixed test
//! keys shipped with this crate ([`SignerKey`]). They protect nothing: anyone can sign with
//! them, which is why only a certificate chaining to the simulator's own CA (whose key is made
//! at start-up and never leaves the process) is trusted by a listener pointed at it.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256,
};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

/// The organisation Partner Center's signing certificate names.
pub const MICROSOFT_CORPORATION: &str = "Microsoft Corporation";

const SIGNER_KEY_PEM: &str = include_str!("../keys/signer.pk8.pem");
const OTHER_KEY_PEM: &str = include_str!("../keys/other.pk8.pem");

/// Which fixed RSA key a signing certificate carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignerKey {
    /// The usual one.
    Signer,
    /// A second key, for forgeries (a valid certificate, a signature by another key).
    Other,
}

impl SignerKey {
    fn pem(self) -> &'static str {
        match self {
            SignerKey::Signer => SIGNER_KEY_PEM,
            SignerKey::Other => OTHER_KEY_PEM,
        }
    }
}

/// An error making a certificate (rcgen or ring refused the parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningError(String);

impl fmt::Display for SigningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "making a signing certificate failed: {}", self.0)
    }
}

impl std::error::Error for SigningError {}

fn failed(error: impl fmt::Display) -> SigningError {
    SigningError(error.to_string())
}

/// A certificate authority made at start-up: an ECDSA P-256 root whose key stays in memory.
pub struct SigningAuthority {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl fmt::Debug for SigningAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningAuthority").finish_non_exhaustive()
    }
}

impl SigningAuthority {
    /// A new root named `common_name`, valid from a day ago for ten years.
    pub fn new(common_name: &str) -> Result<SigningAuthority, SigningError> {
        let key = KeyPair::generate().map_err(failed)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        name.push(DnType::OrganizationName, "referrals simulator");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = SystemTime::now();
        params.not_before = (now - Duration::from_secs(86_400)).into();
        params.not_after = (now + Duration::from_secs(10 * 365 * 86_400)).into();
        let pem = params.self_signed(&key).map_err(failed)?.pem();
        Ok(SigningAuthority { params, key, pem })
    }

    /// The root certificate in PEM, to give a listener as its trust anchor.
    pub fn ca_pem(&self) -> &str {
        &self.pem
    }

    /// Issues a signing certificate.
    pub fn issue(&self, spec: &SignerSpec) -> Result<Signer, SigningError> {
        let key_pem = spec.key.pem();
        let rcgen_key =
            KeyPair::from_pem_and_sign_algo(key_pem, &PKCS_RSA_SHA256).map_err(failed)?;
        let mut params = CertificateParams::new(vec![spec.common_name.clone()]).map_err(failed)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, spec.common_name.as_str());
        if let Some(organisation) = &spec.organisation {
            name.push(DnType::OrganizationName, organisation.as_str());
        }
        params.distinguished_name = name;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.not_before = spec.not_before.into();
        params.not_after = spec.not_after.into();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let certificate = params.signed_by(&rcgen_key, &issuer).map_err(failed)?;
        let key = RsaKeyPair::from_pkcs8(&rcgen_key.serialize_der()).map_err(failed)?;
        Ok(Signer {
            der: certificate.der().to_vec(),
            pem: certificate.pem(),
            key,
        })
    }
}

/// What a signing certificate says.
#[derive(Debug, Clone)]
pub struct SignerSpec {
    /// The subject's common name (and DNS name).
    pub common_name: String,
    /// The subject's organisation; `None` names none.
    pub organisation: Option<String>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// The RSA key it certifies.
    pub key: SignerKey,
}

impl Default for SignerSpec {
    /// Like Partner Center's: `pcnotifications-dispatch.microsoft.com`, `Microsoft
    /// Corporation`, valid from an hour ago for a year, the usual key.
    fn default() -> Self {
        let now = SystemTime::now();
        SignerSpec {
            common_name: "pcnotifications-dispatch.microsoft.com".to_owned(),
            organisation: Some(MICROSOFT_CORPORATION.to_owned()),
            not_before: now - Duration::from_secs(3_600),
            not_after: now + Duration::from_secs(365 * 86_400),
            key: SignerKey::Signer,
        }
    }
}

/// A signing certificate and its key.
pub struct Signer {
    der: Vec<u8>,
    pem: String,
    key: RsaKeyPair,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("certificate_bytes", &self.der.len())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// The certificate, DER (what a `.cer` URL serves).
    pub fn certificate_der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.pem
    }

    /// The raw RSA PKCS#1 v1.5 SHA-256 signature of `body`.
    pub fn sign_raw(&self, body: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.key.public().modulus_len()];
        // Signing with a valid key into a buffer of the modulus' length cannot fail.
        if self
            .key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                body,
                &mut signature,
            )
            .is_err()
        {
            signature.clear();
        }
        signature
    }

    /// The signature of `body` in base64, as `Authorization: Signature <this>` carries it.
    pub fn sign(&self, body: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.sign_raw(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_authority_issues_certificates_whose_signatures_differ_by_key() {
        let authority = SigningAuthority::new("test root").unwrap();
        assert!(
            authority
                .ca_pem()
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        let signer = authority.issue(&SignerSpec::default()).unwrap();
        let other = authority
            .issue(&SignerSpec {
                key: SignerKey::Other,
                ..SignerSpec::default()
            })
            .unwrap();
        assert_eq!(signer.sign_raw(b"body").len(), 256);
        assert_ne!(signer.sign(b"body"), other.sign(b"body"));
        assert!(signer.certificate_pem().contains("BEGIN CERTIFICATE"));
        assert!(!signer.certificate_der().is_empty());
    }
}

//! Certificate client assertions: a JWT signed RS256 with the certificate's private key, in place
//! of a client secret.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::error::{AuthError, CertificateProblem, PemProblem};
use crate::Secret;

/// How long an assertion is valid: the platform accepts at most ten minutes.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(600);

/// A client certificate and its private key, from a PEM file holding both
/// (`AZURE_CLIENT_CERTIFICATE_PATH`). `Debug` shows the thumbprint, never the key.
///
/// ```
/// use referrals::auth::ClientCertificate;
///
/// let error = ClientCertificate::from_pem(b"not a pem", "cert.pem").unwrap_err();
/// assert!(error.to_string().contains("cert.pem"));
/// ```
#[derive(Clone)]
pub struct ClientCertificate {
    key: EncodingKey,
    /// base64url SHA-256 of the DER certificate (`x5t#S256`).
    thumbprint: String,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

/// The largest certificate file read (a certificate with its key is a few kilobytes).
const MAX_CERTIFICATE_BYTES: u64 = 1024 * 1024;

impl ClientCertificate {
    /// Reads a PEM file (a regular file of at most 1 MiB) with a `CERTIFICATE` and a
    /// `PRIVATE KEY` (PKCS#8 RSA) block.
    pub fn from_file(path: &Path) -> Result<Self, AuthError> {
        let bytes =
            crate::file::read_regular_file(path, MAX_CERTIFICATE_BYTES).map_err(|error| {
                AuthError::from(CertificateProblem::Unreadable {
                    path: path.to_path_buf(),
                    error: match error {
                        crate::file::ReadFileError::Io(error) => error,
                        other => std::io::Error::other(other),
                    },
                })
            })?;
        Self::from_pem(&bytes, &path.display().to_string())
    }

    /// Parses PEM text holding the certificate and its PKCS#8 RSA private key; `source` names
    /// it in errors.
    pub fn from_pem(pem_text: &[u8], source: &str) -> Result<Self, AuthError> {
        let bad = |problem: PemProblem| {
            AuthError::from(CertificateProblem::Invalid {
                name: source.to_owned(),
                problem,
            })
        };
        let blocks = pem::parse_many(pem_text).map_err(|_| bad(PemProblem::NotPem))?;
        let certificate = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| bad(PemProblem::NoCertificate))?;
        let key_block = blocks
            .iter()
            .find(|b| b.tag() == "PRIVATE KEY" || b.tag() == "RSA PRIVATE KEY")
            .ok_or_else(|| bad(PemProblem::NoPrivateKey))?;
        // jsonwebtoken reads one PEM block at a time: hand it the key block alone.
        let key = EncodingKey::from_rsa_pem(pem::encode(key_block).as_bytes())
            .map_err(|_| bad(PemProblem::NotRsaKey))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, certificate.contents());
        let thumbprint = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
        let certificate = ClientCertificate { key, thumbprint };
        // Sign once now, so a key that cannot sign is reported at configuration time.
        certificate.assertion("check", "https://check.invalid", SystemTime::now())?;
        Ok(certificate)
    }

    /// The `x5t#S256` thumbprint (base64url SHA-256 of the DER certificate).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// A fresh assertion for `client_id` to present to `audience` (the token endpoint URL),
    /// valid from `now` for ten minutes, with a unique `jti`.
    pub fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: SystemTime,
    ) -> Result<Secret, AuthError> {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let mut header = Header::new(Algorithm::RS256);
        header.x5t_s256 = Some(self.thumbprint.clone());
        let claims = Claims {
            aud: audience,
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| CertificateProblem::Signing(e).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &[u8] = include_bytes!("../../../referrals-simulator/keys/test-client.pem");

    #[test]
    fn assertions_carry_the_thumbprint_and_a_short_lifetime() {
        let certificate = ClientCertificate::from_pem(PEM, "test").unwrap();
        let debug = format!("{certificate:?}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let jwt = certificate
            .assertion("app", "https://login.example/t/oauth2/v2.0/token", now)
            .unwrap();
        let header = jsonwebtoken::decode_header(jwt.expose()).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.x5t_s256.as_deref(), Some(certificate.thumbprint()));
        let payload = jwt.expose().split('.').nth(1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["iss"], "app");
        assert_eq!(claims["sub"], "app");
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["nbf"].as_u64().unwrap(),
            600
        );
        let other = certificate.assertion("app", "aud", now).unwrap();
        assert_ne!(jwt, other, "a unique jti each time");
    }

    #[test]
    fn files_without_a_key_or_a_certificate_are_named() {
        let certificate_only: String = String::from_utf8_lossy(PEM)
            .split("-----BEGIN PRIVATE KEY-----")
            .next()
            .unwrap()
            .to_owned();
        let error = ClientCertificate::from_pem(certificate_only.as_bytes(), "c.pem").unwrap_err();
        assert!(error.to_string().contains("no PRIVATE KEY"), "{error}");
        let key_only = &String::from_utf8_lossy(PEM)[certificate_only.len()..].to_owned();
        let error = ClientCertificate::from_pem(key_only.as_bytes(), "k.pem").unwrap_err();
        assert!(error.to_string().contains("no CERTIFICATE"), "{error}");
        assert!(
            !error.to_string().contains("MII"),
            "no key material in errors"
        );
    }
}

//! Verifying client assertions (RS256 JWTs) against the registered certificate.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The platform's limit on an assertion's lifetime.
const MAX_LIFETIME_SECS: u64 = 600;

/// A certificate registered for the simulator's client.
#[derive(Clone)]
pub(crate) struct RegisteredCertificate {
    pub(crate) key: DecodingKey,
    /// base64url SHA-256 of the DER certificate.
    pub(crate) thumbprint: String,
}

impl RegisteredCertificate {
    /// From PEM text holding a `CERTIFICATE` block (a private key beside it is ignored).
    pub(crate) fn from_pem(text: &[u8]) -> Result<Self, String> {
        use base64::Engine;
        let blocks = pem::parse_many(text).map_err(|e| format!("not PEM: {e}"))?;
        let certificate = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or("no CERTIFICATE block")?;
        let key = DecodingKey::from_rsa_pem(pem::encode(certificate).as_bytes())
            .map_err(|e| format!("not an RSA certificate: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, certificate.contents());
        Ok(RegisteredCertificate {
            key,
            thumbprint: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()),
        })
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    jti: String,
    nbf: u64,
    exp: u64,
}

/// The `jti` of `jwt` when it is a fresh assertion of `client_id`, signed by `certificate`, for
/// the token endpoint `token_url`; else why not. The caller refuses a `jti` seen before.
pub(crate) fn verify(
    certificate: Option<&RegisteredCertificate>,
    jwt: &str,
    token_url: &str,
    client_id: &str,
) -> Result<String, String> {
    let Some(certificate) = certificate else {
        return Err("no certificate is registered for the application".into());
    };
    let header = jsonwebtoken::decode_header(jwt).map_err(|e| format!("not a JWT: {e}"))?;
    if header.alg != Algorithm::RS256 {
        return Err(format!("the algorithm must be RS256, not {:?}", header.alg));
    }
    if header.x5t_s256.as_deref() != Some(certificate.thumbprint.as_str()) {
        return Err("x5t#S256 does not name the registered certificate".into());
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[token_url]);
    validation.set_issuer(&[client_id]);
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(jwt, &certificate.key, &validation)
        .map_err(|e| format!("{e}"))?
        .claims;
    if claims.sub != client_id {
        return Err("sub must be the client id".into());
    }
    if claims.exp.saturating_sub(claims.nbf) > MAX_LIFETIME_SECS {
        return Err("the assertion is valid for more than 10 minutes".into());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if claims.exp <= now {
        return Err("the assertion has expired".into());
    }
    Ok(claims.jti)
}

//! How a confidential client proves who it is to the token endpoint: a secret or a certificate.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use super::AuthError;
use super::assertion::ClientCertificate;
use super::grant::Form;
use crate::Secret;

/// The client authentication added to a token request.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client (device code sign-in, a refresh token of a public app): no secret.
    Public,
    /// `client_secret`.
    Secret(Secret),
    /// A client assertion signed with a certificate's private key.
    Certificate(Arc<ClientCertificate>),
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::Public => f.write_str("Public"),
            ClientAuth::Secret(secret) => f.debug_tuple("Secret").field(secret).finish(),
            ClientAuth::Certificate(cert) => f.debug_tuple("Certificate").field(cert).finish(),
        }
    }
}

impl ClientAuth {
    /// True for a client that authenticates (app-only tokens are possible).
    pub fn is_confidential(&self) -> bool {
        !matches!(self, ClientAuth::Public)
    }

    /// Adds the fields that authenticate `client_id` to a request for `endpoint`.
    pub(crate) fn add(
        &self,
        form: Form,
        client_id: &str,
        endpoint: &str,
        now: SystemTime,
    ) -> Result<Form, AuthError> {
        Ok(match self {
            ClientAuth::Public => form,
            ClientAuth::Secret(secret) => form.secret("client_secret", secret),
            ClientAuth::Certificate(certificate) => {
                let assertion = certificate.assertion(client_id, endpoint, now)?;
                form.field(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .secret("client_assertion", &assertion)
            }
        })
    }
}

//! OAuth2 client credentials: app-only tokens for any scope, with a secret or a certificate.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use referrals_query::transport::{BoxFuture, Transport};
use referrals_query::{AuthorityUrl, BaseUrlError};

use super::assertion::ClientCertificate;
use super::client_auth::ClientAuth;
use super::error::{AuthError, ConfigProblem, Field};
use super::grant::{self, Answer, Form};
use super::memory::SingleFlight;
use super::{PARTNER_CENTER_SCOPE, TokenProvider};
use crate::Secret;

/// OAuth2 client credentials against `{authority}/{tenant}/oauth2/v2.0/token`, for
/// [`PARTNER_CENTER_SCOPE`] or any scope asked with [`TokenProvider::token_for`].
///
/// The tokens are **app-only**: fine for the simulator and other Partner Center APIs, refused
/// by the Referrals API, which wants App+User tokens (see [`RefreshToken`](super::RefreshToken)).
/// Each scope's token is cached and refreshed shortly before it expires; concurrent callers wait
/// for a single refresh instead of each fetching a token.
///
/// ```
/// use referrals::auth::ClientCredentials;
///
/// let credentials = ClientCredentials::new("contoso.onmicrosoft.com", "app-id", "s3cret")?;
/// assert!(!format!("{credentials:?}").contains("s3cret"));
/// # Ok::<(), referrals::auth::AuthError>(())
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    inner: Arc<CredentialsInner>,
}

struct CredentialsInner {
    endpoint: String,
    authority: AuthorityUrl,
    client_id: String,
    client_auth: ClientAuth,
    tokens: SingleFlight,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("endpoint", &self.inner.endpoint)
            .field("client_id", &self.inner.client_id)
            .field("client_auth", &self.inner.client_auth)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// Client credentials for `tenant` against the default authority
    /// (`https://login.microsoftonline.com`).
    pub fn new(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        secret: impl Into<Secret>,
    ) -> Result<Self, AuthError> {
        Self::with_authority(AuthorityUrl::default(), tenant, client_id, secret)
    }

    /// Client credentials against another authority (national clouds, a simulator). The
    /// authority must be `https`, or `http` on a loopback host; a path prefix is kept.
    pub fn with_authority(
        authority: AuthorityUrl,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        secret: impl Into<Secret>,
    ) -> Result<Self, AuthError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(ConfigProblem::Empty(Field::ClientSecret).into());
        }
        Self::with_client_auth(authority, tenant, client_id, ClientAuth::Secret(secret))
    }

    /// Client credentials proven with a certificate (a signed client assertion) instead of a
    /// secret.
    pub fn with_certificate(
        authority: AuthorityUrl,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        certificate: ClientCertificate,
    ) -> Result<Self, AuthError> {
        Self::with_client_auth(
            authority,
            tenant,
            client_id,
            ClientAuth::Certificate(Arc::new(certificate)),
        )
    }

    /// Client credentials with the given client authentication, which must not be
    /// [`ClientAuth::Public`].
    pub fn with_client_auth(
        authority: AuthorityUrl,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        client_auth: ClientAuth,
    ) -> Result<Self, AuthError> {
        let (tenant, client_id) = grant::identity(tenant.into(), client_id.into())?;
        if !client_auth.is_confidential() {
            return Err(ConfigProblem::NotConfidential.into());
        }
        Ok(ClientCredentials {
            inner: Arc::new(CredentialsInner {
                endpoint: authority.token_endpoint(&tenant),
                authority,
                client_id,
                client_auth,
                tokens: SingleFlight::default(),
            }),
        })
    }

    /// Parses an authority URL for [`ClientCredentials::with_authority`].
    pub fn authority(url: &str) -> Result<AuthorityUrl, AuthError> {
        AuthorityUrl::parse(url).map_err(|e: BaseUrlError| ConfigProblem::Authority(e).into())
    }

    /// The token endpoint this provider posts to.
    pub fn token_endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    async fn fetch(
        &self,
        scope: &str,
        transport: &dyn Transport,
    ) -> Result<(Secret, Duration), AuthError> {
        let inner = &self.inner;
        let form = Form::new()
            .field("grant_type", "client_credentials")
            .field("client_id", &inner.client_id)
            .field("scope", scope);
        let form =
            inner
                .client_auth
                .add(form, &inner.client_id, &inner.endpoint, SystemTime::now())?;
        match grant::post(transport, &inner.authority, &inner.endpoint, form).await? {
            Answer::Token(answer) => {
                tracing::debug!(endpoint = %inner.endpoint, scope, "fetched a new access token");
                Ok((answer.access_token, answer.lifetime))
            }
            Answer::Error(status, code, description) => {
                Err(grant::refused(status, code, description))
            }
        }
    }
}

impl TokenProvider for ClientCredentials {
    fn token<'a>(
        &'a self,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        self.token_for(PARTNER_CENTER_SCOPE, transport)
    }

    fn token_for<'a>(
        &'a self,
        scope: &'a str,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(
            self.inner
                .tokens
                .get_or_fetch(scope, || self.fetch(scope, transport)),
        )
    }

    fn invalidate(&self, token: &Secret) {
        self.inner.tokens.invalidate(token);
    }

    fn is_app_only(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_credentials_are_refused() {
        let empty = |result: Result<ClientCredentials, AuthError>, field: Field| {
            matches!(
                result,
                Err(AuthError::NotConfigured(ConfigProblem::Empty(f))) if f == field
            )
        };
        assert!(empty(ClientCredentials::new("", "a", "s"), Field::Tenant));
        assert!(empty(
            ClientCredentials::new("t", " ", "s"),
            Field::ClientId
        ));
        assert!(empty(
            ClientCredentials::new("t", "a", ""),
            Field::ClientSecret
        ));
        assert!(matches!(
            ClientCredentials::with_client_auth(
                AuthorityUrl::default(),
                "t",
                "a",
                ClientAuth::Public
            ),
            Err(AuthError::NotConfigured(ConfigProblem::NotConfidential))
        ));
    }
}

//! Where bearer tokens come from.
//!
//! A [`TokenProvider`] hands the client a token for each attempt and is told when the API
//! rejected one (a 401), so that the next call fetches a fresh one. Provided: [`StaticToken`],
//! [`ClientCredentials`] (OAuth2 client credentials against Azure AD, cached and refreshed before
//! expiry, one refresh at a time however many tasks ask) and [`from_env`].

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use referrals_query::transport::{BoxFuture, Transport};
use referrals_query::{AuthorityUrl, BaseUrlError};
use tokio::time::Instant;

use crate::Secret;

/// The OAuth2 scope of the Partner Center API.
pub const PARTNER_CENTER_SCOPE: &str = "https://api.partner.microsoft.com/.default";

/// Supplies bearer tokens to the client.
///
/// `transport` is the client's own transport, for providers that fetch tokens over HTTP; it
/// must only be used to reach the provider's configured authority.
pub trait TokenProvider: Send + Sync + fmt::Debug + 'static {
    /// A token to send now.
    fn token<'a>(
        &'a self,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>>;

    /// The API rejected `token` (HTTP 401): do not hand it out again.
    fn invalidate(&self, token: &Secret) {
        let _ = token;
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Required configuration is missing or invalid (names the variable or setting).
    #[error("authentication is not configured: {0}")]
    NotConfigured(String),
    /// The authority refused the credentials.
    #[error("authentication failed: the token endpoint refused the request (HTTP {status}): {code}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The OAuth error code (`invalid_client`...), or `unknown`.
        code: String,
        /// The authority's description, if any.
        description: Option<String>,
    },
    /// The token endpoint could not be reached or answered something unusable.
    #[error("authentication failed: cannot get a token from {endpoint}: {reason}")]
    Unavailable {
        /// The token endpoint (no secrets in it).
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The API rejected a freshly issued token too.
    #[error(
        "authentication failed: the API rejected the credentials (HTTP 401) even after a token refresh"
    )]
    Rejected,
}

/// A fixed bearer token, e.g. from `PARTNER_CENTER_TOKEN`.
#[derive(Debug, Clone)]
pub struct StaticToken(Secret);

impl StaticToken {
    /// Uses `token` for every request.
    pub fn new(token: impl Into<Secret>) -> Self {
        StaticToken(token.into())
    }
}

impl TokenProvider for StaticToken {
    fn token<'a>(&'a self, _: &'a dyn Transport) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

/// OAuth2 client credentials against `{authority}/{tenant}/oauth2/v2.0/token`, scope
/// [`PARTNER_CENTER_SCOPE`].
///
/// The token is cached and refreshed shortly before it expires; concurrent callers wait for a
/// single refresh instead of each fetching a token.
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
    secret: Secret,
    scope: String,
    cache: Mutex<Option<CachedToken>>,
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct CachedToken {
    token: Secret,
    refresh_at: Instant,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("endpoint", &self.inner.endpoint)
            .field("client_id", &self.inner.client_id)
            .field("secret", &self.inner.secret)
            .field("scope", &self.inner.scope)
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
        let tenant = tenant.into();
        let client_id = client_id.into();
        let secret = secret.into();
        if tenant.trim().is_empty() {
            return Err(AuthError::NotConfigured("the tenant id is empty".into()));
        }
        if client_id.trim().is_empty() {
            return Err(AuthError::NotConfigured("the client id is empty".into()));
        }
        if secret.is_empty() {
            return Err(AuthError::NotConfigured(
                "the client secret is empty".into(),
            ));
        }
        Ok(ClientCredentials {
            inner: Arc::new(CredentialsInner {
                endpoint: authority.token_endpoint(&tenant),
                authority,
                client_id,
                secret,
                scope: PARTNER_CENTER_SCOPE.to_owned(),
                cache: Mutex::new(None),
                refresh: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Parses an authority URL for [`ClientCredentials::with_authority`].
    pub fn authority(url: &str) -> Result<AuthorityUrl, AuthError> {
        AuthorityUrl::parse(url).map_err(|e: BaseUrlError| AuthError::NotConfigured(e.to_string()))
    }

    /// The token endpoint this provider posts to.
    pub fn token_endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    fn cached(&self) -> Option<Secret> {
        let cache = self.inner.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    async fn fetch(&self, transport: &dyn Transport) -> Result<CachedToken, AuthError> {
        let inner = &self.inner;
        if !inner.authority.is_same_origin(&inner.endpoint) {
            return Err(self.unavailable("the token endpoint is not on the configured authority"));
        }
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
            utf8_percent_encode(&inner.client_id, NON_ALPHANUMERIC),
            utf8_percent_encode(inner.secret.expose(), NON_ALPHANUMERIC),
            utf8_percent_encode(&inner.scope, NON_ALPHANUMERIC),
        );
        let request = http::Request::post(&inner.endpoint)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Bytes::from(form))
            .map_err(|_| self.unavailable("the token endpoint is not a valid URI"))?;
        let started = Instant::now();
        let response = transport
            .send(request)
            .await
            .map_err(|e| self.unavailable(&e.to_string()))?;
        let status = response.status();
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
        let text = |key: &str| body.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        if !status.is_success() {
            return Err(AuthError::Refused {
                status: status.as_u16(),
                code: text("error").unwrap_or_else(|| "unknown".into()),
                description: text("error_description"),
            });
        }
        let token = text("access_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.unavailable("the response has no access_token"))?;
        // `expires_in` is a number in v2 responses and a string in some v1 ones.
        let lifetime = body
            .get("expires_in")
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(300));
        Ok(CachedToken {
            token: Secret::new(token),
            refresh_at: started + refresh_margin(lifetime),
        })
    }

    fn unavailable(&self, reason: &str) -> AuthError {
        AuthError::Unavailable {
            endpoint: self.inner.endpoint.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// Refresh a little before expiry: five minutes early, or a tenth of the lifetime for short-lived
/// tokens, so a token is never sent in its last moments.
fn refresh_margin(lifetime: Duration) -> Duration {
    let early = Duration::from_secs(300).min(lifetime / 10);
    lifetime.saturating_sub(early)
}

impl TokenProvider for ClientCredentials {
    fn token<'a>(
        &'a self,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            if let Some(token) = self.cached() {
                return Ok(token);
            }
            // One refresh at a time: whoever waited here finds the fresh token in the cache.
            let _refreshing = self.inner.refresh.lock().await;
            if let Some(token) = self.cached() {
                return Ok(token);
            }
            let fresh = self.fetch(transport).await?;
            let token = fresh.token.clone();
            *self.inner.cache.lock().unwrap_or_else(|p| p.into_inner()) = Some(fresh);
            tracing::debug!(endpoint = %self.inner.endpoint, "fetched a new access token");
            Ok(token)
        })
    }

    fn invalidate(&self, token: &Secret) {
        let mut cache = self.inner.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.as_ref().is_some_and(|c| &c.token == token) {
            *cache = None;
        }
    }
}

/// The environment variables [`from_env`] reads.
pub mod env {
    /// A ready bearer token.
    pub const TOKEN: &str = "PARTNER_CENTER_TOKEN";
    /// The Azure AD tenant.
    pub const TENANT_ID: &str = "AZURE_TENANT_ID";
    /// The application (client) id.
    pub const CLIENT_ID: &str = "AZURE_CLIENT_ID";
    /// The client secret.
    pub const CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
    /// The authority, default `https://login.microsoftonline.com`.
    pub const AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
}

/// A provider from the environment: `PARTNER_CENTER_TOKEN` if set, else client credentials from
/// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` and (optionally)
/// `AZURE_AUTHORITY_HOST`. The error names what is missing.
pub fn from_env() -> Result<Arc<dyn TokenProvider>, AuthError> {
    from_lookup(|name| std::env::var(name).ok())
}

/// [`from_env`] with a custom variable lookup (for tests and for configuration files).
pub fn from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn TokenProvider>, AuthError> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    if let Some(token) = get(env::TOKEN) {
        return Ok(Arc::new(StaticToken::new(token)));
    }
    let missing: Vec<&str> = [env::TENANT_ID, env::CLIENT_ID, env::CLIENT_SECRET]
        .into_iter()
        .filter(|name| get(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(AuthError::NotConfigured(format!(
            "set {} or all of {}, {}, {} (missing: {})",
            env::TOKEN,
            env::TENANT_ID,
            env::CLIENT_ID,
            env::CLIENT_SECRET,
            missing.join(", ")
        )));
    }
    let authority = match get(env::AUTHORITY_HOST) {
        Some(url) => ClientCredentials::authority(&url)
            .map_err(|e| AuthError::NotConfigured(format!("{}: {e}", env::AUTHORITY_HOST)))?,
        None => AuthorityUrl::default(),
    };
    let credentials = ClientCredentials::with_authority(
        authority,
        get(env::TENANT_ID).unwrap_or_default(),
        get(env::CLIENT_ID).unwrap_or_default(),
        Secret::new(get(env::CLIENT_SECRET).unwrap_or_default()),
    )?;
    Ok(Arc::new(credentials))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn a_ready_token_wins_over_client_credentials() {
        let provider = from_lookup(lookup(&[
            (env::TOKEN, "tok-SECRET-123"),
            (env::TENANT_ID, "t"),
        ]))
        .unwrap();
        let debug = format!("{provider:?}");
        assert!(debug.starts_with("StaticToken"), "{debug}");
        assert!(!debug.contains("SECRET"), "{debug}");
    }

    #[test]
    fn missing_variables_are_named() {
        let error =
            from_lookup(lookup(&[(env::TENANT_ID, "t"), (env::CLIENT_SECRET, " ")])).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("missing: AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"),
            "{text}"
        );
        assert!(text.contains("PARTNER_CENTER_TOKEN"), "{text}");
    }

    #[test]
    fn client_credentials_from_the_environment_use_the_configured_authority() {
        let provider = from_lookup(lookup(&[
            (env::TENANT_ID, "contoso"),
            (env::CLIENT_ID, "app"),
            (env::CLIENT_SECRET, "s3cret-value"),
            (env::AUTHORITY_HOST, "http://127.0.0.1:9/auth"),
        ]))
        .unwrap();
        let debug = format!("{provider:?}");
        assert!(
            debug.contains("http://127.0.0.1:9/auth/contoso/oauth2/v2.0/token"),
            "{debug}"
        );
        assert!(!debug.contains("s3cret-value"), "{debug}");

        let error = from_lookup(lookup(&[
            (env::TENANT_ID, "contoso"),
            (env::CLIENT_ID, "app"),
            (env::CLIENT_SECRET, "s"),
            (env::AUTHORITY_HOST, "http://login.example.com"),
        ]))
        .unwrap_err();
        assert!(
            error.to_string().contains("AZURE_AUTHORITY_HOST"),
            "{error}"
        );
    }

    #[test]
    fn tokens_are_refreshed_before_they_expire() {
        assert_eq!(
            refresh_margin(Duration::from_secs(3600)),
            Duration::from_secs(3300)
        );
        assert_eq!(
            refresh_margin(Duration::from_secs(60)),
            Duration::from_secs(54)
        );
        assert_eq!(refresh_margin(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn empty_credentials_are_refused() {
        assert!(ClientCredentials::new("", "a", "s").is_err());
        assert!(ClientCredentials::new("t", " ", "s").is_err());
        assert!(ClientCredentials::new("t", "a", "").is_err());
    }
}

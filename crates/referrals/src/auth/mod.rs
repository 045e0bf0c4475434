//! Where bearer tokens come from.
//!
//! A [`TokenProvider`] hands the client a token for each attempt and is told when the API
//! rejected one (a 401), so that the next call fetches a fresh one. Tokens are asked for a
//! **scope** ([`TokenProvider::token_for`]): the Referrals API's
//! ([`PARTNER_CENTER_SCOPE`], what [`TokenProvider::token`] asks for) or another Partner Center
//! audience such as [`PARTNER_CENTER_API_SCOPE`]; [`with_scope`] turns a provider into one whose
//! `token()` is for another scope.
//!
//! Provided:
//! - [`StaticToken`]: a ready token (`PARTNER_CENTER_TOKEN`).
//! - [`RefreshToken`]: the Secure Application Model: a refresh token (from the [`TokenCache`] or
//!   `PARTNER_CENTER_REFRESH_TOKEN`) exchanged for App+User access tokens, each rotated refresh
//!   token written to the cache (under a file lock) before the access token is used.
//! - [`DeviceCodeLogin`]: the interactive sign-in (RFC 8628) that fills the cache.
//! - [`ClientCredentials`]: OAuth2 client credentials (app-only: refused by the Referrals API,
//!   fine for other Partner Center APIs), with a secret or a [`ClientCertificate`].
//! - [`AzureCli`]: `az account get-access-token`.
//! - [`from_env`] / [`Chain`]: the first of those the environment configures, in a documented
//!   order, with an error that lists each source tried.

use std::fmt;
use std::sync::Arc;

use referrals_query::transport::{BoxFuture, Transport};

use crate::Secret;

mod assertion;
mod azure_cli;
mod cache;
mod chain;
mod client_auth;
mod client_credentials;
mod device_code;
mod grant;
mod memory;
mod refresh;
mod rotation;

pub use assertion::ClientCertificate;
pub use azure_cli::{AzureCli, AzureCliToken, parse_az_output};
pub use cache::{
    CacheContents, CacheEntry, CacheKey, CacheLock, CachedAccessToken, TokenCache,
    default_cache_path,
};
pub use chain::{Chain, Source, from_env, from_lookup, from_lookup_forced};
pub use client_auth::ClientAuth;
pub use client_credentials::ClientCredentials;
pub use device_code::{
    DeviceAuthorization, DeviceCodeLogin, DevicePoller, MAX_UNREACHABLE_POLLS, Pause, PollAnswer,
    PollStep,
};
pub use grant::{IdClaims, TokenAnswer};
pub use refresh::RefreshToken;
pub use rotation::{RefreshChoice, choose_refresh_token, fingerprint};

/// The OAuth2 scope of the Referrals API (audience `https://api.partner.microsoft.com`), the
/// one [`TokenProvider::token`] asks for.
pub const PARTNER_CENTER_SCOPE: &str = referrals_query::scope::REFERRALS;

/// The OAuth2 scope of the Partner Center REST API (audience
/// `https://api.partnercenter.microsoft.com`), e.g. for webhook registrations.
pub const PARTNER_CENTER_API_SCOPE: &str = referrals_query::scope::PARTNER_CENTER_API;

/// The scope that makes the authority issue a refresh token along with the access token.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The default sign-in authority.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// The tenant used when none is given: any work or school account.
pub const DEFAULT_TENANT: &str = "organizations";

/// Supplies bearer tokens to the client.
///
/// `transport` is the client's own transport, for providers that fetch tokens over HTTP; it
/// must only be used to reach the provider's configured authority.
pub trait TokenProvider: Send + Sync + fmt::Debug + 'static {
    /// A token for the Referrals API ([`PARTNER_CENTER_SCOPE`]) to send now.
    fn token<'a>(
        &'a self,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>>;

    /// A token for `scope` (e.g. [`PARTNER_CENTER_API_SCOPE`]). Providers that can ask the
    /// authority for any scope override this; the default serves [`PARTNER_CENTER_SCOPE`] through
    /// [`token`](Self::token) and refuses any other scope, since a fixed token has one audience.
    fn token_for<'a>(
        &'a self,
        scope: &'a str,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        if scope == PARTNER_CENTER_SCOPE {
            return self.token(transport);
        }
        Box::pin(async move {
            Err(AuthError::NotConfigured(format!(
                "this credential gives tokens for {PARTNER_CENTER_SCOPE} only, not for {scope}"
            )))
        })
    }

    /// The API rejected `token` (HTTP 401): do not hand it out again.
    fn invalidate(&self, token: &Secret) {
        let _ = token;
    }

    /// True when the tokens are app-only (no signed-in user), which the Referrals API refuses;
    /// the client then explains that App+User tokens are needed.
    fn is_app_only(&self) -> bool {
        false
    }
}

/// A provider whose [`token`](TokenProvider::token) asks `inner` for `scope`: the same
/// credential (and refresh token) for another Partner Center audience.
///
/// ```
/// use std::sync::Arc;
/// use referrals::auth::{self, StaticToken, TokenProvider, PARTNER_CENTER_API_SCOPE};
///
/// let provider: Arc<dyn TokenProvider> = Arc::new(StaticToken::new("t"));
/// let other = auth::with_scope(provider, PARTNER_CENTER_API_SCOPE);
/// assert!(format!("{other:?}").contains("partnercenter"));
/// ```
pub fn with_scope(inner: Arc<dyn TokenProvider>, scope: impl Into<String>) -> Arc<Scoped> {
    Arc::new(Scoped {
        inner,
        scope: scope.into(),
    })
}

/// See [`with_scope`].
#[derive(Debug)]
pub struct Scoped {
    inner: Arc<dyn TokenProvider>,
    scope: String,
}

impl TokenProvider for Scoped {
    fn token<'a>(
        &'a self,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        self.inner.token_for(&self.scope, transport)
    }

    fn token_for<'a>(
        &'a self,
        scope: &'a str,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        self.inner.token_for(scope, transport)
    }

    fn invalidate(&self, token: &Secret) {
        self.inner.invalidate(token);
    }

    fn is_app_only(&self) -> bool {
        self.inner.is_app_only()
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
    /// An interactive sign-in or a stored sign-in cannot go on: the code expired, the user
    /// declined, the refresh token was used, expired or revoked.
    #[error("sign-in failed ({code}): {message}")]
    SignIn {
        /// The OAuth error code (`expired_token`, `authorization_declined`, `invalid_grant`...).
        code: String,
        /// What happened and what to do.
        message: String,
    },
    /// The token cache cannot be used (corrupt, readable by others, owned by another user,
    /// unwritable); it is never silently used or overwritten.
    #[error("token cache {path}: {problem}")]
    Cache {
        /// The cache file.
        path: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The Azure CLI is missing, signed out, failed or did not answer in time.
    #[error("Azure CLI: {0}")]
    AzureCli(String),
    /// No credential source could be used: each one tried, and why it was not used.
    #[error("no credentials could be used; tried, in order:{}", tried.iter().map(|(s, why)| format!("\n  - {s}: {why}")).collect::<String>())]
    NoCredential {
        /// `(source, reason)` in the order tried.
        tried: Vec<(String, String)>,
    },
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

/// The environment variables [`from_env`] reads.
pub mod env {
    /// A ready bearer token.
    pub const TOKEN: &str = "PARTNER_CENTER_TOKEN";
    /// A refresh token (Secure Application Model).
    pub const REFRESH_TOKEN: &str = "PARTNER_CENTER_REFRESH_TOKEN";
    /// The Entra ID (Azure AD) tenant.
    pub const TENANT_ID: &str = "AZURE_TENANT_ID";
    /// The application (client) id.
    pub const CLIENT_ID: &str = "AZURE_CLIENT_ID";
    /// The client secret.
    pub const CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
    /// A PEM file with the client certificate and its PKCS#8 private key.
    pub const CLIENT_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
    /// The authority, default `https://login.microsoftonline.com`.
    pub const AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
    /// Where signed-in tokens are kept (default: the user's config directory).
    pub const TOKEN_CACHE: &str = "REFERRALS_TOKEN_CACHE";
    /// Forces one credential source: `token`, `refresh-token`, `login`, `client-credentials`
    /// or `azure-cli`.
    pub const AUTH: &str = "REFERRALS_AUTH";
}

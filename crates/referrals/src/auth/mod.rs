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
//! - [`from_env`] / [`Chain`]: the first of those the environment configures, in the order of
//!   [`CredentialSource::ALL`], with an error that lists each source tried and why
//!   ([`AuthError::NoCredential`]).
//!
//! Errors are typed ([`AuthError`] and the problems it carries) so that callers decide by kind;
//! their messages state what happened and leave the advice to the caller.

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
mod error;
mod grant;
mod memory;
mod refresh;
mod rotation;
mod source;

pub use assertion::ClientCertificate;
pub use azure_cli::{AzureCli, AzureCliToken, parse_az_output};
pub use cache::{
    CacheContents, CacheEntry, CacheKey, CacheLock, CachedAccessToken, MAX_CACHE_BYTES, TokenCache,
    default_cache_path,
};
pub use chain::{Chain, authority_from_lookup, from_env, from_lookup, from_lookup_forced};
pub use client_auth::ClientAuth;
pub use client_credentials::ClientCredentials;
pub use device_code::{
    DeviceAuthorization, DeviceCodeLogin, DevicePoller, MAX_CODE_LIFETIME, MAX_UNREACHABLE_POLLS,
    MIN_POLL_INTERVAL, Pause, PollAnswer, PollStep,
};
pub use error::{
    Attempt, AttemptFailure, AuthError, AzureCliProblem, CacheProblem, CertificateProblem,
    ConfigProblem, EndpointProblem, Field, PemProblem, SignInProblem, Unconfigured,
};
pub(crate) use grant::FORM_VALUE;
pub use grant::{IdClaims, TokenAnswer};
pub use refresh::RefreshToken;
pub use rotation::{RefreshChoice, choose_refresh_token, fingerprint};
pub use source::{CredentialSource, UnknownCredentialSource};

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
            Err(AuthError::NotConfigured(ConfigProblem::ScopeNotOffered {
                offered: PARTNER_CENTER_SCOPE.to_owned(),
                asked: scope.to_owned(),
            }))
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

    /// True when, after [`invalidate`](Self::invalidate), the provider gets another token (it
    /// fetches or refreshes them); false for a fixed token, which cannot be refreshed, so that
    /// a rejected one is not said to have been refreshed.
    fn can_refresh(&self) -> bool {
        true
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

    fn can_refresh(&self) -> bool {
        self.inner.can_refresh()
    }
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

    /// A fixed token cannot be refreshed.
    fn can_refresh(&self) -> bool {
        false
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
    /// Forces one credential source: one of
    /// [`CredentialSource::NAMES`](super::CredentialSource::NAMES).
    pub const AUTH: &str = "REFERRALS_AUTH";
}

#[cfg(test)]
mod tests {
    use super::*;
    use referrals_query::AuthorityUrl;

    #[test]
    fn only_providers_that_fetch_tokens_can_refresh_them() {
        let fixed: Arc<dyn TokenProvider> = Arc::new(StaticToken::new("fixed-token-value"));
        assert!(!fixed.can_refresh());
        assert!(!with_scope(fixed, PARTNER_CENTER_API_SCOPE).can_refresh());
        let credentials = ClientCredentials::new("t", "app", "client-secret-value").unwrap();
        assert!(credentials.can_refresh());
        assert!(AzureCli::new().can_refresh());
        let refresh = RefreshToken::new(AuthorityUrl::default(), "t", "app", ClientAuth::Public)
            .unwrap()
            .with_refresh_token("refresh-token-value");
        assert!(refresh.can_refresh());

        let no_cache = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
                    .or_else(|| (name == env::TOKEN_CACHE).then(|| "/nonexistent/t.json".into()))
            }
        };
        let chosen = from_lookup(no_cache(&[(env::TOKEN, "fixed-token-value")])).unwrap();
        assert!(!chosen.can_refresh(), "PARTNER_CENTER_TOKEN is fixed");
        let chosen = from_lookup(no_cache(&[
            (env::REFRESH_TOKEN, "refresh-token-value"),
            (env::CLIENT_ID, "app"),
        ]))
        .unwrap();
        assert!(chosen.can_refresh());
    }
}

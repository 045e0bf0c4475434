//! The refresh-token credential (Secure Application Model): App+User access tokens for any scope
//! from a refresh token, with rotation written to the cache before a token is used.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use referrals_query::AuthorityUrl;
use referrals_query::transport::{BoxFuture, Transport};

use super::cache::{CacheEntry, CacheKey, CachedAccessToken, TokenCache};
use super::client_auth::ClientAuth;
use super::error::{AuthError, ConfigProblem, SignInProblem};
use super::grant::{self, Answer, Form, TokenAnswer};
use super::memory::SingleFlight;
use super::rotation::{RefreshChoice, choose_refresh_token};
use super::{OFFLINE_ACCESS, PARTNER_CENTER_SCOPE, TokenProvider};
use crate::Secret;

/// A cached access token is used from the file only while at least this much of it is left.
const FILE_TOKEN_MARGIN: Duration = Duration::from_secs(120);

/// Rejected access tokens remembered so the file cache does not hand them out again.
const REJECTED_KEPT: usize = 16;

/// App+User tokens from a refresh token: the one a `referrals login` stored in the
/// [`TokenCache`], or `PARTNER_CENTER_REFRESH_TOKEN`.
///
/// Each exchange may answer a new refresh token (rotation); it replaces the old one in the cache
/// before the access token is handed out, under the cache's file lock, so two processes never
/// spend the same refresh token and a rotated one is never lost. When the environment's token has
/// already been exchanged (the cache holds its successor), the cache's token is used instead.
/// Access tokens are kept per scope (in memory and in the cache) until shortly before expiry;
/// one refresh at a time per process.
///
/// ```
/// use referrals::auth::{ClientAuth, RefreshToken};
/// use referrals::query::AuthorityUrl;
///
/// let provider = RefreshToken::new(AuthorityUrl::default(), "contoso", "app-id", ClientAuth::Public)?
///     .with_refresh_token("0.AXYA-secret-refresh");
/// assert!(!format!("{provider:?}").contains("secret-refresh"));
/// # Ok::<(), referrals::auth::AuthError>(())
/// ```
#[derive(Clone)]
pub struct RefreshToken {
    authority: AuthorityUrl,
    key: CacheKey,
    endpoint: String,
    client_auth: ClientAuth,
    cache: Option<TokenCache>,
    environment: Option<Secret>,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// The latest refresh token when there is no cache to keep it in.
    current: Mutex<Option<Secret>>,
    tokens: SingleFlight,
    rejected: Mutex<Vec<Secret>>,
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.key.client_id)
            .field("client_auth", &self.client_auth)
            .field("cache", &self.cache)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

impl RefreshToken {
    /// A refresh-token credential for `client_id` in `tenant` at `authority`; add a refresh
    /// token ([`with_refresh_token`](Self::with_refresh_token)), a cache
    /// ([`with_cache`](Self::with_cache)) or both.
    pub fn new(
        authority: AuthorityUrl,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        client_auth: ClientAuth,
    ) -> Result<Self, AuthError> {
        let (tenant, client_id) = grant::identity(tenant.into(), client_id.into())?;
        Ok(RefreshToken {
            endpoint: authority.token_endpoint(&tenant),
            key: CacheKey {
                authority: authority.as_str().to_owned(),
                tenant,
                client_id,
            },
            authority,
            client_auth,
            cache: None,
            environment: None,
            state: Arc::default(),
        })
    }

    /// A refresh token given directly (e.g. `PARTNER_CENTER_REFRESH_TOKEN`).
    pub fn with_refresh_token(mut self, token: impl Into<Secret>) -> Self {
        let token = token.into();
        self.environment = (!token.is_empty()).then_some(token);
        self
    }

    /// Keeps the refresh token (and access tokens) in `cache`, and reads them from it.
    pub fn with_cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The cache key: authority, tenant and client id.
    pub fn key(&self) -> &CacheKey {
        &self.key
    }

    /// The cache, when there is one.
    pub fn cache(&self) -> Option<&TokenCache> {
        self.cache.as_ref()
    }

    fn is_rejected(&self, token: &Secret) -> bool {
        let rejected = self
            .state
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        rejected.contains(token)
    }

    async fn exchange(
        &self,
        refresh_token: &Secret,
        scope: &str,
        transport: &dyn Transport,
    ) -> Result<TokenAnswer, AuthError> {
        let scopes = if scope.split(' ').any(|s| s == OFFLINE_ACCESS) {
            scope.to_owned()
        } else {
            format!("{scope} {OFFLINE_ACCESS}")
        };
        let form = Form::new()
            .field("grant_type", "refresh_token")
            .field("client_id", &self.key.client_id)
            .secret("refresh_token", refresh_token)
            .field("scope", &scopes);
        let form =
            self.client_auth
                .add(form, &self.key.client_id, &self.endpoint, SystemTime::now())?;
        match grant::post(transport, &self.authority, &self.endpoint, form).await? {
            Answer::Token(answer) => Ok(answer),
            Answer::Error(_, code, description) if code == "invalid_grant" => Err(
                AuthError::sign_in(SignInProblem::RefreshTokenRefused, code, description),
            ),
            Answer::Error(status, code, description) => {
                Err(grant::refused(status, code, description))
            }
        }
    }

    /// The exchange with the cache: lock, read, exchange, write the successor, unlock.
    async fn refresh_with_cache(
        &self,
        cache: &TokenCache,
        scope: &str,
        transport: &dyn Transport,
    ) -> Result<(Secret, Duration), AuthError> {
        let lock = cache.lock().await?;
        let mut contents = lock.load()?;
        let entry = contents.get(&self.key).cloned();
        // Another process may have refreshed while this one waited for the lock.
        if let Some(access) = entry.as_ref().and_then(|e| e.access_tokens.get(scope)) {
            let left = access
                .expires_at
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            if left > FILE_TOKEN_MARGIN && !self.is_rejected(&access.token) {
                return Ok((access.token.clone(), left));
            }
        }
        // A successor this process could not write last time comes before the environment's.
        let given = self
            .state
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .or_else(|| self.environment.clone());
        let choice = choose_refresh_token(given.as_ref(), entry.as_ref())
            .ok_or_else(|| self.no_refresh_token())?;
        let (refresh_token, mut entry) = match (choice, entry) {
            (RefreshChoice::Cache, Some(entry)) => (entry.refresh_token.clone(), entry),
            (_, existing) => {
                let token = given.ok_or_else(|| self.no_refresh_token())?;
                let entry = match existing {
                    Some(mut entry) => {
                        entry.rotate(token.clone());
                        entry
                    }
                    None => CacheEntry::new(self.key.clone(), token.clone()),
                };
                (token, entry)
            }
        };
        let answer = self.exchange(&refresh_token, scope, transport).await?;
        let access = answer.access_token.clone();
        entry.record(&answer, scope, SystemTime::now());
        contents.put(entry);
        // Written before the access token is handed out: a rotated token is never lost.
        if let Err(error) = lock.store(&contents) {
            if let Some(successor) = answer.refresh_token {
                *self.state.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(successor);
            }
            return Err(error);
        }
        drop(lock);
        *self.state.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
        tracing::debug!(endpoint = %self.endpoint, scope, "refreshed an access token");
        Ok((access, answer.lifetime))
    }

    async fn refresh_in_memory(
        &self,
        scope: &str,
        transport: &dyn Transport,
    ) -> Result<(Secret, Duration), AuthError> {
        let held = self
            .state
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let refresh_token = held
            .or_else(|| self.environment.clone())
            .ok_or_else(|| self.no_refresh_token())?;
        let answer = self.exchange(&refresh_token, scope, transport).await?;
        if let Some(successor) = answer.refresh_token.clone() {
            *self.state.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(successor);
        }
        tracing::debug!(endpoint = %self.endpoint, scope, "refreshed an access token (no cache)");
        Ok((answer.access_token, answer.lifetime))
    }

    fn no_refresh_token(&self) -> AuthError {
        ConfigProblem::NoRefreshToken {
            client_id: self.key.client_id.clone(),
            tenant: self.key.tenant.clone(),
        }
        .into()
    }
}

impl CacheEntry {
    /// Records a token answer for `scope`: the rotated refresh token, the access token and who
    /// signed in.
    pub fn record(&mut self, answer: &TokenAnswer, scope: &str, now: SystemTime) {
        if let Some(successor) = &answer.refresh_token {
            self.rotate(successor.clone());
        }
        if answer.id.username.is_some() {
            self.account = answer.id.username.clone();
        }
        if answer.id.tenant_id.is_some() {
            self.tenant_id = answer.id.tenant_id.clone();
        }
        self.access_tokens.insert(
            scope.to_owned(),
            CachedAccessToken {
                token: answer.access_token.clone(),
                expires_at: now + answer.lifetime,
            },
        );
        self.updated_at = now;
    }
}

impl TokenProvider for RefreshToken {
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
        Box::pin(self.state.tokens.get_or_fetch(scope, move || async move {
            match &self.cache {
                Some(cache) => self.refresh_with_cache(cache, scope, transport).await,
                None => self.refresh_in_memory(scope, transport).await,
            }
        }))
    }

    fn invalidate(&self, token: &Secret) {
        self.state.tokens.invalidate(token);
        let mut rejected = self
            .state
            .rejected
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if rejected.len() >= REJECTED_KEPT {
            rejected.remove(0);
        }
        rejected.push(token.clone());
    }
}

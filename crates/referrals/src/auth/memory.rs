//! Access tokens kept in memory per scope until shortly before they expire.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::AuthError;
use crate::Secret;

/// Refresh a little before expiry: five minutes early, or a tenth of the lifetime for short-lived
/// tokens, so a token is never sent in its last moments.
pub(crate) fn refresh_margin(lifetime: Duration) -> Duration {
    let early = Duration::from_secs(300).min(lifetime / 10);
    lifetime.saturating_sub(early)
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// One cached access token per scope.
#[derive(Default)]
pub(crate) struct ScopedTokens {
    tokens: Mutex<HashMap<String, Cached>>,
}

impl ScopedTokens {
    /// The token for `scope`, if one is cached and not about to expire.
    pub(crate) fn get(&self, scope: &str) -> Option<Secret> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(scope)
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    /// Keeps `token`, fetched at `fetched_at` with `lifetime`, for `scope`.
    pub(crate) fn put(&self, scope: &str, token: Secret, fetched_at: Instant, lifetime: Duration) {
        let refresh_at = fetched_at + refresh_margin(lifetime);
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.insert(scope.to_owned(), Cached { token, refresh_at });
    }

    /// Forgets `token`, whatever scope it was for.
    pub(crate) fn invalidate(&self, token: &Secret) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.retain(|_, c| &c.token != token);
    }
}

/// Cached tokens per scope with one fetch at a time: whoever waited for the fetch finds its
/// token in the cache instead of fetching again.
#[derive(Default)]
pub(crate) struct SingleFlight {
    tokens: ScopedTokens,
    fetching: tokio::sync::Mutex<()>,
}

impl SingleFlight {
    /// The cached token for `scope`, else the one `fetch` gets (with its lifetime), kept.
    pub(crate) async fn get_or_fetch<F, Fut>(
        &self,
        scope: &str,
        fetch: F,
    ) -> Result<Secret, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Secret, Duration), AuthError>>,
    {
        if let Some(token) = self.tokens.get(scope) {
            return Ok(token);
        }
        let _fetching = self.fetching.lock().await;
        if let Some(token) = self.tokens.get(scope) {
            return Ok(token);
        }
        let started = Instant::now();
        let (token, lifetime) = fetch().await?;
        self.tokens.put(scope, token.clone(), started, lifetime);
        Ok(token)
    }

    /// Forgets `token`, whatever scope it was for.
    pub(crate) fn invalidate(&self, token: &Secret) {
        self.tokens.invalidate(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn tokens_are_kept_per_scope_and_forgotten_when_rejected() {
        let tokens = ScopedTokens::default();
        let now = Instant::now();
        tokens.put("a", Secret::new("ta"), now, Duration::from_secs(3600));
        tokens.put("b", Secret::new("tb"), now, Duration::from_secs(3600));
        tokens.put("c", Secret::new("tc"), now, Duration::ZERO);
        assert_eq!(tokens.get("a"), Some(Secret::new("ta")));
        assert_eq!(tokens.get("c"), None, "expired");
        tokens.invalidate(&Secret::new("ta"));
        assert_eq!(tokens.get("a"), None);
        assert_eq!(tokens.get("b"), Some(Secret::new("tb")));
    }
}

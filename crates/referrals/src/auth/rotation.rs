//! Which refresh token to spend: the pure rule that keeps a rotated token from being lost and a
//! stale `PARTNER_CENTER_REFRESH_TOKEN` from being spent again.

use base64::Engine;

use super::cache::CacheEntry;
use crate::Secret;

/// A refresh token's fingerprint: base64url SHA-256, safe to keep next to the cache's tokens
/// (it cannot be turned back into the token).
pub fn fingerprint(token: &Secret) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.expose().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Where the refresh token to exchange comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshChoice {
    /// The cache's current token.
    Cache,
    /// The environment's token (`PARTNER_CENTER_REFRESH_TOKEN`).
    Environment,
}

/// Chooses between the environment's refresh token and the cache's entry for the same account.
///
/// The cache wins when it holds the environment's token or its successor (the environment's
/// token is among those already exchanged): spending a rotated-away token again would fail with
/// `invalid_grant`. An environment token the cache has never seen is new (set after a fresh
/// consent, say) and wins. `None` when there is neither.
pub fn choose_refresh_token(
    environment: Option<&Secret>,
    cached: Option<&CacheEntry>,
) -> Option<RefreshChoice> {
    match (environment, cached) {
        (None, None) => None,
        (None, Some(_)) => Some(RefreshChoice::Cache),
        (Some(_), None) => Some(RefreshChoice::Environment),
        (Some(env), Some(entry)) => {
            let seen = env == &entry.refresh_token || entry.superseded.contains(&fingerprint(env));
            Some(if seen {
                RefreshChoice::Cache
            } else {
                RefreshChoice::Environment
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::CacheKey;

    fn entry(current: &str, superseded: &[&str]) -> CacheEntry {
        let key = CacheKey {
            authority: "a".into(),
            tenant: "t".into(),
            client_id: "c".into(),
        };
        let mut entry = CacheEntry::new(
            key,
            Secret::new(superseded.first().copied().unwrap_or(current)),
        );
        for token in superseded.iter().skip(1).chain(std::iter::once(&current)) {
            entry.rotate(Secret::new(*token));
        }
        entry
    }

    #[test]
    fn a_stale_environment_token_gives_way_to_its_successor() {
        let env = Secret::new("rt-0");
        let rotated = entry("rt-2", &["rt-0", "rt-1"]);
        assert_eq!(rotated.refresh_token, Secret::new("rt-2"));
        assert_eq!(
            choose_refresh_token(Some(&env), Some(&rotated)),
            Some(RefreshChoice::Cache)
        );
        assert_eq!(
            choose_refresh_token(Some(&Secret::new("rt-2")), Some(&rotated)),
            Some(RefreshChoice::Cache)
        );
    }

    #[test]
    fn a_new_environment_token_wins_and_nothing_means_nothing() {
        let rotated = entry("rt-2", &["rt-0", "rt-1"]);
        let fresh = Secret::new("rt-new");
        assert_eq!(
            choose_refresh_token(Some(&fresh), Some(&rotated)),
            Some(RefreshChoice::Environment)
        );
        assert_eq!(
            choose_refresh_token(Some(&fresh), None),
            Some(RefreshChoice::Environment)
        );
        assert_eq!(
            choose_refresh_token(None, Some(&rotated)),
            Some(RefreshChoice::Cache)
        );
        assert_eq!(choose_refresh_token(None, None), None);
        assert_ne!(fingerprint(&fresh), fresh.expose());
    }
}

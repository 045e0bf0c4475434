//! One credential chain: which source the environment configures, in a fixed order, and an
//! error that lists each source tried and why it was not used.
//!
//! Order: `PARTNER_CENTER_TOKEN`; `PARTNER_CENTER_REFRESH_TOKEN`; the token cache (`referrals
//! login`); client credentials (a secret or a certificate; app-only); the Azure CLI.
//! `REFERRALS_AUTH` (or the CLI's `--auth`) forces one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use referrals_query::AuthorityUrl;
use referrals_query::transport::{BoxFuture, Transport};

use super::assertion::ClientCertificate;
use super::azure_cli::AzureCli;
use super::cache::{CacheEntry, TokenCache, default_cache_path};
use super::client_auth::ClientAuth;
use super::client_credentials::ClientCredentials;
use super::refresh::RefreshToken;
use super::{AuthError, DEFAULT_TENANT, StaticToken, TokenProvider, env};
use crate::Secret;

/// A credential source, in the chain's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// A ready access token: `PARTNER_CENTER_TOKEN` or `--token`.
    Token,
    /// `PARTNER_CENTER_REFRESH_TOKEN` (Secure Application Model).
    RefreshToken,
    /// The token cache that `referrals login` fills.
    Login,
    /// Client credentials with `AZURE_CLIENT_SECRET` or `AZURE_CLIENT_CERTIFICATE_PATH`
    /// (app-only).
    ClientCredentials,
    /// `az account get-access-token`.
    AzureCli,
}

impl Source {
    /// Every source, in the chain's order.
    pub const ALL: [Source; 5] = [
        Source::Token,
        Source::RefreshToken,
        Source::Login,
        Source::ClientCredentials,
        Source::AzureCli,
    ];

    /// The name `--auth` / `REFERRALS_AUTH` takes.
    pub fn name(self) -> &'static str {
        match self {
            Source::Token => "token",
            Source::RefreshToken => "refresh-token",
            Source::Login => "login",
            Source::ClientCredentials => "client-credentials",
            Source::AzureCli => "azure-cli",
        }
    }

    /// Parses a `--auth` value.
    pub fn parse(name: &str) -> Result<Source, AuthError> {
        Source::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| {
                AuthError::NotConfigured(format!(
                    "{}: `{name}` is not a credential source (one of {})",
                    env::AUTH,
                    Source::ALL.map(Source::name).join(", ")
                ))
            })
    }

    /// What it is, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Source::Token => env::TOKEN,
            Source::RefreshToken => env::REFRESH_TOKEN,
            Source::Login => "the token cache (referrals login)",
            Source::ClientCredentials => "client credentials",
            Source::AzureCli => "the Azure CLI",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The credential the chain chose, what it passed over and why, and what to show about it.
#[derive(Clone)]
pub struct Chain {
    source: Source,
    provider: Arc<dyn TokenProvider>,
    passed_over: Vec<(Source, String)>,
    details: Vec<(&'static str, String)>,
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("source", &self.source)
            .field("provider", &self.provider)
            .field("passed_over", &self.passed_over)
            .finish_non_exhaustive()
    }
}

impl Chain {
    /// The source chosen.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The chosen provider.
    pub fn provider(&self) -> &Arc<dyn TokenProvider> {
        &self.provider
    }

    /// The sources before it that were not configured, and why.
    pub fn passed_over(&self) -> &[(Source, String)] {
        &self.passed_over
    }

    /// What can be shown about the choice (tenant, client id, account, cache file, expiry),
    /// never a token.
    pub fn details(&self) -> &[(&'static str, String)] {
        &self.details
    }

    /// The provider to give a client: the chosen one, wrapped only when it is the last resort
    /// (the Azure CLI), so that its failure lists every source tried.
    pub fn into_provider(self) -> Arc<dyn TokenProvider> {
        if self.source == Source::AzureCli && !self.passed_over.is_empty() {
            Arc::new(self)
        } else {
            self.provider
        }
    }

    fn explain(&self, error: AuthError) -> AuthError {
        if self.source != Source::AzureCli || self.passed_over.is_empty() {
            return error;
        }
        let mut tried: Vec<(String, String)> = self
            .passed_over
            .iter()
            .map(|(s, why)| (s.label().to_owned(), why.clone()))
            .collect();
        let reason = match error {
            AuthError::AzureCli(reason) => reason,
            other => other.to_string(),
        };
        tried.push((self.source.label().to_owned(), reason));
        AuthError::NoCredential { tried }
    }
}

impl TokenProvider for Chain {
    fn token<'a>(
        &'a self,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            self.provider
                .token(transport)
                .await
                .map_err(|e| self.explain(e))
        })
    }

    fn token_for<'a>(
        &'a self,
        scope: &'a str,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(async move {
            self.provider
                .token_for(scope, transport)
                .await
                .map_err(|e| self.explain(e))
        })
    }

    fn invalidate(&self, token: &Secret) {
        self.provider.invalidate(token);
    }

    fn is_app_only(&self) -> bool {
        self.provider.is_app_only()
    }
}

/// The provider the environment configures (see the [module docs](crate::auth) for the order;
/// `REFERRALS_AUTH` forces a source). The error names what is missing for each source.
pub fn from_env() -> Result<Arc<dyn TokenProvider>, AuthError> {
    from_lookup(|name| std::env::var(name).ok())
}

/// [`from_env`] with a custom variable lookup (for tests and for configuration files).
pub fn from_lookup(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Arc<dyn TokenProvider>, AuthError> {
    let forced = match lookup(env::AUTH).filter(|v| !v.trim().is_empty()) {
        Some(name) => Some(Source::parse(&name)?),
        None => None,
    };
    from_lookup_forced(&lookup, forced).map(Chain::into_provider)
}

/// The chain's decision with `forced` (if any) in place of `REFERRALS_AUTH`.
pub fn from_lookup_forced(
    lookup: &dyn Fn(&str) -> Option<String>,
    forced: Option<Source>,
) -> Result<Chain, AuthError> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let authority = match get(env::AUTHORITY_HOST) {
        Some(url) => AuthorityUrl::parse(&url)
            .map_err(|e| AuthError::NotConfigured(format!("{}: {e}", env::AUTHORITY_HOST)))?,
        None => AuthorityUrl::default(),
    };
    let facts = Facts {
        get: &get,
        authority,
    };
    let mut passed_over = Vec::new();
    let candidates: Vec<Source> = match forced {
        Some(source) => vec![source],
        None => Source::ALL.to_vec(),
    };
    for source in candidates {
        match facts.try_source(source)? {
            Ok((provider, details)) => {
                return Ok(Chain {
                    source,
                    provider,
                    passed_over,
                    details,
                });
            }
            Err(reason) if forced.is_some() => {
                return Err(AuthError::NotConfigured(format!(
                    "--auth {source} ({}): {reason}",
                    source.label()
                )));
            }
            Err(reason) => passed_over.push((source, reason)),
        }
    }
    Err(AuthError::NoCredential {
        tried: passed_over
            .into_iter()
            .map(|(s, why)| (s.label().to_owned(), why))
            .collect(),
    })
}

type Found = (Arc<dyn TokenProvider>, Vec<(&'static str, String)>);

struct Facts<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    authority: AuthorityUrl,
}

impl Facts<'_> {
    /// `Ok(Ok(found))`, `Ok(Err(why not))`, or `Err` for a configuration that is present but
    /// broken (a bad certificate, a corrupt cache), which must not be passed over silently.
    fn try_source(&self, source: Source) -> Result<Result<Found, String>, AuthError> {
        let get = self.get;
        let tenant = get(env::TENANT_ID);
        let client_id = get(env::CLIENT_ID);
        match source {
            Source::Token => Ok(match get(env::TOKEN) {
                Some(token) => Ok((Arc::new(StaticToken::new(token)), Vec::new())),
                None => Err("not set".into()),
            }),
            Source::RefreshToken => {
                let Some(token) = get(env::REFRESH_TOKEN) else {
                    return Ok(Err("not set".into()));
                };
                let Some(client_id) = client_id else {
                    return Ok(Err(format!("set, but {} is not", env::CLIENT_ID)));
                };
                let tenant = tenant.unwrap_or_else(|| DEFAULT_TENANT.into());
                let mut provider = RefreshToken::new(
                    self.authority.clone(),
                    tenant.clone(),
                    client_id.clone(),
                    self.client_auth()?,
                )?
                .with_refresh_token(token);
                let mut details = vec![("tenant", tenant), ("client id", client_id)];
                if let Some(path) = default_cache_path(get) {
                    let cache = TokenCache::new(path.clone());
                    if let Some(entry) = cache.load()?.get(provider.key()) {
                        details.extend(entry_details(entry));
                    }
                    details.push(("rotated tokens kept in", path.display().to_string()));
                    provider = provider.with_cache(cache);
                }
                Ok(Ok((Arc::new(provider), details)))
            }
            Source::Login => {
                let Some(path) = default_cache_path(get) else {
                    return Ok(Err("no config directory for a token cache".into()));
                };
                let cache = TokenCache::new(path.clone());
                let contents = cache.load()?;
                let matching = contents.matching(
                    self.authority.as_str(),
                    tenant.as_deref(),
                    client_id.as_deref(),
                );
                let entry = match matching.as_slice() {
                    [] => {
                        return Ok(Err(format!(
                            "no sign-in for {} in {} (run `referrals login`)",
                            self.authority,
                            path.display()
                        )));
                    }
                    [entry] => (*entry).clone(),
                    several => {
                        return Ok(Err(format!(
                            "{} sign-ins in {} match; set {} and {} to choose",
                            several.len(),
                            path.display(),
                            env::CLIENT_ID,
                            env::TENANT_ID
                        )));
                    }
                };
                let provider = RefreshToken::new(
                    self.authority.clone(),
                    entry.key.tenant.clone(),
                    entry.key.client_id.clone(),
                    self.client_auth()?,
                )?
                .with_cache(cache);
                let mut details = vec![
                    ("tenant", entry.key.tenant.clone()),
                    ("client id", entry.key.client_id.clone()),
                ];
                details.extend(entry_details(&entry));
                details.push(("token cache", path.display().to_string()));
                Ok(Ok((Arc::new(provider), details)))
            }
            Source::ClientCredentials => {
                let missing: Vec<&str> = [
                    (env::TENANT_ID, tenant.is_none()),
                    (env::CLIENT_ID, client_id.is_none()),
                    (
                        env::CLIENT_SECRET,
                        get(env::CLIENT_SECRET).is_none()
                            && get(env::CLIENT_CERTIFICATE_PATH).is_none(),
                    ),
                ]
                .into_iter()
                .filter_map(|(name, missing)| missing.then_some(name))
                .collect();
                if !missing.is_empty() {
                    return Ok(Err(format!(
                        "needs {}, {} and {} (or {}); missing: {}",
                        env::TENANT_ID,
                        env::CLIENT_ID,
                        env::CLIENT_SECRET,
                        env::CLIENT_CERTIFICATE_PATH,
                        missing.join(", ")
                    )));
                }
                let tenant = tenant.unwrap_or_default();
                let client_id = client_id.unwrap_or_default();
                let provider = ClientCredentials::with_client_auth(
                    self.authority.clone(),
                    tenant.clone(),
                    client_id.clone(),
                    self.client_auth()?,
                )?;
                let details = vec![
                    ("tenant", tenant),
                    ("client id", client_id),
                    (
                        "note",
                        "app-only tokens: the Referrals API accepts only App+User tokens".into(),
                    ),
                ];
                Ok(Ok((Arc::new(provider), details)))
            }
            Source::AzureCli => {
                let Some(program) = find_on_path(get("PATH").as_deref(), "az") else {
                    return Ok(Err("`az` is not on PATH".into()));
                };
                let mut provider = AzureCli::new().program(&program);
                let mut details = vec![("program", program.display().to_string())];
                if let Some(tenant) = tenant {
                    provider = provider.tenant(tenant.clone());
                    details.push(("tenant", tenant));
                }
                Ok(Ok((Arc::new(provider), details)))
            }
        }
    }

    /// A secret, else a certificate, else a public client.
    fn client_auth(&self) -> Result<ClientAuth, AuthError> {
        if let Some(secret) = (self.get)(env::CLIENT_SECRET) {
            return Ok(ClientAuth::Secret(Secret::new(secret)));
        }
        if let Some(path) = (self.get)(env::CLIENT_CERTIFICATE_PATH) {
            let certificate = ClientCertificate::from_file(Path::new(&path)).map_err(|e| {
                AuthError::NotConfigured(format!("{}: {e}", env::CLIENT_CERTIFICATE_PATH))
            })?;
            return Ok(ClientAuth::Certificate(Arc::new(certificate)));
        }
        Ok(ClientAuth::Public)
    }
}

/// Who signed in and until when, from a cache entry.
fn entry_details(entry: &CacheEntry) -> Vec<(&'static str, String)> {
    let mut details = vec![(
        "account",
        entry.account.clone().unwrap_or_else(|| "(unknown)".into()),
    )];
    if let Some(expiry) = entry.latest_expiry() {
        details.push(("access token expires", describe_expiry(expiry)));
    }
    details
}

fn describe_expiry(at: SystemTime) -> String {
    let now = SystemTime::now();
    match at.duration_since(now) {
        Ok(left) => format!("in {} min", left.as_secs() / 60),
        Err(past) => format!(
            "{} min ago (a refresh gets a new one)",
            past.duration().as_secs() / 60
        ),
    }
}

/// The first `program` in the `PATH` list (with Windows' extensions there).
fn find_on_path(path: Option<&str>, program: &str) -> Option<PathBuf> {
    let names: Vec<String> = if cfg!(windows) {
        vec![format!("{program}.cmd"), format!("{program}.exe")]
    } else {
        vec![program.to_owned()]
    };
    std::env::split_paths(path?)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|candidate| candidate.is_file())
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

    const NO_CACHE: (&str, &str) = (env::TOKEN_CACHE, "/nonexistent/referrals-test/tokens.json");

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
            NO_CACHE,
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
    fn every_source_tried_is_listed_in_order() {
        let error = from_lookup(lookup(&[NO_CACHE])).unwrap_err();
        let AuthError::NoCredential { tried } = &error else {
            panic!("{error:?}")
        };
        let names: Vec<&str> = tried.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "PARTNER_CENTER_TOKEN",
                "PARTNER_CENTER_REFRESH_TOKEN",
                "the token cache (referrals login)",
                "client credentials",
                "the Azure CLI"
            ]
        );
        let text = error.to_string();
        assert!(text.contains("run `referrals login`"), "{text}");
        assert!(text.contains("`az` is not on PATH"), "{text}");
    }

    #[test]
    fn a_refresh_token_comes_before_client_credentials_and_auth_forces_a_source() {
        let vars: &'static [(&str, &str)] = &[
            (env::REFRESH_TOKEN, "rt-SECRET"),
            (env::TENANT_ID, "contoso"),
            (env::CLIENT_ID, "app"),
            (env::CLIENT_SECRET, "s3cret"),
            NO_CACHE,
        ];
        let chain = from_lookup_forced(&lookup(vars), None).unwrap();
        assert_eq!(chain.source(), Source::RefreshToken);
        assert!(!chain.provider().is_app_only());
        assert!(!format!("{chain:?}").contains("SECRET"));
        let forced = from_lookup_forced(&lookup(vars), Some(Source::ClientCredentials)).unwrap();
        assert_eq!(forced.source(), Source::ClientCredentials);
        assert!(forced.provider().is_app_only());
        let error = from_lookup_forced(&lookup(vars), Some(Source::Token)).unwrap_err();
        assert!(error.to_string().contains("--auth token"), "{error}");
        assert!(Source::parse("Azure-CLI").is_ok());
        assert!(
            Source::parse("password")
                .unwrap_err()
                .to_string()
                .contains("refresh-token")
        );
        let refresh_without_client = from_lookup_forced(
            &lookup(&[(env::REFRESH_TOKEN, "rt"), NO_CACHE]),
            Some(Source::RefreshToken),
        )
        .unwrap_err();
        assert!(
            refresh_without_client
                .to_string()
                .contains("AZURE_CLIENT_ID")
        );
    }
}

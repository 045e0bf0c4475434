//! One credential chain: which source the environment configures, in a fixed order, and an
//! error that lists each source tried and why it was not used.
//!
//! Order ([`CredentialSource::ALL`]): `PARTNER_CENTER_TOKEN`; `PARTNER_CENTER_REFRESH_TOKEN`;
//! the token cache (`referrals login`); client credentials (a secret or a certificate;
//! app-only); the Azure CLI. `REFERRALS_AUTH` (or the CLI's `--auth`) forces one.

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
use super::error::{Attempt, AttemptFailure, AuthError, ConfigProblem, Unconfigured};
use super::refresh::RefreshToken;
use super::source::CredentialSource;
use super::{DEFAULT_TENANT, StaticToken, TokenProvider, env};
use crate::Secret;

/// The credential the chain chose, what it passed over and why, and what to show about it.
#[derive(Clone)]
pub struct Chain {
    source: CredentialSource,
    provider: Arc<dyn TokenProvider>,
    passed_over: Vec<(CredentialSource, Unconfigured)>,
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
    pub fn source(&self) -> CredentialSource {
        self.source
    }

    /// The chosen provider.
    pub fn provider(&self) -> &Arc<dyn TokenProvider> {
        &self.provider
    }

    /// The sources before it that were not configured, and why.
    pub fn passed_over(&self) -> &[(CredentialSource, Unconfigured)] {
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
        if self.source == CredentialSource::AzureCli && !self.passed_over.is_empty() {
            Arc::new(self)
        } else {
            self.provider
        }
    }

    fn explain(&self, error: AuthError) -> AuthError {
        if self.source != CredentialSource::AzureCli || self.passed_over.is_empty() {
            return error;
        }
        let mut tried: Vec<Attempt> = self
            .passed_over
            .iter()
            .map(|(source, why)| Attempt::new(*source, AttemptFailure::NotConfigured(why.clone())))
            .collect();
        tried.push(Attempt::new(
            self.source,
            AttemptFailure::Failed(Box::new(error)),
        ));
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

    fn can_refresh(&self) -> bool {
        self.provider.can_refresh()
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
    let forced =
        match lookup(env::AUTH).filter(|v| !v.trim().is_empty()) {
            Some(name) => Some(name.parse::<CredentialSource>().map_err(|e| {
                ConfigProblem::in_variable(env::AUTH, ConfigProblem::UnknownSource(e))
            })?),
            None => None,
        };
    from_lookup_forced(&lookup, forced).map(Chain::into_provider)
}

/// The sign-in authority: `AZURE_AUTHORITY_HOST` from `lookup`, else
/// [`DEFAULT_AUTHORITY`](super::DEFAULT_AUTHORITY).
pub fn authority_from_lookup(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<AuthorityUrl, AuthError> {
    match lookup(env::AUTHORITY_HOST).filter(|v| !v.trim().is_empty()) {
        Some(url) => AuthorityUrl::parse(&url).map_err(|e| {
            ConfigProblem::in_variable(env::AUTHORITY_HOST, ConfigProblem::Authority(e)).into()
        }),
        None => Ok(AuthorityUrl::default()),
    }
}

/// The chain's decision with `forced` (if any) in place of `REFERRALS_AUTH`.
///
/// A forced source that is not configured is [`ConfigProblem::Chosen`]; when no source is,
/// [`AuthError::NoCredential`] lists each one and why.
pub fn from_lookup_forced(
    lookup: &dyn Fn(&str) -> Option<String>,
    forced: Option<CredentialSource>,
) -> Result<Chain, AuthError> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let facts = Facts {
        get: &get,
        authority: authority_from_lookup(&get)?,
    };
    let mut passed_over = Vec::new();
    let candidates: &[CredentialSource] = match &forced {
        Some(source) => std::slice::from_ref(source),
        None => CredentialSource::ALL,
    };
    for &source in candidates {
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
                return Err(ConfigProblem::Chosen {
                    credential: source,
                    reason,
                }
                .into());
            }
            Err(reason) => passed_over.push((source, reason)),
        }
    }
    Err(AuthError::NoCredential {
        tried: passed_over
            .into_iter()
            .map(|(source, why)| Attempt::new(source, AttemptFailure::NotConfigured(why)))
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
    fn try_source(
        &self,
        source: CredentialSource,
    ) -> Result<Result<Found, Unconfigured>, AuthError> {
        let get = self.get;
        let tenant = get(env::TENANT_ID);
        let client_id = get(env::CLIENT_ID);
        match source {
            CredentialSource::Token => Ok(match get(env::TOKEN) {
                Some(token) => Ok((Arc::new(StaticToken::new(token)), Vec::new())),
                None => Err(Unconfigured::NotSet {
                    variable: env::TOKEN,
                }),
            }),
            CredentialSource::RefreshToken => {
                let Some(token) = get(env::REFRESH_TOKEN) else {
                    return Ok(Err(Unconfigured::NotSet {
                        variable: env::REFRESH_TOKEN,
                    }));
                };
                let Some(client_id) = client_id else {
                    return Ok(Err(Unconfigured::NeedsAlso {
                        variable: env::REFRESH_TOKEN,
                        needs: env::CLIENT_ID,
                    }));
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
            CredentialSource::Login => {
                let Some(path) = default_cache_path(get) else {
                    return Ok(Err(Unconfigured::NoCacheDirectory));
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
                        return Ok(Err(Unconfigured::NoSignIn {
                            authority: self.authority.to_string(),
                            cache: path,
                        }));
                    }
                    [entry] => (*entry).clone(),
                    several => {
                        return Ok(Err(Unconfigured::SeveralSignIns {
                            count: several.len(),
                            cache: path,
                        }));
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
            CredentialSource::ClientCredentials => {
                let missing: Vec<&'static str> = [
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
                    return Ok(Err(Unconfigured::Missing { missing }));
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
            CredentialSource::AzureCli => {
                const AZ: &str = "az";
                let Some(program) = find_on_path(get("PATH").as_deref(), AZ) else {
                    return Ok(Err(Unconfigured::NotOnPath { program: AZ }));
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
            let certificate =
                ClientCertificate::from_file(Path::new(&path)).map_err(|e| match e {
                    AuthError::NotConfigured(problem) => {
                        ConfigProblem::in_variable(env::CLIENT_CERTIFICATE_PATH, problem).into()
                    }
                    other => other,
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
    fn the_password_of_an_authority_url_is_not_shown() {
        let error = from_lookup(lookup(&[(
            env::AUTHORITY_HOST,
            "https://ada:hunter2-password@login.example/x",
        )]))
        .unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("https://ada:[redacted]@login.example/x") && text.contains("user info"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
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
        let names: Vec<&str> = tried.iter().map(|a| a.credential.label()).collect();
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
        let sources: Vec<CredentialSource> = tried.iter().map(|a| a.credential).collect();
        assert_eq!(sources, CredentialSource::ALL);
        assert!(
            matches!(
                &tried[0].outcome,
                AttemptFailure::NotConfigured(Unconfigured::NotSet {
                    variable: env::TOKEN
                })
            ),
            "{error:?}"
        );
        assert!(
            matches!(
                &tried[2].outcome,
                AttemptFailure::NotConfigured(Unconfigured::NoSignIn { cache, .. })
                    if cache.ends_with("tokens.json")
            ),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains(
                "\n  - the token cache (referrals login): no sign-in for \
                 https://login.microsoftonline.com in /nonexistent/referrals-test/tokens.json\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("run `referrals login`"),
            "no CLI advice: {text}"
        );
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
        assert_eq!(chain.source(), CredentialSource::RefreshToken);
        assert!(!chain.provider().is_app_only());
        assert!(!format!("{chain:?}").contains("SECRET"));
        let forced =
            from_lookup_forced(&lookup(vars), Some(CredentialSource::ClientCredentials)).unwrap();
        assert_eq!(forced.source(), CredentialSource::ClientCredentials);
        assert!(forced.provider().is_app_only());
        let error = from_lookup_forced(&lookup(vars), Some(CredentialSource::Token)).unwrap_err();
        assert!(
            matches!(
                &error,
                AuthError::NotConfigured(ConfigProblem::Chosen {
                    credential: CredentialSource::Token,
                    reason: Unconfigured::NotSet { .. },
                })
            ),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "authentication is not configured: credential source `token` \
             (PARTNER_CENTER_TOKEN): not set"
        );
        let unknown = from_lookup(lookup(&[(env::AUTH, "password")])).unwrap_err();
        assert!(
            unknown.to_string().contains("REFERRALS_AUTH: `password`")
                && unknown.to_string().contains("refresh-token"),
            "{unknown}"
        );
        let refresh_without_client = from_lookup_forced(
            &lookup(&[(env::REFRESH_TOKEN, "rt"), NO_CACHE]),
            Some(CredentialSource::RefreshToken),
        )
        .unwrap_err();
        assert!(
            refresh_without_client
                .to_string()
                .contains("AZURE_CLIENT_ID")
        );
    }
}

//! `referrals login`, `referrals logout` and `referrals auth status`, and the credential chain
//! the other commands sign in with.

use std::time::SystemTime;

use referrals::auth::{
    self, CacheEntry, CacheKey, DeviceCodeLogin, PARTNER_CENTER_SCOPE, SignInProblem, TokenCache,
    env,
};
use referrals::query::AuthorityUrl;
use referrals::{Client, ListQuery};
use referrals_simulator::{Simulator, SimulatorHandle};

use crate::connect::transport;
use crate::failure::Failure;
use crate::plural::count;
use crate::settings::{Settings, env_lookup as lookup};

fn auth_failure(error: auth::AuthError) -> Failure {
    Failure::Client(referrals::Error::from(error))
}

fn authority() -> Result<AuthorityUrl, Failure> {
    auth::authority_from_lookup(&lookup).map_err(auth_failure)
}

fn cache() -> Result<TokenCache, Failure> {
    auth::default_cache_path(&lookup)
        .map(TokenCache::new)
        .ok_or_else(|| {
            Failure::Config(format!(
                "there is no config directory for the token cache: set {}",
                env::TOKEN_CACHE
            ))
        })
}

/// Where a sign-in goes: a real authority, or the embedded simulator under `--demo`.
struct Target {
    authority: AuthorityUrl,
    tenant: String,
    client_id: String,
    cache: Option<TokenCache>,
    demo: Option<SimulatorHandle>,
}

async fn target(settings: &Settings) -> Result<Target, Failure> {
    if settings.demo {
        let simulator = Simulator::builder()
            .referrals(crate::connect::DEMO_REFERRALS)
            .seed(crate::connect::DEMO_SEED)
            .start()
            .await
            .map_err(|e| Failure::Local(format!("cannot start the demo simulator: {e}")))?;
        say!(
            "demo: signing in to an embedded simulator at {} (it approves the code by itself)",
            simulator.base_url()
        );
        let authority = AuthorityUrl::parse(&simulator.authority_url())
            .map_err(|e| Failure::Local(format!("the demo authority: {e}")))?;
        // The demo's sign-in is kept only where asked: its simulator is gone after this run.
        let cache = lookup(env::TOKEN_CACHE).map(TokenCache::new);
        return Ok(Target {
            authority,
            tenant: simulator.tenant().to_owned(),
            client_id: simulator.client_id().to_owned(),
            cache,
            demo: Some(simulator),
        });
    }
    let client_id = settings.client_id.value.clone().ok_or_else(|| {
        Failure::Config(format!(
            "sign-in needs the application (client) id of your Entra app registration: pass \
                 --client-id or set {} (see 'Sign in' in the README)",
            env::CLIENT_ID
        ))
    })?;
    Ok(Target {
        authority: authority()?,
        tenant: settings
            .tenant
            .value
            .clone()
            .unwrap_or_else(|| auth::DEFAULT_TENANT.into()),
        client_id,
        cache: Some(cache()?),
        demo: None,
    })
}

/// `referrals login`: device code sign-in, tokens stored in the cache.
pub async fn login(settings: &Settings) -> Result<(), Failure> {
    let target = target(settings).await?;
    let transport = transport(settings)?;
    let login = DeviceCodeLogin::new(
        target.authority.clone(),
        target.tenant.clone(),
        target.client_id.clone(),
    )
    .map_err(auth_failure)?;
    let authorization = login.start(&transport).await.map_err(auth_failure)?;
    say!("{}", authorization.instructions());
    let answer = login
        .finish(&transport, &authorization)
        .await
        .map_err(auth_failure)?;
    let who = answer
        .id
        .username
        .clone()
        .unwrap_or_else(|| "(the authority did not say who)".into());
    let Some(refresh_token) = answer.refresh_token.clone() else {
        return Err(auth_failure(auth::AuthError::sign_in(
            SignInProblem::NoRefreshToken,
            "no_refresh_token",
            None,
        )));
    };
    let key = CacheKey {
        authority: target.authority.as_str().to_owned(),
        tenant: target.tenant.clone(),
        client_id: target.client_id.clone(),
    };
    let where_kept = match &target.cache {
        Some(cache) => {
            let mut entry = match cache.load().map_err(auth_failure)?.get(&key) {
                Some(existing) => existing.clone(),
                None => CacheEntry::new(key.clone(), refresh_token.clone()),
            };
            entry.rotate(refresh_token);
            entry.access_tokens.clear();
            entry.record(&answer, PARTNER_CENTER_SCOPE, SystemTime::now());
            cache.put(entry).await.map_err(auth_failure)?;
            format!("tokens stored in {}", cache.path().display())
        }
        None => format!(
            "tokens not stored (set {} to keep the demo's)",
            env::TOKEN_CACHE
        ),
    };
    say!(
        "Signed in as {who} (tenant {}, client {}); {where_kept}",
        target.tenant,
        target.client_id
    );
    if let Some(simulator) = &target.demo {
        let client = Client::builder()
            .base_url(simulator.base_url())
            .bearer_token(answer.access_token)
            .build()?;
        let query = ListQuery::new()
            .page_size(1)
            .map_err(referrals::Error::from)?;
        let mut pages = client.list(query).pages();
        let page = futures::StreamExt::next(&mut pages).await.transpose()?;
        say!(
            "demo: the signed-in token works: the API listed {} on a first page of one",
            count(page.map_or(0, |p| p.items.len()), "referral")
        );
    }
    Ok(())
}

/// `referrals logout`: removes the stored sign-in.
pub async fn logout(settings: &Settings) -> Result<(), Failure> {
    let cache = cache()?;
    let authority = authority()?;
    let tenant = settings.tenant.value.clone();
    let client_id = settings.client_id.value.clone();
    let contents = cache.load().map_err(auth_failure)?;
    let keys: Vec<CacheKey> = contents
        .matching(authority.as_str(), tenant.as_deref(), client_id.as_deref())
        .into_iter()
        .map(|e| e.key.clone())
        .collect();
    match keys.as_slice() {
        [] => {
            say!(
                "No sign-in stored for {authority} in {}; nothing to do",
                cache.path().display()
            );
            Ok(())
        }
        [key] => {
            cache.remove(key).await.map_err(auth_failure)?;
            say!(
                "Signed out: removed client {} in tenant {} from {}",
                key.client_id,
                key.tenant,
                cache.path().display()
            );
            Ok(())
        }
        several => Err(Failure::Usage(format!(
            "{} sign-ins match; choose one with --tenant and --client-id: {}",
            several.len(),
            several
                .iter()
                .map(|k| format!("{} / {}", k.tenant, k.client_id))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `referrals auth status`.
pub async fn status(settings: &Settings) -> Result<(), Failure> {
    if settings.demo {
        println!("source: demo (the embedded simulator's static token)");
        return Ok(());
    }
    if settings.token.is_some() {
        println!("source: token (--token)");
        return Ok(());
    }
    let chain = settings.credentials().map_err(auth_failure)?;
    println!("source: {} ({})", chain.source(), chain.source().label());
    for (name, value) in chain.details() {
        println!("{name}: {value}");
    }
    for (source, why) in chain.passed_over() {
        println!("passed over: {} ({}): {why}", source, source.label());
    }
    let transport = transport(settings)?;
    chain
        .into_provider()
        .token(&transport)
        .await
        .map_err(auth_failure)?;
    println!("usable: yes (a token was obtained)");
    Ok(())
}

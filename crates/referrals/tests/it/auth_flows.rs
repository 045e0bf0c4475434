//! Every sign-in flow against the simulator: device code (pending, slow_down, expiry, decline),
//! refresh-token rotation through the cache, a stale environment token, tokens for a second
//! audience, certificate assertions, and the app-only refusal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use referrals::auth::{
    self, AuthError, AzureCliProblem, CacheEntry, CacheKey, ClientAuth, ClientCertificate,
    ClientCredentials, CredentialSource, DeviceCodeLogin, PARTNER_CENTER_API_SCOPE,
    PARTNER_CENTER_SCOPE, Pause, RefreshToken, SignInProblem, TokenCache, TokenProvider,
};
use referrals::query::AuthorityUrl;
use referrals::transport::HyperTransport;
use referrals::{Client, ErrorKind, ListQuery};
use referrals_simulator::{
    DeviceStep, Simulator, SimulatorHandle, TEST_CLIENT_CERTIFICATE_PEM,
    UNREGISTERED_CLIENT_CERTIFICATE_PEM,
};

fn transport() -> HyperTransport {
    HyperTransport::builder()
        .no_proxy()
        .build()
        .expect("builds")
}

fn authority(sim: &SimulatorHandle) -> AuthorityUrl {
    AuthorityUrl::parse(&sim.authority_url()).expect("loopback")
}

/// A pause that records what it was asked to wait and returns at once.
fn recording_pause() -> (Pause, Arc<Mutex<Vec<Duration>>>) {
    let waits = Arc::new(Mutex::new(Vec::new()));
    let record = waits.clone();
    let pause: Pause = Arc::new(move |d| {
        record.lock().unwrap().push(d);
        Box::pin(async {})
    });
    (pause, waits)
}

fn temp_cache(name: &str) -> (TokenCache, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "referrals-auth-{name}-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    (TokenCache::new(dir.join("tokens.json")), dir)
}

fn key(sim: &SimulatorHandle) -> CacheKey {
    CacheKey {
        authority: authority(sim).as_str().to_owned(),
        tenant: sim.tenant().to_owned(),
        client_id: sim.client_id().to_owned(),
    }
}

async fn sign_in(sim: &SimulatorHandle) -> (Result<auth::TokenAnswer, AuthError>, Vec<Duration>) {
    let (pause, waits) = recording_pause();
    let login = DeviceCodeLogin::new(authority(sim), sim.tenant(), sim.client_id())
        .unwrap()
        .pause(pause);
    let transport = transport();
    let authorization = login.start(&transport).await.expect("a device code");
    assert!(
        authorization
            .instructions()
            .contains(&authorization.user_code),
        "the message names the code"
    );
    let result = login.finish(&transport, &authorization).await;
    let waits = waits.lock().unwrap().clone();
    (result, waits)
}

#[tokio::test]
async fn device_code_polls_through_pending_and_slow_down_at_the_servers_interval() {
    let steps = [
        DeviceStep::Pending,
        DeviceStep::SlowDown,
        DeviceStep::Pending,
        DeviceStep::Approve,
    ];
    let sim = Simulator::builder()
        .device_code_interval(Duration::from_secs(2))
        .device_code_script(steps)
        .username("ada@contoso.example")
        .start()
        .await
        .unwrap();
    let (result, waits) = sign_in(&sim).await;
    let answer = result.expect("signed in");
    // The first wait is the server's interval; slow_down adds five seconds for good.
    let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [2, 2, 7, 7]);
    assert_eq!(sim.device_code_polls(), 4);
    assert_eq!(answer.id.username.as_deref(), Some("ada@contoso.example"));
    assert!(
        answer.refresh_token.is_some(),
        "offline_access gives a refresh token"
    );

    // The token is an App+User token the API accepts.
    let client = Client::builder()
        .base_url(sim.base_url())
        .bearer_token(answer.access_token)
        .build()
        .unwrap();
    list_all(&client).await;
}

#[tokio::test]
async fn device_code_polls_that_get_no_oauth_answer_wait_longer_and_go_on() {
    let steps = [
        DeviceStep::Unavailable,
        DeviceStep::Unavailable,
        DeviceStep::Pending,
        DeviceStep::Approve,
    ];
    let sim = Simulator::builder()
        .device_code_interval(Duration::from_secs(2))
        .device_code_script(steps)
        .start()
        .await
        .unwrap();
    let (result, waits) = sign_in(&sim).await;
    result.expect("signed in after the authority came back");
    // Twice the wait after each 503 page, the server's interval again after a real answer.
    let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [2, 4, 8, 2]);
    assert_eq!(sim.device_code_polls(), 4);

    // An authority that never answers stops the sign-in after five polls, naming what it got.
    let sim = Simulator::builder()
        .device_code_interval(Duration::from_secs(1))
        .device_code_script([DeviceStep::Unavailable])
        .start()
        .await
        .unwrap();
    let (result, waits) = sign_in(&sim).await;
    let error = result.expect_err("no sign-in without an answer");
    let text = error.to_string();
    assert!(
        text.contains("HTTP 503") && text.contains("5 polls in a row"),
        "{text}"
    );
    assert_eq!(sim.device_code_polls(), 5);
    let secs: Vec<u64> = waits.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16]);
}

/// Lists everything; every page must be accepted.
async fn list_all(client: &Client) {
    use futures::StreamExt;
    let mut pages = client.list(ListQuery::new()).pages();
    while let Some(page) = pages.next().await {
        page.expect("the API accepts the token");
    }
}

#[tokio::test]
async fn device_code_expiry_and_decline_stop_with_the_oauth_error() {
    for (steps, code, says, kind) in [
        (
            vec![DeviceStep::Pending, DeviceStep::Expire],
            "expired_token",
            "expired",
            SignInProblem::Expired,
        ),
        (
            vec![DeviceStep::Decline],
            "authorization_declined",
            "declined",
            SignInProblem::Declined,
        ),
    ] {
        let sim = Simulator::builder()
            .device_code_interval(Duration::ZERO)
            .device_code_script(steps.clone())
            .start()
            .await
            .unwrap();
        let (result, _) = sign_in(&sim).await;
        let error = result.expect_err("stops");
        let AuthError::SignIn {
            code: got, problem, ..
        } = &error
        else {
            panic!("{error:?}")
        };
        assert_eq!(got, code);
        assert_eq!(*problem, kind);
        let message = error.to_string();
        assert!(message.contains(says), "{message}");
        assert_eq!(
            sim.device_code_polls(),
            steps.len() as u64,
            "no poll after the stop"
        );
    }

    // A code that outlives its expiry on the client's side stops without the server saying so.
    let sim = Simulator::builder()
        .device_code_interval(Duration::from_secs(5))
        .device_code_expires_in(Duration::from_secs(12))
        .device_code_script([DeviceStep::Pending])
        .start()
        .await
        .unwrap();
    let (result, waits) = sign_in(&sim).await;
    assert!(matches!(
        result,
        Err(AuthError::SignIn { ref code, problem: SignInProblem::Expired, .. }) if code == "expired_token"
    ));
    assert_eq!(waits.len(), 2, "two waits of 5 s fit in 12 s");
}

#[tokio::test]
async fn rotation_is_persisted_and_a_used_refresh_token_is_never_sent_again() {
    let sim = Simulator::builder().referrals(5).start().await.unwrap();
    let (cache, dir) = temp_cache("rotation");
    let first = sim.issue_refresh_token();
    let provider = RefreshToken::new(
        authority(&sim),
        sim.tenant(),
        sim.client_id(),
        ClientAuth::Public,
    )
    .unwrap()
    .with_refresh_token(first.clone())
    .with_cache(cache.clone());
    let transport = transport();

    let token = provider.token(&transport).await.expect("exchanged");
    let stored = cache.load().unwrap();
    let entry = stored.get(&key(&sim)).expect("an entry");
    assert_eq!(
        Some(entry.refresh_token.expose().to_owned()),
        sim.latest_refresh_token()
    );
    assert_ne!(entry.refresh_token.expose(), first, "rotated");
    assert_eq!(entry.account.as_deref(), Some(sim.username()));

    // The API revokes the access token: the next exchange spends the successor, not `first`.
    sim.revoke_issued_tokens();
    provider.invalidate(&token);
    let again = provider.token(&transport).await.expect("refreshed");
    assert_ne!(again, token);
    assert_eq!(sim.refresh_grants(), 2);
    assert_eq!(
        sim.refresh_token_reuses(),
        0,
        "no used refresh token was ever presented"
    );
    let entry = cache.load().unwrap().get(&key(&sim)).cloned().unwrap();
    assert_eq!(
        Some(entry.refresh_token.expose().to_owned()),
        sim.latest_refresh_token()
    );

    // Many tasks at once: one exchange.
    sim.revoke_issued_tokens();
    provider.invalidate(&again);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.token(&transport_owned()).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("a token");
    }
    assert_eq!(sim.refresh_grants(), 3);

    // A second "run" with the same stale environment token uses the cache's successor.
    sim.revoke_issued_tokens();
    let next_run = RefreshToken::new(
        authority(&sim),
        sim.tenant(),
        sim.client_id(),
        ClientAuth::Public,
    )
    .unwrap()
    .with_refresh_token(first)
    .with_cache(cache.clone());
    let client = Client::builder()
        .base_url(sim.base_url())
        .token_provider(next_run)
        .build()
        .unwrap();
    list_all(&client).await;
    assert_eq!(
        sim.refresh_token_reuses(),
        0,
        "the stale token was not spent again"
    );
    assert_eq!(sim.refresh_grants(), 4);
    let _ = std::fs::remove_dir_all(dir);
}

fn transport_owned() -> HyperTransport {
    transport()
}

#[tokio::test]
async fn without_a_cache_the_rotated_token_is_kept_in_memory_and_a_reused_one_is_explained() {
    let sim = Simulator::builder().start().await.unwrap();
    let refresh = sim.issue_refresh_token();
    let provider = RefreshToken::new(
        authority(&sim),
        sim.tenant(),
        sim.client_id(),
        ClientAuth::Public,
    )
    .unwrap()
    .with_refresh_token(refresh.clone());
    let transport = transport();
    let token = provider.token(&transport).await.unwrap();
    provider.invalidate(&token);
    provider
        .token(&transport)
        .await
        .expect("the successor, held in memory");
    assert_eq!(sim.refresh_token_reuses(), 0);

    let stale = RefreshToken::new(
        authority(&sim),
        sim.tenant(),
        sim.client_id(),
        ClientAuth::Public,
    )
    .unwrap()
    .with_refresh_token(refresh);
    let error = stale.token(&transport).await.expect_err("already used");
    let text = error.to_string();
    assert!(
        text.contains("invalid_grant") && text.contains("the refresh token was refused"),
        "{text}"
    );
    // The advice (sign in again) is the CLI's, chosen by this kind.
    assert!(
        matches!(
            &error,
            AuthError::SignIn { code, problem: SignInProblem::RefreshTokenRefused, .. }
                if code == "invalid_grant"
        ),
        "{error:?}"
    );
    assert_eq!(sim.refresh_token_reuses(), 1);
}

#[tokio::test]
async fn one_refresh_token_gives_tokens_for_both_partner_center_audiences() {
    let sim = Simulator::builder().referrals(1).start().await.unwrap();
    let (cache, dir) = temp_cache("audiences");
    let provider: Arc<dyn TokenProvider> = Arc::new(
        RefreshToken::new(
            authority(&sim),
            sim.tenant(),
            sim.client_id(),
            ClientAuth::Public,
        )
        .unwrap()
        .with_refresh_token(sim.issue_refresh_token())
        .with_cache(cache.clone()),
    );
    let transport = transport();
    let referrals = provider.token(&transport).await.unwrap();
    let partner_center = provider
        .token_for(PARTNER_CENTER_API_SCOPE, &transport)
        .await
        .unwrap();
    assert_ne!(referrals, partner_center);
    let client = Client::builder()
        .base_url(sim.base_url())
        .token_provider(provider.clone())
        .build()
        .unwrap();
    let through_client = client
        .token_provider()
        .token_for(PARTNER_CENTER_API_SCOPE, &**client.transport())
        .await
        .unwrap();
    assert_eq!(
        through_client, partner_center,
        "the client shares the credential"
    );
    let scoped = auth::with_scope(provider.clone(), PARTNER_CENTER_API_SCOPE);
    assert_eq!(
        scoped.token(&transport).await.unwrap(),
        partner_center,
        "cached per scope"
    );
    let entry = cache.load().unwrap().get(&key(&sim)).cloned().unwrap();
    let scopes: Vec<&str> = entry.access_tokens.keys().map(String::as_str).collect();
    assert_eq!(scopes, [PARTNER_CENTER_SCOPE, PARTNER_CENTER_API_SCOPE]);
    assert_eq!(sim.refresh_token_reuses(), 0);

    // The Referrals API accepts only its own audience.
    let wrong_audience = Client::builder()
        .base_url(sim.base_url())
        .bearer_token(partner_center)
        .build()
        .unwrap();
    let error = wrong_audience.get("x").await.expect_err("wrong audience");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_certificate_assertion_is_accepted_and_an_unregistered_one_refused() {
    let sim = Simulator::builder()
        .referrals(2)
        .allow_app_only_tokens(true)
        .start()
        .await
        .unwrap();
    let certificate =
        ClientCertificate::from_pem(TEST_CLIENT_CERTIFICATE_PEM.as_bytes(), "test").unwrap();
    let credentials = ClientCredentials::with_certificate(
        authority(&sim),
        sim.tenant(),
        sim.client_id(),
        certificate.clone(),
    )
    .unwrap();
    let client = Client::builder()
        .base_url(sim.base_url())
        .token_provider(credentials)
        .build()
        .unwrap();
    list_all(&client).await;
    assert_eq!(sim.assertions_refused(), 0);

    // The refresh-token grant of a confidential client signs an assertion too.
    let refresh = RefreshToken::new(
        authority(&sim),
        sim.tenant(),
        sim.client_id(),
        ClientAuth::Certificate(Arc::new(certificate)),
    )
    .unwrap()
    .with_refresh_token(sim.issue_refresh_token());
    refresh
        .token(&transport())
        .await
        .expect("assertion accepted");
    assert_eq!(sim.assertions_refused(), 0);

    let unregistered =
        ClientCertificate::from_pem(UNREGISTERED_CLIENT_CERTIFICATE_PEM.as_bytes(), "other")
            .unwrap();
    let refused = ClientCredentials::with_certificate(
        authority(&sim),
        sim.tenant(),
        sim.client_id(),
        unregistered,
    )
    .unwrap()
    .token(&transport())
    .await
    .expect_err("not the registered certificate");
    let AuthError::Refused { status, code, .. } = &refused else {
        panic!("{refused:?}")
    };
    assert_eq!((*status, code.as_str()), (401, "invalid_client"));
    assert_eq!(sim.assertions_refused(), 1);
}

#[tokio::test]
async fn app_only_tokens_are_refused_with_a_hint_at_app_plus_user() {
    let sim = Simulator::builder().referrals(3).start().await.unwrap();
    let credentials = ClientCredentials::with_authority(
        authority(&sim),
        sim.tenant(),
        sim.client_id(),
        sim.client_secret(),
    )
    .unwrap();
    let client = Client::builder()
        .base_url(sim.base_url())
        .token_provider(credentials)
        .build()
        .unwrap();
    let error = client.get("x").await.expect_err("app-only");
    assert!(error.is_app_only_refusal());
    assert_eq!(error.status().map(|s| s.as_u16()), Some(403));
    let text = error.to_string();
    for says in ["App+User", "app-only"] {
        assert!(text.contains(says), "{text}");
    }
    // Facts only: how to sign in is the application's to say.
    for advice in ["referrals login", "PARTNER_CENTER_REFRESH_TOKEN"] {
        assert!(!text.contains(advice), "{text}");
    }
    // The same through a listing.
    let mut pages = client.list(ListQuery::new()).pages();
    let error = futures::StreamExt::next(&mut pages)
        .await
        .unwrap()
        .expect_err("app-only");
    assert!(error.is_app_only_refusal(), "{error}");
    assert!(matches!(error.kind(), ErrorKind::Api { .. }));

    // A user token is not marked, even when refused.
    let user = Client::builder()
        .base_url(sim.base_url())
        .bearer_token("not-a-token")
        .build()
        .unwrap();
    let error = user.get("x").await.expect_err("401");
    assert!(!error.is_app_only_refusal());
}

#[tokio::test]
async fn a_stored_sign_in_is_found_by_the_chain() {
    let sim = Simulator::builder().referrals(2).start().await.unwrap();
    let (cache, dir) = temp_cache("chain");
    let mut entry = CacheEntry::new(key(&sim), referrals::Secret::new(sim.issue_refresh_token()));
    entry.account = Some("someone@example".into());
    cache.put(entry).await.unwrap();
    let path = cache.path().display().to_string();
    let authority_url = sim.authority_url();
    let lookup = move |name: &str| match name {
        "REFERRALS_TOKEN_CACHE" => Some(path.clone()),
        "AZURE_AUTHORITY_HOST" => Some(authority_url.clone()),
        _ => None,
    };
    let chain = auth::from_lookup_forced(&lookup, None).unwrap();
    assert_eq!(chain.source(), CredentialSource::Login);
    assert!(
        chain
            .details()
            .iter()
            .any(|(k, v)| *k == "account" && v == "someone@example")
    );
    let client = Client::builder()
        .base_url(sim.base_url())
        .token_provider(chain.into_provider())
        .build()
        .unwrap();
    list_all(&client).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[cfg(unix)]
#[tokio::test]
async fn an_azure_cli_that_hangs_is_stopped_by_the_timeout() {
    use std::os::unix::fs::PermissionsExt;
    let (_, dir) = temp_cache("az-hangs");
    std::fs::create_dir_all(&dir).unwrap();
    let az = dir.join("az");
    std::fs::write(&az, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let provider = auth::AzureCli::new()
        .program(&az)
        .timeout(Duration::from_millis(300));
    let error = provider.token(&transport()).await.expect_err("no answer");
    assert!(
        matches!(
            &error,
            AuthError::AzureCli(AzureCliProblem::TimedOut { after })
                if *after == Duration::from_millis(300)
        ),
        "{error}"
    );
    assert!(error.to_string().contains("did not answer"), "{error}");
    let missing = auth::AzureCli::new().program(dir.join("nope"));
    let error = missing
        .token(&transport())
        .await
        .expect_err("not installed");
    assert!(error.to_string().contains("was not found"), "{error}");
    assert!(
        matches!(error, AuthError::AzureCli(AzureCliProblem::NotFound)),
        "{error:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Signs in against an authority that answers `interval: 0`, then `authorization_pending`
/// for ever (even after the code expired), with `pause` (the real wait unless given).
async fn sign_in_pending_for_ever(
    expires_in: Duration,
    pause: Option<Pause>,
) -> (SimulatorHandle, Result<auth::TokenAnswer, AuthError>) {
    let sim = Simulator::builder()
        .device_code_interval(Duration::ZERO)
        .device_code_expires_in(expires_in)
        .device_code_script([DeviceStep::PendingForever])
        .start()
        .await
        .unwrap();
    let mut login = DeviceCodeLogin::new(authority(&sim), sim.tenant(), sim.client_id()).unwrap();
    if let Some(pause) = pause {
        login = login.pause(pause);
    }
    let transport = transport();
    let authorization = login.start(&transport).await.expect("a device code");
    assert_eq!(authorization.interval, Duration::ZERO, "the hostile answer");
    let result = login.finish(&transport, &authorization).await;
    (sim, result)
}

fn is_expired(result: &Result<auth::TokenAnswer, AuthError>) -> bool {
    matches!(
        result,
        Err(AuthError::SignIn { code, problem: SignInProblem::Expired, .. }) if code == "expired_token"
    )
}

#[tokio::test]
async fn an_authority_pending_for_ever_with_no_interval_is_polled_once_a_second_until_the_code_expires()
 {
    // Waits that return at once stand for the time they were asked to wait.
    let (pause, waits) = recording_pause();
    let (sim, result) = sign_in_pending_for_ever(Duration::from_secs(4), Some(pause)).await;
    assert!(is_expired(&result), "{result:?}");
    let waits = waits.lock().unwrap().clone();
    assert!(
        waits.iter().all(|w| *w == auth::MIN_POLL_INTERVAL),
        "never faster than once a second: {waits:?}"
    );
    assert!(
        (1..=4).contains(&waits.len()),
        "at most one poll a second for 4 s: {waits:?}"
    );
    assert_eq!(sim.device_code_polls(), waits.len() as u64);

    // With the real wait, the clock ends it: a code of 2 s, at most 2 polls.
    let (sim, result) = sign_in_pending_for_ever(Duration::from_secs(2), None).await;
    assert!(is_expired(&result), "{result:?}");
    assert!(
        (1..=2).contains(&sim.device_code_polls()),
        "{} polls",
        sim.device_code_polls()
    );
}

/// A transport that keeps the body of every request it sends.
#[derive(Debug)]
struct Recording {
    inner: HyperTransport,
    bodies: Mutex<Vec<String>>,
}

impl Recording {
    fn new() -> Self {
        Recording {
            inner: transport(),
            bodies: Mutex::default(),
        }
    }

    /// The values of `field` in the form bodies sent.
    fn sent(&self, field: &str) -> Vec<String> {
        let prefix = format!("{field}=");
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|body| body.split('&').map(str::to_owned).collect::<Vec<_>>())
            .filter_map(|pair| {
                let value = pair.strip_prefix(&prefix)?;
                Some(
                    percent_encoding::percent_decode_str(value)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            })
            .collect()
    }
}

impl referrals::transport::Transport for Recording {
    fn send(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> referrals::transport::BoxFuture<
        '_,
        Result<http::Response<bytes::Bytes>, referrals::transport::TransportError>,
    > {
        self.bodies
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(request.body()).into_owned());
        self.inner.send(request)
    }
}

/// Every way `error` can be shown, and a check that none shows `secret`.
fn assert_masked(error: &AuthError, secret: &str) -> String {
    let text = format!("{error}\n{error:?}");
    assert!(secret.len() >= 8, "a secret long enough to be masked");
    assert!(!text.contains(secret), "{secret} shown: {text}");
    assert!(text.contains("[redacted]"), "the echo is masked: {text}");
    text
}

#[tokio::test]
async fn credentials_the_authority_echoes_are_masked_in_its_errors() {
    let secret = "echoed-client-secret-4f2a9c";
    let sim = Simulator::builder()
        .client_credentials("contoso", "app-echo", "the-right-secret-8d1e")
        .device_code_interval(Duration::ZERO)
        .device_code_script([DeviceStep::Approve])
        .start()
        .await
        .unwrap();
    let recording = Recording::new();

    // A wrong client secret, quoted in the refusal.
    let wrong =
        ClientCredentials::with_authority(authority(&sim), "contoso", "app-echo", secret).unwrap();
    let error = wrong.token(&recording).await.expect_err("a wrong secret");
    let text = assert_masked(&error, secret);
    assert!(
        text.contains("invalid_client") && text.contains("Invalid client secret provided"),
        "what happened is still said: {text}"
    );

    // An assertion of a certificate the authority does not know, quoted; it is gone once the
    // request is answered, and still masked.
    let unregistered =
        ClientCertificate::from_pem(UNREGISTERED_CLIENT_CERTIFICATE_PEM.as_bytes(), "other")
            .unwrap();
    let error =
        ClientCredentials::with_certificate(authority(&sim), "contoso", "app-echo", unregistered)
            .unwrap()
            .token(&recording)
            .await
            .expect_err("not registered");
    let assertions = recording.sent("client_assertion");
    assert_eq!(assertions.len(), 1);
    assert_masked(&error, &assertions[0]);

    // A refresh token the authority never issued, then one already used: both quoted.
    for refresh_token in [
        "never-issued-refresh-token-77b3".to_owned(),
        sim.issue_refresh_token(),
    ] {
        let provider = || {
            RefreshToken::new(authority(&sim), "contoso", "app-echo", ClientAuth::Public)
                .unwrap()
                .with_refresh_token(refresh_token.clone())
        };
        let mut result = provider().token(&recording).await;
        if result.is_ok() {
            // The issued one is good once; spent, it is quoted back.
            result = provider().token(&recording).await;
        }
        let error = result.expect_err("refused");
        assert!(
            matches!(
                &error,
                AuthError::SignIn {
                    problem: SignInProblem::RefreshTokenRefused,
                    ..
                }
            ),
            "{error:?}"
        );
        assert_masked(&error, &refresh_token);
    }

    // A device code polled again after it was redeemed, quoted.
    let login = DeviceCodeLogin::new(authority(&sim), "contoso", "app-echo")
        .unwrap()
        .pause(recording_pause().0);
    let authorization = login.start(&recording).await.unwrap();
    login.finish(&recording, &authorization).await.unwrap();
    let error = login
        .finish(&recording, &authorization)
        .await
        .expect_err("redeemed once");
    assert_masked(&error, authorization.device_code.expose());
}

#[cfg(unix)]
#[tokio::test]
async fn what_a_failing_azure_cli_echoes_is_masked_and_escaped() {
    use std::os::unix::fs::PermissionsExt;
    let held = referrals::Secret::new("a-token-this-process-holds-91c4");
    let (_, dir) = temp_cache("az-echoes");
    std::fs::create_dir_all(&dir).unwrap();
    let az = dir.join("az");
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\nprintf 'ERROR: token {} rejected \\033[2J\\033]0;owned\\007\\n' >&2\nexit 1\n",
            held.expose()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let error = auth::AzureCli::new()
        .program(&az)
        .token(&transport())
        .await
        .expect_err("az fails");
    let text = assert_masked(&error, held.expose());
    let AuthError::AzureCli(AzureCliProblem::Failed { message, .. }) = &error else {
        panic!("{error:?}")
    };
    assert!(!message.chars().any(char::is_control), "{message:?}");
    assert_eq!(
        message,
        "ERROR: token [redacted] rejected \\u{1b}[2J\\u{1b}]0;owned\\u{7}"
    );
    assert!(!error.to_string().chars().any(char::is_control), "{text}");
    let _ = std::fs::remove_dir_all(dir);
}

//! Secrets never leak: with every tracing event of the process captured at TRACE, through a whole listing (token
//! fetch, retry, 401 refresh) and every kind of error, neither the bearer token nor the client
//! secret appears in a log line, an error (`{}`, `{:?}`, its source chain) or a `Debug` of the
//! client's types. And the token goes only to the configured API origin, the secret only to the
//! configured authority: a next link or a checkpoint naming another loopback port is refused
//! before anything is sent there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{ClosedPort, kind_name};
use futures::{StreamExt, TryStreamExt};
use referrals::auth::{AuthError, ClientCredentials, ConfigProblem, Field};
use referrals::model::Referral;
use referrals::query::AuthorityUrl;
use referrals::query::transport::{BoxFuture, Transport, TransportError};
use referrals::transport::HyperTransport;
use referrals::{Client, Error, ErrorKind, ListQuery, RetryPolicy, Secret};
use referrals_simulator::{Fault, FaultPlan, FaultRule, Simulator, SimulatorHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing_subscriber::fmt::MakeWriter;

/// Distinctive values, so a leak in any form of text is found by a substring search.
const TOKEN: &str = "statictokenQx7Rk2Vw9Lp4Zm8Nc3";
const SECRET: &str = "clientsecretJh5Ty1Ub6Io0Pa2Sd7";
const WRONG_SECRET: &str = "wrongsecretKf9Gh3Jk5Lq1Wz7Xc2";
const AZ_TOKEN: &str = "azclitokenQ1w2E3r4T5y6U7i8";
const TENANT: &str = "contoso-tenant";
const CLIENT_ID: &str = "app-0001";

/// Every tracing event, formatted, in one buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// One request as it left the client.
#[derive(Debug, Clone)]
struct Sent {
    uri: String,
    authorization: Option<String>,
    body: String,
}

/// Sees every request at the transport seam (the last point before the wire) and every access
/// token the token endpoint hands out.
#[derive(Clone, Default)]
struct Seen {
    sent: Arc<Mutex<Vec<Sent>>>,
    issued: Arc<Mutex<Vec<String>>>,
}

struct Watching {
    inner: HyperTransport,
    seen: Seen,
}

// What the test saw is evidence, not part of the client: left out of the client's Debug.
impl std::fmt::Debug for Watching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watching")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl Transport for Watching {
    fn send(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<bytes::Bytes>, TransportError>> {
        Box::pin(async move {
            self.seen.sent.lock().unwrap().push(Sent {
                uri: request.uri().to_string(),
                authorization: request
                    .headers()
                    .get(http::header::AUTHORIZATION)
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
                body: String::from_utf8_lossy(request.body()).into_owned(),
            });
            let response = self.inner.send(request).await?;
            if let Ok(body) = serde_json::from_slice::<serde_json::Value>(response.body()) {
                for key in ["access_token", "refresh_token", "device_code", "id_token"] {
                    if let Some(token) = body[key].as_str() {
                        self.seen.issued.lock().unwrap().push(token.to_owned());
                    }
                }
            }
            Ok(response)
        })
    }
}

fn transport(seen: &Seen, attempt_timeout: Duration) -> Watching {
    Watching {
        inner: HyperTransport::builder()
            .no_proxy()
            .attempt_timeout(attempt_timeout)
            .build()
            .expect("builds"),
        seen: seen.clone(),
    }
}

/// The attempt timeout where none is under test: never reached by a loopback answer, however
/// busy the machine.
const GENEROUS: Duration = Duration::from_secs(60);

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_secs(1),
        // The budget is never what ends a case (the attempts are), even on a busy machine.
        max_total: Duration::from_secs(120),
    }
}

async fn simulator(items: usize, faults: FaultPlan) -> SimulatorHandle {
    Simulator::builder()
        // Client-credentials (app-only) tokens are used against the API here.
        .allow_app_only_tokens(true)
        .referrals(items)
        .seed(3)
        .token(TOKEN)
        .client_credentials(TENANT, CLIENT_ID, SECRET)
        .faults(faults)
        .start()
        .await
        .expect("the simulator starts")
}

fn credentials(sim: &SimulatorHandle, secret: &str) -> ClientCredentials {
    let authority = AuthorityUrl::parse(&sim.authority_url()).expect("loopback authority");
    ClientCredentials::with_authority(authority, TENANT, CLIENT_ID, secret).expect("complete")
}

fn token_client(sim: &SimulatorHandle, seen: &Seen) -> Client {
    Client::builder()
        .base_url(sim.base_url())
        .bearer_token(TOKEN)
        .transport(transport(seen, GENEROUS))
        .retry(fast_retry())
        .build()
        .expect("valid")
}

fn credentials_client(sim: &SimulatorHandle, seen: &Seen, secret: &str) -> Client {
    Client::builder()
        .base_url(sim.base_url())
        .token_provider(credentials(sim, secret))
        .transport(transport(seen, GENEROUS))
        .retry(fast_retry())
        .build()
        .expect("valid")
}

/// The error as every formatting a caller or a logger might use shows it, source chain included.
fn render(error: &Error) -> String {
    let mut text = format!("{error}\n{error:?}\n{error:#?}\n");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("{cause}\n{cause:?}\n"));
        source = cause.source();
    }
    if let Some(checkpoint) = error.checkpoint() {
        text.push_str(&format!("{checkpoint}\n{checkpoint:?}\n"));
    }
    text
}

async fn list_error(client: &Client, query: ListQuery) -> Error {
    client
        .list(query)
        .try_collect::<Vec<Referral>>()
        .await
        .expect_err("the listing fails")
}

/// One error of every kind, each through a client holding the token or the secret.
async fn every_error(seen: &Seen) -> Vec<Error> {
    let mut errors = Vec::new();

    errors.push(
        Client::builder()
            .base_url("http://api.partner.microsoft.com")
            .bearer_token(TOKEN)
            .build()
            .expect_err("plain http to a remote host"),
    );

    let sim = simulator(30, FaultPlan::new()).await;
    let client = token_client(&sim, seen);
    errors.push(client.get("").await.expect_err("an empty id"));
    errors.push(client.get("no-such-referral").await.expect_err("a 404"));

    // The authority refuses a wrong secret; then no authority listens at all.
    let wrong = credentials_client(&sim, seen, WRONG_SECRET);
    errors.push(wrong.get("x").await.expect_err("refused"));
    let nowhere = ClosedPort::new();
    let unreachable = Client::builder()
        .base_url(sim.base_url())
        .token_provider(
            ClientCredentials::with_authority(
                AuthorityUrl::parse(&format!("http://{}/auth", nowhere.address()))
                    .expect("loopback"),
                TENANT,
                CLIENT_ID,
                SECRET,
            )
            .expect("complete"),
        )
        .transport(transport(seen, GENEROUS))
        .build()
        .expect("valid");
    errors.push(unreachable.get("x").await.expect_err("no authority"));

    let unauthorized = simulator(
        30,
        FaultPlan::new().rule(FaultRule::always(Fault::Unauthorized)),
    )
    .await;
    let client = credentials_client(&unauthorized, seen, SECRET);
    errors.push(list_error(&client, ListQuery::new()).await);

    let slow = simulator(
        30,
        FaultPlan::new().rule(FaultRule::always(Fault::SlowHeaders(Duration::from_secs(
            30,
        )))),
    )
    .await;
    let client = Client::builder()
        .base_url(slow.base_url())
        .bearer_token(TOKEN)
        .transport(transport(seen, Duration::from_millis(100)))
        .retry(RetryPolicy::none())
        .build()
        .expect("valid");
    errors.push(list_error(&client, ListQuery::new()).await);

    let closed = ClosedPort::new();
    let refused = Client::builder()
        .base_url(format!("http://{}", closed.address()))
        .bearer_token(TOKEN)
        .transport(transport(seen, GENEROUS))
        .retry(fast_retry())
        .build()
        .expect("valid");
    errors.push(list_error(&refused, ListQuery::new()).await);

    let invalid = simulator(
        30,
        FaultPlan::new().rule(FaultRule::always(Fault::InvalidJson)),
    )
    .await;
    errors.push(list_error(&token_client(&invalid, seen), ListQuery::new()).await);

    let foreign = simulator(
        30,
        FaultPlan::new().rule(FaultRule::always(Fault::foreign_next_link())),
    )
    .await;
    errors.push(list_error(&token_client(&foreign, seen), ListQuery::new().top(10)).await);

    // A checkpoint taken on one server, resumed against another: its next link names the
    // first server's port.
    let mut pages = token_client(&sim, seen)
        .list(ListQuery::new().top(10))
        .pages();
    let first = pages.next().await.expect("a page").expect("ok");
    let other = simulator(30, FaultPlan::new()).await;
    errors.push(
        token_client(&other, seen)
            .resume(first.checkpoint.clone())
            .try_collect::<Vec<Referral>>()
            .await
            .expect_err("another origin"),
    );
    errors
}

#[tokio::test]
async fn no_token_or_secret_in_logs_errors_or_debug_output() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .finish();
    // Global, not scoped: a scoped subscriber can miss events whose callsite another thread
    // registered first (callsite interest is cached process-wide). The other tests of this file
    // run with the same credentials, so their events are held to the same rule.
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber here");
    let seen = Seen::default();

    // A whole listing with a token fetch, a 503 retry, a reset and a 401 refresh in the middle.
    let sim = simulator(
        120,
        FaultPlan::new()
            .rule(FaultRule::list_page(1, Fault::status(503)).times(1))
            .rule(FaultRule::list_page(2, Fault::ResetBeforeHeaders).times(1)),
    )
    .await;
    let client = credentials_client(&sim, &seen, SECRET);
    let mut pages = client
        .list(ListQuery::new().page_size(30).expect("in range"))
        .pages();
    let mut items = pages.next().await.expect("a page").expect("ok").items.len();
    sim.revoke_issued_tokens();
    while let Some(page) = pages.next().await {
        items += page.expect("the listing recovers").items.len();
    }
    assert_eq!(items, 120);
    assert_eq!(
        sim.token_requests(),
        2,
        "one fetch, one refresh after the 401"
    );

    let errors = every_error(&seen).await;
    let mut kinds: Vec<&str> = errors.iter().map(|e| kind_name(e.kind())).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "Api",
            "Auth",
            "Checkpoint",
            "Config",
            "Decode",
            "InvalidRequest",
            "Pagination",
            "Timeout",
            "Transport",
            "Unauthorized"
        ]
    );

    let mut text = String::new();
    for error in &errors {
        text.push_str(&render(error));
    }
    let builder = Client::builder()
        .base_url(sim.base_url())
        .bearer_token(TOKEN);
    text.push_str(&format!("{builder:?}\n"));
    let builder = Client::builder()
        .base_url(sim.base_url())
        .token_provider(credentials(&sim, SECRET));
    text.push_str(&format!("{builder:?}\n"));
    text.push_str(&format!("{client:?}\n{:?}\n", token_client(&sim, &seen)));
    text.push_str(&format!("{:?}\n", credentials(&sim, SECRET)));
    text.push_str(&format!(
        "{:?} {} {:?}\n",
        Secret::new(TOKEN),
        Secret::new(SECRET),
        client.list(ListQuery::new())
    ));
    text.push_str(&format!(
        "{}\n{:?}\n",
        AuthError::Rejected,
        AuthError::NotConfigured(ConfigProblem::Empty(Field::ClientSecret))
    ));

    // The sign-in flows: device code, refresh tokens (rotated, cached, from the environment),
    // certificate assertions, and their errors.
    let assertion_pem = referrals_simulator::TEST_CLIENT_CERTIFICATE_PEM;
    text.push_str(&sign_in_flows(&seen).await);

    let logs = captured.text();
    // The capture works and holds the listing's story, so a leak would have been caught.
    assert!(logs.contains("TRACE") || logs.contains("DEBUG"), "{logs}");
    assert!(logs.contains("retrying"), "no retry logged:\n{logs}");
    assert!(logs.contains("fetched a new access token"), "{logs}");
    assert!(
        text.contains("invalid_client"),
        "the refusal is explained: {text}"
    );

    assert!(logs.contains("refreshed an access token"), "{logs}");
    let issued = seen.issued.lock().unwrap().clone();
    assert!(issued.len() >= 3, "tokens were issued: {issued:?}");
    let mut secrets: Vec<String> = vec![TOKEN.into(), SECRET.into(), WRONG_SECRET.into()];
    if cfg!(unix) {
        secrets.push(AZ_TOKEN.into());
        assert!(
            logs.contains("got an access token from the Azure CLI"),
            "{logs}"
        );
    }
    secrets.extend(issued);
    secrets.extend(sent_assertions(&seen));
    assert!(
        secrets.iter().any(|s| s.starts_with("simrt-")),
        "refresh tokens were issued"
    );
    assert!(
        secrets.iter().any(|s| s.starts_with("simdc-")),
        "device codes were issued"
    );
    assert!(
        secrets
            .iter()
            .any(|s| s.starts_with("eyJ") && s.matches('.').count() == 2 && s.len() > 300),
        "assertions were sent"
    );
    // The private key: any line of its base64 body.
    secrets.extend(
        assertion_pem
            .split("-----BEGIN PRIVATE KEY-----")
            .nth(1)
            .unwrap()
            .lines()
            .filter(|l| l.len() > 40)
            .map(str::to_owned),
    );
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "{secret} in the logs");
        if let Some(at) = text.find(secret.as_str()) {
            let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            panic!("{secret} in errors or Debug: {}", &text[start..end]);
        }
    }

    // At the wire: the token only ever goes to the API origins of this test, the secret only to
    // the token endpoint, never with a bearer token.
    let sent = seen.sent.lock().unwrap().clone();
    assert!(!sent.is_empty());
    for request in &sent {
        let carries_secret = request.body.contains(SECRET)
            || request.body.contains(WRONG_SECRET)
            || request.body.contains("refresh_token=simrt")
            || request.body.contains("client_assertion=")
            || request.body.contains("device_code=simdc");
        if carries_secret {
            assert!(
                request
                    .uri
                    .ends_with(&format!("/auth/{TENANT}/oauth2/v2.0/token")),
                "the secret went to {}",
                request.uri
            );
            assert!(request.authorization.is_none());
        }
        if request.authorization.is_some() {
            assert!(
                request.uri.contains("/v1.0/engagements/referrals"),
                "the token went to {}",
                request.uri
            );
            assert!(!carries_secret);
        }
    }
}

/// A server that answers every request with one fixed JSON page (HTTP/1.1 keep-alive).
async fn fixed_page_server(body: String) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let end = loop {
                        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    };
                    buffer.drain(..end);
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    address
}

#[tokio::test]
async fn a_server_that_echoes_the_token_in_its_error_shows_it_nowhere() {
    let seen = Seen::default();
    for status in [400, 401, 500] {
        let sim = simulator(
            30,
            FaultPlan::new().rule(FaultRule::always(Fault::EchoAuthorization { status })),
        )
        .await;
        let client = token_client(&sim, &seen);
        let errors = [
            list_error(&client, ListQuery::new()).await,
            client.get("some-referral").await.expect_err("refused"),
        ];
        for error in &errors {
            let api = error.api_error().expect("the API's error");
            assert_eq!(api.status().as_u16(), status);
            let text = render(error);
            assert!(!text.contains(TOKEN), "HTTP {status}: {text}");
            assert!(
                api.message()
                    .is_some_and(|m| m.contains("Bearer [redacted]")),
                "the echo is masked, the rest kept: {text}"
            );
        }
    }
    let sent = seen.sent.lock().unwrap();
    assert!(
        sent.iter()
            .any(|s| s.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")[..])),
        "the token was sent, and echoed"
    );
}

#[tokio::test]
async fn a_next_link_to_another_loopback_port_is_refused_and_that_port_sees_nothing() {
    let victim = simulator(30, FaultPlan::new()).await;
    let link = format!("{}?$skiptoken=abc", victim.referrals_url());
    let odata = serde_json::json!({ "value": [{ "id": "a" }], "@odata.nextLink": link });
    let classic = serde_json::json!({
        "items": [{ "id": "a" }],
        "links": { "next": { "uri": link, "headers": [{ "key": "MS-ContinuationToken", "value": "t" }] } }
    });
    let seen = Seen::default();
    for (page, query) in [
        (odata, ListQuery::new().top(1)),
        (classic, ListQuery::new().page_size(1).expect("in range")),
    ] {
        let hostile = fixed_page_server(page.to_string()).await;
        let client = Client::builder()
            .base_url(format!("http://{hostile}"))
            .bearer_token(TOKEN)
            .transport(transport(&seen, GENEROUS))
            .retry(fast_retry())
            .build()
            .expect("valid");
        let mut items = client.list(query);
        let first = items
            .next()
            .await
            .expect("an item")
            .expect("the page is fine");
        assert_eq!(first.id.as_deref(), Some("a"));
        let error = loop {
            match items.next().await.expect("an error ends the listing") {
                Ok(_) => continue,
                Err(error) => break error,
            }
        };
        // The OData link is refused as foreign; the 2018 link's URI is never used, so the
        // hostile server's repeated continuation header is a loop.
        assert!(
            matches!(error.kind(), ErrorKind::Pagination(_)),
            "{error:?}"
        );
        assert!(items.next().await.is_none());
    }
    assert!(
        victim.requests().is_empty(),
        "the other port received {:?}",
        victim.requests()
    );
    let victim_port = victim.local_addr().port().to_string();
    for request in seen.sent.lock().unwrap().iter() {
        assert!(
            !request.uri.contains(&victim_port),
            "sent to {}",
            request.uri
        );
    }
}

#[tokio::test]
async fn the_secret_goes_only_to_the_authority_and_the_token_only_to_the_api() {
    // Two servers: one is the authority, the other the API (which does not know the authority's
    // tokens, so the listing ends with a clear Unauthorized).
    let authority = simulator(0, FaultPlan::new()).await;
    let api = simulator(10, FaultPlan::new()).await;
    let seen = Seen::default();
    let client = Client::builder()
        .base_url(api.base_url())
        .token_provider(credentials(&authority, SECRET))
        .transport(transport(&seen, GENEROUS))
        .retry(fast_retry())
        .build()
        .expect("valid");
    let error = list_error(&client, ListQuery::new()).await;
    assert!(
        matches!(error.kind(), ErrorKind::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(
        authority.api_requests(),
        0,
        "no API request to the authority"
    );
    assert_eq!(authority.token_requests(), 2, "a fetch and a refresh");
    assert_eq!(api.token_requests(), 0, "the API never sees the secret");
    assert_eq!(api.api_requests(), 2);
    let issued = seen.issued.lock().unwrap().clone();
    for request in seen.sent.lock().unwrap().iter() {
        if request.uri.starts_with(&authority.base_url()) {
            assert!(
                request.authorization.is_none(),
                "a token sent to the authority"
            );
            assert!(request.body.contains(SECRET));
        } else {
            assert!(request.uri.starts_with(&api.base_url()), "{}", request.uri);
            assert!(!request.body.contains(SECRET));
            let sent = request.authorization.as_deref().expect("a token");
            assert!(issued.iter().any(|t| sent == format!("Bearer {t}")));
        }
    }
}

/// Every client assertion the transport saw leave (the form field's value).
fn sent_assertions(seen: &Seen) -> Vec<String> {
    seen.sent
        .lock()
        .unwrap()
        .iter()
        .flat_map(|r| r.body.split('&').map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|pair| {
            let value = pair.strip_prefix("client_assertion=")?;
            Some(
                percent_encoding::percent_decode_str(value)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect()
}

/// Runs the sign-in flows against a simulator through the watching transport and returns the
/// text of every error and `Debug` they produce.
async fn sign_in_flows(seen: &Seen) -> String {
    use referrals::auth::{
        CacheKey, ClientAuth, ClientCertificate, DeviceCodeLogin, RefreshToken, TokenCache,
        TokenProvider,
    };
    use referrals_simulator::{
        DeviceStep, TEST_CLIENT_CERTIFICATE_PEM, UNREGISTERED_CLIENT_CERTIFICATE_PEM,
    };
    let sim = Simulator::builder()
        .referrals(3)
        .client_credentials(TENANT, CLIENT_ID, SECRET)
        .device_code_interval(Duration::ZERO)
        .device_code_script([
            DeviceStep::Pending,
            DeviceStep::SlowDown,
            DeviceStep::Approve,
        ])
        .start()
        .await
        .expect("the simulator starts");
    let authority = AuthorityUrl::parse(&sim.authority_url()).expect("loopback");
    let watching = transport(seen, Duration::from_secs(5));
    let mut text = String::new();

    let login = DeviceCodeLogin::new(authority.clone(), TENANT, CLIENT_ID)
        .expect("complete")
        .pause(std::sync::Arc::new(|_| Box::pin(async {})));
    let authorization = login.start(&watching).await.expect("a device code");
    text.push_str(&format!("{login:?}\n{authorization:?}\n"));
    let answer = login
        .finish(&watching, &authorization)
        .await
        .expect("signed in");
    text.push_str(&format!("{answer:?}\n"));
    let again = login
        .finish(&watching, &authorization)
        .await
        .expect_err("redeemed once");
    text.push_str(&format!("{again}\n{again:?}\n"));

    let dir = std::env::temp_dir().join(format!("referrals-secrets-{}", std::process::id()));
    let cache = TokenCache::new(dir.join("tokens.json"));
    let key = CacheKey {
        authority: authority.as_str().to_owned(),
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
    };
    let mut entry = referrals::auth::CacheEntry::new(
        key,
        answer.refresh_token.clone().expect("offline_access"),
    );
    entry.record(
        &answer,
        referrals::auth::PARTNER_CENTER_SCOPE,
        std::time::SystemTime::now(),
    );
    cache.put(entry).await.expect("stored");
    let certificate = ClientCertificate::from_pem(TEST_CLIENT_CERTIFICATE_PEM.as_bytes(), "test")
        .expect("a certificate");
    text.push_str(&format!(
        "{certificate:?}\n{cache:?}\n{:?}\n",
        cache.load().expect("reads")
    ));
    let provider = RefreshToken::new(
        authority.clone(),
        TENANT,
        CLIENT_ID,
        ClientAuth::Certificate(std::sync::Arc::new(certificate.clone())),
    )
    .expect("complete")
    .with_cache(cache.clone())
    .with_refresh_token(answer.refresh_token.clone().expect("offline_access"));
    sim.revoke_issued_tokens();
    let first = provider.token(&watching).await.expect("from the cache");
    provider.invalidate(&first);
    provider.token(&watching).await.expect("a refresh");
    provider
        .token_for(referrals::auth::PARTNER_CENTER_API_SCOPE, &watching)
        .await
        .expect("another audience");
    text.push_str(&format!("{provider:?}\n"));

    let stale = RefreshToken::new(authority.clone(), TENANT, CLIENT_ID, ClientAuth::Public)
        .expect("complete")
        .with_refresh_token(answer.refresh_token.clone().expect("offline_access"));
    let refused = stale.token(&watching).await.expect_err("already rotated");
    text.push_str(&format!("{refused}\n{refused:?}\n{stale:?}\n"));

    let unregistered =
        ClientCertificate::from_pem(UNREGISTERED_CLIENT_CERTIFICATE_PEM.as_bytes(), "other")
            .expect("a certificate");
    let refused = referrals::auth::ClientCredentials::with_certificate(
        authority.clone(),
        TENANT,
        CLIENT_ID,
        unregistered,
    )
    .expect("complete")
    .token(&watching)
    .await
    .expect_err("not registered");
    text.push_str(&format!("{refused}\n{refused:?}\n"));
    let app_only = Client::builder()
        .base_url(sim.base_url())
        .token_provider(
            referrals::auth::ClientCredentials::with_certificate(
                authority,
                TENANT,
                CLIENT_ID,
                certificate,
            )
            .expect("complete"),
        )
        .transport(transport(seen, Duration::from_secs(5)))
        .build()
        .expect("valid");
    let refused = app_only.get("x").await.expect_err("app-only");
    assert!(refused.is_app_only_refusal(), "{refused}");
    text.push_str(&render(&refused));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&dir).expect("a temp dir");
        for (name, script) in [
            (
                "az",
                format!("echo '{{\"accessToken\":\"{AZ_TOKEN}\",\"expires_on\":4070908800}}'"),
            ),
            (
                "az-failing",
                "echo 'ERROR: AADSTS50076: MFA required' >&2; exit 1".to_owned(),
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("writes");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let az = referrals::auth::AzureCli::new().program(dir.join("az"));
        az.token(&watching).await.expect("a token from az");
        text.push_str(&format!("{az:?}\n"));
        let failing = referrals::auth::AzureCli::new().program(dir.join("az-failing"));
        let error = failing.token(&watching).await.expect_err("az fails");
        text.push_str(&format!("{error}\n{error:?}\n"));
    }
    let _ = std::fs::remove_dir_all(dir);
    text
}

//! The webhook registration client: its calls against the simulator's registration API, and the
//! exchange rule it shares with every other call (retries, one refresh on 401, the token in a
//! sensitive header, a POST never resent once it may have been applied), on a scripted
//! transport.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use referrals::auth::{AuthError, TokenProvider};
use referrals::query::transport::{BoxFuture, Transport, TransportErrorKind};
use referrals::registration::{REFERRAL_EVENTS, WebhookRegistration};
use referrals::{Client, ErrorKind, Secret};
use referrals_fixtures::replay::{Matcher, RecordedRequest, ReplayTransport, Step};
use referrals_simulator::Simulator;

use crate::support::fast_retry;

/// Hands out `t1`, `t2`, … : a new token after each invalidation.
#[derive(Debug, Default)]
struct Rotating {
    invalidated: Mutex<Vec<String>>,
    current: AtomicUsize,
}

impl TokenProvider for Rotating {
    fn token<'a>(&'a self, _: &'a dyn Transport) -> BoxFuture<'a, Result<Secret, AuthError>> {
        let n = self.current.load(Ordering::SeqCst) + 1;
        Box::pin(async move { Ok(Secret::new(format!("t{n}"))) })
    }

    fn invalidate(&self, token: &Secret) {
        self.invalidated
            .lock()
            .unwrap()
            .push(token.expose().to_owned());
        self.current.fetch_add(1, Ordering::SeqCst);
    }
}

const BASE: &str = "https://api.partnercenter.microsoft.com";

fn scripted(
    transport: &ReplayTransport,
    provider: std::sync::Arc<Rotating>,
) -> WebhookRegistration {
    WebhookRegistration::builder()
        .token_provider(provider)
        .retry(fast_retry())
        .transport(transport.clone())
        .build()
        .expect("a valid configuration")
}

fn bearer(request: &RecordedRequest) -> (&str, bool) {
    let value = &request.headers["authorization"];
    (value.to_str().unwrap(), value.is_sensitive())
}

#[tokio::test]
async fn registration_calls_against_the_simulator() {
    let sim = Simulator::builder().referrals(1).start().await.unwrap();
    let webhooks = WebhookRegistration::builder()
        .base_url(sim.base_url())
        .bearer_token(sim.token())
        .retry(fast_retry())
        .build()
        .unwrap();
    assert_eq!(webhooks.base_url().as_str(), sim.base_url());

    let events = webhooks.events().await.unwrap();
    assert!(
        REFERRAL_EVENTS
            .iter()
            .all(|e| events.iter().any(|n| n == e))
    );
    assert_eq!(webhooks.show().await.unwrap(), None, "none registered yet");

    let registered = webhooks
        .register("https://crm.example.com/hook", &REFERRAL_EVENTS)
        .await
        .unwrap();
    assert!(!registered.replaced);
    let again = webhooks
        .register(
            "https://crm.example.com/other",
            &["referral-created", "test-created"],
        )
        .await
        .unwrap();
    assert!(again.replaced, "a 409 turns into a PUT");
    let shown = webhooks.show().await.unwrap().expect("registered");
    assert_eq!(shown["WebhookUrl"], "https://crm.example.com/other");

    let id = webhooks.send_validation_event().await.unwrap();
    assert!(!id.is_empty());
    let status = webhooks.validation_status(&id).await.unwrap();
    assert!(status.get("status").is_some(), "{status}");

    // The headers every endpoint sends, one correlation id per call, one request id each.
    let requests = sim.requests();
    assert!(requests.len() >= 8, "{requests:?}");
    for request in &requests {
        assert!(
            request
                .path_and_query
                .starts_with("/webhooks/v1/registration")
        );
        assert_eq!(
            request.header("user-agent"),
            Some(referrals::query::DEFAULT_USER_AGENT)
        );
        assert_eq!(request.header("accept"), Some("application/json"));
        assert!(request.header("ms-correlationid").is_some());
    }
    let request_ids: std::collections::HashSet<_> =
        requests.iter().map(|r| r.header("ms-requestid")).collect();
    assert_eq!(request_ids.len(), requests.len());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_lends_its_sign_in_to_the_registration_host() {
    let sim = Simulator::builder().referrals(1).start().await.unwrap();
    // The simulator's static token is good for both audiences; what matters is that the
    // client's provider is asked for the registration host's scope and its transport is used.
    let client = Client::builder()
        .base_url(sim.base_url())
        .bearer_token(sim.token())
        .user_agent("crm-sync/2")
        .build()
        .unwrap();
    let error = client
        .webhook_registration()
        .base_url(sim.base_url())
        .build()
        .unwrap()
        .events()
        .await
        .expect_err("a fixed token serves one audience only");
    assert!(matches!(error.kind(), ErrorKind::Auth(_)), "{error:?}");
    assert!(sim.requests().is_empty(), "nothing sent without a token");

    let webhooks = client
        .webhook_registration()
        .base_url(sim.base_url())
        .bearer_token(sim.token())
        .build()
        .unwrap();
    webhooks.events().await.unwrap();
    assert_eq!(sim.requests()[0].header("user-agent"), Some("crm-sync/2"));
    sim.shutdown().await;
}

#[tokio::test]
async fn registration_calls_retry_and_refresh_the_token_once() {
    let transport = ReplayTransport::new()
        .step(
            Step::respond(503, "")
                .header("Retry-After", "0")
                .when(Matcher::get().path_prefix("/webhooks/v1/registration/events")),
        )
        .fail(TransportErrorKind::Io, "connection reset")
        .respond(401, r#"{"error":{"code":"unauthenticated"}}"#)
        .respond(200, r#"["referral-created"]"#);
    let provider = std::sync::Arc::new(Rotating::default());
    let webhooks = scripted(&transport, provider.clone());
    assert_eq!(webhooks.base_url().as_str(), BASE);

    let events = webhooks.events().await.expect("recovered");
    assert_eq!(events, ["referral-created"]);
    let requests = transport.requests();
    assert_eq!(requests.len(), 4);
    let tokens: Vec<_> = requests.iter().map(bearer).collect();
    assert_eq!(
        tokens,
        [
            ("Bearer t1", true),
            ("Bearer t1", true),
            ("Bearer t1", true),
            ("Bearer t2", true)
        ]
    );
    assert_eq!(*provider.invalidated.lock().unwrap(), ["t1"]);
    let correlation: std::collections::HashSet<_> = requests
        .iter()
        .map(|r| r.header("ms-correlationid"))
        .collect();
    assert_eq!(correlation.len(), 1, "one logical request");
    let request_ids: std::collections::HashSet<_> =
        requests.iter().map(|r| r.header("ms-requestid")).collect();
    assert_eq!(request_ids.len(), 4, "one id per attempt");
    assert!(
        requests
            .iter()
            .all(|r| r.uri.host() == Some("api.partnercenter.microsoft.com"))
    );
}

#[tokio::test]
async fn a_second_401_is_unauthorized_and_a_post_is_not_resent() {
    let transport = ReplayTransport::new()
        .respond(401, r#"{"error":{"code":"unauthenticated"}}"#)
        .respond(401, r#"{"error":{"code":"unauthenticated"}}"#)
        .step(Step::respond(503, "").when(Matcher::post()))
        .fail(TransportErrorKind::Timeout, "timed out")
        .step(Step::respond(404, "").when(Matcher::get()));
    let provider = std::sync::Arc::new(Rotating::default());
    let webhooks = scripted(&transport, provider.clone());

    let error = webhooks.show().await.expect_err("refused twice");
    assert!(
        matches!(error.kind(), ErrorKind::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), Some("unauthenticated"));
    assert!(!error.is_app_only_refusal());
    assert_eq!(*provider.invalidated.lock().unwrap(), ["t1", "t2"]);

    // A 503 to a POST may have been applied: not sent again.
    let error = webhooks.send_validation_event().await.expect_err("503");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    // Neither is a POST whose connection failed after sending.
    let error = webhooks
        .register("https://crm.example.com/hook", &REFERRAL_EVENTS)
        .await
        .expect_err("timed out");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(transport.request_count(), 4);

    // A 404 to show is "none registered".
    assert_eq!(webhooks.show().await.unwrap(), None);
    assert_eq!(transport.remaining(), 0);
}

#[tokio::test]
async fn a_bad_registration_url_is_refused_before_anything_is_sent() {
    let error = WebhookRegistration::builder()
        .base_url("http://api.partnercenter.microsoft.com")
        .bearer_token("t")
        .build()
        .expect_err("plain http to a remote host");
    assert!(matches!(error.kind(), ErrorKind::Config(_)), "{error:?}");
    let error = WebhookRegistration::builder()
        .build()
        .expect_err("no credentials");
    assert!(error.to_string().contains("no credentials"), "{error}");
    let transport = ReplayTransport::new();
    let webhooks = scripted(&transport, Default::default());
    let error = webhooks
        .validation_status("..")
        .await
        .expect_err("not an id");
    assert!(
        matches!(error.kind(), ErrorKind::InvalidRequest(_)),
        "{error:?}"
    );
    assert_eq!(transport.request_count(), 0);
}

//! The simulator's webhooks end to end: its signed events pass the listener's verification,
//! reach the mirror, and are redelivered when the listener refuses them.

use crate::support::{
    changes, count, eventually, in_state, inbox_rows, simulator, start, stop, temp_db,
};
use referrals_receiver::{ListenerBuilder, ListenerHandle};
use referrals_simulator::{MAX_ATTEMPTS, Simulator, SimulatorHandle};
use referrals_webhooks::{CertUrlPrefix, Policy, TrustAnchors};

/// A listener that trusts `trust` for certificates under the simulator's URL prefix.
async fn listen_trusting(
    trust: TrustAnchors,
    simulator: &SimulatorHandle,
    db: &std::path::Path,
) -> ListenerHandle {
    let mut policy = Policy::new(trust);
    policy.cert_url_prefixes =
        vec![CertUrlPrefix::parse(&simulator.webhook_cert_url_prefix()).unwrap()];
    start(ListenerBuilder::new(policy), simulator, db).await
}

/// A listener that trusts the simulator's webhook certificates.
async fn listen(simulator: &SimulatorHandle, db: &std::path::Path) -> ListenerHandle {
    let trust = TrustAnchors::from_pem(simulator.webhook_ca_pem().as_bytes()).unwrap();
    listen_trusting(trust, simulator, db).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_reaches_the_mirror_through_signed_events() {
    let simulator = simulator(3, 7).await;
    let db = temp_db("sim-churn");
    let listener = listen(&simulator, &db).await;
    simulator.register_webhook(&listener.url(), &["referral-created", "referral-updated"]);

    let report = simulator.churn(6);
    let expected = (report.created.len() + report.updated.len()) as i64;
    assert!(expected > 0);
    eventually("every created or updated referral is applied", || {
        count(
            &db,
            "SELECT COUNT(*) FROM webhook_inbox WHERE state IN ('applied', 'not_found')",
        ) == expected
    })
    .await;
    let deliveries = simulator.webhook_deliveries();
    assert_eq!(deliveries.len() as i64, expected);
    assert!(
        deliveries.iter().all(|d| d.delivered && d.attempts == 1),
        "{deliveries:?}"
    );
    // One certificate fetch for them all.
    assert_eq!(listener.certificate_fetches(), 1);
    assert!(changes(&db) >= report.created.len() as i64);
    stop(listener, simulator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_deliveries_are_tried_ten_times() {
    let simulator = Simulator::builder()
        .referrals(1)
        .seed(8)
        .webhook_retry_delay(std::time::Duration::from_millis(1))
        .start()
        .await
        .unwrap();
    let db = temp_db("sim-refused");
    // A listener that trusts another root: every delivery is refused with 401.
    let listener = listen_trusting(TrustAnchors::webpki(), &simulator, &db).await;
    simulator.register_webhook(&listener.url(), &["referral-created"]);
    simulator.add_referral(serde_json::json!({"name": "refused"}));
    eventually("the delivery gives up", || {
        simulator
            .webhook_deliveries()
            .first()
            .is_some_and(|d| d.finished)
    })
    .await;
    let delivery = &simulator.webhook_deliveries()[0];
    assert_eq!(
        (delivery.attempts, delivery.delivered, delivery.last_status),
        (MAX_ATTEMPTS, false, Some(401))
    );
    assert_eq!(inbox_rows(&db), 0);
    assert_eq!(changes(&db), 0);
    stop(listener, simulator).await;
}

async fn call(
    simulator: &SimulatorHandle,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    use referrals::transport::{HyperTransport, Transport};
    let request = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", simulator.base_url()))
        .header("authorization", format!("Bearer {}", simulator.token()))
        .header("content-type", "application/json")
        .body(bytes::Bytes::from(
            body.map(|b| b.to_string()).unwrap_or_default(),
        ))
        .unwrap();
    let response = HyperTransport::new().send(request).await.unwrap();
    let value = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
    (response.status().as_u16(), value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registration_api_and_a_validation_event() {
    let simulator = simulator(1, 9).await;
    let db = temp_db("sim-registration");
    let listener = listen(&simulator, &db).await;
    let (status, events) = call(&simulator, "GET", "/webhooks/v1/registration/events", None).await;
    assert_eq!(status, 200);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "test-created")
    );
    assert_eq!(
        call(&simulator, "GET", "/webhooks/v1/registration", None)
            .await
            .0,
        404
    );

    let registration =
        serde_json::json!({"WebhookUrl": listener.url(), "WebhookEvents": ["referral-created"]});
    let (status, created) = call(
        &simulator,
        "POST",
        "/webhooks/v1/registration",
        Some(registration.clone()),
    )
    .await;
    assert_eq!(status, 200);
    assert!(created["SubscriberId"].is_string());
    assert_eq!(
        call(
            &simulator,
            "POST",
            "/webhooks/v1/registration",
            Some(registration)
        )
        .await
        .0,
        409
    );
    // Validation events need test-created.
    assert_eq!(
        call(
            &simulator,
            "POST",
            "/webhooks/v1/registration/validationEvents",
            None
        )
        .await
        .0,
        400
    );
    let both = serde_json::json!({"webhookUrl": listener.url(), "webhookEvents": ["referral-created", "test-created"]});
    assert_eq!(
        call(&simulator, "PUT", "/webhooks/v1/registration", Some(both))
            .await
            .0,
        200
    );
    let (_, shown) = call(&simulator, "GET", "/webhooks/v1/registration", None).await;
    assert_eq!(
        shown["WebhookEvents"],
        serde_json::json!(["referral-created", "test-created"])
    );

    let (status, answer) = call(
        &simulator,
        "POST",
        "/webhooks/v1/registration/validationEvents",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let path = format!(
        "/webhooks/v1/registration/validationEvents/{}",
        answer["correlationId"].as_str().unwrap()
    );
    let mut last = serde_json::Value::Null;
    for _ in 0..2_000 {
        last = call(&simulator, "GET", &path, None).await.1;
        if last["status"] != "pending" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(last["status"], "completed", "{last}");
    assert_eq!(last["results"][0]["responseCode"], "200");
    assert_eq!(in_state(&db, "recorded"), 1);
    // Without a token, nothing but the certificate.
    let anonymous = referrals::transport::HyperTransport::new();
    use referrals::transport::Transport;
    let request = |url: String| http::Request::get(url).body(bytes::Bytes::new()).unwrap();
    let registration = anonymous
        .send(request(format!(
            "{}/webhooks/v1/registration",
            simulator.base_url()
        )))
        .await
        .unwrap();
    assert_eq!(registration.status(), 401);
    let certificate = anonymous
        .send(request(simulator.webhook_certificate_url()))
        .await
        .unwrap();
    assert_eq!(certificate.status(), 200);
    stop(listener, simulator).await;
}

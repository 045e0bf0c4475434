//! The listener end to end: every refusal answers its status and changes nothing; a valid
//! event reaches the mirror and the journal; repeats are absorbed; nothing is lost across a
//! stop between the 200 and the processing.

use crate::support::*;
use referrals_simulator::SimulatorHandle;

type Headers = Vec<(String, String)>;

/// What every test here starts with: the certificate server, a simulator and a mirror path.
async fn rig(name: &str) -> (Certificates, SimulatorHandle, TempDb) {
    (
        certificate_server().await,
        simulator(5, 14).await,
        temp_db(name),
    )
}

fn state_of(db: &std::path::Path, id: i64) -> String {
    let connection = rusqlite::Connection::open(db).unwrap();
    connection
        .query_row(
            "SELECT state FROM webhook_inbox WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .unwrap()
}

fn first_id(simulator: &SimulatorHandle) -> String {
    simulator.referrals()[0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_event_updates_the_mirror_and_the_journal_and_a_repeat_is_absorbed() {
    let logs = captured_logs();
    let (certificates, simulator, db) = rig("valid").await;
    let listener = listener(&certificates, &simulator, &db, true).await;
    let id = first_id(&simulator);
    let body = event_body("referral-created", &id, "2026-01-02T03:04:05.1234567+00:00");
    let headers = signed_headers(&certificates.signer, &body, &certificates.url("good.cer"));

    assert_eq!(
        send("POST", &listener.url(), &headers, body.clone()).await,
        200
    );
    eventually("the event is applied", || in_state(&db, "applied") == 1).await;
    assert_eq!(changes(&db), 1);
    let stored: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT raw_json FROM referrals WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(stored.contains(&id));
    // The log names the journal row by its number.
    let applied = format!(
        "webhook event applied inbox_id=1 event=referral-created referral={id} change_seq=1"
    );
    eventually("the applied event is logged", || {
        logs.text().contains(&applied)
    })
    .await;
    // No optional field (here or in the transport's lines) is logged as `Some(…)`.
    assert!(!logs.text().contains("Some("), "{}", logs.text());

    // The same delivery again (Partner Center retries): 200, nothing new.
    assert_eq!(
        send("POST", &listener.url(), &headers, body.clone()).await,
        200
    );
    let requests = simulator.api_requests();
    assert_eq!(listener.worker().run_once().await.unwrap().applied, 0);
    assert_eq!(inbox_rows(&db), 1);
    assert_eq!(changes(&db), 1);
    assert_eq!(simulator.api_requests(), requests);
    // One certificate fetch served both deliveries.
    assert_eq!(listener.certificate_fetches(), 1);

    // The same certificate as PEM at another URL (a renewal) is fetched once more.
    let body = event_body("referral-updated", &id, "2026-01-02T03:05:00+00:00");
    let headers = signed_headers(&certificates.signer, &body, &certificates.url("good.pem"));
    assert_eq!(send("POST", &listener.url(), &headers, body).await, 200);
    assert_eq!(listener.certificate_fetches(), 2);
    eventually("the second event is processed", || {
        in_state(&db, "applied") == 2
    })
    .await;
    // The referral did not change in between: nothing journaled.
    assert_eq!(changes(&db), 1);
    stop(listener, simulator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_answers_its_status_and_changes_nothing() {
    let (certificates, simulator, db) = rig("refusals").await;
    let listener = listener(&certificates, &simulator, &db, true).await;
    let id = first_id(&simulator);
    let body = event_body("referral-updated", &id, "2026-01-02T03:04:05+00:00");
    let good = certificates.url("good.cer");
    let signer = &certificates.signer;
    let with = |name: &str, value: &str| {
        let mut headers = signed_headers(signer, &body, &good);
        headers.retain(|(n, _)| n != name);
        headers.push((name.to_owned(), value.to_owned()));
        headers
    };
    let without = |name: &str| {
        let mut headers = signed_headers(signer, &body, &good);
        headers.retain(|(n, _)| n != name);
        headers
    };
    let forger = other_key_signer(&certificates);
    let mut tampered = body.clone();
    let last = tampered.len() - 3;
    tampered[last] ^= 0x01;
    let cases: Vec<(&str, Headers, Vec<u8>, u16)> = vec![
        (
            "forged signature",
            signed_headers(&forger, &body, &good),
            body.clone(),
            401,
        ),
        (
            "tampered body",
            signed_headers(signer, &body, &good),
            tampered,
            401,
        ),
        (
            "wrong algorithm",
            with("x-ms-signature-algorithm", "rsa-sha1"),
            body.clone(),
            401,
        ),
        (
            "certificate over http on a non-loopback host",
            with(
                "x-ms-certificate-url",
                "http://3psostorageacct.blob.core.windows.net/cert/x.cer",
            ),
            body.clone(),
            401,
        ),
        (
            "certificate on another host",
            with(
                "x-ms-certificate-url",
                &format!(
                    "http://localhost:{}/certs/good.cer",
                    certificates.addr.port()
                ),
            ),
            body.clone(),
            401,
        ),
        (
            "redirecting certificate URL",
            with("x-ms-certificate-url", &certificates.url("redirect.cer")),
            body.clone(),
            401,
        ),
        (
            "oversized certificate",
            with("x-ms-certificate-url", &certificates.url("big.cer")),
            body.clone(),
            401,
        ),
        (
            "slow certificate",
            with("x-ms-certificate-url", &certificates.url("slow.cer")),
            body.clone(),
            401,
        ),
        (
            "missing certificate",
            with("x-ms-certificate-url", &certificates.url("missing.cer")),
            body.clone(),
            401,
        ),
        (
            "untrusted root",
            signed_headers(signer, &body, &certificates.url("untrusted.cer")),
            body.clone(),
            401,
        ),
        (
            "expired certificate",
            signed_headers(signer, &body, &certificates.url("expired.cer")),
            body.clone(),
            401,
        ),
        (
            "another organisation",
            signed_headers(signer, &body, &certificates.url("other-org.cer")),
            body.clone(),
            401,
        ),
        (
            "missing signature",
            without("authorization"),
            body.clone(),
            400,
        ),
        (
            "missing algorithm",
            without("x-ms-signature-algorithm"),
            body.clone(),
            400,
        ),
        (
            "missing certificate URL",
            without("x-ms-certificate-url"),
            body.clone(),
            400,
        ),
        (
            "oversized body",
            signed_headers(signer, &body, &good),
            vec![b' '; 1024 * 1024 + 1],
            413,
        ),
        (
            "signed non-event",
            signed_headers(signer, b"[]", &good),
            b"[]".to_vec(),
            400,
        ),
    ];
    for (what, headers, body, status) in cases {
        assert_eq!(
            send("POST", &listener.url(), &headers, body).await,
            status,
            "{what}"
        );
        assert_eq!(inbox_rows(&db), 0, "{what}");
        assert_eq!(changes(&db), 0, "{what}");
    }
    assert_eq!(send("GET", &listener.url(), &[], Vec::new()).await, 405);
    let wrong_path = listener.url().replace("/webhooks/", "/other/");
    assert_eq!(
        send(
            "POST",
            &wrong_path,
            &signed_headers(signer, &body, &good),
            body.clone()
        )
        .await,
        404
    );
    let health = format!("http://{}/healthz", listener.local_addr());
    assert_eq!(send("GET", &health, &[], Vec::new()).await, 200);
    // The worker has nothing to do, and the referral API was never asked.
    assert_eq!(
        listener.worker().run_once().await.unwrap(),
        Default::default()
    );
    assert_eq!(simulator.api_requests(), 0);
    assert_eq!(changes(&db), 0);
    stop(listener, simulator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_and_unknown_events_are_recorded_not_fetched_and_a_404_is_recorded() {
    let (certificates, simulator, db) = rig("kinds").await;
    let listener = listener(&certificates, &simulator, &db, false).await;
    let good = certificates.url("good.cer");
    let signer = &certificates.signer;
    for body in [
        br#"{"EventName":"test-created","ResourceUri":"https://api.partnercenter.microsoft.com/webhooks/v1/registration/validationEvents/c1","ResourceChangeUtcDate":"2026-01-01T00:00:00Z"}"#.to_vec(),
        br#"{"eventName":"subscription-updated","resourceUri":"https://api.partnercenter.microsoft.com/subscriptions/s1"}"#.to_vec(),
    ] {
        assert_eq!(send("POST", &listener.url(), &signed_headers(signer, &body, &good), body).await, 200);
    }
    assert_eq!(in_state(&db, "recorded"), 2);

    let body = event_body(
        "referral-updated",
        "no-such-referral",
        "2026-01-01T00:00:00Z",
    );
    assert_eq!(
        send(
            "POST",
            &listener.url(),
            &signed_headers(signer, &body, &good),
            body
        )
        .await,
        200
    );
    let pass = listener.worker().run_once().await.unwrap();
    assert_eq!((pass.applied, pass.not_found, pass.failed), (0, 1, 0));
    assert_eq!(state_of(&db, 3), "not_found");
    // Recorded, done: a second pass asks nothing.
    let requests = simulator.api_requests();
    assert_eq!(
        listener.worker().run_once().await.unwrap(),
        Default::default()
    );
    assert_eq!(simulator.api_requests(), requests);
    assert_eq!(requests, 1);
    assert_eq!(changes(&db), 0);
    stop(listener, simulator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_answered_but_not_processed_is_processed_after_a_restart() {
    let (certificates, simulator, db) = rig("restart").await;
    let id = first_id(&simulator);
    {
        // The worker never runs: the listener stops between the 200 and the processing.
        let listener = listener(&certificates, &simulator, &db, false).await;
        let body = event_body("referral-created", &id, "2026-01-02T03:04:05Z");
        let headers = signed_headers(&certificates.signer, &body, &certificates.url("good.cer"));
        assert_eq!(send("POST", &listener.url(), &headers, body).await, 200);
        listener.shutdown().await;
    }
    assert_eq!(in_state(&db, "pending"), 1);
    assert_eq!(changes(&db), 0);
    assert_eq!(simulator.api_requests(), 0);

    let listener = listener(&certificates, &simulator, &db, true).await;
    eventually("the kept event is processed on restart", || {
        in_state(&db, "applied") == 1
    })
    .await;
    assert_eq!(changes(&db), 1);
    stop(listener, simulator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_tls_certificate_and_key() {
    use std::sync::Arc;

    use referrals::transport::{HyperTransport, Transport};
    use referrals_receiver::{HttpsCertificateSource, ListenerBuilder, tls_acceptor};

    let (certificates, simulator, db) = rig("tls").await;
    let server = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = server.cert.pem();
    let key_pem = server.signing_key.serialize_pem();
    let bad_key = tls_acceptor(cert_pem.as_bytes(), b"not a key")
        .err()
        .unwrap();
    // Which input was wrong is the error's kind (the CLI names its --tls-key from it).
    assert!(
        matches!(bad_key, referrals_receiver::TlsError::NoPrivateKey),
        "{bad_key}"
    );
    assert!(!bad_key.to_string().contains("not a key"));
    let builder = ListenerBuilder::new(policy(&certificates))
        .certificate_source(Arc::new(HttpsCertificateSource::new().unwrap()))
        .tls(tls_acceptor(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap());
    let listener = start(builder, &simulator, &db).await;
    let url = listener.url().replace("127.0.0.1", "localhost");
    assert!(url.starts_with("https://localhost:"));
    let transport = HyperTransport::builder()
        .add_root_certificates_pem(cert_pem.as_bytes())
        .no_proxy()
        .build()
        .unwrap();
    let id = first_id(&simulator);
    let body = event_body("referral-created", &id, "2026-03-01T00:00:00Z");
    let mut request = http::Request::post(&url);
    for (name, value) in signed_headers(&certificates.signer, &body, &certificates.url("good.cer"))
    {
        request = request.header(name, value);
    }
    let response = transport
        .send(request.body(bytes::Bytes::from(body)).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    eventually("the event is applied", || changes(&db) == 1).await;
    // Plain HTTP on the TLS port gets no answer.
    let plain = url.replace("https://", "http://");
    let refused = HyperTransport::new()
        .send(http::Request::get(plain).body(bytes::Bytes::new()).unwrap())
        .await;
    assert!(refused.is_err() || refused.unwrap().status() != 200);
    stop(listener, simulator).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_past_the_limit_is_413_without_reading_it_all() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let (certificates, simulator, db) = rig("chunked").await;
    let listener = listener(&certificates, &simulator, &db, true).await;
    let mut stream = tokio::net::TcpStream::connect(listener.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n",
        listener
            .url()
            .split_once(&listener.local_addr().to_string())
            .unwrap()
            .1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
    // 4 MiB offered; the server stops reading after 1 MiB. Writes may fail once it answers.
    let exchange = async {
        for _ in 0..64 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        answer
    };
    // A bound on a hang, not a timing assertion.
    let answer = tokio::time::timeout(std::time::Duration::from_secs(300), exchange)
        .await
        .expect("the server answers and closes");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(inbox_rows(&db), 0);
    stop(listener, simulator).await;
}

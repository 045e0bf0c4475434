//! The transport against loopback peers over plain HTTP: round trips, body caps, timeouts,
//! connection failures and pooling.

use std::time::Duration;

use crate::support::{
    Then, answering, at, builder, closed_port, get, raw_server, read_head, request, send, write,
};
use referrals_query::transport::{Transport, TransportError, TransportErrorKind};

/// Neither the bearer token nor the query string may appear anywhere in an error.
fn assert_no_secrets(error: &TransportError) {
    let mut texts = vec![error.to_string(), format!("{error:?}")];
    let mut next = std::error::Error::source(error);
    while let Some(cause) = next {
        texts.push(cause.to_string());
        texts.push(format!("{cause:?}"));
        next = cause.source();
    }
    for text in texts {
        assert!(!text.contains("SECRET-TOKEN-VALUE"), "token leaked: {text}");
        assert!(!text.contains("SECRET-QUERY"), "query leaked: {text}");
    }
}

#[tokio::test]
async fn get_round_trip_carries_headers_and_body() {
    let server = crate::support::http_server().await;
    let transport = builder().build().expect("transport");
    let uri = format!(
        "http://{}/v1.0/engagements/referrals?pageSize=2",
        server.addr
    );

    let response = get(&transport, &uri).await.expect("response");

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-method"], "GET");
    assert_eq!(
        response.headers()["x-path"],
        "/v1.0/engagements/referrals?pageSize=2"
    );
    assert_eq!(response.headers()["x-accept"], "application/json");
    assert_eq!(response.version(), http::Version::HTTP_11);
    assert_eq!(response.body().as_ref(), b"hello");
}

#[tokio::test]
async fn post_sends_the_body() {
    let server = crate::support::http_server().await;
    let transport = builder().build().expect("transport");
    let uri = format!("http://{}/v1.0/engagements/referrals", server.addr);

    let response = send(&transport, "POST", &uri, b"{\"name\":\"Contoso\"}")
        .await
        .expect("response");

    assert_eq!(response.headers()["x-method"], "POST");
    assert_eq!(response.body().as_ref(), b"{\"name\":\"Contoso\"}");
}

#[tokio::test]
async fn body_of_exactly_the_cap_is_accepted() {
    let server = crate::support::http_server().await;
    let transport = builder().max_body_bytes(4096).build().expect("transport");
    let uri = format!("http://{}/big?n=4096", server.addr);

    let response = get(&transport, &uri)
        .await
        .expect("a body of exactly the cap fits");

    assert_eq!(response.body().len(), 4096);
}

#[tokio::test]
async fn declared_length_over_the_cap_is_refused_without_reading_the_body() {
    // Declares 1 MiB and then sends nothing: only the header can have triggered the error.
    let addr = answering(
        b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n",
        Then::Hold,
    )
    .await;
    let transport = builder()
        .max_body_bytes(1024)
        .idle_read_timeout(Duration::from_secs(30))
        .build()
        .expect("transport");

    let error = get(&transport, &at(addr)).await.expect_err("over the cap");

    assert_eq!(
        error.kind(),
        TransportErrorKind::BodyTooLarge { limit: 1024 }
    );
    assert!(error.message().contains("1048576"), "{error}");
}

#[tokio::test]
async fn head_response_declaring_a_large_length_is_not_a_body_over_the_cap() {
    let addr = answering(
        b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n",
        Then::Hold,
    )
    .await;
    let transport = builder().max_body_bytes(1024).build().expect("transport");

    let response = send(&transport, "HEAD", &at(addr), b"")
        .await
        .expect("HEAD has no body");

    assert_eq!(response.status(), 200);
    assert!(response.body().is_empty());
}

#[tokio::test]
async fn endless_chunked_body_is_cut_off_at_the_cap() {
    // No Content-Length and a body that never ends: the cap is the only way out.
    let addr = raw_server(|mut stream| async move {
        read_head(&mut stream).await;
        write(
            &mut stream,
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        )
        .await;
        let chunk = format!("200\r\n{}\r\n", "a".repeat(0x200));
        // Stops once the client hangs up.
        while tokio::io::AsyncWriteExt::write_all(&mut stream, chunk.as_bytes())
            .await
            .is_ok()
        {}
    })
    .await;
    let transport = builder().max_body_bytes(4096).build().expect("transport");

    let error = get(&transport, &at(addr)).await.expect_err("over the cap");

    assert_eq!(
        error.kind(),
        TransportErrorKind::BodyTooLarge { limit: 4096 }
    );
    assert!(!error.kind().is_transient());
}

#[tokio::test]
async fn refused_connection_is_a_connect_error_without_secrets() {
    let closed = closed_port().await;
    let port = closed.port;
    let transport = builder().build().expect("transport");
    let uri = format!("http://127.0.0.1:{port}/v1.0/engagements/referrals?$skiptoken=SECRET-QUERY");

    let error = get(&transport, &uri).await.expect_err("nothing listens");

    assert_eq!(error.kind(), TransportErrorKind::Connect);
    assert!(!error.kind().may_have_reached_server());
    assert!(
        error.message().contains(&format!(
            "GET http://127.0.0.1:{port}/v1.0/engagements/referrals"
        )),
        "{error}"
    );
    assert_no_secrets(&error);
    assert_eq!(transport.connections_opened(), 0);
}

#[tokio::test]
async fn response_head_that_never_comes_hits_the_attempt_timeout() {
    let addr = answering(b"", Then::Hold).await;
    let transport = builder()
        .attempt_timeout(Duration::from_millis(200))
        .build()
        .expect("transport");
    let uri = format!("http://{addr}/slow?token=SECRET-QUERY");

    let error = get(&transport, &uri).await.expect_err("no answer");

    assert_eq!(error.kind(), TransportErrorKind::Timeout);
    assert!(error.kind().may_have_reached_server());
    assert!(error.message().contains("attempt timeout"), "{error}");
    assert_no_secrets(&error);
}

#[tokio::test]
async fn body_that_stalls_hits_the_idle_read_timeout() {
    let addr = answering(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789",
        Then::Hold,
    )
    .await;
    let transport = builder()
        .idle_read_timeout(Duration::from_millis(150))
        .attempt_timeout(Duration::from_secs(30))
        .build()
        .expect("transport");

    let error = get(&transport, &at(addr)).await.expect_err("stalled body");

    assert_eq!(error.kind(), TransportErrorKind::Timeout);
    assert!(error.message().contains("stalled"), "{error}");
    assert!(error.message().contains("after 10 bytes"), "{error}");
}

#[tokio::test]
async fn connection_closed_mid_body_is_an_io_error() {
    // Closing the connection 90 bytes short.
    let addr = answering(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789",
        Then::Close,
    )
    .await;
    let transport = builder().build().expect("transport");

    let error = get(&transport, &at(addr))
        .await
        .expect_err("truncated body");

    assert_eq!(error.kind(), TransportErrorKind::Io);
    assert!(error.kind().may_have_reached_server());
    assert_no_secrets(&error);
}

#[tokio::test]
async fn connection_closed_before_the_response_is_an_io_error() {
    let addr = answering(b"", Then::Close).await;
    let transport = builder().build().expect("transport");

    let error = send(&transport, "POST", &at(addr), b"{}")
        .await
        .expect_err("no response");

    // The request went out: a POST must not be blindly retried.
    assert_eq!(error.kind(), TransportErrorKind::Io);
    assert!(error.kind().may_have_reached_server());
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused_before_connecting() {
    let transport = builder().build().expect("transport");

    for uri in [
        "http://192.0.2.1/v1.0/engagements/referrals",
        "http://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=SECRET-QUERY",
    ] {
        let error = get(&transport, uri)
            .await
            .expect_err("plain http to a remote host");
        assert_eq!(error.kind(), TransportErrorKind::InvalidRequest, "{uri}");
        assert!(error.message().contains("loopback"), "{error}");
        assert_no_secrets(&error);
    }
    assert_eq!(transport.connections_opened(), 0);
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection() {
    let server = crate::support::http_server().await;
    let transport = builder().build().expect("transport");
    let shared = transport.clone();

    for page in 0..10 {
        let uri = format!(
            "http://{}/v1.0/engagements/referrals?page={page}",
            server.addr
        );
        let response = get(&shared, &uri).await.expect("response");
        assert_eq!(response.status(), 200);
    }

    assert_eq!(transport.connections_opened(), 1);
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn pooling_can_be_turned_off() {
    let server = crate::support::http_server().await;
    let transport = builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("transport");

    for _ in 0..3 {
        let uri = format!("http://{}/x", server.addr);
        get(&transport, &uri).await.expect("response");
    }

    assert_eq!(transport.connections_opened(), 3);
}

#[tokio::test]
async fn loopback_bypasses_a_configured_proxy() {
    // The proxy port is closed: using it would fail.
    let closed = closed_port().await;
    let proxy_port = closed.port;
    let server = crate::support::http_server().await;
    let transport = builder()
        .https_proxy(format!("http://127.0.0.1:{proxy_port}"))
        .build()
        .expect("transport");

    let response = get(
        &transport,
        &format!("http://localhost:{}/x", server.addr.port()),
    )
    .await
    .expect("direct to loopback");

    assert_eq!(response.status(), 200);
}

#[test]
fn sending_outside_a_tokio_runtime_is_an_error_not_a_panic() {
    let transport = builder().build().expect("transport");
    let mut sending = transport.send(request("GET", "http://127.0.0.1:9/x", b""));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());

    match sending.as_mut().poll(&mut context) {
        std::task::Poll::Ready(Err(error)) => {
            assert_eq!(error.kind(), TransportErrorKind::InvalidRequest);
            assert!(error.message().contains("tokio runtime"), "{error}");
        }
        std::task::Poll::Ready(Ok(_)) => panic!("sent without a runtime"),
        std::task::Poll::Pending => panic!("waited without a runtime"),
    }
}

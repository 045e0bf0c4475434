//! The transport over TLS: trust, ALPN, the connect timeout and `CONNECT` proxies.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{builder, closed_port, get, hold, raw_server, read_head, send, write};
use referrals_hyper::{HyperTransport, TrustRoots};
use referrals_query::transport::TransportErrorKind;
use tokio::net::TcpStream;

#[tokio::test]
async fn https_negotiates_http2_and_multiplexes_on_one_connection() {
    let server = crate::support::https_server().await;
    let transport = builder().build().expect("transport");

    for page in 0..10 {
        let uri = format!(
            "https://localhost:{}/v1.0/engagements/referrals?page={page}",
            server.addr.port()
        );
        let response = get(&transport, &uri).await.expect("response");
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert_eq!(response.headers()["x-version"], "HTTP/2.0");
        assert_eq!(response.body().as_ref(), b"hello");
    }

    assert_eq!(transport.connections_opened(), 1);
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn https_falls_back_to_http1_when_the_server_offers_only_http1() {
    let server = crate::support::https_server_http1_only().await;
    let transport = builder().build().expect("transport");

    for _ in 0..3 {
        let uri = format!("https://localhost:{}/x", server.addr.port());
        let response = get(&transport, &uri).await.expect("response");
        assert_eq!(response.version(), http::Version::HTTP_11);
    }
    assert_eq!(transport.connections_opened(), 1);
}

#[tokio::test]
async fn https_post_over_http2_sends_the_body() {
    let server = crate::support::https_server().await;
    let transport = builder().build().expect("transport");
    let uri = format!(
        "https://127.0.0.1:{}/v1.0/engagements/referrals",
        server.addr.port()
    );

    let response = send(&transport, "POST", &uri, b"{\"type\":\"Shared\"}")
        .await
        .expect("response");

    assert_eq!(response.headers()["x-method"], "POST");
    assert_eq!(response.body().as_ref(), b"{\"type\":\"Shared\"}");
}

#[tokio::test]
async fn untrusted_certificate_is_a_connect_error() {
    let server = crate::support::https_server().await;
    // The compiled-in roots do not include the test CA.
    let transport = HyperTransport::builder()
        .no_proxy()
        .roots(TrustRoots::Webpki)
        .build()
        .expect("transport");
    let uri = format!("https://localhost:{}/x", server.addr.port());

    let error = get(&transport, &uri).await.expect_err("untrusted");

    assert_eq!(error.kind(), TransportErrorKind::Connect);
    assert!(!error.kind().may_have_reached_server());
    assert!(error.message().contains("certificate"), "{error}");
}

#[tokio::test]
async fn tls_handshake_that_never_finishes_is_a_connect_timeout() {
    // Accepts TCP, then never answers the ClientHello.
    let addr = raw_server(hold).await;
    let transport = builder()
        .connect_timeout(Duration::from_millis(200))
        .build()
        .expect("transport");

    let error = get(&transport, &format!("https://localhost:{}/x", addr.port()))
        .await
        .expect_err("handshake never finishes");

    assert_eq!(error.kind(), TransportErrorKind::ConnectTimeout);
    assert!(!error.kind().may_have_reached_server());
    assert!(error.message().contains("200ms"), "{error}");
}

/// A `CONNECT` proxy that records each request head, answers `status`, and on 200 pipes the
/// tunnel to `upstream` whatever host was asked for.
async fn connect_proxy(
    status: &'static str,
    upstream: std::net::SocketAddr,
) -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&heads);
    let addr = raw_server(move |mut client| {
        let seen = Arc::clone(&seen);
        async move {
            let head = read_head(&mut client).await;
            seen.lock().expect("heads").push(head);
            write(&mut client, format!("HTTP/1.1 {status}\r\n\r\n").as_bytes()).await;
            if status.starts_with("200") {
                let Ok(mut server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        }
    })
    .await;
    (addr, heads)
}

#[tokio::test]
async fn https_goes_through_a_connect_tunnel_with_proxy_credentials() {
    let server = crate::support::https_server().await;
    let (proxy, heads) = connect_proxy("200 Connection established", server.addr).await;
    let transport = builder()
        .https_proxy(format!("http://user:pw@{proxy}"))
        .build()
        .expect("transport");

    // `api.example.test` does not resolve: only the proxy can have reached it.
    let response = get(
        &transport,
        "https://api.example.test/v1.0/engagements/referrals",
    )
    .await
    .expect("tunnelled response");

    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), b"hello");
    let heads = heads.lock().expect("heads").clone();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0].starts_with("CONNECT api.example.test:443 HTTP/1.1\r\n"),
        "{heads:?}"
    );
    // base64("user:pw")
    assert!(
        heads[0].contains("Proxy-Authorization: Basic dXNlcjpwdw==\r\n"),
        "{heads:?}"
    );
    // The bearer token travels inside TLS, never in the proxy's view.
    assert!(!heads[0].contains("SECRET-TOKEN-VALUE"), "{heads:?}");
    assert_eq!(transport.connections_opened(), 1);
}

#[tokio::test]
async fn proxy_refusing_the_tunnel_is_a_connect_error() {
    let server = crate::support::https_server().await;
    let (proxy, _) = connect_proxy("407 Proxy Authentication Required", server.addr).await;
    let transport = builder()
        .https_proxy(format!("http://{proxy}"))
        .build()
        .expect("transport");

    let error = get(&transport, "https://api.example.test/x")
        .await
        .expect_err("tunnel refused");

    assert_eq!(error.kind(), TransportErrorKind::Connect);
    assert!(error.message().contains("proxy"), "{error}");
    assert!(
        error.message().contains("authorization required"),
        "{error}"
    );
}

#[tokio::test]
async fn unreachable_proxy_is_a_connect_error() {
    let closed = closed_port().await;
    let proxy_port = closed.port;
    let transport = builder()
        .https_proxy(format!("http://127.0.0.1:{proxy_port}"))
        .build()
        .expect("transport");

    let error = get(&transport, "https://api.example.test/x")
        .await
        .expect_err("proxy down");

    assert_eq!(error.kind(), TransportErrorKind::Connect);
    assert!(
        error.message().contains(&format!("127.0.0.1:{proxy_port}")),
        "{error}"
    );
}

#[tokio::test]
async fn silent_proxy_is_a_connect_timeout() {
    let proxy = raw_server(hold).await;
    let transport = builder()
        .https_proxy(format!("http://{proxy}"))
        .connect_timeout(Duration::from_millis(200))
        .build()
        .expect("transport");

    let error = get(&transport, "https://api.example.test/x")
        .await
        .expect_err("proxy never answers");

    assert_eq!(error.kind(), TransportErrorKind::ConnectTimeout);
}

/// The environment's proxy variables are read when the transport is built. Environment
/// variables are process-wide, so each case runs [`env_proxy_child`] in a child process.
#[tokio::test]
async fn proxy_settings_come_from_the_environment() {
    let server = crate::support::https_server().await;
    let (proxy, heads) = connect_proxy("200 Connection established", server.addr).await;
    let proxy_url = format!("http://{proxy}");

    // Lower-case `https_proxy` is honoured: the request is tunnelled.
    run_child(&[("https_proxy", proxy_url.as_str())], "proxied").await;
    assert_eq!(heads.lock().expect("heads").len(), 1);

    // `NO_PROXY` wins over `HTTPS_PROXY`: the request goes direct (and `.test` never resolves).
    run_child(
        &[
            ("HTTPS_PROXY", proxy_url.as_str()),
            ("NO_PROXY", "localhost,.example.test"),
        ],
        "direct",
    )
    .await;
    assert_eq!(heads.lock().expect("heads").len(), 1);
}

async fn run_child(vars: &[(&str, &str)], expect: &str) {
    let mut command = std::process::Command::new(std::env::current_exe().expect("test binary"));
    command.args([
        // The test's path in this binary (`tls` is its module in tests/it/main.rs).
        "tls::env_proxy_child",
        "--exact",
        "--ignored",
        "--test-threads=1",
    ]);
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "REQUEST_METHOD",
    ] {
        command.env_remove(name);
    }
    command.envs(vars.iter().copied());
    command.env("REFERRALS_HYPER_CHILD_EXPECT", expect);
    // The servers live in this process: wait for the child off the runtime thread.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("child process");
    assert!(
        output.status.success(),
        "child ({expect}) failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Guards against the filter matching nothing, which would also exit successfully.
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 passed"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// The child half of [`proxy_settings_come_from_the_environment`]. Run on its own (e.g. with
/// `--include-ignored`) it has nothing to check and returns.
#[tokio::test]
#[ignore = "run in a child process by proxy_settings_come_from_the_environment"]
async fn env_proxy_child() {
    let Ok(expect) = std::env::var("REFERRALS_HYPER_CHILD_EXPECT") else {
        return;
    };
    let transport = HyperTransport::builder()
        .connect_timeout(Duration::from_secs(2))
        .roots(TrustRoots::Webpki)
        .add_root_certificates_pem(crate::support::CA_PEM)
        .build()
        .expect("transport");
    let result = get(&transport, "https://api.example.test/x").await;
    match expect.as_str() {
        "proxied" => assert_eq!(result.expect("tunnelled response").status(), 200),
        "direct" => assert_eq!(
            result
                .expect_err("api.example.test does not resolve")
                .kind(),
            TransportErrorKind::Connect
        ),
        other => panic!("unknown expectation {other}"),
    }
}

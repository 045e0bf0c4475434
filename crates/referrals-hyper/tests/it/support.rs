//! Small loopback servers for the transport tests: a well-behaved hyper server (plain or TLS)
//! and raw TCP peers that misbehave on purpose.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use referrals_hyper::{HyperTransport, HyperTransportBuilder, TrustRoots};
use referrals_query::transport::{Transport, TransportError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The test CA that signed `server.pem` (for `api.example.test`, `localhost`, `127.0.0.1`).
pub const CA_PEM: &[u8] = include_bytes!("../certs/ca.pem");
const SERVER_PEM: &[u8] = include_bytes!("../certs/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("../certs/server.key");

/// A builder that ignores the environment's proxies and trusts only the test CA, so tests do
/// not depend on the machine they run on.
pub fn builder() -> HyperTransportBuilder {
    HyperTransport::builder()
        .no_proxy()
        .roots(TrustRoots::Webpki)
        .add_root_certificates_pem(CA_PEM)
}

/// Guards a test against hanging if the behaviour under test is broken.
pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("the transport did not give up in time")
}

/// A request with the headers the client sends, including a bearer token that must never show
/// up in an error.
pub fn request(method: &str, uri: &str, body: &'static [u8]) -> http::Request<Bytes> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", "Bearer SECRET-TOKEN-VALUE")
        .header("accept", "application/json")
        .body(Bytes::from_static(body))
        .expect("test request")
}

/// A running well-behaved server and how many connections it accepted.
pub struct Server {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
}

impl Server {
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Answers every request with 200 and:
/// - headers `x-method`, `x-path` (path and query), `x-accept`, `x-version` describing it;
/// - for `/big?n=N`, a body of N bytes; otherwise the request body, or `hello` when empty.
async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().to_string();
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let accept = request
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let version = format!("{:?}", request.version());
    let big = request
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("n="))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|_| request.uri().path() == "/big");
    let received = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = match big {
        Some(n) => Bytes::from(vec![b'a'; n]),
        None if received.is_empty() => Bytes::from_static(b"hello"),
        None => received,
    };
    Ok(Response::builder()
        .header("x-method", method)
        .header("x-path", path)
        .header("x-accept", accept)
        .header("x-version", version)
        .body(Full::new(body))
        .expect("static response"))
}

/// A plain-HTTP hyper server (HTTP/1.1 and h2c) on 127.0.0.1.
pub async fn http_server() -> Server {
    serve(None).await
}

/// A TLS hyper server on 127.0.0.1 offering `h2` and `http/1.1` by ALPN.
pub async fn https_server() -> Server {
    serve(Some(tls_acceptor(&[b"h2", b"http/1.1"]))).await
}

/// A TLS hyper server on 127.0.0.1 offering only `http/1.1` by ALPN.
pub async fn https_server_http1_only() -> Server {
    serve(Some(tls_acceptor(&[b"http/1.1"]))).await
}

async fn serve(tls: Option<tokio_rustls::TlsAcceptor>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve_connection(stream).await;
                        }
                    }
                    None => serve_connection(stream).await,
                }
            });
        }
    });
    Server { addr, accepted }
}

async fn serve_connection(io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) {
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), service_fn(echo))
        .await;
}

fn tls_acceptor(alpn: &[&[u8]]) -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = CertificateDer::pem_slice_iter(SERVER_PEM)
        .collect::<Result<Vec<_>, _>>()
        .expect("server.pem");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).expect("server.key");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server certificate");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A raw TCP peer on 127.0.0.1 that runs `script` on every accepted connection.
pub async fn raw_server<F, Fut>(script: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(script(stream));
        }
    });
    addr
}

/// What a scripted peer does after its answer.
#[derive(Debug, Clone, Copy)]
pub enum Then {
    /// Keeps the connection open without sending more.
    Hold,
    /// Closes the connection.
    Close,
}

/// A raw TCP peer on 127.0.0.1 that reads each request head, writes `answer` as it is and
/// then holds or closes the connection.
pub async fn answering(answer: &'static [u8], then: Then) -> SocketAddr {
    raw_server(move |mut stream| async move {
        read_head(&mut stream).await;
        write(&mut stream, answer).await;
        if let Then::Hold = then {
            hold(stream).await;
        }
    })
    .await
}

/// Sends `method` to `uri` with `body` (see [`request`]), bounded by [`within`].
pub async fn send(
    transport: &HyperTransport,
    method: &str,
    uri: &str,
    body: &'static [u8],
) -> Result<http::Response<Bytes>, TransportError> {
    within(transport.send(request(method, uri, body))).await
}

/// `GET uri` (see [`send`]).
pub async fn get(
    transport: &HyperTransport,
    uri: &str,
) -> Result<http::Response<Bytes>, TransportError> {
    send(transport, "GET", uri, b"").await
}

/// `http://{addr}/x`: a path on a raw peer.
pub fn at(addr: SocketAddr) -> String {
    format!("http://{addr}/x")
}

/// Reads up to the end of a request head and returns it.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Keeps the connection open without sending anything until the client goes away.
pub async fn hold(mut stream: TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

/// Writes `bytes`, ignoring a client that already left.
pub async fn write(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes).await;
    let _ = stream.flush().await;
}

/// A port on 127.0.0.1 where nothing listens, held while the result lives.
pub async fn closed_port() -> ClosedPort {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    ClosedPort {
        port,
        _socket: socket,
    }
}

/// A loopback port nothing listens on, held while this lives: bound but never listening, so
/// connections are refused and no server of a test running alongside is given the port (a
/// released port could be, and would then answer).
#[derive(Debug)]
pub struct ClosedPort {
    pub port: u16,
    _socket: tokio::net::TcpSocket,
}

//! Opening connections: TCP (counted), an optional `CONNECT` tunnel, TLS, all under one
//! connect timeout.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use http::uri::Scheme;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use referrals_query::is_loopback_host;

pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;
type BoxConnecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// The connection type the pool holds.
pub(crate) type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

/// The whole connect phase under one deadline, so a slow TLS handshake or a silent proxy is
/// reported as a connect timeout (the request was never sent), not as a request timeout.
#[derive(Clone)]
pub(crate) struct Connector {
    https: HttpsConnector<Dialer>,
    timeout: Duration,
}

impl Connector {
    pub(crate) fn new(
        tls: rustls::ClientConfig,
        proxy: Option<Arc<Matcher>>,
        timeout: Duration,
        opened: Arc<AtomicU64>,
    ) -> Self {
        let mut tcp = HttpConnector::new();
        // `https` URIs reach this connector too; TLS is layered on top by `HttpsConnector`.
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let dialer = Dialer { tcp, proxy, opened };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(dialer);
        Connector { https, timeout }
    }
}

impl Service<Uri> for Connector {
    type Response = Stream;
    type Error = BoxError;
    type Future = BoxConnecting<Stream>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.https.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let connecting = self.https.call(dst);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(ConnectTimedOut { after: timeout }) as BoxError),
            }
        })
    }
}

/// The connect phase did not finish within the connect timeout.
#[derive(Debug)]
pub(crate) struct ConnectTimedOut {
    after: Duration,
}

impl fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connecting took longer than {:?}", self.after)
    }
}

impl StdError for ConnectTimedOut {}

/// A TCP stream to the destination, directly or through an HTTP `CONNECT` tunnel.
#[derive(Clone)]
pub(crate) struct Dialer {
    tcp: HttpConnector,
    proxy: Option<Arc<Matcher>>,
    opened: Arc<AtomicU64>,
}

impl Service<Uri> for Dialer {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = BoxConnecting<TokioIo<TcpStream>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // `HttpConnector` is always ready; a fresh clone is used per call.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let counting = Counting {
            tcp: self.tcp.clone(),
            opened: Arc::clone(&self.opened),
        };
        let host = dst.host().unwrap_or_default();
        let loopback = is_loopback_host(host);
        // Only `https` is tunnelled: plain `http` is only ever sent to loopback, and loopback
        // never goes through a proxy.
        let intercept = match &self.proxy {
            Some(matcher) if !loopback && dst.scheme() == Some(&Scheme::HTTPS) => {
                matcher.intercept(&dst)
            }
            _ => None,
        };
        let Some(intercept) = intercept else {
            let must_be_loopback = dst.scheme() == Some(&Scheme::HTTP);
            return Box::pin(counting.connect(dst, must_be_loopback));
        };
        let proxy_uri = intercept.uri().clone();
        let proxy_shown = format!(
            "{}://{}",
            proxy_uri.scheme_str().unwrap_or("http"),
            proxy_uri
                .authority()
                .map(|a| a.as_str())
                .unwrap_or_default()
        );
        if proxy_uri.scheme() != Some(&Scheme::HTTP) {
            return Box::pin(async move {
                Err(Box::new(ProxyError {
                    proxy: proxy_shown,
                    problem: "only http:// proxies are supported (no TLS to the proxy, no SOCKS)",
                    source: None,
                }) as BoxError)
            });
        }
        let mut tunnel = Tunnel::new(proxy_uri, counting);
        if let Some(auth) = intercept.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        tracing::debug!(proxy = %proxy_shown, destination = %host, "tunnelling through proxy");
        Box::pin(async move {
            tunnel.call(dst).await.map_err(|e| {
                Box::new(ProxyError {
                    proxy: proxy_shown,
                    problem: "CONNECT tunnel failed",
                    source: Some(Box::new(e)),
                }) as BoxError
            })
        })
    }
}

/// The proxy could not be used; the request never reached the destination.
#[derive(Debug)]
pub(crate) struct ProxyError {
    proxy: String,
    problem: &'static str,
    source: Option<BoxError>,
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "proxy {}: {}", self.proxy, self.problem)
    }
}

impl StdError for ProxyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

/// Opens TCP connections and counts the ones that succeed.
#[derive(Clone)]
pub(crate) struct Counting {
    tcp: HttpConnector,
    opened: Arc<AtomicU64>,
}

impl Counting {
    async fn connect(
        mut self,
        dst: Uri,
        must_be_loopback: bool,
    ) -> Result<TokioIo<TcpStream>, BoxError> {
        let io = self.tcp.call(dst).await?;
        let total = self.opened.fetch_add(1, Ordering::Relaxed) + 1;
        let peer = io.inner().peer_addr().ok();
        tracing::debug!(
            peer = peer.map(tracing::field::display),
            connections_opened = total,
            "opened a new TCP connection"
        );
        // `localhost` is a name: make sure it did resolve to loopback before plain text
        // (possibly carrying a bearer token) goes out.
        let peer_is_loopback = peer.is_some_and(|p| is_loopback_host(&p.ip().to_string()));
        if must_be_loopback && !peer_is_loopback {
            return Err(Box::new(NotLoopback { peer }) as BoxError);
        }
        Ok(io)
    }
}

impl Service<Uri> for Counting {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = BoxConnecting<TokioIo<TcpStream>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        Box::pin(self.clone().connect(dst, false))
    }
}

/// A plain-`http` destination resolved to a non-loopback address.
#[derive(Debug)]
struct NotLoopback {
    peer: Option<std::net::SocketAddr>,
}

impl fmt::Display for NotLoopback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.peer {
            Some(peer) => write!(
                f,
                "plain http is allowed only to loopback, but the host resolved to {}",
                peer.ip()
            ),
            None => f.write_str("plain http is allowed only to loopback, and the peer is unknown"),
        }
    }
}

impl StdError for NotLoopback {}

//! The HTTPS transport of the referrals client: hyper 1 with hyper-util's connection pool,
//! rustls on the `ring` provider, HTTP/1.1 and HTTP/2 chosen by ALPN, on tokio.
//!
//! [`HyperTransport`] implements [`referrals_query::transport::Transport`]: it sends one request
//! and returns the complete response, and does nothing else (no retries, no authentication, no
//! redirects; the client decides those). What it guarantees:
//!
//! - **Every wait is bounded**: a connect timeout (DNS, TCP, proxy and TLS together), a
//!   per-attempt timeout (the whole exchange) and an idle-read timeout (the longest gap in a
//!   response body). All have finite defaults.
//! - **Bodies are capped** (32 MiB by default): a larger `Content-Length` is refused before the
//!   body is read, and a streamed body as soon as it passes the cap.
//! - **Plain `http` only to loopback** (`127.0.0.0/8`, `::1`, `localhost`); anything else must be
//!   `https`. The check happens before any connection is made.
//! - **Errors say whether the request may have reached the server**
//!   ([`TransportErrorKind::may_have_reached_server`]), and name the request as
//!   `METHOD scheme://host:port/path`: never a header, never the query string.
//! - **Proxies**: `HTTPS_PROXY` / `ALL_PROXY` / `NO_PROXY` (either case) are honoured by
//!   default; `https` traffic is tunnelled through the proxy with `CONNECT`.
//!
//! ```no_run
//! use bytes::Bytes;
//! use referrals_hyper::HyperTransport;
//! use referrals_query::transport::Transport;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let transport = HyperTransport::new();
//! let request = http::Request::get("https://api.partner.microsoft.com/v1.0/engagements/referrals")
//!     .header("Authorization", "Bearer <token>")
//!     .header("Accept", "application/json")
//!     .body(Bytes::new())?;
//! let response = transport.send(request).await?;
//! println!("{} ({} bytes)", response.status(), response.body().len());
//! println!("TCP connections opened so far: {}", transport.connections_opened());
//! # Ok(())
//! # }
//! ```
//!
//! [`TransportErrorKind::may_have_reached_server`]: referrals_query::transport::TransportErrorKind::may_have_reached_server
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod body;
mod config;
mod connector;
mod errors;
mod target;
mod tls;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http::Version;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use referrals_query::transport::{BoxFuture, Transport, TransportError, TransportErrorKind};

use crate::body::BodyLimits;
pub use crate::config::{
    BuildError, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_READ_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_POOL_IDLE_TIMEOUT, DEFAULT_POOL_MAX_IDLE_PER_HOST,
    HyperTransportBuilder, TrustRoots,
};
use crate::config::{ProxyChoice, Settings};
use crate::connector::Connector;
use crate::target::Target;

/// An HTTPS [`Transport`] on hyper, with a connection pool shared by all clones.
///
/// Cloning is cheap (one `Arc`); clones share the pool and the connection counter. Must be
/// used from within a tokio runtime (a request sent outside one fails with
/// [`TransportErrorKind::InvalidRequest`]).
#[derive(Clone)]
pub struct HyperTransport {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client<Connector, Full<Bytes>>,
    settings: Settings,
    proxy: Option<Arc<Matcher>>,
    opened: Arc<AtomicU64>,
}

impl HyperTransport {
    /// A transport with the default settings (see [`HyperTransportBuilder`]): 10 s connect,
    /// 60 s attempt and 30 s idle-read timeouts, a 32 MiB body cap, the compiled-in and system
    /// trust roots, and proxies from the environment.
    ///
    /// Needs no runtime to be created; sending does. Use [`builder`](Self::builder) to change
    /// any setting.
    ///
    /// # Panics
    /// Never in practice: the only fallible step is rustls accepting the `ring` provider's
    /// default protocol versions, which is fixed at compile time (and covered by a test).
    #[allow(clippy::expect_used)] // a compile-time fact, see "Panics" above
    pub fn new() -> Self {
        let tls = tls::client_config(tls::default_root_store())
            .expect("rustls accepts the ring provider with its default protocol versions");
        Self::assemble(Settings::default(), tls)
    }

    /// Starts configuring a transport.
    pub fn builder() -> HyperTransportBuilder {
        HyperTransportBuilder::default()
    }

    /// How many TCP connections this transport (and its clones) has opened, including
    /// connections to a proxy. With a warm pool, sequential requests to one host open one.
    pub fn connections_opened(&self) -> u64 {
        self.inner.opened.load(Ordering::Relaxed)
    }

    pub(crate) fn assemble(settings: Settings, tls: rustls::ClientConfig) -> Self {
        let proxy = match &settings.proxy {
            ProxyChoice::FromEnv => Some(Arc::new(Matcher::from_env())),
            ProxyChoice::Disabled => None,
            ProxyChoice::Explicit(url) => {
                Some(Arc::new(Matcher::builder().https(url.as_str()).build()))
            }
        };
        let opened = Arc::new(AtomicU64::new(0));
        let connector = Connector::new(
            tls,
            proxy.clone(),
            settings.connect_timeout,
            Arc::clone(&opened),
        );
        let client = Client::builder(TokioExecutor::new())
            .timer(TokioTimer::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            .build(connector);
        HyperTransport {
            inner: Arc::new(Inner {
                client,
                settings,
                proxy,
                opened,
            }),
        }
    }
}

impl Default for HyperTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HyperTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner.settings;
        f.debug_struct("HyperTransport")
            .field("connect_timeout", &s.connect_timeout)
            .field("attempt_timeout", &s.attempt_timeout)
            .field("idle_read_timeout", &s.idle_read_timeout)
            .field("max_body_bytes", &s.max_body_bytes)
            .field("pool_idle_timeout", &s.pool_idle_timeout)
            .field("pool_max_idle_per_host", &s.pool_max_idle_per_host)
            .field("roots", &s.roots)
            // hyper-util's `Matcher` prints proxy addresses without their credentials.
            .field("proxy", &self.inner.proxy)
            .field("connections_opened", &self.connections_opened())
            .finish()
    }
}

impl Transport for HyperTransport {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, TransportError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.send(request).await })
    }
}

impl Inner {
    async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let target = Target::check(request.method(), request.uri())?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(TransportError::new(
                TransportErrorKind::InvalidRequest,
                format!("{target}: HyperTransport must be used inside a tokio runtime"),
            ));
        }
        let (mut parts, body) = request.into_parts();
        // The protocol is negotiated per connection by ALPN; hyper speaks HTTP/2 on a
        // connection that negotiated it whatever the request says.
        parts.version = Version::HTTP_11;
        let request = http::Request::from_parts(parts, Full::new(body));
        let started = Instant::now();
        let attempt_timeout = self.settings.attempt_timeout;
        let result = match tokio::time::timeout(attempt_timeout, self.exchange(request, &target))
            .await
        {
            Ok(result) => result,
            Err(_) => Err(TransportError::new(
                TransportErrorKind::Timeout,
                format!(
                    "{target}: no complete response within the {attempt_timeout:?} attempt timeout"
                ),
            )),
        };
        match &result {
            Ok(response) => tracing::debug!(
                request = %target,
                status = response.status().as_u16(),
                version = ?response.version(),
                body_bytes = response.body().len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "response received"
            ),
            Err(error) => tracing::debug!(
                request = %target,
                kind = ?error.kind(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request failed"
            ),
        }
        result
    }

    async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
        target: &Target,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let response = self.client.request(request).await.map_err(|error| {
            errors::from_client_error(error, target, self.settings.connect_timeout)
        })?;
        let limits = BodyLimits {
            max_bytes: self.settings.max_body_bytes,
            idle_timeout: self.settings.idle_read_timeout,
        };
        let (parts, body) = response.into_parts();
        let declared = body::check_declared_length(parts.status, &parts.headers, limits, target)?;
        let bytes = body::read_capped(body, declared, limits, target).await?;
        Ok(http::Response::from_parts(parts, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_is_shareable() {
        fn assert_bounds<T: Send + Sync + Clone + fmt::Debug + 'static>() {}
        assert_bounds::<HyperTransport>();
    }

    #[test]
    fn new_builds_with_the_default_settings() {
        let shown = format!("{:?}", HyperTransport::new());
        assert!(shown.contains("connect_timeout: 10s"), "{shown}");
    }

    #[test]
    fn defaults_are_finite_and_printed() {
        let transport = HyperTransport::builder()
            .no_proxy()
            .build()
            .expect("defaults");
        let shown = format!("{transport:?}");
        assert!(shown.contains("attempt_timeout: 60s"), "{shown}");
        assert!(shown.contains("max_body_bytes: 33554432"), "{shown}");
    }

    #[test]
    fn zero_settings_are_refused_with_their_name() {
        let err = HyperTransport::builder()
            .attempt_timeout(std::time::Duration::ZERO)
            .build()
            .unwrap_err();
        assert!(err.message().contains("attempt_timeout"), "{err}");
        let err = HyperTransport::builder()
            .max_body_bytes(0)
            .build()
            .unwrap_err();
        assert!(err.message().contains("max_body_bytes"), "{err}");
    }

    #[test]
    fn explicit_proxy_is_checked_and_redacted() {
        let err = HyperTransport::builder()
            .https_proxy("socks5://me:secret@proxy.local:1080")
            .build()
            .unwrap_err();
        assert!(err.message().contains("socks5"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");

        let builder = HyperTransport::builder().https_proxy("http://me:secret@proxy.local:3128");
        assert!(!format!("{builder:?}").contains("secret"));
        let transport = builder.build().expect("valid proxy");
        let shown = format!("{transport:?}");
        assert!(shown.contains("proxy.local:3128"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn bad_extra_roots_are_refused() {
        let err = HyperTransport::builder()
            .add_root_certificates_pem("not a certificate")
            .build()
            .unwrap_err();
        assert!(err.message().contains("add_root_certificates_pem"), "{err}");
    }
}

//! The builder and the settings it validates.

use std::fmt;
use std::time::Duration;

use http::Uri;
use http::uri::Scheme;

use crate::HyperTransport;
use crate::target::redact_uri;

/// Default for [`HyperTransportBuilder::connect_timeout`]: 10 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`HyperTransportBuilder::attempt_timeout`]: 60 seconds.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default for [`HyperTransportBuilder::idle_read_timeout`]: 30 seconds.
pub const DEFAULT_IDLE_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`HyperTransportBuilder::max_body_bytes`]: 32 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Default for [`HyperTransportBuilder::pool_idle_timeout`]: 90 seconds.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Default for [`HyperTransportBuilder::pool_max_idle_per_host`]: 64 connections, so that a
/// client running a few dozen listings at once reuses its connections instead of reopening them
/// (idle connections cost a socket each and close after the idle timeout).
pub const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 64;

/// Which certificate authorities the transport trusts for `https`.
///
/// Certificates added with [`HyperTransportBuilder::add_root_certificates_pem`] are trusted
/// in addition to the chosen set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TrustRoots {
    /// Mozilla's root program, compiled in (the `webpki-roots` crate). Works everywhere, the same
    /// everywhere; does not know about a company's own CA.
    Webpki,
    /// The operating system's store (the `rustls-native-certs` crate), read when the transport
    /// is built. Building fails if the store holds no usable certificate.
    Native,
    /// Both of the above. Native certificates that cannot be loaded are skipped (the compiled-in
    /// set remains), so this never fails to build.
    #[default]
    WebpkiAndNative,
}

/// Where the transport sends `https` traffic through an HTTP `CONNECT` proxy.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum ProxyChoice {
    /// `HTTPS_PROXY`/`https_proxy`, `HTTP_PROXY`/`http_proxy`, `ALL_PROXY`/`all_proxy` and
    /// `NO_PROXY`/`no_proxy`, read when the transport is built.
    FromEnv,
    /// Never use a proxy.
    Disabled,
    /// This proxy for every `https` destination.
    Explicit(String),
}

impl fmt::Debug for ProxyChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyChoice::FromEnv => f.write_str("FromEnv"),
            ProxyChoice::Disabled => f.write_str("Disabled"),
            // The URL may carry `user:password@`.
            ProxyChoice::Explicit(url) => write!(f, "Explicit({})", redact_uri(url)),
        }
    }
}

/// The validated settings of a [`HyperTransport`].
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) connect_timeout: Duration,
    pub(crate) attempt_timeout: Duration,
    pub(crate) idle_read_timeout: Duration,
    pub(crate) max_body_bytes: usize,
    pub(crate) pool_idle_timeout: Duration,
    pub(crate) pool_max_idle_per_host: usize,
    pub(crate) roots: TrustRoots,
    pub(crate) proxy: ProxyChoice,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
            idle_read_timeout: DEFAULT_IDLE_READ_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: DEFAULT_POOL_MAX_IDLE_PER_HOST,
            roots: TrustRoots::default(),
            proxy: ProxyChoice::FromEnv,
        }
    }
}

/// Configures a [`HyperTransport`]; start with [`HyperTransport::builder`].
///
/// Every wait is bounded by default; each setter documents its default and allowed range.
/// Settings are checked by [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// use referrals_hyper::{HyperTransport, TrustRoots};
///
/// let transport = HyperTransport::builder()
///     .connect_timeout(Duration::from_secs(5))
///     .attempt_timeout(Duration::from_secs(30))
///     .max_body_bytes(8 * 1024 * 1024)
///     .roots(TrustRoots::Webpki)
///     .no_proxy()
///     .build()?;
/// # drop(transport);
/// # Ok::<(), referrals_hyper::BuildError>(())
/// ```
#[derive(Clone, Default)]
pub struct HyperTransportBuilder {
    settings: Settings,
    extra_roots_pem: Vec<Vec<u8>>,
}

impl fmt::Debug for HyperTransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperTransportBuilder")
            .field("settings", &self.settings)
            .field("extra_root_pem_inputs", &self.extra_roots_pem.len())
            .finish()
    }
}

impl HyperTransportBuilder {
    /// Bound on opening a connection: DNS, TCP, proxy `CONNECT` and TLS handshake together.
    /// Exceeding it gives [`TransportErrorKind::ConnectTimeout`]. Default 10 s; must be > 0.
    ///
    /// [`TransportErrorKind::ConnectTimeout`]: referrals_query::transport::TransportErrorKind::ConnectTimeout
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Bound on one whole exchange: connecting, sending, the response head and the whole body.
    /// Exceeding it gives [`TransportErrorKind::Timeout`]. Default 60 s; must be > 0.
    ///
    /// [`TransportErrorKind::Timeout`]: referrals_query::transport::TransportErrorKind::Timeout
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.settings.attempt_timeout = timeout;
        self
    }

    /// Longest wait for the next piece of a response body once the head has arrived, so a
    /// stalled peer is noticed before the attempt timeout. Exceeding it gives
    /// [`TransportErrorKind::Timeout`]. Default 30 s; must be > 0.
    ///
    /// [`TransportErrorKind::Timeout`]: referrals_query::transport::TransportErrorKind::Timeout
    pub fn idle_read_timeout(mut self, timeout: Duration) -> Self {
        self.settings.idle_read_timeout = timeout;
        self
    }

    /// Largest response body accepted, in bytes. A larger `Content-Length` is refused before
    /// reading the body, and a streamed body is refused as soon as it passes the cap, with
    /// [`TransportErrorKind::BodyTooLarge`]. Default 32 MiB; must be > 0.
    ///
    /// [`TransportErrorKind::BodyTooLarge`]: referrals_query::transport::TransportErrorKind::BodyTooLarge
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.settings.max_body_bytes = limit;
        self
    }

    /// How long an unused pooled connection is kept. Default 90 s; must be > 0.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.settings.pool_idle_timeout = timeout;
        self
    }

    /// How many unused connections are kept per host (0 disables reuse). Default 16.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.settings.pool_max_idle_per_host = max;
        self
    }

    /// Which certificate authorities to trust. Default [`TrustRoots::WebpkiAndNative`].
    pub fn roots(mut self, roots: TrustRoots) -> Self {
        self.settings.roots = roots;
        self
    }

    /// Also trusts every certificate in `pem` (one or more `BEGIN CERTIFICATE` blocks), e.g. a
    /// company's TLS-inspecting proxy CA. Checked by [`build`](Self::build).
    pub fn add_root_certificates_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.extra_roots_pem.push(pem.as_ref().to_vec());
        self
    }

    /// Whether to read `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (upper or lower case) when
    /// building. Default `true`. `false` means no proxy, unless [`https_proxy`](Self::https_proxy)
    /// is called after this.
    ///
    /// Loopback destinations never go through a proxy; plain `http` is only allowed to loopback,
    /// so `HTTP_PROXY` never applies.
    pub fn proxy_from_env(mut self, enabled: bool) -> Self {
        self.settings.proxy = if enabled {
            ProxyChoice::FromEnv
        } else {
            ProxyChoice::Disabled
        };
        self
    }

    /// Never uses a proxy, whatever the environment says.
    pub fn no_proxy(self) -> Self {
        self.proxy_from_env(false)
    }

    /// Sends every `https` request to a non-loopback host through this HTTP proxy with
    /// `CONNECT`, ignoring the environment. `url` is `http://[user:password@]host:port`; the
    /// credentials, if any, go in `Proxy-Authorization: Basic`. TLS to the proxy itself
    /// (`https://` proxy URLs) and SOCKS are not supported. Checked by [`build`](Self::build).
    pub fn https_proxy(mut self, url: impl Into<String>) -> Self {
        self.settings.proxy = ProxyChoice::Explicit(url.into());
        self
    }

    /// Checks the settings, loads the trust roots and builds the transport.
    ///
    /// # Errors
    /// A zero timeout or body cap, an unusable proxy URL, a PEM input without a valid
    /// certificate, or [`TrustRoots::Native`] with no usable system certificate.
    pub fn build(self) -> Result<HyperTransport, BuildError> {
        let s = &self.settings;
        for (name, value) in [
            ("connect_timeout", s.connect_timeout),
            ("attempt_timeout", s.attempt_timeout),
            ("idle_read_timeout", s.idle_read_timeout),
            ("pool_idle_timeout", s.pool_idle_timeout),
        ] {
            if value.is_zero() {
                return Err(BuildError::new(format!("{name} must be greater than zero")));
            }
        }
        if s.max_body_bytes == 0 {
            return Err(BuildError::new(
                "max_body_bytes must be at least 1".to_owned(),
            ));
        }
        if let ProxyChoice::Explicit(url) = &s.proxy {
            check_proxy_url(url)?;
        }
        let roots = crate::tls::root_store(s.roots, &self.extra_roots_pem)?;
        let tls = crate::tls::client_config(roots)?;
        Ok(HyperTransport::assemble(self.settings, tls))
    }
}

fn check_proxy_url(url: &str) -> Result<(), BuildError> {
    let shown = redact_uri(url);
    let uri: Uri = url.parse().map_err(|_| {
        BuildError::new(format!(
            "https_proxy: `{shown}` is not a URL; expected http://host:port"
        ))
    })?;
    match uri.scheme() {
        None => {}
        Some(s) if *s == Scheme::HTTP => {}
        Some(other) => {
            return Err(BuildError::new(format!(
                "https_proxy: scheme `{other}` in `{shown}` is not supported; expected \
                 http://host:port (the tunnel to the API is TLS either way)"
            )));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(BuildError::new(format!(
            "https_proxy: `{shown}` has no host; expected http://host:port"
        )));
    }
    Ok(())
}

/// Why [`HyperTransportBuilder::build`] refused the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    message: String,
}

impl BuildError {
    pub(crate) fn new(message: String) -> Self {
        BuildError { message }
    }

    /// What is wrong, naming the setting.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid transport settings: {}", self.message)
    }
}

impl std::error::Error for BuildError {}

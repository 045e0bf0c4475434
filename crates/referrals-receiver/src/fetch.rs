//! Fetching signing certificates: only allowed URLs (a [`CertificateUrl`]), no redirects, a
//! size cap and a time limit, and a bounded cache by URL with a time-to-live, so that a burst
//! of events costs one fetch and a renewed certificate (a new URL) is fetched once.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use referrals::transport::{
    BoxFuture, HyperTransport, Transport, TransportError, TransportErrorKind,
};
use referrals_hyper::BuildError;

use referrals_query::snippet;
use referrals_webhooks::CertificateUrl;
use referrals_webhooks::Refusal;
use referrals_webhooks::SigningCertificate;

/// The largest certificate file accepted: 64 KiB.
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;
/// The longest a certificate fetch may take: 5 s.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a fetched certificate is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(6 * 3600);
/// How many certificate URLs are cached at once.
pub const CACHE_CAPACITY: usize = 8;

/// Why a certificate could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No request could be made for the URL.
    #[error("bad request: {0}")]
    Request(#[source] http::Error),
    /// The answer was larger than the limit; the rest was not read.
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
        /// The transport's error.
        #[source]
        source: TransportError,
    },
    /// The connection or the answer took longer than the time limit.
    #[error("timed out")]
    Timeout(#[source] TransportError),
    /// The request got no answer.
    #[error(transparent)]
    Transport(TransportError),
    /// A redirect, which is never followed.
    #[error("redirect ({0}) not followed")]
    Redirect(http::StatusCode),
    /// Another status than `200`.
    #[error("answered {0}")]
    Status(http::StatusCode),
}

impl From<TransportError> for FetchError {
    fn from(error: TransportError) -> Self {
        match error.kind() {
            TransportErrorKind::BodyTooLarge { limit } => FetchError::TooLarge {
                limit,
                source: error,
            },
            TransportErrorKind::Timeout | TransportErrorKind::ConnectTimeout => {
                FetchError::Timeout(error)
            }
            _ => FetchError::Transport(error),
        }
    }
}

/// Fetches the bytes at an allowed certificate URL.
pub trait CertificateSource: Send + Sync + fmt::Debug + 'static {
    /// The body of a `200` answer, or why there is none.
    fn fetch<'a>(&'a self, url: &'a CertificateUrl) -> BoxFuture<'a, Result<Bytes, FetchError>>;
}

/// Fetches over HTTPS (HTTP on loopback) with the referrals transport: it follows no redirect,
/// caps the body and bounds every wait.
#[derive(Debug, Clone)]
pub struct HttpsCertificateSource {
    transport: HyperTransport,
}

impl HttpsCertificateSource {
    /// With the default limits (64 KiB, 5 s).
    pub fn new() -> Result<HttpsCertificateSource, BuildError> {
        Self::with_limits(MAX_CERTIFICATE_BYTES, FETCH_TIMEOUT)
    }

    /// With other limits (tests use a short timeout).
    pub fn with_limits(
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<HttpsCertificateSource, BuildError> {
        let transport = HyperTransport::builder()
            .max_body_bytes(max_bytes)
            .connect_timeout(timeout)
            .attempt_timeout(timeout)
            .idle_read_timeout(timeout)
            // The listener's environment may route its API calls through a proxy; the
            // certificate host is fixed by the allow-list, so it goes the same way.
            .build()?;
        Ok(HttpsCertificateSource { transport })
    }
}

impl CertificateSource for HttpsCertificateSource {
    fn fetch<'a>(&'a self, url: &'a CertificateUrl) -> BoxFuture<'a, Result<Bytes, FetchError>> {
        Box::pin(async move {
            let request = http::Request::get(url.as_str())
                .header(
                    http::header::ACCEPT,
                    "application/pkix-cert, application/x-pem-file, */*",
                )
                .body(Bytes::new())
                .map_err(FetchError::Request)?;
            let response = self.transport.send(request).await?;
            let status = response.status();
            if status.is_redirection() {
                return Err(FetchError::Redirect(status));
            }
            if status != http::StatusCode::OK {
                return Err(FetchError::Status(status));
            }
            Ok(response.into_body())
        })
    }
}

/// Certificates by URL, parsed once, kept for a time-to-live, at most `capacity` of them (the
/// oldest is dropped first). Concurrent misses for one URL fetch it once.
#[derive(Debug)]
pub struct CertificateCache {
    source: Arc<dyn CertificateSource>,
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<CertificateUrl, Entry>>,
    fetching: tokio::sync::Mutex<()>,
    fetches: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Clone)]
struct Entry {
    fetched_at: Instant,
    certificate: Arc<SigningCertificate>,
}

impl CertificateCache {
    /// A cache in front of `source` with the default TTL and capacity.
    pub fn new(source: Arc<dyn CertificateSource>) -> CertificateCache {
        Self::with_limits(source, CACHE_TTL, CACHE_CAPACITY)
    }

    /// A cache with another TTL and capacity (at least one entry).
    pub fn with_limits(
        source: Arc<dyn CertificateSource>,
        ttl: Duration,
        capacity: usize,
    ) -> CertificateCache {
        CertificateCache {
            source,
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
            fetching: tokio::sync::Mutex::new(()),
            fetches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many fetches were made (hits cost none).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The certificate at `url`, from the cache or fetched and parsed. A failed fetch or an
    /// unreadable certificate is not cached.
    pub async fn get(&self, url: &CertificateUrl) -> Result<Arc<SigningCertificate>, Refusal> {
        if let Some(hit) = self.lookup(url) {
            return Ok(hit);
        }
        let _one_at_a_time = self.fetching.lock().await;
        if let Some(hit) = self.lookup(url) {
            return Ok(hit);
        }
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let bytes =
            self.source
                .fetch(url)
                .await
                .map_err(|error| Refusal::CertificateUnavailable {
                    url: snippet(url.as_str(), 200),
                    // The refusal is the verifier's (plain data: no I/O types); it keeps the
                    // fetch error's words.
                    why: error.to_string(),
                })?;
        let certificate = Arc::new(SigningCertificate::parse(&bytes)?);
        self.insert(url, certificate.clone());
        Ok(certificate)
    }

    fn lookup(&self, url: &CertificateUrl) -> Option<Arc<SigningCertificate>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(url)
            .filter(|entry| entry.fetched_at.elapsed() < self.ttl)
            .map(|entry| entry.certificate.clone())
    }

    fn insert(&self, url: &CertificateUrl, certificate: Arc<SigningCertificate>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, entry| entry.fetched_at.elapsed() < self.ttl);
        while entries.len() >= self.capacity {
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.fetched_at)
                .map(|(url, _)| url.clone());
            match oldest {
                Some(url) => entries.remove(&url),
                None => break,
            };
        }
        entries.insert(
            url.clone(),
            Entry {
                fetched_at: Instant::now(),
                certificate,
            },
        );
    }
}

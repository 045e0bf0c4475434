//! Fetching signing certificates: only allowed URLs (a [`CertificateUrl`]), no redirects, a
//! size cap and a time limit, and a bounded cache by URL with a time-to-live, so that a burst
//! of events costs one fetch and a renewed certificate (a new URL) is fetched once.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use referrals::transport::{BoxFuture, HyperTransport, Transport, TransportErrorKind};

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

/// Fetches the bytes at an allowed certificate URL.
pub trait CertificateSource: Send + Sync + fmt::Debug + 'static {
    /// The body of a `200` answer, or why there is none.
    fn fetch<'a>(&'a self, url: &'a CertificateUrl) -> BoxFuture<'a, Result<Bytes, String>>;
}

/// Fetches over HTTPS (HTTP on loopback) with the referrals transport: it follows no redirect,
/// caps the body and bounds every wait.
#[derive(Debug, Clone)]
pub struct HttpsCertificateSource {
    transport: HyperTransport,
}

impl HttpsCertificateSource {
    /// With the default limits (64 KiB, 5 s).
    pub fn new() -> Result<HttpsCertificateSource, String> {
        Self::with_limits(MAX_CERTIFICATE_BYTES, FETCH_TIMEOUT)
    }

    /// With other limits (tests use a short timeout).
    pub fn with_limits(
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<HttpsCertificateSource, String> {
        let transport = HyperTransport::builder()
            .max_body_bytes(max_bytes)
            .connect_timeout(timeout)
            .attempt_timeout(timeout)
            .idle_read_timeout(timeout)
            // The listener's environment may route its API calls through a proxy; the
            // certificate host is fixed by the allow-list, so it goes the same way.
            .build()
            .map_err(|error| error.to_string())?;
        Ok(HttpsCertificateSource { transport })
    }
}

impl CertificateSource for HttpsCertificateSource {
    fn fetch<'a>(&'a self, url: &'a CertificateUrl) -> BoxFuture<'a, Result<Bytes, String>> {
        Box::pin(async move {
            let request = http::Request::get(url.as_str())
                .header(
                    http::header::ACCEPT,
                    "application/pkix-cert, application/x-pem-file, */*",
                )
                .body(Bytes::new())
                .map_err(|error| format!("bad request: {error}"))?;
            let response =
                self.transport
                    .send(request)
                    .await
                    .map_err(|error| match error.kind() {
                        TransportErrorKind::BodyTooLarge { limit } => {
                            format!("larger than {limit} bytes")
                        }
                        TransportErrorKind::Timeout | TransportErrorKind::ConnectTimeout => {
                            "timed out".to_owned()
                        }
                        _ => error.to_string(),
                    })?;
            let status = response.status();
            if status.is_redirection() {
                return Err(format!("redirect ({status}) not followed"));
            }
            if status != http::StatusCode::OK {
                return Err(format!("answered {status}"));
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
                .map_err(|why| Refusal::CertificateUnavailable {
                    url: snippet(url.as_str(), 200),
                    why,
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

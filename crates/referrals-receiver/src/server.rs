//! The listener: a hyper server (HTTP/1.1 and HTTP/2, plain or TLS) that verifies each
//! delivery, keeps it in the inbox and only then answers 200; `GET /healthz`; graceful
//! shutdown (stop accepting, finish the requests in flight).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

use crate::fetch::CertificateCache;
use crate::inbox::{InboxError, Recorded};
use crate::worker::{SharedInbox, with_inbox};
use referrals_webhooks::Refusal;
use referrals_webhooks::{Delivery, Verifier};

/// The health check path.
pub const HEALTH_PATH: &str = "/healthz";
/// The longest a client may take to send a request's headers, or its body.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What happened to one request, for the log line and for tests.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Verified and kept (inbox id).
    Accepted(i64),
    /// Verified; the same event was kept before (inbox id).
    Duplicate(i64),
    /// Refused.
    Refused(Refusal),
    /// Verified but could not be kept: 503, so that Partner Center delivers it again.
    Unavailable(Arc<InboxError>),
}

/// Everything a request needs.
pub struct Receiver {
    verifier: Verifier,
    certificates: Arc<CertificateCache>,
    inbox: SharedInbox,
    wake: Arc<Notify>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// A receiver that verifies with `verifier`, gets certificates through `certificates`,
    /// keeps events in `inbox` and wakes the worker through `wake`.
    pub fn new(
        verifier: Verifier,
        certificates: Arc<CertificateCache>,
        inbox: SharedInbox,
        wake: Arc<Notify>,
    ) -> Receiver {
        Receiver {
            verifier,
            certificates,
            inbox,
            wake,
        }
    }

    /// Handles one request: the answer to send and what it was.
    pub async fn handle(&self, request: Request<Incoming>) -> (Response<Full<Bytes>>, Answer) {
        let (parts, body) = request.into_parts();
        if parts.method == Method::GET && parts.uri.path() == HEALTH_PATH {
            return (text(StatusCode::OK, "ok\n"), Answer::Accepted(0));
        }
        let refuse = |refusal: Refusal| {
            let response = text(refusal.status(), &format!("refused: {}\n", refusal.code()));
            (response, Answer::Refused(refusal))
        };
        if let Err(refusal) = self.verifier.check_target(&parts.method, parts.uri.path()) {
            return refuse(refusal);
        }
        // Refuse an announced oversized body without reading it.
        let announced = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if let Some(Err(refusal)) = announced.map(|length| self.verifier.check_length(length)) {
            return refuse(refusal);
        }
        let limit = usize::try_from(self.verifier.policy().max_body_bytes).unwrap_or(usize::MAX);
        let read = tokio::time::timeout(REQUEST_READ_TIMEOUT, Limited::new(body, limit).collect());
        let body = match read.await {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => {
                return refuse(Refusal::BodyTooLarge {
                    limit: self.verifier.policy().max_body_bytes,
                });
            }
            Ok(Err(_)) | Err(_) => {
                return (
                    text(StatusCode::BAD_REQUEST, "refused: body not received\n"),
                    Answer::Refused(Refusal::NotAnEvent("the body was not received".into())),
                );
            }
        };
        let delivery = Delivery {
            method: &parts.method,
            path: parts.uri.path(),
            headers: &parts.headers,
            body: &body,
        };
        let preflight = match self.verifier.preflight(&delivery) {
            Ok(preflight) => preflight,
            Err(refusal) => return refuse(refusal),
        };
        let certificate = match self.certificates.get(preflight.certificate_url()).await {
            Ok(certificate) => certificate,
            Err(refusal) => return refuse(refusal),
        };
        let verified = match self
            .verifier
            .verify(&preflight, &certificate, SystemTime::now())
        {
            Ok(verified) => verified,
            Err(refusal) => return refuse(refusal),
        };
        let kept = body.clone();
        let recorded = with_inbox(&self.inbox, move |inbox| {
            inbox.record(&verified, &kept, SystemTime::now())
        })
        .await;
        match recorded {
            Ok(Recorded::New(id)) => {
                self.wake.notify_one();
                (text(StatusCode::OK, "accepted\n"), Answer::Accepted(id))
            }
            Ok(Recorded::Duplicate(id)) => {
                (text(StatusCode::OK, "duplicate\n"), Answer::Duplicate(id))
            }
            Err(error) => (
                text(StatusCode::SERVICE_UNAVAILABLE, "not kept, deliver again\n"),
                Answer::Unavailable(Arc::new(error)),
            ),
        }
    }
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn log(peer: SocketAddr, method: &Method, path: &str, answer: &Answer) {
    match answer {
        Answer::Accepted(0) => {}
        Answer::Accepted(id) => tracing::info!(%peer, inbox_id = id, "webhook event accepted"),
        Answer::Duplicate(id) => {
            tracing::info!(%peer, inbox_id = id, "webhook event duplicate, already kept")
        }
        Answer::Refused(refusal) => tracing::warn!(
            %peer,
            %method,
            path = %referrals_query::snippet(path, 100),
            status = refusal.status().as_u16(),
            reason = refusal.code(),
            "webhook delivery refused: {refusal}"
        ),
        Answer::Unavailable(error) => {
            tracing::error!(%peer, "webhook event verified but not kept (503): {error}")
        }
    }
}

/// Serves `receiver` on `listener` (TLS when `tls` is given) until `shutdown` resolves, then
/// stops accepting and waits for the connections in flight.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    receiver: Arc<Receiver>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(REQUEST_READ_TIMEOUT);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!("webhook listener: accept failed: {error}");
                    continue;
                }
            },
        };
        let receiver = receiver.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let receiver = receiver.clone();
            async move {
                let (method, path) = (request.method().clone(), request.uri().path().to_owned());
                let (response, answer) = receiver.handle(request).await;
                log(peer, &method, &path, &answer);
                Ok::<_, Infallible>(response)
            }
        });
        match &tls {
            None => {
                let connection = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .into_owned();
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = watched.await;
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(REQUEST_READ_TIMEOUT, acceptor.accept(stream));
                    let Ok(Ok(stream)) = handshake.await else {
                        return;
                    };
                    let connection = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned();
                    let _ = watcher.watch(connection).await;
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Why [`tls_acceptor`] could not make an acceptor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate chain is not PEM.
    #[error("the certificate chain is not valid PEM: {0}")]
    CertificatePem(#[source] rustls_pki_types::pem::Error),
    /// The certificate chain's PEM holds no certificate.
    #[error("no certificate in the certificate chain's PEM")]
    NoCertificate,
    /// The key's PEM holds no private key. (Nothing of what it holds is kept or shown.)
    #[error("no PEM private key in the key's PEM")]
    NoPrivateKey,
    /// rustls refused the chain and key (e.g. a key that does not match the certificate).
    #[error("TLS: {0}")]
    Config(#[source] rustls::Error),
}

/// A TLS acceptor from PEM files' contents: a certificate chain and its private key.
pub fn tls_acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, TlsError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(TlsError::CertificatePem)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    // The parser's error is dropped: it could quote the key file.
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoPrivateKey)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

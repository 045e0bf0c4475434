//! A running listener: the server and the worker over one inbox, started and stopped together.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use referrals_sync::{Mirror, ThreadError};

use crate::fetch::{CertificateCache, CertificateSource, HttpsCertificateSource};
use crate::inbox::{Inbox, InboxError};
use crate::server::{Receiver, serve};
use crate::worker::{ReferralSource, SharedInbox, Worker};
use referrals_webhooks::Policy;
use referrals_webhooks::Verifier;

/// Configures a listener.
#[must_use]
pub struct ListenerBuilder {
    policy: Policy,
    certificates: Option<Arc<dyn CertificateSource>>,
    tls: Option<TlsAcceptor>,
    start_worker: bool,
}

impl fmt::Debug for ListenerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerBuilder")
            .field("policy", &self.policy)
            .field("tls", &self.tls.is_some())
            .field("start_worker", &self.start_worker)
            .finish_non_exhaustive()
    }
}

/// Why a listener did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The inbox could not be opened.
    #[error(transparent)]
    Inbox(#[from] InboxError),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The certificate fetcher could not be built.
    #[error("certificate fetcher: {0}")]
    Fetcher(#[source] referrals_hyper::BuildError),
}

impl ListenerBuilder {
    /// A listener verifying with `policy`.
    pub fn new(policy: Policy) -> ListenerBuilder {
        ListenerBuilder {
            policy,
            certificates: None,
            tls: None,
            start_worker: true,
        }
    }

    /// Where certificates come from (default: [`HttpsCertificateSource`]).
    pub fn certificate_source(mut self, source: Arc<dyn CertificateSource>) -> Self {
        self.certificates = Some(source);
        self
    }

    /// Serve HTTPS with this acceptor.
    pub fn tls(mut self, acceptor: TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    /// Whether to run the worker (default yes). Without it events are kept and answered but
    /// processed only by [`ListenerHandle::worker`] or by a later listener on the same file.
    pub fn start_worker(mut self, start: bool) -> Self {
        self.start_worker = start;
        self
    }

    /// Opens the inbox in `mirror`'s database, binds `addr` and starts serving.
    pub async fn start(
        self,
        addr: SocketAddr,
        mirror: Mirror,
        referrals: Arc<dyn ReferralSource>,
    ) -> Result<ListenerHandle, StartError> {
        let inbox = tokio::task::spawn_blocking(move || Inbox::open(mirror))
            .await
            .map_err(|error| InboxError::from(ThreadError::from(error)))?
            .map_err(InboxError::from)?;
        let inbox: SharedInbox = Arc::new(Mutex::new(inbox));
        let source = match self.certificates {
            Some(source) => source,
            None => Arc::new(HttpsCertificateSource::new().map_err(StartError::Fetcher)?),
        };
        let certificates = Arc::new(CertificateCache::new(source));
        let wake = Arc::new(Notify::new());
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let receiver = Arc::new(Receiver::new(
            Verifier::new(self.policy.clone()),
            certificates.clone(),
            inbox.clone(),
            wake.clone(),
        ));
        let worker = Worker::new(inbox.clone(), referrals, wake);
        let (stop, stopped) = watch::channel(false);
        let tls = self.tls.is_some();
        let server = tokio::spawn(serve(listener, self.tls, receiver, until(stopped.clone())));
        let worker_task = self
            .start_worker
            .then(|| tokio::spawn(worker.clone().run(until(stopped))));
        Ok(ListenerHandle {
            local_addr,
            path: self.policy.path,
            tls,
            inbox,
            worker,
            certificates,
            stop,
            server,
            worker_task,
        })
    }
}

async fn until(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// A running listener.
pub struct ListenerHandle {
    local_addr: SocketAddr,
    path: String,
    tls: bool,
    inbox: SharedInbox,
    worker: Worker,
    certificates: Arc<CertificateCache>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    worker_task: Option<JoinHandle<()>>,
}

impl fmt::Debug for ListenerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerHandle")
            .field("local_addr", &self.local_addr)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl ListenerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The URL events should be POSTed to (`http://` unless TLS was configured).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{}", self.local_addr, self.path)
    }

    /// The inbox.
    pub fn inbox(&self) -> &SharedInbox {
        &self.inbox
    }

    /// The worker (run it by hand with [`Worker::run_once`] when it was not started).
    pub fn worker(&self) -> &Worker {
        &self.worker
    }

    /// How many certificate fetches were made.
    pub fn certificate_fetches(&self) -> u64 {
        self.certificates.fetches()
    }

    /// Runs until `signal` resolves, then shuts down gracefully.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }

    /// Stops accepting, waits for the requests in flight and for the worker to finish the
    /// event in hand.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        if let Some(worker) = self.worker_task {
            let _ = worker.await;
        }
    }
}

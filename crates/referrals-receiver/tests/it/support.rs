//! Shared test support: a mirror database, a certificate server on loopback, a listener with
//! a simulator behind it, and a way to POST signed deliveries.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use referrals::transport::{HyperTransport, Transport};
use referrals_receiver::{HttpsCertificateSource, ListenerBuilder, ListenerHandle};
use referrals_simulator::signing::{Signer, SignerKey, SignerSpec, SigningAuthority};
use referrals_simulator::{Simulator, SimulatorHandle};
use referrals_webhooks::{CertUrlPrefix, Policy, TrustAnchors};
use tokio::net::TcpListener;

use referrals_sync::Mirror;

/// The certificates served, by file name.
pub struct Certificates {
    pub authority: SigningAuthority,
    pub signer: Signer,
    pub addr: SocketAddr,
}

impl Certificates {
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/certs/{name}", self.addr)
    }
    pub fn prefix(&self) -> String {
        format!("http://{}/certs/", self.addr)
    }
}

/// Serves, under `/certs/`: `good.cer` (DER), `good.pem`, `expired.cer`, `other-org.cer`,
/// `untrusted.cer`, `big.cer` (100 KiB), `redirect.cer` (302 to good.cer), `slow.cer`
/// (never answers), anything else 404.
pub async fn certificate_server() -> Certificates {
    let authority = SigningAuthority::new("listener test root").unwrap();
    let signer = authority.issue(&SignerSpec::default()).unwrap();
    let now = std::time::SystemTime::now();
    let expired = authority
        .issue(&SignerSpec {
            not_before: now - Duration::from_secs(30 * 86_400),
            not_after: now - Duration::from_secs(86_400),
            ..SignerSpec::default()
        })
        .unwrap();
    let other_org = authority
        .issue(&SignerSpec {
            organisation: Some("Contoso Ltd".to_owned()),
            ..SignerSpec::default()
        })
        .unwrap();
    let stranger = SigningAuthority::new("stranger root").unwrap();
    let untrusted = stranger.issue(&SignerSpec::default()).unwrap();
    let files: Arc<Vec<(&'static str, Bytes)>> = Arc::new(vec![
        ("good.cer", Bytes::copy_from_slice(signer.certificate_der())),
        ("good.pem", Bytes::from(signer.certificate_pem().to_owned())),
        (
            "expired.cer",
            Bytes::copy_from_slice(expired.certificate_der()),
        ),
        (
            "other-org.cer",
            Bytes::copy_from_slice(other_org.certificate_der()),
        ),
        (
            "untrusted.cer",
            Bytes::copy_from_slice(untrusted.certificate_der()),
        ),
        ("big.cer", Bytes::from(vec![b'A'; 100 * 1024])),
    ]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let files = files.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let files = files.clone();
                    async move {
                        let path = request.uri().path().to_owned();
                        let name = path.strip_prefix("/certs/").unwrap_or("");
                        if name == "slow.cer" {
                            std::future::pending::<()>().await;
                        }
                        let mut response = Response::new(Full::new(Bytes::new()));
                        if name == "redirect.cer" {
                            *response.status_mut() = StatusCode::FOUND;
                            response.headers_mut().insert(
                                "location",
                                http::HeaderValue::from_static("/certs/good.cer"),
                            );
                        } else if let Some((_, body)) = files.iter().find(|(n, _)| *n == name) {
                            *response.body_mut() = Full::new(body.clone());
                        } else {
                            *response.status_mut() = StatusCode::NOT_FOUND;
                        }
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Certificates {
        authority,
        signer,
        addr,
    }
}

/// A database path in a fresh temporary directory; the directory is deleted when this is dropped.
#[derive(Debug)]
pub struct TempDb {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TempDb {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TempDb {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

/// A fresh database path in a temporary directory.
pub fn temp_db(name: &str) -> TempDb {
    let dir = tempfile::Builder::new()
        .prefix(&format!("referrals-receiver-{name}-"))
        .tempdir()
        .unwrap();
    TempDb {
        path: dir.path().join("referrals.db"),
        _dir: dir,
    }
}

pub fn policy(certificates: &Certificates) -> Policy {
    let mut policy =
        Policy::new(TrustAnchors::from_pem(certificates.authority.ca_pem().as_bytes()).unwrap());
    policy.cert_url_prefixes = vec![CertUrlPrefix::parse(&certificates.prefix()).unwrap()];
    policy
}

/// A client of `simulator`'s Referrals API.
pub fn client(simulator: &SimulatorHandle) -> referrals::Client {
    referrals::Client::builder()
        .base_url(simulator.base_url())
        .bearer_token(simulator.token().to_owned())
        .build()
        .unwrap()
}

/// A simulator of `referrals` referrals made from `seed`.
pub async fn simulator(referrals: usize, seed: u64) -> SimulatorHandle {
    Simulator::builder()
        .referrals(referrals)
        .seed(seed)
        .start()
        .await
        .unwrap()
}

/// Starts `builder`'s listener on loopback over the mirror at `db`, reading referrals from
/// `simulator`.
pub async fn start(
    builder: ListenerBuilder,
    simulator: &SimulatorHandle,
    db: &Path,
) -> ListenerHandle {
    builder
        .start(
            "127.0.0.1:0".parse().unwrap(),
            Mirror::open(db).unwrap(),
            Arc::new(client(simulator)),
        )
        .await
        .unwrap()
}

/// A listener on loopback over the mirror at `db`, reading referrals from `simulator`.
pub async fn listener(
    certificates: &Certificates,
    simulator: &SimulatorHandle,
    db: &Path,
    start_worker: bool,
) -> ListenerHandle {
    let fetcher =
        HttpsCertificateSource::with_limits(64 * 1024, Duration::from_millis(500)).unwrap();
    let builder = ListenerBuilder::new(policy(certificates))
        .certificate_source(Arc::new(fetcher))
        .start_worker(start_worker);
    start(builder, simulator, db).await
}

/// The answer to `sql` (a `SELECT COUNT(*) …`) in the mirror at `db`.
pub fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

/// The inbox rows in `state`.
pub fn in_state(db: &Path, state: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM webhook_inbox WHERE state = ?1",
            [state],
            |row| row.get(0),
        )
        .unwrap()
}

/// Journal rows.
pub fn changes(db: &Path) -> i64 {
    count(db, "SELECT COUNT(*) FROM changes")
}

/// Inbox rows.
pub fn inbox_rows(db: &Path) -> i64 {
    count(db, "SELECT COUNT(*) FROM webhook_inbox")
}

/// Stops the listener, then the simulator.
pub async fn stop(listener: ListenerHandle, simulator: SimulatorHandle) {
    listener.shutdown().await;
    simulator.shutdown().await;
}

/// An event body for `referral_id`.
pub fn event_body(name: &str, referral_id: &str, changed: &str) -> Vec<u8> {
    format!(
        r#"{{"EventName":"{name}","ResourceUri":"https://api.partnercenter.microsoft.com/engagements/v1/referrals/{referral_id}","ResourceName":"referral","AuditUri":null,"ResourceChangeUtcDate":"{changed}"}}"#
    )
    .into_bytes()
}

/// The usual headers of a delivery signed by `signer` with the certificate at `cert_url`.
pub fn signed_headers(signer: &Signer, body: &[u8], cert_url: &str) -> Vec<(String, String)> {
    vec![
        (
            "authorization".into(),
            format!("Signature {}", signer.sign(body)),
        ),
        ("x-ms-signature-algorithm".into(), "rsa-sha256".into()),
        ("x-ms-certificate-url".into(), cert_url.into()),
        ("content-type".into(), "application/json".into()),
    ]
}

/// POSTs (or sends `method`) to `url`; the status.
pub async fn send(method: &str, url: &str, headers: &[(String, String)], body: Vec<u8>) -> u16 {
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request.body(Bytes::from(body)).unwrap();
    HyperTransport::new()
        .send(request)
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Waits (bounded, generously) until `check` holds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

pub fn other_key_signer(certificates: &Certificates) -> Signer {
    certificates
        .authority
        .issue(&SignerSpec {
            key: SignerKey::Other,
            ..SignerSpec::default()
        })
        .unwrap()
}

/// What the tests of this binary log, at debug level and up: a global subscriber writes here
/// once [`captured_logs`] installed it.
#[derive(Clone, Default)]
pub struct Logs(Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    /// The lines logged so far, by every test of the binary.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Starts capturing the binary's logs (global, not scoped: the worker logs from the tasks it
/// spawns), once; every call returns the same capture.
pub fn captured_logs() -> Logs {
    static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
    .clone()
}

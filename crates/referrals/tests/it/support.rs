//! Pieces shared by the facade's test modules.

use std::net::SocketAddr;
use std::time::Duration;

use referrals::auth::ClientCredentials;
use referrals::query::AuthorityUrl;
use referrals::transport::HyperTransport;
use referrals::{Client, ErrorKind, RetryPolicy};
use referrals_simulator::SimulatorHandle;
use tokio::net::TcpSocket;

/// Fast retries; the total budget is far beyond what the tests need, so that a busy machine
/// never runs out of it (`max_attempts` ends the failing cases).
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(3),
        // Never what ends a test on a busy machine: the attempts are.
        max_total: Duration::from_secs(120),
    }
}

/// The attempt timeout where none is under test: never reached by a loopback answer, however
/// busy the machine.
pub const GENEROUS: Duration = Duration::from_secs(60);

/// The hyper transport with this attempt timeout, ignoring the environment's proxies.
pub fn hyper_transport(attempt_timeout: Duration) -> HyperTransport {
    HyperTransport::builder()
        .no_proxy()
        .attempt_timeout(attempt_timeout)
        .build()
        .expect("builds")
}

/// A client of `sim` with its static token, [`fast_retry`] and a [`GENEROUS`] attempt timeout.
pub fn sim_client(sim: &SimulatorHandle) -> Client {
    Client::builder()
        .base_url(sim.base_url())
        .bearer_token(sim.token())
        .retry(fast_retry())
        .transport(hyper_transport(GENEROUS))
        .build()
        .expect("a valid configuration")
}

/// The name of an error kind, for tables and for checking that every kind was seen.
pub fn kind_name(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Config(_) => "Config",
        ErrorKind::InvalidRequest(_) => "InvalidRequest",
        ErrorKind::Auth(_) => "Auth",
        ErrorKind::Unauthorized { .. } => "Unauthorized",
        ErrorKind::Api { .. } => "Api",
        ErrorKind::Timeout { .. } => "Timeout",
        ErrorKind::Transport { .. } => "Transport",
        ErrorKind::Decode { .. } => "Decode",
        ErrorKind::Pagination(_) => "Pagination",
        ErrorKind::Checkpoint(_) => "Checkpoint",
        _ => "other",
    }
}

/// Client credentials registered with `sim`'s authority (app-only tokens).
pub fn credentials(sim: &SimulatorHandle) -> ClientCredentials {
    let authority = AuthorityUrl::parse(&sim.authority_url()).expect("loopback authority");
    ClientCredentials::with_authority(
        authority,
        sim.tenant(),
        sim.client_id(),
        sim.client_secret(),
    )
    .expect("complete credentials")
}

/// A loopback port nothing listens on, held for as long as this lives: the socket is bound but
/// never listens, so connections to it are refused, and no other simulator or process (tests
/// run side by side) is given the port in the meantime. A releasing-then-reusing port could be
/// taken by another test's simulator, which would then answer instead of refusing.
///
/// `SO_REUSEADDR` is set, so a simulator started on the port (which sets it too) can bind and
/// listen while this still holds it; drop it once that simulator runs.
#[derive(Debug)]
pub struct ClosedPort {
    _socket: TcpSocket,
    address: SocketAddr,
}

impl ClosedPort {
    /// A fresh port from the system.
    pub fn new() -> Self {
        Self::hold(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Holds `address` (e.g. the port of a server that was just shut down).
    pub fn hold(address: SocketAddr) -> Self {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(address).expect("the port can be held");
        let address = socket.local_addr().expect("an address");
        ClosedPort {
            _socket: socket,
            address,
        }
    }

    /// The held address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

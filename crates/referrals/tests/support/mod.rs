//! Pieces shared by the facade's test files.

use std::net::SocketAddr;

use tokio::net::TcpSocket;

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

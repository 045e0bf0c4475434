//! What every connection of one simulator shares: its parts, each owning its data and locks.
//! The parts never see one another through this type; the server and the handle hand each
//! operation the parts it needs.

use std::net::SocketAddr;
use std::sync::Arc;

use super::fault::Faults;
use super::ids::Ids;
use super::log::RequestLog;
use super::pacing::Pacing;
use super::store::Store;
use super::tokens::Tokens;
use super::webhooks::Webhooks;

/// The simulator's shared state.
pub(crate) struct State {
    /// 127.0.0.1 and the bound port.
    pub(crate) address: SocketAddr,
    /// The referrals, their ids and eTags, and how listings are served.
    pub(crate) store: Store,
    /// Credentials, issued tokens, refresh-token rotation, device codes.
    pub(crate) tokens: Tokens,
    /// The fault plan being applied.
    pub(crate) faults: Faults,
    /// The exchanges and their counts.
    pub(crate) log: RequestLog,
    /// The latency of API answers and the cap on API requests in flight.
    pub(crate) pacing: Pacing,
    /// The registration, signing and deliveries of webhook events.
    pub(crate) webhooks: Arc<Webhooks>,
    /// The request ids of answers to requests that named none.
    pub(crate) request_ids: Ids,
}

impl State {
    /// `http://127.0.0.1:PORT`.
    pub(crate) fn origin(&self) -> String {
        origin(self.address)
    }
}

/// `http://{address}`.
pub(crate) fn origin(address: SocketAddr) -> String {
    format!("http://{address}")
}

//! What every connection of one simulator shares.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::assertion::RegisteredCertificate;
use super::continuation::TokenKey;
use super::device::DeviceStep;
use super::fault::FaultState;
use super::handle::RecordedRequest;
use super::store::Store;
use referrals_fixtures::rng::SeededRng;

/// Settings fixed when the simulator starts.
pub(crate) struct Config {
    pub(crate) token: String,
    pub(crate) tenant: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) expires_in: Duration,
    pub(crate) default_page_size: usize,
    /// Whether the referral endpoints accept app-only (client credentials) tokens.
    pub(crate) allow_app_only: bool,
    /// The signed-in user's `preferred_username`.
    pub(crate) username: String,
    pub(crate) device_script: Vec<DeviceStep>,
    pub(crate) device_interval: Duration,
    pub(crate) device_expires_in: Duration,
    pub(crate) certificate: Option<RegisteredCertificate>,
}

/// An access token the token endpoint issued.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) expiry: std::time::Instant,
    pub(crate) app_only: bool,
    pub(crate) audience: String,
}

/// A refresh token: usable once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshState {
    Valid,
    Used,
}

/// A device code handed out.
#[derive(Debug)]
pub(crate) struct DeviceCode {
    pub(crate) audience: &'static str,
    pub(crate) offline: bool,
    pub(crate) polls: usize,
    pub(crate) redeemed: bool,
    pub(crate) expires_at: std::time::Instant,
}

/// A query's matching record positions, remembered for the store generation it was computed at.
pub(crate) type CachedSelection = (u64, Arc<Vec<u32>>);

/// The simulator's shared state.
pub(crate) struct State {
    pub(crate) config: Config,
    /// `http://127.0.0.1:PORT`.
    pub(crate) origin: String,
    pub(crate) port: u16,
    pub(crate) store: RwLock<Store>,
    pub(crate) selections: Mutex<HashMap<String, CachedSelection>>,
    pub(crate) faults: Mutex<FaultState>,
    /// Access tokens issued by the token endpoint.
    pub(crate) issued: Mutex<HashMap<String, Issued>>,
    pub(crate) refresh_tokens: Mutex<HashMap<String, RefreshState>>,
    pub(crate) latest_refresh_token: Mutex<Option<String>>,
    pub(crate) device_codes: Mutex<HashMap<String, DeviceCode>>,
    /// `jti`s of accepted client assertions (a replay is refused).
    pub(crate) assertion_ids: Mutex<HashSet<String>>,
    pub(crate) refresh_grants: AtomicU64,
    pub(crate) refresh_reuses: AtomicU64,
    pub(crate) device_polls: AtomicU64,
    pub(crate) assertions_refused: AtomicU64,
    pub(crate) log: Mutex<Vec<RecordedRequest>>,
    pub(crate) api_requests: AtomicU64,
    pub(crate) token_requests: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) rng: Mutex<SeededRng>,
    /// Signs continuation tokens.
    pub(crate) token_key: TokenKey,
    /// Registration, signing and deliveries of webhook events.
    pub(crate) webhooks: super::webhooks::Webhooks,
}

impl State {
    pub(crate) fn read_store(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write_store(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh UUID from the simulator's generator.
    pub(crate) fn uuid(&self) -> String {
        lock(&self.rng).uuid()
    }

    /// A fresh quoted entity tag.
    pub(crate) fn new_etag(&self) -> String {
        format!("\"{}\"", self.uuid())
    }
}

/// Locks a mutex; a panic elsewhere never makes the simulator unusable.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

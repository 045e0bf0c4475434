//! What every connection of one simulator shares.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use super::fault::FaultState;
use super::handle::RecordedRequest;
use super::rng::SplitMix;
use super::store::Store;

/// Settings fixed when the simulator starts.
pub(crate) struct Config {
    pub(crate) token: String,
    pub(crate) tenant: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) expires_in: Duration,
    pub(crate) default_page_size: usize,
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
    /// Access tokens issued by the token endpoint, with their expiry.
    pub(crate) issued: Mutex<HashMap<String, std::time::Instant>>,
    pub(crate) log: Mutex<Vec<RecordedRequest>>,
    pub(crate) api_requests: AtomicU64,
    pub(crate) token_requests: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) rng: Mutex<SplitMix>,
    /// Signs continuation tokens.
    pub(crate) token_secret: u64,
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

//! Shared helpers of the sync tests: a fresh directory, a client for a simulator, and the two
//! states to compare (the mirror's and the simulator's).
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use referrals::{Client, RetryPolicy};
use referrals_simulator::SimulatorHandle;
use referrals_sync::Mirror;
use referrals_sync::rusqlite;
use serde_json::Value;

/// A fresh, empty directory for one test, deleted when dropped.
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("referrals-sync-{name}-"))
        .tempdir()
        .unwrap()
}

/// A client for `simulator` with quick retries.
pub fn client(simulator: &SimulatorHandle) -> Client {
    Client::builder()
        .base_url(simulator.base_url())
        .bearer_token(simulator.token())
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(5),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap()
}

/// A mirror shared the way the engine wants it.
pub fn shared(path: &Path) -> Arc<Mutex<Mirror>> {
    Arc::new(Mutex::new(Mirror::open(path).unwrap()))
}

/// id → (eTag, JSON) of every referral the simulator serves.
pub fn simulator_state(simulator: &SimulatorHandle) -> BTreeMap<String, (Option<String>, Value)> {
    simulator
        .referrals()
        .into_iter()
        .map(|value| {
            let id = value["id"].as_str().unwrap().to_owned();
            let etag = value["eTag"].as_str().map(str::to_owned);
            (id, (etag, value))
        })
        .collect()
}

/// id → (eTag, JSON) of every referral of the mirror not marked removed.
pub fn mirror_state(path: &Path) -> BTreeMap<String, (Option<String>, Value)> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT id, etag, raw_json FROM referrals WHERE removed_at IS NULL")
        .unwrap();
    statement
        .query_map([], |row| {
            let raw: String = row.get(2)?;
            Ok((
                row.get::<_, String>(0)?,
                (
                    row.get::<_, Option<String>>(1)?,
                    serde_json::from_str(&raw).unwrap(),
                ),
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every journal row: (seq, referral id, kind, eTag).
pub fn journal(path: &Path) -> Vec<(i64, String, String, Option<String>)> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection
        .prepare("SELECT seq, referral_id, kind, etag FROM changes ORDER BY seq")
        .unwrap();
    statement
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The journal's invariants (see `Mirror::verify_journal`).
pub fn check_journal(path: &Path) {
    let problems = Mirror::open_existing(path)
        .unwrap()
        .verify_journal()
        .unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
}

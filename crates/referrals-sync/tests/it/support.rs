//! Shared helpers of the sync tests: a fresh directory, a client for a simulator, and the two
//! states to compare (the mirror's and the simulator's).
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use referrals::{Client, RetryPolicy};
use referrals_fixtures::snapshot::Snapshot;
use referrals_simulator::{ChurnReport, FaultPlan, Simulator, SimulatorHandle};
use referrals_sync::rusqlite;
use referrals_sync::{Mirror, SyncError, SyncOptions, SyncReport, sync};

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

/// A sync test's world: a fresh directory and the mirror's path in it, a simulator, a client
/// of it and the mirror, shared.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub simulator: SimulatorHandle,
    pub client: Client,
    pub mirror: Arc<Mutex<Mirror>>,
}

/// A [`Rig`] named `name`, around a simulator of `referrals` referrals injecting `faults`.
pub async fn rig(name: &str, referrals: usize, faults: FaultPlan) -> Rig {
    let dir = temp_dir(name);
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder()
        .referrals(referrals)
        .faults(faults)
        .start()
        .await
        .unwrap();
    Rig {
        client: client(&simulator),
        mirror: shared(&db),
        dir,
        db,
        simulator,
    }
}

impl Rig {
    /// One run of the engine.
    pub async fn sync(&self, options: &SyncOptions) -> Result<SyncReport, SyncError> {
        sync(&self.client, &self.mirror, options).await
    }

    /// The mirror holds exactly what the simulator serves, and its journal keeps its
    /// invariants.
    pub fn assert_in_step(&self) {
        assert_eq!(mirror_state(&self.db), simulator_state(&self.simulator));
        check_journal(&self.db);
    }

    /// Deletes the directory.
    pub fn close(self) {
        self.dir.close().unwrap();
    }
}

/// How many referrals `churn` created that it did not remove again.
pub fn created_alive(churn: &ChurnReport) -> usize {
    churn
        .created
        .iter()
        .filter(|id| !churn.removed.contains(id))
        .count()
}

/// id → (eTag, JSON) of every referral the simulator serves.
pub fn simulator_state(simulator: &SimulatorHandle) -> Snapshot {
    referrals_fixtures::snapshot::of(simulator.referrals())
}

/// The rows `sql` selects in the database at `path`, each read by `row`.
fn rows<T>(
    path: &Path,
    sql: &str,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection.prepare(sql).unwrap();
    statement
        .query_map([], row)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// id → (eTag, JSON) of every referral of the mirror not marked removed.
pub fn mirror_state(path: &Path) -> Snapshot {
    let sql = "SELECT id, etag, raw_json FROM referrals WHERE removed_at IS NULL";
    rows(path, sql, |row| {
        let raw: String = row.get(2)?;
        let value = serde_json::from_str(&raw).unwrap();
        Ok((row.get::<_, String>(0)?, (row.get(1)?, value)))
    })
    .into_iter()
    .collect()
}

/// Every journal row: (seq, referral id, kind, eTag).
pub fn journal(path: &Path) -> Vec<(i64, String, String, Option<String>)> {
    let sql = "SELECT seq, referral_id, kind, etag FROM changes ORDER BY seq";
    rows(path, sql, |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
    })
}

/// The journal's invariants (see `Mirror::verify_journal`).
pub fn check_journal(path: &Path) {
    let problems = Mirror::open_existing(path)
        .unwrap()
        .verify_journal()
        .unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Requests of the simulator that listed a `createdDateTime` range (of a partitioned listing).
pub fn range_requests(simulator: &SimulatorHandle) -> usize {
    simulator
        .requests()
        .iter()
        .filter(|r| r.path_and_query.contains("createdDateTime%20ge"))
        .count()
}

/// A simulator of `referrals` referrals drawn from `seed` that answers every API request after
/// `latency`, as a distant service does.
pub async fn slow_simulator(referrals: usize, seed: u64, latency: Duration) -> SimulatorHandle {
    Simulator::builder()
        .referrals(referrals)
        .seed(seed)
        .latency(latency)
        .start()
        .await
        .unwrap()
}

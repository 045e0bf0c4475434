//! Schema migrations against a file the release before them wrote: `tests/fixtures/mirror-v1.db`
//! (see `tests/fixtures/README.md`), upgraded to the current version with nothing lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::support::temp_dir;
use referrals_model::{Referral, Timestamp};
use referrals_sync::plan::{DEFAULT_OVERLAP, RunKind};
use referrals_sync::rusqlite::Connection;
use referrals_sync::rusqlite::types::Value;
use referrals_sync::{ChangeKind, Decision, Mirror, MirrorError, SCHEMA_VERSION};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mirror-v1.db");

/// A copy of the version-1 fixture in a fresh directory.
fn version_1_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = temp_dir(name);
    let db = dir.path().join("m.db");
    std::fs::copy(FIXTURE, &db).unwrap();
    (dir, db)
}

type Rows = Vec<Vec<Value>>;

/// Every row of `table`, every column, in the order of `order_by`.
fn rows(connection: &Connection, table: &str, order_by: &str) -> Rows {
    let mut statement = connection
        .prepare(&format!("SELECT * FROM {table} ORDER BY {order_by}"))
        .unwrap();
    let columns = statement.column_count();
    statement
        .query_map([], |row| {
            (0..columns).map(|i| row.get::<_, Value>(i)).collect()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// `referral_seen` with each row's referral id instead of its rowid, in the order of the ids;
/// also checks that every row belongs to a referral.
fn seen_by_id(connection: &Connection) -> Rows {
    let orphans: i64 = value(
        connection,
        "SELECT count(*) FROM referral_seen s
             WHERE NOT EXISTS (SELECT 1 FROM referrals r WHERE r.rowid = s.referral_rowid)",
    );
    assert_eq!(orphans, 0, "referral_seen rows without a referral");
    rows(
        connection,
        "(SELECT r.id, s.last_seen_at, s.json_sha256 FROM referral_seen s
          JOIN referrals r ON r.rowid = s.referral_rowid)",
        "1",
    )
}

fn columns(connection: &Connection, table: &str) -> Vec<String> {
    let mut statement = connection
        .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
        .unwrap();
    statement
        .query_map([table], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The one value `sql` selects.
fn value<T: referrals_sync::rusqlite::types::FromSql>(connection: &Connection, sql: &str) -> T {
    connection.query_row(sql, [], |row| row.get(0)).unwrap()
}

fn pragma(connection: &Connection, name: &str) -> i64 {
    connection
        .pragma_query_value(None, name, |row| row.get(0))
        .unwrap()
}

/// The tables of version 1 other than `referrals`, which must come through unchanged.
const UNCHANGED_TABLES: &[(&str, &str)] = &[
    ("changes", "seq"),
    ("sync_state", "singleton"),
    ("sync_run", "singleton"),
    ("consumers", "name"),
    ("extensions", "name"),
    ("notes", "referral_id"),
    ("sqlite_sequence", "name"),
];

struct Version1 {
    columns: Vec<String>,
    referrals: Rows,
    others: BTreeMap<&'static str, Rows>,
}

impl Version1 {
    /// The position of `name` among the columns of `referrals`.
    fn column(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name} in version 1"))
    }
}

fn read_version_1(db: &Path) -> Version1 {
    let connection = Connection::open(db).unwrap();
    assert_eq!(
        pragma(&connection, "user_version"),
        1,
        "the fixture is version 1"
    );
    let version = Version1 {
        columns: columns(&connection, "referrals"),
        referrals: rows(&connection, "referrals", "id"),
        others: UNCHANGED_TABLES
            .iter()
            .map(|(table, order)| (*table, rows(&connection, table, order)))
            .collect(),
    };
    assert!(version.columns.iter().any(|c| c == "last_seen_at"));
    assert_eq!(version.referrals.len(), 32);
    version
}

#[test]
fn a_version_1_mirror_upgrades_with_nothing_lost() {
    let (dir, db) = version_1_copy("v1-upgrade");
    let before = read_version_1(&db);
    let last_seen = before.column("last_seen_at");

    drop(Mirror::open_existing(&db).unwrap());

    let connection = Connection::open(&db).unwrap();
    assert_eq!(pragma(&connection, "user_version"), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 6);
    let identities: i64 = value(&connection, "SELECT count(*) FROM mirror_identity");
    assert_eq!(identities, 1, "an upgraded mirror gets its identity");
    assert_eq!(pragma(&connection, "application_id"), 0x5246_524C);
    let integrity: String = value(&connection, "PRAGMA integrity_check");
    assert_eq!(integrity, "ok");
    // `referrals` keeps every column and value but `last_seen_at`, which moved, value for value.
    let mut expected_columns = before.columns.clone();
    expected_columns.remove(last_seen);
    assert_eq!(columns(&connection, "referrals"), expected_columns);
    let expected: Rows = before
        .referrals
        .iter()
        .map(|row| {
            let mut row = row.clone();
            row.remove(last_seen);
            row
        })
        .collect();
    assert_eq!(rows(&connection, "referrals", "id"), expected);
    let seen: Rows = before
        .referrals
        .iter()
        // Digests are not known until each referral is received again.
        .map(|row| vec![row[0].clone(), row[last_seen].clone(), Value::Null])
        .collect();
    assert_eq!(seen_by_id(&connection), seen);
    // The API it belongs to is not known: its next sync records it.
    assert_eq!(
        columns(&connection, "mirror_api"),
        ["singleton", "base_url", "account", "recorded_at"]
    );
    assert_eq!(rows(&connection, "mirror_api", "singleton"), Rows::new());
    // Nothing is quarantined yet.
    assert_eq!(
        columns(&connection, "quarantine"),
        [
            "id",
            "updated_date_time",
            "page",
            "item_index",
            "raw_json",
            "error",
            "first_seen_at",
            "last_seen_at"
        ]
    );
    assert_eq!(rows(&connection, "quarantine", "id"), Rows::new());
    // No batch has recorded anything yet.
    assert_eq!(
        columns(&connection, "create_intents"),
        [
            "external_reference_id",
            "state",
            "referral_id",
            "error",
            "intended_at",
            "resolved_at"
        ]
    );
    assert_eq!(
        rows(&connection, "create_intents", "external_reference_id"),
        Rows::new()
    );
    for (table, order) in UNCHANGED_TABLES {
        assert_eq!(
            rows(&connection, table, order),
            before.others[table],
            "table {table}"
        );
    }
    drop(connection);

    // Opening it again changes nothing.
    let mirror = Mirror::open_existing(&db).unwrap();
    assert_eq!(mirror.verify_journal().unwrap(), Vec::<String>::new());
    drop(mirror);
    let connection = Connection::open(&db).unwrap();
    assert_eq!(seen_by_id(&connection), seen);
    drop(connection);
    dir.close().unwrap();
}

#[test]
fn the_run_in_progress_in_a_version_1_file_finishes_after_the_upgrade_with_the_same_removals() {
    let (dir, db) = version_1_copy("v1-run");
    let before = read_version_1(&db);
    let last_seen = before.column("last_seen_at");
    let removed_at = before.column("removed_at");
    let mut mirror = Mirror::open_existing(&db).unwrap();
    let (_, run) = mirror.sync_state().unwrap();
    let run = run.expect("the fixture's full run is in progress");
    assert_eq!(run.kind, RunKind::Full);
    assert_eq!(run.counts.pages, 1);
    // What version 1 would have removed: present, and last seen before the run started.
    let text = |value: &Value| match value {
        Value::Text(text) => Some(text.clone()),
        _ => None,
    };
    let expected_gone: Vec<String> = before
        .referrals
        .iter()
        .filter(|row| row[removed_at] == Value::Null)
        .filter(|row| {
            text(&row[last_seen]).is_some_and(|seen| seen.as_str() < run.started_at.as_str())
        })
        .filter_map(|row| text(&row[0]))
        .collect();
    assert_eq!(expected_gone.len(), 22, "the run saw 10 of the 32");
    let last_seq = mirror.last_seq().unwrap();
    let counts = mirror
        .finish_run(SystemTime::now(), None, DEFAULT_OVERLAP)
        .unwrap();
    assert_eq!(counts.removed, 22);
    let journal = mirror.changes_after(last_seq, 100).unwrap();
    let mut journaled: Vec<String> = journal
        .iter()
        .inspect(|change| assert_eq!(change.kind, ChangeKind::Removed))
        .map(|change| change.referral_id.clone())
        .collect();
    journaled.sort();
    assert_eq!(journaled, expected_gone);
    assert_eq!(mirror.verify_journal().unwrap(), Vec::<String>::new());
    drop(mirror);
    dir.close().unwrap();
}

#[test]
fn an_upgraded_mirror_takes_the_same_referral_as_unchanged_and_a_new_version_as_updated() {
    let (dir, db) = version_1_copy("v1-apply");
    let mut mirror = Mirror::open_existing(&db).unwrap();
    let stored: String = value(
        mirror.connection(),
        "SELECT raw_json FROM referrals WHERE id = 'hand-1'",
    );
    let referral: Referral = serde_json::from_str(&stored).unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let last_seq = mirror.last_seq().unwrap();
    let applied = mirror.apply_referral(&referral, now).unwrap();
    assert_eq!(applied.decision, Decision::Unchanged);
    assert_eq!(mirror.last_seq().unwrap(), last_seq, "nothing journaled");
    let seen: String = value(
        mirror.connection(),
        "SELECT last_seen_at FROM referral_seen
             WHERE referral_rowid = (SELECT rowid FROM referrals WHERE id = 'hand-1')",
    );
    assert_eq!(seen, Timestamp::from_system_time(now).as_str());
    // ... and its digest is known from now on (the next time, the JSON is not read back).
    let digest: Vec<u8> = value(
        mirror.connection(),
        "SELECT json_sha256 FROM referral_seen
             WHERE referral_rowid = (SELECT rowid FROM referrals WHERE id = 'hand-1')",
    );
    let row = referrals_sync::MirrorRow::from_referral(&referral).unwrap();
    assert_eq!(&digest[..], &row.json_sha256()[..]);
    assert_eq!(
        mirror.apply_referral(&referral, now).unwrap().decision,
        Decision::Unchanged
    );
    // Its unknown fields and the 17-digit float came through the upgrade.
    let value: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(value["x-future"]["nested"][1], 2.5);
    assert_eq!(
        value["details"]["dealValue"].as_f64(),
        Some(0.985_690_694_632_869_5)
    );
    let mut changed = value.clone();
    changed["name"] = "Changed after the upgrade".into();
    changed["eTag"] = "\"h1-2\"".into();
    let changed: Referral = serde_json::from_value(changed).unwrap();
    let applied = mirror.apply_referral(&changed, now).unwrap();
    assert_eq!(applied.decision, Decision::Updated);
    assert_eq!(applied.seq, Some(last_seq + 1));
    assert_eq!(mirror.verify_journal().unwrap(), Vec::<String>::new());
    drop(mirror);
    dir.close().unwrap();
}

#[test]
fn a_migration_that_fails_leaves_the_file_at_version_1() {
    // A view of the user's own on the column that moves: SQLite refuses to drop it, and the
    // whole upgrade rolls back with a message naming the file.
    let (dir, db) = version_1_copy("v1-refused");
    {
        let connection = Connection::open(&db).unwrap();
        connection
            .execute_batch(
                "CREATE VIEW stale AS SELECT id FROM referrals WHERE last_seen_at < '2026'",
            )
            .unwrap();
    }
    let error = Mirror::open_existing(&db).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("m.db")
            && message.contains("migrate")
            && message.contains("view stale")
            && message.contains("last_seen_at"),
        "{message}"
    );
    let connection = Connection::open(&db).unwrap();
    assert_eq!(pragma(&connection, "user_version"), 1);
    assert!(columns(&connection, "referrals").contains(&"last_seen_at".to_owned()));
    let tables: i64 = value(
        &connection,
        "SELECT count(*) FROM sqlite_master WHERE name = 'referral_seen'",
    );
    assert_eq!(tables, 0);
    drop(connection);
    dir.close().unwrap();
}

#[test]
fn a_version_1_mirror_opened_read_only_is_refused_and_left_as_it_is() {
    let (dir, db) = version_1_copy("v1-read-only");
    let before = std::fs::read(&db).unwrap();
    let last_seq: i64 = Connection::open(&db)
        .unwrap()
        .query_row("SELECT max(seq) FROM changes", [], |row| row.get(0))
        .unwrap();
    let error = Mirror::open_read_only(&db).unwrap_err();
    assert!(
        matches!(
            error,
            MirrorError::UpgradeNeeded {
                found: 1,
                current: SCHEMA_VERSION,
                ..
            }
        ),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("m.db") && message.contains("version 1") && message.contains("read-only"),
        "{message}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    // Where it can be written, reading it upgrades it first.
    let mirror = Mirror::open_to_read(&db).unwrap();
    assert_eq!(mirror.last_seq().unwrap(), last_seq);
    drop(mirror);
    assert_eq!(
        pragma(&Connection::open(&db).unwrap(), "user_version"),
        SCHEMA_VERSION
    );
    dir.close().unwrap();
}

/// A mirror made before the mirror's API was recorded (schema version 3) adopts the API of its
/// next sync, and from then on refuses another one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_made_before_version_3_adopts_the_api_of_its_next_sync() {
    use crate::support::{client, shared};
    use referrals_simulator::Simulator;
    use referrals_sync::{MirrorApi, SyncError, SyncOptions, sync};

    let (dir, db) = version_1_copy("v1-api");
    let ours = Simulator::builder().referrals(12).start().await.unwrap();
    let other = Simulator::builder().referrals(5).start().await.unwrap();
    let mirror = shared(&db);
    assert_eq!(mirror.lock().unwrap().api().unwrap(), None);
    let options = SyncOptions {
        full: true,
        ..SyncOptions::default()
    };
    sync(&client(&ours), &mirror, &options).await.unwrap();
    let adopted = mirror.lock().unwrap().api().unwrap().unwrap();
    assert_eq!(adopted.base_url(), ours.base_url());
    assert_eq!(adopted.account(), None);
    let error = sync(&client(&other), &mirror, &options).await.unwrap_err();
    assert!(
        matches!(&error, SyncError::Mirror(MirrorError::OtherApi { mirror, requested, .. })
            if *mirror == adopted && requested.base_url() == other.base_url()),
        "{error}"
    );
    assert_eq!(other.api_requests(), 0);
    assert_eq!(
        mirror.lock().unwrap().api().unwrap(),
        Some(MirrorApi::new(&ours.base_url().parse().unwrap()))
    );
    drop(mirror);
    dir.close().unwrap();
}

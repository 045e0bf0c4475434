//! The mirror file: refusing what is not a mirror, failing clearly (and harmlessly) on a full
//! disk or a read-only directory, and the API a webhook listener uses.

use std::time::{Duration, SystemTime};

use crate::support::{
    check_journal, client, journal, mirror_state, shared, simulator_state, temp_dir,
};
use referrals_model::Referral;
use referrals_simulator::Simulator;
use referrals_sync::plan::DEFAULT_OVERLAP;
use referrals_sync::rusqlite::{self, params};
use referrals_sync::{ChangeKind, Decision, Mirror, MirrorError, SyncError, SyncOptions, sync};

/// 2026-12-01T11:00:00Z, when the runs of these tests finish.
fn at_11() -> SystemTime {
    referrals_model::Timestamp::new("2026-12-01T11:00:00Z")
        .to_system_time()
        .unwrap()
}

fn referral(json: &str) -> Referral {
    serde_json::from_str(json).unwrap()
}

#[test]
fn a_file_that_is_not_a_database_is_refused_and_left_as_it_is() {
    let dir = temp_dir("corrupt");
    let db = dir.path().join("m.db");
    let garbage = b"this is a CSV export, not a database\n".repeat(200);
    std::fs::write(&db, &garbage).unwrap();
    let error = Mirror::open(&db).unwrap_err();
    assert!(matches!(error, MirrorError::Corrupt { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("m.db") && message.contains("not a SQLite database"),
        "{message}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
    dir.close().unwrap();
}

#[test]
fn a_foreign_database_is_refused_and_left_as_it_is() {
    let dir = temp_dir("foreign");
    let db = dir.path().join("other.db");
    {
        let connection = rusqlite::Connection::open(&db).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (7);",
            )
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    let error = Mirror::open(&db).unwrap_err();
    assert!(matches!(error, MirrorError::Foreign { .. }), "{error}");
    assert!(
        error.to_string().contains("not a referrals mirror"),
        "{error}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "not even switched to WAL"
    );
    dir.close().unwrap();
}

#[test]
fn a_mirror_from_a_newer_version_is_refused() {
    let dir = temp_dir("newer");
    let db = dir.path().join("m.db");
    drop(Mirror::open(&db).unwrap());
    {
        let connection = rusqlite::Connection::open(&db).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
    }
    let error = Mirror::open(&db).unwrap_err();
    assert!(
        matches!(error, MirrorError::TooNew { found: 99, .. }),
        "{error}"
    );
    dir.close().unwrap();
}

#[test]
fn reopening_keeps_the_schema_and_a_missing_mirror_is_named() {
    let dir = temp_dir("reopen");
    let db = dir.path().join("m.db");
    let error = Mirror::open_existing(&db).unwrap_err();
    assert!(matches!(error, MirrorError::Missing { .. }), "{error}");
    // The advice (`referrals sync --db` first) is the CLI's: crates/referrals-cli/src/sync_cmd.rs.
    let message = error.to_string();
    assert!(
        message.contains("m.db") && message.contains("no such mirror"),
        "{message}"
    );
    let mut mirror = Mirror::open(&db).unwrap();
    mirror
        .apply_referral(&referral(r#"{"id":"a"}"#), SystemTime::now())
        .unwrap();
    drop(mirror);
    let mirror = Mirror::open_existing(&db).unwrap();
    let version: i64 = mirror
        .connection()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, referrals_sync::SCHEMA_VERSION);
    let mode: String = mirror
        .connection()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(mirror.changes_after(0, 10).unwrap().len(), 1);
    dir.close().unwrap();
}

/// The database, its `-wal` and `-shm` files (customers' names, emails, phones) and the lock
/// file are their owner's only, whatever the umask lets others have (022 here, which SQLite's
/// own 0644 would have kept).
#[cfg(unix)]
#[test]
fn a_new_mirror_its_log_and_its_lock_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("private");
    let db = dir.path().join("m.db");
    let mut mirror = Mirror::open(&db).unwrap();
    mirror
        .apply_referral(
            &referral(r#"{"id":"a","customerProfile":{"name":"Contoso"}}"#),
            SystemTime::now(),
        )
        .unwrap();
    let lock = referrals_sync::SyncLock::acquire(&db, Duration::ZERO).unwrap();
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let side = |suffix: &str| std::path::PathBuf::from(format!("{}{suffix}", db.display()));
    for path in [
        db.clone(),
        side("-wal"),
        side("-shm"),
        lock.path().to_path_buf(),
    ] {
        assert_eq!(format!("{:o}", mode(&path)), "600", "{}", path.display());
    }
    drop(lock);
    drop(mirror);
    dir.close().unwrap();
}

/// The API a mirror belongs to: recorded by the first claim, kept by the same API (which may
/// add the account it did not know), refused to another base URL or account with nothing
/// written.
#[test]
fn a_mirror_records_its_api_once_and_refuses_another() {
    use referrals_sync::MirrorApi;

    let dir = temp_dir("api");
    let mut mirror = Mirror::open(dir.path().join("m.db")).unwrap();
    assert_eq!(mirror.api().unwrap(), None);
    let production = MirrorApi::new(&referrals_query::BaseUrl::default());
    mirror.claim_api(&production, SystemTime::now()).unwrap();
    assert_eq!(mirror.api().unwrap(), Some(production.clone()));
    let contoso = production.clone().with_account("contoso");
    mirror.claim_api(&contoso, SystemTime::now()).unwrap();
    assert_eq!(mirror.api().unwrap(), Some(contoso.clone()));
    mirror.claim_api(&production, SystemTime::now()).unwrap();
    for other in [
        production.clone().with_account("fabrikam"),
        MirrorApi::new(&"https://api.partner.microsoft.com/beta".parse().unwrap()),
        MirrorApi::demo(),
    ] {
        let error = mirror.claim_api(&other, SystemTime::now()).unwrap_err();
        let MirrorError::OtherApi {
            mirror: recorded,
            requested,
            ..
        } = &error
        else {
            panic!("{error}");
        };
        assert_eq!((recorded, requested), (&contoso, &other));
        assert!(error.to_string().contains("contoso"), "{error}");
        assert_eq!(
            mirror.api().unwrap(),
            Some(contoso.clone()),
            "nothing written"
        );
    }
    dir.close().unwrap();
}

/// Opened read-only, a mirror is read (referrals, journal) and never written: not the file,
/// not its schema, not even by a checkpoint; a write fails as on a read-only file.
#[test]
fn a_mirror_opened_read_only_is_read_and_never_written() {
    let dir = temp_dir("read-only-open");
    let db = dir.path().join("m.db");
    {
        let mut mirror = Mirror::open(&db).unwrap();
        for id in ["a", "b"] {
            mirror
                .apply_referral(&referral(&format!(r#"{{"id":"{id}"}}"#)), SystemTime::now())
                .unwrap();
        }
    }
    let before = std::fs::read(&db).unwrap();
    let mirror = Mirror::open_read_only(&db).unwrap();
    let mut ids = Vec::new();
    mirror
        .for_each_referral(None, |raw| {
            ids.push(serde_json::from_str::<serde_json::Value>(raw).unwrap()["id"].clone());
            Ok::<_, MirrorError>(())
        })
        .unwrap();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(mirror.changes_after(0, 10).unwrap().len(), 2);
    let mut mirror = mirror;
    let error = mirror
        .apply_referral(&referral(r#"{"id":"c"}"#), SystemTime::now())
        .unwrap_err();
    assert!(matches!(error, MirrorError::ReadOnly { .. }), "{error}");
    let error = mirror.acknowledge("crm", 1, SystemTime::now()).unwrap_err();
    assert!(matches!(error, MirrorError::ReadOnly { .. }), "{error}");
    drop(mirror);
    assert_eq!(std::fs::read(&db).unwrap(), before);
    let missing = Mirror::open_read_only(dir.path().join("none.db")).unwrap_err();
    assert!(matches!(missing, MirrorError::Missing { .. }), "{missing}");
    assert!(!dir.path().join("none.db").exists());
    dir.close().unwrap();
}

/// A mirror nobody can write (here: on a filesystem mounted read-only, where SQLite cannot
/// make its `-shm` file) is still read, by `open_to_read` too; a write is refused.
#[test]
fn a_mirror_on_a_read_only_filesystem_is_read() {
    let dir = temp_dir("ro-filesystem");
    let mount = dir.path().join("mnt");
    let Some(tmpfs) = Tmpfs::mount(&mount, "4m") else {
        eprintln!(
            "skipped: cannot mount a tmpfs here (not root?); \
             a_mirror_opened_read_only_is_read_and_never_written covers the read-only open"
        );
        dir.close().unwrap();
        return;
    };
    let db = mount.join("m.db");
    {
        let mut mirror = Mirror::open(&db).unwrap();
        mirror
            .apply_referral(&referral(r#"{"id":"a"}"#), SystemTime::now())
            .unwrap();
    }
    assert!(!mount.join("m.db-wal").exists() && !mount.join("m.db-shm").exists());
    tmpfs.remount("ro");
    for mirror in [
        Mirror::open_read_only(&db).unwrap(),
        Mirror::open_to_read(&db).unwrap(),
    ] {
        assert_eq!(mirror.changes_after(0, 10).unwrap().len(), 1);
    }
    let error = Mirror::open_existing(&db).unwrap_err();
    assert!(matches!(error, MirrorError::ReadOnly { .. }), "{error}");
    tmpfs.remount("rw");
    drop(tmpfs);
    dir.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_clearly_rolls_the_page_back_and_the_next_run_continues() {
    let dir = temp_dir("full");
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder().referrals(40).start().await.unwrap();
    let client = client(&simulator);
    let mirror = shared(&db);
    let options = SyncOptions {
        page_size: 20,
        concurrency: 1,
        ..SyncOptions::default()
    };
    sync(&client, &mirror, &options).await.unwrap();
    let before = (mirror_state(&db), journal(&db));
    for i in 0..300 {
        simulator.add_referral(
            serde_json::json!({"name": format!("big {i}"), "details": {"notes": "x".repeat(2000)}}),
        );
    }
    {
        // The database may not grow: the next insert finds the disk full.
        let guard = mirror.lock().unwrap();
        let pages: i64 = guard
            .connection()
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .unwrap();
        guard
            .connection()
            .pragma_update(None, "max_page_count", pages + 2)
            .unwrap();
    }
    let error = sync(&client, &mirror, &options).await.unwrap_err();
    let SyncError::Mirror(error @ MirrorError::Full { .. }) = &error else {
        panic!("{error}");
    };
    let message = error.to_string();
    assert!(
        message.contains("disk is full") && message.contains("rolled back"),
        "{message}"
    );
    // Pages committed before the disk filled are whole; the failing one left no trace.
    let committed = journal(&db);
    assert!(committed.starts_with(&before.1));
    assert_eq!(
        mirror_state(&db).len() - before.0.len(),
        committed.len() - before.1.len()
    );
    check_journal(&db);
    drop(mirror);

    let mirror = shared(&db);
    let report = sync(&client, &mirror, &options).await.unwrap();
    assert!(report.resumed);
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    check_journal(&db);
    dir.close().unwrap();
}

#[cfg(unix)]
#[test]
fn a_read_only_directory_gives_a_clear_error_and_the_mirror_is_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("readonly");
    let db = dir.path().join("m.db");
    {
        let mut mirror = Mirror::open(&db).unwrap();
        mirror
            .apply_referral(&referral(r#"{"id":"a","eTag":"1"}"#), SystemTime::now())
            .unwrap();
    }
    let before = std::fs::read(&db).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.path().join("probe");
    let root = std::fs::write(&probe, b"").is_ok(); // root ignores permissions
    let outcome = referrals_sync::SyncLock::acquire(&db, Duration::ZERO).map(|_| ());
    let opened = Mirror::open(&db).and_then(|mut m| {
        m.apply_referral(&referral(r#"{"id":"a","eTag":"2"}"#), SystemTime::now())
    });
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    if !root {
        let error = outcome.unwrap_err();
        assert!(matches!(error, MirrorError::ReadOnly { .. }), "{error}");
        assert!(error.to_string().contains("write access"), "{error}");
        let error = opened.unwrap_err();
        assert!(matches!(error, MirrorError::ReadOnly { .. }), "{error}");
        assert_eq!(std::fs::read(&db).unwrap(), before);
    }
    dir.close().unwrap();
}

#[test]
fn a_webhook_applies_one_referral_exactly_as_a_sync_would() {
    let dir = temp_dir("webhook");
    let db = dir.path().join("m.db");
    let mut mirror = Mirror::open(&db).unwrap();
    let now = SystemTime::now();
    let v1 = referral(r#"{"id":"r","eTag":"1","updatedDateTime":"2026-01-01T00:00:00Z","x":1}"#);
    let v2 = referral(r#"{"id":"r","eTag":"2","updatedDateTime":"2026-01-02T00:00:00Z","x":2}"#);
    let created = mirror.apply_referral(&v1, now).unwrap();
    assert_eq!(created.decision, Decision::Created);
    assert_eq!(created.seq, Some(1));
    assert_eq!(mirror.apply_referral(&v1, now).unwrap().seq, None);
    assert_eq!(
        mirror.apply_referral(&v2, now).unwrap().decision,
        Decision::Updated
    );
    // An older version fetched late changes nothing.
    assert_eq!(
        mirror.apply_referral(&v1, now).unwrap().decision,
        Decision::Stale
    );
    assert_eq!(mirror.mark_removed("r", now).unwrap(), Some(3));
    assert_eq!(mirror.mark_removed("r", now).unwrap(), None);
    assert_eq!(mirror.mark_removed("never-seen", now).unwrap(), None);
    assert_eq!(
        mirror.apply_referral(&v2, now).unwrap().decision,
        Decision::Created
    );
    let kinds: Vec<_> = mirror
        .changes_after(0, 100)
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.etag))
        .collect();
    let expected = [
        (ChangeKind::Created, "1"),
        (ChangeKind::Updated, "2"),
        (ChangeKind::Removed, "2"),
        (ChangeKind::Created, "2"),
    ];
    assert_eq!(kinds, expected.map(|(k, e)| (k, Some(e.to_owned()))));
    let error = mirror
        .apply_referral(&referral(r#"{"name":"no id"}"#), now)
        .unwrap_err();
    assert!(error.to_string().contains("without an `id`"), "{error}");
    check_journal(&db);
    dir.close().unwrap();
}

#[test]
fn an_extension_keeps_its_own_tables_and_writes_them_with_the_mirror_atomically() {
    let dir = temp_dir("extension");
    let db = dir.path().join("m.db");
    let mut mirror = Mirror::open(&db).unwrap();
    let migrations = [
        "CREATE TABLE webhook_events (event_id TEXT PRIMARY KEY, referral_id TEXT NOT NULL)",
        "ALTER TABLE webhook_events ADD COLUMN received_at TEXT",
    ];
    assert_eq!(
        mirror
            .migrate_extension("webhooks", &migrations[..1])
            .unwrap(),
        1
    );
    assert_eq!(
        mirror.migrate_extension("webhooks", &migrations).unwrap(),
        2
    );
    assert_eq!(
        mirror.migrate_extension("webhooks", &migrations).unwrap(),
        2
    );
    let v1 = referral(r#"{"id":"r","eTag":"1"}"#);
    let applied = mirror
        .transaction(|tx| {
            let applied = Mirror::apply_referral_in(tx, &v1, SystemTime::now()).unwrap();
            tx.execute(
                "INSERT INTO webhook_events (event_id, referral_id) VALUES (?1, ?2)",
                params!["e1", "r"],
            )
            .unwrap();
            Ok(applied)
        })
        .unwrap();
    assert_eq!(applied.decision, Decision::Created);
    // A failure in the caller's part rolls the mirror's part back too.
    let v2 = referral(r#"{"id":"r","eTag":"2"}"#);
    let failed = mirror.transaction(|tx| {
        Mirror::apply_referral_in(tx, &v2, SystemTime::now()).unwrap();
        Err::<(), _>(MirrorError::Invalid {
            path: db.clone(),
            what: "the event",
            value: "duplicate".into(),
        })
    });
    assert!(failed.is_err());
    assert_eq!(mirror.changes_after(0, 10).unwrap().len(), 1);
    dir.close().unwrap();
}

#[test]
fn consumer_offsets_move_forward_only_and_only_to_rows_that_exist() {
    let dir = temp_dir("consumers");
    let db = dir.path().join("m.db");
    let mut mirror = Mirror::open(&db).unwrap();
    for id in ["a", "b", "c"] {
        mirror
            .apply_referral(&referral(&format!(r#"{{"id":"{id}"}}"#)), SystemTime::now())
            .unwrap();
    }
    assert_eq!(mirror.consumer_offset("crm").unwrap(), 0);
    assert_eq!(mirror.acknowledge("crm", 2, SystemTime::now()).unwrap(), 2);
    assert_eq!(mirror.acknowledge("crm", 1, SystemTime::now()).unwrap(), 2);
    let error = mirror.acknowledge("crm", 9, SystemTime::now()).unwrap_err();
    assert!(error.to_string().contains("last row is 3"), "{error}");
    assert_eq!(mirror.consumer_offset("crm").unwrap(), 2);
    assert_eq!(mirror.consumer_offset("bi").unwrap(), 0);
    let rest = mirror.changes_after(2, 100).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].referral.as_deref(), Some(r#"{"id":"c"}"#));
    assert_eq!(mirror.last_seq().unwrap(), 3);
    dir.close().unwrap();
}

#[test]
fn the_journal_check_finds_a_repeated_version_and_a_disagreeing_mirror() {
    let dir = temp_dir("verify");
    let db = dir.path().join("m.db");
    let mut mirror = Mirror::open(&db).unwrap();
    mirror
        .apply_referral(&referral(r#"{"id":"a","eTag":"1"}"#), SystemTime::now())
        .unwrap();
    assert_eq!(mirror.verify_journal().unwrap(), Vec::<String>::new());
    mirror
        .connection()
        .execute(
            "INSERT INTO changes (referral_id, kind, etag, recorded_at) VALUES ('a', 'updated', '1', 'now')",
            [],
        )
        .unwrap();
    mirror
        .connection()
        .execute("UPDATE referrals SET removed_at = 'now'", [])
        .unwrap();
    let problems = mirror.verify_journal().unwrap();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].contains("repeats the version"), "{problems:#?}");
    assert!(
        problems[1].contains("removed in the mirror"),
        "{problems:#?}"
    );
    dir.close().unwrap();
}

#[test]
fn the_journal_check_names_both_etags_when_they_disagree() {
    let dir = temp_dir("verify-etags");
    let db = dir.path().join("m.db");
    let mut mirror = Mirror::open(&db).unwrap();
    for json in [r#"{"id":"a","eTag":"1"}"#, r#"{"id":"b"}"#] {
        mirror
            .apply_referral(&referral(json), SystemTime::now())
            .unwrap();
    }
    mirror
        .connection()
        .execute("UPDATE referrals SET etag = id || '2'", [])
        .unwrap();
    assert_eq!(
        mirror.verify_journal().unwrap(),
        [
            "a: the last journal row (seq 1) has eTag `1`, the mirror eTag `a2`",
            "b: the last journal row (seq 2) has no eTag, the mirror eTag `b2`",
        ]
    );
    dir.close().unwrap();
}

/// A small tmpfs mounted on `dir` for the test's life (needs root; `None` when not allowed).
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).ok()?;
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(dir.to_path_buf()))
    }

    fn remount(&self, options: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_full_disk_and_a_read_only_filesystem_leave_the_mirror_intact() {
    let dir = temp_dir("tmpfs");
    let mount = dir.path().join("mnt");
    let Some(tmpfs) = Tmpfs::mount(&mount, "600k") else {
        eprintln!(
            "skipped: cannot mount a tmpfs here (not root?); the max_page_count test covers a full disk"
        );
        dir.close().unwrap();
        return;
    };
    let db = mount.join("m.db");
    let simulator = Simulator::builder().referrals(400).start().await.unwrap();
    let client = client(&simulator);
    let options = SyncOptions {
        page_size: 20,
        concurrency: 1,
        ..SyncOptions::default()
    };
    let mirror = shared(&db);
    let error = sync(&client, &mirror, &options).await.unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, SyncError::Mirror(MirrorError::Full { .. })),
        "{message}"
    );
    assert!(
        message.contains("m.db") && message.contains("disk is full"),
        "{message}"
    );
    drop(mirror);
    check_journal(&db);
    let kept = journal(&db).len();
    assert!(kept > 0 && kept < 400, "{kept} pages' worth kept");
    assert_eq!(mirror_state(&db).len(), kept);

    // Read-only: refused with a clear error, nothing changes.
    tmpfs.remount("ro");
    let error = Mirror::open(&db)
        .and_then(|mut m| m.apply_referral(&referral(r#"{"id":"x"}"#), SystemTime::now()));
    let error = error.unwrap_err();
    assert!(matches!(error, MirrorError::ReadOnly { .. }), "{error}");
    assert!(error.to_string().contains("write access"), "{error}");
    let lock = referrals_sync::SyncLock::acquire(&db, Duration::ZERO).unwrap_err();
    assert!(matches!(lock, MirrorError::ReadOnly { .. }), "{lock}");

    // Room again: the run continues and ends equal to the account.
    tmpfs.remount("rw,size=64m");
    let mirror = shared(&db);
    let report = sync(&client, &mirror, &options).await.unwrap();
    assert!(report.resumed);
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    assert_eq!(journal(&db).len(), 400);
    check_journal(&db);
    drop(mirror);
    drop(tmpfs);
    dir.close().unwrap();
}

/// Pages written in one transaction journal their changes in the order received: across the
/// batched journal's statements (more than 100 changes) and for a referral received twice in
/// the batch (created, then updated, one after the other).
#[test]
fn a_batch_of_pages_journals_every_change_in_the_order_received() {
    let dir = temp_dir("journal-order");
    let db = dir.path().join("m.db");
    let mut mirror = Mirror::open(&db).unwrap();
    let version = |i: usize, v: u32| {
        referral(&format!(
            r#"{{"id": "r{i:03}", "eTag": "\"{v}\"", "updatedDateTime": "2026-12-01T0{v}:00:00Z"}}"#
        ))
    };
    begin_first_run(&mut mirror);
    // 150 new, then r007 again in a newer version, 100 more new, and r007's version again.
    let first = full_page(&(0..150).map(|i| version(i, 1)).collect::<Vec<_>>());
    let mut second_rows = vec![version(7, 2)];
    second_rows.extend((150..250).map(|i| version(i, 1)));
    second_rows.push(version(7, 2));
    let second = full_page(&second_rows);
    let counts = mirror.apply_pages(&[first, second]).unwrap();
    assert_eq!(
        (counts.created, counts.updated, counts.unchanged),
        (250, 1, 1)
    );
    let mut expected: Vec<(String, String, String)> = (0..150)
        .map(|i| (format!("r{i:03}"), "created".into(), "\"1\"".into()))
        .collect();
    expected.push(("r007".into(), "updated".into(), "\"2\"".into()));
    expected.extend((150..250).map(|i| (format!("r{i:03}"), "created".into(), "\"1\"".into())));
    let journaled: Vec<(String, String, String)> = journal(&db)
        .into_iter()
        .enumerate()
        .map(|(n, (seq, id, kind, etag))| {
            assert_eq!(seq, n as i64 + 1, "sequence numbers follow the order");
            (id, kind, etag.unwrap())
        })
        .collect();
    assert_eq!(journaled, expected);
    check_journal(&db);
    dir.close().unwrap();
}

/// When another process replaced or finished the run (its `sync_run` row is gone), a page
/// of the old run is refused and rolled back whole, and the run cannot be finished twice.
#[test]
fn pages_of_a_run_another_process_ended_are_refused_and_leave_nothing() {
    let dir = temp_dir("run-gone");
    let db = dir.path().join("m.db");
    let mut mirror = Mirror::open(&db).unwrap();
    begin_first_run(&mut mirror);
    mirror
        .apply_pages(&[full_page(&[referral(r#"{"id": "a"}"#)])])
        .unwrap();
    let before = (mirror_state(&db), journal(&db));
    mirror
        .connection()
        .execute("DELETE FROM sync_run", [])
        .unwrap();
    let page = full_page(&[
        referral(r#"{"id": "a", "x": 1}"#),
        referral(r#"{"id": "b"}"#),
    ]);
    let error = mirror.apply_pages(&[page]).unwrap_err();
    assert!(
        matches!(error, MirrorError::NoRunInProgress { .. }),
        "{error}"
    );
    assert_eq!((mirror_state(&db), journal(&db)), before, "nothing written");
    let finished = mirror.finish_run(at_11(), None, DEFAULT_OVERLAP);
    assert!(
        matches!(finished, Err(MirrorError::NoRunInProgress { .. })),
        "{finished:?}"
    );
    check_journal(&db);
    dir.close().unwrap();
}

/// Begins a first (full) run in `mirror`, started at 09:00.
fn begin_first_run(mirror: &mut Mirror) {
    use referrals_model::Timestamp;
    use referrals_sync::plan::{Reason, RunKind};
    use referrals_sync::{Counts, RunRecord};

    mirror
        .begin_run(&RunRecord {
            kind: RunKind::Full,
            reason: Reason::FirstRun,
            started_at: Timestamp::new("2026-12-01T09:00:00Z"),
            since: None,
            checkpoint: full_page(&[]).checkpoint,
            newest_updated: None,
            counts: Counts::default(),
        })
        .unwrap();
}

/// A page of that run, received at 10:00.
fn full_page(referrals: &[Referral]) -> referrals_sync::PageUpdate {
    use referrals_model::Timestamp;
    use referrals_query::{Checkpoint, ListQuery};
    use referrals_sync::MirrorRow;
    use referrals_sync::plan::{Reason, RunKind};

    referrals_sync::PageUpdate {
        rows: referrals
            .iter()
            .map(|r| MirrorRow::from_referral(r).unwrap())
            .collect(),
        checkpoint: Checkpoint::start(&ListQuery::new().page_size(100).unwrap()),
        kind: RunKind::Full,
        reason: Reason::FirstRun,
        newest_updated: None,
        now: Timestamp::new("2026-12-01T10:00:00Z"),
        quarantined: Vec::new(),
    }
}

/// Begins a full run in `mirror` and writes `referrals` referrals of about 4 KB each, 500 per
/// transaction.
fn write_big_referrals(mirror: &mut Mirror, referrals: usize) {
    begin_first_run(mirror);
    let notes = "n".repeat(4_000);
    for batch in 0..referrals.div_ceil(500) {
        let items: Vec<Referral> = (batch * 500..((batch + 1) * 500).min(referrals))
            .map(|i| {
                referral(&format!(
                    r#"{{"id": "r{i:05}", "eTag": "\"1\"", "details": {{"notes": "{notes}"}}}}"#
                ))
            })
            .collect();
        mirror.apply_pages(&[full_page(&items)]).unwrap();
    }
}

/// The referrals and the integrity check of the mirror at `db`, reopened.
fn reopened_count(db: &std::path::Path) -> i64 {
    let mirror = Mirror::open_existing(db).unwrap();
    let (count, check): (i64, String) = mirror
        .connection()
        .query_row(
            "SELECT (SELECT count(*) FROM referrals), (SELECT integrity_check FROM pragma_integrity_check)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(check, "ok");
    count
}

/// With checkpoints in the background, the writer's commits never copy the log themselves
/// (its automatic checkpoint is off): the database file fills while the writer keeps its
/// connection open, the log starts over instead of growing with everything written, and
/// nothing is lost.
#[test]
fn background_checkpoints_copy_the_log_while_the_writer_goes_on() {
    let dir = temp_dir("background-checkpoints");
    let db = dir.path().join("m.db");
    let wal = dir.path().join("m.db-wal");
    let mut mirror = Mirror::open(&db).unwrap();
    mirror.checkpoint_in_background().unwrap();
    let autocheckpoint: i64 = mirror
        .connection()
        .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
        .unwrap();
    assert_eq!(
        autocheckpoint, 0,
        "the writer leaves checkpoints to the thread"
    );
    let referrals = 20_000;
    write_big_referrals(&mut mirror, referrals);
    let written = referrals as u64 * 4_000;
    // The thread copies in its own time; wait for the outcome, however slow the machine.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while std::fs::metadata(&db).unwrap().len() < written / 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was checkpointed into {}",
            db.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(
        log < written,
        "the log ({log} bytes) started over rather than keep all {written} bytes"
    );
    drop(mirror);
    assert_eq!(reopened_count(&db), referrals as i64);
    assert_eq!(journal(&db).len(), referrals);
    dir.close().unwrap();
}

/// A reader in the middle of a long query keeps its view of the file while a sync writes and
/// checkpoints in the background around it, and the sync finishes; afterwards everything is
/// there.
#[test]
fn a_long_reader_keeps_its_view_while_background_checkpoints_run() {
    let dir = temp_dir("background-reader");
    let db = dir.path().join("m.db");
    let mut mirror = Mirror::open(&db).unwrap();
    mirror.checkpoint_in_background().unwrap();
    write_big_referrals(&mut mirror, 500);

    let reader = rusqlite::Connection::open(&db).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let count = |c: &rusqlite::Connection| -> i64 {
        c.query_row("SELECT count(*) FROM referrals", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&reader), 500);
    write_big_referrals(&mut mirror, 12_000);
    assert_eq!(count(&reader), 500, "the reader's snapshot is kept");
    reader.execute_batch("COMMIT").unwrap();
    assert_eq!(count(&reader), 12_000);
    drop(reader);
    drop(mirror);
    assert_eq!(reopened_count(&db), 12_000);
    dir.close().unwrap();
}

/// The referral `r1`, version `etag`.
fn r1(etag: &str) -> Referral {
    referral(&format!(
        r#"{{"id": "r1", "eTag": "\"{etag}\"", "name": "Deal", "x-new": [1, 2]}}"#
    ))
}

/// An unchanged referral is told by the digest in `referral_seen`, without reading its JSON:
/// a row whose JSON was edited by hand, was removed, or was deleted by hand must not pass for
/// unchanged when the same version is received again.
#[test]
fn a_referral_edited_removed_or_deleted_by_hand_is_never_taken_for_unchanged() {
    let dir = temp_dir("digest");
    let mut mirror = Mirror::open(dir.path().join("m.db")).unwrap();
    let now = SystemTime::now();
    let received = r1("1");
    let decide = |mirror: &mut Mirror| mirror.apply_referral(&received, now).unwrap().decision;
    assert_eq!(decide(&mut mirror), Decision::Created);
    assert_eq!(decide(&mut mirror), Decision::Unchanged);

    let stored = |mirror: &Mirror| -> Option<String> {
        mirror
            .connection()
            .query_row("SELECT raw_json FROM referrals WHERE id = 'r1'", [], |r| {
                r.get(0)
            })
            .ok()
    };
    let original = stored(&mirror).unwrap();
    mirror
        .connection()
        .execute(
            "UPDATE referrals SET raw_json = '{\"id\": \"r1\"}' WHERE id = 'r1'",
            [],
        )
        .unwrap();
    assert_eq!(decide(&mut mirror), Decision::Updated);
    assert_eq!(
        stored(&mirror).unwrap(),
        original,
        "the received version is back"
    );
    assert_eq!(decide(&mut mirror), Decision::Unchanged);

    assert!(mirror.mark_removed("r1", now).unwrap().is_some());
    assert_eq!(decide(&mut mirror), Decision::Created);

    mirror
        .connection()
        .execute("DELETE FROM referrals WHERE id = 'r1'", [])
        .unwrap();
    let seen: i64 = mirror
        .connection()
        .query_row("SELECT count(*) FROM referral_seen", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, 0, "its referral_seen row went with it");
    assert_eq!(decide(&mut mirror), Decision::Created);
    assert_eq!(stored(&mirror).unwrap(), original);
    assert_eq!(decide(&mut mirror), Decision::Unchanged);
    let kinds: Vec<String> = journal(&dir.path().join("m.db"))
        .into_iter()
        .map(|(_, _, kind, _)| kind)
        .collect();
    assert_eq!(
        kinds,
        ["created", "updated", "removed", "created", "created"]
    );
    drop(mirror);
    dir.close().unwrap();
}

/// Referrals `<prefix>0` … `<prefix>{n - 1}`, stored (and last seen) in 1970.
fn stored_long_ago(mirror: &mut Mirror, prefix: &str, n: usize) -> Vec<Referral> {
    let items: Vec<Referral> = (0..n)
        .map(|i| referral(&format!(r#"{{"id": "{prefix}{i}", "eTag": "\"1\""}}"#)))
        .collect();
    for item in &items {
        mirror.apply_referral(item, SystemTime::UNIX_EPOCH).unwrap();
    }
    items
}

/// A full run removes what it did not see, whether its `referral_seen` row says so or is
/// missing (deleted by hand); what it saw stays.
#[test]
fn a_full_run_removes_what_it_did_not_see_even_without_a_seen_row() {
    let dir = temp_dir("unseen");
    let mut mirror = Mirror::open(dir.path().join("m.db")).unwrap();
    let items = stored_long_ago(&mut mirror, "k", 5);
    mirror
        .connection()
        .execute(
            "DELETE FROM referral_seen
             WHERE referral_rowid = (SELECT rowid FROM referrals WHERE id = 'k4')",
            [],
        )
        .unwrap();
    begin_first_run(&mut mirror);
    // The run sees k0 and k1 only (unchanged: only their seen rows are written).
    let counts = mirror.apply_pages(&[full_page(&items[..2])]).unwrap();
    assert_eq!(counts.unchanged, 2);
    let counts = mirror.finish_run(at_11(), None, DEFAULT_OVERLAP).unwrap();
    assert_eq!(counts.removed, 3);
    let present: Vec<String> = {
        let mut statement = mirror
            .connection()
            .prepare("SELECT id FROM referrals WHERE removed_at IS NULL ORDER BY id")
            .unwrap();
        statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(present, ["k0", "k1"]);
    assert_eq!(mirror.verify_journal().unwrap(), Vec::<String>::new());
    drop(mirror);
    dir.close().unwrap();
}

/// SQLite may renumber the rowids of `referrals` (it has no `INTEGER PRIMARY KEY`: `VACUUM`
/// is allowed to), which is what `referral_seen` is keyed by. Renumbered here by hand: every
/// referral received again is still unchanged (its seen row is missing, so its JSON is compared
/// in full), a full run still removes exactly the ones it did not see, and the seen rows left
/// without a referral are deleted by it.
#[test]
fn renumbered_rows_change_no_decision() {
    let dir = temp_dir("vacuum");
    let mut mirror = Mirror::open(dir.path().join("m.db")).unwrap();
    let items = stored_long_ago(&mut mirror, "v", 6);
    let rowid = |mirror: &Mirror, id: &str| -> i64 {
        mirror
            .connection()
            .query_row("SELECT rowid FROM referrals WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let before = rowid(&mirror, "v5");
    mirror
        .connection()
        .execute_batch("UPDATE referrals SET rowid = rowid + 100;")
        .unwrap();
    assert_eq!(rowid(&mirror, "v5"), before + 100);
    let last_seq = mirror.last_seq().unwrap();
    begin_first_run(&mut mirror);
    let counts = mirror.apply_pages(&[full_page(&items[..4])]).unwrap();
    assert_eq!((counts.created, counts.unchanged), (0, 4), "{counts:?}");
    let counts = mirror.finish_run(at_11(), None, DEFAULT_OVERLAP).unwrap();
    assert_eq!(counts.removed, 2);
    let removed: Vec<String> = mirror
        .changes_after(last_seq, 10)
        .unwrap()
        .into_iter()
        .map(|change| format!("{} {}", change.kind, change.referral_id))
        .collect();
    assert_eq!(removed, ["removed v4", "removed v5"]);
    let orphans: i64 = mirror
        .connection()
        .query_row(
            "SELECT count(*) FROM referral_seen s
             WHERE NOT EXISTS (SELECT 1 FROM referrals r WHERE r.rowid = s.referral_rowid)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    // Received once more, the four are unchanged the fast way (their digests were rewritten).
    let counts = mirror.apply_pages(&[full_page(&items[..4])]);
    assert!(
        matches!(counts, Err(MirrorError::NoRunInProgress { .. })),
        "no run in progress any more: {counts:?}"
    );
    for item in &items[..4] {
        assert_eq!(
            mirror
                .apply_referral(item, SystemTime::now())
                .unwrap()
                .decision,
            Decision::Unchanged
        );
    }
    assert_eq!(mirror.verify_journal().unwrap(), Vec::<String>::new());
    drop(mirror);
    dir.close().unwrap();
}

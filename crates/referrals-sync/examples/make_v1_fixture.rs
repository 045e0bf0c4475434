//! Writes `tests/fixtures/mirror-v1.db`: a schema-version-1 mirror made by the release that
//! writes version 1, kept so that the migration to later versions is tested against a real
//! file. Run once at that release: `cargo run -p referrals-sync --example make_v1_fixture`.
//!
//! What it holds: a completed full run of 30 synthetic referrals and 2 hand-written ones
//! (unknown fields, an explicit null, a 17-digit float), a webhook update, a removal, a
//! consumer offset, an extension's table, and a second full run left in progress after its
//! first page (so that some referrals were seen by it and others not yet).

use std::path::Path;
use std::time::{Duration, SystemTime};

use referrals_fixtures::synthetic::Synthetic;
use referrals_model::{Referral, Timestamp};
use referrals_query::{Checkpoint, ListQuery};
use referrals_sync::plan::{Reason, RunKind};
use referrals_sync::store::{Counts, PageUpdate, RunRecord, Store};
use referrals_sync::{Mirror, MirrorRow};

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + seconds)
}

fn stamp(seconds: u64) -> Timestamp {
    Timestamp::from_system_time(at(seconds))
}

fn row(value: &serde_json::Value) -> MirrorRow {
    let referral: Referral = serde_json::from_value(value.clone()).expect("a referral");
    MirrorRow::from_referral(&referral).expect("a row")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mirror-v1.db");
    std::fs::create_dir_all(path.parent().expect("a parent"))?;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let mut referrals = Synthetic::new(19).referrals(30);
    referrals.push(serde_json::from_str(
        r#"{"id": "hand-1", "eTag": "\"h1\"", "name": "Unknown fields", "status": "Active",
            "x-future": {"nested": [1, 2.5, "three", null]}, "customerProfile": null,
            "details": {"dealValue": 0.98569069463286951, "currency": "EUR"},
            "updatedDateTime": "2026-06-01T10:00:00Z"}"#,
    )?);
    referrals.push(serde_json::json!({
        "id": "hand-2", "eTag": "\"h2\"", "status": "Brand-new-status", "type": "Independent",
        "updatedDateTime": "2026-06-01T11:00:00Z"
    }));
    let checkpoint = Checkpoint::start(&ListQuery::new().page_size(10).expect("a page size"));
    let pages = |referrals: &[serde_json::Value], now: u64| -> Vec<PageUpdate> {
        referrals
            .chunks(10)
            .map(|items| PageUpdate {
                rows: items.iter().map(row).collect(),
                checkpoint: checkpoint.clone(),
                kind: RunKind::Full,
                reason: Reason::FirstRun,
                newest_updated: Some(Timestamp::new("2026-06-01T11:00:00Z")),
                now: stamp(now),
            })
            .collect()
    };
    let run = |started: u64, reason: Reason| RunRecord {
        kind: RunKind::Full,
        reason,
        started_at: stamp(started),
        since: None,
        checkpoint: checkpoint.clone(),
        newest_updated: None,
        counts: Counts::default(),
    };

    let mut mirror = Mirror::open(&path)?;
    mirror.begin_run(&run(0, Reason::FirstRun))?;
    mirror.apply_pages(&pages(&referrals, 1))?;
    mirror.finish_run(&stamp(2))?;

    let mut changed = referrals[3].clone();
    changed["name"] = "Renamed by a webhook".into();
    changed["eTag"] = "\"webhook\"".into();
    let changed: Referral = serde_json::from_value(changed)?;
    mirror.apply_referral(&changed, at(100))?;
    let removed = referrals[5]["id"].as_str().expect("an id").to_owned();
    mirror.mark_removed(&removed, at(200))?;
    mirror.acknowledge("crm", 7, at(300))?;
    mirror.migrate_extension(
        "notes",
        &["CREATE TABLE notes (referral_id TEXT PRIMARY KEY, note TEXT NOT NULL)"],
    )?;
    mirror.transaction(|tx| {
        tx.execute(
            "INSERT INTO notes VALUES (?1, 'call back on Monday')",
            [&referrals[0]["id"].as_str()],
        )
        .map_err(|e| referrals_sync::MirrorError::Invalid {
            path: path.clone(),
            what: "a note",
            detail: e.to_string(),
        })?;
        Ok(())
    })?;

    // The weekly full run, killed after its first page.
    mirror.begin_run(&run(1_000, Reason::Requested))?;
    mirror.apply_page(&pages(&referrals, 1_001)[0])?;

    mirror
        .connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(mirror);
    println!("wrote {}", path.display());
    Ok(())
}

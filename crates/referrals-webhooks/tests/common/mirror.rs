//! A minimal mirror for the listener's tests (the `referrals` and `changes` tables only), until
//! the sync crate's mirror is wired in.

use std::path::Path;
use std::time::SystemTime;

use referrals::Referral;
use referrals_webhooks::{MirrorDb, StoreError};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

#[derive(Debug)]
pub struct TestMirror {
    connection: Connection,
}

impl TestMirror {
    pub fn open(path: &Path) -> TestMirror {
        let connection = Connection::open(path).unwrap();
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .unwrap();
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 CREATE TABLE IF NOT EXISTS referrals (id TEXT PRIMARY KEY, raw_json TEXT NOT NULL, removed_at TEXT);
                 CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, referral_id TEXT NOT NULL, kind TEXT NOT NULL);
                 CREATE TABLE IF NOT EXISTS extensions (name TEXT PRIMARY KEY, version INTEGER NOT NULL);",
            )
            .unwrap();
        TestMirror { connection }
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }
}

impl MirrorDb for TestMirror {
    fn migrate(&mut self, name: &str, migrations: &[&str]) -> Result<(), StoreError> {
        self.write(&mut |tx| {
            let version: i64 = tx
                .query_row(
                    "SELECT version FROM extensions WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            for migration in migrations.iter().skip(version as usize) {
                tx.execute_batch(migration)?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO extensions (name, version) VALUES (?1, ?2)",
                params![name, migrations.len() as i64],
            )?;
            Ok(())
        })
    }

    fn write<T>(
        &mut self,
        f: &mut dyn FnMut(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    fn apply_referral_in(
        tx: &Transaction<'_>,
        referral: &Referral,
        _now: SystemTime,
    ) -> rusqlite::Result<Option<i64>> {
        let id = referral.id.clone().unwrap_or_default();
        let raw = serde_json::to_string(referral).unwrap();
        let stored: Option<(String, Option<String>)> = tx
            .query_row(
                "SELECT raw_json, removed_at FROM referrals WHERE id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let kind = match stored {
            Some((old, None)) if old == raw => return Ok(None),
            Some((_, None)) => "updated",
            _ => "created",
        };
        tx.execute(
            "INSERT OR REPLACE INTO referrals (id, raw_json, removed_at) VALUES (?1, ?2, NULL)",
            params![id, raw],
        )?;
        tx.execute(
            "INSERT INTO changes (referral_id, kind) VALUES (?1, ?2)",
            params![id, kind],
        )?;
        Ok(Some(tx.last_insert_rowid()))
    }

    fn mark_removed_in(
        tx: &Transaction<'_>,
        id: &str,
        _now: SystemTime,
    ) -> rusqlite::Result<Option<i64>> {
        let n = tx.execute(
            "UPDATE referrals SET removed_at = 'now' WHERE id = ?1 AND removed_at IS NULL",
            [id],
        )?;
        if n == 0 {
            return Ok(None);
        }
        tx.execute(
            "INSERT INTO changes (referral_id, kind) VALUES (?1, 'removed')",
            [id],
        )?;
        Ok(Some(tx.last_insert_rowid()))
    }
}

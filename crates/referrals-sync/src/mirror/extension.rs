//! The extension point: other crates' tables in the mirror's file, migrated once each and
//! written in the mirror's transactions.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Mirror, write_error};
use crate::MirrorError;

impl Mirror {
    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`), committed when it returns `Ok`
    /// and rolled back when it returns `Err`. Use it for tables of your own that must change
    /// together with the mirror; see [`apply_referral_in`](Self::apply_referral_in). Errors of
    /// your own statements become mirror errors with [`MirrorError::from_sqlite`], which tells
    /// a full disk or a read-only file from the rest.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, MirrorError>,
    ) -> Result<T, MirrorError> {
        let path = self.path.clone();
        let tx = self.write_transaction()?;
        let value = f(&tx)?;
        tx.commit().map_err(|e| write_error(&path, e))?;
        Ok(value)
    }

    /// The extension point for another crate's tables in the same file: applies those of
    /// `migrations` not yet applied for `name` (recorded in the `extensions` table), each in
    /// a transaction. Returns the extension's schema version. Migrations are append-only.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let mut mirror = referrals_sync::Mirror::open(dir.path().join("m.db"))?;
    /// let migrations = ["CREATE TABLE webhook_events (id TEXT PRIMARY KEY, received_at TEXT NOT NULL)"];
    /// assert_eq!(mirror.migrate_extension("webhooks", &migrations)?, 1);
    /// assert_eq!(mirror.migrate_extension("webhooks", &migrations)?, 1); // applied once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn migrate_extension(
        &mut self,
        name: &str,
        migrations: &[&str],
    ) -> Result<i64, MirrorError> {
        let path = self.path.clone();
        let fail = |e| MirrorError::from_sqlite(&path, "migrate an extension's tables", e);
        self.transaction(|tx| {
            let version: i64 = tx
                .query_row(
                    "SELECT version FROM extensions WHERE name = ?1",
                    [name],
                    |row| row.get(0),
                )
                .optional()
                .map_err(fail)?
                .unwrap_or(0);
            for migration in migrations.iter().skip(version.max(0) as usize) {
                tx.execute_batch(migration).map_err(fail)?;
            }
            let now = migrations.len() as i64;
            if now > version {
                tx.execute(
                    "INSERT INTO extensions (name, version) VALUES (?1, ?2)
                     ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                    params![name, now],
                )
                .map_err(fail)?;
            }
            Ok(now.max(version))
        })
    }
}

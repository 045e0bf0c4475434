//! The extension point: other crates' tables in the mirror's file, migrated once each and
//! written in the mirror's transactions.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::Mirror;
use crate::MirrorError;

impl Mirror {
    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`), committed when it returns `Ok`.
    /// Use it for tables of your own that must change together with the mirror; see
    /// [`apply_referral_in`](Self::apply_referral_in).
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, MirrorError>,
    ) -> Result<T, MirrorError> {
        let path = self.path.clone();
        let fail = |e| MirrorError::sqlite(&path, "write", e);
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let value = f(&tx)?;
        tx.commit().map_err(fail)?;
        Ok(value)
    }

    /// The extension point for another crate's tables in the same file: applies those of
    /// `migrations` not yet applied for `name` (recorded in the `extensions` table), each in
    /// a transaction. Returns the extension's schema version. Migrations are append-only.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("mirror-ext-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// let mut mirror = referrals_sync::Mirror::open(dir.join("m.db"))?;
    /// let migrations = ["CREATE TABLE webhook_events (id TEXT PRIMARY KEY, received_at TEXT NOT NULL)"];
    /// assert_eq!(mirror.migrate_extension("webhooks", &migrations)?, 1);
    /// assert_eq!(mirror.migrate_extension("webhooks", &migrations)?, 1); // applied once
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn migrate_extension(
        &mut self,
        name: &str,
        migrations: &[&str],
    ) -> Result<i64, MirrorError> {
        let path = self.path.clone();
        let fail = |e| MirrorError::sqlite(&path, "migrate an extension's tables", e);
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

//! The SQLite mirror, one module per job: opening it (checks, pragmas, WAL, migrations), the
//! rows and their change rules, the journal and consumer offsets, the steps of a sync run,
//! verifying the journal, the quarantine of referrals received but not decodable, and the
//! extension point for other crates' tables.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::MirrorError;
use crate::checkpointer::Checkpointer;

mod api;
mod extension;
mod identity;
mod journal;
mod open;
mod quarantine;
mod rows;
mod runs;
mod verify;

pub use journal::ChangeRecord;
pub use open::BUSY_TIMEOUT;
pub use quarantine::{QuarantineRow, Quarantined};
pub use rows::Applied;
pub use runs::{Counts, PageRow, PageUpdate, PagesApplied, RunRecord};

/// A local mirror of referrals in one SQLite file (see `docs/sync.md` for its tables).
///
/// All methods block; from async code call them on a blocking thread, e.g. with
/// [`run_blocking`](crate::run_blocking) (the sync engine does). Several processes may open the same file: SQLite serializes the writers
/// (WAL mode, a busy timeout of [`BUSY_TIMEOUT`]).
///
/// ```
/// use std::time::SystemTime;
/// use referrals_model::Referral;
/// use referrals_sync::{Decision, Mirror};
///
/// # let dir = tempfile::tempdir()?;
/// let mut mirror = Mirror::open(dir.path().join("referrals.db"))?;
/// let referral: Referral = serde_json::from_str(r#"{"id": "r1", "eTag": "\"1\"", "x-new": 1}"#)?;
/// assert_eq!(mirror.apply_referral(&referral, SystemTime::now())?.decision, Decision::Created);
/// assert_eq!(mirror.apply_referral(&referral, SystemTime::now())?.decision, Decision::Unchanged);
/// assert!(mirror.mark_removed("r1", SystemTime::now())?.is_some());
/// assert_eq!(mirror.changes_after(0, 10)?.len(), 2); // created, removed
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Mirror {
    // Declared first, so dropped first: its connection closes before `connection`, which as
    // the last one makes the final checkpoint.
    checkpointer: Option<Checkpointer>,
    connection: Connection,
    path: PathBuf,
}

impl Mirror {
    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite connection, to read the mirror (or your own tables) directly.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// The rows `sql` selects with `params`, each read by `row` (for the mirror's tables or an
    /// extension's own). The statement is cached; a SQLite error is classified as by
    /// [`MirrorError::from_sqlite`], `context` saying what was being read.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let mirror = referrals_sync::Mirror::open(dir.path().join("referrals.db"))?;
    /// let ids: Vec<String> =
    ///     mirror.select("read the ids", "SELECT id FROM referrals", [], |row| row.get(0))?;
    /// assert!(ids.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn select<T, P: rusqlite::Params>(
        &self,
        context: &'static str,
        sql: &str,
        params: P,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, MirrorError> {
        let fail = |e| MirrorError::from_sqlite(&self.path, context, e);
        let mut statement = self.connection.prepare_cached(sql).map_err(fail)?;
        let rows = statement.query_map(params, row).map_err(fail)?;
        rows.collect::<Result<_, _>>().map_err(fail)
    }

    /// Begins a write transaction (`BEGIN IMMEDIATE`: it waits for other writers up to
    /// [`BUSY_TIMEOUT`] now, not at its first write).
    fn write_transaction(&mut self) -> Result<Transaction<'_>, MirrorError> {
        self.connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| write_error(&self.path, e))
    }
}

/// A write failed: full disk and read-only files get their own kinds.
pub(crate) fn write_error(path: &Path, error: rusqlite::Error) -> MirrorError {
    MirrorError::from_sqlite(path, "write", error)
}

/// The file of the database `connection` is open on, for error messages (SQLite's own name
/// for it).
fn path_of(connection: &Connection) -> PathBuf {
    PathBuf::from(connection.path().unwrap_or_default())
}

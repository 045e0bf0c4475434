//! The SQLite mirror, one module per job: opening it (checks, pragmas, WAL, migrations), the
//! rows and their change rules, the journal and consumer offsets, the steps of a sync run,
//! verifying the journal, and the extension point for other crates' tables.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::MirrorError;
use crate::checkpointer::Checkpointer;

mod extension;
mod journal;
mod open;
mod rows;
mod runs;
mod verify;

pub use journal::ChangeRecord;
pub use open::BUSY_TIMEOUT;
pub use rows::Applied;

/// A local mirror of referrals in one SQLite file (see `docs/sync.md` for its tables).
///
/// All methods block; from async code call them in `tokio::task::spawn_blocking` (the sync
/// engine does). Several processes may open the same file: SQLite serializes the writers
/// (WAL mode, a busy timeout of [`BUSY_TIMEOUT`]).
///
/// ```
/// use std::time::SystemTime;
/// use referrals_model::Referral;
/// use referrals_sync::{Decision, Mirror};
///
/// let dir = std::env::temp_dir().join(format!("mirror-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut mirror = Mirror::open(dir.join("referrals.db"))?;
/// let referral: Referral = serde_json::from_str(r#"{"id": "r1", "eTag": "\"1\"", "x-new": 1}"#)?;
/// assert_eq!(mirror.apply_referral(&referral, SystemTime::now())?.decision, Decision::Created);
/// assert_eq!(mirror.apply_referral(&referral, SystemTime::now())?.decision, Decision::Unchanged);
/// assert!(mirror.mark_removed("r1", SystemTime::now())?.is_some());
/// assert_eq!(mirror.changes_after(0, 10)?.len(), 2); // created, removed
/// # std::fs::remove_dir_all(&dir)?;
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
}

/// A write failed: full disk and read-only files get their own messages.
pub(crate) fn write_error(path: &Path, error: rusqlite::Error) -> MirrorError {
    MirrorError::sqlite(path, "write", error)
}

pub(crate) fn text_of<T, E: std::fmt::Display>(
    path: &Path,
    what: &'static str,
    value: Result<T, E>,
) -> Result<T, MirrorError> {
    value.map_err(|e| MirrorError::Invalid {
        path: path.to_path_buf(),
        what,
        detail: e.to_string(),
    })
}

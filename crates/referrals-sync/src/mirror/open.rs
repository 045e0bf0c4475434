//! Opening a mirror: refusing what is not one, the pragmas (page size, WAL, synchronous,
//! caches), the schema's migrations, and where checkpoints are made.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::Mirror;
use crate::checkpointer::{Checkpointer, WAL_SIZE_LIMIT};
use crate::schema::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};
use crate::{Cause, MirrorError};

/// How long a write waits for another writer of the same file (a webhook listener, a
/// `changes` acknowledgement) before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pages in the write-ahead log after which a commit copies them into the database file (when
/// checkpoints are not made in the background).
const AUTOCHECKPOINT_PAGES: i64 = 2_500;

/// Creates `path` empty and readable by its owner only (0600 on Unix), unless it exists.
/// SQLite would create it 0644 (less the umask); it gives its `-wal` and `-shm` files the
/// mode of the database file, so all three hold customers' data privately from their first
/// byte. An existing file keeps its mode.
fn create_private(path: &Path) -> Result<(), MirrorError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(MirrorError::io(path, "create the database file", e)),
    }
}

impl Mirror {
    /// Opens the mirror at `path`, creating it (and bringing its schema up to date) if needed.
    /// A file that is not a SQLite database, or a database that is not a mirror, is refused and
    /// left untouched. A new file, and the `-wal` and `-shm` files SQLite makes next to it, are
    /// readable by their owner only (0600 on Unix).
    pub fn open(path: impl AsRef<Path>) -> Result<Mirror, MirrorError> {
        Self::open_with(path.as_ref(), true)
    }

    /// Opens an existing mirror; [`MirrorError::Missing`] when there is no file.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Mirror, MirrorError> {
        Self::open_with(path.as_ref(), false)
    }

    fn open_with(path: &Path, create: bool) -> Result<Mirror, MirrorError> {
        if !create && !path.exists() {
            return Err(MirrorError::Missing {
                path: path.to_path_buf(),
            });
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        if create {
            create_private(path)?;
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let fail = |context| move |e| MirrorError::from_sqlite(path, context, e);
        let connection = Connection::open_with_flags(path, flags).map_err(fail("open"))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(fail("set the busy timeout"))?;
        let mut mirror = Mirror {
            checkpointer: None,
            connection,
            path: path.to_path_buf(),
        };
        if mirror.check_identity()? {
            // Larger pages for rows of a few KB: fewer pages, overflow chains and writes. Only
            // possible before the first table (and before WAL).
            mirror
                .connection
                .pragma_update(None, "page_size", 16_384)
                .map_err(fail("set the page size"))?;
        }
        mirror
            .connection
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .map_err(fail("switch to WAL mode"))?;
        // With WAL, NORMAL loses no committed transaction when the process dies (only, at
        // worst, the last ones on a power cut), and the file is never corrupted.
        mirror
            .connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(fail("set synchronous"))?;
        // A bounded page cache (32 MiB: the id index of a million referrals) and fewer, larger checkpoints (every ~40 MB of WAL):
        // pages written by several transactions are copied back once.
        mirror
            .connection
            .pragma_update(None, "cache_size", -32_768)
            .map_err(fail("set the cache size"))?;
        mirror
            .connection
            .pragma_update_and_check(None, "wal_autocheckpoint", AUTOCHECKPOINT_PAGES, |row| {
                row.get::<_, i64>(0)
            })
            .map_err(fail("set the checkpoint interval"))?;
        // Before `temp_store=MEMORY`: an upgrade that rewrites a table keeps a statement journal
        // as large as the table, which belongs in a temporary file, not in memory.
        mirror.migrate()?;
        // Statement journals (a multi-row statement inside a transaction) and sort files stay
        // in memory: they are small and short-lived, and on disk each one is a file created and
        // deleted in the system temporary directory.
        mirror
            .connection
            .pragma_update(None, "temp_store", "MEMORY")
            .map_err(fail("keep temporary files in memory"))?;
        Ok(mirror)
    }

    /// Refuses files that are not mirrors before anything is written to them; true for an
    /// empty file (a new mirror).
    fn check_identity(&self) -> Result<bool, MirrorError> {
        let fail = |e| MirrorError::from_sqlite(&self.path, "read the database header", e);
        let application_id: i32 = self
            .connection
            .pragma_query_value(None, "application_id", |row| row.get(0))
            .map_err(fail)?;
        let version: i64 = self
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(fail)?;
        let objects: i64 = self
            .connection
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(fail)?;
        let fresh = application_id == 0 && version == 0 && objects == 0;
        if !fresh && application_id != APPLICATION_ID {
            return Err(MirrorError::Foreign {
                path: self.path.clone(),
                application_id,
                objects,
            });
        }
        if version > SCHEMA_VERSION {
            return Err(MirrorError::TooNew {
                path: self.path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        Ok(fresh)
    }

    fn migrate(&mut self) -> Result<(), MirrorError> {
        let path = self.path.clone();
        let fail = |e| MirrorError::from_sqlite(&path, "migrate the schema", e);
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        // Read again under the write lock: another process may have migrated meanwhile.
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(fail)?;
        if version >= SCHEMA_VERSION {
            return Ok(());
        }
        // An upgrade of a large mirror rewrites tables: say why the open takes a while.
        if version > 0 {
            tracing::info!(
                path = %path.display(),
                from = version,
                to = SCHEMA_VERSION,
                "upgrading the mirror's schema (one transaction)"
            );
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            tx.execute_batch(migration).map_err(fail)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)
                .map_err(fail)?;
        }
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        if version > 0 {
            tracing::info!(path = %path.display(), version = SCHEMA_VERSION, "schema upgraded");
        }
        Ok(())
    }

    /// Makes checkpoints (copying the write-ahead log into the database file, with its waits
    /// for the disk) on a thread of its own with a second connection, instead of in the
    /// middle of this connection's commits. For a long run of writes such as a sync: the
    /// writer no longer stops for the disk. Nothing changes in what is stored or when it is
    /// durable.
    pub fn checkpoint_in_background(&mut self) -> Result<(), MirrorError> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        let fail = |context| {
            let path = self.path.clone();
            move |e| MirrorError::from_sqlite(&path, context, e)
        };
        const STARTING: &str = "start the checkpoint thread";
        let checkpointer = Checkpointer::start(&self.path).map_err(|cause| match cause {
            Cause::Sqlite(e) => MirrorError::from_sqlite(&self.path, STARTING, e),
            Cause::Io(e) => MirrorError::io(&self.path, STARTING, e),
        })?;
        self.connection
            .pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(fail("set the log size limit"))?;
        self.connection
            .pragma_update_and_check(None, "wal_autocheckpoint", 0, |row| row.get::<_, i64>(0))
            .map_err(fail("hand checkpoints to the thread"))?;
        self.checkpointer = Some(checkpointer);
        Ok(())
    }

    /// Tells the checkpoint thread, if any, that `bytes` were committed; if it is gone, this
    /// connection checkpoints by itself again.
    pub(super) fn committed(&mut self, bytes: u64) {
        let Some(checkpointer) = self.checkpointer.as_mut() else {
            return;
        };
        if !checkpointer.committed(bytes) {
            tracing::warn!("the checkpoint thread stopped; checkpoints are made by the writer");
            self.checkpointer = None;
            let _ = self.connection.pragma_update_and_check(
                None,
                "wal_autocheckpoint",
                AUTOCHECKPOINT_PAGES,
                |row| row.get::<_, i64>(0),
            );
        }
    }
}

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

/// The page cache, in SQLite's negative-KiB form: 32 MiB, the id index of a million referrals.
const CACHE_SIZE: i64 = -32_768;

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

/// The file SQLite keeps next to the database at `path`: `path` followed by `suffix`
/// (`-wal`, `-shm`).
fn side_file(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

/// True when no process (but root) can write the database at `path`: it has no write
/// permission bits, or its filesystem is read-only.
fn nobody_can_write(path: &Path) -> bool {
    let no_write_bits = std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly());
    no_write_bits
        || std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ReadOnlyFilesystem)
}

/// `file:PATH?immutable=1`, the path percent-encoded as SQLite's URIs want it; `None` for a
/// path that is not UTF-8.
fn immutable_uri(path: &Path) -> Option<String> {
    let mut uri = String::from("file:");
    for byte in path.to_str()?.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                uri.push(char::from(byte));
            }
            _ => uri.push_str(&format!("%{byte:02X}")),
        }
    }
    uri.push_str("?immutable=1");
    Some(uri)
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

    /// Opens an existing mirror to read it: as [`open_existing`](Self::open_existing) when
    /// this process can write the file (an older schema is upgraded first), else with
    /// [`open_read_only`](Self::open_read_only). For commands that only read (listing the
    /// mirror, printing the journal): they work on a mirror the user cannot write.
    pub fn open_to_read(path: impl AsRef<Path>) -> Result<Mirror, MirrorError> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(MirrorError::Missing {
                path: path.to_path_buf(),
            });
        }
        let writable = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .is_ok();
        if writable {
            match Self::open_existing(path) {
                // The directory cannot be written (the -wal, -shm files): read-only it is.
                Err(MirrorError::ReadOnly { .. }) => {}
                opened => return opened,
            }
        }
        Self::open_read_only(path)
    }

    /// Opens an existing mirror read-only (`SQLITE_OPEN_READ_ONLY`): nothing is written, no
    /// schema upgrade, no checkpoint; writes fail with [`MirrorError::ReadOnly`]. A mirror of
    /// an older schema is refused ([`MirrorError::UpgradeNeeded`]), one of a newer schema too.
    ///
    /// SQLite reads a mirror (a database in WAL mode) through its `-shm` and `-wal` files,
    /// which it creates when the directory can be written. When it cannot, and no `-wal` file
    /// is there, and nobody can write the database (it has no write permission bits, or its
    /// filesystem is read-only), the file is read as immutable (SQLite's `immutable=1`): with
    /// no writer possible, nothing can change under the reader.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Mirror, MirrorError> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(MirrorError::Missing {
                path: path.to_path_buf(),
            });
        }
        match Self::open_read_only_at(path, None) {
            Err(MirrorError::ReadOnly { .. })
                if !side_file(path, "-wal").exists() && nobody_can_write(path) =>
            {
                match immutable_uri(path) {
                    Some(uri) => Self::open_read_only_at(path, Some(&uri)),
                    None => Self::open_read_only_at(path, None),
                }
            }
            opened => opened,
        }
    }

    /// [`open_read_only`](Self::open_read_only) of `path`, through the SQLite URI `uri` when
    /// given.
    fn open_read_only_at(path: &Path, uri: Option<&str>) -> Result<Mirror, MirrorError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let fail = |context| move |e| MirrorError::from_sqlite(path, context, e);
        let mirror = Self::connect(path, uri, flags)?;
        let fresh = mirror.check_identity()?;
        let found: i64 = mirror
            .connection
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(fail("read the database header"))?;
        if fresh || found < SCHEMA_VERSION {
            return Err(MirrorError::UpgradeNeeded {
                path: path.to_path_buf(),
                found,
                current: SCHEMA_VERSION,
            });
        }
        mirror
            .connection
            .pragma_update(None, "cache_size", CACHE_SIZE)
            .map_err(fail("set the cache size"))?;
        mirror
            .connection
            .pragma_update(None, "temp_store", "MEMORY")
            .map_err(fail("keep temporary files in memory"))?;
        Ok(mirror)
    }

    /// A mirror on a new connection to `path` (through the SQLite URI `uri` when given) with
    /// `flags` and the busy timeout; nothing checked or read yet.
    fn connect(path: &Path, uri: Option<&str>, flags: OpenFlags) -> Result<Mirror, MirrorError> {
        let fail = |context| move |e| MirrorError::from_sqlite(path, context, e);
        let connection = match uri {
            Some(uri) => Connection::open_with_flags(uri, flags),
            None => Connection::open_with_flags(path, flags),
        }
        .map_err(fail("open"))?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(fail("set the busy timeout"))?;
        Ok(Mirror {
            checkpointer: None,
            connection,
            path: path.to_path_buf(),
        })
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
        let mut mirror = Self::connect(path, None, flags)?;
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
            .pragma_update(None, "cache_size", CACHE_SIZE)
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

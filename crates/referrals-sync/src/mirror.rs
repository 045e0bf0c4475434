//! The SQLite mirror: opening (checks, WAL, migrations), applying referrals with the change
//! rules, the journal, consumer offsets, and the extension point for other crates' tables.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use referrals_model::{Referral, Timestamp};
use referrals_query::Checkpoint;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Statement, Transaction, TransactionBehavior, params,
};

use crate::MirrorError;
use crate::checkpointer::{Checkpointer, WAL_SIZE_LIMIT};
use crate::plan::{self, Decision, Reason, RunKind, Stored, SyncState};
use crate::row::MirrorRow;
use crate::schema::{APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION};
use crate::store::{Counts, PageUpdate, RunRecord, Store};

/// How long a write waits for another writer of the same file (a webhook listener, a
/// `changes` acknowledgement) before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Pages in the write-ahead log after which a commit copies them into the database file (when
/// checkpoints are not made in the background).
const AUTOCHECKPOINT_PAGES: i64 = 2_500;

/// What applying one referral did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The decision.
    pub decision: Decision,
    /// The journal row written (`created` / `updated`), if any.
    pub seq: Option<i64>,
}

/// One row of the `changes` journal, with the referral as stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// The journal sequence number (increasing, never reused).
    pub seq: i64,
    /// `created`, `updated` or `removed`.
    pub kind: String,
    /// The referral's id.
    pub referral_id: String,
    /// The eTag of the version journaled.
    pub etag: Option<String>,
    /// The `updatedDateTime` of the version journaled.
    pub updated_date_time: Option<String>,
    /// When the change was recorded (local clock).
    pub recorded_at: String,
    /// The referral's JSON as stored now (its latest version), if it is in the mirror.
    pub referral: Option<String>,
}

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
    /// Opens the mirror at `path`, creating it (and bringing its schema up to date) if needed.
    /// A file that is not a SQLite database, or a database that is not a mirror, is refused and
    /// left untouched.
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
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let fail = |context| move |e| MirrorError::sqlite(path, context, e);
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
        let fail = |e| MirrorError::sqlite(&self.path, "read the database header", e);
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
                detail: format!(
                    "application_id {application_id:#x} instead of {APPLICATION_ID:#x}, \
                     {objects} schema objects"
                ),
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
        let fail = |e| MirrorError::sqlite(&path, "migrate the schema", e);
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
            move |e| MirrorError::sqlite(&path, context, e)
        };
        let checkpointer =
            Checkpointer::start(&self.path).map_err(fail("start the checkpoint thread"))?;
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
    fn committed(&mut self, bytes: u64) {
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

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite connection, to read the mirror (or your own tables) directly.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

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

    /// Applies one referral as received (e.g. fetched after a webhook event) with the same
    /// rules as a sync: created when new or removed before, updated when its JSON differs,
    /// nothing journaled when it is the stored version. One transaction.
    pub fn apply_referral(
        &mut self,
        referral: &Referral,
        now: SystemTime,
    ) -> Result<Applied, MirrorError> {
        let row = MirrorRow::from_referral(referral).map_err(|e| MirrorError::Invalid {
            path: self.path.clone(),
            what: "the referral",
            detail: e.to_string(),
        })?;
        let path = self.path.clone();
        let now = Timestamp::from_system_time(now);
        self.transaction(|tx| apply_row(tx, &row, &now).map_err(|e| write_error(&path, e)))
    }

    /// As [`apply_referral`](Self::apply_referral), inside a transaction of yours (from
    /// [`transaction`](Self::transaction)), so that your own rows change with it atomically.
    pub fn apply_referral_in(
        tx: &Transaction<'_>,
        referral: &Referral,
        now: SystemTime,
    ) -> Result<Applied, rusqlite::Error> {
        let row = MirrorRow::from_referral(referral)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        apply_row(tx, &row, &Timestamp::from_system_time(now))
    }

    /// Marks a referral removed (e.g. a get answered 404) and journals `removed`. Returns the
    /// journal row, or `None` when it is not in the mirror or already removed.
    pub fn mark_removed(&mut self, id: &str, now: SystemTime) -> Result<Option<i64>, MirrorError> {
        let path = self.path.clone();
        let now = Timestamp::from_system_time(now);
        self.transaction(|tx| remove_row(tx, id, &now).map_err(|e| write_error(&path, e)))
    }

    /// As [`mark_removed`](Self::mark_removed), inside a transaction of yours.
    pub fn mark_removed_in(
        tx: &Transaction<'_>,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<i64>, rusqlite::Error> {
        remove_row(tx, id, &Timestamp::from_system_time(now))
    }

    /// Up to `limit` journal rows with `seq > after`, oldest first.
    pub fn changes_after(&self, after: i64, limit: u64) -> Result<Vec<ChangeRecord>, MirrorError> {
        let fail = |e| MirrorError::sqlite(&self.path, "read the journal", e);
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT c.seq, c.kind, c.referral_id, c.etag, c.updated_date_time, c.recorded_at,
                        r.raw_json
                 FROM changes c LEFT JOIN referrals r ON r.id = c.referral_id
                 WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
            )
            .map_err(fail)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement
            .query_map(params![after, limit], |row| {
                Ok(ChangeRecord {
                    seq: row.get(0)?,
                    kind: row.get(1)?,
                    referral_id: row.get(2)?,
                    etag: row.get(3)?,
                    updated_date_time: row.get(4)?,
                    recorded_at: row.get(5)?,
                    referral: row.get(6)?,
                })
            })
            .map_err(fail)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(fail)
    }

    /// The last journal row the consumer `name` acknowledged (0 when it never did).
    pub fn consumer_offset(&self, name: &str) -> Result<i64, MirrorError> {
        self.connection
            .query_row(
                "SELECT acknowledged_seq FROM consumers WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map(|seq| seq.unwrap_or(0))
            .map_err(|e| MirrorError::sqlite(&self.path, "read the consumer offset", e))
    }

    /// Records that the consumer `name` has processed every journal row up to `seq` (which
    /// must exist). An offset never moves back: acknowledging an older row changes nothing.
    /// Returns the offset now stored.
    pub fn acknowledge(
        &mut self,
        name: &str,
        seq: i64,
        now: SystemTime,
    ) -> Result<i64, MirrorError> {
        let path = self.path.clone();
        let now = Timestamp::from_system_time(now);
        self.transaction(|tx| {
            let fail = |e| MirrorError::sqlite(&path, "store the consumer offset", e);
            let last: i64 = tx
                .query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |row| {
                    row.get(0)
                })
                .map_err(fail)?;
            if seq < 0 || seq > last {
                return Err(MirrorError::Invalid {
                    path: path.clone(),
                    what: "the acknowledged sequence number",
                    detail: format!("{seq} is not in the journal (its last row is {last})"),
                });
            }
            tx.execute(
                "INSERT INTO consumers (name, acknowledged_seq, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET
                     acknowledged_seq = max(acknowledged_seq, excluded.acknowledged_seq),
                     updated_at = excluded.updated_at",
                params![name, seq, now.as_str()],
            )
            .map_err(fail)?;
            tx.query_row(
                "SELECT acknowledged_seq FROM consumers WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .map_err(fail)
        })
    }

    /// Checks the journal against the mirror: no referral has two consecutive rows for the
    /// same version (same eTag and `updatedDateTime`, neither a removal) or two removals in a
    /// row, and each referral's last row agrees with the mirror (removed, or present with that
    /// eTag). Returns the problems found (none for a mirror only this crate wrote).
    pub fn verify_journal(&self) -> Result<Vec<String>, MirrorError> {
        let fail = |e| MirrorError::sqlite(&self.path, "verify the journal", e);
        let mut statement = self
            .connection
            .prepare(
                "SELECT c.seq, c.referral_id, c.kind, c.etag, c.updated_date_time,
                        r.id IS NOT NULL, r.etag, r.removed_at IS NOT NULL
                 FROM changes c LEFT JOIN referrals r ON r.id = c.referral_id
                 ORDER BY c.referral_id, c.seq",
            )
            .map_err(fail)?;
        type Row = (
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            bool,
            Option<String>,
            bool,
        );
        let rows: Vec<Row> = statement
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get::<_, Option<bool>>(7)?.unwrap_or(false),
                ))
            })
            .map_err(fail)?
            .collect::<Result<_, _>>()
            .map_err(fail)?;
        let mut problems = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let (seq, id, kind, etag, updated, present, stored_etag, removed) = row;
            let previous = index
                .checked_sub(1)
                .and_then(|i| rows.get(i))
                .filter(|previous| &previous.1 == id);
            if let Some(previous) = previous {
                let same_version = &previous.3 == etag && &previous.4 == updated;
                let removal = previous.2 == "removed" || kind == "removed";
                if same_version && !removal {
                    problems.push(format!(
                        "journal row {seq}: {id} {kind} repeats the version of row {}",
                        previous.0
                    ));
                }
                if previous.2 == "removed" && kind == "removed" {
                    problems.push(format!("journal row {seq}: {id} removed twice in a row"));
                }
            }
            let last = rows.get(index + 1).is_none_or(|next| &next.1 != id);
            if last {
                if !present {
                    problems.push(format!("{id}: journaled but not in the mirror"));
                } else if kind == "removed" && !removed {
                    problems.push(format!("{id}: removed in the journal, not in the mirror"));
                } else if kind != "removed" && *removed {
                    problems.push(format!("{id}: removed in the mirror, not in the journal"));
                } else if kind != "removed" && etag != stored_etag {
                    problems.push(format!(
                        "{id}: the last journal row (seq {seq}) has eTag {etag:?}, the mirror {stored_etag:?}"
                    ));
                }
            }
        }
        let unjournaled: i64 = self
            .connection
            .query_row(
                "SELECT count(*) FROM referrals r
                 WHERE NOT EXISTS (SELECT 1 FROM changes c WHERE c.referral_id = r.id)",
                [],
                |r| r.get(0),
            )
            .map_err(fail)?;
        if unjournaled > 0 {
            problems.push(format!(
                "{unjournaled} referrals of the mirror have no journal row"
            ));
        }
        Ok(problems)
    }

    /// Calls `each` with the JSON of every referral not marked removed (those with `status`
    /// only, when given), in the order first seen.
    pub fn for_each_referral(
        &self,
        status: Option<&str>,
        mut each: impl FnMut(&str) -> Result<(), MirrorError>,
    ) -> Result<u64, MirrorError> {
        let fail = |e| MirrorError::sqlite(&self.path, "read the referrals", e);
        let mut statement = self
            .connection
            .prepare(
                "SELECT raw_json FROM referrals
                 WHERE removed_at IS NULL AND (?1 IS NULL OR status = ?1) ORDER BY rowid",
            )
            .map_err(fail)?;
        let mut rows = statement.query([status]).map_err(fail)?;
        let mut count = 0;
        while let Some(row) = rows.next().map_err(fail)? {
            let raw: String = row.get(0).map_err(fail)?;
            each(&raw)?;
            count += 1;
        }
        Ok(count)
    }
}

/// A write failed: full disk and read-only files get their own messages.
fn write_error(path: &Path, error: rusqlite::Error) -> MirrorError {
    MirrorError::sqlite(path, "write", error)
}

fn journal(
    tx: &Transaction<'_>,
    id: &str,
    kind: &str,
    etag: Option<&str>,
    updated: Option<&str>,
    now: &Timestamp,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO changes (referral_id, kind, etag, updated_date_time, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, kind, etag, updated, now.as_str()])?;
    Ok(tx.last_insert_rowid())
}

/// A journal row of a batch, written with the others by [`journal_batch`].
struct JournalEntry<'a> {
    row: &'a MirrorRow,
    kind: &'static str,
    now: &'a Timestamp,
}

/// About what a referral adds to the files besides its JSON (columns, journal row, index).
const ROW_OVERHEAD: usize = 600;

/// About what receiving an unchanged referral writes (its `referral_seen` row).
const SEEN_ROW_BYTES: u64 = 80;

/// Journal rows per `INSERT` statement: one statement per chunk pays the bookkeeping of
/// `AUTOINCREMENT` (a read and a write of `sqlite_sequence`) once instead of once per row.
const JOURNAL_CHUNK: usize = 100;

/// The `INSERT` of `n` journal rows, in order (their `seq` values increase in that order).
fn journal_insert_sql(n: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO changes (referral_id, kind, etag, updated_date_time, recorded_at) VALUES ",
    );
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?)");
    }
    sql
}

/// Writes `entries` to the journal in their order.
fn journal_batch(tx: &Transaction<'_>, entries: &[JournalEntry<'_>]) -> rusqlite::Result<()> {
    for chunk in entries.chunks(JOURNAL_CHUNK) {
        let sql = journal_insert_sql(chunk.len());
        // Full chunks share one cached statement; the last, shorter one is prepared once.
        let (mut cached, mut once);
        let statement: &mut Statement<'_> = if chunk.len() == JOURNAL_CHUNK {
            cached = tx.prepare_cached(&sql)?;
            &mut cached
        } else {
            once = tx.prepare(&sql)?;
            &mut once
        };
        let mut index = 1;
        for entry in chunk {
            statement.raw_bind_parameter(index, &entry.row.id)?;
            statement.raw_bind_parameter(index + 1, entry.kind)?;
            statement.raw_bind_parameter(index + 2, &entry.row.etag)?;
            statement.raw_bind_parameter(index + 3, &entry.row.updated_date_time)?;
            statement.raw_bind_parameter(index + 4, entry.now.as_str())?;
            index += 5;
        }
        statement.raw_execute()?;
    }
    Ok(())
}

/// Applies one row with the change rules of [`plan::decide`] and journals the change.
fn apply_row(tx: &Transaction<'_>, row: &MirrorRow, now: &Timestamp) -> rusqlite::Result<Applied> {
    let decision = store_row(tx, row, now)?;
    let seq = match kind_of(decision) {
        Some(kind) => Some(journal(
            tx,
            &row.id,
            kind,
            row.etag.as_deref(),
            row.updated_date_time.as_deref(),
            now,
        )?),
        None => None,
    };
    Ok(Applied { decision, seq })
}

/// The journal kind of a decision, if it is journaled.
fn kind_of(decision: Decision) -> Option<&'static str> {
    match decision {
        Decision::Created => Some("created"),
        Decision::Updated => Some("updated"),
        Decision::Unchanged | Decision::Stale => None,
    }
}

/// A referral not stored before. A plain `INSERT`, not an upsert: the update trigger of
/// `referrals` would make SQLite keep a statement journal (a copy of every page the statement
/// touches) for each row of a first sync.
const INSERT: &str = "INSERT INTO referrals (id, etag, status, substatus, type, qualification,
         direction, name, customer_name, customer_country, deal_value, currency,
         created_date_time, updated_date_time, raw_json, first_seen_at, removed_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, NULL)";

/// A new version of a stored referral (or one seen again after its removal).
const UPDATE: &str = "UPDATE referrals SET
         etag = ?2, status = ?3, substatus = ?4, type = ?5, qualification = ?6, direction = ?7,
         name = ?8, customer_name = ?9, customer_country = ?10, deal_value = ?11,
         currency = ?12, created_date_time = ?13, updated_date_time = ?14, raw_json = ?15,
         removed_at = NULL
     WHERE id = ?1";

/// The fast path of an unchanged referral: its digest is the stored one (never the case for a
/// removed or hand-edited one: the schema's triggers clear the digest when `raw_json` or
/// `removed_at` changes), so only when it was seen moves. Two index lookups (the id, then
/// the rowid); neither the `referrals` row nor its JSON is read.
const SEEN_UNCHANGED: &str = "UPDATE referral_seen SET last_seen_at = ?2
     WHERE referral_rowid = (SELECT rowid FROM referrals WHERE id = ?1) AND json_sha256 = ?3";

/// Records that the referral stored at `rowid` was received at `now`, and the digest of its
/// stored JSON.
const SEEN: &str = "INSERT INTO referral_seen (referral_rowid, last_seen_at, json_sha256)
     VALUES (?1, ?2, ?3)
     ON CONFLICT (referral_rowid) DO UPDATE SET
         last_seen_at = excluded.last_seen_at, json_sha256 = excluded.json_sha256";

/// Records that the referral stored at `rowid` was received at `now`, leaving the stored
/// digest as it is (a stale version was received: what is stored did not change).
const SEEN_ONLY: &str = "INSERT INTO referral_seen (referral_rowid, last_seen_at) VALUES (?1, ?2)
     ON CONFLICT (referral_rowid) DO UPDATE SET last_seen_at = excluded.last_seen_at";

/// Inserts the row, or replaces the one stored at `stored` (`removed_at` cleared). Returns the
/// row's rowid.
fn write_row(
    tx: &Transaction<'_>,
    row: &MirrorRow,
    stored: Option<i64>,
    now: &Timestamp,
) -> rusqlite::Result<i64> {
    let columns = params![
        row.id,
        row.etag,
        row.status,
        row.substatus,
        row.referral_type,
        row.qualification,
        row.direction,
        row.name,
        row.customer_name,
        row.customer_country,
        row.deal_value,
        row.currency,
        row.created_date_time,
        row.updated_date_time,
        row.raw_json,
    ];
    match stored {
        Some(rowid) => {
            tx.prepare_cached(UPDATE)?.execute(columns)?;
            Ok(rowid)
        }
        None => {
            let mut insert = tx.prepare_cached(INSERT)?;
            for (index, value) in columns.iter().enumerate() {
                insert.raw_bind_parameter(index + 1, value)?;
            }
            insert.raw_bind_parameter(16, now.as_str())?;
            insert.raw_execute()?;
            Ok(tx.last_insert_rowid())
        }
    }
}

/// Stores one row with the change rules of [`plan::decide`], without journaling it.
fn store_row(tx: &Transaction<'_>, row: &MirrorRow, now: &Timestamp) -> rusqlite::Result<Decision> {
    let digest = &row.json_sha256[..];
    if tx
        .prepare_cached(SEEN_UNCHANGED)?
        .execute(params![row.id, now.as_str(), digest])?
        == 1
    {
        return Ok(Decision::Unchanged);
    }
    let (decision, stored) = {
        let mut select = tx.prepare_cached(
            "SELECT rowid, raw_json, updated_date_time, removed_at IS NOT NULL
             FROM referrals WHERE id = ?1",
        )?;
        let mut found = select.query([&row.id])?;
        match found.next()? {
            // Compared where SQLite holds it: no copy of the stored JSON.
            Some(stored) => (
                plan::decide(
                    Some(Stored {
                        raw_json: stored.get_ref(1)?.as_str()?,
                        updated_date_time: stored.get_ref(2)?.as_str_or_null()?,
                        removed: stored.get(3)?,
                    }),
                    &row.raw_json,
                    row.updated_date_time.as_deref(),
                ),
                Some(stored.get::<_, i64>(0)?),
            ),
            None => (
                plan::decide(None, &row.raw_json, row.updated_date_time.as_deref()),
                None,
            ),
        }
    };
    match (decision, stored) {
        (Decision::Created | Decision::Updated, _) => {
            let rowid = write_row(tx, row, stored, now)?;
            tx.prepare_cached(SEEN)?
                .execute(params![rowid, now.as_str(), digest])?;
        }
        // The same JSON with no digest stored yet (a row from before version 2).
        (Decision::Unchanged, Some(rowid)) => {
            tx.prepare_cached(SEEN)?
                .execute(params![rowid, now.as_str(), digest])?;
        }
        (Decision::Stale, Some(rowid)) => {
            tx.prepare_cached(SEEN_ONLY)?
                .execute(params![rowid, now.as_str()])?;
        }
        // `decide` is neither for a referral not stored.
        (Decision::Unchanged | Decision::Stale, None) => {}
    }
    Ok(decision)
}

/// The referrals a full run that started at `started_at` did not see: those last seen before
/// it (from the narrow table: the wide rows are read only for these), and any without a
/// `referral_seen` row (edited by hand, or renumbered). Some may be removed already;
/// [`remove_row`] skips those. Seen rows without a referral are deleted.
fn not_seen_since(tx: &Transaction<'_>, started_at: &Timestamp) -> rusqlite::Result<Vec<String>> {
    let mut unseen = Vec::new();
    {
        let mut statement = tx.prepare("SELECT referral_rowid, last_seen_at FROM referral_seen")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            if plan::removed_by_full_run(row.get_ref(1)?.as_str()?, started_at) {
                unseen.push(row.get::<_, i64>(0)?);
            }
        }
    }
    let mut gone = Vec::with_capacity(unseen.len());
    {
        let mut id_of = tx.prepare("SELECT id FROM referrals WHERE rowid = ?1")?;
        let mut orphan = tx.prepare("DELETE FROM referral_seen WHERE referral_rowid = ?1")?;
        for rowid in unseen {
            match id_of.query_row([rowid], |row| row.get(0)).optional()? {
                Some(id) => gone.push(id),
                // Its referral's row was renumbered (nothing else updates a seen row it has
                // no referral for, so each is found here once).
                None => {
                    orphan.execute([rowid])?;
                }
            }
        }
    }
    let mut statement = tx.prepare(
        "SELECT id FROM referrals r
         WHERE NOT EXISTS (SELECT 1 FROM referral_seen s WHERE s.referral_rowid = r.rowid)",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        gone.push(row.get(0)?);
    }
    Ok(gone)
}

fn remove_row(tx: &Transaction<'_>, id: &str, now: &Timestamp) -> rusqlite::Result<Option<i64>> {
    let stored: Option<(Option<String>, Option<String>)> = tx
        .prepare_cached(
            "SELECT etag, updated_date_time FROM referrals WHERE id = ?1 AND removed_at IS NULL",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((etag, updated)) = stored else {
        return Ok(None);
    };
    tx.prepare_cached("UPDATE referrals SET removed_at = ?2 WHERE id = ?1")?
        .execute(params![id, now.as_str()])?;
    // (The trigger `referral_seen_changed` clears its digest: the same JSON received again
    // creates it anew.)
    journal(tx, id, "removed", etag.as_deref(), updated.as_deref(), now).map(Some)
}

fn text_of<T, E: std::fmt::Display>(
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

impl Store for Mirror {
    fn load(&mut self) -> Result<(SyncState, Option<RunRecord>), MirrorError> {
        let fail = |e| MirrorError::sqlite(&self.path, "read the sync state", e);
        let (watermark, last_full): (Option<String>, Option<String>) = self
            .connection
            .query_row(
                "SELECT watermark, last_full_started_at FROM sync_state WHERE singleton = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(fail)?
            .unwrap_or_default();
        let state = SyncState {
            watermark: watermark.map(Timestamp::new),
            last_full_started_at: last_full.map(Timestamp::new),
        };
        type RunRow = (
            String,
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            [i64; 4],
        );
        let run: Option<RunRow> = self
            .connection
            .query_row(
                "SELECT kind, reason, started_at, since, checkpoint, newest_updated,
                        pages, created, updated, unchanged
                 FROM sync_run WHERE singleton = 1",
                [],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        [row.get(6)?, row.get(7)?, row.get(8)?, row.get(9)?],
                    ))
                },
            )
            .optional()
            .map_err(fail)?;
        let Some((kind, reason, started_at, since, checkpoint, newest, counts)) = run else {
            return Ok((state, None));
        };
        let path = &self.path;
        let kind = text_of(
            path,
            "sync_run.kind",
            RunKind::parse(&kind).ok_or(format!("unknown kind `{kind}`")),
        )?;
        let reason = text_of(
            path,
            "sync_run.reason",
            Reason::parse(&reason).ok_or(format!("unknown reason `{reason}`")),
        )?;
        let checkpoint: Checkpoint = text_of(
            path,
            "sync_run.checkpoint",
            serde_json::from_str(&checkpoint),
        )?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok((
            state,
            Some(RunRecord {
                kind,
                reason,
                started_at: Timestamp::new(started_at),
                since: since.map(Timestamp::new),
                checkpoint,
                newest_updated: newest.map(Timestamp::new),
                counts: Counts {
                    pages: count(counts[0]),
                    created: count(counts[1]),
                    updated: count(counts[2]),
                    unchanged: count(counts[3]),
                    removed: 0,
                },
            }),
        ))
    }

    fn begin_run(&mut self, run: &RunRecord) -> Result<(), MirrorError> {
        let path = self.path.clone();
        let checkpoint = text_of(
            &path,
            "the checkpoint",
            serde_json::to_string(&run.checkpoint),
        )?;
        self.transaction(|tx| {
            let write = || -> rusqlite::Result<()> {
                tx.execute("DELETE FROM sync_run", [])?;
                tx.execute(
                    "INSERT INTO sync_run (singleton, kind, reason, started_at, since, checkpoint,
                         newest_updated, pages, created, updated, unchanged)
                     VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        run.kind.as_str(),
                        run.reason.as_str(),
                        run.started_at.as_str(),
                        run.since.as_ref().map(Timestamp::as_str),
                        checkpoint,
                        run.newest_updated.as_ref().map(Timestamp::as_str),
                        run.counts.pages as i64,
                        run.counts.created as i64,
                        run.counts.updated as i64,
                        run.counts.unchanged as i64,
                    ],
                )?;
                Ok(())
            };
            write().map_err(|e| write_error(&path, e))
        })
    }

    fn apply_page(&mut self, page: &PageUpdate) -> Result<Counts, MirrorError> {
        self.apply_pages(std::slice::from_ref(page))
    }

    fn apply_pages(&mut self, pages: &[PageUpdate]) -> Result<Counts, MirrorError> {
        let path = self.path.clone();
        let Some(last) = pages.last() else {
            return Ok(Counts::default());
        };
        let checkpoint = text_of(
            &path,
            "the checkpoint",
            serde_json::to_string(&last.checkpoint),
        )?;
        let mut bytes = 0u64;
        let counts = self.transaction(|tx| {
            let mut write = || -> rusqlite::Result<Counts> {
                let mut counts = Counts::default();
                let mut entries = Vec::new();
                for page in pages {
                    counts.pages += 1;
                    for row in &page.rows {
                        let decision = store_row(tx, row, &page.now)?;
                        bytes += match decision {
                            Decision::Created | Decision::Updated => {
                                (row.raw_json.len() + ROW_OVERHEAD) as u64
                            }
                            Decision::Unchanged | Decision::Stale => SEEN_ROW_BYTES,
                        };
                        match decision {
                            Decision::Created => counts.created += 1,
                            Decision::Updated => counts.updated += 1,
                            Decision::Unchanged | Decision::Stale => counts.unchanged += 1,
                        }
                        if let Some(kind) = kind_of(decision) {
                            entries.push(JournalEntry {
                                row,
                                kind,
                                now: &page.now,
                            });
                        }
                    }
                }
                journal_batch(tx, &entries)?;
                let updated = tx.execute(
                    "UPDATE sync_run SET checkpoint = ?1, kind = ?2, reason = ?3,
                         newest_updated = ?4, pages = pages + ?5, created = created + ?6,
                         updated = updated + ?7, unchanged = unchanged + ?8
                     WHERE singleton = 1",
                    params![
                        checkpoint,
                        last.kind.as_str(),
                        last.reason.as_str(),
                        last.newest_updated.as_ref().map(Timestamp::as_str),
                        counts.pages as i64,
                        counts.created as i64,
                        counts.updated as i64,
                        counts.unchanged as i64,
                    ],
                )?;
                if updated != 1 {
                    // The run was replaced meanwhile; rolling back keeps the mirror consistent.
                    return Err(rusqlite::Error::QueryReturnedNoRows);
                }
                Ok(counts)
            };
            write().map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => MirrorError::Invalid {
                    path: path.clone(),
                    what: "the run in progress",
                    detail: "no run is in progress (another sync replaced it?)".into(),
                },
                e => write_error(&path, e),
            })
        })?;
        self.committed(bytes);
        Ok(counts)
    }

    fn finish_run(&mut self, now: &Timestamp) -> Result<Counts, MirrorError> {
        let (_, run) = self.load()?;
        let Some(run) = run else {
            return Err(MirrorError::Invalid {
                path: self.path.clone(),
                what: "the run in progress",
                detail: "no run is in progress (another sync finished it?)".into(),
            });
        };
        let path = self.path.clone();
        self.transaction(|tx| {
            let write = || -> rusqlite::Result<u64> {
                let mut removed = 0;
                if run.kind == RunKind::Full {
                    let gone = not_seen_since(tx, &run.started_at)?;
                    for id in gone {
                        if remove_row(tx, &id, now)?.is_some() {
                            removed += 1;
                        }
                    }
                }
                let (watermark,): (Option<String>,) = tx.query_row(
                    "SELECT watermark FROM sync_state WHERE singleton = 1",
                    [],
                    |row| Ok((row.get(0)?,)),
                )?;
                let watermark =
                    plan::newest(watermark.map(Timestamp::new), run.newest_updated.as_ref());
                let last_full = (run.kind == RunKind::Full).then(|| run.started_at.as_str());
                tx.execute(
                    "UPDATE sync_state SET watermark = ?1,
                         last_full_started_at = coalesce(?2, last_full_started_at),
                         last_completed_at = ?3, last_run_kind = ?4
                     WHERE singleton = 1",
                    params![
                        watermark.as_ref().map(Timestamp::as_str),
                        last_full,
                        now.as_str(),
                        run.kind.as_str(),
                    ],
                )?;
                tx.execute("DELETE FROM sync_run", [])?;
                Ok(removed)
            };
            let removed = write().map_err(|e| write_error(&path, e))?;
            Ok(Counts {
                removed,
                ..run.counts
            })
        })
    }

    fn last_seq(&mut self) -> Result<i64, MirrorError> {
        self.connection
            .query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |row| {
                row.get(0)
            })
            .map_err(|e| MirrorError::sqlite(&self.path, "read the journal", e))
    }
}

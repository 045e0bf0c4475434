//! Errors of the mirror and of a sync run. Each kind is a variant a caller can match; each
//! keeps the error that caused it as its `source`; messages state what happened to which file
//! (what to do about it is the application's to say).

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

use crate::MirrorApi;
use crate::blocking::ThreadError;
use crate::row::RowError;
use crate::schema::APPLICATION_ID;

/// A mirror database could not be opened, read or written. Every message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// The file is not a SQLite database, or it is damaged.
    #[error(
        "{}: not a SQLite database, or a damaged one ({source}); it was left as it is",
        path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A SQLite database of something else: its `application_id` is not a mirror's.
    #[error(
        "{}: a SQLite database that is not a referrals mirror (application_id {application_id:#x} \
         instead of {APPLICATION_ID:#x}, {objects} schema objects); it was left as it is",
        path.display()
    )]
    Foreign {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA application_id` of the file.
        application_id: i32,
        /// How many tables, indexes, views and triggers it has.
        objects: i64,
    },
    /// The mirror belongs to another API (another account, or the demo simulator): see
    /// [`Mirror::claim_api`](crate::Mirror::claim_api). Nothing was written.
    #[error(
        "{}: this mirror holds the referrals of {mirror}, not of {requested}; a mirror belongs \
         to one API account, and nothing was written to it",
        path.display()
    )]
    OtherApi {
        /// The database file.
        path: PathBuf,
        /// The API the mirror belongs to.
        mirror: MirrorApi,
        /// The API of the refused sync (or listener).
        requested: MirrorApi,
    },
    /// A mirror written by a newer version of this crate.
    #[error(
        "{}: mirror schema version {found} is newer than this program knows ({known})",
        path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this crate writes.
        known: i64,
    },
    /// A mirror opened read-only (see [`Mirror::open_read_only`](crate::Mirror::open_read_only))
    /// whose schema is older than this program's: upgrading it is a write.
    #[error(
        "{}: mirror schema version {found} must be upgraded to version {current} before this \
         program can read it, and it was opened read-only (it cannot be written here); it was \
         left as it is",
        path.display()
    )]
    UpgradeNeeded {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file (0: an empty file, not a mirror yet).
        found: i64,
        /// The version this crate writes.
        current: i64,
    },
    /// No mirror there ([`Mirror::open_existing`](crate::Mirror::open_existing) never creates
    /// one).
    #[error("{}: no such mirror", path.display())]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// The disk (or the database's size limit) is full: the transaction was rolled back.
    #[error(
        "{}: the disk is full ({source}); the write in progress was rolled back and the mirror \
         is as it was before it",
        path.display()
    )]
    Full {
        /// The database file (or its lock file).
        path: PathBuf,
        /// SQLite's or the operating system's error.
        #[source]
        source: Cause,
    },
    /// The file or its directory cannot be written.
    #[error(
        "{}: cannot write ({source}); the mirror needs write access to the file and to its \
         directory (for the -wal, -shm and .lock files)",
        path.display()
    )]
    ReadOnly {
        /// The database file (or its lock file).
        path: PathBuf,
        /// SQLite's or the operating system's error.
        #[source]
        source: Cause,
    },
    /// Another sync holds the mirror's [`SyncLock`](crate::SyncLock), and did not release it
    /// within the wait.
    #[error(
        "{}: another `referrals sync` is running on this mirror ({holder}); it did not finish \
         within the wait",
        path.display()
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// Who holds it: pid and start time, as the holder wrote them.
        holder: String,
    },
    /// A stored value that this crate writes holds something it never writes (edited by
    /// hand?).
    #[error("{}: {what} holds `{value}`, which this program does not write", path.display())]
    Invalid {
        /// The database file.
        path: PathBuf,
        /// Which value (e.g. `sync_run.kind`).
        what: &'static str,
        /// The start of what it holds.
        value: String,
    },
    /// A stored JSON value cannot be read back, or a value cannot be encoded to be stored.
    #[error("{}: {what}: {source}", path.display())]
    Json {
        /// The database file.
        path: PathBuf,
        /// Which value (e.g. `sync_run.checkpoint`).
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A referral that cannot be a row of the mirror (it has no `id`).
    #[error("{}: {source}", path.display())]
    Row {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: RowError,
    },
    /// An acknowledgement of a journal row that does not exist.
    #[error(
        "{}: the acknowledged sequence number {seq} is not in the journal (its last row is {last})",
        path.display()
    )]
    NotInJournal {
        /// The database file.
        path: PathBuf,
        /// The sequence number acknowledged.
        seq: i64,
        /// The journal's last sequence number (0 when it is empty).
        last: i64,
    },
    /// A step of a sync run found no run in progress: another process replaced or finished
    /// it. Nothing was written.
    #[error(
        "{}: no sync run is in progress any more (another process replaced or finished it); \
         nothing was written",
        path.display()
    )]
    NoRunInProgress {
        /// The database file.
        path: PathBuf,
    },
    /// Any other SQLite or file error, with what was being done.
    #[error("{}: {context}: {source}", path.display())]
    Other {
        /// The database file (or its lock file).
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// SQLite's or the operating system's error.
        #[source]
        source: Cause,
    },
}

/// The error under a [`MirrorError`] that SQLite or the operating system reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// SQLite's error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The operating system's error (the lock file).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What a SQLite or operating-system error means for the mirror, whichever reported it.
enum Class {
    Full,
    ReadOnly,
    Other,
}

impl MirrorError {
    /// Classifies a SQLite error met while doing `context` on the mirror at `path`: a damaged
    /// file, a full disk and a file that cannot be written get their own kinds. For the
    /// statements of an extension's own tables (see [`Mirror::transaction`](crate::Mirror::transaction)).
    pub fn from_sqlite(path: &Path, context: &'static str, error: rusqlite::Error) -> Self {
        let class = match error.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                return MirrorError::Corrupt {
                    path: path.to_path_buf(),
                    source: error,
                };
            }
            Some(ErrorCode::DiskFull) => Class::Full,
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
                Class::ReadOnly
            }
            _ => Class::Other,
        };
        MirrorError::of_class(class, path, context, error.into())
    }

    /// A file error met while doing `context` on `path`.
    pub(crate) fn io(path: &Path, context: &'static str, error: std::io::Error) -> Self {
        let class = match error.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                Class::ReadOnly
            }
            std::io::ErrorKind::StorageFull => Class::Full,
            _ => Class::Other,
        };
        MirrorError::of_class(class, path, context, error.into())
    }

    /// The error of `class` for `path`, caused by `source`.
    fn of_class(class: Class, path: &Path, context: &'static str, source: Cause) -> Self {
        let path = path.to_path_buf();
        match class {
            Class::Full => MirrorError::Full { path, source },
            Class::ReadOnly => MirrorError::ReadOnly { path, source },
            Class::Other => MirrorError::Other {
                path,
                context,
                source,
            },
        }
    }

    /// The database file (or lock file) the error is about.
    pub fn path(&self) -> &Path {
        match self {
            MirrorError::Corrupt { path, .. }
            | MirrorError::Foreign { path, .. }
            | MirrorError::TooNew { path, .. }
            | MirrorError::OtherApi { path, .. }
            | MirrorError::UpgradeNeeded { path, .. }
            | MirrorError::Missing { path }
            | MirrorError::Full { path, .. }
            | MirrorError::ReadOnly { path, .. }
            | MirrorError::Locked { path, .. }
            | MirrorError::Invalid { path, .. }
            | MirrorError::Json { path, .. }
            | MirrorError::Row { path, .. }
            | MirrorError::NotInJournal { path, .. }
            | MirrorError::NoRunInProgress { path }
            | MirrorError::Other { path, .. } => path,
        }
    }
}

/// A sync run that did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The mirror failed; what was committed before stays, and the next run resumes from it.
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    /// The listing stopped part-way (after retries). Every page received is in the mirror,
    /// with the checkpoint; the next run continues from it.
    #[error("{error}")]
    Listing {
        /// The client's error.
        #[source]
        error: referrals::Error,
        /// What the run did before it stopped.
        report: Box<crate::SyncReport>,
    },
    /// The options cannot make a listing (e.g. a page size out of range).
    #[error(transparent)]
    Options(#[from] referrals_query::QueryError),
    /// A mirror call on the blocking thread did not return (it panicked or was cancelled).
    #[error(transparent)]
    Thread(#[from] ThreadError),
    /// A page's items and their bytes as received do not pair up (the listing broke its own
    /// promise): nothing of that page was applied, and the next run continues before it.
    #[error("a page of {items} referral(s) came with {raw} as received: the page was not applied")]
    UnpairedPage {
        /// How many items the page had.
        items: usize,
        /// How many items as received it had.
        raw: usize,
    },
}

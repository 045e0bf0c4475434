//! Errors of the mirror and of a sync run.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// A mirror database could not be opened, read or written. Every message names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// The file is not a SQLite database, or it is damaged.
    #[error(
        "{}: not a SQLite database, or a damaged one ({detail}); it was left as it is",
        path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// A SQLite database of something else.
    #[error(
        "{}: a SQLite database that is not a referrals mirror ({detail}); it was left as it is; \
         choose another --db file",
        path.display()
    )]
    Foreign {
        /// The database file.
        path: PathBuf,
        /// What gave it away.
        detail: String,
    },
    /// A mirror written by a newer version of this crate.
    #[error(
        "{}: mirror schema version {found} is newer than this program knows ({known}); upgrade it",
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
    /// No mirror there (commands that only read one never create it).
    #[error("{}: no such mirror; run `referrals sync --db {}` first", path.display(), path.display())]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// The disk (or the database's size limit) is full: the transaction was rolled back.
    #[error(
        "{}: the disk is full ({detail}); the page being written was rolled back and the mirror \
         is as it was before it",
        path.display()
    )]
    Full {
        /// The database file.
        path: PathBuf,
        /// SQLite's words.
        detail: String,
    },
    /// The file or its directory cannot be written.
    #[error(
        "{}: cannot write ({detail}); the mirror needs write access to the file and to its \
         directory (for the -wal, -shm and .lock files)",
        path.display()
    )]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// The operating system's or SQLite's words.
        detail: String,
    },
    /// Another sync holds the mirror.
    #[error(
        "{}: another `referrals sync` is running on this mirror ({holder}); it was waited for \
         and did not finish; try again when it has",
        path.display()
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// Who holds it: pid and start time, as the holder wrote them.
        holder: String,
    },
    /// Stored data this crate wrote cannot be read back (edited by hand?).
    #[error("{}: {what} is not valid: {detail}", path.display())]
    Invalid {
        /// The database file.
        path: PathBuf,
        /// Which value.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// Any other SQLite or file error, with what was being done.
    #[error("{}: {context}: {detail}", path.display())]
    Other {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        context: &'static str,
        /// The underlying error's words.
        detail: String,
    },
}

impl MirrorError {
    /// Classifies a SQLite error met while doing `context` on `path`.
    pub(crate) fn sqlite(path: &Path, context: &'static str, error: rusqlite::Error) -> Self {
        let path = path.to_path_buf();
        let detail = error.to_string();
        match error.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                MirrorError::Corrupt { path, detail }
            }
            Some(ErrorCode::DiskFull) => MirrorError::Full { path, detail },
            Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
                MirrorError::ReadOnly { path, detail }
            }
            _ => MirrorError::Other {
                path,
                context,
                detail,
            },
        }
    }

    /// A file error met while doing `context` on `path`.
    pub(crate) fn io(path: &Path, context: &'static str, error: std::io::Error) -> Self {
        let path = path.to_path_buf();
        let detail = error.to_string();
        match error.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                MirrorError::ReadOnly { path, detail }
            }
            std::io::ErrorKind::StorageFull => MirrorError::Full { path, detail },
            _ => MirrorError::Other {
                path,
                context,
                detail,
            },
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
        error: referrals::Error,
        /// What the run did before it stopped.
        report: Box<crate::SyncReport>,
    },
    /// The options cannot make a listing (e.g. a page size out of range).
    #[error("{0}")]
    Options(String),
    /// A mirror call on the blocking thread did not return (it panicked or was cancelled).
    #[error("the mirror thread stopped: {0}")]
    Thread(String),
}

//! Checkpoints on a thread of their own. A checkpoint copies the write-ahead log into the
//! database file and waits for the disk twice (`fsync` of the log, then of the file); made by
//! the writer, as SQLite does by default, that wait stops the writer, and a sync's listing then
//! waits for the writer. Here the writer only says how much it wrote; this thread copies what
//! is committed (`PASSIVE`: the writer goes on meanwhile), then, with a short wait, lets the
//! log start over (`RESTART`) so that it does not grow without end under a steady writer.
//!
//! Nothing here can lose data: a checkpoint that fails or is skipped leaves the log as it is
//! (complete and valid), and the next one, or SQLite when the last connection closes, copies
//! it.

use std::path::Path;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::Cause;

/// Bytes written by the writer after which this thread is woken (about 1,000 pages of 16 KiB).
pub(crate) const WAKE_AFTER_BYTES: u64 = 16 << 20;

/// How long the `RESTART` step waits for the writer's transaction in progress and for readers;
/// it blocks new writers while it waits, so it stays short. When it gives up, the log is kept
/// and the next round tries again.
const RESTART_WAIT: Duration = Duration::from_millis(100);

/// The log is truncated to this size when it starts over (it may have grown past it).
pub(crate) const WAL_SIZE_LIMIT: i64 = 64 << 20;

/// The checkpointing thread of one mirror file, and its own connection to it.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    written: u64,
}

impl Checkpointer {
    /// Opens a second connection to `path` (an existing mirror in WAL mode) and starts the
    /// thread.
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, Cause> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let connection = Connection::open_with_flags(path, flags)?;
        connection.busy_timeout(RESTART_WAIT)?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        // One pending wake-up is enough: a checkpoint copies everything committed when it starts.
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("referrals-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    checkpoint(&connection);
                }
            })
            .map_err(Cause::Io)?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
            written: 0,
        })
    }

    /// Counts `bytes` written and committed; wakes the thread once enough were. False when the
    /// thread is gone (the writer should checkpoint by itself again).
    pub(crate) fn committed(&mut self, bytes: u64) -> bool {
        self.written += bytes;
        if self.written < WAKE_AFTER_BYTES {
            return true;
        }
        self.written = 0;
        match self.wake.as_ref().map(|wake| wake.try_send(())) {
            Some(Ok(())) | Some(Err(TrySendError::Full(()))) => true,
            Some(Err(TrySendError::Disconnected(()))) | None => false,
        }
    }
}

/// One round: copy what is committed without stopping the writer, then, if that copied the
/// whole log, let it start over if the writer and the readers allow it within
/// [`RESTART_WAIT`]. When a reader still needs part of the log (a long query on the file),
/// `RESTART` would only hold the writer up while it waits for that reader: it is not tried.
fn checkpoint(connection: &Connection) {
    let Some((busy, log, copied)) = run(connection, "PASSIVE") else {
        return;
    };
    if busy != 0 || copied < log {
        return;
    }
    run(connection, "RESTART");
}

/// `PRAGMA wal_checkpoint(mode)`: (busy, frames in the log, frames copied), or `None` (logged)
/// when it failed; the log is kept as it is for the next round either way.
fn run(connection: &Connection, mode: &str) -> Option<(i64, i64, i64)> {
    let outcome = connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
    });
    match outcome {
        Ok((busy, log, copied)) => {
            tracing::trace!(mode, busy, log, copied, "checkpoint");
            Some((busy, log, copied))
        }
        Err(error) => {
            tracing::debug!(mode, %error, "checkpoint not done");
            None
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; its connection closes before the
        // writer's, which then makes the last checkpoint.
        self.wake.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

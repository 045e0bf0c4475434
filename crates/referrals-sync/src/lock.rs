//! One sync at a time per mirror: an advisory lock on `<db>.lock`, which the operating system
//! releases when its holder exits in any way (`kill -9` included), so a dead holder never
//! blocks the next run. The file says who holds it, for the error message of the next one.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use referrals_model::Timestamp;

use crate::MirrorError;

/// How long a second sync waits for the first by default.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(100);

/// The held sync lock of one mirror; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct SyncLock {
    _file: File,
    path: PathBuf,
}

impl SyncLock {
    /// The lock file of the mirror at `db`: `<db>.lock`.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock of the mirror at `db`, waiting up to `wait` for another holder;
    /// [`MirrorError::Locked`] names that holder (pid and start time) when it does not finish.
    pub fn acquire(db: &Path, wait: Duration) -> Result<SyncLock, MirrorError> {
        let path = Self::path_for(db);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        // Like the mirror's files: its owner's only.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(&path)
            .map_err(|e| MirrorError::io(&path, "create the lock file", e))?;
        let deadline = Instant::now() + wait;
        loop {
            // fs4's, not std's `File::try_lock` (newer than the workspace's minimum Rust).
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => break,
                Err(fs4::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(POLL);
                }
                Err(fs4::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = holder.trim();
                    return Err(MirrorError::Locked {
                        path: db.to_path_buf(),
                        holder: if holder.is_empty() {
                            "a process that has not written its pid yet".into()
                        } else {
                            holder.to_owned()
                        },
                    });
                }
                Err(fs4::TryLockError::Error(e)) => {
                    return Err(MirrorError::io(&path, "lock the lock file", e));
                }
            }
        }
        let me = format!(
            "pid {}, started at {}",
            std::process::id(),
            Timestamp::from_system_time(SystemTime::now()).as_str()
        );
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(me.as_bytes()))
            .and_then(|()| file.flush());
        written.map_err(|e| MirrorError::io(&path, "write the lock file", e))?;
        Ok(SyncLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_gets_it_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("m.db");
        let first = SyncLock::acquire(&db, Duration::ZERO).unwrap();
        assert!(first.path().ends_with("m.db.lock"));
        let error = SyncLock::acquire(&db, Duration::ZERO).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, MirrorError::Locked { .. }), "{message}");
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("m.db"), "{message}");
        drop(first);
        SyncLock::acquire(&db, Duration::ZERO).unwrap();
        dir.close().unwrap();
    }
}

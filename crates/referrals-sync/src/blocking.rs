//! SQLite calls block. From async code they run on tokio's blocking threads, on a value shared
//! behind a mutex: the engine's mirror, the webhook receiver's inbox.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinHandle;

/// A blocking call that did not return: it panicked, or the runtime shut down meanwhile.
#[derive(Debug, thiserror::Error)]
#[error("the mirror thread stopped: {source}")]
pub struct ThreadError {
    #[from]
    source: tokio::task::JoinError,
}

/// Runs `f` on the value in `shared`, locked, on a blocking thread, and waits for it. A lock
/// poisoned by a call that panicked is taken over: each call leaves the value consistent (a
/// mirror's transaction is committed or rolled back whole).
///
/// ```
/// use std::sync::{Arc, Mutex};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let mirror = Arc::new(Mutex::new(referrals_sync::Mirror::open(dir.path().join("m.db"))?));
/// let last = referrals_sync::run_blocking(&mirror, |m| m.last_seq()).await??;
/// assert_eq!(last, 0);
/// # Ok(()) }
/// ```
pub async fn run_blocking<T, R>(
    shared: &Arc<Mutex<T>>,
    f: impl FnOnce(&mut T) -> R + Send + 'static,
) -> Result<R, ThreadError>
where
    T: Send + 'static,
    R: Send + 'static,
{
    Ok(spawn_blocking_on(shared, f).await?)
}

/// Starts `f` on the value in `shared`, locked, on a blocking thread, without waiting.
pub(crate) fn spawn_blocking_on<T, R>(
    shared: &Arc<Mutex<T>>,
    f: impl FnOnce(&mut T) -> R + Send + 'static,
) -> JoinHandle<R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    })
}

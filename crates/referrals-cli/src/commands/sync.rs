//! `referrals sync`: the local mirror brought up to date (one run of `referrals-sync`), with
//! one summary line on stderr and, with `--changes ndjson`, the run's changes on stdout.
//! `referrals listen` starts with the same sync ([`sync_mirror`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use referrals::transport::{BoxFuture, HyperTransport, Transport, TransportError};
use referrals_sync::{
    Mirror, MirrorApi, MirrorError, Reason, SharedMirror, SyncError, SyncLock, SyncOptions,
    SyncReport, run_blocking,
};

use crate::cli::SyncArgs;
use crate::connect::{Connection, connect_with, transport};
use crate::failure::Failure;
use crate::plural::count;
use crate::progress::SyncProgress;
use crate::settings::Settings;

/// Runs `referrals sync`.
pub async fn run(settings: &Settings, args: &SyncArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let options = SyncOptions {
        full: args.full,
        full_every: args.full_every,
        overlap: args.overlap,
        page_size: args
            .page_size
            .unwrap_or(referrals_sync::plan::DEFAULT_PAGE_SIZE),
        // A page size of the user's is the 2018 form's: a sequential full listing.
        concurrency: match (args.page_size, args.concurrency) {
            (Some(_), _) => 1,
            (None, concurrency) => concurrency.unwrap_or(referrals::query::DEFAULT_CONCURRENCY),
        },
        api: None,
    };
    referrals_sync::plan::full_plan(Reason::Requested, &options)
        .map_err(|e| Failure::Usage(format!("--page-size: {e}")))?;
    let db = settings.database();
    let (lock, mut mirror) = lock_and_open(&db, args.wait).await?;
    // A sync writes steadily: its commits should not wait for the disk's checkpoints.
    mirror = tokio::task::spawn_blocking(move || {
        mirror.checkpoint_in_background()?;
        Ok::<_, MirrorError>(mirror)
    })
    .await
    .map_err(|e| Failure::Local(format!("the mirror thread stopped: {e}")))??;
    let counter = Arc::new(CountingTransport::new(settings)?);
    let connection = connect_with(settings, None, Some(counter.clone())).await?;
    let mirror = Arc::new(Mutex::new(mirror));
    let shown = Shown {
        started,
        changes: args.changes.is_some(),
        // Logs (-v) go to stderr too: a progress line would garble them.
        progress: settings.verbose == 0,
    };
    let outcome = sync_mirror(&mirror, &db, &connection, &counter, options, shown).await;
    drop(lock);
    let report = outcome?;
    // The run completed; referrals it could not decode have an exit code of their own.
    let mut ids: Vec<Option<String>> = Vec::new();
    for row in report.quarantined {
        if row.id.is_none() || !ids.contains(&row.id) {
            ids.push(row.id);
        }
    }
    if ids.is_empty() {
        Ok(())
    } else {
        Err(Failure::Quarantined { db, ids })
    }
}

/// Takes the sync lock of the mirror at `db` (waiting up to `wait` for another sync) and
/// opens the mirror (created if missing).
pub async fn lock_and_open(db: &Path, wait: Duration) -> Result<(SyncLock, Mirror), Failure> {
    let opened: PathBuf = db.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let lock = SyncLock::acquire(&opened, wait)?;
        let mirror = Mirror::open(&opened)?;
        Ok::<_, MirrorError>((lock, mirror))
    })
    .await
    .map_err(|e| Failure::Local(format!("the mirror thread stopped: {e}")))?
    .map_err(Failure::from)
}

/// What [`sync_mirror`] shows besides the summary line on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Shown {
    /// When the command started (the summary says how long it took).
    pub started: Instant,
    /// The run's journal rows on stdout (`--changes ndjson`).
    pub changes: bool,
    /// A line on stderr saying what the run received so far, when stderr is a terminal.
    pub progress: bool,
}

/// One sync of `mirror` (at `db`, its sync lock held by the caller) through `connection`,
/// whose requests `counter` counts, with the summary line on stderr and what `shown` asks
/// for. The mirror must belong to the connection's API ([`mirror_api`]); `options.api` is set
/// here.
pub async fn sync_mirror(
    mirror: &SharedMirror,
    db: &Path,
    connection: &Connection,
    counter: &CountingTransport,
    mut options: SyncOptions,
    shown: Shown,
) -> Result<SyncReport, Failure> {
    options.api = Some(mirror_api(connection));
    let journal_before = with_mirror(mirror, |m| Ok(m.last_seq()?)).await?;
    let progress = SyncProgress::new(shown.progress);
    let outcome =
        referrals_sync::sync_with_progress(&connection.client, mirror, &options, |received| {
            progress.page(received)
        })
        .await;
    progress.clear();
    if shown.changes {
        with_mirror(mirror, move |m| {
            super::changes::write_after(m, journal_before, None).map(|_| ())
        })
        .await?;
    }
    let requests = counter.count();
    let seconds = shown.started.elapsed().as_secs_f64();
    match outcome {
        Ok(report) => {
            say!("{}", summary(&report, requests, seconds));
            Ok(report)
        }
        Err(SyncError::Listing { error, report }) => {
            say!("{}", summary(&report, requests, seconds));
            // Printed after the error, and only when running again can help.
            let resume = if crate::failure::resumes(&error) {
                vec![format!(
                    "sync stopped part-way: every page received is in {}; run `referrals sync` \
                     again to continue from there",
                    db.display()
                )]
            } else {
                Vec::new()
            };
            Err(Failure::Interrupted { error, resume })
        }
        Err(SyncError::Options(error)) => Err(Failure::Usage(error.to_string())),
        Err(SyncError::Mirror(error)) => Err(error.into()),
        Err(error) => Err(Failure::Local(error.to_string())),
    }
}

/// The API a mirror synced through `connection` belongs to: the client's base URL, or
/// [`MirrorApi::demo`] for the `--demo` simulator (whose port changes on every run, and whose
/// data does not).
pub fn mirror_api(connection: &Connection) -> MirrorApi {
    match connection.demo() {
        Some(_) => MirrorApi::demo(),
        None => MirrorApi::new(connection.client.base_url()),
    }
}

/// Runs `f` on the mirror on a blocking thread: SQLite stays off the async reactor.
async fn with_mirror<T: Send + 'static>(
    mirror: &SharedMirror,
    f: impl FnOnce(&mut Mirror) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    run_blocking(mirror, f)
        .await
        .map_err(|e| Failure::Local(e.to_string()))?
}

/// `synced: C created, U updated, R removed, N unchanged; P pages, Q requests in T s`, for
/// what this process did, how many referrals it quarantined, and why the run was full when the
/// server forced it.
fn summary(report: &SyncReport, requests: u64, seconds: f64) -> String {
    let done = report.session;
    let mut line = format!(
        "synced: {} created, {} updated, {} removed, {} unchanged; {}, {} in {seconds:.1} s",
        done.created,
        done.updated,
        done.removed,
        done.unchanged,
        count(done.pages, "page"),
        count(requests, "request"),
    );
    if report.reason.is_fallback() {
        line.push_str(&format!(" ({})", report.reason));
    }
    if !report.quarantined.is_empty() {
        line.push_str(&format!(
            "; {} not decodable, quarantined",
            count(report.quarantined.len(), "referral")
        ));
    }
    if report.skipped > 0 {
        line.push_str(&format!(
            " ({} without an id not mirrored)",
            count(report.skipped, "referral")
        ));
    }
    line
}

/// Counts the requests sent (every attempt), around the default transport.
#[derive(Debug)]
pub struct CountingTransport {
    inner: HyperTransport,
    sent: AtomicU64,
}

impl CountingTransport {
    /// The default transport of `settings`, counted.
    pub fn new(settings: &Settings) -> Result<Self, Failure> {
        Ok(CountingTransport {
            inner: transport(settings)?,
            sent: AtomicU64::new(0),
        })
    }

    /// Requests sent so far.
    pub fn count(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Transport for CountingTransport {
    fn send(
        &self,
        request: referrals::query::http::Request<referrals::query::bytes::Bytes>,
    ) -> BoxFuture<
        '_,
        Result<referrals::query::http::Response<referrals::query::bytes::Bytes>, TransportError>,
    > {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.inner.send(request)
    }
}

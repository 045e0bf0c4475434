//! A sync run: the planned listing fetched page by page through the client, each page applied
//! to the store (off the async reactor) together with the listing's checkpoint.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use futures::StreamExt;
use referrals::Client;
use referrals_model::Timestamp;

use crate::plan::{self, Reason, RunKind, RunPlan, SyncOptions};
use crate::row::MirrorRow;
use crate::store::{Counts, PageUpdate, RunRecord, Store};
use crate::{MirrorError, SyncError};

/// What a sync run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Full or incremental (as it ended up).
    pub kind: RunKind,
    /// Why (a fallback reason when the server refused or ignored the filter).
    pub reason: Reason,
    /// True when this run continued one that an earlier process left unfinished.
    pub resumed: bool,
    /// The run's totals, over every resume of it (pages, created, updated, unchanged, removed).
    pub counts: Counts,
    /// What this call did (pages fetched and applied, changes, removals).
    pub session: Counts,
    /// Referrals received without an id (not mirrored; logged).
    pub skipped: u64,
    /// The last journal row before this process started: the rows this process wrote have
    /// greater sequence numbers.
    pub journal_before: i64,
    /// True when the run completed (the watermark advanced).
    pub complete: bool,
}

/// The store shared with the blocking threads that run its calls.
pub type SharedStore<S> = Arc<Mutex<S>>;

/// Runs `f` on the store on a blocking thread.
async fn blocking<S: Store, T: Send + 'static>(
    store: &SharedStore<S>,
    f: impl FnOnce(&mut S) -> Result<T, MirrorError> + Send + 'static,
) -> Result<T, SyncError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    })
    .await
    .map_err(|e| SyncError::Thread(e.to_string()))?
    .map_err(SyncError::Mirror)
}

/// A page being applied on a blocking thread while the next one is fetched.
type Pending = Option<tokio::task::JoinHandle<Result<Counts, MirrorError>>>;

/// Waits for the page being applied, if any; what it did.
async fn settle(pending: &mut Pending) -> Result<Counts, SyncError> {
    match pending.take() {
        None => Ok(Counts::default()),
        Some(handle) => handle
            .await
            .map_err(|e| SyncError::Thread(e.to_string()))?
            .map_err(SyncError::Mirror),
    }
}

fn record_of(plan: &RunPlan, started_at: Timestamp) -> RunRecord {
    RunRecord {
        kind: plan.kind,
        reason: plan.reason,
        started_at,
        since: plan.since.clone(),
        checkpoint: plan.start(),
        newest_updated: None,
        counts: Counts::default(),
    }
}

/// Syncs the mirror in `store` with the account `client` reads: continues the run an earlier
/// process left unfinished (unless `--full` replaces an incremental one), or starts the run
/// [`plan::plan_run`] decides. Every page is applied with its checkpoint in one transaction;
/// an error leaves everything received so far applied, and the next call continues from there.
pub async fn sync<S: Store>(
    client: &Client,
    store: &SharedStore<S>,
    options: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    let journal_before = blocking(store, |s| s.last_seq()).await?;
    let (state, in_progress) = blocking(store, |s| s.load()).await?;
    let now = SystemTime::now();
    let (mut run, resumed) = match in_progress {
        Some(run) if !(options.full && run.kind == RunKind::Incremental) => (run, true),
        _ => {
            let plan = plan::plan_run(&state, options, now)
                .map_err(|e| SyncError::Options(e.to_string()))?;
            let run = record_of(&plan, Timestamp::from_system_time(now));
            let begin = run.clone();
            blocking(store, move |s| s.begin_run(&begin)).await?;
            (run, false)
        }
    };
    tracing::info!(
        kind = run.kind.as_str(),
        reason = run.reason.as_str(),
        resumed,
        "sync run"
    );
    let mut skipped = 0;
    let mut session = Counts::default();
    let mut restarted = false;
    // Pages are applied in order, one at a time, each while the next is fetched: the run costs
    // about the longer of the listing and the writing, not their sum.
    let mut pending: Pending = None;
    let report = |run: &RunRecord, session, skipped, complete| SyncReport {
        kind: run.kind,
        reason: run.reason,
        resumed,
        counts: run.counts,
        session,
        skipped,
        journal_before,
        complete,
    };
    'listing: loop {
        let mut pages = client.resume(run.checkpoint.clone()).pages();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(error) => {
                    let counts = settle(&mut pending).await?;
                    run.counts = run.counts.plus(counts);
                    session = session.plus(counts);
                    let status = error.status().map(|s| s.as_u16());
                    if let Some(full) =
                        plan::on_refused(run.kind, run.counts.pages, status, options)
                    {
                        tracing::info!("the server refused the filter: a full listing instead");
                        run = record_of(&full, Timestamp::from_system_time(SystemTime::now()));
                    } else if plan::restart_after(status, run.counts.pages, restarted) {
                        // The server no longer accepts the stored position (an expired
                        // continuation): the same listing from its first page, once. The start
                        // time is kept, so that nothing a webhook saw meanwhile is removed.
                        tracing::info!("the stored position was refused: listing again");
                        restarted = true;
                        run.checkpoint = run.checkpoint.restarted();
                    } else {
                        return Err(SyncError::Listing {
                            error,
                            report: Box::new(report(&run, session, skipped, false)),
                        });
                    }
                    let begin = run.clone();
                    blocking(store, move |s| s.begin_run(&begin)).await?;
                    continue 'listing;
                }
            };
            if let (RunKind::Incremental, Some(since)) = (run.kind, &run.since) {
                let updated = page.items.iter().map(|r| r.updated_date_time.as_ref());
                if plan::filter_ignored(since, updated, &page.checkpoint) {
                    tracing::info!("the server ignored the filter: a full listing with a diff");
                    run.kind = RunKind::Full;
                    run.reason = Reason::FilterIgnored;
                }
            }
            let mut rows = Vec::with_capacity(page.items.len());
            for referral in &page.items {
                match MirrorRow::from_referral(referral) {
                    Ok(row) => {
                        run.newest_updated = plan::newest(
                            run.newest_updated.take(),
                            referral.updated_date_time.as_ref(),
                        );
                        rows.push(row);
                    }
                    Err(error) => {
                        skipped += 1;
                        tracing::warn!(%error, "referral not mirrored");
                    }
                }
            }
            let update = PageUpdate {
                rows,
                checkpoint: page.checkpoint.clone(),
                kind: run.kind,
                reason: run.reason,
                newest_updated: run.newest_updated.clone(),
                now: Timestamp::from_system_time(SystemTime::now()),
            };
            let counts = settle(&mut pending).await?;
            run.counts = run.counts.plus(counts);
            session = session.plus(counts);
            let shared = store.clone();
            pending = Some(tokio::task::spawn_blocking(move || {
                let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
                guard.apply_page(&update)
            }));
            run.checkpoint = page.checkpoint;
        }
        let counts = settle(&mut pending).await?;
        run.counts = run.counts.plus(counts);
        session = session.plus(counts);
        break;
    }
    let finished_at = Timestamp::from_system_time(SystemTime::now());
    run.counts = blocking(store, move |s| s.finish_run(&finished_at)).await?;
    session.removed = run.counts.removed;
    Ok(report(&run, session, skipped, true))
}

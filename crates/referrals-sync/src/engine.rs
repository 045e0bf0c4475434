//! A sync run: the planned listing fetched page by page through the client, each page applied
//! to the mirror (off the async reactor) together with the listing's checkpoint.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures::StreamExt;
use referrals::{Client, RawItems};
use referrals_model::Timestamp;

use crate::blocking::{ThreadError, run_blocking, spawn_blocking_on};
use crate::plan::{self, Reason, RunKind, RunPlan, SyncOptions};
use crate::row::{MirrorRow, ReceivedRow};
use crate::{
    Counts, Mirror, MirrorApi, MirrorError, PageRow, PageUpdate, PagesApplied, QuarantineRow,
    RunRecord, SyncError,
};

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
    /// The items this call received that are not referrals (a field of another type than the
    /// API documents), kept in the mirror's `quarantine` table; the run went on without them.
    pub quarantined: Vec<QuarantineRow>,
}

/// What a run has received so far in this call, reported after each page (see
/// [`sync_with_progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncProgress {
    /// Full or incremental, as the run is now.
    pub kind: RunKind,
    /// Pages received.
    pub pages: u64,
    /// Referrals received.
    pub referrals: u64,
    /// The number of referrals the server says the listing has, if it says.
    pub total: Option<u64>,
}

/// A mirror shared between async code and the blocking threads that make its calls.
pub type SharedMirror = Arc<Mutex<Mirror>>;

/// Runs `f` on the mirror on a blocking thread.
async fn blocking<T: Send + 'static>(
    mirror: &SharedMirror,
    f: impl FnOnce(&mut Mirror) -> Result<T, MirrorError> + Send + 'static,
) -> Result<T, SyncError> {
    Ok(run_blocking(mirror, f).await??)
}

/// Pages received while a write is under way, at most, before the listing waits for it.
const MAX_QUEUED: usize = 16;

/// Writes `pages` (if any) and waits for it.
async fn write_now(
    mirror: &SharedMirror,
    pages: Vec<PageUpdate<PageRow>>,
) -> Result<PagesApplied, SyncError> {
    if pages.is_empty() {
        return Ok(PagesApplied::default());
    }
    blocking(mirror, move |m| m.apply_received(&pages)).await
}

/// A page being applied on a blocking thread while the next one is fetched.
type Pending = Option<tokio::task::JoinHandle<Result<PagesApplied, MirrorError>>>;

/// Waits for the page being applied, if any; what it did.
async fn settle(pending: &mut Pending) -> Result<PagesApplied, SyncError> {
    match pending.take() {
        None => Ok(PagesApplied::default()),
        Some(handle) => Ok(handle.await.map_err(ThreadError::from)??),
    }
}

/// What the writes settled so far did, added to the run's and the call's counts; the
/// referrals the writer quarantined join the call's.
fn tally(
    applied: PagesApplied,
    run: &mut RunRecord,
    session: &mut Counts,
    quarantined: &mut Vec<QuarantineRow>,
) {
    run.counts = run.counts.plus(applied.counts);
    *session = session.plus(applied.counts);
    quarantined.extend(applied.quarantined);
}

/// A page's referrals as the writer gets them, and the number of referrals without an id (not
/// mirrored).
fn rows_of(
    page: &mut referrals::Page,
    run: &mut RunRecord,
    decode: RawItems,
) -> Result<(Vec<PageRow>, u64), SyncError> {
    // Numbered in the run's listing, which a resume continues.
    let page_number = page.checkpoint.pages_received();
    if page.raw.len() != page.items.len() {
        // The pager keeps one raw item per item. Were it not so, an item left out would be
        // taken for removed by a full run: better to stop before the page.
        return Err(SyncError::UnpairedPage {
            items: page.items.len(),
            raw: page.raw.len(),
        });
    }
    let raw = std::mem::take(&mut page.raw);
    let mut skipped = 0;
    let mut rows = Vec::with_capacity(page.items.len());
    for (referral, item) in page.items.iter().zip(raw) {
        let row = match decode {
            // Light: the writer decodes it if its digest is not the one stored.
            RawItems::Light => ReceivedRow::new(referral, item, page_number).map(PageRow::Received),
            // Whole, and the digest of its bytes as received (what the next run compares).
            _ => {
                MirrorRow::from_received(referral, &item).map(|row| PageRow::Decoded(Box::new(row)))
            }
        };
        match row {
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
    Ok((rows, skipped))
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

/// Syncs `mirror` with the account `client` reads: continues the run an earlier
/// process left unfinished (unless `--full` replaces an incremental one), or starts the run
/// [`plan::plan_run`] decides. Every page is applied with its checkpoint in one transaction;
/// an error leaves everything received so far applied, and the next call continues from there.
/// First of all, the mirror must belong to the client's API (or to none yet):
/// [`MirrorError::OtherApi`] otherwise, with nothing sent and nothing written.
pub async fn sync(
    client: &Client,
    mirror: &SharedMirror,
    options: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    sync_with_progress(client, mirror, options, |_| {}).await
}

/// [`sync`], calling `on_page` after each page received (before it is written), e.g. for a
/// progress bar.
pub async fn sync_with_progress(
    client: &Client,
    mirror: &SharedMirror,
    options: &SyncOptions,
    mut on_page: impl FnMut(&SyncProgress) + Send,
) -> Result<SyncReport, SyncError> {
    // Before anything is written: the mirror must be this API's (or nobody's yet).
    let api = options
        .api
        .clone()
        .unwrap_or_else(|| MirrorApi::new(client.base_url()));
    blocking(mirror, move |m| m.claim_api(&api, SystemTime::now())).await?;
    let journal_before = blocking(mirror, |m| m.last_seq()).await?;
    let (state, in_progress) = blocking(mirror, |m| m.sync_state()).await?;
    let now = SystemTime::now();
    let (mut run, resumed) = match in_progress {
        Some(run) if !(options.full && run.kind == RunKind::Incremental) => (run, true),
        _ => {
            let plan = plan::plan_run(&state, options, now)?;
            let run = record_of(&plan, Timestamp::from_system_time(now));
            let begin = run.clone();
            blocking(mirror, move |m| m.begin_run(&begin)).await?;
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
    let mut progress = SyncProgress {
        kind: run.kind,
        pages: 0,
        referrals: 0,
        total: None,
    };
    // The server's clock: the newest `Date` of the pages received (bounds the watermark).
    let mut server_time = None;
    let mut session = Counts::default();
    let mut restarted = false;
    // Pages are written in order on a blocking thread while the next ones are fetched: the run
    // costs about the longer of the listing and the writing, not their sum. Pages that arrive
    // while a write is under way wait (at most MAX_QUEUED) and go together into the next
    // transaction, so a slow disk pays its per-transaction cost less often.
    let mut pending: Pending = None;
    let mut queued: Vec<PageUpdate<PageRow>> = Vec::new();
    let mut quarantined: Vec<QuarantineRow> = Vec::new();
    let report = |run: &RunRecord, session, skipped, complete, quarantined| SyncReport {
        kind: run.kind,
        reason: run.reason,
        resumed,
        counts: run.counts,
        session,
        skipped,
        journal_before,
        complete,
        quarantined,
    };
    'listing: loop {
        // A full run's partitioned checkpoint resumes partitioned, at most `concurrency`
        // requests in flight (1: its ranges one after another); any other listing is sequential.
        // Items as received, so that the mirror keeps the digest of each referral's bytes as
        // received: a full run tells an unchanged one by that digest, without decoding it.
        let decode = if plan::defers_decode(run.kind, run.reason) {
            RawItems::Light
        } else {
            RawItems::Whole
        };
        let mut pages = client
            .resume(run.checkpoint.clone())
            .max_page_size(plan::listing_page_size(options))
            .concurrency(options.concurrency)
            .raw_items(decode)
            .pages();
        while let Some(page) = pages.next().await {
            let mut page = match page {
                Ok(page) => page,
                Err(error) => {
                    let applied = settle(&mut pending).await?;
                    tally(applied, &mut run, &mut session, &mut quarantined);
                    let applied = write_now(mirror, std::mem::take(&mut queued)).await?;
                    tally(applied, &mut run, &mut session, &mut quarantined);
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
                            report: Box::new(report(&run, session, skipped, false, quarantined)),
                        });
                    }
                    let begin = run.clone();
                    blocking(mirror, move |m| m.begin_run(&begin)).await?;
                    continue 'listing;
                }
            };
            server_time = server_time.max(page.date);
            if let (RunKind::Incremental, Some(since)) = (run.kind, &run.since) {
                let updated = page.items.iter().map(|r| r.updated_date_time.as_ref());
                if plan::filter_ignored(since, updated, &page.checkpoint) {
                    tracing::info!("the server ignored the filter: a full listing with a diff");
                    run.kind = RunKind::Full;
                    run.reason = Reason::FilterIgnored;
                }
            }
            progress.kind = run.kind;
            progress.pages += 1;
            progress.referrals += (page.items.len() + page.undecodable.len()) as u64;
            progress.total = page.count.or(progress.total);
            on_page(&progress);
            let (rows, without_id) = match rows_of(&mut page, &mut run, decode) {
                Ok(rows) => rows,
                Err(error) => {
                    // What came before the page is applied; the page and after are not.
                    settle(&mut pending).await?;
                    write_now(mirror, std::mem::take(&mut queued)).await?;
                    return Err(error);
                }
            };
            skipped += without_id;
            // Numbered in the run's listing, which a resume continues.
            let page_number = page.checkpoint.pages_received();
            let bad: Vec<QuarantineRow> = page
                .undecodable
                .iter()
                .map(|item| {
                    tracing::warn!(%item, "referral not decodable: quarantined");
                    QuarantineRow::from_item(item, page_number)
                })
                .collect();
            quarantined.extend(bad.iter().cloned());
            let update = PageUpdate {
                rows,
                checkpoint: page.checkpoint.clone(),
                kind: run.kind,
                reason: run.reason,
                newest_updated: run.newest_updated.clone(),
                now: plan::page_time(SystemTime::now(), &run.started_at),
                quarantined: bad,
            };
            queued.push(update);
            run.checkpoint = page.checkpoint;
            let busy = pending.as_ref().is_some_and(|p| !p.is_finished());
            if busy && queued.len() < MAX_QUEUED {
                continue;
            }
            let applied = settle(&mut pending).await?;
            tally(applied, &mut run, &mut session, &mut quarantined);
            let batch = std::mem::take(&mut queued);
            pending = Some(spawn_blocking_on(mirror, move |m| m.apply_received(&batch)));
        }
        let applied = settle(&mut pending).await?;
        tally(applied, &mut run, &mut session, &mut quarantined);
        let applied = write_now(mirror, std::mem::take(&mut queued)).await?;
        tally(applied, &mut run, &mut session, &mut quarantined);
        break;
    }
    let overlap = options.overlap;
    run.counts = blocking(mirror, move |m| {
        m.finish_run(SystemTime::now(), server_time, overlap)
    })
    .await?;
    session.removed = run.counts.removed;
    Ok(report(&run, session, skipped, true, quarantined))
}

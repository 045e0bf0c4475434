//! The steps of a sync run as the mirror stores them: the state of completed runs, the run in
//! progress (`sync_run`), a batch of pages applied with the run's position in one transaction,
//! and the end of a run (removals, the watermark). [`sync`](crate::sync) takes these steps;
//! they are public for tools that drive a mirror themselves (the benches, tests).

use std::borrow::Cow;
use std::path::Path;
use std::time::{Duration, SystemTime};

use referrals_model::Timestamp;
use referrals_query::Checkpoint;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::journal::{JournalEntry, journal_batch};
use super::quarantine::{self, QuarantineRow};
use super::rows::{remove_row, seen_unchanged, store_changed, store_row};
use super::{Mirror, write_error};
use crate::MirrorError;
use crate::plan::{self, Decision, Reason, RunKind, SyncState};
use crate::row::{MirrorRow, ReceivedRow};

/// What a run did so far (over every resume of it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Pages applied.
    pub pages: u64,
    /// Referrals first seen (or seen again after removal).
    pub created: u64,
    /// Referrals whose content changed.
    pub updated: u64,
    /// Referrals received again unchanged (or older than stored).
    pub unchanged: u64,
    /// Referrals marked removed at the end of a full run.
    pub removed: u64,
}

impl Counts {
    /// The sum of two counts.
    pub fn plus(self, other: Counts) -> Counts {
        Counts {
            pages: self.pages + other.pages,
            created: self.created + other.created,
            updated: self.updated + other.updated,
            unchanged: self.unchanged + other.unchanged,
            removed: self.removed + other.removed,
        }
    }
}

/// The run in progress, as stored with each page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// Full or incremental (an incremental run becomes full when the server ignores its filter).
    pub kind: RunKind,
    /// Why.
    pub reason: Reason,
    /// When the run started (local clock).
    pub started_at: Timestamp,
    /// The incremental lower bound.
    pub since: Option<Timestamp>,
    /// The listing's position after the last applied page.
    pub checkpoint: Checkpoint,
    /// The newest `updatedDateTime` received by the run so far.
    pub newest_updated: Option<Timestamp>,
    /// What the run did so far.
    pub counts: Counts,
}

/// One received page to apply, with the run's state after it: all of it is written in one
/// transaction, or none of it. Its rows are decoded ([`MirrorRow`], for
/// [`Mirror::apply_pages`]), or decoded or as received ([`PageRow`], for
/// [`Mirror::apply_received`]).
#[derive(Debug, Clone)]
pub struct PageUpdate<R = MirrorRow> {
    /// The referrals of the page, in order received.
    pub rows: Vec<R>,
    /// The checkpoint after the page.
    pub checkpoint: Checkpoint,
    /// The run's kind after the page.
    pub kind: RunKind,
    /// The run's reason after the page.
    pub reason: Reason,
    /// The run's newest `updatedDateTime` after the page.
    pub newest_updated: Option<Timestamp>,
    /// The current time.
    pub now: Timestamp,
    /// The page's items that are not referrals, kept in the `quarantine` table.
    pub quarantined: Vec<QuarantineRow>,
}

/// A referral of a page for [`Mirror::apply_received`].
#[derive(Debug, Clone, PartialEq)]
pub enum PageRow {
    /// Decoded already (boxed: the rarer and larger kind).
    Decoded(Box<MirrorRow>),
    /// As received: decoded only when its digest is not the one stored (then stored with the
    /// same rules as a decoded one, or quarantined when it does not decode).
    Received(ReceivedRow),
}

/// What [`Mirror::apply_received`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PagesApplied {
    /// What the pages did.
    pub counts: Counts,
    /// The received referrals that did not decode, quarantined (as the `quarantined` of the
    /// pages are).
    pub quarantined: Vec<QuarantineRow>,
}

/// About what a referral adds to the files besides its JSON (columns, journal row, index).
const ROW_OVERHEAD: usize = 600;

/// About what receiving an unchanged referral writes (its `referral_seen` row).
const SEEN_ROW_BYTES: u64 = 80;

impl Mirror {
    /// The state of completed runs, and the run in progress if any.
    pub fn sync_state(&self) -> Result<(SyncState, Option<RunRecord>), MirrorError> {
        read_state(&self.connection, &self.path)
    }

    /// Starts a run, replacing any run in progress.
    pub fn begin_run(&mut self, run: &RunRecord) -> Result<(), MirrorError> {
        let checkpoint = encode_checkpoint(&self.path, &run.checkpoint)?;
        let path = self.path.clone();
        let tx = self.write_transaction()?;
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
            tx.commit()
        };
        write().map_err(|e| write_error(&path, e))
    }

    /// Applies one page and stores the run's position after it, atomically. Returns what the
    /// page did.
    pub fn apply_page(&mut self, page: &PageUpdate) -> Result<Counts, MirrorError> {
        self.apply_pages(std::slice::from_ref(page))
    }

    /// Applies consecutive pages, each with the run's state after it, in one transaction; the
    /// run's position ends after the last. (The engine gives several when pages arrived faster
    /// than they were written.) [`MirrorError::NoRunInProgress`], and nothing written, when
    /// another process replaced or finished the run.
    pub fn apply_pages(&mut self, pages: &[PageUpdate]) -> Result<Counts, MirrorError> {
        self.write_batch(pages).map(|applied| applied.counts)
    }

    /// [`apply_pages`](Self::apply_pages) for pages whose referrals may be as received
    /// ([`PageRow::Received`]): a referral whose received digest is the one stored is recorded
    /// as seen, without being decoded; any other is decoded and stored by the same rules as a
    /// decoded one, its digest the received one (so that the next run that receives the same
    /// bytes finds it unchanged), or, when it does not decode, quarantined in the same
    /// transaction.
    pub fn apply_received(
        &mut self,
        pages: &[PageUpdate<PageRow>],
    ) -> Result<PagesApplied, MirrorError> {
        self.write_batch(pages)
    }

    fn write_batch<R: StoreRow>(
        &mut self,
        pages: &[PageUpdate<R>],
    ) -> Result<PagesApplied, MirrorError> {
        let Some(last) = pages.last() else {
            return Ok(PagesApplied::default());
        };
        let checkpoint = encode_checkpoint(&self.path, &last.checkpoint)?;
        let path = self.path.clone();
        let tx = self.write_transaction()?;
        match write_pages(&tx, pages, &checkpoint).map_err(|e| write_error(&path, e))? {
            PagesWritten::Applied { applied, bytes, .. } => {
                tx.commit().map_err(|e| write_error(&path, e))?;
                self.committed(bytes);
                Ok(applied)
            }
            // Dropping the transaction rolls the pages back: the mirror stays as the run that
            // replaced this one left it.
            PagesWritten::NoRun => Err(MirrorError::NoRunInProgress { path }),
        }
    }

    /// Completes the run in progress: a full run marks what it did not see removed (and
    /// forgets the quarantined referrals it did not receive); the watermark advances to the
    /// newest `updatedDateTime` received, but never past [`plan::watermark_ceiling`] (the
    /// server's time, `server_time` when known, else `now`, plus `overlap`; for a full run, its
    /// start), nor past what quarantined referrals allow ([`plan::held_watermark`]). Returns the run's totals;
    /// [`MirrorError::NoRunInProgress`] when there is no run to complete.
    pub fn finish_run(
        &mut self,
        now: SystemTime,
        server_time: Option<SystemTime>,
        overlap: Duration,
    ) -> Result<Counts, MirrorError> {
        let local = now;
        let now = &Timestamp::from_system_time(now);
        let path = self.path.clone();
        let tx = self.write_transaction()?;
        // Read under the write lock: the run completed is the one stored now.
        let (_, run) = read_state(&tx, &path)?;
        let Some(run) = run else {
            return Err(MirrorError::NoRunInProgress { path });
        };
        let write = || -> rusqlite::Result<u64> {
            let mut removed = 0;
            if run.kind == RunKind::Full {
                let gone = not_seen_since(&tx, &run.started_at)?;
                for id in gone {
                    if remove_row(&tx, &id, now)?.is_some() {
                        removed += 1;
                    }
                }
                quarantine::forget_unseen(&tx, &run.started_at)?;
            }
            let (watermark,): (Option<String>,) = tx.query_row(
                "SELECT watermark FROM sync_state WHERE singleton = 1",
                [],
                |row| Ok((row.get(0)?,)),
            )?;
            let ceiling =
                plan::watermark_ceiling(run.kind, &run.started_at, server_time, local, overlap);
            let previous = watermark.map(Timestamp::new);
            let next =
                plan::next_watermark(previous.clone(), run.newest_updated.as_ref(), &ceiling);
            let held = quarantine::held(&tx)?;
            let held: Vec<Option<&str>> = held.iter().map(Option::as_deref).collect();
            let watermark = plan::held_watermark(next, previous, &held);
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
        tx.commit().map_err(|e| write_error(&path, e))?;
        Ok(Counts {
            removed,
            ..run.counts
        })
    }
}

/// What writing a batch of pages found.
enum PagesWritten {
    /// Written, with the run's position after the last page (`bytes`: about what was written,
    /// for the checkpoint thread).
    Applied { applied: PagesApplied, bytes: u64 },
    /// The run in progress is gone (another process replaced or finished it).
    NoRun,
}

/// What storing one referral of a page did.
// Made and matched once per referral, never stored: boxing the row would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Outcome<'a> {
    /// Stored (or found unchanged) with this decision.
    Stored {
        decision: Decision,
        id: &'a str,
        updated_date_time: Option<&'a str>,
        /// The row, when the referral was decoded (always, when it changed).
        row: Option<Cow<'a, MirrorRow>>,
    },
    /// Not decodable: to quarantine.
    Quarantined(QuarantineRow),
}

/// A referral of a page, as [`write_pages`] stores it.
trait StoreRow {
    /// Stores it at `now` with the change rules of [`plan::decide`] (not journaled).
    fn store<'a>(&'a self, tx: &Transaction<'_>, now: &Timestamp) -> rusqlite::Result<Outcome<'a>>;
}

impl StoreRow for MirrorRow {
    fn store<'a>(&'a self, tx: &Transaction<'_>, now: &Timestamp) -> rusqlite::Result<Outcome<'a>> {
        Ok(Outcome::Stored {
            decision: store_row(tx, self, now)?,
            id: &self.id,
            updated_date_time: self.updated_date_time.as_deref(),
            row: Some(Cow::Borrowed(self)),
        })
    }
}

impl StoreRow for PageRow {
    fn store<'a>(&'a self, tx: &Transaction<'_>, now: &Timestamp) -> rusqlite::Result<Outcome<'a>> {
        let received = match self {
            PageRow::Decoded(row) => return row.store(tx, now),
            PageRow::Received(received) => received,
        };
        let stored = |decision, row| Outcome::Stored {
            decision,
            id: &received.id,
            updated_date_time: received.updated_date_time.as_deref(),
            row,
        };
        // The fast path of a referral received as it was last time: no decode at all.
        if seen_unchanged(tx, &received.id, received.digest(), now)? {
            return Ok(stored(Decision::Unchanged, None));
        }
        Ok(match received.decode() {
            Ok(Ok(row)) => {
                let decision = store_changed(tx, &row, now)?;
                stored(decision, Some(Cow::Owned(row)))
            }
            Err(item) => Outcome::Quarantined(QuarantineRow::from_item(&item, received.page())),
            // The referral decoded but cannot be a row: `ReceivedRow::new` checked its id, so
            // only an encoding error (never met for a decoded referral) lands here. Kept as
            // received rather than lost.
            Ok(Err(error)) => Outcome::Quarantined(QuarantineRow {
                id: Some(received.id.clone()),
                updated_date_time: received.updated_date_time.clone(),
                page: received.page(),
                index: received.index() as u64,
                raw_json: received.json().to_owned(),
                error: error.to_string(),
            }),
        })
    }
}

/// Writes `pages` in `tx`: their rows with the change rules, their journal rows in the order
/// received, and the run's state after the last page (`checkpoint`, encoded).
fn write_pages<R: StoreRow>(
    tx: &Transaction<'_>,
    pages: &[PageUpdate<R>],
    checkpoint: &str,
) -> rusqlite::Result<PagesWritten> {
    let Some(last) = pages.last() else {
        return Ok(PagesWritten::Applied {
            applied: PagesApplied::default(),
            bytes: 0,
        });
    };
    let mut counts = Counts::default();
    let mut bytes = 0u64;
    let mut changed = Vec::new();
    let mut quarantined = Vec::new();
    let mut any_quarantined = quarantine::any(tx)?;
    let keep = |row: &QuarantineRow, now, any: &mut bool| -> rusqlite::Result<u64> {
        quarantine::keep(tx, row, now)?;
        *any = true;
        Ok((row.raw_json.len() + ROW_OVERHEAD) as u64)
    };
    for page in pages {
        counts.pages += 1;
        for row in &page.rows {
            let (decision, id, updated_date_time, row) = match row.store(tx, &page.now)? {
                Outcome::Stored {
                    decision,
                    id,
                    updated_date_time,
                    row,
                } => (decision, id, updated_date_time, row),
                Outcome::Quarantined(row) => {
                    tracing::warn!(id = ?row.id, error = %row.error, "referral not decodable: quarantined");
                    bytes += keep(&row, &page.now, &mut any_quarantined)?;
                    quarantined.push(row);
                    continue;
                }
            };
            if any_quarantined {
                quarantine::release(tx, id, updated_date_time)?;
            }
            bytes += match (decision, &row) {
                (Decision::Created | Decision::Updated, Some(row)) => {
                    (row.raw_json.len() + ROW_OVERHEAD) as u64
                }
                _ => SEEN_ROW_BYTES,
            };
            match decision {
                Decision::Created => counts.created += 1,
                Decision::Updated => counts.updated += 1,
                Decision::Unchanged | Decision::Stale => counts.unchanged += 1,
            }
            if let (Some(kind), Some(row)) = (decision.change_kind(), row) {
                changed.push((row, kind, &page.now));
            }
        }
        for row in &page.quarantined {
            bytes += keep(row, &page.now, &mut any_quarantined)?;
        }
    }
    let entries: Vec<JournalEntry<'_>> = changed
        .iter()
        .map(|(row, kind, now)| JournalEntry {
            row,
            kind: *kind,
            now,
        })
        .collect();
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
    Ok(if updated == 1 {
        PagesWritten::Applied {
            applied: PagesApplied {
                counts,
                quarantined,
            },
            bytes,
        }
    } else {
        PagesWritten::NoRun
    })
}

fn encode_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<String, MirrorError> {
    serde_json::to_string(checkpoint).map_err(|source| MirrorError::Json {
        path: path.to_path_buf(),
        what: "the checkpoint to store",
        source,
    })
}

/// The state of completed runs and the run in progress, as `connection` sees them.
fn read_state(
    connection: &Connection,
    path: &Path,
) -> Result<(SyncState, Option<RunRecord>), MirrorError> {
    let fail = |e| MirrorError::from_sqlite(path, "read the sync state", e);
    let (watermark, last_full): (Option<String>, Option<String>) = connection
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
    let run: Option<RunRow> = connection
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
    let invalid = |what, value: &str| MirrorError::Invalid {
        path: path.to_path_buf(),
        what,
        value: referrals_query::snippet(value, 40),
    };
    let kind = RunKind::parse(&kind).ok_or_else(|| invalid("sync_run.kind", &kind))?;
    let reason = Reason::parse(&reason).ok_or_else(|| invalid("sync_run.reason", &reason))?;
    let checkpoint: Checkpoint =
        serde_json::from_str(&checkpoint).map_err(|source| MirrorError::Json {
            path: path.to_path_buf(),
            what: "sync_run.checkpoint",
            source,
        })?;
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

//! The storage seam of the sync engine: what a run asks of the mirror. [`Mirror`](crate::Mirror)
//! (SQLite) is the implementation; a test can put a failing one in its place.

use referrals_model::Timestamp;
use referrals_query::Checkpoint;

use crate::MirrorError;
use crate::plan::{Reason, RunKind, SyncState};
use crate::row::MirrorRow;

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
/// transaction, or none of it.
#[derive(Debug, Clone)]
pub struct PageUpdate {
    /// The referrals of the page, in order received.
    pub rows: Vec<MirrorRow>,
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
}

/// What the sync engine needs from its storage. Every method is blocking; the engine calls them
/// off the async reactor.
pub trait Store: Send + 'static {
    /// The state of completed runs, and the run in progress if any.
    fn load(&mut self) -> Result<(SyncState, Option<RunRecord>), MirrorError>;
    /// Starts a run (replacing any run in progress).
    fn begin_run(&mut self, run: &RunRecord) -> Result<(), MirrorError>;
    /// Applies one page and stores the run's position after it, atomically. Returns what the
    /// page did.
    fn apply_page(&mut self, page: &PageUpdate) -> Result<Counts, MirrorError>;
    /// Completes the run in progress: a full run marks what it did not see removed; the
    /// watermark advances. Returns the run's totals.
    fn finish_run(&mut self, now: &Timestamp) -> Result<Counts, MirrorError>;
    /// The newest journal sequence number (0 for an empty journal).
    fn last_seq(&mut self) -> Result<i64, MirrorError>;
}

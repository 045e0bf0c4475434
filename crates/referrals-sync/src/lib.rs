//! A local SQLite mirror of Partner Center referrals that stays current, survives any crash,
//! and costs requests in proportion to what changed.
//!
//! In the stack: a service layer above the `referrals` client (model ← query ← transport/facade
//! ← sync ← receiver ← cli); `referrals-receiver` (webhooks) and the `referrals` CLI build on it.
//!
//! - [`plan`]: the pure decisions: full or incremental listing (`updatedDateTime ge watermark −
//!   overlap`, ordered by `updatedDateTime`), the fallback to a full diff when the server refuses
//!   or ignores the filter, how a received referral changes the mirror ([`plan::decide`]), and
//!   what a full run removes. Time is passed in; no I/O.
//! - [`Mirror`]: the SQLite file (WAL, versioned schema, documented tables in `docs/sync.md`):
//!   applying referrals, the `changes` journal ([`ChangeKind`]), consumer offsets, the steps of
//!   a run, and an extension point for other crates' tables ([`Mirror::migrate_extension`],
//!   [`Mirror::transaction`]).
//! - [`sync`]: one run against a [`referrals::Client`], each page applied with its checkpoint in
//!   one transaction, SQLite kept off the async reactor ([`run_blocking`]).
//! - [`MirrorApi`]: the API (base URL, account) a mirror belongs to, recorded at its first
//!   sync; another API's sync is refused, so that two accounts are never merged.
//! - [`push`]: the journal delivered to an HTTP endpoint, one `POST` per change, in order,
//!   each acknowledged before the next; retried with a stable `Idempotency-Key`, signed with
//!   HMAC-SHA256 when given a secret, following new rows when asked.
//! - [`SyncLock`]: one sync per mirror at a time; a killed holder never blocks the next.
//! - [`batch`]: a batch of referrals created exactly once, through an outbox in the mirror.
//! - [`MirrorError`] / [`SyncError`]: one variant per kind of failure, each keeping its cause.
//!
//! ```no_run
//! use std::sync::{Arc, Mutex};
//! use referrals_sync::{Mirror, SyncLock, SyncOptions, sync};
//!
//! # async fn run(client: referrals::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::path::Path::new("referrals.db");
//! let _lock = SyncLock::acquire(path, referrals_sync::DEFAULT_LOCK_WAIT)?;
//! let mirror = Arc::new(Mutex::new(Mirror::open(path)?));
//! let report = sync(&client, &mirror, &SyncOptions::default()).await?;
//! println!("{} created, {} updated", report.counts.created, report.counts.updated);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod api;
pub mod batch;
mod blocking;
mod change;
mod checkpointer;
mod engine;
mod error;
mod lock;
mod mirror;
pub mod plan;
pub mod push;
mod row;
mod schema;

pub use api::MirrorApi;
pub use blocking::{ThreadError, run_blocking};
pub use change::ChangeKind;
pub use engine::{SharedMirror, SyncProgress, SyncReport, sync, sync_with_progress};
pub use error::{Cause, MirrorError, SyncError};
pub use lock::{DEFAULT_LOCK_WAIT, SyncLock};
pub use mirror::{
    Applied, BUSY_TIMEOUT, ChangeRecord, Counts, Mirror, PageRow, PageUpdate, PagesApplied,
    QuarantineRow, Quarantined, RunRecord,
};
pub use plan::{Decision, Reason, RunKind, SyncOptions};
pub use row::{MirrorRow, ReceivedRow, RowError};
/// The code blocks of `docs/sync.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/sync.md")]
pub struct SyncDocDoctests;
/// The code blocks of `docs/push.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/push.md")]
pub struct PushDocDoctests;

/// The `rusqlite` crate, whose `Connection` and `Transaction` the extension point hands out.
pub use rusqlite;
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};

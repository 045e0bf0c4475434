//! The inbox: verified events kept in the mirror's database before the listener answers 200,
//! deduplicated on (event name, resource, `ResourceChangeUtcDate`), then processed once.
//!
//! Table `webhook_inbox` (documented in `docs/webhooks.md`):
//!
//! | column | meaning |
//! |---|---|
//! | `id` | increasing |
//! | `event_name`, `resource_uri`, `resource_change` | the delivery's identity (unique); `resource_change` is `ResourceChangeUtcDate`, or `sha256:<hex of the body>` when absent |
//! | `referral_id` | the last path segment of `ResourceUri`, when the event names a referral |
//! | `body` | the exact body bytes as signed |
//! | `certificate_url` | where its certificate came from |
//! | `received_at`, `processed_at` | RFC 3339, local clock |
//! | `state` | `pending` → `applied` (fetched and applied to the mirror), `not_found` (the API answered 404; marked removed), `recorded` (not a referral event: kept, not fetched) |
//! | `attempts`, `last_error` | failed processing attempts (the event stays `pending`) |
//! | `change_seq` | the `changes` row the event caused, if any |

use std::time::SystemTime;

use referrals::{Referral, Timestamp};
use rusqlite::{OptionalExtension, Transaction, params};

use referrals_webhooks::Event;
use referrals_webhooks::VerifiedEvent;

/// The inbox's migrations, applied once per database (append-only).
pub const MIGRATIONS: &[&str] = &["CREATE TABLE webhook_inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_name TEXT NOT NULL,
    resource_uri TEXT NOT NULL,
    resource_change TEXT NOT NULL,
    referral_id TEXT,
    body BLOB NOT NULL,
    certificate_url TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'applied', 'not_found', 'recorded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    processed_at TEXT,
    change_seq INTEGER,
    UNIQUE (event_name, resource_uri, resource_change)
);
CREATE INDEX webhook_inbox_pending ON webhook_inbox (id) WHERE state = 'pending';"];

/// The name under which the inbox's migrations are recorded.
pub const EXTENSION_NAME: &str = "webhooks";

/// An error of the database under the inbox.
#[derive(Debug, thiserror::Error)]
#[error("webhook inbox: {0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError(error.to_string())
    }
}

/// The mirror the inbox lives beside: one SQLite file, one write transaction for an event's
/// referral and its inbox row, the same change rules as a sync.
pub trait MirrorDb: Send + 'static {
    /// Applies the extension's migrations not yet applied.
    fn migrate(&mut self, name: &str, migrations: &[&str]) -> Result<(), StoreError>;
    /// Runs `f` in one write transaction, committed when it returns `Ok`.
    fn write<T>(
        &mut self,
        f: &mut dyn FnMut(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError>;
    /// Applies a referral as a sync would, in `tx`; the `changes` row written, if any.
    fn apply_referral_in(
        tx: &Transaction<'_>,
        referral: &Referral,
        now: SystemTime,
    ) -> rusqlite::Result<Option<i64>>;
    /// Marks a referral removed, in `tx`; the `changes` row written, if any.
    fn mark_removed_in(
        tx: &Transaction<'_>,
        id: &str,
        now: SystemTime,
    ) -> rusqlite::Result<Option<i64>>;
}

/// What recording a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Kept for processing (or recorded as not a referral event), with its inbox id.
    New(i64),
    /// The same event was already received; nothing was written.
    Duplicate(i64),
}

/// An inbox row waiting to be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The inbox id.
    pub id: i64,
    /// The event name.
    pub event_name: String,
    /// The referral to fetch; `None` for an event that names none.
    pub referral_id: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// How processing an event ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The referral as fetched, to apply.
    Fetched(Box<Referral>),
    /// The API answered 404 for it.
    NotFound,
}

impl MirrorDb for referrals_sync::Mirror {
    fn migrate(&mut self, name: &str, migrations: &[&str]) -> Result<(), StoreError> {
        self.migrate_extension(name, migrations)
            .map(|_| ())
            .map_err(|error| StoreError(error.to_string()))
    }

    fn write<T>(
        &mut self,
        f: &mut dyn FnMut(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let path = self.path().to_path_buf();
        self.transaction(|tx| {
            f(tx).map_err(|error| referrals_sync::MirrorError::Other {
                path,
                context: "write the webhook inbox",
                detail: error.to_string(),
            })
        })
        .map_err(|error| StoreError(error.to_string()))
    }

    fn apply_referral_in(
        tx: &Transaction<'_>,
        referral: &Referral,
        now: SystemTime,
    ) -> rusqlite::Result<Option<i64>> {
        referrals_sync::Mirror::apply_referral_in(tx, referral, now).map(|applied| applied.seq)
    }

    fn mark_removed_in(
        tx: &Transaction<'_>,
        id: &str,
        now: SystemTime,
    ) -> rusqlite::Result<Option<i64>> {
        referrals_sync::Mirror::mark_removed_in(tx, id, now)
    }
}

/// The inbox over a mirror database.
#[derive(Debug)]
pub struct Inbox<M: MirrorDb> {
    db: M,
}

fn now_text(now: SystemTime) -> String {
    Timestamp::from_system_time(now).as_str().to_owned()
}

/// The delivery's identity: `ResourceChangeUtcDate`, or a digest of the body without it.
fn change_key(event: &Event, body: &[u8]) -> String {
    match &event.resource_change_utc_date {
        Some(date) if !date.trim().is_empty() => date.clone(),
        _ => {
            let digest = ring::digest::digest(&ring::digest::SHA256, body);
            let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
    }
}

impl<M: MirrorDb> Inbox<M> {
    /// Opens the inbox in `db`, creating its table if needed.
    pub fn open(mut db: M) -> Result<Inbox<M>, StoreError> {
        db.migrate(EXTENSION_NAME, MIGRATIONS)?;
        Ok(Inbox { db })
    }

    /// The database.
    pub fn db(&self) -> &M {
        &self.db
    }

    /// Records a verified delivery (durably, before the 200) unless it is a repeat. Events that
    /// name no referral to fetch are recorded as done.
    pub fn record(
        &mut self,
        verified: &VerifiedEvent,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Recorded, StoreError> {
        let event = &verified.event;
        let key = change_key(event, body);
        let referral_id = event
            .kind()
            .fetches_referral()
            .then(|| event.referral_id())
            .flatten();
        let state = if referral_id.is_some() {
            "pending"
        } else {
            "recorded"
        };
        let received = now_text(now);
        self.db.write(&mut |tx| {
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM webhook_inbox
                     WHERE event_name = ?1 AND resource_uri = ?2 AND resource_change = ?3",
                    params![event.event_name, event.resource_uri, key],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(id) = existing {
                return Ok(Recorded::Duplicate(id));
            }
            tx.execute(
                "INSERT INTO webhook_inbox (event_name, resource_uri, resource_change, referral_id,
                    body, certificate_url, received_at, state, processed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CASE WHEN ?8 = 'recorded' THEN ?7 END)",
                params![
                    event.event_name,
                    event.resource_uri,
                    key,
                    referral_id,
                    body,
                    verified.certificate_url.as_str(),
                    received,
                    state
                ],
            )?;
            Ok(Recorded::New(tx.last_insert_rowid()))
        })
    }

    /// Up to `limit` pending events with an id above `after`, oldest first.
    pub fn pending(&mut self, after: i64, limit: u32) -> Result<Vec<Pending>, StoreError> {
        self.db.write(&mut |tx| {
            let mut statement = tx.prepare(
                "SELECT id, event_name, referral_id, attempts FROM webhook_inbox
                 WHERE state = 'pending' AND id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = statement.query_map(params![after, limit], |row| {
                Ok(Pending {
                    id: row.get(0)?,
                    event_name: row.get(1)?,
                    referral_id: row.get(2)?,
                    attempts: row.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Applies the outcome of a pending event to the mirror and marks the event done, in one
    /// transaction: either both happen or neither. An event no longer pending is left alone.
    pub fn complete(
        &mut self,
        pending: &Pending,
        outcome: &Outcome,
        now: SystemTime,
    ) -> Result<Option<i64>, StoreError> {
        let processed = now_text(now);
        self.db.write(&mut |tx| {
            let state: Option<String> = tx
                .query_row(
                    "SELECT state FROM webhook_inbox WHERE id = ?1",
                    [pending.id],
                    |row| row.get(0),
                )
                .optional()?;
            if state.as_deref() != Some("pending") {
                return Ok(None);
            }
            let (seq, state) = match (outcome, &pending.referral_id) {
                (Outcome::Fetched(referral), _) => {
                    (M::apply_referral_in(tx, referral, now)?, "applied")
                }
                (Outcome::NotFound, Some(id)) => (M::mark_removed_in(tx, id, now)?, "not_found"),
                (Outcome::NotFound, None) => (None, "not_found"),
            };
            tx.execute(
                "UPDATE webhook_inbox SET state = ?2, processed_at = ?3, change_seq = ?4,
                    last_error = NULL WHERE id = ?1",
                params![pending.id, state, processed, seq],
            )?;
            Ok(seq)
        })
    }

    /// Records a failed attempt; the event stays pending.
    pub fn failed(&mut self, pending: &Pending, error: &str) -> Result<(), StoreError> {
        self.db.write(&mut |tx| {
            tx.execute(
                "UPDATE webhook_inbox SET attempts = attempts + 1, last_error = ?2
                 WHERE id = ?1 AND state = 'pending'",
                params![pending.id, error],
            )
            .map(|_| ())
        })
    }
}

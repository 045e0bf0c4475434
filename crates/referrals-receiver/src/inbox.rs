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
use referrals_sync::{Mirror, MirrorError, ThreadError};
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

/// What the configured Referrals API answered for an event's referral.
#[derive(Debug, Clone, PartialEq)]
pub enum ReferralLookup {
    /// The referral as fetched, to apply.
    Found(Box<Referral>),
    /// The API answered 404 for it.
    NotFound,
}

/// The inbox could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InboxError {
    /// The mirror's database failed.
    #[error(transparent)]
    Mirror(#[from] MirrorError),
    /// An inbox call on the blocking thread did not return (it panicked or was cancelled).
    #[error(transparent)]
    Thread(#[from] ThreadError),
}

/// The inbox in a mirror's database. Its methods block (SQLite): from async code, call them
/// with [`referrals_sync::run_blocking`].
#[derive(Debug)]
pub struct Inbox {
    mirror: Mirror,
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

impl Inbox {
    /// Opens the inbox in `mirror`'s database, creating its table if needed.
    pub fn open(mut mirror: Mirror) -> Result<Inbox, MirrorError> {
        mirror.migrate_extension(EXTENSION_NAME, MIGRATIONS)?;
        Ok(Inbox { mirror })
    }

    /// The mirror.
    pub fn mirror(&self) -> &Mirror {
        &self.mirror
    }

    /// Runs `f` in one write transaction of the mirror, with a classifier of its SQLite
    /// errors (a full disk, a read-only file, or a failed write of the inbox).
    fn write<T>(
        &mut self,
        f: impl FnOnce(
            &Transaction<'_>,
            &dyn Fn(rusqlite::Error) -> MirrorError,
        ) -> Result<T, MirrorError>,
    ) -> Result<T, MirrorError> {
        let path = self.mirror.path().to_path_buf();
        let fail = move |e| MirrorError::from_sqlite(&path, "write the webhook inbox", e);
        self.mirror.transaction(|tx| f(tx, &fail))
    }

    /// Records a verified delivery (durably, before the 200) unless it is a repeat. Events that
    /// name no referral to fetch are recorded as done.
    pub fn record(
        &mut self,
        verified: &VerifiedEvent,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Recorded, MirrorError> {
        let event = &verified.event;
        let key = change_key(event, body);
        let referral_id = event
            .kind()
            .fetches_referral()
            .then(|| event.referral_id())
            .flatten();
        let state = if referral_id.is_some() {
            State::Pending
        } else {
            State::Recorded
        };
        let received = now_text(now);
        self.write(|tx, fail| {
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM webhook_inbox
                     WHERE event_name = ?1 AND resource_uri = ?2 AND resource_change = ?3",
                    params![event.event_name, event.resource_uri, key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(fail)?;
            if let Some(id) = existing {
                return Ok(Recorded::Duplicate(id));
            }
            tx.execute(
                "INSERT INTO webhook_inbox (event_name, resource_uri, resource_change, referral_id,
                    body, certificate_url, received_at, state, processed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    event.event_name,
                    event.resource_uri,
                    key,
                    referral_id,
                    body,
                    verified.certificate_url.as_str(),
                    received,
                    state.as_str(),
                    (state == State::Recorded).then_some(&received),
                ],
            )
            .map_err(fail)?;
            Ok(Recorded::New(tx.last_insert_rowid()))
        })
    }

    /// Up to `limit` pending events with an id above `after`, oldest first.
    pub fn pending(&self, after: i64, limit: u32) -> Result<Vec<Pending>, MirrorError> {
        // `state = 'pending'` written out, not bound: it is what lets SQLite use the partial
        // index `webhook_inbox_pending`.
        self.mirror.select(
            "read the webhook inbox",
            "SELECT id, event_name, referral_id, attempts FROM webhook_inbox
             WHERE state = 'pending' AND id > ?1 ORDER BY id LIMIT ?2",
            params![after, limit],
            |row| {
                Ok(Pending {
                    id: row.get(0)?,
                    event_name: row.get(1)?,
                    referral_id: row.get(2)?,
                    attempts: row.get(3)?,
                })
            },
        )
    }

    /// Applies what the API answered for a pending event's referral to the mirror and marks
    /// the event done, in one transaction: either both happen or neither. An event no longer
    /// pending is left alone.
    pub fn complete(
        &mut self,
        pending: &Pending,
        lookup: &ReferralLookup,
        now: SystemTime,
    ) -> Result<Option<i64>, MirrorError> {
        let processed = now_text(now);
        self.write(|tx, fail| {
            let state: Option<String> = tx
                .query_row(
                    "SELECT state FROM webhook_inbox WHERE id = ?1",
                    [pending.id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(fail)?;
            if state.as_deref() != Some(State::Pending.as_str()) {
                return Ok(None);
            }
            let (seq, state) = match (lookup, &pending.referral_id) {
                (ReferralLookup::Found(referral), _) => (
                    Mirror::apply_referral_in(tx, referral, now)?.seq,
                    State::Applied,
                ),
                (ReferralLookup::NotFound, Some(id)) => {
                    (Mirror::mark_removed_in(tx, id, now)?, State::NotFound)
                }
                (ReferralLookup::NotFound, None) => (None, State::NotFound),
            };
            tx.execute(
                "UPDATE webhook_inbox SET state = ?2, processed_at = ?3, change_seq = ?4,
                    last_error = NULL WHERE id = ?1",
                params![pending.id, state.as_str(), processed, seq],
            )
            .map_err(fail)?;
            Ok(seq)
        })
    }

    /// Records a failed attempt (`error`, for `last_error`); the event stays pending.
    pub fn failed(&mut self, pending: &Pending, error: &str) -> Result<(), MirrorError> {
        self.write(|tx, fail| {
            tx.execute(
                "UPDATE webhook_inbox SET attempts = attempts + 1, last_error = ?2
                 WHERE id = ?1 AND state = ?3",
                params![pending.id, error, State::Pending.as_str()],
            )
            .map_err(fail)?;
            Ok(())
        })
    }
}

/// The `state` of an inbox row, as stored (the migration's `CHECK` lists the same four).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the worker.
    Pending,
    /// Fetched and applied to the mirror.
    Applied,
    /// The API answered 404 (the referral was marked removed).
    NotFound,
    /// Not a referral event: kept, not fetched.
    Recorded,
}

impl State {
    #[cfg(test)]
    const ALL: [State; 4] = [
        State::Pending,
        State::Applied,
        State::NotFound,
        State::Recorded,
    ];

    fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Applied => "applied",
            State::NotFound => "not_found",
            State::Recorded => "recorded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_allows_exactly_the_states_written() {
        let allowed: Vec<String> = State::ALL
            .iter()
            .map(|state| format!("'{}'", state.as_str()))
            .collect();
        let check = format!("CHECK (state IN ({}))", allowed.join(", "));
        assert!(MIGRATIONS[0].contains(&check), "{check}");
        assert!(MIGRATIONS[0].contains(&format!("WHERE state = '{}'", State::Pending.as_str())));
    }
}

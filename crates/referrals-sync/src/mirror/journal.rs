//! The `changes` journal: writing its rows (one at a time, or a batch in order), reading them,
//! and the named consumers' offsets.

use std::time::SystemTime;

use referrals_model::Timestamp;
use rusqlite::{OptionalExtension, Statement, Transaction, params};
use serde_json::value::RawValue;

use super::Mirror;
use crate::row::MirrorRow;
use crate::{ChangeKind, MirrorError};

/// One row of the `changes` journal, with the referral as stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    /// The journal sequence number (increasing, never reused).
    pub seq: i64,
    /// What the row records.
    pub kind: ChangeKind,
    /// The referral's id.
    pub referral_id: String,
    /// The eTag of the version journaled.
    pub etag: Option<String>,
    /// The `updatedDateTime` of the version journaled.
    pub updated_date_time: Option<String>,
    /// When the change was recorded (local clock).
    pub recorded_at: String,
    /// The referral's JSON as stored now (its latest version), if it is in the mirror.
    pub referral: Option<String>,
}

/// One line of `referrals changes`, the body of one push: the change as a JSON object.
#[derive(serde::Serialize)]
struct ChangeJson<'a> {
    seq: i64,
    kind: &'a str,
    id: &'a str,
    etag: Option<&'a str>,
    #[serde(rename = "updatedDateTime")]
    updated_date_time: Option<&'a str>,
    referral: Option<&'a RawValue>,
}

impl ChangeRecord {
    /// The change as one JSON object, the one encoding of a journal row for the world outside
    /// (`referrals changes` prints it, a push sends it): `seq`, `kind`, `id`, `etag`,
    /// `updatedDateTime`, and `referral`, the stored JSON byte for byte (`null` when the
    /// referral is no longer stored). An error when the stored referral is not JSON.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let mut mirror = referrals_sync::Mirror::open(dir.path().join("m.db"))?;
    /// # let referral = serde_json::from_str(r#"{"id": "r1", "eTag": "\"1\""}"#)?;
    /// # mirror.apply_referral(&referral, std::time::SystemTime::now())?;
    /// let change = &mirror.changes_after(0, 1)?[0];
    /// let json = String::from_utf8(change.to_json()?)?;
    /// assert!(json.starts_with(r#"{"seq":1,"kind":"created","id":"r1","etag":"\"1\"","#), "{json}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let referral = self
            .referral
            .as_deref()
            .map(serde_json::from_str::<&RawValue>)
            .transpose()?;
        serde_json::to_vec(&ChangeJson {
            seq: self.seq,
            kind: self.kind.as_str(),
            id: &self.referral_id,
            etag: self.etag.as_deref(),
            updated_date_time: self.updated_date_time.as_deref(),
            referral,
        })
    }
}

impl Mirror {
    /// Up to `limit` journal rows with `seq > after`, oldest first.
    pub fn changes_after(&self, after: i64, limit: u64) -> Result<Vec<ChangeRecord>, MirrorError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.select(
            "read the journal",
            "SELECT c.seq, c.kind, c.referral_id, c.etag, c.updated_date_time, c.recorded_at,
                    r.raw_json
             FROM changes c LEFT JOIN referrals r ON r.id = c.referral_id
             WHERE c.seq > ?1 ORDER BY c.seq LIMIT ?2",
            params![after, limit],
            |row| {
                Ok(ChangeRecord {
                    seq: row.get(0)?,
                    kind: row.get(1)?,
                    referral_id: row.get(2)?,
                    etag: row.get(3)?,
                    updated_date_time: row.get(4)?,
                    recorded_at: row.get(5)?,
                    referral: row.get(6)?,
                })
            },
        )
    }

    /// The newest journal sequence number (0 for an empty journal).
    pub fn last_seq(&self) -> Result<i64, MirrorError> {
        self.connection
            .query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |row| {
                row.get(0)
            })
            .map_err(|e| MirrorError::from_sqlite(&self.path, "read the journal", e))
    }

    /// The last journal row the consumer `name` acknowledged (0 when it never did).
    pub fn consumer_offset(&self, name: &str) -> Result<i64, MirrorError> {
        self.connection
            .query_row(
                "SELECT acknowledged_seq FROM consumers WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .optional()
            .map(|seq| seq.unwrap_or(0))
            .map_err(|e| MirrorError::from_sqlite(&self.path, "read the consumer offset", e))
    }

    /// Records that the consumer `name` has processed every journal row up to `seq` (which
    /// must exist). An offset never moves back: acknowledging an older row changes nothing.
    /// Returns the offset now stored.
    pub fn acknowledge(
        &mut self,
        name: &str,
        seq: i64,
        now: SystemTime,
    ) -> Result<i64, MirrorError> {
        let path = self.path.clone();
        let now = Timestamp::from_system_time(now);
        self.transaction(|tx| {
            let fail = |e| MirrorError::from_sqlite(&path, "store the consumer offset", e);
            let last: i64 = tx
                .query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |row| {
                    row.get(0)
                })
                .map_err(fail)?;
            if seq < 0 || seq > last {
                return Err(MirrorError::NotInJournal {
                    path: path.clone(),
                    seq,
                    last,
                });
            }
            tx.execute(
                "INSERT INTO consumers (name, acknowledged_seq, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET
                     acknowledged_seq = max(acknowledged_seq, excluded.acknowledged_seq),
                     updated_at = excluded.updated_at",
                params![name, seq, now.as_str()],
            )
            .map_err(fail)?;
            tx.query_row(
                "SELECT acknowledged_seq FROM consumers WHERE name = ?1",
                [name],
                |row| row.get(0),
            )
            .map_err(fail)
        })
    }
}

pub(super) fn journal(
    tx: &Transaction<'_>,
    id: &str,
    kind: ChangeKind,
    etag: Option<&str>,
    updated: Option<&str>,
    now: &Timestamp,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO changes (referral_id, kind, etag, updated_date_time, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, kind, etag, updated, now.as_str()])?;
    Ok(tx.last_insert_rowid())
}

/// A journal row of a batch, written with the others by [`journal_batch`].
pub(super) struct JournalEntry<'a> {
    pub(super) row: &'a MirrorRow,
    pub(super) kind: ChangeKind,
    pub(super) now: &'a Timestamp,
}

/// Journal rows per `INSERT` statement: one statement per chunk pays the bookkeeping of
/// `AUTOINCREMENT` (a read and a write of `sqlite_sequence`) once instead of once per row.
const JOURNAL_CHUNK: usize = 100;

/// The `INSERT` of `n` journal rows, in order (their `seq` values increase in that order).
fn journal_insert_sql(n: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO changes (referral_id, kind, etag, updated_date_time, recorded_at) VALUES ",
    );
    for i in 0..n {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?)");
    }
    sql
}

/// Writes `entries` to the journal in their order.
pub(super) fn journal_batch(
    tx: &Transaction<'_>,
    entries: &[JournalEntry<'_>],
) -> rusqlite::Result<()> {
    for chunk in entries.chunks(JOURNAL_CHUNK) {
        let sql = journal_insert_sql(chunk.len());
        // Full chunks share one cached statement; the last, shorter one is prepared once.
        let (mut cached, mut once);
        let statement: &mut Statement<'_> = if chunk.len() == JOURNAL_CHUNK {
            cached = tx.prepare_cached(&sql)?;
            &mut cached
        } else {
            once = tx.prepare(&sql)?;
            &mut once
        };
        let mut index = 1;
        for entry in chunk {
            statement.raw_bind_parameter(index, &entry.row.id)?;
            statement.raw_bind_parameter(index + 1, entry.kind)?;
            statement.raw_bind_parameter(index + 2, &entry.row.etag)?;
            statement.raw_bind_parameter(index + 3, &entry.row.updated_date_time)?;
            statement.raw_bind_parameter(index + 4, entry.now.as_str())?;
            index += 5;
        }
        statement.raw_execute()?;
    }
    Ok(())
}

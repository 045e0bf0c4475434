//! Referrals in the mirror: applying one as received with the change rules of
//! [`plan::decide`], marking one removed, and reading them back.

use std::time::SystemTime;

use referrals_model::{Referral, Timestamp};
use rusqlite::{OptionalExtension, Transaction, params};

use super::journal::journal;
use super::{Mirror, path_of, write_error};
use crate::plan::{self, Decision, Stored};
use crate::row::MirrorRow;
use crate::{ChangeKind, MirrorError};

/// What applying one referral did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The decision.
    pub decision: Decision,
    /// The journal row written (`created` / `updated`), if any.
    pub seq: Option<i64>,
}

impl Mirror {
    /// Applies one referral as received (e.g. fetched after a webhook event) with the same
    /// rules as a sync: created when new or removed before, updated when its JSON differs,
    /// nothing journaled when it is the stored version; a quarantined (undecodable) version of
    /// it is released. One transaction.
    pub fn apply_referral(
        &mut self,
        referral: &Referral,
        now: SystemTime,
    ) -> Result<Applied, MirrorError> {
        let row = MirrorRow::from_referral(referral).map_err(|source| MirrorError::Row {
            path: self.path.clone(),
            source,
        })?;
        let path = self.path.clone();
        let now = Timestamp::from_system_time(now);
        self.transaction(|tx| apply_row(tx, &row, &now).map_err(|e| write_error(&path, e)))
    }

    /// As [`apply_referral`](Self::apply_referral), inside a transaction of yours (from
    /// [`transaction`](Self::transaction)), so that your own rows change with it atomically.
    pub fn apply_referral_in(
        tx: &Transaction<'_>,
        referral: &Referral,
        now: SystemTime,
    ) -> Result<Applied, MirrorError> {
        let path = path_of(tx);
        let row = MirrorRow::from_referral(referral).map_err(|source| MirrorError::Row {
            path: path.clone(),
            source,
        })?;
        apply_row(tx, &row, &Timestamp::from_system_time(now)).map_err(|e| write_error(&path, e))
    }

    /// Marks a referral removed (e.g. a get answered 404) and journals `removed`. Returns the
    /// journal row, or `None` when it is not in the mirror or already removed.
    pub fn mark_removed(&mut self, id: &str, now: SystemTime) -> Result<Option<i64>, MirrorError> {
        let path = self.path.clone();
        let now = Timestamp::from_system_time(now);
        self.transaction(|tx| remove_row(tx, id, &now).map_err(|e| write_error(&path, e)))
    }

    /// As [`mark_removed`](Self::mark_removed), inside a transaction of yours.
    pub fn mark_removed_in(
        tx: &Transaction<'_>,
        id: &str,
        now: SystemTime,
    ) -> Result<Option<i64>, MirrorError> {
        remove_row(tx, id, &Timestamp::from_system_time(now))
            .map_err(|e| write_error(&path_of(tx), e))
    }

    /// Calls `each` with the JSON of every referral not marked removed (those with `status`
    /// only, when given), in the order first seen; stops at the first error, the mirror's or
    /// `each`'s own (an output that cannot be written...). Returns how many were read.
    pub fn for_each_referral<E: From<MirrorError>>(
        &self,
        status: Option<&str>,
        mut each: impl FnMut(&str) -> Result<(), E>,
    ) -> Result<u64, E> {
        let fail = |e| {
            E::from(MirrorError::from_sqlite(
                &self.path,
                "read the referrals",
                e,
            ))
        };
        let mut statement = self
            .connection
            .prepare(
                "SELECT raw_json FROM referrals
                 WHERE removed_at IS NULL AND (?1 IS NULL OR status = ?1) ORDER BY rowid",
            )
            .map_err(fail)?;
        let mut rows = statement.query([status]).map_err(fail)?;
        let mut count = 0;
        while let Some(row) = rows.next().map_err(fail)? {
            let raw: String = row.get(0).map_err(fail)?;
            each(&raw)?;
            count += 1;
        }
        Ok(count)
    }
}

/// Applies one row with the change rules of [`plan::decide`] and journals the change; a
/// quarantined version of it goes ([`plan::clears_quarantine`]).
fn apply_row(tx: &Transaction<'_>, row: &MirrorRow, now: &Timestamp) -> rusqlite::Result<Applied> {
    let decision = store_row(tx, row, now)?;
    super::quarantine::release(tx, &row.id, row.updated_date_time.as_deref())?;
    let seq = match decision.change_kind() {
        Some(kind) => Some(journal(
            tx,
            &row.id,
            kind,
            row.etag.as_deref(),
            row.updated_date_time.as_deref(),
            now,
        )?),
        None => None,
    };
    Ok(Applied { decision, seq })
}

/// A referral not stored before. A plain `INSERT`, not an upsert: the update trigger of
/// `referrals` would make SQLite keep a statement journal (a copy of every page the statement
/// touches) for each row of a first sync.
const INSERT: &str = "INSERT INTO referrals (id, etag, status, substatus, type, qualification,
         direction, name, customer_name, customer_country, deal_value, currency,
         created_date_time, updated_date_time, raw_json, first_seen_at, removed_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, NULL)";

/// A new version of a stored referral (or one seen again after its removal).
const UPDATE: &str = "UPDATE referrals SET
         etag = ?2, status = ?3, substatus = ?4, type = ?5, qualification = ?6, direction = ?7,
         name = ?8, customer_name = ?9, customer_country = ?10, deal_value = ?11,
         currency = ?12, created_date_time = ?13, updated_date_time = ?14, raw_json = ?15,
         removed_at = NULL
     WHERE id = ?1";

/// The fast path of an unchanged referral: its digest is the stored one (never the case for a
/// removed or hand-edited one: the schema's triggers clear the digest when `raw_json` or
/// `removed_at` changes), so only when it was seen moves. Two index lookups (the id, then
/// the rowid); neither the `referrals` row nor its JSON is read.
const SEEN_UNCHANGED: &str = "UPDATE referral_seen SET last_seen_at = ?2
     WHERE referral_rowid = (SELECT rowid FROM referrals WHERE id = ?1) AND json_sha256 = ?3";

/// Records that the referral stored at `rowid` was received at `now`, and its digest
/// ([`MirrorRow::json_sha256`]: of its JSON as received by a sync, else of the stored JSON).
const SEEN: &str = "INSERT INTO referral_seen (referral_rowid, last_seen_at, json_sha256)
     VALUES (?1, ?2, ?3)
     ON CONFLICT (referral_rowid) DO UPDATE SET
         last_seen_at = excluded.last_seen_at, json_sha256 = excluded.json_sha256";

/// Records that the referral stored at `rowid` was received at `now`, leaving the stored
/// digest as it is (a stale version was received: what is stored did not change).
const SEEN_ONLY: &str = "INSERT INTO referral_seen (referral_rowid, last_seen_at) VALUES (?1, ?2)
     ON CONFLICT (referral_rowid) DO UPDATE SET last_seen_at = excluded.last_seen_at";

/// Inserts the row, or replaces the one stored at `stored` (`removed_at` cleared). Returns the
/// row's rowid.
fn write_row(
    tx: &Transaction<'_>,
    row: &MirrorRow,
    stored: Option<i64>,
    now: &Timestamp,
) -> rusqlite::Result<i64> {
    let columns = params![
        row.id,
        row.etag,
        row.status,
        row.substatus,
        row.referral_type,
        row.qualification,
        row.direction,
        row.name,
        row.customer_name,
        row.customer_country,
        row.deal_value,
        row.currency,
        row.created_date_time,
        row.updated_date_time,
        row.raw_json,
    ];
    match stored {
        Some(rowid) => {
            tx.prepare_cached(UPDATE)?.execute(columns)?;
            Ok(rowid)
        }
        None => {
            let mut insert = tx.prepare_cached(INSERT)?;
            for (index, value) in columns.iter().enumerate() {
                insert.raw_bind_parameter(index + 1, value)?;
            }
            insert.raw_bind_parameter(16, now.as_str())?;
            insert.raw_execute()?;
            Ok(tx.last_insert_rowid())
        }
    }
}

/// Stores one row with the change rules of [`plan::decide`], without journaling it.
pub(super) fn store_row(
    tx: &Transaction<'_>,
    row: &MirrorRow,
    now: &Timestamp,
) -> rusqlite::Result<Decision> {
    if seen_unchanged(tx, &row.id, &row.json_sha256, now)? {
        return Ok(Decision::Unchanged);
    }
    store_changed(tx, row, now)
}

/// True when referral `id` is stored with the digest `digest` (see [`SEEN_UNCHANGED`]): it is
/// then recorded as seen at `now`, and nothing else is to do.
pub(super) fn seen_unchanged(
    tx: &Transaction<'_>,
    id: &str,
    digest: &[u8; 32],
    now: &Timestamp,
) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached(SEEN_UNCHANGED)?
        .execute(params![id, now.as_str(), &digest[..]])?
        == 1)
}

/// [`store_row`] for a row whose digest is not the one stored ([`seen_unchanged`] said no).
pub(super) fn store_changed(
    tx: &Transaction<'_>,
    row: &MirrorRow,
    now: &Timestamp,
) -> rusqlite::Result<Decision> {
    let digest = &row.json_sha256[..];
    let (decision, stored) = {
        let mut select = tx.prepare_cached(
            "SELECT rowid, raw_json, updated_date_time, removed_at IS NOT NULL
             FROM referrals WHERE id = ?1",
        )?;
        let mut found = select.query([&row.id])?;
        match found.next()? {
            // Compared where SQLite holds it: no copy of the stored JSON.
            Some(stored) => (
                plan::decide(
                    Some(Stored {
                        raw_json: stored.get_ref(1)?.as_str()?,
                        updated_date_time: stored.get_ref(2)?.as_str_or_null()?,
                        removed: stored.get(3)?,
                    }),
                    &row.raw_json,
                    row.updated_date_time.as_deref(),
                ),
                Some(stored.get::<_, i64>(0)?),
            ),
            None => (
                plan::decide(None, &row.raw_json, row.updated_date_time.as_deref()),
                None,
            ),
        }
    };
    match (decision, stored) {
        (Decision::Created | Decision::Updated, _) => {
            let rowid = write_row(tx, row, stored, now)?;
            tx.prepare_cached(SEEN)?
                .execute(params![rowid, now.as_str(), digest])?;
        }
        // The same JSON under another digest: none stored yet (a row from before version 2),
        // or one of the stored JSON (a row `apply_referral` wrote) where the received bytes'
        // digest now goes, so that the next run finds it by digest.
        (Decision::Unchanged, Some(rowid)) => {
            tx.prepare_cached(SEEN)?
                .execute(params![rowid, now.as_str(), digest])?;
        }
        (Decision::Stale, Some(rowid)) => {
            tx.prepare_cached(SEEN_ONLY)?
                .execute(params![rowid, now.as_str()])?;
        }
        // `decide` is neither for a referral not stored.
        (Decision::Unchanged | Decision::Stale, None) => {}
    }
    Ok(decision)
}

pub(super) fn remove_row(
    tx: &Transaction<'_>,
    id: &str,
    now: &Timestamp,
) -> rusqlite::Result<Option<i64>> {
    let stored: Option<(Option<String>, Option<String>)> = tx
        .prepare_cached(
            "SELECT etag, updated_date_time FROM referrals WHERE id = ?1 AND removed_at IS NULL",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((etag, updated)) = stored else {
        return Ok(None);
    };
    tx.prepare_cached("UPDATE referrals SET removed_at = ?2 WHERE id = ?1")?
        .execute(params![id, now.as_str()])?;
    // (The trigger `referral_seen_changed` clears its digest: the same JSON received again
    // creates it anew.)
    journal(
        tx,
        id,
        ChangeKind::Removed,
        etag.as_deref(),
        updated.as_deref(),
        now,
    )
    .map(Some)
}

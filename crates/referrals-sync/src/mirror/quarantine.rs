//! Referrals received but not decodable, kept as received in the `quarantine` table until a
//! version that decodes replaces them (`docs/sync.md`, "quarantine").

use referrals_model::Timestamp;
use referrals_query::UndecodableItem;
use rusqlite::{OptionalExtension, Transaction, params};

use super::Mirror;
use crate::MirrorError;
use crate::plan;

/// A received item that is not a referral (a field of another type than the API documents),
/// as a page brings it to the mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    /// Its `id`, when it has a string one.
    pub id: Option<String>,
    /// Its `updatedDateTime`, when it has a string one.
    pub updated_date_time: Option<String>,
    /// The page of the run's listing it came in (1 = the listing's first page).
    pub page: u64,
    /// Its 0-based position in that page.
    pub index: u64,
    /// Its JSON, byte for byte as received.
    pub raw_json: String,
    /// Why it does not decode, with its path in the page (the decoder's message).
    pub error: String,
}

impl QuarantineRow {
    /// The row of `item`, which came in page `page` of the run's listing (the pager numbers
    /// pages from where it started or resumed; a run numbers them from its listing's start).
    pub fn from_item(item: &UndecodableItem, page: u64) -> QuarantineRow {
        #[derive(serde::Deserialize)]
        struct Updated {
            #[serde(rename = "updatedDateTime")]
            updated: Option<serde_json::Value>,
        }
        let updated_date_time =
            serde_json::from_str::<Updated>(&item.raw)
                .ok()
                .and_then(|fields| match fields.updated {
                    Some(serde_json::Value::String(text)) => Some(text),
                    _ => None,
                });
        QuarantineRow {
            id: item.id.clone(),
            updated_date_time,
            page,
            index: item.index as u64,
            raw_json: item.raw.clone(),
            error: item.problem(),
        }
    }
}

/// A row of the `quarantine` table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quarantined {
    /// The item as last received.
    pub row: QuarantineRow,
    /// When this mirror first received an undecodable version of it (local clock).
    pub first_seen_at: String,
    /// When it last did.
    pub last_seen_at: String,
}

impl Mirror {
    /// The referrals received but not decodable, as last received, in the order first seen.
    pub fn quarantined(&self) -> Result<Vec<Quarantined>, MirrorError> {
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        self.select(
            "read the quarantine",
            "SELECT id, updated_date_time, page, item_index, raw_json, error, first_seen_at,
                    last_seen_at
             FROM quarantine ORDER BY rowid",
            [],
            |row| {
                Ok(Quarantined {
                    row: QuarantineRow {
                        id: row.get(0)?,
                        updated_date_time: row.get(1)?,
                        page: count(row.get(2)?),
                        index: count(row.get(3)?),
                        raw_json: row.get(4)?,
                        error: row.get(5)?,
                    },
                    first_seen_at: row.get(6)?,
                    last_seen_at: row.get(7)?,
                })
            },
        )
    }
}

/// True when the `quarantine` table has a row (a page's decoded referrals then check it).
pub(super) fn any(tx: &Transaction<'_>) -> rusqlite::Result<bool> {
    tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM quarantine)")?
        .query_row([], |row| row.get(0))
}

/// Keeps `row` as received at `now`: a row of the same id (or, without an id, of the same
/// JSON) is replaced, keeping when it was first seen. A stored (decodable, older) version of
/// the referral stays as it is, and counts as seen, so that a full run does not take it for
/// removed.
pub(super) fn keep(
    tx: &Transaction<'_>,
    row: &QuarantineRow,
    now: &Timestamp,
) -> rusqlite::Result<()> {
    let columns = params![
        row.id,
        row.updated_date_time,
        row.page as i64,
        row.index as i64,
        row.raw_json,
        row.error,
        now.as_str(),
    ];
    let replaced = match &row.id {
        Some(_) => tx
            .prepare_cached(
                "UPDATE quarantine SET updated_date_time = ?2, page = ?3, item_index = ?4,
                     raw_json = ?5, error = ?6, last_seen_at = ?7
                 WHERE id = ?1",
            )?
            .execute(columns)?,
        None => tx
            .prepare_cached(
                "UPDATE quarantine SET updated_date_time = ?2, page = ?3, item_index = ?4,
                     error = ?6, last_seen_at = ?7
                 WHERE ?1 IS NULL AND id IS NULL AND raw_json = ?5",
            )?
            .execute(columns)?,
    };
    if replaced == 0 {
        tx.prepare_cached(
            "INSERT INTO quarantine (id, updated_date_time, page, item_index, raw_json, error,
                 first_seen_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )?
        .execute(columns)?;
    }
    if let Some(id) = &row.id {
        tx.prepare_cached(
            "UPDATE referral_seen SET last_seen_at = ?2
             WHERE referral_rowid = (SELECT rowid FROM referrals WHERE id = ?1)",
        )?
        .execute(params![id, now.as_str()])?;
    }
    Ok(())
}

/// A decodable version of referral `id` (updated at `updated`) was applied: its quarantined
/// version goes, unless that one is newer ([`plan::clears_quarantine`]).
pub(super) fn release(
    tx: &Transaction<'_>,
    id: &str,
    updated: Option<&str>,
) -> rusqlite::Result<()> {
    let quarantined: Option<Option<String>> = tx
        .prepare_cached("SELECT updated_date_time FROM quarantine WHERE id = ?1")?
        .query_row([id], |row| row.get(0))
        .optional()?;
    if let Some(quarantined) = quarantined {
        if plan::clears_quarantine(quarantined.as_deref(), updated) {
            tx.prepare_cached("DELETE FROM quarantine WHERE id = ?1")?
                .execute([id])?;
        }
    }
    Ok(())
}

/// At the end of a full run that started at `started_at`: the rows it did not receive again
/// go (the referral no longer exists, or came back decodable: then it went already).
pub(super) fn forget_unseen(tx: &Transaction<'_>, started_at: &Timestamp) -> rusqlite::Result<()> {
    let mut unseen = Vec::new();
    {
        let mut statement = tx.prepare("SELECT rowid, last_seen_at FROM quarantine")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            if plan::removed_by_full_run(row.get_ref(1)?.as_str()?, started_at) {
                unseen.push(row.get::<_, i64>(0)?);
            }
        }
    }
    let mut delete = tx.prepare("DELETE FROM quarantine WHERE rowid = ?1")?;
    for rowid in unseen {
        delete.execute([rowid])?;
    }
    Ok(())
}

/// The `updatedDateTime`s of the quarantined rows (`None` for one without a readable one),
/// for [`plan::held_watermark`].
pub(super) fn held(tx: &Transaction<'_>) -> rusqlite::Result<Vec<Option<String>>> {
    let mut statement = tx.prepare("SELECT updated_date_time FROM quarantine")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    rows.collect()
}

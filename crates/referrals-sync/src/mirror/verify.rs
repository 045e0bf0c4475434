//! Checking the journal against the mirror.

use super::Mirror;
use crate::{ChangeKind, MirrorError};

impl Mirror {
    /// Checks the journal against the mirror: no referral has two consecutive rows for the
    /// same version (same eTag and `updatedDateTime`, neither a removal) or two removals in a
    /// row, and each referral's last row agrees with the mirror (removed, or present with that
    /// eTag). Returns the problems found (none for a mirror only this crate wrote).
    pub fn verify_journal(&self) -> Result<Vec<String>, MirrorError> {
        let rows: Vec<JournalRow> = self.select(
            "verify the journal",
            "SELECT c.seq, c.referral_id, c.kind, c.etag, c.updated_date_time,
                    r.id IS NOT NULL, r.etag, r.removed_at IS NOT NULL
             FROM changes c LEFT JOIN referrals r ON r.id = c.referral_id
             ORDER BY c.referral_id, c.seq",
            [],
            |r| {
                Ok(JournalRow {
                    seq: r.get(0)?,
                    id: r.get(1)?,
                    kind: r.get(2)?,
                    etag: r.get(3)?,
                    updated: r.get(4)?,
                    present: r.get(5)?,
                    stored_etag: r.get(6)?,
                    removed: r.get::<_, Option<bool>>(7)?.unwrap_or(false),
                })
            },
        )?;
        let mut problems = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let JournalRow { seq, id, kind, .. } = row;
            let previous = index
                .checked_sub(1)
                .and_then(|i| rows.get(i))
                .filter(|previous| &previous.id == id);
            if let Some(previous) = previous {
                let same_version = previous.etag == row.etag && previous.updated == row.updated;
                if same_version && !previous.is_removal() && !row.is_removal() {
                    problems.push(format!(
                        "journal row {seq}: {id} {kind} repeats the version of row {}",
                        previous.seq
                    ));
                }
                if previous.is_removal() && row.is_removal() {
                    problems.push(format!("journal row {seq}: {id} removed twice in a row"));
                }
            }
            let last = rows.get(index + 1).is_none_or(|next| &next.id != id);
            if last {
                if !row.present {
                    problems.push(format!("{id}: journaled but not in the mirror"));
                } else if row.is_removal() && !row.removed {
                    problems.push(format!("{id}: removed in the journal, not in the mirror"));
                } else if !row.is_removal() && row.removed {
                    problems.push(format!("{id}: removed in the mirror, not in the journal"));
                } else if !row.is_removal() && row.etag != row.stored_etag {
                    problems.push(format!(
                        "{id}: the last journal row (seq {seq}) has {}, the mirror {}",
                        shown_etag(row.etag.as_deref()),
                        shown_etag(row.stored_etag.as_deref())
                    ));
                }
            }
        }
        let unjournaled: i64 = self
            .connection
            .query_row(
                "SELECT count(*) FROM referrals r
                 WHERE NOT EXISTS (SELECT 1 FROM changes c WHERE c.referral_id = r.id)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| MirrorError::from_sqlite(&self.path, "verify the journal", e))?;
        if unjournaled > 0 {
            problems.push(format!(
                "{unjournaled} referrals of the mirror have no journal row"
            ));
        }
        Ok(problems)
    }
}

/// An eTag as a problem names it: the text, or that there is none.
fn shown_etag(etag: Option<&str>) -> String {
    etag.map_or_else(|| "no eTag".to_owned(), |etag| format!("eTag `{etag}`"))
}

/// A journal row with what the mirror holds for its referral now.
struct JournalRow {
    seq: i64,
    id: String,
    kind: ChangeKind,
    etag: Option<String>,
    updated: Option<String>,
    /// The referral has a row in `referrals`.
    present: bool,
    stored_etag: Option<String>,
    /// That row is marked removed.
    removed: bool,
}

impl JournalRow {
    fn is_removal(&self) -> bool {
        self.kind == ChangeKind::Removed
    }
}

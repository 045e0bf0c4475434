//! Checking the journal against the mirror.

use super::Mirror;
use crate::MirrorError;

impl Mirror {
    /// Checks the journal against the mirror: no referral has two consecutive rows for the
    /// same version (same eTag and `updatedDateTime`, neither a removal) or two removals in a
    /// row, and each referral's last row agrees with the mirror (removed, or present with that
    /// eTag). Returns the problems found (none for a mirror only this crate wrote).
    pub fn verify_journal(&self) -> Result<Vec<String>, MirrorError> {
        let fail = |e| MirrorError::sqlite(&self.path, "verify the journal", e);
        let mut statement = self
            .connection
            .prepare(
                "SELECT c.seq, c.referral_id, c.kind, c.etag, c.updated_date_time,
                        r.id IS NOT NULL, r.etag, r.removed_at IS NOT NULL
                 FROM changes c LEFT JOIN referrals r ON r.id = c.referral_id
                 ORDER BY c.referral_id, c.seq",
            )
            .map_err(fail)?;
        type Row = (
            i64,
            String,
            String,
            Option<String>,
            Option<String>,
            bool,
            Option<String>,
            bool,
        );
        let rows: Vec<Row> = statement
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get::<_, Option<bool>>(7)?.unwrap_or(false),
                ))
            })
            .map_err(fail)?
            .collect::<Result<_, _>>()
            .map_err(fail)?;
        let mut problems = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let (seq, id, kind, etag, updated, present, stored_etag, removed) = row;
            let previous = index
                .checked_sub(1)
                .and_then(|i| rows.get(i))
                .filter(|previous| &previous.1 == id);
            if let Some(previous) = previous {
                let same_version = &previous.3 == etag && &previous.4 == updated;
                let removal = previous.2 == "removed" || kind == "removed";
                if same_version && !removal {
                    problems.push(format!(
                        "journal row {seq}: {id} {kind} repeats the version of row {}",
                        previous.0
                    ));
                }
                if previous.2 == "removed" && kind == "removed" {
                    problems.push(format!("journal row {seq}: {id} removed twice in a row"));
                }
            }
            let last = rows.get(index + 1).is_none_or(|next| &next.1 != id);
            if last {
                if !present {
                    problems.push(format!("{id}: journaled but not in the mirror"));
                } else if kind == "removed" && !removed {
                    problems.push(format!("{id}: removed in the journal, not in the mirror"));
                } else if kind != "removed" && *removed {
                    problems.push(format!("{id}: removed in the mirror, not in the journal"));
                } else if kind != "removed" && etag != stored_etag {
                    problems.push(format!(
                        "{id}: the last journal row (seq {seq}) has eTag {etag:?}, the mirror {stored_etag:?}"
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
            .map_err(fail)?;
        if unjournaled > 0 {
            problems.push(format!(
                "{unjournaled} referrals of the mirror have no journal row"
            ));
        }
        Ok(problems)
    }
}

//! The outbox in the mirror (`create_intents`): what a batch meant to create, recorded before
//! each request and resolved after it, and the lookup of referrals by `externalReferenceId`.

use std::collections::HashMap;
use std::time::SystemTime;

use referrals_model::{Referral, Timestamp};
use rusqlite::params;

use crate::{Mirror, MirrorError};

/// Where an `externalReferenceId` stands in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Intent {
    /// Recorded before a request whose answer never came back (or not yet): it may have
    /// created the referral.
    Pending {
        /// When the request was about to be sent.
        intended_at: SystemTime,
    },
    /// Created: the referral's id.
    Created(String),
    /// Refused by the API: nothing was created.
    Refused,
}

/// A JSON array of `ids`, for SQLite's `json_each`: any number of keys in one statement.
fn json_array(ids: &[&str]) -> String {
    serde_json::Value::from(ids.to_vec()).to_string()
}

fn now_text(now: SystemTime) -> String {
    Timestamp::from_system_time(now).as_str().to_owned()
}

impl Mirror {
    /// The outbox rows of `ids`.
    pub(crate) fn create_intents(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Intent>, MirrorError> {
        let rows = self.select(
            "read the batch's intents",
            "SELECT external_reference_id, state, referral_id, intended_at FROM create_intents
             WHERE external_reference_id IN (SELECT value FROM json_each(?1))",
            [json_array(ids)],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                ))
            },
        )?;
        let mut intents = HashMap::new();
        for (key, state, id, intended_at) in rows {
            let intent = match (state.as_str(), id) {
                ("created", Some(id)) => Intent::Created(id),
                ("refused", _) => Intent::Refused,
                // A time that cannot be read (a row written by hand) is taken as the earliest:
                // any sync started after it, which is what makes sending safe, still must have
                // completed, and that is checked separately.
                _ => Intent::Pending {
                    intended_at: Timestamp::new(intended_at)
                        .to_system_time()
                        .unwrap_or(SystemTime::UNIX_EPOCH),
                },
            };
            intents.insert(key, intent);
        }
        Ok(intents)
    }

    /// The referrals of the mirror (not removed) whose `externalReferenceId` is one of `ids`:
    /// `externalReferenceId` → referral id (the earliest created, when several share one).
    pub(crate) fn referrals_by_external_id(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, String>, MirrorError> {
        let rows = self.select(
            "look referrals up by externalReferenceId",
            "SELECT json_extract(raw_json, '$.externalReferenceId') AS external, id
             FROM referrals
             WHERE removed_at IS NULL
               AND json_extract(raw_json, '$.externalReferenceId')
                   IN (SELECT value FROM json_each(?1))
             ORDER BY created_date_time DESC, id DESC",
            [json_array(ids)],
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
        )?;
        // Later rows (earlier creations) overwrite: the earliest wins.
        Ok(rows.into_iter().collect())
    }

    /// Records that `external` is about to be sent, in its own transaction, before the request.
    /// Returns false, writing nothing, when the outbox says it was created already.
    pub(crate) fn record_intent(
        &mut self,
        external: &str,
        now: SystemTime,
    ) -> Result<bool, MirrorError> {
        let path = self.path().to_path_buf();
        self.transaction(|tx| {
            let changed = tx
                .execute(
                    "INSERT INTO create_intents (external_reference_id, state, intended_at)
                     VALUES (?1, 'intent', ?2)
                     ON CONFLICT (external_reference_id) DO UPDATE
                         SET state = 'intent', referral_id = NULL, error = NULL,
                             intended_at = excluded.intended_at, resolved_at = NULL
                         WHERE create_intents.state <> 'created'",
                    params![external, now_text(now)],
                )
                .map_err(|e| MirrorError::from_sqlite(&path, "record an intent", e))?;
            Ok(changed == 1)
        })
    }

    /// Records that `external` was created as `referral` (as the API answered it, applied to
    /// the mirror in the same transaction), or found in the mirror when `referral` is `None`
    /// and `id` is given.
    pub(crate) fn record_created(
        &mut self,
        external: &str,
        id: &str,
        referral: Option<&Referral>,
        now: SystemTime,
    ) -> Result<(), MirrorError> {
        let path = self.path().to_path_buf();
        self.transaction(|tx| {
            if let Some(referral) = referral {
                Mirror::apply_referral_in(tx, referral, now)?;
            }
            tx.execute(
                "INSERT INTO create_intents
                     (external_reference_id, state, referral_id, intended_at, resolved_at)
                 VALUES (?1, 'created', ?2, ?3, ?3)
                 ON CONFLICT (external_reference_id) DO UPDATE
                     SET state = 'created', referral_id = excluded.referral_id, error = NULL,
                         resolved_at = excluded.resolved_at",
                params![external, id, now_text(now)],
            )
            .map_err(|e| MirrorError::from_sqlite(&path, "record a creation", e))?;
            Ok(())
        })
    }

    /// Records that the API refused to create `external`, and why.
    pub(crate) fn record_refused(
        &mut self,
        external: &str,
        error: &str,
        now: SystemTime,
    ) -> Result<(), MirrorError> {
        let path = self.path().to_path_buf();
        self.transaction(|tx| {
            tx.execute(
                "UPDATE create_intents SET state = 'refused', error = ?2, resolved_at = ?3
                 WHERE external_reference_id = ?1 AND state = 'intent'",
                params![external, error, now_text(now)],
            )
            .map_err(|e| MirrorError::from_sqlite(&path, "record a refusal", e))?;
            Ok(())
        })
    }

    /// The outbox row of `external`: state, referral id and error (for tests and tools).
    #[cfg(test)]
    pub(crate) fn intent_row(
        &self,
        external: &str,
    ) -> Result<Option<(String, Option<String>, Option<String>)>, MirrorError> {
        use rusqlite::OptionalExtension;
        self.connection()
            .query_row(
                "SELECT state, referral_id, error FROM create_intents
                 WHERE external_reference_id = ?1",
                [external],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .optional()
            .map_err(|e| MirrorError::from_sqlite(self.path(), "read an intent", e))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_intent_is_resolved_once_and_a_creation_is_never_recorded_as_pending_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut mirror = Mirror::open(dir.path().join("m.db")).unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert!(mirror.record_intent("a", t0).unwrap());
        assert!(mirror.record_intent("b", t0).unwrap());
        mirror.record_refused("b", "HTTP 400: no", t0).unwrap();
        let intents = mirror.create_intents(&["a", "b", "c"]).unwrap();
        assert_eq!(intents["a"], Intent::Pending { intended_at: t0 });
        assert_eq!(intents["b"], Intent::Refused);
        assert!(!intents.contains_key("c"));

        mirror.record_created("a", "r1", None, t0).unwrap();
        assert!(
            !mirror.record_intent("a", t0).unwrap(),
            "created stays created"
        );
        mirror.record_refused("a", "late", t0).unwrap();
        assert_eq!(
            mirror.intent_row("a").unwrap(),
            Some(("created".into(), Some("r1".into()), None))
        );
        // A refused one may be sent again (a corrected line).
        assert!(mirror.record_intent("b", t0).unwrap());
        assert_eq!(
            mirror.intent_row("b").unwrap(),
            Some(("intent".into(), None, None))
        );
    }

    #[test]
    fn referrals_are_found_by_their_external_id_unless_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut mirror = Mirror::open(dir.path().join("m.db")).unwrap();
        let now = SystemTime::now();
        for (id, external, created) in [
            ("r2", "x", "2024-02-01T00:00:00Z"),
            ("r1", "x", "2024-01-01T00:00:00Z"),
            ("r3", "y", "2024-01-01T00:00:00Z"),
            ("r4", "z", "2024-01-01T00:00:00Z"),
        ] {
            let referral: Referral = serde_json::from_value(serde_json::json!({
                "id": id, "externalReferenceId": external, "createdDateTime": created
            }))
            .unwrap();
            mirror.apply_referral(&referral, now).unwrap();
        }
        mirror.mark_removed("r3", now).unwrap();
        let found = mirror
            .referrals_by_external_id(&["x", "y", "z", "w"])
            .unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found["x"], "r1", "the earliest created");
        assert_eq!(found["z"], "r4");
    }
}

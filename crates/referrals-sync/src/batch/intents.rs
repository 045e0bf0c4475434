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

/// An outbox row as stored: state, referral id, error.
#[cfg(test)]
pub(crate) type IntentRow = (String, Option<String>, Option<String>);

/// What became of an intent, to record.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    /// Created as `id`; `referral` as the API answered it, when it did.
    Created {
        external: String,
        id: String,
        referral: Option<Box<Referral>>,
    },
    /// Refused by the API, for `error`.
    Refused { external: String, error: String },
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

    /// Records that each of `externals` is about to be sent, in one transaction committed
    /// before any of their requests. Returns, for each, false (writing nothing) when the
    /// outbox says it was created already.
    pub(crate) fn record_intents(
        &mut self,
        externals: &[String],
        now: SystemTime,
    ) -> Result<Vec<bool>, MirrorError> {
        let path = self.path().to_path_buf();
        let now = now_text(now);
        self.transaction(|tx| {
            let fail = |e| MirrorError::from_sqlite(&path, "record an intent", e);
            let mut statement = tx
                .prepare_cached(
                    "INSERT INTO create_intents (external_reference_id, state, intended_at)
                     VALUES (?1, 'intent', ?2)
                     ON CONFLICT (external_reference_id) DO UPDATE
                         SET state = 'intent', referral_id = NULL, error = NULL,
                             intended_at = excluded.intended_at, resolved_at = NULL
                         WHERE create_intents.state <> 'created'",
                )
                .map_err(fail)?;
            externals
                .iter()
                .map(|external| Ok(statement.execute(params![external, now]).map_err(fail)? == 1))
                .collect()
        })
    }

    /// Records what the API answered (or the mirror showed) for several intents, in one
    /// transaction: each creation with its id (and the created referral, when the answer
    /// carried it, applied to the mirror and journaled), each refusal with its reason.
    pub(crate) fn record_answers(
        &mut self,
        answers: &[Answer],
        now: SystemTime,
    ) -> Result<(), MirrorError> {
        let path = self.path().to_path_buf();
        let at = now_text(now);
        self.transaction(|tx| {
            let fail = |e| MirrorError::from_sqlite(&path, "record an answer", e);
            for answer in answers {
                match answer {
                    Answer::Created {
                        external,
                        id,
                        referral,
                    } => {
                        if let Some(referral) = referral {
                            Mirror::apply_referral_in(tx, referral, now)?;
                        }
                        tx.prepare_cached(
                            "INSERT INTO create_intents
                                 (external_reference_id, state, referral_id, intended_at,
                                  resolved_at)
                             VALUES (?1, 'created', ?2, ?3, ?3)
                             ON CONFLICT (external_reference_id) DO UPDATE
                                 SET state = 'created', referral_id = excluded.referral_id,
                                     error = NULL, resolved_at = excluded.resolved_at",
                        )
                        .and_then(|mut s| s.execute(params![external, id, at]))
                        .map_err(fail)?;
                    }
                    Answer::Refused { external, error } => {
                        tx.prepare_cached(
                            "UPDATE create_intents
                             SET state = 'refused', error = ?2, resolved_at = ?3
                             WHERE external_reference_id = ?1 AND state = 'intent'",
                        )
                        .and_then(|mut s| s.execute(params![external, error, at]))
                        .map_err(fail)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// The outbox row of `external`: state, referral id and error (for tests).
    #[cfg(test)]
    pub(crate) fn intent_row(&self, external: &str) -> Result<Option<IntentRow>, MirrorError> {
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
        let keys = |k: &[&str]| k.iter().map(|k| k.to_string()).collect::<Vec<_>>();
        let created = |k: &str, id: &str| Answer::Created {
            external: k.into(),
            id: id.into(),
            referral: None,
        };
        let refused = |k: &str, e: &str| Answer::Refused {
            external: k.into(),
            error: e.into(),
        };
        assert_eq!(
            mirror.record_intents(&keys(&["a", "b"]), t0).unwrap(),
            [true, true]
        );
        mirror
            .record_answers(&[refused("b", "HTTP 400: no")], t0)
            .unwrap();
        let intents = mirror.create_intents(&["a", "b", "c"]).unwrap();
        assert_eq!(intents["a"], Intent::Pending { intended_at: t0 });
        assert_eq!(intents["b"], Intent::Refused);
        assert!(!intents.contains_key("c"));

        mirror.record_answers(&[created("a", "r1")], t0).unwrap();
        assert_eq!(
            mirror.record_intents(&keys(&["a"]), t0).unwrap(),
            [false],
            "created stays created"
        );
        mirror.record_answers(&[refused("a", "late")], t0).unwrap();
        assert_eq!(
            mirror.intent_row("a").unwrap(),
            Some(("created".into(), Some("r1".into()), None))
        );
        // A refused one may be sent again (a corrected line).
        assert_eq!(mirror.record_intents(&keys(&["b"]), t0).unwrap(), [true]);
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

//! Which API the mirror belongs to (`mirror_api`, one row once recorded): recorded by the
//! first writer that says, checked by every later one.

use std::time::SystemTime;

use referrals_model::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::{Mirror, write_error};
use crate::{MirrorApi, MirrorError};

impl Mirror {
    /// The API this mirror belongs to; `None` before its first sync (and for a mirror made
    /// before schema version 3, until its next sync).
    pub fn api(&self) -> Result<Option<MirrorApi>, MirrorError> {
        self.connection
            .query_row(
                "SELECT base_url, account FROM mirror_api WHERE singleton = 1",
                [],
                |row| Ok(MirrorApi::stored(row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| MirrorError::from_sqlite(&self.path, "read the mirror's API", e))
    }

    /// Makes sure the mirror belongs to `api` before anything of that API is written to it: a
    /// mirror that has no API yet (a new one, or one made before schema version 3) records
    /// it; one that has the same ([`MirrorApi::matches`]) goes on, and learns the account if
    /// it did not know it; one of another API is refused with [`MirrorError::OtherApi`], and
    /// nothing is written. One transaction.
    pub fn claim_api(&mut self, api: &MirrorApi, now: SystemTime) -> Result<(), MirrorError> {
        let path = self.path.clone();
        let tx = self.write_transaction()?;
        let stored: Option<MirrorApi> = tx
            .query_row(
                "SELECT base_url, account FROM mirror_api WHERE singleton = 1",
                [],
                |row| Ok(MirrorApi::stored(row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|e| write_error(&path, e))?;
        match stored {
            None => {
                tx.execute(
                    "INSERT INTO mirror_api (singleton, base_url, account, recorded_at)
                     VALUES (1, ?1, ?2, ?3)",
                    params![
                        api.base_url(),
                        api.account(),
                        Timestamp::from_system_time(now).as_str()
                    ],
                )
                .map_err(|e| write_error(&path, e))?;
                tracing::info!(api = %api, "the mirror belongs to this API from now on");
            }
            Some(stored) if stored.matches(api) => {
                if let (None, Some(account)) = (stored.account(), api.account()) {
                    tx.execute(
                        "UPDATE mirror_api SET account = ?1 WHERE singleton = 1",
                        [account],
                    )
                    .map_err(|e| write_error(&path, e))?;
                }
            }
            Some(stored) => {
                return Err(MirrorError::OtherApi {
                    path,
                    mirror: stored,
                    requested: api.clone(),
                });
            }
        }
        tx.commit().map_err(|e| write_error(&path, e))
    }
}

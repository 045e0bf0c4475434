//! The mirror's identity (`mirror_identity`, one row made by the schema's migration 4): a
//! random UUID that tells this mirror file from every other.

use rusqlite::OptionalExtension;

use super::Mirror;
use crate::MirrorError;

impl Mirror {
    /// The mirror's identity: a random UUID made once, when the file was created or upgraded to
    /// the schema version that has it. A copy of the file has the same identity.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let a = referrals_sync::Mirror::open(dir.path().join("a.db"))?;
    /// let b = referrals_sync::Mirror::open(dir.path().join("b.db"))?;
    /// assert_eq!(a.identity()?.len(), 36);
    /// assert_ne!(a.identity()?, b.identity()?);
    /// assert_eq!(a.identity()?, a.identity()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn identity(&self) -> Result<String, MirrorError> {
        let id: Option<String> = self
            .connection
            .query_row(
                "SELECT id FROM mirror_identity WHERE singleton = 1",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| MirrorError::from_sqlite(&self.path, "read the mirror's identity", e))?;
        match id {
            Some(id) if !id.trim().is_empty() => Ok(id),
            other => Err(MirrorError::Invalid {
                path: self.path.clone(),
                what: "mirror_identity.id",
                value: other.map_or_else(|| "no row".to_owned(), |id| format!("`{id}`")),
            }),
        }
    }

    /// SQLite's `PRAGMA data_version` of this connection: it changes when another connection
    /// (another process's sync or listener) commits to the file, so a reader can wait for new
    /// journal rows by reading it instead of the journal.
    pub fn data_version(&self) -> Result<i64, MirrorError> {
        self.connection
            .pragma_query_value(None, "data_version", |row| row.get(0))
            .map_err(|e| MirrorError::from_sqlite(&self.path, "read the data version", e))
    }
}

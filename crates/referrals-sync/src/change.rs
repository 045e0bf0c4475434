//! What a row of the `changes` journal records. The stored text (`changes.kind`) is part of
//! the mirror's documented schema (`docs/sync.md`); this enum is the one place it is written
//! and read.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

/// The kind of a journal row.
///
/// ```
/// use referrals_sync::ChangeKind;
///
/// assert_eq!(ChangeKind::Removed.as_str(), "removed");
/// assert_eq!(ChangeKind::parse("created"), Some(ChangeKind::Created));
/// assert_eq!(ChangeKind::parse("deleted"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// First seen, or seen again after its removal.
    Created,
    /// Its JSON differs from the stored one.
    Updated,
    /// No longer in the account (a full run did not see it, or the API answered 404).
    Removed,
}

impl ChangeKind {
    /// Every kind, in the order of the schema's `CHECK`.
    pub const ALL: [ChangeKind; 3] = [
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Removed,
    ];

    /// `created`, `updated` or `removed`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Removed => "removed",
        }
    }

    /// The kind stored as `text`.
    pub fn parse(text: &str) -> Option<ChangeKind> {
        ChangeKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ToSql for ChangeKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for ChangeKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        ChangeKind::parse(text).ok_or_else(|| {
            FromSqlError::Other(
                format!(
                    "`{}` is not a journal kind",
                    referrals_query::snippet(text, 40)
                )
                .into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_stored_names() {
        for kind in ChangeKind::ALL {
            assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(ChangeKind::parse("Created"), None);
    }

    #[test]
    fn the_schema_allows_exactly_these_kinds() {
        let allowed: Vec<String> = ChangeKind::ALL
            .iter()
            .map(|kind| format!("'{kind}'"))
            .collect();
        let check = format!("CHECK (kind IN ({}))", allowed.join(", "));
        assert!(crate::schema::MIGRATIONS[0].contains(&check), "{check}");
    }
}

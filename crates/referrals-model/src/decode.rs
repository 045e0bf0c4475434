//! Decoding with an error that says where.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

/// Decodes a JSON document into `T`, reporting failures with their JSON path, line and column.
///
/// ```
/// use referrals_model::{decode, ReferralCollection};
///
/// let page: ReferralCollection = decode(br#"{"totalCount": 0, "items": []}"#)?;
/// assert_eq!(page.count(), Some(0));
///
/// let error = decode::<ReferralCollection>(br#"{"items": [{"status": 7}]}"#).unwrap_err();
/// assert_eq!(error.path(), "items[0].status");
/// assert_eq!((error.line(), error.column()), (1, 23));
/// # Ok::<(), referrals_model::DecodeError>(())
/// ```
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => decode_str(text),
        // Only the byte reader can say where the bad bytes are.
        Err(_) => {
            crate::path::reset();
            serde_json::from_slice(bytes)
                .map_err(|error| DecodeError::new(error, crate::path::take()))
        }
    }
}

/// [`decode`] for text.
///
/// Text is already valid UTF-8, so no string needs checking again: one pass over a whole
/// document (which [`decode`] makes) costs less than checking each of its strings on its own.
pub fn decode_str<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, DecodeError> {
    crate::path::reset();
    serde_json::from_str(text).map_err(|error| DecodeError::new(error, crate::path::take()))
}

/// What kind of problem stopped a decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The bytes are not valid JSON.
    Syntax,
    /// The input ended in the middle of a value.
    Eof,
    /// Valid JSON of the wrong shape (a number where a string belongs...).
    Data,
}

/// A document that could not be decoded, with where the problem is.
///
/// Its [`source`](std::error::Error::source) is serde_json's error, whose message (without
/// the location) this one repeats. Two errors are equal when they say the same thing at the
/// same place.
#[derive(Debug, Clone)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    path: String,
    line: usize,
    column: usize,
    message: String,
    // Shared so that the error stays `Clone`; serde_json's is not.
    source: Arc<serde_json::Error>,
}

impl PartialEq for DecodeError {
    fn eq(&self, other: &Self) -> bool {
        (self.kind, &self.path, self.line, self.column, &self.message)
            == (
                other.kind,
                &other.path,
                other.line,
                other.column,
                &other.message,
            )
    }
}

impl Eq for DecodeError {}

impl DecodeError {
    fn new(error: serde_json::Error, path: String) -> Self {
        let kind = match error.classify() {
            serde_json::error::Category::Syntax => DecodeErrorKind::Syntax,
            serde_json::error::Category::Eof => DecodeErrorKind::Eof,
            serde_json::error::Category::Data | serde_json::error::Category::Io => {
                DecodeErrorKind::Data
            }
        };
        let full = error.to_string();
        let suffix = format!(" at line {} column {}", error.line(), error.column());
        let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        DecodeError {
            kind,
            path,
            line: error.line(),
            column: error.column(),
            message,
            source: Arc::new(error),
        }
    }

    /// What kind of problem this is.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// The JSON path of the value being decoded when it failed, like
    /// `items[0].customerProfile.size`; empty at the document root.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The 1-based line of the input where the problem was found.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column of the input where the problem was found.
    pub fn column(&self) -> usize {
        self.column
    }

    /// What was wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when the bytes are not JSON at all (or end early), rather than JSON of the wrong shape.
    pub fn is_syntax(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::Syntax | DecodeErrorKind::Eof)
    }

    /// True when the input ended in the middle of a value (a truncated body).
    pub fn is_eof(&self) -> bool {
        self.kind == DecodeErrorKind::Eof
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            DecodeErrorKind::Syntax => "invalid JSON",
            DecodeErrorKind::Eof => "truncated JSON",
            DecodeErrorKind::Data => "unexpected JSON value",
        };
        write!(f, "{what} at line {}, column {}", self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, " (at `{}`)", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReferralCollection;

    #[test]
    fn invalid_utf8_in_a_value_is_located() {
        let bytes = b"{\"items\": [{\"id\": \"a\"},\n {\"name\": \"caf\xE9\"}]}";
        let error = decode::<ReferralCollection>(bytes).unwrap_err();
        assert_eq!(error.path(), "items[1].name");
        assert_eq!(error.line(), 2);
        assert!(error.is_syntax(), "{error}");
    }

    #[test]
    fn invalid_utf8_in_an_unknown_key_is_refused() {
        let bytes = b"{\"items\": [{\"x\xFF\": 1}]}";
        let error = decode::<ReferralCollection>(bytes).unwrap_err();
        assert!(error.to_string().contains("UTF-8"), "{error}");
    }

    #[test]
    fn the_cause_is_serde_jsons_error() {
        use std::error::Error as _;

        let error = decode::<ReferralCollection>(br#"{"items": [{"status": 7}]}"#).unwrap_err();
        let cause = error.source().unwrap();
        let cause = cause.downcast_ref::<serde_json::Error>().unwrap();
        assert_eq!(
            (cause.line(), cause.column()),
            (error.line(), error.column())
        );
        assert!(cause.to_string().starts_with(error.message()), "{cause}");
    }

    #[test]
    fn bytes_and_text_decode_alike() {
        let text = r#"{"totalCount": 2, "items": [{"id": "a", "name": "Zoë \u00e9\n", "x": {"y": [1, null]}}, {}]}"#;
        let from_bytes: ReferralCollection = decode(text.as_bytes()).unwrap();
        let from_text: ReferralCollection = decode_str(text).unwrap();
        assert_eq!(from_bytes, from_text);
        assert_eq!(from_bytes.items()[0].name.as_deref(), Some("Zoë é\n"));

        let bad = r#"{"items": [{"status": 7}]}"#;
        let (a, b) = (
            decode::<ReferralCollection>(bad.as_bytes()).unwrap_err(),
            decode_str::<ReferralCollection>(bad).unwrap_err(),
        );
        assert_eq!(a, b);
        assert_eq!(a.path(), "items[0].status");
    }
}

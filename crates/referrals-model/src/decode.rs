//! Decoding with an error that says where.

use std::fmt;

use serde::de::DeserializeOwned;

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
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    crate::path::reset();
    serde_json::from_slice(bytes).map_err(|error| DecodeError::new(&error, crate::path::take()))
}

/// [`decode`] for text.
pub fn decode_str<T: DeserializeOwned>(text: &str) -> Result<T, DecodeError> {
    decode(text.as_bytes())
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    path: String,
    line: usize,
    column: usize,
    message: String,
}

impl DecodeError {
    fn new(error: &serde_json::Error, path: String) -> Self {
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

impl std::error::Error for DecodeError {}

//! A listing's position, to resume it later, possibly in another process.

use std::fmt;
use std::str::FromStr;

use crate::encode;

/// The version written by this crate.
const VERSION: u32 = 1;
const TOKEN_PREFIX: &str = "rq1";

/// Where a listing stands: the query it was started with and the next page to fetch.
///
/// A checkpoint holds no secret (no token, no credential): the query string, the server's
/// continuation (a next link or continuation headers) and counters. It is validated again on
/// [`Pager::resume`](crate::Pager::resume) against the configured base URL, so a checkpoint with
/// a next link to another host is refused.
///
/// It serializes with serde, and has a compact text form for a command line (`Display` /
/// `FromStr`): fields separated by `.`, each percent-encoded so that the token contains only
/// letters, digits, `-`, `_`, `.` and `%`.
///
/// ```
/// use referrals_query::{Checkpoint, ListQuery};
///
/// let start = Checkpoint::start(&ListQuery::new().page_size(10)?);
/// let token = start.to_string();
/// assert_eq!(token, "rq1.s.0.0.0.pageSize%3D10");
/// assert_eq!(token.parse::<Checkpoint>()?, start);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    pub(crate) version: u32,
    /// The list request's encoded query string, without `?`.
    pub(crate) query: String,
    pub(crate) position: Position,
    /// Items of the page at `position` already yielded (after an item limit cut a page short).
    pub(crate) skip: u64,
    /// Items yielded so far in the whole listing.
    pub(crate) items: u64,
    /// Pages received so far in the whole listing.
    pub(crate) pages: u64,
}

/// The next page to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Position {
    /// The first page: nothing received yet.
    Start,
    /// 2018 form: the first request again, with these headers.
    Headers {
        /// Header name/value pairs, as listed by the server.
        headers: Vec<(String, String)>,
    },
    /// OData form: this absolute URL on the configured origin.
    NextLink {
        /// The resolved URL.
        url: String,
    },
    /// The last page has been received.
    Finished,
}

impl Checkpoint {
    /// The position before the first page of a listing with `query`.
    pub fn start(query: &crate::ListQuery) -> Checkpoint {
        Checkpoint::new(query.to_query_string(), Position::Start, 0, 0, 0)
    }

    pub(crate) fn new(
        query: String,
        position: Position,
        skip: u64,
        items: u64,
        pages: u64,
    ) -> Checkpoint {
        Checkpoint {
            version: VERSION,
            query,
            position,
            skip,
            items,
            pages,
        }
    }

    /// The same listing from its first page again (e.g. when the server no longer accepts the
    /// stored continuation).
    pub fn restarted(&self) -> Checkpoint {
        Checkpoint::new(self.query.clone(), Position::Start, 0, 0, 0)
    }

    /// The list request's encoded query string (without `?`).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The next page to fetch.
    pub fn position(&self) -> &Position {
        &self.position
    }

    /// True when the listing has received its last page: resuming yields nothing.
    pub fn is_finished(&self) -> bool {
        self.position == Position::Finished
    }

    /// Items yielded so far in the whole listing (over every resume).
    pub fn items_yielded(&self) -> u64 {
        self.items
    }

    /// Pages received so far in the whole listing (over every resume).
    pub fn pages_received(&self) -> u64 {
        self.pages
    }

    /// Items of the next page that were already yielded (non-zero only when an item limit
    /// ended the listing inside a page).
    pub fn skip(&self) -> u64 {
        self.skip
    }

    /// The format version.
    pub fn version(&self) -> u32 {
        self.version
    }
}

impl fmt::Display for Checkpoint {
    /// The compact text form: `rq1.{kind}.{skip}.{items}.{pages}.{query}[.{url} | (.{name}.{value})*]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = |text: &str| {
            percent_encoding::utf8_percent_encode(text, encode::TOKEN_FIELD).to_string()
        };
        let kind = match self.position {
            Position::Start => "s",
            Position::Headers { .. } => "h",
            Position::NextLink { .. } => "n",
            Position::Finished => "f",
        };
        write!(
            f,
            "{TOKEN_PREFIX}.{kind}.{}.{}.{}.{}",
            self.skip,
            self.items,
            self.pages,
            field(&self.query)
        )?;
        match &self.position {
            Position::Headers { headers } => {
                for (name, value) in headers {
                    write!(f, ".{}.{}", field(name), field(value))?;
                }
            }
            Position::NextLink { url } => write!(f, ".{}", field(url))?,
            Position::Start | Position::Finished => {}
        }
        Ok(())
    }
}

impl FromStr for Checkpoint {
    type Err = CheckpointError;

    /// Parses the compact text form. The result is checked again by
    /// [`Pager::resume`](crate::Pager::resume).
    fn from_str(token: &str) -> Result<Checkpoint, CheckpointError> {
        let bad = |field: &'static str, reason: &str| CheckpointError::Token {
            field,
            reason: reason.to_owned(),
        };
        let mut fields = token.trim().split('.');
        match fields.next() {
            Some(TOKEN_PREFIX) => {}
            Some(other) if other.starts_with("rq") => {
                return Err(CheckpointError::Version(encode::snippet(other, 10)));
            }
            _ => return Err(bad("prefix", "expected a token starting with `rq1.`")),
        }
        let kind = fields.next().ok_or_else(|| bad("kind", "missing"))?;
        let mut number = |name: &'static str| -> Result<u64, CheckpointError> {
            fields
                .next()
                .ok_or_else(|| bad(name, "missing"))?
                .parse()
                .map_err(|_| bad(name, "not a number"))
        };
        let skip = number("skip")?;
        let items = number("items")?;
        let pages = number("pages")?;
        let mut text = |name: &'static str| -> Result<Option<String>, CheckpointError> {
            let Some(raw) = fields.next() else {
                return Ok(None);
            };
            if !raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'%')
            {
                return Err(bad(name, "unexpected character"));
            }
            percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map(|text| Some(text.into_owned()))
                .map_err(|_| bad(name, "not UTF-8 after percent-decoding"))
        };
        let query = text("query")?.ok_or_else(|| bad("query", "missing"))?;
        let position = match kind {
            "s" => Position::Start,
            "f" => Position::Finished,
            "n" => Position::NextLink {
                url: text("url")?.ok_or_else(|| bad("url", "missing"))?,
            },
            "h" => {
                let mut headers = Vec::new();
                while let Some(name) = text("header name")? {
                    let value =
                        text("header value")?.ok_or_else(|| bad("header value", "missing"))?;
                    headers.push((name, value));
                }
                if headers.is_empty() {
                    return Err(bad("headers", "missing"));
                }
                Position::Headers { headers }
            }
            _ => return Err(bad("kind", "expected s, h, n or f")),
        };
        if text("end")?.is_some() {
            return Err(bad("end", "unexpected extra field"));
        }
        Ok(Checkpoint::new(query, position, skip, items, pages))
    }
}

/// A checkpoint that cannot be resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointError {
    /// A format version this crate does not read.
    Version(String),
    /// The text form is malformed.
    Token {
        /// Which field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The stored query string is not a valid URL query.
    Query(String),
    /// The stored next link does not go to the configured origin.
    NextLink(crate::NextLinkError),
    /// A stored continuation header cannot be sent.
    Header(crate::ContinuationHeaderError),
    /// The correlation id given for the resumed listing is not a valid header value.
    Request(crate::RequestError),
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot resume from this checkpoint: ")?;
        match self {
            CheckpointError::Version(version) => write!(
                f,
                "format version `{version}` is not supported (this build reads rq{VERSION})"
            ),
            CheckpointError::Token { field, reason } => {
                write!(f, "malformed token, field `{field}`: {reason}")
            }
            CheckpointError::Query(query) => write!(f, "invalid query string `{query}`"),
            CheckpointError::NextLink(error) => write!(f, "{error}"),
            CheckpointError::Header(error) => write!(f, "{error}"),
            CheckpointError::Request(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for CheckpointError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Checkpoint> {
        vec![
            Checkpoint::new(String::new(), Position::Start, 0, 0, 0),
            Checkpoint::new("a=1&b=2".into(), Position::Finished, 0, 7, 3),
            Checkpoint::new(
                "$filter=status%20eq%20'New'".into(),
                Position::NextLink {
                    url: "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=a.b%2F~"
                        .into(),
                },
                2,
                10,
                5,
            ),
            Checkpoint::new(
                "pageSize=2".into(),
                Position::Headers {
                    headers: vec![
                        ("MS-ContinuationToken".into(), "g2q9/SJ+Yy==é".into()),
                        ("X-Other".into(), "".into()),
                    ],
                },
                0,
                2,
                1,
            ),
        ]
    }

    #[test]
    fn token_round_trip() {
        for checkpoint in samples() {
            let token = checkpoint.to_string();
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.%".contains(&b)),
                "{token}"
            );
            assert_eq!(token.parse::<Checkpoint>().unwrap(), checkpoint, "{token}");
        }
    }

    #[test]
    fn serde_round_trip() {
        for checkpoint in samples() {
            let json = serde_json::to_string(&checkpoint).unwrap();
            assert_eq!(
                serde_json::from_str::<Checkpoint>(&json).unwrap(),
                checkpoint
            );
        }
        let json = serde_json::to_value(&samples()[2]).unwrap();
        assert_eq!(json["position"]["kind"], "nextLink");
        assert_eq!(json["version"], 1);
    }

    #[test]
    fn malformed_tokens_say_which_field() {
        let cases = [
            ("", "prefix"),
            ("xyz.s.0.0.0.", "prefix"),
            ("rq1", "kind"),
            ("rq1.s.x.0.0.", "skip"),
            ("rq1.s.0.0", "pages"),
            ("rq1.s.0.0.0", "query"),
            ("rq1.q.0.0.0.", "kind"),
            ("rq1.n.0.0.0.", "url"),
            ("rq1.h.0.0.0.", "headers"),
            ("rq1.h.0.0.0..name", "header value"),
            ("rq1.s.0.0.0.a b", "query"),
            ("rq1.s.0.0.0.%FF", "query"),
            ("rq1.s.0.0.0.q.extra", "end"),
        ];
        for (token, field) in cases {
            match token.parse::<Checkpoint>() {
                Err(CheckpointError::Token { field: got, .. }) => {
                    assert_eq!(got, field, "{token}")
                }
                other => panic!("{token}: {other:?}"),
            }
        }
        assert!(matches!(
            "rq9.s.0.0.0.".parse::<Checkpoint>(),
            Err(CheckpointError::Version(_))
        ));
    }
}

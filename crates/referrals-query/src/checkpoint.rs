//! A listing's position, to resume it later, possibly in another process.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::encode;
use crate::partition::PartitionState;

/// The version of a sequential listing's checkpoint.
const VERSION: u32 = 1;
const TOKEN_PREFIX: &str = "rq1";
/// The version of a partitioned listing's checkpoint.
pub(crate) const PARTITIONED_VERSION: u32 = 2;
const PARTITIONED_PREFIX: &str = "rq2";
/// The longest text form of a partitioned checkpoint this crate reads.
const MAX_PARTITIONED_TOKEN: usize = 1 << 20;

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
/// A *partitioned* listing ([`Partition`](crate::Partition): several `createdDateTime` ranges
/// listed at once) has one checkpoint too, holding every range's position: version 2, written
/// `rq2.` followed by its serde form as JSON in unpadded base64url (letters, digits, `-`, `_`).
/// Both text forms are read by [`FromStr`]; a version 1 checkpoint (`rq1.`) resumes exactly as
/// before, and its serde form is unchanged (the `partition` field appears only in version 2).
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
    /// A partitioned listing's ranges (version 2); `query` is then the listing's own query,
    /// `position` is `Start` until the listing is over, `items` and `pages` count what it yielded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) partition: Option<Box<PartitionState>>,
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
            partition: None,
        }
    }

    /// A partitioned listing's checkpoint.
    pub(crate) fn partitioned(
        query: String,
        finished: bool,
        items: u64,
        pages: u64,
        state: PartitionState,
    ) -> Checkpoint {
        Checkpoint {
            version: PARTITIONED_VERSION,
            query,
            position: if finished {
                Position::Finished
            } else {
                Position::Start
            },
            skip: 0,
            items,
            pages,
            partition: Some(Box::new(state)),
        }
    }

    /// The position before the first page of a partitioned listing of `query` (see
    /// [`Partition`](crate::Partition)): resumed with [`Partition::resume`](crate::Partition::resume),
    /// it first asks the service how many referrals match and how old they are, then lists
    /// `createdDateTime` ranges at once. Refused for a query that cannot be partitioned (the 2018
    /// form, `$skip`, an order on `updatedDateTime`, a `$select` without `id` and
    /// `createdDateTime`): such a listing is sequential.
    ///
    /// ```
    /// use referrals_query::{Checkpoint, ListQuery};
    ///
    /// let start = Checkpoint::start_partitioned(&ListQuery::new())?;
    /// assert!(start.is_partitioned() && !start.is_finished());
    /// let token = start.to_string();
    /// assert!(token.starts_with("rq2."));
    /// assert_eq!(token.parse::<Checkpoint>()?, start);
    /// assert!(Checkpoint::start_partitioned(&ListQuery::new().page_size(100)?).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_partitioned(query: &crate::ListQuery) -> Result<Checkpoint, crate::Unpartitioned> {
        let (query, state) = crate::partition::planning(query)?;
        Ok(Checkpoint::partitioned(query, false, 0, 0, state))
    }

    /// The same listing from its first page again (e.g. when the server no longer accepts the
    /// stored continuation). A partitioned listing starts over from its planning.
    pub fn restarted(&self) -> Checkpoint {
        match &self.partition {
            Some(state) => Checkpoint::partitioned(
                self.query.clone(),
                false,
                0,
                0,
                crate::partition::replanned(state),
            ),
            None => Checkpoint::new(self.query.clone(), Position::Start, 0, 0, 0),
        }
    }

    /// True for the checkpoint of a partitioned listing (version 2), which
    /// [`Partition::resume`](crate::Partition::resume) continues; [`Pager::resume`](crate::Pager::resume)
    /// refuses it.
    pub fn is_partitioned(&self) -> bool {
        self.partition.is_some()
    }

    /// The next page of each listing the checkpoint continues: its one position, or, for a
    /// partitioned listing, every range's (or its sequential fallback's).
    pub fn positions(&self) -> Vec<&Position> {
        match &self.partition {
            None => vec![&self.position],
            Some(state) => state.positions(),
        }
    }

    /// The list request's encoded query string (without `?`); for a partitioned listing, the
    /// listing's own query, which each range and-s with its `createdDateTime` span.
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The next page to fetch; for a partitioned listing, `Start` until it is over
    /// ([`positions`](Self::positions) has each range's).
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
    /// The compact text form: `rq1.{kind}.{skip}.{items}.{pages}.{query}[.{url} | (.{name}.{value})*]`,
    /// or `rq2.{base64url of the JSON form}` for a partitioned listing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.partition.is_some() {
            let json = serde_json::to_vec(self).map_err(|_| fmt::Error)?;
            return write!(f, "{PARTITIONED_PREFIX}.{}", URL_SAFE_NO_PAD.encode(json));
        }
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
        let token = token.trim();
        if let Some(encoded) = token
            .strip_prefix(PARTITIONED_PREFIX)
            .and_then(|t| t.strip_prefix('.'))
        {
            return partitioned_from_str(encoded);
        }
        let mut fields = token.split('.');
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

/// Parses the part after `rq2.`.
fn partitioned_from_str(encoded: &str) -> Result<Checkpoint, CheckpointError> {
    let bad = |reason: &str| CheckpointError::Token {
        field: "partition",
        reason: reason.to_owned(),
    };
    if encoded.len() > MAX_PARTITIONED_TOKEN {
        return Err(bad("longer than any partitioned listing writes"));
    }
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| bad("not unpadded base64url"))?;
    let checkpoint: Checkpoint = serde_json::from_slice(&json)
        .map_err(|e| bad(&format!("not a partitioned checkpoint: {e}")))?;
    if checkpoint.version != PARTITIONED_VERSION || checkpoint.partition.is_none() {
        return Err(bad("not a partitioned checkpoint (version 2)"));
    }
    Ok(checkpoint)
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
    /// A partitioned listing's ranges are not ones a listing can resume from (what is wrong).
    Partition(String),
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot resume from this checkpoint: ")?;
        match self {
            CheckpointError::Version(version) => write!(
                f,
                "format version `{version}` is not supported (this build reads rq{VERSION} and rq{PARTITIONED_VERSION})"
            ),
            CheckpointError::Token { field, reason } => {
                write!(f, "malformed token, field `{field}`: {reason}")
            }
            CheckpointError::Query(query) => write!(f, "invalid query string `{query}`"),
            CheckpointError::NextLink(error) => write!(f, "{error}"),
            CheckpointError::Header(error) => write!(f, "{error}"),
            CheckpointError::Request(error) => write!(f, "{error}"),
            CheckpointError::Partition(reason) => write!(f, "partitioned listing: {reason}"),
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

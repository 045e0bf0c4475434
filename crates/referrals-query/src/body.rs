//! What a response body is, when it is not the JSON the API sends: the one classification that
//! error answers ([`ApiError`](crate::ApiError)), pages and referrals (their decode errors) and
//! the sign-in answers share, so that a proxy's HTML page is named as one instead of as "invalid
//! JSON at line 1, column 1".

use std::fmt;

use http::{HeaderMap, StatusCode};

use crate::encode;

/// The longest `Content-Type` kept, in characters.
const CONTENT_TYPE_CHARS: usize = 100;

/// How far into a body its first markup is looked for.
const SNIFFED_BYTES: usize = 512;

/// What kind of document a body is, as far as a message about it needs to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BodyKind {
    /// No bytes, or only whitespace.
    Empty,
    /// An HTML page (a proxy's or gateway's error page, a sign-in portal): declared `text/html`
    /// or `application/xhtml+xml`, or starting with `<!DOCTYPE html` or `<html`.
    Html,
    /// Another type that is not JSON, as declared by its `Content-Type` (`text/plain`,
    /// `application/xml`...).
    OtherType,
    /// JSON, or undeclared: what the JSON decoder says about it is the best description.
    Json,
}

impl BodyKind {
    /// The kind of `body`, given its `Content-Type` header value (if any).
    ///
    /// ```
    /// use referrals_query::BodyKind;
    ///
    /// assert_eq!(BodyKind::of(Some("text/html; charset=utf-8"), b"<p>Bad gateway"), BodyKind::Html);
    /// assert_eq!(BodyKind::of(None, b"\n<!doctype html><title>502</title>"), BodyKind::Html);
    /// assert_eq!(BodyKind::of(Some("application/json"), b" \r\n"), BodyKind::Empty);
    /// assert_eq!(BodyKind::of(Some("text/plain"), b"Service Unavailable"), BodyKind::OtherType);
    /// assert_eq!(BodyKind::of(None, br#"{"items":[]}"#), BodyKind::Json);
    /// ```
    pub fn of(content_type: Option<&str>, body: &[u8]) -> BodyKind {
        if body.iter().all(u8::is_ascii_whitespace) {
            return BodyKind::Empty;
        }
        let media = content_type.map(media_type);
        match media.as_deref() {
            Some("text/html" | "application/xhtml+xml") => return BodyKind::Html,
            _ if starts_as_html(body) => return BodyKind::Html,
            Some(media) if !is_json(media) => return BodyKind::OtherType,
            _ => {}
        }
        BodyKind::Json
    }
}

/// `type/subtype`, lower case, without parameters.
fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// `application/json`, `text/json`, `application/problem+json`, and a type left blank.
fn is_json(media: &str) -> bool {
    media.is_empty() || media.ends_with("/json") || media.ends_with("+json")
}

/// The body starts (after whitespace and a byte order mark) with `<!doctype html` or `<html`.
fn starts_as_html(body: &[u8]) -> bool {
    let start = body.get(..SNIFFED_BYTES).unwrap_or(body);
    let start = start.strip_prefix(b"\xef\xbb\xbf").unwrap_or(start);
    let skipped = start.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let start = start.get(skipped..).unwrap_or_default();
    let lower: Vec<u8> = start.iter().take(14).map(u8::to_ascii_lowercase).collect();
    lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html")
}

/// A response whose body is not JSON at all, named by what it is: its status, its kind and its
/// `Content-Type`. Its `Display` is the message, e.g. `HTTP 502 with an HTML page (text/html),
/// not the API's JSON`.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use referrals_query::UnexpectedBody;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("content-type", "text/html".parse().unwrap());
/// let body = b"<html><body>Bad gateway</body></html>";
/// let unexpected = UnexpectedBody::classify(StatusCode::OK, &headers, body).unwrap();
/// assert_eq!(
///     unexpected.to_string(),
///     "HTTP 200 with an HTML page (text/html), not the API's JSON"
/// );
/// assert!(UnexpectedBody::classify(StatusCode::OK, &HeaderMap::new(), b"{\"items\":[}").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnexpectedBody {
    status: StatusCode,
    kind: BodyKind,
    content_type: Option<String>,
}

impl UnexpectedBody {
    /// `Some` when `body` is not JSON ([`BodyKind::Empty`], [`BodyKind::Html`] or
    /// [`BodyKind::OtherType`]); `None` for JSON (or undeclared) bodies, whose decode errors
    /// say best what is wrong with them.
    pub fn classify(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<UnexpectedBody> {
        let content_type = headers
            .get(http::header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
            .filter(|value| !value.is_empty());
        let kind = BodyKind::of(content_type.as_deref(), body);
        (kind != BodyKind::Json).then(|| UnexpectedBody {
            status,
            kind,
            content_type: content_type.map(|t| encode::snippet(&t, CONTENT_TYPE_CHARS)),
        })
    }

    /// The response's status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What the body is.
    pub fn kind(&self) -> BodyKind {
        self.kind
    }

    /// The response's `Content-Type` (shortened, control characters escaped), if it sent one.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// `an HTML page (text/html)`, `an empty body`, `a text/plain body`: the body, named.
    pub fn describe(&self) -> String {
        let typed = |what: &str| match &self.content_type {
            Some(content_type) => format!("{what} ({content_type})"),
            None => what.to_owned(),
        };
        match self.kind {
            BodyKind::Empty => "an empty body".to_owned(),
            BodyKind::Html => typed("an HTML page"),
            BodyKind::OtherType | BodyKind::Json => match &self.content_type {
                Some(content_type) => format!("a {content_type} body"),
                None => "a body that is not JSON".to_owned(),
            },
        }
    }
}

impl fmt::Display for UnexpectedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HTTP {} with {}, not the API's JSON",
            self.status.as_u16(),
            self.describe()
        )
    }
}

impl std::error::Error for UnexpectedBody {}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(http::header::CONTENT_TYPE, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn html_is_recognised_by_its_type_or_its_start() {
        for (content_type, body) in [
            (Some("text/html"), &b"Bad gateway"[..]),
            (Some("TEXT/HTML; charset=iso-8859-1"), b"<h1>502</h1>"),
            (Some("application/xhtml+xml"), b"<?xml version='1.0'?>"),
            (
                None,
                b"<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">",
            ),
            (Some("application/json"), b"\xef\xbb\xbf  <html><body>"),
            (Some("text/plain"), b"<html>"),
        ] {
            assert_eq!(BodyKind::of(content_type, body), BodyKind::Html, "{body:?}");
        }
    }

    #[test]
    fn json_and_undeclared_bodies_are_left_to_the_decoder() {
        for (content_type, body) in [
            (None, &b"{\"items\": [}"[..]),
            (Some("application/json; charset=utf-8"), b"<not html"),
            (Some("application/problem+json"), b"{}"),
            (Some("text/json"), b"[1,"),
            (Some(""), b"{"),
            (None, b"<xml/>"),
        ] {
            assert_eq!(BodyKind::of(content_type, body), BodyKind::Json, "{body:?}");
        }
    }

    #[test]
    fn the_message_names_status_kind_and_type() {
        let html = UnexpectedBody::classify(
            StatusCode::BAD_GATEWAY,
            &headers(Some("text/html")),
            b"<html></html>",
        )
        .unwrap();
        assert_eq!(
            html.to_string(),
            "HTTP 502 with an HTML page (text/html), not the API's JSON"
        );
        assert_eq!(html.kind(), BodyKind::Html);
        assert_eq!(html.content_type(), Some("text/html"));
        let bare = UnexpectedBody::classify(StatusCode::OK, &headers(None), b"<html>").unwrap();
        assert_eq!(bare.describe(), "an HTML page");
        let empty = UnexpectedBody::classify(StatusCode::OK, &headers(None), b"").unwrap();
        assert_eq!(
            empty.to_string(),
            "HTTP 200 with an empty body, not the API's JSON"
        );
        let text = UnexpectedBody::classify(StatusCode::OK, &headers(Some("text/plain")), b"Busy")
            .unwrap();
        assert_eq!(
            text.to_string(),
            "HTTP 200 with a text/plain body, not the API's JSON"
        );
        assert!(UnexpectedBody::classify(StatusCode::OK, &headers(None), b"{\"a\":").is_none());
    }
}

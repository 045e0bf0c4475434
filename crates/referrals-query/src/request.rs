//! Building the API's requests: list, get, create, update by JSON Patch and by PUT.

use std::fmt;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue, IF_MATCH, USER_AGENT};
use http::{Method, Request};
use referrals_model::{Referral, Value};
use serde::ser::SerializeMap;

use crate::base_url::BaseUrl;
use crate::encode;
use crate::list::ListQuery;

/// The `User-Agent` sent unless [`Endpoint::with_user_agent`] says otherwise.
pub const DEFAULT_USER_AGENT: &str = concat!("referrals-rs/", env!("CARGO_PKG_VERSION"));

/// `MS-CorrelationId`: one id per logical operation (a whole listing, an update).
pub const MS_CORRELATION_ID: HeaderName = HeaderName::from_static("ms-correlationid");
/// `MS-RequestId`: one id per attempt.
pub const MS_REQUEST_ID: HeaderName = HeaderName::from_static("ms-requestid");
/// `Request-ID`, the other spelling some responses use.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
/// `Prefer`.
pub const PREFER: HeaderName = HeaderName::from_static("prefer");

/// The ids a request carries. Both come from the caller (usually fresh UUIDs): the correlation
/// id stays the same for every request of one logical operation, the request id is new for
/// every attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestIds<'a> {
    /// `MS-CorrelationId`.
    pub correlation_id: &'a str,
    /// `MS-RequestId`.
    pub request_id: &'a str,
}

impl<'a> RequestIds<'a> {
    /// Both ids.
    pub fn new(correlation_id: &'a str, request_id: &'a str) -> RequestIds<'a> {
        RequestIds {
            correlation_id,
            request_id,
        }
    }
}

/// Options of a JSON Patch update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchOptions {
    if_match: Option<String>,
    return_representation: bool,
}

impl PatchOptions {
    /// No `If-Match`, no `Prefer`.
    pub fn new() -> PatchOptions {
        PatchOptions::default()
    }

    /// Sends `If-Match: {etag}`: the update fails with 412 if the referral changed since.
    pub fn if_match(mut self, etag: impl Into<String>) -> PatchOptions {
        self.if_match = Some(etag.into());
        self
    }

    /// Sends `Prefer: return=representation`: the server answers with the updated referral
    /// instead of `204 No Content`.
    pub fn return_representation(mut self) -> PatchOptions {
        self.return_representation = true;
        self
    }

    /// The `If-Match` value, if any.
    pub fn etag(&self) -> Option<&str> {
        self.if_match.as_deref()
    }
}

/// One JSON Patch (RFC 6902) operation of the kinds the API accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchOp {
    /// `{"op":"replace","path":…,"value":…}`.
    Replace {
        /// A JSON Pointer like `/status` or `/details/notes`.
        path: String,
        /// The new value.
        value: Value,
    },
    /// `{"op":"add","path":…,"value":…}`.
    Add {
        /// A JSON Pointer like `/team/-`.
        path: String,
        /// The value to add.
        value: Value,
    },
}

impl PatchOp {
    /// A `replace` operation.
    pub fn replace(path: impl Into<String>, value: impl Into<Value>) -> PatchOp {
        PatchOp::Replace {
            path: path.into(),
            value: value.into(),
        }
    }

    /// An `add` operation.
    pub fn add(path: impl Into<String>, value: impl Into<Value>) -> PatchOp {
        PatchOp::Add {
            path: path.into(),
            value: value.into(),
        }
    }

    /// The JSON Pointer.
    pub fn path(&self) -> &str {
        match self {
            PatchOp::Replace { path, .. } | PatchOp::Add { path, .. } => path,
        }
    }
}

impl serde::Serialize for PatchOp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (op, path, value) = match self {
            PatchOp::Replace { path, value } => ("replace", path, value),
            PatchOp::Add { path, value } => ("add", path, value),
        };
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("op", op)?;
        map.serialize_entry("path", path)?;
        map.serialize_entry("value", value)?;
        map.end()
    }
}

/// A JSON Pointer (RFC 6901) from unescaped segments: `~` is written `~0` and `/` is `~1`.
///
/// ```
/// assert_eq!(referrals_query::json_pointer(["details", "a/b~c"]), "/details/a~1b~0c");
/// ```
pub fn json_pointer<I, S>(segments: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    segments
        .into_iter()
        .fold(String::new(), |mut out, segment| {
            out.push('/');
            out.push_str(&segment.as_ref().replace('~', "~0").replace('/', "~1"));
            out
        })
}

fn check_pointer(path: &str) -> Result<(), RequestError> {
    let bad_escape = path
        .split('~')
        .skip(1)
        .any(|after| !(after.starts_with('0') || after.starts_with('1')));
    if !(path.is_empty() || path.starts_with('/')) || bad_escape {
        return Err(RequestError::InvalidPatchPath {
            path: encode::snippet(path, 100),
        });
    }
    Ok(())
}

/// Builds the API's requests against one base URL. Cheap to clone.
///
/// Every request carries `Accept: application/json`, `User-Agent`, `MS-CorrelationId` and
/// `MS-RequestId`; bodies carry `Content-Type: application/json`. `Authorization` is left to
/// the caller.
///
/// ```
/// use referrals_query::{Endpoint, ListQuery, RequestIds};
/// use referrals_model::ReferralStatus;
///
/// let endpoint = Endpoint::default();
/// let query = ListQuery::new().page_size(2)?.self_only(true).status(ReferralStatus::Active);
/// let request = endpoint.list(&query, RequestIds::new("corr-1", "req-1"))?;
/// assert_eq!(
///     request.uri(),
///     "https://api.partner.microsoft.com/v1.0/engagements/referrals?pageSize=2&self=true&status=Active"
/// );
/// assert_eq!(request.headers()["accept"], "application/json");
/// assert_eq!(request.headers()["ms-correlationid"], "corr-1");
///
/// let get = endpoint.get("a/b?c", RequestIds::new("corr-2", "req-2"))?;
/// assert_eq!(get.uri().path(), "/v1.0/engagements/referrals/a%2Fb%3Fc");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: BaseUrl,
    user_agent: HeaderValue,
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint::new(BaseUrl::default())
    }
}

impl Endpoint {
    /// Requests to `base`, with [`DEFAULT_USER_AGENT`].
    pub fn new(base: BaseUrl) -> Endpoint {
        Endpoint {
            base,
            user_agent: HeaderValue::from_static(DEFAULT_USER_AGENT),
        }
    }

    /// Replaces the `User-Agent` (e.g. `referrals-cli/0.1.0 referrals-rs/0.1.0`).
    pub fn with_user_agent(mut self, user_agent: &str) -> Result<Endpoint, RequestError> {
        self.user_agent = header_value("User-Agent", user_agent)?;
        Ok(self)
    }

    /// The base URL.
    pub fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// The `User-Agent` sent.
    pub fn user_agent(&self) -> &HeaderValue {
        &self.user_agent
    }

    /// The URL of a list request with `query`.
    pub fn list_url(&self, query: &ListQuery) -> String {
        with_query(self.base.collection_url(), &query.to_query_string())
    }

    /// `GET …/referrals?{query}`: the first page of a listing. To walk every page, use a
    /// [`Pager`](crate::Pager).
    pub fn list(
        &self,
        query: &ListQuery,
        ids: RequestIds<'_>,
    ) -> Result<Request<Bytes>, RequestError> {
        self.build(Method::GET, &self.list_url(query), ids, None)
    }

    /// `GET …/referrals/{id}`.
    pub fn get(&self, id: &str, ids: RequestIds<'_>) -> Result<Request<Bytes>, RequestError> {
        self.build(Method::GET, &self.referral_url(id)?, ids, None)
    }

    /// `POST …/referrals` with `referral` as the body.
    pub fn create(
        &self,
        referral: &Referral,
        ids: RequestIds<'_>,
    ) -> Result<Request<Bytes>, RequestError> {
        let body = json_body(referral)?;
        self.build(Method::POST, &self.base.collection_url(), ids, Some(body))
    }

    /// `PATCH …/referrals/{id}` with a JSON Patch of `replace`/`add` operations.
    pub fn patch(
        &self,
        id: &str,
        operations: &[PatchOp],
        options: &PatchOptions,
        ids: RequestIds<'_>,
    ) -> Result<Request<Bytes>, RequestError> {
        if operations.is_empty() {
            return Err(RequestError::EmptyPatch);
        }
        for op in operations {
            check_pointer(op.path())?;
        }
        let url = self.referral_url(id)?;
        let mut request = self.build(Method::PATCH, &url, ids, Some(json_body(operations)?))?;
        if let Some(etag) = &options.if_match {
            let value = non_empty_header("If-Match", etag)?;
            request.headers_mut().insert(IF_MATCH, value);
        }
        if options.return_representation {
            request
                .headers_mut()
                .insert(PREFER, HeaderValue::from_static("return=representation"));
        }
        Ok(request)
    }

    /// `PUT …/referrals/{id}` with the whole referral and the required `If-Match: {etag}`.
    pub fn put(
        &self,
        id: &str,
        referral: &Referral,
        if_match: &str,
        ids: RequestIds<'_>,
    ) -> Result<Request<Bytes>, RequestError> {
        let etag = non_empty_header("If-Match", if_match)?;
        let url = self.referral_url(id)?;
        let mut request = self.build(Method::PUT, &url, ids, Some(json_body(referral)?))?;
        request.headers_mut().insert(IF_MATCH, etag);
        Ok(request)
    }

    fn referral_url(&self, id: &str) -> Result<String, RequestError> {
        check_id(id)?;
        Ok(self.base.referral_url(id))
    }

    /// A request with the common headers. `url` has been built from validated parts.
    pub(crate) fn build(
        &self,
        method: Method,
        url: &str,
        ids: RequestIds<'_>,
        body: Option<Bytes>,
    ) -> Result<Request<Bytes>, RequestError> {
        build_request(&self.user_agent, method, url, ids, body)
    }
}

/// Asserts that each `(id, path)` of `cases` is requested at exactly `path` on `host`, with no
/// query, and that `request` refuses the ids that cannot name a resource (empty, `.`, `..`).
#[cfg(test)]
pub(crate) fn assert_ids_stay_in_their_segment(
    host: &str,
    cases: &[(&str, &str)],
    request: impl Fn(&str) -> Result<Request<Bytes>, RequestError>,
) {
    for (id, path) in cases {
        let request = request(id).unwrap();
        assert_eq!(request.uri().path(), *path, "{id:?}");
        assert_eq!(request.uri().query(), None, "{id:?}");
        assert_eq!(request.uri().host(), Some(host), "{id:?}");
    }
    for bad in ["", ".", ".."] {
        assert!(
            matches!(request(bad), Err(RequestError::InvalidId { .. })),
            "{bad:?}"
        );
    }
}

/// Refuses an id that cannot name a resource in one path segment.
pub(crate) fn check_id(id: &str) -> Result<(), RequestError> {
    // `.` and `..` would be removed by path normalization on the way and address another
    // resource, whatever their encoding.
    if id.is_empty() || id == "." || id == ".." {
        return Err(RequestError::InvalidId {
            id: encode::snippet(id, 100),
        });
    }
    Ok(())
}

/// A request with the headers every endpoint sends: `Accept`, `User-Agent`,
/// `MS-CorrelationId`, `MS-RequestId`, and `Content-Type` with a body. `url` has been built
/// from validated parts.
pub(crate) fn build_request(
    user_agent: &HeaderValue,
    method: Method,
    url: &str,
    ids: RequestIds<'_>,
    body: Option<Bytes>,
) -> Result<Request<Bytes>, RequestError> {
    let correlation = non_empty_header("MS-CorrelationId", ids.correlation_id)?;
    let request_id = non_empty_header("MS-RequestId", ids.request_id)?;
    let uri = http::Uri::try_from(url).map_err(|_| RequestError::InvalidUrl {
        url: encode::snippet(url, 200),
    })?;
    let mut request = Request::new(Bytes::new());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(USER_AGENT, user_agent.clone());
    headers.insert(MS_CORRELATION_ID, correlation);
    headers.insert(MS_REQUEST_ID, request_id);
    if let Some(body) = body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        *request.body_mut() = body;
    }
    Ok(request)
}

pub(crate) fn with_query(mut url: String, query: &str) -> String {
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

pub(crate) fn json_body<T: serde::Serialize + ?Sized>(value: &T) -> Result<Bytes, RequestError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|error| RequestError::Body {
            message: error.to_string(),
        })
}

/// A header value, refused (not panicking) when it holds CR, LF or other control characters.
pub(crate) fn header_value(name: &'static str, value: &str) -> Result<HeaderValue, RequestError> {
    HeaderValue::from_str(value).map_err(|_| RequestError::InvalidHeader {
        name,
        value: encode::snippet(value, 100),
    })
}

fn non_empty_header(name: &'static str, value: &str) -> Result<HeaderValue, RequestError> {
    if value.trim().is_empty() {
        return Err(RequestError::InvalidHeader {
            name,
            value: String::new(),
        });
    }
    header_value(name, value)
}

/// A request that could not be built; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// A header value that is empty or contains characters not allowed in a header (CR, LF,
    /// other control characters).
    InvalidHeader {
        /// The header's name.
        name: &'static str,
        /// The refused value (shortened, control characters escaped).
        value: String,
    },
    /// An id that cannot name a resource (a referral, a validation event) in one path segment:
    /// empty, `.` or `..`.
    InvalidId {
        /// The refused id (shortened, control characters escaped).
        id: String,
    },
    /// A JSON Patch operation whose path is not a JSON Pointer.
    InvalidPatchPath {
        /// The refused path (shortened, control characters escaped).
        path: String,
    },
    /// A JSON Patch with no operation.
    EmptyPatch,
    /// The body could not be serialized.
    Body {
        /// serde_json's message.
        message: String,
    },
    /// The URL is not a valid request URI.
    InvalidUrl {
        /// The refused URL (shortened).
        url: String,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::InvalidHeader { name, value } if value.is_empty() => {
                write!(f, "the `{name}` header value may not be empty")
            }
            RequestError::InvalidHeader { name, value } => write!(
                f,
                "the `{name}` header value `{value}` contains characters not allowed in a header \
                 (such as CR or LF)"
            ),
            RequestError::InvalidId { id } => {
                write!(f, "`{id}` is not a valid id (empty, `.` or `..`)")
            }
            RequestError::InvalidPatchPath { path } => write!(
                f,
                "JSON Patch path `{path}` is not a JSON Pointer (it must start with `/`, and `~` \
                 must be followed by 0 or 1)"
            ),
            RequestError::EmptyPatch => f.write_str("a JSON Patch needs at least one operation"),
            RequestError::Body { message } => {
                write!(f, "the request body could not be encoded: {message}")
            }
            RequestError::InvalidUrl { url } => write!(f, "`{url}` is not a valid request URL"),
        }
    }
}

impl std::error::Error for RequestError {}

#[cfg(test)]
mod tests {
    use super::*;
    use referrals_model::{ReferralStatus, ReferralType};

    const IDS: RequestIds<'static> = RequestIds {
        correlation_id: "8a7d1b0e-0000-4000-8000-000000000001",
        request_id: "8a7d1b0e-0000-4000-8000-000000000002",
    };

    fn common_headers(request: &Request<Bytes>) {
        let headers = request.headers();
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(headers["user-agent"], DEFAULT_USER_AGENT);
        assert!(DEFAULT_USER_AGENT.starts_with("referrals-rs/0."));
        assert_eq!(headers["ms-correlationid"], IDS.correlation_id);
        assert_eq!(headers["ms-requestid"], IDS.request_id);
        assert!(headers.get("authorization").is_none());
    }

    #[test]
    fn seed_request_example_built_correctly() {
        let query = ListQuery::new()
            .page_size(2)
            .unwrap()
            .self_only(true)
            .status(ReferralStatus::Active);
        let request = Endpoint::default().list(&query, IDS).unwrap();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(
            request.uri().to_string(),
            "https://api.partner.microsoft.com/v1.0/engagements/referrals?pageSize=2&self=true&status=Active"
        );
        assert!(request.body().is_empty());
        assert!(request.headers().get("content-type").is_none());
        common_headers(&request);
    }

    #[test]
    fn list_without_parameters_has_no_question_mark() {
        let request = Endpoint::default().list(&ListQuery::new(), IDS).unwrap();
        assert_eq!(
            request.uri().to_string(),
            "https://api.partner.microsoft.com/v1.0/engagements/referrals"
        );
    }

    #[test]
    fn path_prefix_is_kept_in_requests() {
        let base = BaseUrl::parse("http://127.0.0.1:8080/pc").unwrap();
        let request = Endpoint::new(base).get("abc", IDS).unwrap();
        assert_eq!(
            request.uri().to_string(),
            "http://127.0.0.1:8080/pc/v1.0/engagements/referrals/abc"
        );
    }

    #[test]
    fn ids_cannot_escape_their_segment() {
        let endpoint = Endpoint::default();
        let cases = [
            ("a/b", "/v1.0/engagements/referrals/a%2Fb"),
            ("../x", "/v1.0/engagements/referrals/..%2Fx"),
            ("x?y=1#z", "/v1.0/engagements/referrals/x%3Fy%3D1%23z"),
            (
                "x\r\nHost: evil",
                "/v1.0/engagements/referrals/x%0D%0AHost%3A%20evil",
            ),
            ("é", "/v1.0/engagements/referrals/%C3%A9"),
        ];
        assert_ids_stay_in_their_segment("api.partner.microsoft.com", &cases, |id| {
            endpoint.get(id, IDS)
        });
    }

    #[test]
    fn header_injection_is_an_error_not_a_panic() {
        let endpoint = Endpoint::default();
        let error = endpoint
            .get("a", RequestIds::new("corr\r\nX-Evil: 1", "req"))
            .unwrap_err();
        assert_eq!(
            error,
            RequestError::InvalidHeader {
                name: "MS-CorrelationId",
                value: "corr\\r\\nX-Evil: 1".into()
            }
        );
        assert!(endpoint.get("a", RequestIds::new("c", "")).is_err());
        let patch = [PatchOp::replace("/status", "Active")];
        let options = PatchOptions::new().if_match("\"1\"\n");
        assert!(matches!(
            endpoint.patch("a", &patch, &options, IDS),
            Err(RequestError::InvalidHeader {
                name: "If-Match",
                ..
            })
        ));
        assert!(matches!(
            endpoint.put("a", &Referral::default(), "", IDS),
            Err(RequestError::InvalidHeader {
                name: "If-Match",
                ..
            })
        ));
        assert!(Endpoint::default().with_user_agent("x\ny").is_err());
    }

    #[test]
    fn create_posts_the_referral() {
        let referral = Referral {
            name: Some("Fabrikam".into()),
            referral_type: Some(ReferralType::Independent),
            ..Referral::default()
        };
        let request = Endpoint::default().create(&referral, IDS).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(
            request.uri().to_string(),
            "https://api.partner.microsoft.com/v1.0/engagements/referrals"
        );
        assert_eq!(request.headers()["content-type"], "application/json");
        common_headers(&request);
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"name": "Fabrikam", "type": "Independent"})
        );
    }

    #[test]
    fn patch_sends_operations_and_options() {
        let ops = [
            PatchOp::replace("/status", "Active"),
            PatchOp::add(json_pointer(["details", "notes"]), "hello"),
        ];
        let options = PatchOptions::new()
            .if_match("W/\"etag-1\"")
            .return_representation();
        let request = Endpoint::default()
            .patch("r1", &ops, &options, IDS)
            .unwrap();
        assert_eq!(request.method(), Method::PATCH);
        assert_eq!(request.uri().path(), "/v1.0/engagements/referrals/r1");
        assert_eq!(request.headers()["if-match"], "W/\"etag-1\"");
        assert_eq!(request.headers()["prefer"], "return=representation");
        assert_eq!(request.headers()["content-type"], "application/json");
        common_headers(&request);
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!([
                {"op": "replace", "path": "/status", "value": "Active"},
                {"op": "add", "path": "/details/notes", "value": "hello"}
            ])
        );

        let plain = Endpoint::default()
            .patch("r1", &ops, &PatchOptions::new(), IDS)
            .unwrap();
        assert!(plain.headers().get("if-match").is_none());
        assert!(plain.headers().get("prefer").is_none());
    }

    #[test]
    fn patch_refuses_bad_input() {
        let endpoint = Endpoint::default();
        assert_eq!(
            endpoint
                .patch("r", &[], &PatchOptions::new(), IDS)
                .unwrap_err(),
            RequestError::EmptyPatch
        );
        for bad in ["status", "/a~2", "/a~"] {
            let error = endpoint
                .patch("r", &[PatchOp::replace(bad, 1)], &PatchOptions::new(), IDS)
                .unwrap_err();
            assert!(
                matches!(error, RequestError::InvalidPatchPath { .. }),
                "{bad}"
            );
        }
        assert!(
            endpoint
                .patch(
                    "r",
                    &[PatchOp::add("/a~0b~1c", 1)],
                    &PatchOptions::new(),
                    IDS
                )
                .is_ok()
        );
    }

    #[test]
    fn put_requires_if_match() {
        let request = Endpoint::default()
            .put("r 1", &Referral::default(), "\"7\"", IDS)
            .unwrap();
        assert_eq!(request.method(), Method::PUT);
        assert_eq!(request.uri().path(), "/v1.0/engagements/referrals/r%201");
        assert_eq!(request.headers()["if-match"], "\"7\"");
        assert_eq!(request.headers()["content-type"], "application/json");
        assert_eq!(request.body().as_ref(), b"{}");
        common_headers(&request);
    }

    #[test]
    fn custom_user_agent() {
        let endpoint = Endpoint::default()
            .with_user_agent("referrals-cli/1.2.3")
            .unwrap();
        let request = endpoint.get("a", IDS).unwrap();
        assert_eq!(request.headers()["user-agent"], "referrals-cli/1.2.3");
    }
}

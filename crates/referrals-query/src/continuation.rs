//! Checking what the server says to do next: an OData next link must stay on the configured
//! origin, and 2018 continuation headers must be plain headers.

use std::fmt;

use http::{HeaderName, HeaderValue};

use crate::base_url::{BaseUrl, Scheme, UrlParts, UrlProblem};
use crate::encode;

/// Headers a server-written continuation may not set: they carry credentials, address another
/// host, or frame the message.
const FORBIDDEN_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// Headers the pager sets itself; the same names in a continuation are ignored.
pub(crate) const OWN_HEADERS: &[&str] =
    &["accept", "user-agent", "ms-correlationid", "ms-requestid"];

/// Resolves a next link against `base`: relative links are relative to the resource root
/// `{base}/v1.0/engagements`; an `http://` link on the configured host is upgraded to the
/// configured scheme; any other origin is refused. The result is an absolute URL on `base`'s
/// origin, with characters that may not appear in a URI percent-encoded.
pub(crate) fn resolve_next_link(base: &BaseUrl, link: &str) -> Result<String, NextLinkError> {
    let error = |problem| NextLinkError {
        link: encode::snippet(link, 200),
        problem,
    };
    let trimmed = link.trim();
    if trimmed.is_empty() {
        return Err(error(NextLinkProblem::Empty));
    }
    let rest = if let Some(after) = trimmed.strip_prefix("//") {
        let absolute = format!("{}://{after}", base.scheme().as_str());
        same_origin_rest(base, &absolute).map_err(error)?
    } else if has_scheme(trimmed) {
        same_origin_rest(base, trimmed).map_err(error)?
    } else {
        let root = "/v1.0/engagements";
        let without_fragment = trimmed.split('#').next().unwrap_or("");
        match without_fragment.as_bytes().first() {
            Some(b'/') | Some(b'?') => format!("{}{root}{without_fragment}", base.path_prefix()),
            _ => format!("{}{root}/{without_fragment}", base.path_prefix()),
        }
    };
    let rest = percent_encoding::utf8_percent_encode(&rest, encode::NOT_IN_URI).to_string();
    let rest = if rest.starts_with('/') {
        rest
    } else {
        format!("/{rest}")
    };
    let url = format!("{}{rest}", base.origin());
    // Defense in depth: the URL as `http` will read it must name the configured host and port.
    let uri: http::Uri = url
        .parse()
        .map_err(|_| error(NextLinkProblem::Malformed("not a valid URI")))?;
    let port = uri.port_u16().unwrap_or(base.scheme().default_port());
    if uri.host().map(str::to_ascii_lowercase).as_deref() != Some(base.host())
        || port != base.port()
    {
        return Err(error(NextLinkProblem::Malformed("not a valid URI")));
    }
    Ok(url)
}

/// `scheme:` at the start (RFC 3986 §3.1).
fn has_scheme(link: &str) -> bool {
    match link.split_once(':') {
        Some((scheme, _)) => {
            scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        None => false,
    }
}

/// The path and query of an absolute link that goes to `base`'s origin (after upgrading plain
/// http on the configured host), or why not.
fn same_origin_rest(base: &BaseUrl, link: &str) -> Result<String, NextLinkProblem> {
    let parts = UrlParts::parse(link).map_err(|problem| match problem {
        UrlProblem::UserInfo => NextLinkProblem::UserInfo,
        UrlProblem::NotAbsolute => NextLinkProblem::Scheme(scheme_of(link)),
        _ => NextLinkProblem::Malformed("malformed host or port"),
    })?;
    let scheme = parts
        .known_scheme()
        .ok_or_else(|| NextLinkProblem::Scheme(encode::snippet(&parts.scheme, 20)))?;
    if parts.host != base.host() {
        return Err(NextLinkProblem::Host(parts.host));
    }
    let port_ok = match (scheme, base.scheme()) {
        (link_scheme, base_scheme) if link_scheme == base_scheme => {
            parts.port.unwrap_or(link_scheme.default_port()) == base.port()
        }
        // The documented example is an `http://` link on the API's own host: upgrade it.
        (Scheme::Http, Scheme::Https) => parts.port.is_none_or(|p| p == base.port()),
        _ => return Err(NextLinkProblem::Scheme(scheme.as_str().to_owned())),
    };
    if !port_ok {
        let port = parts.port.unwrap_or(scheme.default_port());
        return Err(NextLinkProblem::Port(port));
    }
    Ok(parts.rest)
}

fn scheme_of(link: &str) -> String {
    encode::snippet(link.split(':').next().unwrap_or(""), 20)
}

/// Checks the headers of a 2018 continuation; returns them as header name/value pairs, the
/// pager's own headers left out.
pub(crate) fn check_headers(
    headers: &[(String, String)],
) -> Result<Vec<(HeaderName, HeaderValue)>, ContinuationHeaderError> {
    let mut out = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let error = |problem| ContinuationHeaderError {
            name: encode::snippet(name, 60),
            problem,
        };
        let header_name =
            HeaderName::from_bytes(name.as_bytes()).map_err(|_| error(HeaderProblem::Name))?;
        if FORBIDDEN_HEADERS.contains(&header_name.as_str()) {
            return Err(error(HeaderProblem::Forbidden));
        }
        let header_value = HeaderValue::from_str(value).map_err(|_| error(HeaderProblem::Value))?;
        if !OWN_HEADERS.contains(&header_name.as_str()) {
            out.push((header_name, header_value));
        }
    }
    Ok(out)
}

/// A next link the pager will not follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextLinkError {
    link: String,
    problem: NextLinkProblem,
}

impl NextLinkError {
    /// The refused link (shortened, control characters escaped).
    pub fn link(&self) -> &str {
        &self.link
    }

    /// Why it was refused.
    pub fn problem(&self) -> &NextLinkProblem {
        &self.problem
    }

    /// True when the link points away from the configured origin (so the bearer token would
    /// have gone elsewhere), rather than being malformed.
    pub fn is_foreign(&self) -> bool {
        matches!(
            self.problem,
            NextLinkProblem::Host(_)
                | NextLinkProblem::Port(_)
                | NextLinkProblem::Scheme(_)
                | NextLinkProblem::UserInfo
        )
    }
}

impl fmt::Display for NextLinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refusing next link `{}`: {}", self.link, self.problem)
    }
}

impl std::error::Error for NextLinkError {}

/// Why a next link was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextLinkProblem {
    /// Another host than the configured one.
    Host(String),
    /// Another port than the configured one.
    Port(u16),
    /// A scheme other than the configured one (other than upgrading `http` to `https`),
    /// including any downgrade to `http`.
    Scheme(String),
    /// User info (`user@`) before the host.
    UserInfo,
    /// Blank.
    Empty,
    /// Not a URL.
    Malformed(&'static str),
}

impl fmt::Display for NextLinkProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let never = "the bearer token is only sent to the configured host";
        match self {
            NextLinkProblem::Host(host) => {
                write!(f, "it points to another host (`{host}`); {never}")
            }
            NextLinkProblem::Port(port) => {
                write!(f, "it points to another port ({port}); {never}")
            }
            NextLinkProblem::Scheme(scheme) => write!(
                f,
                "its scheme `{scheme}` does not match the configured one; {never}"
            ),
            NextLinkProblem::UserInfo => write!(f, "it carries user info (`user@`); {never}"),
            NextLinkProblem::Empty => f.write_str("it is blank"),
            NextLinkProblem::Malformed(why) => write!(f, "it is {why}"),
        }
    }
}

/// A 2018 continuation header the pager will not send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContinuationHeaderError {
    name: String,
    problem: HeaderProblem,
}

impl ContinuationHeaderError {
    /// The header's name as the server wrote it (shortened, control characters escaped).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why it was refused.
    pub fn problem(&self) -> HeaderProblem {
        self.problem
    }
}

impl fmt::Display for ContinuationHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.problem {
            HeaderProblem::Name => "is not a valid header name",
            HeaderProblem::Value => "has a value with characters not allowed in a header",
            HeaderProblem::Forbidden => "may not be set by a continuation link",
        };
        write!(f, "refusing continuation header `{}`: it {why}", self.name)
    }
}

impl std::error::Error for ContinuationHeaderError {}

/// Why a continuation header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderProblem {
    /// Not a valid header name.
    Name,
    /// A value with CR, LF or other control characters.
    Value,
    /// A header that carries credentials or frames the message (`Authorization`, `Host`,
    /// `Content-Length`...).
    Forbidden,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> BaseUrl {
        BaseUrl::default()
    }

    #[test]
    fn relative_links_are_relative_to_the_resource_root() {
        assert_eq!(
            resolve_next_link(&base(), "/referrals?api-version=v1.0").unwrap(),
            "https://api.partner.microsoft.com/v1.0/engagements/referrals?api-version=v1.0"
        );
        assert_eq!(
            resolve_next_link(&base(), "referrals?$skiptoken=a b").unwrap(),
            "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=a%20b"
        );
        let prefixed = BaseUrl::parse("http://127.0.0.1:9/pc").unwrap();
        assert_eq!(
            resolve_next_link(&prefixed, "/referrals?x=1#frag").unwrap(),
            "http://127.0.0.1:9/pc/v1.0/engagements/referrals?x=1"
        );
    }

    #[test]
    fn http_on_the_configured_host_is_upgraded() {
        assert_eq!(
            resolve_next_link(
                &base(),
                "http://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=2"
            )
            .unwrap(),
            "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=2"
        );
        assert_eq!(
            resolve_next_link(&base(), "HTTPS://API.partner.microsoft.com:443/x").unwrap(),
            "https://api.partner.microsoft.com/x"
        );
        assert_eq!(
            resolve_next_link(&base(), "//api.partner.microsoft.com/x").unwrap(),
            "https://api.partner.microsoft.com/x"
        );
    }

    #[test]
    fn foreign_links_are_refused() {
        let local = BaseUrl::parse("http://localhost:8080").unwrap();
        let cases: &[(&BaseUrl, &str)] = &[
            (&base(), "https://evil.example/v1.0/engagements/referrals"),
            (&base(), "https://api.partner.microsoft.com.evil.example/"),
            (&base(), "https://api.partner.microsoft.com:8443/"),
            (&base(), "http://api.partner.microsoft.com:8080/"),
            (&base(), "https://user@api.partner.microsoft.com/"),
            (&base(), "https://api.partner.microsoft.com@evil.example/"),
            (&base(), "ftp://api.partner.microsoft.com/"),
            (&base(), "javascript:alert(1)"),
            (&base(), "//evil.example/x"),
            (&local, "https://localhost:8080/"),
            (&local, "http://localhost/"),
            (&local, "http://127.0.0.1:8080/"),
        ];
        for (base, link) in cases {
            let error = resolve_next_link(base, link).unwrap_err();
            assert!(error.is_foreign(), "{link}: {error}");
            assert!(error.to_string().contains("bearer token"), "{error}");
        }
        let downgrade = resolve_next_link(&local, "https://localhost:8080/").unwrap_err();
        assert_eq!(
            downgrade.problem(),
            &NextLinkProblem::Scheme("https".into())
        );
    }

    #[test]
    fn malformed_links_are_refused() {
        for link in [
            "",
            "   ",
            "https://api.partner.microsoft.com:99999/",
            "https://[::1/",
        ] {
            let error = resolve_next_link(&base(), link).unwrap_err();
            assert!(!error.is_foreign(), "{link}: {error}");
        }
    }

    #[test]
    fn injected_characters_cannot_change_the_request() {
        let url = resolve_next_link(&base(), "/referrals?x=1\r\nHost: evil.example").unwrap();
        assert_eq!(
            url,
            "https://api.partner.microsoft.com/v1.0/engagements/referrals?x=1%0D%0AHost:%20evil.example"
        );
        let url = resolve_next_link(&base(), "/a\\@evil.example/").unwrap();
        assert!(url.starts_with("https://api.partner.microsoft.com/v1.0/engagements/a%5C@evil"));
    }

    #[test]
    fn continuation_headers_are_checked() {
        let ok = check_headers(&[
            ("MS-ContinuationToken".into(), "g2q9/+=".into()),
            ("MS-RequestId".into(), "theirs".into()),
        ])
        .unwrap();
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].0, "ms-continuationtoken");
        for (name, value, problem) in [
            ("Authorization", "Bearer x", HeaderProblem::Forbidden),
            ("host", "evil.example", HeaderProblem::Forbidden),
            ("Bad Name", "x", HeaderProblem::Name),
            ("X\r\nY", "x", HeaderProblem::Name),
            (
                "ContinuationToken",
                "a\r\nAuthorization: x",
                HeaderProblem::Value,
            ),
        ] {
            let error = check_headers(&[(name.into(), value.into())]).unwrap_err();
            assert_eq!(error.problem(), problem, "{name}");
        }
    }
}

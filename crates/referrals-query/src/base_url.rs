//! The configured API base URL and OAuth authority, and the "same origin" rule that keeps the
//! bearer token on the configured hosts.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use crate::encode;

/// The scheme of a validated URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `https`.
    Https,
    /// `http`, only ever accepted for loopback hosts.
    Http,
}

impl Scheme {
    /// `"https"` or `"http"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    /// 443 or 80.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }
}

/// Scheme, host and port: where a request goes, and so who sees its `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute `http://` or `https://` URL, or `None` when `url` is not one
    /// (relative, another scheme, user info, a malformed host or port).
    ///
    /// ```
    /// use referrals_query::Origin;
    ///
    /// let a = Origin::of("https://API.partner.microsoft.com/v1.0/x?y").unwrap();
    /// let b = Origin::of("https://api.partner.microsoft.com:443").unwrap();
    /// assert_eq!(a, b);
    /// assert!(Origin::of("https://user@api.partner.microsoft.com/").is_none());
    /// assert!(Origin::of("/relative").is_none());
    /// ```
    pub fn of(url: &str) -> Option<Origin> {
        let parts = UrlParts::parse(url).ok()?;
        let scheme = parts.known_scheme()?;
        Some(Origin {
            scheme,
            port: parts.port.unwrap_or(scheme.default_port()),
            host: parts.host,
        })
    }

    /// The origin of an endpoint the workspace delivers to (a push receiver), checked by the
    /// base URL's rule: `https` to any host, `http` to loopback hosts only; no user info or
    /// fragment. The path and query are the endpoint's own and kept out of the error, which
    /// shows the URL up to its `?` (a query often carries the endpoint's key).
    ///
    /// ```
    /// use referrals_query::Origin;
    ///
    /// let origin = Origin::of_endpoint("https://crm.example/hook?sig=abc").unwrap();
    /// assert_eq!(origin.host(), "crm.example");
    /// assert!(Origin::of_endpoint("http://127.0.0.1:8080/hook").is_ok());
    /// let error = Origin::of_endpoint("http://crm.example/hook?sig=abc").unwrap_err();
    /// assert!(error.to_string().contains("loopback"));
    /// assert!(!error.to_string().contains("abc"));
    /// ```
    pub fn of_endpoint(url: &str) -> Result<Origin, BaseUrlError> {
        let shown = url.split('?').next().unwrap_or(url);
        let error = |reason| BaseUrlError {
            role: UrlRole::Endpoint,
            url: encode::snippet(shown, 200),
            reason,
        };
        checked_origin(url, &error).map(|(origin, _)| origin)
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host, lower-case; an IPv6 address is written in brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, with the scheme's default filled in.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// A validated base URL: `https://` (any host) or `http://` (loopback hosts only), no user info,
/// query or fragment, with an optional path prefix that is kept.
///
/// ```
/// use referrals_query::BaseUrl;
///
/// let base = BaseUrl::default();
/// assert_eq!(base.collection_url(), "https://api.partner.microsoft.com/v1.0/engagements/referrals");
///
/// let local: BaseUrl = "http://127.0.0.1:8080/pc/".parse()?;
/// assert_eq!(local.collection_url(), "http://127.0.0.1:8080/pc/v1.0/engagements/referrals");
///
/// let error = BaseUrl::parse("http://api.partner.microsoft.com").unwrap_err();
/// assert!(error.to_string().contains("loopback"));
/// # Ok::<(), referrals_query::BaseUrlError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    origin: Origin,
    /// Empty or `/segment(/segment)*`, no trailing slash.
    prefix: String,
    /// `scheme://host[:port]prefix`, the canonical text.
    text: String,
}

impl BaseUrl {
    /// The production API: `https://api.partner.microsoft.com`.
    pub const DEFAULT: &'static str = "https://api.partner.microsoft.com";

    /// Validates `url` as the API's base URL.
    pub fn parse(url: &str) -> Result<BaseUrl, BaseUrlError> {
        Self::parse_as(url, UrlRole::Api)
    }

    fn parse_as(url: &str, role: UrlRole) -> Result<BaseUrl, BaseUrlError> {
        let error = |reason| BaseUrlError {
            role,
            // Kept for the message: a password in it (refused as user info) is masked.
            url: encode::snippet(&crate::safe_text::mask_url_passwords(url), 200),
            reason,
        };
        let (origin, rest) = checked_origin(url, &error)?;
        if rest.contains('?') {
            return Err(error(UrlProblem::Query));
        }
        let prefix = rest.trim_end_matches('/');
        if let Some(bad) = prefix.chars().find(|&c| !is_path_char(c)) {
            return Err(error(UrlProblem::PathCharacter(bad)));
        }
        if prefix
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            return Err(error(UrlProblem::DotSegment));
        }
        let text = format!("{origin}{prefix}");
        Ok(BaseUrl {
            origin,
            prefix: prefix.to_owned(),
            text,
        })
    }

    /// The canonical text: `scheme://host[:port][/prefix]`, host lower-case, default port and
    /// trailing slash removed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Scheme, host and port.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.origin.scheme
    }

    /// The host, lower-case (IPv6 in brackets).
    pub fn host(&self) -> &str {
        &self.origin.host
    }

    /// The port, with the scheme's default filled in.
    pub fn port(&self) -> u16 {
        self.origin.port
    }

    /// The path prefix (`""` or like `/pc`).
    pub fn path_prefix(&self) -> &str {
        &self.prefix
    }

    /// True for `localhost`, `127.0.0.0/8` and `::1`.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(&self.origin.host)
    }

    /// `{base}/v1.0/engagements`, against which relative links are resolved.
    pub fn resource_root(&self) -> String {
        format!("{}/v1.0/engagements", self.text)
    }

    /// `{base}/v1.0/engagements/referrals`.
    pub fn collection_url(&self) -> String {
        format!("{}/v1.0/engagements/referrals", self.text)
    }

    /// `{base}/v1.0/engagements/referrals/{id}` with `id` encoded as one path segment.
    pub fn referral_url(&self, id: &str) -> String {
        format!("{}/{}", self.collection_url(), encode::path_segment(id))
    }

    /// True when the absolute URL `url` goes to this base's scheme, host and port. Relative
    /// URLs, other schemes and URLs with user info are never the same origin.
    ///
    /// ```
    /// use referrals_query::BaseUrl;
    ///
    /// let base = BaseUrl::default();
    /// assert!(base.is_same_origin("https://api.partner.microsoft.com:443/v1.0/x"));
    /// assert!(!base.is_same_origin("http://api.partner.microsoft.com/v1.0/x"));
    /// assert!(!base.is_same_origin("https://api.partner.microsoft.com.evil.example/"));
    /// ```
    pub fn is_same_origin(&self, url: &str) -> bool {
        Origin::of(url).is_some_and(|origin| origin == self.origin)
    }

    /// [`Self::is_same_origin`] for an [`http::Uri`].
    pub fn is_same_origin_uri(&self, uri: &http::Uri) -> bool {
        uri.authority()
            .is_some_and(|authority| !authority.as_str().contains('@'))
            && self.is_same_origin(&uri.to_string())
    }
}

impl Default for BaseUrl {
    fn default() -> Self {
        BaseUrl::https("api.partner.microsoft.com")
    }
}

impl BaseUrl {
    /// `https://{host}`, for a host written in this crate (lower-case, valid).
    pub(crate) fn https(host: &str) -> BaseUrl {
        let origin = Origin {
            scheme: Scheme::Https,
            host: host.to_owned(),
            port: 443,
        };
        BaseUrl {
            origin,
            prefix: String::new(),
            text: format!("https://{host}"),
        }
    }
}

impl FromStr for BaseUrl {
    type Err = BaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Self::parse(url)
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({:?})", self.text)
    }
}

impl serde::Serialize for BaseUrl {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for BaseUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        BaseUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A validated OAuth authority such as `https://login.microsoftonline.com`: the same rules as
/// [`BaseUrl`] (`http://` only for loopback hosts).
///
/// ```
/// use referrals_query::AuthorityUrl;
///
/// let authority = AuthorityUrl::default();
/// assert_eq!(
///     authority.token_endpoint("contoso.onmicrosoft.com"),
///     "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
/// );
/// assert!(AuthorityUrl::parse("http://login.example").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuthorityUrl(BaseUrl);

impl AuthorityUrl {
    /// The Azure AD authority: `https://login.microsoftonline.com`.
    pub const DEFAULT: &'static str = "https://login.microsoftonline.com";

    /// Validates `url` as an OAuth authority.
    pub fn parse(url: &str) -> Result<AuthorityUrl, BaseUrlError> {
        BaseUrl::parse_as(url, UrlRole::Authority).map(AuthorityUrl)
    }

    /// `{authority}/{tenant}/oauth2/v2.0/token`, the tenant encoded as one path segment.
    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.0.as_str(),
            encode::path_segment(tenant)
        )
    }

    /// The canonical text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Scheme, host and port.
    pub fn origin(&self) -> &Origin {
        self.0.origin()
    }

    /// True when the absolute URL `url` goes to this authority's scheme, host and port.
    pub fn is_same_origin(&self, url: &str) -> bool {
        self.0.is_same_origin(url)
    }
}

impl Default for AuthorityUrl {
    fn default() -> Self {
        AuthorityUrl(BaseUrl {
            origin: Origin {
                scheme: Scheme::Https,
                host: "login.microsoftonline.com".to_owned(),
                port: 443,
            },
            prefix: String::new(),
            text: Self::DEFAULT.to_owned(),
        })
    }
}

impl FromStr for AuthorityUrl {
    type Err = BaseUrlError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Self::parse(url)
    }
}

impl fmt::Display for AuthorityUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for AuthorityUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthorityUrl({:?})", self.0.as_str())
    }
}

/// What a URL was meant to be, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UrlRole {
    Api,
    Authority,
    Endpoint,
}

/// A URL refused as a base URL or authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrlError {
    role: UrlRole,
    url: String,
    reason: UrlProblem,
}

impl BaseUrlError {
    /// The refused URL (shortened, control characters escaped, a password masked).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Why it was refused.
    pub fn reason(&self) -> &UrlProblem {
        &self.reason
    }
}

impl fmt::Display for BaseUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = match self.role {
            UrlRole::Api => "API base URL",
            UrlRole::Authority => "OAuth authority URL",
            UrlRole::Endpoint => "endpoint URL",
        };
        write!(f, "invalid {role} `{}`: {}", self.url, self.reason)
    }
}

impl std::error::Error for BaseUrlError {}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlProblem {
    /// Not of the form `scheme://host...`.
    NotAbsolute,
    /// A scheme other than `https` or `http`.
    Scheme(String),
    /// `http://` to a host that is not loopback.
    PlainHttp(String),
    /// `user@` or `user:password@` before the host.
    UserInfo,
    /// No host.
    EmptyHost,
    /// A host with characters outside letters, digits, `-`, `.`, `_`, or a malformed IPv6
    /// literal.
    Host(String),
    /// A port that is not a number in 1–65535.
    Port(String),
    /// A character that may not appear in a path prefix.
    PathCharacter(char),
    /// A `.` or `..` path segment.
    DotSegment,
    /// A `?query`.
    Query,
    /// A `#fragment`.
    Fragment,
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlProblem::NotAbsolute => f.write_str("expected an absolute URL like https://host"),
            UrlProblem::Scheme(scheme) => {
                write!(f, "scheme `{scheme}` is not supported (use https)")
            }
            UrlProblem::PlainHttp(host) => write!(
                f,
                "plain http is only allowed for loopback hosts (localhost, 127.0.0.0/8, ::1), \
                 not `{host}`: use https"
            ),
            UrlProblem::UserInfo => f.write_str("user info (`user@`) is not allowed in the URL"),
            UrlProblem::EmptyHost => f.write_str("the host is empty"),
            UrlProblem::Host(host) => write!(f, "the host `{host}` is not a valid host name"),
            UrlProblem::Port(port) => write!(f, "the port `{port}` is not a number in 1-65535"),
            UrlProblem::PathCharacter(c) => {
                write!(
                    f,
                    "the path contains {c:?}, which is not allowed in a URL path"
                )
            }
            UrlProblem::DotSegment => f.write_str("the path may not contain `.` or `..` segments"),
            UrlProblem::Query => f.write_str("a base URL may not have a query (`?`)"),
            UrlProblem::Fragment => f.write_str("a base URL may not have a fragment (`#`)"),
        }
    }
}

/// The scheme, host and port of `url`, and the rest (path and query), checked as every URL the
/// workspace sends to is: `https`, or `http` to a loopback host; no user info, no fragment.
fn checked_origin(
    url: &str,
    error: &impl Fn(UrlProblem) -> BaseUrlError,
) -> Result<(Origin, String), BaseUrlError> {
    let parts = UrlParts::parse(url.trim()).map_err(error)?;
    let scheme = parts
        .known_scheme()
        .ok_or_else(|| error(UrlProblem::Scheme(encode::snippet(&parts.scheme, 20))))?;
    if parts.fragment {
        return Err(error(UrlProblem::Fragment));
    }
    if scheme == Scheme::Http && !is_loopback_host(&parts.host) {
        return Err(error(UrlProblem::PlainHttp(parts.host)));
    }
    let origin = Origin {
        scheme,
        port: parts.port.unwrap_or(scheme.default_port()),
        host: parts.host,
    };
    Ok((origin, parts.rest))
}

/// The loopback rule, the one place it is decided: true for `localhost` (any case, with or
/// without the root's trailing dot), `127.0.0.0/8` and `::1`, also written as an IPv4-mapped
/// IPv6 address (`::ffff:127.0.0.1`). IPv6 hosts may be bracketed, as in a URI.
///
/// Plain `http` is allowed only to such hosts, everywhere in the workspace: the API's base URL,
/// the sign-in authority, webhook certificate URLs and the transport itself.
///
/// ```
/// use referrals_query::is_loopback_host;
///
/// for host in ["localhost", "LOCALHOST.", "127.9.8.7", "[::1]", "::ffff:127.0.0.1"] {
///     assert!(is_loopback_host(host), "{host}");
/// }
/// for host in ["localhost.example.com", "10.0.0.1", "[::2]", "128.0.0.1"] {
///     assert!(!is_loopback_host(host), "{host}");
/// }
/// ```
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => v6.to_canonical().is_loopback(),
        Err(_) => {
            let name = bare.strip_suffix('.').unwrap_or(bare);
            name.eq_ignore_ascii_case("localhost")
        }
    }
}

/// Characters kept as written in a path: RFC 3986 `pchar` plus `/`.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/%".contains(c)
}

/// An absolute URL split strictly. `http::Uri` is lenient in ways that matter here (it accepts
/// user info and silently drops an out-of-range port), so origins are parsed by hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts {
    /// Lower-case.
    pub(crate) scheme: String,
    /// Lower-case; IPv6 in brackets.
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    /// Path and query as written (may be empty); the fragment removed.
    pub(crate) rest: String,
    /// True when a `#fragment` was removed.
    pub(crate) fragment: bool,
}

impl UrlParts {
    pub(crate) fn parse(url: &str) -> Result<UrlParts, UrlProblem> {
        let (scheme, after) = url.split_once("://").ok_or(UrlProblem::NotAbsolute)?;
        let scheme_ok = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme_ok {
            return Err(UrlProblem::NotAbsolute);
        }
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        if authority.contains('@') {
            return Err(UrlProblem::UserInfo);
        }
        let (host, port) = split_host_port(authority)?;
        let (rest, fragment) = match rest.split_once('#') {
            Some((before, _)) => (before, true),
            None => (rest, false),
        };
        Ok(UrlParts {
            scheme: scheme.to_ascii_lowercase(),
            host,
            port,
            rest: rest.to_owned(),
            fragment,
        })
    }

    pub(crate) fn known_scheme(&self) -> Option<Scheme> {
        match self.scheme.as_str() {
            "https" => Some(Scheme::Https),
            "http" => Some(Scheme::Http),
            _ => None,
        }
    }
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), UrlProblem> {
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or_else(|| UrlProblem::Host(encode::snippet(authority, 60)))?;
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(UrlProblem::Host(encode::snippet(authority, 60)));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| UrlProblem::Host(encode::snippet(authority, 60)))?,
            ),
        };
        (format!("[{}]", v6.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err(UrlProblem::EmptyHost);
        }
        let host_ok = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
        if !host_ok {
            return Err(UrlProblem::Host(encode::snippet(host, 60)));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None => None,
        Some(text) => {
            let number = text
                .parse::<u16>()
                .ok()
                .filter(|&n| n != 0 && text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| UrlProblem::Port(encode::snippet(text, 20)))?;
            Some(number)
        }
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_production() {
        let base = BaseUrl::default();
        assert_eq!(base, BaseUrl::parse(BaseUrl::DEFAULT).unwrap());
        assert_eq!(base.as_str(), "https://api.partner.microsoft.com");
        assert_eq!(
            base.resource_root(),
            "https://api.partner.microsoft.com/v1.0/engagements"
        );
    }

    #[test]
    fn path_prefix_is_kept() {
        let base = BaseUrl::parse("http://127.0.0.1:8080/pc").unwrap();
        assert_eq!(
            base.collection_url(),
            "http://127.0.0.1:8080/pc/v1.0/engagements/referrals"
        );
        assert_eq!(base.path_prefix(), "/pc");
        let trailing = BaseUrl::parse("https://Proxy.Example:8443/a/b/").unwrap();
        assert_eq!(trailing.as_str(), "https://proxy.example:8443/a/b");
    }

    #[test]
    fn canonical_form_drops_default_port() {
        let base = BaseUrl::parse("HTTPS://API.partner.microsoft.com:443/").unwrap();
        assert_eq!(base, BaseUrl::default());
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "127.0.0.1",
            "127.9.8.7",
            "[::1]",
            "::1",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.com",
            "localhost.example.com",
            "localhost..",
            "10.0.0.1",
            "[::2]",
            "[::ffff:10.0.0.1]",
            "128.0.0.1",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            "http://localhost",
            "http://LOCALHOST:3000",
            "http://127.0.0.1",
            "http://127.255.0.9:1",
            "http://[::1]:8080/x",
        ] {
            let base = BaseUrl::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(base.is_loopback(), "{ok}");
        }
        for bad in [
            "http://api.partner.microsoft.com",
            "http://128.0.0.1",
            "http://[::2]",
            "http://localhost.evil.example",
            "http://10.0.0.1",
        ] {
            let error = BaseUrl::parse(bad).unwrap_err();
            assert!(
                matches!(error.reason(), UrlProblem::PlainHttp(_)),
                "{bad}: {error}"
            );
            assert!(error.to_string().contains("loopback"), "{error}");
        }
    }

    #[test]
    fn malformed_urls_say_why() {
        type Expect = fn(&UrlProblem) -> bool;
        let cases: &[(&str, Expect)] = &[
            ("api.partner.microsoft.com", |p| {
                matches!(p, UrlProblem::NotAbsolute)
            }),
            ("ftp://host", |p| matches!(p, UrlProblem::Scheme(_))),
            ("https://user:pw@host", |p| {
                matches!(p, UrlProblem::UserInfo)
            }),
            ("https://", |p| matches!(p, UrlProblem::EmptyHost)),
            ("https://:443", |p| matches!(p, UrlProblem::EmptyHost)),
            ("https://ho st", |p| matches!(p, UrlProblem::Host(_))),
            ("https://host:99999", |p| matches!(p, UrlProblem::Port(_))),
            ("https://host:0", |p| matches!(p, UrlProblem::Port(_))),
            ("https://host:+1", |p| matches!(p, UrlProblem::Port(_))),
            ("https://host:", |p| matches!(p, UrlProblem::Port(_))),
            ("https://[::1", |p| matches!(p, UrlProblem::Host(_))),
            ("https://host/a?b=1", |p| matches!(p, UrlProblem::Query)),
            ("https://host/a#b", |p| matches!(p, UrlProblem::Fragment)),
            ("https://host/a b", |p| {
                matches!(p, UrlProblem::PathCharacter(' '))
            }),
            ("https://host/a/../b", |p| {
                matches!(p, UrlProblem::DotSegment)
            }),
            ("https://host\\@evil/", |p| {
                matches!(p, UrlProblem::UserInfo)
            }),
            ("https://host\\evil/", |p| matches!(p, UrlProblem::Host(_))),
        ];
        for (url, expected) in cases {
            let error = BaseUrl::parse(url).unwrap_err();
            assert!(expected(error.reason()), "{url}: {error:?}");
            assert!(
                error.to_string().starts_with("invalid API base URL"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_refused_url_s_password_is_shown_nowhere() {
        for (url, role) in [
            ("https://ada:hunter2-pw@api.example/v1", "API base URL"),
            ("http://ada:hunter2-pw@127.0.0.1:9", "API base URL"),
        ] {
            let error = BaseUrl::parse(url).unwrap_err();
            assert!(matches!(error.reason(), UrlProblem::UserInfo), "{error:?}");
            let shown = format!("{error} {error:?} {}", error.url());
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("ada:[redacted]@"), "{shown}");
            assert!(shown.contains(role), "{shown}");
        }
        let error = AuthorityUrl::parse("https://u:hunter2-pw@login.example").unwrap_err();
        assert!(!format!("{error} {error:?}").contains("hunter2"));
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        let base = BaseUrl::parse("https://api.partner.microsoft.com/prefix").unwrap();
        assert!(base.is_same_origin("https://api.partner.microsoft.com"));
        assert!(base.is_same_origin("https://API.PARTNER.MICROSOFT.COM/other?x#y"));
        assert!(!base.is_same_origin("https://api.partner.microsoft.com:8443/"));
        assert!(!base.is_same_origin("http://api.partner.microsoft.com/"));
        assert!(!base.is_same_origin("https://evil.example/"));
        assert!(!base.is_same_origin("https://api.partner.microsoft.com@evil.example/"));
        assert!(!base.is_same_origin("/v1.0/engagements"));
        assert!(!base.is_same_origin("//api.partner.microsoft.com/"));
        let uri: http::Uri = "https://api.partner.microsoft.com/v1.0".parse().unwrap();
        assert!(base.is_same_origin_uri(&uri));
        let uri: http::Uri = "https://x@api.partner.microsoft.com/v1.0".parse().unwrap();
        assert!(!base.is_same_origin_uri(&uri));
    }

    #[test]
    fn ipv6_loopback_origin() {
        let base = BaseUrl::parse("http://[::1]:8080").unwrap();
        assert_eq!(base.host(), "[::1]");
        assert!(base.is_same_origin("http://[::1]:8080/v1.0"));
        assert!(!base.is_same_origin("http://[::1]/v1.0"));
    }

    #[test]
    fn authority_uses_the_same_rules() {
        let local = AuthorityUrl::parse("http://localhost:9000/").unwrap();
        assert_eq!(
            local.token_endpoint("a/b"),
            "http://localhost:9000/a%2Fb/oauth2/v2.0/token"
        );
        let error = AuthorityUrl::parse("http://login.example").unwrap_err();
        assert!(
            error.to_string().starts_with("invalid OAuth authority URL"),
            "{error}"
        );
        assert_eq!(
            AuthorityUrl::default(),
            AuthorityUrl::parse(AuthorityUrl::DEFAULT).unwrap()
        );
    }

    #[test]
    fn serde_round_trip_validates() {
        let base: BaseUrl = serde_json::from_str("\"http://127.0.0.1:1/pc\"").unwrap();
        assert_eq!(
            serde_json::to_string(&base).unwrap(),
            "\"http://127.0.0.1:1/pc\""
        );
        assert!(serde_json::from_str::<BaseUrl>("\"http://example.com\"").is_err());
    }
}

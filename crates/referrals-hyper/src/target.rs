//! Which requests may leave this process, and how a request is named in messages and logs.

use std::fmt;

use http::uri::Scheme;
use http::{Method, Uri};
use referrals_query::is_loopback_host;
use referrals_query::transport::{TransportError, TransportErrorKind};

/// The parts of a request that messages and logs may show.
///
/// Headers are never part of it (the `Authorization` header travels on the request), and
/// neither is the query string (continuation tokens are not for logs).
#[derive(Debug, Clone)]
pub(crate) struct Target {
    method: Method,
    scheme: &'static str,
    host: String,
    port: u16,
    path: String,
    loopback: bool,
}

impl Target {
    /// Checks that `uri` may be sent to: absolute, `https`, or `http` to a loopback host, no
    /// credentials in the authority.
    pub(crate) fn check(method: &Method, uri: &Uri) -> Result<Self, TransportError> {
        let path = uri.path().to_owned();
        let Some(host) = uri.host() else {
            return Err(invalid(format!(
                "{method} {path}: the request URI must be absolute (scheme://host/path)"
            )));
        };
        let Some(authority) = uri.authority() else {
            return Err(invalid(format!(
                "{method} {path}: the request URI must be absolute (scheme://host/path)"
            )));
        };
        let scheme = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => "https",
            Some(s) if *s == Scheme::HTTP => "http",
            Some(other) => {
                return Err(invalid(format!(
                    "{method} {other}://{host}{path}: unsupported scheme `{other}`; use https \
                     (or http to a loopback host)"
                )));
            }
            None => {
                return Err(invalid(format!(
                    "{method} {path}: the request URI has no scheme; use https"
                )));
            }
        };
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let target = Target {
            method: method.clone(),
            scheme,
            host: host.to_owned(),
            port,
            path,
            loopback: is_loopback_host(host),
        };
        if authority.as_str().contains('@') {
            return Err(invalid(format!(
                "{target}: credentials in the URI are not supported; authenticate with headers"
            )));
        }
        if scheme == "http" && !target.loopback {
            return Err(invalid(format!(
                "{target}: plain http is allowed only to loopback hosts (127.0.0.0/8, ::1, \
                 localhost); use https for `{host}`"
            )));
        }
        Ok(target)
    }

    /// True for `HEAD`, whose response never has a body.
    pub(crate) fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }

    /// `host:port`, for connection-level messages.
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}://{}:{}{}",
            self.method, self.scheme, self.host, self.port, self.path
        )
    }
}

fn invalid(message: String) -> TransportError {
    TransportError::new(TransportErrorKind::InvalidRequest, message)
}

/// A proxy URI as it may be shown: scheme, host and port, never the user-info.
pub(crate) fn redact_uri(raw: &str) -> String {
    match raw.parse::<Uri>() {
        Ok(uri) => match uri.host() {
            Some(host) => {
                let scheme = uri.scheme_str().unwrap_or("http");
                match uri.port_u16() {
                    Some(port) => format!("{scheme}://{host}:{port}"),
                    None => format!("{scheme}://{host}"),
                }
            }
            None => "<proxy URL without a host>".to_owned(),
        },
        Err(_) => "<unparsable proxy URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(uri: &str) -> Result<Target, TransportError> {
        Target::check(&Method::GET, &uri.parse().expect("test URI"))
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(check("http://127.0.0.1:8080/x").is_ok());
        assert!(check("http://[::1]/x").is_ok());
        assert!(check("https://api.partner.microsoft.com/v1.0").is_ok());
        let err = check("http://api.partner.microsoft.com/v1.0?token=abc").unwrap_err();
        assert_eq!(err.kind(), TransportErrorKind::InvalidRequest);
        assert!(err.message().contains("loopback"), "{}", err.message());
        assert!(!err.message().contains("token=abc"), "{}", err.message());
    }

    #[test]
    fn relative_unknown_scheme_and_userinfo_refused() {
        for uri in [
            "/v1.0/engagements",
            "ftp://127.0.0.1/x",
            "https://user:pw@example.com/x",
        ] {
            let err = check(uri).unwrap_err();
            assert_eq!(err.kind(), TransportErrorKind::InvalidRequest, "{uri}");
            assert!(!err.message().contains("pw"), "{}", err.message());
        }
    }

    #[test]
    fn display_has_default_port_and_no_query() {
        let target = check("https://example.com/a/b?$skiptoken=secret").expect("valid");
        assert_eq!(target.to_string(), "GET https://example.com:443/a/b");
    }

    #[test]
    fn redacts_proxy_credentials() {
        assert_eq!(
            redact_uri("http://me:secret@proxy.local:3128"),
            "http://proxy.local:3128"
        );
        assert_eq!(redact_uri("proxy.local:3128"), "http://proxy.local:3128");
    }
}

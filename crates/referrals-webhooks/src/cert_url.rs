//! The certificate URL allow-list: which URLs an unauthenticated request may make us fetch.
//!
//! Microsoft documents no rule for the certificate's host, so without one the listener would
//! fetch whatever URL a stranger names (server-side request forgery). A prefix is an origin and
//! a path: a URL is allowed when it has exactly that origin and its path continues the prefix's
//! path at a segment boundary. Both are validated with the same rules as the API base URL
//! (https, or http for loopback hosts only; no user info, query, fragment or dot segments), and
//! percent-encoded dots, slashes and backslashes are refused so that no server can resolve the
//! path out of the prefix.

use std::fmt;

use referrals_query::BaseUrl;

use crate::refusal::Refusal;
use referrals_query::snippet;

/// The default allowed prefix, where Partner Center keeps its signing certificate.
pub const DEFAULT_CERT_URL_PREFIX: &str = "https://3psostorageacct.blob.core.windows.net/cert/";

/// One allowed certificate URL prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct CertUrlPrefix {
    base: BaseUrl,
}

impl CertUrlPrefix {
    /// Validates a prefix such as `https://host/cert/`: `https`, or `http` only for loopback
    /// hosts.
    pub fn parse(prefix: &str) -> Result<CertUrlPrefix, PrefixError> {
        if has_encoded_separator(prefix) {
            return Err(PrefixError {
                prefix: snippet(prefix, 200),
                why: "percent-encoded `.`, `/` or `\\` are not allowed".to_owned(),
            });
        }
        BaseUrl::parse(prefix)
            .map(|base| CertUrlPrefix { base })
            .map_err(|error| PrefixError {
                prefix: snippet(prefix, 200),
                why: error.reason().to_string(),
            })
    }

    /// The prefix as `scheme://host[:port]/path` (no trailing slash).
    pub fn as_str(&self) -> &str {
        self.base.as_str()
    }

    fn allows(&self, url: &BaseUrl) -> bool {
        url.origin() == self.base.origin()
            && url
                .path_prefix()
                .strip_prefix(self.base.path_prefix())
                .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
    }
}

impl fmt::Debug for CertUrlPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertUrlPrefix({:?})", self.base.as_str())
    }
}

impl std::str::FromStr for CertUrlPrefix {
    type Err = PrefixError;

    fn from_str(prefix: &str) -> Result<Self, Self::Err> {
        Self::parse(prefix)
    }
}

/// A certificate URL prefix that was refused at configuration time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixError {
    prefix: String,
    why: String,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid certificate URL prefix `{}`: {}",
            self.prefix, self.why
        )
    }
}

impl std::error::Error for PrefixError {}

/// A certificate URL that passed the allow-list: the only kind the fetcher accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateUrl(String);

impl CertificateUrl {
    /// The URL as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks `url` against `prefixes`.
    pub fn check(url: &str, prefixes: &[CertUrlPrefix]) -> Result<CertificateUrl, Refusal> {
        let refuse = |why: String| Refusal::CertificateUrlNotAllowed {
            url: snippet(url, 200),
            why,
        };
        if has_encoded_separator(url) {
            return Err(refuse(
                "percent-encoded `.`, `/` or `\\` are not allowed".to_owned(),
            ));
        }
        // A trailing slash names a directory, never a certificate.
        if url.ends_with('/') {
            return Err(refuse("the URL names no file".to_owned()));
        }
        let parsed = BaseUrl::parse(url).map_err(|error| refuse(error.reason().to_string()))?;
        if prefixes.iter().any(|prefix| prefix.allows(&parsed)) {
            Ok(CertificateUrl(url.to_owned()))
        } else {
            Err(refuse(format!(
                "not under an allowed prefix ({})",
                prefixes
                    .iter()
                    .map(CertUrlPrefix::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

impl fmt::Display for CertificateUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn has_encoded_separator(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["%2e", "%2f", "%5c", "\\"]
        .iter()
        .any(|bad| lower.contains(bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes() -> Vec<CertUrlPrefix> {
        vec![
            CertUrlPrefix::parse(DEFAULT_CERT_URL_PREFIX).unwrap(),
            CertUrlPrefix::parse("http://127.0.0.1:8080/certs/").unwrap(),
        ]
    }

    #[test]
    fn urls_under_a_prefix_are_allowed() {
        for url in [
            "https://3psostorageacct.blob.core.windows.net/cert/pcnotifications-dispatch.microsoft.com.cer",
            "https://3PSOSTORAGEACCT.blob.core.windows.net:443/cert/a.cer",
            "http://127.0.0.1:8080/certs/sim.pem",
        ] {
            assert!(CertificateUrl::check(url, &prefixes()).is_ok(), "{url}");
        }
    }

    #[test]
    fn urls_outside_every_prefix_are_refused() {
        for url in [
            // http on a non-loopback host
            "http://3psostorageacct.blob.core.windows.net/cert/a.cer",
            // another host, a look-alike host, another port, another path
            "https://evil.example/cert/a.cer",
            "https://3psostorageacct.blob.core.windows.net.evil.example/cert/a.cer",
            "https://3psostorageacct.blob.core.windows.net:8443/cert/a.cer",
            "https://3psostorageacct.blob.core.windows.net/certs/a.cer",
            "https://3psostorageacct.blob.core.windows.net/cert",
            "https://3psostorageacct.blob.core.windows.net/cert/",
            "https://3psostorageacct.blob.core.windows.net/other/a.cer",
            // escapes out of the prefix
            "https://3psostorageacct.blob.core.windows.net/cert/../a.cer",
            "https://3psostorageacct.blob.core.windows.net/cert/%2e%2e/a.cer",
            "https://3psostorageacct.blob.core.windows.net/cert/..%2Fa.cer",
            "https://3psostorageacct.blob.core.windows.net/cert\\..\\a.cer",
            // user info, query, fragment, other schemes
            "https://user@3psostorageacct.blob.core.windows.net/cert/a.cer",
            "https://3psostorageacct.blob.core.windows.net@evil.example/cert/a.cer",
            "https://3psostorageacct.blob.core.windows.net/cert/a.cer?x=1",
            "https://3psostorageacct.blob.core.windows.net/cert/a.cer#x",
            "file:///etc/passwd",
            "ftp://3psostorageacct.blob.core.windows.net/cert/a.cer",
            "/cert/a.cer",
            "http://127.0.0.1:8081/certs/sim.pem",
            "http://localhost:8080/certs/sim.pem",
        ] {
            let refusal = CertificateUrl::check(url, &prefixes()).unwrap_err();
            assert_eq!(refusal.code(), "certificate-url-not-allowed", "{url}");
            assert_eq!(refusal.status(), 401, "{url}");
        }
    }

    #[test]
    fn plain_http_prefixes_need_a_loopback_host() {
        let error =
            CertUrlPrefix::parse("http://3psostorageacct.blob.core.windows.net/cert/").unwrap_err();
        assert!(error.to_string().contains("loopback"), "{error}");
        assert!(CertUrlPrefix::parse("http://[::1]:9/c/").is_ok());
        assert!(CertUrlPrefix::parse("http://localhost/c/").is_ok());
    }
}

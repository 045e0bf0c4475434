//! The API a mirror belongs to: one account's referrals, read through one base URL. A mirror
//! records it at its first sync ([`Mirror::claim_api`](crate::Mirror::claim_api)), and a
//! sync, a webhook listener or any later writer against another API is refused, so that two
//! accounts' referrals (or the demo simulator's and real ones) are never merged.

use std::fmt;

use referrals_query::BaseUrl;

/// The API a mirror's referrals come from: the base URL's origin and path prefix, and the
/// account (tenant) they were read as, when known.
///
/// ```
/// use referrals_query::BaseUrl;
/// use referrals_sync::MirrorApi;
///
/// let production = MirrorApi::new(&BaseUrl::default());
/// assert_eq!(production.base_url(), "https://api.partner.microsoft.com");
/// let staging = MirrorApi::new(&"https://API.partner.microsoft.com:443/".parse::<BaseUrl>()?);
/// assert!(production.matches(&staging), "the same API, written differently");
/// assert!(!production.matches(&MirrorApi::demo()));
/// // An account known on one side only is not a difference; two known ones must be equal.
/// let contoso = production.clone().with_account("contoso.onmicrosoft.com");
/// assert!(production.matches(&contoso));
/// assert!(!contoso.matches(&production.clone().with_account("fabrikam.onmicrosoft.com")));
/// # Ok::<(), referrals_query::BaseUrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MirrorApi {
    base_url: String,
    account: Option<String>,
}

impl MirrorApi {
    /// What the `referrals` CLI's `--demo` simulator is recorded as: its address changes on
    /// every run (a random port), its data does not.
    pub const DEMO: &'static str = "demo";

    /// The API at `base_url` (its canonical text: scheme, host, port unless the default, path
    /// prefix), account not known.
    pub fn new(base_url: &BaseUrl) -> MirrorApi {
        MirrorApi {
            base_url: base_url.as_str().to_owned(),
            account: None,
        }
    }

    /// The `referrals` CLI's `--demo` simulator ([`DEMO`](Self::DEMO)).
    pub fn demo() -> MirrorApi {
        MirrorApi {
            base_url: Self::DEMO.to_owned(),
            account: None,
        }
    }

    /// The same API, read as `account` (a tenant id or domain).
    pub fn with_account(mut self, account: impl Into<String>) -> MirrorApi {
        self.account = Some(account.into());
        self
    }

    /// As stored: a record read back from a mirror.
    pub(crate) fn stored(base_url: String, account: Option<String>) -> MirrorApi {
        MirrorApi { base_url, account }
    }

    /// The base URL's canonical text, or [`DEMO`](Self::DEMO).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The account, when known.
    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// True when `other` is the same API: the same base URL, and the same account unless
    /// one of the two does not know it.
    pub fn matches(&self, other: &MirrorApi) -> bool {
        self.base_url == other.base_url
            && match (&self.account, &other.account) {
                (Some(mine), Some(theirs)) => mine == theirs,
                _ => true,
            }
    }
}

impl fmt::Display for MirrorApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.base_url == Self::DEMO {
            f.write_str("the demo simulator (--demo)")?;
        } else {
            f.write_str(&self.base_url)?;
        }
        if let Some(account) = &self.account {
            write!(f, " (account {account})")?;
        }
        Ok(())
    }
}

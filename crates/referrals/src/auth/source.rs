//! The names of the credential sources: written here once, read by the chain, by
//! `REFERRALS_AUTH`, by the CLI's `--auth` and by its config file's `auth` key.

use std::fmt;
use std::str::FromStr;

use super::env;

/// A credential source of the chain ([`from_env`](super::from_env)), in the chain's order.
///
/// Its [name](Self::as_str) is what `REFERRALS_AUTH` (and the CLI's `--auth`) takes to force it;
/// [`FromStr`] reads a name back (ignoring case and surrounding blanks).
///
/// ```
/// use referrals::auth::CredentialSource;
///
/// let source: CredentialSource = "azure-cli".parse()?;
/// assert_eq!(source, CredentialSource::AzureCli);
/// assert_eq!(source.to_string(), "azure-cli");
/// assert_eq!(CredentialSource::NAMES[0], "token");
/// let error = "password".parse::<CredentialSource>().unwrap_err();
/// assert!(error.to_string().contains("refresh-token"));
/// # Ok::<(), referrals::auth::UnknownCredentialSource>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialSource {
    /// A ready access token: `PARTNER_CENTER_TOKEN` (the CLI's `--token`).
    Token,
    /// `PARTNER_CENTER_REFRESH_TOKEN` (Secure Application Model).
    RefreshToken,
    /// The sign-in stored in the token cache by a device code sign-in (`referrals login`).
    Login,
    /// Client credentials with `AZURE_CLIENT_SECRET` or `AZURE_CLIENT_CERTIFICATE_PATH`
    /// (app-only).
    ClientCredentials,
    /// `az account get-access-token`.
    AzureCli,
}

const COUNT: usize = 5;

const ALL: [CredentialSource; COUNT] = [
    CredentialSource::Token,
    CredentialSource::RefreshToken,
    CredentialSource::Login,
    CredentialSource::ClientCredentials,
    CredentialSource::AzureCli,
];

const NAMES: [&str; COUNT] = {
    let mut names = [""; COUNT];
    let mut i = 0;
    while i < COUNT {
        names[i] = ALL[i].as_str();
        i += 1;
    }
    names
};

impl CredentialSource {
    /// Every source, in the chain's order.
    pub const ALL: &'static [CredentialSource] = &ALL;

    /// The name of every source, in the chain's order (the choices of `REFERRALS_AUTH`).
    pub const NAMES: &'static [&'static str] = &NAMES;

    /// The name `REFERRALS_AUTH` takes: `token`, `refresh-token`, `login`, `client-credentials`
    /// or `azure-cli`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CredentialSource::Token => "token",
            CredentialSource::RefreshToken => "refresh-token",
            CredentialSource::Login => "login",
            CredentialSource::ClientCredentials => "client-credentials",
            CredentialSource::AzureCli => "azure-cli",
        }
    }

    /// What the source is, for messages: its variable, or a few words.
    pub fn label(self) -> &'static str {
        match self {
            CredentialSource::Token => env::TOKEN,
            CredentialSource::RefreshToken => env::REFRESH_TOKEN,
            CredentialSource::Login => "the token cache (referrals login)",
            CredentialSource::ClientCredentials => "client credentials",
            CredentialSource::AzureCli => "the Azure CLI",
        }
    }
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is none of [`CredentialSource::NAMES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a credential source (one of {})", NAMES.join(", "))]
pub struct UnknownCredentialSource {
    /// The name given.
    pub given: String,
}

impl FromStr for CredentialSource {
    type Err = UnknownCredentialSource;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ALL.into_iter()
            .find(|source| source.as_str().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| UnknownCredentialSource {
                given: name.to_owned(),
            })
    }
}

/// Reads a name (a config file's `auth = "login"`), with [`FromStr`]'s rule.
impl<'de> serde::Deserialize<'de> for CredentialSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_unknown_ones_list_the_choices() {
        for source in CredentialSource::ALL {
            assert_eq!(source.as_str().parse::<CredentialSource>(), Ok(*source));
        }
        assert_eq!(
            CredentialSource::NAMES,
            [
                "token",
                "refresh-token",
                "login",
                "client-credentials",
                "azure-cli"
            ]
        );
        assert_eq!(" Azure-CLI ".parse(), Ok(CredentialSource::AzureCli));
        let error = "password".parse::<CredentialSource>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "`password` is not a credential source (one of token, refresh-token, login, \
             client-credentials, azure-cli)"
        );
    }
}

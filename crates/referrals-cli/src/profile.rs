//! The optional config file and its named profiles, which [`crate::settings`] reads after the
//! flags and the environment.
//!
//! The file is `$REFERRALS_CONFIG`, else `referrals/config.toml` in the platform's config
//! directory (`$XDG_CONFIG_HOME`, `~/.config` on Linux). It holds no secret: tokens and client
//! secrets come from flags and the environment only, and `config show` never prints them.
//!
//! ```toml
//! default_profile = "prod"
//!
//! [profiles.prod]
//! base_url = "https://api.partner.microsoft.com"
//! tenant = "contoso.onmicrosoft.com"
//! client_id = "00000000-0000-0000-0000-000000000000"
//! auth = "login"
//! database = "/var/lib/referrals/mirror.db"
//! format = "table"
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use referrals::auth::CredentialSource;
use serde::Deserialize;

use crate::cli::Format;
use crate::settings::Source;

/// The profile used when neither `--profile` nor the file's `default_profile` names one.
pub const DEFAULT_PROFILE: &str = "default";

/// The environment variables only the CLI reads, each name written once. The sign-in ones
/// (`PARTNER_CENTER_TOKEN`, `AZURE_TENANT_ID`, `REFERRALS_AUTH`...) are the library's:
/// [`referrals::auth::env`].
pub mod env {
    /// The API base URL (`--base-url`).
    pub const BASE_URL: &str = "PARTNER_CENTER_BASE_URL";
    /// The config file to read instead of the platform's.
    pub const CONFIG: &str = "REFERRALS_CONFIG";
    /// The profile to use (`--profile`).
    pub const PROFILE: &str = "REFERRALS_PROFILE";
    /// The local mirror's database.
    pub const DATABASE: &str = "REFERRALS_DB";
    /// The webhook registration host (`webhooks --webhooks-url`).
    pub const WEBHOOKS_URL: &str = "PARTNER_CENTER_WEBHOOKS_URL";
    /// A bearer token for the webhook registration host (`webhooks --webhooks-token`; a
    /// secret: never printed).
    pub const WEBHOOKS_TOKEN: &str = "PARTNER_CENTER_WEBHOOKS_TOKEN";
}

/// The config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used without `--profile` / `REFERRALS_PROFILE`.
    pub default_profile: Option<String>,
    /// The named profiles.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// One named profile: every key optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The API base URL.
    pub base_url: Option<String>,
    /// The tenant id or domain to sign in to.
    pub tenant: Option<String>,
    /// The application (client) id to sign in with.
    pub client_id: Option<String>,
    /// The credential source to sign in with.
    pub auth: Option<CredentialSource>,
    /// The local mirror's database.
    pub database: Option<PathBuf>,
    /// The output format.
    pub format: Option<Format>,
}

/// A config file that cannot be used: unreadable, not TOML, an unknown key, a bad value, an
/// unknown profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub(crate) String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Reads a config file's text; errors name the file, the line and the column.
pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
    toml::from_str(text).map_err(|error| {
        let at = error
            .span()
            .map(|span| {
                let (line, column) = line_column(text, span.start);
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        ConfigError(format!(
            "config file {}{at}: {}",
            path.display(),
            error.message().trim_end()
        ))
    })
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut at = offset.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The config file to read: `REFERRALS_CONFIG`, else the platform's (which may not exist).
pub fn config_path(lookup: &dyn Fn(&str) -> Option<String>) -> Option<(PathBuf, Source)> {
    match lookup(env::CONFIG).filter(|v| !v.trim().is_empty()) {
        Some(path) => Some((PathBuf::from(path), Source::Env(env::CONFIG))),
        None => dirs::config_dir()
            .map(|dir| (dir.join("referrals").join("config.toml"), Source::Default)),
    }
}

/// Reads the config file: a missing platform file is no file, a missing `REFERRALS_CONFIG` file
/// is an error (it was asked for).
pub fn load(path: &Path, source: &Source) -> Result<Option<ConfigFile>, ConfigError> {
    let bytes = match referrals::file::read_regular_file(path, MAX_CONFIG_BYTES) {
        Ok(bytes) => bytes,
        Err(error) if error.is_not_found() && *source == Source::Default => return Ok(None),
        // `config file f.toml: is a FIFO, not a regular file`, `... cannot be read: ...`.
        Err(error) => {
            return Err(ConfigError(format!(
                "config file {}: {error}",
                path.display()
            )));
        }
    };
    let text = String::from_utf8(bytes).map_err(|error| {
        ConfigError(format!(
            "config file {}: not UTF-8 text (at byte {})",
            path.display(),
            error.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text, path).map(Some)
}

/// The largest config file read (a config file of many profiles is a few kilobytes).
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<ConfigFile, ConfigError> {
        parse(text, Path::new("config.toml"))
    }

    #[test]
    fn unknown_keys_and_bad_values_name_line_and_column() {
        let error =
            file("[profiles.p]\nbase_url = \"https://x\"\nbase_ulr = \"typo\"\n").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("config file config.toml:3:1: "),
            "{error}"
        );
        assert!(error.to_string().contains("base_ulr"), "{error}");
        let error = file("[profiles.p]\nformat = \"xml\"\n").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("config file config.toml:2:10: "),
            "{error}"
        );
        let error = file("[profiles.p]\nauth = \"password\"\n").unwrap_err();
        assert!(error.to_string().contains(":2:8:"), "{error}");
        let error = file("default_profile = [").unwrap_err();
        assert!(error.to_string().contains("config.toml:1:"), "{error}");
    }
}

//! The optional config file and its named profiles, and the effective settings: for each one, a
//! flag, then the environment, then the profile, then the default.
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

use referrals::auth::{CredentialSource, env as sign_in};
use serde::Deserialize;

use crate::cli::Format;

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
pub struct ConfigError(String);

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

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line option.
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// The named profile of the config file.
    Profile(String),
    /// Not set anywhere: the built-in default.
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Profile(name) => write!(f, "profile {name}"),
            Source::Default => f.write_str("default"),
        }
    }
}

/// One effective setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value (`None`: not set, the default applies).
    pub value: Option<T>,
    /// Where it came from.
    pub source: Source,
}

impl<T> Setting<T> {
    fn unset() -> Self {
        Setting {
            value: None,
            source: Source::Default,
        }
    }
}

/// What the command line and the environment give, before the profile fills the gaps.
#[derive(Debug, Clone, Default)]
pub struct Given {
    /// `--base-url` or `PARTNER_CENTER_BASE_URL`, with which one it was.
    pub base_url: Option<(String, Source)>,
    /// `--profile` or `REFERRALS_PROFILE`.
    pub profile: Option<(String, Source)>,
    /// `--format` of the command, if it has one.
    pub format: Option<Format>,
    /// `--auth` or `REFERRALS_AUTH`, with which one it was.
    pub auth: Option<(CredentialSource, Source)>,
    /// `--tenant` of the sign-in commands.
    pub tenant: Option<String>,
    /// `--client-id` of the sign-in commands.
    pub client_id: Option<String>,
    /// `--db`, once the option exists.
    pub database: Option<PathBuf>,
}

/// The effective settings of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The config file read, and why that one (`None`: no file).
    pub config_file: Option<(PathBuf, Source)>,
    /// The profile used (`None`: no file, or it has no such profile and none was asked for).
    pub profile: Option<(String, Source)>,
    /// The API base URL.
    pub base_url: Setting<String>,
    /// The tenant.
    pub tenant: Setting<String>,
    /// The client id.
    pub client_id: Setting<String>,
    /// The credential source to sign in with.
    pub auth: Setting<CredentialSource>,
    /// The local mirror's database.
    pub database: Setting<PathBuf>,
    /// The output format.
    pub format: Setting<Format>,
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
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path).map(Some),
        Err(error)
            if error.kind() == std::io::ErrorKind::NotFound && *source == Source::Default =>
        {
            Ok(None)
        }
        Err(error) => Err(ConfigError(format!(
            "config file {}: cannot read: {error}",
            path.display()
        ))),
    }
}

/// The mirror's database when neither `--db`, `REFERRALS_DB` nor the profile names one.
pub const DEFAULT_DATABASE: &str = "referrals.db";

/// Combines the command line, the environment (`lookup`) and the file: a flag, then the
/// environment, then the profile, then the default. Naming a profile the file does not have is
/// an error; so is a bad value in the environment.
pub fn resolve(
    given: &Given,
    lookup: &dyn Fn(&str) -> Option<String>,
    file: Option<(&ConfigFile, (PathBuf, Source))>,
) -> Result<Settings, ConfigError> {
    let (file, config_file) = match file {
        Some((file, path)) => (Some(file), Some(path)),
        None => (None, None),
    };
    let wanted = given.profile.clone().or_else(|| {
        file.and_then(|f| f.default_profile.clone())
            .map(|name| (name, Source::Profile("default_profile".into())))
    });
    let (profile, chosen) = match (&wanted, file) {
        (Some((name, _)), Some(file)) => match file.profiles.get(name) {
            Some(profile) => (Some(profile), wanted.clone()),
            None => {
                let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
                return Err(ConfigError(format!(
                    "no profile `{name}` in the config file {} (profiles: {})",
                    config_file
                        .as_ref()
                        .map_or_else(String::new, |(p, _)| p.display().to_string()),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        },
        (Some((name, _)), None) => {
            return Err(ConfigError(format!(
                "profile `{name}` asked for, but there is no config file (set {} or create {})",
                env::CONFIG,
                config_path(lookup)
                    .map_or_else(|| "one".to_owned(), |(p, _)| p.display().to_string())
            )));
        }
        (None, Some(file)) => match file.profiles.get(DEFAULT_PROFILE) {
            Some(profile) => (
                Some(profile),
                Some((DEFAULT_PROFILE.to_owned(), Source::Default)),
            ),
            None => (None, None),
        },
        (None, None) => (None, None),
    };
    let profile_name = chosen
        .as_ref()
        .map(|(name, _)| name.clone())
        .unwrap_or_default();
    let from_profile = |value| set(value, Source::Profile(profile_name.clone()));
    let env_text = |name: &'static str| {
        set(
            lookup(name).filter(|v| !v.trim().is_empty()),
            Source::Env(name),
        )
    };
    let base_url = given
        .base_url
        .clone()
        .map(|(value, source)| Setting {
            value: Some(value),
            source,
        })
        .or_else(|| from_profile(profile.and_then(|p| p.base_url.clone())))
        .unwrap_or_else(Setting::unset);
    let tenant = set(given.tenant.clone(), Source::Flag("--tenant"))
        .or_else(|| env_text(sign_in::TENANT_ID))
        .or_else(|| from_profile(profile.and_then(|p| p.tenant.clone())))
        .unwrap_or_else(Setting::unset);
    let client_id = set(given.client_id.clone(), Source::Flag("--client-id"))
        .or_else(|| env_text(sign_in::CLIENT_ID))
        .or_else(|| from_profile(profile.and_then(|p| p.client_id.clone())))
        .unwrap_or_else(Setting::unset);
    let auth = match given.auth.clone() {
        Some((credential, source)) => Setting {
            value: Some(credential),
            source,
        },
        None => match env_text(sign_in::AUTH) {
            Some(Setting {
                value: Some(text),
                source,
            }) => match text.parse::<CredentialSource>() {
                Ok(credential) => Setting {
                    value: Some(credential),
                    source,
                },
                Err(error) => return Err(ConfigError(format!("{source}: {error}"))),
            },
            _ => set(
                profile.and_then(|p| p.auth),
                Source::Profile(profile_name.clone()),
            )
            .unwrap_or_else(Setting::unset),
        },
    };
    let database = set(given.database.clone(), Source::Flag("--db"))
        .or_else(|| {
            env_text(env::DATABASE).map(|s| Setting {
                value: s.value.map(PathBuf::from),
                source: s.source,
            })
        })
        .or_else(|| {
            set(
                profile.and_then(|p| p.database.clone()),
                Source::Profile(profile_name.clone()),
            )
        })
        .unwrap_or_else(Setting::unset);
    let format = set(given.format, Source::Flag("--format"))
        .or_else(|| {
            set(
                profile.and_then(|p| p.format),
                Source::Profile(profile_name.clone()),
            )
        })
        .unwrap_or_else(Setting::unset);
    Ok(Settings {
        config_file,
        profile: chosen,
        base_url,
        tenant,
        client_id,
        auth,
        database,
        format,
    })
}

/// A setting with this value and source, if there is a value.
fn set<T>(value: Option<T>, source: Source) -> Option<Setting<T>> {
    value.map(|value| Setting {
        value: Some(value),
        source,
    })
}

impl Settings {
    /// `config show`: each setting with its value and source; secrets only as "set".
    pub fn render(&self, lookup: &dyn Fn(&str) -> Option<String>, token_flag: bool) -> String {
        let mut out = String::new();
        let mut row = |name: &str, value: String, source: String| {
            out.push_str(&format!("{name:<14}{value:<48} ({source})\n"));
        };
        match &self.config_file {
            Some((path, source)) => row(
                "config file",
                path.display().to_string(),
                source.to_string(),
            ),
            None => row("config file", "none".into(), "default".into()),
        }
        match &self.profile {
            Some((name, source)) => row("profile", name.clone(), source.to_string()),
            None => row("profile", "none".into(), "default".into()),
        }
        fn shown<T>(
            setting: &Setting<T>,
            show: impl Fn(&T) -> String,
            default: &str,
        ) -> (String, String) {
            match &setting.value {
                Some(value) => (show(value), setting.source.to_string()),
                None => (default.to_owned(), "default".to_owned()),
            }
        }
        let (v, s) = shown(
            &self.base_url,
            Clone::clone,
            "https://api.partner.microsoft.com",
        );
        row("base_url", v, s);
        let (v, s) = shown(&self.tenant, Clone::clone, "not set");
        row("tenant", v, s);
        let (v, s) = shown(&self.client_id, Clone::clone, "not set");
        row("client_id", v, s);
        let (v, s) = shown(&self.auth, |m| m.as_str().to_owned(), "first that works");
        row("auth", v, s);
        let (v, s) = shown(
            &self.database,
            |p| p.display().to_string(),
            DEFAULT_DATABASE,
        );
        row("database", v, s);
        let (v, s) = shown(
            &self.format,
            |f| f.name().to_owned(),
            "table on a terminal, else ndjson (list) or json",
        );
        row("format", v, s);
        let secret = |flag: bool, name: &'static str| {
            if flag {
                ("set, not shown".to_owned(), "flag --token".to_owned())
            } else if lookup(name).is_some_and(|v| !v.trim().is_empty()) {
                ("set, not shown".to_owned(), format!("env {name}"))
            } else {
                ("not set".to_owned(), "default".to_owned())
            }
        };
        let (v, s) = secret(token_flag, sign_in::TOKEN);
        row("token", v, s);
        let (v, s) = secret(false, sign_in::CLIENT_SECRET);
        row("client_secret", v, s);
        let (v, s) = secret(false, sign_in::REFRESH_TOKEN);
        row("refresh_token", v, s);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<ConfigFile, ConfigError> {
        parse(text, Path::new("config.toml"))
    }

    fn no_env(_: &str) -> Option<String> {
        None
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

    #[test]
    fn flag_then_env_then_profile_then_default() {
        let config = file(
            "default_profile = \"p\"\n[profiles.p]\nbase_url = \"https://profile\"\ntenant = \"t-profile\"\n\
             client_id = \"c-profile\"\nauth = \"login\"\ndatabase = \"p.db\"\nformat = \"csv\"\n",
        )
        .unwrap();
        let at = (PathBuf::from("config.toml"), Source::Default);
        let settings = resolve(&Given::default(), &no_env, Some((&config, at.clone()))).unwrap();
        assert_eq!(
            settings.profile,
            Some(("p".into(), Source::Profile("default_profile".into())))
        );
        assert_eq!(settings.base_url.value.as_deref(), Some("https://profile"));
        assert_eq!(settings.base_url.source, Source::Profile("p".into()));
        assert_eq!(settings.auth.value, Some(CredentialSource::Login));
        assert_eq!(settings.format.value, Some(Format::Csv));

        let env = |name: &str| match name {
            "AZURE_TENANT_ID" => Some("t-env".to_owned()),
            "REFERRALS_DB" => Some("env.db".to_owned()),
            "REFERRALS_AUTH" => Some("azure-cli".to_owned()),
            _ => None,
        };
        let given = Given {
            base_url: Some(("https://env".into(), Source::Env(env::BASE_URL))),
            format: Some(Format::Json),
            ..Given::default()
        };
        let settings = resolve(&given, &env, Some((&config, at.clone()))).unwrap();
        assert_eq!(settings.base_url.source, Source::Env(env::BASE_URL));
        assert_eq!(settings.tenant.value.as_deref(), Some("t-env"));
        assert_eq!(settings.client_id.source, Source::Profile("p".into()));
        assert_eq!(settings.auth.value, Some(CredentialSource::AzureCli));
        assert_eq!(settings.database.value, Some(PathBuf::from("env.db")));
        assert_eq!(
            settings.format,
            Setting {
                value: Some(Format::Json),
                source: Source::Flag("--format")
            }
        );

        let given = Given {
            tenant: Some("t-flag".into()),
            database: Some("flag.db".into()),
            ..Given::default()
        };
        let settings = resolve(&given, &env, Some((&config, at))).unwrap();
        assert_eq!(settings.tenant.source, Source::Flag("--tenant"));
        assert_eq!(settings.database.source, Source::Flag("--db"));

        let settings = resolve(&Given::default(), &no_env, None).unwrap();
        assert_eq!(settings.base_url, Setting::unset());
        assert_eq!(settings.profile, None);
    }

    #[test]
    fn unknown_profiles_and_bad_environment_values_are_errors() {
        let config = file("[profiles.a]\n[profiles.b]\n").unwrap();
        let at = (PathBuf::from("c.toml"), Source::Default);
        let given = Given {
            profile: Some(("prod".into(), Source::Flag("--profile"))),
            ..Given::default()
        };
        let error = resolve(&given, &no_env, Some((&config, at.clone()))).unwrap_err();
        assert!(
            error.to_string().contains("no profile `prod`") && error.to_string().contains("a, b"),
            "{error}"
        );
        let error = resolve(&given, &no_env, None).unwrap_err();
        assert!(error.to_string().contains("no config file"), "{error}");
        let env = |name: &str| (name == "REFERRALS_AUTH").then(|| "password".to_owned());
        let error = resolve(&Given::default(), &env, Some((&config, at))).unwrap_err();
        assert!(
            error.to_string().contains("env REFERRALS_AUTH: `password`"),
            "{error}"
        );
    }

    #[test]
    fn secrets_are_never_rendered() {
        let env = |name: &str| match name {
            "PARTNER_CENTER_TOKEN" => Some("eyJ-secret-token".to_owned()),
            "AZURE_CLIENT_SECRET" => Some("client-secret-value".to_owned()),
            _ => None,
        };
        let settings = resolve(&Given::default(), &env, None).unwrap();
        let text = settings.render(&env, false);
        assert!(
            !text.contains("eyJ-secret-token") && !text.contains("client-secret-value"),
            "{text}"
        );
        assert!(text.contains("env PARTNER_CENTER_TOKEN"), "{text}");
    }
}

//! The effective settings of a run, resolved once from the command line, the environment and
//! the config file's profile ([`crate::profile`]): for each, a value and where it came from
//! (a flag, then the environment, then the profile, then the default), as `referrals config
//! show` prints them. Commands read these, never the parsed options; the credential chain is
//! chosen here too, from the same settings.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use referrals::Secret;
use referrals::auth::{self, AuthError, Chain, CredentialSource, env as sign_in};

use crate::cli::{ApiArgs, AuthCommand, Cli, Command, ConnectArgs, DealCommand, Format};
use crate::failure::Failure;
use crate::profile::{self, ConfigError, ConfigFile, DEFAULT_PROFILE, env};

/// The mirror's database when neither `--db`, `REFERRALS_DB` nor the profile names one.
pub const DEFAULT_DATABASE: &str = "referrals.db";

/// A variable of the process environment; a blank value counts as unset.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
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

/// What the command line gives (its options, and the variables clap reads for them), before
/// the environment and the profile fill the gaps.
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
    /// `--db` of the mirror commands.
    pub database: Option<PathBuf>,
    /// `--token`.
    pub token: Option<Secret>,
    /// `--retries`.
    pub retries: Option<u32>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--demo`.
    pub demo: bool,
    /// `-v`, counted.
    pub verbose: u8,
}

impl Given {
    /// The options of `cli`; its `matches` tell a flag from the variable clap read for it.
    pub fn from_command_line(cli: &Cli, matches: &ArgMatches) -> Given {
        let command = &cli.command;
        let api = api_args(command);
        let connect = connect_args(command);
        let (tenant, client_id) = identity_flags(command);
        Given {
            base_url: api.and_then(|api| api.base_url.clone()).map(|url| {
                (
                    url,
                    source_of(matches, "base_url", "--base-url", env::BASE_URL),
                )
            }),
            profile: cli.global.profile.clone().map(|name| {
                (
                    name,
                    source_of(matches, "profile", "--profile", env::PROFILE),
                )
            }),
            format: format_flag(command),
            auth: api.and_then(|api| api.auth).map(|credential| {
                (
                    credential,
                    source_of(matches, "auth", "--auth", sign_in::AUTH),
                )
            }),
            tenant,
            client_id,
            database: database_flag(command),
            token: api.and_then(|api| api.token.clone()),
            retries: api.and_then(|api| api.retries),
            timeout: connect.and_then(|connect| connect.timeout),
            demo: connect.is_some_and(|connect| connect.demo),
            verbose: cli.global.verbose,
        }
    }
}

/// The effective settings of a run.
#[derive(Debug, Clone)]
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
    /// A bearer token from `--token` (the chain reads `PARTNER_CENTER_TOKEN` itself).
    pub token: Option<Secret>,
    /// Retries of a failed request after the first attempt (`None`: the client's default).
    pub retries: Option<u32>,
    /// Timeout of one attempt (`None`: the transport's default).
    pub timeout: Option<Duration>,
    /// The embedded simulator instead of Partner Center.
    pub demo: bool,
    /// How much is logged: 0 (nothing), 1 (debug), 2 or more (trace).
    pub verbose: u8,
}

impl Settings {
    /// The settings of the command line `cli` (`matches`: its parse), with the process
    /// environment and the config file. `completions` and `simulate` read no config file: they
    /// work whatever state it is in.
    pub fn from_command_line(cli: &Cli, matches: &ArgMatches) -> Result<Settings, Failure> {
        let given = Given::from_command_line(cli, matches);
        if matches!(
            cli.command,
            Command::Completions { .. } | Command::Simulate(_)
        ) {
            return Ok(Settings::flags_only(given));
        }
        let path = profile::config_path(&env_lookup);
        let file = match &path {
            Some((path, source)) => {
                profile::load(path, source).map_err(|e| Failure::Config(e.to_string()))?
            }
            None => None,
        };
        resolve(&given, &env_lookup, file.as_ref().zip(path))
            .map_err(|e| Failure::Config(e.to_string()))
    }

    /// The command line's options alone, nothing from the environment or a file.
    fn flags_only(given: Given) -> Settings {
        Settings {
            config_file: None,
            profile: None,
            base_url: Setting::unset(),
            tenant: Setting::unset(),
            client_id: Setting::unset(),
            auth: Setting::unset(),
            database: Setting::unset(),
            format: Setting::unset(),
            token: given.token,
            retries: given.retries,
            timeout: given.timeout,
            demo: given.demo,
            verbose: given.verbose,
        }
    }

    /// The mirror's database: `--db`, else `REFERRALS_DB`, else the profile's, else
    /// [`DEFAULT_DATABASE`].
    pub fn database(&self) -> PathBuf {
        self.database
            .value
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATABASE))
    }

    /// The environment the sign-in reads: the process's, with the tenant and client id of these
    /// settings (flag, environment or profile) as `AZURE_TENANT_ID` and `AZURE_CLIENT_ID`.
    pub fn sign_in_lookup(&self) -> impl Fn(&str) -> Option<String> + use<> {
        let tenant = self.tenant.value.clone();
        let client_id = self.client_id.value.clone();
        move |name| match name {
            sign_in::TENANT_ID if tenant.is_some() => tenant.clone(),
            sign_in::CLIENT_ID if client_id.is_some() => client_id.clone(),
            _ => env_lookup(name),
        }
    }

    /// The credential chain's choice under these settings (`--auth` or its variable or the
    /// profile's forces one source); `--token` and `--demo` are handled before it.
    pub fn credentials(&self) -> Result<Chain, AuthError> {
        auth::from_lookup_forced(&self.sign_in_lookup(), self.auth.value)
    }
}

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
                profile::config_path(lookup)
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
        // Read here too for the commands that have no --base-url (`config show`).
        .or_else(|| env_text(env::BASE_URL))
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
        token: given.token.clone(),
        retries: given.retries,
        timeout: given.timeout,
        demo: given.demo,
        verbose: given.verbose,
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
    pub fn render(&self, lookup: &dyn Fn(&str) -> Option<String>) -> String {
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
        let (v, s) = secret(self.token.is_some(), sign_in::TOKEN);
        row("token", v, s);
        let (v, s) = secret(false, sign_in::CLIENT_SECRET);
        row("client_secret", v, s);
        let (v, s) = secret(false, sign_in::REFRESH_TOKEN);
        row("refresh_token", v, s);
        out
    }
}

/// The API options of the commands that call the API.
fn api_args(command: &Command) -> Option<&ApiArgs> {
    match command {
        Command::List(args) => Some(&args.api),
        Command::Get { api, .. }
        | Command::Create { api, .. }
        | Command::Update { api, .. }
        | Command::Replace { api, .. }
        | Command::Auth(AuthCommand::Status { api })
        | Command::Deal(DealCommand::Register { api, .. } | DealCommand::Update { api, .. }) => {
            Some(api)
        }
        Command::Accept(args) | Command::Won(args) => Some(&args.api),
        Command::Decline(args) | Command::Lost(args) => Some(&args.target.api),
        Command::Sync(args) => Some(&args.api),
        Command::Listen(args) => Some(&args.api),
        Command::Webhooks(args) => Some(&args.api),
        Command::Due(args) => Some(&args.api),
        Command::Login(_)
        | Command::Logout(_)
        | Command::Simulate(_)
        | Command::Completions { .. }
        | Command::Config(_)
        | Command::Changes(_)
        | Command::Report(_)
        | Command::Push(_) => None,
    }
}

/// `--demo` and `--timeout`: the API's commands' and `login`'s.
fn connect_args(command: &Command) -> Option<&ConnectArgs> {
    match command {
        Command::Login(args) => Some(&args.connect),
        _ => api_args(command).map(|api| &api.connect),
    }
}

/// `--tenant` and `--client-id` of the sign-in commands.
fn identity_flags(command: &Command) -> (Option<String>, Option<String>) {
    match command {
        Command::Login(args) => (args.tenant.clone(), args.client_id.clone()),
        Command::Logout(args) => (args.tenant.clone(), args.client_id.clone()),
        _ => (None, None),
    }
}

/// `--db` of the mirror commands (`list --db` is an explicit offline switch, not a setting).
fn database_flag(command: &Command) -> Option<PathBuf> {
    match command {
        Command::Sync(args) => args.db.clone(),
        Command::Changes(args) => args.db.clone(),
        Command::Listen(args) => args.db.clone(),
        Command::Report(args) => args.db.clone(),
        Command::Create { db, .. } => db.clone(),
        Command::Push(args) => args.db.clone(),
        _ => None,
    }
}

/// `--format` of the commands that print referrals.
fn format_flag(command: &Command) -> Option<Format> {
    match command {
        Command::List(args) => args.output.format,
        Command::Due(args) => args.format,
        Command::Accept(args) | Command::Won(args) => args.format,
        Command::Decline(args) | Command::Lost(args) => args.target.format,
        Command::Deal(
            DealCommand::Register { format, .. } | DealCommand::Update { format, .. },
        ) => *format,
        _ => None,
    }
}

/// Whether an option came from the command line or its environment variable: an option is
/// recorded in the matches of the (sub)command it belongs to, so every level is looked at.
fn source_of(matches: &ArgMatches, id: &str, flag: &'static str, env: &'static str) -> Source {
    let mut current = Some(matches);
    let mut found = None;
    while let Some(level) = current {
        // Asked only of the levels that know the option (clap panics on an unknown id).
        if let Some(source) = level
            .try_get_raw(id)
            .ok()
            .flatten()
            .and_then(|_| level.value_source(id))
        {
            found = Some(source);
        }
        current = level.subcommand().map(|(_, sub)| sub);
    }
    match found {
        Some(ValueSource::EnvVariable) => Source::Env(env),
        _ => Source::Flag(flag),
    }
}

/// The settings of `args` (the command line after the program's name), with no environment
/// and no config file.
#[cfg(test)]
pub(crate) fn for_test(args: &[&str]) -> Settings {
    let line = std::iter::once("referrals").chain(args.iter().copied());
    let (cli, matches) = Cli::try_parse_with_matches(line).expect("a valid command line");
    resolve(&Given::from_command_line(&cli, &matches), &|_| None, None).expect("settings")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn file(text: &str) -> Result<ConfigFile, ConfigError> {
        profile::parse(text, Path::new("config.toml"))
    }

    fn no_env(_: &str) -> Option<String> {
        None
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
    fn an_api_option_beats_its_variable_and_the_profile_and_says_so() {
        let config =
            file("[profiles.default]\nbase_url = \"https://profile\"\nauth = \"azure-cli\"\n")
                .unwrap();
        let at = (PathBuf::from("config.toml"), Source::Default);
        let env = |name: &str| match name {
            "PARTNER_CENTER_BASE_URL" => Some("https://env".to_owned()),
            "REFERRALS_AUTH" => Some("login".to_owned()),
            _ => None,
        };
        let settings_of = |line: &[&str]| {
            let (cli, matches) = Cli::try_parse_with_matches(line).unwrap();
            resolve(
                &Given::from_command_line(&cli, &matches),
                &env,
                Some((&config, at.clone())),
            )
            .unwrap()
        };
        let settings = settings_of(&[
            "referrals",
            "get",
            "x",
            "--base-url",
            "https://flag",
            "--auth",
            "token",
        ]);
        assert_eq!(
            settings.base_url,
            Setting {
                value: Some("https://flag".to_owned()),
                source: Source::Flag("--base-url")
            }
        );
        assert_eq!(
            settings.auth,
            Setting {
                value: Some(CredentialSource::Token),
                source: Source::Flag("--auth")
            }
        );
        // A command without the options (`config show`): the variables, over the profile.
        let settings = settings_of(&["referrals", "config", "show"]);
        assert_eq!(
            settings.base_url,
            Setting {
                value: Some("https://env".to_owned()),
                source: Source::Env("PARTNER_CENTER_BASE_URL")
            }
        );
        assert_eq!(
            settings.auth,
            Setting {
                value: Some(CredentialSource::Login),
                source: Source::Env("REFERRALS_AUTH")
            }
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
        let text = settings.render(&env);
        assert!(
            !text.contains("eyJ-secret-token") && !text.contains("client-secret-value"),
            "{text}"
        );
        assert!(text.contains("env PARTNER_CENTER_TOKEN"), "{text}");
    }
}

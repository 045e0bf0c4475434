//! The effective settings of a run: the command line and the environment, then the config
//! file's profile ([`referrals_cli::profile`]), written back into the global options so that
//! every command sees one set of values.

use std::path::PathBuf;
use std::sync::Arc;

use clap::ArgMatches;
use clap::parser::ValueSource;
use referrals::auth::env as sign_in;
use referrals_cli::profile::{self, Given, Source};

use crate::cli::{Command, DealCommand, Format, GlobalArgs};
use crate::failure::Failure;

/// The variable lookup of the real environment.
pub fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Resolves the settings of `command` and fills the gaps of `global` from the profile.
pub fn apply(
    global: &mut GlobalArgs,
    command: &Command,
    matches: &ArgMatches,
) -> Result<(), Failure> {
    let given = Given {
        base_url: global.base_url.clone().map(|url| {
            (
                url,
                source_of(matches, "base_url", "--base-url", profile::env::BASE_URL),
            )
        }),
        profile: global.profile.clone().map(|name| {
            (
                name,
                source_of(matches, "profile", "--profile", profile::env::PROFILE),
            )
        }),
        format: format_flag(command),
        auth: global.auth.map(|credential| {
            (
                credential,
                source_of(matches, "auth", "--auth", sign_in::AUTH),
            )
        }),
        tenant: identity_flags(command).0,
        client_id: identity_flags(command).1,
        database: database_flag(command),
    };
    let path = profile::config_path(&env_lookup);
    let file = match &path {
        Some((path, source)) => {
            profile::load(path, source).map_err(|e| Failure::Config(e.to_string()))?
        }
        None => None,
    };
    let settings = profile::resolve(&given, &env_lookup, file.as_ref().zip(path))
        .map_err(|e| Failure::Config(e.to_string()))?;
    if global.base_url.is_none() {
        global.base_url = settings.base_url.value.clone();
    }
    if global.auth.is_none() {
        global.auth = settings.auth.value;
    }
    global.settings = Some(Arc::new(settings));
    Ok(())
}

/// The output format: `--format`, else the profile's.
pub fn format(global: &GlobalArgs, flag: Option<Format>) -> Option<Format> {
    flag.or_else(|| global.settings.as_ref().and_then(|s| s.format.value))
}

/// The mirror's database: `--db`, else `REFERRALS_DB`, else the profile's, else `referrals.db`.
pub fn database(global: &GlobalArgs, flag: Option<&PathBuf>) -> PathBuf {
    flag.cloned()
        .or_else(|| {
            global
                .settings
                .as_ref()
                .and_then(|s| s.database.value.clone())
        })
        .unwrap_or_else(|| PathBuf::from(profile::DEFAULT_DATABASE))
}

/// The effective tenant and client id, for the sign-in (environment, then profile).
pub fn identity(global: &GlobalArgs) -> (Option<String>, Option<String>) {
    match &global.settings {
        Some(settings) => (
            settings.tenant.value.clone(),
            settings.client_id.value.clone(),
        ),
        None => (None, None),
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
        _ => None,
    }
}

fn format_flag(command: &Command) -> Option<Format> {
    match command {
        Command::List(args) => args.format,
        Command::Accept(args) | Command::Won(args) => args.format,
        Command::Decline(args) | Command::Lost(args) => args.target.format,
        Command::Deal(
            DealCommand::Register { format, .. } | DealCommand::Update { format, .. },
        ) => *format,
        _ => None,
    }
}

/// Whether a global option came from the command line or its environment variable: global
/// options are recorded in the matches of the subcommand they were written after.
fn source_of(matches: &ArgMatches, id: &str, flag: &'static str, env: &'static str) -> Source {
    let mut current = Some(matches);
    let mut found = None;
    while let Some(level) = current {
        if let Some(source) = level
            .try_get_raw(id)
            .ok()
            .flatten()
            .and(level.value_source(id))
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

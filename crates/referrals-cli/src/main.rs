//! `referrals`: the command-line tool of the Partner Center Referrals SDK.
//!
//! `referrals list --demo --all` lists referrals from an embedded simulator; `referrals --help`
//! documents every command, the environment it reads and its exit codes.
//!
//! Modules: [`cli`] (the clap definition, in the library target with [`referrals_cli::profile`]),
//! [`settings`] (flags, environment and profile combined), [`auth_cmd`] (login, logout, auth
//! status, the credential chain), [`connect`] (the client, or the `--demo` simulator), [`list`],
//! [`single`] (get/create/update/replace), [`lifecycle`] (accept/decline/won/lost), [`deal`]
//! (deal registrations), [`sync_cmd`] and [`changes`] (the local mirror), [`mirror_list`]
//! (`list --db`), [`listen`] and [`webhooks`] (webhook events and their registration),
//! [`completions`], [`config`], [`simulate`], [`output`] (the formats),
//! [`input`] (JSON files), [`progress`], [`resume`] (the command line that continues a
//! listing) and [`failure`] (errors and exit codes).

mod commands;
mod connect;
mod failure;
mod input;
mod output;
mod progress;
mod resume;
mod settings;

use commands::list::mirror as mirror_list;
use commands::{
    auth as auth_cmd, changes, completions, config, deal, lifecycle, list, listen, simulate,
    single, sync as sync_cmd, webhooks,
};

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use referrals::LifecycleAction;
use referrals_cli::cli;

use cli::{AuthCommand, Cli, Command, ConfigCommand, GlobalArgs};
use failure::Failure;

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    init_logging(&cli.global, matches!(cli.command, Command::Listen(_)));
    // Completions and the simulator need no settings, and must work with a broken config file.
    if !matches!(
        cli.command,
        Command::Completions { .. } | Command::Simulate(_)
    ) {
        if let Err(failure) = settings::apply(&mut cli.global, &cli.command, &matches) {
            failure.report();
            return ExitCode::from(failure.code());
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(failure::API);
        }
    };
    let result = runtime.block_on(run(&cli));
    if let Err(failure) = &result {
        failure.report();
    }
    failure::exit_code(&result)
}

async fn run(cli: &Cli) -> Result<(), Failure> {
    let global = &cli.global;
    match &cli.command {
        Command::List(args) => list::run(global, args).await,
        Command::Get { id } => single::get(global, id).await,
        Command::Create { file } => single::create(global, file).await,
        Command::Update {
            id,
            patch,
            if_match,
        } => single::update(global, id, patch, if_match.as_deref()).await,
        Command::Replace { file } => single::replace(global, file).await,
        Command::Simulate(args) => simulate::run(global, args).await,
        Command::Accept(args) => lifecycle::run(global, LifecycleAction::Accept, args, None).await,
        Command::Decline(args) => {
            let reason = args.reason.as_deref();
            lifecycle::run(global, LifecycleAction::Decline, &args.target, reason).await
        }
        Command::Won(args) => lifecycle::run(global, LifecycleAction::Win, args, None).await,
        Command::Lost(args) => {
            let reason = args.reason.as_deref();
            lifecycle::run(global, LifecycleAction::Lose, &args.target, reason).await
        }
        Command::Deal(command) => deal::run(global, command).await,
        Command::Completions { shell } => completions::run(*shell),
        Command::Config(ConfigCommand::Show) => config::show(global),
        Command::Login(args) => auth_cmd::login(global, args).await,
        Command::Logout(args) => auth_cmd::logout(global, args).await,
        Command::Auth(AuthCommand::Status) => auth_cmd::status(global).await,
        Command::Sync(args) => sync_cmd::run(global, args).await,
        Command::Changes(args) => changes::run(global, args),
        Command::Listen(args) => listen::run(global, args).await,
        Command::Webhooks(args) => webhooks::run(global, args).await,
    }
}

/// Logs to stderr only when asked (`-v`: debug, `-vv`: trace; `RUST_LOG` refines), or, for
/// `listen`, one line per webhook event. The client never puts a token in a log event.
fn init_logging(global: &GlobalArgs, listening: bool) {
    if global.verbose == 0 && !listening {
        return;
    }
    let default = if global.verbose == 0 {
        "referrals_receiver=info"
    } else if global.verbose == 1 {
        "referrals=debug"
    } else {
        "referrals=trace,hyper=debug"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

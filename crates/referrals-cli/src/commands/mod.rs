//! One module per command, named after it; a family of commands that share their work
//! (`accept`/`decline`/`won`/`lost`, `login`/`logout`/`auth status`) is named after the family.
//! Each takes the resolved [`Settings`] and its own arguments.

pub mod auth;
pub mod changes;
pub mod completions;
pub mod config;
pub mod create;
pub mod deal;
pub mod due;
pub mod get;
pub mod lifecycle;
pub mod list;
pub mod listen;
pub mod push;
pub mod replace;
pub mod report;
pub mod simulate;
pub mod sync;
pub mod update;
pub mod webhooks;

use referrals::LifecycleAction;

use crate::cli::{AuthCommand, Command, ConfigCommand};
use crate::failure::Failure;
use crate::settings::Settings;

/// Runs `command`.
pub async fn run(command: &Command, settings: &Settings) -> Result<(), Failure> {
    match command {
        Command::List(args) => list::run(settings, args).await,
        Command::Get { id, .. } => get::run(settings, id).await,
        Command::Create {
            file: Some(file),
            db: None,
            input_format: None,
            ..
        } => create::run(settings, file).await,
        Command::Create { file: Some(_), .. } => Err(Failure::Usage(
            "--db and --input-format go with --from (a batch), not --file".into(),
        )),
        Command::Create {
            from: Some(from),
            input_format,
            concurrency,
            wait,
            ..
        } => create::batch(settings, from, *input_format, *concurrency, *wait).await,
        Command::Create { .. } => Err(Failure::Usage("--file or --from is required".into())),
        Command::Update {
            id,
            patch,
            if_match,
            ..
        } => update::run(settings, id, patch, if_match.as_deref()).await,
        Command::Replace { file, .. } => replace::run(settings, file).await,
        Command::Simulate(args) => simulate::run(settings, args).await,
        Command::Accept(args) => {
            lifecycle::run(settings, LifecycleAction::Accept, args, None).await
        }
        Command::Decline(args) => {
            let reason = args.reason.as_deref();
            lifecycle::run(settings, LifecycleAction::Decline, &args.target, reason).await
        }
        Command::Won(args) => lifecycle::run(settings, LifecycleAction::Win, args, None).await,
        Command::Lost(args) => {
            let reason = args.reason.as_deref();
            lifecycle::run(settings, LifecycleAction::Lose, &args.target, reason).await
        }
        Command::Deal(command) => deal::run(settings, command).await,
        Command::Completions { shell } => completions::run(*shell),
        Command::Config(ConfigCommand::Show) => config::show(settings),
        Command::Login(_) => auth::login(settings).await,
        Command::Logout(_) => auth::logout(settings).await,
        Command::Auth(AuthCommand::Status { .. }) => auth::status(settings).await,
        Command::Sync(args) => sync::run(settings, args).await,
        Command::Changes(args) => changes::run(settings, args),
        Command::Listen(args) => listen::run(settings, args).await,
        Command::Push(args) => push::run(settings, args).await,
        Command::Webhooks(args) => webhooks::run(settings, args).await,
        Command::Due(args) => due::run(settings, args).await,
        Command::Report(args) => report::run(settings, args),
    }
}

//! `referrals`, the command-line tool of the Partner Center Referrals SDK: the clap definition
//! ([`cli`], which `cargo xtask man` renders a man page per command from), the settings it
//! resolves ([`settings`], with the config file's [`profile`]s), and [`run`], which the binary
//! calls.
//!
//! Modules of the library's own: `commands` (one per command), `connect` (the client, or the
//! `--demo` simulator), `output` (the formats), `input` (JSON files), `progress`, `resume`
//! (the command line that continues a listing), `plural` (counts in messages), `failure`
//! (errors, hints and exit codes) and `stderr` (every message, secrets masked).
#![deny(missing_docs)]

/// The CLI's `say!`: one message on stderr, every secret the process holds masked and
/// control characters escaped ([`stderr::line`]).
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::stderr::line(format_args!($($arg)*))
    };
}

pub mod cli;
pub mod profile;
pub mod settings;

mod commands;
mod connect;
mod failure;
mod input;
mod output;
mod plural;
mod progress;
mod resume;
mod stderr;

use std::process::ExitCode;

pub use failure::Failure;
pub use settings::Settings;

use cli::Command;

/// Runs `command` with `settings` on an async runtime of its own, logging to stderr as `-v`
/// asks (and, for `listen`, one line per webhook event).
pub fn run(command: &Command, settings: &Settings) -> Result<(), Failure> {
    init_logging(settings.verbose, matches!(command, Command::Listen(_)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Local(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(commands::run(command, settings))
}

/// Reports a failed `outcome` on stderr, with the hints its kind calls for, and gives the
/// exit code it maps to (documented in `referrals --help`).
pub fn exit_code(outcome: Result<(), Failure>) -> ExitCode {
    if let Err(failure) = &outcome {
        failure.report();
    }
    failure::exit_code(&outcome)
}

/// Logs to stderr only when asked (`-v`: debug, `-vv`: trace; `RUST_LOG` refines), or, for
/// `listen`, one line per webhook event. The client never puts a token in a log event, and the
/// writer masks any secret the process holds that a server's text brought into one.
fn init_logging(verbose: u8, listening: bool) {
    if verbose == 0 && !listening {
        return;
    }
    let default = match verbose {
        0 => "referrals_receiver=info",
        1 => "referrals=debug",
        _ => "referrals=trace,hyper=debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(stderr::log_writer)
        .with_target(false)
        .init();
}

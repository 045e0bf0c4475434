//! `referrals`: the command-line tool of the Partner Center Referrals SDK.
//!
//! `referrals list --demo --all` lists referrals from an embedded simulator; `referrals --help`
//! documents every command, the environment it reads and its exit codes. The work is in the
//! `referrals_cli` library: this parses the command line, resolves the settings, runs the
//! command and maps the outcome to the exit code.

use std::process::ExitCode;

use referrals_cli::Settings;
use referrals_cli::cli::Cli;

fn main() -> ExitCode {
    let (cli, matches) = Cli::parse_with_matches();
    let outcome = Settings::from_command_line(&cli, &matches)
        .and_then(|settings| referrals_cli::run(&cli.command, &settings));
    referrals_cli::exit_code(outcome)
}

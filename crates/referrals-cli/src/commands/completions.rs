//! `referrals completions SHELL`: the completion script of every command and option, generated
//! from the clap definition.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;
use crate::failure::Failure;

/// Writes the script for `shell` to stdout.
pub fn run(shell: Shell) -> Result<(), Failure> {
    let mut command = Cli::command();
    // Generated into memory first: the generator panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "referrals", &mut script);
    let mut out = io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

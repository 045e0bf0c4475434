//! `referrals config show`: the effective settings and their sources, secrets only as "set".

use std::io::{self, Write};

use crate::failure::Failure;
use crate::settings::{Settings, env_lookup};

/// Prints the settings resolved for this run.
pub fn show(settings: &Settings) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(settings.render(&env_lookup).as_bytes())?;
    out.flush()?;
    Ok(())
}

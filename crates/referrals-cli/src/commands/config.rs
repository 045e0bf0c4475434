//! `referrals config show`: the effective settings and their sources, secrets only as "set".

use std::io::{self, Write};

use crate::cli::GlobalArgs;
use crate::failure::Failure;
use crate::settings::env_lookup;

/// Prints the settings resolved for this run.
pub fn show(global: &GlobalArgs) -> Result<(), Failure> {
    let Some(settings) = &global.settings else {
        return Err(Failure::Local("the settings were not resolved".into()));
    };
    let mut out = io::stdout().lock();
    out.write_all(
        settings
            .render(&env_lookup, global.token.is_some())
            .as_bytes(),
    )?;
    if global.demo {
        writeln!(
            out,
            "(--demo: the embedded simulator replaces base_url and credentials)"
        )?;
    }
    out.flush()?;
    Ok(())
}

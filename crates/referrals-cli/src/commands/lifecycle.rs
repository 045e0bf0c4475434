//! `referrals accept|decline|won|lost ID`: one life-cycle move each, through
//! `Client::transition` (read, check against the status table, update with `If-Match`).

use std::io::{self, IsTerminal};

use referrals::{LifecycleAction, Referral};

use crate::cli::{Format, GlobalArgs, LifecycleArgs};
use crate::connect::connect;
use crate::failure::Failure;
use crate::{output, settings};

/// Runs one life-cycle command.
pub async fn run(
    global: &GlobalArgs,
    action: LifecycleAction,
    args: &LifecycleArgs,
    reason: Option<&str>,
) -> Result<(), Failure> {
    let id = non_empty_id(&args.id)?;
    if reason.is_some_and(|r| r.trim().is_empty()) {
        return Err(Failure::Usage("--reason: the text is empty".into()));
    }
    let connection = connect(global, None).await?;
    let updated = connection.client.transition(id, action, reason).await?;
    eprintln!(
        "{}: {id} is now {}/{}",
        action,
        action.status(),
        action.substatus()
    );
    print(global, args.format, &updated)
}

/// Prints a referral after a change: `--format`, else the profile's, else a table on a terminal
/// and JSON otherwise.
pub fn print(
    global: &GlobalArgs,
    flag: Option<Format>,
    referral: &Referral,
) -> Result<(), Failure> {
    let format = settings::format(global, flag).unwrap_or_else(|| {
        if io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        }
    });
    output::write_referral(format, io::stdout(), referral)?;
    Ok(())
}

/// The id, refused when blank.
pub fn non_empty_id(id: &str) -> Result<&str, Failure> {
    if id.trim().is_empty() {
        return Err(Failure::Usage("the referral id is empty".into()));
    }
    Ok(id)
}

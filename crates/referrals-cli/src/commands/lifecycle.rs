//! `referrals accept|decline|won|lost ID`: one life-cycle move each, through
//! `Client::transition` (read, check against the status table, update with `If-Match`).

use std::io;

use referrals::{LifecycleAction, Referral};

use crate::cli::{Format, LifecycleArgs};
use crate::connect::connect;
use crate::failure::Failure;
use crate::settings::Settings;
use crate::{input, output};

/// Runs one life-cycle command.
pub async fn run(
    settings: &Settings,
    action: LifecycleAction,
    args: &LifecycleArgs,
    reason: Option<&str>,
) -> Result<(), Failure> {
    let id = input::referral_id(&args.id)?;
    if reason.is_some_and(|r| r.trim().is_empty()) {
        return Err(Failure::Usage("--reason: the text is empty".into()));
    }
    let connection = connect(settings, None).await?;
    let transition = connection.client.transition(id, action, reason).await?;
    if transition.was_already_there() {
        // A retried script succeeds: the referral is where it asked for.
        let unchanged = if reason.is_some() {
            "; nothing sent, its statusReason left as it was"
        } else {
            "; nothing sent"
        };
        say!(
            "{action}: {id} is already {}/{}{unchanged}",
            action.status(),
            action.substatus()
        );
    } else {
        say!(
            "{action}: {id} is now {}/{}",
            action.status(),
            action.substatus()
        );
    }
    print(settings, transition.referral())
}

/// Prints a referral after a change: `--format`, else the profile's, else a table on a terminal
/// and JSON otherwise.
pub fn print(settings: &Settings, referral: &Referral) -> Result<(), Failure> {
    let format = output::format_or(settings.format.value, Format::Json);
    output::write_referral(format, io::stdout(), referral)?;
    Ok(())
}

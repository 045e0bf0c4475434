//! `referrals due`: the New referrals about to expire (or already past their expiration while
//! still New), soonest first, from the API (`$filter=status eq 'New'`) or, with `--db`, from the
//! mirror without any request. Exit 7 when at least one is due, so that a cron job can alert.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::SystemTime;

use futures::StreamExt;
use referrals::{Filter, ListQuery, ReferralStatus};
use referrals_report::{DueList, DueSelector, due_from_mirror, in_words};
use referrals_sync::Mirror;

use crate::cli::{DueArgs, Format};
use crate::connect::connect;
use crate::failure::Failure;
use crate::output::{self, Column, Fields, Heading, Rows};
use crate::plural::count;
use crate::settings::Settings;

/// Runs `referrals due`.
pub async fn run(settings: &Settings, args: &DueArgs) -> Result<(), Failure> {
    let now = SystemTime::now();
    let list = match &args.db {
        Some(db) => {
            // Read-only when the user cannot write it.
            let mirror = Mirror::open_to_read(db)?;
            due_from_mirror(&mirror, now, args.within)?
        }
        None => from_api(settings, args, now).await?,
    };
    let format = output::format_or(settings.format.value, Format::Ndjson);
    write(&list, format, BufWriter::new(io::stdout()))?;
    summarize(&list, args);
    match list.due.len() {
        0 => Ok(()),
        due => Err(Failure::Due(due)),
    }
}

/// Lists the New referrals (every page) and keeps the due ones. The server's filter is not
/// trusted blindly: the selector checks each referral's status too.
async fn from_api(
    settings: &Settings,
    args: &DueArgs,
    now: SystemTime,
) -> Result<DueList, Failure> {
    let connection = connect(settings, None).await?;
    let query = ListQuery::new().filter(&Filter::status(ReferralStatus::New));
    let mut listing = connection.client.list(query);
    let mut selector = DueSelector::new(now, args.within);
    while let Some(referral) = listing.next().await {
        selector.offer(referral.map_err(Failure::Client)?);
    }
    Ok(selector.finish())
}

/// The columns of the table: what a person acts on first.
fn headings() -> Vec<Heading> {
    vec![
        Heading {
            header: "EXPIRES",
            width: 20,
            right: false,
        },
        Heading {
            header: "CUSTOMER",
            width: 28,
            right: false,
        },
        Heading {
            header: "DEAL VALUE",
            width: 16,
            right: true,
        },
        Heading {
            header: "ID",
            width: 36,
            right: false,
        },
    ]
}

/// Writes the due referrals in `format`: the table of [`headings`] (nothing at all when none is
/// due: a cron job that mails its output stays quiet), or the referrals as `list` writes them
/// (json, ndjson, csv).
fn write<W: Write + 'static>(list: &DueList, format: Format, out: W) -> io::Result<()> {
    if format == Format::Table {
        if list.due.is_empty() {
            return Ok(());
        }
        let mut rows = Rows::new(out, true, headings())?;
        for due in &list.due {
            let referral = &due.referral;
            rows.write(&[
                due.left.to_string(),
                Column::CustomerName.value(referral),
                output::deal_value(referral),
                Column::Id.value(referral),
            ])?;
        }
        return rows.flush();
    }
    let mut sink = output::sink(format, out, true, &Fields::all())?;
    for due in &list.due {
        sink.item(&due.referral)?;
    }
    sink.finish()
}

/// One line on stderr: how many are due (always, when some are: that is what a cron job mails),
/// or that none is (only on a terminal, so that a quiet job stays quiet); and the New referrals
/// whose expiration nobody can read.
fn summarize(list: &DueList, args: &DueArgs) {
    let within = in_words(args.within);
    match list.due.len() {
        0 if io::stderr().is_terminal() => say!("nothing is due within {within}"),
        0 => {}
        due => say!(
            "{} due within {within} ({} already expired while New)",
            count(due, "referral"),
            list.expired()
        ),
    }
    if !list.unknown_expiration.is_empty() {
        say!(
            "note: {} without a readable expirationDateTime (they may be due): {}",
            count(list.unknown_expiration.len(), "New referral"),
            list.unknown_expiration.join(", ")
        );
    }
}

//! `referrals list --db PATH`: the referrals of a local mirror, offline, in any `--format`.

use std::io::{self, BufWriter, IsTerminal};
use std::path::Path;

use referrals::Referral;
use referrals_sync::Mirror;

use crate::cli::{Format, ListArgs};
use crate::failure::Failure;
use crate::output;

/// Lists the mirror at `db` (referrals not marked removed, in the order first seen).
pub fn run(db: &Path, args: &ListArgs, format: Option<Format>) -> Result<(), Failure> {
    let online_only = [
        (args.self_only, "--self"),
        (args.engagement_id.is_some(), "--engagement-id"),
        (args.invited_by.is_some(), "--invited-by"),
        (args.page_size.is_some(), "--page-size"),
        (args.filter.is_some(), "--filter"),
        (args.orderby.is_some(), "--orderby"),
        (args.top.is_some(), "--top"),
        (args.max_items.is_some(), "--max-items"),
        (args.resume.is_some(), "--resume"),
        (args.skip.is_some(), "--skip"),
        (args.count, "--count"),
    ];
    if let Some((_, option)) = online_only.iter().find(|(given, _)| *given) {
        return Err(Failure::Usage(format!(
            "{option} cannot be used with --db: the mirror is listed offline, with --status, \
             --select, --format and --no-header only"
        )));
    }
    let format = format.unwrap_or_else(|| {
        if io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Ndjson
        }
    });
    let mirror = Mirror::open_existing(db)?;
    let fields = output::Fields::only(&args.select);
    let mut sink = output::sink(
        format,
        BufWriter::new(io::stdout()),
        !args.no_header,
        &fields,
    )?;
    let listed = mirror.for_each_referral(args.status.as_deref(), |raw| {
        let referral: Referral = serde_json::from_str(raw).map_err(|e| {
            Failure::Local(format!(
                "{}: a stored referral is not valid JSON: {e}",
                db.display()
            ))
        })?;
        sink.item(&referral).map_err(Failure::Output)
    });
    // A write error (a closed pipe) is the output's failure: nothing more is written.
    if let Err(error @ Failure::Output(_)) = listed {
        return Err(error);
    }
    let finished = sink.finish();
    listed?;
    finished?;
    Ok(())
}

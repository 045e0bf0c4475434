//! `referrals list --db PATH`: the referrals of a local mirror, offline, in any `--format`.

use std::io::{self, BufWriter, IsTerminal};
use std::path::Path;

use referrals::Referral;
use referrals_sync::{Mirror, MirrorError};

use crate::cli::{Format, ListArgs};
use crate::failure::Failure;
use crate::output;

/// Lists the mirror at `db` (referrals not marked removed, in the order first seen).
pub fn run(db: &Path, args: &ListArgs) -> Result<(), Failure> {
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
    ];
    if let Some((_, option)) = online_only.iter().find(|(given, _)| *given) {
        return Err(Failure::Usage(format!(
            "{option} cannot be used with --db: the mirror is listed offline, with --status, \
             --format and --no-header only"
        )));
    }
    let format = args.format.unwrap_or_else(|| {
        if io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Ndjson
        }
    });
    let mirror = Mirror::open_existing(db).map_err(|e| Failure::Local(e.to_string()))?;
    let mut sink = output::sink(format, BufWriter::new(io::stdout()), !args.no_header)?;
    // A write error (a closed pipe) is the output's failure, not the mirror's.
    let mut write_error = None;
    let listed = mirror.for_each_referral(args.status.as_deref(), |raw| {
        let referral: Referral = serde_json::from_str(raw).map_err(|e| MirrorError::Invalid {
            path: db.to_path_buf(),
            what: "a stored referral",
            detail: e.to_string(),
        })?;
        sink.item(&referral).map_err(|e| {
            let detail = e.to_string();
            write_error = Some(e);
            MirrorError::Other {
                path: db.to_path_buf(),
                context: "write the listing",
                detail,
            }
        })
    });
    if let Some(error) = write_error {
        return Err(Failure::Output(error));
    }
    let finished = sink.finish();
    listed.map_err(|e| Failure::Local(e.to_string()))?;
    finished?;
    Ok(())
}

//! `referrals list --db PATH`: the referrals of a local mirror, offline, in any `--format`;
//! with `--quarantined`, those `sync` received but could not decode.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use referrals::Referral;
use referrals_sync::Mirror;
use serde_json::value::RawValue;

use crate::cli::{Format, ListArgs};
use crate::failure::Failure;
use crate::output;

/// Lists the mirror at `db` (referrals not marked removed, in the order first seen).
pub fn run(db: &Path, args: &ListArgs, format: Option<Format>) -> Result<(), Failure> {
    let online_only = [
        (args.classic.self_only, "--self"),
        (args.classic.engagement_id.is_some(), "--engagement-id"),
        (args.classic.invited_by.is_some(), "--invited-by"),
        (args.classic.page_size.is_some(), "--page-size"),
        (args.odata.filter.is_some(), "--filter"),
        (args.odata.orderby.is_some(), "--orderby"),
        (args.odata.top.is_some(), "--top"),
        (args.odata.max_page_size.is_some(), "--max-page-size"),
        (args.paging.max_items.is_some(), "--max-items"),
        (args.paging.resume.is_some(), "--resume"),
        (args.odata.skip.is_some(), "--skip"),
        (args.odata.count, "--count"),
    ];
    if let Some((_, option)) = online_only.iter().find(|(given, _)| *given) {
        return Err(Failure::Usage(format!(
            "{option} cannot be used with --db: the mirror is listed offline, with --status, \
             --select, --format and --no-header only"
        )));
    }
    if args.quarantined {
        return quarantined(db, args, format);
    }
    let format = output::format_or(format, Format::Ndjson);
    // Read-only when the user cannot write it.
    let mirror = Mirror::open_to_read(db)?;
    let mut sink = super::stdout_sink(args, format)?;
    let listed = mirror.for_each_referral(args.classic.status.as_deref(), |raw| {
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

/// `list --db PATH --quarantined`: the mirror's quarantine as NDJSON, one line per referral
/// received but not decodable, oldest first, with the referral as received under `raw`.
fn quarantined(db: &Path, args: &ListArgs, format: Option<Format>) -> Result<(), Failure> {
    if format.is_some_and(|format| format != Format::Ndjson) || args.classic.status.is_some() {
        return Err(Failure::Usage(
            "--quarantined lists the quarantine as NDJSON: --format ndjson only, no --status"
                .into(),
        ));
    }
    let mirror = Mirror::open_to_read(db)?;
    let mut out = BufWriter::new(io::stdout());
    for entry in mirror.quarantined()? {
        let row = entry.row;
        let raw = RawValue::from_string(row.raw_json).map_err(|e| {
            Failure::Local(format!(
                "{}: a quarantined referral is not valid JSON: {e}",
                db.display()
            ))
        })?;
        let line = serde_json::json!({
            "id": row.id,
            "page": row.page,
            "index": row.index,
            "updatedDateTime": row.updated_date_time,
            "error": row.error,
            "firstSeenAt": entry.first_seen_at,
            "lastSeenAt": entry.last_seen_at,
            "raw": raw,
        });
        serde_json::to_writer(&mut out, &line).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

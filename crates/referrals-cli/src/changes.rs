//! `referrals changes`: the mirror's journal as NDJSON, from a sequence number or from a named
//! consumer's acknowledged offset, and the acknowledgement that moves that offset.
//!
//! Delivery is at least once: printing never moves an offset. A consumer processes the batch,
//! then acknowledges the last `seq` it finished (`--ack SEQ`); if it dies before that, the next
//! `referrals changes --consumer NAME` prints the same rows again, and no row is ever skipped.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::SystemTime;

use clap::Args;
use referrals_sync::{ChangeRecord, Mirror};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::failure::Failure;

/// Rows read from the journal at a time, so memory stays bounded however long it is.
const BATCH: u64 = 1000;

/// `referrals changes`.
#[derive(Args, Clone, Debug)]
pub struct ChangesArgs {
    /// The mirror written by `referrals sync`
    #[arg(
        long,
        env = "REFERRALS_DB",
        default_value = "referrals.db",
        value_name = "PATH"
    )]
    pub db: PathBuf,

    /// Only changes after this sequence number (default: from the start, or the consumer's
    /// offset)
    #[arg(long, value_name = "SEQ", conflicts_with = "consumer")]
    pub since: Option<i64>,

    /// A named consumer: print the changes after its acknowledged offset (the offset does not
    /// move until --ack)
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,

    /// Acknowledge that the consumer has processed every change up to SEQ (prints nothing)
    #[arg(long, value_name = "SEQ", requires = "consumer")]
    pub ack: Option<i64>,

    /// At most this many changes
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

/// Runs `referrals changes`.
pub fn run(args: &ChangesArgs) -> Result<(), Failure> {
    if let Some(name) = &args.consumer {
        if name.trim().is_empty() {
            return Err(Failure::Usage("--consumer: the name is empty".into()));
        }
    }
    let local = |e: referrals_sync::MirrorError| Failure::Local(e.to_string());
    let mut mirror = Mirror::open_existing(&args.db).map_err(local)?;
    match (&args.consumer, args.ack) {
        (Some(name), Some(seq)) => {
            let offset = mirror
                .acknowledge(name, seq, SystemTime::now())
                .map_err(local)?;
            eprintln!("consumer {name}: acknowledged up to {offset}");
            Ok(())
        }
        (Some(name), None) => {
            let offset = mirror.consumer_offset(name).map_err(local)?;
            let last = write_after(&mirror, offset, args.limit)?;
            if let Some(last) = last {
                eprintln!(
                    "consumer {name}: printed changes {} to {last}; when they are processed, run \
                     `referrals changes --consumer {name} --ack {last}`",
                    offset + 1
                );
            }
            Ok(())
        }
        (None, _) => write_after(&mirror, args.since.unwrap_or(0), args.limit).map(|_| ()),
    }
}

/// One line of the output.
#[derive(Serialize)]
struct Line<'a> {
    seq: i64,
    kind: &'a str,
    id: &'a str,
    etag: Option<&'a str>,
    #[serde(rename = "updatedDateTime")]
    updated_date_time: Option<&'a str>,
    referral: Option<&'a RawValue>,
}

/// Writes the journal rows after `after` (at most `limit`) as NDJSON to stdout; returns the last
/// sequence number written.
pub fn write_after(
    mirror: &Mirror,
    after: i64,
    limit: Option<u64>,
) -> Result<Option<i64>, Failure> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut from = after;
    let mut left = limit.unwrap_or(u64::MAX);
    let mut last = None;
    while left > 0 {
        let rows = mirror
            .changes_after(from, BATCH.min(left))
            .map_err(|e| Failure::Local(e.to_string()))?;
        let Some(end) = rows.last().map(|r| r.seq) else {
            break;
        };
        for row in &rows {
            write_line(&mut out, row)?;
        }
        out.flush()?;
        left = left.saturating_sub(rows.len() as u64);
        from = end;
        last = Some(end);
    }
    out.flush()?;
    Ok(last)
}

fn write_line(out: &mut impl Write, row: &ChangeRecord) -> Result<(), Failure> {
    let referral = match row
        .referral
        .as_deref()
        .map(serde_json::from_str::<&RawValue>)
    {
        Some(Ok(raw)) => Some(raw),
        Some(Err(e)) => {
            return Err(Failure::Local(format!(
                "journal row {}: the stored referral {} is not JSON: {e}",
                row.seq, row.referral_id
            )));
        }
        None => None,
    };
    let line = Line {
        seq: row.seq,
        kind: &row.kind,
        id: &row.referral_id,
        etag: row.etag.as_deref(),
        updated_date_time: row.updated_date_time.as_deref(),
        referral,
    };
    serde_json::to_writer(&mut *out, &line).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(())
}

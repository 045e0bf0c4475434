//! `referrals changes`: the mirror's journal as NDJSON, from a sequence number or from a named
//! consumer's acknowledged offset, and the acknowledgement that moves that offset.
//!
//! Delivery is at least once: printing never moves an offset. A consumer processes the batch,
//! then acknowledges the last `seq` it finished (`--ack SEQ`); if it dies before that, the next
//! `referrals changes --consumer NAME` prints the same rows again, and no row is ever skipped.

use std::io::{self, BufWriter, Write};
use std::time::SystemTime;

use referrals_sync::{ChangeRecord, Mirror};

use crate::cli::ChangesArgs;
use crate::failure::Failure;
use crate::settings::Settings;

/// Rows read from the journal at a time, so memory stays bounded however long it is.
const BATCH: u64 = 1000;

/// Runs `referrals changes`.
pub fn run(settings: &Settings, args: &ChangesArgs) -> Result<(), Failure> {
    if let Some(name) = &args.consumer {
        if name.trim().is_empty() {
            return Err(Failure::Usage("--consumer: the name is empty".into()));
        }
    }
    let db = settings.database();
    match (&args.consumer, args.ack) {
        (Some(name), Some(seq)) => {
            let mut mirror = Mirror::open_existing(&db)?;
            let offset = mirror.acknowledge(name, seq, SystemTime::now())?;
            say!("consumer {name}: acknowledged up to {offset}");
            Ok(())
        }
        (Some(name), None) => {
            // Printing writes nothing: a mirror the user cannot write is read read-only.
            let mirror = Mirror::open_to_read(&db)?;
            let offset = mirror.consumer_offset(name)?;
            let last = write_after(&mirror, offset, args.limit)?;
            if let Some(last) = last {
                say!(
                    "consumer {name}: printed changes {} to {last}; when they are processed, run \
                     `referrals changes --consumer {name} --ack {last}`",
                    offset + 1
                );
            }
            Ok(())
        }
        (None, _) => {
            let mirror = Mirror::open_to_read(&db)?;
            write_after(&mirror, args.since.unwrap_or(0), args.limit).map(|_| ())
        }
    }
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
        let rows = mirror.changes_after(from, BATCH.min(left))?;
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

/// One line: the change's JSON object (the library's one encoding, which `push` sends too).
fn write_line(out: &mut impl Write, row: &ChangeRecord) -> Result<(), Failure> {
    let json = row.to_json().map_err(|e| {
        Failure::Local(format!(
            "journal row {}: the stored referral {} is not JSON: {e}",
            row.seq, row.referral_id
        ))
    })?;
    out.write_all(&json)?;
    out.write_all(b"\n")?;
    Ok(())
}

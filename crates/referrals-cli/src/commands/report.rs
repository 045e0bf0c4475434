//! `referrals report`: the mirror's pipeline as one self-contained HTML page, written readable
//! by its owner only (it holds customers' names and deal values).

use std::time::SystemTime;

use referrals_report::Report;
use referrals_sync::Mirror;

use crate::cli::ReportArgs;
use crate::failure::Failure;
use crate::plural::count;
use crate::settings::Settings;

/// Runs `referrals report`.
pub fn run(settings: &Settings, args: &ReportArgs) -> Result<(), Failure> {
    let db = settings.database();
    // Reading writes nothing: a mirror the user cannot write is read read-only.
    let mirror = Mirror::open_to_read(&db)?;
    let report = Report::from_mirror(&mirror, SystemTime::now(), args.within)?;
    report.write_html(&args.out)?;
    say!(
        "wrote {}: {}, {} due within {}",
        args.out.display(),
        count(report.pipeline.total, "referral"),
        report.due.due.len(),
        referrals_report::in_words(args.within)
    );
    Ok(())
}

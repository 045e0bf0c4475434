//! `referrals create --file F`: a referral from a JSON file, printed as created.
//! `referrals create --from F`: a batch created exactly once (`referrals_sync::batch`), one
//! JSON line per line of the file on stdout.

mod csv_input;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use referrals_sync::batch::{
    BatchError, BatchOptions, LineOutcome, MAX_CONCURRENCY, Plan, PlanError, create_batch,
};
use referrals_sync::{SharedMirror, SyncError};

use crate::cli::InputFormat;
use crate::connect::connect;
use crate::failure::Failure;
use crate::plural::count;
use crate::progress::BatchProgress;
use crate::settings::Settings;
use crate::{input, output};

/// Runs `referrals create --file F`.
pub async fn run(settings: &Settings, file: &Path) -> Result<(), Failure> {
    let referral = input::referral(file)?;
    let connection = connect(settings, None).await?;
    output::print_pretty(&connection.client.create(&referral).await?)
}

/// Runs `referrals create --from F`.
pub async fn batch(
    settings: &Settings,
    from: &Path,
    format: Option<InputFormat>,
    concurrency: usize,
    wait: Duration,
) -> Result<(), Failure> {
    let started = Instant::now();
    // Every argument and every line is checked before the mirror is opened or a request sent.
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        return Err(Failure::Usage(format!(
            "--concurrency: {concurrency} is not 1 to {MAX_CONCURRENCY}"
        )));
    }
    let bytes = input::read("--from", from, input::MAX_BATCH_BYTES)?;
    let is_csv = from
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let format = format.unwrap_or(if is_csv {
        InputFormat::Csv
    } else {
        InputFormat::Ndjson
    });
    let plan = match format {
        InputFormat::Ndjson => Plan::from_ndjson(&bytes),
        InputFormat::Csv => csv_input::plan(&bytes),
    }
    .map_err(|e| refused(from, &e))?;

    let db = settings.database();
    let (lock, mirror) = super::sync::lock_and_open(&db, wait).await?;
    let connection = connect(settings, None).await?;
    let mut options = BatchOptions::with_concurrency(concurrency);
    options.sync.api = Some(super::sync::mirror_api(&connection));
    let mirror: SharedMirror = std::sync::Arc::new(std::sync::Mutex::new(mirror));
    // Logs (-v) go to stderr too: a bar would garble them.
    let progress = BatchProgress::new(settings.verbose == 0, plan.lines().len());
    let mut stdout = std::io::stdout().lock();
    let mut written = Ok(());
    let mut done = referrals_sync::batch::BatchCounts::default();
    let outcome = create_batch(
        &connection.client,
        &mirror,
        &lock,
        &plan,
        &options,
        |line: &LineOutcome| {
            if written.is_ok() {
                written = write_line(&mut stdout, line);
            }
            match line.outcome {
                referrals_sync::batch::Outcome::Created => done.created += 1,
                referrals_sync::batch::Outcome::Exists => done.exists += 1,
                referrals_sync::batch::Outcome::Refused => done.refused += 1,
                _ => done.failed += 1,
            }
            progress.line(counts_text(&done));
        },
    )
    .await;
    progress.clear();
    drop(lock);
    let seconds = started.elapsed().as_secs_f64();
    let report = match outcome {
        Ok(report) => report,
        Err(error) => {
            say!("{} before it stopped", counts_text(&done));
            return Err(stopped(error, &db));
        }
    };
    let counts = report.counts;
    say!(
        "{} of {} in {seconds:.1} s",
        counts_text(&counts),
        count(plan.lines().len(), "line")
    );
    written?;
    if counts.refused + counts.failed == 0 {
        return Ok(());
    }
    let mut message = format!(
        "{} refused, {} failed: stdout says which and why",
        count(counts.refused, "line"),
        counts.failed
    );
    if counts.failed > 0 {
        message.push_str(
            "\n  hint: run the same command again: it finds out from the mirror whether each \
             failed line was created, and never creates one twice",
        );
    }
    Err(Failure::Lines(message))
}

/// `3 created, 1 exists, 0 refused, 0 failed`.
fn counts_text(counts: &referrals_sync::batch::BatchCounts) -> String {
    format!(
        "{} created, {} exist, {} refused, {} failed",
        counts.created, counts.exists, counts.refused, counts.failed
    )
}

fn write_line(out: &mut impl Write, line: &LineOutcome) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Every problem of the file, one per line under the error.
fn refused(from: &Path, error: &PlanError) -> Failure {
    let mut message = format!("--from {}: {error}", from.display());
    for problem in &error.problems {
        message.push_str(&format!("\n  {problem}"));
    }
    Failure::Usage(message)
}

/// The failure a batch stopped with, and what the next run does about it.
fn stopped(error: BatchError, db: &Path) -> Failure {
    match error {
        BatchError::Concurrency(_) => Failure::Usage(error.to_string()),
        BatchError::Sync(SyncError::Listing { error, .. }) => {
            say!(
                "the sync before sending stopped part-way; nothing was sent; every page \
                 received is in {}",
                db.display()
            );
            Failure::Client(error)
        }
        BatchError::Sync(SyncError::Options(error)) => Failure::Usage(error.to_string()),
        BatchError::Sync(SyncError::Mirror(error)) | BatchError::Mirror(error) => {
            Failure::Mirror(error)
        }
        BatchError::Stopped { line, error } => {
            say!(
                "the batch stopped at line {line}; run it again when fixed: what was created \
                 is not created again"
            );
            Failure::Client(error)
        }
        other => Failure::Local(other.to_string()),
    }
}

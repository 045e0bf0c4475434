//! `referrals sync`: the local mirror brought up to date (one run of `referrals-sync`), with
//! one summary line on stderr and, with `--changes ndjson`, the run's changes on stdout.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use referrals::transport::{BoxFuture, HyperTransport, Transport, TransportError};
use referrals_sync::{Mirror, Reason, SyncError, SyncLock, SyncOptions, SyncReport};

use crate::cli::GlobalArgs;
use crate::connect::connect_with;
use crate::failure::Failure;

/// `referrals sync`.
#[derive(Args, Clone, Debug)]
pub struct SyncArgs {
    /// The mirror: a SQLite file (created if missing; tables documented in docs/sync.md)
    #[arg(
        long,
        env = "REFERRALS_DB",
        default_value = "referrals.db",
        value_name = "PATH"
    )]
    pub db: PathBuf,

    /// List every referral (and mark those no longer listed removed), even if an incremental
    /// listing would do
    #[arg(long)]
    pub full: bool,

    /// How far before the newest `updatedDateTime` already synced an incremental listing
    /// reaches, e.g. 90s, 5m, 1h
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub overlap: Duration,

    /// A full listing when the last one is older than this, e.g. 12h, 7d
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    pub full_every: Duration,

    /// Referrals per page, 1 to 100
    #[arg(long, value_name = "N", default_value_t = referrals_sync::plan::DEFAULT_PAGE_SIZE)]
    pub page_size: u32,

    /// Also write the changes this run records to stdout
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub changes: Option<ChangesFormat>,

    /// How long to wait for another `referrals sync` on the same file before giving up
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub wait: Duration,
}

/// The formats of `--changes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChangesFormat {
    /// One JSON object per change, as `referrals changes` prints them
    Ndjson,
}

/// Runs `referrals sync`.
pub async fn run(global: &GlobalArgs, args: &SyncArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let options = SyncOptions {
        full: args.full,
        full_every: args.full_every,
        overlap: args.overlap,
        page_size: args.page_size,
    };
    referrals_sync::plan::full_plan(Reason::Requested, &options)
        .map_err(|e| Failure::Usage(format!("--page-size: {e}")))?;
    let db = args.db.clone();
    let wait = args.wait;
    let (lock, mirror) = tokio::task::spawn_blocking(move || {
        let lock = SyncLock::acquire(&db, wait)?;
        Ok::<_, referrals_sync::MirrorError>((lock, Mirror::open(&db)?))
    })
    .await
    .map_err(|e| Failure::Local(format!("the mirror thread stopped: {e}")))?
    .map_err(|e| Failure::Local(e.to_string()))?;
    let counter = Arc::new(CountingTransport::new(global)?);
    let connection = connect_with(global, None, Some(counter.clone())).await?;
    let mirror = Arc::new(Mutex::new(mirror));
    let journal_before = with_mirror(&mirror, |m| {
        use referrals_sync::store::Store;
        m.last_seq().map_err(|e| Failure::Local(e.to_string()))
    })
    .await?;

    let outcome = referrals_sync::sync(&connection.client, &mirror, &options).await;
    if args.changes.is_some() {
        with_mirror(&mirror, move |m| {
            crate::changes::write_after(m, journal_before, None).map(|_| ())
        })
        .await?;
    }
    let requests = counter.count();
    let seconds = started.elapsed().as_secs_f64();
    drop(lock);
    match outcome {
        Ok(report) => {
            eprintln!("{}", summary(&report, requests, seconds));
            Ok(())
        }
        Err(SyncError::Listing { error, report }) => {
            eprintln!("{}", summary(&report, requests, seconds));
            eprintln!(
                "sync stopped part-way: every page received is in {}; run `referrals sync` \
                 again to continue from there",
                args.db.display()
            );
            Err(Failure::Interrupted(error))
        }
        Err(SyncError::Options(message)) => Err(Failure::Usage(message)),
        Err(error) => Err(Failure::Local(error.to_string())),
    }
}

/// Runs `f` on the mirror on a blocking thread: SQLite stays off the async reactor.
async fn with_mirror<T: Send + 'static>(
    mirror: &Arc<Mutex<Mirror>>,
    f: impl FnOnce(&mut Mirror) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    let mirror = mirror.clone();
    tokio::task::spawn_blocking(move || {
        let mut guard = mirror
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    })
    .await
    .map_err(|e| Failure::Local(format!("the mirror thread stopped: {e}")))?
}

/// `synced: C created, U updated, R removed, N unchanged; P pages, Q requests in T s`, for
/// what this process did, and why the run was full when the server forced it.
fn summary(report: &SyncReport, requests: u64, seconds: f64) -> String {
    let done = report.session;
    let mut line = format!(
        "synced: {} created, {} updated, {} removed, {} unchanged; {} pages, {} requests in {:.1} s",
        done.created, done.updated, done.removed, done.unchanged, done.pages, requests, seconds
    );
    if report.reason.is_fallback() {
        line.push_str(&format!(" ({})", report.reason));
    }
    if report.skipped > 0 {
        line.push_str(&format!(
            " ({} referrals without an id not mirrored)",
            report.skipped
        ));
    }
    line
}

/// Counts the requests sent (every attempt), around the default transport.
#[derive(Debug)]
struct CountingTransport {
    inner: HyperTransport,
    sent: AtomicU64,
}

impl CountingTransport {
    fn new(global: &GlobalArgs) -> Result<Self, Failure> {
        let mut builder = HyperTransport::builder();
        if let Some(timeout) = global.timeout {
            builder = builder.attempt_timeout(timeout).connect_timeout(timeout);
        }
        let inner = builder
            .build()
            .map_err(|e| Failure::Local(format!("transport: {e}")))?;
        Ok(CountingTransport {
            inner,
            sent: AtomicU64::new(0),
        })
    }

    fn count(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Transport for CountingTransport {
    fn send(
        &self,
        request: referrals::query::http::Request<referrals::query::bytes::Bytes>,
    ) -> BoxFuture<
        '_,
        Result<referrals::query::http::Response<referrals::query::bytes::Bytes>, TransportError>,
    > {
        self.sent.fetch_add(1, Ordering::Relaxed);
        self.inner.send(request)
    }
}

/// `90`, `90s`, `5m`, `2h`, `7d` (a number alone is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 5m, 2h or 7d"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
    };
    value
        .checked_mul(unit)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_and_mistakes_are_named() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("5 weeks").unwrap_err().contains("unit"));
        assert!(parse_duration("soon").unwrap_err().contains("soon"));
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}

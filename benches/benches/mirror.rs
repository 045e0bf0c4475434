//! The SQLite mirror alone: what a sync costs on the writing side, without HTTP or JSON decode.
//!
//! 10,000 synthetic referrals, decoded and turned into rows before measuring, applied in 100
//! pages of 100, 16 pages per transaction (what the sync engine does when the writer falls
//! behind), each batch with its checkpoint, then the run finished (the removal scan of a full
//! run included) and the write-ahead log copied into the database file (`wal_checkpoint
//! (TRUNCATE)`: every byte written is in the file, so a run that happens to stay under SQLite's
//! automatic checkpoint is not credited for the copy it leaves to later):
//!
//! - `mirror/first_sync_10k`: into a new, empty file (every row created and journaled);
//! - `mirror/unchanged_10k`: the same referrals again into the filled file, received a second
//!   later each time (every row compared and found unchanged: only its `referral_seen` row is
//!   written; SQLite skips rewriting a row to the same bytes, so the time must move).
//!
//! The files live in `MIRROR_BENCH_DIR` (default: the system temporary directory), so the
//! disk's part can be measured apart from SQLite's (e.g. `MIRROR_BENCH_DIR=/dev/shm`).
//!
//! `cargo bench -p referrals-benches --bench mirror`

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use referrals_fixtures::synthetic::Synthetic;
use referrals_model::{Referral, Timestamp};
use referrals_query::{Checkpoint, ListQuery};
use referrals_sync::plan::{Reason, RunKind};
use referrals_sync::{Counts, PageUpdate, RunRecord};
use referrals_sync::{Mirror, MirrorRow};

const REFERRALS: usize = 10_000;
const PAGE: usize = 100;
const BATCH: usize = 16;

fn dir() -> PathBuf {
    let base = std::env::var_os("MIRROR_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("mirror-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory for the bench files");
    dir
}

fn pages() -> Vec<PageUpdate> {
    let synthetic = Synthetic::new(42);
    let checkpoint = Checkpoint::start(&ListQuery::new().page_size(PAGE as u32).expect("size"));
    let now = Timestamp::from_system_time(seen_at(0));
    synthetic
        .referrals(REFERRALS)
        .chunks(PAGE)
        .map(|items| PageUpdate {
            rows: items
                .iter()
                .map(|value| {
                    let referral: Referral =
                        serde_json::from_value(value.clone()).expect("a synthetic referral");
                    MirrorRow::from_referral(&referral).expect("a row")
                })
                .collect(),
            checkpoint: checkpoint.clone(),
            kind: RunKind::Full,
            reason: Reason::FirstRun,
            newest_updated: None,
            now: now.clone(),
            quarantined: Vec::new(),
        })
        .collect()
}

/// When the pages of run `run` are received: a second apart from run to run, so that every
/// run moves `last_seen_at` (its run starts half a second before, as the engine's page times
/// never precede their run).
fn seen_at(run: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + run)
}

/// `pages`, received in run `run`.
fn received_in(pages: &[PageUpdate], run: u64) -> Vec<PageUpdate> {
    let now = Timestamp::from_system_time(seen_at(run));
    pages
        .iter()
        .map(|page| PageUpdate {
            now: now.clone(),
            ..page.clone()
        })
        .collect()
}

/// One full run of `pages` (received in run `run`) into `mirror`, as the engine writes it,
/// and the log copied into the file.
fn run(mirror: &mut Mirror, pages: &[PageUpdate], run: u64) -> Counts {
    let started_at = Timestamp::from_system_time(seen_at(run) - Duration::from_millis(500));
    mirror
        .begin_run(&RunRecord {
            kind: RunKind::Full,
            reason: Reason::FirstRun,
            started_at,
            since: None,
            checkpoint: pages[0].checkpoint.clone(),
            newest_updated: None,
            counts: Counts::default(),
        })
        .expect("begin");
    for batch in pages.chunks(BATCH) {
        mirror.apply_pages(batch).expect("apply");
    }
    let counts = mirror
        .finish_run(seen_at(run), None, referrals_sync::plan::DEFAULT_OVERLAP)
        .expect("finish");
    mirror
        .connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    counts
}

fn bench(c: &mut Criterion) {
    let dir = dir();
    let pages = pages();
    let mut group = c.benchmark_group("mirror");
    group.throughput(Throughput::Elements(REFERRALS as u64));
    group.sample_size(10);
    let mut file = 0u64;
    group.bench_function("first_sync_10k", |b| {
        b.iter_batched(
            || {
                file += 1;
                let path = dir.join(format!("first-{file}.db"));
                Mirror::open(&path).expect("a new mirror")
            },
            |mut mirror| {
                let counts = run(&mut mirror, &pages, 0);
                assert_eq!(counts.created, REFERRALS as u64);
                mirror
            },
            BatchSize::PerIteration,
        );
    });
    let mut filled = Mirror::open(dir.join("filled.db")).expect("a mirror");
    run(&mut filled, &pages, 0);
    let mut later = 0;
    group.bench_function("unchanged_10k", |b| {
        b.iter_batched(
            || {
                later += 1;
                (received_in(&pages, later), later)
            },
            |(pages, at)| {
                let counts = run(&mut filled, &pages, at);
                assert_eq!(counts.unchanged, REFERRALS as u64, "{counts:?}");
                assert_eq!(counts.removed, 0, "{counts:?}");
                pages
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
    drop(filled);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);

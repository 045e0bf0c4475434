//! The SQLite mirror alone: what a sync costs on the writing side, without HTTP or JSON decode.
//!
//! 10,000 synthetic referrals, decoded and turned into rows before measuring, applied in 100
//! pages of 100, 16 pages per transaction (what the sync engine does when the writer falls
//! behind), each batch with its checkpoint, then the run finished (the removal scan of a full
//! run included):
//!
//! - `mirror/first_sync_10k`: into a new, empty file (every row created and journaled);
//! - `mirror/unchanged_10k`: the same pages again into the filled file (every row compared and
//!   found unchanged: only their `referral_seen` rows are written).
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
use referrals_sync::store::{Counts, PageUpdate, RunRecord, Store};
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
    let now = Timestamp::from_system_time(seen_at());
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
        })
        .collect()
}

/// When every page is received: fixed, so that the same pages can be applied again in a later
/// run (which starts a second before it, as the engine's page times never precede their run).
fn seen_at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// One full run of `pages` into `mirror`, as the engine writes it.
fn run(mirror: &mut Mirror, pages: &[PageUpdate]) -> Counts {
    let started_at = Timestamp::from_system_time(seen_at() - Duration::from_secs(1));
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
    mirror
        .finish_run(&Timestamp::from_system_time(seen_at()))
        .expect("finish")
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
                let counts = run(&mut mirror, &pages);
                assert_eq!(counts.created, REFERRALS as u64);
                mirror
            },
            BatchSize::PerIteration,
        );
    });
    let mut filled = Mirror::open(dir.join("filled.db")).expect("a mirror");
    run(&mut filled, &pages);
    group.bench_function("unchanged_10k", |b| {
        b.iter(|| {
            let counts = run(&mut filled, &pages);
            assert_eq!(counts.unchanged, REFERRALS as u64, "{counts:?}");
        });
    });
    group.finish();
    drop(filled);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);

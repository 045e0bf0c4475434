//! Partitioned listings against a distant service, for `benches/README.md`: the `referrals`
//! binary against simulators in this process that answer every API request after a latency
//! (200 ms by default), one of them also capping the requests in flight.
//!
//! Each figure is a ratio to the **sequential floor** measured in the same run: the pages a
//! sequential listing needs (⌈N / 100⌉) × the time one page of 100 takes to fetch (the median of
//! 7 single-page requests through the client, decode included). Rows:
//!
//! - `list --all` by default (partitioned);
//! - `list --all --concurrency 1` (the sequential listing, for comparison; skipped with
//!   `--no-sequential`, as it takes the floor's time itself);
//! - `list --all` against a service answering `429` (`Retry-After: 1`) above 3 requests in flight;
//! - `sync` into a new file (first sync) by default (partitioned), and with `--concurrency 1`.
//!
//! The last column divides each default run by its `--concurrency 1` run. Every listing's
//! output is checked: each referral exactly once; every mirror: each referral once.
//!
//! `loopback N ROUNDS` measures instead, against a simulator without latency, rounds of
//! `list --all > /dev/null`, a first `sync` into a new file and an unchanged `sync --full` of
//! it, interleaved; medians and the two ratios (first sync ÷ list, re-sync ÷ first sync).
//!
//! ```text
//! cargo build --release -p referrals-cli -p referrals-benches --bins --example partition_measure
//! target/release/examples/partition_measure 10000
//! target/release/examples/partition_measure 100000 --no-sequential
//! target/release/examples/partition_measure 10000 --latency-ms 200 --no-sync
//! target/release/examples/partition_measure loopback 100000 3
//! ```
//! The binary is looked for next to this example's directory (`target/release/referrals`), or
//! in `REFERRALS_BIN`. `--bins` is needed: `--example` alone selects only the example, and the
//! `referrals` binary would not be built.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use referrals::transport::HyperTransport;
use referrals::{Client, ListQuery};
use referrals_simulator::{Simulator, SimulatorHandle};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Options {
    n: usize,
    latency: Duration,
    sequential: bool,
    sync: bool,
}

fn options() -> Result<Options> {
    let mut options = Options {
        n: 10_000,
        latency: Duration::from_millis(200),
        sequential: true,
        sync: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-sequential" => options.sequential = false,
            "--no-sync" => options.sync = false,
            "--latency-ms" => {
                let ms: u64 = args.next().ok_or("--latency-ms needs a value")?.parse()?;
                options.latency = Duration::from_millis(ms);
            }
            n => options.n = n.parse()?,
        }
    }
    Ok(options)
}

fn main() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("loopback") {
        let n: usize = args.get(1).map_or(Ok(100_000), |n| n.parse())?;
        let rounds: usize = args.get(2).map_or(Ok(3), |n| n.parse())?;
        let sim = runtime.block_on(Simulator::builder().referrals(n).seed(42).start())?;
        let dir = std::env::temp_dir().join(format!("partition-loopback-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let outcome = loopback(&sim, &dir, rounds);
        let _ = std::fs::remove_dir_all(&dir);
        return outcome;
    }
    let options = options()?;
    let start = |cap: Option<usize>| {
        let mut builder = Simulator::builder()
            .referrals(options.n)
            .seed(42)
            .latency(options.latency);
        if let Some(cap) = cap {
            builder = builder.max_in_flight(cap);
        }
        runtime.block_on(builder.start())
    };
    let open = start(None)?;
    let capped = start(Some(3))?;
    let dir = std::env::temp_dir().join(format!("partition-measure-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let outcome = measure(&runtime, &options, &open, &capped, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    options: &Options,
    open: &SimulatorHandle,
    capped: &SimulatorHandle,
    dir: &Path,
) -> Result<()> {
    let n = options.n;
    let page = runtime.block_on(page_time(open))?;
    let pages = n.div_ceil(100);
    let floor = page.as_secs_f64() * pages as f64;
    println!(
        "{n} referrals, latency {} ms: one page of 100 takes {:.1} ms (median of 7); \
         sequential floor = {pages} pages x {:.1} ms = {floor:.2} s",
        options.latency.as_millis(),
        page.as_secs_f64() * 1e3,
        page.as_secs_f64() * 1e3
    );
    println!();
    println!("| run | wall | ÷ floor | requests | 429s | exact | ÷ `--concurrency 1` |");
    println!("|---|---|---|---|---|---|---|");
    let row = |name: &str,
               wall: f64,
               sim: &SimulatorHandle,
               before: (u64, u64),
               exact: bool,
               sequential: Option<f64>| {
        let requests = sim.api_requests() - before.0;
        let throttled = sim.throttled() - before.1;
        println!(
            "| {name} | {wall:.2} s | **{:.3}** | {requests} | {throttled} ({:.1} %) | {} | {} |",
            wall / floor,
            100.0 * throttled as f64 / requests.max(1) as f64,
            if exact { "yes" } else { "**no**" },
            sequential.map_or("—".to_owned(), |s| format!("{:.3}", wall / s)),
        );
    };
    let counts = |sim: &SimulatorHandle| (sim.api_requests(), sim.throttled());

    let sequential = if options.sequential {
        let before = counts(open);
        let (wall, exact) = list(open, dir, &["--concurrency", "1"])?;
        row(
            "`list --all --concurrency 1`",
            wall,
            open,
            before,
            exact,
            None,
        );
        Some(wall)
    } else {
        None
    };

    let before = counts(open);
    let (wall, exact) = list(open, dir, &[])?;
    row(
        "`list --all` (default)",
        wall,
        open,
        before,
        exact,
        sequential,
    );

    let before = counts(capped);
    let (wall, exact) = list(capped, dir, &[])?;
    row(
        "`list --all`, service capping 3 in flight",
        wall,
        capped,
        before,
        exact,
        sequential,
    );

    if options.sync {
        let sequential = if options.sequential {
            let before = counts(open);
            let (wall, exact) = first_sync(open, dir, &["--concurrency", "1"])?;
            row(
                "first `sync --concurrency 1`",
                wall,
                open,
                before,
                exact,
                None,
            );
            Some(wall)
        } else {
            None
        };
        let before = counts(open);
        let (wall, exact) = first_sync(open, dir, &[])?;
        row(
            "first `sync` (default)",
            wall,
            open,
            before,
            exact,
            sequential,
        );
    }
    Ok(())
}

/// Rounds of `list --all > /dev/null`, a first `sync` and an unchanged `sync --full` against a
/// simulator without latency; medians and their ratios.
fn loopback(sim: &SimulatorHandle, dir: &Path, rounds: usize) -> Result<()> {
    let n = sim.referral_count();
    let (mut lists, mut firsts, mut resyncs) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let started = Instant::now();
        let status = Command::new(binary()?)
            .args(["list", "--all", "--format", "ndjson", "--base-url"])
            .arg(sim.base_url())
            .arg("--token")
            .arg(sim.token())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()?;
        lists.push(started.elapsed().as_secs_f64());
        if !status.success() {
            return Err(format!("list failed: {status}").into());
        }
        let db = dir.join(format!("round-{round}.db"));
        let (first, exact) = sync_into(sim, &db, &[])?;
        if !exact {
            return Err("the first sync did not mirror every referral once".into());
        }
        firsts.push(first);
        let (resync, exact) = sync_into(sim, &db, &["--full"])?;
        if !exact {
            return Err("the re-sync did not keep every referral once".into());
        }
        resyncs.push(resync);
        let _ = std::fs::remove_file(&db);
        println!(
            "round {}: list --all {:.2} s, first sync {:.2} s, unchanged sync --full {:.2} s",
            round + 1,
            lists[round],
            firsts[round],
            resyncs[round]
        );
    }
    let median = |times: &mut Vec<f64>| {
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    let (list, first, resync) = (
        median(&mut lists),
        median(&mut firsts),
        median(&mut resyncs),
    );
    println!();
    println!(
        "{n} referrals on loopback, medians of {rounds}: list --all {list:.2} s, first sync \
         {first:.2} s, unchanged sync --full {resync:.2} s"
    );
    println!(
        "first sync ÷ list --all = **{:.3}**; unchanged re-sync ÷ first sync = **{:.3}**",
        first / list,
        resync / first
    );
    Ok(())
}

/// The median time of 7 requests for one page of 100 referrals through the client.
async fn page_time(sim: &SimulatorHandle) -> Result<Duration> {
    let client = Client::builder()
        .base_url(sim.base_url())
        .bearer_token(sim.token())
        .transport(HyperTransport::builder().no_proxy().build()?)
        .build()?;
    let mut times = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let pages: Vec<_> = client
            .list(ListQuery::new().page_size(100)?)
            .max_pages(1)
            .pages()
            .try_collect()
            .await?;
        times.push(started.elapsed());
        if pages.first().map_or(0, |p| p.items.len()) != 100.min(sim.referral_count()) {
            return Err("a page of 100 was expected".into());
        }
    }
    times.sort();
    Ok(times[times.len() / 2])
}

fn binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("REFERRALS_BIN") {
        return Ok(path.into());
    }
    let example = std::env::current_exe()?;
    let release = example
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot find target/release")?;
    let binary = release.join("referrals");
    if !binary.is_file() {
        return Err(format!(
            "{} is missing: build it with `cargo build --release -p referrals-cli --bins`, or set \
             REFERRALS_BIN",
            binary.display()
        )
        .into());
    }
    Ok(binary)
}

/// Runs `referrals list --all --format ndjson` (plus `extra`) into a file; its wall time, and
/// whether it listed every referral exactly once.
fn list(sim: &SimulatorHandle, dir: &Path, extra: &[&str]) -> Result<(f64, bool)> {
    let out = dir.join("list.ndjson");
    let file = std::fs::File::create(&out)?;
    let started = Instant::now();
    let status = Command::new(binary()?)
        .args(["list", "--all", "--format", "ndjson", "--base-url"])
        .arg(sim.base_url())
        .arg("--token")
        .arg(sim.token())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(file)
        .status()?;
    let wall = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("list {extra:?} failed: {status}").into());
    }
    let text = std::fs::read_to_string(&out)?;
    let mut ids = HashSet::new();
    let mut lines = 0;
    for line in text.lines() {
        lines += 1;
        let value: serde_json::Value = serde_json::from_str(line)?;
        ids.insert(value["id"].as_str().unwrap_or_default().to_owned());
    }
    Ok((wall, lines == sim.referral_count() && ids.len() == lines))
}

/// Runs `referrals sync` (plus `extra`) into a new file; its wall time, and whether the mirror
/// holds every referral once.
fn first_sync(sim: &SimulatorHandle, dir: &Path, extra: &[&str]) -> Result<(f64, bool)> {
    let db = dir.join("first.db");
    let _ = std::fs::remove_file(&db);
    let outcome = sync_into(sim, &db, extra);
    let _ = std::fs::remove_file(&db);
    outcome
}

/// Runs `referrals sync` (plus `extra`) into `db`; its wall time, and whether the mirror then
/// holds every referral once.
fn sync_into(sim: &SimulatorHandle, db: &Path, extra: &[&str]) -> Result<(f64, bool)> {
    let started = Instant::now();
    let output = Command::new(binary()?)
        .args(["sync", "--base-url"])
        .arg(sim.base_url())
        .arg("--token")
        .arg(sim.token())
        .arg("--db")
        .arg(db)
        .args(extra)
        .stdin(Stdio::null())
        .output()?;
    let wall = started.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(format!("sync failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let listed = Command::new(binary()?)
        .args(["list", "--db"])
        .arg(db)
        .args(["--format", "ndjson", "--select", "id"])
        .output()?;
    let text = String::from_utf8(listed.stdout)?;
    let ids: HashSet<&str> = text.lines().collect();
    let lines = text.lines().count();
    Ok((wall, lines == sim.referral_count() && ids.len() == lines))
}

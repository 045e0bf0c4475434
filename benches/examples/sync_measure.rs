//! Sync figures for `benches/README.md`, measured with the `referrals` binary against a
//! simulator in this process (its requests counted by the simulator):
//!
//! - `requests N`: requests of a sync of an unchanged account of N referrals, then after k
//!   updates for several k; the database's bytes per referral.
//! - `compare N ROUNDS`: wall time and peak RSS (`/usr/bin/time -f %M`) of an initial
//!   `referrals sync` against `referrals list --all --format ndjson > /dev/null`, interleaved
//!   in the same run; medians.
//! - `resync N ROUNDS`: wall time and CPU of an initial `referrals sync` and of the
//!   `referrals sync --full` of the unchanged account that follows it (the weekly reconcile),
//!   each round on a new file; medians.
//!
//! ```text
//! cargo build --release -p referrals-cli -p referrals-benches --bins --example sync_measure
//! target/release/examples/sync_measure requests 100000
//! target/release/examples/sync_measure compare 100000 3
//! target/release/examples/sync_measure resync 100000 3
//! ```
//! The binary is looked for next to this example's directory (`target/release/referrals`), or
//! in `REFERRALS_BIN`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use referrals_simulator::{Simulator, SimulatorHandle};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("requests");
    let n: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let rounds: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let simulator = runtime.block_on(Simulator::builder().referrals(n).seed(42).start())?;
    let dir = std::env::temp_dir().join(format!("sync-measure-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let outcome = match mode {
        "requests" => requests(&simulator, &dir, n),
        "compare" => compare(&simulator, &dir, n, rounds),
        "resync" => resync(&simulator, &dir, n, rounds),
        other => Err(format!("unknown mode {other}: requests, compare or resync").into()),
    };
    let _ = std::fs::remove_dir_all(&dir);
    outcome
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
    Ok(release.join("referrals"))
}

/// Runs `referrals sync` on `db`; returns its summary line.
fn sync(simulator: &SimulatorHandle, db: &Path, extra: &[&str]) -> Result<String> {
    let output = Command::new(binary()?)
        .args(["sync", "--base-url", &simulator.base_url(), "--token"])
        .arg(simulator.token())
        .arg("--db")
        .arg(db)
        .args(extra)
        .stdin(Stdio::null())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(format!("sync failed: {stderr}").into());
    }
    stderr
        .lines()
        .find(|l| l.starts_with("synced: "))
        .map(str::to_owned)
        .ok_or_else(|| format!("no summary in {stderr}").into())
}

/// The number before `label` in a summary line.
fn figure(summary: &str, label: &str) -> u64 {
    let words: Vec<&str> = summary
        .split([' ', ',', ';'])
        .filter(|w| !w.is_empty())
        .collect();
    words
        .windows(2)
        .find(|w| w[1] == label)
        .and_then(|w| w[0].parse().ok())
        .unwrap_or(0)
}

fn requests(simulator: &SimulatorHandle, dir: &Path, n: usize) -> Result<()> {
    let db = dir.join("requests.db");
    let before = simulator.api_requests();
    let first = sync(simulator, &db, &[])?;
    println!(
        "initial sync of {n}: {} requests ({first})",
        simulator.api_requests() - before
    );
    let bytes = std::fs::metadata(&db)?.len();
    println!(
        "database: {bytes} bytes, {:.0} bytes per referral",
        bytes as f64 / n as f64
    );
    let ids: Vec<String> = simulator
        .referrals()
        .into_iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    println!(
        "| k updates | requests | pages | updated | unchanged (overlap) | ⌈(k + overlap) / 100⌉ |"
    );
    println!("|---|---|---|---|---|---|");
    let mut next = 0usize;
    for k in [0usize, 1, 10, 100, 1000, 10_000] {
        for _ in 0..k {
            let id = &ids[(next * 7919) % ids.len()];
            next += 1;
            simulator.update_referral(id, |map| {
                map.insert("statusReason".into(), format!("measure {next}").into());
            });
        }
        let before = simulator.api_requests();
        let summary = sync(simulator, &db, &[])?;
        let requests = simulator.api_requests() - before;
        let updated = figure(&summary, "updated");
        let unchanged = figure(&summary, "unchanged");
        println!(
            "| {k} | {requests} | {} | {updated} | {unchanged} | {} |",
            figure(&summary, "pages"),
            (k as u64 + unchanged).div_ceil(100).max(1)
        );
    }
    Ok(())
}

/// What one timed child took.
struct Timing {
    /// Wall seconds.
    wall: f64,
    /// Peak RSS in KiB (when /usr/bin/time is there).
    rss: Option<u64>,
    /// User + system CPU seconds (when /usr/bin/time is there).
    cpu: Option<f64>,
}

/// One timed child.
fn timed(mut command: Command) -> Result<Timing> {
    let rss_file = std::env::temp_dir().join(format!("sync-measure-rss-{}", std::process::id()));
    let time = Path::new("/usr/bin/time");
    let mut run = if time.exists() {
        let mut wrapped = Command::new(time);
        wrapped.arg("-f").arg("%M %U %S").arg("-o").arg(&rss_file);
        wrapped.arg(command.get_program()).args(command.get_args());
        wrapped
    } else {
        std::mem::replace(&mut command, Command::new("true"))
    };
    let started = Instant::now();
    let status = run
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("{run:?} failed: {status}").into());
    }
    let report = std::fs::read_to_string(&rss_file).unwrap_or_default();
    let _ = std::fs::remove_file(&rss_file);
    let fields: Vec<&str> = report.split_whitespace().collect();
    let rss = fields.first().and_then(|f| f.parse().ok());
    let cpu = match (fields.get(1), fields.get(2)) {
        (Some(user), Some(sys)) => match (user.parse::<f64>(), sys.parse::<f64>()) {
            (Ok(user), Ok(sys)) => Some(user + sys),
            _ => None,
        },
        _ => None,
    };
    Ok(Timing {
        wall: seconds,
        rss,
        cpu,
    })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Prints the medians of two commands' wall and CPU seconds, and the ratio of the second to
/// the first.
fn report(
    title: &str,
    (base_name, base_wall, base_cpu): (&str, &mut [f64], &mut [f64]),
    (name, wall, cpu): (&str, &mut [f64], &mut [f64]),
) {
    let (base, measured) = (median(base_wall), median(wall));
    println!(
        "{title}: {base_name} {base:.2} s, {name} {measured:.2} s: {:.2}x",
        measured / base
    );
    if !base_cpu.is_empty() && !cpu.is_empty() {
        let (base, measured) = (median(base_cpu), median(cpu));
        println!(
            "CPU (user + system, the client process only), median: {base_name} {base:.2} s, {name} {measured:.2} s: {:.2}x",
            measured / base
        );
    }
}

/// `binary args… --base-url {simulator} --token {token}`.
fn against(binary: &Path, simulator: &SimulatorHandle, args: &[&str]) -> Command {
    let mut command = Command::new(binary);
    command
        .args(args)
        .arg("--base-url")
        .arg(simulator.base_url())
        .arg("--token")
        .arg(simulator.token());
    command
}

/// `referrals sync` of `simulator` into `db`, with `extra` arguments.
fn sync_into(binary: &Path, simulator: &SimulatorHandle, db: &Path, extra: &[&str]) -> Command {
    let mut sync = against(binary, simulator, &["sync"]);
    sync.arg("--db").arg(db).args(extra);
    sync
}

fn compare(simulator: &SimulatorHandle, dir: &Path, n: usize, rounds: usize) -> Result<()> {
    let binary = binary()?;
    let (mut list_times, mut sync_times) = (Vec::new(), Vec::new());
    let (mut list_cpu, mut sync_cpu) = (Vec::new(), Vec::new());
    let (mut list_rss, mut sync_rss) = (0, 0);
    for round in 0..rounds {
        let list = against(
            &binary,
            simulator,
            &["list", "--all", "--page-size", "100", "--format", "ndjson"],
        );
        let listed = timed(list)?;
        list_times.push(listed.wall);
        list_cpu.extend(listed.cpu);
        list_rss = list_rss.max(listed.rss.unwrap_or(0));

        let db = dir.join(format!("compare-{round}.db"));
        let synced = timed(sync_into(&binary, simulator, &db, &[]))?;
        sync_times.push(synced.wall);
        sync_cpu.extend(synced.cpu);
        sync_rss = sync_rss.max(synced.rss.unwrap_or(0));
        let _ = std::fs::remove_file(&db);
        println!(
            "round {round}: list {:.2} s, sync {:.2} s",
            listed.wall, synced.wall
        );
    }
    report(
        &format!("{n} referrals, median of {rounds}"),
        (
            "list --all --page-size 100 --format ndjson",
            &mut list_times,
            &mut list_cpu,
        ),
        ("initial sync", &mut sync_times, &mut sync_cpu),
    );
    println!("peak RSS (max over rounds): list {list_rss} KiB, sync {sync_rss} KiB");
    Ok(())
}

fn resync(simulator: &SimulatorHandle, dir: &Path, n: usize, rounds: usize) -> Result<()> {
    let binary = binary()?;
    let (mut first_times, mut full_times) = (Vec::new(), Vec::new());
    let (mut first_cpu, mut full_cpu) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let db = dir.join(format!("resync-{round}.db"));
        let first = timed(sync_into(&binary, simulator, &db, &[]))?;
        let full = timed(sync_into(&binary, simulator, &db, &["--full"]))?;
        first_times.push(first.wall);
        full_times.push(full.wall);
        first_cpu.extend(first.cpu);
        full_cpu.extend(full.cpu);
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        println!(
            "round {round}: initial sync {:.2} s, unchanged full re-sync {:.2} s",
            first.wall, full.wall
        );
    }
    report(
        &format!("{n} referrals, median of {rounds}"),
        ("initial sync", &mut first_times, &mut first_cpu),
        ("unchanged `sync --full`", &mut full_times, &mut full_cpu),
    );
    Ok(())
}

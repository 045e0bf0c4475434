//! `list --all` partitioned into `createdDateTime` ranges: stopped with `kill` part-way and
//! resumed from the one checkpoint it printed, every range continuing; a service that ignores
//! the ranges, said with `-v`; an explicit order kept. A first `sync` partitioned likewise,
//! killed part-way and continued by the next.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::Duration;

use referrals_simulator::{Fault, FaultPlan, FaultRule, Simulator, SimulatorHandle};
use serde_json::Value;

use crate::support::{assert_success, output, pointed_at, process, run, stderr, text};

const TOKEN: &str = "partition-token";

async fn simulator(referrals: usize, latency: Duration, faults: FaultPlan) -> SimulatorHandle {
    Simulator::builder()
        .referrals(referrals)
        .seed(23)
        .token(TOKEN)
        .latency(latency)
        .faults(faults)
        .start()
        .await
        .expect("the simulator starts")
}

fn served_ids(sim: &SimulatorHandle) -> Vec<String> {
    sim.referral_ids()
}

fn lines_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("one referral per line");
            value["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[track_caller]
fn assert_exactly(listed: &[String], sim: &SimulatorHandle) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for id in listed {
        *seen.entry(id.as_str()).or_default() += 1;
    }
    let repeated = seen.values().filter(|n| **n > 1).count();
    assert_eq!(repeated, 0, "referrals listed twice");
    let served = served_ids(sim);
    let missing = served
        .iter()
        .filter(|id| !seen.contains_key(id.as_str()))
        .count();
    assert_eq!(missing, 0, "referrals missed");
    assert_eq!(listed.len(), served.len());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_all_stopped_with_kill_resumes_every_range_from_the_checkpoint_it_printed() {
    // 40 pages at 100 ms, two at a time: seconds, far longer than reading three pages takes.
    let sim = simulator(4_000, Duration::from_millis(100), FaultPlan::new()).await;
    let mut child = process()
        .args(["list", "--all", "--format", "ndjson", "--concurrency", "2"])
        .env("PARTNER_CENTER_BASE_URL", sim.base_url())
        .env("PARTNER_CENTER_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    // Reads a few pages' worth, stops the process with `kill` (SIGTERM), then reads the rest.
    let read = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        let mut line = String::new();
        while lines.len() < 300 {
            line.clear();
            if reader.read_line(&mut line).expect("stdout") == 0 {
                break;
            }
            lines.push(line.trim_end().to_owned());
        }
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        let mut rest = String::new();
        reader.read_to_string(&mut rest).expect("stdout");
        lines.extend(rest.lines().map(str::to_owned));
        let mut errors = String::new();
        stderr_pipe.read_to_string(&mut errors).expect("stderr");
        (lines, errors)
    });
    let (lines, errors) = read.await.unwrap();
    let status = child.wait().expect("the process ends");
    assert_eq!(status.code(), Some(4), "stopped part-way:\n{errors}");
    let first = lines_ids(&lines.join("\n"));
    assert!(
        first.len() >= 300 && first.len() < 4_000,
        "{} listed",
        first.len()
    );
    let token = errors
        .lines()
        .find_map(|line| line.strip_prefix("resume with: --resume "))
        .unwrap_or_else(|| panic!("no resume hint in:\n{errors}"))
        .to_owned();
    assert!(
        token.starts_with("rq2."),
        "one checkpoint for every range: {token}"
    );
    assert!(
        errors.contains("--all") && errors.contains("--concurrency 2"),
        "the full command repeats the paging:\n{errors}"
    );

    let resumed = run(
        &mut pointed_at(&sim, TOKEN),
        &["list", "--all", "--format", "ndjson", "--resume", &token],
    );
    assert_success(&resumed);
    let mut listed = first;
    listed.extend(lines_ids(&text(&resumed.stdout)));
    assert_exactly(&listed, &sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_ignoring_the_ranges_is_listed_once_and_verbose_says_so() {
    let sim = simulator(
        1_000,
        Duration::ZERO,
        FaultPlan::new().rule(FaultRule::always(Fault::IgnoreFilter)),
    )
    .await;
    let listed = output(
        process()
            .args(["-v", "list", "--all", "--format", "ndjson"])
            .env("PARTNER_CENTER_BASE_URL", sim.base_url())
            .env("PARTNER_CENTER_TOKEN", TOKEN),
    );
    assert_success(&listed);
    assert_exactly(&lines_ids(&text(&listed.stdout)), &sim);
    let said = stderr(&listed);
    assert!(
        said.contains("ignored a createdDateTime range filter")
            && said.contains("one sequential listing instead"),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_order_is_kept_by_a_partitioned_listing() {
    let sim = simulator(1_200, Duration::ZERO, FaultPlan::new()).await;
    let listed = run(
        &mut pointed_at(&sim, TOKEN),
        &[
            "list",
            "--all",
            "--orderby",
            "createdDateTime desc",
            "--format",
            "ndjson",
        ],
    );
    assert_success(&listed);
    let stdout = text(&listed.stdout);
    assert_exactly(&lines_ids(&stdout), &sim);
    let created: Vec<String> = stdout
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            value["createdDateTime"].as_str().unwrap().to_owned()
        })
        .collect();
    // Synthetic timestamps share one format: text order is time order.
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path_and_query.contains("createdDateTime%20ge")),
        "listed in ranges"
    );
}

/// Requests of `sim` that listed a `createdDateTime` range.
fn range_requests(sim: &SimulatorHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path_and_query.contains("createdDateTime%20ge"))
        .count()
}

/// `referrals sync --db` (the path to add) pointed at `sim`.
fn sync_process(sim: &SimulatorHandle) -> std::process::Command {
    let mut command = process();
    command
        .args(["sync", "--db"])
        .env("PARTNER_CENTER_BASE_URL", sim.base_url())
        .env("PARTNER_CENTER_TOKEN", TOKEN);
    command
}

/// The summary line's first numbers: created, updated, removed, unchanged.
fn synced(out: &std::process::Output) -> [u64; 4] {
    let text = stderr(out);
    let line = text
        .lines()
        .find(|line| line.starts_with("synced: "))
        .unwrap_or_else(|| panic!("no summary line in:\n{text}"));
    let numbers: Vec<u64> = line
        .split([' ', ',', ';'])
        .filter_map(|word| word.parse().ok())
        .collect();
    [numbers[0], numbers[1], numbers[2], numbers[3]]
}

/// Referrals in the mirror at `db`, read while a sync may be writing it (0 before its tables).
fn mirrored(db: &std::path::Path) -> u64 {
    use referrals_sync::rusqlite::{Connection, OpenFlags};
    let Ok(connection) = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return 0;
    };
    connection
        .query_row("SELECT count(*) FROM referrals", [], |row| row.get(0))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_is_partitioned_and_concurrency_one_is_the_sequential_sync() {
    let sim = simulator(1_050, Duration::ZERO, FaultPlan::new()).await;
    let dir = crate::support::temp_dir();
    let sync =
        |db: &str, extra: &[&str]| output(sync_process(&sim).arg(dir.path().join(db)).args(extra));
    let partitioned = sync("partitioned.db", &[]);
    assert_success(&partitioned);
    assert_eq!(synced(&partitioned), [1_050, 0, 0, 0]);
    assert!(range_requests(&sim) >= 2, "ranges were listed");

    sim.clear_requests();
    let sequential = sync("sequential.db", &["--concurrency", "1"]);
    assert_success(&sequential);
    assert_eq!(synced(&sequential), [1_050, 0, 0, 0]);
    let requests = sim.requests();
    assert_eq!(requests.len(), 11);
    assert!(
        requests
            .iter()
            .all(|r| r.path_and_query.contains("pageSize=100")),
        "the 2018 form, pages of 100"
    );

    let both = sync("both.db", &["--concurrency", "4", "--page-size", "10"]);
    assert_eq!(both.status.code(), Some(2), "{}", stderr(&both));
}

/// `referrals sync` killed (SIGKILL) while a partitioned first sync has written some pages:
/// the next `sync` continues that run, every range from where it stopped, receives only what
/// was not written yet, and the mirror ends equal to the server.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_sync_killed_part_way_continues_every_range() {
    // 30 pages at 100 ms, two at a time: seconds, far longer than writing one page takes.
    let sim = simulator(3_000, Duration::from_millis(100), FaultPlan::new()).await;
    let dir = crate::support::temp_dir();
    let db = dir.path().join("m.db");
    let sync = || {
        let mut command = sync_process(&sim);
        command.arg(&db).args(["--concurrency", "2"]);
        command
    };
    let mut child = sync()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut waited = 0;
    while mirrored(&db) == 0 {
        assert!(child.try_wait().unwrap().is_none(), "the sync ended early");
        assert!(waited < 60_000, "no page was written in a minute");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 10;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let written = mirrored(&db);
    assert!(written > 0 && written < 3_000, "{written}");

    let next = output(&mut sync());
    assert_success(&next);
    assert_eq!(
        synced(&next),
        [3_000 - written, 0, 0, 0],
        "only what was not written, nothing twice"
    );
    let mut served = served_ids(&sim);
    served.sort();
    let connection = referrals_sync::rusqlite::Connection::open(&db).unwrap();
    let mut statement = connection
        .prepare("SELECT id FROM referrals WHERE removed_at IS NULL ORDER BY id")
        .unwrap();
    let ids: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, served);
    let problems = referrals_sync::Mirror::open_existing(&db)
        .unwrap()
        .verify_journal()
        .unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
}

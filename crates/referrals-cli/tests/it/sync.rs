//! `referrals sync`, `referrals changes` and `referrals list --db` run as processes against a
//! simulator started in the test, and the crash harness: `referrals sync` killed with SIGKILL
//! at random moments while the simulator changes its referrals and injects faults.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use referrals_fixtures::snapshot::{self, Snapshot};
use referrals_simulator::{Fault, FaultPlan, FaultRule, SimulatorHandle};
use referrals_sync::{Mirror, SyncLock};
use serde_json::Value;

use crate::support::{self, assert_success, output, process, stderr, temp_dir};

const TOKEN: &str = "sync-test-token-41c9";

pub(crate) fn sync_command(sim: &SimulatorHandle, db: &Path, extra: &[&str]) -> Command {
    let mut command = process();
    command
        .args([
            "sync",
            "--base-url",
            &sim.base_url(),
            "--token",
            TOKEN,
            "--db",
        ])
        .arg(db)
        .args(extra);
    command
}

pub(crate) async fn simulator(referrals: usize, faults: FaultPlan) -> SimulatorHandle {
    support::simulator(referrals, 5, TOKEN, faults).await
}

/// The summary line's numbers: created, updated, removed, unchanged, pages, requests.
fn summary(output: &Output) -> [u64; 6] {
    let text = stderr(output);
    let line = text
        .lines()
        .find(|line| line.starts_with("synced: "))
        .unwrap_or_else(|| panic!("no summary line in:\n{text}"));
    let words: Vec<&str> = line
        .split([' ', ',', ';'])
        .filter(|w| !w.is_empty())
        .collect();
    // synced: C created U updated R removed N unchanged P pages Q requests in T s, with
    // `1 page` and `1 request` in the singular.
    let numbers: Vec<u64> = words.iter().filter_map(|w| w.parse().ok()).collect();
    let noun = |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let expected = [
        "synced:",
        "created",
        "updated",
        "removed",
        "unchanged",
        noun(numbers[4], "page", "pages"),
        noun(numbers[5], "request", "requests"),
        "in",
        "s",
    ];
    let labels: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| w.parse::<f64>().is_err())
        .collect();
    assert_eq!(labels[..9], expected, "{line}");
    assert!(words[words.len() - 2].parse::<f64>().is_ok(), "{line}");
    [
        numbers[0], numbers[1], numbers[2], numbers[3], numbers[4], numbers[5],
    ]
}

/// id → (eTag, JSON) of the mirror's referrals not marked removed.
fn mirror_state(db: &Path) -> Snapshot {
    let mirror = Mirror::open_existing(db).unwrap();
    let mut referrals = Vec::new();
    mirror
        .for_each_referral(None, |raw| {
            referrals.push(serde_json::from_str(raw).unwrap());
            Ok::<_, referrals_sync::MirrorError>(())
        })
        .unwrap();
    snapshot::of(referrals)
}

fn simulator_state(sim: &SimulatorHandle) -> Snapshot {
    snapshot::of(sim.referrals())
}

fn assert_journal_consistent(db: &Path) {
    let problems = Mirror::open_existing(db).unwrap().verify_journal().unwrap();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_prints_one_summary_and_an_unchanged_account_costs_one_request() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let sim = simulator(120, FaultPlan::new()).await;
    let first = output(&mut sync_command(&sim, &db, &["--page-size", "50"]));
    assert_success(&first);
    assert_eq!(summary(&first), [120, 0, 0, 0, 3, 3]);
    assert!(first.stdout.is_empty());

    let second = output(&mut sync_command(&sim, &db, &["--page-size", "50"]));
    assert_success(&second);
    let [created, updated, removed, _, pages, requests] = summary(&second);
    assert_eq!(
        (created, updated, removed, pages, requests),
        (0, 0, 0, 1, 1)
    );
    assert_eq!(sim.api_requests(), 4);

    sim.churn(6);
    let third = output(&mut sync_command(
        &sim,
        &db,
        &["--page-size", "50", "--changes", "ndjson"],
    ));
    assert_success(&third);
    let [created, updated, ..] = summary(&third);
    let lines: Vec<Value> = String::from_utf8(third.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as u64, created + updated);
    for line in &lines {
        for key in ["seq", "kind", "id", "etag", "updatedDateTime", "referral"] {
            assert!(line.get(key).is_some(), "{key} missing in {line}");
        }
        assert_eq!(line["referral"]["id"], line["id"]);
    }
    assert_eq!(mirror_state(&db).len() as u64, 120 + created);
}

/// Piped stderr (not a terminal): the summary line only, no progress drawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_shows_no_progress_when_stderr_is_not_a_terminal() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let sim = simulator(60, FaultPlan::new()).await;
    let out = output(&mut sync_command(&sim, &db, &["--page-size", "10"]));
    assert_success(&out);
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].starts_with("synced: 60 created"), "{text}");
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text:?}");
}

/// On a terminal (a pseudo-terminal from `script`), `sync` draws a line with its pages and
/// referrals while it runs, then clears it for the summary.
#[cfg(unix)]
#[test]
fn sync_shows_its_progress_on_a_terminal() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let plain = process();
    let line = format!(
        "'{}' sync --demo --page-size 10 --db '{}'",
        plain.get_program().to_string_lossy(),
        db.display()
    );
    let mut command = Command::new("script");
    command
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null());
    for (name, value) in plain.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let Ok(out) = command.output() else {
        eprintln!("skipped: no `script` to give the command a terminal");
        return;
    };
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sync (full): "), "{text:?}");
    assert!(text.contains(" referrals of 250"), "{text:?}");
    assert!(text.contains("synced: 250 created"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_sees_an_unacknowledged_batch_again_and_never_skips_one() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let sim = simulator(30, FaultPlan::new()).await;
    assert_success(&output(&mut sync_command(&sim, &db, &[])));
    let batch = |extra: &[&str]| {
        let out = output(
            process()
                .args(["changes", "--db"])
                .arg(&db)
                .args(["--consumer", "crm"])
                .args(extra),
        );
        assert_success(&out);
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["seq"]
                    .as_i64()
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    let first = batch(&["--limit", "10"]);
    assert_eq!(first, (1..=10).collect::<Vec<_>>());
    // The consumer died before acknowledging: the same batch again.
    assert_eq!(batch(&["--limit", "10"]), first);
    // It processed up to 4 before dying this time.
    assert_success(&output(
        process()
            .args(["changes", "--db"])
            .arg(&db)
            .args(["--consumer", "crm", "--ack", "4"]),
    ));
    assert_eq!(batch(&["--limit", "3"]), vec![5, 6, 7]);
    assert_eq!(batch(&[]).len(), 26);
    // Without a consumer, --since reads from any point.
    let since = output(
        process()
            .args(["changes", "--db"])
            .arg(&db)
            .args(["--since", "28"]),
    );
    assert_eq!(String::from_utf8(since.stdout).unwrap().lines().count(), 2);
    // Acknowledging beyond the journal is refused.
    let beyond = output(process().args(["changes", "--db"]).arg(&db).args([
        "--consumer",
        "crm",
        "--ack",
        "31",
    ]));
    assert!(!beyond.status.success());
    assert!(
        stderr(&beyond).contains("not in the journal"),
        "{}",
        stderr(&beyond)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_db_lists_the_mirror_offline() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let sim = simulator(40, FaultPlan::new()).await;
    assert_success(&output(&mut sync_command(&sim, &db, &[])));
    let requests = sim.api_requests();
    let all = output(
        process()
            .args(["list", "--db"])
            .arg(&db)
            .args(["--format", "ndjson"]),
    );
    assert_success(&all);
    let listed: Vec<Value> = String::from_utf8(all.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<Value> = sim.referrals();
    assert_eq!(
        listed, expected,
        "every referral, as received, in the order first seen"
    );
    let new = output(
        process()
            .args(["list", "--db"])
            .arg(&db)
            .args(["--status", "New", "--format", "csv"]),
    );
    assert_success(&new);
    let rows = String::from_utf8(new.stdout).unwrap().lines().count() - 1;
    let news = expected.iter().filter(|r| r["status"] == "New").count();
    assert_eq!(rows, news);
    assert_eq!(sim.api_requests(), requests, "offline");
    let refused = output(
        process()
            .args(["list", "--db"])
            .arg(&db)
            .args(["--top", "5"]),
    );
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--top cannot be used with --db"));
    let missing = output(
        process()
            .args(["list", "--db"])
            .arg(dir.path().join("none.db")),
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("no such mirror"),
        "{}",
        stderr(&missing)
    );
    assert!(!dir.path().join("none.db").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_referral_is_quarantined_and_sync_exits_6_until_a_version_that_decodes() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let sim = simulator(30, FaultPlan::new()).await;
    let bad = sim.referrals()[14]["id"].as_str().unwrap().to_owned();
    sim.set_faults(FaultPlan::new().rule(FaultRule::always(Fault::mistyped_field(&bad, "status"))));

    let first = output(&mut sync_command(&sim, &db, &["--page-size", "10"]));
    assert_eq!(first.status.code(), Some(6), "{}", stderr(&first));
    let err = stderr(&first);
    assert!(
        err.contains("29 created"),
        "the rest of the run is mirrored: {err}"
    );
    assert!(
        err.contains("1 referral not decodable, quarantined"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "error: 1 referral could not be decoded and is kept as received in the quarantine of {}: {bad}",
            db.display()
        )),
        "{err}"
    );
    assert!(err.contains("--quarantined"), "{err}");
    assert!(
        !err.contains("run `referrals sync` again"),
        "the run completed: {err}"
    );
    let mut expected = simulator_state(&sim);
    expected.retain(|id, _| *id != bad);
    assert_eq!(mirror_state(&db), expected);

    let rows = quarantine_of(&db);
    let [row] = &rows[..] else { panic!("{rows:?}") };
    assert_eq!(row["id"], bad.as_str());
    assert_eq!(
        (row["page"].as_u64(), row["index"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(row["raw"]["status"], 7, "as received");
    assert!(
        row["error"].as_str().unwrap().contains("items[4].status"),
        "{row}"
    );

    // Still mistyped: the next sync lists it again and exits 6 again.
    let again = output(&mut sync_command(&sim, &db, &["--page-size", "10"]));
    assert_eq!(again.status.code(), Some(6), "{}", stderr(&again));

    // Fixed: mirrored, the row cleared, exit 0.
    sim.set_faults(FaultPlan::new());
    let fixed = output(&mut sync_command(&sim, &db, &["--page-size", "10"]));
    assert_success(&fixed);
    assert_eq!(mirror_state(&db), simulator_state(&sim));
    assert_eq!(quarantine_of(&db), Vec::<Value>::new());
    assert_journal_consistent(&db);
}

/// `referrals list --db DB --quarantined`, each line parsed.
fn quarantine_of(db: &Path) -> Vec<Value> {
    let listed = output(
        process()
            .args(["list", "--db"])
            .arg(db)
            .arg("--quarantined"),
    );
    assert_success(&listed);
    String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `command` run as a user who cannot write what root made: itself when this process is not
/// root, else the same command through `setpriv` as uid/gid 65534 (`nobody`); `None` (the test
/// is skipped) when root has no `setpriv`.
#[cfg(unix)]
fn as_unprivileged(command: Command) -> Option<Command> {
    let uid = output(Command::new("id").arg("-u"));
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some(command);
    }
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(command.get_program())
        .args(command.get_args())
        .stdin(Stdio::null());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(name, value),
            None => wrapped.env_remove(name),
        };
    }
    let usable = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
        .status()
        .is_ok_and(|status| status.success());
    usable.then_some(wrapped)
}

/// `list --db` and `changes` (printing, not acknowledging) read a mirror its user cannot write
/// (the file 0400, in a directory they cannot write, so SQLite cannot make its -wal and -shm
/// files there): read-only, writing nothing; `--ack` is refused as a write.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_db_and_changes_read_a_mirror_the_user_cannot_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir();
    let shelf = dir.path().join("shelf");
    std::fs::create_dir(&shelf).unwrap();
    let db = shelf.join("m.db");
    let sim = simulator(12, FaultPlan::new()).await;
    assert_success(&output(&mut sync_command(&sim, &db, &[])));
    let mode = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    // For `nobody` when the test runs as root: the file is theirs, the directories are not.
    std::os::unix::fs::chown(&db, Some(65534), Some(65534)).ok();
    mode(dir.path(), 0o755);
    mode(&db, 0o400);
    mode(&shelf, 0o555);
    let before = std::fs::read(&db).unwrap();
    let run = |args: &[&str]| {
        let mut command = process();
        command.args(args).arg("--db").arg(&db);
        as_unprivileged(command).map(|mut command| output(&mut command))
    };
    let Some(listed) = run(&["list", "--format", "ndjson"]) else {
        eprintln!("skipped: running as root without setpriv, where permissions do not bind");
        mode(&shelf, 0o755);
        return;
    };
    let changes = run(&["changes"]).unwrap();
    let consumer = run(&["changes", "--consumer", "crm"]).unwrap();
    let ack = run(&["changes", "--consumer", "crm", "--ack", "3"]).unwrap();
    mode(&shelf, 0o755);
    mode(&db, 0o600);

    assert_success(&listed);
    let listed: Vec<Value> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed, sim.referrals());
    for printed in [&changes, &consumer] {
        assert_success(printed);
        assert_eq!(String::from_utf8_lossy(&printed.stdout).lines().count(), 12);
    }
    assert_eq!(ack.status.code(), Some(1), "{}", stderr(&ack));
    assert!(stderr(&ack).contains("cannot write"), "{}", stderr(&ack));
    assert_eq!(std::fs::read(&db).unwrap(), before, "nothing written");
    let mut left: Vec<_> = std::fs::read_dir(&shelf)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["m.db", "m.db.lock"]);
}

/// A mirror belongs to one API: `sync --demo` then a real `sync` on the same file is refused,
/// naming both, before any request and writing nothing, with the way to a new mirror; and
/// the other way round. The demo simulator (a new port each run) is the same API each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_mirror_refuses_a_real_sync_and_a_real_one_refuses_the_demo() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let demo = |db: &Path| {
        let mut command = process();
        command.args(["sync", "--demo", "--db"]).arg(db);
        output(&mut command)
    };
    assert_success(&demo(&db));
    assert_success(&demo(&db));
    let before = (mirror_state(&db), file_state(&db));
    assert_eq!(before.0.len(), 250);
    let sim = simulator(20, FaultPlan::new()).await;
    let refused = output(&mut sync_command(&sim, &db, &[]));
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains("the demo simulator (--demo)")
            && message.contains(&sim.base_url())
            && message.contains("nothing was written"),
        "{message}"
    );
    assert!(
        message.contains("hint: ") && message.contains("--db ") && message.contains("m-other.db"),
        "{message}"
    );
    assert!(!message.contains("synced:"), "{message}");
    assert_eq!(sim.api_requests(), 0);
    assert_eq!((mirror_state(&db), file_state(&db)), before);

    let real = dir.path().join("real.db");
    assert_success(&output(&mut sync_command(&sim, &real, &[])));
    let refused = demo(&real);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains(&format!("holds the referrals of {}", sim.base_url())),
        "{}",
        stderr(&refused)
    );
    assert_eq!(mirror_state(&real), simulator_state(&sim));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sync_waits_then_names_the_running_one() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let sim = simulator(10, FaultPlan::new()).await;
    let held = SyncLock::acquire(&db, Duration::ZERO).unwrap();
    let second = output(&mut sync_command(&sim, &db, &["--wait", "0s"]));
    assert_eq!(second.status.code(), Some(1));
    let message = stderr(&second);
    assert!(
        message.contains("another `referrals sync` is running")
            && message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    assert_eq!(sim.api_requests(), 0);
    drop(held);
    assert_success(&output(&mut sync_command(&sim, &db, &[])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_foreign_file_is_refused_and_left_intact() {
    let dir = temp_dir();
    let sim = simulator(10, FaultPlan::new()).await;
    let garbage = dir.path().join("notes.db");
    std::fs::write(&garbage, "id,name\n1,not a database\n".repeat(100)).unwrap();
    let before = std::fs::read(&garbage).unwrap();
    let out = output(&mut sync_command(&sim, &garbage, &[]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a SQLite database"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&garbage).unwrap(), before);
    assert_eq!(sim.api_requests(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_by_faults_exits_4_and_the_next_continues() {
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let sim = simulator(
        50,
        FaultPlan::new().rule(FaultRule::list_page(2, Fault::status(503))),
    )
    .await;
    let out = output(&mut sync_command(
        &sim,
        &db,
        &["--page-size", "10", "--retries", "0"],
    ));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("run `referrals sync` again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(summary(&out)[..1], [20]);
    sim.set_faults(FaultPlan::new());
    let next = output(&mut sync_command(&sim, &db, &["--page-size", "10"]));
    assert_success(&next);
    assert_eq!(summary(&next), [30, 0, 0, 0, 3, 3]);
    assert_eq!(mirror_state(&db), simulator_state(&sim));
}

/// A small xorshift, seeded by the test: the kill moments.
struct Moments(u64);

impl Moments {
    fn next_millis(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_killed_at_random_moments_loses_nothing_and_repeats_nothing() {
    // Runs until 50 kills have landed inside a run (a kill after the run exited does not
    // count), at most MAX_RUNS.
    const KILLS: usize = 50;
    const MAX_RUNS: usize = 400;
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let faults = FaultPlan::new()
        .seed(13)
        .rule(FaultRule::with_probability(0.05, Fault::status(503)))
        .rule(FaultRule::with_probability(0.03, Fault::ResetBeforeHeaders))
        .rule(FaultRule::with_probability(
            0.03,
            Fault::too_many_requests(0),
        ));
    let sim = Arc::new(simulator(150, faults).await);
    let churning = {
        let sim = sim.clone();
        tokio::spawn(async move {
            loop {
                sim.churn(2);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        })
    };
    let mut moments = Moments(0x9E37_79B9_7F4A_7C15);
    let (mut killed, mut finished, mut stopped) = (0, 0, 0);
    let mut run = 0;
    while killed < KILLS && run < MAX_RUNS {
        run += 1;
        let mut extra = vec!["--page-size", "10", "--retries", "2", "--wait", "10s"];
        if run % 7 == 3 {
            extra.push("--full");
        }
        let mut child = sync_command(&sim, &db, &extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let wait = moments.next_millis(400);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let _ = child.kill(); // SIGKILL; an error means it had already exited
        let result = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        match result.status.code() {
            None => killed += 1,
            Some(0) => finished += 1,
            // Stopped part-way by injected faults after its retries.
            Some(4) => stopped += 1,
            Some(code) => panic!("run {run}: exit {code}:\n{}", stderr(&result)),
        }
    }
    churning.abort();
    let _ = churning.await;
    sim.set_faults(FaultPlan::new());
    eprintln!("{run} runs: {killed} killed, {finished} completed, {stopped} stopped by faults");

    // Finishes whatever run was interrupted, then lists everything once more from scratch.
    assert_success(&output(&mut sync_command(
        &sim,
        &db,
        &["--page-size", "10"],
    )));
    assert_success(&output(&mut sync_command(
        &sim,
        &db,
        &["--page-size", "10", "--full"],
    )));
    let mirror = mirror_state(&db);
    let served = simulator_state(&sim);
    assert_eq!(
        mirror.keys().collect::<Vec<_>>(),
        served.keys().collect::<Vec<_>>(),
        "the same ids"
    );
    for (id, (etag, value)) in &served {
        assert_eq!(&mirror[id].0, etag, "{id}: eTag");
        assert_eq!(&mirror[id].1, value, "{id}: JSON");
    }
    assert_journal_consistent(&db);
}

/// The schema-version-1 mirror kept by referrals-sync as a fixture (written by the release
/// that wrote version 1).
const MIRROR_V1: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../referrals-sync/tests/fixtures/mirror-v1.db"
);

/// A version-1 mirror at `db` large enough for its upgrade to take a while: the fixture plus
/// `bulk` copies of its largest referral under new ids, each journaled, as version 1 wrote them.
fn large_version_1_mirror(db: &Path, bulk: usize) {
    use referrals_sync::rusqlite::Connection;
    std::fs::copy(MIRROR_V1, db).unwrap();
    let connection = Connection::open(db).unwrap();
    connection
        .execute_batch(&format!(
            "BEGIN;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {bulk})
             INSERT INTO referrals (id, etag, status, substatus, type, qualification, direction,
                 name, customer_name, customer_country, deal_value, currency, created_date_time,
                 updated_date_time, raw_json, first_seen_at, last_seen_at, removed_at)
             SELECT printf('bulk-%06d', i), etag, status, substatus, type, qualification,
                 direction, name, customer_name, customer_country, deal_value, currency,
                 created_date_time, updated_date_time,
                 json_set(raw_json, '$.id', printf('bulk-%06d', i)), first_seen_at,
                 last_seen_at, NULL
             FROM n, (SELECT * FROM referrals ORDER BY length(raw_json) DESC LIMIT 1);
             INSERT INTO changes (referral_id, kind, etag, updated_date_time, recorded_at)
             SELECT id, 'created', etag, updated_date_time, first_seen_at FROM referrals
             WHERE id LIKE 'bulk-%' ORDER BY id;
             COMMIT;"
        ))
        .unwrap();
    connection
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
}

/// What a mirror file holds, read with SQLite alone: the schema version, whether its shape is
/// exactly that version's, and its row counts.
#[derive(Debug, PartialEq, Eq)]
struct FileState {
    version: i64,
    shape_matches_version: bool,
    referrals: i64,
    changes: i64,
    integrity: String,
}

fn file_state(db: &Path) -> FileState {
    use referrals_sync::rusqlite::Connection;
    let connection = Connection::open(db).unwrap();
    let one = |sql: &str| -> i64 { connection.query_row(sql, [], |r| r.get(0)).unwrap() };
    let version = one("PRAGMA user_version");
    let last_seen_column =
        one("SELECT count(*) FROM pragma_table_info('referrals') WHERE name = 'last_seen_at'");
    let seen_table =
        one("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'referral_seen'");
    let referrals = one("SELECT count(*) FROM referrals");
    let api_table =
        one("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'mirror_api'");
    let quarantine_table =
        one("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'quarantine'");
    let intents_table =
        one("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'create_intents'");
    let shape_matches_version = match version {
        1 => {
            last_seen_column == 1
                && seen_table == 0
                && api_table == 0
                && quarantine_table == 0
                && intents_table == 0
        }
        // The current version: version 2's `referral_seen`, version 3's `mirror_api`, version
        // 4's `quarantine`, version 5's `create_intents`.
        current if current == referrals_sync::SCHEMA_VERSION => {
            last_seen_column == 0
                && seen_table == 1
                && one("SELECT count(*) FROM referral_seen") == referrals
                && api_table == 1
                && quarantine_table == 1
                && intents_table == 1
        }
        _ => false,
    };
    FileState {
        version,
        shape_matches_version,
        referrals,
        changes: one("SELECT count(*) FROM changes"),
        integrity: connection
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap(),
    }
}

/// `referrals changes` on a version-1 file upgrades it on open (to the current version,
/// through the ones between, in one transaction); killed with SIGKILL at random moments of that upgrade, the
/// file is afterwards version 1 or the current version, whole, never in between, with every referral and journal row; the next open finishes the upgrade, and a
/// sync goes on from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_the_schema_upgrade_leaves_version_1_or_2_never_in_between() {
    const BULK: usize = 10_000;
    const MID_UPGRADE_KILLS: usize = 5;
    const MAX_RUNS: usize = 60;
    let dir = temp_dir();
    let template = dir.path().join("v1.db");
    large_version_1_mirror(&template, BULK);
    let before = file_state(&template);
    assert_eq!(before.version, 1);
    assert!(before.shape_matches_version);
    assert_eq!(before.referrals, 32 + BULK as i64);
    let changes = |db: &Path| {
        let mut command = process();
        command
            .args(["-v", "changes", "--limit", "1", "--db"])
            .arg(db)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };

    // One upgrade to the end, to know how long one takes here.
    let db = dir.path().join("m.db");
    std::fs::copy(&template, &db).unwrap();
    let started = std::time::Instant::now();
    let out = output(&mut changes(&db));
    let whole = started.elapsed();
    assert_success(&out);
    assert!(stderr(&out).contains("schema upgraded"), "{}", stderr(&out));
    let upgraded = file_state(&db);
    assert_eq!(
        upgraded,
        FileState {
            version: referrals_sync::SCHEMA_VERSION,
            ..before
        }
    );

    let mut moments = Moments(0x2545_F491_4F6C_DD1D);
    let (mut mid_upgrade, mut at_current_version, mut runs) = (0, 0, 0);
    while mid_upgrade < MID_UPGRADE_KILLS && runs < MAX_RUNS {
        runs += 1;
        std::fs::copy(&template, &db).unwrap();
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        let mut child = changes(&db).spawn().unwrap();
        let wait = moments.next_millis(whole.as_millis() as u64 * 6 / 5 + 1);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let _ = child.kill();
        let result = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let log = stderr(&result);
        let state = file_state(&db);
        assert!(
            state.shape_matches_version && state.integrity == "ok",
            "run {runs}: {state:?}\n{log}"
        );
        assert_eq!(
            (state.referrals, state.changes),
            (before.referrals, before.changes),
            "run {runs}: rows lost"
        );
        let began = log.contains("upgrading the mirror's schema");
        match state.version {
            1 if began => mid_upgrade += 1,
            1 => {}
            referrals_sync::SCHEMA_VERSION => at_current_version += 1,
            other => panic!("run {runs}: version {other}"),
        }
    }
    eprintln!(
        "{runs} runs, one upgrade {whole:?}: {mid_upgrade} killed during the upgrade, \
         {at_current_version} after it"
    );
    assert!(
        mid_upgrade >= MID_UPGRADE_KILLS,
        "only {mid_upgrade} of {runs} kills landed during an upgrade of {whole:?}"
    );

    // The last file killed mid-way upgrades on the next open, and syncs.
    std::fs::copy(&template, &db).unwrap();
    let mut child = changes(&db).spawn().unwrap();
    tokio::time::sleep(whole / 2).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_success(&output(&mut changes(&db)));
    assert_eq!(
        file_state(&db),
        FileState {
            version: referrals_sync::SCHEMA_VERSION,
            ..file_state(&template)
        }
    );
    assert_journal_consistent(&db);
    // The first sync finishes the full run the fixture left in progress (begun against
    // another account); the second lists this one from scratch.
    let sim = simulator(30, FaultPlan::new()).await;
    for _ in 0..2 {
        assert_success(&output(&mut sync_command(
            &sim,
            &db,
            &["--page-size", "10", "--full"],
        )));
    }
    let mirror = mirror_state(&db);
    assert_eq!(mirror, simulator_state(&sim));
    assert_journal_consistent(&db);
}

#[test]
fn simulate_churn_changes_referrals_that_a_sync_then_picks_up() {
    use std::io::{BufRead, BufReader};
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let mut child = process()
        .args(["simulate", "--referrals", "20", "--churn", "20"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let (mut base, mut token, mut banner) = (None, None, String::new());
    for line in lines.by_ref() {
        let line = line.expect("a line");
        if line.starts_with("Partner Center simulator:") {
            banner = line.clone();
        }
        if let Some(value) = line.strip_prefix("export PARTNER_CENTER_BASE_URL=") {
            base = Some(value.to_owned());
        }
        if let Some(value) = line.strip_prefix("export PARTNER_CENTER_TOKEN=") {
            token = Some(value.to_owned());
            break;
        }
    }
    assert!(banner.contains("20 random changes a second"), "{banner}");
    let (base, token) = (base.expect("a base URL"), token.expect("a token"));
    let sync = || {
        let out = output(
            process()
                .args(["sync", "--base-url", &base, "--token", &token, "--db"])
                .arg(&db),
        );
        assert_success(&out);
        summary(&out)
    };
    sync();
    // The simulator changes 20 referrals a second: some sync soon sees a change.
    let seen = (0..200).find_map(|_| {
        let [created, updated, ..] = sync();
        (created + updated > 0).then_some(created + updated)
    });
    child.kill().expect("stops");
    let _ = child.wait();
    assert!(
        seen.is_some(),
        "no sync saw a change of the churning simulator"
    );
    assert_journal_consistent(&db);
}

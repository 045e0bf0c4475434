//! `referrals create --from` run as a process against a simulator started in the test: every
//! check refuses before sending, refusals per line, and the kill harness (SIGKILL between a
//! create request and its answer, and at random moments): no referral is created twice.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use referrals_simulator::{Fault, FaultPlan, FaultRule, Operation, RequestInfo, SimulatorHandle};
use serde_json::Value;

use crate::support::{self, assert_success, output, process, stderr, stdout, temp_dir};

const TOKEN: &str = "batch-test-token-7d21";

fn create_command(sim: &SimulatorHandle, from: &Path, db: &Path, extra: &[&str]) -> Command {
    let mut command = process();
    command
        .args([
            "create",
            "--base-url",
            &sim.base_url(),
            "--token",
            TOKEN,
            "--from",
        ])
        .arg(from)
        .arg("--db")
        .arg(db)
        .args(extra);
    command
}

async fn simulator(referrals: usize, faults: FaultPlan) -> SimulatorHandle {
    support::simulator(referrals, 9, TOKEN, faults).await
}

/// A valid NDJSON line keyed `key`.
fn line(key: &str) -> String {
    format!(
        r#"{{"externalReferenceId":"{key}","name":"Deal {key}","type":"Independent","customerProfile":{{"name":"Customer {key}","address":{{"country":"US"}}}},"consent":{{"consentToContact":true}},"details":{{"dealValue":1000,"currency":"USD"}}}}"#
    )
}

/// `n` valid lines keyed `{prefix}-1` ...
fn lines(prefix: &str, n: usize) -> String {
    (1..=n)
        .map(|i| line(&format!("{prefix}-{i}")))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The simulator's referrals per externalReferenceId starting with `prefix`.
fn created_per_key(sim: &SimulatorHandle, prefix: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for referral in sim.referrals() {
        if let Some(key) = referral["externalReferenceId"].as_str() {
            if key.starts_with(prefix) {
                *counts.entry(key.to_owned()).or_default() += 1;
            }
        }
    }
    counts
}

/// stdout's JSON lines: (line, outcome).
fn outcomes(output: &Output) -> Vec<(u64, String)> {
    stdout(output)
        .lines()
        .map(|text| {
            let value: Value = serde_json::from_str(text).unwrap();
            (
                value["line"].as_u64().unwrap(),
                value["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn nth_create(nth: u64) -> impl Fn(&RequestInfo) -> bool {
    let seen = AtomicU64::new(0);
    move |info| {
        info.operation == Operation::Create && seen.fetch_add(1, Ordering::SeqCst) + 1 == nth
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_of_create_from_refuses_before_sending() {
    let sim = simulator(5, FaultPlan::new()).await;
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let cases: [(&str, String, &[&str]); 10] = [
        (
            "a.ndjson",
            format!("{}\nnot json\n", line("a")),
            &["line 2: not a JSON object"],
        ),
        (
            "b.ndjson",
            "{\"type\":\n".into(),
            &["line 1: ", "invalid JSON"],
        ),
        (
            "c.ndjson",
            line("c").replace("\"Customer c\"", "7"),
            &["line 1: customerProfile.name: invalid type"],
        ),
        (
            "d.ndjson",
            line("d").replace("\"consent\"", "\"x-consent\""),
            &["line 1: consent: is required"],
        ),
        (
            "e.ndjson",
            line("e").replace(
                "{\"externalReferenceId\"",
                "{\"id\":\"r1\",\"externalReferenceId\"",
            ),
            &["line 1: id: is assigned by the service"],
        ),
        (
            "f.ndjson",
            line("f").replace("USD", "dollars"),
            &["line 1: details.currency: `dollars` is not an ISO 4217"],
        ),
        (
            "g.ndjson",
            line("g").replace("\"externalReferenceId\":\"g\",", ""),
            &["line 1: externalReferenceId: is required"],
        ),
        (
            "h.ndjson",
            format!("{}\n{}\n", line("h"), line("h")),
            &["line 2: externalReferenceId: `h` is on line 1 too"],
        ),
        (
            "i.csv",
            "name,name\nx,y\n".into(),
            &["line 1: name: column 2 overlaps"],
        ),
        ("j.ndjson", "\n\n".into(), &["the batch has no referral"]),
    ];
    for (name, text, expected) in cases {
        let from = dir.path().join(name);
        std::fs::write(&from, text).unwrap();
        let result = output(&mut create_command(&sim, &from, &db, &[]));
        assert_eq!(result.status.code(), Some(2), "{name}: {}", stderr(&result));
        let message = stderr(&result);
        assert!(message.contains("nothing was sent"), "{name}: {message}");
        for part in expected {
            assert!(message.contains(part), "{name}: {part:?} not in {message}");
        }
        assert!(stdout(&result).is_empty(), "{name}");
    }
    // Several problems at once are all listed.
    let from = dir.path().join("many.ndjson");
    std::fs::write(&from, format!("[]\n{}\n{{}}\n", line("ok"))).unwrap();
    let result = output(&mut create_command(&sim, &from, &db, &[]));
    let message = stderr(&result);
    assert!(message.contains("line 1: not a JSON object"), "{message}");
    assert!(message.contains("line 3: type: is required"), "{message}");
    assert!(
        message.contains("line 3: externalReferenceId: is required"),
        "{message}"
    );
    // A bad option too.
    let result = output(&mut create_command(
        &sim,
        &from,
        &db,
        &["--concurrency", "0"],
    ));
    assert_eq!(result.status.code(), Some(2));

    assert_eq!(sim.api_requests(), 0, "nothing was sent");
    assert!(!db.exists(), "the mirror was not even opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_prints_one_line_per_line_and_a_refusal_exits_1_with_the_others_created() {
    let faults = FaultPlan::new().rule(FaultRule::matching(nth_create(2), Fault::status(400)));
    let sim = simulator(5, faults).await;
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let from = dir.path().join("batch.ndjson");
    std::fs::write(&from, lines("cli", 3)).unwrap();

    let first = output(&mut create_command(
        &sim,
        &from,
        &db,
        &["--concurrency", "1"],
    ));
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert_eq!(
        outcomes(&first),
        [
            (1, "created".into()),
            (2, "refused".into()),
            (3, "created".into())
        ]
    );
    let refused: Value = serde_json::from_str(stdout(&first).lines().nth(1).unwrap()).unwrap();
    assert_eq!(refused["externalReferenceId"], "cli-2");
    assert!(
        refused["error"].as_str().unwrap().contains("400"),
        "{refused}"
    );
    assert_eq!(refused["id"], Value::Null);
    assert!(
        stderr(&first).contains("1 line refused"),
        "{}",
        stderr(&first)
    );

    let second = output(&mut create_command(&sim, &from, &db, &[]));
    assert_success(&second);
    assert_eq!(
        outcomes(&second),
        [
            (1, "exists".into()),
            (2, "created".into()),
            (3, "exists".into())
        ]
    );
    assert!(created_per_key(&sim, "cli-").values().all(|n| *n == 1));

    // The CSV `list --format csv` writes, with the columns a creation needs added.
    let csv = dir.path().join("more.csv");
    std::fs::write(
        &csv,
        "externalReferenceId,name,type,customerProfile.name,details.dealValue,details.currency,consent.consentToContact\n\
         csv-1,'=Deal,Independent,Contoso,5,USD,true\n",
    )
    .unwrap();
    let third = output(&mut create_command(&sim, &csv, &db, &[]));
    assert_success(&third);
    assert_eq!(outcomes(&third), [(2, "created".into())]);
    let made = sim
        .referrals()
        .into_iter()
        .find(|r| r["externalReferenceId"] == "csv-1")
        .unwrap();
    assert_eq!(made["name"], "=Deal");
    assert_eq!(made["consent"]["consentToContact"], true);
}

/// Waits until `sim` has `n` referrals keyed with `prefix`.
async fn until_created(sim: &SimulatorHandle, prefix: &str, n: usize) {
    for _ in 0..1_000 {
        if created_per_key(sim, prefix).len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{prefix}: {n} referrals were never created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_a_create_and_its_answer_the_next_run_finds_it_and_creates_nothing_twice() {
    // The third create takes effect, and its answer waits long enough for the kill.
    let faults = FaultPlan::new().rule(FaultRule::matching(
        nth_create(3),
        Fault::SlowAnswer(Duration::from_secs(60)),
    ));
    let sim = simulator(10, faults).await;
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let from = dir.path().join("batch.ndjson");
    std::fs::write(&from, lines("kill", 5)).unwrap();

    let mut child = create_command(&sim, &from, &db, &["--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until_created(&sim, "kill-", 3).await;
    child.kill().unwrap(); // SIGKILL, the third answer not received
    let killed = child.wait_with_output().unwrap();
    assert_eq!(killed.status.code(), None, "killed");
    // A line is printed once its answer is recorded, and the requests go on meanwhile: on a
    // busy machine the kill may come before the first two records were made.
    let printed = outcomes(&killed);
    let created: Vec<(u64, String)> = vec![(1, "created".into()), (2, "created".into())];
    assert!(created.starts_with(&printed), "{printed:?}");

    sim.set_faults(FaultPlan::new());
    sim.clear_requests();
    let next = output(&mut create_command(&sim, &from, &db, &[]));
    assert_success(&next);
    assert_eq!(
        outcomes(&next),
        [
            (1, "exists".into()),
            (2, "exists".into()),
            (3, "exists".into()),
            (4, "created".into()),
            (5, "created".into())
        ]
    );
    let posts = sim
        .requests()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 2, "only the two never sent");
    let created = created_per_key(&sim, "kill-");
    assert_eq!(created.len(), 5);
    assert!(created.values().all(|n| *n == 1), "{created:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_from_killed_at_random_moments_creates_each_referral_exactly_once() {
    const KILLS: usize = 20;
    const MAX_RUNS: usize = 200;
    let faults = FaultPlan::new()
        .seed(25)
        .rule(FaultRule::with_probability(0.1, Fault::ResetBeforeHeaders))
        .rule(FaultRule::with_probability(
            0.2,
            Fault::SlowAnswer(Duration::from_millis(30)),
        ));
    let sim = Arc::new(simulator(30, faults).await);
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let from = dir.path().join("batch.ndjson");
    std::fs::write(&from, lines("random", 40)).unwrap();

    let mut moment: u64 = 0x2545_F491_4F6C_DD1D;
    let (mut killed, mut runs, mut mid_batch) = (0, 0, 0);
    while killed < KILLS && runs < MAX_RUNS {
        runs += 1;
        let mut child = create_command(&sim, &from, &db, &["--wait", "10s", "--retries", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        moment ^= moment << 13;
        moment ^= moment >> 7;
        moment ^= moment << 17;
        tokio::time::sleep(Duration::from_millis(moment % 300)).await;
        let _ = child.kill();
        let result = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        match result.status.code() {
            None => {
                killed += 1;
                let made = created_per_key(&sim, "random-").len();
                mid_batch += usize::from(made > 0 && made < 40);
            }
            // Finished, or lines failed or the sync stopped under the faults.
            Some(0 | 1) => {}
            Some(code) => panic!("run {runs}: exit {code}:\n{}", stderr(&result)),
        }
    }
    sim.set_faults(FaultPlan::new());
    eprintln!("{runs} runs, {killed} killed, {mid_batch} in the middle of the batch");
    assert!(
        mid_batch > 0,
        "no kill landed while the batch was being created"
    );
    let last = output(&mut create_command(&sim, &from, &db, &[]));
    assert_success(&last);
    assert!(
        outcomes(&last)
            .iter()
            .all(|(_, o)| o == "exists" || o == "created")
    );
    let created = created_per_key(&sim, "random-");
    assert_eq!(created.len(), 40);
    assert!(
        created.values().all(|n| *n == 1),
        "created twice: {created:?}"
    );
}

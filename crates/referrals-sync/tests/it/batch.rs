//! Batch creation against the simulator: each referral created once, however runs end
//! (answers lost, refusals, server errors), resolved from the mirror by externalReferenceId.

use std::collections::HashMap;

use referrals_simulator::{Fault, FaultPlan, FaultRule, Operation, SimulatorHandle};
use referrals_sync::SyncLock;
use referrals_sync::batch::{
    BatchError, BatchOptions, BatchReport, LineOutcome, MAX_CONCURRENCY, Outcome, Plan,
    create_batch,
};

use crate::support::{Rig, rig};

/// An NDJSON batch of `n` valid referrals keyed `{prefix}-1` ...
fn batch_text(prefix: &str, n: usize) -> String {
    (1..=n)
        .map(|i| {
            format!(
                r#"{{"externalReferenceId":"{prefix}-{i}","name":"Deal {i}","type":"Independent","customerProfile":{{"name":"Customer {i}"}},"consent":{{"consentToContact":true}},"details":{{"dealValue":{i},"currency":"USD"}}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The simulator's referrals per externalReferenceId starting with `prefix`.
fn created_per_key(simulator: &SimulatorHandle, prefix: &str) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for referral in simulator.referrals() {
        if let Some(key) = referral["externalReferenceId"].as_str() {
            if key.starts_with(prefix) {
                *counts.entry(key.to_owned()).or_default() += 1;
            }
        }
    }
    counts
}

/// Create requests the simulator received.
fn posts(simulator: &SimulatorHandle) -> usize {
    simulator
        .requests()
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.path_and_query.contains("/referrals"))
        .count()
}

/// One batch run over `plan`: its report and the lines in the order reported.
async fn run(rig: &Rig, plan: &Plan, concurrency: usize) -> (BatchReport, Vec<LineOutcome>) {
    let lock = SyncLock::acquire(&rig.db, referrals_sync::DEFAULT_LOCK_WAIT).unwrap();
    let mut lines = Vec::new();
    let report = create_batch(
        &rig.client,
        &rig.mirror,
        &lock,
        plan,
        &BatchOptions::with_concurrency(concurrency),
        |line| lines.push(line.clone()),
    )
    .await
    .unwrap();
    (report, lines)
}

fn outcomes(lines: &[LineOutcome]) -> Vec<(u64, Outcome)> {
    lines.iter().map(|l| (l.line, l.outcome)).collect()
}

fn creates(nth: u64) -> impl Fn(&referrals_simulator::RequestInfo) -> bool {
    let seen = std::sync::atomic::AtomicU64::new(0);
    move |info| {
        info.operation == Operation::Create
            && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == nth
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_creates_each_line_once_and_a_second_run_sends_nothing() {
    let rig = rig("batch-once", 30, FaultPlan::new()).await;
    let plan = Plan::from_ndjson(batch_text("once", 6).as_bytes()).unwrap();

    let (first, lines) = run(&rig, &plan, 4).await;
    assert_eq!(first.counts.created, 6);
    assert_eq!(
        lines.iter().map(|l| l.line).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6],
        "reported in line order"
    );
    assert!(lines.iter().all(|l| l.id.is_some() && l.error.is_none()));
    let created = created_per_key(&rig.simulator, "once-");
    assert_eq!(created.len(), 6);
    assert!(created.values().all(|n| *n == 1), "{created:?}");
    assert_eq!(posts(&rig.simulator), 6);
    // The created referrals are in the mirror (and its journal) already.
    assert_eq!(crate::support::mirror_state(&rig.db).len(), 36);

    let (second, again) = run(&rig, &plan, 4).await;
    assert_eq!(second.counts.exists, 6);
    assert_eq!(posts(&rig.simulator), 6, "nothing sent again");
    let ids = |lines: &[LineOutcome]| lines.iter().map(|l| l.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&lines));
    rig.assert_in_step();
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_resolved_by_the_next_run_from_the_mirror_never_by_sending_again() {
    // The second create takes effect, and its connection drops before the answer.
    let faults = FaultPlan::new().rule(FaultRule::matching(creates(2), Fault::ResetBeforeHeaders));
    let rig = rig("batch-lost", 10, faults).await;
    let plan = Plan::from_ndjson(batch_text("lost", 3).as_bytes()).unwrap();

    let (first, lines) = run(&rig, &plan, 1).await;
    assert_eq!(
        outcomes(&lines),
        [
            (1, Outcome::Created),
            (2, Outcome::Failed),
            (3, Outcome::Created)
        ]
    );
    assert!(
        lines[1]
            .error
            .as_deref()
            .unwrap()
            .contains("never sends it twice")
    );
    assert_eq!((first.counts.created, first.counts.failed), (2, 1));
    assert_eq!(created_per_key(&rig.simulator, "lost-")["lost-2"], 1);

    let (second, again) = run(&rig, &plan, 1).await;
    assert_eq!(second.counts.exists, 3);
    assert_eq!(
        posts(&rig.simulator),
        3,
        "the lost one was found, not sent again"
    );
    let made = rig
        .simulator
        .referrals()
        .into_iter()
        .find(|r| r["externalReferenceId"] == "lost-2")
        .unwrap();
    assert_eq!(again[1].id.as_deref(), made["id"].as_str());
    assert!(
        created_per_key(&rig.simulator, "lost-")
            .values()
            .all(|n| *n == 1)
    );
    // The outbox says so too.
    let state: (String, String) = rig
        .mirror
        .lock()
        .unwrap()
        .connection()
        .query_row(
            "SELECT state, referral_id FROM create_intents WHERE external_reference_id = 'lost-2'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (state.0.as_str(), Some(state.1.as_str())),
        ("created", made["id"].as_str())
    );
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_that_created_nothing_is_sent_on_the_next_run() {
    // A 503 for the first create: the simulator did nothing, but the client cannot know.
    let faults = FaultPlan::new().rule(FaultRule::matching(creates(1), Fault::status(503)));
    let rig = rig("batch-503", 5, faults).await;
    let plan = Plan::from_ndjson(batch_text("retry", 2).as_bytes()).unwrap();

    let (_, lines) = run(&rig, &plan, 1).await;
    assert_eq!(
        outcomes(&lines),
        [(1, Outcome::Failed), (2, Outcome::Created)]
    );
    assert!(!created_per_key(&rig.simulator, "retry-").contains_key("retry-1"));

    // A complete sync that started after the intent does not show it: nothing was created.
    let (_, again) = run(&rig, &plan, 1).await;
    assert_eq!(
        outcomes(&again),
        [(1, Outcome::Created), (2, Outcome::Exists)]
    );
    assert!(
        created_per_key(&rig.simulator, "retry-")
            .values()
            .all(|n| *n == 1)
    );
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_line_is_reported_with_its_reason_and_the_others_are_created() {
    let faults = FaultPlan::new().rule(FaultRule::matching(creates(2), Fault::status(400)));
    let rig = rig("batch-refused", 5, faults).await;
    let plan = Plan::from_ndjson(batch_text("refused", 3).as_bytes()).unwrap();

    let (report, lines) = run(&rig, &plan, 1).await;
    assert_eq!(
        outcomes(&lines),
        [
            (1, Outcome::Created),
            (2, Outcome::Refused),
            (3, Outcome::Created)
        ]
    );
    assert!(
        lines[1].error.as_deref().unwrap().contains("400"),
        "{lines:?}"
    );
    assert_eq!(lines[1].id, None);
    assert_eq!(report.counts.refused, 1);

    // A refusal created nothing: a later run sends the line again.
    let (_, again) = run(&rig, &plan, 1).await;
    assert_eq!(
        outcomes(&again),
        [
            (1, Outcome::Exists),
            (2, Outcome::Created),
            (3, Outcome::Exists)
        ]
    );
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_under_random_lost_answers_and_server_errors_end_with_each_referral_made_once() {
    let faults = FaultPlan::new()
        .seed(25)
        .rule(FaultRule::matching(
            {
                let draw = std::sync::atomic::AtomicU64::new(0);
                move |info| {
                    // Every third create loses its answer after taking effect.
                    info.operation == Operation::Create
                        && draw.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 3 == 1
                }
            },
            Fault::ResetBeforeHeaders,
        ))
        .rule(FaultRule::with_probability(0.2, Fault::status(503)));
    let rig = rig("batch-chaos", 40, faults).await;
    let plan = Plan::from_ndjson(batch_text("chaos", 24).as_bytes()).unwrap();

    let (mut runs, mut failed, mut stopped) = (0, 0, 0);
    loop {
        runs += 1;
        let lock = SyncLock::acquire(&rig.db, referrals_sync::DEFAULT_LOCK_WAIT).unwrap();
        let result = create_batch(
            &rig.client,
            &rig.mirror,
            &lock,
            &plan,
            &BatchOptions::with_concurrency(4),
            |_| {},
        )
        .await;
        drop(lock);
        // A sync refused by a 503 stops a run before anything is sent: run again.
        match result {
            Ok(report) if report.counts.failed == 0 => break,
            Ok(report) => failed += report.counts.failed,
            Err(_) => stopped += 1,
        }
        assert!(runs < 40, "still unresolved after {runs} runs");
    }
    assert!(failed > 0, "no answer was lost: the test tested nothing");
    let created = created_per_key(&rig.simulator, "chaos-");
    assert_eq!(created.len(), 24);
    println!("{runs} runs, {failed} lines failed, {stopped} runs stopped by the sync");
    assert!(
        created.values().all(|n| *n == 1),
        "created twice: {created:?}"
    );
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_needs_the_mirrors_own_lock_and_a_concurrency_in_range() {
    let rig = rig("batch-lock", 3, FaultPlan::new()).await;
    let plan = Plan::from_ndjson(batch_text("lock", 1).as_bytes()).unwrap();
    let other = rig.dir.path().join("other.db");
    let lock = SyncLock::acquire(&other, referrals_sync::DEFAULT_LOCK_WAIT).unwrap();
    let options = BatchOptions::with_concurrency(1);
    let error = create_batch(&rig.client, &rig.mirror, &lock, &plan, &options, |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(error, BatchError::NotTheMirrorsLock { .. }),
        "{error}"
    );
    let lock = SyncLock::acquire(&rig.db, referrals_sync::DEFAULT_LOCK_WAIT).unwrap();
    let options = BatchOptions::with_concurrency(MAX_CONCURRENCY + 1);
    let error = create_batch(&rig.client, &rig.mirror, &lock, &plan, &options, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(error, BatchError::Concurrency(17)), "{error}");
    assert_eq!(rig.simulator.api_requests(), 0, "nothing sent");
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_credentials_stop_the_batch_after_reporting_the_lines_before() {
    let faults = FaultPlan::new().rule(FaultRule::matching(creates(2), Fault::Unauthorized));
    let rig = rig("batch-401", 3, faults).await;
    let plan = Plan::from_ndjson(batch_text("auth", 3).as_bytes()).unwrap();
    let lock = SyncLock::acquire(&rig.db, referrals_sync::DEFAULT_LOCK_WAIT).unwrap();
    let mut lines = Vec::new();
    let options = BatchOptions::with_concurrency(1);
    let error = create_batch(&rig.client, &rig.mirror, &lock, &plan, &options, |line| {
        lines.push(line.clone())
    })
    .await
    .unwrap_err();
    drop(lock);
    assert!(
        matches!(error, BatchError::Stopped { line: 2, .. }),
        "{error}"
    );
    assert_eq!(outcomes(&lines), [(1, Outcome::Created)]);
    assert_eq!(posts(&rig.simulator), 2, "the third line was not sent");

    let (_, again) = run(&rig, &plan, 1).await;
    assert_eq!(
        outcomes(&again),
        [
            (1, Outcome::Exists),
            (2, Outcome::Created),
            (3, Outcome::Created)
        ]
    );
    assert!(
        created_per_key(&rig.simulator, "auth-")
            .values()
            .all(|n| *n == 1)
    );
    rig.close();
}

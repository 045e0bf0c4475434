//! The sync engine against the simulator: what a run requests, what it journals, how it
//! resumes, falls back and removes.

use std::time::Duration;

use crate::support::{
    check_journal, client, journal, mirror_state, shared, simulator_state, temp_dir,
};
use referrals_simulator::{Fault, FaultPlan, FaultRule, Simulator};
use referrals_sync::{Reason, RunKind, SyncError, SyncOptions, sync};

fn options() -> SyncOptions {
    SyncOptions {
        page_size: 20,
        ..SyncOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_sync_mirrors_everything_and_an_unchanged_account_costs_one_request() {
    let dir = temp_dir("first");
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder().referrals(95).start().await.unwrap();
    let client = client(&simulator);
    let mirror = shared(&db);

    let first = sync(&client, &mirror, &options()).await.unwrap();
    assert_eq!(
        (first.kind, first.reason),
        (RunKind::Full, Reason::FirstRun)
    );
    assert_eq!(first.counts.created, 95);
    assert_eq!(first.counts.pages, 5);
    assert_eq!(simulator.api_requests(), 5);
    assert_eq!(mirror_state(&db), simulator_state(&simulator));

    let second = sync(&client, &mirror, &options()).await.unwrap();
    assert_eq!(second.kind, RunKind::Incremental);
    assert_eq!((second.counts.created, second.counts.updated), (0, 0));
    assert_eq!(
        simulator.api_requests(),
        6,
        "one request for an unchanged account"
    );
    let last = simulator.requests().pop().unwrap();
    assert!(
        last.path_and_query
            .contains("$orderby=updatedDateTime%20asc")
            && last.path_and_query.contains("updatedDateTime%20ge%20"),
        "{}",
        last.path_and_query
    );
    assert_eq!(
        journal(&db).len(),
        95,
        "reading the same versions adds nothing"
    );
    check_journal(&db);
    dir.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_journaled_once_and_a_full_run_finds_removals() {
    let dir = temp_dir("changes");
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder().referrals(60).start().await.unwrap();
    let client = client(&simulator);
    let mirror = shared(&db);
    sync(&client, &mirror, &options()).await.unwrap();

    let report = simulator.churn(30);
    let before = simulator.api_requests();
    let incremental = sync(&client, &mirror, &options()).await.unwrap();
    assert_eq!(incremental.kind, RunKind::Incremental);
    let created_alive = report
        .created
        .iter()
        .filter(|id| !report.removed.contains(id))
        .count();
    assert_eq!(incremental.counts.created as usize, created_alive);
    let updated_alive = report
        .updated
        .iter()
        .filter(|id| !report.removed.contains(id) && !report.created.contains(id))
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(incremental.counts.updated as usize, updated_alive.len());
    assert_eq!(
        incremental.counts.removed, 0,
        "an incremental run cannot see removals"
    );
    // Everything that changed, plus what the overlap reaches: a page or two, not the account.
    assert!(simulator.api_requests() - before <= 3);

    let full = sync(
        &client,
        &mirror,
        &SyncOptions {
            full: true,
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!((full.kind, full.reason), (RunKind::Full, Reason::Requested));
    let removed: std::collections::BTreeSet<_> = report
        .removed
        .iter()
        .filter(|id| !report.created.contains(id))
        .collect();
    assert_eq!(full.counts.removed as usize, removed.len());
    assert_eq!((full.counts.created, full.counts.updated), (0, 0));
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    check_journal(&db);

    // Removed ones stay in the table, marked, and a removal is journaled once.
    let again = sync(
        &client,
        &mirror,
        &SyncOptions {
            full: true,
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!(again.counts.removed, 0);
    check_journal(&db);
    dir.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_part_way_resumes_from_its_checkpoint_and_repeats_nothing() {
    let dir = temp_dir("resume");
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder()
        .referrals(100)
        .faults(FaultPlan::new().rule(FaultRule::list_page(3, Fault::status(503))))
        .start()
        .await
        .unwrap();
    let client = client(&simulator);
    let mirror = shared(&db);
    let error = sync(&client, &mirror, &options()).await.unwrap_err();
    let SyncError::Listing { report, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(report.counts.pages, 3);
    assert_eq!(report.counts.created, 60);
    assert!(!report.complete);
    assert_eq!(journal(&db).len(), 60);

    simulator.set_faults(FaultPlan::new());
    simulator.clear_requests();
    let resumed = sync(&client, &mirror, &options()).await.unwrap();
    assert!(resumed.resumed);
    assert_eq!(resumed.counts.created, 100, "totals over both processes");
    assert_eq!(resumed.counts.pages, 5);
    let asked: Vec<_> = simulator.requests();
    assert_eq!(asked.len(), 2, "only the two pages not yet applied");
    assert_eq!(journal(&db).len(), 100);
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    check_journal(&db);
    dir.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_the_filter_gets_a_full_listing_with_a_diff() {
    let dir = temp_dir("refused");
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder()
        .referrals(50)
        .faults(FaultPlan::new().rule(FaultRule::matching(
            |request| request.query.contains("filter"),
            Fault::status(400),
        )))
        .start()
        .await
        .unwrap();
    let client = client(&simulator);
    let mirror = shared(&db);
    sync(&client, &mirror, &options()).await.unwrap();
    let report = simulator.churn(10);
    let second = sync(&client, &mirror, &options()).await.unwrap();
    assert_eq!(
        (second.kind, second.reason),
        (RunKind::Full, Reason::FilterRefused)
    );
    assert!(second.reason.is_fallback());
    let created_alive = report
        .created
        .iter()
        .filter(|id| !report.removed.contains(id))
        .count();
    assert_eq!(second.counts.created as usize, created_alive);
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    check_journal(&db);
    dir.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_continuation_restarts_the_listing_once() {
    let dir = temp_dir("expired");
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder()
        .referrals(60)
        .faults(FaultPlan::new().rule(FaultRule::list_page(1, Fault::status(503))))
        .start()
        .await
        .unwrap();
    let client = client(&simulator);
    let mirror = shared(&db);
    sync(&client, &mirror, &options()).await.unwrap_err();
    // The stored continuation now gets a 400, once.
    simulator
        .set_faults(FaultPlan::new().rule(FaultRule::list_page(1, Fault::status(400)).times(1)));
    let report = sync(&client, &mirror, &options()).await.unwrap();
    assert!(report.complete);
    assert_eq!(report.counts.created, 60);
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    check_journal(&db);

    // Refused every time: reported, not looped on.
    simulator.set_faults(FaultPlan::new().rule(FaultRule::list_page(1, Fault::status(503))));
    sync(
        &client,
        &mirror,
        &SyncOptions {
            full: true,
            ..options()
        },
    )
    .await
    .unwrap_err();
    simulator.set_faults(FaultPlan::new().rule(FaultRule::list_page(1, Fault::status(400))));
    let error = sync(&client, &mirror, &options()).await.unwrap_err();
    assert!(matches!(error, SyncError::Listing { .. }), "{error}");
    dir.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_every_makes_a_run_full_again() {
    let dir = temp_dir("due");
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder().referrals(10).start().await.unwrap();
    let client = client(&simulator);
    let mirror = shared(&db);
    sync(&client, &mirror, &options()).await.unwrap();
    let due = sync(
        &client,
        &mirror,
        &SyncOptions {
            full_every: Duration::ZERO,
            ..options()
        },
    )
    .await
    .unwrap();
    assert_eq!((due.kind, due.reason), (RunKind::Full, Reason::Due));
    dir.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_speaks_only_the_2018_form_gets_a_full_diff_with_removals() {
    use referrals_fixtures::replay::{Matcher, ReplayTransport, Step};
    let dir = temp_dir("classic-only");
    let db = dir.path().join("m.db");
    let item = |id: &str, day: u8| {
        format!(r#"{{"id":"{id}","eTag":"{id}1","updatedDateTime":"2026-01-0{day}T00:00:00Z"}}"#)
    };
    let replay = ReplayTransport::new()
        .step(
            Step::respond(
                200,
                format!(
                    r#"{{"totalCount":3,"items":[{},{},{}]}}"#,
                    item("a", 1),
                    item("b", 2),
                    item("c", 3)
                ),
            )
            .when(Matcher::get().uri_contains("pageSize=20")),
        )
        // The incremental request: the filter is ignored, the answer is in the 2018 form.
        .step(
            Step::respond(
                200,
                format!(
                    r#"{{"totalCount":3,"items":[{},{}],"links":{{"next":{{"uri":"/referrals","headers":[{{"key":"MS-ContinuationToken","value":"t1"}}]}}}}}}"#,
                    item("a", 1),
                    item("c", 3)
                ),
            )
            .when(Matcher::get().uri_contains("updatedDateTime")),
        )
        .step(
            Step::respond(200, format!(r#"{{"totalCount":3,"items":[{}]}}"#, item("d", 4)))
                .when(Matcher::get().header("MS-ContinuationToken", "t1")),
        );
    let client = referrals::Client::builder()
        .transport(replay.clone())
        .bearer_token("t")
        .build()
        .unwrap();
    let mirror = shared(&db);
    let first = sync(&client, &mirror, &options()).await.unwrap();
    assert_eq!(first.counts.created, 3);
    let second = sync(&client, &mirror, &options()).await.unwrap();
    assert_eq!(
        (second.kind, second.reason),
        (RunKind::Full, Reason::FilterIgnored)
    );
    assert_eq!(second.counts.created, 1);
    assert_eq!(second.counts.unchanged, 2);
    assert_eq!(second.counts.removed, 1, "b was not listed");
    assert_eq!(replay.remaining(), 0);
    let ids: Vec<String> = mirror_state(&db).into_keys().collect();
    assert_eq!(ids, ["a", "c", "d"]);
    check_journal(&db);
    dir.close().unwrap();
}

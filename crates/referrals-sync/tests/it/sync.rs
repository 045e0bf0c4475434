//! The sync engine against the simulator: what a run requests, what it journals, how it
//! resumes, falls back and removes.

use std::time::Duration;

use crate::support::{
    check_journal, created_alive, journal, mirror_state, rig, shared, simulator_state, temp_dir,
};
use referrals_simulator::{Fault, FaultPlan, FaultRule};
use referrals_sync::{Reason, RunKind, SyncError, SyncOptions, sync};

fn options() -> SyncOptions {
    SyncOptions {
        page_size: 20,
        ..SyncOptions::default()
    }
}

/// Listing page `page` (from 0) answered with `status` every time.
fn page_answers(page: usize, status: u16) -> FaultPlan {
    FaultPlan::new().rule(FaultRule::list_page(page, Fault::status(status)))
}

/// [`options`] for a full run.
fn full_run() -> SyncOptions {
    SyncOptions {
        full: true,
        ..options()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_sync_mirrors_everything_and_an_unchanged_account_costs_one_request() {
    let rig = rig("first", 95, FaultPlan::new()).await;

    let first = rig.sync(&options()).await.unwrap();
    assert_eq!(
        (first.kind, first.reason),
        (RunKind::Full, Reason::FirstRun)
    );
    assert_eq!(first.counts.created, 95);
    assert_eq!(first.counts.pages, 5);
    assert_eq!(rig.simulator.api_requests(), 5);
    assert_eq!(mirror_state(&rig.db), simulator_state(&rig.simulator));

    let second = rig.sync(&options()).await.unwrap();
    assert_eq!(second.kind, RunKind::Incremental);
    assert_eq!((second.counts.created, second.counts.updated), (0, 0));
    assert_eq!(
        rig.simulator.api_requests(),
        6,
        "one request for an unchanged account"
    );
    let last = rig.simulator.requests().pop().unwrap();
    assert!(
        last.path_and_query
            .contains("$orderby=updatedDateTime%20asc")
            && last.path_and_query.contains("updatedDateTime%20ge%20"),
        "{}",
        last.path_and_query
    );
    assert_eq!(
        journal(&rig.db).len(),
        95,
        "reading the same versions adds nothing"
    );
    check_journal(&rig.db);
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_journaled_once_and_a_full_run_finds_removals() {
    let rig = rig("changes", 60, FaultPlan::new()).await;
    rig.sync(&options()).await.unwrap();

    let report = rig.simulator.churn(30);
    let before = rig.simulator.api_requests();
    let incremental = rig.sync(&options()).await.unwrap();
    assert_eq!(incremental.kind, RunKind::Incremental);
    assert_eq!(incremental.counts.created as usize, created_alive(&report));
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
    assert!(rig.simulator.api_requests() - before <= 3);

    let full = rig.sync(&full_run()).await.unwrap();
    assert_eq!((full.kind, full.reason), (RunKind::Full, Reason::Requested));
    let removed: std::collections::BTreeSet<_> = report
        .removed
        .iter()
        .filter(|id| !report.created.contains(id))
        .collect();
    assert_eq!(full.counts.removed as usize, removed.len());
    assert_eq!((full.counts.created, full.counts.updated), (0, 0));
    rig.assert_in_step();

    // Removed ones stay in the table, marked, and a removal is journaled once.
    let again = rig.sync(&full_run()).await.unwrap();
    assert_eq!(again.counts.removed, 0);
    check_journal(&rig.db);
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_part_way_resumes_from_its_checkpoint_and_repeats_nothing() {
    let rig = rig("resume", 100, page_answers(3, 503)).await;
    let error = rig.sync(&options()).await.unwrap_err();
    let SyncError::Listing { report, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!(report.counts.pages, 3);
    assert_eq!(report.counts.created, 60);
    assert!(!report.complete);
    assert_eq!(journal(&rig.db).len(), 60);

    rig.simulator.set_faults(FaultPlan::new());
    rig.simulator.clear_requests();
    let resumed = rig.sync(&options()).await.unwrap();
    assert!(resumed.resumed);
    assert_eq!(resumed.counts.created, 100, "totals over both processes");
    assert_eq!(resumed.counts.pages, 5);
    let asked: Vec<_> = rig.simulator.requests();
    assert_eq!(asked.len(), 2, "only the two pages not yet applied");
    assert_eq!(journal(&rig.db).len(), 100);
    rig.assert_in_step();
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refusing_the_filter_gets_a_full_listing_with_a_diff() {
    let rig = rig(
        "refused",
        50,
        FaultPlan::new().rule(FaultRule::matching(
            |request| request.query.contains("filter"),
            Fault::status(400),
        )),
    )
    .await;
    rig.sync(&options()).await.unwrap();
    let report = rig.simulator.churn(10);
    let second = rig.sync(&options()).await.unwrap();
    assert_eq!(
        (second.kind, second.reason),
        (RunKind::Full, Reason::FilterRefused)
    );
    assert!(second.reason.is_fallback());
    assert_eq!(second.counts.created as usize, created_alive(&report));
    rig.assert_in_step();
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_continuation_restarts_the_listing_once() {
    let rig = rig("expired", 60, page_answers(1, 503)).await;
    rig.sync(&options()).await.unwrap_err();
    // The stored continuation now gets a 400, once.
    rig.simulator
        .set_faults(FaultPlan::new().rule(FaultRule::list_page(1, Fault::status(400)).times(1)));
    let report = rig.sync(&options()).await.unwrap();
    assert!(report.complete);
    assert_eq!(report.counts.created, 60);
    rig.assert_in_step();

    // Refused every time: reported, not looped on.
    rig.simulator.set_faults(page_answers(1, 503));
    rig.sync(&full_run()).await.unwrap_err();
    rig.simulator.set_faults(page_answers(1, 400));
    let error = rig.sync(&options()).await.unwrap_err();
    assert!(matches!(error, SyncError::Listing { .. }), "{error}");
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_every_makes_a_run_full_again() {
    let rig = rig("due", 10, FaultPlan::new()).await;
    rig.sync(&options()).await.unwrap();
    let due = rig
        .sync(&SyncOptions {
            full_every: Duration::ZERO,
            ..options()
        })
        .await
        .unwrap();
    assert_eq!((due.kind, due.reason), (RunKind::Full, Reason::Due));
    rig.close();
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

//! The sync engine against the simulator: what a run requests, what it journals, how it
//! resumes, falls back and removes.

use std::time::Duration;

use crate::support::{
    check_journal, client, created_alive, journal, mirror_state, rig, shared, simulator_state,
    temp_dir,
};
use referrals_simulator::{Fault, FaultPlan, FaultRule, Simulator};
use referrals_sync::{Reason, RunKind, SyncError, SyncOptions, sync};

/// Sequential listings of 20 referrals a page (the page-by-page behaviour these tests count).
fn options() -> SyncOptions {
    SyncOptions {
        page_size: 20,
        concurrency: 1,
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
    // The page size is the OData preference; `$top` (a total) would cut the run short.
    assert!(
        !last.path_and_query.contains("top"),
        "{}",
        last.path_and_query
    );
    assert_eq!(last.header("prefer"), Some("odata.maxpagesize=20"));
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

/// The watermark never runs ahead of time: one referral dated 9999-12-31 is received by an
/// incremental run, and the next incremental run still lists a referral updated after it (the
/// watermark stopped at the server's `Date` plus the overlap, not at 9999).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_dated_in_the_future_does_not_hide_later_updates() {
    let dir = temp_dir("future");
    let db = dir.path().join("m.db");
    let mut referrals = referrals_fixtures::synthetic::Synthetic::new(23).referrals(30);
    referrals[7]["updatedDateTime"] = "9999-12-31T23:59:59.9999999Z".into();
    let future_id = referrals[7]["id"].as_str().unwrap().to_owned();
    let simulator = Simulator::builder()
        .with_referrals(referrals)
        .start()
        .await
        .unwrap();
    let client = client(&simulator);
    let mirror = shared(&db);
    let first = sync(&client, &mirror, &options()).await.unwrap();
    assert_eq!(first.kind, RunKind::Full);
    let second = sync(&client, &mirror, &options()).await.unwrap();
    assert_eq!(second.kind, RunKind::Incremental);
    assert_eq!(second.counts.unchanged, 1, "the referral from 9999 again");

    let updated = simulator.referrals()[3]["id"].as_str().unwrap().to_owned();
    assert_ne!(updated, future_id);
    assert!(simulator.update_referral(&updated, |referral| {
        referral.insert("name".into(), "Renamed after the second sync".into());
    }));
    let third = sync(&client, &mirror, &options()).await.unwrap();
    assert_eq!(third.kind, RunKind::Incremental);
    assert_eq!(third.counts.updated, 1, "{third:?}");
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    check_journal(&db);
    dir.close().unwrap();
}

/// A full run's watermark never passes the moment it started: a referral listed on the first
/// page of a full run and updated while the run goes on (here: between the process that
/// listed page 1 and the one that resumes the run) is listed by the next incremental run,
/// although the run received a later update (on page 3) and outlasted the overlap (zero).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_updated_during_a_long_full_run_is_listed_by_the_next_incremental_run() {
    let dir = temp_dir("during-full");
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder()
        .referrals(30)
        .seed(29)
        .faults(FaultPlan::new().rule(FaultRule::list_page(1, Fault::status(503))))
        .start()
        .await
        .unwrap();
    let client = client(&simulator);
    let mirror = shared(&db);
    let options = SyncOptions {
        page_size: 10,
        overlap: Duration::ZERO,
        concurrency: 1,
        ..SyncOptions::default()
    };
    let error = sync(&client, &mirror, &options).await.unwrap_err();
    let SyncError::Listing { report, .. } = &error else {
        panic!("{error}");
    };
    assert_eq!((report.kind, report.counts.pages), (RunKind::Full, 1));

    let ids = simulator.referral_ids();
    let (on_page_1, on_page_3) = (&ids[2], &ids[25]);
    assert!(simulator.update_referral(on_page_1, |referral| {
        referral.insert("name".into(), "Changed during the full run".into());
    }));
    // The run goes on past the overlap (zero, and `Date` counts whole seconds): the server's
    // time at its end is after that update, so only the full-run rule keeps the watermark
    // before it.
    std::thread::sleep(Duration::from_millis(1_100));
    assert!(simulator.update_referral(on_page_3, |referral| {
        referral.insert("name".into(), "Changed later, listed by the run".into());
    }));
    simulator.set_faults(FaultPlan::new());
    let resumed = sync(&client, &mirror, &options).await.unwrap();
    assert!(resumed.resumed && resumed.complete);
    assert_eq!(resumed.kind, RunKind::Full);
    assert_ne!(
        mirror_state(&db)[on_page_1],
        simulator_state(&simulator)[on_page_1],
        "the run had passed it"
    );

    let next = sync(&client, &mirror, &options).await.unwrap();
    assert_eq!(next.kind, RunKind::Incremental);
    assert!(next.counts.updated >= 1, "{next:?}");
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    check_journal(&db);
    dir.close().unwrap();
}

/// A mirror belongs to one API: synced from one simulator, a sync from another one (or from
/// the demo simulator) is refused, naming both, before any request and without writing
/// anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_against_another_api_is_refused_and_writes_nothing() {
    use referrals_sync::{MirrorApi, MirrorError};

    let dir = temp_dir("other-api");
    let db = dir.path().join("m.db");
    let ours = Simulator::builder()
        .referrals(25)
        .seed(3)
        .start()
        .await
        .unwrap();
    let other = Simulator::builder()
        .referrals(25)
        .seed(4)
        .start()
        .await
        .unwrap();
    let mirror = shared(&db);
    sync(&client(&ours), &mirror, &options()).await.unwrap();
    let before = (
        mirror_state(&db),
        journal(&db),
        mirror.lock().unwrap().sync_state().unwrap(),
    );

    let error = sync(&client(&other), &mirror, &options())
        .await
        .unwrap_err();
    let message = error.to_string();
    let SyncError::Mirror(MirrorError::OtherApi {
        mirror: recorded,
        requested,
        ..
    }) = &error
    else {
        panic!("{error}");
    };
    assert_eq!(recorded.base_url(), ours.base_url());
    assert_eq!(requested.base_url(), other.base_url());
    assert!(
        message.contains("m.db")
            && message.contains(&ours.base_url())
            && message.contains(&other.base_url()),
        "{message}"
    );
    let demo = SyncOptions {
        api: Some(MirrorApi::demo()),
        ..options()
    };
    let error = sync(&client(&ours), &mirror, &demo).await.unwrap_err();
    assert!(error.to_string().contains("demo simulator"), "{error}");
    assert_eq!(other.api_requests(), 0);
    assert_eq!(
        (
            mirror_state(&db),
            journal(&db),
            mirror.lock().unwrap().sync_state().unwrap()
        ),
        before,
        "nothing written"
    );
    // Its own API still syncs.
    sync(&client(&ours), &mirror, &options()).await.unwrap();
    dir.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_reported_after_each_page_received() {
    let dir = temp_dir("progress");
    let db = dir.path().join("m.db");
    let simulator = Simulator::builder().referrals(45).start().await.unwrap();
    let mirror = shared(&db);
    let mut seen = Vec::new();
    let report =
        referrals_sync::sync_with_progress(&client(&simulator), &mirror, &options(), |p| {
            seen.push((p.kind, p.pages, p.referrals))
        })
        .await
        .unwrap();
    assert_eq!(
        seen,
        [
            (RunKind::Full, 1, 20),
            (RunKind::Full, 2, 40),
            (RunKind::Full, 3, 45)
        ]
    );
    assert_eq!(report.session.pages, 3);
    dir.close().unwrap();
}

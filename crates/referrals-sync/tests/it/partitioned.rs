//! Full runs partitioned by default: `createdDateTime` ranges listed at once, each page applied
//! with the one checkpoint of every range; a run killed part-way resumes every range and
//! repeats nothing; referrals changing during a full run are caught by the next incremental
//! run.

use std::time::Duration;

use referrals_simulator::FaultPlan;
use referrals_sync::{RunKind, SyncOptions, sync_with_progress};

use crate::support::{
    check_journal, client, journal, mirror_state, range_requests, rig, shared, simulator_state,
    slow_simulator, temp_dir,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sync_lists_ranges_at_once_and_mirrors_each_referral_once() {
    let rig = rig("partitioned-first", 1_200, FaultPlan::new()).await;
    let first = rig.sync(&SyncOptions::default()).await.unwrap();
    assert_eq!(first.kind, RunKind::Full);
    assert!(first.complete);
    assert_eq!(first.counts.created, 1_200);
    assert_eq!((first.counts.updated, first.counts.unchanged), (0, 0));
    assert!(range_requests(&rig.simulator) >= 2, "ranges were asked for");
    assert_eq!(journal(&rig.db).len(), 1_200);
    rig.assert_in_step();

    // A partitioned full re-sync of an unchanged account changes nothing.
    let again = rig
        .sync(&SyncOptions {
            full: true,
            ..SyncOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (
            again.counts.created,
            again.counts.updated,
            again.counts.unchanged
        ),
        (0, 0, 1_200)
    );
    assert_eq!(again.counts.removed, 0);
    rig.assert_in_step();
    rig.close();
}

/// The process is killed (its future dropped) after a few pages of a partitioned full run,
/// with ranges in flight and pages perhaps still being written: the next sync resumes the run
/// from its one checkpoint, every range from where it stopped, and receives every referral
/// exactly once over both processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_full_sync_resumes_every_range_and_repeats_nothing() {
    let dir = temp_dir("partitioned-kill");
    let db = dir.path().join("m.db");
    let simulator = slow_simulator(2_000, 5, Duration::from_millis(20)).await;
    let client = client(&simulator);
    let mirror = shared(&db);
    let options = SyncOptions {
        concurrency: 6,
        ..SyncOptions::default()
    };
    let (kill, killed) = futures::channel::oneshot::channel::<()>();
    let mut kill = Some(kill);
    let run = sync_with_progress(&client, &mirror, &options, |progress| {
        if progress.pages == 5 {
            if let Some(kill) = kill.take() {
                let _ = kill.send(());
            }
        }
    });
    tokio::select! {
        outcome = run => panic!("the run ended before it was killed: {outcome:?}"),
        _ = killed => {}
    }
    // The write of the first page was under way when the process died: it lands (or the
    // process would have died before it, leaving the run where it started).
    let stored = loop {
        let (state, in_progress) = mirror.lock().unwrap().sync_state().unwrap();
        assert!(state.watermark.is_none(), "no run completed");
        let stored = in_progress.expect("the run is left in progress");
        if stored.counts.pages >= 1 {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(stored.checkpoint.is_partitioned());
    assert!(stored.counts.created > 0 && stored.counts.created < 2_000);
    assert!(stored.checkpoint.positions().len() >= 2, "several ranges");

    simulator.clear_requests();
    let resumed = sync_with_progress(&client, &mirror, &options, |_| {})
        .await
        .unwrap();
    assert!(resumed.resumed && resumed.complete);
    assert_eq!(resumed.kind, RunKind::Full);
    // Every referral received once over both processes: none twice (it would count as
    // unchanged), none missed.
    assert_eq!(resumed.counts.created, 2_000);
    assert_eq!((resumed.counts.updated, resumed.counts.unchanged), (0, 0));
    let probes = simulator
        .requests()
        .iter()
        .filter(|r| {
            let query = r.path_and_query.split_once('?').map_or("", |(_, q)| q);
            query.split('&').any(|pair| pair == "$top=1")
        })
        .count();
    assert_eq!(probes, 0, "the resumed run did not plan again");
    assert_eq!(journal(&db).len(), 2_000);
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    check_journal(&db);
    dir.close().unwrap();
}

/// Referrals are created, updated and removed while a partitioned full run lists them: the
/// run misses none that existed throughout and removes those removed, and the next
/// incremental run brings the mirror to exactly what the server holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sync_with_churn_then_an_incremental_one_equals_the_server() {
    let dir = temp_dir("partitioned-churn");
    let db = dir.path().join("m.db");
    let simulator = slow_simulator(1_500, 17, Duration::from_millis(5)).await;
    let client = client(&simulator);
    let mirror = shared(&db);
    let options = SyncOptions {
        overlap: Duration::ZERO,
        ..SyncOptions::default()
    };
    let full_run = SyncOptions {
        full: true,
        ..options.clone()
    };
    let before: std::collections::BTreeSet<String> = simulator.referral_ids().into_iter().collect();
    let mut removed = std::collections::BTreeSet::new();
    let full = sync_with_progress(&client, &mirror, &options, |progress| {
        if progress.pages % 2 == 1 {
            removed.extend(simulator.churn(12).removed);
        }
    })
    .await
    .unwrap();
    assert!((full.kind, full.complete) == (RunKind::Full, true));
    assert!(range_requests(&simulator) >= 2, "the run was partitioned");
    // Every referral that existed throughout is mirrored.
    let mirrored = mirror_state(&db);
    let throughout: Vec<_> = before.difference(&removed).collect();
    let missed: Vec<_> = throughout
        .iter()
        .filter(|id| !mirrored.contains_key(id.as_str()))
        .collect();
    assert!(missed.is_empty(), "missed {missed:?}");

    // Dates count whole seconds: the next run starts in a later one.
    std::thread::sleep(Duration::from_millis(1_100));
    let next = sync_with_progress(&client, &mirror, &options, |_| {})
        .await
        .unwrap();
    assert_eq!(next.kind, RunKind::Incremental);
    // The mirror holds what the server holds, as the server holds it; what it holds besides
    // was removed during the full run after the run had listed it (no listing shows a
    // removal: the next full run, or a webhook, does).
    let (mirrored, served) = (mirror_state(&db), simulator_state(&simulator));
    for (id, referral) in &served {
        assert_eq!(mirrored.get(id), Some(referral), "{id}");
    }
    let extra: Vec<_> = mirrored
        .keys()
        .filter(|id| !served.contains_key(*id))
        .collect();
    assert!(extra.iter().all(|id| removed.contains(*id)), "{extra:?}");
    let last = sync_with_progress(&client, &mirror, &full_run, |_| {})
        .await
        .unwrap();
    assert_eq!(last.counts.removed as usize, extra.len());
    assert_eq!(mirror_state(&db), simulator_state(&simulator));
    check_journal(&db);
    dir.close().unwrap();
}

//! One referral with a mistyped field: quarantined as received, the rest of its page and of the
//! run mirrored, listed again until a version that decodes replaces it (issue 23 item 5).

use std::time::SystemTime;

use crate::support::{check_journal, mirror_state, rig};
use referrals_model::Referral;
use referrals_simulator::{Fault, FaultPlan, FaultRule};
use referrals_sync::{RunKind, SyncOptions};
use serde_json::Value;

fn options() -> SyncOptions {
    SyncOptions {
        page_size: 20,
        ..SyncOptions::default()
    }
}

fn full_run() -> SyncOptions {
    SyncOptions {
        full: true,
        ..options()
    }
}

fn mistyped(id: &str) -> FaultPlan {
    FaultPlan::new().rule(FaultRule::always(Fault::mistyped_field(id, "status")))
}

/// The id of the simulator's referral at `position` in its listing order.
fn id_at(rig: &crate::support::Rig, position: usize) -> String {
    rig.simulator.referrals()[position]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn quarantined_ids(rig: &crate::support::Rig) -> Vec<Option<String>> {
    let mirror = rig.mirror.lock().unwrap();
    mirror
        .quarantined()
        .unwrap()
        .into_iter()
        .map(|q| q.row.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_referral_is_quarantined_and_its_page_and_run_go_on() {
    let rig = rig("quarantine", 45, FaultPlan::new()).await;
    // The sixth item of the second page.
    let bad = id_at(&rig, 25);
    rig.simulator.set_faults(mistyped(&bad));

    let first = rig.sync(&options()).await.unwrap();
    assert!(first.complete);
    assert_eq!(first.kind, RunKind::Full);
    assert_eq!(first.counts.created, 44);
    assert_eq!(first.counts.pages, 3);
    let [item] = &first.quarantined[..] else {
        panic!("{:?}", first.quarantined);
    };
    assert_eq!(item.id.as_deref(), Some(bad.as_str()));
    assert_eq!((item.page, item.index), (2, 5));
    assert!(item.error.contains("items[5].status"), "{}", item.error);
    let raw: Value = serde_json::from_str(&item.raw_json).unwrap();
    assert_eq!(raw["status"], 7, "kept as received");
    assert_eq!(raw["id"], bad.as_str());
    let mut expected = crate::support::simulator_state(&rig.simulator);
    expected.retain(|id, _| *id != bad);
    assert_eq!(mirror_state(&rig.db), expected);
    let stored = rig.mirror.lock().unwrap().quarantined().unwrap();
    assert_eq!(stored[0].row, *item);
    let first_seen = stored[0].first_seen_at.clone();

    // The watermark waits for it: the next incremental run lists it again (and only
    // quarantines it again while it is still mistyped), though nothing changed.
    let second = rig.sync(&options()).await.unwrap();
    assert_eq!(second.kind, RunKind::Incremental);
    assert_eq!(second.quarantined.len(), 1);
    let stored = rig.mirror.lock().unwrap().quarantined().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].first_seen_at, first_seen);

    // Fixed without a new updatedDateTime (the service's serializer was wrong, not the
    // record): the next incremental run mirrors it and clears its row.
    rig.simulator.set_faults(FaultPlan::new());
    let third = rig.sync(&options()).await.unwrap();
    assert_eq!(third.kind, RunKind::Incremental);
    assert!(third.quarantined.is_empty());
    assert_eq!(third.counts.created, 1);
    assert!(quarantined_ids(&rig).is_empty());
    rig.assert_in_step();
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_version_keeps_the_stored_one_until_a_later_version_replaces_it() {
    let rig = rig("quarantine-later", 30, FaultPlan::new()).await;
    rig.sync(&options()).await.unwrap();
    let bad = id_at(&rig, 3);
    let before: Value = serde_json::from_str(&stored_json(&rig, &bad)).unwrap();

    // A new version, served mistyped.
    rig.simulator.update_referral(&bad, |referral| {
        referral.insert("name".into(), "second version".into());
    });
    rig.simulator.set_faults(mistyped(&bad));
    let incremental = rig.sync(&options()).await.unwrap();
    assert_eq!(incremental.kind, RunKind::Incremental);
    assert_eq!(incremental.quarantined.len(), 1);
    assert_eq!(quarantined_ids(&rig), [Some(bad.clone())]);
    let kept: Value = serde_json::from_str(&stored_json(&rig, &bad)).unwrap();
    assert_eq!(kept, before, "the decodable version stays as it was");

    // A full run receives it (quarantined): it is not taken for removed.
    let full = rig.sync(&full_run()).await.unwrap();
    assert_eq!(full.counts.removed, 0);
    assert_eq!(quarantined_ids(&rig), [Some(bad.clone())]);

    // An older decodable version (a webhook fetch that started before) leaves the row.
    let old: Referral = serde_json::from_value(before).unwrap();
    rig.mirror
        .lock()
        .unwrap()
        .apply_referral(&old, SystemTime::now())
        .unwrap();
    assert_eq!(quarantined_ids(&rig), [Some(bad.clone())]);

    // A later version that decodes, fetched after a webhook: it replaces the quarantined one,
    // in the transaction that applies it.
    rig.simulator.set_faults(FaultPlan::new());
    rig.simulator.update_referral(&bad, |referral| {
        referral.insert("name".into(), "third version".into());
    });
    let fixed: Referral = serde_json::from_value(rig.simulator.referral(&bad).unwrap()).unwrap();
    rig.mirror
        .lock()
        .unwrap()
        .apply_referral(&fixed, SystemTime::now())
        .unwrap();
    assert!(quarantined_ids(&rig).is_empty());
    rig.sync(&options()).await.unwrap();
    rig.assert_in_step();

    // One that disappears while quarantined is forgotten by the next full run.
    let gone = id_at(&rig, 7);
    rig.simulator.set_faults(mistyped(&gone));
    rig.simulator.update_referral(&gone, |_| {});
    rig.sync(&options()).await.unwrap();
    assert_eq!(quarantined_ids(&rig), [Some(gone.clone())]);
    rig.simulator.set_faults(FaultPlan::new());
    assert!(rig.simulator.remove_referral(&gone));
    let full = rig.sync(&full_run()).await.unwrap();
    assert_eq!(full.counts.removed, 1);
    assert!(quarantined_ids(&rig).is_empty());
    rig.assert_in_step();
    check_journal(&rig.db);
    rig.close();
}

fn stored_json(rig: &crate::support::Rig, id: &str) -> String {
    let mirror = rig.mirror.lock().unwrap();
    let found: Vec<String> = mirror
        .select(
            "read one",
            "SELECT raw_json FROM referrals WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .unwrap();
    found.into_iter().next().unwrap()
}

/// A first sync listed in `createdDateTime` ranges at once sets aside the mistyped referral of
/// the range that holds it, and mirrors every other referral exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_full_run_quarantines_the_mistyped_referral_of_its_range() {
    let rig = rig("quarantine-ranges", 400, FaultPlan::new()).await;
    let bad = id_at(&rig, 233);
    rig.simulator.set_faults(mistyped(&bad));

    let first = rig.sync(&options()).await.unwrap();
    assert!(first.complete);
    assert_eq!(first.kind, RunKind::Full);
    assert!(
        crate::support::range_requests(&rig.simulator) > 0,
        "the run was listed in ranges"
    );
    assert_eq!(first.counts.created, 399);
    let [item] = &first.quarantined[..] else {
        panic!("{:?}", first.quarantined);
    };
    assert_eq!(item.id.as_deref(), Some(bad.as_str()));
    assert_eq!(quarantined_ids(&rig), [Some(bad.clone())]);
    let mut expected = crate::support::simulator_state(&rig.simulator);
    expected.retain(|id, _| *id != bad);
    assert_eq!(mirror_state(&rig.db), expected);
    check_journal(&rig.db);
}

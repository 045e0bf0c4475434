//! A full re-sync of a mirror that holds every referral (issue 24 item 6): the mirror keeps the
//! digest of each referral's JSON as received, so the writer tells an unchanged one from the
//! digest alone; a changed one is still found, and digests of another kind heal.

use std::collections::BTreeMap;
use std::time::SystemTime;

use futures::TryStreamExt;
use referrals::ListQuery;
use referrals_model::Referral;
use referrals_simulator::{Fault, FaultPlan, FaultRule};
use referrals_sync::rusqlite;
use referrals_sync::{RunKind, SyncOptions};

use crate::support::{Rig, check_journal, journal, mirror_state, rig, simulator_state};

const REFERRALS: usize = 130;

fn options(concurrency: u32) -> SyncOptions {
    SyncOptions {
        page_size: 20,
        concurrency,
        ..SyncOptions::default()
    }
}

fn full(concurrency: u32) -> SyncOptions {
    SyncOptions {
        full: true,
        ..options(concurrency)
    }
}

/// id → `referral_seen.json_sha256` of every referral in the mirror.
fn stored_digests(rig: &Rig) -> BTreeMap<String, Vec<u8>> {
    let connection = rusqlite::Connection::open(&rig.db).unwrap();
    let mut statement = connection
        .prepare(
            "SELECT r.id, s.json_sha256 FROM referrals r
             JOIN referral_seen s ON s.referral_rowid = r.rowid",
        )
        .unwrap();
    statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// id → SHA-256 of each referral's JSON as the service sends it in a listing.
async fn received_digests(rig: &Rig) -> BTreeMap<String, Vec<u8>> {
    let pages: Vec<_> = rig
        .client
        .list(ListQuery::new())
        .raw_items(referrals::RawItems::Light)
        .pages()
        .try_collect()
        .await
        .unwrap();
    let mut digests = BTreeMap::new();
    for page in pages {
        assert_eq!(page.items.len(), page.raw.len());
        for (referral, raw) in page.items.iter().zip(&page.raw) {
            let digest = ring::digest::digest(&ring::digest::SHA256, raw.json.as_bytes());
            assert_eq!(digest.as_ref(), raw.digest);
            digests.insert(referral.id.clone().unwrap(), raw.digest.to_vec());
        }
    }
    digests
}

async fn an_unchanged_full_resync_finds_everything_unchanged(name: &str, concurrency: u32) {
    let rig = rig(name, REFERRALS, FaultPlan::new()).await;
    let first = rig.sync(&options(concurrency)).await.unwrap();
    assert_eq!(first.counts.created, REFERRALS as u64);
    assert!(first.quarantined.is_empty());
    rig.assert_in_step();
    // What the mirror keeps is the digest of what it received, byte for byte.
    let received = received_digests(&rig).await;
    assert_eq!(received.len(), REFERRALS);
    assert_eq!(stored_digests(&rig), received);
    let journaled = journal(&rig.db).len();

    let again = rig.sync(&full(concurrency)).await.unwrap();
    assert!(again.complete);
    assert_eq!(again.kind, RunKind::Full);
    assert_eq!(
        (
            again.counts.unchanged,
            again.counts.created,
            again.counts.updated
        ),
        (REFERRALS as u64, 0, 0)
    );
    assert_eq!(again.counts.removed, 0);
    assert_eq!(journal(&rig.db).len(), journaled, "nothing journaled");
    rig.assert_in_step();

    // A referral changed on the service is still found by the next full run.
    let changed = rig.simulator.referrals()[REFERRALS / 2]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(rig.simulator.update_referral(&changed, |referral| {
        referral.insert("name".into(), "Renamed between two full runs".into());
    }));
    let third = rig.sync(&full(concurrency)).await.unwrap();
    assert_eq!(
        (
            third.counts.unchanged,
            third.counts.created,
            third.counts.updated
        ),
        (REFERRALS as u64 - 1, 0, 1)
    );
    rig.assert_in_step();
    assert_eq!(stored_digests(&rig), received_digests(&rig).await);
    rig.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_sequential_full_resync_finds_everything_unchanged_and_a_change_updated() {
    an_unchanged_full_resync_finds_everything_unchanged("resync-sequential", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_partitioned_full_resync_finds_everything_unchanged_and_a_change_updated() {
    an_unchanged_full_resync_finds_everything_unchanged("resync-ranges", 16).await;
}

/// A mirror written otherwise (here by `apply_referral`, as after webhooks; or before digests
/// of the received bytes) holds digests of its stored JSON: the next full run decodes each
/// referral, finds it unchanged, and stores the received digest; the one after finds them all
/// by digest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_of_the_stored_json_heal_on_the_next_full_run() {
    let rig = rig("resync-heal", REFERRALS, FaultPlan::new()).await;
    rig.sync(&options(1)).await.unwrap();
    {
        let mut mirror = rig.mirror.lock().unwrap();
        for value in rig.simulator.referrals() {
            let referral: Referral = serde_json::from_value(value).unwrap();
            mirror.apply_referral(&referral, SystemTime::now()).unwrap();
        }
    }
    let received = received_digests(&rig).await;
    let canonical = stored_digests(&rig);
    assert_eq!(canonical.len(), REFERRALS);
    assert_ne!(
        canonical, received,
        "the service's bytes are not the canonical encoding"
    );
    let journaled = journal(&rig.db).len();

    let first = rig.sync(&full(1)).await.unwrap();
    assert_eq!(first.kind, RunKind::Full);
    assert_eq!(
        (
            first.counts.unchanged,
            first.counts.created,
            first.counts.updated
        ),
        (REFERRALS as u64, 0, 0)
    );
    assert_eq!(journal(&rig.db).len(), journaled, "nothing journaled");
    assert_eq!(stored_digests(&rig), received, "healed");
    assert_eq!(mirror_state(&rig.db), simulator_state(&rig.simulator));

    let second = rig.sync(&full(1)).await.unwrap();
    assert_eq!(second.counts.unchanged, REFERRALS as u64);
    assert_eq!(stored_digests(&rig), received);
    check_journal(&rig.db);
    rig.close();
}

/// In a full re-sync the writer decodes the referrals whose digest differs: one that does not
/// decode is quarantined by it, in the same transaction, exactly as a listing that decodes
/// every referral reports it; the stored version stays and is not taken for removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_resync_quarantines_a_referral_that_no_longer_decodes() {
    let rig = rig("resync-quarantine", 45, FaultPlan::new()).await;
    let first = rig.sync(&options(1)).await.unwrap();
    assert_eq!(first.counts.created, 45);
    // The sixth item of the second page.
    let bad = rig.simulator.referrals()[25]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    rig.simulator.set_faults(
        FaultPlan::new().rule(FaultRule::always(Fault::mistyped_field(&bad, "status"))),
    );

    let again = rig.sync(&full(1)).await.unwrap();
    assert!(again.complete);
    assert_eq!(
        (
            again.counts.unchanged,
            again.counts.created,
            again.counts.updated
        ),
        (44, 0, 0)
    );
    assert_eq!(again.counts.removed, 0, "the stored version is not removed");
    let [item] = &again.quarantined[..] else {
        panic!("{:?}", again.quarantined);
    };
    assert_eq!(item.id.as_deref(), Some(bad.as_str()));
    assert_eq!((item.page, item.index), (2, 5));
    assert_eq!(
        item.error,
        "unexpected JSON value at items[5].status: invalid type: integer `7`, \
         expected a string (ReferralStatus)"
    );
    let stored = rig.mirror.lock().unwrap().quarantined().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].row, *item);
    rig.assert_in_step();
    rig.close();
}

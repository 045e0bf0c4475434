//! Partitioned listings against the simulator over loopback: several `createdDateTime` ranges in
//! flight at once, each referral yielded once; resumed from any page's checkpoint; an explicit
//! order kept; the fallbacks (a filter ignored or refused, the 2018 form only); referrals
//! changing meanwhile; a service capping the requests in flight.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use referrals::query::{SortField, SortOrder};
use referrals::{Checkpoint, ErrorKind, InvalidRequest, ListQuery, Page, Referral};
use referrals_simulator::{Fault, FaultPlan, FaultRule, Simulator, SimulatorHandle};

use crate::support::sim_client;

async fn simulator(n: usize, faults: FaultPlan, latency: Duration) -> SimulatorHandle {
    Simulator::builder()
        .referrals(n)
        .seed(11)
        .latency(latency)
        .faults(faults)
        .start()
        .await
        .expect("the simulator starts")
}

fn served_ids(sim: &SimulatorHandle) -> Vec<String> {
    sim.referral_ids()
}

/// Fails unless `items` are exactly the referrals `expected`, each once.
#[track_caller]
fn assert_exactly(items: &[Referral], expected: &[String]) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for item in items {
        *seen.entry(item.id.as_deref().unwrap()).or_default() += 1;
    }
    let repeated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "repeated: {repeated:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !seen.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "missing {} of {}",
        missing.len(),
        expected.len()
    );
    assert_eq!(items.len(), expected.len());
}

fn range_requests(sim: &SimulatorHandle) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path_and_query.contains("createdDateTime%20ge"))
        .count()
}

async fn pages(listing: referrals::Listing) -> Vec<Page> {
    listing
        .pages()
        .try_collect()
        .await
        .expect("the listing completes")
}

#[tokio::test]
async fn ranges_are_listed_at_once_and_each_referral_comes_once() {
    let sim = simulator(2_500, FaultPlan::new(), Duration::from_millis(100)).await;
    let client = sim_client(&sim);
    let pages = pages(client.list(ListQuery::new()).concurrency(8)).await;
    let items: Vec<Referral> = pages.iter().flat_map(|p| p.items.clone()).collect();
    assert_exactly(&items, &served_ids(&sim));
    assert!(range_requests(&sim) >= 2, "ranges were asked for");
    assert!(sim.peak_in_flight() >= 2, "requests were in flight at once");
    let last = pages.last().unwrap();
    assert!(last.is_last() && last.checkpoint.is_finished());
    assert!(last.checkpoint.is_partitioned());
    assert!(pages.iter().all(|p| p.count == Some(2_500)));
}

#[tokio::test]
async fn concurrency_one_is_the_sequential_listing() {
    let sim = simulator(300, FaultPlan::new(), Duration::ZERO).await;
    let client = sim_client(&sim);
    let items: Vec<Referral> = client
        .list(ListQuery::new().page_size(100).unwrap())
        .concurrency(1)
        .try_collect()
        .await
        .unwrap();
    assert_exactly(&items, &served_ids(&sim));
    assert_eq!(sim.api_requests(), 3);
    assert_eq!(range_requests(&sim), 0);
}

#[tokio::test]
async fn a_partitioned_listing_resumes_from_any_pages_checkpoint() {
    let sim = simulator(2_000, FaultPlan::new(), Duration::ZERO).await;
    let client = sim_client(&sim);
    for stop_after in [0usize, 1, 4, 9] {
        let mut first = client.list(ListQuery::new()).concurrency(6).pages();
        let mut items: Vec<Referral> = Vec::new();
        let mut checkpoint: Option<Checkpoint> = None;
        for _ in 0..=stop_after {
            let page = first.next().await.expect("a page").expect("no error");
            items.extend(page.items);
            checkpoint = Some(page.checkpoint);
        }
        // Killed here: what was in flight is lost. The text form is what a user would paste.
        drop(first);
        let checkpoint: Checkpoint = checkpoint.unwrap().to_string().parse().unwrap();
        assert!(checkpoint.is_partitioned());
        let rest: Vec<Referral> = client
            .resume(checkpoint)
            .concurrency(4)
            .try_collect()
            .await
            .expect("resumes");
        items.extend(rest);
        assert_exactly(&items, &served_ids(&sim));
    }
}

#[tokio::test]
async fn an_explicit_order_on_created_date_time_is_kept() {
    let sim = simulator(1_500, FaultPlan::new(), Duration::from_millis(20)).await;
    let client = sim_client(&sim);
    for order in [SortOrder::Ascending, SortOrder::Descending] {
        let query = ListQuery::new().order_by(SortField::CreatedDateTime, order);
        let items: Vec<Referral> = client
            .list(query)
            .concurrency(8)
            .try_collect()
            .await
            .unwrap();
        assert_exactly(&items, &served_ids(&sim));
        let times: Vec<i128> = items
            .iter()
            .map(|r| {
                r.created_date_time
                    .as_ref()
                    .unwrap()
                    .to_unix_nanos()
                    .unwrap()
            })
            .collect();
        let kept = match order {
            SortOrder::Ascending => times.windows(2).all(|w| w[0] <= w[1]),
            SortOrder::Descending => times.windows(2).all(|w| w[0] >= w[1]),
        };
        assert!(kept, "{order:?} order kept");
    }
    assert!(range_requests(&sim) >= 2);
}

#[tokio::test]
async fn a_service_that_ignores_refuses_or_predates_the_ranges_loses_and_repeats_nothing() {
    let refuse_ranges = FaultRule::matching(
        |info| {
            info.query.contains("createdDateTime%20ge")
                || info.query.contains("createdDateTime%20lt")
        },
        Fault::status(400),
    );
    let plans = [
        (
            "ignores $filter",
            FaultPlan::new().rule(FaultRule::always(Fault::IgnoreFilter)),
        ),
        (
            "refuses createdDateTime",
            FaultPlan::new().rule(refuse_ranges),
        ),
        (
            "2018 form only",
            FaultPlan::new().rule(FaultRule::always(Fault::ClassicOnly)),
        ),
    ];
    for (name, plan) in plans {
        let sim = simulator(1_200, plan, Duration::ZERO).await;
        let client = sim_client(&sim);
        let items: Vec<Referral> = client
            .list(ListQuery::new())
            .concurrency(8)
            .try_collect()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_exactly(&items, &served_ids(&sim));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referrals_changing_during_the_listing_none_that_existed_throughout_missed_or_repeated() {
    let sim = Arc::new(simulator(2_000, FaultPlan::new(), Duration::from_millis(10)).await);
    let before: HashSet<String> = served_ids(&sim).into_iter().collect();
    let churning = {
        let sim = sim.clone();
        tokio::spawn(async move {
            loop {
                sim.churn(3);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let client = sim_client(&sim);
    let items: Vec<Referral> = client
        .list(ListQuery::new())
        .concurrency(8)
        .try_collect()
        .await
        .unwrap();
    churning.abort();
    let _ = churning.await;
    let after: HashSet<String> = served_ids(&sim).into_iter().collect();
    let mut seen = HashSet::new();
    for item in &items {
        let id = item.id.clone().unwrap();
        assert!(seen.insert(id.clone()), "{id} listed twice");
    }
    let throughout: Vec<&String> = before.intersection(&after).collect();
    let missed: Vec<&&String> = throughout
        .iter()
        .filter(|id| !seen.contains(**id))
        .collect();
    assert!(
        missed.is_empty(),
        "missed {} that existed throughout",
        missed.len()
    );
    assert!(range_requests(&sim) >= 2);
}

#[tokio::test]
async fn a_service_capping_requests_in_flight_is_listed_exactly_with_few_429s() {
    let sim = Simulator::builder()
        .referrals(3_000)
        .seed(5)
        .latency(Duration::from_millis(50))
        .max_in_flight(3)
        .start()
        .await
        .unwrap();
    let client = sim_client(&sim);
    let items: Vec<Referral> = client
        .list(ListQuery::new())
        .concurrency(16)
        .try_collect()
        .await
        .unwrap();
    assert_exactly(&items, &served_ids(&sim));
    assert!(sim.peak_in_flight() <= 3);
    assert!(
        sim.throttled() * 4 < sim.api_requests(),
        "{} of {} requests throttled",
        sim.throttled(),
        sim.api_requests()
    );
}

#[tokio::test]
async fn a_partitioned_checkpoint_resumes_to_whole_pages_only() {
    let sim = simulator(10, FaultPlan::new(), Duration::ZERO).await;
    let client = sim_client(&sim);
    let start = Checkpoint::start_partitioned(&ListQuery::new()).unwrap();
    let error = client
        .resume(start.clone())
        .max_items(5)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        ErrorKind::InvalidRequest(InvalidRequest::PartitionedItemLimit)
    ));
    assert_eq!(error.checkpoint(), Some(&start));
    assert_eq!(sim.api_requests(), 0, "nothing was sent");
    let one_page = pages(client.resume(start).max_pages(1)).await;
    assert_eq!(one_page.len(), 1);
}

//! What a partitioned listing relies on: a latency per request, a cap on requests in flight,
//! `createdDateTime` ranges and-ed with other filters and counted, continuations that survive
//! removals, and the service quirks a client must survive (a `$filter` ignored, the 2018 form
//! only).

use std::time::{Duration, Instant};

use referrals_simulator::{Fault, FaultPlan, FaultRule, Simulator, SimulatorHandle};
use serde_json::Value;

use crate::support::{COLLECTION, get, next_token, target_of};

fn ids(page: &Value, key: &str) -> Vec<String> {
    page[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn page(sim: &SimulatorHandle, target: &str) -> Value {
    let response = get(sim.local_addr(), target, sim.token()).await;
    response.assert_status(200);
    response.json()
}

/// The target of a page's `@odata.nextLink`.
fn next(sim: &SimulatorHandle, page: &Value) -> Option<String> {
    page["@odata.nextLink"]
        .as_str()
        .map(|link| target_of(link, &sim.base_url()).to_owned())
}

#[tokio::test]
async fn every_api_answer_waits_the_latency() {
    let latency = Duration::from_millis(150);
    let sim = Simulator::builder()
        .referrals(3)
        .latency(latency)
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let page = page(&sim, &format!("{COLLECTION}?$top=2")).await;
    // Sleeping is never shorter than asked: a lower bound holds on any machine.
    assert!(started.elapsed() >= latency);
    assert_eq!(ids(&page, "value").len(), 2);
}

#[tokio::test]
async fn above_the_cap_requests_get_429_with_retry_after_and_are_counted() {
    let sim = Simulator::builder()
        .referrals(3)
        .max_in_flight(0)
        .start()
        .await
        .unwrap();
    let response = get(sim.local_addr(), COLLECTION, sim.token()).await;
    response.assert_status(429);
    assert_eq!(response.header("retry-after"), Some("1"));
    assert_eq!(response.json()["error"]["code"], "tooManyRequests");
    assert_eq!(sim.throttled(), 1);
    assert_eq!(sim.api_requests(), 1);

    // With a cap of 2 and a latency that keeps requests in flight, ten at once: never more than
    // two in flight, and every other one refused.
    let sim = Simulator::builder()
        .referrals(3)
        .max_in_flight(2)
        .latency(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let address = sim.local_addr();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let token = sim.token().to_owned();
        requests.spawn(async move { get(address, COLLECTION, &token).await });
    }
    let answers = requests.join_all().await;
    let refused = answers.iter().filter(|a| a.status == 429).count();
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 429));
    assert_eq!(refused as u64, sim.throttled());
    assert!(sim.peak_in_flight() <= 2, "{}", sim.peak_in_flight());
    assert!(refused >= 1, "ten requests at once against a cap of two");
}

#[tokio::test]
async fn created_date_time_ranges_and_with_other_filters_and_are_counted() {
    let sim = Simulator::builder().referrals(60).start().await.unwrap();
    let all = sim.referrals();
    let mut created: Vec<&str> = all
        .iter()
        .map(|r| r["createdDateTime"].as_str().unwrap())
        .collect();
    created.sort_unstable();
    let (lo, hi) = (created[10], created[40]);
    let expected: Vec<&Value> = all
        .iter()
        .filter(|r| {
            let at = r["createdDateTime"].as_str().unwrap();
            at >= lo && at < hi && r["status"] != "Closed"
        })
        .collect();
    let filter =
        format!("(status ne 'Closed') and createdDateTime ge {lo} and createdDateTime lt {hi}");
    let target = format!(
        "{COLLECTION}?$filter={}&$orderby=createdDateTime%20desc&$count=true&$top=100",
        filter.replace(' ', "%20")
    );
    let page = page(&sim, &target).await;
    assert_eq!(page["@odata.count"], expected.len());
    let listed: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["createdDateTime"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), expected.len());
    assert!(listed.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert!(listed.iter().all(|at| *at >= lo && *at < hi));
}

#[tokio::test]
async fn a_removal_during_a_listing_shifts_nothing_out_of_it() {
    for order in [
        "",
        "&$orderby=createdDateTime%20asc",
        "&$orderby=updatedDateTime%20desc",
    ] {
        let sim = Simulator::builder()
            .referrals(30)
            .default_page_size(10)
            .start()
            .await
            .unwrap();
        let first = page(&sim, &format!("{COLLECTION}?$count=true{order}")).await;
        let first_ids = ids(&first, "value");
        // Removing what was already listed (and one not yet listed) moves nothing else.
        for id in &first_ids[..5] {
            assert!(sim.remove_referral(id));
        }
        let mut rest = Vec::new();
        let mut target = next(&sim, &first);
        let mut removed_later = None;
        while let Some(t) = target {
            let page = page(&sim, &t).await;
            if removed_later.is_none() {
                let upcoming = ids(&page, "value");
                let last = upcoming.last().unwrap().clone();
                assert!(sim.remove_referral(&last));
                removed_later = Some(last);
            }
            rest.extend(ids(&page, "value"));
            target = next(&sim, &page);
        }
        let mut expected: Vec<String> = Vec::new();
        let mut everything = first_ids.clone();
        everything.extend(rest.iter().cloned());
        everything.sort();
        everything.dedup();
        assert_eq!(
            everything.len(),
            first_ids.len() + rest.len(),
            "{order}: repeated"
        );
        let now = sim.referral_ids();
        for id in now {
            if !first_ids.contains(&id) {
                expected.push(id);
            }
        }
        for id in &expected {
            assert!(
                rest.contains(id),
                "{order}: {id} existed throughout and was missed"
            );
        }
    }
}

#[tokio::test]
async fn a_service_that_ignores_the_filter_lists_everything_and_its_links_hold() {
    let sim = Simulator::builder()
        .referrals(25)
        .default_page_size(10)
        .faults(FaultPlan::new().rule(FaultRule::always(Fault::IgnoreFilter)))
        .start()
        .await
        .unwrap();
    let mut target = Some(format!(
        "{COLLECTION}?$filter=status%20eq%20'NoSuchStatus'&$count=true"
    ));
    let mut listed = Vec::new();
    while let Some(t) = target {
        let page = page(&sim, &t).await;
        assert_eq!(page["@odata.count"], 25);
        listed.extend(ids(&page, "value"));
        target = next(&sim, &page);
    }
    assert_eq!(listed.len(), 25);
}

#[tokio::test]
async fn a_service_of_the_2018_form_only_ignores_odata_options() {
    let sim = Simulator::builder()
        .referrals(25)
        .faults(FaultPlan::new().rule(FaultRule::always(Fault::ClassicOnly)))
        .start()
        .await
        .unwrap();
    let target = format!(
        "{COLLECTION}?$filter=status%20eq%20'New'&$orderby=createdDateTime%20asc&$top=1&$count=true"
    );
    let first = page(&sim, &target).await;
    assert_eq!(first["totalCount"], 25);
    assert!(first.get("value").is_none());
    let mut listed = ids(&first, "items");
    // Continued as the 2018 form is: the same request with the continuation header.
    let token = next_token(&first).to_owned();
    let response = crate::support::send(
        sim.local_addr(),
        "GET",
        &target,
        &[
            ("Authorization", &format!("Bearer {}", sim.token())),
            ("MS-ContinuationToken", &token),
        ],
        None,
    )
    .await;
    response.assert_status(200);
    listed.extend(ids(&response.json(), "items"));
    assert_eq!(
        listed.len(),
        25,
        "the default page size of 20, then the rest"
    );
}

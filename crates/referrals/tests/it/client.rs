//! The client over real loopback HTTP against the simulator: listings in both wire forms,
//! retries, timeouts, the body cap, token refresh and caching, refused next links, resume.

use std::collections::HashSet;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use referrals::model::{Referral, ReferralStatus, ReferralType};
use referrals::query::transport::TransportErrorKind;
use referrals::transport::HyperTransport;
use referrals::{Client, ErrorKind, ListQuery, PatchOp, PatchOptions, RetryPolicy};
use referrals_simulator::{Fault, FaultPlan, FaultRule, Simulator, SimulatorHandle};

use crate::support::{credentials, fast_retry, sim_client};

async fn simulator(n: usize, faults: FaultPlan) -> SimulatorHandle {
    Simulator::builder()
        // Client-credentials (app-only) tokens are used against the API here.
        .allow_app_only_tokens(true)
        .referrals(n)
        .seed(7)
        .faults(faults)
        .start()
        .await
        .expect("the simulator starts")
}

fn ids(items: &[Referral]) -> Vec<String> {
    items
        .iter()
        .map(|r| r.id.clone().unwrap_or_default())
        .collect()
}

fn assert_each_once(items: &[Referral], expected: usize) {
    let ids = ids(items);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), expected, "item count");
    assert_eq!(unique.len(), expected, "duplicates in {ids:?}");
}

#[tokio::test]
async fn lists_every_page_of_the_2018_form_each_item_once() {
    let sim = simulator(250, FaultPlan::new()).await;
    let client = sim_client(&sim);
    let query = ListQuery::new().page_size(100).expect("in range");
    let pages: Vec<_> = client
        .list(query)
        .pages()
        .try_collect()
        .await
        .expect("listing");
    assert_eq!(pages.len(), 3);
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        [100, 100, 50]
    );
    assert_eq!(pages[0].count, Some(250));
    assert!(pages[2].is_last());
    let items: Vec<Referral> = pages.into_iter().flat_map(|p| p.items).collect();
    assert_each_once(&items, 250);
    // Every page was one request, all with the same correlation id and distinct request ids.
    let requests = sim.requests();
    assert_eq!(requests.len(), 3);
    let correlation: HashSet<_> = requests
        .iter()
        .map(|r| r.header("ms-correlationid"))
        .collect();
    assert_eq!(correlation.len(), 1);
    assert!(requests[1].header("ms-continuationtoken").is_some());
    assert!(
        requests
            .iter()
            .all(|r| r.path_and_query.contains("pageSize=100"))
    );
}

#[tokio::test]
async fn lists_every_page_of_the_odata_form_each_item_once() {
    let sim = simulator(120, FaultPlan::new()).await;
    let client = sim_client(&sim);
    let query = ListQuery::new().count(true);
    let items: Vec<Referral> = client
        .list(query)
        .max_page_size(50)
        .try_collect()
        .await
        .expect("listing");
    assert_each_once(&items, 120);
    let requests = sim.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests[1].path_and_query.contains("skiptoken"),
        "{:?}",
        requests[1]
    );
    for request in &requests {
        assert_eq!(request.header("prefer"), Some("odata.maxpagesize=50"));
    }
}

#[tokio::test]
async fn top_is_the_total_of_a_listing_and_the_page_size_a_separate_setting() {
    let sim = simulator(120, FaultPlan::new()).await;
    let client = sim_client(&sim);
    // 70 of 120, in pages of 30: three requests, the last page cut by the total.
    let mut pages = client
        .list(ListQuery::new().top(70).count(true))
        .max_page_size(30)
        .pages();
    let mut sizes = Vec::new();
    let mut last = None;
    while let Some(page) = pages.next().await {
        let page = page.expect("a page");
        sizes.push(page.items.len());
        assert_eq!(page.count, Some(120), "the count counts every match");
        last = Some(page);
    }
    assert_eq!(sizes, [30, 30, 10]);
    let last = last.expect("pages");
    assert!(last.is_last() && last.checkpoint.is_finished());
    assert_eq!(sim.api_requests(), 3);
    // `$top` alone: the total in the server's page size (20).
    let items: Vec<Referral> = client
        .list(ListQuery::new().top(45))
        .try_collect()
        .await
        .expect("listing");
    assert_eq!(items.len(), 45);
    assert_eq!(sim.api_requests(), 3 + 3);
}

#[tokio::test]
async fn every_get_sends_content_type_json_as_the_contract_requires() {
    let sim = simulator(30, FaultPlan::new()).await;
    let client = sim_client(&sim);
    let query = ListQuery::new().page_size(10).expect("in range");
    let items: Vec<Referral> = client.list(query).try_collect().await.expect("listing");
    let id = items[0].id.clone().expect("an id");
    client.get(&id).await.expect("the referral");
    let requests = sim.requests();
    assert_eq!(requests.len(), 4, "three pages and a get");
    for request in &requests {
        assert_eq!(request.method, http::Method::GET);
        assert_eq!(
            request.header("content-type"),
            Some("application/json"),
            "{} {}",
            request.method,
            request.path_and_query
        );
    }
}

#[tokio::test]
async fn retries_a_429_honouring_retry_after_without_duplicating_items() {
    let faults =
        FaultPlan::new().rule(FaultRule::list_page(1, Fault::too_many_requests(1)).times(1));
    let sim = simulator(150, faults).await;
    let started = std::time::Instant::now();
    let items: Vec<Referral> = sim_client(&sim)
        .list(ListQuery::new().page_size(50).expect("in range"))
        .try_collect()
        .await
        .expect("listing recovers");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 was not honoured"
    );
    assert_each_once(&items, 150);
    assert_eq!(sim.api_requests(), 4);
}

#[tokio::test]
async fn retries_after_a_dropped_connection() {
    let faults = FaultPlan::new()
        .rule(FaultRule::list_page(1, Fault::ResetBeforeHeaders).times(1))
        .rule(FaultRule::list_page(2, Fault::ResetMidBody).times(1));
    let sim = simulator(150, faults).await;
    let items: Vec<Referral> = sim_client(&sim)
        .list(ListQuery::new().page_size(50).expect("in range"))
        .try_collect()
        .await
        .expect("listing recovers");
    assert_each_once(&items, 150);
}

#[tokio::test]
async fn headers_that_never_come_time_out_with_a_typed_error() {
    let faults = FaultPlan::new().rule(FaultRule::always(Fault::SlowHeaders(Duration::from_secs(
        5,
    ))));
    let sim = simulator(10, faults).await;
    let client = Client::builder()
        .base_url(sim.base_url())
        .bearer_token(sim.token())
        .retry(RetryPolicy::none())
        .transport(
            HyperTransport::builder()
                .attempt_timeout(Duration::from_millis(200))
                .build()
                .expect("builds"),
        )
        .build()
        .expect("valid");
    let error = client.get("anything").await.expect_err("times out");
    assert!(error.is_timeout(), "{error}");
    assert!(matches!(error.kind(), ErrorKind::Timeout { .. }));
}

#[tokio::test]
async fn a_body_over_the_cap_is_a_clear_error_not_an_out_of_memory() {
    let faults = FaultPlan::new().rule(FaultRule::always(Fault::OversizedBody(4 << 20)));
    let sim = simulator(10, faults).await;
    let client = Client::builder()
        .base_url(sim.base_url())
        .bearer_token(sim.token())
        .transport(
            HyperTransport::builder()
                .max_body_bytes(256 << 10)
                .build()
                .expect("builds"),
        )
        .build()
        .expect("valid");
    let error = client
        .list(ListQuery::new())
        .try_collect::<Vec<_>>()
        .await
        .expect_err("too large");
    match error.kind() {
        ErrorKind::Transport { source, .. } => {
            assert_eq!(
                source.kind(),
                TransportErrorKind::BodyTooLarge { limit: 256 << 10 }
            );
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert!(
        error.checkpoint().is_some(),
        "a listing error carries its checkpoint"
    );
    // Not retried: a larger body will not shrink.
    assert_eq!(sim.api_requests(), 1);
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_the_listing_goes_on() {
    let sim = simulator(150, FaultPlan::new()).await;
    let client = Client::builder()
        .base_url(sim.base_url())
        .token_provider(credentials(&sim))
        .retry(fast_retry())
        .build()
        .expect("valid");
    let mut pages = client
        .list(ListQuery::new().page_size(50).expect("in range"))
        .pages();
    let first = pages.next().await.expect("a page").expect("ok");
    sim.revoke_issued_tokens();
    let rest: Vec<_> = pages.try_collect().await.expect("refreshed and went on");
    let items: Vec<Referral> = std::iter::once(first)
        .chain(rest)
        .flat_map(|p| p.items)
        .collect();
    assert_each_once(&items, 150);
    assert_eq!(sim.token_requests(), 2);
}

#[tokio::test]
async fn a_401_that_persists_is_a_clear_auth_error() {
    let faults = FaultPlan::new().rule(FaultRule::always(Fault::Unauthorized));
    let sim = simulator(10, faults).await;
    let client = Client::builder()
        .base_url(sim.base_url())
        .token_provider(credentials(&sim))
        .build()
        .expect("valid");
    let error = client.get("x").await.expect_err("unauthorized");
    assert!(
        matches!(
            error.kind(),
            ErrorKind::Unauthorized {
                refreshed: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("even after a token refresh"));
    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(error.code(), Some("unauthenticated"));
    assert_eq!(sim.api_requests(), 2, "one refresh, one retry, no more");
    assert_eq!(sim.token_requests(), 2);
    assert!(!format!("{error} {error:?}").contains(sim.client_secret()));
}

#[tokio::test]
async fn a_rejected_fixed_token_is_not_said_to_have_been_refreshed() {
    // A fixed token cannot be refreshed: one request, and a message that says so, both for a
    // single call and for a listing.
    let faults = FaultPlan::new().rule(FaultRule::always(Fault::Unauthorized));
    let sim = simulator(10, faults).await;
    let client = sim_client(&sim);
    let error = client.get("x").await.expect_err("unauthorized");
    assert!(
        matches!(
            error.kind(),
            ErrorKind::Unauthorized {
                refreshed: false,
                ..
            }
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(!text.contains("after a token refresh"), "{text}");
    assert!(text.contains("fixed token"), "{text}");
    assert_eq!(
        sim.api_requests(),
        1,
        "nothing to refresh, so no second try"
    );

    let listing = client
        .list(ListQuery::new())
        .try_collect::<Vec<_>>()
        .await
        .expect_err("unauthorized");
    assert!(
        matches!(
            listing.kind(),
            ErrorKind::Unauthorized {
                refreshed: false,
                ..
            }
        ),
        "{listing:?}"
    );
    assert!(!listing.to_string().contains("after a token refresh"));
    assert_eq!(sim.api_requests(), 2, "one request for the listing too");
    assert_eq!(sim.token_requests(), 0);
}

#[tokio::test]
async fn fifty_concurrent_tasks_share_one_token_request() {
    let sim = simulator(5, FaultPlan::new()).await;
    let client = Client::builder()
        .base_url(sim.base_url())
        .token_provider(credentials(&sim))
        .build()
        .expect("valid");
    let id = client
        .list(ListQuery::new())
        .try_next()
        .await
        .expect("listing")
        .and_then(|r| r.id)
        .expect("an id");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            let id = id.clone();
            tokio::spawn(async move { client.get(&id).await })
        })
        .collect();
    for task in tasks {
        let referral = task.await.expect("joined").expect("got");
        assert_eq!(referral.id.as_deref(), Some(id.as_str()));
    }
    assert_eq!(sim.token_requests(), 1);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_and_nothing_is_sent_there() {
    let faults = FaultPlan::new().rule(FaultRule::list_page(0, Fault::foreign_next_link()));
    let sim = simulator(30, faults).await;
    let mut pages = sim_client(&sim)
        .list(ListQuery::new().count(true))
        .max_page_size(10)
        .pages();
    let first = pages.next().await.expect("first page").expect("ok");
    assert_eq!(first.items.len(), 10);
    let error = pages.next().await.expect("an error").expect_err("refused");
    assert!(
        matches!(error.kind(), ErrorKind::Pagination(_)),
        "{error:?}"
    );
    assert!(error.to_string().contains("evil.example"), "{error}");
    assert!(
        pages.next().await.is_none(),
        "the stream ends after an error"
    );
    assert_eq!(sim.api_requests(), 1);
}

#[tokio::test]
async fn a_listing_stopped_by_an_error_resumes_with_each_item_exactly_once() {
    let faults = FaultPlan::new().rule(FaultRule::list_page(2, Fault::status(500)).times(1));
    let sim = simulator(230, faults).await;
    let failing = Client::builder()
        .base_url(sim.base_url())
        .bearer_token(sim.token())
        .retry(RetryPolicy::none())
        .build()
        .expect("valid");
    let mut items = failing.list(ListQuery::new().page_size(50).expect("in range"));
    let (mut received, error) = until_error(&mut items).await;
    assert_eq!(received.len(), 100);
    assert_eq!(error.status().map(|s| s.as_u16()), Some(500));
    // The checkpoint travels as text, as it would to another process.
    let token = error.checkpoint().expect("a checkpoint").to_string();
    let checkpoint = token.parse().expect("parses back");
    received.extend(resumed(&sim, checkpoint).await);
    assert_each_once(&received, 230);
}

/// The items of `items` up to the error that ends it.
async fn until_error(items: &mut referrals::Listing) -> (Vec<Referral>, referrals::Error) {
    let mut received = Vec::new();
    loop {
        match items.next().await {
            Some(Ok(item)) => received.push(item),
            Some(Err(error)) => return (received, error),
            None => panic!("the listing should fail"),
        }
    }
}

/// The rest of a listing from `checkpoint`.
async fn resumed(sim: &SimulatorHandle, checkpoint: referrals::Checkpoint) -> Vec<Referral> {
    sim_client(sim)
        .resume(checkpoint)
        .try_collect()
        .await
        .expect("resumed")
}

#[tokio::test]
async fn a_mistyped_referral_ends_the_item_stream_after_its_page_and_pages_carry_it() {
    let sim = simulator(60, FaultPlan::new()).await;
    let bad = sim.referrals()[27]["id"].as_str().unwrap().to_owned();
    sim.set_faults(FaultPlan::new().rule(FaultRule::always(Fault::mistyped_field(&bad, "status"))));
    let query = || ListQuery::new().page_size(20).expect("in range");

    // Items: the first page, the second page's other 19, then the error naming the item.
    let mut items = sim_client(&sim).list(query());
    let (mut received, error) = until_error(&mut items).await;
    assert!(items.next().await.is_none(), "nothing after the error");
    assert_each_once(&received, 39);
    assert!(!ids(&received).contains(&bad));
    let ErrorKind::Decode {
        item: Some(item),
        page,
        body: None,
        ..
    } = error.kind()
    else {
        panic!("{error}");
    };
    assert_eq!(*page, Some(2));
    assert_eq!((item.page, item.index), (2, 7));
    assert_eq!(item.id.as_deref(), Some(bad.as_str()));
    assert_eq!(item.path(), "items[7].status");
    let raw: serde_json::Value = serde_json::from_str(&item.raw).unwrap();
    assert_eq!(raw["status"], 7);
    assert!(
        error.to_string().starts_with(&format!(
            "cannot decode a referral: page 2, items[7] (id \"{bad}\")"
        )),
        "{error}"
    );
    // Its checkpoint continues after that page: the rest, each once.
    let checkpoint = error.checkpoint().expect("a checkpoint").clone();
    assert_eq!(checkpoint.items_yielded(), 40);
    received.extend(resumed(&sim, checkpoint).await);
    assert_each_once(&received, 59);

    // Pages: every page, the mistyped referral aside.
    let pages: Vec<referrals::Page> = sim_client(&sim)
        .list(query())
        .pages()
        .try_collect()
        .await
        .expect("every page");
    assert_eq!(pages.len(), 3);
    let set_aside: Vec<_> = pages.iter().flat_map(|p| &p.undecodable).collect();
    assert_eq!(set_aside.len(), 1);
    assert_eq!(set_aside[0].id.as_deref(), Some(bad.as_str()));
    assert_eq!(pages.iter().map(|p| p.items.len()).sum::<usize>(), 59);
}

#[tokio::test]
async fn limits_stop_a_listing_early() {
    let sim = simulator(100, FaultPlan::new()).await;
    let items: Vec<Referral> = sim_client(&sim)
        .list(ListQuery::new().page_size(30).expect("in range"))
        .max_items(45)
        .try_collect()
        .await
        .expect("listing");
    assert_eq!(items.len(), 45);
    assert_eq!(sim.api_requests(), 2);
}

#[tokio::test]
async fn create_get_patch_and_replace_round_trip() {
    let sim = simulator(3, FaultPlan::new()).await;
    let client = sim_client(&sim);
    let draft: Referral =
        referrals::model::decode(referrals_fixtures::files::Fixture::CreateRequest.bytes())
            .expect("fixture decodes");
    let created = client.create(&draft).await.expect("created");
    let id = created.id.clone().expect("an id");
    assert_eq!(
        created.referral_type,
        Some(ReferralType::Independent).or(draft.referral_type.clone())
    );
    let fetched = client.get(&id).await.expect("got");
    let etag = fetched.e_tag.clone().expect("an eTag");

    let ops = [
        PatchOp::replace("/status", "Active"),
        PatchOp::replace("/substatus", "Accepted"),
    ];
    let updated = client
        .patch(
            &id,
            &ops,
            PatchOptions::new()
                .if_match(etag.clone())
                .return_representation(),
        )
        .await
        .expect("patched")
        .expect("representation asked for");
    assert_eq!(updated.status, Some(ReferralStatus::Active));

    // The old eTag is stale now: 412, and not retried.
    let before = sim.api_requests();
    let error = client
        .patch(&id, &ops, PatchOptions::new().if_match(etag))
        .await
        .expect_err("stale eTag");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(412));
    assert_eq!(sim.api_requests(), before + 1);

    let mut whole = updated.clone();
    whole.name = Some("Renamed".into());
    let replaced = client.replace(&whole).await.expect("replaced");
    assert_eq!(replaced.name.as_deref(), Some("Renamed"));
    let missing = client.get("no-such-referral").await.expect_err("404");
    assert_eq!(missing.code(), Some("itemNotFound"));
    assert!(missing.request_id().is_some());
}

#[tokio::test]
async fn bad_configuration_is_refused_before_any_request() {
    let error = Client::builder()
        .base_url("http://api.partner.microsoft.com")
        .bearer_token("t")
        .build()
        .expect_err("plain http to a remote host");
    assert!(matches!(error.kind(), ErrorKind::Config(_)));
    assert!(error.to_string().contains("http"), "{error}");
    let error = Client::builder().build().expect_err("no credentials");
    assert!(error.to_string().contains("no credentials"), "{error}");
    let page_size = ListQuery::new().page_size(101).expect_err("out of range");
    assert!(page_size.to_string().contains("pageSize"), "{page_size}");
}

#[tokio::test]
async fn the_documented_default_user_agent_is_sent() {
    let sim = simulator(1, FaultPlan::new()).await;
    sim_client(&sim)
        .list(ListQuery::new())
        .try_collect::<Vec<_>>()
        .await
        .expect("listing");
    let sent = sim.requests()[0].header("user-agent").map(str::to_owned);
    assert_eq!(sent.as_deref(), Some(referrals::query::DEFAULT_USER_AGENT));
    assert_eq!(
        sent,
        Some(format!("referrals-rs/{}", env!("CARGO_PKG_VERSION")))
    );
}

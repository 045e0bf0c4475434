//! Load: 64 concurrent listings sharing one client against the simulator, with about 7% of the
//! API requests failing transiently (5% 503, 1% reset before headers, 1% reset mid-body). Every
//! listing completes with every item exactly once; connections are reused (their number follows
//! the concurrency and the resets, not the number of requests); the token endpoint is called once per token
//! lifetime, not once per task. Two rounds: the issued tokens are revoked between them, as an
//! expiry would, so exactly two token requests are expected.
//!
//! `RELIABILITY_REPORT=1 cargo test -p referrals --test it reliability_load -- --nocapture`
//! prints the figures that `docs/reliability.md` shows.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use referrals::auth::ClientCredentials;
use referrals::model::Referral;
use referrals::query::AuthorityUrl;
use referrals::transport::HyperTransport;
use referrals::{Client, ListQuery, RetryPolicy};
use referrals_simulator::{Fault, FaultPlan, FaultRule, Simulator};

const LISTINGS: usize = 64;
const ITEMS: usize = 120;
const PAGE: u32 = 20;
const ROUNDS: usize = 2;

fn faults() -> FaultPlan {
    FaultPlan::new()
        .seed(42)
        .rule(FaultRule::with_probability(0.05, Fault::status(503)))
        .rule(FaultRule::with_probability(0.01, Fault::ResetBeforeHeaders))
        .rule(FaultRule::with_probability(0.01, Fault::ResetMidBody))
}

/// Enough attempts that a run of transient faults on one page is practically impossible
/// (0.07^10), with millisecond delays.
fn patient_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(50),
        // Never what ends a listing, even on a busy machine: only the attempts count.
        max_total: Duration::from_secs(120),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_listings_under_transient_faults_lose_and_repeat_nothing() {
    let sim = Simulator::builder()
        // Client-credentials (app-only) tokens are used against the API here.
        .allow_app_only_tokens(true)
        .referrals(ITEMS)
        .seed(5)
        .faults(faults())
        .start()
        .await
        .expect("the simulator starts");
    let expected: HashSet<String> = sim
        .referrals()
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect();
    assert_eq!(expected.len(), ITEMS);

    let transport = HyperTransport::builder()
        .no_proxy()
        // The pool keeps this many idle connections and closes the rest; below the concurrency
        // (the default is 16), connections are closed and reopened as tasks come and go.
        .pool_max_idle_per_host(LISTINGS)
        // Never reached by a loopback answer: a timed-out attempt would be one request more
        // than the faults account for.
        .attempt_timeout(Duration::from_secs(60))
        .build()
        .expect("builds");
    let authority = AuthorityUrl::parse(&sim.authority_url()).expect("loopback");
    let credentials = ClientCredentials::with_authority(
        authority,
        sim.tenant(),
        sim.client_id(),
        sim.client_secret(),
    )
    .expect("complete");
    let client = Client::builder()
        .base_url(sim.base_url())
        .token_provider(credentials)
        .transport(transport.clone())
        .retry(patient_retry())
        .build()
        .expect("valid");

    let started = Instant::now();
    for round in 0..ROUNDS {
        if round > 0 {
            // Every task now holds a token the API rejects: one refresh must serve them all.
            sim.revoke_issued_tokens();
        }
        let tasks: Vec<_> = (0..LISTINGS)
            .map(|n| {
                let client = client.clone();
                // The 2018 form's page size is in its query, the OData form's a preference.
                let listing = if n % 2 == 0 {
                    client.list(ListQuery::new().page_size(PAGE).expect("in range"))
                } else {
                    client
                        .list(ListQuery::new().count(true))
                        .max_page_size(PAGE)
                };
                tokio::spawn(async move {
                    listing
                        .try_collect::<Vec<Referral>>()
                        .await
                        .map(|items| items.into_iter().map(|r| r.id.unwrap_or_default()))
                        .map(Vec::from_iter)
                })
            })
            .collect();
        // A hang guard, not a speed assertion: the run takes a few seconds.
        let results =
            tokio::time::timeout(Duration::from_secs(600), futures::future::join_all(tasks))
                .await
                .expect("the listings finish");
        for (n, result) in results.into_iter().enumerate() {
            let ids = result
                .expect("the task joins")
                .unwrap_or_else(|e| panic!("listing {n} of round {round} failed: {e:?}"));
            let unique: HashSet<String> = ids.iter().cloned().collect();
            assert_eq!(ids.len(), ITEMS, "listing {n}: duplicated or lost items");
            assert_eq!(unique, expected, "listing {n}: not every item");
        }
    }
    let elapsed = started.elapsed();

    let requests = sim.requests();
    let injected = requests.iter().filter(|r| r.fault.is_some()).count();
    let resets = requests
        .iter()
        .filter(|r| {
            matches!(
                r.fault,
                Some(Fault::ResetBeforeHeaders) | Some(Fault::ResetMidBody)
            )
        })
        .count();
    let rejected = requests.iter().filter(|r| r.status == Some(401)).count();
    let pages = ROUNDS * LISTINGS * (ITEMS / PAGE as usize);
    let api_requests = sim.api_requests();
    let opened = transport.connections_opened();

    assert!(injected > 0, "faults were injected");
    // Round 2 starts with the revoked token cached: the first listings to use it get a 401
    // (those that start after the refresh never send it).
    assert!((1..=LISTINGS).contains(&rejected), "{rejected} 401s");
    assert_eq!(
        api_requests as usize,
        pages + injected + rejected,
        "one request per page, plus one per fault and one per 401"
    );
    assert_eq!(
        sim.token_requests(),
        ROUNDS as u64,
        "one token per lifetime, not one per task"
    );
    // The server saw only this client's connections (one opened at the very end may still wait
    // in the accept queue, so not necessarily all of them yet).
    assert!(
        sim.connections() <= opened,
        "{} > {opened}",
        sim.connections()
    );
    // At most one request is in flight per listing, so a round needs at most one connection per
    // listing, plus one for every connection a reset killed. hyper-util's pool races a new
    // connect against waiting for an idle connection, and keeps the loser: a burst may open up
    // to one more per listing. Either way the count follows the concurrency, never the number
    // of requests.
    let bound = (2 * ROUNDS * LISTINGS + resets) as u64;
    assert!(
        opened <= bound,
        "{opened} connections opened, more than {bound}"
    );
    assert!(
        opened * 3 < api_requests,
        "{opened} connections for {api_requests} requests: connections are not reused"
    );

    if std::env::var_os("RELIABILITY_REPORT").is_some() {
        println!(
            "| listings | items each | items total | API requests | faults injected (503 / resets) | \
             401s after revocation | connections opened | token requests | wall time |\n\
             |---|---|---|---|---|---|---|---|---|\n\
             | {} | {ITEMS} | {} | {api_requests} | {injected} ({} / {resets}) | {rejected} | {opened} | {} | {:.2} s |",
            ROUNDS * LISTINGS,
            ROUNDS * LISTINGS * ITEMS,
            injected - resets,
            sim.token_requests(),
            elapsed.as_secs_f64()
        );
    }
}

//! Fault injection over real loopback HTTP: each fault arrives as configured, and the
//! simulator keeps serving correctly afterwards.

use std::time::{Duration, SystemTime};

use crate::support::{COLLECTION, Conn, Ending, bearer, get, get_paged, next_token, send};
use referrals_fixtures::synthetic::Synthetic;
use referrals_simulator::{Fault, FaultPlan, FaultRule, Operation, Simulator, SimulatorHandle};
use serde_json::{Value, json};

async fn simulator(n: usize, plan: FaultPlan) -> SimulatorHandle {
    Simulator::builder()
        .referrals(n)
        .seed(5)
        .faults(plan)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn throttling_carries_retry_after_in_seconds_or_as_an_http_date() {
    let plan = FaultPlan::new()
        .rule(FaultRule::nth_request(1, Fault::too_many_requests(3)))
        .rule(FaultRule::nth_request(
            2,
            Fault::too_many_requests_until(Duration::from_secs(120)),
        ))
        .rule(FaultRule::nth_request(3, Fault::status(503)));
    let sim = simulator(3, plan).await;

    let first = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(first.status, 429);
    assert_eq!(first.header("retry-after"), Some("3"));
    assert_eq!(first.json()["error"]["code"], "tooManyRequests");

    let second = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(second.status, 429);
    let date = httpdate::parse_http_date(second.header("retry-after").unwrap()).unwrap();
    let wait = date.duration_since(SystemTime::now()).unwrap();
    assert!(
        wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );

    let third = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(third.status, 503);
    assert_eq!(third.header("retry-after"), None);
    assert_eq!(third.json()["error"]["code"], "serviceNotAvailable");

    assert_eq!(
        get(sim.local_addr(), COLLECTION, sim.token()).await.status,
        200
    );
    let faults: Vec<Option<Fault>> = sim.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(faults[3], None);
    assert_eq!(faults[2], Some(Fault::status(503)));
}

#[tokio::test]
async fn gateways_answer_with_html_or_nothing() {
    let plan = FaultPlan::new()
        .rule(FaultRule::nth_request(1, Fault::GatewayHtml))
        .rule(FaultRule::nth_request(2, Fault::EmptyBody { status: 504 }));
    let sim = simulator(1, plan).await;
    let html = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(html.status, 502);
    assert_eq!(html.header("content-type"), Some("text/html"));
    assert!(String::from_utf8_lossy(&html.body).contains("<h1>502 Bad Gateway</h1>"));
    let empty = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(empty.status, 504);
    assert!(empty.body.is_empty());
}

#[tokio::test]
async fn a_reset_before_headers_sends_nothing_but_the_request_took_effect() {
    let plan = FaultPlan::new().rule(FaultRule::matching(
        |r| r.operation == Operation::Create,
        Fault::ResetBeforeHeaders,
    ));
    let sim = simulator(2, plan).await;
    let referral = json!({ "type": "Shared", "customerProfile": {}, "consent": {}, "details": {} });
    let body = serde_json::to_vec(&referral).unwrap();
    let mut conn = Conn::open(sim.local_addr()).await;
    let exchange = conn
        .exchange(
            "POST",
            COLLECTION,
            &[("Authorization", &bearer(&sim))],
            Some(&body),
        )
        .await;
    assert!(
        exchange.bytes.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&exchange.bytes)
    );
    assert_ne!(exchange.ending, Ending::Complete);
    // The server acted before the connection dropped: the client must not blindly resend.
    assert_eq!(sim.referral_count(), 3);
    assert_eq!(sim.requests()[0].status, None);
    // Other requests are served normally.
    assert_eq!(
        get(sim.local_addr(), COLLECTION, sim.token()).await.status,
        200
    );
}

#[tokio::test]
async fn truncated_and_reset_bodies_fall_short_of_their_content_length() {
    let plan = FaultPlan::new()
        .rule(FaultRule::nth_request(1, Fault::TruncatedBody))
        .rule(FaultRule::nth_request(2, Fault::ResetMidBody));
    let sim = simulator(20, plan).await;
    for expected_status in [200, 200] {
        let mut conn = Conn::open(sim.local_addr()).await;
        let exchange = conn
            .exchange("GET", COLLECTION, &[("Authorization", &bearer(&sim))], None)
            .await;
        let (status, _, _) = exchange.head().expect("the head arrives");
        assert_eq!(status, expected_status);
        let announced = exchange.content_length().unwrap();
        assert!(!exchange.body().is_empty());
        assert!(exchange.body().len() < announced);
        assert_ne!(exchange.ending, Ending::Complete);
        assert!(serde_json::from_slice::<Value>(exchange.body()).is_err());
    }
    let whole = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(whole.json()["items"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn slow_headers_are_delayed_then_answered() {
    let plan = FaultPlan::new().rule(FaultRule::always(Fault::SlowHeaders(
        Duration::from_millis(20),
    )));
    let sim = simulator(1, plan).await;
    let answer = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        sim.requests()[0].fault,
        Some(Fault::SlowHeaders(Duration::from_millis(20)))
    );
}

#[tokio::test]
async fn headers_that_never_come_end_with_the_simulator() {
    let plan = FaultPlan::new().rule(FaultRule::always(Fault::SlowHeaders(Duration::from_secs(
        3600,
    ))));
    let sim = simulator(1, plan).await;
    let address = sim.local_addr();
    let token = bearer(&sim);
    let pending = tokio::spawn(async move {
        let mut conn = Conn::open(address).await;
        conn.exchange("GET", COLLECTION, &[("Authorization", &token)], None)
            .await
    });
    while sim.api_requests() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.shutdown().await;
    let exchange = pending.await.unwrap();
    assert!(exchange.bytes.is_empty());
    assert_ne!(exchange.ending, Ending::Complete);
}

#[tokio::test]
async fn list_faults_break_paging_as_configured() {
    let plan = FaultPlan::new()
        .rule(FaultRule::list_page(1, Fault::RepeatToken).times(1))
        .rule(FaultRule::list_page(2, Fault::foreign_next_link()).times(1))
        .rule(FaultRule::list_page(3, Fault::downgraded_next_link()).times(1));
    let sim = simulator(50, plan).await;
    let first_target = format!("{COLLECTION}?$count=true");
    let page0 = get_paged(sim.local_addr(), &first_target, sim.token(), 10)
        .await
        .json();
    let link1 = page0["@odata.nextLink"].as_str().unwrap();
    let target1 = link1.strip_prefix(&sim.base_url()).unwrap();

    // Page 1 points at itself.
    let page1 = get(sim.local_addr(), target1, sim.token()).await.json();
    assert_eq!(page1["@odata.nextLink"].as_str(), Some(link1));
    // Asked again (the rule is spent), it continues normally, then page 2 points elsewhere.
    let page1 = get(sim.local_addr(), target1, sim.token()).await.json();
    let link2 = page1["@odata.nextLink"].as_str().unwrap();
    let page2 = get(
        sim.local_addr(),
        link2.strip_prefix(&sim.base_url()).unwrap(),
        sim.token(),
    )
    .await
    .json();
    let foreign = page2["@odata.nextLink"].as_str().unwrap();
    assert!(
        foreign.starts_with(&format!(
            "http://evil.example:{}/v1.0/engagements/referrals?",
            sim.local_addr().port()
        )),
        "{foreign}"
    );

    // The 2018 form gets the same faults in links.next.
    sim.set_faults(FaultPlan::new().rule(FaultRule::list_page(0, Fault::downgraded_next_link())));
    let classic = get(
        sim.local_addr(),
        &format!("{COLLECTION}?pageSize=10"),
        sim.token(),
    )
    .await
    .json();
    assert_eq!(
        classic["links"]["next"]["uri"],
        "http://api.partner.microsoft.com/v1.0/engagements/referrals?api-version=v1.0"
    );

    // A repeated token in the 2018 form equals the one sent.
    sim.set_faults(FaultPlan::new().rule(FaultRule::list_page(1, Fault::RepeatToken)));
    let first = get(
        sim.local_addr(),
        &format!("{COLLECTION}?pageSize=10"),
        sim.token(),
    )
    .await
    .json();
    let token = next_token(&first);
    let second = send(
        sim.local_addr(),
        "GET",
        &format!("{COLLECTION}?pageSize=10"),
        &[
            ("Authorization", &bearer(&sim)),
            ("MS-ContinuationToken", token),
        ],
        None,
    )
    .await
    .json();
    assert_eq!(
        second["links"]["next"]["headers"][0]["value"].as_str(),
        Some(token)
    );
}

#[tokio::test]
async fn an_empty_middle_page_keeps_its_next_link_and_loses_nothing() {
    let plan = FaultPlan::new().rule(FaultRule::list_page(1, Fault::EmptyPage).times(1));
    let sim = simulator(25, plan).await;
    let mut target = format!("{COLLECTION}?pageSize=10");
    let mut token: Option<String> = None;
    let mut ids = Vec::new();
    let mut empty_pages = 0;
    loop {
        let mut headers = vec![("Authorization".to_owned(), bearer(&sim))];
        if let Some(token) = &token {
            headers.push(("MS-ContinuationToken".to_owned(), token.clone()));
        }
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let page = send(sim.local_addr(), "GET", &target, &headers, None)
            .await
            .json();
        let items = page["items"].as_array().unwrap();
        if items.is_empty() {
            empty_pages += 1;
        }
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match page["links"]["next"]["headers"][0]["value"].as_str() {
            Some(next) => {
                assert_ne!(
                    token.as_deref(),
                    Some(next),
                    "an empty page must not repeat its token"
                );
                token = Some(next.to_owned());
            }
            None => break,
        }
        target = format!("{COLLECTION}?pageSize=10");
    }
    assert_eq!(empty_pages, 1);
    let synthetic = Synthetic::new(5);
    assert_eq!(
        ids,
        (0..25)
            .map(|i| synthetic.referral_id(i))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn invalid_json_and_oversized_bodies() {
    let plan = FaultPlan::new()
        .rule(FaultRule::nth_request(1, Fault::InvalidJson))
        .rule(FaultRule::nth_request(
            2,
            Fault::OversizedBody(3 * 1024 * 1024),
        ))
        .rule(FaultRule::nth_request(3, Fault::InvalidJson));
    let sim = simulator(5, plan).await;

    let broken = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(broken.status, 200);
    let error = serde_json::from_slice::<Value>(&broken.body).unwrap_err();
    assert!(error.is_syntax(), "{error}");

    let big = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(big.header("content-length"), Some("3145728"));
    assert_eq!(big.body.len(), 3 * 1024 * 1024);
    let parsed = big.json();
    assert_eq!(parsed["items"].as_array().unwrap().len(), 5);
    assert!(parsed["padding"].as_str().unwrap().len() > 3_000_000);

    let id = Synthetic::new(5).referral_id(0);
    let single = get(sim.local_addr(), &format!("{COLLECTION}/{id}"), sim.token()).await;
    assert!(
        serde_json::from_slice::<Value>(&single.body)
            .unwrap_err()
            .is_eof()
    );
}

#[tokio::test]
async fn a_mistyped_field_is_served_for_one_referral_in_lists_and_gets_until_the_rule_goes() {
    let id = Synthetic::new(5).referral_id(1);
    let plan = FaultPlan::new().rule(FaultRule::always(Fault::mistyped_field(&id, "status")));
    let sim = simulator(3, plan).await;

    let page = get(sim.local_addr(), COLLECTION, sim.token()).await.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for item in items {
        let mistyped = item["id"] == id.as_str();
        assert_eq!(item["status"] == json!(7), mistyped, "{item}");
        assert_eq!(item["status"].is_string(), !mistyped, "{item}");
    }
    let single = get(sim.local_addr(), &format!("{COLLECTION}/{id}"), sim.token()).await;
    assert_eq!(single.json()["status"], json!(7));
    // The stored referral is untouched.
    assert!(sim.referral(&id).unwrap()["status"].is_string());

    sim.set_faults(FaultPlan::new());
    let page = get(sim.local_addr(), COLLECTION, sim.token()).await.json();
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["status"].is_string())
    );
}

#[tokio::test]
async fn unauthorized_once_then_accepted() {
    let plan = FaultPlan::new().rule(FaultRule::always(Fault::Unauthorized).times(1));
    let sim = simulator(2, plan).await;
    let refused = get(sim.local_addr(), COLLECTION, sim.token()).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["error"]["code"], "unauthenticated");
    assert_eq!(
        get(sim.local_addr(), COLLECTION, sim.token()).await.status,
        200
    );
}

#[tokio::test]
async fn probabilistic_faults_are_seeded_and_partial() {
    let run = |seed| async move {
        let plan = FaultPlan::new()
            .seed(seed)
            .rule(FaultRule::with_probability(0.3, Fault::status(503)));
        let sim = simulator(1, plan).await;
        let mut conn = Conn::open(sim.local_addr()).await;
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(
                conn.send("GET", COLLECTION, &[("Authorization", &bearer(&sim))], None)
                    .await
                    .status,
            );
        }
        statuses
    };
    let first = run(9).await;
    let failures = first.iter().filter(|s| **s == 503).count();
    assert!(failures > 0 && failures < 40, "{failures} of 40");
    assert!(first.iter().all(|s| *s == 200 || *s == 503));
    assert_eq!(run(9).await, first);
}

//! The fault matrix: every fault of the reliability issue, injected by the simulator over real
//! loopback HTTP, against the facade. A listing of several pages must end either with every item
//! exactly once, or with a typed error whose checkpoint resumes (once the fault is gone) with
//! exactly the remaining items. Writes must never be sent twice once they may have reached the
//! server.
//!
//! Nothing here depends on how fast a busy machine runs: timeouts and retry budgets are far
//! beyond what a loopback answer needs, except the attempt timeouts under test, and where a
//! client gives up on its own clock (an attempt timeout), what is asserted is what the user sees
//! (the typed error, its attempts and checkpoint, nothing lost or repeated), not whether the
//! server saw the request in time.
//!
//! `RELIABILITY_REPORT=1 cargo test -p referrals --test it reliability_fault_matrix -- --nocapture`
//! prints the table that `docs/reliability.md` shows.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use http::Method;
use referrals::model::Referral;
use referrals::query::PagerError;
use referrals::query::transport::{BoxFuture, Transport, TransportError, TransportErrorKind};
use referrals::transport::HyperTransport;
use referrals::{Client, Error, ErrorKind, ListQuery, PatchOp, PatchOptions, RetryPolicy};
use referrals_simulator::{
    Fault, FaultPlan, FaultRule, Operation, Simulator, SimulatorBuilder, SimulatorHandle,
};
use serde_json::{Value, json};

use crate::support::{
    ClosedPort, GENEROUS, credentials, fast_retry, hyper_transport, kind_name, sim_client,
};

/// Items per simulator: five pages of 20 in either form.
const ITEMS: usize = 100;
const PAGE: u32 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Classic,
    OData,
}

impl Form {
    fn query(self) -> ListQuery {
        match self {
            Form::Classic => ListQuery::new().page_size(PAGE).expect("in range"),
            Form::OData => ListQuery::new().top(u64::from(PAGE)).count(true),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Form::Classic => "2018",
            Form::OData => "OData",
        }
    }
}

/// How the client under test is configured.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// A static bearer token, fast retries, a generous attempt timeout.
    Normal,
    /// This attempt timeout on every attempt (used where every attempt is held: the outcome is
    /// a `Timeout` whatever the scheduling).
    AttemptTimeout(Duration),
    /// This attempt timeout until one attempt has timed out, then the generous one: a retry
    /// after a timeout gets through however busy the machine (a fixed short timeout on every
    /// attempt made the retries time out too under load).
    FirstTimeoutShort(Duration),
    /// A 64 KiB body cap.
    SmallCap,
    /// OAuth2 client credentials against the simulator's token endpoint.
    Credentials,
}

/// What a listing under a fault must end with.
#[derive(Clone, Copy)]
enum Expect {
    /// Every item exactly once, with no error.
    Complete,
    /// An error of this kind (named for the table), then a resume without the fault.
    Fails(&'static str),
}

struct Case {
    fault: &'static str,
    /// What completing means here, when it is not "retried".
    note: Option<&'static str>,
    plan: fn() -> FaultPlan,
    setup: Setup,
    classic: Expect,
    odata: Expect,
}

/// One line of the report.
struct Row {
    fault: String,
    form: &'static str,
    behaviour: String,
    requests: String,
    injected: usize,
    lost: String,
    duplicated: String,
}

/// A simulator that takes the client-credentials (app-only) tokens some cases use.
fn app_only_simulator() -> SimulatorBuilder {
    Simulator::builder().allow_app_only_tokens(true)
}

/// An [`app_only_simulator`] of `referrals` synthetic referrals, the same in every case.
fn simulator(referrals: usize) -> SimulatorBuilder {
    app_only_simulator().referrals(referrals).seed(11)
}

/// A simulator serving exactly `referrals`, and a client of it.
async fn serving(referrals: Vec<Value>) -> (SimulatorHandle, Client) {
    let sim = app_only_simulator()
        .with_referrals(referrals)
        .start()
        .await
        .expect("starts");
    let client = client(&sim, Setup::Normal);
    (sim, client)
}

/// A [`simulator`] of `referrals` started on the port `closed` holds, which it then lets go.
async fn simulator_on(closed: ClosedPort, referrals: usize) -> SimulatorHandle {
    let sim = simulator(referrals)
        .port(closed.address().port())
        .start()
        .await
        .expect("the port is free again");
    drop(closed);
    sim
}

fn on_page_1(fault: Fault) -> FaultPlan {
    FaultPlan::new().rule(FaultRule::list_page(1, fault))
}

fn once_on_page_1(fault: Fault) -> FaultPlan {
    FaultPlan::new().rule(FaultRule::list_page(1, fault).times(1))
}

fn cases() -> Vec<Case> {
    use Expect::{Complete, Fails};
    vec![
        Case {
            note: None,
            fault: "429 + Retry-After: 1 (seconds)",
            plan: || once_on_page_1(Fault::too_many_requests(1)),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "429 + Retry-After: HTTP-date (+1 s)",
            plan: || once_on_page_1(Fault::too_many_requests_until(Duration::from_secs(1))),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "503 once, then success",
            plan: || once_on_page_1(Fault::status(503)),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "500 twice, then success",
            plan: || FaultPlan::new().rule(FaultRule::list_page(1, Fault::status(500)).times(2)),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "502 once",
            plan: || once_on_page_1(Fault::status(502)),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "504 once",
            plan: || once_on_page_1(Fault::status(504)),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "503 on every attempt",
            plan: || on_page_1(Fault::status(503)),
            setup: Setup::Normal,
            classic: Fails("Api"),
            odata: Fails("Api"),
        },
        Case {
            note: None,
            fault: "HTML 502 from a gateway, once",
            plan: || once_on_page_1(Fault::GatewayHtml),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "HTML 502 from a gateway, always",
            plan: || on_page_1(Fault::GatewayHtml),
            setup: Setup::Normal,
            classic: Fails("Api"),
            odata: Fails("Api"),
        },
        Case {
            note: None,
            fault: "reset before headers, once",
            plan: || once_on_page_1(Fault::ResetBeforeHeaders),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "reset before headers, always",
            plan: || on_page_1(Fault::ResetBeforeHeaders),
            setup: Setup::Normal,
            classic: Fails("Transport"),
            odata: Fails("Transport"),
        },
        Case {
            note: None,
            fault: "reset mid-body, once",
            plan: || once_on_page_1(Fault::ResetMidBody),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "truncated body (clean close), once",
            plan: || once_on_page_1(Fault::TruncatedBody),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "truncated body, always",
            plan: || on_page_1(Fault::TruncatedBody),
            setup: Setup::Normal,
            classic: Fails("Transport"),
            odata: Fails("Transport"),
        },
        Case {
            note: None,
            fault: "headers never come (150 ms attempt timeout until one times out), once",
            plan: || once_on_page_1(Fault::SlowHeaders(Duration::from_secs(5))),
            setup: Setup::FirstTimeoutShort(Duration::from_millis(150)),
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "headers never come (150 ms attempt timeout), always",
            plan: || on_page_1(Fault::SlowHeaders(Duration::from_secs(30))),
            setup: Setup::AttemptTimeout(Duration::from_millis(150)),
            classic: Fails("Timeout"),
            odata: Fails("Timeout"),
        },
        Case {
            note: None,
            fault: "body over the cap (1 MiB vs 64 KiB)",
            plan: || on_page_1(Fault::OversizedBody(1 << 20)),
            setup: Setup::SmallCap,
            classic: Fails("Transport"),
            odata: Fails("Transport"),
        },
        Case {
            note: None,
            fault: "invalid JSON page",
            plan: || on_page_1(Fault::InvalidJson),
            setup: Setup::Normal,
            classic: Fails("Decode"),
            odata: Fails("Decode"),
        },
        Case {
            note: Some("followed the empty page's next link; completed"),
            fault: "empty middle page with a next link",
            plan: || on_page_1(Fault::EmptyPage),
            setup: Setup::Normal,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "repeating continuation token",
            plan: || on_page_1(Fault::RepeatToken),
            setup: Setup::Normal,
            classic: Fails("Pagination"),
            odata: Fails("Pagination"),
        },
        Case {
            // In the 2018 form the link's URI is not used (the first URL is sent again with the
            // continuation headers), so the token cannot follow it: the listing completes.
            note: Some("link URI not used (2018 form: first URL + continuation header); completed"),
            fault: "next link to another host",
            plan: || on_page_1(Fault::foreign_next_link()),
            setup: Setup::Normal,
            classic: Complete,
            odata: Fails("Pagination"),
        },
        Case {
            note: Some("link URI not used (2018 form: first URL + continuation header); completed"),
            fault: "next link `http://` on a non-loopback host",
            plan: || on_page_1(Fault::downgraded_next_link()),
            setup: Setup::Normal,
            classic: Complete,
            odata: Fails("Pagination"),
        },
        Case {
            note: None,
            fault: "401 once (client credentials: refresh)",
            plan: || once_on_page_1(Fault::Unauthorized),
            setup: Setup::Credentials,
            classic: Complete,
            odata: Complete,
        },
        Case {
            note: None,
            fault: "401 always (client credentials)",
            plan: || on_page_1(Fault::Unauthorized),
            setup: Setup::Credentials,
            classic: Fails("Unauthorized"),
            odata: Fails("Unauthorized"),
        },
    ]
}

/// API requests answered with a fault: every API request but those recorded as answered
/// normally (a request still held by `SlowHeaders` is not recorded yet, but did get the fault).
///
/// Exact for every fault the client sees (the simulator records an exchange before answering).
/// Where the client gives up on its own clock, a request may not have reached the simulator
/// yet when the listing ends; those cases prove the fault by the error instead.
fn faults_injected(sim: &SimulatorHandle) -> usize {
    let clean = sim
        .requests()
        .iter()
        .filter(|r| r.path_and_query.starts_with("/v1.0") && r.fault.is_none())
        .count();
    usize::try_from(sim.api_requests()).expect("fits") - clean
}

/// `Api 503 after 4 attempts`, `Transport (Io) after 4 attempts`...
fn describe(error: &Error) -> String {
    let attempts = |n: &u32| format!(" after {n} attempt(s)");
    match error.kind() {
        ErrorKind::Api {
            error: api,
            attempts: n,
            ..
        } => format!("Api {}{}", api.status().as_u16(), attempts(n)),
        ErrorKind::Transport {
            source,
            attempts: n,
            ..
        }
        | ErrorKind::Timeout {
            source,
            attempts: n,
            ..
        } => match source.kind() {
            TransportErrorKind::Timeout => format!("Timeout{}", attempts(n)),
            other => format!("{} ({other:?}){}", kind_name(error.kind()), attempts(n)),
        },
        ErrorKind::Unauthorized { .. } => "Unauthorized (after one token refresh)".into(),
        ErrorKind::Pagination(PagerError::Loop { .. }) => "Pagination (loop detected)".into(),
        ErrorKind::Pagination(PagerError::NextLink(link)) if link.is_foreign() => {
            "Pagination (foreign next link refused, nothing sent to it)".into()
        }
        ErrorKind::Decode { error, page } => format!(
            "Decode (page {}, line {}, column {})",
            page.unwrap_or_default(),
            error.line(),
            error.column()
        ),
        other => kind_name(other).to_owned(),
    }
}

/// The attempts an error reports (1 when it has no count).
fn attempts(error: &Error) -> usize {
    match error.kind() {
        ErrorKind::Api { attempts, .. }
        | ErrorKind::Transport { attempts, .. }
        | ErrorKind::Timeout { attempts, .. } => *attempts as usize,
        _ => 1,
    }
}

fn client(sim: &SimulatorHandle, setup: Setup) -> Client {
    let builder = Client::builder()
        .base_url(sim.base_url())
        .retry(fast_retry());
    let builder = match setup {
        Setup::Normal => return sim_client(sim),
        Setup::AttemptTimeout(timeout) => builder
            .bearer_token(sim.token())
            .transport(hyper_transport(timeout)),
        Setup::FirstTimeoutShort(timeout) => {
            builder
                .bearer_token(sim.token())
                .transport(FirstTimeoutShort {
                    short: hyper_transport(timeout),
                    generous: hyper_transport(GENEROUS),
                    timed_out: AtomicBool::new(false),
                })
        }
        Setup::SmallCap => builder.bearer_token(sim.token()).transport(
            HyperTransport::builder()
                .no_proxy()
                .attempt_timeout(GENEROUS)
                .max_body_bytes(64 << 10)
                .build()
                .expect("builds"),
        ),
        Setup::Credentials => builder
            .token_provider(credentials(sim))
            .transport(hyper_transport(GENEROUS)),
    };
    builder.build().expect("a valid configuration")
}

fn expected_ids(sim: &SimulatorHandle) -> Vec<String> {
    sim.referrals()
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Items lost and items duplicated, against what the server holds.
fn tally(expected: &[String], received: &[String]) -> (usize, usize) {
    let unique: HashSet<&String> = received.iter().collect();
    let lost = expected.iter().filter(|id| !unique.contains(id)).count();
    (lost, received.len() - unique.len())
}

/// The row of a listing of `form` under `fault` that ended with every item of `expected`
/// exactly once in `received` (asserted); its behaviour, requests and faults are the caller's.
fn listing_row(fault: &str, form: Form, expected: &[String], received: &[String]) -> Row {
    let (lost, duplicated) = tally(expected, received);
    assert_eq!(
        (lost, duplicated),
        (0, 0),
        "{fault} [{}]: lost, duplicated",
        form.name()
    );
    Row {
        fault: fault.to_owned(),
        form: form.name(),
        behaviour: String::new(),
        requests: String::new(),
        injected: 0,
        lost: lost.to_string(),
        duplicated: duplicated.to_string(),
    }
}

/// Lists until the end or the first error; the ids received and the error.
async fn drain(client: &Client, listing: referrals::Listing) -> (Vec<String>, Option<Error>) {
    let _ = client;
    let mut pages = listing.pages();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => ids.extend(page.items.into_iter().map(|r| r.id.unwrap_or_default())),
            Err(error) => return (ids, Some(error)),
        }
    }
    (ids, None)
}

/// Resumes from the error's checkpoint (as text, as it would travel to another process).
async fn resume(client: &Client, error: &Error) -> Vec<String> {
    let checkpoint = error
        .checkpoint()
        .unwrap_or_else(|| panic!("a listing error carries a checkpoint: {error:?}"));
    let checkpoint = checkpoint.to_string().parse().expect("a checkpoint parses");
    let (ids, error) = drain(client, client.resume(checkpoint)).await;
    assert!(error.is_none(), "the resume fails: {error:?}");
    ids
}

async fn run_case(case: &Case, form: Form) -> Row {
    let sim = simulator(ITEMS)
        .faults((case.plan)())
        .start()
        .await
        .expect("the simulator starts");
    let client = client(&sim, case.setup);
    let expected = expected_ids(&sim);
    let (mut received, error) = drain(&client, client.list(form.query())).await;
    let injected = faults_injected(&sim);
    let name = format!("{} [{}]", case.fault, form.name());
    let expect = match form {
        Form::Classic => case.classic,
        Form::OData => case.odata,
    };
    match (case.setup, &error) {
        // The client gave up on its own clock: the proof that the fault acted is that every
        // attempt timed out (the simulator may not even have read a request that was given up
        // on before it was scheduled).
        (Setup::AttemptTimeout(_), Some(error)) => {
            assert_eq!(
                describe(error),
                format!("Timeout after {} attempt(s)", fast_retry().max_attempts),
                "{name}: {error:?}"
            );
        }
        // The client saw every faulty answer, and the simulator records an exchange before it
        // answers; a completed listing behind a held request got its page only after the
        // simulator had taken the fault.
        _ => assert!(injected > 0, "{name}: the fault never fired"),
    }
    let behaviour = match (expect, &error) {
        (Expect::Complete, None) if case.note.is_some() => case.note.unwrap_or_default().into(),
        (Expect::Complete, None) => {
            match case.setup {
                Setup::Credentials => format!(
                    "token refreshed ({} token requests), page re-sent; completed",
                    sim.token_requests()
                ),
                // What the simulator had seen when the listing ended (a request given up on may
                // not be counted yet): the faulty answers, not a count of requests.
                _ if injected == 0 => "completed, nothing to retry".into(),
                _ => format!("retried ({injected} faulty answer(s)); completed"),
            }
        }
        (Expect::Complete, Some(error)) => panic!("{name}: expected completion, got {error:?}"),
        (Expect::Fails(kind), None) => panic!("{name}: expected a {kind} error, got completion"),
        (Expect::Fails(kind), Some(error)) => {
            assert_eq!(kind_name(error.kind()), kind, "{name}: {error:?}");
            sim.set_faults(FaultPlan::new());
            // The checkpoint is the user's to take anywhere; a short attempt timeout under test
            // is not what the resume is about.
            let resumer = match case.setup {
                Setup::AttemptTimeout(_) | Setup::FirstTimeoutShort(_) => {
                    self::client(&sim, Setup::Normal)
                }
                _ => client.clone(),
            };
            received.extend(resume(&resumer, error).await);
            format!("{}; resumed from checkpoint", describe(error))
        }
    };
    if let Setup::Credentials = case.setup {
        if let Expect::Complete = expect {
            assert_eq!(sim.token_requests(), 2, "{name}: one refresh, not more");
        }
    }
    Row {
        behaviour,
        requests: sim.api_requests().to_string(),
        injected,
        ..listing_row(case.fault, form, &expected, &received)
    }
}

/// The whole listing against a closed port, then against a simulator started on that port.
async fn connection_refused(form: Form) -> Row {
    let closed = ClosedPort::new();
    let address = closed.address();
    let client = Client::builder()
        .base_url(format!("http://{address}"))
        .bearer_token(referrals_simulator::DEFAULT_TOKEN)
        .retry(fast_retry())
        .build()
        .expect("valid");
    let (received, error) = drain(&client, client.list(form.query())).await;
    let error = error.expect("nothing listens: an error");
    assert!(received.is_empty());
    match error.kind() {
        ErrorKind::Transport { source, .. } => {
            assert_eq!(source.kind(), TransportErrorKind::Connect, "{error:?}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    let sim = simulator_on(closed, ITEMS).await;
    let rest = resume(&client, &error).await;
    Row {
        behaviour: format!("{}; resumed once a server listens", describe(&error)),
        requests: sim.api_requests().to_string(),
        injected: attempts(&error),
        ..listing_row(
            "connection refused (nothing listens)",
            form,
            &expected_ids(&sim),
            &rest,
        )
    }
}

/// The server goes away after the second page; a new one (same data, same token key) comes up
/// on the same port and the listing resumes.
async fn server_goes_away(form: Form) -> Row {
    let sim = simulator(ITEMS).start().await.expect("starts");
    let address = sim.local_addr();
    let expected = expected_ids(&sim);
    let client = client(&sim, Setup::Normal);
    let mut pages = client.list(form.query()).pages();
    let mut received = Vec::new();
    for _ in 0..2 {
        let page = pages.next().await.expect("a page").expect("ok");
        received.extend(page.items.into_iter().map(|r| r.id.unwrap_or_default()));
    }
    let served = sim.api_requests();
    sim.shutdown().await;
    // Held until the new server runs: another test's simulator must not be given the port.
    let closed = ClosedPort::hold(address);
    let error = loop {
        match pages.next().await {
            Some(Ok(page)) => {
                received.extend(page.items.into_iter().map(|r| r.id.unwrap_or_default()))
            }
            Some(Err(error)) => break error,
            None => panic!("the listing cannot complete without its server"),
        }
    };
    assert!(
        matches!(error.kind(), ErrorKind::Transport { .. }),
        "{error:?}"
    );
    let sim = simulator_on(closed, ITEMS).await;
    received.extend(resume(&client, &error).await);
    Row {
        behaviour: format!("{}; resumed on a new server", describe(&error)),
        requests: (served + sim.api_requests()).to_string(),
        injected: attempts(&error),
        ..listing_row(
            "server goes away after page 2 (connection refused)",
            form,
            &expected,
            &received,
        )
    }
}

/// Items with unknown fields (top level and nested) and unknown enum values come through
/// losslessly: each re-encodes to exactly what the server sent.
async fn unknown_fields_and_enums(form: Form) -> Row {
    let values: Vec<Value> = (0..45)
        .map(|i| {
            json!({
                "id": format!("unknown-{i}"),
                "status": if i % 2 == 0 { "Paused" } else { "New" },
                "substatus": "WaitingForCustomer",
                "type": "Cosell",
                "qualification": "AiQualified",
                "direction": "Sideways",
                "futureField": { "nested": [1, 2, {"deep": null}], "flag": true },
                "customerProfile": {
                    "name": "Contoso",
                    "size": "1to2employees",
                    "address": { "country": "US", "planet": "Earth" },
                    "ids": { "duns": "123" }
                },
                "details": { "dealValue": "10000", "currency": "USD", "newDetail": [null] },
                "target": [{ "id": "t", "type": "MarketplaceOffer" }],
                "favorite": null,
            })
        })
        .collect();
    let (sim, client) = serving(values).await;
    let mut pages = client.list(form.query()).pages();
    let mut items: Vec<Referral> = Vec::new();
    while let Some(page) = pages.next().await {
        items.extend(page.expect("unknown values never fail a decode").items);
    }
    let served = sim.referrals();
    assert_eq!(items.len(), served.len());
    for (item, original) in items.iter().zip(&served) {
        let again = serde_json::to_value(item).expect("encodes");
        assert_eq!(&again, original, "not lossless");
    }
    assert_eq!(
        items[0].status.as_ref().map(|s| s.as_str()),
        Some("Paused"),
        "the unknown enum value is kept as text"
    );
    let received: Vec<String> = items
        .into_iter()
        .map(|r| r.id.unwrap_or_default())
        .collect();
    let expected = expected_ids(&sim);
    Row {
        behaviour: "decoded; each item re-encodes to the JSON served; completed".into(),
        requests: sim.api_requests().to_string(),
        injected: served.len(),
        ..listing_row(
            "unknown fields and enum values in every item",
            form,
            &expected,
            &received,
        )
    }
}

fn write_row(fault: &str, behaviour: String, requests: String) -> Row {
    Row {
        fault: fault.into(),
        form: "-",
        behaviour,
        requests,
        injected: 1,
        lost: "n/a".into(),
        duplicated: "0".into(),
    }
}

fn count(sim: &SimulatorHandle, method: Method) -> usize {
    sim.requests().iter().filter(|r| r.method == method).count()
}

/// A PATCH with a stale eTag: a 412, sent once, never retried.
async fn stale_etag_patch() -> Row {
    let sim = simulator(3).start().await.expect("starts");
    let client = client(&sim, Setup::Normal);
    let id = expected_ids(&sim).remove(0);
    let error = client
        .patch(
            &id,
            &[PatchOp::replace("/details/notes", "x")],
            PatchOptions::new().if_match("\"stale\""),
        )
        .await
        .expect_err("a stale eTag");
    assert_eq!(error.status().map(|s| s.as_u16()), Some(412), "{error:?}");
    assert_eq!(error.code(), Some("preconditionFailed"));
    let patches = count(&sim, Method::PATCH);
    assert_eq!(patches, 1, "a failed precondition is never retried");
    write_row(
        "412 on PATCH with a stale eTag",
        format!("Api 412 preconditionFailed; {patches} PATCH sent, no retry"),
        format!("{patches} PATCH"),
    )
}

/// A POST whose connection drops after the server acted: not sent again.
async fn post_reset_after_sending(fault: Fault, label: &str, created: usize) -> Row {
    let plan = FaultPlan::new()
        .rule(FaultRule::matching(|info| info.operation == Operation::Create, fault).times(1));
    let sim = simulator(1).faults(plan).start().await.expect("starts");
    let client = client(&sim, Setup::Normal);
    let draft: Referral =
        referrals::model::decode(referrals_fixtures::files::Fixture::CreateRequest.bytes())
            .expect("fixture decodes");
    let error = client.create(&draft).await.expect_err("the answer is lost");
    let posts = count(&sim, Method::POST);
    assert_eq!(
        posts, 1,
        "{label}: a POST that reached the server is never resent"
    );
    assert_eq!(sim.referral_count(), 1 + created, "{label}: created");
    write_row(
        label,
        format!("{}; {posts} POST sent, not retried", describe(&error)),
        format!("{posts} POST"),
    )
}

/// Sends with a short attempt timeout until an attempt times out, then with a generous one.
#[derive(Debug)]
struct FirstTimeoutShort {
    short: HyperTransport,
    generous: HyperTransport,
    timed_out: AtomicBool,
}

impl Transport for FirstTimeoutShort {
    fn send(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<bytes::Bytes>, TransportError>> {
        Box::pin(async move {
            if self.timed_out.load(Ordering::SeqCst) {
                return self.generous.send(request).await;
            }
            let result = self.short.send(request).await;
            if result
                .as_ref()
                .is_err_and(|error| error.kind() == TransportErrorKind::Timeout)
            {
                self.timed_out.store(true, Ordering::SeqCst);
            }
            result
        })
    }
}

/// Wraps the transport to see attempts and to start the server only after the first POST was
/// refused, so the retry is observed for real. The attempt after a refusal waits until the
/// test says the server listens, so that no retry budget races the server's start.
#[derive(Debug)]
struct Observed {
    inner: HyperTransport,
    attempts: Arc<AtomicU32>,
    refused: Arc<tokio::sync::Notify>,
    listening: Arc<tokio::sync::Notify>,
}

impl Transport for Observed {
    fn send(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<bytes::Bytes>, TransportError>> {
        Box::pin(async move {
            if self.attempts.fetch_add(1, Ordering::SeqCst) == 1 {
                self.listening.notified().await;
            }
            let result = self.inner.send(request).await;
            if let Err(error) = &result {
                if error.kind() == TransportErrorKind::Connect {
                    self.refused.notify_one();
                }
            }
            result
        })
    }
}

/// A POST refused before anything was sent may be retried; it then reaches the server once.
async fn post_refused_before_sending() -> Row {
    let closed = ClosedPort::new();
    let address = closed.address();
    let attempts = Arc::new(AtomicU32::new(0));
    let refused = Arc::new(tokio::sync::Notify::new());
    let listening = Arc::new(tokio::sync::Notify::new());
    let transport = Observed {
        inner: HyperTransport::builder()
            .no_proxy()
            .build()
            .expect("builds"),
        attempts: attempts.clone(),
        refused: refused.clone(),
        listening: listening.clone(),
    };
    let client = Client::builder()
        .base_url(format!("http://{address}"))
        .bearer_token(referrals_simulator::DEFAULT_TOKEN)
        .transport(transport)
        .retry(RetryPolicy {
            max_attempts: 12,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(400),
            max_total: Duration::from_secs(120),
        })
        .build()
        .expect("valid");
    let draft: Referral =
        referrals::model::decode(referrals_fixtures::files::Fixture::CreateRequest.bytes())
            .expect("fixture decodes");
    let create = tokio::spawn(async move { client.create(&draft).await });
    refused.notified().await;
    let sim = simulator_on(closed, 1).await;
    // A stored permit: the retry goes ahead whether or not it is already waiting.
    listening.notify_one();
    let created = create.await.expect("joins").expect("created after a retry");
    assert!(created.id.is_some());
    let attempts = attempts.load(Ordering::SeqCst);
    assert_eq!(
        attempts, 2,
        "the refused attempt was retried, once the server listened"
    );
    let posts = count(&sim, Method::POST);
    assert_eq!(posts, 1);
    assert_eq!(sim.referral_count(), 2);
    write_row(
        "POST, connection refused before sending",
        format!(
            "retried ({} refused attempt(s)); created once",
            attempts - 1
        ),
        format!("{posts} POST"),
    )
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| fault | form | client behaviour | API requests | faults injected | items lost | items duplicated |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.fault,
            row.form,
            row.behaviour,
            row.requests,
            row.injected,
            row.lost,
            row.duplicated
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_ends_complete_or_typed_and_resumable_with_nothing_lost_or_repeated() {
    // Each case has its own simulator: they run side by side, so the file takes about as long
    // as its slowest case (a one-second Retry-After).
    let mut tasks = Vec::new();
    for (index, case) in cases().into_iter().enumerate() {
        let case = Arc::new(case);
        for form in [Form::Classic, Form::OData] {
            let case = case.clone();
            tasks.push((
                index,
                tokio::spawn(async move { run_case(&case, form).await }),
            ));
        }
    }
    for form in [Form::Classic, Form::OData] {
        tasks.push((100, tokio::spawn(connection_refused(form))));
        tasks.push((101, tokio::spawn(server_goes_away(form))));
        tasks.push((102, tokio::spawn(unknown_fields_and_enums(form))));
    }
    tasks.push((200, tokio::spawn(stale_etag_patch())));
    tasks.push((
        201,
        tokio::spawn(post_reset_after_sending(
            Fault::ResetBeforeHeaders,
            "POST, reset before headers (the server created it)",
            1,
        )),
    ));
    tasks.push((
        202,
        tokio::spawn(post_reset_after_sending(
            Fault::ResetMidBody,
            "POST, reset mid-body (the server created it)",
            1,
        )),
    ));
    tasks.push((
        203,
        tokio::spawn(post_reset_after_sending(
            Fault::status(503),
            "POST answered 503 (transient, but not idempotent)",
            0,
        )),
    ));
    tasks.push((204, tokio::spawn(post_refused_before_sending())));

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for (order, task) in tasks {
        match task.await {
            Ok(row) => rows.push((order, row)),
            Err(error) => match error.try_into_panic() {
                Ok(panic) => failures.push(
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                        .unwrap_or_default(),
                ),
                Err(error) => failures.push(error.to_string()),
            },
        }
    }
    assert!(
        failures.is_empty(),
        "failed cases:\n{}",
        failures.join("\n")
    );
    rows.sort_by_key(|(order, _)| *order);
    let rows: Vec<Row> = rows.into_iter().map(|(_, row)| row).collect();
    for row in &rows {
        assert!(row.duplicated == "0", "{}: duplicated items", row.fault);
        assert!(
            row.lost == "0" || row.lost == "n/a",
            "{}: lost items",
            row.fault
        );
    }
    if std::env::var_os("RELIABILITY_REPORT").is_some() {
        println!("{}", table(&rows));
    }
}

/// End to end: ids holding CR/LF, `/`, `?`, `#`, `'`, `%` and unicode reach the server as one
/// path segment with no query; each get returns exactly its own referral (an id with `/`, which
/// no server path can hold in one segment, is a clean 404).
#[tokio::test]
async fn hostile_ids_never_change_the_request_line_or_path() {
    let hostile = [
        "a?b=c",
        "a#frag",
        "o'brien",
        "100%",
        "%2F",
        "line\r\nHost: evil.example",
        "日本語-😀",
        "sp ace",
        "..%2F..%2Fadmin",
        "semi;colon&amp=1",
    ];
    let values: Vec<Value> = hostile.iter().map(|id| json!({ "id": id })).collect();
    let (sim, client) = serving(values).await;
    for id in hostile {
        let referral = client.get(id).await.expect("found by its own id");
        assert_eq!(referral.id.as_deref(), Some(id));
    }
    let error = client
        .get("../../v1.0/engagements/referrals")
        .await
        .expect_err("no such id");
    assert_eq!(error.code(), Some("itemNotFound"));
    let requests = sim.requests();
    assert_eq!(requests.len(), hostile.len() + 1, "one request per get");
    for request in &requests {
        let path = &request.path_and_query;
        let segment = path
            .strip_prefix("/v1.0/engagements/referrals/")
            .unwrap_or_else(|| panic!("not under the collection: {path}"));
        assert!(
            !segment.contains(['/', '?', '#']) && segment.bytes().all(|b| b.is_ascii_graphic()),
            "{path}"
        );
    }
}

//! Fuzzing with proptest (cargo-fuzz needs a nightly toolchain): the pager's `on_response` with
//! any status, headers and bytes; `Retry-After` parsing; OData filter building; request
//! building with any id. Each target runs 256 cases in `cargo test`, and 100 000 in its
//! `#[ignore]`d twin:
//!
//! ```text
//! cargo test --release -p referrals-query --test it -- reliability_fuzz --ignored --nocapture
//! RELIABILITY_FUZZ_CASES=1000000 cargo test --release -p referrals-query --test it -- reliability_fuzz --ignored --nocapture
//! ```
//!
//! A panic anywhere in the code under test is caught by the runner and fails the target.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use referrals_model::{Direction, ReferralStatus};
use referrals_query::{
    Checkpoint, Endpoint, Filter, ListQuery, NextRequest, Pager, PagerError, PagerEvent, PatchOp,
    PatchOptions, RequestIds, RetryPolicy, is_transient_status, parse_retry_after,
};

use crate::support::{assert_request_line_intact, literals, now};

const CI_CASES: u32 = 256;

fn large_cases() -> u32 {
    std::env::var("RELIABILITY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Runs `test` over `cases` inputs; prints how many ran. Panics on the first failure (after
/// shrinking), naming the input.
fn fuzz<S>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let executions = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&strategy, |input| {
        executions.fetch_add(1, Ordering::Relaxed);
        test(input)
    });
    if let Err(failure) = result {
        panic!("{name}: {failure}");
    }
    println!(
        "fuzz {name}: {} executions, 0 failures",
        executions.load(Ordering::Relaxed)
    );
}

// ---- pager on_response -------------------------------------------------------------------

fn header() -> impl Strategy<Value = (HeaderName, HeaderValue)> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "retry-after",
            "content-type",
            "content-length",
            "ms-requestid",
            "request-id",
            "ms-correlationid",
            "location",
            "etag",
        ])
        .prop_map(HeaderName::from_static),
        "[a-z][a-z0-9-]{0,12}".prop_map(|n| HeaderName::from_bytes(n.as_bytes()).unwrap()),
    ];
    let value = prop_oneof![
        "[0-9]{1,25}",
        Just("Sun, 06 Nov 1994 08:49:37 GMT".to_owned()),
        Just("Tue, 14 Nov 2023 22:13:25 GMT".to_owned()),
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_owned()),
        "[ -~]{0,40}",
    ]
    .prop_filter_map("a valid header value", |v| HeaderValue::from_str(&v).ok());
    (name, value)
}

/// A valid page in either form, with ids and an optional continuation.
fn valid_page() -> impl Strategy<Value = Vec<u8>> {
    let ids = prop::collection::vec("[a-z0-9]{1,6}", 0..4);
    (ids, any::<bool>(), prop::option::of("[ -~]{0,30}")).prop_map(|(ids, odata, next)| {
        let items: Vec<_> = ids
            .iter()
            .map(|id| serde_json::json!({ "id": id }))
            .collect();
        let page = if odata {
            let mut page = serde_json::json!({ "@odata.count": items.len(), "value": items });
            if let Some(next) = next {
                page["@odata.nextLink"] = next.into();
            }
            page
        } else {
            let mut page = serde_json::json!({ "totalCount": items.len(), "items": items });
            if let Some(next) = next {
                page["links"] = serde_json::json!({ "next": { "uri": "/referrals",
                    "headers": [{ "key": "MS-ContinuationToken", "value": next }] } });
            }
            page
        };
        serde_json::to_vec(&page).unwrap()
    })
}

/// A valid page damaged: bytes flipped, cut, or spliced.
fn damaged_page() -> impl Strategy<Value = Vec<u8>> {
    (
        valid_page(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        any::<prop::sample::Index>(),
        any::<bool>(),
    )
        .prop_map(|(mut bytes, flips, cut, truncate)| {
            for (at, byte) in flips {
                let at = at.index(bytes.len());
                bytes[at] = byte;
            }
            if truncate {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            bytes
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        valid_page(),
        damaged_page(),
        Just(b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        Just(br#"{"error":{"code":"serviceNotAvailable","message":"busy"}}"#.to_vec()),
        (1usize..3000).prop_map(|depth| "[".repeat(depth).into_bytes()),
        (1usize..3000).prop_map(|depth| {
            format!("{{\"items\":[{{\"x\":{}}}]}}", "[".repeat(depth)).into_bytes()
        }),
    ]
}

type Response = (u16, Vec<(HeaderName, HeaderValue)>, Vec<u8>);

fn response() -> impl Strategy<Value = Response> {
    (
        prop_oneof![
            100u16..=599,
            prop::sample::select(vec![
                200u16, 200, 204, 400, 401, 404, 408, 412, 429, 500, 502, 503, 504
            ]),
        ],
        prop::collection::vec(header(), 0..4),
        body(),
    )
}

fn pager_sees(responses: Vec<Response>) -> Result<(), TestCaseError> {
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    let query = ListQuery::new().page_size(5).unwrap();
    let mut pager = Pager::new(Endpoint::default(), &query, "corr")
        .unwrap()
        .with_retry(policy);
    for (step, (status, headers, body)) in responses.into_iter().enumerate() {
        match pager.next_request(&format!("req-{step}")) {
            Ok(NextRequest::Send(request)) => {
                prop_assert_eq!(request.uri().host(), Some("api.partner.microsoft.com"));
            }
            Ok(NextRequest::Done(_)) | Err(_) => break,
        }
        let status = StatusCode::from_u16(status).unwrap();
        let headers: HeaderMap = headers.into_iter().collect();
        let random = (step as f64 * 0.37) % 1.0;
        match pager.on_response(status, &headers, &body, now(), random) {
            Ok(PagerEvent::Page(page)) => {
                prop_assert!(status.is_success());
                // Every checkpoint travels as text and comes back the same.
                let text = page.checkpoint.to_string();
                prop_assert_eq!(text.parse::<Checkpoint>().unwrap(), page.checkpoint);
            }
            Ok(PagerEvent::Retry(delay)) => {
                prop_assert!(is_transient_status(status), "{} retried", status);
                prop_assert!(delay <= policy.max_delay);
            }
            Ok(PagerEvent::Refresh) => {
                prop_assert!(false, "a pager without token refresh never asks for one");
            }
            Err(PagerError::Decode { error, page }) => {
                prop_assert!(status.is_success());
                prop_assert!(page >= 1);
                prop_assert!(error.line() >= 1, "{}", error);
            }
            Err(PagerError::Api { error, .. }) => {
                prop_assert!(!status.is_success());
                prop_assert_eq!(error.status(), status);
                let _ = format!("{error} {error:?}");
            }
            Err(other) => {
                let _ = format!("{other} {other:?}");
            }
        }
    }
    let checkpoint = pager.checkpoint();
    let resumed = Pager::resume(Endpoint::default(), &checkpoint, "corr-2");
    prop_assert!(resumed.is_ok(), "{:?}", resumed.err());
    Ok(())
}

fn responses() -> impl Strategy<Value = Vec<Response>> {
    prop::collection::vec(response(), 1..6)
}

#[test]
fn pager_on_response_survives_any_response() {
    fuzz("pager_on_response", CI_CASES, responses(), pager_sees);
}

#[test]
#[ignore = "large fuzz run: cargo test --release -- --ignored"]
fn pager_on_response_survives_any_response_large() {
    fuzz("pager_on_response", large_cases(), responses(), pager_sees);
}

// ---- Retry-After ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum RetryAfterInput {
    Text(String, u64),
    Seconds(String),
    Date { at: u64, now: u64 },
}

fn retry_after_input() -> impl Strategy<Value = RetryAfterInput> {
    // The last second an HTTP-date can name: 9999-12-31T23:59:59Z.
    let max_date = 253_402_300_799u64;
    prop_oneof![
        (any::<String>(), any::<u64>()).prop_map(|(s, n)| RetryAfterInput::Text(s, n)),
        ("[ -~]{0,40}", 0..=max_date).prop_map(|(s, n)| RetryAfterInput::Text(s, n)),
        "[ \t]{0,2}[0-9]{1,40}[ \t]{0,2}".prop_map(RetryAfterInput::Seconds),
        (0..=max_date, 0..=max_date).prop_map(|(at, now)| RetryAfterInput::Date { at, now }),
    ]
}

fn retry_after_holds(input: RetryAfterInput) -> Result<(), TestCaseError> {
    let epoch = |secs: u64| UNIX_EPOCH.checked_add(Duration::from_secs(secs));
    match input {
        RetryAfterInput::Text(text, now) => {
            if let Some(now) = epoch(now) {
                let _ = parse_retry_after(&text, now);
            }
            let _ = parse_retry_after(&text, UNIX_EPOCH);
        }
        RetryAfterInput::Seconds(text) => {
            let digits = text.trim();
            let expected = digits.parse::<u64>().unwrap_or(u64::MAX);
            prop_assert_eq!(
                parse_retry_after(&text, now()),
                Some(Duration::from_secs(expected))
            );
        }
        RetryAfterInput::Date { at, now } => {
            let text = httpdate::fmt_http_date(epoch(at).unwrap());
            prop_assert_eq!(
                parse_retry_after(&text, epoch(now).unwrap()),
                Some(Duration::from_secs(at.saturating_sub(now))),
                "{}",
                text
            );
        }
    }
    Ok(())
}

#[test]
fn retry_after_parses_seconds_and_dates_and_nothing_else_panics() {
    fuzz(
        "parse_retry_after",
        CI_CASES,
        retry_after_input(),
        retry_after_holds,
    );
}

#[test]
#[ignore = "large fuzz run: cargo test --release -- --ignored"]
fn retry_after_parses_seconds_and_dates_and_nothing_else_panics_large() {
    fuzz(
        "parse_retry_after",
        large_cases(),
        retry_after_input(),
        retry_after_holds,
    );
}

// ---- OData filter --------------------------------------------------------------------------

fn filter_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "['\" ()a-z]{0,20}",
        prop::collection::vec(
            prop::sample::select(vec!["'", "''", " or ", " eq ", "(", ")", "x"]),
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

type FilterInput = (Vec<String>, Vec<u8>);

fn filter_input() -> impl Strategy<Value = FilterInput> {
    (
        prop::collection::vec(filter_text(), 1..6),
        prop::collection::vec(0u8..6, 5),
    )
}

/// Builds a filter tree from `values` (shaped by `shape`), and the same tree with placeholders.
fn build_filter(values: &[String], shape: &[u8]) -> Filter {
    let leaf = |i: usize, value: &str| match (i + usize::from(shape[i % shape.len()])) % 4 {
        0 => Filter::engagement_id(value),
        1 => Filter::customer_country(value),
        2 => Filter::team_member_email(value),
        _ => Filter::status(ReferralStatus::from(value)),
    };
    let mut filter = leaf(0, &values[0]);
    for (i, value) in values.iter().enumerate().skip(1) {
        let next = leaf(i, value);
        filter = match shape[i % shape.len()] {
            0 | 1 => filter.and(next),
            2 | 3 => filter.or(next),
            4 => filter.and(next.negate()),
            _ => filter.or(next).and(Filter::direction(Direction::Outgoing)),
        };
    }
    filter
}

fn filter_round_trips((values, shape): FilterInput) -> Result<(), TestCaseError> {
    let filter = build_filter(&values, &shape).to_string();
    let placeholders: Vec<String> = values.iter().map(|_| "v".to_owned()).collect();
    let reference = build_filter(&placeholders, &shape).to_string();
    let (found, skeleton) = literals(&filter).map_err(TestCaseError::fail)?;
    let (reference_found, reference_skeleton) = literals(&reference).unwrap();
    prop_assert_eq!(skeleton, reference_skeleton, "the expression changed");
    let expected: Vec<String> = reference_found
        .iter()
        .scan(values.iter(), |values, literal| {
            Some(if literal == "v" {
                values.next().cloned().unwrap_or_default()
            } else {
                literal.clone()
            })
        })
        .collect();
    prop_assert_eq!(found, expected);
    // In a list request, the whole expression is one parameter that decodes back to it.
    let request = Endpoint::default()
        .list(
            &ListQuery::new().filter(&Filter::raw(filter.clone())),
            RequestIds::new("c", "r"),
        )
        .unwrap();
    let query = request.uri().query().unwrap();
    let (name, value) = query.split_once('=').unwrap();
    prop_assert_eq!(name, "$filter");
    prop_assert!(!value.contains('&'));
    prop_assert_eq!(
        percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .unwrap(),
        filter
    );
    Ok(())
}

#[test]
fn filter_values_never_change_the_expression() {
    fuzz("filter", CI_CASES, filter_input(), filter_round_trips);
}

#[test]
#[ignore = "large fuzz run: cargo test --release -- --ignored"]
fn filter_values_never_change_the_expression_large() {
    fuzz("filter", large_cases(), filter_input(), filter_round_trips);
}

// ---- request building ----------------------------------------------------------------------

fn requests_build(input: (String, String, String)) -> Result<(), TestCaseError> {
    let (id, etag, value) = input;
    let endpoint = Endpoint::default();
    let ids = RequestIds::new("corr", "req");
    let _ = endpoint.get(&id, ids);
    let ops = [
        PatchOp::replace(value.clone(), value.clone()),
        PatchOp::add("/team/-", value.clone()),
    ];
    let _ = endpoint.patch(&id, &ops, &PatchOptions::new().if_match(etag.clone()), ids);
    let query = ListQuery::new()
        .engagement_id(value.clone())
        .filter(&Filter::raw(etag));
    if let Ok(request) = endpoint.list(&query, ids) {
        assert_request_line_intact(&request)?;
    }
    Ok(())
}

fn request_input() -> impl Strategy<Value = (String, String, String)> {
    (any::<String>(), any::<String>(), any::<String>())
}

#[test]
fn request_building_never_panics() {
    fuzz(
        "request_building",
        CI_CASES,
        request_input(),
        requests_build,
    );
}

#[test]
#[ignore = "large fuzz run: cargo test --release -- --ignored"]
fn request_building_never_panics_large() {
    fuzz(
        "request_building",
        large_cases(),
        request_input(),
        requests_build,
    );
}

//! The replay transport: answers in script order, records requests, never panics.

use std::sync::Arc;

use bytes::Bytes;
use referrals_fixtures::files::Fixture;
use referrals_fixtures::replay::{Matcher, RecordedRequest, ReplayTransport, Step, now_or_never};
use referrals_query::transport::{Transport, TransportError, TransportErrorKind};

const LIST: &str = "https://api.partner.microsoft.com/v1.0/engagements/referrals?pageSize=2";

fn get(uri: &str) -> http::Request<Bytes> {
    http::Request::get(uri)
        .header("Authorization", "Bearer super-secret-token")
        .header("MS-CorrelationId", "0b5a6a1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b")
        .body(Bytes::new())
        .expect("valid request")
}

fn send(
    transport: &impl Transport,
    request: http::Request<Bytes>,
) -> Result<http::Response<Bytes>, TransportError> {
    now_or_never(transport.send(request)).expect("replay futures are ready at once")
}

fn assert_send_sync_debug_static<T: Send + Sync + std::fmt::Debug + 'static>() {}

#[test]
fn it_is_a_transport_usable_behind_arc_and_box() {
    assert_send_sync_debug_static::<ReplayTransport>();
    let shared: Arc<dyn Transport> = Arc::new(ReplayTransport::new().respond(204, Bytes::new()));
    let response = send(&shared, get(LIST)).expect("scripted response");
    assert_eq!(response.status(), 204);
    assert!(response.body().is_empty());
    assert!(response.headers().get("content-type").is_none());
}

#[test]
fn steps_are_answered_in_order() {
    let transport = ReplayTransport::new()
        .respond(200, Fixture::SeedResponse.bytes())
        .fail(TransportErrorKind::Connect, "connection refused")
        .respond_with(
            http::Response::builder()
                .status(429)
                .header("Retry-After", "2")
                .body(Bytes::from_static(Fixture::ErrorBody.bytes()))
                .expect("valid response"),
        )
        .fail(TransportErrorKind::Timeout, "attempt timed out");
    assert_eq!(transport.remaining(), 4);

    let first = send(&transport, get(LIST)).expect("first step responds");
    assert_eq!(first.status(), 200);
    assert_eq!(first.body().as_ref(), Fixture::SeedResponse.bytes());
    assert_eq!(first.headers()["content-type"], "application/json");

    let second = send(&transport, get(LIST)).expect_err("second step fails");
    assert_eq!(second.kind(), TransportErrorKind::Connect);
    assert_eq!(second.message(), "connection refused");

    let third = send(&transport, get(LIST)).expect("third step responds");
    assert_eq!(third.status(), 429);
    assert_eq!(third.headers()["retry-after"], "2");
    assert!(
        third.headers().get("content-type").is_none(),
        "sent as given"
    );
    assert_eq!(third.body().as_ref(), Fixture::ErrorBody.bytes());

    let fourth = send(&transport, get(LIST)).expect_err("fourth step fails");
    assert_eq!(fourth.kind(), TransportErrorKind::Timeout);
    assert_eq!(transport.remaining(), 0);
}

#[test]
fn an_exhausted_script_answers_with_a_clear_error() {
    let transport = ReplayTransport::new().respond(200, "{}");
    send(&transport, get(LIST)).expect("the one step");
    for _ in 0..2 {
        let error = send(&transport, get(LIST)).expect_err("nothing left");
        assert_eq!(error.kind(), TransportErrorKind::InvalidRequest);
        assert_eq!(
            error.to_string(),
            "replay script exhausted after 1 requests"
        );
    }
    assert_eq!(
        transport.request_count(),
        3,
        "requests after the end are recorded too"
    );

    let empty = ReplayTransport::new();
    let error = send(&empty, get(LIST)).expect_err("empty script");
    assert_eq!(error.message(), "replay script exhausted after 0 requests");
}

#[test]
fn every_request_is_recorded_with_method_uri_headers_and_body() {
    let transport = ReplayTransport::new()
        .respond(201, Fixture::Referral.bytes())
        .respond(200, Fixture::ODataPage.bytes());
    let create =
        http::Request::post("https://api.partner.microsoft.com/v1.0/engagements/referrals")
            .header("Content-Type", "application/json")
            .header("If-Match", "\"etag\"")
            .body(Bytes::from_static(Fixture::CreateRequest.bytes()))
            .expect("valid request");
    send(&transport, create).expect("created");
    send(&transport, get(LIST)).expect("listed");

    let requests = transport.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(first.method, http::Method::POST);
    assert_eq!(first.path(), "/v1.0/engagements/referrals");
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("IF-MATCH"), Some("\"etag\""));
    assert_eq!(first.body.as_ref(), Fixture::CreateRequest.bytes());
    assert_eq!(first.json(), Fixture::CreateRequest.value().ok());
    let second = &requests[1];
    assert_eq!(second.method, http::Method::GET);
    assert_eq!(second.uri.to_string(), LIST);
    assert_eq!(
        second.header("Authorization"),
        Some("Bearer super-secret-token")
    );
    assert!(second.body.is_empty());
    assert_eq!(second.json(), None);
}

#[test]
fn clones_share_the_script_and_the_record() {
    let transport = ReplayTransport::new().respond(200, "{}");
    let handle = transport.clone();
    let client_side: Box<dyn Transport> = Box::new(transport);
    send(&client_side, get(LIST)).expect("answered");
    assert_eq!(handle.request_count(), 1);
    assert_eq!(handle.remaining(), 0);

    // Steps pushed through the handle are seen by the clone the client holds.
    handle.push(Step::respond(503, "").header("Retry-After", "1"));
    let response = send(&client_side, get(LIST)).expect("answered");
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(handle.requests().len(), 2);
}

#[test]
fn clones_are_usable_from_many_threads() {
    let transport = ReplayTransport::new();
    for _ in 0..64 {
        transport.push(Step::respond(200, "{}"));
    }
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let transport = transport.clone();
            std::thread::spawn(move || {
                (0..8)
                    .filter(|_| send(&transport, get(LIST)).is_ok())
                    .count()
            })
        })
        .collect();
    let answered: usize = threads
        .into_iter()
        .map(|t| t.join().expect("no thread panics"))
        .sum();
    assert_eq!(answered, 64);
    assert_eq!(transport.request_count(), 64);
    assert_eq!(transport.remaining(), 0);
}

#[test]
fn matchers_check_method_path_uri_and_headers() {
    let transport = ReplayTransport::new()
        .step(
            Step::respond(200, Fixture::SeedResponse.bytes()).when(
                Matcher::get()
                    .path_prefix("/v1.0/engagements/referrals")
                    .uri_contains("pageSize=2"),
            ),
        )
        .step(
            Step::respond(200, Fixture::ODataLastPage.bytes())
                .when(Matcher::get().header("ms-continuationtoken", "token-2")),
        );
    send(&transport, get(LIST)).expect("first matches");
    let mut next = get(LIST);
    next.headers_mut().insert(
        "MS-ContinuationToken",
        http::HeaderValue::from_static("token-2"),
    );
    send(&transport, next).expect("second matches");
}

#[test]
fn a_mismatched_request_gets_an_error_naming_the_difference() {
    let cases: Vec<(Matcher, http::Request<Bytes>, &str)> = vec![
        (Matcher::post(), get(LIST), "method is GET, not POST"),
        (
            Matcher::any().path_prefix("/v1.0/engagements/referrals/abc"),
            get(LIST),
            "path /v1.0/engagements/referrals does not start with /v1.0/engagements/referrals/abc",
        ),
        (
            Matcher::get().uri_contains("$top=10"),
            get(LIST),
            "the URI does not contain $top=10",
        ),
        (
            Matcher::get().header("MS-ContinuationToken", "t"),
            get(LIST),
            "header MS-ContinuationToken is missing",
        ),
        (
            Matcher::get().header("Authorization", "Bearer other"),
            get(LIST),
            "header Authorization differs",
        ),
    ];
    for (matcher, request, why) in cases {
        let expected = matcher.to_string();
        let transport = ReplayTransport::new()
            .step(Step::respond(200, "{}").when(matcher))
            .respond(200, "{}");
        let error = send(&transport, request).expect_err("mismatch");
        assert_eq!(error.kind(), TransportErrorKind::InvalidRequest);
        let text = error.to_string();
        assert!(text.starts_with("replay step 1 expected "), "{text}");
        assert!(text.contains(&expected), "{text}");
        assert!(text.contains(why), "{text} should say {why}");
        assert!(!text.contains("super-secret-token"), "{text}");
        assert_eq!(transport.remaining(), 1, "the mismatched step is used up");
        assert_eq!(transport.request_count(), 1);
    }
}

#[test]
fn bad_scripted_values_become_errors_not_panics() {
    let transport = ReplayTransport::new()
        .respond(1000, "{}")
        .step(Step::respond(200, "{}").header("bad header", "x"))
        .step(Step::respond(200, "{}").header("X-Ok", "line\nbreak"));
    let status = send(&transport, get(LIST)).expect_err("invalid status");
    assert_eq!(status.kind(), TransportErrorKind::InvalidRequest);
    assert!(status.message().contains("invalid status 1000"), "{status}");
    let name = send(&transport, get(LIST)).expect_err("invalid header name");
    assert!(
        name.message()
            .contains("replay step 2 has an invalid header"),
        "{name}"
    );
    let value = send(&transport, get(LIST)).expect_err("invalid header value");
    assert!(value.message().contains("replay step 3"), "{value}");
}

#[test]
fn debug_output_hides_credentials_and_bodies() {
    let transport = ReplayTransport::new().respond(200, "{}");
    let token_request =
        http::Request::post("https://login.microsoftonline.com/t/oauth2/v2.0/token")
            .header("Authorization", "Bearer super-secret-token")
            .header("Cookie", "session=also-secret")
            .header("Accept", "application/json")
            .body(Bytes::from_static(
                b"client_secret=hunter2&grant_type=client_credentials",
            ))
            .expect("valid request");
    send(&transport, token_request).expect("answered");
    let recorded: RecordedRequest = transport.requests().remove(0);
    let debug = format!("{recorded:?} {transport:?}");
    for secret in ["super-secret-token", "also-secret", "hunter2"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(debug.contains("<redacted>"), "{debug}");
    assert!(debug.contains("application/json"), "{debug}");
    assert!(debug.contains("51 bytes"), "{debug}");
    // The record keeps the values for assertions.
    assert_eq!(recorded.header("cookie"), Some("session=also-secret"));
}

#[test]
fn works_under_an_async_runtime() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let transport = ReplayTransport::new().respond(200, Fixture::ODataPage.bytes());
    let handle = transport.clone();
    let status = runtime.block_on(async move {
        let task = tokio::spawn(async move { transport.send(get(LIST)).await });
        task.await.expect("task").expect("answered").status()
    });
    assert_eq!(status, 200);
    assert_eq!(handle.request_count(), 1);
}

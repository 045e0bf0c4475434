//! Driving an [`Exchange`] by hand: the loop every client of this crate writes once (the
//! `referrals` facade's driver is this loop with a real transport, clock and token provider).
//!
//! The "server" below is a script: a 503 asking to wait 2 s, a dropped connection, a 401 (the
//! token expired meanwhile), then the answer. The clock is virtual, so the example shows every
//! decision and its delay without waiting for them.
//!
//! `cargo run -p referrals-query --example exchange`

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use referrals_query::transport::TransportErrorKind;
use referrals_query::{Exchange, RetryPolicy, Step};

/// What the network gives for one attempt.
enum Outcome {
    Response(StatusCode, HeaderMap),
    NoResponse(TransportErrorKind),
}

fn main() {
    let mut retry_after = HeaderMap::new();
    retry_after.insert("retry-after", HeaderValue::from_static("2"));
    let mut script = vec![
        Outcome::Response(StatusCode::SERVICE_UNAVAILABLE, retry_after),
        Outcome::NoResponse(TransportErrorKind::Io),
        Outcome::Response(StatusCode::UNAUTHORIZED, HeaderMap::new()),
        Outcome::Response(StatusCode::OK, HeaderMap::new()),
    ]
    .into_iter();

    let mut exchange =
        Exchange::new(RetryPolicy::default(), &Method::GET, false).with_token_refresh();
    let mut now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut token = 1;
    let mut sends = 0;
    loop {
        sends += 1;
        // A real client sends the request here, with `Authorization: Bearer <token>`.
        let Some(outcome) = script.next() else {
            println!("the script ran out");
            return;
        };
        // A real client passes a uniformly distributed random value for the jitter.
        let random = 0.5;
        let step = match &outcome {
            Outcome::Response(status, headers) => {
                println!("send {sends} (token {token}): HTTP {status}");
                exchange.on_response(*status, headers, now, random)
            }
            Outcome::NoResponse(kind) => {
                println!("send {sends} (token {token}): no response ({kind:?})");
                exchange.on_transport_error(*kind, now, random)
            }
        };
        match step {
            Step::Deliver => {
                println!("  deliver the response");
                break;
            }
            Step::Retry(delay) => {
                println!("  retry after {delay:?}");
                now += delay; // tokio::time::sleep(delay).await
            }
            Step::Refresh => {
                println!("  token {token} rejected: refresh it and send again at once");
                token += 1;
            }
            Step::Fail { reason, attempts } => {
                println!("  fail after {attempts} attempt(s): {reason:?}");
                break;
            }
        }
    }
    println!(
        "{sends} sends, {} attempts counted by the retry policy",
        exchange.attempts()
    );
}

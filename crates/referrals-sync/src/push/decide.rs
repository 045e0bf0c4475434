//! What to do after one attempt to deliver a change: the pure rule, fed outcomes, on top of
//! the workspace's one exchange rule ([`Exchange`]): a delivery carries an `Idempotency-Key`,
//! so transient answers (408, 429, 500, 502, 503, 504) and connection failures are retried
//! with its backoff, `Retry-After` honoured; a 2xx acknowledges; anything else refuses.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};
use referrals_query::transport::TransportErrorKind;
use referrals_query::{Exchange, FailReason, GiveUp, Step};

/// What came back from one attempt.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// A complete response.
    Response {
        /// Its status.
        status: StatusCode,
        /// Its headers (for `Retry-After`).
        headers: &'a HeaderMap,
    },
    /// No complete response.
    Transport(TransportErrorKind),
}

/// What to do next with the change in hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next {
    /// The endpoint took it: move the consumer's offset to it, then send the next change.
    Acknowledge,
    /// Send it again (same body, same key) after this delay.
    Retry(Duration),
    /// The endpoint refused it: stop, the offset left just before it.
    Refused,
    /// Transient failures outlasted the retry policy: stop, the offset left just before it.
    GaveUp(GiveUp),
    /// A failure that another attempt cannot fix (a request that cannot be sent, a response
    /// over the size cap): stop, the offset left just before it.
    Failed,
}

/// Records `answer` in `exchange` (made with [`Exchange::for_request`] of the keyed request)
/// and decides. `now` and `random` (in [0, 1), for the backoff's jitter) are passed in.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::{HeaderMap, StatusCode};
/// use referrals_query::{Exchange, IDEMPOTENCY_KEY, RetryPolicy};
/// use referrals_sync::push::{Answer, Next, decide};
///
/// let request = http::Request::post("https://crm.example/hook")
///     .header(IDEMPOTENCY_KEY, "mirror:1")
///     .body(())?;
/// let mut exchange = Exchange::for_request(RetryPolicy::default(), &request);
/// let mut busy = HeaderMap::new();
/// busy.insert("retry-after", "3".parse()?);
/// let answer = Answer::Response { status: StatusCode::SERVICE_UNAVAILABLE, headers: &busy };
/// assert_eq!(decide(&mut exchange, answer, UNIX_EPOCH, 0.0), Next::Retry(Duration::from_secs(3)));
/// let none = HeaderMap::new();
/// let answer = Answer::Response { status: StatusCode::NO_CONTENT, headers: &none };
/// assert_eq!(decide(&mut exchange, answer, UNIX_EPOCH, 0.0), Next::Acknowledge);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decide(exchange: &mut Exchange, answer: Answer<'_>, now: SystemTime, random: f64) -> Next {
    let step = match answer {
        Answer::Response { status, headers } => exchange.on_response(status, headers, now, random),
        Answer::Transport(kind) => exchange.on_transport_error(kind, now, random),
    };
    match step {
        Step::Deliver => Next::Acknowledge,
        Step::Retry(delay) => Next::Retry(delay),
        Step::Fail {
            reason: FailReason::GaveUp(why),
            ..
        } => Next::GaveUp(why),
        // A push exchange never offers a token refresh: a 401 is the endpoint's refusal.
        Step::Fail { .. } | Step::Refresh => match answer {
            Answer::Response { .. } => Next::Refused,
            Answer::Transport(_) => Next::Failed,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use referrals_query::{IDEMPOTENCY_KEY, RetryPolicy};

    use super::*;

    fn exchange(max_attempts: u32) -> Exchange {
        let request = http::Request::post("https://crm.example/hook")
            .header(IDEMPOTENCY_KEY, "m:1")
            .body(())
            .unwrap();
        let policy = RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_total: Duration::from_secs(60),
        };
        Exchange::for_request(policy, &request)
    }

    fn status(code: u16) -> Next {
        let none = HeaderMap::new();
        let answer = Answer::Response {
            status: StatusCode::from_u16(code).unwrap(),
            headers: &none,
        };
        decide(&mut exchange(5), answer, UNIX_EPOCH, 0.5)
    }

    #[test]
    fn every_answer_gets_its_step() {
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(status(code), Next::Acknowledge, "{code}");
        }
        for code in [408, 429, 500, 502, 503, 504] {
            assert!(matches!(status(code), Next::Retry(_)), "{code}");
        }
        // Redirects are not followed (the body would go elsewhere); the rest refuse.
        for code in [
            301, 302, 307, 400, 401, 403, 404, 409, 410, 413, 422, 501, 505,
        ] {
            assert_eq!(status(code), Next::Refused, "{code}");
        }
    }

    #[test]
    fn connection_failures_are_retried_even_after_the_request_left() {
        for kind in [
            TransportErrorKind::Connect,
            TransportErrorKind::ConnectTimeout,
            TransportErrorKind::Timeout,
            TransportErrorKind::Io,
        ] {
            let next = decide(&mut exchange(5), Answer::Transport(kind), UNIX_EPOCH, 0.5);
            assert!(matches!(next, Next::Retry(_)), "{kind:?}");
        }
        for kind in [
            TransportErrorKind::InvalidRequest,
            TransportErrorKind::BodyTooLarge { limit: 1 },
        ] {
            let next = decide(&mut exchange(5), Answer::Transport(kind), UNIX_EPOCH, 0.5);
            assert_eq!(next, Next::Failed, "{kind:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_and_retries_end() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        let busy = Answer::Response {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers: &headers,
        };
        let mut exchange = exchange(2);
        assert_eq!(
            decide(&mut exchange, busy, UNIX_EPOCH, 0.0),
            Next::Retry(Duration::from_secs(7))
        );
        assert_eq!(
            decide(&mut exchange, busy, UNIX_EPOCH, 0.0),
            Next::GaveUp(GiveUp::Attempts { attempts: 2 })
        );
    }
}

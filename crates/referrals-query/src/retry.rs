//! Retry arithmetic: which outcomes are worth another attempt, and how long to wait first.
//!
//! Everything here is a pure function of its inputs: the current time and the random value
//! for jitter are passed in.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, Method, StatusCode};

use crate::transport::TransportErrorKind;

/// Limits on retrying one request.
///
/// ```
/// use std::time::Duration;
/// use referrals_query::RetryPolicy;
///
/// let policy = RetryPolicy::default();
/// // The n-th retry waits up to base_delay * 2^(n-1), capped at max_delay, scaled by `random`.
/// assert_eq!(policy.backoff(1, 0.5), policy.base_delay / 2);
/// assert!(policy.backoff(30, 0.999) <= policy.max_delay);
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry; it doubles with every retry.
    pub base_delay: Duration,
    /// The longest single wait. A server asking for more (`Retry-After`) ends the retries.
    pub max_delay: Duration,
    /// The longest time from the first failure to the start of the last attempt.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 500 ms base delay, 30 s single delay, 2 minutes in total.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The exponential backoff with full jitter before retry number `retry` (1 for the first
    /// retry): `random * min(max_delay, base_delay * 2^(retry-1))`. `random` is taken in
    /// [0, 1); values outside (or NaN) are clamped.
    pub fn backoff(&self, retry: u32, random: f64) -> Duration {
        let exponent = retry.saturating_sub(1);
        let ceiling = if exponent >= 32 {
            self.max_delay
        } else {
            self.base_delay
                .checked_mul(1u32 << exponent)
                .unwrap_or(Duration::MAX)
                .min(self.max_delay)
        };
        let random = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // Through f64 without `mul_f64`, which panics when the product rounds past u64 seconds.
        Duration::try_from_secs_f64(ceiling.as_secs_f64() * random)
            .unwrap_or(ceiling)
            .min(ceiling)
    }
}

/// What came back from one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// An HTTP response with this status.
    Status(StatusCode),
    /// No (complete) response.
    Transport(TransportErrorKind),
}

/// What an outcome means for retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Classification {
    /// A 1xx–3xx response: nothing to retry.
    Success,
    /// Another attempt may succeed and is safe to make.
    Transient,
    /// Another attempt would not help or is not safe: report the outcome.
    Final,
}

/// True when sending the request twice has the effect of sending it once: `GET`, `HEAD`, and
/// `PUT` with `If-Match` (a replayed PUT fails the precondition instead of overwriting).
pub fn is_idempotent(method: &Method, has_if_match: bool) -> bool {
    *method == Method::GET || *method == Method::HEAD || (*method == Method::PUT && has_if_match)
}

/// The request header by which a receiver recognizes a repeated request and acts on it once
/// (`Idempotency-Key`, IETF draft "The Idempotency-Key HTTP Header Field"): a request that
/// carries one is safe to send again whatever its method ([`RetryState::for_request`]).
pub const IDEMPOTENCY_KEY: http::HeaderName = http::HeaderName::from_static("idempotency-key");

/// True for the statuses that are worth another attempt: 408, 429, 500, 502, 503, 504.
pub fn is_transient_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

/// Classifies an outcome. Transient statuses and connection failures are retried for
/// idempotent requests ([`is_idempotent`]); `POST` and `PATCH` only when the request provably
/// never reached the server ([`TransportErrorKind::may_have_reached_server`]).
///
/// ```
/// use http::{Method, StatusCode};
/// use referrals_query::transport::TransportErrorKind;
/// use referrals_query::{classify, Classification, AttemptOutcome};
///
/// let busy = AttemptOutcome::Status(StatusCode::SERVICE_UNAVAILABLE);
/// assert_eq!(classify(&Method::GET, false, busy), Classification::Transient);
/// assert_eq!(classify(&Method::POST, false, busy), Classification::Final);
/// let refused = AttemptOutcome::Transport(TransportErrorKind::Connect);
/// assert_eq!(classify(&Method::POST, false, refused), Classification::Transient);
/// ```
pub fn classify(method: &Method, has_if_match: bool, outcome: AttemptOutcome) -> Classification {
    classify_repeatable(is_idempotent(method, has_if_match), outcome)
}

/// [`classify`] for a request that is (`idempotent`) or is not safe to send twice.
fn classify_repeatable(idempotent: bool, outcome: AttemptOutcome) -> Classification {
    match outcome {
        AttemptOutcome::Status(status) if status.as_u16() < 400 => Classification::Success,
        AttemptOutcome::Status(status) if idempotent && is_transient_status(status) => {
            Classification::Transient
        }
        AttemptOutcome::Status(_) => Classification::Final,
        AttemptOutcome::Transport(kind) if !kind.is_transient() => Classification::Final,
        AttemptOutcome::Transport(kind) if idempotent || !kind.may_have_reached_server() => {
            Classification::Transient
        }
        AttemptOutcome::Transport(_) => Classification::Final,
    }
}

/// The delay a `Retry-After` value asks for: whole seconds, or an HTTP-date (a date in the past
/// means now). `None` when the value is neither.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use referrals_query::parse_retry_after;
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(
///     parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
///     Some(Duration::from_secs(30))
/// );
/// assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `Retry-After` of a response, if present and valid.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, now)
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// The outcome is final by nature (a success, or an error that retrying cannot fix or that
    /// is unsafe to retry): hand it to the caller.
    Accept,
    /// Wait this long, then send the request again (with a new request id).
    Retry(Duration),
    /// The outcome is transient, but the policy allows no further attempt: hand it to the
    /// caller, saying why it was not retried.
    GiveUp(GiveUp),
}

/// Why a transient outcome was not retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// `max_attempts` attempts were made.
    Attempts {
        /// Attempts made.
        attempts: u32,
    },
    /// The server's `Retry-After` is longer than `max_delay`.
    RetryAfterTooLong {
        /// What the server asked for.
        requested: Duration,
        /// The policy's `max_delay`.
        max_delay: Duration,
    },
    /// Waiting again would pass `max_total`.
    OutOfTime {
        /// Time since the first failure, plus the wait that would come next.
        needed: Duration,
        /// The policy's `max_total`.
        max_total: Duration,
    },
}

impl fmt::Display for GiveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GiveUp::Attempts { attempts } => write!(f, "gave up after {attempts} attempts"),
            GiveUp::RetryAfterTooLong {
                requested,
                max_delay,
            } => write!(
                f,
                "the server asked to retry after {}s, more than the allowed {}s",
                requested.as_secs(),
                max_delay.as_secs()
            ),
            GiveUp::OutOfTime { needed, max_total } => write!(
                f,
                "retrying would take {:.1}s, more than the allowed {:.1}s",
                needed.as_secs_f64(),
                max_total.as_secs_f64()
            ),
        }
    }
}

/// The retry bookkeeping of one request (one logical send, over all its attempts).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::{HeaderMap, Method, StatusCode};
/// use referrals_query::{RetryDecision, RetryPolicy, RetryState};
///
/// let mut state = RetryState::new(RetryPolicy::default(), &Method::GET, false);
/// let now = UNIX_EPOCH;
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "3".parse().unwrap());
/// assert_eq!(
///     state.on_response(StatusCode::TOO_MANY_REQUESTS, &headers, now, 0.0),
///     RetryDecision::Retry(Duration::from_secs(3))
/// );
/// assert_eq!(state.on_response(StatusCode::OK, &HeaderMap::new(), now, 0.0), RetryDecision::Accept);
/// assert_eq!(state.attempts(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryState {
    policy: RetryPolicy,
    method: Method,
    has_if_match: bool,
    /// The request carries an [`IDEMPOTENCY_KEY`]: the receiver drops a repeat.
    keyed: bool,
    attempts: u32,
    first_failure: Option<SystemTime>,
    waited: Duration,
}

impl RetryState {
    /// Bookkeeping for a request with this method, with or without `If-Match`.
    pub fn new(policy: RetryPolicy, method: &Method, has_if_match: bool) -> RetryState {
        RetryState {
            policy,
            method: method.clone(),
            has_if_match,
            keyed: false,
            attempts: 0,
            first_failure: None,
            waited: Duration::ZERO,
        }
    }

    /// Bookkeeping for `request`: its method, whether it has `If-Match`, and whether it has an
    /// [`IDEMPOTENCY_KEY`] (which makes any method safe to repeat).
    pub fn for_request<B>(policy: RetryPolicy, request: &http::Request<B>) -> RetryState {
        let has_if_match = request.headers().contains_key(http::header::IF_MATCH);
        let mut state = RetryState::new(policy, request.method(), has_if_match);
        state.keyed = request.headers().contains_key(IDEMPOTENCY_KEY);
        state
    }

    /// Attempts whose outcome has been recorded.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Forgets past attempts (for the next request of a listing).
    pub fn reset(&mut self) {
        self.attempts = 0;
        self.first_failure = None;
        self.waited = Duration::ZERO;
    }

    /// Records a response and decides what to do next. `now` is the current time and `random`
    /// a uniformly distributed value in [0, 1) for jitter.
    pub fn on_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        now: SystemTime,
        random: f64,
    ) -> RetryDecision {
        let server_delay = retry_after(headers, now);
        self.decide(AttemptOutcome::Status(status), server_delay, now, random)
    }

    /// Records a transport failure and decides what to do next.
    pub fn on_transport_error(
        &mut self,
        kind: TransportErrorKind,
        now: SystemTime,
        random: f64,
    ) -> RetryDecision {
        self.decide(AttemptOutcome::Transport(kind), None, now, random)
    }

    fn decide(
        &mut self,
        outcome: AttemptOutcome,
        server_delay: Option<Duration>,
        now: SystemTime,
        random: f64,
    ) -> RetryDecision {
        self.attempts = self.attempts.saturating_add(1);
        let repeatable = self.keyed || is_idempotent(&self.method, self.has_if_match);
        if classify_repeatable(repeatable, outcome) != Classification::Transient {
            return RetryDecision::Accept;
        }
        if self.attempts >= self.policy.max_attempts {
            return RetryDecision::GiveUp(GiveUp::Attempts {
                attempts: self.attempts,
            });
        }
        if let Some(requested) = server_delay.filter(|&d| d > self.policy.max_delay) {
            return RetryDecision::GiveUp(GiveUp::RetryAfterTooLong {
                requested,
                max_delay: self.policy.max_delay,
            });
        }
        let backoff = self.policy.backoff(self.attempts, random);
        let delay = server_delay.map_or(backoff, |server| server.max(backoff));
        let first = *self.first_failure.get_or_insert(now);
        // A clock that went backwards must not grant more time: the waits already handed out
        // are a lower bound of the time that passed.
        let elapsed = now
            .duration_since(first)
            .unwrap_or(Duration::ZERO)
            .max(self.waited);
        let needed = elapsed.saturating_add(delay);
        if needed > self.policy.max_total {
            return RetryDecision::GiveUp(GiveUp::OutOfTime {
                needed,
                max_total: self.policy.max_total,
            });
        }
        self.waited = self.waited.saturating_add(delay);
        RetryDecision::Retry(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const TRANSIENT: [u16; 6] = [408, 429, 500, 502, 503, 504];

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn transient_statuses_for_idempotent_requests_only() {
        for code in TRANSIENT {
            let outcome = AttemptOutcome::Status(StatusCode::from_u16(code).unwrap());
            assert_eq!(
                classify(&Method::GET, false, outcome),
                Classification::Transient
            );
            assert_eq!(
                classify(&Method::PUT, true, outcome),
                Classification::Transient
            );
            assert_eq!(
                classify(&Method::PUT, false, outcome),
                Classification::Final
            );
            assert_eq!(
                classify(&Method::POST, false, outcome),
                Classification::Final
            );
            assert_eq!(
                classify(&Method::PATCH, true, outcome),
                Classification::Final
            );
        }
        for code in [400, 401, 403, 404, 409, 412, 501, 505] {
            let outcome = AttemptOutcome::Status(StatusCode::from_u16(code).unwrap());
            assert_eq!(
                classify(&Method::GET, false, outcome),
                Classification::Final,
                "{code}"
            );
        }
        for code in [200, 201, 204, 304] {
            let outcome = AttemptOutcome::Status(StatusCode::from_u16(code).unwrap());
            assert_eq!(
                classify(&Method::POST, false, outcome),
                Classification::Success
            );
        }
    }

    #[test]
    fn connection_failures() {
        use TransportErrorKind::*;
        for kind in [Connect, ConnectTimeout, Timeout, Io] {
            assert_eq!(
                classify(&Method::GET, false, AttemptOutcome::Transport(kind)),
                Classification::Transient
            );
        }
        // Provably never sent: safe to resend even a POST.
        for kind in [Connect, ConnectTimeout] {
            for method in [Method::POST, Method::PATCH] {
                assert_eq!(
                    classify(&method, false, AttemptOutcome::Transport(kind)),
                    Classification::Transient
                );
            }
        }
        // May have reached the server: a POST or PATCH might be applied twice.
        for kind in [Timeout, Io] {
            for method in [Method::POST, Method::PATCH] {
                assert_eq!(
                    classify(&method, true, AttemptOutcome::Transport(kind)),
                    Classification::Final
                );
            }
        }
        for kind in [InvalidRequest, BodyTooLarge { limit: 1 }] {
            assert_eq!(
                classify(&Method::GET, false, AttemptOutcome::Transport(kind)),
                Classification::Final
            );
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = at(1_000_000);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        let later = httpdate::fmt_http_date(at(1_000_042));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(42))
        );
        let past = httpdate::fmt_http_date(at(10));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, later.parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(42)));
    }

    #[test]
    fn backoff_is_exponential_with_full_jitter() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_total: Duration::from_secs(60),
        };
        assert_eq!(policy.backoff(1, 0.0), Duration::ZERO);
        assert_eq!(policy.backoff(1, 0.5), Duration::from_millis(50));
        assert_eq!(policy.backoff(2, 0.5), Duration::from_millis(100));
        assert_eq!(policy.backoff(3, 0.5), Duration::from_millis(200));
        assert_eq!(policy.backoff(5, 0.5), Duration::from_millis(500));
        assert_eq!(policy.backoff(40, 0.5), Duration::from_millis(500));
        assert_eq!(policy.backoff(u32::MAX, 1.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(3, f64::NAN), Duration::ZERO);
        assert_eq!(policy.backoff(3, -4.0), Duration::ZERO);
        assert_eq!(policy.backoff(3, 9.0), Duration::from_millis(400));
    }

    #[test]
    fn server_delay_or_backoff_whichever_is_larger() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_secs(4),
            max_delay: Duration::from_secs(30),
            max_total: Duration::from_secs(300),
        };
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "1".parse().unwrap());
        let mut state = RetryState::new(policy, &Method::GET, false);
        assert_eq!(
            state.on_response(StatusCode::TOO_MANY_REQUESTS, &headers, at(0), 0.75),
            RetryDecision::Retry(Duration::from_secs(3))
        );
        assert_eq!(
            state.on_response(StatusCode::TOO_MANY_REQUESTS, &headers, at(3), 0.0),
            RetryDecision::Retry(Duration::from_secs(1))
        );
    }

    #[test]
    fn attempts_are_capped() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let mut state = RetryState::new(policy, &Method::GET, false);
        let none = HeaderMap::new();
        assert!(matches!(
            state.on_response(StatusCode::BAD_GATEWAY, &none, at(0), 0.1),
            RetryDecision::Retry(_)
        ));
        assert!(matches!(
            state.on_transport_error(TransportErrorKind::Io, at(1), 0.1),
            RetryDecision::Retry(_)
        ));
        assert_eq!(
            state.on_response(StatusCode::BAD_GATEWAY, &none, at(2), 0.1),
            RetryDecision::GiveUp(GiveUp::Attempts { attempts: 3 })
        );
        state.reset();
        assert_eq!(state.attempts(), 0);
        assert_eq!(
            RetryState::new(RetryPolicy::none(), &Method::GET, false).on_response(
                StatusCode::BAD_GATEWAY,
                &none,
                at(0),
                0.1
            ),
            RetryDecision::GiveUp(GiveUp::Attempts { attempts: 1 })
        );
    }

    #[test]
    fn retry_after_beyond_max_delay_gives_up() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "3600".parse().unwrap());
        let mut state = RetryState::new(RetryPolicy::default(), &Method::GET, false);
        let decision = state.on_response(StatusCode::SERVICE_UNAVAILABLE, &headers, at(0), 0.5);
        assert_eq!(
            decision,
            RetryDecision::GiveUp(GiveUp::RetryAfterTooLong {
                requested: Duration::from_secs(3600),
                max_delay: Duration::from_secs(30)
            })
        );
    }

    #[test]
    fn total_time_is_capped_even_if_the_clock_goes_back() {
        let policy = RetryPolicy {
            max_attempts: 100,
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(10),
            max_total: Duration::from_secs(12),
        };
        let none = HeaderMap::new();
        let mut state = RetryState::new(policy, &Method::GET, false);
        assert_eq!(
            state.on_response(StatusCode::GATEWAY_TIMEOUT, &none, at(100), 0.5),
            RetryDecision::Retry(Duration::from_secs(5))
        );
        assert_eq!(
            state.on_response(StatusCode::GATEWAY_TIMEOUT, &none, at(100), 0.5),
            RetryDecision::Retry(Duration::from_secs(5))
        );
        // The clock went back: the 10 s of waits handed out still count.
        assert_eq!(
            state.on_response(StatusCode::GATEWAY_TIMEOUT, &none, at(50), 0.5),
            RetryDecision::GiveUp(GiveUp::OutOfTime {
                needed: Duration::from_secs(15),
                max_total: Duration::from_secs(12)
            })
        );
        // The clock moved forward: elapsed wall time counts.
        let mut state = RetryState::new(policy, &Method::GET, false);
        assert!(matches!(
            state.on_response(StatusCode::GATEWAY_TIMEOUT, &none, at(0), 0.0),
            RetryDecision::Retry(_)
        ));
        assert!(matches!(
            state.on_response(StatusCode::GATEWAY_TIMEOUT, &none, at(26), 0.0),
            RetryDecision::GiveUp(GiveUp::OutOfTime { .. })
        ));
    }

    #[test]
    fn a_post_with_an_idempotency_key_is_retried_like_a_get() {
        let keyed = http::Request::post("https://x/")
            .header(IDEMPOTENCY_KEY, "m:1")
            .body(())
            .unwrap();
        let plain = http::Request::post("https://x/").body(()).unwrap();
        let none = HeaderMap::new();
        let mut state = RetryState::for_request(RetryPolicy::default(), &keyed);
        assert!(matches!(
            state.on_response(StatusCode::SERVICE_UNAVAILABLE, &none, at(0), 0.5),
            RetryDecision::Retry(_)
        ));
        assert!(matches!(
            state.on_transport_error(TransportErrorKind::Timeout, at(1), 0.5),
            RetryDecision::Retry(_)
        ));
        assert_eq!(
            state.on_response(StatusCode::UNPROCESSABLE_ENTITY, &none, at(2), 0.5),
            RetryDecision::Accept
        );
        let mut state = RetryState::for_request(RetryPolicy::default(), &plain);
        assert_eq!(
            state.on_response(StatusCode::SERVICE_UNAVAILABLE, &none, at(0), 0.5),
            RetryDecision::Accept
        );
    }

    #[test]
    fn non_retryable_is_accepted_at_once() {
        let mut state = RetryState::new(RetryPolicy::default(), &Method::POST, false);
        assert_eq!(
            state.on_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &HeaderMap::new(),
                at(0),
                0.5
            ),
            RetryDecision::Accept
        );
        assert_eq!(
            state.on_transport_error(TransportErrorKind::Timeout, at(0), 0.5),
            RetryDecision::Accept
        );
        assert!(matches!(
            state.on_transport_error(TransportErrorKind::Connect, at(0), 0.5),
            RetryDecision::Retry(_)
        ));
        let request = http::Request::put("https://x/")
            .header("if-match", "\"1\"")
            .body(())
            .unwrap();
        let mut put = RetryState::for_request(RetryPolicy::default(), &request);
        assert!(matches!(
            put.on_response(
                StatusCode::SERVICE_UNAVAILABLE,
                &HeaderMap::new(),
                at(0),
                0.5
            ),
            RetryDecision::Retry(_)
        ));
    }
}

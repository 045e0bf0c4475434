//! The exchange rule of one logical request: after each attempt, deliver the response, retry
//! after a delay, refresh the token and resend once (the 401 rule), or fail.
//!
//! This is the only place the rule is written: the [`Pager`](crate::Pager) asks it about every
//! page request, and the `referrals` facade about every single request (referrals and webhook
//! registration alike). It is a state machine fed outcomes, like the pager: it never touches a
//! clock, a socket or a random number generator of its own.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode};

use crate::retry::{GiveUp, RetryDecision, RetryPolicy, RetryState};
use crate::transport::TransportErrorKind;

/// What to do after an attempt, as decided by [`Exchange`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A `2xx` response: hand it to the caller. The exchange is over.
    Deliver,
    /// Wait this long, then send the request again (with a new request id).
    Retry(Duration),
    /// The server rejected the token (`401`): tell the token provider not to hand it out again,
    /// get a fresh one and send the request again at once (with a new request id). Given at
    /// most once per exchange, and only by an exchange made
    /// [`with_token_refresh`](Exchange::with_token_refresh).
    Refresh,
    /// Stop: the last outcome is the answer, an error. The exchange is over.
    Fail {
        /// Why it was not retried.
        reason: FailReason,
        /// Attempts made, as the retry policy counts them: a resend after a [`Step::Refresh`]
        /// is the same attempt, sent again with a fresh token.
        attempts: u32,
    },
}

impl Step {
    /// True when the token the last attempt carried was rejected and must not be handed out
    /// again: [`Step::Refresh`], and a [`FailReason::Unauthorized`] failure.
    pub fn rejects_token(&self) -> bool {
        matches!(
            self,
            Step::Refresh
                | Step::Fail {
                    reason: FailReason::Unauthorized,
                    ..
                }
        )
    }
}

/// Why an [`Exchange`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// The outcome is final by nature: an error status that another attempt cannot fix, a
    /// transient one that is unsafe to repeat (a `503` to a `POST`), a redirect (never
    /// followed: the token would go with it), or a transport failure that is unsafe or useless
    /// to repeat.
    Final,
    /// The outcome is transient, but the retry policy allows no further attempt.
    GaveUp(GiveUp),
    /// The server rejected a freshly fetched token too (a second `401`).
    Unauthorized,
}

impl FailReason {
    /// The [`GiveUp`] of [`FailReason::GaveUp`].
    pub fn gave_up(self) -> Option<GiveUp> {
        match self {
            FailReason::GaveUp(why) => Some(why),
            FailReason::Final | FailReason::Unauthorized => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// The caller cannot get another token: a 401 is final.
    Off,
    /// The next 401 asks for a refresh.
    Available,
    /// The refresh was used: the next 401 fails.
    Used,
}

/// The decisions of one logical request over all its attempts: a sans-IO state machine.
///
/// Send the request, then feed the outcome to [`on_response`](Self::on_response) or
/// [`on_transport_error`](Self::on_transport_error) and do what the [`Step`] says:
///
/// - a `2xx` is delivered;
/// - a transient failure is retried after the backoff of the [`RetryPolicy`] (at least the
///   server's `Retry-After`), within its limits on attempts, single waits and total time. Only
///   requests that are safe to repeat are retried ([`is_idempotent`](crate::is_idempotent)): a
///   `POST` or `PATCH` is sent again only when the attempt provably never reached the server
///   ([`TransportErrorKind::may_have_reached_server`]);
/// - with [`with_token_refresh`](Self::with_token_refresh), a `401` asks once for a fresh token
///   and an immediate resend, whatever the method: a `401` says the server refused the request
///   before acting on it. A second `401` fails with [`FailReason::Unauthorized`];
/// - anything else fails, saying why.
///
/// The current time (for `Retry-After` dates and the total time) and a random value in [0, 1)
/// (for the backoff jitter) are passed in. `examples/exchange.rs` drives one through a flaky
/// server on a virtual clock (`cargo run -p referrals-query --example exchange`).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::{HeaderMap, Method, StatusCode};
/// use referrals_query::{Exchange, FailReason, RetryPolicy, Step};
///
/// let mut exchange = Exchange::new(RetryPolicy::default(), &Method::GET, false).with_token_refresh();
/// let now = UNIX_EPOCH;
/// let mut busy = HeaderMap::new();
/// busy.insert("retry-after", "2".parse().unwrap());
/// let none = HeaderMap::new();
///
/// // A 503 asking for 2 s: wait (at least) that long, then send again.
/// assert_eq!(
///     exchange.on_response(StatusCode::SERVICE_UNAVAILABLE, &busy, now, 0.0),
///     Step::Retry(Duration::from_secs(2))
/// );
/// // The token expired meanwhile: refresh it and send again at once, once.
/// let step = exchange.on_response(StatusCode::UNAUTHORIZED, &none, now, 0.0);
/// assert_eq!(step, Step::Refresh);
/// assert!(step.rejects_token());
/// assert_eq!(exchange.on_response(StatusCode::OK, &none, now, 0.0), Step::Deliver);
///
/// // A POST answered 503 may have been applied: it is not sent again.
/// let mut create = Exchange::new(RetryPolicy::default(), &Method::POST, false);
/// assert_eq!(
///     create.on_response(StatusCode::SERVICE_UNAVAILABLE, &none, now, 0.5),
///     Step::Fail { reason: FailReason::Final, attempts: 1 }
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    retry: RetryState,
    refresh: Refresh,
}

impl Exchange {
    /// The exchange of a request with this method, with or without `If-Match`, that treats a
    /// `401` as final (see [`with_token_refresh`](Self::with_token_refresh)).
    pub fn new(policy: RetryPolicy, method: &Method, has_if_match: bool) -> Exchange {
        Exchange {
            retry: RetryState::new(policy, method, has_if_match),
            refresh: Refresh::Off,
        }
    }

    /// The exchange of `request` (its method and whether it has `If-Match`).
    pub fn for_request<B>(policy: RetryPolicy, request: &http::Request<B>) -> Exchange {
        Exchange {
            retry: RetryState::for_request(policy, request),
            refresh: Refresh::Off,
        }
    }

    /// The caller can fetch a fresh token: the first `401` answers [`Step::Refresh`].
    pub fn with_token_refresh(mut self) -> Exchange {
        self.refresh = Refresh::Available;
        self
    }

    /// True when made [`with_token_refresh`](Self::with_token_refresh).
    pub fn refreshes_tokens(&self) -> bool {
        self.refresh != Refresh::Off
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        self.retry.policy()
    }

    /// Attempts whose outcome has been recorded (a resend after [`Step::Refresh`] is the same
    /// attempt).
    pub fn attempts(&self) -> u32 {
        self.retry.attempts()
    }

    /// True once [`Step::Refresh`] was given.
    pub fn has_refreshed(&self) -> bool {
        self.refresh == Refresh::Used
    }

    /// Starts over for the next logical request (the next page of a listing): no attempt
    /// recorded, the refresh available again if it was.
    pub fn reset(&mut self) {
        self.retry.reset();
        if self.refresh == Refresh::Used {
            self.refresh = Refresh::Available;
        }
    }

    /// Records a response to the last attempt and decides what to do next. `now` is the
    /// current time and `random` a uniformly distributed value in [0, 1) for jitter.
    pub fn on_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        now: SystemTime,
        random: f64,
    ) -> Step {
        if status == StatusCode::UNAUTHORIZED {
            match self.refresh {
                Refresh::Off => {}
                Refresh::Available => {
                    self.refresh = Refresh::Used;
                    return Step::Refresh;
                }
                Refresh::Used => {
                    return Step::Fail {
                        reason: FailReason::Unauthorized,
                        // This attempt ended here, so the policy never counted it.
                        attempts: self.retry.attempts().saturating_add(1),
                    };
                }
            }
        }
        let decision = self.retry.on_response(status, headers, now, random);
        self.step(decision, status.is_success())
    }

    /// Records that the last attempt got no (complete) response and decides what to do next.
    pub fn on_transport_error(
        &mut self,
        kind: TransportErrorKind,
        now: SystemTime,
        random: f64,
    ) -> Step {
        let decision = self.retry.on_transport_error(kind, now, random);
        self.step(decision, false)
    }

    fn step(&self, decision: RetryDecision, success: bool) -> Step {
        let attempts = self.retry.attempts();
        match decision {
            RetryDecision::Accept if success => Step::Deliver,
            RetryDecision::Accept => Step::Fail {
                reason: FailReason::Final,
                attempts,
            },
            RetryDecision::Retry(delay) => Step::Retry(delay),
            RetryDecision::GiveUp(why) => Step::Fail {
                reason: FailReason::GaveUp(why),
                attempts,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::{is_idempotent, is_transient_status};
    use proptest::prelude::*;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_total: Duration::from_secs(3600),
        }
    }

    const NONE: fn() -> HeaderMap = HeaderMap::new;

    /// The step after `exchange`'s first answer, a `code` without headers.
    fn first_step(mut exchange: Exchange, code: u16) -> Step {
        exchange.on_response(status(code), &NONE(), at(0), 0.5)
    }

    /// The end of an exchange whose first answer is final.
    const FINAL_AT_ONCE: Step = Step::Fail {
        reason: FailReason::Final,
        attempts: 1,
    };

    #[test]
    fn every_status_class_gets_its_step() {
        for method in [Method::GET, Method::POST, Method::PATCH, Method::PUT] {
            for code in [200, 201, 202, 204] {
                let mut exchange = Exchange::new(policy(3), &method, false);
                assert_eq!(
                    exchange.on_response(status(code), &NONE(), at(0), 0.5),
                    Step::Deliver,
                    "{method} {code}"
                );
                assert_eq!(exchange.attempts(), 1);
            }
            // Redirects and permanent errors end the exchange at once.
            for code in [301, 302, 304, 400, 403, 404, 409, 412, 501, 505] {
                let exchange = Exchange::new(policy(3), &method, false).with_token_refresh();
                assert_eq!(first_step(exchange, code), FINAL_AT_ONCE, "{method} {code}");
            }
        }
    }

    #[test]
    fn transient_statuses_are_retried_only_when_safe() {
        for code in [408, 429, 500, 502, 503, 504] {
            for (method, if_match) in [(Method::GET, false), (Method::PUT, true)] {
                let exchange = Exchange::new(policy(3), &method, if_match);
                assert!(
                    matches!(first_step(exchange, code), Step::Retry(_)),
                    "{method} {code}"
                );
            }
            for (method, if_match) in [
                (Method::POST, false),
                (Method::PATCH, true),
                (Method::PUT, false),
            ] {
                let exchange = Exchange::new(policy(3), &method, if_match);
                assert_eq!(first_step(exchange, code), FINAL_AT_ONCE, "{method} {code}");
            }
        }
    }

    #[test]
    fn retries_honour_retry_after_and_end_with_the_reason() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        let mut exchange = Exchange::new(policy(3), &Method::GET, false);
        assert_eq!(
            exchange.on_response(StatusCode::TOO_MANY_REQUESTS, &headers, at(0), 0.0),
            Step::Retry(Duration::from_secs(3))
        );
        assert!(matches!(
            exchange.on_transport_error(TransportErrorKind::Io, at(3), 0.0),
            Step::Retry(_)
        ));
        assert_eq!(
            exchange.on_response(StatusCode::BAD_GATEWAY, &NONE(), at(4), 0.0),
            Step::Fail {
                reason: FailReason::GaveUp(GiveUp::Attempts { attempts: 3 }),
                attempts: 3
            }
        );

        headers.insert(http::header::RETRY_AFTER, "3600".parse().unwrap());
        let mut exchange = Exchange::new(policy(3), &Method::GET, false);
        let step = exchange.on_response(StatusCode::SERVICE_UNAVAILABLE, &headers, at(0), 0.0);
        assert_eq!(
            step,
            Step::Fail {
                reason: FailReason::GaveUp(GiveUp::RetryAfterTooLong {
                    requested: Duration::from_secs(3600),
                    max_delay: Duration::from_secs(10),
                }),
                attempts: 1
            }
        );
    }

    #[test]
    fn transport_errors_resend_a_post_only_when_it_was_never_sent() {
        for kind in [
            TransportErrorKind::Connect,
            TransportErrorKind::ConnectTimeout,
        ] {
            let mut post = Exchange::new(policy(3), &Method::POST, false);
            assert!(matches!(
                post.on_transport_error(kind, at(0), 0.5),
                Step::Retry(_)
            ));
        }
        for kind in [TransportErrorKind::Timeout, TransportErrorKind::Io] {
            let mut post = Exchange::new(policy(3), &Method::POST, false);
            assert_eq!(post.on_transport_error(kind, at(0), 0.5), FINAL_AT_ONCE);
            let mut get = Exchange::new(policy(3), &Method::GET, false);
            assert!(matches!(
                get.on_transport_error(kind, at(0), 0.5),
                Step::Retry(_)
            ));
        }
        for kind in [
            TransportErrorKind::InvalidRequest,
            TransportErrorKind::BodyTooLarge { limit: 10 },
        ] {
            let mut get = Exchange::new(policy(3), &Method::GET, false);
            assert_eq!(get.on_transport_error(kind, at(0), 0.5), FINAL_AT_ONCE);
        }
    }

    #[test]
    fn a_401_refreshes_once_then_fails_as_unauthorized() {
        for method in [Method::GET, Method::POST] {
            let mut exchange = Exchange::new(policy(5), &method, false).with_token_refresh();
            assert!(!exchange.has_refreshed());
            let step = exchange.on_response(StatusCode::UNAUTHORIZED, &NONE(), at(0), 0.5);
            assert_eq!(step, Step::Refresh);
            assert!(step.rejects_token());
            assert!(exchange.has_refreshed());
            // The resend is the same attempt.
            assert_eq!(exchange.attempts(), 0);
            let step = exchange.on_response(StatusCode::UNAUTHORIZED, &NONE(), at(0), 0.5);
            assert_eq!(
                step,
                Step::Fail {
                    reason: FailReason::Unauthorized,
                    attempts: 1
                }
            );
            assert!(step.rejects_token());
        }
        // Without a way to refresh, a 401 is an error status like any other.
        let mut fixed = Exchange::new(policy(5), &Method::GET, false);
        let step = fixed.on_response(StatusCode::UNAUTHORIZED, &NONE(), at(0), 0.5);
        assert_eq!(step, FINAL_AT_ONCE);
        assert!(!step.rejects_token());
        assert_eq!(FailReason::Final.gave_up(), None);
        assert_eq!(FailReason::Unauthorized.gave_up(), None);
    }

    #[test]
    fn the_refresh_comes_back_with_the_next_logical_request() {
        let mut exchange = Exchange::new(policy(2), &Method::GET, false).with_token_refresh();
        assert!(matches!(
            exchange.on_response(StatusCode::BAD_GATEWAY, &NONE(), at(0), 0.5),
            Step::Retry(_)
        ));
        assert_eq!(
            exchange.on_response(StatusCode::UNAUTHORIZED, &NONE(), at(0), 0.5),
            Step::Refresh
        );
        assert_eq!(
            exchange.on_response(StatusCode::UNAUTHORIZED, &NONE(), at(0), 0.5),
            Step::Fail {
                reason: FailReason::Unauthorized,
                attempts: 2
            }
        );
        exchange.reset();
        assert_eq!(exchange.attempts(), 0);
        assert!(!exchange.has_refreshed());
        assert_eq!(
            exchange.on_response(StatusCode::UNAUTHORIZED, &NONE(), at(0), 0.5),
            Step::Refresh
        );
        // A reset never turns on a refresh the caller did not ask for.
        let mut fixed = Exchange::new(policy(2), &Method::GET, false);
        fixed.reset();
        assert!(matches!(
            fixed.on_response(StatusCode::UNAUTHORIZED, &NONE(), at(0), 0.5),
            Step::Fail { .. }
        ));
    }

    #[test]
    fn for_request_reads_method_and_if_match() {
        let request = http::Request::put("https://x/")
            .header("if-match", "\"1\"")
            .body(())
            .unwrap();
        let mut put = Exchange::for_request(policy(3), &request);
        assert!(matches!(
            put.on_response(StatusCode::SERVICE_UNAVAILABLE, &NONE(), at(0), 0.5),
            Step::Retry(_)
        ));
        assert_eq!(put.policy(), &policy(3));
        let request = http::Request::put("https://x/").body(()).unwrap();
        let mut put = Exchange::for_request(policy(3), &request);
        assert!(matches!(
            put.on_response(StatusCode::SERVICE_UNAVAILABLE, &NONE(), at(0), 0.5),
            Step::Fail { .. }
        ));
    }

    /// One outcome of an attempt, as a server and a network can produce it.
    #[derive(Debug, Clone)]
    enum Event {
        Status(u16, Option<u64>),
        Transport(TransportErrorKind),
    }

    fn event() -> impl Strategy<Value = Event> {
        prop_oneof![
            (
                prop::sample::select(vec![
                    200u16, 201, 204, 302, 400, 401, 401, 403, 404, 408, 409, 412, 429, 500, 502,
                    503, 504
                ]),
                prop::option::of(0u64..40),
            )
                .prop_map(|(code, after)| Event::Status(code, after)),
            prop::sample::select(vec![
                TransportErrorKind::Connect,
                TransportErrorKind::ConnectTimeout,
                TransportErrorKind::Timeout,
                TransportErrorKind::Io,
                TransportErrorKind::InvalidRequest,
                TransportErrorKind::BodyTooLarge { limit: 1 },
            ])
            .prop_map(Event::Transport),
        ]
    }

    fn method() -> impl Strategy<Value = (Method, bool)> {
        prop::sample::select(vec![
            (Method::GET, false),
            (Method::HEAD, false),
            (Method::POST, false),
            (Method::PATCH, false),
            (Method::PATCH, true),
            (Method::PUT, false),
            (Method::PUT, true),
        ])
    }

    fn retry_policy() -> impl Strategy<Value = RetryPolicy> {
        (1u32..6, 0u64..2000, 0u64..20, 0u64..200).prop_map(|(attempts, base, max, total)| {
            RetryPolicy {
                max_attempts: attempts,
                base_delay: Duration::from_millis(base),
                max_delay: Duration::from_secs(max),
                max_total: Duration::from_secs(total),
            }
        })
    }

    proptest! {
        /// Driven until it stops by any sequence of outcomes: at most one refresh, at most
        /// `max_attempts` attempts counted (so at most `max_attempts + 1` sends), delays within
        /// the policy, a request that is unsafe to repeat resent only after an attempt that
        /// provably never reached the server or a 401, and an exchange always over by then.
        #[test]
        fn an_exchange_stays_within_its_rules(
            (method, if_match) in method(),
            policy in retry_policy(),
            refresh in any::<bool>(),
            events in prop::collection::vec(event(), 1..20),
            random in 0.0f64..1.0,
        ) {
            let mut exchange = Exchange::new(policy, &method, if_match);
            if refresh {
                exchange = exchange.with_token_refresh();
            }
            let idempotent = is_idempotent(&method, if_match);
            let mut now = at(1_000);
            let mut sends = 0u32;
            let mut refreshes = 0u32;
            let mut waited = Duration::ZERO;
            let mut over = false;
            for event in events {
                sends += 1;
                let step = match &event {
                    Event::Status(code, after) => {
                        let mut headers = HeaderMap::new();
                        if let Some(after) = after {
                            headers.insert(http::header::RETRY_AFTER, after.to_string().parse().unwrap());
                        }
                        exchange.on_response(status(*code), &headers, now, random)
                    }
                    Event::Transport(kind) => exchange.on_transport_error(*kind, now, random),
                };
                prop_assert!(exchange.attempts() <= policy.max_attempts);
                match step {
                    Step::Deliver => {
                        let Event::Status(code, _) = event else {
                            return Err(TestCaseError::fail("delivered a transport error"));
                        };
                        prop_assert!(status(code).is_success());
                        over = true;
                    }
                    Step::Retry(delay) => {
                        prop_assert!(delay <= policy.max_delay);
                        waited += delay;
                        prop_assert!(waited <= policy.max_total);
                        match event {
                            Event::Status(code, _) => {
                                prop_assert!(idempotent, "{} resent after {}", method, code);
                                prop_assert!(is_transient_status(status(code)));
                            }
                            Event::Transport(kind) => {
                                prop_assert!(kind.is_transient());
                                prop_assert!(idempotent || !kind.may_have_reached_server(),
                                    "{} resent after {:?}", method, kind);
                            }
                        }
                        now += delay;
                    }
                    Step::Refresh => {
                        prop_assert!(refresh);
                        prop_assert!(matches!(event, Event::Status(401, _)));
                        refreshes += 1;
                    }
                    Step::Fail { reason, attempts } => {
                        prop_assert!(attempts >= 1 && attempts <= policy.max_attempts);
                        if reason == FailReason::Unauthorized {
                            prop_assert!(refresh && refreshes == 1);
                            prop_assert!(matches!(event, Event::Status(401, _)));
                        }
                        over = true;
                    }
                }
                prop_assert!(refreshes <= 1);
                prop_assert!(sends <= policy.max_attempts + 1);
                if over {
                    break;
                }
            }
            prop_assert!(sends <= policy.max_attempts + refreshes);
        }

        /// Failing forever, an exchange stops after exactly `max_attempts` attempts (plus one
        /// resend when a refresh was given) unless the total time runs out first.
        #[test]
        fn a_server_that_always_fails_is_given_up_on(
            policy in retry_policy(),
            code in prop::sample::select(vec![500u16, 502, 503, 504, 429, 408]),
            random in 0.0f64..1.0,
        ) {
            let mut exchange = Exchange::new(policy, &Method::GET, false).with_token_refresh();
            let mut now = at(0);
            let mut sends = 0;
            let step = loop {
                sends += 1;
                let status = if sends == 2 { StatusCode::UNAUTHORIZED } else { status(code) };
                match exchange.on_response(status, &HeaderMap::new(), now, random) {
                    Step::Retry(delay) => now += delay,
                    Step::Refresh => {}
                    other => break other,
                }
                prop_assert!(sends <= policy.max_attempts + 1);
            };
            let Step::Fail { reason, attempts } = step else {
                return Err(TestCaseError::fail(format!("{step:?}")));
            };
            match reason {
                FailReason::GaveUp(GiveUp::Attempts { attempts: counted }) => {
                    prop_assert_eq!(counted, policy.max_attempts);
                    prop_assert_eq!(attempts, policy.max_attempts);
                }
                FailReason::GaveUp(GiveUp::OutOfTime { .. }) => {
                    prop_assert!(attempts < policy.max_attempts);
                }
                // No Retry-After is sent, and the one 401 is answered with a refresh.
                FailReason::GaveUp(GiveUp::RetryAfterTooLong { .. })
                | FailReason::Final
                | FailReason::Unauthorized => {
                    return Err(TestCaseError::fail(format!("{reason:?}")));
                }
            }
        }
    }
}

//! Device code sign-in (RFC 8628): the poller is a pure state machine fed the authority's answers
//! and the time they came; [`DeviceCodeLogin`] does the requests, the waiting and the clock.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use referrals_query::AuthorityUrl;
use referrals_query::transport::{BoxFuture, Transport};

use super::error::{AuthError, EndpointProblem, SignInProblem};
use super::grant::{self, Answer, Form, TokenAnswer};
use super::{OFFLINE_ACCESS, PARTNER_CENTER_SCOPE};
use crate::Secret;

/// What `slow_down` adds to the polling interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The interval when the authority names none (RFC 8628 §3.2).
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// The shortest wait between polls, whatever the authority asked for. RFC 8628 gives the interval
/// in whole seconds (§3.2) and has the client wait at least that long before each poll (§3.5), so
/// one second is the shortest wait a conforming authority can ask for; `0` asks for none at all,
/// which would make polling a busy loop against the token endpoint. Waiting longer than asked is
/// always allowed, but a longer floor (the 5 s default) would slow every sign-in at an authority
/// that asks for less, and the deadline, not the floor, is what ends a sign-in.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a device code is polled for, whatever its `expires_in` says: an authority that
/// names years would keep a sign-in polling for ever. Authorities give minutes (Microsoft
/// Entra ID 15, others 10 to 30).
pub const MAX_CODE_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// Polls in a row that may fail to reach the token endpoint (a network error, or a page that is
/// no OAuth answer, such as a gateway's 502) before the sign-in gives up.
pub const MAX_UNREACHABLE_POLLS: u32 = 5;
/// The longest wait after polls that did not reach the token endpoint.
const MAX_UNREACHABLE_WAIT: Duration = Duration::from_secs(60);

/// The device authorization: what to show the user, and the device code to poll with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    /// The device code (a secret: it redeems the sign-in).
    pub device_code: Secret,
    /// The code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// How long the codes are valid, as the authority said.
    pub expires_in: Duration,
    /// When the codes expire: `expires_in` (at most [`MAX_CODE_LIFETIME`]) after the device
    /// code was asked for. Polling stops then, whatever the authority answers.
    pub expires_at: Instant,
    /// How long to wait between polls, as the authority said (5 s when it named none); the
    /// poller never waits less than [`MIN_POLL_INTERVAL`].
    pub interval: Duration,
    /// The sentence the authority wants shown, when it sent one.
    pub message: Option<String>,
}

impl DeviceAuthorization {
    /// The text to show: the authority's `message`, else the URI and the code. The authority
    /// wrote it, so control characters are escaped (no escape sequence reaches a terminal) and
    /// any secret the process holds is masked; nothing is cut.
    pub fn instructions(&self) -> String {
        let text = self.message.clone().unwrap_or_else(|| {
            format!(
                "To sign in, open {} and enter the code {}.",
                self.verification_uri, self.user_code
            )
        });
        referrals_query::printable(&crate::mask_secrets(&text)).into_owned()
    }

    /// Reads the device authorization answer, asked for at `asked_at`.
    fn parse(
        status: u16,
        body: &[u8],
        asked_at: Instant,
    ) -> Result<Result<Self, AuthError>, String> {
        let value: serde_json::Value = match serde_json::from_slice(body) {
            Ok(value @ serde_json::Value::Object(_)) => value,
            _ => {
                return Err(format!(
                    "the device code answer (HTTP {status}) is not a JSON object"
                ));
            }
        };
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let seconds = |key: &str| {
            value.get(key).and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            })
        };
        if !(200..300).contains(&status) || value.get("error").is_some() {
            let (code, description) = grant::error_texts(&value);
            return Ok(Err(grant::refused(status, code, description)));
        }
        let missing = |key: &str| format!("the device code answer has no {key}");
        let expires_in =
            Duration::from_secs(seconds("expires_in").ok_or_else(|| missing("expires_in"))?);
        Ok(Ok(DeviceAuthorization {
            device_code: Secret::new(text("device_code").ok_or_else(|| missing("device_code"))?),
            user_code: text("user_code").ok_or_else(|| missing("user_code"))?,
            verification_uri: text("verification_uri")
                .or_else(|| text("verification_url"))
                .ok_or_else(|| missing("verification_uri"))?,
            expires_in,
            expires_at: asked_at
                .checked_add(expires_in.min(MAX_CODE_LIFETIME))
                .unwrap_or(asked_at),
            interval: seconds("interval")
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_INTERVAL),
            message: text("message"),
        }))
    }
}

/// One answer to a poll of the token endpoint.
#[derive(Debug)]
#[non_exhaustive]
pub enum PollAnswer {
    /// `authorization_pending`: the user has not finished.
    Pending,
    /// `slow_down`: poll less often.
    SlowDown,
    /// The tokens.
    Token(TokenAnswer),
    /// Any other OAuth error.
    Error {
        /// HTTP status.
        status: u16,
        /// `error`.
        code: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The poll did not reach the token endpoint, or got no OAuth answer (a network error, a
    /// gateway's HTML page): the poller waits longer and polls again, up to
    /// [`MAX_UNREACHABLE_POLLS`] in a row.
    Unreachable(AuthError),
}

/// What the poller wants next.
#[derive(Debug)]
#[non_exhaustive]
pub enum PollStep {
    /// Wait this long, then poll.
    Wait(Duration),
    /// Signed in.
    Done(Box<TokenAnswer>),
    /// Stop: the error says why.
    Failed(AuthError),
}

/// The polling rules of RFC 8628: wait `interval` between polls (never less than
/// [`MIN_POLL_INTERVAL`]), add five seconds on `slow_down`, keep going on
/// `authorization_pending`, double the wait after a poll that did not reach the authority (§3.5;
/// at most 60 s, and [`MAX_UNREACHABLE_POLLS`] in a row), stop on anything else, and stop when
/// the code expires ([`DeviceAuthorization::expires_at`]): no poll is planned past that moment.
///
/// Time is what the caller says it is (`now`, when an answer came): a wall clock, so that the
/// time answers take counts, not only the waits.
#[derive(Debug, Clone)]
pub struct DevicePoller {
    interval: Duration,
    deadline: Instant,
    polls: u32,
    unreachable: u32,
}

impl DevicePoller {
    /// A poller for `authorization`.
    pub fn new(authorization: &DeviceAuthorization) -> Self {
        DevicePoller {
            interval: authorization.interval.max(MIN_POLL_INTERVAL),
            deadline: authorization.expires_at,
            polls: 0,
            unreachable: 0,
        }
    }

    /// The wait before the first poll, at `now`.
    pub fn start(&mut self, now: Instant) -> PollStep {
        self.wait(now)
    }

    /// The current interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// When the code expires: no poll after it.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Polls answered so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    fn wait(&mut self, now: Instant) -> PollStep {
        self.wait_for(self.interval, now)
    }

    fn wait_for(&mut self, delay: Duration, now: Instant) -> PollStep {
        let poll_at = now.checked_add(delay);
        if poll_at.is_none_or(|at| at > self.deadline) {
            return PollStep::Failed(expired(None));
        }
        PollStep::Wait(delay)
    }

    /// Feeds one answer, which came at `now`.
    pub fn on_answer(&mut self, answer: PollAnswer, now: Instant) -> PollStep {
        self.polls += 1;
        let unreachable = std::mem::take(&mut self.unreachable);
        match answer {
            PollAnswer::Pending => self.wait(now),
            PollAnswer::SlowDown => {
                self.interval += SLOW_DOWN_STEP;
                self.wait(now)
            }
            PollAnswer::Token(token) => PollStep::Done(Box::new(token)),
            PollAnswer::Error {
                status,
                code,
                description,
            } => PollStep::Failed(stop(status, code, description)),
            PollAnswer::Unreachable(error) => {
                self.unreachable = unreachable + 1;
                if self.unreachable >= MAX_UNREACHABLE_POLLS {
                    return PollStep::Failed(gave_up(error, self.unreachable));
                }
                // RFC 8628 §3.5: poll less often after a connection failure (doubling).
                let backoff = self
                    .interval
                    .saturating_mul(1 << self.unreachable.min(16))
                    .min(MAX_UNREACHABLE_WAIT.max(self.interval));
                self.wait_for(backoff, now)
            }
        }
    }
}

/// The last failure of `polls` in a row that did not reach the authority.
fn gave_up(error: AuthError, polls: u32) -> AuthError {
    match error {
        AuthError::Unavailable { endpoint, problem } => AuthError::Unavailable {
            endpoint,
            problem: EndpointProblem::GaveUp {
                polls,
                last: Box::new(problem),
            },
        },
        other => other,
    }
}

fn expired(description: Option<String>) -> AuthError {
    AuthError::sign_in(SignInProblem::Expired, "expired_token", description)
}

fn stop(status: u16, code: String, description: Option<String>) -> AuthError {
    let problem = match code.as_str() {
        "expired_token" => return expired(description),
        "authorization_declined" | "access_denied" => SignInProblem::Declined,
        "bad_verification_code" => SignInProblem::UnknownCode,
        _ => return grant::refused(status, code, description),
    };
    AuthError::sign_in(problem, code, description)
}

/// How the login waits between polls: `tokio::time::sleep` unless replaced (tests pass one that
/// records the waits and returns at once). The time a pause was asked to wait counts toward the
/// code's expiry even when it returns early.
pub type Pause = Arc<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>;

/// The device code sign-in against `{authority}/{tenant}/oauth2/v2.0/devicecode` and `/token`,
/// for [`PARTNER_CENTER_SCOPE`] and `offline_access` unless told otherwise.
#[derive(Clone)]
pub struct DeviceCodeLogin {
    authority: AuthorityUrl,
    tenant: String,
    client_id: String,
    scope: String,
    pause: Pause,
}

impl fmt::Debug for DeviceCodeLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeLogin")
            .field("authority", &self.authority)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl DeviceCodeLogin {
    /// A sign-in for the public client `client_id` in `tenant` (`organizations` for any work
    /// account).
    pub fn new(
        authority: AuthorityUrl,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Result<Self, AuthError> {
        let (tenant, client_id) = grant::identity(tenant.into(), client_id.into())?;
        Ok(DeviceCodeLogin {
            authority,
            tenant,
            client_id,
            scope: PARTNER_CENTER_SCOPE.into(),
            pause: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
        })
    }

    /// Another scope to sign in for (`offline_access` is always added).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// Replaces the wait between polls.
    pub fn pause(mut self, pause: Pause) -> Self {
        self.pause = pause;
        self
    }

    /// The scope signed in for.
    pub fn signed_in_scope(&self) -> &str {
        &self.scope
    }

    /// Asks for a device code.
    pub async fn start(&self, transport: &dyn Transport) -> Result<DeviceAuthorization, AuthError> {
        let endpoint = grant::endpoint(&self.authority, &self.tenant, "devicecode");
        let unavailable = |problem: EndpointProblem| AuthError::Unavailable {
            endpoint: endpoint.clone(),
            problem,
        };
        let form = Form::new()
            .field("client_id", &self.client_id)
            .field("scope", &format!("{} {OFFLINE_ACCESS}", self.scope));
        let request = http::Request::post(&endpoint)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(bytes::Bytes::from(form.into_body()))
            .map_err(|_| unavailable(EndpointProblem::InvalidUri))?;
        if !self.authority.is_same_origin(&endpoint) {
            return Err(unavailable(EndpointProblem::OffAuthority));
        }
        // The code's lifetime is counted from before the request: never longer than the
        // authority's.
        let asked_at = Instant::now();
        let response = transport
            .send(request)
            .await
            .map_err(|e| unavailable(EndpointProblem::Transport(e)))?;
        DeviceAuthorization::parse(response.status().as_u16(), response.body(), asked_at)
            .map_err(|what| unavailable(EndpointProblem::Unusable(what)))?
    }

    /// Polls until the user finished, declined, or the code expired
    /// ([`SignInProblem::Expired`] at [`DeviceAuthorization::expires_at`] at the latest,
    /// whatever the authority answers).
    pub async fn finish(
        &self,
        transport: &dyn Transport,
        authorization: &DeviceAuthorization,
    ) -> Result<TokenAnswer, AuthError> {
        let endpoint = self.authority.token_endpoint(&self.tenant);
        let mut poller = DevicePoller::new(authorization);
        // The clock's time, and never less than the waits so far: a pause that returns early
        // (a test's) still stands for the time it was asked to wait.
        let mut now = Instant::now();
        let mut step = poller.start(now);
        loop {
            match step {
                PollStep::Wait(delay) => {
                    (self.pause)(delay).await;
                    now = Instant::now().max(now.checked_add(delay).unwrap_or(now));
                }
                PollStep::Done(answer) => return Ok(*answer),
                PollStep::Failed(error) => return Err(error),
            }
            let form = Form::new()
                .field("grant_type", "urn:ietf:params:oauth:grant-type:device_code")
                .field("client_id", &self.client_id)
                .secret("device_code", &authorization.device_code);
            let answer = match grant::post(transport, &self.authority, &endpoint, form).await {
                Ok(Answer::Token(token)) => PollAnswer::Token(token),
                Ok(Answer::Error(_, code, _)) if code == "authorization_pending" => {
                    PollAnswer::Pending
                }
                Ok(Answer::Error(_, code, _)) if code == "slow_down" => PollAnswer::SlowDown,
                Ok(Answer::Error(status, code, description)) => PollAnswer::Error {
                    status,
                    code,
                    description,
                },
                Err(error @ AuthError::Unavailable { .. }) => {
                    tracing::debug!(%error, "a device code poll did not reach the authority");
                    PollAnswer::Unreachable(error)
                }
                Err(error) => return Err(error),
            };
            now = Instant::now().max(now);
            step = poller.on_answer(answer, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed origin for the poller's clock; `at(s)` is `s` seconds later.
    fn at(seconds: u64) -> Instant {
        thread_local!(static ORIGIN: Instant = Instant::now());
        ORIGIN.with(|origin| *origin + Duration::from_secs(seconds))
    }

    fn authorization(interval: u64, expires_in: u64) -> DeviceAuthorization {
        DeviceAuthorization {
            device_code: Secret::new("dc"),
            user_code: "ABCD".into(),
            verification_uri: "https://microsoft.com/devicelogin".into(),
            expires_in: Duration::from_secs(expires_in),
            expires_at: at(expires_in),
            interval: Duration::from_secs(interval),
            message: None,
        }
    }

    fn wait(step: PollStep) -> u64 {
        match step {
            PollStep::Wait(d) => d.as_secs(),
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    fn token() -> TokenAnswer {
        match grant::parse_answer(200, br#"{"access_token":"a"}"#) {
            Ok(Answer::Token(t)) => t,
            _ => panic!("token"),
        }
    }

    /// Answers `pending` each time the poller asks, at exactly the time it planned; the polls
    /// made until it stops, and how it stopped.
    fn pending_until_stopped(mut poller: DevicePoller) -> (Vec<u64>, PollStep) {
        let mut now = at(0);
        let mut step = poller.start(now);
        let mut waits = Vec::new();
        while let PollStep::Wait(delay) = step {
            waits.push(delay.as_secs());
            now += delay;
            step = poller.on_answer(PollAnswer::Pending, now);
        }
        (waits, step)
    }

    fn is_expired(step: &PollStep) -> bool {
        matches!(
            step,
            PollStep::Failed(AuthError::SignIn { problem: SignInProblem::Expired, code, .. })
                if code == "expired_token"
        )
    }

    #[test]
    fn pending_keeps_the_interval_and_slow_down_adds_five_seconds() {
        let mut poller = DevicePoller::new(&authorization(5, 900));
        assert_eq!(wait(poller.start(at(0))), 5);
        assert_eq!(wait(poller.on_answer(PollAnswer::Pending, at(5))), 5);
        assert_eq!(wait(poller.on_answer(PollAnswer::SlowDown, at(10))), 10);
        assert_eq!(wait(poller.on_answer(PollAnswer::Pending, at(20))), 10);
        assert_eq!(wait(poller.on_answer(PollAnswer::SlowDown, at(30))), 15);
        assert!(matches!(
            poller.on_answer(PollAnswer::Token(token()), at(45)),
            PollStep::Done(_)
        ));
        assert_eq!(poller.polls(), 5);
    }

    #[test]
    fn an_interval_below_one_second_is_raised_to_it_and_slow_down_adds_to_that() {
        for asked in [0, 1] {
            let mut poller = DevicePoller::new(&authorization(asked, 900));
            assert_eq!(poller.interval(), MIN_POLL_INTERVAL);
            assert_eq!(wait(poller.start(at(0))), 1);
            assert_eq!(wait(poller.on_answer(PollAnswer::Pending, at(1))), 1);
            assert_eq!(wait(poller.on_answer(PollAnswer::SlowDown, at(2))), 6);
            assert_eq!(wait(poller.on_answer(PollAnswer::Pending, at(8))), 6);
        }
    }

    #[test]
    fn a_hostile_authority_pending_for_ever_is_polled_once_a_second_until_the_code_expires() {
        // interval 0, expires_in 4, then authorization_pending for ever.
        let (waits, end) = pending_until_stopped(DevicePoller::new(&authorization(0, 4)));
        assert_eq!(waits, [1, 1, 1, 1], "four polls in four seconds");
        assert!(is_expired(&end), "{end:?}");
        // A code the authority says lives for ever is polled for MAX_CODE_LIFETIME at most.
        let mut forever = authorization(0, u64::MAX / 4);
        forever.expires_at = at(MAX_CODE_LIFETIME.as_secs());
        let (waits, end) = pending_until_stopped(DevicePoller::new(&forever));
        assert_eq!(waits.len() as u64, MAX_CODE_LIFETIME.as_secs());
        assert!(is_expired(&end));
    }

    #[test]
    fn the_deadline_is_the_clocks_not_the_sum_of_the_waits() {
        // Each answer takes the authority a minute: the waits add up to 5 s, the code is gone.
        let mut poller = DevicePoller::new(&authorization(5, 120));
        assert_eq!(wait(poller.start(at(0))), 5);
        assert_eq!(wait(poller.on_answer(PollAnswer::Pending, at(65))), 5);
        assert!(is_expired(&poller.on_answer(PollAnswer::Pending, at(125))));
        assert_eq!(poller.polls(), 2);
        // A wait that would end after the deadline is not started; slow_down counts.
        let mut poller = DevicePoller::new(&authorization(5, 20));
        assert_eq!(wait(poller.start(at(0))), 5);
        assert!(is_expired(&poller.on_answer(PollAnswer::SlowDown, at(11))));
        // Tokens that arrive are taken, even late.
        let mut poller = DevicePoller::new(&authorization(5, 20));
        assert!(matches!(
            poller.on_answer(PollAnswer::Token(token()), at(30)),
            PollStep::Done(_)
        ));
    }

    fn unreachable() -> PollAnswer {
        PollAnswer::Unreachable(AuthError::Unavailable {
            endpoint: "https://login.example/t/oauth2/v2.0/token".into(),
            problem: EndpointProblem::Unusable("connection refused".into()),
        })
    }

    #[test]
    fn polls_that_do_not_reach_the_authority_wait_longer_and_stop_after_five_in_a_row() {
        let mut poller = DevicePoller::new(&authorization(5, 900));
        assert_eq!(wait(poller.start(at(0))), 5);
        // 10, 20 s after two failures; an answer brings the interval back.
        assert_eq!(wait(poller.on_answer(unreachable(), at(5))), 10);
        assert_eq!(wait(poller.on_answer(unreachable(), at(15))), 20);
        assert_eq!(wait(poller.on_answer(PollAnswer::Pending, at(35))), 5);
        // Four in a row: 10, 20, 40, then at most 60 s; the fifth stops with the reason.
        let mut now = at(40);
        let waits: Vec<u64> = (0..4)
            .map(|_| {
                let waited = wait(poller.on_answer(unreachable(), now));
                now += Duration::from_secs(waited);
                waited
            })
            .collect();
        assert_eq!(waits, [10, 20, 40, 60]);
        let PollStep::Failed(error) = poller.on_answer(unreachable(), now) else {
            panic!("five polls in a row that failed stop the sign-in");
        };
        let text = error.to_string();
        assert!(
            text.contains("connection refused") && text.contains("5 polls in a row"),
            "{text}"
        );
        assert!(
            matches!(
                &error,
                AuthError::Unavailable {
                    problem: EndpointProblem::GaveUp { polls: 5, .. },
                    ..
                }
            ),
            "{error:?}"
        );

        // Waiting longer never outlasts the code.
        let mut poller = DevicePoller::new(&authorization(5, 30));
        assert_eq!(wait(poller.start(at(0))), 5);
        assert_eq!(wait(poller.on_answer(unreachable(), at(5))), 10);
        let step = poller.on_answer(unreachable(), at(15));
        assert!(is_expired(&step), "the code expires first: {step:?}");
    }

    #[test]
    fn the_code_expires_and_errors_stop() {
        let mut poller = DevicePoller::new(&authorization(5, 12));
        assert_eq!(wait(poller.start(at(0))), 5);
        assert_eq!(wait(poller.on_answer(PollAnswer::Pending, at(5))), 5);
        let PollStep::Failed(AuthError::SignIn { code, .. }) =
            poller.on_answer(PollAnswer::Pending, at(10))
        else {
            panic!("expired")
        };
        assert_eq!(code, "expired_token");

        for (code, says, kind) in [
            (
                "authorization_declined",
                "declined",
                SignInProblem::Declined,
            ),
            ("access_denied", "declined", SignInProblem::Declined),
            ("expired_token", "expired", SignInProblem::Expired),
            (
                "bad_verification_code",
                "does not know",
                SignInProblem::UnknownCode,
            ),
        ] {
            let mut poller = DevicePoller::new(&authorization(1, 60));
            let step = poller.on_answer(
                PollAnswer::Error {
                    status: 400,
                    code: code.into(),
                    description: None,
                },
                at(1),
            );
            let PollStep::Failed(error) = step else {
                panic!("{code} stops")
            };
            let text = error.to_string();
            assert!(text.contains(code) && text.contains(says), "{text}");
            assert!(
                matches!(error, AuthError::SignIn { problem, .. } if problem == kind),
                "{text}"
            );
        }
        let mut poller = DevicePoller::new(&authorization(1, 60));
        let step = poller.on_answer(
            PollAnswer::Error {
                status: 401,
                code: "invalid_client".into(),
                description: None,
            },
            at(1),
        );
        assert!(matches!(step, PollStep::Failed(AuthError::Refused { .. })));
    }

    #[test]
    fn device_answers_are_read_and_bad_ones_refused() {
        let now = at(0);
        let good = br#"{"device_code":"d","user_code":"U","verification_uri":"https://x","expires_in":"900","message":"Go"}"#;
        let authorization = DeviceAuthorization::parse(200, good, now).unwrap().unwrap();
        assert_eq!(authorization.interval, DEFAULT_INTERVAL);
        assert_eq!(authorization.expires_at, at(900));
        assert_eq!(authorization.instructions(), "Go");
        assert!(DeviceAuthorization::parse(200, b"<html>", now).is_err());
        assert!(DeviceAuthorization::parse(200, br#"{"device_code":"d"}"#, now).is_err());
        assert!(matches!(
            DeviceAuthorization::parse(400, br#"{"error":"invalid_client"}"#, now),
            Ok(Err(AuthError::Refused { .. }))
        ));
        let forever = br#"{"device_code":"d","user_code":"U","verification_uri":"https://x","expires_in":99999999999,"interval":0}"#;
        let authorization = DeviceAuthorization::parse(200, forever, now)
            .unwrap()
            .unwrap();
        assert_eq!(authorization.expires_at, now + MAX_CODE_LIFETIME);
        assert_eq!(
            authorization.interval,
            Duration::ZERO,
            "as the authority said"
        );
    }

    #[test]
    fn the_instructions_reach_a_terminal_without_control_characters() {
        let body = r#"{"device_code":"d","user_code":"U","verification_uri":"https://x","expires_in":900,"message":"Open \u001b]8;;https://evil\u0007here\u001b[2J\r\nand type U"}"#;
        let authorization = DeviceAuthorization::parse(200, body.as_bytes(), at(0))
            .unwrap()
            .unwrap();
        let shown = authorization.instructions();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(
            shown,
            "Open \\u{1b}]8;;https://evil\\u{7}here\\u{1b}[2J\\r\\nand type U"
        );
        let mut plain = authorization.clone();
        plain.message = None;
        plain.verification_uri = "https://x/\u{1b}[31m".into();
        assert!(!plain.instructions().chars().any(char::is_control));
    }
}

//! Fault injection: which failure to produce ([`Fault`]) and when ([`FaultRule`], [`Trigger`],
//! gathered in a [`FaultPlan`]).

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use referrals_fixtures::rng::SeededRng;

use super::locks::lock;

/// A failure the simulator can produce instead of (or on top of) a normal answer.
///
/// Faults marked *list only* change list responses and never apply to other requests (a rule
/// holding one does not fire, nor use up its budget, on a get or a patch).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answers `status` with a JSON error body (`{"error":{"code",...}}`), and a `Retry-After`
    /// header when `retry_after` is set. Use it for 429, 500, 502, 503, 504, 408, ...
    Status {
        /// The HTTP status code.
        status: u16,
        /// The `Retry-After` header to send, if any.
        retry_after: Option<RetryAfter>,
    },
    /// A 502 with an HTML body (`Content-Type: text/html`), as a gateway in front of the API
    /// answers.
    GatewayHtml,
    /// Answers `status` with an HTML page (`Content-Type: text/html`) that is not the API's:
    /// a captive portal or a sign-in proxy in front of the API answers `200` with one.
    HtmlPage {
        /// The HTTP status code.
        status: u16,
    },
    /// Answers `status` with the API's JSON error body whose message quotes the request's
    /// `Authorization` header whole, as a careless (or hostile) service might echo what it was
    /// sent: a client must never show it. The request log still keeps only the scheme.
    EchoAuthorization {
        /// The HTTP status code.
        status: u16,
    },
    /// Answers `status` with an empty body and no `Content-Type`, as some gateways do.
    EmptyBody {
        /// The HTTP status code.
        status: u16,
    },
    /// A 401 with the documented error body, whatever token was sent. Scheduled once it tests
    /// a token refresh; always, a clear authentication error.
    Unauthorized,
    /// Closes the connection (with a TCP reset) after reading the request, before any byte of
    /// the response.
    ResetBeforeHeaders,
    /// Sends the status line, the headers (with the full `Content-Length`) and half the body,
    /// then resets the connection.
    ResetMidBody,
    /// Sends the headers and all but the last tenth of the body (at least one byte short of
    /// `Content-Length`), then closes the connection cleanly.
    TruncatedBody,
    /// Waits this long before answering (normally) — long enough, headers that never come.
    SlowHeaders(Duration),
    /// Acts on the request (a create creates), then waits this long before answering: the
    /// window in which a client killed between its request and the answer loses the answer
    /// of a request that took effect.
    SlowAnswer(Duration),
    /// Pads the normal JSON body with an extra string field so it weighs at least this many
    /// bytes (streamed, not held in memory); `Content-Length` is the padded size.
    OversizedBody(usize),
    /// A 200 whose body is not valid JSON: for a list page, the comma between the first two items
    /// is missing (the seed page's defect); otherwise the closing brace is missing.
    InvalidJson,
    /// Before the request is answered, another user updates the referral it addresses (a get,
    /// patch or put of `…/referrals/{id}`) with this JSON Patch, which gives it a new eTag: the
    /// race behind a 412 on an update with `If-Match`. Applied like a client's patch (status
    /// transitions checked); a patch that does not apply changes nothing.
    ConcurrentUpdate {
        /// The other user's JSON Patch array.
        patch: serde_json::Value,
    },
    /// *List and get.* The referral `id` is served (in list pages and on its own) with its
    /// top-level `field` set to the number `7`: one mistyped field, as a service deploy with a
    /// serialization bug would send, in an otherwise valid answer. The stored referral is not
    /// changed: once the rule is gone, it is served as it was.
    MistypedField {
        /// The referral's id.
        id: String,
        /// The top-level field served as a number, e.g. `status`.
        field: String,
    },
    /// *List only.* A page with no items that still carries a next link/token continuing where it
    /// would have started (so no item is skipped).
    EmptyPage,
    /// *List only.* The page's continuation points at the page itself: its token equals the token
    /// of the request (on a first page, a token that asks for the first page again).
    RepeatToken,
    /// *List only.* The next link points at another host: `http://{host}:{simulator port}/...`
    /// (in the 2018 form, `links.next.uri` becomes that absolute URL).
    ForeignNextLink {
        /// The foreign host name, e.g. `evil.example`.
        host: String,
    },
    /// *List only.* The next link is an `http://` URL on a (non-loopback) host name without a
    /// port, like the documented example `http://api.partner.microsoft.com/v1.0/...`.
    DowngradedNextLink {
        /// The host name, e.g. `api.partner.microsoft.com`.
        host: String,
    },
    /// *List only.* The list is answered as if the request had no `$filter` (a service that
    /// ignores it); its next links carry none either. Give it to every list request
    /// ([`FaultRule::always`]), as such a service would.
    IgnoreFilter,
    /// *List only.* The list is answered as a service that knows only the 2018 form: OData
    /// options are ignored (not refused) and the page comes in the 2018 form, continued by the
    /// `MS-ContinuationToken` header. Give it to every list request ([`FaultRule::always`]).
    ClassicOnly,
}

impl Fault {
    /// 429 with `Retry-After: {seconds}`.
    pub fn too_many_requests(seconds: u64) -> Self {
        Self::Status {
            status: 429,
            retry_after: Some(RetryAfter::Seconds(seconds)),
        }
    }

    /// 429 with `Retry-After` as an HTTP-date `after` from the time of the answer.
    pub fn too_many_requests_until(after: Duration) -> Self {
        Self::Status {
            status: 429,
            retry_after: Some(RetryAfter::Date(after)),
        }
    }

    /// `status` with a JSON error body and no `Retry-After` (e.g. 500, 502, 503, 504).
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            retry_after: None,
        }
    }

    /// Another user's update of the addressed referral just before the answer: see
    /// [`Fault::ConcurrentUpdate`].
    pub fn concurrent_update(patch: serde_json::Value) -> Self {
        Self::ConcurrentUpdate { patch }
    }

    /// The referral `id` served with its `field` set to the number `7`: see
    /// [`Fault::MistypedField`].
    pub fn mistyped_field(id: impl Into<String>, field: impl Into<String>) -> Self {
        Self::MistypedField {
            id: id.into(),
            field: field.into(),
        }
    }

    /// A next link to `http://evil.example:{port}/...`.
    pub fn foreign_next_link() -> Self {
        Self::ForeignNextLink {
            host: "evil.example".into(),
        }
    }

    /// A next link to `http://api.partner.microsoft.com/...` (the documented example's form).
    pub fn downgraded_next_link() -> Self {
        Self::DowngradedNextLink {
            host: "api.partner.microsoft.com".into(),
        }
    }

    /// Whether the fault only concerns list responses.
    pub fn is_list_only(&self) -> bool {
        matches!(
            self,
            Self::EmptyPage
                | Self::RepeatToken
                | Self::ForeignNextLink { .. }
                | Self::DowngradedNextLink { .. }
                | Self::IgnoreFilter
                | Self::ClassicOnly
        )
    }
}

/// A `Retry-After` header value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: N` (delay-seconds).
    Seconds(u64),
    /// `Retry-After: <HTTP-date>`, this long after the moment of the answer (HTTP-dates have
    /// whole seconds, so the effective wait is up to a second shorter).
    Date(Duration),
}

/// What the simulator knows about a request when choosing a fault.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestInfo {
    /// 1-based number of this request among the API requests (token requests not counted).
    pub number: u64,
    /// The HTTP method.
    pub method: http::Method,
    /// The path, e.g. `/v1.0/engagements/referrals`.
    pub path: String,
    /// The raw query string, without `?` (empty when none).
    pub query: String,
    /// What the request asks for.
    pub operation: Operation,
    /// For a list request: the zero-based page it asks for (0 without a continuation token, or
    /// when the token is invalid).
    pub list_page: Option<usize>,
}

/// The operation a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `GET …/referrals`.
    List,
    /// `GET …/referrals/{id}`.
    Get,
    /// `POST …/referrals`.
    Create,
    /// `PATCH …/referrals/{id}`.
    Patch,
    /// `PUT …/referrals/{id}`.
    Put,
    /// Any other path or method.
    Other,
}

/// When a rule fires.
#[derive(Clone)]
#[non_exhaustive]
pub enum Trigger {
    /// On every API request.
    Always,
    /// On the API request with this 1-based number.
    NthRequest(u64),
    /// On list requests for this zero-based page (retries of the page included).
    ListPage(usize),
    /// On each API request with this probability (0.0–1.0), drawn from the plan's seeded
    /// generator.
    Probability(f64),
    /// On the requests the predicate accepts.
    Matching(Arc<dyn Fn(&RequestInfo) -> bool + Send + Sync>),
}

impl fmt::Debug for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Always => f.write_str("Always"),
            Self::NthRequest(n) => f.debug_tuple("NthRequest").field(n).finish(),
            Self::ListPage(n) => f.debug_tuple("ListPage").field(n).finish(),
            Self::Probability(p) => f.debug_tuple("Probability").field(p).finish(),
            Self::Matching(_) => f.write_str("Matching(..)"),
        }
    }
}

/// One fault with its trigger and an optional budget.
///
/// ```
/// use referrals_simulator::{Fault, FaultRule};
///
/// // The second page fails once with a 503; its retry succeeds.
/// let rule = FaultRule::list_page(1, Fault::status(503)).times(1);
/// # let _ = rule;
/// ```
#[derive(Debug, Clone)]
pub struct FaultRule {
    fault: Fault,
    trigger: Trigger,
    limit: Option<u64>,
}

impl FaultRule {
    /// `fault` whenever `trigger` fires, without limit.
    pub fn new(fault: Fault, trigger: Trigger) -> Self {
        Self {
            fault,
            trigger,
            limit: None,
        }
    }

    /// `fault` on every API request.
    pub fn always(fault: Fault) -> Self {
        Self::new(fault, Trigger::Always)
    }

    /// `fault` on the API request with this 1-based number.
    pub fn nth_request(number: u64, fault: Fault) -> Self {
        Self::new(fault, Trigger::NthRequest(number))
    }

    /// `fault` on list requests for this zero-based page.
    pub fn list_page(page: usize, fault: Fault) -> Self {
        Self::new(fault, Trigger::ListPage(page))
    }

    /// `fault` on each API request with this probability (0.0–1.0).
    pub fn with_probability(probability: f64, fault: Fault) -> Self {
        Self::new(fault, Trigger::Probability(probability))
    }

    /// `fault` on the requests `predicate` accepts.
    pub fn matching(
        predicate: impl Fn(&RequestInfo) -> bool + Send + Sync + 'static,
        fault: Fault,
    ) -> Self {
        Self::new(fault, Trigger::Matching(Arc::new(predicate)))
    }

    /// Fires at most `count` times.
    pub fn times(mut self, count: u64) -> Self {
        self.limit = Some(count);
        self
    }
}

/// The faults a simulator injects: rules tried in order, the first that fires wins (one fault
/// per request).
///
/// ```
/// use std::time::Duration;
/// use referrals_simulator::{Fault, FaultPlan, FaultRule};
///
/// let plan = FaultPlan::new()
///     .seed(7)
///     .rule(FaultRule::nth_request(1, Fault::too_many_requests(0)))
///     .rule(FaultRule::list_page(2, Fault::ResetBeforeHeaders).times(1))
///     .rule(FaultRule::with_probability(0.05, Fault::status(503)));
/// assert_eq!(plan.rules().len(), 3);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    rules: Vec<FaultRule>,
    seed: u64,
}

impl FaultPlan {
    /// A plan without faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Seeds the generator behind [`Trigger::Probability`] (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Adds a rule after the existing ones.
    pub fn rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }
}

/// The faults part of the simulator: the plan being applied.
#[derive(Debug)]
pub(crate) struct Faults(Mutex<FaultState>);

impl Faults {
    pub(crate) fn new(plan: FaultPlan) -> Self {
        Self(Mutex::new(FaultState::new(plan)))
    }

    /// Applies `plan` from now on, its use counts from zero.
    pub(crate) fn replace(&self, plan: FaultPlan) {
        *lock(&self.0) = FaultState::new(plan);
    }

    /// The fault for this request, if a rule fires; counts the use.
    pub(crate) fn pick(&self, info: &RequestInfo) -> Option<Fault> {
        lock(&self.0).pick(info)
    }
}

/// A plan being applied: rules with their use counts, and the generator.
#[derive(Debug)]
struct FaultState {
    rules: Vec<(FaultRule, u64)>,
    rng: SeededRng,
}

impl FaultState {
    fn new(plan: FaultPlan) -> Self {
        Self {
            rng: SeededRng::new(plan.seed),
            rules: plan.rules.into_iter().map(|rule| (rule, 0)).collect(),
        }
    }

    fn pick(&mut self, info: &RequestInfo) -> Option<Fault> {
        for (rule, used) in &mut self.rules {
            if rule.limit.is_some_and(|limit| *used >= limit) {
                continue;
            }
            if rule.fault.is_list_only() && info.operation != Operation::List {
                continue;
            }
            let fires = match &rule.trigger {
                Trigger::Always => true,
                Trigger::NthRequest(n) => info.number == *n,
                Trigger::ListPage(page) => info.list_page == Some(*page),
                Trigger::Probability(p) => self.rng.f64() < *p,
                Trigger::Matching(predicate) => predicate(info),
            };
            if fires {
                *used += 1;
                return Some(rule.fault.clone());
            }
        }
        None
    }
}

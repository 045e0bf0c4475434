//! The webhook registration API's requests. It lives on the Partner Center REST API host
//! ([`DEFAULT_BASE_URL`]), not the Referrals API host, and its tokens have their own audience
//! ([`scope::PARTNER_CENTER_API`](crate::scope::PARTNER_CENTER_API)).
//!
//! | request | |
//! |---|---|
//! | `GET …/webhooks/v1/registration/events` | [`WebhookEndpoint::events`] |
//! | `GET …/webhooks/v1/registration` | [`WebhookEndpoint::show`] |
//! | `POST …/webhooks/v1/registration` | [`WebhookEndpoint::register`] |
//! | `PUT …/webhooks/v1/registration` | [`WebhookEndpoint::replace`] |
//! | `POST …/webhooks/v1/registration/validationEvents` | [`WebhookEndpoint::send_validation_event`] |
//! | `GET …/webhooks/v1/registration/validationEvents/{id}` | [`WebhookEndpoint::validation_status`] |

use bytes::Bytes;
use http::{Method, Request};

use crate::base_url::BaseUrl;
use crate::encode;
use crate::request::{Endpoint, RequestError, RequestIds, check_id, json_body};

/// The Partner Center REST API host, where webhooks are registered.
pub const DEFAULT_BASE_URL: &str = "https://api.partnercenter.microsoft.com";
/// The host of [`DEFAULT_BASE_URL`].
const DEFAULT_HOST: &str = "api.partnercenter.microsoft.com";

/// The four referral events, what a registration asks for unless told otherwise.
pub const REFERRAL_EVENTS: [&str; 4] = [
    "referral-created",
    "referral-updated",
    "related-referral-created",
    "related-referral-updated",
];

/// The registration API's path under the base URL.
const REGISTRATION: &str = "/webhooks/v1/registration";

/// Builds the webhook registration API's requests against one base URL, with the headers every
/// endpoint sends (`Accept: application/json`, `User-Agent`, `MS-CorrelationId`,
/// `MS-RequestId`; `Content-Type: application/json` with a body). `Authorization` is left to
/// the caller.
///
/// ```
/// use referrals_query::webhook::WebhookEndpoint;
/// use referrals_query::RequestIds;
///
/// let endpoint = WebhookEndpoint::default();
/// let ids = RequestIds::new("corr-1", "req-1");
/// let request = endpoint.register("https://crm.example.com/hook", &["referral-created"], ids)?;
/// assert_eq!(request.method(), "POST");
/// assert_eq!(
///     request.uri(),
///     "https://api.partnercenter.microsoft.com/webhooks/v1/registration"
/// );
/// assert_eq!(
///     request.body().as_ref(),
///     br#"{"WebhookUrl":"https://crm.example.com/hook","WebhookEvents":["referral-created"]}"#
/// );
///
/// let status = endpoint.validation_status("a/b?c", ids)?;
/// assert_eq!(status.uri().path(), "/webhooks/v1/registration/validationEvents/a%2Fb%3Fc");
/// # Ok::<(), referrals_query::RequestError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// The base URL and the headers, as for the Referrals API's requests.
    requests: Endpoint,
}

impl Default for WebhookEndpoint {
    fn default() -> Self {
        WebhookEndpoint::new(BaseUrl::https(DEFAULT_HOST))
    }
}

/// The webhook requests on `endpoint`'s base URL, with its `User-Agent`.
impl From<Endpoint> for WebhookEndpoint {
    fn from(endpoint: Endpoint) -> Self {
        WebhookEndpoint { requests: endpoint }
    }
}

/// The body of `POST` and `PUT …/registration`.
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct Registration<'a> {
    webhook_url: &'a str,
    webhook_events: Vec<&'a str>,
}

impl WebhookEndpoint {
    /// Requests to `base`, with [`DEFAULT_USER_AGENT`](crate::DEFAULT_USER_AGENT).
    pub fn new(base: BaseUrl) -> WebhookEndpoint {
        WebhookEndpoint::from(Endpoint::new(base))
    }

    /// Replaces the `User-Agent`.
    pub fn with_user_agent(self, user_agent: &str) -> Result<WebhookEndpoint, RequestError> {
        Ok(WebhookEndpoint {
            requests: self.requests.with_user_agent(user_agent)?,
        })
    }

    /// The base URL.
    pub fn base(&self) -> &BaseUrl {
        self.requests.base()
    }

    /// `GET …/registration/events`: the event names that can be registered.
    pub fn events(&self, ids: RequestIds<'_>) -> Result<Request<Bytes>, RequestError> {
        self.requests
            .build(Method::GET, &self.url("/events"), ids, None)
    }

    /// `GET …/registration`: the registration (the API answers 404 when there is none).
    pub fn show(&self, ids: RequestIds<'_>) -> Result<Request<Bytes>, RequestError> {
        self.requests.build(Method::GET, &self.url(""), ids, None)
    }

    /// `POST …/registration`: registers `webhook_url` for `events` (the API answers 409 when a
    /// registration exists).
    pub fn register<S: AsRef<str>>(
        &self,
        webhook_url: &str,
        events: &[S],
        ids: RequestIds<'_>,
    ) -> Result<Request<Bytes>, RequestError> {
        let body = registration(webhook_url, events)?;
        self.requests
            .build(Method::POST, &self.url(""), ids, Some(body))
    }

    /// `PUT …/registration`: replaces the registration.
    pub fn replace<S: AsRef<str>>(
        &self,
        webhook_url: &str,
        events: &[S],
        ids: RequestIds<'_>,
    ) -> Result<Request<Bytes>, RequestError> {
        let body = registration(webhook_url, events)?;
        self.requests
            .build(Method::PUT, &self.url(""), ids, Some(body))
    }

    /// `POST …/registration/validationEvents`: asks for a `test-created` event (the answer
    /// carries its `correlationId`).
    pub fn send_validation_event(
        &self,
        ids: RequestIds<'_>,
    ) -> Result<Request<Bytes>, RequestError> {
        self.requests
            .build(Method::POST, &self.url("/validationEvents"), ids, None)
    }

    /// `GET …/registration/validationEvents/{id}`: the validation event's status, `id` encoded
    /// as one path segment.
    pub fn validation_status(
        &self,
        correlation_id: &str,
        ids: RequestIds<'_>,
    ) -> Result<Request<Bytes>, RequestError> {
        check_id(correlation_id)?;
        let url = format!(
            "{}/validationEvents/{}",
            self.url(""),
            encode::path_segment(correlation_id)
        );
        self.requests.build(Method::GET, &url, ids, None)
    }

    /// `{base}/webhooks/v1/registration{rest}`; `rest` is one of this module's constants.
    fn url(&self, rest: &str) -> String {
        format!("{}{REGISTRATION}{rest}", self.base().as_str())
    }
}

fn registration<S: AsRef<str>>(webhook_url: &str, events: &[S]) -> Result<Bytes, RequestError> {
    json_body(&Registration {
        webhook_url,
        webhook_events: events.iter().map(AsRef::as_ref).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: RequestIds<'static> = RequestIds {
        correlation_id: "corr-1",
        request_id: "req-1",
    };

    #[test]
    fn every_request_has_its_method_path_and_the_common_headers() {
        let base = BaseUrl::parse("http://127.0.0.1:9000/pc").unwrap();
        let endpoint = WebhookEndpoint::new(base)
            .with_user_agent("referrals-cli/1")
            .unwrap();
        let events = ["referral-created", "test-created"];
        let cases = [
            (
                endpoint.events(IDS),
                "GET",
                "/pc/webhooks/v1/registration/events",
            ),
            (endpoint.show(IDS), "GET", "/pc/webhooks/v1/registration"),
            (
                endpoint.register("https://x.example/h", &events, IDS),
                "POST",
                "/pc/webhooks/v1/registration",
            ),
            (
                endpoint.replace("https://x.example/h", &events, IDS),
                "PUT",
                "/pc/webhooks/v1/registration",
            ),
            (
                endpoint.send_validation_event(IDS),
                "POST",
                "/pc/webhooks/v1/registration/validationEvents",
            ),
            (
                endpoint.validation_status("c5fbb3b6-be74", IDS),
                "GET",
                "/pc/webhooks/v1/registration/validationEvents/c5fbb3b6-be74",
            ),
        ];
        for (request, method, path) in cases {
            let request = request.unwrap();
            assert_eq!(request.method(), method);
            assert_eq!(request.uri().host(), Some("127.0.0.1"));
            assert_eq!(request.uri().port_u16(), Some(9000));
            assert_eq!(request.uri().path(), path);
            assert_eq!(request.uri().query(), None);
            let headers = request.headers();
            assert_eq!(headers["accept"], "application/json");
            assert_eq!(headers["user-agent"], "referrals-cli/1");
            assert_eq!(headers["ms-correlationid"], "corr-1");
            assert_eq!(headers["ms-requestid"], "req-1");
            assert!(headers.get("authorization").is_none());
            assert_eq!(
                headers.get("content-type").is_some(),
                !request.body().is_empty(),
                "{method} {path}"
            );
        }
        let body: serde_json::Value = serde_json::from_slice(
            endpoint
                .replace("https://x.example/h", &events, IDS)
                .unwrap()
                .body(),
        )
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "WebhookUrl": "https://x.example/h",
                "WebhookEvents": ["referral-created", "test-created"]
            })
        );
    }

    #[test]
    fn a_validation_event_id_stays_in_its_segment() {
        let endpoint = WebhookEndpoint::default();
        let cases = [
            (
                "../registration",
                "/webhooks/v1/registration/validationEvents/..%2Fregistration",
            ),
            (
                "x?y#z",
                "/webhooks/v1/registration/validationEvents/x%3Fy%23z",
            ),
            (
                "a\r\nHost: evil",
                "/webhooks/v1/registration/validationEvents/a%0D%0AHost%3A%20evil",
            ),
        ];
        crate::request::assert_ids_stay_in_their_segment(
            "api.partnercenter.microsoft.com",
            &cases,
            |id| endpoint.validation_status(id, IDS),
        );
    }

    #[test]
    fn the_default_host_and_events() {
        let endpoint = WebhookEndpoint::default();
        assert_eq!(endpoint.base().as_str(), DEFAULT_BASE_URL);
        assert_eq!(endpoint.base(), &BaseUrl::parse(DEFAULT_BASE_URL).unwrap());
        assert_eq!(
            endpoint.show(IDS).unwrap().headers()["user-agent"],
            crate::DEFAULT_USER_AGENT
        );
        assert!(REFERRAL_EVENTS.iter().all(|e| e.contains("referral-")));
        assert!(
            endpoint
                .events(RequestIds::new("corr\r\nX: 1", "r"))
                .is_err()
        );
        assert!(WebhookEndpoint::default().with_user_agent("a\nb").is_err());
    }
}

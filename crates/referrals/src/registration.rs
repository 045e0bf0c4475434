//! The webhook registration API of the Partner Center REST API host (not the Referrals API
//! host): the events that can be registered, the registration (show, register, replace), and
//! validation events.
//!
//! Its requests are built by [`referrals_query::webhook::WebhookEndpoint`] and sent like every
//! other request of this crate: only to the configured origin, the token in a sensitive header,
//! with retries and one token refresh on 401. Its tokens have their own audience
//! ([`scope::PARTNER_CENTER_API`](referrals_query::scope::PARTNER_CENTER_API)): a Referrals API
//! token is refused there.
//!
//! ```no_run
//! # async fn run() -> Result<(), referrals::Error> {
//! use referrals::Client;
//! use referrals::registration::REFERRAL_EVENTS;
//!
//! let client = Client::builder().auth_from_env().build()?;
//! // Same sign-in, transport and retries; tokens asked for the registration host's audience.
//! let webhooks = client.webhook_registration().build()?;
//! let registered = webhooks.register("https://crm.example.com/hook", &REFERRAL_EVENTS).await?;
//! println!("replaced an earlier one: {}", registered.replaced);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use referrals_query::webhook::WebhookEndpoint;
use referrals_query::{BaseUrl, RequestError, RequestIds};
use serde_json::Value;

use crate::auth::{self, TokenProvider};
use crate::driver::Sender;
use crate::settings::Settings;
use crate::{Client, ClientBuilder, Error, ErrorKind};

pub use referrals_query::webhook::{DEFAULT_BASE_URL, REFERRAL_EVENTS};

/// A client of the webhook registration API. Cheap to clone.
#[derive(Clone)]
pub struct WebhookRegistration {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: WebhookEndpoint,
    sender: Sender,
}

impl fmt::Debug for WebhookRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookRegistration")
            .field("endpoint", &self.inner.endpoint)
            .field("sender", &self.inner.sender)
            .finish()
    }
}

/// What [`WebhookRegistration::register`] did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Registered {
    /// The registration as the API answered it.
    pub registration: Value,
    /// True when a registration existed (the `POST` was answered 409) and was replaced by a
    /// `PUT`.
    pub replaced: bool,
}

/// The answer to `POST …/validationEvents`.
#[derive(serde::Deserialize)]
struct ValidationEventSent {
    #[serde(rename = "correlationId")]
    correlation_id: String,
}

impl WebhookRegistration {
    /// Starts configuring a client of the registration API.
    pub fn builder() -> WebhookRegistrationBuilder {
        ClientBuilder::with_settings(Settings::default())
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &BaseUrl {
        self.inner.endpoint.base()
    }

    async fn call(
        &self,
        operation: &'static str,
        build: impl Fn(RequestIds<'_>) -> Result<Request<Bytes>, RequestError>,
    ) -> Result<Response<Bytes>, Error> {
        self.inner.sender.execute(operation, build).await
    }

    /// `GET …/registration/events`: the event names that can be registered.
    pub async fn events(&self) -> Result<Vec<String>, Error> {
        let endpoint = &self.inner.endpoint;
        let response = self
            .call("webhook events", |ids| endpoint.events(ids))
            .await?;
        decode(&response)
    }

    /// `GET …/registration`: the registration, `None` when there is none (404).
    pub async fn show(&self) -> Result<Option<Value>, Error> {
        let endpoint = &self.inner.endpoint;
        match self
            .call("show webhook registration", |ids| endpoint.show(ids))
            .await
        {
            Ok(response) => decode(&response).map(Some),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Registers `webhook_url` for `events`: `POST`, then `PUT` when a registration exists
    /// (409), replacing it.
    pub async fn register<S: AsRef<str>>(
        &self,
        webhook_url: &str,
        events: &[S],
    ) -> Result<Registered, Error> {
        let endpoint = &self.inner.endpoint;
        let created = self
            .call("register webhook", |ids| {
                endpoint.register(webhook_url, events, ids)
            })
            .await;
        let (response, replaced) = match created {
            Ok(response) => (response, false),
            Err(error) if error.status() == Some(StatusCode::CONFLICT) => {
                let response = self
                    .call("replace webhook registration", |ids| {
                        endpoint.replace(webhook_url, events, ids)
                    })
                    .await?;
                (response, true)
            }
            Err(error) => return Err(error),
        };
        Ok(Registered {
            registration: decode(&response)?,
            replaced,
        })
    }

    /// `POST …/registration/validationEvents`: asks for a `test-created` event; returns its
    /// correlation id.
    pub async fn send_validation_event(&self) -> Result<String, Error> {
        let endpoint = &self.inner.endpoint;
        let response = self
            .call("send validation event", |ids| {
                endpoint.send_validation_event(ids)
            })
            .await?;
        decode::<ValidationEventSent>(&response).map(|sent| sent.correlation_id)
    }

    /// `GET …/registration/validationEvents/{id}`: the validation event's status.
    pub async fn validation_status(&self, correlation_id: &str) -> Result<Value, Error> {
        let endpoint = &self.inner.endpoint;
        let response = self
            .call("validation event status", |ids| {
                endpoint.validation_status(correlation_id, ids)
            })
            .await?;
        decode(&response)
    }
}

fn decode<T: serde::de::DeserializeOwned>(response: &Response<Bytes>) -> Result<T, Error> {
    referrals_model::decode(response.body())
        .map_err(|error| Error::new(ErrorKind::Decode { error, page: None }))
}

/// Configures a [`WebhookRegistration`]: a [`ClientBuilder`] whose `build` makes one.
pub type WebhookRegistrationBuilder = ClientBuilder<WebhookRegistration>;

impl ClientBuilder<WebhookRegistration> {
    /// Validates the configuration and builds the client of the registration API. Errors name
    /// the bad setting.
    pub fn build(self) -> Result<WebhookRegistration, Error> {
        let default = WebhookEndpoint::default().base().clone();
        let (sender, endpoint) = self.sender(default)?;
        Ok(WebhookRegistration {
            inner: Arc::new(Inner {
                endpoint: WebhookEndpoint::from(endpoint),
                sender,
            }),
        })
    }
}

impl Client {
    /// A [`WebhookRegistrationBuilder`] that shares this client's transport, retry policy and
    /// `User-Agent`, with this client's token provider asked for tokens of the registration
    /// host's audience ([`auth::with_scope`]): the same sign-in serves both hosts.
    pub fn webhook_registration(&self) -> WebhookRegistrationBuilder {
        let sender = &self.inner.sender;
        let provider: Arc<dyn TokenProvider> = auth::with_scope(
            sender.auth.clone(),
            referrals_query::scope::PARTNER_CENTER_API,
        );
        let user_agent = self
            .inner
            .endpoint
            .user_agent()
            .to_str()
            .ok()
            .map(str::to_owned);
        ClientBuilder::with_settings(Settings {
            base_url: None,
            auth: Some(Ok(provider)),
            retry: sender.retry,
            transport: Some(sender.transport.clone()),
            user_agent,
        })
    }
}

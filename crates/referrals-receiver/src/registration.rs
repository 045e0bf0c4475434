//! The webhook registration API of the Partner Center host (not the Referrals API host): list
//! the events, show, register (POST, then PUT when one exists), send a validation event and
//! read its status. Its tokens have their own audience ([`REGISTRATION_SCOPE`]); the token
//! provider given must hand out tokens for it, and they are sent to the registration host only.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use referrals::BaseUrl;
use referrals::auth::TokenProvider;
use referrals::transport::{HyperTransport, Transport};
use serde_json::{Value, json};

/// The registration host.
pub const DEFAULT_REGISTRATION_URL: &str = "https://api.partnercenter.microsoft.com";
/// The OAuth2 scope of the registration host's tokens.
pub const REGISTRATION_SCOPE: &str = referrals_query::scope::PARTNER_CENTER_API;
/// The four referral events, registered by default.
pub const REFERRAL_EVENTS: [&str; 4] = [
    "referral-created",
    "referral-updated",
    "related-referral-created",
    "related-referral-updated",
];

/// A registration call that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The registration URL is not usable.
    #[error("--webhooks-url: {0}")]
    Config(String),
    /// No token could be had.
    #[error(transparent)]
    Auth(#[from] referrals::auth::AuthError),
    /// The request did not get an answer.
    #[error("{call}: {source}")]
    Transport {
        /// Which call.
        call: &'static str,
        /// Why.
        source: referrals::transport::TransportError,
    },
    /// The host answered with an error status.
    #[error("{call}: HTTP {status}: {body}")]
    Status {
        /// Which call.
        call: &'static str,
        /// The status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The answer is not the documented JSON.
    #[error("{call}: unexpected answer: {detail}")]
    Decode {
        /// Which call.
        call: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// A client of the registration API.
#[derive(Clone)]
pub struct RegistrationClient {
    base: BaseUrl,
    transport: Arc<dyn Transport>,
    auth: Arc<dyn TokenProvider>,
}

impl fmt::Debug for RegistrationClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationClient")
            .field("base", &self.base.as_str())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl RegistrationClient {
    /// A client of the host at `base_url` (https, or http on loopback) with the default
    /// transport.
    pub fn new(
        base_url: &str,
        auth: Arc<dyn TokenProvider>,
    ) -> Result<RegistrationClient, RegistrationError> {
        let transport = HyperTransport::builder()
            .build()
            .map_err(|e| RegistrationError::Config(e.to_string()))?;
        Self::with_transport(base_url, auth, Arc::new(transport))
    }

    /// With another transport.
    pub fn with_transport(
        base_url: &str,
        auth: Arc<dyn TokenProvider>,
        transport: Arc<dyn Transport>,
    ) -> Result<RegistrationClient, RegistrationError> {
        let base =
            BaseUrl::parse(base_url).map_err(|e| RegistrationError::Config(e.to_string()))?;
        Ok(RegistrationClient {
            base,
            transport,
            auth,
        })
    }

    async fn call(
        &self,
        call: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(StatusCode, Bytes), RegistrationError> {
        let token = self.auth.token(self.transport.as_ref()).await?;
        let url = format!("{}/webhooks/v1/registration{path}", self.base.as_str());
        let mut request = http::Request::builder()
            .method(method)
            .uri(url)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            );
        if body.is_some() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let request = request
            .body(body)
            .map_err(|e| RegistrationError::Config(e.to_string()))?;
        let response = self
            .transport
            .send(request)
            .await
            .map_err(|source| RegistrationError::Transport { call, source })?;
        if response.status() == StatusCode::UNAUTHORIZED {
            self.auth.invalidate(&token);
        }
        Ok((response.status(), response.into_body()))
    }

    fn json(
        call: &'static str,
        (status, body): (StatusCode, Bytes),
    ) -> Result<Value, RegistrationError> {
        if !status.is_success() {
            return Err(RegistrationError::Status {
                call,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        serde_json::from_slice(&body).map_err(|e| RegistrationError::Decode {
            call,
            detail: e.to_string(),
        })
    }

    /// `GET …/registration/events`: the event names that can be registered.
    pub async fn events(&self) -> Result<Vec<String>, RegistrationError> {
        const CALL: &str = "list the webhook events";
        let value = Self::json(CALL, self.call(CALL, Method::GET, "/events", None).await?)?;
        let names = value.as_array().ok_or_else(|| RegistrationError::Decode {
            call: CALL,
            detail: "not an array".into(),
        })?;
        Ok(names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect())
    }

    /// `GET …/registration`: the registration, `None` when there is none (404).
    pub async fn show(&self) -> Result<Option<Value>, RegistrationError> {
        const CALL: &str = "show the webhook registration";
        let answer = self.call(CALL, Method::GET, "", None).await?;
        if answer.0 == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Self::json(CALL, answer).map(Some)
    }

    /// Registers `url` for `events`: `POST`, and `PUT` when one exists (409). Returns the
    /// answer and whether it replaced an existing registration.
    pub async fn register(
        &self,
        url: &str,
        events: &[String],
    ) -> Result<(Value, bool), RegistrationError> {
        const CALL: &str = "register the webhook";
        let body = json!({"WebhookUrl": url, "WebhookEvents": events});
        let answer = self
            .call(CALL, Method::POST, "", Some(body.clone()))
            .await?;
        if answer.0 != StatusCode::CONFLICT {
            return Self::json(CALL, answer).map(|value| (value, false));
        }
        let answer = self.call(CALL, Method::PUT, "", Some(body)).await?;
        Self::json(CALL, answer).map(|value| (value, true))
    }

    /// `POST …/registration/validationEvents`: asks for a `test-created` event; its
    /// correlation id.
    pub async fn send_validation_event(&self) -> Result<String, RegistrationError> {
        const CALL: &str = "send a validation event";
        let value = Self::json(
            CALL,
            self.call(CALL, Method::POST, "/validationEvents", None)
                .await?,
        )?;
        value
            .get("correlationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| RegistrationError::Decode {
                call: CALL,
                detail: "no correlationId".into(),
            })
    }

    /// `GET …/registration/validationEvents/{id}`: the validation event's status.
    pub async fn validation_status(
        &self,
        correlation_id: &str,
    ) -> Result<Value, RegistrationError> {
        const CALL: &str = "read a validation event";
        const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        let id = percent_encoding::utf8_percent_encode(correlation_id, SEGMENT);
        let path = format!("/validationEvents/{id}");
        Self::json(CALL, self.call(CALL, Method::GET, &path, None).await?)
    }
}

//! What the builders of [`Client`](crate::Client) and
//! [`WebhookRegistration`](crate::registration::WebhookRegistration) take, checked once.

use std::sync::Arc;

use referrals_query::transport::Transport;
use referrals_query::{BaseUrl, Endpoint, RetryPolicy};

use crate::auth::{AuthError, TokenProvider};
use crate::driver::Sender;
use crate::{ConfigError, Error};

/// What [`ClientBuilder::token_provider`](crate::ClientBuilder::token_provider) takes: any
/// [`TokenProvider`], or one already shared in an `Arc` (e.g. the credential chain's, or
/// another client's [`Client::token_provider`](crate::Client::token_provider)).
pub trait IntoTokenProvider {
    /// The provider, shared.
    fn into_token_provider(self) -> Arc<dyn TokenProvider>;
}

impl<P: TokenProvider> IntoTokenProvider for P {
    fn into_token_provider(self) -> Arc<dyn TokenProvider> {
        Arc::new(self)
    }
}

impl IntoTokenProvider for Arc<dyn TokenProvider> {
    fn into_token_provider(self) -> Arc<dyn TokenProvider> {
        self
    }
}

impl<P: TokenProvider> IntoTokenProvider for Arc<P> {
    fn into_token_provider(self) -> Arc<dyn TokenProvider> {
        self
    }
}

/// The settings of a builder, validated by [`Settings::sender`]. `Debug` is derived: each
/// field's own keeps its secrets out.
#[derive(Default, Debug)]
pub(crate) struct Settings {
    pub(crate) base_url: Option<String>,
    pub(crate) auth: Option<Result<Arc<dyn TokenProvider>, AuthError>>,
    pub(crate) retry: RetryPolicy,
    pub(crate) transport: Option<Arc<dyn Transport>>,
    pub(crate) user_agent: Option<String>,
}

impl Settings {
    /// Checks the settings: the base URL (`default_base` when none was given), the credentials,
    /// the transport (the default hyper one when none was given), the user agent. Returns the
    /// sender and the endpoint to build requests with (on the sender's base URL).
    pub(crate) fn sender(self, default_base: BaseUrl) -> Result<(Sender, Endpoint), Error> {
        let base = match &self.base_url {
            Some(url) => BaseUrl::parse(url).map_err(|e| Error::config(ConfigError::BaseUrl(e)))?,
            None => default_base,
        };
        let auth = match self.auth {
            Some(Ok(provider)) => provider,
            Some(Err(error)) => return Err(error.into()),
            None => return Err(Error::config(ConfigError::NoCredentials)),
        };
        let transport = match self.transport {
            Some(transport) => transport,
            None => default_transport()?,
        };
        let mut endpoint = Endpoint::new(base.clone());
        if let Some(user_agent) = &self.user_agent {
            endpoint = endpoint
                .with_user_agent(user_agent)
                .map_err(|e| Error::config(ConfigError::UserAgent(e)))?;
        }
        let sender = Sender {
            base,
            transport,
            auth,
            retry: self.retry,
        };
        Ok((sender, endpoint))
    }
}

#[cfg(feature = "hyper")]
fn default_transport() -> Result<Arc<dyn Transport>, Error> {
    let transport = referrals_hyper::HyperTransport::builder()
        .build()
        .map_err(|e| Error::config(ConfigError::Transport(e)))?;
    Ok(Arc::new(transport))
}

#[cfg(not(feature = "hyper"))]
fn default_transport() -> Result<Arc<dyn Transport>, Error> {
    Err(Error::config(ConfigError::NoTransport))
}

//! The client of the Referrals API: configuration, and its calls (each a logical request that
//! the driver sends under the exchange rule).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use referrals_model::{Referral, decode};
use referrals_query::transport::Transport;
use referrals_query::{
    BaseUrl, Checkpoint, Endpoint, ListQuery, PatchOp, PatchOptions, RequestError, RequestIds,
    RetryPolicy,
};

use crate::auth::{self, TokenProvider};
use crate::driver::Sender;
use crate::listing::Listing;
use crate::settings::{IntoTokenProvider, Settings};
use crate::{Error, ErrorKind, InvalidRequest, Secret};

/// A Partner Center Referrals client: cheap to clone (one `Arc`), shareable across tasks.
///
/// ```no_run
/// # async fn run() -> Result<(), referrals::Error> {
/// use futures::TryStreamExt;
/// use referrals::{Client, ListQuery};
///
/// let client = Client::builder().bearer_token("eyJ0eXAi...").build()?;
/// let mut items = client.list(ListQuery::new().page_size(100)?);
/// while let Some(referral) = items.try_next().await? {
///     println!("{:?} {:?}", referral.id, referral.status);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<ClientInner>,
}

pub(crate) struct ClientInner {
    pub(crate) endpoint: Endpoint,
    pub(crate) sender: Sender,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sender = &self.inner.sender;
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("transport", &sender.transport)
            .field("auth", &sender.auth)
            .field("retry", &sender.retry)
            .finish()
    }
}

/// Configures a [`Client`] (or, as `ClientBuilder<WebhookRegistration>`, a
/// [`WebhookRegistration`](crate::registration::WebhookRegistration): the same settings, another
/// host).
///
/// Defaults: base `https://api.partner.microsoft.com` (for a `WebhookRegistration`,
/// [`DEFAULT_BASE_URL`](crate::registration::DEFAULT_BASE_URL)), [`RetryPolicy::default`],
/// the `User-Agent` [`DEFAULT_USER_AGENT`](referrals_query::DEFAULT_USER_AGENT)
/// (`referrals-rs/{version}`), and the hyper transport (feature `hyper`) with its default
/// timeouts, pool and 32 MiB body cap. Authentication is required:
/// [`bearer_token`](Self::bearer_token), [`token_provider`](Self::token_provider) or, for a
/// `Client`, [`auth_from_env`](ClientBuilder::auth_from_env).
///
/// The transport's own settings (timeouts, body cap, pool, proxy, trust roots) belong to the
/// transport: build one and pass it with [`transport`](Self::transport).
///
/// ```no_run
/// # #[cfg(feature = "hyper")]
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use referrals::Client;
/// use referrals::transport::HyperTransport;
///
/// let transport = HyperTransport::builder()
///     .attempt_timeout(Duration::from_secs(20))
///     .max_body_bytes(8 << 20)
///     .build()?;
/// let client = Client::builder().auth_from_env().transport(transport).build()?;
/// # Ok(()) }
/// ```
#[must_use]
pub struct ClientBuilder<T = Client> {
    settings: Settings,
    /// What [`build`](ClientBuilder::build) makes.
    target: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ClientBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::with_settings(Settings::default())
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &BaseUrl {
        self.inner.endpoint.base()
    }

    /// The client's credential, e.g. to get a token for another Partner Center audience with
    /// [`TokenProvider::token_for`] (same sign-in, same refresh token), or to hand to
    /// [`auth::with_scope`] for a [`WebhookRegistration`](crate::registration::WebhookRegistration).
    pub fn token_provider(&self) -> &Arc<dyn TokenProvider> {
        &self.inner.sender.auth
    }

    /// The client's transport, to pass to [`TokenProvider::token_for`] or to share with a
    /// [`WebhookRegistration`](crate::registration::WebhookRegistration).
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.inner.sender.transport
    }

    /// Lists referrals matching `query`: a stream of items, following every page (see
    /// [`Listing`] for limits and for a stream of pages).
    pub fn list(&self, query: ListQuery) -> Listing {
        Listing::new(self.clone(), Ok(query))
    }

    /// Continues a listing from a checkpoint (taken from a [`Page`](crate::Page) or an
    /// [`Error`]), possibly in another process: yields exactly the items not yielded before.
    pub fn resume(&self, checkpoint: Checkpoint) -> Listing {
        Listing::new(self.clone(), Err(checkpoint))
    }

    /// `GET …/referrals/{id}`.
    pub async fn get(&self, id: &str) -> Result<Referral, Error> {
        self.get_with_etag(id).await.map(|(referral, _)| referral)
    }

    /// The referral and its `ETag` response header (which the body may lack).
    pub(crate) async fn get_with_etag(
        &self,
        id: &str,
    ) -> Result<(Referral, Option<String>), Error> {
        let endpoint = &self.inner.endpoint;
        let response = self.execute("get", |ids| endpoint.get(id, ids)).await?;
        let etag = response
            .headers()
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((decode_body(&response)?, etag))
    }

    /// `POST …/referrals`: creates a referral (required: type, customerProfile, consent,
    /// details) and returns it as created. Never sent twice unless the first attempt provably
    /// never reached the server.
    pub async fn create(&self, referral: &Referral) -> Result<Referral, Error> {
        let endpoint = &self.inner.endpoint;
        let response = self
            .execute("create", |ids| endpoint.create(referral, ids))
            .await?;
        decode_body(&response)
    }

    /// `PATCH …/referrals/{id}` with JSON Patch `operations`. Returns the updated referral when
    /// `options` asks for `return=representation` (and the server sends it), else `None`.
    /// With [`PatchOptions::if_match`], a stale eTag fails with HTTP 412 and is not retried.
    pub async fn patch(
        &self,
        id: &str,
        operations: &[PatchOp],
        options: PatchOptions,
    ) -> Result<Option<Referral>, Error> {
        let endpoint = &self.inner.endpoint;
        let response = self
            .execute("patch", |ids| endpoint.patch(id, operations, &options, ids))
            .await?;
        if response.status() == StatusCode::NO_CONTENT || response.body().is_empty() {
            return Ok(None);
        }
        decode_body(&response).map(Some)
    }

    /// `PUT …/referrals/{id}`: replaces the whole referral. Its `id` and `eTag` (sent as
    /// `If-Match`) are required.
    pub async fn replace(&self, referral: &Referral) -> Result<Referral, Error> {
        let id = referral.id.as_deref().ok_or_else(|| missing("id"))?;
        // Sent as If-Match.
        let etag = referral.e_tag.as_deref().ok_or_else(|| missing("eTag"))?;
        let endpoint = &self.inner.endpoint;
        let response = self
            .execute("replace", |ids| endpoint.put(id, referral, etag, ids))
            .await?;
        decode_body(&response)
    }

    /// Sends one logical request under the exchange rule (retries per the retry policy,
    /// honouring `Retry-After`; one token refresh on 401). Returns the `2xx` response or the
    /// error.
    async fn execute(
        &self,
        operation: &'static str,
        build: impl Fn(RequestIds<'_>) -> Result<Request<Bytes>, RequestError>,
    ) -> Result<Response<Bytes>, Error> {
        let sender = &self.inner.sender;
        sender
            .execute(operation, build)
            .await
            .map_err(|e| e.explain_app_only(sender.auth.is_app_only()))
    }
}

fn missing(field: &'static str) -> Error {
    Error::invalid(InvalidRequest::MissingField {
        operation: "replace",
        field,
    })
}

fn decode_body(response: &Response<Bytes>) -> Result<Referral, Error> {
    decode(response.body()).map_err(|error| Error::new(ErrorKind::Decode { error, page: None }))
}

impl<T> ClientBuilder<T> {
    pub(crate) fn with_settings(settings: Settings) -> ClientBuilder<T> {
        ClientBuilder {
            settings,
            target: PhantomData,
        }
    }

    /// The base URL (default: see [`ClientBuilder`]). `http://` is accepted only for loopback
    /// hosts; a path prefix is kept.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.settings.base_url = Some(url.into());
        self
    }

    /// A fixed bearer token.
    pub fn bearer_token(mut self, token: impl Into<Secret>) -> Self {
        self.settings.auth = Some(Ok(Arc::new(auth::StaticToken::new(token))));
        self
    }

    /// The token provider: any [`TokenProvider`] (e.g.
    /// [`ClientCredentials`](crate::auth::ClientCredentials)), or an `Arc<dyn TokenProvider>`
    /// shared with others. Its tokens must be for the host's audience (for a
    /// `WebhookRegistration`, [`auth::with_scope`] gives that from a Referrals API provider).
    pub fn token_provider(mut self, provider: impl IntoTokenProvider) -> Self {
        self.settings.auth = Some(Ok(provider.into_token_provider()));
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]; [`RetryPolicy::none`] disables retries).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// The `User-Agent` sent (default
    /// [`DEFAULT_USER_AGENT`](referrals_query::DEFAULT_USER_AGENT), `referrals-rs/{version}`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.settings.user_agent = Some(user_agent.into());
        self
    }

    /// The transport requests are sent through, with its own timeouts, body cap and pool: a
    /// [`HyperTransport`](crate::transport::HyperTransport) built with the settings you need, a
    /// test double, anything that implements [`Transport`]. Default: the hyper transport with
    /// its default settings (feature `hyper`).
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.settings.transport = Some(Arc::new(transport));
        self
    }

    /// Checks the settings: the base URL (`default_base` when none was given), the
    /// credentials, the user agent, the transport.
    pub(crate) fn sender(self, default_base: BaseUrl) -> Result<(Sender, Endpoint), Error> {
        self.settings.sender(default_base)
    }
}

impl ClientBuilder<Client> {
    /// Authentication from the environment ([`auth::from_env`]): the first of
    /// `PARTNER_CENTER_TOKEN`, `PARTNER_CENTER_REFRESH_TOKEN`, the token cache of `referrals
    /// login`, client credentials (`AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`
    /// or `AZURE_CLIENT_CERTIFICATE_PATH`) and the Azure CLI; `REFERRALS_AUTH` forces one. When
    /// none is configured, [`build`](Self::build) reports each source and why.
    pub fn auth_from_env(mut self) -> Self {
        self.settings.auth = Some(auth::from_env());
        self
    }

    /// Validates the configuration and builds the client. Errors name the bad setting.
    pub fn build(self) -> Result<Client, Error> {
        let (sender, endpoint) = self.sender(BaseUrl::default())?;
        Ok(Client {
            inner: Arc::new(ClientInner { endpoint, sender }),
        })
    }
}

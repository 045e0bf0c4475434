//! The client: configuration, authentication and the retry loop of single requests.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{AUTHORIZATION, HeaderValue};
use http::{Request, Response, StatusCode};
use referrals_model::{Referral, decode};
use referrals_query::transport::{Transport, TransportError};
use referrals_query::{
    ApiError, BaseUrl, Checkpoint, Endpoint, ListQuery, PatchOp, PatchOptions, RequestError,
    RequestIds, RetryDecision, RetryPolicy, RetryState,
};
use tracing::Instrument;

use crate::auth::{self, AuthError, TokenProvider};
use crate::listing::Listing;
use crate::{Error, ErrorKind, Secret};

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
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) auth: Arc<dyn TokenProvider>,
    pub(crate) retry: RetryPolicy,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("transport", &self.inner.transport)
            .field("auth", &self.inner.auth)
            .field("retry", &self.inner.retry)
            .finish()
    }
}

/// Configures a [`Client`].
///
/// Defaults: base `https://api.partner.microsoft.com`, [`RetryPolicy::default`], the hyper
/// transport (feature `hyper`) with its default timeouts and 32 MiB body cap. Authentication is
/// required: [`bearer_token`](Self::bearer_token), [`token_provider`](Self::token_provider) or
/// [`auth_from_env`](Self::auth_from_env).
#[must_use]
pub struct ClientBuilder {
    base_url: Option<String>,
    auth: Option<Result<Arc<dyn TokenProvider>, AuthError>>,
    retry: RetryPolicy,
    transport: Option<Arc<dyn Transport>>,
    user_agent: Option<String>,
    connect_timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
    idle_read_timeout: Option<Duration>,
    max_body_bytes: Option<usize>,
    pool_max_idle_per_host: Option<usize>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("auth", &self.auth)
            .field("retry", &self.retry)
            .field("transport", &self.transport)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            base_url: None,
            auth: None,
            retry: RetryPolicy::default(),
            transport: None,
            user_agent: None,
            connect_timeout: None,
            attempt_timeout: None,
            idle_read_timeout: None,
            max_body_bytes: None,
            pool_max_idle_per_host: None,
        }
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &BaseUrl {
        self.inner.endpoint.base()
    }

    /// The client's credential, e.g. to get a token for another Partner Center audience with
    /// [`TokenProvider::token_for`] (same sign-in, same refresh token).
    pub fn token_provider(&self) -> &Arc<dyn TokenProvider> {
        &self.inner.auth
    }

    /// The client's transport, to pass to [`TokenProvider::token_for`].
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.inner.transport
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
        let id = referral
            .id
            .as_deref()
            .ok_or_else(|| Error::invalid("replace needs the referral's `id`"))?;
        let etag = referral.e_tag.as_deref().ok_or_else(|| {
            Error::invalid("replace needs the referral's `eTag` (sent as If-Match)")
        })?;
        let endpoint = &self.inner.endpoint;
        let response = self
            .execute("replace", |ids| endpoint.put(id, referral, etag, ids))
            .await?;
        decode_body(&response)
    }

    /// Sends one logical request with retries (per the retry policy, honouring `Retry-After`)
    /// and one token refresh on 401. Returns a successful response or the error.
    async fn execute(
        &self,
        operation: &'static str,
        build: impl Fn(RequestIds<'_>) -> Result<Request<Bytes>, RequestError>,
    ) -> Result<Response<Bytes>, Error> {
        let correlation_id = new_id();
        let span = tracing::info_span!("referrals", operation, correlation_id = %correlation_id);
        async {
            let mut retry: Option<RetryState> = None;
            let mut refreshed = false;
            loop {
                let request_id = new_id();
                let request =
                    build(RequestIds::new(&correlation_id, &request_id)).map_err(Error::invalid)?;
                let state =
                    retry.get_or_insert_with(|| RetryState::for_request(self.inner.retry, &request));
                let attempt = state.attempts() + 1;
                let outcome = self.send_authorized(request, attempt, &request_id).await?;
                let (response, token) = match outcome {
                    Attempt::Response(response, token) => (response, token),
                    Attempt::Failed(error) => {
                        match state.on_transport_error(error.kind(), SystemTime::now(), fastrand::f64())
                        {
                            RetryDecision::Retry(delay) => {
                                tracing::debug!(?delay, error = %error, "retrying after a transport error");
                                tokio::time::sleep(delay).await;
                                continue;
                            }
                            RetryDecision::GiveUp(why) => {
                                return Err(Error::transport(error, state.attempts(), Some(why)));
                            }
                            RetryDecision::Accept => {
                                return Err(Error::transport(error, state.attempts(), None));
                            }
                        }
                    }
                };
                if response.status() == StatusCode::UNAUTHORIZED {
                    self.inner.auth.invalidate(&token);
                    if !refreshed {
                        refreshed = true;
                        tracing::debug!("401: refreshing the token and retrying once");
                        continue;
                    }
                    let error = ApiError::from_response(response.status(), response.headers(), response.body());
                    return Err(Error::new(ErrorKind::Unauthorized { error: Box::new(error) }));
                }
                let decision =
                    state.on_response(response.status(), response.headers(), SystemTime::now(), fastrand::f64());
                match decision {
                    RetryDecision::Retry(delay) => {
                        tracing::debug!(?delay, status = response.status().as_u16(), "retrying");
                        tokio::time::sleep(delay).await;
                    }
                    RetryDecision::Accept if response.status().is_success() => return Ok(response),
                    RetryDecision::Accept | RetryDecision::GiveUp(_) => {
                        let error = ApiError::from_response(
                            response.status(),
                            response.headers(),
                            response.body(),
                        );
                        let gave_up = match decision {
                            RetryDecision::GiveUp(why) => Some(why),
                            _ => None,
                        };
                        return Err(Error::new(ErrorKind::Api {
                            error: Box::new(error),
                            attempts: state.attempts(),
                            gave_up,
                        }));
                    }
                }
            }
        }
        .instrument(span)
        .await
        .map_err(|e: Error| e.explain_app_only(self.inner.auth.is_app_only()))
    }

    /// One attempt: adds the bearer token (only ever for the configured origin) and sends.
    pub(crate) async fn send_authorized(
        &self,
        mut request: Request<Bytes>,
        attempt: u32,
        request_id: &str,
    ) -> Result<Attempt, Error> {
        if !self.base_url().is_same_origin_uri(request.uri()) {
            // The request builders never produce this; refusing here keeps the token on the
            // configured host even if one ever did.
            return Err(Error::invalid(format!(
                "refusing to send credentials to {}: not the configured API origin {}",
                request
                    .uri()
                    .authority()
                    .map(|a| a.as_str())
                    .unwrap_or("(no host)"),
                self.base_url().origin()
            )));
        }
        let token = self.inner.auth.token(&*self.inner.transport).await?;
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                Error::from(AuthError::NotConfigured(
                    auth::ConfigProblem::UnsendableToken,
                ))
            })?;
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
        let span = tracing::debug_span!(
            "attempt",
            method = %request.method(),
            path = request.uri().path(),
            attempt,
            request_id,
            status = tracing::field::Empty,
        );
        let result = self
            .inner
            .transport
            .send(request)
            .instrument(span.clone())
            .await;
        match result {
            Ok(response) => {
                span.record("status", response.status().as_u16());
                Ok(Attempt::Response(response, token))
            }
            Err(error) => {
                tracing::debug!(parent: &span, error = %error, kind = ?error.kind(), "no response");
                Ok(Attempt::Failed(error))
            }
        }
    }
}

pub(crate) enum Attempt {
    Response(Response<Bytes>, Secret),
    Failed(TransportError),
}

fn decode_body(response: &Response<Bytes>) -> Result<Referral, Error> {
    decode(response.body()).map_err(|error| Error::new(ErrorKind::Decode { error, page: None }))
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl ClientBuilder {
    /// The API base URL (default `https://api.partner.microsoft.com`). `http://` is accepted
    /// only for loopback hosts; a path prefix is kept.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// A fixed bearer token.
    pub fn bearer_token(mut self, token: impl Into<Secret>) -> Self {
        self.auth = Some(Ok(Arc::new(auth::StaticToken::new(token))));
        self
    }

    /// Any token provider, e.g. [`ClientCredentials`](crate::auth::ClientCredentials).
    pub fn token_provider(mut self, provider: impl TokenProvider) -> Self {
        self.auth = Some(Ok(Arc::new(provider)));
        self
    }

    /// A shared token provider.
    pub fn token_provider_arc(mut self, provider: Arc<dyn TokenProvider>) -> Self {
        self.auth = Some(Ok(provider));
        self
    }

    /// Authentication from the environment ([`auth::from_env`]): the first of
    /// `PARTNER_CENTER_TOKEN`, `PARTNER_CENTER_REFRESH_TOKEN`, the token cache of `referrals
    /// login`, client credentials (`AZURE_TENANT_ID` + `AZURE_CLIENT_ID` + `AZURE_CLIENT_SECRET`
    /// or `AZURE_CLIENT_CERTIFICATE_PATH`) and the Azure CLI; `REFERRALS_AUTH` forces one. When
    /// none is configured, [`build`](Self::build) reports each source and why.
    pub fn auth_from_env(mut self) -> Self {
        self.auth = Some(auth::from_env());
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]; [`RetryPolicy::none`] disables retries).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The `User-Agent` sent (default `referrals/{version}`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// A transport of your own (a test double, a transport with your own TLS settings). The
    /// timeout and body-cap settings below then do not apply: the transport owns them.
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The connect timeout of the default transport.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The per-attempt timeout (headers and whole body) of the default transport.
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The longest gap between two chunks of a body, for the default transport.
    pub fn idle_read_timeout(mut self, timeout: Duration) -> Self {
        self.idle_read_timeout = Some(timeout);
        self
    }

    /// The response body cap of the default transport (default 32 MiB).
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = Some(bytes);
        self
    }

    /// How many idle connections the default transport keeps per host (default 64). Raise it to
    /// the number of concurrent listings when running many at once, so connections are reused
    /// instead of reopened.
    pub fn pool_max_idle_per_host(mut self, connections: usize) -> Self {
        self.pool_max_idle_per_host = Some(connections);
        self
    }

    /// Validates the configuration and builds the client. Errors name the bad setting.
    pub fn build(self) -> Result<Client, Error> {
        let base = match &self.base_url {
            Some(url) => {
                BaseUrl::parse(url).map_err(|e| Error::config(format!("base URL: {e}")))?
            }
            None => BaseUrl::default(),
        };
        let mut endpoint = Endpoint::new(base);
        if let Some(user_agent) = &self.user_agent {
            endpoint = endpoint
                .with_user_agent(user_agent)
                .map_err(|e| Error::config(format!("user agent: {e}")))?;
        }
        let auth = match self.auth {
            Some(Ok(provider)) => provider,
            Some(Err(error)) => return Err(error.into()),
            None => {
                return Err(Error::config(
                    "no credentials: use bearer_token, token_provider or auth_from_env",
                ));
            }
        };
        let transport = match self.transport {
            Some(transport) => transport,
            None => default_transport(TransportSettings {
                connect: self.connect_timeout,
                attempt: self.attempt_timeout,
                idle: self.idle_read_timeout,
                max_body: self.max_body_bytes,
                pool_idle: self.pool_max_idle_per_host,
            })?,
        };
        Ok(Client {
            inner: Arc::new(ClientInner {
                endpoint,
                transport,
                auth,
                retry: self.retry,
            }),
        })
    }
}

/// The settings that apply to the default transport only.
#[cfg_attr(not(feature = "hyper"), allow(dead_code))]
struct TransportSettings {
    connect: Option<Duration>,
    attempt: Option<Duration>,
    idle: Option<Duration>,
    max_body: Option<usize>,
    pool_idle: Option<usize>,
}

#[cfg(feature = "hyper")]
fn default_transport(settings: TransportSettings) -> Result<Arc<dyn Transport>, Error> {
    let mut builder = referrals_hyper::HyperTransport::builder();
    if let Some(timeout) = settings.connect {
        builder = builder.connect_timeout(timeout);
    }
    if let Some(timeout) = settings.attempt {
        builder = builder.attempt_timeout(timeout);
    }
    if let Some(timeout) = settings.idle {
        builder = builder.idle_read_timeout(timeout);
    }
    if let Some(bytes) = settings.max_body {
        builder = builder.max_body_bytes(bytes);
    }
    if let Some(connections) = settings.pool_idle {
        builder = builder.pool_max_idle_per_host(connections);
    }
    let transport = builder
        .build()
        .map_err(|e| Error::config(format!("transport: {e}")))?;
    Ok(Arc::new(transport))
}

#[cfg(not(feature = "hyper"))]
fn default_transport(_: TransportSettings) -> Result<Arc<dyn Transport>, Error> {
    Err(Error::config(
        "no transport: enable the `hyper` feature or call ClientBuilder::transport",
    ))
}

//! Configuring and starting a simulator.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use referrals_fixtures::rng::SeededRng;
use referrals_fixtures::synthetic::Synthetic;
use serde_json::Value;
use tokio::net::TcpListener;

use super::assertion::RegisteredCertificate;
use super::continuation::TokenKey;
use super::contract;
use super::device::DeviceStep;
use super::fault::{FaultPlan, Faults};
use super::handle::SimulatorHandle;
use super::ids::Ids;
use super::log::RequestLog;
use super::pacing::Pacing;
use super::server;
use super::state::{self, State};
use super::store::{Listing, Records, Store};
use super::tokens::{TokenSettings, Tokens};
use super::webhooks::Webhooks;

/// The bearer token a simulator accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "demo-token";
/// The tenant of the simulator's token endpoint unless told otherwise.
pub const DEFAULT_TENANT: &str = "simulator-tenant";
/// The client id the simulator's token endpoint accepts unless told otherwise.
pub const DEFAULT_CLIENT_ID: &str = "simulator-client";
/// The client secret the simulator's token endpoint accepts unless told otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "simulator-secret";
/// The `preferred_username` of the simulated user who signs in.
pub const DEFAULT_USERNAME: &str = "admin@simulator.example";
/// The certificate (and its PKCS#8 private key) the simulator registers for its client unless
/// told otherwise: a self-signed test certificate that protects nothing.
pub const TEST_CLIENT_CERTIFICATE_PEM: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/keys/test-client.pem"));
/// A certificate and key the simulator does not know, for refusal tests.
pub const UNREGISTERED_CLIENT_CERTIFICATE_PEM: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/keys/unregistered-client.pem"
));
/// The page size of a list request that names none.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// Where the referrals come from.
#[derive(Clone)]
enum Source {
    Synthetic(usize),
    Values(Vec<Value>),
}

/// Configures a simulator; obtained from [`Simulator::builder`](super::Simulator::builder).
#[derive(Clone)]
pub struct SimulatorBuilder {
    source: Source,
    seed: u64,
    token: String,
    tenant: String,
    client_id: String,
    client_secret: String,
    expires_in: Duration,
    default_page_size: usize,
    faults: FaultPlan,
    port: u16,
    organization_id: Option<String>,
    allow_app_only: bool,
    username: String,
    device_script: Vec<DeviceStep>,
    device_interval: Duration,
    device_expires_in: Duration,
    certificate_pem: Option<String>,
    webhook_retry_delay: Duration,
    latency: Duration,
    max_in_flight: Option<usize>,
}

impl fmt::Debug for SimulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let referrals = match &self.source {
            Source::Synthetic(n) => format!("{n} synthetic"),
            Source::Values(values) => format!("{} given", values.len()),
        };
        // The token and the client secret are credentials: never shown.
        f.debug_struct("SimulatorBuilder")
            .field("referrals", &referrals)
            .field("seed", &self.seed)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("expires_in", &self.expires_in)
            .field("default_page_size", &self.default_page_size)
            .field("faults", &self.faults)
            .field("port", &self.port)
            .field("organization_id", &self.organization_id)
            .field("allow_app_only", &self.allow_app_only)
            .field("device_script", &self.device_script)
            .field("latency", &self.latency)
            .field("max_in_flight", &self.max_in_flight)
            .finish_non_exhaustive()
    }
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        Self {
            source: Source::Synthetic(0),
            seed: 0,
            token: DEFAULT_TOKEN.into(),
            tenant: DEFAULT_TENANT.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            expires_in: Duration::from_secs(3600),
            default_page_size: DEFAULT_PAGE_SIZE,
            faults: FaultPlan::new(),
            port: 0,
            organization_id: None,
            allow_app_only: false,
            username: DEFAULT_USERNAME.into(),
            device_script: vec![DeviceStep::Pending, DeviceStep::Approve],
            device_interval: Duration::from_secs(1),
            device_expires_in: Duration::from_secs(900),
            certificate_pem: Some(TEST_CLIENT_CERTIFICATE_PEM.into()),
            webhook_retry_delay: super::webhooks::RETRY_DELAY,
            latency: Duration::ZERO,
            max_in_flight: None,
        }
    }
}

impl SimulatorBuilder {
    /// Serves `n` synthetic referrals ([`Synthetic`] with the builder's [`seed`](Self::seed)),
    /// indices `0..n` in list order, in the connector contract's types: a `customerProfile.ids`
    /// object becomes an array (`{}` → `[]`, `{"Duns": "…"}` → `[{"type": "Duns", "id": "…"}]`)
    /// and a `details.dealValue` string the number it holds (see the crate's documentation).
    pub fn referrals(mut self, n: usize) -> Self {
        self.source = Source::Synthetic(n);
        self
    }

    /// Seed of the synthetic referrals, and of the ids, eTags and tokens the simulator makes
    /// (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Serves these referrals (e.g. loaded from fixtures), in this order, byte-for-byte as
    /// `serde_json` writes them, even where they break the connector contract (to test a client
    /// against the forms the spec has seen on the wire). Referrals without an `eTag` get one in
    /// the `ETag` header only.
    pub fn with_referrals(mut self, referrals: Vec<Value>) -> Self {
        self.source = Source::Values(referrals);
        self
    }

    /// The static bearer token the API accepts (default [`DEFAULT_TOKEN`]).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The credentials the token endpoint accepts (defaults [`DEFAULT_TENANT`],
    /// [`DEFAULT_CLIENT_ID`], [`DEFAULT_CLIENT_SECRET`]).
    pub fn client_credentials(
        mut self,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.tenant = tenant.into();
        self.client_id = client_id.into();
        self.client_secret = client_secret.into();
        self
    }

    /// Lifetime of issued tokens, reported as `expires_in` (whole seconds) and enforced: an
    /// expired token gets a 401 (default one hour). A zero lifetime issues unusable tokens.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = lifetime;
        self
    }

    /// Page size of list requests that ask for none (no `pageSize` in the 2018 form, no
    /// `Prefer: odata.maxpagesize` in the OData form; 1–100, default
    /// [`DEFAULT_PAGE_SIZE`]).
    pub fn default_page_size(mut self, size: usize) -> Self {
        self.default_page_size = size;
        self
    }

    /// The faults to inject (default none); can be changed later with
    /// [`SimulatorHandle::set_faults`].
    pub fn faults(mut self, plan: FaultPlan) -> Self {
        self.faults = plan;
        self
    }

    /// The port to listen on, on 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The pause before a webhook delivery's second attempt (default 200 ms); it doubles at
    /// each attempt, up to 16 times as long.
    pub fn webhook_retry_delay(mut self, delay: Duration) -> Self {
        self.webhook_retry_delay = delay;
        self
    }

    /// A delay before every API answer (default none): the round trip of a client far from the
    /// service, which a sequential listing pays once per page. Token requests are not delayed.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// At most this many API requests in flight at once (default no cap): a request above it
    /// is answered, after the latency, `429` `tooManyRequests` with `Retry-After: 1`, and does
    /// not count as in flight. [`SimulatorHandle::throttled`] counts them.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = Some(max);
        self
    }

    /// The caller's organisation, which `self=true` selects (default: the most frequent
    /// `organizationId` among the referrals).
    pub fn organization_id(mut self, organization_id: impl Into<String>) -> Self {
        self.organization_id = Some(organization_id.into());
        self
    }

    /// Lets the referral endpoints accept app-only tokens from the client-credentials grant
    /// (default `false`: like the real API, they answer 403 and say App+User is required).
    pub fn allow_app_only_tokens(mut self, allow: bool) -> Self {
        self.allow_app_only = allow;
        self
    }

    /// The `preferred_username` in id tokens (default [`DEFAULT_USERNAME`]).
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.username = username.into();
        self
    }

    /// How the simulated user answers successive polls of each device code (default: pending,
    /// then approve, i.e. it signs in by itself after the first poll). The last step repeats.
    pub fn device_code_script(mut self, steps: impl IntoIterator<Item = DeviceStep>) -> Self {
        self.device_script = steps.into_iter().collect();
        self
    }

    /// The polling interval the device authorization names, in whole seconds (default 1 s; 0 lets
    /// tests poll without waiting).
    pub fn device_code_interval(mut self, interval: Duration) -> Self {
        self.device_interval = interval;
        self
    }

    /// How long device codes are valid (default 15 minutes).
    pub fn device_code_expires_in(mut self, lifetime: Duration) -> Self {
        self.device_expires_in = lifetime;
        self
    }

    /// The certificate (PEM, a `CERTIFICATE` block; a key beside it is ignored) whose key must
    /// sign client assertions (default [`TEST_CLIENT_CERTIFICATE_PEM`]); `None` accepts no
    /// assertion.
    pub fn client_certificate(mut self, pem: Option<&str>) -> Self {
        self.certificate_pem = pem.map(str::to_owned);
        self
    }

    /// Binds 127.0.0.1 and starts serving on the current tokio runtime.
    ///
    /// # Errors
    /// `InvalidInput` when the default page size is outside 1–100; the bind error when the port
    /// is taken.
    ///
    /// # Panics
    /// When called outside a tokio runtime.
    pub async fn start(self) -> io::Result<SimulatorHandle> {
        if !(1..=100).contains(&self.default_page_size) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "default page size must be from 1 to 100, got {}",
                    self.default_page_size
                ),
            ));
        }
        let certificate = match &self.certificate_pem {
            Some(pem) => Some(
                RegisteredCertificate::from_pem(pem.as_bytes()).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("client certificate: {e}"),
                    )
                })?,
            ),
            None => None,
        };
        // Synthetic referrals are encoded one by one, never all held as values at once.
        let records = match self.source {
            Source::Synthetic(n) => {
                let synthetic = Synthetic::new(self.seed);
                let referral = |i| {
                    let mut referral = synthetic.referral(i);
                    contract::conform(&mut referral);
                    referral
                };
                Records::new((0..n).map(referral), self.organization_id)
            }
            Source::Values(values) => Records::new(values, self.organization_id),
        };
        let listener =
            TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))).await?;
        let address = listener.local_addr()?;
        let origin = state::origin(address);
        // Each part draws from its own generator, split off one seeded root.
        let mut root = SeededRng::new(self.seed);
        let listing = Listing {
            origin: origin.clone(),
            default_page_size: self.default_page_size,
            token_key: TokenKey::new(&mut root.fork()),
        };
        let settings = TokenSettings {
            token: self.token,
            tenant: self.tenant,
            client_id: self.client_id,
            client_secret: self.client_secret,
            expires_in: self.expires_in,
            allow_app_only: self.allow_app_only,
            username: self.username,
            device_interval: self.device_interval,
            device_expires_in: self.device_expires_in,
            certificate,
        };
        let state = Arc::new(State {
            address,
            store: Store::new(records, Ids::new(root.fork()), listing),
            tokens: Tokens::new(
                settings,
                self.device_script,
                origin.clone(),
                Ids::new(root.fork()),
            ),
            faults: Faults::new(self.faults),
            log: RequestLog::default(),
            pacing: Pacing::new(self.latency, self.max_in_flight),
            webhooks: Arc::new(Webhooks::new(
                origin,
                Ids::new(root.fork()),
                self.webhook_retry_delay,
            )),
            request_ids: Ids::new(root.fork()),
        });
        let task = tokio::spawn(server::accept_loop(listener, state.clone()));
        Ok(SimulatorHandle { state, task })
    }
}

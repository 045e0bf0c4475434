//! The client a command talks through: configured from the settings (options, environment,
//! profile), or pointed at an embedded simulator with `--demo`.

use std::sync::Arc;

use referrals::transport::{HyperTransport, Transport};
use referrals::{Client, RetryPolicy};
use referrals_simulator::{Simulator, SimulatorHandle};

use crate::failure::Failure;
use crate::settings::Settings;

/// Referrals the `--demo` simulator serves.
pub const DEMO_REFERRALS: usize = 250;
/// Seed of the `--demo` referrals: the same data on every run, so a printed `--resume` works.
pub const DEMO_SEED: u64 = 42;

/// A configured client, and the embedded simulator it talks to under `--demo` (kept alive as long
/// as the connection).
#[derive(Debug)]
pub struct Connection {
    /// The client.
    pub client: Client,
    _demo: Option<SimulatorHandle>,
}

impl Connection {
    /// The embedded simulator under `--demo`.
    pub fn demo(&self) -> Option<&SimulatorHandle> {
        self._demo.as_ref()
    }
}

/// Validates the configuration and builds the client; nothing is sent. Under `--demo`, the
/// simulator listens on `demo_port` when given and free, else on any free port.
pub async fn connect(settings: &Settings, demo_port: Option<u16>) -> Result<Connection, Failure> {
    connect_with(settings, demo_port, None).await
}

/// The HTTPS transport of the settings (`--timeout` for connecting and for each attempt).
pub fn transport(settings: &Settings) -> Result<HyperTransport, Failure> {
    let mut builder = HyperTransport::builder();
    if let Some(timeout) = settings.timeout {
        builder = builder.attempt_timeout(timeout).connect_timeout(timeout);
    }
    builder
        .build()
        .map_err(|e| Failure::Local(format!("cannot set up HTTPS: {e}")))
}

/// As [`connect`], sending through `transport` when given (it then owns the timeouts), else
/// through [`transport`].
pub async fn connect_with(
    settings: &Settings,
    demo_port: Option<u16>,
    transport: Option<Arc<dyn Transport>>,
) -> Result<Connection, Failure> {
    let mut builder = Client::builder();
    let mut demo = None;
    if settings.demo {
        let demo_simulator = Simulator::builder()
            .referrals(DEMO_REFERRALS)
            .seed(DEMO_SEED);
        let on_port = match demo_port {
            Some(port) => demo_simulator.clone().port(port).start().await.ok(),
            None => None,
        };
        let simulator = match on_port {
            Some(simulator) => simulator,
            None => demo_simulator
                .start()
                .await
                .map_err(|e| Failure::Local(format!("cannot start the demo simulator: {e}")))?,
        };
        say!(
            "demo: an embedded simulator with {DEMO_REFERRALS} synthetic referrals at {}",
            simulator.base_url()
        );
        builder = builder
            .base_url(simulator.base_url())
            .bearer_token(simulator.token());
        demo = Some(simulator);
    } else {
        if let Some(url) = &settings.base_url.value {
            builder = builder.base_url(url.clone());
        }
        builder = match &settings.token {
            Some(token) => builder.bearer_token(token.clone()),
            None => builder.token_provider(
                settings
                    .credentials()
                    .map_err(|e| Failure::Client(e.into()))?
                    .into_provider(),
            ),
        };
    }
    if let Some(retries) = settings.retries {
        builder = builder.retry(RetryPolicy {
            max_attempts: retries.saturating_add(1),
            ..RetryPolicy::default()
        });
    }
    let client = match transport {
        Some(transport) => builder.transport(transport),
        None => builder.transport(self::transport(settings)?),
    }
    .build()?;
    Ok(Connection {
        client,
        _demo: demo,
    })
}

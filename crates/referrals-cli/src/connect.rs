//! The client a command talks through: configured from the global options and the environment,
//! or pointed at an embedded simulator with `--demo`.

use referrals::{Client, RetryPolicy};
use referrals_fixtures::simulator::{Simulator, SimulatorHandle};

use crate::cli::GlobalArgs;
use crate::failure::Failure;

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

/// Validates the configuration and builds the client; nothing is sent.
pub async fn connect(global: &GlobalArgs) -> Result<Connection, Failure> {
    let mut builder = Client::builder();
    let mut demo = None;
    if global.demo {
        let simulator = Simulator::builder()
            .referrals(DEMO_REFERRALS)
            .seed(DEMO_SEED)
            .start()
            .await
            .map_err(|e| Failure::Local(format!("cannot start the demo simulator: {e}")))?;
        eprintln!(
            "demo: an embedded simulator with {DEMO_REFERRALS} synthetic referrals at {}",
            simulator.base_url()
        );
        builder = builder
            .base_url(simulator.base_url())
            .bearer_token(simulator.token());
        demo = Some(simulator);
    } else {
        if let Some(url) = &global.base_url {
            builder = builder.base_url(url.clone());
        }
        builder = match &global.token {
            Some(token) => builder.bearer_token(token.clone()),
            None => builder.auth_from_env(),
        };
    }
    if let Some(retries) = global.retries {
        builder = builder.retry(RetryPolicy {
            max_attempts: retries.saturating_add(1),
            ..RetryPolicy::default()
        });
    }
    if let Some(timeout) = global.timeout {
        builder = builder.attempt_timeout(timeout).connect_timeout(timeout);
    }
    let client = builder.build()?;
    Ok(Connection {
        client,
        _demo: demo,
    })
}

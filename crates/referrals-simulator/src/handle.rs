//! The running simulator: its addresses, what it was asked, and how to stop it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use serde_json::Value;
use tokio::task::JoinHandle;

use super::fault::{Fault, FaultPlan, FaultState};
use super::state::{State, lock};

/// One request the simulator received (the token endpoint's included), without credentials:
/// the `Authorization` value keeps only its scheme (`Bearer [redacted]`) and bodies are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The HTTP method.
    pub method: http::Method,
    /// The request target, e.g. `/v1.0/engagements/referrals?pageSize=20`.
    pub path_and_query: String,
    /// The request headers in order received, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The status answered, or `None` when the connection was reset before any status line.
    pub status: Option<u16>,
    /// The fault injected into this exchange, if any.
    pub fault: Option<Fault>,
}

impl RecordedRequest {
    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running simulator. Dropping the handle stops it and closes its connections.
///
/// See [`Simulator`](super::Simulator) for an example.
pub struct SimulatorHandle {
    pub(crate) state: Arc<State>,
    pub(crate) address: SocketAddr,
    pub(crate) task: JoinHandle<()>,
}

impl std::fmt::Debug for SimulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorHandle")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl SimulatorHandle {
    /// The address the simulator listens on (127.0.0.1 and the bound port).
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The API base, e.g. `http://127.0.0.1:40123`; the collection is at
    /// `{base_url}/v1.0/engagements/referrals`.
    pub fn base_url(&self) -> String {
        self.state.origin.clone()
    }

    /// `{base_url}/v1.0/engagements/referrals`.
    pub fn referrals_url(&self) -> String {
        format!("{}/v1.0/engagements/referrals", self.state.origin)
    }

    /// The token authority, `{base_url}/auth`; the token endpoint is
    /// `{authority_url}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_url(&self) -> String {
        format!("{}/auth", self.state.origin)
    }

    /// The token endpoint for the configured tenant.
    pub fn token_url(&self) -> String {
        format!(
            "{}/auth/{}/oauth2/v2.0/token",
            self.state.origin, self.state.config.tenant
        )
    }

    /// The static bearer token the API accepts.
    pub fn token(&self) -> &str {
        &self.state.config.token
    }

    /// The tenant the token endpoint serves.
    pub fn tenant(&self) -> &str {
        &self.state.config.tenant
    }

    /// The client id the token endpoint accepts.
    pub fn client_id(&self) -> &str {
        &self.state.config.client_id
    }

    /// The client secret the token endpoint accepts.
    pub fn client_secret(&self) -> &str {
        &self.state.config.client_secret
    }

    /// Every request received so far, in order of completion.
    pub fn requests(&self) -> Vec<crate::RecordedRequest> {
        lock(&self.state.log).clone()
    }

    /// Forgets the recorded requests (the counters keep counting).
    pub fn clear_requests(&self) {
        lock(&self.state.log).clear();
    }

    /// How many API requests (token requests not included) arrived.
    pub fn api_requests(&self) -> u64 {
        self.state.api_requests.load(Relaxed)
    }

    /// How many requests reached the token endpoint.
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests.load(Relaxed)
    }

    /// A new refresh token for the simulated user, as if they had signed in (each is usable
    /// once: exchanging it answers its successor).
    pub fn issue_refresh_token(&self) -> String {
        super::auth::new_refresh_token(&self.state)
    }

    /// The refresh token issued last (the newest successor), if any.
    pub fn latest_refresh_token(&self) -> Option<String> {
        lock(&self.state.latest_refresh_token).clone()
    }

    /// How many refresh-token grants succeeded.
    pub fn refresh_grants(&self) -> u64 {
        self.state.refresh_grants.load(Relaxed)
    }

    /// How many times an already used (rotated) refresh token was presented again.
    pub fn refresh_token_reuses(&self) -> u64 {
        self.state.refresh_reuses.load(Relaxed)
    }

    /// How many device code polls reached the token endpoint.
    pub fn device_code_polls(&self) -> u64 {
        self.state.device_polls.load(Relaxed)
    }

    /// How many client assertions were refused.
    pub fn assertions_refused(&self) -> u64 {
        self.state.assertions_refused.load(Relaxed)
    }

    /// The signed-in user's `preferred_username`.
    pub fn username(&self) -> &str {
        &self.state.config.username
    }

    /// The device authorization endpoint for the configured tenant.
    pub fn device_code_url(&self) -> String {
        format!(
            "{}/auth/{}/oauth2/v2.0/devicecode",
            self.state.origin, self.state.config.tenant
        )
    }

    /// How many TCP connections were accepted.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Relaxed)
    }

    /// Replaces the fault plan (use counts start again from zero).
    pub fn set_faults(&self, plan: FaultPlan) {
        *lock(&self.state.faults) = FaultState::new(plan);
    }

    /// Invalidates every token the token endpoint issued, as a key rollover would; the static
    /// token stays valid.
    pub fn revoke_issued_tokens(&self) {
        lock(&self.state.issued).clear();
    }

    /// Makes every token the token endpoint issued expire now (the API then answers "expired"),
    /// so that a test sees an expiry without waiting for one; tokens issued later get the
    /// configured lifetime.
    pub fn expire_issued_tokens(&self) {
        let now = std::time::Instant::now();
        for issued in lock(&self.state.issued).values_mut() {
            issued.expiry = now;
        }
    }

    /// How many referrals the simulator holds.
    pub fn referral_count(&self) -> usize {
        self.state.read_store().len()
    }

    /// The stored referral with this id, as a get would return it.
    pub fn referral(&self, id: &str) -> Option<Value> {
        self.state.read_store().get(id).map(|r| r.value())
    }

    /// Every stored referral in insertion order (the default list order).
    pub fn referrals(&self) -> Vec<Value> {
        self.state
            .read_store()
            .records()
            .iter()
            .map(|r| r.value())
            .collect()
    }

    /// The PEM of the CA that signs webhook certificates: a listener's trust anchor.
    pub fn webhook_ca_pem(&self) -> &str {
        self.state.webhooks.ca_pem()
    }

    /// The URL events name as `X-MS-Certificate-Url`.
    pub fn webhook_certificate_url(&self) -> String {
        format!("{}{}", self.base_url(), super::webhooks::CERTIFICATE_PATH)
    }

    /// The certificate URL prefix a listener should allow (`http://127.0.0.1:PORT/webhooks/certs/`).
    pub fn webhook_cert_url_prefix(&self) -> String {
        format!("{}/webhooks/certs/", self.base_url())
    }

    /// Registers (or replaces) the webhook without the registration API.
    pub fn register_webhook(&self, url: &str, events: &[&str]) {
        self.state.webhooks.register(url, events, self.state.uuid());
        super::webhooks::start_dispatching(&self.state);
    }

    /// Every webhook delivery so far, in order, with its attempts and outcome.
    pub fn webhook_deliveries(&self) -> Vec<crate::DeliveryRecord> {
        self.state.webhooks.deliveries()
    }

    /// Serves until `signal` completes (e.g. `tokio::signal::ctrl_c()`), then shuts down.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// use referrals_simulator::Simulator;
    ///
    /// let simulator = Simulator::builder().referrals(1000).port(8080).start().await?;
    /// eprintln!("serving {} until interrupted", simulator.base_url());
    /// simulator
    ///     .run_until(std::future::pending::<()>()) // the CLI passes tokio::signal::ctrl_c()
    ///     .await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_until<F: std::future::Future>(self, signal: F) {
        signal.await;
        self.shutdown().await;
    }

    /// Stops accepting, closes every connection and waits until the server task has ended.
    pub async fn shutdown(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

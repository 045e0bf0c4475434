//! The running simulator: its addresses, what it was asked, and how to stop it.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokio::task::JoinHandle;

use super::churn::{self, ChurnReport};
use super::fault::FaultPlan;
use super::items;
use super::log::RecordedRequest;
use super::state::State;

/// A running simulator. Dropping the handle stops it and closes its connections.
///
/// See [`Simulator`](super::Simulator) for an example.
pub struct SimulatorHandle {
    pub(crate) state: Arc<State>,
    pub(crate) task: JoinHandle<()>,
}

impl std::fmt::Debug for SimulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorHandle")
            .field("address", &self.state.address)
            .finish_non_exhaustive()
    }
}

impl SimulatorHandle {
    /// The address the simulator listens on (127.0.0.1 and the bound port).
    pub fn local_addr(&self) -> SocketAddr {
        self.state.address
    }

    /// The API base, e.g. `http://127.0.0.1:40123`; the collection is at
    /// `{base_url}/v1.0/engagements/referrals`.
    pub fn base_url(&self) -> String {
        self.state.origin()
    }

    /// `{base_url}/v1.0/engagements/referrals`.
    pub fn referrals_url(&self) -> String {
        format!("{}/v1.0/engagements/referrals", self.base_url())
    }

    /// The token authority, `{base_url}/auth`; the token endpoint is
    /// `{authority_url}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_url(&self) -> String {
        self.state.tokens.authority_url()
    }

    /// The token endpoint for the configured tenant.
    pub fn token_url(&self) -> String {
        self.state.tokens.endpoint_url("token")
    }

    /// The static bearer token the API accepts.
    pub fn token(&self) -> &str {
        &self.state.tokens.settings().token
    }

    /// The tenant the token endpoint serves.
    pub fn tenant(&self) -> &str {
        &self.state.tokens.settings().tenant
    }

    /// The client id the token endpoint accepts.
    pub fn client_id(&self) -> &str {
        &self.state.tokens.settings().client_id
    }

    /// The client secret the token endpoint accepts.
    pub fn client_secret(&self) -> &str {
        &self.state.tokens.settings().client_secret
    }

    /// Every request received so far, in order of completion.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.log.entries()
    }

    /// Forgets the recorded requests (the counters keep counting).
    pub fn clear_requests(&self) {
        self.state.log.clear();
    }

    /// How many API requests (token requests not included) arrived.
    pub fn api_requests(&self) -> u64 {
        self.state.log.api_requests()
    }

    /// How many API requests were answered `429` for the cap on requests in flight
    /// ([`SimulatorBuilder::max_in_flight`](crate::SimulatorBuilder::max_in_flight)).
    pub fn throttled(&self) -> u64 {
        self.state.pacing.throttled()
    }

    /// The most API requests that were in flight at once.
    pub fn peak_in_flight(&self) -> usize {
        self.state.pacing.peak()
    }

    /// How many requests reached the token endpoint.
    pub fn token_requests(&self) -> u64 {
        self.state.log.token_requests()
    }

    /// A new refresh token for the simulated user, as if they had signed in (each is usable
    /// once: exchanging it answers its successor).
    pub fn issue_refresh_token(&self) -> String {
        self.state.tokens.new_refresh_token()
    }

    /// The refresh token issued last (the newest successor), if any.
    pub fn latest_refresh_token(&self) -> Option<String> {
        self.state.tokens.latest_refresh_token()
    }

    /// How many refresh-token grants succeeded.
    pub fn refresh_grants(&self) -> u64 {
        self.state.tokens.refresh_grants()
    }

    /// How many times an already used (rotated) refresh token was presented again.
    pub fn refresh_token_reuses(&self) -> u64 {
        self.state.tokens.refresh_reuses()
    }

    /// How many device code polls reached the token endpoint.
    pub fn device_code_polls(&self) -> u64 {
        self.state.tokens.device_polls()
    }

    /// How many client assertions were refused.
    pub fn assertions_refused(&self) -> u64 {
        self.state.tokens.assertions_refused()
    }

    /// The signed-in user's `preferred_username`.
    pub fn username(&self) -> &str {
        &self.state.tokens.settings().username
    }

    /// The device authorization endpoint for the configured tenant.
    pub fn device_code_url(&self) -> String {
        self.state.tokens.endpoint_url("devicecode")
    }

    /// How many TCP connections were accepted.
    pub fn connections(&self) -> u64 {
        self.state.log.connections()
    }

    /// Replaces the fault plan (use counts start again from zero).
    pub fn set_faults(&self, plan: FaultPlan) {
        self.state.faults.replace(plan);
    }

    /// Invalidates every token the token endpoint issued, as a key rollover would; the static
    /// token stays valid.
    pub fn revoke_issued_tokens(&self) {
        self.state.tokens.revoke_issued();
    }

    /// Makes every token the token endpoint issued expire now (the API then answers "expired"),
    /// so that a test sees an expiry without waiting for one; tokens issued later get the
    /// configured lifetime.
    pub fn expire_issued_tokens(&self) {
        self.state.tokens.expire_issued();
    }

    /// How many referrals the simulator holds.
    pub fn referral_count(&self) -> usize {
        self.state.store.read().len()
    }

    /// The stored referral with this id, as a get would return it.
    pub fn referral(&self, id: &str) -> Option<Value> {
        self.state.store.read().get(id).map(|r| r.value())
    }

    /// Every stored referral in insertion order (the default list order).
    pub fn referrals(&self) -> Vec<Value> {
        self.state
            .store
            .read()
            .records()
            .iter()
            .map(|r| r.value())
            .collect()
    }

    /// The ids of the stored referrals in insertion order (a referral without a string id is
    /// left out).
    pub fn referral_ids(&self) -> Vec<String> {
        self.state
            .store
            .read()
            .records()
            .iter()
            .filter_map(|r| r.facets.id.clone())
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
        self.state.webhooks.register(&self.state.store, url, events);
    }

    /// Every webhook delivery so far, in order, with its attempts and outcome.
    pub fn webhook_deliveries(&self) -> Vec<crate::DeliveryRecord> {
        self.state.webhooks.deliveries()
    }

    /// Adds a referral as the service would create it: a fresh `id` and `eTag`, and
    /// `createdDateTime` = `updatedDateTime` = now; the other fields are kept as given. Returns
    /// the new id.
    pub fn add_referral(&self, referral: Value) -> String {
        items::add(&self.state.store, referral)
    }

    /// Changes a stored referral with `change`, then gives it a new `eTag` and a later
    /// `updatedDateTime`, as every update on the service does. False when there is no such
    /// referral.
    pub fn update_referral(&self, id: &str, change: impl FnOnce(&mut Map<String, Value>)) -> bool {
        items::update(&self.state.store, id, change)
    }

    /// Removes a referral: it is no longer listed and a get answers 404. False when there is
    /// no such referral.
    pub fn remove_referral(&self, id: &str) -> bool {
        self.state.store.write().remove(id)
    }

    /// Makes `changes` random changes (about a fifth creations, a fifth removals, the rest
    /// updates of the notes), chosen by the simulator's seeded generator.
    pub fn churn(&self, changes: usize) -> ChurnReport {
        churn::churn(&self.state.store, changes)
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

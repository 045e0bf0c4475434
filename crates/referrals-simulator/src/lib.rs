//! An in-process Partner Center simulator: the Referrals API and the OAuth2 token endpoint on a
//! loopback port, with fault injection, for tests, benchmarks, examples and the CLI.
//!
//! It serves:
//!
//! | request | behaviour |
//! |---|---|
//! | `GET /v1.0/engagements/referrals` | list. 2018 form (no `$` option): `engagementId`, `self`, `status`, `pageSize` (1–100), `invitedByOrganization`; paging through `links.next` and the `MS-ContinuationToken` (or `ContinuationToken`) request header. OData form (any `$` option): `$filter`, `$orderby` (createdDateTime / updatedDateTime, asc / desc), `$top` (the contract's total: at most that many referrals over every page, counted from `$skip`; `@odata.count` still counts every match), the page size asked with `Prefer: odata.maxpagesize=N` (at most 100, answered with `Preference-Applied`), `$skip`, `$count=true`, `$select`, `$expand` (no effect), paging through `@odata.nextLink` with `$skiptoken` |
//! | `GET /v1.0/engagements/referrals/{id}` | the referral with an `ETag` header; 404 `itemNotFound` |
//! | `POST /v1.0/engagements/referrals` | create: `type`, `customerProfile`, `consent`, `details` required; read-only fields ignored; assigns id, eTag, timestamps; 200 |
//! | `PATCH /v1.0/engagements/referrals/{id}` | JSON Patch (`add`, `replace`); read-only paths refused; `If-Match` mismatch → 412; `Prefer: return=representation` → 200 with the referral, else 204 |
//! | `PATCH /v1.0/engagements/referrals/{id}` on `/registrations/…` (also at `…/{id}/` and `…/{id}//`, the contract's paths) | deal registrations: `add` `/registrations/-` registers a deal (the service's `id`, `registrationDateTime`, `status` `ReviewPending` and `statusHistory` are added, and `registrationStatus`); `replace`/`add` under `/registrations/{n}/contract` or `…/solutionDetails` update one; 204 |
//! | `PUT /v1.0/engagements/referrals/{id}` | whole referral; read-only fields keep their stored values; no `If-Match` → 428, mismatch → 412; 200 with the referral (`Prefer: return=minimal` → 204) |
//! | `POST /auth/{tenant}/oauth2/v2.0/token` | client credentials (secret or a client assertion signed by the registered certificate; app-only), refresh token (strict rotation: a used refresh token answers `invalid_grant`), device code (answers scripted with [`DeviceStep`]); scopes of `https://api.partner.microsoft.com` or `https://api.partnercenter.microsoft.com`, `offline_access` for a refresh token; user grants carry an id token with `preferred_username` |
//! | `POST /auth/{tenant}/oauth2/v2.0/devicecode` | device authorization: `device_code`, `user_code`, `verification_uri`, `interval`, `expires_in`, `message` |
//! | `/webhooks/v1/registration…`, `GET /webhooks/certs/signing.cer` | the webhook registration API and the signing certificate; see below |
//!
//! Webhooks: a signing CA and certificate are made when first needed (the CA PEM asked for, a
//! registration, the certificate fetched); once a webhook is registered
//! (through the registration API or [`SimulatorHandle::register_webhook`]), every referral
//! the store creates or updates (through the API or the handle's churn) is POSTed to it as a
//! signed `referral-created` / `referral-updated` event, tried up to [`MAX_ATTEMPTS`] times
//! until a 2xx; give a listener [`SimulatorHandle::webhook_ca_pem`] as its trust anchor and
//! [`SimulatorHandle::webhook_cert_url_prefix`] as its certificate URL prefix.
//!
//! API requests need `Authorization: Bearer <token>` with the configured static token (an
//! App+User token) or one the token endpoint issued for the Referrals API audience (and that has
//! not expired); otherwise 401 with `{"error":{"code":"unauthenticated","message":…}}`. As the
//! real API does, app-only tokens (client credentials) are refused with 403 `accessDenied` and a
//! message that App+User tokens are required, unless
//! [`SimulatorBuilder::allow_app_only_tokens`] says otherwise. Errors use the documented body
//! `{"error":{"code","message","target"}}`; a bad parameter gets 400 `invalidRequest` whose
//! `target` names it; a field of a body that breaks the connector contract gets one whose
//! `target` is the field's JSON Pointer (see [the connector contract](#the-connector-contract)).
//! Every answer carries `MS-RequestId` (the request's, or a new one), `Request-ID`, and
//! `MS-CorrelationId` when the request had one.
//!
//! Continuation tokens are opaque, signed base64 (they may contain `+`, `/`, `=`); a token the
//! simulator did not issue, or one from a listing with other filters, gets a 400. A request that
//! carries a token and no filters continues the token's listing, so following the 2018
//! `links.next.uri` literally works too. A token names the last referral served (its place in
//! the listing's order), not an offset: referrals removed or added while a client pages shift
//! nothing out of its listing, so a referral that exists throughout is listed once. Status
//! transitions on update follow the spec's table.
//!
//! The pace of a distant service: [`SimulatorBuilder::latency`] delays every API answer (a
//! sequential listing pays it once per page), and [`SimulatorBuilder::max_in_flight`] caps the
//! API requests in flight, answering `429` with `Retry-After: 1` above it
//! ([`SimulatorHandle::throttled`] counts them). `$filter` takes `createdDateTime` ranges
//! and-ed with any other filter, `$count=true` counts what the filter selects, and `$orderby`
//! orders on either timestamp: what a listing split into `createdDateTime` ranges asks.
//! [`Fault::IgnoreFilter`] and [`Fault::ClassicOnly`] play services that ignore `$filter` or
//! know only the 2018 form.
//!
//! List pages are assembled from each referral's JSON encoded once at start-up, so the simulator
//! costs little next to the client it serves. Faults are configured with a [`FaultPlan`].
//!
//! The builder's [`seed`](SimulatorBuilder::seed) fixes the synthetic referrals and every id,
//! eTag, token and continuation token the simulator makes for a given sequence of requests (from
//! [`SeededRng`](referrals_fixtures::rng::SeededRng)); a [`FaultPlan`]'s seed fixes which
//! requests its probabilistic faults hit.
//!
//! ```
//! use referrals_simulator::{Fault, FaultPlan, FaultRule, Simulator};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let simulator = Simulator::builder()
//!     .referrals(250)
//!     .seed(42)
//!     .token("my-test-token")
//!     .faults(FaultPlan::new().rule(FaultRule::list_page(1, Fault::too_many_requests(1)).times(1)))
//!     .start()
//!     .await?;
//! let base = simulator.base_url(); // http://127.0.0.1:<port>
//! assert!(base.starts_with("http://127.0.0.1:"));
//! assert_eq!(simulator.referral_count(), 250);
//! // Point a client at `base` with the bearer token "my-test-token", or at
//! // `simulator.authority_url()` with `simulator.tenant()`, `client_id()`, `client_secret()`.
//! simulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
#![doc = include_str!("../CONTRACT.md")]
#![deny(missing_docs)]

// The simulator's state is split by concern into parts that own their data and locks: `store`
// (referrals, their ids and eTags, listings), `tokens` (credentials, issued tokens, refresh-token
// rotation, device codes), `fault` (the plan being applied), `log` (the exchanges) and
// `webhooks`. `state` only composes them; `server`, `handle` and `builder` hand each operation the
// parts it needs, so no part depends on `state` or on a part it does not use.
mod assertion;
mod auth;
mod builder;
mod churn;
mod conn_io;
mod continuation;
mod contract;
mod device;
mod fault;
mod filter;
mod form;
mod handle;
mod ids;
mod items;
mod list;
mod locks;
mod log;
mod oauth;
mod pacing;
mod patch;
mod query;
mod registration;
mod response;
mod server;
pub mod signing;
mod state;
mod store;
mod time;
mod tokens;
mod webhooks;

pub use builder::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PAGE_SIZE, DEFAULT_TENANT, DEFAULT_TOKEN,
    DEFAULT_USERNAME, SimulatorBuilder, TEST_CLIENT_CERTIFICATE_PEM,
    UNREGISTERED_CLIENT_CERTIFICATE_PEM,
};
pub use churn::ChurnReport;
pub use device::DeviceStep;
pub use fault::{Fault, FaultPlan, FaultRule, Operation, RequestInfo, RetryAfter, Trigger};
pub use handle::SimulatorHandle;
pub use log::RecordedRequest;
pub use webhooks::{CERTIFICATE_PATH, DeliveryRecord, EVENTS, MAX_ATTEMPTS};

/// The OAuth2 scope the simulator's token endpoint requires for client credentials (the
/// Referrals API).
pub const SCOPE: &str = auth::SCOPE;
/// The other audience the token endpoint issues tokens for (Partner Center REST API).
pub const PARTNER_CENTER_API_SCOPE: &str = referrals_query::scope::PARTNER_CENTER_API;

/// Entry point: `Simulator::builder()…start().await`.
#[derive(Debug, Clone, Copy)]
pub struct Simulator;

impl Simulator {
    /// A builder with no referrals, the default token and credentials, page size
    /// [`DEFAULT_PAGE_SIZE`], no faults and any free port.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }
}

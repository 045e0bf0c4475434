//! The integration tests of the `referrals` facade, in one binary, against the simulator over
//! real loopback HTTP (and a scripted transport where a server cannot be made to misbehave):
//! the client (`client`, `lifecycle`), partitioned listings (`partitioned`), the webhook registration client (`registration`), the
//! sign-in flows (`auth_flows`) and the reliability suites (`reliability_*`, see
//! `docs/reliability.md`). `support` holds what several of them share.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth_flows;
mod client;
mod lifecycle;
mod partitioned;
mod registration;
mod reliability_fault_matrix;
mod reliability_load;
mod reliability_secrets;
mod support;

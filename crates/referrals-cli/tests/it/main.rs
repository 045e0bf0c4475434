//! The `referrals` binary run as a process: one test binary, a module per area, one shared
//! support module.

mod auth;
mod cli;
mod daily;
mod numbers;
mod push;
mod support;
mod sync;
mod webhooks;

//! The `referrals` binary run as a process: one test binary, a module per area, one shared
//! support module.
// The tests' own notes to the developer: `say!` (which masks) is the rule for the binary's
// messages, not for the test harness's.
#![allow(clippy::disallowed_macros)]

mod auth;
mod batch;
mod bounded_input;
mod cli;
mod daily;
mod due;
mod exit_codes;
mod hostile;
mod numbers;
mod partitioned;
mod push;
mod support;
mod sync;
mod webhooks;

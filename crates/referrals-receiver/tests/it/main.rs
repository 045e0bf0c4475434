//! The integration tests of `referrals-receiver`, in one binary: the listener end to end, and
//! the simulator's webhooks delivered to it.

mod listener;
mod simulator;
mod support;

//! The integration tests of `referrals-sync`, in one binary: the schema's migrations, the
//! mirror file, and sync runs against the simulator.

mod migration;
mod mirror;
mod push;
mod support;
mod sync;

//! The integration tests of `referrals-sync`, in one binary: the schema's migrations, the
//! mirror file, sync runs against the simulator, and the quarantine of undecodable referrals.

mod batch;
mod migration;
mod mirror;
mod partitioned;
mod push;
mod quarantine;
mod resync;
mod support;
mod sync;

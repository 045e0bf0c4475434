//! The integration tests of `referrals-query`, in one binary: the pager's rules one by one
//! (`pager`), its properties over generated listings (`pager_props`), the partitioned listing
//! against a service that misbehaves (`partition`), hostile input
//! (`reliability_injection`) and fuzzing (`reliability_fuzz`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod pager;
mod pager_props;
mod partition;
mod reliability_fuzz;
mod reliability_injection;
mod support;

//! The simulator over real loopback HTTP, seen through a raw client: its API, its following of
//! Microsoft's connector contract, changes over time, fault injection, and the pace and quirks
//! a partitioned listing meets (`pacing`).

mod api;
mod churn;
mod contract;
mod faults;
mod pacing;
mod support;

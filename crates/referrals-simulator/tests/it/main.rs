//! The simulator over real loopback HTTP, seen through a raw client: its API, its following of
//! Microsoft's connector contract, changes over time and fault injection.

mod api;
mod churn;
mod contract;
mod faults;
mod support;

//! The simulator over real loopback HTTP, seen through a raw client: its API, changes over time
//! and fault injection.

mod api;
mod churn;
mod faults;
mod support;

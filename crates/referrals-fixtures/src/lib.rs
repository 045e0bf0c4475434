//! Test data and test doubles for the Partner Center Referrals API: the JSON fixtures of the
//! repository, deterministic synthetic referrals, a replay transport and (feature `simulator`) an
//! in-process Partner Center simulator.
#![deny(missing_docs)]

pub mod files;
pub mod replay;
#[cfg(feature = "simulator")]
pub mod simulator;
pub mod synthetic;

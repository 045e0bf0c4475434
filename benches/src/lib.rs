//! Shared pieces of the benchmarks: the baselines our code is measured against.

pub mod lossy;
pub mod naive;
pub mod visit;

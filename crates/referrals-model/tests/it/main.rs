//! The model's integration tests, in one binary: the decode rules a user relies on, the
//! borrowed model, numbers, property round trips and fuzzing, sharing [`support`].

mod support;

mod borrowed;
mod decode_rules;
mod numbers;
mod reliability_fuzz;
mod roundtrip;

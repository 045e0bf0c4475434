//! The command-line definition of `referrals` (clap), shared by the binary and by
//! `cargo xtask man`, which generates a man page per command from it.
#![deny(missing_docs)]

pub mod cli;
pub mod profile;

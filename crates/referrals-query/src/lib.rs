//! Pure request building, the pagination state machine and retry arithmetic for the Partner
//! Center Referrals API. No I/O, no clock, no randomness of its own.
#![deny(missing_docs)]

pub mod transport;

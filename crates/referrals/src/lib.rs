//! referrals (under construction in this session).
#![deny(missing_docs)]

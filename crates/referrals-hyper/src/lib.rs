//! referrals-hyper (under construction in this session).
#![deny(missing_docs)]

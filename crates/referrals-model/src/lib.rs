//! referrals-model
#![deny(missing_docs)]

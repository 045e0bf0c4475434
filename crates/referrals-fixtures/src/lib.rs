//! referrals-fixtures (under construction in this session).
#![deny(missing_docs)]

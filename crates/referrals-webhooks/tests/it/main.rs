//! The integration tests of `referrals-webhooks`, in one binary.

mod verifier;

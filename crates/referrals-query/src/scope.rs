//! The OAuth2 scopes of the Partner Center hosts, the one place they are written.
//!
//! A token is issued for one audience: a Referrals API token is refused by the Partner Center
//! REST API host (which serves webhook registration) and the other way round.

/// The Referrals API (`https://api.partner.microsoft.com`): every referral request.
pub const REFERRALS: &str = "https://api.partner.microsoft.com/.default";

/// The Partner Center REST API (`https://api.partnercenter.microsoft.com`): webhook
/// registration.
pub const PARTNER_CENTER_API: &str = "https://api.partnercenter.microsoft.com/.default";

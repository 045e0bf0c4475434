//! The bearer check of API requests: the configured static token, or an access token the token
//! endpoint issued for the right audience that has not expired.

use std::time::Instant;

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};

use super::response::Reply;
use super::tokens::Tokens;

/// The scope a client-credentials request must ask for: the Referrals API.
pub(crate) const SCOPE: &str = referrals_query::scope::REFERRALS;
/// The Referrals API's audience.
pub(crate) const REFERRALS_AUDIENCE: &str = "https://api.partner.microsoft.com";
/// The Partner Center REST API's audience (webhook registrations and the like).
pub(crate) const PARTNER_CENTER_AUDIENCE: &str = "https://api.partnercenter.microsoft.com";

/// `Ok` when the request carries an accepted bearer token for the Referrals API, else the 401 (or
/// the 403 for an app-only token) to send.
pub(crate) fn check(tokens: &Tokens, headers: &HeaderMap) -> Result<(), Reply> {
    check_for(tokens, headers, REFERRALS_AUDIENCE)
}

/// As [`check`], for a token of `audience` (the webhook registration API's is
/// [`PARTNER_CENTER_AUDIENCE`]); the configured static token is accepted for every audience.
pub(crate) fn check_for(tokens: &Tokens, headers: &HeaderMap, audience: &str) -> Result<(), Reply> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(unauthenticated(
            "The request has no bearer token (Authorization: Bearer <token>).",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let Some(token) = token else {
        return Err(unauthenticated(
            "The Authorization header is not of the form 'Bearer <token>'.",
        ));
    };
    let settings = tokens.settings();
    if token == settings.token {
        return Ok(());
    }
    match tokens.issued(token) {
        Some(issued) if issued.expiry <= Instant::now() => {
            Err(unauthenticated("The bearer token has expired."))
        }
        Some(issued) if issued.audience != audience => Err(unauthenticated(&format!(
            "The bearer token is for {}, not for {audience}.",
            issued.audience
        ))),
        Some(issued) if issued.app_only && !settings.allow_app_only => Err(Reply::error(
            StatusCode::FORBIDDEN,
            "accessDenied",
            "The Referrals API accepts only App+User tokens: this app-only token \
             (client credentials) has no user. Sign in as a user with the Referrals Admin or \
             Referrals User role.",
            None,
        )),
        Some(_) => Ok(()),
        None => Err(unauthenticated("The bearer token is not valid.")),
    }
}

/// The documented 401: `{"error":{"code":"unauthenticated","message":...}}`.
pub(crate) fn unauthenticated(message: &str) -> Reply {
    Reply::error(StatusCode::UNAUTHORIZED, "unauthenticated", message, None)
        .header(WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")
}

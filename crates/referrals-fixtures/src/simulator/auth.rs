//! Bearer-token checking and the OAuth2 client-credentials token endpoint.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::json;

use super::response::Reply;
use super::state::{State, lock};

/// The scope a client-credentials request must ask for.
pub(crate) const SCOPE: &str = "https://api.partner.microsoft.com/.default";

/// `Ok` when the request carries an accepted bearer token, else the 401 to send.
pub(crate) fn check(state: &State, headers: &HeaderMap) -> Result<(), Reply> {
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
    if token == state.config.token {
        return Ok(());
    }
    match lock(&state.issued).get(token) {
        Some(expiry) if *expiry > Instant::now() => Ok(()),
        Some(_) => Err(unauthenticated("The bearer token has expired.")),
        None => Err(unauthenticated("The bearer token is not valid.")),
    }
}

/// The documented 401: `{"error":{"code":"unauthenticated","message":...}}`.
pub(crate) fn unauthenticated(message: &str) -> Reply {
    Reply::error(StatusCode::UNAUTHORIZED, "unauthenticated", message, None)
        .header(WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")
}

/// `POST {authority}/{tenant}/oauth2/v2.0/token` with a form-encoded client-credentials grant.
pub(crate) fn token_endpoint(state: &State, tenant: &str, method: &Method, body: &Bytes) -> Reply {
    if method != Method::POST {
        return aad_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "The token endpoint only accepts POST.",
        );
    }
    if tenant != state.config.tenant {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("AADSTS90002: Tenant '{tenant}' not found."),
        );
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body is not UTF-8.",
        );
    };
    let mut grant_type = None;
    let mut client_id = None;
    let mut client_secret = None;
    let mut scope = None;
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|v| v.into_owned())
        };
        let (Ok(key), Ok(value)) = (decode(key), decode(value)) else {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The body is not valid form encoding.",
            );
        };
        match key.as_str() {
            "grant_type" => grant_type = Some(value),
            "client_id" => client_id = Some(value),
            "client_secret" => client_secret = Some(value),
            "scope" => scope = Some(value),
            _ => {}
        }
    }
    if grant_type.as_deref() != Some("client_credentials") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The grant_type must be 'client_credentials'.",
        );
    }
    if client_id.as_deref() != Some(state.config.client_id.as_str()) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application with the given client_id was not found in the tenant.",
        );
    }
    if client_secret.as_deref() != Some(state.config.client_secret.as_str()) {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000215: Invalid client secret provided.",
        );
    }
    if scope.as_deref() != Some(SCOPE) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("AADSTS70011: The scope must be '{SCOPE}'."),
        );
    }
    let token = format!("sim-{}", state.uuid().replace('-', ""));
    let lifetime = state.config.expires_in;
    let now = Instant::now();
    // An absurdly long lifetime means "never expires" rather than an overflow.
    let expiry = now
        .checked_add(lifetime)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
    lock(&state.issued).insert(token.clone(), expiry);
    let body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
    });
    Reply::json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
    .header(CACHE_CONTROL, "no-store, no-cache")
}

fn aad_error(status: StatusCode, error: &str, description: &str) -> Reply {
    let body = json!({ "error": error, "error_description": description });
    Reply::json(status, serde_json::to_vec(&body).unwrap_or_default())
}

//! Bearer-token checking and the OAuth2 token endpoint: client credentials (app-only), the
//! refresh-token grant with strict rotation and the device code grant (App+User).

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::json;

use super::assertion;
use super::device;
use super::response::Reply;
use super::state::{Issued, RefreshState, State, lock};

/// The scope a client-credentials request must ask for: the Referrals API.
pub(crate) const SCOPE: &str = referrals_query::scope::REFERRALS;
/// The Referrals API's audience.
pub(crate) const REFERRALS_AUDIENCE: &str = "https://api.partner.microsoft.com";
/// The Partner Center REST API's audience (webhook registrations and the like).
pub(crate) const PARTNER_CENTER_AUDIENCE: &str = "https://api.partnercenter.microsoft.com";

/// `Ok` when the request carries an accepted bearer token for the Referrals API, else the 401 (or
/// the 403 for an app-only token) to send.
pub(crate) fn check(state: &State, headers: &HeaderMap) -> Result<(), Reply> {
    check_for(state, headers, REFERRALS_AUDIENCE)
}

/// As [`check`], for a token of `audience` (the webhook registration API's is
/// [`PARTNER_CENTER_AUDIENCE`]); the configured static token is accepted for every audience.
pub(crate) fn check_for(state: &State, headers: &HeaderMap, audience: &str) -> Result<(), Reply> {
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
    let issued = lock(&state.issued).get(token).cloned();
    match issued {
        Some(issued) if issued.expiry <= Instant::now() => {
            Err(unauthenticated("The bearer token has expired."))
        }
        Some(issued) if issued.audience != audience => Err(unauthenticated(&format!(
            "The bearer token is for {}, not for {audience}.",
            issued.audience
        ))),
        Some(issued) if issued.app_only && !state.config.allow_app_only => Err(Reply::error(
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

/// A decoded form body.
pub(crate) type FormFields = HashMap<String, String>;

/// `POST {authority}/{tenant}/oauth2/v2.0/{leaf}`: `token` or `devicecode`.
pub(crate) fn endpoint(
    state: &State,
    tenant: &str,
    leaf: &str,
    method: &Method,
    body: &Bytes,
) -> Reply {
    if method != Method::POST {
        return aad_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "The endpoint only accepts POST.",
        );
    }
    if tenant != state.config.tenant {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            &format!("AADSTS90002: Tenant '{tenant}' not found."),
        );
    }
    let form = match parse_form(body) {
        Ok(form) => form,
        Err(reply) => return reply,
    };
    if form.get("client_id") != Some(&state.config.client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application with the given client_id was not found in the tenant.",
        );
    }
    if leaf == "devicecode" {
        return device::authorize(state, &form);
    }
    let grant = form.get("grant_type").map(String::as_str);
    match grant {
        Some("client_credentials") => client_credentials(state, &form),
        Some("refresh_token") => refresh(state, &form),
        Some(device::GRANT) => device::poll(state, &form),
        _ => aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The grant_type must be client_credentials, refresh_token or \
             urn:ietf:params:oauth:grant-type:device_code.",
        ),
    }
}

fn parse_form(body: &Bytes) -> Result<FormFields, Reply> {
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body is not UTF-8.",
        ));
    };
    let mut form = FormFields::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .map(|v| v.into_owned())
        };
        let (Ok(key), Ok(value)) = (decode(key), decode(value)) else {
            return Err(aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The body is not valid form encoding.",
            ));
        };
        form.insert(key, value);
    }
    Ok(form)
}

/// Checks the client's proof when it gives one: a secret must be right, an assertion must be
/// signed by the registered certificate. `required` for client credentials; the user grants of
/// this (public) client accept no proof at all.
fn authenticate_client(state: &State, form: &FormFields, required: bool) -> Result<(), Reply> {
    if let Some(secret) = form.get("client_secret") {
        if secret != &state.config.client_secret {
            return Err(aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            ));
        }
        return Ok(());
    }
    if let Some(jwt) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "AADSTS50027: client_assertion_type must be \
                 urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            ));
        }
        return assertion::verify(state, jwt).map_err(|why| {
            state.assertions_refused.fetch_add(1, Relaxed);
            aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &format!("AADSTS700027: Client assertion failed signature validation: {why}"),
            )
        });
    }
    if required {
        return Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000218: The request body must contain client_secret or client_assertion.",
        ));
    }
    Ok(())
}

/// The resource a scope list names, and whether it asks for `offline_access`.
pub(crate) fn read_scope(scope: Option<&String>) -> Result<(&'static str, bool), Reply> {
    let scope = scope.map(String::as_str).unwrap_or("");
    let mut audience = None;
    let mut offline = false;
    for part in scope.split(' ').filter(|s| !s.is_empty()) {
        if part == "offline_access" {
            offline = true;
            continue;
        }
        let known = [REFERRALS_AUDIENCE, PARTNER_CENTER_AUDIENCE]
            .into_iter()
            .find(|a| {
                part.strip_prefix(a)
                    .is_some_and(|rest| rest == "/.default" || rest == "/user_impersonation")
            });
        match known {
            Some(a) if audience.is_none() => audience = Some(a),
            _ => {
                return Err(aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!(
                        "AADSTS70011: The scope '{scope}' is not valid: ask for one of \
                         {REFERRALS_AUDIENCE}/.default or {PARTNER_CENTER_AUDIENCE}/.default."
                    ),
                ));
            }
        }
    }
    match audience {
        Some(audience) => Ok((audience, offline)),
        None => Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("AADSTS70011: The scope must be '{SCOPE}' (or another Partner Center scope)."),
        )),
    }
}

fn client_credentials(state: &State, form: &FormFields) -> Reply {
    if let Err(reply) = authenticate_client(state, form, true) {
        return reply;
    }
    let (audience, offline) = match read_scope(form.get("scope")) {
        Ok(scope) => scope,
        Err(reply) => return reply,
    };
    if offline || !form.get("scope").is_some_and(|s| s.ends_with("/.default")) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("AADSTS70011: The scope must be '{SCOPE}'."),
        );
    }
    issue(state, audience, true, false)
}

fn refresh(state: &State, form: &FormFields) -> Reply {
    if let Err(reply) = authenticate_client(state, form, false) {
        return reply;
    }
    let (audience, _) = match read_scope(form.get("scope")) {
        Ok(scope) => scope,
        Err(reply) => return reply,
    };
    let presented = form.get("refresh_token").cloned().unwrap_or_default();
    {
        let mut tokens = lock(&state.refresh_tokens);
        match tokens.get(&presented) {
            Some(RefreshState::Valid) => {
                tokens.insert(presented, RefreshState::Used);
            }
            Some(RefreshState::Used) => {
                state.refresh_reuses.fetch_add(1, Relaxed);
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "AADSTS70000: The refresh token has already been used (it was rotated).",
                );
            }
            None => {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "AADSTS9002313: The refresh token is not valid.",
                );
            }
        }
    }
    state.refresh_grants.fetch_add(1, Relaxed);
    // Rotation: every answer carries a successor, whether or not offline_access was repeated.
    issue(state, audience, false, true)
}

/// A new, unused refresh token (as if a user had signed in).
pub(crate) fn new_refresh_token(state: &State) -> String {
    let token = format!("simrt-{}", state.uuid().replace('-', ""));
    lock(&state.refresh_tokens).insert(token.clone(), RefreshState::Valid);
    *lock(&state.latest_refresh_token) = Some(token.clone());
    token
}

/// Issues an access token for `audience` (and, for a user, an id token and maybe a refresh
/// token).
pub(crate) fn issue(state: &State, audience: &str, app_only: bool, with_refresh: bool) -> Reply {
    let token = format!("sim-{}", state.uuid().replace('-', ""));
    let lifetime = state.config.expires_in;
    let now = Instant::now();
    // An absurdly long lifetime means "never expires" rather than an overflow.
    let expiry = now
        .checked_add(lifetime)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400));
    lock(&state.issued).insert(
        token.clone(),
        Issued {
            expiry,
            app_only,
            audience: audience.to_owned(),
        },
    );
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
        "scope": format!("{audience}/.default"),
    });
    if !app_only {
        body["id_token"] = json!(id_token(state));
        if with_refresh {
            body["refresh_token"] = json!(new_refresh_token(state));
        }
    }
    Reply::json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
    .header(CACHE_CONTROL, "no-store, no-cache")
}

/// An unsigned id token: the client reads its claims for display only.
fn id_token(state: &State) -> String {
    let encode = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&value).unwrap_or_default())
    };
    let header = encode(json!({"alg": "none", "typ": "JWT"}));
    let claims = encode(json!({
        "aud": state.config.client_id,
        "iss": format!("{}/auth/{}/v2.0", state.origin, state.config.tenant),
        "tid": state.config.tenant,
        "preferred_username": state.config.username,
        "name": "Simulated Referrals Admin",
    }));
    format!("{header}.{claims}.")
}

pub(crate) fn aad_error(status: StatusCode, error: &str, description: &str) -> Reply {
    let body = json!({ "error": error, "error_description": description });
    Reply::json(status, serde_json::to_vec(&body).unwrap_or_default())
}

//! The OAuth2 endpoints: `/token` (client credentials, app-only; the refresh-token grant with
//! strict rotation; the device code grant, App+User) and `/devicecode` (device authorization).
//!
//! A refusal quotes the credential it refuses in its `error_description` (the client secret,
//! the assertion, the refresh token, the device code), as a careless service might: whatever a
//! client shows of these answers, tests can then prove that no secret is in it.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine;
use bytes::Bytes;
use http::header::CACHE_CONTROL;
use http::{Method, StatusCode};
use serde_json::json;

use super::auth::{PARTNER_CENTER_AUDIENCE, REFERRALS_AUDIENCE, SCOPE};
use super::device::{self, DeviceGrant, DeviceStep, PollRefusal};
use super::form;
use super::response::Reply;
use super::tokens::{RefreshRefusal, Tokens};

/// A decoded form body.
pub(crate) type FormFields = HashMap<String, String>;

/// `POST {authority}/{tenant}/oauth2/v2.0/{leaf}`: `token` or `devicecode`.
pub(crate) fn endpoint(
    tokens: &Tokens,
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
    let settings = tokens.settings();
    if tenant != settings.tenant {
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
    if form.get("client_id") != Some(&settings.client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "AADSTS700016: Application with the given client_id was not found in the tenant.",
        );
    }
    if leaf == "devicecode" {
        return authorize_device(tokens, &form);
    }
    let grant = form.get("grant_type").map(String::as_str);
    match grant {
        Some("client_credentials") => client_credentials(tokens, &form),
        Some("refresh_token") => refresh(tokens, &form),
        Some(device::GRANT) => poll_device(tokens, &form),
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
    match form::pairs(text) {
        // A repeated field: the last one counts.
        Ok(pairs) => Ok(pairs.into_iter().map(|p| (p.name, p.value)).collect()),
        Err(_) => Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The body is not valid form encoding.",
        )),
    }
}

/// Checks the client's proof when it gives one: a secret must be right, an assertion must be
/// signed by the registered certificate. `required` for client credentials; the user grants of
/// this (public) client accept no proof at all.
fn authenticate_client(tokens: &Tokens, form: &FormFields, required: bool) -> Result<(), Reply> {
    if let Some(secret) = form.get("client_secret") {
        if secret != &tokens.settings().client_secret {
            return Err(aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &format!("AADSTS7000215: Invalid client secret provided: '{secret}'."),
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
        return tokens.accept_assertion(jwt).map_err(|why| {
            aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                &format!(
                    "AADSTS700027: Client assertion failed signature validation: {why} \
                     (assertion '{jwt}')"
                ),
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
fn read_scope(scope: Option<&String>) -> Result<(&'static str, bool), Reply> {
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

fn client_credentials(tokens: &Tokens, form: &FormFields) -> Reply {
    if let Err(reply) = authenticate_client(tokens, form, true) {
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
    issue(tokens, audience, true, false)
}

fn refresh(tokens: &Tokens, form: &FormFields) -> Reply {
    if let Err(reply) = authenticate_client(tokens, form, false) {
        return reply;
    }
    let (audience, _) = match read_scope(form.get("scope")) {
        Ok(scope) => scope,
        Err(reply) => return reply,
    };
    let presented = form.get("refresh_token").map_or("", String::as_str);
    match tokens.redeem_refresh_token(presented) {
        Ok(()) => {}
        Err(RefreshRefusal::Used) => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                &format!(
                    "AADSTS70000: The refresh token '{presented}' has already been used (it was \
                     rotated)."
                ),
            );
        }
        Err(RefreshRefusal::Unknown) => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                &format!("AADSTS9002313: The refresh token '{presented}' is not valid."),
            );
        }
    }
    // Rotation: every answer carries a successor, whether or not offline_access was repeated.
    issue(tokens, audience, false, true)
}

/// Issues an access token for `audience` (and, for a user, an id token and maybe a refresh
/// token).
fn issue(tokens: &Tokens, audience: &str, app_only: bool, with_refresh: bool) -> Reply {
    let token = tokens.issue(audience, app_only);
    let lifetime = tokens.settings().expires_in;
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
        "scope": format!("{audience}/.default"),
    });
    if !app_only {
        body["id_token"] = json!(id_token(tokens));
        if with_refresh {
            body["refresh_token"] = json!(tokens.new_refresh_token());
        }
    }
    Reply::json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
    .header(CACHE_CONTROL, "no-store, no-cache")
}

/// An unsigned id token: the client reads its claims for display only.
fn id_token(tokens: &Tokens) -> String {
    let settings = tokens.settings();
    let encode = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&value).unwrap_or_default())
    };
    let header = encode(json!({"alg": "none", "typ": "JWT"}));
    let claims = encode(json!({
        "aud": settings.client_id,
        "iss": format!("{}/{}/v2.0", tokens.authority_url(), settings.tenant),
        "tid": settings.tenant,
        "preferred_username": settings.username,
        "name": "Simulated Referrals Admin",
    }));
    format!("{header}.{claims}.")
}

fn aad_error(status: StatusCode, error: &str, description: &str) -> Reply {
    let body = json!({ "error": error, "error_description": description });
    Reply::json(status, serde_json::to_vec(&body).unwrap_or_default())
}

/// `POST …/devicecode`.
fn authorize_device(tokens: &Tokens, form: &FormFields) -> Reply {
    let (audience, offline) = match read_scope(form.get("scope")) {
        Ok(scope) => scope,
        Err(reply) => return reply,
    };
    let (device_code, user_code) = tokens.new_device_code(DeviceGrant { audience, offline });
    let verification_uri = format!("{}/devicelogin", tokens.authority_url());
    let settings = tokens.settings();
    let body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "expires_in": settings.device_expires_in.as_secs(),
        "interval": settings.device_interval.as_secs(),
        "message": format!(
            "To sign in, use a web browser to open the page {verification_uri} and enter the code \
             {user_code} to authenticate. (Simulator: it signs in by itself.)"
        ),
    });
    Reply::json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// A poll of `/token` with the device code grant.
fn poll_device(tokens: &Tokens, form: &FormFields) -> Reply {
    let code = form.get("device_code").map_or("", String::as_str);
    let (status, error, description): (_, _, Cow<'static, str>) =
        match tokens.poll_device_code(code) {
            Err(PollRefusal::Unknown) => (
                StatusCode::BAD_REQUEST,
                "bad_verification_code",
                format!("AADSTS70019: The device code '{code}' is not known.").into(),
            ),
            Err(PollRefusal::Redeemed) => (
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                format!("AADSTS54005: The device code '{code}' was already redeemed.").into(),
            ),
            Err(PollRefusal::Expired) | Ok((DeviceStep::Expire, _)) => (
                StatusCode::BAD_REQUEST,
                "expired_token",
                format!("AADSTS70020: The device code '{code}' has expired.").into(),
            ),
            Ok((DeviceStep::Pending | DeviceStep::PendingForever, _)) => (
                StatusCode::BAD_REQUEST,
                "authorization_pending",
                "AADSTS70016: The user has not finished signing in.".into(),
            ),
            Ok((DeviceStep::SlowDown, _)) => (
                StatusCode::BAD_REQUEST,
                "slow_down",
                "The client is polling too often.".into(),
            ),
            Ok((DeviceStep::Decline, _)) => (
                StatusCode::BAD_REQUEST,
                "authorization_declined",
                "AADSTS70000: The user declined the sign-in.".into(),
            ),
            Ok((DeviceStep::Unavailable, _)) => {
                return Reply::html(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "<!DOCTYPE html><html><body>Service Unavailable</body></html>",
                );
            }
            Ok((DeviceStep::Approve, grant)) => {
                return issue(tokens, grant.audience, false, grant.offline);
            }
        };
    aad_error(status, error, &description)
}

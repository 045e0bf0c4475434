//! The device code grant (RFC 8628): codes handed out by `/devicecode`, and polls of `/token`
//! answered from a script (pending, slow_down, approve, decline, expire).

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use http::StatusCode;
use serde_json::json;

use super::auth::{self, FormFields, aad_error};
use super::response::Reply;
use super::state::{DeviceCode, State, lock};

/// The device code grant type.
pub(crate) const GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How the simulated user answers each successive poll of one device code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceStep {
    /// `authorization_pending`: not signed in yet.
    Pending,
    /// `slow_down`: the client must add 5 s to its interval.
    SlowDown,
    /// The user signed in: tokens (with a refresh token when `offline_access` was asked).
    Approve,
    /// `authorization_declined`: the user refused.
    Decline,
    /// `expired_token`: the code expired.
    Expire,
    /// No OAuth answer: a gateway's HTML page with HTTP 503, as when the authority is briefly
    /// unreachable behind its front door.
    Unavailable,
}

/// `POST …/devicecode`.
pub(crate) fn authorize(state: &State, form: &FormFields) -> Reply {
    let (audience, offline) = match auth::read_scope(form.get("scope")) {
        Ok(scope) => scope,
        Err(reply) => return reply,
    };
    let device_code = format!("simdc-{}", state.uuid().replace('-', ""));
    let user_code: String = state.uuid().replace('-', "")[..8].to_uppercase();
    let verification_uri = format!("{}/auth/devicelogin", state.origin);
    let config = &state.config;
    lock(&state.device_codes).insert(
        device_code.clone(),
        DeviceCode {
            audience,
            offline,
            polls: 0,
            redeemed: false,
            expires_at: Instant::now() + config.device_expires_in,
        },
    );
    let body = json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "expires_in": config.device_expires_in.as_secs(),
        "interval": config.device_interval.as_secs(),
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
pub(crate) fn poll(state: &State, form: &FormFields) -> Reply {
    state.device_polls.fetch_add(1, Relaxed);
    let code = form.get("device_code").cloned().unwrap_or_default();
    let (step, audience, offline) = {
        let mut codes = lock(&state.device_codes);
        let Some(entry) = codes.get_mut(&code) else {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "bad_verification_code",
                "AADSTS70019: The device code is not known.",
            );
        };
        if entry.redeemed {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "AADSTS54005: The device code was already redeemed.",
            );
        }
        if Instant::now() >= entry.expires_at {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "expired_token",
                "AADSTS70020: The device code has expired.",
            );
        }
        let script = &state.config.device_script;
        let step = script
            .get(entry.polls)
            .or(script.last())
            .copied()
            .unwrap_or(DeviceStep::Approve);
        entry.polls += 1;
        if step == DeviceStep::Approve {
            entry.redeemed = true;
        }
        (step, entry.audience, entry.offline)
    };
    match step {
        DeviceStep::Pending => aad_error(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "AADSTS70016: The user has not finished signing in.",
        ),
        DeviceStep::SlowDown => aad_error(
            StatusCode::BAD_REQUEST,
            "slow_down",
            "The client is polling too often.",
        ),
        DeviceStep::Decline => aad_error(
            StatusCode::BAD_REQUEST,
            "authorization_declined",
            "AADSTS70000: The user declined the sign-in.",
        ),
        DeviceStep::Expire => aad_error(
            StatusCode::BAD_REQUEST,
            "expired_token",
            "AADSTS70020: The device code has expired.",
        ),
        DeviceStep::Unavailable => Reply::html(
            StatusCode::SERVICE_UNAVAILABLE,
            "<!DOCTYPE html><html><body>Service Unavailable</body></html>",
        ),
        DeviceStep::Approve => auth::issue(state, audience, false, offline),
    }
}

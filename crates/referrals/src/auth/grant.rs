//! One token request: the form sent to `{authority}/{tenant}/oauth2/v2.0/…` and the answer read
//! back (pure parsing, the sending at the edge).

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use referrals_query::AuthorityUrl;
use referrals_query::transport::Transport;

use super::error::{AuthError, ConfigProblem, EndpointProblem, Field};
use crate::Secret;

/// What a form value escapes: everything but the unreserved characters of RFC 3986.
pub(crate) const FORM_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The most characters of a server's text (an error code or description) an error keeps.
const SERVER_TEXT_CHARS: usize = 1000;

/// Text from the authority or a tool, as an error keeps it: every secret the process holds
/// masked ([`mask_secrets`](crate::mask_secrets)), control characters escaped, at most `max`
/// characters (masked before it is shortened, so no part of a secret is left at the cut).
pub(crate) fn server_text(text: &str, max: usize) -> String {
    referrals_query::snippet(&crate::mask_secrets(text), max)
}

/// A form-encoded body. Holds secrets (client secrets, refresh tokens, assertions), so it has
/// no `Debug` and is only ever turned into the body of a request to the authority.
pub(crate) struct Form {
    body: String,
    /// The secrets in the body, held until the answer is read so that an answer echoing one
    /// finds it masked (an assertion lives no longer than its request).
    secrets: Vec<Secret>,
}

impl Form {
    pub(crate) fn new() -> Self {
        Form {
            body: String::new(),
            secrets: Vec::new(),
        }
    }

    pub(crate) fn field(mut self, key: &str, value: &str) -> Self {
        if !self.body.is_empty() {
            self.body.push('&');
        }
        self.body
            .extend(utf8_percent_encode(key, FORM_VALUE).map(str::to_owned));
        self.body.push('=');
        self.body
            .extend(utf8_percent_encode(value, FORM_VALUE).map(str::to_owned));
        self
    }

    pub(crate) fn secret(mut self, key: &str, value: &Secret) -> Self {
        self.secrets.push(value.clone());
        self.field(key, value.expose())
    }

    pub(crate) fn into_body(self) -> String {
        self.body
    }
}

/// A successful token answer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TokenAnswer {
    /// The access token.
    pub access_token: Secret,
    /// Its lifetime from `expires_in` (five minutes when absent).
    pub lifetime: Duration,
    /// The new refresh token, when the authority sent one (it replaces the old one).
    pub refresh_token: Option<Secret>,
    /// Who signed in, read from the id token (display only).
    pub id: IdClaims,
    /// The scopes granted, when given.
    pub scope: Option<String>,
}

/// Claims read from an id token for display; never used for an access decision (the signature is
/// not checked: the token came straight from the authority over TLS and only names the user).
/// Being for display, their control characters are escaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IdClaims {
    /// `preferred_username`, e.g. `admin@contoso.onmicrosoft.com`.
    pub username: Option<String>,
    /// `tid`, the tenant the user signed in to.
    pub tenant_id: Option<String>,
}

impl IdClaims {
    /// Reads the claims of a JWT's payload; anything unreadable gives empty claims.
    pub fn from_id_token(token: &str) -> IdClaims {
        let Some(payload) = token.split('.').nth(1) else {
            return IdClaims::default();
        };
        let Ok(bytes) =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
        else {
            return IdClaims::default();
        };
        let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return IdClaims::default();
        };
        let text = |key: &str| {
            claims
                .get(key)
                .and_then(|v| v.as_str())
                .map(|s| referrals_query::printable(s).into_owned())
        };
        IdClaims {
            username: text("preferred_username").or_else(|| text("upn")),
            tenant_id: text("tid"),
        }
    }
}

/// What the authority answered, classified.
#[derive(Debug)]
pub(crate) enum Answer {
    Token(TokenAnswer),
    /// An OAuth error: `(status, error, error_description)`.
    Error(u16, String, Option<String>),
}

/// Reads a token endpoint's answer. Anything but a JSON object (an HTML error page, a truncated
/// body) is an `Err` naming what arrived.
pub(crate) fn parse_answer(status: u16, body: &[u8]) -> Result<Answer, String> {
    let value: serde_json::Value = match serde_json::from_slice(body) {
        Ok(value @ serde_json::Value::Object(_)) => value,
        _ => return Err(describe_unusable(status, body)),
    };
    let text = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if !(200..300).contains(&status) || value.get("error").is_some() {
        let (code, description) = error_texts(&value);
        return Ok(Answer::Error(status, code, description));
    }
    let access_token = text("access_token")
        .ok_or_else(|| format!("the answer (HTTP {status}) has no access_token"))?;
    // `expires_in` is a number in v2 answers and a string in some v1 ones.
    let lifetime = value
        .get("expires_in")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(300));
    Ok(Answer::Token(TokenAnswer {
        access_token: Secret::new(access_token),
        lifetime,
        refresh_token: text("refresh_token").map(Secret::new),
        id: text("id_token")
            .map(|t| IdClaims::from_id_token(&t))
            .unwrap_or_default(),
        scope: text("scope"),
    }))
}

/// The `error` (or `unknown`) and `error_description` of an OAuth error answer, as an error
/// keeps them ([`server_text`]).
pub(crate) fn error_texts(answer: &serde_json::Value) -> (String, Option<String>) {
    let text = |key: &str| {
        answer
            .get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(|s| server_text(s, SERVER_TEXT_CHARS))
    };
    (
        text("error").unwrap_or_else(|| "unknown".into()),
        text("error_description"),
    )
}

fn describe_unusable(status: u16, body: &[u8]) -> String {
    let start = String::from_utf8_lossy(&body[..body.len().min(256)]).to_lowercase();
    let what = if body.is_empty() {
        "an empty body"
    } else if start.contains("<html") || start.contains("<!doctype") {
        "an HTML page"
    } else {
        "something that is not a JSON object"
    };
    format!("the authority answered {what} (HTTP {status}), not a token answer")
}

/// Posts `form` to `endpoint` (which must be on `authority`) and reads the answer.
pub(crate) async fn post(
    transport: &dyn Transport,
    authority: &AuthorityUrl,
    endpoint: &str,
    form: Form,
) -> Result<Answer, AuthError> {
    let unavailable = |problem: EndpointProblem| AuthError::Unavailable {
        endpoint: endpoint.to_owned(),
        problem,
    };
    if !authority.is_same_origin(endpoint) {
        return Err(unavailable(EndpointProblem::OffAuthority));
    }
    let request = http::Request::post(endpoint)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .body(Bytes::from(form.body))
        .map_err(|_| unavailable(EndpointProblem::InvalidUri))?;
    let response = transport
        .send(request)
        .await
        .map_err(|e| unavailable(EndpointProblem::Transport(e)))?;
    let answer = parse_answer(response.status().as_u16(), response.body())
        .map_err(|what| unavailable(EndpointProblem::Unusable(what)));
    drop(form.secrets);
    answer
}

/// An OAuth error answer as an [`AuthError::Refused`].
pub(crate) fn refused(status: u16, code: String, description: Option<String>) -> AuthError {
    AuthError::Refused {
        status,
        code,
        description,
    }
}

/// `{authority}/{tenant}/oauth2/v2.0/{leaf}`.
/// The tenant and the application (client) id of a sign-in, refused when either is empty.
pub(crate) fn identity(tenant: String, client_id: String) -> Result<(String, String), AuthError> {
    if tenant.trim().is_empty() {
        return Err(ConfigProblem::Empty(Field::Tenant).into());
    }
    if client_id.trim().is_empty() {
        return Err(ConfigProblem::Empty(Field::ClientId).into());
    }
    Ok((tenant, client_id))
}

pub(crate) fn endpoint(authority: &AuthorityUrl, tenant: &str, leaf: &str) -> String {
    let token = authority.token_endpoint(tenant);
    match token.strip_suffix("token") {
        Some(base) => format!("{base}{leaf}"),
        None => token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_and_bad_ones_named() {
        let Ok(Answer::Token(token)) = parse_answer(
            200,
            br#"{"access_token":"a","expires_in":"3599","refresh_token":"r"}"#,
        ) else {
            panic!("a token answer")
        };
        assert_eq!(token.lifetime, Duration::from_secs(3599));
        assert_eq!(token.refresh_token.as_ref().map(Secret::expose), Some("r"));

        let Ok(Answer::Error(400, code, Some(_))) = parse_answer(
            400,
            br#"{"error":"invalid_grant","error_description":"AADSTS70008"}"#,
        ) else {
            panic!("an error answer")
        };
        assert_eq!(code, "invalid_grant");

        let html = parse_answer(502, b"<!DOCTYPE html><html>Bad gateway</html>").unwrap_err();
        assert!(html.contains("HTML page (HTTP 502)"), "{html}");
        let truncated = parse_answer(200, br#"{"access_token":"ab"#).unwrap_err();
        assert!(truncated.contains("not a JSON object"), "{truncated}");
        assert!(parse_answer(200, br#"{"token_type":"Bearer"}"#).is_err());
    }

    #[test]
    fn id_token_claims_are_read_for_display() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"preferred_username":"ada@contoso.com","tid":"t-1"}"#);
        let claims = IdClaims::from_id_token(&format!("e30.{payload}.sig"));
        assert_eq!(claims.username.as_deref(), Some("ada@contoso.com"));
        assert_eq!(claims.tenant_id.as_deref(), Some("t-1"));
        assert_eq!(IdClaims::from_id_token("garbage"), IdClaims::default());
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"preferred_username":"ada\u001b[2J@contoso.com"}"#);
        let claims = IdClaims::from_id_token(&format!("e30.{payload}.sig"));
        assert_eq!(
            claims.username.as_deref(),
            Some("ada\\u{1b}[2J@contoso.com"),
            "shown without control characters"
        );
        assert_eq!(IdClaims::from_id_token("a.!!!.c"), IdClaims::default());
    }

    #[test]
    fn endpoints_share_the_tenant_path() {
        let authority = AuthorityUrl::parse("http://127.0.0.1:9/auth").unwrap();
        assert_eq!(
            endpoint(&authority, "t", "devicecode"),
            "http://127.0.0.1:9/auth/t/oauth2/v2.0/devicecode"
        );
    }
}

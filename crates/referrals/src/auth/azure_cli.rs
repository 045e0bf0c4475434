//! The Azure CLI credential: `az account get-access-token`, with a timeout.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use referrals_query::transport::{BoxFuture, Transport};

use super::error::{AuthError, AzureCliProblem};
use super::grant::server_text;
use super::memory::SingleFlight;
use super::{PARTNER_CENTER_SCOPE, TokenProvider};
use crate::Secret;

/// How long `az` may take unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most characters of `az`'s error output an error keeps.
const FAILURE_CHARS: usize = 300;

/// When `az` reports only `expiresOn` (local time, no zone), the token is used this long before
/// asking `az` again (which answers from its own cache).
const UNKNOWN_LIFETIME: Duration = Duration::from_secs(300);

/// A token read from `az` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureCliToken {
    /// `accessToken`.
    pub token: Secret,
    /// From `expires_on` (Unix seconds), when given.
    pub expires_at: Option<SystemTime>,
}

/// Reads `az account get-access-token --output json`: `accessToken`, and `expires_on` (Unix
/// seconds, number or text) when present.
pub fn parse_az_output(stdout: &[u8]) -> Result<AzureCliToken, AuthError> {
    let value: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| AuthError::AzureCli(AzureCliProblem::NotJson(e)))?;
    let token = value
        .get("accessToken")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::AzureCli(AzureCliProblem::NoAccessToken))?;
    let expires_at = value
        .get("expires_on")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
        .map(|seconds| UNIX_EPOCH + Duration::from_secs(seconds));
    Ok(AzureCliToken {
        token: Secret::new(token),
        expires_at,
    })
}

/// The resource `az` is asked for: the scope without `/.default`.
fn resource(scope: &str) -> &str {
    let first = scope.split(' ').next().unwrap_or(scope);
    first.strip_suffix("/.default").unwrap_or(first)
}

/// Access tokens from the Azure CLI's signed-in account (`az login`), App+User.
#[derive(Clone)]
pub struct AzureCli {
    program: OsString,
    tenant: Option<String>,
    timeout: Duration,
    tokens: Arc<SingleFlight>,
}

impl fmt::Debug for AzureCli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureCli")
            .field("program", &self.program)
            .field("tenant", &self.tenant)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Default for AzureCli {
    fn default() -> Self {
        AzureCli::new()
    }
}

impl AzureCli {
    /// `az` from `PATH`, the CLI's default tenant, a 30 s timeout.
    pub fn new() -> Self {
        AzureCli {
            program: "az".into(),
            tenant: None,
            timeout: DEFAULT_TIMEOUT,
            tokens: Arc::default(),
        }
    }

    /// Another program (a full path to `az`).
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into().into_os_string();
        self
    }

    /// `--tenant`.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        let tenant = tenant.into();
        self.tenant = (!tenant.trim().is_empty()).then_some(tenant);
        self
    }

    /// How long `az` may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Runs `az account get-access-token` for `scope`.
    pub async fn fetch(&self, scope: &str) -> Result<AzureCliToken, AuthError> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(["account", "get-access-token", "--resource", resource(scope)])
            .args(["--output", "json"]);
        if let Some(tenant) = &self.tenant {
            command.args(["--tenant", tenant]);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = command.spawn().map_err(|e| {
            AuthError::AzureCli(if e.kind() == std::io::ErrorKind::NotFound {
                AzureCliProblem::NotFound
            } else {
                AzureCliProblem::Unstartable(e)
            })
        })?;
        let output = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                AuthError::AzureCli(AzureCliProblem::TimedOut {
                    after: self.timeout,
                })
            })?
            .map_err(|e| AuthError::AzureCli(AzureCliProblem::Unreadable(e)))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let line = stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no message");
            // Reading what `az` printed is this credential's job: whether it asks for a sign-in.
            return Err(AuthError::AzureCli(AzureCliProblem::Failed {
                message: server_text(line, FAILURE_CHARS),
                asks_for_login: stderr.contains("az login"),
            }));
        }
        parse_az_output(&output.stdout)
    }
}

impl TokenProvider for AzureCli {
    fn token<'a>(
        &'a self,
        transport: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        self.token_for(PARTNER_CENTER_SCOPE, transport)
    }

    fn token_for<'a>(
        &'a self,
        scope: &'a str,
        _: &'a dyn Transport,
    ) -> BoxFuture<'a, Result<Secret, AuthError>> {
        Box::pin(self.tokens.get_or_fetch(scope, move || async move {
            let fetched = self.fetch(scope).await?;
            let lifetime = fetched
                .expires_at
                .and_then(|at| at.duration_since(SystemTime::now()).ok())
                .unwrap_or(UNKNOWN_LIFETIME);
            tracing::debug!(scope, "got an access token from the Azure CLI");
            Ok((fetched.token, lifetime))
        }))
    }

    fn invalidate(&self, token: &Secret) {
        self.tokens.invalidate(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn az_output_is_read_in_both_forms() {
        let new = parse_az_output(
            br#"{"accessToken":"eyJ","expiresOn":"2026-12-01 20:00:00.000000","expires_on":1800000000,"tenant":"t","tokenType":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(new.token.expose(), "eyJ");
        assert_eq!(
            new.expires_at,
            Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000))
        );
        let old = parse_az_output(br#"{"accessToken":"eyJ","expiresOn":"2026-12-01 20:00:00.000000","expires_on":"1800000000"}"#).unwrap();
        assert_eq!(old.expires_at, new.expires_at);
        let older =
            parse_az_output(br#"{"accessToken":"eyJ","expiresOn":"2026-12-01 20:00:00.000000"}"#)
                .unwrap();
        assert_eq!(older.expires_at, None);
        assert!(matches!(
            parse_az_output(b"ERROR: not json"),
            Err(AuthError::AzureCli(AzureCliProblem::NotJson(_)))
        ));
        assert!(matches!(
            parse_az_output(br#"{"tokenType":"Bearer"}"#),
            Err(AuthError::AzureCli(AzureCliProblem::NoAccessToken))
        ));
    }

    #[test]
    fn the_resource_is_the_scope_without_default() {
        assert_eq!(
            resource(PARTNER_CENTER_SCOPE),
            "https://api.partner.microsoft.com"
        );
        assert_eq!(
            resource("https://api.partnercenter.microsoft.com/.default offline_access"),
            "https://api.partnercenter.microsoft.com"
        );
    }
}

//! Why no token could be had, typed so that callers decide by kind: each variant states what
//! happened and keeps its cause (`source()`); what to do about it is the caller's to say.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use referrals_query::BaseUrlError;
use referrals_query::transport::TransportError;

use super::cache::FORMAT_VERSION;
use super::env;
use super::source::{CredentialSource, UnknownCredentialSource};

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Required configuration is missing or invalid.
    #[error("authentication is not configured: {0}")]
    NotConfigured(#[source] ConfigProblem),
    /// The authority refused the credentials.
    #[error("authentication failed: the token endpoint refused the request (HTTP {status}): {code}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The OAuth error code (`invalid_client`...), or `unknown`.
        code: String,
        /// The authority's description, if any, with every secret the process holds masked and
        /// control characters escaped (at most 1000 characters).
        description: Option<String>,
    },
    /// The token endpoint could not be reached or answered something unusable.
    #[error("authentication failed: cannot get a token from {endpoint}: {problem}")]
    Unavailable {
        /// The endpoint (no secrets in it).
        endpoint: String,
        /// What went wrong.
        #[source]
        problem: EndpointProblem,
    },
    /// The API rejected a freshly issued token too.
    #[error(
        "authentication failed: the API rejected the credentials (HTTP 401) even after a token refresh"
    )]
    Rejected,
    /// An interactive sign-in or a stored sign-in cannot go on: the code expired, the user
    /// declined, the refresh token was used, expired or revoked.
    #[error("sign-in failed ({code}): {}", problem.describe(description.as_deref()))]
    SignIn {
        /// The OAuth error code (`expired_token`, `authorization_declined`, `invalid_grant`...).
        code: String,
        /// What happened.
        problem: SignInProblem,
        /// The authority's description, if any, with every secret the process holds masked and
        /// control characters escaped (at most 1000 characters).
        description: Option<String>,
    },
    /// The token cache cannot be used (corrupt, readable by others, owned by another user,
    /// unwritable); it is never silently used or overwritten.
    #[error("token cache {}: {problem}", path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        problem: CacheProblem,
    },
    /// The Azure CLI is missing, failed or did not answer in time.
    #[error("Azure CLI: {0}")]
    AzureCli(#[source] AzureCliProblem),
    /// No credential source could be used: each one tried, in order, and why it gave no token.
    #[error("no credentials could be used; tried, in order:{}", tried.iter().map(|attempt| format!("\n  - {attempt}")).collect::<String>())]
    NoCredential {
        /// The sources tried, in order.
        tried: Vec<Attempt>,
    },
}

impl AuthError {
    /// The sign-in `problem`, with the authority's `code` and `description`.
    pub fn sign_in(
        problem: SignInProblem,
        code: impl Into<String>,
        description: Option<String>,
    ) -> Self {
        AuthError::SignIn {
            code: code.into(),
            problem,
            description,
        }
    }
}

impl From<ConfigProblem> for AuthError {
    fn from(problem: ConfigProblem) -> Self {
        AuthError::NotConfigured(problem)
    }
}

impl From<CertificateProblem> for AuthError {
    fn from(problem: CertificateProblem) -> Self {
        AuthError::NotConfigured(ConfigProblem::Certificate(problem))
    }
}

/// What is missing or invalid in the configuration ([`AuthError::NotConfigured`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// A value that must not be empty is.
    #[error("the {0} is empty")]
    Empty(Field),
    /// Client credentials were asked for without a client secret or certificate.
    #[error("client credentials need a client secret or a certificate")]
    NotConfidential,
    /// The authority URL is not usable. Its text shows the URL without its password.
    #[error("{}", referrals_query::mask_url_passwords(&.0.to_string()))]
    Authority(BaseUrlError),
    /// The client certificate cannot be used.
    #[error(transparent)]
    Certificate(CertificateProblem),
    /// The credential gives tokens for one scope only, and another was asked for.
    #[error("this credential gives tokens for {offered} only, not for {asked}")]
    ScopeNotOffered {
        /// The scope it serves.
        offered: String,
        /// The scope asked for.
        asked: String,
    },
    /// A name that is no credential source.
    #[error(transparent)]
    UnknownSource(UnknownCredentialSource),
    /// The credential source that was chosen (`REFERRALS_AUTH`, or the caller's choice) is not
    /// configured.
    #[error("credential source `{credential}` ({}): {reason}", credential.label())]
    Chosen {
        /// The source chosen.
        credential: CredentialSource,
        /// Why it cannot be used.
        #[source]
        reason: Unconfigured,
    },
    /// A refresh-token credential has no refresh token: none was given, and the cache holds
    /// none for the account.
    #[error("no refresh token for client {client_id} in tenant {tenant}")]
    NoRefreshToken {
        /// The application (client) id.
        client_id: String,
        /// The tenant.
        tenant: String,
    },
    /// The token cannot be sent: it has characters a header cannot carry.
    #[error("the token has characters that cannot be sent in a header")]
    UnsendableToken,
    /// The value of an environment variable (or setting) is the problem.
    #[error("{name}: {problem}")]
    Variable {
        /// The variable, e.g. [`env::AUTHORITY_HOST`].
        name: &'static str,
        /// What is wrong with its value.
        #[source]
        problem: Box<ConfigProblem>,
    },
}

impl ConfigProblem {
    /// `problem` with the value of the variable `name`.
    pub fn in_variable(name: &'static str, problem: ConfigProblem) -> Self {
        ConfigProblem::Variable {
            name,
            problem: Box::new(problem),
        }
    }

    /// The problem itself, under any [`ConfigProblem::Variable`] that names where it is.
    pub fn innermost(&self) -> &ConfigProblem {
        match self {
            ConfigProblem::Variable { problem, .. } => problem.innermost(),
            other => other,
        }
    }
}

/// A value of the sign-in configuration ([`ConfigProblem::Empty`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Field {
    /// The tenant id (or domain).
    #[error("tenant id")]
    Tenant,
    /// The application (client) id.
    #[error("client id")]
    ClientId,
    /// The client secret.
    #[error("client secret")]
    ClientSecret,
}

/// Why a client certificate cannot be used ([`ConfigProblem::Certificate`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// The file cannot be read.
    #[error("cannot read the client certificate {}: {error}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The reading error.
        #[source]
        error: io::Error,
    },
    /// The PEM text is not a certificate with its key.
    #[error("the client certificate {name}: {problem}")]
    Invalid {
        /// The file (or what the text was called).
        name: String,
        /// What is wrong.
        problem: PemProblem,
    },
    /// The key cannot sign an assertion.
    #[error("cannot sign a client assertion with the certificate's key: {0}")]
    Signing(#[source] jsonwebtoken::errors::Error),
}

/// What is wrong with the PEM text of a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PemProblem {
    /// Not PEM at all.
    #[error("is not valid PEM")]
    NotPem,
    /// No `CERTIFICATE` block.
    #[error("has no CERTIFICATE block")]
    NoCertificate,
    /// No `PRIVATE KEY` block.
    #[error("has no PRIVATE KEY block (PKCS#8, unencrypted)")]
    NoPrivateKey,
    /// A key that is not RSA (or not one the signer reads).
    #[error("the private key is not an RSA key jsonwebtoken can use")]
    NotRsaKey,
}

/// Why a token or device code endpoint gave no usable answer ([`AuthError::Unavailable`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointProblem {
    /// The endpoint is not on the configured authority; nothing was sent.
    #[error("the endpoint is not on the configured authority")]
    OffAuthority,
    /// The endpoint is not a valid URI; nothing was sent.
    #[error("the endpoint is not a valid URI")]
    InvalidUri,
    /// The request failed (no connection, a timeout...).
    #[error(transparent)]
    Transport(TransportError),
    /// The answer is not an OAuth answer (an HTML page, an empty body, a missing field); says
    /// what arrived.
    #[error("{0}")]
    Unusable(String),
    /// The device code sign-in stopped after this many polls in a row without an answer.
    #[error("{last} ({polls} polls in a row failed; the sign-in stopped)")]
    GaveUp {
        /// Polls in a row that failed.
        polls: u32,
        /// The last one's problem.
        #[source]
        last: Box<EndpointProblem>,
    },
}

/// Why a sign-in stopped ([`AuthError::SignIn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignInProblem {
    /// The device code expired before the user finished.
    Expired,
    /// The user declined.
    Declined,
    /// The authority does not know the device code.
    UnknownCode,
    /// The refresh token was refused: used already, expired or revoked.
    RefreshTokenRefused,
    /// The sign-in gave no refresh token (the app registration does not allow
    /// `offline_access`).
    NoRefreshToken,
}

impl SignInProblem {
    fn describe(self, description: Option<&str>) -> String {
        let said = |d: &str| format!(" ({d})");
        match self {
            SignInProblem::Expired => format!(
                "the sign-in code expired before the sign-in was completed{}",
                description.map(said).unwrap_or_default()
            ),
            SignInProblem::Declined => format!(
                "the sign-in was declined{}",
                description.map(said).unwrap_or_default()
            ),
            SignInProblem::UnknownCode => format!(
                "the authority does not know this sign-in code{}",
                description.map(said).unwrap_or_default()
            ),
            SignInProblem::RefreshTokenRefused => format!(
                "the refresh token was refused{}",
                said(description.unwrap_or("used, expired or revoked"))
            ),
            SignInProblem::NoRefreshToken => {
                "the authority sent no refresh token; the app registration must allow \
                 offline_access"
                    .to_owned()
            }
        }
    }
}

/// Why the token cache cannot be used ([`AuthError::Cache`]); it is left as it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheProblem {
    /// It cannot be read.
    #[error("cannot be read: {0}")]
    Unreadable(#[source] io::Error),
    /// It is a directory or a device.
    #[error("is not a regular file")]
    NotAFile,
    /// Other users may read or write it, so its tokens may have leaked.
    #[error(
        "is accessible to other users (mode {mode:04o}), so its tokens may have leaked; it was \
         not used"
    )]
    Exposed {
        /// Its permission bits.
        mode: u32,
    },
    /// Another user owns it.
    #[error("is owned by another user (uid {owner}, you are {me}); it was not used")]
    OwnedByAnother {
        /// Its owner.
        owner: u32,
        /// The user running this program.
        me: u32,
    },
    /// It is larger than any token cache.
    #[error(
        "is larger than {}, the limit for a token cache; it was left as is",
        crate::file::Size(*limit)
    )]
    TooLarge {
        /// The limit ([`MAX_CACHE_BYTES`](crate::auth::MAX_CACHE_BYTES)).
        limit: u64,
    },
    /// It is not a token cache (not JSON, truncated).
    #[error("is not a valid token cache (line {}, column {}: {error}); it was left as is", error.line(), error.column())]
    Corrupt {
        /// Where and what.
        #[source]
        error: serde_json::Error,
    },
    /// It is of a format version this program does not read.
    #[error(
        "has format version {found}, this program reads version {FORMAT_VERSION}; it was left as is"
    )]
    Version {
        /// The file's version.
        found: u32,
    },
    /// The contents cannot be encoded.
    #[error("cannot be encoded: {0}")]
    Unencodable(#[source] serde_json::Error),
    /// It cannot be written.
    #[error("cannot be written: {0}")]
    Unwritable(#[source] io::Error),
    /// Its directory cannot be created.
    #[error("its directory cannot be created: {0}")]
    NoDirectory(#[source] io::Error),
    /// Its lock file cannot be opened.
    #[error("its lock file cannot be opened: {0}")]
    LockFile(#[source] io::Error),
    /// It cannot be locked.
    #[error("cannot be locked: {0}")]
    Unlockable(#[source] io::Error),
    /// Another process held the lock too long.
    #[error("another process has held its lock for over {} s", .waited.as_secs())]
    LockTimeout {
        /// How long this process waited.
        waited: Duration,
    },
}

/// Why the Azure CLI gave no token ([`AuthError::AzureCli`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AzureCliProblem {
    /// `az` is not installed (or not where it was said to be).
    #[error("`az` was not found")]
    NotFound,
    /// `az` cannot be started.
    #[error("cannot run `az`: {0}")]
    Unstartable(#[source] io::Error),
    /// `az` did not answer in time (it was stopped).
    #[error("`az account get-access-token` did not answer within {} s", .after.as_secs())]
    TimedOut {
        /// The time it was given.
        after: Duration,
    },
    /// Its output cannot be read.
    #[error("cannot read `az` output: {0}")]
    Unreadable(#[source] io::Error),
    /// `az` failed; its first line of error output.
    #[error("`az account get-access-token` failed: {message}")]
    Failed {
        /// The first non-empty line `az` wrote to stderr (at most 300 characters), with every
        /// secret the process holds masked and control characters escaped.
        message: String,
        /// True when `az` says to run `az login` (no account is signed in).
        asks_for_login: bool,
    },
    /// It printed something that is not JSON.
    #[error("`az account get-access-token` did not print JSON")]
    NotJson(#[source] serde_json::Error),
    /// Its JSON has no `accessToken`.
    #[error("`az account get-access-token` printed no accessToken")]
    NoAccessToken,
}

/// Why a credential source is not configured: what it looked for and did not find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unconfigured {
    /// Its variable is not set.
    #[error("not set")]
    NotSet {
        /// The variable.
        variable: &'static str,
    },
    /// Its variable is set, but another one it needs is not.
    #[error("set, but {needs} is not")]
    NeedsAlso {
        /// The variable that is set.
        variable: &'static str,
        /// The one missing.
        needs: &'static str,
    },
    /// There is no config directory to keep a token cache in (and no `REFERRALS_TOKEN_CACHE`).
    #[error("no config directory for a token cache")]
    NoCacheDirectory,
    /// The token cache holds no sign-in for the authority (and tenant and client id, when set).
    #[error("no sign-in for {authority} in {}", cache.display())]
    NoSignIn {
        /// The authority.
        authority: String,
        /// The cache file.
        cache: PathBuf,
    },
    /// Several sign-ins in the token cache match.
    #[error(
        "{count} sign-ins in {} match; set {} and {} to choose",
        cache.display(),
        env::CLIENT_ID,
        env::TENANT_ID
    )]
    SeveralSignIns {
        /// How many match.
        count: usize,
        /// The cache file.
        cache: PathBuf,
    },
    /// Variables it needs are not set.
    #[error(
        "needs {}, {} and {} (or {}); missing: {}",
        env::TENANT_ID,
        env::CLIENT_ID,
        env::CLIENT_SECRET,
        env::CLIENT_CERTIFICATE_PATH,
        missing.join(", ")
    )]
    Missing {
        /// The variables missing, in the order above.
        missing: Vec<&'static str>,
    },
    /// Its program is not on `PATH`.
    #[error("`{program}` is not on PATH")]
    NotOnPath {
        /// The program.
        program: &'static str,
    },
}

/// One credential source the chain tried, and why it gave no token
/// ([`AuthError::NoCredential`]). Shown as `{label}: {why}`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {outcome}", credential.label())]
#[non_exhaustive]
pub struct Attempt {
    /// The source.
    pub credential: CredentialSource,
    /// Why it gave no token.
    #[source]
    pub outcome: AttemptFailure,
}

impl Attempt {
    /// `credential` was tried and gave no token because of `outcome`.
    pub fn new(credential: CredentialSource, outcome: AttemptFailure) -> Self {
        Attempt {
            credential,
            outcome,
        }
    }
}

/// Why one source of the chain gave no token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttemptFailure {
    /// It is not configured.
    #[error(transparent)]
    NotConfigured(Unconfigured),
    /// It is configured, and failed.
    #[error("{}", describe_failure(.0))]
    Failed(#[source] Box<AuthError>),
}

/// A source's own failure, without the source's name again (`Azure CLI: ` after `the Azure
/// CLI: ` would say it twice).
fn describe_failure(error: &AuthError) -> String {
    match error {
        AuthError::AzureCli(problem) => problem.to_string(),
        other => other.to_string(),
    }
}

//! Why a command failed, how it is reported on stderr, and the exit code it maps to.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use referrals::ErrorKind;
use referrals::auth::{
    AttemptFailure, AuthError, AzureCliProblem, CacheProblem, ConfigProblem, CredentialSource,
    Field, SignInProblem, Unconfigured, env,
};
use referrals_report::ReportError;
use referrals_sync::MirrorError;
use referrals_sync::push::PushError;

/// Success.
pub const OK: u8 = 0;
/// The API answered with an error, or the network failed.
pub const API: u8 = 1;
/// Bad arguments or input; nothing was sent (clap uses 2 for its own errors too).
pub const USAGE: u8 = 2;
/// Configuration or authentication.
pub const CONFIG: u8 = 3;
/// A listing stopped part-way; stderr shows how to resume it.
pub const INTERRUPTED: u8 = 4;
/// A response could not be decoded.
pub const DECODE: u8 = 5;
/// `sync` completed, but some referrals it received could not be decoded: they are kept in
/// the mirror's quarantine (`list --db PATH --quarantined`).
pub const QUARANTINED: u8 = 6;
/// `referrals due` found referrals due: not an error, a signal for the cron job that runs it.
pub const DUE: u8 = 7;
/// `push`: the endpoint refused a change.
pub const PUSH_REFUSED: u8 = 8;

/// A command that did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or input, found before any request.
    Usage(String),
    /// The client's error, outside a listing (or before its first request).
    Client(referrals::Error),
    /// A listing (or a sync) that stopped part-way, and what continues it: lines printed
    /// after the error, empty when resuming cannot help.
    Interrupted {
        /// Why it stopped.
        error: referrals::Error,
        /// How to continue (the `--resume` option and command line, or the command to run again).
        resume: Vec<String>,
    },
    /// A listing stopped by a signal (Ctrl-C, `kill`); what it wrote is complete and the resume
    /// hint has been printed already.
    Stopped(String),
    /// Writing the output failed.
    Output(io::Error),
    /// Something local failed (the embedded simulator could not start...).
    Local(String),
    /// The config file or a setting from the environment cannot be used.
    Config(String),
    /// The local mirror cannot be used (missing, locked, corrupt, full...).
    Mirror(MirrorError),
    /// A sync completed, but set aside referrals it could not decode.
    Quarantined {
        /// The mirror.
        db: PathBuf,
        /// The ids of the referrals set aside (`None`: an item without an id), in the order
        /// received.
        ids: Vec<Option<String>>,
    },
    /// `referrals due` listed this many due referrals (exit code 7; nothing more to report).
    Due(usize),
    /// Lines of a batch (`create --from`) were refused or failed; stdout says which and why.
    Lines(String),
    /// `push` stopped at a change (or could not start).
    Push(Box<PushError>),
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => USAGE,
            Failure::Client(error) => client_code(error),
            Failure::Interrupted { error, .. } => match client_code(error) {
                // Each code means one thing: arguments, credentials and undecodable answers
                // have theirs whether or not a listing was under way.
                code @ (USAGE | CONFIG | DECODE) => code,
                _ => INTERRUPTED,
            },
            Failure::Stopped(_) => INTERRUPTED,
            // Nobody reads the rest: the reader went away (`referrals list | head`).
            Failure::Output(error) if error.kind() == io::ErrorKind::BrokenPipe => OK,
            Failure::Output(_) | Failure::Local(_) | Failure::Mirror(_) | Failure::Lines(_) => API,
            Failure::Config(_) => CONFIG,
            Failure::Quarantined { .. } => QUARANTINED,
            Failure::Due(_) => DUE,
            Failure::Push(error) => match **error {
                PushError::Refused { .. } => PUSH_REFUSED,
                PushError::EmptyConsumer | PushError::Url(_) | PushError::Uri { .. } => USAGE,
                _ => API,
            },
        }
    }

    /// Writes the report to stderr (nothing for a closed stdout).
    pub fn report(&self) {
        if self.code() == OK || matches!(self, Failure::Due(_)) {
            return;
        }
        say!("error: {self}");
        if let Failure::Mirror(error) = self {
            if let Some(hint) = mirror_hint(error) {
                say!("  hint: {hint}");
            }
        }
        if let Some(hint) = push_hint(self) {
            say!("  hint: {hint}");
        }
        if let Failure::Client(error) | Failure::Interrupted { error, .. } = self {
            if let Some(details) = api_details(error) {
                say!("  {details}");
            }
            if error.code() == Some("preconditionFailed")
                || error.status().map(|s| s.as_u16()) == Some(412)
            {
                say!(
                    "  hint: the referral changed since that eTag; get it again for the current eTag"
                );
            }
            if error.is_app_only_refusal() {
                say!("  hint: {}", app_only_hint());
            }
            if let ErrorKind::Auth(error) = error.kind() {
                for hint in sign_in_hints(error) {
                    say!("  hint: {hint}");
                }
            }
        }
        if let Failure::Interrupted { resume, .. } = self {
            for line in resume {
                say!("{line}");
            }
        }
        if let Failure::Quarantined { db, .. } = self {
            say!(
                "  hint: see them with `referrals list --db {} --quarantined`; every sync lists \
                 them again until a version that decodes replaces them",
                db.display()
            );
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message)
            | Failure::Local(message)
            | Failure::Config(message)
            | Failure::Stopped(message)
            | Failure::Lines(message) => f.write_str(message),
            Failure::Client(error) | Failure::Interrupted { error, .. } => {
                fmt::Display::fmt(error, f)
            }
            Failure::Output(error) => write!(f, "cannot write the output: {error}"),
            Failure::Mirror(error) => fmt::Display::fmt(error, f),
            Failure::Quarantined { db, ids } => {
                const SHOWN: usize = 5;
                let named: Vec<String> = ids
                    .iter()
                    .take(SHOWN)
                    .map(|id| match id {
                        Some(id) => referrals::query::snippet(id, 100),
                        None => "(no id)".to_owned(),
                    })
                    .collect();
                write!(
                    f,
                    "{} could not be decoded and {} kept as received in the quarantine of {}: {}",
                    crate::plural::count(ids.len() as u64, "referral"),
                    if ids.len() == 1 { "is" } else { "are" },
                    db.display(),
                    named.join(", ")
                )?;
                if ids.len() > SHOWN {
                    write!(f, " and {} more", ids.len() - SHOWN)?;
                }
                Ok(())
            }
            Failure::Due(count) => write!(f, "{} due", crate::plural::count(*count, "referral")),
            Failure::Push(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl From<referrals::Error> for Failure {
    fn from(error: referrals::Error) -> Self {
        Failure::Client(error)
    }
}

impl From<MirrorError> for Failure {
    fn from(error: MirrorError) -> Self {
        Failure::Mirror(error)
    }
}

impl From<ReportError> for Failure {
    fn from(error: ReportError) -> Self {
        match error {
            ReportError::Mirror(error) => Failure::Mirror(error),
            other => Failure::Local(other.to_string()),
        }
    }
}

impl From<PushError> for Failure {
    fn from(error: PushError) -> Self {
        match error {
            // The mirror's own kinds, with their hints.
            PushError::Mirror(error) => Failure::Mirror(error),
            error => Failure::Push(Box::new(error)),
        }
    }
}

/// What to do after `push` stopped at a change: the next run starts with it again.
fn push_hint(failure: &Failure) -> Option<String> {
    let Failure::Push(error) = failure else {
        return None;
    };
    let at = error.stopped_at()?;
    Some(match **error {
        PushError::Refused { .. } => format!(
            "change {} was not delivered and the consumer's offset is {}: fix what the endpoint \
             refused, then run the same command again; it starts with change {}",
            at.seq, at.report.offset, at.seq
        ),
        _ => format!(
            "the consumer's offset is {}: run the same command again when the endpoint is \
             reachable; it starts with change {}",
            at.report.offset, at.seq
        ),
    })
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Failure::Output(error)
    }
}

/// How to get the App+User token the Referrals API wants, after it refused an app-only one.
fn app_only_hint() -> String {
    format!(
        "sign in as a user with `referrals login`, or set {} (with {}) for automation; see \
         'Sign in' in the README",
        env::REFRESH_TOKEN,
        env::CLIENT_ID
    )
}

/// The exit code of a result.
pub fn exit_code(result: &Result<(), Failure>) -> ExitCode {
    ExitCode::from(result.as_ref().err().map_or(OK, Failure::code))
}

fn client_code(error: &referrals::Error) -> u8 {
    if error.is_app_only_refusal() {
        // The fix is a credential, not a retry.
        return CONFIG;
    }
    match error.kind() {
        ErrorKind::InvalidRequest(_)
        | ErrorKind::Checkpoint(_)
        | ErrorKind::Refused { .. }
        | ErrorKind::Registration(_) => USAGE,
        ErrorKind::Config(_) | ErrorKind::Auth(_) | ErrorKind::Unauthorized { .. } => CONFIG,
        ErrorKind::Decode { .. } => DECODE,
        _ => API,
    }
}

/// True when continuing a listing that stopped on `error` can help: not after an error of the
/// arguments (a refused checkpoint, a request that cannot be built), which would fail the same
/// way again, nor of the credentials, which come first.
pub fn resumes(error: &referrals::Error) -> bool {
    !matches!(client_code(error), USAGE | CONFIG)
}

/// What to do about a sign-in error, decided by its kind (the library's messages say what
/// happened, never what to run).
fn sign_in_hints(error: &AuthError) -> Vec<String> {
    let mut hints = Vec::new();
    let mut token_not_set = false;
    match error {
        AuthError::NoCredential { tried } => {
            for attempt in tried {
                match &attempt.outcome {
                    AttemptFailure::NotConfigured(reason) => {
                        token_not_set |= is_token_not_set(attempt.credential, reason);
                        hints.extend(passed_over_hint(reason));
                    }
                    AttemptFailure::Failed(cause) => hints.extend(sign_in_hints(cause)),
                    _ => {}
                }
            }
        }
        AuthError::NotConfigured(problem) => match problem.innermost() {
            ConfigProblem::Chosen { credential, reason } => {
                token_not_set = is_token_not_set(*credential, reason);
                hints.extend(passed_over_hint(reason));
                if matches!(reason, Unconfigured::NotOnPath { .. }) {
                    hints.push(INSTALL_AZ.to_owned());
                }
            }
            ConfigProblem::NoRefreshToken { .. } => hints.push(format!(
                "sign in with `referrals login`, or set {}",
                env::REFRESH_TOKEN
            )),
            ConfigProblem::Empty(Field::ClientId) => {
                hints.push(format!("set {} or pass --client-id", env::CLIENT_ID));
            }
            _ => {}
        },
        AuthError::SignIn { problem, .. } => match problem {
            SignInProblem::Expired => hints.push("run `referrals login` again".to_owned()),
            SignInProblem::RefreshTokenRefused => hints.push(format!(
                "sign in again with `referrals login`, or set a new {}",
                env::REFRESH_TOKEN
            )),
            _ => {}
        },
        AuthError::Cache { problem, .. } => match problem {
            CacheProblem::Exposed { .. } => hints
                .push("delete it and sign in again, or `chmod 600` it if you are sure".to_owned()),
            CacheProblem::Corrupt { .. } => hints.push("delete it and sign in again".to_owned()),
            _ => {}
        },
        AuthError::AzureCli(problem) => match problem {
            AzureCliProblem::NotFound => hints.push(INSTALL_AZ.to_owned()),
            AzureCliProblem::Failed {
                asks_for_login: false,
                ..
            } => hints
                .push("is `az login` done for an account with a Partner Center role?".to_owned()),
            _ => {}
        },
        _ => {}
    }
    if token_not_set {
        hints.push("or pass --token, or try the embedded simulator with --demo".to_owned());
    }
    hints.dedup();
    hints
}

const INSTALL_AZ: &str = "install the Azure CLI and run `az login`, or choose another credential";

/// The token source was tried and has no token: `--token` and `--demo` are the CLI's ways.
fn is_token_not_set(credential: CredentialSource, reason: &Unconfigured) -> bool {
    credential == CredentialSource::Token && matches!(reason, Unconfigured::NotSet { .. })
}

/// What to do about a source that is not configured, when the CLI has a way.
fn passed_over_hint(reason: &Unconfigured) -> Option<String> {
    match reason {
        Unconfigured::NoSignIn { .. } => Some("run `referrals login` to sign in".to_owned()),
        _ => None,
    }
}

/// What to do about a mirror error, decided by its kind.
fn mirror_hint(error: &MirrorError) -> Option<String> {
    match error {
        MirrorError::Missing { path } => Some(format!(
            "run `referrals sync --db {}` first",
            path.display()
        )),
        MirrorError::Foreign { .. } | MirrorError::Corrupt { .. } => {
            Some("choose another --db file".to_owned())
        }
        MirrorError::OtherApi { path, .. } => Some(format!(
            "start a new mirror for this API with another --db path (e.g. --db {}); {} stays \
             as it is",
            sibling(path, "other"),
            path.display()
        )),
        MirrorError::UpgradeNeeded { path, .. } => Some(format!(
            "a user who can write it upgrades it by running `referrals changes --db {} --limit 1` once",
            path.display()
        )),
        MirrorError::TooNew { .. } => {
            Some("upgrade referrals: a newer version wrote this mirror".to_owned())
        }
        MirrorError::Locked { .. } => {
            Some("try again when it has finished, or wait longer with --wait".to_owned())
        }
        MirrorError::Full { .. } => {
            Some("free some space; the next `referrals sync` continues from there".to_owned())
        }
        _ => None,
    }
}

/// `dir/m-other.db` for `dir/m.db` and `other`: a file name for a new mirror next to `path`.
fn sibling(path: &std::path::Path, suffix: &str) -> String {
    let stem = path.file_stem().map_or_else(
        || "referrals".to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    let name = match path.extension() {
        Some(extension) => format!("{stem}-{suffix}.{}", extension.to_string_lossy()),
        None => format!("{stem}-{suffix}"),
    };
    path.with_file_name(name).display().to_string()
}

/// `status 500, code generalException, request id …` for API errors.
fn api_details(error: &referrals::Error) -> Option<String> {
    let status = error.status()?;
    let mut details = format!("status {}", status.as_u16());
    if let Some(code) = error.code() {
        details.push_str(&format!(", code {code}"));
    }
    if let Some(request_id) = error.request_id() {
        details.push_str(&format!(", request id {request_id}"));
    }
    Some(details)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use referrals::auth::{self, Attempt};

    use super::*;

    fn nothing_configured(name: &str) -> Option<String> {
        (name == env::TOKEN_CACHE).then(|| "/nonexistent/referrals-cli-test/tokens.json".into())
    }

    #[test]
    fn a_chain_with_nothing_configured_advises_login_then_token_or_demo() {
        let error = auth::from_lookup_forced(&nothing_configured, None).unwrap_err();
        assert!(matches!(error, AuthError::NoCredential { .. }), "{error:?}");
        assert_eq!(
            sign_in_hints(&error),
            [
                "run `referrals login` to sign in",
                "or pass --token, or try the embedded simulator with --demo"
            ]
        );
        let forced = auth::from_lookup_forced(&nothing_configured, Some(CredentialSource::Token))
            .unwrap_err();
        assert_eq!(
            sign_in_hints(&forced),
            ["or pass --token, or try the embedded simulator with --demo"]
        );
        let forced_az =
            auth::from_lookup_forced(&nothing_configured, Some(CredentialSource::AzureCli))
                .unwrap_err();
        assert_eq!(sign_in_hints(&forced_az), [INSTALL_AZ]);
    }

    #[test]
    fn a_failed_source_in_the_chain_brings_its_own_advice() {
        let error = AuthError::NoCredential {
            tried: vec![
                Attempt::new(
                    CredentialSource::Token,
                    AttemptFailure::NotConfigured(Unconfigured::NotSet {
                        variable: env::TOKEN,
                    }),
                ),
                Attempt::new(
                    CredentialSource::AzureCli,
                    AttemptFailure::Failed(Box::new(AuthError::AzureCli(
                        AzureCliProblem::NotFound,
                    ))),
                ),
            ],
        };
        assert_eq!(
            sign_in_hints(&error),
            [
                INSTALL_AZ,
                "or pass --token, or try the embedded simulator with --demo"
            ]
        );
    }

    #[test]
    fn sign_in_and_cache_problems_get_the_cli_s_advice() {
        let refused = AuthError::sign_in(SignInProblem::RefreshTokenRefused, "invalid_grant", None);
        assert_eq!(
            sign_in_hints(&refused),
            ["sign in again with `referrals login`, or set a new \
                 PARTNER_CENTER_REFRESH_TOKEN"]
        );
        let expired = AuthError::sign_in(SignInProblem::Expired, "expired_token", None);
        assert_eq!(sign_in_hints(&expired), ["run `referrals login` again"]);
        let declined = AuthError::sign_in(SignInProblem::Declined, "access_denied", None);
        assert!(sign_in_hints(&declined).is_empty());
        let no_refresh = AuthError::NotConfigured(ConfigProblem::NoRefreshToken {
            client_id: "app".into(),
            tenant: "t".into(),
        });
        assert_eq!(
            sign_in_hints(&no_refresh),
            ["sign in with `referrals login`, or set PARTNER_CENTER_REFRESH_TOKEN"]
        );

        let cache = |problem| AuthError::Cache {
            path: PathBuf::from("tokens.json"),
            problem,
        };
        assert_eq!(
            sign_in_hints(&cache(CacheProblem::Exposed { mode: 0o644 })),
            ["delete it and sign in again, or `chmod 600` it if you are sure"]
        );
        let corrupt = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        assert_eq!(
            sign_in_hints(&cache(CacheProblem::Corrupt { error: corrupt })),
            ["delete it and sign in again"]
        );
        assert!(sign_in_hints(&cache(CacheProblem::Version { found: 7 })).is_empty());
    }

    #[test]
    fn a_missing_mirror_gets_the_command_that_creates_it() {
        let path = PathBuf::from("dir/m.db");
        let missing = MirrorError::Missing { path: path.clone() };
        assert_eq!(
            mirror_hint(&missing).as_deref(),
            Some("run `referrals sync --db dir/m.db` first")
        );
        let failure = Failure::from(missing);
        let message = failure.to_string();
        assert!(message.starts_with("dir/m.db: no such mirror"), "{message}");
        assert!(
            !message.contains("hint"),
            "the hint is printed apart: {message}"
        );
        let locked = MirrorError::Locked {
            path,
            holder: "pid 7".into(),
        };
        assert!(mirror_hint(&locked).is_some_and(|hint| hint.contains("--wait")));
        let other = MirrorError::NoRunInProgress {
            path: PathBuf::from("m.db"),
        };
        assert_eq!(mirror_hint(&other), None);
    }

    #[test]
    fn due_referrals_exit_7_and_are_not_reported_as_an_error() {
        let due = Failure::Due(3);
        assert_eq!(due.code(), DUE);
        assert_eq!(due.to_string(), "3 referrals due");
        assert_eq!(Failure::Due(1).to_string(), "1 referral due");
        let codes = [OK, API, USAGE, CONFIG, INTERRUPTED, DECODE];
        assert!(!codes.contains(&DUE), "an exit code of its own");
    }

    #[test]
    fn the_azure_cli_hint_is_given_only_when_az_did_not_say_it() {
        let failed = |asks_for_login| {
            AuthError::AzureCli(AzureCliProblem::Failed {
                message: "ERROR: something".into(),
                asks_for_login,
            })
        };
        assert!(sign_in_hints(&failed(true)).is_empty());
        assert_eq!(
            sign_in_hints(&failed(false)),
            ["is `az login` done for an account with a Partner Center role?"]
        );
    }
}

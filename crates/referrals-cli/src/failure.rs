//! Why a command failed, how it is reported on stderr, and the exit code it maps to.

use std::fmt;
use std::io;
use std::process::ExitCode;

use referrals::ErrorKind;

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

/// A command that did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments or input, found before any request.
    Usage(String),
    /// The client's error, outside a listing (or before its first request).
    Client(referrals::Error),
    /// A listing that stopped part-way; the resume hint has been printed already.
    Interrupted(referrals::Error),
    /// Writing the output failed.
    Output(io::Error),
    /// Something local failed (the embedded simulator could not start...).
    Local(String),
    /// The config file or a setting from the environment cannot be used.
    Config(String),
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        match self {
            Failure::Usage(_) => USAGE,
            Failure::Client(error) => client_code(error),
            Failure::Interrupted(error) => match client_code(error) {
                // Fixing the arguments or the credentials comes before resuming.
                code @ (USAGE | CONFIG) => code,
                _ => INTERRUPTED,
            },
            // Nobody reads the rest: the reader went away (`referrals list | head`).
            Failure::Output(error) if error.kind() == io::ErrorKind::BrokenPipe => OK,
            Failure::Output(_) | Failure::Local(_) => API,
            Failure::Config(_) => CONFIG,
        }
    }

    /// Writes the report to stderr (nothing for a closed stdout).
    pub fn report(&self) {
        if self.code() == OK {
            return;
        }
        eprintln!("error: {self}");
        if let Failure::Client(error) | Failure::Interrupted(error) = self {
            if let Some(details) = api_details(error) {
                eprintln!("  {details}");
            }
            if error.code() == Some("preconditionFailed")
                || error.status().map(|s| s.as_u16()) == Some(412)
            {
                eprintln!(
                    "  hint: the referral changed since that eTag; get it again for the current eTag"
                );
            }
            if error.is_app_only_refusal() {
                eprintln!("  hint: see 'Sign in' in the README for the App+User ways to sign in");
            }
            if matches!(error.kind(), ErrorKind::Auth(_) | ErrorKind::Config(_))
                && error.to_string().contains("PARTNER_CENTER_TOKEN")
            {
                eprintln!("  hint: or pass --token, or try the embedded simulator with --demo");
            }
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(message) | Failure::Local(message) | Failure::Config(message) => {
                f.write_str(message)
            }
            Failure::Client(error) | Failure::Interrupted(error) => fmt::Display::fmt(error, f),
            Failure::Output(error) => write!(f, "cannot write the output: {error}"),
        }
    }
}

impl From<referrals::Error> for Failure {
    fn from(error: referrals::Error) -> Self {
        Failure::Client(error)
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Failure::Output(error)
    }
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

/// True for errors of the arguments (a refused checkpoint, a request that cannot be built).
pub fn is_usage(error: &referrals::Error) -> bool {
    client_code(error) == USAGE
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

//! What every process-level test of the `referrals` binary shares: a clean environment and
//! the readers of its output, temporary directories. Each test module uses a part of it.

use std::path::Path;
use std::process::{Output, Stdio};

use assert_cmd::Command;
use referrals_simulator::{FaultPlan, Simulator, SimulatorHandle};
use tempfile::TempDir;

/// Every variable the binary reads, removed before each run so the developer's own settings
/// never count.
pub const ENVIRONMENT: &[&str] = &[
    "PARTNER_CENTER_BASE_URL",
    "PARTNER_CENTER_TOKEN",
    "PARTNER_CENTER_REFRESH_TOKEN",
    "PARTNER_CENTER_WEBHOOKS_URL",
    "PARTNER_CENTER_WEBHOOKS_TOKEN",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_AUTHORITY_HOST",
    "REFERRALS_CONFIG",
    "REFERRALS_PROFILE",
    "REFERRALS_AUTH",
    "REFERRALS_DB",
    "REFERRALS_TOKEN_CACHE",
    "XDG_CONFIG_HOME",
    "RUST_LOG",
];

/// The binary with a clean environment, and an empty config directory and home of its own
/// (neither the developer's config file nor their stored sign-in counts), as a process to
/// spawn (and kill); stdin is empty.
pub fn process() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_referrals"));
    for name in ENVIRONMENT {
        command.env_remove(name);
    }
    let empty = Path::new(env!("CARGO_TARGET_TMPDIR")).join("support-no-config");
    std::fs::create_dir_all(&empty).expect("an empty config directory");
    command
        .env("XDG_CONFIG_HOME", &empty)
        .env("HOME", &empty)
        .stdin(Stdio::null());
    command
}

/// [`process`] as a command that is run to its end.
pub fn bare() -> Command {
    Command::from_std(process())
}

/// Runs `command` with `args`.
pub fn run(command: &mut Command, args: &[&str]) -> Output {
    command.args(args).output().expect("the binary runs")
}

/// Runs a [`process`] to its end.
pub fn output(command: &mut std::process::Command) -> Output {
    command.output().expect("the binary runs")
}

/// A directory of the test's own, removed when dropped.
pub fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("referrals-cli-")
        .tempdir()
        .expect("a temporary directory")
}

/// Text a process wrote (lossy: for messages).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Standard output, which must be UTF-8.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// Standard error, for messages.
pub fn stderr(output: &Output) -> String {
    text(&output.stderr)
}

/// The run succeeded; else its exit code and stderr are shown.
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}, stderr:\n{}",
        output.status.code(),
        stderr(output)
    );
}

/// A simulator of `referrals` synthetic referrals from `seed`, accepting `token`, with `faults`.
pub async fn simulator(
    referrals: usize,
    seed: u64,
    token: &str,
    faults: FaultPlan,
) -> SimulatorHandle {
    Simulator::builder()
        .referrals(referrals)
        .seed(seed)
        .token(token)
        .faults(faults)
        .start()
        .await
        .expect("the simulator starts")
}

/// [`bare`], pointed at `sim` with `token` through the environment variables.
pub fn pointed_at(sim: &SimulatorHandle, token: &str) -> Command {
    let mut command = bare();
    command
        .env("PARTNER_CENTER_BASE_URL", sim.base_url())
        .env("PARTNER_CENTER_TOKEN", token);
    command
}

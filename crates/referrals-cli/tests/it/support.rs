//! What every process-level test of the `referrals` binary shares: a clean environment and
//! the readers of its output. Each test file uses a part of it.
#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

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
/// (neither the developer's config file nor their stored sign-in counts).
pub fn bare() -> Command {
    let mut command = Command::cargo_bin("referrals").expect("the binary is built");
    for name in ENVIRONMENT {
        command.env_remove(name);
    }
    let empty = Path::new(env!("CARGO_TARGET_TMPDIR")).join("support-no-config");
    std::fs::create_dir_all(&empty).expect("an empty config directory");
    command.env("XDG_CONFIG_HOME", &empty).env("HOME", &empty);
    command
}

/// Runs `command` with `args`.
pub fn run(command: &mut Command, args: &[&str]) -> Output {
    command.args(args).output().expect("the binary runs")
}

/// Standard output, which must be UTF-8.
pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// Standard error, for messages.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
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

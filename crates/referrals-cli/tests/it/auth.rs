//! Signing in with the `referrals` binary, run as processes against a simulator started in the
//! test: device code login, logout and status, two processes refreshing from one cache, a stale
//! environment refresh token, cache permissions, a stub `az` on PATH, and app-only refusals.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;
use referrals_simulator::{DeviceStep, Simulator, SimulatorHandle};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::{assert_success, bare, process, run, stderr, stdout, temp_dir};

/// Where a test's token cache is, in its own directory.
fn cache_path(dir: &TempDir) -> PathBuf {
    dir.path().join("config").join("tokens.json")
}

/// The binary with a clean environment, pointed at `sim` for the API and the authority, with
/// its token cache in `dir`.
fn referrals(sim: &SimulatorHandle, dir: &TempDir) -> Command {
    let mut command = bare();
    command
        .env("PATH", dir.path().join("no-az"))
        .env("HOME", dir.path())
        .env("PARTNER_CENTER_BASE_URL", sim.base_url())
        .env("AZURE_AUTHORITY_HOST", sim.authority_url())
        .env("AZURE_TENANT_ID", sim.tenant())
        .env("AZURE_CLIENT_ID", sim.client_id())
        .env("REFERRALS_TOKEN_CACHE", cache_path(dir));
    command
}

/// A simulator of `referrals` referrals with its default sign-in, and a directory for the
/// token cache.
async fn simulator_and_dir(referrals: usize) -> (SimulatorHandle, TempDir) {
    let sim = Simulator::builder()
        .referrals(referrals)
        .start()
        .await
        .expect("starts");
    (sim, temp_dir())
}

fn cache_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the cache exists")).expect("JSON")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

fn first_id(sim: &SimulatorHandle) -> String {
    sim.referrals()[0]["id"].as_str().expect("an id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_status_list_and_logout_with_the_device_code() {
    let sim = Simulator::builder()
        .referrals(3)
        .device_code_interval(Duration::ZERO)
        .device_code_script([DeviceStep::Pending, DeviceStep::Approve])
        .start()
        .await
        .expect("starts");
    let dir = temp_dir();

    let login = run(&mut referrals(&sim, &dir), &["login"]);
    assert_success(&login);
    let err = stderr(&login);
    assert!(
        err.contains("enter the code"),
        "the server's message: {err}"
    );
    assert!(
        err.contains(&format!("Signed in as {}", sim.username())),
        "{err}"
    );
    assert!(
        err.contains(&cache_path(&dir).display().to_string()),
        "says where: {err}"
    );
    assert_eq!(sim.device_code_polls(), 2);
    assert_eq!(mode(&cache_path(&dir)), 0o600);
    let cache = cache_json(&cache_path(&dir));
    assert_eq!(cache["version"], 1);
    let refresh_token = cache["entries"][0]["refresh_token"]
        .as_str()
        .expect("stored")
        .to_owned();
    assert!(!err.contains(&refresh_token));

    let status = run(&mut referrals(&sim, &dir), &["auth", "status"]);
    assert_success(&status);
    let out = stdout(&status);
    assert!(out.contains("source: login"), "{out}");
    assert!(
        out.contains(&format!("account: {}", sim.username())),
        "{out}"
    );
    assert!(out.contains("usable: yes"), "{out}");
    assert!(
        !out.contains("sim-") && !out.contains(&refresh_token),
        "no token shown: {out}"
    );

    let get = run(&mut referrals(&sim, &dir), &["get", &first_id(&sim)]);
    assert_success(&get);

    let logout = run(&mut referrals(&sim, &dir), &["logout"]);
    assert_success(&logout);
    assert_eq!(
        cache_json(&cache_path(&dir))["entries"],
        serde_json::json!([])
    );
    let status = run(&mut referrals(&sim, &dir), &["auth", "status"]);
    assert_eq!(status.status.code(), Some(3));
    assert!(
        stderr(&status).contains("run `referrals login`"),
        "{}",
        stderr(&status)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_or_expired_sign_in_exits_3_naming_the_oauth_error() {
    for (step, code) in [
        (DeviceStep::Decline, "authorization_declined"),
        (DeviceStep::Expire, "expired_token"),
    ] {
        let sim = Simulator::builder()
            .device_code_interval(Duration::ZERO)
            .device_code_script([DeviceStep::Pending, step])
            .start()
            .await
            .expect("starts");
        let dir = temp_dir();
        let login = run(&mut referrals(&sim, &dir), &["login"]);
        assert_eq!(login.status.code(), Some(3), "{}", stderr(&login));
        assert!(stderr(&login).contains(code), "{}", stderr(&login));
        assert!(!cache_path(&dir).exists(), "nothing stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_demo_signs_in_to_the_embedded_simulator() {
    let dir = temp_dir();
    let output = run(bare().env("HOME", dir.path()), &["login", "--demo"]);
    assert_success(&output);
    let err = stderr(&output);
    assert!(
        err.contains("Signed in as admin@simulator.example"),
        "{err}"
    );
    assert!(err.contains("the signed-in token works"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_refreshing_from_one_cache_both_succeed_and_keep_the_newest_token() {
    // Access tokens shorter-lived than the cache's reuse margin: every run must exchange.
    let sim = Simulator::builder()
        .referrals(3)
        .expires_in(Duration::from_secs(100))
        .start()
        .await
        .expect("starts");
    let dir = temp_dir();
    let first = sim.issue_refresh_token();
    let id = first_id(&sim);
    let spawn = || {
        process()
            .env("PATH", dir.path().join("no-az"))
            .env("PARTNER_CENTER_BASE_URL", sim.base_url())
            .env("AZURE_AUTHORITY_HOST", sim.authority_url())
            .env("AZURE_TENANT_ID", sim.tenant())
            .env("AZURE_CLIENT_ID", sim.client_id())
            .env("REFERRALS_TOKEN_CACHE", cache_path(&dir))
            .env("PARTNER_CENTER_REFRESH_TOKEN", &first)
            .args(["get", &id])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawns")
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        assert_success(&child.wait_with_output().expect("waits"));
    }
    assert_eq!(
        sim.refresh_grants(),
        2,
        "each process exchanged once, in turn"
    );
    assert_eq!(
        sim.refresh_token_reuses(),
        0,
        "no refresh token was spent twice"
    );
    let cache = cache_json(&cache_path(&dir));
    assert_eq!(
        cache["entries"][0]["refresh_token"].as_str(),
        sim.latest_refresh_token().as_deref(),
        "the cache holds the newest token"
    );
    assert_eq!(mode(&cache_path(&dir)), 0o600);

    // The next run, with the same (now stale) environment token, uses the cache's successor.
    sim.revoke_issued_tokens();
    let mut again = referrals(&sim, &dir);
    again.env("PARTNER_CENTER_REFRESH_TOKEN", &first);
    assert_success(&run(&mut again, &["get", &id]));
    assert_eq!(sim.refresh_token_reuses(), 0);
    assert_eq!(sim.refresh_grants(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_readable_by_others_is_refused_and_left_alone() {
    let (sim, dir) = simulator_and_dir(1).await;
    let mut seed = referrals(&sim, &dir);
    seed.env("PARTNER_CENTER_REFRESH_TOKEN", sim.issue_refresh_token());
    assert_success(&run(&mut seed, &["get", &first_id(&sim)]));
    assert_eq!(mode(&cache_path(&dir)), 0o600);

    std::fs::set_permissions(cache_path(&dir), std::fs::Permissions::from_mode(0o644))
        .expect("chmod");
    let before = std::fs::read(cache_path(&dir)).expect("reads");
    let grants = sim.refresh_grants();
    let refused = run(&mut referrals(&sim, &dir), &["get", &first_id(&sim)]);
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains("accessible to other users (mode 0644)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(cache_path(&dir)).expect("reads"),
        before,
        "not overwritten"
    );
    assert_eq!(sim.refresh_grants(), grants, "not used");

    std::fs::write(cache_path(&dir), b"{\"version\":1,\"entr").expect("truncate");
    std::fs::set_permissions(cache_path(&dir), std::fs::Permissions::from_mode(0o600))
        .expect("chmod");
    let corrupt = run(&mut referrals(&sim, &dir), &["get", &first_id(&sim)]);
    assert_eq!(corrupt.status.code(), Some(3));
    assert!(
        stderr(&corrupt).contains("not a valid token cache"),
        "{}",
        stderr(&corrupt)
    );
}

fn stub_az(dir: &TempDir, script: &str) -> PathBuf {
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let az = bin.join("az");
    std::fs::write(&az, format!("#!/bin/sh\n{script}\n")).expect("writes");
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_azure_cli_is_used_with_its_errors_in_one_line() {
    let (sim, dir) = simulator_and_dir(2).await;
    let bin = stub_az(
        &dir,
        &format!(
            "echo \"$@\" > \"$0.args\"\n\
             echo '{{\"accessToken\":\"{}\",\"expiresOn\":\"2099-01-01 00:00:00.000000\",\"expires_on\":4070908800,\"tokenType\":\"Bearer\"}}'",
            sim.token()
        ),
    );
    // Nothing else configured: the chain falls through to the Azure CLI.
    let mut chain = referrals(&sim, &dir);
    chain.env("PATH", &bin).env_remove("AZURE_CLIENT_ID");
    assert_success(&run(&mut chain, &["get", &first_id(&sim)]));
    let args = std::fs::read_to_string(bin.join("az.args")).expect("az was run");
    assert!(
        args.contains("account get-access-token --resource https://api.partner.microsoft.com --output json --tenant simulator-tenant"),
        "{args}"
    );
    let mut forced = referrals(&sim, &dir);
    forced.env("PATH", &bin);
    let status = run(&mut forced, &["auth", "status", "--auth", "azure-cli"]);
    assert_success(&status);
    assert!(
        stdout(&status).contains("source: azure-cli"),
        "{}",
        stdout(&status)
    );
    assert!(!stdout(&status).contains(sim.token()));

    let signed_out = temp_dir();
    let bin = stub_az(
        &signed_out,
        "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1",
    );
    let mut command = referrals(&sim, &signed_out);
    command.env("PATH", &bin);
    let output = run(&mut command, &["get", "x", "--auth", "azure-cli"]);
    assert_eq!(output.status.code(), Some(3));
    let err = stderr(&output);
    assert!(err.contains("Please run 'az login'"), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.contains("az login")).count(),
        1,
        "{err}"
    );

    // Without the CLI, the chain's error lists every source and why.
    let missing = run(
        referrals(&sim, &dir).env_remove("AZURE_CLIENT_ID"),
        &["get", "x"],
    );
    assert_eq!(missing.status.code(), Some(3));
    let err = stderr(&missing);
    for says in [
        "PARTNER_CENTER_TOKEN: not set",
        "PARTNER_CENTER_REFRESH_TOKEN: not set",
        "run `referrals login`",
        "missing: AZURE_CLIENT_ID, AZURE_CLIENT_SECRET",
        "`az` is not on PATH",
    ] {
        assert!(err.contains(says), "{says}: {err}");
    }
    let forced_missing = run(
        &mut referrals(&sim, &dir),
        &["get", "x", "--auth", "azure-cli"],
    );
    assert_eq!(forced_missing.status.code(), Some(3));
    assert!(stderr(&forced_missing).contains("`az` is not on PATH"));
    assert_eq!(
        sim.api_requests(),
        1,
        "only the successful get reached the API"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_only_token_is_refused_with_the_sign_in_hint_and_exit_3() {
    let (sim, dir) = simulator_and_dir(2).await;
    let mut command = referrals(&sim, &dir);
    command.env("AZURE_CLIENT_SECRET", sim.client_secret());
    let output = run(&mut command, &["get", &first_id(&sim)]);
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let err = stderr(&output);
    // The library's message says what happened; the CLI's hint says what to do.
    for says in ["403", "App+User", "app-only"] {
        assert!(err.contains(says), "{says}: {err}");
    }
    let hint = err
        .lines()
        .find(|line| line.trim_start().starts_with("hint: sign in as a user"))
        .unwrap_or_else(|| panic!("no sign-in hint: {err}"));
    for says in [
        "referrals login",
        "PARTNER_CENTER_REFRESH_TOKEN",
        "AZURE_CLIENT_ID",
    ] {
        assert!(hint.contains(says), "{says}: {hint}");
    }
    assert!(!err.contains(sim.client_secret()));
}

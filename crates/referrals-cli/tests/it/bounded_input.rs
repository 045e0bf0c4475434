//! Every file the binary is given is a regular file of bounded size: `--patch`, `--file`, the
//! config file and the token cache. A FIFO is refused at once (it used to block the command
//! forever, waiting for a writer) and a file over its limit is refused without being read; each
//! error names the file, and the limit.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use referrals_simulator::{FaultPlan, SimulatorHandle};

use crate::support::{self, bare, stderr, temp_dir};

const TOKEN: &str = "bounded-input-token-3e8a";

/// Long enough for a loaded machine, short enough that a blocked read fails the test.
const PATIENCE: Duration = Duration::from_secs(60);

fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo {}", path.display());
    path
}

/// A private file of `len` bytes (sparse: nothing is written).
fn sized(dir: &Path, name: &str, len: u64) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("created");
    file.set_len(len).expect("sized");
    drop::<File>(file);
    path
}

fn run_with(command: &mut assert_cmd::Command, args: &[&str]) -> Output {
    command
        .timeout(PATIENCE)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn assert_refused(output: &Output, code: i32, path: &Path, what: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{err}");
    assert!(
        err.contains(&path.display().to_string()),
        "the file is named: {err}"
    );
    assert!(err.contains(what), "{what:?} missing: {err}");
}

async fn simulator() -> SimulatorHandle {
    support::simulator(5, 29, TOKEN, FaultPlan::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_or_an_oversized_patch_or_file_is_refused_before_any_request() {
    let sim = simulator().await;
    let dir = temp_dir();
    let pipe = fifo(dir.path(), "input.json");
    let big = sized(dir.path(), "big.json", 16 * 1024 * 1024 + 1);
    for (args, path, what) in [
        (
            vec!["update", "some-id", "--patch"],
            &pipe,
            "is a FIFO, not a regular file",
        ),
        (
            vec!["create", "--file"],
            &pipe,
            "is a FIFO, not a regular file",
        ),
        (
            vec!["update", "some-id", "--patch"],
            &big,
            "is larger than 16 MiB",
        ),
        (vec!["create", "--file"], &big, "is larger than 16 MiB"),
    ] {
        let mut args = args;
        let shown = path.display().to_string();
        args.push(&shown);
        let output = run_with(&mut support::pointed_at(&sim, TOKEN), &args);
        assert_refused(&output, 2, path, what);
        let option = if args[0] == "update" {
            "--patch"
        } else {
            "--file"
        };
        assert!(stderr(&output).contains(option), "{}", stderr(&output));
    }
    assert_eq!(sim.api_requests(), 0, "nothing was sent");
}

#[test]
fn a_fifo_or_an_oversized_config_file_is_refused() {
    let dir = temp_dir();
    let pipe = fifo(dir.path(), "config.toml");
    let big = sized(dir.path(), "big.toml", 1024 * 1024 + 1);
    for (path, what) in [
        (&pipe, "is a FIFO, not a regular file"),
        (&big, "is larger than 1 MiB"),
    ] {
        let output = run_with(bare().env("REFERRALS_CONFIG", path), &["list", "--demo"]);
        assert_refused(&output, 3, path, what);
        assert!(
            stderr(&output).contains("config file"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn a_fifo_or_an_oversized_token_cache_is_refused() {
    let dir = temp_dir();
    let pipe = fifo(dir.path(), "tokens.json");
    let big = sized(dir.path(), "big-tokens.json", 1024 * 1024 + 1);
    for (path, what) in [
        (&pipe, "is not a regular file"),
        (&big, "is larger than 1 MiB"),
    ] {
        let output = run_with(bare().env("REFERRALS_TOKEN_CACHE", path), &["logout"]);
        assert_refused(&output, 3, path, what);
    }
}

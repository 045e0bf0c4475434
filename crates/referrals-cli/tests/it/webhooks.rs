//! `referrals listen` and `referrals webhooks …` run as processes: the demo shows events
//! arrive and stops on SIGTERM; argument errors exit 2; the registration commands against a
//! simulator, with a validation event that a listener receives.

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use referrals_simulator::{Simulator, SimulatorHandle};
use serde_json::Value;

use crate::support::{bare, process, run, temp_dir, text};

const TOKEN: &str = "webhooks-cli-token-91c2";

/// What a `referrals listen` process wrote on stderr until it was stopped.
struct Listened {
    /// Its stderr, line by line.
    lines: Vec<String>,
    /// A line contained what was waited for.
    seen: bool,
    /// SIGTERM was sent (it fails when the process had exited by itself).
    stopped: bool,
    exit: std::process::ExitStatus,
}

/// Runs `referrals listen` with `args`, reads its stderr until a line contains `until` (or it
/// exits, or 180 s pass), then stops it with SIGTERM and waits for it.
fn listen_until(args: &[&str], until: &str) -> Listened {
    let mut child = process()
        .arg("listen")
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    let mut seen = Vec::new();
    let found = loop {
        match received.recv_timeout(Duration::from_secs(180)) {
            Ok(line) => {
                let done = line.contains(until);
                seen.push(line);
                if done {
                    break true;
                }
            }
            // It exited (its stderr closed), or never got there.
            Err(_) => break false,
        }
    };
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    let exit = child.wait().unwrap();
    seen.extend(received.iter());
    reader.join().unwrap();
    Listened {
        lines: seen,
        seen: found,
        stopped,
        exit,
    }
}

#[test]
fn listen_demo_shows_events_arriving_and_stops_on_sigterm() {
    let dir = temp_dir();
    let db = dir.path().join("demo.db");
    let listened = listen_until(
        &["--demo", "--db", db.to_str().unwrap()],
        "webhook event applied",
    );
    let (applied, exit) = (listened.seen, listened.exit);
    assert!(listened.stopped);
    let all = listened.lines.join("\n");
    assert!(applied, "no event was applied:\n{all}");
    assert!(exit.success(), "exit {exit:?}:\n{all}");
    assert!(all.contains("webhook event accepted"), "{all}");
    assert!(all.contains("stopping"), "{all}");
    // Never a token or a body in the log.
    assert!(!all.contains("demo-token"), "{all}");
    assert!(!all.contains("ResourceUri"), "{all}");
    let changes: i64 = rusqlite_count(&db, "SELECT COUNT(*) FROM changes");
    assert!(changes >= 1);
}

/// What `listen` says once it serves.
const LISTENING: &str = "listening for webhook events";

/// `listen` on a loopback port, reading referrals from `base` with the test's token, into `db`.
fn listen_args<'a>(base: &'a str, db: &'a std::path::Path) -> [&'a str; 8] {
    [
        "--bind",
        "127.0.0.1:0",
        "--base-url",
        base,
        "--token",
        TOKEN,
        "--db",
        db.to_str().unwrap(),
    ]
}

/// `listen` starts with a sync: the referrals that exist before it starts are in the mirror
/// when it serves, not only those that change afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_starts_with_a_sync_so_the_mirror_holds_every_referral() {
    let simulator = Simulator::builder()
        .referrals(30)
        .seed(8)
        .token(TOKEN)
        .start()
        .await
        .unwrap();
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let base = simulator.base_url();
    let listened = tokio::task::spawn_blocking({
        let db = db.clone();
        move || listen_until(&listen_args(&base, &db), LISTENING)
    })
    .await
    .unwrap();
    let all = listened.lines.join("\n");
    assert!(listened.seen, "{all}");
    assert!(all.contains("synced: 30 created"), "{all}");
    assert_eq!(rusqlite_count(&db, "SELECT COUNT(*) FROM referrals"), 30);
    let mirrored: Vec<Value> = {
        let connection = referrals_sync::rusqlite::Connection::open(&db).unwrap();
        let mut statement = connection
            .prepare("SELECT raw_json FROM referrals ORDER BY rowid")
            .unwrap();
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .unwrap()
            .map(|raw| serde_json::from_str(&raw.unwrap()).unwrap())
            .collect()
    };
    assert_eq!(mirrored, simulator.referrals());
    simulator.shutdown().await;
}

/// A mirror of another API is refused by `listen` too, before it serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_refuses_a_mirror_of_another_api_before_serving() {
    let ours = start_simulator().await;
    let other = start_simulator().await;
    let dir = temp_dir();
    let db = dir.path().join("m.db");
    let synced = tokio::task::spawn_blocking({
        let (base, db) = (ours.base_url(), db.clone());
        move || {
            let mut command = bare();
            command
                .args(["sync", "--base-url", &base, "--token", TOKEN, "--db"])
                .arg(&db);
            command.output().unwrap()
        }
    })
    .await
    .unwrap();
    assert!(synced.status.success(), "{}", text(&synced.stderr));
    let base = other.base_url();
    let listened = tokio::task::spawn_blocking({
        let db = db.clone();
        move || listen_until(&listen_args(&base, &db), LISTENING)
    })
    .await
    .unwrap();
    let all = listened.lines.join("\n");
    assert!(!listened.seen, "{all}");
    assert_eq!(listened.exit.code(), Some(1), "{all}");
    assert!(
        all.contains(&format!("holds the referrals of {}", ours.base_url()))
            && all.contains(&other.base_url()),
        "{all}"
    );
    assert_eq!(other.api_requests(), 0);
}

fn rusqlite_count(db: &std::path::Path, sql: &str) -> i64 {
    referrals_sync::rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

#[test]
fn listen_refuses_bad_arguments_before_starting() {
    let output = run(&mut bare(), &["listen", "--db", "/nonexistent/x.db"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("--bind"));

    let output = run(
        &mut bare(),
        &[
            "listen",
            "--bind",
            "127.0.0.1:0",
            "--cert-url-prefix",
            "http://example.com/cert/",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("loopback"),
        "{}",
        text(&output.stderr)
    );

    let output = run(
        &mut bare(),
        &[
            "listen",
            "--bind",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent.pem",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn webhooks_commands_need_a_token_of_their_own_audience() {
    let output = run(&mut bare(), &["webhooks", "--token", TOKEN, "show"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("https://api.partnercenter.microsoft.com/.default"),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN));
}

async fn start_simulator() -> SimulatorHandle {
    Simulator::builder()
        .referrals(2)
        .seed(5)
        .token(TOKEN)
        .start()
        .await
        .unwrap()
}

fn webhooks(simulator: &SimulatorHandle, args: &[&str]) -> Output {
    let mut command = bare();
    command
        .env("PARTNER_CENTER_WEBHOOKS_URL", simulator.base_url())
        .env("PARTNER_CENTER_WEBHOOKS_TOKEN", TOKEN)
        .arg("webhooks")
        .args(args);
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_show_events_and_a_validation_event_that_a_listener_receives() {
    let simulator = start_simulator().await;
    let dir = temp_dir();
    let mut policy = referrals_webhooks::Policy::new(
        referrals_webhooks::TrustAnchors::from_pem(simulator.webhook_ca_pem().as_bytes()).unwrap(),
    );
    policy.cert_url_prefixes = vec![
        referrals_webhooks::CertUrlPrefix::parse(&simulator.webhook_cert_url_prefix()).unwrap(),
    ];
    let client = referrals::Client::builder()
        .base_url(simulator.base_url())
        .bearer_token(TOKEN)
        .build()
        .unwrap();
    let listener = referrals_receiver::ListenerBuilder::new(policy)
        .start(
            "127.0.0.1:0".parse().unwrap(),
            referrals_sync::Mirror::open(dir.path().join("m.db")).unwrap(),
            Arc::new(client),
        )
        .await
        .unwrap();
    let url = listener.url();

    let events = tokio::task::spawn_blocking({
        let base = simulator.base_url();
        move || {
            let mut command = bare();
            command
                .env("PARTNER_CENTER_WEBHOOKS_URL", base)
                .env("PARTNER_CENTER_WEBHOOKS_TOKEN", TOKEN)
                .args(["webhooks", "events"]);
            command.output().unwrap()
        }
    });
    let output = events.await.unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let names: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        names
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "referral-created")
    );

    let output = webhooks(&simulator, &["register", "--url", &url]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("registered"));
    let output = webhooks(
        &simulator,
        &[
            "register",
            "--url",
            &url,
            "--events",
            "referral-created,test-created",
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("re-registered"));
    let output = webhooks(&simulator, &["show"]);
    let shown: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(shown["WebhookUrl"], url.as_str());
    assert_eq!(
        shown["WebhookEvents"],
        serde_json::json!(["referral-created", "test-created"])
    );

    let base = simulator.base_url();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = bare();
        command
            .env("PARTNER_CENTER_WEBHOOKS_URL", base)
            .env("PARTNER_CENTER_WEBHOOKS_TOKEN", TOKEN)
            .args(["webhooks", "test", "--wait", "--wait-timeout", "120"]);
        command.output().unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["status"], "completed");
    assert!(!text(&output.stderr).contains(TOKEN));
    assert!(!text(&output.stdout).contains(TOKEN));
    listener.shutdown().await;
    simulator.shutdown().await;
}

//! Event-to-mirror latency on loopback: the simulator updates a referral, signs and POSTs the
//! event; the listener verifies it, keeps it, fetches the referral and applies it. Measured
//! from the update to the `changes` row (the mirror polled every 200 µs), N times; prints
//! p50, p99 and max.
//!
//! `cargo run --release -p referrals-benches --example webhook_latency -- 300`

use std::sync::Arc;
use std::time::{Duration, Instant};

use referrals_receiver::ListenerBuilder;
use referrals_simulator::Simulator;
use referrals_sync::Mirror;
use referrals_webhooks::{CertUrlPrefix, Policy, TrustAnchors};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(rounds));
}

async fn run(rounds: usize) {
    let simulator = Simulator::builder()
        .referrals(10)
        .seed(3)
        .start()
        .await
        .expect("simulator");
    let dir = std::env::temp_dir().join(format!("webhook-latency-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let db = dir.join("referrals.db");
    let _ = std::fs::remove_file(&db);
    let mut policy =
        Policy::new(TrustAnchors::from_pem(simulator.webhook_ca_pem().as_bytes()).expect("the CA"));
    policy.cert_url_prefixes =
        vec![CertUrlPrefix::parse(&simulator.webhook_cert_url_prefix()).expect("a prefix")];
    let client = referrals::Client::builder()
        .base_url(simulator.base_url())
        .bearer_token(simulator.token().to_owned())
        .build()
        .expect("a client");
    let listener = ListenerBuilder::new(policy)
        .start(
            "127.0.0.1:0".parse().expect("an address"),
            Mirror::open(&db).expect("the mirror"),
            Arc::new(client),
        )
        .await
        .expect("the listener");
    simulator.register_webhook(&listener.url(), &["referral-created", "referral-updated"]);
    let reader = rusqlite_reader(&db);
    let id = simulator.referrals()[0]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let mut latencies = Vec::with_capacity(rounds);
    let mut seen = changes(&reader);
    for round in 0..=rounds {
        let start = Instant::now();
        simulator.update_referral(&id, |map| {
            map.insert("x-round".into(), round.into());
        });
        let deadline = start + Duration::from_secs(30);
        loop {
            let now = changes(&reader);
            if now > seen {
                seen = now;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: no change after 30 s"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        // Round 0 pays the certificate fetch and the first connections: not counted.
        if round > 0 {
            latencies.push(start.elapsed());
        }
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "event-to-mirror latency over {rounds} updates: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; certificate fetches: {}",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        listener.certificate_fetches(),
    );
    listener.shutdown().await;
    simulator.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn rusqlite_reader(db: &std::path::Path) -> referrals_sync::rusqlite::Connection {
    referrals_sync::rusqlite::Connection::open(db).expect("a reader")
}

fn changes(reader: &referrals_sync::rusqlite::Connection) -> i64 {
    reader
        .query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |row| {
            row.get(0)
        })
        .expect("the journal")
}

//! Batch creation rate (`referrals_sync::batch::create_batch`, what `referrals create --from`
//! runs) against a raw loop of create requests, both against the simulator on loopback, in
//! interleaved rounds of the same number of new referrals:
//!
//! - `raw`: what a user without the SDK writes: a hyper-util client POSTs each referral's JSON
//!   with the bearer token, reads the body and takes the `id` from it. No record of anything:
//!   a run killed half-way cannot tell what it created.
//! - `batch`: the exactly-once batch on a mirror synced before the rounds: an incremental sync
//!   (one request), the lookup of the lines' externalReferenceIds, and for each line an intent
//!   committed before the request and the created referral with its id committed after it
//!   (two SQLite transactions per line, on the mirror's blocking thread).
//!
//! `Client::create` in the same loop (the facade without the outbox) is measured too, and
//! the sync alone is timed before each batch round too (its share of the batch's time).
//! Each at concurrency 1 and 4 (the CLI's default); the raw loop at 4 keeps four requests in
//! flight the same way (`buffered(4)`). Prints referrals per second (median of the rounds) and
//! `batch ÷ raw` for each concurrency.
//!
//! `cargo run --release -p referrals-benches --example batch_rate -- 200 5` (lines per round,
//! rounds; ≈10 s). `BATCH_BENCH_DIR` picks the disk of the mirror (default: the temp dir).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as RawClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use referrals_simulator::{Simulator, SimulatorHandle};
use referrals_sync::batch::{BatchOptions, Plan, create_batch};
use referrals_sync::{Mirror, SharedMirror, SyncLock, SyncOptions, sync};

type Raw = RawClient<HttpConnector, Full<Bytes>>;

fn main() {
    let mut args = std::env::args().skip(1);
    let lines: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(lines, rounds));
}

/// `lines` referrals keyed `{tag}-{i}`, as NDJSON lines.
fn referrals(tag: &str, lines: usize) -> Vec<String> {
    (0..lines)
        .map(|i| {
            format!(
                r#"{{"externalReferenceId":"{tag}-{i}","name":"Deal {i}","type":"Independent","customerProfile":{{"name":"Customer {i}","address":{{"country":"US"}}}},"consent":{{"consentToContact":true}},"details":{{"dealValue":{i},"currency":"USD","notes":"bench"}}}}"#
            )
        })
        .collect()
}

/// POSTs every body, `concurrency` at a time; the ids read back.
async fn raw_loop(raw: &Raw, sim: &SimulatorHandle, bodies: Vec<String>, concurrency: usize) {
    let url = sim.referrals_url();
    let authorization = format!("Bearer {}", sim.token());
    let ids: Vec<String> = futures::stream::iter(bodies)
        .map(|body| {
            let request = http::Request::post(&url)
                .header(http::header::AUTHORIZATION, &authorization)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::ACCEPT, "application/json")
                .body(Full::new(Bytes::from(body)))
                .expect("a request");
            async move {
                let response = raw.request(request).await.expect("an answer");
                assert!(response.status().is_success(), "{}", response.status());
                let bytes = response
                    .into_body()
                    .collect()
                    .await
                    .expect("a body")
                    .to_bytes();
                let value: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
                value["id"].as_str().expect("an id").to_owned()
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    assert!(ids.iter().all(|id| !id.is_empty()));
}

/// `Client::create` for every body, `concurrency` at a time: the facade without the outbox.
async fn client_loop(client: &referrals::Client, bodies: Vec<String>, concurrency: usize) {
    let created: Vec<referrals::Referral> = futures::stream::iter(bodies)
        .map(|body| async move {
            let referral: referrals::Referral = serde_json::from_str(&body).expect("a referral");
            client.create(&referral).await.expect("created")
        })
        .buffered(concurrency)
        .collect()
        .await;
    assert!(created.iter().all(|r| r.id.is_some()));
}

async fn batch(
    client: &referrals::Client,
    mirror: &SharedMirror,
    lock: &SyncLock,
    bodies: Vec<String>,
    concurrency: usize,
) {
    let text = bodies.join("\n");
    let plan = Plan::from_ndjson(text.as_bytes()).expect("a valid batch");
    let report = create_batch(
        client,
        mirror,
        lock,
        &plan,
        &BatchOptions::with_concurrency(concurrency),
        |_| {},
    )
    .await
    .expect("the batch");
    assert_eq!(report.counts.created as usize, plan.lines().len());
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn run(lines: usize, rounds: usize) {
    let sim = Simulator::builder()
        .referrals(1_000)
        .seed(25)
        .start()
        .await
        .expect("the simulator");
    let base = std::env::var_os("BATCH_BENCH_DIR")
        .map_or_else(std::env::temp_dir, std::path::PathBuf::from);
    let dir = base.join(format!("batch-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let db = dir.join("referrals.db");
    let client = referrals::Client::builder()
        .base_url(sim.base_url())
        .bearer_token(sim.token().to_owned())
        .build()
        .expect("a client");
    let mirror: SharedMirror = Arc::new(Mutex::new(Mirror::open(&db).expect("the mirror")));
    let lock = SyncLock::acquire(&db, referrals_sync::DEFAULT_LOCK_WAIT).expect("the lock");
    sync(&client, &mirror, &SyncOptions::default())
        .await
        .expect("the first sync");
    let raw: Raw = RawClient::builder(TokioExecutor::new()).build(HttpConnector::new());

    // Warm-up: connections, caches.
    raw_loop(&raw, &sim, referrals("warm-raw", 20), 4).await;
    batch(&client, &mirror, &lock, referrals("warm-batch", 20), 4).await;

    let mut rates: [Vec<f64>; 4] = Default::default();
    let mut syncs = Vec::new();
    let mut facade: [Vec<f64>; 2] = Default::default();
    for round in 0..rounds {
        for (slot, concurrency) in [(0, 1), (1, 4)] {
            let bodies = referrals(&format!("raw-{round}-{concurrency}"), lines);
            let start = Instant::now();
            raw_loop(&raw, &sim, bodies, concurrency).await;
            rates[slot].push(lines as f64 / start.elapsed().as_secs_f64());

            let bodies = referrals(&format!("client-{round}-{concurrency}"), lines);
            let start = Instant::now();
            client_loop(&client, bodies, concurrency).await;
            facade[slot].push(lines as f64 / start.elapsed().as_secs_f64());

            // The sync a batch starts with, alone: its share of the batch's time.
            let start = Instant::now();
            sync(&client, &mirror, &SyncOptions::default())
                .await
                .expect("a sync");
            syncs.push(start.elapsed().as_secs_f64());

            let bodies = referrals(&format!("batch-{round}-{concurrency}"), lines);
            let start = Instant::now();
            batch(&client, &mirror, &lock, bodies, concurrency).await;
            rates[slot + 2].push(lines as f64 / start.elapsed().as_secs_f64());
        }
    }
    let [raw1, raw4, batch1, batch4] = rates.map(median);
    println!("{lines} referrals per round, {rounds} rounds (medians, referrals/s):");
    println!(
        "  concurrency 1: raw {raw1:.0}, batch {batch1:.0}, batch ÷ raw {:.2}",
        batch1 / raw1
    );
    println!(
        "  concurrency 4: raw {raw4:.0}, batch {batch4:.0}, batch ÷ raw {:.2}",
        batch4 / raw4
    );
    let [client1, client4] = facade.map(median);
    println!(
        "  Client::create in the same loop (the facade, no outbox): {client1:.0} and \
         {client4:.0} referrals/s, ÷ raw {:.2} and {:.2}",
        client1 / raw1,
        client4 / raw4
    );
    let sync_ms = median(syncs) * 1e3;
    let without = |rate: f64| lines as f64 / (lines as f64 / rate - sync_ms / 1e3);
    println!(
        "  the sync a batch starts with (incremental; it lists again what the overlap covers, \
         here every referral this run created): {sync_ms:.1} ms; batch without it: {:.0} and \
         {:.0} referrals/s, ÷ raw {:.2} and {:.2}",
        without(batch1),
        without(batch4),
        without(batch1) / raw1,
        without(batch4) / raw4
    );
    drop(lock);
    drop(mirror);
    let _ = std::fs::remove_dir_all(&dir);
}

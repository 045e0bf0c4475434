//! `referrals push` throughput: changes per second delivered to a loopback receiver, against a
//! raw HTTP POST loop measured in the same run.
//!
//! A hyper HTTP/1.1 receiver (its own one-worker tokio runtime) answers `204` to every `POST`
//! after reading the body. The sending side runs on a current-thread runtime. A mirror of 500
//! referrals (500 journal rows, each a few hundred bytes of JSON) is pushed:
//!
//! - `push/500/raw_post`: the floor. A hyper-util legacy client POSTs the 500 bodies, encoded
//!   once before measuring, one after the other with `Content-Type` and `Idempotency-Key`,
//!   each response awaited: what an HTTP loop with nothing else to do costs.
//! - `push/500/push`: `referrals_sync::push::push` through `HyperTransport`, a new consumer each
//!   round (offset 0): every change read from SQLite, encoded, posted, and its offset written
//!   (one transaction per change) before the next.
//! - `push/500/push_signed`: the same with a secret (HMAC-SHA256 of each body).
//!
//! The ratios at the end add `raw_post_ack`: the raw loop, each 2xx followed by the offset's
//! transaction (`Mirror::acknowledge`), the floor of any delivery that survives a kill;
//! `push ÷ raw_post_ack` is what the push machinery itself costs. Two more rows split it:
//! `transport_post`, the raw loop's requests sent through `HyperTransport` (what the SDK's
//! transport costs over the bare client), and `raw_post_ack_hop`, `raw_post_ack` with each
//! acknowledgement on a blocking thread (`referrals_sync::run_blocking`), as push runs it.
//!
//! At the end the run prints the ratios from interleaved rounds (median of each), so both
//! sides of a ratio see the same machine state.
//!
//! `cargo bench -p referrals-benches --bench push -- --measurement-time 2 --warm-up-time 1`

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::header::{CONTENT_TYPE, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client as RawClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use referrals::Secret;
use referrals::transport::HyperTransport;
use referrals_sync::Mirror;
use referrals_sync::push::{PushOptions, push};
use tokio::runtime::Runtime;

const CHANGES: usize = 500;

type Raw = RawClient<HttpConnector, Full<Bytes>>;

struct Bench {
    client_rt: Runtime,
    // Dropped after the clients: the server's tasks end with it.
    _server_rt: Runtime,
    url: String,
    raw: Raw,
    transport: HyperTransport,
    mirror: Arc<Mutex<Mirror>>,
    dir: PathBuf,
    /// The journal rows as push sends them, encoded once, with their keys.
    bodies: Vec<(Bytes, HeaderValue)>,
    round: AtomicU64,
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Answers 204 to every request, after reading its body.
async fn receiver(listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let service = service_fn(
                |request: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = request.into_body().collect().await;
                    let mut response = hyper::Response::new(Full::new(Bytes::new()));
                    *response.status_mut() = hyper::StatusCode::NO_CONTENT;
                    Ok::<_, Infallible>(response)
                },
            );
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Bench {
    fn new() -> Bench {
        let server_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("receiver runtime");
        let listener = server_rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        server_rt.spawn(receiver(listener));
        let client_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");

        let dir = std::env::temp_dir().join(format!("referrals-bench-push-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut mirror = Mirror::open(dir.join("m.db")).expect("a mirror");
        for value in referrals_fixtures::synthetic::Synthetic::new(7).referrals(CHANGES) {
            let referral: referrals::Referral =
                serde_json::from_value(value).expect("a synthetic referral");
            mirror
                .apply_referral(&referral, SystemTime::now())
                .expect("applied");
        }
        let identity = mirror.identity().expect("an identity");
        let bodies = mirror
            .changes_after(0, CHANGES as u64)
            .expect("the journal")
            .iter()
            .map(|change| {
                let key = referrals_sync::push::idempotency_key(&identity, change.seq);
                (
                    Bytes::from(change.to_json().expect("JSON")),
                    HeaderValue::try_from(key).expect("a header value"),
                )
            })
            .collect();
        let raw = RawClient::builder(TokioExecutor::new()).build_http();
        Bench {
            client_rt,
            _server_rt: server_rt,
            url,
            raw,
            transport: HyperTransport::new(),
            mirror: Arc::new(Mutex::new(mirror)),
            dir,
            bodies,
            round: AtomicU64::new(0),
        }
    }

    /// One `POST` of the raw loop, its response read.
    async fn post(&self, body: &Bytes, key: &HeaderValue) {
        let request = hyper::Request::post(self.url.as_str())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("idempotency-key", key.clone())
            .body(Full::new(body.clone()))
            .expect("a request");
        let response = self.raw.request(request).await.expect("a response");
        assert_eq!(response.status(), 204);
        let _ = response.into_body().collect().await.expect("the body");
    }

    async fn raw_post(&self) {
        for (body, key) in &self.bodies {
            self.post(body, key).await;
        }
    }

    /// [`Self::raw_post`], each 2xx followed by the consumer's acknowledgement (one SQLite
    /// transaction, as push writes it): the floor of a delivery that survives a kill.
    async fn raw_post_ack(&self) {
        let consumer = format!("bench-{}", self.round.fetch_add(1, Ordering::Relaxed));
        for (seq, (body, key)) in (1..).zip(&self.bodies) {
            self.post(body, key).await;
            let mut mirror = self.mirror.lock().expect("the mirror");
            mirror
                .acknowledge(&consumer, seq, SystemTime::now())
                .expect("acknowledged");
        }
    }

    /// [`Self::raw_post`]'s requests through `HyperTransport` (`Transport::send`).
    async fn transport_post(&self) {
        use referrals::transport::Transport;
        for (body, key) in &self.bodies {
            let request = http::Request::post(self.url.as_str())
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .header("idempotency-key", key.clone())
                .body(body.clone())
                .expect("a request");
            let response = self.transport.send(request).await.expect("a response");
            assert_eq!(response.status(), 204);
        }
    }

    /// [`Self::raw_post_ack`] with each acknowledgement on a blocking thread, as push runs it.
    async fn raw_post_ack_hop(&self) {
        let consumer = format!("bench-{}", self.round.fetch_add(1, Ordering::Relaxed));
        for (seq, (body, key)) in (1..).zip(&self.bodies) {
            self.post(body, key).await;
            let consumer = consumer.clone();
            referrals_sync::run_blocking(&self.mirror, move |m| {
                m.acknowledge(&consumer, seq, SystemTime::now())
            })
            .await
            .expect("thread")
            .expect("acknowledged");
        }
    }

    async fn push(&self, signed: bool) {
        let consumer = format!("bench-{}", self.round.fetch_add(1, Ordering::Relaxed));
        let mut options = PushOptions::new(consumer, self.url.as_str()).expect("options");
        if signed {
            options.secret = Some(Secret::new("bench-secret-value"));
        }
        let report = push(
            &self.transport,
            &self.mirror,
            &options,
            std::future::pending(),
            |_| {},
        )
        .await
        .expect("pushed");
        assert_eq!(report.delivered, CHANGES as u64);
    }
}

fn bench(c: &mut Criterion) {
    let bench = Bench::new();
    let mut group = c.benchmark_group(format!("push/{CHANGES}"));
    group.throughput(Throughput::Elements(CHANGES as u64));
    group.sample_size(10);
    group.bench_function("raw_post", |b| {
        b.iter(|| bench.client_rt.block_on(bench.raw_post()))
    });
    group.bench_function("push", |b| {
        b.iter(|| bench.client_rt.block_on(bench.push(false)))
    });
    group.bench_function("push_signed", |b| {
        b.iter(|| bench.client_rt.block_on(bench.push(true)))
    });
    group.finish();
    ratios(&bench);
}

/// Medians of interleaved rounds, and the ratios of push to the raw loop.
fn ratios(bench: &Bench) {
    const ROUNDS: usize = 11;
    let mut times: [Vec<Duration>; 6] = Default::default();
    for _ in 0..ROUNDS {
        let started = Instant::now();
        bench.client_rt.block_on(bench.raw_post());
        times[0].push(started.elapsed());
        let started = Instant::now();
        bench.client_rt.block_on(bench.raw_post_ack());
        times[3].push(started.elapsed());
        let started = Instant::now();
        bench.client_rt.block_on(bench.push(false));
        times[1].push(started.elapsed());
        let started = Instant::now();
        bench.client_rt.block_on(bench.push(true));
        times[2].push(started.elapsed());
        let started = Instant::now();
        bench.client_rt.block_on(bench.transport_post());
        times[4].push(started.elapsed());
        let started = Instant::now();
        bench.client_rt.block_on(bench.raw_post_ack_hop());
        times[5].push(started.elapsed());
    }
    let [raw, plain, signed, acked, tpost, hop] = times.map(|mut t| {
        t.sort();
        t[t.len() / 2]
    });
    let rate = |d: Duration| CHANGES as f64 / d.as_secs_f64();
    println!(
        "push to a loopback receiver, {CHANGES} changes, medians of {ROUNDS} interleaved rounds:"
    );
    println!("  raw_post     {:>8.0} changes/s", rate(raw));
    println!(
        "  raw_post_ack {:>8.0} changes/s  = {:.2}x the raw loop (the raw loop + one offset \
         transaction per change)",
        rate(acked),
        rate(acked) / rate(raw)
    );
    println!(
        "  push         {:>8.0} changes/s  = {:.2}x the raw loop",
        rate(plain),
        rate(plain) / rate(raw)
    );
    println!(
        "  push ÷ raw_post_ack: {:.2}x (what push adds to the delivery it guarantees)",
        rate(plain) / rate(acked)
    );
    println!(
        "  push_signed  {:>8.0} changes/s  = {:.2}x the raw loop",
        rate(signed),
        rate(signed) / rate(raw)
    );
    println!(
        "  transport_post   {:>8.0} changes/s  = {:.2}x the raw loop (the same requests \
         through HyperTransport)",
        rate(tpost),
        rate(tpost) / rate(raw)
    );
    println!(
        "  raw_post_ack_hop {:>8.0} changes/s  = {:.2}x the raw loop, {:.2}x raw_post_ack (each \
         acknowledgement on a blocking thread, as push runs it)",
        rate(hop),
        rate(hop) / rate(raw),
        rate(hop) / rate(acked)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

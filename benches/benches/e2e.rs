//! Listing end to end over loopback HTTP, against what the transport allows.
//!
//! The simulator (its own one-worker tokio runtime, pages assembled from pre-encoded items)
//! serves 10,000 synthetic referrals; the client side runs on a current-thread runtime. In the
//! same run, on the same pages:
//!
//! - `e2e/list_10k/raw_bytes`: the floor. A hyper-util legacy client GETs the 100 pages of 100
//!   with the client's headers (`Authorization`, `Accept`, `User-Agent`, `MS-CorrelationId`,
//!   `MS-RequestId`, `MS-ContinuationToken`) and only reads the bytes. The continuation tokens
//!   are collected once before measuring, so nothing is parsed.
//! - `e2e/list_10k/raw_model`: the same loop, each page decoded with
//!   `referrals_model::decode::<ReferralCollection>` and its items dropped one by one: the typed
//!   decode alone, so `client_items / raw_model` is what the facade (pager, auth, retries,
//!   streams) adds.
//! - `e2e/list_10k/raw_value`: what a user without the SDK writes: the same loop, each page
//!   parsed with `serde_json::from_slice::<serde_json::Value>`, the next token read from it.
//! - `e2e/list_10k/raw_ignored`: the parse floor: the same loop, each page parsed into
//!   `serde::de::IgnoredAny` (tokens as for `raw_bytes`). No typed decode can beat it.
//! - `e2e/list_10k/client_items`: `client.list(ListQuery::new().page_size(100)?)` as a stream
//!   of typed items, through `HyperTransport`.
//! - `e2e/concurrency/*`: one listing of 1,000 items (10 pages) against 32 such listings at
//!   once over one shared client, on a multi-thread runtime (as `#[tokio::main]` gives): with
//!   the transport's default pool (`pool_max_idle_per_host` 16), and with a pool of 32 idle
//!   connections. Connections opened per round are printed afterwards.
//!
//! At the end the run prints the ratios from interleaved rounds (median of each), so both
//! sides of a ratio see the same machine state.
//!
//! `cargo bench -p referrals-benches --bench e2e`

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::TryStreamExt;
use http::header::{ACCEPT, AUTHORIZATION, HeaderValue, USER_AGENT};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as RawClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use referrals::model::decode;
use referrals::transport::HyperTransport;
use referrals::{Client, ListQuery, ReferralCollection};
use referrals_simulator::{Simulator, SimulatorHandle};
use serde::de::IgnoredAny;
use tokio::runtime::Runtime;

const REFERRALS: usize = 10_000;
const PAGE_SIZE: u32 = 100;
const CONCURRENT: usize = 32;
const CONCURRENT_ITEMS: u64 = 1_000;
const CONTINUATION: &str = "MS-ContinuationToken";
const CORRELATION: &str = "9a7c2f4e-1b3d-4e5f-8a9b-0c1d2e3f4a5b";
const REQUEST: &str = "0f1e2d3c-4b5a-4968-8776-655443322110";

type Raw = RawClient<HttpConnector, Full<Bytes>>;

struct Bench {
    client_rt: Runtime,
    /// For the concurrency figures: as many workers as cores, like `#[tokio::main]`.
    multi_rt: Runtime,
    simulator: SimulatorHandle,
    // Declared after the handle: dropped last, so the server task is aborted inside it.
    _server_rt: Runtime,
    client: Client,
    /// Clients used only on `multi_rt` (a pooled connection belongs to the runtime that opened
    /// it): the default transport, and one keeping 32 idle connections.
    shared: [(Client, HyperTransport); 2],
    raw: Raw,
    first_url: String,
    authorization: HeaderValue,
    user_agent: HeaderValue,
    /// The continuation token of every page after the first, in order.
    tokens: Vec<HeaderValue>,
}

fn query() -> ListQuery {
    match ListQuery::new().page_size(PAGE_SIZE) {
        Ok(query) => query,
        Err(error) => panic!("{error}"),
    }
}

impl Bench {
    fn new() -> Bench {
        let server_rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("simulator")
            .enable_all()
            .build()
            .expect("simulator runtime");
        let simulator = server_rt
            .block_on(Simulator::builder().referrals(REFERRALS).seed(42).start())
            .expect("simulator starts");
        let client_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        let multi_rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("multi-thread client runtime");
        let client_with = |pool: Option<usize>| {
            let mut builder = HyperTransport::builder().no_proxy();
            if let Some(idle) = pool {
                builder = builder.pool_max_idle_per_host(idle);
            }
            let transport = builder.build().expect("transport");
            let client = Client::builder()
                .base_url(simulator.base_url())
                .bearer_token(simulator.token())
                .transport(transport.clone())
                .build()
                .expect("client");
            (client, transport)
        };
        let (client, _) = client_with(None);
        let shared = [client_with(None), client_with(Some(CONCURRENT))];
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let raw = RawClient::builder(TokioExecutor::new()).build(connector);
        let first_url = format!(
            "{}?{}",
            simulator.referrals_url(),
            query().to_query_string()
        );
        let authorization =
            HeaderValue::from_str(&format!("Bearer {}", simulator.token())).expect("token header");
        let mut bench = Bench {
            client_rt,
            multi_rt,
            simulator,
            _server_rt: server_rt,
            client,
            shared,
            raw,
            first_url,
            authorization,
            // What the client sends, so that both sides carry the same headers.
            user_agent: HeaderValue::from_static(referrals_query::DEFAULT_USER_AGENT),
            tokens: Vec::new(),
        };
        let (items, tokens) = bench.client_rt.block_on(bench.raw_value(true));
        assert_eq!(items, REFERRALS, "the value loop sees every referral");
        assert_eq!(tokens.len(), REFERRALS / PAGE_SIZE as usize - 1);
        bench.tokens = tokens;
        bench
    }

    fn request(&self, token: Option<&HeaderValue>) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::get(self.first_url.as_str())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, self.user_agent.clone())
            .header("MS-CorrelationId", CORRELATION)
            .header("MS-RequestId", REQUEST)
            .body(Full::new(Bytes::new()))
            .expect("request");
        if let Some(token) = token {
            request.headers_mut().insert(CONTINUATION, token.clone());
        }
        request
    }

    async fn get(&self, token: Option<&HeaderValue>) -> Bytes {
        let response = self.raw.request(self.request(token)).await.expect("GET");
        assert!(response.status().is_success(), "{}", response.status());
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
    }

    /// The floor: every page's bytes, nothing parsed. Returns the bytes read.
    async fn raw_bytes(&self) -> usize {
        let mut total = self.get(None).await.len();
        for token in &self.tokens {
            total += black_box(self.get(Some(token)).await).len();
        }
        total
    }

    /// The parse floor: every page through `IgnoredAny`. Returns the bytes parsed.
    async fn raw_ignored(&self) -> usize {
        let mut total = 0;
        for token in std::iter::once(None).chain(self.tokens.iter().map(Some)) {
            let bytes = self.get(token).await;
            serde_json::from_slice::<IgnoredAny>(&bytes).expect("a JSON page");
            total += bytes.len();
        }
        total
    }

    /// The typed decode alone: every page through the model, items dropped one by one.
    async fn raw_model(&self) -> usize {
        let mut items = 0;
        for token in std::iter::once(None).chain(self.tokens.iter().map(Some)) {
            let bytes = self.get(token).await;
            let page: ReferralCollection = decode(&bytes).expect("a page of referrals");
            for referral in page.into_items() {
                black_box(&referral);
                items += 1;
            }
        }
        items
    }

    /// A user without the SDK: each page into a `Value`, the next token read from it.
    async fn raw_value(&self, keep_tokens: bool) -> (usize, Vec<HeaderValue>) {
        let mut items = 0;
        let mut kept = Vec::new();
        let mut token: Option<HeaderValue> = None;
        loop {
            let bytes = self.get(token.as_ref()).await;
            let page: serde_json::Value = serde_json::from_slice(&bytes).expect("a JSON page");
            items += page["items"].as_array().map_or(0, Vec::len);
            token = page["links"]["next"]["headers"]
                .as_array()
                .and_then(|headers| {
                    headers.iter().find(|h| {
                        h["key"]
                            .as_str()
                            .is_some_and(|k| k.eq_ignore_ascii_case(CONTINUATION))
                    })
                })
                .and_then(|h| h["value"].as_str())
                .map(|v| HeaderValue::from_str(v).expect("token header"));
            black_box(&page);
            match &token {
                Some(token) if keep_tokens => kept.push(token.clone()),
                Some(_) => {}
                None => return (items, kept),
            }
        }
    }

    /// The SDK: typed items from `client.list(..)`.
    async fn client_items(&self, limit: Option<u64>) -> usize {
        let mut listing = self.client.list(query());
        if let Some(limit) = limit {
            listing = listing.max_items(limit);
        }
        let mut items = 0;
        while let Some(referral) = listing.try_next().await.expect("listing") {
            black_box(&referral);
            items += 1;
        }
        items
    }

    /// `listings` listings of [`CONCURRENT_ITEMS`] at once, as tasks on `multi_rt`, over the
    /// shared client `which`.
    async fn concurrent(&self, which: usize, listings: usize) -> usize {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..listings {
            let client = self.shared[which].0.clone();
            tasks.spawn(async move {
                let mut listing = client.list(query()).max_items(CONCURRENT_ITEMS);
                let mut items = 0usize;
                while let Some(referral) = listing.try_next().await.expect("listing") {
                    black_box(&referral);
                    items += 1;
                }
                items
            });
        }
        let mut items = 0;
        while let Some(done) = tasks.join_next().await {
            items += done.expect("listing task");
        }
        assert_eq!(items, listings * CONCURRENT_ITEMS as usize);
        items
    }

    /// Runs `iters` times on the client runtime and returns the elapsed time.
    fn time<F: Future<Output = usize>>(&self, iters: u64, run: impl Fn() -> F) -> Duration {
        time_on(&self.client_rt, iters, run)
    }

    /// As [`Bench::time`], on the multi-thread runtime.
    fn time_multi<F: Future<Output = usize>>(&self, iters: u64, run: impl Fn() -> F) -> Duration {
        time_on(&self.multi_rt, iters, run)
    }
}

fn time_on<F: Future<Output = usize>>(rt: &Runtime, iters: u64, run: impl Fn() -> F) -> Duration {
    rt.block_on(async {
        let started = Instant::now();
        for _ in 0..iters {
            black_box(run().await);
        }
        started.elapsed()
    })
}

fn list_10k(c: &mut Criterion, bench: &Bench) {
    let mut group = c.benchmark_group("e2e/list_10k");
    group.throughput(Throughput::Elements(REFERRALS as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("raw_bytes", |b| {
        b.iter_custom(|iters| bench.time(iters, || bench.raw_bytes()))
    });
    group.bench_function("raw_value", |b| {
        b.iter_custom(|iters| bench.time(iters, || async { bench.raw_value(false).await.0 }))
    });
    group.bench_function("raw_ignored", |b| {
        b.iter_custom(|iters| bench.time(iters, || bench.raw_ignored()))
    });
    group.bench_function("raw_model", |b| {
        b.iter_custom(|iters| bench.time(iters, || bench.raw_model()))
    });
    group.bench_function("client_items", |b| {
        b.iter_custom(|iters| bench.time(iters, || bench.client_items(None)))
    });
    group.finish();
}

fn concurrency(c: &mut Criterion, bench: &Bench) {
    let cases = [
        ("1_listing", 0, 1),
        ("32_listings_default_pool", 0, CONCURRENT),
        ("32_listings_pool_32", 1, CONCURRENT),
    ];
    for (name, which, listings) in cases {
        let mut group = c.benchmark_group("e2e/concurrency");
        group.throughput(Throughput::Elements(listings as u64 * CONCURRENT_ITEMS));
        group.sample_size(10);
        group.warm_up_time(Duration::from_secs(1));
        group.measurement_time(Duration::from_secs(4));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| bench.time_multi(iters, || bench.concurrent(which, listings)))
        });
        group.finish();
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Interleaved rounds, so the ratios compare runs that saw the same machine state.
fn ratios(bench: &Bench) {
    const ROUNDS: usize = 11;
    let seconds = |d: Duration| d.as_secs_f64();
    let mut t: [Vec<f64>; 8] = Default::default();
    for _ in 0..ROUNDS {
        t[0].push(seconds(bench.time(1, || bench.raw_bytes())));
        t[1].push(seconds(bench.time(1, || bench.raw_ignored())));
        t[2].push(seconds(
            bench.time(1, || async { bench.raw_value(false).await.0 }),
        ));
        t[3].push(seconds(bench.time(1, || bench.client_items(None))));
        t[4].push(seconds(bench.time_multi(1, || bench.concurrent(0, 1))));
        t[5].push(seconds(
            bench.time_multi(1, || bench.concurrent(0, CONCURRENT)),
        ));
        t[6].push(seconds(
            bench.time_multi(1, || bench.concurrent(1, CONCURRENT)),
        ));
        t[7].push(seconds(bench.time(1, || bench.raw_model())));
    }
    let [raw, ignored, value, sdk, one, many, many_pooled, model] = t.map(median);
    let mib = bench.client_rt.block_on(bench.raw_bytes()) as f64 / (1024.0 * 1024.0);
    println!(
        "\nend to end, {REFERRALS} referrals in pages of {PAGE_SIZE} ({mib:.1} MiB), \
         median of {ROUNDS} interleaved rounds:"
    );
    println!(
        "  raw_bytes    {:>8.2} ms  ({:>5.0} MiB/s)",
        raw * 1e3,
        mib / raw
    );
    println!(
        "  raw_ignored  {:>8.2} ms  = {:.2} x raw_bytes",
        ignored * 1e3,
        ignored / raw
    );
    println!(
        "  raw_model    {:>8.2} ms  = {:.2} x raw_bytes",
        model * 1e3,
        model / raw
    );
    println!(
        "  raw_value    {:>8.2} ms  = {:.2} x raw_bytes",
        value * 1e3,
        value / raw
    );
    println!(
        "  client_items {:>8.2} ms  = {:.2} x raw_bytes, {:.2} x raw_ignored, {:.2} x raw_model, \
         {:.2} x raw_value",
        sdk * 1e3,
        sdk / raw,
        sdk / ignored,
        sdk / model,
        sdk / value
    );
    let items = CONCURRENT_ITEMS as f64;
    let rate = |listings: usize, secs: f64| items * listings as f64 / secs;
    println!("concurrency ({CONCURRENT_ITEMS} items per listing, multi-thread runtime):");
    println!(
        "  1 listing               {:>8.2} ms  {:>7.0} items/s",
        one * 1e3,
        rate(1, one)
    );
    for (label, secs) in [("default pool", many), ("pool of 32  ", many_pooled)] {
        println!(
            "  {CONCURRENT} listings, {label} {:>8.2} ms  {:>7.0} items/s = {:.2} x one listing",
            secs * 1e3,
            rate(CONCURRENT, secs),
            rate(CONCURRENT, secs) / rate(1, one)
        );
    }
    // Connections per round, counted on a warm pool.
    const COUNTED: u64 = 5;
    for (which, label) in [(0, "default pool"), (1, "pool of 32")] {
        let transport = &bench.shared[which].1;
        let (opened, accepted) = (
            transport.connections_opened(),
            bench.simulator.connections(),
        );
        bench.time_multi(COUNTED, || bench.concurrent(which, CONCURRENT));
        println!(
            "  connections opened per round of {CONCURRENT} listings ({label}): client {:.1}, \
             simulator accepted {:.1}",
            (transport.connections_opened() - opened) as f64 / COUNTED as f64,
            (bench.simulator.connections() - accepted) as f64 / COUNTED as f64
        );
    }
    let single = &bench.shared[0].1;
    let opened = single.connections_opened();
    bench.time_multi(COUNTED, || bench.concurrent(0, 1));
    println!(
        "  connections opened per single listing (10 pages) on a warm pool: {:.1}",
        (single.connections_opened() - opened) as f64 / COUNTED as f64
    );
}

fn e2e(c: &mut Criterion) {
    let bench = Bench::new();
    list_10k(c, &bench);
    concurrency(c, &bench);
    ratios(&bench);
}

criterion_group!(benches, e2e);
criterion_main!(benches);

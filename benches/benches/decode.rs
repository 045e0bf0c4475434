//! Decoding a page of referrals: our lossless typed decode against baselines measured on the
//! same bytes in the same run. Two kinds of page: synthetic ones of 100 / 10,000 / 100,000
//! referrals (every field filled), and `documented`, the 100 referrals of
//! `fixtures/data/documented-page.json` built from Microsoft's documented examples (small
//! referrals beside large ones, many fields absent), where a model's fixed cost per object shows.
//!
//! - `ignored_any`: serde_json parsing into `IgnoredAny`, the parse floor;
//! - `value`: into `serde_json::Value`;
//! - `naive_struct`: a `#[derive(Deserialize)]` struct with owned strings and no unknown fields;
//! - `model`: `referrals_model::decode::<ReferralCollection>`;
//! - `model_borrowed`: `referrals_model::decode::<borrowed::ReferralCollectionRef>`, the same
//!   lossless decode into the borrowed model;
//! - `serde_json_lossy`, `sonic_rs_lossy`, `simd_json_lossy`: [`lossy::Page`] (the model's
//!   fields, borrowed text, unknown fields dropped) decoded by each parser, the fastest typed
//!   decode each offers (simd-json parses in place: its time includes copying the page).
//!
//! `cargo bench -p referrals-benches --bench decode`; `REFERRALS_BENCH_SIZES=100` to limit the
//! synthetic sizes, `REFERRALS_BENCH_SIZES=documented` for the documented page alone (the
//! default is every size and the documented page).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use referrals_benches::{lossy, naive};
use referrals_fixtures::files::Fixture;
use referrals_fixtures::synthetic::Synthetic;
use referrals_model::borrowed::ReferralCollectionRef;
use referrals_model::{ReferralCollection, decode};
use serde::de::IgnoredAny;

/// The pages to decode: `(group name, bytes, items)`.
fn pages() -> Vec<(String, Vec<u8>, usize)> {
    let wanted = std::env::var("REFERRALS_BENCH_SIZES")
        .unwrap_or_else(|_| String::from("100,documented,10000,100000"));
    let synthetic = Synthetic::new(42);
    wanted
        .split(',')
        .map(str::trim)
        .filter_map(|page| match page {
            "documented" => Some((
                String::from("documented"),
                Fixture::DocumentedPage.bytes().to_vec(),
                100,
            )),
            n => n
                .parse::<usize>()
                .ok()
                .map(|n| (n.to_string(), synthetic.page_bytes_classic(n), n)),
        })
        .collect()
}

fn decode_pages(c: &mut Criterion) {
    for (name, bytes, n) in pages() {
        let check: ReferralCollection = match decode(&bytes) {
            Ok(page) => page,
            Err(error) => panic!("the {name} page does not decode: {error}"),
        };
        assert_eq!(check.items().len(), n);

        let mut group = c.benchmark_group(format!("decode/{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        if n >= 10_000 {
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(if n >= 100_000 { 20 } else { 5 }));
        }
        group.bench_function(BenchmarkId::from_parameter("ignored_any"), |b| {
            b.iter(|| serde_json::from_slice::<IgnoredAny>(black_box(&bytes)).map(|_| ()))
        });
        group.bench_function(BenchmarkId::from_parameter("value"), |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&bytes)))
        });
        group.bench_function(BenchmarkId::from_parameter("naive_struct"), |b| {
            b.iter(|| serde_json::from_slice::<naive::Page>(black_box(&bytes)))
        });
        group.bench_function(BenchmarkId::from_parameter("model"), |b| {
            b.iter(|| decode::<ReferralCollection>(black_box(&bytes)))
        });
        group.bench_function(BenchmarkId::from_parameter("model_borrowed"), |b| {
            b.iter(|| decode::<ReferralCollectionRef>(black_box(&bytes)))
        });
        group.bench_function(BenchmarkId::from_parameter("serde_json_lossy"), |b| {
            b.iter(|| serde_json::from_slice::<lossy::Page>(black_box(&bytes)).map(|_| ()))
        });
        group.bench_function(BenchmarkId::from_parameter("sonic_rs_lossy"), |b| {
            b.iter(|| sonic_rs::from_slice::<lossy::Page>(black_box(&bytes)).map(|_| ()))
        });
        let mut scratch = Vec::with_capacity(bytes.len());
        group.bench_function(BenchmarkId::from_parameter("simd_json_lossy"), |b| {
            b.iter(|| {
                scratch.clear();
                scratch.extend_from_slice(black_box(&bytes));
                simd_json::serde::from_slice::<lossy::Page>(&mut scratch).map(|_| ())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, decode_pages);
criterion_main!(benches);

//! A fixed decode workload for instruction-level profiling:
//! `valgrind --tool=callgrind target/release/examples/decode_profile [model|borrowed|naive|ignored|value|visit|serde_json_lossy|sonic_rs_lossy|simd_json_lossy] [rounds] [items]`
//! (subtract a run with 0 rounds: building the synthetic page is part of every run; `items`
//! is the page's size, 100 by default, or `documented` for the 100 referrals of
//! `fixtures/data/documented-page.json`, built from Microsoft's documented examples, or the path
//! of a file holding a page).

use referrals_benches::{lossy, naive, visit};
use referrals_fixtures::files::Fixture;
use referrals_fixtures::synthetic::Synthetic;
use referrals_model::borrowed::ReferralCollectionRef;
use referrals_model::{ReferralCollection, decode};

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "model".into());
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(50);
    let bytes = match args.next() {
        Some(page) if page == "documented" => Fixture::DocumentedPage.bytes().to_vec(),
        Some(path) if std::path::Path::new(&path).is_file() => {
            std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
        }
        size => {
            Synthetic::new(42).page_bytes_classic(size.and_then(|n| n.parse().ok()).unwrap_or(100))
        }
    };
    let mut scratch = Vec::with_capacity(bytes.len());
    let mut items = 0usize;
    for _ in 0..rounds {
        items += match which.as_str() {
            "naive" => serde_json::from_slice::<naive::Page>(&bytes)
                .map(|p| p.items.map_or(0, |i| i.len()))
                .unwrap_or(0),
            "ignored" => serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).map_or(0, |_| 1),
            "value" => serde_json::from_slice::<serde_json::Value>(&bytes).map_or(0, |_| 1),
            "visit" => usize::from(visit::visit_page(&bytes)),
            "serde_json_lossy" => serde_json::from_slice::<lossy::Page>(&bytes)
                .map_or(0, |p| p.items.map_or(0, |i| i.len())),
            "sonic_rs_lossy" => sonic_rs::from_slice::<lossy::Page>(&bytes)
                .map_or(0, |p| p.items.map_or(0, |i| i.len())),
            "simd_json_lossy" => {
                scratch.clear();
                scratch.extend_from_slice(&bytes);
                simd_json::serde::from_slice::<lossy::Page>(&mut scratch)
                    .map_or(0, |p| p.items.map_or(0, |i| i.len()))
            }
            "borrowed" => decode::<ReferralCollectionRef>(&bytes).map_or(0, |p| p.items().len()),
            _ => decode::<ReferralCollection>(&bytes).map_or(0, |p| p.items().len()),
        };
    }
    println!(
        "{which}: {items} items over {rounds} rounds of {} bytes",
        bytes.len()
    );
}

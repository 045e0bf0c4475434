//! Decode ratios from interleaved rounds: every decoder is timed once per round, in turn, so that
//! all of them see the same machine state, and each ratio is taken between medians.
//!
//! `cargo run --release -p referrals-benches --example decode_ratios -- [items] [rounds]`
//! (defaults: 100 items, 21 rounds). With 100,000 items each round decodes each page once.
//!
//! Besides the decode bench's baselines it times `visit`: serde_json visiting every key and value
//! of the page and keeping nothing, reading the page as `decode` does (UTF-8 checked once, then
//! parsed as text). That is the floor of any typed decode through serde's `Deserializer`: a model
//! built on serde_json does all of it and then stores what it visits.

use std::hint::black_box;
use std::time::Instant;

use referrals_benches::naive;
use referrals_fixtures::synthetic::Synthetic;
use referrals_model::borrowed::ReferralCollectionRef;
use referrals_model::{ReferralCollection, decode};
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

const DECODERS: [&str; 6] = [
    "ignored_any",
    "visit",
    "model_borrowed",
    "model",
    "naive_struct",
    "value",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let items: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(21);
    let bytes = Synthetic::new(42).page_bytes_classic(items);
    // About 50 ms of decoding per decoder and round.
    let repeats = (50_000_000 / bytes.len().max(1)).max(1);

    let mut times: Vec<Vec<f64>> = vec![Vec::new(); DECODERS.len()];
    for _ in 0..rounds {
        for (decoder, samples) in DECODERS.iter().zip(&mut times) {
            let start = Instant::now();
            for _ in 0..repeats {
                decode_with(decoder, black_box(&bytes));
            }
            samples.push(start.elapsed().as_secs_f64() / repeats as f64);
        }
    }

    let medians: Vec<f64> = times.iter_mut().map(|samples| median(samples)).collect();
    println!(
        "{items} items, {} bytes, {rounds} rounds of {repeats} decodes each; median time per page",
        bytes.len()
    );
    println!(
        "{:>16} {:>12} {:>12} {:>14}",
        "decoder", "time", "MB/s", "× ignored_any"
    );
    for (decoder, seconds) in DECODERS.iter().zip(&medians) {
        println!(
            "{decoder:>16} {:>9.1} µs {:>12.0} {:>14.3}",
            seconds * 1e6,
            bytes.len() as f64 / seconds / 1e6,
            medians[0] / seconds,
        );
    }
}

fn decode_with(decoder: &str, bytes: &[u8]) {
    let ok = match decoder {
        "ignored_any" => serde_json::from_slice::<IgnoredAny>(bytes).is_ok(),
        // As `decode` reads a page: UTF-8 checked once, then parsed as text.
        "visit" => std::str::from_utf8(bytes)
            .is_ok_and(|text| serde_json::from_str::<VisitAll>(text).is_ok()),
        "model_borrowed" => decode::<ReferralCollectionRef>(bytes).is_ok(),
        "model" => decode::<ReferralCollection>(bytes).is_ok(),
        "naive_struct" => serde_json::from_slice::<naive::Page>(bytes).is_ok(),
        _ => serde_json::from_slice::<serde_json::Value>(bytes).is_ok(),
    };
    assert!(ok, "{decoder} decodes the synthetic page");
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Visits every key and value (strings borrowed, numbers converted) and keeps nothing.
struct VisitAll;

impl<'de> serde::Deserialize<'de> for VisitAll {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VisitAll)
    }
}

impl<'de> Visitor<'de> for VisitAll {
    type Value = VisitAll;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_i64<E>(self, _: i64) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_u64<E>(self, _: u64) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_f64<E>(self, _: f64) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<VisitAll, E> {
        black_box(text);
        Ok(VisitAll)
    }

    fn visit_str<E>(self, text: &str) -> Result<VisitAll, E> {
        black_box(text);
        Ok(VisitAll)
    }

    fn visit_unit<E>(self) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<VisitAll, A::Error> {
        while seq.next_element::<VisitAll>()?.is_some() {}
        Ok(VisitAll)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VisitAll, A::Error> {
        while let Some(key) = map.next_key::<&'de str>()? {
            black_box(key);
            map.next_value::<VisitAll>()?;
        }
        Ok(VisitAll)
    }
}

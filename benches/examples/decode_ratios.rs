//! Decode ratios from interleaved rounds: every decoder is timed once per round, in turn, so that
//! all of them see the same machine state, and each ratio is taken between medians.
//!
//! `cargo run --release -p referrals-benches --example decode_ratios -- [items] [rounds] [floats|documented]`
//! (defaults: 100 items, 21 rounds). With 100,000 items each round decodes each page once.
//! `documented` decodes `fixtures/data/documented-page.json` instead (its 100 referrals, built
//! from Microsoft's documented examples: small referrals beside large ones, many fields absent;
//! `items` is then ignored).
//! `floats` gives every referral a 17-digit `dealValue` and an unknown list of eight 17-digit
//! floats (the synthetic page's own numbers are short: cents and tenths), to show what serde_json's
//! `float_roundtrip` costs where it matters (`float_roundtrip_cost.sh` runs both builds).
//!
//! Besides the decode bench's baselines it times `visit`: serde_json visiting every key and value
//! of the page and keeping nothing, reading the page as `decode` does (UTF-8 checked once, then
//! parsed as text). That is the floor of any typed decode through serde's `Deserializer`: a model
//! built on serde_json does all of it and then stores what it visits.
//!
//! The `*_lossy` rows decode [`lossy::Page`] (the model's fields, borrowed text, unknown fields
//! dropped) with serde_json, sonic-rs and simd-json: the fastest typed decode each parser offers.
//! simd-json parses in place, so each of its decodes first copies the page into a reused buffer
//! (included in its time, as a caller holding a shared `Bytes` would have to).
//!
//! Ratios are printed against `ignored_any` and, for the two models, against every baseline.

use std::hint::black_box;
use std::time::Instant;

use referrals_benches::{lossy, naive};
use referrals_fixtures::files::Fixture;
use referrals_fixtures::synthetic::Synthetic;
use referrals_model::borrowed::ReferralCollectionRef;
use referrals_model::{ReferralCollection, decode};
use serde::de::IgnoredAny;

const DECODERS: [&str; 9] = [
    "ignored_any",
    "visit",
    "model_borrowed",
    "model",
    "naive_struct",
    "value",
    "serde_json_lossy",
    "sonic_rs_lossy",
    "simd_json_lossy",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let items: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100);
    let rounds: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(21);
    let kind = args.next().unwrap_or_default();
    let (items, bytes) = match kind.as_str() {
        "floats" => (items, float_page(items)),
        "documented" => (100, Fixture::DocumentedPage.bytes().to_vec()),
        _ => (items, Synthetic::new(42).page_bytes_classic(items)),
    };
    // About 50 ms of decoding per decoder and round.
    let repeats = (50_000_000 / bytes.len().max(1)).max(1);

    let mut scratch = Vec::with_capacity(bytes.len());
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); DECODERS.len()];
    for _ in 0..rounds {
        for (decoder, samples) in DECODERS.iter().zip(&mut times) {
            let start = Instant::now();
            for _ in 0..repeats {
                decode_with(decoder, black_box(&bytes), &mut scratch);
            }
            samples.push(start.elapsed().as_secs_f64() / repeats as f64);
        }
    }

    let medians: Vec<f64> = times.iter_mut().map(|samples| median(samples)).collect();
    println!(
        "{items} items{}, {} bytes, {rounds} rounds of {repeats} decodes each; median time per page",
        match kind.as_str() {
            "floats" => " (float-heavy)",
            "documented" => " (documented examples)",
            _ => "",
        },
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
    let time_of = |name: &str| {
        DECODERS
            .iter()
            .position(|decoder| *decoder == name)
            .map(|at| medians[at])
    };
    println!(
        "throughput ratios of the lossless models to each baseline (> 1: the model is faster)"
    );
    println!(
        "{:>16} {:>14} {:>14}",
        "baseline", "model_borrowed", "model"
    );
    for baseline in DECODERS.iter().filter(|d| !d.starts_with("model")) {
        let (Some(base), Some(borrowed), Some(owned)) = (
            time_of(baseline),
            time_of("model_borrowed"),
            time_of("model"),
        ) else {
            continue;
        };
        println!(
            "{baseline:>16} {:>14.3} {:>14.3}",
            base / borrowed,
            base / owned
        );
    }
}

fn decode_with(decoder: &str, bytes: &[u8], scratch: &mut Vec<u8>) {
    let ok = match decoder {
        "ignored_any" => serde_json::from_slice::<IgnoredAny>(bytes).is_ok(),
        // As `decode` reads a page: UTF-8 checked once, then parsed as text.
        "visit" => referrals_benches::visit::visit_page(bytes),
        "model_borrowed" => decode::<ReferralCollectionRef>(bytes).is_ok(),
        "model" => decode::<ReferralCollection>(bytes).is_ok(),
        "naive_struct" => serde_json::from_slice::<naive::Page>(bytes).is_ok(),
        "serde_json_lossy" => serde_json::from_slice::<lossy::Page>(bytes).is_ok(),
        "sonic_rs_lossy" => sonic_rs::from_slice::<lossy::Page>(bytes).is_ok(),
        "simd_json_lossy" => {
            scratch.clear();
            scratch.extend_from_slice(bytes);
            simd_json::serde::from_slice::<lossy::Page>(scratch).is_ok()
        }
        _ => serde_json::from_slice::<serde_json::Value>(bytes).is_ok(),
    };
    assert!(ok, "{decoder} decodes the page");
}

/// The synthetic page with 17-digit floats in `dealValue` and in an unknown `metrics` list.
fn float_page(items: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut float = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // 53 random bits scaled to amounts up to ten million: 16-17 significant digits.
        serde_json::Value::from((state >> 11) as f64 / (1u64 << 53) as f64 * 1e7)
    };
    let mut referrals = Synthetic::new(42).referrals(items);
    for referral in &mut referrals {
        referral["details"]["dealValue"] = float();
        referral["metrics"] = (0..8).map(|_| float()).collect();
    }
    serde_json::to_vec(&serde_json::json!({ "totalCount": items, "items": referrals }))
        .unwrap_or_default()
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

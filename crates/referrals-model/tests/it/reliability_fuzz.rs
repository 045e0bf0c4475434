//! Fuzzing collection decode with proptest (cargo-fuzz needs a nightly toolchain): any bytes,
//! damaged pages, deep nesting, unknown fields and enum values. A decode either fails with a
//! located error or succeeds with a value whose re-encoding decodes to the same value. 256
//! cases in `cargo test`, 100 000 in the `#[ignore]`d twin:
//!
//! ```text
//! cargo test --release -p referrals-model --test it reliability_fuzz -- --ignored --nocapture
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use referrals_model::{Referral, ReferralCollection, decode};
use serde_json::{Value, json};

const CI_CASES: u32 = 256;

fn large_cases() -> u32 {
    std::env::var("RELIABILITY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// Words the decoder gives meaning to, so generated pages reach its typed paths.
const KEYS: &[&str] = &[
    "items",
    "value",
    "totalCount",
    "@odata.count",
    "@odata.nextLink",
    "links",
    "next",
    "uri",
    "headers",
    "key",
    "id",
    "status",
    "substatus",
    "type",
    "qualification",
    "direction",
    "customerProfile",
    "size",
    "ids",
    "address",
    "country",
    "details",
    "dealValue",
    "team",
    "target",
    "consent",
    "createdDateTime",
    "eTag",
    "favorite",
    "inviteContext",
    "unknownField",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::from)),
        prop::sample::select(vec![
            "New",
            "Active",
            "Closed",
            "Won",
            "Paused",
            "",
            "1to9employees",
            "2018-10-30T21:03:42.4579542Z",
            "not a date",
            "10000",
            "1e400",
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|fields| {
                Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn page_like() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(json_value(), 0..4),
        any::<bool>(),
        json_value(),
    )
        .prop_map(|(items, odata, extra)| {
            let page = if odata {
                json!({ "@odata.count": items.len(), "value": items, "@odata.nextLink": extra })
            } else {
                json!({ "totalCount": items.len(), "items": items, "links": { "next": extra } })
            };
            serde_json::to_vec(&page).unwrap()
        })
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        page_like(),
        (
            page_like(),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)
        )
            .prop_map(|(mut bytes, flips)| {
                for (at, byte) in flips {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
                bytes
            }),
        (page_like(), any::<prop::sample::Index>())
            .prop_map(|(bytes, cut)| bytes[..cut.index(bytes.len())].to_vec()),
        (1usize..5000).prop_map(|depth| {
            format!("{{\"items\":[{{\"extra\":{}}}]}}", "[".repeat(depth)).into_bytes()
        }),
        (1usize..5000).prop_map(|depth| {
            format!(
                "{{\"value\":[{}1{}]}}",
                "{\"a\":".repeat(depth),
                "}".repeat(depth)
            )
            .into_bytes()
        }),
    ]
}

fn decode_holds(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    match decode::<ReferralCollection>(&bytes) {
        Ok(page) => {
            let again = serde_json::to_vec(&page).expect("a decoded page encodes");
            let twice: ReferralCollection = decode(&again).expect("its encoding decodes");
            prop_assert_eq!(&twice, &page);
            prop_assert_eq!(page.items().len(), twice.items().len());
        }
        Err(error) => {
            prop_assert!(error.line() >= 1, "{}", error);
            prop_assert!(!error.message().is_empty());
            let _ = format!("{error} {error:?}");
        }
    }
    let _ = decode::<Referral>(&bytes);
    Ok(())
}

fn fuzz(name: &str, cases: u32) {
    let executions = AtomicU64::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&input(), |bytes| {
        executions.fetch_add(1, Ordering::Relaxed);
        decode_holds(bytes)
    });
    if let Err(failure) = result {
        panic!("{name}: {failure}");
    }
    println!(
        "fuzz {name}: {} executions, 0 failures",
        executions.load(Ordering::Relaxed)
    );
}

#[test]
fn collection_decode_never_panics_and_round_trips() {
    fuzz("collection_decode", CI_CASES);
}

#[test]
#[ignore = "large fuzz run: cargo test --release -- --ignored"]
fn collection_decode_never_panics_and_round_trips_large() {
    fuzz("collection_decode", large_cases());
}

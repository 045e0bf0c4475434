//! Numbers survive a round trip: any `f64` (finite), `i64` or `u64`, written as JSON text in the
//! forms servers use (shortest, 17 significant digits, exponent), placed in `dealValue`, in
//! unknown fields at several depths and in `@odata.count` / `totalCount`, re-encodes to the same
//! numeric value through the owned and the borrowed model.
//!
//! The re-encoded numbers are read back as raw text and parsed by the standard library, so the
//! check does not rely on serde_json's own float parsing.

use std::borrow::Cow;

use proptest::prelude::*;
use referrals_model::borrowed::ReferralCollectionRef;
use referrals_model::{DealValue, ReferralCollection, decode};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A number as the test expects it back.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expected {
    Float(f64),
    Signed(i64),
    Unsigned(u64),
}

impl Expected {
    /// Whether `text` (a re-encoded JSON number) is this number: same kind of literal (an
    /// integer stays an integer) and, for a float, the same bits once parsed by `std`.
    fn matches(self, text: &str) -> bool {
        match self {
            Expected::Float(value) => text
                .parse::<f64>()
                .is_ok_and(|back| back.to_bits() == value.to_bits()),
            Expected::Signed(value) => text.parse::<i64>() == Ok(value),
            Expected::Unsigned(value) => text.parse::<u64>() == Ok(value),
        }
    }
}

/// A number and the JSON text it is sent as.
#[derive(Debug, Clone)]
struct Sent {
    text: String,
    expected: Expected,
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        // Every bit pattern, so subnormals, huge and tiny exponents all come up.
        any::<u64>().prop_map(f64::from_bits),
        // Ordinary amounts, as deal values look.
        (0.0f64..1e9),
        (0.0f64..1.0),
    ]
    .prop_filter("finite", |value| value.is_finite())
}

fn sent_number() -> impl Strategy<Value = Sent> {
    let float = (finite_f64(), 0..3u8).prop_map(|(value, form)| {
        let text = match form {
            // Shortest text that reads back (what serde_json and most servers write), with a
            // `.0` so that an integral float stays a float.
            0 => {
                let text = format!("{value:?}");
                if text.contains(['.', 'e', 'E']) {
                    text
                } else {
                    format!("{text}.0")
                }
            }
            // 17 significant digits, as C's `%.17g` writes them (`3656889.1691258554`).
            1 => format!("{value:.16e}"),
            // Exponent form.
            _ => format!("{value:e}"),
        };
        Sent {
            text,
            expected: Expected::Float(value),
        }
    });
    prop_oneof![
        float,
        any::<i64>().prop_map(|value| Sent {
            text: value.to_string(),
            expected: if value >= 0 {
                Expected::Unsigned(value as u64)
            } else {
                Expected::Signed(value)
            },
        }),
        any::<u64>().prop_map(|value| Sent {
            text: value.to_string(),
            expected: Expected::Unsigned(value),
        }),
    ]
}

/// A page (OData form when `odata`) with `numbers[k]` at the k-th of these places.
const PLACES: [&str; 9] = [
    "@odata.count / totalCount",
    "details.dealValue",
    "details.extraDetail (unknown)",
    "extraTop (unknown, in a referral)",
    "customerProfile.address.extraAddress.deep[0] (unknown, depth 5)",
    "customerProfile.address.extraAddress.deep[1].n (unknown, depth 6)",
    "team[0].contactPreference.extraPreference (unknown, in a list)",
    "pageExtra[0] (unknown, in the page)",
    "pageExtra[1].a.b (unknown, in the page)",
];

fn page_text(odata: bool, n: &[String; 9]) -> String {
    let (count, items) = if odata {
        ("@odata.count", "value")
    } else {
        ("totalCount", "items")
    };
    format!(
        r#"{{"{count}": {}, "{items}": [{{"id": "r1", "details": {{"dealValue": {}, "extraDetail": {}}},
            "extraTop": {}, "customerProfile": {{"address": {{"city": "Oslo",
            "extraAddress": {{"deep": [{}, {{"n": {}}}]}}}}}},
            "team": [{{"contactPreference": {{"extraPreference": {}}}}}]}}],
            "pageExtra": [{}, {{"a": {{"b": {}}}}}]}}"#,
        n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8]
    )
}

/// The re-encoded page, read with raw numbers at the places of [`PLACES`].
#[derive(Deserialize)]
struct PageBack {
    #[serde(rename = "@odata.count", alias = "totalCount")]
    count: Box<RawValue>,
    #[serde(alias = "items")]
    value: [ItemBack; 1],
    #[serde(rename = "pageExtra")]
    page_extra: (Box<RawValue>, Nested),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemBack {
    details: DetailsBack,
    extra_top: Box<RawValue>,
    customer_profile: ProfileBack,
    team: [MemberBack; 1],
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailsBack {
    deal_value: Box<RawValue>,
    extra_detail: Box<RawValue>,
}

#[derive(Deserialize)]
struct ProfileBack {
    address: AddressBack,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddressBack {
    extra_address: DeepBack,
}

#[derive(Deserialize)]
struct DeepBack {
    deep: (Box<RawValue>, NBack),
}

#[derive(Deserialize)]
struct NBack {
    n: Box<RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MemberBack {
    contact_preference: PreferenceBack,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PreferenceBack {
    extra_preference: Box<RawValue>,
}

#[derive(Deserialize)]
struct Nested {
    a: NestedB,
}

#[derive(Deserialize)]
struct NestedB {
    b: Box<RawValue>,
}

fn numbers_back(encoded: &str) -> Result<[String; 9], TestCaseError> {
    let page: PageBack = serde_json::from_str(encoded)
        .map_err(|error| TestCaseError::fail(format!("{error} in {encoded}")))?;
    let [item] = &page.value;
    let text = |raw: &RawValue| raw.get().to_owned();
    let deep = &item.customer_profile.address.extra_address.deep;
    Ok([
        text(&page.count),
        text(&item.details.deal_value),
        text(&item.details.extra_detail),
        text(&item.extra_top),
        text(&deep.0),
        text(&deep.1.n),
        text(&item.team[0].contact_preference.extra_preference),
        text(&page.page_extra.0),
        text(&page.page_extra.1.a.b),
    ])
}

fn check_all(
    model: &str,
    sent: &[Sent; 9],
    back: &[String; 9],
    input: &str,
) -> Result<(), TestCaseError> {
    for ((place, sent), back) in PLACES.iter().zip(sent).zip(back) {
        prop_assert!(
            sent.expected.matches(back),
            "{model}: {place}: sent {} ({:?}), re-encoded as {back}\ninput: {input}",
            sent.text,
            sent.expected
        );
    }
    Ok(())
}

fn round_trip_both(sent: &[Sent; 9], odata: bool) -> Result<(), TestCaseError> {
    let texts = sent.clone().map(|s| s.text);
    let input = page_text(odata, &texts);

    let owned: ReferralCollection = decode(input.as_bytes())
        .map_err(|error| TestCaseError::fail(format!("owned decode: {error}\n{input}")))?;
    let encoded = serde_json::to_string(&owned).map_err(|e| TestCaseError::fail(e.to_string()))?;
    check_all("owned", sent, &numbers_back(&encoded)?, &input)?;

    // The typed fields hold the number itself, not only its re-encoding.
    let deal = owned.items()[0]
        .details
        .as_ref()
        .and_then(|d| d.deal_value.clone());
    let Some(DealValue::Number(deal)) = deal else {
        return Err(TestCaseError::fail(format!(
            "dealValue is not a number: {deal:?}"
        )));
    };
    prop_assert!(sent[1].expected.matches(&deal.to_string()));
    if let Expected::Unsigned(count) = sent[0].expected {
        prop_assert_eq!(owned.count(), Some(count));
    } else {
        prop_assert_eq!(
            owned.count(),
            None,
            "a number that is not a count is kept in extra"
        );
    }

    let borrowed: ReferralCollectionRef<'_> = decode(input.as_bytes())
        .map_err(|error| TestCaseError::fail(format!("borrowed decode: {error}\n{input}")))?;
    let encoded =
        serde_json::to_string(&borrowed).map_err(|e| TestCaseError::fail(e.to_string()))?;
    check_all("borrowed", sent, &numbers_back(&encoded)?, &input)?;

    // And its conversion to the owned model keeps them too.
    let converted = borrowed.map_items(|item| item.into_owned());
    prop_assert_eq!(&converted, &owned);
    Ok(())
}

proptest! {
    #![proptest_config(crate::support::proptest_config(256))]

    #[test]
    fn every_f64_i64_and_u64_survives_both_models_in_the_odata_form(
        sent in proptest::array::uniform9(sent_number())
    ) {
        round_trip_both(&sent, true)?;
    }

    #[test]
    fn every_f64_i64_and_u64_survives_both_models_in_the_2018_form(
        sent in proptest::array::uniform9(sent_number())
    ) {
        round_trip_both(&sent, false)?;
    }
}

/// The values of the report: 17 significant digits that an approximate parser changes in the
/// last digit.
#[test]
fn seventeen_digit_floats_from_the_report_keep_their_last_digit() {
    for text in ["3656889.1691258554", "0.9801748474925821"] {
        let expected = Expected::Float(text.parse().unwrap());
        let body =
            format!(r#"{{"items": [{{"details": {{"dealValue": {text}}}, "x": [{text}]}}]}}"#);
        let owned: ReferralCollection = decode(body.as_bytes()).unwrap();
        let value = serde_json::to_value(&owned).unwrap();
        let deal = value["items"][0]["details"]["dealValue"].to_string();
        assert!(expected.matches(&deal), "{text} came back as {deal}");
        let unknown = value["items"][0]["x"][0].to_string();
        assert!(expected.matches(&unknown), "{text} came back as {unknown}");
    }
}

/// The one limit, as documented: an integer beyond 64 bits is read as the nearest `f64` by the
/// owned model (the borrowed model keeps an unknown field's text as received), and a number
/// beyond `f64`'s range is refused with its location rather than changed.
#[test]
fn integers_beyond_64_bits_become_the_nearest_f64_and_numbers_beyond_f64_are_refused() {
    let body = br#"{"items": [{"details": {"dealValue": 18446744073709551616}, "x": 18446744073709551617}]}"#;
    let owned: ReferralCollection = decode(body).unwrap();
    let referral = &owned.items()[0];
    let deal = referral
        .details
        .as_ref()
        .and_then(|d| d.deal_value.as_ref());
    assert_eq!(
        deal.and_then(DealValue::as_f64),
        Some(18446744073709551616.0)
    );
    assert_eq!(referral.extra["x"].as_f64(), Some(18446744073709551616.0));

    let borrowed: ReferralCollectionRef<'_> = decode(body).unwrap();
    let extra = &borrowed.items()[0].extra;
    assert_eq!(extra[0].0, Cow::Borrowed("x"));
    assert_eq!(extra[0].1.get(), "18446744073709551617");

    for body in [
        &br#"{"items": [{"details": {"dealValue": 1e400}}]}"#[..],
        &br#"{"items": [{"x": {"y": -1e400}}]}"#[..],
    ] {
        let error = decode::<ReferralCollection>(body).unwrap_err().to_string();
        assert!(error.contains("out of range"), "{error}");
        assert!(error.contains("items[0]"), "{error}");
        let error = decode::<ReferralCollectionRef<'_>>(body)
            .unwrap_err()
            .to_string();
        assert!(error.contains("out of range"), "{error}");
    }
}

/// Counts that are numbers but not counts do not fail the page; they come back unchanged.
#[test]
fn a_count_that_is_not_a_count_is_kept_verbatim() {
    for (body, back) in [
        (&br#"{"@odata.count": -1, "value": []}"#[..], "-1"),
        (&br#"{"totalCount": 2.5, "items": []}"#[..], "2.5"),
        (&br#"{"totalCount": 1e3, "items": []}"#[..], "1000.0"),
    ] {
        let page: ReferralCollection = decode(body).unwrap();
        assert_eq!(page.count(), None);
        let text = serde_json::to_string(&page).unwrap();
        assert!(text.contains(&format!(":{back}")), "{text}");
    }
    let error = decode::<ReferralCollection>(br#"{"totalCount": "3", "items": []}"#)
        .unwrap_err()
        .to_string();
    assert!(error.contains("totalCount"), "{error}");
}

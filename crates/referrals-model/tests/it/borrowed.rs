//! The borrowed model: what it borrows, what it keeps, and that it accepts and refuses exactly
//! what the owned model does.

use std::borrow::Cow;

use referrals_model::borrowed::{ReferralCollectionRef, ReferralRef};
use referrals_model::{
    Continuation, CustomerSize, DealValue, Referral, ReferralCollection, ReferralStatus, WireForm,
    decode,
};
use serde_json::{Value, json};

use crate::support::{CREATED, CREATED_NANOS, SIZE_IS_A_NUMBER, decode_both, json_bytes};

fn borrowed_from(input: &[u8], text: &Option<Cow<'_, str>>) -> bool {
    match text {
        Some(Cow::Borrowed(text)) => input.as_ptr_range().contains(&text.as_ptr()),
        _ => false,
    }
}

#[test]
fn text_without_escapes_points_into_the_input_and_escaped_text_is_unescaped() {
    let input = br#"{"id": "c5fb", "name": "Fabrikam \"West\"", "customerProfile":
        {"name": "Contoso", "address": {"city": "Z\u00fcrich"}}}"#;
    let referral: ReferralRef<'_> = decode(input).unwrap();

    assert!(borrowed_from(input, &referral.id));
    let profile = referral.customer_profile.as_ref().unwrap();
    assert!(borrowed_from(input, &profile.name));

    assert!(matches!(&referral.name, Some(Cow::Owned(name)) if name == "Fabrikam \"West\""));
    let city = &profile.address.as_ref().unwrap().city;
    assert!(matches!(city, Some(Cow::Owned(city)) if city == "Zürich"));
}

#[test]
fn unknown_fields_and_explicit_nulls_are_kept_raw_in_order_and_re_encoded() {
    let input = br#"{"favorite": null, "x-new": {"a": [1, 2.50]}, "status": "Closed",
        "details": {"dealValue": "10000", "x-seats": 12}}"#;
    let referral: ReferralRef<'_> = decode(input).unwrap();

    let extra: Vec<(&str, &str)> = referral
        .extra
        .iter()
        .map(|(key, value)| (key.as_ref(), value.get()))
        .collect();
    assert_eq!(
        extra,
        [("favorite", "null"), ("x-new", r#"{"a": [1, 2.50]}"#)]
    );
    assert_eq!(referral.favorite, None);
    assert_eq!(referral.status, Some(ReferralStatus::Closed));
    let details = referral.details.as_ref().unwrap();
    assert_eq!(details.deal_value, Some(DealValue::Text("10000".into())));

    let again = serde_json::to_value(&referral).unwrap();
    assert_eq!(again, serde_json::from_slice::<Value>(input).unwrap());
    // A raw number is written back as it was received, digit for digit.
    assert!(serde_json::to_string(&referral).unwrap().contains("2.50"));
}

#[test]
fn unknown_enum_values_ids_of_either_shape_and_timestamps_survive() {
    let input = json!({
        "status": "Parked",
        "createdDateTime": CREATED,
        "customerProfile": {"size": "Huge", "ids": []},
        "target": [{"id": "t", "type": "Galaxy"}],
    });
    let bytes = json_bytes(&input);
    let referral: ReferralRef<'_> = decode(&bytes).unwrap();

    assert!(matches!(&referral.status, Some(ReferralStatus::Unknown(v)) if v.as_str() == "Parked"));
    let profile = referral.customer_profile.as_ref().unwrap();
    assert!(matches!(&profile.size, Some(CustomerSize::Unknown(v)) if v.as_str() == "Huge"));
    assert_eq!(profile.ids.map(|ids| ids.get()), Some("[]"));
    let created = referral.created_date_time.as_ref().unwrap();
    assert_eq!(created.as_str(), CREATED);
    assert_eq!(created.to_unix_nanos().unwrap(), CREATED_NANOS);
    assert_eq!(serde_json::to_value(&referral).unwrap(), input);

    let owned: Referral = referral.into_owned();
    assert_eq!(owned, decode::<Referral>(&bytes).unwrap());
}

#[test]
fn both_wire_forms_give_the_same_items_count_and_continuation_as_the_owned_page() {
    let classic = br#"{"totalCount": 3, "items": [{"id": "a"}],
        "links": {"next": {"uri": "/referrals", "headers": [{"key": "MS-ContinuationToken", "value": "t1"}]}}}"#;
    let odata = br#"{"@odata.count": 3, "value": [{"id": "a"}],
        "@odata.nextLink": "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=2"}"#;
    for (bytes, form) in [
        (&classic[..], WireForm::Classic),
        (&odata[..], WireForm::OData),
    ] {
        let page: ReferralCollectionRef<'_> = decode(bytes).unwrap();
        let owned: ReferralCollection = decode(bytes).unwrap();
        assert_eq!(page.form, form);
        assert_eq!(page.count(), Some(3));
        assert_eq!(page.continuation(), owned.continuation());
        assert_eq!(page.items()[0].id.as_deref(), Some("a"));
        assert_eq!(page.map_items(ReferralRef::into_owned), owned);
    }
    let page: ReferralCollectionRef<'_> = decode(classic).unwrap();
    assert_eq!(
        page.continuation(),
        Some(Continuation::Headers(vec![(
            "MS-ContinuationToken".into(),
            "t1".into()
        )]))
    );
}

#[test]
fn a_type_error_is_located_exactly_as_the_owned_model_locates_it() {
    let (owned, borrowed) = decode_both(SIZE_IS_A_NUMBER);
    let (owned, borrowed) = (owned.unwrap_err(), borrowed.unwrap_err());
    assert_eq!(borrowed, owned);
    assert_eq!(borrowed.path(), "items[1].customerProfile.size");
    assert_eq!((borrowed.line(), borrowed.column()), (4, 35));
}

#[test]
fn values_json_values_cannot_hold_are_refused_as_the_owned_model_refuses_them() {
    // Both are valid JSON grammar, which is all serde_json checks when it captures a raw value,
    // but a `serde_json::Value` (the owned model's unknown fields) holds neither.
    for (input, reason) in [
        (
            &br#"{"items": [{"x-note": {"text": "\udc00"}}]}"#[..],
            "surrogate",
        ),
        (
            &br#"{"items": [{"x-big": [1e400]}]}"#[..],
            "number out of range",
        ),
    ] {
        let (owned, borrowed) = decode_both(input);
        let (owned, borrowed) = (owned.unwrap_err(), borrowed.unwrap_err());
        assert_eq!(owned.path(), borrowed.path());
        assert!(borrowed.path().starts_with("items[0]"), "{borrowed}");
        assert!(borrowed.message().contains(reason), "{borrowed}");
    }
}

#[test]
fn a_borrowed_page_lives_no_longer_than_its_input_but_its_owned_copy_does() {
    let owned: Referral = {
        let input = String::from(r#"{"id": "scoped", "x-extra": true}"#);
        let referral: ReferralRef<'_> = decode(input.as_bytes()).unwrap();
        referral.into_owned()
    };
    assert_eq!(owned.id.as_deref(), Some("scoped"));
    assert_eq!(owned.extra["x-extra"], true);
}

#[test]
fn every_number_or_escape_a_json_value_refuses_is_refused_in_unknown_fields_and_no_more() {
    let refused = [
        r#""\ud800""#,
        r#"["a", {"b": "x\udfffy"}]"#,
        "1e400",
        "-1E+400",
        "[0.5e999]",
        &"9".repeat(400),
    ];
    for value in refused {
        let input = format!(r#"{{"items": [{{"x-v": {value}}}]}}"#);
        let (owned, borrowed) = decode_both(input.as_bytes());
        assert!(owned.is_err() && borrowed.is_err(), "{value}");
    }
    let accepted = [
        r#""\u00e9 \ud83c\udf89""#,
        r#""\\u not an escape""#,
        "1e300",
        "[1.5E-7, 2e0]",
        r#""version 1e400, in text""#,
        &"9".repeat(308),
        "123456789012345678901234567890",
    ];
    for value in accepted {
        let input = format!(r#"{{"items": [{{"x-v": {value}}}]}}"#);
        let (owned, borrowed) = decode_both(input.as_bytes());
        let (owned, borrowed) = (owned.unwrap(), borrowed.unwrap());
        assert_eq!(borrowed.items()[0].extra[0].1.get(), value);
        assert_eq!(
            borrowed.map_items(ReferralRef::into_owned),
            owned,
            "{value}"
        );
    }
}

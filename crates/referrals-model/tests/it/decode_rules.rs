//! The decode rules a user relies on, one example each.

use referrals_model::{
    Continuation, CustomerSize, DealValue, DecodeErrorKind, Referral, ReferralCollection,
    ReferralStatus, WireForm, decode,
};
use serde_json::{Value, json};

use crate::support::{CREATED, CREATED_NANOS, SIZE_IS_A_NUMBER, json_bytes};

#[test]
fn a_type_error_names_the_json_path_line_and_column() {
    let error = decode::<ReferralCollection>(SIZE_IS_A_NUMBER).unwrap_err();
    assert_eq!(error.path(), "items[1].customerProfile.size");
    assert_eq!((error.line(), error.column()), (4, 35));
    assert_eq!(error.kind(), DecodeErrorKind::Data);
    assert_eq!(
        error.to_string(),
        "unexpected JSON value at line 4, column 35 (at `items[1].customerProfile.size`): \
         invalid type: integer `12`, expected a string (CustomerSize)"
    );
}

#[test]
fn a_syntax_error_names_the_enclosing_object() {
    let error = decode::<ReferralCollection>(b"{\"items\": [{\"details\": {} \"links\": {}}]}")
        .unwrap_err();
    assert_eq!(error.path(), "items[0]");
    assert!(error.is_syntax());
    assert_eq!((error.line(), error.column()), (1, 27));
}

#[test]
fn keys_that_are_not_identifiers_are_quoted_in_the_path() {
    let error = decode::<ReferralCollection>(br#"{"@odata.count": "many"}"#).unwrap_err();
    assert_eq!(error.path(), r#"["@odata.count"]"#);
}

#[test]
fn a_truncated_body_is_reported_as_such() {
    let error = decode::<ReferralCollection>(br#"{"items": [{"id": "a"#).unwrap_err();
    assert!(error.is_eof());
    assert!(
        error.to_string().starts_with("truncated JSON at line 1"),
        "{error}"
    );
}

#[test]
fn an_error_in_one_decode_does_not_leak_into_the_next() {
    let _ = decode::<ReferralCollection>(br#"{"items": [{"status": 1}]}"#).unwrap_err();
    let error = decode::<Referral>(br#"{"favorite": "yes"}"#).unwrap_err();
    assert_eq!(error.path(), "favorite");
}

#[test]
fn unknown_enum_values_decode_and_re_encode_verbatim() {
    let referral: Referral =
        decode(br#"{"status": "OnHold", "customerProfile": {"size": "2to3employees"}}"#).unwrap();
    assert!(matches!(&referral.status, Some(ReferralStatus::Unknown(v)) if v.as_str() == "OnHold"));
    assert_eq!(
        referral.status.as_ref().map(ReferralStatus::as_str),
        Some("OnHold")
    );
    assert!(matches!(
        referral
            .customer_profile
            .as_ref()
            .and_then(|c| c.size.clone()),
        Some(CustomerSize::Unknown(v)) if v.as_str() == "2to3employees"
    ));
    assert_eq!(
        serde_json::to_value(&referral).unwrap(),
        json!({"status": "OnHold", "customerProfile": {"size": "2to3employees"}})
    );
    assert_eq!(ReferralStatus::from("Closed"), ReferralStatus::Closed);
}

#[test]
fn explicit_nulls_stay_null_and_absent_fields_stay_absent() {
    let input = json!({"id": "r1", "status": null, "details": {"dealValue": null}});
    let referral: Referral = decode(&json_bytes(&input)).unwrap();
    assert_eq!(referral.status, None);
    assert_eq!(serde_json::to_value(&referral).unwrap(), input);
}

#[test]
fn setting_a_field_that_arrived_as_null_replaces_the_null() {
    let mut referral: Referral = decode(br#"{"status": null}"#).unwrap();
    referral.status = Some(ReferralStatus::Active);
    assert_eq!(
        serde_json::to_value(&referral).unwrap(),
        json!({"status": "Active"})
    );
}

#[test]
fn ids_as_object_or_array_and_deal_value_as_number_or_string_survive() {
    for input in [
        json!({"customerProfile": {"ids": {}}, "details": {"dealValue": 50000}}),
        json!({"customerProfile": {"ids": []}, "details": {"dealValue": "10000"}}),
        json!({"customerProfile": {"ids": {"duns": "123"}}, "details": {"dealValue": 12.5}}),
    ] {
        let referral: Referral = decode(&json_bytes(&input)).unwrap();
        assert_eq!(serde_json::to_value(&referral).unwrap(), input);
    }
    let referral: Referral = decode(br#"{"details": {"dealValue": "10000"}}"#).unwrap();
    let deal = referral.details.and_then(|d| d.deal_value);
    assert_eq!(deal, Some(DealValue::Text("10000".into())));
    assert_eq!(deal.and_then(|d| d.as_f64()), Some(10000.0));
}

#[test]
fn timestamps_keep_their_exact_text() {
    let input =
        json!({"createdDateTime": CREATED, "updatedDateTime": "2018-10-29T21:24:52.040469Z"});
    let referral: Referral = decode(&json_bytes(&input)).unwrap();
    assert_eq!(
        serde_json::to_string(&referral).unwrap(),
        serde_json::to_string(&input).unwrap()
    );
    let created = referral.created_date_time.unwrap();
    assert_eq!(created.to_unix_nanos().unwrap(), CREATED_NANOS);
}

#[test]
fn a_page_is_the_last_one_without_a_next_link_or_with_an_empty_token() {
    let last: ReferralCollection = decode(br#"{"items": []}"#).unwrap();
    assert_eq!(last.continuation(), None);
    let empty_token: ReferralCollection = decode(
        br#"{"items": [], "links": {"next": {"uri": "/referrals", "headers": [{"key": "MS-ContinuationToken", "value": ""}]}}}"#,
    )
    .unwrap();
    assert_eq!(empty_token.continuation(), None);
    let empty_link: ReferralCollection =
        decode(br#"{"value": [], "@odata.nextLink": ""}"#).unwrap();
    assert_eq!(empty_link.continuation(), None);
    let empty_page_with_next: ReferralCollection = decode(
        br#"{"items": [], "links": {"next": {"headers": [{"key": "ContinuationToken", "value": "t"}]}}}"#,
    )
    .unwrap();
    assert_eq!(
        empty_page_with_next.continuation(),
        Some(Continuation::Headers(vec![(
            "ContinuationToken".into(),
            "t".into()
        )]))
    );
}

#[test]
fn a_page_is_written_back_in_the_form_it_came_in() {
    let odata: ReferralCollection =
        decode(br#"{"value": [{"id": "a"}], "@odata.count": 1}"#).unwrap();
    assert_eq!(odata.form, WireForm::OData);
    assert_eq!(
        serde_json::to_value(&odata).unwrap(),
        json!({"value": [{"id": "a"}], "@odata.count": 1})
    );
    let no_items: ReferralCollection = decode(br#"{"@odata.context": "c"}"#).unwrap();
    assert_eq!(no_items.form, WireForm::OData);
    assert!(no_items.items().is_empty());
    let both: ReferralCollection<Value> = decode(br#"{"items": [1], "value": [2]}"#).unwrap();
    assert_eq!(both.items(), &[json!(1)]);
    assert_eq!(
        serde_json::to_value(&both).unwrap(),
        json!({"items": [1], "value": [2]})
    );
}

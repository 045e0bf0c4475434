//! The synthetic generator: deterministic, unique ids, realistic sizes and content, valid pages.

use std::collections::HashSet;

use referrals_fixtures::synthetic::Synthetic;
use serde_json::Value;

fn compact_len(value: &Value) -> usize {
    serde_json::to_vec(value)
        .expect("a Value always serializes")
        .len()
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("synthetic pages are valid JSON")
}

#[test]
fn same_seed_and_index_give_the_same_referral() {
    let a = Synthetic::new(11);
    let b = Synthetic::new(11);
    for index in [0, 1, 2, 99, 12_345, usize::MAX / 2] {
        assert_eq!(a.referral(index), b.referral(index), "index {index}");
    }
    assert_eq!(a.referrals(20), b.referrals(20));
    assert_eq!(a.page_bytes_classic(30), b.page_bytes_classic(30));
    assert_eq!(a.page_bytes_odata(30), b.page_bytes_odata(30));
}

#[test]
fn different_seeds_give_different_referrals() {
    let a = Synthetic::new(1).referral(0);
    let b = Synthetic::new(2).referral(0);
    assert_ne!(a["id"], b["id"]);
    assert_ne!(a, b);
}

#[test]
fn ids_are_unique_per_index_and_match_the_helpers() {
    let synthetic = Synthetic::new(3);
    let mut ids = HashSet::new();
    for index in 0..5_000 {
        let referral = synthetic.referral(index);
        let id = referral["id"].as_str().expect("id is a string").to_owned();
        assert_eq!(id, synthetic.referral_id(index));
        assert_eq!(
            referral["engagementId"].as_str(),
            Some(synthetic.engagement_id(index).as_str())
        );
        assert_eq!(id.len(), 36, "UUID-shaped id: {id}");
        assert_eq!(id.as_bytes()[14], b'4', "version nibble of {id}");
        assert!(ids.insert(id), "duplicate id at index {index}");
    }
}

#[test]
fn referrals_returns_the_first_n_in_order() {
    let synthetic = Synthetic::new(5);
    let all = synthetic.referrals(7);
    assert_eq!(all.len(), 7);
    for (index, referral) in all.iter().enumerate() {
        assert_eq!(referral, &synthetic.referral(index));
    }
}

#[test]
fn items_weigh_two_to_three_kilobytes_on_average() {
    let synthetic = Synthetic::new(2024);
    let n = 1_000;
    let total: usize = (0..n).map(|i| compact_len(&synthetic.referral(i))).sum();
    let average = total / n;
    assert!(
        (2_000..=3_000).contains(&average),
        "average item size {average} bytes"
    );
}

#[test]
fn statuses_follow_the_transition_table() {
    let synthetic = Synthetic::new(8);
    let mut seen = HashSet::new();
    for referral in synthetic.referrals(1_000) {
        let status = referral["status"].as_str().expect("status");
        let substatus = referral["substatus"].as_str().expect("substatus");
        let allowed: &[&str] = match status {
            "New" => &["Pending", "Received"],
            "Active" => &["Accepted"],
            "Closed" => &["Won", "Lost", "Declined", "Expired"],
            other => panic!("unexpected status {other}"),
        };
        assert!(allowed.contains(&substatus), "{status}/{substatus}");
        assert_eq!(
            referral.get("acceptedDateTime").is_some(),
            status != "New",
            "acceptedDateTime only once accepted"
        );
        seen.insert(substatus.to_owned());
    }
    assert_eq!(seen.len(), 7, "every allowed substatus appears: {seen:?}");
}

fn assert_timestamp(text: &str) {
    let bytes = text.as_bytes();
    assert!(text.ends_with('Z'), "{text}");
    assert!(bytes.len() >= 20, "{text}");
    assert_eq!(
        (bytes[4], bytes[7], bytes[10], bytes[13], bytes[16]),
        (b'-', b'-', b'T', b':', b':'),
        "{text}"
    );
    if bytes.len() > 20 {
        assert_eq!(bytes[19], b'.', "{text}");
        let digits = &text[20..text.len() - 1];
        assert!((1..=7).contains(&digits.len()), "{text}");
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{text}");
    }
}

#[test]
fn timestamps_have_up_to_seven_fractional_digits() {
    let synthetic = Synthetic::new(9);
    let mut seven = 0;
    for referral in synthetic.referrals(300) {
        for key in ["createdDateTime", "updatedDateTime", "expirationDateTime"] {
            let text = referral[key].as_str().expect("timestamp present");
            assert_timestamp(text);
        }
        let created = referral["createdDateTime"].as_str().unwrap_or_default();
        if created.len() == "2018-10-30T21:03:42.4579542Z".len() {
            seven += 1;
        }
        assert!(
            referral["updatedDateTime"].as_str() >= Some(created),
            "updated before created"
        );
    }
    assert!(seven > 200, "most timestamps carry 7 digits ({seven}/300)");
}

#[test]
fn strings_carry_escapes_and_non_ascii() {
    let synthetic = Synthetic::new(10);
    let text = String::from_utf8(synthetic.page_bytes_classic(200)).expect("UTF-8");
    for needle in ["\\\"", "\\\\", "\\n", "\\t"] {
        assert!(
            text.contains(needle),
            "some string needs the escape {needle}"
        );
    }
    for needle in ["é", "ü", "東京", "🚀"] {
        assert!(text.contains(needle), "some string contains {needle}");
    }
}

#[test]
fn edge_case_shapes_appear_in_realistic_proportions() {
    let synthetic = Synthetic::new(12);
    let items = synthetic.referrals(1_000);
    let count = |predicate: &dyn Fn(&Value) -> bool| items.iter().filter(|r| predicate(r)).count();
    let ids_array = count(&|r| r["customerProfile"]["ids"].is_array());
    let ids_object = count(&|r| r["customerProfile"]["ids"].is_object());
    let deal_text = count(&|r| r["details"]["dealValue"].is_string());
    let deal_number = count(&|r| r["details"]["dealValue"].is_number());
    let unknown = count(&|r| r.get("partnerInsights").is_some());
    let with_team = count(&|r| r["team"].as_array().is_some_and(|t| !t.is_empty()));
    let with_invite = count(&|r| r.get("inviteContext").is_some());
    let with_solutions = count(&|r| r["details"]["requirements"]["solutions"].is_array());
    assert!(
        ids_object > ids_array && ids_array > 50,
        "{ids_object}/{ids_array}"
    );
    assert!(
        deal_number > deal_text && deal_text > 20,
        "{deal_number}/{deal_text}"
    );
    assert!(
        (30..300).contains(&unknown),
        "unknown fields in {unknown}/1000"
    );
    assert_eq!(with_team, 1_000);
    assert!(with_invite > 500 && with_solutions > 300);
    for referral in &items {
        let id = referral["id"].as_str().unwrap_or_default();
        assert_eq!(
            referral["links"]["self"]["uri"],
            format!("/referrals/{id}?api-version=v1.0")
        );
        assert_eq!(referral["attributes"]["objectType"], "Referral");
    }
}

#[test]
fn classic_page_has_the_2018_shape() {
    let synthetic = Synthetic::new(13);
    let page = parse(&synthetic.classic_page(40, 5, 47, Some("tok/en+1==")));
    assert_eq!(page["totalCount"], 47);
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 5);
    for (offset, item) in items.iter().enumerate() {
        assert_eq!(item, &synthetic.referral(40 + offset));
    }
    let next = &page["links"]["next"];
    assert_eq!(next["method"], "GET");
    assert_eq!(next["uri"], "/referrals?api-version=v1.0");
    assert_eq!(
        next["headers"],
        serde_json::json!([{ "key": "MS-ContinuationToken", "value": "tok/en+1==" }])
    );
    assert_eq!(page["attributes"]["objectType"], "Collection");

    let last = parse(&synthetic.classic_page(45, 2, 47, None));
    assert!(
        last.get("links")
            .is_none_or(|links| links.get("next").is_none())
    );
    assert_eq!(last["items"].as_array().map(Vec::len), Some(2));
}

#[test]
fn odata_page_has_the_odata_shape() {
    let synthetic = Synthetic::new(14);
    let link = "http://api.partner.microsoft.com/v1.0/engagements/referrals?$skiptoken=abc%3D%3D";
    let page = parse(&synthetic.odata_page(10, 3, 100, Some(link)));
    assert_eq!(page["@odata.count"], 100);
    assert_eq!(page["@odata.nextLink"], link);
    assert!(
        page["@odata.context"]
            .as_str()
            .is_some_and(|c| c.contains("$metadata"))
    );
    let items = page["value"].as_array().expect("value");
    assert_eq!(
        items,
        &(10..13).map(|i| synthetic.referral(i)).collect::<Vec<_>>()
    );

    let last = parse(&synthetic.odata_page(0, 0, 0, None));
    assert!(last.get("@odata.nextLink").is_none());
    assert_eq!(last["value"], serde_json::json!([]));
}

#[test]
fn single_page_conveniences_hold_n_items() {
    let synthetic = Synthetic::new(15);
    let classic = parse(&synthetic.page_bytes_classic(25));
    assert_eq!(classic["items"].as_array().map(Vec::len), Some(25));
    assert_eq!(classic["totalCount"], 25);
    let odata = parse(&synthetic.page_bytes_odata(25));
    assert_eq!(odata["value"].as_array().map(Vec::len), Some(25));
    assert_eq!(odata["@odata.count"], 25);
    assert_eq!(classic["items"], odata["value"]);
}

#[test]
fn synthetic_referrals_decode_into_the_model_losslessly() {
    let synthetic = Synthetic::new(16);
    for index in 0..500 {
        let input = synthetic.referral(index);
        let bytes = serde_json::to_vec(&input).expect("encodes");
        let referral: referrals_model::Referral =
            referrals_model::decode(&bytes).unwrap_or_else(|e| panic!("item {index}: {e}"));
        assert_eq!(
            serde_json::to_value(&referral).expect("encodes"),
            input,
            "item {index} survives a round trip"
        );
    }
}

#[test]
fn synthetic_pages_decode_into_collections_losslessly() {
    use referrals_model::{Continuation, ReferralCollection, WireForm, decode};

    let synthetic = Synthetic::new(17);
    let classic_bytes = synthetic.classic_page(20, 50, 120, Some("next-token"));
    let classic: ReferralCollection = decode(&classic_bytes).expect("classic page decodes");
    assert_eq!(classic.form, WireForm::Classic);
    assert_eq!(classic.count(), Some(120));
    assert_eq!(classic.items().len(), 50);
    assert_eq!(
        classic.continuation(),
        Some(Continuation::Headers(vec![(
            "MS-ContinuationToken".to_owned(),
            "next-token".to_owned()
        )]))
    );
    assert_eq!(
        serde_json::to_value(&classic).expect("encodes"),
        parse(&classic_bytes)
    );

    let link = "https://api.partner.microsoft.com/v1.0/engagements/referrals?$skip=50";
    let odata_bytes = synthetic.odata_page(0, 50, 120, Some(link));
    let odata: ReferralCollection = decode(&odata_bytes).expect("OData page decodes");
    assert_eq!(odata.form, WireForm::OData);
    assert_eq!(odata.count(), Some(120));
    assert_eq!(
        odata.continuation(),
        Some(Continuation::NextLink(link.to_owned()))
    );
    assert_eq!(
        serde_json::to_value(&odata).expect("encodes"),
        parse(&odata_bytes)
    );

    let last: ReferralCollection = decode(&synthetic.page_bytes_odata(3)).expect("decodes");
    assert_eq!(last.continuation(), None);
}

#[test]
fn synthetic_pages_decode_borrowed_into_exactly_the_owned_page() {
    use referrals_model::borrowed::{ReferralCollectionRef, ReferralRef};
    let synthetic = Synthetic::new(7);
    for bytes in [
        synthetic.page_bytes_classic(40),
        synthetic.page_bytes_odata(40),
    ] {
        let borrowed: ReferralCollectionRef<'_> = referrals_model::decode(&bytes).unwrap();
        let again = serde_json::to_value(&borrowed).unwrap();
        assert_eq!(
            again,
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        );
        let owned: referrals_model::ReferralCollection = referrals_model::decode(&bytes).unwrap();
        assert_eq!(borrowed.map_items(ReferralRef::into_owned), owned);
    }
}

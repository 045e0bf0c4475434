//! The embedded fixture files: present, classified correctly, and decoded losslessly by the model.

use std::collections::HashSet;
use std::path::Path;

use referrals_fixtures::files::{Content, Fixture};
use referrals_model::{
    Continuation, DealValue, ErrorResponse, Referral, ReferralCollection, ReferralQualification,
    ReferralStatus, ReferralSubstatus, ReferralType, Value, WireForm, decode,
};

fn fixtures_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))
}

fn collection(fixture: Fixture) -> ReferralCollection {
    decode(fixture.bytes()).unwrap_or_else(|e| panic!("{fixture}: {e}"))
}

fn referral(fixture: Fixture) -> Referral {
    decode(fixture.bytes()).unwrap_or_else(|e| panic!("{fixture}: {e}"))
}

#[test]
fn every_file_in_the_directory_is_a_fixture_and_back() {
    let mut on_disk = HashSet::new();
    for entry in std::fs::read_dir(fixtures_dir()).expect("fixtures/ exists") {
        let name = entry.expect("readable entry").file_name();
        let name = name.to_string_lossy().into_owned();
        if name.ends_with(".json") {
            on_disk.insert(name);
        }
    }
    let listed: HashSet<String> = Fixture::ALL.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(on_disk, listed);
    assert_eq!(listed.len(), Fixture::ALL.len(), "names are unique");
    for fixture in Fixture::ALL {
        assert_eq!(Fixture::from_name(fixture.name()), Some(fixture));
        assert_eq!(fixture.to_string(), fixture.name());
        let on_disk = std::fs::read(fixtures_dir().join(fixture.name())).expect("readable");
        assert_eq!(
            fixture.bytes(),
            on_disk.as_slice(),
            "{fixture} is embedded as is"
        );
    }
    assert_eq!(Fixture::from_name("nope.json"), None);
}

#[test]
fn the_readme_describes_every_fixture() {
    let readme = std::fs::read_to_string(fixtures_dir().join("README.md")).expect("README.md");
    for fixture in Fixture::ALL {
        assert!(
            readme.contains(&format!("`{}`", fixture.name())),
            "README.md lists {fixture}"
        );
    }
}

#[test]
fn validity_matches_plain_json_parsing() {
    for fixture in Fixture::ALL {
        assert_eq!(fixture.value().is_ok(), fixture.expect_valid(), "{fixture}");
    }
}

#[test]
fn helpers_agree_with_content() {
    for fixture in Fixture::ALL {
        let content = fixture.content();
        assert_eq!(fixture.is_collection(), content == Content::Collection);
        assert_eq!(fixture.is_referral(), content == Content::Referral);
        assert_eq!(fixture.is_error(), content == Content::Error);
        assert_eq!(fixture.wire_form().is_some(), fixture.is_collection());
        assert_eq!(fixture.has_next_page().is_some(), fixture.is_collection());
    }
}

/// Decoding into the model and encoding again gives back the same JSON value.
#[test]
fn valid_fixtures_decode_and_re_encode_losslessly() {
    for fixture in Fixture::ALL.into_iter().filter(|f| f.expect_valid()) {
        let input = fixture.value().expect("valid JSON");
        let output = match fixture.content() {
            Content::Collection => serde_json::to_value(collection(fixture)),
            Content::Referral => serde_json::to_value(referral(fixture)),
            Content::Error => serde_json::to_value(
                decode::<ErrorResponse>(fixture.bytes())
                    .unwrap_or_else(|e| panic!("{fixture}: {e}")),
            ),
        }
        .expect("the model always encodes");
        assert_eq!(output, input, "{fixture} survives a round trip");
    }
}

#[test]
fn collections_report_form_count_and_continuation_as_labelled() {
    for fixture in Fixture::ALL
        .into_iter()
        .filter(|f| f.is_collection() && f.expect_valid())
    {
        let page = collection(fixture);
        assert_eq!(Some(page.form), fixture.wire_form(), "{fixture}");
        assert_eq!(
            Some(page.continuation().is_some()),
            fixture.has_next_page(),
            "{fixture}"
        );
        let value = fixture.value().expect("valid");
        let key = page.form.items_key();
        assert_eq!(
            page.items().len(),
            value[key].as_array().map_or(0, Vec::len),
            "{fixture}"
        );
    }
}

#[test]
fn the_verbatim_seed_fails_at_line_66_column_13() {
    let error = decode::<ReferralCollection>(Fixture::SeedResponseVerbatim.bytes())
        .expect_err("the verbatim seed is invalid JSON");
    assert_eq!((error.line(), error.column()), (66, 13));
    assert!(error.is_syntax());
    let text = error.to_string();
    assert!(text.contains("line 66, column 13"), "{text}");
    assert!(
        text.contains("items[0]"),
        "the path names the first item: {text}"
    );
}

#[test]
fn the_corrected_seed_differs_from_the_verbatim_one_by_one_comma() {
    let verbatim = Fixture::SeedResponseVerbatim.bytes();
    let corrected = Fixture::SeedResponse.bytes();
    assert_eq!(corrected.len(), verbatim.len() + 1);
    let at = verbatim
        .iter()
        .zip(corrected)
        .position(|(a, b)| a != b)
        .expect("they differ");
    assert_eq!(corrected[at], b',');
    assert_eq!(&corrected[at + 1..], &verbatim[at..]);
    let line = verbatim[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    assert_eq!(line, 65, "the comma closes `details` on line 65");
}

#[test]
fn the_seed_page_matches_the_documentation() {
    let page = collection(Fixture::SeedResponse);
    assert_eq!(page.form, WireForm::Classic);
    assert_eq!(page.count(), Some(2));
    let items = page.items();
    assert_eq!(
        items[0].id.as_deref(),
        Some("c5fbb3b6-be74-4795-9fb5-4324c73fed37")
    );
    assert_eq!(items[0].status, Some(ReferralStatus::New));
    assert_eq!(items[0].substatus, Some(ReferralSubstatus::Pending));
    assert_eq!(
        items[0]
            .created_date_time
            .as_ref()
            .map(|t| t.as_str().to_owned()),
        Some("2018-10-30T21:03:42.4579542Z".to_owned())
    );
    assert_eq!(
        items[1]
            .details
            .as_ref()
            .and_then(|d| d.deal_value.as_ref())
            .and_then(DealValue::as_f64),
        Some(50000.0)
    );
    match page.continuation() {
        Some(Continuation::Headers(headers)) => {
            assert_eq!(headers.len(), 1);
            assert_eq!(headers[0].0, "MS-ContinuationToken");
            assert!(
                headers[0]
                    .1
                    .starts_with("g2q9mn5G/SJYYddorHEJ2ZLfGt9Z8XgT9kvVPbTWpBy4o6nrABKP")
            );
        }
        other => panic!("expected a header continuation, got {other:?}"),
    }
}

#[test]
fn the_odata_page_links_to_the_api_host_over_http() {
    let page = collection(Fixture::ODataPage);
    assert_eq!(page.count(), Some(3));
    match page.continuation() {
        Some(Continuation::NextLink(link)) => {
            assert!(
                link.starts_with("http://api.partner.microsoft.com/v1.0/engagements/referrals?")
            );
            assert!(link.contains("$skiptoken="));
        }
        other => panic!("expected a next link, got {other:?}"),
    }
    let last = collection(Fixture::ODataLastPage);
    assert_eq!(last.count(), Some(3));
    assert_eq!(last.items().len(), 1);
    assert!(last.continuation().is_none());
}

#[test]
fn the_error_body_exposes_code_message_target_and_inner_error() {
    let body: ErrorResponse = decode(Fixture::ErrorBody.bytes()).expect("valid error body");
    let error = body.error.expect("error present");
    assert_eq!(error.code.as_deref(), Some("itemNotFound"));
    assert_eq!(error.target.as_deref(), Some("id"));
    assert!(error.message.is_some_and(|m| m.contains("was not found")));
    let inner = error.inner_error.expect("innerError present");
    assert_eq!(inner.code.as_deref(), Some("ReferralNotFound"));
    assert!(
        inner.extra.contains_key("request-id"),
        "unknown inner fields kept"
    );
}

#[test]
fn unknown_enum_values_decode_as_unknown_and_keep_their_text() {
    let page = collection(Fixture::UnknownEnums);
    let first = &page.items()[0];
    assert_eq!(first.status, Some(ReferralStatus::Unknown("OnHold".into())));
    assert_eq!(
        first.substatus,
        Some(ReferralSubstatus::Unknown("AwaitingCustomer".into()))
    );
    assert_eq!(
        first.referral_type,
        Some(ReferralType::Unknown("Joint".into()))
    );
    assert_eq!(
        first.qualification,
        Some(ReferralQualification::Unknown("PartnerQualified".into()))
    );
    let size = first
        .customer_profile
        .as_ref()
        .and_then(|p| p.size.as_ref())
        .map(|s| s.as_str().to_owned());
    assert_eq!(size.as_deref(), Some("Morethan50000employees"));
    // Known values in another case are not silently normalised: the text survives.
    let second = serde_json::to_value(&page.items()[1]).expect("encodes");
    assert_eq!(second["status"], "new");
    assert_eq!(second["type"], "INDEPENDENT");
}

#[test]
fn unknown_fields_survive_at_every_depth() {
    let page = collection(Fixture::UnknownFields);
    assert!(page.extra.contains_key("diagnostics"));
    let item = &page.items()[0];
    assert!(item.extra.contains_key("partnerInsights"));
    assert!(
        item.extra.contains_key(""),
        "the empty key is a field like any other"
    );
    assert_eq!(
        item.extra["escapes"],
        "quote \" backslash \\ slash / controls \u{8}\u{c}\n\r\t nul \u{0} end"
    );
    assert_eq!(
        item.extra["unicode"],
        "café – café – 東京 – 🚀 – 🚀 – \u{2028}"
    );
    let profile = item.customer_profile.as_ref().expect("customerProfile");
    assert!(profile.extra.contains_key("industryCode"));
    let member = &profile.team.as_ref().expect("team")[0];
    assert_eq!(member.extra.get("pronouns"), Some(&Value::Null));
}

#[test]
fn ids_as_an_array_and_deal_value_as_a_string_survive() {
    let page = collection(Fixture::IdsArray);
    let ids = page.items()[0]
        .customer_profile
        .as_ref()
        .and_then(|p| p.ids.clone());
    assert_eq!(ids, Some(Value::Array(vec![])));

    let referral = referral(Fixture::DealValueString);
    let deal = referral
        .details
        .and_then(|d| d.deal_value)
        .expect("dealValue");
    assert_eq!(deal, DealValue::Text("10000".into()));
    assert_eq!(deal.as_f64(), Some(10000.0));
}

#[test]
fn an_empty_page_with_a_next_link_is_not_the_end() {
    let page = collection(Fixture::EmptyPageWithNext);
    assert!(page.items().is_empty());
    assert_eq!(page.count(), Some(57));
    match page.continuation() {
        Some(Continuation::Headers(headers)) => {
            assert_eq!(headers[0].0, "MS-ContinuationToken");
        }
        other => panic!("expected a header continuation, got {other:?}"),
    }
}

#[test]
fn explicit_nulls_stay_null_and_a_null_next_link_ends_the_listing() {
    let page = collection(Fixture::ExplicitNulls);
    assert!(page.continuation().is_none());
    let item = &page.items()[0];
    assert_eq!(item.engagement_id, None);
    let again = serde_json::to_value(item).expect("encodes");
    assert_eq!(again["engagementId"], Value::Null);
    assert!(
        again.get("engagementId").is_some(),
        "the null is written back"
    );
    assert_eq!(
        again["details"]["requirements"]["products"][0]["id"],
        Value::Null
    );
}

#[test]
fn the_single_referral_has_an_etag_and_the_create_body_has_the_required_fields() {
    let got = referral(Fixture::Referral);
    assert_eq!(
        got.e_tag.as_deref(),
        Some("\"0f00d2e1-0000-0800-0000-5bdc68dd0000\"")
    );
    assert!(got.odata_context.is_some());

    let create = referral(Fixture::CreateRequest);
    assert!(create.id.is_none() && create.e_tag.is_none());
    assert_eq!(create.referral_type, Some(ReferralType::Independent));
    assert!(create.customer_profile.is_some());
    assert!(create.consent.is_some());
    assert!(create.details.is_some());
}

#[test]
fn a_registered_deal_reads_back_typed_and_is_kept_whole() {
    use referrals_model::{ContractTerm, PricingModel, PrimaryDeploymentOn};
    let got = referral(Fixture::RegisteredDeal);
    assert_eq!(got.registration_status.as_deref(), Some("Approved"));
    let registrations = got.registrations.clone().expect("registrations");
    let registration = &registrations[0];
    let contract = registration.contract.as_ref().expect("a contract");
    assert_eq!(contract.term, Some(ContractTerm::Finite));
    assert_eq!(
        contract.value.as_ref().and_then(DealValue::as_f64),
        Some(125000.75)
    );
    let solution = &registration.solution_details.as_ref().expect("solutions")[0];
    assert_eq!(
        solution.primary_deployment_on,
        Some(PrimaryDeploymentOn::Partner)
    );
    assert_eq!(solution.pricing_model, Some(PricingModel::PayAsYouGo));
    assert_eq!(solution.extra["azureConsumptionEstimate"]["monthly"], 4200);
    assert_eq!(registration.extra["reviewerNotes"], Value::Null);
    let history = registration
        .status_history
        .as_ref()
        .expect("a status history");
    assert!(history.approved_date_time.is_some() && history.failed_date_time.is_none());
    // What the service set cannot be sent back as a new registration.
    let error = registration.validate().unwrap_err();
    assert_eq!(error.path(), "id");
}

/// The borrowed model reads every valid fixture as the owned model does: the same JSON value
/// when encoded again, and the same owned value when converted; and refuses the invalid one.
#[test]
fn the_borrowed_model_reads_every_fixture_as_the_owned_model_does() {
    use referrals_model::borrowed::{ReferralCollectionRef, ReferralRef};
    for fixture in Fixture::ALL {
        match fixture.content() {
            Content::Collection => {
                let page = decode::<ReferralCollectionRef<'_>>(fixture.bytes());
                let Ok(page) = page else {
                    assert!(!fixture.expect_valid(), "{fixture}: {page:?}");
                    let owned = decode::<ReferralCollection>(fixture.bytes()).unwrap_err();
                    assert_eq!(page.unwrap_err(), owned, "{fixture}");
                    continue;
                };
                let value = fixture.value().expect("valid JSON");
                assert_eq!(serde_json::to_value(&page).unwrap(), value, "{fixture}");
                assert_eq!(page.map_items(ReferralRef::into_owned), collection(fixture));
            }
            Content::Referral => {
                let borrowed: ReferralRef<'_> =
                    decode(fixture.bytes()).unwrap_or_else(|e| panic!("{fixture}: {e}"));
                let value = fixture.value().expect("valid JSON");
                assert_eq!(serde_json::to_value(&borrowed).unwrap(), value, "{fixture}");
                assert_eq!(borrowed.into_owned(), referral(fixture), "{fixture}");
            }
            Content::Error => {}
        }
    }
}

//! Property tests: any referral or page the API could send, with unknown enum values and unknown
//! fields holding arbitrary JSON at any depth, decodes and re-encodes to the same JSON value, in
//! the owned model and in the borrowed one (which also converts to exactly the owned decode); and
//! no input whatsoever panics either decoder.

use proptest::prelude::*;
use referrals_model::borrowed::{ReferralCollectionRef, ReferralRef};
use referrals_model::{ErrorResponse, Referral, ReferralCollection, decode};
use serde_json::{Map, Value};

use crate::support::{decode_both, json_bytes, proptest_config};

/// The shape of a known field, mirroring the API reference (written independently of the model).
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Bool,
    Any,
    DealValue,
    Enum(&'static [&'static str]),
    Object(&'static [(&'static str, Kind)]),
    List(&'static Kind),
}

const STATUS: &[&str] = &["None", "New", "Active", "Closed"];
const SUBSTATUS: &[&str] = &[
    "None", "Pending", "Received", "Accepted", "Won", "Lost", "Declined", "Expired",
];
const SIZE: &[&str] = &[
    "1to9employees",
    "10to50employees",
    "Morethan20000employees",
    "51to500employees",
];
const CONTACT: &[(&str, Kind)] = &[("locale", Kind::Text), ("disableNotifications", Kind::Bool)];
const MEMBER: &[(&str, Kind)] = &[
    ("firstName", Kind::Text),
    ("lastName", Kind::Text),
    ("phoneNumber", Kind::Text),
    ("email", Kind::Text),
    ("contactPreference", Kind::Object(CONTACT)),
];
const ADDRESS: &[(&str, Kind)] = &[
    ("addressLine1", Kind::Text),
    ("addressLine2", Kind::Text),
    ("city", Kind::Text),
    ("state", Kind::Text),
    ("postalCode", Kind::Text),
    ("country", Kind::Text),
    ("region", Kind::Text),
];
const CUSTOMER: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("address", Kind::Object(ADDRESS)),
    ("size", Kind::Enum(SIZE)),
    ("team", Kind::List(&Kind::Object(MEMBER))),
    ("ids", Kind::Any),
    ("id", Kind::Text),
];
const TAG: &[(&str, Kind)] = &[("id", Kind::Text)];
const SOLUTION: &[(&str, Kind)] = &[
    ("id", Kind::Text),
    ("name", Kind::Text),
    ("type", Kind::Enum(&["None", "Category", "Name"])),
    ("publisherName", Kind::Text),
    ("solutionType", Kind::Enum(&["3P"])),
];
const REQUIREMENTS: &[(&str, Kind)] = &[
    ("industries", Kind::List(&Kind::Object(TAG))),
    ("products", Kind::List(&Kind::Object(TAG))),
    ("services", Kind::List(&Kind::Object(TAG))),
    ("solutions", Kind::List(&Kind::Object(SOLUTION))),
];
const DETAILS: &[(&str, Kind)] = &[
    ("notes", Kind::Text),
    ("dealValue", Kind::DealValue),
    ("currency", Kind::Text),
    ("closingDateTime", Kind::Text),
    ("requirements", Kind::Object(REQUIREMENTS)),
    ("customerAction", Kind::Text),
    ("customerRequestedContact", Kind::Bool),
    ("additionalRequirements", Kind::Any),
];
const CONSENT: &[(&str, Kind)] = &[
    ("consentToToShareInfoWithOthers", Kind::Bool),
    ("consentToContact", Kind::Bool),
    ("consentToMicrosoftToContactSpecificPartners", Kind::Bool),
    ("consentToShareReferralWithMicrosoftSellers", Kind::Bool),
];
const ORGANIZATION: &[(&str, Kind)] = &[
    ("organizationId", Kind::Text),
    ("organizationName", Kind::Text),
];
const INVITE: &[(&str, Kind)] = &[
    ("notes", Kind::Text),
    ("invitedBy", Kind::Object(ORGANIZATION)),
    (
        "assistanceRequestCode",
        Kind::Enum(&["Unknown", "GeneralOrOther", "QuotesOrLicensing"]),
    ),
];
const HEADER: &[(&str, Kind)] = &[("key", Kind::Text), ("value", Kind::Text)];
const LINK: &[(&str, Kind)] = &[
    ("uri", Kind::Text),
    ("method", Kind::Text),
    ("headers", Kind::List(&Kind::Object(HEADER))),
];
const LINKS: &[(&str, Kind)] = &[
    ("self", Kind::Object(LINK)),
    ("relatedReferrals", Kind::Object(LINK)),
    ("next", Kind::Object(LINK)),
];
const TARGET: &[(&str, Kind)] = &[
    ("id", Kind::Text),
    (
        "type",
        Kind::Enum(&["None", "BusinessProfileLocation", "SolutionProfile"]),
    ),
];
const MARKETPLACE: &[(&str, Kind)] = &[
    ("isMarketplaceTransacted", Kind::Bool),
    ("marketplaceTransactionDateTime", Kind::Text),
];
const SOLUTION_DETAIL: &[(&str, Kind)] = &[
    ("id", Kind::Text),
    ("name", Kind::Text),
    ("currency", Kind::Text),
    ("value", Kind::DealValue),
    ("isDeployedOnAzure", Kind::Bool),
    ("primaryDeploymentOn", Kind::Enum(&["Customer", "Partner"])),
    ("pricingModel", Kind::Enum(&["PayAsYouGo", "Other"])),
    ("marketplaceTransactionDetails", Kind::Object(MARKETPLACE)),
];
const CONTRACT: &[(&str, Kind)] = &[
    ("currency", Kind::Text),
    ("value", Kind::DealValue),
    ("term", Kind::Enum(&["Perpetual", "Finite"])),
    ("startDateTime", Kind::Text),
    ("endDateTime", Kind::Text),
    ("signDateTime", Kind::Text),
];
const STATUS_HISTORY: &[(&str, Kind)] = &[
    ("reviewPendingDateTime", Kind::Text),
    ("actionRequiredDateTime", Kind::Text),
    ("passedDateTime", Kind::Text),
    ("failedDateTime", Kind::Text),
    ("approvedDateTime", Kind::Text),
];
const REGISTRATION: &[(&str, Kind)] = &[
    ("id", Kind::Text),
    ("type", Kind::Enum(&["AzureIPCoSell"])),
    ("registrationDateTime", Kind::Text),
    ("status", Kind::Text),
    ("statusReason", Kind::Text),
    (
        "solutionDetails",
        Kind::List(&Kind::Object(SOLUTION_DETAIL)),
    ),
    ("contract", Kind::Object(CONTRACT)),
    ("statusHistory", Kind::Object(STATUS_HISTORY)),
];
const REFERRAL: &[(&str, Kind)] = &[
    ("id", Kind::Text),
    ("engagementId", Kind::Text),
    ("name", Kind::Text),
    ("organizationId", Kind::Text),
    ("createdDateTime", Kind::Text),
    ("updatedDateTime", Kind::Text),
    ("status", Kind::Enum(STATUS)),
    ("substatus", Kind::Enum(SUBSTATUS)),
    ("type", Kind::Enum(&["Shared", "Independent"])),
    (
        "qualification",
        Kind::Enum(&["None", "Direct", "SalesQualified"]),
    ),
    ("direction", Kind::Enum(&["Incoming", "Outgoing"])),
    ("customerProfile", Kind::Object(CUSTOMER)),
    ("consent", Kind::Object(CONSENT)),
    ("details", Kind::Object(DETAILS)),
    ("team", Kind::List(&Kind::Object(MEMBER))),
    ("inviteContext", Kind::Object(INVITE)),
    ("target", Kind::List(&Kind::Object(TARGET))),
    ("eTag", Kind::Text),
    ("links", Kind::Object(LINKS)),
    ("attributes", Kind::Object(&[("objectType", Kind::Text)])),
    ("@odata.context", Kind::Text),
    (
        "salesStage",
        Kind::Enum(&["Qualify", "Develop", "Propose", "Close"]),
    ),
    ("favorite", Kind::Bool),
    ("registrations", Kind::List(&Kind::Object(REGISTRATION))),
    ("registrationStatus", Kind::Text),
];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 ]{0,12}",
        Just("quote \" backslash \\ newline \n tab \t nul \u{0} é 漢字 🎉".to_owned()),
    ]
    .boxed()
}

fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

fn value_of(kind: Kind, depth: u32) -> BoxedStrategy<Value> {
    match kind {
        Kind::Text => text().prop_map(Value::from).boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::from).boxed(),
        Kind::Any => any_json(),
        Kind::DealValue => prop_oneof![
            any::<u32>().prop_map(Value::from),
            (0.0f64..1e9).prop_map(Value::from),
            "[0-9]{1,7}".prop_map(Value::from),
        ]
        .boxed(),
        Kind::Enum(known) => prop_oneof![
            3 => prop::sample::select(known).prop_map(Value::from),
            1 => text().prop_map(Value::from),
        ]
        .boxed(),
        Kind::List(item) => prop::collection::vec(value_of(*item, depth + 1), 0..3)
            .prop_map(Value::Array)
            .boxed(),
        Kind::Object(fields) => object_of(fields, depth),
    }
}

/// Each known field absent, null or present; plus unknown fields holding arbitrary JSON.
fn object_of(fields: &'static [(&'static str, Kind)], depth: u32) -> BoxedStrategy<Value> {
    let known: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
        .iter()
        .map(|&(name, kind)| {
            let present = if depth > 4 {
                Just(Value::Null).boxed()
            } else {
                value_of(kind, depth + 1)
            };
            prop_oneof![
                2 => Just(None),
                1 => Just(Some((name.to_owned(), Value::Null))),
                4 => present.prop_map(move |v| Some((name.to_owned(), v))),
            ]
            .boxed()
        })
        .collect();
    let unknown = prop::collection::vec(("x-[a-z]{1,6}", any_json()), 0..3);
    (known, unknown)
        .prop_map(|(known, unknown)| {
            let mut object: Map<String, Value> = known.into_iter().flatten().collect();
            object.extend(unknown);
            Value::Object(object)
        })
        .boxed()
}

fn page() -> BoxedStrategy<Value> {
    let items = prop::collection::vec(object_of(REFERRAL, 0), 0..4);
    let classic = (items.clone(), any::<u32>(), object_of(LINKS, 3), any_json()).prop_map(
        |(items, total, links, unknown)| {
            serde_json::json!({
                "totalCount": total, "items": items, "links": links,
                "attributes": { "objectType": "Collection" }, "x-unknown": unknown,
            })
        },
    );
    let odata = (items, any::<u32>(), text(), prop::option::of(text())).prop_map(
        |(items, count, context, next)| {
            let mut page = serde_json::json!({ "@odata.context": context, "@odata.count": count, "value": items });
            if let Some(next) = next {
                page["@odata.nextLink"] = Value::from(next);
            }
            page
        },
    );
    prop_oneof![classic, odata].boxed()
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(input: &Value) -> Value {
    let bytes = json_bytes(input);
    let decoded: T = decode(&bytes).unwrap_or_else(|e| panic!("decode failed: {e}\n{input:#}"));
    serde_json::to_value(&decoded).expect("a model type always encodes")
}

/// Decodes `input` into the borrowed model, checks that it re-encodes to `input`, and returns its
/// owned conversion for comparison with the owned decode.
fn round_trip_borrowed<'a, B, O>(bytes: &'a [u8], input: &Value) -> Result<O, TestCaseError>
where
    B: serde::Deserialize<'a> + serde::Serialize + Into<O>,
{
    let decoded: B = decode(bytes).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    let again = serde_json::to_value(&decoded).expect("a borrowed model type always encodes");
    prop_assert_eq!(&again, input);
    Ok(decoded.into())
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn any_referral_round_trips_borrowed_and_converts_to_the_owned_decode(
        referral in object_of(REFERRAL, 0)
    ) {
        let bytes = json_bytes(&referral);
        let owned: Referral = round_trip_borrowed::<ReferralRef<'_>, _>(&bytes, &referral)?;
        prop_assert_eq!(owned, decode::<Referral>(&bytes).expect("decodes"));
    }

    #[test]
    fn any_page_round_trips_borrowed_and_converts_to_the_owned_decode(page in page()) {
        let bytes = json_bytes(&page);
        let borrowed: ReferralCollectionRef<'_> = decode(&bytes).expect("decodes");
        prop_assert_eq!(&serde_json::to_value(&borrowed).expect("encodes"), &page);
        let owned = borrowed.map_items(ReferralRef::into_owned);
        prop_assert_eq!(owned, decode::<ReferralCollection>(&bytes).expect("decodes"));
    }

    #[test]
    fn any_referral_round_trips(referral in object_of(REFERRAL, 0)) {
        prop_assert_eq!(round_trip::<Referral>(&referral), referral);
    }

    #[test]
    fn any_page_round_trips_in_its_own_form(page in page()) {
        prop_assert_eq!(round_trip::<ReferralCollection>(&page), page);
    }

    #[test]
    fn any_error_body_round_trips(
        body in object_of(&[("error", Kind::Object(&[
            ("code", Kind::Text), ("message", Kind::Text), ("target", Kind::Text),
            ("innerError", Kind::Object(&[("code", Kind::Text), ("message", Kind::Text)])),
        ]))], 0)
    ) {
        prop_assert_eq!(round_trip::<ErrorResponse>(&body), body);
    }

    #[test]
    fn both_models_accept_exactly_the_same_numbers_and_escapes(
        tokens in prop::collection::vec(
            prop_oneof![
                "-?[0-9]{1,3}(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,4})?",
                "[1-9][0-9]{300,320}",
                "\"(\\\\u[0-9a-fA-F]{4}|\\\\[nt\\\\]|[a-z 0-9.])*\"",
            ],
            1..6,
        )
    ) {
        let input = format!(r#"{{"items": [{{"x-v": [{}]}}]}}"#, tokens.join(", "));
        match decode_both(input.as_bytes()) {
            (Ok(owned), Ok(borrowed)) => {
                prop_assert_eq!(owned, borrowed.map_items(ReferralRef::into_owned));
            }
            (Err(_), Err(_)) => {}
            (owned, borrowed) => prop_assert!(
                false,
                "{}: owned {:?}, borrowed {:?}",
                input,
                owned.map(|_| ()),
                borrowed.map(|_| ())
            ),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode::<ReferralCollection>(&bytes);
        let _ = decode::<Referral>(&bytes);
        let _ = decode::<ReferralCollectionRef<'_>>(&bytes);
        let _ = decode::<ReferralRef<'_>>(&bytes);
    }

    #[test]
    fn damaged_pages_fail_with_a_location_and_never_panic(
        page in page(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = serde_json::to_vec_pretty(&page).expect("encodes");
        let flip_at = flip.index(bytes.len());
        bytes[flip_at] = byte;
        bytes.truncate(cut.index(bytes.len()) + 1);
        let (owned, borrowed) = decode_both(&bytes);
        if let Err(error) = &owned {
            prop_assert!(error.line() >= 1);
            let located = format!("line {}, column {}", error.line(), error.column());
            prop_assert!(error.to_string().contains(&located), "{}", error);
        }
        // The borrowed model accepts exactly what the owned one does, and locates a failure in
        // the same place.
        match (owned, borrowed) {
            (Ok(owned), Ok(borrowed)) => {
                prop_assert_eq!(owned, borrowed.map_items(ReferralRef::into_owned));
            }
            (Err(owned), Err(borrowed)) => {
                // The same path; the position can differ inside an unknown field, whose value the
                // borrowed model checks as a whole once it has been read.
                prop_assert_eq!(owned.path(), borrowed.path(), "owned: {}, borrowed: {}", owned, borrowed);
                prop_assert!(borrowed.line() >= 1);
            }
            (owned, borrowed) => prop_assert!(
                false,
                "owned {:?} but borrowed {:?}",
                owned.map(|_| ()),
                borrowed.map(|_| ())
            ),
        }
    }
}

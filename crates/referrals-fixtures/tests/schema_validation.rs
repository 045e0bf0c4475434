//! Every valid fixture validates against the committed JSON Schema of its kind, and the schemas
//! stay open: unknown properties and unknown enum strings are accepted.

use std::path::Path;

use referrals_fixtures::files::{Content, Fixture};
use serde_json::{Value, json};

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("a schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert!(
        schema["$comment"]
            .as_str()
            .unwrap_or("")
            .contains("Do not edit")
    );
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

fn validator_for(content: Content) -> jsonschema::Validator {
    match content {
        Content::Collection => schema("referral-collection.schema.json"),
        Content::Referral => schema("referral.schema.json"),
        Content::Error => schema("error-response.schema.json"),
    }
}

#[test]
fn every_valid_fixture_matches_its_schema() {
    let mut checked = 0;
    for fixture in Fixture::ALL.into_iter().filter(|f| f.expect_valid()) {
        let validator = validator_for(fixture.content());
        let instance = fixture.value().expect("valid fixtures are JSON");
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{fixture} does not match its schema: {errors:#?}"
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures checked");
}

#[test]
fn schemas_accept_unknown_fields_and_enum_values_but_not_wrong_types() {
    let referral = schema("referral.schema.json");
    assert!(referral.is_valid(&json!({"status": "OnHold", "brandNewField": {"a": [1]}})));
    assert!(referral.is_valid(&json!({"customerProfile": {"ids": [], "size": "2to3employees"}})));
    assert!(referral.is_valid(&json!({"details": {"dealValue": "10000"}, "favorite": null})));
    assert!(!referral.is_valid(&json!({"status": 3})));
    assert!(!referral.is_valid(&json!({"team": {"not": "a list"}})));
    assert!(!referral.is_valid(&json!({"details": {"dealValue": true}})));

    let page = schema("referral-collection.schema.json");
    assert!(
        page.is_valid(&json!({"value": [{"id": "a"}], "@odata.count": 1, "@odata.nextLink": "x"}))
    );
    assert!(!page.is_valid(&json!({"items": [{"id": 1}]})));
    assert!(!page.is_valid(&json!({"totalCount": -1})));
}

//! Microsoft's 2023 connector contract for the Referrals API (the Power Platform connector's
//! Swagger 2.0 definition, vendored in `contract/`), as far as a server enforces it: which
//! fields only the service writes, and the types of the fields a client writes.
//!
//! The rules are read from the definition itself, not copied from it: a field is read-only
//! because the contract says `readOnly`, a field must be a string because it says
//! `type: string`. The simulator does not link a JSON Schema validator for this: it ships in the
//! CLI (`--demo`, `simulate`), and no validator drops read-only fields, which is most of the job.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The connector definition, byte for byte as Microsoft published it (last changed 2023-10).
const SWAGGER: &str = include_str!("../contract/partner-center-referrals-connector.swagger.json");

const REFERRAL: &str = "Microsoft.Partner.Service.PartnerReferrals.Contracts.V3.Referral";
const DEAL_REGISTRATION: &str =
    "Microsoft.Partner.Service.PartnerReferrals.Contracts.V3.DealRegistration";

/// Fields the service sets although the contract does not mark them `readOnly`: the id and the
/// eTag it assigns (spec §1, §3), `createdDateTime`, which never changes, `updatedDateTime`, which
/// it moves on every change (spec §4), and the `links` and `attributes` it writes into every
/// referral it serves.
const SERVICE_FIELDS: [&str; 6] = [
    "id",
    "eTag",
    "createdDateTime",
    "updatedDateTime",
    "links",
    "attributes",
];

/// The property that holds deal registrations: read-only in the referral, yet written through
/// the contract's own deal registration operations.
const REGISTRATIONS: &str = "registrations";

/// Why a body or a patch breaks the contract: a message and the JSON Pointer of the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) pointer: String,
    pub(crate) message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Boolean,
    Number,
    Integer,
    Object,
    Array,
}

impl Kind {
    fn of(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::String,
            "boolean" => Self::Boolean,
            "number" => Self::Number,
            "integer" => Self::Integer,
            "object" => Self::Object,
            "array" => Self::Array,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Boolean => "a boolean",
            Self::Number => "a number",
            Self::Integer => "an integer",
            Self::Object => "an object",
            Self::Array => "an array",
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            Self::String => value.is_string(),
            Self::Boolean => value.is_boolean(),
            Self::Number => value.is_number(),
            Self::Integer => value.is_i64() || value.is_u64(),
            Self::Object => value.is_object(),
            Self::Array => value.is_array(),
        }
    }
}

/// The name of a JSON value's type, for messages.
fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One schema of the contract: the parts a server checks.
#[derive(Debug, Default)]
struct Shape {
    kind: Option<Kind>,
    read_only: bool,
    /// The allowed values (`enum`); empty when any value of the kind is.
    values: Vec<String>,
    properties: BTreeMap<String, Shape>,
    items: Option<Box<Shape>>,
}

impl Shape {
    fn parse(schema: &Value) -> Self {
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|properties| {
                properties
                    .iter()
                    .map(|(name, schema)| (name.clone(), Self::parse(schema)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            kind: schema
                .get("type")
                .and_then(Value::as_str)
                .and_then(Kind::of),
            read_only: schema.get("readOnly") == Some(&Value::Bool(true)),
            values: schema
                .get("enum")
                .and_then(Value::as_array)
                .map(|values| {
                    values
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            properties,
            items: schema
                .get("items")
                .filter(|items| items.is_object())
                .map(|items| Box::new(Self::parse(items))),
        }
    }

    /// The shape of `token` inside a value of this shape, when the contract describes it.
    fn child(&self, token: &str) -> Option<&Shape> {
        match self.kind {
            Some(Kind::Array) => self.items.as_deref(),
            _ => self.properties.get(token),
        }
    }

    /// Whether `value` (at `pointer`) has this shape's type, value and, inside, its fields'. A
    /// number written as a numeric string becomes that number (see [`number_in`]).
    fn check(&self, value: &mut Value, pointer: &mut String) -> Result<(), Violation> {
        if let Some(kind) = self.kind {
            if matches!(kind, Kind::Number | Kind::Integer) {
                if let Some(number) = number_in(value) {
                    *value = number;
                }
            }
            if !kind.accepts(value) {
                let found = type_of(value);
                let message = if value.is_null() {
                    format!("{pointer} must be {}, not null", kind.name())
                } else {
                    format!("{pointer} must be {}, got {found}", kind.name())
                };
                return Err(Violation {
                    pointer: pointer.clone(),
                    message,
                });
            }
        }
        if let (Some(text), false) = (value.as_str(), self.values.is_empty()) {
            if !self.values.iter().any(|allowed| allowed == text) {
                return Err(Violation {
                    pointer: pointer.clone(),
                    message: format!(
                        "{pointer} must be one of {}, got '{text}'",
                        self.values.join(", ")
                    ),
                });
            }
        }
        let length = pointer.len();
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    if let Some(shape) = self.properties.get(name) {
                        push_token(pointer, name);
                        shape.check(field, pointer)?;
                        pointer.truncate(length);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(shape) = &self.items {
                    for (index, item) in items.iter_mut().enumerate() {
                        push_token(pointer, &index.to_string());
                        shape.check(item, pointer)?;
                        pointer.truncate(length);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The number a numeric string holds (`"10000"`): the spec has seen `dealValue` sent so, and a
/// service reading JSON into a number takes it as that number. `None` for anything else.
fn number_in(value: &Value) -> Option<Value> {
    let text = value.as_str()?.trim();
    serde_json::from_str::<serde_json::Number>(text)
        .ok()
        .map(Value::Number)
}

/// Appends `/token` to a JSON Pointer, escaped (RFC 6901).
fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

/// The parts of the contract the simulator enforces.
#[derive(Debug, Default)]
struct Contract {
    referral: Shape,
    /// A deal registration as a client writes it: the value of the contract's `DealRegistration`
    /// operation.
    registration: Shape,
    /// The fields of [`Self::registration`]; a registration's other fields are the service's.
    registration_fields: Vec<String>,
}

impl Contract {
    fn parse(swagger: &Value) -> Self {
        let definitions = &swagger["definitions"];
        let registration =
            Shape::parse(&definitions[DEAL_REGISTRATION]["items"]["properties"]["value"]);
        Self {
            referral: Shape::parse(&definitions[REFERRAL]),
            registration_fields: registration.properties.keys().cloned().collect(),
            registration,
        }
    }

    /// The shape of the field a patch writes at `tokens`, when the contract describes it: a deal
    /// registration's fields as its `DealRegistration` operation describes them, the others as
    /// its `Referral` does.
    fn shape_at(&self, tokens: &[String]) -> Option<&Shape> {
        let (mut shape, path) = match tokens {
            [first, _, rest @ ..] if first == REGISTRATIONS => (Some(&self.registration), rest),
            _ => (Some(&self.referral), tokens),
        };
        for token in path {
            shape = shape.and_then(|shape| shape.child(token));
        }
        shape
    }

    /// The top-level fields only the service writes: the contract's read-only ones and
    /// [`SERVICE_FIELDS`].
    fn service_written(&self, field: &str) -> bool {
        SERVICE_FIELDS.contains(&field)
            || self
                .referral
                .properties
                .get(field)
                .is_some_and(|shape| shape.read_only)
    }

    /// The fields of a deal registration only the service writes.
    fn registration_service_fields(&self) -> impl Iterator<Item = &str> {
        self.referral
            .properties
            .get(REGISTRATIONS)
            .and_then(|shape| shape.items.as_deref())
            .into_iter()
            .flat_map(|item| item.properties.keys())
            .map(String::as_str)
            .filter(|field| !self.registration_fields.iter().any(|f| f == field))
    }
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        // The definition is part of the simulator's source; the tests prove it parses.
        serde_json::from_str(SWAGGER)
            .map(|swagger| Contract::parse(&swagger))
            .unwrap_or_default()
    })
}

/// Drops from a created or replaced referral the fields only the service writes (see
/// [`SERVICE_FIELDS`] and the contract's `readOnly` fields), as a service ignores read-only
/// properties of the representation it is sent.
pub(crate) fn drop_service_fields(referral: &mut Map<String, Value>) {
    let contract = contract();
    referral.retain(|field, _| !contract.service_written(field));
}

/// The service's fields of `stored` (see [`drop_service_fields`]) copied into `replacement`, so
/// that replacing a referral keeps them.
pub(crate) fn keep_service_fields(stored: &Value, replacement: &mut Map<String, Value>) {
    let contract = contract();
    if let Value::Object(stored) = stored {
        for (field, value) in stored {
            if contract.service_written(field) {
                replacement.insert(field.clone(), value.clone());
            }
        }
    }
}

/// Checks the fields of a created or replaced referral against the contract's types: `null`
/// and values of another type are refused, as are values outside an `enum`; a number written as
/// a numeric string is stored as the number. Fields the contract does not describe are the
/// client's own business.
pub(crate) fn check_referral(referral: &mut Map<String, Value>) -> Result<(), Violation> {
    let shape = &contract().referral;
    let mut pointer = String::new();
    for (name, value) in referral {
        if let Some(field) = shape.properties.get(name) {
            push_token(&mut pointer, name);
            field.check(value, &mut pointer)?;
            pointer.clear();
        }
    }
    Ok(())
}

/// Checks a JSON Patch (an array of operations; malformed operations are left to the patch
/// itself) against the contract: a path must name a field a client writes, and a value must have
/// the type of the field it is written to. Deal registrations are written through the contract's
/// own operations: `add /registrations/-` and changes under a registration's `contract` or
/// `solutionDetails`; the service's fields of an added registration are dropped from its value.
pub(crate) fn check_patch(operations: &mut Value) -> Result<(), Violation> {
    let contract = contract();
    let Some(operations) = operations.as_array_mut() else {
        return Ok(());
    };
    for operation in operations {
        let op = operation.get("op").and_then(Value::as_str).unwrap_or("");
        let Some(path) = operation
            .get("path")
            .and_then(Value::as_str)
            .filter(|path| path.starts_with('/') && (op == "add" || op == "replace"))
        else {
            continue;
        };
        let path = path.to_owned();
        let op = op.to_owned();
        let tokens: Vec<String> = path[1..]
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        writable(contract, &tokens, &op).map_err(|reason| Violation {
            pointer: path.clone(),
            message: format!("{path} is read-only: {reason}"),
        })?;
        let adds_registration = tokens.len() == 2 && tokens[0] == REGISTRATIONS;
        let Some(value) = operation.get_mut("value") else {
            continue;
        };
        if adds_registration {
            if let Value::Object(registration) = value {
                let service: Vec<&str> = contract.registration_service_fields().collect();
                registration.retain(|field, _| !service.contains(&field.as_str()));
            }
        }
        if let Some(shape) = contract.shape_at(&tokens) {
            shape.check(value, &mut path.clone())?;
        }
    }
    Ok(())
}

/// `Ok` when a patch may `op` the field at `tokens`; otherwise why not.
fn writable(contract: &Contract, tokens: &[String], op: &str) -> Result<(), String> {
    let Some((first, rest)) = tokens.split_first() else {
        return Ok(());
    };
    if first == REGISTRATIONS {
        let is_index = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        return match rest {
            [end] if end == "-" && op == "add" => Ok(()),
            [index, field, ..]
                if is_index(index) && contract.registration_fields.iter().any(|f| f == field) =>
            {
                Ok(())
            }
            _ => Err(format!(
                "deal registrations are added with add /registrations/- and changed under \
                 /registrations/{{n}}/ in {}; the service sets the others",
                contract.registration_fields.join(", ")
            )),
        };
    }
    if contract.service_written(first) {
        return Err(format!("only the service sets {first}"));
    }
    let mut shape = contract.referral.properties.get(first.as_str());
    for token in rest {
        shape = shape.and_then(|shape| shape.child(token));
        if shape.is_some_and(|shape| shape.read_only) {
            return Err(format!("only the service sets {token}"));
        }
    }
    Ok(())
}

/// Whether `$expand` may name `name`: `*`, or a property of a referral that is an object or a
/// list (the contract's `Referral` has no navigation properties; these are the ones an OData
/// service would call complex).
pub(crate) fn expandable(name: &str) -> bool {
    name == "*"
        || contract()
            .referral
            .properties
            .get(name)
            .is_some_and(|shape| matches!(shape.kind, Some(Kind::Object | Kind::Array)))
}

/// The names [`expandable`] accepts, for messages.
pub(crate) fn expandable_names() -> Vec<&'static str> {
    contract()
        .referral
        .properties
        .iter()
        .filter(|(_, shape)| matches!(shape.kind, Some(Kind::Object | Kind::Array)))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Brings a synthetic referral to the contract's types where the spec's forms differ: a
/// `customerProfile.ids` object (`{}`, or one id per type such as `{"Duns": "…"}`) becomes an
/// array (`[]`, or `[{"type": "Duns", "id": "…"}]`), and a `details.dealValue` written as a
/// numeric string becomes that number.
pub(crate) fn conform(referral: &mut Value) {
    if let Some(ids) = referral.pointer_mut("/customerProfile/ids") {
        if let Value::Object(by_type) = ids {
            let list = std::mem::take(by_type)
                .into_iter()
                .map(|(kind, id)| {
                    let mut entry = Map::new();
                    entry.insert("type".into(), kind.into());
                    entry.insert("id".into(), id);
                    Value::Object(entry)
                })
                .collect();
            *ids = Value::Array(list);
        }
    }
    if let Some(deal_value) = referral.pointer_mut("/details/dealValue") {
        if let Some(number) = number_in(deal_value) {
            *deal_value = number;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_vendored_contract_parses_and_names_its_read_only_fields() {
        let swagger: Value = serde_json::from_str(SWAGGER).expect("the contract is JSON");
        let contract = Contract::parse(&swagger);
        let read_only: Vec<&str> = contract
            .referral
            .properties
            .iter()
            .filter(|(_, shape)| shape.read_only)
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(
            read_only,
            [
                "acceptedDateTime",
                "closedDateTime",
                "direction",
                "isSpam",
                "quality",
                "registrationStatus",
                "registrations",
                "tags"
            ]
        );
        assert_eq!(
            contract.registration_fields,
            ["contract", "solutionDetails", "type"]
        );
        assert_eq!(
            contract.registration_service_fields().collect::<Vec<_>>(),
            [
                "id",
                "registrationDateTime",
                "status",
                "statusHistory",
                "statusReason"
            ]
        );
        assert!(contract.referral.properties.len() > 40);
    }

    #[test]
    fn service_fields_are_dropped_from_bodies_and_kept_on_replacement() {
        let mut body = json!({
            "id": "x", "eTag": "e", "closedDateTime": {}, "direction": "Incoming",
            "name": "kept", "unknownField": 1
        });
        drop_service_fields(body.as_object_mut().unwrap());
        assert_eq!(body, json!({ "name": "kept", "unknownField": 1 }));
        let stored = json!({ "id": "1", "quality": "High", "name": "old", "links": {} });
        keep_service_fields(&stored, body.as_object_mut().unwrap());
        assert_eq!(
            body,
            json!({ "id": "1", "quality": "High", "links": {}, "name": "kept", "unknownField": 1 })
        );
    }

    #[test]
    fn patch_paths_must_be_writable() {
        for (path, op, allowed) in [
            ("/status", "replace", true),
            ("/details/notes", "add", true),
            ("/team/-", "add", true),
            ("/unknown/deeper", "add", true),
            ("/registrations/-", "add", true),
            ("/registrations/0/contract/value", "replace", true),
            (
                "/registrations/3/solutionDetails/0/pricingModel",
                "replace",
                true,
            ),
            ("/id", "replace", false),
            ("/eTag", "replace", false),
            ("/createdDateTime", "add", false),
            ("/links/self", "replace", false),
            ("/closedDateTime", "add", false),
            ("/tags/-", "add", false),
            ("/registrations", "replace", false),
            ("/registrations/-", "replace", false),
            ("/registrations/0", "replace", false),
            ("/registrations/0/status", "replace", false),
            ("/registrations/x/contract", "replace", false),
        ] {
            let tokens: Vec<String> = path[1..].split('/').map(str::to_owned).collect();
            let outcome = writable(contract(), &tokens, op);
            assert_eq!(outcome.is_ok(), allowed, "{op} {path}: {outcome:?}");
        }
        let mut patch = json!([
            { "op": "replace", "path": "/details/notes", "value": "fine" },
            { "op": "add", "path": "/closedDateTime", "value": "2027-01-01T00:00:00Z" }
        ]);
        let violation = check_patch(&mut patch).unwrap_err();
        assert_eq!(violation.pointer, "/closedDateTime");
        assert_eq!(
            violation.message,
            "/closedDateTime is read-only: only the service sets closedDateTime"
        );
        // Malformed operations are the patch's own business.
        let mut patch =
            json!([{ "op": "remove", "path": "/id" }, { "op": "add", "path": "id", "value": 1 }]);
        assert!(check_patch(&mut patch).is_ok());
    }

    #[test]
    fn values_must_have_the_contract_types() {
        let refused = |mut body: Value| check_referral(body.as_object_mut().unwrap()).unwrap_err();
        let violation = refused(json!({ "details": { "notes": null } }));
        assert_eq!(violation.pointer, "/details/notes");
        assert_eq!(
            violation.message,
            "/details/notes must be a string, not null"
        );
        let violation = refused(
            json!({ "team": [{}, { "contactPreference": { "disableNotifications": "no" } }] }),
        );
        assert_eq!(
            violation.pointer,
            "/team/1/contactPreference/disableNotifications"
        );
        assert!(
            violation
                .message
                .contains("must be a boolean, got a string")
        );
        let violation = refused(json!({ "salesStage": "Negotiate" }));
        assert_eq!(
            violation.message,
            "/salesStage must be one of Qualify, Develop, Propose, Close, got 'Negotiate'"
        );
        assert!(
            check_referral(
                json!({ "future": null, "details": { "requirements": { "solutions": [null, 1] } } })
                    .as_object_mut()
                    .unwrap()
            )
            .is_ok()
        );
        let violation = refused(json!({ "details": { "dealValue": "lots" } }));
        assert_eq!(
            violation.message,
            "/details/dealValue must be a number, got a string"
        );
        let mut numeric = json!({ "details": { "dealValue": " 10000 " } });
        check_referral(numeric.as_object_mut().unwrap()).unwrap();
        assert_eq!(numeric, json!({ "details": { "dealValue": 10000 } }));

        let mut patch = json!([{ "op": "add", "path": "/team/-", "value": { "email": 5 } }]);
        assert_eq!(
            check_patch(&mut patch).unwrap_err().pointer,
            "/team/-/email"
        );
        let mut patch = json!([{ "op": "replace", "path": "/a~1b", "value": null }]);
        assert!(check_patch(&mut patch).is_ok());
        let mut patch = json!([
            { "op": "replace", "path": "/registrations/0/contract/value", "value": "9000.5" }
        ]);
        check_patch(&mut patch).unwrap();
        assert_eq!(patch[0]["value"], 9000.5);
        // A deal registration is written as the contract's `DealRegistration` describes it.
        let mut patch = json!([
            { "op": "replace", "path": "/registrations/0/contract/term", "value": "Forever" }
        ]);
        let violation = check_patch(&mut patch).unwrap_err();
        assert_eq!(
            violation.message,
            "/registrations/0/contract/term must be one of Perpetual, Finite, got 'Forever'"
        );
        let mut patch = json!([{ "op": "add", "path": "/registrations/-", "value": {
            "type": "AzureIPCoSell",
            "solutionDetails": [{ "id": "s", "pricingModel": "Free" }]
        } }]);
        assert_eq!(
            check_patch(&mut patch).unwrap_err().pointer,
            "/registrations/-/solutionDetails/0/pricingModel"
        );
    }

    #[test]
    fn an_added_registration_loses_the_service_fields() {
        let mut patch = json!([{ "op": "add", "path": "/registrations/-", "value": {
            "type": "AzureIPCoSell", "id": "forged", "status": "Approved", "future": 1
        } }]);
        check_patch(&mut patch).unwrap();
        assert_eq!(
            patch[0]["value"],
            json!({ "type": "AzureIPCoSell", "future": 1 })
        );
    }

    #[test]
    fn expand_names_complex_properties() {
        for name in ["*", "team", "customerProfile", "details", "registrations"] {
            assert!(expandable(name), "{name}");
        }
        for name in ["name", "status", "", "team/email", "nothing"] {
            assert!(!expandable(name), "{name}");
        }
        assert!(expandable_names().contains(&"inviteContext"));
    }

    #[test]
    fn synthetic_forms_are_brought_to_the_contract() {
        let mut referral = json!({
            "customerProfile": { "ids": { "Duns": "123456789" } },
            "details": { "dealValue": "72000" }
        });
        conform(&mut referral);
        assert_eq!(
            referral,
            json!({
                "customerProfile": { "ids": [{ "type": "Duns", "id": "123456789" }] },
                "details": { "dealValue": 72000 }
            })
        );
        let mut empty =
            json!({ "customerProfile": { "ids": {} }, "details": { "dealValue": 5.5 } });
        conform(&mut empty);
        assert_eq!(
            empty,
            json!({ "customerProfile": { "ids": [] }, "details": { "dealValue": 5.5 } })
        );
    }
}

//! JSON Schema building blocks shared by the generated `JsonSchema` impls.
//!
//! Every object allows unknown properties and every enum allows unknown strings, because the
//! server adds both over time; known values are listed so the schema still documents them.

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

fn join_docs(docs: &[&str]) -> String {
    docs.iter()
        .map(|line| line.trim())
        .collect::<Vec<_>>()
        .join(" ")
        .trim()
        .to_owned()
}

/// The schema of an optional property of type `T`, with its rustdoc as description.
pub(crate) fn property<T: JsonSchema>(generator: &mut SchemaGenerator, docs: &[&str]) -> Value {
    let mut schema = generator.subschema_for::<Option<T>>().to_value();
    let description = join_docs(docs);
    if let (Value::Object(object), false) = (&mut schema, description.is_empty()) {
        object.insert("description".into(), Value::String(description));
    }
    schema
}

/// An object schema with the given properties, open to unknown ones.
pub(crate) fn object(docs: &[&str], properties: Map<String, Value>) -> Schema {
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": true,
    });
    let description = join_docs(docs);
    if let (Value::Object(object), false) = (&mut schema, description.is_empty()) {
        object.insert("description".into(), Value::String(description));
    }
    Schema::try_from(schema).unwrap_or_default()
}

/// A string schema listing the known values but accepting any string.
pub(crate) fn open_enum(docs: &[&str], known: &[&str]) -> Schema {
    let description = format!(
        "{} Known values: {}. Other strings may appear as the API evolves and are kept as sent.",
        join_docs(docs),
        known.join(", ")
    );
    let schema = json!({
        "description": description.trim(),
        "type": "string",
        "anyOf": [
            { "enum": known },
            { "type": "string" }
        ],
    });
    Schema::try_from(schema).unwrap_or_default()
}

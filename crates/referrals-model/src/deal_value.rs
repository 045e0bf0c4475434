//! `details.dealValue`: a decimal the documentation sends as a number or as a string.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A deal value as it was sent: a JSON number (`50000`) or a string (`"10000"`).
///
/// Both forms re-encode unchanged; [`DealValue::as_f64`] reads either as a number. A number
/// that fits an `f64`, `i64` or `u64` keeps its exact value (`3656889.1691258554` stays so); an
/// integer beyond 64 bits is read as the nearest `f64` (see the [crate docs](crate)).
#[derive(Debug, Clone, PartialEq)]
pub enum DealValue {
    /// Sent as a JSON number.
    Number(serde_json::Number),
    /// Sent as a string.
    Text(String),
}

impl DealValue {
    /// The value as a float, if it is a number or a string holding one.
    ///
    /// ```
    /// use referrals_model::DealValue;
    /// assert_eq!(DealValue::from(50000u64).as_f64(), Some(50000.0));
    /// assert_eq!(DealValue::Text("10000".into()).as_f64(), Some(10000.0));
    /// assert_eq!(DealValue::Text("n/a".into()).as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            DealValue::Number(number) => number.as_f64(),
            DealValue::Text(text) => text.trim().parse().ok().filter(|v: &f64| v.is_finite()),
        }
    }
}

impl From<u64> for DealValue {
    fn from(value: u64) -> Self {
        DealValue::Number(value.into())
    }
}

impl fmt::Display for DealValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DealValue::Number(number) => fmt::Display::fmt(number, f),
            DealValue::Text(text) => f.write_str(text),
        }
    }
}

impl crate::wire::Field<'_> for DealValue {
    type Wire = Self;
}

impl crate::wire::IntoOwned for DealValue {
    type Owned = Self;

    fn into_owned_field(self) -> Self {
        self
    }
}

impl Serialize for DealValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DealValue::Number(number) => number.serialize(serializer),
            DealValue::Text(text) => serializer.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for DealValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DealVisitor;

        impl Visitor<'_> for DealVisitor {
            type Value = DealValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string (dealValue)")
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<DealValue, E> {
                Ok(DealValue::Number(value.into()))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<DealValue, E> {
                Ok(DealValue::Number(value.into()))
            }

            fn visit_f64<E: de::Error>(self, value: f64) -> Result<DealValue, E> {
                serde_json::Number::from_f64(value)
                    .map(DealValue::Number)
                    .ok_or_else(|| E::custom("dealValue is not a finite number"))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<DealValue, E> {
                Ok(DealValue::Text(text.to_owned()))
            }

            fn visit_string<E: de::Error>(self, text: String) -> Result<DealValue, E> {
                Ok(DealValue::Text(text))
            }
        }

        deserializer.deserialize_any(DealVisitor)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for DealValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DealValue".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A decimal deal value, sent as a JSON number or as a string holding one.",
            "anyOf": [{ "type": "number" }, { "type": "string" }]
        })
    }
}

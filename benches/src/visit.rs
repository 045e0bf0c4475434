//! The `visit` floor: serde_json visiting every key and value of a page and keeping nothing,
//! the least any typed decode through serde's `Deserializer` does.
#![allow(missing_docs)]

use std::hint::black_box;

use serde::de::{MapAccess, SeqAccess, Visitor};

/// Visits every key and value (strings borrowed, numbers converted) and keeps nothing.
#[derive(Debug)]
pub struct VisitAll;

impl<'de> serde::Deserialize<'de> for VisitAll {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VisitAll)
    }
}

impl<'de> Visitor<'de> for VisitAll {
    type Value = VisitAll;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_i64<E>(self, _: i64) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_u64<E>(self, _: u64) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_f64<E>(self, _: f64) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<VisitAll, E> {
        black_box(text);
        Ok(VisitAll)
    }

    fn visit_str<E>(self, text: &str) -> Result<VisitAll, E> {
        black_box(text);
        Ok(VisitAll)
    }

    fn visit_unit<E>(self) -> Result<VisitAll, E> {
        Ok(VisitAll)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<VisitAll, A::Error> {
        while seq.next_element::<VisitAll>()?.is_some() {}
        Ok(VisitAll)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VisitAll, A::Error> {
        while let Some(key) = map.next_key::<&'de str>()? {
            black_box(key);
            map.next_value::<VisitAll>()?;
        }
        Ok(VisitAll)
    }
}

/// Reads `bytes` as `decode` does (UTF-8 checked once, then parsed as text), visiting all.
pub fn visit_page(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| serde_json::from_str::<VisitAll>(text).is_ok())
}

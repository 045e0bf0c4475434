//! How field values come off the wire: borrowed keys, and lists that know their index.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// A type that can be a field of a model object.
///
/// `Wire` is what is decoded from the JSON value before conversion into the field's type; it is
/// the type itself except for lists, which decode through [`IndexedVec`] so that a decode error
/// inside a list names the index.
pub trait Field: Sized {
    /// The decoded form, converted into `Self`.
    type Wire: DeserializeOwned + Into<Self>;
}

impl Field for String {
    type Wire = Self;
}

impl Field for bool {
    type Wire = Self;
}

impl Field for u64 {
    type Wire = Self;
}

impl Field for serde_json::Value {
    type Wire = Self;
}

impl<T: DeserializeOwned> Field for Vec<T> {
    type Wire = IndexedVec<T>;
}

/// An object key, borrowed from the input when it has no escapes.
#[derive(Debug)]
pub struct Key<'de>(Cow<'de, str>);

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }

            fn visit_string<E: serde::de::Error>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key)))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A JSON array decoded element by element, recording the index of an element that fails.
#[derive(Debug)]
pub struct IndexedVec<T>(pub(crate) Vec<T>);

impl<T> From<IndexedVec<T>> for Vec<T> {
    fn from(list: IndexedVec<T>) -> Self {
        list.0
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for IndexedVec<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);

        impl<'de, T: DeserializeOwned> Visitor<'de> for ListVisitor<T> {
            type Value = IndexedVec<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IndexedVec<T>, A::Error> {
                // The hint is untrusted; cap what it may reserve up front.
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                loop {
                    match seq.next_element::<T>() {
                        Ok(Some(item)) => items.push(item),
                        Ok(None) => return Ok(IndexedVec(items)),
                        Err(error) => return Err(crate::path::at_index(items.len(), error)),
                    }
                }
            }
        }

        deserializer.deserialize_seq(ListVisitor(PhantomData))
    }
}

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
///
/// Keys are read as raw bytes: a known key is matched byte for byte, so only unknown keys (kept
/// in `extra`) pay for UTF-8 validation. This is a measurable share of the decode: a referral has
/// about sixty keys.
#[derive(Debug)]
pub struct Key<'de>(Cow<'de, [u8]>);

impl Key<'_> {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key as text, for an unknown key that is kept or named in an error path.
    pub(crate) fn to_text<E: serde::de::Error>(&self) -> Result<String, E> {
        let text =
            std::str::from_utf8(&self.0).map_err(|_| E::custom("object key is not valid UTF-8"))?;
        if text.chars().any(|c| c < ' ') {
            return Err(E::custom("control character in an object key"));
        }
        Ok(text.to_owned())
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

            fn visit_borrowed_bytes<E: serde::de::Error>(
                self,
                key: &'de [u8],
            ) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }

            fn visit_bytes<E: serde::de::Error>(self, key: &[u8]) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_vec())))
            }

            fn visit_byte_buf<E: serde::de::Error>(self, key: Vec<u8>) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key)))
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key.as_bytes())))
            }

            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.as_bytes().to_vec())))
            }

            fn visit_string<E: serde::de::Error>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.into_bytes())))
            }
        }

        deserializer.deserialize_bytes(KeyVisitor)
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

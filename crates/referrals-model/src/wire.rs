//! How field values come off the wire: borrowed keys, and lists that know their index.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A type that can be a field of a model object.
///
/// `Wire` is what is decoded from the JSON value before conversion into the field's type; it is
/// the type itself except for lists, which decode through [`IndexedVec`] so that a decode error
/// inside a list names the index, and borrowed text, which decodes through [`BorrowedStr`].
pub trait Field<'de>: Sized {
    /// The decoded form, converted into `Self`.
    type Wire: Deserialize<'de> + Into<Self>;

    /// Decodes the map's next value into `slot`, `Ok(false)` for an explicit `null` (which
    /// leaves `None`).
    #[inline(always)]
    fn decode_into<A: MapAccess<'de>>(
        map: &mut A,
        slot: &mut Option<Self>,
    ) -> Result<bool, A::Error> {
        match map.next_value::<Option<Self::Wire>>()? {
            Some(value) => {
                *slot = Some(value.into());
                Ok(true)
            }
            None => {
                *slot = None;
                Ok(false)
            }
        }
    }
}

/// A model object that is decoded into a place: a referral is ~2 KB, and a nested object that
/// is built on the stack, returned, wrapped in `Some` and moved into its parent is copied at
/// every step. `model_struct!` implements it for the owned and the borrowed form alike; the
/// loop over the object's entries is [`ObjectVisitor`]'s, written once.
pub(crate) trait Fill<'de>: Default {
    /// The type's name, for the message of a value that is not an object.
    const NAME: &'static str;

    /// Where unknown fields, and explicit `null`s of known ones, are kept.
    type Extra: Extra<'de>;

    /// The kept fields.
    fn extra(&mut self) -> &mut Self::Extra;

    /// Decodes the map's next value into the known field whose JSON name is `key`; `Ok(false)`
    /// when no known field has that name (the value is then still to be read).
    fn fill_known<A: MapAccess<'de>>(&mut self, key: &[u8], map: &mut A) -> Result<bool, A::Error>;

    /// Decodes an object into `place`, which must hold `Default::default()`: the fields the
    /// object has are set, the others left as they are.
    fn fill<D: Deserializer<'de>>(deserializer: D, place: &mut Self) -> Result<(), D::Error> {
        deserializer.deserialize_map(ObjectVisitor(place))
    }
}

/// Reads an object's entries into a [`Fill`]: each key matched against the known fields, the
/// others kept in its [`Extra`].
struct ObjectVisitor<'p, T>(&'p mut T);

impl<'de, T: Fill<'de>> Visitor<'de> for ObjectVisitor<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a JSON object ({})", T::NAME)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let out = self.0;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if !out.fill_known(key.as_bytes(), &mut map)? {
                out.extra().keep(key, &mut map)?;
            }
        }
        Ok(())
    }
}

/// The `extra` of a model object: the fields this version does not know, and explicit `null`s
/// of the fields it knows, kept so that a re-encode gives back what was received.
pub(crate) trait Extra<'de> {
    /// Keeps the explicit `null` of the known field `name`.
    fn keep_null(&mut self, name: &'static str);

    /// Reads the map's next value, that of the unknown field `key`, and keeps it.
    fn keep<A: MapAccess<'de>>(&mut self, key: Key<'de>, map: &mut A) -> Result<(), A::Error>;
}

/// The owned model's: values decoded.
impl<'de> Extra<'de> for serde_json::Map<String, serde_json::Value> {
    fn keep_null(&mut self, name: &'static str) {
        self.insert(String::from(name), serde_json::Value::Null);
    }

    fn keep<A: MapAccess<'de>>(&mut self, key: Key<'de>, map: &mut A) -> Result<(), A::Error> {
        let name = key.to_text()?;
        match map.next_value::<serde_json::Value>() {
            Ok(value) => {
                self.insert(name, value);
                Ok(())
            }
            Err(error) => Err(crate::path::at_key(&name, error)),
        }
    }
}

/// The borrowed model's: raw JSON, in the order received.
impl<'de: 'a, 'a> Extra<'de> for Vec<(Cow<'a, str>, &'a RawValue)> {
    fn keep_null(&mut self, name: &'static str) {
        self.push((Cow::Borrowed(name), RawValue::NULL));
    }

    fn keep<A: MapAccess<'de>>(&mut self, key: Key<'de>, map: &mut A) -> Result<(), A::Error> {
        let name = key.into_text()?;
        match map.next_value::<CheckedRaw<'de>>() {
            Ok(value) => {
                self.push((name, value.into()));
                Ok(())
            }
            Err(error) => Err(crate::path::at_key(&name, error)),
        }
    }
}

/// A model object is a field of another, decoded straight into its place.
impl<'de, T: Fill<'de> + Deserialize<'de>> Field<'de> for T {
    type Wire = Self;

    fn decode_into<A: MapAccess<'de>>(
        map: &mut A,
        slot: &mut Option<Self>,
    ) -> Result<bool, A::Error> {
        map.next_value_seed(OptionalIn(slot))
    }
}

/// Decodes an optional model object straight into its field ([`Field::decode_into`]).
pub(crate) struct OptionalIn<'p, T>(pub(crate) &'p mut Option<T>);

impl<'de, T: Fill<'de>> DeserializeSeed<'de> for OptionalIn<'_, T> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, T: Fill<'de>> Visitor<'de> for OptionalIn<'_, T> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("option")
    }

    fn visit_none<E>(self) -> Result<bool, E> {
        *self.0 = None;
        Ok(false)
    }

    fn visit_unit<E>(self) -> Result<bool, E> {
        *self.0 = None;
        Ok(false)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        // A repeated key replaces the earlier object rather than merging into it.
        T::fill(deserializer, self.0.insert(T::default()))?;
        Ok(true)
    }
}

/// Turns a borrowed field value into the owned model's value.
pub(crate) trait IntoOwned {
    /// The owned model's type for this field.
    type Owned;

    fn into_owned_field(self) -> Self::Owned;
}

macro_rules! plain_field {
    ($($ty:ty),*) => {
        $(
            impl Field<'_> for $ty {
                type Wire = Self;
            }

            impl IntoOwned for $ty {
                type Owned = Self;

                fn into_owned_field(self) -> Self {
                    self
                }
            }
        )*
    };
}

plain_field!(String, bool, u64, serde_json::Value);

impl<'de, T: Deserialize<'de>> Field<'de> for Vec<T> {
    type Wire = IndexedVec<T>;
}

impl<T: IntoOwned> IntoOwned for Vec<T> {
    type Owned = Vec<T::Owned>;

    fn into_owned_field(self) -> Self::Owned {
        self.into_iter().map(IntoOwned::into_owned_field).collect()
    }
}

impl<'de: 'a, 'a> Field<'de> for Cow<'a, str> {
    type Wire = BorrowedStr<'a>;
}

impl IntoOwned for Cow<'_, str> {
    type Owned = String;

    fn into_owned_field(self) -> String {
        self.into_owned()
    }
}

impl<'de: 'a, 'a> Field<'de> for &'a RawValue {
    type Wire = CheckedRaw<'a>;
}

impl IntoOwned for &RawValue {
    type Owned = serde_json::Value;

    fn into_owned_field(self) -> serde_json::Value {
        raw_to_value(self)
    }
}

/// The [`serde_json::Value`] of a raw value.
///
/// The borrowed model only keeps raw values that [`CheckedRaw`] has read as a `Value` would be,
/// so this cannot fail; `null` stands in should that ever change rather than a panic.
pub(crate) fn raw_to_value(raw: &RawValue) -> serde_json::Value {
    serde_json::from_str(raw.get()).unwrap_or(serde_json::Value::Null)
}

/// A raw JSON value that a [`serde_json::Value`] could hold.
///
/// serde_json captures a raw value by skipping over it, and its skip accepts `\u` escapes of
/// lone surrogates and numbers beyond `f64`, both of which a `Value` refuses. The borrowed model
/// must accept exactly the documents the owned model accepts (so that `into_owned` cannot fail),
/// so each raw value it keeps is read once more, keeping nothing.
#[derive(Debug)]
pub struct CheckedRaw<'a>(pub(crate) &'a RawValue);

impl<'a> From<CheckedRaw<'a>> for &'a RawValue {
    fn from(raw: CheckedRaw<'a>) -> Self {
        raw.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for CheckedRaw<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&'a RawValue>::deserialize(deserializer)?;
        match serde_json::from_str::<AnyValue>(raw.get()) {
            Ok(AnyValue) => Ok(CheckedRaw(raw)),
            Err(error) => Err(serde::de::Error::custom(format_args!(
                "{error} of this value"
            ))),
        }
    }
}

/// Any JSON value, read as [`serde_json::Value`] reads it (every string unescaped, every number
/// converted) and then dropped.
struct AnyValue;

impl<'de> Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyValue)
    }
}

impl<'de> Visitor<'de> for AnyValue {
    type Value = AnyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_i64<E>(self, _: i64) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_u64<E>(self, _: u64) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_f64<E>(self, _: f64) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_str<E>(self, _: &str) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_unit<E>(self) -> Result<AnyValue, E> {
        Ok(AnyValue)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyValue, A::Error> {
        while seq.next_element::<AnyValue>()?.is_some() {}
        Ok(AnyValue)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
        while map.next_key::<AnyValue>()?.is_some() {
            map.next_value::<AnyValue>()?;
        }
        Ok(AnyValue)
    }
}

/// Text borrowed from the input when it has no escapes, copied when it has.
#[derive(Debug)]
pub struct BorrowedStr<'a>(Cow<'a, str>);

impl<'a> From<BorrowedStr<'a>> for Cow<'a, str> {
    fn from(text: BorrowedStr<'a>) -> Self {
        text.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = BorrowedStr<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                text: &'de str,
            ) -> Result<BorrowedStr<'de>, E> {
                Ok(BorrowedStr(Cow::Borrowed(text)))
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<BorrowedStr<'de>, E> {
                Ok(BorrowedStr(Cow::Owned(text.to_owned())))
            }

            fn visit_string<E: serde::de::Error>(
                self,
                text: String,
            ) -> Result<BorrowedStr<'de>, E> {
                Ok(BorrowedStr(Cow::Owned(text)))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
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
        checked_text(&self.0).map(str::to_owned)
    }
}

impl<'de> Key<'de> {
    /// The key as text, still borrowed from the input when it was, for an unknown key kept by a
    /// borrowed model.
    pub(crate) fn into_text<E: serde::de::Error>(self) -> Result<Cow<'de, str>, E> {
        match self.0 {
            Cow::Borrowed(bytes) => checked_text(bytes).map(Cow::Borrowed),
            Cow::Owned(bytes) => checked_text(&bytes).map(|text| Cow::Owned(text.to_owned())),
        }
    }
}

/// A raw key's bytes as text: serde_json reads raw keys without checking UTF-8 or control
/// characters, which a kept key must not carry.
fn checked_text<E: serde::de::Error>(bytes: &[u8]) -> Result<&str, E> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| E::custom("object key is not valid UTF-8"))?;
    if text.chars().any(|c| c < ' ') {
        return Err(E::custom("control character in an object key"));
    }
    Ok(text)
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
///
/// `CAP` is the length reserved when the deserializer gives no size hint (serde_json never does).
#[derive(Debug)]
pub struct IndexedVec<T, const CAP: usize = 0>(pub(crate) Vec<T>);

impl<T, const CAP: usize> From<IndexedVec<T, CAP>> for Vec<T> {
    fn from(list: IndexedVec<T, CAP>) -> Self {
        list.0
    }
}

impl<'de, T: Deserialize<'de>, const CAP: usize> Deserialize<'de> for IndexedVec<T, CAP> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T, const CAP: usize>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>, const CAP: usize> Visitor<'de> for ListVisitor<T, CAP> {
            type Value = IndexedVec<T, CAP>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }

            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<IndexedVec<T, CAP>, A::Error> {
                // The hint is untrusted; cap what it may reserve up front.
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(CAP).min(1024));
                loop {
                    match seq.next_element::<T>() {
                        Ok(Some(item)) => items.push(item),
                        Ok(None) => return Ok(IndexedVec(items)),
                        Err(error) => return Err(crate::path::at_index(items.len(), error)),
                    }
                }
            }
        }

        deserializer.deserialize_seq(ListVisitor::<T, CAP>(PhantomData))
    }
}

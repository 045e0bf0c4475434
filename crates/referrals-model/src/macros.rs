//! The two shapes every API type takes, written once.
//!
//! `model_struct!` declares an object whose known fields are all optional and whose unknown fields
//! (and explicit `null`s of known fields) are kept in `extra`, with hand-written serde impls: a
//! `visit_map` that matches keys directly, instead of `#[serde(flatten)]`, which buffers every
//! object into an intermediate tree and halves serde_json's speed.
//!
//! `open_enum!` declares a forward-compatible string enum, in the manner of smithy-rs:
//!
//! - the known variants, plus `Unknown(UnknownValue<Self>)` for text this version does not know,
//!   kept verbatim so that a decode and re-encode gives back the same bytes;
//! - `#[non_exhaustive]`, so that a value the API documents later becomes a new variant without a
//!   breaking change: users' `match`es already end in a `_` arm;
//! - [`UnknownValue`](crate::UnknownValue) is opaque: its field is private and only this crate
//!   makes one, in `Deserialize`, `From<&str>`, `From<String>` and `FromStr`, and only after
//!   the text matched none of the known values. So `Unknown` never holds a known value (`Unknown`
//!   holding `"New"` cannot exist beside `New`), equality, hashing and ordering need no special
//!   case, and code written against this version keeps working when a later one knows more
//!   values: it never built an `Unknown("...")` that would now be wrong. The value is typed by its
//!   enum, so an unknown status cannot be moved into another enum that knows that text;
//! - the text stays readable: `as_str()`, `Display`, `is_unknown()`, and `KNOWN` lists the known
//!   values in the order the API documents them. Known values order before unknown ones, in
//!   declaration order; unknown ones order by their text.

macro_rules! model_struct {
    // Both forms encode alike: known fields in declaration order, then the kept `extra` entries
    // (an `extra` null of a known field that is set is left out, so a duplicate key is not).
    (@serialize [$ty:ty] $($field:ident = $json:literal),*) => {
        impl $ty {
            fn is_shadowed(&self, key: &str) -> bool {
                match key {
                    $( $json => self.$field.is_some(), )*
                    _ => false,
                }
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use ::serde::ser::SerializeMap as _;
                let known = 0 $( + usize::from(self.$field.is_some()) )*;
                let kept = self.extra.iter().filter(|(key, _)| !self.is_shadowed(key)).count();
                let mut map = serializer.serialize_map(Some(known + kept))?;
                $(
                    if let Some(value) = &self.$field {
                        map.serialize_entry($json, value)?;
                    }
                )*
                for (key, value) in &self.extra {
                    if !self.is_shadowed(key) {
                        map.serialize_entry(key, value)?;
                    }
                }
                map.end()
            }
        }
    };

    // The known fields of `Fill::fill_known`, the same in both forms but for the fields' types.
    (@fill_known $( $field:ident : [$fty:ty] = $json:literal ),*) => {
        #[inline(always)]
        fn fill_known<A: ::serde::de::MapAccess<'de>>(
            &mut self,
            key: &[u8],
            map: &mut A,
        ) -> Result<bool, A::Error> {
            $(
                if key == $json.as_bytes() {
                    match <$fty as $crate::wire::Field<'de>>::decode_into(map, &mut self.$field) {
                        Ok(true) => {}
                        Ok(false) => $crate::wire::Extra::keep_null(&mut self.extra, $json),
                        Err(error) => return Err($crate::path::at_key($json, error)),
                    }
                    return Ok(true);
                }
            )*
            Ok(false)
        }
    };

    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                pub $field:ident : $ty:ty = $json:literal
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                #[doc = ""]
                #[doc = concat!("JSON name: `", $json, "`.")]
                pub $field: Option<$ty>,
            )*
            /// Fields this version does not know, and explicit `null`s of known fields, kept so that
            /// a re-encode gives back what was received.
            pub extra: $crate::Map<String, $crate::Value>,
        }

        impl $name {
            /// The JSON names of the known fields, in declaration order.
            pub const FIELDS: &'static [&'static str] = &[$($json),*];

        }

        model_struct!(@serialize [$name] $($field = $json),*);

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let mut out = $name::default();
                $crate::wire::Fill::fill(deserializer, &mut out)?;
                Ok(out)
            }
        }

        impl<'de> $crate::wire::Fill<'de> for $name {
            const NAME: &'static str = stringify!($name);

            type Extra = $crate::Map<String, $crate::Value>;

            fn extra(&mut self) -> &mut Self::Extra {
                &mut self.extra
            }

            model_struct!(@fill_known $( $field : [$ty] = $json ),*);
        }

        #[cfg(feature = "schema")]
        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }

            fn json_schema(generator: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                let mut properties = $crate::Map::new();
                $(
                    properties.insert(
                        String::from($json),
                        $crate::schema::property::<$ty>(generator, &[$($fdoc),*]),
                    );
                )*
                $crate::schema::object(&[$($doc),*], properties)
            }
        }
    };

    (
        @borrowed $name:ident $bname:ident {
            $(
                $(#[doc = $fdoc:literal])*
                pub $field:ident : $tyname:ident $(< $inner:ident >)? = $json:literal
            ),* $(,)?
        }
    ) => {
        #[doc = concat!(
            "The borrowed form of [`", stringify!($name), "`], decoded without copying: text ",
            "without escapes points into the input, and unknown fields are kept as raw JSON.",
        )]
        ///
        /// Re-encodes to what was received, like the owned form; `into_owned` converts it.
        /// See [the `borrowed` module](crate::borrowed).
        #[derive(Debug, Clone, Default)]
        pub struct $bname<'a> {
            $(
                $(#[doc = $fdoc])*
                #[doc = ""]
                #[doc = concat!("JSON name: `", $json, "`.")]
                pub $field: Option<borrowed_type!($tyname $(<$inner>)?)>,
            )*
            /// Fields this version does not know, and explicit `null`s of known fields, as raw
            /// JSON in the order received.
            pub extra: Vec<(::std::borrow::Cow<'a, str>, &'a ::serde_json::value::RawValue)>,
        }

        model_struct!(@serialize [$bname<'_>] $($field = $json),*);

        impl $bname<'_> {
            #[doc = concat!("The owned [`", stringify!($name), "`], copying borrowed text.")]
            pub fn into_owned(self) -> $name {
                $name {
                    $(
                        $field: self.$field.map($crate::wire::IntoOwned::into_owned_field),
                    )*
                    extra: self
                        .extra
                        .into_iter()
                        .map(|(key, value)| (key.into_owned(), $crate::wire::raw_to_value(value)))
                        .collect(),
                }
            }
        }

        impl<'a> From<$bname<'a>> for $name {
            fn from(borrowed: $bname<'a>) -> Self {
                borrowed.into_owned()
            }
        }

        impl $crate::wire::IntoOwned for $bname<'_> {
            type Owned = $name;

            fn into_owned_field(self) -> $name {
                self.into_owned()
            }
        }

        impl<'de: 'a, 'a> ::serde::Deserialize<'de> for $bname<'a> {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let mut out = $bname::default();
                $crate::wire::Fill::fill(deserializer, &mut out)?;
                Ok(out)
            }
        }

        impl<'de: 'a, 'a> $crate::wire::Fill<'de> for $bname<'a> {
            const NAME: &'static str = stringify!($name);

            type Extra = Vec<(::std::borrow::Cow<'a, str>, &'a ::serde_json::value::RawValue)>;

            fn extra(&mut self) -> &mut Self::Extra {
                &mut self.extra
            }

            model_struct!(@fill_known $( $field : [borrowed_type!($tyname $(<$inner>)?)] = $json ),*);
        }
    };

    (
        $(#[doc = $doc:literal])*
        #[borrowed($bname:ident)]
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                pub $field:ident : $tyname:ident $(< $inner:ident >)? = $json:literal
            ),* $(,)?
        }
    ) => {
        model_struct! {
            $(#[doc = $doc])*
            pub struct $name {
                $( $(#[doc = $fdoc])* pub $field : $tyname $(<$inner>)? = $json, )*
            }
        }
        model_struct! {
            @borrowed $name $bname {
                $( $(#[doc = $fdoc])* pub $field : $tyname $(<$inner>)? = $json, )*
            }
        }
    };
}

/// The type a field of the owned model has in the borrowed model (`'a` is the input's lifetime).
/// A model struct missing here falls through to its owned type and fails to compile, as the owned
/// structs have no `IntoOwned`.
macro_rules! borrowed_type {
    (String) => { ::std::borrow::Cow<'a, str> };
    (Timestamp) => { $crate::borrowed::TimestampRef<'a> };
    (Value) => { &'a ::serde_json::value::RawValue };
    (Vec<$inner:ident>) => { Vec<borrowed_type!($inner)> };
    (Address) => { AddressRef<'a> };
    (Attributes) => { AttributesRef<'a> };
    (Consent) => { ConsentRef<'a> };
    (ContactPreference) => { ContactPreferenceRef<'a> };
    (CustomerProfile) => { CustomerProfileRef<'a> };
    (InviteContext) => { InviteContextRef<'a> };
    (Link) => { LinkRef<'a> };
    (LinkHeader) => { LinkHeaderRef<'a> };
    (Links) => { LinksRef<'a> };
    (Member) => { MemberRef<'a> };
    (Organization) => { OrganizationRef<'a> };
    (ReferralDetails) => { ReferralDetailsRef<'a> };
    (Requirements) => { RequirementsRef<'a> };
    (Solution) => { SolutionRef<'a> };
    (Tag) => { TagRef<'a> };
    (Target) => { TargetRef<'a> };
    (DealRegistration) => { $crate::registration::DealRegistrationRef<'a> };
    (Contract) => { $crate::registration::ContractRef<'a> };
    (SolutionDetail) => { $crate::registration::SolutionDetailRef<'a> };
    (MarketplaceTransactionDetails) => { $crate::registration::MarketplaceTransactionDetailsRef<'a> };
    (RegistrationStatusHistory) => { $crate::registration::RegistrationStatusHistoryRef<'a> };
    ($same:ident) => { $same };
}

macro_rules! open_enum {
    (
        $(#[doc = $doc:literal])*
        pub enum $name:ident {
            $(
                $(#[doc = $vdoc:literal])*
                $variant:ident = $text:literal
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        ///
        /// Forward compatible: a value this version does not know decodes to `Unknown` and
        /// re-encodes to the same text; known text always becomes its known variant (see
        /// [`UnknownValue`](crate::UnknownValue)). Non-exhaustive: later versions add the values
        /// the API adds, so a `match` needs a `_` arm.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $(
                $(#[doc = $vdoc])*
                #[doc = concat!("Wire text: `", $text, "`.")]
                $variant,
            )*
            /// A value this version does not know, kept verbatim; read it with `as_str`.
            Unknown($crate::UnknownValue<$name>),
        }

        impl $name {
            /// Every known value, in the order the API documents them.
            pub const KNOWN: &'static [$name] = &[$($name::$variant),*];

            /// The wire text of this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Unknown(value) => value.as_str(),
                }
            }

            /// True for a value this version does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, $name::Unknown(_))
            }
        }

        /// The known variant for known text, `Unknown` for any other.
        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $( $text => $name::$variant, )*
                    other => $name::Unknown($crate::UnknownValue::new(other)),
                }
            }
        }

        /// The known variant for known text, `Unknown` (keeping the string) for any other.
        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $( $text => $name::$variant, )*
                    _ => $name::Unknown($crate::UnknownValue::new(text)),
                }
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = ::core::convert::Infallible;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Ok($name::from(text))
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl $crate::wire::Field<'_> for $name {
            type Wire = Self;
        }

        impl $crate::wire::IntoOwned for $name {
            type Owned = Self;

            fn into_owned_field(self) -> Self {
                self
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct TextVisitor;

                impl ::serde::de::Visitor<'_> for TextVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        f.write_str(concat!("a string (", stringify!($name), ")"))
                    }

                    fn visit_str<E: ::serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        Ok($name::from(text))
                    }

                    fn visit_string<E: ::serde::de::Error>(self, text: String) -> Result<$name, E> {
                        Ok($name::from(text))
                    }
                }

                deserializer.deserialize_str(TextVisitor)
            }
        }

        #[cfg(feature = "schema")]
        impl ::schemars::JsonSchema for $name {
            fn schema_name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed(stringify!($name))
            }

            fn json_schema(_: &mut ::schemars::SchemaGenerator) -> ::schemars::Schema {
                $crate::schema::open_enum(&[$($doc),*], &[$($text),*])
            }
        }
    };
}
